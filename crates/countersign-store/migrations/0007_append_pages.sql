-- countersign evidence store, schema version 7: fewer pages written per append.
--
-- No query selects log entries by change or by time: every read goes through the proven
-- scan (by index, in index order), which checks each row against its signed payload. The
-- two indexes only cost every append a page each (a b-tree leaf in the WAL and fsynced).
DROP INDEX log_entries_change;
DROP INDEX log_entries_recorded_at;
