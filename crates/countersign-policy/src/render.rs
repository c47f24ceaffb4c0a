//! The policy as people read it: the published policy document (Markdown or HTML) and
//! `explain`, the resolved rules in plain text.
//!
//! Markdown and HTML come from one document outline ([`Block`]s), so the two can never
//! say different things, and both come from the validated policy, so the published
//! policy and the enforced one cannot drift.

use std::fmt::Write as _;

use crate::limits;
use crate::model::*;
use crate::units::{cadence_words, duration_words, format_duration, reviewed_sentence};

/// One block of the document outline. Inline text may hold `code` in backticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(u8, String),
    Paragraph(String),
    List(Vec<String>),
    Table { header: Vec<String>, rows: Vec<Vec<String>> },
}

/// Kinds of evidence countersign judges a change from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources(u8);

impl Sources {
    /// Commits, their trailers and the files they change.
    pub const GIT: Sources = Sources(1);
    /// The pull request on the forge: reviews, description, labels, checkboxes.
    pub const FORGE: Sources = Sources(2);
    /// CI check runs and commit statuses.
    pub const CI: Sources = Sources(4);
    /// Entries in countersign's signed evidence log.
    pub const RECORDED: Sources = Sources(8);
    /// Where approvals come from: forge reviews, review trailers, recorded approvals.
    pub const APPROVALS: Sources = Sources(1 | 2 | 8);

    pub const fn or(self, other: Sources) -> Sources {
        Sources(self.0 | other.0)
    }

    pub fn contains(self, other: Sources) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names, in a fixed order: "git history, forge review, CI results, recorded evidence".
    pub fn names(self) -> Vec<&'static str> {
        [
            (Sources::GIT, "git history"),
            (Sources::FORGE, "forge review"),
            (Sources::CI, "CI results"),
            (Sources::RECORDED, "recorded evidence"),
        ]
        .into_iter()
        .filter(|(s, _)| self.contains(*s))
        .map(|(_, name)| name)
        .collect()
    }
}

/// How a statement of the policy is upheld: countersign checks it from evidence, or people
/// follow it and attest to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Enforced(Sources),
    Attested,
}

impl Basis {
    /// The marker the document puts on the statement: `[enforced: git history]`, `[attested]`.
    pub fn marker(self) -> String {
        match self {
            Basis::Enforced(sources) => format!("[enforced: {}]", sources.names().join(", ")),
            Basis::Attested => "[attested]".to_string(),
        }
    }

    fn on(self, text: impl AsRef<str>) -> String {
        format!("{} {}", self.marker(), text.as_ref())
    }
}

const ATTESTED: Basis = Basis::Attested;

fn enforced(sources: Sources) -> Basis {
    Basis::Enforced(sources)
}

/// The evidence a classification condition reads.
fn condition_sources(condition: &Condition) -> Sources {
    condition_sources_at(condition, 0)
}

fn condition_sources_at(condition: &Condition, depth: usize) -> Sources {
    if depth > limits::MAX_NESTING {
        return Sources::default();
    }
    match condition {
        Condition::Always => Sources::default(),
        Condition::PathsAny(_)
        | Condition::PathsOnly(_)
        | Condition::Area(_)
        | Condition::Trailer { .. }
        | Condition::Author(_)
        | Condition::Kind(_) => Sources::GIT,
        Condition::Label(_) | Condition::Checkbox(_) => Sources::FORGE,
        Condition::Title(_) => Sources::FORGE.or(Sources::GIT),
        Condition::All(parts) | Condition::Any(parts) => {
            parts.iter().fold(Sources::default(), |acc, p| acc.or(condition_sources_at(p, depth + 1)))
        }
        Condition::Not(inner) => condition_sources_at(inner, depth + 1),
    }
}

/// The policy document in Markdown.
pub fn markdown(policy: &Policy) -> String {
    let mut out = String::new();
    for block in document(policy) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {}\n", "#".repeat(level as usize), text);
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{}\n", text.trim());
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", item.replace('\n', " "));
                }
                out.push('\n');
            }
            Block::Table { header, rows } => {
                let cell = |c: &str| c.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(out, "| {} |", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
                let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
                for row in rows {
                    let _ = writeln!(out, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
                }
                out.push('\n');
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The policy document as a standalone, printable HTML page.
pub fn html(policy: &Policy) -> String {
    let title = format!("{} — {}", policy.meta.title, policy.meta.organization);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n<main>\n",
        escape(&title),
        STYLE
    );
    for block in document(policy) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(&text));
            }
            Block::Paragraph(text) => {
                for para in text.split("\n\n") {
                    let _ = writeln!(out, "<p>{}</p>", inline(para.trim()));
                }
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", inline(&item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", inline(&h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for c in row {
                        let _ = write!(out, "<td>{}</td>", inline(&c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

const STYLE: &str = "body { font-family: Georgia, 'Times New Roman', serif; color: #111; background: #fff; margin: 0; }
main { max-width: 50rem; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.5; }
h1 { font-size: 1.8rem; border-bottom: 2px solid #111; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #999; }
h3 { font-size: 1.1rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .95rem; }
th, td { border: 1px solid #999; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
code { font-family: Menlo, Consolas, monospace; font-size: .9em; background: #f3f3f3; padding: 0 .2em; }
.basis { font-family: Helvetica, Arial, sans-serif; font-size: .75em; padding: 0 .3em; border: 1px solid #999; border-radius: 3px; white-space: nowrap; }
.enforced { background: #e8f3ea; }
.attested { background: #fbf1de; }
@media print { main { margin: 0; max-width: none; } h2 { page-break-after: avoid; } tr { page-break-inside: avoid; } }
";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Escapes, then turns `code` spans into `<code>` and basis markers into labelled spans.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&style_markers(&escape(part)));
        }
    }
    out
}

/// Wraps `[enforced: …]` and `[attested]` markers (already escaped) in spans, so the
/// printed page shows them as labels.
fn style_markers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let enforced_at = rest.find("[enforced: ");
        let attested_at = rest.find("[attested]");
        let (at, class) = match (enforced_at, attested_at) {
            (Some(e), Some(a)) if a < e => (a, "attested"),
            (Some(e), _) => (e, "enforced"),
            (None, Some(a)) => (a, "attested"),
            (None, None) => break,
        };
        let Some(len) = rest[at..].find(']').map(|end| end + 1) else { break };
        out.push_str(&rest[..at]);
        let _ = write!(out, "<span class=\"basis {class}\">{}</span>", &rest[at..at + len]);
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

fn code_list(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn person_label(policy: &Policy, id: &str) -> String {
    match policy.people.get(id) {
        Some(p) if p.name != p.id => p.name.clone(),
        _ => id.to_string(),
    }
}

/// How many members a group lists where a rule names it; the roles table lists everyone.
const MEMBERS_SHOWN: usize = 25;

/// A subject in words; groups list their members (up to [`MEMBERS_SHOWN`]) when `expand`
/// is set.
///
/// Names longer than [`NAME_SHOWN`] characters are cut short: rules are written out in
/// full wherever they apply, so one very long name would be repeated many times.
pub fn subject_text(policy: &Policy, subject: &Subject, expand: bool) -> String {
    match subject {
        Subject::Person(id) => clip(&person_label(policy, id)),
        Subject::Group(name) => {
            if expand {
                let all = policy.groups.get(name).map_or(&[][..], |g| &g.members[..]);
                let mut members: Vec<String> =
                    all.iter().take(MEMBERS_SHOWN).map(|m| clip(&person_label(policy, m))).collect();
                if all.len() > MEMBERS_SHOWN {
                    members.push(format!("and {} more", all.len() - MEMBERS_SHOWN));
                }
                if members.is_empty() {
                    format!("@{} (no members)", clip(name))
                } else {
                    format!("@{} ({})", clip(name), members.join(", "))
                }
            } else {
                format!("@{}", clip(name))
            }
        }
        Subject::Anyone => "anyone".to_string(),
        Subject::External(text) => format!("`{}`", clip(text)),
    }
}

/// The longest name written in a rule or subject; longer ones end in "…".
const NAME_SHOWN: usize = 80;

fn clip(name: &str) -> String {
    match name.char_indices().nth(NAME_SHOWN) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_string(),
    }
}

/// Subjects joined with "or", at most [`MEMBERS_SHOWN`] of them.
fn subjects_text(policy: &Policy, subjects: &[Subject], expand: bool) -> String {
    if subjects.is_empty() {
        return "anyone".into();
    }
    let mut parts: Vec<String> = subjects.iter().take(MEMBERS_SHOWN).map(|s| subject_text(policy, s, expand)).collect();
    if subjects.len() > MEMBERS_SHOWN {
        parts.push(format!("{} more", subjects.len() - MEMBERS_SHOWN));
    }
    parts.join(" or ")
}

/// An approval rule in words, e.g. "1 approval from @leads (Ada, Bo), not the author".
/// With `expand`, references to named rules are written out and groups list their members.
///
/// Validation bounds a rule written out ([`limits::MAX_NESTING`] deep,
/// [`limits::MAX_RULE_PARTS`] parts); for a policy built by hand the same limits stop the
/// writing out, and what is left is named (`rule \`x\``) or elided (`…`).
pub fn rule_text(policy: &Policy, rule: &ApprovalRule, expand: bool) -> String {
    RuleWriter { policy, expand, budget: limits::MAX_RULE_PARTS, chars_left: RULE_TEXT_CHARS }.text(rule, 0)
}

/// About how long the text of one rule may grow before the rest is elided (`…`): a rule
/// of the largest size allowed, naming the largest groups, stays readable and small.
const RULE_TEXT_CHARS: usize = 16 * 1024;

struct RuleWriter<'p> {
    policy: &'p Policy,
    expand: bool,
    /// Parts still to be written out in full.
    budget: usize,
    /// Characters the approvals still to be written may take.
    chars_left: usize,
}

impl RuleWriter<'_> {
    fn text(&mut self, rule: &ApprovalRule, depth: usize) -> String {
        if depth > limits::MAX_NESTING || self.budget == 0 || self.chars_left == 0 {
            return match rule {
                ApprovalRule::Ref(name) => format!("rule `{}`", clip(name)),
                _ => "…".to_string(),
            };
        }
        self.budget -= 1;
        let policy = self.policy;
        let expand = self.expand;
        match rule {
            ApprovalRule::Approvals { count, from, exclude_author, exclude_committers, current_head_only } => {
                let mut text = format!(
                    "{count} approval{} from {}",
                    if *count == 1 { "" } else { "s" },
                    subjects_text(policy, from, expand)
                );
                let mut conditions = Vec::new();
                if *exclude_author {
                    conditions.push("not the author");
                }
                if *exclude_committers {
                    conditions.push("not a committer");
                }
                if *current_head_only {
                    conditions.push("on the final commit");
                }
                if !conditions.is_empty() {
                    let _ = write!(text, " ({})", conditions.join(", "));
                }
                self.chars_left = self.chars_left.saturating_sub(text.len());
                text
            }
            ApprovalRule::OwnerAck => "acknowledgment by an owner of every sensitive area touched".into(),
            ApprovalRule::CodeOwners => "approval by an owner of every owned area touched".into(),
            ApprovalRule::Ref(name) => match (expand, policy.rules.get(name)) {
                (true, Some(target)) => self.text(target, depth + 1),
                _ => format!("rule `{}`", clip(name)),
            },
            ApprovalRule::All(parts) => {
                let parts: Vec<String> = self.flatten_all(parts, depth).iter().map(|(p, d)| self.text(p, *d)).collect();
                if parts.len() == 1 { parts[0].clone() } else { format!("all of: {}", parts.join("; and ")) }
            }
            ApprovalRule::AllDistinct(parts) => {
                let parts: Vec<String> = self.flatten_all(parts, depth).iter().map(|(p, d)| self.text(p, *d)).collect();
                format!("all of, each by a different person: {}", parts.join("; and "))
            }
            ApprovalRule::Any(parts) => {
                let parts: Vec<String> = parts.iter().map(|p| self.text(p, depth + 1)).collect();
                if parts.len() == 1 { parts[0].clone() } else { format!("one of: {}", parts.join("; or ")) }
            }
        }
    }

    /// Nested `all` rules (also through references when expanding) read as one list; each
    /// part comes with the depth it is written at. Spends the budget on the `all`s and
    /// references it flattens, as writing them would.
    fn flatten_all(&mut self, parts: &[ApprovalRule], depth: usize) -> Vec<(ApprovalRule, usize)> {
        let mut out = Vec::new();
        // Parts still to look at, last first, so that the list keeps the rule's order.
        let mut pending: Vec<(&ApprovalRule, usize)> = parts.iter().rev().map(|p| (p, depth + 1)).collect();
        while let Some((part, at)) = pending.pop() {
            let resolved = match part {
                ApprovalRule::Ref(name) if self.expand && at <= limits::MAX_NESTING && self.budget > 0 => {
                    match self.policy.rules.get(name) {
                        Some(target) => {
                            self.budget -= 1;
                            (target, at + 1)
                        }
                        None => (part, at),
                    }
                }
                _ => (part, at),
            };
            match resolved {
                (ApprovalRule::All(inner), at) if at <= limits::MAX_NESTING && self.budget > 0 => {
                    self.budget -= 1;
                    pending.extend(inner.iter().rev().map(|p| (p, at + 1)));
                }
                (other, at) => out.push((other.clone(), at)),
            }
        }
        out
    }
}

/// The quorum of a rule: "both required", "1 of 2", "2 required".
fn quorum_text(policy: &Policy, rule: &ApprovalRule) -> String {
    let mut rule = rule;
    // Follow a chain of references to the rule that says how many (at most as deep as a
    // rule may nest).
    for _ in 0..=limits::MAX_NESTING {
        let ApprovalRule::Ref(name) = rule else { break };
        match policy.rules.get(name) {
            Some(target) => rule = target,
            None => return String::new(),
        }
    }
    match rule {
        ApprovalRule::Ref(_) => String::new(),
        ApprovalRule::All(parts) if parts.len() == 2 => "both required".into(),
        ApprovalRule::All(parts) => format!("all {} required", parts.len()),
        ApprovalRule::AllDistinct(parts) if parts.len() == 2 => "both required, by different people".into(),
        ApprovalRule::AllDistinct(parts) => format!("all {} required, by different people", parts.len()),
        ApprovalRule::Any(_) => "1 required".into(),
        ApprovalRule::Approvals { count, .. } => format!("{count} required"),
        ApprovalRule::OwnerAck | ApprovalRule::CodeOwners => "owners".into(),
    }
}

/// A condition in words. Validation bounds how deep conditions nest
/// ([`limits::MAX_NESTING`]); deeper parts of a condition built by hand are elided (`…`).
pub fn condition_text(condition: &Condition) -> String {
    condition_text_at(condition, 0)
}

fn condition_text_at(condition: &Condition, depth: usize) -> String {
    if depth > limits::MAX_NESTING {
        return "…".into();
    }
    let nested = |c: &Condition| match c {
        Condition::All(_) | Condition::Any(_) => format!("({})", condition_text_at(c, depth + 1)),
        other => condition_text_at(other, depth + 1),
    };
    match condition {
        Condition::Always => "always".into(),
        Condition::PathsAny(set) => format!("a changed path matches {}", code_list(&set.raw())),
        Condition::PathsOnly(set) => format!("every changed path matches {}", code_list(&set.raw())),
        Condition::Area(area) => format!("it touches the {area} area"),
        Condition::Label(label) => format!("it has the label `{label}`"),
        Condition::Trailer { key, value: Some(value) } => format!("a commit carries the trailer `{key}: {value}`"),
        Condition::Trailer { key, value: None } => format!("a commit carries a `{key}` trailer"),
        Condition::Title(re) => format!("the title matches `{}`", re.as_str()),
        Condition::Checkbox(text) => format!("the PR checkbox \u{201c}{text}\u{201d} is ticked"),
        Condition::Author(subject) => format!("the author is {subject}"),
        Condition::Kind(kind) => format!("it is a {}", kind.describe()),
        Condition::All(parts) => parts.iter().map(nested).collect::<Vec<_>>().join(" and "),
        Condition::Any(parts) => parts.iter().map(nested).collect::<Vec<_>>().join(" or "),
        Condition::Not(inner) => format!("not ({})", condition_text_at(inner, depth + 1)),
    }
}

fn categories_text(categories: &[String]) -> String {
    if categories.is_empty() { "all".into() } else { categories.join(", ") }
}

fn skip_text(kind: &str) -> String {
    match kind {
        "review" => "pre-merge review".into(),
        "owner-ack" => "area-owner acknowledgment".into(),
        "tests" => "new tests (co-changed test files)".into(),
        "description" => "the PR description requirements".into(),
        "co-change" => "co-change requirements".into(),
        "ci" => "CI gates".into(),
        "ticket" => "the ticket reference".into(),
        other => format!("`{other}`"),
    }
}

/// What `[emergency] self-authorization` means, in a sentence.
fn self_authorization_text(allowed: bool) -> &'static str {
    if allowed {
        "The author of a change may authorize its emergency themselves."
    } else {
        "The author of a change may not authorize its emergency: an authorization by the author (the same person by email or login) does not count, even from an authorizer."
    }
}

/// What `[evidence] attested-approvals` means, in a sentence.
fn attested_text(setting: AttestedApprovals) -> &'static str {
    match setting {
        AttestedApprovals::Never => {
            "An approval or emergency authorization recorded by one person in another's name (attested) never counts."
        }
        AttestedApprovals::NotForAuthorExcludingRules => {
            "An approval recorded by one person in another's name (attested) does not count where the approver must be someone other than the author: rules that exclude the author or committers, and area owners' reviews and acknowledgments. Elsewhere it counts, and the report names who recorded it."
        }
        AttestedApprovals::Always => {
            "An approval recorded by one person in another's name (attested) counts; the report names who recorded it."
        }
    }
}

/// The policy file, as the repository holds it (ARCHITECTURE: `countersign.toml` at the root).
pub const POLICY_FILE: &str = "countersign.toml";

/// The area that makes every document approver approve a change to the policy file, if
/// there is one: the area owning `countersign.toml` requires a rule in which each approver
/// is, on their own, a required approval (S004-14).
pub fn policy_file_approval(policy: &Policy) -> Option<&str> {
    fn required_subjects(policy: &Policy, rule: &ApprovalRule, out: &mut Vec<Subject>) {
        // Written out, a valid rule has at most `MAX_RULE_PARTS` parts; the budget keeps a
        // rule built by hand from taking longer.
        let mut budget = limits::MAX_RULE_PARTS;
        let mut pending = vec![(rule, 0usize)];
        while let Some((rule, depth)) = pending.pop() {
            if depth > limits::MAX_NESTING || budget == 0 {
                continue;
            }
            budget -= 1;
            match rule {
                ApprovalRule::Approvals { from, .. } if from.len() == 1 => out.push(from[0].clone()),
                ApprovalRule::Ref(name) => {
                    if let Some(inner) = policy.rules.get(name) {
                        pending.push((inner, depth + 1));
                    }
                }
                ApprovalRule::All(parts) | ApprovalRule::AllDistinct(parts) => {
                    pending.extend(parts.iter().rev().map(|p| (p, depth + 1)));
                }
                _ => {}
            }
        }
    }
    if policy.meta.document_approvers.is_empty() {
        return None;
    }
    let area = policy.area_for(POLICY_FILE)?;
    let rule = policy.rules.get(area.require.as_deref()?)?;
    let mut required = Vec::new();
    required_subjects(policy, rule, &mut required);
    policy.meta.document_approvers.iter().all(|s| required.contains(s)).then_some(area.name.as_str())
}

/// The document outline, shared by Markdown and HTML.
pub fn document(policy: &Policy) -> Vec<Block> {
    use Block::*;
    let meta = &policy.meta;
    let mut doc = vec![Heading(1, format!("{} — {}", meta.title, meta.organization))];
    let mut facts = vec![
        vec!["Organization".to_string(), meta.organization.clone()],
        vec!["Version".into(), meta.version.clone()],
        vec!["Effective".into(), meta.effective.to_string()],
        vec![
            "Owner".into(),
            policy.people.get(&meta.owner).map(|p| p.name.clone()).unwrap_or_else(|| meta.owner.clone()),
        ],
        vec!["Last review".into(), meta.last_review.map(|d| d.to_string()).unwrap_or_else(|| "—".into())],
        vec!["Next review".into(), meta.next_review.to_string()],
    ];
    if let Some(id) = &meta.document_id {
        facts.insert(0, vec!["Document".into(), id.clone()]);
    }
    doc.push(Table { header: vec!["".into(), "".into()], rows: facts });

    doc.push(Heading(2, "Enforced and attested statements".into()));
    doc.push(Paragraph("Every rule in this document carries a marker that says how it is upheld:".into()));
    doc.push(List(vec![
        "[enforced: …] countersign checks the rule on every change, from the evidence named: git history (commits, their trailers and the files they change), forge review (the pull request: its reviews, description, labels and checkboxes), CI results (check runs and commit statuses) or recorded evidence (entries in countersign's signed evidence log).".to_string(),
        format!(
            "{} a procedure that people follow and attest to. This document states it, but countersign does not check it.",
            ATTESTED.marker()
        ),
    ]));

    doc.push(Heading(2, "Purpose".into()));
    doc.push(Paragraph(meta.purpose.clone().unwrap_or_else(|| {
        format!(
            "This policy sets how changes at {} are proposed, reviewed, approved, deployed and recorded.",
            meta.organization
        )
    })));
    doc.push(Heading(2, "Scope".into()));
    if meta.scope.is_empty() {
        doc.push(Paragraph("All changes to the repositories governed by this policy file.".into()));
    } else {
        doc.push(List(meta.scope.clone()));
    }

    if !policy.docs.lifecycle.is_empty() {
        doc.push(Heading(2, "Change lifecycle".into()));
        doc.push(Paragraph(ATTESTED.on(format!("Every change moves through: {}.", policy.docs.lifecycle.join(" → ")))));
    }

    // Roles and people.
    doc.push(Heading(2, "Roles and people".into()));
    if policy.people.is_empty() {
        doc.push(Paragraph("The policy names no people.".into()));
    } else {
        // Each person's groups, found in one pass over the groups.
        let mut groups_of: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
        for g in policy.groups.values() {
            for member in &g.members {
                groups_of.entry(member.as_str()).or_default().push(g.name.as_str());
            }
        }
        let rows = policy
            .people
            .values()
            .map(|p| {
                let mut roles = p.roles.clone();
                let mut listed: std::collections::BTreeSet<&str> = p.roles.iter().map(String::as_str).collect();
                for g in groups_of.get(p.id.as_str()).into_iter().flatten() {
                    if listed.insert(g) {
                        roles.push(g.to_string());
                    }
                }
                vec![
                    format!("{}{}", p.name, if p.bot { " (automation)" } else { "" }),
                    p.title.clone().unwrap_or_default(),
                    roles.iter().map(|r| format!("@{r}")).collect::<Vec<_>>().join(", "),
                    p.emails.iter().chain(p.logins.iter()).cloned().collect::<Vec<_>>().join(", "),
                ]
            })
            .collect();
        doc.push(Table {
            header: vec!["Person".into(), "Title".into(), "Roles and groups".into(), "Identities".into()],
            rows,
        });
    }
    if !policy.groups.is_empty() {
        let rows = policy
            .groups
            .values()
            .map(|g| {
                vec![
                    format!("@{}", g.name),
                    g.members.iter().map(|m| person_label(policy, m)).collect::<Vec<_>>().join(", "),
                    g.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        doc.push(Table { header: vec!["Group".into(), "Members".into(), "Description".into()], rows });
    }

    // Categories.
    doc.push(Heading(2, "Change categories".into()));
    let mut rows = Vec::new();
    for c in &policy.categories {
        let when = if c.id == policy.default_category && matches!(c.when, Condition::Always) {
            "when no other category applies (default)".to_string()
        } else if c.id == policy.default_category {
            format!("{} (default when no other category applies)", condition_text(&c.when))
        } else {
            condition_text(&c.when)
        };
        let mut approval = match &c.require {
            Some(rule) => {
                policy.rules.get(rule).map(|r| rule_text(policy, &policy.resolve_rule(r), false)).unwrap_or_default()
            }
            None => "no approval required".into(),
        };
        if c.self_merge {
            approval.push_str("; self-merge allowed and recorded");
        }
        if !c.required_trailers.is_empty() {
            let _ = write!(
                approval,
                "; commit must carry {}",
                code_list(&c.required_trailers.iter().map(String::as_str).collect::<Vec<_>>())
            );
        }
        if c.emergency {
            approval.push_str("; emergency procedure applies");
        }
        let mut sources = Sources::GIT.or(condition_sources(&c.when));
        if c.require.is_some() {
            sources = sources.or(Sources::APPROVALS);
        }
        rows.push(vec![
            c.name.clone(),
            c.description.clone().unwrap_or_default(),
            when,
            approval,
            enforced(sources).marker(),
        ]);
    }
    doc.push(Table {
        header: vec!["Category".into(), "Definition".into(), "Applies when".into(), "Approval".into(), "Basis".into()],
        rows,
    });
    if policy.categories.len() > 1 {
        doc.push(Paragraph("When several categories apply, the one with the highest precedence is used.".into()));
    }

    // Risk levels and the approval matrix.
    if !policy.risks.is_empty() {
        doc.push(Heading(2, "Risk levels and approval matrix".into()));
        let mut risks: Vec<&Risk> = policy.risks.iter().collect();
        risks.sort_by_key(|r| std::cmp::Reverse(r.rank));
        let rows = risks
            .iter()
            .map(|r| {
                let (approvers, quorum) = match r.require.as_ref().and_then(|n| policy.rules.get(n)) {
                    Some(rule) => (rule_text(policy, rule, true), quorum_text(policy, rule)),
                    None => ("—".into(), "—".into()),
                };
                let criteria = match (&r.description, policy.default_risk.as_deref() == Some(r.id.as_str())) {
                    (Some(d), true) => format!("{d} (default)"),
                    (Some(d), false) => d.clone(),
                    (None, _) => condition_text(&r.when),
                };
                let mut sources = Sources::GIT.or(condition_sources(&r.when));
                if r.require.is_some() {
                    sources = sources.or(Sources::APPROVALS);
                }
                vec![r.name.clone(), criteria, approvers, quorum, enforced(sources).marker()]
            })
            .collect();
        doc.push(Table {
            header: vec!["Risk".into(), "Criteria".into(), "Approvers".into(), "Quorum".into(), "Basis".into()],
            rows,
        });
        let rows = risks.iter().map(|r| vec![r.name.clone(), condition_text(&r.when)]).collect();
        doc.push(Paragraph("A change's risk level is the highest-ranked level whose condition it meets:".into()));
        doc.push(Table { header: vec!["Risk".into(), "Assigned when".into()], rows });
    }

    // Approval rules.
    if !policy.rules.is_empty() {
        doc.push(Heading(2, "Approval rules".into()));
        let rows = policy
            .rules
            .iter()
            .map(|(name, rule)| {
                vec![format!("`{name}`"), rule_text(policy, rule, true), enforced(Sources::APPROVALS).marker()]
            })
            .collect();
        doc.push(Table { header: vec!["Rule".into(), "Requires".into(), "Basis".into()], rows });
    }

    // Areas.
    doc.push(Heading(2, "Areas and owners".into()));
    if policy.areas.is_empty() {
        doc.push(Paragraph("The policy defines no owned areas.".into()));
    } else {
        let rows = policy
            .areas
            .iter()
            .map(|a| {
                let mut extra = Vec::new();
                if a.sensitive {
                    extra.push("owner acknowledgment required".to_string());
                }
                if let Some(rule) = &a.require {
                    extra.push(format!(
                        "also requires {}",
                        policy.rules.get(rule).map(|r| rule_text(policy, r, false)).unwrap_or_default()
                    ));
                }
                let basis = if extra.is_empty() {
                    "—".to_string()
                } else {
                    enforced(Sources::GIT.or(Sources::APPROVALS)).marker()
                };
                vec![
                    a.name.clone(),
                    code_list(&a.paths.raw()),
                    subjects_text(policy, &a.owners, false),
                    extra.join("; "),
                    basis,
                ]
            })
            .collect();
        doc.push(Table {
            header: vec!["Area".into(), "Paths".into(), "Owners".into(), "Extra requirements".into(), "Basis".into()],
            rows,
        });
        doc.push(Paragraph(
            "Paths follow CODEOWNERS rules; when several areas match a file, the last one listed owns it.".into(),
        ));
    }
    if let Some(c) = &policy.codeowners {
        doc.push(Paragraph(format!(
            "The repository's CODEOWNERS file ({}) is imported as further areas, listed after these, so its lines win where both match{}.",
            code_list(&c.files.iter().map(String::as_str).collect::<Vec<_>>()),
            if c.sensitive { "; imported areas require owner acknowledgment" } else { "" }
        )));
    }

    // Branch protection.
    doc.push(Heading(2, "Branches and merging".into()));
    let b = &policy.branch;
    let git = enforced(Sources::GIT);
    let mut items = vec![git.on(format!(
        "Protected branches: {}.",
        code_list(&b.protected.iter().map(String::as_str).collect::<Vec<_>>())
    ))];
    items.push(if b.forbid_direct_push {
        git.on("No direct commits: every commit on a protected branch comes through a pull request.")
    } else {
        "Direct commits to protected branches are allowed.".into()
    });
    if b.require_signed_commits {
        items.push(git.on("Commits must be signed."));
    }
    if let Some(t) = &b.ticket_pattern {
        items.push(
            enforced(Sources::FORGE.or(Sources::GIT))
                .on(format!("Every pull request references a ticket (matching `{t}`).")),
        );
    }
    if let Some(m) = &b.merge_method {
        items.push(ATTESTED.on(format!("Merge method: {m}.")));
    }
    doc.push(List(items));

    // Gates.
    doc.push(Heading(2, "CI gates".into()));
    if policy.gates.is_empty() {
        doc.push(Paragraph("The policy names no CI gates.".into()));
    } else {
        let rows = policy
            .gates
            .iter()
            .map(|g| {
                let mut name = format!("`{}`", g.check);

                if !g.aliases.is_empty() {
                    let _ = write!(
                        name,
                        " (also {})",
                        code_list(&g.aliases.iter().map(String::as_str).collect::<Vec<_>>())
                    );
                }
                if !g.paths.is_empty() {
                    let _ = write!(name, ", only when {} changes", code_list(&g.paths.raw()));
                }
                vec![
                    name,
                    g.description.clone().unwrap_or_default(),
                    match g.scope {
                        GateScope::All => "every change".into(),
                        GateScope::MainOnly => "protected branches only".into(),
                    },
                    categories_text(&g.categories),
                    if g.emergency_may_skip { "may be skipped".into() } else { "never skipped".into() },
                    enforced(Sources::CI).marker(),
                ]
            })
            .collect();
        doc.push(Table {
            header: vec![
                "Check".into(),
                "Purpose".into(),
                "Runs on".into(),
                "Categories".into(),
                "In an emergency".into(),
                "Basis".into(),
            ],
            rows,
        });
        doc.push(Paragraph(enforced(Sources::CI.or(Sources::APPROVALS)).on(
            "A failing gate blocks merge. A passing gate does not by itself authorize a merge: the approvals above are still required.",
        )));
    }

    // Description.
    if !policy.description.is_empty() {
        doc.push(Heading(2, "Pull request description".into()));
        let rows = policy
            .description
            .iter()
            .map(|d| {
                vec![
                    categories_text(&d.categories),
                    d.sections.join(", "),
                    d.checklists.join(", "),
                    enforced(Sources::FORGE.or(Sources::GIT)).marker(),
                ]
            })
            .collect();
        doc.push(Table {
            header: vec![
                "Categories".into(),
                "Required sections".into(),
                "Checklists fully ticked".into(),
                "Basis".into(),
            ],
            rows,
        });
    }

    // Other checks.
    if !policy.co_changes.is_empty() || !policy.append_only.is_empty() || !policy.content_flags.is_empty() {
        doc.push(Heading(2, "Change content rules".into()));
        let mut items = Vec::new();
        for c in &policy.co_changes {
            items.push(enforced(Sources::GIT.or(condition_sources(&c.when))).on(format!(
                "{}: when {}, the change must also touch {}.",
                c.description,
                condition_text(&c.when),
                code_list(&c.must_touch.raw())
            )));
        }
        for a in &policy.append_only {
            let mut text = format!(
                "Files under {} are append-only: they may be added, never modified or deleted",
                code_list(&a.paths.raw())
            );
            if let Some(p) = &a.name_pattern {
                let _ = write!(text, "; new file names must match `{p}`");
            }
            if a.sequential {
                text.push_str(
                    "; new files are numbered in sequence (the pattern's first group is the number): each new number is one more than the highest before it, with no gaps and no duplicates",
                );
            }
            text.push('.');
            items.push(git.on(text));
        }
        for f in &policy.content_flags {
            let mut text = format!("{}: added lines matching `{}`", f.description, f.pattern);
            if !f.paths.is_empty() {
                let _ = write!(text, " in {}", code_list(&f.paths.raw()));
            }
            let mut sources = Sources::GIT;
            if f.forbidden {
                text.push_str(
                    " are forbidden: a match is a violation that no approval, self-merge, emergency or exception clears",
                );
            } else {
                text.push_str(" are flagged");
                if let Some(rule) = f.require.as_ref().and_then(|r| policy.rules.get(r)) {
                    let _ = write!(text, " and need {}", rule_text(policy, rule, false));
                    sources = sources.or(Sources::APPROVALS);
                }
            }
            text.push('.');
            items.push(enforced(sources).on(text));
        }
        doc.push(List(items));
    }

    // Emergency.
    doc.push(Heading(2, "Emergency changes".into()));
    match &policy.emergency {
        None => doc.push(Paragraph(
            "The policy defines no emergency procedure; every change follows the standard flow.".into(),
        )),
        Some(e) => {
            let authorization = enforced(Sources::GIT.or(Sources::RECORDED));
            let mut items =
                vec![authorization.on(format!("Authorized by: {}.", subjects_text(policy, &e.authorizers, true)))];
            items.push(authorization.on(format!(
                "The authorization is recorded in the `{}` commit trailer, or as recorded evidence.",
                e.authorization_trailer
            )));
            items.push(authorization.on(self_authorization_text(e.self_authorization)));
            if e.may_skip.is_empty() {
                items.push(authorization.on("Nothing in the standard flow may be skipped."));
            } else {
                items.push(authorization.on(format!(
                    "May skip: {}.",
                    e.may_skip.iter().map(|k| skip_text(k)).collect::<Vec<_>>().join(", ")
                )));
            }
            let never: Vec<String> = policy
                .gates
                .iter()
                .filter(|g| {
                    !g.emergency_may_skip && !e.may_skip.contains(&"ci".to_string()) && !e.may_skip.contains(&g.check)
                })
                .map(|g| format!("`{}`", g.check))
                .collect();
            if !never.is_empty() {
                items.push(
                    enforced(Sources::CI).on(format!("Still required, even in an emergency: {}.", never.join(", "))),
                );
            }
            if policy.content_flags.iter().any(|f| f.forbidden) {
                items.push(git.on("Forbidden content stays forbidden in an emergency."));
            }
            doc.push(List(items));
            if !e.obligations.is_empty() {
                doc.push(Paragraph(
                    "Afterwards, each emergency change creates these obligations, tracked until met by recorded evidence of their fulfilment:".into(),
                ));
                let rows = e
                    .obligations
                    .iter()
                    .map(|o| {
                        vec![
                            o.description.clone(),
                            format!("within {}", duration_words(o.within)),
                            enforced(Sources::RECORDED).marker(),
                        ]
                    })
                    .collect();
                doc.push(Table { header: vec!["Obligation".into(), "Deadline".into(), "Basis".into()], rows });
            }
        }
    }

    // Exceptions.
    doc.push(Heading(2, "Exceptions".into()));
    if policy.exceptions.is_empty() {
        doc.push(Paragraph("There are no standing exceptions.".into()));
    } else {
        let rows = policy
            .exceptions
            .iter()
            .map(|x| {
                let mut ends = Vec::new();
                if let Some(d) = x.review_by {
                    ends.push(format!("re-evaluate by {d}"));
                }
                if let Some((g, n)) = &x.until_group_exceeds {
                    ends.push(format!("ends when @{g} has more than {n} members"));
                }
                vec![
                    if x.people.is_empty() {
                        "anyone".into()
                    } else {
                        x.people.iter().map(|p| person_label(policy, p)).collect::<Vec<_>>().join(", ")
                    },
                    x.waives.iter().map(|k| skip_text(k)).collect::<Vec<_>>().join(", "),
                    categories_text(&x.categories),
                    x.justification.clone(),
                    x.approved_by.iter().map(|p| person_label(policy, p)).collect::<Vec<_>>().join(", "),
                    ends.join("; "),
                    enforced(Sources::GIT).marker(),
                ]
            })
            .collect();
        doc.push(Table {
            header: vec![
                "Who".into(),
                "Waives".into(),
                "Categories".into(),
                "Justification".into(),
                "Approved by".into(),
                "Ends".into(),
                "Basis".into(),
            ],
            rows,
        });
    }

    // Deploy.
    if policy.deploy.is_some() || !policy.docs.environments.is_empty() {
        doc.push(Heading(2, "Deployment".into()));
    }
    if let Some(d) = &policy.deploy {
        // The deploy gate (`countersign deploy check`) judges these from recorded deploys,
        // git and the request itself.
        let gate = enforced(Sources::RECORDED.or(Sources::GIT));
        let production = d.production().unwrap_or("production");
        let mut items = Vec::new();
        if !d.environments.is_empty() {
            items.push(gate.on(format!(
                "Environments, in order: {}. Every change deployed to an environment since its last successful deploy is compliant, or an authorized emergency.",
                d.environments.join(" → ")
            )));
        }
        if d.same_artifact {
            items.push(gate.on("Each environment receives the same artifact (same digest) that was deployed successfully to every environment before it, emergencies included."));
        }
        if let Some(p) = &d.production_path {
            items.push(gate.on(format!("The only sanctioned path to {production} is `{p}`.")));
        }
        if d.production_manual {
            items.push(gate.on(format!("Deploys to {production} are triggered by hand, by a person of this policy.")));
        }
        if !d.stages.is_empty() {
            items.push(gate.on(format!(
                "Deploy order within a release: {}. A stage deploys only after the stages before it.",
                d.stages.join(", then ")
            )));
        }
        for (env, branch) in &d.branches {
            items.push(gate.on(format!("{env} is deployed only from commits on `{branch}`.")));
        }
        if d.clean_worktree {
            items.push(gate.on(format!(
                "A local deploy to {production} starts only from a clean working tree equal to `origin/main`."
            )));
        }
        if !d.windows.is_empty() {
            let windows: Vec<&str> = d.windows.iter().map(|w| w.text.as_str()).collect();
            items.push(gate.on(format!(
                "Deploys to {production} happen only in the approved windows (UTC): {}.",
                windows.join("; ")
            )));
        }
        for f in &d.freezes {
            let envs =
                if f.environments.is_empty() { "every environment".to_string() } else { f.environments.join(", ") };
            items.push(gate.on(format!(
                "Change freeze {} to {} ({}), owned by {}: no deploy to {envs}.",
                f.from, f.until, f.reason, f.owner
            )));
        }
        if d.verify {
            items.push(gate.on(format!(
                "A deploy to {production} is closed with a passing health check and its actual completion time."
            )));
        }
        if !items.is_empty() {
            doc.push(List(items));
        }
    }
    if !policy.docs.environments.is_empty() {
        let rows = policy
            .docs
            .environments
            .iter()
            .map(|e| vec![e.name.clone(), e.trigger.clone(), e.approval.clone(), ATTESTED.marker()])
            .collect();
        doc.push(Table {
            header: vec!["Environment".into(), "Deployed on".into(), "Approval".into(), "Basis".into()],
            rows,
        });
    }
    if let Some(c) = &policy.console {
        doc.push(Heading(2, "Console changes".into()));
        doc.push(Paragraph(ATTESTED.on(format!(
            "Every change made in a provider console ({}) is logged with: {}.",
            if c.providers.is_empty() { "any provider".into() } else { c.providers.join(", ") },
            c.required_fields.join(", ")
        ))));
    }

    if let Some(max) = policy.metrics.as_ref().and_then(|m| m.incidents_caused_by_change_max) {
        doc.push(Heading(2, "Metrics".into()));
        doc.push(Paragraph(ATTESTED.on(format!(
            "Each month, fewer than {}% of production incidents may be caused by a change; a month over it is a finding of the period report.",
            max * 100.0
        ))));
    }

    // Rollback.
    if !policy.docs.rollback.is_empty() || !policy.docs.rollback_triggers.is_empty() {
        doc.push(Heading(2, "Rollback".into()));
        if !policy.docs.rollback.is_empty() {
            let rows = policy
                .docs
                .rollback
                .iter()
                .map(|r| {
                    vec![
                        r.change_type.clone(),
                        r.method.clone(),
                        r.target.map(duration_words).unwrap_or_else(|| "—".into()),
                        ATTESTED.marker(),
                    ]
                })
                .collect();
            doc.push(Table {
                header: vec!["Change type".into(), "Rollback method".into(), "Target time".into(), "Basis".into()],
                rows,
            });
        }
        if !policy.docs.rollback_triggers.is_empty() {
            doc.push(Paragraph(ATTESTED.on("Roll back when:")));
            doc.push(List(policy.docs.rollback_triggers.clone()));
        }
    }

    // Evidence and retention.
    doc.push(Heading(2, "Evidence and retention".into()));
    let ev = &policy.evidence;
    doc.push(List(vec![
        format!(
            "Review approvals are read from the forge and from the commit trailers {}.",
            code_list(&ev.review_trailers.iter().map(String::as_str).collect::<Vec<_>>())
        ),
        format!(
            "CI results may also come from the trailers {}.",
            code_list(&ev.ci_trailers.iter().map(String::as_str).collect::<Vec<_>>())
        ),
        if ev.trailers_complete {
            "Trailers are the complete review record: a change without a review trailer was not reviewed.".into()
        } else {
            "A change with no review record is reported as missing evidence.".into()
        },
        enforced(Sources::RECORDED).on(attested_text(ev.attested_approvals)),
    ]));
    if !policy.docs.retention.is_empty() {
        let rows = policy
            .docs
            .retention
            .iter()
            .map(|r| {
                vec![
                    r.record.clone(),
                    r.location.clone().unwrap_or_default(),
                    match r.days {
                        None => "indefinite".into(),
                        Some(d) if d % 365 == 0 => format!("{} year{}", d / 365, if d == 365 { "" } else { "s" }),
                        Some(d) => format!("{d} days"),
                    },
                    ATTESTED.marker(),
                ]
            })
            .collect();
        doc.push(Table { header: vec!["Record".into(), "Location".into(), "Retention".into(), "Basis".into()], rows });
    }
    if !policy.docs.collectors.is_empty() {
        let rows = policy
            .docs
            .collectors
            .iter()
            .map(|c| vec![c.name.clone(), c.cadence.clone(), c.controls.join(", "), ATTESTED.marker()])
            .collect();
        doc.push(Table {
            header: vec!["Evidence collector".into(), "Cadence".into(), "Controls".into(), "Basis".into()],
            rows,
        });
    }

    for note in &policy.docs.notes {
        doc.push(Heading(2, note.heading.clone()));
        doc.push(Paragraph(ATTESTED.on(&note.text)));
    }

    // Controls.
    doc.push(Heading(2, "Control mapping".into()));
    if meta.controls.is_empty() {
        doc.push(Paragraph("No control mapping is declared.".into()));
    } else {
        let rows = meta
            .controls
            .iter()
            .map(|c| vec![c.framework.clone(), c.id.clone(), c.description.clone().unwrap_or_default()])
            .collect();
        doc.push(Table { header: vec!["Framework".into(), "Control".into(), "Addressed by".into()], rows });
    }

    // Review.
    doc.push(Heading(2, "Review of this policy".into()));
    let mut items =
        vec![ATTESTED.on(format!("{}; next review due {}.", reviewed_sentence(meta.review_every), meta.next_review))];
    if !meta.review_triggers.is_empty() {
        items.push(ATTESTED.on(format!("Also reviewed after: {}.", meta.review_triggers.join("; "))));
    }
    items.push(git.on("Changes to this policy file are themselves changes under this policy."));
    if !meta.document_approvers.is_empty() {
        let approvers =
            meta.document_approvers.iter().map(|s| subject_text(policy, s, false)).collect::<Vec<_>>().join(", ");
        items.push(match policy_file_approval(policy) {
            Some(area) => enforced(Sources::GIT.or(Sources::APPROVALS)).on(format!(
                "This document is approved by: {approvers}. A change to `{POLICY_FILE}` needs each of their approvals (area {area})."
            )),
            None => ATTESTED.on(format!("This document is approved by: {approvers}.")),
        });
    }
    doc.push(List(items));

    doc.push(Heading(2, "Version history".into()));
    if meta.history.is_empty() {
        doc.push(Paragraph(format!("Version {} effective {}.", meta.version, meta.effective)));
    } else {
        let rows = meta
            .history
            .iter()
            .map(|h| vec![h.version.clone(), h.date.to_string(), h.author.clone(), h.reason.clone()])
            .collect();
        doc.push(Table { header: vec!["Version".into(), "Date".into(), "Author".into(), "Reason".into()], rows });
    }
    doc
}

/// The resolved rules in plain text: what each category and risk level requires, with
/// rules resolved and groups expanded to their members.
pub fn explain(policy: &Policy) -> String {
    let mut out = String::new();
    let meta = &policy.meta;
    let _ = writeln!(
        out,
        "{} — {} (version {}, effective {})",
        meta.title, meta.organization, meta.version, meta.effective
    );
    let _ = writeln!(out, "next review: {} (reviewed {})", meta.next_review, cadence_words(meta.review_every));

    let _ = writeln!(out, "\ngroups:");
    for g in policy.groups.values() {
        let _ = writeln!(
            out,
            "  @{} = {}",
            g.name,
            if g.members.is_empty() { "(empty)".into() } else { g.members.join(", ") }
        );
    }

    let _ = writeln!(out, "\ncategories (highest precedence wins; default: {}):", policy.default_category);
    let mut categories: Vec<&Category> = policy.categories.iter().collect();
    categories.sort_by_key(|c| std::cmp::Reverse(c.precedence));
    for c in categories {
        let _ =
            writeln!(out, "  {} [precedence {}]{}", c.id, c.precedence, if c.emergency { " (emergency)" } else { "" });
        let _ = writeln!(out, "    when:    {}", condition_text(&c.when).replace('`', ""));
        let requires = match c.require.as_ref().and_then(|r| policy.rules.get(r).map(|rule| (r, rule))) {
            Some((name, rule)) => format!("{} [rule {name}]", rule_text(policy, rule, true)),
            None => "no approval".into(),
        };
        let _ = writeln!(out, "    requires: {}", requires.replace('`', ""));
        if c.self_merge {
            let _ = writeln!(out, "    self-merge: allowed, recorded");
        }
        if !c.required_trailers.is_empty() {
            let _ = writeln!(out, "    trailers: {}", c.required_trailers.join(", "));
        }
        let gates: Vec<&str> = policy
            .gates
            .iter()
            .filter(|g| g.categories.is_empty() || g.categories.contains(&c.id))
            .map(|g| g.check.as_str())
            .collect();
        if !gates.is_empty() {
            let _ = writeln!(out, "    gates:   {}", gates.join(", "));
        }
        let sections: Vec<&str> = policy
            .description
            .iter()
            .filter(|d| d.categories.is_empty() || d.categories.contains(&c.id))
            .flat_map(|d| d.sections.iter().chain(d.checklists.iter()).map(String::as_str))
            .collect();
        if !sections.is_empty() {
            let _ = writeln!(out, "    description: {}", sections.join(", "));
        }
    }

    if !policy.risks.is_empty() {
        let _ = writeln!(
            out,
            "\nrisk levels (highest rank wins; default: {}):",
            policy.default_risk.as_deref().unwrap_or("none")
        );
        let mut risks: Vec<&Risk> = policy.risks.iter().collect();
        risks.sort_by_key(|r| std::cmp::Reverse(r.rank));
        for r in risks {
            let _ = writeln!(out, "  {} [rank {}]", r.id, r.rank);
            let _ = writeln!(out, "    when:    {}", condition_text(&r.when).replace('`', ""));
            let requires = match r.require.as_ref().and_then(|n| policy.rules.get(n).map(|rule| (n, rule))) {
                Some((name, rule)) => {
                    format!("{} ({}) [rule {name}]", rule_text(policy, rule, true), quorum_text(policy, rule))
                }
                None => "nothing extra".into(),
            };
            let _ = writeln!(out, "    requires: {}", requires.replace('`', ""));
        }
    }

    if !policy.areas.is_empty() {
        let _ = writeln!(out, "\nareas (last match owns a path):");
        for a in &policy.areas {
            let _ = writeln!(
                out,
                "  {}: {} -> {}{}{}",
                a.name,
                a.paths.raw().join(" "),
                subjects_text(policy, &a.owners, true),
                if a.sensitive { " [owner ack]" } else { "" },
                a.require.as_ref().map(|r| format!(" [+rule {r}]")).unwrap_or_default()
            );
        }
    }

    if !policy.gates.is_empty() {
        let _ = writeln!(out, "\ngates:");
        for g in &policy.gates {
            let _ = writeln!(
                out,
                "  {}{}{}{}",
                g.check,
                if g.scope == GateScope::MainOnly { " [protected branches only]" } else { "" },
                if g.emergency_may_skip { " [emergency may skip]" } else { "" },
                if g.categories.is_empty() {
                    String::new()
                } else {
                    format!(" [categories: {}]", g.categories.join(", "))
                }
            );
        }
    }

    if let Some(e) = &policy.emergency {
        let _ = writeln!(out, "\nemergency:");
        let _ = writeln!(
            out,
            "  authorized by: {} (trailer {})",
            subjects_text(policy, &e.authorizers, true),
            e.authorization_trailer
        );
        let _ = writeln!(
            out,
            "  may skip: {}",
            if e.may_skip.is_empty() { "nothing".into() } else { e.may_skip.join(", ") }
        );
        let _ = writeln!(
            out,
            "  self-authorization: {}",
            if e.self_authorization {
                "allowed (the author may authorize their own emergency)"
            } else {
                "not allowed (an authorization by the change's author does not count)"
            }
        );
        for o in &e.obligations {
            let _ = writeln!(out, "  obligation {} within {}: {}", o.id, format_duration(o.within), o.description);
        }
    }

    if !policy.exceptions.is_empty() {
        let _ = writeln!(out, "\nexceptions:");
        for x in &policy.exceptions {
            let mut ends = Vec::new();
            if let Some(d) = x.review_by {
                ends.push(format!("review by {d}"));
            }
            if let Some((g, n)) = &x.until_group_exceeds {
                let size = policy.groups.get(g).map(|g| g.members.len()).unwrap_or(0);
                ends.push(format!("until @{g} > {n} members (now {size})"));
            }
            let _ = writeln!(
                out,
                "  {}: {} may skip {} [{}]",
                x.id,
                if x.people.is_empty() { "anyone".into() } else { x.people.join(", ") },
                x.waives.join(", "),
                ends.join("; ")
            );
        }
    }

    let _ = writeln!(
        out,
        "\nevidence: attested approvals {}",
        match policy.evidence.attested_approvals {
            AttestedApprovals::Never => "never count",
            AttestedApprovals::NotForAuthorExcludingRules => {
                "do not count for rules that exclude the author or committers, nor for owners (not-for-author-excluding-rules)"
            }
            AttestedApprovals::Always => "count (always)",
        }
    );
    let b = &policy.branch;
    let _ = writeln!(
        out,
        "branches: {} (direct push {}{}{})",
        b.protected.join(", "),
        if b.forbid_direct_push { "forbidden" } else { "allowed" },
        if b.require_signed_commits { ", signed commits" } else { "" },
        b.ticket_pattern.as_ref().map(|t| format!(", ticket /{t}/")).unwrap_or_default()
    );
    if let Some(d) = &policy.deploy {
        let _ = writeln!(
            out,
            "deploy: {}{}{}",
            d.environments.join(" -> "),
            if d.same_artifact { " (same artifact)" } else { "" },
            d.production_path.as_ref().map(|p| format!(", production only via {p}")).unwrap_or_default()
        );
    }
    out
}
