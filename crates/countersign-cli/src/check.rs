//! `countersign check`: one pull request, in CI.
//!
//! The policy and CODEOWNERS are read from the base revision, so a pull request cannot
//! loosen the rules it is judged by. Git supplies commits, trailers, signatures and changed
//! paths; `--pr-json` (from `gh pr view --json`) adds approvals, labels, the description and
//! check results.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use countersign_engine::change::Change;
use countersign_engine::report::{Evaluation, Status};
use countersign_engine::{Engine, EvalOptions};
use countersign_forge::github::{GH_FIELDS, GhPullRequest};

use crate::audit::{PolicyRef, exit_code};
use crate::output::{self, Format, SCHEMA_VERSION};
use crate::policy_source::{self, PolicyText};
use crate::{PolicyArgs, recorded};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples (GitHub Actions):\n  gh pr view \"$PR\" --json number,title,body,author,labels,reviews,commits,files,statusCheckRollup,baseRefName,headRefOid > pr.json\n  countersign check --base origin/main --head HEAD --pr-json pr.json --format github\n\nWith --format github, annotations go to stdout and a Markdown summary is appended to\n$GITHUB_STEP_SUMMARY when it is set.\n\nExit codes: 0 compliant, 1 violations (or, with --strict, evidence missing), 2 could not check."
)]
pub struct CheckArgs {
    /// The base revision the PR targets (e.g. origin/main).
    #[arg(long)]
    pub base: String,
    /// The PR's head revision.
    #[arg(long, default_value = "HEAD")]
    pub head: String,
    /// JSON printed by `gh pr view --json <fields>` (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub pr_json: Option<PathBuf>,
    /// Treat "evidence missing" as a failure (exit 1).
    #[arg(long)]
    pub strict: bool,
    /// Judge from git (and --pr-json) alone: do not open the evidence store or register
    /// changes in it.
    #[arg(long)]
    pub no_store: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Serialize)]
struct CheckReport<'a> {
    schema: &'static str,
    version: u32,
    /// The time the change was judged as of (`--now`, else the clock).
    as_of: jiff::Timestamp,
    policy: PolicyRef<'a>,
    base: &'a str,
    head: &'a str,
    forge_evidence: bool,
    /// Requirements that could not be judged from the evidence given.
    not_judged: Vec<&'a str>,
    evaluation: &'a Evaluation,
}

pub fn run(args: CheckArgs, g: &crate::Global) -> anyhow::Result<u8> {
    let repo_path = g.repo();
    let repo = countersign_git::Repository::open(&repo_path)
        .with_context(|| format!("cannot check {}", repo_path.display()))?;
    let src = match args.policy.policy.as_deref() {
        Some(p) => policy_source::read(Some(p), repo.path())?,
        None => {
            let blob = repo
                .read_blob_at(&args.base, "countersign.toml")
                .with_context(|| format!("cannot read countersign.toml at {}", args.base))?
                .with_context(|| {
                    format!(
                        "there is no countersign.toml at the base revision {}\nhint: commit a policy to the base branch, or pass --policy FILE",
                        args.base
                    )
                })?;
            let text = String::from_utf8(blob).context("countersign.toml at the base revision is not UTF-8")?;
            PolicyText { name: format!("{}:countersign.toml", args.base), text, path: None }
        }
    };
    let loaded = policy_source::load(&src, g.today())?;
    policy_source::warn(&src, &loaded.warnings);
    let mut policy = loaded.policy;
    crate::owners::import_codeowners(&mut policy, &repo, Some(&args.base));

    // Content flags (`CREATE INDEX CONCURRENTLY`, `DROP COLUMN`) matter most before merge:
    // read the added lines between base and head for the paths they watch.
    let mut change = repo
        .pr_change_with(&args.base, &args.head, &countersign_judge::read_options(&policy))
        .with_context(|| format!("cannot read the changes between {} and {}", args.base, args.head))?;
    let forge = match &args.pr_json {
        Some(path) => {
            use countersign_store::bounded::{PR_JSON_LIMIT, read_file, read_limited};
            let bytes = if path.as_os_str() == "-" {
                read_limited(std::io::stdin().lock(), PR_JSON_LIMIT, "PR JSON", "standard input")?
            } else {
                read_file(path, PR_JSON_LIMIT, "PR JSON")?
            };
            let pr = GhPullRequest::from_json(&bytes).with_context(|| {
                format!(
                    "{} is not `gh pr view --json` output\nhint: gh pr view NUMBER --json {GH_FIELDS} > pr.json",
                    path.display()
                )
            })?;
            countersign_judge::merge_forge(&mut change, pr.into_change());
            warn_unmatched_gates(&policy, &change);
            true
        }
        None => false,
    };

    if !args.no_store {
        let (store, repository) = recorded::open(g)?;
        recorded::add_exceptions(&store, &mut policy)?;
        recorded::merge(&store, repository.as_deref(), std::slice::from_mut(&mut change))?;
    }

    let engine = Engine::new(&policy);
    // Numbering continues from what the target branch holds now, not from where the PR forked.
    let base = countersign_judge::base_facts(&engine, &repo, &change, &args.base);
    let eval = engine.evaluate_with_base(&change, &base, &EvalOptions { now: Some(g.as_of()) });
    let not_judged: Vec<&str> =
        eval.requirements.iter().filter(|r| r.status == Status::Unknown).map(|r| r.id.as_str()).collect();
    let hint = (!forge && !not_judged.is_empty()).then(|| {
        format!(
            "could not judge from git alone: {}\nhint: pass --pr-json with the output of `gh pr view --json {GH_FIELDS}`\n",
            not_judged.join(", ")
        )
    });

    let out = match g.format {
        Format::Json => output::to_json(&CheckReport {
            schema: "countersign.check",
            version: SCHEMA_VERSION,
            as_of: g.as_of(),
            policy: PolicyRef::of(&src, &policy),
            base: &args.base,
            head: &args.head,
            forge_evidence: forge,
            not_judged: not_judged.clone(),
            evaluation: &eval,
        })?,
        Format::Markdown => {
            output::evaluation_markdown(&eval)
                + hint.as_deref().unwrap_or("")
                + "\n"
                + &output::as_of_line(g.as_of(), &policy, &src.name)
        }
        Format::Github => {
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).with_context(|| {
                    format!("cannot append to $GITHUB_STEP_SUMMARY ({})", PathBuf::from(&path).display())
                })?;
                f.write_all(output::evaluation_markdown(&eval).as_bytes())?;
            }
            output::github_annotations(&eval)
                + &output::github_inert(&(output::evaluation_text(&eval) + hint.as_deref().unwrap_or("")))
        }
        Format::Text | Format::Html | Format::Oscal => {
            output::evaluation_text(&eval)
                + hint.as_deref().unwrap_or("")
                + &output::as_of_line(g.as_of(), &policy, &src.name)
        }
    };
    print!("{out}");
    Ok(exit_code(std::iter::once(eval.verdict), args.strict))
}

/// A lint on the forge's own words: warn about each gate that names no check this PR
/// reported, when the PR did report checks. A gate written `tests` for a check GitHub
/// shows as `backend-ci / unit-tests` can never pass; better to say so now than to report
/// it missing on every PR.
fn warn_unmatched_gates(policy: &countersign_policy::model::Policy, change: &Change) {
    if change.checks.is_empty() {
        return;
    }
    // Only the gates this change triggers: a path-scoped job that did not run says nothing.
    let applies = |gate: &countersign_policy::model::Gate| {
        gate.paths.is_empty() || change.changed_paths.iter().any(|p| gate.paths.matches(&p.path))
    };
    for gate in policy.gates.iter().filter(|g| applies(g)) {
        let names = std::iter::once(&gate.check).chain(gate.aliases.iter());
        let matched = names
            .clone()
            .any(|n| change.checks.iter().any(|c| countersign_engine::evaluate::check_name_matches(n, &c.name)));
        if !matched {
            let seen: Vec<&str> = change.checks.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "warning: gate {:?} matches none of the {} checks this PR reported ({})\n  \
                 hint: name the check as GitHub shows it (`workflow / job`), the job alone, or a status context; \
                 add the other spellings as `aliases`",
                gate.check,
                seen.len(),
                seen.join(", ")
            );
        }
    }
}
