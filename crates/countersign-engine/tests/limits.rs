//! The evaluator walks rules and conditions within the policy limits (issue 7, X-01). A
//! validated policy is at most 64 levels deep and each rule at most 256 parts written out
//! (see "Limits" in docs/policy-language.md); a policy built by hand past those limits is
//! judged "not met", never with a stack overflow or exponential time.
//!
//! Nothing here is timed: a crash aborts the test binary, and a watchdog turns work the
//! old code could never finish into a failure.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use countersign_engine::report::Status;
use countersign_policy::model::{ApprovalRule, Condition, Policy};

const ADA: &str = "ada@acme.test";
const BO: &str = "bo@acme.test";

const BASE: &str = "[policy]\norganization = \"Acme\"\neffective = 2026-01-01\n\n[people.ada]\nemails = \"ada@acme.test\"\n\n[people.bo]\nemails = \"bo@acme.test\"\n\n[rules.r0]\napprovals = 1\n\n[[categories]]\nid = \"standard\"\ndefault = true\nrequire = \"r0\"\n";

/// Runs `f` on a thread with the default 2 MiB test stack, within a 120 s watchdog.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    rx.recv_timeout(Duration::from_secs(120)).expect("finished within the 120 s watchdog, without crashing")
}

fn approvals() -> ApprovalRule {
    ApprovalRule::Approvals {
        count: 1,
        from: vec![],
        exclude_author: true,
        exclude_committers: false,
        current_head_only: true,
    }
}

/// The review requirement of Bo's change approved by Ada, on a small stack.
fn review_of(policy: Policy) -> (Status, String) {
    bounded(move || {
        let e = eval(&policy, &pr(1, BO).paths(&["src/a.rs"]).approved_by(ADA).build());
        let r = req(&e, "review");
        (r.status, r.detail.clone().unwrap_or_default())
    })
}

#[test]
fn x01_a_chain_of_20000_references_built_by_hand_does_not_overflow_the_engine() {
    let mut policy = policy_from("countersign.toml", BASE);
    for i in 0..20_000 {
        policy.rules.insert(format!("r{i}"), ApprovalRule::Ref(format!("r{}", i + 1)));
    }
    policy.rules.insert("r20000".into(), approvals());
    let (status, detail) = review_of(policy);
    assert_eq!(status, Status::Missing);
    assert!(detail.contains("larger than a policy may hold"), "{detail}");
}

#[test]
fn x01_a_rule_diamond_built_by_hand_is_judged_in_bounded_time() {
    // 64 layers of two rules, each referring to both rules of the next layer: 2^64 paths.
    let mut policy = policy_from("countersign.toml", BASE);
    let layers = 64;
    for layer in 0..layers {
        for side in ["a", "b"] {
            let rule = if layer + 1 == layers {
                approvals()
            } else {
                let next = [format!("l{}a", layer + 1), format!("l{}b", layer + 1)].map(ApprovalRule::Ref).to_vec();
                if layer % 2 == 0 { ApprovalRule::All(next) } else { ApprovalRule::Any(next) }
            };
            policy.rules.insert(format!("l{layer}{side}"), rule);
        }
    }
    policy.rules.insert("r0".into(), ApprovalRule::Ref("l0a".into()));
    let (status, detail) = review_of(policy.clone());
    assert_eq!(status, Status::Missing);
    assert!(detail.contains("larger than a policy may hold"), "{detail}");
    // The same diamond under `all` with distinct approvers.
    policy.rules.insert("r0".into(), ApprovalRule::AllDistinct(vec![ApprovalRule::Ref("l0a".into())]));
    assert_eq!(review_of(policy).0, Status::Missing);
}

#[test]
fn x01_a_condition_built_by_hand_20000_deep_does_not_overflow_the_engine() {
    let (category, explain_len) = bounded(|| {
        let mut policy = policy_from("countersign.toml", BASE);
        let mut when = Condition::Label("x".into());
        for _ in 0..20_000 {
            when = Condition::Not(Box::new(when));
        }
        let mut odd = policy.categories[0].clone();
        odd.id = "odd".into();
        odd.precedence = 10;
        odd.when = when;
        policy.categories.push(odd);
        let e = eval(&policy, &pr(1, BO).paths(&["src/a.rs"]).label("x").build());
        let explain = countersign_policy::render::explain(&policy);
        // Dropping a condition nests as deep as it does; this one is left to the process.
        std::mem::forget(policy);
        (e.category.id, explain.len())
    });
    assert_eq!(category, "standard", "past the limit, a condition does not hold");
    assert!(explain_len > 0);
}

#[test]
fn x01_a_policy_at_every_limit_evaluates_on_a_small_stack() {
    let mut text = BASE.replace("require = \"r0\"\n", "require = \"c0\"\n");
    // A condition 64 levels deep: 63 `not`s around a label.
    text.push_str(&format!(
        "\n[[categories]]\nid = \"odd\"\nprecedence = 1\nwhen = {}{{ label = \"x\" }}{}\nrequire = \"c0\"\n",
        "{ not = ".repeat(63),
        " }".repeat(63)
    ));
    // Groups 64 levels deep, and a chain of references 64 levels deep that ends in them.
    text.push_str("\n[groups]\n");
    for i in 0..64 {
        text.push_str(&format!("g{i} = [\"@g{}\"]\n", i + 1));
    }
    text.push_str("g64 = [\"ada\"]\n");
    for i in 0..63 {
        text.push_str(&format!("[rules.c{i}]\nref = \"c{}\"\n", i + 1));
    }
    text.push_str("[rules.c63]\napprovals = 1\nfrom = \"@g0\"\n");
    let (category, status, evidence) = bounded(move || {
        let policy = policy_from("countersign.toml", &text);
        let e = eval(&policy, &pr(1, BO).paths(&["src/a.rs"]).approved_by(ADA).build());
        let r = req(&e, "review");
        (e.category.id.clone(), r.status, r.evidence.join(" | "))
    });
    // 63 `not`s around "has label x", on a change without the label: true.
    assert_eq!(category, "odd");
    assert_eq!(status, Status::Met, "{evidence}");
    assert!(evidence.contains("approved by ada"), "{evidence}");
}
