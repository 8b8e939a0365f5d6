//! The task graph of a trace: the spans of `#[delayed]` tasks, which carry
//! their key and the keys of their inputs.

use std::collections::HashMap;

use parallel_runtime::trace::Event;
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

/// The key of a task's span (`cat` `task`, `args.key`).
pub(crate) fn task_key(e: &Event) -> Option<&str> {
    (e.cat == "task")
        .then(|| e.args.get("key").and_then(|k| k.as_str()))
        .flatten()
}

/// The keys of a task's inputs (`args.deps`), in argument order.
fn task_deps(e: &Event) -> impl Iterator<Item = &str> {
    e.args
        .get("deps")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
}

/// The tasks of a trace, one per key (the last span seen with that key), in
/// the order they started.
pub(crate) struct Tasks<'a> {
    /// The span of each task.
    pub(crate) spans: Vec<&'a Event>,
    /// The key of each task.
    pub(crate) keys: Vec<&'a str>,
    /// Where each task's span is among the trace's spans.
    pub(crate) at: Vec<usize>,
    /// For each task, its inputs that are in the trace, by index, in
    /// argument order (repeated when an input is passed twice).
    pub(crate) inputs: Vec<Vec<usize>>,
}

impl<'a> Tasks<'a> {
    /// The task graph of `spans` (empty when no span is a task).
    pub(crate) fn of(spans: &[&'a Event]) -> Self {
        let by_key: HashMap<&str, (usize, &Event)> = spans
            .iter()
            .enumerate()
            .filter_map(|(at, e)| task_key(e).map(|k| (k, (at, *e))))
            .collect();
        let mut order: Vec<(&str, usize, &Event)> =
            by_key.into_iter().map(|(k, (at, e))| (k, at, e)).collect();
        // Start order; spans that started together stay in the trace's order.
        order.sort_by(|a, b| a.2.ts.total_cmp(&b.2.ts).then(a.1.cmp(&b.1)));
        let index: HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, (k, ..))| (*k, i))
            .collect();
        let inputs = order
            .iter()
            .map(|(_, _, e)| task_deps(e).filter_map(|d| index.get(d).copied()).collect())
            .collect();
        Tasks {
            keys: order.iter().map(|(k, ..)| *k).collect(),
            at: order.iter().map(|(_, at, _)| *at).collect(),
            spans: order.into_iter().map(|(_, _, e)| e).collect(),
            inputs,
        }
    }

    /// The number of tasks.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The chain of dependent tasks with the largest total duration, first
    /// to last, and that duration.
    pub(crate) fn critical_path(&self) -> (Vec<usize>, f64) {
        let n = self.len();
        let mut g = DiGraph::<(), ()>::with_capacity(n, self.inputs.iter().map(Vec::len).sum());
        for _ in 0..n {
            g.add_node(());
        }
        for (i, inputs) in self.inputs.iter().enumerate() {
            for &d in inputs {
                g.add_edge(NodeIndex::new(d), NodeIndex::new(i), ());
            }
        }
        // Inputs before consumers, whatever the clocks said. A trace that
        // is not a graph (a cycle of keys) falls back to start order, where
        // an input that started later is not counted.
        let order: Vec<usize> = match toposort(&g, None) {
            Ok(order) => order.into_iter().map(NodeIndex::index).collect(),
            Err(_) => (0..n).collect(),
        };
        // Longest chain ending at each task, and the input it came through.
        let mut best: Vec<Option<(f64, Option<usize>)>> = vec![None; n];
        for i in order {
            let (mut acc, mut prev) = (0.0, None);
            for &d in &self.inputs[i] {
                if let Some((len, _)) = best[d] {
                    if len > acc {
                        (acc, prev) = (len, Some(d));
                    }
                }
            }
            best[i] = Some((acc + self.spans[i].dur, prev));
        }
        let Some((mut at, len)) = best
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.map(|(len, _)| (i, len)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return (Vec::new(), 0.0);
        };
        let mut path = vec![at];
        while let Some((_, Some(prev))) = best[at] {
            path.push(prev);
            at = prev;
        }
        path.reverse();
        (path, len)
    }
}
