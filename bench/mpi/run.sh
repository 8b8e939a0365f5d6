#!/usr/bin/env bash
# The MPI benchmark of docs/performance.md: C (mpicc), Rust (parallel-runtime:
# buffer path, object path, closures) and mpi4py (pickle, pickle-5 `pkl5`),
# alternated ROUNDS times in the same job set-up, medians printed. The 4-rank
# all_reduce rows run oversubscribed (4 ranks on 2 cores) with
# `--mca mpi_yield_when_idle 1`.
#   bash bench/mpi/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
TARGET=${CARGO_TARGET_DIR:-target}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build -q --release --features parallel-runtime/mpi -p parallel-examples --example mpi_pingpong --example mpi_pingpong_single
mkdir -p "$TARGET"
mpicc -O2 -o "$TARGET/pingpong_c" bench/mpi/pingpong.c
out=$(mktemp)
for _ in $(seq "$ROUNDS"); do
  mpirun -n 2 --bind-to core "$TARGET/pingpong_c" >>"$out"
  mpirun -n 2 --bind-to core "$TARGET/release/examples/mpi_pingpong_single" >>"$out"
  mpirun -n 2 --bind-to core "$TARGET/pingpong_c" funneled >>"$out"
  mpirun -n 2 --bind-to core "$TARGET/release/examples/mpi_pingpong" >>"$out"
  mpirun -n 2 --bind-to core python3 bench/mpi/pingpong.py >>"$out"
  for prog in "pingpong_c" "pingpong_c funneled" "release/examples/mpi_pingpong_single" "release/examples/mpi_pingpong"; do
    # shellcheck disable=SC2086
    mpirun -n 4 --oversubscribe --mca mpi_yield_when_idle 1 $TARGET/$prog | grep -E "allreduce|barrier" >>"$out"
  done
done
python3 bench/mpi/medians.py "$out"
