//! Exceptions recorded in the log (S000-18), read back as the policy's own exceptions: one
//! concept, one evaluation. A request counts once a second operator (a person of the
//! policy other than the requester) approves it in their own name; it ends on its date.

use jiff::civil::Date;
use serde::Serialize;

use countersign_engine::directory::Directory;
use countersign_engine::evaluate::parse_identity;
use countersign_policy::model::{Exception, Policy};
use countersign_store::{Evidence, RecordedEvidence, Store, StoreError};

/// One recorded exception request and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedException {
    /// The request's log entry: the exception's id (`recorded #N`).
    pub entry: u64,
    pub rule: String,
    pub justification: String,
    pub until: Option<Date>,
    pub people: Vec<String>,
    pub categories: Vec<String>,
    /// Who requested it (the entry's recorder).
    pub requested_by: String,
    /// Approvals that count: the approver's policy id and the approval's entry.
    pub approvals: Vec<(String, u64)>,
    /// The day of the first approval that counts.
    pub approved_on: Option<Date>,
    /// Approvals that do not count, and why.
    pub refused: Vec<String>,
}

impl RecordedException {
    pub fn id(&self) -> String {
        format!("recorded #{}", self.entry)
    }

    /// As the policy's exception, when a second operator approved it.
    pub fn as_policy_exception(&self) -> Option<Exception> {
        (!self.approvals.is_empty()).then(|| Exception {
            id: self.id(),
            people: self.people.clone(),
            categories: self.categories.clone(),
            waives: vec![self.rule.clone()],
            justification: self.justification.clone(),
            approved_by: self.approvals.iter().map(|(who, _)| who.clone()).collect(),
            review_by: self.until,
            until_group_exceeds: None,
            span: 0..0,
        })
    }
}

/// The kinds of log entries exceptions are made of.
pub const KINDS: &[&str] = &["exception", "exception-approval"];

/// Every exception request in the log, with its approvals judged against `policy`.
pub fn recorded_exceptions(store: &Store, policy: &Policy) -> Result<Vec<RecordedException>, StoreError> {
    Ok(exceptions_in(store.evidence_of_kinds(KINDS)?, policy))
}

/// The exception requests among `entries` (in log order), with their approvals judged.
pub fn exceptions_in(entries: Vec<RecordedEvidence>, policy: &Policy) -> Vec<RecordedException> {
    let dir = Directory::new(policy);
    let mut out: Vec<RecordedException> = Vec::new();
    for e in entries {
        match e.evidence {
            Evidence::Exception { rule, justification, review_by, people, categories, .. } => {
                out.push(RecordedException {
                    entry: e.index,
                    rule,
                    justification,
                    until: review_by.parse().ok(),
                    // As policy ids (a record may name someone by email or login).
                    people: people
                        .iter()
                        .map(|p| dir.resolve(&parse_identity(p)).map_or_else(|| p.clone(), str::to_owned))
                        .collect(),
                    categories,
                    requested_by: e.recorded_by,
                    approvals: Vec::new(),
                    approved_on: None,
                    refused: Vec::new(),
                })
            }
            Evidence::ExceptionApproval { exception } => {
                let Some(request) = out.iter_mut().find(|r| r.entry == exception) else { continue };
                let approver = dir.resolve(&parse_identity(&e.recorded_by)).map(str::to_owned);
                let requester = dir.resolve(&parse_identity(&request.requested_by)).map(str::to_owned);
                match approver {
                    None => request
                        .refused
                        .push(format!("entry #{}: {} is not a person of the policy", e.index, e.recorded_by)),
                    Some(a) if Some(&a) == requester.as_ref() || e.recorded_by == request.requested_by => request
                        .refused
                        .push(format!("entry #{}: {a} requested it, and cannot also approve it", e.index)),
                    Some(a) if !request.approvals.iter().any(|(who, _)| *who == a) => {
                        request.approvals.push((a, e.index));
                        request.approved_on.get_or_insert(e.recorded_at.to_zoned(jiff::tz::TimeZone::UTC).date());
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
    out
}

/// Add the approved recorded exceptions to the policy's own.
pub fn add_recorded_exceptions(policy: &mut Policy, recorded: &[RecordedException]) {
    policy.exceptions.extend(recorded.iter().filter_map(RecordedException::as_policy_exception));
}

/// Why `approver` may not approve exception request `entry` as of `today`, if they may not:
/// it is not a request, the approver is not a person of the policy, they requested it
/// themselves (a second operator must approve), it has ended, or they approved it already.
/// Otherwise the approver's policy id. `countersign exception approve` and the server's API
/// both ask this.
pub fn may_approve(
    policy: &Policy,
    requests: &[RecordedException],
    entry: u64,
    approver: &str,
    today: Date,
) -> Result<String, String> {
    let dir = Directory::new(policy);
    let Some(id) = dir.resolve(&parse_identity(approver)).map(str::to_owned) else {
        return Err(format!("{approver:?} is not a person of the policy, so cannot approve an exception"));
    };
    let Some(request) = requests.iter().find(|r| r.entry == entry) else {
        return Err(format!("log entry #{entry} is not an exception request"));
    };
    if dir.resolve(&parse_identity(&request.requested_by)) == Some(id.as_str()) || request.requested_by == approver {
        return Err(format!("{id} requested exception #{entry}, and cannot also approve it: a second operator must"));
    }
    if let Some(until) = request.until.filter(|until| *until < today) {
        return Err(format!("exception #{entry} ended on {until}; request it again to renew it"));
    }
    if request.approvals.iter().any(|(who, _)| *who == id) {
        return Err(format!("{id} has already approved exception #{entry}"));
    }
    Ok(id)
}
