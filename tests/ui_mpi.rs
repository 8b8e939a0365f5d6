//! Compile-time behaviour of `#[mpi_main]` and `#[derive(Equivalence)]`:
//! misuse is an error at the user's span, with a message that says how to
//! fix it (snapshots in `tests/ui/mpi/fail/*.stderr`). Built without the
//! `mpi` feature, so the snapshots need no MPI library.

#[test]
#[cfg(not(feature = "mpi"))]
fn ui_mpi() {
    let t = trybuild::TestCases::new();
    t.pass("ui/mpi/pass/*.rs");
    t.compile_fail("ui/mpi/fail/*.rs");
}
