//! Diagnostics: errors and lints that point into the policy file.
//!
//! Every kind of finding has a stable code (see [`codes`]): `CS-E…` for errors, which
//! make the policy unusable, and `CS-W…` for warnings (lints), which do not. Codes never
//! change meaning once published; users grep for them and auditors cite them.

use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use serde::Serialize;

use crate::model::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A labelled span of the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One finding about a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable code from [`codes::ALL`].
    pub code: &'static str,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic whose severity follows from its code (`CS-E…` or `CS-W…`).
    pub fn new(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        let severity = if code.starts_with("CS-W") { Severity::Warning } else { Severity::Error };
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: Label { span, text: label.into() },
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label { span, text: text.into() });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The stable finding codes, each with a one-line description.
pub mod codes {
    pub const TOML_SYNTAX: &str = "CS-E001";
    pub const UNKNOWN_KEY: &str = "CS-E002";
    pub const WRONG_TYPE: &str = "CS-E003";
    pub const MISSING_KEY: &str = "CS-E004";
    pub const UNKNOWN_PERSON: &str = "CS-E005";
    pub const UNKNOWN_GROUP: &str = "CS-E006";
    pub const UNKNOWN_RULE: &str = "CS-E007";
    pub const UNKNOWN_CATEGORY: &str = "CS-E008";
    pub const UNKNOWN_AREA: &str = "CS-E009";
    pub const BAD_GLOB: &str = "CS-E010";
    pub const BAD_REGEX: &str = "CS-E011";
    pub const BAD_DURATION: &str = "CS-E012";
    pub const BAD_DATE: &str = "CS-E013";
    pub const BAD_CADENCE: &str = "CS-E014";
    pub const GROUP_CYCLE: &str = "CS-E015";
    pub const RULE_CYCLE: &str = "CS-E016";
    pub const DUPLICATE: &str = "CS-E017";
    pub const INVALID_VALUE: &str = "CS-E018";
    pub const INVALID_CONDITION: &str = "CS-E019";
    pub const INVALID_RULE: &str = "CS-E020";
    pub const DEFAULT_CATEGORY: &str = "CS-E021";
    pub const DUPLICATE_IDENTITY: &str = "CS-E022";
    pub const UNKNOWN_RISK: &str = "CS-E023";
    pub const CONFLICTING_KEYS: &str = "CS-E024";
    pub const POLICY_TOO_LARGE: &str = "CS-E025";
    pub const TOO_DEEP: &str = "CS-E026";
    pub const TOO_MANY: &str = "CS-E027";
    pub const SECRET_IN_TEXT: &str = "CS-E028";

    pub const UNSATISFIABLE_RULE: &str = "CS-W001";
    pub const AUTHOR_ONLY_APPROVER: &str = "CS-W002";
    pub const OVERLAPPING_CATEGORIES: &str = "CS-W003";
    pub const EXCEPTION_GROUP_GREW: &str = "CS-W004";
    pub const EXCEPTION_REVIEW_OVERDUE: &str = "CS-W005";
    pub const POLICY_REVIEW_OVERDUE: &str = "CS-W006";
    pub const EXCEPTION_SELF_APPROVED: &str = "CS-W007";
    pub const EXCEPTION_NO_END: &str = "CS-W008";
    pub const OVERLAPPING_RISKS: &str = "CS-W009";
    pub const CODEOWNERS_INVALID_LINE: &str = "CS-W010";
    pub const UNUSED_RULE: &str = "CS-W011";
    pub const EMPTY_GROUP: &str = "CS-W012";
    pub const EMERGENCY_SKIPS_CI: &str = "CS-W013";

    /// Every code with its one-line description, in code order.
    pub const ALL: &[(&str, &str)] = &[
        (TOML_SYNTAX, "the file is not valid TOML"),
        (UNKNOWN_KEY, "a key the policy language does not define"),
        (WRONG_TYPE, "a value of the wrong TOML type (e.g. a number where text is expected)"),
        (MISSING_KEY, "a required key is missing"),
        (UNKNOWN_PERSON, "a reference to a person id not declared under [people]"),
        (UNKNOWN_GROUP, "a reference to an @group not declared under [groups] or by a role"),
        (UNKNOWN_RULE, "a reference to an approval rule not declared under [rules]"),
        (UNKNOWN_CATEGORY, "a reference to a category id not declared under [[categories]]"),
        (UNKNOWN_AREA, "a reference to an area name not declared under [[areas]]"),
        (BAD_GLOB, "a path pattern CODEOWNERS cannot express"),
        (BAD_REGEX, "a regular expression that does not compile"),
        (BAD_DURATION, "a duration that is not like \"15m\", \"24h\" or \"5d\""),
        (BAD_DATE, "a date that is not a calendar date like 2026-05-21"),
        (BAD_CADENCE, "a review cadence that is not like \"6 months\" or \"annual\""),
        (GROUP_CYCLE, "groups that contain each other"),
        (RULE_CYCLE, "approval rules that refer to each other"),
        (DUPLICATE, "two entries with the same id or name"),
        (INVALID_VALUE, "a value outside the allowed set (e.g. a gate scope or a change kind)"),
        (INVALID_CONDITION, "a `when` condition that is empty or malformed"),
        (INVALID_RULE, "an approval rule that is empty, ambiguous or asks for zero approvals"),
        (DEFAULT_CATEGORY, "no default category, or more than one"),
        (DUPLICATE_IDENTITY, "the same email or login is given to two people"),
        (UNKNOWN_RISK, "a reference to a risk level not declared under [[risks]]"),
        (CONFLICTING_KEYS, "two keys that cannot be used together (e.g. `forbidden` and `require` on a content flag)"),
        (POLICY_TOO_LARGE, "the policy file is larger than 1 MiB"),
        (TOO_DEEP, "nesting deeper than the limit: brackets in the TOML, conditions, approval rules or groups"),
        (TOO_MANY, "more than the limit of categories or risk levels, or a rule with too many parts once expanded"),
        (
            SECRET_IN_TEXT,
            "a secret written into the server configuration instead of read from the environment or a file",
        ),
        (UNSATISFIABLE_RULE, "a rule asks for more approvals than its approvers can give"),
        (AUTHOR_ONLY_APPROVER, "a rule excludes the author but only one person can approve"),
        (OVERLAPPING_CATEGORIES, "two categories with equal precedence can match the same change"),
        (EXCEPTION_GROUP_GREW, "a standing exception whose group has already grown past its limit"),
        (EXCEPTION_REVIEW_OVERDUE, "a standing exception whose review-by date has passed"),
        (POLICY_REVIEW_OVERDUE, "the policy's next review date has passed"),
        (EXCEPTION_SELF_APPROVED, "an exception approved only by the people it covers"),
        (EXCEPTION_NO_END, "an exception with neither a review-by date nor an end condition"),
        (OVERLAPPING_RISKS, "two risk levels with equal rank can match the same change"),
        (CODEOWNERS_INVALID_LINE, "a CODEOWNERS line GitHub would skip"),
        (UNUSED_RULE, "an approval rule nothing refers to"),
        (EMPTY_GROUP, "a group with no members"),
        (EMERGENCY_SKIPS_CI, "the emergency flow may skip every CI gate"),
    ];

    /// The one-line description of a code.
    pub fn describe(code: &str) -> Option<&'static str> {
        ALL.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
    }
}

/// Renders diagnostics as `codespan-reporting` does: `file:line:col`, the offending text
/// underlined, the code, and a `help:` line.
pub fn render_diagnostics(file_name: &str, text: &str, diags: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, text);
    let config = term::Config::default();
    let lines = LineStarts::new(text);
    let locations = line_cols(text, diags.iter().map(|d| d.primary.span.start));
    let mut out = Vec::new();
    for (diag, (line, column)) in diags.iter().zip(locations) {
        let mut rendered = to_codespan(diag, text.len());
        // A snippet shows the whole line; on a very long line (a minified file, a list of
        // thousands on one line) every diagnostic would repeat it. Say where instead.
        let mut labels = std::iter::once(&diag.primary).chain(&diag.secondary);
        if labels.any(|l| lines.line_len(text.len(), l.span.start) > SNIPPET_MAX_LINE) {
            rendered.labels.clear();
            rendered.notes.insert(0, format!("at {file_name}:{line}:{column}: {}", diag.primary.text));
        }
        let result = if color {
            let styles = term::Styles::default();
            let mut writer = term::StylesWriter::new(term::termcolor::Ansi::new(&mut out), &styles);
            term::emit_to_write_style(&mut writer, &config, &file, &rendered)
        } else {
            term::emit_to_io_write(&mut out, &config, &file, &rendered)
        };
        if let Err(error) = result {
            // Rendering only fails on spans outside the file; fall back to the plain form.
            out.extend_from_slice(
                format!("{}[{}]: {} ({error})\n", severity_word(diag.severity), diag.code, diag.message).as_bytes(),
            );
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where each line starts, to find a line in logarithmic time.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(text: &str) -> LineStarts {
        LineStarts(std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }

    /// The length in bytes of the line holding `offset`, without its newline.
    fn line_len(&self, text_len: usize, offset: usize) -> usize {
        let line = self.0.partition_point(|&start| start <= offset).saturating_sub(1);
        let start = self.0[line];
        let end = self.0.get(line + 1).map_or(text_len, |next| next - 1);
        end.saturating_sub(start)
    }
}

/// [`line_col`] for many offsets at once, in one pass over the text: a policy with
/// thousands of errors on one long line must not scan it once per error.
fn line_cols(text: &str, offsets: impl Iterator<Item = usize>) -> Vec<(usize, usize)> {
    let offsets: Vec<usize> = offsets.map(|o| clamp_to_char(text, o)).collect();
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut out = vec![(1, 1); offsets.len()];
    let (mut at, mut line, mut column) = (0usize, 1usize, 1usize);
    for i in order {
        for ch in text[at..offsets[i]].chars() {
            if ch == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        at = offsets[i];
        out[i] = (line, column);
    }
    out
}

fn clamp_to_char(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Lines longer than this (in bytes) are not shown in a rendered diagnostic.
const SNIPPET_MAX_LINE: usize = 500;

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn clamp(span: &Range<usize>, len: usize) -> Range<usize> {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    start..end
}

fn to_codespan(diag: &Diagnostic, len: usize) -> cs::Diagnostic<()> {
    let severity = match diag.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![cs::Label::primary((), clamp(&diag.primary.span, len)).with_message(&diag.primary.text)];
    for secondary in &diag.secondary {
        labels.push(cs::Label::secondary((), clamp(&secondary.span, len)).with_message(&secondary.text));
    }
    let mut out = cs::Diagnostic::new(severity).with_code(diag.code).with_message(&diag.message).with_labels(labels);
    if let Some(help) = &diag.help {
        out = out.with_note(format!("help: {help}"));
    }
    out
}

/// The machine form of a diagnostic (`--format json`). Lines and columns are 1-based;
/// columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticJson {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

/// Converts diagnostics to their JSON form.
pub fn diagnostics_json(file_name: &str, text: &str, diags: &[Diagnostic]) -> Vec<DiagnosticJson> {
    let spans: Vec<_> = diags.iter().map(|d| clamp(&d.primary.span, text.len())).collect();
    let starts = line_cols(text, spans.iter().map(|s| s.start));
    let ends = line_cols(text, spans.iter().map(|s| s.end));
    diags
        .iter()
        .zip(starts.into_iter().zip(ends))
        .map(|(d, ((line, column), (end_line, end_column)))| DiagnosticJson {
            file: file_name.to_string(),
            line,
            column,
            end_line,
            end_column,
            code: d.code,
            severity: d.severity,
            message: d.message.clone(),
            label: d.primary.text.clone(),
            help: d.help.clone(),
        })
        .collect()
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_char(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Names longer than this get no "did you mean" suggestion: a typo is a short mistake in
/// a short name, and comparing long names costs the product of their lengths.
pub const SUGGESTION_MAX_CHARS: usize = 64;

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name_chars = name.chars().count();
    if name_chars > SUGGESTION_MAX_CHARS {
        return None;
    }
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let candidate_chars = candidate.chars().count();
        let limit = (name_chars.max(candidate_chars) / 3).max(1);
        // The distance is at least the difference in length.
        if candidate_chars > SUGGESTION_MAX_CHARS || name_chars.abs_diff(candidate_chars) > limit {
            continue;
        }
        let distance = levenshtein(&lower, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb { previous } else { 1 + previous.min(row[j]).min(row[j + 1]) };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_described() {
        let mut seen = std::collections::BTreeSet::new();
        for (code, description) in codes::ALL {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(code.starts_with("CS-E") || code.starts_with("CS-W"), "{code}");
            assert!(!description.is_empty());
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("organisation", ["organization", "owner"]), Some("organization"));
        assert_eq!(did_you_mean("zzz", ["organization", "owner"]), None);
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        let text = "ab\ncé\nd";
        let offsets = [7, 0, 4, 6, 3, 99];
        let expected: Vec<_> = offsets.iter().map(|&o| line_col(text, o)).collect();
        assert_eq!(line_cols(text, offsets.into_iter()), expected);
        let lines = LineStarts::new(text);
        assert_eq!(
            (lines.line_len(text.len(), 1), lines.line_len(text.len(), 4), lines.line_len(text.len(), 7)),
            (2, 3, 1)
        );
    }
}
