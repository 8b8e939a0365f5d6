//! Issue 11's operations in the local world: nonblocking collectives,
//! probes that leave the message, Cartesian communicators.
//!
//! A nonblocking collective posts what this rank sends when it starts
//! (sends are buffered, so that never waits), then takes the parts it needs
//! as they arrive, whenever it is tested or waited on. Its messages travel
//! on their own context ([`Ctx::Nb`]) with the collective's number as the
//! tag, so they never mix with the user's messages, with blocking
//! collectives, or with another nonblocking collective. Every rank sends
//! its part to every rank that needs it: more messages than MPI's trees,
//! but this world is a test harness.

use super::mailbox::{find, lock, Ctx};
use super::Local;
use crate::mpi::error::Error;
use crate::mpi::message::{Source, Tag, TagMatch};
use crate::mpi::op::{AnyBitPattern, Op, Operand, Scalar};
use crate::mpi::transport::nonblocking::{CollFlight, Extended, Peeked};
use crate::mpi::transport::{Matched, Transport};

/// What a collective makes of this rank's buffer and the parts received
/// (indexed by rank; `None` for ranks it needs nothing from).
type Finish<'c, T, R> = Box<dyn FnOnce(Vec<T>, Vec<Option<Vec<T>>>) -> Result<R, Error> + 'c>;

/// What each part says of the collective that sent it: its operation and
/// root. MPI does not check that every rank starts the same collectives in
/// the same order; the local world does, so that a test mixing them up
/// fails with an error instead of combining one collective's data with
/// another's.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    op: &'static str,
    root: Option<usize>,
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`", self.op)?;
        match self.root {
            Some(r) => write!(f, " with root {r}"),
            None => Ok(()),
        }
    }
}

/// One rank's part of a nonblocking collective of the local world.
struct LocalColl<'c, T, R> {
    t: &'c Local,
    tag: i32,
    stamp: Stamp,
    own: Vec<T>,
    parts: Vec<Option<Vec<T>>>,
    /// The ranks whose part has not arrived yet.
    waiting: Vec<usize>,
    finish: Option<Finish<'c, T, R>>,
}

impl<T: Send + 'static, R> CollFlight<R> for LocalColl<'_, T, R> {
    fn poll(&mut self, wait: bool) -> Result<Option<R>, Error> {
        while let Some(&r) = self.waiting.first() {
            let Some(env) = self
                .t
                .take(Source::Rank(r), TagMatch::Tag(self.tag), Ctx::Nb, wait)?
            else {
                return Ok(None);
            };
            let other_type = |_| Error::Mismatch {
                rank: self.t.rank,
                op: self.stamp.op,
                from: r,
                detail: format!(
                    "the ranks call `{}` with different element types; this rank expects {}",
                    self.stamp.op,
                    std::any::type_name::<T>()
                ),
            };
            let (stamp, part) = *env
                .payload
                .downcast::<(Stamp, Vec<T>)>()
                .map_err(other_type)?;
            if stamp != self.stamp {
                return Err(Error::Argument {
                    rank: self.t.rank,
                    op: self.stamp.op,
                    detail: format!(
                        "rank {r} started {stamp} as its nonblocking collective #{}, this rank \
                         {}; every rank starts the same collectives in the same order, with the \
                         same root (MPI does not check: its ranks would wait forever or mix the \
                         collectives' data)",
                        self.tag, self.stamp
                    ),
                });
            }
            self.parts[r] = Some(part);
            self.waiting.remove(0);
        }
        let Some(finish) = self.finish.take() else {
            unreachable!("a completed collective is not polled again")
        };
        let own = std::mem::take(&mut self.own);
        finish(own, std::mem::take(&mut self.parts)).map(Some)
    }
}

impl Local {
    /// The ranks other than this one.
    fn others(&self) -> Vec<usize> {
        (0..self.group.boxes.len())
            .filter(|&r| r != self.rank)
            .collect()
    }

    /// Starts a collective: posts `own` to the ranks in `to` now, takes a
    /// part from each rank in `from` as it comes, then `finish`es.
    fn start<'c, T: Clone + Send + 'static, R: 'c>(
        &'c self,
        seq: i32,
        stamp: Stamp,
        own: Vec<T>,
        to: &[usize],
        from: Vec<usize>,
        finish: Finish<'c, T, R>,
    ) -> Box<dyn CollFlight<R> + 'c> {
        for &r in to {
            self.post(r, Ctx::Nb, seq, Box::new((stamp, own.clone())));
        }
        Box::new(LocalColl {
            t: self,
            tag: seq,
            stamp,
            own,
            parts: (0..self.group.boxes.len()).map(|_| None).collect(),
            waiting: from,
            finish: Some(finish),
        })
    }

    /// Every rank's buffer in rank order (this rank's is `own`), each
    /// checked to hold `n` elements.
    fn all_parts<T>(
        &self,
        op: &'static str,
        own: Vec<T>,
        parts: Vec<Option<Vec<T>>>,
        n: usize,
    ) -> Result<Vec<Vec<T>>, Error> {
        let mut own = Some(own);
        let all: Vec<Vec<T>> = parts
            .into_iter()
            .enumerate()
            .map(|(r, p)| if r == self.rank { own.take() } else { p })
            .map(Option::unwrap_or_default)
            .collect();
        match all.iter().find(|p| p.len() != n) {
            Some(p) => Err(Error::Length {
                rank: self.rank,
                op,
                what: "a rank's send buffer",
                got: p.len(),
                expected: n,
            }),
            None => Ok(all),
        }
    }
}

impl Extended for Local {
    fn ibarrier<'c>(&'c self, seq: i32) -> Box<dyn CollFlight<()> + 'c> {
        let others = self.others();
        let finish = Box::new(|_, _| Ok(()));
        self.start(
            seq,
            Stamp {
                op: "ibarrier",
                root: None,
            },
            Vec::<u8>::new(),
            &others,
            others.clone(),
            finish,
        )
    }

    fn ibcast<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        buf: Vec<T>,
        seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c> {
        const OP: &str = "ibcast_buf";
        if self.rank == root {
            return self.start(
                seq,
                Stamp {
                    op: OP,
                    root: Some(root),
                },
                buf,
                &self.others(),
                vec![],
                Box::new(|own, _| Ok(own)),
            );
        }
        let finish = move |mut own: Vec<T>, mut parts: Vec<Option<Vec<T>>>| {
            let got = parts[root].take().unwrap_or_default();
            self.copy_in(OP, "the root's buffer", &mut own, &got)?;
            Ok(own)
        };
        self.start(
            seq,
            Stamp {
                op: OP,
                root: Some(root),
            },
            buf,
            &[],
            vec![root],
            Box::new(finish),
        )
    }

    fn iall_reduce<'c, T: Operand>(
        &'c self,
        send: Vec<T>,
        reduction: Op,
        seq: i32,
    ) -> Box<dyn CollFlight<Vec<T>> + 'c> {
        const OP: &str = "iall_reduce_buf";
        let others = self.others();
        let finish = move |own: Vec<T>, parts| {
            let mut out = own.clone();
            let all = self.all_parts(OP, own, parts, out.len())?;
            self.fold_into(OP, &mut out, &all, reduction)?;
            Ok(out)
        };
        self.start(
            seq,
            Stamp { op: OP, root: None },
            send,
            &others,
            others.clone(),
            Box::new(finish),
        )
    }

    fn igather<'c, T: Scalar + AnyBitPattern>(
        &'c self,
        root: usize,
        send: Vec<T>,
        recv: Option<Vec<T>>,
        seq: i32,
    ) -> Box<dyn CollFlight<Option<Vec<T>>> + 'c> {
        const OP: &str = "igather_buf";
        match recv {
            Some(mut recv) if self.rank == root => {
                let finish = move |own: Vec<T>, parts| {
                    let n = own.len();
                    let all = self.all_parts(OP, own, parts, n)?;
                    self.copy_in(OP, "the blocks gathered", &mut recv, &all.concat())?;
                    Ok(Some(recv))
                };
                self.start(
                    seq,
                    Stamp {
                        op: OP,
                        root: Some(root),
                    },
                    send,
                    &[],
                    self.others(),
                    Box::new(finish),
                )
            }
            _ => self.start(
                seq,
                Stamp {
                    op: OP,
                    root: Some(root),
                },
                send,
                &[root],
                vec![],
                Box::new(|_, _| Ok(None)),
            ),
        }
    }

    fn peek<T: Scalar>(
        &self,
        source: Source,
        tag: TagMatch,
        wait: bool,
        op: &'static str,
    ) -> Result<Option<Peeked>, Error> {
        loop {
            {
                let queue = lock(&self.group.boxes[self.rank].queue);
                if let Some(i) = find(&queue, source, tag, Ctx::User) {
                    let e = &queue[i];
                    return Ok(Some(Peeked {
                        source: e.source(),
                        tag: e.tag(),
                        bytes: e.elems.map_or(0, |el| el.len * el.size),
                        fit: e.fit::<T>(op),
                    }));
                }
            }
            if !wait {
                return Ok(None);
            }
            self.idle(source, tag)?;
        }
    }

    /// The same ranks in the same order: a Cartesian communicator is a
    /// duplicate that knows its grid (kept by `Comm`).
    fn cart_create(
        &self,
        _dims: &[usize],
        _periods: &[bool],
        _reorder: bool,
    ) -> Result<Local, Error> {
        let dup = self.split_group(Some(0), self.rank as i32)?;
        Ok(dup.unwrap_or_else(|| unreachable!("every rank passed a color")))
    }
}

impl Local {
    /// The bytes of the object-path message from `source` with `tag` whose
    /// first piece holds `first`: an object is posted whole, but in pieces
    /// of a lowered `max_count` (tests), whose later pieces are counted
    /// too, waited for if the sender is still posting them.
    pub(super) fn count_pieces(&self, source: usize, tag: Tag, first: usize) -> usize {
        let p = self.object_piece();
        if first != p {
            return first;
        }
        let (mut total, mut k) = (0, 0);
        loop {
            let n = lock(&self.group.boxes[self.rank].queue)
                .iter()
                .filter(|e| e.ctx == Ctx::User && e.src == source && e.tag == tag)
                .nth(k)
                .map(|e| e.elems.map_or(0, |el| el.len * el.size));
            match n {
                Some(n) if n == p => (total, k) = (total + n, k + 1),
                Some(n) => return total + n,
                // The sender posts its pieces one after the other.
                None if self.check_hope(Source::Rank(source)).is_ok() => std::thread::yield_now(),
                None => return total,
            }
        }
    }
}
