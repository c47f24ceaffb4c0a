//! Status latency (issue 9 §6): from the last event of a pull request to the verdict's
//! status request reaching the forge, with `countersign serve` taking events at a steady
//! rate. Run: `cargo bench -p countersign-server --bench status` (env: `STATUS_PRS`,
//! `STATUS_RATE` events/s, `STATUS_WORKERS`, `STATUS_EVALUATORS`).
//!
//! Real parts: the server in-process on loopback with its SQLite store and worker, a real
//! git repository (origin with `refs/pull/N/head`, and the server's mirror of it), signed
//! GitHub payloads from `../shared/fixtures` edited to name those pull requests, and a local
//! fake forge that answers status posts and notes when each arrives. Each pull request gets
//! six events (opened, an approval by another person, four check runs), interleaved with the
//! other pull requests' at the given rate. The baseline is the debounce itself: no status
//! can arrive sooner than one debounce after the last event, so the figure that matters is
//! what the server adds to it.

/// The binary's allocator as `countersign serve` has it (crates/countersign-cli/src/allocator.rs):
/// mimalloc, with its own purge delay.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use countersign_server::config::{self, SecretLookup};
use countersign_server::{AppState, ServeOptions};
use countersign_store::{AsyncStore, OpenOptions, keys};
use hmac::{KeyInit as _, Mac as _};

const SECRET: &str = "status-bench-secret";
const EVENTS_PER_PR: usize = 6;

struct Secrets;

impl SecretLookup for Secrets {
    fn env(&self, name: &str) -> Option<String> {
        match name {
            "BENCH_SECRET" => Some(SECRET.to_owned()),
            "BENCH_TOKEN" => Some("bench-token".to_owned()),
            _ => None,
        }
    }
    fn file(&self, path: &Path) -> Result<Vec<u8>, String> {
        Err(format!("the bench reads no secret file ({})", path.display()))
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(args)
        .output()?;
    anyhow::ensure!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// origin.git with `main` (the starter policy and a CI gate) and `refs/pull/N/head` for
/// each pull request, and mirror.git (the server's clone). Returns (base, heads).
fn repositories(dir: &Path, prs: usize) -> anyhow::Result<(String, Vec<String>)> {
    let work = dir.join("work");
    std::fs::create_dir_all(&work)?;
    git(&work, &["init", "-q", "-b", "main"])?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let policy = std::fs::read_to_string(root.join("examples/policies/starter.toml"))?
        + "\n[[gates]]\ncheck = \"unit-tests\"\ndescription = \"The unit tests pass\"\n";
    std::fs::write(work.join("countersign.toml"), policy)?;
    std::fs::create_dir_all(work.join("src"))?;
    std::fs::write(work.join("src/app.rs"), "fn main() {}\n")?;
    git(&work, &["add", "-A"])?;
    git(&work, &["commit", "-q", "-m", "start"])?;
    let base = git(&work, &["rev-parse", "HEAD"])?;
    let origin = dir.join("origin.git");
    git(dir, &["init", "-q", "--bare", origin.to_str().unwrap()])?;
    let mut heads = Vec::with_capacity(prs);
    let mut refspecs = vec!["main:refs/heads/main".to_owned()];
    for n in 0..prs {
        git(&work, &["checkout", "-q", "-B", "feature", &base])?;
        std::fs::write(work.join(format!("src/feature_{n}.rs")), format!("pub fn f{n}() {{}}\n"))?;
        git(&work, &["add", "-A"])?;
        git(&work, &["commit", "-q", "-m", &format!("feature {n}")])?;
        let head = git(&work, &["rev-parse", "HEAD"])?;
        git(&work, &["update-ref", &format!("refs/pr/{}", n + 1), &head])?;
        refspecs.push(format!("refs/pr/{}:refs/pull/{}/head", n + 1, n + 1));
        heads.push(head);
    }
    let mut push = vec!["push", "-q", origin.to_str().unwrap()];
    push.extend(refspecs.iter().map(String::as_str));
    git(&work, &push)?;
    git(dir, &["clone", "-q", "--mirror", origin.to_str().unwrap(), dir.join("mirror.git").to_str().unwrap()])?;
    Ok((base, heads))
}

/// The fake forge: answers every request 201 and notes when each status post arrives.
fn fake_forge(arrivals: Arc<Mutex<HashMap<String, Vec<Instant>>>>) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrivals = arrivals.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let at = Instant::now();
                let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                if let Some(sha) = path.rsplit('/').next() {
                    arrivals.lock().unwrap().entry(sha.to_owned()).or_default().push(at);
                }
                let answer = b"{\"state\":\"success\"}";
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 201 Created\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(answer);
            });
        }
    });
    Ok(url)
}

fn fixture(path: &str) -> anyhow::Result<serde_json::Value> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/webhooks").join(path);
    let bytes =
        std::fs::read(&full).with_context(|| format!("the shared fixture {} (clone ../shared)", full.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The six deliveries of pull request `n` (1-based): (event, body).
fn events(n: usize, base: &str, head: &str, templates: &[serde_json::Value; 3]) -> Vec<(&'static str, Vec<u8>)> {
    let retarget = |mut p: serde_json::Value| {
        p["repository"]["full_name"] = "acme/app".into();
        p
    };
    let mut out = Vec::with_capacity(EVENTS_PER_PR);
    let mut opened = retarget(templates[0].clone());
    opened["number"] = n.into();
    opened["pull_request"]["number"] = n.into();
    opened["pull_request"]["head"]["sha"] = head.into();
    opened["pull_request"]["base"]["sha"] = base.into();
    opened["pull_request"]["base"]["ref"] = "main".into();
    opened["pull_request"]["user"]["login"] = "alice".into();
    out.push(("pull_request", serde_json::to_vec(&opened).unwrap()));
    let mut review = retarget(templates[1].clone());
    review["review"]["state"] = "approved".into();
    review["review"]["commit_id"] = head.into();
    review["review"]["user"]["login"] = "bob".into();
    review["pull_request"]["number"] = n.into();
    review["pull_request"]["head"]["sha"] = head.into();
    out.push(("pull_request_review", serde_json::to_vec(&review).unwrap()));
    for name in ["lint", "build", "docs", "unit-tests"] {
        let mut check = retarget(templates[2].clone());
        check["check_run"]["name"] = name.into();
        check["check_run"]["head_sha"] = head.into();
        check["check_run"]["pull_requests"][0]["number"] = n.into();
        out.push(("check_run", serde_json::to_vec(&check).unwrap()));
    }
    out
}

fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> anyhow::Result<()> {
    let prs = env_or("STATUS_PRS", 100);
    let rate = env_or("STATUS_RATE", 200).max(1);
    let workers = env_or("STATUS_WORKERS", 1);
    let evaluators = env_or("STATUS_EVALUATORS", 2);
    let dir = tempfile::tempdir()?;
    eprintln!(
        "status bench: {prs} pull requests × {EVENTS_PER_PR} events at {rate}/s, {workers} worker(s), {evaluators} evaluator(s)"
    );
    let (base, heads) = repositories(dir.path(), prs)?;
    let arrivals = Arc::new(Mutex::new(HashMap::new()));
    let forge = fake_forge(arrivals.clone())?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, task) = runtime.block_on(async {
        let signer = keys::create_key(&dir.path().join("log.key"), "bench.countersign.dev/status")?;
        let url = format!("sqlite:{}", dir.path().join("countersign.db").display());
        let mut store = AsyncStore::open(&url, &OpenOptions { create: true, clock: jiff::Timestamp::now }).await?;
        store.set_signer(signer).await?;
        let text = format!(
            "[[repositories]]\nname = \"acme/app\"\nforge = \"github\"\nwebhook-secret = {{ env = \"BENCH_SECRET\" }}\n\
             token = {{ env = \"BENCH_TOKEN\" }}\napi-url = \"{forge}\"\ngit-dir = \"{}\"\n",
            dir.path().join("mirror.git").display()
        );
        let (config, mut diags) = config::parse(&text);
        let mut config = config.context("the bench's configuration is TOML")?;
        diags.extend(config.resolve_secrets(&Secrets));
        anyhow::ensure!(diags.iter().all(|d| !d.is_error()), "configuration errors: {diags:?}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState {
            store: Arc::new(store),
            config: Arc::new(config),
            metrics: Default::default(),
            clock: jiff::Timestamp::now,
            worker_id: "bench".into(),
            installation_tokens: Default::default(),
            etags: Default::default(),
        });
        let options = ServeOptions { workers, evaluators, ..ServeOptions::default() };
        let debounce = options.debounce;
        let shutdown = async move {
            let _ = stop_rx.await;
        };
        let metrics = state.metrics.clone();
        let task = tokio::spawn(countersign_server::serve(listener, state, options, shutdown));
        anyhow::Ok(((addr, debounce, metrics), task))
    })?;
    let (addr, debounce, metrics) = addr;

    // The schedule: round r of every pull request, then round r + 1, at `rate` per second.
    let templates = [
        fixture("github/pull_request/opened.payload.json")?,
        fixture("github/pull_request_review/submitted.payload.json")?,
        fixture("github/check_run/completed.payload.json")?,
    ];
    let per_pr: Vec<Vec<(&str, Vec<u8>)>> =
        heads.iter().enumerate().map(|(i, head)| events(i + 1, &base, head, &templates)).collect();
    let mut schedule: Vec<(usize, &str, &[u8])> = Vec::with_capacity(prs * EVENTS_PER_PR);
    for round in 0..EVENTS_PER_PR {
        for (pr, events) in per_pr.iter().enumerate() {
            schedule.push((pr, events[round].0, &events[round].1));
        }
    }
    let last_event: Mutex<Vec<Option<Instant>>> = Mutex::new(vec![None; prs]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let url = format!("http://{addr}/hooks/github");
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((pr, event, body)) = schedule.get(i) else { break };
                    let due = start + interval * i as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let response = agent
                        .post(&url)
                        .header("X-GitHub-Event", *event)
                        .header("X-GitHub-Delivery", &format!("status-bench-{i}"))
                        .header("X-Hub-Signature-256", &sign(body))
                        .header("Content-Type", "application/json")
                        .send(*body);
                    let done = Instant::now();
                    match response {
                        Ok(r) if r.status().is_success() => {
                            let mut last = last_event.lock().unwrap();
                            if last[*pr].is_none_or(|t| t < done) {
                                last[*pr] = Some(done);
                            }
                        }
                        Ok(r) => eprintln!("delivery {i} answered {}", r.status()),
                        Err(e) => eprintln!("delivery {i} failed: {e}"),
                    }
                }
            });
        }
    });
    let sent_in = start.elapsed();
    eprintln!("sent {} deliveries in {:.1} s", schedule.len(), sent_in.as_secs_f64());

    // Wait for a status after each pull request's last event.
    let last = last_event.into_inner().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let latencies = loop {
        let seen = arrivals.lock().unwrap().clone();
        let latencies: Vec<Option<Duration>> = heads
            .iter()
            .zip(&last)
            .map(|(head, last)| {
                let last = (*last)?;
                seen.get(head)?.iter().filter(|t| **t >= last).min().map(|t| t.duration_since(last))
            })
            .collect();
        if latencies.iter().all(Option::is_some) || Instant::now() > deadline {
            break latencies;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = stop_tx.send(());
    runtime.block_on(task)??;
    // Where the time went: jobs run and the time spent judging.
    let text = metrics.render(Default::default());
    let sample = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).unwrap_or(0.0)
    };
    let (sum, count) = (sample("countersign_evaluation_seconds_sum"), sample("countersign_evaluation_seconds_count"));
    println!(
        "  jobs: {} deliveries processed, {} evaluations, judging {:.0} ms each on average",
        sample("countersign_jobs_total{kind=\"process-delivery\",outcome=\"done\"}"),
        sample("countersign_jobs_total{kind=\"evaluate\",outcome=\"done\"}"),
        if count > 0.0 { sum / count * 1000.0 } else { 0.0 }
    );
    // How long the slowest judgements took: a stall inside judging shows here.
    let buckets: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("countersign_evaluation_seconds_bucket{le=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(le, n)| format!("≤{le} s: {n}"))
        .collect();
    println!("  judging times (cumulative): {}", buckets.join(", "));
    let missing = latencies.iter().filter(|l| l.is_none()).count();
    let mut got: Vec<Duration> = latencies.into_iter().flatten().collect();
    got.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99, max) = (percentile(&got, 50.0), percentile(&got, 99.0), got.last().copied().unwrap_or_default());
    println!("status latency (last event → status at the forge), {prs} PRs × {EVENTS_PER_PR} events at {rate}/s:");
    println!("  p50 {:.0} ms   p99 {:.0} ms   max {:.0} ms   no status: {missing}", ms(p50), ms(p99), ms(max));
    println!(
        "  baseline (the debounce) {:.0} ms: the server adds p50 {:.0} ms, p99 {:.0} ms; target p99 < 2000 ms: {}",
        ms(debounce),
        ms(p50.saturating_sub(debounce)),
        ms(p99.saturating_sub(debounce)),
        if missing == 0 && p99 < Duration::from_secs(2) { "met" } else { "MISSED" }
    );
    Ok(())
}
