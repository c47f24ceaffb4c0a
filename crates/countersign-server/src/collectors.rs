//! Forge-settings collectors (S001-06, S003-09): `branch-protection` reads a branch's
//! protection through the forge's API and compares it with the policy. `countersign collect`
//! runs it on demand; the server's sweep runs it on the policy's cadence (`[[collectors]]`),
//! once per cadence window across replicas (the window is in the entry's idempotency key).

use anyhow::Context as _;
use countersign_engine::drift::{BranchProtection, Finding, judge_protection};
use countersign_forge::webhook::Forge;
use countersign_policy::model::Policy;
use countersign_store::Evidence;
use countersign_store::evidence::{CollectedResponse, CollectorFinding, sha256_hex};
use jiff::Timestamp;

use crate::config::RepositoryConfig;
use crate::forge_api;

/// The collector's name in `[[collectors]]` and in its log entries.
pub const BRANCH_PROTECTION: &str = "branch-protection";

/// Read `branch`'s protection and judge it. Blocking (the forge's API). Returns what was read,
/// the findings, and the `collector-run` evidence to log.
pub fn branch_protection(
    config: &RepositoryConfig,
    policy: &Policy,
    branch: &str,
    now: Timestamp,
) -> anyhow::Result<(BranchProtection, Vec<Finding>, Evidence)> {
    anyhow::ensure!(
        config.forge == Forge::GitHub,
        "{}: the branch-protection collector reads GitHub only today ({} is not yet read)",
        config.name,
        config.forge.name()
    );
    let token = config
        .token
        .as_ref()
        .with_context(|| format!("{} has no `token` to read its branch protection with", config.name))?;
    let api_url = config
        .api_url
        .clone()
        .or_else(|| forge_api::default_api_url(config.forge).map(str::to_owned))
        .context("no api-url")?;
    let client = forge_api::Client::new(config.forge, &api_url, &config.name, token.value(), now.as_second());
    let (protection, raw) = client
        .branch_protection(branch)
        .with_context(|| format!("cannot read the protection of {}:{branch}", config.name))?;
    let findings = judge_protection(policy, &protection);
    let evidence = Evidence::CollectorRun {
        collector: BRANCH_PROTECTION.into(),
        repository: config.name.clone(),
        branch: Some(branch.to_owned()),
        responses: vec![CollectedResponse { path: raw.path, status: raw.status, sha256: sha256_hex(&raw.body) }],
        findings: findings.iter().map(|f| CollectorFinding { id: f.id.clone(), message: f.message.clone() }).collect(),
    };
    Ok((protection, findings, evidence))
}

/// The branches a collector reads: the policy's protected ones, else `main`.
pub fn protected_branches(policy: &Policy) -> Vec<String> {
    if policy.branch.protected.is_empty() { vec!["main".to_owned()] } else { policy.branch.protected.clone() }
}

/// The cadence window `now` falls in, for a `[[collectors]] cadence`: the day (`daily`, and
/// anything not understood), the ISO week (`weekly`) or the month (`monthly`), in UTC.
pub fn window(cadence: &str, now: Timestamp) -> String {
    let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    match cadence.trim().to_ascii_lowercase().as_str() {
        "weekly" => {
            let week = date.iso_week_date();
            format!("{}-W{:02}", week.year(), week.week())
        }
        "monthly" => format!("{}-{:02}", date.year(), date.month()),
        _ => date.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_the_cadence() {
        let t: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(window("daily", t), "2026-12-01");
        assert_eq!(window("weekly", t), "2026-W49");
        assert_eq!(window("monthly", t), "2026-12");
        assert_eq!(window("hourly?", t), "2026-12-01");
    }
}
