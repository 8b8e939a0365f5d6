#!/usr/bin/env bash
# Task Bench (Slaughter et al., SC20) on this machine, in one run: METG of
# the patterns trivial, stencil_1d and tree for a hand-written C MPI
# program, our #[delayed] graph on one process with threads, and Dask
# distributed (LocalCluster, worker processes), side by side. The method
# and the table: docs/performance.md, "Task Bench METG".
#   bash bench/taskbench/run.sh            # the measurement (a few minutes)
#   bash bench/taskbench/run.sh --check    # CI: tiny graphs, each checked
# Width = cores (nproc, or TASKBENCH_CORES), 1,000 steps (Dask: 20 steps
# and coarser kernel sizes, its METG being milliseconds). REPS (default 5,
# Dask 2) runs of each size in each of ROUNDS (default 3) rounds, the best
# kept; DETAIL=1 also prints every size's efficiency and granularity; the
# raw times stay in \$CARGO_TARGET_DIR/taskbench-times.txt. Every run checks its result
# against a serial walk of the same graph; a wrong result stops the script.
# NO_DASK=1 leaves Dask out (its sweep is the slowest part). BEFORE=DIR
# also runs the taskbench and taskbench_ranks binaries of an earlier build
# found in DIR, alternating with ours, as "before" rows: a change measured
# side by side under the same load. ONLY_RANKS=1 runs only the rows across
# MPI ranks (the last part below).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
CORES=${TASKBENCH_CORES:-$(nproc)}
REPS=${REPS:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build -q --release -p parallel-examples --example taskbench
mkdir -p "$TARGET"
mpicc -O2 -o "$TARGET/taskbench_mpi" bench/taskbench/taskbench_mpi.c
python3 -c 'import dask.distributed' 2>/dev/null || python3 -m pip install --quiet dask distributed
OURS="$TARGET/release/examples/taskbench"
# TASKBENCH_RT=1 (root): C MPI and ours run under a real-time scheduling
# class (`chrt -f 10`), ahead of the other programs of a shared machine, so
# that both get the cores they ask for; each run lasts milliseconds and
# the kernel's real-time throttling keeps 5% of the time for the others.
RT=()
[ -n "${TASKBENCH_RT:-}" ] && RT=(chrt -f 10)
C_MPI=("${RT[@]}" mpirun --oversubscribe -n "$CORES" "$TARGET/taskbench_mpi")
DASK=(python3 bench/taskbench/dask_taskbench.py --workers "$CORES")

if [ "${1:-}" = "--check" ]; then
  # Each program on tiny graphs of every pattern, checked against the
  # serial walk; then again with every result spoilt, which must fail.
  PARALLEL_NUM_THREADS=$CORES timeout 120 "$OURS" --check
  timeout 120 "${C_MPI[@]}" --check
  timeout 300 "${DASK[@]}" --check
  for prog in OURS C_MPI DASK; do
    case $prog in
      OURS) cmd=("$OURS" --check) ;;
      C_MPI) cmd=(mpirun --oversubscribe -x TASKBENCH_CORRUPT -n "$CORES" "$TARGET/taskbench_mpi" --check) ;;
      DASK) cmd=("${DASK[@]}" --check) ;;
    esac
    if TASKBENCH_CORRUPT=1 timeout 300 "${cmd[@]}" >/dev/null 2>&1; then
      echo "taskbench: $prog accepted a wrong result" >&2
      exit 1
    fi
    echo "ok: $prog rejects a wrong result"
  done
  # Issue 12, row (b): the graph across 2 ranks, checked, then spoilt.
  cargo build -q --release --features parallel-runtime/mpi -p parallel-examples --example taskbench_ranks
  timeout 300 mpirun --oversubscribe -n 2 "$TARGET/release/examples/taskbench_ranks" --check
  if TASKBENCH_CORRUPT=1 timeout 300 mpirun --oversubscribe -x TASKBENCH_CORRUPT -n 2 \
      "$TARGET/release/examples/taskbench_ranks" --check >/dev/null 2>&1; then
    echo "taskbench: OURS_RANKS accepted a wrong result" >&2
    exit 1
  fi
  echo "ok: OURS_RANKS rejects a wrong result"
  exit 0
fi

# Kernel sizes from about 30 µs a task down by factors of 2 (C MPI, ours
# and ours across ranks).
ITERS=$(python3 -c 'print(",".join(str(1 << k) for k in range(13, 0, -1)))')
if [ -z "${ONLY_RANKS:-}" ]; then
out="$TARGET/taskbench-times.txt"
: >"$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $CORES cores${RT:+; C MPI and ours under ${RT[*]}}"
# Kernel sizes from about 30 µs a task down by factors of 2: short runs, so
# that the best of REPS finds a quiet moment on a shared machine. C MPI and
# ours alternate, ROUNDS times, each size keeping its best time.
DASK_ITERS=$(python3 -c 'print(",".join(str(1 << k) for k in range(21, 13, -1)))')
for _ in $(seq "${ROUNDS:-3}"); do
  for pattern in trivial stencil_1d tree; do
    "${C_MPI[@]}" --patterns "$pattern" --width "$CORES" --iters "$ITERS" --reps "$REPS" >>"$out"
    PARALLEL_NUM_THREADS=$CORES "${RT[@]}" "$OURS" --patterns "$pattern" --width "$CORES" --iters "$ITERS" --reps "$REPS" >>"$out"
    if [ -n "${BEFORE:-}" ]; then
      PARALLEL_NUM_THREADS=$CORES "${RT[@]}" "$BEFORE/taskbench" --patterns "$pattern" --width "$CORES" \
        --iters "$ITERS" --reps "$REPS" | sed 's/^ours/before/' >>"$out"
    fi
  done
done
if [ -z "${NO_DASK:-}" ]; then
  "${DASK[@]}" --width "$CORES" --steps 20 --iters "$DASK_ITERS" --reps 2 2>/dev/null >>"$out"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 bench/taskbench/metg.py "$out" ${DETAIL:+--detail}
echo "(every time measured: $out)"
fi

# Issue 12, row (b): our graph across MPI ranks (compute_on; one thread per
# rank), beside the C MPI program on as many ranks, on stencil_1d (width =
# ranks), 2 and 4 ranks (4 oversubscribes 2 cores: noisy); then what a task
# costs across ranks with an empty kernel. RANKS="2 4" by default.
cargo build -q --release --features parallel-runtime/mpi -p parallel-examples --example taskbench_ranks
for n in ${RANKS:-2 4}; do
  rout="$TARGET/taskbench-ranks-$n.txt"
  : >"$rout"
  for _ in $(seq "${ROUNDS:-3}"); do
    mpirun --oversubscribe -n "$n" "$TARGET/taskbench_mpi" --patterns stencil_1d --width "$n" \
      --iters "$ITERS" --reps "$REPS" >>"$rout"
    PARALLEL_NUM_THREADS=1 mpirun --oversubscribe -x PARALLEL_NUM_THREADS -n "$n" \
      "$TARGET/release/examples/taskbench_ranks" --patterns stencil_1d --width "$n" \
      --iters "$ITERS" --reps "$REPS" >>"$rout"
    if [ -n "${BEFORE:-}" ]; then
      PARALLEL_NUM_THREADS=1 mpirun --oversubscribe -x PARALLEL_NUM_THREADS -n "$n" \
        "$BEFORE/taskbench_ranks" --patterns stencil_1d --width "$n" \
        --iters "$ITERS" --reps "$REPS" | sed 's/^ours/before/' >>"$rout"
    fi
  done
  echo
  echo "across $n ranks (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
  python3 bench/taskbench/metg.py "$rout" ${DETAIL:+--detail}
done
