//! The commit graph kept beside the facts cache, for repositories without git's own
//! commit-graph file: the id, parents, committer time and generation number of every commit
//! an audit has walked.
//!
//! Finding what a new merge brings in walks down the mainline (and the topics merged into
//! it) until everything queued is hidden (`Reader::merged_ids`). Without a commit-graph each
//! of those commits is a commit object inflated from the pack, on every re-audit, and a
//! topic forked a few months back costs hundreds of them. The first audit already visits
//! every commit (the one pass over the graph), so it writes down what it learned; later
//! audits read parents and dates from here and add the commits they meet. Generation numbers
//! (git's "topological level": 1 for a root, else one more than the highest parent's) answer
//! "can X reach Y?" without walking below Y's level (`Repository::is_ancestor`).
//!
//! Two files under `<common git dir>/countersign/`, each checked on its own (magic, version,
//! checksum; anything unexpected counts as absent, and is rebuilt as commits are met again):
//! - `graph-v1.bin`, the base: a fan-out table on the first byte of the id, the sorted ids,
//!   and one fixed record per commit (time, generation, two parent positions; a third or
//!   later parent goes to an extra list), so that a lookup is a binary search with nothing
//!   built at load time;
//! - `graph-v1.recent.bin`, a journal of the commits added since, with parents as ids, which
//!   names its base by the base's checksum (a journal of another base is ignored). When it
//!   grows past an eighth of the base (at least 1024 commits) both are folded into a new
//!   base.
//!
//! The journal is read at load; the base only when a lookup needs it, so a re-audit after
//! plain commits (whose parents are in the journal) never reads it.
//!
//! A commit is only ever stored with all of its ancestors, so every generation number is
//! exact. Only SHA-1 repositories get a graph (as the facts cache).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::facts::{ByteReader, ByteWriter, checksum, write_atomically};

const MAGIC: &[u8; 8] = b"CSGRAPH\0";
const JOURNAL_MAGIC: &[u8; 8] = b"CSGRAPHJ";
const VERSION: u32 = 1;
const ID: usize = 20;
/// Magic, version, commit count, extra-list length.
const HEADER: usize = 8 + 4 + 4 + 4;
const FANOUT: usize = 256 * 4;
/// Time (8), generation (4), first parent (4), second parent or extra-list start (4).
const RECORD: usize = 20;
const NONE: u32 = u32::MAX;
/// In the second-parent field: the parents from the second on are in the extra list from
/// this position. In the extra list: the last parent of a commit.
const EXTRA: u32 = 1 << 31;

pub(crate) fn graph_path(common_dir: &Path) -> PathBuf {
    common_dir.join("countersign").join("graph-v1.bin")
}

fn journal_path(path: &Path) -> PathBuf {
    path.with_file_name("graph-v1.recent.bin")
}

/// A commit as the journal and the builder hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    time: i64,
    generation: u32,
    parents: Box<[ObjectId]>,
}

/// The base file, checked (empty when there is none, or it is damaged).
#[derive(Default)]
struct Base {
    bytes: Vec<u8>,
    n: usize,
}

impl Base {
    fn read(path: &Path) -> Base {
        match std::fs::read(path) {
            Ok(bytes) => match check_base(&bytes) {
                Some(n) => Base { bytes, n },
                None => Base::default(),
            },
            Err(_) => Base::default(),
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().expect("four bytes"))
    }

    fn id_at(&self, pos: usize) -> &gix::oid {
        let at = HEADER + FANOUT + pos * ID;
        gix::oid::try_from_bytes(&self.bytes[at..at + ID]).expect("a SHA-1 id")
    }

    fn position(&self, id: &gix::oid) -> Option<usize> {
        if self.n == 0 || id.as_bytes().len() != ID {
            return None;
        }
        let first = id.as_bytes()[0] as usize;
        let mut lo = if first == 0 { 0 } else { self.u32_at(HEADER + (first - 1) * 4) as usize };
        let mut hi = self.u32_at(HEADER + first * 4) as usize;
        let ids = &self.bytes[HEADER + FANOUT..HEADER + FANOUT + self.n * ID];
        while lo < hi {
            let mid = (lo + hi) / 2;
            match ids[mid * ID..(mid + 1) * ID].cmp(id.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn generation(&self, pos: usize) -> u32 {
        self.u32_at(HEADER + FANOUT + self.n * ID + pos * RECORD + 8)
    }

    /// Time and generation of the commit at `pos`, its parents appended to `parents`.
    fn record(&self, pos: usize, parents: &mut Vec<ObjectId>) -> (i64, u32) {
        let at = HEADER + FANOUT + self.n * ID + pos * RECORD;
        let time = i64::from_le_bytes(self.bytes[at..at + 8].try_into().expect("eight bytes"));
        let generation = self.u32_at(at + 8);
        let (p1, p2) = (self.u32_at(at + 12), self.u32_at(at + 16));
        if p1 != NONE {
            parents.push(self.id_at(p1 as usize).to_owned());
        }
        if p2 != NONE && p2 & EXTRA == 0 {
            parents.push(self.id_at(p2 as usize).to_owned());
        } else if p2 != NONE {
            let extra_at = HEADER + FANOUT + self.n * (ID + RECORD);
            let mut i = (p2 & !EXTRA) as usize;
            loop {
                let e = self.u32_at(extra_at + i * 4);
                parents.push(self.id_at((e & !EXTRA) as usize).to_owned());
                if e & EXTRA != 0 {
                    break;
                }
                i += 1;
            }
        }
        (time, generation)
    }
}

/// The stored graph. The journal is read at once; the base, which holds nearly every commit
/// (3 MB for git/git), only when a lookup needs it: a re-audit after plain commits never
/// does (the new commits' parents are in the journal), one after a merge does.
#[derive(Default)]
pub(crate) struct StoredGraph {
    path: PathBuf,
    base: std::sync::OnceLock<Base>,
    /// The base's commit count and checksum, from its header and its last eight bytes.
    base_head: Option<(usize, u64)>,
    journal: HashMap<ObjectId, Node>,
}

impl std::fmt::Debug for StoredGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredGraph")
            .field("base", &self.base_head.map(|(n, _)| n))
            .field("journal", &self.journal.len())
            .finish()
    }
}

/// A base file's commit count and checksum, read from its ends without reading it all.
fn base_head(path: &Path) -> Option<(usize, u64)> {
    use std::io::{Read as _, Seek as _};
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; HEADER];
    file.read_exact(&mut head).ok()?;
    file.seek(std::io::SeekFrom::End(-8)).ok()?;
    let mut sum = [0u8; 8];
    file.read_exact(&mut sum).ok()?;
    let mut r = ByteReader::new(&head);
    if r.take(8)? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    Some((r.u32()? as usize, u64::from_le_bytes(sum)))
}

impl StoredGraph {
    pub fn load(path: &Path) -> StoredGraph {
        let mut graph = StoredGraph { path: path.to_owned(), ..StoredGraph::default() };
        graph.base_head = base_head(path);
        // The journal names the base it extends by its checksum: with another base, or none,
        // its commits' ancestors may be missing, and it is dropped.
        if let Some((_, sum)) = graph.base_head
            && let Ok(journal) = std::fs::read(journal_path(path))
            && let Some((of, nodes)) = read_journal(&journal)
            && of == sum
        {
            graph.journal = nodes;
        }
        graph
    }

    /// The base's commit count and checksum: from its ends until it is read, then only when
    /// it was whole.
    fn usable_base(&self) -> Option<(usize, u64)> {
        match self.base.get() {
            Some(base) if base.n == 0 => None,
            _ => self.base_head.filter(|(n, _)| *n > 0),
        }
    }

    /// Whether there is a base file (as far as is known: a damaged one counts once it was read).
    pub fn has_base(&self) -> bool {
        self.usable_base().is_some()
    }

    fn base(&self) -> &Base {
        self.base.get_or_init(|| match self.base_head {
            Some(_) => Base::read(&self.path),
            None => Base::default(),
        })
    }

    /// Commits stored (a commit in both the base and the journal counts twice).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.base_head.map_or(0, |(n, _)| n) + self.journal.len()
    }

    /// Whether `id` is stored, without reading the base when it is not read yet (`false`
    /// then, for a commit it may have).
    pub fn contains_cheaply(&self, id: &gix::oid) -> bool {
        self.journal.contains_key(id) || self.base.get().is_some_and(|b| b.position(id).is_some())
    }

    /// Committer time and generation number of `id`, with its parents written to `parents`
    /// (cleared first), when it is stored.
    pub fn get(&self, id: &gix::oid, parents: &mut Vec<ObjectId>) -> Option<(i64, u32)> {
        parents.clear();
        if let Some(node) = self.journal.get(id) {
            parents.extend_from_slice(&node.parents);
            return Some((node.time, node.generation));
        }
        let base = self.base();
        base.position(id).map(|pos| base.record(pos, parents))
    }

    /// The generation number of `id`, when it is stored.
    pub fn generation(&self, id: &gix::oid) -> Option<u32> {
        if let Some(node) = self.journal.get(id) {
            return Some(node.generation);
        }
        let base = self.base();
        base.position(id).map(|pos| base.generation(pos))
    }

    /// Add the commits of `new` (id, committer time, all parents) that are not stored yet
    /// and whose every ancestor is known (stored, or in `new`): the others are left out, so
    /// that generation numbers stay exact. Writes the journal, or a new base when the
    /// journal would grow too large; returns how many commits were added. Errors are for the
    /// caller to report as a warning, as with the facts cache.
    pub fn store(&self, new: Vec<(ObjectId, i64, Vec<ObjectId>)>) -> std::io::Result<usize> {
        let path = &self.path;
        let added = self.close(new);
        if added.is_empty() {
            return Ok(0);
        }
        let count = added.len();
        let journal_only = match self.usable_base() {
            Some((n, sum)) if self.journal.len() + count <= (n / 8).max(1024) => Some(sum),
            _ => None,
        };
        if let Some(sum) = journal_only {
            let mut all: Vec<(&ObjectId, &Node)> =
                self.journal.iter().chain(added.iter().map(|(i, n)| (i, n))).collect();
            all.sort_unstable_by(|a, b| a.0.cmp(b.0));
            write_atomically(&journal_path(path), &journal_bytes(sum, &all))?;
        } else {
            let base = self.base();
            let mut all: Vec<(ObjectId, Node)> = Vec::with_capacity(base.n + self.journal.len() + count);
            let mut parents = Vec::new();
            for pos in 0..base.n {
                let (time, generation) = base.record(pos, &mut parents);
                all.push((base.id_at(pos).to_owned(), Node { time, generation, parents: parents.drain(..).collect() }));
            }
            all.extend(self.journal.iter().map(|(id, node)| (*id, node.clone())));
            all.extend(added);
            write_atomically(path, &base_bytes(all))?;
            match std::fs::remove_file(journal_path(path)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(count)
    }

    /// The commits of `new` that can be added, with their generation numbers.
    fn close(&self, new: Vec<(ObjectId, i64, Vec<ObjectId>)>) -> Vec<(ObjectId, Node)> {
        // A commit the base may already have is added again when the base is not read: the
        // copy in the journal is the same, and folding keeps one.
        let new: Vec<_> =
            new.into_iter().filter(|(id, _, _)| id.as_bytes().len() == ID && !self.contains_cheaply(id)).collect();
        let slot: HashMap<ObjectId, usize> = new.iter().enumerate().map(|(i, (id, _, _))| (*id, i)).collect();
        // Per new commit: not yet seen, being visited, or done with its generation (None:
        // an ancestor is unknown).
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Unseen,
            Open,
            Done(Option<u32>),
        }
        let mut marks = vec![Mark::Unseen; new.len()];
        let mut stack: Vec<usize> = Vec::new();
        for start in 0..new.len() {
            if marks[start] != Mark::Unseen {
                continue;
            }
            stack.push(start);
            while let Some(&i) = stack.last() {
                marks[i] = Mark::Open;
                let mut generation = Some(0u32);
                let mut waiting = false;
                for p in &new[i].2 {
                    let parent = match slot.get(p) {
                        Some(&j) => match marks[j] {
                            Mark::Unseen => {
                                stack.push(j);
                                waiting = true;
                                continue;
                            }
                            // A cycle cannot happen in git; should a damaged object make one,
                            // the commit is left out.
                            Mark::Open => None,
                            Mark::Done(g) => g,
                        },
                        None => self.generation(p),
                    };
                    generation = match (generation, parent) {
                        (Some(g), Some(p)) => Some(g.max(p)),
                        _ => None,
                    };
                }
                if !waiting {
                    marks[i] = Mark::Done(generation.and_then(|g| g.checked_add(1)));
                    stack.pop();
                }
            }
        }
        new.into_iter()
            .zip(marks)
            .filter_map(|((id, time, parents), mark)| match mark {
                // (The lookups above may have read the base: then it is asked again.)
                Mark::Done(Some(generation)) if !self.contains_cheaply(&id) => {
                    Some((id, Node { time, generation, parents: parents.into() }))
                }
                _ => None,
            })
            .collect()
    }
}

/// A file of this module checked: at least `min` bytes before its checksum, the checksum
/// right, and `magic` and the version first. The payload, and a reader after the version.
fn checked<'a>(bytes: &'a [u8], magic: &[u8; 8], min: usize) -> Option<(&'a [u8], ByteReader<'a>)> {
    let (payload, sum) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
    if payload.len() < min || checksum(payload) != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let mut r = ByteReader::new(payload);
    (r.take(8)? == magic && r.u32()? == VERSION).then_some((payload, r))
}

/// Check a base file: its commit count, or `None` when anything is off.
fn check_base(bytes: &[u8]) -> Option<usize> {
    let (payload, mut r) = checked(bytes, MAGIC, HEADER + FANOUT)?;
    let n = r.u32()? as usize;
    let extra = r.u32()? as usize;
    if payload.len() != HEADER + FANOUT + n.checked_mul(ID + RECORD)? + extra.checked_mul(4)? {
        return None;
    }
    let mut last = 0;
    for _ in 0..256 {
        let upto = r.u32()? as usize;
        if upto < last || upto > n {
            return None;
        }
        last = upto;
    }
    if last != n {
        return None;
    }
    let ids = r.take(n * ID)?;
    if ids.chunks_exact(ID).zip(ids.chunks_exact(ID).skip(1)).any(|(a, b)| a >= b) {
        return None;
    }
    // Every parent position must point at a commit, and every extra list must end.
    let records = r.take(n * RECORD)?;
    let extras: Vec<u32> = (0..extra).map(|_| r.u32()).collect::<Option<_>>()?;
    let valid = |p: u32| p == NONE || (p as usize) < n;
    if extras.iter().any(|&e| (e & !EXTRA) as usize >= n) || extras.last().is_some_and(|&e| e & EXTRA == 0) {
        return None;
    }
    for record in records.chunks_exact(RECORD) {
        let p1 = u32::from_le_bytes(record[12..16].try_into().ok()?);
        let p2 = u32::from_le_bytes(record[16..20].try_into().ok()?);
        let second_ok = match p2 {
            NONE => true,
            p if p & EXTRA != 0 => ((p & !EXTRA) as usize) < extra,
            p => valid(p),
        };
        if !valid(p1) || !second_ok {
            return None;
        }
    }
    Some(n)
}

/// A base file of `all`: sorted by id, one copy of each commit, and only commits whose
/// parents are in it (a journal whose base turned out damaged loses its links to it).
fn base_bytes(mut all: Vec<(ObjectId, Node)>) -> Vec<u8> {
    all.sort_by_key(|a| a.0);
    all.dedup_by(|a, b| a.0 == b.0);
    // Parents have lower generations: in generation order, a commit is kept when its
    // parents were.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_unstable_by_key(|&i| all[i].1.generation);
    let mut keep = vec![false; all.len()];
    for i in order {
        let known = all[i].1.parents.iter().all(|p| all.binary_search_by(|(x, _)| x.cmp(p)).is_ok_and(|j| keep[j]));
        keep[i] = known;
    }
    let mut kept = keep.iter();
    all.retain(|_| *kept.next().expect("one flag per commit"));
    let all = &all[..];
    let position = |id: &ObjectId| -> u32 {
        all.binary_search_by(|(x, _)| x.cmp(id)).map(|p| p as u32).expect("a stored commit's parents are stored")
    };
    let mut extra: Vec<u32> = Vec::new();
    let mut w = ByteWriter(Vec::with_capacity(HEADER + FANOUT + all.len() * (ID + RECORD) + 8));
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u32(all.len() as u32);
    // A commit with three or more parents lists all but its first there.
    let extra_len: usize = all.iter().filter(|(_, n)| n.parents.len() > 2).map(|(_, n)| n.parents.len() - 1).sum();
    w.u32(extra_len as u32);
    let mut counts = [0u32; 256];
    for (id, _) in all {
        counts[id.as_bytes()[0] as usize] += 1;
    }
    let mut upto = 0;
    for c in counts {
        upto += c;
        w.u32(upto);
    }
    for (id, _) in all {
        w.0.extend_from_slice(id.as_bytes());
    }
    for (_, node) in all {
        w.u64(node.time as u64);
        w.u32(node.generation);
        let mut parents = node.parents.iter().map(position);
        w.u32(parents.next().unwrap_or(NONE));
        match node.parents.len() {
            0 | 1 => w.u32(NONE),
            2 => w.u32(parents.next().unwrap_or(NONE)),
            _ => {
                w.u32(EXTRA | extra.len() as u32);
                let rest: Vec<u32> = parents.collect();
                let last = rest.len() - 1;
                extra.extend(rest.iter().enumerate().map(|(i, &p)| if i == last { p | EXTRA } else { p }));
            }
        }
    }
    debug_assert_eq!(extra.len(), extra_len);
    for e in extra {
        w.u32(e);
    }
    let sum = checksum(&w.0);
    w.u64(sum);
    w.0
}

/// The journal: the commits added since the base whose checksum is `base_sum`.
fn journal_bytes(base_sum: u64, all: &[(&ObjectId, &Node)]) -> Vec<u8> {
    let mut w = ByteWriter(Vec::with_capacity(24 + all.len() * 64));
    w.0.extend_from_slice(JOURNAL_MAGIC);
    w.u32(VERSION);
    w.u64(base_sum);
    w.u32(all.len() as u32);
    for (id, node) in all {
        w.0.extend_from_slice(id.as_bytes());
        w.u64(node.time as u64);
        w.u32(node.generation);
        w.u32(node.parents.len() as u32);
        for p in &node.parents {
            w.0.extend_from_slice(p.as_bytes());
        }
    }
    let sum = checksum(&w.0);
    w.u64(sum);
    w.0
}

/// The journal's base checksum and commits.
fn read_journal(bytes: &[u8]) -> Option<(u64, HashMap<ObjectId, Node>)> {
    let (_, mut r) = checked(bytes, JOURNAL_MAGIC, 24)?;
    let base_sum = r.u64()?;
    let n = r.len()?;
    let mut nodes = HashMap::with_capacity(n);
    for _ in 0..n {
        let id = ObjectId::try_from(r.take(ID)?).ok()?;
        let time = r.u64()? as i64;
        let generation = r.u32()?;
        let count = r.len()?;
        let parents = (0..count).map(|_| ObjectId::try_from(r.take(ID)?).ok()).collect::<Option<Box<[_]>>>()?;
        nodes.insert(id, Node { time, generation, parents });
    }
    r.at_end().then_some((base_sum, nodes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_id as id;

    /// A history with a root, a merge, an octopus merge and a commit whose parent is unknown.
    fn history() -> Vec<(ObjectId, i64, Vec<ObjectId>)> {
        vec![
            (id(1), 100, vec![]),
            (id(2), 200, vec![id(1)]),
            (id(3), 300, vec![id(1)]),
            (id(4), 400, vec![id(2), id(3)]),
            (id(5), 500, vec![id(4), id(2), id(3)]),
            (id(9), 900, vec![id(8)]),
        ]
    }

    fn get(g: &StoredGraph, n: u8) -> Option<(i64, u32, Vec<ObjectId>)> {
        let mut parents = Vec::new();
        g.get(&id(n), &mut parents).map(|(t, g)| (t, g, parents))
    }

    #[test]
    fn a_stored_graph_keeps_parents_dates_and_generations_and_leaves_out_unknown_ancestry() {
        let dir = tempfile::tempdir().unwrap();
        let path = graph_path(dir.path());
        let empty = StoredGraph::load(&path);
        assert_eq!(empty.len(), 0);
        assert_eq!(empty.store(history()).unwrap(), 5, "the commit with an unknown parent is left out");
        let g = StoredGraph::load(&path);
        assert_eq!((g.base_head.map(|h| h.0), g.journal.len()), (Some(5), 0), "the first store writes a base");
        assert_eq!(get(&g, 1), Some((100, 1, vec![])));
        assert_eq!(get(&g, 4), Some((400, 3, vec![id(2), id(3)])));
        assert_eq!(get(&g, 5), Some((500, 4, vec![id(4), id(2), id(3)])));
        assert_eq!(get(&g, 9), None);

        // Later commits go to the journal; an already stored commit is not added again.
        let later = vec![(id(6), 600, vec![id(5)]), (id(7), 700, vec![id(6), id(3)]), (id(4), 400, vec![id(2), id(3)])];
        assert_eq!(g.store(later).unwrap(), 2);
        let g = StoredGraph::load(&path);
        assert_eq!((g.base_head.map(|h| h.0), g.journal.len()), (Some(5), 2));
        assert!(g.base.get().is_none(), "the journal is read without the base");
        assert_eq!(get(&g, 7), Some((700, 6, vec![id(6), id(3)])));
        assert_eq!(g.generation(&id(5)), Some(4));

        // id(10)'s parent id(9) is unknown: all of the chain above it stays out.
        let many: Vec<_> = (10..=255u8).map(|i| (id(i), i64::from(i), vec![id(i - 1)])).collect();
        assert_eq!(g.store(many).unwrap(), 0);
        // Folding the journal into a new base keeps every commit as it was.
        let mut chain = vec![(id(10), 1000, vec![id(7)])];
        chain.extend((11..=255u8).map(|i| (id(i), i64::from(i), vec![id(i - 1)])));
        assert_eq!(g.store(chain).unwrap(), 246);
        let g = StoredGraph::load(&path);
        assert_eq!(g.len(), 5 + 2 + 246);
        assert_eq!(get(&g, 255).map(|(_, g, _)| g), Some(6 + 246));
        assert_eq!(get(&g, 5), Some((500, 4, vec![id(4), id(2), id(3)])));
    }

    /// The graph the first audit keeps is git's: every commit `git rev-list --all` lists,
    /// with the parents, committer time and generation number (topological level) that
    /// `git commit-graph write` computes, on a history with merges, an octopus, a topic
    /// forked at the root and clocks that go backwards.
    #[test]
    fn s000_03_the_kept_graph_equals_git_commit_graph() {
        use crate::read::tests::git;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"], 1);
        git(d, &["commit", "-q", "--allow-empty", "-m", "root"], 1);
        git(d, &["branch", "old"], 2);
        for i in 0..5u64 {
            let topic = format!("t{i}");
            git(d, &["checkout", "-q", "-b", &topic, "main"], 10 + i * 10);
            // Topic commits dated before their fork point: skewed clocks.
            git(d, &["commit", "-q", "--allow-empty", "-m", &format!("{topic} a")], 3 + i);
            git(d, &["commit", "-q", "--allow-empty", "-m", &format!("{topic} b")], 11 + i * 10);
            git(d, &["checkout", "-q", "main"], 12 + i * 10);
            git(d, &["commit", "-q", "--allow-empty", "-m", &format!("m{i}")], 13 + i * 10);
            git(d, &["merge", "-q", "--no-ff", "-m", &format!("merge {topic}"), &topic], 14 + i * 10);
        }
        git(d, &["checkout", "-q", "old"], 70);
        git(d, &["commit", "-q", "--allow-empty", "-m", "old1"], 70);
        git(d, &["checkout", "-q", "-b", "o2", "main~2"], 71);
        git(d, &["commit", "-q", "--allow-empty", "-m", "o2"], 71);
        git(d, &["checkout", "-q", "main"], 72);
        git(d, &["merge", "-q", "--no-ff", "-m", "octopus", "old", "o2", "t1"], 72);

        let repo = crate::Repository::open(d).unwrap();
        let walk = repo.changes(&crate::WalkOptions::default(), &|_| {}).unwrap();
        let all: Vec<ObjectId> =
            git(d, &["rev-list", "--all"], 0).lines().map(|l| ObjectId::from_hex(l.as_bytes()).unwrap()).collect();
        assert_eq!(walk.stats.graph_added, all.len(), "the first audit keeps every commit");
        let kept = StoredGraph::load(&graph_path(&d.join(".git")));

        git(d, &["commit-graph", "write", "--reachable"], 0);
        let theirs =
            gix::commitgraph::Graph::from_info_dir(&d.join(".git/objects/info"), gix::hash::Kind::Sha1).unwrap();
        assert_eq!(theirs.num_commits() as usize, all.len());
        let mut parents = Vec::new();
        for id in &all {
            let (time, generation) = kept.get(id, &mut parents).unwrap_or_else(|| panic!("{id} is kept"));
            let c = theirs.commit_by_id(id).unwrap();
            let want: Vec<ObjectId> = c.iter_parents().map(|p| theirs.id_at(p.unwrap()).to_owned()).collect();
            assert_eq!(parents, want, "parents of {id}");
            assert_eq!(time, c.committer_timestamp() as i64, "time of {id}");
            assert_eq!(generation, c.generation(), "generation of {id}");
        }
    }

    #[test]
    fn a_damaged_graph_file_counts_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = graph_path(dir.path());
        StoredGraph::load(&path).store(history()).unwrap();
        let good = std::fs::read(&path).unwrap();
        let known = |g: &StoredGraph| [1, 4, 5, 6].into_iter().filter(|&n| g.generation(&id(n)).is_some()).count();
        assert_eq!(known(&StoredGraph::load(&path)), 3);
        for cut in [0, 8, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert_eq!(known(&StoredGraph::load(&path)), 0, "cut at {cut}");
        }
        let mut flipped = good.clone();
        flipped[HEADER + FANOUT + 3] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(known(&StoredGraph::load(&path)), 0);
        // A journal is dropped when its base is gone, or another base took its place.
        std::fs::write(&path, &good).unwrap();
        assert_eq!(StoredGraph::load(&path).store(vec![(id(6), 600, vec![id(5)])]).unwrap(), 1);
        assert_eq!(known(&StoredGraph::load(&path)), 4);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(known(&StoredGraph::load(&path)), 0);
        std::fs::write(&path, &good).unwrap();
        assert_eq!(known(&StoredGraph::load(&path)), 4, "the journal is back with its base");
        let other = tempfile::tempdir().unwrap();
        let other_path = graph_path(other.path());
        StoredGraph::load(&other_path).store(history()[..4].to_vec()).unwrap();
        std::fs::copy(&other_path, &path).unwrap();
        assert!(journal_path(&path).exists());
        assert_eq!(known(&StoredGraph::load(&path)), 2, "the journal of the earlier base is not read");
    }
}
