/* gemm-trace.c — an LD_PRELOAD library that times every cblas_sgemm call by shape.
 *
 *   LD_PRELOAD=$BUILD/bench/libgemm-trace.so segcam bench --model M --size 512x512 --runs 3
 *
 * At exit it prints to stderr (or to the file $GEMM_TRACE_OUT) one line per distinct call shape
 * (order, transposes, M, N, K, lda, ldb, ldc), sorted by total time: calls, total ms, the share of
 * all sgemm time, and the GFLOP/s that shape reached (2 M N K per call / time inside the call,
 * per calling thread: with two threads calling concurrently the machine does about twice that).
 * Also the total time spent inside sgemm summed over threads, and the wall-clock span from the
 * first call to the last, so "sgemm time / (threads x span)" says how much of the run is GEMM. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*sgemm_fn) (const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                          const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                          const float, const float *, const blasint, const float *, const blasint,
                          const float, float *, const blasint);

typedef struct {
  int order, ta, tb, m, n, k, lda, ldb, ldc, used;
  long calls;
  double seconds;
} entry;

#define SLOTS 4096
static entry table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sgemm_fn real_sgemm;
static double first_call = -1, last_return;
static long dropped;

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

void
cblas_sgemm (const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
             const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n, const blasint k,
             const float alpha, const float *a, const blasint lda, const float *b, const blasint ldb,
             const float beta, float *c, const blasint ldc)
{
  if (!real_sgemm)
    real_sgemm = (sgemm_fn) dlsym (RTLD_NEXT, "cblas_sgemm");
  double t0 = now ();
  real_sgemm (order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  double t1 = now ();
  int key[9] = {order, ta, tb, m, n, k, lda, ldb, ldc};
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 9; i++)
    h = (h ^ (uint32_t) key[i]) * 1099511628211ull;
  pthread_mutex_lock (&lock);
  if (first_call < 0)
    first_call = t0;
  if (t1 > last_return)
    last_return = t1;
  int probes = 0;
  for (size_t s = h % SLOTS; probes < SLOTS; s = (s + 1) % SLOTS, probes++)
    {
      entry *e = &table[s];
      if (!e->used)
        {
          *e = (entry) {order, ta, tb, m, n, k, lda, ldb, ldc, 1, 0, 0};
        }
      if (memcmp (&e->order, key, sizeof key) == 0)
        {
          e->calls++;
          e->seconds += t1 - t0;
          break;
        }
    }
  if (probes == SLOTS)
    dropped++;
  pthread_mutex_unlock (&lock);
}

static int
by_time (const void *x, const void *y)
{
  const entry *a = x, *b = y;
  return (a->seconds < b->seconds) - (a->seconds > b->seconds);
}

__attribute__ ((destructor)) static void
report (void)
{
  const char *path = getenv ("GEMM_TRACE_OUT");
  FILE *f = path ? fopen (path, "w") : NULL;
  if (!f)
    f = stderr;
  entry *list = malloc (sizeof table);
  int n = 0;
  double total = 0, flop = 0;
  for (int s = 0; s < SLOTS; s++)
    if (table[s].used)
      list[n++] = table[s], total += table[s].seconds,
      flop += 2.0 * table[s].m * table[s].n * table[s].k * table[s].calls;
  qsort (list, n, sizeof *list, by_time);
  fprintf (f, "gemm-trace: %d shapes, %.1f ms inside sgemm (summed over threads), %.1f GFLOP, "
              "%.1f GFLOP/s per thread; first call to last return %.1f ms%s\n",
           n, total * 1e3, flop / 1e9, total > 0 ? flop / total / 1e9 : 0,
           (last_return - first_call) * 1e3, dropped ? " (some calls not recorded)" : "");
  fprintf (f, "%8s %9s %6s  %-4s %6s %6s %6s %6s %6s %6s  %8s\n", "calls", "total ms", "share",
           "op", "M", "N", "K", "lda", "ldb", "ldc", "GFLOP/s");
  for (int i = 0; i < n; i++)
    {
      entry *e = &list[i];
      double gf = 2.0 * e->m * e->n * e->k * e->calls / e->seconds / 1e9;
      fprintf (f, "%8ld %9.1f %5.1f%%  %s%c%c %6d %6d %6d %6d %6d %6d  %8.1f\n", e->calls,
               e->seconds * 1e3, 100 * e->seconds / total, e->order == CblasRowMajor ? "R" : "C",
               e->ta == CblasNoTrans ? 'N' : 'T', e->tb == CblasNoTrans ? 'N' : 'T', e->m, e->n,
               e->k, e->lda, e->ldb, e->ldc, gf);
    }
  free (list);
  if (f != stderr)
    fclose (f);
}
