/* blas.h — OpenBLAS: whether it runs the kernels this CPU can run (the decision, for the tests),
 * and its own threads. */
#ifndef SEGCAM_BLAS_H
#define SEGCAM_BLAS_H

#include <glib.h>

/* The OPENBLAS_CORETYPE that would run the vector units a CPU has (avx2_fma: AVX2 and FMA;
 * avx512: AVX-512 F, BW, DQ and VL, with the OS saving their registers) when OpenBLAS chose
 * the kernel set core for an older CPU; NULL when core fits. core is compared ignoring case. */
const char *segcam_blas_better_core (const char *core, gboolean avx2_fma, gboolean avx512);

/* Makes every sgemm single-threaded and stops OpenBLAS's idle threads (blas.c), once per process;
 * the engine's pool calls it. TRUE when this OpenBLAS has threads of its own to stop (its pthread
 * build), FALSE when it has none (its serial and OpenMP builds). */
gboolean segcam_blas_single_threaded (void);

#endif /* SEGCAM_BLAS_H */
