//! Deadlocks in the local world: every rank that has not returned waits
//! for a message (or a collective's part) and nothing has been posted
//! since each of them last looked. No rank can then post anything, so
//! the waits end with [`Error::Deadlock`] instead of hanging `cargo test`.
//!
//! Each wait that finds nothing records, under its mailbox's lock, how many
//! messages the world had posted (a sender pushes, then counts), and when.
//! A rank that has not looked for [`RECENT`] is computing (or polling with
//! `test`), not waiting. The waits re-look every 20 ms; the deadlock is
//! declared once the condition has held, with the count unchanged, for
//! [`STALL`].
//!
//! [`Error::Deadlock`]: crate::mpi::Error::Deadlock

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::mailbox::lock;

/// A rank whose last empty look is older than this is not waiting.
const RECENT: Duration = Duration::from_millis(250);
/// How long every rank must have waited, nothing posted, to be deadlocked.
pub(crate) const STALL: Duration = Duration::from_secs(1);

/// The world's count of posted messages and its ranks' waits.
#[derive(Default)]
pub(crate) struct Stall {
    posted: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per rank of the world: the count it saw, and when, at its last
    /// empty look.
    looks: Vec<Option<(u64, Instant)>>,
    /// Since when every rank has been seen waiting, with the count at this.
    since: Option<(u64, Instant)>,
}

impl Stall {
    /// A message was posted (after it was pushed).
    pub(crate) fn posted(&self) {
        self.posted.fetch_add(1, Ordering::SeqCst);
    }

    /// Rank `rank` of a world of `size` looked and found nothing (called
    /// with its mailbox locked); `finished` tells the ranks that returned.
    /// `Some(waiting ranks)` when the world is deadlocked.
    pub(crate) fn empty_look(
        &self,
        rank: usize,
        size: usize,
        finished: impl Fn(usize) -> bool,
    ) -> Option<Vec<usize>> {
        let seen = self.posted.load(Ordering::SeqCst);
        let now = Instant::now();
        let mut st = lock(&self.state);
        if st.looks.len() < size {
            st.looks.resize(size, None);
        }
        st.looks[rank] = Some((seen, now));
        let live: Vec<usize> = (0..size).filter(|&r| !finished(r)).collect();
        let all_wait = live.iter().all(|&r| {
            matches!(st.looks[r], Some((count, at)) if count == seen && now.duration_since(at) <= RECENT)
        });
        if !all_wait {
            st.since = None;
            return None;
        }
        match st.since {
            Some((count, at)) if count == seen => (now.duration_since(at) >= STALL).then_some(live),
            _ => {
                st.since = Some((seen, now));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ranks_waiting_with_nothing_posted_is_a_deadlock_after_the_stall() {
        let s = Stall::default();
        let none = |_| false;
        assert_eq!(s.empty_look(0, 2, none), None);
        assert_eq!(s.empty_look(1, 2, none), None);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(s.empty_look(0, 2, none), None, "too early");
        // A post resets it.
        s.posted();
        let t = Instant::now();
        let mut got = None;
        while got.is_none() && t.elapsed() < STALL * 3 {
            std::thread::sleep(Duration::from_millis(20));
            got = s
                .empty_look(1, 2, none)
                .or_else(|| s.empty_look(0, 2, none));
        }
        assert_eq!(got, Some(vec![0, 1]));
        assert!(t.elapsed() >= STALL, "{:?}", t.elapsed());
    }

    #[test]
    fn a_rank_that_does_not_look_again_is_computing() {
        let s = Stall::default();
        let none = |_| false;
        assert_eq!(s.empty_look(1, 2, none), None);
        let t = Instant::now();
        while t.elapsed() < STALL * 2 {
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(s.empty_look(0, 2, none), None);
        }
        // A finished rank does not count: rank 0 alone waits.
        let only_1_finished = |r| r == 1;
        let t = Instant::now();
        let mut got = None;
        while got.is_none() && t.elapsed() < STALL * 3 {
            std::thread::sleep(Duration::from_millis(20));
            got = s.empty_look(0, 2, only_1_finished);
        }
        assert_eq!(got, Some(vec![0]));
    }
}
