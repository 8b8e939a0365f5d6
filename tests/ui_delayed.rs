//! Compile-time behaviour of `#[delayed]`: misuse is an error at the user's
//! span, with a message that says how to fix it (snapshots in
//! `tests/ui/delayed/*/*.stderr`).

#[test]
fn ui_delayed() {
    let t = trybuild::TestCases::new();
    t.pass("ui/delayed/pass/*.rs");
    t.compile_fail("ui/delayed/fail/*.rs");
}
