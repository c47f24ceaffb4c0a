//! The deploy gate: whether one deploy may go ahead, judged against the policy's `[deploy]`
//! rules, the deploys recorded before it, and the verdicts of the changes it ships.
//!
//! Like the evaluator, this is pure. The caller gathers the facts (the deploy history from
//! the evidence store, the changes in the deployed range from git, whether the commit is on
//! its branch, the state of the working tree) and passes "now" in.

use jiff::Timestamp;
use jiff::civil::Weekday;
use serde::Serialize;

use countersign_policy::model::{DeployRules, Policy};

use crate::change::Identity;
use crate::directory::Directory;
use crate::evaluate::verdict_of;
use crate::report::{Evaluation, RequirementResult, Status, Verdict};

/// What the deploy about to happen says of itself.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    pub environment: String,
    /// `sha256:<hex>` of the artifact.
    pub artifact: Option<String>,
    /// The commit the artifact was built from.
    pub commit: String,
    /// The stage of a staged release (S000-21), by name or number.
    pub stage: Option<String>,
    /// The release the stage belongs to: stages are ordered within one release.
    pub release: Option<String>,
    /// Who started the deploy.
    pub triggered_by: Option<Identity>,
    /// How it was started: `workflow_dispatch`, `manual`, `push`, `schedule`, …
    pub event: Option<String>,
    /// The workflow or script it runs through (S000-20).
    pub via: Option<String>,
    /// Whether the commit is on the branch the environment deploys from (S004-10), when
    /// the policy names one: `(branch, on it)`.
    pub on_branch: Option<(String, bool)>,
    /// The working tree a local deploy starts from (S001-03), when it was looked at.
    pub worktree: Option<Worktree>,
}

/// A local working tree compared with the commit production deploys from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Worktree {
    /// What it was compared with: `origin/main`.
    pub upstream: String,
    /// Whether `HEAD` is that commit.
    pub head_matches: bool,
    /// Tracked files that differ from `HEAD` (staged or not).
    pub dirty: Vec<String>,
}

/// A deploy recorded in the evidence log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PastDeploy {
    /// Its log entry.
    pub index: u64,
    pub environment: String,
    pub artifact: Option<String>,
    pub commit: Option<String>,
    pub stage: Option<String>,
    pub release: Option<String>,
    pub success: bool,
    pub at: Option<Timestamp>,
}

/// The changes a deploy ships: every change after `from` (the commit of the environment's
/// last successful deploy; `None` for a first deploy) up to the deployed commit.
#[derive(Debug, Clone, Default)]
pub struct DeployRange<'e> {
    pub from: Option<String>,
    pub evaluations: &'e [Evaluation],
    /// Why the range is what it is, when that needs saying (a redeploy of an older commit).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Allowed,
    Refused,
    /// Some requirement cannot be judged from the evidence at hand: the gate does not let
    /// the deploy through, and says what to supply.
    CannotJudge,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Refused => "refused",
            Decision::CannotJudge => "cannot-judge",
        }
    }
}

/// The range a decision covered, counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RangeSummary {
    pub from: Option<String>,
    pub to: String,
    pub changes: usize,
    pub compliant: usize,
    pub violations: usize,
    pub evidence_missing: usize,
    pub emergencies: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployDecision {
    pub environment: String,
    pub artifact: Option<String>,
    pub commit: String,
    pub stage: Option<String>,
    pub release: Option<String>,
    pub decision: Decision,
    pub requirements: Vec<RequirementResult>,
    pub range: RangeSummary,
}

/// Judge a deploy before it happens. `history` is every deploy recorded before, in log
/// order; `now` is when the deploy would start.
pub fn judge_deploy(
    policy: &Policy,
    request: &DeployRequest,
    history: &[PastDeploy],
    range: &DeployRange<'_>,
    now: Timestamp,
) -> DeployDecision {
    let mut reqs = Vec::new();
    let summary = summarize_range(request, range);
    let rules = policy.deploy.as_ref();
    let environment = rules
        .and_then(|d| d.position(&request.environment).map(|i| d.environments[i].clone()))
        .unwrap_or_else(|| request.environment.clone());
    let production = rules.and_then(DeployRules::production).is_some_and(|p| p.eq_ignore_ascii_case(&environment));
    let all_emergencies = summary.changes > 0 && summary.emergencies == summary.changes;

    reqs.push(range_requirement(&environment, range, &summary));
    if let Some(d) = rules {
        if d.same_artifact {
            reqs.extend(earlier_environments(d, &environment, request, history));
        }
        if production {
            if let Some(path) = &d.production_path {
                reqs.push(sanctioned_path(path, &environment, request));
            }
            if d.production_manual {
                reqs.push(by_hand(policy, &environment, request));
            }
            if d.clean_worktree {
                reqs.push(clean_worktree(request));
            }
            if !d.windows.is_empty() {
                let mut r = in_window(d, &environment, now);
                if r.status == Status::Missing && all_emergencies {
                    waive_for_emergency(&mut r);
                }
                reqs.push(r);
            }
        }
        if !d.stages.is_empty() {
            reqs.push(stage_order(d, &environment, request, history));
        }
        if let Some(branch) = d.branches.get(&environment) {
            reqs.push(from_branch(branch, &environment, request));
        }
        for freeze in d.freezes.iter().filter(|f| {
            f.environments.is_empty() || f.environments.iter().any(|e| e.eq_ignore_ascii_case(&environment))
        }) {
            let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
            let frozen = freeze.from <= today && today <= freeze.until;
            if !frozen {
                continue;
            }
            let mut r = requirement(
                format!("freeze:{}", freeze.from),
                format!("no deploy to {environment} during the freeze {} to {}", freeze.from, freeze.until),
                "deploy freeze",
                Status::Missing,
            );
            r.evidence.push(format!("{}: {}, owned by {}", now, freeze.reason, freeze.owner));
            r.detail = Some(format!(
                "the freeze ends after {}; ask its owner ({}) if this cannot wait",
                freeze.until, freeze.owner
            ));
            if all_emergencies {
                waive_for_emergency(&mut r);
            }
            reqs.push(r);
        }
    }
    let decision = match verdict_of(&reqs) {
        Verdict::Compliant => Decision::Allowed,
        Verdict::Violation => Decision::Refused,
        Verdict::EvidenceMissing => Decision::CannotJudge,
    };
    DeployDecision {
        environment,
        artifact: request.artifact.clone(),
        commit: request.commit.clone(),
        stage: request.stage.clone(),
        release: request.release.clone(),
        decision,
        requirements: reqs,
        range: summary,
    }
}

/// What a deploy record must show once the deploy is done: for production under `verify`,
/// a passing health check and the actual completion time (S004-11).
pub fn judge_completion(
    policy: &Policy,
    environment: &str,
    success: bool,
    health_check: Option<bool>,
    completed_at: Option<Timestamp>,
) -> Vec<RequirementResult> {
    let Some(d) = policy.deploy.as_ref() else { return Vec::new() };
    let production = d.production().is_some_and(|p| p.eq_ignore_ascii_case(environment));
    if !d.verify || !production || !success {
        return Vec::new();
    }
    let mut health = requirement(
        "verify:health-check",
        format!("a health check passed after the deploy to {environment}"),
        "deploy verify",
        Status::Missing,
    );
    match health_check {
        Some(true) => {
            health.status = Status::Met;
            health.evidence.push("health check recorded as passing".into());
        }
        Some(false) => health.detail = Some("the health check failed: roll back, or fix and deploy again".into()),
        None => health.detail = Some("record it with --health-check pass (or fail)".into()),
    }
    let mut closed = requirement(
        "verify:completed-at",
        "the change record is closed with the actual completion time",
        "deploy verify",
        Status::Missing,
    );
    match completed_at {
        Some(at) => {
            closed.status = Status::Met;
            closed.evidence.push(format!("completed at {at}"));
        }
        None => closed.detail = Some("record it with --completed-at TIME (RFC 3339)".into()),
    }
    vec![health, closed]
}

fn requirement(
    id: impl Into<String>,
    description: impl Into<String>,
    required_by: &str,
    status: Status,
) -> RequirementResult {
    RequirementResult {
        id: id.into(),
        description: description.into(),
        required_by: required_by.into(),
        status,
        evidence: Vec::new(),
        detail: None,
        due: None,
    }
}

fn waive_for_emergency(r: &mut RequirementResult) {
    r.status = Status::Waived;
    let was = r.detail.take().map(|d| format!(" (was: {d})")).unwrap_or_default();
    r.detail = Some(format!("every change in this deploy is an authorized emergency{was}"));
}

/// Whether a change may ship: compliant, or an authorized emergency whose only open
/// requirements are its obligations (they are tracked to closure apart from the deploy, and
/// an emergency is deployed before they fall due).
fn deployable(e: &Evaluation) -> bool {
    e.verdict == Verdict::Compliant || authorized_emergency(e)
}

fn authorized_emergency(e: &Evaluation) -> bool {
    e.emergency
        && e.requirements.iter().any(|r| r.id == "emergency-authorization" && r.status == Status::Met)
        && e.requirements
            .iter()
            .filter(|r| matches!(r.status, Status::Missing | Status::Unknown))
            .all(|r| r.id.starts_with("obligation:"))
}

fn summarize_range(request: &DeployRequest, range: &DeployRange<'_>) -> RangeSummary {
    let mut s = RangeSummary { from: range.from.clone(), to: request.commit.clone(), ..RangeSummary::default() };
    for e in range.evaluations {
        s.changes += 1;
        match e.verdict {
            _ if deployable(e) => s.compliant += 1,
            Verdict::Compliant => s.compliant += 1,
            Verdict::Violation => s.violations += 1,
            Verdict::EvidenceMissing => s.evidence_missing += 1,
        }
        s.emergencies += usize::from(authorized_emergency(e));
    }
    s
}

fn change_label(e: &Evaluation) -> String {
    let short: String = e.change.id.chars().take(10).collect();
    match e.change.pr_number {
        Some(n) => format!("PR #{n} ({short})"),
        None => short,
    }
}

fn range_requirement(environment: &str, range: &DeployRange<'_>, s: &RangeSummary) -> RequirementResult {
    let since = match &range.from {
        Some(from) => format!("since the last successful deploy to {environment} ({})", short(from)),
        None => format!("(no successful deploy to {environment} yet: the whole history)"),
    };
    let mut r = requirement(
        "range",
        format!("every change deployed is compliant or an authorized emergency {since}"),
        "deploy",
        Status::Met,
    );
    r.evidence.push(format!(
        "{} changes: {} compliant (of which {} authorized emergencies), {} violations, {} evidence missing",
        s.changes, s.compliant, s.emergencies, s.violations, s.evidence_missing
    ));
    let bad = |v: Verdict| -> Vec<String> {
        range
            .evaluations
            .iter()
            .filter(|e| e.verdict == v && !deployable(e))
            .map(|e| {
                let why: Vec<&str> = e
                    .requirements
                    .iter()
                    .filter(|r| matches!(r.status, Status::Missing | Status::Unknown))
                    .map(|r| r.id.as_str())
                    .collect();
                format!("{} {} [{}]", change_label(e), e.change.title, why.join(", "))
            })
            .collect()
    };
    let violations = bad(Verdict::Violation);
    let unknown = bad(Verdict::EvidenceMissing);
    if !violations.is_empty() {
        r.status = Status::Missing;
        r.evidence.extend(violations.iter().take(20).map(|v| format!("violation: {v}")));
        r.detail = Some(
            "these changes violate the policy; fix them (or declare an authorized emergency) before deploying".into(),
        );
    } else if !unknown.is_empty() {
        r.status = Status::Unknown;
        r.evidence.extend(unknown.iter().take(20).map(|v| format!("evidence missing: {v}")));
        r.detail = Some(
            "record the missing evidence (approvals, checks) with `countersign record`, then run the gate again".into(),
        );
    }
    if let Some(note) = &range.note {
        r.evidence.push(note.clone());
    }
    r
}

fn short(commit: &str) -> String {
    commit.chars().take(12).collect()
}

/// Same artifact, deployed successfully to every earlier environment (S000-02, S003-06).
fn earlier_environments(
    d: &DeployRules,
    environment: &str,
    request: &DeployRequest,
    history: &[PastDeploy],
) -> Vec<RequirementResult> {
    let Some(position) = d.position(environment) else { return Vec::new() };
    d.environments[..position]
        .iter()
        .map(|earlier| {
            let mut r = requirement(
                format!("order:{earlier}"),
                format!("the same artifact was deployed successfully to {earlier} before {environment}"),
                "deploy same-artifact",
                Status::Missing,
            );
            let Some(artifact) = &request.artifact else {
                r.status = Status::Unknown;
                r.detail = Some("name the artifact with --artifact sha256:<digest>".into());
                return r;
            };
            let to_earlier: Vec<&PastDeploy> =
                history.iter().filter(|p| p.environment.eq_ignore_ascii_case(earlier)).collect();
            match to_earlier.iter().rev().find(|p| p.success && p.artifact.as_deref() == Some(artifact.as_str())) {
                Some(p) => {
                    r.status = Status::Met;
                    r.evidence.push(format!(
                        "deploy of {artifact} to {earlier}{}, entry #{}",
                        p.at.map(|at| format!(" at {at}")).unwrap_or_default(),
                        p.index
                    ));
                }
                None => {
                    if let Some(p) = to_earlier.iter().rev().find(|p| p.artifact.as_deref() == Some(artifact.as_str()))
                    {
                        r.evidence.push(format!("deploy of {artifact} to {earlier} failed (entry #{})", p.index));
                    } else if let Some(p) = to_earlier.iter().rev().find(|p| p.success) {
                        r.evidence.push(format!(
                            "{earlier} last received {} (entry #{}), a different artifact",
                            p.artifact.as_deref().unwrap_or("an artifact with no digest"),
                            p.index
                        ));
                    }
                    r.detail = Some(format!(
                        "deploy {artifact} to {earlier} first, and record it with `countersign deploy record`"
                    ));
                }
            }
            r
        })
        .collect()
}

fn sanctioned_path(path: &str, environment: &str, request: &DeployRequest) -> RequirementResult {
    let mut r = requirement(
        "sanctioned-path",
        format!("{environment} is deployed only through `{path}`"),
        "deploy production-path",
        Status::Missing,
    );
    match &request.via {
        Some(via) if same_path(via, path) => {
            r.status = Status::Met;
            r.evidence.push(format!("deployed via {via}"));
        }
        Some(via) => r.detail = Some(format!("deployed via `{via}`, not the sanctioned `{path}`")),
        None => {
            r.status = Status::Unknown;
            r.detail = Some(format!("say what runs the deploy with --via (the sanctioned path is `{path}`)"));
        }
    }
    r
}

/// Workflow paths compare without a leading `./` and, for GitHub's
/// `owner/repo/.github/workflows/x.yml@ref` form, without the repository and the ref.
fn same_path(given: &str, sanctioned: &str) -> bool {
    let clean = |p: &str| -> String {
        let p = p.trim().trim_start_matches("./");
        let p = p.split('@').next().unwrap_or(p);
        p.to_owned()
    };
    let (given, sanctioned) = (clean(given), clean(sanctioned));
    given == sanctioned || given.ends_with(&format!("/{sanctioned}"))
}

/// Events that mean a person started the run.
const MANUAL_EVENTS: &[&str] = &["manual", "workflow_dispatch", "web", "api", "trigger", "deployment"];

fn by_hand(policy: &Policy, environment: &str, request: &DeployRequest) -> RequirementResult {
    let mut r = requirement(
        "by-hand",
        format!("deploys to {environment} are triggered by hand, by a person of the policy"),
        "deploy production-manual",
        Status::Missing,
    );
    let dir = Directory::new(policy);
    let person = request.triggered_by.as_ref().and_then(|who| dir.resolve(who)).and_then(|id| policy.people.get(id));
    let event_manual = request.event.as_deref().map(|e| MANUAL_EVENTS.iter().any(|m| m.eq_ignore_ascii_case(e.trim())));
    match (person, event_manual) {
        (_, Some(false)) => {
            r.detail = Some(format!(
                "started by `{}`, an automatic trigger; start it by hand (e.g. workflow_dispatch)",
                request.event.as_deref().unwrap_or_default()
            ))
        }
        (Some(p), _) if p.bot => r.detail = Some(format!("started by {}, a bot", p.id)),
        (Some(p), _) => {
            r.status = Status::Met;
            r.evidence.push(format!(
                "started by {}{}",
                p.id,
                request.event.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            ));
        }
        (None, _) => match &request.triggered_by {
            Some(who) => {
                r.detail =
                    Some(format!("{} is not a person of the policy", crate::directory::display_identity(&dir, who)))
            }
            None => {
                r.status = Status::Unknown;
                r.detail = Some("say who started it with --triggered-by (an email or login of the policy)".into());
            }
        },
    }
    r
}

fn clean_worktree(request: &DeployRequest) -> RequirementResult {
    let mut r = requirement(
        "clean-worktree",
        "a local deploy starts from a clean working tree equal to origin/main",
        "deploy clean-worktree",
        Status::Missing,
    );
    match &request.worktree {
        None => {
            r.status = Status::Unknown;
            r.detail = Some("run the gate with --worktree from the checkout being deployed".into());
        }
        Some(w) if w.head_matches && w.dirty.is_empty() => {
            r.status = Status::Met;
            r.evidence.push(format!("working tree clean, HEAD equals {}", w.upstream));
        }
        Some(w) => {
            if !w.head_matches {
                r.evidence.push(format!("HEAD is not {}", w.upstream));
            }
            if !w.dirty.is_empty() {
                let shown: Vec<&str> = w.dirty.iter().take(10).map(String::as_str).collect();
                r.evidence.push(format!("{} tracked files differ: {}", w.dirty.len(), shown.join(", ")));
            }
            r.detail = Some(format!("commit and push, or reset to {}, then deploy", w.upstream));
        }
    }
    r
}

fn in_window(d: &DeployRules, environment: &str, now: Timestamp) -> RequirementResult {
    let windows: Vec<&str> = d.windows.iter().map(|w| w.text.as_str()).collect();
    let mut r = requirement(
        "window",
        format!("{environment} is deployed in an approved window (UTC): {}", windows.join("; ")),
        "deploy windows",
        Status::Missing,
    );
    let zoned = now.to_zoned(jiff::tz::TimeZone::UTC);
    let weekday = match zoned.weekday() {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    };
    let minute = zoned.hour() as u16 * 60 + zoned.minute() as u16;
    match d.windows.iter().find(|w| w.contains(weekday, minute)) {
        Some(w) => {
            r.status = Status::Met;
            r.evidence.push(format!("{now} is inside {}", w.text));
        }
        None => r.detail = Some(format!("{now} ({}) is outside every window", zoned.strftime("%A %H:%M UTC"))),
    }
    r
}

fn stage_order(
    d: &DeployRules,
    environment: &str,
    request: &DeployRequest,
    history: &[PastDeploy],
) -> RequirementResult {
    let mut r = requirement(
        "stage-order",
        format!("stages deploy in order: {}", d.stages.join(", then ")),
        "deploy stages",
        Status::Missing,
    );
    let Some(stage) = &request.stage else {
        r.status = Status::Unknown;
        r.detail = Some("name the stage with --stage (and the release with --release)".into());
        return r;
    };
    let Some(position) = d.stage_position(stage) else {
        r.detail = Some(format!("`{stage}` is not a stage of the policy"));
        return r;
    };
    if position == 0 {
        r.status = Status::Met;
        r.evidence.push(format!("`{}` is the first stage", d.stages[0]));
        return r;
    }
    let Some(release) = &request.release else {
        r.status = Status::Unknown;
        r.detail = Some("name the release with --release so its earlier stages can be found".into());
        return r;
    };
    let mut missing = Vec::new();
    for (i, earlier) in d.stages[..position].iter().enumerate() {
        let done = history.iter().rev().find(|p| {
            p.success
                && p.environment.eq_ignore_ascii_case(environment)
                && p.release.as_deref() == Some(release.as_str())
                && p.stage.as_deref().and_then(|s| d.stage_position(s)) == Some(i)
        });
        match done {
            Some(p) => r
                .evidence
                .push(format!("{earlier}: deployed to {environment} in release {release}, entry #{}", p.index)),
            None => missing.push(earlier.as_str()),
        }
    }
    if missing.is_empty() {
        r.status = Status::Met;
    } else {
        r.detail = Some(format!("deploy {} to {environment} in release {release} first", missing.join(", then ")));
    }
    r
}

fn from_branch(branch: &str, environment: &str, request: &DeployRequest) -> RequirementResult {
    let mut r = requirement(
        "branch",
        format!("{environment} is deployed from commits on `{branch}`"),
        "deploy branches",
        Status::Missing,
    );
    match &request.on_branch {
        Some((_, true)) => {
            r.status = Status::Met;
            r.evidence.push(format!("{} is on {branch}", short(&request.commit)));
        }
        Some((_, false)) => {
            r.detail = Some(format!("{} is not on {branch}; merge it to {branch} first", short(&request.commit)))
        }
        None => {
            r.status = Status::Unknown;
            r.detail = Some(format!("`{branch}` could not be read in this repository; fetch it"));
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_paths_compare_without_repository_and_ref() {
        assert!(same_path("./.github/workflows/release.yml", ".github/workflows/release.yml"));
        assert!(same_path("acme/app/.github/workflows/release.yml@refs/heads/main", ".github/workflows/release.yml"));
        assert!(!same_path(".github/workflows/backend-deploy.yml", ".github/workflows/release.yml"));
        assert!(!same_path("evil-release.yml", "release.yml"));
    }
}
