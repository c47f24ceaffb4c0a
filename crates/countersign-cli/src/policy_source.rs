//! Finding, reading and validating the policy, and importing CODEOWNERS into it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use countersign_policy::model::Policy;

use crate::output::color_enabled;

/// The example policies built into the binary, by name.
pub const BUNDLED: &[(&str, &str)] = &[
    ("starter", include_str!("../../../examples/policies/starter.toml")),
    ("two-person-saas", include_str!("../../../examples/policies/two-person-saas.toml")),
    ("solo-founder-iso27001", include_str!("../../../examples/policies/solo-founder-iso27001.toml")),
    ("oss-sdk", include_str!("../../../examples/policies/oss-sdk.toml")),
    ("optional-peer-review", include_str!("../../../examples/policies/optional-peer-review.toml")),
    ("healthcare-cab", include_str!("../../../examples/policies/healthcare-cab.toml")),
];

/// A policy's text and where it came from.
pub struct PolicyText {
    /// The name diagnostics use: a path, or `bundled:NAME`.
    pub name: String,
    pub text: String,
    /// The file on disk, when there is one.
    pub path: Option<PathBuf>,
}

/// Read the policy named by `--policy`, or `countersign.toml` in `root`.
pub fn read(policy: Option<&str>, root: &Path) -> anyhow::Result<PolicyText> {
    if let Some(spec) = policy {
        if spec == "bundled" || spec.starts_with("bundled:") {
            let name = spec.strip_prefix("bundled:").unwrap_or("starter");
            let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
                bail!("there is no bundled policy named {name:?}\nhint: choose one of: {}", names.join(", "));
            };
            return Ok(PolicyText { name: format!("bundled:{name}"), text: (*text).to_string(), path: None });
        }
        let path = PathBuf::from(spec);
        return read_file(&path);
    }
    let path = root.join("countersign.toml");
    if !path.exists() {
        bail!(
            "no policy file: {} does not exist\nhint: write one (see `countersign policy render --policy bundled` and examples/policies/), \
             or pass --policy FILE, or try --policy bundled",
            path.display()
        );
    }
    read_file(&path)
}

fn read_file(path: &Path) -> anyhow::Result<PolicyText> {
    let bytes = countersign_store::bounded::read_file(path, countersign_store::bounded::POLICY_LIMIT, "policy file")
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "the policy file {} is not UTF-8 (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(PolicyText { name: path.display().to_string(), text, path: Some(path.to_path_buf()) })
}

/// Outcome of validation, with the rendered diagnostics.
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Vec<countersign_policy::Diagnostic>,
}

/// Parse and validate. Errors are rendered to stderr and turned into an error that makes the
/// command exit 2; warnings are returned for the caller to show.
pub fn load(src: &PolicyText, today: jiff::civil::Date) -> anyhow::Result<Loaded> {
    let options = countersign_policy::ParseOptions { today: Some(today) };
    match countersign_policy::parse_with(&src.name, &src.text, &options) {
        Ok(checked) => Ok(Loaded { policy: checked.policy, warnings: checked.warnings }),
        Err(failed) => {
            let mut all = failed.errors.clone();
            all.extend(failed.warnings.iter().cloned());
            eprint!("{}", countersign_policy::render_diagnostics(&src.name, &src.text, &all, color_enabled()));
            bail!(
                "the policy {} has {} error(s)\nhint: run `countersign policy check{}` for the full report",
                src.name,
                failed.errors.len(),
                src.path.as_ref().map(|p| format!(" --policy {}", p.display())).unwrap_or_default()
            )
        }
    }
}

/// Print warnings compactly to stderr (commands other than `policy check`).
pub fn warn(src: &PolicyText, warnings: &[countersign_policy::Diagnostic]) {
    if !warnings.is_empty() {
        eprint!("{}", countersign_policy::render_diagnostics(&src.name, &src.text, warnings, color_enabled()));
    }
}
