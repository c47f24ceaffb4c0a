//! Whole-table scans of SQLite for `log verify`, the proofs of the log and the links of every
//! registered change, read without sqlx's row delivery.
//!
//! sqlx runs each SQLite connection on a worker thread that copies every value of every
//! row and hands each row over a channel: on a 1,000,000-entry log that cost about as much
//! as SQLite's own reading (BENCHMARKS.md, "Log verification"). These scans instead take
//! the pooled connection's handle for the scan's duration and step one prepared statement
//! on the calling thread, borrowing each value and copying it once into the chunk it is
//! handed over in. One statement is one read snapshot, as before.
//!
//! The only `unsafe` is in [`crate::sqlite_ffi`].

use sqlx::sqlite::SqlitePool;
use tokio::sync::mpsc;

use crate::StoreError;
use crate::db::{ColumnsRef, EntryChunk, NodeChunk};
use countersign_log::merkle::{Hash, NodeId};

use crate::sqlite_ffi as ffi;
use ffi::{Row, Type, failed};

fn integer(row: &Row<'_>, col: i32, name: &str) -> Result<i64, String> {
    match row.kind(col) {
        Type::Integer => Ok(row.int64(col)),
        other => Err(format!("column {name} holds {other:?}, not an integer")),
    }
}

fn bytes<'s>(row: &Row<'s>, col: i32, name: &str) -> Result<&'s [u8], String> {
    match row.kind(col) {
        Type::Blob | Type::Text => Ok(row.bytes(col)),
        other => Err(format!("column {name} holds {other:?}, not bytes")),
    }
}

fn text<'s>(row: &Row<'s>, col: i32, name: &str) -> Result<Option<&'s str>, String> {
    match row.kind(col) {
        Type::Text => {
            std::str::from_utf8(row.bytes(col)).map(Some).map_err(|e| format!("column {name} is not UTF-8: {e}"))
        }
        Type::Null => Ok(None),
        other => Err(format!("column {name} holds {other:?}, not text")),
    }
}

fn required<'s>(row: &Row<'s>, col: i32, name: &str) -> Result<&'s str, String> {
    text(row, col, name)?.ok_or_else(|| format!("column {name} is NULL"))
}

/// Run `scan` with a pooled connection's handle locked, on this (blocking) thread.
fn with_handle<T>(
    runtime: &tokio::runtime::Handle,
    pool: &SqlitePool,
    context: &'static str,
    scan: impl FnOnce(&mut sqlx::sqlite::LockedSqliteHandle<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut conn = runtime.block_on(pool.acquire()).map_err(|source| StoreError::Database { context, source })?;
    let mut locked = runtime.block_on(conn.lock_handle()).map_err(|source| StoreError::Database { context, source })?;
    scan(&mut locked)
}

/// Entries `[from, to)` in index order, in chunks of `chunk`, into `out`; as
/// `db::sqlite::stream_entries`, on a blocking thread. Stops when `out` is closed.
pub(crate) fn stream_entries(
    runtime: &tokio::runtime::Handle,
    pool: &SqlitePool,
    from: u64,
    to: u64,
    chunk: usize,
    out: &mpsc::Sender<Result<EntryChunk, StoreError>>,
) {
    const CONTEXT: &str = "reading entries";
    let result = with_handle(runtime, pool, CONTEXT, |locked| {
        let mut stmt = ffi::Statement::prepare(
            ffi::Conn::of(locked),
            "SELECT idx, leaf_hash, envelope, kind, change_id, recorded_at, recorded_by FROM log_entries \
             WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )
        .map_err(|e| failed(CONTEXT, e))?;
        stmt.bind_i64(1, from.min(i64::MAX as u64) as i64).map_err(|e| failed(CONTEXT, e))?;
        stmt.bind_i64(2, to.min(i64::MAX as u64) as i64).map_err(|e| failed(CONTEXT, e))?;
        let mut current = EntryChunk::with_capacity(chunk);
        while let Some(row) = stmt.step().map_err(|e| failed(CONTEXT, e))? {
            let read = (|| {
                let index = integer(&row, 0, "idx")? as u64;
                let hash = bytes(&row, 1, "leaf_hash")?.try_into().ok();
                let envelope = bytes(&row, 2, "envelope")?;
                let columns = ColumnsRef {
                    kind: required(&row, 3, "kind")?,
                    change_id: text(&row, 4, "change_id")?,
                    recorded_at: required(&row, 5, "recorded_at")?,
                    recorded_by: required(&row, 6, "recorded_by")?,
                };
                Ok::<_, String>((index, hash, envelope, columns))
            })();
            let (index, hash, envelope, columns) = read.map_err(|e| failed(CONTEXT, e))?;
            current.push(index, hash, envelope, columns);
            if current.len() == chunk {
                let full = std::mem::replace(&mut current, EntryChunk::with_capacity(chunk));
                if out.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if current.len() > 0 {
            let _ = out.blocking_send(Ok(current));
        }
        Ok(())
    });
    if let Err(e) = result {
        let _ = out.blocking_send(Err(e));
    }
}

/// Stored tree nodes after `after` in completion order, in chunks, into `out`; as
/// `db::sqlite::stream_nodes`, on a blocking thread. Stops when `out` is closed.
///
/// The order is `db::postgres::stream_nodes`'s (`ORDER BY ((idx + 1) << level), level`),
/// but SQLite would sort the whole table before the first row: a quarter of a second
/// on a 1,000,000-entry log, with the verification waiting for it. Within one level the
/// primary key's order is already the completion order, so each level is read in
/// primary-key order and the levels are merged ([`merge_levels`]), in one read snapshot.
pub(crate) fn stream_nodes(
    runtime: &tokio::runtime::Handle,
    pool: &SqlitePool,
    after: (i64, i32),
    chunk: usize,
    out: &mpsc::Sender<Result<NodeChunk, StoreError>>,
) {
    const CONTEXT: &str = "reading tree nodes";
    let result = with_handle(runtime, pool, CONTEXT, |locked| {
        let conn = ffi::Conn::of(locked);
        // Every statement below reads the same snapshot; the transaction is rolled back
        // (it writes nothing) after they are finalized.
        conn.execute("BEGIN").map_err(|e| failed(CONTEXT, e))?;
        let mut current = Vec::with_capacity(chunk);
        let merged = merge_levels(conn, after, |node| {
            current.push(node);
            if current.len() < chunk {
                return true;
            }
            let full = std::mem::replace(&mut current, Vec::with_capacity(chunk));
            out.blocking_send(Ok(full)).is_ok()
        });
        let ended = conn.execute("ROLLBACK");
        merged.and(ended).map_err(|e| failed(CONTEXT, e))?;
        if !current.is_empty() {
            let _ = out.blocking_send(Ok(current));
        }
        Ok(())
    });
    if let Err(e) = result {
        let _ = out.blocking_send(Err(e));
    }
}

/// SQLite's `a << b` on integers (a negative `b` shifts right; 64 or more shifts every
/// bit out).
fn sqlite_shl(a: i64, b: i64) -> i64 {
    match b {
        0..=63 => ((a as u64) << b) as i64,
        64.. => 0,
        -63..=-1 => a >> -b,
        _ if a >= 0 => 0,
        _ => -1,
    }
}

/// A node's place in completion order, as SQLite computes `((idx + 1) << level), level`
/// (an `idx + 1` that overflows becomes a real, which shifts as the largest integer).
fn completion_key(level: i64, idx: i64) -> (i64, i64) {
    (sqlite_shl(idx.saturating_add(1), level), level)
}

/// The levels whose nodes are merged as streams; rows at other levels (none in a log this
/// crate wrote) are read whole and sorted.
const STREAMED_LEVELS: std::ops::RangeInclusive<i64> = 1..=62;

/// The stored tree nodes after `after`, in completion order, each to `emit` until it
/// returns false. In level `L` (1 to 62), every `idx` from 0 to `2^(63-L) - 2` completes
/// at `(idx + 1) << L` without overflow, increasing with `idx`: those rows are read as one
/// stream per level, in primary-key order, and merged. Any other row (another level, a
/// negative or huge `idx`, a value that is not an integer) can only come from an altered
/// database; those few are read at once, put in SQLite's order and merged as one more
/// stream, so that what is found, and where, is what the sorted query would give.
fn merge_levels(
    conn: ffi::Conn<'_>,
    after: (i64, i32),
    mut emit: impl FnMut((NodeId, Option<Hash>)) -> bool,
) -> Result<(), String> {
    use std::cmp::Reverse;
    type Head = ((i64, i64), i64, Option<Hash>);
    let after = (after.0, i64::from(after.1));
    let is_after = |key: (i64, i64)| key > after;
    let node = |row: &Row<'_>, col: i32| -> Result<(i64, Option<Hash>), String> {
        Ok((integer(row, col, "idx")?, bytes(row, col + 1, "hash")?.try_into().ok()))
    };

    // The streamed levels present: one seek each.
    let mut levels = Vec::new();
    let mut below = *STREAMED_LEVELS.start() - 1;
    loop {
        let mut next = ffi::Statement::prepare(
            conn,
            "SELECT level FROM tree_nodes WHERE level > ?1 AND level <= ?2 ORDER BY level LIMIT 1",
        )?;
        next.bind_i64(1, below)?;
        next.bind_i64(2, *STREAMED_LEVELS.end())?;
        let Some(row) = next.step()? else { break };
        below = integer(&row, 0, "level")?;
        levels.push(below);
    }

    // The other rows, in SQLite's order.
    let mut odd: Vec<Head> = Vec::new();
    let mut outside =
        ffi::Statement::prepare(conn, "SELECT level, idx, hash FROM tree_nodes WHERE level < ?1 OR level > ?2")?;
    outside.bind_i64(1, *STREAMED_LEVELS.start())?;
    outside.bind_i64(2, *STREAMED_LEVELS.end())?;
    while let Some(row) = outside.step()? {
        let level = integer(&row, 0, "level")?;
        i32::try_from(level).map_err(|_| "column level out of range".to_owned())?;
        let (idx, hash) = node(&row, 1)?;
        odd.push((completion_key(level, idx), idx, hash));
    }
    drop(outside);
    let last_idx = |level: i64| (1i64 << (63 - level)) - 2;
    for &level in &levels {
        let mut stray = ffi::Statement::prepare(
            conn,
            "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND (idx < 0 OR idx > ?2)",
        )?;
        stray.bind_i64(1, level)?;
        stray.bind_i64(2, last_idx(level))?;
        while let Some(row) = stray.step()? {
            let (idx, hash) = node(&row, 0)?;
            odd.push((completion_key(level, idx), idx, hash));
        }
    }
    odd.retain(|(key, _, _)| is_after(*key));
    odd.sort_by_key(|(key, _, _)| *key);
    let mut odd = odd.into_iter();

    // One stream per level, from the first row after `after`.
    let mut streams = Vec::with_capacity(levels.len());
    for &level in &levels {
        let unit = 1i128 << level;
        let first = match level > after.1 {
            // (idx + 1) << level >= after.0
            true => (i128::from(after.0) + unit - 1).div_euclid(unit) - 1,
            // (idx + 1) << level > after.0
            false => i128::from(after.0).div_euclid(unit),
        }
        .max(0);
        let mut stmt = ffi::Statement::prepare(
            conn,
            "SELECT idx, hash FROM tree_nodes WHERE level = ?1 AND idx >= ?2 AND idx <= ?3 ORDER BY idx",
        )?;
        stmt.bind_i64(1, level)?;
        stmt.bind_i64(2, i64::try_from(first).unwrap_or(i64::MAX))?;
        stmt.bind_i64(3, last_idx(level))?;
        streams.push((level, stmt));
    }
    let mut heads = std::collections::BinaryHeap::new();
    let mut advance = |source: usize, heads: &mut std::collections::BinaryHeap<Reverse<(Head, usize)>>| {
        let head = match streams.get_mut(source) {
            Some((level, stmt)) => match stmt.step()? {
                Some(row) => {
                    let (idx, hash) = node(&row, 0)?;
                    Some((completion_key(*level, idx), idx, hash))
                }
                None => None,
            },
            None => odd.next(),
        };
        if let Some(head) = head {
            heads.push(Reverse((head, source)));
        }
        Ok::<_, String>(())
    };
    let sources = levels.len() + 1;
    for source in 0..sources {
        advance(source, &mut heads)?;
    }
    while let Some(Reverse((((_, level), idx, hash), source))) = heads.pop() {
        let id = NodeId { level: level.clamp(0, 255) as u8, index: idx as u64 };
        if !emit((id, hash)) {
            return Ok(());
        }
        advance(source, &mut heads)?;
    }
    Ok(())
}

/// Every id a registered change is known by, mapped to its record's id: `db::CHANGE_IDS`
/// (as `db::sqlite::change_ids`), on this thread. An audit of a long history reads them
/// all: git/git's 24,000 rows took 20 ms through sqlx's worker.
pub(crate) fn change_ids(
    runtime: &tokio::runtime::Handle,
    pool: &SqlitePool,
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    const CONTEXT: &str = "reading changes";
    with_handle(runtime, pool, CONTEXT, |locked| {
        let mut stmt =
            ffi::Statement::prepare(ffi::Conn::of(locked), crate::db::CHANGE_IDS).map_err(|e| failed(CONTEXT, e))?;
        let mut out = std::collections::HashMap::new();
        while let Some(row) = stmt.step().map_err(|e| failed(CONTEXT, e))? {
            let id = required(&row, 0, "id").map_err(|e| failed(CONTEXT, e))?;
            let record = required(&row, 1, "record").map_err(|e| failed(CONTEXT, e))?;
            out.insert(id.to_owned(), record.to_owned());
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nodes of `tree_nodes` after `after` by the sorted query (`db::postgres`'s), or
    /// by the merged levels.
    fn nodes(
        pool: &SqlitePool,
        rt: &tokio::runtime::Runtime,
        after: (i64, i32),
        merged: bool,
    ) -> Result<NodeChunk, String> {
        with_handle(rt.handle(), pool, "test", |locked| {
            let conn = ffi::Conn::of(locked);
            let mut out = Vec::new();
            let read = match merged {
                true => merge_levels(conn, after, |node| {
                    out.push(node);
                    true
                }),
                false => (|| {
                    let mut stmt = ffi::Statement::prepare(
                        conn,
                        "SELECT level, idx, hash FROM tree_nodes \
                         WHERE ((idx + 1) << level) > ?1 OR (((idx + 1) << level) = ?1 AND level > ?2) \
                         ORDER BY ((idx + 1) << level), level",
                    )?;
                    stmt.bind_i64(1, after.0)?;
                    stmt.bind_i64(2, i64::from(after.1))?;
                    while let Some(row) = stmt.step()? {
                        let level = integer(&row, 0, "level")?;
                        let id = NodeId { level: level.clamp(0, 255) as u8, index: integer(&row, 1, "idx")? as u64 };
                        out.push((id, bytes(&row, 2, "hash")?.try_into().ok()));
                    }
                    Ok(())
                })(),
            };
            Ok(read.map(|()| out))
        })
        .expect("a connection")
    }

    /// Merging the levels gives exactly the rows, in exactly the order, of the sorted query,
    /// from any cursor: on the nodes of a 1,000-leaf tree, and with the rows only an altered
    /// database holds (level 0, a negative level, levels past 62, negative indexes, an index
    /// whose `idx + 1` overflows, one just past the last that does not, a short hash). A
    /// value that is not an integer is an error both ways.
    #[test]
    fn merged_levels_give_the_sorted_querys_rows_and_order() {
        // Worker threads: a pooled connection goes back to the pool on the runtime.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let _inside = rt.enter();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("nodes.db").display());
        let pool = rt.block_on(SqlitePool::connect(&url)).expect("open");
        let run = |sql: &str| {
            rt.block_on(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&pool)).expect(sql);
        };
        run(
            "CREATE TABLE tree_nodes (level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx))",
        );
        let mut rows: Vec<(i64, i64)> =
            (1..=9).flat_map(|level| (0..1000 >> level).map(move |idx| (level, idx))).collect();
        rows.extend([
            (0, 3),
            (-2, 5),
            (63, 1),
            (70, 0),
            (1, -1),
            (1, -7),
            (2, i64::MAX),
            (5, (1 << 58) - 1),
            (5, (1 << 58) - 2),
            (62, 0),
        ]);
        for part in rows.chunks(200) {
            let values: Vec<String> =
                part.iter().map(|(level, idx)| format!("({level}, {idx}, randomblob(32))")).collect();
            run(&format!("INSERT INTO tree_nodes (level, idx, hash) VALUES {}", values.join(", ")));
        }
        run("INSERT INTO tree_nodes (level, idx, hash) VALUES (3, 200, x'0102')");
        let cursors = [
            (0, -1),
            (2, 0),
            (2, 1),
            (64, 3),
            (512, 9),
            (999, 0),
            (1000, 3),
            (-5, 0),
            (-13, 2),
            (0, 70),
            (i64::MAX, 0),
        ];
        for after in cursors {
            let merged = nodes(&pool, &rt, after, true).expect("merged");
            let sorted = nodes(&pool, &rt, after, false).expect("sorted");
            assert_eq!(merged, sorted, "after {after:?}");
        }
        // From the start, every row but the three whose completion key is negative (as
        // SQLite computes it), which the sorted query leaves out too.
        assert_eq!(nodes(&pool, &rt, (0, -1), true).expect("all").len(), rows.len() + 1 - 3);

        for altered in [
            "INSERT INTO tree_nodes (level, idx, hash) VALUES (4, 'x', x'00')",
            "UPDATE tree_nodes SET level = 'y' WHERE level = 70",
        ] {
            run(altered);
            assert!(nodes(&pool, &rt, (0, -1), true).is_err(), "{altered}: merged");
            assert!(nodes(&pool, &rt, (0, -1), false).is_err(), "{altered}: sorted");
            run("DELETE FROM tree_nodes WHERE typeof(level) <> 'integer' OR typeof(idx) <> 'integer'");
        }
    }
}
