//! GitHub: the JSON that `gh pr view --json <GH_FIELDS>` prints.
//!
//! Field names follow GitHub's GraphQL API as `gh` exposes them (`statusCheckRollup` holds
//! both `CheckRun` and `StatusContext` nodes, told apart by `__typename`).

use jiff::Timestamp;
use serde::Deserialize;

use countersign_engine::change::{
    Approval, ApprovalKind, Change, ChangeKind, ChangedPath, CheckResult, CheckStatus, CommitRef, Completeness,
    Identity, PathStatus,
};

use crate::ForgeError;

/// The fields `check --pr-json` needs.
pub const GH_FIELDS: &str =
    "number,title,body,author,labels,reviews,commits,files,statusCheckRollup,baseRefName,headRefOid";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhPullRequest {
    pub number: Option<u64>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub author: Option<GhActor>,
    pub labels: Option<Vec<GhLabel>>,
    pub reviews: Option<Vec<GhReview>>,
    pub commits: Option<Vec<GhCommit>>,
    pub files: Option<Vec<GhFile>>,
    pub status_check_rollup: Option<Vec<GhCheck>>,
    pub base_ref_name: Option<String>,
    pub head_ref_oid: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GhActor {
    pub login: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub is_bot: bool,
}

#[derive(Debug, Deserialize)]
pub struct GhLabel {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhReview {
    pub author: Option<GhActor>,
    pub state: String,
    pub submitted_at: Option<Timestamp>,
    pub commit: Option<GhOid>,
}

#[derive(Debug, Deserialize)]
pub struct GhOid {
    pub oid: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhCommit {
    pub oid: String,
    #[serde(default)]
    pub authors: Vec<GhCommitAuthor>,
    #[serde(default)]
    pub message_headline: String,
    #[serde(default)]
    pub message_body: String,
}

#[derive(Debug, Deserialize)]
pub struct GhCommitAuthor {
    pub login: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhFile {
    pub path: String,
    #[serde(default)]
    pub additions: u64,
    #[serde(default)]
    pub deletions: u64,
    /// Present in newer `gh` versions: ADDED, MODIFIED, DELETED, RENAMED, CHANGED, COPIED.
    pub change_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "__typename")]
pub enum GhCheck {
    CheckRun {
        name: String,
        status: Option<String>,
        conclusion: Option<String>,
        #[serde(rename = "workflowName")]
        workflow_name: Option<String>,
    },
    StatusContext {
        context: String,
        state: Option<String>,
    },
    #[serde(other)]
    Other,
}

impl GhPullRequest {
    pub fn from_json(bytes: &[u8]) -> Result<Self, ForgeError> {
        let pr: GhPullRequest = serde_json::from_slice(bytes)?;
        if pr.number.is_none() {
            return Err(ForgeError::MissingField("number"));
        }
        Ok(pr)
    }

    /// The change this PR describes. Reviews, labels, description and check results from the
    /// forge are complete for the fields that were requested.
    pub fn into_change(self) -> Change {
        let author = self.author.as_ref().map(actor_identity);
        let commits: Vec<CommitRef> = self
            .commits
            .iter()
            .flatten()
            .map(|c| {
                let who = c.authors.first().map(commit_author_identity).unwrap_or_default();
                CommitRef {
                    id: c.oid.clone(),
                    author: who.clone(),
                    committer: who,
                    signed: false,
                    subject: c.message_headline.clone(),
                    time: None,
                }
            })
            .collect();
        let approvals = self
            .reviews
            .iter()
            .flatten()
            .filter(|r| r.state.eq_ignore_ascii_case("APPROVED"))
            .filter_map(|r| {
                let by = actor_identity(r.author.as_ref()?);
                Some(Approval {
                    by,
                    kind: ApprovalKind::Review,
                    commit: r.commit.as_ref().map(|c| c.oid.clone()),
                    time: r.submitted_at,
                    source: "GitHub review".to_string(),
                    recorded_by: None,
                })
            })
            .collect();
        let checks = self
            .status_check_rollup
            .iter()
            .flatten()
            .filter_map(|c| match c {
                // GitHub shows an Actions check run as `workflow / job`; a gate may name
                // either that or the job alone (`countersign_engine::evaluate::check_name_matches`).
                GhCheck::CheckRun { name, status, conclusion, workflow_name } => Some(CheckResult {
                    name: match workflow_name {
                        Some(w) if !w.is_empty() => format!("{w} / {name}"),
                        _ => name.clone(),
                    },
                    status: check_run_status(status.as_deref(), conclusion.as_deref()),
                    commit: self.head_ref_oid.clone(),
                    source: "GitHub check run".to_string(),
                    at: None,
                }),
                GhCheck::StatusContext { context, state } => Some(CheckResult {
                    name: context.clone(),
                    status: status_context_state(state.as_deref()),
                    commit: self.head_ref_oid.clone(),
                    source: "GitHub commit status".to_string(),
                    at: None,
                }),
                GhCheck::Other => None,
            })
            .collect();
        let changed_paths =
            self.files.iter().flatten().map(|f| ChangedPath { path: f.path.clone(), status: file_status(f) }).collect();
        let mut committers: Vec<Identity> = Vec::new();
        for c in &commits {
            if !committers.contains(&c.author) {
                committers.push(c.author.clone());
            }
        }
        Change {
            id: format!("pr#{}", self.number.unwrap_or_default()),
            kind: Some(ChangeKind::PullRequest),
            branch: self.base_ref_name.clone(),
            pr_number: self.number,
            title: self.title.clone().unwrap_or_default(),
            body: self.body.clone().unwrap_or_default(),
            labels: self.labels.iter().flatten().map(|l| l.name.clone()).collect(),
            author,
            merged_by: None,
            committers,
            co_authors: vec![],
            head_commit: self.head_ref_oid.clone(),
            commits,
            trailers: vec![],
            changed_paths,
            added_lines: vec![],
            approvals,
            checks,
            fulfilments: vec![],
            declared_emergency: None,
            time: None,
            completeness: Completeness {
                reviews: self.reviews.is_some(),
                checks: self.status_check_rollup.is_some(),
                description: self.body.is_some(),
                labels: self.labels.is_some(),
            },
        }
    }
}

fn actor_identity(a: &GhActor) -> Identity {
    Identity {
        name: a.name.clone().filter(|n| !n.is_empty()),
        email: None,
        login: a.login.as_ref().map(|l| format!("github:{l}")),
    }
}

fn commit_author_identity(a: &GhCommitAuthor) -> Identity {
    Identity {
        name: a.name.clone(),
        email: a.email.clone(),
        login: a.login.as_ref().filter(|l| !l.is_empty()).map(|l| format!("github:{l}")),
    }
}

fn check_run_status(status: Option<&str>, conclusion: Option<&str>) -> CheckStatus {
    if !status.is_some_and(|s| s.eq_ignore_ascii_case("COMPLETED")) {
        return CheckStatus::Pending;
    }
    match conclusion.map(str::to_ascii_uppercase).as_deref() {
        Some("SUCCESS") | Some("NEUTRAL") => CheckStatus::Success,
        Some("SKIPPED") => CheckStatus::Skipped,
        _ => CheckStatus::Failure,
    }
}

fn status_context_state(state: Option<&str>) -> CheckStatus {
    match state.map(str::to_ascii_uppercase).as_deref() {
        Some("SUCCESS") => CheckStatus::Success,
        Some("PENDING") | Some("EXPECTED") => CheckStatus::Pending,
        _ => CheckStatus::Failure,
    }
}

fn file_status(f: &GhFile) -> PathStatus {
    match f.change_type.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("ADDED") => PathStatus::Added,
        Some("DELETED") => PathStatus::Deleted,
        Some("RENAMED") => PathStatus::Renamed,
        _ => PathStatus::Modified,
    }
}
