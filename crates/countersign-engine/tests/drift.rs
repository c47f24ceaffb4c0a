//! S003-09: a branch's protection against the policy.

mod common;

use common::*;
use countersign_engine::drift::{Allowances, BranchProtection, BypassActor, judge_protection};

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
forbid-direct-push = true
"#
);

fn ids(p: &BranchProtection) -> Vec<String> {
    ids_allowing(p, &[])
}

fn ids_allowing(p: &BranchProtection, allowed: &[String]) -> Vec<String> {
    judge_protection(&policy_from("drift", POLICY), p, &Allowances { bypass_actors: allowed })
        .into_iter()
        .map(|f| f.id)
        .collect()
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
        direct_pushes: Some(false),
        code_owner_reviews: Some(false),
        bypass_actors: Vec::new(),
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

/// S003-09's "no direct pushes" and S003-08's "overrides only by the named roles": a branch
/// anyone may push to is drift when the policy forbids direct pushes, and every bypass actor
/// the configuration does not list (by `Type:id`, or by type) is a finding of its own.
#[test]
fn s003_08_s003_09_direct_pushes_and_bypass_actors_are_drift_unless_allowed() {
    let actor = |actor_type: &str, id: Option<&str>| BypassActor {
        actor_type: actor_type.into(),
        actor_id: id.map(str::to_owned),
        source: "ruleset 42".into(),
    };
    let p = BranchProtection {
        branch: "main".into(),
        protected: true,
        required_checks: vec!["build".into()],
        required_approvals: Some(2),
        enforce_admins: Some(true),
        allow_force_pushes: Some(false),
        allow_deletions: Some(false),
        required_signatures: Some(true),
        direct_pushes: Some(true),
        code_owner_reviews: None,
        bypass_actors: vec![
            actor("Team", Some("234")),
            actor("OrganizationAdmin", None),
            actor("Integration", Some("7")),
        ],
    };
    assert_eq!(
        ids(&p),
        ["direct-pushes", "bypass-actor:Team:234", "bypass-actor:OrganizationAdmin", "bypass-actor:Integration:7"]
    );
    let allowed = ["team:234".to_owned(), "OrganizationAdmin".to_owned(), "Integration:8".to_owned()];
    assert_eq!(ids_allowing(&p, &allowed), ["direct-pushes", "bypass-actor:Integration:7"]);
    let closed = BranchProtection { direct_pushes: Some(false), bypass_actors: Vec::new(), ..p };
    assert!(ids(&closed).is_empty(), "{:?}", ids(&closed));
}

/// A policy whose rule asks for the code owners' approval: a branch that does not require it
/// (GitHub `require_code_owner_reviews`, GitLab `code_owner_approval_required`) is drift.
#[test]
fn s003_09_code_owner_review_is_required_where_the_policy_asks_for_it() {
    let policy = policy_from(
        "owners",
        concat!(
            acme_policy!(),
            "\n[rules.owners]\ncodeowners = true\n\n[[categories]]\nid = \"standard\"\nname = \"Standard\"\ndefault = true\nrequire = \"owners\"\n"
        ),
    );
    let p = BranchProtection {
        branch: "main".into(),
        protected: true,
        code_owner_reviews: Some(false),
        ..Default::default()
    };
    let judged = |p: &BranchProtection| -> Vec<String> {
        judge_protection(&policy, p, &Allowances::default()).into_iter().map(|f| f.id).collect()
    };
    assert_eq!(judged(&p), ["code-owners"]);
    assert!(judged(&BranchProtection { code_owner_reviews: Some(true), ..p }).is_empty());
}
