//! Whole-log verification: every leaf hash, every entry signature, every checkpoint
//! signature, and every checkpoint's root against the entries it covers.
//!
//! Entries are fed in index order, in chunks, so a log of any size verifies in bounded
//! memory. Leaf hashing and signature checks run in parallel (rayon); signatures are
//! checked with ed25519-dalek's batch verification, falling back to one-by-one only to
//! find which entry of a failed batch is bad.

use rayon::prelude::*;

use crate::dsse::{self, OpenedEnvelope};
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::note::{Checkpoint, LogVerifier};

/// What went wrong, and where: the first bad entry by index, or the bad checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct VerifyFailure {
    /// The first entry that is bad (or the first of the range a checkpoint covers).
    pub entry: Option<u64>,
    /// The size of the checkpoint involved, if any.
    pub checkpoint: Option<u64>,
    pub problem: String,
}

impl VerifyFailure {
    fn describe(&self) -> String {
        match (self.entry, self.checkpoint) {
            (Some(e), Some(c)) => format!("entry {e} (checkpoint of size {c}): {}", self.problem),
            (Some(e), None) => format!("entry {e}: {}", self.problem),
            (None, Some(c)) => format!("checkpoint of size {c}: {}", self.problem),
            (None, None) => self.problem.clone(),
        }
    }
}

/// One stored entry as read back: its index, its stored leaf hash if the store keeps one,
/// and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub index: u64,
    pub stored_leaf_hash: Option<&'a Hash>,
    pub bytes: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Check every entry's DSSE signature (on by default). Without it, entries are still
    /// bound to the signed checkpoints through the Merkle roots.
    pub entry_signatures: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self { entry_signatures: true }
    }
}

/// The outcome of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    pub entries: u64,
    pub checkpoints: usize,
    pub root: Hash,
    pub largest_checkpoint: Option<u64>,
}

/// Incremental verifier; see the module docs.
pub struct LogAudit<'k> {
    verifier: &'k LogVerifier,
    options: AuditOptions,
    frontier: Frontier,
    checkpoints: Vec<Checkpoint>,
    next_checkpoint: usize,
}

const BATCH: usize = 64;

impl<'k> LogAudit<'k> {
    /// Check every checkpoint's signature and origin, and that sizes only grow.
    pub fn new(verifier: &'k LogVerifier, signed_checkpoints: &[String], options: AuditOptions) -> Result<Self, VerifyFailure> {
        let opened: Vec<Result<Checkpoint, VerifyFailure>> = signed_checkpoints
            .par_iter()
            .map(|note| {
                Checkpoint::open(note, verifier).map_err(|e| VerifyFailure {
                    entry: None,
                    checkpoint: Checkpoint::parse_text(note).ok().map(|c| c.size),
                    problem: e.to_string(),
                })
            })
            .collect();
        let mut checkpoints = Vec::with_capacity(opened.len());
        for cp in opened {
            checkpoints.push(cp?);
        }
        checkpoints.sort_by_key(|c| c.size);
        for pair in checkpoints.windows(2) {
            if pair[0].size == pair[1].size && pair[0].root != pair[1].root {
                return Err(VerifyFailure {
                    entry: None,
                    checkpoint: Some(pair[0].size),
                    problem: "two checkpoints of the same size with different roots (a fork)".into(),
                });
            }
        }
        checkpoints.dedup();
        Ok(Self { verifier, options, frontier: Frontier::new(), checkpoints, next_checkpoint: 0 })
    }

    /// The number of entries verified so far.
    pub fn entries(&self) -> u64 {
        self.frontier.size()
    }

    /// Verify the next entries, which must continue the index sequence.
    pub fn push(&mut self, entries: &[EntryRef<'_>]) -> Result<(), VerifyFailure> {
        // Per-entry checks, in parallel: the earliest failing index wins.
        let leaves: Vec<Hash> = entries.par_iter().map(|e| leaf_hash(e.bytes)).collect();
        let mut first_bad: Option<VerifyFailure> = None;
        let mut note = |f: VerifyFailure| {
            if first_bad.as_ref().is_none_or(|b| f.entry < b.entry) {
                first_bad = Some(f);
            }
        };
        let mut expected = self.frontier.size();
        for e in entries {
            if e.index != expected {
                let problem = if e.index > expected {
                    format!("missing: the log jumps from entry {} to entry {}", expected.wrapping_sub(1) as i128, e.index)
                } else {
                    format!("duplicate or out of order (found index {} after {})", e.index, expected - 1)
                };
                note(VerifyFailure { entry: Some(expected), checkpoint: None, problem });
                break;
            }
            expected += 1;
        }
        for (e, leaf) in entries.iter().zip(&leaves) {
            if let Some(stored) = e.stored_leaf_hash
                && stored != leaf
            {
                note(VerifyFailure { entry: Some(e.index), checkpoint: None, problem: "stored leaf hash does not match the entry bytes".into() });
                break;
            }
        }
        if self.options.entry_signatures
            && let Some(f) = self.check_signatures(entries)
        {
            note(f);
        }
        // Feed leaves up to the first bad entry, checking every checkpoint reached.
        let stop = first_bad.as_ref().and_then(|f| f.entry).unwrap_or(u64::MAX);
        for (e, leaf) in entries.iter().zip(&leaves) {
            if e.index >= stop {
                break;
            }
            self.frontier.push(*leaf);
            self.check_reached_checkpoints()?;
        }
        match first_bad {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    fn check_reached_checkpoints(&mut self) -> Result<(), VerifyFailure> {
        while let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            if cp.size > self.frontier.size() {
                break;
            }
            if cp.size == self.frontier.size() && cp.root != self.frontier.root() {
                let from = self.next_checkpoint.checked_sub(1).map_or(0, |i| self.checkpoints[i].size);
                let problem = if cp.size - from == 1 {
                    format!("entry {from} was changed, replaced, reordered or removed: the log's root at size {} does not match the signed checkpoint", cp.size)
                } else {
                    format!(
                        "one of entries {from}..{} was changed, reordered or removed: the log's root at size {} does not match the signed checkpoint",
                        cp.size - 1,
                        cp.size
                    )
                };
                return Err(VerifyFailure { entry: Some(from), checkpoint: Some(cp.size), problem });
            }
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    fn check_signatures(&self, entries: &[EntryRef<'_>]) -> Option<VerifyFailure> {
        let verifier = self.verifier;
        entries
            .par_chunks(BATCH)
            .filter_map(|chunk| {
                let mut opened: Vec<OpenedEnvelope> = Vec::with_capacity(chunk.len());
                for e in chunk {
                    match dsse::open_envelope(e.bytes, verifier) {
                        Ok(o) => opened.push(o),
                        Err(err) => return Some(VerifyFailure { entry: Some(e.index), checkpoint: None, problem: err.to_string() }),
                    }
                }
                if batch_ok(verifier, &opened) {
                    return None;
                }
                for (e, o) in chunk.iter().zip(&opened) {
                    if !verifier.verify_raw(&o.signed_message, &o.signature) {
                        return Some(VerifyFailure { entry: Some(e.index), checkpoint: None, problem: "DSSE signature does not verify".into() });
                    }
                }
                None
            })
            .min_by_key(|f| f.entry)
    }

    /// Finish: every checkpoint must have been reached (else the log was truncated).
    pub fn finish(self) -> Result<AuditSummary, VerifyFailure> {
        let size = self.frontier.size();
        if let Some(cp) = self.checkpoints.iter().find(|c| c.size > size) {
            return Err(VerifyFailure {
                entry: Some(size),
                checkpoint: Some(cp.size),
                problem: format!("the log has {size} entries but a checkpoint of size {} is signed: entries {size}..{} are missing (truncated log)", cp.size, cp.size - 1),
            });
        }
        Ok(AuditSummary {
            entries: size,
            checkpoints: self.checkpoints.len(),
            root: self.frontier.root(),
            largest_checkpoint: self.checkpoints.last().map(|c| c.size),
        })
    }
}

fn batch_ok(verifier: &LogVerifier, opened: &[OpenedEnvelope]) -> bool {
    let messages: Vec<&[u8]> = opened.iter().map(|o| o.signed_message.as_slice()).collect();
    let signatures: Vec<ed25519_dalek::Signature> = opened.iter().map(|o| ed25519_dalek::Signature::from_bytes(&o.signature)).collect();
    let keys = vec![*verifier.verifying_key(); opened.len()];
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

/// Verify a whole in-memory log in one call.
pub fn verify_log(
    verifier: &LogVerifier,
    entries: &[EntryRef<'_>],
    signed_checkpoints: &[String],
    options: AuditOptions,
) -> Result<AuditSummary, VerifyFailure> {
    let mut audit = LogAudit::new(verifier, signed_checkpoints, options)?;
    audit.push(entries)?;
    audit.finish()
}
