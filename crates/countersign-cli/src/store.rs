//! The evidence commands (`init`, `record`, `log`, `evidence`), implemented in
//! countersign-store; this maps the global options onto its context.

use std::process::ExitCode;

use countersign_store::cli::{CliContext, Format as StoreFormat, StoreCommand};

use crate::Global;
use crate::output::Format;

pub fn context(g: &Global) -> CliContext {
    CliContext {
        format: match g.format {
            Format::Json => StoreFormat::Json,
            Format::Markdown => StoreFormat::Markdown,
            Format::Text | Format::Github | Format::Html => StoreFormat::Text,
        },
        database_url: g.database.clone(),
        key_file: g.key_file.clone(),
        repo: g.repo.clone(),
    }
}

pub fn run(cmd: StoreCommand, g: &Global) -> anyhow::Result<ExitCode> {
    countersign_store::cli::run(cmd, &context(g))
}
