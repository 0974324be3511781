-- Issuers (tenants), their signing keys, achievement definitions (micro-credential
-- specifications), and the credentials issued. The issuance service owns all of it.

CREATE TABLE issuers (
    issuer_id     text PRIMARY KEY,              -- the provider's id in events (tenant)
    did           text        NOT NULL UNIQUE,   -- did:web:<host>:issuers:<issuer_id>
    name          text        NOT NULL,
    url           text,
    email         text,
    country_code  text        NOT NULL,          -- ISO 3166-1 alpha-2 (EU Annex I: country/region)
    region        text,
    cryptosuite   text        NOT NULL DEFAULT 'eddsa-rdfc-2022',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Private keys are stored only encrypted (AES-256-GCM under the configured key-encryption key,
-- the key id as associated data). Retired keys stay: their verification methods remain in the
-- DID document so that credentials signed with them keep verifying.
CREATE TABLE issuer_keys (
    key_id            text PRIMARY KEY,          -- the verification method id (did#key-N)
    issuer_id         text        NOT NULL REFERENCES issuers,
    public_multibase  text        NOT NULL,
    sealed_secret     bytea       NOT NULL,
    status            text        NOT NULL CHECK (status IN ('active', 'retired')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    retired_at        timestamptz
);
-- One active key per issuer, enforced by the database.
CREATE UNIQUE INDEX issuer_keys_one_active ON issuer_keys (issuer_id) WHERE status = 'active';

CREATE TABLE achievements (
    achievement_id text PRIMARY KEY,
    issuer_id      text        NOT NULL REFERENCES issuers,
    revision       integer     NOT NULL,
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    spec           jsonb       NOT NULL,         -- the micro-credential specification (see domain.py)
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX achievements_issuer ON achievements (issuer_id);

-- Every achievement.earned fact received, and what became of it. A request that cannot be
-- served yet (unknown achievement or issuer) waits here `parked` with its reason and is released
-- when the missing definition arrives.
CREATE TABLE issuance_requests (
    earned_id      text PRIMARY KEY,
    issuer_id      text        NOT NULL,
    achievement_id text        NOT NULL,
    learner_id     text        NOT NULL,
    award          integer     NOT NULL,
    payload        jsonb       NOT NULL,         -- the earned event, to replay when released
    state          text        NOT NULL CHECK (state IN ('parked', 'issued')),
    reason         text,
    received_at    timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issuance_requests_parked ON issuance_requests (issuer_id, achievement_id)
    WHERE state = 'parked';

-- One credential per (issuer, learner, achievement, award): the database, not the code, is the
-- last line against a double issue. `learner_id` and `learner_email` stay here (the issuer's own
-- store); the credential itself carries only a salted hash or a DID.
CREATE TABLE credentials (
    credential_id  text PRIMARY KEY,             -- urn:uuid:…
    issuer_id      text        NOT NULL REFERENCES issuers,
    achievement_id text        NOT NULL REFERENCES achievements,
    learner_id     text        NOT NULL,
    learner_email  text,
    award          integer     NOT NULL,
    earned_id      text,
    document       jsonb       NOT NULL,         -- the signed credential
    issued_at      timestamptz NOT NULL,
    UNIQUE (issuer_id, learner_id, achievement_id, award)
);
CREATE INDEX credentials_learner ON credentials (issuer_id, learner_id);
