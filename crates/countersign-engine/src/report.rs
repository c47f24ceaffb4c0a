//! What the evaluator says about a change. These types are the report's JSON shape
//! (documented in `docs/report-json.md`), so renaming a field is a breaking change.

use jiff::Timestamp;
use serde::Serialize;

use countersign_policy::model::ChangeKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Compliant,
    /// Some requirement cannot be judged from the evidence at hand.
    EvidenceMissing,
    Violation,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::EvidenceMissing => "evidence missing",
            Verdict::Violation => "violation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Met,
    /// The evidence shows the requirement is not met.
    Missing,
    /// Not met, but an emergency, an exception or a self-merge allowance excuses it.
    Waived,
    /// The evidence at hand cannot tell (e.g. approvals with git history only).
    Unknown,
    /// An obligation whose deadline has not passed yet.
    Pending,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub change: ChangeSummary,
    pub category: Classification,
    pub risk: Option<Classification>,
    pub areas: Vec<AreaHit>,
    pub requirements: Vec<RequirementResult>,
    pub verdict: Verdict,
    /// Recorded for audit even when allowed (S000-07).
    pub self_merge: bool,
    pub emergency: bool,
    pub reviewed_by_other: bool,
    pub ci_evidence: bool,
    /// Every emergency authorization the evidence holds for an emergency change, whether
    /// it counted or not: who gave it and, for a recorded one, who recorded it. Absent
    /// from the JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emergency_authorizations: Vec<EmergencyAuthorization>,
    /// Where the change is in its life (S004-03), when the caller knows its deploys
    /// (`audit` with a store). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::lifecycle::ChangeState>,
    /// A later `now` could judge the change otherwise: an obligation still pending, or a
    /// waiver by an exception that has a re-evaluation date. Everything else the engine
    /// measures against the clock only changes once (a deadline passes and stays passed),
    /// so an evaluation without this mark holds for every later `now` with the same
    /// evidence. Not part of the report; what caches evaluations reads it.
    #[serde(skip)]
    pub time_sensitive: bool,
}

/// One emergency authorization and what the policy made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmergencyAuthorization {
    /// Who authorized: the person id when the policy knows them, else what the source said.
    pub by: String,
    /// Where it was read: `Emergency-Authorized-By trailer in 1a2b3c4`, a recorded entry.
    pub source: String,
    /// Who recorded it in the evidence store, for a recorded authorization.
    pub recorded_by: Option<String>,
    /// Recorded by someone other than `by` (or by someone the policy does not know).
    pub attested: bool,
    /// Whether it authorized the emergency.
    pub counted: bool,
    /// Why it did not count.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeSummary {
    pub id: String,
    pub kind: ChangeKind,
    pub pr_number: Option<u64>,
    pub title: String,
    pub author: Option<String>,
    pub merged_by: Option<String>,
    pub time: Option<Timestamp>,
    pub commits: usize,
    pub changed_paths: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    pub id: String,
    pub name: String,
    /// Why it was chosen: the condition that matched, or "default".
    pub reason: String,
    /// Other categories (or risks) whose conditions matched but lost on precedence.
    pub also_matched: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AreaHit {
    pub name: String,
    pub sensitive: bool,
    pub owners: Vec<String>,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementResult {
    /// Stable id within a change: `review`, `owner-ack:encryption`, `gate:lint`, …
    pub id: String,
    pub description: String,
    /// The part of the policy that asks for it: `category standard`, `risk critical`,
    /// `area encryption`, `branch`, `emergency`.
    pub required_by: String,
    pub status: Status,
    /// The evidence that satisfied it, or that was considered.
    pub evidence: Vec<String>,
    /// What is missing, or why it is waived.
    pub detail: Option<String>,
    pub due: Option<Timestamp>,
}
