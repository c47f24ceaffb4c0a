-- countersign evidence store, schema version 3: the server's webhook deliveries and jobs.
--
-- A webhook delivery is accepted only once it is durable: its raw bytes go in `deliveries`
-- and a `webhook-delivery` entry naming their SHA-256 goes in the log, in the same
-- transaction, together with the job that will process it. The log entry proves the bytes
-- (as `policy-version` entries prove `policy_versions.text`).
CREATE TABLE deliveries (
    forge        TEXT NOT NULL,        -- github, gitea, gitlab
    delivery_id  TEXT NOT NULL,        -- X-GitHub-Delivery, X-Gitea-Delivery, X-Gitlab-Event-UUID, Idempotency-Key
    event        TEXT NOT NULL,        -- the forge's event name header
    sha256       TEXT NOT NULL,        -- of `body`, as logged
    body         BYTEA NOT NULL,       -- the raw request body, exactly as received
    headers      TEXT NOT NULL,        -- JSON object: the request headers kept (no secrets)
    received_at  TEXT NOT NULL,        -- RFC 3339
    entry_idx    BIGINT NOT NULL,      -- the `webhook-delivery` log entry
    outcome      TEXT,                 -- set once processed: `processed`, `ignored: …`, `failed: …`
    processed_at TEXT,
    PRIMARY KEY (forge, delivery_id)
);
CREATE INDEX deliveries_entry ON deliveries (entry_idx);

-- Background work: processing deliveries, re-evaluating changes, posting statuses. Rows are
-- operational state, not evidence: every result of a job is itself logged. A job is keyed
-- by what it is about (`delivery:github:<id>`, `evaluate:<change>`), so enqueuing the same
-- work again coalesces into one row; `generation` counts the enqueues, so a job that was
-- enqueued again while it ran is run once more. Times are Unix milliseconds.
CREATE TABLE jobs (
    job_key       TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    run_after     BIGINT NOT NULL,
    generation    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    claimed_by    TEXT,
    claimed_until BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_after);
