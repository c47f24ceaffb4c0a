//! What a change's evidence means on real topologies: the commits a merge brings in, the
//! change's author, which commit an approval is bound to, which trailers count as reviews,
//! and the pull-request view. Every history is built with the `git` CLI, and where git can
//! answer the question itself (`git rev-list`), the answer is compared with git's.

mod common;

use common::{BASE_TIME, TestRepo};
use countersign_engine::change::{Approval, ApprovalKind, Change};
use countersign_git::{CacheState, ReadOptions, Repository, Walk, WalkOptions};

fn walk(repo: &TestRepo, opts: &WalkOptions) -> Walk {
    Repository::open(repo.path()).expect("open").changes(opts, &|_| {}).expect("walk")
}

fn no_cache() -> WalkOptions {
    WalkOptions { use_cache: false, ..WalkOptions::default() }
}

fn as_author(name: &str) -> Vec<(&'static str, String)> {
    let email = format!("{}@example.com", name.to_ascii_lowercase());
    vec![
        ("GIT_AUTHOR_NAME", name.to_string()),
        ("GIT_AUTHOR_EMAIL", email.clone()),
        ("GIT_COMMITTER_NAME", name.to_string()),
        ("GIT_COMMITTER_EMAIL", email),
    ]
}

fn env<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn author_email(c: &Change) -> &str {
    c.author.as_ref().and_then(|a| a.email.as_deref()).unwrap_or_default()
}

fn find<'a>(w: &'a Walk, title: &str) -> &'a Change {
    w.changes.iter().find(|c| c.title == title).unwrap_or_else(|| panic!("no change titled {title:?}"))
}

fn approvals_by<'a>(c: &'a Change, email: &str) -> Vec<&'a Approval> {
    c.approvals.iter().filter(|a| a.by.email.as_deref() == Some(email)).collect()
}

/// For every first-parent merge: the commits of the change are exactly `git rev-list P1..M`
/// without M, on a history with a criss-cross merge, a topic that merged main back in, a
/// merge whose committer clock was far behind, and a topic whose commits share one second.
#[test]
fn s000_03_merged_commits_equal_git_rev_list_on_criss_cross_back_merge_and_skew() {
    let r = TestRepo::new();
    r.commit(&[("base.txt", "0\n")], "base");

    // Criss-cross: `a` merges `b`, then `b` merges `a`; main takes `b`, later `a`.
    r.git(&["checkout", "-q", "-b", "b"]);
    r.commit(&[("b1.txt", "1\n")], "b1");
    r.git(&["checkout", "-q", "-b", "a", "main"]);
    r.commit(&[("a1.txt", "1\n")], "a1");
    r.merge("b", "Merge branch 'b' into a");
    r.git(&["checkout", "-q", "b"]);
    r.commit(&[("b2.txt", "2\n")], "b2");
    r.git(&["checkout", "-q", "a"]);
    r.commit(&[("a2.txt", "2\n")], "a2");
    r.git(&["checkout", "-q", "b"]);
    r.merge("a~2", "Merge branch 'a' (at a1) into b");
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("m1.txt", "1\n")], "m1");
    r.merge("b", "Merge branch 'b'");

    // Back-merge: `a` syncs with main, then lands.
    r.git(&["checkout", "-q", "a"]);
    r.merge("main", "Merge branch 'main' into a");
    r.commit(&[("a3.txt", "3\n")], "a3");
    r.git(&["checkout", "-q", "main"]);
    r.merge("a", "Merge branch 'a'");

    // Skewed clock: main merges topic `s` with a committer date older than anything on the
    // topic, then merges one more commit of the same topic. git's own walk still hides
    // everything the first merge brought in; so must ours.
    r.git(&["checkout", "-q", "-b", "s"]);
    r.commit(&[("s0.txt", "0\n")], "s0");
    r.commit(&[("s1.txt", "1\n")], "s1");
    r.git(&["checkout", "-q", "main"]);
    let skewed = format!("{} +0000", BASE_TIME + 60);
    r.merge_env("s", "Merge branch 's' (skewed clock)", &[("GIT_COMMITTER_DATE", &skewed)]);
    r.git(&["checkout", "-q", "s"]);
    r.commit(&[("s2.txt", "2\n")], "s2");
    r.git(&["checkout", "-q", "main"]);
    r.merge("s", "Merge branch 's' again");

    // A topic whose commits all have the same committer time (as `git am` or a rebase
    // writes them), merged after main moved on in the same second.
    r.git(&["checkout", "-q", "-b", "same"]);
    let same = format!("{} +0000", r.now() + 3600);
    for i in 0..4 {
        r.commit_as(&[(&format!("t{i}.txt"), "t\n")], &format!("t{i}"), &[("GIT_COMMITTER_DATE", &same)]);
    }
    r.git(&["checkout", "-q", "main"]);
    r.commit_as(&[("m2.txt", "2\n")], "m2", &[("GIT_COMMITTER_DATE", &same)]);
    r.merge_env("same", "Merge branch 'same'", &[("GIT_COMMITTER_DATE", &same)]);

    let w = walk(&r, &no_cache());
    let mut merges = 0;
    for c in &w.changes {
        let line = r.git(&["rev-list", "--parents", "-n", "1", &c.id]);
        let ids: Vec<&str> = line.split_whitespace().collect();
        if ids.len() < 3 {
            assert_eq!(c.commits.len(), 1, "{}", c.title);
            continue;
        }
        merges += 1;
        let mut want = r.rev_list(&[&format!("{}..{}", ids[1], c.id)]);
        want.retain(|id| id != &c.id);
        let mut got: Vec<String> = c.commits.iter().map(|k| k.id.clone()).collect();
        got.sort();
        assert_eq!(got, want, "commits of {:?}", c.title);
        assert_eq!(c.head_commit.as_deref(), Some(ids[2]), "the reviewed head of {:?} is the merged tip", c.title);
    }
    assert_eq!(merges, 5);
    let again = find(&w, "Merge branch 's' again");
    assert_eq!(again.commits.iter().map(|c| c.subject.as_str()).collect::<Vec<_>>(), vec!["s2"]);
    let a = find(&w, "Merge branch 'a'");
    let mut subjects: Vec<_> = a.commits.iter().map(|c| c.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, vec!["Merge branch 'b' into a", "Merge branch 'main' into a", "a2", "a3"]);
}

/// The author of a merge's change is the topic's author, even when the topic begins by
/// merging someone else's topic (made by a third person): most commits on the topic's own
/// first-parent line, a tie going to whoever started it.
#[test]
fn s000_03_merge_author_is_the_topic_author_not_an_inner_merge() {
    let r = TestRepo::new();
    r.commit(&[("base.txt", "0\n")], "base");
    let (bob, alice, carol, dev, eve, frank) = (
        as_author("Bob"),
        as_author("Alice"),
        as_author("Carol"),
        as_author("Dev"),
        as_author("Eve"),
        as_author("Frank"),
    );

    // Bob's topic, three commits, not yet on main.
    r.git(&["checkout", "-q", "-b", "bob"]);
    for i in 0..3 {
        r.commit_as(&[(&format!("bob{i}.txt"), "b\n")], &format!("bob {i}"), &env(&bob));
    }
    // Alice's topic starts by merging Bob's (Carol makes that merge), then two commits.
    r.git(&["checkout", "-q", "-b", "alice", "main"]);
    r.merge_env("bob", "Merge branch 'bob' into alice", &env(&carol));
    r.commit_as(&[("alice1.txt", "a\n")], "alice 1", &env(&alice));
    r.commit_as(&[("alice2.txt", "a\n")], "alice 2", &env(&alice));
    r.git(&["checkout", "-q", "main"]);
    r.merge("alice", "Merge branch 'alice'");

    // A tie: Dev starts, Eve adds one commit on top.
    r.git(&["checkout", "-q", "-b", "tie"]);
    r.commit_as(&[("tie1.txt", "1\n")], "tie 1", &env(&dev));
    r.commit_as(&[("tie2.txt", "2\n")], "tie 2", &env(&eve));
    r.git(&["checkout", "-q", "main"]);
    r.merge("tie", "Merge branch 'tie'");

    // A majority: Dev once, Eve twice.
    r.git(&["checkout", "-q", "-b", "majority"]);
    r.commit_as(&[("maj1.txt", "1\n")], "majority 1", &env(&dev));
    r.commit_as(&[("maj2.txt", "2\n")], "majority 2", &env(&eve));
    r.commit_as(&[("maj3.txt", "3\n")], "majority 3", &env(&eve));
    r.git(&["checkout", "-q", "main"]);
    r.merge("majority", "Merge branch 'majority'");

    // A topic that is only a merge of Frank's work (made by Carol): no commit of its own on
    // its line, so the commits it brings in decide.
    r.git(&["checkout", "-q", "-b", "frank"]);
    r.commit_as(&[("frank.txt", "f\n")], "frank 1", &env(&frank));
    r.git(&["checkout", "-q", "-b", "wrapper", "main"]);
    r.merge_env("frank", "Merge branch 'frank' into wrapper", &env(&carol));
    r.git(&["checkout", "-q", "main"]);
    r.merge("wrapper", "Merge branch 'wrapper'");

    let w = walk(&r, &no_cache());
    let alice_merge = find(&w, "Merge branch 'alice'");
    assert_eq!(alice_merge.commits.len(), 6, "three of Bob's, Carol's merge, two of Alice's");
    assert_eq!(author_email(alice_merge), "alice@example.com");
    assert_eq!(author_email(find(&w, "Merge branch 'tie'")), "dev@example.com");
    assert_eq!(author_email(find(&w, "Merge branch 'majority'")), "eve@example.com");
    assert_eq!(author_email(find(&w, "Merge branch 'wrapper'")), "frank@example.com");
    // A first-parent commit that is not a merge is its own author's.
    assert_eq!(author_email(find(&w, "base")), "ann@example.com");

    // The pull-request view names the same author as the audit of its merge.
    let repo = Repository::open(r.path()).expect("open");
    let pr = repo.pr_change(&format!("{}^1", alice_merge.id), "alice").expect("pr");
    assert_eq!(author_email(&pr), "alice@example.com");
}

/// A merge's reviewed head is the merged tip. A review trailer on the tip is current; one on
/// an earlier topic commit is current unless a later commit changed a path it touched.
#[test]
fn s000_16_trailer_approvals_are_bound_to_the_merged_tip_unless_stale() {
    let r = TestRepo::new();
    r.commit(&[("a.txt", "a\n"), ("b.txt", "b\n"), ("c.txt", "c\n"), ("d.txt", "d\n")], "base");
    r.git(&["checkout", "-q", "-b", "topic"]);
    let c1 = r.commit(&[("a.txt", "a1\n")], "touch a\n\nReviewed-by: Rita <rita@example.com>");
    r.commit(&[("b.txt", "b1\n")], "touch b\n\nReviewed-by: Sam <sam@example.com>\nAcked-by: Olga <olga@example.com>");
    // c.txt is changed again and changed back: what Vic reviewed is what lands.
    r.commit(&[("c.txt", "c1\n")], "touch c\n\nReviewed-by: Vic <vic@example.com>");
    r.commit(&[("c.txt", "c2\n")], "experiment on c");
    r.commit(&[("c.txt", "c1\n")], "revert the experiment");
    // Wes reviewed deleting d.txt; the topic puts it back: stale.
    r.git(&["rm", "-q", "d.txt"]);
    let wes = r.commit(&[], "drop d\n\nReviewed-by: Wes <wes@example.com>");
    r.commit(&[("d.txt", "d\n")], "restore d");
    let tip = r.commit(&[("a.txt", "a2\n")], "touch a again\n\nReviewed-by: Tom <tom@example.com>");
    r.git(&["checkout", "-q", "main"]);
    let merge = r.merge("topic", "Merge branch 'topic'");

    let w = walk(&r, &no_cache());
    let c = &w.changes[0];
    assert_eq!(c.id, merge);
    assert_eq!(c.head_commit.as_deref(), Some(tip.as_str()));
    let bound = |email: &str| -> Vec<(ApprovalKind, String)> {
        approvals_by(c, email).iter().map(|a| (a.kind, a.commit.clone().unwrap_or_default())).collect()
    };
    assert_eq!(bound("rita@example.com"), vec![(ApprovalKind::Review, c1.clone())], "a.txt changed later: stale");
    assert_eq!(bound("sam@example.com"), vec![(ApprovalKind::Review, tip.clone())]);
    assert_eq!(bound("olga@example.com"), vec![(ApprovalKind::Ack, tip.clone())]);
    assert_eq!(bound("vic@example.com"), vec![(ApprovalKind::Review, tip.clone())], "c.txt is as Vic saw it");
    assert_eq!(bound("wes@example.com"), vec![(ApprovalKind::Review, wes)], "d.txt came back");
    assert_eq!(bound("tom@example.com"), vec![(ApprovalKind::Review, tip.clone())]);

    // A squash or direct commit is its own head.
    r.commit(&[("e.txt", "e\n")], "Squashed (#3)\n\nReviewed-by: Rita <rita@example.com>");
    let w = walk(&r, &no_cache());
    let squash = &w.changes[0];
    assert_eq!(squash.head_commit.as_deref(), Some(squash.id.as_str()));
    assert_eq!(squash.approvals[0].commit.as_deref(), Some(squash.id.as_str()));

    // The cached facts bind the same way.
    let cached = WalkOptions::default();
    let first = walk(&r, &cached);
    let second = walk(&r, &cached);
    assert_eq!(second.stats.read, 0);
    assert_eq!(
        serde_json::to_value(&first.changes).expect("json"),
        serde_json::to_value(&second.changes).expect("json")
    );
    assert_eq!(serde_json::to_value(&w.changes).expect("json"), serde_json::to_value(&second.changes).expect("json"));
}

/// Staleness where the tree's shape changes: a reviewed deletion of a file where the tip
/// has a directory of that name, a reviewed file whose mode changes later, and a reviewed
/// file deep in a directory whose neighbours change later (not stale).
#[test]
fn s000_16_a_review_goes_stale_when_its_path_changes_kind_or_mode_at_the_tip() {
    let r = TestRepo::new();
    r.commit(&[("e", "file\n"), ("g.sh", "echo\n"), ("dir/sub/f.txt", "f\n"), ("dir/other.txt", "o\n")], "base");
    r.git(&["checkout", "-q", "-b", "topic"]);
    r.git(&["rm", "-q", "e"]);
    let xena = r.commit(&[], "drop e\n\nReviewed-by: Xena <xena@example.com>");
    let zoe = r.commit(&[("g.sh", "echo hi\n")], "edit g\n\nReviewed-by: Zoe <zoe@example.com>");
    r.commit(&[("dir/sub/f.txt", "f1\n")], "edit f\n\nReviewed-by: Yan <yan@example.com>");
    r.commit(&[("e/inner.txt", "now a directory\n")], "e becomes a directory");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(r.path().join("g.sh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    r.commit(&[], "make g executable");
    let tip = r.commit(&[("dir/other.txt", "o1\n")], "edit a neighbour of f");
    r.git(&["checkout", "-q", "main"]);
    r.merge("topic", "Merge branch 'topic'");

    let w = walk(&r, &no_cache());
    let c = &w.changes[0];
    assert_eq!(c.head_commit.as_deref(), Some(tip.as_str()));
    let bound_to = |email: &str| approvals_by(c, email)[0].commit.clone().unwrap_or_default();
    assert_eq!(bound_to("xena@example.com"), xena, "e is a directory at the tip");
    assert_eq!(bound_to("zoe@example.com"), zoe, "g.sh's mode changed");
    assert_eq!(bound_to("yan@example.com"), tip, "only f's neighbours changed");
}

/// When main changed a reviewed path and the topic merged main back in, the review no
/// longer describes what lands: stale.
#[test]
fn s000_16_a_back_merge_that_changes_a_reviewed_path_makes_the_review_stale() {
    let r = TestRepo::new();
    r.commit(&[("a.txt", "1\n2\n3\n"), ("b.txt", "b\n")], "base");
    r.git(&["checkout", "-q", "-b", "topic"]);
    let reviewed = r.commit(&[("a.txt", "one\n2\n3\n")], "edit a\n\nReviewed-by: Rita <rita@example.com>");
    r.commit(&[("c.txt", "c\n")], "add c\n\nReviewed-by: Sam <sam@example.com>");
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("a.txt", "1\n2\nthree\n")], "main edits a");
    r.git(&["checkout", "-q", "topic"]);
    let tip = r.merge("main", "Merge branch 'main' into topic");
    r.git(&["checkout", "-q", "main"]);
    r.merge("topic", "Merge branch 'topic'");
    let w = walk(&r, &no_cache());
    let c = &w.changes[0];
    assert_eq!(c.head_commit.as_deref(), Some(tip.as_str()));
    assert_eq!(approvals_by(c, "rita@example.com")[0].commit.as_deref(), Some(reviewed.as_str()));
    assert_eq!(approvals_by(c, "sam@example.com")[0].commit.as_deref(), Some(tip.as_str()));
}

/// `[evidence] review-trailers`: the listed keys (any case) give review approvals;
/// `Acked-by` always gives an acknowledgment, and a review too when listed. Unset: today's
/// `Reviewed-by` and `Approved-by`.
#[test]
fn s000_08_review_trailers_decide_which_trailers_are_reviews() {
    let r = TestRepo::new();
    r.commit(
        &[("a.txt", "a\n")],
        "Change (#1)\n\nAcked-by: Olga Owner <olga@example.com>\nreviewed-by: Rita <rita@example.com>\nLooks-Good-To: Lena <lena@example.com>",
    );
    let kinds = |w: &Walk, email: &str| -> Vec<ApprovalKind> {
        approvals_by(&w.changes[0], email).iter().map(|a| a.kind).collect()
    };

    let w = walk(&r, &no_cache());
    assert_eq!(kinds(&w, "olga@example.com"), vec![ApprovalKind::Ack]);
    assert_eq!(kinds(&w, "rita@example.com"), vec![ApprovalKind::Review]);
    assert!(kinds(&w, "lena@example.com").is_empty());

    let listed = |keys: &[&str]| WalkOptions {
        read: ReadOptions { review_trailers: Some(keys.iter().map(|k| k.to_string()).collect()), ..Default::default() },
        ..no_cache()
    };
    let w = walk(&r, &listed(&["Reviewed-by", "ACKED-BY", "looks-good-to"]));
    assert_eq!(kinds(&w, "olga@example.com"), vec![ApprovalKind::Review, ApprovalKind::Ack]);
    assert_eq!(kinds(&w, "rita@example.com"), vec![ApprovalKind::Review]);
    assert_eq!(kinds(&w, "lena@example.com"), vec![ApprovalKind::Review]);

    let w = walk(&r, &listed(&["Approved-by"]));
    assert_eq!(kinds(&w, "olga@example.com"), vec![ApprovalKind::Ack]);
    assert!(kinds(&w, "rita@example.com").is_empty());

    // The keys shape the facts (which commits get the staleness check), so they are part of
    // the cache key; the policy's default list binds the same keys as no list.
    let cached = |keys: Option<&[&str]>| WalkOptions {
        read: ReadOptions {
            review_trailers: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
        ..WalkOptions::default()
    };
    assert_eq!(walk(&r, &cached(None)).stats.cache, CacheState::Missing);
    let policy_default = walk(&r, &cached(Some(&["Reviewed-by", "Acked-by", "Approved-by"])));
    assert_eq!((policy_default.stats.cache, policy_default.stats.read), (CacheState::Loaded, 0));
    let other = walk(&r, &cached(Some(&["Looks-Good-To"])));
    assert_eq!((other.stats.cache, other.stats.read), (CacheState::Discarded, 1));
}

/// Self-review is recorded as what it is: bors `r=self` is the change's author, and a
/// `Reviewed-by` naming the author stays the author's. The engine decides what counts.
#[test]
fn s000_07_self_review_is_parsed_as_the_author() {
    let r = TestRepo::new();
    r.commit(&[("base.txt", "0\n")], "base");
    r.git(&["checkout", "-q", "-b", "topic"]);
    r.commit(&[("a.txt", "a\n")], "Do a");
    r.git(&["checkout", "-q", "main"]);
    r.merge("topic", "Auto merge of #5 - ann:topic, r=self");
    r.commit(&[("b.txt", "b\n")], "Do b (#6)\n\nReviewed-by: Ann Author <ann@example.com>");

    let w = walk(&r, &no_cache());
    let bors = w.changes.iter().find(|c| c.pr_number == Some(5)).expect("bors");
    assert_eq!(bors.approvals.len(), 1);
    assert_eq!(Some(&bors.approvals[0].by), bors.author.as_ref());
    assert_eq!(bors.approvals[0].by.email.as_deref(), Some("ann@example.com"));
    assert!(bors.approvals[0].source.starts_with("bors r=self in "), "{}", bors.approvals[0].source);
    assert!(bors.approvals.iter().all(|a| a.by.login.as_deref() != Some("self")));

    let squash = w.changes.iter().find(|c| c.pr_number == Some(6)).expect("squash");
    assert_eq!(Some(&squash.approvals[0].by), squash.author.as_ref());
}

/// A cherry-picked Gerrit change has two `Reviewed-on` lines: the last is the change that
/// landed.
#[test]
fn s000_03_gerrit_cherry_pick_is_the_last_reviewed_on() {
    let r = TestRepo::new();
    r.commit(
        &[("a.go", "package a\n")],
        "[release] a: fix\n\nChange-Id: I0123\nReviewed-on: https://go-review.googlesource.com/c/tools/+/579758\nReviewed-by: Tim <tim@example.com>\n(cherry picked from commit 429c9f0c2c0d52afd4862e9734511a94fea841b7)\nReviewed-on: https://go-review.googlesource.com/c/tools/+/581807\n",
    );
    let w = walk(&r, &no_cache());
    assert_eq!(w.changes[0].pr_number, Some(581807));
    assert_eq!(approvals_by(&w.changes[0], "tim@example.com").len(), 1);
}

/// `check --base --head` can read added lines for content flags, with the policy's review
/// trailers; `pr_change` keeps reading none.
#[test]
fn s000_13_pull_request_view_reads_added_lines_of_watched_files() {
    let r = TestRepo::new();
    r.commit(&[("db/migrations/0001_init.sql", "CREATE TABLE a (id int);\n"), ("src/a.rs", "x\n")], "init");
    r.git(&["checkout", "-q", "-b", "pr"]);
    let first = r.commit(
        &[("db/migrations/0002_index.sql", "CREATE INDEX CONCURRENTLY i ON a (id);\n")],
        "Add an index\n\nReviewed-by: Rita <rita@example.com>\nAcked-by: Olga <olga@example.com>",
    );
    let head = r.commit(
        &[
            ("db/migrations/0002_index.sql", "CREATE INDEX CONCURRENTLY i ON a (id);\nALTER TABLE a DROP COLUMN b;\n"),
            ("src/a.rs", "y\n"),
        ],
        "Drop b",
    );
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("db/migrations/0001_init.sql", "CREATE TABLE a (id int);\n-- main\n")], "main moves on");

    let repo = Repository::open(r.path()).expect("open");
    let plain = repo.pr_change("main", "pr").expect("pr");
    assert!(plain.added_lines.is_empty());

    let opts = ReadOptions { added_lines_for: vec!["db/migrations/".into()], ..ReadOptions::default() };
    let change = repo.pr_change_with("main", "pr", &opts).expect("pr");
    assert_eq!(change.added_lines.len(), 1, "main's own edit of 0001 is not the PR's");
    assert_eq!(change.added_lines[0].path, "db/migrations/0002_index.sql");
    assert_eq!(
        change.added_lines[0].lines,
        vec!["CREATE INDEX CONCURRENTLY i ON a (id);", "ALTER TABLE a DROP COLUMN b;"]
    );
    // The later commit changed what Rita reviewed: her approval stays on her commit.
    assert_eq!(change.head_commit.as_deref(), Some(head.as_str()));
    assert_eq!(approvals_by(&change, "rita@example.com")[0].commit.as_deref(), Some(first.as_str()));

    // The caller's matcher replaces the globs; the review trailers are the caller's.
    let matcher: countersign_git::PathMatcher = std::sync::Arc::new(|p: &str| p.ends_with(".rs"));
    let opts = ReadOptions {
        added_lines_matcher: Some(matcher),
        review_trailers: Some(vec!["Reviewed-by".into(), "Acked-by".into()]),
        ..ReadOptions::default()
    };
    let change = repo.pr_change_with("main", "pr", &opts).expect("pr");
    assert_eq!(change.added_lines.len(), 1);
    assert_eq!(
        (change.added_lines[0].path.as_str(), change.added_lines[0].lines.clone()),
        ("src/a.rs", vec!["y".to_string()])
    );
    let olga: Vec<_> = approvals_by(&change, "olga@example.com").iter().map(|a| a.kind).collect();
    assert_eq!(olga, vec![ApprovalKind::Review, ApprovalKind::Ack]);

    let err = repo
        .pr_change_with("main", "pr", &ReadOptions { added_lines_for: vec!["a[".into()], ..ReadOptions::default() })
        .expect_err("bad glob");
    assert!(matches!(err, countersign_git::GitError::BadPattern { .. }), "{err:?}");
}
