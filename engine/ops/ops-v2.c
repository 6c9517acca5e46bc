/* ops-v2.c — the version 2 ops of DESIGN.md §2 that torchvision's and U²-Net-style networks need:
 * average pooling, global average pooling, gating multiplication, PyTorch's hard activations,
 * leaky ReLU, clip and padding. Forward and backward, channels-last; backward accumulates.
 *
 * Ops whose backward scatters (avgpool, pad) split their work by channel blocks rather than by
 * pixels: tasks then never write the same value, whatever the windows or reflections do. */
#include "ops.h"

#include <math.h>
#include <string.h>

#define PIXEL_BLOCK 4096  /* pixels per task of the element-wise ops */
#define CHANNEL_BLOCK 16  /* channels per task of the scattering ops */

int
segcam_pad_out (int in, int lo, int hi)
{
  int64_t v = (int64_t) in + lo + hi;
  return v < 1 || v > INT32_MAX ? 0 : (int) v;
}

/* Tasks split by image and block of CHANNEL_BLOCK channels: how many there are for a, and
 * which image b and channels [k0, k1) of c task covers. */
static int
channel_tasks (const segcam_act *a)
{
  return a->n * ((a->c + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK);
}

static inline void
channel_block (int task, int c, int *b, int *k0, int *k1)
{
  int blocks = (c + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
  *b = task / blocks, *k0 = (task % blocks) * CHANNEL_BLOCK, *k1 = MIN (*k0 + CHANNEL_BLOCK, c);
}

/* The jobs of the channel-block ops: forward reads in and writes out; backward reads the
 * gradient in out and accumulates into in. */
typedef struct {
  const void *p;              /* the op's parameters */
  const segcam_act *in, *out;
  gboolean backward;
} channel_job;

static void
channel_run (segcam_pool *pool, segcam_task_fn task, const void *p,
             const segcam_act *in, const segcam_act *out, gboolean backward)
{
  channel_job j = {p, in, out, backward};
  segcam_pool_run (pool, channel_tasks (in), task, &j);
}

/* ---- element-wise activations ------------------------------------------------------------- */

typedef struct {
  segcam_op op;
  const segcam_activation_params *p;
  const float *x, *dy;     /* forward input; output gradient (backward) */
  float *out;              /* forward output, or the input gradient (backward) */
  size_t n;
} act_job;

/* PyTorch's definitions (aten/src/ATen/native/cpu/Activation.cpp). */
static inline float
act_value (segcam_op op, const segcam_activation_params *p, float x)
{
  switch (op)
    {
    case SEGCAM_OP_HARDSWISH:
      return x * fminf (fmaxf (x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case SEGCAM_OP_HARDSIGMOID:
      return fminf (fmaxf (x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case SEGCAM_OP_LEAKY_RELU:
      return x > 0 ? x : x * p->alpha;
    default: /* SEGCAM_OP_CLIP */
      return fminf (fmaxf (x, p->min), p->max);
    }
}

/* d value / dx, with PyTorch's choices at the kinks: hardswish takes the middle piece on
 * [-3, 3], hardsigmoid and clip pass nothing at their ends (clip follows hardtanh, which is what
 * ReLU6 exports as), leaky ReLU the negative slope at 0. */
static inline float
act_slope (segcam_op op, const segcam_activation_params *p, float x)
{
  switch (op)
    {
    case SEGCAM_OP_HARDSWISH:
      return x < -3.0f ? 0.0f : x <= 3.0f ? x / 3.0f + 0.5f : 1.0f;
    case SEGCAM_OP_HARDSIGMOID:
      return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f;
    case SEGCAM_OP_LEAKY_RELU:
      return x > 0 ? 1.0f : p->alpha;
    default: /* SEGCAM_OP_CLIP */
      return x > p->min && x < p->max ? 1.0f : 0.0f;
    }
}

static void
act_task (void *ctx, int task, int thread)
{
  const act_job *j = ctx;
  size_t i0 = (size_t) task * PIXEL_BLOCK * 16, i1 = MIN (i0 + PIXEL_BLOCK * 16, j->n);
  if (j->dy)
    for (size_t i = i0; i < i1; i++)
      j->out[i] += j->dy[i] * act_slope (j->op, j->p, j->x[i]);
  else
    for (size_t i = i0; i < i1; i++)
      j->out[i] = act_value (j->op, j->p, j->x[i]);
  (void) thread;
}

static void
act_run (segcam_pool *pool, act_job *j)
{
  segcam_pool_run (pool, (int) ((j->n + PIXEL_BLOCK * 16 - 1) / (PIXEL_BLOCK * 16)), act_task, j);
}

void
segcam_activation_forward (segcam_pool *pool, segcam_op op, const segcam_activation_params *p,
                           const segcam_act *in, segcam_act *out)
{
  act_job j = {op, p, in->data, NULL, out->data, segcam_act_size (in)};
  act_run (pool, &j);
}

void
segcam_activation_backward (segcam_pool *pool, segcam_op op, const segcam_activation_params *p,
                            const segcam_act *in, const segcam_act *dout, segcam_act *din)
{
  act_job j = {op, p, in->data, dout->data, din->data, segcam_act_size (in)};
  act_run (pool, &j);
}

/* ---- mul, with the second operand optionally one pixel broadcast over the first's ---------- */

typedef struct {
  const segcam_act *a, *b, *dy;
  float *out, *da, *db;
  gboolean broadcast;
} mul_job;

static inline const float *
mul_b (const mul_job *j, size_t pixel)
{
  /* pixel counts over the whole batch; a broadcast b has one pixel per image */
  size_t hw = (size_t) j->a->h * j->a->w;
  return j->b->data + (j->broadcast ? pixel / hw : pixel) * j->b->c;
}

static void
mul_task (void *ctx, int task, int thread)
{
  const mul_job *j = ctx;
  size_t n = (size_t) j->a->n * j->a->h * j->a->w, c = j->a->c;
  size_t p0 = (size_t) task * PIXEL_BLOCK, p1 = MIN (p0 + PIXEL_BLOCK, n);
  for (size_t p = p0; p < p1; p++)
    {
      const float *a = j->a->data + p * c, *b = mul_b (j, p);
      if (!j->dy)
        for (size_t k = 0; k < c; k++)
          j->out[p * c + k] = a[k] * b[k];
      else
        {
          const float *g = j->dy->data + p * c;
          if (j->da)
            for (size_t k = 0; k < c; k++)
              j->da[p * c + k] += g[k] * b[k];
          if (j->db && !j->broadcast)
            for (size_t k = 0; k < c; k++)
              j->db[p * c + k] += g[k] * a[k];
        }
    }
  (void) thread;
}

/* The broadcast operand's gradient sums over pixels: one task per image and channel block, in
 * double, in pixel order, so the result does not depend on the threads. */
static void
mul_reduce_task (void *ctx, int task, int thread)
{
  const mul_job *j = ctx;
  int c = j->a->c, b, k0, k1;
  channel_block (task, c, &b, &k0, &k1);
  size_t hw = (size_t) j->a->h * j->a->w;
  double sum[CHANNEL_BLOCK] = {0};
  for (size_t p = (size_t) b * hw; p < (size_t) (b + 1) * hw; p++)
    for (int k = k0; k < k1; k++)
      sum[k - k0] += (double) j->dy->data[p * c + k] * j->a->data[p * c + k];
  for (int k = k0; k < k1; k++)
    j->db[(size_t) b * c + k] += (float) sum[k - k0];
  (void) thread;
}

static int
mul_tasks (const segcam_act *a)
{
  return (int) (((size_t) a->n * a->h * a->w + PIXEL_BLOCK - 1) / PIXEL_BLOCK);
}

static gboolean
mul_broadcasts (const segcam_act *a, const segcam_act *b)
{
  return b->h == 1 && b->w == 1 && (a->h != 1 || a->w != 1);
}

void
segcam_mul_forward (segcam_pool *pool, const segcam_act *a, const segcam_act *b, segcam_act *out)
{
  mul_job j = {.a = a, .b = b, .out = out->data, .broadcast = mul_broadcasts (a, b)};
  segcam_pool_run (pool, mul_tasks (a), mul_task, &j);
}

void
segcam_mul_backward (segcam_pool *pool, const segcam_act *a, const segcam_act *b,
                     const segcam_act *dout, segcam_act *da, segcam_act *db)
{
  mul_job j = {.a = a, .b = b, .dy = dout, .da = da ? da->data : NULL, .db = db ? db->data : NULL,
               .broadcast = mul_broadcasts (a, b)};
  /* mul (x, x): da and db are one buffer, updated in turn within a task, as add does. */
  segcam_pool_run (pool, mul_tasks (a), mul_task, &j);
  if (j.db && j.broadcast)
    segcam_pool_run (pool, channel_tasks (a), mul_reduce_task, &j);
}

/* ---- average pooling ------------------------------------------------------------------------ */

/* PyTorch's avg_pool2d (AvgPoolKernel.cpp): the divisor counts the padding (up to the padded
 * input's end, so ceil mode's overhanging windows are clipped) only with count_include_pad. */
static inline void
avg_window (const segcam_pool_params *p, int in_h, int in_w, int oy, int ox, int *y0, int *y1,
            int *x0, int *x1, float *divisor)
{
  int ys = oy * p->sh - p->ph, xs = ox * p->sw - p->pw;
  int ye = MIN (ys + p->kh, in_h + p->ph), xe = MIN (xs + p->kw, in_w + p->pw);
  int padded = (ye - ys) * (xe - xs);
  *y0 = MAX (ys, 0), *x0 = MAX (xs, 0), *y1 = MIN (ye, in_h), *x1 = MIN (xe, in_w);
  *divisor = (float) (p->count_include_pad ? padded : (*y1 - *y0) * (*x1 - *x0));
}

static void
avg_task (void *ctx, int task, int thread)
{
  const channel_job *j = ctx;
  const segcam_pool_params *p = j->p;
  const segcam_act *in = j->in, *out = j->out;
  int c = in->c, b, k0, k1;
  channel_block (task, c, &b, &k0, &k1);
  float *x = in->data + (size_t) b * in->h * in->w * c;
  float *y = out->data + (size_t) b * out->h * out->w * c;
  for (int oy = 0; oy < out->h; oy++)
    for (int ox = 0; ox < out->w; ox++)
      {
        int y0, y1, x0, x1;
        float divisor, *o = y + ((size_t) oy * out->w + ox) * c;
        avg_window (p, in->h, in->w, oy, ox, &y0, &y1, &x0, &x1, &divisor);
        if (y0 >= y1 || x0 >= x1)
          {
            if (!j->backward)
              for (int k = k0; k < k1; k++)
                o[k] = 0;
            continue;
          }
        float acc[CHANNEL_BLOCK] = {0};
        for (int sy = y0; sy < y1; sy++)
          for (int sx = x0; sx < x1; sx++)
            {
              float *v = x + ((size_t) sy * in->w + sx) * c;
              if (j->backward)
                for (int k = k0; k < k1; k++)
                  v[k] += o[k] / divisor;
              else
                for (int k = k0; k < k1; k++)
                  acc[k - k0] += v[k];
            }
        if (!j->backward)
          for (int k = k0; k < k1; k++)
            o[k] = acc[k - k0] / divisor;
      }
  (void) thread;
}

void
segcam_avgpool_forward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *in,
                        segcam_act *out)
{
  channel_run (pool, avg_task, p, in, out, FALSE);
}

void
segcam_avgpool_backward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *dout,
                         segcam_act *din)
{
  channel_run (pool, avg_task, p, din, dout, TRUE);
}

/* ---- global average pooling ----------------------------------------------------------------- */

static void
gap_task (void *ctx, int task, int thread)
{
  const channel_job *j = ctx;
  int c = j->in->c, b, k0, k1;
  channel_block (task, c, &b, &k0, &k1);
  size_t hw = (size_t) j->in->h * j->in->w;
  float *x = j->in->data + (size_t) b * hw * c, *y = j->out->data + (size_t) b * c;
  if (j->backward)
    {
      for (size_t p = 0; p < hw; p++)
        for (int k = k0; k < k1; k++)
          x[p * c + k] += y[k] / (float) hw;
      return;
    }
  double sum[CHANNEL_BLOCK] = {0};
  for (size_t p = 0; p < hw; p++)
    for (int k = k0; k < k1; k++)
      sum[k - k0] += x[p * c + k];
  for (int k = k0; k < k1; k++)
    y[k] = (float) (sum[k - k0] / hw);
  (void) thread;
}

void
segcam_global_avgpool_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out)
{
  channel_run (pool, gap_task, NULL, in, out, FALSE);
}

void
segcam_global_avgpool_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *din)
{
  channel_run (pool, gap_task, NULL, din, dout, TRUE);
}

/* ---- padding ---------------------------------------------------------------------------------- */

/* Source index of padded index i (already shifted by the leading pad), or -1 for the constant. */
static inline int
pad_source (segcam_pad_mode mode, int i, int n)
{
  if (i >= 0 && i < n)
    return i;
  switch (mode)
    {
    case SEGCAM_PAD_REFLECT: /* the edge is not repeated: -1 -> 1, n -> n - 2 */
      return i < 0 ? -i : 2 * (n - 1) - i;
    case SEGCAM_PAD_REPLICATE:
      return i < 0 ? 0 : n - 1;
    default:
      return -1;
    }
}

static void
pad_task (void *ctx, int task, int thread)
{
  const channel_job *j = ctx;
  const segcam_pad_params *p = j->p;
  const segcam_act *in = j->in, *out = j->out;
  int c = in->c, b, k0, k1;
  channel_block (task, c, &b, &k0, &k1);
  float *x = in->data + (size_t) b * in->h * in->w * c;
  float *y = out->data + (size_t) b * out->h * out->w * c;
  for (int oy = 0; oy < out->h; oy++)
    {
      int sy = pad_source (p->mode, oy - p->pt, in->h);
      for (int ox = 0; ox < out->w; ox++)
        {
          int sx = sy < 0 ? -1 : pad_source (p->mode, ox - p->pl, in->w);
          float *o = y + ((size_t) oy * out->w + ox) * c;
          float *v = sx < 0 ? NULL : x + ((size_t) sy * in->w + sx) * c;
          if (j->backward)
            {
              if (v)
                for (int k = k0; k < k1; k++)
                  v[k] += o[k];
            }
          else
            for (int k = k0; k < k1; k++)
              o[k] = v ? v[k] : p->value;
        }
    }
  (void) thread;
}

void
segcam_pad_forward (segcam_pool *pool, const segcam_pad_params *p, const segcam_act *in,
                    segcam_act *out)
{
  channel_run (pool, pad_task, p, in, out, FALSE);
}

void
segcam_pad_backward (segcam_pool *pool, const segcam_pad_params *p, const segcam_act *dout,
                     segcam_act *din)
{
  channel_run (pool, pad_task, p, din, dout, TRUE);
}
