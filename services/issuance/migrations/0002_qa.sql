-- QA gating (docs/qa.md): each issuer's QA and withdrawal policies, issuance's own view of the QA
-- attestations (from credstream.qa.attestations.v1; never the qa service's tables), and which
-- attestation each credential relied on.

-- Existing issuers get `require`: from now on they issue only what a valid attestation covers.
ALTER TABLE issuers
    ADD COLUMN qa_policy text NOT NULL DEFAULT 'require'
        CHECK (qa_policy IN ('require', 'allow_unassured')),
    ADD COLUMN withdrawal_policy text NOT NULL DEFAULT 'none'
        CHECK (withdrawal_policy IN ('none', 'suspend'));

CREATE TABLE qa_attestations (
    attestation_id text PRIMARY KEY,
    agency_id      text        NOT NULL,
    agency_did     text,
    agency_name    text,
    subject_kind   text        NOT NULL CHECK (subject_kind IN ('issuer', 'achievement')),
    subject_id     text        NOT NULL,
    decision       text        NOT NULL,
    scope          jsonb       NOT NULL,
    standard       text        NOT NULL,
    report_url     text,
    valid_from     timestamptz NOT NULL,
    valid_until    timestamptz,
    status         text        NOT NULL CHECK (status IN ('active', 'withdrawn', 'expired')),
    withdrawn_at   timestamptz,
    endorsement_id text,
    endorsement    jsonb,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Issuing looks up the attestations of one achievement and of its issuer.
CREATE INDEX qa_attestations_subject ON qa_attestations (subject_kind, subject_id);

-- Parked awards are also released by a QA attestation; the new reason prefixes (qa_missing,
-- qa_withdrawn, ...) are free text in `reason`.
ALTER TABLE credentials ADD COLUMN qa_attestation_id text;
-- The withdrawal policy `suspend` finds the credentials that relied on one attestation.
CREATE INDEX credentials_qa_attestation ON credentials (qa_attestation_id, issued_at)
    WHERE qa_attestation_id IS NOT NULL;
