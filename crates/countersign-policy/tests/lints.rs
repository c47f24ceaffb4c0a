//! Each lint fires on a minimal policy and stays quiet on a clean one.

mod common;

use common::*;

const HEAD: &str = r#"
[policy]
organization = "Acme"
effective = 2026-05-01

[people.ada]
name = "Ada"

[people.bo]
name = "Bo"

[groups]
team = ["ada", "bo"]
"#;

fn warnings(body: &str) -> Vec<&'static str> {
    codes(&checked(&format!("{HEAD}{body}")).warnings)
}

const CLEAN: &str = r#"
[rules.peer]
approvals = 1
from = ["@team"]

[[categories]]
id = "standard"
default = true
require = "peer"

[[categories]]
id = "emergency"
precedence = 10
when = { label = "emergency" }
require = "peer"

[[exceptions]]
id = "bo-docs"
people = ["bo"]
waives = ["review"]
justification = "docs"
approved-by = ["ada"]
review-by = 2026-12-01
"#;

#[test]
fn clean_policy_has_no_warnings() {
    assert_eq!(warnings(CLEAN), Vec::<&str>::new());
}

#[test]
fn w001_rule_no_one_can_satisfy() {
    let body = CLEAN.replace("approvals = 1\nfrom = [\"@team\"]", "approvals = 3\nfrom = [\"@team\"]");
    assert_eq!(warnings(&body), vec!["CS-W001"]);
}

#[test]
fn w002_author_excluded_single_approver() {
    let body = CLEAN.replace("from = [\"@team\"]", "from = [\"ada\"]");
    assert_eq!(warnings(&body), vec!["CS-W002"]);
    let body = CLEAN.replace("from = [\"@team\"]", "from = [\"ada\"]\nexclude-author = false");
    assert_eq!(warnings(&body), Vec::<&str>::new());
}

#[test]
fn w003_overlapping_categories() {
    let body = CLEAN.replace("precedence = 10\n", "").replace(
        "[[exceptions]]",
        "[[categories]]\nid = \"docs\"\nwhen = { paths-only = [\"docs/\"] }\n\n[[exceptions]]",
    );
    assert_eq!(warnings(&body), vec!["CS-W003"]);
}

#[test]
fn w003_mutually_exclusive_conditions_do_not_overlap() {
    let body = CLEAN.replace("[[exceptions]]", "[[categories]]\nid = \"not-emergency\"\nprecedence = 10\nwhen = { not = { label = \"emergency\" } }\n\n[[categories]]\nid = \"t1\"\nprecedence = 5\nwhen = { trailer = \"Change-Type: a\" }\n\n[[categories]]\nid = \"t2\"\nprecedence = 5\nwhen = { trailer = \"Change-Type: b\" }\n\n[[exceptions]]");
    assert_eq!(warnings(&body), Vec::<&str>::new());
}

#[test]
fn w009_overlapping_risks() {
    let body = format!(
        "{CLEAN}\n[[risks]]\nid = \"low\"\ndefault = true\n\n[[risks]]\nid = \"a\"\nrank = 2\nwhen = {{ label = \"a\" }}\n\n[[risks]]\nid = \"b\"\nrank = 2\nwhen = {{ label = \"b\" }}\n"
    );
    assert_eq!(warnings(&body), vec!["CS-W009"]);
}

#[test]
fn w004_exception_group_already_grew() {
    let body = CLEAN.replace(
        "review-by = 2026-12-01",
        "review-by = 2026-12-01\nuntil-group-exceeds = { group = \"team\", members = 1 }",
    );
    assert_eq!(warnings(&body), vec!["CS-W004"]);
    let body = CLEAN.replace(
        "review-by = 2026-12-01",
        "review-by = 2026-12-01\nuntil-group-exceeds = { group = \"@team\", members = 2 }",
    );
    assert_eq!(warnings(&body), Vec::<&str>::new());
}

#[test]
fn w005_exception_review_overdue() {
    let body = CLEAN.replace("review-by = 2026-12-01", "review-by = 2026-05-15");
    assert_eq!(warnings(&body), vec!["CS-W005"]);
}

#[test]
fn w006_policy_review_overdue() {
    let text = format!("{HEAD}{CLEAN}");
    let later = jiff::civil::date(2027, 5, 2);
    let checked = parse_on(&text, later).expect("valid");
    let found = codes(&checked.warnings);
    assert!(found.contains(&"CS-W006"), "{found:?}");
    // Without a date the lint cannot run.
    assert!(countersign_policy::parse("countersign.toml", &text).expect("valid").warnings.is_empty());
}

#[test]
fn w007_exception_approved_by_its_own_subject() {
    let body = CLEAN.replace("approved-by = [\"ada\"]", "approved-by = [\"bo\"]");
    assert_eq!(warnings(&body), vec!["CS-W007"]);
}

#[test]
fn w008_exception_without_end() {
    let body = CLEAN.replace("review-by = 2026-12-01\n", "");
    assert_eq!(warnings(&body), vec!["CS-W008"]);
}

#[test]
fn w011_unused_rule() {
    let body = format!("{CLEAN}\n[rules.spare]\napprovals = 1\n");
    assert_eq!(warnings(&body), vec!["CS-W011"]);
}

#[test]
fn w012_empty_group() {
    let text = format!("{}\nnobody = []\n{}", HEAD.trim_end(), CLEAN);
    assert_eq!(codes(&checked(&text).warnings), vec!["CS-W012"]);
}

#[test]
fn s000_18_exception_needs_second_operator() {
    let body = CLEAN.replace("approved-by = [\"ada\"]\n", "");
    assert_eq!(warnings(&body), vec!["CS-W007"]);
}
