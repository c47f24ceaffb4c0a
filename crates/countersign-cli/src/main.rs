//! The `countersign` binary: a thin layer over the policy, engine, git and forge crates.
//!
//! It owns IO and the clock: reading files, opening repositories, printing reports, and
//! turning outcomes into exit codes (0 compliant, 1 violations found, 2 could not do the job).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod audit;
mod check;
mod output;
mod owners;
mod policy_cmd;
mod policy_source;
mod recorded;
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
    after_help = "Exit codes:\n  0  compliant (or the command succeeded)\n  1  violations found\n  2  countersign could not do its job (bad policy, unreadable repository, bad input)\n\nStart here:\n  countersign policy check                 validate ./countersign.toml\n  countersign audit --policy bundled       audit this repository's history against the bundled example\n  countersign check --base origin/main --head HEAD --pr-json pr.json"
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
}

impl Global {
    pub fn repo(&self) -> PathBuf {
        self.repo.clone().unwrap_or_else(|| PathBuf::from("."))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate, explain or render the policy file.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Audit every change in a branch's first-parent history against the policy.
    Audit(audit::AuditArgs),
    /// Check one pull request in CI (git evidence, plus `gh pr view --json` when given).
    Check(check::CheckArgs),
    /// Show which area or CODEOWNERS line owns each path, and who must review it.
    Owners(owners::OwnersArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = cli.global;
    let result = match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd, &g).map(ExitCode::from),
        Command::Audit(args) => audit::run(args, &g).map(ExitCode::from),
        Command::Check(args) => check::run(args, &g).map(ExitCode::from),
        Command::Owners(args) => owners::run(args, &g).map(ExitCode::from),
        Command::Store(cmd) => store::run(cmd, &g),
    };
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
