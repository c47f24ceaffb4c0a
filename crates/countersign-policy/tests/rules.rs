//! The language's forbidden content, sequential numbering and distinct approvers: what
//! they mean in the model, and the errors that stop them being misused.

mod common;

use common::*;
use countersign_policy::model::*;

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
security = ["ada"]

[rules.peer]
approvals = 1
from = ["@team"]

[[categories]]
id = "standard"
require = "peer"
"#;

fn errors(body: &str) -> Vec<&'static str> {
    match parse_on(&format!("{HEAD}{body}"), today()) {
        Ok(_) => Vec::new(),
        Err(failed) => codes(&failed.errors),
    }
}

#[test]
fn s001_04_forbidden_content_flags() {
    let policy = checked(&format!(
        "{HEAD}\n[[content-flags]]\nid = \"column-drop\"\ndescription = \"Column drop\"\npaths = [\"/migrations/\"]\npattern = \"(?i)drop\\\\s+column\"\nforbidden = true\n"
    ))
    .policy;
    let flag = &policy.content_flags[0];
    assert!(flag.forbidden);
    assert!(flag.require.is_none());
    let markdown = countersign_policy::render::markdown(&policy);
    assert!(
        markdown.contains(
            "are forbidden: a match is a violation that no approval, self-merge, emergency or exception clears"
        ),
        "{markdown}"
    );
}

#[test]
fn s001_04_forbidden_and_require_do_not_mix() {
    let body =
        "\n[[content-flags]]\nid = \"x\"\ndescription = \"x\"\npattern = \"x\"\nforbidden = true\nrequire = \"peer\"\n";
    assert_eq!(errors(body), vec!["CS-E024"]);
    let text = format!("{HEAD}{body}");
    let failed = parse_on(&text, today()).expect_err("conflict");
    let rendered = countersign_policy::render_diagnostics("p.toml", &text, &failed.errors, false);
    assert!(rendered.contains("help: remove `require`"), "{rendered}");
    assert_eq!(
        errors("\n[[content-flags]]\nid = \"x\"\ndescription = \"x\"\npattern = \"x\"\nforbidden = \"yes\"\n"),
        vec!["CS-E003"]
    );
}

#[test]
fn s001_04_sequential_append_only_needs_a_numbered_name_pattern() {
    let ok = "\n[[append-only]]\nid = \"m\"\npaths = [\"/migrations/\"]\nname-pattern = \"^([0-9]{4})_.*\\\\.sql$\"\nsequential = true\n";
    let policy = checked(&format!("{HEAD}{ok}")).policy;
    assert!(policy.append_only[0].sequential);
    let markdown = countersign_policy::render::markdown(&policy);
    assert!(markdown.contains("numbered in sequence"), "{markdown}");

    assert_eq!(
        errors("\n[[append-only]]\nid = \"m\"\npaths = [\"/migrations/\"]\nsequential = true\n"),
        vec!["CS-E004"]
    );
    assert_eq!(
        errors(
            "\n[[append-only]]\nid = \"m\"\npaths = [\"/m/\"]\nname-pattern = \"^[0-9]{4}_.*$\"\nsequential = true\n"
        ),
        vec!["CS-E018"],
        "no capture group for the number"
    );
    assert_eq!(
        errors("\n[[append-only]]\nid = \"m\"\npaths = [\"/m/\"]\nname-pattern = \"^[0-9]{4}_.*$\"\n"),
        Vec::<&str>::new(),
        "a plain name pattern needs no group"
    );
}

#[test]
fn s004_07_distinct_approvers_on_all_rules() {
    let body = "\n[rules.two-people]\nall = [\"peer\", { approvals = 1, from = [\"@security\"] }]\ndistinct-approvers = true\n\n[[areas]]\nname = \"auth\"\npaths = [\"/auth/\"]\nrequire = \"two-people\"\n";
    let policy = checked(&format!("{HEAD}{body}")).policy;
    let ApprovalRule::AllDistinct(parts) = policy.rule("two-people").expect("rule") else { panic!("distinct") };
    assert_eq!(parts.len(), 2);
    let markdown = countersign_policy::render::markdown(&policy);
    assert!(markdown.contains("all of, each by a different person: 1 approval from @team"), "{markdown}");

    let misplaced = "\n[rules.x]\napprovals = 1\ndistinct-approvers = true\n\n[[areas]]\nname = \"a\"\npaths = [\"/a/\"]\nrequire = \"x\"\n";
    assert_eq!(errors(misplaced), vec!["CS-E020"]);
}

#[test]
fn s004_07_distinct_approvers_a_group_too_small_is_linted() {
    // Ada is the whole security group and one of the two-person team: "security plus two
    // peers" needs three people and there are two.
    let body = "\n[rules.three]\nall = [{ approvals = 2, from = [\"@team\"] }, { approvals = 1, from = [\"@security\"] }]\ndistinct-approvers = true\n\n[[areas]]\nname = \"a\"\npaths = [\"/a/\"]\nrequire = \"three\"\n";
    let warnings = codes(&checked(&format!("{HEAD}{body}")).warnings);
    assert!(warnings.contains(&"CS-W001"), "{warnings:?}");
}

#[test]
fn every_finding_code_is_documented() {
    let doc = std::fs::read_to_string(format!("{}/../../docs/policy-language.md", env!("CARGO_MANIFEST_DIR")))
        .expect("docs/policy-language.md");
    for (code, _) in countersign_policy::diag::codes::ALL {
        assert!(doc.contains(&format!("| {code} |")), "{code} is missing from the table in docs/policy-language.md");
    }
}
