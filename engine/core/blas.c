/* blas.c — OpenBLAS: whether it runs the kernels this CPU can run, and its own threads.
 *
 * An OpenBLAS built for many CPUs, as Debian's is, picks its kernels once, when it is loaded, from
 * the CPU's vendor, family and model. A CPU newer than the library is unknown to it and gets its
 * oldest x86-64 kernels: on an Intel Xeon of family 6, model 207, Debian 12's OpenBLAS 0.3.21
 * chose Prescott (SSE3), 29 GFLOP/s for a 1024³ sgemm on one core, where its AVX-512 kernels
 * (SkylakeX) give 144, so every figure of the engine was 5x slower. Only OPENBLAS_CORETYPE in a
 * new process's environment changes the choice. That variable is the user's: the engine never
 * sets it, it says what to set (docs/architecture.md, "OpenBLAS's kernels"). */
#include "blas.h"
#include "segcam.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>

/* OpenBLAS's x86-64 kernel sets by the widest vector instructions they use. The others (Prescott,
 * Core2, Nehalem, Sandybridge, Bulldozer, Atom, ...) are older than AVX2 with FMA. */
static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
static const char *const avx2_cores[] = {"Haswell", "Zen", "Excavator"};

static gboolean
in (const char *core, const char *const *cores, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (g_ascii_strcasecmp (core, cores[i]) == 0)
      return TRUE;
  return FALSE;
}

const char *
segcam_blas_better_core (const char *core, gboolean avx2_fma, gboolean avx512)
{
  gboolean has512 = in (core, avx512_cores, G_N_ELEMENTS (avx512_cores));
  if (avx512 && !has512)
    return "SkylakeX";
  if (avx2_fma && !has512 && !in (core, avx2_cores, G_N_ELEMENTS (avx2_cores)))
    return "Haswell";
  return NULL;
}

const char *
segcam_blas_core (void)
{
  return openblas_get_corename ();
}

char *
segcam_advise_blas (void)
{
  if (getenv ("OPENBLAS_CORETYPE"))
    return NULL;
  gboolean avx2_fma = FALSE, avx512 = FALSE;
#if defined(__x86_64__) || defined(__i386__)
  /* GCC's answers include the operating system's support (XGETBV) for the wider registers. */
  avx2_fma = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  avx512 = __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
           && __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl");
#endif
  const char *core = segcam_blas_core ();
  const char *better = segcam_blas_better_core (core, avx2_fma, avx512);
  if (!better)
    return NULL;
  return g_strdup_printf ("OpenBLAS does not know this CPU and runs its %s kernels, which leave "
                          "its %s units idle: with OPENBLAS_CORETYPE=%s in the environment, "
                          "convolutions run several times faster",
                          core, avx512 ? "AVX-512" : "AVX2", better);
}

/* OpenBLAS's pthread build starts its own threads when it is loaded, and each spins on
 * sched_yield for about 0.1 s (2^28 cycles) before it sleeps. The engine never runs them: its
 * threads each call a single-threaded sgemm on their own block, so the spinning only took a core
 * from them, 76 ms of the 150 ms an LR-ASPP predict command takes on 2 cores. Shutting them down
 * is what OpenBLAS itself does before a fork; a multi-threaded call would start them again. The
 * entry point is looked up, not linked, because OpenBLAS's serial and OpenMP builds lack it. */
static gpointer
stop_blas_threads (gpointer unused)
{
  (void) unused;
  openblas_set_num_threads (1);
  int (*shutdown) (void) = (int (*) (void)) dlsym (RTLD_DEFAULT, "blas_thread_shutdown_");
  if (shutdown)
    shutdown ();
  return GINT_TO_POINTER (shutdown != NULL);
}

gboolean
segcam_blas_single_threaded (void)
{
  static GOnce once = G_ONCE_INIT;
  return GPOINTER_TO_INT (g_once (&once, stop_blas_threads, NULL));
}
