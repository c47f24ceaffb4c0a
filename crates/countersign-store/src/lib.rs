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

pub mod cli;
mod db;
pub mod evidence;
pub mod keys;
pub mod package;

use std::str::FromStr as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use countersign_log::audit::{AuditOptions, AuditSummary, EntryRef, LogAudit, VerifyFailure};
use countersign_log::dsse;
use countersign_log::merkle::{self, Hash, NodeId};
use countersign_log::note::{LogSigner, LogVerifier, NoteError};
use countersign_log::proof_text::{ConsistencyProofText, TlogProof};
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

pub use db::AppendOutcome;
pub use evidence::{Evidence, RecordRequest, RecordedEvidence};
pub use keys::KeyError;

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
    ($pool:expr, $module:ident :: $f:ident ( $($arg:expr),* )) => {
        match $pool {
            Pool::Sqlite(p) => db::sqlite::$f(p $(, $arg)*).await,
            Pool::Postgres(p) => db::postgres::$f(p $(, $arg)*).await,
        }
    };
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

/// The most entries one group commit appends in one transaction.
const MAX_GROUP: usize = 512;

/// An open evidence store. Blocking; safe to share between threads (`&Store` is `Sync`):
/// concurrent appends from several threads are group-committed.
pub struct Store {
    runtime: tokio::runtime::Runtime,
    pool: Pool,
    signer: Option<LogSigner>,
    committer: OnceLock<mpsc::UnboundedSender<Job>>,
    /// The committer task, joined on `close` after its channel is dropped, so that the
    /// connection it holds is returned before the pool closes.
    committer_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serializes starting the committer.
    start: Mutex<()>,
    clock: Clock,
}

fn now_rfc3339(clock: Clock) -> String {
    // Whole seconds, so stored times sort as text.
    whole_second(clock()).to_string()
}

/// A time truncated to the second, as records are stamped.
pub fn whole_second(time: Timestamp) -> Timestamp {
    Timestamp::from_second(time.as_second()).unwrap_or(time)
}

impl Store {
    /// Open (and migrate) a store. `url` is `sqlite:PATH`, a plain path (SQLite), or a
    /// `postgres://` URL. A database written by a newer schema is refused.
    pub fn open(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("countersign-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Open { url: url.to_owned(), reason: e.to_string() })?;
        let pool = runtime.block_on(async {
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
                        .busy_timeout(Duration::from_secs(120))
                        .foreign_keys(true);
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
        })?;
        Ok(Self {
            runtime,
            pool,
            signer: None,
            committer: OnceLock::new(),
            committer_task: Mutex::new(None),
            clock: options.clock,
            start: Mutex::new(()),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The log's public key as recorded at `init`, if any.
    pub fn log_vkey(&self) -> Result<Option<String>, StoreError> {
        let pool = &self.pool;
        self.runtime.block_on(async { on_pool!(pool, db::get_meta("vkey")) })
    }

    /// The verifier for this log, from the key recorded at `init`.
    pub fn log_verifier(&self) -> Result<LogVerifier, StoreError> {
        let vkey = self.log_vkey()?.ok_or(StoreError::NotInitialized)?;
        Ok(LogVerifier::from_vkey(&vkey)?)
    }

    /// Bind this store to its log key: the first key ever used is recorded; any other key
    /// is refused. Call once before appending.
    pub fn set_signer(&mut self, signer: LogSigner) -> Result<(), StoreError> {
        let vkey = signer.verifier().vkey();
        let pool = &self.pool;
        let stored = self.runtime.block_on(async {
            on_pool!(pool, db::set_meta_if_absent("vkey", &vkey))?;
            on_pool!(pool, db::get_meta("vkey"))
        })?;
        match stored {
            Some(stored) if stored != vkey => Err(StoreError::KeyMismatch { store: stored, key: vkey }),
            _ => {
                self.signer = Some(signer);
                Ok(())
            }
        }
    }

    /// Register (or update) changes so evidence can be recorded about them.
    pub fn upsert_changes(&self, changes: &[ChangeRef]) -> Result<(), StoreError> {
        let pool = &self.pool;
        let now = now_rfc3339(self.clock);
        self.runtime.block_on(async { on_pool!(pool, db::upsert_changes(changes, &now)) })
    }

    /// Register only the changes not registered yet: a re-audit of a long history then
    /// writes nothing but its new changes.
    pub fn register_new_changes(&self, changes: &[ChangeRef]) -> Result<usize, StoreError> {
        let pool = &self.pool;
        let known = self.runtime.block_on(async { on_pool!(pool, db::change_ids()) })?;
        let new: Vec<ChangeRef> = changes.iter().filter(|c| !known.contains_key(&c.id)).cloned().collect();
        if !new.is_empty() {
            self.upsert_changes(&new)?;
        }
        Ok(new.len())
    }

    /// Every id a registered change is known by, mapped to the id of its one record (see
    /// `migrations/0002_change_identity.sql`). Evidence is stored under the record's id.
    pub fn change_records(&self) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let pool = &self.pool;
        self.runtime.block_on(async { on_pool!(pool, db::change_ids()) })
    }

    /// The registered change a reference names: a change id or alias, `pr#N`,
    /// `owner/repo#N`, or a commit (or commit prefix) of a change.
    pub fn resolve_change(&self, reference: &str) -> Result<Option<evidence::SubjectChange>, StoreError> {
        let pool = &self.pool;
        let rows = self.runtime.block_on(async { on_pool!(pool, db::find_changes(reference)) })?;
        match rows.as_slice() {
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
        }
    }

    fn prepare(&self, request: &RecordRequest, policy_text: Option<&str>) -> Result<db::PreparedEntry, StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::NoSigner)?;
        let change = match &request.change {
            Some(reference) => {
                Some(self.resolve_change(reference)?.ok_or_else(|| StoreError::UnknownChange(reference.clone()))?)
            }
            None if request.evidence.needs_change() => return Err(StoreError::MissingChange(request.evidence.kind())),
            None => None,
        };
        let statement = evidence::statement_for(request, change.as_ref());
        let envelope = dsse::sign_statement(&statement, signer)?;
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
        })
    }

    fn committer(&self) -> Result<&mpsc::UnboundedSender<Job>, StoreError> {
        if let Some(tx) = self.committer.get() {
            return Ok(tx);
        }
        let _guard = self.start.lock().map_err(|_| StoreError::Append("committer lock poisoned".into()))?;
        if let Some(tx) = self.committer.get() {
            return Ok(tx);
        }
        let signer = self.signer.clone().ok_or(StoreError::NoSigner)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = self.runtime.spawn(group_committer(self.pool.clone(), signer, self.clock, rx));
        if let Ok(mut slot) = self.committer_task.lock() {
            *slot = Some(task);
        }
        Ok(self.committer.get_or_init(|| tx))
    }

    /// Record one piece of evidence. Returns once the entry is durably stored (or reports
    /// the entry an earlier record with the same idempotency key became).
    pub fn record(&self, request: &RecordRequest) -> Result<AppendOutcome, StoreError> {
        if let Some(key) = &request.idempotency_key {
            let pool = &self.pool;
            if let Some(index) = self.runtime.block_on(async { on_pool!(pool, db::find_idempotent(key)) })? {
                return Ok(AppendOutcome::AlreadyRecorded(index));
            }
        }
        let entry = self.prepare(request, None)?;
        self.submit(entry)
    }

    fn submit(&self, entry: db::PreparedEntry) -> Result<AppendOutcome, StoreError> {
        let (done, wait) = oneshot::channel();
        self.committer()?.send((entry, done)).map_err(|_| StoreError::Append("the committer stopped".into()))?;
        wait.blocking_recv().map_err(|_| StoreError::Append("the committer stopped".into()))?
    }

    /// Record many entries in one transaction (imports, benchmarks): all or nothing.
    pub fn record_many(&self, requests: &[RecordRequest]) -> Result<Vec<AppendOutcome>, StoreError> {
        use rayon::prelude::*;
        let signer = self.signer.as_ref().ok_or(StoreError::NoSigner)?;
        let entries: Vec<db::PreparedEntry> =
            requests.par_iter().map(|r| self.prepare(r, None)).collect::<Result<_, _>>()?;
        let refs: Vec<&db::PreparedEntry> = entries.iter().collect();
        let pool = &self.pool;
        let now = now_rfc3339(self.clock);
        self.runtime.block_on(async { on_pool!(pool, db::append_batch(signer, &refs, &now)) })
    }

    /// Publish a policy version: its text is stored and its digest logged.
    pub fn publish_policy(
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
        let pool = &self.pool;
        if let Some(key) = &request.idempotency_key
            && let Some(index) = self.runtime.block_on(async { on_pool!(pool, db::find_idempotent(key)) })?
        {
            return Ok(AppendOutcome::AlreadyRecorded(index));
        }
        let entry = self.prepare(&request, Some(text))?;
        self.submit(entry)
    }

    /// Recorded evidence about these changes (change ids or commits), for `audit`/`check`.
    /// References that name no registered change are skipped.
    pub fn evidence_for(&self, references: &[&str]) -> Result<Vec<RecordedEvidence>, StoreError> {
        let mut ids = Vec::new();
        for reference in references {
            let pool = &self.pool;
            for row in self.runtime.block_on(async { on_pool!(pool, db::find_changes(reference)) })? {
                ids.push(row.id);
            }
        }
        ids.sort();
        ids.dedup();
        let pool = &self.pool;
        let rows = self.runtime.block_on(async { on_pool!(pool, db::entries_for_changes(&ids)) })?;
        rows.into_iter().map(|(index, bytes)| recorded_from_entry(index, &bytes)).collect()
    }

    /// All recorded evidence that concerns a change, in log order, for `audit`: one query
    /// rather than one per change.
    pub fn all_change_evidence(&self) -> Result<Vec<RecordedEvidence>, StoreError> {
        let pool = &self.pool;
        let rows = self.runtime.block_on(async { on_pool!(pool, db::entries_with_change()) })?;
        rows.into_iter().map(|(index, bytes)| recorded_from_entry(index, &bytes)).collect()
    }

    pub fn tree_size(&self) -> Result<u64, StoreError> {
        let pool = &self.pool;
        self.runtime.block_on(async { on_pool!(pool, db::tree_size()) })
    }

    /// The latest signed checkpoint, if anything has been logged.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        let pool = &self.pool;
        Ok(self.runtime.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?.map(|(_, note)| note))
    }

    /// One entry's bytes.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        let pool = &self.pool;
        match self.runtime.block_on(async { on_pool!(pool, db::entry(index)) })? {
            Some(bytes) => Ok(bytes),
            None => Err(StoreError::NoSuchEntry { index, size: self.tree_size()? }),
        }
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<std::collections::HashMap<NodeId, Hash>, StoreError> {
        let pool = &self.pool;
        self.runtime.block_on(async { on_pool!(pool, db::nodes(ids)) })
    }

    /// An inclusion proof (C2SP tlog-proof) for `index` against the smallest checkpoint
    /// covering `at_least` (default: the latest checkpoint).
    pub fn inclusion_proof(&self, index: u64, at_least: Option<u64>) -> Result<TlogProof, StoreError> {
        let pool = &self.pool;
        let found = match at_least {
            Some(size) => {
                self.runtime.block_on(async { on_pool!(pool, db::checkpoint_at_least(size.max(index + 1))) })?
            }
            None => self.runtime.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?,
        };
        let (size, note) = found.ok_or(StoreError::NoCheckpoint(index + 1))?;
        if index >= size {
            return Err(StoreError::NoSuchEntry { index, size });
        }
        let nodes = self.nodes(&merkle::inclusion_proof_nodes(index, size))?;
        let hashes = merkle::inclusion_proof::<()>(index, size, |n| nodes.get(&n).copied().ok_or(()))
            .map_err(|()| StoreError::Corrupt("a tree node went missing".into()))??;
        Ok(TlogProof { extra: None, index, hashes, checkpoint: note })
    }

    /// A consistency proof from the checkpoint of size `old` to the checkpoint of size `new`
    /// (default: latest).
    pub fn consistency_proof(&self, old: u64, new: Option<u64>) -> Result<ConsistencyProofText, StoreError> {
        let pool = &self.pool;
        let found = match new {
            Some(size) => self
                .runtime
                .block_on(async { on_pool!(pool, db::checkpoint_at_least(size)) })?
                .filter(|(s, _)| *s == size),
            None => self.runtime.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?,
        };
        let (size, note) = found.ok_or(StoreError::NoCheckpoint(new.unwrap_or(old)))?;
        let nodes = self.nodes(&merkle::consistency_proof_nodes(old, size))?;
        let hashes = merkle::consistency_proof::<()>(old, size, |n| nodes.get(&n).copied().ok_or(()))
            .map_err(|()| StoreError::Corrupt("a tree node went missing".into()))??;
        Ok(ConsistencyProofText { old_size: old, hashes, checkpoint: note })
    }

    /// The signed checkpoint of exactly this size.
    pub fn checkpoint(&self, size: u64) -> Result<String, StoreError> {
        let pool = &self.pool;
        self.runtime
            .block_on(async { on_pool!(pool, db::checkpoint_at_least(size)) })?
            .filter(|(s, _)| *s == size)
            .map(|(_, note)| note)
            .ok_or(StoreError::NoCheckpoint(size))
    }

    /// Verify the whole log: every leaf hash, every entry signature, every checkpoint's
    /// signature and root. `Ok(Err(failure))` names the first bad entry.
    ///
    /// Entries are read with one streaming query, in chunks, on the store's runtime while
    /// the previous chunk is verified (rayon) on this thread; checkpoints are read in
    /// pages just ahead of the entries they cover. Only checkpoints that existed when the
    /// verification started are checked, so a concurrent append cannot look like a
    /// truncation.
    pub fn verify(
        &self,
        verifier: &LogVerifier,
        options: AuditOptions,
    ) -> Result<Result<AuditSummary, VerifyFailure>, StoreError> {
        const CHUNK: usize = 8_192;
        const CHECKPOINT_PAGE: u64 = 10_000;
        let pool = &self.pool;
        let upto =
            self.runtime.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?.map_or(0, |(size, _)| size);
        let mut audit = LogAudit::streaming(verifier, options);
        // Checkpoints with size in (loaded, upto] are still to be read.
        let mut loaded = 0u64;
        let mut load_until = |audit: &mut LogAudit<'_>, needed: u64| -> Result<Result<(), VerifyFailure>, StoreError> {
            while loaded < upto && loaded < needed {
                let page = self
                    .runtime
                    .block_on(async { on_pool!(pool, db::checkpoints_page(loaded, upto, CHECKPOINT_PAGE)) })?;
                let Some(last) = page.last() else {
                    loaded = upto;
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
        let (tx, mut rx) = mpsc::channel(2);
        let reader = match pool {
            Pool::Sqlite(p) => self.runtime.spawn(db::sqlite::stream_entries(p.clone(), CHUNK, tx)),
            Pool::Postgres(p) => self.runtime.spawn(db::postgres::stream_entries(p.clone(), CHUNK, tx)),
        };
        let result = (|| {
            while let Some(chunk) = rx.blocking_recv() {
                let chunk = chunk?;
                let next = chunk.indices.last().map_or(0, |i| i + 1);
                if let Err(f) = load_until(&mut audit, next)? {
                    return Ok(Err(f));
                }
                let refs: Vec<EntryRef<'_>> = chunk
                    .indices
                    .iter()
                    .zip(&chunk.hashes)
                    .zip(&chunk.bytes)
                    .map(|((index, hash), bytes)| EntryRef {
                        index: *index,
                        stored_leaf_hash: Some(hash.as_ref().unwrap_or(&[0u8; 32])),
                        bytes,
                    })
                    .collect();
                if let Err(f) = audit.push(&refs) {
                    return Ok(Err(f));
                }
            }
            // Checkpoints beyond the last entry: the log was truncated (finish reports it).
            let verified = audit.entries();
            if let Err(f) = load_until(&mut audit, verified + 1)? {
                return Ok(Err(f));
            }
            Ok(Ok(()))
        })();
        drop(rx);
        reader.abort();
        match result {
            Ok(Ok(())) => Ok(audit.finish()),
            Ok(Err(f)) => Ok(Err(f)),
            Err(e) => Err(e),
        }
    }

    /// Entries recorded in `[since, until)` and the policy version in force at `until`.
    pub(crate) fn export_rows(
        &self,
        since: &str,
        until: &str,
    ) -> Result<(Vec<(u64, Vec<u8>)>, Option<(String, String, String, u64)>), StoreError> {
        let pool = &self.pool;
        self.runtime.block_on(async {
            let entries = on_pool!(pool, db::entries_between(since, until))?;
            let policy = on_pool!(pool, db::policy_in_force(until))?;
            Ok((entries, policy))
        })
    }

    /// Run raw SQL against the store. For tests that tamper with a store on purpose.
    #[doc(hidden)]
    pub fn execute_raw_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        let pool = &self.pool;
        self.runtime.block_on(async { on_pool!(pool, db::execute_raw(sql)) })
    }

    /// Close the pool (flushes SQLite's WAL state cleanly).
    pub fn close(self) {
        let pool = self.pool.clone();
        // Stop the committer first: dropping its channel ends its loop, and it returns the
        // connection it holds; the pool's close waits for every connection.
        drop(self.committer.into_inner());
        let task = self.committer_task.into_inner().ok().flatten();
        self.runtime.block_on(async {
            if let Some(task) = task {
                let _ = task.await;
            }
            match pool {
                Pool::Sqlite(p) => p.close().await,
                Pool::Postgres(p) => p.close().await,
            }
        });
    }
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
async fn group_committer(pool: Pool, signer: LogSigner, clock: Clock, mut rx: mpsc::UnboundedReceiver<Job>) {
    // One held connection and the log state it last wrote (see `db::sqlite::Appender`).
    enum Appender {
        Sqlite(db::sqlite::Appender),
        Postgres(db::postgres::Appender),
    }
    let mut appender = match &pool {
        Pool::Sqlite(_) => Appender::Sqlite(Default::default()),
        Pool::Postgres(_) => Appender::Postgres(Default::default()),
    };
    async fn append(
        appender: &mut Appender,
        pool: &Pool,
        signer: &LogSigner,
        entries: &[&db::PreparedEntry],
        now: &str,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        match (appender, pool) {
            (Appender::Sqlite(a), Pool::Sqlite(p)) => a.append(p, signer, entries, now).await,
            (Appender::Postgres(a), Pool::Postgres(p)) => a.append(p, signer, entries, now).await,
            _ => Err(StoreError::Append("backend mismatch".into())),
        }
    }
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let entries: Vec<&db::PreparedEntry> = jobs.iter().map(|(e, _)| e).collect();
        let now = now_rfc3339(clock);
        match append(&mut appender, &pool, &signer, &entries, &now).await {
            Ok(outcomes) => {
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
                    let result = append(&mut appender, &pool, &signer, &[&entry], &now).await.map(|mut o| o.remove(0));
                    let _ = done.send(result);
                }
            }
        }
    }
}

pub use countersign_log::note::Checkpoint as LogCheckpoint;
