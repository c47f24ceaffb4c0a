//! Whole-log verification: every leaf hash, every entry signature, every checkpoint
//! signature, and every checkpoint's root against the entries it covers.
//!
//! Entries are fed in index order, in chunks, so a log of any size verifies in bounded
//! memory. Leaf hashing and signature checks run in parallel (rayon); signatures are
//! checked with ed25519-dalek's batch verification, falling back to one-by-one only to
//! find which entry of a failed batch is bad.

use rayon::prelude::*;

use std::collections::VecDeque;

use crate::dsse;
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
///
/// Checkpoints can be given all at once ([`LogAudit::new`]) or streamed
/// ([`LogAudit::streaming`] then [`LogAudit::add_checkpoints`] in size order, each page
/// before the entries it covers are pushed), so neither entries nor checkpoints need to be
/// in memory all at once. The root at each checkpoint's size comes from the running
/// frontier (the compact range of the tree so far), so checking a checkpoint costs
/// O(log n) hashes, and together they prove every checkpoint consistent with the next.
pub struct LogAudit<'k> {
    verifier: &'k LogVerifier,
    keyid: String,
    options: AuditOptions,
    frontier: Frontier,
    /// Verified checkpoints not reached yet, by size.
    pending: VecDeque<Checkpoint>,
    /// The last checkpoint added (for ordering and fork checks).
    last_added: Option<Checkpoint>,
    /// The size of the last checkpoint reached (where the next checked range starts).
    reached: u64,
    count: usize,
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entries per batch signature verification (see the micro-benchmark in bench/store).
const BATCH: usize = 1024;

impl<'k> LogAudit<'k> {
    /// Check every checkpoint's signature and origin; two checkpoints of one size must agree.
    pub fn new(
        verifier: &'k LogVerifier,
        signed_checkpoints: &[String],
        options: AuditOptions,
    ) -> Result<Self, VerifyFailure> {
        let mut audit = Self::streaming(verifier, options);
        audit.add_checkpoints(signed_checkpoints)?;
        Ok(audit)
    }

    /// A verifier with no checkpoints yet; add them with [`Self::add_checkpoints`].
    pub fn streaming(verifier: &'k LogVerifier, options: AuditOptions) -> Self {
        Self {
            verifier,
            keyid: dsse::dsse_key_id(verifier),
            options,
            frontier: Frontier::new(),
            pending: VecDeque::new(),
            last_added: None,
            reached: 0,
            count: 0,
        }
    }

    /// Add signed checkpoints (signature and origin are checked here; a page may be in any
    /// order). Successive pages must not go back in size, and must come before the entries
    /// they cover are pushed.
    pub fn add_checkpoints(&mut self, signed_checkpoints: &[String]) -> Result<(), VerifyFailure> {
        let verifier = self.verifier;
        // In batches (one batch verification each), the batches on rayon's threads.
        const BATCH: usize = 256;
        let opened: Vec<Result<Checkpoint, VerifyFailure>> = signed_checkpoints
            .par_chunks(BATCH)
            .flat_map_iter(|notes| {
                let texts: Vec<&str> = notes.iter().map(String::as_str).collect();
                Checkpoint::open_many(&texts, verifier).into_iter().zip(notes).map(|(opened, note)| {
                    opened.map_err(|e| VerifyFailure {
                        entry: None,
                        checkpoint: Checkpoint::parse_text(note).ok().map(|c| c.size),
                        problem: e.to_string(),
                    })
                })
            })
            .collect();
        let mut checkpoints = Vec::with_capacity(opened.len());
        for cp in opened {
            checkpoints.push(cp?);
        }
        checkpoints.sort_by_key(|c| c.size);
        for cp in checkpoints {
            if let Some(last) = &self.last_added {
                if last.size == cp.size {
                    if last.root != cp.root {
                        return Err(VerifyFailure {
                            entry: None,
                            checkpoint: Some(cp.size),
                            problem: format!(
                                "fork: two signed checkpoints of size {} with different roots, {} and {}",
                                cp.size,
                                hex(&last.root),
                                hex(&cp.root)
                            ),
                        });
                    }
                    continue;
                }
                if cp.size < last.size {
                    return Err(VerifyFailure {
                        entry: None,
                        checkpoint: Some(cp.size),
                        problem: format!("checkpoints given out of order (after size {})", last.size),
                    });
                }
            }
            if cp.size < self.frontier.size() {
                return Err(VerifyFailure {
                    entry: None,
                    checkpoint: Some(cp.size),
                    problem: format!("checkpoint given after its entries were verified (at {})", self.frontier.size()),
                });
            }
            self.count += 1;
            self.last_added = Some(cp.clone());
            self.pending.push_back(cp);
        }
        self.check_reached_checkpoints()
    }

    /// The number of entries verified so far.
    pub fn entries(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the entries verified so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The tree of the entries verified so far, as a store keeps it.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Verify the next entries, which must continue the index sequence.
    pub fn push(&mut self, entries: &[EntryRef<'_>]) -> Result<(), VerifyFailure> {
        // Per-entry checks, in parallel: the earliest failing index wins.
        let leaves: Vec<Hash> = entries.par_iter().with_min_len(256).map(|e| leaf_hash(e.bytes)).collect();
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
                    format!(
                        "missing: the log jumps from entry {} to entry {}",
                        expected.wrapping_sub(1) as i128,
                        e.index
                    )
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
                note(VerifyFailure {
                    entry: Some(e.index),
                    checkpoint: None,
                    problem: "stored leaf hash does not match the entry bytes".into(),
                });
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
            self.frontier.push_leaf(*leaf);
            if self.pending.front().is_some_and(|c| c.size <= self.frontier.size()) {
                self.check_reached_checkpoints()?;
            }
        }
        match first_bad {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    fn check_reached_checkpoints(&mut self) -> Result<(), VerifyFailure> {
        while let Some(cp) = self.pending.front() {
            if cp.size > self.frontier.size() {
                break;
            }
            if cp.size == self.frontier.size() && cp.root != self.frontier.root() {
                let from = self.reached;
                let problem = if cp.size - from == 1 {
                    format!(
                        "entry {from} was changed, replaced, reordered or removed: the log's root at size {} does not match the signed checkpoint",
                        cp.size
                    )
                } else {
                    format!(
                        "one of entries {from}..{} was changed, reordered or removed: the log's root at size {} does not match the signed checkpoint",
                        cp.size - 1,
                        cp.size
                    )
                };
                return Err(VerifyFailure { entry: Some(from), checkpoint: Some(cp.size), problem });
            }
            self.reached = cp.size;
            self.pending.pop_front();
        }
        Ok(())
    }

    fn check_signatures(&self, entries: &[EntryRef<'_>]) -> Option<VerifyFailure> {
        let (verifier, keyid) = (self.verifier, self.keyid.as_str());
        entries.par_chunks(BATCH).filter_map(|chunk| check_chunk(verifier, keyid, chunk)).min_by_key(|f| f.entry)
    }

    /// Finish: every checkpoint must have been reached (else the log was truncated).
    pub fn finish(self) -> Result<AuditSummary, VerifyFailure> {
        let size = self.frontier.size();
        if let Some(cp) = self.pending.iter().find(|c| c.size > size) {
            return Err(VerifyFailure {
                entry: Some(size),
                checkpoint: Some(cp.size),
                problem: format!(
                    "the log has {size} entries but a checkpoint of size {} is signed: entries {size}..{} are missing (truncated log)",
                    cp.size,
                    cp.size - 1
                ),
            });
        }
        Ok(AuditSummary {
            entries: size,
            checkpoints: self.count,
            root: self.frontier.root(),
            largest_checkpoint: self.last_added.map(|c| c.size),
        })
    }
}

/// Signatures of one chunk: decode (no JSON values for this log's own layout), batch-verify,
/// and only if the batch fails verify one by one to name the first bad entry.
fn check_chunk(verifier: &LogVerifier, keyid: &str, chunk: &[EntryRef<'_>]) -> Option<VerifyFailure> {
    let mut buf = Vec::with_capacity(chunk.iter().map(|e| e.bytes.len()).sum::<usize>());
    let mut ends = Vec::with_capacity(chunk.len());
    let mut sigs = Vec::with_capacity(chunk.len());
    let mut decode_failure = None;
    for e in chunk {
        match dsse::signed_message_into(e.bytes, keyid, &mut buf) {
            Ok(sig) => {
                ends.push(buf.len());
                sigs.push(sig);
            }
            Err(err) => {
                decode_failure =
                    Some(VerifyFailure { entry: Some(e.index), checkpoint: None, problem: err.to_string() });
                break;
            }
        }
    }
    let mut messages: Vec<&[u8]> = Vec::with_capacity(ends.len());
    let mut start = 0;
    for &end in &ends {
        messages.push(&buf[start..end]);
        start = end;
    }
    if !verifier.verify_batch(&messages, &sigs) {
        for ((e, m), s) in chunk.iter().zip(&messages).zip(&sigs) {
            if !verifier.verify_raw(m, s) {
                return Some(VerifyFailure {
                    entry: Some(e.index),
                    checkpoint: None,
                    problem: "DSSE signature does not verify".into(),
                });
            }
        }
    }
    decode_failure
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

/// Whether a tree (its frontier, as a store holds it) extends a signed checkpoint: the
/// same root at the same size, or a consistency proof from the checkpoint's size to the
/// tree's, built from the tree's complete subtrees (`node`), that leads from the signed
/// root to the frontier's root. An appender runs this before it signs a new checkpoint, so
/// that it never signs over a tree someone rewrote without the key. The error says what
/// was found, for a message that names the tampering.
pub fn check_extends(
    tree: &Frontier,
    checkpoint: &Checkpoint,
    node: impl FnMut(crate::merkle::NodeId) -> Option<Hash>,
) -> Result<(), String> {
    let size = tree.size();
    if checkpoint.size > size {
        return Err(format!(
            "the store holds {size} entries, but a checkpoint of size {} was signed: entries were removed, or the store was rolled back to an earlier state",
            checkpoint.size
        ));
    }
    if checkpoint.size == size {
        return if checkpoint.root == tree.root() {
            Ok(())
        } else {
            Err(format!(
                "the stored tree of {size} entries has root {}, but the signed checkpoint of that size has root {}: entries or the stored tree state were changed",
                hex(&tree.root()),
                hex(&checkpoint.root)
            ))
        };
    }
    if checkpoint.size == 0 {
        return Ok(());
    }
    let mut node = node;
    let proof = match crate::merkle::consistency_proof::<()>(checkpoint.size, size, |n| node(n).ok_or(())) {
        Ok(Ok(proof)) => proof,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(()) => return Err(format!("a stored tree node between sizes {} and {size} is missing", checkpoint.size)),
    };
    crate::merkle::verify_consistency(checkpoint.size, size, &checkpoint.root, &tree.root(), &proof).map_err(|_| {
        format!(
            "the stored tree of {size} entries does not extend the signed checkpoint of size {}: entries before index {} were changed, removed or reordered, or the stored tree state was altered",
            checkpoint.size, checkpoint.size
        )
    })
}
