/* conv.c — conv2d and conv_transpose2d, forward and backward-data, as one "gather GEMM".
 *
 * Every destination pixel gathers kh*kw source pixels (C_src channels each) into a row, and a
 * block of such rows times a packed weight matrix [kh*kw*C_src][C_dst] gives a block of
 * destination pixels. Two gathers cover all four cases:
 *
 *   DIRECT      src = dst * s - p + k * d                 conv2d forward, conv_transpose2d backward
 *   TRANSPOSED  src = (dst + p - k * d) / s, if exact     conv_transpose2d forward, conv2d backward
 *
 * Blocks are about 1 MB of gathered rows, and never fewer than GATHER_MIN_ROWS (no full im2col;
 * gather_block says why), each task owns its destination pixels (so backward accumulation needs
 * no locks), and OpenBLAS runs one thread per task. Pixels outside the source are zero: that is
 * the convolution's zero padding.
 *
 * In training, a 3x3 conv's forward and input gradient run as Winograd instead where it pays
 * (winograd.h); the weight gradient is always the gather GEMM's. */
#include "clones.h"
#include "ops.h"
#include "winograd.h"

#include <cblas.h>
#include <string.h>

typedef enum { GATHER_DIRECT, GATHER_TRANSPOSED } gather_mode;

typedef struct {
  gather_mode mode;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  const float *src;
  int src_h, src_w, src_c;
  float *dst;
  int dst_h, dst_w, dst_c;
  int groups;             /* independent convolutions over channel slices */
  const float *weight;    /* per group [kh*kw*src_c/groups][dst_c/groups] */
  const float *bias;      /* dst_c or NULL */
  float beta;             /* 0: overwrite, 1: accumulate */
  gboolean relu;          /* max (0, .) after the bias */
  int block;              /* destination pixels per task */
  size_t pixels;          /* destination pixels of all images */
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

/* Destination pixels per GEMM call. OpenBLAS packs the whole weight matrix again for every call,
 * so a call needs enough rows to pay for that: at 64 rows, packing took a fifth of DeepLabV3's
 * run (its dilated 3x3 convs on 2048 channels have K = 18432). Gathered rows fill the thread's
 * scratch, about 1 MB of them where K allows and GATHER_MIN_ROWS at least; the identity gather
 * reads the source in place and needs none. */
#define GATHER_SCRATCH_FLOATS 262144
#define GATHER_MIN_ROWS 256
#define GATHER_MAX_ROWS 4096
#define GATHER_IDENTITY_ROWS 1024
#define GATHER_MIN_TASKS 4

static int
gather_block (int k)
{
  int block = GATHER_SCRATCH_FLOATS / MAX (k, 1);
  return CLAMP (block, GATHER_MIN_ROWS, GATHER_MAX_ROWS);
}

static gboolean
kernel_row_reaches (const gather_job *j, int y0, int y1, int ky)
{
  for (int y = y0; y <= y1; y++)
    if (gather_src (j->mode, y, ky, j->sh, j->ph, j->dh, j->src_h) >= 0)
      return TRUE;
  return FALSE;
}

/* The kernel rows [*ky0, *ky1) that reach the source from some pixel of [q0, q1); the others
 * would gather only padding, so the block skips them and their weights. With large dilations
 * on small maps that is much of the work: DeepLabV3's ASPP at rate 36 on a 64x64 map. A block
 * that runs into the next image keeps every row, and at least one is kept. */
static void
kernel_rows (const gather_job *j, size_t q0, size_t q1, int *ky0, int *ky1)
{
  size_t hw = (size_t) j->dst_h * j->dst_w;
  *ky0 = 0, *ky1 = j->kh;
  if (q0 / hw != (q1 - 1) / hw)
    return;
  int y0 = (int) (q0 % hw / j->dst_w), y1 = (int) ((q1 - 1) % hw / j->dst_w);
  while (*ky1 - *ky0 > 1 && !kernel_row_reaches (j, y0, y1, *ky0))
    (*ky0)++;
  while (*ky1 - *ky0 > 1 && !kernel_row_reaches (j, y0, y1, *ky1 - 1))
    (*ky1)--;
}

/* The gathered rows of destination pixels [q0, q1) (counted over all images, so that a block of
 * a small map spans several) through kernel rows [ky0, ky1) for the channels of group g, or the
 * source itself when the gather is the identity (1x1 stride-1 convs; rows j->src_c apart). */
static const float *
gather_rows (const gather_job *j, size_t q0, size_t q1, int ky0, int ky1, int thread, int g)
{
  int cg = j->src_c / j->groups;
  if (gather_is_identity (j))
    return j->src + q0 * j->src_c + (size_t) g * cg;
  size_t hw = (size_t) j->dst_h * j->dst_w, src_image = (size_t) j->src_h * j->src_w * j->src_c;
  float *row = j->scratch + (size_t) thread * j->scratch_per_thread, *a = row;
  size_t cbytes = (size_t) cg * sizeof (float);
  for (size_t q = q0; q < q1; q++)
    {
      const float *src = j->src + q / hw * src_image + (size_t) g * cg;
      size_t p = q % hw;
      int y = (int) (p / j->dst_w), x = (int) (p % j->dst_w);
      for (int ky = ky0; ky < ky1; ky++)
        {
          int sy = gather_src (j->mode, y, ky, j->sh, j->ph, j->dh, j->src_h);
          for (int kx = 0; kx < j->kw; kx++, row += cg)
            {
              int sx = sy < 0 ? -1 : gather_src (j->mode, x, kx, j->sw, j->pw, j->dw, j->src_w);
              if (sx < 0)
                memset (row, 0, cbytes);
              else
                memcpy (row, src + ((size_t) sy * j->src_w + sx) * j->src_c, cbytes);
            }
        }
    }
  return a;
}

static inline int
div_floor (int a, int b)
{
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static inline void
tap_accumulate (float *restrict o, const float *restrict v, const float *restrict wt, int c)
{
  for (int k = 0; k < c; k++)
    o[k] += v[k] * wt[k];
}

/* Depthwise convolution (one input and one output channel per group): a GEMM per channel would
 * be a matrix-vector product of width 1, so accumulate taps along the contiguous channels. The
 * weights [c][taps] are first transposed into the thread's scratch as [taps][c]. The block is
 * taken a run of pixels of one image row at a time, and each tap over the run's pixels it reaches,
 * whose range follows from the tap's offset (sx = x s + off) except for a strided transposed
 * gather; per output value the taps still add up in their order, after the bias. */
/* Pixels of a run: their outputs stay in L1 while every tap adds to them. */
#define DEPTHWISE_RUN 32

SEGCAM_CLONES static void
depthwise_rows (const gather_job *j, size_t q0, size_t q1, int thread, float *dst)
{
  int c = j->src_c, taps = j->kh * j->kw;
  float *w = j->scratch + (size_t) thread * j->scratch_per_thread;
  for (int k = 0; k < c; k++)
    for (int t = 0; t < taps; t++)
      w[(size_t) t * c + k] = j->weight[(size_t) k * taps + t];
  size_t hw = (size_t) j->dst_h * j->dst_w;
  gboolean linear = j->mode == GATHER_DIRECT || j->sw == 1;
  int s = j->mode == GATHER_DIRECT ? j->sw : 1;
  for (size_t q = q0; q < q1;)
    {
      const float *src = j->src + q / hw * j->src_h * j->src_w * c;
      size_t p = q % hw;
      int y = (int) (p / j->dst_w), x0 = (int) (p % j->dst_w);
      int x1 = (int) MIN ((size_t) MIN (j->dst_w, x0 + DEPTHWISE_RUN), x0 + (q1 - q));
      float *o = dst + (q - q0) * c;
      for (int x = x0; x < x1; x++)
        for (int k = 0; k < c; k++)
          o[(size_t) (x - x0) * c + k] = (j->beta != 0 ? o[(size_t) (x - x0) * c + k] : 0)
                                         + (j->bias ? j->bias[k] : 0);
      for (int ky = 0; ky < j->kh; ky++)
        {
          int sy = gather_src (j->mode, y, ky, j->sh, j->ph, j->dh, j->src_h);
          if (sy < 0)
            continue;
          const float *row = src + (size_t) sy * j->src_w * c;
          for (int kx = 0; kx < j->kw; kx++)
            {
              const float *wt = w + (size_t) (ky * j->kw + kx) * c;
              if (linear)
                {
                  int off = j->mode == GATHER_DIRECT ? kx * j->dw - j->pw : j->pw - kx * j->dw;
                  int xa = MAX (x0, -div_floor (off, s));
                  int xb = MIN (x1, div_floor (j->src_w - 1 - off, s) + 1);
                  for (int x = xa; x < xb; x++)
                    tap_accumulate (o + (size_t) (x - x0) * c, row + (size_t) (x * s + off) * c,
                                    wt, c);
                }
              else
                for (int x = x0; x < x1; x++)
                  {
                    int sx = gather_src (j->mode, x, kx, j->sw, j->pw, j->dw, j->src_w);
                    if (sx >= 0)
                      tap_accumulate (o + (size_t) (x - x0) * c, row + (size_t) sx * c, wt, c);
                  }
            }
        }
      q += (size_t) (x1 - x0);
    }
}

static void
gather_task (void *ctx, int task, int thread)
{
  const gather_job *j = ctx;
  size_t q0 = (size_t) task * j->block, q1 = MIN (q0 + j->block, j->pixels);
  int rows = (int) (q1 - q0);
  float *dst = j->dst + q0 * j->dst_c;
  if (j->groups > 1 && j->groups == j->src_c && j->groups == j->dst_c)
    depthwise_rows (j, q0, q1, thread, dst);
  else
    {
      /* One GEMM per group, each writing its slice of the destination's channels; the weights
       * of a group are [ky][kx][channel][n], so kernel rows [ky0, ky1) are one slice of them. */
      int cg = j->src_c / j->groups, tap_row = j->kw * cg, n = j->dst_c / j->groups, ky0, ky1;
      kernel_rows (j, q0, q1, &ky0, &ky1);
      int k = (ky1 - ky0) * tap_row;
      int lda = gather_is_identity (j) ? j->src_c : k;
      for (int g = 0; g < j->groups; g++)
        {
          const float *a = gather_rows (j, q0, q1, ky0, ky1, thread, g);
          const float *w = j->weight + ((size_t) g * j->kh + ky0) * tap_row * n;
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, k, 1.0f, a, lda, w, n,
                       j->beta, dst + (size_t) g * n, j->dst_c);
        }
      /* The epilogue, while the block is still in cache (depthwise_rows adds its own bias). */
      if (j->bias)
        for (int r = 0; r < rows; r++)
          for (int c = 0; c < j->dst_c; c++)
            dst[(size_t) r * j->dst_c + c] += j->bias[c];
    }
  if (j->relu)
    for (size_t i = 0; i < (size_t) rows * j->dst_c; i++)
      dst[i] = dst[i] > 0 ? dst[i] : 0;
}

static void
gather_run (segcam_pool *pool, gather_job *j, int n_images)
{
  j->pixels = (size_t) n_images * j->dst_h * j->dst_w;
  j->block = gather_is_identity (j) ? GATHER_IDENTITY_ROWS
                                    : gather_block (j->kh * j->kw * (j->src_c / j->groups));
  /* On a small map, smaller blocks so that threads share it. Not from the pool's size: OpenBLAS
   * takes other kernels for other shapes, and results must not depend on the number of threads. */
  size_t shared = (j->pixels + GATHER_MIN_TASKS - 1) / GATHER_MIN_TASKS;
  if ((size_t) j->block > shared)
    j->block = (int) MAX (shared, 1);
  segcam_pool_run (pool, (int) ((j->pixels + j->block - 1) / j->block), gather_task, j);
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
  /* The forward gathers a group's cin channels per tap, the backward its cout; a depthwise
   * convolution holds its transposed weights instead. */
  int groups = MAX (p->groups, 1);
  size_t depthwise = (size_t) p->kh * p->kw * p->cin;
  return MAX (MAX (gather_scratch (p->kh, p->kw, p->cin / groups),
                   gather_scratch (p->kh, p->kw, p->cout / groups)), depthwise);
}

static gather_job
conv_job (float *scratch, size_t per_thread, const segcam_conv_params *p, gather_mode mode,
          const float *weight, const float *bias, float beta, const segcam_act *src, segcam_act *dst)
{
  return (gather_job) {
    .mode = mode, .kh = p->kh, .kw = p->kw, .sh = p->sh, .sw = p->sw, .ph = p->pt, .pw = p->pl,
    .dh = p->dh, .dw = p->dw, .groups = MAX (p->groups, 1),
    .src = src->data, .src_h = src->h, .src_w = src->w, .src_c = src->c,
    .dst = dst->data, .dst_h = dst->h, .dst_w = dst->w, .dst_c = dst->c,
    .weight = weight, .bias = bias, .beta = beta, .scratch = scratch, .scratch_per_thread = per_thread,
  };
}

static void
conv_run (segcam_pool *pool, float *scratch, size_t per_thread, const segcam_conv_params *p,
          gather_mode mode, const float *weight, const float *bias, float beta, gboolean relu,
          const segcam_act *src, segcam_act *dst)
{
  gather_job j = conv_job (scratch, per_thread, p, mode, weight, bias, beta, src, dst);
  j.relu = relu;
  gather_run (pool, &j, src->n);
}

void
segcam_conv_forward_relu (segcam_pool *pool, float *scratch, size_t per_thread,
                          const segcam_conv_params *p, gboolean transposed, const segcam_act *in,
                          segcam_act *out, gboolean relu)
{
  conv_run (pool, scratch, per_thread, p, transposed ? GATHER_TRANSPOSED : GATHER_DIRECT,
            segcam_conv_forward_weights (p), p->bias, 0.0f, relu, in, out);
}

void
segcam_conv_forward (segcam_pool *pool, float *scratch, size_t per_thread,
                     const segcam_conv_params *p, gboolean transposed, const segcam_act *in,
                     segcam_act *out)
{
  segcam_conv_forward_relu (pool, scratch, per_thread, p, transposed, in, out, FALSE);
}

void
segcam_conv_backward (segcam_pool *pool, float *scratch, size_t per_thread,
                      const segcam_conv_params *p, gboolean transposed, const segcam_act *dout,
                      segcam_act *din)
{
  conv_run (pool, scratch, per_thread, p, transposed ? GATHER_DIRECT : GATHER_TRANSPOSED,
            segcam_conv_backward_weights (p), NULL, 1.0f, FALSE, dout, din);
}

/* ---- weight gradient ------------------------------------------------------------------------ */

/* Fixed, so the order of the partial sums never depends on the number of threads. */
#define WGRAD_CHUNKS 4

typedef struct {
  gather_job g;           /* the forward gather: rows of input patches per output pixel */
  const float *dy;        /* output gradient, n x h x w x cout */
  float *partial;         /* WGRAD_CHUNKS x [k][cout] */
  int n_images;
} wgrad_job;

static void
wgrad_task (void *ctx, int chunk, int thread)
{
  const wgrad_job *w = ctx;
  const gather_job *j = &w->g;
  size_t hw = (size_t) j->dst_h * j->dst_w, total = hw * w->n_images;
  size_t q0 = total * chunk / WGRAD_CHUNKS, q1 = total * (chunk + 1) / WGRAD_CHUNKS;
  int k = j->kh * j->kw * j->src_c;
  float *acc = w->partial + (size_t) chunk * k * j->dst_c;
  memset (acc, 0, (size_t) k * j->dst_c * sizeof (float));
  while (q0 < q1)
    {
      int rows = (int) MIN ((size_t) j->block, q1 - q0);
      const float *a = gather_rows (j, q0, q0 + rows, 0, j->kh, thread, 0);
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, k, j->dst_c, rows, 1.0f, a, k,
                   w->dy + q0 * j->dst_c, j->dst_c, 1.0f, acc, j->dst_c);
      q0 += rows;
    }
}

size_t
segcam_conv_work_floats (const segcam_conv_params *p, const segcam_act *in, gboolean winograd)
{
  if (!winograd)
    return WGRAD_CHUNKS * (size_t) p->kh * p->kw * p->cin * p->cout;
  /* at least one share's 36 x cin x cout, which also holds the transformed weights */
  segcam_winograd_geom g = segcam_winograd_forward (p, in->n, in->h, in->w);
  return segcam_winograd_wgrad_floats (&g, p->cin, p->cout);
}

void
segcam_conv_weight_grad (segcam_pool *pool, float *scratch, size_t per_thread,
                         const segcam_conv_params *p, gboolean transposed, gboolean winograd,
                         const segcam_act *in, const segcam_act *dout, float *work, float *dw,
                         float *db)
{
  if (winograd)
    {
      segcam_winograd_geom g = segcam_winograd_forward (p, in->n, in->h, in->w);
      segcam_winograd_weight_grad (pool, scratch, per_thread, work, &g, in->data, p->cin,
                                   dout->data, p->cout, dw);
    }
  else
    {
      segcam_act shape = *dout;
      wgrad_job w = {
        .g = conv_job (scratch, per_thread, p, transposed ? GATHER_TRANSPOSED : GATHER_DIRECT,
                       NULL, NULL, 0, in, &shape),
        .dy = dout->data, .n_images = in->n, .partial = work,
      };
      int k = p->kh * p->kw * p->cin;
      size_t n = (size_t) k * p->cout;
      w.g.block = gather_block (k);
      segcam_pool_run (pool, WGRAD_CHUNKS, wgrad_task, &w);
      for (int c = 0; c < WGRAD_CHUNKS; c++)
        for (size_t i = 0; i < n; i++)
          dw[i] += w.partial[c * n + i];
    }
  if (db)
    {
      size_t pixels = segcam_act_size (dout) / p->cout;
      double *sum = g_new0 (double, p->cout);
      for (size_t q = 0; q < pixels; q++)
        for (int c = 0; c < p->cout; c++)
          sum[c] += dout->data[q * p->cout + c];
      for (int c = 0; c < p->cout; c++)
        db[c] += (float) sum[c];
      g_free (sum);
    }
}

/* ---- weight packing ---------------------------------------------------------------------- */

/* Index of weight (co, ci, tap) in PyTorch's storage: conv2d [cout][cin][kh][kw],
 * conv_transpose2d [cin][cout][kh][kw]. */
static inline size_t
torch_index (const segcam_conv_params *c, gboolean transposed, int co, int ci, size_t tap)
{
  size_t taps = (size_t) c->kh * c->kw;
  return transposed ? ((size_t) ci * c->cout + co) * taps + tap : ((size_t) co * c->cin + ci) * taps + tap;
}

/* Output channels packed per pass: a block of 16 floats fills a cache line of the packed layout
 * while 16 rows of PyTorch's stream in, where one channel at a time missed the cache at every
 * write (the biggest share of a small command's set-up). */
#define PACK_BLOCK 16

/* Grouped convolutions run group by group from fwd [g][kh][kw][cin/g][cout/g] and
 * bwd [g][kh][kw][cout/g][cin/g]; PyTorch stores conv2d weights as [cout][cin/g][kh][kw] and
 * conv_transpose2d weights as [cin][cout/g][kh][kw] (with one group, torch_index). */
void
segcam_conv_pack (const segcam_conv_params *c, gboolean transposed, const float *w, float *fwd)
{
  int groups = MAX (c->groups, 1), cig = c->cin / groups, cog = c->cout / groups;
  size_t taps = (size_t) c->kh * c->kw;
  for (int g = 0; g < groups; g++)
    for (int co0 = 0; co0 < cog; co0 += PACK_BLOCK)
      for (int ci = 0; ci < cig; ci++)
        for (size_t t = 0; t < taps; t++)
          for (int co = co0; co < MIN (co0 + PACK_BLOCK, cog); co++)
            {
              size_t from = transposed ? ((size_t) (g * cig + ci) * cog + co) * taps + t
                                       : ((size_t) (g * cog + co) * cig + ci) * taps + t;
              fwd[(((size_t) g * taps + t) * cig + ci) * cog + co] = w[from];
            }
}

/* bwd from fwd: per group and tap, the [cin/g][cout/g] matrix transposed, in square blocks. */
static void
pack_backward (const segcam_conv_params *c, const float *fwd, float *bwd)
{
  int groups = MAX (c->groups, 1), cig = c->cin / groups, cog = c->cout / groups;
  size_t taps = (size_t) c->kh * c->kw;
  for (size_t m = 0; m < groups * taps; m++)
    {
      const float *from = fwd + m * cig * cog;
      float *to = bwd + m * cig * cog;
      for (int ci0 = 0; ci0 < cig; ci0 += PACK_BLOCK)
        for (int co0 = 0; co0 < cog; co0 += PACK_BLOCK)
          for (int ci = ci0; ci < MIN (ci0 + PACK_BLOCK, cig); ci++)
            for (int co = co0; co < MIN (co0 + PACK_BLOCK, cog); co++)
              to[(size_t) co * cig + ci] = from[(size_t) ci * cog + co];
    }
}

static size_t
weight_count (const segcam_conv_params *c)
{
  return (size_t) c->kh * c->kw * (c->cin / MAX (c->groups, 1)) * c->cout;
}

/* *slot, packed by pack on first use: sessions share the model across threads, so the first to
 * pack publishes its copy and any other drops its own. */
static const float *
cached (segcam_conv_params *c, float **slot, void (*pack) (segcam_conv_params *c, float *w))
{
  float *w = g_atomic_pointer_get (slot);
  if (w)
    return w;
  w = g_new (float, weight_count (c));
  pack (c, w);
  if (!g_atomic_pointer_compare_and_exchange (slot, NULL, w))
    {
      g_free (w);
      w = g_atomic_pointer_get (slot);
    }
  return w;
}

static void
pack_from_file (segcam_conv_params *c, float *w)
{
  segcam_conv_pack (c, c->transposed, c->w_file, w);
}

static void
pack_from_forward (segcam_conv_params *c, float *w)
{
  pack_backward (c, segcam_conv_forward_weights (c), w);
}

const float *
segcam_conv_forward_weights (const segcam_conv_params *p)
{
  segcam_conv_params *c = (segcam_conv_params *) p;
  return cached (c, &c->w_fwd, pack_from_file);
}

const float *
segcam_conv_backward_weights (const segcam_conv_params *p)
{
  segcam_conv_params *c = (segcam_conv_params *) p;
  return cached (c, &c->w_bwd, pack_from_forward);
}

void
segcam_conv_repack_backward (segcam_conv_params *c)
{
  if (c->w_bwd)
    pack_backward (c, c->w_fwd, c->w_bwd);
}

void
segcam_conv_unpack (const segcam_conv_params *c, gboolean transposed, const float *fwd, float *w)
{
  size_t taps = (size_t) c->kh * c->kw;
  for (int co = 0; co < c->cout; co++)
    for (int ci = 0; ci < c->cin; ci++)
      for (size_t t = 0; t < taps; t++)
        w[torch_index (c, transposed, co, ci, t)] = fwd[(t * c->cin + ci) * c->cout + co];
}


/* ---- the ops ------------------------------------------------------------------------------- */

static gboolean
parse_conv (segcam_attrs *a, segcam_node *node, gboolean transposed)
{
  segcam_conv_params *c = &node->p.conv;
  int cin = node->channels;
  c->transposed = transposed;
  static const int one[2] = {1, 1}, zero[4] = {0, 0, 0, 0};
  gboolean bad = FALSE;
  const char *wname = segcam_attr_string (a, "weight", &bad);
  if (bad)
    return FALSE;
  if (!wname)
    return segcam_attr_fail (a, "missing attribute 'weight'");
  const segcam_tensor *w = segcam_safetensors_find (a->st, wname);
  if (!w)
    return segcam_attr_fail (a, "tensor '%s' (weight) is not in the file", wname);
  if (w->n_dims != 4 || w->shape[0] < 1 || w->shape[0] > SEGCAM_MAX_CHANNELS || w->shape[1] < 1
      || w->shape[1] > SEGCAM_MAX_CHANNELS || w->shape[2] < 1 || w->shape[2] > SEGCAM_MAX_KERNEL
      || w->shape[3] < 1 || w->shape[3] > SEGCAM_MAX_KERNEL)
    return segcam_attr_fail (a, "weight '%s' must be 4-D with channels in [1, %d] and kernel in "
                             "[1, %d]", wname, SEGCAM_MAX_CHANNELS, SEGCAM_MAX_KERNEL);

  int k[2];
  const int wk[2] = {(int) w->shape[2], (int) w->shape[3]};
  if (!segcam_attr_ints (a, "kernel", 2, 1, SEGCAM_MAX_KERNEL, wk, k)
      || !segcam_attr_ints (a, "stride", 2, 1, SEGCAM_MAX_STRIDE, one, &c->sh)
      || !segcam_attr_ints (a, "dilation", 2, 1, SEGCAM_MAX_DILATION, one, &c->dh)
      || !segcam_attr_ints (a, "groups", 1, 1, SEGCAM_MAX_CHANNELS, one, &c->groups))
    return FALSE;
  c->kh = k[0], c->kw = k[1];
  c->cin = cin;
  int64_t cout = transposed ? w->shape[1] * c->groups : w->shape[0];
  if (cin % c->groups || cout % c->groups || cout > SEGCAM_MAX_CHANNELS)
    return segcam_attr_fail (a, "%d groups do not divide %d input and %" G_GINT64_FORMAT
                 " output channels", c->groups, cin, cout);
  c->cout = (int) cout;
  /* PyTorch's shapes: conv2d [cout][cin/g][kh][kw], conv_transpose2d [cin][cout/g][kh][kw]. */
  const int64_t want[4] = {transposed ? cin : c->cout, (transposed ? c->cout : cin) / c->groups,
                           c->kh, c->kw};
  const segcam_tensor *wt, *bt;
  if (!segcam_attr_tensor (a, "weight", TRUE, 4, want, &wt))
    return FALSE;
  const int64_t bshape[1] = {c->cout};
  if (!segcam_attr_tensor (a, "bias", FALSE, 1, bshape, &bt))
    return FALSE;

  if (transposed)
    {
      int pad[2];
      if (!segcam_attr_ints (a, "padding", 2, 0, SEGCAM_MAX_KERNEL * SEGCAM_MAX_DILATION, zero, pad)
          || !segcam_attr_ints (a, "output_padding", 2, 0, SEGCAM_MAX_STRIDE, zero, &c->oph))
        return FALSE;
      c->pt = c->pb = pad[0];
      c->pl = c->pr = pad[1];
      /* PyTorch's rule: output padding must be smaller than stride or dilation. */
      if ((c->oph >= c->sh && c->oph >= c->dh) || (c->opw >= c->sw && c->opw >= c->dw))
        return segcam_attr_fail (a, "output_padding must be smaller than stride or dilation");
    }
  else
    {
      JsonNode *pn = json_object_get_member (a->obj, "padding");
      if (pn && JSON_NODE_TYPE (pn) == JSON_NODE_VALUE
          && json_node_get_value_type (pn) == G_TYPE_STRING)
        {
          if (strcmp (json_node_get_string (pn), "same") != 0)
            return segcam_attr_fail (a, "padding must be [t,l,b,r], an integer or \"same\"");
          if (c->sh != 1 || c->sw != 1)
            return segcam_attr_fail (a, "padding \"same\" needs stride 1");
          /* PyTorch puts the odd pixel of "same" padding at the bottom and right. */
          int th = c->dh * (c->kh - 1), tw = c->dw * (c->kw - 1);
          c->pt = th / 2, c->pb = th - th / 2, c->pl = tw / 2, c->pr = tw - tw / 2;
        }
      else if (!segcam_attr_ints (a, "padding", 4, 0, SEGCAM_MAX_KERNEL * SEGCAM_MAX_DILATION, zero, &c->pt))
        return FALSE;
    }
  /* Packed when first needed (segcam_conv_forward_weights): a Winograd conv reads these. */
  c->w_file = wt->data;
  c->bias = bt ? g_memdup2 (bt->data, c->cout * sizeof (float)) : NULL;
  node->tensors[0] = g_strdup (wt->name);
  node->tensors[1] = bt ? g_strdup (bt->name) : NULL;
  node->channels = c->cout;
  return TRUE;
}


static gboolean
parse_conv2d (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  return parse_conv (a, node, FALSE);
}

static gboolean
parse_conv_transpose2d (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  return parse_conv (a, node, TRUE);
}

static char *
conv_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_conv_params *p = &n->p.conv;
  const segcam_act *x = &acts[n->inputs[0]];
  if (p->transposed)
    {
      out->h = segcam_conv_transpose_out (x->h, p->kh, p->sh, p->pt, p->oph, p->dh);
      out->w = segcam_conv_transpose_out (x->w, p->kw, p->sw, p->pl, p->opw, p->dw);
    }
  else
    {
      out->h = segcam_conv_out (x->h, p->kh, p->sh, p->pt, p->pb, p->dh);
      out->w = segcam_conv_out (x->w, p->kw, p->sw, p->pl, p->pr, p->dw);
    }
  return NULL;
}

/* A training conv as Winograd, from the weights training updates (the forward-packed ones):
 * the forward of in into out, or the backward of the output gradient in, added to out (the
 * input gradient), where h x w is the forward's input. Winograd's rounding (1e-6 to 1e-5 of a
 * conv's largest output) keeps the trainer within tests/reference/train_crosscheck.py's
 * tolerances, at about 5x the direct convs' error (docs/seg-grad-cam.md, "Fast path"). */
static void
train_winograd (const segcam_op_run *r, const segcam_conv_params *p, gboolean backward,
                const segcam_act *in, segcam_act *out, int h, int w)
{
  segcam_winograd_kernels k = segcam_winograd_packed (segcam_conv_forward_weights (p), p->cin,
                                                      p->cout, NULL);
  segcam_winograd_weights u = {0, 0, r->conv_work};
  segcam_winograd_geom g;
  if (backward)
    {
      segcam_winograd_transform_backward (r->pool, &k, p->cout, 0, p->cin, &u);
      g = segcam_winograd_backward (p, in->n, h, w);
    }
  else
    {
      segcam_winograd_transform (r->pool, &k, p->cin, p->cout, &u);
      g = segcam_winograd_forward (p, in->n, in->h, in->w);
    }
  segcam_winograd_part part = {in->data, in->c};
  segcam_winograd_conv (r->pool, r->scratch, r->scratch_per_thread, &u, &g, &part, 1, out->data,
                        out->c, backward ? NULL : p->bias, backward ? 1.0f : 0.0f, FALSE);
}

/* The decision run/plan.c sized conv_work and the scratch by. */
static gboolean
trains_as_winograd (const segcam_op_run *r, const segcam_conv_params *p, const segcam_act *in)
{
  return r->winograd && segcam_winograd_pays (p, in);
}

static void
conv_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                   segcam_act *out)
{
  const segcam_conv_params *p = &n->p.conv;
  if (trains_as_winograd (r, p, in[0]))
    train_winograd (r, p, FALSE, in[0], out, 0, 0);
  else
    segcam_conv_forward (r->pool, r->scratch, r->scratch_per_thread, p, p->transposed, in[0], out);
}

/* Training reads the forward input for the weight gradient (SEGCAM_READS_INPUT_TRAIN). */
static void
conv_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                    const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  const segcam_conv_params *p = &n->p.conv;
  gboolean winograd = trains_as_winograd (r, p, in[0]);
  if (r->dweight)
    segcam_conv_weight_grad (r->pool, r->scratch, r->scratch_per_thread, p, p->transposed,
                             winograd, in[0], dout, r->conv_work, r->dweight, r->dbias);
  if (din[0] && winograd)
    train_winograd (r, p, TRUE, dout, din[0], in[0]->h, in[0]->w);
  else if (din[0])
    segcam_conv_backward (r->pool, r->scratch, r->scratch_per_thread, p, p->transposed, dout,
                          din[0]);
}

static size_t
conv_node_scratch (const segcam_node *n)
{
  return segcam_conv_scratch (&n->p.conv);
}

/* tensors[0] is the weight, tensors[1] the bias (if any). */
static gboolean
conv_tensor (segcam_node *n, int k, segcam_op_tensor *t, GError **error)
{
  segcam_conv_params *c = &n->p.conv;
  /* The weight gradient and the packing assume one group. */
  if (c->groups > 1)
    return segcam_fail (error, SEGCAM_ERROR_MODEL, "node '%s': grouped convolutions cannot be "
                        "trained", n->name);
  if (k == 1)
    *t = (segcam_op_tensor) {c->bias, c->cout, 1, {c->cout}, FALSE, TRUE};
  else
    *t = (segcam_op_tensor) {(float *) segcam_conv_forward_weights (c),
                             (size_t) c->kh * c->kw * c->cin * c->cout, 4,
                             {c->transposed ? c->cin : c->cout, c->transposed ? c->cout : c->cin,
                              c->kh, c->kw}, TRUE, TRUE};
  return TRUE;
}

static void
conv_refresh (segcam_node *n)
{
  segcam_conv_repack_backward (&n->p.conv);
}

static void
conv_detach (segcam_node *n)
{
  segcam_conv_forward_weights (&n->p.conv);
  n->p.conv.w_file = NULL;
}

static void
conv_clear (segcam_node *n)
{
  g_free (n->p.conv.w_fwd);
  g_free (n->p.conv.w_bwd);
  g_free (n->p.conv.bias);
}

/* conv_transpose2d spreads input pixel i over the outputs i s - pad + t dilation, so output j
 * gathers i from (j + pad - span) / s to (j + pad) / s: at stride S' = S / s it depends on
 * [j S' + lo + (pad - span) S', j S' + S' - 1 + hi + pad S' + S - S']. */
static void
transposed_reach_axis (const segcam_reach_axis *in, int span, int s, int pad,
                       segcam_reach_axis *out)
{
  out->stride = in->stride / s;
  out->lo = in->lo + (int64_t) (pad - span) * out->stride;
  out->hi = in->hi + (int64_t) pad * out->stride + in->stride - out->stride;
}

static char *
conv_reach (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  const segcam_conv_params *p = &n->p.conv;
  const segcam_reach *x = &in[n->inputs[0]];
  if (!p->transposed)
    {
      segcam_reach_window (&x->y, (p->kh - 1) * p->dh, p->sh, p->pt, &out->y);
      segcam_reach_window (&x->x, (p->kw - 1) * p->dw, p->sw, p->pl, &out->x);
      return NULL;
    }
  if (x->y.stride % p->sh || x->x.stride % p->sw)
    return g_strdup_printf ("its stride %dx%d upsamples beyond the image's resolution", p->sw,
                            p->sh);
  transposed_reach_axis (&x->y, (p->kh - 1) * p->dh, p->sh, p->pt, &out->y);
  transposed_reach_axis (&x->x, (p->kw - 1) * p->dw, p->sw, p->pl, &out->x);
  return NULL;
}

const segcam_op_def segcam_op_conv2d = {
  .name = "conv2d", .format_version = 1, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_INPUT_TRAIN, .fuse = SEGCAM_FUSE_CONV,
  .parse = parse_conv2d, .shape = conv_shape, .forward = conv_node_forward,
  .backward = conv_node_backward, .scratch = conv_node_scratch, .tensor = conv_tensor,
  .detach = conv_detach, .refresh = conv_refresh, .clear = conv_clear, .reach = conv_reach,
};

const segcam_op_def segcam_op_conv_transpose2d = {
  .name = "conv_transpose2d", .format_version = 1, .min_inputs = 1, .max_inputs = 1,
  .grad_inputs = 1, .backward_reads = SEGCAM_READS_INPUT_TRAIN, .fuse = SEGCAM_FUSE_CONV,
  .parse = parse_conv_transpose2d, .shape = conv_shape, .forward = conv_node_forward,
  .backward = conv_node_backward, .scratch = conv_node_scratch, .tensor = conv_tensor,
  .detach = conv_detach, .refresh = conv_refresh, .clear = conv_clear, .reach = conv_reach,
};
