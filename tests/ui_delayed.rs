//! Compile-time behaviour of `#[delayed]`: misuse is an error at the
//! user's span, with a message that says how to fix it. Every attribute
//! has the same layout, `tests/ui/<attribute>/{pass,fail}` (snapshots in
//! `fail/*.stderr`), and a driver like this one.

#[test]
fn ui_delayed() {
    let t = trybuild::TestCases::new();
    t.pass("ui/delayed/pass/*.rs");
    t.compile_fail("ui/delayed/fail/*.rs");
}
