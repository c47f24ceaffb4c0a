//! Evidence from git history.
//!
//! Walks the first-parent history of a branch with gix and turns every first-parent commit
//! into a [`countersign_engine::change::Change`]: author, committer, PR number, reviewers and
//! CI results from trailers and merge subjects, signatures, and the tree diff against the
//! first parent. Knows nothing about policies beyond the path patterns it is asked to read.
