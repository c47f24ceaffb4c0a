//! Emergencies tracked to closure, black-box: obligations with due times, fulfilled by a
//! record (at the time they happened) or by a compliant follow-up change, overdue and late
//! ones failing, and `countersign obligations` listing them. Real git, real SQLite.

mod common;

use common::{Repo, Run, countersign};

const POLICY: &str = concat!(
    acme_policy!(),
    acme_emergency!(r#"{ any = [{ label = "emergency" }, { trailer = "Change-Type: emergency" }] }"#),
    r#"
[[emergency.obligations]]
id = "documented"
description = "Description, justification and testing performed are documented"
within = "24h"

[[emergency.obligations]]
id = "retro-pr"
description = "A retroactive PR whose CI passes"
within = "24h"
fulfilled-by = "follow-up"

[[emergency.obligations]]
id = "review"
description = "A post-implementation review"
within = "48h"

[[emergency.obligations]]
id = "post-mortem"
description = "A post-mortem"
within = "5d"

[evidence]
trailers-complete = true
"#
);

const ALICE: &str = "Alice <alice@example.com>";

fn run(repo: &Repo, args: &[&str]) -> Run {
    Run::of(countersign(repo.path()).args(args).env("USER", "bob@example.com"))
}

/// The policy merged reviewed, then an authorized emergency pushed straight to main
/// (unreviewed); returns the repository and the emergency's commit. The repository's clock
/// starts at 2026-05-28T20:26:40Z; the tests judge as of 2026-06-01T12:00:00Z.
fn with_emergency() -> (Repo, String) {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", POLICY)], "Reviewed-by: Bob <bob@example.com>");
    let emergency = repo.merge_pr(
        3,
        ALICE,
        ALICE,
        &[("src/fix.rs", "fn fix() {}\n")],
        "Hotfix the outage\n\nChange-Type: emergency\nEmergency-Authorized-By: Bob <bob@example.com>",
    );
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    (repo, emergency)
}

fn git_time(repo: &Repo, commit: &str) -> jiff::Timestamp {
    repo.git(&["show", "-s", "--format=%cI", commit]).parse().unwrap()
}

fn fulfil(repo: &Repo, change: &str, obligation: &str, at: Option<&str>) -> Run {
    let mut args = vec![
        "record",
        "obligation-fulfilled",
        "--change",
        change,
        "--obligation",
        obligation,
        "--by",
        "bob@example.com",
    ];
    if let Some(at) = at {
        args.extend(["--at", at]);
    }
    run(repo, &args)
}

#[test]
fn x05_overdue_and_late_obligations_fail_and_are_listed_most_urgent_first() {
    let (repo, emergency) = with_emergency();
    let declared = git_time(&repo, &emergency);

    // Nothing recorded: three days on, the 24h and 48h obligations are overdue.
    let r = run(&repo, &["obligations"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("OVERDUE") && lines[0].contains("documented"), "{}", r.stdout);
    assert!(r.stdout.contains("PENDING") && r.stdout.contains("post-mortem"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Obligations: 4 open (3 overdue), 0 fulfilled on time, 0 fulfilled late"),
        "{}",
        r.stdout
    );
    let audit = run(&repo, &["audit"]);
    assert_eq!(audit.code, 1, "an overdue obligation is a violation: {}", audit.stdout);
    assert!(audit.stdout.contains("[MISSING] obligation:documented"), "{}", audit.stdout);
    assert!(audit.stdout.contains("emergency obligations: 4 open (3 overdue)"), "{}", audit.stdout);

    // Documented two hours after the emergency (recorded days later): on time.
    let two_hours = (declared + jiff::SignedDuration::from_hours(2)).to_string();
    let r = fulfil(&repo, &emergency, "documented", Some(&two_hours));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The review happened, but three days late.
    let late = (declared + jiff::SignedDuration::from_hours(72)).to_string();
    assert_eq!(fulfil(&repo, &emergency, "review", Some(&late)).code, 0);
    // A fulfilment cannot be dated after it is recorded.
    let r = fulfil(&repo, &emergency, "post-mortem", Some("2099-01-01T00:00:00Z"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("after it is recorded"), "{}", r.stderr);

    let r = run(&repo, &["--format", "json", "obligations", "--all"]);
    assert_eq!(r.code, 1, "the retroactive PR is still overdue: {}", r.stdout);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["schema"], "countersign.obligations");
    let state = |id: &str| -> String {
        json["obligations"].as_array().unwrap().iter().find(|o| o["obligation"] == id).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state("documented"), "fulfilled");
    assert_eq!(state("review"), "fulfilled-late");
    assert_eq!(state("retro-pr"), "overdue");
    assert_eq!(state("post-mortem"), "pending");
    assert_eq!(json["counts"], serde_json::json!({"open": 2, "overdue": 1, "fulfilled": 1, "fulfilled_late": 1}));

    let r = run(&repo, &["obligations", "--overdue"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("retro-pr") && !r.stdout.contains("post-mortem"), "{}", r.stdout);
    // The post-mortem falls due within two days, not within one.
    let r = run(&repo, &["obligations", "--due-within", "2d"]);
    assert!(r.stdout.contains("post-mortem"), "{}", r.stdout);
    let r = run(&repo, &["obligations", "--due-within", "1h"]);
    assert!(!r.stdout.contains("post-mortem") && r.stdout.contains("retro-pr"), "{}", r.stdout);
    // Next year, the post-mortem is overdue too.
    let r = run(&repo, &["--now", "2027-06-01T00:00:00Z", "obligations", "--overdue"]);
    assert!(r.stdout.contains("post-mortem"), "{}", r.stdout);
}

#[test]
fn s002_08_a_compliant_follow_up_change_fulfils_the_retroactive_pr() {
    let (repo, emergency) = with_emergency();
    // An unreviewed follow-up does not count.
    let trailer = format!("Emergency-Follow-Up: {}", &emergency[..8]);
    repo.merge_pr(
        4,
        ALICE,
        ALICE,
        &[("tests/fix.rs", "#[test] fn t() {}\n")],
        &format!("Tests for the hotfix\n\n{trailer}"),
    );
    let r = run(&repo, &["obligations", "--overdue"]);
    assert!(r.stdout.contains("retro-pr"), "{}", r.stdout);

    // A reviewed one does, at its own time (minutes after the emergency: on time).
    repo.merge_pr(
        5,
        ALICE,
        ALICE,
        &[("tests/fix2.rs", "#[test] fn t2() {}\n")],
        &format!("More tests for the hotfix\n\n{trailer}\nReviewed-by: Bob <bob@example.com>"),
    );
    let r = run(&repo, &["--format", "json", "obligations", "--all"]);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let retro = json["obligations"].as_array().unwrap().iter().find(|o| o["obligation"] == "retro-pr").unwrap();
    assert_eq!(retro["state"], "fulfilled", "{retro:#}");
    assert!(retro["evidence"][0].as_str().unwrap().contains("follow-up change #5"), "{retro:#}");
}

#[test]
fn s002_08_a_follow_up_may_name_the_emergency_by_its_pull_request() {
    let (repo, _) = with_emergency();
    repo.merge_pr(
        4,
        ALICE,
        ALICE,
        &[("tests/fix.rs", "#[test] fn t() {}\n")],
        "Tests\n\nEmergency-Follow-Up: #3\nReviewed-by: Bob <bob@example.com>",
    );
    let r = run(&repo, &["obligations", "--all"]);
    assert!(r.stdout.lines().any(|l| l.starts_with("FULFILLED ") && l.contains("retro-pr")), "{}", r.stdout);
}

#[test]
fn s003_07_an_emergency_declared_by_record_is_an_emergency_in_audit() {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", POLICY)], "Reviewed-by: Bob <bob@example.com>");
    // No label or trailer git could show: the emergency label lived on the forge.
    let fix = repo.merge_pr(3, ALICE, ALICE, &[("src/fix.rs", "fn fix() {}\n")], "Hotfix the outage");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    let before = run(&repo, &["--format", "json", "audit"]);
    let json: serde_json::Value = serde_json::from_str(&before.stdout).unwrap();
    assert_eq!(json["changes"][0]["category"]["id"], "standard");
    assert_eq!(before.code, 1, "unreviewed and not an emergency: {}", before.stdout);

    let r = run(
        &repo,
        &[
            "record",
            "emergency",
            "--change",
            &fix,
            "--declared-by",
            "bob@example.com",
            "--reason",
            "checkout is down",
            "--by",
            "bob@example.com",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let after = run(&repo, &["--format", "json", "audit"]);
    let json: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    let change = &json["changes"][0];
    assert_eq!(change["category"]["id"], "emergency", "{change:#}");
    assert!(
        change["category"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("declared an emergency by bob@example.com, recorded entry #0"),
        "{change:#}"
    );
    assert_eq!(change["emergency"], true);
    let review = change["requirements"].as_array().unwrap().iter().find(|r| r["id"] == "review").unwrap();
    assert_eq!(review["status"], "waived", "{review:#}");
    // Its obligations are tracked like any other emergency's.
    let r = run(&repo, &["obligations"]);
    assert!(r.stdout.contains("documented") && r.stdout.contains("PR #3"), "{}", r.stdout);
}

/// The policy merged reviewed, then an unreviewed pull request (#3) by Alice.
fn with_unreviewed_change() -> Repo {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", POLICY)], "Reviewed-by: Bob <bob@example.com>");
    repo.merge_pr(3, ALICE, ALICE, &[("src/quick.rs", "fn quick() {}\n")], "A quick change");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    repo
}

fn request(repo: &Repo, until: &str, by: &str) -> Run {
    run(
        repo,
        &[
            "exception",
            "request",
            "--waives",
            "review",
            "--until",
            until,
            "--person",
            "alice@example.com",
            "--justification",
            "Bob is on leave; Alice ships alone until he is back",
            "--by",
            by,
        ],
    )
}

#[test]
fn s000_18_an_exception_needs_a_second_operator_a_justification_and_an_end() {
    let repo = with_unreviewed_change();
    assert_eq!(run(&repo, &["audit"]).code, 1, "unreviewed");

    // Dates in the past, or more than a year ahead, are refused and nothing is stored.
    for until in ["2026-05-01", "2027-06-02"] {
        let r = request(&repo, until, "alice@example.com");
        assert_eq!(r.code, 2, "{until}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("nothing was stored"), "{}", r.stderr);
    }
    let r = request(&repo, "2026-06-30", "alice@example.com");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("requested exception #0"), "{}", r.stdout);
    let audit = run(&repo, &["audit"]);
    assert_eq!(audit.code, 1, "a request waives nothing: {}", audit.stdout);
    let listed = run(&repo, &["exceptions"]);
    assert!(listed.stdout.starts_with("AWAITING-APPROVAL  recorded #0"), "{}", listed.stdout);

    // The requester cannot approve it, nor can someone the policy does not know.
    let r = run(&repo, &["exception", "approve", "0", "--by", "alice@example.com"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot also approve it"), "{}", r.stderr);
    let r = run(&repo, &["exception", "approve", "0", "--by", "mallory@example.com"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a person of the policy"), "{}", r.stderr);
    // Nor is an approval recorded by hand, in anyone's name.
    let forged = r#"{"kind": "exception-approval", "exception": 0}"#;
    let out = countersign(repo.path())
        .args(["record", "--by", "bob@example.com", "--json", "-"])
        .write_stdin(forged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let r = run(&repo, &["exception", "approve", "#0", "--by", "bob@example.com"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let audit = run(&repo, &["--format", "json", "audit"]);
    assert_eq!(audit.code, 0, "{}", audit.stdout);
    let json: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let review = json["changes"][0]["requirements"].as_array().unwrap().iter().find(|r| r["id"] == "review").unwrap();
    assert_eq!(review["status"], "waived");
    assert!(review["detail"].as_str().unwrap().starts_with("exception recorded #0: Bob is on leave"), "{review:#}");
    let listed = run(&repo, &["--format", "json", "exceptions"]);
    let json: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let ex = &json["exceptions"][0];
    assert_eq!((ex["state"].as_str(), ex["until"].as_str()), (Some("in-force"), Some("2026-06-30")));
    assert_eq!(ex["approved_by"][0], "bob (entry #1)");

    // After its date it stops waiving, and shows as ended.
    let later = run(&repo, &["--now", "2026-07-01T09:00:00Z", "audit"]);
    assert_eq!(later.code, 1, "{}", later.stdout);
    assert!(
        later.stdout.contains("exception recorded #0 no longer applies: its re-evaluation date 2026-06-30 has passed"),
        "{}",
        later.stdout
    );
    let listed = run(&repo, &["--now", "2026-07-01T09:00:00Z", "exceptions"]);
    assert!(listed.stdout.starts_with("ENDED"), "{}", listed.stdout);
    let r = run(&repo, &["--now", "2026-07-01T09:00:00Z", "exception", "approve", "0", "--by", "bob@example.com"]);
    assert_eq!(r.code, 2, "an ended exception is renewed by a new request: {}", r.stderr);
}

const CONSOLE: &str = r#"
[console]
providers = ["Cloudflare", "Stripe"]
required-fields = ["who", "when", "provider", "what changed", "why", "how to undo"]

[[categories]]
id = "console"
name = "Console change"
precedence = 50
when = { kind = "console-change" }
require = "peer-review"
"#;

#[test]
fn s000_12_a_console_change_is_logged_with_every_field_and_judged() {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    let policy = format!("{POLICY}{CONSOLE}");
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", &policy)], "Reviewed-by: Bob <bob@example.com>");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    let base = [
        "record",
        "console-change",
        "--system",
        "Cloudflare",
        "--description",
        "Raised the WAF rate limit to 200/min",
        "--by",
        "alice@example.com",
    ];

    // Without who, why and how to undo: refused, nothing stored.
    let r = run(&repo, &base);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("lacks \"who\", \"when\", \"why\", \"how to undo\""), "{}", r.stderr);
    assert!(r.stderr.contains("--field \"how to undo=…\""), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was stored"), "{}", r.stderr);
    // A provider the policy does not list, or a person it does not know: refused too.
    let mut unknown = base.to_vec();
    unknown[3] = "Heroku";
    assert_eq!(run(&repo, &unknown).code, 2);

    let mut full = base.to_vec();
    full.extend([
        "--changed-by",
        "alice@example.com",
        "--at",
        "2026-05-30T09:15:00Z",
        "--field",
        "why=A customer's batch import was throttled",
        "--field",
        "how to undo=Set the WAF rate limit back to 100/min",
    ]);
    let r = run(&repo, &full);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("recorded entry 0 (console-change)"), "{}", r.stdout);

    // It is a change of its own in the audit, judged like any other.
    let audit = run(&repo, &["--format", "json", "audit"]);
    let json: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let change = json["changes"].as_array().unwrap().iter().find(|c| c["change"]["id"] == "console:0").expect("listed");
    assert_eq!(change["change"]["kind"], "console-change");
    assert_eq!(change["change"]["title"], "Cloudflare: Raised the WAF rate limit to 200/min");
    assert_eq!(change["change"]["time"], "2026-05-30T09:15:00Z");
    assert_eq!(change["category"]["id"], "console");
    let status =
        |id: &str| change["requirements"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap()["status"].clone();
    assert_eq!(status("console-field:how-to-undo"), "met");
    assert_eq!(status("review"), "missing", "{change:#}");
    assert_eq!(audit.code, 1);

    // The person who made it cannot approve it; someone else can.
    let mine = run(
        &repo,
        &[
            "record",
            "approval",
            "--change",
            "console:0",
            "--approver",
            "alice@example.com",
            "--by",
            "alice@example.com",
        ],
    );
    assert_eq!(mine.code, 0, "{}{}", mine.stdout, mine.stderr);
    assert_eq!(run(&repo, &["audit"]).code, 1, "an approval by the changer does not count");
    let r = run(
        &repo,
        &["record", "approval", "--change", "console:0", "--approver", "bob@example.com", "--by", "bob@example.com"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let audit = run(&repo, &["audit"]);
    assert_eq!(audit.code, 0, "{}", audit.stdout);
    // Evidence can name only a console change that exists.
    let r = run(
        &repo,
        &["record", "approval", "--change", "console:1", "--approver", "bob@example.com", "--by", "bob@example.com"],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    // A date range leaves out the console changes outside it.
    let june = run(&repo, &["--format", "json", "audit", "--since", "2026-05-31"]);
    assert!(!june.stdout.contains("console:0"), "{}", june.stdout);
}

#[test]
fn s004_14_s000_19_the_policy_version_is_published_signed_and_reviewed_on_time() {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    let policy = POLICY.replacen(
        "review-every = \"annual\"",
        "review-every = \"annual\"\nlast-review = 2026-01-15\ndocument-approvers = [\"alice\", \"bob\"]",
        1,
    );
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", &policy)], "Reviewed-by: Bob <bob@example.com>");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();

    let r = run(&repo, &["policy", "status"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("published:  NO"), "{}", r.stdout);
    assert!(r.stderr.is_empty() || !r.stderr.contains("error"), "{}", r.stderr);
    // Approving before publishing is refused.
    assert_eq!(run(&repo, &["policy", "approve", "--by", "bob@example.com"]).code, 2);

    let r = run(&repo, &["policy", "publish", "--by", "alice@example.com"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("published policy version 1"), "{}", r.stdout);
    let again = run(&repo, &["policy", "publish", "--by", "alice@example.com"]);
    assert!(again.stdout.starts_with("already published"), "{}", again.stdout);

    assert_eq!(run(&repo, &["policy", "approve", "--by", "bob@example.com"]).code, 0);
    assert_eq!(run(&repo, &["policy", "approve", "--by", "bob@example.com"]).code, 2, "once each");
    let r = run(&repo, &["policy", "status"]);
    assert_eq!(r.code, 1, "alice has not signed: {}", r.stdout);
    assert!(r.stdout.contains("MISSING:    approvals of alice"), "{}", r.stdout);
    assert_eq!(run(&repo, &["policy", "approve", "--by", "alice@example.com"]).code, 0);
    let r = run(&repo, &["--format", "json", "policy", "status"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["published"], true);
    assert_eq!(json["approved_by"].as_array().unwrap().len(), 2);
    assert_eq!(json["next_review"], "2027-01-15");
    // The audit names the digest it judged with: the published one.
    let audit = run(&repo, &["--format", "json", "audit"]);
    let audit: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    assert_eq!(audit["policy"]["sha256"], json["sha256"]);

    // A year on, the review is overdue (S000-19).
    let r = run(&repo, &["--now", "2027-02-01T00:00:00Z", "policy", "status"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("(OVERDUE)"), "{}", r.stdout);
    // A changed policy is a new version: published again, signed again.
    let changed = policy.replacen("version = \"1\"", "version = \"2\"", 1);
    repo.merge_pr(3, ALICE, ALICE, &[("countersign.toml", &changed)], "Reviewed-by: Bob <bob@example.com>");
    let r = run(&repo, &["policy", "status"]);
    assert!(r.stdout.contains("published:  NO") && r.stdout.contains("versions published: 1"), "{}", r.stdout);
}

#[test]
fn s004_03_s004_11_a_change_moves_from_request_to_close_with_the_time_of_each_stage() {
    let repo = Repo::new();
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    let policy = format!("{POLICY}\n[deploy]\nenvironments = [\"staging\", \"production\"]\nverify = true\n");
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", &policy)], "Reviewed-by: Bob <bob@example.com>");
    let change = repo.merge_pr(3, ALICE, ALICE, &[("src/quick.rs", "fn quick() {}\n")], "A quick change");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();

    let state = |pr: u64| -> serde_json::Value {
        let r = run(&repo, &["--format", "json", "changes"]);
        let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        json["changes"].as_array().unwrap().iter().find(|c| c["change"]["pr_number"] == pr).unwrap()["state"].clone()
    };
    assert_eq!(state(3)["current"], "request", "unreviewed");
    assert_eq!(state(2)["current"], "build", "approved, and the policy has no CI gate");

    let r = run(
        &repo,
        &["record", "approval", "--change", &change, "--approver", "bob@example.com", "--by", "bob@example.com"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(state(3)["current"], "build");
    let r = run(&repo, &["changes", "--state", "build"]);
    assert!(r.stdout.lines().all(|l| l.starts_with("BUILD")) && r.stdout.contains("PR #3"), "{}", r.stdout);

    let deploy = |env: &str, extra: &[&str]| {
        let mut args = vec![
            "deploy",
            "record",
            "--environment",
            env,
            "--commit",
            "HEAD",
            "--status",
            "success",
            "--by",
            "bob@example.com",
        ];
        args.extend_from_slice(extra);
        run(&repo, &args)
    };
    assert_eq!(deploy("staging", &["--completed-at", "2026-05-31T10:00:00Z"]).code, 0);
    let s = state(3);
    assert_eq!((s["current"].as_str(), s["since"].as_str()), (Some("deploy"), Some("2026-05-31T10:00:00Z")), "{s:#}");
    // Deployed to production but not verified: still Deploy (and the record exits 1).
    assert_eq!(deploy("production", &["--completed-at", "2026-05-31T12:00:00Z"]).code, 1);
    assert_eq!(state(3)["current"], "deploy");
    assert_eq!(deploy("production", &["--completed-at", "2026-05-31T14:30:00Z", "--health-check", "pass"]).code, 0);
    let s = state(3);
    assert_eq!(s["current"], "close", "{s:#}");
    assert_eq!(s["since"], "2026-05-31T14:30:00Z", "closed with the actual completion time");
    let stages: Vec<&str> = s["entered"].as_array().unwrap().iter().map(|e| e["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["request", "review", "approve", "build", "deploy", "verify", "close"]);
    let r = run(&repo, &["changes", "--state", "close"]);
    assert_eq!(r.stdout.lines().count(), 3, "all three changes shipped: {}", r.stdout);
    let audit = run(&repo, &["--format", "json", "audit"]);
    assert!(audit.stdout.contains("\"current\": \"close\""), "the audit JSON carries the state too");
}

const STANDING_EXCEPTION: &str = r#"
[groups]
engineering = { members = ["alice", "bob"] }

[[exceptions]]
id = "alice-self-merge"
people = ["alice"]
waives = ["review"]
justification = "Two-person team: Alice merges her own changes"
approved-by = ["bob"]
review-by = 2027-01-31
until-group-exceeds = { group = "engineering", members = 2 }
"#;

/// S000-07: a standing self-merge exception ends when the team grows beyond two. Whether it
/// covered a change is judged by the team as the policy stood at that change, not by
/// today's team: Alice's self-merge while the team was two stays compliant after Carol
/// joins; her self-merge after Carol joined is a violation.
#[test]
fn s000_07_a_standing_exception_ends_when_the_team_grows_judged_at_each_change() {
    let repo = Repo::new();
    let two = format!("{POLICY}{STANDING_EXCEPTION}");
    let three = two
        .replace("[people.bob]", "[people.carol]\nname = \"Carol\"\nemails = \"carol@example.com\"\n[people.bob]")
        .replace(r#"members = ["alice", "bob"]"#, r#"members = ["alice", "bob", "carol"]"#);
    repo.commit(ALICE, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    repo.merge_pr(2, ALICE, ALICE, &[("countersign.toml", &two)], "Reviewed-by: Bob <bob@example.com>");
    let while_two = repo.merge_pr(3, ALICE, ALICE, &[("src/a.rs", "fn a() {}\n")], "Self-merged while we were two");
    repo.merge_pr(
        4,
        ALICE,
        ALICE,
        &[("countersign.toml", &three)],
        "Carol joins\n\nReviewed-by: Bob <bob@example.com>",
    );
    let after = repo.merge_pr(5, ALICE, ALICE, &[("src/b.rs", "fn b() {}\n")], "Self-merged after Carol joined");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();

    let audit = run(&repo, &["--format", "json", "audit"]);
    assert_eq!(audit.code, 1, "{}", audit.stdout);
    let json: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let review = |commit: &str| -> serde_json::Value {
        let change = json["changes"].as_array().unwrap().iter().find(|c| c["change"]["id"] == commit).unwrap();
        change["requirements"].as_array().unwrap().iter().find(|r| r["id"] == "review").unwrap().clone()
    };
    let then = review(&while_two);
    assert_eq!(then["status"], "waived", "{then:#}");
    assert!(then["detail"].as_str().unwrap().starts_with("exception alice-self-merge"), "{then:#}");
    let now = review(&after);
    assert_eq!(now["status"], "missing", "{now:#}");
    assert!(
        now["detail"]
            .as_str()
            .unwrap()
            .contains("exception alice-self-merge no longer applies: @engineering had 3 members, more than 2"),
        "{now:#}"
    );
    // `exceptions` shows the exception as ended today.
    let listed = run(&repo, &["exceptions"]);
    assert!(listed.stdout.starts_with("ENDED") && listed.stdout.contains("alice-self-merge"), "{}", listed.stdout);
}

also_on_postgres! {
    x05_overdue_and_late_obligations_fail_and_are_listed_most_urgent_first
        => postgres_x05_overdue_and_late_obligations_fail_and_are_listed_most_urgent_first,
    s002_08_a_compliant_follow_up_change_fulfils_the_retroactive_pr
        => postgres_s002_08_a_compliant_follow_up_change_fulfils_the_retroactive_pr,
    s002_08_a_follow_up_may_name_the_emergency_by_its_pull_request
        => postgres_s002_08_a_follow_up_may_name_the_emergency_by_its_pull_request,
    s003_07_an_emergency_declared_by_record_is_an_emergency_in_audit
        => postgres_s003_07_an_emergency_declared_by_record_is_an_emergency_in_audit,
    s000_18_an_exception_needs_a_second_operator_a_justification_and_an_end
        => postgres_s000_18_an_exception_needs_a_second_operator_a_justification_and_an_end,
    s000_12_a_console_change_is_logged_with_every_field_and_judged
        => postgres_s000_12_a_console_change_is_logged_with_every_field_and_judged,
    s004_14_s000_19_the_policy_version_is_published_signed_and_reviewed_on_time
        => postgres_s004_14_s000_19_the_policy_version_is_published_signed_and_reviewed_on_time,
    s004_03_s004_11_a_change_moves_from_request_to_close_with_the_time_of_each_stage
        => postgres_s004_03_s004_11_a_change_moves_from_request_to_close_with_the_time_of_each_stage,
    s000_07_a_standing_exception_ends_when_the_team_grows_judged_at_each_change
        => postgres_s000_07_a_standing_exception_ends_when_the_team_grows_judged_at_each_change,
}
