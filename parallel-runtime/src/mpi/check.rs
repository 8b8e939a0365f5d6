//! The checks every communication makes before it starts, the same on every
//! transport: ranks in range, tags within `tag_ub`, counts within one MPI
//! call. Each failed check is an [`Error`] naming this rank.

use super::error::Error;
use super::limits::max_count;
use super::message::{Source, Tag, TagMatch};
use super::transport::Transport;

/// The checks, on any transport.
pub(crate) trait Checks: Transport {
    fn check_rank(&self, op: &'static str, target: usize) -> Result<(), Error> {
        if target < self.size() {
            Ok(())
        } else {
            Err(Error::NoSuchRank {
                rank: self.rank(),
                op,
                target,
                size: self.size(),
            })
        }
    }

    fn check_source(&self, op: &'static str, source: Source) -> Result<(), Error> {
        match source {
            Source::Any => Ok(()),
            Source::Rank(r) => self.check_rank(op, r),
        }
    }

    fn check_tag(&self, op: &'static str, tag: Tag) -> Result<(), Error> {
        let tag_ub = self.tag_ub();
        if (0..=tag_ub).contains(&tag) {
            Ok(())
        } else {
            Err(Error::Tag {
                rank: self.rank(),
                op,
                tag,
                tag_ub,
            })
        }
    }

    fn check_tag_match(&self, op: &'static str, tag: TagMatch) -> Result<(), Error> {
        match tag {
            TagMatch::Any => Ok(()),
            TagMatch::Tag(t) => self.check_tag(op, t),
        }
    }

    /// The checks of a receive's source and tag.
    fn check_recv(&self, op: &'static str, source: Source, tag: TagMatch) -> Result<(), Error> {
        self.check_source(op, source)?;
        self.check_tag_match(op, tag)
    }

    /// An error when a count or displacement of a collective (`lens`, one
    /// per rank, of elements) is beyond one MPI call.
    fn check_varcount(&self, op: &'static str, lens: &[u64]) -> Result<(), Error> {
        match beyond_counts(lens) {
            None => Ok(()),
            Some(got) => Err(self.too_large(op, "a count or displacement", got)),
        }
    }

    fn too_large(&self, op: &'static str, what: &'static str, got: u64) -> Error {
        Error::TooLarge {
            rank: self.rank(),
            op,
            what,
            got,
            max: max_count(),
        }
    }

    /// The root's receive buffer of a rooted collective, of `len`
    /// elements (`None`: not given): on the root it must be given and hold
    /// `expected`. Whether this rank is the root.
    fn check_root_recv(
        &self,
        op: &'static str,
        root: usize,
        len: Option<usize>,
        expected: usize,
    ) -> Result<bool, Error> {
        if self.rank() != root {
            return Ok(false);
        }
        match len {
            None => Err(Error::RootValueMissing {
                rank: root,
                op,
                root,
            }),
            Some(got) if got != expected => Err(Error::Length {
                rank: root,
                op,
                what: "the root's receive buffer",
                got,
                expected,
            }),
            Some(_) => Ok(true),
        }
    }

    /// An error when a collective of `n` elements per rank (so `n *
    /// size()` in all) is beyond one MPI call.
    fn check_blocks(&self, op: &'static str, n: usize) -> Result<(), Error> {
        let all = (n as u64).saturating_mul(self.size() as u64);
        if all > max_count() as u64 {
            return Err(self.too_large(op, "the blocks of all ranks", all));
        }
        Ok(())
    }
}

impl<T: Transport> Checks for T {}

/// The first count or displacement of consecutive blocks of `lens`
/// elements that one MPI call cannot describe.
pub(crate) fn beyond_counts(lens: &[u64]) -> Option<u64> {
    let max = max_count() as u64;
    let mut at = 0u64;
    for &n in lens {
        if n > max {
            return Some(n);
        }
        if at > max {
            return Some(at);
        }
        at = at.saturating_add(n);
    }
    None
}
