//! Requirement tests: each example policy, evaluated on changes built to probe one
//! requirement from shared/requirements.md. Test names carry the requirement id.

mod common;

use common::*;
use countersign_engine::change::{BaseFacts, ChangeKind, CheckStatus};
use countersign_engine::report::{Status, Verdict};

const HOLLY: &str = "holly@send.tax";
const LIAM: &str = "liam@send.tax";

/// A two-person-saas PR with the description its policy asks for.
fn saas_pr(n: u64, author: &str) -> B {
    pr(n, author)
        .body("## Intent\nFix it.\n## Testing\nUnit tests.\n## Operational risk\nLow.\n## Rollback plan\nRevert.\n")
}

// ---- 000: two-person SaaS -----------------------------------------------------------------

#[test]
fn s000_01_ci_is_required_even_for_an_authorized_emergency() {
    let policy = example("two-person-saas");
    let change = saas_pr(1, LIAM)
        .paths(&["st-backend/app/main.py"])
        .label("emergency")
        .trailer("Emergency-Authorized-By", "Holly Gibbs <holly@send.tax>")
        .check("lint-type", CheckStatus::Failure)
        .build();
    let e = eval(&policy, &change);
    assert!(e.emergency);
    assert_eq!(status(&e, "emergency-authorization"), Status::Met);
    assert_eq!(status(&e, "review"), Status::Waived, "review may be skipped in an emergency");
    assert_eq!(status(&e, "gate:lint-type"), Status::Missing, "CI may never be skipped");
    assert_eq!(status(&e, "gate:backend-ci / tests"), Status::Missing);
    assert_eq!(e.verdict, Verdict::Violation);
}

#[test]
fn s000_01_a_fly_toml_only_change_without_ci_is_a_violation() {
    let policy = example("two-person-saas");
    // fly.toml, a Dockerfile, the Trust Center: no path-scoped workflow runs for them.
    for path in ["fly.toml", "st-backend/Dockerfile", "trust-center/security.md"] {
        let e = eval(&policy, &saas_pr(1, LIAM).paths(&[path]).approved_by(HOLLY).acked_by(LIAM).build());
        assert_eq!(status(&e, "gate:ci-required"), Status::Missing, "{path}: every change needs CI");
        assert_eq!(e.verdict, Verdict::Violation, "{path}");
    }
    // With the always-run CI job passing, the same change is fine.
    let e = eval(
        &policy,
        &saas_pr(2, HOLLY)
            .paths(&["fly.toml", "st-apps/docs/RUNBOOKS.md"])
            .approved_by(LIAM)
            .acked_by(LIAM)
            .checks_pass(&["ci / required", "frontend-ci / lint"])
            .build(),
    );
    assert_eq!(status(&e, "gate:ci-required"), Status::Met, "reported under its alias");
    assert_eq!(e.verdict, Verdict::Compliant, "{e:#?}");
}

#[test]
fn s000_01_an_authorized_emergency_cannot_skip_the_always_run_ci() {
    let policy = example("two-person-saas");
    let change = saas_pr(1, LIAM)
        .paths(&["fly.toml"])
        .label("emergency")
        .trailer("Emergency-Authorized-By", "Holly Gibbs <holly@send.tax>")
        .build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "emergency-authorization"), Status::Met);
    assert_eq!(status(&e, "review"), Status::Waived);
    assert_eq!(status(&e, "gate:ci-required"), Status::Missing, "no emergency skips CI");
    assert_eq!(e.verdict, Verdict::Violation);
    // Liam's standing self-merge exception waives review, never CI.
    let e = eval(&policy, &saas_pr(2, LIAM).paths(&["fly.toml"]).acked_by(LIAM).build());
    assert_eq!(status(&e, "review"), Status::Waived);
    assert_eq!(status(&e, "gate:ci-required"), Status::Missing);
}

#[test]
fn s000_03_every_change_traces_to_pr_commit_author_and_ci_run() {
    let policy = example("two-person-saas");
    let change = saas_pr(42, HOLLY)
        .paths(&["st-backend/app/main.py"])
        .approved_by(LIAM)
        .checks_pass(&["ci-required", "lint-type", "backend-ci / tests"])
        .build();
    let e = eval(&policy, &change);
    assert_eq!(e.change.pr_number, Some(42));
    assert_eq!(e.change.author.as_deref(), Some("holly"));
    assert_eq!(e.change.commits, 1);
    assert!(e.ci_evidence);
    assert!(req(&e, "gate:lint-type").evidence[0].contains("lint-type"));
    assert_eq!(e.verdict, Verdict::Compliant, "{e:#?}");
}

#[test]
fn s000_04_four_categories_are_told_apart() {
    let policy = example("two-person-saas");
    let cat = |b: B| eval(&policy, &b.build()).category.id;
    assert_eq!(cat(saas_pr(1, HOLLY).paths(&["st-backend/app/main.py"])), "standard");
    assert_eq!(cat(saas_pr(2, "x@example.com").paths(&["package.json"]).label("pre-approved")), "pre-approved");
    assert_eq!(
        cat(saas_pr(3, HOLLY).paths(&["st-backend/app/main.py"]).trailer("Change-Type", "emergency")),
        "emergency"
    );
    assert_eq!(cat(saas_pr(4, HOLLY).paths(&["trust-center/subprocessors.md"])), "policy");
    assert_eq!(cat(saas_pr(5, HOLLY).paths(&["README.md", "docs/setup.md"])), "trivial");
}

#[test]
fn s000_04_policy_documents_need_the_policy_owner() {
    let policy = example("two-person-saas");
    let change = saas_pr(7, LIAM).paths(&["trust-center/security.md"]).approved_by(HOLLY).build();
    let e = eval(&policy, &change);
    assert_eq!(e.category.id, "policy");
    assert_eq!(status(&e, "review"), Status::Met, "{:#?}", req(&e, "review"));
    // Without Holly (the policy owner) it fails even with another approval.
    let change = saas_pr(8, HOLLY).paths(&["trust-center/security.md"]).approved_by(LIAM).build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "review"), Status::Met, "Holly authored it and is the owner; Liam reviewed");
    let change = saas_pr(9, LIAM).paths(&["trust-center/security.md"]).build();
    assert_eq!(status(&eval(&policy, &change), "review"), Status::Waived, "Liam's standing self-merge exception");
}

#[test]
fn s000_05_a_direct_commit_to_main_is_a_violation() {
    let policy = example("two-person-saas");
    let e = eval(&policy, &direct(HOLLY).paths(&["st-backend/app/main.py"]).build());
    assert_eq!(e.change.kind, ChangeKind::DirectPush);
    assert_eq!(status(&e, "pull-request"), Status::Missing);
    assert_eq!(e.verdict, Verdict::Violation);
    let e = eval(&policy, &saas_pr(3, HOLLY).paths(&["x"]).build());
    assert_eq!(status(&e, "pull-request"), Status::Met);
}

#[test]
fn s000_06_description_states_intent_testing_risk_and_rollback() {
    let policy = example("two-person-saas");
    let change =
        pr(1, HOLLY).paths(&["a.py"]).approved_by(LIAM).body("## Intent\nFix.\n## Testing\n[describe]\n").build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "description:intent"), Status::Met);
    assert_eq!(status(&e, "description:testing"), Status::Missing, "a template placeholder is not content");
    assert_eq!(status(&e, "description:rollback-plan"), Status::Missing);
    // From git alone (a commit message), absence cannot be judged.
    let e = eval(&policy, &pr(2, HOLLY).paths(&["a.py"]).git_only().build());
    assert_eq!(status(&e, "description:rollback-plan"), Status::Unknown);
}

#[test]
fn s000_07_reviewer_other_than_author_by_default() {
    let policy = example("two-person-saas");
    // Holly approving her own change does not count.
    let e = eval(&policy, &saas_pr(1, HOLLY).paths(&["a.py"]).approved_by(HOLLY).build());
    assert_eq!(status(&e, "review"), Status::Missing);
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("is the author"));
    let e = eval(&policy, &saas_pr(2, HOLLY).paths(&["a.py"]).approved_by(LIAM).build());
    assert_eq!(status(&e, "review"), Status::Met);
    assert!(e.reviewed_by_other);
}

#[test]
fn s000_07_trivial_self_merge_is_allowed_and_recorded() {
    let policy = example("two-person-saas");
    let e =
        eval(&policy, &saas_pr(1, HOLLY).paths(&["docs/typo.md"]).check("ci-required", CheckStatus::Success).build());
    assert_eq!(e.category.id, "trivial");
    assert_eq!(status(&e, "review"), Status::Waived);
    assert!(e.self_merge, "self-merges are recorded for audit");
    assert_eq!(e.verdict, Verdict::Compliant);
}

#[test]
fn s000_07_standing_self_merge_exception_covers_liam_only_while_team_is_two() {
    let policy = example("two-person-saas");
    let change =
        saas_pr(1, LIAM).paths(&["st-apps/web/page.tsx"]).check("frontend-ci / lint", CheckStatus::Success).build();
    let e = eval_at(&policy, &change, "2026-11-20T00:00:00Z");
    assert_eq!(status(&e, "review"), Status::Waived);
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("liam-self-merge"));
    // Holly has no such exception.
    let e = eval(&policy, &saas_pr(2, HOLLY).paths(&["st-apps/web/page.tsx"]).build());
    assert_eq!(status(&e, "review"), Status::Missing);
    // The team grows to three: the exception ends.
    let grown = example("two-person-saas");
    let mut grown = grown;
    grown.groups.get_mut("engineering").expect("group").members.push("dependabot".into());
    let e = eval_at(&grown, &change, "2026-11-20T00:00:00Z");
    assert_eq!(status(&e, "review"), Status::Missing);
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("no longer applies"));
}

#[test]
fn s000_08_sensitive_area_needs_the_owner_acknowledgment() {
    let policy = example("two-person-saas");
    // Liam changes the encryption module (owned by Holly); Holly must acknowledge.
    let base =
        || saas_pr(1, LIAM).paths(&["st-backend/app/core/encryption.py", "st-backend/tests/integration/test_enc.py"]);
    let e = eval(&policy, &base().build());
    assert_eq!(status(&e, "owner-ack:encryption"), Status::Missing);
    assert!(e.areas.iter().any(|a| a.name == "encryption" && a.sensitive));
    let e = eval(&policy, &base().acked_by(HOLLY).build());
    assert_eq!(status(&e, "owner-ack:encryption"), Status::Met);
    // An unrelated reviewer does not stand in for the owner.
    let e = eval(&policy, &base().approved_by("someone@else.example").build());
    assert_eq!(status(&e, "owner-ack:encryption"), Status::Missing);
}

#[test]
fn s000_09_encryption_changes_come_with_integration_tests() {
    let policy = example("two-person-saas");
    let e = eval(&policy, &saas_pr(1, HOLLY).paths(&["st-backend/app/core/encryption.py"]).approved_by(LIAM).build());
    assert_eq!(status(&e, "co-change:integration-tests"), Status::Missing);
    let e = eval(
        &policy,
        &saas_pr(2, HOLLY)
            .paths(&["st-backend/app/core/encryption.py", "st-backend/tests/integration/test_encryption.py"])
            .build(),
    );
    assert_eq!(status(&e, "co-change:integration-tests"), Status::Met);
}

#[test]
fn s000_10_passing_ci_does_not_authorize_merge_alone() {
    let policy = example("two-person-saas");
    let e = eval(
        &policy,
        &saas_pr(1, HOLLY).paths(&["st-backend/x.py"]).checks_pass(&["lint-type", "backend-ci / tests"]).build(),
    );
    assert_eq!(status(&e, "gate:lint-type"), Status::Met);
    assert_eq!(status(&e, "review"), Status::Missing);
    assert_eq!(e.verdict, Verdict::Violation);
    let e = eval(
        &policy,
        &saas_pr(2, HOLLY)
            .paths(&["st-backend/x.py"])
            .approved_by(LIAM)
            .check("lint-type", CheckStatus::Failure)
            .build(),
    );
    assert_eq!(status(&e, "gate:lint-type"), Status::Missing, "a failing CI run blocks");
}

#[test]
fn s000_11_workflow_changes_need_the_validator_check() {
    let policy = example("two-person-saas");
    let e = eval(&policy, &saas_pr(1, HOLLY).paths(&[".github/workflows/ci.yml"]).approved_by(LIAM).build());
    assert_eq!(status(&e, "gate:frontend-ci / workflow-validator"), Status::Missing);
    let e = eval(&policy, &saas_pr(2, HOLLY).paths(&["st-apps/web/page.tsx"]).approved_by(LIAM).build());
    assert!(!has_req(&e, "gate:frontend-ci / workflow-validator"), "only workflow changes need it");
}

#[test]
fn s000_12_console_changes_carry_a_structured_log_entry() {
    let policy = example("two-person-saas");
    let change = pr(1, HOLLY)
        .kind(ChangeKind::ConsoleChange)
        .body("who: holly\nwhen: 2026-11-01\nprovider: Cloudflare\nwhat changed: WAF rule\nwhy: block a scraper\n")
        .build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "console-field:provider"), Status::Met);
    assert_eq!(status(&e, "console-field:how-to-undo"), Status::Missing);
    assert!(!has_req(&e, "review"), "console changes are judged by their record");
}

#[test]
fn s000_13_migrations_are_forward_only_and_concurrent_indexes_are_flagged() {
    let policy = example("two-person-saas");
    let e = eval(
        &policy,
        &saas_pr(1, HOLLY).paths(&["st-backend/alembic/versions/0001_init.py"]).approved_by(LIAM).build(),
    );
    assert_eq!(status(&e, "append-only:alembic-forward-only"), Status::Missing, "editing a shipped migration");
    let m = "st-backend/alembic/versions/0002_idx.py";
    let e = eval(
        &policy,
        &saas_pr(2, HOLLY).added(&[m]).added_lines(m, &["op.execute('CREATE INDEX CONCURRENTLY ix ON t (c)')"]).build(),
    );
    assert_eq!(status(&e, "append-only:alembic-forward-only"), Status::Met);
    assert_eq!(status(&e, "review:flag:non-transactional-ddl"), Status::Missing, "flagged: needs review");
    // Content not read (e.g. `check` from git alone): cannot be judged.
    let e = eval(&policy, &saas_pr(3, HOLLY).added(&[m]).build());
    assert_eq!(status(&e, "review:flag:non-transactional-ddl"), Status::Unknown);
    // Content read and clean: no flag.
    let e = eval(&policy, &saas_pr(4, HOLLY).added(&[m]).added_lines(m, &["op.add_column('t', 'c')"]).build());
    assert!(!has_req(&e, "review:flag:non-transactional-ddl"));
}

#[test]
fn s000_14_emergency_needs_the_incident_commander_and_creates_obligations() {
    let policy = example("two-person-saas");
    let unauthorized = saas_pr(1, HOLLY)
        .paths(&["st-apps/web/x.tsx"])
        .label("emergency")
        .check("frontend-ci / lint", CheckStatus::Success);
    let e = eval(&policy, &unauthorized.build());
    assert_eq!(status(&e, "emergency-authorization"), Status::Missing);
    assert_eq!(status(&e, "review"), Status::Missing, "nothing is waived without authorization");

    let authorized = saas_pr(2, HOLLY)
        .paths(&["st-apps/web/x.tsx"])
        .label("emergency")
        .trailer("Emergency-Authorized-By", "Liam Howell <liam@send.tax>")
        .checks_pass(&["ci-required", "frontend-ci / lint"]);
    // Two days after the merge: the 24h timeline entry is overdue, the 5-day ones pending.
    let e = eval_at(&policy, &authorized.build(), "2026-11-03T10:00:00Z");
    assert_eq!(status(&e, "review"), Status::Waived);
    assert_eq!(status(&e, "obligation:incident-timeline"), Status::Missing, "overdue is a failure (X-05)");
    assert!(req(&e, "obligation:incident-timeline").detail.as_deref().unwrap_or("").contains("overdue"));
    assert_eq!(status(&e, "obligation:follow-up-pr"), Status::Pending);
    assert_eq!(req(&e, "obligation:follow-up-pr").due, Some("2026-11-06T10:00:00Z".parse().expect("ts")));
    assert_eq!(e.verdict, Verdict::Violation);

    let fulfilled = saas_pr(3, HOLLY)
        .paths(&["st-apps/web/x.tsx"])
        .label("emergency")
        .trailer("Emergency-Authorized-By", "Liam Howell <liam@send.tax>")
        .fulfilled("incident-timeline", "2026-11-01T20:00:00Z")
        .build();
    let e = eval_at(&policy, &fulfilled, "2026-11-03T10:00:00Z");
    assert_eq!(status(&e, "obligation:incident-timeline"), Status::Met);
}

#[test]
fn s000_14_emergency_may_skip_tests_but_not_ci() {
    let policy = example("two-person-saas");
    let change = saas_pr(1, HOLLY)
        .paths(&["st-backend/app/core/encryption.py"])
        .acked_by(HOLLY)
        .trailer("Change-Type", "emergency")
        .trailer("Emergency-Authorized-By", "liam@send.tax")
        .checks_pass(&["lint-type", "backend-ci / tests"])
        .build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "co-change:integration-tests"), Status::Waived);
    assert_eq!(status(&e, "gate:lint-type"), Status::Met);
}

#[test]
fn s000_16_audit_trail_answers_who_what_when_why_and_whose_approval() {
    let policy = example("two-person-saas");
    let e = eval(
        &policy,
        &saas_pr(5, HOLLY).title("Rotate the signing key").paths(&["st-backend/x.py"]).approved_by(LIAM).build(),
    );
    assert_eq!(e.change.author.as_deref(), Some("holly")); // who
    assert_eq!(e.change.changed_paths, 1); // what
    assert!(e.change.time.is_some()); // when
    assert_eq!(e.change.title, "Rotate the signing key"); // why
    assert!(req(&e, "review").evidence.iter().any(|ev| ev.contains("liam"))); // whose approval
}

#[test]
fn s000_18_exception_with_past_review_date_no_longer_waives() {
    let policy = example("two-person-saas");
    let change = saas_pr(1, LIAM).paths(&["st-apps/x.tsx"]).build();
    // review-by is 2026-11-21: in force the day before, over the day after.
    assert_eq!(status(&eval_at(&policy, &change, "2026-11-20T00:00:00Z"), "review"), Status::Waived);
    let e = eval_at(&policy, &change, "2026-11-23T00:00:00Z");
    assert_eq!(status(&e, "review"), Status::Missing);
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("re-evaluation date"));
}

#[test]
fn s000_19_a_policy_change_is_itself_a_change_under_the_policy() {
    let policy = example("two-person-saas");
    let e = eval(&policy, &saas_pr(1, HOLLY).paths(&["countersign.toml"]).build());
    assert_eq!(e.category.id, "policy");
    assert_eq!(status(&e, "review"), Status::Missing);
}

// ---- 001: solo founder, ISO 27001 ----------------------------------------------------------

const FOUNDER: &str = "founder@example.com";

#[test]
fn s001_01_categories_standard_normal_emergency_major() {
    let policy = example("solo-founder-iso27001");
    let cat = |b: B| eval(&policy, &b.build()).category.id;
    assert_eq!(cat(pr(1, FOUNDER).paths(&["README.md"])), "standard");
    assert_eq!(cat(pr(2, FOUNDER).paths(&["src/worker.ts"])), "normal");
    assert_eq!(cat(pr(3, FOUNDER).paths(&["src/worker.ts"]).label("emergency")), "emergency");
    assert_eq!(cat(pr(4, FOUNDER).paths(&["src/worker.ts"]).label("major")), "major");
}

#[test]
fn s001_01_major_needs_threat_model_and_rollout_plan() {
    let policy = example("solo-founder-iso27001");
    let e = eval(&policy, &pr(1, FOUNDER).paths(&["src/new-service.ts"]).label("major").approved_by(FOUNDER).build());
    assert_eq!(status(&e, "co-change:threat-model"), Status::Missing);
    assert_eq!(status(&e, "description:rollout-plan"), Status::Missing);
}

#[test]
fn s001_02_founder_is_the_sole_approver_and_normal_needs_the_self_review_checklist() {
    let policy = example("solo-founder-iso27001");
    let body = "## Description\nAdds a collector.\n## Motivation\nEvidence.\n## Self-review checklist\n- [x] Secure Development Policy read\n- [ ] Tests added\n";
    let e = eval(&policy, &pr(1, FOUNDER).paths(&["src/collector.ts"]).approved_by(FOUNDER).body(body).build());
    assert_eq!(status(&e, "review"), Status::Met, "the founder approves their own change while solo");
    assert_eq!(status(&e, "checklist:self-review-checklist"), Status::Missing);
    let e = eval(
        &policy,
        &pr(2, "contractor@example.org").paths(&["src/collector.ts"]).approved_by("stranger@example.org").build(),
    );
    assert_eq!(status(&e, "review"), Status::Missing, "only the founder may approve");
    let e = eval(&policy, &pr(3, "contractor@example.org").paths(&["src/collector.ts"]).approved_by(FOUNDER).build());
    assert_eq!(status(&e, "review"), Status::Met);
}

#[test]
fn s001_04_migrations_are_append_only_and_named_nnnn() {
    let policy = example("solo-founder-iso27001");
    let e = eval(&policy, &pr(1, FOUNDER).added(&["migrations/0007_add_index.sql"]).approved_by(FOUNDER).build());
    assert_eq!(status(&e, "append-only:d1-migrations"), Status::Met);
    let e = eval(&policy, &pr(2, FOUNDER).added(&["migrations/add_index.sql"]).build());
    assert_eq!(status(&e, "append-only:d1-migrations"), Status::Missing, "not NNNN_*.sql");
    let e = eval(&policy, &pr(3, FOUNDER).paths(&["migrations/0001_init.sql"]).build());
    assert_eq!(status(&e, "append-only:d1-migrations"), Status::Missing, "existing migration edited");
}

/// Evaluates with the files present at the change's base.
fn eval_on_base(
    policy: &countersign_policy::model::Policy,
    change: &B,
    base: &[&str],
) -> countersign_engine::Evaluation {
    let base = BaseFacts { sequence_paths: Some(base.iter().map(|p| p.to_string()).collect()), ..BaseFacts::default() };
    countersign_engine::Engine::new(policy).evaluate_with_base(
        &change.0,
        &base,
        &countersign_engine::EvalOptions { now: Some("2026-11-20T12:00:00Z".parse().expect("now")) },
    )
}

#[test]
fn s001_04_migrations_are_numbered_sequentially() {
    let policy = example("solo-founder-iso27001");
    let base = ["migrations/0001_init.sql", "src/worker.ts"];
    let adding = |n: u64, files: &[&str]| pr(n, FOUNDER).added(files).approved_by(FOUNDER);

    let e = eval_on_base(&policy, &adding(1, &["migrations/0002_users.sql"]), &base);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Met, "{:#?}", req(&e, "sequence:d1-migrations"));
    assert!(req(&e, "sequence:d1-migrations").evidence[0].contains("0001"));

    let e = eval_on_base(&policy, &adding(2, &["migrations/0009_users.sql"]), &base);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Missing, "0009 after 0001");
    assert!(req(&e, "sequence:d1-migrations").detail.as_deref().unwrap_or("").contains("next number is 0002"));

    let e = eval_on_base(&policy, &adding(3, &["migrations/0003_b.sql", "migrations/0002_a.sql"]), &base);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Met, "two new files, 0002 and 0003");

    let e = eval_on_base(&policy, &adding(4, &["migrations/0002_a.sql", "migrations/0004_c.sql"]), &base);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Missing, "a gap between new files");

    let e = eval_on_base(&policy, &adding(5, &["migrations/0001_again.sql"]), &base);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Missing, "0001 is taken");
    assert!(req(&e, "sequence:d1-migrations").detail.as_deref().unwrap_or("").contains("already used"));

    let e = eval_on_base(&policy, &adding(6, &["migrations/0002_a.sql", "migrations/0002_b.sql"]), &base);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Missing, "two new files with one number");
    assert!(req(&e, "sequence:d1-migrations").detail.as_deref().unwrap_or("").contains("used twice"));

    let e = eval_on_base(&policy, &adding(7, &["migrations/0001_init.sql"]), &[]);
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Met, "the first migration");

    let e = eval_on_base(&policy, &adding(8, &["src/worker.ts"]), &base);
    assert!(!has_req(&e, "sequence:d1-migrations"), "no new migration, nothing to number");
}

#[test]
fn s001_04_numbering_is_unknown_without_the_files_at_the_base() {
    let policy = example("solo-founder-iso27001");
    let e = eval(&policy, &pr(1, FOUNDER).added(&["migrations/0002_users.sql"]).approved_by(FOUNDER).build());
    assert_eq!(status(&e, "sequence:d1-migrations"), Status::Unknown);
    assert_ne!(e.verdict, Verdict::Compliant, "never compliant on numbering it could not see");
}

#[test]
fn s001_04_a_column_drop_is_forbidden_whoever_approves() {
    let policy = example("solo-founder-iso27001");
    let m = "migrations/0008_drop.sql";
    let body = "## Description\nDrop.\n## Motivation\nUnused.\n## Self-review checklist\n- [x] Read\n";
    for line in ["ALTER TABLE t DROP COLUMN secret;", "alter table users drop legacy_id;"] {
        // The founder's own change, approved by the founder: authoring counts as approval,
        // yet the drop stands.
        let e = eval_on_base(
            &policy,
            &pr(1, FOUNDER)
                .added(&[m])
                .added_lines(m, &[line])
                .approved_by(FOUNDER)
                .body(body)
                .checks_pass(&["typecheck", "test"]),
            &["migrations/0007_x.sql"],
        );
        assert_eq!(status(&e, "review"), Status::Met);
        assert_eq!(status(&e, "forbidden:column-drop"), Status::Missing, "{line}");
        assert!(req(&e, "forbidden:column-drop").evidence[0].contains(line), "{:#?}", req(&e, "forbidden:column-drop"));
        assert_eq!(e.verdict, Verdict::Violation);
    }
    // An authorized emergency does not waive it either.
    let e = eval(
        &policy,
        &pr(2, FOUNDER)
            .added(&[m])
            .added_lines(m, &["ALTER TABLE t DROP COLUMN secret;"])
            .label("emergency")
            .trailer("Emergency-Authorized-By", FOUNDER)
            .build(),
    );
    assert_eq!(status(&e, "emergency-authorization"), Status::Met);
    assert_eq!(status(&e, "forbidden:column-drop"), Status::Missing, "not even in an emergency");
    // Clean content is recorded as checked; unread content is unknown.
    let e = eval(&policy, &pr(3, FOUNDER).added(&[m]).added_lines(m, &["ALTER TABLE t ADD COLUMN c;"]).build());
    assert_eq!(status(&e, "forbidden:column-drop"), Status::Met);
    let e = eval(&policy, &pr(4, FOUNDER).added(&[m]).build());
    assert_eq!(status(&e, "forbidden:column-drop"), Status::Unknown);
}

// ---- 002: open-source SDK --------------------------------------------------------------------

const GREG: &str = "greg@tomo.dev";
const ANA: &str = "ana@tomo.dev";
const SAM: &str = "sam@tomo.dev";
const SDK_GATES: &[&str] = &[
    "lint",
    "typecheck",
    "unit-tests",
    "integration-tests",
    "security-lint",
    "dependency-audit",
    "secret-scan",
    "container-scan",
];
const SDK_BODY: &str = "What: x\nWhy: y\nTesting: z\nSecurity impact: none\n## Review checklist\n- [x] Code is clear\n- [x] Tests cover the change\n";

#[test]
fn s002_01_risk_categories_set_who_may_approve() {
    let policy = example("oss-sdk");
    let base = |n, paths: &[&str]| pr(n, SAM).paths(paths).body(SDK_BODY).checks_pass(SDK_GATES);
    let e = eval(&policy, &base(1, &["docs/guide.md"]).approved_by(ANA).build());
    assert_eq!(e.category.id, "standard");
    assert_eq!(status(&e, "review"), Status::Met);
    let e = eval(&policy, &base(2, &["src/tomo/client.py"]).approved_by(ANA).build());
    assert_eq!(e.category.id, "normal");
    assert_eq!(status(&e, "review"), Status::Met);
    let e = eval(&policy, &base(3, &["migrations/0003.sql"]).approved_by(ANA).build());
    assert_eq!(e.category.id, "significant");
    assert_eq!(status(&e, "review"), Status::Missing, "significant: project lead only");
    let e = eval(&policy, &base(4, &["migrations/0003.sql"]).approved_by(GREG).build());
    assert_eq!(status(&e, "review"), Status::Met);
}

#[test]
fn s002_02_description_has_what_why_testing_security_impact() {
    let policy = example("oss-sdk");
    let e = eval(&policy, &pr(1, SAM).paths(&["src/tomo/a.py"]).body("What: x\nWhy: y\n").build());
    assert_eq!(status(&e, "description:what"), Status::Met);
    assert_eq!(status(&e, "description:testing"), Status::Missing);
    assert_eq!(status(&e, "description:security-impact"), Status::Missing);
}

#[test]
fn s002_03_named_gates_must_pass_and_container_scan_is_main_only() {
    let policy = example("oss-sdk");
    let open_pr = pr(1, SAM).kind(ChangeKind::PullRequest).paths(&["src/tomo/a.py"]).body(SDK_BODY).approved_by(ANA);
    let e = eval(&policy, &open_pr.checks_pass(&SDK_GATES[..7]).build());
    assert!(!has_req(&e, "gate:container-scan"), "not required on a pull request");
    assert_eq!(e.verdict, Verdict::Compliant, "{e:#?}");
    let merged =
        pr(2, SAM).paths(&["src/tomo/a.py"]).body(SDK_BODY).approved_by(ANA).checks_pass(&SDK_GATES[..7]).build();
    let e = eval(&policy, &merged);
    assert_eq!(status(&e, "gate:container-scan"), Status::Missing, "required on main");
    assert_eq!(status(&e, "gate:secret-scan"), Status::Met);
}

#[test]
fn s002_04_reviewer_confirms_the_checklist() {
    let policy = example("oss-sdk");
    let body = "What: x\nWhy: y\nTesting: z\nSecurity impact: none\n## Review checklist\n- [x] Code is clear\n- [ ] Tests cover the change\n";
    let e = eval(&policy, &pr(1, SAM).paths(&["src/tomo/a.py"]).body(body).build());
    assert_eq!(status(&e, "checklist:review-checklist"), Status::Missing);
    assert!(req(&e, "checklist:review-checklist").detail.as_deref().unwrap_or("").contains("Tests cover"));
}

#[test]
fn s002_05_releases_update_the_changelog() {
    let policy = example("oss-sdk");
    let e = eval(&policy, &pr(1, GREG).title("Release v1.4.0").paths(&["pyproject.toml"]).build());
    assert_eq!(status(&e, "co-change:changelog"), Status::Missing);
    let e = eval(&policy, &pr(2, GREG).title("Release v1.4.0").paths(&["pyproject.toml", "CHANGELOG.md"]).build());
    assert_eq!(status(&e, "co-change:changelog"), Status::Met);
}

#[test]
fn s002_06_firewall_and_sso_need_the_project_lead() {
    let policy = example("oss-sdk");
    let e = eval(&policy, &pr(1, SAM).paths(&["ansible/roles/ufw/tasks.yml"]).approved_by(ANA).build());
    assert_eq!(status(&e, "review:area:firewall-and-sso"), Status::Missing);
    let e = eval(&policy, &pr(2, SAM).paths(&["ansible/roles/ufw/tasks.yml"]).approved_by(GREG).build());
    assert_eq!(status(&e, "review:area:firewall-and-sso"), Status::Met);
}

#[test]
fn s002_08_emergency_may_bypass_review_and_ci_on_the_leads_word() {
    let policy = example("oss-sdk");
    let change = pr(1, SAM)
        .paths(&["src/tomo/a.py"])
        .label("emergency")
        .trailer("Emergency-Authorized-By", "Greg Felice <greg@tomo.dev>")
        .check("lint", CheckStatus::Failure)
        .build();
    let e = eval_at(&policy, &change, "2026-11-01T12:00:00Z");
    assert_eq!(status(&e, "review"), Status::Waived);
    assert_eq!(status(&e, "gate:lint"), Status::Waived);
    assert_eq!(status(&e, "obligation:retroactive-pr"), Status::Pending);
    assert_eq!(req(&e, "obligation:retroactive-pr").due, Some("2026-11-02T10:00:00Z".parse().expect("ts")));
    // Sam may not authorize: nothing is waived.
    let change =
        pr(2, SAM).paths(&["src/tomo/a.py"]).label("emergency").trailer("Emergency-Authorized-By", SAM).build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "emergency-authorization"), Status::Missing);
    assert_ne!(status(&e, "gate:lint"), Status::Waived);
}

// ---- 003: optional peer review ---------------------------------------------------------------

const ENG: &str = "dev@clerk.io";
const SECURITY_CHAMP: &str = "security-champ@clerk.io";
const SRE: &str = "sre-lead@clerk.io";
const CLERK_GATES: &[&str] = &["unit-tests", "integration-tests", "sca", "sast"];

#[test]
fn s003_01_a_pr_references_a_ticket() {
    let policy = example("optional-peer-review");
    let e = eval(&policy, &pr(1, ENG).title("Fix pagination").paths(&["src/a.ts"]).build());
    assert_eq!(status(&e, "ticket"), Status::Missing);
    let e = eval(&policy, &pr(2, ENG).title("ENG-1234 Fix pagination").paths(&["src/a.ts"]).build());
    assert_eq!(status(&e, "ticket"), Status::Met);
}

#[test]
fn s003_02_s003_03_checks_must_pass_and_peer_review_is_optional() {
    let policy = example("optional-peer-review");
    let e = eval(&policy, &pr(1, ENG).title("ENG-1 tweak").paths(&["src/a.ts"]).checks_pass(CLERK_GATES).build());
    assert_eq!(e.verdict, Verdict::Compliant, "{e:#?}");
    assert!(e.self_merge, "recorded as a self-merge");
    let e = eval(&policy, &pr(2, ENG).title("ENG-2 tweak").paths(&["src/a.ts"]).checks_pass(&CLERK_GATES[..3]).build());
    assert_eq!(status(&e, "gate:sast"), Status::Missing);
}

#[test]
fn s003_04_auth_crypto_secrets_pii_need_security_review_regardless() {
    let policy = example("optional-peer-review");
    let e = eval(&policy, &pr(1, ENG).title("ENG-3").paths(&["src/auth/session.ts"]).checks_pass(CLERK_GATES).build());
    assert_eq!(status(&e, "review:area:security-sensitive"), Status::Missing);
    let e =
        eval(&policy, &pr(2, ENG).title("ENG-3").paths(&["src/auth/session.ts"]).approved_by(SECURITY_CHAMP).build());
    assert_eq!(status(&e, "review:area:security-sensitive"), Status::Met);
}

#[test]
fn s003_05_infrastructure_as_code_needs_sre_sign_off() {
    let policy = example("optional-peer-review");
    let e = eval(&policy, &pr(1, ENG).title("ENG-4").paths(&["terraform/main.tf"]).build());
    assert_eq!(status(&e, "review:area:infrastructure-as-code"), Status::Missing);
    let e = eval(&policy, &pr(2, ENG).title("ENG-4").paths(&["terraform/main.tf"]).approved_by(SRE).build());
    assert_eq!(status(&e, "review:area:infrastructure-as-code"), Status::Met);
}

#[test]
fn s003_07_emergency_label_logged_in_24h_post_mortem_in_5_days() {
    let policy = example("optional-peer-review");
    let e = eval(&policy, &pr(1, ENG).title("ENG-5 hotfix").paths(&["src/a.ts"]).label("emergency-change").build());
    assert!(e.emergency);
    assert!(has_req(&e, "obligation:retrospective-log"));
    assert_eq!(req(&e, "obligation:post-mortem").due, Some("2026-11-06T10:00:00Z".parse().expect("ts")));
}

#[test]
fn s003_08_override_needs_named_approver_and_justification_in_the_commit() {
    let policy = example("optional-peer-review");
    let bare = direct(ENG).title("ENG-9 bypass").paths(&["src/a.ts"]).checks_pass(CLERK_GATES);
    let e = eval(&policy, &bare.build());
    assert_eq!(e.category.id, "override");
    assert!(e.emergency, "overrides are treated as emergency changes");
    assert_eq!(status(&e, "trailer:override-justification"), Status::Missing);
    assert_eq!(status(&e, "pull-request"), Status::Missing);
    let approved = direct(ENG)
        .title("ENG-9 bypass")
        .paths(&["src/a.ts"])
        .checks_pass(CLERK_GATES)
        .approved_by(SRE)
        .trailer("Emergency-Authorized-By", "SRE Lead <sre-lead@clerk.io>")
        .trailer("Override-Justification", "payment outage; ruleset blocked the fix")
        .trailer("Risk-Assessment", "low: one-line config revert")
        .build();
    let e = eval(&policy, &approved);
    assert_eq!(status(&e, "review"), Status::Met);
    assert_eq!(status(&e, "trailer:risk-assessment"), Status::Met);
    assert_eq!(status(&e, "pull-request"), Status::Waived);
}

#[test]
fn s003_09_commits_are_signed() {
    let policy = example("optional-peer-review");
    let e = eval(&policy, &pr(1, ENG).title("ENG-6").paths(&["src/a.ts"]).unsigned().build());
    assert_eq!(status(&e, "signed-commits"), Status::Missing);
    let e = eval(&policy, &pr(2, ENG).title("ENG-6").paths(&["src/a.ts"]).build());
    assert_eq!(status(&e, "signed-commits"), Status::Met);
}

// ---- 004: healthcare CAB ----------------------------------------------------------------------

const CEO: &str = "dana.reyes@eonpro.io";
const CTO: &str = "marcus.webb@eonpro.io";
const CISO: &str = "priya.natarajan@eonpro.io";
const LENA: &str = "lena.fischer@eonpro.io";
const JIN: &str = "jin.park@eonpro.io";
const SOFIA: &str = "sofia.marquez@eonpro.io";
const TOM: &str = "tom.becker@eonpro.io";

#[test]
fn s004_02_critical_needs_ciso_and_cto() {
    let policy = example("healthcare-cab");
    let base = || pr(1, TOM).paths(&["src/lib/auth/session.ts"]).approved_by(JIN);
    let e = eval(&policy, &base().approved_by(CTO).build());
    assert_eq!(e.risk.as_ref().map(|r| r.id.as_str()), Some("critical"));
    assert_eq!(status(&e, "review:risk"), Status::Missing, "CTO alone is not enough");
    let e = eval(&policy, &base().approved_by(CTO).approved_by(CISO).build());
    assert_eq!(status(&e, "review:risk"), Status::Met);
}

#[test]
fn s004_02_high_needs_one_of_cto_or_team_lead() {
    let policy = example("healthcare-cab");
    let e = eval(&policy, &pr(1, TOM).paths(&["src/lib/payments/charge.ts"]).approved_by(SOFIA).build());
    assert_eq!(e.risk.as_ref().map(|r| r.id.as_str()), Some("high"));
    assert_eq!(status(&e, "review:risk"), Status::Missing);
    let e = eval(&policy, &pr(2, TOM).paths(&["src/lib/payments/charge.ts"]).approved_by(LENA).build());
    assert_eq!(status(&e, "review:risk"), Status::Met);
}

#[test]
fn s004_02_medium_team_lead_or_senior_dev_and_low_any_member() {
    let policy = example("healthcare-cab");
    let e = eval(&policy, &pr(1, TOM).paths(&["src/app/api/users/route.ts"]).approved_by(SOFIA).build());
    assert_eq!(e.risk.as_ref().map(|r| r.id.as_str()), Some("medium"));
    assert_eq!(status(&e, "review:risk"), Status::Met);
    let e = eval(&policy, &pr(2, SOFIA).paths(&["src/components/Button.tsx"]).approved_by(TOM).build());
    assert_eq!(e.risk.as_ref().map(|r| r.id.as_str()), Some("low"));
    assert_eq!(status(&e, "review:risk"), Status::Met);
}

#[test]
fn s004_04_required_request_fields_depend_on_the_type() {
    let policy = example("healthcare-cab");
    let e = eval(&policy, &pr(1, TOM).paths(&["src/components/x.tsx"]).label("standard-change").build());
    assert_eq!(e.category.id, "standard");
    assert!(!has_req(&e, "description:risk-assessment"), "not required for standard changes");
    assert_eq!(status(&e, "description:rollback-plan"), Status::Missing);
    let e = eval(&policy, &pr(2, TOM).paths(&["src/components/x.tsx"]).build());
    assert_eq!(e.category.id, "normal");
    assert_eq!(status(&e, "description:risk-assessment"), Status::Missing);
}

#[test]
fn s004_05_pr_template_checkboxes_are_read_as_data() {
    let policy = example("healthcare-cab");
    let body = "## Description\nx\n## Type of Change\n- [x] Database migration\n## Risk Level\n- [x] Critical - Security controls, PHI handling\n## Security Checklist\n- [x] No secrets in code\n- [ ] Input validation implemented\n";
    let e = eval(&policy, &pr(1, TOM).paths(&["src/components/x.tsx"]).body(body).build());
    assert_eq!(e.category.id, "major", "the Database migration box makes it major");
    assert_eq!(e.risk.as_ref().map(|r| r.id.as_str()), Some("critical"), "the Critical box sets the risk");
    assert_eq!(status(&e, "checklist:security-checklist"), Status::Missing);
}

#[test]
fn s004_06_s004_07_codeowners_teams_review_their_areas() {
    let policy = example("healthcare-cab");
    // Database changes: data team + security team.
    let e = eval(&policy, &pr(1, TOM).paths(&["prisma/schema.prisma"]).approved_by(SOFIA).build());
    assert_eq!(status(&e, "review:area:database"), Status::Missing);
    let e = eval(&policy, &pr(2, TOM).paths(&["prisma/schema.prisma"]).approved_by(SOFIA).approved_by(JIN).build());
    assert_eq!(status(&e, "review:area:database"), Status::Met, "{:#?}", req(&e, "review:area:database"));
    // Workflows: devops + security.
    let e = eval(&policy, &pr(3, LENA).paths(&[".github/workflows/ci.yml"]).approved_by(TOM).build());
    assert_eq!(status(&e, "review:area:workflows"), Status::Missing);
}

#[test]
fn s004_07_security_critical_needs_security_team_and_peer() {
    let policy = example("healthcare-cab");
    let auth = |n: u64| pr(n, TOM).paths(&["src/lib/auth/session.ts"]);
    // Jin is on the security team and an engineer: alone he is one person, not two.
    let e = eval(&policy, &auth(1).approved_by(JIN).build());
    assert_eq!(status(&e, "review:area:auth"), Status::Missing, "security team plus a peer is two people");
    assert!(req(&e, "review:area:auth").detail.as_deref().unwrap_or("").contains("counted for another part"));
    // A peer alone, without the security team, is not enough.
    let e = eval(&policy, &auth(2).approved_by(LENA).build());
    assert_eq!(status(&e, "review:area:auth"), Status::Missing);
    // The CISO is security but not an engineer: the peer is still missing.
    let e = eval(&policy, &auth(3).approved_by(CISO).build());
    assert_eq!(status(&e, "review:area:auth"), Status::Missing);
    // Security team (Jin) plus a peer (Lena).
    let e = eval(&policy, &auth(4).approved_by(JIN).approved_by(LENA).build());
    assert_eq!(status(&e, "review:area:auth"), Status::Met, "{:#?}", req(&e, "review:area:auth"));
    // Security team (the CISO) plus a peer (Jin, who is also on the security team).
    let e = eval(&policy, &auth(5).approved_by(CISO).approved_by(JIN).build());
    assert_eq!(status(&e, "review:area:auth"), Status::Met, "{:#?}", req(&e, "review:area:auth"));
    // The author cannot be their own security reviewer.
    let e = eval(&policy, &pr(6, JIN).paths(&["src/lib/auth/session.ts"]).approved_by(JIN).approved_by(LENA).build());
    assert_eq!(status(&e, "review:area:auth"), Status::Missing);
}

#[test]
fn s004_07_api_changes_need_the_api_owner_and_a_peer() {
    let policy = example("healthcare-cab");
    let api = |n: u64| pr(n, TOM).paths(&["src/app/api/users/route.ts"]);
    // Lena owns the API and is an engineer: one approval from her is not owner plus peer.
    let e = eval(&policy, &api(1).approved_by(LENA).build());
    assert_eq!(status(&e, "review:area:api"), Status::Missing);
    // A peer without the API owner.
    let e = eval(&policy, &api(2).approved_by(SOFIA).build());
    assert_eq!(status(&e, "review:area:api"), Status::Missing);
    assert!(req(&e, "review:area:api").detail.as_deref().unwrap_or("").contains("@api-owners"));
    // The API owner plus a peer.
    let e = eval(&policy, &api(3).approved_by(LENA).approved_by(SOFIA).build());
    assert_eq!(status(&e, "review:area:api"), Status::Met, "{:#?}", req(&e, "review:area:api"));
}

#[test]
fn s004_14_a_policy_change_needs_the_ceo_cto_and_ciso() {
    let policy = example("healthcare-cab");
    let change = |n: u64| pr(n, TOM).paths(&["countersign.toml"]);
    let e = eval(&policy, &change(1).approved_by(LENA).build());
    assert_eq!(status(&e, "review"), Status::Met, "a peer reviewed it");
    assert_eq!(status(&e, "review:area:policy"), Status::Missing, "one peer is not the document's approvers");
    let e = eval(&policy, &change(2).approved_by(LENA).approved_by(CTO).approved_by(CISO).build());
    assert_eq!(status(&e, "review:area:policy"), Status::Missing, "the CEO has not signed");
    let e = eval(
        &policy,
        &change(3).approved_by(LENA).approved_by(CTO).approved_by(CISO).approved_by("github:dreyes").build(),
    );
    assert_eq!(status(&e, "review:area:policy"), Status::Met, "{:#?}", req(&e, "review:area:policy"));
    // The CTO owns the policy and signs by authoring it; the CEO and CISO still sign.
    let e = eval(&policy, &pr(4, CTO).paths(&["countersign.toml"]).approved_by(CISO).approved_by(CEO).build());
    assert_eq!(status(&e, "review:area:policy"), Status::Met, "{:#?}", req(&e, "review:area:policy"));
}

#[test]
fn s004_08_emergency_verbal_approval_recorded_and_documented_within_24h() {
    let policy = example("healthcare-cab");
    let change = pr(1, TOM)
        .paths(&["src/components/x.tsx"])
        .label("emergency")
        .trailer("Emergency-Approved-By", "Lena Fischer <lena.fischer@eonpro.io>")
        .build();
    let e = eval_at(&policy, &change, "2026-11-01T11:00:00Z");
    assert_eq!(status(&e, "emergency-authorization"), Status::Met);
    assert_eq!(status(&e, "review"), Status::Waived, "approved after the fact");
    assert_eq!(req(&e, "obligation:documentation").due, Some("2026-11-02T10:00:00Z".parse().expect("ts")));
    assert_eq!(status(&e, "obligation:record-verbal-approval"), Status::Missing, "15 minutes have passed");
}

#[test]
fn s004_12_destructive_migrations_need_database_review() {
    let policy = example("healthcare-cab");
    let m = "prisma/migrations/20261101_drop/migration.sql";
    let e =
        eval(&policy, &pr(1, TOM).added(&[m]).added_lines(m, &["ALTER TABLE \"User\" DROP COLUMN \"ssn\";"]).build());
    assert_eq!(status(&e, "review:flag:destructive-migration"), Status::Missing);
    assert_eq!(status(&e, "co-change:migration-rollback-script"), Status::Missing);
}

#[test]
fn s004_13_infrastructure_follows_the_major_process() {
    let policy = example("healthcare-cab");
    let e = eval(&policy, &pr(1, TOM).paths(&["infrastructure/vpc.tf"]).approved_by(LENA).build());
    assert_eq!(e.category.id, "major");
    assert_eq!(status(&e, "review"), Status::Missing, "CAB + executive needed");
    let e = eval(&policy, &pr(2, TOM).paths(&["infrastructure/vpc.tf"]).approved_by(LENA).approved_by(CTO).build());
    assert_eq!(status(&e, "review"), Status::Met, "{:#?}", req(&e, "review"));
}

// ---- across all five -------------------------------------------------------------------------

#[test]
fn x03_every_decision_names_its_rule_and_evidence() {
    let policy = example("healthcare-cab");
    let e = eval(&policy, &pr(1, TOM).paths(&["src/lib/auth/x.ts"]).approved_by(CTO).build());
    for r in &e.requirements {
        assert!(!r.required_by.is_empty(), "{r:?}");
        assert!(!r.description.is_empty(), "{r:?}");
        if r.status == Status::Met {
            assert!(!r.evidence.is_empty(), "met without evidence: {r:?}");
        }
        if r.status == Status::Missing {
            assert!(r.detail.is_some(), "missing without saying what: {r:?}");
        }
    }
}

#[test]
fn stale_approval_after_a_later_push_does_not_count() {
    let policy = example("two-person-saas");
    let mut b = saas_pr(1, HOLLY).paths(&["st-apps/x.tsx"]);
    b = b.approved_on(LIAM, "0000000000000000000000000000000000000bad");
    let e = eval(&policy, &b.build());
    assert_eq!(status(&e, "review"), Status::Missing);
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("stale"));
}

#[test]
fn git_only_review_absence_is_evidence_missing_not_violation() {
    let policy = example("two-person-saas");
    let e = eval(&policy, &saas_pr(1, HOLLY).paths(&["st-apps/x.tsx"]).git_only().build());
    assert_eq!(status(&e, "review"), Status::Unknown);
    assert_eq!(status(&e, "gate:frontend-ci / lint"), Status::Unknown);
    assert_eq!(e.verdict, Verdict::EvidenceMissing);
}

#[test]
fn s000_17_runbooks_are_updated_in_the_same_pr_as_deploy_changes() {
    let policy = example("two-person-saas");
    let e = eval(&policy, &saas_pr(1, LIAM).paths(&[".github/workflows/release.yml"]).build());
    assert_eq!(status(&e, "co-change:runbooks"), Status::Missing);
    let e =
        eval(&policy, &saas_pr(2, LIAM).paths(&[".github/workflows/release.yml", "st-apps/docs/RUNBOOKS.md"]).build());
    assert_eq!(status(&e, "co-change:runbooks"), Status::Met);
}

#[test]
fn s002_07_schema_changes_state_their_rollback() {
    let policy = example("oss-sdk");
    let e = eval(&policy, &pr(1, SAM).paths(&["migrations/0004_users.sql"]).body(SDK_BODY).approved_by(GREG).build());
    assert_eq!(e.category.id, "significant");
    assert_eq!(status(&e, "description:rollback"), Status::Missing);
    let body = format!("{SDK_BODY}\n## Rollback\nRun migrations/0004_users.down.sql (tested on a copy)\n");
    let e = eval(&policy, &pr(2, SAM).paths(&["migrations/0004_users.sql"]).body(&body).approved_by(GREG).build());
    assert_eq!(status(&e, "description:rollback"), Status::Met);
}

#[test]
fn s002_11_new_dependencies_are_pinned_in_pyproject() {
    let policy = example("oss-sdk");
    let e = eval(&policy, &pr(1, SAM).paths(&["requirements-dev.txt"]).build());
    assert_eq!(status(&e, "co-change:dependency-pinning"), Status::Missing);
    let e = eval(&policy, &pr(2, SAM).paths(&["requirements-dev.txt", "pyproject.toml"]).build());
    assert_eq!(status(&e, "co-change:dependency-pinning"), Status::Met);
}

#[test]
fn s004_09_security_gate_findings_block_and_an_emergency_does_not_skip_them() {
    let policy = example("healthcare-cab");
    let change = pr(1, TOM)
        .paths(&["src/components/x.tsx"])
        .label("emergency")
        .trailer("Emergency-Approved-By", "Lena Fischer <lena.fischer@eonpro.io>")
        .check("npm-audit", CheckStatus::Failure)
        .check("trufflehog", CheckStatus::Success)
        .build();
    let e = eval(&policy, &change);
    assert_eq!(status(&e, "gate:npm-audit"), Status::Missing, "high/critical dependency findings block");
    assert_eq!(status(&e, "gate:trufflehog"), Status::Met);
    assert_eq!(e.verdict, Verdict::Violation);
}
