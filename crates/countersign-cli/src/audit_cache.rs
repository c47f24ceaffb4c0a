//! The audit's snapshot: the judged changes of the last `audit --format json`, kept so that
//! the next audit of the same branch judges only what is new (issue 8's warm re-audit).
//!
//! It lives next to the facts cache (`<git dir>/countersign/audit-v1.idx` and `.data`) and holds, for
//! each change of the last report in report order, what the change adds to the summary
//! ([`Tally`]) and its evaluation exactly as the report printed it (pretty JSON, indented
//! for its place in the `changes` array). A later audit uses it only when every input of
//! those evaluations is unchanged, which [`Context`] gathers into one key:
//!
//! - the policy in force (after CODEOWNERS and recorded exceptions are added), compared as
//!   the whole validated model, and the policy file's path;
//! - the walk's options (branch, date window) and the `.mailmap`;
//! - the evidence store (its URL and the repository's name) and its log: the same number of
//!   entries and the same latest checkpoint, or entries since that judging never reads or
//!   that name the changes to judge again (see `audit::log_growth`), and the same links
//!   between changes and their records;
//! - the binary itself (its size and modification time), so that a new build judges again;
//! - the clock only moves forward, and no kept evaluation can change with it
//!   ([`Evaluation::time_sensitive`]; emergencies are never kept).
//!
//! The branch must still hold the snapshot's tip on its first-parent chain, and what is new
//! must not reach back (see [`countersign_judge::judge_walk_after`]). Otherwise the whole
//! history is judged again and the snapshot replaced. Anything unexpected in the files
//! (magic, generation, offsets, framing) makes it count as absent. A re-audit appends its
//! new records to the data file and rewrites the small index (temporary file, renamed into
//! place); a fresh judgement writes a new data file with a new generation first. Writers
//! take a lock on the data file. `--no-cache` neither reads nor writes either.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use countersign_engine::report::Evaluation;
use countersign_engine::summary::Tally;

const MAGIC_INDEX: &[u8; 8] = b"CSAUDITI";
const MAGIC_DATA: &[u8; 8] = b"CSAUDITD";
/// Bump whenever the layout or the meaning of a kept record changes.
const FORMAT_VERSION: u32 = 2;
/// Where a change's JSON starts inside the report's `changes` array.
const INDENT: &[u8] = b"    ";
/// The data file's header: its magic, then its generation.
const DATA_HEADER: usize = MAGIC_DATA.len() + GENERATION_LEN;
const GENERATION_LEN: usize = 16;

/// Everything the kept evaluations were judged from, apart from the git history itself.
pub struct Context {
    /// SHA-256 of the inputs that have no natural order (policy, options, store, binary).
    pub key: String,
    /// The evidence log as the judgement saw it: its size and latest checkpoint.
    pub log: LogHead,
    pub as_of: jiff::Timestamp,
}

/// The inputs of a judgement that the judgement itself does not move (the binary, the
/// policy, the options), written out once: [`Context::new`] adds the store's state.
pub struct Inputs(String);

impl Inputs {
    /// `parts` are the inputs, each written out in full.
    pub fn new(parts: &[&str]) -> Self {
        let mut text = format!("countersign audit snapshot {FORMAT_VERSION} {}\n", env!("CARGO_PKG_VERSION"));
        // A rebuilt binary may judge otherwise: its size and time are part of the key.
        if let Some(meta) = std::env::current_exe().ok().and_then(|exe| std::fs::metadata(exe).ok()) {
            let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            text.push_str(&format!("binary {} {:?}\n", meta.len(), modified));
        }
        for part in parts {
            text.push_str(&format!("{}\n{part}\n", part.len()));
        }
        Inputs(text)
    }
}

impl Context {
    /// The key of a judgement from its fixed `inputs` and the store's `links` (written out
    /// in full), with its log and clock beside.
    pub fn new(inputs: &Inputs, links: &str, log: LogHead, as_of: jiff::Timestamp) -> Self {
        let text = format!("{}{}\n{links}\n", inputs.0, links.len());
        Context { key: countersign_store::evidence::sha256_hex(text.as_bytes()), log, as_of }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    /// Names the data file these records are in (a data file rewritten since does not
    /// match).
    generation: String,
    key: String,
    /// The branch's tip when it was judged.
    tip: String,
    as_of: jiff::Timestamp,
    log: LogHead,
    /// The first `git_changes` records are the branch's changes, newest first; the rest are
    /// console changes.
    git_changes: usize,
    /// The distinct tallies (a long history has few).
    tallies: Vec<Tally>,
    /// How many records follow the header.
    records: usize,
}

/// The index file: [`MAGIC_INDEX`], the [`Header`]'s JSON and its length (u32, little
/// endian) before it, then each record in report order, binary, and [`INDEX_END`]. A record
/// is its tally's index (u32), where its JSON starts in the data file (u64) and its length
/// (u32), then its change id's length (u16) and the id. Binary because a long history has
/// tens of thousands of records, and this file is read and written on every re-audit.
const INDEX_END: &[u8; 8] = b"CSAUDEND";
const RECORD_FIXED: usize = 4 + 8 + 4 + 2;

/// One judged change, as the report prints it.
pub struct Record<'a> {
    /// The change's id.
    pub id: Cow<'a, str>,
    pub tally: Cow<'a, Tally>,
    /// The evaluation's pretty JSON, indented for the `changes` array.
    pub json: Cow<'a, [u8]>,
    /// Where the JSON is in the snapshot's data file, for a kept record.
    at: Option<u64>,
}

impl Record<'static> {
    /// The record of `e`, its JSON written through `scratch` (kept between calls, so that
    /// it grows once rather than for every record; the record holds an exact-size copy).
    pub fn of(e: &Evaluation, scratch: &mut Vec<u8>) -> anyhow::Result<Self> {
        /// The evaluation two levels down, where the report's `changes` array holds it:
        /// serde_json indents it as the report needs ([`INDENT`] before every line), and
        /// the lines of the wrapper around it are cut off.
        #[derive(Serialize)]
        struct Nested<'e> {
            x: [&'e Evaluation; 1],
        }
        const HEAD: &[u8] = b"{\n  \"x\": [\n";
        const TAIL: &[u8] = b"\n  ]\n}";
        scratch.clear();
        serde_json::to_writer_pretty(&mut *scratch, &Nested { x: [e] })?;
        let json = scratch
            .strip_prefix(HEAD)
            .and_then(|j| j.strip_suffix(TAIL))
            .ok_or_else(|| anyhow::anyhow!("internal error: an evaluation's JSON is not where it was put"))?;
        Ok(Record {
            id: Cow::Owned(e.change.id.clone()),
            tally: Cow::Owned(Tally::of(e)),
            json: Cow::Owned(json.to_vec()),
            at: None,
        })
    }
}

/// A usable snapshot: the tip it ends at and its records.
pub struct Snapshot {
    pub tip: String,
    pub git_changes: usize,
    generation: String,
    tallies: Vec<Tally>,
    data: memmap2::Mmap,
    /// The index file, which holds the records' change ids.
    index: Vec<u8>,
    /// Each record's change id (where it is in `index`, checked to be UTF-8), tally (an
    /// index into `tallies`) and where its JSON is in `data`.
    records: Vec<(std::ops::Range<usize>, usize, std::ops::Range<usize>)>,
    /// The record ids that evidence logged since names: the caller judges their changes
    /// again.
    pub named_since: std::collections::BTreeSet<String>,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The kept changes' ids, in report order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.records.iter().map(|(id, _, _)| self.id(id))
    }

    /// A record's change id (checked to be UTF-8 when the index was loaded).
    fn id(&self, at: &std::ops::Range<usize>) -> &str {
        std::str::from_utf8(&self.index[at.clone()]).unwrap_or_default()
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.records.iter().map(|(id, tally, json)| Record {
            id: Cow::Borrowed(self.id(id)),
            tally: Cow::Borrowed(&self.tallies[*tally]),
            json: Cow::Borrowed(&self.data[json.clone()]),
            at: Some(json.start as u64),
        })
    }
}

/// Where an audit of `repo` keeps its snapshot: the index, rewritten whole each time; the
/// data file beside it (`.data`), to which a re-audit only appends.
pub fn path(repo: &countersign_git::Repository) -> PathBuf {
    repo.cache_file().with_file_name("audit-v1.idx")
}

fn data_path(path: &Path) -> PathBuf {
    path.with_extension("data")
}

/// The evidence log as a snapshot saw it: its size and latest checkpoint.
pub type LogHead = Option<(u64, Option<String>)>;

/// The snapshot at `path` when it was taken in `cx` (same key, no later clock) and its log
/// is the log now, or one that `grown` accepts: it gives the record ids that the entries
/// logged since name (`Snapshot::named_since`). `None` when there is none or it does not
/// fit.
pub fn load(
    path: &Path,
    cx: &Context,
    grown: impl Fn(&LogHead) -> Option<std::collections::BTreeSet<String>>,
) -> Option<Snapshot> {
    let index = std::fs::read(path).ok()?;
    let rest = index.strip_prefix(MAGIC_INDEX.as_slice())?;
    let header_len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let header: Header = serde_json::from_slice(rest.get(4..4 + header_len)?).ok()?;
    if header.key != cx.key || header.as_of > cx.as_of {
        return None;
    }
    if header.git_changes > header.records || header.generation.len() != GENERATION_LEN {
        return None;
    }
    let data = map(&data_path(path))?;
    if data.get(..MAGIC_DATA.len())? != MAGIC_DATA
        || data.get(MAGIC_DATA.len()..DATA_HEADER)? != header.generation.as_bytes()
    {
        return None;
    }
    let mut at = MAGIC_INDEX.len() + 4 + header_len;
    let mut records = Vec::with_capacity(header.records.min(index.len() / RECORD_FIXED));
    for _ in 0..header.records {
        let fixed = index.get(at..at + RECORD_FIXED)?;
        let tally = u32::from_le_bytes(fixed[..4].try_into().ok()?) as usize;
        let start = u64::from_le_bytes(fixed[4..12].try_into().ok()?);
        let len = u32::from_le_bytes(fixed[12..16].try_into().ok()?) as usize;
        let id_len = u16::from_le_bytes(fixed[16..18].try_into().ok()?) as usize;
        let id = at + RECORD_FIXED..at + RECORD_FIXED + id_len;
        std::str::from_utf8(index.get(id.clone())?).ok()?;
        at = id.end;
        let start = usize::try_from(start).ok().filter(|&start| start >= DATA_HEADER)?;
        let json = start..start.checked_add(len)?;
        if tally >= header.tallies.len() || len <= INDENT.len() || json.end > data.len() {
            return None;
        }
        records.push((id, tally, json));
    }
    if index.get(at..)? != INDEX_END {
        return None;
    }
    // The JSON itself is not read here (the report is written from the mapping, so that
    // its pages need not be touched): the framing of the first and the last record in the
    // file stands for the rest, which only this module writes, in between.
    let framed = |json: &std::ops::Range<usize>| {
        let bytes = &data[json.clone()];
        bytes.starts_with(INDENT) && bytes.get(INDENT.len()) == Some(&b'{') && bytes.last() == Some(&b'}')
    };
    let first = records.iter().min_by_key(|(_, _, json)| json.start);
    let last = records.iter().max_by_key(|(_, _, json)| json.end);
    if !first.into_iter().chain(last).all(|(_, _, json)| framed(json)) {
        return None;
    }
    // Last: reading a grown log proves it.
    let named_since = if header.log == cx.log { Default::default() } else { grown(&header.log)? };
    Some(Snapshot {
        tip: header.tip,
        git_changes: header.git_changes,
        generation: header.generation,
        tallies: header.tallies,
        data,
        index,
        records,
        named_since,
    })
}

/// The data file, mapped. Writers never change its bytes in place: they append, or write a
/// new file and rename it over this one (a mapping keeps the old file), so what the index
/// names stays as it was read.
fn map(path: &Path) -> Option<memmap2::Mmap> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: the mapping is read-only and the file is only ever appended to or replaced by
    // a rename (see `store`); only a process outside countersign truncating it could pull
    // pages from under the mapping.
    unsafe { memmap2::Mmap::map(&file) }.ok()
}

/// Keep `records` (the first `git_changes` from the branch, ending at `tip`) for the next
/// audit in `cx`. When `earlier` is the snapshot the kept records came from, only the new
/// records are appended to its data file; otherwise both files are replaced.
pub fn store(
    path: &Path,
    cx: &Context,
    tip: &str,
    git_changes: usize,
    records: &[Record<'_>],
    earlier: Option<&Snapshot>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let data = data_path(path);
    // One writer at a time: the lock is on the data file (created if need be).
    let lock = std::fs::OpenOptions::new().create(true).read(true).append(true).open(&data)?;
    lock.lock()?;
    let mut header = [0u8; DATA_HEADER];
    let appendable = earlier.is_some_and(|earlier| {
        use std::io::Read as _;
        let mut file = &lock;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).is_ok()
            && file.read_exact(&mut header).is_ok()
            && header[..MAGIC_DATA.len()] == *MAGIC_DATA
            && header[MAGIC_DATA.len()..] == *earlier.generation.as_bytes()
    });
    let (generation, offsets) = match (appendable, earlier) {
        (true, Some(earlier)) => {
            let mut end = lock.metadata()?.len();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, &lock);
            let mut offsets = Vec::with_capacity(records.len());
            for r in records {
                offsets.push(match r.at {
                    Some(at) => at,
                    None => {
                        out.write_all(&r.json)?;
                        end += r.json.len() as u64;
                        end - r.json.len() as u64
                    }
                });
            }
            out.flush()?;
            (earlier.generation.clone(), offsets)
        }
        _ => {
            let generation = new_generation(tip);
            let tmp = data.with_extension(format!("data.tmp{}", std::process::id()));
            let written = (|| -> std::io::Result<Vec<u64>> {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
                out.write_all(MAGIC_DATA)?;
                out.write_all(generation.as_bytes())?;
                let mut end = DATA_HEADER as u64;
                let mut offsets = Vec::with_capacity(records.len());
                for r in records {
                    out.write_all(&r.json)?;
                    offsets.push(end);
                    end += r.json.len() as u64;
                }
                // No fsync: after a crash a file is whole, empty or absent, and the last two
                // only cost the next audit a full judgement.
                out.into_inner().map_err(|e| e.into_error())?;
                std::fs::rename(&tmp, &data)?;
                Ok(offsets)
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            (generation, written?)
        }
    };
    let mut tallies: Vec<Tally> = Vec::new();
    let mut seen: HashMap<&Tally, u32> = HashMap::new();
    let mut body = Vec::with_capacity(records.len() * (RECORD_FIXED + 48) + INDEX_END.len());
    for (r, at) in records.iter().zip(offsets) {
        let tally = *seen.entry(&r.tally).or_insert_with(|| {
            tallies.push(r.tally.as_ref().clone());
            (tallies.len() - 1) as u32
        });
        let len = u32::try_from(r.json.len()).map_err(std::io::Error::other)?;
        let id_len = u16::try_from(r.id.len()).map_err(std::io::Error::other)?;
        body.extend_from_slice(&tally.to_le_bytes());
        body.extend_from_slice(&at.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&id_len.to_le_bytes());
        body.extend_from_slice(r.id.as_bytes());
    }
    body.extend_from_slice(INDEX_END);
    let header = serde_json::to_vec(&Header {
        generation,
        key: cx.key.clone(),
        tip: tip.to_owned(),
        as_of: cx.as_of,
        log: cx.log.clone(),
        git_changes,
        tallies,
        records: records.len(),
    })?;
    let header_len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("idx.tmp{}", std::process::id()));
    let written = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        out.write_all(MAGIC_INDEX)?;
        out.write_all(&header_len.to_le_bytes())?;
        out.write_all(&header)?;
        out.write_all(&body)?;
        out.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A name for a newly written data file, unique enough that an index never pairs with a data
/// file written after it (16 hex digits; from the process's random hash keys, no clock).
fn new_generation(tip: &str) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write(tip.as_bytes());
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Remove the snapshot (a judgement that cannot be kept makes the old one stale).
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(data_path(path));
}

/// Write `report` (serialized with an empty `changes` array, its last field) to standard
/// output with `shown` as that array: the bytes `serde_json::to_writer_pretty` gives for the
/// same report with those evaluations, and a newline. The report of a long history runs to
/// tens of megabytes and is never held whole: each change's JSON goes out from where it is
/// (the snapshot's mapping, for a kept one) in vectored writes, so it is not copied here.
pub fn write_report<T: Serialize>(report: &T, shown: &[&Record<'_>]) -> anyhow::Result<()> {
    use std::io::{IoSlice, Write as _};
    let head = serde_json::to_vec_pretty(report)?;
    let head = head
        .strip_suffix(b"[]\n}")
        .ok_or_else(|| anyhow::anyhow!("internal error: the report does not end with its changes"))?;
    let mut slices = Vec::with_capacity(2 * shown.len() + 3);
    slices.push(IoSlice::new(head));
    if shown.is_empty() {
        slices.push(IoSlice::new(b"[]"));
    } else {
        slices.push(IoSlice::new(b"[\n"));
        for (i, r) in shown.iter().enumerate() {
            if i > 0 {
                slices.push(IoSlice::new(b",\n"));
            }
            slices.push(IoSlice::new(&r.json));
        }
        slices.push(IoSlice::new(b"\n  ]"));
    }
    slices.push(IoSlice::new(b"\n}\n"));
    // Straight to the descriptor: stdout's own buffer would copy every byte.
    let mut stdout = std::io::stdout().lock();
    stdout.flush()?;
    let mut out = std::fs::File::from(std::os::fd::AsFd::as_fd(&stdout).try_clone_to_owned()?);
    write_all_vectored(&mut out, &mut slices)?;
    Ok(())
}

/// Write every byte of `slices`, as many at a time as the platform takes in one call.
fn write_all_vectored(out: &mut impl std::io::Write, mut slices: &mut [std::io::IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    /// A writer that takes at most `max` bytes of its first non-empty slice per call, as
    /// a pipe under pressure does.
    struct Trickle {
        got: Vec<u8>,
        max: usize,
    }

    impl std::io::Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.max);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn x03_vectored_writes_resume_where_a_short_write_stopped() {
        let parts: [&[u8]; 5] = [b"{\n", b"", b"    {\"a\": 1}", b",\n", b"    {\"b\": 2}\n}\n"];
        for max in [1, 3, 7, 64] {
            let mut out = Trickle { got: Vec::new(), max };
            let mut slices: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
            super::write_all_vectored(&mut out, &mut slices).expect("written");
            assert_eq!(out.got, parts.concat(), "in pieces of {max}");
        }
        let mut full = Trickle { got: Vec::new(), max: 0 };
        let mut slices = [IoSlice::new(b"x")];
        let err = super::write_all_vectored(&mut full, &mut slices).expect_err("a writer that takes nothing");
        assert_eq!(err.kind(), std::io::ErrorKind::WriteZero);
    }
}
