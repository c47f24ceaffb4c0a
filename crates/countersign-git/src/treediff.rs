//! A tree-to-tree diff that only reports paths, specialised for the audit.
//!
//! `gix::diff::tree` is general (visitors, relations, rewrites) and measured about half the
//! walk's time. Here the common case is an entry that did not change, at the same position
//! on both sides of a directory that did; comparing the raw entry bytes (mode, name and id)
//! skips it with one `memcmp`, as git does. Everything else follows git's tree order (names
//! compared as bytes, a directory sorting as if its name ended in `/`).
//!
//! No rename detection: a rename is a deletion plus an addition.

use countersign_engine::change::PathStatus;
use gix::ObjectId;

/// One entry of a raw tree object.
#[derive(Clone, Copy)]
struct Entry<'a> {
    mode: &'a [u8],
    name: &'a [u8],
    id: &'a [u8],
    raw: &'a [u8],
}

impl Entry<'_> {
    fn is_tree(&self) -> bool {
        self.mode == b"40000" || self.mode == b"040000"
    }
    fn is_blob(&self) -> bool {
        // 100644, 100755, 120000 (symlink): blobs. 160000 (submodule): a commit id.
        !self.is_tree() && self.mode != b"160000"
    }
}

/// Iterate the entries of raw tree data; `None` at the end, `Err(())` on malformed data.
struct Entries<'a> {
    data: &'a [u8],
    hash_len: usize,
}

impl<'a> Entries<'a> {
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ()> {
        if self.data.is_empty() {
            return Ok(None);
        }
        // The mode is at most 7 bytes: a plain scan beats a vectorised search here.
        let space = self.data.iter().take(8).position(|&b| b == b' ').ok_or(())?;
        let nul = space + 1 + find_nul(&self.data[space + 1..]).ok_or(())?;
        let end = nul + 1 + self.hash_len;
        if end > self.data.len() {
            return Err(());
        }
        let raw = &self.data[..end];
        let entry = Entry { mode: &raw[..space], name: &raw[space + 1..nul], id: &raw[nul + 1..end], raw };
        self.data = &self.data[end..];
        Ok(Some(entry))
    }
}

/// The first NUL byte in `data`, eight bytes at a time.
///
/// Entry names are short, so a vectorised search's setup costs more than it saves
/// (measured); a plain byte loop was most of the diff's own time, in skipping runs of
/// unchanged entries (BENCHMARKS.md). A word holds a zero byte where subtracting one from
/// each byte borrows out of a byte whose top bit was clear; the lowest such byte is the
/// first zero (bytes above it can be false alarms, never bytes below).
fn find_nul(data: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = data.chunks_exact(8);
    for (n, word) in words.by_ref().enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("chunks_exact gives eight bytes"));
        let zeros = w.wrapping_sub(ONES) & !w & HIGHS;
        if zeros != 0 {
            return Some(n * 8 + (zeros.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == 0).map(|i| data.len() - tail.len() + i)
}

/// The length of the raw entry at the start of `data`.
fn entry_len(data: &[u8], hash_len: usize) -> Option<usize> {
    let nul = find_nul(data)?;
    let end = nul + 1 + hash_len;
    (end <= data.len()).then_some(end)
}

/// How many leading bytes `a` and `b` share: 64-byte blocks compared with `memcmp` first.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// git's tree order: names as bytes, directories as if followed by `/`.
fn tree_order(a: &Entry<'_>, b: &Entry<'_>) -> std::cmp::Ordering {
    let common = a.name.len().min(b.name.len());
    match a.name[..common].cmp(&b.name[..common]) {
        std::cmp::Ordering::Equal => {}
        other => return other,
    }
    let next = |e: &Entry<'_>| -> u8 {
        if e.name.len() > common {
            e.name[common]
        } else if e.is_tree() {
            b'/'
        } else {
            0
        }
    };
    next(a).cmp(&next(b))
}

/// A changed path, before it is turned into text.
pub(crate) struct Changed {
    pub path: Vec<u8>,
    pub status: PathStatus,
    pub old: Option<ObjectId>,
    pub new: Option<ObjectId>,
    pub is_blob: bool,
}

/// Loads raw tree data by id.
pub(crate) trait TreeSource {
    /// Load the tree `id` into `buf`. Errors are the caller's (missing object, ...).
    fn load_tree(&self, id: &gix::oid, buf: &mut Vec<u8>) -> Result<(), crate::GitError>;
    fn malformed(&self, id: Option<&gix::oid>) -> crate::GitError;
}

/// What a [`TreeDiff`] keeps between diffs: its buffers, and the trees the last diff read
/// on its old side.
///
/// Walking first-parent history newest first, the old side of one diff (the parent's
/// trees) is the new side of the next (the same commit, now diffed against its own
/// parent): its root always, and every directory both commits changed. Those trees are
/// handed from one diff to the next instead of being found and inflated again. The memo
/// is keyed by object id, so a diff that does not follow on from the last one only misses.
#[derive(Default)]
pub(crate) struct TreeState {
    path: Vec<u8>,
    /// Spare buffers for trees.
    pool: Vec<Vec<u8>>,
    /// The trees the last diff read on its old side.
    prev: Vec<(ObjectId, Vec<u8>)>,
    /// The trees this diff reads on its old side, for the next.
    kept: Vec<(ObjectId, Vec<u8>)>,
}

/// At most this many trees are handed on from one diff to the next: a diff across a whole
/// history (a root commit, a large merge) reads thousands, a commit's usually a few.
const KEEP_TREES: usize = 64;

/// At most this many spare buffers are kept: a diff holds two per level of depth at once.
const SPARE_BUFFERS: usize = 16;

pub(crate) struct TreeDiff<'s, S: TreeSource> {
    source: &'s S,
    hash_kind: gix::hash::Kind,
    state: TreeState,
    pub out: Vec<Changed>,
}

impl<'s, S: TreeSource> TreeDiff<'s, S> {
    /// A diff over `source`, going on from `state` (what an earlier diff left).
    pub fn new(source: &'s S, hash_kind: gix::hash::Kind, state: TreeState) -> Self {
        TreeDiff { source, hash_kind, state, out: Vec::new() }
    }

    /// The changed paths, and the state to hand to the next diff.
    pub fn finish(mut self) -> (Vec<Changed>, TreeState) {
        let state = &mut self.state;
        // What the last diff kept and this one did not use is spare now.
        for (_, buf) in std::mem::take(&mut state.prev) {
            give_back(&mut state.pool, buf);
        }
        state.prev = std::mem::take(&mut state.kept);
        (self.out, self.state)
    }

    /// Diff the tree `old` (or no tree) against the tree `new`.
    pub fn diff_ids(&mut self, old: Option<ObjectId>, new: ObjectId) -> Result<(), crate::GitError> {
        self.state.path.clear();
        let old_buf = match old {
            Some(id) => Some((id, self.load_old(&id)?)),
            None => None,
        };
        let new_buf = self.load_new(&new);
        let result = new_buf.and_then(|new_buf| {
            let result = self.diff_level(old_buf.as_ref().map_or(&[][..], |(_, b)| b), &new_buf);
            give_back(&mut self.state.pool, new_buf);
            result
        });
        if let Some((id, buf)) = old_buf {
            self.done_old(id, buf);
        }
        result
    }

    /// Read a tree of the old side.
    fn load_old(&mut self, id: &gix::oid) -> Result<Vec<u8>, crate::GitError> {
        let mut buf = self.state.pool.pop().unwrap_or_default();
        match self.source.load_tree(id, &mut buf) {
            Ok(()) => Ok(buf),
            Err(e) => {
                give_back(&mut self.state.pool, buf);
                Err(e)
            }
        }
    }

    /// Read a tree of the new side: from what the last diff read, when it read it.
    fn load_new(&mut self, id: &gix::oid) -> Result<Vec<u8>, crate::GitError> {
        match self.state.prev.iter().position(|(kept, _)| kept.as_ref() == id) {
            Some(i) => Ok(self.state.prev.swap_remove(i).1),
            None => self.load_old(id),
        }
    }

    /// An old-side tree this diff is done with: kept for the next diff.
    fn done_old(&mut self, id: ObjectId, buf: Vec<u8>) {
        if self.state.kept.len() < KEEP_TREES {
            self.state.kept.push((id, buf));
        } else {
            give_back(&mut self.state.pool, buf);
        }
    }

    fn oid(&self, bytes: &[u8]) -> ObjectId {
        // Cannot panic: `Entries` cuts every id to exactly the hash length.
        ObjectId::from_bytes_or_panic(bytes)
    }

    fn push_name(&mut self, name: &[u8]) -> usize {
        let path = &mut self.state.path;
        let len = path.len();
        if len > 0 {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        len
    }

    fn diff_level(&mut self, old: &[u8], new: &[u8]) -> Result<(), crate::GitError> {
        let hash_len = self.hash_kind.len_in_bytes();
        let mut left = Entries { data: old, hash_len };
        let mut right = Entries { data: new, hash_len };
        let malformed = |s: &Self| s.source.malformed(None);
        let mut l = left.next_entry().map_err(|()| malformed(self))?;
        let mut r = right.next_entry().map_err(|()| malformed(self))?;
        loop {
            match (l, r) {
                (None, None) => return Ok(()),
                (Some(a), Some(b)) if a.raw == b.raw => {
                    // Identical entries come in runs: skip the whole common byte prefix of
                    // what is left on both sides, parsing only one side to stay on entry
                    // boundaries.
                    let prefix = common_prefix(left.data, right.data);
                    let mut skip = 0;
                    while skip < prefix {
                        let len = entry_len(&left.data[skip..], hash_len).ok_or_else(|| malformed(self))?;
                        if skip + len > prefix {
                            break;
                        }
                        skip += len;
                    }
                    left.data = &left.data[skip..];
                    right.data = &right.data[skip..];
                    l = left.next_entry().map_err(|()| malformed(self))?;
                    r = right.next_entry().map_err(|()| malformed(self))?;
                }
                (Some(a), Some(b)) => match tree_order(&a, &b) {
                    std::cmp::Ordering::Equal => {
                        self.changed(a, b)?;
                        l = left.next_entry().map_err(|()| malformed(self))?;
                        r = right.next_entry().map_err(|()| malformed(self))?;
                    }
                    std::cmp::Ordering::Less => {
                        self.one_side(a, PathStatus::Deleted)?;
                        l = left.next_entry().map_err(|()| malformed(self))?;
                    }
                    std::cmp::Ordering::Greater => {
                        self.one_side(b, PathStatus::Added)?;
                        r = right.next_entry().map_err(|()| malformed(self))?;
                    }
                },
                (Some(a), None) => {
                    self.one_side(a, PathStatus::Deleted)?;
                    l = left.next_entry().map_err(|()| malformed(self))?;
                }
                (None, Some(b)) => {
                    self.one_side(b, PathStatus::Added)?;
                    r = right.next_entry().map_err(|()| malformed(self))?;
                }
            }
        }
    }

    /// Same name and kind on both sides, different bytes.
    fn changed(&mut self, a: Entry<'_>, b: Entry<'_>) -> Result<(), crate::GitError> {
        let len = self.push_name(b.name);
        let result = if a.is_tree() && b.is_tree() {
            if a.id == b.id {
                Ok(()) // only the mode spelling differs
            } else {
                let old_id = self.oid(a.id);
                let old_buf = self.load_old(&old_id)?;
                let result = self.load_new(&self.oid(b.id)).and_then(|new_buf| {
                    let result = self.diff_level(&old_buf, &new_buf);
                    give_back(&mut self.state.pool, new_buf);
                    result
                });
                self.done_old(old_id, old_buf);
                result
            }
        } else {
            self.out.push(Changed {
                path: self.state.path.clone(),
                status: PathStatus::Modified,
                old: Some(self.oid(a.id)),
                new: Some(self.oid(b.id)),
                is_blob: b.is_blob(),
            });
            Ok(())
        };
        self.state.path.truncate(len);
        result
    }

    /// An entry only on one side: a file, or every file under a directory.
    fn one_side(&mut self, e: Entry<'_>, status: PathStatus) -> Result<(), crate::GitError> {
        let len = self.push_name(e.name);
        let result = if e.is_tree() {
            let id = self.oid(e.id);
            if status == PathStatus::Added {
                let buf = self.load_new(&id)?;
                let result = self.diff_level(&[], &buf);
                give_back(&mut self.state.pool, buf);
                result
            } else {
                let buf = self.load_old(&id)?;
                let result = self.diff_level(&buf, &[]);
                self.done_old(id, buf);
                result
            }
        } else {
            let id = self.oid(e.id);
            let (old, new) = if status == PathStatus::Added { (None, Some(id)) } else { (Some(id), None) };
            self.out.push(Changed { path: self.state.path.clone(), status, old, new, is_blob: e.is_blob() });
            Ok(())
        };
        self.state.path.truncate(len);
        result
    }
}

/// Put a spent tree buffer back among the spares, unless there are enough.
fn give_back(pool: &mut Vec<Vec<u8>>, buf: Vec<u8>) {
    if pool.len() < SPARE_BUFFERS {
        pool.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;

    use super::*;

    /// Trees in memory, each id given out once per distinct content (content-addressed, as
    /// in git), counting the loads.
    #[derive(Default)]
    struct Store {
        by_content: RefCell<HashMap<Vec<u8>, ObjectId>>,
        by_id: RefCell<HashMap<ObjectId, Vec<u8>>>,
        loads: Cell<usize>,
    }

    impl Store {
        fn intern(&self, content: Vec<u8>) -> ObjectId {
            let mut by_content = self.by_content.borrow_mut();
            let next = by_content.len() as u32 + 1;
            *by_content.entry(content.clone()).or_insert_with(|| {
                let mut id = [0u8; 20];
                id[..4].copy_from_slice(&next.to_be_bytes());
                let id = ObjectId::from_bytes_or_panic(&id);
                self.by_id.borrow_mut().insert(id, content);
                id
            })
        }

        /// The tree of a snapshot (path → file content), in git's tree order.
        fn tree(&self, files: &BTreeMap<Vec<String>, u8>) -> ObjectId {
            let mut dirs: BTreeMap<String, BTreeMap<Vec<String>, u8>> = BTreeMap::new();
            let mut entries: Vec<(Vec<u8>, &str, ObjectId)> = Vec::new();
            for (path, content) in files {
                if path.len() == 1 {
                    let blob = self.intern(vec![b'b', *content]);
                    entries.push((path[0].as_bytes().to_vec(), "100644", blob));
                } else {
                    dirs.entry(path[0].clone()).or_default().insert(path[1..].to_vec(), *content);
                }
            }
            for (name, below) in dirs {
                let mut key = name.into_bytes();
                let id = self.tree(&below);
                key.push(b'/');
                entries.push((key, "40000", id));
            }
            entries.sort();
            let mut raw = Vec::new();
            for (mut name, mode, id) in entries {
                if mode == "40000" {
                    name.pop();
                }
                raw.extend_from_slice(mode.as_bytes());
                raw.push(b' ');
                raw.extend_from_slice(&name);
                raw.push(0);
                raw.extend_from_slice(id.as_bytes());
            }
            self.intern(raw)
        }
    }

    impl TreeSource for Store {
        fn load_tree(&self, id: &gix::oid, buf: &mut Vec<u8>) -> Result<(), crate::GitError> {
            self.loads.set(self.loads.get() + 1);
            buf.clear();
            buf.extend_from_slice(&self.by_id.borrow()[id]);
            Ok(())
        }
        fn malformed(&self, _: Option<&gix::oid>) -> crate::GitError {
            unreachable!("the store's trees are well formed")
        }
    }

    fn paths(changed: Vec<Changed>) -> Vec<(String, PathStatus)> {
        let mut out: Vec<_> = changed.into_iter().map(|c| (String::from_utf8(c.path).unwrap(), c.status)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// What changed from `old` to `new`, from the snapshots themselves.
    fn expected(old: &BTreeMap<Vec<String>, u8>, new: &BTreeMap<Vec<String>, u8>) -> Vec<(String, PathStatus)> {
        let mut out = Vec::new();
        for (path, content) in new {
            match old.get(path) {
                None => out.push((path.join("/"), PathStatus::Added)),
                Some(before) if before != content => out.push((path.join("/"), PathStatus::Modified)),
                Some(_) => {}
            }
        }
        out.extend(old.keys().filter(|p| !new.contains_key(*p)).map(|p| (p.join("/"), PathStatus::Deleted)));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn snapshot() -> impl Strategy<Value = BTreeMap<Vec<String>, u8>> {
        let name = prop::sample::select(vec!["a", "a.txt", "a-b", "b", "c"]);
        let path = prop::collection::vec(name, 1..4).prop_map(|p| p.into_iter().map(String::from).collect());
        prop::collection::btree_map(path, 0u8..3, 0..12).prop_map(|files: BTreeMap<Vec<String>, u8>| {
            // A path cannot be both a file and a directory: drop files that are a prefix
            // of another path.
            let keep: Vec<_> = files
                .keys()
                .filter(|p| !files.keys().any(|q| q.len() > p.len() && q.starts_with(p)))
                .cloned()
                .collect();
            files.into_iter().filter(|(p, _)| keep.contains(p)).collect()
        })
    }

    proptest! {
        #[test]
        fn find_nul_finds_the_first_zero_byte(data in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff, b'a']), 0..40)) {
            prop_assert_eq!(find_nul(&data), data.iter().position(|&b| b == 0));
        }

        /// Diffs of a history newest first, each going on from the last one's state, report
        /// exactly what the snapshots say changed, and read no more trees than diffs made
        /// from scratch: each root read by two diffs is read once.
        #[test]
        fn diffs_handed_on_report_what_fresh_diffs_report(history in prop::collection::vec(snapshot(), 2..7)) {
            let store = Store::default();
            let roots: Vec<ObjectId> = history.iter().map(|s| store.tree(s)).collect();
            let mut state = TreeState::default();
            let mut carried_loads = 0;
            let mut fresh_loads = 0;
            for i in (1..history.len()).rev() {
                let before = store.loads.get();
                let mut diff = TreeDiff::new(&store, gix::hash::Kind::Sha1, state);
                diff.diff_ids(Some(roots[i - 1]), roots[i]).unwrap();
                let (carried, next) = diff.finish();
                state = next;
                carried_loads += store.loads.get() - before;

                let before = store.loads.get();
                let mut diff = TreeDiff::new(&store, gix::hash::Kind::Sha1, TreeState::default());
                diff.diff_ids(Some(roots[i - 1]), roots[i]).unwrap();
                let (fresh, _) = diff.finish();
                fresh_loads += store.loads.get() - before;

                let want = expected(&history[i - 1], &history[i]);
                prop_assert_eq!(paths(carried), want.clone());
                prop_assert_eq!(paths(fresh), want);
            }
            prop_assert!(carried_loads <= fresh_loads);
            if history.len() >= 3 {
                // Every diff after the first finds its new root among what the last one read.
                prop_assert!(carried_loads <= fresh_loads - (history.len() - 2), "{carried_loads} loads carried, {fresh_loads} fresh");
            }
        }
    }
}
