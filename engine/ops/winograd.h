/* winograd.h — the fast path for 3x3 stride-1 convolutions: Winograd's F(4x4, 3x3).
 *
 * A conv2d with a 3x3 kernel, stride 1 and one group, any padding and dilation, is computed tile
 * by tile (4x4 outputs from 6x6 inputs) as 36 matrix products
 * [tiles x cin] x [cin x cout] on transformed inputs and weights (Lavin & Gray 2016), 36 instead
 * of 144 multiplies per tile and channel pair. Activations are channels-last as everywhere in the
 * engine (ops.h). The results differ from the gather GEMM's by rounding only (1e-6 to 1e-5 of
 * max |output| in tests/test-winograd.c, growing slowly with cin), and do not depend on the number
 * of threads.
 *
 * Dilation d: output pixels of one phase (y mod dh, x mod dw) read only input pixels of one
 * phase, so the conv is dh x dw undilated convs on the phase sub-images (space-to-batch). The
 * tiles are those of the phase sub-images, or with padding d of all of them laid side by side
 * (winograd.c), and read and write the full tensors in place; nothing is gathered or scattered. */
#ifndef SEGCAM_WINOGRAD_H
#define SEGCAM_WINOGRAD_H

#include "op.h"

#include <stddef.h>

/* The transformed weights of a 3x3 conv of cin input and cout output channels: 36 matrices
 * [cin][cout], one per position of the 6x6 transformed tile, in segcam_winograd_floats (cin, cout)
 * floats that the caller owns: 4x the packed weights (36 floats per channel pair instead of 9). */
typedef struct {
  int cin, cout;
  float *u;
} segcam_winograd_weights;

size_t segcam_winograd_floats (int cin, int cout);

/* A conv's 3x3 weights: the kernel of output channel co and input channel ci at tap
 * t = ky * 3 + kx is w[co * co_step + ci * ci_step + t * tap_step], multiplied by scale[co]
 * (NULL: by 1), which folds a batch norm in without a scaled copy of the weights. */
typedef struct {
  const float *w;
  size_t co_step, ci_step, tap_step;
  const float *scale;
} segcam_winograd_kernels;

/* The engine's forward-packed layout [ky][kx][cin][cout], and a model file's [cout][cin][ky][kx]. */
segcam_winograd_kernels segcam_winograd_packed (const float *w, int cin, int cout,
                                                const float *scale);
segcam_winograd_kernels segcam_winograd_file (const float *w, int cin, const float *scale);

/* Transforms, on pool, the kernels k of a conv of cin input and cout output channels into w->u
 * and sets w's cin and cout. It costs little more than writing w->u, so the engine transforms
 * each conv's weights just before the conv runs, into one buffer for all of them, rather than
 * keeping 4x the model's weights (docs/architecture.md). */
void segcam_winograd_transform (segcam_pool *pool, const segcam_winograd_kernels *k, int cin,
                                int cout, segcam_winograd_weights *w);
/* The same conv's backward-data into its input channels [first, first + count): the output
 * gradient (cout channels) convolved with the kernel turned 180 degrees and transposed
 * (segcam_winograd_backward), so w->cin = cout and w->cout = count. */
void segcam_winograd_transform_backward (segcam_pool *pool, const segcam_winograd_kernels *k,
                                         int cout, int first, int count,
                                         segcam_winograd_weights *w);

/* Whether the fast path can compute conv2d p: a 3x3 kernel, stride 1 and one group (any padding
 * and dilation). Undilated, it is then faster than the gather GEMM whatever the channel counts
 * (winograd.c); whether it pays on a dilated conv depends on the map's size (segcam_winograd_fill).
 * Only meaningful for conv2d, not conv_transpose2d (whose params read differently). */
gboolean segcam_winograd_applies (const segcam_conv_params *p);
/* Whether it pays on the input in: the conv applies and the map has enough tiles, filled
 * enough, for the transforms and the 4x weights to cost less than they save. The fast path
 * (run/fuse.c) and training (ops/conv.c) decide by it. */
gboolean segcam_winograd_pays (const segcam_conv_params *p, const segcam_act *in);

/* Where a 3x3 conv reads and writes: n images of h x w input pixels give ho x wo output pixels,
 * and output (y, x) reads input (y - pt + ky * dh, x - pl + kx * dw) for ky, kx in 0..2, zeros
 * outside the input. pt and pl may be negative; dh, dw >= 1. */
typedef struct {
  int n, h, w, ho, wo;
  int pt, pl, dh, dw;
} segcam_winograd_geom;

/* The forward of conv2d p (segcam_winograd_applies) on n x h x w inputs. */
segcam_winograd_geom segcam_winograd_forward (const segcam_conv_params *p, int n, int h, int w);
/* Its backward-data: the output gradient convolved with the kernel turned 180 degrees into the
 * n x h x w input gradient (h, w: the forward's input size). */
segcam_winograd_geom segcam_winograd_backward (const segcam_conv_params *p, int n, int h, int w);

/* Tiles computed for g: 16 output pixels each, some of them beyond the phase sub-images' edges. */
size_t segcam_winograd_tiles (const segcam_winograd_geom *g);
/* The fraction of the tiles' output pixels that are in the output: 1 for large maps, less when
 * the phase sub-images are a few pixels (DeepLabV3's ASPP on a 64x64 map: 0.71, 0.53 and 0.41 at
 * dilations 12, 24 and 36). */
double segcam_winograd_fill (const segcam_winograd_geom *g);

/* One input "part": the conv's input channels are the concatenation of the parts' channels, in
 * order, so a conv reading a concat node can read the concat's inputs directly. Each part is an
 * n x h x w x c channels-last tensor with c contiguous channels per pixel. */
typedef struct {
  const float *data;
  int c;
} segcam_winograd_part;

/* Floats of scratch each thread needs (independent of the image size). */
size_t segcam_winograd_scratch (int cin, int cout);

/* out = relu ? max (0, r) : r, where r = beta * out + conv3x3 (in) + bias, in the geometry g
 * (g->n x g->h x g->w input pixels, g->n x g->ho x g->wo output ones); the sum of the parts' c
 * must be w->cin. out points at the first output
 * channel of pixel 0 and pixels are ldo >= cout floats apart (so a conv may write into a slice of
 * a wider tensor). beta is 0 (out is only written) or 1; bias is cout floats or NULL.
 * scratch holds segcam_pool_threads (pool) blocks of scratch_per_thread >=
 * segcam_winograd_scratch (cin, cout) floats. The work is split into blocks fixed by the shape
 * alone, so the results are the same with any number of threads. out must not overlap the
 * parts. */
void segcam_winograd_conv (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                           const segcam_winograd_weights *w, const segcam_winograd_geom *g,
                           const segcam_winograd_part *parts, int n_parts,
                           float *out, int ldo, const float *bias, float beta, gboolean relu);

/* Training: the weight gradient of the 3x3 conv of geometry g (its forward), in (g->n x g->h x
 * g->w x cin) to dy (g->n x g->ho x g->wo x cout), added into dw in the forward-packed layout
 * [ky][kx][cin][cout]. By the same tiles: dW = G^T [ sum over tiles (B^T d B) .* (A dY A^T) ] G,
 * 36 GEMMs [cin x tiles] x [tiles x cout]. work holds segcam_winograd_wgrad_floats (g, cin, cout)
 * floats: shares of the tiles sum apart, into copies of the 36 x cin x cout transformed gradient,
 * added in a fixed order, so the result does not depend on the number of threads; scratch as for
 * segcam_winograd_conv (segcam_winograd_scratch (cin, cout)). */
size_t segcam_winograd_wgrad_floats (const segcam_winograd_geom *g, int cin, int cout);
void segcam_winograd_weight_grad (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                                  float *work, const segcam_winograd_geom *g, const float *in,
                                  int cin, const float *dy, int cout, float *dw);

#endif /* SEGCAM_WINOGRAD_H */
