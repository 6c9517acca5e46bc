/* pooling.c — max, average and global average pooling, forward and backward, with PyTorch's
 * output sizes; max pooling pads with -inf and breaks ties as PyTorch does (the first maximum of
 * a window in row-major order takes the gradient). */
#include "tasks.h"

#include <math.h>
#include <string.h>

int
segcam_pool_out (int in, int k, int s, int pad, gboolean ceil_mode)
{
  /* PyTorch rounds up before asking whether any window fits. */
  int64_t span = (int64_t) in + 2 * pad - k + (ceil_mode ? s - 1 : 0);
  if (span < 0)
    return 0;
  int64_t out = span / s + 1;
  /* PyTorch: the last window must start inside the input or its left padding. */
  if (ceil_mode && (out - 1) * s >= (int64_t) in + pad)
    out--;
  return (int) out;
}

/* The padding before and after an axis of size in: the attribute's, or auto_pad SAME's. */
static void
axis_pads (segcam_pool_same same, int in, int k, int s, int pad, int *before, int *after)
{
  if (same == SEGCAM_POOL_EXPLICIT)
    {
      *before = *after = pad;
      return;
    }
  int64_t out = ((int64_t) in + s - 1) / s;
  int total = (int) MAX ((out - 1) * s + k - in, 0);
  *before = same == SEGCAM_POOL_SAME_UPPER ? total / 2 : total - total / 2;
  *after = total - *before;
}

/* Output size on one axis. */
static int
pool_axis_out (const segcam_pool_params *p, int in, int k, int s, int pad)
{
  if (p->same == SEGCAM_POOL_EXPLICIT)
    return segcam_pool_out (in, k, s, pad, p->ceil_mode);
  return (int) (((int64_t) in + s - 1) / s);
}

typedef struct {
  const segcam_pool_params *p;
  int pt, pl;              /* the padding before the input's rows and columns */
  const segcam_act *in;
  const segcam_act *out;   /* forward output, or the output gradient */
  segcam_act *din;         /* backward only */
  int rows;                /* output rows per task */
  int tasks_per_image;
} pool_job;

/* Index (into the image's pixels) of the maximum of window (oy, ox) for channel c. */
static inline size_t
window_argmax (const pool_job *j, const float *img, int oy, int ox, int c, float *max_out)
{
  const segcam_pool_params *p = j->p;
  const segcam_act *in = j->in;
  int y0 = oy * p->sh - j->pt, x0 = ox * p->sw - j->pl;
  int ya = MAX (y0, 0), yb = MIN (y0 + p->kh, in->h), xa = MAX (x0, 0), xb = MIN (x0 + p->kw, in->w);
  float best = -INFINITY;
  size_t arg = (size_t) ya * in->w + xa;
  for (int y = ya; y < yb; y++)
    for (int x = xa; x < xb; x++)
      {
        size_t q = (size_t) y * in->w + x;
        float v = img[q * in->c + c];
        if (v > best || isnan (v))
          {
            best = v, arg = q;
            if (isnan (v))
              goto done;
          }
      }
done:
  *max_out = best;
  return arg;
}

static void
pool_task (void *ctx, int task, int thread)
{
  const pool_job *j = ctx;
  int b = task / j->tasks_per_image;
  int oy0 = (task % j->tasks_per_image) * j->rows, oy1 = MIN (oy0 + j->rows, j->out->h);
  int c = j->in->c;
  const float *img = j->in->data + (size_t) b * j->in->h * j->in->w * c;
  size_t out_base = (size_t) b * j->out->h * j->out->w * c;
  float *dimg = j->din ? j->din->data + (size_t) b * j->in->h * j->in->w * c : NULL;
  for (int oy = oy0; oy < oy1; oy++)
    for (int ox = 0; ox < j->out->w; ox++)
      for (int k = 0; k < c; k++)
        {
          float m;
          size_t arg = window_argmax (j, img, oy, ox, k, &m);
          size_t o = out_base + ((size_t) oy * j->out->w + ox) * c + k;
          if (dimg)
            dimg[arg * c + k] += j->out->data[o];
          else
            j->out->data[o] = m;
        }
  (void) thread;
}

/* The forward's values only: a window's pixels in turn, each a max over contiguous channels. NaN
 * wins and stays, as in window_argmax. */
static void
pool_forward_task (void *ctx, int task, int thread)
{
  const pool_job *j = ctx;
  const segcam_pool_params *p = j->p;
  const segcam_act *in = j->in;
  int b = task / j->tasks_per_image;
  int oy0 = (task % j->tasks_per_image) * j->rows, oy1 = MIN (oy0 + j->rows, j->out->h);
  int c = in->c;
  const float *img = in->data + (size_t) b * in->h * in->w * c;
  float *out = j->out->data + (size_t) b * j->out->h * j->out->w * c;
  for (int oy = oy0; oy < oy1; oy++)
    for (int ox = 0; ox < j->out->w; ox++)
      {
        float *o = out + ((size_t) oy * j->out->w + ox) * c;
        int y0 = oy * p->sh - j->pt, x0 = ox * p->sw - j->pl;
        for (int k = 0; k < c; k++)
          o[k] = -INFINITY;
        for (int y = MAX (y0, 0); y < MIN (y0 + p->kh, in->h); y++)
          for (int x = MAX (x0, 0); x < MIN (x0 + p->kw, in->w); x++)
            {
              const float *v = img + ((size_t) y * in->w + x) * c;
              for (int k = 0; k < c; k++)
                o[k] = v[k] > o[k] || v[k] != v[k] ? v[k] : o[k];
            }
      }
  (void) thread;
}

static void
pool_run (segcam_pool *pool, pool_job *j)
{
  int after;
  axis_pads (j->p->same, j->in->h, j->p->kh, j->p->sh, j->p->ph, &j->pt, &after);
  axis_pads (j->p->same, j->in->w, j->p->kw, j->p->sw, j->p->pw, &j->pl, &after);
  /* Backward scatters into input rows; tasks must not share them, so when windows overlap
   * vertically each image is one task. */
  gboolean overlap = j->din && j->p->kh > j->p->sh;
  j->rows = overlap ? j->out->h : MAX (1, 4096 / MAX (1, j->out->w));
  j->tasks_per_image = (j->out->h + j->rows - 1) / j->rows;
  segcam_pool_run (pool, j->in->n * j->tasks_per_image, j->din ? pool_task : pool_forward_task, j);
}

void
segcam_maxpool_forward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *in,
                        segcam_act *out)
{
  pool_job j = {.p = p, .in = in, .out = out};
  pool_run (pool, &j);
}

void
segcam_maxpool_backward (segcam_pool *pool, const segcam_pool_params *p, const segcam_act *in,
                         const segcam_act *dout, segcam_act *din)
{
  pool_job j = {.p = p, .in = in, .out = dout, .din = din};
  pool_run (pool, &j);
}

/* ---- average pooling ------------------------------------------------------------------------ */

/* PyTorch's avg_pool2d: the divisor counts the padding (up to the padded
 * input's end, so ceil mode's overhanging windows are clipped) only with count_include_pad; with
 * auto_pad SAME every window lies in the padded input, so it counts the whole kernel, as ONNX. */
static inline void
avg_window (const segcam_pool_params *p, int in_h, int in_w, int oy, int ox, int *y0, int *y1,
            int *x0, int *x1, float *divisor)
{
  int pt, pb, pl, pr;
  axis_pads (p->same, in_h, p->kh, p->sh, p->ph, &pt, &pb);
  axis_pads (p->same, in_w, p->kw, p->sw, p->pw, &pl, &pr);
  int ys = oy * p->sh - pt, xs = ox * p->sw - pl;
  int ye = MIN (ys + p->kh, in_h + pb), xe = MIN (xs + p->kw, in_w + pr);
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

/* ---- the ops -------------------------------------------------------------------------- */

static gboolean
parse_pool (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  segcam_pool_params *p = &node->p.pool;
  static const int zero[2] = {0, 0};
  if (!segcam_attr_ints (a, "kernel", 2, 1, SEGCAM_MAX_KERNEL, NULL, &p->kh))
    return FALSE;
  if (!segcam_attr_ints (a, "stride", 2, 1, SEGCAM_MAX_STRIDE, &p->kh, &p->sh)
      || !segcam_attr_ints (a, "padding", 2, 0, SEGCAM_MAX_KERNEL, zero, &p->ph)
      || !segcam_attr_bool (a, "ceil_mode", FALSE, &p->ceil_mode)
      || !segcam_attr_bool (a, "count_include_pad", TRUE, &p->count_include_pad))
    return FALSE;
  gboolean bad = FALSE;
  const char *same = segcam_attr_string (a, "auto_pad", &bad);
  if (bad)
    return FALSE;
  if (same && strcmp (same, "same_upper") != 0 && strcmp (same, "same_lower") != 0)
    return segcam_attr_fail (a, "auto_pad must be \"same_upper\" or \"same_lower\", not \"%s\"",
                             same);
  if (same && (json_object_has_member (a->obj, "padding")
               || json_object_has_member (a->obj, "ceil_mode")))
    return segcam_attr_fail (a, "auto_pad sets the padding and the output size: no 'padding' or "
                             "'ceil_mode' with it");
  p->same = !same ? SEGCAM_POOL_EXPLICIT
            : strcmp (same, "same_upper") == 0 ? SEGCAM_POOL_SAME_UPPER : SEGCAM_POOL_SAME_LOWER;
  if (2 * p->ph > p->kh || 2 * p->pw > p->kw)
    return segcam_attr_fail (a, "padding must be at most half the kernel");
  return TRUE;
}


static char *
pool_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_pool_params *p = &n->p.pool;
  const segcam_act *x = &acts[n->inputs[0]];
  out->h = pool_axis_out (p, x->h, p->kh, p->sh, p->ph);
  out->w = pool_axis_out (p, x->w, p->kw, p->sw, p->pw);
  return NULL;
}

static char *
global_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  out->h = out->w = 1;
  return NULL;
}

static void
maxpool_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                      segcam_act *out)
{
  segcam_maxpool_forward (r->pool, &n->p.pool, in[0], out);
}

/* The window maxima are found again in the forward input (SEGCAM_READS_INPUT). */
static void
maxpool_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                       const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_maxpool_backward (r->pool, &n->p.pool, in[0], dout, din[0]);
}

static void
avgpool_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                      segcam_act *out)
{
  segcam_avgpool_forward (r->pool, &n->p.pool, in[0], out);
}

static void
avgpool_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                       const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_avgpool_backward (r->pool, &n->p.pool, dout, din[0]);
}

static void
global_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                     segcam_act *out)
{
  segcam_global_avgpool_forward (r->pool, in[0], out);
}

static void
global_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                      const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_global_avgpool_backward (r->pool, dout, din[0]);
}

/* A window at the pool's stride; SAME pads follow the input's size, but are the same for every
 * multiple of the stride, which every tile's input to the pool is. */
static char *
pool_reach (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  const segcam_pool_params *p = &n->p.pool;
  const segcam_reach *x = &in[n->inputs[0]];
  int pt, pl, after;
  axis_pads (p->same, (p->kh + 1) * p->sh, p->kh, p->sh, p->ph, &pt, &after);
  axis_pads (p->same, (p->kw + 1) * p->sw, p->kw, p->sw, p->pw, &pl, &after);
  segcam_reach_window (&x->y, p->kh - 1, p->sh, pt, &out->y);
  segcam_reach_window (&x->x, p->kw - 1, p->sw, pl, &out->x);
  return NULL;
}

static char *
global_reach (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  return g_strdup ("it averages over the whole image");
}

const segcam_op_def segcam_op_maxpool2d = {
  .name = "maxpool2d", .format_version = 1, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_INPUT, .parse = parse_pool, .shape = pool_shape,
  .forward = maxpool_node_forward, .backward = maxpool_node_backward, .reach = pool_reach,
};

const segcam_op_def segcam_op_avgpool2d = {
  .name = "avgpool2d", .format_version = 2, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .parse = parse_pool, .shape = pool_shape, .forward = avgpool_node_forward,
  .backward = avgpool_node_backward, .reach = pool_reach,
};

const segcam_op_def segcam_op_global_avgpool = {
  .name = "global_avgpool", .format_version = 2, .min_inputs = 1, .max_inputs = 1,
  .grad_inputs = 1, .shape = global_shape, .forward = global_node_forward,
  .backward = global_node_backward, .reach = global_reach,
};
