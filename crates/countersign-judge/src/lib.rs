//! The pieces that turn a repository, a forge's words and the evidence store into the
//! `Change` the engine judges, written once for `check`, `audit` and `countersign serve`.
//!
//! It reads git and the store; it prints nothing, reads no clock and makes no decision
//! (the engine does). What a caller should tell a person (a CODEOWNERS file with problems,
//! one that is missing) comes back as a value.

use std::collections::HashMap;

pub mod deploy;
pub mod exceptions;
pub mod period;

use countersign_engine::change::{ApprovalKind, BaseFacts, Change, ChangeKind};
use countersign_engine::{Engine, EvalOptions, Evaluation};
use countersign_policy::Diagnostic;
use countersign_policy::model::{CodeownersSettings, Policy};
use countersign_store::{ChangeRef, Evidence, RecordedEvidence, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error(transparent)]
    Git(#[from] countersign_git::GitError),
    #[error("cannot read the evidence store: {0}")]
    Store(#[from] StoreError),
    /// The last deploy's commit is not in this repository: the range cannot be read.
    #[error(
        "the last deploy to {environment} was of commit {commit}, which this repository does not have\nhint: fetch the full history (a shallow clone lacks it), or pass --since REV"
    )]
    UnknownLastDeploy { environment: String, commit: String },
    /// Judging the deployed range failed (the caller's own walk, with its context).
    #[error("{0}")]
    Range(String),
}

/// How a history is judged, beyond the walk itself.
#[derive(Debug, Clone)]
pub struct HistoryOptions<'a> {
    /// The time every change is judged as of.
    pub now: jiff::Timestamp,
    /// Add the console changes recorded in the walk's date window as changes of their own.
    pub console: bool,
    /// The policy file's path in the repository, when the policy judged is that file: the
    /// groups an exception's `until-group-exceeds` names are then sized as the policy at
    /// each change's base defined them (S000-07). `None` (a bundled policy, a file outside
    /// the repository): the judged policy's groups.
    pub policy_path: Option<&'a str>,
}

impl HistoryOptions<'_> {
    pub fn at(now: jiff::Timestamp) -> Self {
        Self { now, console: false, policy_path: None }
    }
}

/// Walk the history `walk_opts` names, add what the evidence store holds about each change
/// (when given one: changes are registered as they are met) and, with `console`, the
/// console changes recorded in its date window, and judge every change as of `now`. What
/// `audit` and the deploy gate share.
pub fn judge_walk(
    repo: &countersign_git::Repository,
    policy: &Policy,
    walk_opts: &countersign_git::WalkOptions,
    store: Option<(&Store, Option<&str>)>,
    options: &HistoryOptions<'_>,
    progress: &dyn Fn(countersign_git::Progress),
) -> Result<(countersign_git::Walk, Vec<Evaluation>), JudgeError> {
    let console = options.console;
    let mut walk = repo.changes(walk_opts, progress)?;
    let mut changes = std::mem::take(&mut walk.changes);
    let git_changes = changes.len();
    let mut deploys = Vec::new();
    if let Some((store, repository)) = store {
        // One scan of the log: evidence about changes, the deploys (for each change's
        // state) and, with `console`, the console changes in the walk's date window, which
        // join the changes (never a deploy's range: they belong to a period, not commits).
        let kinds: &[&str] = if console { &["deploy", "console-change"] } else { &["deploy"] };
        let (evidence, others) = store.all_change_evidence_and_kinds(kinds)?;
        let (since, until) = (walk_opts.since, walk_opts.until);
        let in_window =
            |c: &Change| c.time.is_none_or(|t| since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u));
        for e in others {
            if let Evidence::ConsoleChange { .. } = &e.evidence {
                changes.extend(console_change(&e).filter(|c| in_window(c)));
            } else if is_deploy_of(&e, repository) {
                deploys.push(e)
            }
        }
        merge_into(store, repository, &mut changes, evidence)?;
    }
    let mut evals = judge_changes(repo, policy, &mut changes, git_changes, options);
    if store.is_some() {
        set_states(&changes, &mut evals, &shipped_by(policy, &changes[..git_changes], &deploys));
    }
    walk.changes = changes;
    Ok((walk, evals))
}

/// Each change's state from its evaluation and the deploys that shipped it (`shipped`, one
/// list per change; changes beyond it, console changes, shipped with none).
fn set_states(changes: &[Change], evals: &mut [Evaluation], shipped: &[Vec<countersign_engine::lifecycle::Shipped>]) {
    for (i, (change, eval)) in changes.iter().zip(evals.iter_mut()).enumerate() {
        let mine = shipped.get(i).map_or(&[][..], Vec::as_slice);
        eval.state = Some(countersign_engine::lifecycle::state_of(change, eval, mine));
    }
}

/// A deploy recorded for this repository (or for none in particular).
fn is_deploy_of(e: &RecordedEvidence, repository: Option<&str>) -> bool {
    matches!(&e.evidence, Evidence::Deploy { repository: r, .. }
        if r.is_none() || repository.is_none() || r.as_deref() == repository)
}

/// Judge `changes` (the first `git_changes` of them from git) as of `options.now`: each
/// with the facts of its base, then again where a later change fulfils an emergency's
/// follow-up obligation.
fn judge_changes(
    repo: &countersign_git::Repository,
    policy: &Policy,
    changes: &mut [Change],
    git_changes: usize,
    options: &HistoryOptions<'_>,
) -> Vec<Evaluation> {
    let engine = Engine::new(policy);
    let opts = EvalOptions { now: Some(options.now) };
    let mut bases = changes.iter().map(|c| base_facts(&engine, repo, c, &format!("{}^", c.id))).collect::<Vec<_>>();
    let groups = engine.groups_sized_at_base();
    if let (false, Some(path)) = (groups.is_empty(), options.policy_path) {
        let mut sized = HashMap::new();
        for (change, base) in changes[..git_changes].iter().zip(bases.iter_mut()) {
            base.group_sizes = group_sizes_at(repo, path, &format!("{}^", change.id), &groups, &mut sized);
        }
    }
    let mut evals = evaluate_all(&engine, changes, &bases, &opts);
    for target in add_follow_ups(policy, changes, &evals) {
        evals[target] = engine.evaluate_with_base(&changes[target], &bases[target], &opts);
    }
    evals
}

/// Judge only the changes made on the branch `walk_opts` names since an earlier judgement
/// ended at commit `earlier_tip`, as [`judge_walk`] would judge them (without console
/// changes: those belong to the earlier judgement), and again the earlier changes named in
/// `again` (evidence about them was logged since). The evaluations come newest first: the
/// new changes, then those of `again`.
///
/// The caller vouches that nothing else the earlier judgements rest on has moved: the
/// policy, the options, the evidence log (but for entries about the changes of `again`),
/// the clock only forward. `Ok(None)` means they cannot stand beside the new ones, and the
/// whole history must be judged again: the branch no longer holds `earlier_tip` on its
/// first-parent chain, a change of `again` is not on it or is now an emergency, a new
/// change names an earlier one as its follow-up, or a recorded deploy ships a new change
/// (and with it every earlier one).
#[allow(clippy::too_many_arguments)]
pub fn judge_walk_after(
    repo: &countersign_git::Repository,
    policy: &Policy,
    walk_opts: &countersign_git::WalkOptions,
    store: Option<(&Store, Option<&str>)>,
    options: &HistoryOptions<'_>,
    earlier_tip: &str,
    again: &std::collections::BTreeSet<String>,
    progress: &dyn Fn(countersign_git::Progress),
) -> Result<Option<(countersign_git::Walk, Vec<Evaluation>)>, JudgeError> {
    if walk_opts.range.is_some() {
        return Ok(None);
    }
    // Only new changes: the walk stops at the earlier tip. Earlier ones to judge again: the
    // whole walk (from the facts cache), of which the new ones and those are kept.
    let (mut walk, new) = if again.is_empty() {
        let opts = countersign_git::WalkOptions { after: Some(earlier_tip.to_owned()), ..walk_opts.clone() };
        let walk = repo.changes(&opts, progress)?;
        if !walk.reached_after {
            return Ok(None);
        }
        let new = walk.changes.len();
        (walk, new)
    } else {
        let walk = repo.changes(walk_opts, progress)?;
        let Some(new) = walk.changes.iter().position(|c| c.id == earlier_tip) else { return Ok(None) };
        (walk, new)
    };
    let mut changes = std::mem::take(&mut walk.changes);
    let follow_up = |c: &Change| {
        c.trailers.iter().any(|t| t.key.eq_ignore_ascii_case(countersign_policy::model::FOLLOW_UP_TRAILER))
    };
    if changes[..new].iter().any(follow_up) {
        return Ok(None);
    }
    let (mut evidence, mut deploys) = (Vec::new(), Vec::new());
    if let (Some((store, repository)), false) = (store, changes.is_empty()) {
        let (about_changes, others) = store.all_change_evidence_and_kinds(&["deploy"])?;
        deploys.extend(others.into_iter().filter(|e| is_deploy_of(e, repository)));
        evidence = about_changes;
    }
    // What each change's deploys are, from the whole walk: none may ship a new change.
    let mut shipped = shipped_by(policy, &changes, &deploys);
    if shipped[..new].iter().any(|s| !s.is_empty()) {
        return Ok(None);
    }
    let picked: Vec<bool> = changes.iter().enumerate().map(|(i, c)| i < new || again.contains(&c.id)).collect();
    if picked.iter().filter(|&&p| p).count() != new + again.len() {
        return Ok(None);
    }
    let mut keep = picked.iter().copied();
    changes.retain(|_| keep.next().unwrap_or(false));
    let mut keep = picked.iter().copied();
    shipped.retain(|_| keep.next().unwrap_or(false));
    if let (Some((store, repository)), false) = (store, changes.is_empty()) {
        merge_into(store, repository, &mut changes, evidence)?;
    }
    let git_changes = changes.len();
    let mut evals = judge_changes(repo, policy, &mut changes, git_changes, options);
    // An earlier change that became an emergency (declared since) may have its follow-up
    // among the changes not judged again: only the whole history says.
    if evals[new..].iter().any(|e| e.emergency) {
        return Ok(None);
    }
    if store.is_some() {
        set_states(&changes, &mut evals, &shipped);
    }
    walk.changes = changes;
    Ok(Some((walk, evals)))
}

/// The sizes of `groups` as the policy file at `path` defined them at commit `at`: `None`
/// when it cannot be read there (before the policy existed, a shallow clone) or does not
/// parse. Each distinct text is parsed once (`parsed`).
fn group_sizes_at(
    repo: &countersign_git::Repository,
    path: &str,
    at: &str,
    groups: &[&str],
    parsed: &mut HashMap<Vec<u8>, Option<std::collections::BTreeMap<String, usize>>>,
) -> Option<std::collections::BTreeMap<String, usize>> {
    let text = repo.read_blob_at(at, path).ok()??;
    parsed
        .entry(text)
        .or_insert_with_key(|text| {
            let checked = countersign_policy::parse_with(
                path,
                &String::from_utf8_lossy(text),
                &countersign_policy::ParseOptions { today: None },
            )
            .ok()?;
            Some(
                groups
                    .iter()
                    .map(|g| (g.to_string(), checked.policy.groups.get(*g).map_or(0, |group| group.members.len())))
                    .collect(),
            )
        })
        .clone()
}

/// The successful deploys that shipped each change of a first-parent walk (newest first):
/// a deploy of a commit the walk holds ships that change and every older one. A deploy of a
/// commit outside the walk (another branch) ships none of them.
pub fn shipped_by(
    policy: &Policy,
    changes: &[Change],
    deploys: &[RecordedEvidence],
) -> Vec<Vec<countersign_engine::lifecycle::Shipped>> {
    let production = policy.deploy.as_ref().and_then(|d| d.production());
    let position: HashMap<&str, usize> = changes.iter().enumerate().map(|(i, c)| (c.id.as_str(), i)).collect();
    let mut out = vec![Vec::new(); changes.len()];
    for e in deploys {
        let Evidence::Deploy { environment, commit: Some(commit), deployed_at, status, health_check, .. } = &e.evidence
        else {
            continue;
        };
        if *status == Some(countersign_store::evidence::DeployStatus::Failure) {
            continue;
        }
        let Some(&from) = position.get(commit.as_str()) else { continue };
        let shipped = countersign_engine::lifecycle::Shipped {
            environment: environment.clone(),
            production: production.is_some_and(|p| p.eq_ignore_ascii_case(environment)),
            at: deployed_at.or(Some(e.recorded_at)),
            verified: *health_check == Some(countersign_store::evidence::HealthCheck::Pass),
            entry: e.index,
        };
        for list in &mut out[from..] {
            list.push(shipped.clone());
        }
    }
    out
}

/// Obligations a later change fulfils (`fulfilled-by = "follow-up"`): a compliant change
/// whose commit message names an emergency in an `Emergency-Follow-Up:` trailer (its
/// commit, at least 7 hex digits, or `#PR`) fulfils them for that emergency, at its own
/// time. Returns the emergencies that gained a fulfilment, to judge again.
pub fn add_follow_ups(policy: &Policy, changes: &mut [Change], evals: &[Evaluation]) -> Vec<usize> {
    use countersign_policy::model::FOLLOW_UP_TRAILER;
    let obligations: Vec<&str> = policy
        .emergency
        .iter()
        .flat_map(|e| e.obligations.iter().filter(|o| o.follow_up).map(|o| o.id.as_str()))
        .collect();
    if obligations.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(usize, countersign_engine::change::Fulfilment)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        if evals[i].verdict != countersign_engine::Verdict::Compliant {
            continue;
        }
        for trailer in change.trailers.iter().filter(|t| t.key.eq_ignore_ascii_case(FOLLOW_UP_TRAILER)) {
            let reference = trailer.value.trim();
            let target = changes.iter().enumerate().position(|(j, c)| {
                j != i
                    && evals[j].emergency
                    && match reference.strip_prefix('#').map(str::parse::<u64>) {
                        Some(Ok(n)) => c.pr_number == Some(n),
                        Some(Err(_)) => false,
                        None => {
                            reference.len() >= 7
                                && reference.bytes().all(|b| b.is_ascii_hexdigit())
                                && (c.id.starts_with(reference)
                                    || c.commits.iter().any(|k| k.id.starts_with(reference)))
                        }
                    }
            });
            let Some(target) = target else { continue };
            let label = match change.pr_number {
                Some(n) => format!("#{n} ({})", short(&change.id)),
                None => short(&change.id).to_owned(),
            };
            for obligation in &obligations {
                found.push((
                    target,
                    countersign_engine::change::Fulfilment {
                        obligation: (*obligation).to_owned(),
                        time: change.time,
                        source: format!(
                            "follow-up change {label}, compliant, names it in an {FOLLOW_UP_TRAILER} trailer"
                        ),
                    },
                ));
            }
        }
    }
    let mut targets = Vec::new();
    for (target, fulfilment) in found {
        let fulfilments = &mut changes[target].fulfilments;
        if !fulfilments.iter().any(|f| f.obligation == fulfilment.obligation) {
            fulfilments.push(fulfilment);
            targets.push(target);
        }
    }
    targets.sort_unstable();
    targets.dedup();
    targets
}

fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// Evaluate every change, on every core: the engine is pure, so chunks are independent.
pub fn evaluate_all(
    engine: &Engine<'_>,
    changes: &[Change],
    bases: &[BaseFacts],
    opts: &EvalOptions,
) -> Vec<Evaluation> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || changes.len() < 512 {
        return changes.iter().zip(bases).map(|(c, b)| engine.evaluate_with_base(c, b, opts)).collect();
    }
    let chunk = changes.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = changes
            .chunks(chunk)
            .zip(bases.chunks(chunk))
            .map(|(part, base)| {
                scope.spawn(move || {
                    part.iter().zip(base).map(|(c, b)| engine.evaluate_with_base(c, b, opts)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("evaluation does not panic")).collect()
    })
}

/// Where GitHub looks for CODEOWNERS, in order; the first found wins.
pub const CODEOWNERS_LOCATIONS: &[&str] = &[".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// What reading git needs from the policy: the paths whose added lines content flags watch
/// (in the policy's own pattern language), and the review trailers it trusts.
pub fn read_options(policy: &Policy) -> countersign_git::ReadOptions {
    countersign_git::ReadOptions {
        added_lines_for: policy
            .content_flags
            .iter()
            .flat_map(|f| f.paths.patterns.iter().map(|p| p.raw.clone()))
            .collect(),
        added_lines_matcher: content_flag_matcher(policy),
        review_trailers: Some(policy.evidence.review_trailers.clone()),
    }
}

/// Whether a path is watched by a content flag, in the policy's own pattern language.
fn content_flag_matcher(policy: &Policy) -> Option<countersign_git::PathMatcher> {
    if policy.content_flags.is_empty() {
        return None;
    }
    let sets: Vec<countersign_policy::paths::PathSet> = policy.content_flags.iter().map(|f| f.paths.clone()).collect();
    Some(std::sync::Arc::new(move |path: &str| sets.iter().any(|s| s.matches(path))))
}

/// What the repository held at a change's base, for the rules that need it (migration
/// numbering): the files beside each watched file the change touches. Nothing is read when
/// no rule needs it. A base git cannot read (a root commit's parent, a shallow clone) leaves
/// the facts unread, which the engine reports as "unknown".
pub fn base_facts(engine: &Engine<'_>, repo: &countersign_git::Repository, change: &Change, base: &str) -> BaseFacts {
    if !engine.needs_base_facts() {
        return BaseFacts::default();
    }
    let dirs: std::collections::BTreeSet<&str> = change
        .changed_paths
        .iter()
        .filter(|p| engine.wants_base_path(&p.path))
        .map(|p| p.path.rsplit_once('/').map_or("", |(dir, _)| dir))
        .collect();
    if dirs.is_empty() {
        return BaseFacts::default();
    }
    let mut paths = Vec::new();
    for dir in dirs {
        match repo.files_in_dir_at(base, dir) {
            Ok(files) => paths.extend(files.into_iter().filter(|p| engine.wants_base_path(p))),
            Err(_) => return BaseFacts::default(),
        }
    }
    BaseFacts { sequence_paths: Some(paths), ..BaseFacts::default() }
}

/// What importing CODEOWNERS into a policy came to.
#[derive(Debug)]
pub enum Codeowners {
    /// The policy does not import CODEOWNERS.
    NotAsked,
    /// Imported from `file`; `diagnostics` are the lines that could not be used, against `text`.
    Imported { file: String, text: String, diagnostics: Vec<Diagnostic> },
    /// The policy imports CODEOWNERS, but none of these files exists.
    Missing { candidates: Vec<String> },
}

/// Import CODEOWNERS into the policy when it asks for it, reading each candidate file with
/// `read` (from the base revision, as GitHub does, or from a working tree).
pub fn import_codeowners(policy: &mut Policy, mut read: impl FnMut(&str) -> Option<Vec<u8>>) -> Codeowners {
    let Some(import) = policy.codeowners.clone() else { return Codeowners::NotAsked };
    let candidates = codeowners_candidates(&import);
    for candidate in &candidates {
        if let Some(bytes) = read(candidate) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let diagnostics = countersign_policy::codeowners::import(policy, candidate, &text);
            return Codeowners::Imported { file: candidate.clone(), text, diagnostics };
        }
    }
    Codeowners::Missing { candidates }
}

fn codeowners_candidates(import: &CodeownersSettings) -> Vec<String> {
    if import.files.is_empty() {
        CODEOWNERS_LOCATIONS.iter().map(|s| s.to_string()).collect()
    } else {
        import.files.clone()
    }
}

/// Combine git's view of a pull request with the forge's: git is authoritative for commits,
/// paths, trailers and signatures; the forge for the title, description, labels, reviews
/// and checks.
pub fn merge_forge(change: &mut Change, forge: Change) {
    change.id = forge.id;
    change.pr_number = forge.pr_number;
    change.title = forge.title;
    change.body = forge.body;
    change.labels = forge.labels;
    if let Some(fa) = forge.author {
        match &mut change.author {
            Some(a) => {
                a.login = fa.login;
                if a.name.is_none() {
                    a.name = fa.name;
                }
            }
            None => change.author = Some(fa),
        }
    }
    if forge.branch.is_some() {
        change.branch = forge.branch;
    }
    if forge.head_commit.is_some() {
        change.head_commit = forge.head_commit;
    }
    change.approvals.extend(forge.approvals);
    change.checks.extend(forge.checks);
    if change.changed_paths.is_empty() {
        change.changed_paths = forge.changed_paths;
    }
    change.completeness = forge.completeness;
}

/// The log record of what the engine decided about `change` (a `verdict` entry): the
/// evaluation, the SHA-256 of the policy text judged with, and the commits judged. Its
/// idempotency key names the change, the policy, `judged_at` and the requirements' statuses,
/// so recording the same judgement again writes nothing, and a changed one is a new entry.
/// `merge_commit` is the commit a forge merged the change as, when it is not the change's id.
pub fn verdict_record(
    change: &Change,
    merge_commit: Option<&str>,
    eval: &Evaluation,
    policy_sha256: &str,
    judged_at: &str,
    recorded_by: &str,
    as_of: jiff::Timestamp,
) -> countersign_store::RecordRequest {
    let mut commits: Vec<String> = Vec::new();
    let ids = merge_commit.into_iter().chain(std::iter::once(change.id.as_str()));
    let ids = ids.chain(change.head_commit.as_deref()).chain(change.commits.iter().map(|c| c.id.as_str()));
    for id in ids {
        if !commits.iter().any(|c| c == id) {
            commits.push(id.to_owned());
        }
    }
    let statuses: String = eval
        .requirements
        .iter()
        .map(|r| format!("{}={:?};", r.id, r.status))
        .chain(std::iter::once(eval.verdict.as_str().to_owned()))
        .collect();
    let judgement = countersign_store::evidence::sha256_hex(statuses.as_bytes());
    countersign_store::RecordRequest {
        change: Some(change.id.clone()),
        recorded_by: recorded_by.to_owned(),
        recorded_at: countersign_store::whole_second(as_of),
        idempotency_key: Some(format!(
            "verdict:{judged_at}:{}:{}:{}",
            change.id,
            policy_sha256.get(..16).unwrap_or(policy_sha256),
            &judgement[..16]
        )),
        evidence: Evidence::Verdict {
            verdict: eval.verdict.as_str().to_owned(),
            policy_sha256: policy_sha256.to_owned(),
            commits,
            as_of,
            judged_at: judged_at.to_owned(),
            evaluation: serde_json::to_value(eval).unwrap_or_default(),
        },
    }
}

/// How a change is registered in the store, so evidence can be recorded about it.
pub fn change_ref(change: &Change, repository: Option<&str>) -> ChangeRef {
    ChangeRef {
        id: change.id.clone(),
        repository: repository.map(str::to_owned),
        pr_number: change.pr_number,
        head_commit: change.head_commit.clone(),
        merge_commit: matches!(change.kind, Some(ChangeKind::Merge | ChangeKind::DirectPush))
            .then(|| change.id.clone()),
        commits: change.commits.iter().map(|k| k.id.clone()).collect(),
    }
}

/// Register the changes not registered yet, then add the recorded approvals, check
/// results, emergency declarations and fulfilments to each. Returns how many pieces of
/// recorded evidence were added.
pub fn merge_recorded(store: &Store, repository: Option<&str>, changes: &mut [Change]) -> Result<usize, StoreError> {
    let evidence = store.all_change_evidence()?;
    merge_into(store, repository, changes, evidence)
}

/// The `[console] required-fields` a console-change record lacks (S000-12): such a record is
/// refused, by `record` and by the server's API alike, and nothing is stored.
pub fn missing_console_fields<'p>(policy: &'p Policy, evidence: &Evidence) -> Vec<&'p str> {
    let fields = evidence.console_fields().unwrap_or_default();
    let required = policy.console.as_ref().map(|c| c.required_fields.as_slice()).unwrap_or_default();
    required.iter().map(String::as_str).filter(|f| !fields.contains_key(&f.trim().to_lowercase())).collect()
}

/// The change a recorded console change is: `console:<entry>`, of kind console-change, its
/// fields as the sections of its description (what `[console] required-fields` checks),
/// made by whoever it says made it, at the time it says (else when it was recorded).
pub fn console_change(e: &RecordedEvidence) -> Option<Change> {
    let Evidence::ConsoleChange { system, description, changed_by, changed_at, .. } = &e.evidence else {
        return None;
    };
    let fields = e.evidence.console_fields().unwrap_or_default();
    let body = fields.iter().map(|(name, value)| format!("## {name}\n{value}\n")).collect::<Vec<_>>().join("\n");
    Some(Change {
        id: format!("console:{}", e.index),
        kind: Some(ChangeKind::ConsoleChange),
        title: format!("{system}: {description}"),
        body,
        author: changed_by.as_deref().map(countersign_engine::evaluate::parse_identity),
        time: Some(changed_at.unwrap_or(e.recorded_at)),
        completeness: countersign_engine::change::Completeness {
            reviews: true,
            checks: true,
            description: true,
            labels: true,
        },
        ..Change::default()
    })
}

fn merge_into(
    store: &Store,
    repository: Option<&str>,
    changes: &mut [Change],
    evidence: Vec<RecordedEvidence>,
) -> Result<usize, StoreError> {
    let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
    let known = store.change_records_of(&ids)?;
    // Only the changes not registered yet are made into references (a re-audit of a long
    // history makes none).
    let new: Vec<ChangeRef> =
        changes.iter().filter(|c| !known.contains_key(&c.id)).map(|c| change_ref(c, repository)).collect();
    store.register_new_changes(&new)?;
    let mut by_change: HashMap<String, Vec<RecordedEvidence>> = HashMap::new();
    for e in evidence {
        if let Some(id) = e.change_id.clone() {
            by_change.entry(id).or_default().push(e);
        }
    }
    if by_change.is_empty() {
        return Ok(0);
    }
    // One change, one record: evidence recorded while the PR was open (`pr#13`) counts for
    // the squash or merge commit that `audit` sees later, and the other way round. (A change
    // registered just now may have been linked to such a record: then the links are read
    // again.)
    let records = if new.is_empty() { known } else { store.change_records_of(&ids)? };
    let mut merged = 0;
    for change in changes.iter_mut() {
        let record = records.get(&change.id).unwrap_or(&change.id);
        let Some(records) = by_change.get(record) else { continue };
        for e in records {
            merged += 1;
            add_recorded(change, e);
        }
    }
    Ok(merged)
}

/// Add one piece of recorded evidence to the change it is about. Evidence is added in log
/// order, so a withdrawal removes the approvals its reviewer gave before it.
pub fn add_recorded(change: &mut Change, e: &RecordedEvidence) {
    if let Some(reviewer) = e.withdrawn_approver() {
        change.approvals.retain(|a| !(a.kind == ApprovalKind::Review && a.by == reviewer));
    }
    change.approvals.extend(e.to_approval());
    change.approvals.extend(e.to_emergency_authorization());
    change.checks.extend(e.to_check());
    change.fulfilments.extend(e.to_fulfilment());
    if let Some(declaration) = e.emergency_declaration() {
        change.declared_emergency.get_or_insert(declaration);
    }
}
