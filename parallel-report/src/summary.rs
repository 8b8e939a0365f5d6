//! The numbers of a report: busy time, imbalance, critical path.

use std::collections::BTreeMap;

use parallel_runtime::trace::Event;

use crate::tasks::Tasks;

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
    /// Task keys along the critical path of the graph, first to last.
    pub critical_path: Vec<String>,
    /// Sum of the durations along the critical path, in microseconds.
    pub critical_path_us: f64,
}

/// The spans of a trace (complete events), without metadata.
pub(crate) fn spans(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| e.ph == "X").collect()
}

/// Busy time, imbalance and critical path of a trace.
pub fn summarize(events: &[Event]) -> Summary {
    let spans = spans(events);
    summarize_spans(&spans, &Tasks::of(&spans))
}

/// [`summarize`], for the spans and task graph that the page draws too.
pub(crate) fn summarize_spans(spans: &[&Event], tasks: &Tasks<'_>) -> Summary {
    let mut s = Summary::default();
    if spans.is_empty() {
        return s;
    }
    let t0 = spans.iter().map(|e| e.ts).fold(f64::INFINITY, f64::min);
    let t1 = spans
        .iter()
        .map(|e| e.ts + e.dur)
        .fold(f64::NEG_INFINITY, f64::max);
    s.wall_us = t1 - t0;
    // Busy time per track: the union of its spans (nested spans, such as an
    // MPI call inside a task, count once).
    let mut per_track: BTreeMap<(u32, u32), Vec<(f64, f64)>> = BTreeMap::new();
    for e in spans {
        per_track
            .entry((e.pid, e.tid))
            .or_default()
            .push((e.ts, e.ts + e.dur));
    }
    for (track, mut iv) in per_track {
        iv.sort_by(|a, b| a.0.total_cmp(&b.0));
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
    let (path, len) = tasks.critical_path();
    s.critical_path = path.iter().map(|&i| tasks.keys[i].to_owned()).collect();
    s.critical_path_us = len;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, cat: &str, ts: f64, dur: f64, tid: u32, args: serde_json::Value) -> Event {
        Event {
            name: name.into(),
            cat: cat.into(),
            ph: "X".into(),
            ts,
            dur,
            pid: 0,
            tid,
            args: args.as_object().cloned().unwrap_or_default(),
        }
    }

    /// Two loads on two workers, and a sum of both.
    fn load_and_sum() -> Vec<Event> {
        vec![
            ev(
                "load",
                "task",
                0.0,
                10.0,
                1,
                serde_json::json!({"key": "load-0", "deps": []}),
            ),
            ev(
                "load",
                "task",
                0.0,
                30.0,
                2,
                serde_json::json!({"key": "load-1", "deps": []}),
            ),
            ev(
                "sum",
                "task",
                30.0,
                5.0,
                1,
                serde_json::json!({"key": "sum-2", "deps": ["load-0", "load-1"]}),
            ),
        ]
    }

    #[test]
    fn summary_measures_busy_time_imbalance_and_critical_path() {
        let events = load_and_sum();
        let s = summarize(&events);
        assert_eq!(s.wall_us, 35.0);
        assert_eq!(s.busy_us[&(0, 1)], 15.0);
        assert_eq!(s.busy_us[&(0, 2)], 30.0);
        assert!((s.imbalance - 30.0 / 22.5).abs() < 1e-9);
        assert_eq!(s.critical_path, ["load-1", "sum-2"]);
        assert_eq!(s.critical_path_us, 35.0);
        let html = crate::render_html("t", &events);
        assert_eq!(html.matches("<rect class=\"ev").count(), 3);
        assert_eq!(html.matches("class=\"ev crit\"").count(), 2);
        assert!(html.contains("id=\"graph\"") && !html.contains("http://cdn"));
    }

    #[test]
    fn nested_spans_count_once() {
        let events = vec![
            ev("task", "task", 0.0, 10.0, 1, serde_json::json!({})),
            ev("bcast", "mpi", 2.0, 3.0, 1, serde_json::json!({})),
        ];
        assert_eq!(summarize(&events).busy_us[&(0, 1)], 10.0);
    }

    #[test]
    fn the_critical_path_follows_dependencies_even_when_start_times_tie() {
        // The sum is listed, and starts, no later than its input: the
        // dependencies, not the clock, order the chain.
        let events = vec![
            ev(
                "sum",
                "task",
                5.0,
                1.0,
                1,
                serde_json::json!({"key": "sum-1", "deps": ["load-0"]}),
            ),
            ev(
                "load",
                "task",
                5.0,
                4.0,
                2,
                serde_json::json!({"key": "load-0", "deps": []}),
            ),
        ];
        let s = summarize(&events);
        assert_eq!(s.critical_path, ["load-0", "sum-1"]);
        assert_eq!(s.critical_path_us, 5.0);
    }

    #[test]
    fn a_trace_without_tasks_has_no_critical_path_and_no_graph() {
        let events = vec![ev(
            "square",
            "map",
            0.0,
            10.0,
            1,
            serde_json::json!({"items": 4}),
        )];
        let s = summarize(&events);
        assert!(s.critical_path.is_empty() && s.critical_path_us == 0.0);
        let html = crate::render_html("t", &events);
        assert!(!html.contains("id=\"critical\"") && !html.contains("id=\"graph\""));
        assert!(!html.contains("id=\"empty\""));
        assert!(crate::render_html("t", &[]).contains("id=\"empty\""));
    }
}
