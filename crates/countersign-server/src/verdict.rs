//! Judging a pull request again after an event, and posting the verdict back.
//!
//! An `evaluate:<change>` job is enqueued by every delivery about a pull request, a second
//! ahead; further events within that second coalesce into the same job, so a burst of
//! check runs gives one evaluation. The job:
//!
//! 1. reads the newest stored delivery that described the pull request (its base and head,
//!    title, description, labels, author) and checks its bytes against their hash;
//! 2. reads the policy (and CODEOWNERS) from the repository's git directory **at the base
//!    commit**, never from the head, fetching the pull request's commits when they are not
//!    there yet;
//! 3. builds the change from git between base and head, adds the forge's words and the
//!    evidence the log proves (approvals with the commit they were given on, checks), and
//!    has the engine judge it as of the server's clock;
//! 4. posts the verdict as a commit status on the head, unless the same verdict is already
//!    posted there.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use countersign_engine::change::{Change, Completeness, Identity};
use countersign_engine::report::{Evaluation, Status, Verdict};
use countersign_engine::{Engine, EvalOptions};
use countersign_forge::webhook::{self, EventKind, Forge, Normalised, PullRequest, PullRequestAction};
use countersign_store::{EvaluationRow, PostedStatus, Store};
use jiff::Timestamp;

use crate::AppState;
use crate::config::RepositoryConfig;
use crate::forge_api::{self, StatusPost, StatusState};

/// The job key that re-evaluates a change, and posts on its head or on the merge queue's
/// commit `onto`.
pub fn job_key(change_id: &str, onto: Option<&str>) -> String {
    match onto {
        Some(sha) => format!("evaluate:{change_id}@{sha}"),
        None => format!("evaluate:{change_id}"),
    }
}

/// The payload of an `evaluate` job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateJob {
    pub change_id: String,
    /// A merge queue's commit for this pull request: the verdict is posted there too, so the
    /// queue cannot merge what the pull request could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onto: Option<String>,
}

/// Enqueue (or coalesce into the waiting) evaluation of a change `delay` from now, posted
/// on its head or on the merge queue's commit `onto`.
pub async fn enqueue(
    state: &AppState,
    change_id: &str,
    onto: Option<&str>,
    delay: std::time::Duration,
) -> anyhow::Result<()> {
    let job = evaluation_job(state, change_id, onto, delay)?;
    let at = jiff::Timestamp::from_millisecond(job.run_after)?;
    state.store.enqueue_job(&job.key, &job.kind, &job.payload, at).await?;
    Ok(())
}

/// The job that judges a change `delay` from now (see [`enqueue`]), to enqueue with other
/// writes in one commit.
pub fn evaluation_job(
    state: &AppState,
    change_id: &str,
    onto: Option<&str>,
    delay: std::time::Duration,
) -> anyhow::Result<countersign_store::NewJob> {
    let payload =
        serde_json::to_string(&EvaluateJob { change_id: change_id.to_owned(), onto: onto.map(str::to_owned) })?;
    let at = (state.clock)() + delay;
    Ok(countersign_store::NewJob {
        key: job_key(change_id, onto),
        kind: EVALUATE.to_owned(),
        payload,
        run_after: at.as_millisecond(),
    })
}

/// The job kind that judges a change and posts its verdict.
pub const EVALUATE: &str = "evaluate";

/// Who the server records its verdicts at merge as.
pub const VERDICT_RECORDER: &str = "countersign-server";

/// A pull request judged: the evaluation, every name its author goes by, the SHA-256 of the
/// policy text at the base, and the change as judged.
struct Judged {
    eval: Evaluation,
    authors: Vec<String>,
    policy_sha256: String,
    change: Change,
    /// The base commit judged against (the policy's commit).
    base: String,
}

/// What an evaluation came to, for the log line and the job's outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Posted {
        state: &'static str,
        description: String,
    },
    Unchanged,
    /// A merged pull request's final verdict, logged as a `verdict` entry.
    Recorded {
        verdict: &'static str,
        entry: u64,
    },
    /// Not judged, and why (a closed pull request, a repository without a git directory).
    Skipped(String),
}

/// What an evaluation leaves in the store, written with its job finished in one commit
/// ([`countersign_store::AsyncStore::settle_evaluation`]): one durable write per judgement.
#[derive(Debug, Default)]
pub struct Settlement {
    pub evaluation: Option<EvaluationRow>,
    pub posted: Option<PostedStatus>,
}

/// Run one `evaluate` job: judge the pull request, post the verdict on its head, or on the
/// merge queue's commit `onto`. What it leaves in the store is returned, for the caller to
/// settle with the job.
pub async fn evaluate(
    state: &Arc<AppState>,
    change_id: &str,
    onto: Option<&str>,
) -> anyhow::Result<(Outcome, Settlement)> {
    let mut settlement = Settlement::default();
    let outcome = evaluate_into(state, change_id, onto, &mut settlement).await?;
    Ok((outcome, settlement))
}

async fn evaluate_into(
    state: &Arc<AppState>,
    change_id: &str,
    onto: Option<&str>,
    settlement: &mut Settlement,
) -> anyhow::Result<Outcome> {
    let Some((forge_name, delivery_id)) = state.store.pull_request(change_id).await? else {
        return Ok(Outcome::Skipped("no pull-request event has described it yet".into()));
    };
    let forge = Forge::from_name(&forge_name).with_context(|| format!("unknown forge {forge_name:?}"))?;
    let stored = state
        .store
        .delivery(&forge_name, &delivery_id)
        .await?
        .with_context(|| format!("delivery {forge_name}:{delivery_id} is not stored"))?;
    let body = stored.body.unwrap_or_default();
    let digest = countersign_store::evidence::sha256_hex(&body);
    anyhow::ensure!(
        digest == stored.sha256,
        "delivery {forge_name}:{delivery_id} does not match the SHA-256 its log entry names"
    );
    let Ok(Normalised::Event(event)) = webhook::normalise(forge, &stored.event, &body) else {
        anyhow::bail!("delivery {forge_name}:{delivery_id} no longer reads as an event");
    };
    let EventKind::PullRequest(pr) = &event.kind else {
        anyhow::bail!("delivery {forge_name}:{delivery_id} is not a pull-request event");
    };
    if matches!(pr.action, PullRequestAction::Closed) {
        return Ok(Outcome::Skipped("closed".into()));
    }
    let merged = matches!(pr.action, PullRequestAction::Merged { .. });
    let repository = event.repository_name().unwrap_or_default().to_owned();
    let Some(config) =
        state.config.repositories.iter().find(|r| r.forge == forge && r.name.eq_ignore_ascii_case(&repository))
    else {
        return Ok(Outcome::Skipped(format!("{repository} is not served")));
    };
    let Some(head) = pr.head_sha.clone() else {
        return Ok(Outcome::Skipped("the pull request names no head commit".into()));
    };
    // GitLab names the target branch, not a base commit: the base is then where the head
    // leaves the target branch (`judge` finds it).
    let base = pr.base_sha.clone();
    if base.is_none() && pr.base_ref.is_none() {
        return Ok(Outcome::Skipped("the pull request names no base commit or target branch".into()));
    }
    let Some(git_dir) = config.git_dir.clone() else {
        return Ok(Outcome::Skipped(format!("{repository} has no git-dir to read the policy and the commits from")));
    };

    let now = (state.clock)();
    let started = std::time::Instant::now();
    let judged = {
        let core = state.store.clone();
        let handle = tokio::runtime::Handle::current();
        let (config, pr, change_id, head) = (config.clone(), pr.clone(), change_id.to_owned(), head.clone());
        tokio::task::spawn_blocking(move || {
            let store = Store::on_runtime(core, handle);
            judge(&store, &config, &git_dir, &change_id, &pr, base.as_deref(), &head, now)
        })
        .await??
    };
    state.metrics.evaluation_latency(started.elapsed());
    if let Some(Judged { eval, authors, policy_sha256, change, base }) = &judged.2 {
        // At merge the verdict is final: it is logged (once per judgement) and not posted.
        if merged {
            let merge_commit = match &pr.action {
                PullRequestAction::Merged { merge_commit_sha, .. } => merge_commit_sha.as_deref(),
                _ => None,
            };
            let record = countersign_judge::verdict_record(
                change,
                merge_commit,
                eval,
                policy_sha256,
                "merge",
                VERDICT_RECORDER,
                now,
            );
            let entry = match state.store.record(&record).await? {
                countersign_store::AppendOutcome::Appended(i)
                | countersign_store::AppendOutcome::AlreadyRecorded(i) => i,
            };
            return Ok(Outcome::Recorded { verdict: eval.verdict.as_str(), entry });
        }
        // The evaluation names the policy version it used: the text at the base commit.
        let mut evaluation = serde_json::to_value(eval)?;
        evaluation["policy"] = serde_json::json!({ "path": config.policy, "commit": base, "sha256": policy_sha256 });
        settlement.evaluation = Some(EvaluationRow {
            change_id: change_id.to_owned(),
            repository: config.name.clone(),
            verdict: eval.verdict.as_str().to_owned(),
            category: eval.category.id.clone(),
            head_sha: head.clone(),
            authors: serde_json::to_string(authors)?,
            evaluated_at: String::new(),
            evaluation: evaluation.to_string(),
        });
    }

    let context = state.config.status_context.clone();
    let target_url = state.config.public_url.as_ref().map(|u| change_url(u, change_id));
    let (sha, description) = match onto {
        Some(sha) => (sha.to_owned(), truncate(&format!("merge queue, #{}: {}", pr.number, judged.1), 140)),
        None => (head, judged.1),
    };
    let details = judged.2.as_ref().map(|j| details_of(&j.eval)).unwrap_or_default();
    let post = StatusPost {
        sha,
        state: judged.0,
        context: context.clone(),
        description,
        target_url: target_url.clone(),
        details,
        change_id: change_id.to_owned(),
    };
    // GitLab asks external status check services for an answer on each new head.
    let asked = matches!(pr.action, PullRequestAction::StatusCheckRequested { .. });
    if already_posted(state, config, &post).await? {
        if asked {
            answer_status_checks(state, config, pr.number, &post).await?;
        }
        return Ok(Outcome::Unchanged);
    }
    let posted = async {
        post_status(state, config, forge, &post).await?;
        if forge == Forge::GitLab && onto.is_none() {
            answer_status_checks(state, config, pr.number, &post).await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = posted {
        // The job runs again; the change's page shows this judgement meanwhile.
        if let Some(evaluation) = &settlement.evaluation {
            state.store.save_evaluation(evaluation).await?;
        }
        return Err(e);
    }
    settlement.posted = Some(posted_row(config, &post));
    Ok(Outcome::Posted { state: post.state.as_str(), description: post.description })
}

/// Whether the same state, description and link are already posted under our context on
/// `post`'s commit: a verdict that did not change is not posted again.
pub(crate) async fn already_posted(
    state: &AppState,
    config: &RepositoryConfig,
    post: &StatusPost,
) -> anyhow::Result<bool> {
    let posted = state.store.posted_status(config.forge.name(), &config.name, &post.sha, &post.context).await?;
    Ok(posted.is_some_and(|posted| {
        posted.state == post.state.as_str()
            && posted.description == post.description
            && posted.target_url == post.target_url.clone().unwrap_or_default()
    }))
}

/// Note what was posted on `post`'s commit, for [`already_posted`] and tampering checks.
pub(crate) async fn remember_posted(
    state: &AppState,
    config: &RepositoryConfig,
    post: &StatusPost,
) -> anyhow::Result<()> {
    state.store.set_posted_status(&posted_row(config, post)).await?;
    Ok(())
}

/// The row that remembers `post` (its time is set when it is stored).
fn posted_row(config: &RepositoryConfig, post: &StatusPost) -> PostedStatus {
    PostedStatus {
        forge: config.forge.name().to_owned(),
        repository: config.name.clone(),
        sha: post.sha.clone(),
        context: post.context.clone(),
        state: post.state.as_str().to_owned(),
        description: post.description.clone(),
        target_url: post.target_url.clone().unwrap_or_default(),
        change_id: post.change_id.clone(),
        posted_at: String::new(),
    }
}

pub(crate) async fn post_status(
    state: &AppState,
    config: &RepositoryConfig,
    forge: Forge,
    post: &StatusPost,
) -> anyhow::Result<()> {
    let api_url = config
        .api_url
        .clone()
        .or_else(|| forge_api::default_api_url(forge).map(str::to_owned))
        .with_context(|| format!("{} needs `api-url` (the forge's API root)", config.name))?;
    let repository = config.name.clone();
    let now = (state.clock)();
    let post = post.clone();
    // A GitHub App posts a check run with its installation's token; a token sets a status.
    let (token, check_run) = match &config.github_app {
        Some(app) => (installation_token(state, forge, &api_url, app, now).await?, true),
        None => {
            let token = config
                .token
                .as_ref()
                .with_context(|| format!("{} has no `token`: the verdict cannot be posted", config.name))?;
            (token.value().to_vec(), false)
        }
    };
    let answer = tokio::task::spawn_blocking(move || {
        let client = forge_api::Client::new(forge, &api_url, &repository, &token, now.as_second());
        if check_run { client.post_check_run(&post) } else { client.post_status(&post) }
    })
    .await?;
    count_call(state, forge, answer.as_ref().map(|a| a.rate_remaining));
    answer?;
    Ok(())
}

/// GitLab's external status checks: each check of the merge request whose `external_url` is
/// this server (`public-url`) gets the verdict as its status (`passed`, `failed`,
/// `pending`) for the head. Without `public-url` there is no way to tell ours: nothing.
async fn answer_status_checks(
    state: &AppState,
    config: &RepositoryConfig,
    iid: u64,
    post: &StatusPost,
) -> anyhow::Result<()> {
    let Some(public_url) = state.config.public_url.clone() else { return Ok(()) };
    let api_url = config
        .api_url
        .clone()
        .or_else(|| forge_api::default_api_url(Forge::GitLab).map(str::to_owned))
        .with_context(|| format!("{} needs `api-url` (the forge's API root)", config.name))?;
    let token = config
        .token
        .as_ref()
        .with_context(|| format!("{} has no `token` to answer its status checks with", config.name))?
        .value()
        .to_vec();
    let (repository, now, post, etags) = (config.name.clone(), (state.clock)(), post.clone(), state.etags.clone());
    let answered = tokio::task::spawn_blocking(move || -> Result<(usize, Option<u64>), forge_api::ApiError> {
        let client =
            forge_api::Client::new(Forge::GitLab, &api_url, &repository, &token, now.as_second()).with_etags(etags);
        let (checks, mut remaining) = client.status_checks(iid)?;
        let mut answered = 0;
        for check in checks.iter().filter(|c| c.external_url.trim_end_matches('/').starts_with(&public_url)) {
            remaining = client.answer_status_check(iid, check.id, &post.sha, post.state)?.rate_remaining.or(remaining);
            answered += 1;
        }
        Ok((answered, remaining))
    })
    .await?;
    count_call(state, Forge::GitLab, answered.as_ref().map(|(_, r)| *r));
    let (answered, _) = answered?;
    tracing::debug!(iid, answered, "external status checks answered");
    Ok(())
}

/// The installation's token: cached, or minted from a fresh app JWT.
pub(crate) async fn installation_token(
    state: &AppState,
    forge: Forge,
    api_url: &str,
    app: &crate::config::GitHubApp,
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<u8>> {
    if let Some(token) = state.installation_tokens.get(api_url, app.installation_id, now) {
        return Ok(token.into_bytes());
    }
    let jwt = forge_api::app_jwt(app.app_id, app.private_key.value(), now.as_second())
        .map_err(|e| anyhow::anyhow!("GitHub App {}: {e}", app.app_id))?;
    let (api, installation) = (api_url.to_owned(), app.installation_id);
    let answer = tokio::task::spawn_blocking(move || {
        let client = forge_api::Client::new(forge, &api, "", jwt.as_bytes(), now.as_second());
        client.installation_token(installation)
    })
    .await?;
    count_call(state, forge, answer.as_ref().map(|_| None));
    let (token, expires) = answer?;
    state.installation_tokens.put(api_url, app.installation_id, token.clone(), expires);
    Ok(token.into_bytes())
}

/// One forge call in `/metrics`, with the rate-limit headroom it reported.
pub(crate) fn count_call(state: &AppState, forge: Forge, answer: Result<Option<u64>, &forge_api::ApiError>) {
    match answer {
        Ok(remaining) => state.metrics.forge_call(forge.name(), "ok", remaining),
        Err(forge_api::ApiError::RateLimited { .. }) => state.metrics.forge_call(forge.name(), "rate_limited", Some(0)),
        Err(_) => state.metrics.forge_call(forge.name(), "error", None),
    }
}

/// Every requirement with its status, evidence and what is missing: a check run's text.
pub fn details_of(eval: &Evaluation) -> String {
    let mut text = format!(
        "**{}**: {} ({}), category {}\n\n| Requirement | Status | Evidence |\n|---|---|---|\n",
        eval.verdict.as_str(),
        eval.change.id,
        eval.change.title,
        eval.category.name
    );
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for r in &eval.requirements {
        let status =
            serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let mut evidence = r.evidence.join("; ");
        if let Some(detail) = &r.detail {
            if !evidence.is_empty() {
                evidence.push_str(". ");
            }
            evidence.push_str(detail);
        }
        text.push_str(&format!(
            "| **{}** {} ({}) | {} | {} |\n",
            cell(&r.id),
            cell(&r.description),
            cell(&r.required_by),
            status,
            cell(&evidence)
        ));
    }
    text
}

/// The change's page on this server.
pub fn change_url(public_url: &str, change_id: &str) -> String {
    format!("{}/changes/{}", public_url.trim_end_matches('/'), encode_component(change_id))
}

/// Percent-encode everything but RFC 3986's unreserved characters: a value that is safe as
/// one path segment or query value.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Judge a pull request: policy and CODEOWNERS at `base`, commits and paths from git, the
/// forge's words from `pr`, evidence from the log. Blocking (git, the log scan).
#[allow(clippy::too_many_arguments)]
fn judge(
    store: &Store,
    config: &RepositoryConfig,
    git_dir: &Path,
    change_id: &str,
    pr: &PullRequest,
    base: Option<&str>,
    head: &str,
    now: Timestamp,
) -> anyhow::Result<(StatusState, String, Option<Judged>)> {
    let mut repo = countersign_git::Repository::open(git_dir)
        .with_context(|| format!("cannot open the git directory {}", git_dir.display()))?;
    if !repo.has_commit(head) || base.is_none_or(|b| !repo.has_commit(b)) {
        fetch(git_dir, config.forge, pr)?;
        repo = countersign_git::Repository::open(git_dir)?;
    }
    let base = match base {
        Some(base) => base.to_owned(),
        None => {
            let target = pr.base_ref.as_deref().context("no base commit and no target branch")?;
            merge_base(git_dir, &format!("refs/countersign/base/{target}"), head)?
        }
    };
    let base = base.as_str();
    let policy_name = format!("{}@{}:{}", config.name, short(base), config.policy);
    let Some(text) = repo.read_blob_at(base, &config.policy)? else {
        return Ok((StatusState::Failure, format!("no policy: {} is missing at the base commit", config.policy), None));
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut policy = match countersign_policy::parse_with(
        &policy_name,
        &text,
        &countersign_policy::ParseOptions { today: Some(today) },
    ) {
        Ok(checked) => checked.policy,
        Err(failed) => {
            let first = failed.errors.first().map_or_else(String::new, |d| format!(": {}", d.message));
            return Ok((
                StatusState::Failure,
                truncate(&format!("the policy at the base commit has {} error(s){first}", failed.errors.len()), 140),
                None,
            ));
        }
    };
    countersign_judge::import_codeowners(&mut policy, |file| repo.read_blob_at(base, file).ok().flatten());

    let mut change = repo
        .pr_change_with(base, head, &countersign_judge::read_options(&policy))
        .with_context(|| format!("cannot read the commits between {base} and {head}"))?;
    countersign_judge::merge_forge(&mut change, forge_change(change_id, pr, head));
    let (recorded, exceptions) = store.evidence_for_and_kinds(&[change_id], countersign_judge::exceptions::KINDS)?;
    for e in recorded {
        countersign_judge::add_recorded(&mut change, &e);
    }
    let exceptions = countersign_judge::exceptions::exceptions_in(exceptions, &policy);
    countersign_judge::exceptions::add_recorded_exceptions(&mut policy, &exceptions);
    let engine = Engine::new(&policy);
    let base_facts = countersign_judge::base_facts(&engine, &repo, &change, base);
    let mut eval = engine.evaluate_with_base(&change, &base_facts, &EvalOptions { now: Some(now) });
    // An open pull request has shipped nowhere yet: its state runs from request to build.
    eval.state = Some(countersign_engine::lifecycle::state_of(&change, &eval, &[]));
    let (state, description) = status_of(&eval);
    // Every name the author goes by, so that the API can refuse their approval of it.
    let mut authors: Vec<String> = change
        .author
        .iter()
        .flat_map(|a| [a.login.clone(), a.email.clone()])
        .flatten()
        .chain(eval.change.author.clone().filter(|a| !a.ends_with("(not in policy)")))
        .collect();
    authors.sort();
    authors.dedup();
    let policy_sha256 = countersign_store::evidence::sha256_hex(text.as_bytes());
    Ok((state, description, Some(Judged { eval, authors, policy_sha256, change, base: base.to_owned() })))
}

/// What the forge said about the pull request, as the engine reads it. The server sees
/// every review and check as it happens, so their absence is evidence.
fn forge_change(change_id: &str, pr: &PullRequest, head: &str) -> Change {
    Change {
        id: change_id.to_owned(),
        pr_number: Some(pr.number),
        title: pr.title.clone().unwrap_or_default(),
        body: pr.body.clone().unwrap_or_default(),
        labels: pr.labels.clone().unwrap_or_default(),
        author: pr.author.as_ref().map(|login| Identity { name: None, email: None, login: Some(login.clone()) }),
        branch: pr.base_ref.clone(),
        head_commit: Some(head.to_owned()),
        completeness: Completeness {
            reviews: true,
            checks: true,
            description: pr.body.is_some(),
            labels: pr.labels.is_some(),
        },
        ..Change::default()
    }
}

/// The verdict as a status: its state and a description under a forge's 140 characters.
pub fn status_of(eval: &Evaluation) -> (StatusState, String) {
    let total = eval.requirements.len();
    let met = eval.requirements.iter().filter(|r| matches!(r.status, Status::Met | Status::Waived)).count();
    let open: Vec<&str> = eval
        .requirements
        .iter()
        .filter(|r| matches!(r.status, Status::Missing | Status::Unknown))
        .map(|r| r.id.as_str())
        .collect();
    let state = match eval.verdict {
        Verdict::Compliant => StatusState::Success,
        Verdict::EvidenceMissing => StatusState::Pending,
        Verdict::Violation => StatusState::Failure,
    };
    let mut text = format!("{}: {met} of {total} requirements met", eval.verdict.as_str());
    if !open.is_empty() {
        text.push_str("; open: ");
        text.push_str(&open.join(", "));
    }
    (state, truncate(&text, 140))
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Bring a pull request's head and base into the git directory from its `origin`.
fn fetch(git_dir: &Path, forge: Forge, pr: &PullRequest) -> anyhow::Result<()> {
    let head_ref = match forge {
        Forge::GitLab => format!("refs/merge-requests/{}/head", pr.number),
        Forge::GitHub | Forge::Gitea => format!("refs/pull/{}/head", pr.number),
    };
    let mut refspecs = vec![format!("+{head_ref}:refs/countersign/pull/{}/head", pr.number)];
    if let Some(base) = &pr.base_ref {
        refspecs.push(format!("+refs/heads/{base}:refs/countersign/base/{base}"));
    }
    fetch_from_origin(git_dir, &refspecs, &head_ref)
}

/// `git fetch origin REFSPECS` into the git directory; `what` names it in the error.
pub(crate) fn fetch_from_origin(git_dir: &Path, refspecs: &[String], what: &str) -> anyhow::Result<()> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["fetch", "--quiet", "--no-tags", "origin"])
        .args(refspecs)
        .output()
        .context("cannot run git fetch")?;
    anyhow::ensure!(
        out.status.success(),
        "git fetch of {what} from origin failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Where `head` leaves `target` (`git merge-base`): a merge request's base when the forge
/// names only its target branch.
fn merge_base(git_dir: &Path, target: &str, head: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["merge-base", target, head])
        .output()
        .context("cannot run git merge-base")?;
    anyhow::ensure!(
        out.status.success(),
        "{head} has no common ancestor with {target}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(crate) fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
