//! The collectives of the local world, as messages of the collectives'
//! own context between the ranks' mailboxes: on any value (the object
//! path's bytes, the buffer path's vectors), then copied into the caller's
//! buffers.

use std::any::Any;
use std::sync::Arc;

use super::mailbox::{Ctx, Envelope, Mailbox};
use super::{Group, Local};
use crate::mpi::error::Error;
use crate::mpi::message::{Source, TagMatch};
use crate::mpi::op::Reduction;

impl Local {
    /// The payload of `env` as a `P`.
    fn open<P: 'static>(&self, env: Envelope, op: &'static str) -> Result<P, Error> {
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
    pub(super) fn bcast<P: Any + Send + Clone>(
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
            for r in (0..self.group.boxes.len()).filter(|&r| r != root) {
                self.coll_send(r, value.clone());
            }
            Ok(value)
        } else {
            self.coll_recv(root, op)
        }
    }

    /// Everyone's value at the root, in rank order.
    pub(super) fn gather<P: Any + Send>(
        &self,
        root: usize,
        value: P,
        op: &'static str,
    ) -> Result<Option<Vec<P>>, Error> {
        let size = self.group.boxes.len();
        if self.rank == root {
            let mut value = Some(value);
            let mut all = Vec::with_capacity(size);
            for r in 0..size {
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
    pub(super) fn scatter<P: Any + Send>(
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
            let size = self.group.boxes.len();
            if values.len() != size {
                return Err(Error::Length {
                    rank: self.rank,
                    op,
                    what: "the root's list",
                    got: values.len(),
                    expected: size,
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
    pub(super) fn allgather<P: Any + Send + Clone>(
        &self,
        value: P,
        op: &'static str,
    ) -> Result<Vec<P>, Error> {
        let all = self.gather(0, value, op)?;
        self.bcast(0, all, op)
    }

    /// Ranks of the same color form a new group, ordered by `(key, rank)`.
    pub(super) fn split_group(&self, color: Option<u32>, key: i32) -> Result<Option<Local>, Error> {
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
        Ok(Some(Local {
            rank: new_rank,
            world_rank: self.world_rank,
            group,
        }))
    }

    /// Copies `src` into `dst`, an error when their lengths differ.
    pub(super) fn copy_in<T: Copy>(
        &self,
        op: &'static str,
        what: &'static str,
        dst: &mut [T],
        src: &[T],
    ) -> Result<(), Error> {
        if dst.len() != src.len() {
            return Err(Error::Length {
                rank: self.rank,
                op,
                what,
                got: src.len(),
                expected: dst.len(),
            });
        }
        dst.copy_from_slice(src);
        Ok(())
    }

    /// `recv[i] = op(all[0][i], all[1][i], …)`, in rank order.
    pub(super) fn fold_into<T: Copy, O: Reduction<T>>(
        &self,
        what: &'static str,
        recv: &mut [T],
        all: &[Vec<T>],
        op: O,
    ) -> Result<(), Error> {
        for (r, part) in all.iter().enumerate() {
            if part.len() != recv.len() {
                return Err(Error::Length {
                    rank: self.rank,
                    op: what,
                    what: "a rank's send buffer",
                    got: part.len(),
                    expected: recv.len(),
                });
            }
            if r == 0 {
                recv.copy_from_slice(part);
            } else {
                for (a, b) in recv.iter_mut().zip(part) {
                    *a = op.combine(*a, *b);
                }
            }
        }
        Ok(())
    }
}
