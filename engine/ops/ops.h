/* ops.h — forward and backward kernels of every op, on channels-last activations.
 *
 * An activation is n images of h x w pixels with c contiguous channels each (NHWC). Forward
 * kernels overwrite their output. Backward kernels compute gradients with respect to their inputs
 * and ACCUMULATE (+=) into them, so fan-out and concat need no special care; a NULL input
 * gradient means "not needed" and is skipped. Kernels split their work over the pool. */
#ifndef SEGCAM_OPS_H
#define SEGCAM_OPS_H

#include "op.h"

#include <math.h>

/* ---- shapes: output height or width for one spatial axis; <= 0 means "empty" ---------------- */
/* Inline, as every unit that plans a conv (graph shapes, tiles, Winograd) asks, and none of them
 * should depend on conv.c for it. */
static inline int
segcam_conv_out (int in, int k, int s, int pad_lo, int pad_hi, int d)
{
  int64_t span = (int64_t) in + pad_lo + pad_hi - (int64_t) d * (k - 1) - 1;
  return span < 0 ? 0 : (int) (span / s + 1);
}

static inline int
segcam_conv_transpose_out (int in, int k, int s, int pad, int out_pad, int d)
{
  int64_t v = (int64_t) (in - 1) * s - 2 * (int64_t) pad + (int64_t) d * (k - 1) + out_pad + 1;
  return v < 0 || v > INT32_MAX ? 0 : (int) v;
}
/* Explicit padding (PyTorch); auto_pad SAME's size is ceil (in / s). */
int segcam_pool_out (int in, int k, int s, int pad, gboolean ceil_mode);
int segcam_upsample_out (int in, double scale);
int segcam_pad_out (int in, int lo, int hi);

/* ---- conv2d and conv_transpose2d (conv.c) -------------------------------------------------- */

/* A conv's forward weights, packed from the file's (w_file) on first use; safe from concurrent
 * sessions. */
const float *segcam_conv_forward_weights (const segcam_conv_params *p);
/* A conv's backward-data weights, packed from its forward weights on first use (w_bwd is NULL
 * until then: a forward-only run never packs them); safe from concurrent sessions. */
const float *segcam_conv_backward_weights (const segcam_conv_params *p);
/* Re-derives a conv's backward weights, if packed, from its forward weights (after training
 * changed them). */
void segcam_conv_repack_backward (segcam_conv_params *p);
/* Conversions between PyTorch's weight layout (conv2d [cout][cin/g][kh][kw], conv_transpose2d
 * [cin][cout/g][kh][kw]) and the forward-packed one [g][kh][kw][cin/g][cout/g]; unpack takes one
 * group only. */
void segcam_conv_pack (const segcam_conv_params *p, gboolean transposed, const float *w, float *fwd);
void segcam_conv_unpack (const segcam_conv_params *p, gboolean transposed, const float *fwd, float *w);

/* Per-thread scratch floats the forward and backward kernels of a conv node need. */
size_t segcam_conv_scratch (const segcam_conv_params *p);
/* scratch: segcam_pool_threads () blocks of segcam_conv_scratch () floats. */
void segcam_conv_forward (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                          const segcam_conv_params *p, gboolean transposed, const segcam_act *in,
                          segcam_act *out);
/* The same with max (0, .) applied to each output (a ReLU fused into the GEMM's epilogue). */
void segcam_conv_forward_relu (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                               const segcam_conv_params *p, gboolean transposed,
                               const segcam_act *in, segcam_act *out, gboolean relu);
void segcam_conv_backward (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                           const segcam_conv_params *p, gboolean transposed, const segcam_act *dout,
                           segcam_act *din);

/* Training: accumulates the weight gradient (forward-packed layout [kh*kw*cin][cout]) and the
 * bias gradient (db may be NULL); with winograd (segcam_winograd_pays), the weight gradient of
 * the 3x3 conv by Winograd's transforms (winograd.h). Deterministic whatever the number of
 * threads: work is split into a fixed number of chunks whose partial sums, in work
 * (segcam_conv_work_floats floats), are added in order. */
void segcam_conv_weight_grad (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                              const segcam_conv_params *p, gboolean transposed, gboolean winograd,
                              const segcam_act *in, const segcam_act *dout, float *work,
                              float *dw, float *db);
/* The floats a training conv on the input in works in beside its scratch: the gather GEMM's
 * weight-gradient partial sums or, with winograd (it runs so: segcam_winograd_pays), the
 * transformed weight gradient's shares, which also hold its transformed weights. The plan keeps
 * one such buffer for all convs, which saves mapping and faulting in up to 38 MB per conv and
 * step. */
size_t segcam_conv_work_floats (const segcam_conv_params *p, const segcam_act *in,
                                gboolean winograd);

/* ---- batch norm (batchnorm.c) --------------------------------------------------------------- */
/* Recomputes a batch norm's eval-mode scale and shift from its parameters and statistics. */
void segcam_batchnorm_fold (segcam_batchnorm_params *p);
/* Normalises with the batch's statistics (biased variance), saves the per-channel mean and
 * 1/sqrt(var + eps) for backward, and moves the running statistics by momentum (unbiased
 * variance), as PyTorch's BatchNorm2d does in train mode. */
void segcam_batchnorm_train_forward (segcam_pool *pool, segcam_batchnorm_params *p, double momentum,
                                     const segcam_act *in, segcam_act *out, float *mean, float *rstd);
/* Accumulates dgamma, dbeta and (din may be NULL) the input gradient. */
void segcam_batchnorm_train_backward (segcam_pool *pool, const segcam_batchnorm_params *p,
                                      const segcam_act *in, const float *mean, const float *rstd,
                                      const segcam_act *dout, segcam_act *din, float *dgamma,
                                      float *dbeta);

/* Eval mode: the folded scale and shift. */
void segcam_batchnorm_forward (segcam_pool *pool, const segcam_batchnorm_params *p,
                               const segcam_act *in, segcam_act *out);
void segcam_batchnorm_backward (segcam_pool *pool, const segcam_batchnorm_params *p,
                                const segcam_act *dout, segcam_act *din);

/* ---- activations (activation.c) --------------------------------------------------------------- */
void segcam_relu_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out);
/* out is the forward output: the gradient passes where out > 0 (PyTorch's convention at 0). */
void segcam_relu_backward (segcam_pool *pool, const segcam_act *out, const segcam_act *dout,
                           segcam_act *din);
/* The logistic function, as the sigmoid op, sigmoid outputs and their scores compute it. */
static inline float
segcam_logistic (float x)
{
  return 1.0f / (1.0f + expf (-x));
}
/* p = softmax (z) over n logits, after subtracting their maximum; the one softmax of predictions
 * and Seg-Grad-CAM scores. */
void segcam_softmax (const float *z, int n, float *p);
/* A ReLU's output as what its backward needs of it: bit i % 32 of bits[i / 32] is
 * (out element i > 0), in segcam_relu_bits_words (out) words, 1/32 of the floats; then
 * g *= that bit, in place: a fused ReLU's backward. */
size_t segcam_relu_bits_words (const segcam_act *a);
void segcam_relu_bits (segcam_pool *pool, const segcam_act *out, guint32 *bits);
void segcam_relu_mask_bits (segcam_pool *pool, const guint32 *bits, segcam_act *g);
void segcam_sigmoid_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out);
void segcam_sigmoid_backward (segcam_pool *pool, const segcam_act *out, const segcam_act *dout,
                              segcam_act *din);
/* hardswish, hardsigmoid, leaky_relu and clip (op picks which; p holds alpha or min and max).
 * Backward reads the forward input. */
void segcam_activation_forward (segcam_pool *pool, segcam_op op, const segcam_activation_params *p,
                                const segcam_act *in, segcam_act *out);
void segcam_activation_backward (segcam_pool *pool, segcam_op op, const segcam_activation_params *p,
                                 const segcam_act *in, const segcam_act *dout, segcam_act *din);

/* ---- add, mul and concat (combine.c) ----------------------------------------------------------- */
void segcam_add_forward (segcam_pool *pool, const segcam_act *a, const segcam_act *b, segcam_act *out);
void segcam_add_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *da, segcam_act *db);
void segcam_concat_forward (segcam_pool *pool, const segcam_act *const *ins, int n_ins, segcam_act *out);
void segcam_concat_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *const *dins,
                             int n_ins);
/* out = a * b, where b may have one pixel per image (N x 1 x 1 x C) broadcast over a's pixels.
 * Backward reads both forward inputs; da or db may be NULL. */
void segcam_mul_forward (segcam_pool *pool, const segcam_act *a, const segcam_act *b, segcam_act *out);
void segcam_mul_backward (segcam_pool *pool, const segcam_act *a, const segcam_act *b,
                          const segcam_act *dout, segcam_act *da, segcam_act *db);

/* ---- pooling (pooling.c) ---------------------------------------------------------------------- */
/* With p->same, the pads follow in's size (op.h, segcam_pool_same), on each side separately. */
void segcam_maxpool_forward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *in,
                             segcam_act *out);
/* Routes each output gradient to the first maximum of its window in row-major order (PyTorch),
 * recomputed from the forward input. */
void segcam_maxpool_backward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *in,
                              const segcam_act *dout, segcam_act *din);
/* PyTorch's avg_pool2d with p->count_include_pad; sizes as segcam_pool_out or, with p->same,
 * ceil (in / s). */
void segcam_avgpool_forward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *in,
                             segcam_act *out);
void segcam_avgpool_backward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *dout,
                              segcam_act *din);
/* Mean over each image's pixels: out is N x 1 x 1 x C. */
void segcam_global_avgpool_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out);
void segcam_global_avgpool_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *din);

/* ---- upsampling and resizing (upsample.c) -------------------------------------------------- */
/* scale_h, scale_w as given by the model (0: derive from the sizes), PyTorch's interpolate
 * conventions for "nearest" and for "bilinear" with align_corners False or True. */
void segcam_upsample_forward (segcam_pool *pool, segcam_upsample_mode mode, double scale_h, double scale_w,
                              const segcam_act *in, segcam_act *out);
void segcam_upsample_backward (segcam_pool *pool, segcam_upsample_mode mode, double scale_h, double scale_w,
                               const segcam_act *dout, segcam_act *din);

/* ---- padding (pad.c) ------------------------------------------------------------------------- */
/* Constant, reflect (edge not repeated) or replicate padding; negative pads crop. */
void segcam_pad_forward (segcam_pool *pool, const segcam_pad_params *p, const segcam_act *in,
                         segcam_act *out);
void segcam_pad_backward (segcam_pool *pool, const segcam_pad_params *p, const segcam_act *dout,
                          segcam_act *din);

#endif /* SEGCAM_OPS_H */
