-- The register of QA agencies, the attestations they made, their history, and an audit of every
-- submission (accepted or rejected). The qa service owns all of it.

-- Agencies are registered by an operator (admin API); an agency cannot register itself. The
-- public keys listed here are the only ones whose signatures the service accepts for the agency.
CREATE TABLE agencies (
    agency_id    text PRIMARY KEY,                  -- slug used in events (agency_id)
    did          text        NOT NULL UNIQUE,       -- the issuer of its EndorsementCredentials
    name         text        NOT NULL,
    country_code text        NOT NULL,
    deqar_id     text,                              -- EQAR/DEQAR identifier when it has one
    standards    text[]      NOT NULL,              -- e.g. {"ESG 2015", "EQAVET"}
    public_keys  text[]      NOT NULL,              -- Multikey publicKeyMultibase values
    remit        jsonb       NOT NULL,              -- subject kinds, jurisdictions, EQF levels
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The current state of each attestation. `withdrawn` and `expired` are final.
CREATE TABLE attestations (
    attestation_id text PRIMARY KEY,                -- the granting endorsement's id (urn:uuid:...)
    agency_id      text        NOT NULL REFERENCES agencies,
    subject_kind   text        NOT NULL CHECK (subject_kind IN ('issuer', 'achievement')),
    subject_id     text        NOT NULL,
    decision       text        NOT NULL,
    scope          jsonb       NOT NULL,
    standard       text        NOT NULL,
    report_url     text,
    valid_from     timestamptz NOT NULL,
    valid_until    timestamptz,
    status         text        NOT NULL CHECK (status IN ('active', 'withdrawn', 'expired')),
    endorsement_id text        NOT NULL,            -- the newest endorsement (grant or renewal)
    endorsement    jsonb       NOT NULL,
    withdrawn_at   timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attestations_subject ON attestations (subject_kind, subject_id);
-- The expiry sweep reads only active rows with an end date, oldest end first.
CREATE INDEX attestations_expiring ON attestations (valid_until) WHERE status = 'active';

-- Every endorsement the service accepted, in order: the attestation's public history.
CREATE TABLE attestation_history (
    id             bigserial PRIMARY KEY,
    attestation_id text        NOT NULL REFERENCES attestations,
    action         text        NOT NULL CHECK (action IN ('granted', 'renewed', 'withdrawn', 'expired')),
    endorsement_id text,
    endorsement    jsonb,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attestation_history_of ON attestation_history (attestation_id, id);

-- Every submission and what became of it. A rejected one is written in its own transaction
-- just before it goes to the dead-letter topic (the handler's transaction is rolled back).
CREATE TABLE submission_audit (
    id           bigserial PRIMARY KEY,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    agency_id    text,
    action       text,
    endorsement_id text,
    outcome      text        NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    reason       text,
    message      text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, event_id, outcome)
);
