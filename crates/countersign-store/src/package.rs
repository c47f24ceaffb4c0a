//! Evidence packages: a tar file an auditor verifies offline, without the database.
//!
//! Layout (every path under `countersign-evidence/`):
//!
//! ```text
//! manifest.json                    what is inside, with the SHA-256 of every other file
//! manifest.sig                     C2SP signed note over the manifest's SHA-256, by the log key
//! log.vkey                         the log's public key (name+keyid+base64(0x01‖pubkey))
//! checkpoints/<size>.checkpoint    signed checkpoints: the head, the first one covering the last
//!                                  entry, and one per size the auditor asked a proof from
//! consistency/<old>-<new>.proof    consistency proof from each of them to the head
//! entries/<index>.dsse.json        the entries, byte for byte as logged
//! proofs/<index>.tlog-proof        C2SP tlog-proof of each entry against the head checkpoint
//! policy/<version>.txt             every policy version in force during the period
//! attachments/<index>-<name>       bytes whose SHA-256 an entry logs: each webhook delivery's
//!                                  raw body, and the report files given to `--attach`
//! ```
//!
//! Verification streams the archive once and never extracts it: each member's header
//! (type, path, declared size) is checked before a byte of its data is read, members over
//! their limit ([`MAX_FILE_BYTES`], [`MAX_MANIFEST_BYTES`], [`MAX_POLICY_BYTES`]) are
//! refused unread, and the whole package is bounded ([`MAX_TOTAL_BYTES`],
//! [`MAX_MEMBERS`]), so memory stays bounded whatever the input. Members are hashed as
//! they stream. [`extract_package`] exists for auditors who want the files, and refuses
//! any path that would land outside the target directory.
//!
//! The tar reader is written here (ustar, GNU and pax headers: the forms GNU tar, bsdtar
//! and the `tar` crate write) rather than taken from the `tar` crate, so that every limit
//! is checked before anything is allocated or read; `tools/verify-log/verify_log.py`
//! reads archives by the same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use countersign_log::dsse;
use countersign_log::merkle::{self, Hash};
use countersign_log::note::{Checkpoint, LogVerifier};
use countersign_log::proof_text::{ConsistencyProofText, TlogProof};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::evidence::{hex, sha256_hex};

use crate::{Store, StoreError};

pub const PACKAGE_FORMAT: &str = "countersign.dev/evidence-package@v1";
const ROOT: &str = "countersign-evidence";

/// The largest entry, proof, checkpoint, consistency proof, `log.vkey` or `manifest.sig`
/// (1 MiB; entries are at most a few KiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The largest `manifest.json` (32 MiB: about 100,000 entries).
pub const MAX_MANIFEST_BYTES: u64 = 32 * 1024 * 1024;
/// The largest policy text (16 MiB).
pub const MAX_POLICY_BYTES: u64 = 16 * 1024 * 1024;
/// The largest attachment (32 MiB: a webhook body is at most 25 MB, as GitHub's).
pub const MAX_ATTACHMENT_BYTES: u64 = 32 * 1024 * 1024;
/// The most file data one package may hold, all members together (512 MiB).
pub const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;
/// The most members (files and directories) one package may hold.
pub const MAX_MEMBERS: u64 = 250_000;
/// The largest pax extended header or GNU long-name member (64 KiB).
pub const MAX_EXTENSION_BYTES: u64 = 64 * 1024;
/// The most pax global headers one archive may hold.
pub const MAX_GLOBAL_HEADERS: u64 = 16;

/// The most bytes the package file `name` (relative to `countersign-evidence/`) may hold.
pub fn file_limit(name: &str) -> u64 {
    if name == "manifest.json" {
        MAX_MANIFEST_BYTES
    } else if name.starts_with("policy/") {
        MAX_POLICY_BYTES
    } else if name.starts_with("attachments/") {
        MAX_ATTACHMENT_BYTES
    } else {
        MAX_FILE_BYTES
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub index: u64,
    pub kind: String,
    pub file: String,
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestPolicy {
    pub version: String,
    pub sha256: String,
    pub file: String,
    pub entry: u64,
}

/// A file whose SHA-256 a log entry in the package names (its predicate's `sha256`): a
/// webhook delivery's raw body, or a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAttachment {
    pub entry: u64,
    /// The entry's kind: `webhook-delivery` or `report`.
    pub kind: String,
    pub sha256: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub origin: String,
    pub vkey: String,
    pub since: String,
    pub until: String,
    /// The head checkpoint every inclusion proof is against.
    pub checkpoint: String,
    pub checkpoints: Vec<String>,
    pub consistency: Vec<String>,
    #[serde(deserialize_with = "objects")]
    pub entries: Vec<ManifestEntry>,
    /// The policy version in force at `until`.
    #[serde(default, deserialize_with = "optional_object")]
    pub policy: Option<ManifestPolicy>,
    /// Every policy version in force during the period, oldest first (the last is `policy`).
    /// Written only when there are some; older packages name only `policy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<ManifestPolicy>,
    /// Path (relative to the package root) to lowercase hex SHA-256.
    pub files: BTreeMap<String, String>,
    /// Log indices between the first and the last entry of the period that are not in the
    /// package (entries recorded with a time outside the period), as inclusive ranges.
    /// Written only when there are some, so packages without gaps read as before; packages
    /// written before this field existed have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<(u64, u64)>,
    /// Files whose digest an entry logs. Written only when there are some.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "objects")]
    pub attachments: Vec<ManifestAttachment>,
}

/// A struct read only from a JSON object. serde would also take a struct written as an
/// array of its field values; a manifest is objects only (as the Python verifier reads it).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData)).map(Object)
    }
}

fn objects<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    Ok(Vec::<Object<T>>::deserialize(deserializer)?.into_iter().map(|o| o.0).collect())
}

fn optional_object<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<Object<T>>::deserialize(deserializer)?.map(|o| o.0))
}

/// Parse a manifest: JSON objects only, no unknown or duplicate field.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
    serde_json::from_slice::<Object<Manifest>>(bytes).map(|o| o.0)
}

/// The text a manifest signature covers.
pub fn manifest_note_text(origin: &str, manifest_bytes: &[u8]) -> String {
    format!("{PACKAGE_FORMAT}\n{origin}\nsha256 {}\n", sha256_hex(manifest_bytes))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: usize,
    pub tree_size: u64,
    pub policy_version: Option<String>,
    /// Indices missing between the first and last entry of the period (inclusive ranges).
    pub gaps: Vec<(u64, u64)>,
    /// Webhook bodies and reports attached.
    pub attachments: usize,
}

/// `3, 5-7`: the indices of inclusive ranges, for messages.
pub fn describe_gaps(gaps: &[(u64, u64)]) -> String {
    gaps.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect::<Vec<_>>().join(", ")
}

/// The warning line a verifier prints for a package with gaps.
pub fn gaps_warning(gaps: &[(u64, u64)]) -> Option<String> {
    let (noun, verb, be) = match gaps {
        [] => return None,
        [(a, b)] if a == b => ("entry", "lies", "is"),
        _ => ("entries", "lie", "are"),
    };
    Some(format!(
        "warning: log {noun} {} {verb} between the first and last entry of the period but {be} not in this package (recorded with a time outside the period)",
        describe_gaps(gaps)
    ))
}

/// The inclusive ranges of indices in `[first, last]` missing from `included`.
fn missing_ranges(first: u64, last: u64, included: &BTreeSet<u64>) -> Vec<(u64, u64)> {
    let mut gaps = Vec::new();
    let mut expected = first;
    for &index in included.range(first..=last) {
        if index > expected {
            gaps.push((expected, index - 1));
        }
        expected = index.saturating_add(1);
    }
    gaps
}

/// An entry's kind as the manifest names it: its predicate type without countersign's
/// prefix and version (`https://countersign.dev/evidence/report/v1` is `report`).
fn kind_of(statement: &dsse::Statement) -> &str {
    statement.predicate_type.trim_start_matches("https://countersign.dev/evidence/").trim_end_matches("/v1")
}

/// Write an evidence package of the entries recorded in `[since, until)`.
///
/// `consistency_from` names the sizes of checkpoints the auditor already holds (from an
/// earlier package): the package then also holds the checkpoint of each size and a
/// consistency proof from it to the head, so the auditor can check (`--trusted`) that the
/// log only grew. A size larger than the log is refused: the log was rolled back, or that
/// checkpoint is from another log.
///
/// Before the file is moved into place it is verified with the same code an auditor runs,
/// against the store's key: if the store's tree state does not match its entries (a proof
/// does not lead to the signed root), the partial file is removed and nothing is written.
pub fn export(
    store: &Store,
    since: &str,
    until: &str,
    out: &Path,
    consistency_from: &[u64],
) -> Result<ExportSummary, StoreError> {
    export_with(store, since, until, out, consistency_from, &[])
}

/// [`export`], with files to attach (`evidence export --attach`): each must be a file whose
/// SHA-256 a `report` entry in the period logs, else nothing is written.
pub fn export_with(
    store: &Store,
    since: &str,
    until: &str,
    out: &Path,
    consistency_from: &[u64],
    attach: &[PathBuf],
) -> Result<ExportSummary, StoreError> {
    let signer = store.core.signer.as_ref().ok_or(StoreError::NoSigner)?;
    let verifier = signer.verifier();
    let crate::ExportRows { mut rows, policies: versions, deliveries } = store.export_rows(since, until)?;
    rows.sort_by_key(|(i, _)| *i);
    let period: Vec<u64> = rows.iter().map(|(i, _)| *i).collect();
    for (_, _, _, idx) in &versions {
        if !rows.iter().any(|(i, _)| i == idx) {
            rows.push((*idx, store.entry(*idx)?));
        }
    }
    rows.sort_by_key(|(i, _)| *i);
    let included: BTreeSet<u64> = rows.iter().map(|(i, _)| *i).collect();
    let gaps = match (period.first(), period.last()) {
        (Some(&first), Some(&last)) => missing_ranges(first, last, &included),
        _ => Vec::new(),
    };
    let head = store.latest_checkpoint()?.ok_or(StoreError::NoCheckpoint(1))?;
    let head_cp = Checkpoint::open(&head, &verifier)?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut statements: BTreeMap<u64, dsse::Statement> = BTreeMap::new();
    for (index, bytes) in &rows {
        let proof = store.inclusion_proof(*index, Some(head_cp.size))?;
        if proof.checkpoint != head {
            return Err(StoreError::Package("the log grew during export; retry".into()));
        }
        let statement = dsse::statement_unverified(bytes)?;
        let kind = kind_of(&statement).to_owned();
        let file = format!("entries/{index}.dsse.json");
        let proof_file = format!("proofs/{index}.tlog-proof");
        files.insert(file.clone(), bytes.clone());
        files.insert(proof_file.clone(), proof.to_text().into_bytes());
        entries.push(ManifestEntry { index: *index, kind, file, proof: proof_file });
        statements.insert(*index, statement);
    }
    let mut checkpoints = vec![format!("checkpoints/{}.checkpoint", head_cp.size)];
    files.insert(checkpoints[0].clone(), head.clone().into_bytes());
    let mut consistency = Vec::new();
    // Older checkpoints, each with a consistency proof to the head: the first one covering
    // the last entry, and those the auditor holds.
    let mut older: Vec<(u64, Option<String>)> = Vec::new();
    if let Some((last, _)) = rows.last() {
        let proof = store.inclusion_proof(*last, Some(last + 1))?;
        let first_cp = Checkpoint::parse_text(&proof.checkpoint)?;
        if first_cp.size < head_cp.size {
            older.push((first_cp.size, Some(proof.checkpoint)));
        }
    }
    let mut asked: Vec<u64> = consistency_from.to_vec();
    asked.sort_unstable();
    asked.dedup();
    for old in asked {
        if old > head_cp.size {
            return Err(StoreError::Package(format!(
                "the log has {} entries, fewer than the checkpoint of size {old} to prove consistency from: the log was rolled back, or that checkpoint is from another log",
                head_cp.size
            )));
        }
        // Every tree extends the empty tree, and the head is compared with a checkpoint of
        // its own size directly: neither needs a proof.
        if old > 0 && old < head_cp.size && !older.iter().any(|(s, _)| *s == old) {
            older.push((old, None));
        }
    }
    for (old, note) in older {
        let note = match note {
            Some(note) => note,
            None => store.checkpoint(old).map_err(|e| match e {
                StoreError::NoCheckpoint(_) => StoreError::Package(format!(
                    "this log has no checkpoint of size {old}: the checkpoint to prove consistency from is not from this log"
                )),
                other => other,
            })?,
        };
        let name = format!("checkpoints/{old}.checkpoint");
        files.insert(name.clone(), note.into_bytes());
        checkpoints.push(name);
        let proof = store.consistency_proof(old, Some(head_cp.size))?;
        if proof.checkpoint != head {
            return Err(StoreError::Package("the log grew during export; retry".into()));
        }
        let cname = format!("consistency/{old}-{}.proof", head_cp.size);
        files.insert(cname.clone(), proof.to_text().into_bytes());
        consistency.push(cname);
    }
    let policies: Vec<ManifestPolicy> = versions
        .into_iter()
        .map(|(version, sha256, text, entry)| {
            let file = format!("policy/{}.txt", sanitize(&version));
            files.insert(file.clone(), text.into_bytes());
            ManifestPolicy { version, sha256, file, entry }
        })
        .collect();
    let policy = policies.last().cloned();
    let mut attachments = Vec::new();
    for (index, forge, id, sha256, body) in deliveries {
        let file = format!("attachments/{index}-{}-{}.json", sanitize(&forge), sanitize(&id));
        files.insert(file.clone(), body);
        attachments.push(ManifestAttachment { entry: index, kind: "webhook-delivery".into(), sha256, file });
    }
    for path in attach {
        let body =
            std::fs::read(path).map_err(|e| StoreError::Package(format!("cannot read {}: {e}", path.display())))?;
        let sha256 = sha256_hex(&body);
        let Some((index, _)) = statements.iter().find(|(_, st)| {
            kind_of(st) == "report" && st.predicate.get("sha256").and_then(|v| v.as_str()) == Some(sha256.as_str())
        }) else {
            return Err(StoreError::Package(format!(
                "{} (SHA-256 {sha256}) is not a report logged in the period: only a file whose digest a `report` entry logs can be attached",
                path.display()
            )));
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("report");
        let file = format!("attachments/{index}-{}", sanitize(name));
        files.insert(file.clone(), body);
        attachments.push(ManifestAttachment { entry: *index, kind: "report".into(), sha256, file });
    }
    attachments.sort_by(|a, b| (a.entry, &a.file).cmp(&(b.entry, &b.file)));
    attachments.dedup();
    files.insert("log.vkey".into(), format!("{}\n", verifier.vkey()).into_bytes());
    let manifest = Manifest {
        format: PACKAGE_FORMAT.into(),
        origin: verifier.name().to_owned(),
        vkey: verifier.vkey(),
        since: since.to_owned(),
        until: until.to_owned(),
        checkpoint: format!("checkpoints/{}.checkpoint", head_cp.size),
        checkpoints,
        consistency,
        entries,
        policy: policy.clone(),
        policies,
        files: files.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect(),
        gaps: gaps.clone(),
        attachments,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Package(e.to_string()))?;
    let sig = signer.sign_note(&manifest_note_text(verifier.name(), &manifest_bytes))?;
    files.insert("manifest.json".into(), manifest_bytes);
    files.insert("manifest.sig".into(), sig.into_bytes());
    check_limits(&files)?;
    write_verified(out, &files, &verifier)?;
    Ok(ExportSummary {
        entries: manifest.entries.len(),
        tree_size: head_cp.size,
        policy_version: policy.map(|p| p.version),
        gaps,
        attachments: manifest.attachments.len(),
    })
}

/// Write the package to `<out>.partial`, verify that file with the code an auditor runs,
/// against the store's key, and only then move it to `out`. On any failure the partial
/// file is removed and `out` is not touched.
fn write_verified(out: &Path, files: &BTreeMap<String, Vec<u8>>, verifier: &LogVerifier) -> Result<(), StoreError> {
    let tmp = partial_path(out);
    let written = write_tar(&tmp, files).and_then(|()| match verify_package(&tmp, Some(verifier), &[])? {
        Ok(_) => Ok(()),
        Err(failure) => Err(StoreError::Package(format!(
            "the exported package does not verify, so the store's tree state does not match its entries: {failure}; nothing was written"
        ))),
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(source) = std::fs::rename(&tmp, out) {
        let _ = std::fs::remove_file(&tmp);
        return Err(StoreError::Io { path: out.to_owned(), source });
    }
    Ok(())
}

/// Refuse to write a package the verifiers would refuse for its size.
fn check_limits(files: &BTreeMap<String, Vec<u8>>) -> Result<(), StoreError> {
    let mut total = 0u64;
    for (name, data) in files {
        let limit = file_limit(name);
        if data.len() as u64 > limit {
            return Err(StoreError::Package(format!(
                "{name} would be {} bytes, more than the {limit} bytes a package file may hold; export a shorter period; nothing was written",
                data.len()
            )));
        }
        total += data.len() as u64;
    }
    if total > MAX_TOTAL_BYTES || files.len() as u64 > MAX_MEMBERS {
        return Err(StoreError::Package(format!(
            "the package would hold {} files and {total} bytes, more than a package may ({MAX_MEMBERS} files, {MAX_TOTAL_BYTES} bytes); export a shorter period; nothing was written",
            files.len()
        )));
    }
    Ok(())
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

fn write_tar(path: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: path.to_owned(), source };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut builder = tar::Builder::new(file);
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, format!("{ROOT}/{name}"), data.as_slice()).map_err(io)?;
    }
    let file = builder.into_inner().map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(())
}

/// A package that does not verify: which file or entry, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", self.entry.map(|e| format!("entry {e}: ")).unwrap_or_default(), self.problem)]
pub struct PackageFailure {
    pub entry: Option<u64>,
    pub problem: String,
}

fn fail(entry: Option<u64>, problem: impl Into<String>) -> PackageFailure {
    PackageFailure { entry, problem: problem.into() }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSummary {
    pub origin: String,
    pub vkey: String,
    pub entries: usize,
    pub tree_size: u64,
    pub policy_version: Option<String>,
    /// Whether the key was pinned by the caller (otherwise the package's own key was used,
    /// and the auditor must compare it with the published one).
    pub key_pinned: bool,
    /// Indices missing between the first and last entry of the period (see
    /// [`gaps_warning`] for the line to print).
    pub gaps: Vec<(u64, u64)>,
    /// How many trusted checkpoints the package was checked against.
    pub trusted: usize,
}

// ------------------------------------------------------------------ reading the archive

/// One regular file of the package, read and hashed as it streamed.
struct Member {
    data: Vec<u8>,
    sha256: String,
}

type Files = BTreeMap<String, Member>;

/// Why reading stopped: the reader failed, or the archive is not an acceptable package.
enum Stop {
    Io(std::io::Error),
    Failure(PackageFailure),
}

impl From<PackageFailure> for Stop {
    fn from(f: PackageFailure) -> Self {
        Stop::Failure(f)
    }
}

fn bad(problem: impl Into<String>) -> Stop {
    Stop::Failure(fail(None, problem))
}

const BLOCK: usize = 512;

struct TarStream<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> TarStream<R> {
    /// Fill `buf` completely. `Ok(false)` if the stream ended before its first byte and
    /// `end_ok`; an end anywhere else is a truncated archive.
    fn fill(&mut self, buf: &mut [u8], end_ok: bool) -> Result<bool, Stop> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 && end_ok => return Ok(false),
                Ok(0) => return Err(bad(format!("the archive is truncated at byte {}", self.offset + filled as u64))),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        self.offset += buf.len() as u64;
        Ok(true)
    }

    /// Read `size` bytes of member data (the caller checked `size` against its limit),
    /// hashing them as they come, then the padding to the next block.
    fn data(&mut self, size: u64) -> Result<(Vec<u8>, [u8; 32]), Stop> {
        let mut data = Vec::with_capacity(size.min(MAX_FILE_BYTES) as usize);
        let mut hasher = Sha256::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            self.fill(&mut chunk[..n], false)?;
            hasher.update(&chunk[..n]);
            data.extend_from_slice(&chunk[..n]);
            left -= n as u64;
        }
        let pad = ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize;
        let mut padding = [0u8; BLOCK];
        self.fill(&mut padding[..pad], false)?;
        Ok((data, hasher.finalize().into()))
    }
}

/// A NUL-terminated header field.
fn cstr(field: &[u8]) -> &[u8] {
    &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())]
}

/// A numeric header field: octal text (NUL- or space-terminated, possibly space-padded)
/// or GNU base-256 (first byte 0x80). Negative or out-of-range values are refused.
fn numeric(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(0x80) => field[1..].iter().try_fold(0u64, |acc, &b| acc.checked_mul(256)?.checked_add(u64::from(b))),
        Some(b) if b & 0x80 != 0 => None,
        _ => {
            let text = cstr(field);
            let start = text.iter().position(|&b| b != b' ').unwrap_or(text.len());
            let end = text.iter().rposition(|&b| b != b' ').map_or(start, |e| e + 1);
            text[start..end.max(start)].iter().try_fold(0u64, |acc, &b| {
                if (b'0'..=b'7').contains(&b) { acc.checked_mul(8)?.checked_add(u64::from(b - b'0')) } else { None }
            })
        }
    }
}

fn checksum_ok(block: &[u8; BLOCK]) -> bool {
    let Some(stored) = numeric(&block[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || (signed >= 0 && stored == signed as u64)
}

fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &b| acc.checked_mul(10)?.checked_add(u64::from(b - b'0')))
}

#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    size: Option<u64>,
    sparse: bool,
}

/// pax extended header records: `<length> <key>=<value>\n`. Trailing NUL padding is
/// allowed; anything else malformed is refused.
fn parse_pax(data: &[u8]) -> Option<Pax> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() && !rest.iter().all(|&b| b == 0) {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len = usize::try_from(decimal(&rest[..space])?).ok()?;
        if len <= space + 1 || len > rest.len() {
            return None;
        }
        let record = rest[space + 1..len].strip_suffix(b"\n")?;
        let eq = record.iter().position(|&b| b == b'=')?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"size" => pax.size = Some(decimal(value)?),
            k if k.starts_with(b"GNU.sparse.") => pax.sparse = true,
            _ => {}
        }
        rest = &rest[len..];
    }
    Some(pax)
}

/// Extended headers waiting for the member they describe.
#[derive(Default)]
struct Pending {
    pax: Option<Pax>,
    long_name: Option<Vec<u8>>,
    long_link: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.pax.is_none() && self.long_name.is_none() && !self.long_link
    }
}

fn type_name(t: u8) -> String {
    match t {
        b'1' => "a hard link".into(),
        b'2' => "a symbolic link".into(),
        b'3' => "a character device".into(),
        b'4' => "a block device".into(),
        b'6' => "a FIFO".into(),
        b'7' => "a contiguous file".into(),
        b'S' => "a GNU sparse file".into(),
        b'D' => "a GNU dump directory".into(),
        b'V' => "a volume label".into(),
        b'M' => "a multi-volume continuation".into(),
        other => format!("of tar type {:?}", other as char),
    }
}

/// Where a member path lands: the package root itself (`.`, `countersign-evidence/`), or a
/// path inside it (relative to it, `/`-separated, without `.` or empty components).
enum Place {
    Root,
    Inside(String),
}

fn place(name: &str) -> Result<Place, PackageFailure> {
    if name.starts_with('/') || name.contains('\\') || name.chars().any(char::is_control) {
        return Err(fail(None, format!("unsafe path in package: {name:?}")));
    }
    let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        return Err(fail(None, format!("unsafe path in package: {name:?}")));
    }
    match parts.split_first() {
        None => Ok(Place::Root),
        Some((first, rest)) if *first == ROOT => {
            Ok(if rest.is_empty() { Place::Root } else { Place::Inside(rest.join("/")) })
        }
        Some(_) => Err(fail(None, format!("{name:?} is outside {ROOT}/"))),
    }
}

/// Stream the archive: every header is checked (checksum, path, type, declared size
/// against the limits) before its data is read; regular files are read and hashed.
fn read_members<R: Read>(reader: R) -> Result<Files, Stop> {
    let mut tar = TarStream { inner: reader, offset: 0 };
    let mut files = Files::new();
    let (mut total, mut members, mut globals) = (0u64, 0u64, 0u64);
    let mut pending = Pending::default();
    loop {
        let mut block = [0u8; BLOCK];
        let at = tar.offset;
        if !tar.fill(&mut block, pending.is_empty())? {
            break; // the stream ended on a block boundary: accepted like an end marker
        }
        if block.iter().all(|&b| b == 0) {
            if !pending.is_empty() {
                return Err(bad("the archive ends after an extended header"));
            }
            break; // end-of-archive marker; whatever follows (padding) is not read
        }
        if !checksum_ok(&block) {
            return Err(bad(format!("not a valid tar archive: bad header checksum at byte {at}")));
        }
        let typeflag = block[156];
        let header_size =
            numeric(&block[124..136]).ok_or_else(|| bad(format!("malformed size field in the header at byte {at}")))?;
        match typeflag {
            b'x' | b'g' | b'L' | b'K' => {
                if header_size > MAX_EXTENSION_BYTES {
                    return Err(bad(format!(
                        "an extended header at byte {at} declares {header_size} bytes, more than the {MAX_EXTENSION_BYTES} allowed (refused before reading it)"
                    )));
                }
                let (data, _) = tar.data(header_size)?;
                match typeflag {
                    b'x' => {
                        if pending.pax.is_some() {
                            return Err(bad(format!("two pax headers for one member at byte {at}")));
                        }
                        pending.pax =
                            Some(parse_pax(&data).ok_or_else(|| bad(format!("malformed pax header at byte {at}")))?);
                    }
                    b'g' => {
                        globals += 1;
                        if globals > MAX_GLOBAL_HEADERS {
                            return Err(bad(format!("more than {MAX_GLOBAL_HEADERS} pax global headers")));
                        }
                        parse_pax(&data).ok_or_else(|| bad(format!("malformed pax header at byte {at}")))?;
                    }
                    b'L' => {
                        if pending.long_name.is_some() {
                            return Err(bad(format!("two long names for one member at byte {at}")));
                        }
                        pending.long_name = Some(cstr(&data).to_vec());
                    }
                    _ => {
                        if pending.long_link {
                            return Err(bad(format!("two long link names for one member at byte {at}")));
                        }
                        pending.long_link = true;
                    }
                }
                continue;
            }
            _ => {}
        }
        let pending_now = std::mem::take(&mut pending);
        let pax = pending_now.pax.unwrap_or_default();
        members += 1;
        if members > MAX_MEMBERS {
            return Err(bad(format!("the archive has more than {MAX_MEMBERS} members")));
        }
        let raw = match (pax.path, pending_now.long_name) {
            (Some(path), _) => path,
            (None, Some(long)) => long,
            (None, None) => {
                let name = cstr(&block[0..100]);
                let prefix = cstr(&block[345..500]);
                if &block[257..263] == b"ustar\0" && !prefix.is_empty() {
                    [prefix, b"/", name].concat()
                } else {
                    name.to_vec()
                }
            }
        };
        let name =
            String::from_utf8(raw).map_err(|_| bad(format!("the name of the member at byte {at} is not UTF-8")))?;
        let size = pax.size.unwrap_or(header_size);
        let place = place(&name)?;
        if typeflag == b'5' || (typeflag == 0 && name.ends_with('/')) {
            if size != 0 {
                return Err(bad(format!("{name:?} is a directory with {size} bytes of data")));
            }
            continue;
        }
        if pax.sparse {
            return Err(bad(format!("{name:?} is a sparse file, not a regular file")));
        }
        if typeflag != b'0' && typeflag != 0 {
            return Err(bad(format!("{name:?} is {}, not a regular file", type_name(typeflag))));
        }
        let Place::Inside(rel) = place else {
            return Err(bad(format!("{name:?} is not a file inside {ROOT}/")));
        };
        let limit = file_limit(&rel);
        if size > limit {
            return Err(bad(format!(
                "{rel} declares {size} bytes, more than the {limit} bytes allowed for it (refused before reading it)"
            )));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_BYTES {
            return Err(bad(format!("the package holds more than {MAX_TOTAL_BYTES} bytes of files")));
        }
        if files.contains_key(&rel) {
            return Err(bad(format!("{rel} appears twice")));
        }
        let (data, digest) = tar.data(size)?;
        files.insert(rel, Member { data, sha256: hex(&digest) });
    }
    Ok(files)
}

/// Read a package from a file, refusing anything but a regular file before opening it (a
/// FIFO would block, `/dev/zero` never ends).
fn read_package_file(path: &Path) -> Result<Result<Files, PackageFailure>, StoreError> {
    let io = |source| StoreError::Io { path: path.to_owned(), source };
    let not_a_file = || {
        StoreError::Package(format!(
            "{} is not a regular file: an evidence package is read only from a regular file (not a FIFO, device or directory)",
            path.display()
        ))
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(not_a_file());
    }
    let file = std::fs::File::open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(not_a_file());
    }
    match read_members(std::io::BufReader::with_capacity(64 * 1024, file)) {
        Ok(files) => Ok(Ok(files)),
        Err(Stop::Failure(f)) => Ok(Err(f)),
        Err(Stop::Io(source)) => Err(io(source)),
    }
}

/// Verify a package offline. `pinned` is the log key the auditor trusts; without it the
/// package's own `log.vkey` is used (and must then be compared with the published key).
/// `trusted` are signed checkpoints the auditor kept (from an earlier package): the
/// package's head must extend each of them. `path` must be a regular file.
pub fn verify_package(
    path: &Path,
    pinned: Option<&LogVerifier>,
    trusted: &[String],
) -> Result<Result<PackageSummary, PackageFailure>, StoreError> {
    Ok(read_package_file(path)?.and_then(|files| verify_files(&files, pinned, trusted)))
}

/// [`verify_package`] on a package read from any reader (streamed once, with the same
/// limits). Never panics, whatever the bytes; `Err` only when the reader itself fails.
pub fn verify_package_reader<R: Read>(
    reader: R,
    pinned: Option<&LogVerifier>,
    trusted: &[String],
) -> Result<Result<PackageSummary, PackageFailure>, StoreError> {
    match read_members(std::io::BufReader::with_capacity(64 * 1024, reader)) {
        Ok(files) => Ok(verify_files(&files, pinned, trusted)),
        Err(Stop::Failure(f)) => Ok(Err(f)),
        Err(Stop::Io(e)) => Err(StoreError::Package(format!("cannot read the package: {e}"))),
    }
}

fn text<'a>(files: &'a Files, name: &str) -> Result<&'a str, PackageFailure> {
    let member = files.get(name).ok_or_else(|| fail(None, format!("{name} is missing")))?;
    std::str::from_utf8(&member.data).map_err(|_| fail(None, format!("{name} is not UTF-8")))
}

fn fork(size: u64, a: &Hash, b: &Hash) -> PackageFailure {
    fail(None, format!("fork: two signed checkpoints of size {size} with different roots {} and {}", hex(a), hex(b)))
}

fn verify_files(
    files: &Files,
    pinned: Option<&LogVerifier>,
    trusted: &[String],
) -> Result<PackageSummary, PackageFailure> {
    let manifest_bytes = &files.get("manifest.json").ok_or_else(|| fail(None, "manifest.json is missing"))?.data;
    let package_vkey = text(files, "log.vkey")?.trim().to_owned();
    let verifier = match pinned {
        Some(v) => v.clone(),
        None => LogVerifier::from_vkey(&package_vkey).map_err(|e| fail(None, format!("log.vkey: {e}")))?,
    };
    // 1. The manifest is signed by the log key.
    let sig = text(files, "manifest.sig")?;
    let signed = verifier.open_note(sig).map_err(|e| fail(None, format!("manifest.sig: {e}")))?;
    if signed != manifest_note_text(verifier.name(), manifest_bytes) {
        return Err(fail(None, "manifest.json was modified: its SHA-256 does not match the signed manifest.sig"));
    }
    let manifest = parse_manifest(manifest_bytes).map_err(|e| fail(None, format!("manifest.json: {e}")))?;
    if manifest.format != PACKAGE_FORMAT {
        return Err(fail(None, format!("unknown package format {:?}", manifest.format)));
    }
    if manifest.vkey != verifier.vkey() || package_vkey != verifier.vkey() {
        return Err(fail(None, "the package's key is not the trusted log key"));
    }
    // 2. Every file is listed with its digest, and nothing unlisted is present.
    for (name, digest) in &manifest.files {
        let member =
            files.get(name).ok_or_else(|| fail(None, format!("{name} is listed in the manifest but missing")))?;
        if member.sha256 != *digest {
            let entry = manifest.entries.iter().find(|e| e.file == *name || e.proof == *name).map(|e| e.index);
            return Err(fail(entry, format!("{name} was modified: its SHA-256 does not match the manifest")));
        }
    }
    if let Some(extra) =
        files.keys().find(|k| !manifest.files.contains_key(*k) && *k != "manifest.json" && *k != "manifest.sig")
    {
        return Err(fail(None, format!("{extra} is not listed in the manifest")));
    }
    // 3. Checkpoints are signed by the log key; two of one size must agree.
    let mut checkpoints: BTreeMap<String, (Checkpoint, String)> = BTreeMap::new();
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    for name in &manifest.checkpoints {
        let note = text(files, name)?;
        let cp = Checkpoint::open(note, &verifier).map_err(|e| fail(None, format!("{name}: {e}")))?;
        if let Some(root) = roots.get(&cp.size)
            && *root != cp.root
        {
            return Err(fork(cp.size, root, &cp.root));
        }
        roots.insert(cp.size, cp.root);
        checkpoints.insert(name.clone(), (cp, note.to_owned()));
    }
    let (head, head_note) = checkpoints
        .get(&manifest.checkpoint)
        .cloned()
        .ok_or_else(|| fail(None, "the head checkpoint is not in the package"))?;
    // 4. Consistency of the older checkpoints with the head; each one needs a proof.
    let mut proven: BTreeMap<u64, Vec<Hash>> = BTreeMap::new();
    for name in &manifest.consistency {
        let proof = ConsistencyProofText::parse(text(files, name)?).map_err(|e| fail(None, format!("{name}: {e}")))?;
        if proof.checkpoint != head_note {
            return Err(fail(None, format!("{name} is not against the head checkpoint")));
        }
        let old_root = roots
            .get(&proof.old_size)
            .ok_or_else(|| fail(None, format!("{name}: no checkpoint of size {}", proof.old_size)))?;
        merkle::verify_consistency(proof.old_size, head.size, old_root, &head.root, &proof.hashes).map_err(|e| {
            fail(
                None,
                format!("{name}: checkpoint {} is not consistent with checkpoint {}: {e}", proof.old_size, head.size),
            )
        })?;
        proven.insert(proof.old_size, proof.hashes);
    }
    if let Some(size) = roots.keys().find(|s| **s != head.size && !proven.contains_key(s)) {
        return Err(fail(None, format!("the checkpoint of size {size} has no consistency proof to the head")));
    }
    // 5. Checkpoints the auditor trusts: the head extends each of them.
    for (i, note) in trusted.iter().enumerate() {
        let cp =
            Checkpoint::open(note, &verifier).map_err(|e| fail(None, format!("trusted checkpoint {}: {e}", i + 1)))?;
        if cp.size > head.size {
            return Err(fail(
                None,
                format!(
                    "rolled back: the log is smaller than a checkpoint you trusted (size {} > {})",
                    cp.size, head.size
                ),
            ));
        }
        if let Some(root) = roots.get(&cp.size)
            && *root != cp.root
        {
            return Err(fork(cp.size, &cp.root, root));
        }
        if cp.size == 0 {
            if cp.root != merkle::empty_root() {
                return Err(fork(0, &cp.root, &merkle::empty_root()));
            }
            continue;
        }
        if cp.size < head.size {
            let hashes = proven.get(&cp.size).ok_or_else(|| {
                fail(
                    None,
                    format!(
                        "the package has no consistency proof from the checkpoint of size {} you trusted to its head (size {}); export it with --consistency-from {}",
                        cp.size, head.size, cp.size
                    ),
                )
            })?;
            merkle::verify_consistency(cp.size, head.size, &cp.root, &head.root, hashes).map_err(|e| {
                fail(
                    None,
                    format!(
                        "the checkpoint of size {} you trusted is not consistent with the package's head (size {}): {e}",
                        cp.size, head.size
                    ),
                )
            })?;
        }
    }
    // 6. Every entry: signature, statement, inclusion in the head checkpoint.
    let mut seen = BTreeSet::new();
    let mut statements = BTreeMap::new();
    for entry in &manifest.entries {
        if !seen.insert(entry.index) {
            return Err(fail(Some(entry.index), "listed twice in the manifest"));
        }
        let bytes =
            &files.get(&entry.file).ok_or_else(|| fail(Some(entry.index), format!("{} is missing", entry.file)))?.data;
        let statement = dsse::verify_entry(bytes, &verifier).map_err(|e| fail(Some(entry.index), e.to_string()))?;
        let proof_text = text(files, &entry.proof).map_err(|f| fail(Some(entry.index), f.problem))?;
        let proof = TlogProof::parse(proof_text).map_err(|e| fail(Some(entry.index), e.to_string()))?;
        if proof.index != entry.index {
            return Err(fail(Some(entry.index), format!("{} is a proof for entry {}", entry.proof, proof.index)));
        }
        if proof.checkpoint != head_note {
            return Err(fail(Some(entry.index), "inclusion proof is not against the head checkpoint"));
        }
        merkle::verify_inclusion(entry.index, head.size, &merkle::leaf_hash(bytes), &proof.hashes, &head.root)
            .map_err(|e| fail(Some(entry.index), format!("not included in the log: {e}")))?;
        statements.insert(entry.index, statement);
    }
    // 7. Each policy text is the one logged; the one in force at the end is the last.
    if manifest.policies.last().is_some_and(|last| Some(last) != manifest.policy.as_ref()) {
        return Err(fail(None, "manifest.json: `policy` is not the last of `policies`"));
    }
    for policy in manifest.policy.iter().chain(&manifest.policies) {
        let data = files.get(&policy.file).ok_or_else(|| fail(None, format!("{} is missing", policy.file)))?;
        if data.sha256 != policy.sha256 {
            return Err(fail(Some(policy.entry), "the policy text does not match its logged digest"));
        }
        let statement = statements
            .get(&policy.entry)
            .ok_or_else(|| fail(Some(policy.entry), "the policy's log entry is not in the package"))?;
        if statement.predicate.get("sha256").and_then(|v| v.as_str()) != Some(policy.sha256.as_str()) {
            return Err(fail(Some(policy.entry), "the policy's log entry names another digest"));
        }
    }
    // 8. Each attachment is the file its entry logs the digest of.
    for a in &manifest.attachments {
        let data = files.get(&a.file).ok_or_else(|| fail(Some(a.entry), format!("{} is missing", a.file)))?;
        if data.sha256 != a.sha256 {
            return Err(fail(Some(a.entry), format!("{} does not match its logged digest", a.file)));
        }
        let statement = statements
            .get(&a.entry)
            .ok_or_else(|| fail(Some(a.entry), format!("the log entry of {} is not in the package", a.file)))?;
        if kind_of(statement) != a.kind
            || statement.predicate.get("sha256").and_then(|v| v.as_str()) != Some(a.sha256.as_str())
        {
            return Err(fail(
                Some(a.entry),
                format!("the log entry of {} is not a {} entry naming its digest", a.file, a.kind),
            ));
        }
    }
    // 9. Gaps are well-formed ranges of indices the package does not hold.
    let mut after: Option<u64> = None;
    for &(first, last) in &manifest.gaps {
        if first > last || after.is_some_and(|a| first <= a) {
            return Err(fail(None, "manifest.json: gaps are not ascending, disjoint ranges"));
        }
        if let Some(index) = seen.range(first..=last).next() {
            return Err(fail(Some(*index), format!("listed as missing (gap {first}-{last}) but in the package")));
        }
        after = Some(last);
    }
    Ok(PackageSummary {
        origin: manifest.origin,
        vkey: verifier.vkey(),
        entries: manifest.entries.len(),
        tree_size: head.size,
        policy_version: manifest.policy.map(|p| p.version),
        key_pinned: pinned.is_some(),
        gaps: manifest.gaps,
        trusted: trusted.len(),
    })
}

/// A relative path that stays inside its directory: only normal components.
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Extract a package's files under `dir`. Every path is checked first: anything absolute,
/// with `..`, or not a regular file is refused before a single byte is written. The
/// archive is read with the same limits as [`verify_package`].
pub fn extract_package(path: &Path, dir: &Path) -> Result<Result<usize, PackageFailure>, StoreError> {
    let files = match read_package_file(path)? {
        Ok(f) => f,
        Err(f) => return Ok(Err(f)),
    };
    for (name, member) in &files {
        let Some(rel) = safe_relative(Path::new(name)) else {
            return Ok(Err(fail(None, format!("unsafe path in package: {name:?}"))));
        };
        let target = dir.join(ROOT).join(rel);
        let io = |source| StoreError::Io { path: target.clone(), source };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&target, &member.data).map_err(io)?;
    }
    Ok(Ok(files.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_log::note::LogSigner;

    /// Export's last step on its own: a package that does not verify (here a signed
    /// manifest naming a head checkpoint the package lacks) is removed, and nothing is
    /// written at `out`. (A store altered underneath is caught by the store's own proven
    /// reads first; see `tests/packages.rs`.)
    #[test]
    fn a_written_package_that_does_not_verify_is_removed_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LogSigner::from_seed("test.countersign.dev/log", &[1; 32]).unwrap();
        let verifier = signer.verifier();
        let mut files = BTreeMap::new();
        files.insert("log.vkey".to_owned(), format!("{}\n", verifier.vkey()).into_bytes());
        files.insert("entries/0.dsse.json".to_owned(), b"{}".to_vec());
        let manifest = Manifest {
            format: PACKAGE_FORMAT.into(),
            origin: verifier.name().into(),
            vkey: verifier.vkey(),
            since: "2026-01-01T00:00:00Z".into(),
            until: "2027-01-01T00:00:00Z".into(),
            checkpoint: "checkpoints/1.checkpoint".into(),
            checkpoints: vec![],
            consistency: vec![],
            entries: vec![],
            policy: None,
            policies: Vec::new(),
            files: files.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect(),
            gaps: vec![],
            attachments: vec![],
        };
        let bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        let sig = signer.sign_note(&manifest_note_text(verifier.name(), &bytes)).unwrap();
        files.insert("manifest.json".into(), bytes);
        files.insert("manifest.sig".into(), sig.into_bytes());
        let out = dir.path().join("evidence.tar");
        let err = write_verified(&out, &files, &verifier).unwrap_err().to_string();
        assert!(err.contains("the exported package does not verify"), "{err}");
        assert!(err.contains("the head checkpoint is not in the package"), "{err}");
        assert!(err.ends_with("nothing was written"), "{err}");
        assert!(!out.exists() && !partial_path(&out).exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file is left behind");
    }
}
