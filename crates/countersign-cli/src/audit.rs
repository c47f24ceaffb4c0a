//! `countersign audit`: every change of a branch's first-parent history against the policy.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use countersign_engine::report::{Evaluation, Verdict};
use countersign_engine::summary::{Summary, sample, summarize};

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_OK, EXIT_VIOLATIONS, PolicyArgs, audit_cache, policy_source, recorded};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  countersign audit --policy bundled\n  countersign audit --since 2026-01-01 --until 2026-06-30 --format json > audit.json\n  countersign audit v1.0..v1.1 --format markdown\n  countersign audit --sample 25 --seed 2026   # a reproducible auditor's sample\n\nExit codes: 0 no violations, 1 violations found, 2 could not audit."
)]
pub struct AuditArgs {
    /// The branch whose first-parent history is audited (default: the checked-out branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// Only changes committed on or after this date (YYYY-MM-DD or an RFC 3339 time).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<jiff::Timestamp>,
    /// Only changes committed before this date (YYYY-MM-DD is exclusive of that day's end: the day is included).
    #[arg(long, value_parser = parse_time_end)]
    pub until: Option<jiff::Timestamp>,
    /// A revision range such as `v1.0..main`; defaults to the branch's whole history.
    pub range: Option<String>,
    /// Report a reproducible random sample of N changes (the summary still covers all).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Seed for --sample; the same seed and history give the same sample.
    #[arg(long, default_value_t = 0, requires = "sample")]
    pub seed: u64,
    /// Do not read or write the caches: the per-commit facts, and the judgements a JSON
    /// audit keeps so that the next audit of the branch judges only new changes (the
    /// report is the same either way).
    #[arg(long)]
    pub no_cache: bool,
    /// Treat "evidence missing" as a failure (exit 1).
    #[arg(long)]
    pub strict: bool,
    /// Judge from git (and --pr-json) alone: do not open the evidence store or register
    /// changes in it.
    #[arg(long)]
    pub no_store: bool,
    /// Print only changes that are not compliant (the summary still covers all).
    #[arg(long)]
    pub only_problems: bool,
    /// Record each change's verdict in the evidence log (a `verdict` entry: the
    /// evaluation, the policy's SHA-256, the commits judged), so that an auditor later sees
    /// what was decided at the time. The same judgement recorded again writes nothing.
    #[arg(long, conflicts_with = "no_store")]
    pub record: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

pub fn parse_time(s: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = s.parse().map_err(|e| format!("expected YYYY-MM-DD or an RFC 3339 time: {e}"))?;
    date.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string())
}

fn parse_time_end(s: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = s.parse().map_err(|e| format!("expected YYYY-MM-DD or an RFC 3339 time: {e}"))?;
    let next = date.tomorrow().map_err(|e| e.to_string())?;
    next.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string())
}

#[derive(Serialize)]
struct AuditReport<'a> {
    schema: &'static str,
    version: u32,
    /// The time the changes were judged as of (`--now`, else the clock).
    as_of: jiff::Timestamp,
    policy: PolicyRef<'a>,
    repository: String,
    branch: Option<String>,
    range: Option<&'a str>,
    since: Option<jiff::Timestamp>,
    until: Option<jiff::Timestamp>,
    summary: &'a Summary,
    sample: Option<SampleInfo>,
    changes: Vec<&'a Evaluation>,
}

#[derive(Serialize)]
pub struct PolicyRef<'a> {
    pub source: &'a str,
    pub organization: &'a str,
    pub version: &'a str,
    /// SHA-256 of the policy text judged with: the version an auditor can match against
    /// a `policy-version` log entry (`countersign policy publish`).
    pub sha256: String,
}

impl<'a> PolicyRef<'a> {
    /// The policy read from `src`, as a report names it.
    pub fn of(src: &'a policy_source::PolicyText, policy: &'a countersign_policy::model::Policy) -> Self {
        PolicyRef {
            source: &src.name,
            organization: &policy.meta.organization,
            version: &policy.meta.version,
            sha256: countersign_store::evidence::sha256_hex(src.text.as_bytes()),
        }
    }
}

#[derive(Serialize)]
struct SampleInfo {
    size: usize,
    seed: u64,
    population: usize,
}

pub fn run(args: AuditArgs, g: &crate::Global) -> anyhow::Result<u8> {
    let repo_path = g.repo();
    let repo = countersign_git::Repository::open(&repo_path)
        .with_context(|| format!("cannot audit {}", repo_path.display()))?;
    let src = policy_source::read(args.policy.policy.as_deref(), repo.path())?;
    let loaded = policy_source::load(&src, g.today())?;
    policy_source::warn(&src, &loaded.warnings);
    let mut policy = loaded.policy;
    crate::owners::import_codeowners(&mut policy, &repo, None);

    let walk_opts = countersign_git::WalkOptions {
        branch: args.branch.clone(),
        range: args.range.clone(),
        since: args.since,
        until: args.until,
        use_cache: !args.no_cache,
        read: countersign_judge::read_options(&policy),
        ..Default::default()
    };
    // The store's context once: it asks git for the repository's name.
    let ctx = (!args.no_store).then(|| crate::store::context_of(g, Some(&repo)));
    let store = match (&ctx, args.record) {
        (None, _) => None,
        (Some(ctx), false) => Some((recorded::open_in(ctx)?, ctx.repository.clone())),
        (Some(ctx), true) => {
            let store = ctx
                .open_for_writing()
                .context("audit --record writes to the evidence log\nhint: create it once with `countersign init`")?;
            Some((store, ctx.repository.clone()))
        }
    };
    if let Some((store, _)) = &store {
        recorded::add_exceptions(store, &mut policy)?;
    }
    let store = store.as_ref().map(|(s, r)| (s, r.as_deref()));
    // Console changes are part of a period's population, not of a revision range.
    let console = args.range.is_none();
    let policy_path = policy_path_in(&repo, &src);
    let options = countersign_judge::HistoryOptions { now: g.as_of(), console, policy_path: policy_path.as_deref() };
    // A JSON report of a whole branch keeps its judgements for the next audit.
    let kept = !args.no_cache && !args.record && args.range.is_none() && matches!(g.format, Format::Json);
    let store_id = match (store, &ctx) {
        (Some((_, repository)), Some(ctx)) if kept => {
            format!("store {} repository {repository:?}", ctx.database_url()?)
        }
        _ => "no store".to_owned(),
    };
    let inputs = kept.then(|| {
        audit_cache::Inputs::new(&[
            &format!("{policy:?} at {:?}", policy_path.as_deref()),
            &format!("branch {:?} since {:?} until {:?}", args.branch, args.since, args.until),
            &format!("mailmap {:x}", repo.mailmap_fingerprint()),
            &store_id,
        ])
    });
    let snapshot = inputs
        .as_ref()
        .map(|inputs| Ok::<_, anyhow::Error>((audit_cache::path(&repo), snapshot_context(inputs, store, g)?)))
        .transpose()?;
    let earlier = snapshot.as_ref().and_then(|(path, cx)| {
        audit_cache::load(path, cx, |kept| match (store, kept, &cx.log) {
            (Some((store, _)), Some(kept), Some(now)) => log_growth(store, kept, now).ok().flatten(),
            _ => None,
        })
    });
    // The kept changes that evidence logged since is about: judged again.
    let again = match (&earlier, store) {
        (Some(earlier), Some((store, _))) if !earlier.named_since.is_empty() => {
            let records = store.change_records()?;
            let named = |id: &str| earlier.named_since.contains(records.get(id).map_or(id, String::as_str));
            earlier.ids().filter(|id| named(id)).map(str::to_owned).collect()
        }
        _ => std::collections::BTreeSet::new(),
    };
    let newer = match &earlier {
        Some(earlier) => with_progress(|progress| {
            countersign_judge::judge_walk_after(
                &repo,
                &policy,
                &walk_opts,
                store,
                &options,
                &earlier.tip,
                &again,
                progress,
            )
        })
        .with_context(|| format!("cannot judge the history of {}", repo.path().display()))?,
        None => None,
    };
    // Judged now: every change, or (with the snapshot) the branch's new ones and the kept
    // ones judged again.
    let (mut walk, evals, earlier, again) = match newer {
        Some((walk, evals)) => (walk, evals, earlier, again),
        None => {
            let (walk, evals) = judge_history(&repo, &policy, &walk_opts, store, &options)?;
            (walk, evals, None, std::collections::BTreeSet::new())
        }
    };
    if let (true, Some((store, _)), Some(ctx)) = (args.record, store, &ctx) {
        let by = ctx.default_recorder().unwrap_or_else(|| "countersign-audit".to_owned());
        let sha256 = countersign_store::evidence::sha256_hex(src.text.as_bytes());
        record_verdicts(store, &walk.changes, &evals, &sha256, &by, g.as_of())?;
    }
    // The evaluations carry what the report shows: the changes' paths and messages go before
    // the output is written (on git/git, tens of megabytes of peak memory), freed on another
    // thread while this one writes (if no thread can start, the changes go here and now).
    let changes = std::mem::take(&mut walk.changes);
    let _ = std::thread::Builder::new().name("free".into()).spawn(move || drop(changes));

    if let Format::Json = g.format {
        // Registering the new changes may have linked them to their records: the snapshot
        // is kept under the inputs as they are after the judgement.
        let rekey = inputs.as_ref().map(|inputs| move || snapshot_context(inputs, store, g));
        let keep =
            snapshot.as_ref().zip(rekey.as_ref()).map(|((path, _), rekey)| (path.as_path(), rekey as &dyn Fn() -> _));
        return write_json(&args, g, &src, &policy, &repo_path, walk, evals, earlier, &again, keep);
    }
    let summary = summarize(&evals);
    let picked: Vec<&Evaluation> = match args.sample {
        Some(n) => sample(evals.len(), n, args.seed).into_iter().map(|i| &evals[i]).collect(),
        None => evals.iter().collect(),
    };
    let shown: Vec<&Evaluation> =
        picked.into_iter().filter(|e| !args.only_problems || e.verdict != Verdict::Compliant).collect();

    let out = match g.format {
        Format::Markdown => {
            let mut s = format!(
                "# countersign audit — {}\n\nPolicy: {} version {} ({}), judged as of {}\n\n",
                walk.branch.as_deref().unwrap_or("HEAD"),
                policy.meta.organization,
                policy.meta.version,
                src.name,
                g.as_of()
            );
            s.push_str(&output::summary_markdown(&summary));
            if let Some(n) = args.sample {
                s.push_str(&format!("\nSample of {} drawn with seed {}.\n", n.min(evals.len()), args.seed));
            }
            s.push('\n');
            for e in &shown {
                s.push_str(&output::evaluation_markdown(e));
            }
            s
        }
        // (JSON was written above.)
        Format::Json | Format::Text | Format::Github | Format::Html | Format::Oscal => {
            let mut s = String::new();
            for e in &shown {
                s.push_str(&output::evaluation_text(e));
                s.push('\n');
            }
            if let Some(n) = args.sample {
                s.push_str(&format!(
                    "Sample of {} of {} changes, seed {}.\n",
                    n.min(evals.len()),
                    evals.len(),
                    args.seed
                ));
            }
            s.push_str(&output::summary_text(&summary));
            s.push_str(&output::as_of_line(g.as_of(), &policy, &src.name));
            s
        }
    };
    print!("{out}");
    Ok(exit_code(evals.iter().map(|e| e.verdict), args.strict))
}

/// What the audit's judgements rest on (see [`audit_cache`]): the fixed `inputs`, and the
/// store's log and links as they are now.
fn snapshot_context(
    inputs: &audit_cache::Inputs,
    store: Option<(&countersign_store::Store, Option<&str>)>,
    g: &crate::Global,
) -> anyhow::Result<audit_cache::Context> {
    let (links, log) = match store {
        Some((store, _)) => {
            let log = (store.tree_size()?, store.latest_checkpoint()?);
            // Which record each change's evidence is filed under; with an empty log there
            // is no evidence, and the links cannot matter.
            let links = match log.0 {
                0 => "empty log".to_owned(),
                _ => store.change_links_digest()?,
            };
            (links, Some(log))
        }
        None => (String::new(), None),
    };
    Ok(audit_cache::Context::new(inputs, &links, log, g.as_of()))
}

/// Evidence kinds that judging a change never reads (the verdicts `audit --record` logs,
/// reports, collector runs, reminders, deploy decisions, incidents, policy versions and
/// their approvals, webhook deliveries): appending them leaves every judgement as it was.
const NOT_JUDGED: &[&str] = &[
    "verdict",
    "report",
    "collector-run",
    "reminder",
    "deploy-decision",
    "incident",
    "policy-version",
    "policy-approval",
    "webhook-delivery",
];

/// Evidence kinds that change only the judgement of the change they name: what
/// `countersign_judge::add_recorded` adds to a change.
const ABOUT_ONE_CHANGE: &[&str] = &["approval", "approval-withdrawn", "check", "obligation-fulfilled", "emergency"];

/// How the log, which was `kept` (size, latest checkpoint) when an earlier audit judged and
/// is `now` today, grew since: the record ids that the entries logged since name, when it
/// still holds what it held then and grew only by entries of kinds judging never reads
/// ([`NOT_JUDGED`]) or that are about one change ([`ABOUT_ONE_CHANGE`]). `None` when the
/// earlier judgements cannot stand (a deploy, a console change, an exception logged since;
/// the log rewritten). Reads through the store's proof.
fn log_growth(
    store: &countersign_store::Store,
    kept: &(u64, Option<String>),
    now: &(u64, Option<String>),
) -> anyhow::Result<Option<std::collections::BTreeSet<String>>> {
    let (kept_size, Some(kept_checkpoint)) = kept else { return Ok(None) };
    if now.0 <= *kept_size {
        return Ok(None);
    }
    // The checkpoint the earlier audit saw is still the log's at its size.
    let Some(size) = kept_checkpoint.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) else { return Ok(None) };
    if store.checkpoint(size)? != *kept_checkpoint {
        return Ok(None);
    }
    let kinds = [NOT_JUDGED, ABOUT_ONE_CHANGE].concat();
    let since: Vec<_> = store.evidence_of_kinds(&kinds)?.into_iter().filter(|e| e.index >= *kept_size).collect();
    if since.len() as u64 != now.0 - kept_size {
        return Ok(None);
    }
    let mut named = std::collections::BTreeSet::new();
    for e in since.iter().filter(|e| ABOUT_ONE_CHANGE.contains(&e.evidence.kind())) {
        let Some(id) = &e.change_id else { return Ok(None) };
        named.insert(id.clone());
    }
    Ok(Some(named))
}

/// The JSON report, from the changes judged now and those an earlier audit kept; with
/// `keep` (the snapshot's path, and its key after the judgement), keep them all for the
/// next one. Each change's JSON is rendered once, for the report and the snapshot alike;
/// the evaluations are dropped as they are rendered.
#[allow(clippy::too_many_arguments)]
fn write_json(
    args: &AuditArgs,
    g: &crate::Global,
    src: &policy_source::PolicyText,
    policy: &countersign_policy::model::Policy,
    repo_path: &std::path::Path,
    walk: countersign_git::Walk,
    evals: Vec<Evaluation>,
    earlier: Option<audit_cache::Snapshot>,
    again: &std::collections::BTreeSet<String>,
    keep: Option<(&std::path::Path, &dyn Fn() -> anyhow::Result<audit_cache::Context>)>,
) -> anyhow::Result<u8> {
    // Judged now: the branch's new changes (then, when judged afresh, the console changes;
    // with a snapshot, the kept changes of `again`).
    let new_git = match &earlier {
        Some(_) => evals.iter().filter(|e| !again.contains(&e.change.id)).count(),
        None => walk.stats.in_window,
    };
    let keepable = evals.iter().all(|e| !e.time_sensitive && !e.emergency);
    let mut records = Vec::with_capacity(evals.len() + earlier.as_ref().map_or(0, |e| e.len()));
    let mut judged_again = std::collections::HashMap::new();
    // Obligations are counted from the emergencies' evaluations (never kept).
    let mut emergencies = Vec::new();
    // Rendered on every core, in order; each evaluation is dropped once rendered.
    let rendered: Vec<(audit_cache::Record, Option<Evaluation>)> = {
        use rayon::prelude::*;
        evals
            .into_par_iter()
            .map_init(Vec::new, |scratch, e| Ok((audit_cache::Record::of(&e, scratch)?, e.emergency.then_some(e))))
            .collect::<anyhow::Result<_>>()?
    };
    for (record, emergency) in rendered {
        if again.contains(record.id.as_ref()) {
            judged_again.insert(record.id.to_string(), record);
        } else {
            records.push(record);
        }
        emergencies.extend(emergency);
    }
    let git_changes = match &earlier {
        Some(earlier) => {
            // On a terminal, say why this was quick and how to judge everything again.
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "note: judged {new_git} new change(s) and {} with evidence logged since; {} judged earlier at {} were kept (--no-cache judges all again)",
                    again.len(),
                    earlier.len() - again.len(),
                    earlier.tip.get(..12).unwrap_or(&earlier.tip)
                );
            }
            records.extend(earlier.records().map(|r| judged_again.remove(r.id.as_ref()).unwrap_or(r)));
            new_git + earlier.git_changes
        }
        None => new_git,
    };
    let summary =
        countersign_engine::summary::summarize_tallies(records.iter().map(|r| r.tally.as_ref()), &emergencies);
    let picked: Vec<usize> = match args.sample {
        Some(n) => sample(records.len(), n, args.seed),
        None => (0..records.len()).collect(),
    };
    let shown: Vec<&audit_cache::Record> = picked
        .into_iter()
        .map(|i| &records[i])
        .filter(|r| !args.only_problems || r.tally.verdict != Verdict::Compliant)
        .collect();
    audit_cache::write_report(
        &AuditReport {
            schema: "countersign.audit",
            version: SCHEMA_VERSION,
            as_of: g.as_of(),
            policy: PolicyRef::of(src, policy),
            repository: repo_path.display().to_string(),
            branch: walk.branch.clone(),
            range: args.range.as_deref(),
            since: args.since,
            until: args.until,
            summary: &summary,
            sample: args.sample.map(|size| SampleInfo {
                size: size.min(records.len()),
                seed: args.seed,
                population: records.len(),
            }),
            changes: Vec::new(),
        },
        &shown,
    )?;
    match (keep, &walk.tip, keepable) {
        (None, _, _) => {}
        (Some((path, rekey)), Some(tip), true) => {
            let stored =
                rekey().and_then(|cx| Ok(audit_cache::store(path, &cx, tip, git_changes, &records, earlier.as_ref())?));
            if let Err(e) = stored {
                eprintln!("note: the audit's judgements could not be kept for the next run ({}: {e})", path.display());
            }
        }
        (Some((path, _)), _, _) => audit_cache::remove(path),
    }
    Ok(exit_code(records.iter().map(|r| r.tally.verdict), args.strict))
}

/// `audit --record`: a `verdict` entry for each judged change (console changes are not
/// recorded: they are entries of the log already), in batches; a judgement already in
/// the log is not written again.
fn record_verdicts(
    store: &countersign_store::Store,
    changes: &[countersign_engine::change::Change],
    evals: &[Evaluation],
    policy_sha256: &str,
    by: &str,
    as_of: jiff::Timestamp,
) -> anyhow::Result<()> {
    let requests: Vec<countersign_store::RecordRequest> = changes
        .iter()
        .zip(evals)
        .filter(|(c, _)| !c.id.starts_with("console:"))
        .map(|(c, e)| countersign_judge::verdict_record(c, None, e, policy_sha256, "audit", by, as_of))
        .collect();
    let (mut written, mut already) = (0, 0);
    for chunk in requests.chunks(500) {
        for outcome in store.record_many(chunk).context("cannot record the verdicts")? {
            match outcome {
                countersign_store::AppendOutcome::Appended(_) => written += 1,
                countersign_store::AppendOutcome::AlreadyRecorded(_) => already += 1,
            }
        }
    }
    eprintln!("recorded {written} verdicts in the evidence log ({already} were there already)");
    Ok(())
}

/// What the commands that judge a branch's history with the store open first.
pub struct History {
    pub repo: countersign_git::Repository,
    pub src: policy_source::PolicyText,
    /// The policy in force: CODEOWNERS imported, approved recorded exceptions added.
    pub policy: countersign_policy::model::Policy,
    pub store: countersign_store::Store,
    pub repository: Option<String>,
}

impl History {
    /// Judge the history `walk` names as `audit` does, with the store, as of `now` (with
    /// `console`, the console changes in its window join the changes), for `changes`,
    /// `obligations` and `report`.
    pub fn judge(
        &self,
        walk: &countersign_git::WalkOptions,
        now: jiff::Timestamp,
        console: bool,
    ) -> anyhow::Result<(countersign_git::Walk, Vec<Evaluation>)> {
        let policy_path = policy_path_in(&self.repo, &self.src);
        let options = countersign_judge::HistoryOptions { now, console, policy_path: policy_path.as_deref() };
        judge_history(&self.repo, &self.policy, walk, Some((&self.store, self.repository.as_deref())), &options)
    }
}

/// The policy file's path inside the repository (`/`-separated), when the policy judged is a
/// file in its working tree: what `until-group-exceeds` reads at each change's base.
pub fn policy_path_in(repo: &countersign_git::Repository, src: &policy_source::PolicyText) -> Option<String> {
    let file = src.path.as_ref()?;
    let file = file.canonicalize().ok()?;
    let root = repo.path().canonicalize().ok()?;
    let relative = file.strip_prefix(root).ok()?;
    Some(relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

/// Open the repository, its policy and the evidence store, for `changes` and `obligations`.
pub fn open_history(policy: Option<&str>, g: &crate::Global) -> anyhow::Result<History> {
    let repo_path = g.repo();
    let repo = countersign_git::Repository::open(&repo_path)
        .with_context(|| format!("cannot read the history of {}", repo_path.display()))?;
    let src = policy_source::read(policy, repo.path())?;
    let loaded = policy_source::load(&src, g.today())?;
    policy_source::warn(&src, &loaded.warnings);
    let mut policy = loaded.policy;
    crate::owners::import_codeowners(&mut policy, &repo, None);
    let (store, repository) = recorded::open(g)?;
    recorded::add_exceptions(&store, &mut policy)?;
    Ok(History { repo, src, policy, store, repository })
}

/// [`countersign_judge::judge_walk`] with a progress bar on a terminal, and a note when the
/// range holds no change.
pub fn judge_history(
    repo: &countersign_git::Repository,
    policy: &countersign_policy::model::Policy,
    walk_opts: &countersign_git::WalkOptions,
    store: Option<(&countersign_store::Store, Option<&str>)>,
    options: &countersign_judge::HistoryOptions<'_>,
) -> anyhow::Result<(countersign_git::Walk, Vec<Evaluation>)> {
    let judged =
        with_progress(|progress| countersign_judge::judge_walk(repo, policy, walk_opts, store, options, progress))
            .with_context(|| format!("cannot judge the history of {}", repo.path().display()))?;
    if let Some(e) = &judged.0.stats.cache_write_error {
        // The audit stands; only the next one is slower.
        eprintln!(
            "warning: the cache for the next audit could not be written ({e}); check the directory's permissions and free space"
        );
    }
    if judged.0.changes.is_empty() {
        eprintln!(
            "note: no changes in the requested range{}",
            judged.0.empty_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    Ok(judged)
}

/// Run `judge` with a progress bar on a terminal.
fn with_progress<T>(
    judge: impl FnOnce(&dyn Fn(countersign_git::Progress)) -> Result<T, countersign_judge::JudgeError>,
) -> Result<T, countersign_judge::JudgeError> {
    let bar = progress_bar();
    let judged = judge(&|p: countersign_git::Progress| {
        if let Some(bar) = &bar {
            if p.total > 0 {
                bar.set_length(p.total as u64);
            }
            bar.set_position(p.done as u64);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    judged
}

/// The exit code for changes with these verdicts.
pub fn exit_code(verdicts: impl Iterator<Item = Verdict>, strict: bool) -> u8 {
    let worst = verdicts.max().unwrap_or(Verdict::Compliant);
    match worst {
        Verdict::Violation => EXIT_VIOLATIONS,
        Verdict::EvidenceMissing if strict => EXIT_VIOLATIONS,
        _ => EXIT_OK,
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading history {bar:30} {pos}/{len} commits ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}
