//! A snapshot of a graph: its tasks, keys and dependencies, in DOT and SVG.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::node::{AnyNode, Claim};
use super::svg::{self, escape};
use super::{Compute, Roots, TaskKey};

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeState {
    /// Not computed yet.
    Pending,
    /// A compute is running it (or its graph) right now.
    Running,
    /// Computed; its result is kept for a handle you hold.
    Done,
    /// Computed; its result was handed on to its consumers.
    Consumed,
    /// Failed, or cancelled because an input failed.
    Failed,
}

/// How an SVG picture was drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SvgEngine {
    /// Graphviz `dot`, found on `PATH`.
    Graphviz,
    /// The built-in layered layout (no external program).
    Builtin,
}

#[derive(Clone, Debug)]
struct GNode {
    key: TaskKey,
    deps: Vec<usize>,
    state: NodeState,
}

/// A snapshot of a task graph, to inspect or draw (Dask's
/// `x.dask` and `x.visualize()`). Tasks are listed inputs first.
///
/// ```
/// use parallel_runtime::prelude::*;
/// use parallel_runtime::graph::Graph;
///
/// #[delayed] fn inc(x: i64) -> i64 { x + 1 }
/// #[delayed] fn add(x: i64, y: i64) -> i64 { x + y }
///
/// let a = inc(1);
/// let b = add(&a, &a);
/// let g = Graph::of(&(a, b));
/// assert_eq!(g.len(), 2);
/// let keys: Vec<String> = g.keys().map(|k| k.to_string()).collect();
/// assert!(keys[0].starts_with("inc-") && keys[1].starts_with("add-"));
/// let add_key = g.keys().nth(1).unwrap();
/// assert_eq!(g.dependencies(&add_key).unwrap().len(), 2); // `a` twice
/// assert!(g.to_dot().starts_with("digraph"));
/// ```
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: Vec<GNode>,
    roots: Vec<usize>,
    index: HashMap<(&'static str, u64), usize>,
}

impl Graph {
    /// The graph behind a `Delayed`, a `Vec` of them, or a tuple.
    pub fn of<C: Compute>(c: &C) -> Graph {
        let mut roots = Roots::default();
        c.roots(&mut roots);
        let mut seen: HashMap<*const (), usize> = HashMap::new();
        let mut nodes: Vec<GNode> = Vec::new();
        let mut root_ix = Vec::new();
        // Iterative post-order: inputs get their index before consumers.
        // The nodes are borrowed, never cloned: a count taken here, even
        // for a moment, made a compute running on another thread (of a
        // graph that shares a node with this one) take a node below it for
        // one a handle outside still wants, and read its result by cloning,
        // which fails when its handle was never cloned. Borrowing is enough:
        // every node stays alive while `c` is borrowed, and no compute
        // takes its inputs away (a graph a handle reaches is never lent).
        let mut stack: Vec<(&dyn AnyNode, usize)> = Vec::new();
        for r in &roots.0 {
            stack.push((&**r, 0));
            while let Some((node, k)) = stack.last_mut() {
                let node: &dyn AnyNode = *node;
                let ptr = addr(node);
                if *k == 0 && seen.contains_key(&ptr) {
                    stack.pop();
                    continue;
                }
                let h = node.head();
                let state = h.state.load(Ordering::Acquire);
                // Inputs of a computed task are no longer part of its story.
                let deps: &[Arc<dyn AnyNode>] = if state == Claim::Done || state == Claim::Empty {
                    &[]
                } else {
                    h.deps()
                };
                if *k < deps.len() {
                    let d: &dyn AnyNode = &*deps[*k];
                    *k += 1;
                    if !seen.contains_key(&addr(d)) {
                        stack.push((d, 0));
                    }
                    continue;
                }
                let deps_ix = deps
                    .iter()
                    .filter_map(|d| seen.get(&addr(&**d)).copied())
                    .collect();
                seen.insert(ptr, nodes.len());
                nodes.push(GNode {
                    key: h.key(),
                    deps: deps_ix,
                    state: match state {
                        Claim::Claimed => NodeState::Running,
                        Claim::Done => NodeState::Done,
                        Claim::Empty => NodeState::Consumed,
                        Claim::Failed => NodeState::Failed,
                        Claim::Idle => NodeState::Pending,
                    },
                });
                stack.pop();
            }
        }
        // Roots, in the order given.
        for r in &roots.0 {
            if let Some(&i) = seen.get(&addr(&**r)) {
                root_ix.push(i);
            }
        }
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (id(&n.key), i))
            .collect();
        Graph {
            nodes,
            roots: root_ix,
            index,
        }
    }

    /// The number of tasks.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no tasks (never, for a graph of a `Delayed`).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The keys of all tasks, inputs before the tasks that consume them.
    pub fn keys(&self) -> impl Iterator<Item = TaskKey> + '_ {
        self.nodes.iter().map(|n| n.key)
    }

    /// The keys of the results asked for.
    pub fn roots(&self) -> Vec<TaskKey> {
        self.roots.iter().map(|&i| self.nodes[i].key).collect()
    }

    /// The inputs of task `key` (in argument order, repeated if passed
    /// twice), or `None` if it is not in this graph.
    pub fn dependencies(&self, key: &TaskKey) -> Option<Vec<TaskKey>> {
        let n = &self.nodes[*self.index.get(&id(key))?];
        Some(n.deps.iter().map(|&d| self.nodes[d].key).collect())
    }

    /// The tasks that consume the result of `key`.
    pub fn dependents(&self, key: &TaskKey) -> Option<Vec<TaskKey>> {
        let i = *self.index.get(&id(key))?;
        Some(
            self.nodes
                .iter()
                .filter(|n| n.deps.contains(&i))
                .map(|n| n.key)
                .collect(),
        )
    }

    /// Where task `key` stands.
    pub fn state(&self, key: &TaskKey) -> Option<NodeState> {
        Some(self.nodes[*self.index.get(&id(key))?].state)
    }

    /// The graph in Graphviz DOT: one box per task, labelled with its key,
    /// an arrow from each input to its consumer, drawn bottom-up as Dask
    /// does; computed tasks are green, failed ones red.
    pub fn to_dot(&self) -> String {
        let mut s = String::from(
            "digraph delayed {\n  rankdir=BT;\n  node [shape=box, style=\"rounded,filled\", \
             fillcolor=\"#eef3fb\", fontname=\"Helvetica\", fontsize=11];\n",
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let _ = write!(s, "  n{i} [label=\"{}\"", escape(&n.key.to_string()));
            if let Some(c) = fill(n.state) {
                let _ = write!(s, ", fillcolor=\"{c}\"");
            }
            if self.roots.contains(&i) {
                s.push_str(", penwidth=2");
            }
            s.push_str("];\n");
        }
        for (i, n) in self.nodes.iter().enumerate() {
            for d in &n.deps {
                let _ = writeln!(s, "  n{d} -> n{i};");
            }
        }
        s.push_str("}\n");
        s
    }

    /// Writes [`to_dot`](Self::to_dot) to `path`.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write_dot(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_dot())
    }

    /// The graph as SVG: through Graphviz `dot` when it is on `PATH`,
    /// otherwise with the built-in layered layout; the engine used comes
    /// back with the picture.
    pub fn to_svg(&self) -> (String, SvgEngine) {
        match self.to_svg_with(SvgEngine::Graphviz) {
            Ok(svg) => (svg, SvgEngine::Graphviz),
            Err(_) => (self.builtin_svg(), SvgEngine::Builtin),
        }
    }

    /// The graph as SVG drawn by `engine`.
    ///
    /// # Errors
    /// For [`SvgEngine::Graphviz`], if `dot` cannot be run or fails.
    pub fn to_svg_with(&self, engine: SvgEngine) -> std::io::Result<String> {
        match engine {
            SvgEngine::Builtin => Ok(self.builtin_svg()),
            SvgEngine::Graphviz => run_dot(&self.to_dot()),
        }
    }

    /// Writes [`to_svg`](Self::to_svg) to `path` and says which engine drew it.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write_svg(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<SvgEngine> {
        let (svg, engine) = self.to_svg();
        std::fs::write(path, svg)?;
        Ok(engine)
    }

    /// The picture drawn by the built-in layout.
    fn builtin_svg(&self) -> String {
        let nodes: Vec<svg::Node<'_>> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| svg::Node {
                inputs: &n.deps,
                label: n.key.to_string(),
                fill: fill(n.state).unwrap_or("#eef3fb"),
                root: self.roots.contains(&i),
            })
            .collect();
        svg::draw(&nodes)
    }
}

/// A node's address, which identifies it.
fn addr(node: &dyn AnyNode) -> *const () {
    node as *const dyn AnyNode as *const ()
}

fn id(key: &TaskKey) -> (&'static str, u64) {
    (key.name(), key.seq())
}

fn fill(state: NodeState) -> Option<&'static str> {
    match state {
        NodeState::Done | NodeState::Consumed => Some("#d9f2d9"),
        NodeState::Failed => Some("#f8d0d0"),
        NodeState::Running => Some("#fff2c0"),
        NodeState::Pending => None,
    }
}

fn run_dot(dot: &str) -> std::io::Result<String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(dot.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "`dot -Tsvg` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(std::io::Error::other)
}
