//! The option parser on its own: what it reads, and every error in order.

use quote::quote;

use super::*;

fn messages(cx: Ctxt) -> Vec<String> {
    cx.into_error()
        .map(|e| e.into_iter().map(|e| e.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn reads_every_kind_of_value() {
    let mut cx = Ctxt::default();
    let tokens = quote!(
        schedule = "static",
        chunk_size = 8,
        backend = "mpi",
        progress,
        threads = 4,
        init = "make_rng",
        items = 2,
        crate = "::prt"
    );
    let o = PARALLEL_MAP.parse(tokens, &mut cx);
    assert!(messages(cx).is_empty());
    assert_eq!((o.threads, o.items, o.per_item()), (Some(4), Some(2), 2));
    let init = o.init.as_ref().map(|p| quote!(#p).to_string());
    assert_eq!(init.as_deref(), Some("make_rng"));
    assert_eq!(o.schedule.as_deref(), Some("static"));
    assert_eq!(o.chunk_size, Some(8));
    assert_eq!(o.backend.map(|(b, _)| b).as_deref(), Some("mpi"));
    assert_eq!(o.progress, Some(true));
    let path = o.runtime.path();
    assert_eq!(quote!(#path).to_string(), ":: prt");
}

#[test]
fn reports_every_mistake_list_first_then_values_and_keeps_defaults() {
    let mut cx = Ctxt::default();
    let tokens = quote!(
        chunk = 4,
        schedule = "fast",
        chunk_size = "8",
        progress = 3,
        schedule = "static"
    );
    let o = PARALLEL_MAP.parse(tokens, &mut cx);
    assert_eq!(
        messages(cx),
        [
            "unknown option `chunk` for #[parallel_map]; expected one of `schedule`, \
             `chunk_size`, `backend`, `progress`, `threads`, `init`, `items`, or `crate`",
            "duplicate option `schedule`; give it once",
            "invalid schedule \"fast\"; expected one of `static`, `dynamic`, or `guided`",
            "`chunk_size` takes a positive integer: write `chunk_size = 64`",
            "`progress` is a switch: write `progress` or `progress = false`",
        ]
    );
    assert_eq!(
        o.schedule, None,
        "the first `schedule` counts, and it was bad"
    );
    assert_eq!((o.chunk_size, o.progress), (None, None));
}

#[test]
fn delayed_and_mpi_main_options() {
    let mut cx = Ctxt::default();
    let o = DELAYED.parse(quote!(name = "load", result = "value"), &mut cx);
    assert!(messages(cx).is_empty());
    assert_eq!(o.name.map(|n| n.value()).as_deref(), Some("load"));
    assert!(o.result_is_value);

    let mut cx = Ctxt::default();
    let o = DELAYED.parse(quote!(name = " ", result), &mut cx);
    assert_eq!(
        messages(cx),
        [
            "`name` takes the task name used in keys, as a non-empty string: `name = \"load\"`",
            "`result` takes a string: write `result = \"fail\"` (one of `fail`, or `value`)",
        ]
    );
    assert!(o.name.is_none() && !o.result_is_value);

    let mut cx = Ctxt::default();
    let o = MPI_MAIN.parse(quote!(threads = 4, threading = "single"), &mut cx);
    assert_eq!(
        messages(cx),
        ["unknown option `threads` for #[mpi_main]; expected one of `threading`, or `crate`"]
    );
    assert_eq!(o.threading.as_deref(), Some("single"));
}
