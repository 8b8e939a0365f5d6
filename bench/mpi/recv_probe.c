/* What a matched probe costs in MPI itself: an 8-byte ping-pong between
 * ranks 0 and 1 whose receives are
 *   0: MPI_Recv straight into the buffer,
 *   1: MPI_Mprobe, then MPI_Mrecv of exactly the message's count,
 *   2: MPI_Probe, then MPI_Recv of exactly the message's count.
 * parallel-runtime receives as in 1 (docs/performance.md, "Every receive
 * on MPI matches its message first").
 *
 *   mpicc -O2 -o recv_probe bench/mpi/recv_probe.c
 *   for m in 0 1 2; do mpirun -n 2 --bind-to core ./recv_probe $m; done
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static void receive(int mode, double *buf, int src) {
  MPI_Status st;
  int n;
  if (mode == 0) {
    MPI_Recv(buf, 1, MPI_DOUBLE, src, 0, MPI_COMM_WORLD, &st);
  } else if (mode == 1) {
    MPI_Message m;
    MPI_Mprobe(src, 0, MPI_COMM_WORLD, &m, &st);
    MPI_Get_count(&st, MPI_DOUBLE, &n);
    MPI_Mrecv(buf, n, MPI_DOUBLE, &m, &st);
  } else {
    MPI_Probe(src, 0, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_DOUBLE, &n);
    MPI_Recv(buf, n, MPI_DOUBLE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, &st);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int mode = argc > 1 ? atoi(argv[1]) : 0;
  const int rounds = 200000;
  double buf[1] = {0}, best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < rounds; i++) {
      if (rank == 0) {
        MPI_Send(buf, 1, MPI_DOUBLE, 1, 0, MPI_COMM_WORLD);
        receive(mode, buf, 1);
      } else if (rank == 1) {
        receive(mode, buf, 0);
        MPI_Send(buf, 1, MPI_DOUBLE, 0, 0, MPI_COMM_WORLD);
      }
    }
    double t = (MPI_Wtime() - t0) / rounds / 2 * 1e6;
    if (t < best) best = t;
  }
  if (rank == 0) printf("recv_probe mode=%d pingpong_8B_us=%.3f\n", mode, best);
  MPI_Finalize();
  return 0;
}
