//! The countersign policy language.
//!
//! Turns the text of a `countersign.toml` into a validated [`model::Policy`], collecting
//! every error at once with spans into the file, lints the result, and renders it as the
//! human-readable policy document. This crate does no IO: callers pass file contents in.

pub mod model;
pub mod paths;
