/* The C reference for the MPI benchmark (examples/mpi_bench/pingpong.rs
 * measures the same with parallel-runtime's Comm):
 *   ping-pong latency (8 B, 1 KiB) and bandwidth (1 MiB) between ranks 0 and 1,
 *   then MPI_Allreduce of one double on all ranks.
 * Build: mpicc -O2 -o target/pingpong_c bench/mpi/pingpong.c
 * Run:   mpirun -n 2 --bind-to core target/pingpong_c [funneled]   (and -n 4 --oversubscribe)
 * Every figure is the best of 5 repetitions. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double pingpong(int rank, void *buf, int bytes, int iters) {
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        for (int i = 0; i < iters; i++) {
            if (rank == 0) {
                MPI_Send(buf, bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
        }
        double one_way = (MPI_Wtime() - t) / iters / 2;
        MPI_Bcast(&one_way, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (one_way < best) best = one_way;
    }
    return best;
}

int main(int argc, char **argv) {
    /* The thread level as `#[mpi_main(threading = ...)]`: `funneled` (its
     * default) or `single` (plain MPI_Init). */
    int funneled = argc > 1 && strcmp(argv[1], "funneled") == 0;
    int provided;
    MPI_Init_thread(&argc, &argv, funneled ? MPI_THREAD_FUNNELED : MPI_THREAD_SINGLE, &provided);
    const char *who = funneled ? "c-funneled" : "c-single";
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int big = 1 << 20;
    char *buf = malloc(big);
    memset(buf, 1, big);
    if (size >= 2) {
        double lat = pingpong(rank, buf, 8, 20000);
        double kib = pingpong(rank, buf, 1024, 20000);
        double bw = pingpong(rank, buf, big, 300);
        if (rank == 0) {
            printf("%s ranks=%d pingpong_8B_us=%.3f\n", who, size, lat * 1e6);
            printf("%s ranks=%d pingpong_1KiB_us=%.3f\n", who, size, kib * 1e6);
            printf("%s ranks=%d pingpong_1MiB_GBps=%.3f\n", who, size, big / bw / 1e9);
        }
    }
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double x = rank, y;
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        for (int i = 0; i < 20000; i++) MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        double per = (MPI_Wtime() - t) / 20000;
        MPI_Bcast(&per, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (per < best) best = per;
    }
    if (rank == 0) printf("%s ranks=%d allreduce_8B_us=%.3f\n", who, size, best * 1e6);
    best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        for (int i = 0; i < 20000; i++) MPI_Barrier(MPI_COMM_WORLD);
        double per = (MPI_Wtime() - t) / 20000;
        MPI_Bcast(&per, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (per < best) best = per;
    }
    if (rank == 0) printf("%s ranks=%d barrier_us=%.3f\n", who, size, best * 1e6);
    free(buf);
    MPI_Finalize();
    return 0;
}
