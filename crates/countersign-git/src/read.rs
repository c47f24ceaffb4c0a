//! Reading facts out of the object database: commits, tree diffs and added lines.
//!
//! Everything here works on one thread-local `gix::Repository` handle and reuses its
//! buffers; the walk hands each worker thread its own handle.

use std::collections::HashMap;
use std::path::Path;

use countersign_engine::change::PathStatus;
use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::{CommitRef, Find, TreeRefIter};

use crate::GitError;
use crate::facts::{ChangeFacts, CommitFacts, RawIdent};
use crate::message::{self, decode_message, escape_lossy};

/// The first 40-hex-digit object id in an error message.
fn first_object_id(text: &str) -> Option<ObjectId> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 40)
        .and_then(|w| ObjectId::from_hex(w.as_bytes()).ok())
}

/// Trees loaded by the previous tree diff, offered to the next one.
///
/// Walking a first-parent chain oldest first, the "new" side of one diff is the "old" side
/// of the next, so most trees the next diff needs were just decompressed. This keeps exactly
/// those (a few dozen small buffers) instead of a general object cache, which would copy
/// every object in and out and measured slower.
struct TreeMemo<'a> {
    repo: &'a gix::Repository,
    previous: std::cell::RefCell<HashMap<ObjectId, Vec<u8>>>,
    current: std::cell::RefCell<HashMap<ObjectId, Vec<u8>>>,
}

impl TreeMemo<'_> {
    /// Start the next diff: what the last diff loaded becomes what this one may reuse.
    fn rotate(&self) {
        let mut previous = self.previous.borrow_mut();
        let mut current = self.current.borrow_mut();
        std::mem::swap(&mut *previous, &mut *current);
        current.clear();
    }
}

impl gix::objs::Find for TreeMemo<'_> {
    fn try_find<'b>(&self, id: &gix::oid, buffer: &'b mut Vec<u8>) -> gix::Result<Option<gix::objs::Data<'b>>> {
        let hit = self.previous.borrow_mut().remove(id).or_else(|| self.current.borrow().get(id).cloned());
        if let Some(data) = hit {
            buffer.clear();
            buffer.extend_from_slice(&data);
            self.current.borrow_mut().insert(id.to_owned(), data);
            return Ok(Some(gix::objs::Data { kind: gix::object::Kind::Tree, object_hash: id.kind(), data: buffer }));
        }
        match self.repo.try_find(id, buffer)? {
            Some(data) => {
                if data.kind == gix::object::Kind::Tree {
                    self.current.borrow_mut().insert(id.to_owned(), data.data.to_vec());
                }
                Ok(Some(gix::objs::Data { kind: data.kind, object_hash: data.object_hash, data: data.data }))
            }
            None => Ok(None),
        }
    }
}

/// Reused allocations for one worker.
pub(crate) struct Reader<'a> {
    pub repo: &'a gix::Repository,
    pub path: &'a Path,
    pub shallow: bool,
    pub added_lines_for: Option<&'a globset::GlobSet>,
    buf: Vec<u8>,
    buf2: Vec<u8>,
    diff_state: gix::diff::tree::State,
    memo: TreeMemo<'a>,
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
        added_lines_for: Option<&'a globset::GlobSet>,
    ) -> Self {
        Reader {
            repo,
            path,
            shallow,
            added_lines_for,
            buf: Vec::new(),
            buf2: Vec::new(),
            diff_state: Default::default(),
            memo: TreeMemo { repo, previous: Default::default(), current: Default::default() },
            last_parent: None,
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
    fn load<'b>(
        &self,
        id: &gix::oid,
        buf: &'b mut Vec<u8>,
        needed_for: &str,
    ) -> Result<gix::objs::Data<'b>, GitError> {
        match self.repo.try_find(id, buf) {
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(self.missing(id, needed_for)),
            Err(e) => Err(self.git(format!("reading object {id}"), e)),
        }
    }

    fn load_tree<'b>(&self, id: &gix::oid, buf: &'b mut Vec<u8>) -> Result<&'b [u8], GitError> {
        match gix::objs::Find::try_find(&self.memo, id, buf) {
            Ok(Some(data)) => Ok(data.data),
            Ok(None) => Err(self.missing(id, "a tree")),
            Err(e) => Err(self.git(format!("reading tree {id}"), e)),
        }
    }

    /// Decode one commit into facts. `with_body` keeps the body (first-parent commits).
    pub fn commit_facts(&mut self, id: &gix::oid, with_body: bool) -> Result<(CommitFacts, Vec<ObjectId>, ObjectId), GitError> {
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
        let ids = self.range_ids(&parents[1..], &parents[..1])?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.iter().rev() {
            out.push(self.commit_facts(id, false)?.0);
        }
        Ok(out)
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
        let mut old_buf = std::mem::take(&mut self.buf);
        let mut new_buf = std::mem::take(&mut self.buf2);
        let result = (|| {
            self.memo.rotate();
            let old_data: &[u8] = match old {
                Some(t) => self.load_tree(&t, &mut old_buf)?,
                None => &[],
            };
            let new_data = self.load_tree(&new, &mut new_buf)?;
            let mut recorder = gix::diff::tree::Recorder::default();
            gix::diff::tree(
                TreeRefIter::from_bytes(old_data, new.kind()),
                TreeRefIter::from_bytes(new_data, new.kind()),
                &mut self.diff_state,
                &self.memo,
                &mut recorder,
            )
            .map_err(|e| match e {
                gix::diff::tree::Error::Failure(ref inner) if inner.is_not_found() => {
                    // The error names the missing object; report that id, not the root tree.
                    let text = e.to_string();
                    let missing = first_object_id(&text).unwrap_or(new);
                    self.missing(&missing, format!("the tree diff of tree {new}"))
                }
                e => self.git(format!("diffing tree {new}"), e),
            })?;
            Ok(recorder.records)
        })();
        self.buf = old_buf;
        self.buf2 = new_buf;
        let records = result?;

        use gix::diff::tree::recorder::Change;
        let mut paths = Vec::with_capacity(records.len());
        let mut candidates = Vec::new();
        for change in records {
            let (path, status, mode, old_id, new_id) = match change {
                Change::Addition { entry_mode, oid, path, .. } => (path, PathStatus::Added, entry_mode, None, Some(oid)),
                Change::Deletion { entry_mode, oid, path, .. } => (path, PathStatus::Deleted, entry_mode, Some(oid), None),
                Change::Modification { previous_entry_mode, previous_oid, entry_mode, oid, path } => {
                    // A file that became a directory (or back) shows as a tree change here;
                    // its files are listed on their own.
                    if entry_mode.is_tree() && previous_entry_mode.is_tree() {
                        continue;
                    }
                    let old = (!previous_entry_mode.is_tree()).then_some(previous_oid);
                    (path, PathStatus::Modified, entry_mode, old, Some(oid))
                }
            };
            if mode.is_tree() {
                continue;
            }
            let path = escape_lossy(&path);
            if let (Some(set), Some(new_id)) = (self.added_lines_for, new_id) {
                if mode.is_blob() && set.is_match(&path) {
                    candidates.push((path.clone(), old_id, new_id));
                }
            }
            paths.push((path, status));
        }
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
