//! CODEOWNERS files: parse them (GitHub rules, GitLab sections tolerated) and import
//! their lines as [`Area`]s.
//!
//! GitHub skips an invalid line rather than rejecting the file, so parsing never fails:
//! it returns the valid lines and a report of the skipped ones.

use crate::diag::{Diagnostic, codes};
use crate::model::{Area, AreaOrigin, Policy, Span, Subject};
use crate::paths::{PathPattern, PathSet};

/// Where GitHub looks for the file, first found wins.
pub const DEFAULT_LOCATIONS: &[&str] = &[".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// One valid rule line.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number.
    pub line: usize,
    pub pattern: PathPattern,
    /// Owners as written (`@org/team`, `@user`, `user@example.com`). Empty: unowned.
    pub owners: Vec<String>,
    /// The GitLab section the line is in, if any.
    pub section: Option<String>,
    /// Byte range of the line in the file.
    pub span: Span,
}

/// A line GitHub would skip, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub text: String,
    pub reason: String,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Codeowners {
    pub lines: Vec<Line>,
    pub skipped: Vec<Skipped>,
}

impl Codeowners {
    /// The owners of a path: the last matching line wins; `None` when no line matches,
    /// `Some(&[])` when the matching line has no owners (explicitly unowned).
    pub fn owners_of(&self, path: &str) -> Option<&[String]> {
        self.lines.iter().rev().find(|l| l.pattern.matches(path)).map(|l| l.owners.as_slice())
    }

    /// Skipped lines as warnings pointing into the CODEOWNERS text.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.skipped
            .iter()
            .map(|s| {
                Diagnostic::new(
                    codes::CODEOWNERS_INVALID_LINE,
                    format!("CODEOWNERS line {} is skipped: {}", s.line, s.reason),
                    s.span.clone(),
                    "GitHub ignores this line",
                )
                .with_help("fix the pattern or owners; until then this path falls to an earlier line")
            })
            .collect()
    }
}

/// Parses CODEOWNERS text.
pub fn parse(text: &str) -> Codeowners {
    let mut out = Codeowners::default();
    let mut section: Option<String> = None;
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line_no = index + 1;
        let start = offset;
        offset += raw_line.len();
        let content = raw_line.trim_end_matches(['\n', '\r']);
        let span = start..start + content.len();
        let trimmed = content.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // GitLab: `[Section]`, `^[Optional section]`, `[Section][2]`, possibly with default owners.
        if trimmed.starts_with('[') || trimmed.starts_with("^[") {
            let name = trimmed.trim_start_matches('^').trim_start_matches('[');
            section = Some(name.split(']').next().unwrap_or(name).to_string());
            continue;
        }
        let tokens = tokenize(strip_comment(content));
        let Some((pattern_text, owners)) = tokens.split_first() else { continue };
        let skip = |reason: String| Skipped { line: line_no, text: content.to_string(), reason, span: span.clone() };
        let pattern = match PathPattern::new(pattern_text) {
            Ok(p) => p,
            Err(e) => {
                out.skipped.push(skip(format!("invalid pattern `{pattern_text}`: {e}")));
                continue;
            }
        };
        if let Some(bad) = owners.iter().find(|o| !valid_owner(o)) {
            out.skipped.push(skip(format!("invalid owner `{bad}` (expected @user, @org/team or an email)")));
            continue;
        }
        out.lines.push(Line { line: line_no, pattern, owners: owners.to_vec(), section: section.clone(), span });
    }
    out
}

/// A `#` starts a comment at the beginning of a line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let mut previous_space = true;
    let mut escaped = false;
    for (i, ch) in line.char_indices() {
        if ch == '#' && previous_space && !escaped {
            return &line[..i];
        }
        escaped = ch == '\\' && !escaped;
        previous_space = ch.is_whitespace();
    }
    line
}

/// Splits on whitespace not escaped with a backslash (`docs/my\ file.md`).
fn tokenize(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for ch in line.chars() {
        if escaped {
            if !ch.is_whitespace() {
                current.push('\\');
            }
            current.push(ch);
            escaped = false;
        } else if ch == '\\' {
            escaped = true;
        } else if ch.is_whitespace() {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(ch);
        }
    }
    if escaped {
        current.push('\\');
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn valid_owner(owner: &str) -> bool {
    if let Some(name) = owner.strip_prefix('@') {
        let parts: Vec<&str> = name.split('/').collect();
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        return (parts.len() == 1 || parts.len() == 2) && parts.iter().all(|p| ok(p));
    }
    match owner.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        }
        None => false,
    }
}

/// Maps an owner as written to a subject: a policy group (by team slug or full name),
/// a person (by login or email), or `External` when the policy knows neither.
pub fn owner_subject(policy: &Policy, owner: &str) -> Subject {
    if let Some(name) = owner.strip_prefix('@') {
        if let Some((_org, team)) = name.split_once('/') {
            if policy.groups.contains_key(team) {
                return Subject::Group(team.to_string());
            }
            if policy.groups.contains_key(name) {
                return Subject::Group(name.to_string());
            }
            return Subject::External(owner.to_string());
        }
        if let Some(person) = policy.person_by_login(name) {
            return Subject::Person(person.id.clone());
        }
        if policy.groups.contains_key(name) {
            return Subject::Group(name.to_string());
        }
        return Subject::External(owner.to_string());
    }
    match policy.person_by_email(owner) {
        Some(person) => Subject::Person(person.id.clone()),
        None => Subject::External(owner.to_string()),
    }
}

/// Converts parsed CODEOWNERS lines into areas named after their patterns. They are
/// sensitive when the policy says `[codeowners] sensitive = true`.
pub fn to_areas(policy: &Policy, file: &str, codeowners: &Codeowners) -> Vec<Area> {
    let sensitive = policy.codeowners.as_ref().is_some_and(|c| c.sensitive);
    codeowners
        .lines
        .iter()
        .map(|line| Area {
            name: format!("{} ({file}:{})", line.pattern.raw, line.line),
            paths: PathSet { patterns: vec![line.pattern.clone()] },
            owners: line.owners.iter().map(|o| owner_subject(policy, o)).collect(),
            sensitive,
            require: None,
            origin: AreaOrigin::Codeowners { file: file.to_string(), line: line.line },
            span: line.span.clone(),
        })
        .collect()
}

/// Imports a CODEOWNERS file into the policy. Imported areas are appended *after* the
/// policy's own areas, so where both match a path the CODEOWNERS line wins (the last
/// match wins, as in CODEOWNERS itself). Returns warnings for skipped lines, with spans
/// into `text` (render them with `file` and `text`).
pub fn import(policy: &mut Policy, file: &str, text: &str) -> Vec<Diagnostic> {
    let parsed = parse(text);
    let mut areas = to_areas(policy, file, &parsed);
    policy.areas.append(&mut areas);
    parsed.diagnostics()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s004_06_codeowners_with_teams() {
        let text = "# comment\n/src/lib/auth/           @security-team\n/prisma/                 @data-team @security-team\n/.github/workflows/      @devops-team @security-team\n";
        let parsed = parse(text);
        assert_eq!(parsed.lines.len(), 3);
        assert!(parsed.skipped.is_empty());
        assert_eq!(
            parsed.owners_of("prisma/schema.prisma"),
            Some(&["@data-team".to_string(), "@security-team".to_string()][..])
        );
        assert_eq!(parsed.owners_of("src/app.ts"), None);
    }

    #[test]
    fn invalid_lines_are_skipped_and_reported() {
        let text = "*.js @web\n!secret.js @web\nfoo[ab] @web\n/docs/ not-an-owner\n[Docs][2]\n/docs/ @writers # trailing\n/unowned/\n";
        let parsed = parse(text);
        assert_eq!(parsed.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), vec![2, 3, 4]);
        let docs = parsed.lines.iter().find(|l| l.pattern.raw == "/docs/").expect("docs line");
        assert_eq!(docs.owners, vec!["@writers"]);
        assert_eq!(docs.section.as_deref(), Some("Docs"));
        assert_eq!(parsed.owners_of("unowned/x"), Some(&[][..]));
        assert_eq!(parsed.diagnostics().len(), 3);
    }

    #[test]
    fn escaped_spaces() {
        let parsed = parse("docs/my\\ file.md @a\n");
        assert_eq!(parsed.lines.len(), 1);
        assert!(parsed.lines[0].pattern.matches("docs/my file.md"));
    }
}
