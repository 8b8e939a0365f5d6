//! Compile-time behaviour: misuse is an error at the user's span, with a
//! message that says how to fix it (snapshots in `tests/ui/*/*.stderr`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
