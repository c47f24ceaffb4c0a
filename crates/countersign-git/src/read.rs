//! Reading facts out of the object database: commits, tree diffs and added lines.
//!
//! Everything here works on one thread-local `gix::Repository` handle and reuses its
//! buffers; the walk hands each worker thread its own handle.

use std::collections::HashMap;
use std::path::Path;

use countersign_engine::change::PathStatus;
use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::{CommitRef, Find};

use crate::GitError;

/// Which files' added lines to collect (by `/`-separated path).
pub(crate) type PathMatch = dyn Fn(&str) -> bool + Sync;
use crate::facts::{ChangeFacts, CommitFacts, RawIdent};
use crate::message::{self, decode_message, escape_lossy};
use crate::treediff::{Changed, TreeDiff, TreeSource};

/// The commits of a topic (what a merge brings in, or a pull request's commits) and what the
/// walk needs to know about them beyond each commit's own facts.
pub(crate) struct Topic {
    /// Oldest first.
    pub commits: Vec<CommitFacts>,
    /// Indices into `commits` of the commits met by following first parents from the tip,
    /// tip first.
    pub topic_line: Vec<u32>,
    /// Commits (other than the tip) with a review or acknowledgment trailer whose touched
    /// paths differ at the tip.
    pub stale_reviews: Vec<String>,
}

/// Tree loading for [`TreeDiff`], with this crate's errors.
///
/// There is deliberately no object cache in front of it: a tree diff along a first-parent
/// chain rarely loads the same subtree twice (each commit touches other directories), and
/// gix's object cache copies every object in and out; measured, it made the walk slower. The
/// delta-base (pack) cache is what pays off; see `repo::tune_caches`.
struct RepoSource<'r> {
    repo: &'r gix::Repository,
    path: &'r Path,
    shallow: bool,
}

impl TreeSource for RepoSource<'_> {
    fn load_tree(&self, id: &gix::oid, buf: &mut Vec<u8>) -> Result<(), GitError> {
        let found = match self.repo.try_find(id, buf) {
            Ok(Some(data)) => Some((data.kind, data.data.as_ptr() as usize, data.data.len())),
            Ok(None) => None,
            Err(e) => {
                return Err(GitError::Git {
                    path: self.path.to_owned(),
                    context: format!("reading tree {id}"),
                    message: e.to_string(),
                });
            }
        };
        match found {
            None if self.shallow => Err(GitError::Shallow { path: self.path.to_owned(), commit: id.to_string() }),
            None => Err(GitError::MissingObject {
                path: self.path.to_owned(),
                id: id.to_string(),
                needed_for: "a tree diff".into(),
            }),
            Some((kind, _, _)) if kind != gix::object::Kind::Tree => Err(self.malformed(Some(id))),
            // The empty tree (a first commit made with --allow-empty): gix knows it without
            // the object database and hands back its own empty buffer.
            Some((_, _, 0)) => {
                buf.clear();
                Ok(())
            }
            Some((_, ptr, len)) => {
                // The object database decodes into `buf`; make sure `buf` is exactly the data.
                if ptr != buf.as_ptr() as usize || len != buf.len() {
                    let start = ptr.wrapping_sub(buf.as_ptr() as usize);
                    if start.checked_add(len).is_some_and(|end| end <= buf.len()) {
                        buf.copy_within(start..start + len, 0);
                        buf.truncate(len);
                    } else {
                        return Err(self.malformed(Some(id)));
                    }
                }
                Ok(())
            }
        }
    }

    fn malformed(&self, id: Option<&gix::oid>) -> GitError {
        GitError::Corrupt {
            path: self.path.to_owned(),
            id: id.map_or_else(|| "(a tree)".to_string(), |id| id.to_string()),
            kind: "tree",
            message: "malformed tree entry".into(),
        }
    }
}

/// Reused allocations for one worker.
pub(crate) struct Reader<'a> {
    pub repo: &'a gix::Repository,
    pub path: &'a Path,
    pub shallow: bool,
    pub added_lines_for: Option<&'a PathMatch>,
    /// Trailer keys (lowercase) whose approvals are bound to a commit: a topic commit that
    /// carries one gets the staleness check of [`Reader::stale_reviews`].
    pub binding_keys: &'a [String],
    buf: Vec<u8>,
    buf2: Vec<u8>,
    /// The commit-graph, when there is one, for parents and dates of merged commits.
    graph: Option<gix::commitgraph::Graph>,
    /// The parent commit `tree_of` just read: walking newest first, it is the next commit
    /// to be read in full, so keep its bytes.
    last_parent: Option<(ObjectId, Vec<u8>)>,
}

/// Is a commit's header signed? (`gpgsig` covers OpenPGP, SSH and X.509 signatures.)
fn is_signed(commit: &CommitRef<'_>) -> bool {
    commit.extra_headers.iter().any(|(k, _)| *k == "gpgsig" || *k == "gpgsig-sha256")
}

fn raw_ident(sig: &gix::actor::SignatureRef<'_>) -> RawIdent {
    let sig = sig.trim();
    RawIdent { name: escape_lossy(sig.name), email: escape_lossy(sig.email) }
}

impl<'a> Reader<'a> {
    pub fn new(
        repo: &'a gix::Repository,
        path: &'a Path,
        shallow: bool,
        added_lines_for: Option<&'a PathMatch>,
        binding_keys: &'a [String],
    ) -> Self {
        Reader {
            repo,
            path,
            shallow,
            added_lines_for,
            binding_keys,
            buf: Vec::new(),
            buf2: Vec::new(),
            last_parent: None,
            graph: repo.commit_graph_if_enabled().ok().flatten(),
        }
    }

    pub fn missing(&self, id: &gix::oid, needed_for: impl Into<String>) -> GitError {
        if self.shallow {
            GitError::Shallow { path: self.path.to_owned(), commit: id.to_string() }
        } else {
            GitError::MissingObject { path: self.path.to_owned(), id: id.to_string(), needed_for: needed_for.into() }
        }
    }

    fn git(&self, context: String, e: impl std::fmt::Display) -> GitError {
        GitError::Git { path: self.path.to_owned(), context, message: e.to_string() }
    }

    /// Load an object's raw data into `buf`.
    fn load<'b>(&self, id: &gix::oid, buf: &'b mut Vec<u8>, needed_for: &str) -> Result<gix::objs::Data<'b>, GitError> {
        match self.repo.try_find(id, buf) {
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(self.missing(id, needed_for)),
            Err(e) => Err(self.git(format!("reading object {id}"), e)),
        }
    }

    /// Decode one commit into facts. `with_body` keeps the body (first-parent commits).
    pub fn commit_facts(
        &mut self,
        id: &gix::oid,
        with_body: bool,
    ) -> Result<(CommitFacts, Vec<ObjectId>, ObjectId), GitError> {
        let mut buf = std::mem::take(&mut self.buf);
        let cached = match &self.last_parent {
            Some((c, bytes)) if c.as_ref() == id => {
                buf.clear();
                buf.extend_from_slice(bytes);
                true
            }
            _ => false,
        };
        let result = (|| {
            let data = if cached {
                gix::objs::Data { kind: gix::object::Kind::Commit, object_hash: id.kind(), data: &buf }
            } else {
                self.load(id, &mut buf, "a commit")?
            };
            let corrupt = |e: &dyn std::fmt::Display| GitError::Corrupt {
                path: self.path.to_owned(),
                id: id.to_string(),
                kind: "commit",
                message: e.to_string(),
            };
            if data.kind != gix::object::Kind::Commit {
                return Err(corrupt(&format!("it is a {}", data.kind)));
            }
            let commit = CommitRef::from_bytes(data.data, id.kind()).map_err(|e| corrupt(&e))?;
            let author = commit.author().map_err(|e| corrupt(&e))?;
            let committer = commit.committer().map_err(|e| corrupt(&e))?;
            let text = decode_message(commit.message, commit.encoding.map(|e| e.as_bytes()));
            let parsed = message::parse_message(&text);
            let parents: Vec<ObjectId> = commit.parents().collect();
            let facts = CommitFacts {
                id: id.to_string(),
                author: raw_ident(&author),
                committer: raw_ident(&committer),
                commit_time: committer.seconds(),
                signed: is_signed(&commit),
                merge: parents.len() > 1,
                subject: parsed.subject,
                body: if with_body { parsed.body } else { String::new() },
                trailers: parsed.trailers.into_iter().map(|t| (t.key, t.value)).collect(),
                review: parsed.review.map(|r| (r.number, r.source, r.reviewers)),
            };
            Ok((facts, parents, commit.tree()))
        })();
        self.buf = buf;
        result
    }

    /// The tree of a commit.
    pub fn tree_of(&mut self, commit: &gix::oid) -> Result<ObjectId, GitError> {
        let mut buf = std::mem::take(&mut self.buf2);
        let result = (|| {
            let data = self.load(commit, &mut buf, "a parent commit")?;
            let mut iter = gix::objs::CommitRefIter::from_bytes(data.data, commit.kind());
            iter.tree_id().map_err(|e| GitError::Corrupt {
                path: self.path.to_owned(),
                id: commit.to_string(),
                kind: "commit",
                message: e.to_string(),
            })
        })();
        if result.is_ok() {
            let mut keep = self.last_parent.take().map(|(_, v)| v).unwrap_or_default();
            keep.clear();
            keep.extend_from_slice(&buf);
            self.last_parent = Some((commit.to_owned(), keep));
        }
        self.buf2 = buf;
        result
    }

    /// Everything about one first-parent commit.
    pub fn change_facts(&mut self, id: &gix::oid) -> Result<ChangeFacts, GitError> {
        let (head, parents, tree) = self.commit_facts(id, true)?;
        let old_tree = match parents.first() {
            Some(p) => Some(self.tree_of(p)?),
            None => None,
        };
        let (changed_paths, candidates) = self.diff_trees(old_tree, tree)?;

        let added_lines = self.added_lines(&candidates)?;
        let topic = if parents.len() > 1 {
            self.topic(parents[0], &parents[1..], false)?
        } else {
            Topic { commits: Vec::new(), topic_line: Vec::new(), stale_reviews: Vec::new() }
        };
        Ok(ChangeFacts {
            head,
            parents: parents.iter().map(ToString::to_string).collect(),
            brought_in: topic.commits,
            topic_line: topic.topic_line,
            stale_reviews: topic.stale_reviews,
            changed_paths,
            added_lines,
        })
    }

    /// The commits reachable from `tips` and not from `base` (what a merge with first parent
    /// `base` brings in, or a pull request's commits), oldest first, with the topic line
    /// followed from `tips[0]` and the stale review commits. `with_body` keeps the bodies.
    pub fn topic(&mut self, base: ObjectId, tips: &[ObjectId], with_body: bool) -> Result<Topic, GitError> {
        let ids = self.merged_ids(base, tips)?;
        let mut commits = Vec::with_capacity(ids.len());
        let mut first_parents = Vec::with_capacity(ids.len());
        let mut trees = Vec::with_capacity(ids.len());
        for id in ids.iter().rev() {
            let (facts, parents, tree) = self.commit_facts(id, with_body)?;
            commits.push(facts);
            first_parents.push(parents.first().copied());
            trees.push(tree);
        }
        let index: HashMap<ObjectId, usize> = ids.iter().rev().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut topic_line = Vec::new();
        let mut next = tips.first().copied();
        while let Some(id) = next {
            let Some(&i) = index.get(&id) else { break };
            if topic_line.len() >= commits.len() {
                break;
            }
            topic_line.push(i as u32);
            next = first_parents[i];
        }
        let stale_reviews = match tips.first().and_then(|tip| index.get(tip)) {
            Some(&tip) => self.stale_reviews(tip, &commits, &first_parents, &trees)?,
            None => Vec::new(),
        };
        Ok(Topic { commits, topic_line, stale_reviews })
    }

    /// Which review trailers on topic commits other than the tip no longer describe the
    /// code at the tip. A trailer on commit C covers the paths C touched (its diff against
    /// its first parent); it is stale when any of those paths is not the same at the tip
    /// (another entry, or gone, or back when C deleted it). Only commits that carry a
    /// binding trailer are diffed, and only their touched paths are looked up at the tip,
    /// so a topic without trailers costs nothing here.
    fn stale_reviews(
        &mut self,
        tip: usize,
        commits: &[CommitFacts],
        first_parents: &[Option<ObjectId>],
        trees: &[ObjectId],
    ) -> Result<Vec<String>, GitError> {
        let mut stale = Vec::new();
        let mut buf = Vec::new();
        for (i, commit) in commits.iter().enumerate() {
            let binds =
                commit.trailers.iter().any(|(key, _)| self.binding_keys.iter().any(|b| key.eq_ignore_ascii_case(b)));
            if i == tip || !binds {
                continue;
            }
            let old = match first_parents[i] {
                Some(p) => Some(self.tree_of(&p)?),
                None => None,
            };
            let touched = self.diff_raw(old, trees[i])?;
            let source = RepoSource { repo: self.repo, path: self.path, shallow: self.shallow };
            for changed in &touched {
                let here = crate::treediff::lookup(&source, &trees[i], &changed.path, &mut buf)?;
                let at_tip = crate::treediff::lookup(&source, &trees[tip], &changed.path, &mut buf)?;
                if here != at_tip {
                    stale.push(commit.id.clone());
                    break;
                }
            }
        }
        Ok(stale)
    }

    /// Committer time and parents of a commit, from the commit-graph when it has it.
    fn time_and_parents(&mut self, id: &gix::oid, parents: &mut Vec<ObjectId>) -> Result<i64, GitError> {
        parents.clear();
        if let Some(graph) = &self.graph
            && let Some(pos) = graph.lookup(id)
        {
            let commit = graph.commit_at(pos);
            for p in commit.iter_parents() {
                match p {
                    Ok(p) => parents.push(graph.id_at(p).to_owned()),
                    Err(_) => {
                        parents.clear();
                        break;
                    }
                }
            }
            if parents.len() == commit.iter_parents().count() {
                return Ok(commit.committer_timestamp() as i64);
            }
        }
        let mut buf = std::mem::take(&mut self.buf2);
        let result = (|| {
            let data = self.load(id, &mut buf, "a merged commit")?;
            let commit = gix::objs::CommitRefIter::from_bytes(data.data, id.kind());
            parents.extend(commit.parent_ids());
            let time = commit.committer().map_err(|e| GitError::Corrupt {
                path: self.path.to_owned(),
                id: id.to_string(),
                kind: "commit",
                message: e.to_string(),
            })?;
            Ok(time.seconds())
        })();
        self.buf2 = buf;
        result
    }

    /// The commits reachable from `others` but not from `first`, newest first: the set
    /// `git rev-list first..other` gives, found the way git finds it (`limit_list` in git's
    /// `revision.c`). Commits are visited newest committer date first. A commit reached from
    /// `first` is hidden, and so is every ancestor of it the walk has already met, at once
    /// (a commit visited as visible can be hidden later, when a date tie or skewed clocks
    /// put a descendant after it). The walk ends when every queued commit is hidden and
    /// none is newer than the oldest visible commit, plus five more commits for skew.
    /// Visible commits later found hidden are dropped.
    fn merged_ids(&mut self, first: ObjectId, others: &[ObjectId]) -> Result<Vec<ObjectId>, GitError> {
        const SEEN: u8 = 1;
        const HIDDEN: u8 = 2;
        const QUEUED: u8 = 4;
        const SLOP: u32 = 5;
        #[derive(Default)]
        struct Node {
            flags: u8,
            /// Known once the commit has been read.
            parents: Vec<ObjectId>,
        }
        /// Hide `start` and every known ancestor; `visible_queued` counts queued commits
        /// that are not hidden.
        fn hide(nodes: &mut HashMap<ObjectId, Node>, start: &[ObjectId], visible_queued: &mut usize) {
            let mut stack: Vec<ObjectId> = start.to_vec();
            while let Some(id) = stack.pop() {
                let node = nodes.entry(id).or_default();
                if node.flags & HIDDEN != 0 {
                    continue;
                }
                node.flags |= HIDDEN;
                if node.flags & QUEUED != 0 {
                    *visible_queued = visible_queued.saturating_sub(1);
                }
                stack.extend(node.parents.iter().copied());
            }
        }

        let mut nodes: HashMap<ObjectId, Node> = HashMap::new();
        // Newest first; equal dates in the order they were queued, as git does.
        let mut queue: std::collections::BinaryHeap<(i64, std::cmp::Reverse<u64>, ObjectId)> =
            std::collections::BinaryHeap::new();
        let mut seq = 0u64;
        let mut visible_queued = 0usize;
        let mut parents = Vec::new();

        for (id, hidden) in std::iter::once((first, true)).chain(others.iter().map(|o| (*o, false))) {
            if nodes.get(&id).is_some_and(|n| n.flags & SEEN != 0) {
                continue;
            }
            let time = self.time_and_parents(&id, &mut parents)?;
            let node = nodes.entry(id).or_default();
            node.parents = std::mem::take(&mut parents);
            node.flags |= SEEN | QUEUED;
            if hidden {
                node.flags |= HIDDEN;
            } else if node.flags & HIDDEN == 0 {
                visible_queued += 1;
            }
            queue.push((time, std::cmp::Reverse(seq), id));
            seq += 1;
        }

        let mut order = Vec::new();
        let mut oldest_visible = i64::MAX;
        let mut slop = SLOP;
        while let Some((time, _, id)) = queue.pop() {
            let node = nodes.get_mut(&id).expect("queued commits have a node");
            node.flags &= !QUEUED;
            let hidden = node.flags & HIDDEN != 0;
            if !hidden {
                visible_queued = visible_queued.saturating_sub(1);
            }
            let commit_parents = node.parents.clone();
            if hidden {
                hide(&mut nodes, &commit_parents, &mut visible_queued);
            }
            for parent in commit_parents {
                if nodes.get(&parent).is_some_and(|n| n.flags & SEEN != 0) {
                    continue;
                }
                let t = self.time_and_parents(&parent, &mut parents)?;
                let node = nodes.entry(parent).or_default();
                node.parents = std::mem::take(&mut parents);
                node.flags |= SEEN | QUEUED;
                if node.flags & HIDDEN == 0 {
                    visible_queued += 1;
                } else {
                    let grandparents = node.parents.clone();
                    hide(&mut nodes, &grandparents, &mut visible_queued);
                }
                queue.push((t, std::cmp::Reverse(seq), parent));
                seq += 1;
            }
            if hidden {
                // git's `still_interesting`.
                slop = match queue.peek() {
                    None => 0,
                    Some(&(newest, _, _)) if oldest_visible <= newest => SLOP,
                    Some(_) if visible_queued > 0 => SLOP,
                    Some(_) => slop - 1,
                };
                if slop == 0 {
                    break;
                }
                continue;
            }
            oldest_visible = time;
            order.push(id);
        }
        order.retain(|id| nodes.get(id).is_some_and(|n| n.flags & HIDDEN == 0));
        Ok(order)
    }

    /// Tree diff `old` → `new`, raw: every changed path with its blob ids.
    fn diff_raw(&mut self, old: Option<ObjectId>, new: ObjectId) -> Result<Vec<Changed>, GitError> {
        let source = RepoSource { repo: self.repo, path: self.path, shallow: self.shallow };
        let mut old_buf = std::mem::take(&mut self.buf);
        let mut new_buf = std::mem::take(&mut self.buf2);
        let mut diff = TreeDiff::new(&source, new.kind());
        let result = (|| {
            match old {
                Some(t) => source.load_tree(&t, &mut old_buf)?,
                None => old_buf.clear(),
            }
            source.load_tree(&new, &mut new_buf)?;
            diff.diff(&old_buf, &new_buf)
        })();
        self.buf = old_buf;
        self.buf2 = new_buf;
        result?;
        Ok(diff.out)
    }

    /// Tree diff `old` → `new`. Returns the changed paths (sorted by path) and the
    /// `(path, old blob, new blob)` of the files whose added lines are wanted.
    #[allow(clippy::type_complexity)]
    pub fn diff_trees(
        &mut self,
        old: Option<ObjectId>,
        new: ObjectId,
    ) -> Result<(Vec<(String, PathStatus)>, Vec<(String, Option<ObjectId>, ObjectId)>), GitError> {
        let out = self.diff_raw(old, new)?;
        let mut paths = Vec::with_capacity(out.len());
        let mut candidates = Vec::new();
        for changed in out {
            let path = escape_lossy(&changed.path);
            if let (Some(wanted), Some(new_id), true) = (self.added_lines_for, changed.new, changed.is_blob)
                && wanted(&path)
            {
                candidates.push((path.clone(), changed.old, new_id));
            }
            paths.push((path, changed.status));
        }
        // Tree order is not plain byte order (`a/b` vs `a.txt`): sort for a stable output.
        paths.sort_by(|a, b| a.0.cmp(&b.0));
        Ok((paths, candidates))
    }

    /// Added lines of the candidate files (a line diff of old → new blob).
    pub fn added_lines(
        &mut self,
        candidates: &[(String, Option<ObjectId>, ObjectId)],
    ) -> Result<Vec<(String, Vec<String>)>, GitError> {
        use gix::diff::blob::{Algorithm, Diff, InternedInput};
        let mut out = Vec::new();
        for (path, old, new) in candidates {
            let old_bytes = match old {
                Some(id) => self.load(id, &mut Vec::new(), "a blob")?.data.to_vec(),
                None => Vec::new(),
            };
            let mut new_buf = Vec::new();
            let new_bytes = self.load(new, &mut new_buf, "a blob")?.data;
            let input = InternedInput::new(old_bytes.as_slice(), new_bytes);
            let diff = Diff::compute(Algorithm::Histogram, &input);
            let mut lines = Vec::new();
            for hunk in diff.hunks() {
                for token in &input.after[hunk.after.start as usize..hunk.after.end as usize] {
                    let line: &[u8] = input.interner[*token];
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    lines.push(escape_lossy(line));
                }
            }
            if !lines.is_empty() {
                out.push((path.clone(), lines));
            }
        }
        Ok(out)
    }
}
