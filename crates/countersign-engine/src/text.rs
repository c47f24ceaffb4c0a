//! Reading a PR description as data: its sections and its checkboxes (S000-06, S002-02,
//! S004-04, S004-05).

/// A ticked or unticked `- [x] label` line, with the heading it sits under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkbox {
    pub heading: Option<String>,
    pub label: String,
    pub checked: bool,
}

/// Every checkbox in a markdown body, in order.
pub fn checkboxes(body: &str) -> Vec<Checkbox> {
    let mut heading = None;
    let mut out = Vec::new();
    for line in body.lines() {
        let trimmed = line.trim();
        if let Some(h) = heading_text(trimmed) {
            heading = Some(h.to_string());
            continue;
        }
        let Some(rest) =
            trimmed.strip_prefix("- ").or_else(|| trimmed.strip_prefix("* ")).or_else(|| trimmed.strip_prefix("+ "))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let (checked, label) = if let Some(l) = rest.strip_prefix("[x]").or_else(|| rest.strip_prefix("[X]")) {
            (true, l)
        } else if let Some(l) = rest.strip_prefix("[ ]") {
            (false, l)
        } else {
            continue;
        };
        out.push(Checkbox { heading: heading.clone(), label: label.trim().to_string(), checked });
    }
    out
}

/// The text of a markdown heading line (`## What`), or of a line that is only bold
/// (`**What**`, `**What:**`).
fn heading_text(line: &str) -> Option<&str> {
    if line.starts_with('#') {
        let text = line.trim_start_matches('#').trim();
        return (!text.is_empty()).then_some(text);
    }
    let inner = line.strip_prefix("**")?.strip_suffix("**")?;
    let inner = inner.trim().trim_end_matches(':').trim();
    (!inner.is_empty()).then_some(inner)
}

/// Whether the body has a section with this name that has some content: a heading
/// (`## Testing`), a bold line, or a `Testing:` line with text after it or below it.
/// Placeholder text left from a template (`[Describe the change]`) does not count.
pub fn has_section(body: &str, section: &str) -> bool {
    let want = normalize(section);
    let lines: Vec<&str> = body.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let (name, inline_rest) = if let Some(h) = heading_text(line) {
            (h, "")
        } else if let Some((name, rest)) = line.split_once(':') {
            let name = name.trim().trim_start_matches(['-', '*']).trim().trim_matches('*');
            (name, rest.trim().trim_matches('*').trim())
        } else {
            continue;
        };
        if normalize(name) != want && !normalize(name).starts_with(&format!("{want} ")) {
            continue;
        }
        if is_content(inline_rest) {
            return true;
        }
        // Content is whatever follows until the next heading.
        for next in &lines[i + 1..] {
            let next = next.trim();
            if heading_text(next).is_some() {
                break;
            }
            if is_content(next) {
                return true;
            }
        }
    }
    false
}

fn is_content(text: &str) -> bool {
    let t = text.trim();
    !(t.is_empty() || (t.starts_with('[') && t.ends_with(']')) || t.starts_with("<!--") || t == "N/A?" || t == "TODO")
}

fn normalize(s: &str) -> String {
    s.trim().trim_end_matches(':').split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "## Description\n\nAdds rate limiting.\n\n## Type of Change\n\n- [ ] Bug fix (non-breaking change fixing an issue)\n- [x] Security fix (change addressing a vulnerability)\n\n## Risk Level\n\n- [ ] Low - UI/documentation changes\n- [X] Critical - Security controls, PHI handling\n\n## Rollback Plan\n\n[Describe how to revert this change]\n";

    #[test]
    fn s004_05_checkboxes_are_read_as_data() {
        let boxes = checkboxes(TEMPLATE);
        assert_eq!(boxes.len(), 4);
        let critical = boxes.iter().find(|b| b.label.starts_with("Critical")).expect("critical box");
        assert!(critical.checked);
        assert_eq!(critical.heading.as_deref(), Some("Risk Level"));
        assert!(!boxes[0].checked);
    }

    #[test]
    fn s004_04_placeholder_section_is_not_filled() {
        assert!(has_section(TEMPLATE, "Description"));
        assert!(!has_section(TEMPLATE, "Rollback plan"));
        assert!(!has_section(TEMPLATE, "Testing plan"));
    }

    #[test]
    fn s002_02_sections_in_several_styles() {
        let body = "What: bump the parser\n**Why**\nCVE-2026-1\n## Testing\n- ran the suite\nSecurity impact: none\n";
        for s in ["What", "Why", "Testing", "Security impact"] {
            assert!(has_section(body, s), "{s}");
        }
        assert!(!has_section("What:\n", "What"));
    }
}
