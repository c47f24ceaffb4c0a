//! GitHub's webhook payloads (`X-GitHub-Event`), as octokit/webhooks records them.

use jiff::Timestamp;
use serde::Deserialize;

use super::event::{
    Check, CheckAction, CheckKind, CheckOutcome, Deployment, DeploymentGate, DeploymentState, Event, EventKind,
    Installation, MergeGroup, MergeGroupAction, Normalised, Ping, ProtectionChanged, PullRequest, PullRequestAction,
    Repository, Review, ReviewState,
};
use super::time::lenient;
use super::wire::{IdOnly, Label, PullRequestWire, PushWire, Repo, User, login};
use super::{Forge, WebhookError, ignored, parse, push_event};

pub(crate) fn normalise(event: &str, body: &[u8]) -> Result<Normalised, WebhookError> {
    match event {
        "pull_request" => pull_request(parse(Forge::GitHub, event, body)?),
        "pull_request_review" => review(parse(Forge::GitHub, event, body)?),
        "check_run" => check_run(parse(Forge::GitHub, event, body)?),
        "check_suite" => check_suite(parse(Forge::GitHub, event, body)?),
        "status" => status(parse(Forge::GitHub, event, body)?),
        "push" => push(parse(Forge::GitHub, event, body)?),
        "merge_group" => merge_group(parse(Forge::GitHub, event, body)?),
        "deployment" | "deployment_status" => deployment(event, parse(Forge::GitHub, event, body)?),
        "deployment_protection_rule" => deployment_gate(parse(Forge::GitHub, event, body)?),
        "installation" | "installation_repositories" => installation(parse(Forge::GitHub, event, body)?),
        "ping" => ping(parse(Forge::GitHub, event, body)?),
        "branch_protection_rule" | "repository_ruleset" | "branch_protection_configuration" => {
            protection_changed(event, parse(Forge::GitHub, event, body)?)
        }
        _ => ignored(Forge::GitHub, event, body),
    }
}

fn envelope(repository: Option<&Repo>, sender: Option<&User>, installation: Option<&IdOnly>) -> EventBuilder {
    EventBuilder {
        repository: repository.and_then(Repo::to_repository),
        actor: login(sender),
        installation_id: installation.and_then(|i| i.id),
    }
}

/// The fields every GitHub payload shares, waiting for the event's own.
struct EventBuilder {
    repository: Option<Repository>,
    actor: Option<String>,
    installation_id: Option<u64>,
}

impl EventBuilder {
    fn build(self, time: Option<Timestamp>, kind: EventKind) -> Result<Normalised, WebhookError> {
        Ok(Normalised::Event(Box::new(Event {
            forge: Forge::GitHub,
            repository: self.repository,
            actor: self.actor,
            time,
            installation_id: self.installation_id,
            kind,
        })))
    }
}

fn missing(event: &str, field: &'static str) -> WebhookError {
    WebhookError::MissingField { forge: Forge::GitHub, event: event.to_string(), field }
}

#[derive(Debug, Deserialize)]
struct PullRequestPayload {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<PullRequestWire>,
    label: Option<Label>,
    before: Option<String>,
    after: Option<String>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

fn pull_request(p: PullRequestPayload) -> Result<Normalised, WebhookError> {
    let pr = p.pull_request.as_ref().ok_or_else(|| missing("pull_request", "pull_request"))?;
    let number = p.number.or(pr.number).ok_or_else(|| missing("pull_request", "number"))?;
    let action_name = p.action.as_deref().ok_or_else(|| missing("pull_request", "action"))?;
    let label = || p.label.as_ref().and_then(|l| l.name.clone());
    let merged = pr.merged == Some(true);
    let action = match action_name {
        "opened" => PullRequestAction::Opened,
        "reopened" => PullRequestAction::Reopened,
        "edited" => PullRequestAction::Edited,
        "synchronize" => PullRequestAction::Synchronized {
            before: p.before.clone(),
            after: p.after.clone().or_else(|| pr.head_sha()),
        },
        "labeled" => label().map_or(PullRequestAction::LabelsChanged, |label| PullRequestAction::Labeled { label }),
        "unlabeled" => label().map_or(PullRequestAction::LabelsChanged, |label| PullRequestAction::Unlabeled { label }),
        "closed" if merged => PullRequestAction::Merged {
            merge_commit_sha: pr.merge_commit_sha.clone(),
            merged_by: login(pr.merged_by.as_ref()),
        },
        "closed" => PullRequestAction::Closed,
        "ready_for_review" => PullRequestAction::ReadyForReview,
        "converted_to_draft" => PullRequestAction::ConvertedToDraft,
        other => return Ok(Normalised::Ignored { event: format!("pull_request.{other}") }),
    };
    let time = match action {
        PullRequestAction::Merged { .. } => pr.merged_at.or(pr.closed_at).or(pr.updated_at),
        PullRequestAction::Closed => pr.closed_at.or(pr.updated_at),
        _ => pr.updated_at,
    };
    let kind = EventKind::PullRequest(pull_request_snapshot(number, action, pr));
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

/// The pull request as a GitHub-shaped payload describes it (Gitea's too).
pub(crate) fn pull_request_snapshot(number: u64, action: PullRequestAction, pr: &PullRequestWire) -> PullRequest {
    PullRequest {
        number,
        action,
        title: pr.title.clone(),
        body: pr.body.clone(),
        author: login(pr.user.as_ref()),
        head_sha: pr.head_sha(),
        head_ref: pr.head.as_ref().and_then(|h| h.git_ref.clone()),
        base_ref: pr.base.as_ref().and_then(|b| b.git_ref.clone()),
        base_sha: pr.base.as_ref().and_then(|b| b.sha.clone()),
        labels: pr.label_names(),
        draft: pr.draft,
    }
}

#[derive(Debug, Deserialize)]
struct ReviewPayload {
    action: Option<String>,
    review: Option<ReviewWire>,
    pull_request: Option<PullRequestWire>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
struct ReviewWire {
    id: Option<u64>,
    user: Option<User>,
    state: Option<String>,
    commit_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    submitted_at: Option<Timestamp>,
}

fn review(p: ReviewPayload) -> Result<Normalised, WebhookError> {
    let review = p.review.as_ref().ok_or_else(|| missing("pull_request_review", "review"))?;
    let pr = p.pull_request.as_ref().ok_or_else(|| missing("pull_request_review", "pull_request"))?;
    let number = pr.number.ok_or_else(|| missing("pull_request_review", "pull_request.number"))?;
    let forge_state = review.state.clone().unwrap_or_default();
    let state = match p.action.as_deref() {
        Some("submitted") => match forge_state.to_ascii_lowercase().as_str() {
            "approved" => ReviewState::Approved,
            "changes_requested" => ReviewState::ChangesRequested,
            // `commented`, and any state GitHub may add: never read as an approval.
            _ => ReviewState::Commented,
        },
        Some("dismissed") => ReviewState::Dismissed,
        Some(other) => return Ok(Normalised::Ignored { event: format!("pull_request_review.{other}") }),
        None => return Err(missing("pull_request_review", "action")),
    };
    let kind = EventKind::Review(Review {
        number,
        state,
        forge_state,
        reviewer: login(review.user.as_ref()),
        commit_sha: review.commit_id.clone(),
        head_sha: pr.head_sha(),
        submitted_at: review.submitted_at,
        id: review.id,
    });
    let time = review.submitted_at.or(pr.updated_at);
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

#[derive(Debug, Deserialize)]
struct App {
    id: Option<u64>,
    slug: Option<String>,
    name: Option<String>,
}

fn app_name(app: Option<&App>) -> Option<String> {
    app.and_then(|a| a.slug.clone().or_else(|| a.name.clone()))
}

#[derive(Debug, Deserialize)]
struct Number {
    number: Option<u64>,
}

fn numbers(list: Option<&Vec<Number>>) -> Vec<u64> {
    list.into_iter().flatten().filter_map(|n| n.number).collect()
}

#[derive(Debug, Deserialize)]
struct CheckRunPayload {
    action: Option<String>,
    check_run: Option<CheckRunWire>,
    requested_action: Option<RequestedAction>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
struct CheckRunWire {
    id: Option<u64>,
    name: Option<String>,
    head_sha: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    details_url: Option<String>,
    html_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    started_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    completed_at: Option<Timestamp>,
    app: Option<App>,
    pull_requests: Option<Vec<Number>>,
    check_suite: Option<SuiteBranch>,
    output: Option<CheckOutput>,
}

#[derive(Debug, Deserialize)]
struct SuiteBranch {
    head_branch: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CheckOutput {
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RequestedAction {
    identifier: Option<String>,
}

fn check_run(p: CheckRunPayload) -> Result<Normalised, WebhookError> {
    let run = p.check_run.as_ref().ok_or_else(|| missing("check_run", "check_run"))?;
    let head_sha = run.head_sha.clone().ok_or_else(|| missing("check_run", "check_run.head_sha"))?;
    let action = match p.action.as_deref() {
        Some("created" | "completed") => CheckAction::Reported,
        Some("rerequested") => CheckAction::Rerequested,
        Some("requested_action") => {
            CheckAction::RequestedAction { identifier: p.requested_action.as_ref().and_then(|a| a.identifier.clone()) }
        }
        Some(other) => return Ok(Normalised::Ignored { event: format!("check_run.{other}") }),
        None => return Err(missing("check_run", "action")),
    };
    let (outcome, forge_status) = check_run_outcome(run.status.as_deref(), run.conclusion.as_deref());
    let kind = EventKind::Check(Check {
        kind: CheckKind::CheckRun,
        action,
        name: run.name.clone().unwrap_or_default(),
        head_sha,
        outcome,
        forge_status,
        id: run.id,
        app: app_name(run.app.as_ref()),
        app_id: run.app.as_ref().and_then(|a| a.id),
        branch: run.check_suite.as_ref().and_then(|s| s.head_branch.clone()),
        pull_requests: numbers(run.pull_requests.as_ref()),
        url: run.details_url.clone().filter(|u| !u.is_empty()).or_else(|| run.html_url.clone()),
        description: run.output.as_ref().and_then(|o| o.title.clone()),
        started_at: run.started_at,
        completed_at: run.completed_at,
        pipeline_id: None,
    });
    let time = run.completed_at.or(run.started_at);
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

/// A check run's or suite's `status` and `conclusion` as an outcome, and as the forge said
/// them (`completed/success`).
fn check_run_outcome(status: Option<&str>, conclusion: Option<&str>) -> (CheckOutcome, String) {
    let status = status.unwrap_or_default().to_ascii_lowercase();
    if status != "completed" {
        return (CheckOutcome::Pending, status);
    }
    let conclusion = conclusion.unwrap_or_default().to_ascii_lowercase();
    let outcome = match conclusion.as_str() {
        "success" => CheckOutcome::Success,
        "neutral" => CheckOutcome::Neutral,
        "skipped" => CheckOutcome::Skipped,
        "cancelled" => CheckOutcome::Cancelled,
        // failure, timed_out, action_required, stale, startup_failure, and the unknown.
        _ => CheckOutcome::Failure,
    };
    (outcome, format!("{status}/{conclusion}"))
}

#[derive(Debug, Deserialize)]
struct CheckSuitePayload {
    action: Option<String>,
    check_suite: Option<CheckSuiteWire>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
struct CheckSuiteWire {
    id: Option<u64>,
    head_sha: Option<String>,
    head_branch: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    app: Option<App>,
    pull_requests: Option<Vec<Number>>,
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
}

fn check_suite(p: CheckSuitePayload) -> Result<Normalised, WebhookError> {
    let suite = p.check_suite.as_ref().ok_or_else(|| missing("check_suite", "check_suite"))?;
    let head_sha = suite.head_sha.clone().ok_or_else(|| missing("check_suite", "check_suite.head_sha"))?;
    let action = match p.action.as_deref() {
        Some("completed") => CheckAction::Reported,
        Some("requested") => CheckAction::Requested,
        Some("rerequested") => CheckAction::Rerequested,
        Some(other) => return Ok(Normalised::Ignored { event: format!("check_suite.{other}") }),
        None => return Err(missing("check_suite", "action")),
    };
    let (outcome, forge_status) = check_run_outcome(suite.status.as_deref(), suite.conclusion.as_deref());
    let app = app_name(suite.app.as_ref());
    let completed = outcome != CheckOutcome::Pending;
    let kind = EventKind::Check(Check {
        kind: CheckKind::CheckSuite,
        action,
        name: app.clone().unwrap_or_else(|| "check suite".to_string()),
        head_sha,
        outcome,
        forge_status,
        id: suite.id,
        app,
        app_id: suite.app.as_ref().and_then(|a| a.id),
        branch: suite.head_branch.clone(),
        pull_requests: numbers(suite.pull_requests.as_ref()),
        url: suite.url.clone(),
        description: None,
        started_at: suite.created_at,
        completed_at: if completed { suite.updated_at } else { None },
        pipeline_id: None,
    });
    let time = suite.updated_at.or(suite.created_at);
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

#[derive(Debug, Deserialize)]
struct StatusPayload {
    id: Option<u64>,
    sha: Option<String>,
    context: Option<String>,
    state: Option<String>,
    description: Option<String>,
    target_url: Option<String>,
    branches: Option<Vec<Label>>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

fn status(p: StatusPayload) -> Result<Normalised, WebhookError> {
    let head_sha = p.sha.clone().ok_or_else(|| missing("status", "sha"))?;
    let state = p.state.clone().unwrap_or_default().to_ascii_lowercase();
    let outcome = status_outcome(&state);
    let time = p.updated_at.or(p.created_at);
    // A status names the branches whose head the commit is; one branch is the branch.
    let branch = match p.branches.as_deref() {
        Some([one]) => one.name.clone(),
        _ => None,
    };
    let kind = EventKind::Check(Check {
        kind: CheckKind::CommitStatus,
        action: CheckAction::Reported,
        name: p.context.clone().unwrap_or_else(|| "default".to_string()),
        head_sha,
        outcome,
        forge_status: state,
        id: p.id,
        app: None,
        app_id: None,
        branch,
        pull_requests: vec![],
        url: p.target_url.clone().filter(|u| !u.is_empty()),
        description: p.description.clone().filter(|d| !d.is_empty()),
        started_at: p.created_at,
        completed_at: if outcome == CheckOutcome::Pending { None } else { time },
        pipeline_id: None,
    });
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

/// A commit status's `state` (GitHub: `pending`, `success`, `failure`, `error`; Gitea adds
/// `warning`, which is not a pass).
pub(crate) fn status_outcome(state: &str) -> CheckOutcome {
    match state {
        "success" => CheckOutcome::Success,
        "pending" => CheckOutcome::Pending,
        _ => CheckOutcome::Failure,
    }
}

fn push(p: PushWire) -> Result<Normalised, WebhookError> {
    let pusher = p.pusher.as_ref().and_then(|u| u.name.clone().or_else(|| u.login.clone()));
    let time = p.repository.as_ref().and_then(|r| r.pushed_at).or(p.head_commit.as_ref().and_then(|c| c.timestamp));
    let kind = push_event(Forge::GitHub, &p, pusher)?;
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

#[derive(Debug, Deserialize)]
struct MergeGroupPayload {
    action: Option<String>,
    reason: Option<String>,
    merge_group: Option<MergeGroupWire>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
struct MergeGroupWire {
    head_sha: Option<String>,
    head_ref: Option<String>,
    base_sha: Option<String>,
    base_ref: Option<String>,
}

fn merge_group(p: MergeGroupPayload) -> Result<Normalised, WebhookError> {
    let group = p.merge_group.as_ref().ok_or_else(|| missing("merge_group", "merge_group"))?;
    let head_sha = group.head_sha.clone().ok_or_else(|| missing("merge_group", "merge_group.head_sha"))?;
    let action = match p.action.as_deref() {
        Some("checks_requested") => MergeGroupAction::ChecksRequested,
        Some("destroyed") => MergeGroupAction::Destroyed { reason: p.reason.clone() },
        Some(other) => return Ok(Normalised::Ignored { event: format!("merge_group.{other}") }),
        None => return Err(missing("merge_group", "action")),
    };
    let kind = EventKind::MergeGroup(MergeGroup {
        action,
        pr_number: group.head_ref.as_deref().and_then(queue_pr_number),
        head_sha,
        head_ref: group.head_ref.clone(),
        base_sha: group.base_sha.clone(),
        base_ref: group.base_ref.clone(),
    });
    // The payload says when the head commit was made, not when the group was; no time.
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(None, kind)
}

/// The pull request in a merge queue branch: `refs/heads/gh-readonly-queue/main/pr-104-<sha>`.
fn queue_pr_number(head_ref: &str) -> Option<u64> {
    let last = head_ref.rsplit('/').next()?;
    let digits = last.strip_prefix("pr-")?.split('-').next()?;
    digits.parse().ok()
}

#[derive(Debug, Deserialize)]
struct DeploymentPayload {
    deployment: Option<DeploymentWire>,
    deployment_status: Option<DeploymentStatusWire>,
    workflow_run: Option<IdOnly>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

#[derive(Debug, Deserialize)]
struct DeploymentWire {
    id: Option<u64>,
    sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    task: Option<String>,
    environment: Option<String>,
    production_environment: Option<bool>,
    creator: Option<User>,
    /// Free-form: an object or a string, as the deployment's creator set it.
    #[serde(default)]
    payload: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct DeploymentStatusWire {
    state: Option<String>,
    environment: Option<String>,
    environment_url: Option<String>,
    target_url: Option<String>,
    log_url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
}

fn deployment(event_name: &str, p: DeploymentPayload) -> Result<Normalised, WebhookError> {
    let d = p.deployment.as_ref().ok_or_else(|| missing(event_name, "deployment"))?;
    let status = p.deployment_status.as_ref();
    if event_name == "deployment_status" && status.is_none() {
        return Err(missing(event_name, "deployment_status"));
    }
    let non_empty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
    let (state, forge_state, time) = match status {
        Some(s) => {
            let word = s.state.clone().unwrap_or_default().to_ascii_lowercase();
            (deployment_state(&word), word, s.updated_at.or(s.created_at))
        }
        None => (DeploymentState::Created, "created".to_string(), d.created_at),
    };
    let kind = EventKind::Deployment(Deployment {
        id: d.id,
        environment: status.and_then(|s| non_empty(s.environment.as_ref())).or_else(|| d.environment.clone()),
        production: d.production_environment,
        sha: d.sha.clone(),
        git_ref: d.git_ref.clone(),
        task: d.task.clone(),
        state,
        forge_state,
        creator: login(d.creator.as_ref()),
        url: status.and_then(|s| non_empty(s.environment_url.as_ref()).or_else(|| non_empty(s.target_url.as_ref()))),
        log_url: status.and_then(|s| non_empty(s.log_url.as_ref())),
        run_id: p.workflow_run.as_ref().and_then(|r| r.id),
        artifact: artifact_of(d),
    });
    let time = time.or(d.updated_at);
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

/// `payload.artifact` of a deployment, when it is a `sha256:` digest.
fn artifact_of(d: &DeploymentWire) -> Option<String> {
    let artifact = d.payload.as_ref()?.get("artifact")?.as_str()?.trim();
    (artifact.starts_with("sha256:") && artifact.len() == 71).then(|| artifact.to_ascii_lowercase())
}

fn deployment_state(state: &str) -> DeploymentState {
    match state {
        "queued" | "pending" | "waiting" => DeploymentState::Pending,
        "in_progress" => DeploymentState::InProgress,
        "success" => DeploymentState::Success,
        "inactive" => DeploymentState::Inactive,
        "cancelled" | "canceled" => DeploymentState::Cancelled,
        _ => DeploymentState::Failure,
    }
}

#[derive(Debug, Deserialize)]
struct DeploymentGatePayload {
    action: Option<String>,
    environment: Option<String>,
    event: Option<String>,
    deployment_callback_url: Option<String>,
    deployment: Option<DeploymentWire>,
    pull_requests: Option<Vec<Number>>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

fn deployment_gate(p: DeploymentGatePayload) -> Result<Normalised, WebhookError> {
    match p.action.as_deref() {
        Some("requested") => {}
        Some(other) => return Ok(Normalised::Ignored { event: format!("deployment_protection_rule.{other}") }),
        None => return Err(missing("deployment_protection_rule", "action")),
    }
    let d = p.deployment.as_ref();
    let kind = EventKind::DeploymentGate(DeploymentGate {
        environment: p.environment.clone().or_else(|| d.and_then(|d| d.environment.clone())),
        trigger: p.event.clone(),
        callback_url: p.deployment_callback_url.clone(),
        deployment_id: d.and_then(|d| d.id),
        sha: d.and_then(|d| d.sha.clone()),
        git_ref: d.and_then(|d| d.git_ref.clone()),
        pull_requests: numbers(p.pull_requests.as_ref()),
        creator: d.and_then(|d| login(d.creator.as_ref())),
        artifact: d.and_then(artifact_of),
    });
    let time = d.and_then(|d| d.created_at);
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

#[derive(Debug, Deserialize)]
struct InstallationPayload {
    action: Option<String>,
    installation: Option<InstallationWire>,
    repositories: Option<Vec<Repo>>,
    repositories_added: Option<Vec<Repo>>,
    repositories_removed: Option<Vec<Repo>>,
    sender: Option<User>,
}

#[derive(Debug, Deserialize)]
struct InstallationWire {
    id: Option<u64>,
    account: Option<User>,
    app_id: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
}

fn installation(p: InstallationPayload) -> Result<Normalised, WebhookError> {
    let install = p.installation.as_ref().ok_or_else(|| missing("installation", "installation"))?;
    let action = p.action.clone().ok_or_else(|| missing("installation", "action"))?;
    let names = |repos: Option<&Vec<Repo>>| -> Vec<String> {
        repos.into_iter().flatten().filter_map(|r| r.full_name.clone()).collect()
    };
    let mut added = names(p.repositories_added.as_ref());
    if action == "created" {
        added.extend(names(p.repositories.as_ref()));
    }
    let kind = EventKind::Installation(Installation {
        action,
        account: login(install.account.as_ref()),
        app_id: install.app_id,
        repositories_added: added,
        repositories_removed: names(p.repositories_removed.as_ref()),
    });
    let time = install.updated_at.or(install.created_at);
    EventBuilder { repository: None, actor: login(p.sender.as_ref()), installation_id: install.id }.build(time, kind)
}

#[derive(Debug, Deserialize)]
struct PingPayload {
    zen: Option<String>,
    hook_id: Option<u64>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

fn ping(p: PingPayload) -> Result<Normalised, WebhookError> {
    let kind = EventKind::Ping(Ping { hook_id: p.hook_id, zen: p.zen.clone() });
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(None, kind)
}

#[derive(Debug, Deserialize)]
struct Named {
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct ProtectionPayload {
    action: Option<String>,
    /// `branch_protection_rule`'s rule.
    rule: Option<Named>,
    /// `repository_ruleset`'s ruleset.
    repository_ruleset: Option<Named>,
    repository: Option<Repo>,
    sender: Option<User>,
    installation: Option<IdOnly>,
}

fn protection_changed(event: &str, p: ProtectionPayload) -> Result<Normalised, WebhookError> {
    let action = p.action.clone().ok_or_else(|| missing(event, "action"))?;
    let named = p.rule.as_ref().or(p.repository_ruleset.as_ref());
    let kind = EventKind::ProtectionChanged(ProtectionChanged {
        event: event.to_owned(),
        action,
        name: named.and_then(|n| n.name.clone()),
    });
    let time = named.and_then(|n| n.updated_at);
    envelope(p.repository.as_ref(), p.sender.as_ref(), p.installation.as_ref()).build(time, kind)
}

#[cfg(test)]
mod tests {
    use super::queue_pr_number;

    #[test]
    fn merge_queue_branch_names_its_pull_request() {
        let head = "refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64";
        assert_eq!(queue_pr_number(head), Some(104));
        assert_eq!(queue_pr_number("refs/heads/main"), None);
        assert_eq!(queue_pr_number("refs/heads/gh-readonly-queue/main/pr-x-1"), None);
    }
}
