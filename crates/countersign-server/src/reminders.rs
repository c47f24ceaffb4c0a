//! What the server keeps judging over time: emergency obligations, listed for the pages and
//! the API and reminded of before they fall due and once they are overdue, and the
//! console changes recorded in the log, which join the server's change list (S000-12).
//!
//! One `sweep` job (one row in the job table, so one run across replicas) runs
//! every `reminder-every`, and at once after a console change is recorded through the API.
//! It judges each served repository's default branch as `countersign audit` does (console
//! changes included), saves the console changes' evaluations, and, for each obligation due
//! soon or overdue, enqueues a `remind` job per `[[notify]]` target. A `remind` job sends its message and then records
//! a `reminder` log entry under an idempotency key that names the obligation, the state and
//! the target. A reminder whose entry exists is never sent again, so each is sent once.
//! (At least once: a crash between the target's answer and the entry sends it again.)

use std::sync::Arc;

use anyhow::Context as _;
use countersign_engine::obligations::{ObligationCounts, ObligationInstance, ObligationState};
use countersign_store::evidence::sha256_hex;
use countersign_store::{Evidence, RecordRequest, Store};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::config::{NotifyFormat, NotifyTarget, RepositoryConfig};

/// The job kind that judges the served histories again: console changes, obligations to
/// remind of.
pub const SWEEP: &str = "sweep";
/// Its one job key: every replica enqueues the same row.
pub const SWEEP_KEY: &str = "sweep:history";
/// The job kind that sends one reminder to one target.
pub const REMIND: &str = "remind";
/// Who the server records its reminders as.
pub const REMINDER_RECORDER: &str = "countersign-reminders";

/// The obligations of one served repository, or why they could not be read.
#[derive(Debug, Serialize)]
pub struct RepositoryObligations {
    pub repository: String,
    pub counts: ObligationCounts,
    pub obligations: Vec<ObligationInstance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The console changes recorded in the log, judged under this repository's policy.
    #[serde(skip)]
    pub console: Vec<countersign_engine::Evaluation>,
    /// The policy it was judged with (its collectors run from the same read).
    #[serde(skip)]
    pub policy: Option<Arc<countersign_policy::model::Policy>>,
    /// DORA's metrics for `/metrics`, when the sweep asked for them.
    #[serde(skip)]
    pub gauges: Option<crate::dashboard::Gauges>,
    /// The activity collectors' runs over their last complete window, each with its
    /// idempotency key, when the sweep asked for them (recorded unless already logged).
    #[serde(skip)]
    pub snapshots: Vec<(String, countersign_store::Evidence)>,
}

/// Every obligation of every served repository that has a git directory, as of `now`,
/// most urgent first.
pub async fn obligations(state: &AppState, now: Timestamp) -> anyhow::Result<Vec<RepositoryObligations>> {
    judge_repositories(state, now, false).await
}

/// [`obligations`], and with `gauges` each repository's DORA gauges too (for the sweep).
async fn judge_repositories(
    state: &AppState,
    now: Timestamp,
    gauges: bool,
) -> anyhow::Result<Vec<RepositoryObligations>> {
    let due_soon = state.config.due_soon;
    crate::dashboard::per_repository(state, move |store, config| of_repository(store, config, now, due_soon, gauges))
        .await
}

fn of_repository(
    store: &Store,
    config: &RepositoryConfig,
    now: Timestamp,
    due_soon: jiff::SignedDuration,
    gauges: bool,
) -> anyhow::Result<RepositoryObligations> {
    let mut found = RepositoryObligations {
        repository: config.name.clone(),
        counts: ObligationCounts::default(),
        obligations: Vec::new(),
        problem: None,
        console: Vec::new(),
        policy: None,
        gauges: None,
        snapshots: Vec::new(),
    };
    let judged = match crate::dashboard::judge_history(store, config, now)? {
        Ok(judged) => judged,
        Err(why) => {
            found.problem = Some(why);
            return Ok(found);
        }
    };
    if gauges {
        found.gauges = Some(crate::dashboard::gauges_of(store, &config.name, &judged, now)?);
        found.snapshots = activity_snapshots(store, &config.name, &judged, now)?;
    }
    let crate::dashboard::Judged { policy, evals, .. } = judged;
    found.obligations = countersign_engine::obligations::instances(&evals, now, due_soon);
    found.counts = countersign_engine::obligations::count(&found.obligations);
    found.console = evals.into_iter().filter(|e| e.change.id.starts_with("console:")).collect();
    found.policy = Some(Arc::new(policy));
    Ok(found)
}

/// Each activity collector of the policy (`merge-activity`, `deployments`) whose last
/// complete window is not logged yet, over that window, from the history just judged and
/// the deploys in the store (read only when a `deployments` window is due).
fn activity_snapshots(
    store: &Store,
    repository: &str,
    judged: &crate::dashboard::Judged,
    now: Timestamp,
) -> anyhow::Result<Vec<(String, countersign_store::Evidence)>> {
    use crate::collectors::{DEPLOYMENTS, MERGE_ACTIVITY};
    let mut due = Vec::new();
    for c in judged.policy.docs.collectors.iter().filter(|c| c.name == MERGE_ACTIVITY || c.name == DEPLOYMENTS) {
        let (window, from, to) = crate::collectors::previous_window(&c.cadence, now);
        let key = crate::collectors::run_key(&c.name, repository, &window);
        if store.idempotent_entry(&key)?.is_none() {
            due.push((c.name.as_str(), key, from, to));
        }
    }
    let deploys =
        if due.iter().any(|d| d.0 == DEPLOYMENTS) { store.evidence_of_kinds(&["deploy"])? } else { Vec::new() };
    Ok(due
        .into_iter()
        .map(|(name, key, from, to)| {
            let snapshot = crate::collectors::activity_snapshot(
                name,
                repository,
                (from, to),
                &judged.changes,
                &judged.evals,
                &deploys,
            );
            (key, crate::collectors::activity_run(name, repository, snapshot))
        })
        .collect())
}

/// What one `remind` job sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reminder {
    pub repository: String,
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    pub title: String,
    pub obligation: String,
    pub description: String,
    /// `due-soon` or `overdue`.
    pub state: String,
    pub due: Timestamp,
    /// The target's position in `[[notify]]` when the sweep ran, and its fingerprint (the
    /// target is found again by fingerprint, so a reordered configuration sends nothing
    /// to the wrong place).
    pub target: String,
}

impl Reminder {
    /// The idempotency key of its `reminder` entry, and (prefixed) its job key.
    pub fn key(&self) -> String {
        format!("reminder:{}:{}:{}:{}:{}", self.repository, self.change, self.obligation, self.state, self.target)
    }
}

/// A target's fingerprint: its format and the SHA-256 of its URL (never the URL: a Slack
/// webhook URL is a secret).
pub fn fingerprint(target: &NotifyTarget) -> String {
    let digest = sha256_hex(target.url.value().as_bytes());
    format!("{}-{}", target.format.as_str(), &digest[..16])
}

/// Run the sweep: schedule the next one, save the console changes' evaluations, and
/// enqueue a `remind` job for each obligation due soon or overdue and each target that has
/// not been sent that reminder.
pub async fn sweep(state: &Arc<AppState>) -> anyhow::Result<usize> {
    let now = (state.clock)();
    // The next sweep is scheduled first: a request for an earlier one while this one runs
    // (a console change recorded meanwhile) then wins, and this job runs again at once.
    schedule_sweep(state, now + state.config.reminder_every).await?;
    let mut enqueued = 0;
    for repository in judge_repositories(state, now, true).await? {
        if let Some(problem) = &repository.problem {
            tracing::warn!(repository = %repository.repository, %problem, "cannot read the repository's history");
        }
        if let Some(gauges) = &repository.gauges {
            state.metrics.dora(&repository.repository, gauges.clone());
        }
        for eval in &repository.console {
            state
                .store
                .save_evaluation(&countersign_store::EvaluationRow {
                    change_id: eval.change.id.clone(),
                    repository: repository.repository.clone(),
                    verdict: eval.verdict.as_str().to_owned(),
                    category: eval.category.id.clone(),
                    head_sha: String::new(),
                    authors: serde_json::to_string(&eval.change.author.iter().collect::<Vec<_>>())?,
                    evaluated_at: String::new(),
                    evaluation: serde_json::to_string(eval)?,
                })
                .await?;
        }
        run_due_collectors(state, &repository, now).await?;
        // Another replica may have logged a window meanwhile: its key makes this a no-op.
        for (key, evidence) in &repository.snapshots {
            state
                .store
                .record(&RecordRequest {
                    change: None,
                    recorded_by: COLLECTOR_RECORDER.into(),
                    recorded_at: countersign_store::whole_second(now),
                    idempotency_key: Some(key.clone()),
                    evidence: evidence.clone(),
                })
                .await?;
        }
        if !state.config.notify.is_empty() {
            for instance in &repository.obligations {
                let state_name = match instance.state {
                    ObligationState::DueSoon => "due-soon",
                    ObligationState::Overdue => "overdue",
                    _ => continue,
                };
                let Some(due) = instance.due else { continue };
                for target in &state.config.notify {
                    let reminder = Reminder {
                        repository: repository.repository.clone(),
                        change: instance.change.clone(),
                        pr_number: instance.pr_number,
                        title: instance.title.clone(),
                        obligation: instance.obligation.clone(),
                        description: instance.description.clone(),
                        state: state_name.to_owned(),
                        due,
                        target: fingerprint(target),
                    };
                    let key = reminder.key();
                    if state.store.idempotent_entry(&key).await?.is_some() {
                        continue;
                    }
                    let payload = serde_json::to_string(&reminder)?;
                    state.store.enqueue_job(&format!("remind:{key}"), REMIND, &payload, now).await?;
                    enqueued += 1;
                }
            }
        }
    }
    Ok(enqueued)
}

/// Run each `[[collectors]]` of the repository's policy that has not run in its current
/// cadence window (`branch-protection` on each protected branch). The window is in the
/// entry's idempotency key, so a window's run is logged once across replicas.
async fn run_due_collectors(state: &AppState, judged: &RepositoryObligations, now: Timestamp) -> anyhow::Result<()> {
    let repository = judged.repository.as_str();
    let Some(config) = state.config.repositories.iter().find(|r| r.name == repository).cloned() else { return Ok(()) };
    let Some(policy) = judged.policy.clone() else { return Ok(()) };
    for collector in policy.docs.collectors.iter().filter(|c| c.name == crate::collectors::BRANCH_PROTECTION) {
        for branch in crate::collectors::protected_branches(&policy) {
            let window = crate::collectors::window(&collector.cadence, now);
            let key = crate::collectors::run_key(&collector.name, &config.name, &format!("{branch}:{window}"));
            if state.store.idempotent_entry(&key).await?.is_some() {
                continue;
            }
            let ran = crate::collectors::run_and_record(state, &config, policy.clone(), &branch, Some(key), now).await;
            if let Err(e) = ran {
                tracing::warn!(repository, %branch, error = %format!("{e:#}"), "the branch-protection collector failed");
            }
        }
    }
    Ok(())
}

/// Who the server records its collector runs as.
pub const COLLECTOR_RECORDER: &str = "countersign-collector";

/// Put the sweep in the job table to run at `at` (one row, whichever replica enqueues it).
pub async fn schedule_sweep(state: &AppState, at: Timestamp) -> anyhow::Result<()> {
    state.store.enqueue_job(SWEEP_KEY, SWEEP, "{}", at).await?;
    Ok(())
}

/// Send one reminder, unless it was sent already, and record it. Returns the entry.
pub async fn remind(state: &AppState, reminder: &Reminder) -> anyhow::Result<Option<u64>> {
    let key = reminder.key();
    if state.store.idempotent_entry(&key).await?.is_some() {
        return Ok(None);
    }
    let Some(target) = state.config.notify.iter().find(|t| fingerprint(t) == reminder.target).cloned() else {
        tracing::warn!(target = %reminder.target, "a reminder's target is no longer configured; dropped");
        return Ok(None);
    };
    let now = (state.clock)();
    let body = serde_json::to_vec(&message(state, reminder, target.format, now))?;
    let signature = target.secret.as_ref().map(|s| countersign_forge::webhook::sign_hex(s.value(), &body));
    let url = target.url.value();
    let delivery = sha256_hex(key.as_bytes());
    let event = format!("obligation.{}", reminder.state);
    let sent = tokio::task::spawn_blocking(move || post(&url, &body, signature.as_deref(), &event, &delivery)).await?;
    sent.with_context(|| format!("the {} notification target did not take the reminder", target.format.as_str()))?;
    let outcome = state
        .store
        .record(&RecordRequest {
            change: None,
            recorded_by: REMINDER_RECORDER.into(),
            recorded_at: countersign_store::whole_second(now),
            idempotency_key: Some(key),
            evidence: Evidence::Reminder {
                emergency: reminder.change.clone(),
                obligation: reminder.obligation.clone(),
                state: reminder.state.clone(),
                due: reminder.due,
                target: reminder.target.clone(),
                repository: Some(reminder.repository.clone()),
            },
        })
        .await?;
    Ok(Some(match outcome {
        countersign_store::AppendOutcome::Appended(i) | countersign_store::AppendOutcome::AlreadyRecorded(i) => i,
    }))
}

/// The body a target takes: countersign's JSON, or a Slack incoming-webhook message.
fn message(state: &AppState, r: &Reminder, format: NotifyFormat, now: Timestamp) -> serde_json::Value {
    let change = match r.pr_number {
        Some(n) => format!("PR #{n}"),
        None => r.change.chars().take(12).collect(),
    };
    let link = state.config.public_url.as_ref().map(|u| format!("{u}/obligations"));
    match format {
        NotifyFormat::Json => serde_json::json!({
            "type": format!("obligation.{}", r.state),
            "repository": r.repository,
            "change": r.change,
            "prNumber": r.pr_number,
            "title": r.title,
            "obligation": r.obligation,
            "description": r.description,
            "state": r.state,
            "due": r.due,
            "sentAt": now,
            "link": link,
        }),
        NotifyFormat::Slack => {
            let lead = if r.state == "overdue" { ":rotating_light: Overdue" } else { ":hourglass: Due soon" };
            let mut text = format!(
                "{lead}: *{}* for the emergency change {change} ({}) in {}: {}. Due {}.",
                r.obligation, r.title, r.repository, r.description, r.due
            );
            if let Some(link) = link {
                text.push_str(&format!(" <{link}|Open obligations>"));
            }
            serde_json::json!({ "text": text })
        }
    }
}

/// POST the body; any 2xx is taken.
fn post(url: &str, body: &[u8], signature: Option<&str>, event: &str, delivery: &str) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .user_agent("countersign")
        .build()
        .into();
    let mut request = agent
        .post(url)
        .header("content-type", "application/json")
        .header("x-countersign-event", event)
        .header("x-countersign-delivery", delivery);
    if let Some(signature) = signature {
        request = request.header("x-countersign-signature-256", format!("sha256={signature}"));
    }
    let response = request.send(body)?;
    let status = response.status().as_u16();
    anyhow::ensure!((200..300).contains(&status), "it answered HTTP {status}");
    Ok(())
}
