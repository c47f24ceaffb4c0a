//! The raw SQLite connection beneath sqlx, for the two places where sqlx's worker thread
//! costs more than the work: whole-table scans ([`crate::sqlite_scan`]) step statements on
//! a pooled connection's locked handle, and the group committer's appends
//! ([`crate::sqlite_append`]) run on a connection of their own, [`Db`].
//!
//! Every `unsafe` of the store is here: a prepared statement cannot outlive the
//! connection it was prepared on, a row's borrowed values cannot outlive the next step,
//! and a cached statement is reset, and its borrowed parameters cleared, before the call
//! that bound them returns.

use std::collections::HashMap;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::ptr::NonNull;

use libsqlite3_sys as sys;
use sqlx::sqlite::LockedSqliteHandle;

use crate::StoreError;

/// The raw connection of a locked handle, for as long as the lock is borrowed. The
/// borrow keeps sqlx's worker away from the connection; statements prepared on it
/// borrow it in turn, so several can be stepped in turn on this thread.
#[derive(Clone, Copy)]
pub(crate) struct Conn<'h> {
    db: NonNull<sys::sqlite3>,
    _lock: PhantomData<&'h mut ()>,
}

impl<'h> Conn<'h> {
    pub(crate) fn of(locked: &'h mut LockedSqliteHandle<'_>) -> Self {
        Conn { db: locked.as_raw_handle(), _lock: PhantomData }
    }

    /// Run one statement that returns no rows (`BEGIN`, `ROLLBACK`).
    pub(crate) fn execute(self, sql: &str) -> Result<(), String> {
        let mut stmt = Statement::prepare(self, sql)?;
        while stmt.step()?.is_some() {}
        Ok(())
    }
}

/// A prepared statement on a locked connection, finalized on drop, before the
/// connection goes back to the pool.
pub(crate) struct Statement<'h> {
    db: NonNull<sys::sqlite3>,
    stmt: NonNull<sys::sqlite3_stmt>,
    _lock: PhantomData<&'h mut ()>,
}

/// The current row of a [`Statement`]: its values are borrowed until the next step.
pub(crate) struct Row<'s> {
    stmt: NonNull<sys::sqlite3_stmt>,
    _step: PhantomData<&'s mut ()>,
}

fn message(db: NonNull<sys::sqlite3>, rc: i32) -> String {
    // SAFETY: the connection is open and used by this thread alone; sqlite3_errmsg returns a
    // NUL-terminated string owned by SQLite, copied here before any further call.
    let text = unsafe { CStr::from_ptr(sys::sqlite3_errmsg(db.as_ptr())) };
    format!("{} (SQLite code {rc})", text.to_string_lossy())
}

impl<'h> Statement<'h> {
    pub(crate) fn prepare(conn: Conn<'h>, sql: &str) -> Result<Self, String> {
        Ok(Statement { db: conn.db, stmt: prepare(conn.db, sql, 0)?, _lock: PhantomData })
    }

    /// Bind the `n`th parameter (from 1).
    pub(crate) fn bind_i64(&mut self, n: i32, value: i64) -> Result<(), String> {
        // SAFETY: a live statement; SQLite checks the parameter number.
        let rc = unsafe { sys::sqlite3_bind_int64(self.stmt.as_ptr(), n, value) };
        if rc == sys::SQLITE_OK { Ok(()) } else { Err(message(self.db, rc)) }
    }

    /// The next row, or `None` when the statement is done.
    pub(crate) fn step(&mut self) -> Result<Option<Row<'_>>, String> {
        // SAFETY: a live statement, stepped on the thread holding its connection's lock.
        match unsafe { sys::sqlite3_step(self.stmt.as_ptr()) } {
            sys::SQLITE_ROW => Ok(Some(Row { stmt: self.stmt, _step: PhantomData })),
            sys::SQLITE_DONE => Ok(None),
            rc => Err(message(self.db, rc)),
        }
    }
}

/// Prepare `sql` (one statement) on `db` with `flags` (`SQLITE_PREPARE_*`).
fn prepare(db: NonNull<sys::sqlite3>, sql: &str, flags: u32) -> Result<NonNull<sys::sqlite3_stmt>, String> {
    let len = i32::try_from(sql.len()).map_err(|_| "statement too long".to_owned())?;
    let mut stmt = std::ptr::null_mut();
    let mut tail = std::ptr::null();
    // SAFETY: `db` is an open connection no other thread is using; the SQL is passed with
    // its length, so it needs no NUL terminator.
    let rc = unsafe { sys::sqlite3_prepare_v3(db.as_ptr(), sql.as_ptr().cast(), len, flags, &mut stmt, &mut tail) };
    match NonNull::new(stmt) {
        Some(stmt) if rc == sys::SQLITE_OK => {
            let used = (tail as usize).saturating_sub(sql.as_ptr() as usize);
            if sql.get(used..).is_some_and(|rest| !rest.trim().is_empty()) {
                // SAFETY: finalizing the statement just prepared, once.
                unsafe { sys::sqlite3_finalize(stmt.as_ptr()) };
                return Err(format!("more than one statement in {sql:?}"));
            }
            Ok(stmt)
        }
        Some(stmt) => {
            // SAFETY: finalizing the statement just prepared, once.
            unsafe { sys::sqlite3_finalize(stmt.as_ptr()) };
            Err(message(db, rc))
        }
        None if rc == sys::SQLITE_OK => Err(format!("no statement in {sql:?}")),
        None => Err(message(db, rc)),
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
pub(crate) enum Type {
    Integer,
    Float,
    Text,
    Blob,
    Null,
}

impl<'s> Row<'s> {
    pub(crate) fn kind(&self, col: i32) -> Type {
        // SAFETY: a row of a live statement; SQLite checks the column number.
        match unsafe { sys::sqlite3_column_type(self.stmt.as_ptr(), col) } {
            sys::SQLITE_INTEGER => Type::Integer,
            sys::SQLITE_FLOAT => Type::Float,
            sys::SQLITE_TEXT => Type::Text,
            sys::SQLITE_BLOB => Type::Blob,
            _ => Type::Null,
        }
    }

    pub(crate) fn int64(&self, col: i32) -> i64 {
        // SAFETY: as above.
        unsafe { sys::sqlite3_column_int64(self.stmt.as_ptr(), col) }
    }

    /// The value's bytes (a blob's, or a text's UTF-8), valid until the next step.
    pub(crate) fn bytes(&self, col: i32) -> &'s [u8] {
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

/// A failure of a raw call, as the store's error for `context`.
pub(crate) fn failed(context: &'static str, message: String) -> StoreError {
    StoreError::Database { context, source: sqlx::Error::Protocol(message) }
}

/// A parameter value, borrowed for the one call it is bound in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Int(i64),
    Blob(&'a [u8]),
    Text(&'a str),
    Null,
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Self {
        text.map_or(Value::Null, Value::Text)
    }
}

/// A connection of its own (not from sqlx's pool), used from one thread at a time (`&mut
/// self`), with every statement it runs prepared once and kept.
pub(crate) struct Db {
    db: NonNull<sys::sqlite3>,
    cache: HashMap<String, NonNull<sys::sqlite3_stmt>>,
}

// SAFETY: the connection is opened in multi-thread mode (SQLITE_OPEN_NOMUTEX), in which a
// connection and its statements may move between threads as long as no two threads use
// them at once; every use goes through `&mut self`.
unsafe impl Send for Db {}

impl Db {
    /// Open an existing database file for reading and writing (never creates one).
    pub(crate) fn open(path: &std::path::Path) -> Result<Db, String> {
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("{} has a NUL byte in its name", path.display()))?;
        let mut db = std::ptr::null_mut();
        let flags = sys::SQLITE_OPEN_READWRITE | sys::SQLITE_OPEN_NOMUTEX;
        // SAFETY: a NUL-terminated name and an out-pointer; no VFS name (the default).
        let rc = unsafe { sys::sqlite3_open_v2(name.as_ptr(), &mut db, flags, std::ptr::null()) };
        let Some(db) = NonNull::new(db) else {
            return Err(format!("cannot open {}: out of memory (SQLite code {rc})", path.display()));
        };
        let db = Db { db, cache: HashMap::new() };
        if rc != sys::SQLITE_OK {
            return Err(format!("cannot open {}: {}", path.display(), message(db.db, rc)));
        }
        Ok(db)
    }

    /// Run `sql` (one statement) with `params` bound as `?1`, `?2`, … in order, handing
    /// each row it returns to `row`. The statement is prepared on first use and kept.
    pub(crate) fn run(&mut self, sql: &str, params: &[Value<'_>], mut row: impl FnMut(&Row<'_>)) -> Result<(), String> {
        let stmt = match self.cache.get(sql) {
            Some(stmt) => *stmt,
            None => {
                let stmt = prepare(self.db, sql, sys::SQLITE_PREPARE_PERSISTENT)?;
                self.cache.insert(sql.to_owned(), stmt);
                stmt
            }
        };
        // Reset and clear on every way out, so no borrowed parameter outlives this call
        // and the next run starts from the first row.
        struct Rewind(NonNull<sys::sqlite3_stmt>);
        impl Drop for Rewind {
            fn drop(&mut self) {
                // SAFETY: a live cached statement (finalized only when the `Db` drops).
                unsafe {
                    sys::sqlite3_reset(self.0.as_ptr());
                    sys::sqlite3_clear_bindings(self.0.as_ptr());
                }
            }
        }
        let _rewind = Rewind(stmt);
        // SAFETY: a live statement of this connection.
        let wanted = unsafe { sys::sqlite3_bind_parameter_count(stmt.as_ptr()) };
        if usize::try_from(wanted).ok() != Some(params.len()) {
            return Err(format!("the statement takes {wanted} parameters, given {}", params.len()));
        }
        for (i, value) in params.iter().enumerate() {
            let n = i as i32 + 1;
            // SAFETY: a live statement; text and blobs are bound without a copy
            // (SQLITE_STATIC), which is sound because `_rewind` clears every binding before
            // this call returns, while `params` is still borrowed.
            let rc = unsafe {
                match *value {
                    Value::Int(v) => sys::sqlite3_bind_int64(stmt.as_ptr(), n, v),
                    Value::Null => sys::sqlite3_bind_null(stmt.as_ptr(), n),
                    Value::Blob(bytes) => sys::sqlite3_bind_blob64(
                        stmt.as_ptr(),
                        n,
                        bytes.as_ptr().cast(),
                        bytes.len() as u64,
                        sys::SQLITE_STATIC(),
                    ),
                    Value::Text(text) => sys::sqlite3_bind_text64(
                        stmt.as_ptr(),
                        n,
                        text.as_ptr().cast(),
                        text.len() as u64,
                        sys::SQLITE_STATIC(),
                        sys::SQLITE_UTF8 as u8,
                    ),
                }
            };
            if rc != sys::SQLITE_OK {
                return Err(message(self.db, rc));
            }
        }
        loop {
            // SAFETY: a live statement, stepped by the one thread holding `&mut self`.
            match unsafe { sys::sqlite3_step(stmt.as_ptr()) } {
                sys::SQLITE_ROW => row(&Row { stmt, _step: PhantomData }),
                sys::SQLITE_DONE => return Ok(()),
                rc => return Err(message(self.db, rc)),
            }
        }
    }

    /// Run `sql` once, unprepared afterwards (`PRAGMA`s).
    pub(crate) fn execute_once(&mut self, sql: &str) -> Result<(), String> {
        Conn { db: self.db, _lock: PhantomData }.execute(sql)
    }

    /// Rows the last INSERT, UPDATE or DELETE changed.
    pub(crate) fn changes(&self) -> i64 {
        // SAFETY: an open connection.
        i64::from(unsafe { sys::sqlite3_changes(self.db.as_ptr()) })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // SAFETY: every cached statement is finalized once, then the connection is closed
        // (which succeeds: no statement of it is left).
        unsafe {
            for (_, stmt) in self.cache.drain() {
                sys::sqlite3_finalize(stmt.as_ptr());
            }
            sys::sqlite3_close(self.db.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty database file (SQLite reads an empty file as an empty database).
    fn empty_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.db");
        std::fs::write(&path, b"").unwrap();
        let mut db = Db::open(&path).unwrap();
        db.execute_once("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, body BLOB)").unwrap();
        (dir, db)
    }

    fn rows(db: &mut Db) -> Vec<(i64, Option<String>, Vec<u8>)> {
        let mut out = Vec::new();
        db.run("SELECT id, name, body FROM t ORDER BY id", &[], |row| {
            let name = (row.kind(1) == Type::Text).then(|| String::from_utf8(row.bytes(1).to_vec()).unwrap());
            out.push((row.int64(0), name, row.bytes(2).to_vec()));
        })
        .unwrap();
        out
    }

    #[test]
    fn a_kept_statement_runs_again_after_it_failed_with_its_new_parameters() {
        let (_dir, mut db) = empty_db();
        let insert = "INSERT INTO t (id, name, body) VALUES ($1, $2, $3)";
        db.run(insert, &[Value::Int(1), Value::Text("one"), Value::Blob(b"\x00\x01")], |_| {}).unwrap();
        assert_eq!(db.changes(), 1);
        // The same key again: a constraint error, and the statement is left reset.
        let taken = db.run(insert, &[Value::Int(1), Value::Text("again"), Value::Blob(b"")], |_| {});
        assert!(taken.unwrap_err().contains("UNIQUE"), "the error names the constraint");
        db.run(insert, &[Value::Int(2), Value::Null, Value::Blob(b"two")], |_| {}).unwrap();
        assert_eq!(
            rows(&mut db),
            vec![(1, Some("one".into()), vec![0, 1]), (2, None, b"two".to_vec())],
            "each run bound its own values"
        );
    }

    #[test]
    fn the_wrong_number_of_parameters_is_an_error_not_a_null() {
        let (_dir, mut db) = empty_db();
        let insert = "INSERT INTO t (id, name, body) VALUES ($1, $2, $3)";
        let err = db.run(insert, &[Value::Int(1), Value::Text("one")], |_| {}).unwrap_err();
        assert!(err.contains("takes 3 parameters, given 2"), "{err}");
        assert_eq!(rows(&mut db), vec![], "nothing was inserted");
    }

    #[test]
    fn one_call_runs_one_statement_never_a_second_one_hidden_after_it() {
        let (_dir, mut db) = empty_db();
        let err = db.run("INSERT INTO t (id) VALUES (1); DROP TABLE t", &[], |_| {}).unwrap_err();
        assert!(err.contains("more than one statement"), "{err}");
        let err = db.run("  -- nothing\n", &[], |_| {}).unwrap_err();
        assert!(err.contains("no statement"), "{err}");
        assert_eq!(rows(&mut db), vec![], "the table is still there, empty");
    }

    #[test]
    fn a_missing_file_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.db");
        let err = Db::open(&path).err().expect("an absent database does not open");
        assert!(err.contains("cannot open"), "{err}");
        assert!(!path.exists());
    }
}
