//! `__private`: what the code the macros write reaches, and nothing else.
//! **Not a stable API**: nothing here is for use by hand, and any of it may
//! change in any release. A leaf: it re-exports, and no module of the crate
//! imports from it.

pub use crate::bounds::*;
pub use crate::codec::{Probe, ResultCodec, ViaSerde, WithoutSerde};
pub use crate::config::{Backend, Schedule};
pub use crate::graph::outcome::{
    assert_error as delayed_assert_error, from_result as delayed_from_result, ok as delayed_ok,
};
// Issue 12: the result types a graph may move between ranks.
pub use crate::graph::cluster::{
    register as delayed_register, GraphNamed, GraphOpaque, GraphProbe, GraphViaSerde,
};
pub use crate::graph::{
    task as delayed_task, Delayed, DepList, Input, Inputs, IntoDelayed, TaskSite,
};
pub use crate::items::{IntoItems, ItemProbe, ItemUnhashed, ItemViaHash, ItemViaSerde};
pub use crate::map::{
    apply_async, imap, map_async, pulled, try_apply_async, try_imap, AsyncResult, Indexed,
    RefProbe, Values, ViaPull, ViaSlice,
};
pub use crate::map::{map, reduce, try_map, ItemError, MapOptions, MapSite};
pub use crate::pool::PerWorker;
pub use crate::{__mpi_feature_off, __mpi_feature_on};
pub use core;
pub use rayon;
pub use serde;
pub use std;

/// What `#[mpi_main]` and `#[derive(Equivalence)]` expand to.
pub mod mpi {
    #[cfg(feature = "mpi")]
    pub use crate::mpi::rsmpi;
    pub use crate::mpi::start::{start, MainResult, Session, Threading};
    pub use crate::mpi::{AnyBitPattern, Comm, Equivalence};
}
