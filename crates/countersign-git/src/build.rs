//! Turning cached facts into the engine's [`Change`]: `.mailmap`, approvals, checks and
//! co-authors. Cheap and pure, so it runs on every walk, cached or not.
//!
//! The rules this module applies (also in `docs/git-evidence.md`):
//! - The author of a merge's change is the most frequent author among the non-merge commits
//!   of its topic line (first parents from the merged tip, within what the merge brings in);
//!   a tie goes to the author who started the line (whose first commit on it is oldest).
//!   Without such commits, the same over every non-merge commit brought in; without any,
//!   the merge's own author.
//! - Trailer approvals of a merge are bound to the merged tip (the second parent, the
//!   change's `head_commit`) unless their commit is in `stale_reviews`; then to their own
//!   commit, which the engine reports as stale under `current-head-only`.
//! - Review trailers are the keys in [`TrailerRules`]; `Acked-by` also gives an
//!   acknowledgment. bors `r=self` is the change's author.

use countersign_engine::change::Change;
use countersign_engine::change::{
    AddedLines, Approval, ApprovalKind, ChangeKind, ChangedPath, CheckResult, CheckStatus, CommitRef, Identity, Trailer,
};
use jiff::Timestamp;

use crate::facts::{ChangeFacts, CommitFacts, RawIdent};
use crate::message::{ReviewSource, parse_identity};

/// Applies `.mailmap` to raw identities.
pub(crate) struct People {
    mailmap: gix::mailmap::Snapshot,
    /// Each identity met so far, as mapped: a history names the same people again and again
    /// (the authors and committers of git/git's 81,966 commits are 2,791 distinct names and
    /// addresses), and a lookup in the mailmap costs more than one in this table.
    known: std::cell::RefCell<foldhash::HashMap<RawIdent, Identity>>,
}

impl People {
    pub fn new(mailmap: gix::mailmap::Snapshot) -> People {
        People { mailmap, known: Default::default() }
    }

    pub fn identity(&self, raw: &RawIdent) -> Identity {
        if let Some(known) = self.known.borrow().get(raw) {
            return known.clone();
        }
        let identity = self.map(raw);
        self.known.borrow_mut().insert(raw.clone(), identity.clone());
        identity
    }

    fn map(&self, raw: &RawIdent) -> Identity {
        let sig =
            gix::actor::SignatureRef { name: raw.name.as_str().into(), email: raw.email.as_str().into(), time: "" };
        let (name, email) = match self.mailmap.try_resolve_ref(sig) {
            Some(resolved) => (
                resolved.name.map_or_else(|| raw.name.clone(), |n| crate::message::escape_lossy(n)),
                resolved.email.map_or_else(|| raw.email.clone(), |e| crate::message::escape_lossy(e)),
            ),
            None => (raw.name.clone(), raw.email.clone()),
        };
        identity_from(name, email)
    }

    /// A `Name <email>` trailer value, mailmapped when it has an email.
    pub fn trailer_identity(&self, value: &str) -> Identity {
        let parsed = parse_identity(value);
        match (&parsed.name, &parsed.email) {
            (_, Some(email)) => {
                self.identity(&RawIdent { name: parsed.name.clone().unwrap_or_default(), email: email.clone() })
            }
            _ => parsed,
        }
    }
}

/// `123+octocat@users.noreply.github.com` and `octocat@users.noreply.github.com` carry the login.
fn identity_from(name: String, email: String) -> Identity {
    let login = email
        .strip_suffix("@users.noreply.github.com")
        .map(|local| local.rsplit('+').next().unwrap_or(local))
        .filter(|l| !l.is_empty())
        .map(|l| format!("github:{l}"));
    Identity { name: (!name.is_empty()).then_some(name), email: (!email.is_empty()).then_some(email), login }
}

/// Which trailer keys give which approvals.
#[derive(Debug, Clone)]
pub(crate) struct TrailerRules {
    /// Lowercase keys whose trailers are review approvals.
    review: Vec<String>,
}

impl TrailerRules {
    /// `None`: `Reviewed-by` and `Approved-by` are reviews (and `Acked-by` only an
    /// acknowledgment), as before the policy's `[evidence] review-trailers` was read.
    pub fn new(review_trailers: Option<&[String]>) -> TrailerRules {
        let mut review: Vec<String> = match review_trailers {
            Some(keys) => keys.iter().map(|k| k.trim().to_ascii_lowercase()).filter(|k| !k.is_empty()).collect(),
            None => vec!["reviewed-by".into(), "approved-by".into()],
        };
        review.sort();
        review.dedup();
        TrailerRules { review }
    }

    fn is_review(&self, key: &str) -> bool {
        self.review.iter().any(|k| key.eq_ignore_ascii_case(k))
    }

    fn is_ack(key: &str) -> bool {
        key.eq_ignore_ascii_case("acked-by")
    }

    /// The keys whose approvals are bound to a commit (reviews and `acked-by`), lowercase
    /// and sorted: they decide which topic commits need the staleness check, so they are
    /// part of the facts cache's fingerprint.
    pub fn binding_keys(&self) -> Vec<String> {
        let mut keys = self.review.clone();
        keys.push("acked-by".into());
        keys.sort();
        keys.dedup();
        keys
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn timestamp(seconds: i64) -> Option<Timestamp> {
    Timestamp::from_second(seconds).ok()
}

/// GitHub's web-flow committer: the person who pressed "merge" is the author then.
fn is_web_flow(raw: &RawIdent) -> bool {
    raw.email == "noreply@github.com"
}

/// Approvals, checks and co-authors carried by the trailers of one commit. Moves the
/// trailers out of `commit` (this runs for every cached change on every walk, so it avoids
/// copying strings it does not need to). Approvals are bound to `bound_to` (the commit
/// they count for); bors `r=self` becomes the change's author, so set that first.
pub(crate) fn evidence_from_commit(
    people: &People,
    rules: &TrailerRules,
    commit: &mut CommitFacts,
    bound_to: &str,
    change: &mut Change,
) {
    let short_id = short(&commit.id);
    for (key, value) in std::mem::take(&mut commit.trailers) {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        let review = rules.is_review(&key);
        let ack = TrailerRules::is_ack(&key);
        if review || ack {
            let by = people.trailer_identity(&value);
            let kinds = [review.then_some(ApprovalKind::Review), ack.then_some(ApprovalKind::Ack)];
            for kind in kinds.into_iter().flatten() {
                change.approvals.push(Approval {
                    by: by.clone(),
                    kind,
                    commit: Some(bound_to.to_string()),
                    time: timestamp(commit.commit_time),
                    source: format!("{key} trailer in {short_id}"),
                    recorded_by: None,
                });
            }
        } else if is("co-authored-by") {
            let who = people.trailer_identity(&value);
            if !change.co_authors.contains(&who) {
                change.co_authors.push(who);
            }
        } else if is("trybot-result") || is("luci-trybot-result") {
            // `TryBot-Result: +1` / `-1`, or Gerrit's `TryBot-Result: Gopher Robot <...>`
            // footer, which Gerrit writes only for an approving vote.
            let v = value.trim();
            let status = if v.starts_with('-') {
                CheckStatus::Failure
            } else if v == "0" || v == "+0" {
                CheckStatus::Pending
            } else {
                CheckStatus::Success
            };
            change.checks.push(CheckResult {
                name: key.clone(),
                status,
                commit: Some(commit.id.clone()),
                source: format!("{key} trailer in {short_id}"),
                at: timestamp(commit.commit_time),
            });
        }
        change.trailers.push(Trailer { key, value, commit: commit.id.clone() });
    }
    if let Some((_, source, reviewers)) = &mut commit.review {
        let tool = if *source == ReviewSource::BorsNg { "bors-ng" } else { "bors" };
        for r in std::mem::take(reviewers) {
            // `r=self`: the author approved their own change; say so, so that the engine
            // can tell it from someone else's review.
            let is_self = r.name.is_none() && r.email.is_none() && r.login.as_deref() == Some("self");
            let (by, what) = match (&change.author, is_self) {
                (Some(author), true) => (author.clone(), "r=self"),
                _ => (r, "r="),
            };
            change.approvals.push(Approval {
                by,
                kind: ApprovalKind::Review,
                commit: Some(bound_to.to_string()),
                time: timestamp(commit.commit_time),
                source: format!("{tool} {what} in {short_id}"),
                recorded_by: None,
            });
        }
    }
}

/// The author of a topic (see the module documentation): the most frequent author among
/// the non-merge commits of the topic line, a tie going to the one whose first commit on
/// the line is oldest; else the same over every non-merge commit (`commits` is oldest
/// first); else `None`.
pub(crate) fn topic_author(people: &People, commits: &[CommitFacts], topic_line: &[u32]) -> Option<Identity> {
    // The topic line is tip first: turn it around, oldest first.
    let on_line: Vec<&CommitFacts> =
        topic_line.iter().rev().filter_map(|&i| commits.get(i as usize)).filter(|c| !c.merge).collect();
    let candidates: Vec<&CommitFacts> =
        if on_line.is_empty() { commits.iter().filter(|c| !c.merge).collect() } else { on_line };
    let identities: Vec<Identity> = candidates.iter().map(|c| people.identity(&c.author)).collect();
    // Per identity (name, email, login): how many commits, and the index of the first.
    type Key<'a> = (&'a Option<String>, &'a Option<String>, &'a Option<String>);
    let mut counts: std::collections::HashMap<Key<'_>, (usize, usize)> = std::collections::HashMap::new();
    for (i, id) in identities.iter().enumerate() {
        counts.entry((&id.name, &id.email, &id.login)).or_insert((0, i)).0 += 1;
    }
    // Most commits first, then the oldest first commit (smallest first index).
    let best = counts.values().max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))?;
    identities.get(best.1).cloned()
}

/// The commit as a [`CommitRef`]; moves the subject out of `c`.
fn commit_ref(people: &People, c: &mut CommitFacts) -> CommitRef {
    CommitRef {
        id: c.id.clone(),
        author: people.identity(&c.author),
        committer: people.identity(&c.committer),
        signed: c.signed,
        subject: std::mem::take(&mut c.subject),
        time: timestamp(c.commit_time),
    }
}

/// One first-parent commit as a [`Change`].
pub(crate) fn change_from_facts(
    people: &People,
    rules: &TrailerRules,
    facts: ChangeFacts,
    branch: Option<&str>,
) -> Change {
    let ChangeFacts { mut head, parents, mut brought_in, topic_line, stale_reviews, changed_paths, added_lines } =
        facts;
    let is_review = head.review.is_some();
    // The reviewed head of a merge is the tip of the merged branch, not the merge commit.
    let head_commit = match parents.get(1) {
        Some(tip) => tip.clone(),
        None => head.id.clone(),
    };
    let mut change = Change {
        id: head.id.clone(),
        kind: Some(if is_review { ChangeKind::Merge } else { ChangeKind::DirectPush }),
        branch: branch.map(str::to_string),
        pr_number: head.review.as_ref().map(|r| r.0),
        title: if brought_in.is_empty() { head.subject.clone() } else { std::mem::take(&mut head.subject) },
        body: std::mem::take(&mut head.body),
        head_commit: Some(head_commit.clone()),
        time: timestamp(head.commit_time),
        ..Change::default()
    };
    change.author =
        Some(topic_author(people, &brought_in, &topic_line).unwrap_or_else(|| people.identity(&head.author)));
    let merger = if is_web_flow(&head.committer) { &head.author } else { &head.committer };
    change.merged_by = Some(people.identity(merger));

    if brought_in.is_empty() {
        change.commits.push(commit_ref(people, &mut head));
        change.committers.push(change.commits[0].committer.clone());
    } else {
        let merge_committer = people.identity(&head.committer);
        change.committers.push(merge_committer);
        for c in &mut brought_in {
            let r = commit_ref(people, c);
            if !change.committers.contains(&r.committer) {
                change.committers.push(r.committer.clone());
            }
            change.commits.push(r);
        }
    }
    for c in brought_in.iter_mut().chain(std::iter::once(&mut head)) {
        let bound_to = if stale_reviews.contains(&c.id) { c.id.clone() } else { head_commit.clone() };
        evidence_from_commit(people, rules, c, &bound_to, &mut change);
    }
    change.changed_paths = changed_paths.into_iter().map(|(path, status)| ChangedPath { path, status }).collect();
    change.added_lines = added_lines.into_iter().map(|(path, lines)| AddedLines { path, lines }).collect();
    change
}
