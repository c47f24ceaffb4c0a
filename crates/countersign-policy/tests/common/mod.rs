//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use countersign_policy::{Checked, Failed, ParseOptions};

pub const EXAMPLES: &[&str] =
    &["two-person-saas", "solo-founder-iso27001", "oss-sdk", "optional-peer-review", "healthcare-cab"];

pub fn example_text(name: &str) -> String {
    let path = format!("{}/../../examples/policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 6, 1)
}

pub fn parse_on(text: &str, today: jiff::civil::Date) -> Result<Checked, Failed> {
    countersign_policy::parse_with("countersign.toml", text, &ParseOptions { today: Some(today) })
}

pub fn checked(text: &str) -> Checked {
    match parse_on(text, today()) {
        Ok(c) => c,
        Err(f) => panic!(
            "policy failed:\n{}",
            countersign_policy::render_diagnostics("countersign.toml", text, &f.errors, false)
        ),
    }
}

pub fn example(name: &str) -> Checked {
    checked(&example_text(name))
}

pub fn codes(diags: &[countersign_policy::Diagnostic]) -> Vec<&'static str> {
    diags.iter().map(|d| d.code).collect()
}
