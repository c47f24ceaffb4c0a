//! Objects read straight from the repository's pack files, keeping every delta base met on
//! the way, as git's delta-base cache does.
//!
//! gix resolves a deltified object by inflating its whole delta chain down to the nearest
//! object in its cache, and then caches only the object asked for, never the bases it built
//! on the way. Trees in a real pack sit in long chains (git/git as fetched: depth 12 on
//! average), and the chains of successive versions of a directory share their lower links,
//! so reading a history of trees inflated the same bases again and again (profile in
//! BENCHMARKS.md, "One pass over the graph, and delta bases"). Here gix's pack index and
//! entry parser find the chain, the links are inflated from the deepest one not yet cached
//! upwards, each delta is applied straight to the cached base below it (no copy of the
//! base), and each result is kept: the next object on the same chain costs one delta.
//!
//! Objects not in a pack (loose objects, alternates, a pack written during the walk) are
//! left to the caller, which asks gix.

use std::collections::VecDeque;
use std::path::Path;

use gix::odb::pack::{self, data::entry::Header};

/// The pack files of one repository, opened once per walk and shared by its threads.
pub(crate) struct Packs {
    bundles: Vec<pack::Bundle>,
}

impl Packs {
    /// Open every `*.idx` (with its pack) under `objects/pack`. A pack that does not open is
    /// skipped: its objects are then read through gix, which reports what is wrong.
    pub fn open(objects_dir: &Path, hash: gix::hash::Kind) -> Packs {
        let mut paths: Vec<_> = std::fs::read_dir(objects_dir.join("pack"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "idx"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        let mut bundles: Vec<pack::Bundle> = paths.iter().filter_map(|p| pack::Bundle::at(p, hash).ok()).collect();
        // An object is looked up in each pack in turn: the largest first, so that a clone
        // with small packs fetched since (or an empty one) rarely costs a search that fails.
        bundles.sort_by_key(|b| std::cmp::Reverse(b.index.num_objects()));
        Packs { bundles }
    }

    /// No packs: every object is read through gix.
    pub fn none() -> Packs {
        Packs { bundles: Vec::new() }
    }
}

/// One thread's reader over [`Packs`]: its delta-base cache and its inflate state.
pub(crate) struct PackReader {
    cache: BaseCache,
    inflate: libdeflater::Decompressor,
    chain: Vec<pack::data::Entry>,
    /// One delta's instructions, inflated.
    delta: Vec<u8>,
}

impl PackReader {
    /// A reader whose delta-base cache holds at most `cache_bytes` of objects.
    pub fn new(cache_bytes: usize) -> PackReader {
        PackReader {
            cache: BaseCache::new(cache_bytes),
            inflate: libdeflater::Decompressor::new(),
            chain: Vec::new(),
            delta: Vec::new(),
        }
    }

    /// Decode object `id` into `out` when a pack has it: its kind, or `None` when no pack
    /// has it (or its delta chain leaves the pack), for the caller to ask gix.
    pub fn find(
        &mut self,
        packs: &Packs,
        id: &gix::oid,
        out: &mut Vec<u8>,
    ) -> Result<Option<gix::object::Kind>, String> {
        for (pack_id, bundle) in packs.bundles.iter().enumerate() {
            if let Some(index) = bundle.index.lookup(id) {
                let offset = bundle.index.pack_offset_at_index(index);
                return self.decode(pack_id as u32, bundle, offset, out);
            }
        }
        Ok(None)
    }

    fn decode(
        &mut self,
        pack_id: u32,
        bundle: &pack::Bundle,
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Result<Option<gix::object::Kind>, String> {
        let entry = bundle.pack.entry(offset).map_err(|e| e.to_string())?;
        if let Some(kind) = entry.header.as_kind() {
            inflate_entry(bundle, &entry, &mut self.inflate, out)?;
            return Ok(Some(kind));
        }
        // The links down to the first one cached, or to the chain's base object.
        self.chain.clear();
        let mut cursor = entry;
        let mut local: Option<(Vec<u8>, gix::object::Kind)> = None;
        loop {
            if self.cache.contains(pack_id, cursor.data_offset) {
                break;
            }
            let base_offset = match &cursor.header {
                Header::OfsDelta { base_distance } => match cursor.checked_base_pack_offset(*base_distance) {
                    Some(base) => base,
                    None => return Err(format!("a delta at offset {} points before the pack", cursor.data_offset)),
                },
                Header::RefDelta { base_id } => match bundle.index.lookup(base_id) {
                    Some(i) => bundle.index.pack_offset_at_index(i),
                    None => return Ok(None),
                },
                header => {
                    let kind = header.as_kind().expect("not a delta");
                    let mut data = Vec::new();
                    inflate_entry(bundle, &cursor, &mut self.inflate, &mut data)?;
                    local = Some((data, kind));
                    break;
                }
            };
            // A cycle or an absurd depth: let gix decide what it is.
            if self.chain.len() > 10_000 {
                return Ok(None);
            }
            let base = bundle.pack.entry(base_offset).map_err(|e| e.to_string())?;
            self.chain.push(std::mem::replace(&mut cursor, base));
        }
        // The base object of the chain is kept too: other chains share it.
        let mut below = match local {
            Some((data, kind)) => self.cache.keep(pack_id, cursor.data_offset, data, kind),
            None => Below::Cached(pack_id, cursor.data_offset),
        };
        // Each link from the deepest up: one delta applied to the one below, kept in turn.
        let mut chain = std::mem::take(&mut self.chain);
        for link in chain.drain(..).rev() {
            inflate_entry(bundle, &link, &mut self.inflate, &mut self.delta)?;
            let (base, kind) = self.cache.bytes(&below)?;
            let target = apply_delta(base, &self.delta).map_err(|e| {
                format!("the delta at offset {} of {}: {e}", link.data_offset, bundle.pack.path().display())
            })?;
            below = self.cache.keep(pack_id, link.data_offset, target, kind);
        }
        self.chain = chain;
        let (data, kind) = self.cache.bytes(&below)?;
        out.clear();
        out.extend_from_slice(data);
        Ok(Some(kind))
    }
}

/// Where the object just built lives: in the cache, or (too big for it) here.
enum Below {
    Cached(u32, u64),
    Local(Vec<u8>, gix::object::Kind),
}

/// Inflate one pack entry's data (an object, or a delta) into `out`.
///
/// With libdeflate, not gix's streaming inflater: an entry's inflated size is in its header,
/// so it is inflated in one call into a buffer of that size. Most entries are small (a
/// commit, a delta), and then building the Huffman tables is most of the work, which
/// libdeflate does in a fraction of the time (BENCHMARKS.md, "Inflating in one call").
fn inflate_entry(
    bundle: &pack::Bundle,
    entry: &pack::data::Entry,
    inflate: &mut libdeflater::Decompressor,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let size = usize::try_from(entry.decompressed_size).map_err(|_| "an entry too large for memory".to_string())?;
    out.clear();
    out.resize(size, 0);
    let entry_at = || format!("the entry at offset {} of {}", entry.data_offset, bundle.pack.path().display());
    // The stream ends where its last block says so; what follows it in the pack is ignored.
    let input = bundle
        .pack
        .entry_slice(entry.data_offset..bundle.pack.data_len() as u64)
        .filter(|input| !input.is_empty())
        .ok_or_else(|| format!("{} lies beyond the pack's end", entry_at()))?;
    match inflate.zlib_decompress(input, out) {
        Ok(n) if n == size => Ok(()),
        Ok(n) => Err(format!("{} inflates to {n} bytes, its header says {size}", entry_at())),
        Err(e) => Err(format!("{}: {e}", entry_at())),
    }
}

/// Apply a git delta (the format of `Documentation/gitformat-pack.txt`: the base's size and
/// the result's size as little-endian base-128 numbers, then instructions that either copy
/// a range of the base or insert literal bytes) to `base`.
fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, &'static str> {
    fn size(delta: &[u8], at: &mut usize) -> Result<usize, &'static str> {
        let mut value = 0usize;
        let mut shift = 0;
        loop {
            let byte = *delta.get(*at).ok_or("truncated size")?;
            *at += 1;
            value |= usize::from(byte & 0x7f).checked_shl(shift).ok_or("size too large")?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                return Err("size too large");
            }
        }
    }
    let mut at = 0;
    if size(delta, &mut at)? != base.len() {
        return Err("the base's size does not match");
    }
    let target_size = size(delta, &mut at)?;
    let mut target = Vec::with_capacity(target_size);
    while let Some(&op) = delta.get(at) {
        at += 1;
        if op & 0x80 != 0 {
            let mut field = |bits: u8, first: u32| -> Result<usize, &'static str> {
                let mut value = 0usize;
                for i in 0..bits {
                    if op & (1 << (first + u32::from(i))) != 0 {
                        value |= usize::from(*delta.get(at).ok_or("truncated copy")?) << (8 * i);
                        at += 1;
                    }
                }
                Ok(value)
            };
            let offset = field(4, 0)?;
            let len = match field(3, 4)? {
                0 => 0x10000,
                n => n,
            };
            let end = offset.checked_add(len).filter(|&e| e <= base.len()).ok_or("a copy beyond the base")?;
            target.extend_from_slice(&base[offset..end]);
        } else if op != 0 {
            let end = at + usize::from(op);
            target.extend_from_slice(delta.get(at..end).ok_or("truncated insert")?);
            at = end;
        } else {
            return Err("a reserved instruction");
        }
        if target.len() > target_size {
            return Err("the result is larger than announced");
        }
    }
    if target.len() != target_size {
        return Err("the result's size does not match");
    }
    Ok(target)
}

/// Decoded objects by (pack, data offset), evicted oldest first beyond a byte budget.
struct BaseCache {
    map: std::collections::HashMap<u64, (Vec<u8>, gix::object::Kind)>,
    order: VecDeque<u64>,
    bytes: usize,
    limit: usize,
}

impl BaseCache {
    fn new(limit: usize) -> BaseCache {
        BaseCache { map: Default::default(), order: VecDeque::new(), bytes: 0, limit }
    }

    fn key(pack_id: u32, offset: u64) -> u64 {
        // Pack offsets stay far below 2^48 (256 TiB).
        (u64::from(pack_id) << 48) | (offset & ((1 << 48) - 1))
    }

    fn contains(&self, pack_id: u32, offset: u64) -> bool {
        self.map.contains_key(&Self::key(pack_id, offset))
    }

    /// The object `below` names, wherever it lives.
    fn bytes<'a>(&'a self, below: &'a Below) -> Result<(&'a [u8], gix::object::Kind), String> {
        match below {
            Below::Cached(pack_id, offset) => match self.map.get(&Self::key(*pack_id, *offset)) {
                Some((data, kind)) => Ok((data.as_slice(), *kind)),
                None => Err(format!("the object at offset {offset} left the delta-base cache")),
            },
            Below::Local(data, kind) => Ok((data.as_slice(), *kind)),
        }
    }

    /// Keep `data` (no copy) when it fits the budget, evicting the oldest entries.
    fn keep(&mut self, pack_id: u32, offset: u64, data: Vec<u8>, kind: gix::object::Kind) -> Below {
        if data.len() > self.limit / 4 {
            return Below::Local(data, kind);
        }
        let key = Self::key(pack_id, offset);
        if self.map.contains_key(&key) {
            return Below::Cached(pack_id, offset);
        }
        while self.bytes + data.len() > self.limit {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((bytes, _)) = self.map.remove(&old) {
                self.bytes -= bytes.len();
            }
        }
        self.bytes += data.len();
        self.map.insert(key, (data, kind));
        self.order.push_back(key);
        Below::Cached(pack_id, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        crate::read::tests::git(dir, args, 0)
    }

    /// Deltas in git's format, good and bad: a bad one is an error, never a panic.
    #[test]
    fn deltas_apply_or_fail_cleanly() {
        let base = b"hello, world";
        // Base size 12, result 10: copy 7 bytes from offset 0, insert "you"; the offset
        // byte may be given (0x01) or left out.
        assert_eq!(apply_delta(base, &[12, 10, 0x80 | 0x10 | 0x01, 0, 7, 3, b'y', b'o', b'u']).unwrap(), b"hello, you");
        assert_eq!(apply_delta(base, &[12, 10, 0x80 | 0x10, 7, 3, b'y', b'o', b'u']).unwrap(), b"hello, you");
        // Copy "world" (offset 7, 5 bytes).
        assert_eq!(apply_delta(base, &[12, 5, 0x80 | 0x10 | 0x01, 7, 5]).unwrap(), b"world");
        for (delta, why) in [
            (&[11u8, 10][..], "wrong base size"),
            (&[12, 3, 0x80 | 0x10, 20], "copy beyond the base"),
            (&[12, 3, 0x80 | 0x01 | 0x10, 10, 5], "copy beyond the base at an offset"),
            (&[12, 3, 0], "reserved instruction"),
            (&[12, 3, 5, b'a'], "truncated insert"),
            (&[12, 3, 0x80 | 0x10], "truncated copy"),
            (&[12, 2, 3, b'a', b'b', b'c'], "longer than announced"),
            (&[12, 4, 3, b'a', b'b', b'c'], "shorter than announced"),
            (&[12], "no result size"),
            (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], "a size too large"),
        ] {
            assert!(apply_delta(base, delta).is_err(), "{why}");
        }
    }

    /// Every object of a pack with deep delta chains decodes to the bytes gix gives, with
    /// a cache big enough for everything, one that keeps evicting, and none at all; an
    /// object outside the packs (loose) is left to gix.
    #[test]
    fn pack_objects_decode_as_gix_decodes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(d.join("src/deep")).expect("mkdir");
        let mut text = String::new();
        for i in 0..60 {
            text.push_str(&format!("line {i}: {}\n", "x".repeat(i % 7 * 10)));
            std::fs::write(d.join("src/deep/file.txt"), &text).expect("write");
            std::fs::write(d.join(format!("src/f{}.txt", i % 9)), format!("{i}\n{text}")).expect("write");
            git(d, &["add", "-A"]);
            git(d, &["commit", "-q", "-m", &format!("c{i}")]);
        }
        git(d, &["repack", "-adfq", "--depth=50", "--window=50"]);
        let listing = git(d, &["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(deltabase)"]);
        // One more commit, loose.
        std::fs::write(d.join("loose.txt"), "loose\n").expect("write");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "loose"]);
        let loose = git(d, &["rev-parse", "HEAD", "HEAD^{tree}", "HEAD:loose.txt"]);

        let repo = gix::open(d).expect("open");
        let packs = Packs::open(&d.join(".git/objects"), gix::hash::Kind::Sha1);
        assert_eq!(packs.bundles.len(), 1);
        let zero = "0".repeat(40);
        let objects: Vec<(gix::ObjectId, bool)> = listing
            .lines()
            .map(|l| {
                let (id, base) = l.split_once(' ').expect("two fields");
                (gix::ObjectId::from_hex(id.as_bytes()).expect("id"), base != zero)
            })
            .collect();
        assert!(objects.iter().filter(|(_, delta)| *delta).count() > 50, "the pack has deltas");
        for cache in [64 << 20, 2048, 0] {
            let mut reader = PackReader::new(cache);
            let mut out = Vec::new();
            for (id, _) in &objects {
                let want = repo.find_object(*id).expect("gix finds it");
                let kind = reader.find(&packs, id, &mut out).expect("decodes");
                assert_eq!(kind, Some(want.kind), "{id}: kind (cache {cache})");
                assert_eq!(out, want.data, "{id}: bytes (cache {cache})");
            }
            for id in loose.lines() {
                let id = gix::ObjectId::from_hex(id.as_bytes()).expect("id");
                assert_eq!(reader.find(&packs, &id, &mut out).expect("no error"), None, "{id} is loose");
            }
        }
        // The loose objects packed on their own: two packs, the larger searched first, and
        // every object of both found.
        git(d, &["repack", "-q"]);
        let packs = Packs::open(&d.join(".git/objects"), gix::hash::Kind::Sha1);
        let counts: Vec<u32> = packs.bundles.iter().map(|b| b.index.num_objects()).collect();
        assert_eq!(counts.len(), 2, "{counts:?}");
        assert!(counts[0] > counts[1], "the larger pack first: {counts:?}");
        let mut reader = PackReader::new(1 << 20);
        let mut out = Vec::new();
        let loose = loose.lines().map(|id| gix::ObjectId::from_hex(id.as_bytes()).expect("id"));
        for id in loose.chain(objects.iter().map(|(id, _)| *id)) {
            let want = repo.find_object(id).expect("gix finds it");
            assert_eq!(reader.find(&packs, &id, &mut out).expect("decodes"), Some(want.kind), "{id}: kind");
            assert_eq!(out, want.data, "{id}: bytes");
        }
    }

    /// A pack entry whose compressed bytes were changed on disk is an error or, where the
    /// change happens to inflate to the same bytes, the right object: never other bytes,
    /// never a panic. (Every byte of one object's stream, in turn.)
    #[test]
    fn a_damaged_entry_is_an_error_never_other_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let text: String = (0..200).map(|i| format!("line {i} of a file that compresses\n")).collect();
        std::fs::write(d.join("file.txt"), &text).expect("write");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        git(d, &["repack", "-adq"]);
        let blob = gix::ObjectId::from_hex(git(d, &["rev-parse", "HEAD:file.txt"]).trim().as_bytes()).expect("id");
        let pack_dir = d.join(".git/objects/pack");
        let idx = std::fs::read_dir(&pack_dir)
            .expect("pack dir")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .expect("an index");
        let pack_path = idx.with_extension("pack");
        // `git verify-pack -v`: id, type, size, size in the pack, offset.
        let listing = git(d, &["verify-pack", "-v", idx.to_str().expect("utf-8 path")]);
        let (in_pack, offset) = listing
            .lines()
            .find(|l| l.starts_with(&blob.to_string()))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[3].parse::<usize>().expect("size"), f[4].parse::<usize>().expect("offset"))
            })
            .expect("the blob is in the pack");
        let original = std::fs::read(&pack_path).expect("read pack");
        let mut perms = std::fs::metadata(&pack_path).expect("meta").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&pack_path, perms).expect("chmod");
        // The entry's header is a few bytes; the rest is the zlib stream.
        let mut errors = 0;
        for at in offset + 2..offset + in_pack {
            let mut damaged = original.clone();
            damaged[at] ^= 0x5a;
            std::fs::write(&pack_path, &damaged).expect("write pack");
            let packs = Packs::open(&d.join(".git/objects"), gix::hash::Kind::Sha1);
            let mut out = Vec::new();
            match PackReader::new(1 << 20).find(&packs, &blob, &mut out) {
                Ok(Some(_)) => assert_eq!(out, text.as_bytes(), "byte {at} changed: the object or an error"),
                Ok(None) => panic!("byte {at} changed: the blob is still in the pack's index"),
                Err(e) => {
                    assert!(e.contains("offset"), "the error names where: {e}");
                    errors += 1;
                }
            }
        }
        assert!(errors > (in_pack - 2) / 2, "most damages are caught: {errors} of {}", in_pack - 2);
    }
}
