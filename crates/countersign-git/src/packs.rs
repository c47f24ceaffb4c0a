//! Objects read straight from the repository's pack files, keeping every delta base met on
//! the way, as git's delta-base cache does.
//!
//! gix resolves a deltified object by inflating its whole delta chain down to the nearest
//! object in its cache, and then caches only the object asked for, never the bases it built
//! on the way. Trees in a real pack sit in long chains (git/git as fetched: depth 12 on
//! average), and the chains of successive versions of a directory share their lower links,
//! so reading a history of trees inflated the same bases again and again (profile in
//! BENCHMARKS.md, "Delta bases"). Here the chain is followed link by link with gix's own
//! pack reader, from the deepest link not yet cached upwards, and each link is cached as
//! it is built: the next object on the same chain costs one delta.
//!
//! Objects not in a pack (loose objects, alternates, a pack written during the walk) are
//! left to the caller, which asks gix.

use std::collections::VecDeque;
use std::path::Path;

use gix::odb::pack::{self, cache::DecodeEntry, data::entry::Header};

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
        let bundles = paths.iter().filter_map(|p| pack::Bundle::at(p, hash).ok()).collect();
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
    inflate: gix::zlib::Inflate,
    chain: Vec<pack::data::Entry>,
}

impl PackReader {
    /// A reader whose delta-base cache holds at most `cache_bytes` of objects.
    pub fn new(cache_bytes: usize) -> PackReader {
        PackReader { cache: BaseCache::new(cache_bytes), inflate: Default::default(), chain: Vec::new() }
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
        let asked = entry.data_offset;
        if !entry.header.is_delta() {
            let outcome = bundle
                .pack
                .decode_entry(entry, out, &mut self.inflate, &|_, _| Ok(None), &mut pack::cache::Never)
                .map_err(|e| e.to_string())?;
            return Ok(Some(outcome.kind));
        }
        // The links down to the first one cached or not a delta.
        self.chain.clear();
        let mut cursor = entry;
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
                _ => {
                    // The chain's base object: decoded once, kept for the links above it.
                    let outcome = bundle
                        .pack
                        .decode_entry(cursor.clone(), out, &mut self.inflate, &|_, _| Ok(None), &mut pack::cache::Never)
                        .map_err(|e| e.to_string())?;
                    self.cache.put(pack_id, cursor.data_offset, out, outcome.kind, outcome.compressed_size);
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
        // Each link from the deepest up: its base is cached, so gix applies one delta, and it
        // caches the result (the base of the next link).
        let resolve = |base: &gix::oid, _: &mut Vec<u8>| {
            Ok(bundle
                .index
                .lookup(base)
                .and_then(|i| bundle.pack.entry(bundle.index.pack_offset_at_index(i)).ok())
                .map(pack::data::decode::entry::ResolvedBase::InPack))
        };
        let mut kind = None;
        let mut chain = std::mem::take(&mut self.chain);
        for link in chain.drain(..).rev() {
            let outcome = bundle
                .pack
                .decode_entry(link, out, &mut self.inflate, &resolve, &mut self.cache)
                .map_err(|e| e.to_string())?;
            kind = Some(outcome.kind);
        }
        self.chain = chain;
        match kind {
            Some(kind) => Ok(Some(kind)),
            // The object asked for was itself in the cache.
            None => Ok(self.cache.get(pack_id, asked, out).map(|(kind, _)| kind)),
        }
    }
}

/// Decoded objects by (pack, data offset), evicted oldest first beyond a byte budget.
struct BaseCache {
    map: std::collections::HashMap<u64, (Vec<u8>, gix::object::Kind, usize)>,
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
}

impl DecodeEntry for BaseCache {
    fn put(&mut self, pack_id: u32, offset: u64, data: &[u8], kind: gix::object::Kind, compressed_size: usize) {
        if data.len() > self.limit / 4 {
            return;
        }
        let key = Self::key(pack_id, offset);
        if self.map.contains_key(&key) {
            return;
        }
        while self.bytes + data.len() > self.limit {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((bytes, _, _)) = self.map.remove(&old) {
                self.bytes -= bytes.len();
            }
        }
        self.bytes += data.len();
        self.map.insert(key, (data.to_vec(), kind, compressed_size));
        self.order.push_back(key);
    }

    fn get(&mut self, pack_id: u32, offset: u64, out: &mut Vec<u8>) -> Option<(gix::object::Kind, usize)> {
        let (bytes, kind, compressed_size) = self.map.get(&Self::key(pack_id, offset))?;
        out.clear();
        out.extend_from_slice(bytes);
        Some((*kind, *compressed_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "C")
            .env("GIT_COMMITTER_EMAIL", "c@example.com")
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
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
    }
}
