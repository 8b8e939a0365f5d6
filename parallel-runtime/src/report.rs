//! A self-contained HTML report of a trace: a timeline of every worker and
//! rank, busy and idle time, load imbalance, the critical path of a task
//! graph and the graph itself. Everything is inline SVG and CSS (plus a few
//! lines of script that count what was drawn, for tests), so the file opens
//! anywhere with no network access.
//!
//! Made by the `parallel-report` command:
//! `cargo run -p parallel-runtime --bin parallel-report -- run.json` writes
//! `run.html` beside the trace.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::trace::Event;

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
fn spans(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| e.ph == "X").collect()
}

/// Busy time, imbalance and critical path of a trace.
pub fn summarize(events: &[Event]) -> Summary {
    let spans = spans(events);
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
    for e in &spans {
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
    let (path, len) = critical_path(&spans);
    s.critical_path = path;
    s.critical_path_us = len;
    s
}

fn task_key(e: &Event) -> Option<&str> {
    (e.cat == "task")
        .then(|| e.args.get("key").and_then(|k| k.as_str()))
        .flatten()
}

fn task_deps(e: &Event) -> Vec<&str> {
    e.args
        .get("deps")
        .and_then(|d| d.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default()
}

/// The chain of dependent tasks with the largest total duration.
fn critical_path(spans: &[&Event]) -> (Vec<String>, f64) {
    let tasks: HashMap<&str, &Event> = spans
        .iter()
        .filter_map(|e| task_key(e).map(|k| (k, *e)))
        .collect();
    if tasks.is_empty() {
        return (Vec::new(), 0.0);
    }
    // Tasks finish after their dependencies, so start order is a
    // topological order.
    let mut order: Vec<&Event> = tasks.values().copied().collect();
    order.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let mut best: HashMap<&str, (f64, Option<&str>)> = HashMap::new();
    for e in &order {
        let Some(k) = task_key(e) else { continue };
        let (mut acc, mut prev) = (0.0, None);
        for d in task_deps(e) {
            if let Some((len, _)) = best.get(d) {
                if *len > acc {
                    acc = *len;
                    prev = Some(d);
                }
            }
        }
        best.insert(k, (acc + e.dur, prev));
    }
    let Some((mut at, (len, _))) = best
        .iter()
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
        .map(|(k, v)| (*k, *v))
    else {
        return (Vec::new(), 0.0);
    };
    let mut path = vec![at.to_string()];
    while let Some((_, Some(prev))) = best.get(at) {
        path.push(prev.to_string());
        at = prev;
    }
    path.reverse();
    (path, len)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A stable colour per function name.
fn colour(name: &str) -> String {
    let h = name
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    format!("hsl({}, 62%, 55%)", h % 360)
}

fn fmt_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.3} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

/// Renders the report of `events` as one HTML document.
pub fn render_html(title: &str, events: &[Event]) -> String {
    let summary = summarize(events);
    let spans = spans(events);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t} — parallel report</title><style>\
         body{{font:14px system-ui,sans-serif;margin:24px;color:#222}}\
         h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}\
         table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f3f3f3}} td:first-child{{text-align:left}}\
         .legend span{{display:inline-block;margin-right:14px}} .sw{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}}\
         svg text{{font:11px system-ui,sans-serif}} .crit{{stroke:#d00;stroke-width:2}}\
         </style></head><body>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
    if spans.is_empty() {
        html.push_str(
            "<p id=\"empty\">The trace holds no events: was anything run with tracing on?</p>\n",
        );
    }
    let ranks: std::collections::BTreeSet<u32> = spans.iter().map(|e| e.pid).collect();
    let _ = writeln!(
        html,
        "<p>{} events on {} tracks ({} rank{}), wall time {}; load imbalance {:.2} (the busiest worker's busy time over the workers' mean; 1.00 is perfect).</p>",
        spans.len(),
        summary.busy_us.len(),
        ranks.len(),
        if ranks.len() == 1 { "" } else { "s" },
        fmt_us(summary.wall_us),
        summary.imbalance
    );

    // Legend.
    let mut names: Vec<&str> = spans.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    html.push_str("<div class=\"legend\">");
    for n in &names {
        let _ = write!(
            html,
            "<span><i class=\"sw\" style=\"background:{}\"></i>{}</span>",
            colour(n),
            esc(n)
        );
    }
    html.push_str("</div>\n<h2>Timeline</h2>\n");
    html.push_str(&timeline_svg(&spans, &summary));

    // Busy and idle.
    html.push_str("<h2>Busy and idle time per worker</h2>\n<table id=\"busy\"><tr><th>track</th><th>busy</th><th>idle</th><th>busy %</th></tr>\n");
    for ((pid, tid), busy) in &summary.busy_us {
        let idle = (summary.wall_us - busy).max(0.0);
        let _ = writeln!(
            html,
            "<tr><td>rank {pid} / {}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            track_name(*tid),
            fmt_us(*busy),
            fmt_us(idle),
            if summary.wall_us > 0.0 {
                100.0 * busy / summary.wall_us
            } else {
                0.0
            }
        );
    }
    html.push_str("</table>\n");

    // Critical path and graph.
    if !summary.critical_path.is_empty() {
        let _ = write!(
            html,
            "<h2>Critical path of the task graph</h2>\n<p id=\"critical\">{} tasks, {} of work in a chain: no number of workers can finish sooner (wall time was {}).</p>\n<ol>",
            summary.critical_path.len(),
            fmt_us(summary.critical_path_us),
            fmt_us(summary.wall_us)
        );
        for k in summary.critical_path.iter().take(50) {
            let _ = write!(html, "<li>{}</li>", esc(k));
        }
        if summary.critical_path.len() > 50 {
            let _ = write!(html, "<li>… {} more</li>", summary.critical_path.len() - 50);
        }
        html.push_str("</ol>\n<h2>Task graph</h2>\n<div style=\"overflow:auto\">");
        html.push_str(&graph_svg(&spans, &summary.critical_path));
        html.push_str("</div>\n");
    }
    html.push_str(
        "<script>\n// Counts what was drawn with a size, for automated checks.\n\
         document.body.dataset.drawn = Array.from(document.querySelectorAll('rect.ev'))\
         .filter(r => r.getBBox().width > 0).length;\n</script>\n</body></html>\n",
    );
    html
}

fn track_name(tid: u32) -> String {
    if tid == 0 {
        "main".into()
    } else {
        format!("worker {}", tid - 1)
    }
}

fn timeline_svg(spans: &[&Event], summary: &Summary) -> String {
    let tracks: Vec<(u32, u32)> = summary.busy_us.keys().copied().collect();
    let (label_w, width, row_h) = (130.0, 1100.0, 22.0);
    let t0 = spans.iter().map(|e| e.ts).fold(f64::INFINITY, f64::min);
    let scale = if summary.wall_us > 0.0 {
        (width - label_w - 10.0) / summary.wall_us
    } else {
        1.0
    };
    let height = 30.0 + row_h * tracks.len() as f64;
    let crit: std::collections::HashSet<&str> =
        summary.critical_path.iter().map(String::as_str).collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    // Time axis: 10 ticks.
    for i in 0..=10 {
        let x = label_w + (width - label_w - 40.0) * i as f64 / 10.0;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"18\" x2=\"{x:.1}\" y2=\"{height}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"12\" text-anchor=\"middle\">{}</text>",
            fmt_us(summary.wall_us * i as f64 / 10.0)
        );
    }
    for (row, (pid, tid)) in tracks.iter().enumerate() {
        let y = 22.0 + row_h * row as f64;
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\">rank {pid} · {}</text>",
            y + 14.0,
            track_name(*tid)
        );
        for e in spans.iter().filter(|e| e.pid == *pid && e.tid == *tid) {
            let x = label_w + (e.ts - t0) * scale;
            let w = (e.dur * scale).max(0.5);
            let class = match task_key(e) {
                Some(k) if crit.contains(k) => "ev crit",
                _ => "ev",
            };
            let detail: Vec<String> = e.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(
                svg,
                "<rect class=\"{class}\" x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{}\" stroke=\"#fff\" stroke-width=\"0.3\"><title>{} ({}) {}\n{}</title></rect>",
                row_h - 4.0,
                colour(&e.name),
                esc(&e.name),
                esc(&e.cat),
                fmt_us(e.dur),
                esc(&detail.join(", "))
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The task graph, in layers by depth (longest chain of dependencies).
fn graph_svg(spans: &[&Event], critical: &[String]) -> String {
    const MAX_NODES: usize = 400;
    let tasks: Vec<&Event> = spans
        .iter()
        .copied()
        .filter(|e| task_key(e).is_some())
        .collect();
    if tasks.len() > MAX_NODES {
        return format!(
            "<p>The graph has {} tasks, too many to draw legibly here (limit {MAX_NODES}); \
             the timeline and the critical path above cover all of them.</p>\n",
            tasks.len()
        );
    }
    let mut order = tasks.clone();
    order.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let mut depth: HashMap<&str, usize> = HashMap::new();
    for e in &order {
        let d = task_deps(e)
            .iter()
            .filter_map(|d| depth.get(d))
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        if let Some(k) = task_key(e) {
            depth.insert(k, d);
        }
    }
    let mut layers: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut deps_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &order {
        if let Some(k) = task_key(e) {
            layers.entry(depth[k]).or_default().push(k);
            deps_of.insert(k, task_deps(e));
        }
    }
    let (bw, bh, gx, gy) = (120.0, 26.0, 30.0, 50.0);
    let widest = layers.values().map(Vec::len).max().unwrap_or(1) as f64;
    let width = (widest * (bw + gx) + gx).max(300.0);
    let height = layers.len() as f64 * (bh + gy) + gy;
    // Layer by layer, order nodes by the mean position of their inputs (the
    // barycentre heuristic), so edges mostly run straight down.
    let mut pos: HashMap<&str, (f64, f64)> = HashMap::new();
    for (d, keys) in layers.iter_mut() {
        let centre = |k: &&str| {
            let xs: Vec<f64> = deps_of[*k]
                .iter()
                .filter_map(|d| pos.get(d))
                .map(|p| p.0)
                .collect();
            if xs.is_empty() {
                f64::INFINITY
            } else {
                xs.iter().sum::<f64>() / xs.len() as f64
            }
        };
        keys.sort_by(|a, b| centre(a).total_cmp(&centre(b)));
        let row_w = keys.len() as f64 * (bw + gx) - gx;
        for (i, k) in keys.iter().enumerate() {
            let x = (width - row_w) / 2.0 + i as f64 * (bw + gx);
            pos.insert(k, (x, gy / 2.0 + *d as f64 * (bh + gy)));
        }
    }
    let on_path: std::collections::HashSet<(&str, &str)> = critical
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    let mut svg = format!(
        "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    for e in &tasks {
        let Some(k) = task_key(e) else { continue };
        let (x, y) = pos[k];
        for d in task_deps(e) {
            if let Some((dx, dy)) = pos.get(d) {
                let class = if on_path.contains(&(d, k)) {
                    " class=\"crit\""
                } else {
                    ""
                };
                let _ = write!(
                    svg,
                    "<line{class} x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#999\"/>",
                    dx + bw / 2.0,
                    dy + bh,
                    x + bw / 2.0
                );
            }
        }
    }
    let crit: std::collections::HashSet<&str> = critical.iter().map(String::as_str).collect();
    for e in &tasks {
        let Some(k) = task_key(e) else { continue };
        let (x, y) = pos[k];
        let class = if crit.contains(k) {
            "node crit"
        } else {
            "node"
        };
        let _ = write!(
            svg,
            "<g class=\"{class}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw}\" height=\"{bh}\" rx=\"5\" fill=\"{}\" stroke=\"#555\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><title>{} — {}</title></g>",
            colour(&e.name),
            x + bw / 2.0,
            y + 17.0,
            esc(&k.chars().take(18).collect::<String>()),
            esc(k),
            fmt_us(e.dur)
        );
    }
    svg.push_str("</svg>\n");
    svg
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

    #[test]
    fn summary_measures_busy_time_imbalance_and_critical_path() {
        let events = vec![
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
        ];
        let s = summarize(&events);
        assert_eq!(s.wall_us, 35.0);
        assert_eq!(s.busy_us[&(0, 1)], 15.0);
        assert_eq!(s.busy_us[&(0, 2)], 30.0);
        assert!((s.imbalance - 30.0 / 22.5).abs() < 1e-9);
        assert_eq!(s.critical_path, ["load-1", "sum-2"]);
        assert_eq!(s.critical_path_us, 35.0);
        let html = render_html("t", &events);
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
}
