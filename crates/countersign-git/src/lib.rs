//! Evidence from git history.
//!
//! Walks the first-parent history of a branch with gix and turns every first-parent commit
//! into a [`countersign_engine::change::Change`]: author, committer, PR number, reviewers and
//! CI results from trailers and merge subjects, signatures, and the tree diff against the
//! first parent. Knows nothing about policies beyond the path patterns it is asked to read.
//!
//! What this crate must not do: evaluate policy, touch the network, or write anywhere but its
//! own facts cache under the repository's git directory (`countersign/facts-v1.bin`).
//!
//! Modules:
//! - [`message`]: pure commit-message parsing (subject, body, trailers, PR/review numbers).
//! - `read`: object-database access (commits, tree diffs, added lines), one handle per thread.
//! - `facts`: the per-commit facts and their versioned on-disk cache.
//! - `build`: facts → [`countersign_engine::change::Change`] (`.mailmap`, approvals, checks).
//! - `treediff`: a path-only tree diff (one `memcmp` per unchanged entry, like git).
//! - `repo`: [`Repository`], the first-parent walk and the pull-request view.
//!
//! Renames: tree diffs run without rewrite tracking, so a renamed file appears as a deletion
//! of the old path plus an addition of the new one (`PathStatus::Renamed` is never produced).

mod build;
mod error;
mod facts;
pub mod message;
mod read;
mod repo;
mod treediff;

pub use error::GitError;
pub use facts::CacheState;
pub use repo::{PathMatcher, Progress, ProgressPhase, Repository, Walk, WalkOptions, WalkStats};
