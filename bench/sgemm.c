/* sgemm.c — the machine's single-precision GEMM rate, the yardstick for the engine's GFLOP/s.
 *
 *   sgemm [N [REPS]]      (default N = 2048, REPS = 7)
 *
 * Times C = A B for square N x N row-major float matrices with cblas_sgemm and prints the best of
 * REPS runs (after one warm-up) in GFLOP/s (2 N^3 / time) for:
 *   1 thread          OpenBLAS set to 1 thread
 *   2 threads         OpenBLAS's own threading, set to 2 threads
 *   2 x 1 thread      two threads of ours, each a single-threaded cblas_sgemm on half of C's
 *                     columns: what the engine does (OpenBLAS at 1 thread, its own pool)
 * plus openblas_get_corename () and openblas_get_config (), and one machine-readable line
 *   RESULT core=.. sgemm1=.. sgemm2_openblas=.. sgemm2_split=.. sgemm2=<best of the two>
 * Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset to see what users' machines get. */
#include <cblas.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  int n, col0, cols;
  const float *a, *b;
  float *c;
} half_job;

static void
gemm_cols (const half_job *j)
{
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, j->n, j->cols, j->n, 1.0f, j->a, j->n,
               j->b + j->col0, j->n, 0.0f, j->c + j->col0, j->n);
}

static gpointer
worker (gpointer data)
{
  gemm_cols (data);
  return NULL;
}

/* Best time in seconds over reps runs (one extra warm-up run first). */
static double
best_time (int n, int reps, int mode, const float *a, const float *b, float *c)
{
  double best = 1e30;
  for (int r = -1; r < reps; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      if (mode < 2)
        {
          half_job j = {n, 0, n, a, b, c};
          gemm_cols (&j);
        }
      else
        {
          int half = (n / 2 + 15) / 16 * 16; /* keep both halves 64-byte aligned */
          half_job j0 = {n, 0, half, a, b, c}, j1 = {n, half, n - half, a, b, c};
          GThread *t = g_thread_new ("sgemm", worker, &j1);
          gemm_cols (&j0);
          g_thread_join (t);
        }
      double s = (g_get_monotonic_time () - t0) / 1e6;
      if (r >= 0 && s < best)
        best = s;
    }
  return best;
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 2048, reps = argc > 2 ? atoi (argv[2]) : 7;
  if (n < 16 || n > 16384 || reps < 1 || reps > 1000)
    {
      fprintf (stderr, "usage: sgemm [N (16-16384) [REPS (1-1000)]]\n");
      return 1;
    }
  size_t nn = (size_t) n * n;
  float *a = g_aligned_alloc (nn, sizeof (float), 64), *b = g_aligned_alloc (nn, sizeof (float), 64),
        *c = g_aligned_alloc (nn, sizeof (float), 64);
  GRand *rand = g_rand_new_with_seed (1);
  for (size_t i = 0; i < nn; i++)
    a[i] = (float) g_rand_double_range (rand, -1, 1), b[i] = (float) g_rand_double_range (rand, -1, 1),
    c[i] = 0;
  g_rand_free (rand);

  const char *env_core = g_getenv ("OPENBLAS_CORETYPE"), *env_l2 = g_getenv ("OPENBLAS_L2_SIZE");
  printf ("OpenBLAS core %s; config: %s\n", openblas_get_corename (), openblas_get_config ());
  printf ("OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n", env_core ? env_core : "(unset)",
          env_l2 ? env_l2 : "(unset)");
  double flop = 2.0 * n * (double) n * n;
  openblas_set_num_threads (1);
  double g1 = flop / best_time (n, reps, 0, a, b, c) / 1e9;
  openblas_set_num_threads (2);
  double g2 = flop / best_time (n, reps, 1, a, b, c) / 1e9;
  openblas_set_num_threads (1);
  double g2s = flop / best_time (n, reps, 2, a, b, c) / 1e9;
  printf ("sgemm %dx%dx%d, best of %d:\n", n, n, n, reps);
  printf ("  1 thread              %8.1f GFLOP/s\n", g1);
  printf ("  2 threads (OpenBLAS)  %8.1f GFLOP/s\n", g2);
  printf ("  2 x 1 thread (split)  %8.1f GFLOP/s\n", g2s);
  printf ("RESULT core=%s sgemm1=%.1f sgemm2_openblas=%.1f sgemm2_split=%.1f sgemm2=%.1f\n",
          openblas_get_corename (), g1, g2, g2s, g2 > g2s ? g2 : g2s);
  g_aligned_free (a);
  g_aligned_free (b);
  g_aligned_free (c);
  return 0;
}
