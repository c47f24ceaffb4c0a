//! The one error type of this crate. Every variant names the repository and, where there is
//! one, the commit or object involved, so the CLI can print it without more context.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path}: not a git repository: {message}")]
    NotARepository { path: PathBuf, message: String },

    #[error(
        "{path}: this is a shallow clone; history stops at commit {commit} and the audit needs what lies beyond it. Run `git fetch --unshallow` (or narrow the audit with a date window or range)"
    )]
    Shallow { path: PathBuf, commit: String },

    #[error(
        "{path}: object {id} is missing from the repository (needed for {needed_for}); the repository is incomplete or corrupt — try `git fsck`"
    )]
    MissingObject { path: PathBuf, id: String, needed_for: String },

    #[error("{path}: HEAD does not point at a commit yet (unborn branch {branch})")]
    UnbornHead { path: PathBuf, branch: String },

    #[error("{path}: cannot resolve revision `{spec}`: {message}")]
    Revision { path: PathBuf, spec: String, message: String },

    #[error("{path}: invalid range `{spec}`: expected `A..B`")]
    BadRange { path: PathBuf, spec: String },

    #[error("{path}: invalid path pattern `{pattern}`: {message}")]
    BadPattern { path: PathBuf, pattern: String, message: String },

    #[error("{path}: object {id} is not a valid {kind}: {message}")]
    Corrupt { path: PathBuf, id: String, kind: &'static str, message: String },

    #[error("{path}: {context}: {message}")]
    Git { path: PathBuf, context: String, message: String },
}
