/* clones.h — kernels compiled for several x86-64 levels (internal to ops/).
 *
 * The engine is built for the baseline x86-64 (SSE2) that Debian targets. Loops that vectorise
 * well and take a good part of the time (Winograd's transforms, depthwise convolutions, the hard
 * activations) are also compiled for AVX2 and AVX-512: on x86-64 with glibc (ifunc) the loader
 * picks the copy for the CPU. SEGCAM_NO_CLONES builds the baseline copy alone. */
#ifndef SEGCAM_OPS_CLONES_H
#define SEGCAM_OPS_CLONES_H

#include <limits.h> /* with glibc, defines __GLIBC__ */

#if defined __x86_64__ && defined __GLIBC__ && (defined __GNUC__ || defined __clang__) \
    && !defined SEGCAM_NO_CLONES
#define SEGCAM_CLONES __attribute__ ((target_clones ("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define SEGCAM_CLONES
#endif

#endif /* SEGCAM_OPS_CLONES_H */
