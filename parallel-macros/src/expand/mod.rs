//! One expansion per attribute.

pub(crate) mod delayed;
pub(crate) mod equivalence;
pub(crate) mod mpi_main;
pub(crate) mod parallel_map;
