"""Task Bench's patterns (trivial, stencil_1d, tree) on Dask distributed:
the Dask side of bench/taskbench/run.sh.

    python3 dask_taskbench.py [--patterns trivial,stencil_1d,tree]
        [--width W] [--steps S] [--iters 1048576,...] [--reps N] [--workers N]
    python3 dask_taskbench.py --check

A LocalCluster of N single-threaded worker processes runs the graph, written
as a dict of tasks (the scheduler alone, without building `delayed`
objects). The definitions of the graph, the kernel and the values are those
of examples/taskbench/mod.rs. For each pattern and kernel size it prints the
best of N runs as `dask PATTERN CORES WIDTH STEPS ITERS TASKS SECONDS` (after
the kernel's best time on one core as `dask peak CORES 0 0 ITERS 1 SECONDS`); every
run's checksum is compared with a serial walk of the graph, and a wrong
result exits with status 1 before any time is printed (TASKBENCH_CORRUPT=1
spoils each result, to show that the check fails).
"""

import argparse
import os
import sys
import time

M = (1 << 64) - 1
PATTERNS = ["trivial", "stencil_1d", "tree"]


def width_at(pat, t, width):
    return min(width, 1 << t) if pat == "tree" and t < 62 else width


def deps(pat, t, p, width):
    if t == 0 or pat == "trivial":
        return range(0)
    if pat == "stencil_1d":
        return range(max(p - 1, 0), min(p + 2, width))
    return range(p // 2, p // 2 + 1)


def has_consumer(pat, t, p, width, steps):
    return t + 1 < steps and any(
        p in deps(pat, t + 1, c, width) for c in range(width_at(pat, t + 1, width))
    )


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def point_value(t, p, inputs):
    h = mix(((t << 32) ^ p) & M)
    for v in inputs:
        h = mix(h ^ v)
    return h


def kernel(iters, seed):
    x = 1.0 + (seed & 0xFF) * 1e-3
    for _ in range(iters):
        x = x * 0.999999 + 1e-6
    return x


def point(t, p, iters, *inputs):
    x = kernel(iters, t * 4096 + p)
    v = point_value(t, p, inputs)
    return v ^ 1 if x != x else v


def graph(run, pat, width, steps, iters):
    """The graph as a dict of tasks, and the keys of its sinks. Keys name
    the run: the scheduler may still hold the keys of the run before."""
    dsk, sinks = {}, []
    for t in range(steps):
        for p in range(width_at(pat, t, width)):
            dsk[(run, t, p)] = (point, t, p, iters) + tuple(
                (run, t - 1, d) for d in deps(pat, t, p, width)
            )
            if not has_consumer(pat, t, p, width, steps):
                sinks.append((run, t, p))
    return dsk, sinks


def reference(pat, width, steps):
    vals, total = {}, 0
    for t in range(steps):
        for p in range(width_at(pat, t, width)):
            vals[(t, p)] = point_value(t, p, [vals[(t - 1, d)] for d in deps(pat, t, p, width)])
            if not has_consumer(pat, t, p, width, steps):
                total ^= vals[(t, p)]
    return total


RUNS = [0]


def run_once(client, pat, width, steps, iters, want):
    RUNS[0] += 1
    t0 = time.perf_counter()
    dsk, sinks = graph(f"r{RUNS[0]}", pat, width, steps, iters)
    values = client.get(dsk, sinks)
    elapsed = time.perf_counter() - t0
    got = 0
    for v in values:
        got ^= v
    if os.environ.get("TASKBENCH_CORRUPT"):
        got ^= 1
    if got != want:
        sys.exit(
            f"dask_taskbench: {pat} width {width} steps {steps} iters {iters}: checksum {got:#x}, "
            f"the serial walk gives {want:#x}"
        )
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--width", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--iters", default=",".join(str(1 << k) for k in range(20, 9, -1)))
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    from dask.distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster) as client:
        if a.check:
            for pat in PATTERNS:
                for width, steps in [(1, 5), (2, 10), (3, 10), (5, 7)]:
                    run_once(client, pat, width, steps, 16, reference(pat, width, steps))
                print(f"ok: {pat} (widths 1, 2, 3, 5; {a.workers} worker processes)")
            return
        # The kernel's rate on one core, undisturbed: the best of short calls.
        best = float("inf")
        for i in range(50):
            t0 = time.perf_counter()
            kernel(1 << 14, i)
            best = min(best, time.perf_counter() - t0)
        print(f"dask peak {a.workers} 0 0 {1 << 14} 1 {best:.9f}", flush=True)
        for pat in a.patterns.split(","):
            if pat not in PATTERNS:
                sys.exit(f"dask_taskbench: unknown pattern {pat}")
            want = reference(pat, a.width, a.steps)
            tasks = sum(width_at(pat, t, a.width) for t in range(a.steps))
            run_once(client, pat, a.width, a.steps, 0, want)  # warm the workers
            for iters in (int(k) for k in a.iters.split(",")):
                best = min(run_once(client, pat, a.width, a.steps, iters, want) for _ in range(a.reps))
                print(f"dask {pat} {a.workers} {a.width} {a.steps} {iters} {tasks} {best:.9f}", flush=True)


if __name__ == "__main__":
    main()
