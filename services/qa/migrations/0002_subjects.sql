-- The subjects an attestation may name: achievements (and through them their issuers) as the
-- issuance service defines them on credstream.achievement.definitions.v1. The QA service keeps
-- its own copy; it never reads issuance's tables.
CREATE TABLE known_achievements (
    achievement_id text PRIMARY KEY,
    issuer_id      text        NOT NULL,
    revision       integer     NOT NULL,
    name           text        NOT NULL,
    status         text        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX known_achievements_issuer ON known_achievements (issuer_id);
