//! The built-in SVG layout, for machines without Graphviz.
//!
//! A plain layered drawing: a task's layer is one more than its deepest
//! input (inputs at the bottom, as Dask draws), tasks within a layer are
//! ordered by the mean position of their inputs (one barycentre pass, which
//! removes most crossings of map-reduce shapes), and every edge is a
//! straight arrow. Linear in the size of the graph.

use std::fmt::Write as _;

use super::inspect::{escape, fill, Graph};

const ROW: f64 = 70.0;
const BOX_H: f64 = 28.0;
const GAP: f64 = 16.0;
const MARGIN: f64 = 12.0;

pub(crate) fn layout(g: &Graph) -> String {
    let nodes: Vec<_> = g.node_deps().collect();
    let n = nodes.len();
    // Layers: inputs come first in the list, so one pass suffices.
    let mut layer = vec![0usize; n];
    for (i, (deps, ..)) in nodes.iter().enumerate() {
        layer[i] = deps.iter().map(|&d| layer[d] + 1).max().unwrap_or(0);
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in layer.iter().enumerate() {
        rows[l].push(i);
    }
    // Order within a layer by the mean position of the inputs.
    let mut pos = vec![0f64; n];
    for row in &mut rows {
        let key = |i: &usize| {
            let deps = nodes[*i].0;
            if deps.is_empty() {
                *i as f64
            } else {
                deps.iter().map(|&d| pos[d]).sum::<f64>() / deps.len() as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = row.iter().map(|i| (key(i), *i)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *row = keyed.into_iter().map(|(_, i)| i).collect();
        for (p, &i) in row.iter().enumerate() {
            pos[i] = p as f64;
        }
    }
    let width_of = |label: &str| 7.0 * label.chars().count() as f64 + 20.0;
    let col = nodes
        .iter()
        .map(|(_, label, ..)| width_of(label))
        .fold(60.0, f64::max)
        + GAP;
    let widest = rows.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let total_w = widest * col + 2.0 * MARGIN;
    let total_h = layers as f64 * ROW + 2.0 * MARGIN - (ROW - BOX_H);
    // Centre of each box; rows are centred horizontally.
    let mut xy = vec![(0f64, 0f64); n];
    for (l, row) in rows.iter().enumerate() {
        let offset = (widest - row.len() as f64) * col / 2.0;
        let y = MARGIN + (layers - 1 - l) as f64 * ROW + BOX_H / 2.0;
        for (p, &i) in row.iter().enumerate() {
            xy[i] = (MARGIN + offset + p as f64 * col + col / 2.0, y);
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w:.0}\" height=\"{total_h:.0}\" \
         viewBox=\"0 0 {total_w:.0} {total_h:.0}\" font-family=\"Helvetica,Arial,sans-serif\" \
         font-size=\"11\">\n<!-- drawn by parallel-runtime's built-in layout -->\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
    );
    for (i, (deps, ..)) in nodes.iter().enumerate() {
        let (x2, y2) = xy[i];
        for &d in *deps {
            let (x1, y1) = xy[d];
            let _ = writeln!(
                s,
                "<line x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{x2:.1}\" y2=\"{:.1}\" stroke=\"#555\" \
                 marker-end=\"url(#arrow)\"/>",
                y1 - BOX_H / 2.0,
                y2 + BOX_H / 2.0
            );
        }
    }
    for (i, (_, label, state, root)) in nodes.iter().enumerate() {
        let (x, y) = xy[i];
        let w = width_of(label);
        let _ = writeln!(
            s,
            "<g><title>{t}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{BOX_H}\" \
             rx=\"6\" fill=\"{}\" stroke=\"#333\" stroke-width=\"{}\"/><text x=\"{x:.1}\" \
             y=\"{:.1}\" text-anchor=\"middle\">{t}</text></g>",
            x - w / 2.0,
            y - BOX_H / 2.0,
            fill(*state).unwrap_or("#eef3fb"),
            if *root { 2 } else { 1 },
            y + 4.0,
            t = escape(label),
        );
    }
    s.push_str("</svg>\n");
    s
}
