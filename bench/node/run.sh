#!/usr/bin/env bash
# The 16-core run: every figure of docs/performance.md that a 2-core machine
# cannot give, in one script, from the programs bench/node/build.sh made
# (no cargo needed here: Open MPI's mpirun and mpicc, and python3).
#   bash bench/node/run.sh [BIN [OUT]]     # defaults: .node-bin, node-out
# Sections, each under its own time limit, in this order: Task Bench METG
# (C MPI against our graph on threads and across ranks, at 2 and CORES),
# recording a trace at 1, 2 and 16 threads, the MPI ping-pong and
# all_reduce (C, ours, mpi4py), the map bench (imap against map), the
# delayed bench (without Dask), the scaling study. Prints everything; the
# raw times go to OUT/raw.tar.gz, the scaling study to OUT/scaling.*.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-.node-bin}")
OUT=$(realpath -m "${2:-node-out}")
mkdir -p "$OUT/raw"
CORES=${CORES:-$(nproc)}
ROUNDS=${ROUNDS:-3}  # MPI_ROUNDS: the MPI section's, if fewer
# QUICK=1: a smoke run of the script itself (short benches, quick study).
[ -n "${QUICK:-}" ] && export BENCH_QUICK=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PYTHONUNBUFFERED=1
# The programs were linked against libmpi.so.40 elsewhere: use this
# machine's Open MPI library (same 4.x ABI).
libdir=$(mpicc --showme:libdirs 2>/dev/null | cut -d' ' -f1)
[ -n "$libdir" ] && export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Slots = hardware threads, so that -n CORES needs no oversubscription;
# `mpi N ARGS…` runs N ranks, each bound to a hardware thread where there
# are enough of them (a smoke run on fewer cores runs them unbound).
mpi() {
  local n=$1 bind=hwthread
  shift
  [ "$n" -gt "$(nproc)" ] && bind=none
  timeout "${T:-60}" mpirun --use-hwthread-cpus --oversubscribe --bind-to "$bind" -n "$n" "$@"
}
section() { echo; echo "=== $* ($(date +%T); load $(cut -d' ' -f1-3 /proc/loadavg))"; }

machine() {
echo "cores: $CORES; built from commit $(cat "$BIN/commit" 2>/dev/null)"
grep -m1 'model name' /proc/cpuinfo
lscpu 2>/dev/null | grep -E '^(Thread|Core|Socket|NUMA node\(s\))' || true
echo "kernel: $(uname -r)"
mpirun --version 2>&1 | head -1
ldd "$BIN/taskbench_ranks" | grep -E 'mpi|not found' || true
mpicc -O2 -o "$BIN/taskbench_mpi" bench/taskbench/taskbench_mpi.c
mpicc -O2 -o "$BIN/pingpong_c" bench/mpi/pingpong.c
# Open MPI's shared-memory single copy (CMA) is refused in some sandboxes:
# then copy through the shared segment, and say so.
if ! mpi 2 "$BIN/pingpong_c" 2>"$OUT/raw/probe.err" || grep -qiE 'vader|process_vm|cma' "$OUT/raw/probe.err"; then
  head -5 "$OUT/raw/probe.err"
  echo "(single-copy shared memory failed: running with OMPI_MCA_btl_vader_single_copy_mechanism=none)"
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
fi
mpi 2 "$BIN/taskbench_ranks" --check || echo "taskbench_ranks --check FAILED"
}

ITERS=$(python3 -c 'print(",".join(str(1 << k) for k in range(13, 0, -1)))')
# Task Bench METG: C MPI against ours on threads (one process), at each
# core count of TB_CORES.
taskbench() {
for c in ${TB_CORES:-2 $CORES}; do
  f="$OUT/raw/tb-$c.txt"
  for _ in $(seq "$ROUNDS"); do
    for p in trivial stencil_1d tree; do
      mpi "$c" "$BIN/taskbench_mpi" --patterns "$p" --width "$c" --iters "$ITERS" --reps 5 >>"$f"
      PARALLEL_NUM_THREADS=$c timeout 60 "$BIN/taskbench" --patterns "$p" --width "$c" --iters "$ITERS" --reps 5 >>"$f"
      # An earlier build (bench/node/build.sh's BEFORE), side by side.
      [ -x "$BIN/before/taskbench" ] && PARALLEL_NUM_THREADS=$c timeout 60 "$BIN/before/taskbench" \
        --patterns "$p" --width "$c" --iters "$ITERS" --reps 5 | sed 's/^ours/before/' >>"$f"
    done
  done
  echo "--- $c cores (C MPI: $c ranks; ours: $c threads, one process)"
  python3 bench/taskbench/metg.py "$f"
done
}

# Task Bench stencil_1d: C MPI against ours across ranks (compute_on).
ranks() {
for n in ${TB_RANKS:-2 4 $CORES}; do
  f="$OUT/raw/tb-ranks-$n.txt"
  for _ in $(seq "$ROUNDS"); do
    mpi "$n" "$BIN/taskbench_mpi" --patterns stencil_1d --width "$n" --iters "$ITERS" --reps 5 >>"$f"
    T=90 mpi "$n" -x PARALLEL_NUM_THREADS=1 "$BIN/taskbench_ranks" --patterns stencil_1d --width "$n" --iters "$ITERS" --reps 5 >>"$f"
    # The hang watchdog off: MPI at the thread level asked for (funneled)
    # instead of multiple, as the C program.
    T=90 mpi "$n" -x PARALLEL_NUM_THREADS=1 -x PARALLEL_HANG_TIMEOUT=0 "$BIN/taskbench_ranks" --patterns stencil_1d \
      --width "$n" --iters "$ITERS" --reps 5 | sed 's/^ours/nowd/' >>"$f"
    [ -x "$BIN/before/taskbench_ranks" ] && T=90 mpi "$n" -x PARALLEL_NUM_THREADS=1 "$BIN/before/taskbench_ranks" \
      --patterns stencil_1d --width "$n" --iters "$ITERS" --reps 5 | sed 's/^ours/before/' >>"$f"
  done
  echo "--- stencil_1d across $n ranks (one thread each)"
  python3 bench/taskbench/metg.py "$f"
done
}

# Hybrid: 4 ranks x 4 threads, width 16.
hybrid() {
  [ "$CORES" -ge 16 ] || { echo "(needs 16 cores)"; return; }
  f="$OUT/raw/tb-hybrid.txt"
  mpi 16 "$BIN/taskbench_mpi" --patterns stencil_1d --width 16 --iters "$ITERS" --reps 5 >>"$f"
  timeout 90 mpirun --use-hwthread-cpus --oversubscribe --map-by slot:PE=4 -n 4 -x PARALLEL_NUM_THREADS=4 "$BIN/taskbench_ranks" --patterns stencil_1d --width 16 --iters "$ITERS" --reps 5 >>"$f"
  echo "--- hybrid: stencil_1d width 16, ours 4 ranks x 4 threads (--map-by slot:PE=4) against C MPI on 16 ranks"
  python3 bench/taskbench/metg.py "$f"
}

trace() { timeout 180 "$BIN/bench_trace"; }

# MPI: ping-pong (2 ranks) and all_reduce (2, 4, CORES ranks): C, ours, mpi4py.
mpibench() {
f="$OUT/raw/mpi.txt"
for _ in $(seq "${MPI_ROUNDS:-$ROUNDS}"); do
  for prog in "pingpong_c" "pingpong_c funneled" "mpi_pingpong_single" "mpi_pingpong"; do
    # shellcheck disable=SC2086
    mpi 2 $BIN/$prog >>"$f"
    for n in 4 "$CORES"; do
      # shellcheck disable=SC2086
      mpi "$n" $BIN/$prog | grep allreduce >>"$f"
    done
  done
  mpi 2 python3 bench/mpi/pingpong.py >>"$f" 2>"$OUT/raw/mpi4py.err" ||
    echo "(mpi4py ping-pong did not run: $(tail -1 "$OUT/raw/mpi4py.err"))"
done
python3 bench/mpi/medians.py "$f"
}

map() { timeout 150 "$BIN/bench_map"; }
delayed() { BENCH_NO_DASK=1 timeout 90 "$BIN/bench_delayed"; }
scaling() { timeout 120 "$BIN/scaling" --max-threads "$CORES" --out-dir "$OUT" ${QUICK:+--quick} | tail -25; }

# SECTIONS (default: all, in this order) picks some.
for s in ${SECTIONS:-machine taskbench ranks hybrid trace mpibench map delayed scaling}; do
  section "$s"
  "$s"
done
section "done"
tar -czf "$OUT/raw.tar.gz" -C "$OUT" raw && rm -rf "$OUT/raw"
ls -la "$OUT"
