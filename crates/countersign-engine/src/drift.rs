//! Forge settings against the policy (S001-06, S003-09): what a branch-protection collector
//! read, compared with what the policy asks. Pure: the caller reads the forge.

use countersign_policy::model::{ApprovalRule, GateScope, Policy};
use serde::Serialize;

/// A protected branch's settings as the forge reports them. `None`: not reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BranchProtection {
    pub branch: String,
    /// False when the forge says the branch is not protected at all.
    pub protected: bool,
    /// Status checks that must pass before merging.
    pub required_checks: Vec<String>,
    /// Approving reviews required before merging.
    pub required_approvals: Option<u32>,
    /// Whether administrators are held to the rules too (no bypass).
    pub enforce_admins: Option<bool>,
    pub allow_force_pushes: Option<bool>,
    pub allow_deletions: Option<bool>,
    pub required_signatures: Option<bool>,
}

/// One way the settings fall short of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable id: `not-protected`, `missing-check:<name>`, `approvals`, `force-pushes`,
    /// `deletions`, `admin-bypass`, `signatures`.
    pub id: String,
    /// What is wrong, and what the policy asks.
    pub message: String,
}

/// The fewest approvals any category's rule asks for (directly, or in an `all` of rules).
fn policy_approvals(policy: &Policy) -> Option<u32> {
    fn count(rule: &ApprovalRule) -> Option<u32> {
        match rule {
            ApprovalRule::Approvals { count, .. } => Some(*count),
            ApprovalRule::All(parts) => parts.iter().filter_map(count).max(),
            _ => None,
        }
    }
    policy
        .categories
        .iter()
        .filter(|c| !c.emergency)
        .filter_map(|c| c.require.as_ref())
        .filter_map(|name| policy.rules.get(name))
        .map(|rule| policy.resolve_rule(rule))
        .filter_map(|rule| count(&rule))
        .min()
}

/// What the settings of a protected branch lack against the policy.
pub fn judge_protection(policy: &Policy, p: &BranchProtection) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut find = |id: String, message: String| out.push(Finding { id, message });
    if !p.protected {
        find(
            "not-protected".into(),
            format!("{} is not protected: anyone with write access can push to it directly", p.branch),
        );
        return out;
    }
    for gate in policy.gates.iter().filter(|g| g.categories.is_empty() && g.paths.is_empty()) {
        if matches!(gate.scope, GateScope::MainOnly) {
            continue;
        }
        let names: Vec<&str> =
            std::iter::once(gate.check.as_str()).chain(gate.aliases.iter().map(String::as_str)).collect();
        let required =
            p.required_checks.iter().any(|c| names.iter().any(|n| crate::evaluate::check_name_matches(n, c)));
        if !required {
            find(
                format!("missing-check:{}", gate.check),
                format!("the policy's gate {:?} is not a required status check of {}", gate.check, p.branch),
            );
        }
    }
    if let Some(minimum) = policy_approvals(policy) {
        match p.required_approvals {
            Some(n) if n >= minimum => {}
            got => find(
                "approvals".into(),
                format!(
                    "{} requires {} approving review(s); the policy asks for at least {minimum}",
                    p.branch,
                    got.unwrap_or(0)
                ),
            ),
        }
    }
    if p.allow_force_pushes == Some(true) {
        find("force-pushes".into(), format!("force pushes to {} are allowed: history can be rewritten", p.branch));
    }
    if p.allow_deletions == Some(true) {
        find("deletions".into(), format!("{} can be deleted", p.branch));
    }
    if p.enforce_admins == Some(false) {
        find(
            "admin-bypass".into(),
            format!("administrators bypass the protection of {}: only the policy's authorizers may", p.branch),
        );
    }
    if policy.branch.require_signed_commits && p.required_signatures != Some(true) {
        find(
            "signatures".into(),
            format!(
                "the policy asks for signed commits; {} {}",
                p.branch,
                if p.required_signatures.is_none() { "does not say it requires them" } else { "does not require them" }
            ),
        );
    }
    out
}
