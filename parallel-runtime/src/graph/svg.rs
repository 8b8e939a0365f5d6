//! The built-in SVG picture of a graph, for machines without Graphviz.
//!
//! A plain layered drawing from [`layered`]: inputs at the bottom, as Dask
//! draws, and every edge a straight arrow. It draws plain data (labels,
//! fills, inputs by index), which [`inspect`](super::inspect) takes from a
//! [`Graph`](super::Graph); it also holds the one XML/HTML escaper of the
//! runtime, used for the DOT text too.

use std::fmt::Write as _;

use super::layout::layered;

const ROW: f64 = 70.0;
const BOX_H: f64 = 28.0;
const GAP: f64 = 16.0;
const MARGIN: f64 = 12.0;

/// One box of the picture.
pub(super) struct Node<'a> {
    /// Indices of the inputs, all earlier in the list.
    pub(super) inputs: &'a [usize],
    /// The text in the box.
    pub(super) label: String,
    /// The box's colour.
    pub(super) fill: &'static str,
    /// A result asked for: drawn with a thicker border.
    pub(super) root: bool,
}

/// The picture of `nodes` (listed inputs first) as an SVG document.
pub(super) fn draw(nodes: &[Node<'_>]) -> String {
    let drawing = layered(&nodes.iter().map(|n| n.inputs).collect::<Vec<_>>());
    let (rows, layers) = (&drawing.rows, drawing.rows.len());
    let width_of = |label: &str| 7.0 * label.chars().count() as f64 + 20.0;
    let col = nodes
        .iter()
        .map(|node| width_of(&node.label))
        .fold(60.0, f64::max)
        + GAP;
    let widest = drawing.widest() as f64;
    let total_w = widest * col + 2.0 * MARGIN;
    let total_h = layers as f64 * ROW + 2.0 * MARGIN - (ROW - BOX_H);
    // Centre of each box; rows are centred horizontally.
    let mut xy = vec![(0f64, 0f64); nodes.len()];
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
    for (i, node) in nodes.iter().enumerate() {
        let (x2, y2) = xy[i];
        for &d in node.inputs {
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
    for (i, node) in nodes.iter().enumerate() {
        let (x, y) = xy[i];
        let w = width_of(&node.label);
        let _ = writeln!(
            s,
            "<g><title>{t}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{BOX_H}\" \
             rx=\"6\" fill=\"{}\" stroke=\"#333\" stroke-width=\"{}\"/><text x=\"{x:.1}\" \
             y=\"{:.1}\" text-anchor=\"middle\">{t}</text></g>",
            x - w / 2.0,
            y - BOX_H / 2.0,
            node.fill,
            if node.root { 2 } else { 1 },
            y + 4.0,
            t = escape(&node.label),
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Escapes text for XML and HTML: in element content and in double-quoted
/// attribute values (and DOT's quoted labels).
pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
