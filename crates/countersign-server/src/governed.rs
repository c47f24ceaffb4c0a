//! A served repository as the server judges it: its git directory, and the policy read
//! from its default branch (never from a pull request's head), with CODEOWNERS and the
//! exceptions recorded in the log folded in. The deploy gate and the obligations share it.

use std::path::Path;

use anyhow::Context as _;
use countersign_policy::model::Policy;
use countersign_store::Store;
use jiff::Timestamp;

use crate::config::RepositoryConfig;

/// A repository opened for judging.
pub struct Governed {
    pub repo: countersign_git::Repository,
    pub policy: Policy,
    /// The policy's text, for its digest.
    pub text: String,
    /// The default branch (`HEAD`, `main` or `master`) and its tip commit.
    pub branch: &'static str,
    pub tip: String,
}

/// Open `git_dir` and read its policy at the default branch's tip, as of `now`. `Err(why)`
/// (inside `Ok`) is a repository that cannot be judged (no default branch, no policy, a
/// policy with errors): a fact to report, not a failure to retry.
pub fn open(
    store: &Store,
    config: &RepositoryConfig,
    git_dir: &Path,
    now: Timestamp,
) -> anyhow::Result<Result<Governed, String>> {
    let repo = countersign_git::Repository::open(git_dir)
        .with_context(|| format!("cannot open the git directory {}", git_dir.display()))?;
    with_repo(store, config, repo, now)
}

/// [`open`] for a repository already opened.
pub fn with_repo(
    store: &Store,
    config: &RepositoryConfig,
    repo: countersign_git::Repository,
    now: Timestamp,
) -> anyhow::Result<Result<Governed, String>> {
    let Some((branch, tip)) = default_branch(&repo) else {
        return Ok(Err("the git-dir has no default branch (HEAD, main or master) to read the policy from".into()));
    };
    Ok(policy_at(store, config, &repo, &tip, now)?.map(|(policy, text)| Governed { repo, policy, text, branch, tip }))
}

/// The default branch and its tip: what HEAD names, else `main` or `master` (a bare
/// mirror's HEAD may name a branch it does not have).
pub fn default_branch(repo: &countersign_git::Repository) -> Option<(&'static str, String)> {
    ["HEAD", "main", "master"].into_iter().find_map(|b| repo.branch_tip(b).map(|t| (b, t)))
}

/// The repository's policy as the file read at `rev` (with CODEOWNERS there, and the
/// exceptions recorded in the log) says it, as of `now`, and its text. `Err(why)` inside `Ok`:
/// no policy at `rev`, or one with errors.
pub fn policy_at(
    store: &Store,
    config: &RepositoryConfig,
    repo: &countersign_git::Repository,
    rev: &str,
    now: Timestamp,
) -> anyhow::Result<Result<(Policy, String), String>> {
    let Some(text) = repo.read_blob_at(rev, &config.policy)? else {
        return Ok(Err(format!("{} is missing at {}", config.policy, rev.get(..12).unwrap_or(rev))));
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let name = format!("{}:{}", config.name, config.policy);
    let mut policy =
        match countersign_policy::parse_with(&name, &text, &countersign_policy::ParseOptions { today: Some(today) }) {
            Ok(checked) => checked.policy,
            Err(failed) => return Ok(Err(format!("the policy has {} error(s)", failed.errors.len()))),
        };
    countersign_judge::import_codeowners(&mut policy, |file| repo.read_blob_at(rev, file).ok().flatten());
    let exceptions = countersign_judge::exceptions::recorded_exceptions(store, &policy)?;
    countersign_judge::exceptions::add_recorded_exceptions(&mut policy, &exceptions);
    Ok(Ok((policy, text)))
}
