//! Forge-settings collectors (S001-06, S003-08, S003-09): `branch-protection` reads a
//! branch's protection through the forge's API (GitHub classic protection and rulesets,
//! GitLab protected branches, approval rules and external status checks, Gitea/Forgejo
//! branch protection rules; see [`crate::protection`]) and compares it with the policy.
//! `countersign collect` runs it on demand; the server's sweep runs it on the policy's
//! cadence (`[[collectors]]`), once per cadence window across replicas (the window is in the
//! entry's idempotency key), and a delivery saying the protection changed runs it at once
//! ([`COLLECT`] jobs).

use anyhow::Context as _;
use countersign_engine::drift::{Allowances, BranchProtection, Finding, judge_protection};
use countersign_forge::webhook::Forge;
use countersign_policy::model::Policy;
use countersign_store::Evidence;
use countersign_store::evidence::{CollectedResponse, CollectorFinding, sha256_hex};
use jiff::Timestamp;

use crate::config::RepositoryConfig;
use crate::forge_api::{self, RawAnswer};
use crate::protection;

/// The collector's name in `[[collectors]]` and in its log entries.
pub const BRANCH_PROTECTION: &str = "branch-protection";

/// The job kind that runs the branch-protection collector of one repository at once (a
/// delivery said its protection or rulesets changed).
pub const COLLECT: &str = "collect";

/// The payload of a [`COLLECT`] job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CollectJob {
    pub repository: String,
    /// The delivery that asked for it, named in the log.
    pub delivery: String,
}

/// The [`COLLECT`] job for `repository`, `delay` from now: one row per repository, so a burst
/// of protection changes coalesces into one run.
pub fn collect_job(
    state: &crate::AppState,
    repository: &str,
    delivery: &str,
    delay: std::time::Duration,
) -> anyhow::Result<countersign_store::NewJob> {
    let payload =
        serde_json::to_string(&CollectJob { repository: repository.to_owned(), delivery: delivery.to_owned() })?;
    Ok(countersign_store::NewJob {
        key: format!("{COLLECT}:{repository}"),
        kind: COLLECT.to_owned(),
        payload,
        run_after: ((state.clock)() + delay).as_millisecond(),
    })
}

/// Read `branch`'s protection and judge it. Blocking (the forge's API). Returns what was read,
/// the findings, and the `collector-run` evidence to log: every answer read, by SHA-256.
pub fn branch_protection(
    config: &RepositoryConfig,
    policy: &Policy,
    branch: &str,
    now: Timestamp,
) -> anyhow::Result<(BranchProtection, Vec<Finding>, Evidence)> {
    let token = config
        .token
        .as_ref()
        .with_context(|| format!("{} has no `token` to read its branch protection with", config.name))?;
    let api_url = config.api_url.clone().or_else(|| forge_api::default_api_url(config.forge).map(str::to_owned));
    let api_url = api_url.with_context(|| {
        format!("{} has no `api-url` ({} is self-hosted: name its API root)", config.name, config.forge.name())
    })?;
    let client = forge_api::Client::new(config.forge, &api_url, &config.name, token.value(), now.as_second());
    let mut answers = Vec::new();
    let protection = read(&client, config.forge, branch, &mut answers)
        .with_context(|| format!("cannot read the protection of {}:{branch}", config.name))?;
    let findings = judge_protection(policy, &protection, &Allowances { bypass_actors: &config.bypass_allowed });
    let evidence = Evidence::CollectorRun {
        collector: BRANCH_PROTECTION.into(),
        repository: config.name.clone(),
        branch: Some(branch.to_owned()),
        responses: answers
            .iter()
            .map(|raw| CollectedResponse { path: raw.path.clone(), status: raw.status, sha256: sha256_hex(&raw.body) })
            .collect(),
        findings: findings.iter().map(|f| CollectorFinding { id: f.id.clone(), message: f.message.clone() }).collect(),
        snapshot: None,
    };
    Ok((protection, findings, evidence))
}

/// The requests each forge needs, every answer kept in `answers` in the order read.
fn read(
    client: &forge_api::Client,
    forge: Forge,
    branch: &str,
    answers: &mut Vec<RawAnswer>,
) -> anyhow::Result<BranchProtection> {
    let repo = client.repository_path();
    let encoded = branch.replace('%', "%25").replace('/', "%2F");
    let mut get = |path: String| -> anyhow::Result<RawAnswer> {
        let raw = client.get_raw(&path)?;
        answers.push(raw.clone());
        Ok(raw)
    };
    Ok(match forge {
        Forge::GitHub => {
            let raw = get(format!("{repo}/branches/{encoded}/protection"))?;
            if raw.status == 404 && !String::from_utf8_lossy(&raw.body).contains("not protected") {
                anyhow::bail!("GitHub answered 404 {}", String::from_utf8_lossy(&raw.body));
            }
            let classic = protection::github_classic(branch, &raw.path, raw.status, &raw.body)?;
            let raw = get(format!("{repo}/rules/branches/{encoded}"))?;
            // A 404: rulesets are not available to this repository (its plan): no rules.
            let body: &[u8] = if raw.status == 404 { b"[]" } else { &raw.body };
            let mut rules = protection::github_rules(branch, &raw.path, body)?;
            for id in protection::github_ruleset_ids(&raw.path, body)? {
                let raw = get(format!("{repo}/rulesets/{id}"))?;
                anyhow::ensure!(raw.status != 404, "ruleset {id} applies to {branch} but GitHub does not show it");
                for actor in protection::github_ruleset_bypass(&raw.path, &raw.body)? {
                    if !rules.bypass_actors.iter().any(|known| known.name() == actor.name()) {
                        rules.bypass_actors.push(actor);
                    }
                }
            }
            protection::layered(classic, rules)
        }
        Forge::GitLab => {
            let raw = get(format!("{repo}/protected_branches?per_page=100"))?;
            let (mut found, rules) = protection::gitlab_protected(branch, &raw.path, &raw.body)?;
            if found.protected {
                let raw = get(format!("{repo}/approval_rules?per_page=100"))?;
                found.required_approvals =
                    Some(protection::gitlab_approvals(&rules, &raw.path, raw.status, &raw.body)?);
                let raw = get(format!("{repo}/external_status_checks?per_page=100"))?;
                found.required_checks = protection::gitlab_status_checks(&rules, &raw.path, raw.status, &raw.body)?;
            }
            found
        }
        Forge::Gitea => {
            let raw = get(format!("{repo}/branch_protections"))?;
            protection::gitea(branch, &raw.path, &raw.body)?
        }
    })
}

/// Run the branch-protection collector on `branch` and log the run under `idempotency_key`
/// (the cadence window's, or the triggering delivery's), so a window or a delivery is logged
/// once. Shared by the sweep and [`COLLECT`] jobs. Returns the number of findings.
pub async fn run_and_record(
    state: &crate::AppState,
    config: &RepositoryConfig,
    policy: std::sync::Arc<Policy>,
    branch: &str,
    idempotency_key: Option<String>,
    now: Timestamp,
) -> anyhow::Result<usize> {
    let (owned, on) = (config.clone(), branch.to_owned());
    let ran = tokio::task::spawn_blocking(move || branch_protection(&owned, &policy, &on, now)).await??;
    let (_, findings, evidence) = ran;
    state
        .store
        .record(&countersign_store::RecordRequest {
            change: None,
            recorded_by: crate::reminders::COLLECTOR_RECORDER.into(),
            recorded_at: countersign_store::whole_second(now),
            idempotency_key,
            evidence,
        })
        .await?;
    tracing::info!(repository = %config.name, %branch, findings = findings.len(), "branch protection collected");
    Ok(findings.len())
}

/// Run the branch-protection collector of one repository at once, on each protected branch
/// of its policy (read from its `git-dir`'s default branch), because `job.delivery` said its
/// protection or rulesets changed. Each run is logged once per delivery and branch.
pub async fn collect_now(state: &crate::AppState, job: &CollectJob) -> anyhow::Result<usize> {
    let now = (state.clock)();
    let Some(config) = state.config.repositories.iter().find(|r| r.name.eq_ignore_ascii_case(&job.repository)) else {
        tracing::warn!(repository = %job.repository, "a protection change for a repository no longer served");
        return Ok(0);
    };
    let Some(git_dir) = config.git_dir.clone() else {
        tracing::warn!(repository = %config.name, "no git-dir: the policy to judge the protection with is unknown");
        return Ok(0);
    };
    let (core, handle, owned) = (state.store.clone(), tokio::runtime::Handle::current(), config.clone());
    let opened = tokio::task::spawn_blocking(move || {
        let store = countersign_store::Store::on_runtime(core, handle);
        crate::governed::open(&store, &owned, &git_dir, now).map(|g| g.map(|g| g.policy))
    })
    .await??;
    let policy = match opened {
        Ok(policy) => std::sync::Arc::new(policy),
        Err(why) => {
            tracing::warn!(repository = %config.name, problem = %why, "cannot read the policy; protection not collected");
            return Ok(0);
        }
    };
    let mut runs = 0;
    for branch in protected_branches(&policy) {
        let key = run_key(BRANCH_PROTECTION, &config.name, &format!("{branch}:{}", job.delivery));
        if state.store.idempotent_entry(&key).await?.is_some() {
            continue;
        }
        run_and_record(state, config, policy.clone(), &branch, Some(key), now).await?;
        runs += 1;
    }
    Ok(runs)
}

/// The branches a collector reads: the policy's protected ones, else `main`.
pub fn protected_branches(policy: &Policy) -> Vec<String> {
    if policy.branch.protected.is_empty() { vec!["main".to_owned()] } else { policy.branch.protected.clone() }
}

/// The activity collectors (S001-06): each run is a signed snapshot of one complete cadence
/// window, the changes merged into the default branch (`merge-activity`) or the deploys
/// recorded (`deployments`), so an auditor can sample a day or a week as it was seen then.
pub const MERGE_ACTIVITY: &str = "merge-activity";
pub const DEPLOYMENTS: &str = "deployments";

/// The cadence a collector runs on when the policy names none for it.
pub fn default_cadence(collector: &str) -> &'static str {
    if collector == DEPLOYMENTS { "weekly" } else { "daily" }
}

/// Where the cadence window `now` falls in starts: midnight UTC of the day, of the ISO
/// week's Monday (`weekly`) or of the month's first day (`monthly`).
pub fn window_start(cadence: &str, now: Timestamp) -> Timestamp {
    let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let first = match cadence.trim().to_ascii_lowercase().as_str() {
        "weekly" => {
            date.checked_sub(jiff::Span::new().days(i64::from(date.weekday().to_monday_zero_offset()))).unwrap_or(date)
        }
        "monthly" => date.first_of_month(),
        _ => date,
    };
    first.to_zoned(jiff::tz::TimeZone::UTC).map_or(now, |z| z.timestamp())
}

/// The last complete window before the one `now` falls in: its name (as [`window`] names
/// it) and its span `[from, to)`. An activity collector snapshots this one, so that nothing
/// can still happen in the window it signs.
pub fn previous_window(cadence: &str, now: Timestamp) -> (String, Timestamp, Timestamp) {
    let to = window_start(cadence, now);
    let from = window_start(cadence, to - jiff::SignedDuration::from_secs(1));
    (window(cadence, from), from, to)
}

/// The idempotency key of a collector's run: one entry per collector, repository and
/// `scope` whoever runs it (the server's sweep on any replica, or `countersign collect`).
/// The scope is the window for an activity snapshot, `branch:window` for a scheduled
/// protection read, `branch:delivery` for one a webhook asked for.
pub fn run_key(collector: &str, repository: &str, scope: &str) -> String {
    format!("collector:{collector}:{repository}:{scope}")
}

/// An activity collector's snapshot over `[from, to)`: for `merge-activity` the changes among
/// `evals` (the default branch judged, console changes left out) whose time falls in the
/// window, with their category and verdict; for `deployments` the `deploys` recorded for
/// `repository` (or for no repository in particular) completed in the window. `changes`
/// give each merge its head commit.
pub fn activity_snapshot(
    collector: &str,
    repository: &str,
    (from, to): (Timestamp, Timestamp),
    changes: &[countersign_engine::change::Change],
    evals: &[countersign_engine::Evaluation],
    deploys: &[countersign_store::RecordedEvidence],
) -> countersign_store::evidence::ActivitySnapshot {
    use countersign_store::evidence::{ActivitySnapshot, DeployStatus, SnapshotDeploy, SnapshotMerge};
    let within = |t: Timestamp| t >= from && t < to;
    let mut snapshot = ActivitySnapshot { from, to, merges: Vec::new(), deploys: Vec::new() };
    if collector == MERGE_ACTIVITY {
        let heads: std::collections::HashMap<&str, &str> =
            changes.iter().filter_map(|c| Some((c.id.as_str(), c.head_commit.as_deref()?))).collect();
        snapshot.merges = evals
            .iter()
            .filter(|e| !e.change.id.starts_with("console:"))
            .filter_map(|e| Some((e, e.change.time.filter(|t| within(*t))?)))
            .map(|(e, merged_at)| SnapshotMerge {
                change: e.change.id.clone(),
                head_commit: heads.get(e.change.id.as_str()).map(|c| (*c).to_owned()),
                author: e.change.author.clone(),
                merged_at,
                category: e.category.id.clone(),
                verdict: e.verdict.as_str().to_owned(),
            })
            .collect();
        snapshot.merges.sort_by(|a, b| (a.merged_at, &a.change).cmp(&(b.merged_at, &b.change)));
    } else {
        snapshot.deploys = deploys
            .iter()
            .filter_map(|d| match &d.evidence {
                Evidence::Deploy { environment, commit, deployed_at, status, repository: of, .. }
                    if of.as_deref().is_none_or(|of| of == repository) =>
                {
                    let at = deployed_at.unwrap_or(d.recorded_at);
                    within(at).then(|| SnapshotDeploy {
                        entry: d.index,
                        environment: environment.clone(),
                        commit: commit.clone(),
                        status: status.unwrap_or(DeployStatus::Success),
                        deployed_at: at,
                    })
                }
                _ => None,
            })
            .collect();
    }
    snapshot
}

/// The `collector-run` entry of an activity snapshot.
pub fn activity_run(
    collector: &str,
    repository: &str,
    snapshot: countersign_store::evidence::ActivitySnapshot,
) -> Evidence {
    Evidence::CollectorRun {
        collector: collector.to_owned(),
        repository: repository.to_owned(),
        branch: None,
        responses: Vec::new(),
        findings: Vec::new(),
        snapshot: Some(snapshot),
    }
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
    fn s001_06_activity_collectors_snapshot_the_last_complete_window() {
        let t: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap(); // a Wednesday
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            previous_window("daily", t),
            ("2026-12-01".to_owned(), at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"))
        );
        assert_eq!(
            previous_window("weekly", t),
            ("2026-W48".to_owned(), at("2026-11-23T00:00:00Z"), at("2026-11-30T00:00:00Z"))
        );
        assert_eq!(
            previous_window("monthly", t),
            ("2026-11".to_owned(), at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"))
        );
        // At the very start of a window, the one before is complete.
        assert_eq!(previous_window("daily", at("2026-12-02T00:00:00Z")).0, "2026-12-01");
    }

    #[test]
    fn windows_follow_the_cadence() {
        let t: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(window("daily", t), "2026-12-01");
        assert_eq!(window("weekly", t), "2026-W49");
        assert_eq!(window("monthly", t), "2026-12");
        assert_eq!(window("hourly?", t), "2026-12-01");
    }
}
