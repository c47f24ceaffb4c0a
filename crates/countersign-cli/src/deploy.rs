//! `countersign deploy check|record`: the deploy gate. `check` runs right before a deploy
//! and decides whether it may go ahead; `record` runs after it and logs what happened.
//! Every decision is itself a log entry, so an auditor sees every allowed and refused deploy.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use countersign_engine::deploy::{Decision, DeployDecision, DeployRequest, Worktree, judge_completion};
use countersign_engine::report::{RequirementResult, Status};
use countersign_policy::model::Policy;
use countersign_store::evidence::{DeployStatus, HealthCheck};
use countersign_store::{Evidence, RecordRequest, Store};

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_FAILURE, EXIT_OK, EXIT_VIOLATIONS, Global, PolicyArgs, policy_source};

#[derive(Subcommand, Debug)]
pub enum DeployCommand {
    /// Decide whether a deploy may go ahead (run it right before deploying), and log the
    /// decision.
    Check(CheckArgs),
    /// Log a deploy that happened (run it right after deploying), with its outcome.
    Record(RecordArgs),
}

/// What identifies a deploy, for both subcommands.
#[derive(Args, Debug, Clone)]
pub struct DeployArgs {
    /// The environment, as the policy's `[deploy] environments` names it.
    #[arg(long)]
    pub environment: String,
    /// The artifact's digest, `sha256:<64 hex>`.
    #[arg(long, value_name = "sha256:DIGEST", value_parser = parse_digest)]
    pub artifact: Option<String>,
    /// The commit the artifact was built from (any revision: a SHA, a tag, HEAD).
    #[arg(long, value_name = "REV")]
    pub commit: String,
    /// The stage of a staged release (the policy's `[deploy] stages`), by name or number.
    #[arg(long)]
    pub stage: Option<String>,
    /// The release the stage belongs to (a tag, a version).
    #[arg(long)]
    pub release: Option<String>,
    /// Who started the deploy (an email or login of the policy).
    #[arg(long, value_name = "WHO")]
    pub triggered_by: Option<String>,
    /// The workflow or script that runs it, e.g. `.github/workflows/release.yml`.
    #[arg(long, value_name = "WORKFLOW")]
    pub via: Option<String>,
    /// Who records this entry (default: $USER, then git's user.email).
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  countersign deploy check --environment staging --artifact sha256:$DIGEST --commit $GITHUB_SHA\n  countersign deploy check --environment production --artifact sha256:$DIGEST --commit $GITHUB_SHA \\\n      --triggered-by \"$GITHUB_ACTOR\" --event \"$GITHUB_EVENT_NAME\" --via .github/workflows/release.yml\n  countersign deploy check --environment production --commit HEAD --worktree   # a local deploy script\n\nWhat is judged (each as the policy's [deploy] asks):\n  range            every change since the environment's last successful deploy is compliant\n                   (or an authorized emergency)\n  order:ENV        the same artifact was deployed successfully to each earlier environment\n  sanctioned-path  production only through `production-path`\n  by-hand          production started by a person (`production-manual`)\n  stage-order      earlier stages of the same release first (`stages`)\n  branch           the commit is on the environment's branch (`branches`)\n  clean-worktree   a clean working tree equal to origin/main (`clean-worktree`)\n  window, freeze   inside an approved window, outside a freeze\n\nThe decision is logged as a `deploy-decision` entry (unless --dry-run).\n\nExit codes: 0 allowed, 1 refused, 2 cannot judge (evidence missing, or bad input)."
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// How the run was started: `workflow_dispatch`, `manual`, `push`, `schedule`, …
    /// (GitHub's `$GITHUB_EVENT_NAME`, GitLab's `$CI_PIPELINE_SOURCE`).
    #[arg(long)]
    pub event: Option<String>,
    /// Judge the working tree this command runs in (for local deploys): clean, and HEAD
    /// equal to --upstream.
    #[arg(long)]
    pub worktree: bool,
    /// What the working tree must equal, with --worktree.
    #[arg(long, default_value = "origin/main", value_name = "REV")]
    pub upstream: String,
    /// Judge the changes after this revision, instead of those since the environment's
    /// last successful deploy (for a first deploy, whose default is the whole history).
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Decide, but do not log the decision.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  countersign deploy record --environment staging --artifact sha256:$DIGEST --commit $GITHUB_SHA --status success\n  countersign deploy record --environment production --artifact sha256:$DIGEST --commit $SHA \\\n      --status success --health-check pass --completed-at 2026-06-01T14:32:00Z\n\nExit codes: 0 recorded (and, where the policy asks, verified), 1 recorded but not verified\n(no passing health check or completion time), 2 nothing recorded (bad input)."
)]
pub struct RecordArgs {
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// How the deploy ended.
    #[arg(long, value_parser = ["success", "failure"])]
    pub status: String,
    /// The health check after the deploy.
    #[arg(long, value_parser = ["pass", "fail"])]
    pub health_check: Option<String>,
    /// When the deploy actually completed (RFC 3339); the change record is closed with it.
    #[arg(long, value_name = "TIME", value_parser = crate::audit::parse_time)]
    pub completed_at: Option<jiff::Timestamp>,
}

fn parse_digest(s: &str) -> Result<String, String> {
    let hex = s.strip_prefix("sha256:").ok_or("an artifact digest is written sha256:<64 hex digits>")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a sha256 digest has 64 hex digits".into());
    }
    Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
}

pub fn run(cmd: DeployCommand, g: &Global) -> anyhow::Result<u8> {
    match cmd {
        DeployCommand::Check(args) => check(args, g),
        DeployCommand::Record(args) => record(args, g),
    }
}

/// The policy, the repository, the environment as the policy spells it, and the commit.
struct Setup {
    repo: countersign_git::Repository,
    policy: Policy,
    policy_sha256: String,
    /// The policy file's path in the repository, when it is one (see `audit::policy_path_in`).
    policy_path: Option<String>,
    environment: String,
    commit: String,
    ctx: countersign_store::cli::CliContext,
    by: String,
}

fn setup(args: &DeployArgs, g: &Global) -> anyhow::Result<Setup> {
    let repo_path = g.repo();
    let repo = countersign_git::Repository::open(&repo_path)
        .with_context(|| format!("the deploy gate reads the repository {}", repo_path.display()))?;
    let src = policy_source::read(args.policy.policy.as_deref(), repo.path())?;
    let loaded = policy_source::load(&src, g.today())?;
    policy_source::warn(&src, &loaded.warnings);
    let mut policy = loaded.policy;
    crate::owners::import_codeowners(&mut policy, &repo, None);
    let Some(rules) = &policy.deploy else {
        bail!(
            "the policy {} has no [deploy] section, so there is nothing to judge a deploy by\nhint: add `[deploy] environments = [\"staging\", \"production\"]` (see docs/policy-language.md)",
            src.name
        );
    };
    let Some(position) = rules.position(&args.environment) else {
        bail!("the policy has no environment {:?}\nhint: one of: {}", args.environment, rules.environments.join(", "));
    };
    let environment = rules.environments[position].clone();
    let commit = repo.resolve(&args.commit).with_context(|| {
        format!(
            "the commit {:?} is not in {}\nhint: fetch it (a shallow clone may lack it)",
            args.commit,
            repo_path.display()
        )
    })?;
    let ctx = crate::store::context(g);
    let by = args.by.clone().or_else(|| ctx.default_recorder()).context("say who records this with --by")?;
    Ok(Setup {
        policy_path: crate::audit::policy_path_in(&repo, &src),
        repo,
        policy_sha256: countersign_store::evidence::sha256_hex(src.text.as_bytes()),
        policy,
        environment,
        commit,
        ctx,
        by,
    })
}

fn open_store(s: &Setup, write: bool) -> anyhow::Result<Store> {
    let url = s.ctx.database_url()?;
    let opened = if write { s.ctx.open_for_writing() } else { s.ctx.open_for_reading(false) };
    opened.with_context(|| {
        format!("the deploy gate keeps its decisions in the evidence store {url}\nhint: create it once with `countersign init`")
    })
}

/// `git status` of the working tree against HEAD, and HEAD against `upstream`.
fn worktree(repo: &countersign_git::Repository, upstream: &str) -> anyhow::Result<Worktree> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo.path())
        .args(["status", "--porcelain=v1", "-z", "--untracked-files=no"])
        .output()
        .context("cannot run `git status` for --worktree")?;
    if !out.status.success() {
        bail!("`git status` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    // `XY path` entries; a rename's original path follows its entry as a bare path.
    let dirty = out
        .stdout
        .split(|b| *b == 0)
        .filter(|entry| entry.len() > 3 && entry[2] == b' ')
        .map(|entry| String::from_utf8_lossy(&entry[3..]).into_owned())
        .collect();
    let head = repo.resolve("HEAD")?;
    let head_matches = match repo.resolve(upstream) {
        Ok(up) => up == head,
        Err(_) => false,
    };
    Ok(Worktree { upstream: upstream.to_owned(), head_matches, dirty })
}

#[derive(Serialize)]
struct CheckReport<'a> {
    schema: &'static str,
    version: u32,
    as_of: jiff::Timestamp,
    #[serde(flatten)]
    decision: &'a DeployDecision,
    /// The log entry that holds the decision (absent with --dry-run).
    entry: Option<u64>,
}

fn check(args: CheckArgs, g: &Global) -> anyhow::Result<u8> {
    let mut s = setup(&args.deploy, g)?;
    let store = open_store(&s, !args.dry_run)?;
    crate::recorded::add_exceptions(&store, &mut s.policy)?;
    let repository = s.ctx.repository.clone();
    let now = g.as_of();
    let request = DeployRequest {
        environment: s.environment.clone(),
        artifact: args.deploy.artifact.clone(),
        commit: s.commit.clone(),
        stage: args.deploy.stage.clone(),
        release: args.deploy.release.clone(),
        triggered_by: args.deploy.triggered_by.as_deref().map(countersign_engine::evaluate::parse_identity),
        event: args.event.clone(),
        via: args.deploy.via.clone(),
        on_branch: None,
        worktree: if args.worktree { Some(worktree(&s.repo, &args.upstream)?) } else { None },
    };
    let since = match &args.since {
        Some(since) => Some(s.repo.resolve(since).with_context(|| format!("--since {since:?} is not a commit"))?),
        None => None,
    };
    let options = countersign_judge::HistoryOptions {
        policy_path: s.policy_path.as_deref(),
        ..countersign_judge::HistoryOptions::at(now)
    };
    let mut judge_range = |walk: countersign_git::WalkOptions| {
        crate::audit::judge_history(&s.repo, &s.policy, &walk, Some((&store, repository.as_deref())), &options)
            .map(|(_, evals)| evals)
            .map_err(|e| countersign_judge::JudgeError::Range(format!("{e:#}")))
    };
    let gated = countersign_judge::deploy::gate(
        &s.repo,
        &s.policy,
        &store,
        repository.as_deref(),
        request.clone(),
        since.as_deref(),
        now,
        &mut judge_range,
    )?;
    let entry = if args.dry_run {
        None
    } else {
        let evidence = countersign_judge::deploy::decision_evidence(
            &gated,
            &request,
            args.deploy.triggered_by.clone(),
            s.policy_sha256.clone(),
            now,
            repository.clone(),
        );
        Some(append(&store, &s, evidence)?)
    };
    let decision = &gated.decision;
    let out = match g.format {
        Format::Json => output::to_json(&CheckReport {
            schema: "countersign.deploy-check",
            version: SCHEMA_VERSION,
            as_of: now,
            decision,
            entry,
        })?,
        Format::Markdown => decision_markdown(decision, entry),
        _ => decision_text(decision, entry),
    };
    print!("{out}");
    store.close();
    Ok(match decision.decision {
        Decision::Allowed => EXIT_OK,
        Decision::Refused => EXIT_VIOLATIONS,
        Decision::CannotJudge => EXIT_FAILURE,
    })
}

fn append(store: &Store, s: &Setup, evidence: Evidence) -> anyhow::Result<u64> {
    let request = RecordRequest {
        change: None,
        recorded_by: s.by.clone(),
        recorded_at: countersign_store::whole_second((s.ctx.clock)()),
        idempotency_key: None,
        evidence,
    };
    let outcome = store.record(&request).context("cannot log the deploy")?;
    for problem in store.take_publish_errors() {
        eprintln!(
            "warning: the entry is stored, but {problem}\nhint: the next append publishes the latest checkpoint again"
        );
    }
    Ok(outcome.index())
}

fn short(commit: &str) -> String {
    commit.chars().take(12).collect()
}

fn headline(d: &DeployDecision) -> String {
    let what = match &d.artifact {
        Some(a) => format!("{a} ({})", short(&d.commit)),
        None => short(&d.commit),
    };
    let stage = d.stage.as_ref().map(|s| format!(", stage {s}")).unwrap_or_default();
    let verdict = match d.decision {
        Decision::Allowed => "ALLOWED",
        Decision::Refused => "REFUSED",
        Decision::CannotJudge => "CANNOT JUDGE",
    };
    format!("deploy of {what} to {}{stage}: {verdict}", d.environment)
}

fn decision_text(d: &DeployDecision, entry: Option<u64>) -> String {
    let mut out = headline(d) + "\n";
    for r in &d.requirements {
        let _ = writeln!(out, "    {}", output::requirement_line(r));
    }
    match entry {
        Some(i) => {
            let _ = writeln!(out, "decision logged as entry #{i}");
        }
        None => out.push_str("decision not logged (--dry-run)\n"),
    }
    out
}

fn decision_markdown(d: &DeployDecision, entry: Option<u64>) -> String {
    let mut out = format!("### {}\n\n", headline(d));
    out.push_str(&output::requirements_markdown(&d.requirements));
    if let Some(i) = entry {
        let _ = writeln!(out, "\nLogged as entry #{i}.");
    }
    out
}

#[derive(Serialize)]
struct RecordReport<'a> {
    schema: &'static str,
    version: u32,
    entry: u64,
    environment: &'a str,
    commit: &'a str,
    status: &'a str,
    requirements: &'a [RequirementResult],
}

fn record(args: RecordArgs, g: &Global) -> anyhow::Result<u8> {
    let s = setup(&args.deploy, g)?;
    let success = args.status == "success";
    let health = args.health_check.as_deref().map(|h| h == "pass");
    if !success && health == Some(true) {
        bail!(
            "a failed deploy cannot have a passing health check\nhint: record --status success, or leave out --health-check"
        );
    }
    if let Some(who) = &args.deploy.triggered_by {
        crate::recorded::known_person(&s.policy, who, "person who triggered the deploy")?;
    }
    let requirements = judge_completion(&s.policy, &s.environment, success, health, args.completed_at);
    let store = open_store(&s, true)?;
    let evidence = Evidence::Deploy {
        environment: s.environment.clone(),
        artifact_digest: args.deploy.artifact.clone(),
        commit: Some(s.commit.clone()),
        deployed_at: args.completed_at,
        status: Some(if success { DeployStatus::Success } else { DeployStatus::Failure }),
        stage: args.deploy.stage.clone(),
        release: args.deploy.release.clone(),
        via: args.deploy.via.clone(),
        triggered_by: args.deploy.triggered_by.clone(),
        health_check: health.map(|pass| if pass { HealthCheck::Pass } else { HealthCheck::Fail }),
        delivery: None,
        repository: s.ctx.repository.clone(),
    };
    let entry = append(&store, &s, evidence)?;
    store.close();
    let unverified = requirements.iter().any(|r| r.status != Status::Met);
    match g.format {
        Format::Json => print!(
            "{}",
            output::to_json(&RecordReport {
                schema: "countersign.deploy-record",
                version: SCHEMA_VERSION,
                entry,
                environment: &s.environment,
                commit: &s.commit,
                status: &args.status,
                requirements: &requirements,
            })?
        ),
        _ => {
            println!(
                "recorded the {} deploy of {} to {} as entry #{entry}",
                args.status,
                args.deploy.artifact.as_deref().unwrap_or(&short(&s.commit)),
                s.environment
            );
            for r in &requirements {
                println!("    {}", output::requirement_line(r));
            }
        }
    }
    Ok(if unverified { EXIT_VIOLATIONS } else { EXIT_OK })
}
