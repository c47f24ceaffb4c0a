//! Turning cached facts into the engine's [`Change`]: `.mailmap`, approvals, checks and
//! co-authors. Cheap and pure, so it runs on every walk, cached or not.

use countersign_engine::change::Change;
use countersign_engine::change::{
    AddedLines, Approval, ApprovalKind, ChangeKind, ChangedPath, CheckResult, CheckStatus, CommitRef, Identity, Trailer,
};
use jiff::Timestamp;

use crate::facts::{ChangeFacts, CommitFacts, RawIdent};
use crate::message::{ReviewSource, parse_identity};

/// Applies `.mailmap` to raw identities.
pub(crate) struct People {
    pub mailmap: gix::mailmap::Snapshot,
}

impl People {
    pub fn identity(&self, raw: &RawIdent) -> Identity {
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
/// copying strings it does not need to).
pub(crate) fn evidence_from_commit(people: &People, commit: &mut CommitFacts, change: &mut Change) {
    let short_id = short(&commit.id);
    for (key, value) in std::mem::take(&mut commit.trailers) {
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        if is("reviewed-by") || is("approved-by") || is("acked-by") {
            let kind = if is("acked-by") { ApprovalKind::Ack } else { ApprovalKind::Review };
            change.approvals.push(Approval {
                by: people.trailer_identity(&value),
                kind,
                commit: Some(commit.id.clone()),
                time: timestamp(commit.commit_time),
                source: format!("{key} trailer in {short_id}"),
            });
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
            });
        }
        change.trailers.push(Trailer { key, value, commit: commit.id.clone() });
    }
    if let Some((_, source, reviewers)) = &mut commit.review {
        let tool = if *source == ReviewSource::BorsNg { "bors-ng" } else { "bors" };
        for r in std::mem::take(reviewers) {
            change.approvals.push(Approval {
                by: r,
                kind: ApprovalKind::Review,
                commit: Some(commit.id.clone()),
                time: timestamp(commit.commit_time),
                source: format!("{tool} r= in {short_id}"),
            });
        }
    }
}

/// The commit as a [`CommitRef`]; moves the subject out of `c`.
fn commit_ref(people: &People, c: &mut CommitFacts) -> CommitRef {
    CommitRef {
        id: c.id.clone(),
        author: people.identity(&c.author),
        committer: people.identity(&c.committer),
        signed: c.signed,
        subject: std::mem::take(&mut c.subject),
    }
}

/// One first-parent commit as a [`Change`].
pub(crate) fn change_from_facts(people: &People, facts: ChangeFacts, branch: Option<&str>) -> Change {
    let ChangeFacts { mut head, mut brought_in, changed_paths, added_lines, .. } = facts;
    let is_review = head.review.is_some();
    let mut change = Change {
        id: head.id.clone(),
        kind: Some(if is_review { ChangeKind::Merge } else { ChangeKind::DirectPush }),
        branch: branch.map(str::to_string),
        pr_number: head.review.as_ref().map(|r| r.0),
        title: if brought_in.is_empty() { head.subject.clone() } else { std::mem::take(&mut head.subject) },
        body: std::mem::take(&mut head.body),
        head_commit: Some(head.id.clone()),
        time: timestamp(head.commit_time),
        ..Change::default()
    };
    // The change's author: for a merge, whoever wrote the first commit it brings in;
    // otherwise the commit's author (for a squash, the PR author).
    let author_raw = brought_in.first().map_or(&head.author, |c| &c.author);
    change.author = Some(people.identity(author_raw));
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
        evidence_from_commit(people, c, &mut change);
    }
    change.changed_paths = changed_paths.into_iter().map(|(path, status)| ChangedPath { path, status }).collect();
    change.added_lines = added_lines.into_iter().map(|(path, lines)| AddedLines { path, lines }).collect();
    change
}
