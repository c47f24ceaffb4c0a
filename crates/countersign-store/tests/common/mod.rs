//! Shared test suite: `suite!()` expands every backend-independent test for the backend
//! whose `test_db()` is in scope. `tests/sqlite.rs` and `tests/postgres.rs` both use it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use countersign_log::note::LogSigner;
use countersign_store::evidence::{ApprovalType, CheckOutcome, Evidence, RecordRequest};
use countersign_store::{ChangeRef, OpenOptions, Store};

/// A fresh database for one test, removed afterwards.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("countersign.db").display().to_string();
        Self { url, dir, drop_pg: None }
    }

    /// A new database on the server named by COUNTERSIGN_TEST_POSTGRES_URL.
    pub fn postgres() -> Self {
        let base = std::env::var("COUNTERSIGN_TEST_POSTGRES_URL").unwrap_or_default();
        assert!(
            !base.is_empty(),
            "COUNTERSIGN_TEST_POSTGRES_URL is not set: the PostgreSQL half of the store tests cannot run. \
             Set it, e.g. COUNTERSIGN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
        );
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("cs_test_{}_{}_{}", std::process::id(), n, nanos);
        psql(&base, &format!("CREATE DATABASE {name}"));
        let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
        let url = format!("{prefix}/{name}");
        Self { url, dir: tempfile::tempdir().unwrap(), drop_pg: Some((base, name)) }
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("countersign.key")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.drop_pg {
            let _ = run_psql(base, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn run_psql(url: &str, sql: &str) -> std::io::Result<std::process::Output> {
    Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql]).output()
}

fn psql(url: &str, sql: &str) {
    let out = run_psql(url, sql).expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn signer(seed: u8) -> LogSigner {
    LogSigner::from_seed("test.countersign.dev/log", &[seed; 32]).unwrap()
}

pub const CHANGE: &str = "pr#7";
pub const COMMIT: &str = "1111111111111111111111111111111111111111";

/// The one change [`open`] registers: `pr#7`, open, with one commit.
pub fn change_ref() -> ChangeRef {
    ChangeRef {
        id: CHANGE.into(),
        repository: Some("acme/app".into()),
        pr_number: Some(7),
        head_commit: Some(COMMIT.into()),
        merge_commit: None,
        commits: vec![COMMIT.into()],
    }
}

/// Open a store with the test key and one registered change.
pub fn open(db: &TestDb) -> Store {
    let mut store = Store::open(&db.url, &OpenOptions { create: true, clock: jiff::Timestamp::now }).unwrap();
    store.set_signer(signer(1)).unwrap();
    store.upsert_changes(&[change_ref()]).unwrap();
    store
}

pub fn check(i: usize) -> RecordRequest {
    RecordRequest {
        change: Some(CHANGE.into()),
        recorded_by: "tester".into(),
        recorded_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        idempotency_key: None,
        evidence: Evidence::Check {
            name: format!("ci-{i}"),
            status: CheckOutcome::Success,
            commit: None,
            url: None,
            delivery: None,
        },
    }
}

pub fn approval() -> RecordRequest {
    RecordRequest {
        change: Some(COMMIT[..10].into()),
        recorded_by: "tester".into(),
        recorded_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        idempotency_key: Some("delivery-1".into()),
        evidence: Evidence::Approval {
            approver: "Alice <alice@example.com>".into(),
            approval: ApprovalType::Review,
            commit: Some(COMMIT.into()),
            approved_at: None,
            note: None,
            delivery: None,
        },
    }
}

/// Append `n` checks one transaction at a time (one checkpoint per entry).
pub fn fill(store: &Store, n: usize) {
    for i in 0..n {
        store.record(&check(i)).unwrap();
    }
}

pub fn verify_failure(store: &Store) -> countersign_log::VerifyFailure {
    store.verify(&signer(1).verifier(), Default::default()).unwrap().expect_err("tampering must be detected")
}

/// A blob literal for raw SQL on either backend.
pub fn blob(db: &TestDb, bytes: &[u8]) -> String {
    if db.url.starts_with("postgres") { format!("'\\x{}'::bytea", hex(bytes)) } else { format!("x'{}'", hex(bytes)) }
}

/// Rewrite the stored tree state (`tree_nodes`, `log_state`) from the entries now in the
/// store, as someone without the key can: only SHA-256 is needed.
pub fn rebuild_tree_state(store: &Store, db: &TestDb) {
    use countersign_log::merkle::{Frontier, leaf_hash};
    let size = store.tree_size().unwrap();
    let mut envelopes = Vec::new();
    for i in 0.. {
        match store.entry(i) {
            Ok(bytes) => envelopes.push(bytes),
            Err(_) => break,
        }
        if i > size + 10 {
            break;
        }
    }
    let mut frontier = Frontier::new();
    let mut nodes = Vec::new();
    for e in &envelopes {
        nodes.extend(frontier.push(leaf_hash(e)));
    }
    store.execute_raw_for_tests("DELETE FROM tree_nodes").unwrap();
    for chunk in nodes.chunks(200) {
        let values: Vec<String> =
            chunk.iter().map(|(id, h)| format!("({}, {}, {})", id.level, id.index, blob(db, h))).collect();
        store
            .execute_raw_for_tests(&format!("INSERT INTO tree_nodes (level, idx, hash) VALUES {}", values.join(", ")))
            .unwrap();
    }
    store
        .execute_raw_for_tests(&format!(
            "UPDATE log_state SET tree_size = {}, frontier = {} WHERE id = 1",
            frontier.size(),
            blob(db, &frontier.to_bytes())
        ))
        .unwrap();
}

/// Insert a row into `log_entries` as someone with database access could: the stored leaf
/// hash matches the bytes, the index columns say `kind` about `pr#7`.
pub fn insert_raw_entry(store: &Store, db: &TestDb, index: u64, kind: &str, bytes: &[u8]) {
    use countersign_log::merkle::leaf_hash;
    store
        .execute_raw_for_tests(&format!(
            "INSERT INTO log_entries (idx, leaf_hash, envelope, kind, change_id, recorded_at, recorded_by) \
             VALUES ({index}, {}, {}, '{kind}', 'pr#7', '2026-01-02T03:04:05Z', 'tester')",
            blob(db, &leaf_hash(bytes)),
            blob(db, bytes)
        ))
        .unwrap();
}

/// Delete entry `index` and renumber the ones after it, recomputing nothing.
pub fn delete_and_renumber(store: &Store, index: u64) {
    store.execute_raw_for_tests(&format!("DELETE FROM log_entries WHERE idx = {index}")).unwrap();
    let size = store.tree_size().unwrap();
    for i in index + 1..size {
        store.execute_raw_for_tests(&format!("UPDATE log_entries SET idx = {} WHERE idx = {i}", i - 1)).unwrap();
    }
}

pub fn tampered(err: countersign_store::StoreError) -> String {
    match err {
        countersign_store::StoreError::Tampered(problem) => problem,
        other => panic!("expected tampered evidence, got: {other}"),
    }
}

pub fn writer_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign-store-writer"))
}

pub fn write_key(db: &TestDb) -> PathBuf {
    let path = db.key_path();
    std::fs::write(&path, format!("{}\n", signer(1).private_key_text())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// Run `processes` writer processes with `threads` threads each, `per_process` appends each.
pub fn run_writer_processes(db: &TestDb, processes: usize, per_process: usize, threads: usize) -> Vec<(u64, String)> {
    let key = write_key(db);
    let children: Vec<_> = (0..processes)
        .map(|p| {
            Command::new(writer_exe())
                .args([
                    db.url.as_str(),
                    key.to_str().unwrap(),
                    CHANGE,
                    &per_process.to_string(),
                    &format!("proc{p}"),
                    &threads.to_string(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut acked = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "writer failed: {:?}", out.status);
        acked.extend(parse_acks(&String::from_utf8_lossy(&out.stdout)));
    }
    acked
}

pub fn parse_acks(stdout: &str) -> Vec<(u64, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (i, k) = l.split_once(' ')?;
            Some((i.parse().ok()?, k.to_owned()))
        })
        .collect()
}

/// No gaps, no duplicates, no forks: indices are exactly 0..n, every key once, and the log verifies.
pub fn assert_clean_log(store: &Store, acked: &[(u64, String)], expected: usize) {
    let mut indices: Vec<u64> = acked.iter().map(|(i, _)| *i).collect();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), expected, "every append got its own index");
    assert_eq!(indices.first(), Some(&0));
    assert_eq!(indices.last(), Some(&(expected as u64 - 1)), "no gaps");
    assert_eq!(store.tree_size().unwrap(), expected as u64);
    let summary = store.verify(&signer(1).verifier(), Default::default()).unwrap().unwrap();
    assert_eq!(summary.entries, expected as u64);
    let mut keys: Vec<&str> = acked.iter().map(|(_, k)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), expected, "no duplicates");
}

pub fn package_path(db: &TestDb) -> PathBuf {
    db.dir.path().join("evidence.tar")
}

pub fn _unused(_: &Path) {}

#[macro_export]
macro_rules! suite {
    () => {
        use common::*;
        use countersign_log::merkle;
        use countersign_log::note::Checkpoint;
        use countersign_store::{AppendOutcome, ChangeRef, OpenOptions, Store, StoreError, package};

        #[test]
        fn records_evidence_and_reads_it_back_for_the_engine() {
            let db = test_db();
            let store = open(&db);
            assert_eq!(store.record(&approval()).unwrap(), AppendOutcome::Appended(0));
            assert_eq!(store.record(&check(1)).unwrap(), AppendOutcome::Appended(1));
            let found = store.evidence_for(&[COMMIT]).unwrap();
            assert_eq!(found.len(), 2);
            assert_eq!(found[0].index, 0);
            assert_eq!(found[0].change_id.as_deref(), Some(CHANGE));
            #[cfg(feature = "engine")]
            {
            let approval = found[0].to_approval().expect("an approval");
            assert_eq!(approval.by.email.as_deref(), Some("alice@example.com"));
            assert_eq!(approval.source, "recorded entry #0 by tester");
            let check = found[1].to_check().expect("a check");
            assert_eq!(check.name, "ci-1");
            assert_eq!(check.source, "recorded entry #1 by tester");
            }
        }

        /// The server registers a pull request on each of its events. Registering it again
        /// as it is writes nothing; registering it with something new (a new commit, its
        /// merge commit) still adds it.
        #[test]
        fn s000_03_registering_a_change_again_adds_only_what_is_new() {
            let db = test_db();
            let store = open(&db);
            let again = change_ref();
            store.upsert_changes(std::slice::from_ref(&again)).unwrap();
            assert_eq!(store.change_records().unwrap().len(), 1);
            let (pushed, merged) = ("3333333333333333333333333333333333333333", "4444444444444444444444444444444444444444");
            for name in [pushed, merged] {
                assert!(store.resolve_change(name).unwrap().is_none(), "{name} is not registered yet");
            }
            let grown = ChangeRef { commits: vec![COMMIT.into(), pushed.into()], merge_commit: Some(merged.into()), ..again };
            store.upsert_changes(&[grown]).unwrap();
            for name in [pushed, merged, COMMIT] {
                assert_eq!(store.resolve_change(name).unwrap().map(|c| c.id).as_deref(), Some(CHANGE), "{name}");
            }
        }

        /// An audit registers the changes it meets that the store does not know, by id or
        /// alias: a re-audit's few new changes are looked up one list at a time, a long
        /// history's against every id, with the same answer.
        #[test]
        fn s000_03_an_audit_registers_only_the_changes_not_known_by_id_or_alias() {
            let db = test_db();
            let store = open(&db);
            let commit = |n: usize| format!("{n:040x}");
            let change = |id: String| ChangeRef {
                commits: vec![id.clone()],
                head_commit: Some(id.clone()),
                id,
                repository: Some("acme/app".into()),
                pr_number: None,
                merge_commit: None,
            };
            let squash = ChangeRef { pr_number: Some(7), merge_commit: Some(commit(2)), ..change(commit(2)) };
            let digest = store.change_links_digest().unwrap();
            assert_eq!(store.register_new_changes(std::slice::from_ref(&squash)).unwrap(), 1);
            let linked = store.change_links_digest().unwrap();
            assert_ne!(digest, linked, "a new link changes the digest");
            assert_eq!(store.change_records().unwrap().get(&commit(2)).map(String::as_str), Some(CHANGE), "an alias");
            // Known by id (pr#7), known as an alias (the squash commit), and one new change.
            let few = [change_ref(), squash.clone(), change(commit(3))];
            assert_eq!(store.register_new_changes(&few).unwrap(), 1);
            assert_eq!(store.register_new_changes(&few).unwrap(), 0, "registered once");
            let many: Vec<ChangeRef> = few.iter().cloned().chain((10..1_210).map(|n| change(commit(n)))).collect();
            assert_eq!(store.register_new_changes(&many).unwrap(), 1_200);
            assert_eq!(store.register_new_changes(&many).unwrap(), 0);
            assert_eq!(store.register_new_changes(&many[..500]).unwrap(), 0, "the short path knows them too");
            assert_eq!(store.change_records().unwrap().len(), 1 + 1 + 1 + 1_200);
            // The links of a few ids are the ones every link gives for them.
            let all = store.change_records().unwrap();
            let ids = [CHANGE.to_owned(), commit(2), commit(3), commit(999_999)];
            let some = store.change_records_of(&ids.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
            assert_eq!(some.len(), 3, "an unknown id is absent");
            for id in &ids[..3] {
                assert_eq!(some.get(id), all.get(id), "{id}");
            }
            assert_eq!(some.get(&commit(2)).map(String::as_str), Some(CHANGE), "an alias maps to its record");
            let digest = store.change_links_digest().unwrap();
            assert_eq!(store.register_new_changes(&many).unwrap(), 0);
            assert_eq!(store.change_links_digest().unwrap(), digest, "nothing new, the same digest");
        }

        /// Issue 6 §2: `pr#7` registered while open, then the squash commit `audit` sees
        /// ("… (#7)", same repository and PR number) is the same change: its id becomes an
        /// alias, and evidence recorded under either name belongs to the one record.
        #[test]
        fn s000_03_a_change_keeps_one_identity_from_pr_to_squash_merge() {
            let db = test_db();
            let store = open(&db);
            store.record(&check(1)).unwrap();
            let squash = "2222222222222222222222222222222222222222";
            store
                .register_new_changes(&[ChangeRef {
                    id: squash.into(),
                    repository: Some("acme/app".into()),
                    pr_number: Some(7),
                    head_commit: Some(squash.into()),
                    merge_commit: Some(squash.into()),
                    commits: vec![squash.into()],
                }])
                .unwrap();
            let records = store.change_records().unwrap();
            assert_eq!(records.get(squash).map(String::as_str), Some(CHANGE), "the squash commit is an alias of pr#7");
            for name in [squash, &squash[..8], "pr#7", "acme/app#7", CHANGE] {
                let found = store.resolve_change(name).unwrap().unwrap_or_else(|| panic!("{name} resolves"));
                assert_eq!(found.id, CHANGE, "{name}");
            }
            assert!(store.resolve_change("other/app#7").unwrap().is_none(), "another repository's PR #7 is another change");
            // Evidence recorded under the squash commit is stored under the one record.
            let mut by_squash = check(2);
            by_squash.change = Some(squash.into());
            store.record(&by_squash).unwrap();
            let all = store.all_change_evidence().unwrap();
            assert_eq!(all.len(), 2);
            assert!(all.iter().all(|e| e.change_id.as_deref() == Some(CHANGE)), "{all:?}");

            // A PR #7 of another repository is a different change, and `pr#7` is then ambiguous.
            store
                .register_new_changes(&[ChangeRef {
                    id: "3333333333333333333333333333333333333333".into(),
                    repository: Some("acme/other".into()),
                    pr_number: Some(7),
                    head_commit: Some("3333333333333333333333333333333333333333".into()),
                    merge_commit: None,
                    commits: vec!["3333333333333333333333333333333333333333".into()],
                }])
                .unwrap();
            assert_eq!(store.resolve_change("acme/other#7").unwrap().map(|c| c.id).as_deref(), Some("3333333333333333333333333333333333333333"));
            match store.resolve_change("#7") {
                Err(StoreError::AmbiguousChange { candidates, .. }) => {
                    assert!(candidates.contains("acme/app#7") && candidates.contains("acme/other#7"), "{candidates}")
                }
                other => panic!("expected an ambiguity, got {other:?}"),
            }
        }

        /// A merge commit whose merged head is the commit a PR was checked at is that PR.
        #[test]
        fn a_merge_bringing_in_a_checked_head_is_the_same_change() {
            let db = test_db();
            let store = open(&db);
            let merge = "4444444444444444444444444444444444444444";
            store
                .register_new_changes(&[ChangeRef {
                    id: merge.into(),
                    repository: Some("acme/app".into()),
                    pr_number: None,
                    head_commit: Some(COMMIT.into()),
                    merge_commit: Some(merge.into()),
                    commits: vec![COMMIT.into()],
                }])
                .unwrap();
            assert_eq!(store.change_records().unwrap().get(merge).map(String::as_str), Some(CHANGE));
        }

        #[test]
        fn a_repeated_idempotency_key_is_a_no_op() {
            let db = test_db();
            let store = open(&db);
            store.record(&check(0)).unwrap();
            assert_eq!(store.record(&approval()).unwrap(), AppendOutcome::Appended(1));
            assert_eq!(store.record(&approval()).unwrap(), AppendOutcome::AlreadyRecorded(1));
            assert_eq!(store.tree_size().unwrap(), 2);
        }

        #[test]
        fn a_record_about_an_unknown_change_stores_nothing() {
            let db = test_db();
            let store = open(&db);
            let mut request = check(0);
            request.change = Some("pr#999".into());
            let err = store.record(&request).unwrap_err();
            assert!(matches!(err, StoreError::UnknownChange(_)), "{err}");
            request.change = None;
            assert!(matches!(store.record(&request).unwrap_err(), StoreError::MissingChange("check")));
            assert_eq!(store.tree_size().unwrap(), 0);
            assert!(store.latest_checkpoint().unwrap().is_none());
        }

        #[test]
        fn appending_without_a_key_is_refused_and_stores_nothing() {
            let db = test_db();
            drop(open(&db));
            let store = Store::open(&db.url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).unwrap();
            assert!(matches!(store.record(&check(0)).unwrap_err(), StoreError::NoSigner));
            assert_eq!(store.tree_size().unwrap(), 0);
        }

        #[test]
        fn another_key_is_refused_for_an_existing_log() {
            let db = test_db();
            drop(open(&db));
            let mut store = Store::open(&db.url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).unwrap();
            assert!(matches!(store.set_signer(signer(2)).unwrap_err(), StoreError::KeyMismatch { .. }));
        }

        #[test]
        fn a_database_from_a_newer_version_is_refused() {
            let db = test_db();
            let store = open(&db);
            store
                .execute_raw_for_tests(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'from the future', TRUE, x'00', 0)"
                        .replace("x'00'", if db.url.starts_with("postgres") { "'\\x00'::bytea" } else { "x'00'" })
                        .as_str(),
                )
                .unwrap();
            drop(store);
            let err = Store::open(&db.url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).err().expect("refused");
            assert!(err.to_string().contains("newer countersign (schema version 9999"), "{err}");
        }

        #[test]
        fn proofs_verify_against_signed_checkpoints() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 21);
            let verifier = signer(1).verifier();
            let head = Checkpoint::open(&store.latest_checkpoint().unwrap().unwrap(), &verifier).unwrap();
            assert_eq!(head.size, 21);
            for index in [0u64, 5, 13, 20] {
                let proof = store.inclusion_proof(index, None).unwrap();
                let text = proof.to_text();
                assert!(text.starts_with(&format!("c2sp.org/tlog-proof@v1\nindex {index}\n")));
                let parsed = countersign_log::proof_text::TlogProof::parse(&text).unwrap();
                let cp = Checkpoint::open(&parsed.checkpoint, &verifier).unwrap();
                let leaf = merkle::leaf_hash(&store.entry(index).unwrap());
                merkle::verify_inclusion(index, cp.size, &leaf, &parsed.hashes, &cp.root).unwrap();
            }
            for old in [1u64, 8, 13, 20] {
                let proof = store.consistency_proof(old, None).unwrap();
                let old_cp = Checkpoint::open(&store.checkpoint(old).unwrap(), &verifier).unwrap();
                merkle::verify_consistency(old, head.size, &old_cp.root, &head.root, &proof.hashes).unwrap();
            }
            assert_eq!(store.verify(&verifier, Default::default()).unwrap().unwrap().entries, 21);
        }

        #[test]
        fn tampering_one_payload_byte_is_detected_at_that_entry() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 10);
            let entry = String::from_utf8(store.entry(6).unwrap()).unwrap();
            // Flip one byte of the base64 payload, and recompute the stored leaf hash so
            // only the signature and the checkpoints can catch it.
            let pos = entry.find("\"payload\":\"").unwrap() + 20;
            let mut bytes = entry.into_bytes();
            bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
            let leaf = merkle::leaf_hash(&bytes);
            let sql = if db.url.starts_with("postgres") {
                format!("UPDATE log_entries SET envelope = '\\x{}'::bytea, leaf_hash = '\\x{}'::bytea WHERE idx = 6", hex(&bytes), hex(&leaf))
            } else {
                format!("UPDATE log_entries SET envelope = x'{}', leaf_hash = x'{}' WHERE idx = 6", hex(&bytes), hex(&leaf))
            };
            store.execute_raw_for_tests(&sql).unwrap();
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(6), "{failure}");
        }

        #[test]
        fn a_deleted_entry_is_detected_at_its_index() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 10);
            store.execute_raw_for_tests("DELETE FROM log_entries WHERE idx = 4").unwrap();
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(4), "{failure}");
            assert!(failure.problem.contains("missing"), "{failure}");
        }

        #[test]
        fn two_swapped_entries_are_detected_at_the_first() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 10);
            store.execute_raw_for_tests("UPDATE log_entries SET idx = -1 WHERE idx = 3").unwrap();
            store.execute_raw_for_tests("UPDATE log_entries SET idx = 3 WHERE idx = 7").unwrap();
            store.execute_raw_for_tests("UPDATE log_entries SET idx = 7 WHERE idx = -1").unwrap();
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(3), "{failure}");
        }

        #[test]
        fn a_truncated_log_is_detected() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 10);
            store.execute_raw_for_tests("DELETE FROM log_entries WHERE idx >= 8").unwrap();
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(8), "{failure}");
            assert!(failure.problem.contains("truncated"), "{failure}");
        }

        #[test]
        fn a_checkpoint_resigned_with_another_key_is_detected() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 5);
            let note = store.checkpoint(3).unwrap();
            let cp = Checkpoint::parse_text(note.split_once("\n\n").unwrap().0).unwrap();
            let forged = cp.sign(&signer(9)).unwrap();
            store.execute_raw_for_tests(&format!("UPDATE checkpoints SET note = '{forged}' WHERE tree_size = 3")).unwrap();
            let failure = verify_failure(&store);
            assert_eq!(failure.checkpoint, Some(3), "{failure}");
            assert!(failure.problem.contains("no signature by key"), "{failure}");
        }

        /// `record` takes a change it resolved before by its id from its own cache, and the
        /// append transaction checks that resolution before it commits. Another process that
        /// registers the change again meanwhile (its merge commit now names it) or makes the
        /// reference ambiguous is seen: the entry names the change as it is now, or the
        /// record fails as ambiguous and writes nothing.
        #[test]
        fn a_change_registered_again_by_another_process_is_recorded_as_it_now_resolves() {
            let db = test_db();
            let store = open(&db);
            store.record(&check(0)).unwrap();
            store.record(&check(1)).unwrap();
            let statement = |index: u64| {
                let entry = store.entry(index).unwrap();
                format!("{:?}", countersign_log::dsse::statement_unverified(&entry).unwrap())
            };
            assert!(statement(1).contains(COMMIT), "{}", statement(1));
            let merge = "5555555555555555555555555555555555555555";
            let other = open(&db);
            other.upsert_changes(&[ChangeRef { merge_commit: Some(merge.into()), ..change_ref() }]).unwrap();
            assert_eq!(store.record(&check(2)).unwrap(), AppendOutcome::Appended(2));
            assert!(statement(2).contains(merge), "entry 2 names the merge commit now: {}", statement(2));
            // The other process appends too, then makes `pr#7` name two changes.
            other.record(&check(3)).unwrap();
            store.record(&check(4)).unwrap();
            other
                .execute_raw_for_tests(
                    "INSERT INTO changes (id, registered_at) VALUES ('pr#8', '2026-01-01T00:00:00Z'); \
                     INSERT INTO change_aliases (alias, change_id) VALUES ('pr#7', 'pr#8')",
                )
                .unwrap();
            let err = store.record(&check(5)).unwrap_err();
            assert!(matches!(err, StoreError::AmbiguousChange { .. }), "{err}");
            assert_eq!(store.tree_size().unwrap(), 5);
            store.verify(&signer(1).verifier(), Default::default()).unwrap().unwrap();
        }

        /// Migration 7 drops two indexes no query uses. A store written before it, with
        /// entries, migrates when opened: it still verifies, proves its old entries and
        /// appends.
        #[test]
        fn a_store_with_entries_migrates_to_schema_7_and_still_verifies_and_proves() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 6);
            // The store as schema 6 left it.
            store
                .execute_raw_for_tests(
                    "CREATE INDEX log_entries_change ON log_entries (change_id); \
                     CREATE INDEX log_entries_recorded_at ON log_entries (recorded_at); \
                     DELETE FROM _sqlx_migrations WHERE version = 7",
                )
                .unwrap();
            store.close();
            let store = open(&db);
            assert!(store.execute_raw_for_tests("DROP INDEX log_entries_change").is_err(), "migration 7 dropped it");
            assert!(store.execute_raw_for_tests("DROP INDEX log_entries_recorded_at").is_err(), "migration 7 dropped it");
            store.record(&check(6)).unwrap();
            let summary = store.verify(&signer(1).verifier(), Default::default()).unwrap().unwrap();
            assert_eq!(summary.entries, 7);
            for index in 0..7 {
                store.inclusion_proof(index, None).unwrap();
            }
            store.consistency_proof(3, None).unwrap();
        }

        /// What a kept proof gives equals what a full proof by a fresh store gives, read after
        /// read as the log grows (selections by change, by kind, and every change's).
        #[test]
        fn x04_a_kept_proof_reads_what_a_full_proof_reads_as_the_log_grows() {
            let db = test_db();
            let store = open(&db);
            let other = |i: usize| {
                let mut r = check(i);
                r.change = None;
                r.evidence = countersign_store::evidence::Evidence::Exception {
                    rule: format!("rule-{i}"),
                    justification: "vendor outage".into(),
                    approved_by: None,
                    review_by: "2026-02-01".into(),
                    people: Vec::new(),
                    categories: Vec::new(),
                };
                r
            };
            let summary = |found: &[countersign_store::evidence::RecordedEvidence]| -> Vec<(u64, Option<String>, String)> {
                found.iter().map(|e| (e.index, e.change_id.clone(), e.evidence.kind().to_owned())).collect()
            };
            let mut sizes = Vec::new();
            for round in 0..4 {
                for i in 0..3 {
                    store.record(&check(round * 10 + i)).unwrap();
                }
                store.record(&other(round)).unwrap();
                if round == 1 {
                    store.record(&approval()).unwrap();
                }
                let fresh = open(&db);
                let kept = store.evidence_for_and_kinds(&[CHANGE], &["exception"]).unwrap();
                let full = fresh.evidence_for_and_kinds(&[CHANGE], &["exception"]).unwrap();
                assert_eq!((summary(&kept.0), summary(&kept.1)), (summary(&full.0), summary(&full.1)), "round {round}");
                assert_eq!(summary(&store.all_change_evidence().unwrap()), summary(&fresh.all_change_evidence().unwrap()));
                assert_eq!(summary(&store.evidence_of_kinds(&["exception"]).unwrap()).len(), round + 1);
                sizes.push(kept.0.len() + kept.1.len());
            }
            // The reads saw the log grow: 3 + 1 entries a round, and the approval once.
            assert_eq!(sizes, vec![4, 9, 13, 17]);
        }

        /// A store with its key and nothing recorded yet has no checkpoint: read after read,
        /// that is an empty log, not a deleted checkpoint (CLI commands read several times).
        #[test]
        fn x04_an_empty_log_reads_as_empty_read_after_read() {
            let db = test_db();
            let store = open(&db);
            for _ in 0..3 {
                assert!(store.evidence_for(&[CHANGE]).unwrap().is_empty());
                assert!(store.evidence_of_kinds(&["deploy"]).unwrap().is_empty());
            }
            store.record(&check(1)).unwrap();
            assert_eq!(store.evidence_for(&[CHANGE]).unwrap().len(), 1);
        }

        #[test]
        fn x04_an_entry_altered_after_a_kept_proof_is_caught_when_read_again() {
            let db = test_db();
            let store = open(&db);
            store.record(&approval()).unwrap();
            fill(&store, 3);
            assert_eq!(store.evidence_for(&[CHANGE]).unwrap().len(), 4);
            // Another signed entry's bytes, with a leaf hash to match, in place of the approval.
            store
                .execute_raw_for_tests(
                    "UPDATE log_entries SET envelope = (SELECT envelope FROM log_entries WHERE idx = 1), \
                     leaf_hash = (SELECT leaf_hash FROM log_entries WHERE idx = 1), kind = 'check' WHERE idx = 0",
                )
                .unwrap();
            let problem = tampered(store.evidence_for(&[CHANGE]).unwrap_err());
            assert!(problem.contains("entry 0") && problem.contains("altered"), "{problem}");
            // The kept proof was forgotten: the next read proves everything and names the fault.
            let problem = tampered(store.evidence_for(&[CHANGE]).unwrap_err());
            assert!(problem.contains("entry 0"), "{problem}");

            // An index column edited under a kept proof is caught as the row is read.
            let db = test_db();
            let store = open(&db);
            store.record(&approval()).unwrap();
            assert_eq!(store.evidence_for(&[CHANGE]).unwrap().len(), 1);
            store.execute_raw_for_tests("UPDATE log_entries SET recorded_by = 'mallory' WHERE idx = 0").unwrap();
            let problem = tampered(store.evidence_for(&[CHANGE]).unwrap_err());
            assert!(problem.contains("recorded_by"), "{problem}");
        }

        #[test]
        fn x04_a_log_rolled_back_under_a_kept_proof_is_caught_without_a_published_checkpoint() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 5);
            assert_eq!(store.evidence_for(&[CHANGE]).unwrap().len(), 5);
            // Remove the last two entries with their checkpoints and tree state: what is left
            // is a log the key signed, and only the kept proof knows it was longer.
            store.execute_raw_for_tests("DELETE FROM log_entries WHERE idx >= 3").unwrap();
            store.execute_raw_for_tests("DELETE FROM checkpoints WHERE tree_size > 3").unwrap();
            rebuild_tree_state(&store, &db);
            assert_eq!(open(&db).evidence_for(&[CHANGE]).unwrap().len(), 3, "a fresh store cannot tell");
            let problem = tampered(store.evidence_for(&[CHANGE]).unwrap_err());
            assert!(problem.contains("rolled back") && problem.contains("proved 5"), "{problem}");
        }

        #[test]
        fn x04_a_row_inserted_without_a_signature_is_tampered_evidence_never_an_approval() {
            let db = test_db();
            let store = open(&db);
            store.record(&approval()).unwrap();
            assert_eq!(store.all_change_evidence().unwrap().len(), 1);
            // The insider's approval: the same payload, no signature, at the next index.
            let entry: serde_json::Value = serde_json::from_slice(&store.entry(0).unwrap()).unwrap();
            let forged = serde_json::json!({"payload": entry["payload"], "payloadType": entry["payloadType"], "signatures": []});
            let bytes = serde_json::to_vec(&forged).unwrap();
            insert_raw_entry(&store, &db, 1, "approval", &bytes);
            let problem = tampered(store.all_change_evidence().unwrap_err());
            assert!(problem.contains("not covered by any signed checkpoint"), "{problem}");
            assert!(store.evidence_for(&[CHANGE]).is_err());
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(1), "{failure}");
        }

        #[test]
        fn x04_an_approval_hidden_by_nulling_its_change_id_is_tampered_evidence() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 2);
            store.record(&approval()).unwrap();
            store.execute_raw_for_tests("UPDATE log_entries SET change_id = NULL WHERE idx = 2").unwrap();
            let problem = tampered(store.all_change_evidence().unwrap_err());
            assert!(problem.contains("entry 2") && problem.contains("change_id"), "{problem}");
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(2), "{failure}");
            assert!(failure.problem.contains("change_id"), "{failure}");
            // Any other index column is caught the same way.
            for (column, value) in [("kind", "'check'"), ("recorded_by", "'mallory'")] {
                let db = test_db();
                let store = open(&db);
                store.record(&approval()).unwrap();
                store.execute_raw_for_tests(&format!("UPDATE log_entries SET {column} = {value} WHERE idx = 0")).unwrap();
                assert!(verify_failure(&store).problem.contains(column));
            }
        }

        #[test]
        fn x04_an_edited_recorded_at_fails_export_and_verify_instead_of_dropping_the_entry() {
            let db = test_db();
            let mut store = open(&db);
            fill(&store, 4);
            store.execute_raw_for_tests("UPDATE log_entries SET recorded_at = '2020-01-01T00:00:00Z' WHERE idx = 1").unwrap();
            let failure = verify_failure(&store);
            assert_eq!(failure.entry, Some(1), "{failure}");
            assert!(failure.problem.contains("recorded_at"), "{failure}");
            store.set_signer(signer(1)).unwrap();
            let out = package_path(&db);
            let err = package::export(&store, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", &out, &[]).unwrap_err();
            assert!(tampered(err).contains("recorded_at"));
            assert!(!out.exists(), "nothing is written");
        }

        #[test]
        fn x04_a_log_with_its_checkpoints_deleted_fails_verification_even_reordered_or_truncated() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 6);
            store.execute_raw_for_tests("DELETE FROM checkpoints").unwrap();
            let failure = verify_failure(&store);
            assert!(failure.problem.contains("no signed checkpoint"), "{failure}");
            // Renumbered and truncated on top: still no checkpoint, still a failure.
            delete_and_renumber(&store, 2);
            store.execute_raw_for_tests("DELETE FROM log_entries WHERE idx >= 4").unwrap();
            rebuild_tree_state(&store, &db);
            let failure = verify_failure(&store);
            assert!(failure.problem.contains("no signed checkpoint"), "{failure}");
            assert!(store.all_change_evidence().is_err());
        }

        #[test]
        fn x04_an_entry_replayed_beyond_the_newest_checkpoint_fails_verification() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 3);
            let bytes = store.entry(1).unwrap();
            insert_raw_entry(&store, &db, 3, "check", &bytes);
            for signatures in [true, false] {
                let options = countersign_log::AuditOptions { entry_signatures: signatures };
                let failure = store.verify(&signer(1).verifier(), options).unwrap().unwrap_err();
                assert_eq!(failure.entry, Some(3), "{failure}");
                assert!(failure.problem.contains("not covered by any signed checkpoint"), "{failure}");
            }
        }

        #[test]
        fn x04_an_altered_tree_node_or_log_state_fails_verification() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 6);
            store.execute_raw_for_tests(&format!("UPDATE tree_nodes SET hash = {} WHERE level = 1 AND idx = 1", blob(&db, &[0u8; 32]))).unwrap();
            let failure = verify_failure(&store);
            assert!(failure.problem.contains("tree node at level 1 index 1"), "{failure}");

            let db = test_db();
            let store = open(&db);
            fill(&store, 6);
            store.execute_raw_for_tests(&format!("UPDATE log_state SET frontier = {} WHERE id = 1", blob(&db, &[0u8; 64]))).unwrap();
            let failure = verify_failure(&store);
            assert!(failure.problem.contains("log state"), "{failure}");

            let db = test_db();
            let store = open(&db);
            fill(&store, 6);
            store.execute_raw_for_tests(&format!("INSERT INTO tree_nodes (level, idx, hash) VALUES (1, 40, {})", blob(&db, &[7u8; 32]))).unwrap();
            let failure = verify_failure(&store);
            assert!(failure.problem.contains("beyond the log"), "{failure}");
        }

        #[test]
        fn x04_the_appender_refuses_to_sign_over_a_laundered_log() {
            // Without the key: delete entry 5, renumber the rest, delete every checkpoint,
            // recompute the tree state. One honest append must not launder it.
            let db = test_db();
            let store = open(&db);
            fill(&store, 10);
            store.close();
            let store = Store::open(&db.url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).unwrap();
            delete_and_renumber(&store, 5);
            store.execute_raw_for_tests("DELETE FROM checkpoints").unwrap();
            rebuild_tree_state(&store, &db);
            store.close();
            let store = open(&db);
            let problem = tampered(store.record(&check(99)).unwrap_err());
            assert!(problem.contains("no signed checkpoint"), "{problem}");
            assert_eq!(store.tree_size().unwrap(), 9, "nothing was appended");
            store.close();

            // Keeping the checkpoints from before the deleted entry passes the store's own
            // check; a checkpoint published outside the database catches it.
            let db = test_db();
            let mut store = open(&db);
            let published = db.dir.path().join("published.checkpoint");
            store.set_publishers(vec![Box::new(countersign_store::publish::FilePublisher::new(&published))]).unwrap();
            fill(&store, 10);
            store.close();
            assert!(std::fs::read_to_string(&published).unwrap().contains("\n10\n"));
            let store = Store::open(&db.url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).unwrap();
            delete_and_renumber(&store, 5);
            store.execute_raw_for_tests("DELETE FROM checkpoints WHERE tree_size > 5").unwrap();
            rebuild_tree_state(&store, &db);
            store.close();
            let mut store = open(&db);
            store.set_publishers(vec![Box::new(countersign_store::publish::FilePublisher::new(&published))]).unwrap();
            let problem = tampered(store.record(&check(99)).unwrap_err());
            assert!(problem.contains("a checkpoint of size 10 was signed"), "{problem}");
            assert_eq!(store.tree_size().unwrap(), 9, "nothing was appended");
        }

        #[test]
        fn x04_a_zeroed_frontier_is_refused_before_a_wrong_root_is_signed() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 5);
            store.close();
            let store = open(&db);
            store.execute_raw_for_tests(&format!("UPDATE log_state SET frontier = {} WHERE id = 1", blob(&db, &[0u8; 64]))).unwrap();
            let problem = tampered(store.record(&check(9)).unwrap_err());
            assert!(problem.contains("root"), "{problem}");
            assert_eq!(store.tree_size().unwrap(), 5);
        }

        #[test]
        fn x04_proofs_built_from_a_corrupted_tree_node_are_refused_not_printed() {
            let db = test_db();
            let store = open(&db);
            fill(&store, 8);
            // The inclusion proof for entry 0 at size 8 uses node (level 2, index 1).
            store.execute_raw_for_tests(&format!("UPDATE tree_nodes SET hash = {} WHERE level = 2 AND idx = 1", blob(&db, &[1u8; 32]))).unwrap();
            let problem = tampered(store.inclusion_proof(0, None).unwrap_err());
            assert!(problem.contains("no proof was printed"), "{problem}");
            let problem = tampered(store.consistency_proof(3, None).unwrap_err());
            assert!(problem.contains("no proof was printed"), "{problem}");
            // Entry 5's proof does not use that node and is still given.
            store.inclusion_proof(5, None).unwrap();
        }

        #[test]
        fn x04_a_store_rolled_back_as_a_whole_is_caught_by_a_trusted_checkpoint() {
            let db = test_db();
            let mut store = open(&db);
            fill(&store, 5);
            let saved = store.latest_checkpoint().unwrap().unwrap();
            // Roll back to the state after 3 appends (a restored backup).
            store.execute_raw_for_tests("DELETE FROM log_entries WHERE idx >= 3").unwrap();
            store.execute_raw_for_tests("DELETE FROM checkpoints WHERE tree_size > 3").unwrap();
            rebuild_tree_state(&store, &db);
            assert!(store.verify(&signer(1).verifier(), Default::default()).unwrap().is_ok(), "invisible from inside");
            store.add_anchors(&[(saved, "saved.checkpoint".into())]).unwrap();
            let failure = verify_failure(&store);
            assert!(failure.problem.contains("rolled back") && failure.problem.contains("saved.checkpoint"), "{failure}");
            assert!(store.all_change_evidence().is_err());
        }

        #[test]
        fn x04_a_record_over_the_size_limit_is_refused_and_stores_nothing() {
            let db = test_db();
            let store = open(&db);
            let mut request = check(1);
            request.evidence = countersign_store::Evidence::ConsoleChange {
                system: "dns".into(),
                description: "x".repeat(300_000),
                changed_by: None,
                changed_at: None,
                ticket: None,
                fields: Default::default(),
            };
            request.change = None;
            match store.record(&request) {
                Err(StoreError::TooLarge { limit, .. }) => assert_eq!(limit, countersign_store::bounded::RECORD_LIMIT),
                other => panic!("expected TooLarge, got {other:?}"),
            }
            assert_eq!(store.tree_size().unwrap(), 0);
        }

        #[test]
        fn x04_a_fork_is_reported_with_both_roots() {
            // Two stores under one key agree on two entries, then diverge at size 3.
            let (a_db, b_db) = (test_db(), test_db());
            let (mut a, b) = (open(&a_db), open(&b_db));
            fill(&a, 3);
            fill(&b, 2);
            b.record(&check(99)).unwrap();
            let theirs = b.checkpoint(3).unwrap();
            let ours = Checkpoint::open(&a.checkpoint(3).unwrap(), &signer(1).verifier()).unwrap();
            let other = Checkpoint::open(&theirs, &signer(1).verifier()).unwrap();
            a.add_anchors(&[(theirs, "their copy".into())]).unwrap();
            let failure = verify_failure(&a);
            assert!(failure.problem.starts_with("fork"), "{failure}");
            assert!(failure.problem.contains(&hex(&ours.root)) && failure.problem.contains(&hex(&other.root)), "{failure}");
        }

        #[test]
        fn x04_a_log_of_many_chunks_verifies_and_its_tampering_is_caught_with_or_without_entry_signatures() {
            // More entries than one streamed chunk (8,192) holds, so the whole-log read
            // hands over several chunks of entries and of tree nodes.
            let db = test_db();
            let store = open(&db);
            let n = 20_000;
            for first in (0..n).step_by(2_000) {
                let batch: Vec<_> = (first..first + 2_000).map(check).collect();
                store.record_many(&batch).unwrap();
            }
            let verifier = signer(1).verifier();
            let modes = [true, false].map(|s| countersign_log::AuditOptions { entry_signatures: s });
            let summaries: Vec<_> = modes.iter().map(|o| store.verify(&verifier, *o).unwrap().unwrap()).collect();
            assert_eq!(summaries[0], summaries[1]);
            assert_eq!(summaries[0].entries, n as u64);
            assert_eq!(store.all_change_evidence().unwrap().len(), n);
            let fails = |store: &Store| -> Vec<countersign_log::VerifyFailure> {
                modes.iter().map(|o| store.verify(&verifier, *o).unwrap().expect_err("tampering must be detected")).collect()
            };
            // An index column edited in a later chunk: the same failure in both modes.
            store.execute_raw_for_tests("UPDATE log_entries SET recorded_by = 'mallory' WHERE idx = 17001").unwrap();
            let failures = fails(&store);
            assert_eq!(failures[0], failures[1]);
            assert_eq!(failures[0].entry, Some(17001), "{}", failures[0]);
            assert!(failures[0].problem.contains("recorded_by"), "{}", failures[0]);
            store.execute_raw_for_tests("UPDATE log_entries SET recorded_by = 'tester' WHERE idx = 17001").unwrap();
            store.execute_raw_for_tests("UPDATE log_entries SET kind = 'approval' WHERE idx = 9000").unwrap();
            let failures = fails(&store);
            assert_eq!((failures[0].entry, failures[1].entry), (Some(9000), Some(9000)));
            assert!(failures[1].problem.contains("kind"), "{}", failures[1]);
            store.execute_raw_for_tests("UPDATE log_entries SET kind = 'check' WHERE idx = 9000").unwrap();
            store.verify(&verifier, modes[1]).unwrap().unwrap();
            // A stored tree node in a later chunk of nodes.
            store.execute_raw_for_tests(&format!("UPDATE tree_nodes SET hash = {} WHERE level = 1 AND idx = 9000", blob(&db, &[0u8; 32]))).unwrap();
            let failures = fails(&store);
            assert_eq!(failures[0], failures[1]);
            assert!(failures[0].problem.contains("tree node at level 1 index 9000"), "{}", failures[0]);
            // A deleted row, then a row moved into its place, far into the log (caught at
            // the row, before the leaves the altered node covers).
            store.execute_raw_for_tests("DELETE FROM log_entries WHERE idx = 12345").unwrap();
            let failures = fails(&store);
            assert_eq!(failures[0], failures[1]);
            assert_eq!(failures[0].entry, Some(12345), "{}", failures[0]);
            assert!(failures[0].problem.contains("missing"), "{}", failures[0]);
            // Its leaf hash matches its bytes, so the root of the checkpoint over it catches it.
            store.execute_raw_for_tests("UPDATE log_entries SET idx = 12345 WHERE idx = 19999").unwrap();
            let failures = fails(&store);
            assert_eq!(failures[0], failures[1]);
            assert!(failures[0].entry.is_some_and(|e| e <= 12345), "{}", failures[0]);
            assert!(failures[0].problem.contains("reordered or removed"), "{}", failures[0]);
        }

        #[test]
        fn two_stores_appending_in_turn_see_each_others_entries() {
            // Each store's committer remembers the state it last wrote; the other store's
            // appends make it stale every time, so every append takes the locked path.
            let db = test_db();
            let a = open(&db);
            let b = open(&db);
            let mut acked = Vec::new();
            for i in 0..12 {
                let store = if i % 3 == 0 { &b } else { &a };
                let mut request = check(i);
                let key = format!("k-{}", i / 2);
                request.idempotency_key = Some(key.clone());
                let outcome = store.record(&request).unwrap();
                if let AppendOutcome::Appended(index) = outcome {
                    acked.push((index, key));
                }
            }
            // A key recorded by the other store is found, not appended twice.
            let mut again = check(100);
            again.idempotency_key = Some("k-0".into());
            assert!(matches!(b.record(&again).unwrap(), AppendOutcome::AlreadyRecorded(0)));
            assert_clean_log(&a, &acked, 6);
            for size in 1..=6u64 {
                a.checkpoint(size).unwrap();
            }
        }

        #[test]
        fn eight_writer_threads_append_without_gaps_forks_or_duplicates() {
            let db = test_db();
            let store = open(&db);
            let total = stress_entries();
            let acked = std::sync::Mutex::new(Vec::new());
            std::thread::scope(|scope| {
                for t in 0..8 {
                    let (store, acked) = (&store, &acked);
                    scope.spawn(move || {
                        for i in (t..total).step_by(8) {
                            let mut request = check(i);
                            request.idempotency_key = Some(format!("t-{i}"));
                            let index = store.record(&request).unwrap().index();
                            acked.lock().unwrap().push((index, format!("t-{i}")));
                        }
                    });
                }
            });
            assert_clean_log(&store, &acked.into_inner().unwrap(), total);
        }

        /// Regression: a verdict's proven scan that runs while appends commit found the tree
        /// nodes of the newest entries "missing" (they were read in an older snapshot than
        /// the entries) and reported tampering; the server's evaluator met it under load.
        /// Scans that race appenders must all succeed, and each sees a whole prefix.
        #[test]
        fn a_proven_scan_beside_concurrent_appends_never_reports_tampering() {
            let db = test_db();
            let store = open(&db);
            let done = std::sync::atomic::AtomicBool::new(false);
            let scans = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|scope| {
                let (store, done, scans) = (&store, &done, &scans);
                for t in 0..2 {
                    scope.spawn(move || {
                        for i in (t..300).step_by(2) {
                            store.record(&check(i)).unwrap();
                        }
                        if t == 0 {
                            done.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                    });
                }
                scope.spawn(move || {
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        let mut seen = Vec::new();
                        let size = store.proven_scan(&mut |e, _| seen.push(e.index)).unwrap_or_else(|e| panic!("scan {}: {e}", scans.load(std::sync::atomic::Ordering::SeqCst)));
                        assert_eq!(seen, (0..size).collect::<Vec<_>>(), "a whole prefix");
                        scans.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            });
            assert!(scans.load(std::sync::atomic::Ordering::SeqCst) > 0, "no scan ran beside the appends");
            assert_eq!(store.proven_scan(&mut |_, _| {}).unwrap(), 300);
        }

        /// The API's tables: a token is found by its secret, never stored in clear, and
        /// refused once revoked; evaluations filter and page on both backends.
        #[test]
        fn api_tokens_and_evaluations() {
            let db = test_db();
            let store = open(&db);
            let new = store.create_token(countersign_store::Role::Recorder, "rick@example.com", Some("ci")).unwrap();
            let caller = store.authenticate(&new.token).unwrap().expect("the token authenticates");
            assert_eq!((caller.role, caller.person.as_str()), (countersign_store::Role::Recorder, "rick@example.com"));
            let forged = format!("{}0", &new.token[..new.token.len() - 1]);
            let forged = if forged == new.token { format!("{}1", &new.token[..new.token.len() - 1]) } else { forged };
            assert!(store.authenticate(&forged).unwrap().is_none(), "another secret with the same id");
            let rows = store.tokens().unwrap();
            assert_eq!(rows.len(), 1);
            assert!(!format!("{rows:?}").contains(&new.token[12..]), "the secret is not stored");
            assert!(store.revoke_token(&new.token_id).unwrap());
            assert!(!store.revoke_token(&new.token_id).unwrap());
            assert!(store.authenticate(&new.token).unwrap().is_none(), "a revoked token is refused");

            for (id, repo, verdict) in [("a/x#1", "a/x", "violation"), ("a/x#2", "a/x", "compliant"), ("b/y#1", "b/y", "violation")] {
                let row = countersign_store::EvaluationRow {
                    change_id: id.into(), repository: repo.into(), verdict: verdict.into(), category: "standard".into(),
                    head_sha: "0".repeat(40), authors: "[\"alice\"]".into(), evaluated_at: String::new(), evaluation: "{}".into(),
                };
                store.save_evaluation(&row).unwrap();
            }
            let list = |f: countersign_store::EvaluationFilter| {
                store.evaluations(&countersign_store::EvaluationFilter { limit: f.limit.max(1), ..f })
                    .unwrap()
                    .into_iter()
                    .map(|r| r.change_id)
                    .collect::<Vec<_>>()
            };
            assert_eq!(list(Default::default()), ["a/x#1"]);
            assert_eq!(list(countersign_store::EvaluationFilter { limit: 10, ..Default::default() }), ["a/x#1", "a/x#2", "b/y#1"]);
            let violations = countersign_store::EvaluationFilter { verdict: Some("violation".into()), limit: 10, ..Default::default() };
            assert_eq!(list(violations.clone()), ["a/x#1", "b/y#1"]);
            assert_eq!(list(countersign_store::EvaluationFilter { after: Some("a/x#1".into()), ..violations }), ["b/y#1"]);
            assert_eq!(list(countersign_store::EvaluationFilter { repository: Some("b/y".into()), limit: 10, ..Default::default() }), ["b/y#1"]);
            let future = countersign_store::EvaluationFilter { since: Some("2999-01-01T00:00:00Z".into()), limit: 10, ..Default::default() };
            assert!(list(future).is_empty());
        }

        /// The pages' tables: a password is kept only as its Argon2id hash; a session is
        /// found by its cookie, never stored in clear, and ends when it expires, when its
        /// person signs out, is disabled or gets a new password; each `log verify` is kept.
        #[test]
        fn accounts_sessions_and_verifications() {
            use countersign_store::Role;
            let db = test_db();
            let store = open(&db);
            let hours = jiff::SignedDuration::from_hours(1);
            assert!(store.create_account("april@example.com", Role::Approver, "a long passphrase").unwrap());
            assert!(!store.create_account("april@example.com", Role::Admin, "another long one").unwrap(), "one account per person");
            let rows = store.accounts().unwrap();
            assert_eq!((rows.len(), rows[0].role.as_str()), (1, "approver"));
            assert!(store.sign_in("april@example.com", "a long passphrasE", hours).unwrap().is_none());
            assert!(store.sign_in("nobody@example.com", "a long passphrase", hours).unwrap().is_none());
            let new = store.sign_in("april@example.com", "a long passphrase", hours).unwrap().expect("signed in");
            let session = store.session(&new.cookie).unwrap().expect("a live session");
            assert_eq!((session.person.as_str(), session.role, session.csrf.as_str()), ("april@example.com", Role::Approver, new.csrf.as_str()));
            assert!(store.session(&"0".repeat(64)).unwrap().is_none());
            assert!(store.session("not a cookie").unwrap().is_none());
            // An expired session is refused.
            let gone = store.sign_in("april@example.com", "a long passphrase", jiff::SignedDuration::from_secs(-1)).unwrap().unwrap();
            assert!(store.session(&gone.cookie).unwrap().is_none(), "expired");
            // Signing out ends only that session.
            let other = store.sign_in("april@example.com", "a long passphrase", hours).unwrap().unwrap();
            store.end_session(&new.cookie).unwrap();
            assert!(store.session(&new.cookie).unwrap().is_none());
            assert!(store.session(&other.cookie).unwrap().is_some());
            // A new password ends every session; disabling refuses sign-in and sessions.
            assert!(store.set_password("april@example.com", "a new long passphrase").unwrap());
            assert!(store.session(&other.cookie).unwrap().is_none());
            let again = store.sign_in("april@example.com", "a new long passphrase", hours).unwrap().unwrap();
            assert!(store.disable_account("april@example.com").unwrap());
            assert!(!store.disable_account("april@example.com").unwrap());
            assert!(store.session(&again.cookie).unwrap().is_none());
            assert!(store.sign_in("april@example.com", "a new long passphrase", hours).unwrap().is_none());
            assert!(!store.set_password("nobody@example.com", "a long passphrase").unwrap());

            // Five wrong passwords in a row lock an account: then even the right one fails.
            assert!(store.create_account("bruno@example.com", Role::Viewer, "a long passphrase").unwrap());
            for _ in 0..4 {
                assert!(store.sign_in("bruno@example.com", "guess guess guess", hours).unwrap().is_none());
            }
            assert!(store.sign_in("bruno@example.com", "a long passphrase", hours).unwrap().is_some(), "four do not lock");
            for _ in 0..4 {
                assert!(store.sign_in("bruno@example.com", "guess guess guess", hours).unwrap().is_none());
            }
            let reset = store.sign_in("bruno@example.com", "a long passphrase", hours).unwrap();
            assert!(reset.is_some(), "a sign-in starts the count again: eight failures, none five in a row");
            for _ in 0..5 {
                assert!(store.sign_in("bruno@example.com", "guess guess guess", hours).unwrap().is_none());
            }
            assert!(store.sign_in("bruno@example.com", "a long passphrase", hours).unwrap().is_none(), "locked");

            assert!(store.last_verification().unwrap().is_none());
            store.record_verification(5, true, "5 entries").unwrap();
            store.record_verification(5, false, "entry 3: leaf hash differs").unwrap();
            let last = store.last_verification().unwrap().unwrap();
            assert_eq!((last.entries, last.ok), (5, false));
        }

        #[test]
        fn an_exported_package_verifies_offline_and_edits_are_caught() {
            let db = test_db();
            let store = open(&db);
            store.publish_policy("2026.1", "# policy\nreviews: 1\n", "lead", "2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
            fill(&store, 6);
            let out = package_path(&db);
            let summary = package::export(&store, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", &out, &[]).unwrap();
            assert_eq!(summary.entries, 7);
            assert_eq!(summary.policy_version.as_deref(), Some("2026.1"));
            drop(store);
            let verifier = signer(1).verifier();
            let ok = package::verify_package(&out, Some(&verifier), &[]).unwrap().unwrap();
            assert_eq!(ok.entries, 7);
            // Another trusted key: refused.
            assert!(package::verify_package(&out, Some(&signer(2).verifier()), &[]).unwrap().is_err());
            // An edited manifest: refused.
            let edited = rewrite_package(&out, "manifest.json", |m| String::from_utf8(m.to_vec()).unwrap().replace("2026.1", "2026.2").into_bytes());
            let failure = package::verify_package(&edited, Some(&verifier), &[]).unwrap().unwrap_err();
            assert!(failure.problem.contains("manifest.json was modified"), "{failure}");
            // An edited entry: refused, naming the entry.
            let edited = rewrite_package(&out, "entries/3.dsse.json", |e| {
                let mut e = e.to_vec();
                e[40] ^= 1;
                e
            });
            let failure = package::verify_package(&edited, Some(&verifier), &[]).unwrap().unwrap_err();
            assert_eq!(failure.entry, Some(3), "{failure}");
        }
    };
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How many entries the concurrency tests append (default 10,000; override with
/// COUNTERSIGN_STRESS_ENTRIES).
pub fn stress_entries() -> usize {
    std::env::var("COUNTERSIGN_STRESS_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// Copy a package, replacing one file's contents.
pub fn rewrite_package(path: &Path, name: &str, edit: impl Fn(&[u8]) -> Vec<u8>) -> PathBuf {
    use std::io::Read as _;
    let out = path.with_file_name(format!("edited-{}.tar", name.replace('/', "_")));
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut builder = tar::Builder::new(std::fs::File::create(&out).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let entry_path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if entry_path.ends_with(&format!("/{name}")) {
            data = edit(&data);
        }
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, entry_path, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap();
    out
}
