//! The evidence commands (`init`, `record`, `log`, `evidence`, `token`), implemented in
//! countersign-store; this maps the global options onto its context.

use std::process::ExitCode;

use anyhow::Context as _;
use countersign_store::cli::{CliContext, Format as StoreFormat, StoreCommand};

use crate::Global;
use crate::output::Format;

pub fn context(g: &Global) -> CliContext {
    context_of(g, countersign_git::Repository::open(g.repo()).ok().as_ref())
}

/// [`context`] for a command that has opened `g.repo()` already (`None`: it is not a
/// repository).
pub fn context_of(g: &Global, repo: Option<&countersign_git::Repository>) -> CliContext {
    CliContext {
        format: match g.format {
            Format::Json => StoreFormat::Json,
            Format::Markdown => StoreFormat::Markdown,
            Format::Text | Format::Github | Format::Html | Format::Oscal => StoreFormat::Text,
        },
        database_url: g.database.clone(),
        key_file: g.key_file.clone(),
        repo: g.repo.clone(),
        repository: repo.map(crate::recorded::repository_key),
        state_dir: repo.map(|r| r.git_dir().join("countersign")),
        clock: crate::wall_clock,
        check_record: Some(crate::recorded::record_check(g)),
        log_vkey: g.log_vkey.clone(),
        checkpoint_file: g.checkpoint_file.clone(),
        checkpoint_ref: Some(g.checkpoint_ref.clone()).filter(|r| !r.is_empty() && r != "none"),
        remote_record: Some(std::sync::Arc::new(remote_record)),
    }
}

pub fn run(cmd: StoreCommand, g: &Global) -> anyhow::Result<ExitCode> {
    countersign_store::cli::run(cmd, &context(g))
}

/// `record --server URL`: POST the record to the server's API with the token from
/// `$COUNTERSIGN_TOKEN`; the answer's entry index and who the server recorded it as.
fn remote_record(server: &str, doc: &serde_json::Value) -> anyhow::Result<(u64, String)> {
    let token = std::env::var("COUNTERSIGN_TOKEN").ok().filter(|t| !t.trim().is_empty()).context(
        "recording through a server needs a token in $COUNTERSIGN_TOKEN\nhint: an admin creates one with `countersign token create --role recorder --person <you>`",
    )?;
    let url = format!("{}/api/v1/evidence", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(doc)?)
        .with_context(|| format!("cannot reach the countersign server at {url}"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    if !(200..300).contains(&status) {
        let error = answer["error"].as_str().map_or_else(|| answer.to_string(), str::to_owned);
        let hint = answer["hint"].as_str().map(|h| format!("\nhint: {h}")).unwrap_or_default();
        anyhow::bail!("the server answered {status}: {error}{hint}");
    }
    let index = answer["entry"].as_u64().context("the server's answer names no entry")?;
    Ok((index, answer["recordedBy"].as_str().unwrap_or_default().to_owned()))
}
