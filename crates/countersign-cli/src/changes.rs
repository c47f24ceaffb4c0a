//! `countersign changes`: every change of the branch with the stage of its life it has
//! reached (S004-03: Request, Review, Approve, Build, Deploy, Verify, Close) and since when.

use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;

use countersign_engine::lifecycle::Stage;
use countersign_engine::report::Evaluation;

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_OK, Global, PolicyArgs};

#[derive(Args, Debug)]
#[command(
    after_help = "A change enters each stage from its evidence: Request (the change exists), Review (an approval),\nApprove (every approval the policy asks for), Build (every CI gate passed), Deploy (a successful\ndeploy of it or a later commit), Verify (a production deploy with a passing health check), Close\n(that deploy's actual completion time). A stage is entered only after the one before it.\n\nExamples:\n  countersign changes\n  countersign changes --state approve      # approved, not deployed yet\n  countersign changes --since 2026-06-01 --format json"
)]
pub struct ChangesArgs {
    /// The branch whose first-parent history is listed (default: the checked-out branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// Only changes committed on or after this date.
    #[arg(long, value_parser = crate::audit::parse_time)]
    pub since: Option<jiff::Timestamp>,
    /// Only changes committed before the end of this date.
    #[arg(long, value_parser = crate::audit::parse_time)]
    pub until: Option<jiff::Timestamp>,
    /// Only changes in this stage: request, review, approve, build, deploy, verify, close.
    #[arg(long, value_parser = parse_stage)]
    pub state: Option<Stage>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    Stage::parse(s).ok_or_else(|| {
        format!(
            "{s:?} is not a stage; one of: {}",
            Stage::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    version: u32,
    as_of: jiff::Timestamp,
    changes: Vec<&'a Evaluation>,
}

pub fn run(args: ChangesArgs, g: &Global) -> anyhow::Result<u8> {
    let history = crate::audit::open_history(args.policy.policy.as_deref(), g)?;
    let walk_opts = countersign_git::WalkOptions {
        branch: args.branch.clone(),
        since: args.since,
        until: args.until,
        use_cache: true,
        read: countersign_judge::read_options(&history.policy),
        ..Default::default()
    };
    let (_, evals) = history.judge(&walk_opts, g.as_of(), true)?;
    let shown: Vec<&Evaluation> = evals
        .iter()
        .filter(|e| args.state.is_none_or(|want| e.state.as_ref().is_some_and(|s| s.current == want)))
        .collect();
    let out = match g.format {
        Format::Json => output::to_json(&Report {
            schema: "countersign.changes",
            version: SCHEMA_VERSION,
            as_of: g.as_of(),
            changes: shown,
        })?,
        _ => {
            let mut out = String::new();
            for e in &shown {
                let (stage, since) = e
                    .state
                    .as_ref()
                    .map(|s| (s.current.as_str(), s.since.map(|t| t.to_string()).unwrap_or_default()))
                    .unwrap_or(("?", String::new()));
                let label = match e.change.pr_number {
                    Some(n) => format!("PR #{n}"),
                    None => e.change.id.chars().take(10).collect(),
                };
                let _ = writeln!(
                    out,
                    "{:<8} {:<20} {:<11} {}  ({})",
                    stage.to_uppercase(),
                    since,
                    label,
                    e.change.title,
                    e.verdict.as_str()
                );
            }
            if shown.is_empty() {
                out.push_str("no changes to show\n");
            }
            out
        }
    };
    print!("{out}");
    Ok(EXIT_OK)
}
