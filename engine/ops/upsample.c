/* upsample.c — nearest and bilinear resizing with PyTorch's interpolate conventions
 * (align_corners=False, half-pixel centres; or align_corners=True) and TensorFlow 1's bilinear
 * (asymmetric: no half-pixel shift), forward and its adjoint, from one index rule so the two
 * cannot drift apart. Index arithmetic is in float, as PyTorch's CPU kernels do for float
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

/* The one or two source pixels of destination index x and their weights; copy: the identity. */
typedef struct {
  int i0, i1;
  float l0, l1;
} taps;

static taps
source_taps (segcam_upsample_mode mode, float scale, int x, int in, int out, gboolean copy)
{
  taps t;
  if (mode == SEGCAM_UPSAMPLE_NEAREST)
    {
      if (copy)
        t.i0 = x;
      else if (out == 2 * in)
        t.i0 = x >> 1;
      else
        t.i0 = MIN ((int) floorf (x * scale), in - 1);
      t.i1 = t.i0, t.l0 = 1, t.l1 = 0;
      return t;
    }
  if (copy)
    {
      t.i0 = t.i1 = x, t.l0 = 1, t.l1 = 0;
      return t;
    }
  float real = mode == SEGCAM_UPSAMPLE_BILINEAR ? scale * (x + 0.5f) - 0.5f : scale * x;
  if (real < 0)
    real = 0;
  t.i0 = (int) real;
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.l1 = MIN (MAX (real - t.i0, 0.0f), 1.0f);
  t.l0 = 1 - t.l1;
  return t;
}

typedef struct {
  const segcam_act *in, *out;   /* backward: in receives the adjoint of out */
  taps *ty, *tx;          /* per output row and column */
  int rows, tasks_per_image;
} up_job;

static void
up_task (void *ctx, int task, int thread)
{
  const up_job *j = ctx;
  int b = task / j->tasks_per_image;
  int c = j->in->c, in_w = j->in->w, out_w = j->out->w;
  const float *in = j->in->data + (size_t) b * j->in->h * in_w * c;
  float *out = j->out->data + (size_t) b * j->out->h * out_w * c;
  int y0 = (task % j->tasks_per_image) * j->rows, y1 = MIN (y0 + j->rows, j->out->h);
  for (int y = y0; y < y1; y++)
    {
      taps ty = j->ty[y];
      for (int x = 0; x < out_w; x++)
        {
          taps tx = j->tx[x];
          const float *a = in + ((size_t) ty.i0 * in_w + tx.i0) * c;
          const float *bb = in + ((size_t) ty.i0 * in_w + tx.i1) * c;
          const float *cc = in + ((size_t) ty.i1 * in_w + tx.i0) * c;
          const float *d = in + ((size_t) ty.i1 * in_w + tx.i1) * c;
          float *o = out + ((size_t) y * out_w + x) * c;
          for (int k = 0; k < c; k++)
            o[k] = ty.l0 * (tx.l0 * a[k] + tx.l1 * bb[k]) + ty.l1 * (tx.l0 * cc[k] + tx.l1 * d[k]);
        }
    }
  (void) thread;
}

/* The adjoint, split by input rows: a task owns rows [r0, r1) of the input gradient and adds to
 * them from every output row whose taps land there, so tasks never write the same row and the
 * order of the sums is fixed by the shape alone. */
static void
up_adjoint_task (void *ctx, int task, int thread)
{
  const up_job *j = ctx;
  int b = task / j->tasks_per_image;
  int c = j->in->c, in_w = j->in->w, out_w = j->out->w;
  float *in = j->in->data + (size_t) b * j->in->h * in_w * c;
  const float *out = j->out->data + (size_t) b * j->out->h * out_w * c;
  int r0 = (task % j->tasks_per_image) * j->rows, r1 = MIN (r0 + j->rows, j->in->h);
  for (int y = 0; y < j->out->h; y++)
    {
      const taps ty = j->ty[y];
      const int rows[2] = {ty.i0, ty.i1};
      const float wy[2] = {ty.l0, ty.l1};
      for (int r = 0; r < 2; r++)
        {
          if (rows[r] < r0 || rows[r] >= r1 || wy[r] == 0)
            continue;
          float *row = in + (size_t) rows[r] * in_w * c;
          const float *o = out + (size_t) y * out_w * c;
          for (int x = 0; x < out_w; x++, o += c)
            {
              taps tx = j->tx[x];
              float *p0 = row + (size_t) tx.i0 * c, *p1 = row + (size_t) tx.i1 * c;
              float w0 = wy[r] * tx.l0, w1 = wy[r] * tx.l1;
              for (int k = 0; k < c; k++)
                p0[k] += w0 * o[k];
              for (int k = 0; k < c; k++)
                p1[k] += w1 * o[k];
            }
        }
    }
  (void) thread;
}

static void
up_run (segcam_pool *pool, segcam_upsample_mode mode, double scale_h, double scale_w,
        const segcam_act *in, const segcam_act *out, gboolean backward)
{
  up_job j = {.in = in, .out = out};
  float sy = source_scale (mode, scale_h, in->h, out->h);
  float sx = source_scale (mode, scale_w, in->w, out->w);
  j.ty = g_new (taps, out->h);
  j.tx = g_new (taps, out->w);
  /* PyTorch copies an axis whose size is unchanged, whatever the factor. ONNX Runtime's
   * asymmetric copies only an image whose both sizes are, and divides by the factor otherwise. */
  gboolean same = in->h == out->h && in->w == out->w;
  gboolean per_axis = mode != SEGCAM_UPSAMPLE_ASYMMETRIC;
  for (int y = 0; y < out->h; y++)
    j.ty[y] = source_taps (mode, sy, y, in->h, out->h, per_axis ? in->h == out->h : same);
  for (int x = 0; x < out->w; x++)
    j.tx[x] = source_taps (mode, sx, x, in->w, out->w, per_axis ? in->w == out->w : same);
  /* Forward tasks own output rows, adjoint tasks input rows (at least 8 tasks per image). */
  int rows = backward ? in->h : out->h, width = backward ? in->w : out->w;
  j.rows = MAX (1, MIN (4096 / MAX (1, width), (rows + 7) / 8));
  j.tasks_per_image = (rows + j.rows - 1) / j.rows;
  segcam_pool_run (pool, in->n * j.tasks_per_image, backward ? up_adjoint_task : up_task, &j);
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

/* ---- the op --------------------------------------------------------------------------- */

static gboolean
parse_upsample (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  segcam_upsample_params *u = &node->p.up;
  gboolean bad = FALSE;
  const char *mode = segcam_attr_string (a, "mode", &bad);
  gboolean align_corners;
  if (bad || !segcam_attr_bool (a, "align_corners", FALSE, &align_corners))
    return FALSE;
  if (!mode || strcmp (mode, "nearest") == 0)
    u->mode = SEGCAM_UPSAMPLE_NEAREST;
  else if (strcmp (mode, "bilinear") == 0)
    u->mode = align_corners ? SEGCAM_UPSAMPLE_ALIGN_CORNERS : SEGCAM_UPSAMPLE_BILINEAR;
  else if (strcmp (mode, "bilinear_asymmetric") == 0)
    u->mode = SEGCAM_UPSAMPLE_ASYMMETRIC;
  else
    return segcam_attr_fail (a, "mode must be \"nearest\", \"bilinear\" or "
                             "\"bilinear_asymmetric\", not \"%s\"", mode);
  if (align_corners && u->mode != SEGCAM_UPSAMPLE_ALIGN_CORNERS)
    return segcam_attr_fail (a, "align_corners applies to mode \"bilinear\" only");
  if (node->n_inputs == 2)
    return TRUE;
  JsonNode *zn = json_object_get_member (a->obj, "size");
  if (zn)
    {
      JsonArray *za = JSON_NODE_HOLDS_ARRAY (zn) ? json_node_get_array (zn) : NULL;
      double z[2];
      if (!za || json_array_get_length (za) != 2
          || !segcam_json_double (json_array_get_element (za, 0), &z[0])
          || !segcam_json_double (json_array_get_element (za, 1), &z[1]) || z[0] != floor (z[0])
          || z[1] != floor (z[1]) || z[0] < 1 || z[1] < 1 || z[0] > 65536 || z[1] > 65536)
        return segcam_attr_fail (a, "upsample 'size' must be [h, w], whole numbers in [1, 65536]");
      u->size_h = (int) z[0], u->size_w = (int) z[1];
      return TRUE;
    }
  JsonNode *sn = json_object_get_member (a->obj, "scale");
  double s[2];
  gboolean ok = FALSE;
  if (sn && segcam_json_double (sn, &s[0]))
    s[1] = s[0], ok = TRUE;
  else if (sn && JSON_NODE_HOLDS_ARRAY (sn) && json_array_get_length (json_node_get_array (sn)) == 2)
    ok = segcam_json_double (json_array_get_element (json_node_get_array (sn), 0), &s[0])
         && segcam_json_double (json_array_get_element (json_node_get_array (sn), 1), &s[1]);
  if (!ok || s[0] <= 0 || s[1] <= 0 || s[0] > 64 || s[1] > 64)
    return segcam_attr_fail (a, "upsample needs 'scale' [sh,sw] in (0, 64] or a second input");
  u->scale_h = s[0], u->scale_w = s[1];
  return TRUE;
}


/* The size comes from the second input, when there is one, or is fixed, or comes from the
 * scale. */
static char *
upsample_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_act *x = &acts[n->inputs[0]];
  if (n->n_inputs == 2)
    out->h = acts[n->inputs[1]].h, out->w = acts[n->inputs[1]].w;
  else if (n->p.up.size_h)
    out->h = n->p.up.size_h, out->w = n->p.up.size_w;
  else
    {
      out->h = segcam_upsample_out (x->h, n->p.up.scale_h);
      out->w = segcam_upsample_out (x->w, n->p.up.scale_w);
    }
  return NULL;
}

static void
upsample_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                       segcam_act *out)
{
  segcam_upsample_forward (r->pool, n->p.up.mode, n->p.up.scale_h, n->p.up.scale_w, in[0], out);
}

static void
upsample_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                        const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_upsample_backward (r->pool, n->p.up.mode, n->p.up.scale_h, n->p.up.scale_w, dout, din[0]);
}

/* One axis by a whole factor f of the input's stride S: output j at S' = S / f reads input
 * j / f rounded down (nearest), also the next one (asymmetric), or the ones either side of
 * (j + 1/2) / f - 1/2 (half-pixel bilinear). */
static gboolean
upsample_reach_axis (const segcam_reach_axis *in, double f, segcam_upsample_mode mode,
                     segcam_reach_axis *out)
{
  if (f < 1 || f != floor (f) || in->stride % (int64_t) f)
    return FALSE;
  out->stride = in->stride / (int64_t) f;
  int64_t spread = ((int64_t) f - 1) * out->stride;
  out->lo = in->lo - spread - (mode == SEGCAM_UPSAMPLE_BILINEAR ? in->stride : 0);
  out->hi = in->hi + spread + (mode != SEGCAM_UPSAMPLE_NEAREST ? in->stride : 0);
  return TRUE;
}

static char *
upsample_reach (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  const segcam_upsample_params *u = &n->p.up;
  const segcam_reach *x = &in[n->inputs[0]];
  if (u->size_h)
    return g_strdup ("its output size is fixed");
  if (u->mode == SEGCAM_UPSAMPLE_ALIGN_CORNERS)
    return g_strdup ("it aligns corners, which places its samples by the image's size");
  double fh = u->scale_h, fw = u->scale_w;
  if (n->n_inputs == 2)
    {
      const segcam_reach *z = &in[n->inputs[1]];
      fh = (double) x->y.stride / z->y.stride, fw = (double) x->x.stride / z->x.stride;
    }
  if (!upsample_reach_axis (&x->y, fh, u->mode, &out->y)
      || !upsample_reach_axis (&x->x, fw, u->mode, &out->x))
    return g_strdup_printf ("it scales by %gx%g, not by a whole factor of its input's stride "
                            "%" G_GINT64_FORMAT, fw, fh, x->x.stride);
  return NULL;
}

/* The size input (if any) only lends its shape: no gradient flows into it (grad_inputs 1). */
const segcam_op_def segcam_op_upsample = {
  .name = "upsample", .format_version = 1, .min_inputs = 1, .max_inputs = 2, .grad_inputs = 1,
  .parse = parse_upsample, .shape = upsample_shape, .forward = upsample_node_forward,
  .backward = upsample_node_backward, .reach = upsample_reach,
};
