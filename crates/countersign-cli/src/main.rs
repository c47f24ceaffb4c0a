//! The `countersign` binary: a thin layer over the policy, engine, git and forge crates.
//!
//! It owns IO and the clock: reading files, opening repositories, printing reports, and
//! turning outcomes into exit codes (0 compliant, 1 violations found, 2 could not do the job).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod allocator;
mod audit;
mod audit_cache;
mod changes;
mod check;
mod collect;
mod deploy;
mod exceptions;
mod obligations;
mod output;
mod owners;
mod policy_cmd;
mod policy_source;
mod policy_versions;
mod recorded;
mod report;
mod serve;
mod store;

use output::Format;

/// Exit codes, documented in `--help` and README.
pub const EXIT_OK: u8 = 0;
pub const EXIT_VIOLATIONS: u8 = 1;
pub const EXIT_FAILURE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "countersign",
    version,
    about = "Enforce and evidence a change management policy (SOC 2 CC8.1, ISO 27001 A.8.32) from one policy file.",
    long_about = "countersign reads the change management policy in countersign.toml, classifies every \
change (pull request, merge, direct push) and decides whether it satisfies the policy, \
explaining each requirement: met, missing or waived, and by which evidence.",
    after_help = "Exit codes:\n  0  compliant (or the command succeeded)\n  1  violations found (`policy check`: the policy has errors)\n  2  countersign could not do its job (unreadable repository, bad input, or a policy with errors\n     given to any command other than `policy check`)\n\nStart here:\n  countersign policy check                 validate ./countersign.toml\n  countersign audit --policy bundled       audit this repository's history against the bundled example\n  countersign check --base origin/main --head HEAD --pr-json pr.json"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes, before or after the subcommand name.
#[derive(Args, Clone, Debug)]
pub struct Global {
    /// Output format. Reports support text, json and markdown; `check` also github;
    /// `policy render` also html.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The repository (default: the current directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// The evidence store: a SQLite file path or URL, or a postgres:// URL
    /// (default: countersign.db in the current directory).
    #[arg(long, global = true, value_name = "URL", env = "COUNTERSIGN_DATABASE_URL")]
    pub database: Option<String>,
    /// The log signing key (default: countersign.key in the current directory).
    #[arg(long, global = true, value_name = "FILE", env = "COUNTERSIGN_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Judge as of this time (RFC 3339, e.g. 2026-06-30T00:00:00Z) instead of the clock:
    /// deadlines, exception end dates and policy review dates are measured from it, and
    /// every report states it as `as_of`. Recording evidence always uses the clock.
    #[arg(long, global = true, value_name = "TIME", env = "COUNTERSIGN_NOW", value_parser = parse_now)]
    pub now: Option<jiff::Timestamp>,
    /// The log's public key (`name+keyid+base64`, as `countersign init` prints it) that
    /// recorded evidence and checkpoints are proven with. Default: the key file's public
    /// key, else the one recorded in the database (with a warning: whoever can write the
    /// database can replace it). Pin it in CI.
    #[arg(long, global = true, value_name = "VKEY", env = "COUNTERSIGN_LOG_VKEY")]
    pub log_vkey: Option<String>,
    /// Also publish every new checkpoint to this file (or `latest.checkpoint` in this
    /// directory), and check the store against the one there. Put it where the database's
    /// writers cannot reach: another volume, a synced bucket.
    #[arg(long, global = true, value_name = "PATH", env = "COUNTERSIGN_CHECKPOINT_FILE")]
    pub checkpoint_file: Option<PathBuf>,
    /// Publish every new checkpoint as a commit under this ref of the repository, and
    /// check the store against it; push the ref so the forge keeps a copy. `none` turns
    /// it off.
    #[arg(
        long,
        global = true,
        value_name = "REF",
        env = "COUNTERSIGN_CHECKPOINT_REF",
        default_value = countersign_store::publish::DEFAULT_REF
    )]
    pub checkpoint_ref: String,
    /// The wall clock, read once at start (not an option).
    #[arg(skip = jiff::Timestamp::UNIX_EPOCH)]
    pub clock: jiff::Timestamp,
}

fn parse_now(s: &str) -> Result<jiff::Timestamp, String> {
    s.parse::<jiff::Timestamp>()
        .map_err(|e| format!("expected an RFC 3339 time with an offset, such as 2026-06-30T00:00:00Z: {e}"))
}

impl Global {
    pub fn repo(&self) -> PathBuf {
        self.repo.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// The time commands judge as of: `--now`, else the clock.
    pub fn as_of(&self) -> jiff::Timestamp {
        self.now.unwrap_or(self.clock)
    }

    /// The UTC date of [`Global::as_of`], for the policy's date checks.
    pub fn today(&self) -> jiff::civil::Date {
        self.as_of().to_zoned(jiff::tz::TimeZone::UTC).date()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate, explain or render the policy file.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Audit every change in a branch's first-parent history against the policy.
    Audit(audit::AuditArgs),
    /// List the branch's changes with the stage of their life each has reached (S004-03).
    Changes(changes::ChangesArgs),
    /// Check one pull request in CI (git evidence, plus `gh pr view --json` when given).
    Check(check::CheckArgs),
    /// The deploy gate: decide whether a deploy may go ahead (`deploy check`), and log the
    /// deploys that happened (`deploy record`).
    #[command(subcommand)]
    Deploy(deploy::DeployCommand),
    /// Request an exception to the policy, or approve one as a second operator.
    #[command(subcommand)]
    Exception(exceptions::ExceptionCommand),
    /// List every exception, from the policy file and the log, with its state and end.
    Exceptions(exceptions::ListArgs),
    /// List emergency obligations with their due times; exit 1 when one is overdue.
    Obligations(obligations::ObligationsArgs),
    /// The period report an auditor takes away: population, controls and their pass rates,
    /// exceptions, emergencies, deploy decisions, a sample with inclusion proofs.
    Report(report::ReportArgs),
    /// OSCAL documents: the component definition of what countersign enforces
    /// (`countersign report --format oscal` writes the period's assessment results).
    #[command(subcommand)]
    Oscal(report::OscalCommand),
    /// Run a forge-settings collector now (branch-protection): compare the forge's settings
    /// with the policy and log what was read and found.
    Collect(collect::CollectArgs),
    /// Show which area or CODEOWNERS line owns each path, and who must review it.
    Owners(owners::OwnersArgs),
    /// Run the webhook server: take forge webhooks, keep every delivery in the evidence
    /// log, and process them in the background (see `serve --help` for a configuration).
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Store(countersign_store::cli::StoreCommand),
}

/// Options shared by every command that reads a policy.
#[derive(Args, Clone, Debug)]
pub struct PolicyArgs {
    /// The policy file. Defaults to countersign.toml at the repository root. `bundled`
    /// uses the example policy built into countersign; `bundled:NAME` one of the examples
    /// (two-person-saas, solo-founder-iso27001, oss-sdk, optional-peer-review, healthcare-cab).
    #[arg(long, value_name = "FILE", env = "COUNTERSIGN_POLICY")]
    pub policy: Option<String>,
}

/// The wall clock. Only the binary reads it; the store is handed this function, and
/// everything that judges is handed [`Global::as_of`].
pub fn wall_clock() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let one_run = !matches!(cli.command, Command::Serve(_));
    if one_run {
        allocator::tune_for_one_run();
    }
    let mut g = cli.global;
    // The only place the wall clock is read: everything below takes the time as an input.
    g.clock = wall_clock();
    if g.format == Format::Oscal && !matches!(cli.command, Command::Report(_)) {
        eprintln!(
            "error: --format oscal is for `countersign report`\nhint: `countersign oscal component` writes the component definition"
        );
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd, &g).map(ExitCode::from),
        Command::Audit(args) => audit::run(args, &g).map(ExitCode::from),
        Command::Changes(args) => changes::run(args, &g).map(ExitCode::from),
        Command::Check(args) => check::run(args, &g).map(ExitCode::from),
        Command::Deploy(cmd) => deploy::run(cmd, &g).map(ExitCode::from),
        Command::Exception(cmd) => exceptions::run(cmd, &g).map(ExitCode::from),
        Command::Exceptions(args) => exceptions::list(args, &g).map(ExitCode::from),
        Command::Obligations(args) => obligations::run(args, &g).map(ExitCode::from),
        Command::Report(args) => report::run(args, &g).map(ExitCode::from),
        Command::Collect(args) => collect::run(args, &g).map(ExitCode::from),
        Command::Oscal(cmd) => report::oscal(cmd, &g).map(ExitCode::from),
        Command::Owners(args) => owners::run(args, &g).map(ExitCode::from),
        Command::Serve(args) => serve::run(args, &g),
        Command::Store(cmd) => store::run(cmd, &g),
    };
    if one_run {
        allocator::before_exit();
    }
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
