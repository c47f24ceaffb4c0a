//! The evidence commands (`init`, `record`, `log`, `evidence`), implemented in
//! countersign-store; this maps the global options onto its context.

use std::process::ExitCode;

use countersign_store::cli::{CliContext, Format as StoreFormat, StoreCommand};

use crate::Global;
use crate::output::Format;

pub fn context(g: &Global) -> CliContext {
    let repo = countersign_git::Repository::open(g.repo()).ok();
    CliContext {
        format: match g.format {
            Format::Json => StoreFormat::Json,
            Format::Markdown => StoreFormat::Markdown,
            Format::Text | Format::Github | Format::Html => StoreFormat::Text,
        },
        database_url: g.database.clone(),
        key_file: g.key_file.clone(),
        repo: g.repo.clone(),
        repository: repo.as_ref().map(crate::recorded::repository_key),
        state_dir: repo.as_ref().map(|r| r.git_dir().join("countersign")),
        clock: crate::wall_clock,
        check_record: Some(crate::recorded::record_check(g)),
        log_vkey: g.log_vkey.clone(),
        checkpoint_file: g.checkpoint_file.clone(),
        checkpoint_ref: Some(g.checkpoint_ref.clone()).filter(|r| !r.is_empty() && r != "none"),
    }
}

pub fn run(cmd: StoreCommand, g: &Global) -> anyhow::Result<ExitCode> {
    countersign_store::cli::run(cmd, &context(g))
}
