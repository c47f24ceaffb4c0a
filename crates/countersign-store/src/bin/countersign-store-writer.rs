//! Test helper, not a user tool: a writer process for the store's crash and concurrency tests: appends `count` check
//! records about `change` (with `threads` threads) and prints `<index> <idempotency key>`
//! for every acknowledged append, flushing each line.
//!
//! usage: writer <database-url> <key-file> <change> <count> <name> [threads]

use std::io::Write as _;

use countersign_store::evidence::{CheckOutcome, Evidence, RecordRequest};
use countersign_store::{OpenOptions, Store, keys};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, key, change, count, name, rest @ ..] = args.as_slice() else {
        return Err("usage: writer <database-url> <key-file> <change> <count> <name> [threads]".into());
    };
    let count: usize = count.parse()?;
    let threads: usize = rest.first().map(|t| t.parse()).transpose()?.unwrap_or(1);
    let mut store = Store::open(url, &OpenOptions { create: false, clock: jiff::Timestamp::now })?;
    store.set_signer(keys::load_key(std::path::Path::new(key))?)?;
    let stdout = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (store, stdout) = (&store, &stdout);
            scope.spawn(move || {
                for i in (t..count).step_by(threads) {
                    let request = RecordRequest {
                        change: Some(change.clone()),
                        recorded_by: name.clone(),
                        // A fixed time: the stress tests look at indices and acknowledgments, not times.
                        recorded_at: "2026-01-02T03:04:05Z".parse().expect("a valid time"),
                        idempotency_key: Some(format!("{name}-{i}")),
                        evidence: Evidence::Check {
                            name: format!("ci-{i}"),
                            status: CheckOutcome::Success,
                            commit: None,
                            url: None,
                            delivery: None,
                        },
                    };
                    match store.record(&request) {
                        Ok(outcome) => {
                            let mut out = stdout.lock().expect("stdout lock");
                            let _ = writeln!(out, "{} {name}-{i}", outcome.index());
                            let _ = out.flush();
                        }
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            std::process::exit(3);
                        }
                    }
                }
            });
        }
    });
    Ok(())
}
