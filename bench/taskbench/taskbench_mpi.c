/* Task Bench's patterns (trivial, stencil_1d, tree) written by hand in C
 * with MPI: the reference side of bench/taskbench/run.sh.
 *
 *   mpirun -n R taskbench_mpi [--patterns trivial,stencil_1d,tree]
 *       [--width W] [--steps S] [--iters 65536,32768,...] [--reps N]
 *   mpirun -n R taskbench_mpi --check
 *
 * Rank r owns a contiguous block of the W points. At each step a rank
 * receives the values of the previous step that its points read from other
 * ranks, sends its own to the ranks that read them, and runs its points:
 * the kernel, then the point's value. The definitions of the graph, the
 * kernel and the values are those of examples/taskbench/mod.rs.
 *
 * For each pattern and kernel size it runs the graph N times and prints,
 * on rank 0, the best time as `c_mpi PATTERN CORES WIDTH STEPS ITERS TASKS
 * SECONDS`, after the kernel's best time on one core as `c_mpi peak CORES
 * 0 0 ITERS 1 SECONDS`. Every run's checksum (XOR of the values of the tasks nobody
 * reads) is compared with a serial walk of the graph: a wrong result exits
 * with status 1 before any time is printed. TASKBENCH_CORRUPT=1 spoils each
 * result, to show that the check fails. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TRIVIAL, STENCIL_1D, TREE, NPATTERNS };
static const char *NAMES[NPATTERNS] = {"trivial", "stencil_1d", "tree"};

static long width_at(int pat, long t, long width) {
  if (pat == TREE && t < 62) return width < (1L << t) ? width : (1L << t);
  return width;
}

/* The points of step t - 1 that point p of step t reads: [*lo, *hi). */
static void deps(int pat, long t, long p, long width, long *lo, long *hi) {
  *lo = *hi = 0;
  if (t == 0 || pat == TRIVIAL) return;
  if (pat == STENCIL_1D) {
    *lo = p > 0 ? p - 1 : 0;
    *hi = p + 2 < width ? p + 2 : width;
  } else {
    *lo = p / 2;
    *hi = p / 2 + 1;
  }
}

static int has_consumer(int pat, long t, long p, long width, long steps) {
  if (t + 1 >= steps) return 0;
  for (long c = 0; c < width_at(pat, t + 1, width); c++) {
    long lo, hi;
    deps(pat, t + 1, c, width, &lo, &hi);
    if (lo <= p && p < hi) return 1;
  }
  return 0;
}

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static uint64_t point_value(long t, long p, const uint64_t *in, long n) {
  uint64_t h = mix(((uint64_t)t << 32) ^ (uint64_t)p);
  for (long i = 0; i < n; i++) h = mix(h ^ in[i]);
  return h;
}

/* Not inlined, and seeded by the task: the compiler must run it for every
 * task (a pure loop inlined into the step loop could be computed once). */
__attribute__((noinline)) static double kernel(long iters, uint64_t seed) {
  volatile double sink;
  double x = 1.0 + (double)(seed & 0xff) * 1e-3;
  for (long i = 0; i < iters; i++) x = x * 0.999999 + 1e-6;
  sink = x;
  return sink;
}

/* The checksum of the graph by a serial walk without the kernel. */
static uint64_t reference(int pat, long width, long steps) {
  uint64_t *prev = calloc(width, 8), *row = calloc(width, 8), sum = 0;
  for (long t = 0; t < steps; t++) {
    for (long p = 0; p < width_at(pat, t, width); p++) {
      long lo, hi;
      deps(pat, t, p, width, &lo, &hi);
      row[p] = point_value(t, p, prev + lo, hi - lo);
      if (!has_consumer(pat, t, p, width, steps)) sum ^= row[p];
    }
    uint64_t *tmp = prev; prev = row; row = tmp;
  }
  free(prev);
  free(row);
  return sum;
}

/* One run on all ranks; returns the checksum on rank 0. */
static uint64_t run(int pat, long width, long steps, long iters, int rank, int size) {
  long per = (width + size - 1) / size, first = rank * per;
  long last = first + per < width ? first + per : width;
  uint64_t *prev = calloc(width, 8), *row = calloc(width, 8), sum = 0;
  MPI_Request *reqs = malloc(sizeof(MPI_Request) * (4 * width + 4));
  int *to = malloc(sizeof(int) * size);
  for (long t = 0; t < steps; t++) {
    int nreq = 0;
    long w = width_at(pat, t, width);
    if (t > 0) {
      long wp = width_at(pat, t - 1, width);
      /* Receive each remote point some local point reads; send each local
       * point to each other rank that reads it. Tag: the point. */
      for (long q = 0; q < wp; q++) {
        int owner = (int)(q / per), wanted_here = 0;
        memset(to, 0, sizeof(int) * size);
        for (long p = 0; p < w; p++) {
          long lo, hi;
          deps(pat, t, p, width, &lo, &hi);
          if (q < lo || q >= hi) continue;
          int reader = (int)(p / per);
          if (reader == rank) wanted_here = 1;
          if (owner == rank && reader != rank) to[reader] = 1;
        }
        if (owner != rank && wanted_here)
          MPI_Irecv(&prev[q], 1, MPI_UINT64_T, owner, (int)q, MPI_COMM_WORLD, &reqs[nreq++]);
        for (int r = 0; r < size; r++)
          if (to[r]) MPI_Isend(&prev[q], 1, MPI_UINT64_T, r, (int)q, MPI_COMM_WORLD, &reqs[nreq++]);
      }
      MPI_Waitall(nreq, reqs, MPI_STATUSES_IGNORE);
    }
    for (long p = first; p < last && p < w; p++) {
      long lo, hi;
      deps(pat, t, p, width, &lo, &hi);
      double x = kernel(iters, (uint64_t)(t * 4096 + p));
      uint64_t v = point_value(t, p, prev + lo, hi - lo);
      row[p] = x != x ? v ^ 1 : v;
      if (!has_consumer(pat, t, p, width, steps)) sum ^= row[p];
    }
    uint64_t *tmp = prev; prev = row; row = tmp;
  }
  uint64_t total = 0;
  MPI_Reduce(&sum, &total, 1, MPI_UINT64_T, MPI_BXOR, 0, MPI_COMM_WORLD);
  free(prev);
  free(row);
  free(reqs);
  free(to);
  return total;
}

static int check_one(int pat, long width, long steps, long iters, int rank, int size, int corrupt) {
  uint64_t got = run(pat, width, steps, iters, rank, size), want = reference(pat, width, steps);
  if (corrupt) got ^= 1;
  int bad = rank == 0 && got != want;
  if (bad)
    fprintf(stderr, "taskbench_mpi: %s width %ld steps %ld iters %ld on %d ranks: checksum %#llx, "
            "the serial walk gives %#llx\n", NAMES[pat], width, steps, iters, size,
            (unsigned long long)got, (unsigned long long)want);
  MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return bad;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int pats[NPATTERNS] = {1, 1, 1}, check = 0, corrupt = getenv("TASKBENCH_CORRUPT") != NULL;
  long width = size, steps = 1000, reps = 5, iters[64], niters = 0;
  for (int k = 16; k >= 0; k--) iters[niters++] = 1L << k;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--check")) { check = 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "taskbench_mpi: %s needs a value\n", argv[i]); MPI_Abort(MPI_COMM_WORLD, 2); }
    char *v = argv[++i];
    if (!strcmp(argv[i - 1], "--width")) width = atol(v);
    else if (!strcmp(argv[i - 1], "--steps")) steps = atol(v);
    else if (!strcmp(argv[i - 1], "--reps")) reps = atol(v) > 0 ? atol(v) : 1;
    else if (!strcmp(argv[i - 1], "--iters")) {
      niters = 0;
      for (char *s = strtok(v, ","); s && niters < 64; s = strtok(NULL, ",")) iters[niters++] = atol(s);
    } else if (!strcmp(argv[i - 1], "--patterns")) {
      memset(pats, 0, sizeof pats);
      for (char *s = strtok(v, ","); s; s = strtok(NULL, ",")) {
        int found = 0;
        for (int p = 0; p < NPATTERNS; p++)
          if (!strcmp(s, NAMES[p])) pats[p] = found = 1;
        if (!found) { fprintf(stderr, "taskbench_mpi: unknown pattern %s\n", s); MPI_Abort(MPI_COMM_WORLD, 2); }
      }
    } else { fprintf(stderr, "taskbench_mpi: unknown option %s\n", argv[i - 1]); MPI_Abort(MPI_COMM_WORLD, 2); }
  }
  if (check) {
    long sizes[][2] = {{1, 5}, {2, 40}, {3, 40}, {5, 33}, {8, 20}};
    for (int p = 0; p < NPATTERNS; p++) {
      for (int s = 0; s < 5; s++)
        if (check_one(p, sizes[s][0], sizes[s][1], 16, rank, size, corrupt)) { MPI_Finalize(); return 1; }
      if (rank == 0) printf("ok: %s (widths 1, 2, 3, 5, 8; %d ranks)\n", NAMES[p], size);
    }
    MPI_Finalize();
    return 0;
  }
  /* The kernel's rate on one core, undisturbed: the best of many short
   * calls (the ideal against which efficiency is measured). */
  if (rank == 0) {
    double best = 1e30;
    for (int i = 0; i < 400; i++) {
      double t0 = MPI_Wtime();
      kernel(4096, (uint64_t)i);
      double el = MPI_Wtime() - t0;
      if (el < best) best = el;
    }
    printf("c_mpi peak %d 0 0 4096 1 %.9f\n", size, best);
  }
  for (int p = 0; p < NPATTERNS; p++) {
    if (!pats[p]) continue;
    uint64_t want = reference(p, width, steps);
    long tasks = 0;
    for (long t = 0; t < steps; t++) tasks += width_at(p, t, width);
    for (long k = 0; k < niters; k++) {
      double best = 1e30;
      for (long r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        uint64_t got = run(p, width, steps, iters[k], rank, size);
        double el = MPI_Wtime() - t0, slowest;
        MPI_Reduce(&el, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        int bad = rank == 0 && (corrupt ? got ^ 1 : got) != want;
        MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (bad) {
          if (rank == 0) fprintf(stderr, "taskbench_mpi: %s iters %ld: wrong checksum\n", NAMES[p], iters[k]);
          MPI_Finalize();
          return 1;
        }
        if (rank == 0 && slowest < best) best = slowest;
      }
      if (rank == 0) printf("c_mpi %s %d %ld %ld %ld %ld %.9f\n", NAMES[p], size, width, steps, iters[k], tasks, best);
    }
  }
  MPI_Finalize();
  return 0;
}
