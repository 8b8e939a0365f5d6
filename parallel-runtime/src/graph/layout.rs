//! A layered drawing of a directed acyclic graph, shared by the graph
//! picture ([`Graph::to_svg`](super::Graph::to_svg)) and the HTML report of
//! a trace (the `parallel-report` crate).
//!
//! **Not a stable API**: it is public (and hidden from the docs) only so that
//! the report crate can use it; it may change in any release.
//!
//! The first two steps of a Sugiyama drawing, kept simple: a node's layer is
//! one more than its deepest input, and nodes within a layer are ordered by
//! the mean position of their inputs (one barycentre pass, which removes most
//! crossings of map-reduce shapes). Linear in the size of the graph, plus one
//! sort per layer. It knows nothing of tasks, traces or pixels: callers turn
//! layers and places into coordinates.

/// Where each node of a graph goes in a layered drawing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layers {
    /// The nodes of each layer, in drawing order. Layer 0 holds the nodes
    /// without inputs; every other node is one layer past its deepest input.
    pub rows: Vec<Vec<usize>>,
    /// For each node: its layer, and its place in that layer's row.
    pub place: Vec<(usize, usize)>,
}

impl Layers {
    /// The number of nodes in the fullest layer (0 for an empty graph).
    pub fn widest(&self) -> usize {
        self.rows.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// Lays out the graph whose node `i` has the inputs `inputs[i]` (indices of
/// other nodes; an input listed twice counts twice).
///
/// Nodes come inputs first, as a topological order lists them: an input
/// that is not earlier in the list than its consumer is ignored, so a graph
/// with a cycle (or a stray edge) still gets a drawing. Within a layer,
/// nodes without drawn inputs keep their order in the list; the others are
/// ordered by the mean place of their inputs, ties in list order.
///
/// ```
/// use parallel_runtime::graph::layout::layered;
///
/// // Two inputs, a node that reads both, and one that reads the second.
/// let inputs: [&[usize]; 4] = [&[], &[], &[0, 1], &[1]];
/// let l = layered(&inputs);
/// assert_eq!(l.rows, [vec![0, 1], vec![2, 3]]);
/// assert_eq!(l.place[3], (1, 1));
/// ```
pub fn layered<D: AsRef<[usize]>>(inputs: &[D]) -> Layers {
    let n = inputs.len();
    let drawn = |i: usize| inputs[i].as_ref().iter().copied().filter(move |&d| d < i);
    // Layers: inputs come first in the list, so one pass suffices.
    let mut layer = vec![0usize; n];
    for i in 0..n {
        layer[i] = drawn(i).map(|d| layer[d] + 1).max().unwrap_or(0);
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in layer.iter().enumerate() {
        rows[l].push(i);
    }
    // Order within a layer by the mean position of the inputs, which all
    // lie in layers placed before.
    let mut place = vec![(0usize, 0usize); n];
    for (l, row) in rows.iter_mut().enumerate() {
        let key = |i: usize| {
            let (sum, count) =
                drawn(i).fold((0.0, 0usize), |(s, c), d| (s + place[d].1 as f64, c + 1));
            if count == 0 {
                i as f64
            } else {
                sum / count as f64
            }
        };
        let mut keyed: Vec<(f64, usize)> = row.iter().map(|&i| (key(i), i)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *row = keyed.into_iter().map(|(_, i)| i).collect();
        for (p, &i) in row.iter().enumerate() {
            place[i] = (l, p);
        }
    }
    Layers { rows, place }
}

#[cfg(test)]
mod tests {
    use super::layered;

    #[test]
    fn a_reduction_tree_keeps_its_order_and_edges_run_straight_down() {
        let inputs = vec![
            vec![],
            vec![],
            vec![],
            vec![],
            vec![2, 3],
            vec![0, 1],
            vec![5, 4],
        ];
        let l = layered(&inputs);
        // The pair over 0 and 1 goes left of the pair over 2 and 3.
        assert_eq!(l.rows, [vec![0, 1, 2, 3], vec![5, 4], vec![6]]);
        assert_eq!(l.place[4], (1, 1));
        assert_eq!(l.widest(), 4);
    }

    #[test]
    fn later_inputs_are_ignored_and_an_empty_graph_has_no_layers() {
        let l = layered(&[vec![1], vec![0]]);
        assert_eq!(l.rows, [vec![0], vec![1]]);
        assert_eq!(layered::<Vec<usize>>(&[]), Default::default());
    }
}
