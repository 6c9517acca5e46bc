/* pool.c — max pooling, forward and backward, with PyTorch's output sizes, -inf padding and
 * tie-breaking (the first maximum of a window in row-major order takes the gradient). */
#include "ops.h"

#include <math.h>

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

typedef struct {
  const segcam_pool_params *p;
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
  int y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
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
        int y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
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
