//! What `AuditOptions::entry_signatures` adds to a log's verification: the tree and the
//! signed checkpoints prove every entry's bytes; the entries' own DSSE signatures are a
//! second proof, checked only when asked for.

use countersign_log::dsse::{Statement, Subject, sign_statement};
use countersign_log::merkle::{Frontier, leaf_hash};
use countersign_log::{AuditOptions, Checkpoint, EntryRef, LogSigner, audit::verify_log};

fn signer(seed: u8) -> LogSigner {
    LogSigner::from_seed("example.com/log", &[seed; 32]).unwrap()
}

fn entry(i: usize, by: &LogSigner) -> Vec<u8> {
    let subject = Subject { name: format!("change-{i}"), digest: [("sha1".to_owned(), format!("{i:040x}"))].into() };
    let statement =
        Statement::new(vec![subject], "https://countersign.dev/evidence/test/v1", serde_json::json!({ "n": i }));
    sign_statement(&statement, by).unwrap()
}

/// A log of `entries` whose checkpoint (size and root) is signed by the log key.
fn checkpointed(entries: &[Vec<u8>], key: &LogSigner) -> Vec<String> {
    let mut frontier = Frontier::new();
    for e in entries {
        frontier.push_leaf(leaf_hash(e));
    }
    let cp = Checkpoint { origin: key.name().to_owned(), size: entries.len() as u64, root: frontier.root() };
    vec![cp.sign(key).unwrap()]
}

fn refs(entries: &[Vec<u8>]) -> Vec<EntryRef<'_>> {
    entries.iter().enumerate().map(|(i, bytes)| EntryRef { index: i as u64, stored_leaf_hash: None, bytes }).collect()
}

#[test]
fn x04_entry_signatures_are_a_second_proof_checked_when_asked() {
    let key = signer(1);
    // Entry 2 is signed by another key, yet the log key signed a checkpoint over it: only an
    // entry-signature check can tell (the tree proves the bytes, not who signed them).
    let other = signer(7);
    let entries: Vec<Vec<u8>> = (0..5).map(|i| entry(i, if i == 2 { &other } else { &key })).collect();
    let checkpoints = checkpointed(&entries, &key);
    let verifier = key.verifier();

    let summary = verify_log(&verifier, &refs(&entries), &checkpoints, AuditOptions { entry_signatures: false })
        .expect("the tree and the checkpoint hold");
    assert_eq!((summary.entries, summary.checkpoints), (5, 1));

    let failure = verify_log(&verifier, &refs(&entries), &checkpoints, AuditOptions { entry_signatures: true })
        .expect_err("entry 2's signature is not the log key's");
    assert_eq!(failure.entry, Some(2), "{failure}");

    // Without entry signatures, any change to an entry's bytes still fails: its leaf no
    // longer gives the signed root.
    let mut edited = entries.clone();
    edited[3] = entry(3, &other);
    let failure = verify_log(&verifier, &refs(&edited), &checkpoints, AuditOptions { entry_signatures: false })
        .expect_err("the root no longer matches");
    assert_eq!(failure.checkpoint, Some(5), "{failure}");
}
