//! Compile-time behaviour of `#[parallel_map]`: misuse is an error at the
//! user's span, with a message that says how to fix it. Every attribute
//! has the same layout, `tests/ui/<attribute>/{pass,fail}` (snapshots in
//! `fail/*.stderr`), and a driver like this one.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/parallel_map/pass/*.rs");
    t.compile_fail("ui/parallel_map/fail/*.rs");
}
