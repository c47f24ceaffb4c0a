//! The five example policies, one per seed: they parse, say what their seed requires,
//! and render.

mod common;

use common::*;
use countersign_policy::model::*;
use countersign_policy::render;

#[test]
fn x01_all_examples_parse_without_errors() {
    for name in EXAMPLES {
        let text = example_text(name);
        let checked = checked(&text);
        let rendered = countersign_policy::render_diagnostics(&format!("{name}.toml"), &text, &checked.warnings, false);
        insta::assert_snapshot!(format!("warnings_{name}"), rendered);
    }
}

#[test]
fn s000_07_self_merge_exception_ends_when_team_grows() {
    let policy = example("two-person-saas").policy;
    let exception = policy.exceptions.iter().find(|e| e.id == "liam-self-merge").expect("exception");
    assert_eq!(exception.people, vec!["liam"]);
    assert_eq!(exception.waives, vec!["review"]);
    assert_eq!(exception.until_group_exceeds, Some(("engineering".to_string(), 2)));
    assert!(!policy.exception_group_exceeded(exception));

    // A third engineer ends it, and the lint says so.
    let grown = example_text("two-person-saas").replace(
        "[people.dependabot]",
        "[people.nora]\nname = \"Nora\"\nroles = [\"founders\"]\n\n[people.dependabot]",
    );
    let checked = checked(&grown);
    let exception = checked.policy.exceptions.iter().find(|e| e.id == "liam-self-merge").expect("exception");
    assert!(checked.policy.exception_group_exceeded(exception));
    assert!(codes(&checked.warnings).contains(&"CS-W004"));
}

#[test]
fn s000_08_sensitive_areas_need_owner_ack() {
    let policy = example("two-person-saas").policy;
    let area = policy.area_for("st-backend/app/core/encryption.py").expect("area");
    assert_eq!(area.name, "encryption");
    assert!(area.sensitive);
    let standard = policy.category("standard").expect("standard");
    let rule = policy.resolve_rule(policy.rule(standard.require.as_deref().expect("rule")).expect("rule"));
    let ApprovalRule::All(parts) = rule else { panic!("expected all") };
    assert!(parts.iter().any(|p| matches!(p, ApprovalRule::OwnerAck)));
}

#[test]
fn s000_04_four_categories_with_policy_owner_review() {
    let policy = example("two-person-saas").policy;
    for id in ["standard", "pre-approved", "emergency", "policy"] {
        assert!(policy.category(id).is_some(), "{id}");
    }
    let text = render::explain(&policy);
    assert!(text.contains("@policy-owner (Holly Gibbs)"), "{text}");
}

#[test]
fn s000_01_ci_is_never_skippable() {
    let policy = example("two-person-saas").policy;
    assert!(policy.gates.iter().all(|g| !g.emergency_may_skip));
    let emergency = policy.emergency.as_ref().expect("emergency");
    assert!(!emergency.may_skip.iter().any(|s| s == "ci"));
    assert_eq!(emergency.may_skip, vec!["review", "tests"]);
}

#[test]
fn s000_02_s000_20_deploy_path() {
    let deploy = example("two-person-saas").policy.deploy.expect("deploy");
    assert!(deploy.same_artifact);
    assert!(deploy.production_manual);
    assert_eq!(deploy.production_path.as_deref(), Some(".github/workflows/release.yml"));
}

#[test]
fn s001_04_migrations_append_only_and_numbered() {
    let policy = example("solo-founder-iso27001").policy;
    let rule = &policy.append_only[0];
    let re = regex::Regex::new(rule.name_pattern.as_deref().expect("pattern")).expect("regex");
    assert!(re.is_match("0007_add_collectors.sql"));
    assert!(!re.is_match("add_collectors.sql"));
    assert!(rule.paths.matches("migrations/0007_add_collectors.sql"));
}

#[test]
fn s001_06_collectors_with_cadence_and_controls() {
    let policy = example("solo-founder-iso27001").policy;
    let names: Vec<_> = policy.docs.collectors.iter().map(|c| (c.name.as_str(), c.cadence.as_str())).collect();
    assert_eq!(names, vec![("merge-activity", "daily"), ("deployments", "weekly"), ("branch-protection", "daily")]);
}

#[test]
fn s002_03_container_scan_main_only_and_s002_08_emergency_may_skip_ci() {
    let policy = example("oss-sdk").policy;
    assert_eq!(policy.gates.len(), 8);
    assert_eq!(policy.gate("container-scan").expect("gate").scope, GateScope::MainOnly);
    assert!(policy.gates.iter().filter(|g| g.check != "container-scan").all(|g| g.scope == GateScope::All));
    let emergency = policy.emergency.expect("emergency");
    assert!(emergency.may_skip.contains(&"ci".to_string()));
    assert!(emergency.obligations.iter().all(|o| o.within.seconds == 86_400));
}

#[test]
fn s002_13_review_every_six_months() {
    let policy = example("oss-sdk").policy;
    assert_eq!(policy.meta.review_every, Cadence { months: 6 });
    assert_eq!(policy.meta.next_review, jiff::civil::date(2026, 9, 2));
}

#[test]
fn s003_03_peer_review_optional_but_s003_04_security_review_required() {
    let policy = example("optional-peer-review").policy;
    let standard = policy.category("standard").expect("standard");
    assert!(standard.require.is_none());
    assert!(standard.self_merge);
    let area = policy.area_for("src/crypto/keys.ts").expect("area");
    assert_eq!(area.require.as_deref(), Some("security-review"));
    assert!(policy.branch.require_signed_commits);
}

#[test]
fn s004_02_critical_needs_ciso_and_cto_both() {
    let policy = example("healthcare-cab").policy;
    let critical = policy.risk("critical").expect("critical");
    let ApprovalRule::All(parts) = policy.rule(critical.require.as_deref().expect("rule")).expect("rule") else {
        panic!("all")
    };
    let froms: Vec<_> = parts
        .iter()
        .map(|p| match p {
            ApprovalRule::Approvals { count: 1, from, .. } => from.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(froms, vec![vec![Subject::Person("ciso".into())], vec![Subject::Person("cto".into())]]);
    let markdown = render::markdown(&policy);
    assert!(markdown.contains("| Critical | Security controls, PHI handling, auth | all of: 1 approval from Priya Natarajan (on the final commit); and 1 approval from Marcus Webb (on the final commit) | both required |"), "{markdown}");
    assert!(markdown.contains("| High | Database schema, payment processing | 1 approval from Marcus Webb or @team-leads (Lena Fischer, Omar Haddad) (on the final commit) | 1 required |"));
}

#[test]
fn s004_05_checkboxes_are_data() {
    let policy = example("healthcare-cab").policy;
    let critical = policy.risk("critical").expect("critical");
    let Condition::Any(parts) = &critical.when else { panic!("any") };
    assert!(parts.iter().any(|c| matches!(c, Condition::Checkbox(t) if t == "Critical")));
}

#[test]
fn s004_04_required_fields_by_type() {
    let policy = example("healthcare-cab").policy;
    let all = &policy.description[0];
    assert!(all.categories.is_empty());
    assert_eq!(all.sections.len(), 5);
    assert_eq!(policy.description[1].categories, vec!["normal", "major"]);
    assert_eq!(policy.description[1].sections, vec!["Risk assessment", "Scheduled time"]);
}

#[test]
fn s004_06_codeowners_teams_as_areas() {
    let policy = example("healthcare-cab").policy;
    let owners = |path: &str| policy.area_for(path).map(|a| a.owners.clone()).unwrap_or_default();
    assert_eq!(owners("src/lib/auth/session.ts"), vec![Subject::Group("security-team".into())]);
    assert_eq!(
        owners("prisma/schema.prisma"),
        vec![Subject::Group("data-team".into()), Subject::Group("security-team".into())]
    );
    assert_eq!(
        owners(".github/workflows/ci.yml"),
        vec![Subject::Group("devops-team".into()), Subject::Group("security-team".into())]
    );
}

#[test]
fn s004_14_document_approvers_and_annual_review() {
    let policy = example("healthcare-cab").policy;
    assert_eq!(policy.meta.document_approvers.len(), 3);
    assert_eq!(policy.meta.next_review, jiff::civil::date(2027, 1, 31));
}

#[test]
fn x02_render_markdown_snapshot() {
    let policy = example("two-person-saas").policy;
    insta::assert_snapshot!("markdown_two_person_saas", render::markdown(&policy));
    insta::assert_snapshot!("explain_healthcare_cab", render::explain(&example("healthcare-cab").policy));
}

#[test]
fn x02_render_states_every_section() {
    for name in EXAMPLES {
        let policy = example(name).policy;
        let markdown = render::markdown(&policy);
        for heading in [
            "## Purpose",
            "## Scope",
            "## Roles and people",
            "## Change categories",
            "## Areas and owners",
            "## CI gates",
            "## Emergency changes",
            "## Exceptions",
            "## Evidence and retention",
            "## Control mapping",
            "## Review of this policy",
            "## Version history",
        ] {
            assert!(markdown.contains(heading), "{name}: missing {heading}");
        }
        assert!(markdown.contains(&format!("next review due {}", policy.meta.next_review)), "{name}");
        let html = render::html(&policy);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<h2>Version history</h2>"));
    }
}

#[test]
fn x02_seed_contradictions_are_stated_once() {
    // S004-02: the matrix's "1 required" for high, not the risk table's "CTO + Team Lead".
    let markdown = render::markdown(&example("healthcare-cab").policy);
    assert_eq!(markdown.matches("Post-implementation review").count(), 1);
    assert!(markdown.contains("within 48 hours"));
    assert!(!markdown.contains("within 5 days"));
}

#[test]
fn x02_html_is_escaped() {
    let text = example_text("two-person-saas")
        .replace("Howell & Gibbs LLC (operator of SendTax)", "<script>alert('x')</script> & Co");
    let html = render::html(&checked(&text).policy);
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
}
