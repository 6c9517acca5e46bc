/* winograd.c — 3x3 stride-1 convolutions by Winograd's minimal filtering F(4x4, 3x3).
 *
 * Lavin & Gray (2016), with the interpolation points 0, ±1, ±2 and infinity: each 4x4 block of
 * outputs (a "tile") comes from the 6x6 input patch d around it as
 *
 *   Y = A^T [ sum_ci (G g G^T) .* (B^T d B) ] A
 *
 * so the 36 positions of the transformed 6x6 tiles are 36 independent matrix products
 * V_k [tiles x cin] x U_k [cin x cout] = M_k [tiles x cout], done by cblas_sgemm.
 *
 * A task takes a block of consecutive tiles and a slice of the output channels (the whole of
 * them unless there are few tiles). For each chunk of input channels it transforms the block's
 * input patches into V in the thread's scratch (zeros outside the image, read straight from the
 * parts of a concatenated input) and runs the 36 GEMMs, accumulating into M; then it transforms
 * M back into 4x4 outputs with the bias, beta and ReLU epilogue. Blocks are sized from the shape
 * alone, so results never depend on the number of threads, and so that V and M stay near the
 * caches while the GEMMs keep enough rows to amortise reading the (4x larger) transformed weights,
 * and each GEMM stays small enough for OpenBLAS's unpacked small-matrix kernels (WINO_GEMM_MNK).
 *
 * A dilated conv (dh, dw > 1) is dh x dw undilated ones, one per phase (y mod dh, x mod dw) of
 * the output, each reading the input pixels of one phase, read and written in place through
 * per-axis tables of each tile's coordinates (wino_axis): nothing is gathered. Along each axis
 * the tiles either cover each phase sub-image apart, 4 outputs d pixels apart per tile, or, when
 * the padding is d on both sides (ResNet's), a "canvas" of the sub-images laid end to end with
 * one zero pixel between them, which is each one's padding and its neighbour's: tiles then run
 * across the sub-images' ends, and small sub-images waste fewer of the tiles' outputs. The axis
 * takes whichever needs fewer tiles.
 *
 * Training's weight gradient goes through the same tiles backwards: the 6x6 input transforms
 * V and the output gradient's A dY A^T give dU_k = V_k^T M_k [cin x cout], summed over the tiles
 * by 36 GEMMs, and dW = G^T dU G. Tasks own a slice of dU's channels and a share of the tiles.
 *
 * Channels-last activations make the transforms element-wise over contiguous channels: each runs
 * on WINO_CB channels at a time, as plain loops the compiler vectorises. (Hand-written GCC vector
 * code for full passes measured no faster.) */
#include "winograd.h"
#include "clones.h"
#include "ops.h"

#include <cblas.h>
#include <string.h>

/* Channels per transform pass. */
#ifndef WINO_CB
#define WINO_CB 32
#endif

/* Block sizing. A task owns a block of tiles and a slice of the output channels, and goes over
 * the input channels in chunks of at most WINO_CK_MAX: per tile that costs 36 * (chunk + slice)
 * floats of V and M, which should stay within WINO_BUDGET floats per thread, but the GEMMs need
 * WINO_T_MIN rows or more to amortise reading (and packing) their slice of the weights, which
 * dominates the deep layers' time. */
#ifndef WINO_BUDGET
#define WINO_BUDGET (1 << 18)
#endif
#ifndef WINO_T_MIN
#define WINO_T_MIN 64
#endif
#ifndef WINO_T_MAX
#define WINO_T_MAX 512
#endif
#ifndef WINO_CK_MAX
#define WINO_CK_MAX 128
#endif
/* Input-channel chunks are cut further so that each GEMM has rows x slice x chunk <= WINO_GEMM_MNK:
 * OpenBLAS (0.3.17+, SkylakeX and Cooperlake kernels) multiplies such products with its "small
 * matrix" kernels, which read the operands in place instead of packing them. On Zen 4 with 2
 * threads that made the deep layers' 64 x 128 x 128 GEMMs (1.05M, just over the limit, 62-75
 * GFLOP/s per thread, a quarter of it packing the weights) as fast as the shallow layers' ones
 * (~100): 7% off the yardstick U-Net's conv time at 512x512, 9% at 2048x1024, despite more
 * passes over M (winograd-bench). With other BLAS or cores the chunks are just smaller. */
#ifndef WINO_GEMM_MNK
#define WINO_GEMM_MNK 1000000
#endif
#ifndef WINO_COB_MAX
#define WINO_COB_MAX 256
#endif
/* Few tiles (deep layers): slice the output channels thinner, down to WINO_COB_MIN, until there
 * are WINO_MIN_TASKS tasks to share between threads. Each slice repeats the input transform:
 * 128 rather than 64 measured 6-8% faster on the 32x32-pixel 256/512 x 512 layers (64 tiles). */
#ifndef WINO_MIN_TASKS
#define WINO_MIN_TASKS 8
#endif
#ifndef WINO_COB_MIN
#define WINO_COB_MIN 128
#endif


/* Stands in for pixels outside the image. */
static const float wino_zeros[WINO_CB];

/* ---- weights ---------------------------------------------------------------------------- */

/* G (6x3): the kernel polynomial at the points 0, 1, -1, 2, -2 and infinity, with the scalings
 * that keep B^T and A^T in small integers (Lavin & Gray's F(4x4, 3x3)). */
static const double wino_g[6][3] = {
  {1.0 / 4, 0, 0},
  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
  {1.0 / 24, 1.0 / 12, 1.0 / 6},
  {1.0 / 24, -1.0 / 12, 1.0 / 6},
  {0, 0, 1},
};

/* A transform: the conv's kernels k, either as they are or turned 180 degrees and transposed
 * for the backward-data conv into input channels [first, first + w->cout). */
typedef struct {
  segcam_winograd_kernels k;
  gboolean backward;
  int first;
  segcam_winograd_weights *w;
  int rows_per_task;
} transform_job;

/* Row ci of the transformed conv (its input channel): its 3x3 kernels g[tap][co] for each of its
 * output channels co, and their scales (a vector over co forward; one factor backward). */
static const float *
kernel_row (const transform_job *j, int ci, float *g, double *factor)
{
  const segcam_winograd_kernels *k = &j->k;
  int n = j->w->cout;
  if (!j->backward)
    {
      *factor = 1;
      for (int co = 0; co < n; co++)
        for (int tap = 0; tap < 9; tap++)
          g[(size_t) tap * n + co] = k->w[co * k->co_step + ci * k->ci_step + tap * k->tap_step];
      return k->scale;
    }
  /* backward: input channel ci is the forward's output channel; tap t reads the forward's 8 - t */
  *factor = k->scale ? k->scale[ci] : 1;
  for (int co = 0; co < n; co++)
    for (int tap = 0; tap < 9; tap++)
      g[(size_t) tap * n + co]
        = k->w[ci * k->co_step + (j->first + co) * k->ci_step + (8 - tap) * k->tap_step];
  return NULL;
}

/* Row ci's 36 transformed rows, u[k][ci][co] = (G g G^T)[i][j] with k = i*6 + j, in double, so the
 * transformed weights are rounded once, scale included. The loops run along the output channels,
 * contiguous in k and u, so they vectorise (channel pair by pair this took about 5 % of a 512x512
 * explain command). t is 18 x n doubles of scratch. */
static SEGCAM_CLONES void
transform_row (const float *g, const float *scale, double factor, int n, double *t, float *u,
               size_t plane)
{
  for (int i = 0; i < 6; i++)
    for (int x = 0; x < 3; x++)
      {
        const float *g0 = g + (size_t) x * n, *g1 = g + (size_t) (3 + x) * n,
                    *g2 = g + (size_t) (6 + x) * n;
        double *ti = t + (size_t) (i * 3 + x) * n;
        for (int co = 0; co < n; co++)
          ti[co] = factor * (wino_g[i][0] * g0[co] + wino_g[i][1] * g1[co] + wino_g[i][2] * g2[co]);
        if (scale)
          for (int co = 0; co < n; co++)
            ti[co] *= scale[co];
      }
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++)
      {
        const double *t0 = t + (size_t) (i * 3) * n, *t1 = t0 + n, *t2 = t1 + n;
        float *r = u + (i * 6 + j) * plane;
        for (int co = 0; co < n; co++)
          r[co] = (float) (t0[co] * wino_g[j][0] + t1[co] * wino_g[j][1] + t2[co] * wino_g[j][2]);
      }
}

static void
transform_task (void *ctx, int task, int thread)
{
  const transform_job *j = ctx;
  (void) thread;
  int n = j->w->cout;
  size_t plane = (size_t) j->w->cin * n;
  float *g = g_new (float, (size_t) 9 * n);
  double *t = g_new (double, (size_t) 18 * n);
  int lo = task * j->rows_per_task, hi = MIN (lo + j->rows_per_task, j->w->cin);
  for (int ci = lo; ci < hi; ci++)
    {
      double factor;
      const float *scale = kernel_row (j, ci, g, &factor);
      transform_row (g, scale, factor, n, t, j->w->u + (size_t) ci * n, plane);
    }
  g_free (g);
  g_free (t);
}

static void
transform (segcam_pool *pool, transform_job *j)
{
  /* a few tasks per thread, so that uneven threads even out, each a run of rows: neighbouring
   * rows read neighbouring weights in every layout */
  int tasks = MIN (j->w->cin, 8 * segcam_pool_threads (pool));
  j->rows_per_task = (j->w->cin + tasks - 1) / tasks;
  segcam_pool_run (pool, (j->w->cin + j->rows_per_task - 1) / j->rows_per_task, transform_task, j);
}

size_t
segcam_winograd_floats (int cin, int cout)
{
  return (size_t) 36 * cin * cout;
}

segcam_winograd_kernels
segcam_winograd_packed (const float *w, int cin, int cout, const float *scale)
{
  return (segcam_winograd_kernels) {w, 1, cout, (size_t) cin * cout, scale};
}

segcam_winograd_kernels
segcam_winograd_file (const float *w, int cin, const float *scale)
{
  return (segcam_winograd_kernels) {w, (size_t) 9 * cin, 9, 1, scale};
}

void
segcam_winograd_transform (segcam_pool *pool, const segcam_winograd_kernels *k, int cin, int cout,
                           segcam_winograd_weights *w)
{
  w->cin = cin;
  w->cout = cout;
  transform_job j = {.k = *k, .w = w};
  transform (pool, &j);
}

void
segcam_winograd_transform_backward (segcam_pool *pool, const segcam_winograd_kernels *k,
                                    int cout, int first, int count, segcam_winograd_weights *w)
{
  w->cin = cout;
  w->cout = count;
  transform_job j = {.k = *k, .backward = TRUE, .first = first, .w = w};
  transform (pool, &j);
}

gboolean
segcam_winograd_applies (const segcam_conv_params *p)
{
  /* No threshold on the channel counts: measured on Zen 4 with 2 threads, this beats the gather
   * GEMM at every count tried, from 1 x 1 (memory-bound either way) to 512 x 512, at 64x64 and
   * 512x512 pixels; the RGB input layer (3 x 32) by 1.4x. */
  return !p->transposed && p->kh == 3 && p->kw == 3 && p->sh == 1 && p->sw == 1 && p->pt >= 0
         && p->pl >= 0 && p->pb >= 0 && p->pr >= 0 && p->dh >= 1 && p->dw >= 1 && p->groups <= 1
         && p->cin >= 1 && p->cout >= 1;
}

segcam_winograd_geom
segcam_winograd_forward (const segcam_conv_params *p, int n, int h, int w)
{
  return (segcam_winograd_geom) {
    .n = n, .h = h, .w = w, .ho = segcam_conv_out (h, 3, 1, p->pt, p->pb, p->dh),
    .wo = segcam_conv_out (w, 3, 1, p->pl, p->pr, p->dw), .pt = p->pt, .pl = p->pl,
    .dh = p->dh, .dw = p->dw,
  };
}

segcam_winograd_geom
segcam_winograd_backward (const segcam_conv_params *p, int n, int h, int w)
{
  /* din (u) = sum_k dout (u + pt - k d) w[k] = sum_k' dout (u - (2d - pt) + k' d) w[2 - k'] */
  segcam_winograd_geom f = segcam_winograd_forward (p, n, h, w);
  return (segcam_winograd_geom) {
    .n = n, .h = f.ho, .w = f.wo, .ho = h, .wo = w, .pt = 2 * p->dh - p->pt,
    .pl = 2 * p->dw - p->pl, .dh = p->dh, .dw = p->dw,
  };
}

/* One axis of the tiling: tile t's 4 output coordinates out[t * 4 + i] and the 6 input
 * coordinates of its patch in[t * 6 + r], -1 where there is none (beyond the output, in a gap
 * between canvas sub-images) or where the patch reads padding. */
typedef struct {
  int n;
  int *out, *in;
} wino_axis;

/* Per phase sub-image: the phases that hold any output, each tiled like the largest,
 * ceil (out / d) pixels. */
static int
phase_tiles (int out, int d)
{
  return MIN (d, out) * (((out + d - 1) / d + 3) / 4);
}

/* The canvas: out pixels and a zero between each two of the min (d, out) sub-images. */
static int
canvas_tiles (int out, int d)
{
  return (out + MIN (d, out) - 1 + 3) / 4;
}

/* The canvas needs each sub-image padded by one zero pixel on both sides and nothing more:
 * padding d before it, and as many inputs as outputs, so (stride 1) padding d after it. */
static gboolean
axis_uses_canvas (int n_in, int out, int pad, int d)
{
  return pad == d && n_in == out && canvas_tiles (out, d) < phase_tiles (out, d);
}

/* Tiles along an axis of out outputs from n_in inputs, padded by pad before them, dilation d. */
static int
axis_tiles (int n_in, int out, int pad, int d)
{
  return axis_uses_canvas (n_in, out, pad, d) ? canvas_tiles (out, d) : phase_tiles (out, d);
}

/* Fills a (a->n = axis_tiles). */
static void
axis_build (wino_axis *a, int n_in, int out, int pad, int d)
{
  a->n = axis_tiles (n_in, out, pad, d);
  a->out = g_new (int, (size_t) a->n * 10);
  a->in = a->out + (size_t) a->n * 4;
  if (axis_uses_canvas (n_in, out, pad, d))
    {
      /* the canvas: each sub-image's pixels in order, a -1 between sub-images */
      int len = out + MIN (d, out) - 1;
      int *coord = g_new (int, len);
      for (int ph = 0, c = 0; ph < MIN (d, out); ph++)
        {
          if (ph)
            coord[c++] = -1;
          for (int o = ph; o < out; o += d)
            coord[c++] = o;
        }
      for (int t = 0; t < a->n; t++)
        {
          for (int i = 0; i < 4; i++)
            a->out[t * 4 + i] = 4 * t + i < len ? coord[4 * t + i] : -1;
          /* output canvas position c reads c - 1 + k: the same sub-image's neighbours, or zeros */
          for (int r = 0; r < 6; r++)
            {
              int c = 4 * t - 1 + r;
              a->in[t * 6 + r] = c >= 0 && c < len ? coord[c] : -1;
            }
        }
      g_free (coord);
      return;
    }
  int per_phase = a->n / MAX (MIN (d, out), 1);
  for (int t = 0; t < a->n; t++)
    {
      int o0 = t / per_phase + t % per_phase * 4 * d;
      for (int i = 0; i < 4; i++)
        a->out[t * 4 + i] = o0 + i * d < out ? o0 + i * d : -1;
      for (int r = 0; r < 6; r++)
        {
          int x = o0 - pad + r * d;
          a->in[t * 6 + r] = x >= 0 && x < n_in ? x : -1;
        }
    }
}

size_t
segcam_winograd_tiles (const segcam_winograd_geom *g)
{
  if (g->ho <= 0 || g->wo <= 0)
    return 0;
  return (size_t) g->n * axis_tiles (g->h, g->ho, g->pt, g->dh)
         * axis_tiles (g->w, g->wo, g->pl, g->dw);
}

double
segcam_winograd_fill (const segcam_winograd_geom *g)
{
  size_t tiles = segcam_winograd_tiles (g);
  return tiles ? (double) g->n * g->ho * g->wo / (16.0 * tiles) : 1;
}

/* Winograd's weights take 4x the direct ones, and its transforms cost per tile. On maps of
 * fewer tiles, such as the 16x16 bottleneck of a 256x256 image, the gather GEMM is as fast within
 * a few milliseconds and saves the memory (bench/README.md). */
#define WINOGRAD_MIN_TILES 64

/* A dilated conv's phase sub-images of a few pixels leave much of each tile's 4x4 outputs
 * beyond their edges, computed and dropped (segcam_winograd_fill). Full tiles ran 1.4-2.9x the
 * gather GEMM's speed on ResNet-50's dilated layers at 64x64 (bench/winograd-bench --net resnet,
 * 2 threads, on a busy machine); DeepLabV3's ASPP there, 2048 x 256 channels, fills 0.71 of its
 * tiles at dilation 12 (1.6-1.8x), 0.53 at 24 (1.0-1.4x) and 0.41 at 36 (0.84-0.92x, where the
 * gather GEMM also skips the kernel rows that read only padding). */
#define WINOGRAD_MIN_FILL 0.5

gboolean
segcam_winograd_pays (const segcam_conv_params *p, const segcam_act *in)
{
  if (!segcam_winograd_applies (p))
    return FALSE;
  segcam_winograd_geom g = segcam_winograd_forward (p, in->n, in->h, in->w);
  return segcam_winograd_tiles (&g) >= WINOGRAD_MIN_TILES
         && segcam_winograd_fill (&g) >= WINOGRAD_MIN_FILL;
}

/* ---- block sizing --------------------------------------------------------------------------- */

/* n split into equal parts of at most max, rounded up to whole vectors (16 floats). */
static int
even_slice (int n, int max)
{
  int parts = (n + max - 1) / max;
  int slice = (n + parts - 1) / parts;
  return MIN ((slice + 15) / 16 * 16, n);
}

/* The most tiles per task, for cin-chunks of ck and cout-slices of up to cob. */
static int
tile_cap (int ck, int cob)
{
  long t = WINO_BUDGET / (36L * (ck + cob));
  return (int) CLAMP (t, WINO_T_MIN, WINO_T_MAX);
}

size_t
segcam_winograd_scratch (int cin, int cout)
{
  int ck = even_slice (MAX (cin, 1), WINO_CK_MAX), cob = even_slice (MAX (cout, 1), WINO_COB_MAX);
  return (size_t) 36 * tile_cap (ck, cob) * (ck + cob);
}

typedef struct {
  int n_tiles;
  int block, n_blocks;          /* tiles per task */
  int cob, n_cblocks;           /* output channels per task */
  int ck;                       /* input channels per GEMM */
} wino_plan;

static wino_plan
plan_blocks (const segcam_winograd_geom *g, int cin, int cout)
{
  wino_plan p = {.n_tiles = (int) segcam_winograd_tiles (g)};
  p.ck = even_slice (MAX (cin, 1), WINO_CK_MAX);
  p.cob = even_slice (cout, WINO_COB_MAX);
  int cap = tile_cap (p.ck, p.cob);
  p.n_blocks = (p.n_tiles + cap - 1) / cap;
  p.block = (p.n_tiles + p.n_blocks - 1) / p.n_blocks;
  p.n_blocks = (p.n_tiles + p.block - 1) / p.block;
  p.n_cblocks = (cout + p.cob - 1) / p.cob;
  while (p.n_blocks * p.n_cblocks < WINO_MIN_TASKS && p.cob / 2 >= WINO_COB_MIN)
    {
      p.cob = even_slice (cout, p.cob / 2);
      p.n_cblocks = (cout + p.cob - 1) / p.cob;
    }
  /* Chunks of a multiple of 16 channels within the GEMM size limit: never more than the ck above
   * (more chunks of at most the same size), so segcam_winograd_scratch still holds. */
  long kmax = WINO_GEMM_MNK / ((long) p.block * p.cob) / 16 * 16;
  p.ck = even_slice (MAX (cin, 1), (int) CLAMP (kmax, 16, WINO_CK_MAX));
  return p;
}

/* ---- transforms ----------------------------------------------------------------------------- */

/* V = B^T d B for channels [0, nc) of one tile: d[r * 6 + c] points at the channels of row r,
 * column c of the 6x6 patch; position k of the result goes to v[k * vs]. */
static inline void
input_tile (const float *const d[36], int nc, float *restrict v, size_t vs)
{
  float t[36][WINO_CB];
  for (int j = 0; j < 6; j++)
    {
      const float *d0 = d[j], *d1 = d[6 + j], *d2 = d[12 + j], *d3 = d[18 + j], *d4 = d[24 + j],
                  *d5 = d[30 + j];
      for (int c = 0; c < nc; c++)
        {
          float a0 = d0[c], a1 = d1[c], a2 = d2[c], a3 = d3[c], a4 = d4[c], a5 = d5[c];
          float s12 = a4 - 4 * a2, s34 = a3 - 4 * a1, s56 = a4 - a2, s78 = 2 * (a3 - a1);
          t[j][c] = 4 * a0 - 5 * a2 + a4;
          t[6 + j][c] = s12 + s34;
          t[12 + j][c] = s12 - s34;
          t[18 + j][c] = s56 + s78;
          t[24 + j][c] = s56 - s78;
          t[30 + j][c] = 4 * a1 - 5 * a3 + a5;
        }
    }
  for (int i = 0; i < 6; i++)
    {
      /* Through a local row: six stores vs floats apart in one loop defeat the vectoriser. */
      const float *r = t[i * 6];     /* row i of B^T d */
      float o[6][WINO_CB];
      for (int c = 0; c < nc; c++)
        {
          float a0 = r[c], a1 = r[WINO_CB + c], a2 = r[2 * WINO_CB + c], a3 = r[3 * WINO_CB + c],
                a4 = r[4 * WINO_CB + c], a5 = r[5 * WINO_CB + c];
          float s12 = a4 - 4 * a2, s34 = a3 - 4 * a1, s56 = a4 - a2, s78 = 2 * (a3 - a1);
          o[0][c] = 4 * a0 - 5 * a2 + a4;
          o[1][c] = s12 + s34;
          o[2][c] = s12 - s34;
          o[3][c] = s56 + s78;
          o[4][c] = s56 - s78;
          o[5][c] = 4 * a1 - 5 * a3 + a5;
        }
      for (int k = 0; k < 6; k++)
        memcpy (v + (size_t) (i * 6 + k) * vs, o[k], (size_t) nc * sizeof (float));
    }
}

/* Y = A^T m A for channels [0, nc) of one tile, position k of m at m[k * ms]; row y of Y goes to
 * y[y][x][c] for x = 0..3. */
static inline void
output_tile (const float *restrict m, size_t ms, int nc, float y[4][4][WINO_CB])
{
  float t[24][WINO_CB];
  for (int j = 0; j < 6; j++)
    {
      const float *m0 = m + (size_t) j * ms;
      size_t row = 6 * ms;
      for (int c = 0; c < nc; c++)
        {
          float a0 = m0[c], a1 = m0[row + c], a2 = m0[2 * row + c], a3 = m0[3 * row + c],
                a4 = m0[4 * row + c], a5 = m0[5 * row + c];
          float s12 = a1 + a2, d12 = a1 - a2, s34 = a3 + a4, d34 = a3 - a4;
          t[j][c] = a0 + s12 + s34;
          t[6 + j][c] = d12 + 2 * d34;
          t[12 + j][c] = s12 + 4 * s34;
          t[18 + j][c] = d12 + 8 * d34 + a5;
        }
    }
  for (int i = 0; i < 4; i++)
    for (int c = 0; c < nc; c++)
      {
        const float *r = t[i * 6];
        float a0 = r[c], a1 = r[WINO_CB + c], a2 = r[2 * WINO_CB + c], a3 = r[3 * WINO_CB + c],
              a4 = r[4 * WINO_CB + c], a5 = r[5 * WINO_CB + c];
        float s12 = a1 + a2, d12 = a1 - a2, s34 = a3 + a4, d34 = a3 - a4;
        y[i][0][c] = a0 + s12 + s34;
        y[i][1][c] = d12 + 2 * d34;
        y[i][2][c] = s12 + 4 * s34;
        y[i][3][c] = d12 + 8 * d34 + a5;
      }
}

/* o = relu? max (0, r): r, r = beta * o + y + bias (bias NULL: none; beta 0: o is not read).
 * The conditions are loop-invariant: the compiler makes one loop of each combination. */
static inline void
epilogue (float *restrict o, const float *restrict y, const float *restrict bias, int nc,
          float beta, gboolean relu)
{
  for (int c = 0; c < nc; c++)
    {
      float r = y[c];
      if (bias)
        r += bias[c];
      if (beta != 0)
        r += beta * o[c];
      if (relu)
        r = r > 0 ? r : 0;
      o[c] = r;
    }
}

/* ---- the tasks ------------------------------------------------------------------------------ */

typedef struct {
  const segcam_winograd_weights *w;
  wino_plan plan;
  segcam_winograd_geom g;
  wino_axis ay, ax;
  const segcam_winograd_part *parts;
  int n_parts;
  float *out;
  int ldo;
  const float *bias;
  float beta;
  gboolean relu;
  float *scratch;
  size_t per_thread;
} wino_job;

/* The tile's image and its tiles along each axis; tiles go image by image, row by row. */
static inline void
tile_at (const wino_job *j, int q, int *b, int *ty, int *tx)
{
  int per_image = j->ay.n * j->ax.n;
  *b = q / per_image;
  q %= per_image;
  *ty = q / j->ax.n;
  *tx = q % j->ax.n;
}

/* Input channels [lo, hi) of tiles [q0, q0 + rows) into V [rows][36][hi - lo]: tile-major, so
 * that each tile's transform writes one contiguous run (36 streams of rows, position-major,
 * measured 10% slower); the GEMMs read V_k with a row stride of 36 * (hi - lo). */
SEGCAM_CLONES static void
transform_inputs (const wino_job *j, int q0, int rows, int lo, int hi, float *v)
{
  const segcam_winograd_geom *g = &j->g;
  int nck = hi - lo;
  size_t hw = (size_t) g->h * g->w;
  for (int t = 0; t < rows; t++)
    {
      int b, ty, tx;
      tile_at (j, q0 + t, &b, &ty, &tx);
      const int *iy = j->ay.in + ty * 6, *ix = j->ax.in + tx * 6;
      /* Pixel index of each patch position in image b, or -1 in the padding. */
      long pix[36];
      for (int r = 0; r < 6; r++)
        for (int c = 0; c < 6; c++)
          pix[r * 6 + c] = iy[r] >= 0 && ix[c] >= 0 ? (long) iy[r] * g->w + ix[c] : -1;
      float *vt = v + (size_t) t * 36 * nck;
      for (int pi = 0, off = 0; pi < j->n_parts && off < hi; off += j->parts[pi].c, pi++)
        {
          /* the part's channels [c0, c1) that fall in [lo, hi) */
          int pc = j->parts[pi].c, c0 = MAX (lo - off, 0), c1 = MIN (hi - off, pc);
          const float *base = j->parts[pi].data + (size_t) b * hw * pc;
          for (int c = c0; c < c1; c += WINO_CB)
            {
              const float *d[36];
              for (int k = 0; k < 36; k++)
                d[k] = pix[k] < 0 ? wino_zeros : base + (size_t) pix[k] * pc + c;
              float *dst = vt + off + c - lo;
              if (c1 - c >= WINO_CB)
                input_tile (d, WINO_CB, dst, nck);
              else
                input_tile (d, c1 - c, dst, nck);
            }
        }
    }
}

/* M [rows][36][nco] of tiles [q0, q0 + rows) into output channels [co0, co0 + nco). */
SEGCAM_CLONES static void
transform_outputs (const wino_job *j, int q0, int rows, const float *m, int co0, int nco)
{
  const segcam_winograd_geom *g = &j->g;
  for (int t = 0; t < rows; t++)
    {
      int b, ty, tx;
      tile_at (j, q0 + t, &b, &ty, &tx);
      const int *oy = j->ay.out + ty * 4, *ox = j->ax.out + tx * 4;
      float *o = j->out + (size_t) b * g->ho * g->wo * j->ldo + co0;
      for (int c0 = 0; c0 < nco; c0 += WINO_CB)
        {
          float y[4][4][WINO_CB];
          int nc = MIN (WINO_CB, nco - c0);
          if (nc == WINO_CB)
            output_tile (m + (size_t) t * 36 * nco + c0, nco, WINO_CB, y);
          else
            output_tile (m + (size_t) t * 36 * nco + c0, nco, nc, y);
          const float *bias = j->bias ? j->bias + co0 + c0 : NULL;
          for (int dy = 0; dy < 4; dy++)
            for (int dx = 0; dx < 4; dx++)
              {
                if (oy[dy] < 0 || ox[dx] < 0)
                  continue;
                float *p = o + ((size_t) oy[dy] * g->wo + ox[dx]) * j->ldo + c0;
                if (nc == WINO_CB)
                  epilogue (p, y[dy][dx], bias, WINO_CB, j->beta, j->relu);
                else
                  epilogue (p, y[dy][dx], bias, nc, j->beta, j->relu);
              }
        }
    }
}

static void
wino_task (void *ctx, int task, int thread)
{
  const wino_job *j = ctx;
  const wino_plan *p = &j->plan;
  int cin = j->w->cin, cout = j->w->cout;
  int q0 = task / p->n_cblocks * p->block, rows = MIN (p->block, p->n_tiles - q0);
  int co0 = task % p->n_cblocks * p->cob, nco = MIN (p->cob, cout - co0);
  float *m = j->scratch + (size_t) thread * j->per_thread;
  float *v = m + (size_t) 36 * rows * nco;
  size_t plane = (size_t) cin * cout;
  /* M_k = sum over the chunks of V_k [rows x chunk] U_k [chunk x nco], into M zeroed in one run:
   * with beta 0 OpenBLAS zeroes each of the 36 strided M_k apart, which measured 4-6 % slower
   * on the U-Net at 512x512 (winograd-bench, Zen 3) */
  memset (m, 0, (size_t) 36 * rows * nco * sizeof (float));
  for (int lo = 0; lo < cin; lo += p->ck)
    {
      int nck = MIN (p->ck, cin - lo);
      transform_inputs (j, q0, rows, lo, lo + nck, v);
      for (int k = 0; k < 36; k++)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, nco, nck, 1.0f,
                     v + (size_t) k * nck, 36 * nck,
                     j->w->u + k * plane + (size_t) lo * cout + co0, cout, 1.0f,
                     m + (size_t) k * nco, 36 * nco);
    }
  transform_outputs (j, q0, rows, m, co0, nco);
}

void
segcam_winograd_conv (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                      const segcam_winograd_weights *w, const segcam_winograd_geom *g,
                      const segcam_winograd_part *parts, int n_parts,
                      float *out, int ldo, const float *bias, float beta, gboolean relu)
{
  g_return_if_fail (scratch_per_thread >= segcam_winograd_scratch (w->cin, w->cout));
  g_return_if_fail (ldo >= w->cout);
  g_return_if_fail (g->dh >= 1 && g->dw >= 1);
  if (g->n <= 0 || g->ho <= 0 || g->wo <= 0 || w->cout <= 0)
    return;
  wino_job j = {
    .w = w, .plan = plan_blocks (g, w->cin, w->cout), .g = *g,
    .parts = parts, .n_parts = n_parts, .out = out, .ldo = ldo, .bias = bias, .beta = beta,
    .relu = relu, .scratch = scratch, .per_thread = scratch_per_thread,
  };
  axis_build (&j.ay, g->h, g->ho, g->pt, g->dh);
  axis_build (&j.ax, g->w, g->wo, g->pl, g->dw);
  segcam_pool_run (pool, j.plan.n_blocks * j.plan.n_cblocks, wino_task, &j);
  g_free (j.ay.out);
  g_free (j.ax.out);
}

/* ---- the weight gradient -------------------------------------------------------------------- */

/* Each share of the tiles sums into its own copy of dU; shares are added in order at the end.
 * A share keeps at least WGRAD_SHARE_TILES tiles, so that adding the copies (36 floats per
 * channel pair each) stays small beside the GEMMs that fill them (2 * tiles flops per float). */
#ifndef WGRAD_SHARE_TILES
#define WGRAD_SHARE_TILES 256
#endif

/* M = A y A^T for channels [0, nc) of one tile of the output gradient: y[r * 4 + c] points at the
 * channels of output row r, column c (wino_zeros beyond the output), position k of the result
 * goes to m[k * ms]. A is 6x4, the transpose of output_tile's A^T. */
static inline void
grad_tile (const float *const y[16], int nc, float *restrict m, size_t ms)
{
  float t[24][WINO_CB];  /* t[i * 4 + x]: row i, column x of A y */
  for (int x = 0; x < 4; x++)
    {
      const float *y0 = y[x], *y1 = y[4 + x], *y2 = y[8 + x], *y3 = y[12 + x];
      for (int c = 0; c < nc; c++)
        {
          float a0 = y0[c], a1 = y1[c], a2 = y2[c], a3 = y3[c];
          float s02 = a0 + a2, s13 = a1 + a3, f02 = a0 + 4 * a2, f13 = 2 * a1 + 8 * a3;
          t[x][c] = a0;
          t[4 + x][c] = s02 + s13;
          t[8 + x][c] = s02 - s13;
          t[12 + x][c] = f02 + f13;
          t[16 + x][c] = f02 - f13;
          t[20 + x][c] = a3;
        }
    }
  for (int i = 0; i < 6; i++)
    {
      const float *r = t[i * 4];
      float o[6][WINO_CB];
      for (int c = 0; c < nc; c++)
        {
          float a0 = r[c], a1 = r[WINO_CB + c], a2 = r[2 * WINO_CB + c], a3 = r[3 * WINO_CB + c];
          float s02 = a0 + a2, s13 = a1 + a3, f02 = a0 + 4 * a2, f13 = 2 * a1 + 8 * a3;
          o[0][c] = a0;
          o[1][c] = s02 + s13;
          o[2][c] = s02 - s13;
          o[3][c] = f02 + f13;
          o[4][c] = f02 - f13;
          o[5][c] = a3;
        }
      for (int k = 0; k < 6; k++)
        memcpy (m + (size_t) (i * 6 + k) * ms, o[k], (size_t) nc * sizeof (float));
    }
}

typedef struct {
  wino_job j;            /* the forward's geometry and tiles, the input as its one part */
  const float *dy;       /* the output gradient, g.n x g.ho x g.wo x cout */
  int cin, cout;
  int ck, n_ci;          /* input channels per task */
  int cob, n_co;         /* output channels per task */
  int block;             /* tiles per round of GEMMs */
  int shares;            /* tile ranges, each summing into its own dU */
  float *du;             /* shares x 36 x [cin][cout] */
  float *dw;             /* the gradient, [9][cin][cout] */
  int rows_per_task;     /* input channels per task of wgrad_finish */
} wgrad_job;

/* Output-gradient channels [co0, co0 + nco) of tiles [q0, q0 + rows) into M [rows][36][nco]. */
SEGCAM_CLONES static void
transform_grads (const wgrad_job *w, int q0, int rows, int co0, int nco, float *m)
{
  const segcam_winograd_geom *g = &w->j.g;
  for (int t = 0; t < rows; t++)
    {
      int b, ty, tx;
      tile_at (&w->j, q0 + t, &b, &ty, &tx);
      const int *oy = w->j.ay.out + ty * 4, *ox = w->j.ax.out + tx * 4;
      const float *base = w->dy + (size_t) b * g->ho * g->wo * w->cout + co0;
      for (int c = 0; c < nco; c += WINO_CB)
        {
          const float *y[16];
          for (int r = 0; r < 4; r++)
            for (int x = 0; x < 4; x++)
              y[r * 4 + x] = oy[r] < 0 || ox[x] < 0
                               ? wino_zeros
                               : base + ((size_t) oy[r] * g->wo + ox[x]) * w->cout + c;
          float *dst = m + (size_t) t * 36 * nco + c;
          if (nco - c >= WINO_CB)
            grad_tile (y, WINO_CB, dst, nco);
          else
            grad_tile (y, nco - c, dst, nco);
        }
    }
}

/* One share's slice of dU: dU_k [chunk x slice] = sum over its tiles of V_k^T M_k. Every share
 * has tiles (wgrad_plan), so the first round's beta 0 writes the whole slice. */
static void
wino_wgrad_task (void *ctx, int task, int thread)
{
  const wgrad_job *w = ctx;
  int slices = w->n_ci * w->n_co, share = task / slices, slice = task % slices;
  int lo = slice / w->n_co * w->ck, nck = MIN (w->ck, w->cin - lo);
  int co0 = slice % w->n_co * w->cob, nco = MIN (w->cob, w->cout - co0);
  int n_tiles = w->j.plan.n_tiles;
  int q_lo = (int) ((long) n_tiles * share / w->shares);
  int q_hi = (int) ((long) n_tiles * (share + 1) / w->shares);
  size_t plane = (size_t) w->cin * w->cout;
  float *du = w->du + share * 36 * plane + (size_t) lo * w->cout + co0;
  float *v = w->j.scratch + (size_t) thread * w->j.per_thread;
  float *m = v + (size_t) 36 * w->block * nck;
  for (int q0 = q_lo; q0 < q_hi; q0 += w->block)
    {
      int rows = MIN (w->block, q_hi - q0);
      transform_inputs (&w->j, q0, rows, lo, lo + nck, v);
      transform_grads (w, q0, rows, co0, nco, m);
      for (int k = 0; k < 36; k++)
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, nck, nco, rows, 1.0f,
                     v + (size_t) k * nck, 36 * nck, m + (size_t) k * nco, 36 * nco,
                     q0 > q_lo ? 1.0f : 0.0f, du + k * plane, w->cout);
    }
}

/* dw [tap][ci][co] += (G^T dU G)[ky][kx] for the input channels of one task, dU summed over the
 * shares in order. */
SEGCAM_CLONES static void
wgrad_finish (void *ctx, int task, int thread)
{
  const wgrad_job *w = ctx;
  (void) thread;
  size_t plane = (size_t) w->cin * w->cout;
  int ci1 = MIN (w->cin, (task + 1) * w->rows_per_task);
  for (int ci = task * w->rows_per_task; ci < ci1; ci++)
    for (int c0 = 0; c0 < w->cout; c0 += WINO_CB)
      {
        int nc = MIN (WINO_CB, w->cout - c0);
        const float *d = w->du + (size_t) ci * w->cout + c0;
        float s[36][WINO_CB], t[18][WINO_CB];
        for (int k = 0; k < 36; k++)
          {
            memcpy (s[k], d + k * plane, (size_t) nc * sizeof (float));
            for (int sh = 1; sh < w->shares; sh++)
              for (int c = 0; c < nc; c++)
                s[k][c] += d[(sh * 36 + k) * plane + c];
          }
        /* t = G^T s (3 x 6), then G^T s G (3 x 3), G^T x for a column x of 6 written out so
         * that the loops over the channels vectorise */
        for (int j = 0; j < 6; j++)
          for (int c = 0; c < nc; c++)
            {
              float x0 = s[j][c], x1 = s[6 + j][c], x2 = s[12 + j][c], x3 = s[18 + j][c],
                    x4 = s[24 + j][c], x5 = s[30 + j][c];
              float p12 = x1 + x2, p34 = x3 + x4;
              t[j][c] = x0 * (1.0f / 4) - p12 * (1.0f / 6) + p34 * (1.0f / 24);
              t[6 + j][c] = (x2 - x1) * (1.0f / 6) + (x3 - x4) * (1.0f / 12);
              t[12 + j][c] = (p34 - p12) * (1.0f / 6) + x5;
            }
        for (int a = 0; a < 3; a++)
          {
            float *o = w->dw + (size_t) a * 3 * plane + (size_t) ci * w->cout + c0;
            const float *r = t[a * 6];
            for (int c = 0; c < nc; c++)
              {
                float x0 = r[c], x1 = r[WINO_CB + c], x2 = r[2 * WINO_CB + c],
                      x3 = r[3 * WINO_CB + c], x4 = r[4 * WINO_CB + c], x5 = r[5 * WINO_CB + c];
                float p12 = x1 + x2, p34 = x3 + x4;
                o[c] += x0 * (1.0f / 4) - p12 * (1.0f / 6) + p34 * (1.0f / 24);
                o[plane + c] += (x2 - x1) * (1.0f / 6) + (x3 - x4) * (1.0f / 12);
                o[2 * plane + c] += (p34 - p12) * (1.0f / 6) + x5;
              }
          }
      }
}

/* Thinner channel slices than this repeat their transforms too often. */
#ifndef WGRAD_SLICE_MIN
#define WGRAD_SLICE_MIN 128
#endif

/* The tasks' slices and shares, from the shape alone: shares of the tiles first, then, where the
 * tiles are too few to share (deep layers), thinner channel slices, until there are
 * WINO_MIN_TASKS tasks. Slices no wider than segcam_winograd_scratch's keep its bound. */
static wgrad_job
wgrad_plan (const segcam_winograd_geom *g, int cin, int cout)
{
  wgrad_job w = {.cin = cin, .cout = cout};
  w.ck = even_slice (cin, WINO_CK_MAX);
  w.cob = even_slice (cout, WINO_COB_MAX);
  int n_tiles = (int) segcam_winograd_tiles (g);
  int slices = ((cin + w.ck - 1) / w.ck) * ((cout + w.cob - 1) / w.cob);
  int wanted = (WINO_MIN_TASKS + slices - 1) / slices;
  w.shares = CLAMP (MIN (wanted, n_tiles / WGRAD_SHARE_TILES), 1, WINO_MIN_TASKS);
  for (;;)
    {
      w.n_ci = (cin + w.ck - 1) / w.ck;
      w.n_co = (cout + w.cob - 1) / w.cob;
      if (w.shares * w.n_ci * w.n_co >= WINO_MIN_TASKS)
        break;
      if (w.cob >= w.ck && w.cob / 2 >= WGRAD_SLICE_MIN)
        w.cob = even_slice (cout, w.cob / 2);
      else if (w.ck / 2 >= WGRAD_SLICE_MIN)
        w.ck = even_slice (cin, w.ck / 2);
      else
        break;
    }
  w.block = tile_cap (w.ck, w.cob);
  return w;
}

size_t
segcam_winograd_wgrad_floats (const segcam_winograd_geom *g, int cin, int cout)
{
  return (size_t) wgrad_plan (g, cin, cout).shares * segcam_winograd_floats (cin, cout);
}

void
segcam_winograd_weight_grad (segcam_pool *pool, float *scratch, size_t scratch_per_thread,
                             float *work, const segcam_winograd_geom *g, const float *in, int cin,
                             const float *dy, int cout, float *dw)
{
  g_return_if_fail (scratch_per_thread >= segcam_winograd_scratch (cin, cout));
  g_return_if_fail (g->dh >= 1 && g->dw >= 1 && cin >= 1 && cout >= 1);
  if (g->n <= 0 || g->ho <= 0 || g->wo <= 0)
    return;
  segcam_winograd_part part = {in, cin};
  wgrad_job w = wgrad_plan (g, cin, cout);
  w.j = (wino_job) {
    .plan = {.n_tiles = (int) segcam_winograd_tiles (g)}, .g = *g, .parts = &part, .n_parts = 1,
    .scratch = scratch, .per_thread = scratch_per_thread,
  };
  w.dy = dy;
  w.du = work;
  w.dw = dw;
  axis_build (&w.j.ay, g->h, g->ho, g->pt, g->dh);
  axis_build (&w.j.ax, g->w, g->wo, g->pl, g->dw);
  segcam_pool_run (pool, w.shares * w.n_ci * w.n_co, wino_wgrad_task, &w);
  int tasks = MIN (cin, 8 * segcam_pool_threads (pool));
  w.rows_per_task = (cin + tasks - 1) / tasks;
  segcam_pool_run (pool, (cin + w.rows_per_task - 1) / w.rows_per_task, wgrad_finish, &w);
  g_free (w.j.ay.out);
  g_free (w.j.ax.out);
}
