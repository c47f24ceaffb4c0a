//! The process's allocator: mimalloc rather than the system's. Measured in BENCHMARKS.md
//! ("Allocator"): the audit spends far less time allocating (a warm re-audit of git/git
//! 0.46 → 0.33 s); the server's ingest and status figures stayed within their run-to-run
//! spread.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its index in the C enum `mi_option_e` (15 in
/// mimalloc 2 and 3 alike), which the Rust bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to the system, in ms.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Settings for the commands that run once and exit (not `serve`, measured apart).
///
/// Freed memory goes back to the system after 100 ms instead of mimalloc 3's 1,000 ms: the
/// default raised the audit of git/git's peak by about 50 MB. Purging at once (0 ms, the
/// earlier setting) cost that audit up to a second of system time, each big buffer faulted
/// in and zeroed again right after it was given back (BENCHMARKS.md, "Under git's time",
/// step 1). Not for `serve`, which keeps memory to reuse. `MIMALLOC_PURGE_DELAY` in the
/// environment still wins. (Transparent huge pages are off at build time: the crate's
/// `no_thp` feature.)
pub fn tune_for_one_run() {
    set_purge_delay(PURGE_DELAY_MS);
}

/// Set mimalloc's purge delay (ms; negative: never), unless `MIMALLOC_PURGE_DELAY` in the
/// environment set it.
fn set_purge_delay(ms: std::ffi::c_long) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's documented options to a documented value; mimalloc
        // reads its options at each use and allows them to be set while it runs.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms) };
    }
}

/// Before a one-run command exits: nothing goes back to the system any more. At exit
/// mimalloc collects its heaps and, with a purge delay set, hands every free page back one
/// `madvise` at a time, which the process's exit does anyway (a tenth of a warm re-audit's
/// main thread in `perf`; BENCHMARKS.md, "The kept commit graph").
pub fn before_exit() {
    set_purge_delay(-1);
}

#[cfg(test)]
mod tests {
    /// The option index [`super::tune_for_one_run`] sets is the purge delay: mimalloc's
    /// defaults around it are 1 (the old eager-commit delay), 1,000 (the purge delay, in ms)
    /// and 0 (NUMA nodes). A shifted enum in a later mimalloc fails here, not silently.
    #[test]
    fn the_option_tuned_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads options; no option is written here.
        let get = |o| unsafe { libmimalloc_sys::mi_option_get(o) };
        let purge = super::MI_OPTION_PURGE_DELAY;
        assert_eq!((get(purge - 1), get(purge), get(purge + 1)), (1, 1000, 0));
    }
}
