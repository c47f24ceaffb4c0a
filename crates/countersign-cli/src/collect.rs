//! `countersign collect NAME`: run a forge-settings collector on demand (S001-06, S003-09).
//! `branch-protection` reads the protection of each protected branch of the repositories in
//! the server's configuration (GitHub classic protection and rulesets, GitLab protected
//! branches with approval rules and external status checks, Gitea/Forgejo branch protection
//! rules) and compares it with the policy (required status checks include every gate, enough
//! required approvals, no force pushes, deletions or direct pushes, no admin bypass, code
//! owners and signed commits where the policy asks, no bypass actor but those the
//! configuration's `bypass-allowed` lists). Each run is a `collector-run` log entry with the
//! SHA-256 of every answer read and the findings.
//!
//! `merge-activity` and `deployments` snapshot the last complete cadence window of the
//! repository at hand (`--repo`): the changes merged into its default branch with their
//! category and verdict, or the deploys recorded, signed into one `collector-run` entry per
//! repository and window (the server's sweep writes the same entry, once).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use countersign_engine::drift::Finding;
use countersign_server::collectors;
use countersign_store::RecordRequest;
use serde::Serialize;

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_OK, EXIT_VIOLATIONS, Global, PolicyArgs};

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  countersign collect branch-protection --config countersign-server.toml\n\nThe repositories, their forge's API and token come from the server's configuration. The\npolicy is read from each repository's git-dir (its default branch), else from --policy.\nBranches: --branch, else the policy's [branch] protected (default main).\n\nForges read: GitHub (classic branch protection, the active rulesets that apply to the\nbranch and their bypass actors), GitLab (protected branches, approval rules, external\nstatus checks), Gitea and Forgejo (branch protection rules). Bypass actors are drift\nunless the repository's `bypass-allowed` lists them (e.g. [\"Team:234\"]).\n\n  countersign collect merge-activity [--now 2026-06-02T08:00:00Z]\n  countersign collect deployments\n\nThe activity collectors read the repository at hand (--repo) and the evidence store, not\nthe forge: each signs a snapshot of its last complete window (the cadence in the policy's\n[[collectors]], else daily for merge-activity and weekly for deployments, in UTC) into one\nlog entry per repository and window; run again, it says the window is already logged.\n\nExit codes: 0 no drift (or a snapshot logged), 1 drift found, 2 could not collect."
)]
pub struct CollectArgs {
    /// The collector to run.
    #[arg(value_enum)]
    pub collector: Collector,
    /// The server's configuration file (repositories, API URLs, tokens).
    #[arg(long, value_name = "FILE", env = "COUNTERSIGN_SERVER_CONFIG", default_value = "countersign-server.toml")]
    pub config: PathBuf,
    /// Only this repository of the configuration.
    #[arg(long)]
    pub repository: Option<String>,
    /// Only this branch (default: the policy's protected branches).
    #[arg(long)]
    pub branch: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Collector {
    /// The forge's protection of each protected branch, against the policy.
    BranchProtection,
    /// A signed snapshot of the changes merged in the last complete window.
    MergeActivity,
    /// A signed snapshot of the deploys recorded in the last complete window.
    Deployments,
}

#[derive(Serialize)]
struct Run {
    repository: String,
    branch: String,
    protection: countersign_engine::drift::BranchProtection,
    findings: Vec<Finding>,
    entry: u64,
}

pub fn run(args: CollectArgs, g: &Global) -> anyhow::Result<u8> {
    match args.collector {
        Collector::BranchProtection => branch_protection(args, g),
        Collector::MergeActivity => activity(collectors::MERGE_ACTIVITY, args, g),
        Collector::Deployments => activity(collectors::DEPLOYMENTS, args, g),
    }
}

#[derive(Serialize)]
struct Snapshot {
    repository: String,
    window: String,
    entry: u64,
    /// False when this window's snapshot was already in the log (it is not taken twice).
    new: bool,
    snapshot: countersign_store::evidence::ActivitySnapshot,
}

/// `merge-activity` / `deployments`: snapshot the last complete window and log it.
fn activity(name: &str, args: CollectArgs, g: &Global) -> anyhow::Result<u8> {
    let history = crate::audit::open_history(args.policy.policy.as_deref(), g)?;
    let now = g.as_of();
    let cadence = history.policy.docs.collectors.iter().find(|c| c.name == name).map(|c| c.cadence.clone());
    let cadence = cadence.unwrap_or_else(|| collectors::default_cadence(name).to_owned());
    let (window, from, to) = collectors::previous_window(&cadence, now);
    let (changes, evals) = if name == collectors::MERGE_ACTIVITY {
        let walk = countersign_git::WalkOptions {
            branch: args.branch.clone(),
            since: Some(from),
            // `until` is inclusive in the walk: stop a second before the window's end.
            until: Some(to - jiff::SignedDuration::from_secs(1)),
            use_cache: true,
            read: countersign_judge::read_options(&history.policy),
            ..Default::default()
        };
        let (walk, evals) = history.judge(&walk, now, false)?;
        (walk.changes, evals)
    } else {
        (Vec::new(), Vec::new())
    };
    let deploys =
        if name == collectors::DEPLOYMENTS { history.store.evidence_of_kinds(&["deploy"])? } else { Vec::new() };
    let repository = match args.repository.clone().or_else(|| history.repository.clone()) {
        Some(r) => r,
        None => crate::recorded::repository_key(&history.repo),
    };
    let snapshot = collectors::activity_snapshot(name, &repository, (from, to), &changes, &evals, &deploys);
    history.store.close();
    let ctx = crate::store::context(g);
    let store =
        ctx.open_for_writing().context("collector runs are logged\nhint: create the store with `countersign init`")?;
    let outcome = store.record(&RecordRequest {
        change: None,
        recorded_by: ctx.default_recorder().unwrap_or_else(|| "countersign-collect".to_owned()),
        recorded_at: countersign_store::whole_second(now),
        idempotency_key: Some(collectors::run_key(name, &repository, &window)),
        evidence: collectors::activity_run(name, &repository, snapshot.clone()),
    })?;
    store.close();
    // A window already logged keeps its first snapshot (the key names the window).
    let (entry, new) = match outcome {
        countersign_store::AppendOutcome::Appended(i) => (i, true),
        countersign_store::AppendOutcome::AlreadyRecorded(i) => (i, false),
    };
    let run = Snapshot { repository, window, entry, new, snapshot };
    match g.format {
        Format::Json => print!(
            "{}",
            output::to_json(&serde_json::json!({
                "schema": "countersign.collect", "version": SCHEMA_VERSION, "as_of": now,
                "collector": name, "runs": [run],
            }))?
        ),
        _ => {
            let what = if name == collectors::MERGE_ACTIVITY {
                format!("{} change(s) merged", run.snapshot.merges.len())
            } else {
                format!("{} deploy(s)", run.snapshot.deploys.len())
            };
            let logged = if run.new { "logged as" } else { "already logged as" };
            println!(
                "{name} {} {} ({} to {}): {what}, {logged} entry #{}",
                run.repository, run.window, run.snapshot.from, run.snapshot.to, run.entry
            );
        }
    }
    Ok(EXIT_OK)
}

fn branch_protection(args: CollectArgs, g: &Global) -> anyhow::Result<u8> {
    let (config, errors) = crate::serve::read_config(&args.config)?;
    let Some(config) = config.filter(|_| errors == 0) else {
        bail!("{}: {errors} error(s) in the configuration", args.config.display());
    };
    let repositories: Vec<_> = config
        .repositories
        .iter()
        .filter(|r| args.repository.as_deref().is_none_or(|name| r.name.eq_ignore_ascii_case(name)))
        .collect();
    if repositories.is_empty() {
        bail!("the configuration serves no repository {:?}", args.repository.as_deref().unwrap_or_default());
    }
    let ctx = crate::store::context(g);
    let store =
        ctx.open_for_writing().context("collector runs are logged\nhint: create the store with `countersign init`")?;
    let now = g.as_of();
    let mut runs = Vec::new();
    for repo in repositories {
        let policy = match &repo.git_dir {
            Some(git_dir) => match countersign_server::governed::open(&store, repo, git_dir, now)? {
                Ok(governed) => governed.policy,
                Err(why) => bail!("{}: {why}", repo.name),
            },
            None => {
                let src = crate::policy_source::read(args.policy.policy.as_deref(), &g.repo())?;
                crate::policy_source::load(&src, g.today())?.policy
            }
        };
        let branches = match &args.branch {
            Some(b) => vec![b.clone()],
            None => collectors::protected_branches(&policy),
        };
        for branch in branches {
            let (protection, findings, evidence) = collectors::branch_protection(repo, &policy, &branch, now)?;
            let outcome = store.record(&RecordRequest {
                change: None,
                recorded_by: ctx.default_recorder().unwrap_or_else(|| "countersign-collect".to_owned()),
                recorded_at: countersign_store::whole_second(crate::wall_clock()),
                idempotency_key: None,
                evidence,
            })?;
            let entry = match outcome {
                countersign_store::AppendOutcome::Appended(i)
                | countersign_store::AppendOutcome::AlreadyRecorded(i) => i,
            };
            runs.push(Run { repository: repo.name.clone(), branch, protection, findings, entry });
        }
    }
    store.close();
    let drift = runs.iter().any(|r| !r.findings.is_empty());
    match g.format {
        Format::Json => print!(
            "{}",
            output::to_json(&serde_json::json!({
                "schema": "countersign.collect", "version": SCHEMA_VERSION, "as_of": now,
                "collector": "branch-protection", "runs": runs,
            }))?
        ),
        _ => {
            for r in &runs {
                let state = if r.findings.is_empty() { "OK   " } else { "DRIFT" };
                println!("{state} {}:{} (logged as entry #{})", r.repository, r.branch, r.entry);
                for f in &r.findings {
                    println!("      {}: {}", f.id, f.message);
                }
            }
        }
    }
    Ok(if drift { EXIT_VIOLATIONS } else { EXIT_OK })
}
