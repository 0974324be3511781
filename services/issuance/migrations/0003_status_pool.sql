-- Status list indexes reserved for this service by the revocation service (blocks arrive on
-- credstream.status.index-blocks.v1). Each index is assigned to one credential at most: the
-- primary key holds every (list, index) once, and a credential holds one index per purpose.
CREATE TABLE status_index_pool (
    list_url      text        NOT NULL,
    idx           integer     NOT NULL,
    issuer_id     text        NOT NULL,
    purpose       text        NOT NULL CHECK (purpose IN ('revocation', 'suspension')),
    block_id      text        NOT NULL,
    credential_id text,
    assigned_at   timestamptz,
    PRIMARY KEY (list_url, idx)
);
CREATE INDEX status_index_pool_free ON status_index_pool (issuer_id, purpose) WHERE credential_id IS NULL;
CREATE UNIQUE INDEX status_index_pool_credential ON status_index_pool (credential_id, purpose)
    WHERE credential_id IS NOT NULL;

-- Block requests sent; at most one open request per issuer and purpose.
CREATE TABLE status_index_requests (
    request_id   text        PRIMARY KEY,
    issuer_id    text        NOT NULL,
    purpose      text        NOT NULL,
    size         integer     NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    fulfilled_at timestamptz
);
CREATE UNIQUE INDEX status_index_requests_open ON status_index_requests (issuer_id, purpose)
    WHERE fulfilled_at IS NULL;
