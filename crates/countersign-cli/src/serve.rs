//! `countersign serve`: run the webhook server (crates/countersign-server) on the store.
//!
//! The binary's part: read the configuration file and the secrets it names, open the
//! store with the log key, bind the port, pass the wall clock, and stop on Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use countersign_server::config::{self, ProcessSecrets};
use countersign_server::{AppState, ServeOptions};
use countersign_store::{AsyncStore, OpenOptions, keys};

use crate::{EXIT_FAILURE, EXIT_OK, EXIT_VIOLATIONS, Global};

#[derive(Args, Debug)]
#[command(
    after_help = "Example configuration (countersign-server.toml):\n\n  listen = \"127.0.0.1:8080\"\n  database = \"sqlite:countersign.db\"\n\n  [[repositories]]\n  name = \"acme/payments\"\n  forge = \"github\"\n  webhook-secret = { env = \"GITHUB_WEBHOOK_SECRET\" }\n\nThen point the repository's webhook at http(s)://HOST/hooks/github (content type\napplication/json, the same secret). Gitea and Forgejo: /hooks/gitea; GitLab: /hooks/gitlab.\n\nEndpoints: /healthz (live), /readyz (database reachable, migrations applied),\n/metrics (Prometheus text).\n\nReminders about emergency obligations (due soon, then overdue) go to each [[notify]]\ntarget once: url = \"https://…\", format = \"json\" (signed: X-Countersign-Signature-256,\nsecret = { env = \"…\" }) or \"slack\" (url = { env = \"SLACK_WEBHOOK_URL\" }). Top-level\nreminder-every = \"5m\" and due-soon = \"24h\" tune them. Pages: /changes, /obligations, /log.\n\nWith --now TIME the server's clock starts at TIME and runs on (replays and tests).\n\nExit codes: 0 stopped cleanly (or --check-config found no error), 1 --check-config found\nerrors, 2 the server could not start."
)]
pub struct ServeArgs {
    /// The configuration file (TOML): repositories served, their forges and secrets.
    #[arg(long, value_name = "FILE", env = "COUNTERSIGN_SERVER_CONFIG", default_value = "countersign-server.toml")]
    pub config: PathBuf,
    /// Listen on this address (overrides `listen` in the file; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Background workers in this process. 0 makes an ingest-only replica: it accepts
    /// and stores deliveries, and leaves their processing to the other replicas.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: usize,
    /// Workers that only judge changes and post verdicts, beside the other workers, so a
    /// verdict never waits behind a queue of deliveries. Two judge different changes at
    /// once (judging is mostly reading git); one change is never judged twice at a time.
    #[arg(long, default_value_t = 2)]
    pub evaluators: usize,
    /// Validate the configuration file and its secrets, print every problem, and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// How far `--now` sets the server's clock from the wall clock.
static CLOCK_OFFSET: std::sync::OnceLock<jiff::SignedDuration> = std::sync::OnceLock::new();

/// The wall clock moved by `--now`'s offset: it starts at `--now` and runs on.
fn offset_clock() -> jiff::Timestamp {
    crate::wall_clock() + CLOCK_OFFSET.get().copied().unwrap_or_default()
}

/// Read a server configuration file and the secrets it names, printing every problem at its
/// line: the configuration (when it could be read) and how many errors there were.
pub fn read_config(path: &std::path::Path) -> anyhow::Result<(Option<config::ServerConfig>, usize)> {
    let name = path.display().to_string();
    let text = countersign_store::bounded::read_text(path, countersign_store::bounded::POLICY_LIMIT, "server configuration")
        .with_context(|| format!("cannot read the server configuration {name}\nhint: pass --config FILE (see `countersign serve --help` for an example)"))?;
    let (mut config, mut diags) = config::parse(&text);
    if let Some(config) = config.as_mut() {
        diags.extend(config.resolve_secrets(&ProcessSecrets));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if !diags.is_empty() {
        eprint!("{}", countersign_policy::render_diagnostics(&name, &text, &diags, false));
    }
    Ok((config, errors))
}

pub fn run(args: ServeArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let name = args.config.display().to_string();
    let (config, errors) = read_config(&args.config)?;
    if args.check_config {
        return Ok(if errors == 0 {
            let config = config.context("no configuration")?;
            println!("{name}: ok, {} repositories served", config.repositories.len());
            ExitCode::from(EXIT_OK)
        } else {
            eprintln!("{name}: {errors} error(s)");
            ExitCode::from(EXIT_VIOLATIONS)
        });
    }
    let Some(config) = config.filter(|_| errors == 0) else {
        eprintln!("{name}: {errors} error(s); the server was not started");
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    init_logging();
    let listen = args.listen.or(config.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let ctx = crate::store::context(g);
    let database = match (&g.database, &config.database) {
        (Some(url), _) if !url.is_empty() => url.clone(),
        (_, Some(url)) => url.clone(),
        _ => ctx.database_url()?,
    };
    let key_path = match (&g.key_file, &config.key_file) {
        (Some(path), _) if !path.as_os_str().is_empty() => path.clone(),
        (_, Some(path)) => path.clone(),
        _ => ctx.key_file()?,
    };

    // With --now the server's clock starts at that time and runs on (replaying history, and
    // tests that need deadlines at a chosen distance); without it, the wall clock.
    let clock: countersign_store::Clock = match g.now {
        Some(start) => {
            let _ = CLOCK_OFFSET.set(start.duration_since(crate::wall_clock()));
            offset_clock
        }
        None => crate::wall_clock,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("countersign-serve")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let signer = keys::load_key(&key_path).with_context(|| {
            format!(
                "the server signs every delivery it logs\nhint: run `countersign init --key-file {}` first",
                key_path.display()
            )
        })?;
        let mut store = AsyncStore::open(&database, &OpenOptions { create: true, clock })
            .await
            .with_context(|| format!("cannot open the store {database}"))?;
        store.set_signer(signer).await?;
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let bound = listener.local_addr()?;
        let state = Arc::new(AppState {
            store: Arc::new(store),
            config: Arc::new(config),
            metrics: Default::default(),
            clock,
            worker_id: format!("{}:{}", hostname(), std::process::id()),
            installation_tokens: Default::default(),
            etags: Default::default(),
        });
        // Tests and scripts read this line to learn the port (`--listen 127.0.0.1:0`).
        println!("countersign serve: listening on http://{bound}");
        countersign_server::serve(
            listener,
            state,
            ServeOptions { workers: args.workers, evaluators: args.evaluators, ..ServeOptions::default() },
            shutdown_signal(),
        )
        .await?;
        eprintln!("countersign serve: stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::from(EXIT_OK))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "countersign".into())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Log the server's work to standard error: warnings everywhere, and what countersign's
/// server does at `info`. `COUNTERSIGN_LOG` (`RUST_LOG` syntax, e.g. `debug`) changes it.
fn init_logging() {
    let filter = std::env::var("COUNTERSIGN_LOG").unwrap_or_else(|_| "warn,countersign_server=info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: COUNTERSIGN_LOG={filter:?} is not a log filter ({e}); using the default");
        tracing_subscriber::EnvFilter::new("warn,countersign_server=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::output::color_enabled())
        .try_init();
}
