/* test-blas.c — the OpenBLAS kernel advice (engine/core/blas.c):
 *   - the decision on a table of OpenBLAS's kernel sets and CPU features, including the case that
 *     made it (an AVX-512 Xeon that Debian 12's OpenBLAS ran on Prescott kernels);
 *   - no advice while OPENBLAS_CORETYPE is set: the user's choice stands;
 *   - the advice, when there is one, is one line naming the variable's value;
 *   - after the engine's pool starts, the process runs no OpenBLAS threads, and sgemm still works.
 */
#include "blas.h"
#include "segcam.h"
#include "threads.h"

#include <cblas.h>
#include <string.h>

static void
test_decision (void)
{
  static const struct {
    const char *core;
    gboolean avx2_fma, avx512;
    const char *want;
  } cases[] = {
    {"Prescott", TRUE, TRUE, "SkylakeX"},   /* the unknown Xeon */
    {"prescott", TRUE, TRUE, "SkylakeX"},   /* names compared ignoring case */
    {"Haswell", TRUE, TRUE, "SkylakeX"},    /* AVX2 kernels on an AVX-512 CPU */
    {"Zen", TRUE, TRUE, "SkylakeX"},        /* a Zen 4 or 5 taken for an older Zen */
    {"Cooperlake", TRUE, TRUE, NULL},
    {"SkylakeX", TRUE, TRUE, NULL},
    {"SapphireRapids", TRUE, TRUE, NULL},
    {"Prescott", TRUE, FALSE, "Haswell"},   /* an AVX2 CPU on SSE3 kernels */
    {"Sandybridge", TRUE, FALSE, "Haswell"},
    {"Haswell", TRUE, FALSE, NULL},
    {"Zen", TRUE, FALSE, NULL},
    {"Prescott", FALSE, FALSE, NULL},       /* an old CPU: its kernels are the right ones */
    {"Nehalem", FALSE, FALSE, NULL},
    {"SkylakeX", FALSE, FALSE, NULL},
    {"armv8", FALSE, FALSE, NULL},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *got = segcam_blas_better_core (cases[i].core, cases[i].avx2_fma, cases[i].avx512);
      if (g_strcmp0 (got, cases[i].want) != 0)
        g_error ("%s, avx2 %d, avx512 %d: got %s, want %s", cases[i].core, cases[i].avx2_fma,
                 cases[i].avx512, got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
    }
}

static void
test_user_choice_stands (void)
{
  g_setenv ("OPENBLAS_CORETYPE", "Prescott", TRUE);
  g_assert_null (segcam_advise_blas ());
  g_unsetenv ("OPENBLAS_CORETYPE");
  /* Unset, the advice depends on this machine; when there is one it is one line naming a value. */
  char *advice = segcam_advise_blas ();
  if (advice)
    {
      g_assert_null (strchr (advice, '\n'));
      g_assert_nonnull (strstr (advice, "OPENBLAS_CORETYPE="));
      g_assert_nonnull (strstr (advice, segcam_blas_core ()));
    }
  g_test_message ("OpenBLAS core %s: %s", segcam_blas_core (), advice ? advice : "no advice");
  g_free (advice);
}

static int
count_threads (void)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  g_assert_nonnull (dir);
  int n = 0;
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

static void
test_no_blas_threads (void)
{
  int before = count_threads ();
  segcam_pool *pool = segcam_pool_new (3);
  gboolean stopped = segcam_blas_single_threaded ();
  /* With OpenBLAS's pthread build on more than one CPU, its threads were there at start-up. */
  g_test_message ("threads at start %d; OpenBLAS threads stopped: %s", before,
                  stopped ? "yes" : "none to stop");
  g_assert_cmpint (count_threads (), ==, segcam_pool_threads (pool));
  float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
  g_assert_cmpfloat (c[0], ==, 19);
  g_assert_cmpfloat (c[3], ==, 50);
  segcam_pool_free (pool);
  g_assert_cmpint (count_threads (), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/blas/decision", test_decision);
  g_test_add_func ("/blas/user-choice-stands", test_user_choice_stands);
  g_test_add_func ("/blas/no-blas-threads", test_no_blas_threads);
  return g_test_run ();
}
