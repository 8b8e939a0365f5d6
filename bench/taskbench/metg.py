"""METG (Task Bench, Slaughter et al. SC20) from the times the three
programs of bench/taskbench print, one line per run:

    SYSTEM PATTERN CORES WIDTH STEPS ITERS TASKS SECONDS

For each system and pattern: the rate of a run is TASKS * ITERS / SECONDS
(kernel iterations per second), its efficiency its rate over the peak rate,
the rate at the largest kernel size (Task Bench's: the ideal time of a size
is the time of the largest size scaled down). Its task granularity is
SECONDS * CORES / TASKS. A size measured several times (rounds) keeps its
best time. METG(50%) is the smallest granularity at which the efficiency
is still 50%: from the smallest granularity of a size that reaches 50%
towards the next smaller size (which does not), interpolated linearly in
efficiency against log(granularity). Prints one table: pattern, METG of each system, ratios;
then, per system, that peak as a fraction of CORES times its kernel's rate
on one core undisturbed (the line `SYSTEM peak CORES 0 0 ITERS 1 SECONDS`,
the best of many short calls): well below 1, the machine was busy.

    python3 metg.py TIMES_FILE [--detail]
"""

import collections
import math
import sys

NAMES = {
    "c_mpi": "C MPI (mpirun -n {c})",
    "ours": "ours, #[delayed] on {c} threads",
    "ours_compute": "ours, compute only",
    "dask": "Dask distributed ({c} worker processes)",
    # Issue 12, row (b): the graph across MPI ranks (taskbench_ranks).
    "ours_ranks": "ours, #[delayed] across {c} ranks",
    "ours_ranks_compute": "ours across ranks, compute only",
    # run.sh's BEFORE=DIR: an earlier build, side by side.
    "before": "before, #[delayed] on {c} threads",
    "before_compute": "before, compute only",
    "before_ranks": "before, across {c} ranks",
    "before_ranks_compute": "before across ranks, compute only",
    # bench/node/run.sh: across ranks with the hang watchdog off
    # (PARALLEL_HANG_TIMEOUT=0), so MPI runs at the asked thread level
    # (funneled) rather than multiple.
    "nowd_ranks": "ours across {c} ranks, watchdog off",
    "nowd_ranks_compute": "ours across ranks, watchdog off, compute only",
}


def sweep_peak(rows):
    """The rate (kernel iterations per second) at the largest kernel size
    of a sweep."""
    r = max(rows, key=lambda r: r[0])
    return r[1] * r[0] / r[2]


def metg(rows):
    """rows: (iters, tasks, seconds, cores), one per kernel size (the best
    time of its runs). Returns (METG in seconds, whether a size below it
    failed: if none did, the METG is at most the value)."""
    rows = sorted(rows, key=lambda r: -r[0])
    peak = sweep_peak(rows)
    pts = [(r[1] * r[0] / r[2] / peak, r[2] * r[3] / r[1]) for r in rows]
    ok = [i for i, (eff, _) in enumerate(pts) if eff >= 0.5]
    if not ok:
        return None, False
    best = min(ok, key=lambda i: pts[i][1])
    (e1, g1) = pts[best]
    if best + 1 == len(pts):
        return g1, False
    (e2, g2) = pts[best + 1]
    if g2 >= g1:
        return g1, True
    f = (e1 - 0.5) / (e1 - e2)
    return math.exp(math.log(g1) + f * (math.log(g2) - math.log(g1))), True


def fmt(v, exact=True):
    if v is None:
        return "n/a"
    s = f"{v * 1e6:.3g} µs" if v < 1e-3 else f"{v * 1e3:.3g} ms"
    return s if exact else "≤ " + s


def main():
    best = {}
    cores = {}
    peaks = {}
    for line in open(sys.argv[1]):
        f = line.split()
        if len(f) != 8 or f[0] not in NAMES:
            continue
        who, pat, c, _w, _s, iters, tasks, secs = f
        if pat == "peak":
            peaks[who] = max(peaks.get(who, 0), int(c) * int(iters) / float(secs))
            continue
        key = (who, pat, int(iters), int(tasks), int(c))
        best[key] = min(best.get(key, float("inf")), float(secs))
        cores[who] = c
    data = collections.defaultdict(list)
    for (who, pat, iters, tasks, c), secs in best.items():
        data[(who, pat)].append((iters, tasks, secs, c))
    if "--detail" in sys.argv:
        for (who, pat), rows in sorted(data.items()):
            peak = sweep_peak(rows)
            for it, tasks, secs, c in sorted(rows, key=lambda r: -r[0]):
                print(f"  {who:13} {pat:11} iters {it:8} eff {tasks * it / secs / peak:6.2f} "
                      f"granularity {secs * c / tasks * 1e6:10.2f} µs")
    systems = [s for s in NAMES if any(k[0] == s for k in data)]
    pats = [p for p in ["trivial", "stencil_1d", "tree"] if any(k[1] == p for k in data)]
    head = ["pattern"] + [NAMES[s].format(c=cores[s]) for s in systems]
    head += ["ours ÷ C MPI", "Dask ÷ ours"]
    ranks = "ours_ranks" in systems
    if ranks:
        head += ["across ranks ÷ C MPI"]
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
    for pat in pats:
        m = {
            s: metg(data[(s, pat)]) if data.get((s, pat)) else (None, False)
            for s in systems
        }
        cells = [pat] + [fmt(*m[s]) for s in systems]
        ratio = lambda a, b: f"{m[a][0] / m[b][0]:.1f}×" if m.get(a, (None,))[0] and m.get(b, (None,))[0] else "n/a"
        cells += [ratio("ours", "c_mpi"), ratio("dask", "ours")]
        if ranks:
            cells += [ratio("ours_ranks", "c_mpi")]
        print("| " + " | ".join(cells) + " |")
    print()
    for s in systems:
        if s not in peaks:
            continue
        fr = [sweep_peak(rows) / peaks[s] for (w, _), rows in data.items() if w == s]
        print(f"{NAMES[s].format(c=cores[s])}: rate at the largest size = "
              + ", ".join(f"{f:.2f}" for f in fr)
              + " of cores × the kernel's rate on one quiet core")


if __name__ == "__main__":
    main()
