//! The validated policy: what a `countersign.toml` means once every name is resolved.
//!
//! Nothing in here is raw TOML. Every reference (a person, a group, a rule, a category)
//! has been checked by `validate`, so the engine can index without failing. Spans are
//! kept only where a later lint or an explanation needs to point back into the file.
//! Validation also keeps every policy within [`crate::limits`]: conditions, rules (with
//! their references followed) and groups nest at most 64 levels, and no rule written out
//! has more than 256 parts, so walks over a validated policy are short and shallow.

use std::collections::BTreeMap;
use std::ops::Range;

use jiff::civil::Date;
use serde::Serialize;

use crate::paths::PathSet;

/// A byte range into the policy file, for diagnostics and `policy explain`.
pub type Span = Range<usize>;

/// The whole policy.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub meta: Meta,
    pub people: BTreeMap<String, Person>,
    /// Group name (without the `@`) to resolved member ids (nested groups flattened).
    pub groups: BTreeMap<String, Group>,
    /// Areas in file order; CODEOWNERS semantics: the last matching area wins for ownership.
    pub areas: Vec<Area>,
    /// Categories in file order. Classification picks the matching category with the
    /// highest `precedence`; `default_category` applies when none matches.
    pub categories: Vec<Category>,
    pub default_category: String,
    /// Risk levels, in file order. Classification picks the matching risk with the highest
    /// `rank`; `default_risk` applies when none matches.
    pub risks: Vec<Risk>,
    pub default_risk: Option<String>,
    /// Named approval rules, referenced from categories, risks and areas.
    pub rules: BTreeMap<String, ApprovalRule>,
    pub gates: Vec<Gate>,
    pub branch: BranchRules,
    pub description: Vec<DescriptionRequirement>,
    pub co_changes: Vec<CoChange>,
    pub append_only: Vec<AppendOnly>,
    pub content_flags: Vec<ContentFlag>,
    pub emergency: Option<Emergency>,
    pub exceptions: Vec<Exception>,
    pub deploy: Option<DeployRules>,
    pub console: Option<ConsoleRules>,
    /// Thresholds on the metrics countersign computes from its store (S003-10).
    pub metrics: Option<MetricRules>,
    /// Evidence settings: which sources are authoritative.
    pub evidence: EvidenceSettings,
    /// Purely documentary sections rendered into the policy document.
    pub docs: Documentation,
    /// Whether and from where to import CODEOWNERS as areas (the caller reads the file
    /// and calls [`crate::codeowners::import`]; this crate does no IO).
    pub codeowners: Option<CodeownersSettings>,
}

/// `[codeowners]`: import the repository's CODEOWNERS file as areas. Imported areas are
/// appended after the policy's own areas, so CODEOWNERS lines win where both match.
#[derive(Debug, Clone, Serialize)]
pub struct CodeownersSettings {
    /// An explicit path; `None` means GitHub's lookup order (.github/, root, docs/).
    pub path: Option<String>,
    /// Candidate locations in lookup order, first found wins: `[path]` when a path is
    /// given, else `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`.
    pub files: Vec<String>,
    /// Mark imported areas sensitive (owner acknowledgment required).
    pub sensitive: bool,
    /// Imported areas require review by one of their owners (GitHub "Require review from
    /// Code Owners"); documentary unless a rule uses `codeowners = true`.
    pub require_review: bool,
    pub span: Span,
}

/// The skeleton's name for [`CodeownersSettings`].
pub type CodeownersImport = CodeownersSettings;

/// Requirement kinds an emergency may skip (`Emergency::may_skip`), besides gate names.
/// `pull-request` lets an authorized emergency or override land without a pull request (S003-08).
pub const SKIPPABLE_KINDS: &[&str] =
    &["review", "owner-ack", "tests", "description", "co-change", "ci", "pull-request"];

/// Requirement kinds an exception may waive (`Exception::waives`), besides gate names.
pub const WAIVABLE_KINDS: &[&str] = &[
    "review",
    "owner-ack",
    "description",
    "co-change",
    "ticket",
    "append-only",
    "content-flags",
    "pull-request",
    "signed-commits",
];

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub organization: String,
    pub title: String,
    pub document_id: Option<String>,
    /// Person id or free text (e.g. "Chief Technology Officer").
    pub owner: String,
    pub version: String,
    pub effective: Date,
    pub last_review: Option<Date>,
    pub review_every: Cadence,
    /// Computed: (last_review or effective) + review_every.
    pub next_review: Date,
    pub review_triggers: Vec<String>,
    pub purpose: Option<String>,
    pub scope: Vec<String>,
    pub history: Vec<HistoryEntry>,
    pub controls: Vec<ControlMapping>,
    /// People or roles who must approve (sign) the policy document itself (S004-14).
    pub document_approvers: Vec<Subject>,
}

/// A review cadence such as "6 months" or "1 year".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cadence {
    pub months: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: String,
    pub date: Date,
    pub author: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlMapping {
    /// "SOC 2", "ISO 27001", or an internal matrix such as "Controls Matrix".
    pub framework: String,
    /// "CC8.1", "A.8.32", "CM-01".
    pub id: String,
    pub description: Option<String>,
    /// The requirements that implement it, in the words `waives` uses (`review`, `ci`,
    /// `owner-ack`, …, a gate's check name) and `obligation`, `console-field`: a period
    /// report gives the control their pass rate. Empty: mapped to no requirement.
    pub requirements: Vec<String>,
}

/// What `[[policy.controls]] requirements` can name besides the waivable kinds and gates.
pub const CONTROL_KINDS: &[&str] = &["ci", "tests", "obligation", "console-field"];

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub emails: Vec<String>,
    /// Forge logins, e.g. `github:hgibbs`, `gitlab:holly`, or a bare login valid on any forge.
    pub logins: Vec<String>,
    /// Automation accounts (dependabot, renovate) are people too, marked so.
    pub bot: bool,
    /// Role names as written; each is also a group the person belongs to.
    pub roles: Vec<String>,
    /// Job title, for the rendered document ("Chief Technology Officer").
    pub title: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub description: Option<String>,
    /// Resolved person ids, nested groups flattened, sorted and deduplicated.
    pub members: Vec<String>,
    pub span: Span,
}

/// Who may do something: a person, a group, or anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Subject {
    Person(String),
    Group(String),
    Anyone,
    /// An owner the policy does not know, kept as written (a CODEOWNERS `@org/team`,
    /// `@user` or email with no matching group or person).
    External(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Person(id) => f.write_str(id),
            Subject::Group(name) => write!(f, "@{name}"),
            Subject::Anyone => f.write_str("anyone"),
            Subject::External(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Area {
    pub name: String,
    pub paths: PathSet,
    pub owners: Vec<Subject>,
    /// S000-08: the owner's explicit acknowledgment is required in addition to review.
    pub sensitive: bool,
    /// Extra approval rule for changes touching the area (S003-04, S003-05, S004-07).
    pub require: Option<String>,
    /// Where this area came from: the policy file or an imported CODEOWNERS line.
    pub origin: AreaOrigin,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AreaOrigin {
    Policy,
    Codeowners { file: String, line: usize },
}

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub precedence: i64,
    pub when: Condition,
    /// Name of the approval rule in `Policy::rules`, if the category requires approval.
    pub require: Option<String>,
    /// Self-merge is allowed for this category and recorded (S000-07).
    pub self_merge: bool,
    /// This category is the emergency flow.
    pub emergency: bool,
    /// Trailers the commit message must carry (S003-08: justification and risk assessment).
    pub required_trailers: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub rank: i64,
    pub when: Condition,
    pub require: Option<String>,
    pub span: Span,
}

/// A classification condition.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Condition {
    Always,
    /// Some changed path matches.
    PathsAny(PathSet),
    /// Every changed path matches, and there is at least one.
    PathsOnly(PathSet),
    /// Some changed path lies in the named area.
    Area(String),
    Label(String),
    /// A commit trailer; value compared case-insensitively when given.
    Trailer {
        key: String,
        value: Option<String>,
    },
    /// Regex on the PR title (or the commit subject without a PR).
    Title(#[serde(with = "serde_regex_str")] regex::Regex),
    /// A ticked PR-template checkbox whose label starts with this text (S004-05).
    Checkbox(String),
    /// The change author is this subject.
    Author(Subject),
    Kind(ChangeKind),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    PullRequest,
    Merge,
    DirectPush,
    Deploy,
    ConsoleChange,
}

impl ChangeKind {
    /// The kind as people say it in a report ("pull request", "direct push").
    pub fn describe(self) -> &'static str {
        match self {
            ChangeKind::PullRequest => "pull request",
            ChangeKind::Merge => "merge",
            ChangeKind::DirectPush => "direct push",
            ChangeKind::Deploy => "deploy",
            ChangeKind::ConsoleChange => "console change",
        }
    }
}

/// An approval rule; rules compose with `All` and `Any`. In JSON, `{"type": …, "value": …}`
/// (adjacently tagged: the composite rules hold lists, which an internal tag cannot).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ApprovalRule {
    Approvals {
        count: u32,
        /// Empty means anyone.
        from: Vec<Subject>,
        exclude_author: bool,
        exclude_committers: bool,
        /// Approvals given on an older head commit do not count (stale after push).
        current_head_only: bool,
    },
    /// Every sensitive area touched is acknowledged by one of its owners (S000-08).
    OwnerAck,
    /// Every owned area touched is approved by one of its owners (CODEOWNERS review).
    CodeOwners,
    /// A named rule.
    Ref(String),
    All(Vec<ApprovalRule>),
    /// Every listed rule, each met by a different person (`all` with
    /// `distinct-approvers = true`): "security team plus a peer" is two people, not one
    /// security engineer counted twice (S004-07).
    AllDistinct(Vec<ApprovalRule>),
    Any(Vec<ApprovalRule>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    /// CI check name as the forge reports it, or the trailer name for trailer CI.
    pub check: String,
    /// Other names under which the same check may be reported.
    pub aliases: Vec<String>,
    pub scope: GateScope,
    pub emergency_may_skip: bool,
    /// Categories the gate applies to; empty means all.
    pub categories: Vec<String>,
    /// The gate applies only when a changed path matches (CI workflows scoped by `paths:`
    /// filters, S000-11's workflow validator); empty means every change.
    pub paths: PathSet,
    pub description: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateScope {
    /// Every PR and every change on a protected branch.
    All,
    /// Only changes on a protected branch (S002-03 container scan).
    MainOnly,
}

#[derive(Debug, Clone, Serialize)]
pub struct BranchRules {
    pub protected: Vec<String>,
    /// S000-05, S003-09: a commit on a protected branch that did not come through a PR.
    pub forbid_direct_push: bool,
    /// S003-09.
    pub require_signed_commits: bool,
    /// S003-01: a ticket reference (regex) in the PR title, body or branch.
    pub ticket_pattern: Option<String>,
    /// S002-05: the merge method the branch expects, documentary unless enforced.
    pub merge_method: Option<String>,
}

/// Sections the PR description must contain (S000-06, S002-02, S004-04).
#[derive(Debug, Clone, Serialize)]
pub struct DescriptionRequirement {
    pub sections: Vec<String>,
    /// Categories this applies to; empty means all.
    pub categories: Vec<String>,
    /// Checkbox groups (headings) in which every box must be ticked (S002-04 checklist).
    pub checklists: Vec<String>,
    pub span: Span,
}

/// When `when` holds, the change must also touch `must_touch` (S000-09, S000-17).
#[derive(Debug, Clone, Serialize)]
pub struct CoChange {
    pub id: String,
    pub description: String,
    pub when: Condition,
    pub must_touch: PathSet,
    pub span: Span,
}

/// Files under `paths` may be added but never modified or deleted; new ones must match
/// `name_pattern` (S001-04, S000-13).
#[derive(Debug, Clone, Serialize)]
pub struct AppendOnly {
    pub id: String,
    pub paths: PathSet,
    pub name_pattern: Option<String>,
    /// New files are numbered in sequence (S001-04): the first capture group of
    /// `name_pattern` is the number, and each new number is one more than the highest
    /// before it, with no gaps and no duplicates. Validation guarantees `name_pattern`
    /// is set and has a capture group when this is true.
    pub sequential: bool,
    pub span: Span,
}

/// Added lines matching `pattern` in `paths` are flagged: they need `require`, or, when
/// `forbidden`, they are a violation that nothing clears (S000-13, S001-04).
#[derive(Debug, Clone, Serialize)]
pub struct ContentFlag {
    pub id: String,
    pub description: String,
    pub paths: PathSet,
    pub pattern: String,
    pub require: Option<String>,
    /// A match is a violation that no approval, self-merge allowance, emergency or
    /// exception clears (validation forbids `require` alongside it).
    pub forbidden: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Emergency {
    /// Who may authorize an emergency change (S000-14 IC, S002-08 IC or lead).
    pub authorizers: Vec<Subject>,
    /// Requirement kinds an emergency may skip: "review", "tests", "description", or gate names.
    pub may_skip: Vec<String>,
    /// Trailer naming the authorizer, e.g. `Emergency-Authorized-By`.
    pub authorization_trailer: String,
    /// Whether the change's own author may authorize its emergency (`self-authorization`,
    /// default false). When false, an authorization by the author (the same person by
    /// email or login, never by display name) does not authorize the emergency, so it
    /// waives nothing (S000-07, S000-14). A company of one needs it (S001-02).
    pub self_authorization: bool,
    pub obligations: Vec<Obligation>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Obligation {
    pub id: String,
    pub description: String,
    pub within: Duration,
    /// `fulfilled-by = "follow-up"`: a later compliant change whose commit message carries
    /// `Emergency-Follow-Up: <the emergency's commit or #PR>` fulfils it, at that change's
    /// time (S002-08's retroactive PR whose CI passes, S000-14's PR that adds the tests).
    /// Otherwise a recorded `obligation-fulfilled` does.
    pub follow_up: bool,
}

/// The trailer that names the emergency a change follows up.
pub const FOLLOW_UP_TRAILER: &str = "Emergency-Follow-Up";

/// A duration written as "15m", "24h", "48h", "5d".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Duration {
    pub seconds: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exception {
    pub id: String,
    /// People the exception covers; empty means anyone.
    pub people: Vec<String>,
    /// Categories it covers; empty means all.
    pub categories: Vec<String>,
    /// Requirement kinds it waives: "review", "owner-ack", a gate name, "description".
    pub waives: Vec<String>,
    pub justification: String,
    /// S000-18: a second operator approved it.
    pub approved_by: Vec<String>,
    /// S000-18: the re-evaluation date.
    pub review_by: Option<Date>,
    /// Ends when the named group grows beyond this many members (S000-07).
    pub until_group_exceeds: Option<(String, usize)>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployRules {
    /// Environments in the order a change must pass them (S000-02, S003-06).
    pub environments: Vec<String>,
    /// Environments that require the previous one first with the same artifact digest.
    pub same_artifact: bool,
    /// The single sanctioned path to production (S000-20), e.g. a workflow file.
    pub production_path: Option<String>,
    pub production_manual: bool,
    /// Ordered deploy stages (S000-21).
    pub stages: Vec<String>,
    /// The branch each environment is deployed from (S004-10): environment → branch.
    pub branches: BTreeMap<String, String>,
    /// Local deploys to production only from a clean working tree equal to `origin/main`
    /// (S001-03); the gate asks for `--worktree`.
    pub clean_worktree: bool,
    /// A production deploy is closed by a passing health check and its actual completion
    /// time (S004-11).
    pub verify: bool,
    /// Approved windows for production deploys, in UTC (S004-11). Empty: any time.
    pub windows: Vec<DeployWindow>,
    /// Change freezes: no deploy to their environments between `from` and `until`.
    pub freezes: Vec<Freeze>,
    pub span: Span,
}

impl DeployRules {
    /// The last environment in the order: the one `production-path`, `production-manual`,
    /// `clean-worktree`, `verify` and `windows` apply to.
    pub fn production(&self) -> Option<&str> {
        self.environments.last().map(String::as_str)
    }

    /// The position of an environment in the order, matched without regard to case.
    pub fn position(&self, environment: &str) -> Option<usize> {
        self.environments.iter().position(|e| e.eq_ignore_ascii_case(environment))
    }

    /// The stage a name refers to: its 1-based number, its full text, or the words before
    /// its first parenthesis (`backend` for "backend (migrations, then API)"), any case.
    pub fn stage_position(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        if let Ok(n) = name.parse::<usize>() {
            return (1..=self.stages.len()).contains(&n).then(|| n - 1);
        }
        self.stages.iter().position(|s| {
            s.eq_ignore_ascii_case(name)
                || s.split(" (").next().is_some_and(|short| short.trim().eq_ignore_ascii_case(name))
        })
    }
}

/// A weekly deploy window: the days it is open and the UTC minutes of the day it spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployWindow {
    /// As written: `Tue-Thu 09:00-16:00`.
    pub text: String,
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes after midnight, UTC; `start < end`.
    pub start: u16,
    pub end: u16,
}

/// A change freeze. It has an owner and an end: a freeze without one is a policy error.
#[derive(Debug, Clone, Serialize)]
pub struct Freeze {
    pub from: Date,
    /// The last day of the freeze (inclusive).
    pub until: Date,
    pub owner: String,
    pub reason: String,
    /// The environments it freezes; empty means all.
    pub environments: Vec<String>,
    pub span: Span,
}

/// `[metrics]`: thresholds the period report checks the metrics against.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRules {
    /// The most a month's production incidents may be caused by a change, as a fraction
    /// (`incidents-caused-by-change-max = "3%"` is 0.03): S003-10. A month over it is a
    /// finding in the report.
    pub incidents_caused_by_change_max: Option<f64>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsoleRules {
    /// Providers whose console changes must be logged (S000-12).
    pub providers: Vec<String>,
    /// Fields a console change record must carry.
    pub required_fields: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSettings {
    /// Trailers (Reviewed-by, Acked-by, bors r=) are the complete review record, as in
    /// Gerrit- or bors-run projects. When false, a change with no review trailer is
    /// "evidence missing" rather than a violation.
    pub trailers_complete: bool,
    /// Trailer names that count as review approvals.
    pub review_trailers: Vec<String>,
    /// Trailer names that carry CI results (`TryBot-Result: +1`).
    pub ci_trailers: Vec<String>,
    /// Whether an approval recorded by one person in another's name counts.
    pub attested_approvals: AttestedApprovals,
}

/// `[evidence] attested-approvals`: whether an *attested* approval counts, one that
/// someone recorded in the evidence store in another person's name (its recorder resolves
/// to someone other than the approver, or to no one the policy knows). Approvals read from
/// git trailers and forge reviews carry their own identity and are never attested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttestedApprovals {
    /// Attested approvals never count, nor attested emergency authorizations.
    Never,
    /// The default: attested approvals do not count where independence from the author is
    /// the point: for rules that exclude the author or the committers, and for area
    /// owners' reviews and acknowledgments (which never count the author's own). They count
    /// elsewhere, and the report says who recorded them.
    #[default]
    NotForAuthorExcludingRules,
    /// Attested approvals count everywhere; the report says who recorded them.
    Always,
}

impl AttestedApprovals {
    /// The settings as written in the policy file, in order.
    pub const KEYWORDS: &[&str] = &["never", "not-for-author-excluding-rules", "always"];

    pub fn as_str(self) -> &'static str {
        match self {
            AttestedApprovals::Never => "never",
            AttestedApprovals::NotForAuthorExcludingRules => "not-for-author-excluding-rules",
            AttestedApprovals::Always => "always",
        }
    }

    pub fn from_keyword(keyword: &str) -> Option<AttestedApprovals> {
        match keyword {
            "never" => Some(AttestedApprovals::Never),
            "not-for-author-excluding-rules" => Some(AttestedApprovals::NotForAuthorExcludingRules),
            "always" => Some(AttestedApprovals::Always),
            _ => None,
        }
    }
}

/// Sections that only document and render: rollback, retention, lifecycle, collectors.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Documentation {
    pub lifecycle: Vec<String>,
    pub rollback: Vec<RollbackMethod>,
    pub rollback_triggers: Vec<String>,
    pub retention: Vec<Retention>,
    pub collectors: Vec<Collector>,
    pub environments: Vec<EnvironmentDoc>,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackMethod {
    pub change_type: String,
    pub method: String,
    pub target: Option<Duration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retention {
    pub record: String,
    pub location: Option<String>,
    /// `None` means indefinite.
    pub days: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Collector {
    pub name: String,
    pub cadence: String,
    pub controls: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentDoc {
    pub name: String,
    pub trigger: String,
    pub approval: String,
}

/// Free-form policy text with a heading, for what the engine cannot check.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub heading: String,
    pub text: String,
    /// Requirement ids this note documents (S000-15 …).
    pub requirements: Vec<String>,
}

mod serde_regex_str {
    pub fn serialize<S: serde::Serializer>(re: &regex::Regex, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(re.as_str())
    }
}
