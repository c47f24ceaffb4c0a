//! Per-commit facts and their on-disk cache.
//!
//! A [`ChangeFacts`] is everything the walk learns from the object database about one
//! first-parent commit: parsed messages (its own and those of the commits it brings in),
//! raw identities, signatures and the tree diff. It is a pure function of the commit id (git
//! objects are immutable) and of the `added_lines_for` patterns, so it can be cached by
//! commit id. Identities are stored *before* `.mailmap` is applied, so editing `.mailmap`
//! never needs a cache rebuild.
//!
//! The cache is a binary file (`<common git dir>/countersign/facts-v1.bin`, plus a small
//! journal of recent entries next to it, see [`Cache`]): a header (magic, format version,
//! fingerprint of the options that shape the facts), the entries (commit id, first parent,
//! committer time, length, encoded facts), and a checksum of everything before it. Anything unexpected (wrong magic,
//! version, fingerprint, checksum, truncation) makes the whole file count as absent; it is
//! then rebuilt. Files are written to a temporary file and renamed into place, so a reader
//! never sees half a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use countersign_engine::change::{Identity, PathStatus};

use crate::message::ReviewSource;

/// A person as recorded in a commit header, before `.mailmap`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct RawIdent {
    pub name: String,
    pub email: String,
}

/// Facts about one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CommitFacts {
    pub id: String,
    pub author: RawIdent,
    pub committer: RawIdent,
    /// Committer time, seconds since the epoch.
    pub commit_time: i64,
    pub signed: bool,
    /// It has more than one parent.
    pub merge: bool,
    pub subject: String,
    /// Only kept for first-parent commits; empty for the commits a merge brings in.
    pub body: String,
    pub trailers: Vec<(String, String)>,
    pub review: Option<(u64, ReviewSource, Vec<Identity>)>,
}

/// Facts about one first-parent commit and what it brings in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChangeFacts {
    pub head: CommitFacts,
    pub parents: Vec<String>,
    /// For a merge: the commits reachable from its other parents but not from the first,
    /// oldest first.
    pub brought_in: Vec<CommitFacts>,
    /// For a merge: the topic line, i.e. the brought-in commits met by following first
    /// parents from the merged tip (the second parent), as indices into `brought_in`, tip
    /// first. It decides the change's author (see `build`).
    pub topic_line: Vec<u32>,
    /// For a merge: the brought-in commits other than the merged tip that carry a review or
    /// acknowledgment trailer and whose touched paths are not the same at the merged tip.
    /// Their approvals stay bound to their own commit (stale); every other trailer approval
    /// is bound to the merged tip (see `read::Reader::stale_reviews`).
    pub stale_reviews: Vec<String>,
    pub changed_paths: Vec<(String, PathStatus)>,
    pub added_lines: Vec<(String, Vec<String>)>,
}

const MAGIC: &[u8; 8] = b"CSFACTS\0";
/// Bump whenever the encoding or the meaning of a fact changes.
pub(crate) const FORMAT_VERSION: u32 = 3;

/// A dependency-free 64-bit checksum, eight bytes per step (FNV-style multiply and xor,
/// with a rotation so that every input bit reaches the high bits): good enough to detect
/// truncation and damage, and fast enough to run over a cache of tens of megabytes.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash ^ u64::from_le_bytes(word)).wrapping_mul(PRIME).rotate_left(29);
    }
    for &b in chunks.remainder() {
        hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
    }
    hash ^ bytes.len() as u64
}

/// The fingerprint of the options that change what a fact contains: the added-lines
/// patterns and the trailer keys whose approvals are bound to a commit (lowercase, sorted).
pub(crate) fn fingerprint(added_lines_for: &[String], binding_keys: &[String]) -> u64 {
    let mut key = Vec::new();
    key.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    for p in added_lines_for {
        key.extend_from_slice(p.as_bytes());
        key.push(0);
    }
    key.push(1);
    for k in binding_keys {
        key.extend_from_slice(k.as_bytes());
        key.push(0);
    }
    checksum(&key)
}

pub(crate) fn cache_path(common_dir: &Path) -> PathBuf {
    common_dir.join("countersign").join("facts-v1.bin")
}

/// How the cache file looked when it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// `use_cache` was off.
    Disabled,
    /// No cache file yet.
    Missing,
    /// Loaded and valid.
    Loaded,
    /// Present but unreadable, damaged, of another version or built with other options:
    /// ignored and rebuilt.
    Discarded,
}

/// The cache, loaded lazily: only an index of entry offsets is built when it is read; an
/// entry is decoded when the walk asks for it, and entries that did not change are copied
/// byte for byte when a file is rewritten.
///
/// Two files of the same format: the base (`facts-v1.bin`) and a small journal of recent
/// entries (`facts-v1.recent.bin`). A re-audit after a few new commits rewrites only the
/// journal; when the journal grows past an eighth of the base (at least 1024 entries) both
/// are folded into a new base. Each file is checked on its own: a damaged journal only loses
/// the recent entries.
pub(crate) struct Cache {
    base: Vec<u8>,
    recent: Vec<u8>,
    /// Per commit: where its entry is (`true`: in `recent`) and its link in the chain.
    index: HashMap<gix::ObjectId, Slot>,
    recent_entries: usize,
    pub state: CacheState,
}

/// Where an entry is, plus what the first-parent walk needs (first parent, committer
/// time), kept outside the encoded facts so that the walk can follow cached commits
/// without decompressing them or decoding their facts.
#[derive(Clone)]
struct Slot {
    in_recent: bool,
    range: std::ops::Range<usize>,
    link: ChainLink,
}

/// A commit's first parent and committer time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChainLink {
    pub first_parent: Option<gix::ObjectId>,
    pub time: i64,
}

fn recent_path(path: &Path) -> PathBuf {
    path.with_file_name("facts-v1.recent.bin")
}

impl Cache {
    pub fn disabled() -> Cache {
        Cache::empty(CacheState::Disabled)
    }

    fn empty(state: CacheState) -> Cache {
        Cache { base: Vec::new(), recent: Vec::new(), index: HashMap::new(), recent_entries: 0, state }
    }

    pub fn load(path: &Path, fingerprint: u64) -> Cache {
        let base = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Cache::empty(CacheState::Missing),
            Err(_) => return Cache::empty(CacheState::Discarded),
        };
        let Some(base_index) = index_file(&base, fingerprint) else {
            return Cache::empty(CacheState::Discarded);
        };
        let mut index = base_index;
        let recent = std::fs::read(recent_path(path)).unwrap_or_default();
        let mut recent_entries = 0;
        let recent = match index_file(&recent, fingerprint) {
            Some(recent_index) => {
                recent_entries = recent_index.len();
                index.extend(recent_index.into_iter().map(|(id, mut slot)| {
                    slot.in_recent = true;
                    (id, slot)
                }));
                recent
            }
            None => Vec::new(),
        };
        Cache { base, recent, index, recent_entries, state: CacheState::Loaded }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// First parent and committer time of a cached commit.
    pub fn link(&self, id: &gix::oid) -> Option<ChainLink> {
        self.index.get(id).map(|slot| slot.link)
    }

    /// The facts of `id`, or `None` when they are not cached (or the entry does not decode,
    /// which the caller treats the same way: read the commit again).
    pub fn get(&self, id: &gix::oid) -> Option<ChangeFacts> {
        let Slot { in_recent, range, .. } = self.index.get(id)?.clone();
        let bytes = if in_recent { &self.recent } else { &self.base };
        let mut r = ByteReader { buf: bytes.get(range.clone())?, pos: 0 };
        let facts = r.change()?;
        (r.pos == range.len() && facts.head.id.as_bytes() == id.to_string().as_bytes()).then_some(facts)
    }

    /// Add `new` to the cache files, atomically (temp file + rename). Errors are for the
    /// caller to report as a warning: a cache that cannot be written never fails an audit.
    pub fn store(
        &self,
        path: &Path,
        fingerprint: u64,
        ids: &[gix::ObjectId],
        new: &[ChangeFacts],
    ) -> std::io::Result<()> {
        debug_assert_eq!(ids.len(), new.len(), "one id per change's facts");
        let fresh: std::collections::HashSet<&gix::ObjectId> = ids.iter().collect();
        let base_entries = self.index.len() - self.recent_entries;
        let journal_only =
            self.state == CacheState::Loaded && self.recent_entries + new.len() <= (base_entries / 8).max(1024);
        let kept: Vec<_> =
            self.index.iter().filter(|(id, slot)| !fresh.contains(id) && (slot.in_recent || !journal_only)).collect();
        let mut w = ByteWriter(Vec::with_capacity(
            if journal_only { self.recent.len() } else { self.base.len() + self.recent.len() } + new.len() * 1024,
        ));
        w.0.extend_from_slice(MAGIC);
        w.u32(FORMAT_VERSION);
        w.u64(fingerprint);
        w.u64((kept.len() + new.len()) as u64);
        for (id, slot) in kept {
            let bytes = if slot.in_recent { &self.recent } else { &self.base };
            w.entry_header(id, slot.link, slot.range.len());
            w.0.extend_from_slice(&bytes[slot.range.clone()]);
        }
        let mut entry = ByteWriter(Vec::new());
        for (id, facts) in ids.iter().zip(new) {
            entry.0.clear();
            entry.change(facts);
            let link = ChainLink {
                first_parent: facts.parents.first().and_then(|p| gix::ObjectId::from_hex(p.as_bytes()).ok()),
                time: facts.head.commit_time,
            };
            w.entry_header(id, link, entry.0.len());
            w.0.extend_from_slice(&entry.0);
        }
        let sum = checksum(&w.0);
        w.u64(sum);

        if journal_only {
            write_atomically(&recent_path(path), &w.0)
        } else {
            write_atomically(path, &w.0)?;
            match std::fs::remove_file(recent_path(path)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
    }
}

/// Write to a temporary file next to `path` and rename it into place, so that a reader sees
/// the old file or the new one, never half of one. No fsync: after a crash the worst case is
/// a damaged file, which the checksum catches and the next walk rebuilds.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Check the header and checksum and build the offset index, without decoding entries.
fn index_file(bytes: &[u8], fingerprint: u64) -> Option<HashMap<gix::ObjectId, Slot>> {
    if bytes.len() < MAGIC.len() + 4 + 8 + 8 + 8 {
        return None;
    }
    let (payload, sum) = bytes.split_at(bytes.len() - 8);
    if checksum(payload) != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let mut r = ByteReader { buf: payload, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != FORMAT_VERSION || r.u64()? != fingerprint {
        return None;
    }
    let count = usize::try_from(r.u64()?).ok()?;
    let mut index = HashMap::with_capacity(count.min(payload.len() / 24));
    for _ in 0..count {
        let id = gix::ObjectId::try_from(r.take(20)?).ok()?;
        let first_parent = match r.u8()? {
            0 => None,
            1 => Some(gix::ObjectId::try_from(r.take(20)?).ok()?),
            _ => return None,
        };
        let time = r.u64()? as i64;
        let len = r.len()?;
        let start = r.pos;
        r.take(len)?;
        index.insert(id, Slot { in_recent: false, range: start..start + len, link: ChainLink { first_parent, time } });
    }
    (r.pos == payload.len()).then_some(index)
}

pub(crate) struct ByteWriter(pub(crate) Vec<u8>);

impl ByteWriter {
    /// Entry header: id, first parent (flag + id), committer time, payload length.
    fn entry_header(&mut self, id: &gix::ObjectId, link: ChainLink, len: usize) {
        self.0.extend_from_slice(id.as_bytes());
        match link.first_parent {
            Some(p) => {
                self.0.push(1);
                self.0.extend_from_slice(p.as_bytes());
            }
            None => self.0.push(0),
        }
        self.u64(link.time as u64);
        self.len(len);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn str(&mut self, s: &str) {
        // Strings longer than 4 GiB cannot occur in a commit we could load anyway.
        let bytes = &s.as_bytes()[..s.len().min(u32::MAX as usize)];
        self.len(bytes.len());
        self.0.extend_from_slice(bytes);
    }
    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
            None => self.0.push(0),
        }
    }
    fn ident(&mut self, i: &RawIdent) {
        self.str(&i.name);
        self.str(&i.email);
    }
    fn identity(&mut self, i: &Identity) {
        self.opt_str(&i.name);
        self.opt_str(&i.email);
        self.opt_str(&i.login);
    }
    fn commit(&mut self, c: &CommitFacts) {
        self.str(&c.id);
        self.ident(&c.author);
        self.ident(&c.committer);
        self.u64(c.commit_time as u64);
        self.0.push(u8::from(c.signed) | (u8::from(c.merge) << 1));
        self.str(&c.subject);
        self.str(&c.body);
        self.len(c.trailers.len());
        for (k, v) in &c.trailers {
            self.str(k);
            self.str(v);
        }
        match &c.review {
            Some((n, source, reviewers)) => {
                self.0.push(1);
                self.u64(*n);
                self.str(source.as_str());
                self.len(reviewers.len());
                for r in reviewers {
                    self.identity(r);
                }
            }
            None => self.0.push(0),
        }
    }
    fn change(&mut self, c: &ChangeFacts) {
        self.commit(&c.head);
        self.len(c.parents.len());
        for p in &c.parents {
            self.str(p);
        }
        self.len(c.brought_in.len());
        for b in &c.brought_in {
            self.commit(b);
        }
        self.len(c.topic_line.len());
        for &i in &c.topic_line {
            self.u32(i);
        }
        self.len(c.stale_reviews.len());
        for id in &c.stale_reviews {
            self.str(id);
        }
        self.len(c.changed_paths.len());
        for (p, s) in &c.changed_paths {
            self.str(p);
            self.0.push(match s {
                PathStatus::Added => 0,
                PathStatus::Modified => 1,
                PathStatus::Deleted => 2,
                PathStatus::Renamed => 3,
            });
        }
        self.len(c.added_lines.len());
        for (p, lines) in &c.added_lines {
            self.str(p);
            self.len(lines.len());
            for l in lines {
                self.str(l);
            }
        }
    }
}

pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ByteReader { buf, pos: 0 }
    }
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(crate) fn len(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        // Every element takes at least one byte: reject absurd counts before allocating.
        (n <= self.buf.len() - self.pos).then_some(n)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        Some(std::str::from_utf8(self.take(n)?).ok()?.to_string())
    }
    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
    fn ident(&mut self) -> Option<RawIdent> {
        Some(RawIdent { name: self.str()?, email: self.str()? })
    }
    fn identity(&mut self) -> Option<Identity> {
        Some(Identity { name: self.opt_str()?, email: self.opt_str()?, login: self.opt_str()? })
    }
    fn commit(&mut self) -> Option<CommitFacts> {
        let id = self.str()?;
        let author = self.ident()?;
        let committer = self.ident()?;
        let commit_time = self.u64()? as i64;
        let flags = self.u8()?;
        if flags > 3 {
            return None;
        }
        let (signed, merge) = (flags & 1 != 0, flags & 2 != 0);
        let subject = self.str()?;
        let body = self.str()?;
        let n = self.len()?;
        let mut trailers = Vec::with_capacity(n);
        for _ in 0..n {
            trailers.push((self.str()?, self.str()?));
        }
        let review = match self.u8()? {
            0 => None,
            1 => {
                let number = self.u64()?;
                let source = ReviewSource::parse(&self.str()?)?;
                let n = self.len()?;
                let mut reviewers = Vec::with_capacity(n);
                for _ in 0..n {
                    reviewers.push(self.identity()?);
                }
                Some((number, source, reviewers))
            }
            _ => return None,
        };
        Some(CommitFacts { id, author, committer, commit_time, signed, merge, subject, body, trailers, review })
    }
    fn change(&mut self) -> Option<ChangeFacts> {
        let head = self.commit()?;
        let n = self.len()?;
        let mut parents = Vec::with_capacity(n);
        for _ in 0..n {
            parents.push(self.str()?);
        }
        let n = self.len()?;
        let mut brought_in = Vec::with_capacity(n);
        for _ in 0..n {
            brought_in.push(self.commit()?);
        }
        let n = self.len()?;
        let mut topic_line = Vec::with_capacity(n);
        for _ in 0..n {
            let i = self.u32()?;
            if i as usize >= brought_in.len() {
                return None;
            }
            topic_line.push(i);
        }
        let n = self.len()?;
        let mut stale_reviews = Vec::with_capacity(n);
        for _ in 0..n {
            stale_reviews.push(self.str()?);
        }
        let n = self.len()?;
        let mut changed_paths = Vec::with_capacity(n);
        for _ in 0..n {
            let p = self.str()?;
            let s = match self.u8()? {
                0 => PathStatus::Added,
                1 => PathStatus::Modified,
                2 => PathStatus::Deleted,
                3 => PathStatus::Renamed,
                _ => return None,
            };
            changed_paths.push((p, s));
        }
        let n = self.len()?;
        let mut added_lines = Vec::with_capacity(n);
        for _ in 0..n {
            let p = self.str()?;
            let m = self.len()?;
            let mut lines = Vec::with_capacity(m);
            for _ in 0..m {
                lines.push(self.str()?);
            }
            added_lines.push((p, lines));
        }
        Some(ChangeFacts { head, parents, brought_in, topic_line, stale_reviews, changed_paths, added_lines })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChangeFacts {
        ChangeFacts {
            head: CommitFacts {
                id: "a".repeat(40),
                author: RawIdent { name: "A".into(), email: "a@x".into() },
                committer: RawIdent { name: "C".into(), email: "c@x".into() },
                commit_time: 1_700_000_000,
                signed: true,
                merge: true,
                subject: "Merge pull request #1 from o/b".into(),
                body: "body\n\\xff".into(),
                trailers: vec![("Reviewed-by".into(), "R <r@x>".into())],
                review: Some((
                    1,
                    ReviewSource::Bors,
                    vec![Identity { login: Some("alice".into()), ..Default::default() }],
                )),
            },
            parents: vec!["b".repeat(40), "c".repeat(40)],
            brought_in: vec![
                CommitFacts { id: "e".repeat(40), merge: true, ..Default::default() },
                CommitFacts { id: "c".repeat(40), ..Default::default() },
            ],
            topic_line: vec![1, 0],
            stale_reviews: vec!["e".repeat(40)],
            changed_paths: vec![("src/a.rs".into(), PathStatus::Modified), ("x".into(), PathStatus::Deleted)],
            added_lines: vec![("src/a.rs".into(), vec!["fn x() {}".into()])],
        }
    }

    #[test]
    fn round_trip_and_corruption_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = cache_path(dir.path());
        let facts = sample();
        let id = gix::ObjectId::from_hex(facts.head.id.as_bytes()).expect("id");
        Cache::disabled().store(&path, 7, &[id], std::slice::from_ref(&facts)).expect("store");
        let cache = Cache::load(&path, 7);
        assert_eq!(cache.state, CacheState::Loaded);
        assert_eq!(cache.get(&id), Some(facts.clone()));
        let link = cache.link(&id).expect("link");
        assert_eq!(link.time, facts.head.commit_time);
        assert_eq!(link.first_parent.map(|p| p.to_string()), Some("b".repeat(40)));

        // Rewriting copies old entries and adds new ones.
        let mut other = sample();
        other.head.id = "d".repeat(40);
        let other_id = gix::ObjectId::from_hex(other.head.id.as_bytes()).expect("id");
        cache.store(&path, 7, &[other_id], std::slice::from_ref(&other)).expect("store");
        let cache = Cache::load(&path, 7);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&id), Some(facts));
        assert_eq!(cache.get(&other_id), Some(other));

        // Other options: discarded.
        assert_eq!(Cache::load(&path, 8).state, CacheState::Discarded);

        // Flip one byte in the middle: discarded, not a panic.
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(Cache::load(&path, 7).state, CacheState::Discarded);

        // Truncated: discarded.
        std::fs::write(&path, &bytes[..10]).expect("write");
        assert_eq!(Cache::load(&path, 7).state, CacheState::Discarded);

        assert_eq!(Cache::load(&dir.path().join("nope"), 7).state, CacheState::Missing);
    }
}
