//! the rendered policy says, statement by statement, what countersign enforces (and
//! from which evidence) and what people attest. Console, collector, retention and rollback
//! statements are procedures nothing checks; they must not read as enforced. `[deploy]` is
//! judged by the deploy gate, so its statements do.

mod common;

use common::*;
use countersign_policy::render;

/// The markdown line that contains `needle`, for asserting on its marker.
fn line<'d>(doc: &'d str, needle: &str) -> &'d str {
    doc.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in\n{doc}"))
}

#[test]
fn x02_the_document_has_a_legend() {
    for name in EXAMPLES {
        let doc = render::markdown(&example(name).policy);
        assert!(doc.contains("## Enforced and attested statements"), "{name}");
        for source in ["git history", "forge review", "CI results", "recorded evidence"] {
            assert!(line(&doc, "[enforced: …]").contains(source), "{name}: the legend names {source}");
        }
        assert!(line(&doc, "- [attested]").contains("does not check it"), "{name}");
    }
}

#[test]
fn x02_procedures_nobody_checks_are_marked_attested() {
    let doc = render::markdown(&example("two-person-saas").policy);
    for statement in [
        "Every change made in a provider console",
        "Merge method: squash.",
        "| CI runs | GitHub Actions | 90 days |",
        "| Schema | PITR restore",
        "Every change moves through:",
        "Secrets are never committed",
    ] {
        assert!(line(&doc, statement).contains("[attested]"), "{statement}");
        assert!(!line(&doc, statement).contains("[enforced"), "{statement}");
    }
    let doc = render::markdown(&example("solo-founder-iso27001").policy);
    assert!(line(&doc, "| merge-activity | daily |").contains("[attested]"), "collectors are attested");
}

#[test]
fn x02_deploy_rules_are_enforced_by_the_gate() {
    let doc = render::markdown(&example("two-person-saas").policy);
    for statement in [
        "The only sanctioned path to production is",
        "Deploys to production are triggered by hand",
        "same artifact (same digest)",
        "Deploy order within a release:",
        "Environments, in order: staging → production.",
    ] {
        assert!(line(&doc, statement).starts_with("- [enforced: git history, recorded evidence]"), "{statement}");
    }
    let doc = render::markdown(&example("healthcare-cab").policy);
    assert!(line(&doc, "staging is deployed only from commits on `develop`").starts_with("- [enforced"));
    assert!(line(&doc, "closed with a passing health check").starts_with("- [enforced"));
}

#[test]
fn x02_checked_rules_name_their_evidence() {
    let doc = render::markdown(&example("two-person-saas").policy);
    assert!(line(&doc, "No direct commits").starts_with("- [enforced: git history]"));
    assert!(line(&doc, "| `ci-required`").ends_with("| [enforced: CI results] |"));
    assert!(line(&doc, "| `peer` |").contains("[enforced: git history, forge review, recorded evidence]"));
    assert!(line(&doc, "| all | Intent, Testing").contains("[enforced: git history, forge review]"));
    assert!(line(&doc, "The post-incident review judges").contains("[enforced: recorded evidence]"));
    assert!(
        line(&doc, "Files under `/st-backend/alembic/versions/` are append-only").contains("[enforced: git history]")
    );
    let doc = render::markdown(&example("solo-founder-iso27001").policy);
    assert!(line(&doc, "Destructive column drop").starts_with("- [enforced: git history]"), "forbidden content");
}

#[test]
fn s004_14_document_approval_is_enforced_only_when_a_rule_enforces_it() {
    // healthcare-cab makes a change to countersign.toml need the CEO, CTO and CISO.
    let doc = render::markdown(&example("healthcare-cab").policy);
    let approval = line(&doc, "This document is approved by");
    assert!(approval.contains("[enforced: git history, forge review, recorded evidence]"), "{approval}");
    assert!(approval.contains("Dana Reyes, Marcus Webb, Priya Natarajan"), "{approval}");
    assert!(approval.contains("needs each of their approvals (area policy)"), "{approval}");

    // Without that area, the same sentence is a signature on paper: attested.
    let text = example_text("healthcare-cab").replace("require = \"document-approval\"\n", "");
    let text = text.replace("[rules.document-approval]", "[rules.document-approval-unused]");
    let doc = render::markdown(&checked(&text).policy);
    assert!(line(&doc, "This document is approved by").starts_with("- [attested]"), "{doc}");
}

#[test]
fn x02_html_shows_markers_as_labels() {
    let html = render::html(&example("two-person-saas").policy);
    assert!(html.contains(
        "<span class=\"basis enforced\">[enforced: git history, recorded evidence]</span> Deploys to production are triggered by hand"
    ));
    assert!(html.contains("<span class=\"basis attested\">[attested]</span> Every change made in a provider console"));
    assert!(html.contains("<span class=\"basis enforced\">[enforced: CI results]</span>"));
    assert!(html.contains(".attested {"), "styled");
}

#[test]
fn x02_review_cadence_reads_as_an_adverb() {
    let doc = render::markdown(&example("two-person-saas").policy);
    assert!(doc.contains("Reviewed semi-annually (every 6 months); next review due 2026-11-21."), "{doc}");
    let doc = render::markdown(&example("healthcare-cab").policy);
    assert!(doc.contains("Reviewed annually (every 12 months); next review due 2027-01-31."));
    for name in EXAMPLES {
        let doc = render::markdown(&example(name).policy);
        for bad in ["Reviewed semi-annual ", "Reviewed annual ", "Reviewed semi-annual;", "Reviewed annual;"] {
            assert!(!doc.contains(bad), "{name}: {bad}");
        }
        assert!(!render::explain(&example(name).policy).contains("(annual"), "{name}");
    }
}
