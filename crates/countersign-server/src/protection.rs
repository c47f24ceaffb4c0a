//! What the forges answer about a branch's protection, read into the engine's
//! forge-independent [`BranchProtection`] (S001-06, S003-08, S003-09). Serde types for the
//! wire, converted by hand; pure (the collector does the requests, `forge_api` the HTTP).
//!
//! - GitHub: classic protection (`GET /repos/{o}/{r}/branches/{b}/protection`) layered with
//!   the active ruleset rules that apply to the branch (`GET /repos/{o}/{r}/rules/branches/{b}`)
//!   and the bypass actors of the rulesets those rules come from (`GET …/rulesets/{id}`).
//!   GitHub applies both layers and the most restrictive wins, so [`layered`] keeps, for each
//!   setting, the stricter of the two.
//! - GitLab: the protected branch rules that match the branch (`GET /projects/:id/
//!   protected_branches`, exact names and `*` wildcards), the approval rules that apply to it
//!   (`GET /projects/:id/approval_rules`, Premium) and the external status checks that apply to
//!   it (`GET /projects/:id/external_status_checks`), which are GitLab's required checks.
//! - Gitea and Forgejo: the branch protection rule that applies (`GET /repos/{o}/{r}/
//!   branch_protections`: the rule named as the branch, else the first glob rule that matches,
//!   in the order the forge lists them, which is their priority).

use countersign_engine::drift::{BranchProtection, BypassActor};
use serde::Deserialize;

/// An answer that is not the JSON expected.
#[derive(Debug, thiserror::Error)]
#[error("{path} did not answer {what}: {message}")]
pub struct WireError {
    pub path: String,
    pub what: &'static str,
    pub message: String,
}

fn parse<T: serde::de::DeserializeOwned>(path: &str, body: &[u8], what: &'static str) -> Result<T, WireError> {
    serde_json::from_slice(body).map_err(|e| WireError { path: path.to_owned(), what, message: e.to_string() })
}

/// The stricter of two layers of protection on one branch (GitHub's classic protection and
/// its rulesets): a setting that blocks something in either layer blocks it; required
/// checks add up; the higher approval count holds; bypass actors of both layers can bypass.
pub fn layered(a: BranchProtection, b: BranchProtection) -> BranchProtection {
    if !a.protected {
        return BranchProtection { branch: a.branch, ..b };
    }
    if !b.protected {
        return a;
    }
    // `allowed`: a permission, so `Some(false)` in either layer wins; `required`: a
    // requirement, so `Some(true)` wins.
    let allowed = |x: Option<bool>, y: Option<bool>| match (x, y) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (x, y) => x.or(y),
    };
    let required = |x: Option<bool>, y: Option<bool>| match (x, y) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (x, y) => x.or(y),
    };
    let mut required_checks = a.required_checks;
    for check in b.required_checks {
        if !required_checks.contains(&check) {
            required_checks.push(check);
        }
    }
    let mut bypass_actors = a.bypass_actors;
    for actor in b.bypass_actors {
        if !bypass_actors.iter().any(|known| known.name() == actor.name()) {
            bypass_actors.push(actor);
        }
    }
    BranchProtection {
        branch: a.branch,
        protected: true,
        required_checks,
        required_approvals: a.required_approvals.max(b.required_approvals),
        enforce_admins: required(a.enforce_admins, b.enforce_admins),
        allow_force_pushes: allowed(a.allow_force_pushes, b.allow_force_pushes),
        allow_deletions: allowed(a.allow_deletions, b.allow_deletions),
        required_signatures: required(a.required_signatures, b.required_signatures),
        direct_pushes: allowed(a.direct_pushes, b.direct_pushes),
        code_owner_reviews: required(a.code_owner_reviews, b.code_owner_reviews),
        bypass_actors,
    }
}

// --- GitHub ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Deserialize)]
struct ClassicChecks {
    #[serde(default)]
    contexts: Vec<String>,
    #[serde(default)]
    checks: Vec<ClassicCheck>,
}

#[derive(Deserialize)]
struct ClassicCheck {
    context: String,
}

#[derive(Deserialize)]
struct Login {
    login: String,
}

#[derive(Deserialize)]
struct Slug {
    slug: String,
}

#[derive(Deserialize, Default)]
struct Allowances {
    #[serde(default)]
    users: Vec<Login>,
    #[serde(default)]
    teams: Vec<Slug>,
    #[serde(default)]
    apps: Vec<Slug>,
}

#[derive(Deserialize)]
struct ClassicReviews {
    #[serde(default)]
    required_approving_review_count: Option<u32>,
    #[serde(default)]
    require_code_owner_reviews: Option<bool>,
    #[serde(default)]
    bypass_pull_request_allowances: Option<Allowances>,
}

#[derive(Deserialize)]
struct Classic {
    required_status_checks: Option<ClassicChecks>,
    required_pull_request_reviews: Option<ClassicReviews>,
    enforce_admins: Option<Enabled>,
    allow_force_pushes: Option<Enabled>,
    allow_deletions: Option<Enabled>,
    required_signatures: Option<Enabled>,
}

/// GitHub's classic protection of `branch`, from the answer to `GET …/branches/{b}/protection`
/// (`status` 404: not protected).
pub fn github_classic(branch: &str, path: &str, status: u16, body: &[u8]) -> Result<BranchProtection, WireError> {
    let mut found = BranchProtection { branch: branch.to_owned(), ..Default::default() };
    if status == 404 {
        return Ok(found);
    }
    let p: Classic = parse(path, body, "a branch protection")?;
    found.protected = true;
    if let Some(checks) = p.required_status_checks {
        found.required_checks = checks.contexts;
        for c in checks.checks {
            if !found.required_checks.contains(&c.context) {
                found.required_checks.push(c.context);
            }
        }
    }
    // No required reviews at all is zero required approvals, and direct pushes allowed.
    found.direct_pushes = Some(p.required_pull_request_reviews.is_none());
    if let Some(reviews) = p.required_pull_request_reviews {
        found.required_approvals = Some(reviews.required_approving_review_count.unwrap_or(0));
        found.code_owner_reviews = reviews.require_code_owner_reviews;
        // Who may merge without the required reviews: bypass actors of the classic layer.
        let allowances = reviews.bypass_pull_request_allowances.unwrap_or_default();
        let actor = |actor_type: &str, id: String| BypassActor {
            actor_type: actor_type.to_owned(),
            actor_id: Some(id),
            source: "the branch protection's pull request bypass allowances".to_owned(),
        };
        found.bypass_actors.extend(allowances.users.into_iter().map(|u| actor("User", u.login)));
        found.bypass_actors.extend(allowances.teams.into_iter().map(|t| actor("Team", t.slug)));
        found.bypass_actors.extend(allowances.apps.into_iter().map(|a| actor("Integration", a.slug)));
    } else {
        found.required_approvals = Some(0);
    }
    found.enforce_admins = p.enforce_admins.map(|e| e.enabled);
    found.allow_force_pushes = p.allow_force_pushes.map(|e| e.enabled);
    found.allow_deletions = p.allow_deletions.map(|e| e.enabled);
    found.required_signatures = p.required_signatures.map(|e| e.enabled);
    Ok(found)
}

#[derive(Deserialize)]
struct RuleItem {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    ruleset_id: Option<u64>,
    #[serde(default)]
    parameters: Option<serde_json::Value>,
}

/// The rulesets the active rules applying to a branch come from (`ruleset_id`), in order,
/// each once: the ones whose bypass actors matter.
pub fn github_ruleset_ids(path: &str, body: &[u8]) -> Result<Vec<u64>, WireError> {
    let items: Vec<RuleItem> = parse(path, body, "a list of rules")?;
    let mut ids = Vec::new();
    for id in items.iter().filter_map(|i| i.ruleset_id) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// What the active ruleset rules applying to `branch` require (`GET …/rules/branches/{b}`):
/// `required_status_checks`, `pull_request` (approvals, code owners), `non_fast_forward` (no
/// force pushes), `deletion`, `required_signatures`, `update` (no pushes but by bypass
/// actors). No rule at all: the rulesets do not protect the branch.
pub fn github_rules(branch: &str, path: &str, body: &[u8]) -> Result<BranchProtection, WireError> {
    let items: Vec<RuleItem> = parse(path, body, "a list of rules")?;
    let mut found = BranchProtection { branch: branch.to_owned(), ..Default::default() };
    if items.is_empty() {
        return Ok(found);
    }
    found.protected = true;
    let has = |kind: &str| items.iter().any(|i| i.kind == kind);
    let (mut pull_request, mut code_owners) = (false, false);
    for item in &items {
        let parameters = item.parameters.as_ref();
        match item.kind.as_str() {
            "required_status_checks" => {
                let checks = parameters.and_then(|p| p["required_status_checks"].as_array()).into_iter().flatten();
                for context in checks.filter_map(|c| c["context"].as_str()) {
                    if !found.required_checks.iter().any(|known| known == context) {
                        found.required_checks.push(context.to_owned());
                    }
                }
            }
            "pull_request" => {
                pull_request = true;
                let count = parameters.and_then(|p| p["required_approving_review_count"].as_u64()).unwrap_or(0);
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                found.required_approvals = Some(found.required_approvals.map_or(count, |n| n.max(count)));
                code_owners |= parameters.and_then(|p| p["require_code_owner_review"].as_bool()).unwrap_or(false);
            }
            _ => {}
        }
    }
    found.required_approvals = found.required_approvals.or(Some(0));
    found.code_owner_reviews = Some(code_owners);
    found.direct_pushes = Some(!(pull_request || has("update")));
    found.allow_force_pushes = Some(!has("non_fast_forward"));
    found.allow_deletions = Some(!has("deletion"));
    found.required_signatures = Some(has("required_signatures"));
    Ok(found)
}

#[derive(Deserialize)]
struct Ruleset {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    bypass_actors: Vec<RulesetBypass>,
}

#[derive(Deserialize)]
struct RulesetBypass {
    #[serde(default)]
    actor_id: Option<u64>,
    actor_type: String,
}

/// The bypass actors of one ruleset (`GET …/rulesets/{id}`). GitHub lists them only to
/// those who may administer the ruleset; a token that may not sees none.
pub fn github_ruleset_bypass(path: &str, body: &[u8]) -> Result<Vec<BypassActor>, WireError> {
    let ruleset: Ruleset = parse(path, body, "a ruleset")?;
    let source = match &ruleset.name {
        Some(name) => format!("ruleset {} {name:?}", ruleset.id),
        None => format!("ruleset {}", ruleset.id),
    };
    Ok(ruleset
        .bypass_actors
        .into_iter()
        .map(|b| BypassActor {
            // GitHub ignores the id of an organization admin, and a deploy key has none.
            actor_id: b
                .actor_id
                .filter(|_| !matches!(b.actor_type.as_str(), "OrganizationAdmin" | "DeployKey"))
                .map(|id| id.to_string()),
            actor_type: b.actor_type,
            source: source.clone(),
        })
        .collect())
}

// --- GitLab ---------------------------------------------------------------------------------

/// Whether a GitLab protected-branch name (`main`, `release/*`) or a Gitea/Forgejo rule name
/// matches `branch`. `*` matches any run of characters; on Gitea (`star_crosses_slash`
/// false) it stops at `/` and `**` crosses it.
pub fn glob_matches(pattern: &str, branch: &str, star_crosses_slash: bool) -> bool {
    fn go(p: &[u8], b: &[u8], cross: bool) -> bool {
        match p {
            [] => b.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=b.len()).any(|i| go(rest, &b[i..], cross)),
            [b'*', rest @ ..] => {
                (0..=b.len()).take_while(|&i| i == 0 || cross || b[i - 1] != b'/').any(|i| go(rest, &b[i..], cross))
            }
            [c, rest @ ..] => b.first() == Some(c) && go(rest, &b[1..], cross),
        }
    }
    go(pattern.as_bytes(), branch.as_bytes(), star_crosses_slash)
}

#[derive(Deserialize)]
struct AccessLevel {
    #[serde(default)]
    access_level: Option<u32>,
    #[serde(default)]
    user_id: Option<u64>,
    #[serde(default)]
    group_id: Option<u64>,
    #[serde(default)]
    deploy_key_id: Option<u64>,
}

#[derive(Deserialize)]
struct ProtectedBranch {
    name: String,
    #[serde(default)]
    push_access_levels: Vec<AccessLevel>,
    #[serde(default)]
    allow_force_push: Option<bool>,
    #[serde(default)]
    code_owner_approval_required: Option<bool>,
}

/// GitLab's protected branch rules for `branch` (`GET /projects/:id/protected_branches`): the
/// rules whose name is the branch or a wildcard matching it. When several match, GitLab lets
/// through what any of them allows, so a permission in one holds. Push access given to a
/// role other than "No one" (access level 0) is a direct push; to a user, group or deploy key
/// it is a bypass actor. Returns the protection and the names of the matching rules.
pub fn gitlab_protected(branch: &str, path: &str, body: &[u8]) -> Result<(BranchProtection, Vec<String>), WireError> {
    let rules: Vec<ProtectedBranch> = parse(path, body, "a list of protected branches")?;
    let mut found = BranchProtection { branch: branch.to_owned(), ..Default::default() };
    let matching: Vec<&ProtectedBranch> = rules.iter().filter(|r| glob_matches(&r.name, branch, true)).collect();
    if matching.is_empty() {
        return Ok((found, Vec::new()));
    }
    found.protected = true;
    found.allow_force_pushes = Some(matching.iter().any(|r| r.allow_force_push == Some(true)));
    // Deleting a protected branch takes a maintainer through the UI or the API; GitLab does
    // not let pushes delete it.
    found.allow_deletions = Some(false);
    found.code_owner_reviews = Some(matching.iter().all(|r| r.code_owner_approval_required == Some(true)));
    let mut direct = false;
    for rule in &matching {
        for level in &rule.push_access_levels {
            let source = format!("protected branch rule {:?}", rule.name);
            let actor = |actor_type: &str, id: u64| BypassActor {
                actor_type: actor_type.to_owned(),
                actor_id: Some(id.to_string()),
                source: source.clone(),
            };
            let named = match (level.deploy_key_id, level.user_id, level.group_id) {
                (Some(id), _, _) => Some(actor("DeployKey", id)),
                (_, Some(id), _) => Some(actor("User", id)),
                (_, _, Some(id)) => Some(actor("Group", id)),
                _ => None,
            };
            match named {
                Some(actor) if !found.bypass_actors.iter().any(|a| a.name() == actor.name()) => {
                    found.bypass_actors.push(actor)
                }
                Some(_) => {}
                None => direct |= level.access_level.is_some_and(|l| l > 0),
            }
        }
    }
    found.direct_pushes = Some(direct);
    Ok((found, matching.iter().map(|r| r.name.clone()).collect()))
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct ApprovalRule {
    #[serde(default)]
    approvals_required: u32,
    #[serde(default)]
    applies_to_all_protected_branches: bool,
    #[serde(default)]
    protected_branches: Vec<Named>,
}

/// The approvals GitLab requires on `branch` (`GET /projects/:id/approval_rules`): the highest
/// count among the rules that apply to it (every protected branch, no branch scope, or one of
/// the protected branch rules `rules` that match it). A 404 (a tier without approval rules)
/// is none.
pub fn gitlab_approvals(rules: &[String], path: &str, status: u16, body: &[u8]) -> Result<u32, WireError> {
    if status == 404 {
        return Ok(0);
    }
    let approval_rules: Vec<ApprovalRule> = parse(path, body, "a list of approval rules")?;
    Ok(approval_rules
        .iter()
        .filter(|r| {
            r.applies_to_all_protected_branches
                || r.protected_branches.is_empty()
                || r.protected_branches.iter().any(|b| rules.contains(&b.name))
        })
        .map(|r| r.approvals_required)
        .max()
        .unwrap_or(0))
}

#[derive(Deserialize)]
struct ExternalCheck {
    name: String,
    #[serde(default)]
    protected_branches: Vec<Named>,
}

/// The external status checks GitLab requires on `branch` (`GET /projects/:id/
/// external_status_checks`): those with no branch scope, or scoped to a protected branch rule
/// in `rules`. A 404 (a tier without them) is none.
pub fn gitlab_status_checks(rules: &[String], path: &str, status: u16, body: &[u8]) -> Result<Vec<String>, WireError> {
    if status == 404 {
        return Ok(Vec::new());
    }
    let checks: Vec<ExternalCheck> = parse(path, body, "a list of external status checks")?;
    Ok(checks
        .into_iter()
        .filter(|c| c.protected_branches.is_empty() || c.protected_branches.iter().any(|b| rules.contains(&b.name)))
        .map(|c| c.name)
        .collect())
}

// --- Gitea and Forgejo ----------------------------------------------------------------------

#[derive(Deserialize)]
struct GiteaRule {
    #[serde(default)]
    rule_name: Option<String>,
    #[serde(default)]
    branch_name: Option<String>,
    #[serde(default)]
    enable_push: bool,
    #[serde(default)]
    enable_push_whitelist: bool,
    #[serde(default)]
    push_whitelist_usernames: Option<Vec<String>>,
    #[serde(default)]
    push_whitelist_teams: Option<Vec<String>>,
    #[serde(default)]
    push_whitelist_deploy_keys: bool,
    #[serde(default)]
    enable_force_push: Option<bool>,
    #[serde(default)]
    enable_force_push_allowlist: Option<bool>,
    #[serde(default)]
    enable_status_check: bool,
    #[serde(default)]
    status_check_contexts: Option<Vec<String>>,
    #[serde(default)]
    required_approvals: u32,
    #[serde(default)]
    require_signed_commits: bool,
    #[serde(default)]
    block_admin_merge_override: Option<bool>,
}

/// The Gitea/Forgejo branch protection rule that applies to `branch` (`GET /repos/{o}/{r}/
/// branch_protections`): the one named as the branch, else the first glob rule matching it.
/// Pushing enabled for everyone with write access is a direct push; the push allow-list's
/// users, teams and deploy keys are bypass actors. Force pushes are allowed when enabled for
/// everyone (`enable_force_push` without its allow-list; Gitea before 1.22 has neither field,
/// and never let force pushes through a protected branch). Gitea's protected branches cannot
/// be deleted.
pub fn gitea(branch: &str, path: &str, body: &[u8]) -> Result<BranchProtection, WireError> {
    let rules: Vec<GiteaRule> = parse(path, body, "a list of branch protections")?;
    let mut found = BranchProtection { branch: branch.to_owned(), ..Default::default() };
    let name = |r: &GiteaRule| r.rule_name.clone().or_else(|| r.branch_name.clone()).unwrap_or_default();
    let Some(rule) = rules
        .iter()
        .find(|r| name(r) == branch)
        .or_else(|| rules.iter().find(|r| glob_matches(&name(r), branch, false)))
    else {
        return Ok(found);
    };
    let source = format!("branch protection rule {:?}", name(rule));
    found.protected = true;
    found.required_checks =
        if rule.enable_status_check { rule.status_check_contexts.clone().unwrap_or_default() } else { Vec::new() };
    found.required_approvals = Some(rule.required_approvals);
    found.required_signatures = Some(rule.require_signed_commits);
    found.allow_deletions = Some(false);
    found.allow_force_pushes =
        Some(rule.enable_force_push == Some(true) && rule.enable_force_push_allowlist != Some(true));
    // An administrator may merge without the approvals unless the rule blocks it.
    found.enforce_admins = rule.block_admin_merge_override;
    found.direct_pushes = Some(rule.enable_push && !rule.enable_push_whitelist);
    if rule.enable_push && rule.enable_push_whitelist {
        let actor = |actor_type: &str, id: Option<String>| BypassActor {
            actor_type: actor_type.to_owned(),
            actor_id: id,
            source: source.clone(),
        };
        let users = rule.push_whitelist_usernames.iter().flatten();
        found.bypass_actors.extend(users.map(|u| actor("User", Some(u.clone()))));
        let teams = rule.push_whitelist_teams.iter().flatten();
        found.bypass_actors.extend(teams.map(|t| actor("Team", Some(t.clone()))));
        if rule.push_whitelist_deploy_keys {
            found.bypass_actors.push(actor("DeployKey", None));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection(branch: &str) -> BranchProtection {
        BranchProtection { branch: branch.into(), protected: true, ..Default::default() }
    }

    #[test]
    fn layers_keep_the_stricter_setting() {
        let classic = BranchProtection {
            required_checks: vec!["build".into()],
            required_approvals: Some(1),
            allow_force_pushes: Some(true),
            required_signatures: Some(false),
            direct_pushes: Some(false),
            ..protection("main")
        };
        let rules = BranchProtection {
            required_checks: vec!["build".into(), "scan".into()],
            required_approvals: Some(2),
            allow_force_pushes: Some(false),
            required_signatures: Some(true),
            direct_pushes: Some(true),
            ..protection("main")
        };
        let both = layered(classic.clone(), rules.clone());
        assert_eq!(both.required_checks, ["build", "scan"]);
        assert_eq!(both.required_approvals, Some(2));
        assert_eq!(both.allow_force_pushes, Some(false));
        assert_eq!(both.required_signatures, Some(true));
        assert_eq!(both.direct_pushes, Some(false));
        // A layer that does not protect the branch adds nothing.
        assert_eq!(layered(BranchProtection { branch: "main".into(), ..Default::default() }, rules.clone()), rules);
        assert_eq!(layered(classic.clone(), BranchProtection::default()), classic);
    }

    #[test]
    fn globs_match_as_each_forge_does() {
        assert!(glob_matches("main", "main", true));
        assert!(!glob_matches("main", "main2", true));
        assert!(glob_matches("release/*", "release/1.0", true));
        assert!(glob_matches("*-stable", "production-stable", true));
        assert!(glob_matches("*", "feature/x", true));
        assert!(!glob_matches("*", "feature/x", false));
        assert!(glob_matches("**", "feature/x", false));
        assert!(glob_matches("release/*", "release/1.0", false));
    }
}
