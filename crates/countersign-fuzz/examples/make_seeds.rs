//! Writes the seed files that come from a real evidence store: DSSE entries, signed
//! checkpoints, inclusion and consistency proofs, the log key, a signed manifest and two
//! exported packages. The store is a fresh SQLite file signed with the fuzz targets' fixed
//! test key, so the seeds verify under the targets.
//!
//! `cargo run -p countersign-fuzz --example make_seeds -- crates/countersign-fuzz/corpus`

use std::path::{Path, PathBuf};

use countersign_store::evidence::{ApprovalType, CheckOutcome, Evidence, RecordRequest};
use countersign_store::{ChangeRef, OpenOptions, Store, package};

const COMMIT: &str = "1111111111111111111111111111111111111111";

fn clock() -> jiff::Timestamp {
    "2026-11-30T12:00:00Z".parse().expect("valid time")
}

fn open(dir: &Path) -> Store {
    let url = dir.join("countersign.db").display().to_string();
    let mut store = Store::open(&url, &OpenOptions { create: true, clock }).expect("open the store");
    store.set_signer(countersign_fuzz::test_signer().clone()).expect("set the signer");
    store
        .upsert_changes(&[ChangeRef {
            id: "pr#7".into(),
            repository: Some("acme/app".into()),
            pr_number: Some(7),
            head_commit: Some(COMMIT.into()),
            merge_commit: None,
            commits: vec![COMMIT.into()],
        }])
        .expect("register a change");
    store
}

fn request(evidence: Evidence) -> RecordRequest {
    RecordRequest {
        change: Some("pr#7".into()),
        recorded_by: "tester".into(),
        recorded_at: clock(),
        idempotency_key: None,
        evidence,
    }
}

fn export(store: &Store, dir: &Path, name: &str, consistency_from: &[u64]) -> (PathBuf, PathBuf) {
    let tar = dir.join(name);
    package::export(store, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", &tar, consistency_from).expect("export");
    let files = dir.join(format!("{name}.d"));
    package::extract_package(&tar, &files).expect("extract").expect("a valid package");
    (tar, files.join("countersign-evidence"))
}

fn copy_dir(from: &Path, to: &Path, prefix: &str) {
    let Ok(read) = std::fs::read_dir(from) else { return };
    for entry in read {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), to.join(format!("{prefix}{name}"))).expect("copy a seed");
    }
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: make_seeds <corpus dir>"));
    let tmp = tempfile::tempdir().expect("temp dir");

    // A one-entry package: the smallest seed for the archive target.
    let small_dir = tmp.path().join("small");
    std::fs::create_dir_all(&small_dir).unwrap();
    let store = open(&small_dir);
    store
        .record(&request(Evidence::Check {
            name: "ci".into(),
            status: CheckOutcome::Success,
            commit: None,
            url: None,
            delivery: None,
        }))
        .expect("record");
    let (small_tar, _) = export(&store, &small_dir, "package-1.tar", &[]);
    drop(store);

    // A package with a policy, several kinds and a consistency proof.
    let full_dir = tmp.path().join("full");
    std::fs::create_dir_all(&full_dir).unwrap();
    let store = open(&full_dir);
    store.publish_policy("2026.1", "# policy\nreviews = 1\n", "lead", clock()).expect("publish");
    store
        .record(&request(Evidence::Approval {
            approver: "Alice <alice@example.com>".into(),
            approval: ApprovalType::Review,
            commit: Some(COMMIT.into()),
            approved_at: None,
            note: Some("lgtm".into()),
            delivery: None,
        }))
        .expect("record");
    store
        .record(&request(Evidence::Deploy {
            environment: "prod".into(),
            artifact_digest: Some(format!("sha256:{}", "ab".repeat(32))),
            commit: Some(COMMIT.into()),
            deployed_at: Some(clock()),
            status: Some(countersign_store::evidence::DeployStatus::Success),
            stage: None,
            release: None,
            via: None,
            triggered_by: None,
            health_check: None,
            delivery: None,
            repository: None,
        }))
        .expect("record");
    let (full_tar, files) = export(&store, &full_dir, "package-full.tar", &[1]);
    drop(store);

    for target in ["evidence_package", "dsse_envelope", "signed_note"] {
        std::fs::create_dir_all(out.join(target)).unwrap();
    }
    std::fs::copy(&small_tar, out.join("evidence_package/package-1.tar")).unwrap();
    std::fs::copy(&full_tar, out.join("evidence_package/package-full.tar")).unwrap();
    copy_dir(&files.join("entries"), &out.join("dsse_envelope"), "entry-");
    copy_dir(&files.join("checkpoints"), &out.join("signed_note"), "");
    copy_dir(&files.join("proofs"), &out.join("signed_note"), "");
    copy_dir(&files.join("consistency"), &out.join("signed_note"), "");
    std::fs::copy(files.join("manifest.sig"), out.join("signed_note/manifest.sig")).unwrap();
    std::fs::copy(files.join("log.vkey"), out.join("signed_note/log.vkey")).unwrap();
    println!("seeds written under {}", out.display());
}
