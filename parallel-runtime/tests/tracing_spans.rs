//! The `tracing` feature: our chunks of maps, tasks of graphs and
//! communicator operations reach a program's own `tracing` subscriber as
//! spans, with their fields, and without `PARALLEL_TRACE`.
//!
//! Run: `cargo test -p parallel-runtime --features tracing --test tracing_spans`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Mutex, Once};

use parallel_runtime::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span as the subscriber saw it, when it closed.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    name: &'static str,
    fields: BTreeMap<String, String>,
    /// The name of the span it was entered in, if any.
    parent: Option<&'static str>,
}

/// Every span closed so far, across the whole test process (the pool's
/// workers record on threads of their own, so the subscriber is global and
/// each test picks its spans out by a function name of its own).
static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

#[derive(Default, Clone)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// A layer that keeps each span's fields and collects it when it closes.
struct Collect;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collect {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let fields = span
            .extensions()
            .get::<Fields>()
            .cloned()
            .unwrap_or_default();
        SEEN.lock().unwrap_or_else(|p| p.into_inner()).push(Seen {
            target: span.metadata().target().into(),
            name: span.name(),
            fields: fields.0,
            parent: span.parent().map(|p| p.name()),
        });
    }
}

fn subscribe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Collect);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    });
}

/// The closed spans whose field `field` is `value`.
fn seen(field: &str, value: &str) -> Vec<Seen> {
    SEEN.lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|s| s.fields.get(field).is_some_and(|v| v == value))
        .cloned()
        .collect()
}

fn number(s: &Seen, field: &str) -> u64 {
    s.fields[field].parse().expect("a number")
}

#[test]
fn every_chunk_of_a_map_is_a_span_with_its_items() {
    subscribe();
    let opts = MapOptions::new()
        .threads(2)
        .schedule(Schedule::Dynamic)
        .chunk_size(10);
    let xs: Vec<u64> = (0..100).collect();
    let squares = map_fn("traced_square", |x: &u64| x * x)
        .options(opts)
        .map(&xs);
    assert_eq!(squares[99], 99 * 99);
    assert!(
        !parallel_runtime::trace::enabled(),
        "no PARALLEL_TRACE needed"
    );
    let chunks = seen("function", "traced_square");
    assert_eq!(chunks.len(), 10, "one span per chunk of 10: {chunks:?}");
    let mut ranges: Vec<(u64, u64)> = chunks
        .iter()
        .map(|c| {
            assert_eq!(c.target, "parallel_runtime::map");
            assert_eq!(c.name, "chunk");
            assert_eq!(c.fields["kind"], "map");
            assert_eq!(c.fields["rank"], "0");
            assert_eq!(number(c, "items"), 10);
            (number(c, "first_item"), number(c, "last_item"))
        })
        .collect();
    ranges.sort();
    let expected: Vec<(u64, u64)> = (0..10).map(|i| (i * 10, i * 10 + 9)).collect();
    assert_eq!(ranges, expected);
}

#[test]
fn a_chunk_on_the_calling_thread_nests_in_the_programs_own_span() {
    subscribe();
    let serial = MapOptions::new().backend(Backend::Serial);
    tracing::info_span!("analysis").in_scope(|| {
        map_fn("traced_in_user_span", |x: &u32| x + 1)
            .options(serial)
            .map(&[1u32, 2, 3])
    });
    let chunks = seen("function", "traced_in_user_span");
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    assert_eq!(chunks[0].parent, Some("analysis"));
    assert_eq!(number(&chunks[0], "items"), 3);
}

#[test]
fn a_reduction_names_its_chunks_reduce() {
    subscribe();
    let xs: Vec<u64> = (0..1000).collect();
    let total = map_fn("traced_reduce", |x: &u64| *x).reduce(&xs, 0, |a, b| a + b);
    assert_eq!(total, 999 * 1000 / 2);
    let chunks = seen("function", "traced_reduce");
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|c| c.fields["kind"] == "reduce"));
}

#[test]
fn every_task_of_a_graph_is_a_span_with_its_key() {
    subscribe();
    let add = delayed_fn("traced_add", |a: u64, b: u64| a + b);
    let double = delayed_fn("traced_double", |x: u64| 2 * x);
    let sum = add.call((double.call(1), double.call(2)));
    assert_eq!(sum.compute().expect("computes"), 6);
    let doubles = seen("function", "traced_double");
    assert_eq!(doubles.len(), 2, "{doubles:?}");
    let adds = seen("function", "traced_add");
    assert_eq!(adds.len(), 1);
    for t in doubles.iter().chain(&adds) {
        assert_eq!(t.target, "parallel_runtime::graph");
        assert_eq!(t.name, "task");
        assert!(t.fields["key"].contains(&t.fields["function"]), "{t:?}");
    }
}

#[test]
fn every_communicator_operation_is_a_span() {
    subscribe();
    let sums = parallel_runtime::mpi::local::run(2, |comm| {
        if comm.rank() == 0 {
            comm.send(&7u32, 1, 11).expect("send");
        } else {
            let got: u32 = comm.recv(0, 11).expect("recv");
            assert_eq!(got, 7);
        }
        comm.barrier().expect("barrier");
        comm.all_reduce_with(comm.rank() as u64 + 1, |a, b| a + b)
            .expect("all_reduce_with")
    });
    assert_eq!(sums, [3, 3]);
    for (op, at_least) in [
        ("send", 1),
        ("recv", 1),
        ("barrier", 2),
        ("all_reduce_with", 2),
    ] {
        let ops = seen("op", op);
        assert!(ops.len() >= at_least, "{op}: {ops:?}");
        assert!(ops
            .iter()
            .all(|s| s.target == "parallel_runtime::mpi" && s.name == "op"));
    }
}

#[test]
fn every_task_of_a_graph_across_ranks_is_a_span_on_the_rank_that_ran_it() {
    subscribe();
    // A local world of two ranks (threads): each task runs on one rank, so
    // its span is recorded once, by that rank, as on one machine.
    parallel_runtime::graph::transferable::<u64>();
    let totals = parallel_runtime::mpi::local::run(2, |comm| {
        let part = delayed_fn("traced_part_on_ranks", |i: u64| i * i);
        let sum = delayed_fn("traced_sum_on_ranks", |xs: Vec<u64>| {
            xs.into_iter().sum::<u64>()
        });
        let parts: Vec<_> = (0..8u64).map(|i| part.call(i)).collect();
        sum.call(parts).compute_on(&comm).expect("computes")
    });
    assert_eq!(totals, [140, 140]);
    let parts = seen("function", "traced_part_on_ranks");
    assert_eq!(parts.len(), 8, "one span per task: {parts:?}");
    assert_eq!(seen("function", "traced_sum_on_ranks").len(), 1);
    assert!(parts
        .iter()
        .all(|t| t.target == "parallel_runtime::graph" && t.fields["key"].contains("traced_part")));
}
