//! A period's figures, gathered once for `countersign report` and the server's dashboard
//! (`/dashboard`, and the DORA gauges of `/metrics`): each mapped control's pass rate, the
//! emergencies with their obligations on a timeline, the forge-settings collectors' runs
//! with the drift each opened and fixed, and DORA's metrics, over the whole period and month
//! by month.
//!
//! It reads the store and a judged history (the changes of a walk and their evaluations,
//! index for index); the figures themselves are the engine's (`metrics::dora`,
//! `obligations::state_of`). No clock: the period and "now" are inputs.

use std::collections::BTreeMap;

use countersign_engine::change::Change;
use countersign_engine::evaluate::control_covers;
use countersign_engine::metrics::{DeployFact, Dora, IncidentFact, ShippedChange, reverted_commit};
use countersign_engine::obligations::ObligationState;
use countersign_engine::report::{Evaluation, Status, Verdict};
use countersign_policy::model::{ControlMapping, Policy};
use countersign_store::evidence::{CollectorFinding, DeployStatus};
use countersign_store::{Evidence, Store, StoreError};
use jiff::Timestamp;
use serde::Serialize;

/// One mapped control's pass rate over the changes that had a requirement implementing it.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub framework: String,
    pub id: String,
    pub description: Option<String>,
    pub requirements: Vec<String>,
    /// Changes that had a requirement implementing the control.
    pub changes: usize,
    /// Of those, the changes where every such requirement was met or waived.
    pub passed: usize,
    /// `passed / changes`, absent when no change had such a requirement.
    pub pass_rate: Option<f64>,
    /// The changes that failed it.
    pub failed: Vec<String>,
}

/// A control's pass rate over `evals`.
pub fn control_result(c: &ControlMapping, evals: &[Evaluation]) -> ControlResult {
    let (mut changes, mut passed, mut failed) = (0, 0, Vec::new());
    for e in evals {
        let covered: Vec<_> =
            e.requirements.iter().filter(|r| c.requirements.iter().any(|w| control_covers(w, &r.id))).collect();
        if covered.is_empty() {
            continue;
        }
        changes += 1;
        if covered.iter().all(|r| matches!(r.status, Status::Met | Status::Waived)) {
            passed += 1;
        } else {
            failed.push(e.change.id.clone());
        }
    }
    ControlResult {
        framework: c.framework.clone(),
        id: c.id.clone(),
        description: c.description.clone(),
        requirements: c.requirements.clone(),
        changes,
        passed,
        pass_rate: (changes > 0).then(|| passed as f64 / changes as f64),
        failed,
    }
}

/// An emergency change and what it owed, for the timeline: when it landed, and each
/// obligation's deadline and fulfilment.
#[derive(Debug, Clone, Serialize)]
pub struct Emergency {
    pub change: String,
    pub title: String,
    pub verdict: Verdict,
    pub authorized_by: Vec<String>,
    /// When the change landed (its committer time): the obligations' clock starts here.
    pub declared_at: Option<Timestamp>,
    pub obligations: Vec<TimelineObligation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineObligation {
    /// The policy's obligation id.
    pub obligation: String,
    pub description: String,
    pub due: Option<Timestamp>,
    /// When the fulfilment was made (a recorded `--at`, a follow-up change's time); absent
    /// while open, or when the fulfilment states no time.
    pub fulfilled_at: Option<Timestamp>,
    pub state: ObligationState,
}

impl TimelineObligation {
    /// `on time`, `late` or `open`: what the timeline draws.
    pub fn outcome(&self) -> &'static str {
        match self.state {
            ObligationState::Fulfilled => "on time",
            ObligationState::FulfilledLate => "late",
            ObligationState::Overdue | ObligationState::DueSoon | ObligationState::Pending => "open",
        }
    }
}

/// The emergencies among `evals` (index for index with `changes`; changes beyond
/// `changes` have no fulfilments to read), with their obligations' states as of `now`.
pub fn emergencies(
    changes: &[Change],
    evals: &[Evaluation],
    now: Timestamp,
    due_soon: jiff::SignedDuration,
) -> Vec<Emergency> {
    evals
        .iter()
        .enumerate()
        .filter(|(_, e)| e.emergency)
        .map(|(i, e)| {
            let change = changes.get(i);
            let obligations = e
                .requirements
                .iter()
                .filter_map(|r| {
                    let state = countersign_engine::obligations::state_of(r, now, due_soon)?;
                    let obligation = r.id.trim_start_matches("obligation:").to_owned();
                    let fulfilled_at = change
                        .and_then(|c| c.fulfilments.iter().find(|f| f.obligation == obligation))
                        .and_then(|f| f.time)
                        .filter(|_| !state.open());
                    Some(TimelineObligation {
                        obligation,
                        description: r.description.clone(),
                        due: r.due,
                        fulfilled_at,
                        state,
                    })
                })
                .collect();
            Emergency {
                change: e.change.id.clone(),
                title: e.change.title.clone(),
                verdict: e.verdict,
                authorized_by: e.emergency_authorizations.iter().map(|a| a.by.clone()).collect(),
                declared_at: change.and_then(|c| c.time),
                obligations,
            }
        })
        .collect()
}

/// The latest collector run for one repository and branch: what it found short of the
/// policy (empty: no drift).
#[derive(Debug, Clone, Serialize)]
pub struct DriftState {
    pub collector: String,
    pub repository: String,
    pub branch: Option<String>,
    pub entry: u64,
    pub checked_at: Timestamp,
    pub findings: Vec<CollectorFinding>,
}

/// One collector run in the period, with the drift it opened (findings the run before it
/// on the same repository and branch did not have) and fixed (the other way round).
#[derive(Debug, Clone, Serialize)]
pub struct DriftRun {
    pub collector: String,
    pub repository: String,
    pub branch: Option<String>,
    pub entry: u64,
    pub checked_at: Timestamp,
    /// The finding ids of this run.
    pub findings: Vec<String>,
    pub opened: Vec<String>,
    pub fixed: Vec<String>,
}

/// The forge settings over a period: the latest state before its end, and every run in it.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    pub latest: Vec<DriftState>,
    pub history: Vec<DriftRun>,
    /// The activity collectors' snapshots whose window starts in the period.
    pub snapshots: Vec<SnapshotRun>,
}

/// One activity collector's signed snapshot (`merge-activity`, `deployments`), summed up.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotRun {
    pub collector: String,
    pub repository: String,
    pub entry: u64,
    /// The window it covers, `[from, to)`.
    pub from: Timestamp,
    pub to: Timestamp,
    pub merges: usize,
    pub deploys: usize,
    pub taken_at: Timestamp,
}

/// The collector runs in the log: the latest before `to` for each collector, repository and
/// branch, and the runs in `[from, to)` with what each opened and fixed (a run before the
/// period gives the state it started from). With `repository`, only that repository's.
pub fn drift(store: &Store, repository: Option<&str>, from: Timestamp, to: Timestamp) -> Result<Drift, StoreError> {
    type Key = (String, String, Option<String>);
    let mut latest: BTreeMap<Key, DriftState> = BTreeMap::new();
    let mut history = Vec::new();
    let mut snapshots = Vec::new();
    for e in store.evidence_of_kinds(&["collector-run"])? {
        let Evidence::CollectorRun { collector, repository: repo, branch, findings, snapshot, .. } = &e.evidence else {
            continue;
        };
        if repository.is_some_and(|r| r != repo) {
            continue;
        }
        // Activity snapshots (merge-activity, deployments) judge no setting: no drift.
        if let Some(snapshot) = snapshot {
            if snapshot.from >= from && snapshot.from < to {
                snapshots.push(SnapshotRun {
                    collector: collector.clone(),
                    repository: repo.clone(),
                    entry: e.index,
                    from: snapshot.from,
                    to: snapshot.to,
                    merges: snapshot.merges.len(),
                    deploys: snapshot.deploys.len(),
                    taken_at: e.recorded_at,
                });
            }
            continue;
        }
        if e.recorded_at >= to {
            continue;
        }
        let key = (collector.clone(), repo.clone(), branch.clone());
        let ids: Vec<String> = findings.iter().map(|f| f.id.clone()).collect();
        if e.recorded_at >= from {
            let before: Vec<&str> =
                latest.get(&key).map(|s| s.findings.iter().map(|f| f.id.as_str()).collect()).unwrap_or_default();
            history.push(DriftRun {
                collector: collector.clone(),
                repository: repo.clone(),
                branch: branch.clone(),
                entry: e.index,
                checked_at: e.recorded_at,
                opened: ids.iter().filter(|id| !before.contains(&id.as_str())).cloned().collect(),
                fixed: before
                    .iter()
                    .filter(|id| !ids.contains(&(**id).to_owned()))
                    .map(|id| (*id).to_owned())
                    .collect(),
                findings: ids,
            });
        }
        latest.insert(
            key,
            DriftState {
                collector: collector.clone(),
                repository: repo.clone(),
                branch: branch.clone(),
                entry: e.index,
                checked_at: e.recorded_at,
                findings: findings.clone(),
            },
        );
    }
    Ok(Drift { latest: latest.into_values().collect(), history, snapshots })
}

/// What DORA's metrics are computed from, for any period.
#[derive(Debug, Clone, Default)]
pub struct DoraFacts {
    pub deploys: Vec<DeployFact>,
    pub incidents: Vec<IncidentFact>,
    /// The policy's `[metrics] incidents-caused-by-change-max`.
    pub threshold: Option<f64>,
}

/// The facts DORA's metrics are computed from: production deploys, each with the changes of
/// the walk it shipped first (a deploy of a commit ships that change and every older one),
/// and incidents, recorded or read from reverts and emergency changes. `changes` are a
/// first-parent walk's (newest first) and may end with console changes; `evals` are theirs.
/// With `repository`, deploys recorded for another repository are left out.
pub fn dora_facts(
    policy: &Policy,
    store: &Store,
    repository: Option<&str>,
    changes: &[Change],
    evals: &[Evaluation],
) -> Result<DoraFacts, StoreError> {
    let production = policy.deploy.as_ref().and_then(|d| d.production());
    let in_production = |env: Option<&str>| match (production, env) {
        (Some(p), Some(e)) => p.eq_ignore_ascii_case(e),
        _ => true,
    };
    let first_commit = |c: &Change| c.commits.first().and_then(|f| f.time).or(c.time);
    let revert_of = |c: &Change| {
        let sha = reverted_commit(&c.body)?;
        changes.iter().position(|o| o.id.starts_with(sha) || o.commits.iter().any(|k| k.id.starts_with(sha)))
    };
    let recorded: Vec<_> = store
        .evidence_of_kinds(&["deploy"])?
        .into_iter()
        .filter(|e| match &e.evidence {
            Evidence::Deploy { repository: r, .. } => r.is_none() || repository.is_none() || r.as_deref() == repository,
            _ => false,
        })
        .collect();
    // Which deploys shipped each change of the walk (the judge's own reading); the first
    // production one counts.
    let git = changes.iter().position(|c| c.id.starts_with("console:")).unwrap_or(changes.len());
    let first_shipped: Vec<Option<(Timestamp, u64)>> = crate::shipped_by(policy, &changes[..git], &recorded)
        .iter()
        .map(|list| {
            list.iter().filter(|s| s.production || production.is_none()).filter_map(|s| Some((s.at?, s.entry))).min()
        })
        .collect();
    let shipped_at = |i: usize| first_shipped.get(i).copied().flatten().map(|(at, _)| at);
    let mut deploys = Vec::new();
    for e in &recorded {
        let Evidence::Deploy { environment, deployed_at, status, .. } = &e.evidence else { continue };
        if !in_production(Some(environment)) {
            continue;
        }
        let shipped = (0..git)
            .filter(|&i| first_shipped[i].is_some_and(|(_, entry)| entry == e.index))
            .map(|i| ShippedChange {
                id: changes[i].id.clone(),
                first_commit: first_commit(&changes[i]),
                rework: evals[i].emergency || revert_of(&changes[i]).is_some(),
            })
            .collect();
        deploys.push(DeployFact {
            at: deployed_at.unwrap_or(e.recorded_at),
            success: *status != Some(DeployStatus::Failure),
            shipped,
            entry: e.index,
        });
    }
    let mut incidents: Vec<IncidentFact> = Vec::new();
    for e in store.evidence_of_kinds(&["incident"])? {
        let Evidence::Incident { started_at, resolved_at, environment, .. } = &e.evidence else { continue };
        if in_production(environment.as_deref()) {
            incidents.push(IncidentFact {
                started_at: *started_at,
                resolved_at: *resolved_at,
                caused_by: e.change_id.clone(),
                source: format!("entry #{}", e.index),
            });
        }
    }
    let recorded_incidents = incidents.clone();
    for (i, change) in changes.iter().enumerate() {
        let short = &change.id[..change.id.len().min(7)];
        if let Some(reverted) = revert_of(change) {
            // Caused by the change it reverts: from that change's deploy (or landing) to the
            // revert's deploy (or landing).
            if let Some(started_at) = shipped_at(reverted).or(changes[reverted].time) {
                incidents.push(IncidentFact {
                    started_at,
                    resolved_at: shipped_at(i).or(change.time),
                    caused_by: Some(changes[reverted].id.clone()),
                    source: format!("revert {short}"),
                });
            }
        } else if evals[i].emergency
            && let Some(at) = change.time
            && !recorded_incidents.iter().any(|r| r.started_at <= at && at.duration_since(r.started_at).as_hours() < 24)
        {
            // An emergency fix with no incident recorded in the day before it.
            incidents.push(IncidentFact {
                started_at: first_commit(change).unwrap_or(at),
                resolved_at: shipped_at(i).or(Some(at)),
                caused_by: None,
                source: format!("emergency change {short}"),
            });
        }
    }
    let threshold = policy.metrics.as_ref().and_then(|m| m.incidents_caused_by_change_max);
    Ok(DoraFacts { deploys, incidents, threshold })
}

impl DoraFacts {
    /// DORA's metrics over `[from, to)`.
    pub fn over(&self, from: Timestamp, to: Timestamp) -> Dora {
        countersign_engine::metrics::dora(from, to, &self.deploys, &self.incidents, self.threshold)
    }

    /// Each metric month by month: every calendar month (UTC) the period touches, cut to
    /// the period.
    pub fn by_month(&self, from: Timestamp, to: Timestamp) -> Vec<MonthMetrics> {
        let utc = jiff::tz::TimeZone::UTC;
        let mut out = Vec::new();
        let mut start = from;
        while start < to {
            let first = start.to_zoned(utc.clone()).date().first_of_month();
            let next = first
                .checked_add(jiff::Span::new().months(1))
                .ok()
                .and_then(|d| d.to_zoned(utc.clone()).ok())
                .map_or(to, |z| z.timestamp())
                .min(to);
            let m = self.over(start, next);
            let share = m.months.first();
            out.push(MonthMetrics {
                month: format!("{:04}-{:02}", first.year(), first.month()),
                deployments: m.deployments,
                deployments_per_week: m.deployments_per_week,
                lead_time_hours: m.lead_time_hours,
                change_fail_rate: m.change_fail_rate,
                recovery_hours: m.recovery_hours,
                rework_rate: m.rework_rate,
                incident_share: share.and_then(|s| s.share),
                breach: share.is_some_and(|s| s.breach),
            });
            if next <= start {
                break;
            }
            start = next;
        }
        out
    }
}

/// DORA's metrics over one calendar month of a period (cut to the period).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthMetrics {
    /// `2026-05`.
    pub month: String,
    pub deployments: usize,
    pub deployments_per_week: f64,
    pub lead_time_hours: Option<f64>,
    pub change_fail_rate: Option<f64>,
    pub recovery_hours: Option<f64>,
    pub rework_rate: Option<f64>,
    /// Incidents caused by a change over the month's incidents (S003-10).
    pub incident_share: Option<f64>,
    /// The share is over the policy's threshold.
    pub breach: bool,
}

/// One of the policy's `[[retention]]` lines (S002-12) against what countersign's own
/// evidence log holds of that kind of record.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionRow {
    /// The policy's `record` ("CI build logs").
    pub record: String,
    /// Where the policy says the record is kept ("GitHub Actions").
    pub location: Option<String>,
    /// How long the policy says it is kept there; absent: indefinitely.
    pub keep_days: Option<u32>,
    /// The evidence kinds countersign keeps for this record ([`retention_kinds`]); empty when
    /// countersign keeps none.
    pub kinds: Vec<&'static str>,
    /// Entries of those kinds recorded in the period.
    pub entries: usize,
    /// When the oldest entry of those kinds was recorded, in or before the period.
    pub oldest: Option<Timestamp>,
    /// `now` less `keep_days`: the place of record need not hold anything older. Absent when
    /// the retention is indefinite.
    pub cutoff: Option<Timestamp>,
    /// The period starts before the cut-off: the place of record may already have dropped
    /// part of the period, while countersign's log (append-only) still holds its entries.
    pub period_before_cutoff: bool,
    /// Of [`RetentionRow::entries`], those recorded before the cut-off: countersign's log is
    /// where they are still to be found.
    pub entries_before_cutoff: usize,
    /// `held` (entries of these kinds in the period), `none in period` (countersign keeps
    /// this kind of record but recorded none in the period) or `not held by countersign`
    /// (only the place of record keeps it).
    pub state: &'static str,
}

/// Which evidence kinds hold which records: a word of the record (case-insensitive; a
/// plural `s` is ignored) and the kinds it brings in. A record naming several words gets
/// every kind they bring in; one naming none is not held by countersign. The record's
/// words are what count, not its location: "Infrastructure change log" kept in "Git" is
/// `console-change`.
///
/// | Words in the record | Evidence kinds |
/// |---|---|
/// | commit, git, pull request, PR, merge, ticket, review | `verdict`, `approval`, `approval-withdrawn`, `webhook-delivery` |
/// | CI, build, check, pipeline, test, workflow | `check` |
/// | deploy, deployment | `deploy`, `deploy-decision` |
/// | incident | `incident` |
/// | emergency, obligation | `emergency`, `obligation`, `obligation-fulfilled` |
/// | infrastructure, console | `console-change` |
/// | exception, waiver | `exception`, `exception-approval` |
/// | policy | `policy-version`, `policy-approval` |
/// | collector, setting | `collector-run` |
/// | evidence | every kind |
const RETENTION_KINDS: &[(&[&str], &[&str])] = &[
    (
        &["commit", "git", "pull request", "pr", "merge", "ticket", "review"],
        &["verdict", "approval", "approval-withdrawn", "webhook-delivery"],
    ),
    (&["ci", "build", "check", "pipeline", "test", "workflow"], &["check"]),
    (&["deploy", "deployment"], &["deploy", "deploy-decision"]),
    (&["incident"], &["incident"]),
    (&["emergency", "obligation"], &["emergency", "obligation", "obligation-fulfilled"]),
    (&["infrastructure", "console"], &["console-change"]),
    (&["exception", "waiver"], &["exception", "exception-approval"]),
    (&["policy"], &["policy-version", "policy-approval"]),
    (&["collector", "setting"], &["collector-run"]),
];

/// A word without its plural ending: "policies" → "policy", "PRs" → "pr" ("access" stays).
fn singular(word: &str) -> std::borrow::Cow<'_, str> {
    match word.strip_suffix("ies") {
        Some(stem) if stem.len() > 1 => format!("{stem}y").into(),
        _ if word.len() > 2 && word.ends_with('s') && !word.ends_with("ss") => word[..word.len() - 1].into(),
        _ => word.into(),
    }
}

/// The evidence kinds countersign keeps for a retention line's `record`, by the table of
/// [`RETENTION_KINDS`]: "CI build logs" → `check`; "Pull request records" → `verdict`,
/// `approval`, `approval-withdrawn`, `webhook-delivery`; "Deploy history" → `deploy`,
/// `deploy-decision`; "Meeting minutes" → none.
pub fn retention_kinds(record: &str) -> Vec<&'static str> {
    let lower = record.to_lowercase();
    let words: Vec<_> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(singular).collect();
    if words.iter().any(|w| w == "evidence") {
        return countersign_store::evidence::KINDS.to_vec();
    }
    let names = |key: &str| {
        let key: Vec<&str> = key.split(' ').collect();
        words.windows(key.len()).any(|w| w.iter().zip(&key).all(|(a, b)| a == b))
    };
    let mut kinds = Vec::new();
    for (keys, brings) in RETENTION_KINDS {
        if keys.iter().any(|k| names(k)) {
            for k in *brings {
                if !kinds.contains(k) {
                    kinds.push(*k);
                }
            }
        }
    }
    kinds
}

/// The policy's `[[retention]]` lines, each against what the log holds of its kinds of
/// evidence ([`retention_kinds`]): the entries recorded in `[from, to)`, the oldest ever
/// recorded, and the cut-off (`now` less the retention) before which the place of record
/// need keep nothing. The log never deletes, so whatever it holds of the period is still
/// there even when the place of record's retention has run out.
pub fn retention(
    policy: &Policy,
    store: &Store,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Vec<RetentionRow>, StoreError> {
    let lines: Vec<_> = policy.docs.retention.iter().map(|r| (r, retention_kinds(&r.record))).collect();
    let mut wanted: Vec<&str> = Vec::new();
    for k in lines.iter().flat_map(|(_, kinds)| kinds) {
        if !wanted.contains(k) {
            wanted.push(k);
        }
    }
    let held = if wanted.is_empty() { Vec::new() } else { store.evidence_of_kinds(&wanted)? };
    Ok(lines
        .into_iter()
        .map(|(r, kinds)| {
            let cutoff = r.days.map(|d| {
                now.checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(d))).unwrap_or(Timestamp::MIN)
            });
            let of_kind: Vec<_> = held.iter().filter(|e| kinds.contains(&e.evidence.kind())).collect();
            let in_period: Vec<_> = of_kind.iter().filter(|e| e.recorded_at >= from && e.recorded_at < to).collect();
            let entries_before_cutoff = cutoff.map_or(0, |c| in_period.iter().filter(|e| e.recorded_at < c).count());
            let state = if kinds.is_empty() {
                "not held by countersign"
            } else if in_period.is_empty() {
                "none in period"
            } else {
                "held"
            };
            RetentionRow {
                record: r.record.clone(),
                location: r.location.clone(),
                keep_days: r.days,
                entries: in_period.len(),
                oldest: of_kind.iter().map(|e| e.recorded_at).min(),
                cutoff,
                period_before_cutoff: cutoff.is_some_and(|c| from < c),
                entries_before_cutoff,
                state,
                kinds,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_records_map_to_the_evidence_kinds_that_hold_them() {
        let git = ["verdict", "approval", "approval-withdrawn", "webhook-delivery"];
        for record in ["Git commit history", "Pull request records", "Change tickets and PRs", "pull-requests"] {
            assert_eq!(retention_kinds(record), git, "{record}");
        }
        assert_eq!(retention_kinds("CI build logs"), ["check"]);
        assert_eq!(retention_kinds("CI runs"), ["check"]);
        assert_eq!(retention_kinds("Deployment logs"), ["deploy", "deploy-decision"]);
        // "history" alone is no git record.
        assert_eq!(retention_kinds("DEPLOY HISTORY"), ["deploy", "deploy-decision"]);
        assert_eq!(retention_kinds("Infrastructure change log"), ["console-change"]);
        assert_eq!(retention_kinds("Incident reports"), ["incident"]);
        assert_eq!(retention_kinds("Console changes"), ["console-change"]);
        assert_eq!(retention_kinds("Emergencies"), ["emergency", "obligation", "obligation-fulfilled"]);
        assert_eq!(retention_kinds("Policies"), ["policy-version", "policy-approval"]);
        assert_eq!(retention_kinds("Exceptions"), ["exception", "exception-approval"]);
        // Several words: every kind they bring in, once.
        assert_eq!(retention_kinds("Git history and deploy logs"), [&git[..], &["deploy", "deploy-decision"]].concat());
        let every = retention_kinds("Evidence objects");
        assert!(every.contains(&"incident") && every.contains(&"collector-run") && every.len() >= 19, "{every:?}");
        // Words that merely contain a key do not count ("prod" is no "pr", "logs" nothing).
        assert!(retention_kinds("Production access logs").is_empty());
        assert!(retention_kinds("Meeting minutes").is_empty());
        assert!(retention_kinds("Access requests").is_empty());
        assert!(retention_kinds("").is_empty());
    }
}
