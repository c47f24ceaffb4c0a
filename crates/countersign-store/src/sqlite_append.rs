//! The SQLite appender's fast path, on a connection of its own.
//!
//! Through sqlx, one append was two round trips to sqlx's worker thread and back (each a
//! wake-up of another thread), on top of the caller's hand-off to the group committer: with
//! one writer, running the statements here instead cut the CPU of a run of appends by about
//! 40 % (BENCHMARKS.md, "One hand-off per append"). The group committer runs on a thread of
//! its own, so here it runs the append's statements itself, on a [`Db`] it holds, each
//! statement prepared once. What the statements do is unchanged (`db::Appender`): take the write lock,
//! look up the idempotency keys, update the log state *only if* it is still the one this
//! appender last wrote, insert the entries, the subtrees they complete, the webhook
//! deliveries and their jobs, check the cached change resolutions, sign and insert the
//! checkpoint, commit.
//!
//! Anything unexpected (another writer appended, an index is taken, any SQLite error before
//! the commit) rolls back and answers `Ok(None)`: the caller then takes the locked path on
//! its sqlx connection, which reads the state, proves it and reports errors itself.

use std::collections::HashMap;
use std::path::Path;

use countersign_log::merkle::Frontier;
use countersign_log::note::{Checkpoint, LogSigner};

use crate::db::{self, PreparedEntry};
use crate::sqlite_ffi::{Db, Value, failed};
use crate::{AppendOutcome, StoreError};

/// The appender's raw connection, and the texts of its one-row statements (built once:
/// each is also the key its prepared statement is kept under).
pub(crate) struct RawAppender {
    db: Db,
    entry_insert: String,
    node_insert: String,
    delivery_insert: String,
    job_insert: String,
    stale_check: String,
}

/// How an attempt ended short of a commit.
enum Stop {
    /// Not this path's to finish: roll back, let the locked path append.
    Fallback,
    /// A cached change resolution is stale: roll back, report it.
    Stale,
    /// The checkpoint could not be signed.
    Note(countersign_log::note::NoteError),
}

impl From<String> for Stop {
    fn from(_: String) -> Self {
        Stop::Fallback
    }
}

impl RawAppender {
    /// Open `path` (the pool's database file) with the pool's durability and checks.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        const CONTEXT: &str = "opening the appender's connection";
        let mut db = Db::open(path).map_err(|e| failed(CONTEXT, e))?;
        for pragma in [
            format!("PRAGMA busy_timeout = {}", db::BUSY_TIMEOUT.as_millis()),
            "PRAGMA synchronous = FULL".to_owned(),
            "PRAGMA foreign_keys = ON".to_owned(),
            "PRAGMA temp_store = MEMORY".to_owned(),
            format!("PRAGMA wal_autocheckpoint = {}", db::WAL_AUTOCHECKPOINT_PAGES),
        ] {
            db.execute_once(&pragma).map_err(|e| failed(CONTEXT, e))?;
        }
        let mut mode = String::new();
        db.run("PRAGMA journal_mode", &[], |row| mode = String::from_utf8_lossy(row.bytes(0)).into_owned())
            .map_err(|e| failed(CONTEXT, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(failed(CONTEXT, format!("the database's journal mode is {mode:?}, not WAL")));
        }
        Ok(Self {
            db,
            entry_insert: db::values_sql(db::ENTRY_INSERT, 8, 1),
            node_insert: db::values_sql(db::NODE_INSERT, 3, 1),
            delivery_insert: db::values_sql(db::DELIVERY_INSERT, 8, 1),
            job_insert: db::values_sql(db::JOB_INSERT, 7, 1) + db::JOB_UPSERT,
            stale_check: db::stale_change_sql(1),
        })
    }

    /// Append `entries` on top of `base`, the state this appender last wrote. `Ok(None)`:
    /// nothing was written, and the caller appends on the locked path (another writer
    /// appended since, or the batch is one this path does not take).
    pub(crate) fn append(
        &mut self,
        base: &Frontier,
        signer: &LogSigner,
        entries: &[&PreparedEntry],
        now: &str,
    ) -> Result<Option<(Vec<AppendOutcome>, Frontier)>, StoreError> {
        if entries.len() > db::FAST_GROUP || entries.iter().any(|e| e.policy.is_some()) {
            return Ok(None);
        }
        if self.db.run("BEGIN IMMEDIATE", &[], |_| {}).is_err() {
            return Ok(None);
        }
        match self.statements(base, signer, entries, now) {
            Ok(done) => match self.db.run("COMMIT", &[], |_| {}) {
                Ok(()) => Ok(Some(done)),
                Err(e) => {
                    self.rollback();
                    Err(failed("committing an append", e))
                }
            },
            Err(stop) => {
                self.rollback();
                match stop {
                    Stop::Fallback => Ok(None),
                    Stop::Stale => Err(StoreError::StaleChange),
                    Stop::Note(e) => Err(StoreError::Note(e)),
                }
            }
        }
    }

    fn rollback(&mut self) {
        // Fails only when no transaction is open (SQLite rolled back already).
        let _ = self.db.run("ROLLBACK", &[], |_| {});
    }

    /// Everything between `BEGIN IMMEDIATE` and `COMMIT`.
    fn statements(
        &mut self,
        base: &Frontier,
        signer: &LogSigner,
        entries: &[&PreparedEntry],
        now: &str,
    ) -> Result<(Vec<AppendOutcome>, Frontier), Stop> {
        let Self { db, entry_insert, node_insert, delivery_insert, job_insert, stale_check } = self;
        let mut existing = HashMap::new();
        for key in entries.iter().filter_map(|e| e.idempotency_key.as_deref()) {
            db.run(db::IDEMPOTENT_LOOKUP, &[Value::Text(key)], |row| {
                existing.insert(key.to_owned(), row.int64(0) as u64);
            })?;
        }
        let plan = db::plan(base.clone(), entries, &existing);
        if plan.rows.is_empty() {
            return Ok((plan.outcomes, base.clone()));
        }
        let (size, frontier) = (plan.frontier.size() as i64, plan.frontier.to_bytes());
        let base_bytes = base.to_bytes();
        db.run(
            db::STATE_UPDATE,
            &[Value::Int(size), Value::Blob(&frontier), Value::Int(base.size() as i64), Value::Blob(&base_bytes)],
            |_| {},
        )?;
        if db.changes() != 1 {
            // Another writer appended since this appender's last append.
            return Err(Stop::Fallback);
        }
        for (index, e) in &plan.rows {
            db.run(
                entry_insert,
                &[
                    Value::Int(*index as i64),
                    Value::Blob(&e.leaf),
                    Value::Blob(&e.envelope),
                    Value::Text(&e.kind),
                    e.change_id.as_deref().into(),
                    Value::Text(&e.recorded_at),
                    Value::Text(&e.recorded_by),
                    e.idempotency_key.as_deref().into(),
                ],
                |_| {},
            )?;
        }
        for (node, hash) in &plan.nodes {
            db.run(
                node_insert,
                &[Value::Int(i64::from(node.level)), Value::Int(node.index as i64), Value::Blob(hash)],
                |_| {},
            )?;
        }
        // Webhook deliveries and the jobs that process them (a delivery id already stored
        // fails the INSERT, and the locked path reports it).
        for (index, d) in plan.rows.iter().filter_map(|(index, e)| e.delivery.as_ref().map(|d| (*index, d))) {
            db.run(
                delivery_insert,
                &[
                    Value::Text(&d.forge),
                    Value::Text(&d.delivery_id),
                    Value::Text(&d.event),
                    Value::Text(&d.sha256),
                    Value::Blob(&d.body),
                    Value::Text(&d.headers),
                    Value::Text(&d.received_at),
                    Value::Int(index as i64),
                ],
                |_| {},
            )?;
            let (key, kind, payload, run_after) = &d.job;
            db.run(
                job_insert,
                &[
                    Value::Text(key),
                    Value::Text(kind),
                    Value::Text(payload),
                    Value::Int(*run_after),
                    Value::Int(*run_after),
                    Value::Int(0),
                    Value::Int(0),
                ],
                |_| {},
            )?;
        }
        // Cached change resolutions, checked under the write lock.
        for c in plan.rows.iter().filter_map(|(_, e)| e.change_check.as_ref()) {
            let mut stale = false;
            db.run(stale_check, &[Value::Text(&c.reference), Value::Text(&c.id), c.head.as_deref().into()], |_| {
                stale = true
            })?;
            if stale {
                return Err(Stop::Stale);
            }
        }
        let checkpoint =
            Checkpoint { origin: signer.name().to_owned(), size: plan.frontier.size(), root: plan.frontier.root() };
        let note = checkpoint.sign(signer).map_err(Stop::Note)?;
        let root = plan.frontier.root();
        db.run(
            db::CHECKPOINT_INSERT,
            &[Value::Int(size), Value::Blob(&root), Value::Text(&note), Value::Text(now)],
            |_| {},
        )?;
        Ok((plan.outcomes, plan.frontier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_not_in_wal_mode_is_refused_rather_than_appended_to_less_durably() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rollback-journal.db");
        std::fs::write(&path, b"").unwrap();
        let err = RawAppender::open(&path).err().expect("refused");
        assert!(err.to_string().contains("not WAL"), "{err}");
    }
}
