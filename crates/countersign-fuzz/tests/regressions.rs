//! Replays every seed (`corpus/<target>/*`) and every crash the fuzzers found
//! (`regressions/<target>/*`) through its target, then runs a bounded, unguided proptest per
//! target: random bytes, and seeds with random byte edits. The coverage-guided runs are
//! cargo-afl's (see the README); this file is what `cargo test --workspace` keeps checking.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;

fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(kind)
}

/// The files under `<kind>/<target>/`, sorted (a README there is documentation, not input).
fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir(kind).join(target)) else { return Vec::new() };
    let mut out: Vec<PathBuf> = read
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let mut n = 0;
    for (name, run) in countersign_fuzz::TARGETS {
        for path in files(kind, name) {
            let data = std::fs::read(&path).expect("read input");
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{name} panics on {}", path.display());
            n += 1;
        }
    }
    n
}

#[test]
fn every_corpus_file_runs_clean() {
    let n = replay("corpus");
    assert!(n >= 40, "the seed corpora are present ({n} files)");
    for (name, _) in countersign_fuzz::TARGETS {
        assert!(!files("corpus", name).is_empty(), "corpus/{name} has seeds");
    }
}

#[test]
fn every_regression_file_runs_clean() {
    replay("regressions");
    // Every folder under regressions/ names a target.
    if let Ok(read) = std::fs::read_dir(dir("regressions")) {
        for entry in read {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(countersign_fuzz::target(&name).is_some(), "regressions/{name} is not a target");
            }
        }
    }
}

/// One random edit of a seed: flip, insert, delete, duplicate a span, or splice in an
/// interesting token.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
    Token(Index, &'static str),
}

const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "\n\n",
    "\"",
    "\\",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    ":",
    ",",
    "#",
    "/",
    "*",
    "**",
    "+",
    "@",
    "\u{2014} ",
    "0",
    "-1",
    "18446744073709551616",
    "1e400",
    "null",
    "true",
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{1F600}",
    "[[",
    "]]",
    "\"\"\"",
    "'''",
    "Signed-off-by: ",
    "(#1)",
    "#9999999999999999999999",
    "r=",
    "\t",
    " ",
    "==",
    "AAAA",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        (any::<Index>(), proptest::sample::select(TOKENS)).prop_map(|(i, t)| Edit::Token(i, t)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len();
        match e {
            Edit::Flip(i, b) if len > 0 => {
                let at = i.index(len);
                data[at] ^= (*b).max(1);
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, v) => {
                let at = i.index(len + 1);
                data.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, n) if len > 0 => {
                let at = i.index(len);
                data.drain(at..(at + n).min(len));
            }
            Edit::Delete(..) => {}
            Edit::Duplicate(i, n) if len > 0 => {
                let at = i.index(len);
                let span = data[at..(at + n).min(len)].to_vec();
                data.splice(at..at, span);
            }
            Edit::Duplicate(..) => {}
            Edit::Token(i, t) => {
                let at = i.index(len + 1);
                data.splice(at..at, t.bytes());
            }
        }
    }
    data
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    files("corpus", target).iter().map(|p| std::fs::read(p).expect("read seed")).collect()
}

/// Random bytes, random text, and edited seeds, `cases` of each, through one target.
fn bounded_run(target: &str, cases: u32) {
    let run = countersign_fuzz::target(target).expect("known target");
    let seeds = seeds(target);
    assert!(!seeds.is_empty());
    let config = ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() };
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |data| {
            run(&data);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{target} on random bytes: {e}"));
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    runner
        .run(&"[\\PC\n\r\t]{0,300}", |text| {
            run(text.as_bytes());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{target} on random text: {e}"));
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(&(any::<Index>(), proptest::collection::vec(edit(), 1..6)), |(seed, edits)| {
            let data = apply(seed.get(&seeds).clone(), &edits);
            run(&data);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{target} on an edited seed: {e}"));
}

// The case counts keep the whole file well under a minute in a debug build.

#[test]
fn bounded_policy_toml() {
    bounded_run("policy_toml", 1500);
}

#[test]
fn bounded_codeowners() {
    bounded_run("codeowners", 3000);
}

#[test]
fn bounded_commit_message() {
    bounded_run("commit_message", 8000);
}

#[test]
fn bounded_gh_pr_json() {
    bounded_run("gh_pr_json", 6000);
}

#[test]
fn bounded_record_json() {
    bounded_run("record_json", 6000);
}

#[test]
fn bounded_signed_note() {
    bounded_run("signed_note", 6000);
}

#[test]
fn bounded_dsse_envelope() {
    bounded_run("dsse_envelope", 3000);
}

#[test]
fn bounded_evidence_package() {
    bounded_run("evidence_package", 1500);
}
