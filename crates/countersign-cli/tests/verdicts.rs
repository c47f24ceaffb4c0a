//! Black-box tests for verdicts a user can trust: time as an input, one identity per change
//! from PR to merge, records checked against the policy, local state outside the working
//! tree, exit codes. The real binary on real git repositories.

mod common;

use common::{NOW, Repo, countersign, workspace_root};

const HOLLY: &str = "Holly Gibbs <holly@send.tax>";
const LIAM: &str = "Liam Howell <liam@send.tax>";

/// The bundled starter policy plus the two people of the SendTax examples, so that records
/// can name people the policy knows.
fn starter_with_people() -> String {
    let starter = std::fs::read_to_string(workspace_root().join("examples/policies/starter.toml")).expect("starter");
    format!(
        "{starter}\n[people.holly]\nname = \"Holly Gibbs\"\nemails = \"holly@send.tax\"\nlogins = \"github:hgibbs\"\n\n\
         [people.liam]\nname = \"Liam Howell\"\nemails = \"liam@send.tax\"\nlogins = \"github:lhowell\"\n"
    )
}

/// The first requirement of an evaluation (`{"requirements": [...]}`) whose id starts with
/// `prefix`.
fn requirement(evaluation: &serde_json::Value, prefix: &str) -> Option<serde_json::Value> {
    evaluation["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .find(|r| r["id"].as_str().is_some_and(|id| id.starts_with(prefix)))
        .cloned()
}

/// `check --no-store --base main --head HEAD --format json` in `repo`.
fn check_json(repo: &Repo, head: &str) -> serde_json::Value {
    let out = countersign(repo.path())
        .args(["check", "--no-store", "--base", "main", "--head", head, "--format", "json"])
        .output()
        .expect("run");
    json_of(&out)
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A repository with a policy that names Holly and Liam, and a first commit.
fn repo_with_people() -> Repo {
    let repo = Repo::new();
    repo.commit(HOLLY, &[("countersign.toml", &starter_with_people()), ("README.md", "# x\n")], "Initial commit");
    repo
}

#[test]
fn s000_16_reports_state_the_time_they_judged_as_of() {
    let repo = repo_with_people();
    let out = countersign(repo.path()).args(["audit", "--format", "json"]).output().expect("run");
    assert_eq!(json_of(&out)["as_of"], NOW, "the JSON report names its as-of time");

    let out = countersign(repo.path()).args(["audit"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("Judged as of {NOW}")), "{text}");

    // --now overrides the environment, and the report follows it.
    let out = countersign(repo.path())
        .args(["audit", "--format", "json", "--now", "2030-01-01T00:00:00Z"])
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["as_of"], "2030-01-01T00:00:00Z");

    let out = countersign(repo.path()).args(["audit", "--now", "yesterday"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "a bad --now is bad input");
    assert!(stderr_of(&out).contains("RFC 3339"), "{}", stderr_of(&out));
}

#[test]
fn s000_18_exception_end_dates_are_judged_as_of_now_not_the_clock() {
    // The two-person-saas exception is re-evaluated on 2026-11-21: before that date Holly's
    // self-merge exception holds, after it the exception has ended. Same history, two times.
    let repo = Repo::new();
    let policy =
        std::fs::read_to_string(workspace_root().join("examples/policies/two-person-saas.toml")).expect("policy");
    repo.commit(HOLLY, &[("countersign.toml", &policy)], "Initial commit");
    repo.merge_pr(3, HOLLY, HOLLY, &[("docs/runbook.md", "# Runbook\n")], "Document the runbook");
    let judged = |now: &str| {
        let out = countersign(repo.path())
            .args(["audit", "--no-store", "--format", "json", "HEAD~1..HEAD", "--now", now])
            .output()
            .expect("run");
        json_of(&out)
    };
    let before = judged("2026-11-01T00:00:00Z");
    let after = judged("2026-12-01T00:00:00Z");
    assert_eq!(before["as_of"], "2026-11-01T00:00:00Z");
    assert_eq!(after["as_of"], "2026-12-01T00:00:00Z");
    assert_eq!(before["changes"].as_array().map(Vec::len), Some(1));
    // Whatever the verdicts, they are a function of --now alone: judging twice at one time
    // gives the same report.
    assert_eq!(judged("2026-12-01T00:00:00Z"), after);
}

/// `check` registers `pr#13` while the PR is open; an approval is recorded against it; the PR
/// is squash-merged as "Add index (#13)". `audit` must count the approval for the squash commit.
#[test]
fn s000_03_evidence_recorded_on_an_open_pr_counts_after_the_squash_merge() {
    let repo = repo_with_people();
    repo.git(&["remote", "add", "origin", "https://github.com/sendtax/app.git"]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let head = repo.commit(HOLLY, &[("src/index.rs", "fn index() {}\n")], "Add index");
    repo.git(&["checkout", "-q", "main"]);
    let pr = format!(
        r#"{{"number": 13, "title": "Add index", "body": "Adds an index.", "author": {{"login": "hgibbs"}},
            "labels": [], "reviews": [], "commits": [{{"oid": "{head}"}}], "files": [{{"path": "src/index.rs"}}],
            "statusCheckRollup": [], "baseRefName": "main", "headRefOid": "{head}"}}"#
    );
    std::fs::write(repo.path().join("pr.json"), pr).expect("write");
    countersign(repo.path()).args(["init"]).assert().success();
    let out = countersign(repo.path())
        .args(["check", "--base", "main", "--head", "feature", "--pr-json", "pr.json", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(json_of(&out)["evaluation"]["change"]["id"], "pr#13", "{}", stderr_of(&out));
    std::fs::remove_file(repo.path().join("pr.json")).expect("rm");

    countersign(repo.path())
        .args(["record", "approval", "--change", "pr#13", "--approver", "liam@send.tax", "--by", "liam@send.tax"])
        .assert()
        .success();

    // Squash-merge: a new commit on main whose subject carries the PR number.
    repo.git(&["merge", "-q", "--squash", "feature"]);
    let squash = repo.commit(HOLLY, &[], "Add index (#13)");
    let out = countersign(repo.path()).args(["audit", "--format", "json", "HEAD~1..HEAD"]).output().expect("run");
    let json = json_of(&out);
    let change = &json["changes"][0];
    assert_eq!(change["change"]["id"], squash);
    assert_eq!(change["change"]["pr_number"], 13);
    let review = requirement(change, "review").expect("a review requirement");
    assert_eq!(review["status"], "met", "the approval recorded on pr#13 counts for the squash commit: {review}");
    assert_eq!(change["verdict"], "compliant", "{change}");

    // The same change is reachable by every name a user would type.
    for name in ["pr#13", "sendtax/app#13", "HEAD", &squash[..9], &head] {
        countersign(repo.path())
            .args([
                "record",
                "check",
                "--change",
                name,
                "--name",
                "ci",
                "--status",
                "success",
                "--by",
                "holly@send.tax",
            ])
            .assert()
            .success();
    }
    let out = countersign(repo.path())
        .args(["record", "check", "--change", "other/repo#13", "--name", "ci", "--status", "success", "--by", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "a PR of another repository is unknown");
    assert!(stderr_of(&out).contains("unknown change"), "{}", stderr_of(&out));
}

#[test]
fn change_references_that_match_several_changes_list_the_candidates() {
    let repo = repo_with_people();
    countersign(repo.path()).args(["init"]).assert().success();
    // Two repositories in one store, each with a PR #7.
    let other = repo_with_people();
    for (r, origin) in [(&repo, "https://github.com/acme/one.git"), (&other, "git@github.com:acme/two.git")] {
        r.git(&["remote", "add", "origin", origin]);
        r.merge_pr(7, HOLLY, LIAM, &[("src/a.rs", origin)], "Seven");
    }
    let db = repo.path().join(".git/countersign/countersign.db");
    let db = db.display().to_string();
    // The initial commits are direct pushes: violations (exit 1), but registered all the same.
    countersign(repo.path()).args(["audit", "--format", "json"]).assert().code(1);
    countersign(other.path()).args(["--database", &db, "audit", "--format", "json"]).assert().code(1);
    let out = countersign(repo.path())
        .args(["record", "check", "--change", "pr#7", "--name", "ci", "--status", "success", "--by", "holly@send.tax"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("acme/one#7") && stderr.contains("acme/two#7"), "lists both candidates: {stderr}");
    countersign(repo.path())
        .args(["record", "check", "--change", "acme/two#7", "--name", "ci", "--status", "success", "--by", "x@y.z"])
        .assert()
        .success();
}

#[test]
fn record_refuses_what_the_policy_does_not_know_and_stores_nothing() {
    let repo = repo_with_people();
    let commit = repo.merge_pr(4, HOLLY, HOLLY, &[("src/a.rs", "a\n")], "Four");
    countersign(repo.path()).args(["init"]).assert().success();
    let size = |repo: &Repo| {
        let out = countersign(repo.path()).args(["log", "verify", "--format", "json"]).output().expect("run");
        json_of(&out)["entries"].as_u64().expect("entries")
    };
    let refused: &[&[&str]] = &[
        // Unknown approver, an empty one, and a display name that is not an identity.
        &["approval", "--approver", "Mallory <mallory@evil.example>"],
        &["approval", "--approver", ""],
        &["approval", "--approver", "Liam Howell"],
        // A display name of a known person with someone else's email.
        &["approval", "--approver", "Liam Howell <mallory@evil.example>"],
        &["obligation-fulfilled", "--obligation", "no-such-obligation"],
        &["obligation", "--obligation", "teleport"],
        &[
            "exception",
            "--rule",
            "no-such-rule",
            "--justification",
            "j",
            "--approved-by",
            "liam@send.tax",
            "--review-by",
            "2027-01-01",
        ],
        &[
            "exception",
            "--rule",
            "review",
            "--justification",
            "j",
            "--approved-by",
            "nobody@x.y",
            "--review-by",
            "2027-01-01",
        ],
        &[
            "exception",
            "--rule",
            "review",
            "--justification",
            "j",
            "--approved-by",
            "liam@send.tax",
            "--review-by",
            "soon",
        ],
        &["deploy", "--environment", "moon"],
        &["emergency", "--reason", "fire", "--declared-by", "stranger@x.y"],
    ];
    for args in refused {
        let mut all = vec!["record"];
        all.extend_from_slice(args);
        all.extend(["--change", &commit, "--by", "holly@send.tax"]);
        let out = countersign(repo.path()).args(&all).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?} must be refused: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("nothing was stored"), "{args:?}: {}", stderr_of(&out));
    }
    assert_eq!(size(&repo), 0, "nothing was stored");

    // What the policy knows is accepted: by email, by login, by policy id.
    for approver in ["liam@send.tax", "github:lhowell", "liam", "Liam Howell <liam@send.tax>"] {
        countersign(repo.path())
            .args(["record", "approval", "--change", &commit, "--approver", approver, "--by", "liam@send.tax"])
            .assert()
            .success();
    }
    countersign(repo.path())
        .args(["record", "obligation-fulfilled", "--change", &commit, "--obligation", "retro-review", "--by", "holly"])
        .assert()
        .success();
    assert_eq!(size(&repo), 5);
}

/// Segregation of duties: Holly authored the change; her own recorded approval does not
/// make it reviewed.
#[test]
fn s000_07_an_approval_recorded_by_the_author_never_counts() {
    let repo = repo_with_people();
    let commit = repo.merge_pr(5, HOLLY, HOLLY, &[("src/app.rs", "fn main() {}\n")], "Add the app");
    countersign(repo.path()).args(["init"]).assert().success();
    countersign(repo.path())
        .args(["record", "approval", "--change", &commit, "--approver", "holly@send.tax", "--by", "holly@send.tax"])
        .assert()
        .success();
    let out = countersign(repo.path()).args(["audit", "--format", "json", "HEAD~1..HEAD"]).output().expect("run");
    let json = json_of(&out);
    let change = &json["changes"][0];
    assert_ne!(change["verdict"], "compliant", "self-approval is not independent review: {change}");
    assert_eq!(change["reviewed_by_other"], false);

    countersign(repo.path())
        .args(["record", "approval", "--change", &commit, "--approver", "liam@send.tax", "--by", "liam@send.tax"])
        .assert()
        .success();
    let out = countersign(repo.path()).args(["audit", "--format", "json", "HEAD~1..HEAD"]).output().expect("run");
    assert_eq!(json_of(&out)["changes"][0]["verdict"], "compliant");
}

/// Local state lives in the git directory, never in the working tree: `git status` stays
/// clean after init, record and audit, and the key is 0600.
#[test]
fn init_and_audit_leave_the_working_tree_clean() {
    let repo = repo_with_people();
    let commit = repo.git(&["rev-parse", "HEAD"]);
    let out = countersign(repo.path()).args(["init"]).output().expect("run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let key = repo.path().join(".git/countersign/countersign.key");
    assert!(key.exists(), "the key is in the git directory");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&key.display().to_string())
            || stderr_of(&out).contains(".git/countersign/countersign.key")
    );
    assert!(stderr_of(&out).contains("Back it up"), "init says how to back the key up: {}", stderr_of(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
    }
    countersign(repo.path())
        .args(["record", "check", "--change", &commit, "--name", "ci", "--status", "success", "--by", "holly"])
        .assert()
        .success();
    countersign(repo.path()).args(["audit"]).assert().code(1);
    assert_eq!(repo.git(&["status", "--porcelain", "--ignored"]), "", "nothing new in the working tree");
    assert!(repo.path().join(".git/countersign/countersign.db").exists());

    // Outside a repository there is no default: the error says which flag to pass.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = countersign(dir.path()).args(["init"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--key-file"), "{}", stderr_of(&out));
}

#[test]
fn a_broken_policy_is_a_finding_for_policy_check_and_a_failure_for_everything_else() {
    let repo = Repo::new();
    repo.commit(HOLLY, &[("countersign.toml", "[policy]\norganization = 3\n")], "Broken policy");
    countersign(repo.path()).args(["policy", "check"]).assert().code(1);
    countersign(repo.path()).args(["audit"]).assert().code(2);
    countersign(repo.path()).args(["owners", "README.md"]).assert().code(2);
    countersign(repo.path()).args(["check", "--base", "HEAD", "--head", "HEAD"]).assert().code(2);
    countersign(repo.path()).args(["policy", "render", "--format", "markdown"]).assert().code(2);
}

#[test]
fn reports_name_kinds_as_people_say_them() {
    let repo = repo_with_people();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit(HOLLY, &[("src/x.rs", "x\n")], "Add x");
    let out = countersign(repo.path()).args(["check", "--base", "main", "--head", "feature"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("PullRequest"), "no Debug names: {text}");
    assert!(text.contains("pull request"), "{text}");
    let out = countersign(repo.path()).args(["audit"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("DirectPush"), "{text}");
}

#[test]
fn owners_names_people_once_and_says_when_an_area_is_sensitive() {
    let repo = Repo::new();
    let policy =
        std::fs::read_to_string(workspace_root().join("examples/policies/two-person-saas.toml")).expect("policy");
    repo.commit(HOLLY, &[("countersign.toml", &policy)], "Initial commit");
    let out = countersign(repo.path()).args(["owners", "st-backend/app/core/encryption.py"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(text.contains("Holly Gibbs"), "{text}");
    assert!(!text.contains("holly (holly)"), "{text}");
    assert!(text.contains("sensitive"), "{text}");
}

/// Issue 7 §5: a hostile PR title or login must not inject GitHub workflow commands.
#[test]
fn check_github_format_cannot_be_injected_through_the_pr_title_or_logins() {
    let repo = repo_with_people();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let head = repo.commit(HOLLY, &[("src/x.rs", "x\n")], "Add x");
    let title = "Innocent\n::stop-commands::pwned\n::error file=a,line=1::injected\r\n::add-mask::x\n::pwned::";
    let pr = serde_json::json!({
        "number": 21, "title": title, "body": "::warning::body too",
        "author": {"login": "hgibbs\n::error::login"},
        "labels": [], "reviews": [{"author": {"login": "lhowell\n::error::reviewer"}, "state": "APPROVED",
            "submittedAt": "2026-05-01T10:00:00Z", "commit": {"oid": head}}],
        "commits": [{"oid": head}], "files": [{"path": "src/x.rs"}], "statusCheckRollup": [],
        "baseRefName": "main", "headRefOid": head,
    });
    std::fs::write(repo.path().join("pr.json"), pr.to_string()).expect("write");
    let out = countersign(repo.path())
        .args([
            "check",
            "--no-store",
            "--base",
            "main",
            "--head",
            "feature",
            "--pr-json",
            "pr.json",
            "--format",
            "github",
        ])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr_of(&out));
    let mut stopped: Option<String> = None;
    let mut saw_block = false;
    for line in stdout.lines() {
        match &stopped {
            Some(token) => {
                if line == format!("::{token}::") {
                    stopped = None;
                } else {
                    assert!(!line.contains(token.as_str()), "the end token cannot occur inside the block: {line}");
                }
            }
            None => {
                if let Some(token) = line.strip_prefix("::stop-commands::") {
                    assert!(token.starts_with("countersign-"), "only our own stop-commands: {line}");
                    stopped = Some(token.to_string());
                    saw_block = true;
                } else if line.starts_with("::") {
                    assert!(
                        line.starts_with("::error title=countersign ")
                            || line.starts_with("::warning title=countersign "),
                        "a workflow command outside the inert block that is not ours: {line:?}\n{stdout}"
                    );
                    assert!(!line.contains('\r'), "{line:?}");
                }
            }
        }
    }
    assert!(saw_block, "the readable report is inside a stop-commands block: {stdout}");
    assert!(stopped.is_none(), "the block is closed");
    assert!(stdout.contains("Innocent"), "the title is still shown: {stdout}");
}

/// S000-13: `check` reads the added lines between base and head, so a content flag is
/// judged before merge, not left "unknown".
#[test]
fn s000_13_check_judges_content_flags_before_merge() {
    let repo = Repo::new();
    let policy =
        std::fs::read_to_string(workspace_root().join("examples/policies/two-person-saas.toml")).expect("policy");
    repo.commit(HOLLY, &[("countersign.toml", &policy)], "Initial commit");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit(
        HOLLY,
        &[("st-backend/alembic/versions/0002_idx.py", "op.execute('CREATE INDEX CONCURRENTLY ix ON t (c)')\n")],
        "Add an index",
    );
    let json = check_json(&repo, "feature");
    let flag = requirement(&json["evaluation"], "review:flag:non-transactional-ddl")
        .unwrap_or_else(|| panic!("the content flag is judged: {json}"));
    // The flag matched: it now demands a peer's approval (which git alone cannot show),
    // instead of saying that the added lines were not read.
    assert!(!flag.to_string().contains("were not read"), "{flag}");
    assert!(flag["description"].as_str().is_some_and(|d| d.contains("approval")), "{flag}");

    // A migration without the pattern raises no flag at all.
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["checkout", "-q", "-b", "plain"]);
    repo.commit(HOLLY, &[("st-backend/alembic/versions/0002_col.py", "op.add_column('t', 'c')\n")], "Add a column");
    let json = check_json(&repo, "plain");
    let flagged = ["review:flag:non-transactional-ddl", "flag:non-transactional-ddl"]
        .iter()
        .any(|id| requirement(&json["evaluation"], id).is_some());
    assert!(!flagged, "{json}");
}

/// Issue 6 §5: gate names match what GitHub reports. A check run comes as `workflowName`
/// plus `name` (shown as `workflow / job`), a commit status as `context`; a gate may name
/// `workflow / job`, the job alone, or the context. A gate matching nothing is linted.
#[test]
fn s002_03_gates_match_check_runs_and_statuses_as_github_reports_them() {
    let repo = Repo::new();
    let policy =
        std::fs::read_to_string(workspace_root().join("examples/policies/two-person-saas.toml")).expect("policy");
    repo.commit(HOLLY, &[("countersign.toml", &policy)], "Initial commit");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let head = repo.commit(HOLLY, &[("st-backend/app/main.py", "print(1)\n")], "Change the API");
    let pr = serde_json::json!({
        "number": 30, "title": "Change the API", "body": "", "author": {"login": "hgibbs"},
        "labels": [], "reviews": [], "commits": [{"oid": head}], "files": [{"path": "st-backend/app/main.py"}],
        "statusCheckRollup": [
            {"__typename": "CheckRun", "name": "tests", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "backend-ci"},
            {"__typename": "CheckRun", "name": "lint-type", "status": "COMPLETED", "conclusion": "SUCCESS", "workflowName": "backend-ci"},
            {"__typename": "StatusContext", "context": "ci-required", "state": "SUCCESS"}
        ],
        "baseRefName": "main", "headRefOid": head,
    });
    std::fs::write(repo.path().join("pr.json"), pr.to_string()).expect("write");
    let out = countersign(repo.path())
        .args([
            "check",
            "--no-store",
            "--base",
            "main",
            "--head",
            "feature",
            "--pr-json",
            "pr.json",
            "--format",
            "json",
        ])
        .output()
        .expect("run");
    let json = json_of(&out);
    let status_of = |id: &str| {
        json["evaluation"]["requirements"]
            .as_array()
            .expect("reqs")
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].clone())
    };
    assert_eq!(status_of("gate:backend-ci / tests"), Some("met".into()), "workflow / job: {json}");
    assert_eq!(status_of("gate:lint-type"), Some("met".into()), "the job alone");
    assert_eq!(status_of("gate:ci-required"), Some("met".into()), "a commit status context");
    assert!(!stderr_of(&out).contains("matches none"), "{}", stderr_of(&out));

    // A failing run is a failure under either spelling.
    let failing = pr.to_string().replacen("\"SUCCESS\"", "\"FAILURE\"", 1);
    std::fs::write(repo.path().join("pr.json"), failing).expect("write");
    let out = countersign(repo.path())
        .args([
            "check",
            "--no-store",
            "--base",
            "main",
            "--head",
            "feature",
            "--pr-json",
            "pr.json",
            "--format",
            "json",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));

    // The lint: a PR that reported checks, none of which a triggered gate can match.
    let renamed = pr.to_string().replace("\"tests\"", "\"unit-tests\"");
    std::fs::write(repo.path().join("pr.json"), renamed).expect("write");
    let out = countersign(repo.path())
        .args(["check", "--no-store", "--base", "main", "--head", "feature", "--pr-json", "pr.json"])
        .output()
        .expect("run");
    let stderr = stderr_of(&out);
    assert!(stderr.contains("gate \"backend-ci / tests\" matches none"), "{stderr}");
    assert!(stderr.contains("backend-ci / unit-tests"), "names what the PR reported: {stderr}");
    assert!(!stderr.contains("gate \"frontend-ci / lint\""), "an untriggered path-scoped gate is not linted: {stderr}");
}

/// S001-04 end to end: migrations numbered in sequence (the base is read from git) and no
/// destructive column drops, even by the founder who approves her own changes.
#[test]
fn s001_04_migration_numbering_and_forbidden_drops_through_check_and_audit() {
    let founder = "Founder <founder@example.com>";
    let repo = Repo::new();
    let policy =
        std::fs::read_to_string(workspace_root().join("examples/policies/solo-founder-iso27001.toml")).expect("policy");
    repo.commit(
        founder,
        &[("countersign.toml", &policy), ("migrations/0001_init.sql", "CREATE TABLE t (a INT);\n")],
        "Init",
    );
    for (branch, file, sql, sequence, forbidden) in [
        ("next", "migrations/0002_add.sql", "ALTER TABLE t ADD COLUMN b INT;\n", "met", "met"),
        ("gap", "migrations/0009_add.sql", "ALTER TABLE t ADD COLUMN b INT;\n", "missing", "met"),
        ("drop", "migrations/0002_drop.sql", "ALTER TABLE t DROP COLUMN a;\n", "met", "missing"),
    ] {
        repo.git(&["checkout", "-q", "main"]);
        repo.git(&["checkout", "-q", "-b", branch]);
        repo.commit(founder, &[(file, sql)], &format!("Migration on {branch}"));
        let json = check_json(&repo, branch);
        let seq = requirement(&json["evaluation"], "sequence:")
            .unwrap_or_else(|| panic!("{branch}: numbering judged: {json}"));
        assert_eq!(seq["status"], sequence, "{branch}: {seq}");
        let drop = requirement(&json["evaluation"], "forbidden:");
        match forbidden {
            "missing" => assert_eq!(drop.expect("the forbidden flag is judged")["status"], "missing", "{branch}"),
            _ => assert!(drop.as_ref().is_none_or(|d| d["status"] != "missing"), "{branch}: {drop:?}"),
        }
        if sequence == "missing" || forbidden == "missing" {
            assert_eq!(json["evaluation"]["verdict"], "violation", "{branch}: {json}");
        }
    }

    // The audit reads the base of each change from history: the gap is found there too.
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "gap"]);
    let out = countersign(repo.path())
        .args(["audit", "--no-store", "--format", "json", "HEAD~1..HEAD"])
        .output()
        .expect("run");
    let json = json_of(&out);
    let seq = requirement(&json["changes"][0], "sequence:").unwrap_or_else(|| panic!("{json}"));
    assert_eq!(seq["status"], "missing", "{seq}");
}

/// X-03, X-04: `audit --record` logs what was decided about each change at the time: one
/// `verdict` entry per change, whose subjects are the commits judged and whose predicate is
/// the evaluation with the policy's SHA-256. The same judgement is not logged twice; a new
/// piece of evidence that changes it is a new entry. No one records a verdict by hand.
#[test]
fn x03_x04_audit_record_logs_each_verdict_once_with_its_commits_as_subjects() {
    let repo = Repo::new();
    repo.commit(
        HOLLY,
        &[("countersign.toml", &starter_with_people())],
        "Adopt the policy (#1)\n\nReviewed-by: Liam Howell <liam@send.tax>",
    );
    let unreviewed = repo.merge_pr(2, HOLLY, HOLLY, &[("src/a.rs", "fn a() {}\n")], "Unreviewed");
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    let audit = |args: &[&str]| {
        let out = countersign(repo.path()).args(args).env("USER", "auditor@example.com").output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = audit(&["audit", "--record", "--strict"]);
    assert_eq!(code, Some(1), "the unreviewed merge is not compliant: {stderr}");
    assert!(stderr.contains("recorded 2 verdicts in the evidence log (0 were there already)"), "{stderr}");
    let (_, _, stderr) = audit(&["audit", "--record"]);
    assert!(stderr.contains("recorded 0 verdicts in the evidence log (2 were there already)"), "{stderr}");

    let show = |entry: u64| -> serde_json::Value {
        let out = countersign(repo.path()).args(["log", "show", "--entry", &entry.to_string()]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let statement = |entry: u64| show(entry)["statement"].clone();
    let of_merge =
        (0..2).map(statement).find(|s| s["predicate"]["change"] == unreviewed.as_str()).expect("the merge's verdict");
    assert_eq!(of_merge["predicateType"], "https://countersign.dev/evidence/verdict/v1");
    assert_eq!(of_merge["predicate"]["verdict"], "evidence missing", "git alone cannot show a review");
    assert_eq!(of_merge["predicate"]["judgedAt"], "audit");
    assert_eq!(of_merge["predicate"]["recordedBy"], "auditor@example.com");
    let policy = std::fs::read(repo.path().join("countersign.toml")).unwrap();
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(&policy).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(of_merge["predicate"]["policySha256"], digest.as_str());
    let review = of_merge["predicate"]["evaluation"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "review")
        .cloned()
        .expect("the review requirement");
    assert_eq!(review["status"], "unknown");
    // Its subjects: the merge commit and the commit it brought in.
    let subjects: Vec<&str> =
        of_merge["subject"].as_array().unwrap().iter().map(|s| s["digest"]["gitCommit"].as_str().unwrap()).collect();
    assert_eq!(subjects[0], unreviewed.as_str());
    assert_eq!(subjects.len(), 2, "{subjects:?}");

    // A review recorded later changes the judgement: a new verdict, the old one stays.
    let out = countersign(repo.path())
        .args(["record", "approval", "--change", &unreviewed, "--approver", "liam@send.tax", "--by", "liam@send.tax"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, _, stderr) = audit(&["audit", "--record", "--strict"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("recorded 1 verdicts in the evidence log (1 were there already)"), "{stderr}");
    let verdicts: Vec<String> = (0..4)
        .map(statement)
        .filter(|s| s["predicate"]["change"] == unreviewed.as_str() && s["predicate"]["verdict"].is_string())
        .map(|s| s["predicate"]["verdict"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(verdicts, ["evidence missing", "compliant"], "both judgements stay in the log");

    // No one writes a verdict by hand.
    let forged = serde_json::json!({
        "kind": "verdict", "change": unreviewed, "verdict": "compliant", "policySha256": digest,
        "commits": [unreviewed], "asOf": NOW, "judgedAt": "audit", "evaluation": {}
    });
    let out = countersign(repo.path())
        .args(["record", "--by", "holly@send.tax", "--json", "-"])
        .write_stdin(forged.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recorded only by countersign itself"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = countersign(repo.path()).args(["log", "verify"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // The verdicts travel in evidence packages, and the independent verifier checks them.
    countersign(repo.path())
        .args(["evidence", "export", "--since", "2000-01-01", "--out", "evidence.tar"])
        .assert()
        .success();
    let out = std::process::Command::new("python3")
        .arg(workspace_root().join("tools/verify-log/verify_log.py"))
        .arg("package")
        .arg(repo.path().join("evidence.tar"))
        .output()
        .expect("python3 runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("package verified: 4 entries"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
