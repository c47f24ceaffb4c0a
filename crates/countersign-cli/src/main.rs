//! The `countersign` binary: a thin layer over the policy, engine, git and forge crates.
//!
//! It owns IO and the clock: reading files, opening repositories, printing reports, and
//! turning outcomes into exit codes (0 compliant, 1 violations found, 2 could not do the job).

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod audit;
mod check;
mod output;
mod owners;
mod policy_cmd;
mod policy_source;

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
    #[command(subcommand)]
    command: Command,
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

/// The output format flag every reporting command takes.
#[derive(Args, Clone, Debug)]
pub struct FormatArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Audit(args) => audit::run(args),
        Command::Check(args) => check::run(args),
        Command::Owners(args) => owners::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
