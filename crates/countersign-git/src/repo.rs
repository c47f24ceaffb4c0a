//! The repository handle and the first-parent walk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use countersign_engine::change::{Change, ChangeKind};
use gix::ObjectId;
use jiff::Timestamp;

use crate::GitError;
use crate::build::{People, TrailerRules, change_from_facts, evidence_from_commit, topic_author};
use crate::facts::{self, CacheState, ChangeFacts};
use crate::feed::Feed;
use crate::graph::{self, StoredGraph};
use crate::index::CommitIndex;
use crate::packs::Packs;
use crate::read::{PathMatch, Reader};

/// Decides whether a path's added lines are collected.
pub type PathMatcher = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What to walk and how.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Branch to audit (`main` or `refs/heads/main`); `None` is the branch HEAD points at
    /// (or the detached HEAD commit).
    pub branch: Option<String>,
    /// `A..B`: the first-parent commits of `B` down to, not including, `A` or the merge base
    /// of `A` and `B`. Overrides `branch` as the tip. An empty side means `HEAD`.
    pub range: Option<String>,
    /// Only commits whose committer time is at or after this.
    pub since: Option<Timestamp>,
    /// Only commits whose committer time is at or before this.
    pub until: Option<Timestamp>,
    /// Read and update the per-commit facts cache (`--no-cache` turns it off).
    pub use_cache: bool,
    /// Worker threads for reading and diffing; `None` means one per available core.
    pub threads: Option<usize>,
    /// What to read of each change: added lines, review trailers.
    pub read: ReadOptions,
    /// Stop the first-parent walk before this commit (a full id): only the changes made
    /// on the branch since a previous walk ended there. [`Walk::reached_after`] says
    /// whether the walk met it; when it did not (the branch was rewritten), the walk went
    /// on to the root. Ignored with `range`.
    pub after: Option<String>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            branch: None,
            range: None,
            since: None,
            until: None,
            use_cache: true,
            threads: None,
            read: ReadOptions::default(),
            after: None,
        }
    }
}

/// What to read of each change, for the history walk ([`WalkOptions::read`]) and for a
/// pull request ([`Repository::pr_change_with`]) alike.
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// Patterns of files whose added lines are wanted; blob diffs are only done for these
    /// files. Glob syntax with gitignore-like anchoring: `*.sql` matches at any depth, `/x`
    /// or `a/b` only from the root, `dir/` everything below `dir`; `*` stays within one
    /// directory, `**` crosses directories. The patterns are also the cache key for added
    /// lines, so pass them even when `added_lines_matcher` decides.
    pub added_lines_for: Vec<String>,
    /// A matcher that replaces the `added_lines_for` globs (for callers with their own
    /// pattern language, e.g. the policy's path sets). Called with the `/`-separated path.
    pub added_lines_matcher: Option<PathMatcher>,
    /// Trailer keys that count as a review approval, compared without regard to case (the
    /// policy's `[evidence] review-trailers`). `Acked-by` also gives an acknowledgment
    /// whether it is listed or not. `None`: `Reviewed-by` and `Approved-by`.
    pub review_trailers: Option<Vec<String>>,
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("added_lines_for", &self.added_lines_for)
            .field("added_lines_matcher", &self.added_lines_matcher.as_ref().map(|_| "<fn>"))
            .field("review_trailers", &self.review_trailers)
            .finish()
    }
}

/// Where the walk is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressPhase {
    /// Following first parents from the tip; `total` is unknown (0).
    Walking,
    /// Reading and diffing commits that were not in the cache.
    Reading,
    /// Writing the facts cache.
    WritingCache,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub phase: ProgressPhase,
    pub done: usize,
    pub total: usize,
}

/// Counters about one walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkStats {
    /// First-parent commits visited (including those outside the date window).
    pub first_parent_commits: usize,
    /// Commits inside the date window: the number of changes.
    pub in_window: usize,
    /// Changes whose facts came from the cache.
    pub from_cache: usize,
    /// Changes read and diffed from the object database in this walk.
    pub read: usize,
    pub cache: CacheState,
    /// A cache write failed (the walk still succeeded); the reason.
    pub cache_write_error: Option<String>,
    /// The commit-graph file was used to follow parents.
    pub used_commit_graph: bool,
    /// What the merges read in this walk bring in came from one pass over the commit graph
    /// (a walk of the whole history), not from one walk per merge.
    pub merges_in_one_pass: bool,
    /// Commit objects decoded only for their parents and date (the merges' walks), because
    /// neither git's commit-graph nor the graph kept by earlier audits had them.
    pub decoded_for_parents: u64,
    /// Commits added to the graph kept beside the facts cache (repositories without a
    /// commit-graph, when the cache is on).
    pub graph_added: usize,
}

/// How many first-parent commits a walk with [`WalkOptions::after`] reads without the facts
/// cache before it loads the cache after all.
const SHORT_AFTER: usize = 256;

/// The result of [`Repository::changes`].
#[derive(Debug, Clone)]
pub struct Walk {
    /// One change per first-parent commit in the window, newest first (as `git log`).
    pub changes: Vec<Change>,
    /// The branch walked (short name), when there is one.
    pub branch: Option<String>,
    /// The commit the walk started at.
    pub tip: Option<String>,
    /// Set when there are no changes, saying why (for the CLI to print).
    pub empty_reason: Option<String>,
    pub stats: WalkStats,
    /// With [`WalkOptions::after`]: the walk stopped there (the commit is on the branch's
    /// first-parent chain). Always false without it.
    pub reached_after: bool,
}

impl Walk {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A git repository opened for auditing.
pub struct Repository {
    repo: gix::Repository,
    path: PathBuf,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("path", &self.path).finish()
    }
}

/// How many commits newer than the kept graph [`Repository::is_ancestor`] reads from the
/// object database before it leaves the question to gix.
const REACH_DECODE_LIMIT: usize = 4096;

/// How many commits the first-parent walk finds before it hands them to the readers.
const FEED_EVERY: usize = 256;

/// The run length of readers that start before the first-parent walk ends (the chain's
/// length is not known yet): long enough to keep a delta-base cache warm.
const STREAMED_RUN: usize = 2048;

/// The delta-base cache's cap per reading thread (see [`tune_caches`]).
const DELTA_BASE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The budget of one reading thread's cache of delta bases read from the packs
/// (`packs::PackReader`, which keeps every base of a chain as git does):
/// `core.deltaBaseCacheLimit`, else 8 MiB. Measured on git/git with 4, 8, 16 and 48 MiB:
/// no clear difference in time, and peak memory 468, 474–479, 504–508 and 623–627 MB
/// (BENCHMARKS.md, "One pass over the graph, and delta bases").
fn delta_cache_bytes(repo: &gix::Repository) -> usize {
    repo.config_snapshot()
        .integer("core.deltaBaseCacheLimit")
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(8 * 1024 * 1024)
}

/// gix's own delta-base cache, for the objects the walk reads through gix (loose objects,
/// alternates; pack objects go through `packs::PackReader`). No general object cache (see
/// `read::RepoSource`). `core.deltaBaseCacheLimit` from git config still wins when set.
/// 16 MiB per reading thread: measured against 256 MiB when gix read every object, the full
/// audit was as fast or faster on all four benchmark repositories and its peak memory on
/// git/git fell from about 1,030 MB to about 530 MB (BENCHMARKS.md, "Peak memory").
fn tune_caches(repo: &mut gix::Repository) {
    let configured = repo.config_snapshot().integer("core.deltaBaseCacheLimit").is_some();
    if !configured {
        // A cap, not an allocation: it only fills with delta bases actually decoded.
        repo.objects
            .set_pack_cache(|| Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(DELTA_BASE_CACHE_BYTES)));
    }
}

/// Anchor a pattern the way `.gitignore` and CODEOWNERS do: no `/` (or only a trailing
/// one) matches at any depth, a leading `/` anchors at the root, a trailing `/` means
/// everything below.
fn gitignore_like(pattern: &str) -> String {
    let (body, dir) = match pattern.strip_suffix('/') {
        Some(b) => (b, true),
        None => (pattern, false),
    };
    let mut out = if let Some(rooted) = body.strip_prefix('/') {
        rooted.to_string()
    } else if body.contains('/') || body.starts_with("**") {
        body.to_string()
    } else {
        format!("**/{body}")
    };
    if dir {
        out.push_str("/**");
    }
    out
}

/// One commit on the first-parent chain.
struct ChainCommit {
    id: ObjectId,
    time: i64,
    /// The commit is on the shallow boundary: its parents are not in the repository.
    shallow_boundary: bool,
}

impl Repository {
    /// Open the repository at `path` or the one containing it. Bare repositories are fine.
    pub fn open(path: impl AsRef<Path>) -> Result<Repository, GitError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(GitError::NotARepository { path, message: "no such directory".into() });
        }
        let mut repo = gix::discover(&path)
            .map_err(|e| GitError::NotARepository { path: path.clone(), message: e.to_string() })?;
        tune_caches(&mut repo);
        Ok(Repository { repo, path })
    }

    /// The path the repository was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The git directory (`.git` or the bare repository itself).
    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// Is this a shallow clone?
    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow().unwrap_or(false)
    }

    /// Where the facts cache lives.
    pub fn cache_file(&self) -> PathBuf {
        facts::cache_path(self.repo.common_dir())
    }

    /// A configuration value as git's configuration files give it (`git config --get
    /// KEY`), without running git.
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.repo.config_snapshot().string(key).map(|v| v.to_string())
    }

    /// What the walk's `.mailmap` maps (the file, a blob or a config path, as git finds
    /// them), as a fingerprint: two walks with the same one name people alike.
    pub fn mailmap_fingerprint(&self) -> u64 {
        let entries = format!("{:?}", self.repo.open_mailmap().entries());
        facts::checksum(entries.as_bytes())
    }

    fn git(&self, context: impl Into<String>, e: impl std::fmt::Display) -> GitError {
        GitError::Git { path: self.path.clone(), context: context.into(), message: e.to_string() }
    }

    /// Resolve a revision to a commit id.
    pub fn resolve(&self, spec: &str) -> Result<String, GitError> {
        self.resolve_commit(spec).map(|id| id.to_string())
    }

    fn resolve_commit(&self, spec: &str) -> Result<ObjectId, GitError> {
        let revision_err = |e: &dyn std::fmt::Display| GitError::Revision {
            path: self.path.clone(),
            spec: spec.to_string(),
            message: e.to_string(),
        };
        let id = self.repo.rev_parse_single(spec).map_err(|e| revision_err(&e))?;
        let object = id.object().map_err(|e| revision_err(&e))?;
        let commit = object.peel_to_kind(gix::object::Kind::Commit).map_err(|e| revision_err(&e))?;
        Ok(commit.id)
    }

    /// The tip of the walk and the branch name.
    fn tip(&self, opts: &WalkOptions) -> Result<(ObjectId, Option<String>), GitError> {
        if let Some(branch) = &opts.branch {
            let short = branch.strip_prefix("refs/heads/").unwrap_or(branch);
            for candidate in [format!("refs/heads/{short}"), branch.clone(), format!("refs/remotes/origin/{short}")] {
                if let Ok(Some(mut r)) = self.repo.try_find_reference(candidate.as_str()) {
                    let id = r.peel_to_id().map_err(|e| self.git(format!("peeling {candidate}"), e))?;
                    return Ok((id.detach(), Some(short.to_string())));
                }
            }
            return Ok((self.resolve_commit(branch)?, Some(short.to_string())));
        }
        let head = self.repo.head().map_err(|e| self.git("reading HEAD", e))?;
        let name = head.referent_name().map(|n| n.shorten().to_string());
        match head.id() {
            Some(id) => {
                let id = self.resolve_commit(&id.to_string())?;
                Ok((id, name))
            }
            None => {
                Err(GitError::UnbornHead { path: self.path.clone(), branch: name.unwrap_or_else(|| "HEAD".into()) })
            }
        }
    }

    fn parse_range(&self, spec: &str) -> Result<(ObjectId, ObjectId), GitError> {
        let Some((a, b)) = spec.split_once("..") else {
            return Err(GitError::BadRange { path: self.path.clone(), spec: spec.to_string() });
        };
        if b.starts_with('.') {
            return Err(GitError::BadRange { path: self.path.clone(), spec: spec.to_string() });
        }
        let a = if a.is_empty() { "HEAD" } else { a };
        let b = if b.is_empty() { "HEAD" } else { b };
        Ok((self.resolve_commit(a)?, self.resolve_commit(b)?))
    }

    /// Follow first parents from `tip`, stopping before any of `stop` or after `limit`
    /// commits: the chain, whether the commit-graph was used, and whether the walk stopped
    /// at one of `stop`. The chain's ids also go to `feed`, as they are found.
    #[allow(clippy::too_many_arguments)]
    fn first_parent_chain(
        &self,
        tip: ObjectId,
        stop: &[ObjectId],
        limit: usize,
        cache: &facts::Cache,
        index: &CommitIndex,
        packs: &Packs,
        feed: Option<&Feed>,
        progress: &dyn Fn(crate::Progress),
    ) -> Result<(Vec<ChainCommit>, bool, bool), GitError> {
        let mut fed = 0;
        let mut pack_reader = crate::packs::PackReader::new(1 << 20);
        let graph = self.repo.commit_graph_if_enabled().ok().flatten();
        let shallow = self.repo.shallow_commits().map_err(|e| self.git("reading the shallow file", e))?;
        let mut chain = Vec::new();
        // The raw commits read for the chain not yet fed (empty where none was read): the
        // readers then need not find and inflate them again.
        let mut unfed_raw: Vec<Vec<u8>> = Vec::new();
        let mut raw_welcome = true;
        let mut buf = Vec::new();
        let mut parents = Vec::new();
        let mut next = Some(tip);
        let mut used_graph = false;
        let mut stopped = false;
        while let Some(id) = next.take() {
            if stop.contains(&id) {
                stopped = true;
                break;
            }
            if chain.len() >= limit {
                break;
            }
            let is_boundary = shallow.as_ref().is_some_and(|s| s.binary_search(&id).is_ok());
            // Cached commits need no object access at all; then the commit-graph; then the
            // commit object itself.
            let from_cache = cache.link(&id).map(|l| (l.time, l.first_parent));
            let from_graph = if from_cache.is_some() {
                None
            } else {
                graph.as_ref().and_then(|g| {
                    let pos = g.lookup(id)?;
                    let c = g.commit_at(pos);
                    let parent = c.iter_parents().next().and_then(Result::ok).map(|p| g.id_at(p).to_owned());
                    Some((c.committer_timestamp() as i64, parent))
                })
            };
            let (time, parent) = match from_cache.or(from_graph) {
                Some(found) => {
                    used_graph |= from_graph.is_some();
                    found
                }
                None => {
                    let (time, raw) = self.commit_links(
                        &mut pack_reader,
                        packs,
                        &id,
                        &mut buf,
                        &mut parents,
                        "the first-parent history",
                    )?;
                    if feed.is_some() && raw_welcome {
                        unfed_raw.resize_with(chain.len() - fed, Vec::new);
                        unfed_raw.push(raw.to_vec());
                    }
                    // The merges' walks visit the mainline too: remember it for them.
                    index.insert(id, time, &parents);
                    (time, parents.first().copied())
                }
            };
            chain.push(ChainCommit { id, time, shallow_boundary: is_boundary });
            if let Some(feed) = feed
                && chain.len() - fed >= FEED_EVERY
            {
                raw_welcome = feed.extend_raw(chain[fed..].iter().map(|c| c.id), unfed_raw.drain(..));
                fed = chain.len();
            }
            if chain.len() % 4096 == 0 {
                progress(crate::Progress { phase: ProgressPhase::Walking, done: chain.len(), total: 0 });
            }
            if !is_boundary {
                next = parent;
            }
        }
        if let Some(feed) = feed {
            let _ = feed.extend_raw(chain[fed..].iter().map(|c| c.id), unfed_raw.drain(..));
        }
        Ok((chain, used_graph, stopped))
    }

    /// The committer time of commit `id`, with its parents in `parents` (cleared first), read
    /// from the packs, else through gix; and the raw commit, which lies in `buf`.
    fn commit_links<'b>(
        &self,
        pack_reader: &mut crate::packs::PackReader,
        packs: &Packs,
        id: &gix::oid,
        buf: &'b mut Vec<u8>,
        parents: &mut Vec<ObjectId>,
        needed_for: &str,
    ) -> Result<(i64, &'b [u8]), GitError> {
        let from_pack = pack_reader.find(packs, id, buf).map_err(|e| self.git(format!("reading commit {id}"), e))?;
        let data = match from_pack {
            Some(kind) => Ok(Some(gix::objs::Data { kind, object_hash: id.kind(), data: buf })),
            None => gix::objs::Find::try_find(&self.repo, id, buf),
        };
        let data = match data {
            Ok(Some(d)) => d,
            Ok(None) if self.is_shallow() => {
                return Err(GitError::Shallow { path: self.path.clone(), commit: id.to_string() });
            }
            Ok(None) => {
                return Err(GitError::MissingObject {
                    path: self.path.clone(),
                    id: id.to_string(),
                    needed_for: needed_for.into(),
                });
            }
            Err(e) => return Err(self.git(format!("reading commit {id}"), e)),
        };
        let time = crate::read::commit_links(&self.path, id, data.data, parents)?;
        Ok((time, data.data))
    }

    /// Put every commit reachable from `tip` into `index` (reading those it lacks), so that
    /// the graph the walk keeps is whole. For a kept graph that is missing while the facts
    /// cache is not (a cache from before the graph existed, a deleted graph file): once, as
    /// the first audit's one pass would have. On git/git (82,000 commits) that re-audit took
    /// 1.0 s instead of 0.05 s, once.
    fn fill_graph(&self, tip: ObjectId, index: &CommitIndex, packs: &Packs) -> Result<(), GitError> {
        let mut pack_reader = crate::packs::PackReader::new(1 << 20);
        let mut seen: gix::hashtable::HashSet<ObjectId> = Default::default();
        let mut stack = vec![tip];
        let (mut parents, mut buf) = (Vec::new(), Vec::new());
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            if index.get(&id, &mut parents).is_none() {
                let time =
                    self.commit_links(&mut pack_reader, packs, &id, &mut buf, &mut parents, "the commit graph")?.0;
                index.insert(id, time, &parents);
            }
            stack.extend(parents.iter().filter(|p| !seen.contains(*p)));
        }
        Ok(())
    }

    /// Every first-parent commit of the branch (or range) in the date window, as a [`Change`].
    pub fn changes(&self, opts: &WalkOptions, progress: &dyn Fn(Progress)) -> Result<Walk, GitError> {
        let wanted = self.added_lines_matcher(&opts.read)?;
        let wanted: Option<&PathMatch> = wanted.as_deref().map(|m| m as &PathMatch);
        let (tip, stop, branch, range_text) = match &opts.range {
            Some(spec) => {
                let (a, b) = self.parse_range(spec)?;
                let mut stop = vec![a];
                if let Ok(bases) = self.repo.merge_bases_many(a, &[b]) {
                    stop.extend(bases.into_iter().map(|id| id.detach()));
                }
                (b, stop, opts.branch.clone(), Some(spec.clone()))
            }
            None => {
                let (tip, branch) = self.tip(opts)?;
                let after = match &opts.after {
                    Some(id) => vec![
                        ObjectId::from_hex(id.as_bytes())
                            .map_err(|e| self.git("reading the commit a walk stops after", e))?,
                    ],
                    None => Vec::new(),
                };
                (tip, after, branch, None)
            }
        };
        let rules = TrailerRules::new(opts.read.review_trailers.as_deref());
        let binding_keys = rules.binding_keys();
        let fingerprint = facts::fingerprint(&opts.read.added_lines_for, &binding_keys);
        let cache_path = self.cache_file();
        // Without git's commit-graph, the graph kept by earlier audits gives parents and
        // dates, and this walk adds what it meets (the first walk: every commit).
        let graph_path = graph::graph_path(self.repo.common_dir());
        let index = std::sync::Arc::new(match opts.use_cache && self.keeps_own_graph() {
            true => CommitIndex::keeping(StoredGraph::load(&graph_path)),
            false => CommitIndex::default(),
        });
        let packs = std::sync::Arc::new(Packs::open(&self.repo.common_dir().join("objects"), self.repo.object_hash()));
        // A walk that stops at `after` within a few commits reads them from the object
        // database: loading the facts cache of a long history would cost more than the
        // walk. Their facts are not added to the cache (the caller keeps its judgements).
        let short = match opts.after.is_some() && opts.range.is_none() {
            true => Some(self.first_parent_chain(
                tip,
                &stop,
                SHORT_AFTER,
                &facts::Cache::disabled(),
                &index,
                &packs,
                None,
                progress,
            )?)
            .filter(|(_, _, stopped)| *stopped),
            false => None,
        };
        let short_walk = short.is_some();
        let use_cache = opts.use_cache && !short_walk;
        let cache = if use_cache { facts::Cache::load(&cache_path, fingerprint) } else { facts::Cache::disabled() };
        let threads =
            opts.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
        // The whole history with nothing cached (the first audit, `--no-cache`): every
        // commit of the chain is read, so the readers start on it while the walk goes on,
        // and the merges' topics come from one pass over the graph.
        let streamed = short.is_none()
            && stop.is_empty()
            && opts.since.is_none()
            && opts.until.is_none()
            && cache.len() == 0
            && threads > 1
            && !self.is_shallow();
        let mut read_while_walking = None;
        let (chain, used_commit_graph, stopped) = match short {
            Some(walked) => walked,
            None if streamed => {
                let feed = Feed::new();
                let mut walked = None;
                let walk = || {
                    let (chain, used_graph, stopped) =
                        self.first_parent_chain(tip, &stop, usize::MAX, &cache, &index, &packs, Some(&feed), progress)?;
                    let ids = chain.iter().map(|c| c.id).collect();
                    walked = Some((chain, used_graph, stopped));
                    Ok(ids)
                };
                let read =
                    self.read_facts(&feed, true, walk, wanted, &binding_keys, &index, &packs, threads, progress)?;
                read_while_walking = Some(read);
                walked.ok_or_else(|| self.git("walking the first-parent chain", "the walk did not run"))?
            }
            None => self.first_parent_chain(tip, &stop, usize::MAX, &cache, &index, &packs, None, progress)?,
        };
        let reached_after = opts.range.is_none() && opts.after.is_some() && stopped;
        let since = opts.since.map(|t| t.as_second());
        let until = opts.until.map(|t| t.as_second());
        let selected: Vec<&ChainCommit> =
            chain.iter().filter(|c| since.is_none_or(|s| c.time >= s) && until.is_none_or(|u| c.time <= u)).collect();
        if let Some(boundary) = selected.iter().find(|c| c.shallow_boundary) {
            return Err(GitError::Shallow { path: self.path.clone(), commit: boundary.id.to_string() });
        }

        // Cached facts first; whatever is missing (or does not decode) is read afresh. With
        // nothing cached (the first audit, `--no-cache`), everything is.
        let cached: Vec<Option<ChangeFacts>> = match cache.len() {
            0 => Vec::new(),
            _ => selected.iter().map(|c| cache.get(&c.id)).collect(),
        };
        let todo: Vec<ObjectId> = match cached.is_empty() {
            true => selected.iter().map(|c| c.id).collect(),
            false => selected.iter().zip(&cached).filter(|(_, f)| f.is_none()).map(|(c, _)| c.id).collect(),
        };
        // Reading (nearly) the whole history from the root: what the merges bring in comes
        // from one pass over the commit graph, not one walk per merge.
        let whole_history = opts.range.is_none()
            && !short_walk
            && !stopped
            && !self.is_shallow()
            && chain.last().is_some_and(|c| !c.shallow_boundary);
        let one_pass = whole_history && todo.len() * 2 >= chain.len();
        let computed = match read_while_walking {
            Some(read) => read,
            None => {
                let feed = Feed::complete(todo.clone());
                let chain_ids = || Ok(if one_pass { chain.iter().map(|c| c.id).collect() } else { Vec::new() });
                self.read_facts(&feed, one_pass, chain_ids, wanted, &binding_keys, &index, &packs, threads, progress)?
            }
        };
        let read = computed.len();
        let from_cache = selected.len() - read;

        let mut cache_write_error = None;
        if use_cache && read > 0 {
            progress(Progress { phase: ProgressPhase::WritingCache, done: 0, total: cache.len() + read });
            if let Err(e) = cache.store(&cache_path, fingerprint, &todo, &computed) {
                cache_write_error = Some(format!("{}: {e}", cache_path.display()));
            }
        }
        let cache_state = cache.state;
        drop(cache);
        let mut graph_added = 0;
        if index.keeps_graph() {
            // The one pass met every commit; otherwise, with no graph kept yet, read them now.
            let filled = match one_pass || index.stored().has_base() {
                true => Ok(()),
                false => self.fill_graph(tip, &index, &packs),
            };
            match filled
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|()| index.stored().store(index.new_commits()))
            {
                Ok(added) => graph_added = added,
                Err(e) => {
                    let e = format!("{}: {e}", graph_path.display());
                    cache_write_error = Some(match cache_write_error.take() {
                        Some(facts) => format!("{facts}; {e}"),
                        None => e,
                    });
                }
            }
        }
        // Nothing more is read from git: unmap the packs (the mapped pages count in the
        // process's memory, a few hundred MB for a large history) before building changes.
        let decoded_for_parents = index.decoded();
        drop(index);
        drop(packs);
        // Every selected commit's facts, in order: the cached ones with the computed ones
        // in their gaps (each moved once; a history's facts are tens of MB).
        let facts = match cached.is_empty() {
            true => computed,
            false => {
                let mut computed = computed.into_iter();
                let mut all = Vec::with_capacity(selected.len());
                all.extend(cached.into_iter().map_while(|f| f.or_else(|| computed.next())));
                all
            }
        };
        if let Some(missing) = selected.get(facts.len()) {
            return Err(self.git("collecting facts", format!("no facts for {}", missing.id)));
        }
        let changes = build_changes(self.repo.open_mailmap(), &rules, facts, branch.as_deref(), threads);

        let empty_reason = changes.is_empty().then(|| {
            if let Some(spec) = &range_text {
                format!("the range {spec} contains no first-parent commits")
            } else if chain.is_empty() {
                "the branch has no commits".to_string()
            } else {
                format!(
                    "none of the {} first-parent commits of {} falls inside the date window",
                    chain.len(),
                    branch.as_deref().unwrap_or("HEAD")
                )
            }
        });
        Ok(Walk {
            changes,
            branch,
            tip: Some(tip.to_string()),
            empty_reason,
            stats: WalkStats {
                first_parent_commits: chain.len(),
                in_window: selected.len(),
                from_cache,
                read,
                cache: cache_state,
                cache_write_error,
                used_commit_graph,
                merges_in_one_pass: one_pass,
                decoded_for_parents,
                graph_added,
            },
            reached_after,
        })
    }

    /// The matcher for files whose added lines are read: the caller's, else one built from
    /// the globs, else none.
    fn added_lines_matcher(&self, read: &ReadOptions) -> Result<Option<PathMatcher>, GitError> {
        if let Some(matcher) = &read.added_lines_matcher {
            return Ok(Some(matcher.clone()));
        }
        Ok(self
            .glob_set(&read.added_lines_for)?
            .map(|set| -> PathMatcher { std::sync::Arc::new(move |path: &str| set.is_match(path)) }))
    }

    fn glob_set(&self, patterns: &[String]) -> Result<Option<globset::GlobSet>, GitError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut builder = globset::GlobSetBuilder::new();
        for p in patterns {
            let glob = globset::GlobBuilder::new(&gitignore_like(p)).literal_separator(true).build().map_err(|e| {
                GitError::BadPattern { path: self.path.clone(), pattern: p.clone(), message: e.to_string() }
            })?;
            builder.add(glob);
        }
        builder.build().map(Some).map_err(|e| GitError::BadPattern {
            path: self.path.clone(),
            pattern: patterns.join(", "),
            message: e.to_string(),
        })
    }

    /// Read the facts of the commits `feed` gives, on worker threads, each with its own
    /// object handle and cache. Work is handed out in contiguous runs of the first-parent
    /// chain, so that a parent's trees are still in the worker's object cache when the next
    /// commit needs them. `walk` runs on this thread once the workers have started: it
    /// finishes the feed if the feed is still growing, and gives the whole chain when
    /// `one_pass` says the merges' topics come from one pass over it. Returns the facts in
    /// the feed's order.
    #[allow(clippy::too_many_arguments)]
    fn read_facts(
        &self,
        feed: &Feed,
        one_pass: bool,
        walk: impl FnOnce() -> Result<Vec<ObjectId>, GitError>,
        glob: Option<&PathMatch>,
        binding_keys: &[String],
        index: &std::sync::Arc<CommitIndex>,
        packs: &std::sync::Arc<Packs>,
        threads: usize,
        progress: &dyn Fn(Progress),
    ) -> Result<Vec<ChangeFacts>, GitError> {
        let cache_bytes = delta_cache_bytes(&self.repo);
        // Long runs keep each worker's delta-base cache warm (a run starts by resolving delta
        // chains from scratch); four runs per thread still balance the load.
        const MIN_RUN: usize = 256;
        let (threads, run_len) = match feed.is_done() {
            true => {
                let n = feed.len();
                let threads = threads.clamp(1, n.div_ceil(MIN_RUN).max(1));
                (threads, (n / (threads * 4)).clamp(MIN_RUN, 8192))
            }
            false => (threads.max(1), STREAMED_RUN),
        };
        let shallow = self.is_shallow();
        if threads == 1 {
            let chain = walk();
            feed.finish();
            let chain = chain?;
            let ids = feed.ids();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut reader = Reader::new(&self.repo, &self.path, shallow, glob, binding_keys)
                .with_index(index.clone())
                .with_packs(packs.clone(), cache_bytes)
                .topics_elsewhere(one_pass);
            let topics = match one_pass {
                true => Some(reader.topics_in_one_pass(&chain, &ids.iter().copied().collect())?),
                false => None,
            };
            let mut out = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                out.push(reader.change_facts(id)?);
                if i % 256 == 255 {
                    progress(Progress { phase: ProgressPhase::Reading, done: i + 1, total: ids.len() });
                }
            }
            progress(Progress { phase: ProgressPhase::Reading, done: ids.len(), total: ids.len() });
            if let Some(topics) = topics {
                self.attach_topics(&mut out, &ids, topics)?;
            }
            return Ok(out);
        }

        let sync = self.repo.clone().into_sync();
        let next_run = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let mut parts: Vec<(usize, Vec<ChangeFacts>)> = Vec::new();
        let mut first_error: Option<(usize, GitError)> = None;
        let mut walk_error = None;
        let mut topics = None;
        // Every id the feed gave, once the walk has ended.
        let mut ids = Vec::new();
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(usize, Result<Vec<ChangeFacts>, GitError>)>();
            for _ in 0..threads {
                let tx = tx.clone();
                let sync = &sync;
                let next_run = &next_run;
                let failed = &failed;
                let path = &self.path;
                let packs = packs.clone();
                scope.spawn(move || {
                    let mut repo = sync.to_thread_local();
                    tune_caches(&mut repo);
                    let mut reader = Reader::new(&repo, path, shallow, glob, binding_keys)
                        .with_index(index.clone())
                        .with_packs(packs.clone(), cache_bytes)
                        .topics_elsewhere(one_pass);
                    while !failed.load(Ordering::Relaxed) {
                        // Waits while the walk has not found the whole run yet.
                        let Some(run) = feed.run(next_run.fetch_add(1, Ordering::Relaxed), run_len) else {
                            break;
                        };
                        let (start, ids) = (run.start, &run.ids);
                        reader.offer(ids, run.raw);
                        // Newest first within the run, like git: pack deltas are stored against
                        // newer versions, so the delta-base cache keeps hitting.
                        let result: Result<Vec<_>, _> = ids.iter().map(|id| reader.change_facts(id)).collect();
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        if tx.send((start, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // The walk, on this thread beside the readers; then the merges' topics, beside
            // them too: one thread walks the commit graph and hands on each merge's commits,
            // another makes them into topics.
            let walked = walk();
            feed.finish();
            ids = feed.ids();
            let pass = match walked {
                Ok(chain) if one_pass => {
                    // The merges whose topics are wanted: those read here.
                    let wanted: gix::hashtable::HashSet<ObjectId> = ids.iter().copied().collect();
                    let sync = &sync;
                    let path = &self.path;
                    let (sets_tx, sets_rx) = mpsc::sync_channel(256);
                    // The sets' buffers go back to the graph thread to be filled again.
                    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
                    let graph_packs = packs.clone();
                    let graph = scope.spawn(move || {
                        let mut repo = sync.to_thread_local();
                        tune_caches(&mut repo);
                        Reader::new(&repo, path, shallow, glob, binding_keys)
                            .with_index(index.clone())
                            .with_packs(graph_packs, cache_bytes)
                            .merge_sets_in_one_pass(
                                &chain,
                                &wanted,
                                || spare_rx.try_recv().ok(),
                                |reader, set| sets_tx.send(set).map_err(|_| reader.stopped("making topics")),
                            )
                    });
                    let topics_packs = packs.clone();
                    let topics = scope.spawn(move || {
                        let mut repo = sync.to_thread_local();
                        tune_caches(&mut repo);
                        let mut reader = Reader::new(&repo, path, shallow, glob, binding_keys)
                            .with_index(index.clone())
                            .with_packs(topics_packs, cache_bytes);
                        let mut out: gix::hashtable::HashMap<ObjectId, crate::read::Topic> = Default::default();
                        for set in sets_rx {
                            let merge = set.merge;
                            let (topic, bytes) = reader.topic_of(set)?;
                            out.insert(merge, topic);
                            if let Some(bytes) = bytes {
                                // The graph thread may be done: then the buffer is dropped here.
                                let _ = spare_tx.send(bytes);
                            }
                        }
                        Ok::<_, GitError>(out)
                    });
                    Some((graph, topics))
                }
                Ok(_) => None,
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    walk_error = Some(e);
                    None
                }
            };
            let total = ids.len();
            let mut done = 0;
            for (start, result) in rx {
                match result {
                    Ok(facts) => {
                        done += facts.len();
                        parts.push((start, facts));
                        progress(Progress { phase: ProgressPhase::Reading, done, total });
                    }
                    // Report the error nearest the tip, so the message is deterministic.
                    Err(e) => {
                        if first_error.as_ref().is_none_or(|(s, _)| start < *s) {
                            first_error = Some((start, e));
                        }
                    }
                }
            }
            topics = pass.map(|(graph, topics)| {
                let walked = graph.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                let made = topics.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                // A topic that failed stops the graph walk too: report the topic's error.
                match (walked, made) {
                    (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
                    (Ok(()), Ok(made)) => Ok(made),
                }
            });
        });
        if let Some(e) = walk_error {
            return Err(e);
        }
        if let Some((_, e)) = first_error {
            return Err(e);
        }
        parts.sort_unstable_by_key(|(start, _)| *start);
        let mut out: Vec<ChangeFacts> = Vec::with_capacity(ids.len());
        for (start, facts) in parts {
            if start != out.len() {
                break;
            }
            out.extend(facts);
        }
        if out.len() != ids.len() {
            return Err(self.git("reading commits", "a worker stopped early"));
        }
        if let Some(topics) = topics {
            self.attach_topics(&mut out, &ids, topics?)?;
        }
        Ok(out)
    }

    /// Give each merge among `facts` (read without topics) its topic from the one pass.
    fn attach_topics(
        &self,
        facts: &mut [ChangeFacts],
        ids: &[ObjectId],
        mut topics: gix::hashtable::HashMap<ObjectId, crate::read::Topic>,
    ) -> Result<(), GitError> {
        for (f, id) in facts.iter_mut().zip(ids) {
            if f.parents.len() < 2 {
                continue;
            }
            let topic = topics
                .remove(id)
                .ok_or_else(|| self.git("finding what the merges bring in", format!("no topic for merge {id}")))?;
            f.brought_in = topic.commits;
            f.topic_line = topic.topic_line;
            f.stale_reviews = topic.stale_reviews;
        }
        Ok(())
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors (any parent, not only
    /// the first): what a deploy gate asks of a commit and a branch.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, GitError> {
        let (a, d) = (self.resolve_commit(ancestor)?, self.resolve_commit(descendant)?);
        if a == d {
            return Ok(true);
        }
        if let Some(reached) = self.reaches_by_generation(a, d)? {
            return Ok(reached);
        }
        let bases = self
            .repo
            .merge_bases_many(a, &[d])
            .map_err(|e| self.git(format!("merge base of {ancestor} and {descendant}"), e))?;
        Ok(bases.iter().any(|b| b.detach() == a))
    }

    /// Whether this repository gets the commit graph kept beside the facts cache: SHA-1 (as
    /// the facts cache), not shallow (parents would be missing), and without git's own
    /// commit-graph (which serves instead).
    fn keeps_own_graph(&self) -> bool {
        !self.is_shallow()
            && self.repo.object_hash() == gix::hash::Kind::Sha1
            && self.repo.commit_graph_if_enabled().ok().flatten().is_none()
    }

    /// [`Repository::is_ancestor`] over the graph kept by earlier audits: a walk from
    /// `descendant` that never goes below the generation of `ancestor` (a commit of that
    /// generation or lower, other than `ancestor` itself, cannot reach it). Commits newer than
    /// the graph are read from the object database. `None` (ask gix, which uses git's
    /// commit-graph) when the repository has a commit-graph or is shallow, when no graph is
    /// kept or it lacks `ancestor`, or when more than [`REACH_DECODE_LIMIT`] commits are not
    /// in it.
    fn reaches_by_generation(&self, a: ObjectId, d: ObjectId) -> Result<Option<bool>, GitError> {
        if !self.keeps_own_graph() {
            return Ok(None);
        }
        let graph = StoredGraph::load(&graph::graph_path(self.repo.common_dir()));
        let Some(floor) = graph.generation(&a) else {
            return Ok(None);
        };
        let mut seen: gix::hashtable::HashSet<ObjectId> = Default::default();
        let mut stack = vec![d];
        let mut parents = Vec::new();
        let mut buf = Vec::new();
        let mut decoded = 0;
        while let Some(c) = stack.pop() {
            if c == a {
                return Ok(Some(true));
            }
            if !seen.insert(c) {
                continue;
            }
            match graph.get(&c, &mut parents) {
                Some((_, generation)) if generation <= floor => continue,
                Some(_) => {}
                None => {
                    decoded += 1;
                    if decoded > REACH_DECODE_LIMIT {
                        return Ok(None);
                    }
                    let data = match gix::objs::Find::try_find(&self.repo, &c, &mut buf) {
                        Ok(Some(data)) => data,
                        Ok(None) => return Ok(None),
                        Err(e) => return Err(self.git(format!("reading commit {c}"), e)),
                    };
                    parents.extend(gix::objs::CommitRefIter::from_bytes(data.data, c.kind()).parent_ids());
                }
            }
            stack.append(&mut parents);
        }
        Ok(Some(false))
    }

    /// The ref a branch name resolves to, trying the local branch, then `origin`'s.
    pub fn branch_tip(&self, branch: &str) -> Option<String> {
        let short = branch.strip_prefix("refs/heads/").unwrap_or(branch);
        [format!("refs/heads/{short}"), format!("refs/remotes/origin/{short}"), branch.to_owned()]
            .into_iter()
            .find_map(|candidate| self.resolve_commit(&candidate).ok())
            .map(|id| id.to_string())
    }

    /// Whether `rev` names a commit this repository has.
    pub fn has_commit(&self, rev: &str) -> bool {
        self.resolve_commit(rev).is_ok()
    }

    /// The blob at `path` (`/`-separated) in the tree of `rev`, or `None` when there is no
    /// such file there. Used to read CODEOWNERS or the policy file from a base branch.
    pub fn read_blob_at(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        let commit = self.resolve_commit(rev)?;
        let tree_id = Reader::new(&self.repo, &self.path, self.is_shallow(), None, &[]).tree_of(&commit)?;
        let tree = self.repo.find_tree(tree_id).map_err(|e| self.git(format!("reading the tree of {rev}"), e))?;
        let path = path.trim_start_matches('/');
        let entry = tree
            .lookup_entry(path.split('/').filter(|c| !c.is_empty()).map(|c| c.as_bytes()))
            .map_err(|e| self.git(format!("looking up {path} in {rev}"), e))?;
        let Some(entry) = entry else { return Ok(None) };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let object = entry.object().map_err(|e| self.git(format!("reading {path} at {rev}"), e))?;
        Ok(Some(object.detach().data))
    }

    /// The files (blobs) directly inside directory `dir` at revision `rev`, as
    /// repository-relative paths. An absent directory lists nothing. For checks that need
    /// what the base held, such as migration numbering: cheap, one tree lookup per call.
    pub fn files_in_dir_at(&self, rev: &str, dir: &str) -> Result<Vec<String>, GitError> {
        let commit = self.resolve_commit(rev)?;
        let tree_id = Reader::new(&self.repo, &self.path, self.is_shallow(), None, &[]).tree_of(&commit)?;
        let tree = self.repo.find_tree(tree_id).map_err(|e| self.git(format!("reading the tree of {rev}"), e))?;
        let dir = dir.trim_matches('/');
        let subtree = if dir.is_empty() {
            tree
        } else {
            let entry = tree
                .lookup_entry(dir.split('/').filter(|c| !c.is_empty()).map(|c| c.as_bytes()))
                .map_err(|e| self.git(format!("looking up {dir} in {rev}"), e))?;
            match entry {
                Some(entry) if entry.mode().is_tree() => {
                    entry.object().map_err(|e| self.git(format!("reading {dir} at {rev}"), e))?.into_tree()
                }
                _ => return Ok(Vec::new()),
            }
        };
        let mut files = Vec::new();
        for entry in subtree.iter() {
            let entry = entry.map_err(|e| self.git(format!("reading {dir} at {rev}"), e))?;
            if entry.mode().is_blob() {
                let name = crate::message::escape_lossy(entry.filename());
                files.push(if dir.is_empty() { name } else { format!("{dir}/{name}") });
            }
        }
        Ok(files)
    }

    /// One change of kind `PullRequest` for the commits in `head` that are not in `base`
    /// (oldest first), as CI sees a pull request before it is merged. The same as
    /// [`Repository::pr_change_with`] with default options: no added lines are read, and
    /// `Reviewed-by` and `Approved-by` are the review trailers.
    pub fn pr_change(&self, base: &str, head: &str) -> Result<Change, GitError> {
        self.pr_change_with(base, head, &ReadOptions::default())
    }

    /// One change of kind `PullRequest` for the commits in `head` that are not in `base`
    /// (oldest first), as CI sees a pull request before it is merged.
    ///
    /// `id` and `head_commit` are the head commit; changed paths, and the added lines of the
    /// files `opts` asks for, are the diff from the merge base of `base` and `head` to
    /// `head`; trailers, approvals, checks and co-authors come from all the commits. The
    /// title and body are the first commit's; the author is chosen as for a merge (the most
    /// frequent author on the first-parent line from `head`, a tie going to whoever started
    /// it), so that the check of a pull request and the audit of its merge name the same
    /// author. A trailer approval on an
    /// earlier commit counts for the head unless the head changed what that commit touched.
    pub fn pr_change_with(&self, base: &str, head: &str, opts: &ReadOptions) -> Result<Change, GitError> {
        let base_id = self.resolve_commit(base)?;
        let head_id = self.resolve_commit(head)?;
        let wanted = self.added_lines_matcher(opts)?;
        let wanted: Option<&PathMatch> = wanted.as_deref().map(|m| m as &PathMatch);
        let rules = TrailerRules::new(opts.review_trailers.as_deref());
        let binding_keys = rules.binding_keys();
        let mut reader = Reader::new(&self.repo, &self.path, self.is_shallow(), wanted, &binding_keys);
        let topic = reader.topic(base_id, &[head_id], true)?;
        let mut commits = topic.commits;
        let merge_base = self
            .repo
            .merge_base(base_id, head_id)
            .map_err(|e| self.git(format!("finding the merge base of {base} and {head}"), e))?
            .map(|id| id.detach());
        let Some(merge_base) = merge_base else {
            return Err(self.git(format!("comparing {base} and {head}"), "they have no common history"));
        };
        let old_tree = reader.tree_of(&merge_base)?;
        let new_tree = reader.tree_of(&head_id)?;
        let (changed_paths, candidates) = reader.diff_trees(Some(old_tree), new_tree)?;
        let added_lines = reader.added_lines(&candidates)?;

        let people = People::new(self.repo.open_mailmap());
        let head_commit = head_id.to_string();
        let mut change = Change {
            id: head_commit.clone(),
            kind: Some(ChangeKind::PullRequest),
            head_commit: Some(head_commit.clone()),
            ..Change::default()
        };
        if let Some(first) = commits.first() {
            change.title = first.subject.clone();
            change.body = first.body.clone();
        }
        change.author = topic_author(&people, &commits, &topic.topic_line);
        change.pr_number = commits.iter().rev().find_map(|c| c.review.as_ref().map(|r| r.0));
        change.time = commits.last().and_then(|c| Timestamp::from_second(c.commit_time).ok());
        for c in &mut commits {
            let committer = people.identity(&c.committer);
            if !change.committers.contains(&committer) {
                change.committers.push(committer);
            }
            change.commits.push(countersign_engine::change::CommitRef {
                id: c.id.clone(),
                author: people.identity(&c.author),
                committer: people.identity(&c.committer),
                signed: c.signed,
                subject: c.subject.clone(),
                time: jiff::Timestamp::from_second(c.commit_time).ok(),
            });
            let bound_to = if topic.stale_reviews.contains(&c.id) { c.id.clone() } else { head_commit.clone() };
            evidence_from_commit(&people, &rules, c, &bound_to, &mut change);
        }
        change.changed_paths = changed_paths
            .into_iter()
            .map(|(path, status)| countersign_engine::change::ChangedPath { path, status })
            .collect();
        change.added_lines = added_lines
            .into_iter()
            .map(|(path, lines)| countersign_engine::change::AddedLines { path, lines })
            .collect();
        Ok(change)
    }
}

/// Each first-parent commit's facts as a [`Change`], in order. A long history is built on
/// `threads` threads, each over a contiguous part with its own table of mapped identities.
fn build_changes(
    mailmap: gix::mailmap::Snapshot,
    rules: &TrailerRules,
    mut facts: Vec<ChangeFacts>,
    branch: Option<&str>,
    threads: usize,
) -> Vec<Change> {
    /// A short history is built on one thread; a long one in blocks of this many changes,
    /// which the threads take in turn (older changes are quicker to build, so equal halves
    /// would leave one thread idle).
    const BLOCK: usize = 512;
    let threads = threads.min(facts.len() / (4 * BLOCK)).max(1);
    if threads == 1 {
        let people = People::new(mailmap);
        return facts.into_iter().map(|f| change_from_facts(&people, rules, f, branch)).collect();
    }
    // The threads move each change's facts out of its slot (`mem::take`), so the history's
    // facts are never copied into parts first.
    let blocks = std::sync::Mutex::new(facts.chunks_mut(BLOCK).enumerate());
    let mut built: Vec<(usize, Vec<Change>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (mailmap, blocks) = (mailmap.clone(), &blocks);
                scope.spawn(move || {
                    let people = People::new(mailmap);
                    let mut done = Vec::new();
                    loop {
                        let next = blocks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
                        let Some((b, block)) = next else { return done };
                        let changes = block
                            .iter_mut()
                            .map(|f| change_from_facts(&people, rules, std::mem::take(f), branch))
                            .collect();
                        done.push((b, changes));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    built.sort_unstable_by_key(|(b, _)| *b);
    let mut out = Vec::with_capacity(facts.len());
    for (_, changes) in built {
        out.extend(changes);
    }
    out
}
