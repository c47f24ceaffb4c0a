//! `probe`: the store alone, without HTTP. `tasks` tasks call `AsyncStore::accept_delivery`
//! back to back (closed loop) for the step's duration, on a runtime that runs nothing else,
//! so the figure is what the store's group committer can take when no request handler
//! competes with it for the runtime's threads. Used to tell where the server's ceiling is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use countersign_store::{AsyncStore, DeliveryOutcome, IncomingDelivery, OpenOptions, keys};

use crate::load::Payload;
use crate::targets::Database;

pub struct ProbeResult {
    pub accepted: u64,
    pub elapsed: Duration,
    pub mean_latency: Duration,
}

pub async fn accept_loop(
    database: &Database,
    dir: &std::path::Path,
    payloads: Arc<Vec<Payload>>,
    tasks: usize,
    duration: Duration,
    id_prefix: &str,
) -> anyhow::Result<ProbeResult> {
    let signer = keys::create_key(&dir.join("log.key"), "bench.countersign.dev/ingest")?;
    let mut store = AsyncStore::open(&database.url, &OpenOptions { create: true, clock: jiff::Timestamp::now }).await?;
    store.set_signer(signer).await?;
    let store = Arc::new(store);
    let (next, accepted, waited) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut joins = Vec::new();
    for _ in 0..tasks {
        let (store, payloads, next, accepted, waited, stop) =
            (store.clone(), payloads.clone(), next.clone(), accepted.clone(), waited.clone(), stop.clone());
        let prefix = id_prefix.to_owned();
        joins.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let payload = &payloads[(i % payloads.len() as u64) as usize];
                let delivery = IncomingDelivery {
                    forge: "github".into(),
                    delivery_id: crate::load::delivery_id(&prefix, i),
                    event: payload.event.into(),
                    body: payload.body.clone(),
                    headers: vec![("x-github-event".into(), payload.event.into())],
                    received_at: jiff::Timestamp::now(),
                };
                let began = Instant::now();
                let outcome = store.accept_delivery(delivery).await?;
                anyhow::ensure!(matches!(outcome, DeliveryOutcome::Accepted { .. }), "not accepted: {outcome:?}");
                waited.fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for join in joins {
        join.await??;
    }
    let elapsed = start.elapsed();
    store.close().await;
    let accepted = accepted.load(Ordering::Relaxed);
    Ok(ProbeResult {
        accepted,
        elapsed,
        mean_latency: Duration::from_micros(waited.load(Ordering::Relaxed) / accepted.max(1)),
    })
}
