//! Reading facts out of the object database: commits, tree diffs and added lines.
//!
//! Everything here works on one thread-local `gix::Repository` handle and reuses its
//! buffers; the walk hands each worker thread its own handle.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use countersign_engine::change::PathStatus;
use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::objs::{CommitRef, Find};

use crate::GitError;
use crate::packs::{PackReader, Packs};
use std::cell::RefCell;

/// Which files' added lines to collect (by `/`-separated path).
pub(crate) type PathMatch = dyn Fn(&str) -> bool + Sync;
use crate::facts::{ChangeFacts, CommitFacts, RawIdent};
use crate::index::CommitIndex;
use crate::message::{self, decode_message, escape_lossy};
use crate::treediff::{Changed, TreeDiff, TreeSource, TreeState};

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

/// What one merge brings in, found by [`Reader::merge_sets_in_one_pass`]: its commits,
/// oldest first, each as its raw commit object (a range of `bytes`: one buffer per merge,
/// which the thread making the topic can hand back for reuse, instead of one allocation per
/// commit freed on another thread).
pub(crate) struct MergeSet {
    pub merge: ObjectId,
    tips: Vec<ObjectId>,
    members: Vec<(ObjectId, std::ops::Range<usize>)>,
    bytes: Vec<u8>,
}

/// A buffer of [`MergeSet::bytes`] larger than this is not kept for reuse.
const KEEP_SET_BYTES: usize = 4 << 20;

/// One commit of a topic: its id, facts, parents and tree.
type Member = (ObjectId, CommitFacts, Vec<ObjectId>, ObjectId);

/// Tree loading for [`TreeDiff`], with this crate's errors.
///
/// There is deliberately no object cache in front of it: a tree diff along a first-parent
/// chain rarely loads the same subtree twice (each commit touches other directories), and
/// gix's object cache copies every object in and out; measured, it made the walk slower. The
/// delta-base cache is what pays off: pack objects are read by [`PackReader`], which keeps
/// every base of a delta chain, the rest by gix.
struct RepoSource<'r> {
    repo: &'r gix::Repository,
    path: &'r Path,
    shallow: bool,
    packs: &'r Packs,
    pack_reader: &'r RefCell<PackReader>,
}

impl<'r> RepoSource<'r> {
    /// Object `id`, decoded into `buf`: from the packs with every delta base kept
    /// ([`PackReader`]), else through gix (loose objects, alternates).
    fn find<'b>(&self, id: &gix::oid, buf: &'b mut Vec<u8>) -> Result<Option<gix::objs::Data<'b>>, String> {
        let from_pack = self.pack_reader.borrow_mut().find(self.packs, id, buf)?;
        match from_pack {
            Some(kind) => Ok(Some(gix::objs::Data { kind, object_hash: id.kind(), data: buf })),
            None => self.repo.try_find(id, buf).map_err(|e| e.to_string()),
        }
    }
}

impl TreeSource for RepoSource<'_> {
    fn load_tree(&self, id: &gix::oid, buf: &mut Vec<u8>) -> Result<(), GitError> {
        let found = match self.find(id, buf) {
            Ok(Some(data)) => Some((data.kind, data.data.as_ptr() as usize, data.data.len())),
            Ok(None) => None,
            Err(e) => {
                return Err(GitError::Git {
                    path: self.path.to_owned(),
                    context: format!("reading tree {id}"),
                    message: e,
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
    /// Raw commits the walk read and handed on with a run of the chain ([`Reader::offer`]).
    offered: gix::hashtable::HashMap<ObjectId, Vec<u8>>,
    /// The tree diff's buffers, and the trees the last diff read for the next one.
    trees: TreeState,
    /// Parents and dates of commits, shared with the walk's other readers.
    index: Arc<CommitIndex>,
    merge_walk: MergeWalk,
    /// Commits the current merge walk decoded to fill the index, kept so that reading the
    /// merged ones in full (`topic`) does not inflate them a second time.
    fresh: gix::hashtable::HashMap<ObjectId, Vec<u8>>,
    /// Spent buffers of `fresh`, for reuse.
    spare: Vec<Vec<u8>>,
    /// Merges' topics are found elsewhere ([`Reader::topics_in_one_pass`], on another
    /// thread): `change_facts` leaves them empty.
    topics_elsewhere: bool,
    /// The repository's packs (shared by the walk's readers) and this reader's own
    /// delta-base cache over them.
    packs: Arc<Packs>,
    pack_reader: RefCell<PackReader>,
}

/// The committer time of the commit whose raw object is `data`, with its parents in
/// `parents` (cleared first).
pub(crate) fn commit_links(
    path: &Path,
    id: &gix::oid,
    data: &[u8],
    parents: &mut Vec<ObjectId>,
) -> Result<i64, GitError> {
    let commit = gix::objs::CommitRefIter::from_bytes(data, id.kind());
    parents.clear();
    parents.extend(commit.parent_ids());
    let committer = commit.committer().map_err(|e| GitError::Corrupt {
        path: path.to_owned(),
        id: id.to_string(),
        kind: "commit",
        message: e.to_string(),
    })?;
    Ok(committer.seconds())
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
            trees: TreeState::default(),
            offered: Default::default(),
            graph: repo.commit_graph_if_enabled().ok().flatten(),
            index: Arc::default(),
            merge_walk: MergeWalk::default(),
            fresh: Default::default(),
            spare: Vec::new(),
            topics_elsewhere: false,
            packs: Arc::new(Packs::none()),
            pack_reader: RefCell::new(PackReader::new(0)),
        }
    }

    /// Read objects from `packs` directly, keeping up to `cache_bytes` of delta bases.
    pub fn with_packs(mut self, packs: Arc<Packs>, cache_bytes: usize) -> Self {
        self.packs = packs;
        self.pack_reader = RefCell::new(PackReader::new(cache_bytes));
        self
    }

    fn source(&self) -> RepoSource<'_> {
        RepoSource {
            repo: self.repo,
            path: self.path,
            shallow: self.shallow,
            packs: &self.packs,
            pack_reader: &self.pack_reader,
        }
    }

    /// Whether merges' topics are left to [`Reader::topics_in_one_pass`].
    pub fn topics_elsewhere(mut self, elsewhere: bool) -> Self {
        self.topics_elsewhere = elsewhere;
        self
    }

    /// Share `index` (the walk's commit index) instead of a reader-local one.
    pub fn with_index(mut self, index: Arc<CommitIndex>) -> Self {
        self.index = index;
        self
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

    /// The other half of a two-thread job stopped (its own error is the one to report).
    pub fn stopped(&self, what: &str) -> GitError {
        self.git(what.to_string(), "the thread doing it stopped")
    }

    /// Load an object's raw data into `buf`.
    fn load<'b>(&self, id: &gix::oid, buf: &'b mut Vec<u8>, needed_for: &str) -> Result<gix::objs::Data<'b>, GitError> {
        let source = self.source();
        match source.find(id, buf) {
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(self.missing(id, needed_for)),
            Err(e) => Err(self.git(format!("reading object {id}"), e)),
        }
    }

    /// The raw commit objects the walk already read for the commits `ids` (empty where it
    /// read none), in place of those offered before: `commit_facts` and `tree_of` use them
    /// instead of reading the objects again.
    pub fn offer(&mut self, ids: &[ObjectId], raw: Vec<Vec<u8>>) {
        self.offered.clear();
        self.offered.extend(ids.iter().copied().zip(raw).filter(|(_, raw)| !raw.is_empty()));
    }

    /// Decode one commit into facts. `with_body` keeps the body (first-parent commits).
    pub fn commit_facts(
        &mut self,
        id: &gix::oid,
        with_body: bool,
    ) -> Result<(CommitFacts, Vec<ObjectId>, ObjectId), GitError> {
        let mut buf = std::mem::take(&mut self.buf);
        // Offered by the walk; else the parent `tree_of` just read; else decoded by a
        // merge walk.
        let cached = if let Some(raw) = self.offered.remove(id) {
            buf = raw;
            true
        } else {
            match &self.last_parent {
                Some((c, bytes)) if c.as_ref() == id => {
                    buf.clear();
                    buf.extend_from_slice(bytes);
                    true
                }
                _ => match self.fresh.remove(id) {
                    Some(bytes) => {
                        buf.clear();
                        buf.extend_from_slice(&bytes);
                        self.spare.push(bytes);
                        true
                    }
                    None => false,
                },
            }
        };
        let result = (|| {
            let data = if cached {
                gix::objs::Data { kind: gix::object::Kind::Commit, object_hash: id.kind(), data: &buf }
            } else {
                self.load(id, &mut buf, "a commit")?
            };
            if data.kind != gix::object::Kind::Commit {
                return Err(self.corrupt_commit(id, &format!("it is a {}", data.kind)));
            }
            let (facts, parents, tree) = self.parse_commit(id, data.data, with_body)?;
            self.index.insert(id.to_owned(), facts.commit_time, &parents);
            Ok((facts, parents, tree))
        })();
        self.buf = buf;
        result
    }

    fn corrupt_commit(&self, id: &gix::oid, e: &dyn std::fmt::Display) -> GitError {
        GitError::Corrupt { path: self.path.to_owned(), id: id.to_string(), kind: "commit", message: e.to_string() }
    }

    /// A commit object's facts, parents and tree.
    fn parse_commit(
        &self,
        id: &gix::oid,
        data: &[u8],
        with_body: bool,
    ) -> Result<(CommitFacts, Vec<ObjectId>, ObjectId), GitError> {
        let corrupt = |e: &dyn std::fmt::Display| self.corrupt_commit(id, e);
        let commit = CommitRef::from_bytes(data, id.kind()).map_err(|e| corrupt(&e))?;
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
    }

    /// The tree of a commit.
    pub fn tree_of(&mut self, commit: &gix::oid) -> Result<ObjectId, GitError> {
        let tree_id = |data: &[u8]| {
            gix::objs::CommitRefIter::from_bytes(data, commit.kind()).tree_id().map_err(|e| GitError::Corrupt {
                path: self.path.to_owned(),
                id: commit.to_string(),
                kind: "commit",
                message: e.to_string(),
            })
        };
        if let Some(raw) = self.offered.get(commit) {
            return tree_id(raw);
        }
        let mut buf = std::mem::take(&mut self.buf2);
        let result = self.load(commit, &mut buf, "a parent commit").and_then(|data| tree_id(data.data));
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
        let topic = if parents.len() > 1 && !self.topics_elsewhere {
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
        let mut members = Vec::with_capacity(ids.len());
        for id in ids.iter().rev() {
            let (facts, parents, tree) = self.commit_facts(id, with_body)?;
            members.push((*id, facts, parents, tree));
        }
        let topic = self.assemble_topic(members, tips);
        self.forget_fresh();
        topic
    }

    /// A topic from its commits, oldest first, each as [`Reader::commit_facts`] gives it:
    /// the topic line followed from `tips[0]`, and the stale review commits.
    fn assemble_topic(&mut self, members: Vec<Member>, tips: &[ObjectId]) -> Result<Topic, GitError> {
        let mut commits = Vec::with_capacity(members.len());
        let mut first_parents = Vec::with_capacity(members.len());
        let mut trees = Vec::with_capacity(members.len());
        let mut index: HashMap<ObjectId, usize> = HashMap::with_capacity(members.len());
        for (i, (id, facts, parents, tree)) in members.into_iter().enumerate() {
            index.insert(id, i);
            commits.push(facts);
            first_parents.push(parents.first().copied());
            trees.push(tree);
        }
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
            Some(&tip) => self.stale_reviews(tip, &commits, &first_parents, &trees, &index)?,
            None => Vec::new(),
        };
        Ok(Topic { commits, topic_line, stale_reviews })
    }

    /// Drop the bytes kept by the last merge walk (keeping the buffers).
    fn forget_fresh(&mut self) {
        self.spare.extend(self.fresh.drain().map(|(_, v)| v));
        // A huge walk (a merge of a long-lived branch) should not pin its memory.
        self.spare.truncate(4096);
    }

    /// Which review trailers on topic commits other than the tip no longer describe the
    /// code at the tip. A trailer on commit C covers the paths C touched (its diff against
    /// its first parent); it is stale when any of those paths is not the same at the tip
    /// (another entry, or gone, or back when C deleted it). Only commits that carry a
    /// binding trailer are diffed, so a topic without trailers costs nothing here.
    ///
    /// For such a commit, what differs between it and the tip is diffed first (usually
    /// little: both are in one topic); when nothing does, nothing is stale. Otherwise C's own
    /// diff follows, and finds C's trees among those the first diff read. A touched path is
    /// not the same at the tip exactly when the diff from C to the tip reports it, or a path
    /// below it (C deleted a file where the tip has a directory).
    fn stale_reviews(
        &mut self,
        tip: usize,
        commits: &[CommitFacts],
        first_parents: &[Option<ObjectId>],
        trees: &[ObjectId],
        members: &HashMap<ObjectId, usize>,
    ) -> Result<Vec<String>, GitError> {
        let mut stale = Vec::new();
        for (i, commit) in commits.iter().enumerate() {
            let binds =
                commit.trailers.iter().any(|(key, _)| self.binding_keys.iter().any(|b| key.eq_ignore_ascii_case(b)));
            if i == tip || !binds {
                continue;
            }
            let since = self.diff_raw(Some(trees[i]), trees[tip])?;
            if since.is_empty() {
                continue;
            }
            let old = match first_parents[i] {
                Some(p) => Some(match members.get(&p) {
                    Some(&j) => trees[j],
                    None => self.tree_of(&p)?,
                }),
                None => None,
            };
            let touched = self.diff_raw(old, trees[i])?;
            let touched: std::collections::HashSet<&[u8]> = touched.iter().map(|c| c.path.as_slice()).collect();
            let differs_at_tip = since.iter().any(|c| {
                let path = c.path.as_slice();
                touched.contains(path)
                    || path.iter().enumerate().any(|(k, &b)| b == b'/' && touched.contains(&path[..k]))
            });
            if differs_at_tip {
                stale.push(commit.id.clone());
            }
        }
        Ok(stale)
    }

    /// Committer time and parents of a commit: from the commit-graph when it has it, else
    /// from the commit index, which decodes each commit object at most once per walk.
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
        let mut keep = None;
        let this = &*self;
        let result = this.index.get_or_decode(id, parents, |parents| {
            let data = this.load(id, &mut buf, "a merged commit")?;
            if data.kind == gix::object::Kind::Commit {
                keep = Some(data.data.as_ptr_range());
            }
            commit_links(this.path, id, data.data, parents)
        });
        if let (Ok(_), Some(range)) = (&result, keep) {
            // The object database decodes into `buf`; keep the bytes only when they are there.
            let base = buf.as_ptr() as usize;
            let start = (range.start as usize).checked_sub(base);
            let end = (range.end as usize).checked_sub(base);
            if let (Some(start), Some(end)) = (start, end)
                && start <= end
                && end <= buf.len()
            {
                let mut bytes = self.spare.pop().unwrap_or_default();
                bytes.clear();
                bytes.extend_from_slice(&buf[start..end]);
                self.fresh.insert(id.to_owned(), bytes);
            }
        }
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
    ///
    /// Parents and dates come from [`Reader::time_and_parents`] (commit-graph, else the
    /// shared commit index), so the commits one merge's walk shares with another's are
    /// decoded once; the walk's own tables are reused from call to call.
    fn merged_ids(&mut self, first: ObjectId, others: &[ObjectId]) -> Result<Vec<ObjectId>, GitError> {
        self.forget_fresh();
        let mut walk = std::mem::take(&mut self.merge_walk);
        walk.clear();
        let result = walk.run(self, first, others);
        self.merge_walk = walk;
        result
    }

    /// What each merge of a first-parent chain brings in, for all merges together in one
    /// pass over the commit graph, instead of one `limit_list` walk per merge
    /// ([`Reader::topic`]). `chain` is the first-parent chain, newest first, ending at a root
    /// commit. Walking it oldest first, the pass keeps the set of commits reachable from the
    /// current mainline commit; what a merge brings in is then exactly the ancestors of its
    /// other parents not yet in the set, which is what `git rev-list P1..M` is defined to
    /// list. Each commit is visited once in the whole pass, and each topic commit decoded
    /// once. A topic is ordered as git's date walk lists it (newest committer date first,
    /// equal dates in the order they were queued), then oldest first as [`Topic`] keeps it.
    ///
    /// Topics are returned for the merges in `wanted`; the commits other merges bring in
    /// are only walked (parents and dates, from the commit-graph or the commit index).
    ///
    /// Under clock skew git's walk can stop before its hidden mark reaches an old commit the
    /// first parent already had, and list that commit as brought in; this pass never does.
    /// On rust-lang/cargo and git/git every merge's set and order agree with `limit_list`
    /// (BENCHMARKS.md, "Merge walk").
    pub fn topics_in_one_pass(
        &mut self,
        chain: &[ObjectId],
        wanted: &gix::hashtable::HashSet<ObjectId>,
    ) -> Result<gix::hashtable::HashMap<ObjectId, Topic>, GitError> {
        let mut out: gix::hashtable::HashMap<ObjectId, Topic> = Default::default();
        let spare = std::cell::RefCell::new(Vec::new());
        self.merge_sets_in_one_pass(
            chain,
            wanted,
            || spare.borrow_mut().pop(),
            |reader, set| {
                let merge = set.merge;
                let (topic, bytes) = reader.topic_of(set)?;
                out.insert(merge, topic);
                spare.borrow_mut().extend(bytes);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The graph half of [`Reader::topics_in_one_pass`]: hands each wanted merge's commits
    /// (oldest first, as raw commit objects) to `sink`, in chain order, oldest merge first.
    /// [`Reader::topic_of`] makes the topic; the two halves can run on two threads. `spare`
    /// gives back a buffer a finished [`MergeSet`] had, when there is one.
    pub fn merge_sets_in_one_pass(
        &mut self,
        chain: &[ObjectId],
        wanted: &gix::hashtable::HashSet<ObjectId>,
        mut spare: impl FnMut() -> Option<Vec<u8>>,
        mut sink: impl FnMut(&mut Self, MergeSet) -> Result<(), GitError>,
    ) -> Result<(), GitError> {
        /// A commit one merge brings in: its parents are a range of `all_parents`, its raw
        /// object (for a wanted merge) a range of the set's buffer.
        struct Node {
            id: ObjectId,
            time: i64,
            parents: std::ops::Range<usize>,
            raw: std::ops::Range<usize>,
        }
        let mut reach: gix::hashtable::HashSet<ObjectId> = Default::default();
        let mut parents = Vec::new();
        let mut slots: gix::hashtable::HashMap<ObjectId, usize> = Default::default();
        let mut nodes: Vec<Node> = Vec::new();
        let mut all_parents: Vec<ObjectId> = Vec::new();
        let mut stack: Vec<ObjectId> = Vec::new();
        let mut queued: Vec<bool> = Vec::new();
        let mut queue = std::collections::BinaryHeap::new();
        let mut buf = Vec::new();
        for (i, &commit) in chain.iter().rev().enumerate() {
            self.time_and_parents(&commit, &mut parents)?;
            self.forget_fresh();
            if i == 0 && !parents.is_empty() {
                return Err(self.git(
                    format!("finding what the merges down to {commit} bring in"),
                    "the first-parent chain does not end at a root commit",
                ));
            }
            if parents.len() > 1 {
                let want = wanted.contains(&commit);
                slots.clear();
                nodes.clear();
                all_parents.clear();
                stack.clear();
                let mut bytes = match want {
                    true => spare().unwrap_or_default(),
                    false => Vec::new(),
                };
                bytes.clear();
                stack.extend(parents[1..].iter().rev().filter(|p| !reach.contains(*p)));
                let mut node_parents = Vec::new();
                while let Some(id) = stack.pop() {
                    if reach.contains(&id) || slots.contains_key(&id) {
                        continue;
                    }
                    let (time, raw) = if want {
                        // The whole object, for `topic_of`; parents and date read here.
                        let data = self.load(&id, &mut buf, "a merged commit")?;
                        if data.kind != gix::object::Kind::Commit {
                            return Err(self.corrupt_commit(&id, &format!("it is a {}", data.kind)));
                        }
                        let at = bytes.len();
                        bytes.extend_from_slice(data.data);
                        (commit_links(self.path, &id, &bytes[at..], &mut node_parents)?, at..bytes.len())
                    } else {
                        let time = self.time_and_parents(&id, &mut node_parents)?;
                        self.forget_fresh();
                        (time, 0..0)
                    };
                    let start = all_parents.len();
                    all_parents.extend_from_slice(&node_parents);
                    let node = Node { id, time, parents: start..all_parents.len(), raw };
                    stack.extend(all_parents[node.parents.clone()].iter().rev().filter(|p| !reach.contains(*p)));
                    slots.insert(id, nodes.len());
                    nodes.push(node);
                }
                reach.extend(nodes.iter().map(|n| n.id));
                if want {
                    // git's date walk, restricted to the topic: every topic commit is reached
                    // from a tip through topic commits only.
                    queued.clear();
                    queued.resize(nodes.len(), false);
                    let mut seq = 0u64;
                    let mut order = Vec::with_capacity(nodes.len());
                    let mut push = |n: usize, queue: &mut std::collections::BinaryHeap<_>, queued: &mut Vec<bool>| {
                        if !queued[n] {
                            queued[n] = true;
                            queue.push((nodes[n].time, std::cmp::Reverse(seq), n));
                            seq += 1;
                        }
                    };
                    for tip in &parents[1..] {
                        if let Some(&n) = slots.get(tip) {
                            push(n, &mut queue, &mut queued);
                        }
                    }
                    while let Some((_, _, n)) = queue.pop() {
                        order.push(n);
                        for p in &all_parents[nodes[n].parents.clone()] {
                            if let Some(&m) = slots.get(p) {
                                push(m, &mut queue, &mut queued);
                            }
                        }
                    }
                    let members = order.iter().rev().map(|&n| (nodes[n].id, nodes[n].raw.clone())).collect();
                    sink(self, MergeSet { merge: commit, tips: parents[1..].to_vec(), members, bytes })?;
                }
            }
            reach.insert(commit);
        }
        Ok(())
    }

    /// The topic of one merge from its commits ([`Reader::merge_sets_in_one_pass`]), and
    /// the set's buffer to reuse (unless it grew large).
    pub fn topic_of(&mut self, set: MergeSet) -> Result<(Topic, Option<Vec<u8>>), GitError> {
        let mut members = Vec::with_capacity(set.members.len());
        let record = self.index.keeps_graph();
        for (id, raw) in set.members {
            let (facts, parents, tree) = self.parse_commit(&id, &set.bytes[raw], false)?;
            if record {
                self.index.insert(id, facts.commit_time, &parents);
            }
            members.push((id, facts, parents, tree));
        }
        let topic = self.assemble_topic(members, &set.tips)?;
        Ok((topic, (set.bytes.capacity() <= KEEP_SET_BYTES).then_some(set.bytes)))
    }

    /// Tree diff `old` → `new`, raw: every changed path with its blob ids.
    fn diff_raw(&mut self, old: Option<ObjectId>, new: ObjectId) -> Result<Vec<Changed>, GitError> {
        let state = std::mem::take(&mut self.trees);
        let source = self.source();
        let mut diff = TreeDiff::new(&source, new.kind(), state);
        let result = diff.diff_ids(old, new);
        let (out, state) = diff.finish();
        self.trees = state;
        result.map(|()| out)
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

/// The tables of one `limit_list` walk ([`Reader::merged_ids`]), kept between calls so that
/// a walk allocates nothing once they have grown. Each commit met gets a slot number once;
/// from there on, flags and parents are plain vector indexing, as git's commit structs are.
#[derive(Default)]
struct MergeWalk {
    slots: gix::hashtable::HashMap<ObjectId, u32>,
    ids: Vec<ObjectId>,
    nodes: Vec<WalkNode>,
    /// The parents (slots) of every node read, `WalkNode::parents` indexing into it.
    arena: Vec<u32>,
    /// Newest first; equal dates in the order they were queued, as git does.
    queue: std::collections::BinaryHeap<(i64, std::cmp::Reverse<u64>, u32)>,
    stack: Vec<u32>,
    parents: Vec<ObjectId>,
}

#[derive(Default, Clone, Copy)]
struct WalkNode {
    flags: u8,
    /// `start..end` in `MergeWalk::arena`; known once the commit has been read.
    parents: (u32, u32),
}

impl MergeWalk {
    const SEEN: u8 = 1;
    const HIDDEN: u8 = 2;
    const QUEUED: u8 = 4;
    const SLOP: u32 = 5;

    fn clear(&mut self) {
        self.slots.clear();
        self.ids.clear();
        self.nodes.clear();
        self.arena.clear();
        self.queue.clear();
        self.stack.clear();
    }

    /// The slot of `id`, new and empty the first time.
    fn slot(&mut self, id: ObjectId) -> u32 {
        let next = self.ids.len() as u32;
        let slot = *self.slots.entry(id).or_insert(next);
        if slot == next {
            self.ids.push(id);
            self.nodes.push(WalkNode::default());
        }
        slot
    }

    fn parents_of(&self, n: u32) -> std::ops::Range<usize> {
        let (start, end) = self.nodes[n as usize].parents;
        start as usize..end as usize
    }

    /// Hide the commits on `self.stack` and every known ancestor; `visible_queued` counts
    /// queued commits that are not hidden.
    fn hide(&mut self, visible_queued: &mut usize) {
        while let Some(n) = self.stack.pop() {
            let node = &mut self.nodes[n as usize];
            if node.flags & Self::HIDDEN != 0 {
                continue;
            }
            node.flags |= Self::HIDDEN;
            if node.flags & Self::QUEUED != 0 {
                *visible_queued = visible_queued.saturating_sub(1);
            }
            let range = self.parents_of(n);
            self.stack.extend_from_slice(&self.arena[range]);
        }
    }

    /// Read commit `n` (parents and date) and mark it seen and queued; returns its flags as
    /// they were before (a hidden mark may already be there).
    fn read(&mut self, reader: &mut Reader<'_>, n: u32, seq: &mut u64) -> Result<u8, GitError> {
        let id = self.ids[n as usize];
        let time = reader.time_and_parents(&id, &mut self.parents)?;
        let start = self.arena.len() as u32;
        let parents = std::mem::take(&mut self.parents);
        for p in &parents {
            let slot = self.slot(*p);
            self.arena.push(slot);
        }
        self.parents = parents;
        let node = &mut self.nodes[n as usize];
        node.parents = (start, self.arena.len() as u32);
        let before = node.flags;
        node.flags |= Self::SEEN | Self::QUEUED;
        self.queue.push((time, std::cmp::Reverse(*seq), n));
        *seq += 1;
        Ok(before)
    }

    fn run(
        &mut self,
        reader: &mut Reader<'_>,
        first: ObjectId,
        others: &[ObjectId],
    ) -> Result<Vec<ObjectId>, GitError> {
        let mut seq = 0u64;
        let mut visible_queued = 0usize;

        for (id, hidden) in std::iter::once((first, true)).chain(others.iter().map(|o| (*o, false))) {
            let n = self.slot(id);
            if self.nodes[n as usize].flags & Self::SEEN != 0 {
                continue;
            }
            let before = self.read(reader, n, &mut seq)?;
            if hidden {
                self.nodes[n as usize].flags |= Self::HIDDEN;
            } else if before & Self::HIDDEN == 0 {
                visible_queued += 1;
            }
        }

        let mut order = Vec::new();
        let mut oldest_visible = i64::MAX;
        let mut slop = Self::SLOP;
        while let Some((time, _, n)) = self.queue.pop() {
            let node = &mut self.nodes[n as usize];
            node.flags &= !Self::QUEUED;
            let hidden = node.flags & Self::HIDDEN != 0;
            let range = self.parents_of(n);
            if !hidden {
                visible_queued = visible_queued.saturating_sub(1);
            } else {
                self.stack.extend_from_slice(&self.arena[range.clone()]);
                self.hide(&mut visible_queued);
            }
            for i in range {
                let parent = self.arena[i];
                if self.nodes[parent as usize].flags & Self::SEEN != 0 {
                    continue;
                }
                let before = self.read(reader, parent, &mut seq)?;
                if before & Self::HIDDEN == 0 {
                    visible_queued += 1;
                } else {
                    let grandparents = self.parents_of(parent);
                    self.stack.extend_from_slice(&self.arena[grandparents]);
                    self.hide(&mut visible_queued);
                }
            }
            if hidden {
                // git's `still_interesting`.
                slop = match self.queue.peek() {
                    None => 0,
                    Some(&(newest, _, _)) if oldest_visible <= newest => Self::SLOP,
                    Some(_) if visible_queued > 0 => Self::SLOP,
                    Some(_) => slop - 1,
                };
                if slop == 0 {
                    break;
                }
                continue;
            }
            oldest_visible = time;
            order.push(n);
        }
        Ok(order
            .into_iter()
            .filter(|&n| self.nodes[n as usize].flags & Self::HIDDEN == 0)
            .map(|n| self.ids[n as usize])
            .collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Run `git` in `dir` with a fixed identity, and author and committer dates `t` minutes
    /// after a fixed instant.
    pub(crate) fn git(dir: &Path, args: &[&str], t: u64) -> String {
        let date = format!("{} +0000", 1_700_000_000 + t * 60);
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "C")
            .env("GIT_COMMITTER_EMAIL", "c@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Many merges of topics forked at the first commit: each merge's walk goes down the
    /// whole mainline, which used to be decoded again for every merge. Through one reader
    /// (and so one index), no commit is decoded twice for the walks, and every answer is
    /// still `git rev-list P1..M`.
    #[test]
    fn merge_walks_decode_each_commit_at_most_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let mut t = 0;
        let mut tick = || {
            t += 1;
            t
        };
        git(d, &["init", "-q", "-b", "main"], tick());
        git(d, &["commit", "-q", "--allow-empty", "-m", "root"], tick());
        for i in 0..8 {
            git(d, &["branch", &format!("t{i}"), "main~0"], tick());
        }
        for i in 0..8 {
            git(d, &["checkout", "-q", &format!("t{i}")], tick());
            git(d, &["commit", "-q", "--allow-empty", "-m", &format!("t{i}")], tick());
            git(d, &["checkout", "-q", "main"], tick());
            git(d, &["commit", "-q", "--allow-empty", "-m", &format!("m{i}")], tick());
            git(d, &["merge", "-q", "--no-ff", "-m", &format!("merge t{i}"), &format!("t{i}")], tick());
        }
        let all: usize = git(d, &["rev-list", "--count", "--all"], 0).trim().parse().expect("count");
        let repo = gix::open(d).expect("open");
        let mut reader = Reader::new(&repo, d, false, None, &[]);
        assert!(reader.graph.is_none());
        let mut merges = 0;
        for line in git(d, &["rev-list", "--first-parent", "--parents", "main"], 0).lines() {
            let ids: Vec<ObjectId> = line.split(' ').map(|s| ObjectId::from_hex(s.as_bytes()).expect("id")).collect();
            if ids.len() < 3 {
                continue;
            }
            merges += 1;
            let got = reader.merged_ids(ids[1], &ids[2..]).expect("walk");
            let want: Vec<ObjectId> = git(d, &["rev-list", &format!("{}..{}", ids[1], ids[2])], 0)
                .lines()
                .map(|s| ObjectId::from_hex(s.as_bytes()).expect("id"))
                .collect();
            assert_eq!(got, want, "merge {}", ids[0]);
        }
        assert_eq!(merges, 8);
        let decoded = reader.index.decoded() as usize;
        assert!(decoded <= all, "{decoded} decodes for {all} commits");
        // A reader per merge (nothing shared, as before the index) reads the mainline
        // again for every merge.
        let mut unshared = 0;
        for line in git(d, &["rev-list", "--first-parent", "--merges", "--parents", "main"], 0).lines() {
            let ids: Vec<ObjectId> = line.split(' ').map(|s| ObjectId::from_hex(s.as_bytes()).expect("id")).collect();
            let mut fresh = Reader::new(&repo, d, false, None, &[]);
            fresh.merged_ids(ids[1], &ids[2..]).expect("walk");
            unshared += fresh.index.decoded() as usize;
        }
        assert!(unshared > 2 * all, "{unshared} decodes unshared, {all} commits");
    }

    fn ids(text: &str) -> Vec<ObjectId> {
        text.split_whitespace().map(|s| ObjectId::from_hex(s.as_bytes()).expect("id")).collect()
    }

    /// The one pass over the commit graph gives every merge the exact set `git rev-list
    /// P1..M` is defined as (ancestors of M, not of P1, without M), in the order of git's
    /// date walk, and the same topic (commits, topic line, stale reviews) as the walk per
    /// merge; on a history with skewed clocks too, where only the exact set is promised.
    #[test]
    fn one_pass_topics_are_the_exact_sets_in_git_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let commit = |msg: &str, t: u64| {
            let name = msg.split('\n').next().expect("subject");
            std::fs::write(d.join(format!("{name}.txt")), msg).expect("write");
            git(d, &["add", "-A"], t);
            git(d, &["commit", "-q", "-m", msg], t);
        };
        git(d, &["init", "-q", "-b", "main"], 1);
        commit("root", 1);
        // A long-lived topic forked at the root, merged twice; a topic forked from it.
        git(d, &["checkout", "-q", "-b", "old"], 2);
        commit("old1", 2);
        git(d, &["checkout", "-q", "-b", "fork"], 3);
        commit("fork1\n\nReviewed-by: R <r@example.com>", 3);
        git(d, &["checkout", "-q", "old"], 4);
        commit("old2\n\nAcked-by: R <r@example.com>", 4);
        git(d, &["checkout", "-q", "main"], 5);
        for i in 0..6u64 {
            commit(&format!("main{i}"), 10 + i);
        }
        git(d, &["merge", "-q", "--no-ff", "-m", "merge old", "old"], 20);
        // Skew: a topic whose commits are dated before the mainline they fork from.
        git(d, &["checkout", "-q", "-b", "skew", "main~3"], 21);
        commit("skew1", 6);
        commit("skew2", 7);
        git(d, &["checkout", "-q", "old"], 22);
        commit("old3", 22);
        git(d, &["checkout", "-q", "main"], 23);
        commit("main6", 23);
        git(d, &["merge", "-q", "--no-ff", "-m", "merge skew", "skew"], 24);
        git(d, &["merge", "-q", "--no-ff", "-m", "octopus", "old", "fork"], 25);
        // Equal dates on both sides.
        git(d, &["checkout", "-q", "-b", "same", "main"], 30);
        commit("same1", 30);
        git(d, &["merge", "-q", "--no-ff", "-m", "main into same", "main"], 30);
        commit("same2", 30);
        git(d, &["checkout", "-q", "main"], 30);
        commit("main7", 30);
        git(d, &["merge", "-q", "--no-ff", "-m", "merge same", "same"], 30);

        let repo = gix::open(d).expect("open");
        let keys = ["acked-by".to_string(), "reviewed-by".to_string()];
        let chain = ids(&git(d, &["rev-list", "--first-parent", "main"], 0));
        let wanted: gix::hashtable::HashSet<ObjectId> = chain.iter().copied().collect();
        let mut pass = Reader::new(&repo, d, false, None, &keys);
        let topics = pass.topics_in_one_pass(&chain, &wanted).expect("one pass");
        let mut per_merge = Reader::new(&repo, d, false, None, &keys);
        let (mut merges, mut same_as_git) = (0, 0);
        for line in git(d, &["rev-list", "--first-parent", "--merges", "--parents", "main"], 0).lines() {
            let line = ids(line);
            let (m, p1, tips) = (line[0], line[1], &line[2..]);
            merges += 1;
            let topic = topics.get(&m).unwrap_or_else(|| panic!("no topic for {m}"));
            let got: Vec<String> = topic.commits.iter().map(|c| c.id.clone()).collect();
            let merge = m.to_string();
            let mut exact: Vec<String> = git(d, &["rev-list", &format!("^{p1}"), &merge], 0)
                .lines()
                .filter(|id| *id != merge)
                .map(str::to_string)
                .collect();
            let mut got_set = got.clone();
            got_set.sort();
            exact.sort();
            assert_eq!(got_set, exact, "merge {m}: the exact set");
            let walked = per_merge.topic(p1, tips, false).expect("walk");
            let walked_ids: Vec<String> = walked.commits.iter().map(|c| c.id.clone()).collect();
            if walked_ids.len() == got.len() {
                same_as_git += 1;
                assert_eq!(got, walked_ids, "merge {m}: git's order");
                assert_eq!(topic.topic_line, walked.topic_line, "merge {m}: the topic line");
                assert_eq!(topic.stale_reviews, walked.stale_reviews, "merge {m}: stale reviews");
            }
        }
        assert_eq!(merges, 4);
        assert!(same_as_git >= 3, "{same_as_git} of {merges} merges compared with git's walk");
        assert!(topics.values().any(|t| !t.stale_reviews.is_empty()), "a stale review is found");
    }
}
