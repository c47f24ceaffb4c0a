//! Shared helpers for black-box tests: a real git repository built with the `git` CLI in a
//! temporary directory, and the real `countersign` binary run with a clean environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Repo {
    pub dir: tempfile::TempDir,
    clock: std::cell::Cell<i64>,
}

impl Repo {
    pub fn new() -> Repo {
        let repo = Repo { dir: tempfile::tempdir().expect("tempdir"), clock: std::cell::Cell::new(1_780_000_000) };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn base_command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        cmd
    }

    /// Run git as `who` (`Name <email>`), with a deterministic, advancing clock.
    pub fn git_as(&self, who: &str, args: &[&str]) -> String {
        let (name, email) = split_person(who);
        let t = self.clock.get() + 60;
        self.clock.set(t);
        let date = format!("@{t} +0000");
        let out = self
            .base_command()
            .args(args)
            .env("GIT_AUTHOR_NAME", &name)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_COMMITTER_NAME", &name)
            .env("GIT_COMMITTER_EMAIL", &email)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_as("Robot <robot@example.com>", args)
    }

    pub fn write(&self, path: &str, contents: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, contents).expect("write");
    }

    /// Write files and commit them as `who` with `message`; returns the commit id.
    pub fn commit(&self, who: &str, files: &[(&str, &str)], message: &str) -> String {
        for (p, c) in files {
            self.write(p, c);
        }
        self.git_as(who, &["add", "-A"]);
        self.git_as(who, &["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A PR: branch off, commit, merge back with a GitHub-style merge commit.
    pub fn merge_pr(&self, number: u64, author: &str, merger: &str, files: &[(&str, &str)], body: &str) -> String {
        let branch = format!("pr-{number}");
        self.git(&["checkout", "-q", "-b", &branch]);
        self.commit(author, files, &format!("Work for PR {number}\n\n{body}"));
        self.git(&["checkout", "-q", "main"]);
        let msg = format!("Merge pull request #{number} from example/{branch}\n\n{body}");
        self.git_as(merger, &["merge", "-q", "--no-ff", &branch, "-m", &msg]);
        self.git(&["rev-parse", "HEAD"])
    }
}

fn split_person(who: &str) -> (String, String) {
    match (who.find('<'), who.rfind('>')) {
        (Some(a), Some(b)) => (who[..a].trim().to_string(), who[a + 1..b].to_string()),
        _ => (who.to_string(), format!("{}@example.com", who.to_lowercase())),
    }
}

/// The time every black-box test judges as of. Tests never depend on the wall clock:
/// `.ci/run` runs them again with the clock a year ahead.
pub const NOW: &str = "2026-06-01T12:00:00Z";

thread_local! {
    /// The store every [`countersign`] command of this thread uses (`COUNTERSIGN_DATABASE_URL`):
    /// `None` is the default SQLite file in the repository's git directory. Set by
    /// [`on_postgres`].
    static DATABASE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The backend this thread's commands use: `postgres` inside [`on_postgres`], else `sqlite`.
pub fn backend() -> &'static str {
    if DATABASE.with(|d| d.borrow().is_some()) { "postgres" } else { "sqlite" }
}

/// The real binary with a clean environment, judging as of [`NOW`], on this thread's store.
pub fn countersign(dir: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(countersign_process(dir))
}

/// `tools/oscal/validate`: NIST's published OSCAL 1.1.2 JSON schema checked by Ajv, an
/// independent validator (installed by `.ci/run`). A validator that cannot run fails the
/// test rather than passing it.
pub fn oscal_validate(model: &str, file: &Path) -> Run {
    let r = Run::of(
        assert_cmd::Command::new("bash")
            .arg(workspace_root().join("tools/oscal/validate"))
            .args(["--model", model])
            .arg(file),
    );
    assert_ne!(
        r.code, 2,
        "the OSCAL validator could not run (see tools/oscal/README.md, Install): {}{}",
        r.stdout, r.stderr
    );
    r
}

/// An evidence package checked by both verifiers: `countersign evidence verify` (run in
/// `dir`) and the independent Python verifier.
pub fn verify_package(dir: &Path, package: &Path) -> (Run, Run) {
    let ours = Run::of(countersign(dir).arg("evidence").arg("verify").arg(package));
    let python = Run::of(
        assert_cmd::Command::new("python3")
            .arg(workspace_root().join("tools/verify-log/verify_log.py"))
            .arg("package")
            .arg(package),
    );
    (ours, python)
}

/// [`countersign`] as a plain process, for one that runs on (`countersign serve`).
pub fn countersign_process(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("countersign"));
    cmd.current_dir(dir)
        .env_clear()
        .env("COUNTERSIGN_NOW", NOW)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    if let Some(url) = DATABASE.with(|d| d.borrow().clone()) {
        cmd.env("COUNTERSIGN_DATABASE_URL", url);
    }
    cmd
}

/// Run `body` with every [`countersign`] command of this thread on a fresh PostgreSQL
/// database, which is returned (dropped by the caller) so that the caller can look into it.
/// Panics when `COUNTERSIGN_TEST_POSTGRES_URL` is not set: CI must run these, not skip them.
pub fn on_postgres<T>(body: impl FnOnce() -> T) -> (T, PgDatabase) {
    let Some(database) = postgres_database() else {
        panic!(
            "COUNTERSIGN_TEST_POSTGRES_URL is not set: this test needs PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
    };
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DATABASE.with(|d| *d.borrow_mut() = None);
        }
    }
    DATABASE.with(|d| *d.borrow_mut() = Some(database.url.clone()));
    let _reset = Reset;
    (body(), database)
}

/// How many entries the log in PostgreSQL database `url` holds; `None` when it has no log
/// (the store was never created there).
pub fn postgres_entries(url: &str) -> Option<u64> {
    let out = Command::new("psql").arg(url).args(["-tAc", "select count(*) from log_entries"]).output().unwrap();
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The start of a small policy the black-box tests share: Acme, Alice and Bob, a review by
/// someone other than the author, and a standard category that asks for it. Tests add
/// their own sections with `concat!`.
#[macro_export]
macro_rules! acme_policy {
    () => {
        r#"[policy]
organization = "Acme"
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

[rules.peer-review]
approvals = 1
from = "*"
exclude-author = true

[[categories]]
id = "standard"
name = "Standard"
default = true
require = "peer-review"
"#
    };
}

/// An emergency category (the `Change-Type: emergency` trailer, or `when` as given) whose
/// review Bob, its authorizer, may let it skip; the obligations are the test's own.
#[macro_export]
macro_rules! acme_emergency {
    () => {
        $crate::acme_emergency!(r#"{ trailer = "Change-Type: emergency" }"#)
    };
    ($when:literal) => {
        concat!(
            "\n[[categories]]\nid = \"emergency\"\nname = \"Emergency\"\nprecedence = 100\nwhen = ",
            $when,
            "\n",
            r#"require = "peer-review"
emergency = true

[emergency]
authorizers = ["bob"]
may-skip = ["review"]
authorization-trailer = "Emergency-Authorized-By"
"#
        )
    };
}

/// For each listed test, a `postgres_…` twin that runs the same body on PostgreSQL and
/// checks that its store was there (not in a SQLite file beside the repository).
#[macro_export]
macro_rules! also_on_postgres {
    ($($test:ident => $twin:ident),* $(,)?) => {
        $(
            #[test]
            fn $twin() {
                let ((), database) = common::on_postgres($test);
                assert!(common::postgres_entries(&database.url).is_some(), "the store was not in PostgreSQL");
            }
        )*
    };
}

/// The repository root of this workspace (for the example policies).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// A fresh PostgreSQL database for one test, dropped after it.
pub struct PgDatabase {
    pub url: String,
    base: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.base)
            .args(["-q", "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

/// A new database on `COUNTERSIGN_TEST_POSTGRES_URL`'s server; `None` when it is not set.
pub fn postgres_database() -> Option<PgDatabase> {
    let base = std::env::var("COUNTERSIGN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    // Unique within this process (the counter) and across processes (pid and time).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!(
        "cs_test_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .arg(&base)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(PgDatabase { url: format!("{prefix}/{name}"), base, name })
}

/// What a run of the binary gave: its exit code and both streams.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Run `cmd` (a [`countersign`] command, set up by the caller) to its end.
    pub fn of(cmd: &mut assert_cmd::Command) -> Run {
        let out = cmd.output().expect("run countersign");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A recorded or documented answer of a forge's API, from `../shared/fixtures/forge-api`.
pub fn forge_api_fixture(path: &str) -> serde_json::Value {
    let file = workspace_root().join("../shared/fixtures/forge-api").join(path);
    serde_json::from_slice(&std::fs::read(&file).expect("the shared forge-api fixtures")).unwrap()
}

/// A local stand-in for GitHub's branch-protection API: `GET …/branches/B/protection`
/// answers 200 with the protection it is set to (GitHub's documented example, edited by the
/// test), every other request 404 (no rulesets). It keeps the paths it was asked.
pub struct FakeGitHub {
    pub url: String,
    protection: std::sync::Arc<std::sync::Mutex<serde_json::Value>>,
    pub paths: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeGitHub {
    pub fn start(protection: serde_json::Value) -> FakeGitHub {
        use std::io::{BufRead as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let protection = std::sync::Arc::new(std::sync::Mutex::new(protection));
        let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (answer, seen) = (protection.clone(), paths.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = std::io::BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The headers; a GET has no body.
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).map_or(true, |n| n == 0) || header.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let (status, body) = if path.ends_with("/protection") {
                    ("200 OK", serde_json::to_vec(&*answer.lock().unwrap()).unwrap())
                } else {
                    ("404 Not Found", br#"{"message":"Not Found"}"#.to_vec())
                };
                seen.lock().unwrap().push(path);
                let head = format!(
                    "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        FakeGitHub { url, protection, paths }
    }

    /// Answer with `protection` from now on.
    pub fn answer(&self, protection: serde_json::Value) {
        *self.protection.lock().unwrap() = protection;
    }
}

/// GitHub's documented branch protection set as a policy asks: every gate named in
/// `checks` a required status check, six approving reviews, the code owners' review, no
/// admin bypass, no force pushes or deletions, signed commits, and no one allowed around
/// the pull request.
pub fn protection_as_asked(checks: &[&str]) -> serde_json::Value {
    let mut p = forge_api_fixture("github/openapi.branch-protection.json");
    p["required_status_checks"]["contexts"] = serde_json::json!(checks);
    p["required_status_checks"]["checks"] =
        serde_json::Value::Array(checks.iter().map(|c| serde_json::json!({ "context": c, "app_id": null })).collect());
    let reviews = &mut p["required_pull_request_reviews"];
    reviews["required_approving_review_count"] = 6.into();
    reviews["require_code_owner_reviews"] = true.into();
    if let Some(reviews) = reviews.as_object_mut() {
        reviews.remove("bypass_pull_request_allowances");
    }
    p["enforce_admins"]["enabled"] = true.into();
    p["allow_force_pushes"]["enabled"] = false.into();
    p["allow_deletions"]["enabled"] = false.into();
    p["required_signatures"]["enabled"] = true.into();
    if let Some(p) = p.as_object_mut() {
        p.remove("restrictions");
    }
    p
}

/// Print `html` to PDF in headless Chromium (Debian's package) and render each page with
/// pdftoppm (poppler-utils), keeping `report.pdf` and `page-N.png` in `kept` (emptied
/// first). Panics unless there is at least one page, each A4 or Letter, and none blank (in a
/// grey rendering, pixels darker than light grey: more than 0.5% of the first page, at least
/// 1 in 2,000 of every later one, which may hold only the report's last lines).
/// Returns the pages' PNG files.
pub fn print_to_pdf(html: &Path, kept: &Path) -> Vec<PathBuf> {
    let _ = std::fs::remove_dir_all(kept);
    std::fs::create_dir_all(kept).unwrap();
    let pdf = kept.join("report.pdf");
    let profile = tempfile::tempdir().unwrap();
    let chromium = Command::new("/usr/bin/chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--no-pdf-header-footer"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("install Debian's chromium package (`apt-get install chromium`; .ci/run does)");
    assert!(chromium.status.success(), "{}", String::from_utf8_lossy(&chromium.stderr));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let render = |args: &[&str], prefix: &Path| {
        let out = Command::new("pdftoppm")
            .args(args)
            .arg(&pdf)
            .arg(prefix)
            .output()
            .expect("install poppler-utils for pdftoppm (.ci/run does)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    render(&["-r", "60", "-png"], &kept.join("page"));
    let grey = tempfile::tempdir().unwrap();
    render(&["-r", "30", "-gray"], &grey.path().join("page"));
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(kept)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    pngs.sort();
    assert!(!pngs.is_empty(), "no page was rendered from {}", pdf.display());
    // A4 or Letter at 60 dpi: about 500 by 700 pixels.
    for png in &pngs {
        let data = std::fs::read(png).unwrap();
        let (w, h) = (
            u32::from_be_bytes(data[16..20].try_into().unwrap()),
            u32::from_be_bytes(data[20..24].try_into().unwrap()),
        );
        assert!((450..=560).contains(&w) && (640..=760).contains(&h), "{}: page size {w}x{h}", png.display());
    }
    let mut greys: Vec<PathBuf> =
        std::fs::read_dir(grey.path()).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
    greys.sort();
    assert_eq!(greys.len(), pngs.len(), "{greys:?}");
    // The first page is full (more than 0.5% of its pixels inked); a later page may hold a
    // single line of the report's end, but never nothing (at least 1 pixel in 2,000: a line
    // of text at 30 dpi inks a few hundred).
    for (i, page) in greys.iter().enumerate() {
        let data = std::fs::read(page).unwrap();
        let (width, height, pixels) = pgm(&data);
        let inked = pixels.iter().filter(|&&p| p < 200).count();
        let least = if i == 0 { 200 } else { 2000 };
        assert!(
            inked * least > width * height,
            "{} is blank: {inked} of {} pixels inked",
            page.display(),
            width * height
        );
    }
    pngs
}

/// A binary PGM (`P5`, 8-bit): width, height and the grey pixels.
fn pgm(data: &[u8]) -> (usize, usize, &[u8]) {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while data[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !data[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(std::str::from_utf8(&data[start..at]).unwrap().to_owned());
    }
    assert_eq!((fields[0].as_str(), fields[3].as_str()), ("P5", "255"), "an 8-bit binary PGM");
    let (width, height): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &data[at + 1..];
    assert_eq!(pixels.len(), width * height);
    (width, height, pixels)
}

/// `countersign --format json collect branch-protection --branch main` on the repository in
/// `repo`, served as the GitHub repository `name` whose API is `github` (a configuration
/// and token written beside it, outside the repository): the exit code and the JSON.
pub fn collect_branch_protection(repo: &Path, name: &str, github: &FakeGitHub) -> (i32, serde_json::Value) {
    let config = tempfile::tempdir().unwrap();
    let token = config.path().join("github-token");
    std::fs::write(&token, "test-token\n").unwrap();
    let file = config.path().join("server.toml");
    std::fs::write(
        &file,
        format!(
            "[[repositories]]\nname = \"{name}\"\nforge = \"github\"\nwebhook-secret = {{ env = \"COLLECT_TEST_SECRET\" }}\n\
             token = {{ file = \"{}\" }}\napi-url = \"{}\"\ngit-dir = \"{}\"\n",
            token.display(),
            github.url,
            repo.join(".git").display()
        ),
    )
    .unwrap();
    let r = Run::of(
        countersign(repo)
            .env("COLLECT_TEST_SECRET", "unused")
            .args(["--format", "json", "collect", "branch-protection", "--branch", "main", "--config"])
            .arg(&file),
    );
    let json = serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("collect: {}{}", r.stdout, r.stderr));
    (r.code, json)
}

/// When log entry `entry` of the store `countersign` opens in `dir` was recorded.
pub fn recorded_at(dir: &Path, entry: u64) -> jiff::Timestamp {
    let r = Run::of(countersign(dir).args(["log", "show", "--entry", &entry.to_string()]));
    let shown: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("log show: {}{}", r.stdout, r.stderr));
    shown["statement"]["predicate"]["recordedAt"].as_str().and_then(|t| t.parse().ok()).expect("recordedAt")
}
