//! Where each task runs: one rank per task, computed from the graph alone,
//! so that every rank computes the same placement without a message.
//!
//! In the order of the walk (inputs first):
//!
//! - a task already computed by an earlier compute stays where its result
//!   is (the lowest rank that holds it);
//! - a task pinned with [`Delayed::on_rank`](crate::graph::Delayed::on_rank)
//!   runs there;
//! - a source (a task without inputs) goes to its block: the `k`-th of `S`
//!   sources to rank `k * size / S`, so that neighbouring sources (the
//!   points of a stencil, the chunks of a file) share a rank;
//! - any other task follows its inputs: the rank that computes most of
//!   them (fewest bytes to move, without knowing sizes), the least loaded
//!   of those on a tie, then the lowest;
//! - unless that rank already has its share (`ceil(tasks / size)` tasks
//!   to run): then the least loaded rank takes it (balance cap).

/// The placement of one graph.
pub(crate) struct Placement {
    /// The rank of each task, by position in the plan.
    pub(crate) owner: Vec<u32>,
}

/// What placement reads of one task.
pub(crate) struct Task<'a> {
    pub(crate) deps: &'a [u32],
    /// Pinned to this rank.
    pub(crate) pin: Option<u32>,
    /// The lowest rank where an earlier compute left it complete.
    pub(crate) done_on: Option<u32>,
}

/// Places `tasks` (in the order of the walk: inputs first) on `size` ranks.
pub(crate) fn place(tasks: &[Task<'_>], order: &[u32], size: u32) -> Placement {
    let n = tasks.len();
    let mut owner = vec![0u32; n];
    let size = size.max(1);
    if size == 1 {
        return Placement { owner };
    }
    let to_run = tasks.iter().filter(|t| t.done_on.is_none()).count();
    let cap = to_run.div_ceil(size as usize);
    let sources = tasks
        .iter()
        .filter(|t| t.done_on.is_none() && t.pin.is_none() && t.deps.is_empty())
        .count();
    let mut load = vec![0usize; size as usize];
    let mut votes = vec![0u32; size as usize];
    let mut source = 0usize;
    for &i in order {
        let t = &tasks[i as usize];
        let r = if let Some(r) = t.done_on {
            owner[i as usize] = r;
            continue;
        } else if let Some(r) = t.pin {
            r
        } else if t.deps.is_empty() {
            let r = (source * size as usize / sources.max(1)) as u32;
            source += 1;
            r
        } else {
            // Only the ranks of its inputs are counted (and reset after):
            // the cost of a task is its inputs, not the number of ranks.
            for &d in t.deps {
                votes[owner[d as usize] as usize] += 1;
            }
            // Most inputs, then the least loaded, then the lowest rank.
            let key = |r: usize| (votes[r], std::cmp::Reverse(load[r]), std::cmp::Reverse(r));
            let best = t
                .deps
                .iter()
                .map(|&d| owner[d as usize] as usize)
                .max_by_key(|&r| key(r))
                .unwrap_or(0);
            for &d in t.deps {
                votes[owner[d as usize] as usize] = 0;
            }
            if load[best] >= cap {
                least_loaded(&load)
            } else {
                best as u32
            }
        };
        owner[i as usize] = r;
        load[r as usize] += 1;
    }
    Placement { owner }
}

/// The least loaded rank, the lowest on a tie.
fn least_loaded(load: &[usize]) -> u32 {
    let mut best = 0;
    for (r, &l) in load.iter().enumerate() {
        if l < load[best] {
            best = r;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(deps: &[u32]) -> Task<'_> {
        Task {
            deps,
            pin: None,
            done_on: None,
        }
    }

    #[test]
    fn a_stencil_keeps_its_columns_on_their_ranks() {
        // 4 points, 3 steps: point i of step s depends on i-1, i, i+1.
        let width = 4u32;
        let mut deps: Vec<Vec<u32>> = (0..width).map(|_| Vec::new()).collect();
        for s in 1..3u32 {
            for i in 0..width {
                let prev = (s - 1) * width;
                let d = (i.saturating_sub(1)..=(i + 1).min(width - 1))
                    .map(|j| prev + j)
                    .collect();
                deps.push(d);
            }
        }
        let tasks: Vec<Task<'_>> = deps.iter().map(|d| t(d)).collect();
        let order: Vec<u32> = (0..tasks.len() as u32).collect();
        let p = place(&tasks, &order, 2);
        for s in 0..3 {
            let row = &p.owner[(s * 4) as usize..(s * 4 + 4) as usize];
            assert_eq!(row, [0, 0, 1, 1], "step {s}");
        }
    }

    #[test]
    fn pins_and_earlier_results_win_and_work_is_balanced() {
        let deps: Vec<Vec<u32>> = vec![vec![], vec![0], vec![0], vec![0], vec![0], vec![0]];
        let mut tasks: Vec<Task<'_>> = deps.iter().map(|d| t(d)).collect();
        tasks[5].pin = Some(0);
        let order: Vec<u32> = (0..6).collect();
        let p = place(&tasks, &order, 2);
        // Rank 0 takes its share of 3, the rest spill to rank 1; the pin holds.
        assert_eq!(p.owner, [0, 0, 0, 1, 1, 0]);
        tasks[0].done_on = Some(1);
        let p = place(&tasks, &order, 2);
        assert_eq!(p.owner[0], 1);
    }
}
