//! Evidence packages: a tar file an auditor verifies offline, without the database.
//!
//! Layout (every path under `countersign-evidence/`):
//!
//! ```text
//! manifest.json                    what is inside, with the SHA-256 of every other file
//! manifest.sig                     C2SP signed note over the manifest's SHA-256, by the log key
//! log.vkey                         the log's public key (name+keyid+base64(0x01‖pubkey))
//! checkpoints/<size>.checkpoint    signed checkpoints: the head, and the first one covering the last entry
//! consistency/<old>-<new>.proof    consistency proof between them
//! entries/<index>.dsse.json        the entries, byte for byte as logged
//! proofs/<index>.tlog-proof        C2SP tlog-proof of each entry against the head checkpoint
//! policy/<version>.txt             the policy version in force at `until`
//! ```
//!
//! Verification reads the archive into memory and never extracts it; [`extract_package`]
//! exists for auditors who want the files, and refuses any path that would land outside
//! the target directory.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use countersign_log::dsse;
use countersign_log::merkle;
use countersign_log::note::{Checkpoint, LogVerifier};
use countersign_log::proof_text::{ConsistencyProofText, TlogProof};
use serde::{Deserialize, Serialize};

use crate::evidence::sha256_hex;
use crate::{Store, StoreError};

pub const PACKAGE_FORMAT: &str = "countersign.dev/evidence-package@v1";
const ROOT: &str = "countersign-evidence";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub index: u64,
    pub kind: String,
    pub file: String,
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPolicy {
    pub version: String,
    pub sha256: String,
    pub file: String,
    pub entry: u64,
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
    pub entries: Vec<ManifestEntry>,
    pub policy: Option<ManifestPolicy>,
    /// Path (relative to the package root) to lowercase hex SHA-256.
    pub files: BTreeMap<String, String>,
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
}

/// Write an evidence package of the entries recorded in `[since, until)`.
pub fn export(store: &Store, since: &str, until: &str, out: &Path) -> Result<ExportSummary, StoreError> {
    let signer = store.signer.as_ref().ok_or(StoreError::NoSigner)?;
    let verifier = signer.verifier();
    let (mut rows, policy) = store.export_rows(since, until)?;
    if let Some((_, _, _, idx)) = &policy
        && !rows.iter().any(|(i, _)| i == idx)
    {
        rows.push((*idx, store.entry(*idx)?));
        rows.sort_by_key(|(i, _)| *i);
    }
    let head = store.latest_checkpoint()?.ok_or(StoreError::NoCheckpoint(1))?;
    let head_cp = Checkpoint::open(&head, &verifier)?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut entries = Vec::new();
    for (index, bytes) in &rows {
        let proof = store.inclusion_proof(*index, Some(head_cp.size))?;
        if proof.checkpoint != head {
            return Err(StoreError::Package("the log grew during export; retry".into()));
        }
        let statement = dsse::statement_unverified(bytes)?;
        let kind = statement
            .predicate_type
            .trim_start_matches("https://countersign.dev/evidence/")
            .trim_end_matches("/v1")
            .to_owned();
        let file = format!("entries/{index}.dsse.json");
        let proof_file = format!("proofs/{index}.tlog-proof");
        files.insert(file.clone(), bytes.clone());
        files.insert(proof_file.clone(), proof.to_text().into_bytes());
        entries.push(ManifestEntry { index: *index, kind, file, proof: proof_file });
    }
    let mut checkpoints = vec![format!("checkpoints/{}.checkpoint", head_cp.size)];
    files.insert(checkpoints[0].clone(), head.clone().into_bytes());
    let mut consistency = Vec::new();
    if let Some((last, _)) = rows.last() {
        let proof = store.inclusion_proof(*last, Some(last + 1))?;
        let first_cp = Checkpoint::parse_text(&proof.checkpoint)?;
        if first_cp.size < head_cp.size {
            let name = format!("checkpoints/{}.checkpoint", first_cp.size);
            files.insert(name.clone(), proof.checkpoint.clone().into_bytes());
            checkpoints.push(name);
            let c = store.consistency_proof(first_cp.size, Some(head_cp.size))?;
            let cname = format!("consistency/{}-{}.proof", first_cp.size, head_cp.size);
            files.insert(cname.clone(), c.to_text().into_bytes());
            consistency.push(cname);
        }
    }
    let policy = policy.map(|(version, sha256, text, entry)| {
        let file = format!("policy/{}.txt", sanitize(&version));
        files.insert(file.clone(), text.into_bytes());
        ManifestPolicy { version, sha256, file, entry }
    });
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
        files: files.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Package(e.to_string()))?;
    let sig = signer.sign_note(&manifest_note_text(verifier.name(), &manifest_bytes))?;
    files.insert("manifest.json".into(), manifest_bytes);
    files.insert("manifest.sig".into(), sig.into_bytes());
    write_tar(out, &files)?;
    Ok(ExportSummary {
        entries: manifest.entries.len(),
        tree_size: head_cp.size,
        policy_version: policy.map(|p| p.version),
    })
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

fn write_tar(out: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: out.to_owned(), source };
    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(io)?;
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
    std::fs::rename(&tmp, out).map_err(io)?;
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

/// Read every regular file of the package into memory, refusing unsafe paths.
fn read_package(path: &Path) -> Result<Result<BTreeMap<String, Vec<u8>>, PackageFailure>, StoreError> {
    let io = |source| StoreError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut archive = tar::Archive::new(file);
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(io)? {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return Ok(Err(fail(None, format!("not a readable tar archive: {e}")))),
        };
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = safe_relative(Path::new(&name)) else {
            return Ok(Err(fail(None, format!("unsafe path in package: {name:?}"))));
        };
        match entry.header().entry_type() {
            tar::EntryType::Regular => {}
            tar::EntryType::Directory => continue,
            other => return Ok(Err(fail(None, format!("{name:?} is not a regular file ({other:?})")))),
        }
        let Ok(rest) = rel.strip_prefix(ROOT) else {
            return Ok(Err(fail(None, format!("{name:?} is outside {ROOT}/"))));
        };
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(io)?;
        let key = rest.to_string_lossy().replace('\\', "/");
        if files.insert(key.clone(), data).is_some() {
            return Ok(Err(fail(None, format!("{key} appears twice"))));
        }
    }
    Ok(Ok(files))
}

/// Verify a package offline. `pinned` is the log key the auditor trusts; without it the
/// package's own `log.vkey` is used (and must then be compared with the published key).
pub fn verify_package(
    path: &Path,
    pinned: Option<&LogVerifier>,
) -> Result<Result<PackageSummary, PackageFailure>, StoreError> {
    let files = match read_package(path)? {
        Ok(f) => f,
        Err(f) => return Ok(Err(f)),
    };
    Ok(verify_files(&files, pinned))
}

fn text<'a>(files: &'a BTreeMap<String, Vec<u8>>, name: &str) -> Result<&'a str, PackageFailure> {
    let bytes = files.get(name).ok_or_else(|| fail(None, format!("{name} is missing")))?;
    std::str::from_utf8(bytes).map_err(|_| fail(None, format!("{name} is not UTF-8")))
}

fn verify_files(
    files: &BTreeMap<String, Vec<u8>>,
    pinned: Option<&LogVerifier>,
) -> Result<PackageSummary, PackageFailure> {
    let manifest_bytes = files.get("manifest.json").ok_or_else(|| fail(None, "manifest.json is missing"))?;
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
    let manifest: Manifest =
        serde_json::from_slice(manifest_bytes).map_err(|e| fail(None, format!("manifest.json: {e}")))?;
    if manifest.format != PACKAGE_FORMAT {
        return Err(fail(None, format!("unknown package format {:?}", manifest.format)));
    }
    if manifest.vkey != verifier.vkey() || package_vkey != verifier.vkey() {
        return Err(fail(None, "the package's key is not the trusted log key"));
    }
    // 2. Every file is listed with its digest, and nothing unlisted is present.
    for (name, digest) in &manifest.files {
        let data =
            files.get(name).ok_or_else(|| fail(None, format!("{name} is listed in the manifest but missing")))?;
        if sha256_hex(data) != *digest {
            let entry = manifest.entries.iter().find(|e| e.file == *name || e.proof == *name).map(|e| e.index);
            return Err(fail(entry, format!("{name} was modified: its SHA-256 does not match the manifest")));
        }
    }
    if let Some(extra) =
        files.keys().find(|k| !manifest.files.contains_key(*k) && *k != "manifest.json" && *k != "manifest.sig")
    {
        return Err(fail(None, format!("{extra} is not listed in the manifest")));
    }
    // 3. Checkpoints are signed by the log key.
    let mut checkpoints = BTreeMap::new();
    for name in &manifest.checkpoints {
        let note = text(files, name)?;
        let cp = Checkpoint::open(note, &verifier).map_err(|e| fail(None, format!("{name}: {e}")))?;
        checkpoints.insert(name.clone(), (cp, note.to_owned()));
    }
    let (head, head_note) = checkpoints
        .get(&manifest.checkpoint)
        .cloned()
        .ok_or_else(|| fail(None, "the head checkpoint is not in the package"))?;
    // 4. Consistency of the older checkpoints with the head.
    for name in &manifest.consistency {
        let proof = ConsistencyProofText::parse(text(files, name)?).map_err(|e| fail(None, format!("{name}: {e}")))?;
        if proof.checkpoint != head_note {
            return Err(fail(None, format!("{name} is not against the head checkpoint")));
        }
        let old = checkpoints
            .values()
            .find(|(c, _)| c.size == proof.old_size)
            .ok_or_else(|| fail(None, format!("{name}: no checkpoint of size {}", proof.old_size)))?;
        merkle::verify_consistency(old.0.size, head.size, &old.0.root, &head.root, &proof.hashes).map_err(|e| {
            fail(
                None,
                format!("{name}: checkpoint {} is not consistent with checkpoint {}: {e}", old.0.size, head.size),
            )
        })?;
    }
    // 5. Every entry: signature, statement, inclusion in the head checkpoint.
    for entry in &manifest.entries {
        let bytes =
            files.get(&entry.file).ok_or_else(|| fail(Some(entry.index), format!("{} is missing", entry.file)))?;
        dsse::verify_entry(bytes, &verifier).map_err(|e| fail(Some(entry.index), e.to_string()))?;
        let proof = TlogProof::parse(text(files, &entry.proof)?).map_err(|e| fail(Some(entry.index), e.to_string()))?;
        if proof.index != entry.index {
            return Err(fail(Some(entry.index), format!("{} is a proof for entry {}", entry.proof, proof.index)));
        }
        if proof.checkpoint != head_note {
            return Err(fail(Some(entry.index), "inclusion proof is not against the head checkpoint"));
        }
        merkle::verify_inclusion(entry.index, head.size, &merkle::leaf_hash(bytes), &proof.hashes, &head.root)
            .map_err(|e| fail(Some(entry.index), format!("not included in the log: {e}")))?;
    }
    // 6. The policy text is the one logged.
    if let Some(policy) = &manifest.policy {
        let data = files.get(&policy.file).ok_or_else(|| fail(None, format!("{} is missing", policy.file)))?;
        if sha256_hex(data) != policy.sha256 {
            return Err(fail(Some(policy.entry), "the policy text does not match its logged digest"));
        }
        let entry = manifest
            .entries
            .iter()
            .find(|e| e.index == policy.entry)
            .ok_or_else(|| fail(Some(policy.entry), "the policy's log entry is not in the package"))?;
        let statement =
            dsse::statement_unverified(&files[&entry.file]).map_err(|e| fail(Some(entry.index), e.to_string()))?;
        if statement.predicate.get("sha256").and_then(|v| v.as_str()) != Some(policy.sha256.as_str()) {
            return Err(fail(Some(policy.entry), "the policy's log entry names another digest"));
        }
    }
    Ok(PackageSummary {
        origin: manifest.origin,
        vkey: verifier.vkey(),
        entries: manifest.entries.len(),
        tree_size: head.size,
        policy_version: manifest.policy.map(|p| p.version),
        key_pinned: pinned.is_some(),
    })
}

/// Extract a package's files under `dir`. Every path is checked first: anything absolute,
/// with `..`, or not a regular file is refused before a single byte is written.
pub fn extract_package(path: &Path, dir: &Path) -> Result<Result<usize, PackageFailure>, StoreError> {
    let files = match read_package(path)? {
        Ok(f) => f,
        Err(f) => return Ok(Err(f)),
    };
    for (name, data) in &files {
        let Some(rel) = safe_relative(Path::new(name)) else {
            return Ok(Err(fail(None, format!("unsafe path in package: {name:?}"))));
        };
        let target = dir.join(ROOT).join(rel);
        let io = |source| StoreError::Io { path: target.clone(), source };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&target, data).map_err(io)?;
    }
    Ok(Ok(files.len()))
}
