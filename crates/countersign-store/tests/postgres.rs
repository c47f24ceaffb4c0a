//! The store suite on PostgreSQL. Needs COUNTERSIGN_TEST_POSTGRES_URL (for example
//! `postgres://postgres@127.0.0.1:5432/test`); every test fails, saying so, without it.
//! Each test creates and drops its own database.

mod common;

fn test_db() -> common::TestDb {
    common::TestDb::postgres()
}

suite!();

#[test]
fn two_server_processes_append_without_gaps_forks_or_duplicates() {
    let db = test_db();
    let store = open(&db);
    // Two "replicas", each with 4 concurrent request threads (group-committed).
    let per_process = stress_entries() / 2;
    let acked = run_writer_processes(&db, 2, per_process, 4);
    assert_clean_log(&store, &acked, per_process * 2);
}
