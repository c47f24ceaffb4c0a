//! The countersign policy language.
//!
//! Turns the text of a `countersign.toml` into a validated [`model::Policy`], collecting
//! every error at once with spans into the file, lints the result, and renders it as the
//! human-readable policy document. This crate does no IO: callers pass file contents in,
//! and pass "today" in when date lints should run (it has no clock).
//!
//! - [`parse`] / [`parse_with`]: text → [`Checked`] (policy + warnings) or [`Failed`].
//! - [`render_diagnostics`] / [`diagnostics_json`]: diagnostics for people and machines.
//! - [`render`]: the policy document (Markdown, HTML) and `explain`.
//! - [`codeowners`]: read a CODEOWNERS file and import it as areas.
//! - [`limits`]: the size and nesting limits that keep every step bounded.
//!
//! The language is documented in `docs/policy-language.md`.

pub mod codeowners;
pub mod diag;
mod graph;
pub mod limits;
mod lints;
pub mod model;
pub mod paths;
mod query;
pub mod reader;
pub mod render;
pub mod units;
mod validate;

pub use diag::{Diagnostic, DiagnosticJson, Label, Severity, diagnostics_json, render_diagnostics};
pub use model::Policy;

use diag::codes;

/// Options for [`parse_with`].
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// The current date, for the lints about overdue reviews and exceptions. `None`
    /// skips those lints.
    pub today: Option<jiff::civil::Date>,
}

/// A policy that validated, with the lints it raised.
#[derive(Debug, Clone)]
pub struct Checked {
    pub policy: Policy,
    pub warnings: Vec<Diagnostic>,
}

/// A policy with at least one error. Both lists are sorted by position in the file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the policy has {} error(s)", errors.len())]
pub struct Failed {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates a policy, without the date-dependent lints.
pub fn parse(file_name: &str, text: &str) -> Result<Checked, Failed> {
    parse_with(file_name, text, &ParseOptions::default())
}

/// Parses and validates a policy: every error is reported, not just the first.
pub fn parse_with(file_name: &str, text: &str, options: &ParseOptions) -> Result<Checked, Failed> {
    let _ = file_name;
    if let Some(too_big) = over_limits(text) {
        return Err(Failed { errors: vec![too_big], warnings: Vec::new() });
    }
    let (built, ctx) = reader::read_toml(text, validate::build);
    let Some((policy, spans)) = built else {
        return Err(split(ctx.diags));
    };
    if ctx.error_count() > 0 {
        return Err(split(ctx.diags));
    }
    let mut warnings = ctx.diags;
    warnings.extend(lints::run(&policy, &spans, options.today));
    sort(&mut warnings);
    Ok(Checked { policy, warnings })
}

/// The limit checked on the text itself, before the parser sees it: the file's size (see
/// [`limits`]).
fn over_limits(text: &str) -> Option<Diagnostic> {
    if text.len() > limits::MAX_POLICY_BYTES {
        let mut at = limits::MAX_POLICY_BYTES;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        return Some(
            Diagnostic::new(
                codes::POLICY_TOO_LARGE,
                format!(
                    "the policy file is {} bytes, more than the limit of {} bytes (1 MiB)",
                    text.len(),
                    limits::MAX_POLICY_BYTES
                ),
                at..line_end.max(at),
                "the limit is reached here",
            )
            .with_help(
                "check that this is the policy file you meant; keep long prose in documents the policy links to",
            ),
        );
    }
    None
}

fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (a.primary.span.start, a.code).cmp(&(b.primary.span.start, b.code)));
}

fn split(diags: Vec<Diagnostic>) -> Failed {
    let (mut errors, mut warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.is_error());
    sort(&mut errors);
    sort(&mut warnings);
    errors.dedup();
    Failed { errors, warnings }
}
