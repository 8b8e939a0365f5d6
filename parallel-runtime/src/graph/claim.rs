//! The state of a graph's node between computes ([`Claim`]), held in an
//! atomic that computes on several threads read and change at once
//! ([`AtomicClaim`]). Moved out of `node.rs` unchanged.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where a node stands between computes: the state its node's `Head` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Claim {
    /// Never computed: the task is there.
    Idle = 0,
    /// Held by a running compute.
    Claimed = 1,
    /// Computed, and the result kept for a handle that still exists.
    Done = 2,
    /// Failed, or cancelled because an input failed.
    Failed = 3,
    /// Computed, and the result handed on to its consumers.
    Empty = 4,
}

impl Claim {
    const ALL: [Claim; 5] = [
        Claim::Idle,
        Claim::Claimed,
        Claim::Done,
        Claim::Failed,
        Claim::Empty,
    ];
}

/// A [`Claim`] that computes on several threads read and change at once
/// (an `AtomicU8` that only ever holds a `Claim`).
pub(crate) struct AtomicClaim(AtomicU8);

impl AtomicClaim {
    pub(crate) const fn new(c: Claim) -> Self {
        AtomicClaim(AtomicU8::new(c as u8))
    }

    fn decode(v: u8) -> Claim {
        // Only `Claim`s are ever stored.
        Claim::ALL[v as usize]
    }

    pub(crate) fn load(&self, order: Ordering) -> Claim {
        Self::decode(self.0.load(order))
    }

    pub(crate) fn store(&self, c: Claim, order: Ordering) {
        self.0.store(c as u8, order)
    }

    pub(crate) fn compare_exchange(
        &self,
        current: Claim,
        new: Claim,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Claim, Claim> {
        self.0
            .compare_exchange(current as u8, new as u8, success, failure)
            .map(Self::decode)
            .map_err(Self::decode)
    }
}
