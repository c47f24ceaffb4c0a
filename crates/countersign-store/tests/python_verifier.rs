//! Cross-check with the independent Python verifier in `tools/verify-log/` (written from
//! the specifications): packages this crate exports must verify there, and tampered ones
//! must fail there too. Needs `python3` on PATH (fails, saying so, without it).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify-log/verify_log.py")
}

fn python(args: &[&str], pure: bool) -> (i32, String) {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .env("COUNTERSIGN_VERIFY_PURE", if pure { "1" } else { "0" })
        .output()
        .expect("python3 must be installed to run the independent verifier");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn python_verifier_passes_its_own_published_vectors() {
    for pure in [false, true] {
        let (code, out) = python(&["selftest"], pure);
        assert_eq!(code, 0, "{out}");
    }
}

#[test]
fn python_verifier_accepts_exported_packages_and_rejects_tampered_ones() {
    let db = TestDb::sqlite();
    let store = open(&db);
    store.publish_policy("v1", "policy text\n", "lead", "2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
    store.record(&approval()).unwrap();
    fill(&store, 12);
    let out = package_path(&db);
    countersign_store::package::export(&store, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", &out, &[]).unwrap();
    let vkey = signer(1).verifier().vkey();
    let file = out.to_str().unwrap();
    for pure in [false, true] {
        let (code, text) = python(&["package", file, "--vkey", &vkey], pure);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("package verified: 14 entries"), "{text}");
    }
    let other = signer(2).verifier().vkey();
    assert_eq!(python(&["package", file, "--vkey", &other], false).0, 1);

    let edited = rewrite_package(&out, "manifest.json", |m| {
        String::from_utf8(m.to_vec()).unwrap().replacen("\"index\": 3", "\"index\": 4", 1).into_bytes()
    });
    let (code, text) = python(&["package", edited.to_str().unwrap(), "--vkey", &vkey], false);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("manifest.json was modified"), "{text}");

    let edited = rewrite_package(&out, "entries/5.dsse.json", |e| {
        let mut e = e.to_vec();
        e[30] ^= 1;
        e
    });
    let (code, text) = python(&["package", edited.to_str().unwrap(), "--vkey", &vkey], false);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("entry 5"), "{text}");

    // A single inclusion proof as `countersign log proof` prints it.
    let proof_path = db.dir.path().join("7.tlog-proof");
    std::fs::write(&proof_path, store.inclusion_proof(7, None).unwrap().to_text()).unwrap();
    let entry_path = db.dir.path().join("7.dsse.json");
    std::fs::write(&entry_path, store.entry(7).unwrap()).unwrap();
    let (code, text) =
        python(&["proof", proof_path.to_str().unwrap(), entry_path.to_str().unwrap(), "--vkey", &vkey], false);
    assert_eq!(code, 0, "{text}");
    let (code, _) =
        python(&["proof", proof_path.to_str().unwrap(), entry_path.to_str().unwrap(), "--vkey", &other], false);
    assert_eq!(code, 1);
}
