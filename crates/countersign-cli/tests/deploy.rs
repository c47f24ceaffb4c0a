//! The deploy gate, black-box: `countersign deploy check` before a deploy and
//! `countersign deploy record` after it, on a real git repository and a real SQLite store.
//! Each test is named after the requirement it proves, and shows the decision change.

mod common;

use common::{NOW, Repo, Run, countersign};

/// A policy whose changes are judged from git alone (review trailers are the complete
/// record), with the `[deploy]` section each test gives.
fn policy(deploy: &str) -> String {
    format!(
        r#"[policy]
organization = "Deploy Co"
title = "Change Management Policy"
owner = "CTO"
version = "1"
effective = 2026-01-01
review-every = "annual"

[people.alice]
name = "Alice"
emails = "alice@example.com"
[people.bob]
name = "Bob"
emails = "bob@example.com"
[people.releasebot]
name = "Release bot"
emails = "bot@example.com"
bot = true

[rules.peer-review]
approvals = 1
from = "*"
exclude-author = true

[[categories]]
id = "standard"
name = "Standard"
default = true
require = "peer-review"

[[categories]]
id = "emergency"
name = "Emergency"
precedence = 100
when = {{ trailer = "Change-Type: emergency" }}
require = "peer-review"
emergency = true

[emergency]
authorizers = ["bob"]
may-skip = ["review"]
authorization-trailer = "Emergency-Authorized-By"

[evidence]
trailers-complete = true

{deploy}
"#
    )
}

const ALICE: &str = "Alice <alice@example.com>";
const A1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const A2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A repository with the policy merged as PR #1 (reviewed), and an initialized store.
fn setup(deploy: &str) -> Repo {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "deploy co\n")], "Start (#100)\n\nReviewed-by: Bob <bob@example.com>");
    repo.merge_pr(1, ALICE, ALICE, &[("countersign.toml", &policy(deploy))], "Reviewed-by: Bob <bob@example.com>");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    repo
}

/// A reviewed change, merged as a PR.
fn reviewed(repo: &Repo, n: u64) -> String {
    repo.merge_pr(n, ALICE, ALICE, &[(&format!("src/f{n}.rs"), "fn main() {}\n")], "Reviewed-by: Bob <bob@example.com>")
}

fn run(repo: &Repo, args: &[&str]) -> Run {
    Run::of(countersign(repo.path()).args(args).env("USER", "deployer"))
}

fn gate(repo: &Repo, env: &str, artifact: &str, commit: &str, extra: &[&str]) -> Run {
    let mut args = vec!["deploy", "check", "--environment", env, "--artifact", artifact, "--commit", commit];
    args.extend_from_slice(extra);
    run(repo, &args)
}

fn deployed(repo: &Repo, env: &str, artifact: &str, commit: &str, extra: &[&str]) {
    let mut args = vec![
        "deploy",
        "record",
        "--environment",
        env,
        "--artifact",
        artifact,
        "--commit",
        commit,
        "--status",
        "success",
    ];
    args.extend_from_slice(extra);
    let r = run(repo, &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn s000_02_production_without_the_same_artifact_on_staging_is_refused() {
    let repo = setup("[deploy]\nenvironments = [\"staging\", \"production\"]\nsame-artifact = true\n");
    let c = reviewed(&repo, 2);

    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("REFUSED"), "{}", r.stdout);
    assert!(r.stdout.contains("[MISSING] order:staging"), "{}", r.stdout);

    deployed(&repo, "staging", A2, &c, &[]);
    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 1, "a different digest on staging does not count: {}", r.stdout);
    assert!(r.stdout.contains("a different artifact"), "{}", r.stdout);

    let r = gate(&repo, "staging", A1, &c, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    deployed(&repo, "staging", A1, &c, &[]);
    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ALLOWED"), "{}", r.stdout);
    assert!(r.stdout.contains("[met]     order:staging"), "{}", r.stdout);
}

#[test]
fn s000_02_an_emergency_still_goes_through_staging_and_a_violation_blocks_the_deploy() {
    let repo = setup("[deploy]\nenvironments = [\"staging\", \"production\"]\nsame-artifact = true\n");
    let c = reviewed(&repo, 2);
    deployed(&repo, "staging", A1, &c, &[]);
    deployed(&repo, "production", A1, &c, &[]);

    // An authorized emergency, unreviewed: compliant, but staging first all the same.
    let e = repo.merge_pr(
        3,
        ALICE,
        ALICE,
        &[("src/hotfix.rs", "fn fix() {}\n")],
        "Hotfix the outage\n\nChange-Type: emergency\nEmergency-Authorized-By: Bob <bob@example.com>",
    );
    let r = gate(&repo, "production", A2, &e, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[met]     range"), "the emergency is compliant: {}", r.stdout);
    assert!(r.stdout.contains("1 compliant (of which 1 authorized emergencies)"), "{}", r.stdout);
    assert!(r.stdout.contains("[MISSING] order:staging"), "{}", r.stdout);
    deployed(&repo, "staging", A2, &e, &[]);
    assert_eq!(gate(&repo, "production", A2, &e, &[]).code, 0);
    deployed(&repo, "production", A2, &e, &[]);

    // An unreviewed change that is not an emergency: the range holds a violation.
    let v = repo.commit(ALICE, &[("src/sneak.rs", "fn sneak() {}\n")], "Sneak a change in");
    let a3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
    let r = gate(&repo, "staging", a3, &v, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[MISSING] range"), "{}", r.stdout);
    assert!(r.stdout.contains("Sneak a change in"), "the report names the change: {}", r.stdout);
    assert!(r.stdout.contains(&format!("since the last successful deploy to staging ({})", &e[..12])), "{}", r.stdout);
}

#[test]
fn s003_06_staging_then_canary_then_production_with_one_digest() {
    let repo = setup("[deploy]\nenvironments = [\"staging\", \"canary\", \"production\"]\nsame-artifact = true\n");
    let c = reviewed(&repo, 2);
    deployed(&repo, "staging", A1, &c, &[]);
    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("[met]     order:staging") && r.stdout.contains("[MISSING] order:canary"),
        "{}",
        r.stdout
    );

    // A failed canary deploy does not count.
    let failed = run(
        &repo,
        &["deploy", "record", "--environment", "canary", "--artifact", A1, "--commit", &c, "--status", "failure"],
    );
    assert_eq!(failed.code, 0, "{}{}", failed.stdout, failed.stderr);
    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("failed (entry #"), "{}", r.stdout);

    deployed(&repo, "canary", A1, &c, &[]);
    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

const PATH_AND_HAND: &str = "[deploy]\nenvironments = [\"staging\", \"production\"]\nproduction-path = \".github/workflows/release.yml\"\nproduction-manual = true\n";

#[test]
fn s000_20_production_through_the_one_workflow_started_by_a_person() {
    let repo = setup(PATH_AND_HAND);
    let c = reviewed(&repo, 2);
    let release = ".github/workflows/release.yml";

    let r = gate(
        &repo,
        "production",
        A1,
        &c,
        &[
            "--via",
            ".github/workflows/backend-deploy.yml",
            "--triggered-by",
            "bob@example.com",
            "--event",
            "workflow_dispatch",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("[MISSING] sanctioned-path"), "{}", r.stdout);

    let r =
        gate(&repo, "production", A1, &c, &["--via", release, "--triggered-by", "bob@example.com", "--event", "push"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("[MISSING] by-hand") && r.stdout.contains("automatic trigger"), "{}", r.stdout);

    let r = gate(
        &repo,
        "production",
        A1,
        &c,
        &["--via", release, "--triggered-by", "bot@example.com", "--event", "workflow_dispatch"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("a bot"), "{}", r.stdout);

    let r = gate(&repo, "production", A1, &c, &[]);
    assert_eq!(r.code, 2, "without --via and --triggered-by the gate cannot judge: {}", r.stdout);
    assert!(r.stdout.contains("CANNOT JUDGE") && r.stdout.contains("--triggered-by"), "{}", r.stdout);

    let r = gate(
        &repo,
        "production",
        A1,
        &c,
        &[
            "--via",
            &format!("deploy-co/app/{release}@refs/heads/main"),
            "--triggered-by",
            "bob@example.com",
            "--event",
            "workflow_dispatch",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Staging is not production: neither rule applies there.
    let r = gate(&repo, "staging", A1, &c, &["--event", "push"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("by-hand"), "{}", r.stdout);
}

#[test]
fn s000_21_stages_of_a_release_deploy_in_order() {
    let repo = setup(
        "[deploy]\nenvironments = [\"staging\", \"production\"]\nstages = [\"backend (migrations, then API and worker)\", \"Fly-hosted frontends\", \"Vercel marketing site\"]\n",
    );
    let c = reviewed(&repo, 2);
    let r = gate(&repo, "production", A1, &c, &["--stage", "Fly-hosted frontends", "--release", "v1.2.0"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("[MISSING] stage-order") && r.stdout.contains("deploy backend (migrations"),
        "{}",
        r.stdout
    );

    // The backend of another release does not count.
    deployed(&repo, "production", A2, &c, &["--stage", "backend", "--release", "v1.1.0"]);
    assert_eq!(gate(&repo, "production", A1, &c, &["--stage", "2", "--release", "v1.2.0"]).code, 1);

    deployed(&repo, "production", A2, &c, &["--stage", "backend", "--release", "v1.2.0"]);
    let r = gate(&repo, "production", A1, &c, &["--stage", "Fly-hosted frontends", "--release", "v1.2.0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = gate(&repo, "production", A1, &c, &["--stage", "vercel marketing site", "--release", "v1.2.0"]);
    assert_eq!(r.code, 1, "the frontends are not deployed yet: {}", r.stdout);
    let r = gate(&repo, "production", A1, &c, &["--stage", "backend"]);
    assert_eq!(r.code, 0, "the first stage needs nothing before it: {}", r.stdout);
    let r = gate(&repo, "production", A1, &c, &["--stage", "database", "--release", "v1.2.0"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("not a stage of the policy"), "{}", r.stdout);
}

#[test]
fn s004_10_each_environment_deploys_from_its_branch() {
    let repo = setup(
        "[deploy]\nenvironments = [\"development\", \"staging\", \"production\"]\nbranches = { staging = \"develop\", production = \"main\" }\n",
    );
    let on_main = reviewed(&repo, 2);
    repo.git(&["checkout", "-q", "-b", "develop"]);
    let on_develop = repo.commit(
        ALICE,
        &[("src/next.rs", "fn next() {}\n")],
        "Next feature (#3)\n\nReviewed-by: Bob <bob@example.com>",
    );
    repo.git(&["checkout", "-q", "main"]);

    let r = gate(&repo, "production", A1, &on_develop, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("[MISSING] branch") && r.stdout.contains("is not on main"), "{}", r.stdout);
    assert_eq!(gate(&repo, "staging", A1, &on_develop, &[]).code, 0);
    assert_eq!(gate(&repo, "production", A1, &on_main, &[]).code, 0);
    // Development names no branch: any commit.
    assert_eq!(gate(&repo, "development", A1, &on_develop, &[]).code, 0);
}

#[test]
fn s004_11_windows_freezes_and_a_verified_close() {
    let repo = setup(
        "[deploy]\nenvironments = [\"staging\", \"production\"]\nverify = true\nwindows = [\"Mon-Thu 09:00-16:00\"]\n\n[[deploy.freezes]]\nfrom = 2026-12-20\nuntil = 2027-01-04\nowner = \"bob\"\nreason = \"Year-end freeze\"\n",
    );
    let c = reviewed(&repo, 2);
    // NOW is Monday 2026-06-01 12:00 UTC: inside the window.
    let r = gate(&repo, "production", A1, &c, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[met]     window") && r.stdout.contains("not logged"), "{}", r.stdout);
    let friday = run(
        &repo,
        &[
            "--now",
            "2026-06-05T12:00:00Z",
            "deploy",
            "check",
            "--environment",
            "production",
            "--artifact",
            A1,
            "--commit",
            &c,
        ],
    );
    assert_eq!(friday.code, 1, "{}", friday.stdout);
    assert!(friday.stdout.contains("Friday 12:00 UTC) is outside every window"), "{}", friday.stdout);
    let frozen = run(
        &repo,
        &[
            "--now",
            "2026-12-21T10:00:00Z",
            "deploy",
            "check",
            "--environment",
            "staging",
            "--artifact",
            A1,
            "--commit",
            &c,
        ],
    );
    assert_eq!(frozen.code, 1, "{}", frozen.stdout);
    assert!(
        frozen.stdout.contains("[MISSING] freeze:2026-12-20")
            && frozen.stdout.contains("Year-end freeze, owned by bob"),
        "{}",
        frozen.stdout
    );
    let after = run(
        &repo,
        &[
            "--now",
            "2027-01-05T10:00:00Z",
            "deploy",
            "check",
            "--environment",
            "staging",
            "--artifact",
            A1,
            "--commit",
            &c,
        ],
    );
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);

    // After the deploy: a production record without a health check and completion time
    // is kept, and exits 1 until verified.
    let args =
        ["deploy", "record", "--environment", "production", "--artifact", A1, "--commit", &c, "--status", "success"];
    let r = run(&repo, &args);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("recorded the success deploy") && r.stdout.contains("[MISSING] verify:health-check"),
        "{}",
        r.stdout
    );
    let mut verified = args.to_vec();
    verified.extend(["--health-check", "pass", "--completed-at", "2026-06-01T12:40:00Z"]);
    let r = run(&repo, &verified);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("[met]     verify:completed-at") && r.stdout.contains("completed at 2026-06-01T12:40:00Z"),
        "{}",
        r.stdout
    );
}

#[test]
fn s001_03_a_local_deploy_needs_a_clean_tree_equal_to_origin_main() {
    let repo = setup("[deploy]\nenvironments = [\"production\"]\nclean-worktree = true\n");
    let c = reviewed(&repo, 2);
    let r = gate(&repo, "production", A1, "HEAD", &[]);
    assert_eq!(r.code, 2, "without --worktree the gate cannot judge: {}", r.stdout);
    let r = gate(&repo, "production", A1, "HEAD", &["--worktree"]);
    assert_eq!(r.code, 1, "there is no origin/main yet: {}", r.stdout);
    assert!(r.stdout.contains("HEAD is not origin/main"), "{}", r.stdout);

    repo.git(&["update-ref", "refs/remotes/origin/main", &c]);
    repo.write("src/f2.rs", "fn main() { edited_locally() }\n");
    let r = gate(&repo, "production", A1, "HEAD", &["--worktree"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("1 tracked files differ: src/f2.rs"), "{}", r.stdout);

    repo.git(&["checkout", "--", "src/f2.rs"]);
    repo.write("notes.txt", "untracked files do not matter\n");
    let r = gate(&repo, "production", A1, "HEAD", &["--worktree"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn every_decision_is_a_verified_log_entry_and_json_names_it() {
    let repo = setup("[deploy]\nenvironments = [\"staging\", \"production\"]\nsame-artifact = true\n");
    let c = reviewed(&repo, 2);
    let refused = run(
        &repo,
        &["--format", "json", "deploy", "check", "--environment", "production", "--artifact", A1, "--commit", &c],
    );
    assert_eq!(refused.code, 1);
    let json: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(json["schema"], "countersign.deploy-check");
    assert_eq!(json["decision"], "refused");
    assert_eq!(json["environment"], "production");
    assert_eq!(json["range"]["changes"], 3);
    let entry = json["entry"].as_u64().expect("the decision's entry");

    let shown = run(&repo, &["--format", "json", "log", "show", "--entry", &entry.to_string()]);
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(shown.stdout.contains("https://countersign.dev/evidence/deploy-decision/v1"), "{}", shown.stdout);
    assert!(shown.stdout.contains("\"decision\": \"refused\""), "{}", shown.stdout);
    let verify = run(&repo, &["log", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);

    // No one writes a decision by hand.
    let forged = format!(
        r#"{{"kind": "deploy-decision", "environment": "production", "commit": "{c}", "decision": "allowed", "requirements": [], "changes": 0, "policySha256": "00", "decidedAt": "{NOW}"}}"#
    );
    let out = countersign(repo.path())
        .args(["record", "--by", "mallory", "--json", "-"])
        .write_stdin(forged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only by `countersign deploy check`"));
}

#[test]
fn bad_deploy_input_is_a_clear_error_and_logs_nothing() {
    let repo = setup("[deploy]\nenvironments = [\"staging\", \"production\"]\n");
    let c = reviewed(&repo, 2);
    let cases: [(&[&str], &str); 5] = [
        (&["deploy", "check", "--environment", "prod", "--commit", &c], "no environment \"prod\""),
        (&["deploy", "check", "--environment", "staging", "--artifact", "sha256:abc", "--commit", &c], "64 hex digits"),
        (&["deploy", "check", "--environment", "staging", "--commit", "no-such-rev"], "is not in"),
        (
            &[
                "deploy",
                "record",
                "--environment",
                "staging",
                "--commit",
                &c,
                "--status",
                "failure",
                "--health-check",
                "pass",
            ],
            "cannot have a passing health check",
        ),
        (
            &[
                "deploy",
                "record",
                "--environment",
                "staging",
                "--commit",
                &c,
                "--status",
                "success",
                "--triggered-by",
                "Mallory",
            ],
            "not a person of the policy",
        ),
    ];
    for (args, message) in cases {
        let r = run(&repo, args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
    let size = run(&repo, &["log", "checkpoint"]);
    assert!(size.stdout.is_empty() || size.stdout.lines().nth(1) == Some("0"), "nothing was logged: {}", size.stdout);

    // A gate without a store says how to make one.
    let bare = Repo::new();
    bare.commit(
        ALICE,
        &[("countersign.toml", &policy("[deploy]\nenvironments = [\"production\"]\n"))],
        "Start (#1)\n\nReviewed-by: Bob <bob@example.com>",
    );
    let r = run(&bare, &["deploy", "check", "--environment", "production", "--commit", "HEAD"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("countersign init"), "{}", r.stderr);
}

also_on_postgres! {
    s000_02_production_without_the_same_artifact_on_staging_is_refused
        => postgres_s000_02_production_without_the_same_artifact_on_staging_is_refused,
    s000_02_an_emergency_still_goes_through_staging_and_a_violation_blocks_the_deploy
        => postgres_s000_02_an_emergency_still_goes_through_staging_and_a_violation_blocks_the_deploy,
    s003_06_staging_then_canary_then_production_with_one_digest
        => postgres_s003_06_staging_then_canary_then_production_with_one_digest,
    s000_20_production_through_the_one_workflow_started_by_a_person
        => postgres_s000_20_production_through_the_one_workflow_started_by_a_person,
    s000_21_stages_of_a_release_deploy_in_order => postgres_s000_21_stages_of_a_release_deploy_in_order,
    s004_10_each_environment_deploys_from_its_branch => postgres_s004_10_each_environment_deploys_from_its_branch,
    s004_11_windows_freezes_and_a_verified_close => postgres_s004_11_windows_freezes_and_a_verified_close,
    s001_03_a_local_deploy_needs_a_clean_tree_equal_to_origin_main
        => postgres_s001_03_a_local_deploy_needs_a_clean_tree_equal_to_origin_main,
    every_decision_is_a_verified_log_entry_and_json_names_it
        => postgres_every_decision_is_a_verified_log_entry_and_json_names_it,
    bad_deploy_input_is_a_clear_error_and_logs_nothing => postgres_bad_deploy_input_is_a_clear_error_and_logs_nothing,
}
