-- Status lists: one row per list (issuer, purpose, sequence number). `bits` is the bitstring
-- (bit 0 = most significant bit of byte 0); `reserved` marks the indexes handed out to issuance;
-- `version` counts changes, `published_version` the version the published credential (`published`,
-- the exact bytes served, `etag` their SHA-256) reflects.
CREATE TABLE status_lists (
    list_id           text        PRIMARY KEY,
    issuer_id         text        NOT NULL,
    issuer_did        text        NOT NULL,
    purpose           text        NOT NULL CHECK (purpose IN ('revocation', 'suspension')),
    seq               integer     NOT NULL,
    length            integer     NOT NULL CHECK (length >= 131072 AND length % 8 = 0),
    url               text        NOT NULL UNIQUE,
    bits              bytea       NOT NULL,
    reserved          bytea       NOT NULL,
    reserved_count    integer     NOT NULL DEFAULT 0,
    version           bigint      NOT NULL DEFAULT 1,
    published_version bigint      NOT NULL DEFAULT 0,
    published         bytea,
    etag              text,
    published_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer_id, purpose, seq)
);
CREATE INDEX status_lists_unpublished ON status_lists (list_id) WHERE version > published_version;

-- Every index ever reserved, once: the primary key is the database-level guarantee that an index
-- is never handed out twice (two service instances allocating at once collide here, not later).
CREATE TABLE reservations (
    list_id   text    NOT NULL REFERENCES status_lists (list_id),
    idx       integer NOT NULL,
    block_id  text    NOT NULL,
    PRIMARY KEY (list_id, idx)
);

CREATE TABLE index_blocks (
    block_id    text        PRIMARY KEY,
    request_id  text        NOT NULL UNIQUE,
    list_id     text        NOT NULL REFERENCES status_lists (list_id),
    size        integer     NOT NULL,
    reserved_at timestamptz NOT NULL DEFAULT now()
);

-- Which credential holds which entry: learnt from credential.issued.
CREATE TABLE entries (
    credential_id text        NOT NULL,
    purpose       text        NOT NULL,
    issuer_id     text        NOT NULL,
    list_id       text        NOT NULL REFERENCES status_lists (list_id),
    idx           integer     NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (credential_id, purpose),
    UNIQUE (list_id, idx)
);

-- Requests for credentials whose credential.issued has not been read yet (the two arrive on
-- different topics); applied, in arrival order, when it is.
CREATE TABLE pending_changes (
    request_id   text        PRIMARY KEY,
    credential_id text       NOT NULL,
    request      jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_changes_credential ON pending_changes (credential_id, received_at);

-- The audit: append-only (a trigger refuses UPDATE and DELETE). Reasons live here and never in
-- the public list. `outcome`: applied, unchanged (the bit already had that value), refused.
CREATE TABLE status_audit (
    seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    text        NOT NULL UNIQUE,
    credential_id text        NOT NULL,
    issuer_id     text        NOT NULL,
    purpose       text        NOT NULL,
    set_bit       boolean     NOT NULL,
    outcome       text        NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'refused')),
    refusal       text,
    reason_code   text        NOT NULL,
    reason        text,
    actor         text        NOT NULL,
    channel       text        NOT NULL CHECK (channel IN ('event', 'http')),
    list_id       text,
    idx           integer,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_audit_credential ON status_audit (credential_id, seq);

CREATE FUNCTION status_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'status_audit is append-only';
END $$;
CREATE TRIGGER status_audit_no_update BEFORE UPDATE OR DELETE ON status_audit
    FOR EACH ROW EXECUTE FUNCTION status_audit_append_only();
