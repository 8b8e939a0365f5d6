//! The hooks of graph/cluster (graphs across MPI ranks): a result computed
//! on another rank arrives as bytes and is stored in the node here without
//! running its task; a result sent to other ranks is encoded from a shared
//! borrow before any local consumer reads it, and, when no consumer on
//! this rank reads it, dropped ([`Slot::Moved`], which says so when a later
//! compute on this rank asks for it).

use super::{AnyNode, Node, Slot};

impl<T: Send + 'static> Node<T> {
    /// Stores `v`, computed elsewhere, as the result of `n`; its task is
    /// dropped, as after a run.
    ///
    /// # Safety
    /// As for [`AnyNode::run`]: the caller holds the claim and no other
    /// thread touches the node until its consumers are released.
    pub(crate) unsafe fn put(n: &dyn AnyNode, v: T) {
        // SAFETY: the caller holds the claim.
        unsafe { n.drop_task() };
        // SAFETY: as above; readers start only after this returns.
        unsafe { *Self::of(n).slot.get() = Slot::Value(v) };
    }

    /// The stored value, if the node holds one.
    ///
    /// # Safety
    /// The node completed, and no reader has started yet (none can take
    /// the value while the borrow lives).
    pub(crate) unsafe fn peek(&self) -> Option<&T> {
        // SAFETY: by the caller's contract nobody writes the slot now.
        match unsafe { &*self.slot.get() } {
            Slot::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Drops the stored value (its last reader was on another rank).
    ///
    /// # Safety
    /// The node completed and has no reader left on this rank.
    pub(crate) unsafe fn clear(&self) {
        // SAFETY: by the caller's contract nobody reads the slot now.
        let slot = unsafe { &mut *self.slot.get() };
        if matches!(slot, Slot::Value(_)) {
            *slot = Slot::Moved;
        }
    }
}
