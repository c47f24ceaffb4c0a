//! Path patterns with GitHub CODEOWNERS semantics.
//!
//! A pattern without a slash (other than a trailing one) matches at any depth; a leading
//! slash or a slash in the middle anchors it to the repository root; a trailing slash
//! matches only the directory's contents; `*` stays inside one segment and `**` crosses
//! segments. A pattern that names a directory also matches everything under it.

use serde::Serialize;

/// One compiled pattern, keeping the text the user wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PathPattern {
    pub raw: String,
    #[serde(skip)]
    matcher: globset::GlobMatcher,
}

/// A list of patterns; a path is in the set when any pattern matches.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct PathSet {
    pub patterns: Vec<PathPattern>,
}
