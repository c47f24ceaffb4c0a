//! S003-09: a branch's protection against the policy.

mod common;

use common::*;
use countersign_engine::drift::{BranchProtection, judge_protection};

const POLICY: &str = concat!(
    acme_policy!(),
    r#"
[rules.two-reviews]
approvals = 2
from = "*"
exclude-author = true

[[categories]]
id = "standard"
name = "Standard"
default = true
require = "two-reviews"

[[gates]]
check = "build"
aliases = ["CI / build"]

[[gates]]
check = "image-scan"
scope = "main-only"

[branch]
protected = ["main"]
require-signed-commits = true
"#
);

fn ids(p: &BranchProtection) -> Vec<String> {
    judge_protection(&policy_from("drift", POLICY), p).into_iter().map(|f| f.id).collect()
}

#[test]
fn s003_09_protection_as_the_policy_asks_has_no_finding() {
    let good = BranchProtection {
        branch: "main".into(),
        protected: true,
        required_checks: vec!["CI / build".into()],
        required_approvals: Some(2),
        enforce_admins: Some(true),
        allow_force_pushes: Some(false),
        allow_deletions: Some(false),
        required_signatures: Some(true),
    };
    // A gate's alias counts; a main-only gate (it runs after merging) is not a PR check.
    assert!(ids(&good).is_empty(), "{:?}", ids(&good));
    let weak = BranchProtection {
        required_checks: vec![],
        required_approvals: Some(1),
        enforce_admins: Some(false),
        required_signatures: None,
        ..good.clone()
    };
    assert_eq!(ids(&weak), ["missing-check:build", "approvals", "admin-bypass", "signatures"]);
    let open = BranchProtection { branch: "main".into(), ..Default::default() };
    assert_eq!(ids(&open), ["not-protected"]);
}
