//! Forge webhooks: checking a delivery's signature, reading its headers, and turning its
//! JSON into forge-independent [`Event`]s.
//!
//! Everything here is a pure function of the bytes and header values it is given: no IO,
//! no clock. A receiver does, in order: [`verify`] (401 on error), [`delivery`] for the id
//! and event name, store the raw delivery, then [`normalise`] (400 on error, 202 for
//! [`Normalised::Ignored`]). Only `application/json` deliveries are read; GitHub's
//! `application/x-www-form-urlencoded` option gives a JSON error.
//!
//! # What each forge sends, and what is read
//!
//! ## GitHub
//! Headers: `X-GitHub-Event`, `X-GitHub-Delivery` (a GUID, kept on redelivery),
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, and for apps
//! `X-GitHub-Hook-Installation-Target-ID`. Every payload has `sender` (the actor) and,
//! for a repository's events, `repository.full_name` and `repository.id`; an app's
//! deliveries have `installation.id`.
//!
//! | event | actions read | fields read |
//! |---|---|---|
//! | `pull_request` | opened, reopened, edited, synchronize, labeled, unlabeled, closed (merged or not), ready_for_review, converted_to_draft | `number`; `pull_request.{title, body, user.login, head.{sha, ref}, base.{sha, ref}, labels[].name, draft, merged, merge_commit_sha, merged_by.login, updated_at, closed_at, merged_at}`; `label.name`; `before`, `after` |
//! | `pull_request_review` | submitted (approved, changes_requested, commented), dismissed | `review.{id, user.login, state, commit_id, submitted_at}`; `pull_request.{number, head.sha}` |
//! | `check_run` | created, completed, rerequested, requested_action | `check_run.{id, name, head_sha, status, conclusion, details_url, started_at, completed_at, app.{id, slug, name}, pull_requests[].number, check_suite.head_branch, output.title}`; `requested_action.identifier` |
//! | `check_suite` | completed, requested, rerequested | `check_suite.{id, head_sha, head_branch, status, conclusion, app, pull_requests, created_at, updated_at}` |
//! | `status` | (none) | `id, sha, context, state, description, target_url, branches[].name, created_at, updated_at` |
//! | `push` | (none) | `ref, before, after, created, deleted, forced, pusher.name, commits[].{id, timestamp, author.{name, email, username}}, repository.pushed_at` (seconds since 1970) |
//! | `merge_group` | checks_requested, destroyed | `merge_group.{head_sha, head_ref, base_sha, base_ref}`, `reason` |
//! | `deployment`, `deployment_status` | created | `deployment.{id, sha, ref, task, environment, production_environment, creator.login, created_at}`, `deployment_status.{state, environment, environment_url, target_url, log_url, updated_at}`, `workflow_run.id` |
//! | `deployment_protection_rule` | requested | `environment, event, deployment_callback_url, deployment.{id, sha, ref}, pull_requests[].number` |
//! | `installation`, `installation_repositories` | all | `installation.{id, account.login, app_id}`, `repositories`, `repositories_added`, `repositories_removed` |
//! | `ping` | (none) | `hook_id`, `zen` |
//! | `branch_protection_rule`, `repository_ruleset`, `branch_protection_configuration` | all | `action`, `rule.{name, updated_at}`, `repository_ruleset.{name, updated_at}` (the protection changed: read it again) |
//!
//! Other events (`pull_request_review_comment`, `workflow_run`, …)
//! and other actions (`assigned`, `locked`, …) are [`Normalised::Ignored`].
//!
//! ## Gitea and Forgejo
//! Headers: `X-Gitea-Event`, `X-Gitea-Event-Type`, `X-Gitea-Delivery`,
//! `X-Gitea-Signature` (bare hex HMAC-SHA256 of the body); the same as `X-Gogs-*` and, on
//! Forgejo, `X-Forgejo-*`; and GitHub's `X-GitHub-Event`, `X-GitHub-Delivery`,
//! `X-Hub-Signature-256`. [`normalise`] takes `X-Gitea-Event` (review events have their own:
//! `pull_request_approved`, `pull_request_rejected`, `pull_request_comment`). The
//! payloads copy GitHub's: `sender.login`, `repository.full_name`, `repository.id`.
//!
//! | event | actions read | fields read |
//! |---|---|---|
//! | `pull_request` (types `pull_request`, `pull_request_sync`, `pull_request_label`, …) | opened, reopened, edited, synchronized, label_updated, label_cleared, closed (merged or not) | as GitHub's `pull_request`, less `before`/`after` |
//! | `pull_request_approved`, `pull_request_rejected`, `pull_request_comment` | reviewed | `review.type` (`pull_request_review_approved`, `_rejected`, `_comment`; Gitea of 2022 wrote `pull_request_comment`), `commit_id` (often empty), `pull_request.{number, head.sha}`, `sender` (the reviewer) |
//! | `push` | (none) | as GitHub's, with `pusher.login`; no `created`, `deleted` or `forced` (the first two are read from zero commit ids) |
//! | `status` | (none) | `CommitStatusPayload`: `id, sha, context, state, description, target_url, created_at, updated_at` (no delivery recorded; from Gitea's source) |
//!
//! A review payload says neither when the review was given nor, in recorded deliveries,
//! which commit it was given on: the pull request's head in the payload stands for it.
//!
//! ## GitLab
//! Headers: `X-Gitlab-Event` (`Merge Request Hook`, `Push Hook`, `Tag Push Hook`,
//! `Pipeline Hook`, `Job Hook`, `Deployment Hook`, …), `X-Gitlab-Token` (the secret in
//! plain text), `X-Gitlab-Event-UUID`, `Idempotency-Key` (kept on retries), and when
//! signing is on `webhook-id`, `webhook-timestamp`, `webhook-signature`. Payloads have
//! `object_kind`, `user.username` (push hooks: `user_username`) and
//! `project.{id, path_with_namespace}`.
//!
//! | event | actions read | fields read |
//! |---|---|---|
//! | `Merge Request Hook` | open, reopen, close, merge, update (with `oldrev`: new commits; else by `changes`), approval, approved, unapproval, unapproved; no action with `external_approval_rule` (an external status check) | `object_attributes.{iid, action, title, description, source_branch, target_branch, last_commit.id, oldrev, merge_commit_sha, draft, updated_at}`, `labels[].title`, `changes` keys |
//! | `Push Hook`, `Tag Push Hook` | (none) | `ref, before, after, user_username, commits[].{id, timestamp, author}, total_commits_count` |
//! | `Pipeline Hook` | (none) | `object_attributes.{id, name, ref, sha, status, url, created_at, finished_at}`, `merge_request.iid` |
//! | `Job Hook` | (none) | `build_{id, name, stage, status, created_at, started_at, finished_at}`, `sha, ref, pipeline_id, project_id`, `repository.homepage` (for the path) |
//! | `Deployment Hook` | (none) | `status, status_changed_at, deployment_id, deployable_id, deployable_url, environment, environment_tier, environment_external_url, ref, commit_url` (the full commit id is its last segment), `short_sha` |
//!
//! GitLab's merge request hook names no author login (only `author_id`) and no review
//! time; an approval is tied to `last_commit.id`, the head when it was given.

mod event;
mod gitea;
mod github;
mod gitlab;
mod headers;
mod signature;
mod time;
mod wire;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use event::{
    Check, CheckAction, CheckKind, CheckOutcome, Deployment, DeploymentGate, DeploymentState, Event, EventKind,
    Installation, MergeGroup, MergeGroupAction, Normalised, Ping, PullRequest, PullRequestAction, Push, PushedCommit,
    Repository, Review, ReviewState,
};
pub use headers::{Delivery, delivery, detect_forge};
pub use signature::{sign_hex, verify, verify_gitea, verify_github, verify_gitlab_token, verify_standard_webhook};

pub use event::is_zero_sha;

/// A forge that sends webhooks. Forgejo is a Gitea fork and is [`Forge::Gitea`] here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    GitHub,
    Gitea,
    GitLab,
}

impl Forge {
    /// The forge a configuration or a stored delivery names: `github`, `gitea` (or
    /// `forgejo`), `gitlab`.
    pub fn from_name(name: &str) -> Option<Forge> {
        match name {
            "github" => Some(Forge::GitHub),
            "gitea" | "forgejo" => Some(Forge::Gitea),
            "gitlab" => Some(Forge::GitLab),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::Gitea => "gitea",
            Forge::GitLab => "gitlab",
        }
    }
}

impl fmt::Display for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a delivery was refused. No variant holds the expected signature or the secret.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the delivery has no `{0}` header")]
    MissingHeader(&'static str),
    #[error("the `{header}` header is malformed: {reason}")]
    MalformedHeader { header: &'static str, reason: &'static str },
    #[error("the `{0}` header does not match the body and the configured secret")]
    SignatureMismatch(&'static str),
    #[error("the configured secret starts with `whsec_` but the rest is not base64")]
    BadSecret,
    #[error("the {forge} `{event}` payload is not the JSON expected: {source}")]
    Json { forge: Forge, event: String, source: serde_json::Error },
    #[error("the {forge} `{event}` payload lacks `{field}`")]
    MissingField { forge: Forge, event: String, field: &'static str },
}

impl WebhookError {
    /// Whether the delivery's authenticity is what failed (a receiver answers 401), as
    /// opposed to its content (400).
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            WebhookError::MissingHeader(_) | WebhookError::MalformedHeader { .. } | WebhookError::SignatureMismatch(_)
        )
    }
}

/// Reads the body of a delivery of `event` from `forge`.
///
/// `event` is the event header's value: `X-GitHub-Event`, `X-Gitea-Event` (or
/// `X-Forgejo-Event`), `X-Gitlab-Event` — what [`delivery`] returns as
/// [`Delivery::event`]. A body that is not JSON, or not the shape the event has, is an
/// error; an event or action countersign does not use is [`Normalised::Ignored`], as long
/// as the body is JSON.
pub fn normalise(forge: Forge, event: &str, body: &[u8]) -> Result<Normalised, WebhookError> {
    match forge {
        Forge::GitHub => github::normalise(event, body),
        Forge::Gitea => gitea::normalise(event, body),
        Forge::GitLab => gitlab::normalise(event, body),
    }
}

fn parse<T: DeserializeOwned>(forge: Forge, event: &str, body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|source| WebhookError::Json { forge, event: event.to_string(), source })
}

/// An event countersign does not use, once the body is known to be JSON.
fn ignored(forge: Forge, event: &str, body: &[u8]) -> Result<Normalised, WebhookError> {
    parse::<serde::de::IgnoredAny>(forge, event, body)?;
    Ok(Normalised::Ignored { event: event.to_string() })
}

/// A GitHub-shaped push (GitHub's and Gitea's).
fn push_event(forge: Forge, p: &wire::PushWire, pusher: Option<String>) -> Result<EventKind, WebhookError> {
    let git_ref =
        p.git_ref.clone().ok_or(WebhookError::MissingField { forge, event: "push".to_string(), field: "ref" })?;
    let zero = |sha: &Option<String>| sha.as_deref().is_some_and(is_zero_sha);
    Ok(EventKind::Push(Push {
        git_ref,
        created: p.created.unwrap_or_else(|| zero(&p.before)),
        deleted: p.deleted.unwrap_or_else(|| zero(&p.after)),
        before: p.before.clone(),
        after: p.after.clone(),
        forced: p.forced,
        pusher: pusher.filter(|name| !name.is_empty()),
        commits: p.commits.iter().flatten().filter_map(wire::CommitWire::to_pushed).collect(),
        total_commits: None,
    }))
}
