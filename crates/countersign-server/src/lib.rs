//! `countersign serve`: an HTTP server (axum) that takes forge webhooks as they happen,
//! keeps every delivery in the evidence log, and works through what they imply in the
//! background.
//!
//! - `hooks`: `/hooks/github`, `/hooks/gitea` (Forgejo too), `/hooks/gitlab`. A delivery is
//!   authenticated, checked, and made durable (raw bytes, log entry and processing job in
//!   one transaction) before the forge gets its 2xx.
//! - `worker`: claims jobs from the store's job table and runs them; on PostgreSQL several
//!   replicas share the table and each job runs once.
//! - `verdict`: judges a pull request again after its events (debounced) and posts the
//!   verdict back as a commit status through `forge_api`.
//! - `reminders`: emergency obligations across the served repositories, for the pages and
//!   the API, and reminders (signed JSON or Slack messages) before and after they fall due,
//!   each sent once across replicas.
//! - `collectors`: the branch-protection collector (S001-06, S003-09): the forge's settings
//!   (`protection` reads GitHub, GitLab and Gitea/Forgejo answers) judged by the engine's
//!   `drift`, on the policy's cadence and at once when the forge says the protection changed.
//! - `api`: the JSON API under `/api/v1` (tokens with roles; OpenAPI document).
//! - `pages`: server-rendered HTML for people (sign-in with local accounts, the same roles),
//!   with the dashboard (`dashboard`: the period's figures; `charts`: the SVG charts the
//!   period report draws too).
//! - `/healthz`, `/readyz`, `/metrics`.
//!
//! What it must not do: decide policy (the engine does), read the wall clock (the binary
//! passes a [`Clock`]), or keep state of its own outside the store: every replica is
//! interchangeable.

pub mod api;
pub mod charts;
pub mod collectors;
pub mod config;
pub mod dashboard;
pub mod deploy_gate;
pub mod forge_api;
pub mod governed;
mod hooks;
pub mod intake;
pub mod metrics;
pub mod pages;
pub mod protection;
pub mod pushes;
pub mod reminders;
pub mod verdict;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use countersign_store::{AsyncStore, Clock, JobKinds};
use tokio::net::TcpListener;

pub use config::ServerConfig;
use metrics::{Metrics, QueueGauge};

/// What every request handler and the worker share.
pub struct AppState {
    pub store: Arc<AsyncStore>,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// This process's name in the job table (`claimed_by`).
    pub worker_id: String,
    /// GitHub App installation tokens (a cache: each replica mints its own).
    pub installation_tokens: forge_api::TokenCache,
    /// Earlier GET answers of the forges' APIs, for conditional requests (a cache).
    pub etags: forge_api::EtagCache,
}

/// How the server runs, beyond its configuration file.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Workers running jobs other than evaluations in this process (0: accept deliveries
    /// only, and run no job at all).
    pub workers: usize,
    /// Workers that only judge changes (`evaluate` jobs), so that a verdict never waits
    /// behind a queue of deliveries, and judging (git, the engine) runs beside intake.
    pub evaluators: usize,
    /// How often an idle worker looks for due jobs.
    pub poll: Duration,
    /// How long a claimed job is this replica's before another may take it.
    pub lease: Duration,
    /// How long shutdown waits for the running job before releasing its claim.
    pub shutdown_grace: Duration,
    /// How long after an event a change is judged again; the events of one burst
    /// coalesce into one evaluation.
    pub debounce: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            evaluators: 2,
            poll: Duration::from_millis(200),
            lease: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            debounce: Duration::from_secs(1),
        }
    }
}

/// The HTTP routes.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = usize::try_from(state.config.max_body).unwrap_or(usize::MAX);
    Router::new()
        .route("/hooks/github", post(hooks::github))
        .route("/hooks/gitea", post(hooks::gitea))
        .route("/hooks/forgejo", post(hooks::gitea))
        .route("/hooks/gitlab", post(hooks::gitlab))
        .layer(DefaultBodyLimit::max(max_body))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .merge(api::routes())
        .merge(pages::routes())
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(pages::CONTENT_SECURITY_POLICY),
        ))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
        .layer(security_header(header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        .with_state(state)
}

/// A header every response carries unless its handler set it.
fn security_header(
    name: header::HeaderName,
    value: &'static str,
) -> tower_http::set_header::SetResponseHeaderLayer<header::HeaderValue> {
    tower_http::set_header::SetResponseHeaderLayer::if_not_present(name, header::HeaderValue::from_static(value))
}

/// Serve on `listener` until `shutdown` resolves: then stop accepting, let in-flight
/// requests finish, let the worker finish (or give back) its job, and close the store.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let evaluators = if options.workers == 0 { 0 } else { options.evaluators };
    let lanes = std::iter::repeat_n(JobKinds::AllBut(verdict::EVALUATE), options.workers)
        .chain(std::iter::repeat_n(JobKinds::Only(verdict::EVALUATE), evaluators));
    // The first sweep is asked for before any worker runs: a sweep an earlier run left due
    // then coalesces with it, rather than running and being asked for again.
    if options.workers > 0
        && (!state.config.notify.is_empty() || state.config.repositories.iter().any(|r| r.git_dir.is_some()))
    {
        reminders::schedule_sweep(&state, (state.clock)()).await?;
    }
    let workers: Vec<_> =
        lanes.map(|lane| tokio::spawn(worker::run(state.clone(), options.clone(), lane, stop_rx.clone()))).collect();
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await?;
    for worker in workers {
        match tokio::time::timeout(options.shutdown_grace, worker).await {
            Ok(joined) => joined??,
            Err(_) => tracing::warn!("a worker did not stop in time; its claims are released"),
        }
    }
    state.store.release_jobs(&state.worker_id).await?;
    state.store.close().await;
    Ok(())
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store.ready().await {
        Ok(true) => (StatusCode::OK, "ready\n".to_owned()),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "the database lacks migrations this build needs\n".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("the database is not reachable: {e}\n")),
    }
}

async fn metrics_page(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let queue = match state.store.job_queue().await {
        Ok(q) => {
            let now = (state.clock)();
            let age =
                q.oldest_due.map_or(0.0, |due| ((now.as_millisecond() - due.as_millisecond()).max(0) as f64) / 1000.0);
            QueueGauge { depth: q.depth, oldest_age_seconds: age }
        }
        Err(_) => QueueGauge::default(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(queue))
}
