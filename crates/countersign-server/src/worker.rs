//! The background worker: claims due jobs from the store's job table and runs them.
//!
//! A job is claimed for a lease; finishing it deletes it (unless it was enqueued again
//! meanwhile, when it runs again), failing it releases it to run later with the error kept.
//! A replica that dies holding a job loses it only until the lease ends. On shutdown the
//! worker finishes the job in hand, claims no more, and the server releases what is left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_forge::webhook::{self, Check, CheckOutcome, Event, EventKind, Forge, MergeGroupAction, Normalised};
use countersign_store::{DeliverySettlement, JobKinds, JobRow, PullRequestNote};
use tokio::sync::watch;

use crate::intake::{intake, pr_change_id};
use crate::verdict::{self, EvaluateJob};
use crate::{AppState, ServeOptions};

/// How many jobs one claim takes.
const BATCH: u32 = 16;

/// The shortest sleep of a worker with nothing to claim.
const MIN_WAIT: Duration = Duration::from_millis(5);

/// Claim and run the jobs of `lane` until `stop`.
pub async fn run(
    state: Arc<AppState>,
    options: ServeOptions,
    lane: JobKinds<'static>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let jobs = match state.store.claim_jobs(&state.worker_id, options.lease, BATCH, lane).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim jobs");
                Vec::new()
            }
        };
        if jobs.is_empty() {
            // Sleep until the next job of this lane falls due, at most one poll interval
            // (another replica, or this one's web handlers, may enqueue sooner), and at least
            // a little, so that a job held elsewhere cannot make this loop spin.
            let wait = match state.store.next_job_due(lane).await {
                Ok(Some(due)) => {
                    let ms = (due.as_millisecond() - (state.clock)().as_millisecond()).max(0) as u64;
                    Duration::from_millis(ms).clamp(MIN_WAIT, options.poll.max(MIN_WAIT))
                }
                _ => options.poll,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for job in jobs {
            if *stop.borrow() {
                // Not started: given back when the server releases its claims.
                break;
            }
            handle(&state, &options, &job).await;
        }
    }
}

/// Run one claimed job and settle it: finished, or released to run again later.
async fn handle(state: &Arc<AppState>, options: &ServeOptions, job: &JobRow) {
    let started = Instant::now();
    let result = run_job(state, options, job).await;
    let outcome = match result {
        // The job finished itself, in the commit that settled what it did.
        Ok(Settled::Yes) => "done",
        Ok(Settled::No) => {
            if let Err(e) = state.store.finish_job(job, &state.worker_id).await {
                tracing::error!(job = %job.key, error = %e, "cannot mark a job done");
            }
            "done"
        }
        Err(e) => {
            tracing::warn!(job = %job.key, attempt = job.attempts, error = %e, "a job failed; it will be retried");
            // A forge that says when to come back is obeyed.
            let delay = match e.downcast_ref::<crate::forge_api::ApiError>() {
                Some(crate::forge_api::ApiError::RateLimited { retry_after }) => *retry_after,
                _ => backoff(job.attempts),
            };
            if let Err(e2) = state.store.retry_job(job, &state.worker_id, &e.to_string(), delay).await {
                tracing::error!(job = %job.key, error = %e2, "cannot release a failed job");
            }
            "failed"
        }
    };
    state.metrics.job(&job.kind, outcome);
    tracing::debug!(job = %job.key, took_ms = started.elapsed().as_millis() as u64, outcome, "job");
}

/// Retry delays grow with each attempt: 1 s, 2 s, 4 s … up to 10 minutes.
fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 10) as u32 - 1;
    Duration::from_secs((1u64 << exp).min(600))
}

/// Whether a job that ran also finished itself (removed from the queue in its own commit).
enum Settled {
    Yes,
    No,
}

async fn run_job(state: &Arc<AppState>, options: &ServeOptions, job: &JobRow) -> anyhow::Result<Settled> {
    match job.kind.as_str() {
        "process-delivery" => process_delivery(state, options, job).await.map(|()| Settled::Yes),
        verdict::EVALUATE => {
            let payload: EvaluateJob = serde_json::from_str(&job.payload)?;
            let (outcome, settlement) = verdict::evaluate(state, &payload.change_id, payload.onto.as_deref()).await?;
            tracing::info!(change = %payload.change_id, ?outcome, "evaluated");
            state
                .store
                .settle_evaluation(job, &state.worker_id, settlement.evaluation.as_ref(), settlement.posted.as_ref())
                .await?;
            Ok(Settled::Yes)
        }
        crate::pushes::JUDGE_PUSH => {
            let payload: crate::pushes::PushJob = serde_json::from_str(&job.payload)?;
            let outcome = crate::pushes::judge(state, &payload).await?;
            tracing::info!(repository = %payload.repository, after = %payload.after, %outcome, "push judged");
            Ok(Settled::No)
        }
        crate::reminders::SWEEP => {
            let enqueued = crate::reminders::sweep(state).await?;
            tracing::debug!(enqueued, "histories swept");
            Ok(Settled::No)
        }
        crate::collectors::COLLECT => {
            let payload: crate::collectors::CollectJob = serde_json::from_str(&job.payload)?;
            let runs = crate::collectors::collect_now(state, &payload).await?;
            tracing::debug!(repository = %payload.repository, runs, "protection collected after a delivery");
            Ok(Settled::No)
        }
        crate::reminders::REMIND => {
            let reminder: crate::reminders::Reminder = serde_json::from_str(&job.payload)?;
            if let Some(entry) = crate::reminders::remind(state, &reminder).await? {
                tracing::info!(obligation = %reminder.obligation, change = %reminder.change, state = %reminder.state, entry, "reminder sent");
            }
            Ok(Settled::No)
        }
        other => anyhow::bail!("unknown job kind {other:?} (written by a newer countersign?)"),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryJob {
    forge: String,
    delivery_id: String,
}

/// Read a stored delivery back and note what it says. The delivery was checked before it
/// was accepted, so a failure here is a stored delivery this build cannot read: it is
/// noted on the delivery, not retried for ever.
async fn process_delivery(state: &AppState, options: &ServeOptions, job: &JobRow) -> anyhow::Result<()> {
    let payload: DeliveryJob = serde_json::from_str(&job.payload)?;
    let Some(stored) = state.store.delivery(&payload.forge, &payload.delivery_id).await? else {
        anyhow::bail!("delivery {} of {} is not stored", payload.delivery_id, payload.forge);
    };
    let forge = Forge::from_name(&stored.forge).ok_or_else(|| anyhow::anyhow!("unknown forge {:?}", stored.forge))?;
    let body = stored.body.unwrap_or_default();
    let mut settlement = DeliverySettlement {
        forge: stored.forge.clone(),
        delivery_id: stored.delivery_id.clone(),
        job_key: job.key.clone(),
        worker: state.worker_id.clone(),
        generation: job.generation,
        ..DeliverySettlement::default()
    };
    let outcome = match webhook::normalise(forge, &stored.event, &body) {
        Ok(Normalised::Event(event)) => match &event.kind {
            EventKind::Check(check) if check.name == state.config.status_context => {
                own_status(state, &stored.forge, &event, check).await?
            }
            EventKind::Deployment(d) if let Some(gate) = crate::deploy_gate::gitlab_request(d) => {
                crate::deploy_gate::answer(state, &event, &gate, &format!("{}:{}", stored.forge, stored.delivery_id))
                    .await?
            }
            EventKind::DeploymentGate(gate) => {
                crate::deploy_gate::answer(state, &event, gate, &format!("{}:{}", stored.forge, stored.delivery_id))
                    .await?
            }
            // The protection changed: read it again at once (not evidence about a change).
            EventKind::ProtectionChanged(changed) if let Some(repository) = event.repository_name() => {
                let delivery = format!("{}:{}", stored.forge, stored.delivery_id);
                settlement.enqueue.push(crate::collectors::collect_job(
                    state,
                    repository,
                    &delivery,
                    options.debounce,
                )?);
                format!("processed: {} {} on {repository}; its protection is read again", changed.event, changed.action)
            }
            _ => {
                let received_at = stored.received_at.parse().unwrap_or_else(|_| (state.clock)());
                let intake = intake(&event, &format!("{}:{}", stored.forge, stored.delivery_id), received_at);
                if let Some(change) = &intake.change {
                    state.store.upsert_changes(std::slice::from_ref(change)).await?;
                }
                let written = state.store.record_from_delivery(&intake.records).await?;
                if let (EventKind::PullRequest(pr), Some(repository)) = (&event.kind, event.repository_name()) {
                    settlement.pull_request = Some(PullRequestNote {
                        change_id: pr_change_id(repository, pr.number),
                        repository: repository.to_owned(),
                        received_ms: received_at.as_millisecond(),
                    });
                }
                // Judge the change again, a moment from now: events of one burst coalesce.
                // A merge queue's commit gets the verdict of the pull request it carries.
                if let (EventKind::MergeGroup(group), Some(repository)) = (&event.kind, event.repository_name())
                    && group.action == MergeGroupAction::ChecksRequested
                    && let Some(number) = group.pr_number
                {
                    let id = pr_change_id(repository, number);
                    settlement.enqueue.push(verdict::evaluation_job(
                        state,
                        &id,
                        Some(&group.head_sha),
                        Duration::ZERO,
                    )?);
                } else if let Some(change) = intake.change.as_ref().filter(|c| c.pr_number.is_some()) {
                    settlement.enqueue.push(verdict::evaluation_job(state, &change.id, None, options.debounce)?);
                } else if let EventKind::Check(check) = &event.kind
                    && let Some(found) = state.store.resolve_change(&check.head_sha).await.ok().flatten()
                {
                    settlement.enqueue.push(verdict::evaluation_job(state, &found.id, None, options.debounce)?);
                }
                // A push to a protected branch: its direct pushes are judged as they land.
                if let (EventKind::Push(push), Some(repository)) = (&event.kind, event.repository_name())
                    && let Some(job) = crate::pushes::push_job(
                        (state.clock)(),
                        repository,
                        push,
                        &format!("{}:{}", stored.forge, stored.delivery_id),
                    )?
                {
                    settlement.enqueue.push(job);
                }
                match written.len() {
                    0 => format!("processed: {}", intake.summary),
                    n => format!("processed: {} ({n} evidence)", intake.summary),
                }
            }
        },
        Ok(Normalised::Ignored { event }) => format!("ignored: {event}"),
        Err(e) => format!("failed: {e}"),
    };
    // The pull request's note, the evaluation, the outcome and the job's end: one commit.
    settlement.outcome = outcome;
    state.store.settle_delivery(&settlement).await?;
    Ok(())
}

/// Enqueue (or coalesce into the waiting) evaluation of a change, `delay` from now.
async fn enqueue_evaluation(state: &AppState, change_id: &str, delay: Duration) -> anyhow::Result<()> {
    verdict::enqueue(state, change_id, None, delay).await
}

/// A status under countersign's own context arrived. Our own post echoes back with the
/// state we posted: nothing to do. Anything else is someone else writing in our name (a
/// token with status rights setting it to success, say): it is counted, the delivery's
/// outcome says so, and the change is judged and posted again at once.
async fn own_status(state: &AppState, forge: &str, event: &Event, check: &Check) -> anyhow::Result<String> {
    let repository = event.repository_name().unwrap_or_default();
    let word = match check.outcome {
        CheckOutcome::Success | CheckOutcome::Neutral | CheckOutcome::Skipped => "success",
        CheckOutcome::Pending => "pending",
        CheckOutcome::Failure | CheckOutcome::Cancelled => "failure",
    };
    let context = &state.config.status_context;
    let posted = state.store.posted_status(forge, repository, &check.head_sha, context).await?;
    if posted.as_ref().is_some_and(|p| p.state == word) {
        return Ok(format!("processed: our own status on {} ({word})", check.head_sha));
    }
    let change = match &posted {
        Some(p) => Some(p.change_id.clone()),
        None => state.store.resolve_change(&check.head_sha).await.ok().flatten().map(|c| c.id),
    };
    state.metrics.tampering();
    let ours = posted.as_ref().map_or("nothing yet", |p| p.state.as_str());
    tracing::warn!(repository, sha = %check.head_sha, set = word, ours, "someone else set countersign's status; overwriting");
    if let Some(change) = &change {
        state.store.forget_posted_status(forge, repository, &check.head_sha, context).await?;
        enqueue_evaluation(state, change, Duration::ZERO).await?;
    }
    Ok(format!(
        "tampering: {context} on {} was set to {word} by someone else (ours: {ours}); {}",
        check.head_sha,
        if change.is_some() { "judged again and overwritten" } else { "no change known for that commit" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(512));
    }
}
