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
use crate::treediff::{TreeDiff, TreeSource};

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
    ) -> Self {
        Reader {
            repo,
            path,
            shallow,
            added_lines_for,
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
            let facts = CommitFacts {
                id: id.to_string(),
                author: raw_ident(&author),
                committer: raw_ident(&committer),
                commit_time: committer.seconds(),
                signed: is_signed(&commit),
                subject: parsed.subject,
                body: if with_body { parsed.body } else { String::new() },
                trailers: parsed.trailers.into_iter().map(|t| (t.key, t.value)).collect(),
                review: parsed.review.map(|r| (r.number, r.source, r.reviewers)),
            };
            Ok((facts, commit.parents().collect(), commit.tree()))
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
        let brought_in = if parents.len() > 1 { self.brought_in(&parents)? } else { Vec::new() };
        Ok(ChangeFacts {
            head,
            parents: parents.iter().map(ToString::to_string).collect(),
            brought_in,
            changed_paths,
            added_lines,
        })
    }

    /// The commits a merge brings in: reachable from parents 2.. but not from parent 1,
    /// oldest first.
    pub fn brought_in(&mut self, parents: &[ObjectId]) -> Result<Vec<CommitFacts>, GitError> {
        let ids = self.merged_ids(parents[0], &parents[1..])?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.iter().rev() {
            out.push(self.commit_facts(id, false)?.0);
        }
        Ok(out)
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

    /// The commits a merge brings in: reachable from `others` but not from `first`, newest
    /// first. git's date-ordered painting: walk newest commit first, marking what is reachable
    /// from `first` as hidden, until only hidden commits are left to visit. Exact unless
    /// committer dates are skewed across the fork point, like git's own `A..B`.
    fn merged_ids(&mut self, first: ObjectId, others: &[ObjectId]) -> Result<Vec<ObjectId>, GitError> {
        const VISIBLE: u8 = 1;
        const HIDDEN: u8 = 2;
        const QUEUED: u8 = 4;
        let mut flags: HashMap<ObjectId, u8> = HashMap::new();
        let mut queue: std::collections::BinaryHeap<(i64, ObjectId)> = std::collections::BinaryHeap::new();
        let mut parents = Vec::new();
        // Queued commits that are not (yet) known to be hidden: the walk ends when none is left.
        let mut pending_visible = 0usize;
        let mut order = Vec::new();

        let first_time = self.time_and_parents(&first, &mut parents)?;
        flags.insert(first, HIDDEN | QUEUED);
        queue.push((first_time, first));
        for other in others {
            if flags.contains_key(other) {
                continue;
            }
            let t = self.time_and_parents(other, &mut parents)?;
            flags.insert(*other, VISIBLE | QUEUED);
            queue.push((t, *other));
            pending_visible += 1;
        }
        while pending_visible > 0 {
            let Some((_, id)) = queue.pop() else { break };
            let f = flags.get(&id).copied().unwrap_or(0);
            flags.insert(id, f & !QUEUED);
            if f & HIDDEN == 0 {
                pending_visible = pending_visible.saturating_sub(1);
                order.push(id);
            }
            let mark = f & (VISIBLE | HIDDEN);
            self.time_and_parents(&id, &mut parents)?;
            for parent in std::mem::take(&mut parents) {
                let existing = flags.get(&parent).copied();
                let merged = existing.unwrap_or(0) | mark;
                if existing == Some(merged) {
                    continue;
                }
                let was_queued = existing.is_some_and(|e| e & QUEUED != 0);
                let was_pending = was_queued && existing.is_some_and(|e| e & HIDDEN == 0);
                if was_queued {
                    flags.insert(parent, merged);
                    if was_pending && merged & HIDDEN != 0 {
                        pending_visible = pending_visible.saturating_sub(1);
                    }
                } else {
                    // New, or already visited and now reached with a new mark: (re)visit it.
                    let t = self.time_and_parents(&parent, &mut parents)?;
                    flags.insert(parent, merged | QUEUED);
                    queue.push((t, parent));
                    if merged & HIDDEN == 0 {
                        pending_visible += 1;
                    }
                }
            }
        }
        // A commit visited as visible and later found hidden is not brought in.
        order.retain(|id| flags.get(id).is_some_and(|f| f & HIDDEN == 0));
        Ok(order)
    }

    /// Commits reachable from `tips` and not from `hidden`, newest first.
    pub fn range_ids(&self, tips: &[ObjectId], hidden: &[ObjectId]) -> Result<Vec<ObjectId>, GitError> {
        let walk = self
            .repo
            .rev_walk(tips.iter().copied())
            .with_hidden(hidden.iter().copied())
            .sorting(gix::revision::walk::Sorting::ByCommitTime(Default::default()))
            .all()
            .map_err(|e| self.git(format!("walking the commits of {}", tips[0]), e))?;
        let mut ids = Vec::new();
        for info in walk {
            match info {
                Ok(info) => ids.push(info.id),
                Err(e) => {
                    // Distinguish a missing object (shallow clone, damaged repo) from other failures.
                    if self.shallow {
                        return Err(GitError::Shallow { path: self.path.to_owned(), commit: tips[0].to_string() });
                    }
                    if e.is_not_found() {
                        return Err(GitError::MissingObject {
                            path: self.path.to_owned(),
                            id: tips[0].to_string(),
                            needed_for: format!("the history of {} ({e})", tips[0]),
                        });
                    }
                    return Err(self.git(format!("walking the commits of {}", tips[0]), e));
                }
            }
        }
        Ok(ids)
    }

    /// Tree diff `old` → `new`. Returns the changed paths (sorted by path) and the
    /// `(path, old blob, new blob)` of the files whose added lines are wanted.
    #[allow(clippy::type_complexity)]
    pub fn diff_trees(
        &mut self,
        old: Option<ObjectId>,
        new: ObjectId,
    ) -> Result<(Vec<(String, PathStatus)>, Vec<(String, Option<ObjectId>, ObjectId)>), GitError> {
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

        let mut paths = Vec::with_capacity(diff.out.len());
        let mut candidates = Vec::new();
        for changed in diff.out {
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
