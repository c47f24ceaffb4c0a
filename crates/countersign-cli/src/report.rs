//! `countersign report`: what an auditor takes away for a period. The policy versions in
//! force, the population of changes by kind, category and risk, each control the policy maps
//! with the requirements that implement it and their pass rate, exceptions, emergencies and
//! their obligations (on a timeline: each deadline, and when it was met), the deploy gate's
//! decisions, console changes, the forge settings' drift history, each `[[retention]]` line
//! against what the evidence log holds of it, DORA's metrics month by month, and a
//! reproducible sample whose every log entry comes with its inclusion proof.
//! JSON, Markdown, or one self-contained HTML file (inline CSS and SVG charts, no external
//! request) that prints cleanly. The figures are gathered by `countersign_judge::period`
//! and drawn by `countersign_server::charts`, as the server's dashboard does.
//!
//! The report's SHA-256 is recorded in the log (a `report` entry), so the report itself is
//! evidence: an auditor can later show that the file they hold is the one countersign wrote.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use jiff::Timestamp;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;

use countersign_engine::metrics::Dora;
use countersign_engine::obligations::{ObligationCounts, ObligationInstance};
use countersign_engine::report::{Evaluation, Verdict};
use countersign_engine::summary::{Summary, sample, summarize};
use countersign_judge::period::{ControlResult, DriftRun, DriftState, Emergency, MonthMetrics, RetentionRow};
use countersign_server::charts::{self, percent};
use countersign_store::{Evidence, RecordRequest};

use crate::output::{self, Format, SCHEMA_VERSION};

mod oscal;
use crate::{EXIT_OK, Global, PolicyArgs};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  countersign report --from 2026-07-01 --to 2026-10-01 --format html --out reports/\n  countersign report --from 2026-07-01 --to 2026-10-01 --controls soc2 --sample 25 --seed 7 --format json\n\nThe period is [--from, --to): changes committed (console changes made) in it.\nControls come from the policy's [[policy.controls]]; a control's `requirements` (the words\n`waives` takes, a gate's check name, `obligation`, `console-field`) give its pass rate.\nThe report's SHA-256 is recorded in the evidence log (a `report` entry) unless --no-record.\n\nExit codes: 0 written, 2 could not be written."
)]
pub struct ReportArgs {
    /// Start of the period (YYYY-MM-DD or RFC 3339, UTC), inclusive.
    #[arg(long, value_parser = crate::audit::parse_time)]
    pub from: Timestamp,
    /// End of the period, exclusive.
    #[arg(long, value_parser = crate::audit::parse_time)]
    pub to: Timestamp,
    /// Which frameworks' controls to report.
    #[arg(long, value_enum, default_value = "all")]
    pub controls: Frameworks,
    /// Draw a reproducible sample of N changes, each with its evidence and inclusion proofs.
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Seed for --sample: the same seed and population give the same sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The branch whose history is reported (default: the checked-out branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// Write the report into this directory (report.json, report.md or report.html)
    /// instead of standard output.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not record the report's SHA-256 in the evidence log.
    #[arg(long)]
    pub no_record: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Frameworks {
    Soc2,
    Iso27001,
    All,
}

impl Frameworks {
    fn includes(self, framework: &str) -> bool {
        let f = framework.to_ascii_lowercase().replace([' ', '/', '-'], "");
        match self {
            Frameworks::All => true,
            Frameworks::Soc2 => f.contains("soc2"),
            Frameworks::Iso27001 => f.contains("27001"),
        }
    }
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    version: u32,
    as_of: Timestamp,
    period: Period,
    policy: PolicyInForce,
    population: Population,
    controls: Vec<ControlResult>,
    exceptions: Vec<crate::exceptions::Listed>,
    /// Each emergency with its obligations' deadlines and fulfilments (the timeline).
    emergencies: Vec<Emergency>,
    obligations: Obligations,
    deploy_decisions: DeployDecisions,
    console_changes: usize,
    /// The latest collector run before the period's end for each repository and branch,
    /// with what it found short of the policy (empty: no drift).
    drift: Vec<DriftState>,
    /// Every collector run in the period, with the drift it opened and fixed.
    drift_history: Vec<DriftRun>,
    /// The activity collectors' signed snapshots (merge-activity, deployments) of windows
    /// that start in the period.
    activity_snapshots: Vec<countersign_judge::period::SnapshotRun>,
    /// Each of the policy's `[[retention]]` lines (S002-12) against what the evidence log
    /// holds of that kind of record, in the period and overall.
    retention: Vec<RetentionRow>,
    /// DORA's metrics over the period, and S003-10's monthly share of incidents caused by
    /// a change against the policy's `[metrics]` threshold.
    metrics: Dora,
    /// Each of DORA's metrics month by month.
    metrics_by_month: Vec<MonthMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample: Option<Sample>,
}

#[derive(Serialize)]
struct Period {
    from: Timestamp,
    to: Timestamp,
}

#[derive(Serialize)]
struct PolicyInForce {
    organization: String,
    source: String,
    /// SHA-256 of the policy text the report judged with.
    sha256: String,
    /// Versions published with `policy publish` that were in force during the period.
    versions: Vec<PublishedVersion>,
}

#[derive(Serialize)]
struct PublishedVersion {
    version: String,
    sha256: String,
    entry: u64,
    published_at: Timestamp,
}

#[derive(Serialize)]
struct Population {
    #[serde(flatten)]
    summary: Summary,
    by_kind: BTreeMap<String, usize>,
    by_risk: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct Obligations {
    counts: ObligationCounts,
    instances: Vec<ObligationInstance>,
}

#[derive(Serialize, Default)]
struct DeployDecisions {
    allowed: usize,
    refused: usize,
    cannot_judge: usize,
    decisions: Vec<DeployDecision>,
}

#[derive(Serialize)]
struct DeployDecision {
    entry: u64,
    environment: String,
    commit: String,
    decision: String,
    decided_at: Timestamp,
}

#[derive(Serialize)]
struct Sample {
    size: usize,
    seed: u64,
    population: usize,
    changes: Vec<Sampled>,
}

#[derive(Serialize)]
struct Sampled {
    evaluation: Evaluation,
    /// Every log entry about the change, each with its inclusion proof (C2SP tlog-proof)
    /// against the log's latest signed checkpoint.
    entries: Vec<ProvenEntry>,
}

#[derive(Serialize)]
struct ProvenEntry {
    entry: u64,
    kind: &'static str,
    recorded_by: String,
    recorded_at: Timestamp,
    proof: String,
}

pub fn run(args: ReportArgs, g: &Global) -> anyhow::Result<u8> {
    anyhow::ensure!(args.from < args.to, "--from {} is not before --to {}", args.from, args.to);
    anyhow::ensure!(
        g.format != Format::Oscal || args.out.is_some(),
        "--format oscal writes two files ({} and {}, which imports it)\nhint: add --out DIR",
        oscal::RESULTS_FILE,
        oscal::PLAN_FILE
    );
    let history = crate::audit::open_history(args.policy.policy.as_deref(), g)?;
    let now = g.as_of();
    let walk_opts = countersign_git::WalkOptions {
        branch: args.branch.clone(),
        since: Some(args.from),
        // `until` is inclusive in the walk: stop a second before the period's end.
        until: Some(args.to - jiff::SignedDuration::from_secs(1)),
        use_cache: true,
        read: countersign_judge::read_options(&history.policy),
        ..Default::default()
    };
    let (walk, evals) = history.judge(&walk_opts, now, true)?;
    let crate::audit::History { src, policy, store, .. } = history;

    let in_period = |t: Timestamp| t >= args.from && t < args.to;
    let mut versions = Vec::new();
    for e in store.evidence_of_kinds(&["policy-version"])? {
        let Evidence::PolicyVersion { version, sha256 } = &e.evidence else { continue };
        if e.recorded_at >= args.to {
            continue;
        }
        if e.recorded_at <= args.from {
            versions.clear();
        }
        versions.push(PublishedVersion {
            version: version.clone(),
            sha256: sha256.clone(),
            entry: e.index,
            published_at: e.recorded_at,
        });
    }
    let mut deploys = DeployDecisions::default();
    for e in store.evidence_of_kinds(&["deploy-decision"])? {
        let Evidence::DeployDecision { environment, commit, decision, decided_at, .. } = &e.evidence else { continue };
        if !in_period(*decided_at) {
            continue;
        }
        match decision.as_str() {
            "allowed" => deploys.allowed += 1,
            "refused" => deploys.refused += 1,
            _ => deploys.cannot_judge += 1,
        }
        deploys.decisions.push(DeployDecision {
            entry: e.index,
            environment: environment.clone(),
            commit: commit.clone(),
            decision: decision.clone(),
            decided_at: *decided_at,
        });
    }
    let drift = countersign_judge::period::drift(&store, None, args.from, args.to)?;
    let retention = countersign_judge::period::retention(&policy, &store, args.from, args.to, now)?;
    let facts = countersign_judge::period::dora_facts(&policy, &store, None, &walk.changes, &evals)?;
    let exceptions = crate::exceptions::rows(&policy, &store, args.to.to_zoned(jiff::tz::TimeZone::UTC).date())?;
    let instances = countersign_engine::obligations::instances(&evals, now, jiff::SignedDuration::from_hours(24));
    let sample = match args.sample {
        Some(n) => Some(draw_sample(&store, &evals, n, args.seed)?),
        None => None,
    };
    let mut by_kind = BTreeMap::new();
    let mut by_risk = BTreeMap::new();
    for e in &evals {
        *by_kind.entry(e.change.kind.describe().to_owned()).or_insert(0) += 1;
        *by_risk.entry(e.risk.as_ref().map_or("not classified".to_owned(), |r| r.name.clone())).or_insert(0) += 1;
    }
    let report = Report {
        schema: "countersign.report",
        version: SCHEMA_VERSION,
        as_of: now,
        period: Period { from: args.from, to: args.to },
        policy: PolicyInForce {
            organization: policy.meta.organization.clone(),
            source: src.name.clone(),
            sha256: countersign_store::evidence::sha256_hex(src.text.as_bytes()),
            versions,
        },
        population: Population { summary: summarize(&evals), by_kind, by_risk },
        controls: policy
            .meta
            .controls
            .iter()
            .filter(|c| args.controls.includes(&c.framework))
            .map(|c| countersign_judge::period::control_result(c, &evals))
            .collect(),
        exceptions,
        emergencies: countersign_judge::period::emergencies(
            &walk.changes,
            &evals,
            now,
            jiff::SignedDuration::from_hours(24),
        ),
        obligations: Obligations { counts: countersign_engine::obligations::count(&instances), instances },
        deploy_decisions: deploys,
        console_changes: evals.iter().filter(|e| e.change.id.starts_with("console:")).count(),
        drift: drift.latest,
        drift_history: drift.history,
        activity_snapshots: drift.snapshots,
        retention,
        metrics: facts.over(args.from, args.to),
        metrics_by_month: facts.by_month(args.from, args.to),
        sample,
    };

    let (text, extension) = match g.format {
        Format::Json => (output::to_json(&report)?, "json"),
        Format::Html => (html_report(&report), "html"),
        Format::Oscal => (output::to_json(&oscal::assessment_results(&report))?, "oscal"),
        _ => (markdown_report(&report), "md"),
    };
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            if g.format == Format::Oscal {
                // The plan first: the results name it.
                write_atomically(dir, oscal::PLAN_FILE, &output::to_json(&oscal::assessment_plan(&report))?)?;
                write_atomically(dir, oscal::RESULTS_FILE, &text)?;
            } else {
                write_atomically(dir, &format!("report.{extension}"), &text)?;
            }
        }
        None => print!("{text}"),
    }
    store.close();
    if !args.no_record {
        record_digest(g, &report, extension, &text)?;
    }
    Ok(EXIT_OK)
}

#[derive(clap::Subcommand, Debug)]
pub enum OscalCommand {
    /// Write an OSCAL 1.1 component-definition: countersign as the component that
    /// implements each control the policy maps ([[policy.controls]]), through the
    /// requirements named there.
    #[command(
        after_help = "Examples:\n  countersign oscal component > component-definition.json\n  countersign oscal component --policy bundled:healthcare-cab --out cd.json\n\nThe period's findings come from `countersign report --format oscal --out DIR`.\n\nExit codes: 0 written, 2 the policy is invalid or the file could not be written."
    )]
    Component {
        /// Write the document to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
}

pub fn oscal(cmd: OscalCommand, g: &Global) -> anyhow::Result<u8> {
    let OscalCommand::Component { out, policy } = cmd;
    let src = crate::policy_source::read(policy.policy.as_deref(), &g.repo())?;
    let loaded = crate::policy_source::load(&src, g.today())?;
    crate::policy_source::warn(&src, &loaded.warnings);
    let sha256 = countersign_store::evidence::sha256_hex(src.text.as_bytes());
    let doc = oscal::component_definition(&loaded.policy, &src.name, &sha256, g.as_of());
    let text = output::to_json(&doc)?;
    match out {
        Some(path) => {
            crate::policy_cmd::write_atomically(&path, text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(EXIT_OK)
}

/// Write `name` in `dir` without leaving a half-written file, and say so.
fn write_atomically(dir: &std::path::Path, name: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    crate::policy_cmd::write_atomically(&path, text.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The sample: each drawn change with every log entry about it and its inclusion proof.
fn draw_sample(store: &countersign_store::Store, evals: &[Evaluation], n: usize, seed: u64) -> anyhow::Result<Sample> {
    let mut changes = Vec::new();
    for i in sample(evals.len(), n, seed) {
        let eval = evals[i].clone();
        let mut entries = Vec::new();
        for e in store.evidence_for(&[eval.change.id.as_str()])? {
            entries.push(ProvenEntry {
                entry: e.index,
                kind: e.evidence.kind(),
                recorded_by: e.recorded_by.clone(),
                recorded_at: e.recorded_at,
                proof: store.inclusion_proof(e.index, None)?.to_text(),
            });
        }
        changes.push(Sampled { evaluation: eval, entries });
    }
    Ok(Sample { size: changes.len(), seed, population: evals.len(), changes })
}

/// Record the report's SHA-256 as a `report` entry.
fn record_digest(g: &Global, report: &Report, format: &str, text: &str) -> anyhow::Result<()> {
    let ctx = crate::store::context(g);
    let store = ctx
        .open_for_writing()
        .context("the report's digest is recorded in the evidence log\nhint: pass --no-record to write it without")?;
    let sha256 = countersign_store::evidence::sha256_hex(text.as_bytes());
    let by = ctx.default_recorder().unwrap_or_else(|| "countersign-report".to_owned());
    let outcome = store.record(&RecordRequest {
        change: None,
        recorded_by: by,
        recorded_at: countersign_store::whole_second(g.as_of()),
        idempotency_key: Some(format!("report:{sha256}")),
        evidence: Evidence::Report {
            from: report.period.from,
            to: report.period.to,
            format: format.to_owned(),
            sha256: sha256.clone(),
            changes: report.population.summary.population as u64,
        },
    })?;
    let entry = match outcome {
        countersign_store::AppendOutcome::Appended(i) | countersign_store::AppendOutcome::AlreadyRecorded(i) => i,
    };
    store.close();
    eprintln!("the report's SHA-256 {sha256} is log entry #{entry}");
    Ok(())
}

fn until_text(x: &crate::exceptions::Listed) -> String {
    x.until.map_or_else(|| "no date".to_owned(), |d| d.to_string())
}

fn time_text(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "no time".to_owned(), |t| t.to_string())
}

fn authorizers(e: &Emergency) -> String {
    if e.authorized_by.is_empty() { "no one".to_owned() } else { e.authorized_by.join(", ") }
}

fn markdown_report(r: &Report) -> String {
    let mut s = format!(
        "# Change management report: {}\n\nPeriod {} to {} (exclusive), judged as of {}.\nPolicy: {} (SHA-256 `{}`).\n\n",
        r.policy.organization, r.period.from, r.period.to, r.as_of, r.policy.source, r.policy.sha256
    );
    s.push_str("## Policy versions in force\n\n");
    if r.policy.versions.is_empty() {
        s.push_str("No version was published with `countersign policy publish`.\n\n");
    }
    for v in &r.policy.versions {
        s.push_str(&format!(
            "- version {} (SHA-256 `{}`), published {} (entry #{})\n",
            v.version, v.sha256, v.published_at, v.entry
        ));
    }
    s.push_str("\n## Population\n\n");
    s.push_str(&output::summary_markdown(&r.population.summary));
    for (title, map) in [("kind", &r.population.by_kind), ("risk", &r.population.by_risk)] {
        s.push_str(&format!("\n| {title} | changes |\n|---|---|\n"));
        for (k, n) in map {
            s.push_str(&format!("| {k} | {n} |\n"));
        }
    }
    s.push_str("\n## Controls\n\n| framework | control | requirements | changes | passed | pass rate |\n|---|---|---|---|---|---|\n");
    for c in &r.controls {
        s.push_str(&format!(
            "| {} | {} {} | {} | {} | {} | {} |\n",
            c.framework,
            c.id,
            c.description.as_deref().unwrap_or_default(),
            if c.requirements.is_empty() { "not mapped".to_owned() } else { c.requirements.join(", ") },
            c.changes,
            c.passed,
            percent(c.pass_rate)
        ));
    }
    s.push_str(&format!("\n## Exceptions ({})\n\n", r.exceptions.len()));
    for x in &r.exceptions {
        s.push_str(&format!(
            "- {} ({}): waives {} until {}: {}\n",
            x.id,
            x.state,
            x.waives.join(", "),
            until_text(x),
            x.justification
        ));
    }
    s.push_str(&format!("\n## Emergencies ({})\n\n", r.emergencies.len()));
    for e in &r.emergencies {
        s.push_str(&format!("- {} {}: {} (authorized by {})\n", e.change, e.title, e.verdict.as_str(), authorizers(e)));
        for o in &e.obligations {
            s.push_str(&format!(
                "  - {}: due {}, {}{}\n",
                o.obligation,
                time_text(o.due),
                o.outcome(),
                o.fulfilled_at.map(|t| format!(" (fulfilled {t})")).unwrap_or_default()
            ));
        }
    }
    let o = &r.obligations.counts;
    s.push_str(&format!(
        "\nObligations: {} open ({} overdue), {} fulfilled on time, {} fulfilled late.\n",
        o.open, o.overdue, o.fulfilled, o.fulfilled_late
    ));
    let d = &r.deploy_decisions;
    s.push_str(&format!(
        "\n## Deploy gate\n\n{} allowed, {} refused, {} could not be judged.\n\nConsole changes: {}.\n",
        d.allowed, d.refused, d.cannot_judge, r.console_changes
    ));
    s.push_str("\n## Delivery metrics (DORA)\n\n| Metric | Value |\n|---|---|\n");
    for (label, value) in charts::metric_rows(&r.metrics) {
        s.push_str(&format!("| {label} | {value} |\n"));
    }
    s.push_str("\n| Month | Deploys a week | Lead time | Change fail rate | Recovery | Rework rate |\n|---|---|---|---|---|---|\n");
    for m in &r.metrics_by_month {
        s.push_str(&format!(
            "| {} | {:.2} | {} | {} | {} | {} |\n",
            m.month,
            m.deployments_per_week,
            charts::hours(m.lead_time_hours),
            percent(m.change_fail_rate),
            charts::hours(m.recovery_hours),
            percent(m.rework_rate)
        ));
    }
    s.push_str("\n| Month | Incidents | Caused by a change | Share |\n|---|---|---|---|\n");
    for m in &r.metrics.months {
        s.push_str(&format!(
            "| {} | {} | {} | {}{} |\n",
            m.month,
            m.incidents,
            m.caused_by_change,
            percent(m.share),
            if m.breach { " **over the policy's threshold**" } else { "" }
        ));
    }
    s.push_str("\n## Forge settings\n\n");
    if r.drift.is_empty() {
        s.push_str("No collector has run (`countersign collect branch-protection`).\n");
    }
    for d in &r.drift {
        let place = format!("{}{}", d.repository, d.branch.as_deref().map(|b| format!(":{b}")).unwrap_or_default());
        if d.findings.is_empty() {
            s.push_str(&format!(
                "- {} {place}: as the policy asks (entry #{}, {})\n",
                d.collector, d.entry, d.checked_at
            ));
        }
        for f in &d.findings {
            s.push_str(&format!(
                "- {} {place}: **{}** {} (entry #{}, {})\n",
                d.collector, f.id, f.message, d.entry, d.checked_at
            ));
        }
    }
    if !r.activity_snapshots.is_empty() {
        s.push_str("\nActivity snapshots (signed, one per window):\n\n");
    }
    for a in &r.activity_snapshots {
        s.push_str(&format!(
            "- {} {} {} to {}: {} merge(s), {} deploy(s) (entry #{})\n",
            a.collector, a.repository, a.from, a.to, a.merges, a.deploys, a.entry
        ));
    }
    if !r.drift_history.is_empty() {
        s.push_str("\nRuns in the period:\n\n| Checked | Where | Findings | Opened | Fixed | Entry |\n|---|---|---|---|---|---|\n");
    }
    for d in &r.drift_history {
        s.push_str(&format!(
            "| {} | {} {}{} | {} | {} | {} | #{} |\n",
            d.checked_at,
            d.collector,
            d.repository,
            d.branch.as_deref().map(|b| format!(":{b}")).unwrap_or_default(),
            if d.findings.is_empty() { "none".to_owned() } else { d.findings.join(", ") },
            d.opened.join(", "),
            d.fixed.join(", "),
            d.entry
        ));
    }
    s.push_str(&retention_markdown(&r.retention));
    if let Some(sample) = &r.sample {
        s.push_str(&format!(
            "\n## Sample\n\n{} of {} changes, seed {}.\n\n",
            sample.size, sample.population, sample.seed
        ));
        for c in &sample.changes {
            s.push_str(&output::evaluation_markdown(&c.evaluation));
            for e in &c.entries {
                s.push_str(&format!(
                    "\nLog entry #{} ({}, by {}):\n\n```\n{}```\n",
                    e.entry, e.kind, e.recorded_by, e.proof
                ));
            }
        }
    }
    s
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1b1f24;max-width:60rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem;break-after:avoid}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}tr{break-inside:avoid}.sub{color:#57606a}.ok{color:#1a7f37}.bad{color:#cf222e}.warn{color:#9a6700}\
code,pre{font:12px ui-monospace,monospace}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap}\
.figures{display:flex;gap:1rem;flex-wrap:wrap}.figure{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem}\
.figure b{display:block;font-size:1.4rem}svg.chart{display:block;max-width:100%;height:auto;margin:.5rem 0;break-inside:avoid}\
h3{font-size:1rem;margin-top:1.2rem;break-after:avoid}@media print{body{margin:0;max-width:none}a{color:inherit}}";

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Compliant => "ok",
        Verdict::EvidenceMissing => "warn",
        Verdict::Violation => "bad",
    }
}

fn html_report(r: &Report) -> String {
    let s = &r.population.summary;
    let figure = |label: &str, value: String| -> Markup {
        html! { div.figure { b { (value) } span.sub { (label) } } }
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Change management report · " (r.policy.organization) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Change management report: " (r.policy.organization) }
                p.sub {
                    "Period " (r.period.from) " to " (r.period.to) " (exclusive), judged as of " (r.as_of) ". Policy "
                    (r.policy.source) ", SHA-256 " code { (r.policy.sha256) } "."
                }
                div.figures {
                    (figure("changes", s.population.to_string()))
                    (figure("compliant", s.compliant.to_string()))
                    (figure("evidence missing", s.evidence_missing.to_string()))
                    (figure("violations", s.violations.to_string()))
                    (figure("emergencies", s.emergencies.to_string()))
                    (figure("console changes", r.console_changes.to_string()))
                }
                h2 { "Policy versions in force" }
                @if r.policy.versions.is_empty() { p.sub { "No version was published with countersign policy publish." } }
                ul { @for v in &r.policy.versions {
                    li { "Version " (v.version) ", published " (v.published_at) " (log entry #" (v.entry) "), SHA-256 " code { (v.sha256) } }
                } }
                h2 { "Population" }
                @for (title, counts) in [("Kind", &r.population.by_kind), ("Category", &s.by_category), ("Risk", &r.population.by_risk)] {
                    table {
                        thead { tr { th { (title) } th { "Changes" } } }
                        tbody { @for (k, n) in counts { tr { td { (k) } td { (n) } } } }
                    }
                }
                h2 { "Controls" }
                @if r.controls.is_empty() { p.sub { "The policy maps no control (add [[policy.controls]])." } }
                @else {
                    (charts::pass_rates(&r.controls))
                    table {
                        thead { tr { th { "Control" } th { "Implemented by" } th { "Changes" } th { "Passed" } th { "Pass rate" } } }
                        tbody { @for c in &r.controls {
                            tr {
                                td { strong { (c.framework) " " (c.id) } @if let Some(d) = &c.description { br; span.sub { (d) } } }
                                td { @if c.requirements.is_empty() { span.sub { "not mapped to requirements" } } @else { (c.requirements.join(", ")) } }
                                td { (c.changes) } td { (c.passed) }
                                td class=(if c.pass_rate.is_some_and(|p| p < 1.0) { "bad" } else { "ok" }) { (percent(c.pass_rate)) }
                            }
                        } }
                    }
                }
                h2 { "Exceptions" }
                @if r.exceptions.is_empty() { p.sub { "No exception." } }
                @else {
                    table {
                        thead { tr { th { "Exception" } th { "State" } th { "Waives" } th { "Until" } th { "Justification" } } }
                        tbody { @for x in &r.exceptions {
                            tr { td { (x.id) } td { (x.state) } td { (x.waives.join(", ")) }
                                 td { (until_text(x)) } td { (x.justification) } }
                        } }
                    }
                }
                h2 { "Emergencies and their obligations" }
                @if r.emergencies.is_empty() { p.sub { "No emergency change." } }
                ul { @for e in &r.emergencies {
                    li { code { (e.change) } " " (e.title) ": " span class=(verdict_class(e.verdict)) { (e.verdict.as_str()) }
                         ", authorized by " (authorizers(e)) }
                } }
                @if !r.emergencies.is_empty() {
                    (charts::emergency_timeline(&r.emergencies, r.period.from, r.period.to, r.as_of))
                    (charts::emergency_table(&r.emergencies))
                }
                p {
                    (r.obligations.counts.open) " open (" (r.obligations.counts.overdue) " overdue), "
                    (r.obligations.counts.fulfilled) " fulfilled on time, " (r.obligations.counts.fulfilled_late) " fulfilled late."
                }
                h2 { "Deploy gate" }
                p { (r.deploy_decisions.allowed) " allowed, " (r.deploy_decisions.refused) " refused, "
                    (r.deploy_decisions.cannot_judge) " could not be judged." }
                h2 { "Delivery metrics (DORA)" }
                (charts::monthly(&r.metrics))
                (charts::trends(&r.metrics_by_month))
                table {
                    tbody { @for (label, value) in charts::metric_rows(&r.metrics) { tr { td { (label) } td { (value) } } } }
                }
                table {
                    thead { tr { th { "Month" } th { "Incidents" } th { "Caused by a change" } th { "Share" } } }
                    tbody { @for m in &r.metrics.months {
                        tr { td { (m.month) } td { (m.incidents) } td { (m.caused_by_change) }
                             td class=(if m.breach { "bad" } else { "ok" }) { (percent(m.share)) @if m.breach { " over the policy's threshold" } } }
                    } }
                }
                h2 { "Forge settings" }
                @if r.drift.is_empty() { p.sub { "No collector has run (countersign collect branch-protection)." } }
                ul { @for d in &r.drift {
                    li {
                        (d.collector) " " code { (d.repository) @if let Some(b) = &d.branch { ":" (b) } } ": "
                        @if d.findings.is_empty() { span.ok { "as the policy asks" } }
                        @else { span.bad { (d.findings.len()) " finding(s)" } }
                        span.sub { " (log entry #" (d.entry) ", " (d.checked_at) ")" }
                        @if !d.findings.is_empty() { ul { @for f in &d.findings { li { strong { (f.id) } ": " (f.message) } } } }
                    }
                } }
                @if !r.activity_snapshots.is_empty() {
                    h3 { "Activity snapshots" }
                    p.sub { "Each a signed log entry: the window's merges or deploys as the collector saw them." }
                    ul { @for a in &r.activity_snapshots {
                        li { (a.collector) " " code { (a.repository) } " " (a.from) " to " (a.to) ": "
                             (a.merges) " merge(s), " (a.deploys) " deploy(s)"
                             span.sub { " (log entry #" (a.entry) ")" } }
                    } }
                }
                h3 { "Drift history" }
                @if r.drift_history.is_empty() { p.sub { "No collector ran in the period." } }
                @else {
                    (charts::drift_history(&r.drift_history, r.period.from, r.period.to))
                    (charts::drift_table(&r.drift_history))
                }
                (retention_html(&r.retention))
                @if let Some(sample) = &r.sample {
                    h2 { "Sample" }
                    p.sub { (sample.size) " of " (sample.population) " changes, drawn with seed " (sample.seed) "." }
                    @for c in &sample.changes {
                        h3 { code { (c.evaluation.change.id) } " " (c.evaluation.change.title) ": "
                             span class=(verdict_class(c.evaluation.verdict)) { (c.evaluation.verdict.as_str()) } }
                        table {
                            thead { tr { th { "Requirement" } th { "Status" } th { "Evidence" } } }
                            tbody { @for q in &c.evaluation.requirements {
                                tr { td { (q.id) br; span.sub { (q.description) } } td { (format!("{:?}", q.status).to_lowercase()) }
                                     td { (q.evidence.join("; ")) @if let Some(d) = &q.detail { br; span.sub { (d) } } } }
                            } }
                        }
                        @for e in &c.entries {
                            p.sub { "Log entry #" (e.entry) " (" (e.kind) ", recorded by " (e.recorded_by) " at " (e.recorded_at) "), its inclusion proof:" }
                            pre { (e.proof) }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

/// How long the policy keeps a record: "indefinitely", "90 days".
fn keep_text(days: Option<u32>) -> String {
    match days {
        None => "indefinitely".to_owned(),
        Some(1) => "1 day".to_owned(),
        Some(d) => format!("{d} days"),
    }
}

/// What the place of record may have dropped of the period, and who still holds it; `None`
/// when nothing of the period is past the retention.
fn retention_note(r: &RetentionRow) -> Option<String> {
    if !r.period_before_cutoff {
        return None;
    }
    let cutoff = time_text(r.cutoff);
    let place = r.location.as_deref().unwrap_or("the place of record");
    Some(if r.kinds.is_empty() {
        format!("the period starts before {cutoff}: {place} may no longer hold its start, and countersign keeps none")
    } else if r.entries_before_cutoff == 0 {
        format!(
            "the period starts before {cutoff}: {place} may no longer hold its start; countersign recorded none of it"
        )
    } else {
        format!(
            "the period starts before {cutoff}: {place} may no longer hold its start; countersign's log still holds \
             its {} entr{} from before then",
            r.entries_before_cutoff,
            if r.entries_before_cutoff == 1 { "y" } else { "ies" }
        )
    })
}

/// The retention section: each `[[retention]]` line, what the policy keeps where, and what
/// countersign's append-only log holds of it.
fn retention_markdown(rows: &[RetentionRow]) -> String {
    let mut s = String::from("\n## Retention\n\n");
    if rows.is_empty() {
        s.push_str("The policy states no retention (`[[retention]]`).\n");
        return s;
    }
    s.push_str(
        "What the policy keeps where, beside what countersign's evidence log (append-only: it deletes nothing) holds \
         of it.\n\n| Record | Kept at | Kept for | Evidence kinds | In the period | Oldest entry | State |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let state = match retention_note(r) {
            Some(note) if r.kinds.is_empty() => format!("{}; **{note}**", r.state),
            Some(note) => format!("{}; {note}", r.state),
            None => r.state.to_owned(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.record,
            r.location.as_deref().unwrap_or("not stated"),
            match r.cutoff {
                Some(c) => format!("{} (cut-off {c})", keep_text(r.keep_days)),
                None => keep_text(r.keep_days),
            },
            if r.kinds.is_empty() { "none".to_owned() } else { r.kinds.join(", ") },
            r.entries,
            r.oldest.map_or_else(|| "none".to_owned(), |t| t.to_string()),
            state
        ));
    }
    s
}

fn retention_html(rows: &[RetentionRow]) -> Markup {
    let state_class = |r: &RetentionRow| match r.state {
        "held" => "ok",
        "none in period" => "warn",
        _ => "sub",
    };
    html! {
        h2 { "Retention" }
        @if rows.is_empty() { p.sub { "The policy states no retention ([[retention]])." } }
        @else {
            p.sub { "What the policy keeps where, beside what countersign's evidence log (append-only: it deletes nothing) holds of it." }
            table {
                thead { tr { th { "Record" } th { "Kept at" } th { "Kept for" } th { "Evidence kinds" }
                             th { "In the period" } th { "Oldest entry" } th { "State" } } }
                tbody { @for r in rows {
                    tr {
                        td { (r.record) }
                        td { @if let Some(l) = &r.location { (l) } @else { span.sub { "not stated" } } }
                        td { (keep_text(r.keep_days)) @if let Some(c) = r.cutoff { br; span.sub { "cut-off " (c) } } }
                        td { @if r.kinds.is_empty() { span.sub { "none" } } @else { (r.kinds.join(", ")) } }
                        td { (r.entries) }
                        td { @if let Some(t) = r.oldest { (t) } @else { span.sub { "none" } } }
                        td {
                            span class=(state_class(r)) { (r.state) }
                            @if let Some(note) = retention_note(r) {
                                br; span class=(if r.kinds.is_empty() { "bad" } else { "warn" }) { (note) }
                            }
                        }
                    }
                } }
            }
        }
    }
}
