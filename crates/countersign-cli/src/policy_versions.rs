//! The policy's own versions (S004-14, S000-19): `policy publish` logs the text and digest
//! of the policy in force, `policy approve` records a document approver's signature on it,
//! and `policy status` says whether the version in force is published, signed by every
//! document approver, and reviewed on time.

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;

use countersign_engine::directory::Directory;
use countersign_engine::evaluate::parse_identity;
use countersign_policy::model::Policy;
use countersign_store::{AppendOutcome, Evidence, RecordRequest};

use crate::output::{self, Format, SCHEMA_VERSION};
use crate::{EXIT_OK, EXIT_VIOLATIONS, Global, PolicyArgs, policy_source, recorded};

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Who records this (default: $USER, then git's user.email).
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

struct Current {
    policy: Policy,
    text: String,
    sha256: String,
    name: String,
}

fn current(args: &PolicyArgs, g: &Global) -> anyhow::Result<Current> {
    let src = policy_source::read(args.policy.as_deref(), &g.repo())?;
    let loaded = policy_source::load(&src, g.today())?;
    Ok(Current {
        sha256: countersign_store::evidence::sha256_hex(src.text.as_bytes()),
        policy: loaded.policy,
        text: src.text,
        name: src.name,
    })
}

fn recorder(by: Option<String>, g: &Global) -> anyhow::Result<String> {
    by.or_else(|| crate::store::context(g).default_recorder()).context("say who you are with --by")
}

/// The document approvers, as person ids (groups expanded).
fn approvers(policy: &Policy) -> Vec<String> {
    policy.people.keys().filter(|id| policy.covers(&policy.meta.document_approvers, id)).cloned().collect()
}

/// `policy publish`: log the text and digest of the policy in force.
pub fn publish(args: VersionArgs, g: &Global) -> anyhow::Result<u8> {
    let c = current(&args.policy, g)?;
    let by = recorder(args.by, g)?;
    recorded::known_person(&c.policy, &by, "publisher")?;
    let ctx = crate::store::context(g);
    let store = ctx.open_for_writing().context("hint: create the evidence store once with `countersign init`")?;
    let outcome =
        store.publish_policy(&c.policy.meta.version, &c.text, &by, countersign_store::whole_second((ctx.clock)()))?;
    store.close();
    let (entry, fresh) = match outcome {
        AppendOutcome::Appended(i) => (i, true),
        AppendOutcome::AlreadyRecorded(i) => (i, false),
    };
    let needed = approvers(&c.policy);
    match g.format {
        Format::Json => print!(
            "{}",
            output::to_json(&serde_json::json!({
                "entry": entry, "version": c.policy.meta.version, "sha256": c.sha256,
                "published": fresh, "approvers": needed,
            }))?
        ),
        _ => {
            println!(
                "{} policy version {} of {} (sha256 {}) as entry #{entry}",
                if fresh { "published" } else { "already published:" },
                c.policy.meta.version,
                c.name,
                &c.sha256[..16]
            );
            if !needed.is_empty() {
                eprintln!(
                    "hint: each document approver signs it with `countersign policy approve --by <them>`: {}",
                    needed.join(", ")
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// `policy approve`: a document approver signs the published version in force.
pub fn approve(args: VersionArgs, g: &Global) -> anyhow::Result<u8> {
    let c = current(&args.policy, g)?;
    let by = recorder(args.by, g)?;
    let person = recorded::known_person(&c.policy, &by, "approver")?.id.clone();
    let needed = approvers(&c.policy);
    if !needed.contains(&person) {
        bail!(
            "{person} is not a document approver of this policy\nhint: the policy's `document-approvers` are: {}",
            if needed.is_empty() { "nobody".to_string() } else { needed.join(", ") }
        );
    }
    let status = status_of(&c, g)?;
    if !status.published {
        bail!("this version ({}) is not published yet\nhint: run `countersign policy publish` first", &c.sha256[..16]);
    }
    if status.approved_by.iter().any(|(who, _)| *who == person) {
        bail!("{person} has already approved version {} ({})", c.policy.meta.version, &c.sha256[..16]);
    }
    let ctx = crate::store::context(g);
    let store = ctx.open_for_writing()?;
    let outcome = store.record(&RecordRequest {
        change: None,
        recorded_by: by,
        recorded_at: countersign_store::whole_second((ctx.clock)()),
        idempotency_key: None,
        evidence: Evidence::PolicyApproval { version: c.policy.meta.version.clone(), sha256: c.sha256.clone() },
    })?;
    store.close();
    println!(
        "{person} approved policy version {} ({}) as entry #{}",
        c.policy.meta.version,
        &c.sha256[..16],
        outcome.index()
    );
    Ok(EXIT_OK)
}

#[derive(Serialize)]
struct Status {
    schema: &'static str,
    version: u32,
    as_of: jiff::Timestamp,
    policy_version: String,
    sha256: String,
    /// Whether this text is logged as a `policy-version` entry.
    published: bool,
    /// Document approvers who signed this digest, with their entries.
    approved_by: Vec<(String, u64)>,
    /// Document approvers who have not.
    missing_approvals: Vec<String>,
    /// Approvals by people who are not document approvers: they do not count.
    not_counted: Vec<String>,
    next_review: jiff::civil::Date,
    /// `pending`, `due-soon` (within 30 days) or `overdue`.
    review: &'static str,
    /// Every version published before, oldest first: (version, sha256, entry).
    history: Vec<(String, String, u64)>,
}

fn status_of(c: &Current, g: &Global) -> anyhow::Result<Status> {
    let (store, _) = recorded::open(g)?;
    let entries = store.evidence_of_kinds(&["policy-version", "policy-approval"])?;
    store.close();
    let dir = Directory::new(&c.policy);
    let needed = approvers(&c.policy);
    let mut published = false;
    let mut history = Vec::new();
    let mut approved_by: Vec<(String, u64)> = Vec::new();
    let mut not_counted = Vec::new();
    for e in entries {
        match &e.evidence {
            Evidence::PolicyVersion { version, sha256 } => {
                published |= *sha256 == c.sha256;
                history.push((version.clone(), sha256.clone(), e.index));
            }
            Evidence::PolicyApproval { sha256, .. } if *sha256 == c.sha256 => {
                match dir.resolve(&parse_identity(&e.recorded_by)) {
                    Some(id) if needed.iter().any(|n| n == id) => {
                        if !approved_by.iter().any(|(who, _)| who == id) {
                            approved_by.push((id.to_owned(), e.index));
                        }
                    }
                    _ => not_counted.push(format!("{} (entry #{})", e.recorded_by, e.index)),
                }
            }
            _ => {}
        }
    }
    let missing_approvals = needed.into_iter().filter(|n| !approved_by.iter().any(|(who, _)| who == n)).collect();
    let today = g.today();
    let next_review = c.policy.meta.next_review;
    let review = if next_review < today {
        "overdue"
    } else if next_review.since(today).map(|s| s.get_days() <= 30).unwrap_or(false) {
        "due-soon"
    } else {
        "pending"
    };
    Ok(Status {
        schema: "countersign.policy-status",
        version: SCHEMA_VERSION,
        as_of: g.as_of(),
        policy_version: c.policy.meta.version.clone(),
        sha256: c.sha256.clone(),
        published,
        approved_by,
        missing_approvals,
        not_counted,
        next_review,
        review,
        history,
    })
}

/// `policy status`: exit 1 unless the version in force is published, signed by every
/// document approver, and not overdue for review.
pub fn status(args: VersionArgs, g: &Global) -> anyhow::Result<u8> {
    let c = current(&args.policy, g)?;
    let s = status_of(&c, g)?;
    let ok = s.published && s.missing_approvals.is_empty() && s.review != "overdue";
    match g.format {
        Format::Json => print!("{}", output::to_json(&s)?),
        _ => {
            println!("policy version {} of {} (sha256 {})", s.policy_version, c.name, &s.sha256[..16]);
            println!(
                "  published:  {}",
                if s.published { "yes".to_string() } else { "NO: run `countersign policy publish`".to_string() }
            );
            let signed: Vec<String> = s.approved_by.iter().map(|(who, i)| format!("{who} (entry #{i})")).collect();
            println!("  approved:   {}", if signed.is_empty() { "nobody yet".into() } else { signed.join(", ") });
            if !s.missing_approvals.is_empty() {
                println!("  MISSING:    approvals of {}", s.missing_approvals.join(", "));
            }
            for n in &s.not_counted {
                println!("  not counted: {n}, not a document approver");
            }
            println!("  review:     next due {} ({})", s.next_review, s.review.to_uppercase());
            println!("  versions published: {}", s.history.len());
        }
    }
    Ok(if ok { EXIT_OK } else { EXIT_VIOLATIONS })
}
