-- countersign evidence store, schema version 5: the server's API tokens and the latest
-- evaluation of each change.
--
-- A token is shown once, when it is created; only its SHA-256 is kept (tokens are 256
-- random bits, so a fast hash is enough). Each carries a role and the person it acts as:
-- evidence recorded with it is recorded by that person, and an approval given with it is
-- that person's approval.
CREATE TABLE api_tokens (
    token_id    TEXT PRIMARY KEY,      -- the public part, `cs_<token_id>_…`
    sha256      TEXT NOT NULL,         -- of the whole token
    role        TEXT NOT NULL,         -- viewer, recorder, approver, admin
    person      TEXT NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- The latest evaluation the server made of each change: operational state for the API's
-- lists and filters, not evidence (the evidence behind it is in the log).
CREATE TABLE evaluations (
    change_id    TEXT PRIMARY KEY,
    repository   TEXT NOT NULL,
    verdict      TEXT NOT NULL,        -- compliant, evidence missing, violation
    category     TEXT NOT NULL,
    head_sha     TEXT NOT NULL,
    authors      TEXT NOT NULL,        -- JSON array: every name the author goes by (person id, login, email)
    evaluated_at TEXT NOT NULL,        -- RFC 3339, whole seconds
    evaluation   TEXT NOT NULL         -- the engine's evaluation, JSON
);
CREATE INDEX evaluations_by_time ON evaluations (evaluated_at);
