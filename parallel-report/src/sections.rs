//! The sections of a trace: one per map, reduction or compute, so that
//! several runs in one program are drawn (and their task graphs laid out)
//! apart rather than merged.
//!
//! The runtime gives every map call and every compute an id of its own
//! (`args.call` of its chunks and tasks, issue 13): spans with the same id
//! are one section, however closely calls follow or overlap each other.
//! In the same SPMD program the n-th call of every rank has the same id, so a
//! map across ranks stays one section.
//!
//! Spans without an id (a trace of an older runtime, another tool's, a
//! streaming map's windows, a compute across ranks) are told apart by their
//! times and details. The calls of a program run one after another, so such
//! a section ends where nothing runs and then
//! - the next span is of another kind of work (another map's function, or
//!   tasks after a map);
//! - or a map starts again: a chunk holding item 0 when one of this map
//!   did already;
//! - or, for tasks, no task ran for a while ([`GAP_US`]), or a task's key
//!   comes again.
//!
//! Message-passing operations (and a graph's transfers between ranks) join
//! the section they start in, or the one before them.

use std::collections::{HashMap, HashSet};

use crate::tasks::Tasks;
use crate::trace::{Trace, NONE};

/// A pause longer than this (microseconds) in which no task runs ends a
/// compute: longer than a scheduler's gap between two tasks of one graph,
/// shorter than the end of a call (its trace is flushed) and the start of
/// the next.
pub(crate) const GAP_US: f64 = 50.0;

/// One map, reduction or compute: its spans, in start order.
pub(crate) struct Section {
    pub(crate) spans: Vec<u32>,
    /// First start and last end.
    pub(crate) t0: f64,
    pub(crate) t1: f64,
    /// Its task graph (empty for a map).
    pub(crate) tasks: Tasks,
    /// The critical path of the task graph (indices into `tasks`), and its
    /// length in microseconds.
    pub(crate) critical: (Vec<usize>, f64),
}

/// What kind of work a span is, for telling sections apart: every task is
/// of one kind (a compute runs many functions), a chunk is of its map's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tasks,
    Chunks(u32),
}

/// Whether spans of category `cat` move data rather than compute:
/// message-passing operations (`mpi`) and a graph's transfers of values
/// between ranks (`transfer`).
pub(crate) fn is_message(cat: &str) -> bool {
    matches!(cat, "mpi" | "transfer")
}

/// Spans of one section, with their first start and last end.
type Group = (Vec<u32>, f64, f64);

/// The sections of `trace`, in time order.
pub(crate) fn sections(trace: &Trace) -> Vec<Section> {
    let by_start = |a: &u32, b: &u32| {
        let (x, y) = (&trace.spans[*a as usize], &trace.spans[*b as usize]);
        x.ts.total_cmp(&y.ts).then(a.cmp(b))
    };
    let mut order: Vec<u32> = (0..trace.spans.len() as u32).collect();
    order.sort_unstable_by(by_start);
    let mut messages = Vec::new();
    let mut unmarked = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut of_call: HashMap<u64, usize> = HashMap::new();
    for &i in &order {
        let s = &trace.spans[i as usize];
        if is_message(&trace.func(s).cat) {
            messages.push(i);
        } else if s.call == 0 {
            unmarked.push(i);
        } else {
            let g = *of_call.entry(s.call).or_insert_with(|| {
                groups.push((Vec::new(), s.ts, s.ts));
                groups.len() - 1
            });
            let g = &mut groups[g];
            g.0.push(i);
            g.2 = g.2.max(s.ts + s.dur);
        }
    }
    groups.extend(by_time(trace, &unmarked));
    // Each group's spans are in start order, so its first start is its t0.
    groups.sort_by(|a, b| a.1.total_cmp(&b.1));
    // Messages join the section they start in (or the one before); a
    // trace of messages alone is one section.
    if groups.is_empty() && !messages.is_empty() {
        groups.push((Vec::new(), f64::INFINITY, f64::NEG_INFINITY));
    }
    for i in messages {
        let s = &trace.spans[i as usize];
        let at = groups.partition_point(|g| g.1 <= s.ts).saturating_sub(1);
        let g = &mut groups[at];
        g.0.push(i);
        (g.1, g.2) = (g.1.min(s.ts), g.2.max(s.ts + s.dur));
    }
    groups
        .into_iter()
        .map(|(mut spans, t0, t1)| {
            spans.sort_unstable_by(by_start);
            let tasks = Tasks::of(trace, &spans);
            let critical = tasks.critical_path(trace);
            Section {
                spans,
                t0,
                t1,
                tasks,
                critical,
            }
        })
        .collect()
}

/// The sections of spans without a call id (`order`, in start order, no
/// messages among them), told apart by their times and details (see the
/// module's documentation).
fn by_time(trace: &Trace, order: &[u32]) -> Vec<Group> {
    let kind = |i: u32| {
        let s = &trace.spans[i as usize];
        match trace.func(s).cat.as_str() {
            "task" => Kind::Tasks,
            _ => Kind::Chunks(s.func),
        }
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut last = None;
    // What the current section has seen: maps that held item 0, task keys.
    let mut started: HashSet<u32> = HashSet::new();
    let mut keys: HashSet<u32> = HashSet::new();
    for &i in order {
        let s = &trace.spans[i as usize];
        let k = kind(i);
        let key = (s.task != NONE).then(|| trace.tasks[s.task as usize].key);
        let gap = groups.last().map_or(f64::INFINITY, |g| s.ts - g.2);
        let again = match k {
            Kind::Tasks => gap >= GAP_US || key.is_some_and(|key| keys.contains(&key)),
            _ => s.first && started.contains(&s.func),
        };
        if gap > 0.0 && (again || last != Some(k)) {
            groups.push((Vec::new(), s.ts, s.ts + s.dur));
            started.clear();
            keys.clear();
        }
        if s.first {
            started.insert(s.func);
        }
        keys.extend(key);
        let g = groups.last_mut().expect("a group was just pushed");
        g.0.push(i);
        g.2 = g.2.max(s.ts + s.dur);
        last = Some(k);
    }
    groups
}
