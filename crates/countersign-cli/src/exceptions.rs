//! Exceptions with an owner, an approver and an end (S000-18): `exception request`, then
//! `exception approve` by a second operator; `exceptions` lists them all, the policy file's
//! and the recorded ones, with their state and re-evaluation dates.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use countersign_engine::evaluate::exception_end;
use countersign_judge::exceptions::{RecordedException, recorded_exceptions};
use countersign_policy::model::Policy;
use countersign_store::{Evidence, RecordRequest};

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_OK, Global, PolicyArgs, policy_source, recorded};

#[derive(Subcommand, Debug)]
#[command(
    after_help = "An exception waives one rule of the policy until a date, for the people and categories named\n(everyone and every category when none are). It counts once a second operator, a person of the\npolicy other than its requester, approves it; it ends on its date, at most a year ahead, and a\nrenewal is a new request with a new approval.\n\nExamples:\n  countersign exception request --waives review --category docs --until 2026-12-31 \\\n      --justification \"Solo maintainer until the second hire\" --by alice@example.com\n  countersign exception approve 12 --by bob@example.com\n  countersign exceptions"
)]
pub enum ExceptionCommand {
    /// Request an exception; it waives nothing until a second operator approves it.
    Request(RequestArgs),
    /// Approve a requested exception, in your own name (never your own request).
    Approve(ApproveArgs),
}

#[derive(Args, Debug)]
pub struct RequestArgs {
    /// What it waives: a rule name, a gate, or a requirement kind (review, owner-ack, ci, …).
    #[arg(long)]
    pub waives: String,
    /// Why, in writing.
    #[arg(long)]
    pub justification: String,
    /// The last day it applies, its re-evaluation date (YYYY-MM-DD, at most a year ahead).
    #[arg(long, value_name = "DATE")]
    pub until: String,
    /// A person it covers (their email or login); repeatable. Default: everyone.
    #[arg(long = "person", value_name = "WHO")]
    pub people: Vec<String>,
    /// A category it covers; repeatable. Default: every category.
    #[arg(long = "category", value_name = "ID")]
    pub categories: Vec<String>,
    /// Who requests it (default: $USER, then git's user.email).
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The request's log entry, as `exception request` printed it (`12` or `#12`).
    pub entry: String,
    /// Who approves (default: $USER, then git's user.email): a person of the policy.
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
}

fn load_policy(args: &PolicyArgs, g: &Global) -> anyhow::Result<Policy> {
    let root = g.repo();
    let src = policy_source::read(args.policy.as_deref(), &root)?;
    let loaded = policy_source::load(&src, g.today())?;
    Ok(loaded.policy)
}

fn recorder(by: Option<String>, g: &Global) -> anyhow::Result<String> {
    by.or_else(|| crate::store::context(g).default_recorder()).context("say who you are with --by")
}

fn append(g: &Global, evidence: Evidence, by: &str) -> anyhow::Result<u64> {
    let ctx = crate::store::context(g);
    let store = ctx.open_for_writing().context("hint: create the evidence store once with `countersign init`")?;
    let outcome = store.record(&RecordRequest {
        change: None,
        recorded_by: by.to_owned(),
        recorded_at: countersign_store::whole_second((ctx.clock)()),
        idempotency_key: None,
        evidence,
    })?;
    store.close();
    Ok(outcome.index())
}

pub fn run(cmd: ExceptionCommand, g: &Global) -> anyhow::Result<u8> {
    match cmd {
        ExceptionCommand::Request(args) => {
            let policy = load_policy(&args.policy, g)?;
            let by = recorder(args.by, g)?;
            recorded::known_person(&policy, &by, "requester")?;
            // Recorded by their policy ids, as the policy file names people.
            let people = args
                .people
                .iter()
                .map(|p| recorded::known_person(&policy, p, "person the exception covers").map(|p| p.id.clone()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let evidence = Evidence::Exception {
                rule: args.waives.clone(),
                justification: args.justification.trim().to_owned(),
                approved_by: None,
                review_by: args.until.trim().to_owned(),
                people,
                categories: args.categories,
            };
            if args.justification.trim().len() < 10 {
                bail!("write the justification out (at least 10 characters): an auditor reads it");
            }
            recorded::validate_record(&policy, &evidence, g.today())
                .context("refusing to record this exception; nothing was stored")?;
            let entry = append(g, evidence, &by)?;
            match g.format {
                Format::Json => {
                    print!("{}", output::to_json(&serde_json::json!({ "entry": entry, "state": "awaiting-approval" }))?)
                }
                _ => {
                    println!(
                        "requested exception #{entry}: waives {} until {}; it waives nothing until approved",
                        args.waives, args.until
                    );
                    eprintln!(
                        "hint: a second operator approves it with `countersign exception approve {entry} --by <them>`"
                    );
                }
            }
            Ok(EXIT_OK)
        }
        ExceptionCommand::Approve(args) => {
            let policy = load_policy(&args.policy, g)?;
            let by = recorder(args.by, g)?;
            let approver = recorded::known_person(&policy, &by, "approver")?.id.clone();
            let entry: u64 = args
                .entry
                .trim_start_matches('#')
                .parse()
                .with_context(|| format!("{:?} is not a log entry number", args.entry))?;
            let (store, _) = recorded::open(g)?;
            let all = recorded_exceptions(&store, &policy)?;
            store.close();
            let Some(request) = all.iter().find(|r| r.entry == entry) else {
                bail!("log entry #{entry} is not an exception request\nhint: `countersign exceptions` lists them");
            };
            if let Err(why) = countersign_judge::exceptions::may_approve(&policy, &all, entry, &by, g.today()) {
                bail!(
                    "{why}\nhint: ask another person of the policy to run `countersign exception approve {entry}`, or request it again once it has ended"
                );
            }
            let index = append(g, Evidence::ExceptionApproval { exception: entry }, &by)?;
            match g.format {
                Format::Json => print!(
                    "{}",
                    output::to_json(
                        &serde_json::json!({ "entry": index, "exception": entry, "approvedBy": approver })
                    )?
                ),
                _ => println!(
                    "{approver} approved exception #{entry} (entry #{index}): it waives {} until {}",
                    request.rule,
                    request.until.map(|d| d.to_string()).unwrap_or_default()
                ),
            }
            Ok(EXIT_OK)
        }
    }
}

#[derive(Serialize)]
pub struct Listed {
    pub id: String,
    /// `policy` (the policy file) or `recorded` (the evidence log).
    pub source: &'static str,
    pub waives: Vec<String>,
    pub people: Vec<String>,
    pub categories: Vec<String>,
    pub justification: String,
    pub requested_by: Option<String>,
    pub approved_by: Vec<String>,
    /// The re-evaluation date: the last day it applies.
    pub until: Option<jiff::civil::Date>,
    /// `in-force`, `awaiting-approval` or `ended`.
    pub state: &'static str,
    /// Why it ended, or approvals that did not count.
    pub notes: Vec<String>,
}

/// `countersign exceptions`: every exception and its state.
pub fn list(args: ListArgs, g: &Global) -> anyhow::Result<u8> {
    let policy = load_policy(&args.policy, g)?;
    let (store, _) = recorded::open(g)?;
    let rows = rows(&policy, &store, g.today())?;
    store.close();
    match g.format {
        Format::Json => print!(
            "{}",
            output::to_json(&serde_json::json!({
                "schema": "countersign.exceptions", "version": SCHEMA_VERSION, "as_of": g.as_of(), "exceptions": rows,
            }))?
        ),
        _ => {
            for r in &rows {
                let scope = match (r.people.is_empty(), r.categories.is_empty()) {
                    (true, true) => "everyone".to_string(),
                    _ => [
                        r.people.join(", "),
                        r.categories.iter().map(|c| format!("category {c}")).collect::<Vec<_>>().join(", "),
                    ]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
                };
                println!(
                    "{:<18} {:<18} waives {} for {scope}, until {}",
                    r.state.to_uppercase(),
                    r.id,
                    r.waives.join(", "),
                    r.until.map(|d| d.to_string()).unwrap_or_else(|| "no date".into())
                );
                println!("{:19}{}", "", r.justification);
                if !r.approved_by.is_empty() {
                    println!("{:19}approved by {}", "", r.approved_by.join(", "));
                }
                for n in &r.notes {
                    println!("{:19}{n}", "");
                }
            }
            if rows.is_empty() {
                println!("no exceptions");
            }
        }
    }
    Ok(EXIT_OK)
}

/// Every exception, the policy file's and the recorded ones, with its state as of `today`.
/// Recorded exceptions already folded into `policy` are listed once, as recorded.
pub fn rows(
    policy: &Policy,
    store: &countersign_store::Store,
    today: jiff::civil::Date,
) -> anyhow::Result<Vec<Listed>> {
    let recorded: Vec<RecordedException> = recorded_exceptions(store, policy)?;
    let mut rows = Vec::new();
    for ex in policy.exceptions.iter().filter(|ex| !recorded.iter().any(|r| r.id() == ex.id)) {
        let ended = exception_end(policy, ex, Some(today), None);
        rows.push(Listed {
            id: ex.id.clone(),
            source: "policy",
            waives: ex.waives.clone(),
            people: ex.people.clone(),
            categories: ex.categories.clone(),
            justification: ex.justification.clone(),
            requested_by: None,
            approved_by: ex.approved_by.clone(),
            until: ex.review_by,
            state: if ended.is_some() { "ended" } else { "in-force" },
            notes: ended.into_iter().collect(),
        });
    }
    for r in &recorded {
        let as_policy = r.as_policy_exception();
        let ended = as_policy
            .as_ref()
            .and_then(|ex| exception_end(policy, ex, Some(today), None))
            .or_else(|| r.until.filter(|u| *u < today).map(|u| format!("its re-evaluation date {u} has passed")));
        let state = match (&as_policy, &ended) {
            (_, Some(_)) => "ended",
            (None, None) => "awaiting-approval",
            (Some(_), None) => "in-force",
        };
        rows.push(Listed {
            id: r.id(),
            source: "recorded",
            waives: vec![r.rule.clone()],
            people: r.people.clone(),
            categories: r.categories.clone(),
            justification: r.justification.clone(),
            requested_by: Some(r.requested_by.clone()),
            approved_by: r.approvals.iter().map(|(who, entry)| format!("{who} (entry #{entry})")).collect(),
            until: r.until,
            state,
            notes: ended.into_iter().chain(r.refused.iter().cloned()).collect(),
        });
    }
    Ok(rows)
}
