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
//! The only `unsafe` is in [`ffi`], a prepared statement that cannot outlive the locked
//! connection it was prepared on, and whose borrowed values cannot outlive the next step.

use sqlx::sqlite::SqlitePool;
use tokio::sync::mpsc;

use crate::StoreError;
use crate::db::{ColumnsRef, EntryChunk, NodeChunk};
use countersign_log::merkle::NodeId;

mod ffi {
    use std::ffi::CStr;
    use std::marker::PhantomData;
    use std::ptr::NonNull;

    use libsqlite3_sys as sys;
    use sqlx::sqlite::LockedSqliteHandle;

    /// A prepared statement on a locked connection. The borrow of the lock keeps sqlx's
    /// worker away from the connection while the statement lives; it is finalized on drop,
    /// before the connection goes back to the pool.
    pub(super) struct Statement<'h> {
        db: NonNull<sys::sqlite3>,
        stmt: NonNull<sys::sqlite3_stmt>,
        _lock: PhantomData<&'h mut ()>,
    }

    /// The current row of a [`Statement`]: its values are borrowed until the next step.
    pub(super) struct Row<'s> {
        stmt: NonNull<sys::sqlite3_stmt>,
        _step: PhantomData<&'s mut ()>,
    }

    fn message(db: NonNull<sys::sqlite3>, rc: i32) -> String {
        // SAFETY: the connection is open (its lock is borrowed); sqlite3_errmsg returns a
        // NUL-terminated string owned by SQLite, copied here before any further call.
        let text = unsafe { CStr::from_ptr(sys::sqlite3_errmsg(db.as_ptr())) };
        format!("{} (SQLite code {rc})", text.to_string_lossy())
    }

    impl<'h> Statement<'h> {
        pub(super) fn prepare(locked: &'h mut LockedSqliteHandle<'_>, sql: &str) -> Result<Self, String> {
            let db = locked.as_raw_handle();
            let len = i32::try_from(sql.len()).map_err(|_| "statement too long".to_owned())?;
            let mut stmt = std::ptr::null_mut();
            // SAFETY: `db` is the open connection this thread holds the lock of; the SQL is
            // passed with its length, so it needs no NUL terminator.
            let rc = unsafe {
                sys::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr().cast(), len, &mut stmt, std::ptr::null_mut())
            };
            match NonNull::new(stmt) {
                Some(stmt) if rc == sys::SQLITE_OK => Ok(Statement { db, stmt, _lock: PhantomData }),
                Some(stmt) => {
                    // SAFETY: finalizing the statement just prepared, once.
                    unsafe { sys::sqlite3_finalize(stmt.as_ptr()) };
                    Err(message(db, rc))
                }
                None => Err(message(db, rc)),
            }
        }

        /// Bind the `n`th parameter (from 1).
        pub(super) fn bind_i64(&mut self, n: i32, value: i64) -> Result<(), String> {
            // SAFETY: a live statement; SQLite checks the parameter number.
            let rc = unsafe { sys::sqlite3_bind_int64(self.stmt.as_ptr(), n, value) };
            if rc == sys::SQLITE_OK { Ok(()) } else { Err(message(self.db, rc)) }
        }

        /// The next row, or `None` when the statement is done.
        pub(super) fn step(&mut self) -> Result<Option<Row<'_>>, String> {
            // SAFETY: a live statement, stepped on the thread holding its connection's lock.
            match unsafe { sys::sqlite3_step(self.stmt.as_ptr()) } {
                sys::SQLITE_ROW => Ok(Some(Row { stmt: self.stmt, _step: PhantomData })),
                sys::SQLITE_DONE => Ok(None),
                rc => Err(message(self.db, rc)),
            }
        }
    }

    impl Drop for Statement<'_> {
        fn drop(&mut self) {
            // SAFETY: finalized once, here; no `Row` outlives the statement (`Row<'s>`
            // borrows it mutably).
            unsafe { sys::sqlite3_finalize(self.stmt.as_ptr()) };
        }
    }

    /// A value's storage class, as SQLite reports it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Type {
        Integer,
        Float,
        Text,
        Blob,
        Null,
    }

    impl<'s> Row<'s> {
        pub(super) fn kind(&self, col: i32) -> Type {
            // SAFETY: a row of a live statement; SQLite checks the column number.
            match unsafe { sys::sqlite3_column_type(self.stmt.as_ptr(), col) } {
                sys::SQLITE_INTEGER => Type::Integer,
                sys::SQLITE_FLOAT => Type::Float,
                sys::SQLITE_TEXT => Type::Text,
                sys::SQLITE_BLOB => Type::Blob,
                _ => Type::Null,
            }
        }

        pub(super) fn int64(&self, col: i32) -> i64 {
            // SAFETY: as above.
            unsafe { sys::sqlite3_column_int64(self.stmt.as_ptr(), col) }
        }

        /// The value's bytes (a blob's, or a text's UTF-8), valid until the next step.
        pub(super) fn bytes(&self, col: i32) -> &'s [u8] {
            // SAFETY: sqlite3_column_blob then sqlite3_column_bytes, in that order, is the
            // documented way to read a value's bytes without a conversion between them;
            // the pointer stays valid until the statement is stepped, reset or finalized,
            // which the `'s` borrow of the statement rules out. A zero-length value may
            // have a null pointer.
            unsafe {
                let ptr = sys::sqlite3_column_blob(self.stmt.as_ptr(), col);
                let len = sys::sqlite3_column_bytes(self.stmt.as_ptr(), col);
                if ptr.is_null() || len <= 0 { &[] } else { std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize) }
            }
        }
    }
}

use ffi::{Row, Type};

fn failed(context: &'static str, message: String) -> StoreError {
    StoreError::Database { context, source: sqlx::Error::Protocol(message) }
}

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
            locked,
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
pub(crate) fn stream_nodes(
    runtime: &tokio::runtime::Handle,
    pool: &SqlitePool,
    after: (i64, i32),
    chunk: usize,
    out: &mpsc::Sender<Result<NodeChunk, StoreError>>,
) {
    const CONTEXT: &str = "reading tree nodes";
    let result = with_handle(runtime, pool, CONTEXT, |locked| {
        let mut stmt = ffi::Statement::prepare(
            locked,
            "SELECT level, idx, hash FROM tree_nodes \
             WHERE ((idx + 1) << level) > ?1 OR (((idx + 1) << level) = ?1 AND level > ?2) \
             ORDER BY ((idx + 1) << level), level",
        )
        .map_err(|e| failed(CONTEXT, e))?;
        stmt.bind_i64(1, after.0).map_err(|e| failed(CONTEXT, e))?;
        stmt.bind_i64(2, i64::from(after.1)).map_err(|e| failed(CONTEXT, e))?;
        let mut current = Vec::with_capacity(chunk);
        while let Some(row) = stmt.step().map_err(|e| failed(CONTEXT, e))? {
            let read = (|| {
                let level =
                    i32::try_from(integer(&row, 0, "level")?).map_err(|_| "column level out of range".to_owned())?;
                let index = integer(&row, 1, "idx")?;
                Ok::<_, String>((level, index, bytes(&row, 2, "hash")?.try_into().ok()))
            })();
            let (level, index, hash) = read.map_err(|e| failed(CONTEXT, e))?;
            current.push((NodeId { level: level.clamp(0, 255) as u8, index: index as u64 }, hash));
            if current.len() == chunk {
                let full = std::mem::replace(&mut current, Vec::with_capacity(chunk));
                if out.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if !current.is_empty() {
            let _ = out.blocking_send(Ok(current));
        }
        Ok(())
    });
    if let Err(e) = result {
        let _ = out.blocking_send(Err(e));
    }
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
        let mut stmt = ffi::Statement::prepare(locked, crate::db::CHANGE_IDS).map_err(|e| failed(CONTEXT, e))?;
        let mut out = std::collections::HashMap::new();
        while let Some(row) = stmt.step().map_err(|e| failed(CONTEXT, e))? {
            let id = required(&row, 0, "id").map_err(|e| failed(CONTEXT, e))?;
            let record = required(&row, 1, "record").map_err(|e| failed(CONTEXT, e))?;
            out.insert(id.to_owned(), record.to_owned());
        }
        Ok(out)
    })
}
