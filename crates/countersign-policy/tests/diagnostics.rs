//! Broken policies: every error is reported at once, each pointing at its line.

mod common;

use common::*;
use countersign_policy::{diagnostics_json, render_diagnostics};

const BROKEN: &[&str] = &[
    "unknown-key",
    "wrong-type",
    "unknown-reference",
    "bad-glob",
    "bad-regex",
    "bad-duration",
    "group-cycle",
    "several-errors",
    "toml-syntax",
    "bad-deploy",
];

fn errors_of(name: &str) -> (String, Vec<countersign_policy::Diagnostic>) {
    let text = data(&format!("broken/{name}.toml"));
    match parse_on(&text, today()) {
        Ok(_) => panic!("{name} should not validate"),
        Err(failed) => (text, failed.errors),
    }
}

#[test]
fn x01_broken_policies_render_snapshots() {
    for name in BROKEN {
        let (text, errors) = errors_of(name);
        let rendered = render_diagnostics(&format!("{name}.toml"), &text, &errors, false);
        insta::assert_snapshot!(format!("broken_{name}"), rendered);
    }
}

#[test]
fn x01_errors_point_at_line() {
    let (text, errors) = errors_of("unknown-key");
    let json = diagnostics_json("countersign.toml", &text, &errors);
    let first = &json[0];
    assert_eq!((first.code, first.line, first.column), ("CS-E002", 4, 1));
    assert_eq!(first.help.as_deref(), Some("did you mean `review-every`?"));
    let second = &json[1];
    assert_eq!((second.line, second.column, second.end_column), (8, 1, 19));
    assert_eq!(second.help.as_deref(), Some("did you mean `emergency-may-skip`?"));
}

#[test]
fn x01_every_error_at_once() {
    let (_, errors) = errors_of("several-errors");
    let found = codes(&errors);
    for code in [
        "CS-E002", "CS-E004", "CS-E003", "CS-E005", "CS-E006", "CS-E007", "CS-E010", "CS-E011", "CS-E012", "CS-E013",
        "CS-E014",
    ] {
        assert!(found.contains(&code), "{code} missing from {found:?}");
    }
    // Sorted by position in the file.
    let starts: Vec<_> = errors.iter().map(|e| e.primary.span.start).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
}

#[test]
fn group_and_rule_cycles_are_reported_once_each() {
    let (_, errors) = errors_of("group-cycle");
    assert_eq!(codes(&errors), vec!["CS-E015", "CS-E016"]);
}

#[test]
fn json_form_serializes() {
    let (text, errors) = errors_of("bad-duration");
    let json = serde_json::to_value(diagnostics_json("countersign.toml", &text, &errors)).expect("json");
    insta::assert_json_snapshot!("broken_bad_duration_json", json);
}

#[test]
fn colour_is_optional() {
    let (text, errors) = errors_of("bad-glob");
    let plain = render_diagnostics("p.toml", &text, &errors, false);
    let colour = render_diagnostics("p.toml", &text, &errors, true);
    assert!(!plain.contains('\u{1b}'));
    assert!(colour.contains('\u{1b}'));
}

#[test]
fn codes_are_unique() {
    let mut seen = std::collections::BTreeSet::new();
    for (code, description) in countersign_policy::diag::codes::ALL {
        assert!(seen.insert(code), "duplicate {code}");
        assert!(!description.is_empty());
    }
}

#[test]
fn deploy_rules_name_known_environments_and_people_and_freezes_end() {
    let (_, errors) = errors_of("bad-deploy");
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    for expected in [
        "unknown environment `prod`",
        "invalid deploy window `Fri 17:00-09:00`",
        "invalid deploy window `Someday 10:00-11:00`",
        "a freeze cannot end before it starts",
        "unknown person `nobody`",
        "unknown environment `qa`",
        "[[deploy.freezes]] #3 is missing the required key `until`",
        "[[deploy.freezes]] #3 is missing the required key `owner`",
    ] {
        assert!(messages.contains(&expected), "{expected:?} not in {messages:#?}");
    }
    assert_eq!(errors.len(), 8, "{messages:#?}");
}
