//! The store suite on SQLite, plus SQLite-only tests: writer processes and kill -9.

mod common;

fn test_db() -> common::TestDb {
    common::TestDb::sqlite()
}

suite!();

#[test]
fn eight_writer_processes_append_without_gaps_forks_or_duplicates() {
    let db = test_db();
    let store = open(&db);
    // Separate processes serialize on SQLite's write lock with one fsync per append, so
    // this uses a fifth of the target figure to stay well under a minute.
    let per_process = stress_entries() / 8 / 5;
    let acked = run_writer_processes(&db, 8, per_process, 1);
    assert_clean_log(&store, &acked, per_process * 8);
}

#[test]
fn two_stores_on_one_file_taking_turns_append_in_order_and_verify() {
    // Each store's committer appends on its own connection while it knows the log state it
    // last wrote; after the other store appended, that state has moved, and the append
    // reads and proves the state first. Turns alternate, so every append but the first
    // two finds the state moved.
    let db = test_db();
    let (first, second) = (open(&db), open(&db));
    let mut acked = Vec::new();
    for i in 0..20 {
        for (n, store) in [(0, &first), (1, &second)] {
            let mut request = check(2 * i + n);
            request.idempotency_key = Some(format!("turn-{i}-{n}"));
            match store.record(&request).unwrap() {
                countersign_store::AppendOutcome::Appended(index) => acked.push((index, format!("turn-{i}-{n}"))),
                other => panic!("a new key must be appended, got {other:?}"),
            }
        }
    }
    assert_eq!(acked.iter().map(|(index, _)| *index).collect::<Vec<_>>(), (0..40).collect::<Vec<u64>>());
    assert_clean_log(&first, &acked, 40);
    // A key the other store appended is answered with its entry by this one.
    let mut again = check(0);
    again.idempotency_key = Some("turn-3-1".into());
    assert_eq!(first.record(&again).unwrap(), countersign_store::AppendOutcome::AlreadyRecorded(7));
}

#[test]
fn acknowledged_appends_survive_kill_9_at_random_points() {
    use std::io::BufRead as _;
    let db = test_db();
    let store = open(&db);
    let key = write_key(&db);
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for round in 0..100 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = std::time::Duration::from_millis(30 + seed % 120);
        let mut child = std::process::Command::new(writer_exe())
            .args([db.url.as_str(), key.to_str().unwrap(), CHANGE, "1000000", &format!("r{round}"), "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            std::io::BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>()
        });
        std::thread::sleep(delay);
        // SIGKILL: no chance to flush or clean up.
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        acked.extend(parse_acks(&lines.join("\n")));
        if round % 10 == 9 {
            store.verify(&signer(1).verifier(), Default::default()).unwrap().unwrap();
        }
    }
    assert!(!acked.is_empty(), "the writers acknowledged something");
    let reopened = countersign_store::Store::open(
        &db.url,
        &countersign_store::OpenOptions { create: false, clock: jiff::Timestamp::now },
    )
    .unwrap();
    let summary = reopened.verify(&signer(1).verifier(), Default::default()).unwrap().unwrap();
    for (index, key) in &acked {
        assert!(*index < summary.entries, "acknowledged entry {index} is gone");
        let entry = String::from_utf8(reopened.entry(*index).unwrap()).unwrap();
        let statement = countersign_log::dsse::statement_unverified(entry.as_bytes()).unwrap();
        assert_eq!(statement.predicate["idempotencyKey"], *key, "entry {index} holds what was acknowledged");
    }
}

#[test]
fn extracting_a_package_with_a_path_traversal_entry_writes_nothing_outside() {
    let db = test_db();
    let evil = db.dir.path().join("evil.tar");
    {
        let mut builder = tar::Builder::new(std::fs::File::create(&evil).unwrap());
        let data = b"pwned";
        let mut header = tar::Header::new_gnu();
        // tar::Builder refuses `..` paths, so write the name field by hand.
        let name = b"countersign-evidence/../../escaped.txt";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, &data[..]).unwrap();
        builder.into_inner().unwrap();
    }
    let target = db.dir.path().join("a").join("b");
    std::fs::create_dir_all(&target).unwrap();
    let result = countersign_store::package::extract_package(&evil, &target).unwrap();
    assert!(result.unwrap_err().problem.contains("unsafe path"));
    assert!(!db.dir.path().join("escaped.txt").exists());
    assert!(!db.dir.path().join("a").join("escaped.txt").exists());
    let verdict = countersign_store::package::verify_package(&evil, None, &[]).unwrap();
    assert!(verdict.unwrap_err().problem.contains("unsafe path"));
}
