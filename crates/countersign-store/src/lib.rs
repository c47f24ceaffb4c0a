//! countersign's evidence store: changes and the evidence about them, kept in a signed,
//! append-only, tamper-evident log (see `docs/evidence-log.md`).
//!
//! One schema, two backends: SQLite (a single file, the default) and PostgreSQL (for
//! several server replicas), through the same SQL (see `db`). The log's formats live in
//! `countersign-log`; this crate does the IO: the database, the key file, the clock, and
//! evidence packages.
//!
//! What it must not do: decide policy (the engine does), talk to git beyond checking that
//! a commit exists (`cli`), or rewrite stored entries — entries are appended and read,
//! never updated, and their bytes are hashed exactly as stored.
//!
//! The API is blocking: a [`Store`] owns a small tokio runtime and runs sqlx inside it.

pub mod accounts;
pub mod bounded;
pub mod cli;
mod db;
pub mod evidence;
pub mod keys;
pub mod package;
pub mod publish;
pub mod tokens;

use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_log::audit::{AuditOptions, AuditSummary, EntryRef, LogAudit, VerifyFailure};
use countersign_log::dsse;
use countersign_log::merkle::{self, Hash, NodeId};
use countersign_log::note::{Checkpoint, LogSigner, LogVerifier, NoteError};
use countersign_log::proof_text::{ConsistencyProofText, TlogProof};
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

pub use accounts::{NewSession, Session};
pub use db::{
    AccountRow, AppendOutcome, DeliveryRecord, DeliverySettlement, EvaluationFilter, EvaluationRow, JobRow, NewJob,
    PostedStatus, PullRequestNote, TokenRow, VerificationRow,
};
pub use evidence::{Evidence, RecordRequest, RecordedEvidence};
pub use keys::KeyError;
pub use tokens::{Caller, NewToken, Role};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {context}: {source}")]
    Database { context: &'static str, source: sqlx::Error },
    #[error("cannot open the database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(String),
    #[error(
        "this database was written by a newer countersign (schema version {found}; this build knows up to {known}); upgrade countersign before using it"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error(
        "unknown change {0:?}\nhint: name a change as a revision git resolves (HEAD, a branch, a commit id), as pr#N or owner/repo#N once `countersign audit` or `check` has seen it, or as a change id"
    )]
    UnknownChange(String),
    #[error("{reference:?} matches several changes: {candidates}\nhint: name one of them")]
    AmbiguousChange { reference: String, candidates: String },
    /// A recording's change, resolved from the store's cache, no longer resolves the same
    /// inside the append transaction; nothing was written. `record` resolves it afresh and
    /// records again, so callers do not see this.
    #[error("the change this record names was registered again while it was recorded; record it again")]
    StaleChange,
    #[error("evidence of kind {0} must name a change (--change)")]
    MissingChange(&'static str),
    #[error("no signing key loaded: appending needs the log key (--key-file or COUNTERSIGN_KEY_FILE)")]
    NoSigner,
    #[error("the key file's public key {key} is not this log's key {store}")]
    KeyMismatch { store: String, key: String },
    #[error("this store has no log key yet; run `countersign init`")]
    NotInitialized,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
    #[error("log format error: {0}")]
    Note(#[from] NoteError),
    #[error("entry error: {0}")]
    Envelope(#[from] dsse::EnvelopeError),
    #[error("no entry {index}; the log has {size} entries")]
    NoSuchEntry { index: u64, size: u64 },
    #[error("no checkpoint covers tree size {0} yet")]
    NoCheckpoint(u64),
    #[error("{0}")]
    Proof(#[from] merkle::ProofError),
    #[error("the append did not complete: {0}")]
    Append(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("{0}")]
    Package(String),
    /// The store was altered by someone without the log key: a row, index column,
    /// checkpoint or tree state does not match what was signed.
    #[error(
        "tampered evidence: {0}\nhint: the evidence store was altered outside countersign; run `countersign log verify` for the full report, and restore the store from a backup you can verify"
    )]
    Tampered(String),
    #[error("cannot publish the checkpoint to {0}")]
    Publish(String),
    #[error("the record is {size} bytes; the largest record the log accepts is {limit} bytes")]
    TooLarge { size: usize, limit: u64 },
}

/// A checkpoint a verification must reach with the same root, and where it came from
/// (`published at git ref …`, `--trusted saved.checkpoint`).
#[derive(Debug, Clone)]
pub struct TrustedCheckpoint {
    pub checkpoint: Checkpoint,
    pub source: String,
}

/// A webhook delivery as it arrived, for [`AsyncStore::accept_delivery`].
#[derive(Debug, Clone)]
pub struct IncomingDelivery {
    /// `github`, `gitea` or `gitlab`.
    pub forge: String,
    pub delivery_id: String,
    pub event: String,
    pub body: Vec<u8>,
    /// The headers worth keeping (never the signature or token).
    pub headers: Vec<(String, String)>,
    pub received_at: Timestamp,
}

/// What accepting a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Stored now, as this log entry.
    Accepted { index: u64 },
    /// The same id with the same bytes was stored before: nothing written.
    Duplicate { index: u64 },
    /// The same id with other bytes was stored before: refused, nothing written.
    Conflict { index: u64 },
}

/// The job queue at a glance (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobQueue {
    pub depth: u64,
    pub oldest_due: Option<Timestamp>,
}

/// A change as `audit`/`check` register it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeRef {
    /// The engine's change id (`Change::id`): a commit id or `pr#N`.
    pub id: String,
    pub repository: Option<String>,
    pub pr_number: Option<u64>,
    pub head_commit: Option<String>,
    pub merge_commit: Option<String>,
    /// Every commit of the change.
    pub commits: Vec<String>,
}

/// A pull-request reference: `pr#N` (repository unspecified) or `owner/repo#N`.
pub fn parse_pr_reference(reference: &str) -> Option<(Option<&str>, u64)> {
    let (repository, number) = reference.rsplit_once('#')?;
    let number: u64 = number.parse().ok()?;
    match repository {
        "pr" | "PR" | "" => Some((None, number)),
        repo if repo.contains('/') && !repo.contains(char::is_whitespace) => Some((Some(repo), number)),
        _ => None,
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Run the same code against whichever backend is open.
macro_rules! on_pool {
    ($pool:expr, $module:ident :: $f:ident ( $($arg:expr),* $(,)? )) => {
        match $pool {
            Pool::Sqlite(p) => db::sqlite::$f(p $(, $arg)*).await,
            Pool::Postgres(p) => db::postgres::$f(p $(, $arg)*).await,
        }
    };
}

/// [`on_pool!`] for a write: taken in this store's turn ([`AsyncStore::write_turn`]).
macro_rules! on_pool_write {
    ($store:expr, $pool:expr, $module:ident :: $f:ident ( $($arg:expr),* $(,)? )) => {{
        let _turn = $store.write_turn().await;
        on_pool!($pool, $module::$f($($arg),*))
    }};
}

mod index_fields;
mod proven;
mod sqlite_append;
mod sqlite_ffi;
mod sqlite_scan;

/// More ids than this are looked up by reading every change's links at once.
const MANY_IDS: usize = 1_000;

/// Rows a streamed read of entries or tree nodes hands over at a time.
const STREAM_CHUNK: usize = 8_192;

/// Which jobs a worker claims: any, one kind only (a lane of its own), or all but one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKinds<'a> {
    Any,
    Only(&'a str),
    AllBut(&'a str),
}

impl<'a> JobKinds<'a> {
    /// The SQL filter's parameters: a kind ('' for any) and whether it is the only one.
    fn filter(self) -> (&'a str, bool) {
        match self {
            JobKinds::Any => ("", true),
            JobKinds::Only(kind) => (kind, true),
            JobKinds::AllBut(kind) => (kind, false),
        }
    }
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Create the database (SQLite file) if it does not exist.
    pub create: bool,
    /// Where the store reads the time for `registered_at` and checkpoint `created_at`.
    /// The binary passes the wall clock; the store never reads it on its own.
    pub clock: Clock,
}

/// A source of the current time, passed in by the caller.
pub type Clock = fn() -> Timestamp;

type Job = (db::PreparedEntry, oneshot::Sender<Result<AppendOutcome, StoreError>>);

/// A request handed to the group committer, or already answered by its idempotency key.
enum Queued {
    Done(AppendOutcome),
    Waiting(oneshot::Receiver<Result<AppendOutcome, StoreError>>),
}

impl Queued {
    /// The outcome, once the entry is durable.
    async fn outcome(self) -> Result<AppendOutcome, StoreError> {
        match self {
            Queued::Done(outcome) => Ok(outcome),
            Queued::Waiting(wait) => wait.await.map_err(|_| StoreError::Append("the committer stopped".into()))?,
        }
    }
}

/// The most entries one group commit appends in one transaction.
const MAX_GROUP: usize = 512;

/// The evidence store's async core: every query and append, on whatever tokio runtime
/// calls it (the server's). Safe to share (`Arc<AsyncStore>`): concurrent appends from
/// many tasks are group-committed. Whole-log scans (`log verify`, proven reads) are
/// blocking and CPU-bound (rayon); they live on [`Store`], the blocking face, which a
/// server runs on a blocking thread ([`Store::on_runtime`]).
pub struct AsyncStore {
    pool: Pool,
    signer: Option<LogSigner>,
    /// The group committer's queue, started on first append.
    committer: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    /// Told when the committer's thread has ended (after its channel is dropped, on
    /// `close`), so that the connection it holds is returned before the pool closes.
    committer_task: Mutex<Option<oneshot::Receiver<()>>>,
    clock: Clock,
    /// The key entries and checkpoints are proven with before a verdict uses them: set by
    /// [`AsyncStore::set_signer`] or [`AsyncStore::trust_key`].
    trusted: Option<LogVerifier>,
    /// Checkpoints published outside the database, read when the store was told where
    /// they live ([`AsyncStore::set_publishers`]); the appender and readers prove the store
    /// extends each of them.
    anchors: Vec<TrustedCheckpoint>,
    publishers: Arc<Vec<Box<dyn publish::CheckpointPublisher>>>,
    publish_errors: Arc<Mutex<Vec<String>>>,
    /// What the last proof of the log established, so the next read proves only what was
    /// appended since ([`proven`]).
    proven: Mutex<Option<proven::ProvenPrefix>>,
    /// SQLite's one write lock, taken in turn by this process's writers (see
    /// [`AsyncStore::write_turn`]).
    writer: Arc<tokio::sync::Mutex<()>>,
    /// References `record` resolved by a change's id or alias, on SQLite: a recording that
    /// takes its change from here skips the resolver's query, and its append transaction
    /// checks the resolution still holds before it commits (`db::ChangeCheck`).
    resolved: Mutex<std::collections::HashMap<String, evidence::SubjectChange>>,
}

/// The most references [`AsyncStore::resolved`] keeps (it starts again when full).
const RESOLVED_CACHE: usize = 4096;

/// The blocking face of the store, for the CLI: each call runs the async core on a
/// runtime, its own private one ([`Store::open`]) or the caller's ([`Store::on_runtime`],
/// from a blocking thread). Safe to share between threads (`&Store` is `Sync`).
pub struct Store {
    core: Arc<AsyncStore>,
    handle: tokio::runtime::Handle,
    /// The private runtime, when this face owns one.
    runtime: Option<tokio::runtime::Runtime>,
}

/// A password's hash, computed on a blocking thread (Argon2 is slow on purpose).
async fn hash_off_runtime(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || accounts::hash_password(&password))
        .await
        .map_err(|e| StoreError::Append(format!("hashing a password: {e}")))?
        .map_err(|e| StoreError::Append(format!("hashing a password: {e}")))
}

fn now_rfc3339(clock: Clock) -> String {
    // Whole seconds, so stored times sort as text.
    whole_second(clock()).to_string()
}

/// A time truncated to the second, as records are stamped.
pub fn whole_second(time: Timestamp) -> Timestamp {
    Timestamp::from_second(time.as_second()).unwrap_or(time)
}

impl AsyncStore {
    /// Open (and migrate) a store. `url` is `sqlite:PATH`, a plain path (SQLite), or a
    /// `postgres://` URL. A database written by a newer schema is refused.
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let pool = async {
            let open_err = |e: sqlx::Error| StoreError::Open { url: url.to_owned(), reason: e.to_string() };
            match Backend::of(url) {
                Backend::Postgres => {
                    let opts = sqlx::postgres::PgConnectOptions::from_str(url).map_err(open_err)?;
                    let pool = sqlx::postgres::PgPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(Duration::from_secs(60))
                        .connect_with(opts)
                        .await
                        .map_err(open_err)?;
                    db::postgres::migrate(&pool).await?;
                    Ok::<_, StoreError>(Pool::Postgres(pool))
                }
                Backend::Sqlite => {
                    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
                    if !options.create && !std::path::Path::new(path).exists() {
                        return Err(StoreError::Open {
                            url: url.to_owned(),
                            reason: "no database there; run `countersign init` first".into(),
                        });
                    }
                    // Durability: WAL with synchronous=FULL fsyncs the WAL on every commit, so
                    // an acknowledged append survives power loss, not only a crash.
                    let opts = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(options.create)
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                        .busy_timeout(db::BUSY_TIMEOUT)
                        .foreign_keys(true)
                        // Statement journals (multi-row INSERTs) in memory, not in /var/tmp.
                        .pragma("temp_store", "memory");
                    // No ping before each acquire: a local file has no connection to lose, and the
                    // ping is a round trip to sqlx's worker thread on every query.
                    let pool = sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(4)
                        .test_before_acquire(false)
                        .acquire_timeout(Duration::from_secs(120))
                        .connect_with(opts)
                        .await
                        .map_err(open_err)?;
                    db::sqlite::migrate(&pool).await?;
                    Ok(Pool::Sqlite(pool))
                }
            }
        }
        .await?;
        Ok(Self {
            pool,
            signer: None,
            committer: Mutex::new(None),
            committer_task: Mutex::new(None),
            clock: options.clock,
            trusted: None,
            anchors: Vec::new(),
            publishers: Default::default(),
            publish_errors: Default::default(),
            proven: Mutex::new(None),
            writer: Default::default(),
            resolved: Default::default(),
        })
    }

    /// A turn at writing, on SQLite: this process's writers queue here, first come first
    /// served, instead of meeting at SQLite's lock, whose busy handler sleeps (1, 2, 5, 10 …
    /// ms) and lets a writer starve while others keep taking it. PostgreSQL takes row locks
    /// and needs no turn. Held for one transaction; never while asking for another turn.
    async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.writer.clone().lock_owned().await),
            Pool::Postgres(_) => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The log's public key as recorded at `init`, if any.
    pub async fn log_vkey(&self) -> Result<Option<String>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::get_meta("vkey"))
    }

    /// The verifier for this log, from the key recorded at `init`.
    pub async fn log_verifier(&self) -> Result<LogVerifier, StoreError> {
        let vkey = self.log_vkey().await?.ok_or(StoreError::NotInitialized)?;
        Ok(LogVerifier::from_vkey(&vkey)?)
    }

    /// Bind this store to its log key: the first key ever used is recorded; any other key
    /// is refused. Call once before appending.
    pub async fn set_signer(&mut self, signer: LogSigner) -> Result<(), StoreError> {
        let vkey = signer.verifier().vkey();
        let pool = &self.pool;
        on_pool_write!(self, pool, db::set_meta_if_absent("vkey", &vkey))?;
        let stored = on_pool!(pool, db::get_meta("vkey"))?;
        match stored {
            Some(stored) if stored != vkey => Err(StoreError::KeyMismatch { store: stored, key: vkey }),
            _ => {
                self.trusted = Some(signer.verifier());
                self.signer = Some(signer);
                Ok(())
            }
        }
    }

    /// Trust this public key (pinned by the caller: `--vkey`, the key file's) to prove
    /// entries and checkpoints before a verdict uses them. Without it (and without a
    /// signer), readers fall back to the key recorded in the database.
    pub fn trust_key(&mut self, verifier: LogVerifier) {
        self.trusted = Some(verifier);
    }

    async fn trusted_verifier(&self) -> Result<LogVerifier, StoreError> {
        match &self.trusted {
            Some(v) => Ok(v.clone()),
            None => self.log_verifier().await,
        }
    }

    /// Where checkpoints are published outside the database. Each place's latest
    /// checkpoint is read now and must be signed by the trusted key; it becomes an anchor
    /// the store must extend (checked before every new checkpoint is signed, and by every
    /// proven read). After every append batch the new checkpoint is published to each.
    pub async fn set_publishers(
        &mut self,
        publishers: Vec<Box<dyn publish::CheckpointPublisher>>,
    ) -> Result<(), StoreError> {
        let verifier = self.trusted_verifier().await?;
        let mut anchors = Vec::new();
        for p in &publishers {
            if let Some(note) = p.latest()? {
                let cp = Checkpoint::open(&note, &verifier).map_err(|e| {
                    StoreError::Tampered(format!(
                        "the checkpoint published at {} is not signed by this log's key: {e}",
                        p.describe()
                    ))
                })?;
                anchors.push(TrustedCheckpoint { checkpoint: cp, source: format!("published at {}", p.describe()) });
            }
        }
        self.anchors.extend(anchors);
        self.publishers = Arc::new(publishers);
        Ok(())
    }

    /// Add checkpoints the caller trusts (an auditor's saved copies) as anchors:
    /// `(signed note, where it came from)`.
    pub async fn add_anchors(&mut self, notes: &[(String, String)]) -> Result<(), StoreError> {
        let verifier = self.trusted_verifier().await?;
        for (note, source) in notes {
            let cp = Checkpoint::open(note, &verifier).map_err(|e| {
                StoreError::Tampered(format!("the trusted checkpoint {source} does not verify with the log key: {e}"))
            })?;
            self.anchors.push(TrustedCheckpoint { checkpoint: cp, source: source.clone() });
        }
        Ok(())
    }

    /// The anchors in force (published and trusted checkpoints).
    pub fn anchors(&self) -> &[TrustedCheckpoint] {
        &self.anchors
    }

    /// Publishing problems since the last call (the entries themselves were stored).
    pub fn take_publish_errors(&self) -> Vec<String> {
        self.publish_errors.lock().map(|mut e| std::mem::take(&mut *e)).unwrap_or_default()
    }

    /// Publish the latest checkpoint to every publisher (after imports, and by the
    /// committer after every batch).
    pub async fn publish_latest(&self) -> Result<(), StoreError> {
        if self.publishers.is_empty() {
            return Ok(());
        }
        if let Some(note) = self.latest_checkpoint().await? {
            publish_to(&self.publishers, &self.publish_errors, &note);
        }
        Ok(())
    }

    /// Register (or update) changes so evidence can be recorded about them.
    /// A change registered already, with nothing new to add, is not written again (the
    /// server registers a pull request on each of its events): that costs a read, not a
    /// turn at the write lock.
    pub async fn upsert_changes(&self, changes: &[ChangeRef]) -> Result<(), StoreError> {
        let pool = &self.pool;
        let mut new = Vec::new();
        for change in changes {
            if !on_pool!(pool, db::registered_as_is(change))? {
                new.push(change.clone());
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let now = now_rfc3339(self.clock);
        let done = on_pool_write!(self, pool, db::upsert_changes(&new, &now));
        // Not needed for correctness (every cached resolution is checked when its entry is
        // appended), but a registration here makes the next recordings resolve afresh.
        if let Ok(mut resolved) = self.resolved.lock() {
            resolved.clear();
        }
        done
    }

    /// Register only the changes not registered yet: a re-audit of a long history then
    /// writes nothing but its new changes.
    pub async fn register_new_changes(&self, changes: &[ChangeRef]) -> Result<usize, StoreError> {
        let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
        let known = self.change_records_of(&ids).await?;
        let new: Vec<ChangeRef> = changes.iter().filter(|c| !known.contains_key(&c.id)).cloned().collect();
        if !new.is_empty() {
            self.upsert_changes(&new).await?;
        }
        Ok(new.len())
    }

    /// Every id a registered change is known by, mapped to the id of its one record (see
    /// `migrations/0002_change_identity.sql`). Evidence is stored under the record's id.
    pub async fn change_records(&self) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::change_ids())
    }

    /// [`AsyncStore::change_records`] for the changes known by `ids` (it may hold others):
    /// a few ids (a re-audit's new changes) are looked up one list at a time, many (a long
    /// history) read every link once.
    pub async fn change_records_of(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let pool = &self.pool;
        if ids.len() > MANY_IDS {
            return on_pool!(pool, db::change_ids());
        }
        on_pool!(pool, db::change_records_of(ids))
    }

    /// The SHA-256 (hex) of every link [`AsyncStore::change_records`] gives, read in one
    /// row: equal digests, equal links.
    pub async fn change_links_digest(&self) -> Result<String, StoreError> {
        let pool = &self.pool;
        let text = on_pool!(pool, db::change_links_text())?;
        Ok(evidence::sha256_hex(text.as_bytes()))
    }

    /// The registered change a reference names: a change id or alias, `pr#N`,
    /// `owner/repo#N`, or a commit (or commit prefix) of a change.
    pub async fn resolve_change(&self, reference: &str) -> Result<Option<evidence::SubjectChange>, StoreError> {
        Ok(self.resolve_tiered(reference).await?.0)
    }

    /// [`AsyncStore::resolve_change`], and whether the reference matched a change's id or
    /// alias (the resolver's first tier, which decides alone when it matches).
    async fn resolve_tiered(&self, reference: &str) -> Result<(Option<evidence::SubjectChange>, bool), StoreError> {
        let pool = &self.pool;
        let (rows, by_id) = on_pool!(pool, db::find_changes_tiered(reference))?;
        let found = match rows.as_slice() {
            [] => Ok(None),
            [row] => Ok(Some(evidence::SubjectChange {
                id: row.id.clone(),
                head_commit: row.merge_commit.clone().or_else(|| row.head_commit.clone()),
            })),
            many => Err(StoreError::AmbiguousChange {
                reference: reference.to_owned(),
                candidates: many
                    .iter()
                    .map(|r| match (&r.repository, r.pr_number) {
                        (Some(repo), Some(n)) => format!("{repo}#{n} ({})", r.id),
                        _ => r.id.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }?;
        Ok((found, by_id))
    }

    /// The registered change a request names, if it names one. With `cached` (SQLite
    /// only), a reference `record` resolved before by a change's id or alias is taken from
    /// [`AsyncStore::resolved`], with the check its append transaction makes.
    async fn subject(
        &self,
        request: &RecordRequest,
        cached: bool,
    ) -> Result<(Option<evidence::SubjectChange>, Option<db::ChangeCheck>), StoreError> {
        let reference = match &request.change {
            Some(reference) => reference,
            None if request.evidence.needs_change() => return Err(StoreError::MissingChange(request.evidence.kind())),
            None => return Ok((None, None)),
        };
        let cache = cached && matches!(self.pool, Pool::Sqlite(_));
        if cache && let Some(hit) = self.resolved.lock().ok().and_then(|r| r.get(reference).cloned()) {
            let check =
                db::ChangeCheck { reference: reference.clone(), id: hit.id.clone(), head: hit.head_commit.clone() };
            return Ok((Some(hit), Some(check)));
        }
        let (found, by_id) = self.resolve_tiered(reference).await?;
        let found = found.ok_or_else(|| StoreError::UnknownChange(reference.clone()))?;
        if cache
            && by_id
            && let Ok(mut resolved) = self.resolved.lock()
        {
            if resolved.len() >= RESOLVED_CACHE {
                resolved.clear();
            }
            resolved.insert(reference.clone(), found.clone());
        }
        Ok((Some(found), None))
    }

    async fn prepare(
        &self,
        request: &RecordRequest,
        policy_text: Option<&str>,
        cached: bool,
    ) -> Result<db::PreparedEntry, StoreError> {
        let (change, check) = self.subject(request, cached).await?;
        let mut entry = self.sign_entry(request, change, policy_text)?;
        entry.change_check = check;
        Ok(entry)
    }

    /// Sign a request about a resolved change into an entry ready to append (CPU only).
    fn sign_entry(
        &self,
        request: &RecordRequest,
        change: Option<evidence::SubjectChange>,
        policy_text: Option<&str>,
    ) -> Result<db::PreparedEntry, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::NoSigner)?;
        let statement = evidence::statement_for(request, change.as_ref());
        let envelope = dsse::sign_statement(&statement, signer)?;
        if envelope.len() as u64 > bounded::RECORD_LIMIT {
            return Err(StoreError::TooLarge { size: envelope.len(), limit: bounded::RECORD_LIMIT });
        }
        let policy = match (&request.evidence, policy_text) {
            (Evidence::PolicyVersion { version, sha256 }, Some(text)) => {
                Some((version.clone(), sha256.clone(), text.to_owned()))
            }
            _ => None,
        };
        Ok(db::PreparedEntry {
            kind: request.evidence.kind().to_owned(),
            change_id: change.map(|c| c.id),
            recorded_at: request.recorded_at.to_string(),
            recorded_by: request.recorded_by.clone(),
            idempotency_key: request.idempotency_key.clone(),
            leaf: merkle::leaf_hash(&envelope),
            envelope,
            policy,
            delivery: None,
            change_check: None,
        })
    }

    /// The group committer's queue, started on first use on the current runtime.
    fn committer(&self) -> Result<mpsc::UnboundedSender<Job>, StoreError> {
        let mut slot = self.committer.lock().map_err(|_| StoreError::Append("committer lock poisoned".into()))?;
        if let Some(tx) = slot.as_ref() {
            return Ok(tx.clone());
        }
        let signer = self.signer.clone().ok_or(StoreError::NoSigner)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let publishing = Publishing { publishers: self.publishers.clone(), errors: self.publish_errors.clone() };
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Append(format!("appending needs a tokio runtime: {e}")))?;
        let (pool, writer, clock) = (self.pool.clone(), self.writer.clone(), self.clock);
        let anchors = self.anchors.iter().map(|t| t.checkpoint.clone()).collect();
        let (exited, stopped) = oneshot::channel();
        std::thread::Builder::new()
            .name("countersign-committer".into())
            .spawn(move || {
                group_committer(handle, pool, writer, signer, anchors, publishing, clock, rx);
                let _ = exited.send(());
            })
            .map_err(|e| StoreError::Append(format!("cannot start the committer thread: {e}")))?;
        if let Ok(mut held) = self.committer_task.lock() {
            *held = Some(stopped);
        }
        *slot = Some(tx.clone());
        Ok(tx)
    }

    /// Record one piece of evidence. Returns once the entry is durably stored (or reports
    /// the entry an earlier record with the same idempotency key became).
    pub async fn record(&self, request: &RecordRequest) -> Result<AppendOutcome, StoreError> {
        if request.evidence.forge_only() {
            // A delivery's body is stored with it (`accept_delivery`), and evidence taken
            // from one is written only from a stored delivery (`record_from_delivery`).
            return Err(StoreError::Append(
                "webhook deliveries, and evidence taken from them, are recorded only by the server".into(),
            ));
        }
        if let Evidence::ObligationFulfilled { fulfilled_at: Some(at), .. }
        | Evidence::ConsoleChange { changed_at: Some(at), .. } = &request.evidence
            && *at > request.recorded_at
        {
            return Err(StoreError::Append(format!(
                "a {} cannot have happened at {at}, after it is recorded ({}): record it once it is done",
                request.evidence.kind(),
                request.recorded_at
            )));
        }
        match self.queue(request, None, true).await?.outcome().await {
            // The change its cached resolution named was registered again since: resolve
            // it afresh and sign again (nothing was written).
            Err(StoreError::StaleChange) => {
                if let (Some(reference), Ok(mut resolved)) = (&request.change, self.resolved.lock()) {
                    resolved.remove(reference);
                }
                self.queue(request, None, false).await?.outcome().await
            }
            other => other,
        }
    }

    /// The entry an idempotency key became, if a record with that key was written.
    pub async fn idempotent_entry(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::find_idempotent(key))
    }

    /// Queue a request for the group committer, unless its idempotency key was used
    /// before: then the entry that key became is its outcome, and nothing is written.
    async fn queue(
        &self,
        request: &RecordRequest,
        policy_text: Option<&str>,
        cached: bool,
    ) -> Result<Queued, StoreError> {
        if let Some(key) = &request.idempotency_key {
            let pool = &self.pool;
            if let Some(index) = on_pool!(pool, db::find_idempotent(key))? {
                return Ok(Queued::Done(AppendOutcome::AlreadyRecorded(index)));
            }
        }
        Ok(Queued::Waiting(self.enqueue(self.prepare(request, policy_text, cached).await?)?))
    }

    /// Hand an entry to the group committer; the receiver gets its outcome once durable.
    fn enqueue(
        &self,
        entry: db::PreparedEntry,
    ) -> Result<oneshot::Receiver<Result<AppendOutcome, StoreError>>, StoreError> {
        let (done, wait) = oneshot::channel();
        self.committer()?.send((entry, done)).map_err(|_| StoreError::Append("the committer stopped".into()))?;
        Ok(wait)
    }

    async fn submit(&self, entry: db::PreparedEntry) -> Result<AppendOutcome, StoreError> {
        Queued::Waiting(self.enqueue(entry)?).outcome().await
    }

    /// Record many entries in one transaction (imports, benchmarks): all or nothing.
    pub async fn record_many(&self, requests: &[RecordRequest]) -> Result<Vec<AppendOutcome>, StoreError> {
        use rayon::prelude::*;
        let signer = self.signer.as_ref().ok_or(StoreError::NoSigner)?;
        let mut subjects = Vec::with_capacity(requests.len());
        for request in requests {
            subjects.push(self.subject(request, false).await?.0);
        }
        // Signing is CPU work: spread it over rayon's threads.
        let entries: Vec<db::PreparedEntry> = requests
            .par_iter()
            .zip(subjects)
            .map(|(r, change)| self.sign_entry(r, change, None))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&db::PreparedEntry> = entries.iter().collect();
        let pool = &self.pool;
        let now = now_rfc3339(self.clock);
        let anchors: Vec<Checkpoint> = self.anchors.iter().map(|t| t.checkpoint.clone()).collect();
        let anchors = &anchors;
        let outcomes = on_pool_write!(self, pool, db::append_batch(signer, anchors, &refs, &now))?;
        self.publish_latest().await?;
        Ok(outcomes)
    }

    /// Publish a policy version: its text is stored and its digest logged.
    pub async fn publish_policy(
        &self,
        version: &str,
        text: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<AppendOutcome, StoreError> {
        let sha256 = evidence::sha256_hex(text.as_bytes());
        let request = RecordRequest {
            change: None,
            recorded_by: by.to_owned(),
            recorded_at: at,
            idempotency_key: Some(format!("policy-version:{version}:{sha256}")),
            evidence: Evidence::PolicyVersion { version: version.to_owned(), sha256 },
        };
        self.queue(&request, Some(text), false).await?.outcome().await
    }

    pub async fn tree_size(&self) -> Result<u64, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::tree_size())
    }

    /// The latest signed checkpoint, if anything has been logged.
    pub async fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        let pool = &self.pool;
        Ok(on_pool!(pool, db::latest_checkpoint())?.map(|(_, note)| note))
    }

    /// One entry's bytes.
    pub async fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        let pool = &self.pool;
        match on_pool!(pool, db::entry(index))? {
            Some(bytes) => Ok(bytes),
            None => Err(StoreError::NoSuchEntry { index, size: self.tree_size().await? }),
        }
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<std::collections::HashMap<NodeId, Hash>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::nodes(ids))
    }

    /// An inclusion proof (C2SP tlog-proof) for `index` against the smallest checkpoint
    /// covering `at_least` (default: the latest checkpoint).
    pub async fn inclusion_proof(&self, index: u64, at_least: Option<u64>) -> Result<TlogProof, StoreError> {
        let pool = &self.pool;
        let found = match at_least {
            Some(size) => on_pool!(pool, db::checkpoint_at_least(size.max(index + 1)))?,
            None => on_pool!(pool, db::latest_checkpoint())?,
        };
        let (size, note) = found.ok_or(StoreError::NoCheckpoint(index + 1))?;
        if index >= size {
            return Err(StoreError::NoSuchEntry { index, size });
        }
        let nodes = self.nodes(&merkle::inclusion_proof_nodes(index, size)).await?;
        let hashes = merkle::inclusion_proof::<()>(index, size, |n| nodes.get(&n).copied().ok_or(()))
            .map_err(|()| StoreError::Corrupt("a tree node went missing".into()))??;
        // Check the proof before anyone sees it: stored nodes are not signed.
        let checkpoint = Checkpoint::open(&note, &self.trusted_verifier().await?)
            .map_err(|e| StoreError::Tampered(format!("the checkpoint of size {size} does not verify: {e}")))?;
        let leaf = merkle::leaf_hash(&self.entry(index).await?);
        merkle::verify_inclusion(index, size, &leaf, &hashes, &checkpoint.root).map_err(|e| {
            StoreError::Tampered(format!(
                "the inclusion proof for entry {index} built from the stored tree nodes does not lead to the signed root of size {size} ({e}): the entry or the stored tree state was altered; no proof was printed"
            ))
        })?;
        Ok(TlogProof { extra: None, index, hashes, checkpoint: note })
    }

    /// A consistency proof from the checkpoint of size `old` to the checkpoint of size `new`
    /// (default: latest).
    pub async fn consistency_proof(&self, old: u64, new: Option<u64>) -> Result<ConsistencyProofText, StoreError> {
        let pool = &self.pool;
        let found = match new {
            Some(size) => on_pool!(pool, db::checkpoint_at_least(size))?.filter(|(s, _)| *s == size),
            None => on_pool!(pool, db::latest_checkpoint())?,
        };
        let (size, note) = found.ok_or(StoreError::NoCheckpoint(new.unwrap_or(old)))?;
        let nodes = self.nodes(&merkle::consistency_proof_nodes(old, size)).await?;
        let hashes = merkle::consistency_proof::<()>(old, size, |n| nodes.get(&n).copied().ok_or(()))
            .map_err(|()| StoreError::Corrupt("a tree node went missing".into()))??;
        // Check the proof between the two signed roots before anyone sees it.
        let verifier = self.trusted_verifier().await?;
        let open = |note: &str, size: u64| {
            Checkpoint::open(note, &verifier)
                .map_err(|e| StoreError::Tampered(format!("the checkpoint of size {size} does not verify: {e}")))
        };
        let new_cp = open(&note, size)?;
        let old_cp = open(&self.checkpoint(old).await?, old)?;
        merkle::verify_consistency(old, size, &old_cp.root, &new_cp.root, &hashes).map_err(|e| {
            StoreError::Tampered(format!(
                "the consistency proof from size {old} to {size} built from the stored tree nodes does not connect the two signed roots ({e}): the stored tree state was altered; no proof was printed"
            ))
        })?;
        Ok(ConsistencyProofText { old_size: old, hashes, checkpoint: note })
    }

    /// The signed checkpoint of exactly this size.
    pub async fn checkpoint(&self, size: u64) -> Result<String, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::checkpoint_at_least(size))?
            .filter(|(s, _)| *s == size)
            .map(|(_, note)| note)
            .ok_or(StoreError::NoCheckpoint(size))
    }

    /// Run raw SQL against the store. For tests that tamper with a store on purpose.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        let pool = &self.pool;
        on_pool_write!(self, pool, db::execute_raw(sql))
    }

    /// Accept a webhook delivery: once this returns `Accepted`, its raw bytes, its
    /// `webhook-delivery` log entry and the job that will process it are durable, in one
    /// transaction. The same delivery id again is `Duplicate` (same bytes: nothing is
    /// written) or `Conflict` (other bytes: refused, nothing is written).
    pub async fn accept_delivery(&self, delivery: IncomingDelivery) -> Result<DeliveryOutcome, StoreError> {
        let sha256 = evidence::sha256_hex(&delivery.body);
        let pool = &self.pool;
        let judge = |stored: DeliveryRecord| {
            if stored.sha256 == sha256 {
                DeliveryOutcome::Duplicate { index: stored.entry_index }
            } else {
                DeliveryOutcome::Conflict { index: stored.entry_index }
            }
        };
        if let Some(stored) = on_pool!(pool, db::delivery(&delivery.forge, &delivery.delivery_id))? {
            return Ok(judge(stored));
        }
        let key = format!("delivery:{}:{}", delivery.forge, delivery.delivery_id);
        let request = RecordRequest {
            change: None,
            recorded_by: format!("{}-webhook", delivery.forge),
            recorded_at: whole_second(delivery.received_at),
            idempotency_key: Some(key.clone()),
            evidence: Evidence::WebhookDelivery {
                forge: delivery.forge.clone(),
                delivery_id: delivery.delivery_id.clone(),
                event: delivery.event.clone(),
                sha256: sha256.clone(),
                size: delivery.body.len() as u64,
            },
        };
        let mut entry = self.sign_entry(&request, None, None)?;
        let headers =
            serde_json::to_string(&delivery.headers.iter().cloned().collect::<std::collections::BTreeMap<_, _>>())
                .unwrap_or_else(|_| "{}".into());
        let payload = serde_json::json!({ "forge": delivery.forge, "deliveryId": delivery.delivery_id }).to_string();
        entry.delivery = Some(db::DeliveryRow {
            forge: delivery.forge.clone(),
            delivery_id: delivery.delivery_id.clone(),
            event: delivery.event,
            sha256: sha256.clone(),
            body: delivery.body,
            headers,
            received_at: request.recorded_at.to_string(),
            job: (key, "process-delivery".into(), payload, delivery.received_at.as_millisecond()),
        });
        match self.submit(entry).await? {
            AppendOutcome::Appended(index) => Ok(DeliveryOutcome::Accepted { index }),
            // Another request (or replica) stored this id first.
            AppendOutcome::AlreadyRecorded(_) => {
                match on_pool!(pool, db::delivery(&delivery.forge, &delivery.delivery_id))? {
                    Some(stored) => Ok(judge(stored)),
                    None => Err(StoreError::Corrupt(format!(
                        "delivery {} is in the log but its body is not stored",
                        delivery.delivery_id
                    ))),
                }
            }
        }
    }

    /// Record evidence the server took from a stored delivery (each request's evidence
    /// names it, and it must be in the store). The entries are group-committed together.
    pub async fn record_from_delivery(&self, requests: &[RecordRequest]) -> Result<Vec<AppendOutcome>, StoreError> {
        let pool = &self.pool;
        let mut pending = Vec::with_capacity(requests.len());
        for request in requests {
            let Some((forge, id)) = request.evidence.delivery().and_then(|d| d.split_once(':')) else {
                return Err(StoreError::Append("evidence from a delivery must name it as forge:id".into()));
            };
            if on_pool!(pool, db::delivery(forge, id))?.is_none() {
                return Err(StoreError::Append(format!("no stored delivery {forge}:{id}")));
            }
            pending.push(self.queue(request, None, false).await?);
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        for queued in pending {
            outcomes.push(queued.outcome().await?);
        }
        Ok(outcomes)
    }

    /// One stored delivery, with its raw body.
    pub async fn delivery(&self, forge: &str, delivery_id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::delivery(forge, delivery_id))
    }

    /// The newest deliveries (without bodies), newest first.
    pub async fn recent_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::recent_deliveries(i64::from(limit)))
    }

    /// The forge and delivery id that last described a pull request.
    pub async fn pull_request(&self, change_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::pull_request(change_id))
    }

    /// The last verdict posted for a commit under a status context.
    pub async fn posted_status(
        &self,
        forge: &str,
        repository: &str,
        sha: &str,
        context: &str,
    ) -> Result<Option<PostedStatus>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::posted_status(forge, repository, sha, context))
    }

    /// Remember a verdict posted to a forge (`posted_at` is set from the clock).
    pub async fn set_posted_status(&self, status: &PostedStatus) -> Result<(), StoreError> {
        let pool = &self.pool;
        let status = PostedStatus { posted_at: now_rfc3339(self.clock), ..status.clone() };
        on_pool_write!(self, pool, db::set_posted_status(&status))
    }

    /// Forget a posted verdict, so that the next evaluation posts it again.
    pub async fn forget_posted_status(
        &self,
        forge: &str,
        repository: &str,
        sha: &str,
        context: &str,
    ) -> Result<(), StoreError> {
        let pool = &self.pool;
        on_pool_write!(self, pool, db::forget_posted_status(forge, repository, sha, context))
    }

    /// Create an API token for `person` with `role`. The token is returned once; only its
    /// hash is stored.
    pub async fn create_token(&self, role: Role, person: &str, note: Option<&str>) -> Result<NewToken, StoreError> {
        let (new, hash) =
            tokens::generate().map_err(|e| StoreError::Append(format!("no randomness for a token: {e}")))?;
        let pool = &self.pool;
        let at = now_rfc3339(self.clock);
        on_pool_write!(self, pool, db::insert_token(&new.token_id, &hash, role.as_str(), person, note, &at))?;
        Ok(new)
    }

    /// Who a bearer token belongs to: `None` for a token that is malformed, unknown or revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>, StoreError> {
        let Some(id) = tokens::token_id(token) else { return Ok(None) };
        let pool = &self.pool;
        let Some((row, hash)) = on_pool!(pool, db::token(id))? else { return Ok(None) };
        let presented = evidence::sha256_hex(token.as_bytes());
        if row.revoked_at.is_some() || !tokens::same_digest(&presented, &hash) {
            return Ok(None);
        }
        let Some(role) = Role::parse(&row.role) else { return Ok(None) };
        Ok(Some(Caller { token_id: row.token_id, role, person: row.person }))
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::tokens())
    }

    /// Revoke a token; `false` when there is no such live token.
    pub async fn revoke_token(&self, token_id: &str) -> Result<bool, StoreError> {
        let pool = &self.pool;
        let at = now_rfc3339(self.clock);
        on_pool_write!(self, pool, db::revoke_token(token_id, &at))
    }

    /// Create a sign-in account for `person` with `role`; `false` when they already have one.
    /// The password is kept only as its Argon2id hash.
    pub async fn create_account(&self, person: &str, role: Role, password: &str) -> Result<bool, StoreError> {
        let hash = hash_off_runtime(password.to_owned()).await?;
        let pool = &self.pool;
        let at = now_rfc3339(self.clock);
        on_pool_write!(self, pool, db::insert_account(person, role.as_str(), &hash, &at))
    }

    /// Give an account a new password (enabling it again, ending its sessions); `false` when
    /// there is no such account.
    pub async fn set_password(&self, person: &str, password: &str) -> Result<bool, StoreError> {
        let hash = hash_off_runtime(password.to_owned()).await?;
        let pool = &self.pool;
        on_pool_write!(self, pool, db::set_account_password(person, &hash))
    }

    /// Disable an account and end its sessions; `false` when there is no such enabled account.
    pub async fn disable_account(&self, person: &str) -> Result<bool, StoreError> {
        let pool = &self.pool;
        let at = now_rfc3339(self.clock);
        on_pool_write!(self, pool, db::disable_account(person, &at))
    }

    pub async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::accounts())
    }

    /// Check a person's password and, if it matches an enabled account, open a session that
    /// lasts `ttl`. `None` for any failure, which takes as long whether or not the account
    /// exists. [`accounts::MAX_FAILED_LOGINS`] wrong passwords in a row lock the account for
    /// [`accounts::LOCK_MINUTES`], during which even the right one is refused.
    pub async fn sign_in(
        &self,
        person: &str,
        password: &str,
        ttl: jiff::SignedDuration,
    ) -> Result<Option<NewSession>, StoreError> {
        let pool = &self.pool;
        let now_text = now_rfc3339(self.clock);
        // A locked account answers as a wrong password does, after the same work.
        let allowed = on_pool!(pool, db::login_allowed(person, &now_text))?;
        let found = on_pool!(pool, db::account(person))?;
        let (enabled, hash) = match &found {
            Some((row, hash)) => (row.disabled_at.is_none(), hash.clone()),
            None => (false, accounts::decoy_hash().to_owned()),
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
            .await
            .map_err(|e| StoreError::Append(format!("checking a password: {e}")))?;
        if !(enabled && matches && allowed) {
            if found.is_some() && !matches {
                let lock_until = whole_second((self.clock)())
                    .saturating_add(jiff::SignedDuration::from_mins(accounts::LOCK_MINUTES))
                    .map_err(|e| StoreError::Append(e.to_string()))?;
                on_pool_write!(
                    self,
                    pool,
                    db::login_failed(person, accounts::MAX_FAILED_LOGINS, &lock_until.to_string())
                )?;
            }
            return Ok(None);
        }
        let no_randomness = |e: String| StoreError::Append(format!("no randomness for a session: {e}"));
        let cookie = accounts::random_hex().map_err(no_randomness)?;
        let csrf = accounts::random_hex().map_err(no_randomness)?;
        let now = whole_second((self.clock)());
        let expires_at = now.saturating_add(ttl).map_err(|e| StoreError::Append(e.to_string()))?;
        on_pool_write!(
            self,
            pool,
            db::insert_session(
                &accounts::session_digest(&cookie),
                person,
                &csrf,
                &now.to_string(),
                &expires_at.to_string()
            )
        )?;
        Ok(Some(NewSession { cookie, csrf, expires_at }))
    }

    /// Who a session cookie belongs to now: `None` when it is unknown, expired, signed out,
    /// or its account is disabled.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, StoreError> {
        if cookie.len() != 64 || !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let pool = &self.pool;
        let now = now_rfc3339(self.clock);
        let Some(row) = on_pool!(pool, db::session(&accounts::session_digest(cookie), &now))? else {
            return Ok(None);
        };
        Ok(Role::parse(&row.role).map(|role| Session { person: row.person, role, csrf: row.csrf }))
    }

    /// End a session (signing out).
    pub async fn end_session(&self, cookie: &str) -> Result<(), StoreError> {
        let pool = &self.pool;
        on_pool_write!(self, pool, db::delete_session(&accounts::session_digest(cookie)))
    }

    /// Remember one `log verify` run (`verified_at` is set from the clock).
    pub async fn record_verification(&self, entries: u64, ok: bool, summary: &str) -> Result<(), StoreError> {
        let pool = &self.pool;
        let row = VerificationRow { verified_at: now_rfc3339(self.clock), entries, ok, summary: summary.to_owned() };
        on_pool_write!(self, pool, db::insert_verification(&row))
    }

    /// The latest `log verify` run, if any.
    pub async fn last_verification(&self) -> Result<Option<VerificationRow>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::last_verification())
    }

    /// Keep the latest evaluation of a change (`evaluated_at` is set from the clock).
    pub async fn save_evaluation(&self, row: &EvaluationRow) -> Result<(), StoreError> {
        let pool = &self.pool;
        let row = EvaluationRow { evaluated_at: now_rfc3339(self.clock), ..row.clone() };
        on_pool_write!(self, pool, db::save_evaluation(&row))
    }

    pub async fn evaluation(&self, change_id: &str) -> Result<Option<EvaluationRow>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::evaluation(change_id))
    }

    pub async fn evaluations(&self, filter: &EvaluationFilter) -> Result<Vec<EvaluationRow>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::evaluations(filter))
    }

    /// Every published policy version: version, SHA-256, log entry, published at.
    pub async fn policy_versions(&self) -> Result<Vec<(String, String, Option<i64>, String)>, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::policy_versions())
    }

    /// Enqueue a job (or coalesce into the waiting one with the same key) to run at or
    /// after `run_after`.
    pub async fn enqueue_job(
        &self,
        key: &str,
        kind: &str,
        payload: &str,
        run_after: Timestamp,
    ) -> Result<(), StoreError> {
        let pool = &self.pool;
        let now = (self.clock)().as_millisecond();
        on_pool_write!(self, pool, db::enqueue_job(key, kind, payload, run_after.as_millisecond(), now))
    }

    /// Claim up to `limit` due jobs for `worker`, each for `lease` (after which another
    /// worker may take it).
    pub async fn claim_jobs(
        &self,
        worker: &str,
        lease: Duration,
        limit: u32,
        kinds: JobKinds<'_>,
    ) -> Result<Vec<JobRow>, StoreError> {
        let pool = &self.pool;
        let now = (self.clock)().as_millisecond();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let (kind, only) = kinds.filter();
        on_pool_write!(self, pool, db::claim_jobs(worker, now, until, i64::from(limit), kind, only))
    }

    /// When the next job of these kinds that no worker holds falls due: a worker with
    /// nothing to do sleeps until then (or its poll interval, if sooner) instead of a whole
    /// interval. `None` when there is none.
    pub async fn next_job_due(&self, kinds: JobKinds<'_>) -> Result<Option<Timestamp>, StoreError> {
        let pool = &self.pool;
        let now = (self.clock)().as_millisecond();
        let (kind, only) = kinds.filter();
        let due = on_pool!(pool, db::next_due(now, kind, only))?;
        Ok(due.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
    }

    /// A claimed job ran: removed, unless it was enqueued again meanwhile (then it runs
    /// again). Returns whether it was removed.
    pub async fn finish_job(&self, job: &JobRow, worker: &str) -> Result<bool, StoreError> {
        let pool = &self.pool;
        on_pool_write!(self, pool, db::finish_job(&job.key, worker, job.generation))
    }

    /// Settle a processed delivery in one commit: its pull-request note, the jobs it
    /// enqueues, its outcome, and its job finished. Returns whether the job was removed.
    pub async fn settle_delivery(&self, settlement: &DeliverySettlement) -> Result<bool, StoreError> {
        let pool = &self.pool;
        let at = now_rfc3339(self.clock);
        let now = (self.clock)().as_millisecond();
        on_pool_write!(self, pool, db::settle_delivery(settlement, &at, now))
    }

    /// Settle a judged change in one commit: its evaluation and the status posted for it
    /// (each when there is one; their times are set from the clock), and its job finished.
    /// Returns whether the job was removed (see [`AsyncStore::finish_job`]).
    pub async fn settle_evaluation(
        &self,
        job: &JobRow,
        worker: &str,
        evaluation: Option<&EvaluationRow>,
        posted: Option<&PostedStatus>,
    ) -> Result<bool, StoreError> {
        let pool = &self.pool;
        let at = now_rfc3339(self.clock);
        let evaluation = evaluation.map(|e| EvaluationRow { evaluated_at: at.clone(), ..e.clone() });
        let posted = posted.map(|p| PostedStatus { posted_at: at.clone(), ..p.clone() });
        on_pool_write!(
            self,
            pool,
            db::settle_evaluation((&job.key, worker, job.generation), evaluation.as_ref(), posted.as_ref())
        )
    }

    /// A claimed job failed: it runs again after `delay`, and keeps the error.
    pub async fn retry_job(&self, job: &JobRow, worker: &str, error: &str, delay: Duration) -> Result<(), StoreError> {
        let pool = &self.pool;
        let at = (self.clock)().as_millisecond().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        on_pool_write!(self, pool, db::retry_job(&job.key, worker, error, at))
    }

    /// Give back every job `worker` holds (graceful shutdown).
    pub async fn release_jobs(&self, worker: &str) -> Result<u64, StoreError> {
        let pool = &self.pool;
        on_pool_write!(self, pool, db::release_jobs(worker))
    }

    /// The job queue: how many wait, and since when the oldest was due.
    pub async fn job_queue(&self) -> Result<JobQueue, StoreError> {
        let pool = &self.pool;
        let (depth, oldest) = on_pool!(pool, db::job_stats())?;
        Ok(JobQueue { depth, oldest_due: oldest.and_then(|ms| Timestamp::from_millisecond(ms).ok()) })
    }

    /// The database answers and holds every migration this build knows (`/readyz`).
    pub async fn ready(&self) -> Result<bool, StoreError> {
        let pool = &self.pool;
        on_pool!(pool, db::ready())
    }

    /// Whether [`AsyncStore::close`] has closed the pool.
    pub fn is_closed(&self) -> bool {
        match &self.pool {
            Pool::Sqlite(p) => p.is_closed(),
            Pool::Postgres(p) => p.is_closed(),
        }
    }

    /// Stop the committer and close the pool (flushes SQLite's WAL state cleanly). Appends
    /// still queued are finished first.
    pub async fn close(&self) {
        // Stop the committer first: dropping its channel ends its loop, and it returns the
        // connection it holds; the pool's close waits for every connection.
        drop(self.committer.lock().ok().and_then(|mut c| c.take()));
        let stopped = self.committer_task.lock().ok().and_then(|mut t| t.take());
        if let Some(stopped) = stopped {
            // An error means the thread ended without saying so (it panicked): ended too.
            let _ = stopped.await;
        }
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Store {
    /// Open (and migrate) a store on a private runtime. `url` is `sqlite:PATH`, a plain
    /// path (SQLite), or a `postgres://` URL. A database written by a newer schema is
    /// refused.
    pub fn open(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("countersign-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Open { url: url.to_owned(), reason: e.to_string() })?;
        let core = runtime.block_on(AsyncStore::open(url, options))?;
        Ok(Self { core: Arc::new(core), handle: runtime.handle().clone(), runtime: Some(runtime) })
    }

    /// A blocking face on a shared async store, for a blocking thread of the runtime
    /// `handle` names (`tokio::task::spawn_blocking`). Never call it from async code.
    pub fn on_runtime(core: Arc<AsyncStore>, handle: tokio::runtime::Handle) -> Self {
        Self { core, handle, runtime: None }
    }

    /// The async core.
    pub fn core(&self) -> &Arc<AsyncStore> {
        &self.core
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// The core, to configure it; only while this face is its sole owner.
    fn core_mut(&mut self) -> Result<&mut AsyncStore, StoreError> {
        Arc::get_mut(&mut self.core)
            .ok_or_else(|| StoreError::Append("the store is shared; configure it before sharing it".into()))
    }

    pub fn backend(&self) -> Backend {
        self.core.backend()
    }

    /// See [`AsyncStore::set_signer`].
    pub fn set_signer(&mut self, signer: LogSigner) -> Result<(), StoreError> {
        let handle = self.handle.clone();
        handle.block_on(self.core_mut()?.set_signer(signer))
    }

    /// See [`AsyncStore::trust_key`].
    pub fn trust_key(&mut self, verifier: LogVerifier) -> Result<(), StoreError> {
        self.core_mut()?.trust_key(verifier);
        Ok(())
    }

    /// See [`AsyncStore::set_publishers`].
    pub fn set_publishers(&mut self, publishers: Vec<Box<dyn publish::CheckpointPublisher>>) -> Result<(), StoreError> {
        let handle = self.handle.clone();
        handle.block_on(self.core_mut()?.set_publishers(publishers))
    }

    /// See [`AsyncStore::add_anchors`].
    pub fn add_anchors(&mut self, notes: &[(String, String)]) -> Result<(), StoreError> {
        let handle = self.handle.clone();
        handle.block_on(self.core_mut()?.add_anchors(notes))
    }

    /// The anchors in force (published and trusted checkpoints).
    pub fn anchors(&self) -> &[TrustedCheckpoint] {
        self.core.anchors()
    }

    /// Publishing problems since the last call (the entries themselves were stored).
    pub fn take_publish_errors(&self) -> Vec<String> {
        self.core.take_publish_errors()
    }

    /// Close the store: finish queued appends, close the pool, stop the runtime.
    pub fn close(self) {
        self.block_on(self.core.close());
        // Dropped here: the runtime stops.
    }

    /// See [`AsyncStore::change_records`]; on SQLite read on the connection's own handle
    /// (`sqlite_scan`), not row by row through sqlx's worker.
    pub fn change_records(&self) -> Result<std::collections::HashMap<String, String>, StoreError> {
        match &self.core.pool {
            Pool::Sqlite(pool) => {
                // In the runtime's context: the connection goes back to the pool on it.
                let _context = self.handle.enter();
                sqlite_scan::change_ids(&self.handle, pool)
            }
            Pool::Postgres(_) => self.block_on(self.core.change_records()),
        }
    }

    /// See [`AsyncStore::change_records_of`] (many ids: [`Store::change_records`]).
    pub fn change_records_of(&self, ids: &[&str]) -> Result<std::collections::HashMap<String, String>, StoreError> {
        if ids.len() > MANY_IDS {
            return self.change_records();
        }
        self.block_on(self.core.change_records_of(ids))
    }
}

impl Drop for Store {
    /// A store on its own runtime is closed when dropped, as by [`Store::close`]: queued
    /// appends are finished, and SQLite's last connection folds the write-ahead log into the
    /// database and removes it. Only dropped, its connections would end with the process,
    /// leaving the log for the next process to recover and fold (measured: a re-audit of
    /// git/git 32 ms with the log left behind, 23 ms without; once after a first audit, 91
    /// ms). A face on a shared core ([`Store::on_runtime`]) leaves the core to its owner,
    /// and inside async code nothing can block, so nothing is done there.
    fn drop(&mut self) {
        let owned = self.runtime.is_some() && Arc::strong_count(&self.core) == 1;
        if owned && !self.core.is_closed() && tokio::runtime::Handle::try_current().is_err() {
            self.handle.block_on(self.core.close());
        }
    }
}

/// Blocking wrappers: each runs the async core's method of the same name.
macro_rules! blocking {
    ($( $(#[$meta:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.block_on(self.core.$name($($arg),*))
                }
            )*
        }
    };
}

blocking! {
    /// See [`AsyncStore::create_token`].
    fn create_token(&self, role: Role, person: &str, note: Option<&str>) -> Result<NewToken, StoreError>;
    /// See [`AsyncStore::tokens`].
    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// See [`AsyncStore::revoke_token`].
    fn revoke_token(&self, token_id: &str) -> Result<bool, StoreError>;
    /// See [`AsyncStore::authenticate`].
    fn authenticate(&self, token: &str) -> Result<Option<Caller>, StoreError>;
    /// See [`AsyncStore::create_account`].
    fn create_account(&self, person: &str, role: Role, password: &str) -> Result<bool, StoreError>;
    /// See [`AsyncStore::set_password`].
    fn set_password(&self, person: &str, password: &str) -> Result<bool, StoreError>;
    /// See [`AsyncStore::disable_account`].
    fn disable_account(&self, person: &str) -> Result<bool, StoreError>;
    /// See [`AsyncStore::accounts`].
    fn accounts(&self) -> Result<Vec<AccountRow>, StoreError>;
    /// See [`AsyncStore::sign_in`].
    fn sign_in(&self, person: &str, password: &str, ttl: jiff::SignedDuration) -> Result<Option<NewSession>, StoreError>;
    /// See [`AsyncStore::session`].
    fn session(&self, cookie: &str) -> Result<Option<Session>, StoreError>;
    /// See [`AsyncStore::end_session`].
    fn end_session(&self, cookie: &str) -> Result<(), StoreError>;
    /// See [`AsyncStore::record_verification`].
    fn record_verification(&self, entries: u64, ok: bool, summary: &str) -> Result<(), StoreError>;
    /// See [`AsyncStore::last_verification`].
    fn last_verification(&self) -> Result<Option<VerificationRow>, StoreError>;
    /// See [`AsyncStore::save_evaluation`].
    fn save_evaluation(&self, row: &EvaluationRow) -> Result<(), StoreError>;
    /// See [`AsyncStore::evaluations`].
    fn evaluations(&self, filter: &EvaluationFilter) -> Result<Vec<EvaluationRow>, StoreError>;
    /// The log's public key as recorded at `init`, if any.
    fn log_vkey(&self) -> Result<Option<String>, StoreError>;
    /// The verifier for this log, from the key recorded at `init`.
    fn log_verifier(&self) -> Result<LogVerifier, StoreError>;
    /// See [`AsyncStore::publish_latest`].
    fn publish_latest(&self) -> Result<(), StoreError>;
    /// See [`AsyncStore::upsert_changes`].
    fn upsert_changes(&self, changes: &[ChangeRef]) -> Result<(), StoreError>;
    /// See [`AsyncStore::register_new_changes`].
    fn register_new_changes(&self, changes: &[ChangeRef]) -> Result<usize, StoreError>;
    /// See [`AsyncStore::change_links_digest`].
    fn change_links_digest(&self) -> Result<String, StoreError>;
    /// See [`AsyncStore::resolve_change`].
    fn resolve_change(&self, reference: &str) -> Result<Option<evidence::SubjectChange>, StoreError>;
    /// See [`AsyncStore::record`].
    fn record(&self, request: &RecordRequest) -> Result<AppendOutcome, StoreError>;
    /// See [`AsyncStore::record_many`].
    fn record_many(&self, requests: &[RecordRequest]) -> Result<Vec<AppendOutcome>, StoreError>;
    /// See [`AsyncStore::idempotent_entry`].
    fn idempotent_entry(&self, key: &str) -> Result<Option<u64>, StoreError>;
    /// See [`AsyncStore::publish_policy`].
    fn publish_policy(&self, version: &str, text: &str, by: &str, at: Timestamp) -> Result<AppendOutcome, StoreError>;
    /// See [`AsyncStore::tree_size`].
    fn tree_size(&self) -> Result<u64, StoreError>;
    /// See [`AsyncStore::latest_checkpoint`].
    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError>;
    /// See [`AsyncStore::entry`].
    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError>;
    /// See [`AsyncStore::inclusion_proof`].
    fn inclusion_proof(&self, index: u64, at_least: Option<u64>) -> Result<TlogProof, StoreError>;
    /// See [`AsyncStore::consistency_proof`].
    fn consistency_proof(&self, old: u64, new: Option<u64>) -> Result<ConsistencyProofText, StoreError>;
    /// See [`AsyncStore::checkpoint`].
    fn checkpoint(&self, size: u64) -> Result<String, StoreError>;
    /// Run raw SQL against the store. For tests that tamper with a store on purpose.
    #[doc(hidden)]
    fn execute_raw_for_tests(&self, sql: &str) -> Result<u64, StoreError>;
}

impl Store {
    /// Recorded evidence about these changes (change ids or commits), for `check`: only
    /// entries proven by [`Store::proven_scan`], matched by the change their signed
    /// payload names. References that name no registered change are skipped.
    pub fn evidence_for(&self, references: &[&str]) -> Result<Vec<RecordedEvidence>, StoreError> {
        Ok(self.evidence_for_and_kinds(references, &[])?.0)
    }

    /// [`Store::evidence_for`], and in the same scan every entry of these kinds (the
    /// recorded exceptions that apply to any change).
    pub fn evidence_for_and_kinds(
        &self,
        references: &[&str],
        kinds: &[&str],
    ) -> Result<(Vec<RecordedEvidence>, Vec<RecordedEvidence>), StoreError> {
        let mut ids = std::collections::HashSet::new();
        for reference in references {
            let pool = &self.core.pool;
            for row in self.handle.block_on(async { on_pool!(pool, db::find_changes(reference)) })? {
                ids.insert(row.id);
            }
        }
        let picked = self.proven_select(&proven::Selection { changes: ids, any_change: false, kinds })?;
        Ok(picked.into_iter().partition(|e| !kinds.contains(&e.evidence.kind())))
    }

    /// All recorded evidence that concerns a change, in log order, for `audit`: only
    /// entries proven by [`Store::proven_scan`]; the change is the one the signed payload
    /// names, never the unsigned `change_id` column.
    pub fn all_change_evidence(&self) -> Result<Vec<RecordedEvidence>, StoreError> {
        Ok(self.all_change_evidence_and_kinds(&[])?.0)
    }

    /// [`Store::all_change_evidence`], and in the same scan every entry of these kinds that
    /// names no change (console changes, which are changes of their own).
    pub fn all_change_evidence_and_kinds(
        &self,
        kinds: &[&str],
    ) -> Result<(Vec<RecordedEvidence>, Vec<RecordedEvidence>), StoreError> {
        let picked = self.proven_select(&proven::Selection { changes: Default::default(), any_change: true, kinds })?;
        Ok(picked.into_iter().partition(|e| e.change_id.is_some()))
    }

    /// Recorded evidence of these kinds (`deploy`, `deploy-decision`, …), in log order:
    /// only entries proven by [`Store::proven_scan`], for the deploy gate and the reports.
    pub fn evidence_of_kinds(&self, kinds: &[&str]) -> Result<Vec<RecordedEvidence>, StoreError> {
        self.proven_select(&proven::Selection { changes: Default::default(), any_change: false, kinds })
    }

    /// Read every entry that a verdict or an export may use, proven first: the tree of all
    /// entries has the root of the latest signed checkpoint (so each entry is included
    /// under a checkpoint the trusted key signed), every stored checkpoint and anchor
    /// agrees, no entry lies beyond the newest checkpoint, the stored tree state matches,
    /// and every entry's index columns (`kind`, `change_id`, `recorded_at`, `recorded_by`)
    /// equal its signed payload. Entry signatures are not re-checked one by one: inclusion
    /// under a signed checkpoint proves the same bytes were logged. Any failure is
    /// [`StoreError::Tampered`], and nothing read is handed on as evidence.
    ///
    /// What it proves is kept: the reads above then prove only what was appended since
    /// ([`proven`]).
    pub fn proven_scan(&self, visit: &mut dyn FnMut(RecordedEvidence, &[u8])) -> Result<u64, StoreError> {
        let mut prefix = self.core.proven.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entries = self.prove_all(&mut prefix)?;
        drop(prefix);
        let size = entries.len() as u64;
        for (e, bytes) in entries {
            visit(e, &bytes);
        }
        Ok(size)
    }

    /// The whole proof of [`Store::proven_scan`]: every entry, decoded, with its bytes.
    fn prove_log(&self) -> Result<Vec<(RecordedEvidence, Vec<u8>)>, StoreError> {
        let verifier = match self.handle.block_on(self.core.trusted_verifier()) {
            Ok(v) => v,
            Err(StoreError::NotInitialized) => {
                // No key anywhere: only a store nothing was ever recorded in is acceptable.
                let pool = &self.core.pool;
                let entries = self.handle.block_on(async { on_pool!(pool, db::count_from(0)) })?;
                if entries == 0 && self.latest_checkpoint()?.is_none() {
                    return Ok(Vec::new());
                }
                return Err(StoreError::Tampered(format!(
                    "the store holds {entries} entries but no log key is recorded for it"
                )));
            }
            Err(e) => return Err(e),
        };
        let mut seen = Vec::new();
        let result = self.verify_with(
            &verifier,
            AuditOptions { entry_signatures: false },
            &self.core.anchors,
            Some(&mut |e: RecordedEvidence, bytes: &[u8]| seen.push((e, bytes.to_vec()))),
        )?;
        match result {
            Ok(summary) if summary.entries == seen.len() as u64 => Ok(seen),
            Ok(summary) => Err(StoreError::Tampered(format!(
                "the proof covered {} entries but read {}",
                summary.entries,
                seen.len()
            ))),
            Err(failure) => Err(StoreError::Tampered(failure.to_string())),
        }
    }

    /// Verify the whole log against the trusted key and the anchors this store was given
    /// (published checkpoints, [`Store::set_publishers`], [`Store::add_anchors`]). See
    /// [`Store::verify_with`].
    pub fn verify(
        &self,
        verifier: &LogVerifier,
        options: AuditOptions,
    ) -> Result<Result<AuditSummary, VerifyFailure>, StoreError> {
        self.verify_with(verifier, options, &self.core.anchors, None)
    }

    /// Verify the whole log: every leaf hash, every entry signature (unless switched off),
    /// every checkpoint's signature and root, and beyond the entries themselves:
    /// - a non-empty log has a signed checkpoint, and no entry lies beyond the newest one;
    /// - every index column equals the signed payload it indexes;
    /// - the stored tree state (`log_state`, every `tree_nodes` row) matches the entries;
    /// - every `trusted` checkpoint (an auditor's saved copy, a published one) is reached
    ///   with the same root: a smaller log is a rollback, another root at the same size a
    ///   fork (reported with both roots).
    ///
    /// `Ok(Err(failure))` names the first bad entry. `visit` receives every entry,
    /// decoded, as it is read; it must keep nothing if the result is a failure.
    ///
    /// Entries are read with one streaming query, in chunks (on SQLite on the connection's
    /// raw handle, `sqlite_scan`), while the previous chunk is verified: its index columns
    /// (`index_fields` unless `visit` wants every entry decoded), its leaves and the tree
    /// nodes they complete, at once on rayon's threads; checkpoints are read in
    /// pages just ahead of the entries they cover; tree nodes are read in the order a
    /// growing tree completes them, alongside. Entries appended while this runs (each
    /// commits together with its checkpoint) are verified in further rounds, up to a
    /// bound, so a concurrent append cannot pass for tampering.
    pub fn verify_with(
        &self,
        verifier: &LogVerifier,
        options: AuditOptions,
        trusted: &[TrustedCheckpoint],
        mut visit: Option<&mut dyn FnMut(RecordedEvidence, &[u8])>,
    ) -> Result<Result<AuditSummary, VerifyFailure>, StoreError> {
        use rayon::prelude::*;
        use std::collections::BTreeMap;
        const CHECKPOINT_PAGE: u64 = 10_000;
        const ROUNDS: usize = 8;
        let failure =
            |entry: Option<u64>, checkpoint: Option<u64>, problem: String| VerifyFailure { entry, checkpoint, problem };
        let pool = &self.core.pool;

        // Trusted checkpoints, by size; two of one size must agree.
        let mut checks: BTreeMap<u64, &TrustedCheckpoint> = BTreeMap::new();
        for t in trusted {
            if let Some(other) = checks.get(&t.checkpoint.size)
                && other.checkpoint.root != t.checkpoint.root
            {
                return Ok(Err(failure(
                    None,
                    Some(t.checkpoint.size),
                    format!(
                        "fork: two signed checkpoints of size {} with different roots, {} ({}) and {} ({})",
                        t.checkpoint.size,
                        evidence::hex(&other.checkpoint.root),
                        other.source,
                        evidence::hex(&t.checkpoint.root),
                        t.source
                    ),
                )));
            }
            checks.insert(t.checkpoint.size, t);
        }

        // Stored tree nodes, streamed in completion order and compared as leaves arrive.
        // A stream reads one snapshot; each round reads the nodes again from where it left
        // off, in a snapshot taken after the round read its checkpoint, so the nodes of
        // entries appended meanwhile are there and cannot pass for missing.
        let mut nodes: Option<NodeStream> = None;
        let mut node_frontier = merkle::Frontier::new();

        let mut audit = LogAudit::streaming(verifier, options);
        let mut loaded = 0u64; // checkpoints with size <= loaded are in the audit
        let mut upto = 0u64; // entries [0, upto) were streamed
        let mut truncated = false;
        let result = (|| -> Result<Result<(), VerifyFailure>, StoreError> {
            let mut round = 0;
            loop {
                round += 1;
                let (state_size, state_frontier) = self.handle.block_on(async { on_pool!(pool, db::log_state()) })?;
                let latest = self
                    .handle
                    .block_on(async { on_pool!(pool, db::latest_checkpoint()) })?
                    .map_or(0, |(size, _)| size);
                let after = nodes.as_mut().map_or((0, -1), |n| {
                    n.stop();
                    n.cursor
                });
                let nodes = nodes.insert(NodeStream::start(&self.handle, pool, after, STREAM_CHUNK));
                if latest > upto {
                    // Entries [upto, latest), with the checkpoints up to `latest`.
                    let (tx, mut rx) = mpsc::channel(2);
                    let reader = self.stream_entries(upto, latest, tx);
                    let mut load_until =
                        |audit: &mut LogAudit<'_>, needed: u64| -> Result<Result<(), VerifyFailure>, StoreError> {
                            while loaded < latest && loaded < needed {
                                let page = self.handle.block_on(async {
                                    on_pool!(pool, db::checkpoints_page(loaded, latest, CHECKPOINT_PAGE))
                                })?;
                                let Some(last) = page.last() else {
                                    loaded = latest;
                                    break;
                                };
                                loaded = last.0;
                                let notes: Vec<String> = page.into_iter().map(|(_, note)| note).collect();
                                if let Err(f) = audit.add_checkpoints(&notes) {
                                    return Ok(Err(f));
                                }
                            }
                            Ok(Ok(()))
                        };
                    let streamed = (|| -> Result<Result<(), VerifyFailure>, StoreError> {
                        while let Some(chunk) = rx.blocking_recv() {
                            let chunk = chunk?;
                            let next = chunk.indices.last().map_or(0, |i| i + 1);
                            if let Err(f) = load_until(&mut audit, next)? {
                                return Ok(Err(f));
                            }
                            // Three parts at once, on rayon's threads: the index columns of
                            // every entry, the leaves into the audit (hashes, checkpoints and
                            // trusted roots), and the stored tree nodes the leaves complete.
                            // Their failures are then reported in the order one pass would
                            // meet them: the audit's first, then by entry, an entry's columns
                            // before the nodes it completes.
                            let refs: Vec<EntryRef<'_>> = (0..chunk.len())
                                .map(|i| EntryRef {
                                    index: chunk.indices[i],
                                    stored_leaf_hash: Some(chunk.hashes[i].as_ref().unwrap_or(&[0u8; 32])),
                                    bytes: chunk.bytes(i),
                                })
                                .collect();
                            let visiting = visit.is_some();
                            let columns = || -> Vec<Result<Option<RecordedEvidence>, String>> {
                                // Decoded whole for a visitor, else only the four fields the
                                // columns repeat, and whole only when those do not match (the
                                // full decode names the problem).
                                (0..chunk.len())
                                    .into_par_iter()
                                    .with_min_len(256)
                                    .map_init(Vec::new, |scratch, i| {
                                        let (bytes, columns) = (chunk.bytes(i), chunk.columns(i));
                                        if !visiting && index_fields::columns_match(bytes, columns, scratch) {
                                            return Ok(None);
                                        }
                                        checked_entry(chunk.indices[i], bytes, columns).map(Some)
                                    })
                                    .collect()
                            };
                            let leaves = || -> Result<Result<(), VerifyFailure>, StoreError> {
                                // Push in segments that end at trusted sizes, to check their roots.
                                let mut start = 0;
                                while start < refs.len() {
                                    let base = audit.entries();
                                    let room = (refs.len() - start) as u64;
                                    let end = match checks.range(base + 1..=base + room).next() {
                                        Some((&size, _)) => start + (size - base) as usize,
                                        None => refs.len(),
                                    };
                                    if let Err(f) = audit.push(&refs[start..end]) {
                                        return Ok(Err(f));
                                    }
                                    if let Some(t) = checks.get(&audit.entries())
                                        && t.checkpoint.root != audit.root()
                                    {
                                        return Ok(Err(self.trusted_mismatch(verifier, t, audit.root())?));
                                    }
                                    start = end;
                                }
                                Ok(Ok(()))
                            };
                            // A stored tree node that is not what the entries make it.
                            let altered = |id: NodeId, problem: String, consequence: &str| {
                                failure(
                                    Some(id.index << id.level),
                                    None,
                                    format!(
                                        "the stored tree node at level {} index {} {problem}: the stored tree state was altered{consequence}",
                                        id.level, id.index
                                    ),
                                )
                            };
                            // The first entry whose completed nodes are not the stored ones.
                            let stored_nodes = || -> Option<(usize, Result<VerifyFailure, StoreError>)> {
                                for (i, entry) in refs.iter().enumerate() {
                                    for (id, hash) in node_frontier.push(*entry.stored_leaf_hash.unwrap_or(&[0u8; 32]))
                                    {
                                        match nodes.next() {
                                            Err(e) => return Some((i, Err(e))),
                                            Ok(Some((stored_id, stored_hash))) if stored_id == id => {
                                                if stored_hash != Some(hash) {
                                                    let problem = "does not match the entries it covers".to_string();
                                                    let consequence = " (proofs built from it would not verify)";
                                                    return Some((i, Ok(altered(id, problem, consequence))));
                                                }
                                            }
                                            Ok(found) => {
                                                let what = match found {
                                                    Some((other, _)) => {
                                                        format!(
                                                            "found level {} index {} instead",
                                                            other.level, other.index
                                                        )
                                                    }
                                                    None => "it is missing".into(),
                                                };
                                                let problem = format!("is not where the entries put it ({what})");
                                                return Some((i, Ok(altered(id, problem, ""))));
                                            }
                                        }
                                    }
                                }
                                None
                            };
                            let (decoded, (pushed, bad_node)) =
                                rayon::join(columns, || rayon::join(leaves, stored_nodes));
                            if let Err(f) = pushed? {
                                return Ok(Err(f));
                            }
                            let bad_node_at = bad_node.as_ref().map(|(at, _)| *at);
                            for (i, e) in decoded.into_iter().enumerate() {
                                let evidence = match e {
                                    Ok(evidence) => evidence,
                                    Err(problem) => return Ok(Err(failure(Some(chunk.indices[i]), None, problem))),
                                };
                                if bad_node_at == Some(i)
                                    && let Some((_, bad)) = bad_node
                                {
                                    return bad.map(Err);
                                }
                                if let (Some(visit), Some(evidence)) = (visit.as_mut(), evidence) {
                                    visit(evidence, chunk.bytes(i));
                                }
                            }
                        }
                        Ok(Ok(()))
                    })();
                    drop(rx);
                    reader.abort();
                    if let Err(f) = streamed? {
                        return Ok(Err(f));
                    }
                    if let Err(f) = load_until(&mut audit, latest)? {
                        return Ok(Err(f));
                    }
                    upto = latest;
                    if audit.entries() < latest {
                        // Entries are missing below a signed checkpoint: `finish` names them.
                        truncated = true;
                        return Ok(Ok(()));
                    }
                    if round < ROUNDS {
                        continue;
                    }
                }
                // Nothing beyond the newest checkpoint, and the stored state is the tree's.
                let beyond = self.handle.block_on(async { on_pool!(pool, db::count_from(upto)) })?;
                let settled = latest <= upto && beyond == 0 && state_size == upto;
                if !settled && round < ROUNDS {
                    continue;
                }
                // Still moving after the last round: a busy log. What lies beyond the proven
                // prefix [0, upto) must be appends in flight, each committed with the signed
                // checkpoint that covers it; anything a checkpoint does not cover fails.
                let newest = if settled {
                    upto
                } else {
                    self.handle.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?.map_or(0, |(size, _)| size)
                };
                if beyond > 0 && newest < upto + beyond {
                    let problem = if upto == 0 && newest == 0 {
                        format!(
                            "the log holds {beyond} entries but no signed checkpoint: the checkpoints were deleted, or the entries were inserted without the log key"
                        )
                    } else {
                        format!(
                            "{beyond} entries at index {upto} and beyond are not covered by any signed checkpoint (the newest is of size {newest}): they were added without the log key, or the checkpoints that covered them were deleted"
                        )
                    };
                    return Ok(Err(failure(Some(upto), None, problem)));
                }
                // The stored tree state must match the entries. On a busy log it may have
                // moved on since it was read: read it again, and compare it when it is at
                // the proven size; ahead of it, it must be covered by a signed checkpoint
                // (the appender proves it extends that checkpoint before it signs).
                let (state_size, state_frontier, covered) = if settled {
                    (state_size, state_frontier, upto)
                } else {
                    let (size, frontier) = self.handle.block_on(async { on_pool!(pool, db::log_state()) })?;
                    // Read after the state: an append commits both together.
                    let covered = self
                        .handle
                        .block_on(async { on_pool!(pool, db::latest_checkpoint()) })?
                        .map_or(0, |(size, _)| size);
                    (size, frontier, covered)
                };
                let moved_on = !settled && state_size > upto && state_size <= covered;
                if !moved_on && (state_size != upto || state_frontier != audit.frontier().to_bytes()) {
                    return Ok(Err(failure(
                        None,
                        None,
                        format!(
                            "the stored log state (size {state_size} and its frontier) does not match the {upto} entries: it was altered, and an append would sign a wrong root"
                        ),
                    )));
                }
                return Ok(Ok(()));
            }
        })();
        if let Err(f) = result? {
            if let Some(n) = nodes.as_mut() {
                n.stop();
            }
            return Ok(Err(f));
        }
        if truncated {
            if let Some(n) = nodes.as_mut() {
                n.stop();
            }
            return Ok(audit.finish());
        }
        // A stored node no leaf completes lies beyond the log, unless an append that
        // committed since the last round (with its checkpoint) completes it.
        let leftover = match nodes.as_mut() {
            Some(n) => n.next()?,
            None => None,
        };
        if let Some(n) = nodes.as_mut() {
            n.stop();
        }
        let newest = if leftover.is_some() {
            self.handle.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?.map_or(0, |(size, _)| size)
        } else {
            0
        };
        if let Some((id, _)) = leftover.filter(|(id, _)| ((id.index + 1) << id.level) > newest) {
            return Ok(Err(failure(
                None,
                None,
                format!(
                    "a stored tree node (level {} index {}) lies beyond the log's {} entries: the stored tree state was altered",
                    id.level,
                    id.index,
                    audit.entries()
                ),
            )));
        }
        let size = audit.entries();
        if let Some((_, t)) = checks.range(size + 1..).next_back() {
            return Ok(Err(failure(
                Some(size),
                Some(t.checkpoint.size),
                format!(
                    "rolled back: the log has {size} entries, but the checkpoint of size {} ({}) was signed for it: entries were removed, or the store was restored from an earlier state",
                    t.checkpoint.size, t.source
                ),
            )));
        }
        Ok(audit.finish())
    }

    /// Stream entries `[from, to)` in chunks into `out`, on the store's runtime.
    fn stream_entries(
        &self,
        from: u64,
        to: u64,
        out: mpsc::Sender<Result<db::EntryChunk, StoreError>>,
    ) -> tokio::task::JoinHandle<()> {
        match &self.core.pool {
            Pool::Sqlite(p) => {
                let (runtime, pool) = (self.handle.clone(), p.clone());
                self.handle
                    .spawn_blocking(move || sqlite_scan::stream_entries(&runtime, &pool, from, to, STREAM_CHUNK, &out))
            }
            Pool::Postgres(p) => {
                self.handle.spawn(db::postgres::stream_entries(p.clone(), from, to, STREAM_CHUNK, out))
            }
        }
    }

    /// A trusted checkpoint whose root the log does not reach: a fork when the store holds
    /// another signed checkpoint of that size, else a rewrite.
    fn trusted_mismatch(
        &self,
        verifier: &LogVerifier,
        trusted: &TrustedCheckpoint,
        log_root: merkle::Hash,
    ) -> Result<VerifyFailure, StoreError> {
        let size = trusted.checkpoint.size;
        let pool = &self.core.pool;
        let stored = self
            .handle
            .block_on(async { on_pool!(pool, db::checkpoint_at_least(size)) })?
            .filter(|(s, _)| *s == size)
            .and_then(|(_, note)| Checkpoint::open(&note, verifier).ok());
        let problem = match stored {
            Some(cp) if cp.root != trusted.checkpoint.root => format!(
                "fork: two signed checkpoints of size {size} with different roots, {} (in the store) and {} ({})",
                evidence::hex(&cp.root),
                evidence::hex(&trusted.checkpoint.root),
                trusted.source
            ),
            _ => format!(
                "the log's first {size} entries have root {}, but the trusted checkpoint of size {size} ({}) has root {}: those entries were rewritten",
                evidence::hex(&log_root),
                trusted.source,
                evidence::hex(&trusted.checkpoint.root)
            ),
        };
        Ok(VerifyFailure { entry: None, checkpoint: Some(size), problem })
    }

    /// Entries recorded in `[since, until)` by their signed `recordedAt`, proven first
    /// ([`Store::proven_scan`]), and the policy version in force at `until`: the last
    /// `policy-version` entry recorded before it, with its stored text, whose digest must
    /// be the one logged.
    /// The entries recorded in [since, until), and every policy version in force during the
    /// period, oldest first: the one in force at `since` and each published before `until`
    /// (version, digest, text, entry).
    #[allow(clippy::type_complexity)]
    pub(crate) fn export_rows(&self, since: &str, until: &str) -> Result<ExportRows, StoreError> {
        let since: Timestamp = since.parse().map_err(|e| StoreError::Package(format!("--since: {e}")))?;
        let until: Timestamp = until.parse().map_err(|e| StoreError::Package(format!("--until: {e}")))?;
        let mut rows = Vec::new();
        let mut versions: Vec<(String, String, u64)> = Vec::new();
        let mut deliveries: Vec<(u64, String, String, String)> = Vec::new();
        self.proven_scan(&mut |e, bytes| {
            if e.recorded_at < until
                && let Evidence::PolicyVersion { version, sha256 } = &e.evidence
            {
                // One in force before the period is superseded by the next one before it.
                if e.recorded_at <= since {
                    versions.clear();
                }
                versions.push((version.clone(), sha256.clone(), e.index));
            }
            if e.recorded_at >= since && e.recorded_at < until {
                rows.push((e.index, bytes.to_vec()));
                if let Evidence::WebhookDelivery { forge, delivery_id, sha256, .. } = &e.evidence {
                    deliveries.push((e.index, forge.clone(), delivery_id.clone(), sha256.clone()));
                }
            }
        })?;
        // The raw body of every webhook delivery in the period: the forge's exact words.
        let mut bodies = Vec::with_capacity(deliveries.len());
        for (index, forge, id, sha256) in deliveries {
            let pool = &self.core.pool;
            let stored = self.handle.block_on(async { on_pool!(pool, db::delivery(&forge, &id)) })?;
            match stored.and_then(|d| d.body) {
                Some(body) if evidence::sha256_hex(&body) == sha256 => bodies.push((index, forge, id, sha256, body)),
                _ => {
                    return Err(StoreError::Tampered(format!(
                        "the stored body of webhook delivery {forge}:{id} is missing or does not match the digest logged in entry {index}"
                    )));
                }
            }
        }
        let mut policies = Vec::new();
        for (version, sha256, index) in versions {
            let pool = &self.core.pool;
            let text = self.handle.block_on(async { on_pool!(pool, db::policy_text(&version)) })?;
            match text {
                Some(text) if evidence::sha256_hex(text.as_bytes()) == sha256 => {
                    policies.push((version, sha256, text, index))
                }
                _ => {
                    return Err(StoreError::Tampered(format!(
                        "the stored text of policy version {version} is missing or does not match the digest logged in entry {index}"
                    )));
                }
            }
        }
        Ok(ExportRows { rows, policies, deliveries: bodies })
    }
}

/// What an evidence package holds from the store: the entries of the period, the policy
/// versions in force (version, SHA-256, text, entry) and the raw webhook bodies (entry,
/// forge, delivery id, SHA-256, body).
pub(crate) struct ExportRows {
    pub rows: Vec<(u64, Vec<u8>)>,
    pub policies: Vec<(String, String, String, u64)>,
    pub deliveries: Vec<(u64, String, String, String, Vec<u8>)>,
}

/// Decode an entry and check the unsigned index columns stored beside it against its
/// signed payload. The error names the entry and the column.
fn checked_entry(index: u64, bytes: &[u8], columns: db::ColumnsRef<'_>) -> Result<RecordedEvidence, String> {
    let e = recorded_from_entry(index, bytes).map_err(|e| e.to_string())?;
    let column = |name: &str, stored: &str, signed: &str| {
        format!(
            "its index column {name} was altered: the row says {stored:?} but the signed entry says {signed:?} (readers that select by this column would miss or misplace it)"
        )
    };
    if columns.kind != e.evidence.kind() {
        return Err(column("kind", columns.kind, e.evidence.kind()));
    }
    if columns.change_id != e.change_id.as_deref() {
        return Err(column("change_id", columns.change_id.unwrap_or("NULL"), e.change_id.as_deref().unwrap_or("NULL")));
    }
    if columns.recorded_at.parse::<Timestamp>().ok() != Some(e.recorded_at) {
        return Err(column("recorded_at", columns.recorded_at, &e.recorded_at.to_string()));
    }
    if columns.recorded_by != e.recorded_by {
        return Err(column("recorded_by", columns.recorded_by, &e.recorded_by));
    }
    Ok(e)
}

/// Decode an entry back into evidence.
pub fn recorded_from_entry(index: u64, bytes: &[u8]) -> Result<RecordedEvidence, StoreError> {
    let statement = dsse::statement_unverified(bytes)?;
    let (evidence, change_id, recorded_by, at) = evidence::evidence_from_statement(&statement).ok_or_else(|| {
        StoreError::Corrupt(format!("entry {index} is not countersign evidence ({})", statement.predicate_type))
    })?;
    Ok(RecordedEvidence { index, change_id, recorded_by, recorded_at: at.unwrap_or(Timestamp::UNIX_EPOCH), evidence })
}

/// The group committer: takes every append waiting, commits them in one transaction (one
/// fsync, one checkpoint signature), then acknowledges each.
/// Where the committer publishes each new checkpoint, and where it keeps what failed.
struct Publishing {
    publishers: std::sync::Arc<Vec<Box<dyn publish::CheckpointPublisher>>>,
    errors: std::sync::Arc<Mutex<Vec<String>>>,
}

fn publish_to(publishers: &[Box<dyn publish::CheckpointPublisher>], errors: &Mutex<Vec<String>>, note: &str) {
    for p in publishers {
        if let Err(e) = p.publish(note)
            && let Ok(mut errors) = errors.lock()
        {
            errors.push(e.to_string());
        }
    }
}

/// The group committer: one thread of its own, which takes every append waiting (up to
/// [`MAX_GROUP`]) into one transaction. On SQLite it runs the append's statements itself,
/// on a connection of its own (`sqlite_append`), so an append costs one hand-off to this
/// thread and one back; the rest (the locked path, PostgreSQL, publishing) runs on the
/// store's runtime through `handle`.
#[allow(clippy::too_many_arguments)]
fn group_committer(
    handle: tokio::runtime::Handle,
    pool: Pool,
    writer: Arc<tokio::sync::Mutex<()>>,
    signer: LogSigner,
    anchors: Vec<Checkpoint>,
    publishing: Publishing,
    clock: Clock,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    // sqlx returns a pooled connection by spawning a task: whatever this thread drops, it
    // drops inside the runtime's context.
    let _context = handle.enter();
    // One held connection and the log state it last wrote (see `db::sqlite::Appender`).
    enum Appender {
        Sqlite(db::sqlite::Appender),
        Postgres(db::postgres::Appender),
    }
    let mut appender = match &pool {
        Pool::Sqlite(_) => Appender::Sqlite(db::sqlite::Appender::with_anchors(anchors)),
        Pool::Postgres(_) => Appender::Postgres(db::postgres::Appender::with_anchors(anchors)),
    };
    // Publish the latest checkpoint before acknowledging, so that an acknowledged entry is
    // covered by a checkpoint kept outside the database too.
    let publish = || {
        if publishing.publishers.is_empty() {
            return;
        }
        let pool = &pool;
        match handle.block_on(async { on_pool!(pool, db::latest_checkpoint()) }) {
            Ok(Some((_, note))) => publish_to(&publishing.publishers, &publishing.errors, &note),
            Ok(None) => {}
            Err(e) => {
                if let Ok(mut errors) = publishing.errors.lock() {
                    errors.push(e.to_string());
                }
            }
        }
    };
    let mut append = |entries: &[&db::PreparedEntry], now: &str| -> Result<Vec<AppendOutcome>, StoreError> {
        match (&mut appender, &pool) {
            (Appender::Sqlite(a), Pool::Sqlite(p)) => {
                // The appender's own connection, opened for the first append (and again
                // for the next, if it would not open: this one fails with why).
                if !a.has_raw() {
                    a.set_raw(sqlite_append::RawAppender::open(p.connect_options().get_filename())?);
                }
                // In-process writers take turns (`AsyncStore::writer`).
                let _turn = writer.blocking_lock();
                handle.block_on(a.append(p, &signer, entries, now))
            }
            (Appender::Postgres(a), Pool::Postgres(p)) => handle.block_on(a.append(p, &signer, entries, now)),
            _ => Err(StoreError::Append("backend mismatch".into())),
        }
    };
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let entries: Vec<&db::PreparedEntry> = jobs.iter().map(|(e, _)| e).collect();
        let now = now_rfc3339(clock);
        match append(&entries, &now) {
            Ok(outcomes) => {
                publish();
                for ((_, done), outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = done.send(Ok(outcome));
                }
            }
            Err(err) if jobs.len() == 1 => {
                if let Some((_, done)) = jobs.pop() {
                    let _ = done.send(Err(err));
                }
            }
            Err(_) => {
                // One bad entry must not fail the others: retry them one by one.
                for (entry, done) in jobs {
                    let result = append(&[&entry], &now).map(|mut o| o.remove(0));
                    if result.is_ok() {
                        publish();
                    }
                    let _ = done.send(result);
                }
            }
        }
    }
}

pub use countersign_log::note::Checkpoint as LogCheckpoint;

/// The stored tree nodes, streamed in completion order (`db::stream_nodes`); a new stream
/// from the last node's `cursor` reads on in a fresh snapshot.
struct NodeStream {
    rx: mpsc::Receiver<Result<db::NodeChunk, StoreError>>,
    reader: tokio::task::JoinHandle<()>,
    buffered: std::collections::VecDeque<(NodeId, Option<merkle::Hash>)>,
    /// The order key of the last node handed out: (leaf count at completion, level).
    cursor: (i64, i32),
}

impl NodeStream {
    fn start(handle: &tokio::runtime::Handle, pool: &Pool, after: (i64, i32), chunk: usize) -> NodeStream {
        let (tx, rx) = mpsc::channel(2);
        let reader = match pool {
            Pool::Sqlite(p) => {
                let (runtime, pool) = (handle.clone(), p.clone());
                handle.spawn_blocking(move || sqlite_scan::stream_nodes(&runtime, &pool, after, chunk, &tx))
            }
            Pool::Postgres(p) => handle.spawn(db::postgres::stream_nodes(p.clone(), after, chunk, tx)),
        };
        NodeStream { rx, reader, buffered: Default::default(), cursor: after }
    }

    fn next(&mut self) -> Result<Option<(NodeId, Option<merkle::Hash>)>, StoreError> {
        if self.buffered.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.buffered.extend(chunk?),
                None => return Ok(None),
            }
        }
        let node = self.buffered.pop_front();
        if let Some((id, _)) = &node {
            let completes = i64::try_from((id.index + 1) << id.level).unwrap_or(i64::MAX);
            self.cursor = (completes, i32::from(id.level));
        }
        Ok(node)
    }

    fn stop(&mut self) {
        // A reader on a blocking thread stops at its next send.
        self.rx.close();
        self.reader.abort();
    }
}
