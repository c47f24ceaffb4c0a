//! The merge walk (issue 8): what each first-parent merge brings in comes from one shared
//! commit index instead of a fresh object-database walk per merge. These tests pin the
//! result, set and order, to `git rev-list P1..M` on histories built with the `git` CLI:
//! many merges, a merge of a topic forked long before, an octopus merge, a topic that
//! shares commits with one merged earlier, a topic landed in two merges, equal dates; and
//! they check that the answer does not depend on the commit-graph, the cache or the threads.

mod common;

use common::TestRepo;
use countersign_git::{Repository, Walk, WalkOptions};

fn walk(repo: &TestRepo, opts: &WalkOptions) -> Walk {
    Repository::open(repo.path()).expect("open").changes(opts, &|_| {}).expect("walk")
}

fn json(w: &Walk) -> serde_json::Value {
    serde_json::to_value(&w.changes).expect("changes serialize")
}

fn no_cache() -> WalkOptions {
    WalkOptions { use_cache: false, ..WalkOptions::default() }
}

/// A history with every kind of merge the walk must get right.
fn merge_history() -> TestRepo {
    let r = TestRepo::new();
    r.commit(&[("base.txt", "0\n")], "base");

    // An old topic, forked now and merged at the very end.
    r.git(&["checkout", "-q", "-b", "old"]);
    r.commit(&[("old1.txt", "1\n")], "old1");
    r.commit(&[("old2.txt", "2\n")], "old2");

    // `one`, and `two` forked from the middle of `one`: merging `two` after `one` brings in
    // only `two`'s own commits.
    r.git(&["checkout", "-q", "-b", "one", "main"]);
    r.commit(&[("one1.txt", "1\n")], "one1");
    r.commit(&[("one2.txt", "2\n")], "one2");
    r.git(&["checkout", "-q", "-b", "two"]);
    r.commit(&[("two1.txt", "1\n")], "two1");
    r.git(&["checkout", "-q", "one"]);
    r.commit(&[("one3.txt", "3\n")], "one3");
    r.git(&["checkout", "-q", "two"]);
    r.commit(&[("two2.txt", "2\n")], "two2");
    r.git(&["checkout", "-q", "main"]);
    r.commit(&[("m1.txt", "1\n")], "m1");
    r.merge("one", "Merge branch 'one'");
    r.commit(&[("m2.txt", "2\n")], "m2");
    r.merge("two", "Merge branch 'two'");

    // Many small merges in a row, so the mainline below later merges is long.
    for i in 0..12 {
        r.git(&["checkout", "-q", "-b", &format!("t{i}"), "main"]);
        r.commit(&[(&format!("t{i}.txt"), "1\n")], &format!("t{i} a"));
        r.commit(&[(&format!("t{i}.txt"), "2\n")], &format!("t{i} b"));
        r.git(&["checkout", "-q", "main"]);
        if i % 3 == 0 {
            r.commit(&[(&format!("m{i}.txt"), "m\n")], &format!("main {i}"));
        }
        r.merge(&format!("t{i}"), &format!("Merge branch 't{i}'"));
    }

    // An octopus merge of three topics, one of them forked before the t-merges and one
    // sharing a commit with `t11` (already merged).
    r.git(&["checkout", "-q", "-b", "o1", "main~5"]);
    r.commit(&[("o1.txt", "1\n")], "o1");
    r.git(&["checkout", "-q", "-b", "o2", "main"]);
    r.commit(&[("o2.txt", "1\n")], "o2");
    r.git(&["checkout", "-q", "-b", "o3", "t11"]);
    r.commit(&[("o3.txt", "1\n")], "o3");
    r.git(&["checkout", "-q", "main"]);
    // (Plain `git merge`: the same committer date as `o3`, one more tie.)
    r.git(&["merge", "-q", "--no-ff", "-m", "Octopus merge of o1, o2, o3", "o1", "o2", "o3"]);

    // A topic landed in two merges: the second brings in only what came after the first.
    r.git(&["checkout", "-q", "-b", "twice", "main"]);
    r.commit(&[("w1.txt", "1\n")], "w1");
    r.git(&["checkout", "-q", "main"]);
    r.merge("twice", "Merge branch 'twice' (first part)");
    r.git(&["checkout", "-q", "twice"]);
    r.commit(&[("w2.txt", "2\n")], "w2");
    r.merge("main", "Merge branch 'main' into twice");
    r.commit(&[("w3.txt", "3\n")], "w3");
    r.git(&["checkout", "-q", "main"]);
    r.merge("twice", "Merge branch 'twice' (second part)");

    // Equal committer dates on both sides of a merge.
    let same = format!("{} +0000", r.now() + 3600);
    r.git(&["checkout", "-q", "-b", "same", "main"]);
    for i in 0..3 {
        r.commit_as(&[(&format!("s{i}.txt"), "s\n")], &format!("s{i}"), &[("GIT_COMMITTER_DATE", &same)]);
    }
    r.git(&["checkout", "-q", "main"]);
    r.commit_as(&[("ms.txt", "s\n")], "main same", &[("GIT_COMMITTER_DATE", &same)]);
    r.merge_env("same", "Merge branch 'same'", &[("GIT_COMMITTER_DATE", &same)]);

    // The old topic, forked at the first commit.
    r.merge("old", "Merge branch 'old'");
    r
}

/// `git rev-list P1..M` without M, oldest first (countersign's order of `commits`), for
/// every first-parent merge M, keyed by M; and the number of parents of each.
fn want_per_merge(r: &TestRepo) -> Vec<(String, usize, Vec<String>)> {
    let mut out = Vec::new();
    for line in r.git(&["rev-list", "--first-parent", "--parents", "HEAD"]).lines() {
        let ids: Vec<&str> = line.split_whitespace().collect();
        if ids.len() < 3 {
            continue;
        }
        let mut want: Vec<String> = r
            .git(&["rev-list", &format!("{}..{}", ids[1], ids[0])])
            .lines()
            .filter(|id| *id != ids[0])
            .map(str::to_string)
            .collect();
        want.reverse();
        out.push((ids[0].to_string(), ids.len() - 1, want));
    }
    out
}

fn check(r: &TestRepo, w: &Walk, what: &str) {
    let want = want_per_merge(r);
    assert!(want.len() >= 17, "{what}: the history has {} merges", want.len());
    assert!(want.iter().any(|(_, parents, _)| *parents == 4), "{what}: an octopus merge");
    for (merge, _, commits) in &want {
        let change = w.changes.iter().find(|c| &c.id == merge).unwrap_or_else(|| panic!("{what}: no change {merge}"));
        let got: Vec<String> = change.commits.iter().map(|c| c.id.clone()).collect();
        // A merge that brings in nothing lists itself.
        let commits = if commits.is_empty() { vec![merge.clone()] } else { commits.clone() };
        assert_eq!(got, commits, "{what}: the commits of {:?}, in git rev-list's order", change.title);
    }
}

#[test]
fn s000_03_merge_walk_equals_git_rev_list_set_and_order() {
    let r = merge_history();
    let w = walk(&r, &no_cache());
    assert!(w.stats.merges_in_one_pass, "a walk of the whole history finds the merges' commits in one pass");
    check(&r, &w, "no commit-graph");

    // Spot checks of what the history is about.
    let find = |title: &str| w.changes.iter().find(|c| c.title == title).expect(title);
    let subjects = |title: &str| find(title).commits.iter().map(|c| c.subject.clone()).collect::<Vec<_>>();
    assert_eq!(subjects("Merge branch 'two'"), ["two1", "two2"]);
    assert_eq!(subjects("Merge branch 'one'"), ["one1", "one2", "one3"]);
    assert_eq!(subjects("Merge branch 'old'"), ["old1", "old2"]);
    assert_eq!(subjects("Octopus merge of o1, o2, o3"), ["o1", "o2", "o3"]);
    assert_eq!(subjects("Merge branch 'twice' (second part)"), ["w2", "Merge branch 'main' into twice", "w3"]);
}

#[test]
fn s000_03_merge_walk_is_the_same_with_a_commit_graph_threads_and_the_cache() {
    let r = merge_history();
    let plain = walk(&r, &no_cache());
    for threads in [1, 2, 3] {
        let w = walk(&r, &WalkOptions { threads: Some(threads), ..no_cache() });
        assert_eq!(json(&w), json(&plain), "{threads} threads");
    }

    // Warm cache, then one more merge of a topic forked long ago: only that merge is read,
    // its walk meets the mainline from the object database, not from the first-parent walk.
    let cached = walk(&r, &WalkOptions::default());
    assert_eq!(json(&cached), json(&plain));
    merge_late_topic(&r);
    let warm = walk(&r, &WalkOptions::default());
    assert_eq!(warm.stats.read, 1);
    assert!(!warm.stats.merges_in_one_pass, "one new merge is walked on its own");
    check(&r, &warm, "warm cache");

    r.git(&["commit-graph", "write", "--reachable"]);
    let with_graph = walk(&r, &no_cache());
    assert!(with_graph.stats.used_commit_graph && with_graph.stats.merges_in_one_pass);
    check(&r, &with_graph, "commit-graph");
    assert_eq!(json(&with_graph), json(&warm));
}

/// Add a merge of a topic forked twenty first-parent commits back.
fn merge_late_topic(r: &TestRepo) {
    merge_topic(r, "late", 20);
}

/// Add a merge of a one-commit topic `name`, forked `back` first-parent commits back.
fn merge_topic(r: &TestRepo, name: &str, back: usize) {
    r.git(&["checkout", "-q", "-b", name, &format!("main~{back}")]);
    r.commit(&[(&format!("{name}.txt"), "1\n")], name);
    r.git(&["checkout", "-q", "main"]);
    r.merge(name, &format!("Merge branch '{name}'"));
}

/// Without a commit-graph, the first audit keeps the commit graph beside the facts cache
/// (every commit, with parents, date and generation); a re-audit after a merge of a topic
/// forked long ago then decodes only the new topic commit for the merge's walk, where
/// without the kept graph it decodes the mainline down to the fork and the topics merged
/// on the way (and then keeps the whole graph). The answer is git's either way.
#[test]
fn s000_03_a_new_merge_after_the_first_audit_reads_parents_from_the_kept_graph() {
    let kept = merge_history();
    let lost = merge_history();
    let all = kept.rev_list(&["--all"]).len();
    let first = walk(&kept, &WalkOptions::default());
    assert_eq!(first.stats.graph_added, all, "the first audit keeps every commit");
    walk(&lost, &WalkOptions::default());
    for name in ["graph-v1.bin", "graph-v1.recent.bin"] {
        let _ = std::fs::remove_file(lost.git_dir().join("countersign").join(name));
    }

    merge_late_topic(&kept);
    merge_late_topic(&lost);
    let with_graph = walk(&kept, &WalkOptions::default());
    let without = walk(&lost, &WalkOptions::default());
    for (w, r, what) in [(&with_graph, &kept, "kept graph"), (&without, &lost, "graph lost")] {
        assert_eq!(w.stats.read, 1, "{what}: only the new merge is read");
        check(r, w, what);
    }
    assert_eq!(with_graph.stats.decoded_for_parents, 1, "only the new topic commit is decoded");
    assert!(
        without.stats.decoded_for_parents >= 20,
        "without the kept graph the walk decodes the mainline: {}",
        without.stats.decoded_for_parents
    );
    assert_eq!(with_graph.stats.graph_added, 2, "the merge and its topic commit are kept");
    // Without a kept graph (a facts cache from before the graph, or a deleted graph file),
    // the walk reads the whole graph once and keeps it; the next merge is cheap again.
    assert_eq!(without.stats.graph_added, lost.rev_list(&["--all"]).len(), "the graph is rebuilt whole");
    merge_topic(&lost, "later", 25);
    let rebuilt = walk(&lost, &WalkOptions::default());
    check(&lost, &rebuilt, "graph rebuilt");
    assert_eq!(rebuilt.stats.decoded_for_parents, 1, "with the rebuilt graph, only the new topic commit");

    // A damaged graph file is ignored (and the answer is still git's).
    let base = kept.git_dir().join("countersign").join("graph-v1.bin");
    let mut bytes = std::fs::read(&base).expect("graph file");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&base, bytes).expect("write");
    kept.commit(&[("after.txt", "1\n")], "after damage");
    let damaged = walk(&kept, &WalkOptions::default());
    check(&kept, &damaged, "damaged graph");
}

/// `Repository::is_ancestor` (the deploy gate's "is this commit on the branch") agrees with
/// `git rev-list` for every pair of commits: through gix, through the kept graph's
/// generation numbers, and with commits newer than the kept graph.
#[test]
fn s000_03_is_ancestor_agrees_with_git_with_and_without_the_kept_graph() {
    let r = merge_history();
    let check_all = |what: &str| {
        let repo = Repository::open(r.path()).expect("open");
        let all = r.rev_list(&["--all"]);
        let mut yes = 0;
        for d in &all {
            let ancestors: std::collections::HashSet<String> = r.rev_list(&[d]).into_iter().collect();
            for a in &all {
                let got = repo.is_ancestor(a, d).expect("is_ancestor");
                assert_eq!(got, ancestors.contains(a), "{what}: is {a} an ancestor of {d}?");
                yes += usize::from(got);
            }
        }
        assert!(yes > all.len() && yes < all.len() * all.len(), "{what}: both answers occur ({yes})");
    };
    check_all("no kept graph");
    walk(&r, &WalkOptions::default());
    assert!(r.git_dir().join("countersign/graph-v1.bin").exists());
    check_all("kept graph");
    merge_late_topic(&r);
    check_all("commits newer than the kept graph");
}

/// `WalkOptions::after` (the audit's re-audit): the walk stops before the earlier tip and
/// says so; changes made since are exactly the ones a full walk lists first, from the facts
/// cache or not; a tip that left the first-parent chain (merged in from a side branch,
/// rewritten away) is never "reached", so the caller judges afresh.
#[test]
fn s000_03_a_walk_after_an_earlier_tip_lists_only_what_came_since() {
    let r = merge_history();
    let earlier = r.head();
    r.commit(&[("later1.txt", "1\n")], "later1");
    r.git(&["checkout", "-q", "-b", "late-topic"]);
    let side = r.commit(&[("side.txt", "s\n")], "side");
    r.git(&["checkout", "-q", "main"]);
    r.merge("late-topic", "Merge late-topic");
    let full = walk(&r, &no_cache());
    for use_cache in [false, true] {
        let after = WalkOptions { after: Some(earlier.clone()), use_cache, ..WalkOptions::default() };
        let since = walk(&r, &after);
        assert!(since.reached_after, "the earlier tip is on the first-parent chain");
        assert_eq!(since.changes.len(), 2, "the later commit and the merge");
        assert_eq!(
            serde_json::to_value(&since.changes).unwrap(),
            serde_json::to_value(&full.changes[..2]).unwrap(),
            "the same changes a full walk lists first (cache {use_cache})"
        );
    }
    let at_tip = walk(&r, &WalkOptions { after: Some(r.head()), ..WalkOptions::default() });
    assert!(at_tip.reached_after && at_tip.changes.is_empty(), "nothing new");
    // A commit brought in by a merge is an ancestor, but not on the first-parent chain.
    let merged_in = walk(&r, &WalkOptions { after: Some(side), ..WalkOptions::default() });
    assert!(!merged_in.reached_after);
    assert_eq!(merged_in.changes.len(), full.changes.len(), "the walk went on to the root");
    // A rewritten branch: the earlier tip is gone from it.
    r.git(&["reset", "-q", "--hard", "HEAD~3"]);
    r.commit(&[("rewritten.txt", "r\n")], "rewritten");
    assert!(!walk(&r, &WalkOptions { after: Some(earlier), ..no_cache() }).reached_after);
    assert!(!walk(&r, &no_cache()).reached_after, "always false without `after`");
    let bad = Repository::open(r.path())
        .expect("open")
        .changes(&WalkOptions { after: Some("not a commit id".into()), ..WalkOptions::default() }, &|_| {});
    assert!(bad.is_err(), "a malformed stop commit is an error, not a full walk");
}

/// A history longer than the runs the readers take while the first-parent walk is still
/// going (5,000 first-parent commits, a merge of a two-commit topic every 50th), built with
/// `git fast-import`.
fn long_history() -> TestRepo {
    let r = TestRepo::new();
    let mut stream = String::new();
    let mut mark = 0;
    let mut main = None;
    let mut time = 1_700_000_000u64;
    let mut commit = |branch: &str, from: Option<usize>, merge: Option<usize>, path: &str, message: &str| {
        mark += 1;
        time += 60;
        stream.push_str(&format!(
            "commit refs/heads/{branch}\nmark :{mark}\nauthor A <a@example.com> {time} +0000\ncommitter A <a@example.com> {time} +0000\ndata {}\n{message}\n",
            message.len() + 1
        ));
        if let Some(from) = from {
            stream.push_str(&format!("from :{from}\n"));
        }
        if let Some(merge) = merge {
            stream.push_str(&format!("merge :{merge}\n"));
        }
        stream.push_str(&format!("M 100644 inline {path}\ndata {}\n{mark}\n\n", mark.to_string().len() + 1));
        mark
    };
    for i in 0..5_000 {
        main = Some(if i % 50 == 49 {
            let topic = format!("topic{i}");
            let one = commit(&topic, main, None, &format!("t{i}/a.txt"), &format!("{topic} one"));
            let two = commit(&topic, Some(one), None, &format!("t{i}/b.txt"), &format!("{topic} two"));
            commit("main", main, Some(two), &format!("m/{i}.txt"), &format!("Merge branch '{topic}'"))
        } else {
            commit("main", main, None, &format!("d{}/f{i}.txt", i % 13), &format!("change {i}"))
        });
    }
    r.git_stdin(&["fast-import", "--quiet"], stream.as_bytes());
    r.git(&["reset", "-q", "--hard", "main"]);
    r
}

#[test]
fn s000_03_a_history_read_while_it_is_walked_equals_one_thread_and_git() {
    let r = long_history();
    let one = walk(&r, &WalkOptions { threads: Some(1), ..no_cache() });
    let fp: Vec<String> = r.git(&["rev-list", "--first-parent", "HEAD"]).lines().map(str::to_string).collect();
    assert_eq!(fp.len(), 5_000);
    assert_eq!(one.changes.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), fp, "git's first-parent chain");
    for threads in [2, 3] {
        let w = walk(&r, &WalkOptions { threads: Some(threads), ..no_cache() });
        assert!(w.stats.merges_in_one_pass, "{threads} threads: the merges' commits in one pass");
        assert_eq!(w.stats.read, 5_000);
        assert_eq!(json(&w), json(&one), "{threads} threads read while walking, against one thread");
    }
    let want = want_per_merge(&r);
    assert_eq!(want.len(), 100);
    for (merge, _, commits) in &want {
        let change = one.changes.iter().find(|c| &c.id == merge).expect("a change for each merge");
        let got: Vec<String> = change.commits.iter().map(|c| c.id.clone()).collect();
        assert_eq!(&got, commits, "the commits of {:?}, as git rev-list gives them", change.title);
    }
}
