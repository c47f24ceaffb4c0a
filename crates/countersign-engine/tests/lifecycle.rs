//! S004-03: a change's state, and the time it entered each stage.

mod common;

use common::*;
use countersign_engine::change::{CheckResult, CheckStatus};
use countersign_engine::lifecycle::{Stage, state_of};

const POLICY: &str = concat!(
    acme_policy!(),
    r#"[people.bob]
name = "Bob"
emails = "bob@example.com"

[rules.peer-review]
approvals = 1
from = "*"
exclude-author = true

[[categories]]
id = "standard"
name = "Standard"
default = true
require = "peer-review"

[[gates]]
check = "unit-tests"
description = "The unit tests pass"
"#
);

fn passed_at(at: &str) -> CheckResult {
    CheckResult {
        name: "unit-tests".into(),
        status: CheckStatus::Success,
        commit: None,
        source: "test CI".into(),
        at: Some(at.parse().unwrap()),
    }
}

fn built_at(check: &str) -> (Stage, Option<jiff::Timestamp>) {
    let policy = policy_from("lifecycle", POLICY);
    // Reviewed when the change was made (10:00).
    let mut change = pr(7, "alice@example.com").approved_by("bob@example.com").build();
    change.checks.push(passed_at(check));
    let eval = eval(&policy, &change);
    let state = state_of(&change, &eval, &[]);
    let build = state.entered.iter().find(|e| e.stage == Stage::Build).map(|e| e.at);
    (state.current, build.flatten())
}

#[test]
fn s004_03_build_is_entered_when_the_last_gate_passed_or_at_the_approval_if_later() {
    // CI passed at noon, after the review: built at noon.
    assert_eq!(built_at("2026-11-01T12:00:00Z"), (Stage::Build, Some("2026-11-01T12:00:00Z".parse().unwrap())));
    // CI passed before the review: built once approved.
    assert_eq!(built_at("2026-11-01T09:00:00Z"), (Stage::Build, Some("2026-11-01T10:00:00Z".parse().unwrap())));
}
