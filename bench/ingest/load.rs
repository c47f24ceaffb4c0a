//! The load generator: real GitHub payloads, signed as GitHub signs them, posted open-loop
//! at a fixed rate over keep-alive HTTP/1.1 connections.
//!
//! Open loop: request `i` is due at `start + i / rate` whether or not earlier ones were
//! answered, and its latency runs from that due time, so time spent waiting for a free
//! connection counts (no coordinated omission). A request unanswered `timeout` after its
//! due time is given up and counted as failed.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use hmac::{KeyInit as _, Mac as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The mix posted, in this order, over and over: (event, fixture under `github/`, copies).
/// Roughly what one busy pull request sends: pushes, CI results, a review, labels.
const MIX: &[(&str, &str, usize)] = &[
    ("pull_request", "pull_request/opened.payload.json", 1),
    ("check_run", "check_run/created.payload.json", 3),
    ("status", "status/payload.json", 2),
    ("check_run", "check_run/completed.payload.json", 3),
    ("check_suite", "check_suite/completed.payload.json", 1),
    ("pull_request", "pull_request/synchronize.payload.json", 2),
    ("pull_request", "pull_request/labeled.payload.json", 1),
    ("pull_request_review", "pull_request_review/submitted.payload.json", 1),
    ("push", "push/payload.json", 1),
    ("pull_request", "pull_request/closed.payload.json", 1),
];

/// One fixture, ready to post: its body and `X-Hub-Signature-256` value.
pub struct Payload {
    pub event: &'static str,
    pub file: &'static str,
    pub body: Vec<u8>,
    pub signature: String,
}

/// The mix, expanded (a fixture appears as often as its weight), each body signed with
/// `secret`. A body does not name its delivery id, so one signature serves every copy.
pub fn payloads(fixtures: &Path, secret: &[u8]) -> anyhow::Result<Vec<Payload>> {
    let mut out = Vec::new();
    for &(event, file, copies) in MIX {
        let path = fixtures.join(file);
        let body = std::fs::read(&path).with_context(|| {
            format!("cannot read the fixture {} (clone ../shared beside the repository)", path.display())
        })?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(&body);
        let signature: String =
            format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>());
        for _ in 0..copies {
            out.push(Payload { event, file, body: body.clone(), signature: signature.clone() });
        }
    }
    Ok(out)
}

/// How one step of load is shaped.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub addr: SocketAddr,
    pub path: &'static str,
    /// Requests per second offered.
    pub rate: u64,
    pub duration: Duration,
    /// At most this many requests in flight (each on its own connection).
    pub connections: usize,
    pub timeout: Duration,
    /// Delivery ids are this prefix and the request's number in 12 hex digits (a UUID).
    pub id_prefix: String,
}

/// What became of one request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub index: u64,
    /// The HTTP status, or `None` when the request failed or timed out.
    pub status: Option<u16>,
    /// From the request's due time to its answer (or to giving up).
    pub latency: Duration,
    /// When it ended, from the step's start.
    pub ended: Duration,
}

/// A step's requests, in the order they were due.
pub struct StepLoad {
    pub samples: Vec<Sample>,
    /// The first error text seen, to say why requests failed.
    pub first_error: Option<String>,
}

pub fn delivery_id(prefix: &str, index: u64) -> String {
    format!("{prefix}{index:012x}")
}

struct Shared {
    options: LoadOptions,
    payloads: Arc<Vec<Payload>>,
    slots: Semaphore,
    idle: Mutex<Vec<Connection>>,
    first_error: Mutex<Option<String>>,
    start: Instant,
}

/// Offer `options.rate` requests per second for `options.duration`, then wait for every
/// request to be answered or given up.
pub async fn run(options: LoadOptions, payloads: Arc<Vec<Payload>>) -> StepLoad {
    let total = (options.rate as f64 * options.duration.as_secs_f64()).round() as u64;
    let interval = 1.0 / options.rate as f64;
    let start = Instant::now() + Duration::from_millis(5);
    let shared = Arc::new(Shared {
        slots: Semaphore::new(options.connections),
        options,
        payloads,
        idle: Mutex::new(Vec::new()),
        first_error: Mutex::new(None),
        start,
    });
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0u64;
    tokio::time::sleep_until(start).await;
    while next < total {
        // Every request due by now is started, each stamped with its own due time, so a
        // late wake-up of this loop shows in the latencies instead of hiding.
        let due = ((start.elapsed().as_secs_f64() / interval).floor() as u64 + 1).min(total);
        while next < due {
            let intended = start + Duration::from_secs_f64(next as f64 * interval);
            tasks.spawn(request(shared.clone(), next, intended));
            next += 1;
        }
        if next < total {
            let wake = start + Duration::from_secs_f64(next as f64 * interval);
            tokio::time::sleep_until(wake.max(Instant::now() + Duration::from_micros(500))).await;
        }
    }
    let mut samples = Vec::with_capacity(total as usize);
    while let Some(joined) = tasks.join_next().await {
        samples.push(joined.expect("a request task does not panic"));
    }
    samples.sort_by_key(|s| s.index);
    let first_error = shared.first_error.lock().expect("not poisoned").clone();
    // Dropping the last `Shared` closes the idle connections, so the server can stop.
    drop(shared);
    StepLoad { samples, first_error }
}

async fn request(shared: Arc<Shared>, index: u64, intended: Instant) -> Sample {
    tokio::time::sleep_until(intended).await;
    let payload = &shared.payloads[(index % shared.payloads.len() as u64) as usize];
    let o = &shared.options;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: GitHub-Hookshot/bench\r\nAccept: */*\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\nX-GitHub-Event: {event}\r\n\
         X-GitHub-Delivery: {id}\r\nX-GitHub-Hook-ID: 4242\r\n\
         X-GitHub-Hook-Installation-Target-Type: repository\r\nX-GitHub-Hook-Installation-Target-ID: 186853002\r\n\
         X-Hub-Signature-256: {signature}\r\n\r\n",
        path = o.path,
        addr = o.addr,
        len = payload.body.len(),
        event = payload.event,
        id = delivery_id(&o.id_prefix, index),
        signature = payload.signature,
    );
    let exchange = async {
        let _slot = shared.slots.acquire().await.expect("the semaphore is never closed");
        let idle = shared.idle.lock().expect("not poisoned").pop();
        let mut connection = match idle {
            Some(c) => c,
            None => Connection::open(o.addr).await?,
        };
        let (status, keep_alive) = connection.exchange(head.as_bytes(), &payload.body).await?;
        if keep_alive {
            shared.idle.lock().expect("not poisoned").push(connection);
        }
        Ok::<u16, io::Error>(status)
    };
    let status = match tokio::time::timeout_at(intended + o.timeout, exchange).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            shared.first_error.lock().expect("not poisoned").get_or_insert_with(|| e.to_string());
            None
        }
        Err(_) => {
            shared
                .first_error
                .lock()
                .expect("not poisoned")
                .get_or_insert_with(|| format!("no answer within {:?}", o.timeout));
            None
        }
    };
    let now = Instant::now();
    Sample { index, status, latency: now.saturating_duration_since(intended), ended: now - shared.start }
}

/// A keep-alive HTTP/1.1 connection, just enough of a client for these two servers: one
/// request at a time, answers with a `Content-Length`.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        // The head and body are two writes: without this, Nagle's algorithm holds the
        // body back until the head is acknowledged.
        stream.set_nodelay(true)?;
        Ok(Self { stream, buf: Vec::with_capacity(1024) })
    }

    /// Send one request; returns the answer's status and whether the connection stays open.
    async fn exchange(&mut self, head: &[u8], body: &[u8]) -> io::Result<(u16, bool)> {
        self.stream.write_all(head).await?;
        self.stream.write_all(body).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(io::Error::other("an answer's head is over 64 KiB"));
            }
            self.read_more().await?;
        };
        let text = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| io::Error::other("a non-UTF-8 head"))?;
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| io::Error::other("no status line"))?;
        let (mut length, mut keep_alive) = (None, true);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(io::Error::other("a chunked answer (this client reads Content-Length only)"));
            }
        }
        let length = length.ok_or_else(|| io::Error::other("an answer without Content-Length"))?;
        while self.buf.len() < head_end + length {
            self.read_more().await?;
        }
        Ok((status, keep_alive))
    }

    async fn read_more(&mut self) -> io::Result<()> {
        self.buf.reserve(8192);
        match self.stream.read_buf(&mut self.buf).await? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")),
            _ => Ok(()),
        }
    }
}

/// Post each distinct payload once and return the statuses, to check before measuring
/// that every fixture in the mix is accepted (200), not ignored (202) or refused.
pub async fn preflight(
    addr: SocketAddr,
    path: &'static str,
    payloads: &[Payload],
    id_prefix: &str,
) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        if seen.contains(&p.file) {
            continue;
        }
        seen.push(p.file);
        let options = LoadOptions {
            addr,
            path,
            rate: 1,
            duration: Duration::from_secs(1),
            connections: 1,
            timeout: Duration::from_secs(10),
            id_prefix: id_prefix.to_owned(),
        };
        let shared = Arc::new(Shared {
            slots: Semaphore::new(1),
            options,
            payloads: Arc::new(vec![Payload {
                event: p.event,
                file: p.file,
                body: p.body.clone(),
                signature: p.signature.clone(),
            }]),
            idle: Mutex::new(Vec::new()),
            first_error: Mutex::new(None),
            start: Instant::now(),
        });
        let sample = request(shared, i as u64, Instant::now()).await;
        out.push((p.file.to_owned(), sample.status.unwrap_or(0)));
    }
    out
}
