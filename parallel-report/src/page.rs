//! The page: the summary and the sections laid out for the template
//! `templates/report.html` (sections with their timelines, busy tables,
//! critical paths and graphs; the timelines' spans as data for the
//! template's script, see `encode.rs`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use askama::Template;
use parallel_runtime::graph::layout::layered;
use parallel_runtime::trace::Event;

use crate::encode::{timeline_json, track_label};
use crate::palette::colour;
use crate::sections::{is_message, sections, Section};
use crate::summary::{measure, summarize_sections, Summary};
use crate::trace::{Status, Trace, NONE};

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
    legend: Vec<(&'a str, &'a str)>,
    busy: Vec<Busy>,
    failed: usize,
    cancelled: usize,
    /// The first spans that did not succeed, and how many more there are.
    failures: Vec<FailureRow<'a>>,
    failures_more: usize,
    sections: Vec<SectionView<'a>>,
    /// The timelines' data (JSON, safe inside `<script>`).
    data: String,
}

/// Renders the report of `events` as one HTML document.
pub fn render_html(title: &str, events: &[Event]) -> String {
    render_trace(title, &Trace::from_events(events))
}

/// Renders the report of a trace read with [`Trace::read`] as one HTML
/// document.
pub fn render_trace(title: &str, trace: &Trace) -> String {
    report(title, trace).0
}

/// [`render_trace`], and the [`Summary`](crate::Summary) of the trace,
/// computed once for both.
pub fn report(title: &str, trace: &Trace) -> (String, Summary) {
    let sections = sections(trace);
    let summary = summarize_sections(trace, &sections);
    // Colours by function name, handed out in name order.
    let names: BTreeSet<&str> = trace.funcs.iter().map(|f| f.name.as_str()).collect();
    let name_colour: BTreeMap<&str, String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, colour(i)))
        .collect();
    let colours: Vec<String> = trace
        .funcs
        .iter()
        .map(|f| name_colour[f.name.as_str()].clone())
        .collect();
    let (failures, failures_more) = failure_rows(trace, &sections);
    let page = Page {
        title,
        spans: trace.spans.len(),
        tracks: summary.busy_us.len(),
        ranks: trace
            .spans
            .iter()
            .map(|e| e.pid)
            .collect::<BTreeSet<u32>>()
            .len(),
        wall: Us(summary.wall_us),
        imbalance: summary.imbalance,
        legend: name_colour.iter().map(|(n, c)| (*n, c.as_str())).collect(),
        busy: busy_rows(&summary),
        failed: summary.failed,
        cancelled: summary.cancelled,
        failures,
        failures_more,
        sections: section_views(trace, &sections, &colours),
        data: timeline_json(trace, &sections, &colours),
    };
    // Writing into a String only fails if a value's `Display` does, and
    // none of ours do.
    let html = page
        .render()
        .unwrap_or_else(|e| format!("<p>cannot render the report: {e}</p>\n"));
    (html, summary)
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

/// One row of a busy and idle table.
struct Busy {
    track: String,
    busy: Us,
    idle: Us,
    percent: f64,
}

fn busy_rows(summary: &Summary) -> Vec<Busy> {
    summary
        .busy_us
        .iter()
        .map(|(&(pid, tid), &busy)| Busy {
            track: track_label(pid, tid),
            busy: Us(busy),
            idle: Us((summary.wall_us - busy).max(0.0)),
            percent: if summary.wall_us > 0.0 {
                100.0 * busy / summary.wall_us
            } else {
                0.0
            },
        })
        .collect()
}

/// A span that did not succeed, in the table of failures.
struct FailureRow<'a> {
    section: usize,
    name: &'a str,
    status: &'static str,
    what: &'a str,
    error: &'a str,
}

/// The failures table lists at most this many spans.
const FAILURES_LISTED: usize = 100;

fn failure_rows<'a>(trace: &'a Trace, sections: &[Section]) -> (Vec<FailureRow<'a>>, usize) {
    let mut rows = Vec::new();
    let mut more = 0;
    for (n, s) in sections.iter().enumerate() {
        for &i in &s.spans {
            let e = &trace.spans[i as usize];
            let status = match e.status {
                Status::Ok => continue,
                Status::Failed => "failed",
                Status::Cancelled => "cancelled",
            };
            if rows.len() == FAILURES_LISTED {
                more += 1;
                continue;
            }
            let detail = (e.detail != NONE).then(|| &trace.details[e.detail as usize]);
            let what = if e.task != NONE {
                &*trace.keys[trace.tasks[e.task as usize].key as usize]
            } else {
                detail.map_or("", |d| d.text.as_str())
            };
            rows.push(FailureRow {
                section: n + 1,
                name: &trace.func(e).name,
                status,
                what,
                error: detail.and_then(|d| d.error.as_deref()).unwrap_or(""),
            });
        }
    }
    (rows, more)
}

/// The sections as drawn; the first with a task graph keeps the ids
/// `critical` and `graph`, the others' end in their number.
fn section_views<'a>(
    trace: &'a Trace,
    sections: &[Section],
    colours: &'a [String],
) -> Vec<SectionView<'a>> {
    let t0 = sections.first().map_or(0.0, |s| s.t0);
    let mut views: Vec<SectionView<'a>> = sections
        .iter()
        .enumerate()
        .map(|(i, s)| SectionView::new(trace, s, i, colours, t0))
        .collect();
    if let Some(first) = views.iter_mut().find(|v| v.critical.is_some()) {
        first.id.clear();
    }
    views
}

/// One section: a map, reduction or compute.
struct SectionView<'a> {
    /// 1-based.
    n: usize,
    /// What ran: the kind of work and its functions.
    label: String,
    events: usize,
    failures: usize,
    /// When it started, from the start of the trace, and how long it took.
    start: Us,
    wall: Us,
    imbalance: f64,
    tracks: usize,
    /// The height of its timeline's canvas.
    height: f64,
    busy: Vec<Busy>,
    critical: Option<Critical<'a>>,
    /// What its ids end in: `-<n>`, or nothing (see [`section_views`]).
    id: String,
}

const ROW_H: f64 = 22.0;

impl<'a> SectionView<'a> {
    /// Section `i` of a trace whose first section starts at `t0`.
    fn new(trace: &'a Trace, s: &Section, i: usize, colours: &'a [String], t0: f64) -> Self {
        let spans = s.spans.iter().map(|&i| &trace.spans[i as usize]);
        let summary = measure(spans.clone());
        SectionView {
            n: i + 1,
            label: section_label(trace, s),
            events: s.spans.len(),
            failures: spans.clone().filter(|e| e.status != Status::Ok).count(),
            start: Us(s.t0 - t0),
            wall: Us(summary.wall_us),
            imbalance: summary.imbalance,
            tracks: summary.busy_us.len(),
            height: 30.0 + ROW_H * summary.busy_us.len() as f64,
            busy: busy_rows(&summary),
            critical: Critical::new(trace, s, colours, summary.wall_us),
            id: format!("-{}", i + 1),
        }
    }
}

/// `compute: 12 tasks (load, clean, sum)`, `map square: 40 chunks`.
fn section_label(trace: &Trace, s: &Section) -> String {
    let mut count: BTreeMap<u32, usize> = BTreeMap::new();
    for &i in &s.spans {
        *count.entry(trace.spans[i as usize].func).or_default() += 1;
    }
    let cat = |f: u32| trace.funcs[f as usize].cat.as_str();
    let mut work: Vec<(u32, usize)> = count
        .into_iter()
        .filter(|(f, _)| !is_message(cat(*f)))
        .collect();
    work.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let names = |list: &[(u32, usize)]| {
        let mut shown: Vec<&str> = list
            .iter()
            .take(4)
            .map(|(f, _)| trace.funcs[*f as usize].name.as_str())
            .collect();
        shown.dedup();
        let more = if list.len() > 4 { ", …" } else { "" };
        format!("{}{more}", shown.join(", "))
    };
    let messages = s.spans.len() - work.iter().map(|w| w.1).sum::<usize>();
    if s.tasks.len() > 0 {
        format!("compute: {} tasks ({})", s.tasks.len(), names(&work))
    } else if let Some(&(f, n)) = work.first() {
        let kind = cat(f);
        if work.len() == 1 {
            format!("{kind} {}: {n} chunks", trace.funcs[f as usize].name)
        } else {
            format!(
                "{kind}: {} chunks ({})",
                work.iter().map(|w| w.1).sum::<usize>(),
                names(&work)
            )
        }
    } else {
        format!("messages: {messages} operations")
    }
}

/// The critical path of a section's task graph, and the graph's picture.
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
    fn new(trace: &'a Trace, s: &Section, colours: &'a [String], wall: f64) -> Option<Self> {
        let (path, len) = &s.critical;
        (!path.is_empty()).then(|| Critical {
            len: path.len(),
            work: Us(*len),
            wall: Us(wall),
            keys: path
                .iter()
                .take(LISTED)
                .map(|&i| s.tasks.key(trace, i))
                .collect(),
            more: path.len().saturating_sub(LISTED),
            graph: if s.tasks.len() > MAX_NODES {
                Err(s.tasks.len())
            } else {
                Ok(GraphPicture::new(trace, s, colours))
            },
        })
    }
}

/// A task graph, in layers by depth (longest chain of inputs), inputs on
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
    key: &'a str,
    name: &'a str,
    colour: &'a str,
    dur: Us,
    x: f64,
    y: f64,
    crit: bool,
    /// `""`, `failed` or `cancelled`.
    status: &'static str,
    error: &'a str,
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
    fn new(trace: &'a Trace, s: &Section, colours: &'a [String]) -> Self {
        let tasks = &s.tasks;
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
        let path = &s.critical.0;
        let on_path: HashSet<(usize, usize)> = path.windows(2).map(|w| (w[0], w[1])).collect();
        let crit: HashSet<usize> = path.iter().copied().collect();
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
                    crit: on_path.contains(&(d, i)),
                });
            }
        }
        let nodes = drawn
            .into_iter()
            .map(|i| {
                let e = &trace.spans[tasks.spans[i] as usize];
                let detail = (e.detail != NONE).then(|| &trace.details[e.detail as usize]);
                Node {
                    key: tasks.key(trace, i),
                    name: &trace.func(e).name,
                    colour: &colours[e.func as usize],
                    dur: Us(e.dur),
                    x: xy[i].0,
                    y: xy[i].1,
                    crit: crit.contains(&i),
                    status: match e.status {
                        Status::Ok => "",
                        Status::Failed => "failed",
                        Status::Cancelled => "cancelled",
                    },
                    error: detail.and_then(|d| d.error.as_deref()).unwrap_or(""),
                }
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
mod tests;
