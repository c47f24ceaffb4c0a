//! OSCAL 1.1 documents (issue 11 §3): the period report as assessment-results, with the
//! minimal assessment-plan it imports, and the component definition of what countersign
//! enforces for each control the policy maps. Built as JSON values from the report; their
//! shape is checked in tests against NIST's published schema by an independent validator
//! (`tools/oscal/validate`).
//!
//! Every UUID is a version-5 UUID (RFC 9562) named from what it identifies, so the same
//! inputs give the same documents, and a finding keeps its UUID from one run to the next.

use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

use super::{ControlResult, Report};

/// The OSCAL version the documents follow.
pub const OSCAL_VERSION: &str = "1.1.2";

/// The file the assessment results import as their plan (next to them in `--out`).
pub const PLAN_FILE: &str = "assessment-plan.json";
pub const RESULTS_FILE: &str = "assessment-results.json";

/// countersign's UUID namespace (a random UUID fixed once).
const NAMESPACE: [u8; 16] =
    [0x5c, 0x0b, 0x7d, 0x2e, 0x91, 0x4f, 0x4a, 0x63, 0xb8, 0x1e, 0x3a, 0x6d, 0x27, 0xc4, 0x90, 0x15];

/// A version-5 UUID: SHA-1 of the namespace and the name, with the version and variant bits.
fn uuid(name: &str) -> String {
    let digest = Sha1::new().chain_update(NAMESPACE).chain_update(name.as_bytes()).finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// An OSCAL token (ids such as a control id): a letter or `_` first, then letters, digits,
/// `.`, `-` or `_`; anything else becomes `_`.
fn token(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// A URI reference naming `s` (a policy source, a change id): unreserved characters and
/// `/` kept, everything else percent-encoded.
fn uri_ref(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The log entry `index` of the countersign evidence log, as a link.
fn entry_href(index: u64) -> String {
    format!("countersign-log:entry/{index}")
}

/// A one-line OSCAL string: no surrounding or inner line breaks, never empty.
fn line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() { "-".into() } else { s }
}

fn metadata(report: &Report, title: String) -> Value {
    let org = line(&report.policy.organization);
    json!({
        "title": title,
        "last-modified": report.as_of.to_string(),
        "version": format!("policy-sha256-{}", &report.policy.sha256[..report.policy.sha256.len().min(16)]),
        "oscal-version": OSCAL_VERSION,
        "parties": [{ "uuid": uuid(&format!("party:{org}")), "type": "organization", "name": org }],
    })
}

/// The controls reviewed: those the report covers, or all when the policy maps none.
fn reviewed_controls(report: &Report) -> Value {
    let ids: Vec<Value> = report.controls.iter().map(|c| json!({ "control-id": token(&c.id) })).collect();
    let selection = if ids.is_empty() { json!({ "include-all": {} }) } else { json!({ "include-controls": ids }) };
    json!({
        "description": "The controls the change management policy maps to its requirements.",
        "control-selections": [selection],
    })
}

/// A stable name for the period, shared by the plan and the results.
fn period_name(report: &Report) -> String {
    format!("{}:{}:{}:{}", report.policy.organization, report.policy.sha256, report.period.from, report.period.to)
}

/// The assessment plan the results import: the policy as the system's plan, and the
/// controls it maps.
pub fn assessment_plan(report: &Report) -> Value {
    let period = period_name(report);
    json!({
        "assessment-plan": {
            "uuid": uuid(&format!("assessment-plan:{period}")),
            "metadata": metadata(report, format!(
                "Change management assessment plan: {}, {} to {}",
                line(&report.policy.organization), report.period.from, report.period.to
            )),
            "import-ssp": { "href": uri_ref(&report.policy.source) },
            "reviewed-controls": reviewed_controls(report),
            "assessment-subjects": [{
                "type": "component",
                "description": format!(
                    "Every change to the governed repository committed from {} up to {}, judged by countersign against the policy (SHA-256 {}).",
                    report.period.from, report.period.to, report.policy.sha256
                ),
                "include-all": {},
            }],
        }
    })
}

fn control_text(c: &ControlResult) -> String {
    let requirements = if c.requirements.is_empty() { "none".to_owned() } else { c.requirements.join(", ") };
    let mut text = format!(
        "{} {}: {} change(s) in the period had a requirement implementing it (requirements: {requirements}); {} passed",
        c.framework, c.id, c.changes, c.passed
    );
    if !c.failed.is_empty() {
        text.push_str(&format!("; failed: {}", c.failed.join(", ")));
    }
    if let Some(d) = &c.description {
        text.push_str(&format!(". {d}"));
    }
    text.push('.');
    text
}

/// The assessment results: one result for the period, an observation and a finding per
/// control, and an observation per sampled change linking to its log entries.
pub fn assessment_results(report: &Report) -> Value {
    let period = period_name(report);
    let mut observations = Vec::new();
    let mut findings = Vec::new();
    for c in &report.controls {
        let observation = uuid(&format!("observation:{period}:{}:{}", c.framework, c.id));
        let mut o = json!({
            "uuid": observation,
            "title": format!("{} {} over the period", c.framework, c.id),
            "description": control_text(c),
            "methods": ["TEST"],
            "types": ["control-objective"],
            "collected": report.as_of.to_string(),
        });
        let evidence: Vec<Value> = c
            .failed
            .iter()
            .map(|id| json!({ "href": format!("countersign:change/{}", uri_ref(id)), "description": format!("change {id}, which failed a requirement implementing {}", c.id) }))
            .collect();
        if !evidence.is_empty() {
            o["relevant-evidence"] = Value::Array(evidence);
        }
        observations.push(o);
        let satisfied = c.failed.is_empty();
        findings.push(json!({
            "uuid": uuid(&format!("finding:{period}:{}:{}", c.framework, c.id)),
            "title": format!("{} {}: {}", c.framework, c.id, if satisfied { "satisfied" } else { "not satisfied" }),
            "description": if c.changes == 0 {
                format!("No change in the period had a requirement implementing {}; nothing fell short of it.", c.id)
            } else {
                control_text(c)
            },
            "target": {
                "type": "objective-id",
                "target-id": token(&c.id),
                "status": { "state": if satisfied { "satisfied" } else { "not-satisfied" } },
            },
            "related-observations": [{ "observation-uuid": observation }],
        }));
    }
    if let Some(sample) = &report.sample {
        for s in &sample.changes {
            let change = &s.evaluation.change;
            let mut o = json!({
                "uuid": uuid(&format!("sample:{period}:{}:{}", sample.seed, change.id)),
                "title": format!("Sampled change {}", change.id),
                "description": format!(
                    "{} ({}): verdict {:?}; {} requirement(s); {} log entr(ies) about it, each with an inclusion proof in the countersign report (seed {}).",
                    change.id, line(&change.title), s.evaluation.verdict, s.evaluation.requirements.len(), s.entries.len(), sample.seed
                ),
                "methods": ["EXAMINE"],
                "collected": report.as_of.to_string(),
            });
            let evidence: Vec<Value> = s
                .entries
                .iter()
                .map(|e| json!({ "href": entry_href(e.entry), "description": format!("{} recorded by {} at {}", e.kind, e.recorded_by, e.recorded_at) }))
                .collect();
            if !evidence.is_empty() {
                o["relevant-evidence"] = Value::Array(evidence);
            }
            observations.push(o);
        }
    }
    let mut result = json!({
        "uuid": uuid(&format!("result:{period}")),
        "title": format!("Change management, {} to {}", report.period.from, report.period.to),
        "description": format!(
            "{} change(s) judged against the policy (SHA-256 {}); {} emergency change(s); {} deploy decision(s).",
            report.population.summary.population,
            report.policy.sha256,
            report.emergencies.len(),
            report.deploy_decisions.decisions.len()
        ),
        "start": report.period.from.to_string(),
        "end": report.period.to.to_string(),
        "reviewed-controls": reviewed_controls(report),
    });
    if !observations.is_empty() {
        result["observations"] = Value::Array(observations);
    }
    if !findings.is_empty() {
        result["findings"] = Value::Array(findings);
    }
    json!({
        "assessment-results": {
            "uuid": uuid(&format!("assessment-results:{period}:{}", report.as_of)),
            "metadata": metadata(report, format!(
                "Change management assessment results: {}, {} to {}",
                line(&report.policy.organization), report.period.from, report.period.to
            )),
            "import-ap": { "href": PLAN_FILE },
            "results": [result],
        }
    })
}

/// The component definition: countersign as a software component, implementing each
/// control the policy maps through the requirements named there.
pub fn component_definition(
    policy: &countersign_policy::model::Policy,
    source: &str,
    policy_sha256: &str,
    as_of: jiff::Timestamp,
) -> Value {
    let org = line(&policy.meta.organization);
    let name = format!("{org}:{policy_sha256}");
    let mut frameworks: Vec<&str> = policy.meta.controls.iter().map(|c| c.framework.as_str()).collect();
    frameworks.sort_unstable();
    frameworks.dedup();
    let implementations: Vec<Value> = frameworks
        .iter()
        .map(|framework| {
            let requirements: Vec<Value> = policy
                .meta
                .controls
                .iter()
                .filter(|c| c.framework == *framework)
                .map(|c| {
                    let how = if c.requirements.is_empty() {
                        "The policy maps no requirement to it yet, so countersign reports it without a pass rate.".to_owned()
                    } else {
                        format!(
                            "countersign judges every change against the policy's requirements {} and records each verdict in its tamper-evident log.",
                            c.requirements.join(", ")
                        )
                    };
                    let description = match &c.description {
                        Some(d) => format!("{d}. {how}"),
                        None => how,
                    };
                    json!({
                        "uuid": uuid(&format!("requirement:{name}:{framework}:{}", c.id)),
                        "control-id": token(&c.id),
                        "description": description,
                    })
                })
                .collect();
            json!({
                "uuid": uuid(&format!("implementation:{name}:{framework}")),
                "source": uri_ref(source),
                "description": format!("{framework} controls, as the policy maps them."),
                "implemented-requirements": requirements,
            })
        })
        .collect();
    let mut component = json!({
        "uuid": uuid(&format!("component:{name}")),
        "type": "software",
        "title": "countersign",
        "description": "Change management enforcement: classifies each change, judges it against the policy, and keeps the evidence in an append-only, tamper-evident log.",
    });
    if !implementations.is_empty() {
        component["control-implementations"] = Value::Array(implementations);
    }
    json!({
        "component-definition": {
            "uuid": uuid(&format!("component-definition:{name}")),
            "metadata": {
                "title": format!("countersign for {org}"),
                "last-modified": as_of.to_string(),
                "version": format!("policy-sha256-{}", &policy_sha256[..policy_sha256.len().min(16)]),
                "oscal-version": OSCAL_VERSION,
            },
            "components": [component],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_5_and_stable() {
        let a = uuid("finding:x");
        assert_eq!(a, uuid("finding:x"));
        assert_ne!(a, uuid("finding:y"));
        assert_eq!(&a[14..15], "5", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn tokens_and_links_are_what_oscal_accepts() {
        assert_eq!(token("CC8.1"), "CC8.1");
        assert_eq!(token("A.8.32"), "A.8.32");
        assert_eq!(token("8.32 (b)"), "_8.32__b_");
        assert_eq!(uri_ref("pr:12 x"), "pr%3A12%20x");
        assert_eq!(line(" a\n b "), "a b");
        assert_eq!(line("\n"), "-");
    }
}
