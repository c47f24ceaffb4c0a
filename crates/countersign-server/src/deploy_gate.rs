//! GitHub's custom deployment protection rules: a `deployment_protection_rule` delivery asks
//! whether a deployment may go on. The server runs the deploy gate (the same facts and the
//! same engine as `countersign deploy check`), logs the decision, and answers through the
//! event's callback with `approved` or `rejected` and a comment that lists what is missing.

use std::path::Path;

use anyhow::Context as _;
use jiff::Timestamp;

use countersign_engine::deploy::{Decision, DeployDecision, DeployRequest};
use countersign_engine::report::Status;
use countersign_forge::webhook::{Deployment, DeploymentGate, Event, Forge};
use countersign_store::{AppendOutcome, RecordRequest, Store};

use crate::AppState;
use crate::config::RepositoryConfig;
use crate::forge_api;
use crate::verdict::{count_call, installation_token, truncate};

/// A GitLab deployment waiting for approval in a protected environment (`blocked`), as a
/// gate request: the same gate answers it through GitLab's deployment approval API.
pub fn gitlab_request(d: &Deployment) -> Option<DeploymentGate> {
    (d.forge_state == "blocked").then(|| DeploymentGate {
        environment: d.environment.clone(),
        trigger: None,
        callback_url: None,
        deployment_id: d.id,
        sha: d.sha.clone(),
        git_ref: d.git_ref.clone(),
        pull_requests: Vec::new(),
        creator: d.creator.clone(),
        artifact: d.artifact.clone(),
    })
}

/// Who the server records its own decisions as.
pub const GATE_RECORDER: &str = "countersign-deploy-gate";

/// Judge the deployment and answer it; the delivery's outcome says what was decided.
pub async fn answer(state: &AppState, event: &Event, gate: &DeploymentGate, delivery: &str) -> anyhow::Result<String> {
    let repository = event.repository_name().unwrap_or_default().to_owned();
    let Some(config) = state
        .config
        .repositories
        .iter()
        .find(|r| r.forge == event.forge && r.name.eq_ignore_ascii_case(&repository))
        .cloned()
    else {
        return Ok(format!("skipped: {repository} is not served"));
    };
    let (Some(environment), Some(sha)) = (&gate.environment, &gate.sha) else {
        return Ok("skipped: the request names no environment or commit".into());
    };
    let api_url = config
        .api_url
        .clone()
        .or_else(|| forge_api::default_api_url(event.forge).map(str::to_owned))
        .with_context(|| format!("{} needs `api-url` (the forge's API root)", config.name))?;
    let now = (state.clock)();
    let probe = forge_api::Client::new(event.forge, &api_url, &config.name, b"", now.as_second());
    // Where the answer goes: GitHub names a callback (checked to be this repository's run
    // on the configured API); GitLab's deployment approval API is addressed by its id.
    let callback_path = match (event.forge, &gate.callback_url, gate.deployment_id) {
        (Forge::GitHub, Some(callback), _) => match probe.deployment_callback_path(callback) {
            Some(path) => path,
            None => {
                return Ok(format!(
                    "refused to answer: the callback {callback} is not a deployment protection rule of {} on {api_url}",
                    config.name
                ));
            }
        },
        (Forge::GitLab, _, Some(id)) => probe.deployment_approval_path(id),
        _ => return Ok("skipped: the request names nowhere to answer".into()),
    };
    let Some(git_dir) = config.git_dir.clone() else {
        return Ok(format!("skipped: {} has no git-dir to read the policy and the commits from", config.name));
    };

    let token = match &config.github_app {
        Some(app) => installation_token(state, event.forge, &api_url, app, now).await?,
        None => config
            .token
            .as_ref()
            .with_context(|| format!("{} has no GitHub App or `token` to answer the deployment with", config.name))?
            .value()
            .to_vec(),
    };
    // GitHub: the workflow run behind the callback says which workflow deploys and who
    // started it (`sanctioned-path`, `by-hand`). A run the API cannot show leaves them
    // unknown; a rate limit or a network failure is retried.
    let run = match (event.forge, &gate.callback_url) {
        (Forge::GitHub, Some(_)) => {
            let (forge, api, name, token, path) =
                (event.forge, api_url.clone(), config.name.clone(), token.clone(), callback_path.clone());
            let etags = state.etags.clone();
            let fetched = tokio::task::spawn_blocking(move || {
                forge_api::Client::new(forge, &api, &name, &token, now.as_second())
                    .with_etags(etags)
                    .workflow_run(&path)
            })
            .await?;
            count_call(state, event.forge, fetched.as_ref().map(|_| None));
            match fetched {
                Ok(run) => Some(run),
                Err(e @ (forge_api::ApiError::RateLimited { .. } | forge_api::ApiError::Transport { .. })) => {
                    return Err(e.into());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the deployment's workflow run");
                    None
                }
            }
        }
        _ => None,
    };
    let decided = {
        let core = state.store.clone();
        let handle = tokio::runtime::Handle::current();
        let (config, gate, environment, sha) = (config.clone(), gate.clone(), environment.clone(), sha.clone());
        tokio::task::spawn_blocking(move || {
            let store = Store::on_runtime(core, handle);
            judge(&store, &config, &git_dir, &gate, run.as_ref(), &environment, &sha, now)
        })
        .await??
    };
    let (approved, comment, decided_as) = match &decided {
        Ok((decision, _)) => (decision.decision == Decision::Allowed, comment_of(decision), Some(decision.decision)),
        Err(why) => (false, truncate(&format!("countersign cannot judge this deployment: {why}"), 1000), None),
    };

    // Log the decision first (once, keyed by the delivery), then answer: a retry after a
    // failed answer finds the entry and answers again with the same decision.
    let mut entry = None;
    if let Ok((_, evidence)) = decided {
        let outcome = state
            .store
            .record(&RecordRequest {
                change: None,
                recorded_by: GATE_RECORDER.into(),
                recorded_at: countersign_store::whole_second(now),
                idempotency_key: Some(format!("gate:{delivery}")),
                evidence,
            })
            .await?;
        entry = Some(match outcome {
            AppendOutcome::Appended(i) | AppendOutcome::AlreadyRecorded(i) => i,
        });
    }
    let (forge, name, env) = (event.forge, config.name.clone(), environment.clone());
    let text = comment.clone();
    let answer = tokio::task::spawn_blocking(move || {
        forge_api::Client::new(forge, &api_url, &name, &token, now.as_second()).review_deployment(
            &callback_path,
            &env,
            approved,
            &text,
        )
    })
    .await?;
    count_call(state, event.forge, answer.as_ref().map(|a| a.rate_remaining));
    answer?;
    let verdict = if approved { "approved" } else { "rejected" };
    let logged = entry.map(|i| format!(", decision logged as entry #{i}")).unwrap_or_default();
    Ok(format!(
        "deployment of {} to {environment}: {verdict}{logged}{}",
        short(sha),
        decided_as.map(|d| format!(" ({})", d.as_str())).unwrap_or_default()
    ))
}

/// The gate on a blocking thread: policy from the default branch of the git dir, the
/// deployed range judged with audit's machinery, the workflow `run` behind the request
/// (GitHub) for how it was started. `Err(why)` (inside `Ok`) is a deployment
/// that cannot be judged at all (no policy, unknown commit): it is rejected, not retried.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn judge(
    store: &Store,
    config: &RepositoryConfig,
    git_dir: &Path,
    gate: &DeploymentGate,
    run: Option<&forge_api::WorkflowRun>,
    environment: &str,
    sha: &str,
    now: Timestamp,
) -> anyhow::Result<Result<(DeployDecision, countersign_store::Evidence), String>> {
    let mut repo = countersign_git::Repository::open(git_dir)
        .with_context(|| format!("cannot open the git directory {}", git_dir.display()))?;
    if !repo.has_commit(sha) {
        let _ = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .args(["fetch", "--quiet", "--no-tags", "origin"])
            .output();
        repo = countersign_git::Repository::open(git_dir)?;
        if !repo.has_commit(sha) {
            return Ok(Err(format!("the commit {sha} is not in the repository's git-dir, even after a fetch")));
        }
    }
    let crate::governed::Governed { repo, policy, text, .. } =
        match crate::governed::with_repo(store, config, repo, now)? {
            Ok(governed) => governed,
            Err(why) => return Ok(Err(why)),
        };
    let Some(rules) = &policy.deploy else {
        return Ok(Err("the policy has no [deploy] section".into()));
    };
    if rules.position(environment).is_none() {
        return Ok(Err(format!(
            "the policy has no environment {environment:?} (it names: {})",
            rules.environments.join(", ")
        )));
    }
    let request = DeployRequest {
        environment: environment.to_owned(),
        artifact: gate.artifact.clone(),
        commit: repo.resolve(sha)?,
        stage: None,
        release: None,
        triggered_by: run
            .and_then(|r| r.triggered_by.as_deref())
            .or(gate.creator.as_deref())
            .map(countersign_engine::evaluate::parse_identity),
        event: gate.trigger.clone().or_else(|| run.and_then(|r| r.event.clone())),
        via: run.map(|r| r.workflow.clone()),
        on_branch: None,
        worktree: None,
    };
    let repository = Some(config.name.as_str());
    let mut judge_range = |walk: countersign_git::WalkOptions| {
        countersign_judge::judge_walk(
            &repo,
            &policy,
            &walk,
            Some((store, repository)),
            &countersign_judge::HistoryOptions {
                policy_path: Some(&config.policy),
                ..countersign_judge::HistoryOptions::at(now)
            },
            &|_| {},
        )
        .map(|(_, evals)| evals)
    };
    let gated = countersign_judge::deploy::gate(
        &repo,
        &policy,
        store,
        repository,
        request.clone(),
        None,
        now,
        &mut judge_range,
    )?;
    let evidence = countersign_judge::deploy::decision_evidence(
        &gated,
        &request,
        run.and_then(|r| r.triggered_by.clone()).or_else(|| gate.creator.clone()),
        countersign_store::evidence::sha256_hex(text.as_bytes()),
        now,
        Some(config.name.clone()),
    );
    Ok(Ok((gated.decision, evidence)))
}

/// The comment GitHub shows on the deployment: the decision, then each requirement that is
/// not met with what to do. GitHub keeps at most 1,024 characters.
fn comment_of(d: &DeployDecision) -> String {
    let mut out = format!("countersign: {} ({} changes in the range).", d.decision.as_str(), d.range.changes);
    for r in d.requirements.iter().filter(|r| matches!(r.status, Status::Missing | Status::Unknown)) {
        out.push_str(&format!(
            "\n- {} {}: {}{}",
            if r.status == Status::Missing { "missing" } else { "cannot tell" },
            r.id,
            r.description,
            r.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
        ));
    }
    truncate(&out, 1000)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
