//! `pr_change` and `read_blob_at` over real repositories.

mod common;

use common::TestRepo;
use countersign_engine::change::{ApprovalKind, ChangeKind, PathStatus};
use countersign_git::{GitError, Repository};

#[test]
fn s000_03_pull_request_change_covers_base_to_head() {
    let r = TestRepo::new();
    r.commit(&[("README.md", "r\n"), ("src/old.rs", "o\n")], "Initial");
    r.git(&["checkout", "-q", "-b", "pr"]);
    r.commit_as(
        &[("src/new.rs", "n\n")],
        "Add new\n\nWhy: because.\n\nCo-authored-by: Pat Pair <pat@example.com>",
        &[("GIT_AUTHOR_NAME", "Pr Author"), ("GIT_AUTHOR_EMAIL", "pr@example.com")],
    );
    r.git(&["rm", "-q", "src/old.rs"]);
    r.commit(&[], "Remove old\n\nReviewed-by: Rita Reviewer <rita@example.com>\nTryBot-Result: +1");
    // main moves on: its change must not show up in the PR's diff.
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("other.txt", "o\n")], "Unrelated on main");

    let repo = Repository::open(r.path()).expect("open");
    let change = repo.pr_change("main", "pr").expect("pr change");
    assert_eq!(change.kind, Some(ChangeKind::PullRequest));
    let subjects: Vec<_> = change.commits.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, vec!["Add new", "Remove old"]);
    assert_eq!(change.title, "Add new");
    assert_eq!(change.body, "Why: because.");
    assert_eq!(change.author.as_ref().and_then(|a| a.email.as_deref()), Some("pr@example.com"));
    let paths: Vec<_> = change.changed_paths.iter().map(|p| (p.path.as_str(), p.status)).collect();
    assert_eq!(paths, vec![("src/new.rs", PathStatus::Added), ("src/old.rs", PathStatus::Deleted)]);
    assert_eq!(change.approvals.len(), 1);
    assert_eq!(change.approvals[0].kind, ApprovalKind::Review);
    assert_eq!(change.checks.len(), 1);
    assert_eq!(change.co_authors.len(), 1);
    assert_eq!(change.head_commit.as_deref(), Some(repo.resolve("pr").expect("resolve").as_str()));
}

#[test]
fn read_blob_at_reads_files_from_a_revision() {
    let r = TestRepo::new();
    r.commit(&[(".github/CODEOWNERS", "* @team\n")], "owners");
    r.commit(&[(".github/CODEOWNERS", "* @other\n")], "owners 2");
    let repo = Repository::open(r.path()).expect("open");
    assert_eq!(repo.read_blob_at("HEAD~1", ".github/CODEOWNERS").expect("read"), Some(b"* @team\n".to_vec()));
    assert_eq!(repo.read_blob_at("main", ".github/CODEOWNERS").expect("read"), Some(b"* @other\n".to_vec()));
    assert_eq!(repo.read_blob_at("main", "nope.txt").expect("read"), None);
    assert_eq!(repo.read_blob_at("main", ".github").expect("read"), None, "a directory is not a blob");
    let err = repo.read_blob_at("no-such-branch", "x").expect_err("bad rev");
    assert!(matches!(err, GitError::Revision { .. }), "{err:?}");
}

#[test]
fn unborn_head_is_an_error_not_a_panic() {
    let r = TestRepo::new();
    let repo = Repository::open(r.path()).expect("open");
    let err = repo.changes(&Default::default(), &|_| {}).expect_err("unborn");
    assert!(matches!(err, GitError::UnbornHead { .. }), "{err:?}");
}
