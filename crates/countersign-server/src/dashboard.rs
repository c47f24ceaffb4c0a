//! The dashboard's figures for each served repository (`/dashboard`), and DORA's metrics as
//! gauges for `/metrics`, gathered as `countersign report` gathers them
//! (`countersign_judge::period`) from the store and the repository's default branch, judged
//! as the sweep judges it.
//!
//! The gauges are computed by the sweep (`reminders::sweep`), off the request path, and kept
//! in [`crate::metrics::Metrics`] until the next sweep.

use countersign_engine::Evaluation;
use countersign_engine::change::Change;
use countersign_engine::metrics::Dora;
use countersign_judge::period::{ControlResult, DoraFacts, DriftRun, DriftState, Emergency, MonthMetrics};
use countersign_policy::model::Policy;
use countersign_store::Store;
use jiff::{SignedDuration, Timestamp};

use crate::AppState;
use crate::config::RepositoryConfig;

/// A served repository's default branch, judged as of `now` (console changes included).
pub struct Judged {
    pub policy: Policy,
    /// The walk's changes, newest first, then the console changes; index for index with
    /// `evals`.
    pub changes: Vec<Change>,
    pub evals: Vec<Evaluation>,
}

/// Judge the repository's whole default branch as `countersign audit` does. `Ok(Err(why))`:
/// the repository cannot be judged (a fact to show, not a failure).
pub fn judge_history(
    store: &Store,
    config: &RepositoryConfig,
    now: Timestamp,
) -> anyhow::Result<Result<Judged, String>> {
    let Some(git_dir) = config.git_dir.as_deref() else {
        return Ok(Err("no git-dir is configured".into()));
    };
    let governed = match crate::governed::open(store, config, git_dir, now)? {
        Ok(governed) => governed,
        Err(why) => return Ok(Err(why)),
    };
    let walk = countersign_git::WalkOptions {
        branch: Some(governed.branch.to_owned()),
        use_cache: true,
        read: countersign_judge::read_options(&governed.policy),
        ..Default::default()
    };
    let (walk, evals) = countersign_judge::judge_walk(
        &governed.repo,
        &governed.policy,
        &walk,
        Some((store, Some(config.name.as_str()))),
        &countersign_judge::HistoryOptions { now, console: true, policy_path: Some(&config.policy) },
        &|_| {},
    )?;
    Ok(Ok(Judged { policy: governed.policy, changes: walk.changes, evals }))
}

/// What `/dashboard` shows for one repository over `[from, to)`.
pub struct RepositoryDashboard {
    pub repository: String,
    /// Why it could not be judged.
    pub problem: Option<String>,
    pub changes: usize,
    pub dora: Option<Dora>,
    pub by_month: Vec<MonthMetrics>,
    pub controls: Vec<ControlResult>,
    pub emergencies: Vec<Emergency>,
    pub drift: Vec<DriftRun>,
    pub latest_drift: Vec<DriftState>,
}

/// The dashboard of every served repository with a git directory.
pub async fn dashboards(
    state: &AppState,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> anyhow::Result<Vec<RepositoryDashboard>> {
    let due_soon = state.config.due_soon;
    per_repository(state, move |store, config| of_repository(store, config, from, to, now, due_soon)).await
}

/// `judge` run for every served repository that has a git directory, in order, each on a
/// blocking thread with the store's blocking face (reading git and judging history block).
pub async fn per_repository<T: Send + 'static>(
    state: &AppState,
    judge: impl Fn(&Store, &RepositoryConfig) -> anyhow::Result<T> + Clone + Send + 'static,
) -> anyhow::Result<Vec<T>> {
    let mut out = Vec::new();
    for config in state.config.repositories.iter().filter(|r| r.git_dir.is_some()) {
        let (core, handle) = (state.store.clone(), tokio::runtime::Handle::current());
        let (config, judge) = (config.clone(), judge.clone());
        out.push(tokio::task::spawn_blocking(move || judge(&Store::on_runtime(core, handle), &config)).await??);
    }
    Ok(out)
}

fn of_repository(
    store: &Store,
    config: &RepositoryConfig,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
    due_soon: SignedDuration,
) -> anyhow::Result<RepositoryDashboard> {
    let mut found = RepositoryDashboard {
        repository: config.name.clone(),
        problem: None,
        changes: 0,
        dora: None,
        by_month: Vec::new(),
        controls: Vec::new(),
        emergencies: Vec::new(),
        drift: Vec::new(),
        latest_drift: Vec::new(),
    };
    let drift = countersign_judge::period::drift(store, Some(&config.name), from, to)?;
    found.drift = drift.history;
    found.latest_drift = drift.latest;
    let judged = match judge_history(store, config, now)? {
        Ok(judged) => judged,
        Err(why) => {
            found.problem = Some(why);
            return Ok(found);
        }
    };
    let facts = countersign_judge::period::dora_facts(
        &judged.policy,
        store,
        Some(&config.name),
        &judged.changes,
        &judged.evals,
    )?;
    found.dora = Some(facts.over(from, to));
    found.by_month = facts.by_month(from, to);
    // The period's changes, as the report's walk would hold them: those made in it.
    let in_period = |c: &Change| c.time.is_some_and(|t| t >= from && t < to);
    let (changes, evals): (Vec<Change>, Vec<Evaluation>) =
        judged.changes.into_iter().zip(judged.evals).filter(|(c, _)| in_period(c)).unzip();
    found.changes = changes.len();
    found.controls =
        judged.policy.meta.controls.iter().map(|c| countersign_judge::period::control_result(c, &evals)).collect();
    found.emergencies = countersign_judge::period::emergencies(&changes, &evals, now, due_soon);
    Ok(found)
}

/// DORA's metrics for `/metrics`: over the 30 days before `now`, and the share of this
/// calendar month's (UTC) incidents caused by a change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    pub deployments_per_week: f64,
    pub lead_time_seconds: Option<f64>,
    pub change_fail_rate: Option<f64>,
    pub recovery_seconds: Option<f64>,
    pub rework_rate: Option<f64>,
    pub incident_share: Option<f64>,
    pub incident_share_max: Option<f64>,
}

/// The window the rates of [`Gauges`] are over.
pub const GAUGE_WINDOW: SignedDuration = SignedDuration::from_hours(30 * 24);

pub fn gauges(facts: &DoraFacts, now: Timestamp) -> Gauges {
    let window = facts.over(now - GAUGE_WINDOW, now);
    let month = facts.over(crate::collectors::window_start("monthly", now), now);
    Gauges {
        deployments_per_week: window.deployments_per_week,
        lead_time_seconds: window.lead_time_hours.map(|h| h * 3600.0),
        change_fail_rate: window.change_fail_rate,
        recovery_seconds: window.recovery_hours.map(|h| h * 3600.0),
        rework_rate: window.rework_rate,
        incident_share: month.months.last().and_then(|m| m.share),
        incident_share_max: facts.threshold,
    }
}

/// The gauges of a judged repository (a blocking store read).
pub fn gauges_of(store: &Store, repository: &str, judged: &Judged, now: Timestamp) -> anyhow::Result<Gauges> {
    let facts =
        countersign_judge::period::dora_facts(&judged.policy, store, Some(repository), &judged.changes, &judged.evals)?;
    Ok(gauges(&facts, now))
}
