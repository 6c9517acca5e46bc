/* winograd.h — the fast path for 3x3 "same" convolutions: Winograd's F(4x4, 3x3).
 *
 * A conv2d with a 3x3 kernel, stride 1, padding 1 on every side, dilation 1 and one group is
 * computed tile by tile (4x4 outputs from 6x6 inputs) as 36 matrix products
 * [tiles x cin] x [cin x cout] on transformed inputs and weights (Lavin & Gray 2016), 36 instead
 * of 144 multiplies per tile and channel pair. Activations are channels-last as everywhere in the
 * engine (ops.h). The results differ from the gather GEMM's by rounding only (1e-6 to 1e-5 of
 * max |output| in tests/test-winograd.c, growing slowly with cin), and do not depend on the number
 * of threads. The transformed weights take 4x the memory of the packed ones. */
#ifndef SEGCAM_WINOGRAD_H
#define SEGCAM_WINOGRAD_H

#include "op.h"

#include <stddef.h>

typedef struct {
  int cin, cout;
  float *u;          /* 36 matrices [cin][cout], one per position of the 6x6 transformed tile */
} segcam_winograd_weights;

/* Transforms 3x3 weights given in the engine's forward-packed layout [ky][kx][cin][cout]
 * (w[((ky*3+kx)*cin + ci)*cout + co]). The result takes 4x the packed weights' memory (36 floats
 * per channel pair instead of 9). Returns FALSE on allocation failure (w is then cleared). */
gboolean segcam_winograd_prepare (segcam_winograd_weights *w, const float *packed, int cin, int cout);
/* Frees the transformed weights; w may be cleared already (u NULL). */
void segcam_winograd_clear (segcam_winograd_weights *w);

/* Whether the fast path applies to conv2d p: a 3x3 kernel, stride 1, padding 1 on every side,
 * dilation 1 and one group. It is then faster than the gather GEMM whatever the channel counts
 * (winograd.c). Only meaningful for conv2d, not conv_transpose2d (whose params read differently). */
gboolean segcam_winograd_applies (const segcam_conv_params *p);

/* One input "part": the conv's input channels are the concatenation of the parts' channels, in
 * order, so a conv reading a concat node can read the concat's inputs directly. Each part is an
 * n x h x w x c channels-last tensor with c contiguous channels per pixel. */
typedef struct {
  const float *data;
  int c;
} segcam_winograd_part;

/* Floats of scratch each thread needs (independent of the image size). */
size_t segcam_winograd_scratch (int cin, int cout);

/* out = relu ? max (0, r) : r, where r = beta * out + conv3x3_pad1 (in) + bias, for
 * n x h x wd pixels; the sum of the parts' c must be w->cin. out points at the first output
 * channel of pixel 0 and pixels are ldo >= cout floats apart (so a conv may write into a slice of
 * a wider tensor). beta is 0 (out is only written) or 1; bias is cout floats or NULL.
 * scratch holds segcam_pool_threads (pool) blocks of scratch_per_thread >=
 * segcam_winograd_scratch (cin, cout) floats. The work is split into blocks fixed by the shape
 * alone, so the results are the same with any number of threads. out must not overlap the
 * parts. */
void segcam_winograd_conv (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                           const segcam_winograd_weights *w, int n, int h, int wd,
                           const segcam_winograd_part *parts, int n_parts,
                           float *out, int ldo, const float *bias, float beta, gboolean relu);

#endif /* SEGCAM_WINOGRAD_H */
