//! The task graph of a section: the spans of `#[delayed]` tasks, which
//! carry their key and the keys of their inputs.

use std::collections::HashMap;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::trace::{Trace, NONE};

/// The tasks of a section, one per key (the last span seen with that key),
/// in the order they started.
#[derive(Default)]
pub(crate) struct Tasks {
    /// The span of each task (an index into the trace's spans).
    pub(crate) spans: Vec<u32>,
    /// Where each task's span is among the section's spans.
    pub(crate) at: Vec<usize>,
    /// For each task, its inputs that are in the section, by index, in
    /// argument order (repeated when an input is passed twice).
    pub(crate) inputs: Vec<Vec<usize>>,
}

impl Tasks {
    /// The task graph of `spans`, indices into `trace`'s spans in start
    /// order (empty when no span is a task).
    pub(crate) fn of(trace: &Trace, spans: &[u32]) -> Self {
        let key = |s: u32| {
            let t = trace.spans[s as usize].task;
            (t != NONE).then(|| trace.tasks[t as usize].key)
        };
        let by_key: HashMap<u32, (usize, u32)> = spans
            .iter()
            .enumerate()
            .filter_map(|(at, &s)| key(s).map(|k| (k, (at, s))))
            .collect();
        let mut order: Vec<(usize, u32)> = by_key.into_values().collect();
        // Start order; spans that started together stay in the trace's order.
        order.sort_unstable_by_key(|&(at, _)| at);
        let index: HashMap<u32, usize> = order
            .iter()
            .enumerate()
            .filter_map(|(i, &(_, s))| key(s).map(|k| (k, i)))
            .collect();
        let inputs = order
            .iter()
            .map(|&(_, s)| {
                let t = &trace.tasks[trace.spans[s as usize].task as usize];
                trace.deps[t.deps.clone()]
                    .iter()
                    .filter_map(|d| index.get(d).copied())
                    .collect()
            })
            .collect();
        Tasks {
            at: order.iter().map(|&(at, _)| at).collect(),
            spans: order.into_iter().map(|(_, s)| s).collect(),
            inputs,
        }
    }

    /// The number of tasks.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The key of task `i`.
    pub(crate) fn key<'t>(&self, trace: &'t Trace, i: usize) -> &'t str {
        let t = trace.spans[self.spans[i] as usize].task;
        &trace.keys[trace.tasks[t as usize].key as usize]
    }

    /// The chain of dependent tasks with the largest total duration, first
    /// to last, and that duration.
    pub(crate) fn critical_path(&self, trace: &Trace) -> (Vec<usize>, f64) {
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
            best[i] = Some((acc + trace.spans[self.spans[i] as usize].dur, prev));
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
