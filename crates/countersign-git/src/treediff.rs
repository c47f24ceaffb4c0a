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
        let nul = space + 1 + memchr(0, &self.data[space + 1..]).ok_or(())?;
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

/// Entry names are short: a plain loop beats a vectorised search's setup cost (measured).
fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// The length of the raw entry at the start of `data`.
fn entry_len(data: &[u8], hash_len: usize) -> Option<usize> {
    let nul = memchr(0, data)?;
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

pub(crate) struct TreeDiff<'s, S: TreeSource> {
    source: &'s S,
    hash_kind: gix::hash::Kind,
    path: Vec<u8>,
    /// Buffers for subtrees, one pair per depth, reused across diffs.
    pool: Vec<Vec<u8>>,
    pub out: Vec<Changed>,
}

impl<'s, S: TreeSource> TreeDiff<'s, S> {
    pub fn new(source: &'s S, hash_kind: gix::hash::Kind) -> Self {
        TreeDiff { source, hash_kind, path: Vec::new(), pool: Vec::new(), out: Vec::new() }
    }

    fn oid(&self, bytes: &[u8]) -> ObjectId {
        // Cannot panic: `Entries` cuts every id to exactly the hash length.
        ObjectId::from_bytes_or_panic(bytes)
    }

    /// Diff two raw trees (either may be empty data for "no tree").
    pub fn diff(&mut self, old: &[u8], new: &[u8]) -> Result<(), crate::GitError> {
        self.path.clear();
        self.diff_level(old, new)
    }

    fn take_buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    fn push_name(&mut self, name: &[u8]) -> usize {
        let len = self.path.len();
        if len > 0 {
            self.path.push(b'/');
        }
        self.path.extend_from_slice(name);
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
                let (mut old_buf, mut new_buf) = (self.take_buf(), self.take_buf());
                let loaded = self
                    .source
                    .load_tree(&self.oid(a.id), &mut old_buf)
                    .and_then(|()| self.source.load_tree(&self.oid(b.id), &mut new_buf));
                let result = loaded.and_then(|()| self.diff_level(&old_buf, &new_buf));
                self.pool.push(old_buf);
                self.pool.push(new_buf);
                result
            }
        } else {
            self.out.push(Changed {
                path: self.path.clone(),
                status: PathStatus::Modified,
                old: Some(self.oid(a.id)),
                new: Some(self.oid(b.id)),
                is_blob: b.is_blob(),
            });
            Ok(())
        };
        self.path.truncate(len);
        result
    }

    /// An entry only on one side: a file, or every file under a directory.
    fn one_side(&mut self, e: Entry<'_>, status: PathStatus) -> Result<(), crate::GitError> {
        let len = self.push_name(e.name);
        let result = if e.is_tree() {
            let mut buf = self.take_buf();
            let result = self.source.load_tree(&self.oid(e.id), &mut buf).and_then(|()| {
                if status == PathStatus::Added { self.diff_level(&[], &buf) } else { self.diff_level(&buf, &[]) }
            });
            self.pool.push(buf);
            result
        } else {
            let id = self.oid(e.id);
            let (old, new) = if status == PathStatus::Added { (None, Some(id)) } else { (Some(id), None) };
            self.out.push(Changed { path: self.path.clone(), status, old, new, is_blob: e.is_blob() });
            Ok(())
        };
        self.path.truncate(len);
        result
    }
}

/// The entry at `path` (`/`-separated, as the diff reports it) below the tree `root`: its
/// mode and id, or `None` when there is no such entry. `buf` is scratch space.
pub(crate) fn lookup<S: TreeSource>(
    source: &S,
    root: &gix::oid,
    path: &[u8],
    buf: &mut Vec<u8>,
) -> Result<Option<(Vec<u8>, ObjectId)>, crate::GitError> {
    let hash_len = root.kind().len_in_bytes();
    let mut tree = root.to_owned();
    let mut components = path.split(|&b| b == b'/').peekable();
    while let Some(name) = components.next() {
        source.load_tree(&tree, buf)?;
        let mut entries = Entries { data: buf, hash_len };
        let found = loop {
            match entries.next_entry().map_err(|()| source.malformed(Some(&tree)))? {
                None => break None,
                Some(e) if e.name == name => {
                    break Some((e.mode.to_vec(), ObjectId::from_bytes_or_panic(e.id), e.is_tree()));
                }
                Some(_) => {}
            }
        };
        let Some((mode, id, is_tree)) = found else { return Ok(None) };
        if components.peek().is_none() {
            return Ok(Some((mode, id)));
        }
        if !is_tree {
            return Ok(None);
        }
        tree = id;
    }
    Ok(None)
}
