/* upsample.c — nearest and bilinear resizing with PyTorch's interpolate conventions
 * (align_corners=False, half-pixel centres; or align_corners=True), forward and its adjoint, from one index rule so the
 * two cannot drift apart. Index arithmetic is in float, as PyTorch's CPU kernels do for float
 * tensors, so that borderline pixels pick the same source. */
#include "ops.h"

#include <math.h>
#include <string.h>

int
segcam_upsample_out (int in, double scale)
{
  double v = floor (in * scale);
  return v < 1 || v > INT32_MAX ? 0 : (int) v;
}

/* PyTorch's compute_scales_value: the model's factor when given, else the size ratio; with
 * align_corners the corner pixels' ratio, whatever the factor (area_pixel_compute_scale). */
static float
source_scale (segcam_upsample_mode mode, double model_scale, int in, int out)
{
  if (mode == SEGCAM_UPSAMPLE_ALIGN_CORNERS)
    return out > 1 ? (float) (in - 1) / (float) (out - 1) : 0.0f;
  return model_scale > 0 ? (float) (1.0 / model_scale) : (float) in / (float) out;
}

/* The one or two source pixels of destination index x and their weights. */
typedef struct {
  int i0, i1;
  float l0, l1;
} taps;

static taps
source_taps (segcam_upsample_mode mode, float scale, int x, int in, int out)
{
  taps t;
  if (mode == SEGCAM_UPSAMPLE_NEAREST)
    {
      if (out == in)
        t.i0 = x;
      else if (out == 2 * in)
        t.i0 = x >> 1;
      else
        t.i0 = MIN ((int) floorf (x * scale), in - 1);
      t.i1 = t.i0, t.l0 = 1, t.l1 = 0;
      return t;
    }
  if (out == in)
    {
      t.i0 = t.i1 = x, t.l0 = 1, t.l1 = 0;
      return t;
    }
  float real = mode == SEGCAM_UPSAMPLE_ALIGN_CORNERS ? scale * x : scale * (x + 0.5f) - 0.5f;
  if (real < 0)
    real = 0;
  t.i0 = (int) real;
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.l1 = MIN (MAX (real - t.i0, 0.0f), 1.0f);
  t.l0 = 1 - t.l1;
  return t;
}

typedef struct {
  gboolean backward;      /* in->data receives the adjoint of out->data */
  const segcam_act *in, *out;
  taps *ty, *tx;          /* per output row and column */
  int rows, tasks_per_image;
} up_job;

static void
up_task (void *ctx, int task, int thread)
{
  const up_job *j = ctx;
  int b = task / j->tasks_per_image;
  int c = j->in->c, in_w = j->in->w, out_w = j->out->w;
  float *in = j->in->data + (size_t) b * j->in->h * in_w * c;
  float *out = j->out->data + (size_t) b * j->out->h * out_w * c;
  int y0 = (task % j->tasks_per_image) * j->rows, y1 = MIN (y0 + j->rows, j->out->h);
  for (int y = y0; y < y1; y++)
    {
      taps ty = j->ty[y];
      for (int x = 0; x < out_w; x++)
        {
          taps tx = j->tx[x];
          const size_t q00 = ((size_t) ty.i0 * in_w + tx.i0) * c, q01 = ((size_t) ty.i0 * in_w + tx.i1) * c;
          const size_t q10 = ((size_t) ty.i1 * in_w + tx.i0) * c, q11 = ((size_t) ty.i1 * in_w + tx.i1) * c;
          const float w00 = ty.l0 * tx.l0, w01 = ty.l0 * tx.l1, w10 = ty.l1 * tx.l0, w11 = ty.l1 * tx.l1;
          float *o = out + ((size_t) y * out_w + x) * c;
          if (!j->backward)
            for (int k = 0; k < c; k++)
              o[k] = ty.l0 * (tx.l0 * in[q00 + k] + tx.l1 * in[q01 + k])
                     + ty.l1 * (tx.l0 * in[q10 + k] + tx.l1 * in[q11 + k]);
          else
            {
              for (int k = 0; k < c; k++)
                {
                  in[q00 + k] += w00 * o[k];
                  in[q01 + k] += w01 * o[k];
                  in[q10 + k] += w10 * o[k];
                  in[q11 + k] += w11 * o[k];
                }
            }
        }
    }
  (void) thread;
}

static void
up_run (segcam_pool *pool, segcam_upsample_mode mode, double scale_h, double scale_w,
        const segcam_act *in, const segcam_act *out, gboolean backward)
{
  up_job j = {.backward = backward, .in = in, .out = out};
  float sy = source_scale (mode, scale_h, in->h, out->h);
  float sx = source_scale (mode, scale_w, in->w, out->w);
  j.ty = g_new (taps, out->h);
  j.tx = g_new (taps, out->w);
  for (int y = 0; y < out->h; y++)
    j.ty[y] = source_taps (mode, sy, y, in->h, out->h);
  for (int x = 0; x < out->w; x++)
    j.tx[x] = source_taps (mode, sx, x, in->w, out->w);
  /* The adjoint scatters into input rows that neighbouring output rows share: one task per image. */
  j.rows = backward ? out->h : MAX (1, 4096 / MAX (1, out->w));
  j.tasks_per_image = (out->h + j.rows - 1) / j.rows;
  segcam_pool_run (pool, in->n * j.tasks_per_image, up_task, &j);
  g_free (j.ty);
  g_free (j.tx);
}

void
segcam_upsample_forward (segcam_pool *pool, segcam_upsample_mode mode, double scale_h,
                         double scale_w, const segcam_act *in, segcam_act *out)
{
  up_run (pool, mode, scale_h, scale_w, in, out, FALSE);
}

void
segcam_upsample_backward (segcam_pool *pool, segcam_upsample_mode mode, double scale_h,
                          double scale_w, const segcam_act *dout, segcam_act *din)
{
  /* The job reads "in" and "out" by shape: din has the input's shape, dout the output's. */
  up_run (pool, mode, scale_h, scale_w, din, dout, TRUE);
}
