//! What can go wrong in a communication, naming the rank.

use serde::de::DeserializeOwned;

use crate::codec::CodecError;

/// A communication that could not be done. Every message starts with the
/// rank that saw the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value could not be encoded or decoded on the object path: the ranks
    /// disagree on its type, or its `Serialize` impl failed.
    #[error(
        "rank {rank}: `{op}`: {}{source} (do all ranks use the same type here?)",
        from.map(|f| format!("from rank {f}: ")).unwrap_or_default()
    )]
    Codec {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The rank whose message did not decode (`None`: encoding here).
        from: Option<usize>,
        /// What the codec said.
        #[source]
        source: CodecError,
    },
    /// A value of another type than the one received (object path): the
    /// ranks disagree on the type of a message.
    #[error(
        "rank {rank}: `{op}`: the message from rank {from} holds a `{sent}`, but this rank \
         receives a `{expected}`; send and receive the same type (or serde-compatible ones, \
         such as `&str` and `String`)"
    )]
    WrongType {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The sender.
        from: usize,
        /// The type sent, as named by the sender.
        sent: String,
        /// The type this rank receives.
        expected: String,
    },
    /// A tag outside `0..=tag_ub` (MPI's `MPI_TAG_UB`, see
    /// [`Comm::tag_ub`](super::Comm::tag_ub)).
    #[error("rank {rank}: `{op}`: tag {tag} is outside 0..={tag_ub}, the tags MPI accepts")]
    Tag {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The tag given.
        tag: i32,
        /// The largest tag (`MPI_TAG_UB`).
        tag_ub: i32,
    },
    /// A collective whose counts or displacements do not fit MPI's `int`
    /// (more than `i32::MAX` elements for one rank, or in all). Point to
    /// point messages and broadcasts of any size work (they go in pieces).
    #[error(
        "rank {rank}: `{op}`: {what} reaches {got} elements, more than one MPI call can \
         describe ({max}); split the data into several calls, or send it point to point or by \
         `bcast`, which go in pieces"
    )]
    TooLarge {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// What is too large.
        what: &'static str,
        /// Its count or displacement.
        got: u64,
        /// The largest MPI accepts.
        max: usize,
    },
    /// A rank number outside the communicator.
    #[error("rank {rank}: `{op}` names rank {target}, but the communicator has ranks 0..{size}")]
    NoSuchRank {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The rank named.
        target: usize,
        /// The communicator's size.
        size: usize,
    },
    /// The root of a rooted operation passed `None`, or another rank passed
    /// `Some` where it must not.
    #[error("rank {rank}: `{op}`: the root (rank {root}) must pass `Some(value)`")]
    RootValueMissing {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The root.
        root: usize,
    },
    /// The ranks passed buffers of different lengths to a collective that
    /// needs the same length on every rank (`bcast_buf`, `all_reduce_buf`,
    /// `gather_buf`…): every rank gets this error, before any data moves.
    #[error(
        "rank {rank}: `{op}`: the ranks pass {what}s of different lengths: {mine} elements \
         on this rank, {other} on rank {other_rank} (every rank must pass the same length)"
    )]
    Uneven {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// Which argument.
        what: &'static str,
        /// Its length on this rank.
        mine: usize,
        /// The lowest rank whose length differs from this rank's.
        other_rank: usize,
        /// That rank's length.
        other: usize,
    },
    /// The ranks passed buffers of different element types to a buffer
    /// collective (`f64` on one rank, `f32` or `i64` on another): MPI
    /// needs the same type on every rank, and would move the wrong number
    /// of bytes or combine mismatched values. Every rank gets this error,
    /// before any data moves.
    #[error(
        "rank {rank}: `{op}`: the ranks pass different element types: `{mine}` on this rank, \
         `{other}` on rank {other_rank} (every rank must pass the same type)"
    )]
    ElementType {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// This rank's element type.
        mine: String,
        /// A rank of another type: rank 0, or, on the ranks of rank 0's
        /// type, the lowest rank of another.
        other_rank: usize,
        /// That rank's element type.
        other: String,
    },
    /// The counts of a v-form collective (`gatherv_buf`, `scatterv_buf`,
    /// `all_gatherv_buf`, `all_to_allv_buf`) disagree between ranks: what
    /// one rank sends another is not what that rank expects. Every rank
    /// gets this error, before any data moves.
    #[error("rank {rank}: `{op}`: the ranks' counts disagree: {detail}")]
    Counts {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The first disagreement: which rank, how many elements, how many
        /// expected.
        detail: String,
    },
    /// A buffer or a list of the wrong length.
    #[error("rank {rank}: `{op}`: {what} has {got} elements; expected {expected}")]
    Length {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// Which argument.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length needed.
        expected: usize,
    },
    /// A message arrived with another element type or more elements than
    /// the receive buffer holds (buffer path). The message is consumed.
    #[error(
        "rank {rank}: `{op}`: the message from rank {from} does not fit the receive buffer \
         ({detail})"
    )]
    Mismatch {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The sender.
        from: usize,
        /// What differs.
        detail: String,
    },
    /// A request that already completed (its value, its vector or its
    /// error returned) was tested or waited on again.
    #[error(
        "rank {rank}: `{op}`: this request has completed already (its result was returned); a \
         request completes once"
    )]
    RequestSpent {
        /// The rank that saw it.
        rank: usize,
        /// The operation that started the request (`irecv`, `isend_buf`,
        /// `ibcast_buf`…).
        op: &'static str,
    },
    /// In a [`local`](super::local) world: this rank waits for a message
    /// that can never come, because the rank(s) that could send it have
    /// returned (real MPI would hang here).
    #[error(
        "rank {rank}: waits for a message from {}, which returned without sending it",
        match from { Some(s) => format!("rank {s}"), None => "any rank, but every other rank".into() }
    )]
    PeerFinished {
        /// The rank that saw it.
        rank: usize,
        /// The rank it waited for (`None`: any rank).
        from: Option<usize>,
    },
    /// In a [`local`](super::local) world: every rank that has not returned
    /// waits for a message or a collective that no rank can send any more,
    /// nothing having been sent for `stalled` (on real MPI the job would
    /// hang; the hang watchdog aborts it). Each waiting rank gets it.
    #[error(
        "rank {rank}: deadlock: ranks {waiting:?} all wait for a message or a collective, and no \
         rank has sent anything for {stalled:?}; check that every receive has its send (two ranks \
         that receive from each other first wait for ever) and that every rank calls the same \
         collectives in the same order"
    )]
    Deadlock {
        /// The rank that saw it.
        rank: usize,
        /// The ranks that wait (every rank that has not returned).
        waiting: Vec<usize>,
        /// How long nothing was sent while they all waited.
        stalled: std::time::Duration,
    },
    /// Another rank of a [`local`](super::local) world failed, so this one
    /// stops instead of waiting forever.
    #[error("rank {rank}: stopped because rank {failed} failed")]
    PeerFailed {
        /// The rank that saw it.
        rank: usize,
        /// The rank that failed.
        failed: usize,
    },
    /// An argument that describes no valid call: a Cartesian direction or
    /// coordinate out of range, dims that do not multiply to the size, ranks
    /// that disagree on a topology; counts or displacements that do not fit
    /// their buffers (`scatterv_buf`, `all_to_allv_buf`,
    /// `reduce_scatter_buf`…), or another rank's refusal of its own
    /// (`alltoall`).
    #[error("rank {rank}: `{op}`: {detail}")]
    Argument {
        /// The rank that saw it.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// What is wrong, and how to fix it.
        detail: String,
    },
}

impl Error {
    pub(crate) fn codec(rank: usize, op: &'static str) -> impl FnOnce(CodecError) -> Error {
        move |source| Error::Codec {
            rank,
            op,
            from: None,
            source,
        }
    }

    /// A decode error of a message from `from`: [`Error::WrongType`] when
    /// the types differ, else [`Error::Codec`].
    pub(crate) fn decoding(rank: usize, op: &'static str, from: usize, e: CodecError) -> Error {
        match e.wrong_type() {
            Some((sent, expected)) => Error::WrongType {
                rank,
                op,
                from,
                sent: sent.to_owned(),
                expected: expected.to_owned(),
            },
            None => Error::Codec {
                rank,
                op,
                from: Some(from),
                source: e,
            },
        }
    }
}

/// Decodes a value that rank `from` sent to rank `rank`, for `op`: a
/// decode error is an [`Error::WrongType`] or an [`Error::Codec`].
pub(crate) fn decode<T: DeserializeOwned>(
    rank: usize,
    op: &'static str,
    from: usize,
    bytes: &[u8],
) -> Result<T, Error> {
    crate::codec::decode(bytes).map_err(|e| Error::decoding(rank, op, from, e))
}
