//! Wire formats of code forges, converted by hand into countersign's change model.
//!
//! Each forge's JSON gets its own serde types here, tolerant of fields the forge adds, so
//! that the engine's [`countersign_engine::change::Change`] does not change shape when a
//! forge renames something. This crate parses bytes it is given; it does no IO and reads no
//! clock.
//!
//! - [`github`]: the JSON that `gh pr view --json` prints, into a `Change`.
//! - [`webhook`]: webhook deliveries of GitHub, Gitea/Forgejo and GitLab: signature checks,
//!   delivery headers, and forge-independent events.

pub mod github;
pub mod webhook;

/// Why a forge document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("not valid JSON for `gh pr view --json`: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the PR JSON lacks `{0}`; run `gh pr view --json {fields}` to include it", fields = github::GH_FIELDS)]
    MissingField(&'static str),
}
