//! Task Bench's graphs (Slaughter et al., SC20) as `#[delayed]` graphs: the
//! patterns `trivial`, `stencil_1d` and `tree` on a grid of `steps` rows of
//! up to `width` points, each point a task whose compute-bound kernel runs
//! `iters` iterations.
//!
//! The same definitions are written in C (`bench/taskbench/taskbench_mpi.c`)
//! and Python (`bench/taskbench/dask_taskbench.py`); the three must agree on
//! [`Pattern::deps`], [`mix`] and [`point_value`], so that each program can
//! check its result against [`reference()`], a serial walk of the same graph.
//!
//! [`build`] returns the sinks of the graph (the tasks no other task
//! consumes): computing them runs every task once. It is written to be
//! reused by any runner of the graph (threads here; ranks elsewhere).

use parallel_runtime::prelude::*;

/// One of Task Bench's dependence patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// No dependencies: every task is independent.
    Trivial,
    /// Point `p` of step `t` depends on points `p - 1 ..= p + 1` of step
    /// `t - 1` (clamped to the grid).
    Stencil1d,
    /// Step `t` has `min(width, 2^t)` points; point `p` depends on point
    /// `p / 2` of the step before.
    Tree,
}

impl Pattern {
    /// The three patterns, in the order the harness prints them.
    pub const ALL: [Pattern; 3] = [Pattern::Trivial, Pattern::Stencil1d, Pattern::Tree];

    /// Task Bench's name of the pattern.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Trivial => "trivial",
            Pattern::Stencil1d => "stencil_1d",
            Pattern::Tree => "tree",
        }
    }

    /// The pattern named `s` (Task Bench's names).
    pub fn parse(s: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The number of points of step `t`.
    pub fn width_at(self, t: usize, width: usize) -> usize {
        match self {
            Pattern::Tree if t < 63 => width.min(1 << t),
            _ => width,
        }
    }

    /// The points of step `t - 1` that point `p` of step `t` reads, in
    /// increasing order (none at step 0).
    pub fn deps(self, t: usize, p: usize, width: usize) -> std::ops::Range<usize> {
        if t == 0 {
            return 0..0;
        }
        match self {
            Pattern::Trivial => 0..0,
            Pattern::Stencil1d => p.saturating_sub(1)..(p + 2).min(width),
            Pattern::Tree => p / 2..p / 2 + 1,
        }
    }

    /// Whether some point of step `t + 1` reads point `p` of step `t`.
    pub fn has_consumer(self, t: usize, p: usize, width: usize, steps: usize) -> bool {
        t + 1 < steps
            && (0..self.width_at(t + 1, width)).any(|c| self.deps(t + 1, c, width).contains(&p))
    }

    /// The number of tasks of a graph.
    pub fn tasks(self, width: usize, steps: usize) -> usize {
        (0..steps).map(|t| self.width_at(t, width)).sum()
    }
}

/// SplitMix64's finaliser: the hash that chains the values of the graph.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value of point `p` of step `t` from the values it reads: every
/// edge changes it, so a wrong or missing edge changes the checksum.
pub fn point_value(t: usize, p: usize, inputs: &[u64]) -> u64 {
    let mut h = mix(((t as u64) << 32) ^ p as u64);
    for &v in inputs {
        h = mix(h ^ v);
    }
    h
}

/// The compute-bound kernel: `iters` dependent floating-point steps (about
/// 8 cycles each), which the optimiser can neither remove nor vectorise.
/// The same loop as the C program's.
pub fn kernel(iters: u32, seed: u64) -> f64 {
    let mut x = 1.0 + (seed & 0xff) as f64 * 1e-3;
    for _ in 0..iters {
        x = x * 0.999_999 + 1e-6;
    }
    std::hint::black_box(x)
}

/// One task: the kernel, then the value of the point. The value does not
/// depend on the kernel's result (which is never NaN), only on the graph,
/// so a serial walk without the kernel checks it.
#[delayed]
fn point(t: usize, p: usize, inputs: Vec<u64>, iters: u32) -> u64 {
    let x = kernel(iters, (t * 4096 + p) as u64);
    let v = point_value(t, p, &inputs);
    if x.is_nan() {
        v ^ 1
    } else {
        v
    }
}

/// The graph of `pattern` as `#[delayed]` tasks; returns its sinks (every
/// task no other task reads), in the order of the steps, then the points.
/// Computing them runs each task of the graph once.
pub fn build(pattern: Pattern, width: usize, steps: usize, iters: u32) -> Vec<Delayed<u64>> {
    let mut sinks = Vec::new();
    let mut prev: Vec<Delayed<u64>> = Vec::new();
    for t in 0..steps {
        let row: Vec<Delayed<u64>> = (0..pattern.width_at(t, width))
            .map(|p| point(t, p, &prev[pattern.deps(t, p, width)], iters))
            .collect();
        for (p, d) in prev.into_iter().enumerate() {
            if !pattern.has_consumer(t - 1, p, width, steps) {
                sinks.push(d);
            }
        }
        prev = row;
    }
    sinks.extend(prev);
    sinks
}

/// The checksum of the sinks' values: their XOR (each value hashes its
/// own step and point, so the order does not matter, which lets ranks
/// combine their parts with a bitwise-XOR reduction).
pub fn checksum(values: &[u64]) -> u64 {
    values.iter().fold(0, |acc, &v| acc ^ v)
}

/// The checksum of the graph, by a serial walk without the kernel.
pub fn reference(pattern: Pattern, width: usize, steps: usize) -> u64 {
    let mut sinks = Vec::new();
    let mut prev: Vec<u64> = Vec::new();
    for t in 0..steps {
        let row: Vec<u64> = (0..pattern.width_at(t, width))
            .map(|p| {
                let inputs: Vec<u64> = pattern.deps(t, p, width).map(|d| prev[d]).collect();
                point_value(t, p, &inputs)
            })
            .collect();
        for (p, &v) in prev.iter().enumerate() {
            if !pattern.has_consumer(t - 1, p, width, steps) {
                sinks.push(v);
            }
        }
        prev = row;
    }
    sinks.extend(prev);
    checksum(&sinks)
}

/// The options of the Task Bench runners (`taskbench` on threads, and
/// `taskbench_ranks` across MPI ranks, issue 12's row b).
pub struct Args {
    /// The patterns to run.
    pub patterns: Vec<Pattern>,
    /// The width of the grid; `None`: the runner's default (its cores).
    pub width: Option<usize>,
    /// The number of steps.
    pub steps: usize,
    /// The kernel sizes, largest first.
    pub iters: Vec<u32>,
    /// Runs of each size (the best is kept).
    pub reps: usize,
    /// `--check`: small checked graphs only.
    pub check: bool,
}

impl Args {
    /// Reads `--patterns a,b --width W --steps S --iters i,j --reps R
    /// --check` from the command line over these defaults.
    pub fn parse(mut self) -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--check" {
                self.check = true;
                continue;
            }
            let v = it.next().ok_or(format!("{flag} needs a value"))?;
            let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
            match flag.as_str() {
                "--patterns" => {
                    self.patterns = v
                        .split(',')
                        .map(|p| Pattern::parse(p).ok_or(format!("unknown pattern {p}")))
                        .collect::<Result<_, _>>()?
                }
                "--width" => self.width = Some(num(&v)?),
                "--steps" => self.steps = num(&v)?,
                "--reps" => self.reps = num(&v)?.max(1),
                "--iters" => {
                    self.iters = v
                        .split(',')
                        .map(|k| k.parse::<u32>().map_err(|e| format!("--iters {k}: {e}")))
                        .collect::<Result<_, _>>()?
                }
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(self)
    }
}

/// The kernel size of [`peak_seconds`].
pub const PEAK_ITERS: u32 = 4096;

/// The kernel's time on one core, undisturbed: the best of many short
/// calls of [`PEAK_ITERS`] iterations (the ideal against which efficiency
/// is measured, robust to a shared machine's load).
pub fn peak_seconds() -> f64 {
    let mut best = f64::INFINITY;
    for i in 0..400 {
        let t = std::time::Instant::now();
        std::hint::black_box(kernel(PEAK_ITERS, i));
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// The (width, steps) of the small graphs `--check` runs.
pub const CHECK_SIZES: [(usize, usize); 4] = [(1, 5), (2, 40), (3, 40), (5, 33)];
