-- Inbox retention: the relay's periodic cleanup deletes inbox rows older than
-- INBOX_RETENTION_S (default 30 days) in bounded chunks. An inbox row only has to outlive every
-- redelivery of its record (a Kafka topic keeps records for days, and the unique natural keys of
-- each service still absorb a very late copy); the index keeps the cleanup from scanning the
-- table, which grows by one row per consumed record.
CREATE INDEX inbox_processed_at ON inbox (processed_at);
