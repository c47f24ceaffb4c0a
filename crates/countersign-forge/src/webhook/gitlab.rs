//! GitLab's webhook payloads (`X-Gitlab-Event`), as GitLab's "Webhook events" page shows them.

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::event::{
    Check, CheckAction, CheckKind, CheckOutcome, Deployment, DeploymentState, Event, EventKind, Normalised,
    PullRequest, PullRequestAction, Push, PushedCommit, Repository, Review, ReviewState, is_zero_sha,
};
use super::time::lenient;
use super::{Forge, WebhookError, ignored, parse};

pub(crate) fn normalise(event: &str, body: &[u8]) -> Result<Normalised, WebhookError> {
    match event {
        "Merge Request Hook" => merge_request(event, parse(Forge::GitLab, event, body)?),
        "Push Hook" | "Tag Push Hook" => push(event, parse(Forge::GitLab, event, body)?),
        "Pipeline Hook" => pipeline(event, parse(Forge::GitLab, event, body)?),
        "Job Hook" => job(event, parse(Forge::GitLab, event, body)?),
        "Deployment Hook" => deployment(parse(Forge::GitLab, event, body)?),
        _ => ignored(Forge::GitLab, event, body),
    }
}

fn build(
    repository: Option<Repository>,
    actor: Option<String>,
    time: Option<Timestamp>,
    kind: EventKind,
) -> Result<Normalised, WebhookError> {
    Ok(Normalised::Event(Box::new(Event {
        forge: Forge::GitLab,
        repository,
        actor,
        time,
        installation_id: None,
        kind,
    })))
}

fn missing(event: &str, field: &'static str) -> WebhookError {
    WebhookError::MissingField { forge: Forge::GitLab, event: event.to_string(), field }
}

#[derive(Debug, Deserialize)]
struct Project {
    id: Option<u64>,
    path_with_namespace: Option<String>,
}

/// `project.path_with_namespace` and the project id (`project.id`, else `project_id`).
fn repository(project: Option<&Project>, project_id: Option<u64>) -> Option<Repository> {
    let project = project?;
    let full_name = project.path_with_namespace.clone().filter(|p| !p.is_empty())?;
    Some(Repository { full_name, id: project.id.or(project_id) })
}

#[derive(Debug, Deserialize)]
struct User {
    username: Option<String>,
}

fn username(user: Option<&User>) -> Option<String> {
    user.and_then(|u| u.username.clone()).filter(|u| !u.is_empty())
}

#[derive(Debug, Deserialize)]
struct Label {
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    timestamp: Option<Timestamp>,
    author: Option<CommitAuthor>,
}

#[derive(Debug, Deserialize)]
struct CommitAuthor {
    name: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MergeRequestPayload {
    object_attributes: Option<MergeRequestAttributes>,
    user: Option<User>,
    project: Option<Project>,
    labels: Option<Vec<Label>>,
    changes: Option<Changes>,
    /// Present when GitLab posts to an external status check service.
    external_approval_rule: Option<ExternalRule>,
}

#[derive(Debug, Deserialize)]
struct MergeRequestAttributes {
    iid: Option<u64>,
    action: Option<String>,
    title: Option<String>,
    description: Option<String>,
    source_branch: Option<String>,
    target_branch: Option<String>,
    last_commit: Option<Commit>,
    /// The head before the update, set when an `update` brought new commits.
    oldrev: Option<String>,
    merge_commit_sha: Option<String>,
    draft: Option<bool>,
    work_in_progress: Option<bool>,
    labels: Option<Vec<Label>>,
    #[serde(default, deserialize_with = "lenient")]
    updated_at: Option<Timestamp>,
}

/// Which attributes an `update` changed; only their presence is read.
#[derive(Debug, Deserialize)]
struct Changes {
    labels: Option<IgnoredAny>,
    title: Option<IgnoredAny>,
    description: Option<IgnoredAny>,
    target_branch: Option<IgnoredAny>,
    draft: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct ExternalRule {
    id: Option<u64>,
    name: Option<String>,
}

fn merge_request(event: &str, p: MergeRequestPayload) -> Result<Normalised, WebhookError> {
    let mr = p.object_attributes.as_ref().ok_or_else(|| missing(event, "object_attributes"))?;
    let number = mr.iid.ok_or_else(|| missing(event, "object_attributes.iid"))?;
    let head_sha = mr.last_commit.as_ref().and_then(|c| c.id.clone());
    let repository = repository(p.project.as_ref(), None);
    let actor = username(p.user.as_ref());
    let draft = mr.draft.or(mr.work_in_progress);
    let review = |state, action: &str| {
        let kind = EventKind::Review(Review {
            number,
            state,
            forge_state: action.to_string(),
            reviewer: actor.clone(),
            commit_sha: head_sha.clone(),
            head_sha: head_sha.clone(),
            submitted_at: None,
            id: None,
        });
        build(repository.clone(), actor.clone(), mr.updated_at, kind)
    };
    let changes = p.changes.as_ref();
    let changed = |field: fn(&Changes) -> bool| changes.is_some_and(field);
    let action = match mr.action.as_deref() {
        Some("open") => PullRequestAction::Opened,
        Some("reopen") => PullRequestAction::Reopened,
        Some("close") => PullRequestAction::Closed,
        Some("merge") => PullRequestAction::Merged {
            merge_commit_sha: mr.merge_commit_sha.clone().filter(|s| !s.is_empty()),
            merged_by: actor.clone(),
        },
        Some("update") => match mr.oldrev.clone().filter(|r| !r.is_empty()) {
            Some(before) => PullRequestAction::Synchronized { before: Some(before), after: head_sha.clone() },
            None if changed(|c| c.labels.is_some()) => PullRequestAction::LabelsChanged,
            None if changed(|c| c.draft.is_some()) => {
                if draft == Some(true) {
                    PullRequestAction::ConvertedToDraft
                } else {
                    PullRequestAction::ReadyForReview
                }
            }
            None if changed(|c| c.title.is_some() || c.description.is_some() || c.target_branch.is_some()) => {
                PullRequestAction::Edited
            }
            // Assignees, milestones, time spent: nothing countersign reads.
            None => return Ok(Normalised::Ignored { event: format!("{event}.update") }),
        },
        // `approval`: one person approved; `approved`: that approval completed the rules.
        Some(action @ ("approval" | "approved")) => return review(ReviewState::Approved, action),
        Some(action @ ("unapproval" | "unapproved")) => return review(ReviewState::Withdrawn, action),
        Some(other) => return Ok(Normalised::Ignored { event: format!("{event}.{other}") }),
        None => match p.external_approval_rule.as_ref() {
            Some(rule) => PullRequestAction::StatusCheckRequested { rule_id: rule.id, rule_name: rule.name.clone() },
            None => return Err(missing(event, "object_attributes.action")),
        },
    };
    let labels = p.labels.as_ref().or(mr.labels.as_ref());
    let kind = EventKind::PullRequest(PullRequest {
        number,
        action,
        title: mr.title.clone(),
        body: mr.description.clone(),
        author: None,
        head_sha,
        head_ref: mr.source_branch.clone(),
        base_ref: mr.target_branch.clone(),
        base_sha: None,
        labels: labels.map(|labels| labels.iter().filter_map(|l| l.title.clone()).collect()),
        draft,
    });
    build(repository, actor, mr.updated_at, kind)
}

#[derive(Debug, Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    user_username: Option<String>,
    project_id: Option<u64>,
    project: Option<Project>,
    commits: Option<Vec<Commit>>,
    total_commits_count: Option<u64>,
}

fn push(event: &str, p: PushPayload) -> Result<Normalised, WebhookError> {
    let git_ref = p.git_ref.clone().ok_or_else(|| missing(event, "ref"))?;
    let zero = |sha: &Option<String>| sha.as_deref().is_some_and(is_zero_sha);
    let commits = p
        .commits
        .iter()
        .flatten()
        .filter_map(|c| {
            Some(PushedCommit {
                id: c.id.clone()?,
                author_name: c.author.as_ref().and_then(|a| a.name.clone()),
                author_email: c.author.as_ref().and_then(|a| a.email.clone()),
                author_login: None,
                timestamp: c.timestamp,
            })
        })
        .collect();
    let pusher = p.user_username.clone().filter(|u| !u.is_empty());
    let kind = EventKind::Push(Push {
        git_ref,
        created: zero(&p.before),
        deleted: zero(&p.after),
        before: p.before.clone(),
        after: p.after.clone(),
        forced: None,
        pusher: pusher.clone(),
        commits,
        total_commits: p.total_commits_count,
    });
    // GitLab says when each commit was made, not when the push was; no time.
    build(repository(p.project.as_ref(), p.project_id), pusher, None, kind)
}

#[derive(Debug, Deserialize)]
struct PipelinePayload {
    object_attributes: Option<PipelineAttributes>,
    merge_request: Option<MergeRequestRef>,
    user: Option<User>,
    project: Option<Project>,
}

#[derive(Debug, Deserialize)]
struct PipelineAttributes {
    id: Option<u64>,
    name: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    status: Option<String>,
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    finished_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct MergeRequestRef {
    iid: Option<u64>,
}

fn pipeline(event: &str, p: PipelinePayload) -> Result<Normalised, WebhookError> {
    let attrs = p.object_attributes.as_ref().ok_or_else(|| missing(event, "object_attributes"))?;
    let head_sha = attrs.sha.clone().ok_or_else(|| missing(event, "object_attributes.sha"))?;
    let status = attrs.status.clone().unwrap_or_default().to_ascii_lowercase();
    let outcome = pipeline_outcome(&status);
    let kind = EventKind::Check(Check {
        kind: CheckKind::Pipeline,
        action: CheckAction::Reported,
        name: "pipeline".to_string(),
        head_sha,
        outcome,
        forge_status: status,
        id: attrs.id,
        app: None,
        app_id: None,
        branch: attrs.git_ref.clone(),
        pull_requests: p.merge_request.as_ref().and_then(|m| m.iid).into_iter().collect(),
        url: attrs.url.clone(),
        description: attrs.name.clone(),
        started_at: attrs.created_at,
        completed_at: attrs.finished_at,
        pipeline_id: attrs.id,
    });
    let time = attrs.finished_at.or(attrs.created_at);
    build(repository(p.project.as_ref(), None), username(p.user.as_ref()), time, kind)
}

/// GitLab's pipeline and job statuses.
fn pipeline_outcome(status: &str) -> CheckOutcome {
    match status {
        "success" => CheckOutcome::Success,
        "skipped" => CheckOutcome::Skipped,
        "canceled" | "canceling" | "cancelled" => CheckOutcome::Cancelled,
        "created"
        | "waiting_for_resource"
        | "preparing"
        | "pending"
        | "running"
        | "manual"
        | "scheduled"
        | "waiting_for_callback" => CheckOutcome::Pending,
        // failed, and the unknown.
        _ => CheckOutcome::Failure,
    }
}

#[derive(Debug, Deserialize)]
struct JobPayload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    build_id: Option<u64>,
    build_name: Option<String>,
    build_stage: Option<String>,
    build_status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    build_created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    build_started_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    build_finished_at: Option<Timestamp>,
    pipeline_id: Option<u64>,
    project_id: Option<u64>,
    project: Option<Project>,
    repository: Option<JobRepository>,
    user: Option<User>,
}

/// A job hook's `repository`: recorded job hooks have no `project.path_with_namespace`,
/// so the path is read from `homepage`.
#[derive(Debug, Deserialize)]
struct JobRepository {
    homepage: Option<String>,
}

fn job(event: &str, p: JobPayload) -> Result<Normalised, WebhookError> {
    let head_sha = p.sha.clone().ok_or_else(|| missing(event, "sha"))?;
    let status = p.build_status.clone().unwrap_or_default().to_ascii_lowercase();
    let outcome = pipeline_outcome(&status);
    let repository = repository(p.project.as_ref(), p.project_id).or_else(|| {
        let full_name = p.repository.as_ref()?.homepage.as_deref().and_then(path_of_url)?;
        Some(Repository { full_name, id: p.project_id })
    });
    let kind = EventKind::Check(Check {
        kind: CheckKind::Job,
        action: CheckAction::Reported,
        name: p.build_name.clone().unwrap_or_default(),
        head_sha,
        outcome,
        forge_status: status,
        id: p.build_id,
        app: None,
        app_id: None,
        branch: p.git_ref.clone(),
        pull_requests: vec![],
        url: None,
        description: p.build_stage.clone().map(|stage| format!("stage {stage}")),
        started_at: p.build_started_at,
        completed_at: p.build_finished_at,
        pipeline_id: p.pipeline_id,
    });
    let time = p.build_finished_at.or(p.build_started_at).or(p.build_created_at);
    build(repository, username(p.user.as_ref()), time, kind)
}

/// `group/sub/project` from `https://gitlab.example.com/group/sub/project`. A GitLab served
/// under a path prefix would put the prefix in front; the project id is the sure key.
fn path_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1.trim_end_matches('/');
    (!path.is_empty()).then(|| path.to_string())
}

#[derive(Debug, Deserialize)]
struct DeploymentPayload {
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    status_changed_at: Option<Timestamp>,
    deployment_id: Option<u64>,
    deployable_id: Option<u64>,
    deployable_url: Option<String>,
    environment: Option<String>,
    environment_tier: Option<String>,
    environment_external_url: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    short_sha: Option<String>,
    commit_url: Option<String>,
    project: Option<Project>,
    user: Option<User>,
}

fn deployment(p: DeploymentPayload) -> Result<Normalised, WebhookError> {
    let forge_state = p.status.clone().unwrap_or_default().to_ascii_lowercase();
    let state = match forge_state.as_str() {
        "created" => DeploymentState::Created,
        "blocked" => DeploymentState::Pending,
        "running" => DeploymentState::InProgress,
        "success" => DeploymentState::Success,
        "canceled" | "cancelled" => DeploymentState::Cancelled,
        _ => DeploymentState::Failure,
    };
    // The hook gives the full commit id only at the end of `commit_url`.
    let sha = p
        .commit_url
        .as_deref()
        .and_then(|url| url.rsplit('/').next())
        .filter(|tail| tail.len() >= 40 && tail.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .or_else(|| p.short_sha.clone());
    let creator = username(p.user.as_ref());
    let kind = EventKind::Deployment(Deployment {
        id: p.deployment_id,
        environment: p.environment.clone(),
        production: p.environment_tier.as_deref().map(|tier| tier == "production"),
        sha,
        git_ref: p.git_ref.clone(),
        task: None,
        state,
        forge_state,
        creator: creator.clone(),
        url: p.environment_external_url.clone().filter(|u| !u.is_empty()),
        log_url: p.deployable_url.clone(),
        run_id: p.deployable_id,
        artifact: None,
    });
    build(repository(p.project.as_ref(), None), creator, p.status_changed_at, kind)
}

#[cfg(test)]
mod tests {
    use super::path_of_url;

    #[test]
    fn project_path_from_homepage() {
        assert_eq!(
            path_of_url("https://gitlab.com/jsmithy2/release-tools-fake").as_deref(),
            Some("jsmithy2/release-tools-fake")
        );
        assert_eq!(path_of_url("https://gitlab.com/").as_deref(), None);
        assert_eq!(path_of_url("gitlab.com/a/b"), None);
    }
}
