//! The deploy gate, black-box: `countersign deploy check` before a deploy and
//! `countersign deploy record` after it, on a real git repository and a real SQLite store.
//! Each test is named after the requirement it proves, and shows the decision change.

mod common;

use common::{NOW, Repo, countersign};

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
const BOB: &str = "Bob <bob@example.com>";
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

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(repo: &Repo, args: &[&str]) -> Run {
    let out = countersign(repo.path()).args(args).env("USER", "deployer").output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn gate(repo: &Repo, env: &str, artifact: &str, commit: &str, extra: &[&str]) -> Run {
    let mut args = vec!["deploy", "check", "--environment", env, "--artifact", artifact, "--commit", commit];
    args.extend_from_slice(extra);
    run(repo, &args)
}

fn deployed(repo: &Repo, env: &str, artifact: &str, commit: &str, extra: &[&str]) {
    let mut args =
        vec!["deploy", "record", "--environment", env, "--artifact", artifact, "--commit", commit, "--status", "success"];
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
