//! Gitea's and Forgejo's webhook payloads (`X-Gitea-Event`, `X-Forgejo-Event`), which copy
//! GitHub's shapes where they can.

use jiff::Timestamp;
use serde::Deserialize;

use super::event::{
    Check, CheckAction, CheckKind, CheckOutcome, Event, EventKind, Normalised, PullRequestAction, Repository, Review,
    ReviewState,
};
use super::github::{pull_request_snapshot, status_outcome};
use super::time::lenient;
use super::wire::{CommitWire, PullRequestWire, PushWire, Repo, User, login};
use super::{Forge, WebhookError, ignored, parse, push_event};

pub(crate) fn normalise(event: &str, body: &[u8]) -> Result<Normalised, WebhookError> {
    match event {
        "push" => push(parse(Forge::Gitea, event, body)?),
        // `X-Gitea-Event` is `pull_request` for all of these; the rest are the finer
        // `X-Gitea-Event-Type`s, taken too in case a receiver passes that header instead.
        "pull_request"
        | "pull_request_sync"
        | "pull_request_label"
        | "pull_request_assign"
        | "pull_request_milestone"
        | "pull_request_review_request" => pull_request(parse(Forge::Gitea, event, body)?),
        // Review events. `pull_request_comment` is also the `X-Gitea-Event-Type` of a plain
        // comment on a pull request (whose `X-Gitea-Event` is `issue_comment`): such a
        // payload has no `review`, and is ignored.
        "pull_request_approved"
        | "pull_request_rejected"
        | "pull_request_comment"
        | "pull_request_review_approved"
        | "pull_request_review_rejected"
        | "pull_request_review_comment" => review(event, parse(Forge::Gitea, event, body)?),
        "status" => status(parse(Forge::Gitea, event, body)?),
        _ => ignored(Forge::Gitea, event, body),
    }
}

fn build(
    repository: Option<Repository>,
    actor: Option<String>,
    time: Option<Timestamp>,
    kind: EventKind,
) -> Result<Normalised, WebhookError> {
    Ok(Normalised::Event(Box::new(Event { forge: Forge::Gitea, repository, actor, time, installation_id: None, kind })))
}

fn missing(event: &str, field: &'static str) -> WebhookError {
    WebhookError::MissingField { forge: Forge::Gitea, event: event.to_string(), field }
}

/// Gitea's `PullRequestPayload`, which review events use too.
#[derive(Debug, Deserialize)]
struct PullRequestPayload {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<PullRequestWire>,
    /// Set on some review events; empty in the recorded ones.
    commit_id: Option<String>,
    review: Option<ReviewWire>,
    repository: Option<Repo>,
    sender: Option<User>,
}

#[derive(Debug, Deserialize)]
struct ReviewWire {
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn pull_request(p: PullRequestPayload) -> Result<Normalised, WebhookError> {
    let pr = p.pull_request.as_ref().ok_or_else(|| missing("pull_request", "pull_request"))?;
    let number = p.number.or(pr.number).ok_or_else(|| missing("pull_request", "number"))?;
    let action = match p.action.as_deref().ok_or_else(|| missing("pull_request", "action"))? {
        "opened" => PullRequestAction::Opened,
        "reopened" => PullRequestAction::Reopened,
        "edited" => PullRequestAction::Edited,
        // Gitea does not say where the head was before.
        "synchronized" => PullRequestAction::Synchronized { before: None, after: pr.head_sha() },
        "label_updated" | "label_cleared" => PullRequestAction::LabelsChanged,
        "closed" if pr.merged == Some(true) => PullRequestAction::Merged {
            merge_commit_sha: pr.merge_commit_sha.clone().filter(|s| !s.is_empty()),
            merged_by: login(pr.merged_by.as_ref()),
        },
        "closed" => PullRequestAction::Closed,
        other => return Ok(Normalised::Ignored { event: format!("pull_request.{other}") }),
    };
    let time = match action {
        PullRequestAction::Merged { .. } => pr.merged_at.or(pr.closed_at).or(pr.updated_at),
        PullRequestAction::Closed => pr.closed_at.or(pr.updated_at),
        _ => pr.updated_at,
    };
    let kind = EventKind::PullRequest(pull_request_snapshot(number, action, pr));
    build(p.repository.as_ref().and_then(Repo::to_repository), login(p.sender.as_ref()), time, kind)
}

fn review(event: &str, p: PullRequestPayload) -> Result<Normalised, WebhookError> {
    let Some(review) = p.review.as_ref() else {
        if event == "pull_request_comment" {
            return Ok(Normalised::Ignored { event: event.to_string() });
        }
        return Err(missing(event, "review"));
    };
    let pr = p.pull_request.as_ref().ok_or_else(|| missing(event, "pull_request"))?;
    let number = p.number.or(pr.number).ok_or_else(|| missing(event, "number"))?;
    // Newer Gitea writes `pull_request_review_*`; Gitea of 2022 wrote
    // `pull_request_comment` for a comment review. The event name decides when the type
    // says nothing this crate knows.
    let forge_state = review.kind.clone().unwrap_or_default();
    let state = match forge_state.as_str() {
        "pull_request_review_approved" => ReviewState::Approved,
        "pull_request_review_rejected" => ReviewState::ChangesRequested,
        "pull_request_review_comment" | "pull_request_comment" => ReviewState::Commented,
        _ => match event {
            "pull_request_approved" | "pull_request_review_approved" => ReviewState::Approved,
            "pull_request_rejected" | "pull_request_review_rejected" => ReviewState::ChangesRequested,
            _ => ReviewState::Commented,
        },
    };
    let head_sha = pr.head_sha();
    let kind = EventKind::Review(Review {
        number,
        state,
        forge_state,
        // The sender of a review event is the reviewer.
        reviewer: login(p.sender.as_ref()),
        // The payload's `commit_id` when Gitea fills it, else the head the review came with.
        commit_sha: p.commit_id.clone().filter(|c| !c.is_empty()).or_else(|| head_sha.clone()),
        head_sha,
        submitted_at: None,
        id: None,
    });
    build(p.repository.as_ref().and_then(Repo::to_repository), login(p.sender.as_ref()), pr.updated_at, kind)
}

fn push(p: PushWire) -> Result<Normalised, WebhookError> {
    let pusher = p.pusher.as_ref().and_then(|u| u.login.clone().or_else(|| u.username.clone()));
    let kind = push_event(Forge::Gitea, &p, pusher)?;
    // Gitea says when each commit was made, not when the push was; no time.
    build(p.repository.as_ref().and_then(Repo::to_repository), login(p.sender.as_ref()), None, kind)
}

/// Gitea's commit status event. No delivery of one has been recorded; this follows Gitea's
/// `CommitStatusPayload` in `modules/structs/hook.go` (fields `commit`, `context`,
/// `created_at`, `description`, `id`, `repository`, `sender`, `sha`, `state`,
/// `target_url`, `updated_at`), states `pending`, `success`, `error`, `failure`, `warning`.
#[derive(Debug, Deserialize)]
struct StatusPayload {
    id: Option<u64>,
    sha: Option<String>,
    commit: Option<CommitWire>,
    context: Option<String>,
    state: Option<String>,
    description: Option<String>,
    target_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
    repository: Option<Repo>,
    sender: Option<User>,
}

fn status(p: StatusPayload) -> Result<Normalised, WebhookError> {
    let head_sha = p
        .sha
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| p.commit.as_ref().and_then(|c| c.id.clone()))
        .ok_or_else(|| missing("status", "sha"))?;
    let state = p.state.clone().unwrap_or_default().to_ascii_lowercase();
    let outcome = status_outcome(&state);
    let time = p.updated_at.or(p.created_at);
    let kind = EventKind::Check(Check {
        kind: CheckKind::CommitStatus,
        action: CheckAction::Reported,
        name: p.context.clone().unwrap_or_default(),
        head_sha,
        outcome,
        forge_status: state,
        id: p.id,
        app: None,
        app_id: None,
        branch: None,
        pull_requests: vec![],
        url: p.target_url.clone().filter(|u| !u.is_empty()),
        description: p.description.clone().filter(|d| !d.is_empty()),
        started_at: p.created_at,
        completed_at: if outcome == CheckOutcome::Pending { None } else { time },
        pipeline_id: None,
    });
    build(p.repository.as_ref().and_then(Repo::to_repository), login(p.sender.as_ref()), time, kind)
}
