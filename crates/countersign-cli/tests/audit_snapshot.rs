//! The audit's snapshot (issue 8, warm re-audit): an audit of a branch keeps its judgements
//! in `.git/countersign/audit-v1.idx` and `.data`, and the next one judges only the new changes. The
//! report must be byte for byte the report of a fresh judgement (`--no-cache`), and every
//! input the kept judgements rest on must make the next audit judge afresh when it moves.
//!
//! To see which path ran, the tests mark one kept change in the snapshot (its title,
//! rewritten in place to the same length). A report that shows the mark used the snapshot;
//! one that equals the fresh report judged afresh.

mod common;

use std::path::{Path, PathBuf};

use common::{Repo, countersign};

const MARK_FROM: &[u8] = b"Change number 1\"";
const MARK_TO: &[u8] = b"Change NUMBER 1\"";

fn snapshot(repo: &Repo) -> PathBuf {
    repo.path().join(".git/countersign/audit-v1.idx")
}

fn data(repo: &Repo) -> PathBuf {
    repo.path().join(".git/countersign/audit-v1.data")
}

/// A repository of a few direct pushes and two PR merges, audited once (snapshot taken).
fn history() -> Repo {
    let repo = Repo::new();
    repo.commit("Ada <ada@example.com>", &[("README", "one\n")], "Change number 1");
    repo.commit("Ada <ada@example.com>", &[("src/a.rs", "fn a() {}\n")], "Change number 2");
    repo.merge_pr(3, "Bob <bob@example.com>", "Ada <ada@example.com>", &[("src/b.rs", "fn b() {}\n")], "Adds b");
    repo.commit("Bob <bob@example.com>", &[("src/c.rs", "fn c() {}\n")], "Change number 4");
    repo.merge_pr(5, "Ada <ada@example.com>", "Bob <bob@example.com>", &[("docs/x.md", "x\n")], "Docs");
    repo
}

fn audit(repo: &Repo, extra: &[&str]) -> (Option<i32>, Vec<u8>) {
    let policy = if extra.contains(&"--policy") { &[][..] } else { &["--policy", "bundled"][..] };
    let out = countersign(repo.path())
        .args(["audit", "--format", "json"])
        .args(policy)
        .args(extra)
        .output()
        .expect("run countersign");
    assert!(matches!(out.status.code(), Some(0 | 1)), "audit failed: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), out.stdout)
}

/// Rewrite the kept JSON of "Change number 1" to "Change NUMBER 1" (same length, so the
/// snapshot's framing still holds).
fn mark(path: &Path) {
    let mut bytes = std::fs::read(path).expect("the audit kept a snapshot");
    let at = bytes.windows(MARK_FROM.len()).rposition(|w| w == MARK_FROM).expect("change 1 is kept");
    bytes[at..at + MARK_TO.len()].copy_from_slice(MARK_TO);
    std::fs::write(path, bytes).expect("write snapshot");
}

fn marked(report: &[u8]) -> bool {
    report.windows(MARK_TO.len()).any(|w| w == MARK_TO)
}

/// Audit with the snapshot, then afresh: same exit code; the reports equal once the mark is
/// undone. Returns whether the snapshot was used.
fn warm_equals_fresh(repo: &Repo, extra: &[&str]) -> bool {
    let (code, warm) = audit(repo, extra);
    let used = marked(&warm);
    let mut fresh_args = extra.to_vec();
    fresh_args.push("--no-cache");
    let (fresh_code, fresh) = audit(repo, &fresh_args);
    let unmarked = String::from_utf8_lossy(&warm).replace("Change NUMBER 1\"", "Change number 1\"");
    assert_eq!(code, fresh_code, "the same exit code");
    assert_eq!(unmarked, String::from_utf8_lossy(&fresh), "the report is the fresh judgement's, byte for byte");
    used
}

#[test]
fn x03_a_re_audit_judges_only_new_changes_and_prints_what_a_fresh_audit_prints() {
    let repo = history();
    for (store, pr) in [(&["--no-store"][..], 7), (&[][..], 8)] {
        if store.is_empty() {
            countersign(repo.path()).args(["init", "--origin", "example.test/log"]).assert().success();
        }
        audit(&repo, store);
        mark(&data(&repo));
        repo.commit("Ada <ada@example.com>", &[("src/d.rs", "fn d() {}\n")], "A new change");
        assert!(warm_equals_fresh(&repo, store), "one new commit: the kept judgements are used ({store:?})");
        repo.merge_pr(pr, "Bob <bob@example.com>", "Ada <ada@example.com>", &[("src/e.rs", "e\n")], "E");
        assert!(warm_equals_fresh(&repo, store), "a new merge: still used");
        assert!(warm_equals_fresh(&repo, store), "no new change at all: still used");
        assert!(warm_equals_fresh(&repo, &[store, &["--only-problems"]].concat()), "--only-problems reads it");
        // A sample may leave the marked change out: the report must still be the fresh one.
        warm_equals_fresh(&repo, &[store, &["--sample", "2", "--seed", "3"]].concat());
    }
}

#[test]
fn x03_what_the_kept_judgements_rest_on_moving_makes_the_audit_judge_afresh() {
    let repo = history();
    countersign(repo.path()).args(["init", "--origin", "example.test/log"]).assert().success();
    let path = data(&repo);
    // Each step moves one input, with the snapshot marked just before; a fresh judgement
    // replaces the mark.
    let step = |what: &str, extra: &[&str], change: &dyn Fn()| {
        audit(&repo, &[]);
        mark(&path);
        change();
        assert!(!warm_equals_fresh(&repo, extra), "{what}: judged afresh");
    };
    let first = repo.git(&["rev-list", "--max-parents=0", "HEAD"]);
    step("evidence about the marked change logged", &[], &|| {
        countersign(repo.path())
            .args(["record", "check", "--change", &first, "--name", "ci", "--status", "success"])
            .args(["--by", "bob@example.com", "--policy", "bundled"])
            .assert()
            .success();
    });
    step("another policy", &["--policy", "bundled:two-person-saas"], &|| {});
    step("the clock set back", &["--now", "2026-01-01T00:00:00Z"], &|| {});
    step("a .mailmap", &[], &|| {
        repo.commit("Ada <ada@example.com>", &[(".mailmap", "Ada L <ada@example.com>\n")], "Mailmap");
    });
    step("the branch rewritten", &[], &|| {
        repo.git(&["reset", "-q", "--hard", "HEAD~2"]);
        repo.commit("Bob <bob@example.com>", &[("src/z.rs", "z\n")], "Rewritten");
    });
    step("another branch", &["--branch", "side"], &|| {
        repo.git(&["branch", "-q", "side", "HEAD~1"]);
    });
    // The same inputs once more: used again.
    audit(&repo, &[]);
    mark(&path);
    assert!(warm_equals_fresh(&repo, &[]), "nothing moved: used");
}

#[test]
fn x05_an_emergency_with_open_obligations_is_never_kept() {
    let repo = history();
    let policy = ["--policy", "bundled:healthcare-cab"];
    let (_, _) = audit(&repo, &policy);
    assert!(snapshot(&repo).exists(), "a history without deadlines is kept");
    repo.commit(
        "Ada <ada@example.com>",
        &[("src/fix.rs", "fix\n")],
        "Hotfix\n\nChange-Type: emergency\nEmergency-Approved-By: Bob <bob@example.com>",
    );
    let (_, first) = audit(&repo, &policy);
    assert!(!snapshot(&repo).exists(), "judgements that a later clock could change are not kept");
    assert!(!data(&repo).exists());
    let (_, again) = audit(&repo, &policy);
    assert_eq!(first, again);
}

#[test]
fn x03_a_damaged_snapshot_counts_as_absent() {
    let repo = history();
    let (_, fresh) = audit(&repo, &["--no-cache", "--no-store"]);
    type Damage<'a> = (&'a str, &'a dyn Fn(&mut Vec<u8>));
    let damages: [Damage; 6] = [
        ("truncated", &|b| b.truncate(b.len() - 3)),
        ("another magic", &|b| b[0] ^= 1),
        ("cut short", &|b| b.truncate(20)),
        ("empty", &|b| b.clear()),
        ("a byte of the generation", &|b| b[9] ^= 1),
        ("the last byte", &|b| {
            let len = b.len();
            b[len - 1] = b'x'
        }),
    ];
    for file in [snapshot(&repo), data(&repo)] {
        for (what, damage) in &damages {
            audit(&repo, &["--no-store"]);
            let mut bytes = std::fs::read(&file).expect("snapshot");
            damage(&mut bytes);
            std::fs::write(&file, bytes).expect("write");
            let (_, report) = audit(&repo, &["--no-store"]);
            assert_eq!(
                String::from_utf8_lossy(&report),
                String::from_utf8_lossy(&fresh),
                "{} {what}: judged afresh",
                file.display()
            );
        }
    }
}

#[test]
fn x03_re_audits_append_to_the_data_file_and_a_fresh_judgement_replaces_it() {
    let repo = history();
    audit(&repo, &["--no-store"]);
    let first = std::fs::metadata(data(&repo)).expect("data").len();
    repo.commit("Ada <ada@example.com>", &[("src/d.rs", "d\n")], "Another change");
    audit(&repo, &["--no-store"]);
    let second = std::fs::read(data(&repo)).expect("data");
    assert!(second.len() as u64 > first, "the new change's JSON is appended");
    assert!(String::from_utf8_lossy(&second[first as usize..]).contains("Another change"));
    assert!(!String::from_utf8_lossy(&second[first as usize..]).contains("Change number 1"), "only the new one");
    // A fresh judgement (another policy) writes a new data file with a new generation.
    audit(&repo, &["--no-store", "--policy", "bundled:two-person-saas"]);
    let third = std::fs::read(data(&repo)).expect("data");
    assert_ne!(third[8..24], second[8..24], "a new generation");
    assert!(!warm_equals_fresh(&repo, &["--no-store", "--policy", "bundled:two-person-saas"]), "judged afresh");
    mark(&data(&repo));
    assert!(warm_equals_fresh(&repo, &["--no-store", "--policy", "bundled:two-person-saas"]), "then used");
}

/// The log growing by what judging never reads (here the verdicts `audit --record` logs)
/// leaves the kept judgements standing; evidence about a change logged since has that one
/// change judged again, and only that one.
#[test]
fn x04_evidence_logged_since_is_judged_for_the_changes_it_names() {
    let repo = history();
    countersign(repo.path()).args(["init", "--origin", "example.test/log"]).assert().success();
    let record_check = |change: &str| {
        countersign(repo.path())
            .args(["record", "check", "--change", change, "--name", "ci", "--status", "success"])
            .args(["--by", "bob@example.com", "--policy", "bundled"])
            .assert()
            .success();
    };
    record_check(&repo.git(&["rev-parse", "HEAD"]));
    audit(&repo, &[]);
    let out = countersign(repo.path()).args(["audit", "--record", "--policy", "bundled"]).output().expect("run");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded"), "verdicts were logged");
    mark(&data(&repo));
    assert!(warm_equals_fresh(&repo, &[]), "verdicts logged since: the kept judgements are used");
    // A check about another change: that change is judged again, the marked one is kept.
    let (_, before) = audit(&repo, &[]);
    record_check(&repo.git(&["rev-parse", "HEAD~1"]));
    assert!(warm_equals_fresh(&repo, &[]), "a check about another change: the marked one is still kept");
    let (_, after) = audit(&repo, &["--no-cache"]);
    assert_ne!(before, after, "the check changed that change's judgement");
    // A check about the marked change: it is judged again (the mark is gone), with a new
    // commit beside it.
    repo.commit("Ada <ada@example.com>", &[("src/n.rs", "n\n")], "Newer");
    record_check(&repo.git(&["rev-list", "--max-parents=0", "HEAD"]));
    assert!(!warm_equals_fresh(&repo, &[]), "the change the check names is judged again");
    mark(&data(&repo));
    assert!(warm_equals_fresh(&repo, &[]), "and kept again afterwards");
}

/// An emergency declared since about a kept change: its follow-up may be among the changes
/// not judged again, so the whole history is judged afresh (and, with its obligations
/// open, nothing is kept).
#[test]
fn x05_an_emergency_declared_since_about_a_kept_change_judges_afresh() {
    let repo = history();
    let policy = ["--policy", "bundled:healthcare-cab"];
    countersign(repo.path()).args(["init", "--origin", "example.test/log"]).assert().success();
    countersign(repo.path())
        .args(["record", "check", "--change", &repo.git(&["rev-parse", "HEAD"]), "--name", "ci"])
        .args(["--status", "success", "--by", "bob@example.com"])
        .args(policy)
        .assert()
        .success();
    audit(&repo, &policy);
    mark(&data(&repo));
    let declared = countersign(repo.path())
        .args(["record", "emergency", "--change", &repo.git(&["rev-parse", "HEAD~1"])])
        .args(["--declared-by", "marcus.webb@eonpro.io", "--reason", "outage", "--by", "marcus.webb@eonpro.io"])
        .args(policy)
        .output()
        .expect("run");
    assert!(declared.status.success(), "{}", String::from_utf8_lossy(&declared.stderr));
    assert!(!warm_equals_fresh(&repo, &policy), "judged afresh");
    assert!(!snapshot(&repo).exists(), "an emergency with open obligations is not kept");
}

/// A cache that cannot be written (here the facts cache's path is taken by a directory)
/// never fails the audit: the report is the fresh judgement's, and a warning says what was
/// not written and what to check.
#[test]
fn x03_a_cache_that_cannot_be_written_is_a_warning_not_a_failure() {
    let repo = history();
    let blocked = repo.path().join(".git/countersign/facts-v1.bin");
    std::fs::create_dir_all(blocked.join("in-the-way")).expect("block the cache's path");
    let out = countersign(repo.path())
        .args(["audit", "--format", "json", "--policy", "bundled", "--no-store"])
        .output()
        .expect("run countersign");
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: the cache for the next audit could not be written")
            && stderr.contains("facts-v1.bin"),
        "{stderr}"
    );
    let (_, fresh) = audit(&repo, &["--no-store", "--no-cache"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&fresh));
}

/// Every audit closes its store: SQLite's write-ahead log is folded into the database and
/// removed by the process that wrote it, not left for the next one to recover (a store only
/// dropped at exit left it behind whenever the process ended before its connections).
#[test]
fn x03_an_audit_leaves_no_write_ahead_log_behind() {
    let repo = history();
    countersign(repo.path()).args(["init", "--origin", "example.test/log"]).assert().success();
    let db = repo.path().join(".git/countersign/countersign.db");
    let wal = db.with_extension("db-wal");
    for round in 0..5 {
        repo.commit("Ada <ada@example.com>", &[("src/w.rs", &format!("{round}\n"))], &format!("Round {round}"));
        for extra in [&[][..], &["--no-cache"][..]] {
            audit(&repo, extra);
            assert!(db.exists(), "the audit registered its changes in {}", db.display());
            assert!(!wal.exists(), "round {round} {extra:?}: {} was left behind", wal.display());
        }
    }
}
