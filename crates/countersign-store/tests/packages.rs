//! Evidence packages (issue 7): bounded, streaming verification; GNU tar compatibility;
//! checkpoints an auditor trusts; gaps; export checking its own output; and parity between
//! the Rust verifier and the independent Python one (`tools/verify-log/verify_log.py`),
//! which these tests run (they need `python3` and GNU `tar` on PATH, and fail, saying so,
//! without them).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use countersign_log::dsse;
use countersign_log::merkle::{self, Hash};
use countersign_log::note::{Checkpoint, LogSigner, LogVerifier};
use countersign_log::proof_text::TlogProof;
use countersign_store::Store;
use countersign_store::package::{self, Manifest, ManifestEntry, ManifestPolicy};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const SINCE: &str = "2026-01-01T00:00:00Z";
const UNTIL: &str = "2027-01-01T00:00:00Z";
const ROOT: &str = "countersign-evidence";

fn vkey() -> String {
    signer(1).verifier().vkey()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A store with a policy (entry 0), an approval (entry 1) and `n` checks.
fn filled(db: &TestDb, n: usize) -> Store {
    let store = open(db);
    store.publish_policy("2026.1", "# policy\nreviews: 1\n", "lead", SINCE.parse().unwrap()).unwrap();
    store.record(&approval()).unwrap();
    fill(&store, n);
    store
}

fn export(store: &Store, dir: &Path, name: &str, consistency_from: &[u64]) -> PathBuf {
    let out = dir.join(name);
    package::export(store, SINCE, UNTIL, &out, consistency_from).unwrap();
    out
}

// ------------------------------------------------------------------ archives by hand

/// A package's files, relative to its root, in archive order.
type PackageFiles = Vec<(String, Vec<u8>)>;

/// The files of a (well-formed) package, relative to its root, in archive order.
fn files_of(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let rel = name.trim_start_matches("./").strip_prefix(&format!("{ROOT}/")).unwrap().to_owned();
        out.push((rel, data));
    }
    out
}

fn get<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} is in the package")).1
}

fn set(files: &mut Vec<(String, Vec<u8>)>, name: &str, data: Vec<u8>) {
    match files.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = data,
        None => files.push((name.to_owned(), data)),
    }
}

/// A ustar header. Names over 100 bytes are split into the ustar prefix; sizes that do not
/// fit 11 octal digits use GNU base-256.
fn header(name: &[u8], typeflag: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        let split = (0..name.len())
            .rev()
            .find(|&i| name[i] == b'/' && i <= 155 && name.len() - i - 1 <= 100)
            .expect("the name fits a ustar prefix and name");
        h[345..345 + split].copy_from_slice(&name[..split]);
        h[..name.len() - split - 1].copy_from_slice(&name[split + 1..]);
    }
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    if size < 8u64.pow(11) {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// One member: header, data, padding.
fn member(name: &str, typeflag: u8, data: &[u8]) -> Vec<u8> {
    let mut out = header(name.as_bytes(), typeflag, data.len() as u64).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A tar of `files` under `countersign-evidence/`, plus `extra` members (raw), then the
/// end-of-archive marker.
fn archive(files: &[(String, Vec<u8>)], extra: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        out.extend(member(&format!("{ROOT}/{name}"), b'0', data));
    }
    for raw in extra {
        out.extend_from_slice(raw);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Replace the manifest and sign it again with the log key (as only the key holder can).
fn resign(files: &mut Vec<(String, Vec<u8>)>, manifest: Vec<u8>) {
    let signer = signer(1);
    let sig = signer.sign_note(&package::manifest_note_text(signer.name(), &manifest)).unwrap();
    set(files, "manifest.json", manifest);
    set(files, "manifest.sig", sig.into_bytes());
}

fn edit_manifest(files: &[(String, Vec<u8>)], edit: impl FnOnce(&mut Value)) -> Vec<(String, Vec<u8>)> {
    let mut files = files.to_vec();
    let mut manifest: Value = serde_json::from_slice(get(&files, "manifest.json")).unwrap();
    edit(&mut manifest);
    resign(&mut files, serde_json::to_vec_pretty(&manifest).unwrap());
    files
}

fn edit_manifest_text(files: &[(String, Vec<u8>)], edit: impl FnOnce(String) -> String) -> Vec<(String, Vec<u8>)> {
    let mut files = files.to_vec();
    let text = String::from_utf8(get(&files, "manifest.json").to_vec()).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed the manifest");
    resign(&mut files, edited.into_bytes());
    files
}

/// A DSSE envelope around any payload, signed by the log key (the statement need not be
/// one this log would write).
fn envelope(signer: &LogSigner, payload: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = signer.sign_raw(&dsse::pae(dsse::PAYLOAD_TYPE, payload));
    serde_json::to_vec(&json!({
        "payload": b64.encode(payload),
        "payloadType": dsse::PAYLOAD_TYPE,
        "signatures": [{"keyid": dsse::dsse_key_id(&signer.verifier()), "sig": b64.encode(sig)}],
    }))
    .unwrap()
}

/// The same envelope in serde's other form of a struct: an array of its field values.
fn envelope_array(signer: &LogSigner, payload: &[u8], extra: bool) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = signer.sign_raw(&dsse::pae(dsse::PAYLOAD_TYPE, payload));
    let mut value =
        json!([b64.encode(payload), dsse::PAYLOAD_TYPE, [[dsse::dsse_key_id(&signer.verifier()), b64.encode(sig)]]]);
    if extra {
        value.as_array_mut().unwrap().push(json!(1));
    }
    serde_json::to_vec(&value).unwrap()
}

fn statement(predicate: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "pr#7", "digest": {"gitCommit": COMMIT}}],
        "predicateType": "https://countersign.dev/evidence/check/v1",
        "predicate": predicate,
    }))
    .unwrap()
}

/// A package built without a store: a log holding exactly `entries` (any bytes), signed
/// by the test key, with a policy text whose logged entry is `policy.2`.
fn hand_built(entries: &[Vec<u8>], policy: Option<(&str, &str, u64)>) -> Vec<(String, Vec<u8>)> {
    let signer = signer(1);
    let verifier = signer.verifier();
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    let size = leaves.len() as u64;
    let head = Checkpoint { origin: verifier.name().to_owned(), size, root: merkle::root_of_leaves(&leaves) }
        .sign(&signer)
        .unwrap();
    let node = |n: merkle::NodeId| -> Result<Hash, ()> {
        let start = (n.index << n.level) as usize;
        let end = (start + (1usize << n.level)).min(leaves.len());
        Ok(merkle::root_of_leaves(&leaves[start..end]))
    };
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut manifest_entries = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let index = i as u64;
        let hashes = merkle::inclusion_proof(index, size, node).unwrap().unwrap();
        let proof = TlogProof { extra: None, index, hashes, checkpoint: head.clone() };
        let (file, proof_file) = (format!("entries/{i}.dsse.json"), format!("proofs/{i}.tlog-proof"));
        files.insert(file.clone(), entry.clone());
        files.insert(proof_file.clone(), proof.to_text().into_bytes());
        manifest_entries.push(ManifestEntry { index, kind: "check".into(), file, proof: proof_file });
    }
    let checkpoint = format!("checkpoints/{size}.checkpoint");
    files.insert(checkpoint.clone(), head.into_bytes());
    files.insert("log.vkey".into(), format!("{}\n", verifier.vkey()).into_bytes());
    let policy = policy.map(|(version, text, entry)| {
        let file = format!("policy/{version}.txt");
        files.insert(file.clone(), text.as_bytes().to_vec());
        ManifestPolicy { version: version.into(), sha256: sha256_hex(text.as_bytes()), file, entry }
    });
    let manifest = Manifest {
        format: package::PACKAGE_FORMAT.into(),
        origin: verifier.name().into(),
        vkey: verifier.vkey(),
        since: SINCE.into(),
        until: UNTIL.into(),
        checkpoint: checkpoint.clone(),
        checkpoints: vec![checkpoint],
        consistency: vec![],
        entries: manifest_entries,
        policy,
        policies: vec![],
        files: files.iter().map(|(k, v)| (k.clone(), sha256_hex(v))).collect(),
        gaps: vec![],
        attachments: vec![],
    };
    let mut files: Vec<(String, Vec<u8>)> = files.into_iter().collect();
    resign(&mut files, serde_json::to_vec_pretty(&manifest).unwrap());
    files
}

// ------------------------------------------------------------------ the two verifiers

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Verified (exit 0).
    Accept,
    /// Read, and does not verify (exit 1).
    Reject,
    /// Could not be read (exit 2).
    Error,
}
use Verdict::*;

fn rust_verdict(path: &Path, vkey: Option<&str>, trusted: &[String]) -> (Verdict, String) {
    let pinned = vkey.map(|k| LogVerifier::from_vkey(k).unwrap());
    match package::verify_package(path, pinned.as_ref(), trusted) {
        Ok(Ok(s)) => (
            Accept,
            format!(
                "verified: {} entries, log size {}{}",
                s.entries,
                s.tree_size,
                package::gaps_warning(&s.gaps).map(|w| format!("; {w}")).unwrap_or_default()
            ),
        ),
        Ok(Err(f)) => (Reject, f.to_string()),
        Err(e) => (Error, e.to_string()),
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify-log/verify_log.py")
}

/// Run the Python verifier (killed after 60 s: it must never hang). Its output must never
/// hold a traceback.
fn python(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new("python3")
        .arg(script())
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("python3 must be installed to run the independent verifier");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("verify_log.py {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = format!("{}{}", std::fs::read_to_string(out).unwrap(), std::fs::read_to_string(err).unwrap());
    assert!(!text.contains("Traceback"), "verify_log.py {args:?} crashed:\n{text}");
    (status.code().unwrap_or(-1), text)
}

fn python_verdict(path: &Path, vkey: Option<&str>, trusted: &[String]) -> (Verdict, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["package".into(), path.display().to_string()];
    if let Some(vkey) = vkey {
        args.extend(["--vkey".into(), vkey.to_owned()]);
    }
    for (i, note) in trusted.iter().enumerate() {
        let file = write(dir.path(), &format!("trusted-{i}.checkpoint"), note.as_bytes());
        args.extend(["--trusted".into(), file.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, text) = python(&args);
    let verdict = match code {
        0 => Accept,
        1 => Reject,
        2 => Error,
        other => panic!("verify_log.py exited with {other}:\n{text}"),
    };
    (verdict, text.trim().to_owned())
}

fn assert_both(path: &Path, vkey: Option<&str>, trusted: &[String], expected: Verdict, needle: &str) {
    let (rust, rust_text) = rust_verdict(path, vkey, trusted);
    let (py, py_text) = python_verdict(path, vkey, trusted);
    assert_eq!(rust, expected, "Rust verifier on {}: {rust_text}", path.display());
    assert_eq!(py, expected, "Python verifier on {}: {py_text}", path.display());
    assert!(rust_text.contains(needle), "Rust verifier on {}: {rust_text:?} lacks {needle:?}", path.display());
    assert!(py_text.contains(needle), "Python verifier on {}: {py_text:?} lacks {needle:?}", path.display());
}

// ------------------------------------------------------------------ 1. bounded reads

/// A reader that yields `head` and then zeros without end, counting what was read.
struct Endless {
    head: Vec<u8>,
    read: u64,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1 << 16);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.head.get(self.read as usize + i).copied().unwrap_or(0);
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[test]
fn a_member_declaring_1_gib_is_refused_from_its_header_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let gib = 1u64 << 30;
    let head = header(format!("{ROOT}/entries/0.dsse.json").as_bytes(), b'0', gib).to_vec();
    // A 1 GiB member whose data (zeros) the reader would produce on demand: refused from
    // its header, after at most one buffer of input.
    let mut endless = Endless { head: head.clone(), read: 0 };
    let failure = package::verify_package_reader(&mut endless, None, &[]).unwrap().unwrap_err();
    assert!(failure.problem.contains("declares 1073741824 bytes"), "{failure}");
    assert!(endless.read <= 128 * 1024, "read {} bytes of a member it refused", endless.read);
    // The same header alone in a file (the archive is truncated right after it): refused
    // by size, not as a truncated archive, so its data was never asked for.
    let file = write(dir.path(), "huge-header.tar", &head);
    assert_both(&file, Some(&vkey()), &[], Reject, "declares 1073741824 bytes");
    // Base-256 sizes (GNU, for members of 8 GiB and more) are read as well.
    let base256 =
        write(dir.path(), "huge-base256.tar", &header(format!("{ROOT}/entries/0.dsse.json").as_bytes(), b'0', 1 << 40));
    assert_both(&base256, Some(&vkey()), &[], Reject, "declares 1099511627776 bytes");
}

#[test]
fn manifest_policy_and_extension_headers_over_their_limits_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    for (name, size, needle) in [
        (
            "manifest.json",
            package::MAX_MANIFEST_BYTES + 1,
            format!("manifest.json declares {}", package::MAX_MANIFEST_BYTES + 1),
        ),
        (
            "policy/2026.1.txt",
            package::MAX_POLICY_BYTES + 1,
            format!("policy/2026.1.txt declares {}", package::MAX_POLICY_BYTES + 1),
        ),
        ("proofs/0.tlog-proof", package::MAX_FILE_BYTES + 1, format!("declares {}", package::MAX_FILE_BYTES + 1)),
    ] {
        let file = write(dir.path(), "big.tar", &header(format!("{ROOT}/{name}").as_bytes(), b'0', size));
        assert_both(&file, Some(&vkey()), &[], Reject, &needle);
    }
    // At the limit itself the member is read (and found truncated here).
    let file = write(
        dir.path(),
        "at-limit.tar",
        &header(format!("{ROOT}/manifest.json").as_bytes(), b'0', package::MAX_MANIFEST_BYTES),
    );
    assert_both(&file, Some(&vkey()), &[], Reject, "truncated");
    // A pax extended header or GNU long name larger than 64 KiB.
    for typeflag in [b'x', b'L', b'g'] {
        let file = write(dir.path(), "ext.tar", &header(b"././@PaxHeader", typeflag, package::MAX_EXTENSION_BYTES + 1));
        assert_both(&file, Some(&vkey()), &[], Reject, "extended header at byte 0 declares 65537 bytes");
    }
}

#[test]
fn more_members_than_the_limit_are_refused() {
    // Directory members are cheap to send and hold nothing: the count limit stops them.
    let dir_member = header(format!("{ROOT}/d/").as_bytes(), b'5', 0);
    struct Dirs {
        block: [u8; 512],
        sent: u64,
    }
    impl Read for Dirs {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len() / 512 * 512;
            for chunk in buf[..n].chunks_mut(512) {
                chunk.copy_from_slice(&self.block);
            }
            self.sent += n as u64 / 512;
            Ok(n)
        }
    }
    let mut dirs = Dirs { block: dir_member, sent: 0 };
    let failure = package::verify_package_reader(&mut dirs, None, &[]).unwrap().unwrap_err();
    assert!(failure.problem.contains(&format!("more than {} members", package::MAX_MEMBERS)), "{failure}");
    assert!(dirs.sent < package::MAX_MEMBERS + 1000, "read {} headers", dirs.sent);
}

#[test]
fn a_fifo_or_dev_zero_is_refused_by_both_verifiers_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("package.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(status.success());
    for path in [fifo.clone(), PathBuf::from("/dev/zero"), dir.path().to_owned()] {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(rust_verdict(&p, None, &[]));
        });
        let (verdict, text) = rx.recv_timeout(Duration::from_secs(30)).expect("verify_package must not hang");
        assert_eq!(verdict, Error, "{}: {text}", path.display());
        assert!(text.contains("not a regular file"), "{text}");
        let (verdict, text) = python_verdict(&path, None, &[]);
        assert_eq!(verdict, Error, "{}: {text}", path.display());
        assert!(text.contains("not a regular file"), "{text}");
    }
    // And a package streamed from a reader that fails is an error, not a verdict.
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    assert!(package::verify_package_reader(Broken, None, &[]).is_err());
}

// ------------------------------------------------------------------ 2. GNU tar

fn run_tar(args: &[&str]) {
    let out = Command::new("tar").args(args).output().expect("GNU tar must be installed");
    assert!(out.status.success(), "tar {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The package re-archived by GNU tar in several forms, plus hand-made archives whose
/// root directory member has no trailing slash (as some tars write it).
fn re_archived(package: &Path, dir: &Path) -> Vec<(String, PathBuf)> {
    let src = dir.join("extracted");
    std::fs::create_dir_all(&src).unwrap();
    run_tar(&["-xf", package.to_str().unwrap(), "-C", src.to_str().unwrap()]);
    let src = src.to_str().unwrap();
    let mut out = Vec::new();
    for (label, format) in [
        ("GNU tar -cf (default format)", None),
        ("GNU tar --format=gnu", Some("--format=gnu")),
        ("GNU tar --format=pax", Some("--format=pax")),
        ("GNU tar --format=ustar", Some("--format=ustar")),
    ] {
        let file = dir.join(format!("{}.tar", label.replace([' ', '-', '='], "_")));
        let mut args = vec!["-C", src];
        args.extend(format);
        args.extend(["-cf", file.to_str().unwrap(), ROOT]);
        run_tar(&args);
        out.push((label.to_owned(), file));
    }
    let dot = dir.join("dot.tar");
    run_tar(&["-C", src, "-cf", dot.to_str().unwrap(), "."]);
    out.push(("GNU tar -C dir . (./ prefixes)".into(), dot));
    let dot_pax = dir.join("dot-pax.tar");
    run_tar(&["-C", src, "--format=pax", "-cf", dot_pax.to_str().unwrap(), "."]);
    out.push(("GNU tar --format=pax -C dir .".into(), dot_pax));

    let files = files_of(package);
    let mut root_no_slash = member(ROOT, b'5', b"");
    root_no_slash.extend(member(&format!("{ROOT}/entries"), b'5', b""));
    let mut bytes = root_no_slash.clone();
    bytes.extend(archive(&files, &[]));
    out.push(("root member without trailing /".into(), write(dir, "root-no-slash.tar", &bytes)));
    let mut bytes = member(".", b'5', b"");
    bytes.extend(member(&format!("./{ROOT}"), b'5', b""));
    for (name, data) in &files {
        bytes.extend(member(&format!("./{ROOT}/{name}"), b'0', data));
    }
    bytes.extend_from_slice(&[0u8; 1024]);
    out.push(("./ and ./countersign-evidence without trailing /".into(), write(dir, "dot-no-slash.tar", &bytes)));
    // V7: regular files with type '\0', directories as regular files with a trailing '/'.
    let mut bytes = member(&format!("{ROOT}/"), 0, b"");
    for (name, data) in &files {
        bytes.extend(member(&format!("{ROOT}/{name}"), 0, data));
    }
    bytes.extend_from_slice(&[0u8; 1024]);
    out.push(("v7 headers (type \\0, directory as name/)".into(), write(dir, "v7.tar", &bytes)));
    out
}

#[test]
fn packages_re_archived_with_gnu_tar_verify_in_both_verifiers() {
    let db = TestDb::sqlite();
    let store = filled(&db, 5);
    // A policy version long enough that its path needs a ustar prefix, a GNU long name or
    // a pax path (but short enough for ustar: its file name is under 100 bytes).
    let long = format!("2026.{}", "x".repeat(80));
    store.publish_policy(&long, "# long\n", "lead", "2026-02-01T00:00:00Z".parse().unwrap()).unwrap();
    let package = export(&store, db.dir.path(), "evidence.tar", &[]);
    assert!(files_of(&package).iter().any(|(n, _)| ROOT.len() + 1 + n.len() > 100));
    for (label, file) in re_archived(&package, db.dir.path()) {
        let (rust, rust_text) = rust_verdict(&file, Some(&vkey()), &[]);
        let (py, py_text) = python_verdict(&file, Some(&vkey()), &[]);
        assert_eq!((rust, py), (Accept, Accept), "{label}:\nRust: {rust_text}\nPython: {py_text}");
        assert!(py_text.contains("package verified: 8 entries"), "{label}: {py_text}");
    }
}

/// S004-14: a package holds every policy version in force during its period (the one in
/// force when it starts, and each published in it, oldest first), not only the last one;
/// a version superseded before the period is left out. Both verifiers check each text
/// against its logged digest, and that the one in force at the end is the last.
#[test]
fn s004_14_a_package_holds_every_policy_version_in_force_during_its_period() {
    let db = TestDb::sqlite();
    let store = open(&db);
    store.publish_policy("2025.1", "# superseded\n", "lead", "2025-03-01T00:00:00Z".parse().unwrap()).unwrap();
    store
        .publish_policy("2025.2", "# in force at the start\n", "lead", "2025-09-01T00:00:00Z".parse().unwrap())
        .unwrap();
    store.record(&approval()).unwrap();
    store.publish_policy("2026.2", "# mid-year\n", "lead", "2026-06-01T00:00:00Z".parse().unwrap()).unwrap();
    let package = export(&store, db.dir.path(), "evidence.tar", &[]);
    let files = files_of(&package);
    let manifest: Value = serde_json::from_slice(get(&files, "manifest.json")).unwrap();
    let versions: Vec<&str> =
        manifest["policies"].as_array().unwrap().iter().map(|p| p["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["2025.2", "2026.2"], "{manifest:#}");
    assert_eq!(manifest["policy"]["version"], "2026.2");
    assert_eq!(get(&files, "policy/2025.2.txt"), b"# in force at the start\n");
    assert!(!files.iter().any(|(n, _)| n == "policy/2025.1.txt"));
    assert_both(&package, Some(&vkey()), &[], Accept, "verified: 3 entries");

    // Re-signed with the order reversed: the one in force at the end is not the last.
    let reversed = edit_manifest(&files, |m| {
        let list = m["policies"].as_array_mut().unwrap();
        list.reverse();
    });
    let path = write(db.dir.path(), "reversed.tar", &archive(&reversed, &[]));
    assert_both(&path, Some(&vkey()), &[], Reject, "is not the last of `policies`");
    // Re-signed with a text that is not the logged one.
    let swapped = edit_manifest(&files, |m| m["policies"][0]["sha256"] = json!(sha256_hex(b"# something else\n")));
    let path = write(db.dir.path(), "swapped.tar", &archive(&swapped, &[]));
    assert_both(&path, Some(&vkey()), &[], Reject, "the policy text does not match its logged digest");
}

// ------------------------------------------------------------------ 3. malformed manifests

/// Manifests of every wrong JSON type, each signed again with the log key so that only
/// the manifest's parsing can refuse them.
fn json_mutations(files: &[(String, Vec<u8>)]) -> Vec<(String, PackageFiles)> {
    let mut out: Vec<(String, PackageFiles)> = Vec::new();
    let mut value = |label: &str, edit: &dyn Fn(&mut Value)| out.push((label.to_owned(), edit_manifest(files, edit)));
    value("entries is a string", &|m| m["entries"] = json!("entries"));
    value("entries is an object", &|m| m["entries"] = json!({"0": 1}));
    value("an entry is a list", &|m| m["entries"][0] = json!([0, "check"]));
    value("an entry is the array of its field values", &|m| {
        let e = m["entries"][2].clone();
        m["entries"][2] = json!([e["index"], e["kind"], e["file"], e["proof"]]);
    });
    value("policy is the array of its field values", &|m| {
        let p = m["policy"].clone();
        m["policy"] = json!([p["version"], p["sha256"], p["file"], p["entry"]]);
    });
    value("index is a float", &|m| m["entries"][2]["index"] = json!(2.0));
    value("index is a string", &|m| m["entries"][2]["index"] = json!("2"));
    value("index is null", &|m| m["entries"][2]["index"] = Value::Null);
    value("index is negative", &|m| m["entries"][2]["index"] = json!(-2));
    value("index is true", &|m| m["entries"][2]["index"] = json!(true));
    value("an entry has no index", &|m| {
        m["entries"][2].as_object_mut().unwrap().remove("index");
    });
    value("an entry has an unknown field", &|m| m["entries"][2]["extra"] = json!(1));
    value("file is a number", &|m| m["entries"][2]["file"] = json!(7));
    value("files is a list", &|m| m["files"] = json!(["log.vkey"]));
    value("a files digest is a number", &|m| m["files"]["log.vkey"] = json!(1));
    value("checkpoints is a string", &|m| m["checkpoints"] = json!("checkpoints/9.checkpoint"));
    value("consistency is an object", &|m| m["consistency"] = json!({}));
    value("checkpoint is a number", &|m| m["checkpoint"] = json!(9));
    value("policy is a list", &|m| m["policy"] = json!(["2026.1"]));
    value("policy entry is a string", &|m| m["policy"]["entry"] = json!("0"));
    value("policy has an unknown field", &|m| m["policy"]["note"] = json!("x"));
    value("format is missing", &|m| {
        m.as_object_mut().unwrap().remove("format");
    });
    value("an unknown top-level field", &|m| m["signedBy"] = json!("me"));
    value("gaps is null", &|m| m["gaps"] = Value::Null);
    value("gaps is a string", &|m| m["gaps"] = json!("3-4"));
    value("a gap has one number", &|m| m["gaps"] = json!([[3]]));
    value("a gap has three numbers", &|m| m["gaps"] = json!([[3, 4, 5]]));
    value("the manifest is a list", &|m| *m = json!([m.clone()]));
    value("the manifest is a string", &|m| *m = json!("manifest"));
    let mut text =
        |label: &str, edit: &dyn Fn(String) -> String| out.push((label.to_owned(), edit_manifest_text(files, edit)));
    text("index 2^64", &|t| t.replacen("\"index\": 2,", "\"index\": 18446744073709551616,", 1));
    text("index NaN", &|t| t.replacen("\"index\": 2,", "\"index\": NaN,", 1));
    text("index -0", &|t| t.replacen("\"index\": 2,", "\"index\": -0,", 1));
    text("index 2e0", &|t| t.replacen("\"index\": 2,", "\"index\": 2e0,", 1));
    text("a duplicate field", &|t| t.replacen("\"format\":", "\"format\": \"x\",\n  \"format\":", 1));
    text("a duplicate entry field", &|t| t.replacen("\"index\": 2,", "\"index\": 2,\n      \"index\": 2,", 1));
    text("a lone surrogate", &|t| t.replacen("\"since\": \"", "\"since\": \"\\ud800", 1));
    text("not JSON", &|t| t[..t.len() / 2].to_owned());
    text("trailing data", &|t| format!("{t} {{}}"));
    text("a UTF-8 byte order mark", &|t| format!("\u{feff}{t}"));
    text("deeply nested", &|t| t.replacen("\"policy\": {", &format!("\"policy\": {}{{", "[".repeat(3000)), 1));
    out
}

#[test]
fn both_verifiers_refuse_every_malformed_manifest_type_with_a_clean_message() {
    let db = TestDb::sqlite();
    let store = filled(&db, 3);
    let package = export(&store, db.dir.path(), "evidence.tar", &[]);
    let files = files_of(&package);
    for (label, mutated) in json_mutations(&files) {
        let file = write(db.dir.path(), "mutated.tar", &archive(&mutated, &[]));
        let (rust, rust_text) = rust_verdict(&file, Some(&vkey()), &[]);
        let (py, py_text) = python_verdict(&file, Some(&vkey()), &[]);
        assert_eq!((rust, py), (Reject, Reject), "{label}:\nRust: {rust_text}\nPython: {py_text}");
        assert!(py_text.starts_with("verification FAILED: "), "{label}: {py_text}");
        assert!(
            !py_text.contains("unexpected input"),
            "{label}: the Python verifier fell through to its last resort: {py_text}"
        );
    }
}

// ------------------------------------------------------------------ 5. trusted checkpoints

#[test]
fn trusted_checkpoints_catch_rollback_fork_and_a_missing_consistency_proof() {
    let db = TestDb::sqlite();
    let dir = db.dir.path();
    let store = filled(&db, 6); // size 8
    let earlier = export(&store, dir, "earlier.tar", &[]);
    let cp8 = store.checkpoint(8).unwrap();
    assert_both(&earlier, Some(&vkey()), std::slice::from_ref(&cp8), Accept, "verified");
    fill(&store, 4); // size 12
    let cp12 = store.checkpoint(12).unwrap();

    // The next package, with a consistency proof from the size the auditor holds.
    let later = export(&store, dir, "later.tar", &[8]);
    let names: Vec<String> = files_of(&later).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"consistency/8-12.proof".to_owned()) && names.contains(&"checkpoints/8.checkpoint".to_owned()),
        "{names:?}"
    );
    assert_both(&later, Some(&vkey()), std::slice::from_ref(&cp8), Accept, "verified");
    assert_both(&later, Some(&vkey()), &[cp8.clone(), cp12.clone()], Accept, "verified");

    // Without that proof, the trusted checkpoint cannot be checked: refused.
    let without = export(&store, dir, "without.tar", &[]);
    assert_both(
        &without,
        Some(&vkey()),
        std::slice::from_ref(&cp8),
        Reject,
        "no consistency proof from the checkpoint of size 8",
    );

    // The earlier package against a later checkpoint: the log it shows was rolled back.
    assert_both(
        &earlier,
        Some(&vkey()),
        std::slice::from_ref(&cp12),
        Reject,
        "rolled back: the log is smaller than a checkpoint you trusted (size 12 > 8)",
    );

    // Another log under the same key (a fork): same sizes, other roots.
    let other_db = TestDb::sqlite();
    let other = open(&other_db);
    for i in 0..12 {
        other.record(&check(100 + i)).unwrap();
    }
    let fork12 = other.checkpoint(12).unwrap();
    let fork8 = other.checkpoint(8).unwrap();
    let root = |note: &str| hex(&Checkpoint::open(note, &signer(1).verifier()).unwrap().root);
    assert_both(
        &later,
        Some(&vkey()),
        std::slice::from_ref(&fork12),
        Reject,
        &format!("fork: two signed checkpoints of size 12 with different roots {} and {}", root(&fork12), root(&cp12)),
    );
    assert_both(
        &later,
        Some(&vkey()),
        std::slice::from_ref(&fork8),
        Reject,
        &format!("fork: two signed checkpoints of size 8 with different roots {} and {}", root(&fork8), root(&cp8)),
    );

    // A trusted checkpoint must be signed by the trusted key.
    let cp = Checkpoint::parse_text(cp8.split_once("\n\n").unwrap().0).unwrap();
    let forged = cp.sign(&signer(2)).unwrap();
    assert_both(&later, Some(&vkey()), &[forged], Reject, "trusted checkpoint 1: no signature by key");

    // A size the log never reached cannot be proven from.
    let err = package::export(&store, SINCE, UNTIL, &dir.join("never.tar"), &[13]).unwrap_err();
    assert!(err.to_string().contains("fewer than the checkpoint of size 13"), "{err}");
    assert!(!dir.join("never.tar").exists());
}

// ------------------------------------------------------------------ 6. export checks itself

#[test]
fn export_refuses_a_store_whose_tree_nodes_do_not_match_its_entries_and_writes_nothing() {
    let db = TestDb::sqlite();
    let store = filled(&db, 7); // 9 entries: node (level 1, index 0) is in most proofs
    store
        .execute_raw_for_tests(&format!(
            "UPDATE tree_nodes SET hash = x'{}' WHERE level = 1 AND idx = 0",
            "00".repeat(32)
        ))
        .unwrap();
    let out = db.dir.path().join("evidence.tar");
    let err = package::export(&store, SINCE, UNTIL, &out, &[])
        .expect_err("a package whose proofs do not verify must not be written");
    // The store's own proven reads may catch it first; either way nothing is written.
    let text = err.to_string();
    assert!(text.contains("nothing was written") || text.contains("tampered"), "{text}");
    assert_nothing_written(db.dir.path());
}

fn assert_nothing_written(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().starts_with("evidence")), "files left behind: {left:?}");
}

// ------------------------------------------------------------------ 7. gaps

#[test]
fn an_export_that_skips_indices_names_the_gaps_and_both_verifiers_warn() {
    let db = TestDb::sqlite();
    let store = open(&db);
    store.publish_policy("2026.1", "# policy\n", "lead", SINCE.parse().unwrap()).unwrap(); // 0
    store.record(&approval()).unwrap(); // 1
    for i in 2..9 {
        let mut request = check(i);
        if matches!(i, 3 | 4 | 7) {
            request.recorded_at = "2025-06-01T00:00:00Z".parse().unwrap(); // outside the period
        }
        store.record(&request).unwrap();
    }
    let out = db.dir.path().join("evidence.tar");
    let summary = package::export(&store, SINCE, UNTIL, &out, &[]).unwrap();
    assert_eq!(summary.gaps, vec![(3, 4), (7, 7)]);
    let manifest: Value = serde_json::from_slice(get(&files_of(&out), "manifest.json")).unwrap();
    assert_eq!(manifest["gaps"], json!([[3, 4], [7, 7]]));
    let verified = package::verify_package(&out, Some(&signer(1).verifier()), &[]).unwrap().unwrap();
    assert_eq!(verified.gaps, vec![(3, 4), (7, 7)]);
    assert_both(&out, Some(&vkey()), &[], Accept, "warning: log entries 3-4, 7 lie between the first and last entry");

    // A contiguous period has no gaps, and its manifest no `gaps` field (readable by
    // verifiers that predate it).
    let contiguous = db.dir.path().join("contiguous.tar");
    let summary = package::export(&store, SINCE, "2026-01-02T03:04:05Z", &contiguous, &[]).unwrap();
    assert!(summary.gaps.is_empty());
    let manifest: Value = serde_json::from_slice(get(&files_of(&contiguous), "manifest.json")).unwrap();
    assert!(manifest.get("gaps").is_none(), "{manifest}");
}

// ------------------------------------------------------------------ never panic

#[test]
fn verify_package_reader_never_panics_on_mutated_or_random_bytes() {
    let db = TestDb::sqlite();
    let store = filled(&db, 3);
    let package = export(&store, db.dir.path(), "evidence.tar", &[]);
    let valid = std::fs::read(&package).unwrap();
    let verifier = signer(1).verifier();
    let trusted = vec![store.latest_checkpoint().unwrap().unwrap()];
    assert!(package::verify_package_reader(valid.as_slice(), Some(&verifier), &trusted).unwrap().is_ok());
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..3000 {
        let mut bytes = valid.clone();
        match round % 6 {
            0 => {
                for _ in 0..1 + next() % 8 {
                    let i = (next() % bytes.len() as u64) as usize;
                    bytes[i] = next() as u8;
                }
            }
            1 => bytes.truncate((next() % bytes.len() as u64) as usize),
            2 => {
                // A header field (size, checksum, type, magic, prefix) of a random header.
                let blocks = bytes.len() / 512;
                let at =
                    (next() % blocks as u64) as usize * 512 + [124, 130, 148, 156, 257, 345][(next() % 6) as usize];
                for b in &mut bytes[at..at + 4] {
                    *b = next() as u8;
                }
            }
            3 => {
                let i = (next() % bytes.len() as u64) as usize;
                let junk: Vec<u8> = (0..next() % 700).map(|_| next() as u8).collect();
                bytes.splice(i..i, junk);
            }
            4 => bytes = (0..next() % 4096).map(|_| next() as u8).collect(),
            _ => {
                // A valid header for a random name, type and size, then random data.
                let names: [&[u8]; 5] =
                    [b"countersign-evidence/manifest.json", b"../x", b"countersign-evidence/", b"", b"./"];
                let typeflag = [b'0', b'5', b'x', b'L', b'g', b'2', 0][(next() % 7) as usize];
                bytes = header(names[(next() % 5) as usize], typeflag, next() % 2048).to_vec();
                bytes.extend((0..next() % 3000).map(|_| next() as u8));
            }
        }
        let pinned = (round % 2 == 0).then_some(&verifier);
        let _ = package::verify_package_reader(bytes.as_slice(), pinned, &trusted);
    }
}

// ------------------------------------------------------------------ 4. parity

struct Case {
    name: String,
    file: PathBuf,
    vkey: Option<String>,
    trusted: Vec<String>,
    expected: Verdict,
}

/// Every kind of package the two verifiers must agree on, with the verdict both must give.
fn corpus(dir: &Path) -> Vec<Case> {
    let key = Some(vkey());
    let mut cases = Vec::new();
    let mut add = |name: &str, file: PathBuf, vkey: Option<String>, trusted: Vec<String>, expected: Verdict| {
        cases.push(Case { name: name.to_owned(), file, vkey, trusted, expected })
    };
    let db = TestDb::sqlite();
    let store = filled(&db, 6); // size 8
    let earlier = export(&store, dir, "earlier.tar", &[]);
    let cp8 = store.checkpoint(8).unwrap();
    let mut late = check(50);
    late.recorded_at = "2025-06-01T00:00:00Z".parse().unwrap();
    store.record(&late).unwrap(); // index 8, outside the period: a gap
    fill(&store, 3); // size 12
    let cp12 = store.checkpoint(12).unwrap();
    let package = export(&store, dir, "package.tar", &[8]);
    let files = files_of(&package);

    add("exported package", package.clone(), key.clone(), vec![], Accept);
    let long_db = TestDb::sqlite();
    let long_store = filled(&long_db, 1);
    long_store.publish_policy(&"v".repeat(120), "# long\n", "lead", "2026-02-01T00:00:00Z".parse().unwrap()).unwrap();
    let long = export(&long_store, dir, "long-name.tar", &[]);
    assert!(
        std::fs::read(&long).unwrap().windows(13).any(|w| w == b"././@LongLink"),
        "the tar crate wrote a GNU long name"
    );
    add("exported package with a 124-byte file name (GNU long name member)", long, key.clone(), vec![], Accept);
    add("exported package, the package's own key", package.clone(), None, vec![], Accept);
    add("exported package, another key pinned", package.clone(), Some(signer(2).verifier().vkey()), vec![], Reject);
    add(
        "exported package (with a gap at 8), trusted checkpoint 8 + proof",
        package.clone(),
        key.clone(),
        vec![cp8.clone()],
        Accept,
    );
    add("trusted checkpoint = head", package.clone(), key.clone(), vec![cp12.clone()], Accept);
    add("earlier package, trusted checkpoint 8", earlier.clone(), key.clone(), vec![cp8.clone()], Accept);
    add(
        "rolled back: earlier package, trusted checkpoint 12",
        earlier.clone(),
        key.clone(),
        vec![cp12.clone()],
        Reject,
    );
    let without = export(&store, dir, "without.tar", &[]);
    add("trusted checkpoint 8, package without its proof", without, key.clone(), vec![cp8.clone()], Reject);
    let other_db = TestDb::sqlite();
    let other = open(&other_db);
    for i in 0..12 {
        other.record(&check(100 + i)).unwrap();
    }
    add(
        "fork at the head's size (trusted 12 from another log)",
        package.clone(),
        key.clone(),
        vec![other.checkpoint(12).unwrap()],
        Reject,
    );
    add(
        "fork below the head (trusted 8 from another log)",
        package.clone(),
        key.clone(),
        vec![other.checkpoint(8).unwrap()],
        Reject,
    );
    let cp = Checkpoint::parse_text(cp8.split_once("\n\n").unwrap().0).unwrap();
    add(
        "trusted checkpoint signed by another key",
        package.clone(),
        key.clone(),
        vec![cp.sign(&signer(2)).unwrap()],
        Reject,
    );

    for (label, file) in re_archived(&package, dir) {
        add(&format!("re-archived: {label}"), file, key.clone(), vec![], Accept);
    }
    for (i, (label, mutated)) in json_mutations(&files).into_iter().enumerate() {
        add(
            &format!("manifest: {label}"),
            write(dir, &format!("json-{i}.tar"), &archive(&mutated, &[])),
            key.clone(),
            vec![],
            Reject,
        );
    }

    // Archive-level cases.
    let entry = format!("{ROOT}/entries/3.dsse.json");
    let mut n = 0;
    let mut raw = |label: &str, bytes: Vec<u8>, expected: Verdict| {
        n += 1;
        (label.to_owned(), write(dir, &format!("raw-{n}.tar"), &bytes), expected)
    };
    let mut raws = vec![
        raw("same files, written by hand (ustar)", archive(&files, &[]), Accept),
        raw("a 1 GiB entry declared (header only)", header(entry.as_bytes(), b'0', 1 << 30).to_vec(), Reject),
        raw(
            "a 33 MiB manifest declared",
            header(format!("{ROOT}/manifest.json").as_bytes(), b'0', 33 << 20).to_vec(),
            Reject,
        ),
        raw(
            "a 17 MiB policy declared",
            header(format!("{ROOT}/policy/2026.1.txt").as_bytes(), b'0', 17 << 20).to_vec(),
            Reject,
        ),
        raw("a 65 KiB pax header declared", header(b"PaxHeader/x", b'x', 65 << 10).to_vec(), Reject),
        raw("path traversal", archive(&files, &[member(&format!("{ROOT}/../escaped.txt"), b'0', b"x")]), Reject),
        raw("absolute path", archive(&files, &[member(&format!("/{ROOT}/notes.txt"), b'0', b"x")]), Reject),
        raw("member outside the root", archive(&files, &[member("other/notes.txt", b'0', b"x")]), Reject),
        raw("symlink member", archive(&files, &[member(&format!("{ROOT}/link"), b'2', b"")]), Reject),
        raw("hard link member", archive(&files, &[member(&format!("{ROOT}/hard"), b'1', b"")]), Reject),
        raw("FIFO member", archive(&files, &[member(&format!("{ROOT}/fifo"), b'6', b"")]), Reject),
        raw("character device member", archive(&files, &[member(&format!("{ROOT}/dev"), b'3', b"")]), Reject),
        raw("duplicate member", archive(&files, &[member(&entry, b'0', get(&files, "entries/3.dsse.json"))]), Reject),
        raw("unlisted file", archive(&files, &[member(&format!("{ROOT}/notes.txt"), b'0', b"x")]), Reject),
        raw("a file at the root's own name", archive(&files, &[member(ROOT, b'0', b"x")]), Reject),
        raw("a directory with data", archive(&files, &[member(&format!("{ROOT}/d/"), b'5', b"x")]), Reject),
        raw("trailing bytes after the end marker", [archive(&files, &[]), b"garbage".to_vec()].concat(), Accept),
        raw("no end marker", archive(&files, &[])[..archive(&files, &[]).len() - 1024].to_vec(), Accept),
        raw("not a tar archive", b"hello, auditor\n".repeat(100), Reject),
        raw("empty file", Vec::new(), Reject),
    ];
    let mut removed = files.clone();
    removed.retain(|(n, _)| n != "entries/3.dsse.json");
    raws.push(raw("entry 3 removed from the archive", archive(&removed, &[]), Reject));
    let mut changed = files.clone();
    let mut bytes = get(&changed, "entries/3.dsse.json").to_vec();
    bytes[40] ^= 1;
    set(&mut changed, "entries/3.dsse.json", bytes);
    raws.push(raw("one byte changed in entry 3", archive(&changed, &[]), Reject));
    let mut changed = files.clone();
    let mut bytes = get(&changed, "proofs/3.tlog-proof").to_vec();
    let at = bytes.len() - 30;
    bytes[at] ^= 1;
    set(&mut changed, "proofs/3.tlog-proof", bytes);
    raws.push(raw("one byte changed in a proof", archive(&changed, &[]), Reject));
    let mut changed = files.clone();
    let mut bytes = get(&changed, "manifest.json").to_vec();
    bytes[20] ^= 1;
    set(&mut changed, "manifest.json", bytes);
    raws.push(raw("one byte changed in the manifest", archive(&changed, &[]), Reject));
    let mut bad_sum = archive(&files, &[]);
    bad_sum[150] ^= 1;
    raws.push(raw("bad header checksum", bad_sum, Reject));
    let whole = archive(&files, &[]);
    raws.push(raw("truncated in the middle of a member", whole[..whole.len() / 2 + 100].to_vec(), Reject));
    // Re-signed manifests: only the key holder can make these.
    let dropped = edit_manifest(&removed, |m| {
        m["entries"].as_array_mut().unwrap().retain(|e| e["index"] != json!(3));
        m["files"].as_object_mut().unwrap().remove("entries/3.dsse.json");
        m["files"].as_object_mut().unwrap().remove("proofs/3.tlog-proof");
    });
    let dropped: Vec<_> = dropped.into_iter().filter(|(n, _)| n != "proofs/3.tlog-proof").collect();
    raws.push(raw("entry 3 dropped from archive and manifest, re-signed (authentic)", archive(&dropped, &[]), Accept));
    let bad = edit_manifest(&files, |m| m["gaps"] = json!([[3, 3]]));
    raws.push(raw("re-signed: a gap listing an entry the package holds", archive(&bad, &[]), Reject));
    let bad = edit_manifest(&files, |m| m["gaps"] = json!([[8, 8], [5, 6]]));
    raws.push(raw("re-signed: gaps out of order", archive(&bad, &[]), Reject));
    let bad = edit_manifest(&files, |m| {
        let first = m["entries"][0].clone();
        m["entries"].as_array_mut().unwrap().push(first);
    });
    raws.push(raw("re-signed: an entry listed twice", archive(&bad, &[]), Reject));
    let bad = edit_manifest(&files, |m| m["consistency"] = json!([]));
    raws.push(raw("re-signed: an older checkpoint without its consistency proof", archive(&bad, &[]), Reject));
    let bad = edit_manifest(&files, |m| {
        m["checkpoints"] = json!(["checkpoints/12.checkpoint", "checkpoints/12.checkpoint", "checkpoints/8.checkpoint"])
    });
    raws.push(raw("re-signed: the head listed twice", archive(&bad, &[]), Accept));
    for (label, file, expected) in raws {
        add(&label, file, key.clone(), vec![], expected);
    }

    // Hand-built logs, signed with the key: statements of every shape.
    let signer = signer(1);
    let text = "# policy\n";
    let digest = sha256_hex(text.as_bytes());
    let good = |predicate: Value| envelope(&signer, &statement(predicate));
    let mut built = |label: &str, entries: Vec<Vec<u8>>, expected: Verdict| {
        let files = hand_built(&entries, Some(("v1", text, 0)));
        add(
            label,
            write(
                dir,
                &format!("built-{}.tar", label.replace(|c: char| !c.is_ascii_alphanumeric(), "_")),
                &archive(&files, &[]),
            ),
            key.clone(),
            vec![],
            expected,
        );
    };
    built(
        "hand-built log",
        vec![good(json!({"sha256": digest, "version": "v1"})), good(json!({"name": "ci"}))],
        Accept,
    );
    built("policy entry's predicate is a list", vec![good(json!(["sha256", digest])), good(json!({}))], Reject);
    built("policy entry's predicate is a string", vec![good(json!(digest)), good(json!({}))], Reject);
    built("policy entry's digest is a number", vec![good(json!({"sha256": 5})), good(json!({}))], Reject);
    built("predicate is null (not the policy entry)", vec![good(json!({"sha256": digest})), good(Value::Null)], Accept);
    let payload = |v: Value| envelope(&signer, &serde_json::to_vec(&v).unwrap());
    let policy_entry = good(json!({"sha256": digest}));
    built(
        "statement: subject is a string",
        vec![
            policy_entry.clone(),
            payload(
                json!({"_type": "https://in-toto.io/Statement/v1", "subject": "pr#7", "predicateType": "t", "predicate": {}}),
            ),
        ],
        Reject,
    );
    built(
        "statement: no predicate",
        vec![
            policy_entry.clone(),
            payload(json!({"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "t"})),
        ],
        Reject,
    );
    built(
        "statement: wrong _type",
        vec![
            policy_entry.clone(),
            payload(json!({"_type": "x", "subject": [], "predicateType": "t", "predicate": {}})),
        ],
        Reject,
    );
    built(
        "statement: a digest value is a number",
        vec![
            policy_entry.clone(),
            payload(
                json!({"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": {"sha256": 1}}], "predicateType": "t", "predicate": {}}),
            ),
        ],
        Reject,
    );
    built("statement: payload is not JSON", vec![policy_entry.clone(), envelope(&signer, b"not json")], Reject);
    built("statement: payload is a list", vec![policy_entry.clone(), envelope(&signer, b"[]")], Reject);
    built(
        "envelope: signatures is an object",
        vec![
            policy_entry.clone(),
            br#"{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":{}}"#.to_vec(),
        ],
        Reject,
    );
    built(
        "envelope: payload is a number",
        vec![
            policy_entry.clone(),
            br#"{"payload":5,"payloadType":"application/vnd.in-toto+json","signatures":[]}"#.to_vec(),
        ],
        Reject,
    );
    built("envelope: a list", vec![policy_entry.clone(), b"[1,2]".to_vec()], Reject);
    built(
        "envelope as an array of its fields (serde's struct form)",
        vec![policy_entry.clone(), envelope_array(&signer, &statement(json!({})), false)],
        Accept,
    );
    built(
        "envelope as an array with one value too many",
        vec![policy_entry.clone(), envelope_array(&signer, &statement(json!({})), true)],
        Reject,
    );
    built(
        "statement as an array of its fields",
        vec![
            policy_entry.clone(),
            payload(json!(["https://in-toto.io/Statement/v1", [["pr#7", {"sha256": "ab"}]], "t", {}])),
        ],
        Accept,
    );
    built(
        "statement as an array with one value too few",
        vec![policy_entry.clone(), payload(json!(["https://in-toto.io/Statement/v1", [], "t"]))],
        Reject,
    );
    let nested = |levels: usize| {
        envelope(&signer, format!("{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[],\"predicateType\":\"t\",\"predicate\":{}{}}}", "[".repeat(levels), "]".repeat(levels)).as_bytes())
    };
    built("predicate nested 126 deep", vec![policy_entry.clone(), nested(126)], Accept);
    built("predicate nested 127 deep", vec![policy_entry.clone(), nested(127)], Reject);
    built("predicate holds 1e400", vec![policy_entry.clone(), envelope(&signer, br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"t","predicate":{"n":1e400}}"#)], Reject);
    let integer = |digits: usize| {
        envelope(&signer, format!("{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[],\"predicateType\":\"t\",\"predicate\":{{\"n\":{}}}}}", "9".repeat(digits)).as_bytes())
    };
    built("predicate holds a 300-digit integer", vec![policy_entry.clone(), integer(300)], Accept);
    built("predicate holds a 400-digit integer (beyond any float)", vec![policy_entry.clone(), integer(400)], Reject);
    built("predicate with a duplicate key (last wins)", vec![policy_entry.clone(), envelope(&signer, br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"t","predicate":{"n":1,"n":2}}"#)], Accept);
    built("statement with a duplicate field", vec![policy_entry.clone(), envelope(&signer, br#"{"_type":"https://in-toto.io/Statement/v1","_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"t","predicate":{}}"#)], Reject);
    built("envelope: not UTF-8", vec![policy_entry.clone(), b"{\"payload\":\"\xff\"}".to_vec()], Reject);
    built(
        "envelope: the signature is not base64",
        vec![
            policy_entry.clone(),
            String::from_utf8(good(json!({}))).unwrap().replace("\"sig\":\"", "\"sig\":\"!").into_bytes(),
        ],
        Reject,
    );

    // Inputs that are not packages at all.
    let fifo = dir.join("package.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    add("a FIFO", fifo, key.clone(), vec![], Error);
    add("/dev/zero", PathBuf::from("/dev/zero"), key.clone(), vec![], Error);
    add("a directory", dir.to_owned(), key.clone(), vec![], Error);
    add("a missing file", dir.join("missing.tar"), key.clone(), vec![], Error);
    cases
}

#[test]
fn rust_and_python_verifiers_agree_on_every_package_in_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let cases = corpus(dir.path());
    let mut table = String::from("| case | Rust | Python |\n|---|---|---|\n");
    let mut wrong = Vec::new();
    for case in &cases {
        let (rust, rust_text) = rust_verdict(&case.file, case.vkey.as_deref(), &case.trusted);
        let (py, py_text) = python_verdict(&case.file, case.vkey.as_deref(), &case.trusted);
        table.push_str(&format!("| {} | {rust:?} | {py:?} |\n", case.name));
        if rust != case.expected || py != case.expected {
            wrong.push(format!(
                "{}: expected {:?}, Rust {rust:?} ({rust_text}), Python {py:?} ({py_text})",
                case.name, case.expected
            ));
        }
    }
    eprintln!("{table}");
    assert!(cases.len() > 90, "the corpus has {} cases", cases.len());
    assert!(wrong.is_empty(), "the verifiers disagree with the expected verdict:\n{}", wrong.join("\n"));
}
