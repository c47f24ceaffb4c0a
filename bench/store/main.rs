//! Evidence store benchmarks (not timed tests). Run with
//! `cargo bench -p countersign-store --bench store [sqlite|postgres|verify|crypto|probe]` (add COUNTERSIGN_TEST_POSTGRES_URL for
//! the PostgreSQL figures; COUNTERSIGN_BENCH_VERIFY_ENTRIES to change the 1,000,000).
//!
//! Figures: durable appends/s on SQLite with 1 writer and with 8 writer threads (group
//! commit), each against a plain sqlx insert loop with the same durability (WAL,
//! synchronous=FULL, one transaction per insert), run in alternating rounds so both see the
//! same disk; per-operation Ed25519 and SHA-256 costs (`crypto`); the same on PostgreSQL; `log verify` on a
//! 1,000,000-entry log; an inclusion proof for one entry of that log.

use std::time::{Duration, Instant};

use countersign_log::audit::AuditOptions;
use countersign_log::note::LogSigner;
use countersign_store::evidence::{CheckOutcome, Evidence, RecordRequest};
use countersign_store::{ChangeRef, OpenOptions, Store};

fn signer() -> LogSigner {
    LogSigner::from_seed("bench.countersign.dev/log", &[5; 32]).expect("valid name")
}

fn request(i: usize) -> RecordRequest {
    RecordRequest {
        change: Some("pr#1".into()),
        recorded_by: "bench".into(),
        recorded_at: "2026-01-01T00:00:00Z".parse().expect("valid time"),
        idempotency_key: None,
        evidence: Evidence::Check {
            name: format!("ci-{i}"),
            status: CheckOutcome::Success,
            commit: None,
            url: Some("https://ci.example.com/run/123456".into()),
            delivery: None,
        },
    }
}

fn open(url: &str) -> Store {
    let mut store = Store::open(url, &OpenOptions { create: true, clock: jiff::Timestamp::now }).expect("open store");
    store.set_signer(signer()).expect("signer");
    store.upsert_changes(&[ChangeRef { id: "pr#1".into(), ..ChangeRef::default() }]).expect("change");
    store
}

/// `count` appends numbered from `first`, by `writers` threads; returns the elapsed time.
fn appends(store: &Store, writers: usize, first: usize, count: usize) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..writers {
            scope.spawn(move || {
                for i in (first + w..first + count).step_by(writers) {
                    store.record(&request(i)).expect("append");
                }
            });
        }
    });
    start.elapsed()
}

/// A plain insert loop with the same durability: WAL, synchronous=FULL, one transaction
/// per row, rows the size of an entry, `writers` concurrent connections.
struct Plain {
    rt: tokio::runtime::Runtime,
    pool: sqlx::SqlitePool,
}

impl Plain {
    fn open(path: &std::path::Path, writers: usize) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let pool = rt.block_on(async {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(60));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(writers as u32)
                .connect_with(opts)
                .await
                .expect("pool");
            sqlx::query("CREATE TABLE t (idx INTEGER PRIMARY KEY, body BLOB NOT NULL)")
                .execute(&pool)
                .await
                .expect("table");
            pool
        });
        Self { rt, pool }
    }

    fn run(&self, writers: usize, first: usize, count: usize) -> Duration {
        self.rt.block_on(async {
            let body = vec![b'x'; 700];
            let start = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..writers {
                let (pool, body) = (self.pool.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    for i in (first + w..first + count).step_by(writers) {
                        let mut tx = pool.begin().await.expect("begin");
                        sqlx::query("INSERT INTO t (idx, body) VALUES ($1, $2)")
                            .bind(i as i64)
                            .bind(&body)
                            .execute(&mut *tx)
                            .await
                            .expect("insert");
                        tx.commit().await.expect("commit");
                    }
                }));
            }
            for t in tasks {
                t.await.expect("task");
            }
            start.elapsed()
        })
    }
}

/// The store and the plain loop in alternating rounds, so both see the same (shared,
/// noisy) disk: (store appends/s, plain inserts/s).
fn compare(store: &Store, plain: &Plain, writers: usize, total: usize) -> (f64, f64) {
    const ROUNDS: usize = 8;
    let per = total / ROUNDS;
    let (mut ours, mut theirs) = (Duration::ZERO, Duration::ZERO);
    for r in 0..ROUNDS {
        ours += appends(store, writers, r * per, per);
        theirs += plain.run(writers, r * per, per);
    }
    ((per * ROUNDS) as f64 / ours.as_secs_f64(), (per * ROUNDS) as f64 / theirs.as_secs_f64())
}

/// CPU time (user + system) this process has used so far, from /proc (Linux), in seconds:
/// on a shared machine, wall time alone says little about a CPU-bound run.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime), in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

fn pg_database(base: &str, name: &str) -> String {
    let run = |sql: &str| std::process::Command::new("psql").arg(base).args(["-q", "-c", sql]).status().expect("psql");
    run(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    run(&format!("CREATE DATABASE {name}"));
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    format!("{prefix}/{name}")
}

fn main() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-store");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let fresh = |name: &str| {
        let path = dir.join(name);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    };
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let want = |name: &str| only.as_deref().is_none_or(|o| o == name);

    if want("sqlite") {
        let (one, plain_one) =
            compare(&open(fresh("one.db").to_str().expect("utf-8")), &Plain::open(&fresh("plain-one.db"), 1), 1, 2_000);
        println!(
            "sqlite  1 writer : {one:>8.0} appends/s   plain insert loop {plain_one:>8.0}/s   ratio {:.2}",
            one / plain_one
        );
        let (eight, plain_eight) = compare(
            &open(fresh("eight.db").to_str().expect("utf-8")),
            &Plain::open(&fresh("plain-eight.db"), 8),
            8,
            16_000,
        );
        println!(
            "sqlite  8 writers: {eight:>8.0} appends/s   plain insert loop {plain_eight:>8.0}/s   ratio {:.2}",
            eight / plain_eight
        );
    }

    if want("crypto") {
        // Per-operation costs on this machine (one thread), to explain the verify figure.
        let signer = signer();
        let verifier = signer.verifier();
        let messages: Vec<Vec<u8>> = (0..4096)
            .map(|i| format!("DSSEv1 28 application/vnd.in-toto+json 600 {}", "x".repeat(560 + i % 40)).into_bytes())
            .collect();
        let sigs: Vec<[u8; 64]> = messages.iter().map(|m| signer.sign_raw(m)).collect();
        let per = |start: Instant, n: usize| start.elapsed().as_secs_f64() * 1e6 / n as f64;
        let start = Instant::now();
        for m in &messages {
            std::hint::black_box(signer.sign_raw(m));
        }
        let sign = per(start, messages.len());
        let start = Instant::now();
        for (m, s) in messages.iter().zip(&sigs) {
            assert!(verifier.verify_raw(m, s));
        }
        let single = per(start, messages.len());
        let mut line = format!("ed25519 (1 thread): sign {sign:.1} us, verify {single:.1} us");
        for batch in [64usize, 256, 1024, 4096] {
            let start = Instant::now();
            for (m, s) in messages.chunks(batch).zip(sigs.chunks(batch)) {
                let refs: Vec<&[u8]> = m.iter().map(|m| m.as_slice()).collect();
                assert!(verifier.verify_batch(&refs, s));
            }
            line.push_str(&format!(", batch of {batch} {:.1} us/sig", per(start, messages.len())));
        }
        let start = Instant::now();
        for m in &messages {
            std::hint::black_box(countersign_log::merkle::leaf_hash(m));
        }
        line.push_str(&format!(", sha-256 leaf of ~620 B {:.2} us", per(start, messages.len())));
        println!("{line}");
    }

    if want("probe") {
        // Where one single-writer append's time goes, outside the commit.
        let store = open(fresh("probe.db").to_str().expect("utf-8"));
        let n = 2_000;
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(store.resolve_change("pr#1").expect("resolve"));
        }
        let resolve = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        let one = appends(&store, 1, 0, n).as_secs_f64() * 1e6 / n as f64;
        println!("probe: resolve_change {resolve:.0} us, record (1 writer) {one:.0} us");
    }

    if want("postgres") {
        match std::env::var("COUNTERSIGN_TEST_POSTGRES_URL") {
            Ok(base) if !base.is_empty() => {
                let one = 2_000.0 / appends(&open(&pg_database(&base, "cs_bench_one")), 1, 0, 2_000).as_secs_f64();
                let eight =
                    16_000.0 / appends(&open(&pg_database(&base, "cs_bench_eight")), 8, 0, 16_000).as_secs_f64();
                println!("postgres 1 writer : {one:>8.0} appends/s");
                println!("postgres 8 writers: {eight:>8.0} appends/s");
            }
            _ => println!("postgres: skipped (set COUNTERSIGN_TEST_POSTGRES_URL)"),
        }
    }

    if want("verify") {
        let n: usize =
            std::env::var("COUNTERSIGN_BENCH_VERIFY_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
        let path = dir.join(format!("verify-{n}.db"));
        let url = path.to_str().expect("utf-8").to_owned();
        let existing = path.exists()
            && Store::open(&url, &OpenOptions { create: false, clock: jiff::Timestamp::now })
                .and_then(|s| s.tree_size())
                .map(|s| s as usize == n)
                .unwrap_or(false);
        if !existing {
            let path = fresh(&format!("verify-{n}.db"));
            let store = open(path.to_str().expect("utf-8"));
            let start = Instant::now();
            const BATCH: usize = 10_000;
            for b in (0..n).step_by(BATCH) {
                let batch: Vec<RecordRequest> = (b..(b + BATCH).min(n)).map(request).collect();
                store.record_many(&batch).expect("bulk append");
            }
            eprintln!("built a {n}-entry log in {:.1}s", start.elapsed().as_secs_f64());
        }
        let store = Store::open(&url, &OpenOptions { create: false, clock: jiff::Timestamp::now }).expect("open");
        let verifier = signer().verifier();
        // COUNTERSIGN_BENCH_VERIFY_SIGNATURES=none times only the run without entry
        // signatures (for a profile of that path alone).
        let only_none = std::env::var("COUNTERSIGN_BENCH_VERIFY_SIGNATURES").is_ok_and(|v| v == "none");
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let summary = if only_none {
            store.verify(&verifier, AuditOptions { entry_signatures: false })
        } else {
            store.verify(&verifier, AuditOptions { entry_signatures: true })
        }
        .expect("read")
        .expect("verifies");
        let (full, full_cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        let (start, cpu) = (Instant::now(), cpu_seconds());
        store.verify(&verifier, AuditOptions { entry_signatures: false }).expect("read").expect("verifies");
        let (no_sigs, no_sigs_cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "log verify {} entries ({} checkpoints): {full:.2}s = {:.0} entries/s (CPU {full_cpu:.1}s = {:.1} us/entry); without entry signatures {no_sigs:.2}s = {:.0} entries/s (CPU {no_sigs_cpu:.1}s)",
            summary.entries,
            summary.checkpoints,
            n as f64 / full,
            full_cpu * 1e6 / n as f64,
            n as f64 / no_sigs,
        );
        let rounds = 1_000u64;
        let mut seed = 0x2545f4914f6cdd1du64;
        let start = Instant::now();
        for _ in 0..rounds {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let proof = store.inclusion_proof(seed % n as u64, None).expect("proof");
            std::hint::black_box(proof);
        }
        println!(
            "inclusion proof in a {n}-entry log: {:.3} ms each (mean of {rounds})",
            start.elapsed().as_secs_f64() * 1000.0 / rounds as f64
        );
    }
}
