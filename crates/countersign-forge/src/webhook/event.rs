//! The forge-independent events that [`super::normalise`] makes of a delivery.
//!
//! These are what a later stage turns into evidence: approvals tied to the commit they were
//! given on, check results, labels, merges, pushes and deploys. They serialize to JSON (and
//! read back), so a receiver can store them beside the raw delivery.
//!
//! Logins are the forge's, without a prefix (`octocat`, not `github:octocat`): the event's
//! [`Event::forge`] says whose they are. Commit ids are as the forge wrote them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use countersign_engine::change::CheckStatus;

use super::Forge;

/// What [`super::normalise`] made of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Normalised {
    /// An event countersign uses.
    Event(Box<Event>),
    /// An event countersign does not use (a receiver answers 202 and does nothing more).
    /// `event` is the event name, followed by `.action` when it is the action that is not
    /// used (`pull_request.assigned`).
    Ignored { event: String },
}

/// One delivery, in countersign's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub forge: Forge,
    /// The repository the event is about. `None` for events about no one repository
    /// (an organization's ping, an installation).
    pub repository: Option<Repository>,
    /// Who caused the event: GitHub and Gitea `sender.login`, GitLab `user.username`
    /// (`user_username` in push hooks).
    pub actor: Option<String>,
    /// When the forge says the event happened, where it says so (see each event's notes).
    pub time: Option<Timestamp>,
    /// The GitHub App installation the delivery is for (`installation.id`), which a
    /// receiver needs to get a token to answer with.
    pub installation_id: Option<u64>,
    pub kind: EventKind,
}

/// A repository: `owner/name` (GitLab `path_with_namespace`, which may have subgroups) and
/// the forge's numeric id (GitLab's project id), which survives a rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub full_name: String,
    pub id: Option<u64>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    PullRequest(PullRequest),
    Review(Review),
    Check(Check),
    Push(Push),
    MergeGroup(MergeGroup),
    Deployment(Deployment),
    DeploymentGate(DeploymentGate),
    Installation(Installation),
    Ping(Ping),
    ProtectionChanged(ProtectionChanged),
}

/// A repository's branch protection or rulesets changed (GitHub `branch_protection_rule`,
/// `repository_ruleset`, `branch_protection_configuration`). Not evidence about a change: a
/// receiver reads the protection again from the forge's API, the record of what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionChanged {
    /// The event name (`branch_protection_rule`, `repository_ruleset`, …).
    pub event: String,
    /// `created`, `edited`, `deleted`; `enabled`, `disabled` for the configuration.
    pub action: String,
    /// The rule's branch pattern (`rule.name`) or the ruleset's name, where the payload says.
    pub name: Option<String>,
}

/// A pull request (GitLab: merge request) changed; the fields after `action` are the pull
/// request as it is after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The number (GitLab: the `iid`, the `!N` people see, not the global id).
    pub number: u64,
    pub action: PullRequestAction,
    pub title: Option<String>,
    pub body: Option<String>,
    /// The author's login. `None` for GitLab, whose hook gives only `author_id`.
    pub author: Option<String>,
    pub head_sha: Option<String>,
    pub head_ref: Option<String>,
    pub base_ref: Option<String>,
    pub base_sha: Option<String>,
    /// Every label the pull request has now, where the payload lists them.
    pub labels: Option<Vec<String>>,
    pub draft: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PullRequestAction {
    Opened,
    Reopened,
    /// Title, description or base changed.
    Edited,
    /// New commits: the head moved from `before` to `after`, so approvals given on `before`
    /// may be stale. GitHub `synchronize`; Gitea `synchronized` (no `before`); GitLab
    /// `update` with `oldrev`.
    Synchronized {
        before: Option<String>,
        after: Option<String>,
    },
    /// GitHub names the one label added or removed.
    Labeled {
        label: String,
    },
    Unlabeled {
        label: String,
    },
    /// Gitea (`label_updated`, `label_cleared`) and GitLab (an `update` that changed
    /// `labels`) say only that the set changed: see [`PullRequest::labels`].
    LabelsChanged,
    /// Closed without merging.
    Closed,
    Merged {
        merge_commit_sha: Option<String>,
        merged_by: Option<String>,
    },
    ReadyForReview,
    ConvertedToDraft,
    /// GitLab asks an external status check service to judge the merge request
    /// (`external_approval_rule` in the payload).
    StatusCheckRequested {
        rule_id: Option<u64>,
        rule_name: Option<String>,
    },
}

/// A review was given, dismissed or withdrawn (GitLab: an approval or its removal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// The pull request (merge request `iid`).
    pub number: u64,
    pub state: ReviewState,
    /// The forge's own word, for the explanation: GitHub `review.state`, Gitea
    /// `review.type`, GitLab `object_attributes.action`.
    pub forge_state: String,
    pub reviewer: Option<String>,
    /// The commit the review was given on, which decides whether it is stale: GitHub
    /// `review.commit_id`; Gitea the payload's `commit_id`, else the pull request's head
    /// when the review was sent; GitLab `object_attributes.last_commit.id`.
    pub commit_sha: Option<String>,
    /// The pull request's head when the event was sent.
    pub head_sha: Option<String>,
    /// GitHub `review.submitted_at`. Gitea and GitLab do not say when a review was given.
    pub submitted_at: Option<Timestamp>,
    /// GitHub's review id.
    pub id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    /// Someone else set the review aside (GitHub `dismissed`); it no longer counts.
    Dismissed,
    /// The reviewer took their approval back (GitLab `unapproval`, `unapproved`).
    Withdrawn,
}

/// A check's result or a request to run one: a GitHub check run, check suite or commit
/// status, a Gitea commit status, a GitLab pipeline or job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub kind: CheckKind,
    pub action: CheckAction,
    /// The check run's name, the status's context, the job's name; a check suite is named
    /// after its app; a GitLab pipeline is `pipeline`.
    pub name: String,
    pub head_sha: String,
    pub outcome: CheckOutcome,
    /// The forge's own words: `status` or `status/conclusion` (`completed/success`).
    pub forge_status: String,
    /// GitHub check run, suite or status id; GitLab pipeline or job id.
    pub id: Option<u64>,
    /// The GitHub App that reported it (`app.slug`, else `app.name`) and its id, so a gate
    /// can insist on the app and not only on the name, which anyone can reuse.
    pub app: Option<String>,
    pub app_id: Option<u64>,
    /// The branch the check ran on, where the forge says (GitLab `ref`, which may be a tag).
    pub branch: Option<String>,
    /// The pull requests the forge ties the check to (GitHub `pull_requests`, GitLab
    /// `merge_request.iid`).
    pub pull_requests: Vec<u64>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    /// The GitLab pipeline a job belongs to.
    pub pipeline_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    CheckRun,
    CheckSuite,
    CommitStatus,
    Pipeline,
    Job,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckAction {
    /// A result, final or not (check run `created`/`completed`, suite `completed`, a status,
    /// a pipeline or job hook).
    Reported,
    /// GitHub asks the suite's app to run its checks (`check_suite` `requested`).
    Requested,
    /// Someone asked for the checks to run again (`rerequested`).
    Rerequested,
    /// Someone pressed a button the check run offered (`check_run` `requested_action`).
    RequestedAction { identifier: Option<String> },
}

/// A check's state, the forge's many words folded into what a gate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Not finished: queued, running, waiting, or waiting for a person (GitLab `manual`).
    Pending,
    Success,
    /// GitHub `neutral`: finished, neither passed nor failed.
    Neutral,
    Skipped,
    Cancelled,
    /// Failed, errored, timed out, needs action, went stale, or a state this crate does not
    /// know: a gate never passes on a word it cannot read.
    Failure,
}

impl CheckOutcome {
    /// The engine's status for this outcome: neutral counts as success, as GitHub's own
    /// required checks do; cancelled as failure.
    pub fn check_status(self) -> CheckStatus {
        match self {
            CheckOutcome::Pending => CheckStatus::Pending,
            CheckOutcome::Success | CheckOutcome::Neutral => CheckStatus::Success,
            CheckOutcome::Skipped => CheckStatus::Skipped,
            CheckOutcome::Cancelled | CheckOutcome::Failure => CheckStatus::Failure,
        }
    }
}

/// Commits reached a ref (a branch or a tag), or a ref was created or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// `refs/heads/main`, `refs/tags/v1` (Gitea's `create` for a tag is not a push).
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub created: bool,
    pub deleted: bool,
    /// GitHub `forced`; the others do not say.
    pub forced: Option<bool>,
    /// Who pushed: GitHub `pusher.name` (a login), Gitea `pusher.login`, GitLab
    /// `user_username`.
    pub pusher: Option<String>,
    /// The commits the payload lists (forges cap the list; GitLab at 20).
    pub commits: Vec<PushedCommit>,
    /// How many commits the push brought, where the forge counts them beyond the list
    /// (GitLab `total_commits_count`).
    pub total_commits: Option<u64>,
}

impl Push {
    /// `after`, unless the push deleted the ref.
    pub fn head_sha(&self) -> Option<&str> {
        self.after.as_deref().filter(|sha| !is_zero_sha(sha))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedCommit {
    pub id: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    /// The author's login, where the forge matched the email to an account.
    pub author_login: Option<String>,
    pub timestamp: Option<Timestamp>,
}

/// GitHub's merge queue built a merge group to test, or took one down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeGroup {
    pub action: MergeGroupAction,
    pub head_sha: String,
    /// `refs/heads/gh-readonly-queue/main/pr-104-<sha>`.
    pub head_ref: Option<String>,
    pub base_sha: Option<String>,
    pub base_ref: Option<String>,
    /// The pull request at the head of the group, read from `head_ref` (`pr-104-`).
    pub pr_number: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MergeGroupAction {
    /// The queue wants the group's checks to run.
    ChecksRequested,
    /// The group is gone: `reason` is `merged`, `invalidated` or `dequeued`.
    Destroyed { reason: Option<String> },
}

/// A deployment was created or changed state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// GitHub deployment id; GitLab `deployment_id`.
    pub id: Option<u64>,
    pub environment: Option<String>,
    /// Whether the forge calls the environment production (GitHub
    /// `production_environment`, GitLab `environment_tier == "production"`).
    pub production: Option<bool>,
    pub sha: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// GitHub's `task` (`deploy`).
    pub task: Option<String>,
    pub state: DeploymentState,
    /// The forge's own word for the state.
    pub forge_state: String,
    /// Who started the deployment (GitHub `deployment.creator.login`, GitLab `user.username`).
    pub creator: Option<String>,
    /// Where the deployed environment is, or the status's link.
    pub url: Option<String>,
    pub log_url: Option<String>,
    /// The run that deploys: GitHub `workflow_run.id`, GitLab `deployable_id` (the job).
    pub run_id: Option<u64>,
    /// The artifact's digest (`sha256:…`), when the deployment's payload names one
    /// (GitHub `deployment.payload.artifact`, set by whoever creates the deployment).
    #[serde(default)]
    pub artifact: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    /// GitHub `deployment` `created`; GitLab `created`.
    Created,
    /// Queued, pending, waiting, blocked.
    Pending,
    InProgress,
    Success,
    /// Failed or errored, or a state this crate does not know.
    Failure,
    Cancelled,
    /// GitHub: a later deployment to the environment replaced this one.
    Inactive,
}

/// GitHub asks a deployment protection rule (a GitHub App) whether a deployment may go on
/// (`deployment_protection_rule` `requested`). The answer goes to `callback_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentGate {
    pub environment: Option<String>,
    /// What triggered the deployment (`push`, `pull_request`, `workflow_dispatch`, …).
    pub trigger: Option<String>,
    /// `deployment_callback_url`, as the payload gives it. Whoever answers checks that it
    /// is on the forge's API host before sending a token there: the payload is signed, but
    /// a URL is still only data.
    pub callback_url: Option<String>,
    pub deployment_id: Option<u64>,
    pub sha: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub pull_requests: Vec<u64>,
    /// Who started the deployment (`deployment.creator.login`).
    #[serde(default)]
    pub creator: Option<String>,
    /// The artifact's digest, when the deployment's payload names one.
    #[serde(default)]
    pub artifact: Option<String>,
}

/// A GitHub App was installed, removed, suspended, or its repositories changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// GitHub's action: `created`, `deleted`, `suspend`, `unsuspend`,
    /// `new_permissions_accepted`, `added`, `removed`.
    pub action: String,
    /// The user or organization the app is installed on.
    pub account: Option<String>,
    pub app_id: Option<u64>,
    /// `repositories` of `installation` `created`, `repositories_added` of
    /// `installation_repositories`.
    pub repositories_added: Vec<String>,
    pub repositories_removed: Vec<String>,
}

/// GitHub's hello when a webhook is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub hook_id: Option<u64>,
    pub zen: Option<String>,
}

impl Event {
    /// The pull request (merge request) the event is about, where there is exactly one.
    pub fn pr_number(&self) -> Option<u64> {
        match &self.kind {
            EventKind::PullRequest(pr) => Some(pr.number),
            EventKind::Review(review) => Some(review.number),
            EventKind::Check(check) => match check.pull_requests.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            EventKind::MergeGroup(group) => group.pr_number,
            EventKind::DeploymentGate(gate) => match gate.pull_requests.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            EventKind::Push(_)
            | EventKind::Deployment(_)
            | EventKind::Installation(_)
            | EventKind::Ping(_)
            | EventKind::ProtectionChanged(_) => None,
        }
    }

    /// The commit the event is about: the pull request's head, the checked commit, the
    /// pushed head, the merge group's head, the deployed commit.
    pub fn head_sha(&self) -> Option<&str> {
        match &self.kind {
            EventKind::PullRequest(pr) => pr.head_sha.as_deref(),
            EventKind::Review(review) => review.head_sha.as_deref().or(review.commit_sha.as_deref()),
            EventKind::Check(check) => Some(&check.head_sha),
            EventKind::Push(push) => push.head_sha(),
            EventKind::MergeGroup(group) => Some(&group.head_sha),
            EventKind::Deployment(deployment) => deployment.sha.as_deref(),
            EventKind::DeploymentGate(gate) => gate.sha.as_deref(),
            EventKind::Installation(_) | EventKind::Ping(_) | EventKind::ProtectionChanged(_) => None,
        }
    }

    /// `owner/name` of the repository, where there is one.
    pub fn repository_name(&self) -> Option<&str> {
        self.repository.as_ref().map(|r| r.full_name.as_str())
    }
}

/// Git writes forty zeros for "no commit" (a created or deleted ref).
pub fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}
