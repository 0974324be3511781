-- Achievement definitions as assessment needs them (its own copy, kept from the
-- achievement.defined stream; the newest revision wins).
CREATE TABLE achievements (
    achievement_id        text PRIMARY KEY,
    issuer_id             text        NOT NULL,
    revision              integer     NOT NULL,
    name                  text        NOT NULL,
    required_activity_ids text[]      NOT NULL,
    min_scaled_score      double precision,
    require_success       boolean     NOT NULL DEFAULT false,
    status                text        NOT NULL DEFAULT 'active',
    updated_at            timestamptz NOT NULL DEFAULT now()
);
-- "Which achievements need this activity?" runs once per result: a GIN index answers
-- `activity = ANY(required_activity_ids)` written as `required_activity_ids @> ARRAY[activity]`.
CREATE INDEX achievements_activities ON achievements USING gin (required_activity_ids);
CREATE INDEX achievements_issuer ON achievements (issuer_id);

CREATE TABLE learners (
    issuer_id  text NOT NULL,
    learner_id text NOT NULL,
    email      text,
    name       text,
    did        text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer_id, learner_id)
);

-- Every result as received; `raw` keeps the payload for audit. A result id is unique per
-- issuer, the second line of idempotency after the inbox (an LMS re-sending one result under a
-- new CloudEvents id is still one result).
CREATE TABLE results (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer_id     text        NOT NULL,
    result_id     text        NOT NULL,
    learner_id    text        NOT NULL,
    activity_id   text        NOT NULL,
    score_scaled  double precision,
    success       boolean,
    completion    boolean,
    attempt       integer,
    occurred_at   timestamptz NOT NULL,
    source_format text        NOT NULL,
    raw           jsonb       NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer_id, result_id)
);
CREATE INDEX results_learner_activity ON results (issuer_id, learner_id, activity_id);
CREATE INDEX results_activity ON results (issuer_id, activity_id);

-- One award per (issuer, achievement, learner): the database enforces "earned once" even if
-- two transactions evaluate the same learner at the same moment.
CREATE TABLE earned (
    issuer_id            text        NOT NULL,
    achievement_id       text        NOT NULL,
    learner_id           text        NOT NULL,
    award                integer     NOT NULL DEFAULT 1,
    earned_id            text        NOT NULL UNIQUE,
    achievement_revision integer     NOT NULL,
    earned_at            timestamptz NOT NULL,
    PRIMARY KEY (issuer_id, achievement_id, learner_id, award)
);
