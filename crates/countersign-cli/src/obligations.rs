//! `countersign obligations`: every emergency obligation across the branch's history, with
//! its due time and state, most urgent first. Exits 1 when one is overdue, so a scheduled
//! CI job turns red the moment a deadline passes.

use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;

use countersign_engine::obligations::{ObligationInstance, ObligationState, count, instances};

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_OK, EXIT_VIOLATIONS, Global, PolicyArgs};

#[derive(Args, Debug)]
#[command(
    after_help = "States: pending, due soon (within --due-soon of its deadline), overdue, fulfilled, fulfilled late.\nAn obligation is fulfilled by `countersign record obligation-fulfilled --change C --obligation ID [--at TIME]`,\nor, for obligations with `fulfilled-by = \"follow-up\"`, by a later compliant change whose commit message\ncarries `Emergency-Follow-Up: <the emergency's commit or #PR>`.\n\nExamples:\n  countersign obligations                      open and late obligations\n  countersign obligations --overdue            only the overdue ones\n  countersign obligations --due-within 24h     what falls due in the next day (and what is overdue)\n  countersign obligations --all --format json\n\nExit codes: 0 nothing overdue, 1 an obligation is overdue, 2 could not judge."
)]
pub struct ObligationsArgs {
    /// The branch whose history is searched for emergencies (default: the checked-out branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// Only changes committed on or after this date.
    #[arg(long, value_parser = crate::audit::parse_time)]
    pub since: Option<jiff::Timestamp>,
    /// Only overdue obligations.
    #[arg(long, conflicts_with_all = ["due_within", "all"])]
    pub overdue: bool,
    /// Only open obligations due within this long from now (`24h`, `5d`), and overdue ones.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub due_within: Option<jiff::SignedDuration>,
    /// How close to its deadline a pending obligation counts as due soon.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "24h")]
    pub due_soon: jiff::SignedDuration,
    /// Also list fulfilled obligations.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

fn parse_duration(s: &str) -> Result<jiff::SignedDuration, String> {
    countersign_policy::units::parse_duration(s)
        .map(|d| jiff::SignedDuration::from_secs(d.seconds))
        .ok_or_else(|| format!("{s:?} is not a duration; write 30m, 24h or 5d"))
}

#[derive(Serialize)]
struct Report<'a> {
    schema: &'static str,
    version: u32,
    as_of: jiff::Timestamp,
    counts: countersign_engine::obligations::ObligationCounts,
    obligations: Vec<&'a ObligationInstance>,
}

pub fn run(args: ObligationsArgs, g: &Global) -> anyhow::Result<u8> {
    let history = crate::audit::open_history(args.policy.policy.as_deref(), g)?;
    if history.policy.emergency.as_ref().is_none_or(|e| e.obligations.is_empty()) {
        eprintln!("note: the policy {} names no emergency obligations", history.src.name);
    }
    let walk_opts = countersign_git::WalkOptions {
        branch: args.branch.clone(),
        since: args.since,
        use_cache: true,
        read: countersign_judge::read_options(&history.policy),
        ..Default::default()
    };
    let now = g.as_of();
    let (_, evals) = history.judge(&walk_opts, now, false)?;
    let all = instances(&evals, now, args.due_soon);
    let counts = count(&all);
    let shown: Vec<&ObligationInstance> = all
        .iter()
        .filter(|i| {
            if args.overdue {
                i.state == ObligationState::Overdue
            } else if let Some(within) = args.due_within {
                i.state.open() && i.due.is_some_and(|d| d.duration_since(now) <= within)
            } else {
                args.all || i.state != ObligationState::Fulfilled
            }
        })
        .collect();
    let out = match g.format {
        Format::Json => output::to_json(&Report {
            schema: "countersign.obligations",
            version: SCHEMA_VERSION,
            as_of: now,
            counts: counts.clone(),
            obligations: shown,
        })?,
        Format::Markdown => markdown(&shown, &counts),
        _ => text(&shown, &counts, now),
    };
    print!("{out}");
    Ok(if counts.overdue > 0 { EXIT_VIOLATIONS } else { EXIT_OK })
}

fn label(i: &ObligationInstance) -> String {
    let short: String = i.change.chars().take(10).collect();
    match i.pr_number {
        Some(n) => format!("PR #{n} ({short})"),
        None => short,
    }
}

fn due_text(i: &ObligationInstance, now: jiff::Timestamp) -> String {
    let Some(due) = i.due else { return "no due time (the change has no time)".into() };
    let left = due.duration_since(now);
    let hours = left.as_secs().abs() / 3600;
    let span = if hours >= 48 { format!("{} days", hours / 24) } else { format!("{hours}h") };
    match i.state {
        ObligationState::Overdue => format!("due {due}, {span} ago"),
        ObligationState::DueSoon | ObligationState::Pending => format!("due {due}, in {span}"),
        _ => format!("was due {due}"),
    }
}

fn text(
    shown: &[&ObligationInstance],
    counts: &countersign_engine::obligations::ObligationCounts,
    now: jiff::Timestamp,
) -> String {
    let mut out = String::new();
    for i in shown {
        let _ = writeln!(
            out,
            "{:<15} {:<22} {}  {}: {}",
            i.state.as_str().to_uppercase(),
            i.obligation,
            label(i),
            i.title,
            due_text(i, now)
        );
        for e in &i.evidence {
            let _ = writeln!(out, "{:16}{e}", "");
        }
        if let Some(d) = i.detail.as_ref().filter(|_| i.state != ObligationState::Pending) {
            let _ = writeln!(out, "{:16}{d}", "");
        }
    }
    if shown.is_empty() {
        out.push_str("no obligations to show\n");
    }
    let _ = writeln!(
        out,
        "Obligations: {} open ({} overdue), {} fulfilled on time, {} fulfilled late",
        counts.open, counts.overdue, counts.fulfilled, counts.fulfilled_late
    );
    out
}

fn markdown(shown: &[&ObligationInstance], counts: &countersign_engine::obligations::ObligationCounts) -> String {
    let mut out = format!(
        "## Emergency obligations\n\n{} open ({} overdue), {} fulfilled on time, {} fulfilled late.\n\n| State | Obligation | Change | Due | Evidence |\n|---|---|---|---|---|\n",
        counts.open, counts.overdue, counts.fulfilled, counts.fulfilled_late
    );
    for i in shown {
        let _ = writeln!(
            out,
            "| {} | `{}` {} | {} {} | {} | {} |",
            i.state.as_str(),
            i.obligation,
            i.description.replace('|', "\\|"),
            label(i),
            i.title.replace('|', "\\|"),
            i.due.map(|d| d.to_string()).unwrap_or_default(),
            i.evidence.join("; ").replace('|', "\\|")
        );
    }
    out
}
