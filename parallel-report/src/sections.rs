//! The sections of a trace: one per map, reduction or compute, so that
//! several runs in one program are drawn (and their task graphs laid out)
//! apart rather than merged.
//!
//! The trace does not say which call a span belongs to; its times do. The
//! calls of a program run one after another, so a section ends where no
//! chunk or task runs for a while ([`GAP_US`]), or where nothing runs and
//! the next span is of another kind of work (another map's function, or
//! tasks after a map). Message-passing operations join the section they
//! start in, or the one before them.

use crate::tasks::Tasks;
use crate::trace::Trace;

/// A pause longer than this (microseconds) in which no chunk or task runs
/// ends a section: longer than a scheduler's gap between two chunks of one
/// map, shorter than the end of a call (its trace is flushed) and the start
/// of the next.
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
    Messages,
}

/// The sections of `trace`, in time order.
pub(crate) fn sections(trace: &Trace) -> Vec<Section> {
    let kind = |i: u32| {
        let s = &trace.spans[i as usize];
        match trace.func(s).cat.as_str() {
            "task" => Kind::Tasks,
            "mpi" => Kind::Messages,
            _ => Kind::Chunks(s.func),
        }
    };
    let by_start = |a: &u32, b: &u32| {
        let (x, y) = (&trace.spans[*a as usize], &trace.spans[*b as usize]);
        x.ts.total_cmp(&y.ts).then(a.cmp(b))
    };
    let mut order: Vec<u32> = (0..trace.spans.len() as u32).collect();
    order.sort_unstable_by(by_start);
    let mut groups: Vec<(Vec<u32>, f64, f64)> = Vec::new();
    let mut last = None;
    let mut messages = Vec::new();
    for &i in &order {
        let s = &trace.spans[i as usize];
        let k = kind(i);
        if k == Kind::Messages {
            messages.push(i);
            continue;
        }
        let gap = groups.last().map_or(f64::INFINITY, |g| s.ts - g.2);
        if gap > 0.0 && (gap >= GAP_US || last != Some(k)) {
            groups.push((Vec::new(), s.ts, s.ts + s.dur));
        }
        let g = groups.last_mut().expect("a group was just pushed");
        g.0.push(i);
        g.2 = g.2.max(s.ts + s.dur);
        last = Some(k);
    }
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
