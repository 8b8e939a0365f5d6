//! The numbers of a report: busy time, imbalance, critical path, for the
//! whole trace and for each of its sections.

use std::collections::BTreeMap;

use parallel_runtime::trace::Event;

use crate::sections::{sections, Section};
use crate::tasks::Tasks;
use crate::trace::{Span, Status, Trace};

/// What the report computed, for callers (and tests) that want numbers.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// First start to last end, in microseconds.
    pub wall_us: f64,
    /// One entry per track `(rank, thread)`: busy microseconds.
    pub busy_us: BTreeMap<(u32, u32), f64>,
    /// Largest busy time over the mean busy time of the tracks that worked
    /// (1.0 = perfectly balanced).
    pub imbalance: f64,
    /// Task keys along the critical path of the graph, first to last (of
    /// the compute with the longest one, when the trace holds several).
    pub critical_path: Vec<String>,
    /// Sum of the durations along the critical path, in microseconds.
    pub critical_path_us: f64,
    /// The sections of the trace: one per map call, reduction or compute
    /// (by the call id of its events, `args.call`; in a trace without ids,
    /// by their times).
    pub sections: usize,
    /// Spans of tasks or chunks that failed or panicked.
    pub failed: usize,
    /// Spans of tasks that were cancelled (an input failed).
    pub cancelled: usize,
}

/// Busy time, imbalance and critical path of a trace.
pub fn summarize(events: &[Event]) -> Summary {
    summarize_trace(&Trace::from_events(events))
}

/// [`summarize`] for a trace read with [`Trace::read`].
pub fn summarize_trace(trace: &Trace) -> Summary {
    let sections = sections(trace);
    summarize_sections(trace, &sections)
}

/// [`summarize`], for the sections that the page draws too.
pub(crate) fn summarize_sections(trace: &Trace, sections: &[Section]) -> Summary {
    let mut s = measure(trace.spans.iter());
    s.sections = sections.len();
    s.failed = count(trace, Status::Failed);
    s.cancelled = count(trace, Status::Cancelled);
    if let Some(longest) = sections
        .iter()
        .filter(|c| !c.critical.0.is_empty())
        .max_by(|a, b| a.critical.1.total_cmp(&b.critical.1))
    {
        let tasks = Tasks::of(trace, &longest.spans);
        s.critical_path = longest
            .critical
            .0
            .iter()
            .map(|&i| tasks.key(trace, i).to_owned())
            .collect();
        s.critical_path_us = longest.critical.1;
    }
    s
}

fn count(trace: &Trace, status: Status) -> usize {
    trace.spans.iter().filter(|s| s.status == status).count()
}

/// Wall time, busy time per track and imbalance of `spans`.
pub(crate) fn measure<'a>(spans: impl Iterator<Item = &'a Span>) -> Summary {
    let mut s = Summary::default();
    let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
    // Busy time per track: the union of its spans (nested spans, such as an
    // MPI call inside a task, count once).
    let mut per_track: BTreeMap<(u32, u32), Vec<(f64, f64)>> = BTreeMap::new();
    for e in spans {
        t0 = t0.min(e.ts);
        t1 = t1.max(e.ts + e.dur);
        per_track
            .entry((e.pid, e.tid))
            .or_default()
            .push((e.ts, e.ts + e.dur));
    }
    if per_track.is_empty() {
        return s;
    }
    s.wall_us = t1 - t0;
    for (track, mut iv) in per_track {
        iv.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let (mut busy, mut cur): (f64, Option<(f64, f64)>) = (0.0, None);
        for (a, b) in iv {
            cur = match cur {
                Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
                Some((ca, cb)) => {
                    busy += cb - ca;
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((a, b)) = cur {
            busy += b - a;
        }
        s.busy_us.insert(track, busy);
    }
    // Imbalance among the pool's workers when there are any (the calling
    // threads mostly wait for them), else among all tracks.
    let has_workers = s.busy_us.keys().any(|(_, tid)| *tid > 0);
    let working: Vec<f64> = s
        .busy_us
        .iter()
        .filter(|((_, tid), b)| (*tid > 0 || !has_workers) && **b > 0.0)
        .map(|(_, b)| *b)
        .collect();
    if !working.is_empty() {
        let mean = working.iter().sum::<f64>() / working.len() as f64;
        let max = working.iter().copied().fold(0.0, f64::max);
        s.imbalance = if mean > 0.0 { max / mean } else { 1.0 };
    }
    s
}

#[cfg(test)]
mod tests;
