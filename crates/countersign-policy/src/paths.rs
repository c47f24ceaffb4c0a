//! Path patterns with GitHub CODEOWNERS semantics.
//!
//! A pattern without a slash (other than a trailing one) matches at any depth; a leading
//! slash or a slash in the middle anchors it to the repository root; a trailing slash
//! matches only the directory's contents; `*` stays inside one segment and `**` crosses
//! segments. A pattern that names a directory also matches everything under it.
//!
//! GitHub does not support `!` negation or `[ ]` character ranges in CODEOWNERS, so both
//! are rejected here rather than silently meaning something else. A backslash escapes the
//! next character (`f\*o` matches the file literally named `f*o`). Paths are compared
//! case-sensitively, as GitHub does.
//!
//! The translation to a regular expression follows hmarr/codeowners (`match.go`), whose
//! test data (`tests/data/patterns.json`) this module passes in full.

use serde::Serialize;

/// Why a pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("empty path pattern")]
    Empty,
    #[error("`!` negation is not supported in CODEOWNERS patterns")]
    Negation,
    #[error("`[ ]` character ranges are not supported in CODEOWNERS patterns")]
    CharacterRange,
    #[error("the pattern ends with a lone `\\` escape")]
    TrailingEscape,
    #[error("pattern could not be compiled: {0}")]
    Compile(String),
}

/// One compiled pattern, keeping the text the user wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PathPattern {
    pub raw: String,
    #[serde(skip)]
    matcher: regex::Regex,
}

/// A list of patterns; a path is in the set when any pattern matches.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct PathSet {
    pub patterns: Vec<PathPattern>,
}

impl PathPattern {
    /// Compiles a CODEOWNERS-style pattern.
    pub fn new(pattern: &str) -> Result<PathPattern, PatternError> {
        if pattern.is_empty() || pattern == "/" {
            return Err(PatternError::Empty);
        }
        if pattern.starts_with('!') {
            return Err(PatternError::Negation);
        }
        let source = to_regex(pattern)?;
        let matcher = regex::Regex::new(&source).map_err(|e| PatternError::Compile(e.to_string()))?;
        Ok(PathPattern { raw: pattern.to_string(), matcher })
    }

    /// Whether a repository-relative path (`src/main.rs`, no leading slash) matches.
    /// A leading `/` or `./` on the path is tolerated.
    pub fn matches(&self, path: &str) -> bool {
        let path = path.strip_prefix("./").unwrap_or(path);
        let path = path.strip_prefix('/').unwrap_or(path);
        self.matcher.is_match(path)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PathSet {
    /// Compiles every pattern, returning the first error with the offending pattern.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<PathSet, (String, PatternError)> {
        let mut compiled = Vec::new();
        for pattern in patterns {
            compiled.push(PathPattern::new(pattern).map_err(|e| (pattern.to_string(), e))?);
        }
        Ok(PathSet { patterns: compiled })
    }

    /// Whether any pattern matches the path.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns as written, for rendering.
    pub fn raw(&self) -> Vec<&str> {
        self.patterns.iter().map(|p| p.raw.as_str()).collect()
    }
}

/// Translates a CODEOWNERS pattern into an anchored regular expression.
fn to_regex(pattern: &str) -> Result<String, PatternError> {
    let mut segments: Vec<&str> = pattern.split('/').collect();
    if segments.first() == Some(&"") {
        // A leading slash anchors the pattern to the root.
        segments.remove(0);
    } else if segments.len() == 1 || (segments.len() == 2 && segments[1].is_empty()) {
        // A single segment (with or without a trailing slash) matches at any depth.
        if segments[0] != "**" {
            segments.insert(0, "**");
        }
    }
    if segments.len() > 1 && segments.last() == Some(&"") {
        // A trailing slash means "everything inside".
        let last = segments.len() - 1;
        segments[last] = "**";
    }

    let mut re = String::from(r"\A");
    let last = segments.len() - 1;
    let mut need_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "**" => {
                if i == 0 && i == last {
                    re.push_str(".+");
                } else if i == 0 {
                    re.push_str("(?:.+/)?");
                    need_slash = false;
                } else if i == last {
                    re.push_str("/.*");
                } else {
                    re.push_str("(?:/.+)?");
                    need_slash = true;
                }
            }
            "*" => {
                if need_slash {
                    re.push('/');
                }
                re.push_str("[^/]+");
                need_slash = true;
            }
            _ => {
                if need_slash {
                    re.push('/');
                }
                let mut escape = false;
                for ch in segment.chars() {
                    if escape {
                        escape = false;
                        re.push_str(&regex::escape(&ch.to_string()));
                        continue;
                    }
                    match ch {
                        '\\' => escape = true,
                        '*' => re.push_str("[^/]*"),
                        '?' => re.push_str("[^/]"),
                        '[' | ']' => return Err(PatternError::CharacterRange),
                        _ => re.push_str(&regex::escape(&ch.to_string())),
                    }
                }
                if escape {
                    return Err(PatternError::TrailingEscape);
                }
                if i == last {
                    // No trailing slash: the pattern may name a directory, so match what
                    // lies under it too.
                    re.push_str("(?:/.*)?");
                }
                need_slash = true;
            }
        }
    }
    re.push_str(r"\z");
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_github_does_not_support() {
        assert_eq!(PathPattern::new("!foo").err(), Some(PatternError::Negation));
        assert_eq!(PathPattern::new("foo[ab]").err(), Some(PatternError::CharacterRange));
        assert_eq!(PathPattern::new("").err(), Some(PatternError::Empty));
        assert_eq!(PathPattern::new("foo\\").err(), Some(PatternError::TrailingEscape));
    }

    #[test]
    fn anchoring() {
        let p = PathPattern::new("/docs/").expect("valid");
        assert!(p.matches("docs/a.md"));
        assert!(!p.matches("src/docs/a.md"));
        let p = PathPattern::new("*.md").expect("valid");
        assert!(p.matches("a/b/c.md"));
        assert!(p.matches("/c.md"));
    }
}
