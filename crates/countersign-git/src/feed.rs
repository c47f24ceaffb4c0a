//! The first-parent chain handed to the reading threads as the walk finds it.
//!
//! A whole-history walk with nothing cached reads every commit of the chain. The readers
//! need not wait for the walk to reach the root: they take the chain in runs, each as soon
//! as the walk has found it, so the walk (one core) and the reading (the others) overlap.

use std::sync::{Condvar, Mutex, MutexGuard};

use gix::ObjectId;

/// Commit ids in chain order (newest first), growing until [`Feed::finish`].
#[derive(Default)]
pub(crate) struct Feed {
    state: Mutex<State>,
    grown: Condvar,
}

#[derive(Default)]
struct State {
    ids: Vec<ObjectId>,
    /// The raw commit objects the walk read, by position in `ids` (empty where it read
    /// none: a commit it found in the cache or the commit-graph, or one a reader took).
    raw: Vec<Vec<u8>>,
    /// The bytes in `raw`, at most [`RAW_BUDGET`].
    raw_bytes: usize,
    done: bool,
}

/// At most this many bytes of raw commits wait in the feed. The walk is faster than the
/// readers, so on a long history most of the chain would wait: beyond the budget its
/// commits go without their raw objects, and the readers read those themselves.
const RAW_BUDGET: usize = 32 << 20;

/// Part of the chain for one reader.
#[derive(Debug, PartialEq)]
pub(crate) struct Run {
    /// Where the run starts in the chain.
    pub start: usize,
    pub ids: Vec<ObjectId>,
    /// The raw commit objects the walk read, by position in `ids`; shorter, or with empty
    /// entries, where it read none. They are the reader's: the feed keeps no copy.
    pub raw: Vec<Vec<u8>>,
}

impl Feed {
    /// An empty feed the walk fills.
    pub fn new() -> Feed {
        Feed::default()
    }

    /// A feed of ids known in advance: finished already.
    pub fn complete(ids: Vec<ObjectId>) -> Feed {
        Feed { state: Mutex::new(State { ids, done: true, ..State::default() }), grown: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking reader leaves the ids as they were: still valid.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// More of the chain, with the raw commit objects the walk read for it (empty where
    /// it read none), which the readers then need not read again. Returns whether more raw
    /// commits are welcome: false while the feed holds its budget of them (those given
    /// beyond it are dropped).
    /// `raw_commits` may be shorter than `commits`: the rest have none.
    pub fn extend_raw(
        &self,
        commits: impl IntoIterator<Item = ObjectId>,
        raw_commits: impl IntoIterator<Item = Vec<u8>>,
    ) -> bool {
        let mut state = self.lock();
        let State { ids, raw, raw_bytes, .. } = &mut *state;
        raw.resize_with(ids.len(), Vec::new);
        let padded = raw_commits.into_iter().chain(std::iter::repeat_with(Vec::new));
        for (id, mut bytes) in commits.into_iter().zip(padded) {
            if *raw_bytes + bytes.len() > RAW_BUDGET {
                bytes = Vec::new();
            }
            *raw_bytes += bytes.len();
            ids.push(id);
            raw.push(bytes);
        }
        let welcome = *raw_bytes < RAW_BUDGET / 2;
        drop(state);
        self.grown.notify_all();
        welcome
    }

    /// The walk ended (at the root, or with an error): no more ids come.
    pub fn finish(&self) {
        self.lock().done = true;
        self.grown.notify_all();
    }

    /// Whether the whole chain is here.
    pub fn is_done(&self) -> bool {
        self.lock().done
    }

    /// The ids fed so far (all of them once the feed is done).
    pub fn ids(&self) -> Vec<ObjectId> {
        self.lock().ids.clone()
    }

    /// How many ids were fed so far.
    pub fn len(&self) -> usize {
        self.lock().ids.len()
    }

    /// Run `run` of runs `len` long, once the walk has found all of it (or ended); its
    /// raw commits move out of the feed. `None` once the chain ended before the run's start.
    pub fn run(&self, run: usize, len: usize) -> Option<Run> {
        let start = run.checked_mul(len)?;
        let end = start.checked_add(len)?;
        let mut state = self.lock();
        while state.ids.len() < end && !state.done {
            state = self.grown.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let end = end.min(state.ids.len());
        let ids = state.ids.get(start..end).filter(|ids| !ids.is_empty())?.to_vec();
        let raw_end = end.min(state.raw.len());
        let raw: Vec<Vec<u8>> =
            state.raw.get_mut(start..raw_end).map_or_else(Vec::new, |raw| raw.iter_mut().map(std::mem::take).collect());
        state.raw_bytes -= raw.iter().map(Vec::len).sum::<usize>();
        Some(Run { start, ids, raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_id as id;

    #[test]
    fn a_run_waits_for_the_walk_and_the_last_run_may_be_short() {
        let feed = Feed::new();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| (0..4).map(|run| feed.run(run, 2)).collect::<Vec<_>>());
            for n in 0..5 {
                feed.extend_raw([id(n)], []);
            }
            feed.finish();
            let runs: Vec<_> = reader
                .join()
                .expect("the reader does not panic")
                .into_iter()
                .map(|r| r.map(|r| (r.start, r.ids)))
                .collect();
            assert_eq!(runs[0], Some((0, vec![id(0), id(1)])));
            assert_eq!(runs[1], Some((2, vec![id(2), id(3)])));
            assert_eq!(runs[2], Some((4, vec![id(4)])), "the last run holds what is left");
            assert_eq!(runs[3], None, "no run starts past the end");
        });
        assert!(feed.is_done());
        assert_eq!(feed.len(), 5);
    }

    #[test]
    fn a_finished_feed_ends_a_waiting_run() {
        let feed = Feed::new();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| feed.run(0, 8));
            feed.finish();
            assert_eq!(reader.join().expect("no panic"), None);
        });
        let complete = Feed::complete(vec![id(1), id(2), id(3)]);
        assert_eq!(complete.run(1, 2), Some(Run { start: 2, ids: vec![id(3)], raw: Vec::new() }));
        assert_eq!(complete.run(usize::MAX, 2), None, "an overflowing run is past the end");
    }

    #[test]
    fn raw_commits_go_to_the_run_that_takes_them_once() {
        let feed = Feed::new();
        feed.extend_raw([id(0)], []);
        feed.extend_raw([id(1), id(2), id(3)], [b"one".to_vec(), Vec::new(), b"three".to_vec()]);
        feed.extend_raw([id(4)], []);
        feed.finish();
        let first = feed.run(0, 2).expect("a first run");
        assert_eq!(first, Run { start: 0, ids: vec![id(0), id(1)], raw: vec![Vec::new(), b"one".to_vec()] });
        let second = feed.run(1, 2).expect("a second run");
        assert_eq!(second, Run { start: 2, ids: vec![id(2), id(3)], raw: vec![Vec::new(), b"three".to_vec()] });
        let last = feed.run(2, 2).expect("a last run");
        assert_eq!(last, Run { start: 4, ids: vec![id(4)], raw: vec![Vec::new()] }, "no raw commit was fed for it");
        assert_eq!(feed.run(0, 2).expect("the run again").raw, vec![Vec::new(), Vec::new()], "taken once");
        assert_eq!(feed.ids(), (0..5).map(id).collect::<Vec<_>>());
    }

    #[test]
    fn raw_commits_beyond_the_budget_are_dropped_until_readers_take_some() {
        let feed = Feed::new();
        let big = vec![7u8; RAW_BUDGET / 4];
        assert!(feed.extend_raw([id(0)], [big.clone()]), "a quarter of the budget: more welcome");
        assert!(!feed.extend_raw([id(1), id(2)], [big.clone(), big.clone()]), "three quarters: no more wanted");
        assert!(!feed.extend_raw([id(3), id(4)], [big.clone(), big.clone()]), "the last one is beyond the budget");
        let first = feed.run(0, 5).expect("a run");
        let kept: Vec<usize> = first.raw.iter().map(Vec::len).collect();
        assert_eq!(kept, vec![big.len(), big.len(), big.len(), big.len(), 0]);
        assert!(feed.extend_raw([id(5)], [big.clone()]), "taken by a reader: room again");
        feed.finish();
        assert_eq!(feed.run(1, 5).expect("a second run").raw, vec![big]);
    }
}
