//! Emergency obligations as instances with a state: every `obligation:*` requirement of an
//! evaluation, with its due time, read as pending, due soon, overdue, fulfilled or
//! fulfilled late. Overdue and fulfilled late are both failures.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::report::{Evaluation, RequirementResult, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObligationState {
    Overdue,
    FulfilledLate,
    DueSoon,
    Pending,
    Fulfilled,
}

impl ObligationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ObligationState::Overdue => "overdue",
            ObligationState::FulfilledLate => "fulfilled late",
            ObligationState::DueSoon => "due soon",
            ObligationState::Pending => "pending",
            ObligationState::Fulfilled => "fulfilled",
        }
    }

    /// Still to be done.
    pub fn open(self) -> bool {
        matches!(self, ObligationState::Overdue | ObligationState::DueSoon | ObligationState::Pending)
    }

    /// A failure: not done in time.
    pub fn failed(self) -> bool {
        matches!(self, ObligationState::Overdue | ObligationState::FulfilledLate)
    }
}

/// One obligation of one change.
#[derive(Debug, Clone, Serialize)]
pub struct ObligationInstance {
    pub change: String,
    pub pr_number: Option<u64>,
    pub title: String,
    /// The policy's obligation id.
    pub obligation: String,
    pub description: String,
    pub state: ObligationState,
    pub due: Option<Timestamp>,
    /// What fulfilled it, or what is missing.
    pub evidence: Vec<String>,
    pub detail: Option<String>,
}

/// The state of one requirement, if it is an obligation. `due_soon` is how close to its
/// due time a pending obligation counts as due soon.
pub fn state_of(r: &RequirementResult, now: Timestamp, due_soon: SignedDuration) -> Option<ObligationState> {
    if !r.id.starts_with("obligation:") {
        return None;
    }
    // A fulfilment always leaves its evidence; an overdue obligation has none.
    Some(match (r.status, r.evidence.is_empty()) {
        (Status::Met | Status::Waived, _) => ObligationState::Fulfilled,
        (Status::Missing, false) => ObligationState::FulfilledLate,
        (Status::Missing | Status::Unknown, true) => ObligationState::Overdue,
        (Status::Unknown, false) => ObligationState::Fulfilled,
        (Status::Pending, _) => match r.due {
            Some(due) if due <= now => ObligationState::Overdue,
            Some(due) if due.duration_since(now) <= due_soon => ObligationState::DueSoon,
            _ => ObligationState::Pending,
        },
    })
}

/// Every obligation of every evaluation, most urgent first (overdue, fulfilled late, due
/// soon, pending, fulfilled; then by due time).
pub fn instances(evals: &[Evaluation], now: Timestamp, due_soon: SignedDuration) -> Vec<ObligationInstance> {
    let mut out: Vec<ObligationInstance> = evals
        .iter()
        .flat_map(|e| {
            e.requirements.iter().filter_map(move |r| {
                let state = state_of(r, now, due_soon)?;
                Some(ObligationInstance {
                    change: e.change.id.clone(),
                    pr_number: e.change.pr_number,
                    title: e.change.title.clone(),
                    obligation: r.id.trim_start_matches("obligation:").to_owned(),
                    description: r.description.clone(),
                    state,
                    due: r.due,
                    evidence: r.evidence.clone(),
                    detail: r.detail.clone(),
                })
            })
        })
        .collect();
    out.sort_by(|a, b| (a.state, a.due).cmp(&(b.state, b.due)));
    out
}

/// Counts by state, for the audit summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObligationCounts {
    /// Not fulfilled yet (pending, due soon and overdue).
    pub open: usize,
    pub overdue: usize,
    pub fulfilled: usize,
    pub fulfilled_late: usize,
}

pub fn count(instances: &[ObligationInstance]) -> ObligationCounts {
    let mut c = ObligationCounts::default();
    for i in instances {
        c.open += usize::from(i.state.open());
        c.overdue += usize::from(i.state == ObligationState::Overdue);
        c.fulfilled += usize::from(i.state == ObligationState::Fulfilled);
        c.fulfilled_late += usize::from(i.state == ObligationState::FulfilledLate);
    }
    c
}
