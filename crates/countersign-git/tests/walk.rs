//! The first-parent walk over real repositories built with the `git` CLI.

mod common;

use common::TestRepo;
use countersign_engine::change::{ApprovalKind, Change, ChangeKind, CheckStatus, PathStatus};
use countersign_git::{CacheState, GitError, ReadOptions, Repository, Walk, WalkOptions};

fn walk(repo: &TestRepo, opts: &WalkOptions) -> Result<Walk, GitError> {
    Repository::open(repo.path())?.changes(opts, &|_| {})
}

fn no_cache() -> WalkOptions {
    WalkOptions { use_cache: false, ..WalkOptions::default() }
}

/// A history with every way a change can land on main.
fn mixed_history() -> TestRepo {
    let r = TestRepo::new();
    r.commit(&[("README.md", "hello\n"), ("CODEOWNERS", "/src/auth/ @security\n")], "Initial commit");

    // A GitHub PR merge with two branch commits.
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.commit_as(
        &[("src/lib.rs", "fn a() {}\n")],
        "Add a\n\nCo-authored-by: Bea Pair <bea@example.com>\nSigned-off-by: Dev One <dev1@example.com>",
        &[("GIT_AUTHOR_NAME", "Dev One"), ("GIT_AUTHOR_EMAIL", "dev1@example.com")],
    );
    r.commit_as(
        &[("src/lib.rs", "fn a() {}\nfn b() {}\n")],
        "Add b",
        &[("GIT_AUTHOR_NAME", "Dev One"), ("GIT_AUTHOR_EMAIL", "dev1@example.com")],
    );
    r.git(&["checkout", "-q", "main"]);
    r.merge("feature", "Merge pull request #12 from org/branch\n\nAdd a and b");

    // A squash merge with Reviewed-by and a passing TryBot.
    r.commit(
        &[("src/thing.rs", "fixed\n")],
        "Fix thing (#34)\n\nIt was broken.\n\nReviewed-by: Rita Reviewer <rita@example.com>\nTryBot-Result: +1",
    );

    // A bors merge.
    r.git(&["checkout", "-q", "-b", "x"]);
    r.commit(&[("src/x.rs", "x\n")], "Do x");
    r.git(&["checkout", "-q", "main"]);
    r.merge("x", "Auto merge of #56 - x, r=alice");

    // A Gerrit-style commit.
    r.commit(
        &[("src/gerrit.rs", "g\n")],
        "gopls: fix a bug\n\nDetails.\n\nChange-Id: I0123456789abcdef0123456789abcdef01234567\nReviewed-on: https://go-review.googlesource.com/c/tools/+/612345\nReviewed-by: Alan Reviewer <alan@example.com>\nAcked-by: Owner Person <owner@example.com>\nLUCI-TryBot-Result: -1",
    );

    // A GitLab merge request.
    r.git(&["checkout", "-q", "-b", "feat"]);
    r.commit(&[("docs/feat.md", "feat\n")], "Document feat");
    r.git(&["checkout", "-q", "main"]);
    r.merge("feat", "Merge branch 'feat' into 'main'\n\nDocument feat\n\nSee merge request g/p!7");

    // A direct push that deletes a file.
    r.advance_rm("src/thing.rs");
    r.commit(&[("README.md", "hello world\n")], "Hotfix readme");
    r
}

trait RmExt {
    fn advance_rm(&self, path: &str);
}
impl RmExt for TestRepo {
    fn advance_rm(&self, path: &str) {
        self.git(&["rm", "-q", path]);
    }
}

/// A compact, id-free view of a change for snapshots.
fn summary(c: &Change) -> serde_json::Value {
    serde_json::json!({
        "kind": c.kind,
        "pr": c.pr_number,
        "title": c.title,
        "author": c.author.as_ref().and_then(|a| a.email.clone()),
        "merged_by": c.merged_by.as_ref().and_then(|a| a.email.clone()),
        "commits": c.commits.iter().map(|x| x.subject.clone()).collect::<Vec<_>>(),
        "paths": c.changed_paths.iter().map(|p| format!("{:?} {}", p.status, p.path)).collect::<Vec<_>>(),
        "approvals": c.approvals.iter().map(|a| format!("{:?} {} ({})", a.kind,
            a.by.email.clone().or(a.by.login.clone()).unwrap_or_default(),
            a.source.split(" in ").next().unwrap_or_default())).collect::<Vec<_>>(),
        "checks": c.checks.iter().map(|k| format!("{} {:?}", k.name, k.status)).collect::<Vec<_>>(),
        "co_authors": c.co_authors.iter().map(|a| a.email.clone()).collect::<Vec<_>>(),
        "trailers": c.trailers.iter().map(|t| t.key.clone()).collect::<Vec<_>>(),
        "signed": c.commits.iter().any(|x| x.signed),
    })
}

#[test]
fn s000_03_every_first_parent_commit_is_a_change_with_its_evidence() {
    let r = mixed_history();
    let w = walk(&r, &no_cache()).expect("walk");
    assert_eq!(w.branch.as_deref(), Some("main"));
    assert_eq!(w.stats.first_parent_commits, 7);
    assert!(w.empty_reason.is_none());
    let all: Vec<_> = w.changes.iter().map(summary).collect();
    insta::assert_json_snapshot!("mixed_history", all);
}

#[test]
fn s000_05_direct_pushes_and_merges_are_told_apart() {
    let r = mixed_history();
    let w = walk(&r, &no_cache()).expect("walk");
    let kinds: Vec<_> = w.changes.iter().map(|c| (c.title.as_str(), c.kind, c.pr_number)).collect();
    assert_eq!(
        kinds,
        vec![
            ("Hotfix readme", Some(ChangeKind::DirectPush), None),
            ("Merge branch 'feat' into 'main'", Some(ChangeKind::Merge), Some(7)),
            ("gopls: fix a bug", Some(ChangeKind::Merge), Some(612345)),
            ("Auto merge of #56 - x, r=alice", Some(ChangeKind::Merge), Some(56)),
            ("Fix thing (#34)", Some(ChangeKind::Merge), Some(34)),
            ("Merge pull request #12 from org/branch", Some(ChangeKind::Merge), Some(12)),
            ("Initial commit", Some(ChangeKind::DirectPush), None),
        ]
    );
}

#[test]
fn merge_brings_in_branch_commits_with_their_trailers() {
    let r = mixed_history();
    let w = walk(&r, &no_cache()).expect("walk");
    let pr = w.changes.iter().find(|c| c.pr_number == Some(12)).expect("PR 12");
    assert_eq!(pr.commits.len(), 2);
    assert_eq!(pr.commits[0].subject, "Add a");
    assert_eq!(pr.commits[1].subject, "Add b");
    let co = pr.trailers.iter().find(|t| t.key == "Co-authored-by").expect("trailer");
    assert_eq!(co.commit, pr.commits[0].id, "the trailer records the commit that carried it");
    assert_eq!(pr.author.as_ref().and_then(|a| a.email.as_deref()), Some("dev1@example.com"));
    assert_eq!(pr.merged_by.as_ref().and_then(|a| a.email.as_deref()), Some("cy@example.com"));
    assert_eq!(pr.changed_paths.len(), 1);
    assert_eq!(pr.changed_paths[0].path, "src/lib.rs");
    assert_eq!(pr.changed_paths[0].status, PathStatus::Added);

    let bors = w.changes.iter().find(|c| c.pr_number == Some(56)).expect("bors");
    assert_eq!(bors.approvals.len(), 1);
    assert_eq!(bors.approvals[0].by.login.as_deref(), Some("alice"));
    assert_eq!(bors.approvals[0].kind, ApprovalKind::Review);
    assert!(bors.approvals[0].source.starts_with("bors r= in "));

    let gerrit = w.changes.iter().find(|c| c.pr_number == Some(612345)).expect("gerrit");
    let kinds: Vec<_> = gerrit.approvals.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, vec![ApprovalKind::Review, ApprovalKind::Ack]);
    assert_eq!(gerrit.approvals[0].source, format!("Reviewed-by trailer in {}", &gerrit.id[..8]));
    assert_eq!(gerrit.checks[0].status, CheckStatus::Failure);

    let squash = w.changes.iter().find(|c| c.pr_number == Some(34)).expect("squash");
    assert_eq!(squash.checks[0].status, CheckStatus::Success);
    assert_eq!(squash.body, "It was broken.");
}

#[test]
fn root_commit_is_diffed_against_the_empty_tree() {
    let r = mixed_history();
    let w = walk(&r, &no_cache()).expect("walk");
    let root = w.changes.last().expect("root");
    let paths: Vec<_> = root.changed_paths.iter().map(|p| (p.path.as_str(), p.status)).collect();
    assert_eq!(paths, vec![("CODEOWNERS", PathStatus::Added), ("README.md", PathStatus::Added)]);
}

#[test]
fn renames_are_a_deletion_plus_an_addition() {
    let r = TestRepo::new();
    r.commit(&[("old/name.txt", "same content\n")], "one");
    std::fs::create_dir_all(r.path().join("new")).expect("mkdir");
    r.git(&["mv", "old/name.txt", "new/name.txt"]);
    r.commit(&[], "rename");
    let w = walk(&r, &no_cache()).expect("walk");
    let paths: Vec<_> = w.changes[0].changed_paths.iter().map(|p| (p.path.as_str(), p.status)).collect();
    assert_eq!(paths, vec![("new/name.txt", PathStatus::Added), ("old/name.txt", PathStatus::Deleted)]);
}

#[test]
fn signed_commit_header_is_detected() {
    let r = TestRepo::new();
    let first = r.commit(&[("a.txt", "a\n")], "unsigned");
    let tree = r.git(&["rev-parse", "HEAD^{tree}"]);
    let object = format!(
        "tree {}\nparent {first}\nauthor Ann Author <ann@example.com> 1700009000 +0000\ncommitter Cy Committer <cy@example.com> 1700009000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned change\n",
        tree.trim()
    );
    let id = r.git_stdin(&["hash-object", "-t", "commit", "-w", "--stdin"], object.as_bytes());
    r.git(&["update-ref", "refs/heads/main", id.trim()]);
    let w = walk(&r, &no_cache()).expect("walk");
    assert_eq!(w.changes[0].title, "signed change");
    assert!(w.changes[0].commits[0].signed);
    assert!(!w.changes[1].commits[0].signed);
}

#[test]
fn mailmap_is_applied_to_authors_and_trailers() {
    let r = TestRepo::new();
    r.commit(
        &[(".mailmap", "Ann Proper <ann.proper@example.com> <ann@example.com>\nRita Real <rita.real@example.com> <rita@old.example.com>\n")],
        "Add mailmap\n\nReviewed-by: Rita Old <rita@old.example.com>",
    );
    let w = walk(&r, &no_cache()).expect("walk");
    let c = &w.changes[0];
    let author = c.author.as_ref().expect("author");
    assert_eq!(author.name.as_deref(), Some("Ann Proper"));
    assert_eq!(author.email.as_deref(), Some("ann.proper@example.com"));
    assert_eq!(c.approvals[0].by.email.as_deref(), Some("rita.real@example.com"));
    assert_eq!(c.approvals[0].by.name.as_deref(), Some("Rita Real"));
}

#[test]
fn non_utf8_paths_and_latin1_messages_do_not_panic() {
    let r = TestRepo::new();
    r.commit(&[("a.txt", "a\n")], "first");
    // A file name with the byte 0xff, written through the OS, not through Rust strings.
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xff.txt");
    std::fs::write(r.path().join(name), "x\n").expect("write");
    r.git(&["add", "-A"]);
    // A Latin-1 message with the encoding header git writes for i18n.commitEncoding.
    std::fs::write(r.path().join("msg"), b"Caf\xe9 au lait\n\nR\xe9sum\xe9 \xff\n").expect("write msg");
    r.git(&["-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", "msg"]);
    let w = walk(&r, &no_cache()).expect("walk");
    let c = &w.changes[0];
    assert_eq!(c.title, "Café au lait");
    assert_eq!(c.body, "Résumé ÿ");
    let paths: Vec<_> = c.changed_paths.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, vec!["caf\\xff.txt"]);

    // Without an encoding header, invalid bytes are escaped.
    let parent = r.head();
    let tree = r.git(&["rev-parse", "HEAD^{tree}"]);
    let mut object = format!(
        "tree {}\nparent {parent}\nauthor A <a@x> 1700090000 +0000\ncommitter A <a@x> 1700090000 +0000\n\n",
        tree.trim()
    )
    .into_bytes();
    object.extend_from_slice(b"Bad \xff byte\n");
    let id = r.git_stdin(&["hash-object", "-t", "commit", "-w", "--stdin"], &object);
    r.git(&["update-ref", "refs/heads/main", id.trim()]);
    let w = walk(&r, &no_cache()).expect("walk");
    assert_eq!(w.changes[0].title, "Bad \\xff byte");
}

#[test]
fn shallow_clone_is_explained_not_truncated() {
    let r = mixed_history();
    let clone = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", r.path().display());
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "2", &url])
        .arg(clone.path().join("c"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("clone");
    assert!(status.success());
    let repo = Repository::open(clone.path().join("c")).expect("open");
    assert!(repo.is_shallow());
    let err = repo.changes(&no_cache(), &|_| {}).expect_err("must not silently truncate");
    assert!(matches!(err, GitError::Shallow { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("this is a shallow clone"), "{text}");
    assert!(text.contains("git fetch --unshallow"), "{text}");

    // A window that stays inside the fetched history works.
    let since = jiff::Timestamp::from_second(r.now() as i64).expect("ts");
    let w = repo
        .changes(&WalkOptions { since: Some(since), use_cache: false, ..WalkOptions::default() }, &|_| {})
        .expect("window inside the shallow history");
    assert_eq!(w.changes.len(), 1);
}

#[test]
fn empty_range_is_an_empty_walk_with_a_reason() {
    let r = mixed_history();
    let w = walk(&r, &WalkOptions { range: Some("HEAD..HEAD".into()), use_cache: false, ..WalkOptions::default() })
        .expect("walk");
    assert!(w.is_empty());
    assert_eq!(w.empty_reason.as_deref(), Some("the range HEAD..HEAD contains no first-parent commits"));
}

#[test]
fn range_lists_first_parent_commits_after_the_base() {
    let r = mixed_history();
    let w = walk(&r, &WalkOptions { range: Some("HEAD~2..HEAD".into()), use_cache: false, ..WalkOptions::default() })
        .expect("walk");
    let titles: Vec<_> = w.changes.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, vec!["Hotfix readme", "Merge branch 'feat' into 'main'"]);
    let err = walk(&r, &WalkOptions { range: Some("nope..HEAD".into()), ..no_cache() }).expect_err("bad rev");
    assert!(matches!(err, GitError::Revision { .. }), "{err:?}");
}

#[test]
fn date_window_filters_on_committer_time() {
    let r = mixed_history();
    let until = jiff::Timestamp::from_second(common::BASE_TIME as i64 + 3600).expect("ts");
    let w = walk(&r, &WalkOptions { until: Some(until), ..no_cache() }).expect("walk");
    assert_eq!(w.changes.len(), 1);
    assert_eq!(w.changes[0].title, "Initial commit");
    let since = jiff::Timestamp::from_second(r.now() as i64 + 10).expect("ts");
    let w = walk(&r, &WalkOptions { since: Some(since), ..no_cache() }).expect("walk");
    assert!(w.is_empty());
    assert!(w.empty_reason.as_deref().is_some_and(|s| s.contains("date window")), "{:?}", w.empty_reason);
}

#[test]
fn missing_object_is_reported_with_its_id() {
    let r = TestRepo::new();
    r.commit(&[("dir/a.txt", "a\n")], "first");
    r.commit(&[("dir/a.txt", "b\n")], "second");
    let tree = r.git(&["rev-parse", "HEAD:dir"]).trim().to_string();
    let loose = r.git_dir().join("objects").join(&tree[..2]).join(&tree[2..]);
    std::fs::remove_file(&loose).expect("delete loose tree object");
    let err = walk(&r, &no_cache()).expect_err("missing object");
    match &err {
        GitError::MissingObject { id, .. } => assert_eq!(id, &tree),
        other => panic!("expected MissingObject, got {other:?}"),
    }
    assert!(err.to_string().contains(&tree));
}

#[test]
fn not_a_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Repository::open(dir.path()).expect_err("not a repo");
    assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
}

#[test]
fn bare_repository_opens() {
    let r = mixed_history();
    let bare = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(r.path())
        .arg(bare.path().join("b.git"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("clone");
    assert!(status.success());
    let repo = Repository::open(bare.path().join("b.git")).expect("open bare");
    let w = repo.changes(&WalkOptions { branch: Some("main".into()), ..no_cache() }, &|_| {}).expect("walk");
    assert_eq!(w.changes.len(), 7);
}

#[test]
fn cache_reads_only_new_commits() {
    let r = mixed_history();
    let opts = WalkOptions::default();
    let first = walk(&r, &opts).expect("walk");
    assert_eq!(first.stats.cache, CacheState::Missing);
    assert_eq!(first.stats.read, 7);
    let repo = Repository::open(r.path()).expect("open");
    assert!(repo.cache_file().exists());

    let second = walk(&r, &opts).expect("walk");
    assert_eq!(second.stats.cache, CacheState::Loaded);
    assert_eq!((second.stats.read, second.stats.from_cache), (0, 7));
    assert_eq!(
        serde_json::to_value(&first.changes).expect("json"),
        serde_json::to_value(&second.changes).expect("json"),
        "cached facts give the same changes"
    );

    r.commit(&[("new.txt", "n\n")], "One more");
    let third = walk(&r, &opts).expect("walk");
    assert_eq!((third.stats.read, third.stats.from_cache), (1, 7));
    // A small update goes to the journal next to the cache file; a damaged journal only
    // loses its own entries.
    let journal = repo.cache_file().with_file_name("facts-v1.recent.bin");
    assert!(journal.exists());
    std::fs::write(&journal, b"damaged").expect("damage journal");
    let after_damage = walk(&r, &opts).expect("walk");
    assert_eq!((after_damage.stats.cache, after_damage.stats.read), (CacheState::Loaded, 1));

    // --no-cache reads everything and leaves the cache alone.
    let uncached = walk(&r, &no_cache()).expect("walk");
    assert_eq!((uncached.stats.read, uncached.stats.cache), (8, CacheState::Disabled));

    // A corrupt cache is ignored and rebuilt, never fatal.
    std::fs::write(repo.cache_file(), b"garbage").expect("corrupt");
    let rebuilt = walk(&r, &opts).expect("walk");
    assert_eq!((rebuilt.stats.cache, rebuilt.stats.read), (CacheState::Discarded, 8));
    let again = walk(&r, &opts).expect("walk");
    assert_eq!((again.stats.cache, again.stats.read), (CacheState::Loaded, 0));

    // Different added-lines patterns make different facts: the cache is rebuilt.
    let other = walk(
        &r,
        &WalkOptions {
            read: ReadOptions { added_lines_for: vec!["*.md".into()], ..Default::default() },
            ..opts.clone()
        },
    )
    .expect("walk");
    assert_eq!((other.stats.cache, other.stats.read), (CacheState::Discarded, 8));
}

#[test]
fn mailmap_changes_apply_to_cached_facts() {
    let r = TestRepo::new();
    r.commit(&[("a.txt", "a\n")], "first");
    walk(&r, &WalkOptions::default()).expect("walk");
    std::fs::write(r.path().join(".mailmap"), "Ann New <ann.new@example.com> <ann@example.com>\n").expect("mailmap");
    let w = walk(&r, &WalkOptions::default()).expect("walk");
    assert_eq!(w.stats.read, 0);
    assert_eq!(w.changes[0].author.as_ref().and_then(|a| a.email.as_deref()), Some("ann.new@example.com"));
}

#[test]
fn added_lines_only_for_matching_files() {
    let r = TestRepo::new();
    r.commit(&[("db/migrations/0001_init.sql", "CREATE TABLE a (id int);\n"), ("src/a.rs", "x\n")], "init");
    r.commit(
        &[
            ("db/migrations/0001_init.sql", "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY i ON a (id);\n"),
            ("src/a.rs", "y\n"),
        ],
        "index",
    );
    let opts = WalkOptions {
        read: ReadOptions { added_lines_for: vec!["db/migrations/**".into()], ..Default::default() },
        ..no_cache()
    };
    let w = walk(&r, &opts).expect("walk");
    let added = &w.changes[0].added_lines;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].path, "db/migrations/0001_init.sql");
    assert_eq!(added[0].lines, vec!["CREATE INDEX CONCURRENTLY i ON a (id);"]);
    let root = &w.changes[1].added_lines;
    assert_eq!(root[0].lines, vec!["CREATE TABLE a (id int);"]);

    // gitignore-like anchoring: `*.sql` matches at any depth, `dir/` everything below.
    for pattern in ["*.sql", "db/", "/db/migrations/*.sql"] {
        let w = walk(
            &r,
            &WalkOptions {
                read: ReadOptions { added_lines_for: vec![pattern.into()], ..Default::default() },
                ..no_cache()
            },
        )
        .expect("walk");
        assert_eq!(w.changes[0].added_lines.len(), 1, "{pattern}");
    }
    let w = walk(
        &r,
        &WalkOptions {
            read: ReadOptions { added_lines_for: vec!["migrations/*.sql".into()], ..Default::default() },
            ..no_cache()
        },
    )
    .expect("walk");
    assert!(w.changes[0].added_lines.is_empty(), "a pattern with a slash is anchored at the root");

    // A caller's own matcher replaces the globs.
    let matcher: countersign_git::PathMatcher = std::sync::Arc::new(|p: &str| p.ends_with("a.rs"));
    let w = walk(
        &r,
        &WalkOptions {
            read: ReadOptions {
                added_lines_for: vec!["custom".into()],
                added_lines_matcher: Some(matcher),
                ..Default::default()
            },
            ..no_cache()
        },
    )
    .expect("walk");
    assert_eq!(w.changes[0].added_lines[0].path, "src/a.rs");
    assert_eq!(w.changes[0].added_lines[0].lines, vec!["y"]);

    let err = walk(
        &r,
        &WalkOptions { read: ReadOptions { added_lines_for: vec!["a[".into()], ..Default::default() }, ..no_cache() },
    )
    .expect_err("bad glob");
    assert!(matches!(err, GitError::BadPattern { .. }), "{err:?}");
}

#[test]
fn threads_do_not_change_the_result() {
    let r = TestRepo::new();
    for i in 0..150 {
        r.commit(&[(&format!("d{}/f{i}.txt", i % 7), &format!("{i}\n"))], &format!("change {i} (#{i})"));
    }
    let one = walk(&r, &WalkOptions { threads: Some(1), ..no_cache() }).expect("walk");
    let two = walk(&r, &WalkOptions { threads: Some(2), ..no_cache() }).expect("walk");
    assert_eq!(one.changes.len(), 150);
    assert_eq!(serde_json::to_value(&one.changes).expect("json"), serde_json::to_value(&two.changes).expect("json"));
}

/// The tree diff is our own: check it against `git log --name-status` on a history with
/// nested directories, a file replaced by a directory, a symlink and a directory deletion.
#[test]
fn changed_paths_match_git_name_status() {
    let r = TestRepo::new();
    r.commit(&[("a/b/c.txt", "1\n"), ("a/b.txt", "x\n"), ("a.txt", "y\n"), ("z/keep.txt", "k\n")], "one");
    r.commit(&[("a/b/c.txt", "2\n"), ("a/b/d/e.txt", "e\n")], "two");
    r.git(&["rm", "-q", "a.txt"]);
    r.commit(&[("a.txt/inner.txt", "now a dir\n")], "file becomes dir");
    std::os::unix::fs::symlink("z/keep.txt", r.path().join("link")).expect("symlink");
    r.commit(&[], "symlink");
    r.git(&["rm", "-q", "-r", "a/b"]);
    r.commit(&[("a-b.txt", "sorts between\n")], "delete a dir");
    let w = walk(&r, &no_cache()).expect("walk");
    let git = r.git(&["log", "--first-parent", "--name-status", "--no-renames", "--format=@%H"]);
    let mut expected: std::collections::HashMap<String, Vec<(String, PathStatus)>> = Default::default();
    let mut current = String::new();
    for line in git.lines() {
        if let Some(id) = line.strip_prefix('@') {
            current = id.to_string();
            expected.entry(current.clone()).or_default();
        } else if let Some((status, path)) = line.split_once('\t') {
            let status = match status {
                "A" => PathStatus::Added,
                "D" => PathStatus::Deleted,
                _ => PathStatus::Modified,
            };
            expected.entry(current.clone()).or_default().push((path.to_string(), status));
        }
    }
    assert_eq!(w.changes.len(), expected.len());
    for c in &w.changes {
        let mut want = expected[&c.id].clone();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<_> = c.changed_paths.iter().map(|p| (p.path.clone(), p.status)).collect();
        assert_eq!(got, want, "commit {} {}", c.id, c.title);
    }
}

/// A PR branch that merged main into itself brings in its own commits and that sync merge,
/// not the main commits it synced.
#[test]
fn merged_commits_exclude_what_main_already_had() {
    let r = TestRepo::new();
    r.commit(&[("a.txt", "a\n")], "base");
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.commit(&[("f1.txt", "1\n")], "feature one");
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("m1.txt", "m\n")], "main moves on");
    r.git(&["checkout", "-q", "feature"]);
    r.merge("main", "Merge branch 'main' into feature");
    r.commit(&[("f2.txt", "2\n")], "feature two");
    r.git(&["checkout", "-q", "main"]);
    r.merge("feature", "Merge pull request #5 from org/feature");
    let w = walk(&r, &no_cache()).expect("walk");
    let pr = &w.changes[0];
    assert_eq!(pr.pr_number, Some(5));
    let subjects: Vec<_> = pr.commits.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, vec!["feature one", "Merge branch 'main' into feature", "feature two"]);
    let paths: Vec<_> = pr.changed_paths.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, vec!["f1.txt", "f2.txt"]);
}

/// A history that starts with `git commit --allow-empty` (a common first commit): its tree
/// is the empty tree, which git knows without storing it.
#[test]
fn a_first_commit_with_the_empty_tree_is_read() {
    let r = TestRepo::new();
    r.git(&["commit", "-q", "--allow-empty", "-m", "Initial empty commit"]);
    r.commit(&[("README.md", "hello\n")], "Add the readme");
    for opts in [no_cache(), WalkOptions::default()] {
        let w = walk(&r, &opts).expect("the empty tree is a tree");
        assert_eq!(w.changes.len(), 2);
        assert!(w.changes[1].changed_paths.is_empty(), "{:?}", w.changes[1].changed_paths);
        assert_eq!(w.changes[0].changed_paths.len(), 1);
    }
}
