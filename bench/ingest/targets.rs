//! What is measured: the real `countersign serve` (built as crates/countersign-cli/src/serve.rs
//! builds it) and the bare baseline, an axum handler that only writes the body to the same
//! kind of database with the same durability. Each step gets a fresh database, and each
//! server is stopped after its step, so nothing one leaves behind (a worker's backlog, a
//! WAL to checkpoint) runs while the other is measured.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use countersign_server::config::{self, SecretLookup};
use countersign_server::{AppState, ServeOptions};
use countersign_store::{AsyncStore, OpenOptions, keys};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const SECRET: &str = "It's a Secret to Everybody";
/// The fixtures' `repository.full_name`.
pub const REPOSITORY: &str = "Codertocat/Hello-World";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `countersign serve` with this many background workers (the binary's default is 1;
    /// 0 is an ingest-only replica).
    Countersign { workers: usize },
    /// The bare handler: one INSERT of the body per request.
    Baseline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub backend: Backend,
}

impl Target {
    pub const NAMES: &[&str] = &[
        "countersign-sqlite",
        "countersign-sqlite-ingest-only",
        "baseline-sqlite",
        "countersign-postgres",
        "countersign-postgres-ingest-only",
        "baseline-postgres",
    ];

    pub fn parse(name: &str) -> Option<Target> {
        let (kind, rest) = if let Some(rest) = name.strip_prefix("countersign-") {
            match rest.strip_suffix("-ingest-only") {
                Some(rest) => (Kind::Countersign { workers: 0 }, rest),
                None => (Kind::Countersign { workers: 1 }, rest),
            }
        } else {
            (Kind::Baseline, name.strip_prefix("baseline-")?)
        };
        let backend = match rest {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            _ => return None,
        };
        Some(Target { kind, backend })
    }

    pub fn name(&self) -> String {
        let backend = match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        match self.kind {
            Kind::Countersign { workers: 0 } => format!("countersign-{backend}-ingest-only"),
            Kind::Countersign { .. } => format!("countersign-{backend}"),
            Kind::Baseline => format!("baseline-{backend}"),
        }
    }

    /// The path deliveries are posted to.
    pub fn path(&self) -> &'static str {
        match self.kind {
            Kind::Countersign { .. } => "/hooks/github",
            Kind::Baseline => "/deliveries",
        }
    }
}

/// A database for one step: a file in the step's directory, or a fresh PostgreSQL database
/// made with `psql` and dropped after.
pub struct Database {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl Database {
    pub fn sqlite(dir: &Path) -> Database {
        Database { url: format!("sqlite:{}", dir.join("bench.db").display()), postgres: None }
    }

    pub fn postgres(base: &str, name: &str) -> anyhow::Result<Database> {
        psql(base, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        psql(base, &format!("CREATE DATABASE {name}"))?;
        let (prefix, _) = base.rsplit_once('/').context("a PostgreSQL URL ends in /DATABASE")?;
        Ok(Database { url: format!("{prefix}/{name}"), postgres: Some((base.to_owned(), name.to_owned())) })
    }

    pub fn drop_now(self) -> anyhow::Result<()> {
        if let Some((base, name)) = &self.postgres {
            psql(base, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        }
        Ok(())
    }
}

pub fn psql(base: &str, sql: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new("psql")
        .arg(base)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .context("cannot run psql")?;
    anyhow::ensure!(out.status.success(), "psql {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A server running on the bench's server runtime.
pub struct Running {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    inner: Inner,
}

enum Inner {
    Countersign { store: Arc<AsyncStore>, url: String },
    Baseline { pool: BaselinePool, backend: Backend, url: String },
}

#[derive(Clone)]
enum BaselinePool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

struct FixedSecret;

impl SecretLookup for FixedSecret {
    fn env(&self, name: &str) -> Option<String> {
        (name == "BENCH_GITHUB_SECRET").then(|| SECRET.to_owned())
    }
    fn file(&self, path: &Path) -> Result<Vec<u8>, String> {
        Err(format!("the bench reads no secret file ({})", path.display()))
    }
}

/// Start `target` on a fresh database; `dir` holds its files (key, SQLite database). The
/// baseline's pool has `baseline_connections` connections (the store has 4).
pub async fn start(
    target: Target,
    database: &Database,
    dir: &Path,
    baseline_connections: u32,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    match target.kind {
        Kind::Countersign { workers } => {
            // As crates/countersign-cli/src/serve.rs does it, with a key made for the run.
            let signer = keys::create_key(&dir.join("log.key"), "bench.countersign.dev/ingest")?;
            let mut store =
                AsyncStore::open(&database.url, &OpenOptions { create: true, clock: jiff::Timestamp::now }).await?;
            store.set_signer(signer).await?;
            let text = format!(
                "[[repositories]]\nname = \"{REPOSITORY}\"\nforge = \"github\"\nwebhook-secret = {{ env = \"BENCH_GITHUB_SECRET\" }}\n"
            );
            let (config, mut diags) = config::parse(&text);
            let mut config = config.context("the bench's server configuration is TOML")?;
            diags.extend(config.resolve_secrets(&FixedSecret));
            anyhow::ensure!(
                diags.iter().all(|d| !d.is_error()),
                "the bench's server configuration has errors: {diags:?}"
            );
            let store = Arc::new(store);
            let state = Arc::new(AppState {
                store: store.clone(),
                config: Arc::new(config),
                metrics: Default::default(),
                clock: jiff::Timestamp::now,
                worker_id: format!("bench:{}", std::process::id()),
                installation_tokens: Default::default(),
                etags: Default::default(),
            });
            let options = ServeOptions { workers, ..ServeOptions::default() };
            let task = tokio::spawn(countersign_server::serve(listener, state, options, shutdown));
            Ok(Running { addr, stop, task, inner: Inner::Countersign { store, url: database.url.clone() } })
        }
        Kind::Baseline => {
            let pool = baseline_pool(target.backend, &database.url, true, baseline_connections).await?;
            let app = axum::Router::new().route("/deliveries", post(baseline_handler)).with_state(pool.clone());
            let task = tokio::spawn(async move {
                axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
                Ok(())
            });
            let inner = Inner::Baseline { pool, backend: target.backend, url: database.url.clone() };
            Ok(Running { addr, stop, task, inner })
        }
    }
}

/// The same connection settings as `AsyncStore::open`: on SQLite WAL, synchronous=FULL,
/// the same busy timeout, no ping before acquire; `connections` connections (the store's
/// pool has 4 on either backend).
async fn baseline_pool(backend: Backend, url: &str, create: bool, connections: u32) -> anyhow::Result<BaselinePool> {
    match backend {
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite:").unwrap_or(url);
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(create)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(120));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(connections)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(120))
                .connect_with(options)
                .await?;
            if create {
                sqlx::query(
                    "CREATE TABLE deliveries (idx INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL)",
                )
                .execute(&pool)
                .await?;
            }
            Ok(BaselinePool::Sqlite(pool))
        }
        Backend::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(60))
                .connect(url)
                .await?;
            if create {
                sqlx::query(
                    "CREATE TABLE deliveries (idx BIGSERIAL PRIMARY KEY, delivery_id TEXT NOT NULL UNIQUE, body BYTEA NOT NULL)",
                )
                .execute(&pool)
                .await?;
            }
            Ok(BaselinePool::Postgres(pool))
        }
    }
}

/// The baseline: no signature check, no parsing; one INSERT (its own transaction, so one
/// fsync on SQLite and one WAL flush on PostgreSQL) and then 200.
async fn baseline_handler(State(pool): State<BaselinePool>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let id = headers.get("x-github-delivery").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let written = match &pool {
        BaselinePool::Sqlite(pool) => sqlx::query("INSERT INTO deliveries (delivery_id, body) VALUES ($1, $2)")
            .bind(id)
            .bind(body.as_ref())
            .execute(pool)
            .await
            .map(|_| ()),
        BaselinePool::Postgres(pool) => sqlx::query("INSERT INTO deliveries (delivery_id, body) VALUES ($1, $2)")
            .bind(id)
            .bind(body.as_ref())
            .execute(pool)
            .await
            .map(|_| ()),
    };
    match written {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl Running {
    /// Jobs waiting in the store's job table (countersign only): the worker's backlog.
    pub async fn job_backlog(&self) -> Option<u64> {
        match &self.inner {
            Inner::Countersign { store, .. } => store.job_queue().await.ok().map(|q| q.depth),
            Inner::Baseline { .. } => None,
        }
    }

    /// Stop the server gracefully (in-flight requests finish), then read back from the
    /// database, through a new connection, the delivery ids it holds.
    pub async fn stop_and_read_back(self) -> anyhow::Result<HashSet<String>> {
        let _ = self.stop.send(());
        self.task.await.context("the server task")??;
        match self.inner {
            Inner::Countersign { store, url } => {
                drop(store);
                let store = AsyncStore::open(&url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).await?;
                let stored = store.recent_deliveries(u32::MAX).await?;
                store.close().await;
                Ok(stored.into_iter().map(|d| d.delivery_id).collect())
            }
            Inner::Baseline { pool, backend, url } => {
                match pool {
                    BaselinePool::Sqlite(pool) => pool.close().await,
                    BaselinePool::Postgres(pool) => pool.close().await,
                }
                let ids: Vec<String> = match baseline_pool(backend, &url, false, 1).await? {
                    BaselinePool::Sqlite(pool) => {
                        let ids = sqlx::query_scalar("SELECT delivery_id FROM deliveries").fetch_all(&pool).await?;
                        pool.close().await;
                        ids
                    }
                    BaselinePool::Postgres(pool) => {
                        let ids = sqlx::query_scalar("SELECT delivery_id FROM deliveries").fetch_all(&pool).await?;
                        pool.close().await;
                        ids
                    }
                };
                Ok(ids.into_iter().collect())
            }
        }
    }
}
