//! Webhook ingest benchmark (issue 9): real GitHub payloads, signed, posted open-loop at
//! increasing rates to `countersign serve` running in this process, and to a bare axum
//! handler that only writes the body to the same kind of database with the same
//! durability. Run with
//!
//! ```sh
//! cargo bench -p countersign-server --bench ingest -- [--seconds 30] [--rates 500,1000,2000]
//!     [--targets countersign-sqlite,baseline-sqlite,...] [--connections 256] [--timeout 10]
//! ```
//!
//! Set COUNTERSIGN_BENCH_POSTGRES_URL (or COUNTERSIGN_TEST_POSTGRES_URL) to a database URL
//! the bench may create databases beside, and the PostgreSQL targets run too.
//! `probe` instead measures the store alone (`AsyncStore::accept_delivery`, no HTTP).
//!
//! Each step (one target at one rate) runs on a fresh database and a freshly started
//! server; at each rate every target runs once, in turn, so all see the same machine. After
//! each step the server is stopped and the delivery ids the database holds are read back:
//! every acknowledged delivery must be there. Data (the results table) goes to stdout,
//! progress to stderr. See bench/ingest/README.md.

/// The binary's allocator as `countersign serve` has it (crates/countersign-cli/src/allocator.rs):
/// mimalloc, with its own purge delay.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod load;
mod probe;
mod targets;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use targets::{Backend, Database, Kind, Target};

const USAGE: &str = "usage: cargo bench -p countersign-server --bench ingest -- [probe] [--seconds N] [--rates R,R,...] \
[--targets NAME,...] [--connections N] [--timeout SECONDS] [--pause SECONDS] [--baseline-connections N]";

/// The issue's bar for a sustained rate.
const P99_LIMIT: Duration = Duration::from_millis(50);
const ACHIEVED_SHARE: f64 = 0.98;

#[derive(Debug, Clone)]
struct Options {
    seconds: f64,
    rates: Vec<u64>,
    targets: Vec<Target>,
    connections: usize,
    timeout: Duration,
    pause: Duration,
    postgres: Option<String>,
    /// `probe`: the store alone (no HTTP), see probe.rs.
    probe: bool,
    /// The baseline's pool size (default 4, as the store's).
    baseline_connections: u32,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
        let postgres = ["COUNTERSIGN_BENCH_POSTGRES_URL", "COUNTERSIGN_TEST_POSTGRES_URL"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        let mut options = Options {
            seconds: 30.0,
            rates: vec![250, 500, 1000, 1500, 2000, 3000, 4000],
            targets: Vec::new(),
            connections: 256,
            timeout: Duration::from_secs(10),
            pause: Duration::from_secs(2),
            postgres,
            probe: false,
            baseline_connections: 4,
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
            match arg.as_str() {
                // `cargo bench` passes this to every bench binary.
                "--bench" => {}
                "probe" => options.probe = true,
                "--seconds" => options.seconds = value("--seconds")?.parse().context("--seconds: a number")?,
                "--rates" => {
                    options.rates = value("--rates")?
                        .split(',')
                        .map(|r| r.trim().parse::<u64>().context("--rates: whole numbers per second"))
                        .collect::<Result<_, _>>()?;
                }
                "--targets" => {
                    options.targets = value("--targets")?
                        .split(',')
                        .map(|name| {
                            Target::parse(name.trim()).with_context(|| {
                                format!("unknown target {name:?}; the targets are {}", Target::NAMES.join(", "))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--connections" => {
                    options.connections = value("--connections")?.parse().context("--connections: a number")?
                }
                "--timeout" => {
                    options.timeout =
                        Duration::from_secs_f64(value("--timeout")?.parse().context("--timeout: seconds")?)
                }
                "--baseline-connections" => {
                    options.baseline_connections =
                        value("--baseline-connections")?.parse().context("--baseline-connections: a number")?
                }
                "--pause" => {
                    options.pause = Duration::from_secs_f64(value("--pause")?.parse().context("--pause: seconds")?)
                }
                "-h" | "--help" => {
                    println!("{USAGE}\ntargets: {}", Target::NAMES.join(", "));
                    std::process::exit(0);
                }
                other => anyhow::bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        anyhow::ensure!(options.seconds > 0.0 && options.rates.iter().all(|&r| r > 0), "rates and seconds must be > 0");
        if options.targets.is_empty() {
            options.targets = vec![
                Target { kind: Kind::Countersign { workers: 1 }, backend: Backend::Sqlite },
                Target { kind: Kind::Baseline, backend: Backend::Sqlite },
            ];
            if options.postgres.is_some() {
                options.targets.push(Target { kind: Kind::Countersign { workers: 1 }, backend: Backend::Postgres });
                options.targets.push(Target { kind: Kind::Baseline, backend: Backend::Postgres });
            }
        }
        if options.targets.iter().any(|t| t.backend == Backend::Postgres) && options.postgres.is_none() {
            anyhow::bail!(
                "a PostgreSQL target needs COUNTERSIGN_BENCH_POSTGRES_URL (or COUNTERSIGN_TEST_POSTGRES_URL)"
            );
        }
        Ok(options)
    }
}

/// One target at one rate.
struct Row {
    target: Target,
    offered: u64,
    requests: u64,
    ok: u64,
    /// Answers other than 200 (refusals, 503s).
    error_answers: u64,
    /// No answer: connection errors and timeouts.
    failed: u64,
    achieved: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    /// Every acknowledged delivery read back after the server stopped.
    durable: bool,
    stored: usize,
    backlog: Option<u64>,
    server_cpu_us: f64,
    client_cpu_us: f64,
    machine: MachineCpu,
    load: String,
    first_error: Option<String>,
}

impl Row {
    fn sustained(&self) -> bool {
        self.achieved >= ACHIEVED_SHARE * self.offered as f64
            && self.p99 < P99_LIMIT
            && self.error_answers == 0
            && self.failed == 0
            && self.durable
    }
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    // The server runtime as the binary builds it (one worker per core); the load generator
    // on a runtime of its own with one worker, so it never queues behind the server's tasks.
    let server = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("cs-server").build()?;
    let client =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().thread_name("cs-client").build()?;
    server.block_on(run(options, client.handle().clone()))
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn run(options: Options, client: tokio::runtime::Handle) -> anyhow::Result<()> {
    let root = workspace_root();
    let payloads =
        Arc::new(load::payloads(&root.join("../shared/fixtures/webhooks/github"), targets::SECRET.as_bytes())?);
    let scratch = root.join("target/bench-ingest");
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let nonce = (jiff::Timestamp::now().as_second() as u32) ^ std::process::id().rotate_left(16);

    print_header(&options, &payloads, &scratch)?;
    if options.probe {
        return run_probe(&options, payloads, &scratch, nonce).await;
    }

    // Before measuring: every fixture in the mix must be accepted (200), not ignored.
    {
        let dir = tempfile::Builder::new().prefix("preflight-").tempdir_in(&scratch)?;
        let target = Target { kind: Kind::Countersign { workers: 0 }, backend: Backend::Sqlite };
        let database = Database::sqlite(dir.path());
        let server = targets::start(target, &database, dir.path(), options.baseline_connections).await?;
        let (addr, prefix) = (server.addr, format!("{nonce:08x}-ffff-4000-8000-"));
        let payloads = payloads.clone();
        let statuses =
            client.spawn(async move { load::preflight(addr, target.path(), &payloads, &prefix).await }).await?;
        server.stop_and_read_back().await?;
        let refused: Vec<_> = statuses.iter().filter(|(_, status)| *status != 200).collect();
        anyhow::ensure!(refused.is_empty(), "fixtures not accepted with 200 (file, status): {refused:?}");
    }

    let mut rows = Vec::new();
    let mut step = 0u32;
    for &rate in &options.rates {
        for &target in &options.targets {
            step += 1;
            let row = measure(&options, &client, &payloads, &scratch, target, rate, nonce, step).await?;
            eprintln!(
                "{:<32} {:>5}/s offered: {:>7.0}/s 2xx, {} error answers, {} failed, p50 {} p99 {} max {} ms, stored {} ({}){}",
                target.name(),
                rate,
                row.achieved,
                row.error_answers,
                row.failed,
                ms(row.p50),
                ms(row.p99),
                ms(row.max),
                row.stored,
                if row.durable { "every 2xx read back" } else { "MISSING ACKNOWLEDGED DELIVERIES" },
                row.first_error.as_deref().map(|e| format!("; first error: {e}")).unwrap_or_default(),
            );
            rows.push(row);
            tokio::time::sleep(options.pause).await;
        }
    }
    print_results(&rows);
    Ok(())
}

/// The store alone: `accept_delivery` from 16, 64 and 256 tasks back to back.
async fn run_probe(
    options: &Options,
    payloads: Arc<Vec<load::Payload>>,
    scratch: &std::path::Path,
    nonce: u32,
) -> anyhow::Result<()> {
    let mut backends = vec![Backend::Sqlite];
    if options.postgres.is_some() {
        backends.push(Backend::Postgres);
    }
    println!("| store alone | tasks | accepted/s | mean latency ms | CPU µs/delivery | load |");
    println!("|---|---:|---:|---:|---:|---|");
    let mut step = 0xf000u32;
    for backend in backends {
        for tasks in [16usize, 64, 256] {
            step += 1;
            let dir = tempfile::Builder::new().prefix("probe-").tempdir_in(scratch)?;
            let database = match backend {
                Backend::Sqlite => Database::sqlite(dir.path()),
                Backend::Postgres => Database::postgres(
                    options.postgres.as_deref().context("PostgreSQL URL")?,
                    &format!("cs_ingest_{}_{step}", std::process::id()),
                )?,
            };
            let cpu = ThreadCpu::now();
            let prefix = format!("{nonce:08x}-{:04x}-4000-8000-", step & 0xffff);
            let duration = Duration::from_secs_f64(options.seconds);
            let result = probe::accept_loop(&database, dir.path(), payloads.clone(), tasks, duration, &prefix).await?;
            let (_, used) = ThreadCpu::now().since(&cpu);
            database.drop_now()?;
            println!(
                "| {} | {tasks} | {:.0} | {} | {:.0} | {} |",
                match backend {
                    Backend::Sqlite => "sqlite",
                    Backend::Postgres => "postgres",
                },
                result.accepted as f64 / result.elapsed.as_secs_f64(),
                ms(result.mean_latency),
                used * 1e6 / result.accepted.max(1) as f64,
                loadavg(),
            );
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    options: &Options,
    client: &tokio::runtime::Handle,
    payloads: &Arc<Vec<load::Payload>>,
    scratch: &std::path::Path,
    target: Target,
    rate: u64,
    nonce: u32,
    step: u32,
) -> anyhow::Result<Row> {
    let dir = tempfile::Builder::new().prefix("step-").tempdir_in(scratch)?;
    let database = match target.backend {
        Backend::Sqlite => Database::sqlite(dir.path()),
        Backend::Postgres => {
            let base = options.postgres.as_deref().context("PostgreSQL URL")?;
            Database::postgres(base, &format!("cs_ingest_{}_{step}", std::process::id()))?
        }
    };
    let server = targets::start(target, &database, dir.path(), options.baseline_connections).await?;
    let id_prefix = format!("{nonce:08x}-{:04x}-4000-8000-", step & 0xffff);
    let load_options = load::LoadOptions {
        addr: server.addr,
        path: target.path(),
        rate,
        duration: Duration::from_secs_f64(options.seconds),
        connections: options.connections,
        timeout: options.timeout,
        id_prefix: id_prefix.clone(),
    };

    let (cpu_before, machine_before) = (ThreadCpu::now(), MachineCpu::read());
    let result = client.spawn(load::run(load_options, payloads.clone())).await?;
    let (cpu_after, machine_after) = (ThreadCpu::now(), MachineCpu::read());
    let load = loadavg();
    let backlog = server.job_backlog().await;
    let stored = server.stop_and_read_back().await?;
    database.drop_now()?;
    drop(dir);

    let samples = &result.samples;
    let ok: Vec<&load::Sample> = samples.iter().filter(|s| s.status == Some(200)).collect();
    let error_answers = samples.iter().filter(|s| matches!(s.status, Some(code) if code != 200)).count() as u64;
    let failed = samples.iter().filter(|s| s.status.is_none()).count() as u64;
    let span = ok.iter().map(|s| s.ended).max().unwrap_or_default().max(Duration::from_secs_f64(options.seconds));
    let acknowledged: HashSet<String> = ok.iter().map(|s| load::delivery_id(&id_prefix, s.index)).collect();
    let durable = acknowledged.is_subset(&stored);
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    latencies.sort_unstable();
    let quantile = |q: f64| {
        let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len().max(1));
        latencies.get(rank - 1).copied().unwrap_or_default()
    };
    let per = |seconds: f64| if ok.is_empty() { 0.0 } else { seconds * 1e6 / ok.len() as f64 };
    let (client_cpu, server_cpu) = cpu_after.since(&cpu_before);
    Ok(Row {
        target,
        offered: rate,
        requests: samples.len() as u64,
        ok: ok.len() as u64,
        error_answers,
        failed,
        achieved: ok.len() as f64 / span.as_secs_f64(),
        p50: quantile(0.50),
        p90: quantile(0.90),
        p99: quantile(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        durable,
        stored: stored.len(),
        backlog,
        server_cpu_us: per(server_cpu),
        client_cpu_us: per(client_cpu),
        machine: machine_after.since(&machine_before),
        load,
        first_error: result.first_error,
    })
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 { format!("{ms:.1}") } else { format!("{ms:.0}") }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program).args(args).current_dir(workspace_root()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn print_header(options: &Options, payloads: &[load::Payload], scratch: &std::path::Path) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty = command_output("git", &["status", "--porcelain", "--untracked-files=no"])
        .map(|s| s.lines().count())
        .unwrap_or(0);
    let mean = payloads.iter().map(|p| p.body.len()).sum::<usize>() / payloads.len().max(1);
    let mut fixtures: Vec<&str> = payloads.iter().map(|p| p.file).collect();
    fixtures.dedup();
    println!("# countersign webhook ingest benchmark");
    println!();
    println!("- date: {}", jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC"));
    println!(
        "- commit: {commit}{}",
        if dirty > 0 {
            format!(" (working tree: {dirty} tracked files with uncommitted changes)")
        } else {
            String::new()
        }
    );
    println!("- machine: {cores} cores, load average before the run {}", loadavg());
    println!(
        "- payloads: {} GitHub fixtures in a cycle of {} deliveries, mean body {mean} bytes ({})",
        fixtures.len(),
        payloads.len(),
        fixtures.join(", ")
    );
    println!(
        "- steps: {} s per target and rate, rates {:?}/s, at most {} connections, {} s timeout",
        options.seconds,
        options.rates,
        options.connections,
        options.timeout.as_secs_f64()
    );
    println!("- SQLite files under {} (WAL, synchronous=FULL)", scratch.canonicalize()?.display());
    println!(
        "- countersign: the server library as `countersign serve` runs it (runtime with one worker thread per core, \
         store pool of 4); baseline: a bare axum handler, one INSERT of the body per request, pool of {}",
        options.baseline_connections
    );
    match &options.postgres {
        Some(url) => {
            let setting = |name: &str| targets::psql(url, &format!("SHOW {name}")).unwrap_or_else(|_| "?".into());
            let version = targets::psql(url, "SHOW server_version").unwrap_or_else(|_| "?".into());
            println!(
                "- PostgreSQL {version} on this machine: fsync={}, synchronous_commit={}, wal_sync_method={}",
                setting("fsync"),
                setting("synchronous_commit"),
                setting("wal_sync_method")
            );
        }
        None => println!("- PostgreSQL: skipped (set COUNTERSIGN_BENCH_POSTGRES_URL)"),
    }
    println!();
    Ok(())
}

fn print_results(rows: &[Row]) {
    println!(
        "| target | offered/s | 2xx/s | errors | p50 ms | p90 ms | p99 ms | max ms | every 2xx stored | job backlog | CPU µs/delivery server (client) | machine busy % (iowait %) | load |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {}{} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {:.0} ({:.0}) | {:.0} ({:.0}) | {} |",
            r.target.name(),
            if r.sustained() { "" } else { " ✗" },
            r.offered,
            r.achieved,
            if r.error_answers + r.failed == 0 {
                "0".to_owned()
            } else {
                format!("{} of {}", r.error_answers + r.failed, r.requests)
            },
            ms(r.p50),
            ms(r.p90),
            ms(r.p99),
            ms(r.max),
            match (r.durable, (r.stored as u64).saturating_sub(r.ok)) {
                (false, _) => "NO".to_owned(),
                (true, 0) => "yes".to_owned(),
                // Requests the client gave up on that the server still stored.
                (true, extra) => format!("yes (+{extra} stored unanswered)"),
            },
            r.backlog.map_or("–".to_owned(), |b| b.to_string()),
            r.server_cpu_us,
            r.client_cpu_us,
            r.machine.busy,
            r.machine.iowait,
            r.load,
        );
    }
    println!();
    println!(
        "✗: not sustained (sustained = 2xx/s ≥ {:.0}% of offered, p99 < {} ms, no error, every 2xx read back). \
         Latency runs from each request's due time (open loop), over every request.",
        ACHIEVED_SHARE * 100.0,
        P99_LIMIT.as_millis()
    );
    println!();
    let names: Vec<String> = {
        let mut seen = Vec::new();
        for r in rows {
            if !seen.contains(&r.target.name()) {
                seen.push(r.target.name());
            }
        }
        seen
    };
    let sustained = |name: &str| {
        rows.iter().filter(|r| r.target.name() == name && r.sustained()).map(|r| r.offered).max().unwrap_or(0)
    };
    let peak = |name: &str| rows.iter().filter(|r| r.target.name() == name).map(|r| r.achieved).fold(0.0, f64::max);
    for name in &names {
        let passed: Vec<String> =
            rows.iter().filter(|r| &r.target.name() == name && r.sustained()).map(|r| r.offered.to_string()).collect();
        println!(
            "- {name}: sustained {}/s (rates that passed: {}); highest 2xx/s in any step {:.0}",
            sustained(name),
            if passed.is_empty() { "none".to_owned() } else { passed.join(", ") },
            peak(name)
        );
    }
    for backend in ["sqlite", "postgres"] {
        let baseline = format!("baseline-{backend}");
        if !names.contains(&baseline) {
            continue;
        }
        for ours in [format!("countersign-{backend}"), format!("countersign-{backend}-ingest-only")] {
            if !names.contains(&ours) {
                continue;
            }
            let (a, b) = (sustained(&ours), sustained(&baseline));
            let ratio = if b > 0 {
                format!("{:.2}×", a as f64 / b as f64)
            } else {
                "– (the baseline sustained no rate)".into()
            };
            println!(
                "- ratio {ours} / {baseline}: sustained {ratio}; highest 2xx/s {:.2}×",
                peak(&ours) / peak(&baseline).max(1.0)
            );
        }
    }
}

/// CPU time of this process's threads, split into the load generator's (`cs-client`) and
/// everything else (the servers' runtime, sqlx's SQLite threads), in seconds.
struct ThreadCpu {
    client: f64,
    rest: f64,
}

impl ThreadCpu {
    fn now() -> ThreadCpu {
        let mut cpu = ThreadCpu { client: 0.0, rest: 0.0 };
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return cpu };
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
            let Some((head, rest)) = stat.rsplit_once(')') else { continue };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            // utime and stime (fields 14 and 15 of stat), in clock ticks of 1/100 s.
            let seconds = (ticks(11) + ticks(12)) / 100.0;
            if head.contains("(cs-client") {
                cpu.client += seconds;
            } else {
                cpu.rest += seconds;
            }
        }
        cpu
    }

    /// (client, rest) seconds since `before`. Threads that ended meanwhile are not counted.
    fn since(&self, before: &ThreadCpu) -> (f64, f64) {
        ((self.client - before.client).max(0.0), (self.rest - before.rest).max(0.0))
    }
}

/// The whole machine's CPU (/proc/stat): share of time busy, not counting niced work (the
/// background fuzzers run at nice 19), and waiting for IO, in percent of all cores.
#[derive(Debug, Clone, Copy, Default)]
struct MachineCpu {
    busy: f64,
    iowait: f64,
    total: f64,
}

impl MachineCpu {
    fn read() -> MachineCpu {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<f64> = text
            .lines()
            .next()
            .map(|l| l.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect())
            .unwrap_or_default();
        let get = |i: usize| fields.get(i).copied().unwrap_or(0.0);
        // user nice system idle iowait irq softirq steal
        let (user, system, irq, softirq, steal) = (get(0), get(2), get(5), get(6), get(7));
        MachineCpu { busy: user + system + irq + softirq + steal, iowait: get(4), total: fields.iter().take(8).sum() }
    }

    fn since(&self, before: &MachineCpu) -> MachineCpu {
        let total = (self.total - before.total).max(1.0);
        MachineCpu {
            busy: (self.busy - before.busy) * 100.0 / total,
            iowait: (self.iowait - before.iowait) * 100.0 / total,
            total,
        }
    }
}
