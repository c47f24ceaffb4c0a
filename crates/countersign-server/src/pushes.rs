//! Pushes to a protected branch, judged as they land.
//!
//! A pull request is judged while it is open and its verdict logged at merge
//! ([`crate::verdict`]). A commit pushed straight onto a protected branch never passed
//! through that: it is a direct push, or a bypass of the branch protection (S003-08: a
//! ruleset or protection override shows up as exactly such a push, and the policy may treat
//! it as an emergency, with obligations whose clocks start now). So every push delivery to
//! a served repository enqueues a `judge-push` job, which:
//!
//! 1. skips a push to a branch the policy does not protect (`[branch] protected`; without
//!    that list, `main` and `master`), a created or deleted branch, and a tag, before
//!    fetching anything;
//! 2. fetches the branch from the forge's git when the pushed commits are not in the git
//!    directory yet;
//! 3. reads the policy **as it stood before the push** (at `before`), walks the pushed
//!    first-parent commits (`before..after`) as `countersign audit` would, and judges them
//!    with the evidence the log holds;
//! 4. logs each direct push's verdict (a `verdict` entry judged at `push`) and posts it as a
//!    commit status on that commit. Merges of pull requests in the push are left to the
//!    pull request's own verdict.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use countersign_engine::report::Evaluation;
use countersign_forge::webhook::{Push, is_zero_sha};
use countersign_policy::model::{ChangeKind, Policy};
use countersign_store::Store;
use jiff::Timestamp;

use crate::AppState;
use crate::config::RepositoryConfig;
use crate::forge_api::StatusPost;
use crate::verdict::{self, VERDICT_RECORDER, short};

/// The job kind that judges a push.
pub const JUDGE_PUSH: &str = "judge-push";

/// The payload of a `judge-push` job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushJob {
    pub repository: String,
    pub branch: String,
    pub before: String,
    pub after: String,
    /// The delivery that told of it (`github:<id>`).
    pub delivery: String,
}

/// The job that judges `push` on `repository`, or `None` for what is never judged: a tag, a
/// branch created or deleted (there is no `before..after` to walk).
pub fn push_job(
    now: Timestamp,
    repository: &str,
    push: &Push,
    delivery: &str,
) -> anyhow::Result<Option<countersign_store::NewJob>> {
    let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else { return Ok(None) };
    let (Some(before), Some(after)) = (push.before.as_deref(), push.after.as_deref()) else { return Ok(None) };
    if push.created || push.deleted || is_zero_sha(before) || is_zero_sha(after) {
        return Ok(None);
    }
    let job = PushJob {
        repository: repository.to_owned(),
        branch: branch.to_owned(),
        before: before.to_owned(),
        after: after.to_owned(),
        delivery: delivery.to_owned(),
    };
    Ok(Some(countersign_store::NewJob {
        key: format!("{JUDGE_PUSH}:{repository}:{after}"),
        kind: JUDGE_PUSH.to_owned(),
        payload: serde_json::to_string(&job)?,
        run_after: now.as_millisecond(),
    }))
}

/// A direct push judged: the commit, its evaluation, and the verdict's log entry.
struct PushVerdict {
    commit: String,
    eval: Evaluation,
    entry: u64,
}

/// Run a `judge-push` job. Returns what it did, for the log line.
pub async fn judge(state: &Arc<AppState>, job: &PushJob) -> anyhow::Result<String> {
    let Some(config) = state.config.repositories.iter().find(|r| r.name.eq_ignore_ascii_case(&job.repository)).cloned()
    else {
        return Ok(format!("{} is not served", job.repository));
    };
    let Some(git_dir) = config.git_dir.clone() else {
        return Ok(format!("{} has no git-dir to read the pushed commits from", config.name));
    };
    let now = (state.clock)();
    let judged = {
        let (core, handle) = (state.store.clone(), tokio::runtime::Handle::current());
        let (config, job) = (config.clone(), job.clone());
        tokio::task::spawn_blocking(move || {
            judge_blocking(&Store::on_runtime(core, handle), &config, &git_dir, &job, now)
        })
        .await??
    };
    let verdicts = match judged {
        Ok(verdicts) => verdicts,
        Err(why) => return Ok(why),
    };
    for v in &verdicts {
        let (status, description) = verdict::status_of(&v.eval);
        let post = StatusPost {
            sha: v.commit.clone(),
            state: status,
            context: state.config.status_context.clone(),
            description,
            target_url: state.config.public_url.as_ref().map(|u| verdict::change_url(u, &v.eval.change.id)),
            details: verdict::details_of(&v.eval),
            change_id: v.eval.change.id.clone(),
        };
        if !verdict::already_posted(state, &config, &post).await? {
            verdict::post_status(state, &config, config.forge, &post).await?;
            verdict::remember_posted(state, &config, &post).await?;
        }
    }
    let judged: Vec<String> = verdicts
        .iter()
        .map(|v| format!("{} {} (entry #{})", short(&v.commit), v.eval.verdict.as_str(), v.entry))
        .collect();
    Ok(match judged.is_empty() {
        true => format!("no direct push in {}..{}", short(&job.before), short(&job.after)),
        false => format!("direct push(es) judged: {}", judged.join(", ")),
    })
}

/// Whether a push to `branch` is judged: the policy protects it, or (naming no protected
/// branch) it is `main` or `master`.
fn protected(policy: &Policy, branch: &str) -> bool {
    match policy.branch.protected.is_empty() {
        true => matches!(branch, "main" | "master"),
        false => policy.branch.protected.iter().any(|p| p == branch),
    }
}

/// Judge the pushed commits and log each direct push's verdict. `Err(why)` inside `Ok`: not
/// judged, for a reason to report rather than retry.
fn judge_blocking(
    store: &Store,
    config: &RepositoryConfig,
    git_dir: &Path,
    job: &PushJob,
    now: Timestamp,
) -> anyhow::Result<Result<Vec<PushVerdict>, String>> {
    let open = || {
        countersign_git::Repository::open(git_dir)
            .with_context(|| format!("cannot open the git directory {}", git_dir.display()))
    };
    let mut repo = open()?;
    let policy_at = |repo: &countersign_git::Repository, rev: &str| {
        crate::governed::policy_at(store, config, repo, rev, now)
            .map(|found| found.map_err(|why| format!("not judged: {why}")))
    };
    // Whether the branch is protected is settled before anything is fetched (a push to a
    // topic branch fetches nothing): by the policy at `before` when the git directory has
    // it, else by the default branch's.
    let has_before = repo.has_commit(&job.before);
    let decided_at = if has_before {
        job.before.clone()
    } else {
        match crate::governed::default_branch(&repo) {
            Some((_, tip)) => tip,
            None => return Ok(Err("not judged: the git-dir has no default branch to read the policy from".into())),
        }
    };
    let found = match policy_at(&repo, &decided_at)? {
        Ok(found) => found,
        Err(why) => return Ok(Err(why)),
    };
    if !protected(&found.0, &job.branch) {
        return Ok(Err(format!("not judged: the policy does not protect {}", job.branch)));
    }
    if !repo.has_commit(&job.after) || !has_before {
        let refspec = format!("+refs/heads/{0}:refs/countersign/pushed/{0}", job.branch);
        verdict::fetch_from_origin(git_dir, &[refspec], &job.branch)?;
        repo = open()?;
        anyhow::ensure!(
            repo.has_commit(&job.after),
            "{} is not on {} at the forge's git (origin) either",
            short(&job.after),
            job.branch
        );
    }
    // The policy as it stood before the push: a push cannot loosen the rules it is judged by.
    let (policy, text) = if has_before {
        found
    } else {
        match policy_at(&repo, &job.before)? {
            Ok(found) => found,
            Err(why) => return Ok(Err(why)),
        }
    };
    let walk = countersign_git::WalkOptions {
        range: Some(format!("{}..{}", job.before, job.after)),
        use_cache: true,
        read: countersign_judge::read_options(&policy),
        ..Default::default()
    };
    let (walk, evals) = countersign_judge::judge_walk(
        &repo,
        &policy,
        &walk,
        Some((store, Some(config.name.as_str()))),
        &countersign_judge::HistoryOptions { now, console: false, policy_path: Some(&config.policy) },
        &|_| {},
    )?;
    let policy_sha256 = countersign_store::evidence::sha256_hex(text.as_bytes());
    let mut out = Vec::new();
    for (change, eval) in walk.changes.iter().zip(evals) {
        if change.kind != Some(ChangeKind::DirectPush) {
            continue;
        }
        let record =
            countersign_judge::verdict_record(change, None, &eval, &policy_sha256, "push", VERDICT_RECORDER, now);
        let entry = match store.record(&record)? {
            countersign_store::AppendOutcome::Appended(i) | countersign_store::AppendOutcome::AlreadyRecorded(i) => i,
        };
        out.push(PushVerdict { commit: change.id.clone(), eval, entry });
    }
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(git_ref: &str, before: &str, after: &str) -> Push {
        Push {
            git_ref: git_ref.into(),
            before: Some(before.into()),
            after: Some(after.into()),
            created: false,
            deleted: false,
            forced: None,
            pusher: None,
            commits: Vec::new(),
            total_commits: None,
        }
    }

    #[test]
    fn tags_and_created_or_deleted_branches_are_not_judged() {
        let zero = "0000000000000000000000000000000000000000";
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let now = Timestamp::UNIX_EPOCH;
        assert!(push_job(now, "acme/app", &push("refs/tags/v1", &a, &b), "github:1").unwrap().is_none());
        assert!(push_job(now, "acme/app", &push("refs/heads/main", zero, &b), "github:1").unwrap().is_none());
        assert!(push_job(now, "acme/app", &push("refs/heads/main", &a, zero), "github:1").unwrap().is_none());
        let job = push_job(now, "acme/app", &push("refs/heads/main", &a, &b), "github:1").unwrap().unwrap();
        assert_eq!(job.key, format!("judge-push:acme/app:{b}"));
        let payload: PushJob = serde_json::from_str(&job.payload).unwrap();
        assert_eq!((payload.branch.as_str(), payload.before.as_str()), ("main", a.as_str()));
    }
}
