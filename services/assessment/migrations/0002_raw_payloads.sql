-- Results from LMSs in their own formats (xAPI, Caliper, LTI AGS). `raw` already keeps each
-- result's payload as received (for xAPI the statement, for Caliper the envelope with that one
-- event, for LTI the score); `source_format` says which format and version it is in. What was
-- missing for audit is *who* sent it: the configured LMS id (NULL for credstream's own contract,
-- whose sender is the record's CloudEvents source).
ALTER TABLE results ADD COLUMN lms_id text;
-- "Which results did this LMS send?" is the audit query; results of one LMS are few per learner.
CREATE INDEX results_lms ON results (lms_id) WHERE lms_id IS NOT NULL;
