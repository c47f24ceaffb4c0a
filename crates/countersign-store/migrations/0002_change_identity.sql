-- countersign evidence store, schema version 2: a change keeps one identity from PR to merge.
--
-- A change is registered under the first id countersign saw for it (`pr#13` when `check`
-- ran on the open pull request, or the merge commit when `audit` saw it first). Every other
-- id it is later seen under (the squash commit "Add index (#13)", the merge commit) becomes
-- an alias of that record, and its commits join the record's commits, so evidence attached
-- under any of them counts for the one change.
CREATE TABLE change_aliases (
    alias     TEXT PRIMARY KEY,
    change_id TEXT NOT NULL REFERENCES changes (id)
);

CREATE INDEX changes_pr ON changes (pr_number);
CREATE INDEX change_commits_change ON change_commits (change_id);
