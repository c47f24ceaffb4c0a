//! Test helpers: load an example policy and build changes fluently.

#![allow(dead_code)]

use countersign_engine::change::*;
use countersign_engine::report::{Evaluation, RequirementResult, Status};
use countersign_engine::{Engine, EvalOptions};
use countersign_policy::model::Policy;

/// The start of a small policy for a test: its `[policy]` table and Alice. Tests add their
/// own sections with `concat!`.
#[macro_export]
macro_rules! acme_policy {
    () => {
        r#"[policy]
organization = "Acme"
title = "Change Management Policy"
owner = "CTO"
version = "1"
effective = 2026-01-01
review-every = "annual"

[people.alice]
name = "Alice"
emails = "alice@example.com"
"#
    };
}

pub fn example(name: &str) -> Policy {
    let path = format!("{}/../../examples/policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    policy_from(&path, &text)
}

pub fn policy_from(name: &str, text: &str) -> Policy {
    let opts = countersign_policy::ParseOptions { today: Some("2026-11-20".parse().expect("date")) };
    match countersign_policy::parse_with(name, text, &opts) {
        Ok(c) => c.policy,
        Err(f) => panic!("{}", countersign_policy::render_diagnostics(name, text, &f.errors, false)),
    }
}

pub fn eval(policy: &Policy, change: &Change) -> Evaluation {
    Engine::new(policy).evaluate(change, &EvalOptions { now: Some("2026-11-20T12:00:00Z".parse().expect("now")) })
}

pub fn eval_at(policy: &Policy, change: &Change, now: &str) -> Evaluation {
    Engine::new(policy).evaluate(change, &EvalOptions { now: Some(now.parse().expect("now")) })
}

/// The requirement with this id; panics with the whole evaluation when absent.
pub fn req<'e>(e: &'e Evaluation, id: &str) -> &'e RequirementResult {
    e.requirements.iter().find(|r| r.id == id).unwrap_or_else(|| {
        panic!("no requirement {id}; have {:#?}", e.requirements.iter().map(|r| (&r.id, r.status)).collect::<Vec<_>>())
    })
}

pub fn status(e: &Evaluation, id: &str) -> Status {
    req(e, id).status
}

pub fn has_req(e: &Evaluation, id: &str) -> bool {
    e.requirements.iter().any(|r| r.id == id)
}

pub fn ident(email: &str) -> Identity {
    Identity { name: None, email: Some(email.to_string()), login: None }
}

pub fn login(login: &str) -> Identity {
    Identity { name: None, email: None, login: Some(login.to_string()) }
}

/// A change under construction.
pub struct B(pub Change);

/// A merged pull request on main, with complete forge evidence (reviews, checks, description).
pub fn pr(number: u64, author: &str) -> B {
    B(Change {
        id: format!("{number:040x}"),
        kind: Some(ChangeKind::Merge),
        branch: Some("main".into()),
        pr_number: Some(number),
        title: format!("Change {number}"),
        author: Some(ident(author)),
        merged_by: Some(ident(author)),
        head_commit: Some(format!("{:040x}", number + 1000)),
        commits: vec![CommitRef {
            id: format!("{:040x}", number + 1000),
            author: ident(author),
            committer: ident(author),
            signed: true,
            subject: format!("Change {number}"),
            time: None,
        }],
        time: Some("2026-11-01T10:00:00Z".parse().expect("time")),
        completeness: Completeness { reviews: true, checks: true, description: true, labels: true },
        ..Change::default()
    })
}

/// A commit pushed straight to main.
pub fn direct(author: &str) -> B {
    let mut b = pr(1, author);
    b.0.kind = Some(ChangeKind::DirectPush);
    b.0.pr_number = None;
    b
}

impl B {
    pub fn paths(mut self, paths: &[&str]) -> Self {
        self.0
            .changed_paths
            .extend(paths.iter().map(|p| ChangedPath { path: p.to_string(), status: PathStatus::Modified }));
        self
    }
    pub fn added(mut self, paths: &[&str]) -> Self {
        self.0
            .changed_paths
            .extend(paths.iter().map(|p| ChangedPath { path: p.to_string(), status: PathStatus::Added }));
        self
    }
    pub fn added_lines(mut self, path: &str, lines: &[&str]) -> Self {
        self.0.added_lines.push(AddedLines { path: path.into(), lines: lines.iter().map(|l| l.to_string()).collect() });
        self
    }
    pub fn approved_by(mut self, who: &str) -> Self {
        let by = if who.contains('@') { ident(who) } else { login(who) };
        self.0.approvals.push(Approval {
            by,
            kind: ApprovalKind::Review,
            commit: self.0.head_commit.clone(),
            time: None,
            source: "test review".into(),
            recorded_by: None,
        });
        self
    }
    /// An approving review by exactly this identity, from `source` (a forge review, a
    /// `Reviewed-by` trailer, bors `r=`, a recorded approval).
    pub fn approved_as(mut self, by: Identity, source: &str) -> Self {
        self.0.approvals.push(Approval {
            by,
            kind: ApprovalKind::Review,
            commit: self.0.head_commit.clone(),
            time: None,
            source: source.into(),
            recorded_by: None,
        });
        self
    }
    /// An approval from the evidence store: `recorded_by` put it there in `by`'s name.
    pub fn recorded_approval(mut self, kind: ApprovalKind, by: Identity, recorded_by: Identity) -> Self {
        self.0.approvals.push(Approval {
            by,
            kind,
            commit: self.0.head_commit.clone(),
            time: None,
            source: "recorded entry #7".into(),
            recorded_by: Some(recorded_by),
        });
        self
    }
    pub fn author_as(mut self, author: Identity) -> Self {
        self.0.author = Some(author.clone());
        self.0.merged_by = Some(author.clone());
        for c in &mut self.0.commits {
            c.author = author.clone();
            c.committer = author.clone();
        }
        self
    }
    pub fn acked_by(mut self, who: &str) -> Self {
        self.0.approvals.push(Approval {
            by: ident(who),
            kind: ApprovalKind::Ack,
            commit: None,
            time: None,
            source: "test ack".into(),
            recorded_by: None,
        });
        self
    }
    pub fn approved_on(mut self, who: &str, commit: &str) -> Self {
        self.0.approvals.push(Approval {
            by: ident(who),
            kind: ApprovalKind::Review,
            commit: Some(commit.into()),
            time: None,
            source: "test review".into(),
            recorded_by: None,
        });
        self
    }
    pub fn check(mut self, name: &str, status: CheckStatus) -> Self {
        self.0.checks.push(CheckResult { name: name.into(), status, commit: None, source: "test CI".into(), at: None });
        self
    }
    pub fn checks_pass(mut self, names: &[&str]) -> Self {
        for n in names {
            self = self.check(n, CheckStatus::Success);
        }
        self
    }
    pub fn trailer(mut self, key: &str, value: &str) -> Self {
        let commit = self.0.id.clone();
        self.0.trailers.push(Trailer { key: key.into(), value: value.into(), commit });
        self
    }
    pub fn label(mut self, label: &str) -> Self {
        self.0.labels.push(label.into());
        self
    }
    pub fn title(mut self, title: &str) -> Self {
        self.0.title = title.into();
        self
    }
    pub fn body(mut self, body: &str) -> Self {
        self.0.body = body.into();
        self
    }
    pub fn merged_by(mut self, who: &str) -> Self {
        self.0.merged_by = Some(ident(who));
        self
    }
    pub fn unsigned(mut self) -> Self {
        for c in &mut self.0.commits {
            c.signed = false;
        }
        self
    }
    pub fn kind(mut self, kind: ChangeKind) -> Self {
        self.0.kind = Some(kind);
        self
    }
    pub fn git_only(mut self) -> Self {
        self.0.completeness = Completeness::default();
        self
    }
    pub fn fulfilled(mut self, obligation: &str, at: &str) -> Self {
        self.0.fulfilments.push(Fulfilment {
            obligation: obligation.into(),
            time: Some(at.parse().expect("time")),
            source: "test record".into(),
        });
        self
    }
    pub fn build(self) -> Change {
        self.0
    }
}
