//! The local world: N ranks as threads of this process, each with its own
//! end of a communicator; messages go through a mailbox per rank. The
//! public entry point is `mpi::local::run`.
//!
//! The ranks have the same semantics as under `mpirun` (values are encoded
//! and decoded on the object path, ranks match messages by source and tag
//! in the order sent). When a rank panics, the ranks waiting on it get
//! [`Error::PeerFailed`] instead of waiting forever.

mod collective;
mod mailbox;
mod nonblocking;
mod stall;
mod vector;

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailbox::{find, Ctx, Elems, Mailbox};
pub(crate) use mailbox::{lock, Envelope};

use super::{InFlight, Transport};
use crate::mpi::error::Error;
use crate::mpi::limits::{max_count, pieces_of};
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Reduction, Scalar};

/// State shared by every group of one local world.
#[derive(Default)]
pub(crate) struct World {
    /// How many ranks it has.
    size: usize,
    /// Its posted messages and its ranks' waits, to tell a deadlock.
    stall: stall::Stall,
    /// The first rank (of the world) that failed.
    failed: Mutex<Option<usize>>,
    /// The ranks (of the world) whose function has returned.
    finished: Mutex<std::collections::BTreeSet<usize>>,
}

impl World {
    /// Rank `rank` failed (the first one to fail is kept).
    pub(crate) fn fail(&self, rank: usize) {
        let mut f = lock(&self.failed);
        if f.is_none() {
            *f = Some(rank);
        }
    }
    /// The first rank that failed.
    pub(crate) fn failed(&self) -> Option<usize> {
        *lock(&self.failed)
    }
    /// Rank `rank`'s function has returned.
    pub(crate) fn finish(&self, rank: usize) {
        lock(&self.finished).insert(rank);
    }
    fn has_finished(&self, rank: usize) -> bool {
        lock(&self.finished).contains(&rank)
    }
}

/// Whether rank `r` of `world` has returned.
fn gone_world(world: &World) -> impl Fn(usize) -> bool + '_ {
    move |r| world.has_finished(r)
}

/// A send of the local world: done when it started (sends are buffered),
/// holding the vector to give back.
pub(crate) struct Sent<T>(Vec<T>);

impl<T> InFlight<T> for Sent<T> {
    fn is_done(&self) -> bool {
        true
    }
    fn test(&mut self) -> Option<Vec<T>> {
        Some(std::mem::take(&mut self.0))
    }
    fn wait(&mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }
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
pub(crate) struct Local {
    rank: usize,
    world_rank: usize,
    group: Arc<Group>,
}

impl Local {
    /// A world of `n` ranks: its shared state, and each rank's end of its
    /// world communicator, in rank order.
    pub(crate) fn world(n: usize) -> (Arc<World>, Vec<Local>) {
        let world = Arc::new(World {
            size: n,
            ..World::default()
        });
        let group = Group::new(n, &world);
        let ends = (0..n)
            .map(|rank| Local {
                rank,
                world_rank: rank,
                group: Arc::clone(&group),
            })
            .collect();
        (world, ends)
    }

    /// A world of one rank: what a program started without `mpirun` gets.
    pub(crate) fn single() -> Local {
        let world = Arc::new(World {
            size: 1,
            ..World::default()
        });
        Local {
            rank: 0,
            world_rank: 0,
            group: Group::new(1, &world),
        }
    }

    /// Posts a message (the local world's sends are buffered, so they never
    /// block).
    fn post(&self, dest: usize, ctx: Ctx, tag: i32, payload: Box<dyn Any + Send>) {
        self.post_envelope(dest, ctx, tag, payload, None);
    }

    /// Posts a vector of elements (the buffer path, and the object path's
    /// bytes), remembering their type for the errors of a receive.
    fn post_vec<T: Send + 'static>(&self, dest: usize, tag: i32, v: Vec<T>) {
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
        self.group.world.stall.posted();
    }

    /// The first message that matches, in the order each sender sent them;
    /// with `wait` false, `None` when there is none yet.
    fn take(
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
        if let Some(waiting) =
            world
                .stall
                .empty_look(self.world_rank, world.size, gone_world(world))
        {
            return Err(Error::Deadlock {
                rank: self.world_rank,
                waiting,
                stalled: stall::STALL,
            });
        }
        Ok(())
    }
}

impl Transport for Local {
    type Matched = Envelope;
    type Sending<T: Scalar> = Sent<T>;

    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.group.boxes.len()
    }

    /// `i32::MAX`, OpenMPI's.
    fn tag_ub(&self) -> Tag {
        Tag::MAX
    }

    fn handle(&self) -> Local {
        Local {
            rank: self.rank,
            world_rank: self.world_rank,
            group: Arc::clone(&self.group),
        }
    }

    /// Objects are posted whole (in pieces of `max_count` when longer).
    fn object_piece(&self) -> usize {
        max_count()
    }

    fn send<T: Scalar>(&self, piece: &[T], dest: usize, tag: Tag) {
        self.post_vec(dest, tag, piece.to_vec());
    }

    fn send_owned<T: Scalar>(&self, piece: Vec<T>, dest: usize, tag: Tag) {
        self.post_vec(dest, tag, piece);
    }

    /// Buffered: done at once.
    fn isend<T: Scalar>(&self, buf: Vec<T>, dest: usize, tag: Tag, piece: usize) -> Sent<T> {
        for p in pieces_of(&buf, piece) {
            self.send(p, dest, tag);
        }
        Sent(buf)
    }

    fn probe(&self, source: Source, tag: TagMatch, wait: bool) -> Result<Option<Envelope>, Error> {
        self.take(source, tag, Ctx::User, wait)
    }

    /// Waits a little for a message that matches (returns at once if one is
    /// there): for a receive that must let earlier receives go first. An
    /// error where none can come.
    fn idle(&self, source: Source, tag: TagMatch) -> Result<(), Error> {
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

    fn bcast_bytes(
        &self,
        root: usize,
        bytes: Option<Vec<u8>>,
        op: &'static str,
    ) -> Result<Vec<u8>, Error> {
        self.bcast(root, bytes, op)
    }

    fn all_lens(&self, n: usize, op: &'static str) -> Result<Vec<u64>, Error> {
        self.allgather(n as u64, op)
    }

    fn gather_bytes(
        &self,
        root: usize,
        bytes: Vec<u8>,
        _lens: &[u64],
        op: &'static str,
    ) -> Result<Option<Vec<Vec<u8>>>, Error> {
        self.gather(root, bytes, op)
    }

    fn allgather_bytes(
        &self,
        bytes: Vec<u8>,
        _lens: &[u64],
        op: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error> {
        self.allgather(bytes, op)
    }

    fn scatter_bytes(
        &self,
        root: usize,
        parts: Option<Result<Vec<Vec<u8>>, u64>>,
        op: &'static str,
    ) -> Result<Result<Vec<u8>, u64>, Error> {
        let parts = parts.map(|p| match p {
            Ok(parts) => parts.into_iter().map(Ok).collect(),
            Err(n) => vec![Err(n); self.size()],
        });
        self.scatter(root, parts, op)
    }

    fn bcast_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        buf: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        let got = self.bcast(root, (self.rank == root).then(|| buf.to_vec()), op)?;
        self.copy_in(op, "the root's buffer", buf, &got)
    }

    fn scatter_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: Option<&[T]>,
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        let n = recv.len();
        let parts = send.map(|s| s.chunks(n.max(1)).map(<[T]>::to_vec).collect::<Vec<_>>());
        let parts = parts.map(|mut p| {
            p.resize_with(self.size(), Vec::new);
            p
        });
        let got = self.scatter(root, parts, op)?;
        self.copy_in(op, "the block sent", recv, &got)
    }

    fn gather_into<T: Scalar + AnyBitPattern>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        op: &'static str,
    ) -> Result<(), Error> {
        if let (Some(all), Some(recv)) = (self.gather(root, send.to_vec(), op)?, recv) {
            let flat: Vec<T> = all.concat();
            self.copy_in(op, "the blocks gathered", recv, &flat)?;
        }
        Ok(())
    }

    fn all_gather_into<T: Scalar + AnyBitPattern>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: &'static str,
    ) -> Result<(), Error> {
        let all = self.allgather(send.to_vec(), op)?;
        self.copy_in(op, "the blocks gathered", recv, &all.concat())
    }

    fn reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        root: usize,
        send: &[T],
        recv: Option<&mut [T]>,
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error> {
        if let (Some(all), Some(recv)) = (self.gather(root, send.to_vec(), op)?, recv) {
            self.fold_into(op, recv, &all, reduction)?;
        }
        Ok(())
    }

    fn all_reduce_into<T: Scalar + AnyBitPattern, O: Reduction<T>>(
        &self,
        send: &[T],
        recv: &mut [T],
        reduction: O,
        op: &'static str,
    ) -> Result<(), Error> {
        let all = self.allgather(send.to_vec(), op)?;
        self.fold_into(op, recv, &all, reduction)
    }

    fn barrier(&self) -> Result<(), Error> {
        let done = self.gather(0, (), "barrier")?.map(|_| ());
        self.bcast(0, done, "barrier")
    }

    fn split(&self, color: Option<u32>, key: i32) -> Result<Option<Local>, Error> {
        self.split_group(color, key)
    }

    /// Exits this process.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }

    // ----- issue 11, object path at buffer speed: whole counts --------------

    fn whole_bytes(&self, source: usize, tag: Tag, first: usize) -> usize {
        self.count_pieces(source, tag, first)
    }
}
