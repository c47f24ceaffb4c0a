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

/// Every id a registered change is known by (its own, and its aliases), with its record's
/// id; read whole by `change_ids`, and on SQLite by `sqlite_scan::change_ids`.
pub(crate) const CHANGE_IDS: &str = "SELECT id, id FROM changes UNION ALL SELECT alias, change_id FROM change_aliases";

/// The schema's migrations, embedded: (version, description, SQL). Versions and
/// descriptions follow the files' names (`0003_server.sql` is version 3, "server"), as
/// sqlx's own directory reader names them, and each checksum is sqlx's (SHA-384 of the
/// SQL), so databases migrated by earlier builds are recognised as up to date. Listed here
/// rather than with `sqlx::migrate!`, which would build sqlx a second time as a macro.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (2, "change identity", include_str!("../migrations/0002_change_identity.sql")),
    (3, "server", include_str!("../migrations/0003_server.sql")),
    (4, "verdicts", include_str!("../migrations/0004_verdicts.sql")),
    (5, "api", include_str!("../migrations/0005_api.sql")),
    (6, "accounts", include_str!("../migrations/0006_accounts.sql")),
    (7, "append pages", include_str!("../migrations/0007_append_pages.sql")),
];

pub(crate) static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> = std::sync::LazyLock::new(|| {
    use sqlx::SqlSafeStr as _;
    sqlx::migrate::Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                sqlx::migrate::Migration::new(
                    version,
                    description.into(),
                    sqlx::migrate::MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
});

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
    /// For `webhook-delivery` entries: the raw delivery stored alongside, and the job
    /// that will process it, in the same transaction.
    pub delivery: Option<DeliveryRow>,
    /// When the entry's change was resolved from the store's cache: what the append
    /// transaction checks before it commits the entry.
    pub change_check: Option<ChangeCheck>,
}

/// A change resolution taken from the store's cache (`AsyncStore::subject`). The entry is
/// committed only if, inside its append transaction (SQLite: under the write lock, on the
/// newest snapshot), `reference` still names exactly one change by its id or an alias,
/// with this id and this head: then the resolver would answer the same at that moment
/// (an id or alias match is its first tier, and decides alone). Otherwise the append
/// fails with [`StoreError::StaleChange`] and nothing is written.
#[derive(Debug, Clone)]
pub(crate) struct ChangeCheck {
    pub reference: String,
    pub id: String,
    pub head: Option<String>,
}

/// One row, `-1`, when a [`ChangeCheck`] fails; its reference, id and head are bound as
/// `$first`, `$first+1`, `$first+2`. The same id-or-alias match as `find_changes`.
pub(crate) fn stale_change_sql(first: usize) -> String {
    let (reference, id, head) = (first, first + 1, first + 2);
    format!(
        "SELECT -1 FROM (SELECT count(*) AS n, max(id) AS id, max(COALESCE(merge_commit, head_commit)) AS head FROM changes \
         WHERE id = ${reference} OR id IN (SELECT change_id FROM change_aliases WHERE alias = ${reference})) AS found \
         WHERE NOT (n = 1 AND id = ${id} AND head IS NOT DISTINCT FROM ${head})"
    )
}

/// A webhook delivery's row, written with its log entry.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryRow {
    pub forge: String,
    pub delivery_id: String,
    pub event: String,
    pub sha256: String,
    pub body: Vec<u8>,
    pub headers: String,
    pub received_at: String,
    /// The processing job: key, kind, payload, run after (Unix ms).
    pub job: (String, String, String, i64),
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

/// A chunk of entries read in index order: index, stored leaf hash (if 32 bytes), bytes,
/// and the unsigned index columns, which readers check against the signed payload. The
/// bytes and columns of all its entries are kept in one buffer (no allocation per entry).
#[derive(Debug, Default)]
pub(crate) struct EntryChunk {
    pub indices: Vec<u64>,
    pub hashes: Vec<Option<Hash>>,
    /// Each entry's bytes, one after another.
    data: Vec<u8>,
    /// Each entry's kind, change id, recorded_at and recorded_by, one after another.
    text: String,
    rows: Vec<EntrySpans>,
}

/// Where an entry's parts end in [`EntryChunk::data`] and [`EntryChunk::text`] (each
/// starts where the last one there ended).
#[derive(Debug, Clone, Copy)]
struct EntrySpans {
    bytes: usize,
    kind: usize,
    change_id: Option<usize>,
    recorded_at: usize,
    recorded_by: usize,
}

/// The columns `log_entries` keeps beside an entry's bytes so it can be found by change,
/// kind and time. They are not signed: every reader checks them against the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexColumns {
    pub kind: String,
    pub change_id: Option<String>,
    pub recorded_at: String,
    pub recorded_by: String,
}

/// [`IndexColumns`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnsRef<'a> {
    pub kind: &'a str,
    pub change_id: Option<&'a str>,
    pub recorded_at: &'a str,
    pub recorded_by: &'a str,
}

impl IndexColumns {
    pub(crate) fn as_ref(&self) -> ColumnsRef<'_> {
        ColumnsRef {
            kind: &self.kind,
            change_id: self.change_id.as_deref(),
            recorded_at: &self.recorded_at,
            recorded_by: &self.recorded_by,
        }
    }
}

impl EntryChunk {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            indices: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            data: Vec::with_capacity(n * 1024),
            text: String::with_capacity(n * 64),
            rows: Vec::with_capacity(n),
        }
    }

    pub(crate) fn push(&mut self, index: u64, hash: Option<Hash>, bytes: &[u8], columns: ColumnsRef<'_>) {
        self.data.extend_from_slice(bytes);
        let mut end = |part: &str| {
            self.text.push_str(part);
            self.text.len()
        };
        let spans = EntrySpans {
            bytes: self.data.len(),
            kind: end(columns.kind),
            change_id: columns.change_id.map(&mut end),
            recorded_at: end(columns.recorded_at),
            recorded_by: end(columns.recorded_by),
        };
        self.indices.push(index);
        self.hashes.push(hash);
        self.rows.push(spans);
    }

    pub(crate) fn len(&self) -> usize {
        self.indices.len()
    }

    /// Entry `i`'s bytes.
    pub(crate) fn bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.rows[i - 1].bytes };
        &self.data[start..self.rows[i].bytes]
    }

    /// Entry `i`'s index columns.
    pub(crate) fn columns(&self, i: usize) -> ColumnsRef<'_> {
        let r = self.rows[i];
        let start = if i == 0 { 0 } else { self.rows[i - 1].recorded_by };
        let after_kind = r.change_id.unwrap_or(r.kind);
        ColumnsRef {
            kind: &self.text[start..r.kind],
            change_id: r.change_id.map(|end| &self.text[r.kind..end]),
            recorded_at: &self.text[after_kind..r.recorded_at],
            recorded_by: &self.text[r.recorded_at..r.recorded_by],
        }
    }
}

/// A chunk of stored tree nodes, in the order a growing tree completes them.
/// A stored hash that is not 32 bytes long is `None` (it matches no node).
pub(crate) type NodeChunk = Vec<(NodeId, Option<Hash>)>;

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub key: String,
    pub kind: String,
    pub payload: String,
    pub generation: i64,
    pub attempts: i64,
}

/// A stored delivery, without its body unless asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub forge: String,
    pub delivery_id: String,
    pub event: String,
    pub sha256: String,
    pub received_at: String,
    pub entry_index: u64,
    pub outcome: Option<String>,
    pub processed_at: Option<String>,
    pub headers: String,
    pub body: Option<Vec<u8>>,
}

/// What processing a delivery leaves besides its evidence, settled in one transaction
/// ([`crate::AsyncStore::settle_delivery`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliverySettlement {
    pub forge: String,
    pub delivery_id: String,
    pub outcome: String,
    /// The pull request this delivery describes, to point it at the delivery.
    pub pull_request: Option<PullRequestNote>,
    /// Jobs to enqueue (or coalesce), such as the change's evaluation.
    pub enqueue: Vec<NewJob>,
    /// The delivery's own job, finished by the same commit.
    pub job_key: String,
    pub worker: String,
    pub generation: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestNote {
    pub change_id: String,
    pub repository: String,
    pub received_ms: i64,
}

/// A job to enqueue: key (coalescing), kind, payload, and when it is due (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub key: String,
    pub kind: String,
    pub payload: String,
    pub run_after: i64,
}

/// The last verdict the server posted to a forge for one commit and status context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedStatus {
    pub forge: String,
    pub repository: String,
    pub sha: String,
    pub context: String,
    pub state: String,
    pub description: String,
    pub target_url: String,
    pub change_id: String,
    pub posted_at: String,
}

/// An API token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token_id: String,
    pub role: String,
    pub person: String,
    pub note: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A person who signs in to the server's pages (never their password or its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub person: String,
    pub role: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

/// A live session: whose it is, with the role their account has now, and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub person: String,
    pub role: String,
    pub csrf: String,
    pub expires_at: String,
}

/// One `log verify` run against this store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRow {
    pub verified_at: String,
    pub entries: u64,
    pub ok: bool,
    pub summary: String,
}

/// The latest evaluation of a change, as the server keeps it for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationRow {
    pub change_id: String,
    pub repository: String,
    pub verdict: String,
    pub category: String,
    pub head_sha: String,
    /// Every name the change's author goes by (person id, login, email), JSON array: no one
    /// approves their own change through the API.
    pub authors: String,
    pub evaluated_at: String,
    /// The engine's evaluation, JSON.
    pub evaluation: String,
}

/// Which evaluations to list: every filter is optional; `after` continues a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationFilter {
    pub repository: Option<String>,
    pub verdict: Option<String>,
    pub category: Option<String>,
    /// RFC 3339 bounds on `evaluated_at` (inclusive, exclusive).
    pub since: Option<String>,
    pub until: Option<String>,
    /// The last change id of the previous page.
    pub after: Option<String>,
    pub limit: u32,
}

/// A stored change, as the resolver returns it.
#[derive(Debug, Clone)]
pub(crate) struct ChangeRow {
    pub id: String,
    pub head_commit: Option<String>,
    pub merge_commit: Option<String>,
    pub repository: Option<String>,
    pub pr_number: Option<u64>,
}

fn to_hash(bytes: Vec<u8>, what: &str) -> Result<Hash, StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

/// Most entries in one SQLite transaction: a larger group (an import) is appended in
/// transactions of this many, and the fast path (`sqlite_append`) takes no more.
pub(crate) const FAST_GROUP: usize = 64;

/// WAL pages after which the SQLite appender's own COMMIT checkpoints the WAL (SQLite's
/// default, as for any other connection): the checkpoint runs inside the writer's turn, so
/// it copies every frame and the next append starts the WAL again from its beginning. A
/// checkpoint on another connection while appends go on never catches up with the last
/// frame, so the WAL is never restarted: it grew by every append (tens of MB in the bench)
/// and each commit's fsync had to extend the file, which made a lone writer ~15% slower
/// (docs/evidence-log.md, "SQLite appends").
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: u32 = 1000;

/// The head of the INSERT that stores a webhook delivery; its rows bind with
/// [`bind_delivery!`].
pub(crate) const DELIVERY_INSERT: &str =
    "INSERT INTO deliveries (forge, delivery_id, event, sha256, body, headers, received_at, entry_idx) VALUES";

/// The head of the INSERT that enqueues a job (each row: key, kind, payload, run_after,
/// now, generation 0, attempts 0), and its upsert: enqueuing a key again replaces the
/// payload, bumps the generation and keeps the earlier due time of an unclaimed job.
pub(crate) const JOB_INSERT: &str =
    "INSERT INTO jobs (job_key, kind, payload, run_after, created_at, generation, attempts) VALUES";
pub(crate) const JOB_UPSERT: &str = " ON CONFLICT (job_key) DO UPDATE SET payload = excluded.payload, generation = jobs.generation + 1, \
     run_after = CASE WHEN jobs.claimed_by IS NULL AND jobs.run_after < excluded.run_after THEN jobs.run_after ELSE excluded.run_after END";

/// How long a SQLite connection waits for another writer's lock before it gives up.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The entry an idempotency key became.
pub(crate) const IDEMPOTENT_LOOKUP: &str = "SELECT idx FROM log_entries WHERE idempotency_key = $1";

/// The append's state update: new size and frontier, only if the state is still the one
/// the appender read or last wrote (size and frontier).
pub(crate) const STATE_UPDATE: &str =
    "UPDATE log_state SET tree_size = $1, frontier = $2 WHERE id = 1 AND tree_size = $3 AND frontier = $4";

/// The heads of the INSERTs of log entries (rows bound with [`bind_entry!`]) and of tree
/// nodes (level, index, hash).
pub(crate) const ENTRY_INSERT: &str = "INSERT INTO log_entries (idx, leaf_hash, envelope, kind, change_id, recorded_at, recorded_by, idempotency_key) VALUES";
pub(crate) const NODE_INSERT: &str = "INSERT INTO tree_nodes (level, idx, hash) VALUES";

/// The append's checkpoint: size, root, signed note, time.
pub(crate) const CHECKPOINT_INSERT: &str =
    "INSERT INTO checkpoints (tree_size, root_hash, note, created_at) VALUES ($1, $2, $3, $4)";

macro_rules! bind_delivery {
    ($q:expr, $index:expr, $d:expr) => {
        $q.bind(&$d.forge)
            .bind(&$d.delivery_id)
            .bind(&$d.event)
            .bind(&$d.sha256)
            .bind($d.body.as_slice())
            .bind(&$d.headers)
            .bind(&$d.received_at)
            .bind(*$index as i64)
    };
}

/// Bind one log entry's columns, in the order of [`ENTRY_INSERT`], on either backend.
macro_rules! bind_entry {
    ($q:expr, $index:expr, $entry:expr) => {
        $q.bind(*$index as i64)
            .bind($entry.leaf.to_vec())
            .bind($entry.envelope.as_slice())
            .bind(&$entry.kind)
            .bind(&$entry.change_id)
            .bind(&$entry.recorded_at)
            .bind(&$entry.recorded_by)
            .bind(&$entry.idempotency_key)
    };
}

/// The columns `change_row` reads, in its order.
macro_rules! change_columns {
    () => {
        "SELECT id, head_commit, merge_commit, repository, pr_number FROM changes"
    };
}

/// Append `$first, $first+1, …` (`count` placeholders) and a closing parenthesis: the rest of
/// an `IN (` list.
fn placeholders(sql: &mut String, first: usize, count: usize) {
    for n in first..first + count {
        if n > first {
            sql.push_str(", ");
        }
        sql.push('$');
        sql.push_str(&n.to_string());
    }
    sql.push(')');
}

/// What one append writes on top of `frontier`'s state: each entry's outcome (appended
/// at an index, or the index its idempotency key was given before), the rows and the
/// subtrees they complete, and the state after.
pub(crate) struct Plan<'e> {
    pub outcomes: Vec<AppendOutcome>,
    pub rows: Vec<(u64, &'e PreparedEntry)>,
    pub nodes: Vec<(NodeId, Hash)>,
    pub frontier: Frontier,
}

pub(crate) fn plan<'e>(
    mut frontier: Frontier,
    entries: &[&'e PreparedEntry],
    existing: &std::collections::HashMap<String, u64>,
) -> Plan<'e> {
    let mut outcomes = Vec::with_capacity(entries.len());
    let mut rows = Vec::with_capacity(entries.len());
    let mut nodes = Vec::new();
    let mut seen_keys: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for entry in entries {
        if let Some(key) = entry.idempotency_key.as_deref()
            && let Some(index) = seen_keys.get(key).or_else(|| existing.get(key))
        {
            outcomes.push(AppendOutcome::AlreadyRecorded(*index));
            continue;
        }
        let index = frontier.size();
        nodes.extend(frontier.push(entry.leaf));
        rows.push((index, *entry));
        if let Some(key) = entry.idempotency_key.as_deref() {
            seen_keys.insert(key, index);
        }
        outcomes.push(AppendOutcome::Appended(index));
    }
    Plan { outcomes, rows, nodes, frontier }
}

/// Multi-row INSERT chunk sizes: powers of two, so a handful of distinct
/// statements (each prepared once per connection) cover any group size.
fn chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let n = 1usize << (usize::BITS - 1 - rest.len().min(256).leading_zeros());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

pub(crate) fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * columns * 5);
    sql.push_str(head);
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { " (" } else { ", (" });
        for c in 0..columns {
            n += 1;
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        sql.push(')');
    }
    sql
}

macro_rules! backend {
    ($module:ident, $db:ty, begin = $begin:expr, lock_state = $lock_state:expr, multi = $multi:expr, claim = $claim:expr) => {
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

            /// The record of each of `ids` that a change is known by (as its own id or an
            /// alias); ids no change is known by are absent.
            pub async fn change_records_of(pool: &Pool, ids: &[&str]) -> Result<std::collections::HashMap<String, String>, StoreError> {
                let mut records = std::collections::HashMap::new();
                for chunk in ids.chunks(400) {
                    let mut sql = String::from("SELECT id, id FROM changes WHERE id IN (");
                    placeholders(&mut sql, 1, chunk.len());
                    sql.push_str(" UNION ALL SELECT alias, change_id FROM change_aliases WHERE alias IN (");
                    placeholders(&mut sql, 1 + chunk.len(), chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for id in chunk.iter().chain(chunk) {
                        q = q.bind(*id);
                    }
                    for row in q.fetch_all(pool).await.map_err(db("reading changes"))? {
                        let pair = (|| Ok::<_, sqlx::Error>((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?)))();
                        let (id, record) = pair.map_err(db("reading changes"))?;
                        records.insert(id, record);
                    }
                }
                Ok(records)
            }

            /// Every link from an id to its change's record, as one text (`id=record`,
            /// sorted, comma-separated), read in one row.
            pub async fn change_links_text(pool: &Pool) -> Result<String, StoreError> {
                let row = sqlx::query(
                    "SELECT string_agg(link, ',' ORDER BY link) FROM \
                     (SELECT id || '=' || id AS link FROM changes UNION ALL SELECT alias || '=' || change_id AS link FROM change_aliases) AS links",
                )
                .fetch_one(pool)
                .await
                .map_err(db("reading changes"))?;
                Ok(row.try_get::<Option<String>, _>(0).map_err(db("reading changes"))?.unwrap_or_default())
            }

            /// Every id a change is known by (its own and its aliases), mapped to the id of
            /// its one record.
            pub async fn change_ids(pool: &Pool) -> Result<std::collections::HashMap<String, String>, StoreError> {
                let rows = sqlx::query(crate::db::CHANGE_IDS)
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading changes"))?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0).map_err(db("reading changes"))?, r.try_get::<String, _>(1).map_err(db("reading changes"))?)))
                    .collect()
            }

            /// The record a change already has, if any: by its id or an alias, else by its
            /// repository and PR number, else by its head commit being a commit of another
            /// change (a merge brings in the head the pull request was checked at).
            async fn existing_record(tx: &mut sqlx::Transaction<'_, $db>, c: &crate::ChangeRef) -> Result<Option<String>, StoreError> {
                let by_id = sqlx::query("SELECT id FROM changes WHERE id = $1 UNION SELECT change_id FROM change_aliases WHERE alias = $1")
                    .bind(&c.id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db("looking up a change"))?;
                if let Some(row) = by_id {
                    return Ok(Some(row.try_get(0).map_err(db("looking up a change"))?));
                }
                if let (Some(pr), Some(repository)) = (c.pr_number, &c.repository) {
                    let by_pr = sqlx::query("SELECT id FROM changes WHERE pr_number = $1 AND repository = $2 ORDER BY registered_at, id")
                        .bind(pr as i64)
                        .bind(repository)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db("looking up a change by PR number"))?;
                    if let Some(row) = by_pr {
                        return Ok(Some(row.try_get(0).map_err(db("looking up a change by PR number"))?));
                    }
                }
                if let Some(head) = &c.head_commit {
                    let by_head = sqlx::query(
                        "SELECT cc.change_id FROM change_commits cc JOIN changes ch ON ch.id = cc.change_id \
                         WHERE cc.commit_id = $1 AND (ch.repository = $2 OR ch.repository IS NULL OR $2 IS NULL) ORDER BY cc.change_id",
                    )
                    .bind(head)
                    .bind(&c.repository)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db("looking up a change by commit"))?;
                    if let Some(row) = by_head {
                        return Ok(Some(row.try_get(0).map_err(db("looking up a change by commit"))?));
                    }
                }
                Ok(None)
            }

            /// Whether registering `c` would change nothing: its own record exists with every
            /// reference it names (see `upsert_changes`) and every one of its commits.
            pub async fn registered_as_is(pool: &Pool, c: &crate::ChangeRef) -> Result<bool, StoreError> {
                let Some(row) = sqlx::query("SELECT repository, pr_number, head_commit, merge_commit FROM changes WHERE id = $1")
                    .bind(&c.id).fetch_optional(pool).await.map_err(db("looking up a change"))? else {
                    return Ok(false);
                };
                let (repository, pr_number, head, merge) = (|| {
                    Ok::<_, sqlx::Error>((row.try_get::<Option<String>, _>(0)?, row.try_get::<Option<i64>, _>(1)?, row.try_get::<Option<String>, _>(2)?, row.try_get::<Option<String>, _>(3)?))
                })()
                .map_err(db("looking up a change"))?;
                let same = (repository.is_some() || c.repository.is_none())
                    && (pr_number.is_some() || c.pr_number.is_none())
                    && (head.is_some() || c.head_commit.is_none())
                    && (c.merge_commit.is_none() || merge == c.merge_commit);
                if !same {
                    return Ok(false);
                }
                let mut commits: Vec<&String> = c.commits.iter().chain(c.head_commit.iter()).chain(c.merge_commit.iter()).collect();
                commits.sort();
                commits.dedup();
                for chunk in commits.chunks(500) {
                    let mut sql = String::from("SELECT COUNT(*) FROM change_commits WHERE change_id = $1 AND commit_id IN (");
                    placeholders(&mut sql, 2, chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&c.id);
                    for commit in chunk {
                        q = q.bind(*commit);
                    }
                    let found: i64 = q.fetch_one(pool).await.map_err(db("looking up a change's commits"))?.try_get(0).map_err(db("looking up a change's commits"))?;
                    if found as usize != chunk.len() {
                        return Ok(false);
                    }
                }
                Ok(true)
            }

            /// Register changes. A change already known under another id (see
            /// `existing_record`) is merged into that record: its id becomes an alias and its
            /// references (PR number, merge commit, commits) are added.
            pub async fn upsert_changes(pool: &Pool, changes: &[crate::ChangeRef], now: &str) -> Result<(), StoreError> {
                // Reads, then writes: on SQLite the write lock is taken first (IMMEDIATE), or a
                // concurrent commit between the read and the write fails it as "locked".
                let mut tx = pool.begin_with($begin).await.map_err(db("registering changes"))?;
                for c in changes {
                    let record = existing_record(&mut tx, c).await?.unwrap_or_else(|| c.id.clone());
                    if record != c.id {
                        sqlx::query("INSERT INTO change_aliases (alias, change_id) VALUES ($1, $2) ON CONFLICT (alias) DO NOTHING")
                            .bind(&c.id)
                            .bind(&record)
                            .execute(&mut *tx)
                            .await
                            .map_err(db("registering a change's alias"))?;
                    }
                    sqlx::query(
                        "INSERT INTO changes (id, repository, pr_number, head_commit, merge_commit, registered_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (id) DO UPDATE SET \
                           repository = COALESCE(changes.repository, excluded.repository), \
                           pr_number = COALESCE(changes.pr_number, excluded.pr_number), \
                           head_commit = COALESCE(changes.head_commit, excluded.head_commit), \
                           merge_commit = COALESCE(excluded.merge_commit, changes.merge_commit)",
                    )
                    .bind(&record)
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
                            .bind(&record)
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
                    repository: r.try_get(3).map_err(db("reading a change"))?,
                    pr_number: r.try_get::<Option<i64>, _>(4).map_err(db("reading a change"))?.map(|n| n as u64),
                })
            }

            /// Changes named by `reference`: an exact id or alias; `pr#N` (any repository)
            /// or `owner/repo#N`; else changes containing that commit (a full id or a prefix
            /// of at least 7 characters).
            pub async fn find_changes(pool: &Pool, reference: &str) -> Result<Vec<ChangeRow>, StoreError> {
                Ok(find_changes_tiered(pool, reference).await?.0)
            }

            /// [`find_changes`], and whether they matched by id or alias (the first tier).
            pub async fn find_changes_tiered(pool: &Pool, reference: &str) -> Result<(Vec<ChangeRow>, bool), StoreError> {
                let rows = sqlx::query(concat!(change_columns!(), " WHERE id = $1 OR id IN (SELECT change_id FROM change_aliases WHERE alias = $1)"))
                    .bind(reference)
                    .fetch_all(pool)
                    .await
                    .map_err(db("looking up a change"))?;
                if !rows.is_empty() {
                    return Ok((rows.iter().map(change_row).collect::<Result<_, _>>()?, true));
                }
                let rows = find_changes_after_ids(pool, reference).await?;
                Ok((rows, false))
            }

            /// The second and third tiers of [`find_changes`]: by PR, else by commit.
            async fn find_changes_after_ids(pool: &Pool, reference: &str) -> Result<Vec<ChangeRow>, StoreError> {
                if let Some((repository, number)) = crate::parse_pr_reference(reference) {
                    let rows = match repository {
                        Some(repository) => sqlx::query(concat!(change_columns!(), " WHERE pr_number = $1 AND repository = $2 ORDER BY id"))
                            .bind(number as i64)
                            .bind(repository)
                            .fetch_all(pool)
                            .await,
                        None => sqlx::query(concat!(change_columns!(), " WHERE pr_number = $1 ORDER BY id")).bind(number as i64).fetch_all(pool).await,
                    }
                    .map_err(db("looking up a change by PR number"))?;
                    return rows.iter().map(change_row).collect();
                }
                if reference.len() < 7 || !reference.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Ok(Vec::new());
                }
                let pattern = format!("{}%", reference.to_ascii_lowercase());
                let rows = sqlx::query(
                    "SELECT DISTINCT c.id, c.head_commit, c.merge_commit, c.repository, c.pr_number FROM changes c JOIN change_commits cc ON cc.change_id = c.id \
                     WHERE cc.commit_id LIKE $1 ORDER BY c.id",
                )
                .bind(pattern)
                .fetch_all(pool)
                .await
                .map_err(db("looking up a change by commit"))?;
                rows.iter().map(change_row).collect()
            }

            pub async fn find_idempotent(pool: &Pool, key: &str) -> Result<Option<u64>, StoreError> {
                let row = sqlx::query(IDEMPOTENT_LOOKUP).bind(key).fetch_optional(pool).await.map_err(db("checking the idempotency key"))?;
                Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose().map_err(db("checking the idempotency key"))?.map(|i| i as u64))
            }

            /// Append entries in one transaction, with one signed checkpoint at the end, on a
            /// fresh connection from the pool (imports; the group committer keeps an
            /// [`Appender`]).
            pub async fn append_batch(pool: &Pool, signer: &LogSigner, anchors: &[Checkpoint], entries: &[&PreparedEntry], now: &str) -> Result<Vec<AppendOutcome>, StoreError> {
                Appender::with_anchors(anchors.to_vec()).append(pool, signer, entries, now).await
            }

            /// Appends on one held connection, remembering the log state it last wrote.
            ///
            /// A transaction first takes the write lock (SQLite `BEGIN IMMEDIATE`), then
            /// updates `log_state` *conditionally* on the remembered size and frontier: if no
            /// other writer (process or replica) appended meanwhile, that one statement both
            /// locks and checks the state, and the new checkpoint was already signed while
            /// it ran. If someone else appended, the row is read under the lock and the
            /// append is recomputed. Entries and tree nodes go in multi-row INSERTs.
            ///
            /// Whenever it reads the state from the database rather than from its own last
            /// write (its first append, or after another writer appended), it first proves
            /// that the stored state extends the latest signed checkpoint in the store and
            /// every published checkpoint it was given (`anchors`): see [`check_state`].
            #[derive(Default)]
            pub struct Appender {
                conn: Option<sqlx::pool::PoolConnection<$db>>,
                state: Option<Frontier>,
                pub anchors: Vec<Checkpoint>,
                /// SQLite, for the group committer's thread: the connection of its own the
                /// fast path runs on (`sqlite_append`). Never on an async task's thread: its
                /// calls block.
                raw: Option<crate::sqlite_append::RawAppender>,
            }

            /// Refuse to sign over a tree someone rewrote without the key: the stored state
            /// (`base`) must extend the latest signed checkpoint in the store and every
            /// anchor, by a consistency proof built from the stored tree nodes. A non-empty
            /// log with no checkpoint, or a checkpoint larger than the log, is refused too.
            async fn check_state(conn: &mut <$db as sqlx::Database>::Connection, base: &Frontier, signer: &LogSigner, anchors: &[Checkpoint]) -> Result<(), StoreError> {
                let verifier = signer.verifier();
                let latest = sqlx::query("SELECT note FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db("reading the latest checkpoint"))?;
                let mut against: Vec<(&str, Checkpoint)> = anchors.iter().map(|c| ("a published checkpoint", c.clone())).collect();
                match latest {
                    Some(row) => {
                        let note: String = row.try_get(0).map_err(db("reading the latest checkpoint"))?;
                        let cp = Checkpoint::open(&note, &verifier)
                            .map_err(|e| StoreError::Tampered(format!("the latest checkpoint in the store does not verify with the log key: {e}")))?;
                        against.push(("the latest signed checkpoint in the store", cp));
                    }
                    None if base.size() > 0 => {
                        return Err(StoreError::Tampered(format!("the log holds {} entries but no signed checkpoint: the checkpoints were deleted", base.size())));
                    }
                    None => {}
                }
                for (what, cp) in against {
                    let ids = if cp.size > 0 && cp.size < base.size() { countersign_log::merkle::consistency_proof_nodes(cp.size, base.size()) } else { Vec::new() };
                    let nodes = match nodes_on(&mut *conn, &ids).await {
                        Ok(nodes) => nodes,
                        Err(StoreError::Corrupt(problem)) => return Err(StoreError::Tampered(problem)),
                        Err(e) => return Err(e),
                    };
                    countersign_log::audit::check_extends(base, &cp, |n| nodes.get(&n).copied())
                        .map_err(|problem| StoreError::Tampered(format!("{problem} (checked against {what}, size {})", cp.size)))?;
                }
                Ok(())
            }

            async fn existing_keys(conn: &mut <$db as sqlx::Database>::Connection, keys: &[&str]) -> Result<std::collections::HashMap<String, u64>, StoreError> {
                let mut found = std::collections::HashMap::new();
                for chunk in keys.chunks(500) {
                    let mut sql = String::from("SELECT idempotency_key, idx FROM log_entries WHERE idempotency_key IN (");
                    placeholders(&mut sql, 1, chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for key in chunk {
                        q = q.bind(*key);
                    }
                    for row in q.fetch_all(&mut *conn).await.map_err(db("checking the idempotency key"))? {
                        let key: String = row.try_get(0).map_err(db("checking the idempotency key"))?;
                        let index: i64 = row.try_get(1).map_err(db("checking the idempotency key"))?;
                        found.insert(key, index as u64);
                    }
                }
                Ok(found)
            }

            impl Appender {
                /// An appender that proves the store extends these published checkpoints.
                pub fn with_anchors(anchors: Vec<Checkpoint>) -> Self {
                    Self { anchors, ..Self::default() }
                }

                /// Run the fast path on `raw` from now on (a blocking connection: only for an
                /// appender that lives on a thread of its own). SQLite's appender only.
                #[allow(dead_code)]
                pub fn set_raw(&mut self, raw: crate::sqlite_append::RawAppender) {
                    self.raw = Some(raw);
                }

                /// Whether the fast path has its connection.
                #[allow(dead_code)]
                pub fn has_raw(&self) -> bool {
                    self.raw.is_some()
                }

                /// Appends `entries`. On SQLite a large group goes in transactions of at most
                /// [`FAST_GROUP`] entries, each after the first appended on the state the one
                /// before wrote (not read and proved again), rather than in one long
                /// transaction: the entries of a group are independent, so each may commit on
                /// its own.
                pub async fn append(&mut self, pool: &Pool, signer: &LogSigner, entries: &[&PreparedEntry], now: &str) -> Result<Vec<AppendOutcome>, StoreError> {
                    if !$multi || entries.len() <= FAST_GROUP {
                        return self.append_group(pool, signer, entries, now).await;
                    }
                    let mut outcomes = Vec::with_capacity(entries.len());
                    for chunk in entries.chunks(FAST_GROUP) {
                        outcomes.extend(self.append_group(pool, signer, chunk, now).await?);
                    }
                    Ok(outcomes)
                }

                async fn append_group(&mut self, pool: &Pool, signer: &LogSigner, entries: &[&PreparedEntry], now: &str) -> Result<Vec<AppendOutcome>, StoreError> {
                    let mut conn = match self.conn.take() {
                        Some(c) => c,
                        None => {
                            let mut conn = pool.acquire().await.map_err(db("connecting for an append"))?;
                            if $multi {
                                // SQLite: see WAL_AUTOCHECKPOINT_PAGES.
                                sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")))
                                    .execute(&mut *conn)
                                    .await
                                    .map_err(db("configuring the appender"))?;
                            }
                            conn
                        }
                    };
                    let cached = self.state.take();
                    // SQLite: the fast path on the appender's own connection (`sqlite_append`),
                    // when this appender has one and knows the state it last wrote.
                    let mut tried_raw = false;
                    if let (Some(raw), Some(base)) = (self.raw.as_mut(), &cached) {
                        tried_raw = true;
                        match raw.append(base, signer, entries, now) {
                            Ok(Some((outcomes, state))) => {
                                self.conn = Some(conn);
                                self.state = Some(state);
                                return Ok(outcomes);
                            }
                            Ok(None) => {}
                            // Rolled back: the state stays good.
                            Err(e) => {
                                self.conn = Some(conn);
                                self.state = Some(base.clone());
                                return Err(e);
                            }
                        }
                    }
                    // After the fast path found the state moved, read it under the lock.
                    let cached = if tried_raw { None } else { cached };
                    let result = Self::append_on(&mut conn, cached, signer, &self.anchors, entries, now).await;
                    match result {
                        Ok((outcomes, state)) => {
                            self.conn = Some(conn);
                            self.state = state;
                            Ok(outcomes)
                        }
                        // Give the connection back; the next append starts afresh.
                        Err(e) => Err(e),
                    }
                }

                async fn append_on(
                    conn: &mut <$db as sqlx::Database>::Connection,
                    cached: Option<Frontier>,
                    signer: &LogSigner,
                    anchors: &[Checkpoint],
                    entries: &[&PreparedEntry],
                    now: &str,
                ) -> Result<(Vec<AppendOutcome>, Option<Frontier>), StoreError> {
                    let mut tx = sqlx::Connection::begin_with(&mut *conn, $begin).await.map_err(db("starting an append"))?;
                    // Cached change resolutions, checked inside the transaction (SQLite's
                    // BEGIN IMMEDIATE holds the write lock; PostgreSQL appends carry none).
                    for c in entries.iter().filter_map(|e| e.change_check.as_ref()) {
                        let stale = sqlx::query(sqlx::AssertSqlSafe(stale_change_sql(1)))
                            .bind(&c.reference)
                            .bind(&c.id)
                            .bind(&c.head)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db("checking a change"))?;
                        if stale.is_some() {
                            return Err(StoreError::StaleChange);
                        }
                    }
                    let keys: Vec<&str> = entries.iter().filter_map(|e| e.idempotency_key.as_deref()).collect();
                    let mut existing = if keys.is_empty() { Default::default() } else { existing_keys(&mut *tx, &keys).await? };
                    let mut optimistic = cached;
                    let (plan, note) = loop {
                        let (base, locked) = match optimistic.take() {
                            Some(f) => (f, false),
                            None => {
                                let state = sqlx::query($lock_state).fetch_one(&mut *tx).await.map_err(db("locking the log"))?;
                                let size: i64 = state.try_get(0).map_err(db("reading the log state"))?;
                                let frontier_bytes: Vec<u8> = state.try_get(1).map_err(db("reading the log state"))?;
                                let base = Frontier::from_parts(size as u64, &frontier_bytes)
                                    .map_err(|e| StoreError::Tampered(format!("the stored log state is malformed: {e}")))?;
                                check_state(&mut *tx, &base, signer, anchors).await?;
                                // Keys looked up before the lock may have been taken since
                                // (PostgreSQL's BEGIN does not lock; another replica may
                                // have committed the same key while we waited).
                                if !keys.is_empty() {
                                    existing = existing_keys(&mut *tx, &keys).await?;
                                }
                                (base, true)
                            }
                        };
                        let plan = plan(base.clone(), entries, &existing);
                        if plan.rows.is_empty() {
                            tx.commit().await.map_err(db("committing an append"))?;
                            return Ok((plan.outcomes, Some(base)));
                        }
                        let checkpoint = Checkpoint { origin: signer.name().to_owned(), size: plan.frontier.size(), root: plan.frontier.root() };
                        // Sign the checkpoint while the database runs the state update.
                        let update = sqlx::query(STATE_UPDATE)
                            .bind(plan.frontier.size() as i64)
                            .bind(plan.frontier.to_bytes())
                            .bind(base.size() as i64)
                            .bind(base.to_bytes())
                            .execute(&mut *tx);
                        let (updated, note) = tokio::join!(update, async { checkpoint.sign(signer) });
                        let updated = updated.map_err(db("updating the log state"))?.rows_affected();
                        if updated == 1 {
                            break (plan, note.map_err(StoreError::Note)?);
                        }
                        if locked {
                            return Err(StoreError::Corrupt("the log state changed while locked".into()));
                        }
                        // Another writer appended since our last append: read the state under
                        // the lock and look the idempotency keys up again.
                        if !keys.is_empty() {
                            existing = existing_keys(&mut *tx, &keys).await?;
                        }
                    };
                    for chunk in chunks(&plan.rows) {
                        let sql = values_sql(ENTRY_INSERT, 8, chunk.len());
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for (index, entry) in chunk {
                            q = bind_entry!(q, index, entry);
                        }
                        q.execute(&mut *tx).await.map_err(db("appending an entry"))?;
                    }
                    for chunk in chunks(&plan.nodes) {
                        let sql = values_sql(NODE_INSERT, 3, chunk.len());
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for (node, hash) in chunk {
                            q = q.bind(node.level as i32).bind(node.index as i64).bind(hash.to_vec());
                        }
                        q.execute(&mut *tx).await.map_err(db("storing a tree node"))?;
                    }
                    for (index, entry) in &plan.rows {
                        if let Some((version, sha256, text)) = &entry.policy {
                            sqlx::query("INSERT INTO policy_versions (version, sha256, text, entry_idx, published_at) VALUES ($1, $2, $3, $4, $5)")
                                .bind(version)
                                .bind(sha256)
                                .bind(text)
                                .bind(*index as i64)
                                .bind(&entry.recorded_at)
                                .execute(&mut *tx)
                                .await
                                .map_err(db("storing a policy version"))?;
                        }
                    }
                    for (index, entry) in &plan.rows {
                        if let Some(d) = &entry.delivery {
                            let q = sqlx::query(sqlx::AssertSqlSafe(format!("{DELIVERY_INSERT} ($1, $2, $3, $4, $5, $6, $7, $8)")));
                            bind_delivery!(q, index, d)
                                .execute(&mut *tx)
                                .await
                                .map_err(db("storing a webhook delivery"))?;
                            let (key, kind, payload, run_after) = &d.job;
                            enqueue_on(&mut *tx, key, kind, payload, *run_after, *run_after).await?;
                        }
                    }
                    sqlx::query(CHECKPOINT_INSERT)
                        .bind(plan.frontier.size() as i64)
                        .bind(plan.frontier.root().to_vec())
                        .bind(note)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("storing a checkpoint"))?;
                    tx.commit().await.map_err(db("committing an append"))?;
                    Ok((plan.outcomes, Some(plan.frontier)))
                }
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

            pub async fn entry(pool: &Pool, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
                let row = sqlx::query("SELECT envelope FROM log_entries WHERE idx = $1").bind(index as i64).fetch_optional(pool).await.map_err(db("reading an entry"))?;
                row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose().map_err(db("reading an entry"))
            }

            /// These entries' bytes and index columns, by index, in index order (at most 500
            /// indices a query). An index the table does not hold is absent from the answer.
            pub async fn entries_at(pool: &Pool, indices: &[u64]) -> Result<Vec<(u64, Vec<u8>, IndexColumns)>, StoreError> {
                let mut out = Vec::with_capacity(indices.len());
                for chunk in indices.chunks(500) {
                    let mut sql = String::from("SELECT idx, envelope, kind, change_id, recorded_at, recorded_by FROM log_entries WHERE idx IN (");
                    placeholders(&mut sql, 1, chunk.len());
                    sql.push_str(" ORDER BY idx");
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for index in chunk {
                        q = q.bind((*index).min(i64::MAX as u64) as i64);
                    }
                    for r in q.fetch_all(pool).await.map_err(db("reading entries"))? {
                        let row = (|| {
                            let columns = IndexColumns { kind: r.try_get(2)?, change_id: r.try_get(3)?, recorded_at: r.try_get(4)?, recorded_by: r.try_get(5)? };
                            Ok::<_, sqlx::Error>((r.try_get::<i64, _>(0)? as u64, r.try_get(1)?, columns))
                        })();
                        out.push(row.map_err(db("reading entries"))?);
                    }
                }
                Ok(out)
            }

            /// The hashes of these complete subtrees, in one query (one round trip): level 0
            /// from `log_entries.leaf_hash`, the others from `tree_nodes`.
            pub async fn nodes(pool: &Pool, ids: &[NodeId]) -> Result<std::collections::HashMap<NodeId, Hash>, StoreError> {
                let mut conn = pool.acquire().await.map_err(db("reading tree nodes"))?;
                nodes_on(&mut conn, ids).await
            }

            /// [`nodes`] on a connection (inside an append transaction).
            async fn nodes_on(conn: &mut <$db as sqlx::Database>::Connection, ids: &[NodeId]) -> Result<std::collections::HashMap<NodeId, Hash>, StoreError> {
                let mut wanted = ids.to_vec();
                wanted.sort_unstable();
                wanted.dedup();
                let mut map = std::collections::HashMap::with_capacity(wanted.len());
                for chunk in wanted.chunks(200) {
                    let mut sql = String::new();
                    let mut n = 0;
                    for (i, id) in chunk.iter().enumerate() {
                        if i > 0 {
                            sql.push_str(" UNION ALL ");
                        }
                        if id.level == 0 {
                            n += 1;
                            sql.push_str(&format!("SELECT 0 AS level, idx, leaf_hash AS hash FROM log_entries WHERE idx = ${n}"));
                        } else {
                            sql.push_str(&format!("SELECT level, idx, hash FROM tree_nodes WHERE level = ${} AND idx = ${}", n + 1, n + 2));
                            n += 2;
                        }
                    }
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        if id.level != 0 {
                            q = q.bind(id.level as i32);
                        }
                        q = q.bind(id.index as i64);
                    }
                    for row in q.fetch_all(&mut *conn).await.map_err(db("reading tree nodes"))? {
                        let level: i32 = row.try_get(0).map_err(db("reading a tree node"))?;
                        let index: i64 = row.try_get(1).map_err(db("reading a tree node"))?;
                        let hash = to_hash(row.try_get::<Vec<u8>, _>(2).map_err(db("reading a tree node"))?, "tree node")?;
                        map.insert(NodeId { level: level as u8, index: index as u64 }, hash);
                    }
                }
                if let Some(missing) = wanted.iter().find(|id| !map.contains_key(id)) {
                    return Err(StoreError::Corrupt(format!("tree node level {} index {} is missing", missing.level, missing.index)));
                }
                Ok(map)
            }

            /// Signed checkpoints with `after < size <= upto`, by size, at most `limit`.
            pub async fn checkpoints_page(pool: &Pool, after: u64, upto: u64, limit: u64) -> Result<Vec<(u64, String)>, StoreError> {
                let rows = sqlx::query("SELECT tree_size, note FROM checkpoints WHERE tree_size > $1 AND tree_size <= $2 ORDER BY tree_size LIMIT $3")
                    .bind(after as i64)
                    .bind(upto as i64)
                    .bind(limit as i64)
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading checkpoints"))?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<i64, _>(0).map_err(db("reading checkpoints"))? as u64, r.try_get::<String, _>(1).map_err(db("reading checkpoints"))?)))
                    .collect()
            }

            /// Stream every entry in index order, in chunks of `chunk` rows, into `out`
            /// (one query, read as a cursor; stops when the receiver goes away).
            #[allow(dead_code)] // SQLite scans with crate::sqlite_scan instead
            pub async fn stream_entries(pool: Pool, from: u64, to: u64, chunk: usize, out: tokio::sync::mpsc::Sender<Result<EntryChunk, StoreError>>) {
                use futures_util::TryStreamExt as _;
                let mut rows = sqlx::query("SELECT idx, leaf_hash, envelope, kind, change_id, recorded_at, recorded_by FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
                    .bind(from.min(i64::MAX as u64) as i64)
                    .bind(to.min(i64::MAX as u64) as i64)
                    .fetch(&pool);
                let mut current = EntryChunk::with_capacity(chunk);
                loop {
                    match rows.try_next().await {
                        Ok(Some(r)) => {
                            let decoded = (|| {
                                let columns = ColumnsRef { kind: r.try_get(3)?, change_id: r.try_get(4)?, recorded_at: r.try_get(5)?, recorded_by: r.try_get(6)? };
                                Ok::<_, sqlx::Error>((r.try_get::<i64, _>(0)? as u64, r.try_get::<&[u8], _>(1)?.try_into().ok(), r.try_get::<&[u8], _>(2)?, columns))
                            })();
                            match decoded {
                                Ok((index, hash, bytes, columns)) => current.push(index, hash, bytes, columns),
                                Err(e) => {
                                    let _ = out.send(Err(db("reading entries")(e))).await;
                                    return;
                                }
                            }
                            if current.len() == chunk {
                                let full = std::mem::replace(&mut current, EntryChunk::with_capacity(chunk));
                                if out.send(Ok(full)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Ok(None) => {
                            if current.len() > 0 {
                                let _ = out.send(Ok(current)).await;
                            }
                            return;
                        }
                        Err(e) => {
                            let _ = out.send(Err(db("reading entries")(e))).await;
                            return;
                        }
                    }
                }
            }

            /// Stream every stored tree node in the order a growing tree completes them (by the
            /// leaf that completes the node, then by level), in chunks, into `out`.
            /// Stored tree nodes in the order a growing tree completes them (by the leaf count
            /// at which each completes, `(idx + 1) << level`, then level), after `after` in that
            /// order (`(0, -1)` for all). One statement, so one snapshot of the table.
            #[allow(dead_code)] // SQLite scans with crate::sqlite_scan instead
            pub async fn stream_nodes(pool: Pool, after: (i64, i32), chunk: usize, out: tokio::sync::mpsc::Sender<Result<NodeChunk, StoreError>>) {
                use futures_util::TryStreamExt as _;
                let mut rows = sqlx::query("SELECT level, idx, hash FROM tree_nodes \
                                            WHERE ((idx + 1) << level) > $1 OR (((idx + 1) << level) = $1 AND level > $2) \
                                            ORDER BY ((idx + 1) << level), level")
                    .bind(after.0)
                    .bind(after.1)
                    .fetch(&pool);
                let mut current = Vec::with_capacity(chunk);
                loop {
                    match rows.try_next().await {
                        Ok(Some(r)) => {
                            let decoded = (|| Ok::<_, sqlx::Error>((r.try_get::<i32, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<&[u8], _>(2)?.try_into().ok())))();
                            match decoded {
                                Ok((level, index, hash)) => current.push((NodeId { level: level.clamp(0, 255) as u8, index: index as u64 }, hash)),
                                Err(e) => {
                                    let _ = out.send(Err(db("reading tree nodes")(e))).await;
                                    return;
                                }
                            }
                            if current.len() == chunk {
                                let full = std::mem::replace(&mut current, Vec::with_capacity(chunk));
                                if out.send(Ok(full)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Ok(None) => {
                            if !current.is_empty() {
                                let _ = out.send(Ok(current)).await;
                            }
                            return;
                        }
                        Err(e) => {
                            let _ = out.send(Err(db("reading tree nodes")(e))).await;
                            return;
                        }
                    }
                }
            }

            /// How many entries have an index at or above `from`.
            pub async fn count_from(pool: &Pool, from: u64) -> Result<u64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) FROM log_entries WHERE idx >= $1").bind(from.min(i64::MAX as u64) as i64).fetch_one(pool).await.map_err(db("counting entries"))?;
                Ok(row.try_get::<i64, _>(0).map_err(db("counting entries"))? as u64)
            }

            /// The stored log state: tree size and frontier bytes.
            pub async fn log_state(pool: &Pool) -> Result<(u64, Vec<u8>), StoreError> {
                let row = sqlx::query("SELECT tree_size, frontier FROM log_state WHERE id = 1").fetch_one(pool).await.map_err(db("reading the log state"))?;
                Ok((row.try_get::<i64, _>(0).map_err(db("reading the log state"))? as u64, row.try_get(1).map_err(db("reading the log state"))?))
            }

            /// A published policy version's stored text.
            pub async fn policy_text(pool: &Pool, version: &str) -> Result<Option<String>, StoreError> {
                let row = sqlx::query("SELECT text FROM policy_versions WHERE version = $1").bind(version).fetch_optional(pool).await.map_err(db("reading a policy version"))?;
                row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(db("reading a policy version"))
            }

            /// Enqueue a job, or coalesce into the row already there: its payload is
            /// replaced and its generation bumped; a waiting job keeps its time (so a burst
            /// runs once, at the first event's time plus the delay), a running one runs
            /// again after `run_after`.
            async fn enqueue_on(conn: &mut <$db as sqlx::Database>::Connection, key: &str, kind: &str, payload: &str, run_after: i64, now: i64) -> Result<(), StoreError> {
                sqlx::query(sqlx::AssertSqlSafe(format!("{JOB_INSERT} ($1, $2, $3, $4, $5, 0, 0){JOB_UPSERT}")))
                    .bind(key)
                    .bind(kind)
                    .bind(payload)
                    .bind(run_after)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(db("enqueuing a job"))?;
                Ok(())
            }

            pub async fn enqueue_job(pool: &Pool, key: &str, kind: &str, payload: &str, run_after: i64, now: i64) -> Result<(), StoreError> {
                let mut conn = pool.acquire().await.map_err(db("enqueuing a job"))?;
                enqueue_on(&mut conn, key, kind, payload, run_after, now).await
            }

            /// Claim up to `limit` due jobs for `worker` until `lease_until`. On PostgreSQL
            /// the rows are locked with SKIP LOCKED, so replicas never claim the same job;
            /// SQLite serializes writers.
            /// Claim due jobs; `kind` "" for any kind, else only that kind (`only`) or all but it.
            pub async fn claim_jobs(pool: &Pool, worker: &str, now: i64, lease_until: i64, limit: i64, kind: &str, only: bool) -> Result<Vec<JobRow>, StoreError> {
                let rows = sqlx::query($claim)
                    .bind(worker)
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit)
                    .bind(kind)
                    .bind(only)
                    .fetch_all(pool)
                    .await
                    .map_err(db("claiming jobs"))?;
                rows.iter()
                    .map(|r| Ok(JobRow { key: r.try_get(0)?, kind: r.try_get(1)?, payload: r.try_get(2)?, generation: r.try_get(3)?, attempts: r.try_get(4)? }))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(db("claiming jobs"))
            }

            /// When the next job of these kinds that no one holds falls due (Unix ms).
            pub async fn next_due(pool: &Pool, now: i64, kind: &str, only: bool) -> Result<Option<i64>, StoreError> {
                let row = sqlx::query("SELECT MIN(run_after) FROM jobs WHERE (claimed_until IS NULL OR claimed_until < $1) AND ($2 = '' OR (kind = $2) = $3)")
                    .bind(now).bind(kind).bind(only)
                    .fetch_one(pool).await.map_err(db("reading the job queue"))?;
                row.try_get(0).map_err(db("reading the job queue"))
            }

            /// A job ran: delete it, unless it was enqueued again meanwhile (then release it
            /// to run again). Returns whether it was deleted.
            pub async fn finish_job(pool: &Pool, key: &str, worker: &str, generation: i64) -> Result<bool, StoreError> {
                let mut conn = pool.acquire().await.map_err(db("finishing a job"))?;
                finish_job_on(&mut conn, key, worker, generation).await
            }

            async fn finish_job_on(conn: &mut <$db as sqlx::Database>::Connection, key: &str, worker: &str, generation: i64) -> Result<bool, StoreError> {
                let deleted = sqlx::query("DELETE FROM jobs WHERE job_key = $1 AND generation = $2 AND claimed_by = $3")
                    .bind(key).bind(generation).bind(worker)
                    .execute(&mut *conn).await.map_err(db("finishing a job"))?.rows_affected();
                if deleted == 0 {
                    sqlx::query("UPDATE jobs SET claimed_by = NULL, claimed_until = NULL, attempts = 0 WHERE job_key = $1 AND claimed_by = $2")
                        .bind(key).bind(worker)
                        .execute(&mut *conn).await.map_err(db("releasing a job"))?;
                }
                Ok(deleted == 1)
            }

            /// What processing a delivery leaves besides evidence, in one transaction: the
            /// pull request pointed at it, evaluations enqueued, its outcome, and its job
            /// finished. Returns whether the job was removed (see `finish_job`).
            pub async fn settle_delivery(pool: &Pool, s: &DeliverySettlement, at: &str, now: i64) -> Result<bool, StoreError> {
                let mut tx = pool.begin_with($begin).await.map_err(db("settling a delivery"))?;
                if let Some(pr) = &s.pull_request {
                    note_pull_request_on(&mut tx, &pr.change_id, &s.forge, &pr.repository, &s.delivery_id, pr.received_ms).await?;
                }
                for job in &s.enqueue {
                    enqueue_on(&mut tx, &job.key, &job.kind, &job.payload, job.run_after, now).await?;
                }
                set_delivery_outcome_on(&mut tx, &s.forge, &s.delivery_id, &s.outcome, at).await?;
                let finished = finish_job_on(&mut tx, &s.job_key, &s.worker, s.generation).await?;
                tx.commit().await.map_err(db("settling a delivery"))?;
                Ok(finished)
            }

            /// A job failed: release it to run again at `retry_at`, keeping the error.
            pub async fn retry_job(pool: &Pool, key: &str, worker: &str, error: &str, retry_at: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE jobs SET claimed_by = NULL, claimed_until = NULL, last_error = $1, run_after = $2 WHERE job_key = $3 AND claimed_by = $4")
                    .bind(error).bind(retry_at).bind(key).bind(worker)
                    .execute(pool).await.map_err(db("retrying a job"))?;
                Ok(())
            }

            /// Give back every job this worker holds (graceful shutdown).
            pub async fn release_jobs(pool: &Pool, worker: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1")
                    .bind(worker)
                    .execute(pool).await.map_err(db("releasing jobs"))?.rows_affected())
            }

            /// Jobs waiting, and the earliest time one of them was due (Unix ms).
            pub async fn job_stats(pool: &Pool) -> Result<(u64, Option<i64>), StoreError> {
                let row = sqlx::query("SELECT COUNT(*), MIN(run_after) FROM jobs").fetch_one(pool).await.map_err(db("reading the job queue"))?;
                Ok((row.try_get::<i64, _>(0).map_err(db("reading the job queue"))? as u64, row.try_get(1).map_err(db("reading the job queue"))?))
            }

            fn token_row(r: &<$db as sqlx::Database>::Row) -> Result<TokenRow, sqlx::Error> {
                Ok(TokenRow {
                    token_id: r.try_get(0)?,
                    role: r.try_get(1)?,
                    person: r.try_get(2)?,
                    note: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                    revoked_at: r.try_get(5)?,
                })
            }

            fn account_row(r: &<$db as sqlx::Database>::Row) -> Result<AccountRow, sqlx::Error> {
                Ok(AccountRow { person: r.try_get(0)?, role: r.try_get(1)?, created_at: r.try_get(2)?, disabled_at: r.try_get(3)? })
            }

            fn evaluation_row(r: &<$db as sqlx::Database>::Row) -> Result<EvaluationRow, sqlx::Error> {
                Ok(EvaluationRow {
                    change_id: r.try_get(0)?,
                    repository: r.try_get(1)?,
                    verdict: r.try_get(2)?,
                    category: r.try_get(3)?,
                    head_sha: r.try_get(4)?,
                    authors: r.try_get(5)?,
                    evaluated_at: r.try_get(6)?,
                    evaluation: r.try_get(7)?,
                })
            }

            fn delivery_row(r: &<$db as sqlx::Database>::Row, with_body: bool) -> Result<DeliveryRecord, sqlx::Error> {
                Ok(DeliveryRecord {
                    forge: r.try_get(0)?,
                    delivery_id: r.try_get(1)?,
                    event: r.try_get(2)?,
                    sha256: r.try_get(3)?,
                    received_at: r.try_get(4)?,
                    entry_index: r.try_get::<i64, _>(5)? as u64,
                    outcome: r.try_get(6)?,
                    processed_at: r.try_get(7)?,
                    headers: r.try_get(8)?,
                    body: if with_body { Some(r.try_get(9)?) } else { None },
                })
            }

            /// One stored delivery, with its body.
            pub async fn delivery(pool: &Pool, forge: &str, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
                let row = sqlx::query("SELECT forge, delivery_id, event, sha256, received_at, entry_idx, outcome, processed_at, headers, body FROM deliveries WHERE forge = $1 AND delivery_id = $2")
                    .bind(forge).bind(id)
                    .fetch_optional(pool).await.map_err(db("reading a delivery"))?;
                row.map(|r| delivery_row(&r, true)).transpose().map_err(db("reading a delivery"))
            }

            /// The newest deliveries, without bodies.
            pub async fn recent_deliveries(pool: &Pool, limit: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
                let rows = sqlx::query("SELECT forge, delivery_id, event, sha256, received_at, entry_idx, outcome, processed_at, headers FROM deliveries ORDER BY entry_idx DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(pool).await.map_err(db("reading deliveries"))?;
                rows.iter().map(|r| delivery_row(r, false)).collect::<Result<Vec<_>, _>>().map_err(db("reading deliveries"))
            }

            async fn set_delivery_outcome_on(conn: &mut <$db as sqlx::Database>::Connection, forge: &str, id: &str, outcome: &str, at: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE deliveries SET outcome = $1, processed_at = $2 WHERE forge = $3 AND delivery_id = $4")
                    .bind(outcome).bind(at).bind(forge).bind(id)
                    .execute(&mut *conn).await.map_err(db("recording a delivery's outcome"))?;
                Ok(())
            }

            /// Point a pull request at the delivery that described it, unless a newer one
            /// already does (deliveries can be processed out of order).
            async fn note_pull_request_on(conn: &mut <$db as sqlx::Database>::Connection, change_id: &str, forge: &str, repository: &str, delivery_id: &str, received_ms: i64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO pull_requests (change_id, forge, repository, delivery_id, received_ms) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (change_id) DO UPDATE SET forge = excluded.forge, repository = excluded.repository, \
                             delivery_id = excluded.delivery_id, received_ms = excluded.received_ms \
                             WHERE pull_requests.received_ms <= excluded.received_ms")
                    .bind(change_id).bind(forge).bind(repository).bind(delivery_id).bind(received_ms)
                    .execute(&mut *conn).await.map_err(db("noting a pull request"))?;
                Ok(())
            }

            /// The forge and delivery id that last described a pull request.
            pub async fn pull_request(pool: &Pool, change_id: &str) -> Result<Option<(String, String)>, StoreError> {
                let row = sqlx::query("SELECT forge, delivery_id FROM pull_requests WHERE change_id = $1")
                    .bind(change_id)
                    .fetch_optional(pool).await.map_err(db("reading a pull request"))?;
                row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose().map_err(db("reading a pull request"))
            }

            pub async fn posted_status(pool: &Pool, forge: &str, repository: &str, sha: &str, context: &str) -> Result<Option<PostedStatus>, StoreError> {
                let row = sqlx::query("SELECT forge, repository, sha, context, state, description, target_url, change_id, posted_at FROM posted_statuses \
                                       WHERE forge = $1 AND repository = $2 AND sha = $3 AND context = $4")
                    .bind(forge).bind(repository).bind(sha).bind(context)
                    .fetch_optional(pool).await.map_err(db("reading a posted status"))?;
                row.map(|r| Ok(PostedStatus {
                    forge: r.try_get(0)?, repository: r.try_get(1)?, sha: r.try_get(2)?, context: r.try_get(3)?,
                    state: r.try_get(4)?, description: r.try_get(5)?, target_url: r.try_get(6)?,
                    change_id: r.try_get(7)?, posted_at: r.try_get(8)?,
                })).transpose().map_err(db("reading a posted status"))
            }

            pub async fn set_posted_status(pool: &Pool, s: &PostedStatus) -> Result<(), StoreError> {
                let mut conn = pool.acquire().await.map_err(db("recording a posted status"))?;
                set_posted_status_on(&mut conn, s).await
            }

            async fn set_posted_status_on(conn: &mut <$db as sqlx::Database>::Connection, s: &PostedStatus) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO posted_statuses (forge, repository, sha, context, state, description, target_url, change_id, posted_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                             ON CONFLICT (forge, repository, sha, context) DO UPDATE SET state = excluded.state, \
                             description = excluded.description, target_url = excluded.target_url, \
                             change_id = excluded.change_id, posted_at = excluded.posted_at")
                    .bind(&s.forge).bind(&s.repository).bind(&s.sha).bind(&s.context).bind(&s.state)
                    .bind(&s.description).bind(&s.target_url).bind(&s.change_id).bind(&s.posted_at)
                    .execute(&mut *conn).await.map_err(db("recording a posted status"))?;
                Ok(())
            }

            /// Forget a posted status (someone else overwrote it: it must be posted again).
            pub async fn forget_posted_status(pool: &Pool, forge: &str, repository: &str, sha: &str, context: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM posted_statuses WHERE forge = $1 AND repository = $2 AND sha = $3 AND context = $4")
                    .bind(forge).bind(repository).bind(sha).bind(context)
                    .execute(pool).await.map_err(db("forgetting a posted status"))?;
                Ok(())
            }

            pub async fn insert_token(pool: &Pool, token_id: &str, sha256: &str, role: &str, person: &str, note: Option<&str>, at: &str) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO api_tokens (token_id, sha256, role, person, note, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(token_id).bind(sha256).bind(role).bind(person).bind(note).bind(at)
                    .execute(pool).await.map_err(db("storing a token"))?;
                Ok(())
            }

            /// A token's row and stored hash, by its public id.
            pub async fn token(pool: &Pool, token_id: &str) -> Result<Option<(TokenRow, String)>, StoreError> {
                let row = sqlx::query("SELECT token_id, role, person, note, created_at, revoked_at, sha256 FROM api_tokens WHERE token_id = $1")
                    .bind(token_id)
                    .fetch_optional(pool).await.map_err(db("reading a token"))?;
                row.map(|r| Ok((token_row(&r)?, r.try_get(6)?))).transpose().map_err(db("reading a token"))
            }

            pub async fn tokens(pool: &Pool) -> Result<Vec<TokenRow>, StoreError> {
                let rows = sqlx::query("SELECT token_id, role, person, note, created_at, revoked_at FROM api_tokens ORDER BY created_at, token_id")
                    .fetch_all(pool).await.map_err(db("reading tokens"))?;
                rows.iter().map(token_row).collect::<Result<Vec<_>, _>>().map_err(db("reading tokens"))
            }

            pub async fn revoke_token(pool: &Pool, token_id: &str, at: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL")
                    .bind(at).bind(token_id)
                    .execute(pool).await.map_err(db("revoking a token"))?.rows_affected();
                Ok(n > 0)
            }

            /// A new account; `false` when the person already has one.
            pub async fn insert_account(pool: &Pool, person: &str, role: &str, hash: &str, at: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("INSERT INTO accounts (person, role, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (person) DO NOTHING")
                    .bind(person).bind(role).bind(hash).bind(at)
                    .execute(pool).await.map_err(db("storing an account"))?.rows_affected();
                Ok(n > 0)
            }

            /// A new password (and the account enabled again); `false` when there is no such account.
            pub async fn set_account_password(pool: &Pool, person: &str, hash: &str) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await.map_err(db("changing a password"))?;
                let n = sqlx::query("UPDATE accounts SET password_hash = $1, disabled_at = NULL WHERE person = $2")
                    .bind(hash).bind(person)
                    .execute(&mut *tx).await.map_err(db("changing a password"))?.rows_affected();
                // A new password ends every session the old one opened.
                sqlx::query("DELETE FROM sessions WHERE person = $1").bind(person)
                    .execute(&mut *tx).await.map_err(db("changing a password"))?;
                tx.commit().await.map_err(db("changing a password"))?;
                Ok(n > 0)
            }

            /// An account and its password hash, enabled or not.
            pub async fn account(pool: &Pool, person: &str) -> Result<Option<(AccountRow, String)>, StoreError> {
                let row = sqlx::query("SELECT person, role, created_at, disabled_at, password_hash FROM accounts WHERE person = $1")
                    .bind(person)
                    .fetch_optional(pool).await.map_err(db("reading an account"))?;
                row.map(|r| Ok((account_row(&r)?, r.try_get(4)?))).transpose().map_err(db("reading an account"))
            }

            pub async fn accounts(pool: &Pool) -> Result<Vec<AccountRow>, StoreError> {
                let rows = sqlx::query("SELECT person, role, created_at, disabled_at FROM accounts ORDER BY person")
                    .fetch_all(pool).await.map_err(db("reading accounts"))?;
                rows.iter().map(account_row).collect::<Result<Vec<_>, _>>().map_err(db("reading accounts"))
            }

            /// Disable an account and end its sessions; `false` when there is no such enabled account.
            pub async fn disable_account(pool: &Pool, person: &str, at: &str) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await.map_err(db("disabling an account"))?;
                let n = sqlx::query("UPDATE accounts SET disabled_at = $1 WHERE person = $2 AND disabled_at IS NULL")
                    .bind(at).bind(person)
                    .execute(&mut *tx).await.map_err(db("disabling an account"))?.rows_affected();
                sqlx::query("DELETE FROM sessions WHERE person = $1").bind(person)
                    .execute(&mut *tx).await.map_err(db("disabling an account"))?;
                tx.commit().await.map_err(db("disabling an account"))?;
                Ok(n > 0)
            }

            /// Whether `person` may try a password at `now` (not locked).
            pub async fn login_allowed(pool: &Pool, person: &str, now: &str) -> Result<bool, StoreError> {
                let row = sqlx::query("SELECT locked_until FROM accounts WHERE person = $1")
                    .bind(person)
                    .fetch_optional(pool).await.map_err(db("reading an account"))?;
                let locked: Option<String> = row.map(|r| r.try_get(0)).transpose().map_err(db("reading an account"))?.flatten();
                Ok(locked.is_none_or(|until| until.as_str() <= now))
            }

            /// Count a wrong password; the `limit`th in a row locks the account until `lock_until`.
            pub async fn login_failed(pool: &Pool, person: &str, limit: i64, lock_until: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE accounts SET \
                               locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END, \
                               failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END \
                             WHERE person = $1")
                    .bind(person).bind(limit).bind(lock_until)
                    .execute(pool).await.map_err(db("counting a failed sign-in"))?;
                Ok(())
            }

            /// A new session (and the expired ones gone); the account's failures forgotten.
            pub async fn insert_session(pool: &Pool, sha256: &str, person: &str, csrf: &str, at: &str, expires_at: &str) -> Result<(), StoreError> {
                let mut tx = pool.begin().await.map_err(db("opening a session"))?;
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(at)
                    .execute(&mut *tx).await.map_err(db("opening a session"))?;
                sqlx::query("INSERT INTO sessions (sha256, person, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(sha256).bind(person).bind(csrf).bind(at).bind(expires_at)
                    .execute(&mut *tx).await.map_err(db("opening a session"))?;
                sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE person = $1").bind(person)
                    .execute(&mut *tx).await.map_err(db("opening a session"))?;
                tx.commit().await.map_err(db("opening a session"))?;
                Ok(())
            }

            /// The session with this hash, if it is live at `now` and its account enabled.
            pub async fn session(pool: &Pool, sha256: &str, now: &str) -> Result<Option<SessionRow>, StoreError> {
                let row = sqlx::query("SELECT s.person, a.role, s.csrf, s.expires_at FROM sessions s JOIN accounts a ON a.person = s.person \
                                       WHERE s.sha256 = $1 AND s.expires_at > $2 AND a.disabled_at IS NULL")
                    .bind(sha256).bind(now)
                    .fetch_optional(pool).await.map_err(db("reading a session"))?;
                row.map(|r| Ok::<_, sqlx::Error>(SessionRow { person: r.try_get(0)?, role: r.try_get(1)?, csrf: r.try_get(2)?, expires_at: r.try_get(3)? }))
                    .transpose().map_err(db("reading a session"))
            }

            pub async fn delete_session(pool: &Pool, sha256: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM sessions WHERE sha256 = $1").bind(sha256)
                    .execute(pool).await.map_err(db("ending a session"))?;
                Ok(())
            }

            pub async fn insert_verification(pool: &Pool, v: &VerificationRow) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO log_verifications (verified_at, entries, ok, summary) VALUES ($1, $2, $3, $4)")
                    .bind(&v.verified_at).bind(i64::try_from(v.entries).unwrap_or(i64::MAX)).bind(v.ok).bind(&v.summary)
                    .execute(pool).await.map_err(db("remembering a verification"))?;
                Ok(())
            }

            /// The latest run; of runs in the same second, a failure.
            pub async fn last_verification(pool: &Pool) -> Result<Option<VerificationRow>, StoreError> {
                let row = sqlx::query("SELECT verified_at, entries, ok, summary FROM log_verifications ORDER BY verified_at DESC, ok ASC LIMIT 1")
                    .fetch_optional(pool).await.map_err(db("reading the last verification"))?;
                row.map(|r| Ok::<_, sqlx::Error>(VerificationRow {
                    verified_at: r.try_get(0)?,
                    entries: u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
                    ok: r.try_get(2)?,
                    summary: r.try_get(3)?,
                }))
                .transpose().map_err(db("reading the last verification"))
            }

            pub async fn save_evaluation(pool: &Pool, e: &EvaluationRow) -> Result<(), StoreError> {
                let mut conn = pool.acquire().await.map_err(db("saving an evaluation"))?;
                save_evaluation_on(&mut conn, e).await
            }

            /// What judging a change leaves, in one transaction: its evaluation, the status
            /// posted for it, and its job finished. Returns whether the job was removed
            /// (see `finish_job`).
            pub async fn settle_evaluation(pool: &Pool, job: (&str, &str, i64), evaluation: Option<&EvaluationRow>, posted: Option<&PostedStatus>) -> Result<bool, StoreError> {
                let (key, worker, generation) = job;
                let mut tx = pool.begin_with($begin).await.map_err(db("settling an evaluation"))?;
                if let Some(e) = evaluation {
                    save_evaluation_on(&mut tx, e).await?;
                }
                if let Some(s) = posted {
                    set_posted_status_on(&mut tx, s).await?;
                }
                let finished = finish_job_on(&mut tx, key, worker, generation).await?;
                tx.commit().await.map_err(db("settling an evaluation"))?;
                Ok(finished)
            }

            async fn save_evaluation_on(conn: &mut <$db as sqlx::Database>::Connection, e: &EvaluationRow) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO evaluations (change_id, repository, verdict, category, head_sha, authors, evaluated_at, evaluation) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                             ON CONFLICT (change_id) DO UPDATE SET repository = excluded.repository, verdict = excluded.verdict, \
                             category = excluded.category, head_sha = excluded.head_sha, authors = excluded.authors, \
                             evaluated_at = excluded.evaluated_at, evaluation = excluded.evaluation")
                    .bind(&e.change_id).bind(&e.repository).bind(&e.verdict).bind(&e.category)
                    .bind(&e.head_sha).bind(&e.authors).bind(&e.evaluated_at).bind(&e.evaluation)
                    .execute(&mut *conn).await.map_err(db("saving an evaluation"))?;
                Ok(())
            }

            pub async fn evaluation(pool: &Pool, change_id: &str) -> Result<Option<EvaluationRow>, StoreError> {
                let row = sqlx::query("SELECT change_id, repository, verdict, category, head_sha, authors, evaluated_at, evaluation FROM evaluations WHERE change_id = $1")
                    .bind(change_id)
                    .fetch_optional(pool).await.map_err(db("reading an evaluation"))?;
                row.map(|r| evaluation_row(&r)).transpose().map_err(db("reading an evaluation"))
            }

            /// Evaluations in change-id order, filtered; a page of at most `limit`.
            pub async fn evaluations(pool: &Pool, f: &EvaluationFilter) -> Result<Vec<EvaluationRow>, StoreError> {
                let rows = sqlx::query("SELECT change_id, repository, verdict, category, head_sha, authors, evaluated_at, evaluation FROM evaluations \
                                        WHERE ($1 IS NULL OR repository = $1) AND ($2 IS NULL OR verdict = $2) AND ($3 IS NULL OR category = $3) \
                                        AND ($4 IS NULL OR evaluated_at >= $4) AND ($5 IS NULL OR evaluated_at < $5) AND ($6 IS NULL OR change_id > $6) \
                                        ORDER BY change_id LIMIT $7")
                    .bind(f.repository.as_deref()).bind(f.verdict.as_deref()).bind(f.category.as_deref())
                    .bind(f.since.as_deref()).bind(f.until.as_deref()).bind(f.after.as_deref()).bind(i64::from(f.limit))
                    .fetch_all(pool).await.map_err(db("listing evaluations"))?;
                rows.iter().map(evaluation_row).collect::<Result<Vec<_>, _>>().map_err(db("listing evaluations"))
            }

            /// Every published policy version: version, sha256, log entry, published at.
            pub async fn policy_versions(pool: &Pool) -> Result<Vec<(String, String, Option<i64>, String)>, StoreError> {
                let rows = sqlx::query("SELECT version, sha256, entry_idx, published_at FROM policy_versions ORDER BY published_at, version")
                    .fetch_all(pool).await.map_err(db("reading policy versions"))?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(db("reading policy versions"))
            }

            /// The database answers and holds every migration this build knows.
            pub async fn ready(pool: &Pool) -> Result<bool, StoreError> {
                let versions = applied_versions(pool).await?;
                Ok(versions.iter().copied().max() == Some(known_schema_version()))
            }

            pub async fn execute_raw(pool: &Pool, sql: &str) -> Result<u64, StoreError> {
                Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.map_err(db("running raw SQL"))?.rows_affected())
            }
        }
    };
}

backend!(
    sqlite,
    sqlx::Sqlite,
    begin = "BEGIN IMMEDIATE",
    lock_state = "SELECT tree_size, frontier FROM log_state WHERE id = 1",
    multi = true,
    // SQLite serializes writers: the UPDATE is atomic with its subquery.
    claim = "UPDATE jobs SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 WHERE job_key IN \
             (SELECT job_key FROM jobs WHERE run_after <= $3 AND (claimed_until IS NULL OR claimed_until < $3) AND ($5 = '' OR (kind = $5) = $6) ORDER BY run_after LIMIT $4) \
             RETURNING job_key, kind, payload, generation, attempts"
);
backend!(
    postgres,
    sqlx::Postgres,
    begin = "BEGIN",
    lock_state = "SELECT tree_size, frontier FROM log_state WHERE id = 1 FOR UPDATE",
    multi = false,
    // Replicas skip rows another one is claiming, so each job is claimed once.
    claim = "UPDATE jobs SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 WHERE job_key IN \
             (SELECT job_key FROM jobs WHERE run_after <= $3 AND (claimed_until IS NULL OR claimed_until < $3) AND ($5 = '' OR (kind = $5) = $6) ORDER BY run_after LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING job_key, kind, payload, generation, attempts"
);

#[cfg(test)]
mod tests {
    /// Every file in `migrations/` is embedded, under the version and description sqlx's
    /// own reader gives it, with the same bytes: a new migration file cannot be forgotten,
    /// and a database migrated by a build that read the directory stays up to date.
    #[test]
    fn the_embedded_migrations_are_the_directorys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| {
                let (version, rest) = name.split_once('_').unwrap();
                let description = rest.trim_end_matches(".sql").replace('_', " ");
                (version.parse().unwrap(), description, std::fs::read_to_string(dir.join(&name)).unwrap())
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> =
            super::MIGRATIONS.iter().map(|&(v, d, sql)| (v, d.to_owned(), sql.to_owned())).collect();
        assert_eq!(embedded, files);
        let migrator = &*super::MIGRATOR;
        assert_eq!(migrator.iter().count(), files.len());
        // sqlx's checksum, which the `_sqlx_migrations` table of an existing database holds:
        // SHA-384 of the file's bytes.
        for (m, (_, _, sql)) in migrator.iter().zip(&files) {
            assert_eq!(&*m.checksum, <sha2::Sha384 as sha2::Digest>::digest(sql.as_bytes()).as_slice());
        }
    }
}
