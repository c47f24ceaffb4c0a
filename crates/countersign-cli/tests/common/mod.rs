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
