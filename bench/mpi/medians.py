"""Medians of the MPI benchmark's lines (`WHO ranks=N key=value`), one
row per (key, ranks, program), as bench/mpi/run.sh and bench/node/run.sh
print them. Lines of another shape are skipped.

    python3 bench/mpi/medians.py TIMES_FILE
"""

import collections
import statistics
import sys

vals = collections.defaultdict(list)
for line in open(sys.argv[1]):
    try:
        who, ranks, kv = line.split()
        key, v = kv.split("=")
        vals[(key, ranks, who)].append(float(v))
    except ValueError:
        continue
for (key, ranks, who), v in sorted(vals.items()):
    print(f"{key:22} {ranks:8} {who:15} med={statistics.median(v):8.3f}  min={min(v):8.3f}  max={max(v):8.3f}  n={len(v)}")
