#!/usr/bin/env bash
# Builds, on a machine with cargo, every program the 16-core run needs
# (bench/node/run.sh) into one folder, stripped, so that the run needs no
# Rust toolchain where it runs: only Open MPI (mpirun, mpicc) and python3.
#   bash bench/node/build.sh [DIR]      # default DIR: .node-bin
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-.node-bin}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$DIR"
# Threads only (as `cargo bench` and bench/taskbench/run.sh build them).
for bench in map trace delayed; do
  exe=$(cargo bench -q --no-run -p parallel-examples --bench "$bench" --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "bench" in m["target"]["kind"]:
        print(m["executable"])' | tail -1)
  cp "$exe" "$DIR/bench_$bench"
done
cargo build -q --release -p parallel-examples --example taskbench --example scaling
cp "$TARGET/release/examples/taskbench" "$TARGET/release/examples/scaling" "$DIR/"
# With MPI (as bench/mpi/run.sh and bench/taskbench/run.sh build them).
cargo build -q --release --features parallel-runtime/mpi -p parallel-examples \
  --example taskbench_ranks --example mpi_pingpong --example mpi_pingpong_single
for ex in taskbench_ranks mpi_pingpong mpi_pingpong_single; do
  cp "$TARGET/release/examples/$ex" "$DIR/"
done
strip "$DIR"/* 2>/dev/null || true
# BEFORE=DIR: an earlier build's taskbench programs, run beside these.
if [ -n "${BEFORE:-}" ]; then
  mkdir -p "$DIR/before"
  cp "$BEFORE/taskbench" "$BEFORE/taskbench_ranks" "$DIR/before/"
fi
git rev-parse --short HEAD >"$DIR/commit"
du -sh "$DIR"
