/* MPI_Allgather of 8 to 128 bytes a rank against MPI_Allreduce of one double:
 * what a slot of all_reduce_with costs (docs/performance.md, "all_reduce_with in 32-byte slots").
 * Build: mpicc -O2 -o allgather_slots bench/mpi/allgather_slots.c
 * Run:   mpirun --bind-to core -n 16 ./allgather_slots   (rank 0 prints three rounds) */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size; MPI_Comm_rank(MPI_COMM_WORLD, &rank); MPI_Comm_size(MPI_COMM_WORLD, &size);
  static char sbuf[256], rbuf[256 * 64];
  double x = rank, y;
  int sizes[] = {8, 16, 24, 32, 48, 64, 96, 128};
  for (int round = 0; round < 3; round++) {
    int iters = 20000;
    for (int i = 0; i < 2000; i++) MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    for (int i = 0; i < iters; i++) MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double ar = (MPI_Wtime() - t) / iters * 1e6;
    if (rank == 0) printf("ranks=%d round=%d allreduce_8B_us=%.3f", size, round, ar);
    for (int k = 0; k < 8; k++) {
      int n = sizes[k];
      for (int i = 0; i < 2000; i++) MPI_Allgather(sbuf, n, MPI_BYTE, rbuf, n, MPI_BYTE, MPI_COMM_WORLD);
      MPI_Barrier(MPI_COMM_WORLD);
      t = MPI_Wtime();
      for (int i = 0; i < iters; i++) MPI_Allgather(sbuf, n, MPI_BYTE, rbuf, n, MPI_BYTE, MPI_COMM_WORLD);
      double ag = (MPI_Wtime() - t) / iters * 1e6;
      if (rank == 0) printf(" ag%d=%.3f(%.2fx)", n, ag, ag / ar);
    }
    if (rank == 0) printf("\n");
  }
  MPI_Finalize();
  return 0;
}
