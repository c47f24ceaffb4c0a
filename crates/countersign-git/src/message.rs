//! Commit message parsing: subject, body, trailers and the review that brought a commit in.
//!
//! Pure string functions, no git access. The trailer rules follow `git interpret-trailers`:
//! trailers are the last paragraph of the message when every line of it is a `Key: value`
//! line (or a continuation line starting with whitespace), or when at least one line is a
//! well-known trailer (`Signed-off-by`, ...) and at least a quarter of the lines are trailers.
//! The subject paragraph is never a trailer block.

use countersign_engine::change::Identity;

/// A `Key: value` trailer as written in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTrailer {
    pub key: String,
    pub value: String,
}

/// Where the PR or review number was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewSource {
    /// `Merge pull request #N from owner/branch`.
    GitHubMerge,
    /// A squash-merge subject ending in `(#N)`.
    Squash,
    /// `Auto merge of #N - branch, r=alice` (bors, homu) or `Rollup merge of #N`.
    Bors,
    /// bors-ng `Merge #N` subject.
    BorsNg,
    /// GitLab `See merge request group/project!N`.
    GitLab,
    /// Gerrit `Reviewed-on: https://host/c/project/+/N`.
    Gerrit,
}

impl ReviewSource {
    /// Stable short name, used in explanations and in the facts cache.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewSource::GitHubMerge => "github-merge",
            ReviewSource::Squash => "squash",
            ReviewSource::Bors => "bors",
            ReviewSource::BorsNg => "bors-ng",
            ReviewSource::GitLab => "gitlab",
            ReviewSource::Gerrit => "gerrit",
        }
    }

    /// Inverse of [`ReviewSource::as_str`].
    pub fn parse(s: &str) -> Option<ReviewSource> {
        Some(match s {
            "github-merge" => ReviewSource::GitHubMerge,
            "squash" => ReviewSource::Squash,
            "bors" => ReviewSource::Bors,
            "bors-ng" => ReviewSource::BorsNg,
            "gitlab" => ReviewSource::GitLab,
            "gerrit" => ReviewSource::Gerrit,
            _ => return None,
        })
    }
}

/// The review (PR, merge request, Gerrit change) a commit message says it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRef {
    /// PR number, merge request iid or Gerrit change number.
    pub number: u64,
    pub source: ReviewSource,
    /// Reviewers named by the merge line itself (bors `r=`, bors-ng `r=`). Gerrit and
    /// trailer reviewers are in the trailers, not here.
    pub reviewers: Vec<Identity>,
}

/// A parsed commit message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMessage {
    /// The first paragraph, lines joined with a space (as `git log --format=%s`).
    pub subject: String,
    /// Everything after the subject paragraph, without the trailer block, trimmed.
    pub body: String,
    pub trailers: Vec<MessageTrailer>,
    pub review: Option<ReviewRef>,
}

/// Trailer keys git itself writes or that are common enough to make a mixed last
/// paragraph count as a trailer block (git's 25% rule).
const KNOWN_TRAILERS: &[&str] = &[
    "signed-off-by",
    "co-authored-by",
    "reviewed-by",
    "acked-by",
    "approved-by",
    "reviewed-on",
    "change-id",
    "trybot-result",
    "luci-trybot-result",
    "change-type",
    "cc",
    "tested-by",
    "reported-by",
    "helped-by",
    "suggested-by",
    "fixes",
    "closes",
    "bug",
    "(cherry picked from commit",
];

/// Parse a whole commit message.
pub fn parse_message(message: &str) -> ParsedMessage {
    let normalized;
    let message = if message.contains('\r') {
        normalized = message.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        message
    };
    let lines: Vec<&str> = message.lines().collect();
    // Skip leading blank lines, as git does.
    let start = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(lines.len());
    let subject_end = lines[start..].iter().position(|l| l.trim().is_empty()).map_or(lines.len(), |p| start + p);
    let subject = lines[start..subject_end].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");

    let rest = &lines[subject_end.min(lines.len())..];
    let (body_lines, trailers) = split_trailers(rest);
    let body = body_lines.join("\n").trim().to_string();

    let review =
        review_from_subject(&subject, &body).or_else(|| gitlab_review(&body)).or_else(|| gerrit_review(&trailers));

    ParsedMessage { subject, body, trailers, review }
}

/// Split off the trailer block (the last paragraph) from the lines after the subject.
fn split_trailers<'a>(rest: &[&'a str]) -> (Vec<&'a str>, Vec<MessageTrailer>) {
    // Trim trailing blank lines.
    let end = rest.iter().rposition(|l| !l.trim().is_empty()).map_or(0, |p| p + 1);
    let rest = &rest[..end];
    if rest.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // The last paragraph starts after the last blank line. There is always a blank line
    // (or the start) before it, since `rest` begins at the blank line after the subject.
    let para_start = rest.iter().rposition(|l| l.trim().is_empty()).map_or(0, |p| p + 1);
    let para = &rest[para_start..];
    if para.is_empty() {
        return (rest.to_vec(), Vec::new());
    }
    let mut trailers: Vec<MessageTrailer> = Vec::new();
    let mut trailer_lines = 0usize;
    let mut other_lines = 0usize;
    let mut known = false;
    let mut last_was_trailer = false;
    for line in para {
        if (line.starts_with(' ') || line.starts_with('\t')) && last_was_trailer {
            // Continuation of the previous trailer's value.
            if let Some(t) = trailers.last_mut() {
                t.value.push(' ');
                t.value.push_str(line.trim());
            }
            continue;
        }
        match parse_trailer_line(line) {
            Some(t) => {
                let lower = t.key.to_ascii_lowercase();
                if KNOWN_TRAILERS.contains(&lower.as_str()) {
                    known = true;
                }
                trailers.push(t);
                trailer_lines += 1;
                last_was_trailer = true;
            }
            None => {
                if line.starts_with("(cherry picked from commit") {
                    known = true;
                    trailer_lines += 1;
                } else {
                    other_lines += 1;
                }
                last_was_trailer = false;
            }
        }
    }
    let is_block = trailer_lines > 0 && (other_lines == 0 || (known && trailer_lines * 3 >= other_lines));
    if is_block { (rest[..para_start].to_vec(), trailers) } else { (rest.to_vec(), Vec::new()) }
}

/// `Key: value` where the key is letters, digits and `-`, with no space before the colon.
fn parse_trailer_line(line: &str) -> Option<MessageTrailer> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    // A URL-like line (`https://...`) is not a trailer.
    let value = &line[colon + 1..];
    if value.starts_with("//") {
        return None;
    }
    Some(MessageTrailer { key: key.to_string(), value: value.trim().to_string() })
}

/// Parse `#N` at the start of `s`, returning the number and the rest.
fn hash_number(s: &str) -> Option<(u64, &str)> {
    let s = s.strip_prefix('#')?;
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let n = s[..digits].parse().ok()?;
    Some((n, &s[digits..]))
}

fn review_from_subject(subject: &str, body: &str) -> Option<ReviewRef> {
    if let Some(rest) = subject.strip_prefix("Merge pull request ")
        && let Some((number, after)) = hash_number(rest)
        && (after.is_empty() || after.starts_with(' '))
    {
        return Some(ReviewRef { number, source: ReviewSource::GitHubMerge, reviewers: Vec::new() });
    }
    for prefix in ["Auto merge of ", "Rollup merge of "] {
        if let Some(rest) = subject.strip_prefix(prefix)
            && let Some((number, after)) = hash_number(rest)
        {
            let reviewers = after
                .rfind("r=")
                .filter(|&i| i == 0 || after[..i].ends_with([' ', ',']))
                .map(|i| parse_reviewer_list(&after[i + 2..]))
                .unwrap_or_default();
            return Some(ReviewRef { number, source: ReviewSource::Bors, reviewers });
        }
    }
    if let Some(rest) = subject.strip_prefix("Merge ")
        && let Some((number, after)) = hash_number(rest)
        && (after.is_empty() || after.starts_with(' '))
    {
        // bors-ng writes one body line per PR: `N: Title r=alice a=bob`.
        let mut reviewers = Vec::new();
        let line_prefix = format!("{number}: ");
        for line in body.lines() {
            if let Some(l) = line.trim().strip_prefix(&line_prefix) {
                for word in l.split_whitespace() {
                    if let Some(names) = word.strip_prefix("r=") {
                        reviewers.extend(parse_reviewer_list(names));
                    }
                }
            }
        }
        return Some(ReviewRef { number, source: ReviewSource::BorsNg, reviewers });
    }
    // Squash merge: `Fix thing (#34)`.
    let trimmed = subject.trim_end();
    if let Some(inner) = trimmed.strip_suffix(')')
        && let Some(open) = inner.rfind("(#")
        && let Some((number, after)) = hash_number(&inner[open + 1..])
        && after.is_empty()
    {
        return Some(ReviewRef { number, source: ReviewSource::Squash, reviewers: Vec::new() });
    }
    None
}

/// `alice,bob` or `alice, bob` (stops at the first word that is not part of the list).
fn parse_reviewer_list(s: &str) -> Vec<Identity> {
    let s = s.trim();
    // Stop at whitespace that is not after a comma.
    let mut end = s.len();
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_whitespace() && (i == 0 || bytes[i - 1] != b',') {
            end = i;
            break;
        }
    }
    s[..end].split(',').map(str::trim).filter(|n| !n.is_empty()).map(parse_identity).collect()
}

fn gitlab_review(body: &str) -> Option<ReviewRef> {
    for line in body.lines().rev() {
        if let Some(rest) = line.trim().strip_prefix("See merge request ") {
            let bang = rest.rfind('!')?;
            let digits: String = rest[bang + 1..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(number) = digits.parse() {
                return Some(ReviewRef { number, source: ReviewSource::GitLab, reviewers: Vec::new() });
            }
        }
    }
    None
}

fn gerrit_review(trailers: &[MessageTrailer]) -> Option<ReviewRef> {
    let url = trailers.iter().find(|t| t.key.eq_ignore_ascii_case("Reviewed-on"))?;
    let number = gerrit_change_number(&url.value)?;
    Some(ReviewRef { number, source: ReviewSource::Gerrit, reviewers: Vec::new() })
}

/// `https://go-review.googlesource.com/c/tools/+/12345` or `https://review.example/12345`
/// (an optional trailing `/` or `/patchset` is tolerated after `+/N`).
pub fn gerrit_change_number(url: &str) -> Option<u64> {
    let url = url.trim().trim_end_matches('/');
    if let Some(pos) = url.rfind("/+/") {
        let tail = &url[pos + 3..];
        let digits: &str = tail.split('/').next()?;
        return digits.parse().ok();
    }
    let last = url.rsplit('/').next()?;
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return last.parse().ok();
    }
    None
}

/// `Name <email>`, `<email>`, `email@host`, `@login` or a bare `login`.
pub fn parse_identity(s: &str) -> Identity {
    let s = s.trim();
    if let (Some(open), true) = (s.rfind('<'), s.ends_with('>')) {
        let name = s[..open].trim().trim_matches('"').trim();
        let email = s[open + 1..s.len() - 1].trim();
        return Identity {
            name: (!name.is_empty()).then(|| name.to_string()),
            email: (!email.is_empty()).then(|| email.to_string()),
            login: None,
        };
    }
    if s.contains('@') && !s.starts_with('@') && !s.contains(' ') {
        return Identity { name: None, email: Some(s.to_string()), login: None };
    }
    let login = s.trim_start_matches('@');
    if !login.is_empty() && !login.contains(char::is_whitespace) {
        return Identity { name: None, email: None, login: Some(login.to_string()) };
    }
    Identity { name: (!s.is_empty()).then(|| s.to_string()), email: None, login: None }
}

/// Convert bytes to a string, keeping valid UTF-8 and escaping every other byte as `\xNN`.
/// Backslashes are not themselves escaped, so the output is readable, not reversible.
pub fn escape_lossy(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

/// Decode a commit message given its `encoding` header: Latin-1 is decoded exactly,
/// anything else is treated as UTF-8 with invalid bytes escaped.
pub fn decode_message(bytes: &[u8], encoding: Option<&[u8]>) -> String {
    let is_latin1 = encoding.is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        matches!(e.as_slice(), b"iso-8859-1" | b"iso8859-1" | b"latin1" | b"latin-1" | b"iso-8859-15")
    });
    if is_latin1 && std::str::from_utf8(bytes).is_err() {
        return bytes.iter().map(|&b| b as char).collect();
    }
    escape_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &ParsedMessage) -> Vec<(&str, &str)> {
        p.trailers.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect()
    }

    #[test]
    fn subject_only() {
        let p = parse_message("Fix the thing\n");
        assert_eq!(p.subject, "Fix the thing");
        assert_eq!(p.body, "");
        assert!(p.trailers.is_empty());
        assert!(p.review.is_none());
    }

    #[test]
    fn multi_line_subject_is_joined() {
        let p = parse_message("Fix the\nthing\n\nBody text.\n");
        assert_eq!(p.subject, "Fix the thing");
        assert_eq!(p.body, "Body text.");
    }

    #[test]
    fn trailers_in_last_paragraph() {
        let p = parse_message(
            "Subject\n\nSome body\nmore body.\n\nSigned-off-by: A U Thor <a@example.com>\nCo-authored-by: Bob <bob@example.com>\nReviewed-by: Carol <carol@example.com>\n",
        );
        assert_eq!(p.body, "Some body\nmore body.");
        assert_eq!(
            keys(&p),
            vec![
                ("Signed-off-by", "A U Thor <a@example.com>"),
                ("Co-authored-by", "Bob <bob@example.com>"),
                ("Reviewed-by", "Carol <carol@example.com>"),
            ]
        );
    }

    #[test]
    fn subject_paragraph_is_never_trailers() {
        let p = parse_message("Fixes: the thing\n");
        assert!(p.trailers.is_empty());
        assert_eq!(p.subject, "Fixes: the thing");
    }

    #[test]
    fn paragraph_with_prose_is_not_trailers() {
        let p =
            parse_message("Subject\n\nNote: this is prose\nand this line is prose too\nand more\nand more\nand more\n");
        assert!(p.trailers.is_empty());
        assert!(p.body.starts_with("Note: this is prose"));
    }

    #[test]
    fn mixed_paragraph_with_known_trailer_counts() {
        let p = parse_message("Subject\n\nBody.\n\nSome note here\nSigned-off-by: A <a@x>\n");
        assert_eq!(keys(&p), vec![("Signed-off-by", "A <a@x>")]);
        assert_eq!(p.body, "Body.");
    }

    #[test]
    fn only_last_paragraph_is_trailers() {
        let p = parse_message("Subject\n\nAcked-by: Early <e@x>\n\nSigned-off-by: Late <l@x>\n");
        assert_eq!(keys(&p), vec![("Signed-off-by", "Late <l@x>")]);
        assert_eq!(p.body, "Acked-by: Early <e@x>");
    }

    #[test]
    fn continuation_lines_are_folded() {
        let p = parse_message("Subject\n\nX-Long: first\n  second\nChange-Id: I123\n");
        assert_eq!(keys(&p), vec![("X-Long", "first second"), ("Change-Id", "I123")]);
    }

    #[test]
    fn crlf_messages() {
        let p = parse_message("Subject (#9)\r\n\r\nBody\r\n\r\nReviewed-by: R <r@x>\r\n");
        assert_eq!(p.subject, "Subject (#9)");
        assert_eq!(keys(&p), vec![("Reviewed-by", "R <r@x>")]);
        assert_eq!(p.review.map(|r| r.number), Some(9));
    }

    #[test]
    fn github_merge() {
        let p = parse_message("Merge pull request #12 from org/branch\n\nAdd the feature\n");
        let r = p.review.expect("review");
        assert_eq!((r.number, r.source), (12, ReviewSource::GitHubMerge));
        assert_eq!(p.body, "Add the feature");
    }

    #[test]
    fn squash_subject() {
        let r = parse_message("Fix thing (#34)").review.expect("review");
        assert_eq!((r.number, r.source), (34, ReviewSource::Squash));
        assert!(parse_message("Fix thing (#34) again").review.is_none());
        assert!(parse_message("Fix thing (#)").review.is_none());
        assert!(parse_message("Fix thing (#3a)").review.is_none());
    }

    #[test]
    fn bors_with_reviewers() {
        let r = parse_message("Auto merge of #56 - x, r=alice\n\nBody\n").review.expect("review");
        assert_eq!((r.number, r.source), (56, ReviewSource::Bors));
        assert_eq!(r.reviewers, vec![parse_identity("alice")]);
        let r = parse_message("Auto merge of #123 - user:branch, r=alice,bob").review.expect("review");
        assert_eq!(r.reviewers.len(), 2);
        assert_eq!(r.reviewers[1].login.as_deref(), Some("bob"));
        let r = parse_message("Rollup merge of #7 - u:b, r=carol").review.expect("review");
        assert_eq!(r.reviewers[0].login.as_deref(), Some("carol"));
    }

    #[test]
    fn bors_ng_merge() {
        let r = parse_message("Merge #77\n\n77: Add a thing r=dave a=erin\n\nCo-authored-by: E <e@x>\n")
            .review
            .expect("review");
        assert_eq!((r.number, r.source), (77, ReviewSource::BorsNg));
        assert_eq!(r.reviewers, vec![parse_identity("dave")]);
        assert!(parse_message("Merge branch 'main'").review.is_none());
    }

    #[test]
    fn gitlab_merge_request() {
        let r = parse_message("Merge branch 'feat' into 'main'\n\nAdd feat\n\nSee merge request g/p!7")
            .review
            .expect("review");
        assert_eq!((r.number, r.source), (7, ReviewSource::GitLab));
    }

    #[test]
    fn gerrit_reviewed_on() {
        let p = parse_message(
            "gopls: fix a bug\n\nLonger text.\n\nChange-Id: I0123456789abcdef\nReviewed-on: https://go-review.googlesource.com/c/tools/+/612345\nReviewed-by: Alan Donovan <adonovan@google.com>\nLUCI-TryBot-Result: Go LUCI <golang-scoped@luci-project-accounts.iam.gserviceaccount.com>\nTryBot-Result: Gopher Robot <gobot@golang.org>\n",
        );
        let r = p.review.expect("review");
        assert_eq!((r.number, r.source), (612345, ReviewSource::Gerrit));
        assert_eq!(p.trailers.len(), 5);
        assert_eq!(gerrit_change_number("https://review.example.org/4242"), Some(4242));
        assert_eq!(gerrit_change_number("https://review.example.org/c/p/+/99/3"), Some(99));
        assert_eq!(gerrit_change_number("https://review.example.org/c/p"), None);
    }

    #[test]
    fn identities() {
        assert_eq!(
            parse_identity("Ann Example <ann@example.com>"),
            Identity { name: Some("Ann Example".into()), email: Some("ann@example.com".into()), login: None }
        );
        assert_eq!(parse_identity("<a@x>").email.as_deref(), Some("a@x"));
        assert_eq!(parse_identity("a@x.org").email.as_deref(), Some("a@x.org"));
        assert_eq!(parse_identity("@octocat").login.as_deref(), Some("octocat"));
        assert_eq!(parse_identity("octocat").login.as_deref(), Some("octocat"));
        assert_eq!(parse_identity("Some Bot").name.as_deref(), Some("Some Bot"));
    }

    #[test]
    fn url_line_is_not_a_trailer() {
        assert!(parse_trailer_line("https://example.com").is_none());
        assert!(parse_trailer_line("Key with space: v").is_none());
    }

    #[test]
    fn escape_and_decode() {
        assert_eq!(escape_lossy(b"a\xffb"), "a\\xffb");
        assert_eq!(escape_lossy("é".as_bytes()), "é");
        assert_eq!(decode_message(b"caf\xe9", Some(b"ISO-8859-1")), "café");
        assert_eq!(decode_message(b"caf\xe9", None), "caf\\xe9");
    }

    #[test]
    fn empty_and_blank_messages() {
        assert_eq!(parse_message(""), ParsedMessage::default());
        assert_eq!(parse_message("\n\n\n").subject, "");
    }
}
