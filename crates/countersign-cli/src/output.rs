//! Report rendering: text for people, markdown for PR comments and step summaries, JSON for
//! machines (shape in docs/report-json.md), and GitHub Actions annotations.

use std::fmt::Write as _;
use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

use countersign_engine::report::{Evaluation, RequirementResult, Status, Verdict};
use countersign_engine::summary::Summary;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text (the default).
    Text,
    /// JSON, documented in docs/report-json.md.
    Json,
    /// Markdown, e.g. for $GITHUB_STEP_SUMMARY or a PR comment.
    Markdown,
    /// GitHub Actions workflow commands (::error::/::warning::) plus a short text report.
    Github,
    /// HTML (policy render only).
    Html,
    /// OSCAL 1.1 JSON (`report` only: assessment-results and the assessment-plan they
    /// import, written with --out).
    Oscal,
}

/// The version tag of the JSON documents countersign prints.
pub const SCHEMA_VERSION: u32 = 1;

pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

pub fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

fn marker(status: Status) -> &'static str {
    match status {
        Status::Met => "[met]    ",
        Status::Missing => "[MISSING]",
        Status::Waived => "[waived] ",
        Status::Unknown => "[unknown]",
        Status::Pending => "[pending]",
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Compliant => "compliant",
        Verdict::Violation => "VIOLATION",
        Verdict::EvidenceMissing => "evidence missing",
    }
}

/// How a change is named in reports: its PR number and the commit it ends at, or its
/// kind and commit when there is no PR. Never the same fact twice.
fn change_label(e: &Evaluation) -> String {
    let commit: Option<String> = (!e.change.id.starts_with("pr#")).then(|| e.change.id.chars().take(10).collect());
    let kind = e.change.kind.describe();
    match (e.change.pr_number, commit) {
        (Some(n), Some(c)) => format!("PR #{n} ({kind} {c})"),
        (Some(n), None) => format!("PR #{n} ({kind})"),
        (None, Some(c)) => format!("{c}  {kind}"),
        (None, None) => format!("{}  {kind}", e.change.id),
    }
}

fn classification_line(e: &Evaluation) -> String {
    let mut line = format!("category {} ({})", e.category.id, e.category.reason);
    if let Some(r) = &e.risk {
        let _ = write!(line, " · risk {} ({})", r.id, r.reason);
    }
    if !e.areas.is_empty() {
        let areas: Vec<String> = e
            .areas
            .iter()
            .map(|a| if a.sensitive { format!("{} (sensitive)", a.name) } else { a.name.clone() })
            .collect();
        let _ = write!(line, " · areas {}", areas.join(", "));
    }
    if let Some(author) = &e.change.author {
        let _ = write!(line, " · author {author}");
    }
    if e.self_merge {
        line.push_str(" · self-merge (recorded)");
    }
    line
}

pub fn requirement_line(r: &RequirementResult) -> String {
    let mut line = format!("{} {} — {}", marker(r.status), r.id, r.description);
    if !r.evidence.is_empty() {
        let _ = write!(line, "\n              evidence: {}", r.evidence.join("; "));
    }
    if let Some(d) = &r.detail {
        let _ = write!(line, "\n              {}: {d}", if r.status == Status::Waived { "waived" } else { "note" });
    }
    line
}

/// One change, with every requirement.
pub fn evaluation_text(e: &Evaluation) -> String {
    let mut out = format!("{}  {}  — {}\n", change_label(e), e.change.title, verdict_text(e.verdict));
    let _ = writeln!(out, "    {}", classification_line(e));
    for r in &e.requirements {
        let _ = writeln!(out, "    {}", requirement_line(r));
    }
    if e.requirements.is_empty() {
        let _ = writeln!(out, "    (the policy places no requirement on this change)");
    }
    out
}

pub fn summary_text(s: &Summary) -> String {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Summary: {} changes — {} compliant, {} violations, {} evidence missing",
        s.population, s.compliant, s.violations, s.evidence_missing
    );
    let _ = writeln!(out, "  reviewed by someone other than the author: {}", pct(s.reviewed_by_other_share));
    let _ = writeln!(out, "  with CI evidence:                          {}", pct(s.ci_evidence_share));
    let _ = writeln!(
        out,
        "  direct pushes: {}   self-merges: {}   emergencies: {}",
        s.direct_pushes, s.self_merges, s.emergencies
    );
    if !s.by_category.is_empty() {
        let cats: Vec<String> = s.by_category.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  by category: {}", cats.join(", "));
    }
    let o = &s.obligations;
    if o.open + o.fulfilled + o.fulfilled_late > 0 {
        let _ = writeln!(
            out,
            "  emergency obligations: {} open ({} overdue), {} fulfilled on time, {} fulfilled late",
            o.open, o.overdue, o.fulfilled, o.fulfilled_late
        );
    }
    if !s.missing_by_requirement.is_empty() {
        let miss: Vec<String> = s.missing_by_requirement.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  missing requirements: {}", miss.join(", "));
    }
    out
}

/// The closing line of a text report: the time it judged as of and the policy it used, so
/// that an auditor can reproduce it with `--now`.
pub fn as_of_line(as_of: jiff::Timestamp, policy: &countersign_policy::model::Policy, source: &str) -> String {
    format!(
        "Judged as of {as_of} against {} policy version {} ({source}); reproduce with --now {as_of}\n",
        policy.meta.organization, policy.meta.version
    )
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn evaluation_markdown(e: &Evaluation) -> String {
    let mut out = format!(
        "### {} `{}` {} — **{}**\n\n{}\n\n",
        e.change.pr_number.map(|n| format!("PR #{n}")).unwrap_or_else(|| "Commit".to_string()),
        e.change.id.chars().take(10).collect::<String>(),
        md_escape(&e.change.title),
        e.verdict.as_str(),
        md_escape(&classification_line(e)),
    );
    if e.requirements.is_empty() {
        out.push_str("The policy places no requirement on this change.\n\n");
        return out;
    }
    out.push_str(&requirements_markdown(&e.requirements));
    out.push('\n');
    out
}

/// Requirements as a markdown table: status, requirement, who asks, evidence, note.
pub fn requirements_markdown(requirements: &[RequirementResult]) -> String {
    let mut out = String::from("| Status | Requirement | Required by | Evidence | Note |\n|---|---|---|---|---|\n");
    for r in requirements {
        let _ = writeln!(
            out,
            "| {} | `{}` {} | {} | {} | {} |",
            marker(r.status).trim(),
            r.id,
            md_escape(&r.description),
            md_escape(&r.required_by),
            md_escape(&r.evidence.join("; ")),
            md_escape(r.detail.as_deref().unwrap_or("")),
        );
    }
    out
}

pub fn summary_markdown(s: &Summary) -> String {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    format!(
        "## Summary\n\n| Measure | Value |\n|---|---|\n| Population | {} |\n| Compliant | {} |\n| Violations | {} |\n| Evidence missing | {} |\n| Reviewed by someone other than the author | {} |\n| With CI evidence | {} |\n| Direct pushes | {} |\n| Self-merges | {} |\n| Emergencies | {} |\n| Emergency obligations open (overdue) | {} ({}) |\n| Emergency obligations fulfilled on time / late | {} / {} |\n",
        s.population,
        s.compliant,
        s.violations,
        s.evidence_missing,
        pct(s.reviewed_by_other_share),
        pct(s.ci_evidence_share),
        s.direct_pushes,
        s.self_merges,
        s.emergencies,
        s.obligations.open,
        s.obligations.overdue,
        s.obligations.fulfilled,
        s.obligations.fulfilled_late
    )
}

/// GitHub Actions workflow commands: one `::error` per missing requirement, one `::warning`
/// per requirement that could not be judged.
/// Escaping for a workflow command's message (GitHub's rules: `%`, CR, LF).
pub fn github_escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escaping for a workflow command's property value: the message's rules plus `:` and `,`.
pub fn github_escape_property(s: &str) -> String {
    github_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text for a GitHub Actions log that the runner must not read as workflow commands: PR
/// titles, logins and descriptions are the author's words, and a title such as
/// "x\n::stop-commands::y" would otherwise inject commands. The text is wrapped in a
/// `::stop-commands::` block whose end token is a digest of the text itself, so the text
/// cannot contain it.
pub fn github_inert(text: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let token: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let token = format!("countersign-{token}");
    let mut out = format!("::stop-commands::{token}\n{text}");
    if !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    out
}

pub fn github_annotations(e: &Evaluation) -> String {
    let esc = github_escape_data;
    let mut out = String::new();
    for r in &e.requirements {
        let level = match r.status {
            Status::Missing => "error",
            Status::Unknown => "warning",
            _ => continue,
        };
        let _ = writeln!(
            out,
            "::{level} title=countersign {}::{}{}",
            github_escape_property(&r.id),
            esc(&r.description),
            r.detail.as_deref().map(|d| format!(" — {}", esc(d))).unwrap_or_default()
        );
    }
    out
}
