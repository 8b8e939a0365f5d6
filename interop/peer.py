"""The mpi4py side of the MPMD interoperability job (rank 0; the Rust
program tests/bin/interop_rank.rs is rank 1):

    mpirun -n 1 python3 interop/peer.py : -n 1 target/release/interop_rank

Sends float64 arrays to the Rust rank and checks what comes back, with
mpi4py's buffer (uppercase) methods on NumPy arrays.
"""
import sys

import numpy as np
from mpi4py import MPI

N = 1000


def main() -> int:
    comm = MPI.COMM_WORLD
    assert comm.Get_size() == 2 and comm.Get_rank() == 0, "run as rank 0 of 2"

    a = 0.5 * np.arange(N, dtype="d")
    comm.Send([a, MPI.DOUBLE], dest=1, tag=1)

    b = np.empty(N, dtype="d")
    status = MPI.Status()
    comm.Recv([b, MPI.DOUBLE], source=1, tag=2, status=status)
    assert status.Get_count(MPI.DOUBLE) == N
    np.testing.assert_array_equal(b, 2.0 * a + 1.0)

    c = np.empty(N, dtype="d")
    comm.Recv([c, MPI.DOUBLE], source=1, tag=3)
    np.testing.assert_array_equal(c, np.sqrt(np.arange(N, dtype="d")))

    total = np.zeros(1, dtype="d")
    comm.Allreduce([np.array([1.5]), MPI.DOUBLE], [total, MPI.DOUBLE], op=MPI.SUM)
    assert total[0] == 4.0, total  # the Rust rank passes 2.5

    table = -np.arange(16, dtype="d")
    comm.Bcast([table, MPI.DOUBLE], root=0)

    # Nonblocking collectives and probes across the two languages.
    mine = np.arange(8, dtype="d")
    summed = np.empty(8, dtype="d")
    req = comm.Iallreduce([mine, MPI.DOUBLE], [summed, MPI.DOUBLE], op=MPI.SUM)
    req.Wait()
    np.testing.assert_array_equal(summed, 11.0 * mine)  # the Rust rank passes 10 i
    grid = np.linspace(0.0, 1.0, 5)
    comm.Ibcast([grid, MPI.DOUBLE], root=0).Wait()
    comm.Send([np.full(23, 3.0), MPI.DOUBLE], dest=1, tag=5)
    status = MPI.Status()
    comm.Probe(source=1, tag=4, status=status)
    n = status.Get_count(MPI.DOUBLE)
    assert n == 37, n
    back = np.empty(n, dtype="d")
    comm.Recv([back, MPI.DOUBLE], source=1, tag=4)
    np.testing.assert_array_equal(back, np.ones(37))
    # Issue 11's collectives across the two languages: Alltoallv with
    # counts and displacements, Scan, Reduce_scatter_block, a bitwise op.
    send = np.arange(3, dtype="d")  # 1 element to rank 0, 2 to rank 1
    recv = np.full(4, -1.0)
    comm.Alltoallv([send, [1, 2], [0, 1], MPI.DOUBLE], [recv, [1, 3], [0, 1], MPI.DOUBLE])
    np.testing.assert_array_equal(recv, [0.0, 10.0, 11.0, 12.0])
    prefix = np.zeros(2, dtype="d")
    comm.Scan([np.array([1.0, 2.0]), MPI.DOUBLE], [prefix, MPI.DOUBLE], op=MPI.SUM)
    np.testing.assert_array_equal(prefix, [1.0, 2.0])  # rank 0: its own
    mine = np.zeros(2, dtype="i8")
    comm.Reduce_scatter_block([np.array([1, 2, 4, 8], dtype="i8"), MPI.INT64_T],
                              [mine, MPI.INT64_T], op=MPI.BOR)
    np.testing.assert_array_equal(mine, [1 | 16, 2 | 32])  # the Rust rank passes 16, 32, 64, 128

    print(f"peer.py: ok (sent {N} float64 to Rust, checked {2 * N} coming back)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
