//! The commit index: parents and committer time of every commit the walk has met, decoded
//! at most once per walk and shared by all worker threads.
//!
//! Finding what a merge brings in (`Reader::merged_ids`, git's `limit_list`) needs only the
//! parents and the committer date of each commit it visits, and the visits of successive
//! merges overlap heavily: each merge's walk goes down the first parent's side (the mainline
//! and what earlier merges brought in) until everything queued is hidden. Without a
//! commit-graph every one of those visits was a commit object inflated from the pack; on
//! git/git the same mainline commits were inflated again for merge after merge. The index
//! is git's in-memory commit graph: filled from the first-parent walk, from every commit read
//! in full, and on a miss from the object database, once.
//!
//! When the repository has a commit-graph file, the reader looks there first (it is already
//! an index on disk); this one only holds what the file does not. Without one, the index
//! looks first in the graph kept by earlier audits (the `graph` module), and what this walk
//! adds is written there at the end.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use gix::ObjectId;

use crate::graph::StoredGraph;

/// Parents and committer time of one commit.
struct Entry {
    time: i64,
    parents: Box<[ObjectId]>,
}

type Shard = gix::hashtable::HashMap<ObjectId, Entry>;

/// Shards keep the two (or more) worker threads from waiting on one lock.
const SHARDS: usize = 64;

pub(crate) struct CommitIndex {
    shards: Box<[RwLock<Shard>]>,
    /// Commit objects decoded to fill the index on a miss (not counting commits inserted by
    /// readers that decoded them for other reasons).
    decoded: AtomicU64,
    /// The graph kept by earlier audits (empty when none is kept), looked up before the
    /// shards, which then only hold commits it does not have.
    stored: StoredGraph,
    /// This walk's commits are to be added to the kept graph.
    keep: bool,
}

impl Default for CommitIndex {
    fn default() -> Self {
        CommitIndex {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            decoded: AtomicU64::new(0),
            stored: StoredGraph::default(),
            keep: false,
        }
    }
}

impl std::fmt::Debug for CommitIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitIndex").field("len", &self.len()).field("decoded", &self.decoded()).finish()
    }
}

impl CommitIndex {
    /// An index over `stored`, whose new commits are to be added to it
    /// ([`CommitIndex::new_commits`]).
    pub fn keeping(stored: StoredGraph) -> Self {
        CommitIndex { stored, keep: true, ..CommitIndex::default() }
    }

    /// Whether this walk's commits go to the kept graph (then commits read for other reasons
    /// should be inserted too, so that the graph gets every commit the walk met).
    pub fn keeps_graph(&self) -> bool {
        self.keep
    }

    pub fn stored(&self) -> &StoredGraph {
        &self.stored
    }

    /// The commits of the index's own tables (id, time, parents): those the kept graph did
    /// not give. A few may be in its base when the base was not read; storing skips them.
    pub fn new_commits(&self) -> Vec<(ObjectId, i64, Vec<ObjectId>)> {
        let mut out = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            out.extend(shard.iter().map(|(id, e)| (*id, e.time, e.parents.to_vec())));
        }
        out
    }

    fn shard(&self, id: &gix::oid) -> &RwLock<Shard> {
        &self.shards[id.as_bytes()[0] as usize % SHARDS]
    }

    /// The committer time of `id`, with its parents written to `parents` (cleared first),
    /// when the index has it.
    pub fn get(&self, id: &gix::oid, parents: &mut Vec<ObjectId>) -> Option<i64> {
        if let Some((time, _)) = self.stored.get(id, parents) {
            return Some(time);
        }
        let shard = self.shard(id).read().unwrap_or_else(|e| e.into_inner());
        let entry = shard.get(id)?;
        parents.clear();
        parents.extend_from_slice(&entry.parents);
        Some(entry.time)
    }

    /// Record a commit read elsewhere (no-op when it is already there).
    pub fn insert(&self, id: ObjectId, time: i64, parents: &[ObjectId]) {
        if self.stored.contains_cheaply(&id) {
            return;
        }
        let mut shard = self.shard(&id).write().unwrap_or_else(|e| e.into_inner());
        shard.entry(id).or_insert_with(|| Entry { time, parents: parents.into() });
    }

    /// Like [`CommitIndex::get`], but on a miss `decode` fills `parents` and returns the
    /// time, and the result is recorded. The shard stays locked while `decode` runs, so two
    /// threads never decode the same commit.
    pub fn get_or_decode<E>(
        &self,
        id: &gix::oid,
        parents: &mut Vec<ObjectId>,
        decode: impl FnOnce(&mut Vec<ObjectId>) -> Result<i64, E>,
    ) -> Result<i64, E> {
        if let Some(time) = self.get(id, parents) {
            return Ok(time);
        }
        let mut shard = self.shard(id).write().unwrap_or_else(|e| e.into_inner());
        parents.clear();
        if let Some(entry) = shard.get(id) {
            parents.extend_from_slice(&entry.parents);
            return Ok(entry.time);
        }
        let time = decode(parents)?;
        self.decoded.fetch_add(1, Ordering::Relaxed);
        shard.insert(id.to_owned(), Entry { time, parents: parents.as_slice().into() });
        Ok(time)
    }

    /// Commits in the index, not counting the kept graph's.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }

    /// Commit objects decoded on a miss.
    pub fn decoded(&self) -> u64 {
        self.decoded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_id as id;

    #[test]
    fn a_commit_is_decoded_once() {
        let index = CommitIndex::default();
        let mut parents = Vec::new();
        let mut calls = 0;
        for _ in 0..3 {
            let time = index
                .get_or_decode::<()>(&id(1), &mut parents, |p| {
                    calls += 1;
                    p.extend([id(2), id(3)]);
                    Ok(42)
                })
                .unwrap();
            assert_eq!((time, parents.as_slice()), (42, &[id(2), id(3)][..]));
        }
        assert_eq!((calls, index.decoded(), index.len()), (1, 1, 1));
        index.insert(id(2), 7, &[]);
        assert_eq!(index.get(&id(2), &mut parents), Some(7));
        assert!(parents.is_empty());
        // An error is not recorded.
        assert!(index.get_or_decode(&id(9), &mut parents, |_| Err("missing")).is_err());
        assert_eq!(index.get(&id(9), &mut parents), None);
    }
}
