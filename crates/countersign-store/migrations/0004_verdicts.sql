-- countersign evidence store, schema version 4: what the server needs to judge a pull
-- request again and to post its verdict back.
--
-- Both tables are operational state, not evidence. `pull_requests` points at the newest
-- stored delivery that described each pull request (its title, labels, base and head); the
-- delivery itself is in `deliveries` and its bytes are proven by the log. `posted_statuses`
-- keeps the last verdict posted to a forge for each commit, so an unchanged verdict is not
-- posted twice and a status someone else set in our name is noticed.
CREATE TABLE pull_requests (
    change_id    TEXT PRIMARY KEY,     -- owner/repo#N
    forge        TEXT NOT NULL,
    repository   TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,        -- the newest pull-request delivery
    received_ms  BIGINT NOT NULL       -- when it was received (Unix ms), to keep the newest
);

CREATE TABLE posted_statuses (
    forge        TEXT NOT NULL,
    repository   TEXT NOT NULL,
    sha          TEXT NOT NULL,
    context      TEXT NOT NULL,
    state        TEXT NOT NULL,        -- success, failure, pending (the forge's own word)
    description  TEXT NOT NULL,
    target_url   TEXT NOT NULL,
    change_id    TEXT NOT NULL,
    posted_at    TEXT NOT NULL,
    PRIMARY KEY (forge, repository, sha, context)
);
