-- countersign evidence store, schema version 1.
-- One migration set for SQLite and PostgreSQL: only types both understand
-- (BIGINT, INTEGER, TEXT, BYTEA; SQLite keeps BYTEA values as blobs).

-- Facts about this store: the log's public key (vkey), its origin.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Changes registered by `countersign audit`/`check` (or by `record` from a commit in the repo).
CREATE TABLE changes (
    id            TEXT PRIMARY KEY,   -- the engine's change id: a commit id or `pr#N`
    repository    TEXT,
    pr_number     BIGINT,
    head_commit   TEXT,
    merge_commit  TEXT,
    registered_at TEXT NOT NULL
);

-- Every commit of a change, so evidence can name a change by any of its commits.
CREATE TABLE change_commits (
    commit_id TEXT NOT NULL,
    change_id TEXT NOT NULL REFERENCES changes (id),
    PRIMARY KEY (commit_id, change_id)
);

-- The append-only log. `envelope` holds the entry bytes exactly as signed and hashed.
CREATE TABLE log_entries (
    idx             BIGINT PRIMARY KEY,        -- Merkle leaf index, assigned in the append transaction
    leaf_hash       BYTEA NOT NULL,            -- SHA-256(0x00 || envelope)
    envelope        BYTEA NOT NULL,            -- DSSE envelope JSON
    kind            TEXT NOT NULL,             -- evidence kind, e.g. `approval`
    change_id       TEXT REFERENCES changes (id),
    recorded_at     TEXT NOT NULL,             -- RFC 3339, also inside the signed predicate
    recorded_by     TEXT NOT NULL,
    idempotency_key TEXT UNIQUE
);
CREATE INDEX log_entries_change ON log_entries (change_id);
CREATE INDEX log_entries_recorded_at ON log_entries (recorded_at);

-- Complete Merkle subtrees of level >= 1 (level 0 is log_entries.leaf_hash), so a proof
-- is O(log n) point reads.
CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP signed notes), one per append transaction.
CREATE TABLE checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root_hash  BYTEA NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The single row every append locks: the tree size and its right edge (frontier).
CREATE TABLE log_state (
    id        INTEGER PRIMARY KEY,
    tree_size BIGINT NOT NULL,
    frontier  BYTEA NOT NULL
);

-- Published policy versions (their digest is also logged as a `policy-version` entry).
CREATE TABLE policy_versions (
    version      TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL,
    text         TEXT NOT NULL,
    entry_idx    BIGINT,
    published_at TEXT NOT NULL
);
