//! Freeing a computed graph.
//!
//! Freeing the nodes of a graph after its compute costs about 75 ns a node
//! (two frees, and the atomic counts of the node and its inputs), on the
//! calling thread before `compute` returns. Handing graphs of 1,024 to
//! 16,383 nodes to a thread of the pool instead made the compute alone
//! cheaper but the program slower: on a 16-core machine, Task Bench's
//! build-and-compute METG (back-to-back graphs) went from 3.03 to 3.59 µs
//! on stencil_1d with 2 threads and from 1.09 to 1.72 µs on trivial, the
//! free then competing with the next graph for the pool and the heap
//! (docs/performance.md, "On a 16-core machine"). So the caller frees.

use super::plan::Plan;

/// Frees `plan` (released already) and its nodes, here.
pub(crate) fn free(mut plan: Plan) {
    let nodes = plan.take_nodes();
    drop(plan);
    drop(nodes);
}
