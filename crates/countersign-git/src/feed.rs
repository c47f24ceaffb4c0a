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
    done: bool,
}

impl Feed {
    /// An empty feed the walk fills.
    pub fn new() -> Feed {
        Feed::default()
    }

    /// A feed of ids known in advance: finished already.
    pub fn complete(ids: Vec<ObjectId>) -> Feed {
        Feed { state: Mutex::new(State { ids, done: true }), grown: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking reader leaves the ids as they were: still valid.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// More of the chain, after what was given before.
    pub fn extend(&self, ids: impl IntoIterator<Item = ObjectId>) {
        self.lock().ids.extend(ids);
        self.grown.notify_all();
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

    /// Run `run` of runs `len` long: where it starts and its ids, once the walk has found
    /// all of them (or ended). `None` once the chain ended before the run's start.
    pub fn run(&self, run: usize, len: usize) -> Option<(usize, Vec<ObjectId>)> {
        let start = run.checked_mul(len)?;
        let end = start.checked_add(len)?;
        let mut state = self.lock();
        while state.ids.len() < end && !state.done {
            state = self.grown.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let ids = state.ids.get(start..end.min(state.ids.len()))?;
        (!ids.is_empty()).then(|| (start, ids.to_vec()))
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
                feed.extend([id(n)]);
            }
            feed.finish();
            let runs = reader.join().expect("the reader does not panic");
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
        assert_eq!(complete.run(1, 2), Some((2, vec![id(3)])));
        assert_eq!(complete.run(usize::MAX, 2), None, "an overflowing run is past the end");
    }
}
