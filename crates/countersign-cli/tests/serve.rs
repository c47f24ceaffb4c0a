//! `countersign serve`, black-box: the real binary on a loopback port, real SQLite and
//! PostgreSQL, real webhook payloads from `../shared/fixtures/webhooks` (the forges' own
//! examples), signed as each forge signs them.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{KeyInit as _, Mac as _};

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITEA_SECRET: &str = "gitea-secret-for-tests";
const GITLAB_TOKEN: &str = "gitlab-token-for-tests";

/// The fixtures that forges wrote; CI always has `../shared` beside the repository.
fn fixture(path: &str) -> Vec<u8> {
    let full = common::workspace_root().join("../shared/fixtures/webhooks").join(path);
    std::fs::read(&full).unwrap_or_else(|e| {
        panic!("the shared fixture {} is missing ({e}); clone ../shared beside the repository", full.display())
    })
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn config(max_body: Option<u64>) -> String {
    let mut text = String::new();
    if let Some(n) = max_body {
        text.push_str(&format!("max-body = {n}\n"));
    }
    text.push_str(
        r#"
[[repositories]]
name = "Codertocat/Hello-World"
forge = "github"
webhook-secret = { env = "TEST_GITHUB_SECRET" }

[[repositories]]
name = "gitea/webhooks"
forge = "gitea"
webhook-secret = { env = "TEST_GITEA_SECRET" }

[[repositories]]
name = "gitlabhq/gitlab-test"
forge = "gitlab"
webhook-secret = { file = "gitlab-token" }
"#,
    );
    text
}

/// A running `countersign serve`, stopped (SIGTERM, graceful) on drop.
struct Server {
    child: Option<Child>,
    base: String,
}

impl Server {
    fn start(dir: &Path, database: &str, extra: &[&str]) -> Server {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("countersign"));
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("TEST_GITHUB_SECRET", GITHUB_SECRET)
            .env("TEST_GITEA_SECRET", GITEA_SECRET)
            .args(["serve", "--config", "server.toml", "--listen", "127.0.0.1:0"])
            .args(["--database", database, "--key-file", "log.key", "--checkpoint-ref", "none"])
            .args(extra)
            // The server's own log, when a person debugging a test asks for it.
            .envs(std::env::var("COUNTERSIGN_LOG").ok().map(|v| ("COUNTERSIGN_LOG", v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("countersign serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("serve prints its address").expect("readable stdout");
        let base = first
            .rsplit_once("listening on ")
            .map(|(_, a)| a.to_owned())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child: Some(child), base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stop gracefully and return the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap()
    }

    /// Stop at once, as a crash would.
    fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POST and return (status, body as JSON or text).
fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, serde_json::Value) {
    let mut request = agent().post(url).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().expect("the server answers");
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
}

fn github_post(server: &Server, event: &str, id: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let signature = format!("sha256={}", hmac_hex(GITHUB_SECRET, body));
    post(
        &server.url("/hooks/github"),
        &[("X-GitHub-Event", event), ("X-GitHub-Delivery", id), ("X-Hub-Signature-256", &signature)],
        body,
    )
}

/// A directory with a log key, the configuration and the GitLab token file.
fn setup(database: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), database);
    dir
}

fn init(dir: &Path, database: &str) {
    std::fs::write(dir.join("server.toml"), config(None)).unwrap();
    std::fs::write(dir.join("gitlab-token"), format!("{GITLAB_TOKEN}\n")).unwrap();
    common::countersign(dir)
        .args(["init", "--key-file", "log.key", "--database", database, "--checkpoint-ref", "none"])
        .assert()
        .success();
}

/// [`setup`] with a SQLite store in its directory: the directory and the store's URL.
fn sqlite_setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("countersign.db").display());
    init(dir.path(), &database);
    (dir, database)
}

/// `log verify --format json` on the store: the log verifies, and its size.
fn verified_size(dir: &Path, database: &str) -> u64 {
    let out = common::countersign(dir)
        .args([
            "log",
            "verify",
            "--key-file",
            "log.key",
            "--database",
            database,
            "--checkpoint-ref",
            "none",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "log verify failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("log verify prints JSON");
    report["entries"].as_u64().unwrap_or_else(|| panic!("no entry count in {report}"))
}

/// A sample's value in `/metrics` (0 when absent).
fn metric_value(server: &Server, sample: &str) -> u64 {
    let (_, text) = get(&server.url("/metrics"));
    text.lines().find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0)
}

/// Poll `/metrics` until `line` appears (the worker runs after the answer).
fn wait_for_metric(server: &Server, line: &str) -> String {
    // Generous: a sweep judges whole histories, and CI runs many servers at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, text) = get(&server.url("/metrics"));
        if text.lines().any(|l| l == line) {
            return text;
        }
        assert!(Instant::now() < deadline, "`{line}` never appeared in /metrics:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until the server has finished a sweep (at least one: what each test counts is what
/// the sweep did, never how often it ran).
fn wait_for_sweep(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric_value(server, "countersign_jobs_total{kind=\"sweep\",outcome=\"done\"}") < 1 {
        assert!(Instant::now() < deadline, "no sweep finished within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn x04_github_delivery_is_logged_and_redelivery_is_a_no_op() {
    let (dir, database) = sqlite_setup();
    let server = Server::start(dir.path(), &database, &[]);
    let body = fixture("github/pull_request/opened.payload.json");

    let (status, answer) = github_post(&server, "pull_request", "d-1", &body);
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("accepted")), "{answer}");
    assert_eq!(answer["entry"], 0);
    // The same delivery again (GitHub's "redeliver"): nothing new.
    let (status, answer) = github_post(&server, "pull_request", "d-1", &body);
    assert_eq!(
        (status, answer["outcome"].as_str(), answer["entry"].as_u64()),
        (200, Some("duplicate"), Some(0)),
        "{answer}"
    );
    // The same id with other bytes is refused.
    let other = fixture("github/pull_request/synchronize.payload.json");
    let (status, answer) = github_post(&server, "pull_request", "d-1", &other);
    assert_eq!((status, answer["outcome"].as_str()), (409, Some("conflict")), "{answer}");
    // The worker processes the accepted delivery after the answer, then judges the pull
    // request (here: skipped, the repository has no git directory configured).
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 1");
    let metrics = wait_for_metric(&server, "countersign_jobs_total{kind=\"evaluate\",outcome=\"done\"} 1");
    for line in [
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"accepted\"} 1",
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"duplicate\"} 1",
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"conflict\"} 1",
        "countersign_job_queue_depth 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in\n{metrics}");
    }
    assert!(server.stop().success(), "a graceful stop exits 0");
    // One delivery, one log entry, and the log verifies.
    assert_eq!(verified_size(dir.path(), &database), 1);
}

/// The evidence package of a period holds the raw body of every webhook delivery logged in
/// it, so an auditor sees the forge's exact words; both verifiers check each body against
/// the digest its log entry names. A stored body edited in the database is refused at
/// export rather than packaged.
#[test]
fn x04_the_evidence_package_holds_each_webhook_body_and_both_verifiers_check_them() {
    let (dir, database) = sqlite_setup();
    let server = Server::start(dir.path(), &database, &[]);
    let opened = fixture("github/pull_request/opened.payload.json");
    let review = fixture("github/pull_request_review/submitted.payload.json");
    assert_eq!(github_post(&server, "pull_request", "d-1", &opened).0, 200);
    assert_eq!(github_post(&server, "pull_request_review", "d-2", &review).0, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 2");
    assert!(server.stop().success());

    let export = |out: &str| {
        common::countersign(dir.path())
            .args(["--format", "json", "evidence", "export", "--since", "2000-01-01", "--out", out])
            .args(["--key-file", "log.key", "--database", &database, "--checkpoint-ref", "none"])
            .output()
            .unwrap()
    };
    let out = export("evidence.tar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["attachments"], 2, "{summary}");
    let package = dir.path().join("evidence.tar");
    let bytes = std::fs::read(&package).unwrap();
    assert!(bytes.windows(opened.len()).any(|w| w == opened.as_slice()), "the body, byte for byte");
    let ours = common::countersign(dir.path()).args(["evidence", "verify"]).arg(&package).output().unwrap();
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let python = std::process::Command::new("python3")
        .arg(common::workspace_root().join("tools/verify-log/verify_log.py"))
        .arg("package")
        .arg(&package)
        .output()
        .unwrap();
    assert!(
        python.status.success(),
        "{}{}",
        String::from_utf8_lossy(&python.stdout),
        String::from_utf8_lossy(&python.stderr)
    );

    // A body edited in the database no longer matches its logged digest: no package.
    let edit = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); n=c.execute(\"UPDATE deliveries SET body = CAST('{}' AS BLOB) WHERE delivery_id = 'd-2'\").rowcount; c.commit(); sys.exit(0 if n == 1 else 1)"])
        .arg(dir.path().join("countersign.db"))
        .status()
        .unwrap();
    assert!(edit.success(), "the body was edited");
    let out = export("after-edit.tar");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match the digest logged in entry"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("after-edit.tar").exists());
}

#[test]
fn webhook_bad_inputs_are_refused_and_nothing_is_stored() {
    let (dir, database) = sqlite_setup();
    std::fs::write(dir.path().join("server.toml"), config(Some(64 * 1024))).unwrap();
    let server = Server::start(dir.path(), &database, &[]);
    let body = fixture("github/pull_request/opened.payload.json");
    let hook = server.url("/hooks/github");

    // Wrong signature, missing signature: 401.
    let wrong = format!("sha256={}", hmac_hex("not the secret", &body));
    let (status, answer) = post(
        &hook,
        &[("X-GitHub-Event", "pull_request"), ("X-GitHub-Delivery", "b-1"), ("X-Hub-Signature-256", &wrong)],
        &body,
    );
    assert_eq!(status, 401, "{answer}");
    let (status, _) = post(&hook, &[("X-GitHub-Event", "pull_request"), ("X-GitHub-Delivery", "b-2")], &body);
    assert_eq!(status, 401);
    // Over the body limit: 413.
    let mut big = b"{\"zen\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
    big.extend(b"\"}");
    let (status, _) = github_post(&server, "ping", "b-3", &big);
    assert_eq!(status, 413);
    // Signed, but not JSON: 400.
    let (status, answer) = github_post(&server, "pull_request", "b-4", b"{not json");
    assert_eq!(status, 400, "{answer}");
    // Signed, but no delivery id: 400.
    let signature = format!("sha256={}", hmac_hex(GITHUB_SECRET, &body));
    let (status, answer) =
        post(&hook, &[("X-GitHub-Event", "pull_request"), ("X-Hub-Signature-256", &signature)], &body);
    assert_eq!(status, 400, "{answer}");
    // An event countersign does not use: 202, counted, not stored.
    let (status, answer) = github_post(&server, "star", "b-5", br#"{"action": "created", "starred_at": null}"#);
    assert_eq!((status, answer["outcome"].as_str()), (202, Some("ignored")), "{answer}");
    // A repository this server does not serve: 202, not stored.
    let foreign = String::from_utf8(body.clone()).unwrap().replace("Codertocat/Hello-World", "someone/else");
    let (status, answer) = github_post(&server, "pull_request", "b-6", foreign.as_bytes());
    assert_eq!((status, answer["outcome"].as_str()), (202, Some("unknown_repository")), "{answer}");
    // GitLab with the wrong token: 401.
    let mr = fixture("gitlab/merge_request/open.docs-example.json");
    let (status, _) = post(
        &server.url("/hooks/gitlab"),
        &[("X-Gitlab-Event", "Merge Request Hook"), ("X-Gitlab-Event-UUID", "b-7"), ("X-Gitlab-Token", "wrong")],
        &mr,
    );
    assert_eq!(status, 401);

    let (_, metrics) = get(&server.url("/metrics"));
    for line in [
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"unauthorized\"} 2",
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"malformed\"} 2",
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"star\",outcome=\"ignored\"} 1",
        "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"unknown_repository\"} 1",
        "countersign_webhook_deliveries_total{forge=\"gitlab\",event=\"Merge Request Hook\",outcome=\"unauthorized\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing `{line}` in\n{metrics}");
    }
    assert!(server.stop().success());
    // Nothing was stored: the log is empty and verifies.
    assert_eq!(verified_size(dir.path(), &database), 0);
}

#[test]
fn webhook_gitea_and_gitlab_deliveries_are_accepted() {
    let (dir, database) = sqlite_setup();
    let server = Server::start(dir.path(), &database, &[]);

    let push = fixture("gitea/push/docs-example.json");
    let repo: serde_json::Value = serde_json::from_slice(&push).unwrap();
    let name = repo["repository"]["full_name"].as_str().unwrap().to_owned();
    // The Gitea fixture's repository is served under its own name.
    std::fs::write(dir.path().join("server.toml"), config(None).replace("gitea/webhooks", &name)).unwrap();
    drop(server);
    let server = Server::start(dir.path(), &database, &[]);
    let signature = hmac_hex(GITEA_SECRET, &push);
    let (status, answer) = post(
        &server.url("/hooks/gitea"),
        &[
            ("X-Gitea-Event", "push"),
            ("X-Gitea-Event-Type", "push"),
            ("X-Gitea-Delivery", "g-1"),
            ("X-Gitea-Signature", &signature),
        ],
        &push,
    );
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("accepted")), "{answer}");
    // Forgejo's own header names, on the Forgejo path.
    let (status, answer) = post(
        &server.url("/hooks/forgejo"),
        &[("X-Forgejo-Event", "push"), ("X-Forgejo-Delivery", "g-2"), ("X-Forgejo-Signature", &signature)],
        &push,
    );
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("accepted")), "{answer}");

    let mr = fixture("gitlab/merge_request/open.docs-example.json");
    let (status, answer) = post(
        &server.url("/hooks/gitlab"),
        &[("X-Gitlab-Event", "Merge Request Hook"), ("X-Gitlab-Event-UUID", "l-1"), ("X-Gitlab-Token", GITLAB_TOKEN)],
        &mr,
    );
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("accepted")), "{answer}");
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 3");
    assert!(server.stop().success());
    assert_eq!(verified_size(dir.path(), &database), 3);
}

#[test]
fn x04_a_crash_after_accepting_loses_nothing_the_job_runs_at_the_next_start() {
    let (dir, database) = sqlite_setup();
    // An ingest-only server: it accepts, and processes nothing.
    let server = Server::start(dir.path(), &database, &["--workers", "0"]);
    let body = fixture("github/pull_request_review/submitted.payload.json");
    let (status, answer) = github_post(&server, "pull_request_review", "c-1", &body);
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("accepted")), "{answer}");
    let (_, metrics) = get(&server.url("/metrics"));
    assert!(metrics.lines().any(|l| l == "countersign_job_queue_depth 1"), "{metrics}");
    server.kill();
    // The next start finds the job and runs it.
    let server = Server::start(dir.path(), &database, &[]);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 1");
    wait_for_metric(&server, "countersign_job_queue_depth 0");
    assert!(server.stop().success());
    assert_eq!(verified_size(dir.path(), &database), 1);
}

#[test]
fn health_and_readiness() {
    let (dir, database) = sqlite_setup();
    let server = Server::start(dir.path(), &database, &[]);
    assert_eq!(get(&server.url("/healthz")), (200, "ok\n".to_owned()));
    assert_eq!(get(&server.url("/readyz")), (200, "ready\n".to_owned()));
    let (status, metrics) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    assert!(metrics.contains("# TYPE countersign_webhook_deliveries_total counter"), "{metrics}");
    assert!(server.stop().success());
}

#[test]
fn check_config_reports_every_problem_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "listen = \"localhost\"\n\n[[repositories]]\nname = \"acme/payments\"\nforge = \"githb\"\nwebhook-secret = \"hunter2\"\n\n[[repositories]]\nname = \"acme/web\"\nforge = \"gitlab\"\nwebhook-secret = { env = \"NOT_SET_ANYWHERE\" }\n\n[[repositories]]\nname = \"acme/api\"\nforge = \"github\"\nwebhook-secret = { env = \"NOT_SET_ANYWHERE\" }\napp-id = 0\n",
    )
    .unwrap();
    let out =
        common::countersign(dir.path()).args(["serve", "--config", "bad.toml", "--check-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in ["bad.toml:1:10", "bad.toml:5:9", "CS-E028", "bad.toml:6:18", "NOT_SET_ANYWHERE"] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    // A GitHub App half configured: each missing part at the repository, the bad id at its line.
    for expected in [
        "bad.toml:17:10",
        "`app-id` must be a positive number",
        "not `installation-id`",
        "the required key `private-key`",
        "8 error(s)",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains("hunter2") || stderr.contains("webhook-secret = \"hunter2\""),
        "the secret is only quoted as the line itself"
    );

    std::fs::write(dir.path().join("good.toml"), config(None)).unwrap();
    std::fs::write(dir.path().join("gitlab-token"), "t\n").unwrap();
    let out = common::countersign(dir.path())
        .env("TEST_GITHUB_SECRET", "a")
        .env("TEST_GITEA_SECRET", "b")
        .args(["serve", "--config", "good.toml", "--check-config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok, 3 repositories served"));
}

/// Two replicas on one PostgreSQL database get the same delivery at the same time: one
/// stores it, the other answers "duplicate"; the job runs once; the log does not fork.
#[test]
fn postgres_two_replicas_share_one_log_and_run_each_job_once() {
    let Some(database) = common::postgres_database() else {
        panic!(
            "COUNTERSIGN_TEST_POSTGRES_URL is not set: this test needs PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
    };
    let dir = setup(&database.url);
    let a = Server::start(dir.path(), &database.url, &[]);
    let b = Server::start(dir.path(), &database.url, &[]);
    let deliveries = [
        ("github/pull_request/opened.payload.json", "pull_request"),
        ("github/pull_request/synchronize.payload.json", "pull_request"),
        ("github/pull_request_review/submitted.payload.json", "pull_request_review"),
        ("github/check_run/completed.payload.json", "check_run"),
        ("github/push/payload.json", "push"),
    ];
    let mut accepted = 0;
    for (i, (path, event)) in deliveries.iter().enumerate() {
        let body = fixture(path);
        let id = format!("r-{i}");
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| github_post(&a, event, &id, &body));
            let tb = s.spawn(|| github_post(&b, event, &id, &body));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        let outcomes =
            [ra.1["outcome"].as_str().unwrap_or("?").to_owned(), rb.1["outcome"].as_str().unwrap_or("?").to_owned()];
        assert_eq!((ra.0, rb.0), (200, 200), "{ra:?} {rb:?}");
        assert!(
            outcomes.contains(&"accepted".to_owned()) && outcomes.contains(&"duplicate".to_owned()),
            "{outcomes:?}"
        );
        accepted += 1;
    }
    // Every job ran once, on one replica or the other.
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let count = |s: &Server| {
            let (_, text) = get(&s.url("/metrics"));
            text.lines()
                .find_map(|l| l.strip_prefix("countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} "))
                .map_or(0, |n| n.parse::<u64>().unwrap())
        };
        let done = count(&a) + count(&b);
        if done >= accepted || Instant::now() > deadline {
            break done;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done, accepted, "each job runs exactly once across the replicas");
    std::thread::sleep(Duration::from_millis(500));
    assert!(a.stop().success());
    assert!(b.stop().success());
    // Five deliveries, and the one piece of evidence they carry (the completed check
    // run; the review only commented): no duplicate, however the replicas raced.
    assert_eq!(verified_size(dir.path(), &database.url), accepted + 1);
}

/// A review the forge reports is logged as the reviewer's approval of the reviewed
/// commit, after the delivery itself: two deliveries and one approval, three entries.
#[test]
fn s000_07_a_forge_approval_becomes_logged_evidence() {
    let (dir, database) = sqlite_setup();
    let server = Server::start(dir.path(), &database, &[]);
    let (status, _) = github_post(&server, "pull_request", "e-1", &fixture("github/pull_request/opened.payload.json"));
    assert_eq!(status, 200);
    // The octokit example review, its state set to approved.
    let review = String::from_utf8(fixture("github/pull_request_review/submitted.payload.json"))
        .unwrap()
        .replace("\"state\": \"commented\"", "\"state\": \"approved\"");
    let (status, _) = github_post(&server, "pull_request_review", "e-2", review.as_bytes());
    assert_eq!(status, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 2");
    assert!(server.stop().success());
    assert_eq!(verified_size(dir.path(), &database), 3);
}

/// Segregation of duties: no one records an approval in the forge's name. A record that
/// claims to come from a webhook delivery is refused, and nothing is stored.
#[test]
fn no_one_records_evidence_in_a_forges_name() {
    let (dir, database) = sqlite_setup();
    std::fs::write(
        dir.path().join("forged.json"),
        r#"{"kind": "approval", "approver": "octocat", "delivery": "github:d-1", "change": "pr#1", "recordedBy": "mallory"}"#,
    )
    .unwrap();
    let out = common::countersign(dir.path())
        .args([
            "record",
            "--json",
            "forged.json",
            "--database",
            &database,
            "--key-file",
            "log.key",
            "--checkpoint-ref",
            "none",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only `countersign serve` records those"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(verified_size(dir.path(), &database), 0);
}

// --- verdicts posted back --------------------------------------------------------------

/// One request the fake forge received.
#[derive(Debug, Clone)]
struct ForgeRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
    /// The body's bytes as sent.
    raw: Vec<u8>,
}

impl ForgeRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A local stand-in for GitHub's REST API: it answers every request with a response
/// octokit recorded from the real API (`forge-api/github/recorded.create-status.json`:
/// 201, the created status, and GitHub's rate-limit headers), and keeps what it was sent.
struct FakeForge {
    url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<ForgeRequest>>>,
}

/// One canned answer: status line, headers and body.
#[derive(Clone)]
struct Canned {
    head: String,
    body: Vec<u8>,
}

impl Canned {
    /// A recorded or documented response: `status`, the headers worth replaying, `body`.
    fn new(
        status: u64,
        reason: &str,
        headers: &serde_json::Map<String, serde_json::Value>,
        body: &serde_json::Value,
    ) -> Canned {
        let body = serde_json::to_vec(body).unwrap();
        let mut head = format!("HTTP/1.1 {status} {reason}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("x-ratelimit") || lower == "content-type" || lower == "etag" {
                let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("\r\n");
        Canned { head, body }
    }
}

fn shared_forge_api(path: &str) -> serde_json::Value {
    let file = common::workspace_root().join("../shared/fixtures/forge-api").join(path);
    serde_json::from_slice(&std::fs::read(&file).expect("the shared forge-api fixtures")).unwrap()
}

impl FakeForge {
    /// Every request answered with octokit's recorded `create-status` response.
    fn start() -> FakeForge {
        let recorded = shared_forge_api("github/recorded.create-status.json");
        let answer = &recorded[0];
        let canned = Canned::new(
            answer["status"].as_u64().unwrap(),
            "Created",
            answer["headers"].as_object().unwrap(),
            &answer["response"],
        );
        FakeForge::start_with(move |_| canned.clone())
    }

    /// A forge that answers each request with what `answer` picks for it.
    fn start_with(answer: impl Fn(&ForgeRequest) -> Canned + Send + 'static) -> FakeForge {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some(request) = read_request(&stream) else { continue };
                let canned = answer(&request);
                kept.lock().unwrap().push(request);
                let mut stream = stream;
                use std::io::Write as _;
                let _ = stream.write_all(canned.head.as_bytes());
                let _ = stream.write_all(&canned.body);
            }
        });
        FakeForge { url, requests }
    }

    fn requests(&self) -> Vec<ForgeRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Wait until the forge has received `n` requests; return them all.
    fn wait_for(&self, n: usize) -> Vec<ForgeRequest> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.requests();
            if seen.len() >= n {
                return seen;
            }
            assert!(Instant::now() < deadline, "the forge received {} requests, not {n}: {seen:#?}", seen.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_request(stream: &std::net::TcpStream) -> Option<ForgeRequest> {
    use std::io::Read as _;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(ForgeRequest { method, path, headers, body: serde_json::from_slice(&body).unwrap_or_default(), raw: body })
}

/// A GitHub fixture, moved to the repository `acme/app` and edited by `edit`.
fn github_payload(path: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut payload: serde_json::Value = serde_json::from_slice(&fixture(path)).unwrap();
    payload["repository"]["full_name"] = "acme/app".into();
    payload["repository"]["name"] = "app".into();
    payload["repository"]["owner"]["login"] = "acme".into();
    edit(&mut payload);
    serde_json::to_vec(&payload).unwrap()
}

/// GitHub's `pull_request` `opened` example, as alice's #7 on `acme/app` from `base` to `head`.
fn pr7_opened(base: &str, head: &str) -> Vec<u8> {
    github_payload("github/pull_request/opened.payload.json", |p| {
        p["number"] = 7.into();
        p["pull_request"]["number"] = 7.into();
        p["pull_request"]["head"]["sha"] = head.into();
        p["pull_request"]["base"]["sha"] = base.into();
        p["pull_request"]["base"]["ref"] = "main".into();
        p["pull_request"]["user"]["login"] = "alice".into();
    })
}

/// The governed repository as the forge has it (`origin`, bare, with GitHub's
/// `refs/pull/7/head`), and the server's own clone of it taken before the pull request was
/// opened, so the server must fetch the pull request's commits. Returns (base, head).
fn governed_repository(dir: &Path) -> (common::Repo, String, String) {
    governed_repository_with(dir, "")
}

/// `work`'s main pushed to a bare `origin.git` in `dir` (the forge's git), and the server's
/// own clone of it, `mirror.git`, taken now. Returns the origin's path.
fn publish(dir: &Path, work: &common::Repo) -> std::path::PathBuf {
    let origin = dir.join("origin.git");
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q", "--bare", origin.to_str().unwrap()]);
    work.git(&["push", "-q", origin.to_str().unwrap(), "main"]);
    git(&["clone", "-q", "--bare", origin.to_str().unwrap(), dir.join("mirror.git").to_str().unwrap()]);
    origin
}

/// [`governed_repository`] with `more` added to its policy.
fn governed_repository_with(dir: &Path, more: &str) -> (common::Repo, String, String) {
    let work = common::Repo::new();
    // The starter policy, with approvals counted on the current head only, and a CI gate.
    let policy = std::fs::read_to_string(common::workspace_root().join("examples/policies/starter.toml"))
        .unwrap()
        .replacen("exclude-author = true", "exclude-author = true\ncurrent-head-only = true", 1)
        + "\n[[gates]]\ncheck = \"unit-tests\"\ndescription = \"The unit tests pass\"\n"
        + more;
    assert!(policy.contains("current-head-only"));
    let base = work.commit(
        "Alice <alice@example.com>",
        &[("countersign.toml", &policy), ("src/app.rs", "fn main() {}\n")],
        "start",
    );
    let origin = publish(dir, &work);
    work.git(&["checkout", "-q", "-b", "feature"]);
    let head = work.commit("Alice <alice@example.com>", &[("src/app.rs", "fn main() { run() }\n")], "call run");
    work.git(&["push", "-q", origin.to_str().unwrap(), "feature:refs/pull/7/head"]);
    (work, base, head)
}

fn verdict_config(forge: &FakeForge, dir: &Path) -> String {
    format!(
        r#"public-url = "http://countersign.test"

[[repositories]]
name = "acme/app"
forge = "github"
webhook-secret = {{ env = "TEST_GITHUB_SECRET" }}
token = {{ file = "github-token" }}
api-url = "{}"
git-dir = "{}"
"#,
        forge.url,
        dir.join("mirror.git").display()
    )
}

/// `server.toml` serving GitLab project `name` from the mirror in `dir`, with `forge` as its
/// API and the token `glpat-test`; `top` is written above the repository.
fn serve_gitlab(forge: &FakeForge, dir: &Path, name: &str, top: &str) {
    let config = format!(
        r#"{top}
[[repositories]]
name = "{name}"
forge = "gitlab"
webhook-secret = {{ file = "gitlab-token" }}
token = {{ file = "gitlab-api-token" }}
api-url = "{}"
git-dir = "{}"
"#,
        forge.url,
        dir.join("mirror.git").display()
    );
    std::fs::write(dir.join("server.toml"), config).unwrap();
    std::fs::write(dir.join("gitlab-api-token"), "glpat-test\n").unwrap();
}

/// S000-07 and S000-10, through the server: a pull request's verdict is posted back to the
/// forge as a commit status on its head. Without a review by someone other than the author
/// and without CI it fails; once another person approves the head and CI passes, it
/// succeeds. The policy is read from the base commit, the commits are fetched from the
/// forge's git, and an unchanged verdict is not posted again. A success someone else sets
/// under countersign's context is tampering: it is counted and overwritten. A dismissed
/// review stops counting, and a push makes approvals of the old head stale. A merge queue's
/// commit gets the verdict of the pull request it carries.
#[test]
fn s000_07_s000_10_the_verdict_is_posted_back_and_overwrites_tampering() {
    let (dir, database) = sqlite_setup();
    let forge = FakeForge::start();
    let (work, base, head) = governed_repository(dir.path());
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &[]);

    let opened = pr7_opened(&base, &head);
    assert_eq!(github_post(&server, "pull_request", "v-1", &opened).0, 200);
    let first = forge.wait_for(1);
    let status = &first[0];
    assert_eq!(status.method, "POST");
    assert_eq!(status.path, format!("/repos/acme/app/statuses/{head}"));
    assert_eq!(status.header("authorization"), Some("Bearer test-token"));
    assert_eq!(status.body["context"], "countersign");
    assert_eq!(status.body["state"], "failure", "{:#?}", status.body);
    assert_eq!(status.body["target_url"], "http://countersign.test/changes/acme%2Fapp%237");
    let description = status.body["description"].as_str().unwrap();
    assert!(description.contains("peer-review") || description.contains("review"), "{description}");
    assert!(description.contains("unit-tests"), "{description}");
    wait_for_metric(&server, "countersign_forge_rate_limit_remaining{forge=\"github\"} 4999");

    // Someone with a status token marks it green under our name.
    let forged = github_payload("github/status/payload.json", |p| {
        p["sha"] = head.clone().into();
        p["context"] = "countersign".into();
        p["state"] = "success".into();
    });
    assert_eq!(github_post(&server, "status", "v-2", &forged).0, 200);
    let after_tamper = forge.wait_for(2);
    assert_eq!(after_tamper[1].body["state"], "failure", "the forged success is overwritten");
    wait_for_metric(&server, "countersign_status_tampering_total 1");

    // Bob approves the head; CI passes on it.
    let review = github_payload("github/pull_request_review/submitted.payload.json", |p| {
        p["review"]["state"] = "approved".into();
        p["review"]["commit_id"] = head.clone().into();
        p["review"]["user"]["login"] = "bob".into();
        p["pull_request"]["number"] = 7.into();
        p["pull_request"]["head"]["sha"] = head.clone().into();
    });
    assert_eq!(github_post(&server, "pull_request_review", "v-3", &review).0, 200);
    let ci = github_payload("github/check_run/completed.payload.json", |p| {
        p["check_run"]["name"] = "unit-tests".into();
        p["check_run"]["head_sha"] = head.clone().into();
        p["check_run"]["pull_requests"][0]["number"] = 7.into();
    });
    assert_eq!(github_post(&server, "check_run", "v-4", &ci).0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let seen = forge.requests();
        let last = seen.last().cloned().unwrap();
        if last.body["state"] == "success" || Instant::now() > deadline {
            break last;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(last.body["state"], "success", "{:#?}", forge.requests());
    // S004-03: approved by another person, its checks passed: the change is in Build.
    let reader = create_token(dir.path(), &database, "viewer", "vera@example.com");
    let (_, shown) = call("GET", &server.url("/api/v1/changes/acme%2Fapp%237"), Some(&reader), None);
    let state = &shown["evaluation"]["state"];
    assert_eq!(state["current"], "build", "{state:#}");
    let stages: Vec<&str> = state["entered"].as_array().unwrap().iter().map(|e| e["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["request", "review", "approve", "build"], "{state:#}");
    // The evaluation names the policy version it judged with: the text at the base commit.
    let policy = &shown["evaluation"]["policy"];
    assert_eq!((policy["path"].as_str(), policy["commit"].as_str()), (Some("countersign.toml"), Some(base.as_str())));
    // (The feature branch leaves the policy as the base has it.)
    let text = std::fs::read(work.path().join("countersign.toml")).unwrap();
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(&text).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(policy["sha256"], digest.as_str());

    // The merge queue builds its commit for #7: the pull request's verdict is posted on it,
    // so a queue cannot merge what the pull request could not.
    let queued = "2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d";
    let group = github_payload("github/merge_group/checks_requested.payload.json", |p| {
        p["merge_group"]["head_sha"] = queued.into();
        p["merge_group"]["head_ref"] = format!("refs/heads/gh-readonly-queue/main/pr-7-{head}").into();
        p["merge_group"]["base_sha"] = base.clone().into();
    });
    let before = forge.requests().len();
    assert_eq!(github_post(&server, "merge_group", "v-4q", &group).0, 200);
    let seen = forge.wait_for(before + 1);
    let on_queue = &seen[before];
    assert_eq!(on_queue.path, format!("/repos/acme/app/statuses/{queued}"));
    assert_eq!(on_queue.body["state"], "success", "{on_queue:#?}");
    assert!(on_queue.body["description"].as_str().unwrap().starts_with("merge queue, #7: compliant"), "{on_queue:#?}");
    let posts = forge.requests().len();

    // Our own status echoes back: not tampering. The same pull request described again
    // gives the same verdict: nothing is posted.
    let echo = github_payload("github/status/payload.json", |p| {
        p["sha"] = head.clone().into();
        p["context"] = "countersign".into();
        p["state"] = "success".into();
    });
    assert_eq!(github_post(&server, "status", "v-5", &echo).0, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 6");
    let evaluations = metric_value(&server, "countersign_jobs_total{kind=\"evaluate\",outcome=\"done\"}");
    assert_eq!(github_post(&server, "pull_request", "v-6", &opened).0, 200);
    let again = format!("countersign_jobs_total{{kind=\"evaluate\",outcome=\"done\"}} {}", evaluations + 1);
    let metrics = wait_for_metric(&server, &again);
    assert!(metrics.contains("countersign_status_tampering_total 1\n"), "the echo is not tampering: {metrics}");
    assert_eq!(forge.requests().len(), posts, "an unchanged verdict is not posted again: {:#?}", forge.requests());

    // The review is dismissed: bob's approval no longer counts.
    let dismissed = github_payload("github/pull_request_review/dismissed.payload.json", |p| {
        p["review"]["user"]["login"] = "bob".into();
        p["review"]["commit_id"] = head.clone().into();
        p["pull_request"]["number"] = 7.into();
        p["pull_request"]["head"]["sha"] = head.clone().into();
    });
    assert_eq!(github_post(&server, "pull_request_review", "v-7", &dismissed).0, 200);
    let seen = forge.wait_for(posts + 1);
    assert_eq!(seen[posts].body["state"], "failure", "{:#?}", seen[posts]);
    assert!(seen[posts].body["description"].as_str().unwrap().contains("open: review"), "{:#?}", seen[posts]);

    // Bob approves again (success), then alice pushes: under current-head-only the approval
    // given on the old head is stale, and the new head's verdict fails.
    let again = github_payload("github/pull_request_review/submitted.payload.json", |p| {
        p["review"]["state"] = "approved".into();
        p["review"]["commit_id"] = head.clone().into();
        p["review"]["user"]["login"] = "bob".into();
        p["pull_request"]["number"] = 7.into();
        p["pull_request"]["head"]["sha"] = head.clone().into();
    });
    assert_eq!(github_post(&server, "pull_request_review", "v-8", &again).0, 200);
    let seen = forge.wait_for(posts + 2);
    assert_eq!(seen[posts + 1].body["state"], "success", "{:#?}", seen[posts + 1]);
    let new_head = work.commit("Alice <alice@example.com>", &[("src/app.rs", "fn main() { run(); stop() }\n")], "stop");
    work.git(&["push", "-q", "-f", dir.path().join("origin.git").to_str().unwrap(), "feature:refs/pull/7/head"]);
    let pushed = github_payload("github/pull_request/synchronize.payload.json", |p| {
        p["number"] = 7.into();
        p["pull_request"]["number"] = 7.into();
        p["before"] = head.clone().into();
        p["after"] = new_head.clone().into();
        p["pull_request"]["head"]["sha"] = new_head.clone().into();
        p["pull_request"]["base"]["sha"] = base.clone().into();
        p["pull_request"]["base"]["ref"] = "main".into();
        p["pull_request"]["user"]["login"] = "alice".into();
    });
    assert_eq!(github_post(&server, "pull_request", "v-9", &pushed).0, 200);
    let seen = forge.wait_for(posts + 3);
    let stale = &seen[posts + 2];
    assert_eq!(stale.path, format!("/repos/acme/app/statuses/{new_head}"));
    assert_eq!(stale.body["state"], "failure", "{stale:#?}");
    assert!(stale.body["description"].as_str().unwrap().contains("review"), "{stale:#?}");

    // Through the API: the change is listed with its latest verdict, and its author cannot
    // approve it, whatever their role.
    let viewer = create_token(dir.path(), &database, "viewer", "vera@example.com");
    let (status, list) =
        call("GET", &server.url("/api/v1/changes?repository=acme/app&verdict=violation"), Some(&viewer), None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["changes"][0]["id"], "acme/app#7", "{list}");
    assert_eq!(list["changes"][0]["headSha"], new_head.as_str(), "{list}");
    // Time bounds in any offset mean the same instant; a bound that is not a time is a 400.
    let (_, since) = call("GET", &server.url("/api/v1/changes?since=2000-01-01T01:00:00%2B01:00"), Some(&viewer), None);
    assert_eq!(since["changes"][0]["id"], "acme/app#7", "{since}");
    let (_, until) = call("GET", &server.url("/api/v1/changes?until=2000-01-01T01:00:00%2B01:00"), Some(&viewer), None);
    assert_eq!(until["changes"].as_array().map(Vec::len), Some(0), "{until}");
    assert_eq!(call("GET", &server.url("/api/v1/changes?since=yesterday"), Some(&viewer), None).0, 400);
    let alice = create_token(dir.path(), &database, "admin", "alice@example.com");
    let own = serde_json::json!({ "kind": "approval", "change": "acme/app#7" });
    let (status, answer) = call("POST", &server.url("/api/v1/evidence"), Some(&alice), Some(&own));
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("their own change"), "{answer}");

    // X-04: merged as it stands (its approval stale), the final verdict is logged as a
    // `verdict` entry with the merge commit among its subjects; nothing more is posted.
    let posted = forge.requests().len();
    let merge_commit = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    let merged = github_payload("github/pull_request/closed.payload.json", |p| {
        p["number"] = 7.into();
        p["pull_request"]["number"] = 7.into();
        p["pull_request"]["head"]["sha"] = new_head.clone().into();
        p["pull_request"]["base"]["sha"] = base.clone().into();
        p["pull_request"]["base"]["ref"] = "main".into();
        p["pull_request"]["user"]["login"] = "alice".into();
        p["pull_request"]["merged"] = true.into();
        p["pull_request"]["merge_commit_sha"] = merge_commit.into();
    });
    assert_eq!(github_post(&server, "pull_request", "v-10", &merged).0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let verdict = loop {
        let (_, shown) = call("GET", &server.url("/api/v1/changes/acme%2Fapp%237"), Some(&viewer), None);
        if let Some(v) = shown["evidence"].as_array().unwrap().iter().find(|e| e["kind"] == "verdict") {
            break v.clone();
        }
        assert!(Instant::now() < deadline, "no verdict was logged at merge: {shown:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(verdict["recordedBy"], "countersign-server");
    assert_eq!(verdict["evidence"]["verdict"], "violation", "{verdict:#}");
    assert_eq!(verdict["evidence"]["judgedAt"], "merge");
    let commits: Vec<&str> =
        verdict["evidence"]["commits"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(commits[0], merge_commit);
    assert!(commits.contains(&new_head.as_str()), "{commits:?}");
    assert_eq!(forge.requests().len(), posted, "nothing is posted for a merged pull request");
    assert!(server.stop().success());
}

// --- the API ---------------------------------------------------------------------------

/// `countersign token create`, as an admin would run it: the printed token.
fn create_token(dir: &Path, database: &str, role: &str, person: &str) -> String {
    let out = common::countersign(dir)
        .args(["token", "create", "--role", role, "--person", person, "--database", database])
        .args(["--key-file", "log.key", "--checkpoint-ref", "none", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "token create: {}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    created["token"].as_str().unwrap().to_owned()
}

/// A request with an optional bearer token: (status, JSON or text body).
fn call(method: &str, url: &str, token: Option<&str>, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut response = match (method, body) {
        ("POST", body) => {
            let mut request = agent.post(url).header("Content-Type", "application/json");
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.send(serde_json::to_vec(body.unwrap_or(&serde_json::Value::Null)).unwrap()).unwrap()
        }
        _ => {
            let mut request = agent.get(url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.call().unwrap()
        }
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// One person for each role, weakest first.
const ONE_PER_ROLE: [(&str, &str); 4] = [
    ("viewer", "vera@example.com"),
    ("recorder", "rick@example.com"),
    ("approver", "april@example.com"),
    ("admin", "adam@example.com"),
];

/// A server that has taken and processed GitHub's `opened` example (Codertocat/Hello-World#2)
/// as delivery `delivery_id`.
fn serving_one_pull_request(dir: &Path, database: &str, delivery_id: &str) -> Server {
    let server = Server::start(dir, database, &[]);
    let (status, _) =
        github_post(&server, "pull_request", delivery_id, &fixture("github/pull_request/opened.payload.json"));
    assert_eq!(status, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 1");
    server
}

/// Every endpoint × every role, anonymous included: the status each must get. Then the
/// OpenAPI document is checked against the routes that answer, and segregation of duties:
/// no one records in another's name or approves as someone else, and a revoked token is
/// refused.
#[test]
fn api_role_matrix_every_endpoint_every_role() {
    let (dir, database) = sqlite_setup();
    let server = serving_one_pull_request(dir.path(), &database, "a-1");
    let people = ONE_PER_ROLE;
    let tokens: Vec<(&str, Option<String>)> = std::iter::once(("anonymous", None))
        .chain(people.iter().map(|(role, person)| (*role, Some(create_token(dir.path(), &database, role, person)))))
        .collect();
    let change = "Codertocat/Hello-World#2";
    let check = serde_json::json!({ "kind": "check", "change": change, "name": "deploy-smoke", "status": "success" });
    let approval = serde_json::json!({ "kind": "approval", "change": change });
    // (method, path, body, expected status for anonymous, viewer, recorder, approver, admin)
    let matrix: Vec<(&str, String, Option<serde_json::Value>, [u16; 5])> = vec![
        ("GET", "/api/v1/openapi.json".into(), None, [200, 200, 200, 200, 200]),
        ("GET", "/api/v1/changes".into(), None, [401, 200, 200, 200, 200]),
        ("GET", "/api/v1/changes/Codertocat%2FHello-World%232".into(), None, [401, 200, 200, 200, 200]),
        ("POST", "/api/v1/evidence".into(), Some(check), [401, 403, 201, 201, 201]),
        ("POST", "/api/v1/evidence".into(), Some(approval), [401, 403, 403, 201, 201]),
        ("GET", "/api/v1/log/checkpoint".into(), None, [401, 200, 200, 200, 200]),
        ("GET", "/api/v1/log/proof?entry=0".into(), None, [401, 200, 200, 200, 200]),
        ("GET", "/api/v1/log/entries?from=0&to=1".into(), None, [401, 200, 200, 200, 200]),
        ("GET", "/api/v1/policy-versions".into(), None, [401, 200, 200, 200, 200]),
        ("GET", "/api/v1/obligations".into(), None, [401, 200, 200, 200, 200]),
        // No served repository has a git-dir here: nothing names the approvers.
        ("POST", "/api/v1/exceptions/0/approve".into(), None, [401, 403, 403, 409, 409]),
        ("GET", "/api/v1/deliveries".into(), None, [401, 403, 403, 403, 200]),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &matrix {
        for ((role, token), want) in tokens.iter().zip(expected) {
            let (got, answer) = call(method, &server.url(path), token.as_deref(), body.as_ref());
            if got != *want {
                wrong.push(format!("{method} {path} as {role}: {got}, expected {want}: {answer}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The document names exactly the routes, and each answers the admin.
    let admin = tokens[4].1.as_deref();
    let (_, doc) = call("GET", &server.url("/api/v1/openapi.json"), None, None);
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut tested: Vec<String> = matrix
        .iter()
        .map(|(_, p, _, _)| {
            let p = p.split('?').next().unwrap();
            if p.starts_with("/api/v1/changes/") {
                "/api/v1/changes/{id}".to_owned()
            } else if p.starts_with("/api/v1/exceptions/") {
                "/api/v1/exceptions/{entry}/approve".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    tested.sort();
    tested.dedup();
    assert_eq!(documented, tested, "the OpenAPI document and the routes differ");
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "Codertocat%2FHello-World%232").replace("{entry}", "0");
            let (got, _) = call(&method.to_uppercase(), &server.url(&concrete), admin, Some(&serde_json::json!({})));
            assert!(got != 404 && got != 405, "{method} {path} is documented but not routed ({got})");
        }
    }

    // The evidence names who recorded it: the token's person, never a typed name.
    let (_, shown) = call("GET", &server.url("/api/v1/changes/Codertocat%2FHello-World%232"), admin, None);
    let recorded: Vec<(&str, &str)> = shown["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["recordedBy"].as_str().unwrap()))
        .collect();
    assert!(recorded.contains(&("check", "rick@example.com")), "{recorded:?}");
    assert!(recorded.contains(&("approval", "april@example.com")), "{recorded:?}");
    let approvers: Vec<&str> =
        shown["evidence"].as_array().unwrap().iter().filter_map(|e| e["evidence"]["approver"].as_str()).collect();
    assert_eq!(approvers, ["april@example.com", "adam@example.com"]);

    // Segregation of duties.
    let approver = tokens[3].1.as_deref();
    let as_other = serde_json::json!({ "kind": "approval", "change": change, "approver": "vera@example.com" });
    assert_eq!(call("POST", &server.url("/api/v1/evidence"), approver, Some(&as_other)).0, 403);
    let by_other = serde_json::json!({ "kind": "check", "change": change, "name": "x", "status": "success", "recordedBy": "vera@example.com" });
    assert_eq!(call("POST", &server.url("/api/v1/evidence"), approver, Some(&by_other)).0, 403);
    let forged = serde_json::json!({ "kind": "approval", "change": change, "delivery": "github:a-1" });
    assert_eq!(call("POST", &server.url("/api/v1/evidence"), approver, Some(&forged)).0, 403);
    // S003-07: an emergency can be declared through the API, in one's own name only.
    let recorder = tokens[2].1.as_deref();
    let declared =
        |by: &str| serde_json::json!({ "kind": "emergency", "change": change, "declaredBy": by, "reason": "outage" });
    let (status, answer) = call("POST", &server.url("/api/v1/evidence"), recorder, Some(&declared("vera@example.com")));
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("the token's person's own"), "{answer}");
    assert_eq!(call("POST", &server.url("/api/v1/evidence"), recorder, Some(&declared("rick@example.com"))).0, 201);
    assert_eq!(call("GET", &server.url("/api/v1/changes"), Some("cs_00000000_nope"), None).0, 401);
    let out = common::countersign(dir.path())
        .args(["token", "revoke", &tokens[1].1.clone().unwrap(), "--database", &database, "--key-file", "log.key"])
        .args(["--checkpoint-ref", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(call("GET", &server.url("/api/v1/changes"), tokens[1].1.as_deref(), None).0, 401);
    assert!(server.stop().success());
    // 1 delivery, 3 checks (recorder, approver, admin), 2 approvals, 1 emergency: the log
    // verifies.
    assert_eq!(verified_size(dir.path(), &database), 7);
}

/// A CI job records through the server: no database URL, no log key, only a token. The
/// server records it as the token's person; without a token nothing is sent.
#[test]
fn record_through_the_server_needs_no_database_or_key() {
    let (dir, database) = sqlite_setup();
    let server = serving_one_pull_request(dir.path(), &database, "r-1");
    let ci = create_token(dir.path(), &database, "recorder", "ci-bot@example.com");
    let approver = create_token(dir.path(), &database, "approver", "april@example.com");
    let elsewhere = tempfile::tempdir().unwrap();
    let record = |token: Option<&str>, args: &[&str]| {
        let mut cmd = common::countersign(elsewhere.path());
        cmd.args(["record"]).args(args).args(["--server", &server.base, "--format", "json"]);
        if let Some(token) = token {
            cmd.env("COUNTERSIGN_TOKEN", token);
        }
        cmd.output().unwrap()
    };
    let check = ["check", "--change", "Codertocat/Hello-World#2", "--name", "deploy-smoke", "--status", "success"];
    let out = record(Some(&ci), &check);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((answer["entry"].as_u64(), answer["recordedBy"].as_str()), (Some(1), Some("ci-bot@example.com")));
    // An approval is the token's person's own; the recorder role may not approve.
    let approve = ["approval", "--change", "Codertocat/Hello-World#2"];
    let out = record(Some(&ci), &approve);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("approver role"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = record(Some(&approver), &approve);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Without a token: refused before anything is sent, with what to do.
    let out = record(None, &check);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("COUNTERSIGN_TOKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.stop().success());
    assert_eq!(verified_size(dir.path(), &database), 3);
}

// --- the web pages ---------------------------------------------------------------------

mod browser;

const PASSWORD: &str = "a long passphrase for tests";

/// `countersign account create`, the password piped in as an administrator would.
fn create_account(dir: &Path, database: &str, role: &str, person: &str) {
    common::countersign(dir)
        .args(["account", "create", "--role", role, "--person", person, "--database", database])
        .args(["--key-file", "log.key", "--checkpoint-ref", "none"])
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
        .success();
}

/// A page response: status, `Location`, every `Set-Cookie`, the named security headers, body.
#[derive(Debug)]
struct PageResponse {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    headers: Vec<(String, String)>,
    body: String,
}

impl PageResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The value the response sets for cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }
}

/// GET or POST a page as a browser would, without following redirects.
fn page(method: &str, url: &str, cookies: &[(&str, &str)], form: &[(&str, &str)]) -> PageResponse {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let cookie = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
    let mut response = if method == "POST" {
        let mut request = agent.post(url);
        if !cookie.is_empty() {
            request = request.header("Cookie", &cookie);
        }
        request.send_form(form.iter().copied()).unwrap()
    } else {
        let mut request = agent.get(url);
        if !cookie.is_empty() {
            request = request.header("Cookie", &cookie);
        }
        request.call().unwrap()
    };
    let headers = response.headers();
    let one = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    PageResponse {
        status: response.status().as_u16(),
        location: one("location"),
        cookies: headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect(),
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// Sign in through the form (its own CSRF cookie and field): the session cookie.
fn sign_in(server: &Server, person: &str, password: &str) -> Result<String, PageResponse> {
    let form = page("GET", &server.url("/login"), &[], &[]);
    let login_cookie = form.cookie("countersign_login").expect("the sign-in form sets its CSRF cookie");
    let csrf = form.csrf();
    let answer = page(
        "POST",
        &server.url("/login"),
        &[("countersign_login", &login_cookie)],
        &[("person", person), ("password", password), ("csrf", &csrf), ("next", "/changes")],
    );
    answer.cookie("countersign_session").filter(|_| answer.status == 303).ok_or(answer)
}

/// The pages' sessions and roles over plain HTTP: who may see and do what (anonymous
/// included), CSRF on every form, cookies that scripts cannot read, security headers on
/// every response, and sessions that end when a person signs out, is disabled or gets a
/// new password.
#[test]
fn pages_sign_in_sessions_csrf_roles_and_security_headers() {
    let (dir, database) = sqlite_setup();
    let server = serving_one_pull_request(dir.path(), &database, "p-1");
    let people = ONE_PER_ROLE;
    for (role, person) in people {
        create_account(dir.path(), &database, role, person);
    }

    // Anonymous: every page sends the browser to sign in, and back afterwards.
    let anonymous = page("GET", &server.url("/changes?verdict=violation"), &[], &[]);
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/login?next=%2Fchanges%3Fverdict%3Dviolation"));

    // Security headers on pages, the API and the hooks alike.
    for path in ["/login", "/api/v1/openapi.json", "/healthz"] {
        let answer = page("GET", &server.url(path), &[], &[]);
        assert_eq!(answer.status, 200, "{path}");
        let csp = answer.header("content-security-policy").unwrap_or_else(|| panic!("no CSP on {path}"));
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(answer.header("referrer-policy"), Some("same-origin"), "{path}");
    }

    // The sign-in form: without its cookie, or with another form's token, nothing happens.
    let form = page("GET", &server.url("/login"), &[], &[]);
    let login_cookie = form.cookie("countersign_login").unwrap();
    let set = form.cookies.iter().find(|c| c.starts_with("countersign_login=")).unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let fields = [("person", "vera@example.com"), ("password", PASSWORD), ("next", "/changes")];
    let no_cookie = page("POST", &server.url("/login"), &[], &[fields[0], fields[1], ("csrf", &form.csrf())]);
    assert_eq!(no_cookie.status, 403, "{}", no_cookie.body);
    let other = "0".repeat(64);
    let forged = page(
        "POST",
        &server.url("/login"),
        &[("countersign_login", &login_cookie)],
        &[fields[0], fields[1], ("csrf", &other)],
    );
    assert_eq!(forged.status, 403);
    // A wrong password, and an unknown person, get the same answer.
    let wrong = sign_in(&server, "vera@example.com", "not the password at all").unwrap_err();
    let unknown = sign_in(&server, "nobody@example.com", PASSWORD).unwrap_err();
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("Wrong person or password"), "{}", wrong.body);
    let same = |r: &PageResponse| r.body.replace(&r.csrf(), "");
    assert_eq!(same(&wrong), same(&unknown));

    // Signed in: the session cookie is HttpOnly and SameSite, and only a 256-bit id.
    let mut sessions = Vec::new();
    for (role, person) in people {
        let form = page("GET", &server.url("/login"), &[], &[]);
        let answer = page(
            "POST",
            &server.url("/login"),
            &[("countersign_login", &form.cookie("countersign_login").unwrap())],
            &[("person", person), ("password", PASSWORD), ("csrf", &form.csrf()), ("next", "//evil.example/x")],
        );
        assert_eq!(answer.status, 303, "{role}: {}", answer.body);
        assert_eq!(answer.location.as_deref(), Some("/changes"), "a `next` off this server is ignored");
        let set = answer.cookies.iter().find(|c| c.starts_with("countersign_session=")).unwrap();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            assert!(set.contains(flag), "{set} lacks {flag}");
        }
        let value = answer.cookie("countersign_session").unwrap();
        assert!(value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()), "{value}");
        sessions.push((role, person, value));
    }

    // Every page × every role (anonymous first): the status each must get.
    let change = "/changes/Codertocat%2FHello-World%232";
    let matrix: [(&str, [u16; 5]); 5] = [
        ("/changes", [303, 200, 200, 200, 200]),
        ("/log", [303, 200, 200, 200, 200]),
        ("/log/proof/0", [303, 200, 200, 200, 200]),
        ("/deliveries", [303, 403, 403, 403, 200]),
        (change, [303, 404, 404, 404, 404]),
    ];
    let mut wrong = Vec::new();
    for (path, expected) in matrix {
        let got: Vec<u16> = std::iter::once(page("GET", &server.url(path), &[], &[]).status)
            .chain(
                sessions
                    .iter()
                    .map(|(_, _, s)| page("GET", &server.url(path), &[("countersign_session", s)], &[]).status),
            )
            .collect();
        if got != expected {
            wrong.push(format!("{path}: {got:?}, expected {expected:?}"));
        }
    }
    // Approving through the page: approvers and admins only, with the session's CSRF token.
    let approve = format!("{change}/approve");
    let mut got = vec![page("POST", &server.url(&approve), &[], &[("csrf", "x")]).status];
    for (_, _, session) in &sessions {
        let csrf = page("GET", &server.url("/changes"), &[("countersign_session", session)], &[]).csrf();
        let answer = page("POST", &server.url(&approve), &[("countersign_session", session)], &[("csrf", &csrf)]);
        got.push(answer.status);
    }
    if got != [303, 403, 403, 303, 303] {
        wrong.push(format!("POST {approve}: {got:?}, expected [303, 403, 403, 303, 303]"));
    }
    assert!(wrong.is_empty(), "pages answered wrongly:\n{}", wrong.join("\n"));
    let april = &sessions[2].2;
    let bad_csrf = page("POST", &server.url(&approve), &[("countersign_session", april)], &[("csrf", &"f".repeat(64))]);
    assert_eq!(bad_csrf.status, 403);
    assert!(bad_csrf.body.contains("CSRF"), "{}", bad_csrf.body);

    // Signing out ends the session in the store: the old cookie no longer works.
    let vera = &sessions[0].2;
    let csrf = page("GET", &server.url("/log"), &[("countersign_session", vera)], &[]).csrf();
    let out = page("POST", &server.url("/logout"), &[("countersign_session", vera)], &[("csrf", &csrf)]);
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert!(out.cookies.iter().any(|c| c.starts_with("countersign_session=;") && c.contains("Max-Age=0")));
    assert_eq!(page("GET", &server.url("/log"), &[("countersign_session", vera)], &[]).status, 303);

    // Disabling an account ends its sessions at once; so does a new password.
    let rick = &sessions[1].2;
    common::countersign(dir.path())
        .args(["account", "disable", "rick@example.com", "--database", &database])
        .args(["--key-file", "log.key", "--checkpoint-ref", "none"])
        .assert()
        .success();
    assert_eq!(page("GET", &server.url("/log"), &[("countersign_session", rick)], &[]).status, 303);
    assert_eq!(sign_in(&server, "rick@example.com", PASSWORD).unwrap_err().status, 401);
    common::countersign(dir.path())
        .args(["account", "set-password", "adam@example.com", "--database", &database])
        .args(["--key-file", "log.key", "--checkpoint-ref", "none"])
        .write_stdin("another long passphrase\n")
        .assert()
        .success();
    assert_eq!(page("GET", &server.url("/log"), &[("countersign_session", &sessions[3].2)], &[]).status, 303);
    assert!(sign_in(&server, "adam@example.com", "another long passphrase").is_ok());
    // A short password is refused, with the reason.
    let short = common::countersign(dir.path())
        .args(["account", "create", "--role", "viewer", "--person", "sam@example.com", "--database", &database])
        .args(["--key-file", "log.key", "--checkpoint-ref", "none"])
        .write_stdin("short\n")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    assert!(server.stop().success());
    // The two approvals given through the page are in the log, in the approvers' names.
    assert_eq!(verified_size(dir.path(), &database), 3);
}

/// Every page in a real browser (headless Chromium), as people use them: sign in through
/// the form, read the changes and a change's requirements, approve it with the button, follow
/// an entry to its inclusion proof, read the log before and after `log verify`, be refused
/// the deliveries page below admin, sign out, and see that an author cannot approve their
/// own change. Each page's screenshot is kept under `target/screenshots/`.
#[test]
fn pages_in_a_real_browser_with_screenshots() {
    let (dir, database) = sqlite_setup();
    let forge = FakeForge::start();
    // The policy names its people: an approval given on the page is the signed-in person's
    // own only when the policy knows who they are.
    let people = "\n[people.alice]\nname = \"Alice\"\nemails = \"alice@example.com\"\nlogins = \"github:alice\"\n\
                  \n[people.bob]\nname = \"Bob\"\nemails = \"bob@example.com\"\nlogins = \"github:bob\"\n";
    let (_work, base, head) = governed_repository_with(dir.path(), people);
    // The fake forge is the API; the pages link to the forge's web pages.
    let config = verdict_config(&forge, dir.path()) + "web-url = \"https://github.com\"\n";
    std::fs::write(dir.path().join("server.toml"), config).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &[]);
    let opened = pr7_opened(&base, &head);
    assert_eq!(github_post(&server, "pull_request", "b-1", &opened).0, 200);
    assert_eq!(forge.wait_for(1)[0].body["state"], "failure");
    create_account(dir.path(), &database, "approver", "bob@example.com");
    create_account(dir.path(), &database, "approver", "alice@example.com");
    create_account(dir.path(), &database, "admin", "adam@example.com");

    let mut browser = browser::Browser::start();
    let mut shots = Vec::new();
    let mut shoot = |browser: &mut browser::Browser, name: &str| {
        let (path, (width, height)) = browser.screenshot(name);
        assert_eq!(width, browser::WIDTH, "{name} is {width} px wide");
        assert!(height >= 600, "{name} is {height} px high");
        let bytes = std::fs::metadata(&path).unwrap().len();
        assert!(bytes > 10_000, "{name}: a {bytes}-byte screenshot is blank");
        shots.push(path);
    };

    // Asking for the changes leads to the sign-in form, and back after signing in.
    browser.goto(&server.url("/changes"));
    assert_eq!(browser.path(), "/login?next=%2Fchanges");
    shoot(&mut browser, "01-sign-in");
    browser.fill("input[name=person]", "bob@example.com");
    browser.fill("input[name=password]", "not bob's password at all");
    browser.click_and_wait("button[type=submit]");
    assert!(browser.text().contains("Wrong person or password"), "{}", browser.text());
    shoot(&mut browser, "02-sign-in-refused");
    browser.fill("input[name=person]", "bob@example.com");
    browser.fill("input[name=password]", PASSWORD);
    browser.click_and_wait("button[type=submit]");
    assert_eq!(browser.path(), "/changes");
    assert_eq!(browser.eval("document.cookie"), "", "the session cookie is out of scripts' reach");
    let rows = browser.texts("tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("acme/app#7") && rows[0].contains("violation"), "{rows:?}");
    assert!(browser.text().contains("bob@example.com · approver"), "{}", browser.text());
    shoot(&mut browser, "03-changes");
    // The filters narrow the list.
    browser.goto(&server.url("/changes?verdict=compliant"));
    assert!(browser.text().contains("No change matches"), "{}", browser.text());

    // A change: its classification, each requirement with its status and evidence, links.
    browser.goto(&server.url("/changes"));
    browser.click_and_wait("tbody a");
    assert_eq!(browser.path(), "/changes/acme%2Fapp%237");
    let text = browser.text();
    for expected in ["acme/app#7", "violation", "Standard", "Requirements", "unit-tests", "missing"] {
        assert!(text.contains(expected), "the change page lacks {expected:?}:\n{text}");
    }
    let links = browser.eval("Array.from(document.querySelectorAll('dd a')).map(a => a.href)");
    assert!(links.to_string().contains("https://github.com/acme/app/pull/7"), "{links}");
    assert!(links.to_string().contains(&format!("https://github.com/acme/app/commit/{head}")), "{links}");
    assert!(text.contains("No recorded evidence names this change yet"), "{text}");
    shoot(&mut browser, "04-change");

    // Bob approves with the button: the approval is his, logged, and the change judged again.
    browser.click_and_wait("form[action$='/approve'] button");
    let text = browser.text();
    assert!(text.contains("Your approval is recorded as log entry"), "{text}");
    let entries = browser.texts("#entries tbody tr");
    let approval = entries.iter().find(|r| r.contains("approval")).unwrap_or_else(|| panic!("{entries:?}"));
    assert!(approval.contains("bob@example.com"), "{approval}");
    shoot(&mut browser, "05-change-approved");
    let seen = forge.wait_for(2);
    assert!(
        !seen[1].body["description"].as_str().unwrap().contains("review"),
        "bob's approval counts for the review: {:#?}",
        seen[1]
    );
    browser.click_and_wait("a[href^='/log/proof/']");
    assert!(browser.text().contains("Inclusion proof of entry"), "{}", browser.text());
    assert!(browser.text().contains("c2sp.org/tlog-proof"), "{}", browser.text());
    shoot(&mut browser, "06-inclusion-proof");

    // The log: never verified, then verified by `log verify`.
    browser.goto(&server.url("/log"));
    assert!(browser.text().contains("never"), "{}", browser.text());
    let size = verified_size(dir.path(), &database);
    browser.goto(&server.url("/log"));
    let text = browser.text();
    assert!(text.contains("verified") && text.contains(&format!("{size} entries")), "{text}");
    shoot(&mut browser, "07-log");

    // Deliveries are for admins.
    browser.goto(&server.url("/deliveries"));
    assert!(browser.text().contains("403"), "{}", browser.text());
    browser.click_and_wait("header form button");
    assert_eq!(browser.path(), "/login");
    browser.goto(&server.url("/login?next=%2Fdeliveries"));
    browser.fill("input[name=person]", "adam@example.com");
    browser.fill("input[name=password]", PASSWORD);
    browser.click_and_wait("button[type=submit]");
    assert_eq!(browser.path(), "/deliveries");
    let rows = browser.texts("tbody tr");
    assert!(rows.iter().any(|r| r.contains("pull_request") && r.contains("b-1")), "{rows:?}");
    shoot(&mut browser, "08-deliveries");
    browser.click_and_wait("header form button");

    // Alice wrote the change: she may approve others' changes, never this one.
    browser.goto(&server.url("/login?next=%2Fchanges%2Facme%252Fapp%25237"));
    browser.fill("input[name=person]", "alice@example.com");
    browser.fill("input[name=password]", PASSWORD);
    browser.click_and_wait("button[type=submit]");
    assert_eq!(browser.path(), "/changes/acme%2Fapp%237");
    assert!(browser.text().contains("You wrote this change, so you cannot approve it"), "{}", browser.text());
    assert_eq!(browser.eval("document.querySelectorAll(\"form[action$='/approve']\").length"), 0);
    shoot(&mut browser, "09-change-own");
    drop(browser);
    assert!(server.stop().success());
    eprintln!("screenshots: {}", browser::screenshot_dir().display());
}

/// As a GitHub App: the server signs a JWT with the app's key (RS256), exchanges it for an
/// installation token, caches that token, and posts the verdict as a check run whose text
/// lists every requirement. The fake forge answers with GitHub's documented examples: the
/// installation token of "Create an installation access token for an app" (REST docs; its
/// `expires_at` moved to 2099 so that it stays valid whatever the clock) and the check run
/// of the OpenAPI description (`forge-api/github/openapi.check-run.json`).
#[test]
fn s000_10_a_github_app_posts_check_runs_with_every_requirement() {
    let (dir, database) = sqlite_setup();
    let check_run = shared_forge_api("github/openapi.check-run.json");
    let forge = FakeForge::start_with(move |request| {
        if request.path.starts_with("/app/installations/") {
            let token = serde_json::json!({
                "token": "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
                "expires_at": "2099-07-11T22:14:10Z",
                "permissions": { "checks": "write", "contents": "read" },
                "repository_selection": "selected",
            });
            Canned::new(201, "Created", &serde_json::Map::new(), &token)
        } else {
            Canned::new(201, "Created", &serde_json::Map::new(), &check_run)
        }
    });
    let (_work, base, head) = governed_repository(dir.path());
    let key = dir.path().join("app.pem");
    let out = Command::new("openssl").args(["genrsa", "-traditional", "-out"]).arg(&key).arg("2048").output().unwrap();
    assert!(out.status.success(), "openssl genrsa: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "GitHub's PKCS#1 form"
    );
    let config = format!(
        r#"public-url = "http://countersign.test"

[[repositories]]
name = "acme/app"
forge = "github"
webhook-secret = {{ env = "TEST_GITHUB_SECRET" }}
app-id = 12345
installation-id = 678
private-key = {{ file = "app.pem" }}
api-url = "{}"
git-dir = "{}"
"#,
        forge.url,
        dir.path().join("mirror.git").display()
    );
    std::fs::write(dir.path().join("server.toml"), config).unwrap();
    let server = Server::start(dir.path(), &database, &[]);
    let opened = pr7_opened(&base, &head);
    assert_eq!(github_post(&server, "pull_request", "app-1", &opened).0, 200);
    let seen = forge.wait_for(2);
    let (exchange, run) = (&seen[0], &seen[1]);
    assert_eq!((exchange.method.as_str(), exchange.path.as_str()), ("POST", "/app/installations/678/access_tokens"));
    assert_eq!((run.method.as_str(), run.path.as_str()), ("POST", "/repos/acme/app/check-runs"));
    assert_eq!(run.header("authorization"), Some("Bearer ghs_16C7e42F292c6912E7710c838347Ae178B4a"));
    assert_eq!(run.body["name"], "countersign");
    assert_eq!(run.body["head_sha"], head.as_str());
    assert_eq!(run.body["external_id"], "acme/app#7");
    assert_eq!((run.body["status"].as_str(), run.body["conclusion"].as_str()), (Some("completed"), Some("failure")));
    assert_eq!(run.body["details_url"], "http://countersign.test/changes/acme%2Fapp%237");
    let text = run.body["output"]["text"].as_str().unwrap();
    for row in ["| **pull-request**", "| met |", "| **review**", "| **gate:unit-tests**", "| missing |"] {
        assert!(text.contains(row), "the check run's text lacks {row:?}:\n{text}");
    }

    // The JWT: RS256 over {iat, exp, iss}, nine minutes after a backdated iat, and its
    // signature verifies with the app's public key.
    let jwt = exchange.header("authorization").unwrap().strip_prefix("Bearer ").unwrap().to_owned();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("RS256"), Some("JWT")));
    assert_eq!(claims["iss"], "12345");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600, "{claims}");
    std::fs::write(dir.path().join("jwt.sig"), b64.decode(parts[2]).unwrap()).unwrap();
    std::fs::write(dir.path().join("jwt.input"), format!("{}.{}", parts[0], parts[1])).unwrap();
    let openssl = |args: &[&str]| Command::new("openssl").current_dir(dir.path()).args(args).output().unwrap();
    assert!(openssl(&["rsa", "-in", "app.pem", "-pubout", "-out", "app.pub"]).status.success());
    let verified = openssl(&["dgst", "-sha256", "-verify", "app.pub", "-signature", "jwt.sig", "jwt.input"]);
    assert!(verified.status.success(), "the JWT's signature: {}", String::from_utf8_lossy(&verified.stdout));

    // CI passes: a new verdict, posted with the cached token (no second exchange).
    let ci = github_payload("github/check_run/completed.payload.json", |p| {
        p["check_run"]["name"] = "unit-tests".into();
        p["check_run"]["head_sha"] = head.clone().into();
        p["check_run"]["pull_requests"][0]["number"] = 7.into();
    });
    assert_eq!(github_post(&server, "check_run", "app-2", &ci).0, 200);
    let seen = forge.wait_for(3);
    assert_eq!(seen[2].path, "/repos/acme/app/check-runs", "the token is cached: {:#?}", seen[2]);
    assert!(seen[2].body["output"]["text"].as_str().unwrap().contains("unit-tests"));
    assert_eq!(seen.iter().filter(|r| r.path.starts_with("/app/")).count(), 1);

    // Another app reports a check run named like ours, green: tampering, counted, and our
    // verdict is posted again over it.
    let ours = seen[2].body["conclusion"].as_str().unwrap().to_owned();
    assert_eq!(ours, "failure", "review is still open: {:#?}", seen[2]);
    let forged = github_payload("github/check_run/completed.payload.json", |p| {
        p["check_run"]["name"] = "countersign".into();
        p["check_run"]["conclusion"] = "success".into();
        p["check_run"]["head_sha"] = head.clone().into();
        p["check_run"]["pull_requests"][0]["number"] = 7.into();
    });
    assert_eq!(github_post(&server, "check_run", "app-3", &forged).0, 200);
    let seen = forge.wait_for(4);
    assert_eq!(seen[3].path, "/repos/acme/app/check-runs");
    assert_eq!(seen[3].body["conclusion"], "failure", "the forged success is overwritten: {:#?}", seen[3]);
    wait_for_metric(&server, "countersign_status_tampering_total 1");
    assert!(server.stop().success());
}

// --- the deploy gate as a GitHub deployment protection rule -----------------------------

/// A repository whose history is compliant from git alone (review trailers are the whole
/// record), with a `[deploy]` section: pushed to a bare `origin`, and cloned bare as the
/// server's git-dir. Returns the work repository and its last commit.
fn deploying_repository(dir: &Path, more_deploy: &str) -> (common::Repo, String) {
    let work = common::Repo::new();
    let policy = r#"[policy]
organization = "Acme"
title = "Change Management Policy"
owner = "CTO"
version = "1"
effective = 2026-01-01
review-every = "annual"

[people.alice]
name = "Alice"
emails = "alice@example.com"
logins = "alice"
[people.bob]
name = "Bob"
emails = "bob@example.com"
logins = "bob"

[rules.peer-review]
approvals = 1
from = "*"
exclude-author = true

[[categories]]
id = "standard"
name = "Standard"
default = true
require = "peer-review"

[evidence]
trailers-complete = true

[deploy]
environments = ["staging", "production"]
same-artifact = true
production-manual = true
"#
    .to_owned()
        + more_deploy;
    work.commit(
        "Alice <alice@example.com>",
        &[("README.md", "acme\n")],
        "Start (#1)\n\nReviewed-by: Bob <bob@example.com>",
    );
    let head = work.merge_pr(
        2,
        "Alice <alice@example.com>",
        "Alice <alice@example.com>",
        &[("countersign.toml", &policy)],
        "Reviewed-by: Bob <bob@example.com>",
    );
    publish(dir, &work);
    (work, head)
}

/// The documented `deployment_protection_rule` example, for `environment` at `sha`, started
/// by `creator` with `trigger`, naming `artifact` in the deployment's payload, its callback
/// on `callback`.
fn protection_rule(environment: &str, sha: &str, artifact: &str, callback: &str) -> Vec<u8> {
    github_payload("github/deployment_protection_rule/requested.payload.json", |p| {
        p["environment"] = environment.into();
        p["event"] = "workflow_dispatch".into();
        p["deployment_callback_url"] = callback.into();
        p["deployment"]["sha"] = sha.into();
        p["deployment"]["environment"] = environment.into();
        p["deployment"]["payload"] = serde_json::json!({ "artifact": artifact });
        p["deployment"]["creator"]["login"] = "bob".into();
    })
}

/// GitHub's documented `workflow_run` object (the webhook example, the shape the REST API
/// returns for a run), as the run `id` of workflow file `path` that `login` started.
fn workflow_run(id: u64, path: &str, login: &str) -> serde_json::Value {
    let payload: serde_json::Value =
        serde_json::from_slice(&fixture("github/workflow_run/completed.payload.json")).unwrap();
    let mut run = payload["workflow_run"].clone();
    run["id"] = id.into();
    run["path"] = path.into();
    run["event"] = "workflow_dispatch".into();
    run["triggering_actor"]["login"] = login.into();
    run
}

/// S000-02 and S000-20 through the server: GitHub asks countersign (a custom deployment
/// protection rule) whether a production deployment may go on. Without the same artifact on
/// staging it is rejected, with a comment naming what is missing; GitHub's own
/// `deployment_status` for the staging deploy becomes a deploy record; asked again, the gate
/// approves. The workflow run behind the callback (read from the API) must be the
/// sanctioned release workflow: a run of another workflow is rejected. Each decision is a
/// log entry. A callback on another host is never answered.
#[test]
fn s000_02_s000_20_a_github_deployment_protection_rule_is_answered_by_the_gate() {
    let (dir, database) = sqlite_setup();
    // Runs 42 and 44 are the release workflow, run 43 is the test workflow; the review
    // endpoint answers 204 with no body (GitHub's documented response).
    let forge = FakeForge::start_with(|request| {
        let run = match request.path.as_str() {
            "/repos/acme/app/actions/runs/42" => Some(workflow_run(42, ".github/workflows/release.yml", "bob")),
            "/repos/acme/app/actions/runs/43" => Some(workflow_run(43, ".github/workflows/test.yml", "bob")),
            "/repos/acme/app/actions/runs/44" => {
                Some(workflow_run(44, "acme/app/.github/workflows/release.yml@refs/heads/main", "bob"))
            }
            _ => None,
        };
        // Each run has an ETag; asked again with it, GitHub answers 304 with no body.
        let etag = format!("\"{}\"", request.path.rsplit('/').next().unwrap_or_default());
        match run {
            Some(_) if request.header("if-none-match") == Some(etag.as_str()) => Canned {
                head: format!(
                    "HTTP/1.1 304 Not Modified\r\nconnection: close\r\netag: {etag}\r\ncontent-length: 0\r\n\r\n"
                ),
                body: Vec::new(),
            },
            Some(run) => {
                let headers = serde_json::Map::from_iter([("etag".to_owned(), serde_json::Value::from(etag))]);
                Canned::new(200, "OK", &headers, &run)
            }
            None => Canned {
                head: "HTTP/1.1 204 No Content\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".into(),
                body: Vec::new(),
            },
        }
    });
    let answers = |n: usize| -> Vec<ForgeRequest> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let posted: Vec<ForgeRequest> = forge.requests().into_iter().filter(|r| r.method == "POST").collect();
            if posted.len() >= n {
                return posted;
            }
            assert!(Instant::now() < deadline, "{} answers, not {n}: {:#?}", posted.len(), forge.requests());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (_work, commit) = deploying_repository(dir.path(), "production-path = \".github/workflows/release.yml\"\n");
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &[]);
    let artifact = format!("sha256:{}", "ab".repeat(32));
    let callback = |run: u64| format!("{}/repos/acme/app/actions/runs/{run}/deployment_protection_rule", forge.url);
    let documented = shared_forge_api("github/openapi.review-custom-gates-for-run.request.json");

    let body = protection_rule("production", &commit, &artifact, &callback(42));
    assert_eq!(github_post(&server, "deployment_protection_rule", "g-1", &body).0, 200);
    let rejected = answers(1)[0].clone();
    assert_eq!(
        (rejected.method.as_str(), rejected.path.as_str()),
        ("POST", "/repos/acme/app/actions/runs/42/deployment_protection_rule")
    );
    assert_eq!(rejected.header("authorization"), Some("Bearer test-token"));
    assert_eq!(rejected.body["state"], "rejected", "{:#?}", rejected.body);
    assert_eq!(rejected.body["environment_name"], "production");
    let comment = rejected.body["comment"].as_str().unwrap();
    assert!(comment.contains("missing order:staging"), "{comment}");
    assert!(
        !comment.contains("by-hand") && !comment.contains("sanctioned-path"),
        "the release workflow, by bob: {comment}"
    );
    // The run was read first, with the same token.
    let read = forge.requests().into_iter().find(|r| r.method == "GET").expect("the workflow run was read");
    assert_eq!(
        (read.path.as_str(), read.header("authorization")),
        ("/repos/acme/app/actions/runs/42", Some("Bearer test-token"))
    );
    // The answer has the fields of GitHub's documented request, and no others.
    let mut sent: Vec<&String> = rejected.body.as_object().unwrap().keys().collect();
    let mut expected: Vec<&String> = documented.as_object().unwrap().keys().collect();
    sent.sort();
    expected.sort();
    assert_eq!(sent, expected);

    // GitHub reports the staging deploy of the same artifact as a deployment_status.
    let staging = github_payload("github/deployment_status/payload.json", |p| {
        p["deployment_status"]["state"] = "success".into();
        p["deployment_status"]["environment"] = "staging".into();
        p["deployment"]["environment"] = "staging".into();
        p["deployment"]["sha"] = commit.clone().into();
        p["deployment"]["payload"] = serde_json::json!({ "artifact": artifact });
    });
    assert_eq!(github_post(&server, "deployment_status", "g-2", &staging).0, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 2");

    let body = protection_rule("production", &commit, &artifact, &callback(42));
    assert_eq!(github_post(&server, "deployment_protection_rule", "g-3", &body).0, 200);
    assert_eq!(answers(2)[1].body["state"], "approved", "{:#?}", answers(2)[1].body);
    // The run was asked for again conditionally (304, no rate limit spent), and still read.
    let asked: Vec<Option<String>> = forge
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/runs/42"))
        .map(|r| r.header("if-none-match").map(str::to_owned))
        .collect();
    assert_eq!(asked, [None, Some("\"42\"".to_owned())]);

    // The same deployment from the test workflow is not the sanctioned path.
    let body = protection_rule("production", &commit, &artifact, &callback(43));
    assert_eq!(github_post(&server, "deployment_protection_rule", "g-5", &body).0, 200);
    let other = answers(3)[2].clone();
    assert_eq!(other.body["state"], "rejected", "{:#?}", other.body);
    assert!(other.body["comment"].as_str().unwrap().contains("missing sanctioned-path"), "{:#?}", other.body);
    // A run that names the workflow with its repository and ref is the same workflow.
    let body = protection_rule("production", &commit, &artifact, &callback(44));
    assert_eq!(github_post(&server, "deployment_protection_rule", "g-6", &body).0, 200);
    assert_eq!(answers(4)[3].body["state"], "approved", "{:#?}", answers(4)[3].body);

    // A callback that is not this repository's run on the configured API is not answered.
    let elsewhere = protection_rule(
        "production",
        &commit,
        &artifact,
        "https://evil.example/repos/acme/app/actions/runs/1/deployment_protection_rule",
    );
    assert_eq!(github_post(&server, "deployment_protection_rule", "g-4", &elsewhere).0, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 6");
    assert_eq!(forge.requests().len(), 8, "nothing was sent for the foreign callback: {:#?}", forge.requests());

    // Five deliveries, one deploy record, four decisions: all in a log that verifies.
    server.stop();
    let kinds: Vec<String> = (0..verified_size(dir.path(), &database))
        .map(|i| {
            let out = common::countersign(dir.path())
                .args(["log", "show", "--entry", &i.to_string(), "--database", &database, "--key-file", "log.key"])
                .output()
                .unwrap();
            let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            shown["statement"]["predicateType"].as_str().unwrap().to_owned()
        })
        .collect();
    let count = |kind: &str| kinds.iter().filter(|k| k.contains(&format!("/evidence/{kind}/"))).count();
    assert_eq!((count("webhook-delivery"), count("deploy"), count("deploy-decision")), (6, 1, 4), "{kinds:#?}");
}

/// GitLab's protected environments: a deployment waiting for approval (`blocked`, in
/// GitLab's documented Deployment Hook) is judged by the gate and answered through the
/// deployment approval API. Production without staging is rejected; once GitLab reports
/// the staging deploy of the same commit, the next one is approved.
#[test]
fn s000_02_a_gitlab_deployment_waiting_for_approval_is_answered_by_the_gate() {
    let (dir, database) = sqlite_setup();
    let recorded = shared_forge_api("gitlab/deployments.approval.json");
    let forge = FakeForge::start_with(move |_| Canned::new(201, "Created", &serde_json::Map::new(), &recorded));
    let (_work, commit) = deploying_repository(dir.path(), "");
    // The policy gates production on staging by commit here: GitLab's hook names no digest.
    serve_gitlab(&forge, dir.path(), "root/test-deployment-webhooks", "");
    let server = Server::start(dir.path(), &database, &[]);
    let hook = |status: &str, environment: &str, id: u64| -> Vec<u8> {
        let mut p: serde_json::Value = serde_json::from_slice(&fixture("gitlab/deployment/docs-example.json")).unwrap();
        p["status"] = status.into();
        p["environment"] = environment.into();
        p["deployment_id"] = id.into();
        p["commit_url"] = format!("http://gitlab.test/root/test-deployment-webhooks/-/commit/{commit}").into();
        p["short_sha"] = commit[..8].into();
        p["user"]["username"] = "bob".into();
        serde_json::to_vec(&p).unwrap()
    };
    let send = |uuid: &str, body: &[u8]| {
        post(
            &server.url("/hooks/gitlab"),
            &[("X-Gitlab-Event", "Deployment Hook"), ("X-Gitlab-Event-UUID", uuid), ("X-Gitlab-Token", GITLAB_TOKEN)],
            body,
        )
        .0
    };

    assert_eq!(send("gl-1", &hook("blocked", "production", 21)), 200);
    let answers = forge.wait_for(1);
    assert_eq!(answers[0].path, "/projects/root%2Ftest-deployment-webhooks/deployments/21/approval");
    assert_eq!(answers[0].header("private-token"), Some("glpat-test"));
    assert_eq!(answers[0].body["status"], "rejected", "{:#?}", answers[0].body);
    assert!(answers[0].body["comment"].as_str().unwrap().contains("order:staging"), "{:#?}", answers[0].body);

    // Without a digest the same-artifact rule cannot be judged: GitLab's staging deploy is
    // recorded, and production still cannot be told to carry the same artifact.
    assert_eq!(send("gl-2", &hook("success", "staging", 20)), 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 2");
    assert_eq!(send("gl-3", &hook("blocked", "production", 22)), 200);
    let answers = forge.wait_for(2);
    assert_eq!(answers[1].path, "/projects/root%2Ftest-deployment-webhooks/deployments/22/approval");
    assert_eq!(answers[1].body["status"], "rejected");
    let comment = answers[1].body["comment"].as_str().unwrap();
    assert!(comment.contains("cannot tell order:staging") && comment.contains("--artifact"), "{comment}");
    // A running deployment asks nothing.
    assert_eq!(send("gl-4", &hook("running", "production", 23)), 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"} 4");
    assert_eq!(forge.requests().len(), 2);
}

/// A policy with an emergency process: an authorized emergency owes documentation within
/// 24h, a review within 48h and a post-mortem within 5 days.
const EMERGENCY_POLICY: &str = concat!(
    acme_policy!(),
    acme_emergency!(),
    r#"
[[emergency.obligations]]
id = "documented"
description = "Description, justification and testing performed are documented"
within = "24h"

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

/// A served repository (bare mirror in `dir`) whose main holds the policy and an
/// authorized emergency; returns the emergency's commit and its time.
fn repository_with_emergency(dir: &Path, more: &str) -> (common::Repo, String, jiff::Timestamp) {
    let work = common::Repo::new();
    let alice = "Alice <alice@example.com>";
    work.commit(alice, &[("README.md", "acme\n")], "Start (#1)\n\nReviewed-by: Bob <bob@example.com>");
    let policy = format!("{EMERGENCY_POLICY}{more}");
    work.merge_pr(2, alice, alice, &[("countersign.toml", &policy)], "Reviewed-by: Bob <bob@example.com>");
    let emergency = work.merge_pr(
        3,
        alice,
        alice,
        &[("src/fix.rs", "fn fix() {}\n")],
        "Hotfix the outage\n\nChange-Type: emergency\nEmergency-Authorized-By: Bob <bob@example.com>",
    );
    let at: jiff::Timestamp = work.git(&["show", "-s", "--format=%cI", &emergency]).parse().unwrap();
    publish(dir, &work);
    (work, emergency, at)
}

const REMINDER_SECRET: &str = "reminder-secret";

/// The server's configuration for [`repository_with_emergency`], with a signed JSON target
/// and a Slack target (its URL a secret file), both on `receiver`.
fn reminder_config(receiver: &FakeForge, dir: &Path, every: &str) -> String {
    std::fs::write(dir.join("reminder-secret"), format!("{REMINDER_SECRET}\n")).unwrap();
    std::fs::write(dir.join("slack-url"), format!("{}/slack/T000/B000/XXXX\n", receiver.url)).unwrap();
    format!(
        r#"public-url = "http://countersign.test"
reminder-every = "{every}"

[[repositories]]
name = "acme/app"
forge = "github"
webhook-secret = {{ env = "TEST_GITHUB_SECRET" }}
git-dir = "{}"

[[notify]]
url = "{}/hooks/countersign"
secret = {{ file = "reminder-secret" }}

[[notify]]
url = {{ file = "slack-url" }}
format = "slack"
"#,
        dir.join("mirror.git").display(),
        receiver.url,
    )
}

/// X-05 on the server: 25 hours after an emergency its documentation is overdue and its
/// review is due within a day. The server lists them (page and API) and sends each reminder
/// once to each target: signed JSON (HMAC-SHA256 over the body) and a Slack message. Each
/// sent reminder is a log entry; a restarted server sweeps again and sends nothing twice.
#[test]
fn x05_the_server_lists_obligations_and_reminds_once_before_and_after_their_deadline() {
    let (dir, database) = sqlite_setup();
    let receiver = FakeForge::start_with(|_| Canned {
        head: "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n".into(),
        body: b"ok".to_vec(),
    });
    let (_work, emergency, at) = repository_with_emergency(dir.path(), "");
    std::fs::write(dir.path().join("server.toml"), reminder_config(&receiver, dir.path(), "1h")).unwrap();
    let now = (at + jiff::SignedDuration::from_hours(25)).to_string();
    let server = Server::start(dir.path(), &database, &["--now", &now]);

    // Two obligations to remind of (documented: overdue; review: due soon), two targets.
    let sent = receiver.wait_for(4);
    let json: Vec<&ForgeRequest> = sent.iter().filter(|r| r.path == "/hooks/countersign").collect();
    let slack: Vec<&ForgeRequest> = sent.iter().filter(|r| r.path.starts_with("/slack/")).collect();
    assert_eq!((json.len(), slack.len()), (2, 2), "{sent:#?}");
    for r in &json {
        let signature = r.header("x-countersign-signature-256").expect("a JSON reminder is signed");
        assert_eq!(signature, format!("sha256={}", hmac_hex(REMINDER_SECRET, &r.raw)));
        assert_ne!(signature, format!("sha256={}", hmac_hex("another secret", &r.raw)));
        assert_eq!(r.body["repository"], "acme/app");
        assert_eq!(r.body["change"], emergency.as_str());
        assert_eq!(r.header("x-countersign-event"), r.body["type"].as_str());
    }
    let by_obligation = |id: &str| json.iter().find(|r| r.body["obligation"] == id).unwrap().body.clone();
    assert_eq!(by_obligation("documented")["type"], "obligation.overdue");
    assert_eq!(by_obligation("review")["type"], "obligation.due-soon");
    assert_eq!(
        by_obligation("review")["due"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(),
        at + jiff::SignedDuration::from_hours(48)
    );
    let texts: Vec<&str> = slack.iter().map(|r| r.body["text"].as_str().unwrap()).collect();
    assert!(texts.iter().any(|t| t.contains("Overdue") && t.contains("*documented*")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("Due soon") && t.contains("*review*")), "{texts:?}");
    assert!(slack.iter().all(|r| r.header("x-countersign-signature-256").is_none()), "no secret, no signature");

    // The API and the page list all three, most urgent first.
    let token = create_token(dir.path(), &database, "viewer", "vera@example.com");
    let (status, listed) = call("GET", &server.url("/api/v1/obligations"), Some(&token), None);
    assert_eq!(status, 200, "{listed}");
    let states: Vec<(String, String)> = listed["repositories"][0]["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["obligation"].as_str().unwrap().to_owned(), o["state"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("documented", "overdue"), ("review", "due-soon"), ("post-mortem", "pending")];
    assert_eq!(states, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert_eq!(call("GET", &server.url("/api/v1/obligations"), None, None).0, 401);
    create_account(dir.path(), &database, "viewer", "vera@example.com");
    let cookie = sign_in(&server, "vera@example.com", PASSWORD).unwrap_or_else(|r| panic!("{}", r.body));
    let page = page("GET", &server.url("/obligations"), &[("countersign_session", &cookie)], &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    for text in ["Obligations", "overdue", "due soon", "pending", "post-mortem", "1 overdue"] {
        assert!(page.body.contains(text), "{text:?} missing from the page: {}", page.body);
    }
    server.stop();

    // A restart sweeps again at once: everything was sent, so nothing goes twice.
    let server = Server::start(dir.path(), &database, &["--now", &now]);
    wait_for_sweep(&server);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.requests().len(), 4, "no reminder is sent twice");
    server.stop();

    // Each sent reminder is in the log, and the log verifies.
    assert_eq!(logged_reminders(dir.path(), &database), 4);
}

/// How many `reminder` entries the (verified) log holds.
fn logged_reminders(dir: &Path, database: &str) -> usize {
    logged(dir, database, "reminder").len()
}

/// The entries of one evidence kind in the (verified) log: (entry, predicate).
fn logged(dir: &Path, database: &str, kind: &str) -> Vec<(u64, serde_json::Value)> {
    let predicate_type = format!("/evidence/{kind}/");
    (0..verified_size(dir, database))
        .filter_map(|i| {
            let out = common::countersign(dir)
                .args(["log", "show", "--entry", &i.to_string(), "--database", database, "--key-file", "log.key"])
                .output()
                .unwrap();
            let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let found = shown["statement"]["predicateType"].as_str().unwrap_or_default();
            found.contains(&predicate_type).then(|| (i, shown["statement"]["predicate"].clone()))
        })
        .collect()
}

/// X-05 across replicas: two servers on one PostgreSQL, both sweeping every second, send
/// each reminder once to each target, however their sweeps and claims interleave.
#[test]
fn postgres_x05_two_replicas_send_each_reminder_once() {
    let Some(database) = common::postgres_database() else {
        panic!(
            "COUNTERSIGN_TEST_POSTGRES_URL is not set: this test needs PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
    };
    let dir = setup(&database.url);
    let receiver = FakeForge::start_with(|_| Canned {
        head: "HTTP/1.1 204 No Content\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".into(),
        body: Vec::new(),
    });
    let (_work, _emergency, at) = repository_with_emergency(dir.path(), "");
    std::fs::write(dir.path().join("server.toml"), reminder_config(&receiver, dir.path(), "1s")).unwrap();
    let now = (at + jiff::SignedDuration::from_hours(25)).to_string();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(dir.path(), &database.url, &["--now", &now]));
        let b = s.spawn(|| Server::start(dir.path(), &database.url, &["--now", &now]));
        (a.join().unwrap(), b.join().unwrap())
    });
    receiver.wait_for(4);
    // Several more sweeps on either replica: still four.
    let sweeps = |s: &Server| metric_value(s, "countersign_jobs_total{kind=\"sweep\",outcome=\"done\"}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sweeps(&a) + sweeps(&b) < 4 {
        assert!(Instant::now() < deadline, "the replicas did not sweep again");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(receiver.requests().len(), 4, "{:#?}", receiver.requests());
    assert!(a.stop().success());
    assert!(b.stop().success());
    assert_eq!(logged_reminders(dir.path(), &database.url), 4);
}

/// S000-12 on the server: a console change recorded through the API is judged under the
/// served repository's policy and joins the server's change list, with its verdict (here a
/// violation: the policy asks a second person to approve console changes).
#[test]
fn s000_12_a_console_change_recorded_through_the_api_joins_the_change_list() {
    let (dir, database) = sqlite_setup();
    let console = r#"
[console]
providers = ["Cloudflare"]
required-fields = ["who", "when", "provider", "what changed", "why", "how to undo"]

[[categories]]
id = "console"
name = "Console change"
precedence = 50
when = { kind = "console-change" }
require = "peer-review"
"#;
    let (_work, _, at) = repository_with_emergency(dir.path(), console);
    let receiver = FakeForge::start_with(|_| Canned {
        head: "HTTP/1.1 204 No Content\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".into(),
        body: Vec::new(),
    });
    std::fs::write(dir.path().join("server.toml"), reminder_config(&receiver, dir.path(), "1h")).unwrap();
    let now = (at + jiff::SignedDuration::from_hours(1)).to_string();
    let server = Server::start(dir.path(), &database, &["--now", &now]);
    let alice = create_token(dir.path(), &database, "recorder", "alice@example.com");
    let record = serde_json::json!({
        "kind": "console-change",
        "system": "Cloudflare",
        "description": "Raised the rate limit on /api/login",
        "changedBy": "alice@example.com",
        "fields": { "why": "A customer's load test", "how to undo": "Set it back to 100/min" },
    });
    // Without "when", it is refused as `record` refuses it, and nothing is stored.
    let (status, answer) = call("POST", &server.url("/api/v1/evidence"), Some(&alice), Some(&record));
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("lacks \\\"when\\\""), "{answer}");
    let mut record = record;
    record["changedAt"] = now.clone().into();
    let (status, answer) = call("POST", &server.url("/api/v1/evidence"), Some(&alice), Some(&record));
    assert_eq!(status, 201, "{answer}");
    let entry = answer["entry"].as_u64().expect("the entry it became");
    let id = format!("console:{entry}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let (_, listed) = call("GET", &server.url("/api/v1/changes"), Some(&alice), None);
        if listed["changes"].as_array().is_some_and(|c| c.iter().any(|c| c["id"] == id.as_str())) {
            break listed;
        }
        assert!(Instant::now() < deadline, "{id} never joined the change list: {listed}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let row = listed["changes"].as_array().unwrap().iter().find(|c| c["id"] == id.as_str()).unwrap().clone();
    assert_eq!((row["repository"].as_str(), row["category"].as_str()), (Some("acme/app"), Some("console")), "{row}");
    assert_eq!(row["verdict"], "violation", "no second person approved it: {row}");
    let (_, shown) =
        call("GET", &server.url(&format!("/api/v1/changes/{}", id.replace(':', "%3A"))), Some(&alice), None);
    let requirements: Vec<(&str, &str)> = shown["evaluation"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert!(requirements.contains(&("review", "missing")), "{requirements:?}");
    assert!(
        !requirements.iter().any(|(id, status)| id.starts_with("console") && *status == "missing"),
        "every field is there: {requirements:?}"
    );
    server.stop();
}

/// S000-07, S000-10 on GitLab: a merge request names its target branch, not a base commit,
/// so the server judges from where the head leaves the target branch. The verdict is posted
/// as a commit status, and given as the answer to the merge request's external status
/// check that names this server (not to another service's check). When GitLab asks the
/// status check again for the same head, the unchanged verdict is answered again, and no
/// second commit status is posted.
#[test]
fn s000_07_s000_10_a_gitlab_merge_request_is_judged_and_its_status_check_answered() {
    let (dir, database) = sqlite_setup();
    let status = shared_forge_api("gitlab/commits.set-commit-pipeline-status.201.json");
    // GitLab's documented status checks of a merge request; the first is this server's.
    let mut checks = shared_forge_api("gitlab/status_checks.list-for-merge-request.json");
    checks[0]["external_url"] = "http://countersign.test/gitlab/status-check".into();
    let check = checks[0].clone();
    let forge = FakeForge::start_with(move |request| {
        if request.method == "GET" {
            Canned::new(200, "OK", &serde_json::Map::new(), &checks)
        } else if request.path.ends_with("/status_check_responses") {
            // GitLab answers with the status check; its list example has that shape.
            Canned::new(201, "Created", &serde_json::Map::new(), &check)
        } else {
            Canned::new(201, "Created", &serde_json::Map::new(), &status)
        }
    });
    let (work, base, head) = governed_repository(dir.path());
    work.git(&["push", "-q", dir.path().join("origin.git").to_str().unwrap(), "feature:refs/merge-requests/7/head"]);
    serve_gitlab(&forge, dir.path(), "acme/app", "public-url = \"http://countersign.test\"\n");
    let server = Server::start(dir.path(), &database, &[]);
    let merge_request = |path: &str| -> Vec<u8> {
        let mut p: serde_json::Value = serde_json::from_slice(&fixture(path)).unwrap();
        p["project"]["path_with_namespace"] = "acme/app".into();
        p["user"]["username"] = "alice".into();
        p["object_attributes"]["iid"] = 7.into();
        p["object_attributes"]["target_branch"] = "main".into();
        p["object_attributes"]["last_commit"]["id"] = head.clone().into();
        serde_json::to_vec(&p).unwrap()
    };
    let send = |uuid: &str, body: &[u8]| {
        post(
            &server.url("/hooks/gitlab"),
            &[
                ("X-Gitlab-Event", "Merge Request Hook"),
                ("X-Gitlab-Event-UUID", uuid),
                ("X-Gitlab-Token", GITLAB_TOKEN),
            ],
            body,
        )
        .0
    };

    assert_eq!(send("mr-1", &merge_request("gitlab/merge_request/open.docs-example.json")), 200);
    let seen = forge.wait_for(3);
    let project = "/projects/acme%2Fapp";
    assert_eq!((seen[0].method.as_str(), seen[0].path.clone()), ("POST", format!("{project}/statuses/{head}")));
    assert_eq!(seen[0].header("private-token"), Some("glpat-test"));
    assert_eq!(seen[0].body["state"], "failed", "unreviewed, no CI: {:#?}", seen[0].body);
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.clone()),
        ("GET", format!("{project}/merge_requests/7/status_checks"))
    );
    assert_eq!(seen[2].path, format!("{project}/merge_requests/7/status_check_responses"));
    assert_eq!(seen[2].body, serde_json::json!({ "sha": head, "external_status_check_id": 2, "status": "failed" }));
    // The policy was read at the merge base with main: the base commit.
    let viewer = create_token(dir.path(), &database, "viewer", "vera@example.com");
    let (_, shown) = call("GET", &server.url("/api/v1/changes/acme%2Fapp%237"), Some(&viewer), None);
    assert_eq!(shown["evaluation"]["policy"]["commit"], base.as_str(), "{shown:#}");

    // GitLab asks the status check again (the documented request): answered again, and
    // the unchanged commit status is not posted again.
    assert_eq!(send("mr-2", &merge_request("gitlab/external_status_check/merge_request.docs-example.json")), 200);
    let seen = forge.wait_for(5);
    assert_eq!(seen[3].method, "GET");
    assert_eq!(seen[4].body["status"], "failed");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(forge.requests().len(), 5, "{:#?}", forge.requests());
    assert!(server.stop().success());
}

/// S001-06, S003-09: the branch-protection collector reads the forge's settings (GitHub's
/// documented and recorded answers, replayed) and compares them with the policy. Each run is
/// a `collector-run` entry holding the answer's SHA-256 and the findings; drift exits 1.
#[test]
fn s001_06_s003_09_branch_protection_drift_is_found_and_logged() {
    let (dir, database) = sqlite_setup();
    // Which answer the fake GitHub gives: 0 the documented protection, 1 the recorded
    // "Branch not protected", 2 the documented protection set as the policy asks.
    let mode = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let documented = shared_forge_api("github/openapi.branch-protection.json");
    let recorded = shared_forge_api("github/recorded.branch-protection.json");
    let answer_mode = mode.clone();
    let forge = FakeForge::start_with(move |request| {
        if request.path == "/repos/acme/app/rules/branches/main" {
            // No ruleset applies to the branch: GitHub's empty list.
            return Canned::new(200, "OK", &serde_json::Map::new(), &serde_json::json!([]));
        }
        assert_eq!(request.path, "/repos/acme/app/branches/main/protection");
        match answer_mode.load(std::sync::atomic::Ordering::SeqCst) {
            0 => Canned::new(200, "OK", &serde_json::Map::new(), &documented),
            1 => Canned::new(404, "Not Found", recorded[0]["headers"].as_object().unwrap(), &recorded[0]["response"]),
            _ => {
                let mut fixed = documented.clone();
                fixed["required_status_checks"]["contexts"] = serde_json::json!(["unit-tests"]);
                fixed["allow_force_pushes"]["enabled"] = false.into();
                fixed["allow_deletions"]["enabled"] = false.into();
                Canned::new(200, "OK", &serde_json::Map::new(), &fixed)
            }
        }
    });
    let (_work, _, _) = governed_repository(dir.path());
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let collect = || {
        let out = common::countersign(dir.path())
            .env("TEST_GITHUB_SECRET", GITHUB_SECRET)
            .args(["--format", "json", "collect", "branch-protection", "--config", "server.toml", "--branch", "main"])
            .args(["--database", &database, "--key-file", "log.key", "--checkpoint-ref", "none"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        });
        let ids: Vec<String> = json["runs"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        (out.status.code(), ids)
    };

    // GitHub's documented example: CI is not required, force pushes and deletions allowed.
    let (code, ids) = collect();
    assert_eq!(code, Some(1));
    assert_eq!(ids, ["missing-check:unit-tests", "force-pushes", "deletions"]);
    let sent = forge.requests();
    assert_eq!(sent[0].header("authorization"), Some("Bearer test-token"));
    // The recorded answer for an unprotected branch.
    mode.store(1, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(collect(), (Some(1), vec!["not-protected".to_owned()]));
    // Fixed as the policy asks: a clean run.
    mode.store(2, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(collect(), (Some(0), Vec::new()));

    // Three runs, each logged with the SHA-256 of what GitHub answered.
    let size = verified_size(dir.path(), &database);
    assert_eq!(size, 3);
    let out = common::countersign(dir.path())
        .args(["log", "show", "--entry", "0", "--database", &database, "--key-file", "log.key"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let predicate = &shown["statement"]["predicate"];
    assert_eq!(shown["statement"]["predicateType"], "https://countersign.dev/evidence/collector-run/v1");
    let body = serde_json::to_vec(&shared_forge_api("github/openapi.branch-protection.json")).unwrap();
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(predicate["responses"][0]["sha256"], digest.as_str(), "{predicate:#}");
    assert_eq!(predicate["findings"].as_array().unwrap().len(), 3);

    // The period report shows the latest run: fixed.
    let work_dir = _work.path();
    let out = common::countersign(work_dir)
        .args(["--format", "json", "report", "--from", "2000-01-01", "--to", "2100-01-01", "--no-record"])
        .args(["--database", &database, "--key-file", dir.path().join("log.key").to_str().unwrap()])
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let drift = &report["drift"];
    assert_eq!(drift.as_array().unwrap().len(), 1, "{drift:#}");
    assert_eq!((drift[0]["repository"].as_str(), drift[0]["entry"].as_u64()), (Some("acme/app"), Some(2)));
    assert_eq!(drift[0]["findings"], serde_json::json!([]));
}

/// S001-06 on the server: a policy's `[[collectors]]` runs on its cadence from the sweep,
/// once per window (a day here) across restarts and replicas, each run a log entry.
#[test]
fn s001_06_the_server_runs_the_branch_protection_collector_once_a_day() {
    let (dir, database) = sqlite_setup();
    let documented = shared_forge_api("github/openapi.branch-protection.json");
    let forge = FakeForge::start_with(move |request| {
        let body = if request.path.contains("/rules/branches/") { serde_json::json!([]) } else { documented.clone() };
        Canned::new(200, "OK", &serde_json::Map::new(), &body)
    });
    let collectors = "\n[[collectors]]\nname = \"branch-protection\"\ncadence = \"daily\"\ncontrols = [\"A.8.31\"]\n";
    let (_work, _, _) = governed_repository_with(dir.path(), collectors);
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();

    let server = Server::start(dir.path(), &database, &["--now", "2026-06-01T12:00:00Z"]);
    // (Noon, so both starts fall in the same day.) The starter policy protects main and
    // master: the classic protection and the ruleset rules of each.
    let read = forge.wait_for(4);
    let mut paths: Vec<&str> = read.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/repos/acme/app/branches/main/protection",
            "/repos/acme/app/branches/master/protection",
            "/repos/acme/app/rules/branches/main",
            "/repos/acme/app/rules/branches/master"
        ]
    );
    wait_for_sweep(&server);
    assert!(server.stop().success());
    // Started again the same day: the window has run, nothing is read again.
    let server = Server::start(dir.path(), &database, &["--now", "2026-06-01T12:00:00Z"]);
    wait_for_sweep(&server);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(forge.requests().len(), 4, "{:#?}", forge.requests());
    assert!(server.stop().success());
    let runs = logged(dir.path(), &database, "collector-run");
    assert_eq!(runs.iter().filter(|(_, p)| p["recordedBy"] == "countersign-collector").count(), 2);
}

/// S001-06's activity collectors on demand: `collect merge-activity` signs the changes merged
/// into the default branch in the last complete day, each with its verdict; `collect
/// deployments` the deploys of the last complete week. One entry per repository and window:
/// run again, the window is already logged. Snapshots are not drift.
#[test]
fn s001_06_merge_activity_and_deployments_are_signed_snapshots_of_their_window() {
    let (dir, database) = sqlite_setup();
    let (work, head) = deploying_repository(dir.path(), "");
    let key_file = dir.path().join("log.key");
    let (key, db) = (key_file.to_str().unwrap(), database.as_str());
    let wd = work.path();
    let collect = |collector: &str, now: &str| {
        let out = common::countersign(wd)
            .args(["--format", "json", "--now", now, "collect", collector, "--repository", "acme/app"])
            .args(["--database", db, "--key-file", key, "--checkpoint-ref", "none"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["runs"][0].clone()
    };

    // The repository's two changes are on 2026-05-28 (the test clock): the snapshot taken on
    // the 29th holds both, oldest first, with their verdicts.
    let run = collect("merge-activity", "2026-05-29T08:00:00Z");
    assert_eq!((run["window"].as_str(), run["new"].as_bool()), (Some("2026-05-28"), Some(true)), "{run:#}");
    let snapshot = &run["snapshot"];
    assert_eq!(
        (snapshot["from"].as_str(), snapshot["to"].as_str()),
        (Some("2026-05-28T00:00:00Z"), Some("2026-05-29T00:00:00Z"))
    );
    let merges = snapshot["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 2, "{snapshot:#}");
    // The merge commit is the change; the pull request's head is what was reviewed.
    let reviewed = work.git(&["rev-parse", &format!("{head}^2")]);
    assert_eq!(
        (merges[1]["change"].as_str(), merges[1]["headCommit"].as_str()),
        (Some(head.as_str()), Some(reviewed.as_str())),
        "{snapshot:#}"
    );
    assert_eq!(merges[1]["category"], "standard");
    assert_eq!(merges[1]["verdict"], "compliant", "reviewed by Bob, who is not the author");
    assert!(merges[0]["mergedAt"].as_str().unwrap() < merges[1]["mergedAt"].as_str().unwrap());
    // The same window again: not taken twice.
    let again = collect("merge-activity", "2026-05-29T23:00:00Z");
    assert_eq!((again["entry"].clone(), again["new"].as_bool()), (run["entry"].clone(), Some(false)));
    // A day with no merge is a snapshot too: an auditor sees the day was watched.
    let quiet = collect("merge-activity", "2026-05-30T08:00:00Z");
    assert_eq!(
        (quiet["window"].as_str(), quiet["snapshot"]["merges"].as_array().map(Vec::len)),
        (Some("2026-05-29"), None)
    );

    // A deploy, stamped with the real time: the week after it holds it.
    common::countersign(wd)
        .args(["record", "deploy", "--change", &head, "--environment", "production", "--commit", &head])
        .args(["--by", "alice@example.com"])
        .args(["--database", db, "--key-file", key, "--checkpoint-ref", "none"])
        .assert()
        .success();
    let runs = logged(dir.path(), &database, "collector-run");
    assert_eq!(runs.len(), 2, "two merge-activity windows, and the deploy is no collector run");
    let size = verified_size(dir.path(), &database);
    let out = common::countersign(dir.path())
        .args(["log", "show", "--entry", &(size - 1).to_string(), "--database", &database, "--key-file", "log.key"])
        .output()
        .unwrap();
    let deploy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recorded: jiff::Timestamp = deploy["statement"]["predicate"]["recordedAt"].as_str().unwrap().parse().unwrap();
    let next_week = (recorded + jiff::SignedDuration::from_hours(24 * 7)).to_string();
    let run = collect("deployments", &next_week);
    let deploys = run["snapshot"]["deploys"].as_array().unwrap();
    assert_eq!(deploys.len(), 1, "{run:#}");
    assert_eq!(deploys[0]["entry"], size - 1);
    assert_eq!(
        (deploys[0]["environment"].as_str(), deploys[0]["commit"].as_str()),
        (Some("production"), Some(head.as_str()))
    );
    assert!(run["window"].as_str().unwrap().contains("-W"), "weekly by default: {run:#}");

    // Each run is signed into the log with its snapshot, named by the snapshot's digest.
    let runs = logged(dir.path(), &database, "collector-run");
    assert_eq!(runs.len(), 3);
    let (_, predicate) = &runs[2];
    assert_eq!(predicate["collector"], "deployments");
    assert_eq!(predicate["snapshot"], run["snapshot"], "the log holds what was printed");
    // Snapshots judge no forge setting: the report shows no drift for them.
    let out = common::countersign(wd)
        .args(["--format", "json", "report", "--from", "2000-01-01", "--to", "2100-01-01", "--no-record"])
        .args(["--database", db, "--key-file", key])
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["drift"], serde_json::json!([]), "{:#}", report["drift"]);
}

/// S001-06 on the server: the policy's `merge-activity` (daily) and `deployments` (weekly)
/// collectors run from the sweep over their last complete window, once per window across
/// restarts, each a signed snapshot.
#[test]
fn s001_06_the_server_snapshots_merge_activity_and_deployments_on_their_cadence() {
    let (dir, database) = sqlite_setup();
    let forge = FakeForge::start();
    let collectors = "\n[[collectors]]\nname = \"merge-activity\"\ncadence = \"daily\"\ncontrols = [\"A.8.32\"]\n\n[[collectors]]\nname = \"deployments\"\ncadence = \"weekly\"\ncontrols = [\"A.5.8\"]\n";
    let (_work, base, _) = governed_repository_with(dir.path(), collectors);
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    for _ in 0..2 {
        let server = Server::start(dir.path(), &database, &["--now", "2026-05-29T12:00:00Z"]);
        wait_for_sweep(&server);
        assert!(server.stop().success());
    }
    let runs = logged(dir.path(), &database, "collector-run");
    assert_eq!(runs.len(), 2, "one per collector and window, though the server started twice: {runs:#?}");
    let merges = runs.iter().find(|(_, p)| p["collector"] == "merge-activity").expect("merge-activity ran");
    let snapshot = &merges.1["snapshot"];
    assert_eq!(snapshot["from"], "2026-05-28T00:00:00Z");
    assert_eq!(snapshot["merges"].as_array().map(Vec::len), Some(1), "{snapshot:#}");
    assert_eq!(snapshot["merges"][0]["change"], base.as_str());
    assert_eq!(merges.1["recordedBy"], "countersign-collector");
    let deploys = runs.iter().find(|(_, p)| p["collector"] == "deployments").expect("deployments ran");
    assert_eq!(deploys.1["snapshot"]["from"], "2026-05-18T00:00:00Z", "the last complete ISO week");
}

/// Run `countersign collect branch-protection --format json` with the configuration in `dir`:
/// the exit code, the first run's finding ids, and the JSON.
fn collect_protection(dir: &Path, database: &str) -> (Option<i32>, Vec<String>, serde_json::Value) {
    let out = common::countersign(dir)
        .env("TEST_GITHUB_SECRET", GITHUB_SECRET)
        .env("TEST_GITEA_SECRET", GITEA_SECRET)
        .args(["--format", "json", "collect", "branch-protection", "--config", "server.toml", "--branch", "main"])
        .args(["--database", database, "--key-file", "log.key", "--checkpoint-ref", "none"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    let ids = json["runs"][0]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{json:#}"))
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    (out.status.code(), ids, json)
}

/// The predicate of log entry `entry`.
fn logged_predicate(dir: &Path, database: &str, entry: u64) -> serde_json::Value {
    let out = common::countersign(dir)
        .args(["log", "show", "--entry", &entry.to_string(), "--database", database, "--key-file", "log.key"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    shown["statement"]["predicate"].clone()
}

fn sha256_of(value: &serde_json::Value) -> String {
    let body = serde_json::to_vec(value).unwrap();
    <sha2::Sha256 as sha2::Digest>::digest(&body).iter().map(|b| format!("{b:02x}")).collect()
}

/// S001-06, S003-08, S003-09 with GitHub rulesets: classic protection is absent (the recorded
/// 404 "Branch not protected"), but rulesets apply to the branch (GitHub's documented rule
/// items, from rulesets 42 and 73), so the branch is protected by what the rulesets require.
/// The rulesets are read for their bypass actors (the documented ruleset: `Team` 234, "always"),
/// which are drift until the configuration's `bypass-allowed` names them. Every answer read is
/// in the entry, by SHA-256.
#[test]
fn s001_06_s003_08_s003_09_github_rulesets_are_merged_and_their_bypass_actors_judged() {
    let (dir, database) = sqlite_setup();
    let recorded = shared_forge_api("github/recorded.branch-protection.json");
    let rule_items = shared_forge_api("github/openapi.repository-rule-items.json");
    let ruleset = shared_forge_api("github/openapi.repository-ruleset.json");
    // Later, rulesets that require what the policy asks, in GitHub's rule shapes.
    let strict = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let strict_answers = strict.clone();
    let (items, set) = (rule_items.clone(), ruleset.clone());
    let forge = FakeForge::start_with(move |request| {
        let ok = |body: &serde_json::Value| Canned::new(200, "OK", &serde_json::Map::new(), body);
        match request.path.as_str() {
            "/repos/acme/app/branches/main/protection" => {
                Canned::new(404, "Not Found", recorded[0]["headers"].as_object().unwrap(), &recorded[0]["response"])
            }
            "/repos/acme/app/rules/branches/main" => {
                let mut items = items.clone();
                if strict_answers.load(std::sync::atomic::Ordering::SeqCst) {
                    let more = serde_json::json!([
                        { "type": "pull_request", "ruleset_id": 42, "ruleset_source_type": "Repository",
                          "ruleset_source": "monalisa/my-repo",
                          "parameters": { "required_approving_review_count": 1, "dismiss_stale_reviews_on_push": true,
                                          "require_code_owner_review": false, "require_last_push_approval": false,
                                          "required_review_thread_resolution": false } },
                        { "type": "required_status_checks", "ruleset_id": 42, "ruleset_source_type": "Repository",
                          "ruleset_source": "monalisa/my-repo",
                          "parameters": { "required_status_checks": [{ "context": "unit-tests" }],
                                          "strict_required_status_checks_policy": false } },
                        { "type": "non_fast_forward", "ruleset_id": 42, "ruleset_source_type": "Repository",
                          "ruleset_source": "monalisa/my-repo" },
                        { "type": "deletion", "ruleset_id": 42, "ruleset_source_type": "Repository",
                          "ruleset_source": "monalisa/my-repo" }
                    ]);
                    items.as_array_mut().unwrap().extend(more.as_array().unwrap().iter().cloned());
                }
                ok(&items)
            }
            "/repos/acme/app/rulesets/42" => ok(&set),
            "/repos/acme/app/rulesets/73" => {
                // The organization's ruleset the rule items name, shown as GitHub shows one.
                let mut org = set.clone();
                org["id"] = 73.into();
                org["source_type"] = "Organization".into();
                org["source"] = "my-org".into();
                ok(&org)
            }
            other => panic!("unexpected request {other}"),
        }
    });
    let (_work, _, _) = governed_repository(dir.path());
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();

    let (code, ids, _) = collect_protection(dir.path(), &database);
    assert_eq!(code, Some(1));
    assert_eq!(
        ids,
        [
            "missing-check:unit-tests",
            "approvals",
            "force-pushes",
            "deletions",
            "direct-pushes",
            "bypass-actor:Team:234"
        ]
    );
    let paths: Vec<String> = forge.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/repos/acme/app/branches/main/protection",
            "/repos/acme/app/rules/branches/main",
            "/repos/acme/app/rulesets/42",
            "/repos/acme/app/rulesets/73"
        ]
    );
    let predicate = logged_predicate(dir.path(), &database, 0);
    let responses = predicate["responses"].as_array().unwrap();
    let statuses: Vec<u64> = responses.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [404, 200, 200, 200], "{predicate:#}");
    assert_eq!(responses[1]["sha256"], sha256_of(&rule_items).as_str());
    assert_eq!(responses[2]["sha256"], sha256_of(&ruleset).as_str());

    // The rulesets now require what the policy asks, and the configuration names Team 234
    // as the team of the policy's emergency authorizers: no drift, though classic
    // protection is still absent.
    strict.store(true, std::sync::atomic::Ordering::SeqCst);
    let config = verdict_config(&forge, dir.path()) + "bypass-allowed = [\"Team:234\"]\n";
    std::fs::write(dir.path().join("server.toml"), config).unwrap();
    let (code, ids, json) = collect_protection(dir.path(), &database);
    assert_eq!((code, ids), (Some(0), Vec::<String>::new()), "{json:#}");
    let protection = &json["runs"][0]["protection"];
    assert_eq!(protection["protected"], true);
    assert_eq!(protection["required_checks"], serde_json::json!(["unit-tests"]));
    assert_eq!(protection["bypass_actors"][0]["actor_type"], "Team");
    assert_eq!(verified_size(dir.path(), &database), 2);
}

/// S001-06, S003-09 on GitLab and Gitea/Forgejo. GitLab: the documented protected branches
/// (Premium: `main` pushable by Maintainers and by deploy key 1), the documented project
/// approval rule (3 approvals on `main`) and the documented external status check
/// ("Compliance Tool" on `main`) as the required checks. Gitea: a branch protection rule in
/// Gitea's schema (see `tests/data/forge-api/README.md`): pushes limited to `alice` and the
/// team `Owners`, one approval, an admin may override. Each forge's findings, and each run
/// logged with every answer's SHA-256.
#[test]
fn s001_06_s003_09_gitlab_and_gitea_protection_is_read_and_judged() {
    let (dir, database) = sqlite_setup();
    let data = common::workspace_root().join("crates/countersign-cli/tests/data/forge-api");
    let read_data =
        |path: &str| -> serde_json::Value { serde_json::from_slice(&std::fs::read(data.join(path)).unwrap()).unwrap() };
    let protected = shared_forge_api("gitlab/protected_branches.list.premium.json");
    let approval_rules = read_data("gitlab/approval_rules.list.json");
    let status_checks = shared_forge_api("gitlab/status_checks.list-project-services.json");
    let gitea_rules = read_data("gitea/branch_protections.list.json");
    let answers = (protected.clone(), approval_rules.clone(), status_checks.clone(), gitea_rules.clone());
    let forge = FakeForge::start_with(move |request| {
        let body = match request.path.as_str() {
            "/projects/acme%2Fapp/protected_branches?per_page=100" => &answers.0,
            "/projects/acme%2Fapp/approval_rules?per_page=100" => &answers.1,
            "/projects/acme%2Fapp/external_status_checks?per_page=100" => &answers.2,
            "/api/v1/repos/acme/app/branch_protections" => &answers.3,
            other => panic!("unexpected request {other}"),
        };
        Canned::new(200, "OK", &serde_json::Map::new(), body)
    });
    let (_work, _, _) = governed_repository(dir.path());

    serve_gitlab(&forge, dir.path(), "acme/app", "");
    let (code, ids, json) = collect_protection(dir.path(), &database);
    assert_eq!(code, Some(1));
    // CI is no external status check; Maintainers may push without a merge request; deploy
    // key 1 may push too, and no `bypass-allowed` names it.
    assert_eq!(ids, ["missing-check:unit-tests", "direct-pushes", "bypass-actor:DeployKey:1"], "{json:#}");
    let protection = &json["runs"][0]["protection"];
    assert_eq!(protection["required_approvals"], 3);
    assert_eq!(protection["required_checks"], serde_json::json!(["Compliance Tool"]));
    let seen = forge.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.header("private-token") == Some("glpat-test")));
    let predicate = logged_predicate(dir.path(), &database, 0);
    let digests: Vec<&str> =
        predicate["responses"].as_array().unwrap().iter().map(|r| r["sha256"].as_str().unwrap()).collect();
    assert_eq!(digests, [sha256_of(&protected), sha256_of(&approval_rules), sha256_of(&status_checks)]);

    std::fs::write(
        dir.path().join("server.toml"),
        format!(
            "[[repositories]]\nname = \"acme/app\"\nforge = \"gitea\"\nwebhook-secret = {{ env = \"TEST_GITEA_SECRET\" }}\n\
             token = {{ file = \"gitea-token\" }}\napi-url = \"{}/api/v1\"\ngit-dir = \"{}\"\n\
             bypass-allowed = [\"User:alice\"]\n",
            forge.url,
            dir.path().join("mirror.git").display()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("gitea-token"), "gitea-api-token\n").unwrap();
    let (code, ids, json) = collect_protection(dir.path(), &database);
    assert_eq!(code, Some(1));
    // Alice is allowed; the team Owners is not; admins may merge without the approvals.
    assert_eq!(ids, ["missing-check:unit-tests", "admin-bypass", "bypass-actor:Team:Owners"], "{json:#}");
    let seen = forge.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[3].header("authorization"), Some("token gitea-api-token"));
    assert_eq!(logged_predicate(dir.path(), &database, 1)["responses"][0]["sha256"], sha256_of(&gitea_rules).as_str());
    assert_eq!(verified_size(dir.path(), &database), 2);
}

/// S001-06: GitHub's deliveries saying the protection changed (`branch_protection_rule`,
/// `repository_ruleset`, the recorded examples) make the server read the protection again at
/// once, through its job table, whatever the cadence; nothing is recorded as evidence about a
/// change: the log holds the deliveries and the collector runs only.
#[test]
fn s001_06_a_protection_change_delivered_by_github_runs_the_collector_at_once() {
    let (dir, database) = sqlite_setup();
    let documented = shared_forge_api("github/openapi.branch-protection.json");
    let forge = FakeForge::start_with(move |request| {
        let body = if request.path.contains("/rules/branches/") { serde_json::json!([]) } else { documented.clone() };
        Canned::new(200, "OK", &serde_json::Map::new(), &body)
    });
    // No [[collectors]]: only the deliveries make the server read the protection.
    let (_work, _, _) = governed_repository(dir.path());
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &["--now", "2026-06-01T12:00:00Z"]);
    wait_for_sweep(&server);
    assert!(forge.requests().is_empty(), "{:#?}", forge.requests());

    let edited = github_payload("github/branch_protection_rule/edited.payload.json", |_| {});
    assert_eq!(github_post(&server, "branch_protection_rule", "bpr-1", &edited).0, 200);
    // main and master (the starter policy's protected branches): classic and rulesets each.
    let seen = forge.wait_for(4);
    let mut paths: Vec<&str> = seen.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths[0], "/repos/acme/app/branches/main/protection");
    wait_for_metric(&server, "countersign_jobs_total{kind=\"collect\",outcome=\"done\"} 1");

    let created = github_payload("github/repository_ruleset/created.payload.json", |_| {});
    assert_eq!(github_post(&server, "repository_ruleset", "rs-1", &created).0, 200);
    forge.wait_for(8);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"collect\",outcome=\"done\"} 2");
    assert!(server.stop().success());

    // Two deliveries and four collector runs (two per delivery), nothing else.
    let size = verified_size(dir.path(), &database);
    assert_eq!(size, 6);
    let kinds: Vec<String> = (0..size)
        .map(|i| {
            let out = common::countersign(dir.path())
                .args(["log", "show", "--entry", &i.to_string(), "--database", &database, "--key-file", "log.key"])
                .output()
                .unwrap();
            let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let kind = shown["statement"]["predicateType"].as_str().unwrap().to_owned();
            kind.rsplit('/').nth(1).unwrap().to_owned()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "collector-run").count(), 4, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "webhook-delivery").count(), 2, "{kinds:?}");
}

/// S000-18 through the API: an exception requested by one person is approved by a second
/// operator of the policy, never by its requester, by someone the policy does not know, or
/// twice; the approval is the token's person's own.
#[test]
fn s000_18_a_second_operator_approves_an_exception_through_the_api() {
    let (dir, database) = sqlite_setup();
    let forge = FakeForge::start();
    let people = "\n[people.alice]\nname = \"Alice\"\nemails = \"alice@example.com\"\n\
                  \n[people.bob]\nname = \"Bob\"\nemails = \"bob@example.com\"\n";
    let (_work, _, _) = governed_repository_with(dir.path(), people);
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &["--now", "2026-06-01T12:00:00Z"]);
    let alice = create_token(dir.path(), &database, "approver", "alice@example.com");
    let bob = create_token(dir.path(), &database, "approver", "bob@example.com");
    let mallory = create_token(dir.path(), &database, "approver", "mallory@example.com");
    let request = serde_json::json!({
        "kind": "exception", "rule": "review", "justification": "Bob is on leave for a week", "reviewBy": "2026-06-30",
    });
    let (status, answer) = call("POST", &server.url("/api/v1/evidence"), Some(&alice), Some(&request));
    assert_eq!(status, 201, "{answer}");
    let entry = answer["entry"].as_u64().unwrap();
    let approve =
        |token: &str| call("POST", &server.url(&format!("/api/v1/exceptions/{entry}/approve")), Some(token), None);

    let (status, answer) = approve(&alice);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("cannot also approve it"), "{answer}");
    let (status, answer) = approve(&mallory);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("not a person of the policy"), "{answer}");
    let (status, answer) = approve(&bob);
    assert_eq!(status, 201, "{answer}");
    assert_eq!((answer["exception"].as_u64(), answer["approvedBy"].as_str()), (Some(entry), Some("bob@example.com")));
    let (status, answer) = approve(&bob);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("already approved"), "{answer}");
    let (status, _) = call("POST", &server.url("/api/v1/exceptions/999/approve"), Some(&bob), None);
    assert_eq!(status, 403);
    assert!(server.stop().success());
    // Two entries: the request and one approval, in a log that verifies.
    assert_eq!(verified_size(dir.path(), &database), 2);
}

// --- DORA's metrics, the dashboard --------------------------------------------------------

/// What the DORA tests add to [`EMERGENCY_POLICY`]: two mapped controls, production, and
/// S003-10's threshold.
const DORA_POLICY: &str = r#"
[[policy.controls]]
framework = "SOC 2"
id = "CC8.1"
description = "Changes are authorized and reviewed"
requirements = ["review"]

[[policy.controls]]
framework = "ISO 27001"
id = "A.8.32"
description = "Emergency changes are documented afterwards"
requirements = ["obligation"]

[deploy]
environments = ["production"]

[metrics]
incidents-caused-by-change-max = "3%"
"#;

/// The time the DORA tests' servers run at.
const DORA_NOW: &str = "2026-06-10T12:00:00Z";

/// A served history for DORA (commits at the end of May 2026, see `common::Repo`): the
/// first commit (#1), the policy's merge (#2) and an authorized emergency (#3). Recorded in
/// the server's store: production deploys of #2 on 29 May and of #3 on 2 June, a failed
/// deploy on 3 June, an incident #2 caused (1 June, three hours), another that no change
/// caused (5 June), and the emergency's documentation on time, its review late and its
/// post-mortem never. Returns the work repository and the commits, newest first.
fn dora_history(dir: &Path, database: &str, more: &str) -> (common::Repo, Vec<String>) {
    let (work, _, at) = repository_with_emergency(dir, &format!("{DORA_POLICY}{more}"));
    let commits: Vec<String> = work.git(&["rev-list", "--first-parent", "main"]).lines().map(str::to_owned).collect();
    assert_eq!(commits.len(), 3);
    // CI records from a clone of the served repository: its records name `acme/app`.
    work.git(&["remote", "add", "origin", "https://github.com/acme/app.git"]);
    let key = dir.join("log.key");
    let cli = |args: &[&str]| {
        let out = common::countersign(work.path())
            .args(args)
            .args(["--database", database, "--key-file", key.to_str().unwrap(), "--checkpoint-ref", "none"])
            .output()
            .unwrap();
        let code = out.status.code();
        assert!(
            code == Some(0) || (args[0] == "deploy" && code == Some(1)),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for (commit, status, at) in [
        (&commits[1], "success", "2026-05-29T00:00:00Z"),
        (&commits[0], "success", "2026-06-02T00:00:00Z"),
        (&commits[0], "failure", "2026-06-03T00:00:00Z"),
    ] {
        cli(&[
            "deploy",
            "record",
            "--environment",
            "production",
            "--commit",
            commit,
            "--status",
            status,
            "--completed-at",
            at,
            "--by",
            "bob@example.com",
        ]);
    }
    cli(&[
        "record",
        "incident",
        "--caused-by",
        &commits[1],
        "--started",
        "2026-06-01T00:00:00Z",
        "--resolved",
        "2026-06-01T03:00:00Z",
        "--description",
        "checkout errors after the policy's release",
        "--by",
        "bob@example.com",
    ]);
    cli(&[
        "record",
        "incident",
        "--started",
        "2026-06-05T00:00:00Z",
        "--resolved",
        "2026-06-05T01:00:00Z",
        "--description",
        "the hosting provider's outage",
        "--by",
        "bob@example.com",
    ]);
    for (obligation, after) in [("documented", 2), ("review", 72)] {
        let when = (at + jiff::SignedDuration::from_hours(after)).to_string();
        cli(&[
            "record",
            "obligation-fulfilled",
            "--change",
            &commits[0],
            "--obligation",
            obligation,
            "--reference",
            "https://wiki.example.com/INC-1",
            "--at",
            &when,
            "--by",
            "bob@example.com",
        ]);
    }
    (work, commits)
}

/// The value of `name{repository="acme/app"}` in `/metrics`, once the sweep has put it
/// there (`None`: the family is there without a sample for the repository).
fn dora_gauge(text: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{repository=\"acme/app\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

/// S003-10 on the server: every DORA metric is a gauge in `/metrics`, labelled by
/// repository, computed by the sweep from the served history and the log (never on the
/// request path), over the 30 days before now and, for the incident share, this calendar
/// month. Each value is worked out here from the scripted history.
#[test]
fn s003_10_metrics_has_each_dora_metric_as_a_gauge_per_repository() {
    let (dir, database) = sqlite_setup();
    let forge = FakeForge::start();
    let (work, commits) = dora_history(dir.path(), &database, "");
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &["--now", DORA_NOW]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (_, text) = get(&server.url("/metrics"));
        if dora_gauge(&text, "countersign_dora_deployments_per_week").is_some() {
            break text;
        }
        assert!(Instant::now() < deadline, "no DORA gauge in /metrics:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for family in [
        "countersign_dora_deployments_per_week",
        "countersign_dora_lead_time_median_seconds",
        "countersign_dora_change_fail_rate",
        "countersign_dora_recovery_time_median_seconds",
        "countersign_dora_rework_rate",
        "countersign_dora_incident_share",
        "countersign_dora_incident_share_max",
    ] {
        assert!(text.contains(&format!("# TYPE {family} gauge\n")), "{family}:\n{text}");
    }
    let gauge = |name: &str| dora_gauge(&text, name).unwrap_or_else(|| panic!("{name} has no sample:\n{text}"));
    // The window is 30 days before 10 June noon: both successful deploys are in it.
    assert_eq!(gauge("countersign_dora_deployments_per_week"), 2.0 / (30.0 * 86_400.0 / (7.0 * 86_400.0)));
    // Lead times from each change's first commit: #1 and #2 to 29 May, #3 to 2 June.
    let committed = |rev: &str| -> jiff::Timestamp {
        jiff::Timestamp::from_second(work.git(&["show", "-s", "--format=%ct", rev]).parse().unwrap()).unwrap()
    };
    let (may_29, june_2): (jiff::Timestamp, jiff::Timestamp) =
        ("2026-05-29T00:00:00Z".parse().unwrap(), "2026-06-02T00:00:00Z".parse().unwrap());
    let mut leads = [
        may_29.duration_since(committed(&commits[2])).as_secs_f64(),
        may_29.duration_since(committed(&format!("{}^2", commits[1]))).as_secs_f64(),
        june_2.duration_since(committed(&format!("{}^2", commits[0]))).as_secs_f64(),
    ];
    leads.sort_by(f64::total_cmp);
    let lead = gauge("countersign_dora_lead_time_median_seconds");
    assert!((lead - leads[1]).abs() < 1e-6, "{lead} s, expected {} s", leads[1]);
    // Three deploys: one failed, one shipped #2, which caused an incident.
    assert_eq!(gauge("countersign_dora_change_fail_rate"), 2.0 / 3.0);
    // Only incidents a change caused count: three hours.
    assert!((gauge("countersign_dora_recovery_time_median_seconds") - 10_800.0).abs() < 1e-6);
    // One of the two successful deploys shipped the emergency fix.
    assert_eq!(gauge("countersign_dora_rework_rate"), 0.5);
    // June's incidents: one of two caused by a change.
    assert_eq!(gauge("countersign_dora_incident_share"), 0.5);
    assert_eq!(gauge("countersign_dora_incident_share_max"), 0.03);
    assert!(server.stop().success());
}

/// The dashboard (`/dashboard`) in a real browser: DORA's figures and each metric month by
/// month, the controls' pass rates, the emergency's timeline (its obligations on time, late
/// and open) and the drift history, the branch protection read by the server's collector
/// on two days (drift, then fixed). Server-rendered SVG, no script: the marks each chart
/// draws are counted in the HTML and in the browser, and the screenshot is kept under
/// `target/screenshots/`.
#[test]
fn s003_10_s001_06_the_dashboard_draws_the_period_in_a_browser() {
    let (dir, database) = sqlite_setup();
    let collectors = "\n[[collectors]]\nname = \"branch-protection\"\ncadence = \"daily\"\ncontrols = [\"A.8.31\"]\n";
    let (_work, _) = dora_history(dir.path(), &database, collectors);
    let github = common::FakeGitHub::start(common::forge_api_fixture("github/openapi.branch-protection.json"));
    let config = format!(
        "public-url = \"http://countersign.test\"\n\n[[repositories]]\nname = \"acme/app\"\nforge = \"github\"\n\
         webhook-secret = {{ env = \"TEST_GITHUB_SECRET\" }}\ntoken = {{ file = \"github-token\" }}\napi-url = \"{}\"\ngit-dir = \"{}\"\n",
        github.url,
        dir.path().join("mirror.git").display()
    );
    std::fs::write(dir.path().join("server.toml"), config).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let protection_reads = || github.paths.lock().unwrap().iter().filter(|p| p.ends_with("/protection")).count();
    let wait_for_reads = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while protection_reads() < n {
            assert!(Instant::now() < deadline, "the collector read the protection {} times", protection_reads());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // 9 June: GitHub's documented protection (force pushes and deletions allowed): drift.
    let server = Server::start(dir.path(), &database, &["--now", "2026-06-09T12:00:00Z"]);
    wait_for_reads(1);
    wait_for_sweep(&server);
    assert!(server.stop().success());
    // 10 June: set as the policy asks.
    github.answer(common::protection_as_asked(&[]));
    let server = Server::start(dir.path(), &database, &["--now", DORA_NOW]);
    wait_for_reads(2);
    wait_for_sweep(&server);

    let dashboard = "/dashboard?from=2026-05-01&to=2026-06-11";
    assert_eq!(page("GET", &server.url(dashboard), &[], &[]).status, 303, "viewers and above only");
    create_account(dir.path(), &database, "viewer", "vera@example.com");
    let cookie = sign_in(&server, "vera@example.com", PASSWORD).unwrap_or_else(|r| panic!("{}", r.body));
    let shown = page("GET", &server.url(dashboard), &[("countersign_session", &cookie)], &[]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    let html = &shown.body;
    let marks = |class: &str| html.matches(&format!("class=\"mark {class}")).count();
    // May and June: a bar each for deploys and incidents, and for each metric.
    assert_eq!((marks("deploys"), marks("incidents")), (2, 2), "{html}");
    assert_eq!(marks("trend deploys-per-week"), 2);
    // Each month shipped changes (a lead time each); only June had an incident a change
    // caused (a recovery time).
    assert_eq!((marks("trend lead-time"), marks("trend recovery-time")), (2, 1));
    assert_eq!(marks("pass-rate"), 2, "two mapped controls");
    assert_eq!(marks("emergency"), 1);
    let obligations = (marks("obligation on-time"), marks("obligation late"), marks("obligation open"));
    assert_eq!(obligations, (1, 1, 1), "documented on time, review late, post-mortem open");
    assert_eq!((marks("run drift"), marks("run clean")), (1, 1), "drift on 9 June, fixed on 10 June");
    assert!(html.contains("force-pushes") && html.contains("deletions"), "the drift's findings are listed");
    assert!(!html.contains("<script") && !html.contains(" style="), "no script, no inline style (CSP)");
    for page_path in ["/changes", "/obligations", "/log"] {
        let other = page("GET", &server.url(page_path), &[("countersign_session", &cookie)], &[]);
        assert!(other.body.contains("href=\"/dashboard\""), "{page_path} links the dashboard");
    }
    let bad = page("GET", &server.url("/dashboard?from=May"), &[("countersign_session", &cookie)], &[]);
    assert_eq!(bad.status, 400, "{}", bad.body);

    let mut browser = browser::Browser::start();
    browser.goto(&server.url(dashboard));
    assert!(browser.path().starts_with("/login?next="), "{}", browser.path());
    browser.fill("input[name=person]", "vera@example.com");
    browser.fill("input[name=password]", PASSWORD);
    browser.click_and_wait("button[type=submit]");
    assert_eq!(browser.path(), dashboard);
    let text = browser.text();
    for expected in
        ["Dashboard", "acme/app", "deploys a week", "Control pass rates", "Emergencies and their obligations"]
    {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    assert_eq!(browser.eval("document.querySelectorAll('svg.chart').length"), 5, "{text}");
    assert_eq!(browser.eval("document.querySelectorAll('svg.chart .mark').length"), 2 + 2 + 11 + 2 + 1 + 3 + 2);
    // Drawn, not collapsed: the timeline has its width on the page.
    let width = browser.eval("Math.round(document.querySelector('svg.timeline').getBoundingClientRect().width)");
    assert!(width.as_u64().is_some_and(|w| w >= 600), "{width}");
    assert_eq!(browser.eval("document.querySelector('nav a[aria-current=page]').textContent"), "Dashboard");
    let (path, (w, h)) = browser.screenshot("10-dashboard");
    assert_eq!(w, browser::WIDTH);
    assert!(h >= 1200, "the dashboard is {h} px high");
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert!(bytes > 30_000, "a {bytes}-byte screenshot is blank");
    drop(browser);
    assert!(server.stop().success());
    eprintln!("screenshot: {}", path.display());
}

/// S003-08 and S003-09 through the server: a commit pushed straight onto a protected branch
/// (a bypass of its protection shows up as exactly that) is judged when the push is
/// delivered, not at the next audit. Under the optional-peer-review policy it is a branch
/// protection override: an emergency change, whose named approval and trailers are missing
/// here. Its verdict is logged (judged at `push`, with the policy as it stood before the
/// push) and posted as a commit status on it. The server fetches the pushed commit from the
/// forge's git. A push to a branch the policy does not protect is not judged.
#[test]
fn s003_08_s003_09_a_direct_push_to_a_protected_branch_is_judged_as_it_lands() {
    let (dir, database) = sqlite_setup();
    let forge = FakeForge::start();
    let work = common::Repo::new();
    let policy =
        std::fs::read_to_string(common::workspace_root().join("examples/policies/optional-peer-review.toml")).unwrap();
    let base = work.commit(
        "Alice <alice@example.com>",
        &[("countersign.toml", &policy), ("src/app.ts", "export {}\n")],
        "ENG-1 start (#1)",
    );
    let origin = publish(dir.path(), &work);
    // Pushed after the server's clone was taken: it must fetch it.
    let bypass = work.commit(
        "Alice <alice@example.com>",
        &[("src/app.ts", "export const fix = 1\n")],
        "ENG-9 fix the payment outage\n\nOverride-Justification: the ruleset blocked the fix\n",
    );
    work.git(&["push", "-q", origin.to_str().unwrap(), "main"]);
    work.git(&["checkout", "-q", "-b", "topic"]);
    let topic = work.commit("Alice <alice@example.com>", &[("notes.md", "x\n")], "notes");
    work.git(&["push", "-q", origin.to_str().unwrap(), "topic"]);
    std::fs::write(dir.path().join("server.toml"), verdict_config(&forge, dir.path())).unwrap();
    std::fs::write(dir.path().join("github-token"), "test-token\n").unwrap();
    let server = Server::start(dir.path(), &database, &["--now", "2026-06-01T12:00:00Z"]);

    let pushed = |branch: &str, before: &str, after: &str| {
        github_payload("github/push/payload.json", |p| {
            p["ref"] = format!("refs/heads/{branch}").into();
            p["before"] = before.into();
            p["after"] = after.into();
            p["deleted"] = false.into();
            p["commits"] = serde_json::json!([{
                "id": after, "message": "pushed", "timestamp": "2026-06-01T11:59:00Z",
                "author": { "name": "Alice", "email": "alice@example.com", "username": "alice" },
                "committer": { "name": "Alice", "email": "alice@example.com", "username": "alice" },
                "added": [], "removed": [], "modified": ["src/app.ts"], "distinct": true,
                "tree_id": after, "url": "https://github.com/acme/app/commit/x"
            }]);
        })
    };
    // The topic branch first: not protected, not judged.
    assert_eq!(github_post(&server, "push", "push-topic", &pushed("topic", &bypass, &topic)).0, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"judge-push\",outcome=\"done\"} 1");
    assert!(forge.requests().is_empty(), "{:#?}", forge.requests());

    assert_eq!(github_post(&server, "push", "push-main", &pushed("main", &base, &bypass)).0, 200);
    let seen = forge.wait_for(1);
    assert_eq!(seen[0].path, format!("/repos/acme/app/statuses/{bypass}"));
    assert_eq!(seen[0].body["context"], "countersign");
    assert_eq!(seen[0].body["state"], "failure", "{:#?}", seen[0].body);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"judge-push\",outcome=\"done\"} 2");
    // Delivered again (the same push, another delivery id): judged again, nothing new.
    assert_eq!(github_post(&server, "push", "push-main-2", &pushed("main", &base, &bypass)).0, 200);
    wait_for_metric(&server, "countersign_jobs_total{kind=\"judge-push\",outcome=\"done\"} 3");
    assert!(server.stop().success());
    assert_eq!(forge.requests().len(), 1, "an unchanged verdict is not posted again");

    let verdicts = logged(dir.path(), &database, "verdict");
    assert_eq!(verdicts.len(), 1, "{verdicts:#?}");
    let (_, verdict) = &verdicts[0];
    assert_eq!(verdict["judgedAt"], "push", "{verdict:#}");
    assert_eq!(verdict["commits"][0], bypass.as_str());
    let expected_policy: String =
        <sha2::Sha256 as sha2::Digest>::digest(policy.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(verdict["policySha256"], expected_policy.as_str());
    let eval = &verdict["evaluation"];
    assert_eq!(eval["change"]["kind"], "direct-push", "{eval:#}");
    assert_eq!(eval["category"]["id"], "override", "{eval:#}");
    assert_eq!(eval["emergency"], true);
    let status =
        |id: &str| eval["requirements"].as_array().unwrap().iter().find(|r| r["id"] == id).map(|r| r["status"].clone());
    assert_eq!(status("trailer:override-justification"), Some("met".into()), "{eval:#}");
    assert_eq!(status("trailer:risk-assessment"), Some("missing".into()), "{eval:#}");
    assert!(
        eval["requirements"].as_array().unwrap().iter().any(|r| r["id"].as_str().unwrap().starts_with("obligation:")),
        "the emergency's obligations start: {eval:#}"
    );
}
