//! What a message is addressed with: its tag, where a receive takes it from
//! ([`Source`]) and which tags it accepts ([`TagMatch`]), and what a receive
//! got ([`Status`]).

/// A message tag, as in MPI: an integer in `0..=`[`Comm::tag_ub`] chosen by
/// the program. Other tags are an [`Error::Tag`] on every backend.
///
/// [`Comm::tag_ub`]: super::Comm::tag_ub
/// [`Error::Tag`]: super::Error::Tag
pub type Tag = i32;

/// Where a receive takes its message from (mpi4py's `source=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Any rank (`MPI.ANY_SOURCE`).
    Any,
    /// This rank.
    Rank(usize),
}

impl From<usize> for Source {
    fn from(rank: usize) -> Self {
        Source::Rank(rank)
    }
}

impl Source {
    /// Whether a message from `rank` fits.
    pub(crate) fn fits(self, rank: usize) -> bool {
        match self {
            Source::Any => true,
            Source::Rank(r) => r == rank,
        }
    }
}

/// Which tags a receive accepts (mpi4py's `tag=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagMatch {
    /// Any tag (`MPI.ANY_TAG`).
    Any,
    /// This tag.
    Tag(Tag),
}

impl From<Tag> for TagMatch {
    fn from(tag: Tag) -> Self {
        TagMatch::Tag(tag)
    }
}

impl TagMatch {
    /// Whether a message with `tag` fits.
    pub(crate) fn fits(self, tag: Tag) -> bool {
        match self {
            TagMatch::Any => true,
            TagMatch::Tag(t) => t == tag,
        }
    }
}

/// Receive from any rank (`MPI.ANY_SOURCE`).
pub const ANY_SOURCE: Source = Source::Any;
/// Receive with any tag (`MPI.ANY_TAG`).
pub const ANY_TAG: TagMatch = TagMatch::Any;

/// What a receive got: who sent it, with which tag, and how much (mpi4py's
/// `MPI.Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub(crate) source: usize,
    pub(crate) tag: Tag,
    pub(crate) count: usize,
}

impl Status {
    /// The rank that sent the message (`status.Get_source()`).
    pub fn source(&self) -> usize {
        self.source
    }
    /// Its tag (`status.Get_tag()`).
    pub fn tag(&self) -> Tag {
        self.tag
    }
    /// Elements received on the buffer path; bytes of the encoded value on
    /// the object path (`status.Get_count()`).
    pub fn count(&self) -> usize {
        self.count
    }
}
