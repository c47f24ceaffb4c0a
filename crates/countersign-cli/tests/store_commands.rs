//! Black-box tests of the evidence-store commands (`init`, `record`, `log`, `evidence`)
//! through the real `countersign` binary, in a temporary directory with a clean
//! environment. Local state lives in `.git/countersign/`, and every record is checked
//! against the repository's `countersign.toml`.

use std::path::Path;

use assert_cmd::Command;

fn countersign(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("countersign").unwrap();
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("USER", "tester")
        .env("COUNTERSIGN_NOW", "2026-06-01T12:00:00Z")
        .env("NO_COLOR", "1");
    cmd
}

/// The starter policy plus the people and environments these tests record evidence about.
fn policy() -> String {
    let starter =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/starter.toml"))
            .unwrap();
    format!(
        "{starter}\n[people.bob]\nname = \"Bob\"\nemails = \"bob@example.com\"\n\n[deploy]\nenvironments = [\"staging\", \"production\"]\n"
    )
}

/// Where `init` puts local state: the git directory, not the working tree.
fn state(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(".git/countersign").join(name)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A repository with one commit, and an initialized store; returns the commit id.
fn setup(dir: &Path) -> String {
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README"), "hi\n").unwrap();
    std::fs::write(dir.join("countersign.toml"), policy()).unwrap();
    git(dir, &["add", "README", "countersign.toml"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    countersign(dir).args(["init", "--origin", "example.com/log"]).assert().success();
    git(dir, &["rev-parse", "HEAD"])
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

#[test]
fn init_creates_a_private_key_and_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    let out = stdout(countersign(dir.path()).args(["init", "--origin", "example.com/log"]));
    assert!(out.contains("public key: example.com/log+"), "{out}");
    assert!(out.contains("key id: "), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(state(dir.path(), "countersign.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(state(dir.path(), "countersign.db").exists());
}

#[test]
fn record_a_commit_from_the_repo_then_repeat_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    let args = [
        "--repo",
        ".",
        "record",
        "approval",
        "--change",
        &commit[..12],
        "--approver",
        "bob@example.com",
        "--idempotency-key",
        "d-1",
    ];
    let first = stdout(countersign(dir.path()).args(args));
    assert!(first.contains("recorded entry 0"), "{first}");
    let again = stdout(countersign(dir.path()).args(args));
    assert!(again.contains("already recorded as entry 0"), "{again}");
    countersign(dir.path()).args(["log", "verify"]).assert().success();
}

#[test]
fn record_from_json_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    let doc = format!(r#"{{"kind": "check", "change": "{commit}", "name": "ci", "status": "success"}}"#);
    countersign(dir.path()).args(["--repo", ".", "record", "--json", "-"]).write_stdin(doc).assert().success();
    let out = stdout(countersign(dir.path()).args(["log", "proof", "--entry", "0"]));
    assert!(out.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n"), "{out}");
    let cp = stdout(countersign(dir.path()).args(["log", "checkpoint"]));
    assert!(cp.starts_with("example.com/log\n1\n"), "{cp}");
}

#[test]
fn bad_input_is_a_clear_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    countersign(dir.path()).args(["record", "--json", "-"]).write_stdin("{not json").assert().code(2);
    countersign(dir.path()).args(["record", "teleport", "--change", "pr#1"]).assert().code(2);
    let out = countersign(dir.path())
        .args(["record", "check", "--change", "pr#404", "--name", "ci", "--status", "success"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown change"));
    let cp = countersign(dir.path()).args(["log", "checkpoint"]).output().unwrap();
    assert!(!cp.status.success(), "nothing was logged, so there is no checkpoint");
}

#[test]
fn a_missing_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    std::fs::remove_file(state(dir.path(), "countersign.key")).unwrap();
    let out = countersign(dir.path())
        .args(["--repo", ".", "record", "check", "--change", &commit, "--name", "ci", "--status", "success"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("countersign.key does not exist"));
}

#[test]
fn x04_s001_05_evidence_export_then_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    countersign(dir.path())
        .args(["--repo", ".", "record", "deploy", "--change", &commit, "--environment", "staging"])
        .assert()
        .success();
    countersign(dir.path())
        .args(["evidence", "export", "--since", "2000-01-01", "--out", "evidence.tar"])
        .assert()
        .success();
    std::fs::remove_file(state(dir.path(), "countersign.db")).unwrap();
    let out = stdout(countersign(dir.path()).args(["evidence", "verify", "evidence.tar"]));
    assert!(out.contains("package verified: 1 entries"), "{out}");
}

#[test]
fn x04_s001_05_log_verify_fails_with_exit_1_on_a_tampered_log() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    record_checks(dir.path(), &commit, 0..3);
    tamper(dir.path(), &["delete", "1"]);
    let out = countersign(dir.path()).args(["log", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("entry 1"));
}

/// `log verify --signatures none` (the default) proves the log by its tree and signed
/// checkpoints; `--signatures all` checks each entry's DSSE signature too. Both say which
/// they did, and both fail a tampered log with exit 1.
#[test]
fn x04_log_verify_says_which_signatures_it_checked() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    record_checks(dir.path(), &commit, 0..3);
    let json = |args: &[&str]| -> serde_json::Value {
        let out = countersign(dir.path()).args(["--format", "json", "log", "verify"]).args(args).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for (args, checked) in
        [(&[][..], "none"), (&["--signatures", "none"][..], "none"), (&["--signatures", "all"][..], "all")]
    {
        let shown = json(args);
        assert_eq!((shown["ok"].as_bool(), shown["entries"].as_u64()), (Some(true), Some(3)), "{shown}");
        assert_eq!(shown["entry_signatures"], checked, "{args:?}");
    }
    let text = stdout(countersign(dir.path()).args(["log", "verify"]));
    assert!(text.contains("entry signatures not checked: --signatures all"), "{text}");
    countersign(dir.path()).args(["log", "verify", "--signatures", "some"]).assert().code(2);
    tamper(dir.path(), &["delete", "1"]);
    for mode in ["none", "all"] {
        let out = countersign(dir.path()).args(["log", "verify", "--signatures", mode]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{mode}");
    }
}

/// Run the insider's tool (`tests/data/tamper_store.py`) on the repository's store.
fn tamper(dir: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tamper_store.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(state(dir, "countersign.db"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "tamper_store.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn record_checks(dir: &Path, commit: &str, names: std::ops::Range<usize>) {
    for i in names {
        countersign(dir)
            .args([
                "--repo",
                ".",
                "record",
                "check",
                "--change",
                commit,
                "--name",
                &format!("ci-{i}"),
                "--status",
                "success",
            ])
            .assert()
            .success();
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn x04_laundering_a_store_without_the_key_is_refused_by_the_next_record() {
    // Step by step, without the key: delete entry 2, renumber the rest, delete every
    // checkpoint, recompute the tree state. Then one honest `record`.
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    record_checks(dir.path(), &commit, 0..6);
    tamper(dir.path(), &["launder", "2", "0"]);
    let out = countersign(dir.path())
        .args([
            "--repo",
            ".",
            "--checkpoint-ref",
            "none",
            "record",
            "check",
            "--change",
            &commit,
            "--name",
            "ci-x",
            "--status",
            "success",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("tampered evidence") && stderr_of(&out).contains("no signed checkpoint"),
        "{}",
        stderr_of(&out)
    );
    // Nothing was signed over it, so every verifier still sees the tampering.
    let verify = countersign(dir.path()).args(["--checkpoint-ref", "none", "log", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("no signed checkpoint"));
    countersign(dir.path())
        .args(["--checkpoint-ref", "none", "evidence", "export", "--since", "2000-01-01", "--out", "e.tar"])
        .assert()
        .code(2);
    assert!(!dir.path().join("e.tar").exists());
}

#[test]
fn x04_laundering_that_keeps_the_early_checkpoints_is_caught_by_the_published_ref() {
    // Keeping the checkpoints from before the deleted entry satisfies the store's own
    // check; the checkpoint published under refs/countersign/checkpoints does not move back.
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    record_checks(dir.path(), &commit, 0..6);
    let published = git(dir.path(), &["cat-file", "blob", "refs/countersign/checkpoints:checkpoint"]);
    assert!(published.starts_with("example.com/log\n6\n"), "{published}");
    assert_eq!(git(dir.path(), &["rev-list", "--count", "refs/countersign/checkpoints"]), "6");
    tamper(dir.path(), &["launder", "4", "4"]);
    let out = countersign(dir.path())
        .args(["--repo", ".", "record", "check", "--change", &commit, "--name", "ci-x", "--status", "success"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("a checkpoint of size 6 was signed"), "{}", stderr_of(&out));
    // The entry after the kept checkpoints is covered by none, and no honest append
    // covered it since; truncating it as well leaves a log smaller than the published one.
    let verify = countersign(dir.path()).args(["log", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("not covered by any signed checkpoint"));
    tamper(dir.path(), &["launder", "4", "4"]);
    let verify = countersign(dir.path()).args(["log", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(text.contains("rolled back") && text.contains("refs/countersign/checkpoints"), "{text}");
}

#[test]
fn x04_a_store_rolled_back_to_a_backup_is_caught_with_a_trusted_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    let none = ["--checkpoint-ref", "none"];
    countersign(dir.path())
        .args(none)
        .args(["--repo", ".", "record", "check", "--change", &commit, "--name", "a", "--status", "success"])
        .assert()
        .success();
    let db = state(dir.path(), "countersign.db");
    std::fs::copy(&db, dir.path().join("backup.db")).unwrap();
    countersign(dir.path())
        .args(none)
        .args(["--repo", ".", "record", "check", "--change", &commit, "--name", "b", "--status", "success"])
        .assert()
        .success();
    let saved = stdout(countersign(dir.path()).args(["log", "checkpoint"]));
    std::fs::write(dir.path().join("saved.checkpoint"), &saved).unwrap();
    // The insider restores the backup: a valid log, one entry shorter.
    std::fs::copy(dir.path().join("backup.db"), &db).unwrap();
    countersign(dir.path()).args(none).args(["log", "verify"]).assert().success();
    let out =
        countersign(dir.path()).args(none).args(["log", "verify", "--trusted", "saved.checkpoint"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rolled back") && text.contains("saved.checkpoint"), "{text}");
    // A directory of saved checkpoints works the same way.
    std::fs::create_dir(dir.path().join("kept")).unwrap();
    std::fs::write(dir.path().join("kept/2.checkpoint"), &saved).unwrap();
    countersign(dir.path()).args(none).args(["log", "verify", "--trusted", "kept"]).assert().code(1);
}

#[test]
fn x04_a_forged_or_hidden_approval_makes_audit_fail_with_exit_2_not_pass() {
    // A forged approval row (no signature, beyond the newest checkpoint), and an honest
    // approval hidden by `change_id = NULL`: both are tampered evidence, never a verdict.
    for (tampering, says) in
        [(&["forge-approval"][..], "not covered by any signed checkpoint"), (&["null-change", "0"][..], "change_id")]
    {
        let dir = tempfile::tempdir().unwrap();
        let commit = setup(dir.path());
        countersign(dir.path())
            .args(["--repo", ".", "record", "approval", "--change", &commit, "--approver", "bob@example.com"])
            .assert()
            .success();
        let before = countersign(dir.path()).args(["audit"]).output().unwrap();
        assert_ne!(before.status.code(), Some(2), "{}", stderr_of(&before));
        tamper(dir.path(), tampering);
        let out = countersign(dir.path()).args(["audit"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{tampering:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("tampered evidence") && stderr_of(&out).contains(says), "{}", stderr_of(&out));
    }
}

#[test]
fn x04_files_that_never_end_or_block_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let commit = setup(dir.path());
    // A key file that is a character device, and one that is a FIFO (opening it would block).
    let out = countersign(dir.path())
        .args([
            "--key-file",
            "/dev/zero",
            "--repo",
            ".",
            "record",
            "check",
            "--change",
            &commit,
            "--name",
            "ci",
            "--status",
            "success",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("not a regular file"), "{}", stderr_of(&out));
    let fifo = dir.path().join("key.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = countersign(dir.path())
        .arg("--key-file")
        .arg(&fifo)
        .args(["--repo", ".", "record", "check", "--change", &commit, "--name", "ci", "--status", "success"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("a FIFO"), "{}", stderr_of(&out));
    // A record and a PR document that never end.
    let out = countersign(dir.path()).args(["record", "--json", "/dev/zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("not a regular file"), "{}", stderr_of(&out));
    let out = countersign(dir.path())
        .args(["check", "--base", "HEAD", "--head", "HEAD", "--pr-json", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("not a regular file"), "{}", stderr_of(&out));
    // An oversized record on standard input is refused, and nothing is stored.
    let huge =
        format!(r#"{{"kind": "check", "change": "{commit}", "name": "{}", "status": "success"}}"#, "x".repeat(300_000));
    let out =
        countersign(dir.path()).args(["--repo", ".", "record", "--json", "-"]).write_stdin(huge).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("larger than the limit"), "{}", stderr_of(&out));
    countersign(dir.path()).args(["log", "checkpoint"]).assert().code(2);
}
