/* conv.c — conv2d and conv_transpose2d, forward and backward-data, as one "gather GEMM".
 *
 * Every destination pixel gathers kh*kw source pixels (C_src channels each) into a row, and a
 * block of such rows times a packed weight matrix [kh*kw*C_src][C_dst] gives a block of
 * destination pixels. Two gathers cover all four cases:
 *
 *   DIRECT      src = dst * s - p + k * d                 conv2d forward, conv_transpose2d backward
 *   TRANSPOSED  src = (dst + p - k * d) / s, if exact     conv_transpose2d forward, conv2d backward
 *
 * Blocks are sized so that the gathered rows stay in L2 (no full im2col), each task owns its
 * destination pixels (so backward accumulation needs no locks), and OpenBLAS runs one thread per
 * task. Pixels outside the source are zero: that is the convolution's zero padding. */
#include "ops.h"

#include <cblas.h>
#include <string.h>

int
segcam_conv_out (int in, int k, int s, int pad_lo, int pad_hi, int d)
{
  int64_t span = (int64_t) in + pad_lo + pad_hi - (int64_t) d * (k - 1) - 1;
  return span < 0 ? 0 : (int) (span / s + 1);
}

int
segcam_conv_transpose_out (int in, int k, int s, int pad, int out_pad, int d)
{
  int64_t v = (int64_t) (in - 1) * s - 2 * (int64_t) pad + (int64_t) d * (k - 1) + out_pad + 1;
  return v < 0 || v > INT32_MAX ? 0 : (int) v;
}

typedef enum { GATHER_DIRECT, GATHER_TRANSPOSED } gather_mode;

typedef struct {
  gather_mode mode;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  const float *src;
  int src_h, src_w, src_c;
  float *dst;
  int dst_h, dst_w, dst_c;
  const float *weight;    /* [kh*kw*src_c][dst_c] */
  const float *bias;      /* dst_c or NULL */
  float beta;             /* 0: overwrite, 1: accumulate */
  int block;              /* destination pixels per task */
  int blocks_per_image;
  float *scratch;
  size_t scratch_per_thread;
} gather_job;

/* Source coordinate of destination coordinate x through tap k, or -1 if there is none. */
static inline int
gather_src (gather_mode mode, int x, int k, int s, int p, int d, int n_src)
{
  int v;
  if (mode == GATHER_DIRECT)
    v = x * s - p + k * d;
  else
    {
      int t = x + p - k * d;
      if (t < 0 || t % s)
        return -1;
      v = t / s;
    }
  return v >= 0 && v < n_src ? v : -1;
}

static gboolean
gather_is_identity (const gather_job *j)
{
  return j->kh == 1 && j->kw == 1 && j->sh == 1 && j->sw == 1 && j->ph == 0 && j->pw == 0
         && j->src_h == j->dst_h && j->src_w == j->dst_w;
}

static int
gather_block (int k)
{
  /* About 1 MB of gathered rows: big enough for an efficient GEMM, small enough for L2. */
  int block = 262144 / MAX (k, 1);
  return CLAMP (block, 64, 4096);
}

static void
gather_task (void *ctx, int task, int thread)
{
  const gather_job *j = ctx;
  int b = task / j->blocks_per_image;
  size_t hw = (size_t) j->dst_h * j->dst_w;
  size_t p0 = (size_t) (task % j->blocks_per_image) * j->block;
  size_t p1 = MIN (p0 + j->block, hw);
  int rows = (int) (p1 - p0);
  int k = j->kh * j->kw * j->src_c;
  const float *src = j->src + (size_t) b * j->src_h * j->src_w * j->src_c;
  float *dst = j->dst + ((size_t) b * hw + p0) * j->dst_c;
  const float *a;

  if (gather_is_identity (j))
    a = src + p0 * j->src_c;
  else
    {
      float *row = j->scratch + (size_t) thread * j->scratch_per_thread;
      a = row;
      size_t cbytes = (size_t) j->src_c * sizeof (float);
      for (size_t p = p0; p < p1; p++)
        {
          int y = (int) (p / j->dst_w), x = (int) (p % j->dst_w);
          for (int ky = 0; ky < j->kh; ky++)
            {
              int sy = gather_src (j->mode, y, ky, j->sh, j->ph, j->dh, j->src_h);
              for (int kx = 0; kx < j->kw; kx++, row += j->src_c)
                {
                  int sx = sy < 0 ? -1 : gather_src (j->mode, x, kx, j->sw, j->pw, j->dw, j->src_w);
                  if (sx < 0)
                    memset (row, 0, cbytes);
                  else
                    memcpy (row, src + ((size_t) sy * j->src_w + sx) * j->src_c, cbytes);
                }
            }
        }
    }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, j->dst_c, k, 1.0f, a, k,
               j->weight, j->dst_c, j->beta, dst, j->dst_c);
  if (j->bias)
    for (int r = 0; r < rows; r++)
      for (int c = 0; c < j->dst_c; c++)
        dst[(size_t) r * j->dst_c + c] += j->bias[c];
}

static void
gather_run (segcam_pool *pool, gather_job *j, int n_images)
{
  size_t hw = (size_t) j->dst_h * j->dst_w;
  j->block = gather_block (j->kh * j->kw * j->src_c);
  j->blocks_per_image = (int) ((hw + j->block - 1) / j->block);
  segcam_pool_run (pool, n_images * j->blocks_per_image, gather_task, j);
}

static size_t
gather_scratch (int kh, int kw, int src_c)
{
  int k = kh * kw * src_c;
  return (size_t) gather_block (k) * k;
}

size_t
segcam_conv_scratch (const segcam_conv_params *p)
{
  /* The forward gathers cin channels per tap, the backward cout. */
  return MAX (gather_scratch (p->kh, p->kw, p->cin), gather_scratch (p->kh, p->kw, p->cout));
}

static void
conv_run (segcam_pool *pool, float *scratch, size_t per_thread, const segcam_conv_params *p,
          gather_mode mode, const float *weight, const float *bias, float beta,
          const segcam_act *src, segcam_act *dst)
{
  gather_job j = {
    .mode = mode, .kh = p->kh, .kw = p->kw, .sh = p->sh, .sw = p->sw, .ph = p->pt, .pw = p->pl,
    .dh = p->dh, .dw = p->dw,
    .src = src->data, .src_h = src->h, .src_w = src->w, .src_c = src->c,
    .dst = dst->data, .dst_h = dst->h, .dst_w = dst->w, .dst_c = dst->c,
    .weight = weight, .bias = bias, .beta = beta, .scratch = scratch, .scratch_per_thread = per_thread,
  };
  gather_run (pool, &j, src->n);
}

void
segcam_conv_forward (segcam_pool *pool, float *scratch, size_t per_thread,
                     const segcam_conv_params *p, gboolean transposed, const segcam_act *in,
                     segcam_act *out)
{
  conv_run (pool, scratch, per_thread, p, transposed ? GATHER_TRANSPOSED : GATHER_DIRECT, p->w_fwd,
            p->bias, 0.0f, in, out);
}

void
segcam_conv_backward (segcam_pool *pool, float *scratch, size_t per_thread,
                      const segcam_conv_params *p, gboolean transposed, const segcam_act *dout,
                      segcam_act *din)
{
  conv_run (pool, scratch, per_thread, p, transposed ? GATHER_DIRECT : GATHER_TRANSPOSED, p->w_bwd,
            NULL, 1.0f, dout, din);
}
