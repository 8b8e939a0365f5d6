//! A world of N ranks as threads of this process, for unit tests of SPMD
//! logic on a machine without MPI.
//!
//! ```
//! use parallel_runtime::mpi::{local, Op};
//!
//! let sums = local::run(4, |world| {
//!     let mine = world.rank() as u64 + 1;
//!     world.all_reduce(mine, Op::Sum).unwrap()
//! });
//! assert_eq!(sums, vec![10, 10, 10, 10]);
//! ```
//!
//! The ranks have the same [`Comm`] as under `mpirun`, with the same
//! semantics (values are encoded and decoded on the object path, ranks match
//! messages by source and tag in the order sent), but they share one
//! address space and the one thread pool. It is a test harness, not a
//! replacement for MPI.
//!
//! When a rank panics, the ranks waiting on it get
//! [`Error::PeerFailed`] instead of waiting
//! forever, and [`run`] re-raises the first panic, naming its rank.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::comm::{Comm, Source, TagMatch};
use super::error::Error;
use super::matching::Pending;

/// Runs `f` on `n` ranks, each a thread of this process with its own
/// communicator of `n` ranks, and returns their results in rank order.
///
/// Inside, `#[parallel_map]` with `backend = "mpi"` splits its items across
/// these ranks as it would across MPI processes.
///
/// # Panics
///
/// When `n` is 0, and when a rank panics: with that rank's panic, after the
/// other ranks have stopped.
pub fn run<R, F>(n: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(Comm) -> R + Sync,
{
    assert!(
        n > 0,
        "parallel_runtime::mpi::local::run needs at least one rank"
    );
    let world = Arc::new(World::default());
    let group = Group::new(n, &world);
    let results: Vec<std::thread::Result<R>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|rank| {
                let comm = LocalComm {
                    rank,
                    world_rank: rank,
                    group: Arc::clone(&group),
                    pending: Arc::default(),
                };
                let f = &f;
                let world = &world;
                std::thread::Builder::new()
                    .name(format!("local-rank-{rank}"))
                    .spawn_scoped(s, move || {
                        let comm = Comm::from_local(comm);
                        let _dist = super::world::install(&comm);
                        let out = catch_unwind(AssertUnwindSafe(|| f(comm)));
                        if out.is_err() {
                            world.fail(rank);
                        }
                        world.finish(rank);
                        out
                    })
                    .unwrap_or_else(|e| panic!("cannot start the thread of local rank {rank}: {e}"))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(Err))
            .collect()
    });
    let first = *lock(&world.failed);
    let mut out = Vec::with_capacity(n);
    let mut panics: Vec<Option<Box<dyn Any + Send>>> = Vec::new();
    for r in results {
        match r {
            Ok(v) => {
                out.push(v);
                panics.push(None);
            }
            Err(p) => panics.push(Some(p)),
        }
    }
    if let Some(rank) = first {
        if let Some(p) = panics.get_mut(rank).and_then(Option::take) {
            resume_unwind(p);
        }
    }
    if let Some(p) = panics.into_iter().flatten().next() {
        resume_unwind(p);
    }
    out
}

/// The first envelope in `queue` that matches.
fn find(queue: &VecDeque<Envelope>, source: Source, tag: TagMatch, ctx: Ctx) -> Option<usize> {
    queue.iter().position(|e| {
        e.ctx == ctx
            && match source {
                Source::Any => true,
                Source::Rank(r) => e.src == r,
            }
            && match tag {
                TagMatch::Any => true,
                TagMatch::Tag(t) => e.tag == t,
            }
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves the data consistent
    // (every critical section is a push, a scan or a store).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by every group of one local world.
#[derive(Default)]
struct World {
    /// The first rank (of the world) that failed.
    failed: Mutex<Option<usize>>,
    /// The ranks (of the world) whose function has returned.
    finished: Mutex<std::collections::BTreeSet<usize>>,
}

impl World {
    fn fail(&self, rank: usize) {
        let mut f = lock(&self.failed);
        if f.is_none() {
            *f = Some(rank);
        }
    }
    fn failed(&self) -> Option<usize> {
        *lock(&self.failed)
    }
    fn finish(&self, rank: usize) {
        lock(&self.finished).insert(rank);
    }
    fn has_finished(&self, rank: usize) -> bool {
        lock(&self.finished).contains(&rank)
    }
}

/// Which traffic a message belongs to: the user's point-to-point messages
/// and the messages of collectives never match each other (MPI's contexts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ctx {
    User,
    Coll,
}

pub(crate) struct Envelope {
    pub(crate) src: usize,
    pub(crate) tag: i32,
    ctx: Ctx,
    payload: Box<dyn Any + Send>,
    /// For a vector of elements: their type's name and size, and how many.
    pub(crate) elems: Option<Elems>,
}

/// What a message of the buffer path holds, for the errors of a receive
/// into another element type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Elems {
    pub(crate) name: &'static str,
    pub(crate) size: usize,
    pub(crate) len: usize,
}

impl Envelope {
    /// Whether the payload is a `P`.
    pub(crate) fn holds<P: 'static>(&self) -> bool {
        self.payload.is::<P>()
    }

    /// The elements, when the payload is a `Vec<T>`.
    pub(crate) fn into_vec<T: 'static>(self) -> Result<Vec<T>, Envelope> {
        let Envelope {
            src,
            tag,
            ctx,
            payload,
            elems,
        } = self;
        payload
            .downcast::<Vec<T>>()
            .map(|b| *b)
            .map_err(|payload| Envelope {
                src,
                tag,
                ctx,
                payload,
                elems,
            })
    }
}

#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Envelope>>,
    ready: Condvar,
}

/// One communicator's members: a mailbox per rank.
struct Group {
    boxes: Vec<Mailbox>,
    /// The world rank of each member.
    world_ranks: Vec<usize>,
    world: Arc<World>,
}

impl Group {
    fn new(n: usize, world: &Arc<World>) -> Arc<Group> {
        Arc::new(Group {
            boxes: (0..n).map(|_| Mailbox::default()).collect(),
            world_ranks: (0..n).collect(),
            world: Arc::clone(world),
        })
    }
}

/// One rank's end of a local communicator.
pub(crate) struct LocalComm {
    rank: usize,
    world_rank: usize,
    group: Arc<Group>,
    /// Receives posted and not yet completed, in the order posted (shared
    /// by the handles on this rank's end).
    pub(crate) pending: Arc<Pending>,
}

impl LocalComm {
    /// A world of one rank: what a program started without `mpirun` gets.
    pub(crate) fn single() -> LocalComm {
        let world = Arc::new(World::default());
        LocalComm {
            rank: 0,
            world_rank: 0,
            group: Group::new(1, &world),
            pending: Arc::default(),
        }
    }

    /// Another handle on the same communicator.
    pub(crate) fn handle(&self) -> LocalComm {
        LocalComm {
            rank: self.rank,
            world_rank: self.world_rank,
            group: Arc::clone(&self.group),
            pending: Arc::clone(&self.pending),
        }
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn size(&self) -> usize {
        self.group.boxes.len()
    }

    /// Posts a message (the local world's sends are buffered, so they never
    /// block).
    pub(crate) fn post(&self, dest: usize, ctx: Ctx, tag: i32, payload: Box<dyn Any + Send>) {
        self.post_envelope(dest, ctx, tag, payload, None);
    }

    /// Posts a vector of elements (the buffer path, and the object path's
    /// bytes), remembering their type for the errors of a receive.
    pub(crate) fn post_vec<T: Send + 'static>(&self, dest: usize, tag: i32, v: Vec<T>) {
        let elems = Elems {
            name: std::any::type_name::<T>(),
            size: std::mem::size_of::<T>(),
            len: v.len(),
        };
        self.post_envelope(dest, Ctx::User, tag, Box::new(v), Some(elems));
    }

    fn post_envelope(
        &self,
        dest: usize,
        ctx: Ctx,
        tag: i32,
        payload: Box<dyn Any + Send>,
        elems: Option<Elems>,
    ) {
        let mailbox = &self.group.boxes[dest];
        lock(&mailbox.queue).push_back(Envelope {
            src: self.rank,
            tag,
            ctx,
            payload,
            elems,
        });
        mailbox.ready.notify_all();
    }

    /// The first message that matches, in the order each sender sent them;
    /// with `wait` false, `None` when there is none yet.
    pub(crate) fn take(
        &self,
        source: Source,
        tag: TagMatch,
        ctx: Ctx,
        wait: bool,
    ) -> Result<Option<Envelope>, Error> {
        let mailbox = &self.group.boxes[self.rank];
        let mut queue = lock(&mailbox.queue);
        loop {
            if let Some(i) = find(&queue, source, tag, ctx) {
                return Ok(queue.remove(i));
            }
            if !wait {
                return Ok(None);
            }
            self.check_hope(source)?;
            queue = mailbox
                .ready
                .wait_timeout(queue, Duration::from_millis(20))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits a little for a message that matches (returns at once if one is
    /// there): for a receive that must let earlier receives go first. An
    /// error where none can come.
    pub(crate) fn idle(&self, source: Source, tag: TagMatch) -> Result<(), Error> {
        let mailbox = &self.group.boxes[self.rank];
        let queue = lock(&mailbox.queue);
        if find(&queue, source, tag, Ctx::User).is_some() {
            return Ok(());
        }
        self.check_hope(source)?;
        drop(
            mailbox
                .ready
                .wait_timeout(queue, Duration::from_millis(20))
                .unwrap_or_else(PoisonError::into_inner),
        );
        Ok(())
    }

    /// An error when no message from `source` can come any more. Called
    /// with this rank's mailbox locked, after no message matched.
    fn check_hope(&self, source: Source) -> Result<(), Error> {
        if let Some(failed) = self.group.world.failed() {
            return Err(Error::PeerFailed {
                rank: self.world_rank,
                failed,
            });
        }
        // A sender posts before it finishes, and we hold our mailbox's
        // lock: a finished sender's messages are all in the queue, so if
        // none matched, none will come.
        let world = &self.group.world;
        let gone = |r: usize| world.has_finished(self.group.world_ranks[r]);
        let hopeless = match source {
            Source::Rank(r) => r != self.rank && gone(r),
            Source::Any => {
                self.size() > 1 && (0..self.size()).filter(|&r| r != self.rank).all(gone)
            }
        };
        if hopeless {
            return Err(Error::PeerFinished {
                rank: self.world_rank,
                from: match source {
                    Source::Rank(r) => Some(self.group.world_ranks[r]),
                    Source::Any => None,
                },
            });
        }
        Ok(())
    }

    /// The payload of `env` as a `P`.
    pub(crate) fn open<P: 'static>(&self, env: Envelope, op: &'static str) -> Result<P, Error> {
        let src = env.src;
        env.payload
            .downcast::<P>()
            .map(|b| *b)
            .map_err(|_| Error::Mismatch {
                rank: self.rank,
                op,
                from: src,
                detail: format!(
                    "the ranks call `{op}` with different element types; this rank expects {}",
                    std::any::type_name::<P>()
                ),
            })
    }

    fn coll_send<P: Any + Send>(&self, dest: usize, value: P) {
        self.post(dest, Ctx::Coll, 0, Box::new(value));
    }

    fn coll_recv<P: 'static>(&self, src: usize, op: &'static str) -> Result<P, Error> {
        let env = self.take(Source::Rank(src), TagMatch::Any, Ctx::Coll, true)?;
        match env {
            Some(env) => self.open(env, op),
            None => unreachable!("a blocking take returns a message or an error"),
        }
    }

    /// Root sends its value to everyone. `value` is `Some` on the root.
    pub(crate) fn bcast<P: Any + Send + Clone>(
        &self,
        root: usize,
        value: Option<P>,
        op: &'static str,
    ) -> Result<P, Error> {
        if self.rank == root {
            let value = value.ok_or(Error::RootValueMissing {
                rank: self.rank,
                op,
                root,
            })?;
            for r in (0..self.size()).filter(|&r| r != root) {
                self.coll_send(r, value.clone());
            }
            Ok(value)
        } else {
            self.coll_recv(root, op)
        }
    }

    /// Everyone's value at the root, in rank order.
    pub(crate) fn gather<P: Any + Send>(
        &self,
        root: usize,
        value: P,
        op: &'static str,
    ) -> Result<Option<Vec<P>>, Error> {
        if self.rank == root {
            let mut value = Some(value);
            let mut all = Vec::with_capacity(self.size());
            for r in 0..self.size() {
                if r == root {
                    all.extend(value.take());
                } else {
                    all.push(self.coll_recv(r, op)?);
                }
            }
            Ok(Some(all))
        } else {
            self.coll_send(root, value);
            Ok(None)
        }
    }

    /// The root's `values[r]` to rank `r`.
    pub(crate) fn scatter<P: Any + Send>(
        &self,
        root: usize,
        values: Option<Vec<P>>,
        op: &'static str,
    ) -> Result<P, Error> {
        if self.rank == root {
            let values = values.ok_or(Error::RootValueMissing {
                rank: self.rank,
                op,
                root,
            })?;
            if values.len() != self.size() {
                return Err(Error::Length {
                    rank: self.rank,
                    op,
                    what: "the root's list",
                    got: values.len(),
                    expected: self.size(),
                });
            }
            let mut mine = None;
            for (r, v) in values.into_iter().enumerate() {
                if r == root {
                    mine = Some(v);
                } else {
                    self.coll_send(r, v);
                }
            }
            Ok(mine.unwrap_or_else(|| unreachable!("the root is a rank of the group")))
        } else {
            self.coll_recv(root, op)
        }
    }

    /// Everyone's value on every rank, in rank order.
    pub(crate) fn allgather<P: Any + Send + Clone>(
        &self,
        value: P,
        op: &'static str,
    ) -> Result<Vec<P>, Error> {
        let all = self.gather(0, value, op)?;
        self.bcast(0, all, op)
    }

    pub(crate) fn barrier(&self) -> Result<(), Error> {
        let done = self.gather(0, (), "barrier")?.map(|_| ());
        self.bcast(0, done, "barrier")
    }

    /// Ranks of the same color form a new group, ordered by `(key, rank)`.
    pub(crate) fn split(&self, color: Option<u32>, key: i32) -> Result<Option<LocalComm>, Error> {
        let all = self.allgather((color, key), "split")?;
        let Some(color) = color else {
            return Ok(None);
        };
        let mut members: Vec<(i32, usize)> = all
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| *c == Some(color))
            .map(|(r, (_, k))| (*k, r))
            .collect();
        members.sort_unstable();
        let leader = members[0].1;
        let new_rank = members
            .iter()
            .position(|&(_, r)| r == self.rank)
            .unwrap_or_else(|| unreachable!("this rank has this color"));
        let group = if self.rank == leader {
            let group = Arc::new(Group {
                boxes: members.iter().map(|_| Mailbox::default()).collect(),
                world_ranks: members
                    .iter()
                    .map(|&(_, r)| self.group.world_ranks[r])
                    .collect(),
                world: Arc::clone(&self.group.world),
            });
            for &(_, r) in members.iter().skip(1) {
                self.coll_send(r, Arc::clone(&group));
            }
            group
        } else {
            self.coll_recv::<Arc<Group>>(leader, "split")?
        };
        Ok(Some(LocalComm {
            rank: new_rank,
            world_rank: self.world_rank,
            group,
            pending: Arc::default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpi::Op;

    #[test]
    fn collectives_agree_with_serial() {
        let out = run(3, |w| {
            let r = w.rank();
            let b: String = w.bcast(1, (r == 1).then(|| "hi".to_string())).unwrap();
            let g = w.gather(2, &(r * 10)).unwrap();
            let a = w.allgather(&vec![r; r]).unwrap();
            let s: usize = w.scatter(0, (r == 0).then(|| vec![5usize, 6, 7])).unwrap();
            let m = w.all_reduce(r as i64 - 1, Op::Max).unwrap();
            let c = w.all_reduce_with(format!("{r}"), |a, b| a + &b).unwrap();
            w.barrier().unwrap();
            (b, g, a, s, m, c)
        });
        for (r, (b, g, a, s, m, c)) in out.into_iter().enumerate() {
            assert_eq!(b, "hi");
            assert_eq!(g, (r == 2).then(|| vec![0, 10, 20]));
            assert_eq!(a, vec![vec![], vec![1], vec![2, 2]]);
            assert_eq!(s, 5 + r);
            assert_eq!(m, 1);
            assert_eq!(c, "012");
        }
    }

    #[test]
    fn a_panicking_rank_releases_the_others() {
        let r = catch_unwind(|| {
            run(3, |w| {
                if w.rank() == 1 {
                    panic!("boom");
                }
                w.barrier()
            })
        });
        let msg = r.err().and_then(|p| p.downcast::<&str>().ok().map(|s| *s));
        assert_eq!(msg, Some("boom"));
    }
}
