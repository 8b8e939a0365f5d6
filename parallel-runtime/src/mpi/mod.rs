//! Message passing: the communicator behind `#[mpi_main]`.
//!
//! (Being built: see the `#[mpi_main]` issue. Until then a program is a
//! world of one rank.)

pub(crate) mod dist;
