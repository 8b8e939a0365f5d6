//! Compile-time behaviour of `#[mpi_main]` and `#[derive(Equivalence)]`:
//! misuse is an error at the user's span, with a message that says how to
//! fix it. Every attribute has the same layout,
//! `tests/ui/<attribute>/{pass,fail}` (snapshots in `fail/*.stderr`), and a
//! driver like this one. Built without the `mpi` feature, so the snapshots
//! need no MPI library.

#[test]
#[cfg(not(feature = "mpi"))]
fn ui_mpi() {
    let t = trybuild::TestCases::new();
    t.pass("ui/mpi_main/pass/*.rs");
    t.compile_fail("ui/mpi_main/fail/*.rs");
    t.pass("ui/equivalence/pass/*.rs");
    t.compile_fail("ui/equivalence/fail/*.rs");
}
