"""mpi4py's side of the MPI benchmark: the pickle (lowercase) path, pickle
protocol 5 with out-of-band buffers (`mpi4py.util.pkl5`, NumPy arrays sent
without a copy), and the buffer (uppercase) path for reference, measured as
bench/mpi/pingpong.c and examples/mpi_bench/pingpong.rs do. Best of 5
repetitions.

    mpirun -n 2 --bind-to core python3 bench/mpi/pingpong.py
"""
import numpy as np
from mpi4py import MPI
from mpi4py.util import pkl5

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def best_of(fn, iters):
    best = float("inf")
    for _ in range(5):
        comm.Barrier()
        t = MPI.Wtime()
        for _ in range(iters):
            fn()
        per = comm.bcast((MPI.Wtime() - t) / iters, root=0)
        best = min(best, per)
    return best


def pingpong(obj, iters, c=comm):
    def once():
        if rank == 0:
            c.send(obj, dest=1)
            c.recv(source=1)
        elif rank == 1:
            c.send(c.recv(source=0), dest=0)
    return best_of(once, iters) / 2


def pingpong_buf(buf, iters):
    def once():
        if rank == 0:
            comm.Send(buf, dest=1)
            comm.Recv(buf, source=1)
        elif rank == 1:
            comm.Recv(buf, source=0)
            comm.Send(buf, dest=0)
    return best_of(once, iters) / 2


big = np.ones(1 << 17)  # 1 MiB of float64
kib = np.ones(128)  # 1 KiB of float64
comm5 = pkl5.Intracomm(comm)
if size >= 2:
    lat = pingpong(3.25, 20000)
    klat = pingpong(kib, 20000)
    bw = pingpong(big, 300)
    lat5 = pingpong(3.25, 20000, comm5)
    klat5 = pingpong(kib, 20000, comm5)
    bw5 = pingpong(big, 300, comm5)
    blat = pingpong_buf(np.ones(1), 20000)
    bbw = pingpong_buf(big, 300)
    if rank == 0:
        print(f"mpi4py-pickle ranks={size} pingpong_8B_us={lat * 1e6:.3f}")
        print(f"mpi4py-pickle ranks={size} pingpong_1KiB_us={klat * 1e6:.3f}")
        print(f"mpi4py-pickle ranks={size} pingpong_1MiB_GBps={big.nbytes / bw / 1e9:.3f}")
        print(f"mpi4py-pkl5 ranks={size} pingpong_8B_us={lat5 * 1e6:.3f}")
        print(f"mpi4py-pkl5 ranks={size} pingpong_1KiB_us={klat5 * 1e6:.3f}")
        print(f"mpi4py-pkl5 ranks={size} pingpong_1MiB_GBps={big.nbytes / bw5 / 1e9:.3f}")
        print(f"mpi4py-buffer ranks={size} pingpong_8B_us={blat * 1e6:.3f}")
        print(f"mpi4py-buffer ranks={size} pingpong_1MiB_GBps={big.nbytes / bbw / 1e9:.3f}")
per = best_of(lambda: comm.allreduce(float(rank), op=MPI.SUM), 20000)
if rank == 0:
    print(f"mpi4py-pickle ranks={size} allreduce_8B_us={per * 1e6:.3f}")
per = best_of(lambda: comm.Barrier(), 20000)
if rank == 0:
    print(f"mpi4py ranks={size} barrier_us={per * 1e6:.3f}")
