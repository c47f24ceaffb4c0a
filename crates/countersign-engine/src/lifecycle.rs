//! A change's state, derived from its evidence (S004-03): Request, Review, Approve, Build,
//! Deploy, Verify, Close, each with the time it was entered. A stage is entered only after
//! the one before it; the change is in the last stage it entered. "Closed with the actual
//! completion time" (S004-11) is the Close stage's time: the completion of the verified
//! production deploy that shipped the change.

use jiff::Timestamp;
use serde::Serialize;

use crate::change::{ApprovalKind, Change, CheckStatus};
use crate::report::{Evaluation, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Request,
    Review,
    Approve,
    Build,
    Deploy,
    Verify,
    Close,
}

impl Stage {
    pub const ALL: [Stage; 7] =
        [Stage::Request, Stage::Review, Stage::Approve, Stage::Build, Stage::Deploy, Stage::Verify, Stage::Close];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Review => "review",
            Stage::Approve => "approve",
            Stage::Build => "build",
            Stage::Deploy => "deploy",
            Stage::Verify => "verify",
            Stage::Close => "close",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A successful deploy that shipped the change.
#[derive(Debug, Clone)]
pub struct Shipped {
    pub environment: String,
    /// The last environment of the policy's order.
    pub production: bool,
    /// When it completed (or was recorded).
    pub at: Option<Timestamp>,
    /// A passing health check was recorded with it.
    pub verified: bool,
    /// Its log entry.
    pub entry: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entered {
    pub stage: Stage,
    pub at: Option<Timestamp>,
    /// What put the change in this stage.
    pub evidence: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeState {
    /// The last stage entered.
    pub current: Stage,
    /// When it was entered.
    pub since: Option<Timestamp>,
    /// Every stage entered, in order.
    pub entered: Vec<Entered>,
}

/// The state of a judged change, given the deploys that shipped it.
pub fn state_of(change: &Change, eval: &Evaluation, shipped: &[Shipped]) -> ChangeState {
    let settled = |prefix: &str| {
        let mut reqs = eval.requirements.iter().filter(|r| r.id == prefix || r.id.starts_with(&format!("{prefix}:")));
        let mut any = false;
        let all = reqs.all(|r| {
            any = true;
            matches!(r.status, Status::Met | Status::Waived)
        });
        (any, all)
    };
    let approvals: Vec<_> = change.approvals.iter().filter(|a| a.kind == ApprovalKind::Review).collect();
    let first_approval =
        approvals.iter().filter_map(|a| a.time).min().or(change.time.filter(|_| !approvals.is_empty()));
    let last_approval = approvals.iter().filter_map(|a| a.time).max().or(first_approval);
    let mut entered = vec![Entered {
        stage: Stage::Request,
        at: change.time,
        evidence: match change.pr_number {
            Some(n) => format!("pull request #{n}"),
            None => format!("{} {}", change.kind.map_or("change", |k| k.describe()), short(&change.id)),
        },
    }];
    let mut step = |stage: Stage, reached: bool, at: Option<Timestamp>, evidence: String| -> bool {
        if reached {
            entered.push(Entered { stage, at, evidence });
        }
        reached
    };
    let (has_review, reviewed) = settled("review");
    let go =
        step(
            Stage::Review,
            !approvals.is_empty(),
            first_approval,
            format!("{} approval{}", approvals.len(), if approvals.len() == 1 { "" } else { "s" }),
        ) && step(Stage::Approve, has_review && reviewed, last_approval, "every approval the policy asks for".into());
    let (_, built) = settled("gate");
    // Built when the last passing check came in, or at the last approval if that was later.
    let last_pass = change.checks.iter().filter(|c| c.status == CheckStatus::Success).filter_map(|c| c.at).max();
    let built_at = match (last_pass, last_approval) {
        (Some(check), Some(approval)) => Some(check.max(approval)),
        (check, approval) => check.or(approval),
    };
    let go = go && step(Stage::Build, built, built_at, "every CI gate passed".into());
    let first_deploy = shipped.iter().filter(|s| s.at.is_some()).min_by_key(|s| s.at);
    let go = go
        && step(
            Stage::Deploy,
            first_deploy.is_some(),
            first_deploy.and_then(|s| s.at),
            first_deploy.map(|s| format!("deployed to {} (entry #{})", s.environment, s.entry)).unwrap_or_default(),
        );
    let verified = shipped.iter().filter(|s| s.production && s.verified).min_by_key(|s| s.at);
    let go = go
        && step(
            Stage::Verify,
            verified.is_some(),
            verified.and_then(|s| s.at),
            verified
                .map(|s| format!("health check passed on {} (entry #{})", s.environment, s.entry))
                .unwrap_or_default(),
        );
    let _ = go
        && step(
            Stage::Close,
            verified.is_some_and(|s| s.at.is_some()),
            verified.and_then(|s| s.at),
            "closed with the production deploy's actual completion time".into(),
        );
    let last = entered.last().expect("Request is always entered");
    ChangeState { current: last.stage, since: last.at, entered }
}

fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}
