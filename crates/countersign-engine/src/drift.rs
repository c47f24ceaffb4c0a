//! Forge settings against the policy (S001-06, S003-08, S003-09): what a branch-protection
//! collector read, compared with what the policy asks. Pure: the caller reads the forge.
//!
//! A [`BranchProtection`] is forge-independent: GitHub's classic protection merged with the
//! rulesets that apply to the branch, GitLab's protected branch with its approval rules and
//! external status checks, or Gitea/Forgejo's branch protection rule.

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
    /// Whether someone may push commits to the branch without a pull request: GitHub when no
    /// pull request is required (classic or ruleset), GitLab when a push access level is not
    /// "No one", Gitea/Forgejo when pushing is enabled for everyone with write access.
    pub direct_pushes: Option<bool>,
    /// Whether the code owners' approval is required (GitHub `require_code_owner_reviews`,
    /// GitLab `code_owner_approval_required`).
    pub code_owner_reviews: Option<bool>,
    /// Who may bypass the rules: GitHub ruleset bypass actors, GitLab push access given to a
    /// user, group or deploy key, Gitea/Forgejo's push allow-list.
    pub bypass_actors: Vec<BypassActor>,
}

/// One actor the forge lets bypass the protection, as the forge names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BypassActor {
    /// GitHub `actor_type` (`Team`, `Integration`, `RepositoryRole`, `OrganizationAdmin`,
    /// `DeployKey`); GitLab `User`, `Group`, `DeployKey`; Gitea `User`, `Team`, `DeployKey`.
    pub actor_type: String,
    /// The forge's id for it (a number on GitHub and GitLab, a name on Gitea); `None` where the
    /// type alone says who (GitHub's `OrganizationAdmin`, `DeployKey`).
    pub actor_id: Option<String>,
    /// Where the forge says it: the ruleset (`ruleset 42`), or the protection itself.
    pub source: String,
}

impl BypassActor {
    /// `Type:id`, or `Type` when there is no id: how findings and `bypass-allowed` name it.
    pub fn name(&self) -> String {
        match &self.actor_id {
            Some(id) => format!("{}:{id}", self.actor_type),
            None => self.actor_type.clone(),
        }
    }

    /// Whether an allow-list entry (`Type:id`, or `Type` for every actor of that type) names
    /// this actor. Types compare without case; ids exactly.
    pub fn allowed_by(&self, entry: &str) -> bool {
        let (kind, id) = match entry.split_once(':') {
            Some((kind, id)) => (kind.trim(), Some(id.trim())),
            None => (entry.trim(), None),
        };
        kind.eq_ignore_ascii_case(&self.actor_type) && id.is_none_or(|id| self.actor_id.as_deref() == Some(id))
    }
}

/// What the deployment allows besides the policy: the bypass actors the operator maps to the
/// policy's emergency authorizers (the server configuration's `bypass-allowed`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowances<'a> {
    pub bypass_actors: &'a [String],
}

/// One way the settings fall short of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable id: `not-protected`, `missing-check:<name>`, `approvals`, `force-pushes`,
    /// `deletions`, `admin-bypass`, `signatures`, `direct-pushes`, `code-owners`,
    /// `bypass-actor:<type>[:<id>]`.
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
    required_rules(policy).filter_map(|rule| count(&rule)).min()
}

/// The approval rule each non-emergency category requires, resolved.
fn required_rules(policy: &Policy) -> impl Iterator<Item = ApprovalRule> + '_ {
    policy
        .categories
        .iter()
        .filter(|c| !c.emergency)
        .filter_map(|c| c.require.as_ref())
        .filter_map(|name| policy.rules.get(name))
        .map(|rule| policy.resolve_rule(rule))
}

/// Whether any non-emergency category's rule asks for the code owners' approval.
fn policy_wants_code_owners(policy: &Policy) -> bool {
    fn wants(rule: &ApprovalRule) -> bool {
        match rule {
            ApprovalRule::CodeOwners => true,
            ApprovalRule::All(parts) | ApprovalRule::AllDistinct(parts) => parts.iter().any(wants),
            _ => false,
        }
    }
    required_rules(policy).any(|rule| wants(&rule))
}

/// Who the policy lets authorize an emergency (overrides of the protection are emergencies,
/// S003-08), as the findings name them.
fn authorizers(policy: &Policy) -> String {
    match &policy.emergency {
        Some(e) if !e.authorizers.is_empty() => {
            e.authorizers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
        _ => "no one (the policy names no emergency authorizers)".to_owned(),
    }
}

/// What the settings of a protected branch lack against the policy. Bypass actors are drift
/// unless `allowed` lists them: only the policy's emergency authorizers may override the
/// protection (S003-08), and the forge names actors by ids the policy cannot know.
pub fn judge_protection(policy: &Policy, p: &BranchProtection, allowed: &Allowances<'_>) -> Vec<Finding> {
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
    if policy.branch.forbid_direct_push && p.direct_pushes == Some(true) {
        find(
            "direct-pushes".into(),
            format!("commits can be pushed to {} without a pull request; the policy forbids direct pushes", p.branch),
        );
    }
    if policy_wants_code_owners(policy) && p.code_owner_reviews == Some(false) {
        find(
            "code-owners".into(),
            format!("{} does not require the code owners' approval; the policy asks for it", p.branch),
        );
    }
    if p.enforce_admins == Some(false) {
        find(
            "admin-bypass".into(),
            format!("administrators bypass the protection of {}: only the policy's authorizers may", p.branch),
        );
    }
    for actor in &p.bypass_actors {
        if allowed.bypass_actors.iter().any(|entry| actor.allowed_by(entry)) {
            continue;
        }
        let name = actor.name();
        find(
            format!("bypass-actor:{name}"),
            format!(
                "{name} may bypass the protection of {} ({}); only the policy's emergency authorizers may ({}): \
                 list the actor that stands for them in `bypass-allowed`, or remove it",
                p.branch,
                actor.source,
                authorizers(policy)
            ),
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
