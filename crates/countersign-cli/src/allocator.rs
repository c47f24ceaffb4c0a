//! The process's allocator: mimalloc rather than the system's. Measured in BENCHMARKS.md
//! ("Allocator"): the audit spends far less time allocating (a warm re-audit of git/git
//! 0.46 → 0.33 s); the server's ingest and status figures stayed within their run-to-run
//! spread.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: its index in the C enum `mi_option_e` (15 in
/// mimalloc 2 and 3 alike), which the Rust bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3's `mi_option_allow_thp`: its index in `mi_option_e`, unnamed in the bindings.
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// How long freed memory stays with the process before it goes back to the system, in ms.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Settings for the commands that run once and exit (not `serve`, measured apart).
///
/// Freed memory goes back to the system after 100 ms instead of mimalloc 3's 1,000 ms: the
/// default raised the audit of git/git's peak by about 50 MB. Purging at once (0 ms, the
/// earlier setting) cost that audit a second of system time, each big buffer faulted in and
/// zeroed again right after it was given back. And no transparent huge pages: each fault of
/// one zeroes 2 MiB. Both measured in BENCHMARKS.md ("The allocator's purge delay"). Not for
/// `serve`, which keeps memory to reuse. `MIMALLOC_PURGE_DELAY` and `MIMALLOC_ALLOW_THP` in
/// the environment still win.
pub fn tune_for_one_run() {
    let set = |variable: &str, option, value| {
        if std::env::var_os(variable).is_none() {
            // SAFETY: sets one of mimalloc's documented options to a documented value;
            // mimalloc reads its options at each use and allows them to be set while it runs.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    };
    set("MIMALLOC_PURGE_DELAY", MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    set("MIMALLOC_ALLOW_THP", MI_OPTION_ALLOW_THP, 0);
}

#[cfg(test)]
mod tests {
    /// The option indices [`super::tune_for_one_run`] sets are the purge delay and the THP
    /// switch: mimalloc's defaults around them are 1 (the old eager-commit delay), 1,000 (the
    /// purge delay, in ms) and 0 (NUMA nodes); and 32 (cross-thread reclaim), 1 (THP allowed)
    /// and 0 (minimal purge size). A shifted enum in a later mimalloc fails here, not silently.
    #[test]
    fn the_options_tuned_are_mimallocs_purge_delay_and_thp_switch() {
        // SAFETY: reads options; no option is written here.
        let get = |o| unsafe { libmimalloc_sys::mi_option_get(o) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            let purge = super::MI_OPTION_PURGE_DELAY;
            assert_eq!((get(purge - 1), get(purge), get(purge + 1)), (1, 1000, 0));
        }
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            let thp = super::MI_OPTION_ALLOW_THP;
            assert_eq!((get(thp - 1), get(thp), get(thp + 1)), (32, 1, 0));
        }
    }
}
