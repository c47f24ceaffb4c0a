//! Evidence from git history.
//!
//! Walks the first-parent history of a branch with gix and turns every first-parent commit
//! into a [`countersign_engine::change::Change`]: author, committer, PR number, reviewers and
//! CI results from trailers and merge subjects, signatures, and the tree diff against the
//! first parent. Knows nothing about policies beyond the path patterns it is asked to read.
//!
//! What this crate must not do: evaluate policy, touch the network, or write anywhere but its
//! own caches under the repository's git directory: the facts cache (`countersign/facts-v1.bin`
//! and its journal `countersign/facts-v1.recent.bin`) and the kept commit graph
//! (`countersign/graph-v1.bin` and `countersign/graph-v1.recent.bin`).
//!
//! Performance design (a product requirement: a full audit within git's own
//! `git log --first-parent --name-only` time, a re-audit after one commit in a few percent
//! of it; see `BENCHMARKS.md`):
//! - the first-parent chain comes from the facts cache, else the commit-graph, else commit
//!   objects;
//! - what the merges bring in, on a walk of the whole history, comes from one pass over the
//!   commit graph oldest first, beside the workers (one thread walks the graph, another
//!   makes the topics): each topic commit is visited and decoded once
//!   (`Reader::topics_in_one_pass`);
//! - otherwise (a few new merges) each merge gets git's `limit_list` walk, which reads
//!   parents and dates from the commit-graph, else from one commit index shared by the
//!   worker threads (the `index` module): each commit object is decoded for it at most once
//!   per walk, and the mainline is already there from the first-parent walk;
//! - without a commit-graph, the equivalent is kept beside the facts cache (the `graph`
//!   module: ids, parents, dates, generation numbers of every commit an audit met), so a
//!   re-audit after a new merge decodes only the new commits, and `is_ancestor` stops at the
//!   ancestor's generation;
//! - commits not in the cache are read on worker threads (one gix handle and one delta-base
//!   cache each) in contiguous runs of the chain, newest first like git, so delta bases hit;
//!   with nothing cached, the runs go to the workers as the first-parent walk finds them
//!   (the `feed` module), so the walk and the reading overlap;
//! - objects come straight from the pack files with every delta base of a chain kept, as
//!   git's delta-base cache keeps them (the `packs` module; gix keeps only the object asked
//!   for), each delta applied in place to the cached base below it;
//! - the tree diff is our own path-only diff that skips runs of identical entries with one
//!   `memcmp` (the `treediff` module);
//! - every commit's facts are cached by commit id, so a re-audit reads only new commits,
//!   and the cache file is indexed lazily (entries are decoded only when used).
//!
//! Modules:
//! - [`message`]: pure commit-message parsing (subject, body, trailers, PR/review numbers).
//! - `read`: object-database access (commits, tree diffs, added lines), one handle per thread.
//! - `facts`: the per-commit facts and their versioned on-disk cache.
//! - `index`: parents and committer dates of the commits the merge walk meets, shared by threads.
//! - `graph`: the commit graph kept from audit to audit (parents, dates, generation numbers).
//! - `feed`: the first-parent chain handed to the reading threads while it is walked.
//! - `packs`: objects read from the pack files, with a delta-base cache per thread.
//! - `build`: facts → [`countersign_engine::change::Change`] (`.mailmap`, approvals, checks).
//! - `treediff`: a path-only tree diff (one `memcmp` per unchanged entry, like git).
//! - `repo`: [`Repository`], the first-parent walk and the pull-request view.
//!
//! What each field of a change means, and the choices made where history can be read more
//! than one way (the commits a merge brings in, the author of a merge, which commit an
//! approval is bound to, which trailers are reviews, bors reviewer lists, two Gerrit
//! `Reviewed-on` lines), are in `docs/git-evidence.md`.
//!
//! Renames: tree diffs run without rewrite tracking, so a renamed file appears as a deletion
//! of the old path plus an addition of the new one (`PathStatus::Renamed` is never produced).

mod build;
mod error;
mod facts;
mod feed;
mod graph;
mod index;
pub mod message;
mod packs;
mod read;
mod repo;
mod treediff;

pub use error::GitError;
pub use facts::CacheState;
pub use repo::{PathMatcher, Progress, ProgressPhase, ReadOptions, Repository, Walk, WalkOptions, WalkStats};

/// An object id of one repeated byte, for the unit tests.
#[cfg(test)]
pub(crate) fn test_id(n: u8) -> gix::ObjectId {
    gix::ObjectId::from_bytes_or_panic(&[n; 20])
}
