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
    /// Reviewers named by the merge line itself (bors `r=`, bors-ng `r=`), as logins. Gerrit
    /// and trailer reviewers are in the trailers, not here. bors `r=self` is the login `self`
    /// here; the walk resolves it to the change's author.
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

/// `prefix` at the start of `s`, ignoring ASCII case; the rest of `s`.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn review_from_subject(subject: &str, body: &str) -> Option<ReviewRef> {
    if let Some(rest) = subject.strip_prefix("Merge pull request ")
        && let Some((number, after)) = hash_number(rest)
        && (after.is_empty() || after.starts_with(' '))
    {
        return Some(ReviewRef { number, source: ReviewSource::GitHubMerge, reviewers: Vec::new() });
    }
    // bors and homu, in every form they have written over the years:
    // `auto merge of #1100 : user/repo/branch, r=name` (the 2014 bors.py),
    // `Auto merge of #N - user:branch, r=name` (homu, rust-lang/bors), and `Rollup merge of`.
    for prefix in ["Auto merge of ", "Rollup merge of "] {
        if let Some(rest) = strip_prefix_ignore_case(subject, prefix)
            && let Some((number, after)) = hash_number(rest)
        {
            let reviewers = bors_reviewers(after);
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
                        for r in parse_reviewer_list(names) {
                            if !reviewers.contains(&r) {
                                reviewers.push(r);
                            }
                        }
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

/// The reviewers of a bors subject: the list after the last `r=` that starts a word (after a
/// space or a comma), so that a branch name containing `r=` is not mistaken for it.
fn bors_reviewers(after_number: &str) -> Vec<Identity> {
    let start = after_number
        .rmatch_indices("r=")
        .find(|&(i, _)| i == 0 || after_number[..i].ends_with([' ', ',']))
        .map(|(i, _)| i + 2);
    start.map(|i| parse_reviewer_list(&after_number[i..])).unwrap_or_default()
}

/// A bors reviewer list: `alice`, `alice,bob`, `alice, bob`, `alice+bob`, `@alice`. The list
/// ends at the first space that does not follow a separator. Each name loses a leading `@`
/// and any leading or trailing characters that cannot be part of a login (backticks,
/// punctuation, emoji: `r=alexcrichton\``, `r=🙈eh2406🙈`). Names are deduplicated without
/// regard to case (GitHub logins are case-insensitive), first spelling kept.
///
/// Two names are special. `<try>` (homu's try builds) is not a reviewer and is dropped.
/// `me` is dropped when the list names someone else: the 2014 bors.py listed the commenter of
/// an `r=me` comment and, later, also the literal `me`, so `r=alexcrichton,me` is one
/// approval by alexcrichton. `self` (`r=self`: the author approved their own PR) is kept as
/// the login `self`; the walk resolves it to the change's author.
fn parse_reviewer_list(s: &str) -> Vec<Identity> {
    let s = s.trim_start();
    let mut end = s.len();
    let mut last_visible = None;
    for (i, ch) in s.char_indices() {
        if ch.is_whitespace() {
            if !matches!(last_visible, Some(',' | '+')) {
                end = i;
                break;
            }
        } else {
            last_visible = Some(ch);
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for raw in s[..end].split([',', '+']) {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("<try>") {
            continue;
        }
        let name = raw
            .trim_start_matches('@')
            .trim_matches(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .trim_start_matches('@');
        if name.is_empty() || names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        names.push(name);
    }
    if names.len() > 1 {
        names.retain(|n| !n.eq_ignore_ascii_case("me"));
    }
    names.into_iter().map(|n| Identity { name: None, email: None, login: Some(n.to_string()) }).collect()
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

/// The Gerrit change a commit landed as. A cherry-picked change carries the original's
/// `Reviewed-on` line and then, below it, the line Gerrit added when the cherry-pick was
/// submitted (the same holds for a change first reviewed on a private instance): the last
/// `Reviewed-on` with a change number is the change that landed on this branch.
fn gerrit_review(trailers: &[MessageTrailer]) -> Option<ReviewRef> {
    let number = trailers
        .iter()
        .rev()
        .filter(|t| t.key.eq_ignore_ascii_case("Reviewed-on"))
        .find_map(|t| gerrit_change_number(&t.value))?;
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

    fn bors(subject: &str) -> (u64, Vec<String>) {
        let r = parse_message(subject).review.unwrap_or_else(|| panic!("no review in {subject:?}"));
        assert_eq!(r.source, ReviewSource::Bors, "{subject}");
        (r.number, r.reviewers.into_iter().map(|i| i.login.unwrap_or_default()).collect())
    }

    /// Every bors/homu subject form found on rust-lang/cargo's first-parent history
    /// (`git log --first-parent --format=%s | grep -i 'merge of #'`), one case per form.
    #[test]
    fn bors_subject_forms_seen_in_rust_lang_cargo() {
        let cases: &[(&str, u64, &[&str])] = &[
            // The 2014 bors.py, lower case, `#N : owner/repo/branch`.
            (
                "auto merge of #1100 : kballard/cargo/tweak-readme-install-instructions, r=alexcrichton",
                1100,
                &["alexcrichton"],
            ),
            ("auto merge of #870 : huonw/cargo/alex++, r=wycats", 870, &["wycats"]),
            ("auto merge of #83 : huonw/cargo/manifest-search, r=alexcrichton,alexcrichton", 83, &["alexcrichton"]),
            ("auto merge of #603 : brson/cargo/win, r=alexcrichton,alexcrichton,me", 603, &["alexcrichton"]),
            // homu, `#N - owner:branch`.
            ("Auto merge of #56 - x, r=alice", 56, &["alice"]),
            ("Auto merge of #14317 - harmou01:dev/harmou01/remove-target-flag-req, r=ehuss", 14317, &["ehuss"]),
            ("Auto merge of #14489 - rust-lang:dependabot/cargo/gix-path-0.10.10, r=weihanglo", 14489, &["weihanglo"]),
            ("Auto merge of #13970 - weihanglo:libgit2@1.8.0, r=ehuss", 13970, &["ehuss"]),
            ("Auto merge of #13706 - WaffleLapkin:don't-the-err, r=epage", 13706, &["epage"]),
            ("Auto merge of #12068 - Bhardwaj-Himanshu:#12056, r=weihanglo", 12068, &["weihanglo"]),
            ("Auto merge of #10433 - Byron:fix-#10431, r=ehuss", 10433, &["ehuss"]),
            ("Auto merge of #1559 - alexcrichton:platform-specific-deps++, r=brson", 1559, &["brson"]),
            // Reviewer lists: several, `@`, `+`, backtick and comma, emoji.
            ("Auto merge of #14662 - epage:resolver, r=Eh2406,weihanglo", 14662, &["Eh2406", "weihanglo"]),
            ("Auto merge of #8068 - ehuss:bcx-units, r=alexcrichton,ehuss", 8068, &["alexcrichton", "ehuss"]),
            ("Auto merge of #6966 - ehuss:reamp-path-prefix-hash, r=@alexcrichton", 6966, &["alexcrichton"]),
            (
                "Auto merge of #6596 - Eh2406:slow-cpu-test, r=dwijnand+alexcrichton",
                6596,
                &["dwijnand", "alexcrichton"],
            ),
            ("Auto merge of #5732 - Eh2406:sort_unstable, r=alexcrichton`,", 5732, &["alexcrichton"]),
            ("Auto merge of #12560 - epage:msrv, r=🙈eh2406🙈", 12560, &["eh2406"]),
            // Not seen in cargo, but written by the same tools.
            ("Auto merge of #7 - u:b, r=alice, bob", 7, &["alice", "bob"]),
            ("Auto merge of #8 - u:b, r=Alice,alice", 8, &["Alice"]),
            ("Auto merge of #9 - u:b, r=<try>", 9, &[]),
            ("Auto merge of #10 - u:b, r=me", 10, &["me"]),
            ("Auto merge of #11 - u:b, r=self", 11, &["self"]),
            ("Auto merge of #12 - for=x, r=carol.", 12, &["carol"]),
            ("Auto merge of #13 - u:b", 13, &[]),
            ("Rollup merge of #7 - u:b, r=carol", 7, &["carol"]),
            ("rollup merge of #71 - u:b, r=@carol", 71, &["carol"]),
        ];
        for (subject, number, reviewers) in cases {
            let (n, got) = bors(subject);
            assert_eq!(n, *number, "{subject}");
            assert_eq!(got, reviewers.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{subject}");
        }
        // A body does not change the subject's reading.
        let (n, got) = bors("Auto merge of #1 - u:b, r=dave\n\nSome PR description r=mallory\n");
        assert_eq!((n, got), (1, vec!["dave".to_string()]));
        // Not bors.
        assert!(parse_message("Automatic merge of #3").review.is_none());
        assert!(parse_message("auto merge of #x : a/b/c, r=d").review.is_none());
    }

    /// A cherry-picked Gerrit change carries the original's `Reviewed-on` and then its own:
    /// the last one is the change that landed (golang/tools 0b451635).
    #[test]
    fn gerrit_cherry_pick_takes_the_last_reviewed_on() {
        let p = parse_message(
            "[gopls-release-branch.0.15] gopls: fix\n\nText.\n\nChange-Id: I13747f19e48186105967b9c777de5ca34908545f\nReviewed-on: https://go-review.googlesource.com/c/tools/+/579758\nReviewed-by: Tim King <taking@google.com>\n(cherry picked from commit 429c9f0c2c0d52afd4862e9734511a94fea841b7)\nReviewed-on: https://go-review.googlesource.com/c/tools/+/581807\nAuto-Submit: Robert Findley <rfindley@google.com>\n",
        );
        let r = p.review.expect("review");
        assert_eq!((r.number, r.source), (581807, ReviewSource::Gerrit));
        // A last line without a change number does not hide an earlier valid one.
        let p = parse_message(
            "x: y\n\nBody.\n\nReviewed-on: https://review.example.org/c/p/+/11\nReviewed-on: https://review.example.org/c/p\n",
        );
        assert_eq!(p.review.map(|r| r.number), Some(11));
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
