-- Inbox: one row per (consumer, CloudEvents source, id) processed. Inserted in the same
-- transaction as the state change it guards, so a redelivered record finds its row and is
-- skipped: the primary key is the idempotency check (CloudEvents 1.0 s3.1.1: source + id is
-- unique per event).
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);

-- Outbox: events to publish, written in the same transaction as the state change that caused
-- them. The relay publishes rows in id order and marks them; a crash between publish and mark
-- publishes a row again, which consumers' inboxes absorb (at least once + idempotent = exactly
-- once in effect).
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text        NOT NULL,
    key          bytea       NOT NULL,
    headers      jsonb       NOT NULL,
    payload      bytea       NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

-- The relay's claim query reads only unpublished rows in id order: a partial index keeps that
-- index as small as the backlog, not the history.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
