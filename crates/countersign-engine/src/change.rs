//! A change and the evidence about it, as the evaluator sees it.
//!
//! Evidence readers (git, a forge's JSON, the evidence store) build these values; the
//! evaluator only reads them. Identities are kept as the source reported them and are
//! resolved to policy people by the evaluator's [`crate::Directory`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use countersign_policy::model::ChangeKind;

/// One change under evaluation: a PR, a merge, a direct push, a deploy or a console change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Change {
    /// Stable id: the first-parent commit id for git changes, `pr#N` for a PR check.
    pub id: String,
    pub kind: Option<ChangeKind>,
    /// The branch the change landed on or targets.
    pub branch: Option<String>,
    pub pr_number: Option<u64>,
    /// PR title, or the commit subject when there is no PR.
    pub title: String,
    /// PR description, or the commit message body.
    pub body: String,
    pub labels: Vec<String>,
    pub author: Option<Identity>,
    /// Who merged it, when known (forge); the committer of the merge commit otherwise.
    pub merged_by: Option<Identity>,
    pub committers: Vec<Identity>,
    pub co_authors: Vec<Identity>,
    /// The commit the change ends at (PR head or first-parent commit).
    pub head_commit: Option<String>,
    /// Commits that make up the change, oldest first.
    pub commits: Vec<CommitRef>,
    pub trailers: Vec<Trailer>,
    pub changed_paths: Vec<ChangedPath>,
    /// Added lines of files that a content flag watches, keyed by path.
    pub added_lines: Vec<AddedLines>,
    pub approvals: Vec<Approval>,
    pub checks: Vec<CheckResult>,
    /// Emergency obligations fulfilled, from recorded evidence or follow-up changes.
    pub fulfilments: Vec<Fulfilment>,
    /// Declared an emergency outside git (`countersign record emergency`, the API): where
    /// the declaration was read. The change is then an emergency in every view, even when
    /// no label or trailer says so.
    #[serde(default)]
    pub declared_emergency: Option<String>,
    pub time: Option<Timestamp>,
    /// Which kinds of evidence are complete for this change: when a kind is not complete,
    /// the absence of evidence is "evidence missing", not a violation.
    pub completeness: Completeness,
}

/// What the repository held at a change's base, for the checks that need more than the
/// change itself. The base is the commit the change was made on: the first parent of a
/// commit on a branch (`audit`), or the merge base of a pull request (`check`).
///
/// This travels beside the [`Change`] (see [`crate::Engine::evaluate_with_base`]) rather
/// than inside it, so that every evidence reader that builds a `Change` keeps compiling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseFacts {
    /// The paths present at the base that fall under a sequential `[[append-only]]` rule
    /// (see [`crate::Engine::wants_base_path`]), repository-relative and `/`-separated.
    /// `None` means they were not read: numbering is then "unknown", never "met".
    pub sequence_paths: Option<Vec<String>>,
    /// The size of each group an exception's `until-group-exceeds` names, as the policy in
    /// force at the base defined it (S000-07: "ends when the team grows beyond two" is
    /// judged at the time of the change, not today). `None`, or a group missing here: the
    /// evaluated policy's own group is used.
    pub group_sizes: Option<std::collections::BTreeMap<String, usize>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: Option<String>,
    pub email: Option<String>,
    /// Forge login, with the forge when known: `github:octocat` or `octocat`.
    pub login: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CommitRef {
    pub id: String,
    pub author: Identity,
    pub committer: Identity,
    pub signed: bool,
    pub subject: String,
    /// When it was committed (the committer's time), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub key: String,
    pub value: String,
    /// The commit that carried it.
    pub commit: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedPath {
    /// Repository-relative, `/`-separated. Non-UTF-8 bytes are escaped by the reader.
    pub path: String,
    pub status: PathStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedLines {
    pub path: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalKind {
    /// An approving review (forge review, Reviewed-by, bors r=).
    Review,
    /// An acknowledgment (Acked-by), counted for owner acknowledgment.
    Ack,
    /// An emergency authorization.
    EmergencyAuthorization,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: Identity,
    pub kind: ApprovalKind,
    /// The head commit the approval was given on, when the source knows it.
    pub commit: Option<String>,
    pub time: Option<Timestamp>,
    /// Where it came from, for the explanation: `trailer Reviewed-by in 1a2b3c4`,
    /// `GitHub review`, `recorded`.
    pub source: String,
    /// Who put this approval into the evidence store. `None` for approvals read from git
    /// trailers or a forge, which carry their own identity. An approval recorded by someone
    /// other than `by` (or by someone the policy does not know) is *attested*: its only
    /// evidence is the recorder's word, and the policy's `[evidence] attested-approvals`
    /// decides where it counts.
    #[serde(default)]
    pub recorded_by: Option<Identity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Success,
    Failure,
    Pending,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub status: CheckStatus,
    pub commit: Option<String>,
    pub source: String,
    /// When the result was given (a trailer's commit, a record, a forge's report), when
    /// known: a change enters Build when its last gate passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    pub reviews: bool,
    pub checks: bool,
    pub description: bool,
    pub labels: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfilment {
    /// The obligation id from the policy's emergency section.
    pub obligation: String,
    pub time: Option<Timestamp>,
    pub source: String,
}
