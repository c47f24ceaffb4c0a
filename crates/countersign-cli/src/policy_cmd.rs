//! `countersign policy check|explain|render|init`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::output::{self, Format};
use crate::policy_source::{self, BUNDLED};
use crate::{EXIT_OK, EXIT_VIOLATIONS, Global, PolicyArgs};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy file: every error at once, with file:line:col, a code and a hint;
    /// then lint it. Exit 0 when valid, 1 when it has errors (or warnings with --deny-warnings).
    Check(CheckArgs),
    /// Print the resolved rules: each category, its condition and who must approve.
    Explain(CommonArgs),
    /// Write the human-readable policy document (markdown or html) from the policy file.
    Render(RenderArgs),
    /// Write a starter countersign.toml (the bundled example) to start from.
    Init(InitArgs),
    /// Log the policy in force (its text and digest) as a published version.
    Publish(crate::policy_versions::VersionArgs),
    /// Sign the published version in force, as one of its document approvers.
    Approve(crate::policy_versions::VersionArgs),
    /// Whether the version in force is published, signed by every document approver, and
    /// reviewed on time; exit 1 when not.
    Status(crate::policy_versions::VersionArgs),
}

#[derive(Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct InitArgs {
    /// Which bundled example to start from.
    #[arg(long, default_value = "starter")]
    pub from: String,
    /// Where to write it.
    #[arg(long, default_value = "countersign.toml")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct CheckReport<'a> {
    schema: &'static str,
    version: u32,
    file: &'a str,
    valid: bool,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<countersign_policy::DiagnosticJson>,
}

pub fn run(cmd: PolicyCommand, g: &Global) -> anyhow::Result<u8> {
    let root = g.repo();
    match cmd {
        PolicyCommand::Check(args) => check(args, g),
        PolicyCommand::Publish(args) => crate::policy_versions::publish(args, g),
        PolicyCommand::Approve(args) => crate::policy_versions::approve(args, g),
        PolicyCommand::Status(args) => crate::policy_versions::status(args, g),
        PolicyCommand::Explain(args) => {
            let src = policy_source::read(args.policy.policy.as_deref(), &root)?;
            let loaded = policy_source::load(&src, g.today())?;
            policy_source::warn(&src, &loaded.warnings);
            let out = match g.format {
                Format::Json => output::to_json(&loaded.policy)?,
                _ => countersign_policy::render::explain(&loaded.policy),
            };
            print!("{out}");
            Ok(EXIT_OK)
        }
        PolicyCommand::Render(args) => {
            let src = policy_source::read(args.common.policy.policy.as_deref(), &root)?;
            let loaded = policy_source::load(&src, g.today())?;
            policy_source::warn(&src, &loaded.warnings);
            let doc = match g.format {
                Format::Html => countersign_policy::render::html(&loaded.policy),
                Format::Json => output::to_json(&loaded.policy)?,
                Format::Markdown | Format::Text | Format::Github | Format::Oscal => {
                    countersign_policy::render::markdown(&loaded.policy)
                }
            };
            match args.out {
                Some(path) => {
                    write_atomically(&path, doc.as_bytes())?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{doc}"),
            }
            Ok(EXIT_OK)
        }
        PolicyCommand::Init(args) => {
            let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == args.from) else {
                let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
                anyhow::bail!(
                    "there is no bundled policy named {:?}\nhint: choose one of: {}",
                    args.from,
                    names.join(", ")
                );
            };
            if args.out.exists() && !args.force {
                anyhow::bail!("{} already exists\nhint: pass --force to overwrite it", args.out.display());
            }
            write_atomically(&args.out, text.as_bytes())?;
            eprintln!(
                "wrote {} (from the bundled {} policy)\nhint: edit it, then run `countersign policy check`",
                args.out.display(),
                args.from
            );
            Ok(EXIT_OK)
        }
    }
}

fn check(args: CheckArgs, g: &Global) -> anyhow::Result<u8> {
    let root = g.repo();
    let src = policy_source::read(args.common.policy.policy.as_deref(), &root)?;
    let options = countersign_policy::ParseOptions { today: Some(g.today()) };
    let (errors, warnings) = match countersign_policy::parse_with(&src.name, &src.text, &options) {
        Ok(ok) => (Vec::new(), ok.warnings),
        Err(failed) => (failed.errors, failed.warnings),
    };
    let mut all = errors.clone();
    all.extend(warnings.iter().cloned());
    let failed = !errors.is_empty() || (args.deny_warnings && !warnings.is_empty());
    match g.format {
        Format::Json => print!(
            "{}",
            output::to_json(&CheckReport {
                schema: "countersign.policy-check",
                version: output::SCHEMA_VERSION,
                file: &src.name,
                valid: errors.is_empty(),
                errors: errors.len(),
                warnings: warnings.len(),
                diagnostics: countersign_policy::diagnostics_json(&src.name, &src.text, &all),
            })?
        ),
        _ => {
            print!("{}", countersign_policy::render_diagnostics(&src.name, &src.text, &all, output::color_enabled()));
            if errors.is_empty() {
                println!(
                    "{}: valid ({} warning{})",
                    src.name,
                    warnings.len(),
                    if warnings.len() == 1 { "" } else { "s" }
                );
            } else {
                println!("{}: {} error(s), {} warning(s)", src.name, errors.len(), warnings.len());
            }
        }
    }
    Ok(if failed { EXIT_VIOLATIONS } else { EXIT_OK })
}

/// Write via a temporary file in the same directory and rename, so a reader never sees half.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let tmp =
        dir.join(format!(".{}.tmp{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}
