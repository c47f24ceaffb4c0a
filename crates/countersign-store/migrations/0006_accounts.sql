-- countersign evidence store, schema version 6: people who sign in to the server's pages,
-- their sessions, and the outcome of each `log verify`.
--
-- A password is kept only as its Argon2id hash (PHC string, salt included). A session id is
-- 256 random bits, kept only as its SHA-256, like API tokens; its CSRF token is random too
-- and is sent back with every form. Disabling an account ends its sessions at once: each
-- request reads the account's role afresh. Five wrong passwords in a row lock the account
-- for fifteen minutes.
CREATE TABLE accounts (
    person        TEXT PRIMARY KEY,    -- the person id of the policy (an email or a forge login)
    role          TEXT NOT NULL,       -- viewer, recorder, approver, admin
    password_hash TEXT NOT NULL,       -- $argon2id$…
    created_at    TEXT NOT NULL,
    disabled_at   TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,  -- wrong passwords since the last sign-in or lock
    locked_until  TEXT                        -- RFC 3339 UTC: no sign-in before it
);

CREATE TABLE sessions (
    sha256      TEXT PRIMARY KEY,      -- of the cookie's value
    person      TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL          -- RFC 3339 UTC; a session past it is refused
);
CREATE INDEX sessions_by_person ON sessions (person);

-- Every `log verify` run against this store, so the server's log page can say when the log
-- was last proven and what was found.
CREATE TABLE log_verifications (
    verified_at TEXT NOT NULL,
    entries     BIGINT NOT NULL,
    ok          BOOLEAN NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX log_verifications_by_time ON log_verifications (verified_at);
