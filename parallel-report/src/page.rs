//! The page: the summary and the spans laid out for the template
//! `templates/report.html` (timeline, busy table, critical path, graph).

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use askama::Template;
use parallel_runtime::graph::layout::layered;
use parallel_runtime::trace::Event;

use crate::summary::{spans, summarize_spans, Summary};
use crate::tasks::{task_key, Tasks};

/// The report, as filled into `templates/report.html`.
#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    title: &'a str,
    spans: usize,
    tracks: usize,
    ranks: usize,
    wall: Us,
    imbalance: f64,
    /// Every function name, sorted, and its colour.
    legend: Vec<(&'a str, Colour<'a>)>,
    timeline: Timeline<'a>,
    busy: Vec<Busy>,
    critical: Option<Critical<'a>>,
}

/// Renders the report of `events` as one HTML document.
pub fn render_html(title: &str, events: &[Event]) -> String {
    let spans = spans(events);
    let tasks = Tasks::of(&spans);
    let summary = summarize_spans(&spans, &tasks);
    let mut legend: Vec<&str> = spans.iter().map(|e| e.name.as_str()).collect();
    legend.sort_unstable();
    legend.dedup();
    let page = Page {
        title,
        spans: spans.len(),
        tracks: summary.busy_us.len(),
        ranks: spans.iter().map(|e| e.pid).collect::<BTreeSet<u32>>().len(),
        wall: Us(summary.wall_us),
        imbalance: summary.imbalance,
        legend: legend.into_iter().map(|n| (n, Colour(n))).collect(),
        timeline: Timeline::new(&spans, &summary),
        busy: summary
            .busy_us
            .iter()
            .map(|(&(pid, tid), &busy)| Busy {
                pid,
                track: Track(tid),
                busy: Us(busy),
                idle: Us((summary.wall_us - busy).max(0.0)),
                percent: if summary.wall_us > 0.0 {
                    100.0 * busy / summary.wall_us
                } else {
                    0.0
                },
            })
            .collect(),
        critical: Critical::new(&summary, &tasks),
    };
    // Writing into a String only fails if a value's `Display` does, and
    // none of ours do.
    page.render()
        .unwrap_or_else(|e| format!("<p>cannot render the report: {e}</p>\n"))
}

/// A duration in microseconds, written in the unit that suits it.
#[derive(Clone, Copy)]
struct Us(f64);

impl fmt::Display for Us {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us >= 1e6 {
            write!(f, "{:.3} s", us / 1e6)
        } else if us >= 1e3 {
            write!(f, "{:.2} ms", us / 1e3)
        } else {
            write!(f, "{us:.1} µs")
        }
    }
}

/// A stable colour per function name.
struct Colour<'a>(&'a str);

impl fmt::Display for Colour<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self
            .0
            .bytes()
            .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
        write!(f, "hsl({}, 62%, 55%)", h % 360)
    }
}

/// The thread of a track: the calling thread, or a worker of the pool.
#[derive(Clone, Copy)]
struct Track(u32);

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&parallel_runtime::trace::thread_name(self.0))
    }
}

/// One row of the busy and idle table.
struct Busy {
    pid: u32,
    track: Track,
    busy: Us,
    idle: Us,
    percent: f64,
}

/// The timeline: one row per track, one bar per span, time across.
struct Timeline<'a> {
    width: f64,
    height: f64,
    /// Time axis: x and the time there.
    ticks: Vec<(f64, Us)>,
    rows: Vec<Row<'a>>,
}

/// One track of the timeline.
struct Row<'a> {
    pid: u32,
    track: Track,
    /// Top of the bars.
    y: f64,
    bars: Vec<Bar<'a>>,
}

/// One span on the timeline.
struct Bar<'a> {
    span: Span<'a>,
    x: f64,
    width: f64,
    /// On the critical path.
    crit: bool,
}

/// A span, as the timeline and the graph write it.
#[derive(Clone, Copy)]
struct Span<'a>(&'a Event);

impl<'a> Span<'a> {
    fn name(&self) -> &'a str {
        &self.0.name
    }

    fn cat(&self) -> &'a str {
        &self.0.cat
    }

    /// The colour of its function.
    fn colour(&self) -> Colour<'a> {
        Colour(&self.0.name)
    }

    fn dur(&self) -> Us {
        Us(self.0.dur)
    }

    /// Its details: `key=value, …`.
    fn detail(&self) -> Detail<'a> {
        Detail(&self.0.args)
    }
}

/// A span's details, `key=value` pairs separated by commas.
struct Detail<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{k}={v}")?;
        }
        Ok(())
    }
}

const LABEL_W: f64 = 130.0;
const TIMELINE_W: f64 = 1100.0;
const ROW_H: f64 = 22.0;
/// A bar's height: the row, less a gap.
const BAR_H: f64 = ROW_H - 4.0;

impl<'a> Timeline<'a> {
    fn new(spans: &[&'a Event], summary: &Summary) -> Self {
        let t0 = spans.iter().map(|e| e.ts).fold(f64::INFINITY, f64::min);
        let scale = if summary.wall_us > 0.0 {
            (TIMELINE_W - LABEL_W - 10.0) / summary.wall_us
        } else {
            1.0
        };
        let crit: HashSet<&str> = summary.critical_path.iter().map(String::as_str).collect();
        let mut rows: Vec<Row<'a>> = summary
            .busy_us
            .keys()
            .enumerate()
            .map(|(row, &(pid, tid))| Row {
                pid,
                track: Track(tid),
                y: 22.0 + ROW_H * row as f64,
                bars: Vec::new(),
            })
            .collect();
        // Tracks are the summary's, in its (sorted) order.
        let row_of: std::collections::HashMap<(u32, u32), usize> = summary
            .busy_us
            .keys()
            .enumerate()
            .map(|(row, &track)| (track, row))
            .collect();
        for e in spans {
            let row = &mut rows[row_of[&(e.pid, e.tid)]];
            row.bars.push(Bar {
                span: Span(e),
                x: LABEL_W + (e.ts - t0) * scale,
                width: (e.dur * scale).max(0.5),
                crit: task_key(e).is_some_and(|k| crit.contains(k)),
            });
        }
        Timeline {
            width: TIMELINE_W,
            height: 30.0 + ROW_H * rows.len() as f64,
            ticks: (0..=10)
                .map(|i| {
                    let x = LABEL_W + (TIMELINE_W - LABEL_W - 40.0) * i as f64 / 10.0;
                    (x, Us(summary.wall_us * i as f64 / 10.0))
                })
                .collect(),
            rows,
        }
    }
}

/// The critical path and the picture of the task graph.
struct Critical<'a> {
    /// Tasks on the path.
    len: usize,
    /// Its total duration.
    work: Us,
    wall: Us,
    /// The first keys of the path, and how many more there are.
    keys: Vec<&'a str>,
    more: usize,
    graph: Result<GraphPicture<'a>, usize>,
}

/// At most this many keys of the critical path are listed.
const LISTED: usize = 50;
/// Graphs with more tasks than this are not drawn.
const MAX_NODES: usize = 400;

impl<'a> Critical<'a> {
    fn new(summary: &'a Summary, tasks: &Tasks<'a>) -> Option<Self> {
        let path = &summary.critical_path;
        (!path.is_empty()).then(|| Critical {
            len: path.len(),
            work: Us(summary.critical_path_us),
            wall: Us(summary.wall_us),
            keys: path.iter().take(LISTED).map(String::as_str).collect(),
            more: path.len().saturating_sub(LISTED),
            graph: if tasks.len() > MAX_NODES {
                Err(tasks.len())
            } else {
                Ok(GraphPicture::new(tasks, path))
            },
        })
    }
}

/// The task graph, in layers by depth (longest chain of inputs), inputs on
/// top.
struct GraphPicture<'a> {
    width: f64,
    height: f64,
    edges: Vec<Edge>,
    nodes: Vec<Node<'a>>,
}

/// An arrow from an input (bottom centre) to its consumer (top centre).
struct Edge {
    from: (f64, f64),
    to: (f64, f64),
    crit: bool,
}

/// A task's box.
struct Node<'a> {
    span: Span<'a>,
    key: &'a str,
    x: f64,
    y: f64,
    crit: bool,
}

impl<'a> Node<'a> {
    /// The start of the key, to fit in the box.
    fn label(&self) -> &'a str {
        match self.key.char_indices().nth(18) {
            Some((at, _)) => &self.key[..at],
            None => self.key,
        }
    }
}

/// A box's width and height, and the gaps between boxes and between layers.
const BOX_W: f64 = 120.0;
const BOX_H: f64 = 26.0;
const GAP_X: f64 = 30.0;
const GAP_Y: f64 = 50.0;

impl<'a> GraphPicture<'a> {
    fn new(tasks: &Tasks<'a>, critical: &[String]) -> Self {
        let layers = layered(&tasks.inputs);
        let widest = layers.widest().max(1) as f64;
        let width = (widest * (BOX_W + GAP_X) + GAP_X).max(300.0);
        let height = layers.rows.len() as f64 * (BOX_H + GAP_Y) + GAP_Y;
        // Rows are centred.
        let xy: Vec<(f64, f64)> = layers
            .place
            .iter()
            .map(|&(layer, at)| {
                let row_w = layers.rows[layer].len() as f64 * (BOX_W + GAP_X) - GAP_X;
                (
                    (width - row_w) / 2.0 + at as f64 * (BOX_W + GAP_X),
                    GAP_Y / 2.0 + layer as f64 * (BOX_H + GAP_Y),
                )
            })
            .collect();
        let on_path: HashSet<(&str, &str)> = critical
            .windows(2)
            .map(|w| (w[0].as_str(), w[1].as_str()))
            .collect();
        let crit: HashSet<&str> = critical.iter().map(String::as_str).collect();
        // Drawn in the trace's order.
        let mut drawn: Vec<usize> = (0..tasks.len()).collect();
        drawn.sort_by_key(|&i| tasks.at[i]);
        let mut edges = Vec::new();
        for &i in &drawn {
            let (x, y) = xy[i];
            for &d in &tasks.inputs[i] {
                let (dx, dy) = xy[d];
                edges.push(Edge {
                    from: (dx + BOX_W / 2.0, dy + BOX_H),
                    to: (x + BOX_W / 2.0, y),
                    crit: on_path.contains(&(tasks.keys[d], tasks.keys[i])),
                });
            }
        }
        let nodes = drawn
            .into_iter()
            .map(|i| Node {
                span: Span(tasks.spans[i]),
                key: tasks.keys[i],
                x: xy[i].0,
                y: xy[i].1,
                crit: crit.contains(tasks.keys[i]),
            })
            .collect();
        GraphPicture {
            width,
            height,
            edges,
            nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use parallel_runtime::trace::parse;

    use super::render_html;

    /// A chain of `n` tasks, each reading the one before, named `name`.
    fn chain(n: usize, name: &str) -> Vec<parallel_runtime::trace::Event> {
        let events: Vec<String> = (0..n)
            .map(|i| {
                let deps = if i == 0 { String::new() } else { format!("\"t-{}\"", i - 1) };
                format!(
                    r#"{{"name": {name:?}, "cat": "task", "ph": "X", "ts": {i}, "dur": 1, "pid": 0, "tid": 1, "args": {{"key": "t-{i}", "deps": [{deps}]}}}}"#
                )
            })
            .collect();
        parse(&format!("[{}]", events.join(","))).expect("valid trace")
    }

    #[test]
    fn names_and_titles_are_escaped() {
        let html = render_html("<b>&run.json", &chain(2, "f<script>\"'"));
        assert!(html.contains("<title>&#60;b&#62;&#38;run.json — parallel report</title>"));
        assert!(!html.contains("<script>\"") && !html.contains("f<script>"));
        assert!(html.contains("f&#60;script&#62;&#34;&#39;"));
        // Only the page's own script.
        assert_eq!(html.matches("<script>").count(), 1);
    }

    #[test]
    fn long_paths_are_cut_and_big_graphs_are_not_drawn() {
        let html = render_html("t", &chain(60, "f"));
        assert_eq!(html.matches("<li>").count(), 51);
        assert!(html.contains("<li>… 10 more</li>"));
        assert_eq!(html.matches("<g class=\"node crit\">").count(), 60);
        let html = render_html("t", &chain(401, "f"));
        assert!(html.contains("The graph has 401 tasks, too many to draw legibly here (limit 400)"));
        assert!(!html.contains("id=\"graph\""));
    }
}
