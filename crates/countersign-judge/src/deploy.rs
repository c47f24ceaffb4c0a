//! The facts the deploy gate judges, gathered once for `countersign deploy check` and for
//! the server's deployment protection rule: the deploys recorded before, the changes in the
//! deployed range with their verdicts, and whether the commit is on its environment's
//! branch. The decision itself is the engine's ([`countersign_engine::deploy`]).

use jiff::Timestamp;

use countersign_engine::deploy::{DeployDecision, DeployRange, DeployRequest, PastDeploy, judge_deploy};
use countersign_engine::report::{RequirementResult, Status};
use countersign_git::Repository;

use crate::JudgeError;
use countersign_policy::model::Policy;
use countersign_store::evidence::{DecisionRequirement, DeployStatus};
use countersign_store::{Evidence, Store, StoreError};

/// Every deploy recorded for `repository` (or for any, when the store does not say), in
/// log order.
pub fn deploy_history(store: &Store, repository: Option<&str>) -> Result<Vec<PastDeploy>, StoreError> {
    Ok(store
        .evidence_of_kinds(&["deploy"])?
        .into_iter()
        .filter_map(|e| match e.evidence {
            Evidence::Deploy {
                environment,
                artifact_digest,
                commit,
                deployed_at,
                status,
                stage,
                release,
                repository: r,
                ..
            } if r.is_none() || repository.is_none() || r.as_deref() == repository => Some(PastDeploy {
                index: e.index,
                environment,
                artifact: artifact_digest,
                commit,
                stage,
                release,
                success: status != Some(DeployStatus::Failure),
                at: deployed_at.or(Some(e.recorded_at)),
            }),
            _ => None,
        })
        .collect())
}

/// A decision and the range it covered, ready to be logged.
pub struct Gated {
    pub decision: DeployDecision,
    /// The first commit not shipped (the environment's last successful deploy, or `--since`).
    pub from: Option<String>,
}

/// Judge a deploy. `request.commit` must be resolved already; `since` overrides the start
/// of the range; `judge_range` walks and judges a range (`audit`'s machinery).
pub fn gate(
    repo: &Repository,
    policy: &Policy,
    store: &Store,
    repository: Option<&str>,
    mut request: DeployRequest,
    since: Option<&str>,
    now: Timestamp,
    judge_range: &mut dyn FnMut(
        countersign_git::WalkOptions,
    ) -> Result<Vec<countersign_engine::Evaluation>, JudgeError>,
) -> Result<Gated, JudgeError> {
    let environment = policy
        .deploy
        .as_ref()
        .and_then(|d| d.position(&request.environment).map(|i| d.environments[i].clone()))
        .unwrap_or_else(|| request.environment.clone());
    let past = deploy_history(store, repository)?;
    let last =
        past.iter().rev().find(|p| p.success && p.environment.eq_ignore_ascii_case(&environment) && p.commit.is_some());
    let from = match (since, last.and_then(|p| p.commit.as_deref())) {
        (Some(since), _) => Some(repo.resolve(since)?),
        (None, Some(prev)) => Some(repo.resolve(prev).map_err(|_| JudgeError::UnknownLastDeploy {
            environment: environment.clone(),
            commit: prev.to_owned(),
        })?),
        (None, None) => None,
    };
    // A redeploy or a rollback ships no change that was not judged before.
    let mut note = None;
    let range = match &from {
        Some(from) if *from == request.commit => None,
        Some(from) if !repo.is_ancestor(from, &request.commit)? => {
            note = Some(format!(
                "{} is not a descendant of the last deploy ({}): a rollback or an unrelated commit ships no change that was not judged before",
                short(&request.commit),
                short(from)
            ));
            None
        }
        Some(from) => Some(Some(format!("{from}..{}", request.commit))),
        None => Some(None),
    };
    let evaluations = match range {
        None => Vec::new(),
        Some(range) => judge_range(countersign_git::WalkOptions {
            branch: range.is_none().then(|| request.commit.clone()),
            range,
            use_cache: true,
            read: crate::read_options(policy),
            ..Default::default()
        })?,
    };
    if request.on_branch.is_none()
        && let Some(branch) = policy.deploy.as_ref().and_then(|d| d.branches.get(&environment))
        && let Some(tip) = repo.branch_tip(branch)
    {
        request.on_branch = Some((branch.clone(), repo.is_ancestor(&request.commit, &tip)?));
    }
    let decision = judge_deploy(
        policy,
        &request,
        &past,
        &DeployRange { from: from.clone(), evaluations: &evaluations, note },
        now,
    );
    Ok(Gated { decision, from })
}

/// The log entry that keeps a decision.
pub fn decision_evidence(
    gated: &Gated,
    request: &DeployRequest,
    triggered_by: Option<String>,
    policy_sha256: String,
    now: Timestamp,
    repository: Option<String>,
) -> Evidence {
    let d = &gated.decision;
    Evidence::DeployDecision {
        environment: d.environment.clone(),
        artifact_digest: d.artifact.clone(),
        commit: d.commit.clone(),
        decision: d.decision.as_str().to_owned(),
        requirements: d.requirements.iter().map(logged_requirement).collect(),
        range_from: gated.from.clone(),
        changes: d.range.changes as u64,
        stage: d.stage.clone(),
        release: d.release.clone(),
        via: request.via.clone(),
        triggered_by,
        policy_sha256,
        decided_at: now,
        repository,
    }
}

fn logged_requirement(r: &RequirementResult) -> DecisionRequirement {
    let status = match r.status {
        Status::Met => "met",
        Status::Missing => "missing",
        Status::Waived => "waived",
        Status::Unknown => "unknown",
        Status::Pending => "pending",
    };
    DecisionRequirement { id: r.id.clone(), status: status.into(), detail: r.detail.clone() }
}

fn short(commit: &str) -> String {
    commit.chars().take(12).collect()
}
