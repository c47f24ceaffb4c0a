//! The proven prefix: what the last proof of the log established, kept by a long-lived
//! store so that the next read proves only what was appended since.
//!
//! A full proof ([`Store::proven_scan`]) reads every entry. A server that judges a change
//! on every event cannot afford that: the log grows with every delivery, and each
//! evaluation would cost more than the last. So the store keeps, for the entries `[0, n)`
//! it has proven:
//! - each entry's leaf hash (32 bytes an entry) and the Merkle frontier at `n`;
//! - an index from change id and from kind to entry indices, built from the signed
//!   payloads (never from the unsigned index columns).
//!
//! A later read first extends the prefix: it reads the newest signed checkpoint (size `m`,
//! signature checked), reads entries `[n, m)`, checks each one's columns against its payload
//! and pushes its leaf onto the frontier, and accepts the extension only if the frontier's
//! root is the checkpoint's. An entry of the old prefix is then read by index and accepted
//! only if its bytes hash to the leaf proven for it, so a row altered after it was proven
//! is caught, and one deleted or re-indexed cannot go unnoticed, because the selection
//! comes from memory. A newest checkpoint smaller than `n` is a rollback.
//!
//! A full proof runs instead of an extension when there is no prefix yet, and when an
//! extension does not reach the checkpoint's root (the full proof names the fault). Once
//! the log has doubled since the last full proof (at least 10,000 entries later), one read
//! proves the whole log again while the others go on extending the prefix, and the two
//! must agree: that re-checks every checkpoint, the stored tree nodes and the log state,
//! which verdicts do not read, at a constant cost per appended entry, without stalling
//! the reads beside it.

use std::collections::{HashMap, HashSet};

use countersign_log::merkle::{self, Frontier, Hash};
use countersign_log::note::Checkpoint;
use tokio::sync::mpsc;

use crate::evidence::RecordedEvidence;
use crate::{Pool, Store, StoreError, checked_entry, db};

/// Entries appended since the last full proof before the next read proves everything
/// again: the size proven then, but never fewer than this.
const REPROVE_AFTER_AT_LEAST: u64 = 10_000;

/// What the store has proven of its log: see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct ProvenPrefix {
    frontier: Frontier,
    leaves: Vec<Hash>,
    by_change: HashMap<String, Vec<u64>>,
    by_kind: HashMap<&'static str, Vec<u64>>,
    /// The size the last full proof reached.
    fully_proven: u64,
    /// A read is proving the whole log again, beside the others.
    reproving: bool,
}

impl ProvenPrefix {
    fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Add the next proven entry.
    fn push(&mut self, e: &RecordedEvidence, leaf: Hash) {
        self.frontier.push_leaf(leaf);
        self.record(e, leaf);
    }

    /// Keep the next proven entry's leaf and index it (the frontier already holds it).
    fn record(&mut self, e: &RecordedEvidence, leaf: Hash) {
        debug_assert_eq!(e.index, self.leaves.len() as u64);
        self.leaves.push(leaf);
        if let Some(change) = &e.change_id {
            self.by_change.entry(change.clone()).or_default().push(e.index);
        }
        self.by_kind.entry(e.evidence.kind()).or_default().push(e.index);
    }

    /// What a full proof that read `entries` established.
    fn of_full_proof(entries: &[(RecordedEvidence, Vec<u8>)]) -> Self {
        let mut proven = Self::default();
        for (e, bytes) in entries {
            proven.push(e, merkle::leaf_hash(bytes));
        }
        proven.fully_proven = proven.size();
        proven
    }

    fn due_for_full_proof(&self) -> bool {
        self.size() - self.fully_proven >= self.fully_proven.max(REPROVE_AFTER_AT_LEAST)
    }

    /// The indices below `below` that `selection` picks, in log order.
    fn select(&self, selection: &Selection<'_>, below: u64) -> Vec<u64> {
        let mut picked: Vec<u64> = Vec::new();
        if selection.any_change {
            for indices in self.by_change.values() {
                picked.extend(indices);
            }
        } else {
            for change in &selection.changes {
                picked.extend(self.by_change.get(change.as_str()).into_iter().flatten());
            }
        }
        for kind in selection.kinds {
            picked.extend(self.by_kind.get(kind).into_iter().flatten());
        }
        picked.retain(|&i| i < below);
        picked.sort_unstable();
        picked.dedup();
        picked
    }
}

/// Which proven entries a read wants: those of these changes (or of any change), and those
/// of these kinds.
pub(crate) struct Selection<'a> {
    pub changes: HashSet<String>,
    pub any_change: bool,
    pub kinds: &'a [&'a str],
}

impl Selection<'_> {
    fn matches(&self, e: &RecordedEvidence) -> bool {
        self.kinds.contains(&e.evidence.kind())
            || e.change_id.as_ref().is_some_and(|c| self.any_change || self.changes.contains(c))
    }

    /// The entries of a full proof this selection picks.
    fn pick(&self, entries: Vec<(RecordedEvidence, Vec<u8>)>) -> Vec<RecordedEvidence> {
        entries.into_iter().map(|(e, _)| e).filter(|e| self.matches(e)).collect()
    }
}

impl Store {
    /// The proven entries `selection` picks, in log order: the prefix is extended (or the
    /// whole log proven) first, as the module documentation describes. Any failure is
    /// [`StoreError::Tampered`] and forgets the prefix, so the next read proves everything.
    pub(crate) fn proven_select(&self, selection: &Selection<'_>) -> Result<Vec<RecordedEvidence>, StoreError> {
        let mut guard = self.core.proven.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(prefix) = guard.as_mut().filter(|p| p.due_for_full_proof() && !p.reproving) {
            // Prove everything again, beside the others: they go on extending the prefix.
            prefix.reproving = true;
            drop(guard);
            return Ok(selection.pick(self.reprove()?));
        }
        let Some(mut prefix) = guard.take() else {
            return Ok(selection.pick(self.prove_all(&mut guard)?));
        };
        let before = prefix.size();
        let mut fresh = Vec::new();
        if !self.extend(&mut prefix, selection, &mut fresh)? {
            // The extension did not reach the signed root: prove everything, which names
            // the fault (or, should a concurrent append explain it, succeeds).
            *guard = Some(prefix);
            return Ok(selection.pick(self.prove_all(&mut guard)?));
        }
        let old: Vec<(u64, Hash)> =
            prefix.select(selection, before).into_iter().map(|i| (i, prefix.leaves[i as usize])).collect();
        *guard = Some(prefix);
        drop(guard);
        let mut picked = self.read_proven(&old).inspect_err(|_| self.forget_proven())?;
        picked.append(&mut fresh);
        Ok(picked)
    }

    /// Forget the proven prefix: the next read proves the whole log.
    fn forget_proven(&self) {
        *self.core.proven.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// Prove the whole log ([`Store::prove_log`]) while holding the prefix's lock, and keep
    /// what it proved as the new prefix. A log that no longer holds what this store proved
    /// before (fewer entries, or another leaf where it had proven one) was rolled back or
    /// rewritten. On any failure the prefix is forgotten.
    pub(crate) fn prove_all(
        &self,
        prefix: &mut Option<ProvenPrefix>,
    ) -> Result<Vec<(RecordedEvidence, Vec<u8>)>, StoreError> {
        let old = prefix.take();
        let entries = self.prove_log()?;
        let proven = ProvenPrefix::of_full_proof(&entries);
        if let Some(old) = old {
            check_extends(&old, &proven)?;
        }
        *prefix = Some(proven);
        Ok(entries)
    }

    /// Prove the whole log without holding the prefix's lock, then keep the longer of what
    /// it proved and the prefix (extended meanwhile by other reads): the two must hold the
    /// same leaves where both reach. On a failure the prefix is forgotten.
    fn reprove(&self) -> Result<Vec<(RecordedEvidence, Vec<u8>)>, StoreError> {
        let proof = self.prove_log();
        let mut guard = self.core.proven.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = guard.take();
        let entries = proof?;
        let proven = ProvenPrefix::of_full_proof(&entries);
        *guard = Some(match current {
            Some(mut current) => {
                let (short, long) =
                    if current.size() <= proven.size() { (&current, &proven) } else { (&proven, &current) };
                check_extends(short, long)?;
                if current.size() > proven.size() {
                    current.fully_proven = proven.size();
                    current.reproving = false;
                    current
                } else {
                    proven
                }
            }
            None => proven,
        });
        Ok(entries)
    }

    /// Extend `prefix` to the newest signed checkpoint, putting the new entries that
    /// `selection` picks into `fresh`. `Ok(false)`: the entries read do not reach the
    /// checkpoint's root.
    fn extend(
        &self,
        prefix: &mut ProvenPrefix,
        selection: &Selection<'_>,
        fresh: &mut Vec<RecordedEvidence>,
    ) -> Result<bool, StoreError> {
        let pool = &self.core.pool;
        let verifier = match self.handle.block_on(self.core.trusted_verifier()) {
            Ok(verifier) => verifier,
            // No key: the full proof says whether a store without one is acceptable (empty).
            Err(StoreError::NotInitialized) => return Ok(false),
            Err(e) => return Err(e),
        };
        let Some((size, note)) = self.handle.block_on(async { on_pool!(pool, db::latest_checkpoint()) })? else {
            if prefix.size() == 0 {
                // Nothing proven and nothing signed: the full proof says whether the log is
                // empty, as it must be.
                return Ok(false);
            }
            return Err(StoreError::Tampered(format!(
                "this store proved {} entries of its log, and now it has no signed checkpoint: the checkpoints were deleted",
                prefix.size()
            )));
        };
        let checkpoint = Checkpoint::open(&note, &verifier)
            .map_err(|e| StoreError::Tampered(format!("the newest checkpoint (size {size}) does not verify: {e}")))?;
        let from = prefix.size();
        if checkpoint.size < from {
            return Err(StoreError::Tampered(format!(
                "rolled back: this store proved {from} entries of its log, but its newest signed checkpoint is of size {}: entries were removed, or the store was restored from an earlier state",
                checkpoint.size
            )));
        }
        // Entries beyond the newest checkpoint: an append committing just now (it commits
        // with the checkpoint that covers it), or rows added without the log key, which
        // the full proof reports.
        let beyond = self.handle.block_on(async { on_pool!(pool, db::count_from(checkpoint.size)) })?;
        if beyond > 0 {
            let newest = self.handle.block_on(async { on_pool!(pool, db::latest_checkpoint()) })?.map_or(0, |(s, _)| s);
            if newest < checkpoint.size + beyond {
                return Ok(false);
            }
        }
        if self.core.anchors.iter().any(|a| a.checkpoint.size > from && a.checkpoint.size <= checkpoint.size) {
            // A published checkpoint inside the new entries: the full proof checks its root.
            return Ok(false);
        }
        if checkpoint.size == from {
            return Ok(checkpoint.root == prefix.frontier.root());
        }
        let mut frontier = prefix.frontier.clone();
        let mut added = Vec::new();
        let (tx, mut rx) = mpsc::channel(2);
        let reader = self.stream_entries(from, checkpoint.size, tx);
        let read = (|| -> Result<bool, StoreError> {
            let mut next = from;
            while let Some(chunk) = rx.blocking_recv() {
                let chunk = chunk?;
                for i in 0..chunk.len() {
                    let (index, stored, bytes, columns) =
                        (&chunk.indices[i], &chunk.hashes[i], chunk.bytes(i), chunk.columns(i));
                    let leaf = merkle::leaf_hash(bytes);
                    if *index != next || stored.as_ref() != Some(&leaf) {
                        return Ok(false);
                    }
                    let Ok(e) = checked_entry(*index, bytes, columns) else {
                        return Ok(false);
                    };
                    frontier.push_leaf(leaf);
                    added.push((e, leaf));
                    next += 1;
                }
            }
            Ok(next == checkpoint.size && frontier.root() == checkpoint.root)
        })();
        drop(rx);
        reader.abort();
        if !read? {
            return Ok(false);
        }
        prefix.frontier = frontier;
        for (e, leaf) in added {
            prefix.record(&e, leaf);
            if selection.matches(&e) {
                fresh.push(e);
            }
        }
        Ok(true)
    }

    /// Read these proven entries by index; each must hash to the leaf proven for it.
    fn read_proven(&self, wanted: &[(u64, Hash)]) -> Result<Vec<RecordedEvidence>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let pool = &self.core.pool;
        let indices: Vec<u64> = wanted.iter().map(|(i, _)| *i).collect();
        let rows = self.handle.block_on(async { on_pool!(pool, db::entries_at(&indices)) })?;
        let mut out = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter();
        for (index, leaf) in wanted {
            let Some((_, bytes, columns)) = rows.next().filter(|(i, _, _)| i == index) else {
                return Err(StoreError::Tampered(format!(
                    "entry {index} was proven in this log and is no longer stored: it was deleted or moved"
                )));
            };
            if merkle::leaf_hash(&bytes) != *leaf {
                return Err(StoreError::Tampered(format!(
                    "entry {index} was altered after it was proven: its bytes no longer hash to the leaf under the signed checkpoint"
                )));
            }
            out.push(checked_entry(*index, &bytes, columns.as_ref()).map_err(|problem| {
                StoreError::Tampered(format!("entry {index} was altered after it was proven: {problem}"))
            })?);
        }
        Ok(out)
    }
}

/// A new proof must hold what `old` proved.
fn check_extends(old: &ProvenPrefix, new: &ProvenPrefix) -> Result<(), StoreError> {
    if new.size() < old.size() {
        return Err(StoreError::Tampered(format!(
            "rolled back: this store proved {} entries of its log, and now it holds {}: entries were removed, or the store was restored from an earlier state",
            old.size(),
            new.size()
        )));
    }
    if let Some(i) = old.leaves.iter().zip(&new.leaves).position(|(a, b)| a != b) {
        return Err(StoreError::Tampered(format!(
            "rewritten: entry {i} differs from the one this store proved before, though both are under checkpoints signed by the log key"
        )));
    }
    Ok(())
}
