//! The SQL, written once and compiled for both backends.
//!
//! `backend!` expands the same function bodies for `sqlx::Sqlite` and `sqlx::Postgres`;
//! only how an append transaction takes the log lock differs (SQLite: `BEGIN IMMEDIATE`
//! takes the database write lock; PostgreSQL: `SELECT … FOR UPDATE` on the `log_state`
//! row). Queries use `$N` placeholders, which both drivers accept.

use countersign_log::merkle::{Frontier, Hash, NodeId};
use countersign_log::note::{Checkpoint, LogSigner};
use sqlx::Row as _;

use crate::StoreError;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The newest schema version this build knows.
pub(crate) fn known_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// One entry ready to append: signed, hashed, with its index columns.
#[derive(Debug, Clone)]
pub(crate) struct PreparedEntry {
    pub kind: String,
    pub change_id: Option<String>,
    pub recorded_at: String,
    pub recorded_by: String,
    pub idempotency_key: Option<String>,
    pub envelope: Vec<u8>,
    pub leaf: Hash,
    /// For `policy-version` entries: (version, sha256, text) stored alongside.
    pub policy: Option<(String, String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Appended at this index.
    Appended(u64),
    /// The idempotency key was already used by this entry; nothing was written.
    AlreadyRecorded(u64),
}

impl AppendOutcome {
    pub fn index(self) -> u64 {
        match self {
            AppendOutcome::Appended(i) | AppendOutcome::AlreadyRecorded(i) => i,
        }
    }
}

/// A stored change, as the resolver returns it.
#[derive(Debug, Clone)]
pub(crate) struct ChangeRow {
    pub id: String,
    pub head_commit: Option<String>,
    pub merge_commit: Option<String>,
}

fn to_hash(bytes: Vec<u8>, what: &str) -> Result<Hash, StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

macro_rules! backend {
    ($module:ident, $db:ty, begin = $begin:expr, lock_state = $lock_state:expr) => {
        pub(crate) mod $module {
            use super::*;
            type Pool = sqlx::Pool<$db>;

            pub async fn applied_versions(pool: &Pool) -> Result<Vec<i64>, StoreError> {
                // A fresh database has no migrations table yet: that is "nothing applied".
                match sqlx::query("SELECT version FROM _sqlx_migrations").fetch_all(pool).await {
                    Ok(rows) => rows.iter().map(|r| r.try_get::<i64, _>(0).map_err(db("reading schema versions"))).collect(),
                    Err(_) => Ok(Vec::new()),
                }
            }

            pub async fn migrate(pool: &Pool) -> Result<(), StoreError> {
                let known = known_schema_version();
                if let Some(found) = applied_versions(pool).await?.into_iter().filter(|v| !MIGRATOR.version_exists(*v)).max() {
                    return Err(StoreError::NewerSchema { found, known });
                }
                MIGRATOR.run(pool).await.map_err(|e| StoreError::Migrate(e.to_string()))?;
                sqlx::query("INSERT INTO log_state (id, tree_size, frontier) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING")
                    .bind(Vec::<u8>::new())
                    .execute(pool)
                    .await
                    .map_err(db("creating the log state"))?;
                Ok(())
            }

            pub async fn get_meta(pool: &Pool, key: &str) -> Result<Option<String>, StoreError> {
                let row = sqlx::query("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(pool).await.map_err(db("reading meta"))?;
                row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(db("reading meta"))
            }

            pub async fn set_meta_if_absent(pool: &Pool, key: &str, value: &str) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                    .bind(key)
                    .bind(value)
                    .execute(pool)
                    .await
                    .map_err(db("writing meta"))?;
                Ok(())
            }

            /// The ids of every registered change.
            pub async fn change_ids(pool: &Pool) -> Result<std::collections::HashSet<String>, StoreError> {
                let rows = sqlx::query("SELECT id FROM changes").fetch_all(pool).await.map_err(db("reading changes"))?;
                rows.iter().map(|r| r.try_get::<String, _>(0).map_err(db("reading changes"))).collect()
            }

            pub async fn upsert_changes(pool: &Pool, changes: &[crate::ChangeRef], now: &str) -> Result<(), StoreError> {
                let mut tx = pool.begin().await.map_err(db("registering changes"))?;
                for c in changes {
                    sqlx::query(
                        "INSERT INTO changes (id, repository, pr_number, head_commit, merge_commit, registered_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (id) DO UPDATE SET \
                           repository = COALESCE(excluded.repository, changes.repository), \
                           pr_number = COALESCE(excluded.pr_number, changes.pr_number), \
                           head_commit = COALESCE(excluded.head_commit, changes.head_commit), \
                           merge_commit = COALESCE(excluded.merge_commit, changes.merge_commit)",
                    )
                    .bind(&c.id)
                    .bind(&c.repository)
                    .bind(c.pr_number.map(|n| n as i64))
                    .bind(&c.head_commit)
                    .bind(&c.merge_commit)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("registering a change"))?;
                    let all = c.commits.iter().chain(c.head_commit.iter()).chain(c.merge_commit.iter());
                    for commit in all {
                        sqlx::query("INSERT INTO change_commits (commit_id, change_id) VALUES ($1, $2) ON CONFLICT (commit_id, change_id) DO NOTHING")
                            .bind(commit)
                            .bind(&c.id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db("registering a change's commits"))?;
                    }
                }
                tx.commit().await.map_err(db("registering changes"))?;
                Ok(())
            }

            fn change_row(r: &<$db as sqlx::Database>::Row) -> Result<ChangeRow, StoreError> {
                Ok(ChangeRow {
                    id: r.try_get(0).map_err(db("reading a change"))?,
                    head_commit: r.try_get(1).map_err(db("reading a change"))?,
                    merge_commit: r.try_get(2).map_err(db("reading a change"))?,
                })
            }

            /// Changes named by `reference`: an exact id, else changes containing that commit
            /// (a full id or a prefix of at least 7 characters).
            pub async fn find_changes(pool: &Pool, reference: &str) -> Result<Vec<ChangeRow>, StoreError> {
                let rows = sqlx::query("SELECT id, head_commit, merge_commit FROM changes WHERE id = $1")
                    .bind(reference)
                    .fetch_all(pool)
                    .await
                    .map_err(db("looking up a change"))?;
                if !rows.is_empty() {
                    return rows.iter().map(change_row).collect();
                }
                if reference.len() < 7 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Ok(Vec::new());
                }
                let pattern = format!("{}%", reference.to_ascii_lowercase());
                let rows = sqlx::query(
                    "SELECT DISTINCT c.id, c.head_commit, c.merge_commit FROM changes c JOIN change_commits cc ON cc.change_id = c.id \
                     WHERE cc.commit_id LIKE $1 ORDER BY c.id",
                )
                .bind(pattern)
                .fetch_all(pool)
                .await
                .map_err(db("looking up a change by commit"))?;
                rows.iter().map(change_row).collect()
            }

            pub async fn find_idempotent(pool: &Pool, key: &str) -> Result<Option<u64>, StoreError> {
                let row = sqlx::query("SELECT idx FROM log_entries WHERE idempotency_key = $1").bind(key).fetch_optional(pool).await.map_err(db("checking the idempotency key"))?;
                Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose().map_err(db("checking the idempotency key"))?.map(|i| i as u64))
            }

            /// Append entries in one transaction, with one signed checkpoint at the end.
            pub async fn append_batch(pool: &Pool, signer: &LogSigner, entries: &[&PreparedEntry], now: &str) -> Result<Vec<AppendOutcome>, StoreError> {
                let mut conn = pool.acquire().await.map_err(db("connecting for an append"))?;
                let mut tx = sqlx::Connection::begin_with(&mut *conn, $begin).await.map_err(db("starting an append"))?;
                let state = sqlx::query($lock_state).fetch_one(&mut *tx).await.map_err(db("locking the log"))?;
                let size: i64 = state.try_get(0).map_err(db("reading the log state"))?;
                let frontier_bytes: Vec<u8> = state.try_get(1).map_err(db("reading the log state"))?;
                let mut frontier = Frontier::from_parts(size as u64, &frontier_bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut outcomes = Vec::with_capacity(entries.len());
                let mut seen_keys: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
                for entry in entries {
                    if let Some(key) = entry.idempotency_key.as_deref() {
                        if let Some(index) = seen_keys.get(key) {
                            outcomes.push(AppendOutcome::AlreadyRecorded(*index));
                            continue;
                        }
                        let existing = sqlx::query("SELECT idx FROM log_entries WHERE idempotency_key = $1")
                            .bind(key)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db("checking the idempotency key"))?;
                        if let Some(row) = existing {
                            let index: i64 = row.try_get(0).map_err(db("checking the idempotency key"))?;
                            outcomes.push(AppendOutcome::AlreadyRecorded(index as u64));
                            continue;
                        }
                    }
                    let index = frontier.size();
                    sqlx::query(
                        "INSERT INTO log_entries (idx, leaf_hash, envelope, kind, change_id, recorded_at, recorded_by, idempotency_key) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(index as i64)
                    .bind(entry.leaf.to_vec())
                    .bind(entry.envelope.as_slice())
                    .bind(&entry.kind)
                    .bind(&entry.change_id)
                    .bind(&entry.recorded_at)
                    .bind(&entry.recorded_by)
                    .bind(&entry.idempotency_key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("appending an entry"))?;
                    for (node, hash) in frontier.push(entry.leaf) {
                        sqlx::query("INSERT INTO tree_nodes (level, idx, hash) VALUES ($1, $2, $3)")
                            .bind(node.level as i32)
                            .bind(node.index as i64)
                            .bind(hash.to_vec())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("storing a tree node"))?;
                    }
                    if let Some((version, sha256, text)) = &entry.policy {
                        sqlx::query("INSERT INTO policy_versions (version, sha256, text, entry_idx, published_at) VALUES ($1, $2, $3, $4, $5)")
                            .bind(version)
                            .bind(sha256)
                            .bind(text)
                            .bind(index as i64)
                            .bind(&entry.recorded_at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db("storing a policy version"))?;
                    }
                    if let Some(key) = entry.idempotency_key.as_deref() {
                        seen_keys.insert(key, index);
                    }
                    outcomes.push(AppendOutcome::Appended(index));
                }
                if frontier.size() as i64 != size {
                    let checkpoint = Checkpoint { origin: signer.name().to_owned(), size: frontier.size(), root: frontier.root() };
                    let note = checkpoint.sign(signer).map_err(StoreError::Note)?;
                    sqlx::query("INSERT INTO checkpoints (tree_size, root_hash, note, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(checkpoint.size as i64)
                        .bind(checkpoint.root.to_vec())
                        .bind(note)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("storing a checkpoint"))?;
                    sqlx::query("UPDATE log_state SET tree_size = $1, frontier = $2 WHERE id = 1")
                        .bind(frontier.size() as i64)
                        .bind(frontier.to_bytes())
                        .execute(&mut *tx)
                        .await
                        .map_err(db("updating the log state"))?;
                }
                tx.commit().await.map_err(db("committing an append"))?;
                Ok(outcomes)
            }

            pub async fn tree_size(pool: &Pool) -> Result<u64, StoreError> {
                let row = sqlx::query("SELECT tree_size FROM log_state WHERE id = 1").fetch_one(pool).await.map_err(db("reading the log state"))?;
                Ok(row.try_get::<i64, _>(0).map_err(db("reading the log state"))? as u64)
            }

            pub async fn latest_checkpoint(pool: &Pool) -> Result<Option<(u64, String)>, StoreError> {
                let row = sqlx::query("SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
                    .fetch_optional(pool)
                    .await
                    .map_err(db("reading the latest checkpoint"))?;
                row.map(|r| Ok((r.try_get::<i64, _>(0).map_err(db("reading a checkpoint"))? as u64, r.try_get::<String, _>(1).map_err(db("reading a checkpoint"))?)))
                    .transpose()
            }

            /// The smallest checkpoint whose size is at least `size`.
            pub async fn checkpoint_at_least(pool: &Pool, size: u64) -> Result<Option<(u64, String)>, StoreError> {
                let row = sqlx::query("SELECT tree_size, note FROM checkpoints WHERE tree_size >= $1 ORDER BY tree_size LIMIT 1")
                    .bind(size as i64)
                    .fetch_optional(pool)
                    .await
                    .map_err(db("reading a checkpoint"))?;
                row.map(|r| Ok((r.try_get::<i64, _>(0).map_err(db("reading a checkpoint"))? as u64, r.try_get::<String, _>(1).map_err(db("reading a checkpoint"))?)))
                    .transpose()
            }

            pub async fn all_checkpoints(pool: &Pool) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query("SELECT note FROM checkpoints ORDER BY tree_size").fetch_all(pool).await.map_err(db("reading checkpoints"))?;
                rows.iter().map(|r| r.try_get::<String, _>(0).map_err(db("reading checkpoints"))).collect()
            }

            /// Up to `limit` entries with index >= `from`: (index, stored leaf hash, bytes).
            pub async fn entries_page(pool: &Pool, from: u64, limit: u64) -> Result<Vec<(u64, Vec<u8>, Vec<u8>)>, StoreError> {
                let rows = sqlx::query("SELECT idx, leaf_hash, envelope FROM log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2")
                    .bind(from as i64)
                    .bind(limit as i64)
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading entries"))?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<i64, _>(0).map_err(db("reading entries"))? as u64,
                            r.try_get::<Vec<u8>, _>(1).map_err(db("reading entries"))?,
                            r.try_get::<Vec<u8>, _>(2).map_err(db("reading entries"))?,
                        ))
                    })
                    .collect()
            }

            pub async fn entry(pool: &Pool, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
                let row = sqlx::query("SELECT envelope FROM log_entries WHERE idx = $1").bind(index as i64).fetch_optional(pool).await.map_err(db("reading an entry"))?;
                row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose().map_err(db("reading an entry"))
            }

            pub async fn node(pool: &Pool, node: NodeId) -> Result<Hash, StoreError> {
                let row = if node.level == 0 {
                    sqlx::query("SELECT leaf_hash FROM log_entries WHERE idx = $1").bind(node.index as i64).fetch_optional(pool).await
                } else {
                    sqlx::query("SELECT hash FROM tree_nodes WHERE level = $1 AND idx = $2").bind(node.level as i32).bind(node.index as i64).fetch_optional(pool).await
                }
                .map_err(db("reading a tree node"))?;
                let row = row.ok_or_else(|| StoreError::Corrupt(format!("tree node level {} index {} is missing", node.level, node.index)))?;
                to_hash(row.try_get::<Vec<u8>, _>(0).map_err(db("reading a tree node"))?, "tree node")
            }

            /// Entries about any of these changes: (index, bytes).
            pub async fn entries_for_changes(pool: &Pool, change_ids: &[String]) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
                let mut out = Vec::new();
                for id in change_ids {
                    let rows = sqlx::query("SELECT idx, envelope FROM log_entries WHERE change_id = $1 ORDER BY idx")
                        .bind(id)
                        .fetch_all(pool)
                        .await
                        .map_err(db("reading evidence"))?;
                    for r in rows {
                        out.push((r.try_get::<i64, _>(0).map_err(db("reading evidence"))? as u64, r.try_get::<Vec<u8>, _>(1).map_err(db("reading evidence"))?));
                    }
                }
                out.sort_by_key(|(i, _)| *i);
                out.dedup_by_key(|(i, _)| *i);
                Ok(out)
            }

            /// Every entry that concerns a change: (index, bytes), in log order.
            pub async fn entries_with_change(pool: &Pool) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
                let rows = sqlx::query("SELECT idx, envelope FROM log_entries WHERE change_id IS NOT NULL ORDER BY idx")
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading evidence"))?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<i64, _>(0).map_err(db("reading evidence"))? as u64, r.try_get::<Vec<u8>, _>(1).map_err(db("reading evidence"))?)))
                    .collect()
            }

            /// Entries recorded in [since, until): (index, bytes). Times are RFC 3339 UTC with
            /// whole seconds, so text order is time order.
            pub async fn entries_between(pool: &Pool, since: &str, until: &str) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
                let rows = sqlx::query("SELECT idx, envelope FROM log_entries WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY idx")
                    .bind(since)
                    .bind(until)
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading evidence"))?;
                rows.iter().map(|r| Ok((r.try_get::<i64, _>(0).map_err(db("reading evidence"))? as u64, r.try_get::<Vec<u8>, _>(1).map_err(db("reading evidence"))?))).collect()
            }

            /// The policy version in force at `until`: (version, sha256, text, entry index).
            pub async fn policy_in_force(pool: &Pool, until: &str) -> Result<Option<(String, String, String, u64)>, StoreError> {
                let row = sqlx::query("SELECT version, sha256, text, entry_idx FROM policy_versions WHERE published_at < $1 ORDER BY entry_idx DESC LIMIT 1")
                    .bind(until)
                    .fetch_optional(pool)
                    .await
                    .map_err(db("reading the policy version"))?;
                row.map(|r| {
                    Ok((
                        r.try_get(0).map_err(db("reading the policy version"))?,
                        r.try_get(1).map_err(db("reading the policy version"))?,
                        r.try_get(2).map_err(db("reading the policy version"))?,
                        r.try_get::<i64, _>(3).map_err(db("reading the policy version"))? as u64,
                    ))
                })
                .transpose()
            }

            pub async fn execute_raw(pool: &Pool, sql: &str) -> Result<u64, StoreError> {
                Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.map_err(db("running raw SQL"))?.rows_affected())
            }
        }
    };
}

backend!(sqlite, sqlx::Sqlite, begin = "BEGIN IMMEDIATE", lock_state = "SELECT tree_size, frontier FROM log_state WHERE id = 1");
backend!(postgres, sqlx::Postgres, begin = "BEGIN", lock_state = "SELECT tree_size, frontier FROM log_state WHERE id = 1 FOR UPDATE");
