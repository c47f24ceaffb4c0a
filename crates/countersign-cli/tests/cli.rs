//! Black-box tests: the real `countersign` binary on real git repositories.

mod common;

use common::{Repo, countersign, workspace_root};

const HOLLY: &str = "Holly Gibbs <holly@send.tax>";
const LIAM: &str = "Liam Howell <liam@send.tax>";

fn example_policy(name: &str) -> String {
    workspace_root().join(format!("examples/policies/{name}.toml")).display().to_string()
}

/// Commit ids and times differ between machines' git versions only in theory; redact them so
/// snapshots pin the shape and the verdicts.
fn redact(text: &str) -> String {
    let ids = regex_lite(text);
    ids.replace(&workspace_root().display().to_string(), "[ROOT]")
}

fn regex_lite(text: &str) -> String {
    // Replace runs of 40 hex digits (and their 10-char prefixes followed by a space or quote).
    let mut out = String::with_capacity(text.len());
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()).count();
        let boundary_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let boundary_after = bytes.get(i + run).is_none_or(|c| !c.is_ascii_alphanumeric());
        if boundary_before
            && boundary_after
            && (run == 40 || run == 10)
            && bytes[i..i + run].iter().any(|c| c.is_ascii_digit())
        {
            out.push_str(if run == 40 { "[COMMIT]" } else { "[SHORT]" });
            i += run;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A small SendTax-like history: a reviewed PR merge, a squash merge, an emergency, a direct push.
fn saas_repo() -> Repo {
    let repo = Repo::new();
    repo.commit(HOLLY, &[("README.md", "# SendTax\n")], "Initial commit");
    repo.merge_pr(
        1,
        HOLLY,
        LIAM,
        &[("st-backend/app/main.py", "print('hi')\n")],
        "## Intent\nAdd the app.\n## Testing\nRan it.\n## Operational risk\nNone.\n## Rollback plan\nRevert.\n\nReviewed-by: Liam Howell <liam@send.tax>",
    );
    repo.commit(
        LIAM,
        &[("st-apps/web/page.tsx", "export {}\n")],
        "Add the landing page (#2)\n\n## Intent\nLanding.\n## Testing\nManual.\n## Operational risk\nLow.\n## Rollback plan\nRevert.",
    );
    repo.commit(HOLLY, &[("st-backend/app/core/encryption.py", "KEY = 1\n")], "Hotfix key handling directly on main");
    repo
}

#[test]
fn x01_policy_check_accepts_all_five_examples() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in
        ["two-person-saas", "solo-founder-iso27001", "oss-sdk", "optional-peer-review", "healthcare-cab", "starter"]
    {
        let out =
            countersign(dir.path()).args(["policy", "check", "--policy", &example_policy(name)]).output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: {stdout}");
        assert!(stdout.contains(": valid"), "{name}: {stdout}");
    }
}

/// `policy explain --format json` serializes every example, composite rules included.
#[test]
fn policy_explain_json_serializes_every_example() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in
        ["two-person-saas", "solo-founder-iso27001", "oss-sdk", "optional-peer-review", "healthcare-cab", "starter"]
    {
        let out = countersign(dir.path())
            .args(["--format", "json", "policy", "explain", "--policy", &example_policy(name)])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(json["rules"].as_object().is_some_and(|r| !r.is_empty()), "{name}");
        for rule in json["rules"].as_object().unwrap().values() {
            assert!(rule["type"].is_string(), "{name}: {rule}");
        }
    }
}

#[test]
fn x01_policy_check_rejects_a_broken_policy_with_every_error() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("countersign.toml"),
        "[policy]\norganization = \"Acme\"\neffective = 2026-01-01\nreview-evry = \"annual\"\n\n[rules.peer]\napprovals = 1\nfrom = [\"@reviewers\"]\n\n[[categories]]\nid = \"standard\"\nrequire = \"peer\"\nwhen = { title = \"([unclosed\" }\n",
    )
    .expect("write");
    let out = countersign(dir.path()).args(["policy", "check"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("policy_check_broken", String::from_utf8_lossy(&out.stdout));

    let out = countersign(dir.path()).args(["policy", "check", "--format", "json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["schema"], "countersign.policy-check");
    assert_eq!(json["valid"], false);
    assert!(json["errors"].as_u64().expect("count") >= 3, "{json:#}");
    insta::assert_json_snapshot!("policy_check_broken_json", json);

    // Other commands refuse to run on a broken policy: exit 2, pointing at `policy check`.
    let repo = Repo::new();
    repo.commit(HOLLY, &[("a", "1")], "one");
    std::fs::copy(dir.path().join("countersign.toml"), repo.path().join("countersign.toml")).expect("copy");
    let out = countersign(repo.path()).args(["audit"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("countersign policy check"));
}

#[test]
fn audit_text_reports_every_change_with_a_summary() {
    let repo = saas_repo();
    let out = countersign(repo.path())
        .args(["audit", "--policy", &example_policy("two-person-saas"), "--no-cache"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "a direct push is a violation: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    insta::assert_snapshot!("audit_text", redact(&stdout).replace(&example_policy("two-person-saas"), "[POLICY]"));
}

#[test]
fn s000_16_audit_json_shape_is_pinned() {
    let repo = saas_repo();
    let out = countersign(repo.path())
        .args(["audit", "--policy", &example_policy("two-person-saas"), "--format", "json", "--no-cache"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["schema"], "countersign.audit");
    let summary = &json["summary"];
    assert_eq!(summary["population"], 4);
    assert_eq!(summary["direct_pushes"], 2, "the root commit and the hotfix");
    let changes = json["changes"].as_array().expect("changes");
    let pr1 = changes.iter().find(|c| c["change"]["pr_number"] == 1).expect("PR #1");
    assert_eq!(pr1["change"]["author"], "holly");
    let review = pr1["requirements"].as_array().expect("reqs").iter().find(|r| r["id"] == "review").expect("review");
    assert_eq!(review["status"], "met", "Reviewed-by trailer from Liam: {review:#}");
    let pr2 = changes.iter().find(|c| c["change"]["pr_number"] == 2).expect("squash PR #2");
    assert_eq!(pr2["change"]["author"], "liam");
    let text = redact(&serde_json::to_string_pretty(&json).expect("json"))
        .replace(&example_policy("two-person-saas"), "[POLICY]");
    insta::assert_snapshot!("audit_json", text);
}

#[test]
fn audit_sample_is_reproducible() {
    let repo = saas_repo();
    let run = |seed: &str| {
        let out = countersign(repo.path())
            .args([
                "audit",
                "--policy",
                &example_policy("two-person-saas"),
                "--format",
                "json",
                "--sample",
                "2",
                "--seed",
                seed,
            ])
            .output()
            .expect("run");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(json["summary"]["population"], 4, "the summary covers the whole population");
        json["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| c["change"]["id"].as_str().expect("id").to_string())
            .collect::<Vec<_>>()
    };
    let a = run("7");
    assert_eq!(a.len(), 2);
    assert_eq!(a, run("7"));
}

#[test]
fn audit_markdown_and_date_window() {
    let repo = saas_repo();
    let out = countersign(repo.path())
        .args([
            "audit",
            "--policy",
            &example_policy("two-person-saas"),
            "--format",
            "markdown",
            "--since",
            "2026-05-28T20:30:00Z",
        ])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("# countersign audit"), "{stdout}");
    assert!(stdout.contains("| Population | 3 |"), "the root commit is before the window: {stdout}");
}

#[test]
fn audit_exit_codes_for_bad_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = countersign(dir.path()).args(["audit", "--policy", "bundled"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "not a repository");
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));

    let repo = saas_repo();
    let out = countersign(repo.path()).args(["audit"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "no countersign.toml");
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));

    let out = countersign(repo.path()).args(["audit", "--policy", "bundled:nope"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));

    let out = countersign(repo.path())
        .args(["audit", "--policy", "bundled", "--since", "yesterday-ish"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn audit_of_a_shallow_clone_says_so() {
    let repo = saas_repo();
    let dir = tempfile::tempdir().expect("tmp");
    let clone = dir.path().join("shallow");
    let status = std::process::Command::new("git")
        .args([
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", repo.path().display()),
            clone.to_str().expect("utf8"),
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("clone");
    assert!(status.success());
    let out = countersign(&clone).args(["audit", "--policy", "bundled"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shallow"), "exit {:?}: {stderr}", out.status.code());
    assert!(!stderr.contains("panicked"));
}

/// A PR branch on top of main, not merged yet, for `check`.
fn pr_repo() -> (Repo, String, String) {
    let repo = Repo::new();
    repo.write("countersign.toml", &std::fs::read_to_string(example_policy("healthcare-cab")).expect("policy"));
    let base = repo.commit("Lena Fischer <lena.fischer@eonpro.io>", &[("src/app/page.tsx", "x\n")], "Initial");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let head = repo.commit(
        "Tom Becker <tom.becker@eonpro.io>",
        &[("src/lib/auth/session.ts", "y\n")],
        "Harden session handling",
    );
    (repo, base, head)
}

fn pr_json(head: &str, reviews: &str) -> String {
    format!(
        r#"{{
  "number": 17,
  "title": "Harden session handling",
  "body": "Description: rotate session keys\nJustification: audit finding\nTesting plan: unit tests\nRollback plan: revert\nAffected systems: auth\nRisk assessment: critical\nScheduled time: Tuesday",
  "author": {{"id": "U_1", "is_bot": false, "login": "tbecker", "name": "Tom Becker"}},
  "labels": [],
  "reviews": [{reviews}],
  "commits": [{{"oid": "{head}", "authors": [{{"email": "tom.becker@eonpro.io", "id": "U_1", "login": "tbecker", "name": "Tom Becker"}}], "messageHeadline": "Harden session handling", "messageBody": ""}}],
  "files": [{{"path": "src/lib/auth/session.ts", "additions": 1, "deletions": 0}}],
  "statusCheckRollup": [
    {{"__typename": "CheckRun", "name": "lint", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "CI"}},
    {{"__typename": "CheckRun", "name": "typecheck", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "CI"}},
    {{"__typename": "CheckRun", "name": "npm-audit", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "CI"}},
    {{"__typename": "CheckRun", "name": "snyk", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "CI"}},
    {{"__typename": "CheckRun", "name": "semgrep", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "CI"}},
    {{"__typename": "StatusContext", "context": "trufflehog", "state": "SUCCESS"}},
    {{"__typename": "CheckRun", "name": "unit-tests", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "CI"}},
    {{"__typename": "CheckRun", "name": "integration-tests", "status": "COMPLETED", "conclusion": "FAILURE", "workflowName": "CI"}},
    {{"__typename": "CheckRun", "name": "build", "status": "IN_PROGRESS", "conclusion": null, "workflowName": "CI"}}
  ],
  "baseRefName": "main",
  "headRefOid": "{head}"
}}"#
    )
}

fn review(login: &str, head: &str) -> String {
    format!(
        r#"{{"author": {{"login": "{login}"}}, "state": "APPROVED", "submittedAt": "2026-11-02T10:00:00Z", "commit": {{"oid": "{head}"}}}}"#
    )
}

#[test]
fn check_with_git_only_says_what_it_could_not_judge() {
    let (repo, _base, _head) = pr_repo();
    let out = countersign(repo.path()).args(["check", "--base", "main", "--head", "feature"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "evidence missing is not a violation without --strict: {stdout}");
    assert!(stdout.contains("could not judge from git alone"), "{stdout}");
    assert!(stdout.contains("--pr-json"));
    let out = countersign(repo.path())
        .args(["check", "--base", "main", "--head", "feature", "--strict"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn s004_02_check_with_pr_json_reports_the_quorum() {
    let (repo, _base, head) = pr_repo();
    let json_path = repo.path().join("pr.json");
    std::fs::write(&json_path, pr_json(&head, &review("mwebb", &head))).expect("write");
    let out = countersign(repo.path())
        .args(["check", "--base", "main", "--head", "feature", "--pr-json", "pr.json", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["schema"], "countersign.check");
    assert_eq!(json["forge_evidence"], true);
    let eval = &json["evaluation"];
    assert_eq!(eval["risk"]["id"], "critical");
    let status_of = |id: &str| {
        eval["requirements"].as_array().expect("reqs").iter().find(|r| r["id"] == id).map(|r| r["status"].clone())
    };
    assert_eq!(status_of("review:risk"), Some("missing".into()), "CTO alone; the CISO is missing");
    assert_eq!(status_of("gate:integration-tests"), Some("missing".into()));
    assert_eq!(status_of("gate:build"), Some("missing".into()), "still running");
    assert_eq!(status_of("gate:trufflehog"), Some("met".into()), "commit statuses count");
    insta::assert_snapshot!("check_json", redact(&serde_json::to_string_pretty(&json).expect("json")));

    // Both approvals: the quorum is met.
    let reviews = format!("{},{}", review("mwebb", &head), review("pnatarajan", &head));
    std::fs::write(&json_path, pr_json(&head, &reviews)).expect("write");
    let out = countersign(repo.path())
        .args(["check", "--base", "main", "--head", "feature", "--pr-json", "pr.json", "--format", "json"])
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let review_risk =
        json["evaluation"]["requirements"].as_array().expect("reqs").iter().find(|r| r["id"] == "review:risk").cloned();
    assert_eq!(review_risk.expect("review:risk")["status"], "met");
}

#[test]
fn check_github_format_writes_annotations_and_step_summary() {
    let (repo, _base, head) = pr_repo();
    std::fs::write(repo.path().join("pr.json"), pr_json(&head, &review("mwebb", &head))).expect("write");
    let summary = repo.path().join("summary.md");
    let out = countersign(repo.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["check", "--base", "main", "--head", "feature", "--pr-json", "pr.json", "--format", "github"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("::error title=countersign review%3Arisk::")), "{stdout}");
    let md = std::fs::read_to_string(&summary).expect("summary written");
    assert!(md.contains("| Status | Requirement |"), "{md}");
}

#[test]
fn check_rejects_malformed_pr_json() {
    let (repo, _base, _head) = pr_repo();
    std::fs::write(repo.path().join("pr.json"), "{\"title\": 5").expect("write");
    let out = countersign(repo.path())
        .args(["check", "--base", "main", "--head", "feature", "--pr-json", "pr.json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gh pr view"), "{stderr}");
}

#[test]
fn check_reads_the_policy_from_the_base_revision() {
    let (repo, _base, _head) = pr_repo();
    // The PR tries to loosen the policy; the base branch's policy still applies.
    repo.write("countersign.toml", "[policy]\norganization = \"Loose\"\neffective = 2026-01-01\n");
    repo.commit("Tom Becker <tom.becker@eonpro.io>", &[], "Loosen the policy");
    let out = countersign(repo.path())
        .args(["check", "--base", "main", "--head", "feature", "--format", "json"])
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["policy"]["organization"], "EONPRO", "{json:#}");
}

#[test]
fn s004_06_owners_reports_codeowners_lines() {
    let repo = Repo::new();
    repo.write(
        "countersign.toml",
        "[policy]\norganization = \"Acme\"\neffective = 2026-01-01\n\n[people.ada]\nname = \"Ada\"\nemails = \"ada@acme.test\"\nroles = [\"security-team\"]\n\n[codeowners]\n",
    );
    repo.write(
        ".github/CODEOWNERS",
        "# Owners\n/src/lib/auth/           @security-team\n/prisma/                 @data-team @security-team\n*.md @docs\n",
    );
    repo.commit(HOLLY, &[], "policy and owners");
    let out = countersign(repo.path())
        .args([
            "owners",
            "src/lib/auth/login.ts",
            "prisma/schema.prisma",
            "docs/x.md",
            "src/app.ts",
            "--format",
            "json",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    insta::assert_json_snapshot!("owners_json", json);
    assert_eq!(json[0]["line"], 2);
    assert_eq!(json[0]["people"][0], "ada");
    assert_eq!(json[3]["area"], serde_json::Value::Null);

    let out = countersign(repo.path()).args(["owners"]).write_stdin("prisma/migrations/1.sql\n").output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("prisma/migrations/1.sql: @data-team, @security-team (Ada)"), "{stdout}");
    assert!(stdout.contains(".github/CODEOWNERS:3"), "{stdout}");
}

#[test]
fn x02_policy_render_markdown_and_html() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = countersign(dir.path())
        .args(["policy", "render", "--policy", &example_policy("healthcare-cab"), "--format", "markdown"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("CISO") && md.contains("CTO"), "{md}");
    let out = countersign(dir.path())
        .args([
            "policy",
            "render",
            "--policy",
            &example_policy("healthcare-cab"),
            "--format",
            "html",
            "--out",
            "policy.html",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(dir.path().join("policy.html")).expect("html written");
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "{}",
        &html[..50.min(html.len())]
    );
}

#[test]
fn policy_init_writes_a_starter_that_checks() {
    let dir = tempfile::tempdir().expect("tmp");
    countersign(dir.path()).args(["policy", "init"]).assert().success();
    countersign(dir.path()).args(["policy", "check"]).assert().success();
    let out = countersign(dir.path()).args(["policy", "init"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "refuses to overwrite");
}

#[test]
fn recorded_approval_turns_evidence_missing_into_compliant() {
    let repo = Repo::new();
    // The bundled starter policy names no people; records must name people the policy knows.
    let policy = format!(
        "{}\n[people.liam]\nname = \"Liam Howell\"\nemails = \"liam@send.tax\"\n",
        std::fs::read_to_string(example_policy("starter")).expect("starter")
    );
    repo.commit(HOLLY, &[("README.md", "# x\n"), ("countersign.toml", &policy)], "Initial commit");
    let merge = repo.merge_pr(5, HOLLY, HOLLY, &[("src/app.rs", "fn main() {}\n")], "Add the app");
    let verdict = |repo: &Repo| {
        let out = countersign(repo.path()).args(["audit", "HEAD~1..HEAD", "--format", "json"]).output().expect("run");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), json["changes"][0]["verdict"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(verdict(&repo), (Some(0), "evidence-missing".to_string()), "git shows no reviewer");

    countersign(repo.path()).args(["init", "--origin", "example.test/log"]).assert().success();
    let record = |by: &str| {
        countersign(repo.path())
            .args(["record", "approval", "--change", &merge, "--approver", "Liam Howell <liam@send.tax>", "--by", by])
            .assert()
            .success();
    };
    // The author records Liam's approval in his name: only her word (attested), which the
    // rule that excludes the author does not take (S000-07, segregation of duties).
    record("holly@send.tax");
    assert_eq!(verdict(&repo), (Some(0), "evidence-missing".to_string()), "an attested approval does not count");
    record("liam@send.tax");
    assert_eq!(verdict(&repo), (Some(0), "compliant".to_string()), "the recorded approval satisfies the rule");

    let out = countersign(repo.path()).args(["audit", "HEAD~1..HEAD"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("recorded entry #"), "the evidence names the log entry: {stdout}");
    countersign(repo.path()).args(["log", "verify"]).assert().success();
}
