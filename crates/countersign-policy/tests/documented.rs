//! Requirements the seed policies state for people rather than for the engine (rollback
//! methods, retention, deploy order, lifecycle). The policy file states them and the
//! rendered document says them, so the published policy and the enforced one cannot drift
//! . Each test reads the example policy and checks the model and the document.

use countersign_policy::model::Policy;

fn example(name: &str) -> (Policy, String) {
    let path = format!("{}/../../examples/policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example policy");
    let opts = countersign_policy::ParseOptions { today: Some("2026-06-01".parse().expect("date")) };
    let policy = match countersign_policy::parse_with(&path, &text, &opts) {
        Ok(c) => c.policy,
        Err(f) => panic!("{}", countersign_policy::render_diagnostics(&path, &text, &f.errors, false)),
    };
    let doc = countersign_policy::render::markdown(&policy);
    (policy, doc)
}

#[test]
fn s000_15_every_change_type_has_a_rollback_path() {
    let (policy, doc) = example("two-person-saas");
    let types: Vec<&str> = policy.docs.rollback.iter().map(|r| r.change_type.as_str()).collect();
    assert!(types.contains(&"Schema") && types.contains(&"Application code"), "{types:?}");
    assert!(doc.contains("PITR restore plus a corrective forward migration"));
}

#[test]
fn s000_21_deploys_are_ordered_backend_frontends_marketing() {
    let (policy, doc) = example("two-person-saas");
    let deploy = policy.deploy.expect("deploy rules");
    assert_eq!(deploy.stages.len(), 3);
    assert!(deploy.stages[0].starts_with("backend") && deploy.stages[2].contains("marketing"));
    assert!(doc.contains("Fly-hosted frontends"));
}

#[test]
fn s001_03_deploys_go_through_the_guarded_script() {
    let (policy, doc) = example("solo-founder-iso27001");
    let deploy = policy.deploy.expect("deploy rules");
    assert_eq!(deploy.production_path.as_deref(), Some("shared/agent-config/scripts/deploy-guarded.sh"));
    assert!(doc.contains("deploy-guarded.sh"));
}

#[test]
fn s001_07_the_policy_is_reviewed_annually() {
    let (policy, _) = example("solo-founder-iso27001");
    assert_eq!(policy.meta.review_every.months, 12);
    assert_eq!(policy.meta.next_review, "2026-01-01".parse::<jiff::civil::Date>().expect("date"));
}

#[test]
fn s002_09_s002_10_rollback_methods_targets_and_triggers() {
    let (policy, doc) = example("oss-sdk");
    let schema = policy.docs.rollback.iter().find(|r| r.change_type.contains("schema")).expect("schema rollback");
    assert_eq!(schema.target.map(|d| d.seconds), Some(2 * 3600), "S002-09: schema rollback within 2 hours");
    let image = policy.docs.rollback.iter().find(|r| r.change_type.contains("Docker")).expect("image rollback");
    assert_eq!(image.target.map(|d| d.seconds), Some(30 * 60));
    assert_eq!(policy.docs.rollback_triggers.len(), 4, "outage, anomaly, vulnerability, data integrity");
    assert!(doc.contains("data integrity issue"), "{doc}");
}

#[test]
fn s002_12_retention_git_indefinite_ci_and_deploy_logs_90_days() {
    let (policy, _) = example("oss-sdk");
    let days = |needle: &str| policy.docs.retention.iter().find(|r| r.record.contains(needle)).map(|r| r.days);
    assert_eq!(days("Git"), Some(None), "indefinite");
    assert_eq!(days("CI"), Some(Some(90)));
    assert_eq!(days("Deploy"), Some(Some(90)));
}

#[test]
fn s003_06_staging_canary_production_with_automatic_rollback() {
    let (policy, doc) = example("optional-peer-review");
    assert_eq!(policy.deploy.expect("deploy").environments, vec!["staging", "canary", "production"]);
    assert!(policy.docs.rollback_triggers.iter().any(|t| t.contains("health checks")));
    assert!(doc.contains("canary"));
}

#[test]
fn s003_10_deploy_logs_kept_one_year_and_the_incident_metric() {
    let (policy, doc) = example("optional-peer-review");
    assert!(
        policy.docs.retention.iter().any(|r| r.record.contains("Deploy") && r.days == Some(365)),
        "{:?}",
        policy.docs.retention
    );
    assert!(policy.docs.notes.iter().any(|n| n.requirements.iter().any(|r| r == "S003-10")));
    assert!(doc.contains("3%"), "the monthly metric is stated");
}

#[test]
fn s003_11_controls_matrix_reference_and_version_history_with_reasons() {
    let (policy, doc) = example("optional-peer-review");
    assert!(policy.meta.controls.iter().any(|c| c.id == "CM-01"));
    let last = policy.meta.history.last().expect("history");
    assert_eq!(last.version, "1.1");
    assert!(last.reason.contains("optional"), "{}", last.reason);
    assert!(doc.contains("CM-01"));
}

#[test]
fn s004_01_four_change_types() {
    let (policy, _) = example("healthcare-cab");
    let ids: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();
    for id in ["emergency", "standard", "normal", "major"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
}

#[test]
fn s004_03_lifecycle_request_to_close() {
    let (policy, doc) = example("healthcare-cab");
    assert_eq!(policy.docs.lifecycle, vec!["Request", "Review", "Approve", "Build", "Deploy", "Verify", "Close"]);
    assert!(doc.contains("Verify"));
}

#[test]
fn s004_09_security_gates_are_named_checks() {
    let (policy, _) = example("healthcare-cab");
    let checks: Vec<&str> = policy.gates.iter().map(|g| g.check.as_str()).collect();
    for c in ["npm-audit", "snyk", "semgrep", "trufflehog", "typecheck", "lint"] {
        assert!(checks.contains(&c), "{checks:?}");
    }
    assert!(policy.gates.iter().all(|g| !g.emergency_may_skip), "CI still runs in an emergency");
}

#[test]
fn s004_10_s004_11_environments_and_the_deployment_checklist() {
    let (policy, doc) = example("healthcare-cab");
    let envs: Vec<&str> = policy.docs.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(envs, vec!["Development", "Staging", "Production"]);
    assert!(policy.deploy.as_ref().is_some_and(|d| d.production_manual));
    assert!(policy.docs.notes.iter().any(|n| n.requirements.iter().any(|r| r == "S004-11")));
    assert!(doc.contains("30 minutes"), "post-deployment monitoring is stated");
}
