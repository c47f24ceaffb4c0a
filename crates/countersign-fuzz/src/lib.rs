//! Fuzz targets for every parser countersign reads untrusted input with.
//!
//! Each target takes arbitrary bytes, feeds them to the real public API, and checks only
//! that nothing panics, hangs or aborts, plus cheap invariants (parse → print → parse round
//! trips, two decoders agreeing). A broken invariant is a panic, so the fuzzer reports it
//! as a crash.
//!
//! The same functions run in three places:
//! - under cargo-afl, through `src/bin/fuzz_<target>.rs` (feature `afl`; see the README);
//! - in `tests/regressions.rs`, which replays every file of `corpus/` and `regressions/`
//!   and runs a bounded unguided proptest per target on each `cargo test`;
//! - by hand, with `cargo run -p countersign-fuzz --example replay -- <target> <file or dir>…`.

use std::sync::OnceLock;

use countersign_log::dsse;
use countersign_log::note::{Checkpoint, LogSigner, LogVerifier};
use countersign_log::proof_text::{ConsistencyProofText, TlogProof};
use countersign_store::evidence::{self, RecordDocument, RecordRequest, RecordedEvidence, SubjectChange};

/// Every target by name: the name is the folder under `corpus/` and `regressions/`, and
/// the AFL binary is `fuzz_<name>`.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("policy_toml", policy_toml),
    ("codeowners", codeowners),
    ("commit_message", commit_message),
    ("gh_pr_json", gh_pr_json),
    ("record_json", record_json),
    ("signed_note", signed_note),
    ("dsse_envelope", dsse_envelope),
    ("evidence_package", evidence_package),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The log name the store's tests use (and the seeds were made with).
pub const LOG_NAME: &str = "test.countersign.dev/log";

/// The fixed test log key: seed `[1; 32]`, as in the store's tests, so the seed entries,
/// checkpoints and packages carry signatures this key verifies.
pub fn test_signer() -> &'static LogSigner {
    static SIGNER: OnceLock<LogSigner> = OnceLock::new();
    SIGNER.get_or_init(|| LogSigner::from_seed(LOG_NAME, &[1; 32]).expect("valid log name"))
}

fn test_verifier() -> &'static LogVerifier {
    static VERIFIER: OnceLock<LogVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| test_signer().verifier())
}

fn test_keyid() -> &'static str {
    static KEYID: OnceLock<String> = OnceLock::new();
    KEYID.get_or_init(|| dsse::dsse_key_id(test_verifier()))
}

/// A small valid policy, for importing fuzzed CODEOWNERS into.
fn small_policy() -> &'static countersign_policy::Policy {
    static POLICY: OnceLock<countersign_policy::Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let text = include_str!("../../../examples/policies/starter.toml");
        countersign_policy::parse("countersign.toml", text).expect("the starter policy is valid").policy
    })
}

/// `countersign.toml`: parse and validate (with the date lints on), then render what the
/// CLI renders: diagnostics on failure; markdown, HTML and `explain` on success.
pub fn policy_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let options = countersign_policy::ParseOptions { today: Some(jiff::civil::date(2026, 11, 30)) };
    match countersign_policy::parse_with("countersign.toml", text, &options) {
        Ok(checked) => {
            let _ = countersign_policy::render_diagnostics("countersign.toml", text, &checked.warnings, false);
            let _ = countersign_policy::render::markdown(&checked.policy);
            let _ = countersign_policy::render::html(&checked.policy);
            let _ = countersign_policy::render::explain(&checked.policy);
        }
        Err(failed) => {
            assert!(!failed.errors.is_empty(), "a failed parse reports at least one error");
            let _ = countersign_policy::render_diagnostics("countersign.toml", text, &failed.errors, false);
            let _ = countersign_policy::diagnostics_json("countersign.toml", text, &failed.errors);
        }
    }
}

/// CODEOWNERS: parse, look up owners of a few paths (and of each pattern's own text), report
/// the skipped lines, import into a small policy.
pub fn codeowners(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = countersign_policy::codeowners::parse(text);
    for line in &parsed.lines {
        assert!(line.span.end <= text.len() && text.is_char_boundary(line.span.start));
    }
    // A pattern's own text as a path, for the first few lines (every line would make the
    // target quadratic in the number of lines).
    for line in parsed.lines.iter().take(4) {
        let _ = parsed.owners_of(line.pattern.raw.trim_start_matches('/'));
    }
    for path in ["README.md", "src/main.rs", "docs/a/b/c.md", ".github/workflows/ci.yml", "a", ""] {
        let _ = parsed.owners_of(path);
    }
    let diagnostics = parsed.diagnostics();
    assert_eq!(diagnostics.len(), parsed.skipped.len());
    let _ = countersign_policy::render_diagnostics("CODEOWNERS", text, &diagnostics, false);
    let policy = small_policy();
    let areas = countersign_policy::codeowners::to_areas(policy, "CODEOWNERS", &parsed);
    assert_eq!(areas.len(), parsed.lines.len());
}

/// Commit messages and trailers: the raw bytes decoded as git does (UTF-8 with escapes, or
/// Latin-1 by the encoding header), the message parsed, each trailer read as a person and a
/// Gerrit URL.
pub fn commit_message(data: &[u8]) {
    use countersign_git::message::{decode_message, gerrit_change_number, parse_identity, parse_message};
    // The first byte picks the encoding header, as a commit object's `encoding` would.
    let (encoding, body): (Option<&[u8]>, &[u8]) = match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => (Some(b"ISO-8859-1"), rest),
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    let message = decode_message(body, encoding);
    let parsed = parse_message(&message);
    assert!(!parsed.subject.contains('\n'), "the subject is one line");
    for trailer in &parsed.trailers {
        let _ = parse_identity(&trailer.value);
        let _ = gerrit_change_number(&trailer.value);
    }
    if let Some(review) = &parsed.review {
        let _ = review.source.as_str();
        assert_eq!(countersign_git::message::ReviewSource::parse(review.source.as_str()), Some(review.source));
    }
}

/// `gh pr view --json` output: deserialize, convert to a change, and check the change's own
/// JSON form reads back.
pub fn gh_pr_json(data: &[u8]) {
    let Ok(pr) = countersign_forge::github::GhPullRequest::from_json(data) else { return };
    let change = pr.into_change();
    let json = serde_json::to_string(&change).expect("a change serializes");
    let back: countersign_engine::change::Change = serde_json::from_str(&json).expect("a change reads back");
    assert_eq!(serde_json::to_string(&back).expect("serializes"), json, "change JSON round trip");
}

/// `record --json` documents: deserialize, build the statement the store would log, and
/// read the evidence back out of it as the store does.
pub fn record_json(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<RecordDocument>(data) else { return };
    let recorded_at: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().expect("valid time");
    let change = doc.change.clone().map(|id| SubjectChange { head_commit: None, id });
    let request = RecordRequest {
        change: doc.change.clone(),
        recorded_by: doc.recorded_by.clone().unwrap_or_else(|| "fuzz".into()),
        recorded_at,
        idempotency_key: doc.idempotency_key.clone(),
        evidence: doc.evidence.clone(),
    };
    let statement = evidence::statement_for(&request, change.as_ref());
    // The statement's JSON reads back as the same statement.
    let payload = serde_json::to_vec(&statement).expect("a statement serializes");
    let parsed = dsse::parse_statement(&payload).expect("the statement parses back");
    assert_eq!(parsed, statement, "statement JSON round trip");
    // The store reads the evidence back out of the predicate.
    let (evidence, change_id, by, at) =
        evidence::evidence_from_statement(&statement).expect("the store reads back what it wrote");
    assert_eq!(evidence, request.evidence, "evidence round trip");
    assert_eq!(change_id, request.change, "change round trip");
    assert_eq!(by, request.recorded_by, "recordedBy round trip");
    assert_eq!(at, Some(recorded_at), "recordedAt round trip");
    let recorded = RecordedEvidence { index: 0, change_id, recorded_by: by, recorded_at, evidence };
    let _ = recorded.to_approval();
    let _ = recorded.to_check();
    let _ = recorded.to_fulfilment();
    let _ = recorded.to_emergency_authorization();
}

/// Signed notes and proof texts: checkpoints (bare and signed by the fixed test key), any
/// signed note, verifier keys, and the tlog-proof and consistency-proof texts.
pub fn signed_note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let verifier = test_verifier();
    if let Ok(cp) = Checkpoint::parse_text(text) {
        assert_eq!(Checkpoint::parse_text(&cp.to_text()).as_ref(), Ok(&cp), "checkpoint text round trip");
    }
    match verifier.open_note(text) {
        Ok(body) => {
            assert!(text.starts_with(body), "the signed text is the note's start");
            let opened = Checkpoint::open(text, verifier);
            match Checkpoint::parse_text(body) {
                Ok(cp) if cp.origin == verifier.name() => assert_eq!(opened, Ok(cp)),
                _ => assert!(opened.is_err()),
            }
        }
        Err(_) => assert!(Checkpoint::open(text, verifier).is_err()),
    }
    if let Ok(v) = LogVerifier::from_vkey(text) {
        assert_eq!(LogVerifier::from_vkey(&v.vkey()).as_ref(), Ok(&v), "vkey round trip");
        let _ = v.open_note(text);
    }
    if let Ok(signer) = LogSigner::from_private_key(text) {
        let again = LogSigner::from_private_key(&signer.private_key_text()).expect("a private key reads back");
        assert_eq!(again.verifier(), signer.verifier(), "private key round trip");
    }
    if let Ok(proof) = TlogProof::parse(text) {
        assert_eq!(TlogProof::parse(&proof.to_text()).as_ref(), Ok(&proof), "tlog-proof round trip");
        let _ = Checkpoint::open(&proof.checkpoint, verifier);
    }
    if let Ok(proof) = ConsistencyProofText::parse(text) {
        assert_eq!(ConsistencyProofText::parse(&proof.to_text()).as_ref(), Ok(&proof), "consistency-proof round trip");
        let _ = Checkpoint::open(&proof.checkpoint, verifier);
    }
}

/// DSSE envelopes: the unverified and verified readers, and the fast path of
/// `signed_message_into` against the serde path of `open_envelope`: both must accept and
/// reject the same entries and give the same signed message and signature.
pub fn dsse_envelope(data: &[u8]) {
    let verifier = test_verifier();
    let _ = dsse::statement_unverified(data);
    let verified = dsse::verify_entry(data, verifier);
    let opened = dsse::open_envelope(data, verifier);
    let mut out = b"prefix".to_vec();
    let fast = dsse::signed_message_into(data, test_keyid(), &mut out);
    match (&opened, &fast) {
        (Ok(opened), Ok(signature)) => {
            assert_eq!(&out[..6], b"prefix", "signed_message_into appends");
            assert_eq!(&out[6..], opened.signed_message.as_slice(), "fast and serde paths sign the same message");
            assert_eq!(signature, &opened.signature, "fast and serde paths pick the same signature");
            let valid = verifier.verify_raw(&opened.signed_message, &opened.signature);
            match &verified {
                Ok(_) => assert!(valid),
                Err(dsse::EnvelopeError::BadSignature) => assert!(!valid),
                Err(_) => assert!(valid, "only a valid signature gets as far as the statement"),
            }
        }
        (Err(_), Err(_)) => {
            assert_eq!(out, b"prefix", "signed_message_into leaves its buffer as it was on error");
            assert!(verified.is_err());
        }
        (opened, fast) => panic!(
            "the fast path and the serde path disagree: open_envelope {:?}, signed_message_into {:?}",
            opened.as_ref().map(|_| "ok").map_err(|e| e.to_string()),
            fast.as_ref().map(|_| "ok").map_err(|e| e.to_string())
        ),
    }
}

/// Evidence packages (tar archives): read from memory and verified offline with the
/// package's own key (no pinned key, no trusted checkpoints).
pub fn evidence_package(data: &[u8]) {
    let _ = countersign_store::package::verify_package_reader(data, None, &[]);
    // A fuzzer cannot keep a header checksum right while it mutates the header, so the same
    // bytes go through again with every block's checksum recomputed: that copy reaches the
    // size, type, name, pax and GNU long-name handling behind the checksum check.
    let fixed = fix_tar_checksums(data);
    if fixed != data {
        let _ = countersign_store::package::verify_package_reader(fixed.as_slice(), None, &[]);
    }
}

/// Recompute the ustar checksum of every non-zero 512-byte block (headers sit on block
/// boundaries, so every header is among them; data blocks change too, which is only
/// another input).
pub fn fix_tar_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for block in out.chunks_exact_mut(512) {
        if block.iter().all(|&b| b == 0) {
            continue;
        }
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
        block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }
    out
}
