/* test-ops-v2.c — the version 2 ops (docs/model-format.md, 'Ops', 'Version 2'), grouped
 * convolution and align-corners bilinear upsampling against naive references.
 *
 * As in test-ops.c, each case runs the engine's forward and backward kernels (float32,
 * channels-last, two threads) and compares:
 *   - the forward output with a naive NCHW loop in double, written from PyTorch's definition;
 *   - the backward (the vector-Jacobian product with a random output gradient, ACCUMULATED onto
 *     random values already in the input gradients) with central finite differences of
 *     <dout, naive_forward (x)> in double.
 * Inputs stay away from the kinks of the piecewise activations, where finite differences would
 * straddle two pieces; the kink conventions themselves are checked by exact values.
 */
#include "ops.h"

#include <math.h>
#include <string.h>

#define TOL 1e-4
#define FD_STEP 1e-3

typedef struct {
  const char *name;
  segcam_op op;             /* SEGCAM_OP_CONV2D / CONV_TRANSPOSE2D for the grouped convolutions */
  int n, h, w, c;
  int h2, w2;               /* mul: the second factor's size (0: the first's); upsample: the
                               output size */
  gboolean same_input;      /* mul (x, x) */
  segcam_pool_params pool;
  segcam_activation_params act;
  segcam_pad_params pad;
  int cout, groups, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
} v2_case;

#define POOL(k, s, p, ceil, incl) .pool = {k, k, s, s, p, p, ceil, incl}
#define CONV(co, g, k, s, p, d) .cout = co, .groups = g, .kh = k, .kw = k, .sh = s, .sw = s, \
  .pt = p, .pl = p, .pb = p, .pr = p, .dh = d, .dw = d

static const v2_case cases[] = {
  {"avgpool/k2-s2", SEGCAM_OP_AVGPOOL2D, 2, 6, 8, 3, POOL (2, 2, 0, FALSE, TRUE)},
  {"avgpool/k3-s2-p1-include-pad", SEGCAM_OP_AVGPOOL2D, 1, 7, 5, 3, POOL (3, 2, 1, FALSE, TRUE)},
  {"avgpool/k3-s2-p1-exclude-pad", SEGCAM_OP_AVGPOOL2D, 1, 7, 5, 3, POOL (3, 2, 1, FALSE, FALSE)},
  {"avgpool/k2-s2-ceil", SEGCAM_OP_AVGPOOL2D, 1, 7, 5, 2, POOL (2, 2, 0, TRUE, TRUE)},
  {"avgpool/k3-s2-p1-ceil-include-pad", SEGCAM_OP_AVGPOOL2D, 2, 8, 6, 17,
   POOL (3, 2, 1, TRUE, TRUE)},
  {"avgpool/k3-s1-p1-c20", SEGCAM_OP_AVGPOOL2D, 1, 5, 4, 20, POOL (3, 1, 1, FALSE, FALSE)},
  {"global_avgpool", SEGCAM_OP_GLOBAL_AVGPOOL, 2, 5, 7, 19},
  {"mul/same-size", SEGCAM_OP_MUL, 2, 5, 4, 3},
  {"mul/broadcast-gate", SEGCAM_OP_MUL, 2, 5, 4, 18, .h2 = 1, .w2 = 1},
  {"mul/x-times-x", SEGCAM_OP_MUL, 1, 5, 4, 3, .same_input = TRUE},
  {"hardswish", SEGCAM_OP_HARDSWISH, 2, 5, 4, 3},
  {"hardsigmoid", SEGCAM_OP_HARDSIGMOID, 2, 5, 4, 3},
  {"leaky_relu", SEGCAM_OP_LEAKY_RELU, 1, 5, 4, 3, .act = {.alpha = 0.2f}},
  {"clip/relu6", SEGCAM_OP_CLIP, 1, 5, 4, 3, .act = {.min = 0, .max = 6}},
  {"clip/-1,2", SEGCAM_OP_CLIP, 1, 5, 4, 3, .act = {.min = -1, .max = 2}},
  {"pad/constant", SEGCAM_OP_PAD, 2, 5, 4, 3, .pad = {1, 2, 3, 0, SEGCAM_PAD_CONSTANT, 0.5f}},
  {"pad/reflect", SEGCAM_OP_PAD, 1, 5, 4, 3, .pad = {2, 3, 4, 1, SEGCAM_PAD_REFLECT, 0}},
  {"pad/replicate", SEGCAM_OP_PAD, 1, 5, 4, 17, .pad = {3, 1, 0, 5, SEGCAM_PAD_REPLICATE, 0}},
  {"pad/crop", SEGCAM_OP_PAD, 1, 6, 5, 3, .pad = {-1, 1, -2, 0, SEGCAM_PAD_CONSTANT, 0}},
  {"conv2d/groups-2", SEGCAM_OP_CONV2D, 2, 7, 6, 4, CONV (6, 2, 3, 1, 1, 1)},
  {"conv2d/groups-3-1x1", SEGCAM_OP_CONV2D, 1, 5, 4, 6, CONV (9, 3, 1, 1, 0, 1)},
  {"conv2d/depthwise-k3-s2-p2-d2", SEGCAM_OP_CONV2D, 2, 9, 7, 5, CONV (5, 5, 3, 2, 2, 2)},
  {"conv2d/depthwise-k5-p2", SEGCAM_OP_CONV2D, 1, 6, 5, 18, CONV (18, 18, 5, 1, 2, 1)},
  {"conv2d/depthwise-multiplier-2", SEGCAM_OP_CONV2D, 1, 6, 5, 3, CONV (6, 3, 3, 1, 1, 1)},
  {"conv_transpose2d/groups-2-s2", SEGCAM_OP_CONV_TRANSPOSE2D, 1, 4, 3, 4, CONV (6, 2, 3, 2, 1, 1)},
  {"conv_transpose2d/depthwise-s2", SEGCAM_OP_CONV_TRANSPOSE2D, 1, 4, 3, 3, CONV (3, 3, 2, 2, 0, 1)},
  {"upsample/align-corners-x2", SEGCAM_OP_UPSAMPLE, 2, 7, 5, 3, .h2 = 14, .w2 = 10},
  {"upsample/align-corners-13x11-to-20x17", SEGCAM_OP_UPSAMPLE, 1, 13, 11, 2, .h2 = 20, .w2 = 17},
  {"upsample/align-corners-down-9x8-to-4x3", SEGCAM_OP_UPSAMPLE, 1, 9, 8, 2, .h2 = 4, .w2 = 3},
  {"upsample/align-corners-1x1-to-3x2", SEGCAM_OP_UPSAMPLE, 1, 1, 1, 2, .h2 = 3, .w2 = 2},
  {"upsample/align-corners-to-1x1", SEGCAM_OP_UPSAMPLE, 1, 5, 4, 2, .h2 = 1, .w2 = 1},
};

/* ---- test instance: inputs, weights, shapes ------------------------------------------------- */

typedef struct {
  const v2_case *k;
  int n_ins;                    /* distinct inputs */
  int in_h[2], in_w[2], in_c[2];
  int oh, ow, oc;
  double *weight, *bias;        /* convolutions, PyTorch layouts */
  segcam_conv_params conv;
} instance;

static size_t
numel (int n, int c, int h, int w)
{
  return (size_t) n * c * h * w;
}

static double
nchw (const double *x, int c, int h, int w, int b, int k, int y, int xx)
{
  return x[(((size_t) b * c + k) * h + y) * w + xx];
}

/* Values away from the kinks of the case's activation (FD would straddle two pieces). */
static double
random_value (GRand *r, const v2_case *k)
{
  for (;;)
    {
      double v = g_rand_double_range (r, -5, 5);
      double kinks[2] = {-3, 3};
      if (k->op == SEGCAM_OP_LEAKY_RELU)
        kinks[0] = kinks[1] = 0;
      else if (k->op == SEGCAM_OP_CLIP)
        kinks[0] = k->act.min, kinks[1] = k->act.max;
      else if (k->op != SEGCAM_OP_HARDSWISH && k->op != SEGCAM_OP_HARDSIGMOID)
        return v / 5;
      if (fabs (v - kinks[0]) > 0.05 && fabs (v - kinks[1]) > 0.05)
        return v;
    }
}

static void
instance_init (instance *t, const v2_case *k, GRand *r)
{
  memset (t, 0, sizeof *t);
  t->k = k;
  t->n_ins = k->op == SEGCAM_OP_MUL && !k->same_input ? 2 : 1;
  t->in_h[0] = t->in_h[1] = k->h, t->in_w[0] = t->in_w[1] = k->w, t->in_c[0] = t->in_c[1] = k->c;
  if (k->h2 && k->op == SEGCAM_OP_MUL)
    t->in_h[1] = k->h2, t->in_w[1] = k->w2;
  t->oc = k->c, t->oh = k->h, t->ow = k->w;
  switch (k->op)
    {
    case SEGCAM_OP_AVGPOOL2D:
      t->oh = segcam_pool_out (k->h, k->pool.kh, k->pool.sh, k->pool.ph, k->pool.ceil_mode);
      t->ow = segcam_pool_out (k->w, k->pool.kw, k->pool.sw, k->pool.pw, k->pool.ceil_mode);
      break;
    case SEGCAM_OP_GLOBAL_AVGPOOL:
      t->oh = t->ow = 1;
      break;
    case SEGCAM_OP_UPSAMPLE:
      t->oh = k->h2, t->ow = k->w2;
      break;
    case SEGCAM_OP_PAD:
      t->oh = segcam_pad_out (k->h, k->pad.pt, k->pad.pb);
      t->ow = segcam_pad_out (k->w, k->pad.pl, k->pad.pr);
      break;
    case SEGCAM_OP_CONV2D:
    case SEGCAM_OP_CONV_TRANSPOSE2D:
      {
        gboolean tr = k->op == SEGCAM_OP_CONV_TRANSPOSE2D;
        t->oc = k->cout;
        t->oh = tr ? segcam_conv_transpose_out (k->h, k->kh, k->sh, k->pt, 0, k->dh)
                   : segcam_conv_out (k->h, k->kh, k->sh, k->pt, k->pb, k->dh);
        t->ow = tr ? segcam_conv_transpose_out (k->w, k->kw, k->sw, k->pl, 0, k->dw)
                   : segcam_conv_out (k->w, k->kw, k->sw, k->pl, k->pr, k->dw);
        /* conv2d [cout][cin/g][kh][kw]; conv_transpose2d [cin][cout/g][kh][kw] */
        size_t nw = (size_t) k->c * (k->cout / k->groups) * k->kh * k->kw;
        t->weight = g_new (double, nw);
        t->bias = g_new (double, k->cout);
        for (size_t i = 0; i < nw; i++)
          t->weight[i] = g_rand_double_range (r, -1, 1);
        for (int i = 0; i < k->cout; i++)
          t->bias[i] = g_rand_double_range (r, -1, 1);
        /* The engine's packing: per group, fwd [taps][cin/g][cout/g], bwd [taps][cout/g][cin/g]. */
        segcam_conv_params *p = &t->conv;
        *p = (segcam_conv_params) {
          .kh = k->kh, .kw = k->kw, .sh = k->sh, .sw = k->sw, .pt = k->pt, .pl = k->pl,
          .pb = k->pb, .pr = k->pr, .dh = k->dh, .dw = k->dw, .cin = k->c, .cout = k->cout,
          .groups = k->groups,
        };
        int cig = k->c / k->groups, cog = k->cout / k->groups, taps = k->kh * k->kw;
        p->w_fwd = g_new (float, nw);
        p->w_bwd = g_new (float, nw);
        p->bias = g_new (float, k->cout);
        for (int i = 0; i < k->cout; i++)
          p->bias[i] = (float) t->bias[i];
        for (int g = 0; g < k->groups; g++)
          for (int co = 0; co < cog; co++)
            for (int ci = 0; ci < cig; ci++)
              for (int tap = 0; tap < taps; tap++)
                {
                  size_t from = tr ? ((size_t) (g * cig + ci) * cog + co) * taps + tap
                                   : ((size_t) (g * cog + co) * cig + ci) * taps + tap;
                  float v = (float) t->weight[from];
                  t->weight[from] = v; /* what the engine sees, exactly */
                  p->w_fwd[(((size_t) g * taps + tap) * cig + ci) * cog + co] = v;
                  p->w_bwd[(((size_t) g * taps + tap) * cog + co) * cig + ci] = v;
                }
        break;
      }
    default:
      break;
    }
}

static void
instance_clear (instance *t)
{
  g_free (t->weight);
  g_free (t->bias);
  g_free (t->conv.w_fwd);
  g_free (t->conv.w_bwd);
  g_free (t->conv.bias);
}

/* ---- naive references (NCHW, double) ----------------------------------------------------- */

static double
ref_activation (const v2_case *k, double x)
{
  switch (k->op)
    {
    case SEGCAM_OP_HARDSWISH: /* x * relu6 (x + 3) / 6 */
      return x * fmin (fmax (x + 3, 0), 6) / 6;
    case SEGCAM_OP_HARDSIGMOID: /* relu6 (x + 3) / 6 */
      return fmin (fmax (x + 3, 0), 6) / 6;
    case SEGCAM_OP_LEAKY_RELU:
      return x >= 0 ? x : k->act.alpha * x;
    default:
      return fmin (fmax (x, k->act.min), k->act.max);
    }
}

/* F.interpolate (mode="bilinear", align_corners=True): the corner pixels' centres align. */
static void
ref_align_corners (int x, int in, int out, int *i0, int *i1, double *l1)
{
  double real = out > 1 ? (double) x * (in - 1) / (out - 1) : 0;
  *i0 = (int) floor (real);
  *i1 = MIN (*i0 + 1, in - 1);
  *l1 = real - *i0;
}

/* F.pad index: reflect mirrors without repeating the edge, replicate clamps. */
static int
ref_pad_index (segcam_pad_mode mode, int i, int n)
{
  if (i >= 0 && i < n)
    return i;
  if (mode == SEGCAM_PAD_CONSTANT)
    return -1;
  if (mode == SEGCAM_PAD_REPLICATE)
    return i < 0 ? 0 : n - 1;
  return i < 0 ? -i : 2 * n - 2 - i;
}

static void
naive_forward (const instance *t, double *const *x, double *y)
{
  const v2_case *k = t->k;
  const double *a = x[0], *b = x[t->n_ins - 1];
  for (int n = 0; n < k->n; n++)
    for (int c = 0; c < t->oc; c++)
      for (int oy = 0; oy < t->oh; oy++)
        for (int ox = 0; ox < t->ow; ox++)
          {
            double v = 0;
            switch (k->op)
              {
              case SEGCAM_OP_AVGPOOL2D:
                {
                  /* torch.nn.AvgPool2d: the window is clipped to the padded input; the divisor
                   * is that window's size with count_include_pad, else the real pixels. */
                  const segcam_pool_params *p = &k->pool;
                  int y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
                  int y1 = MIN (y0 + p->kh, k->h + p->ph), x1 = MIN (x0 + p->kw, k->w + p->pw);
                  int padded = (y1 - y0) * (x1 - x0), real = 0;
                  for (int yy = y0; yy < y1; yy++)
                    for (int xx = x0; xx < x1; xx++)
                      if (yy >= 0 && yy < k->h && xx >= 0 && xx < k->w)
                        v += nchw (a, k->c, k->h, k->w, n, c, yy, xx), real++;
                  v /= p->count_include_pad ? padded : real;
                  break;
                }
              case SEGCAM_OP_GLOBAL_AVGPOOL:
                for (int yy = 0; yy < k->h; yy++)
                  for (int xx = 0; xx < k->w; xx++)
                    v += nchw (a, k->c, k->h, k->w, n, c, yy, xx);
                v /= k->h * k->w;
                break;
              case SEGCAM_OP_MUL:
                v = nchw (a, k->c, k->h, k->w, n, c, oy, ox)
                    * (t->in_h[1] == 1 && t->in_w[1] == 1
                         ? nchw (b, k->c, 1, 1, n, c, 0, 0)
                         : nchw (b, k->c, k->h, k->w, n, c, oy, ox));
                break;
              case SEGCAM_OP_PAD:
                {
                  int sy = ref_pad_index (k->pad.mode, oy - k->pad.pt, k->h);
                  int sx = ref_pad_index (k->pad.mode, ox - k->pad.pl, k->w);
                  v = sy < 0 || sx < 0 ? k->pad.value : nchw (a, k->c, k->h, k->w, n, c, sy, sx);
                  break;
                }
              case SEGCAM_OP_CONV2D:
                {
                  int cig = k->c / k->groups, cog = k->cout / k->groups, g = c / cog;
                  v = t->bias[c];
                  for (int ci = 0; ci < cig; ci++)
                    for (int ky = 0; ky < k->kh; ky++)
                      for (int kx = 0; kx < k->kw; kx++)
                        {
                          int sy = oy * k->sh - k->pt + ky * k->dh, sx = ox * k->sw - k->pl + kx * k->dw;
                          if (sy >= 0 && sy < k->h && sx >= 0 && sx < k->w)
                            v += t->weight[(((size_t) c * cig + ci) * k->kh + ky) * k->kw + kx]
                                 * nchw (a, k->c, k->h, k->w, n, g * cig + ci, sy, sx);
                        }
                  break;
                }
              case SEGCAM_OP_UPSAMPLE:
                {
                  int y0, y1, x0, x1;
                  double ly, lx;
                  ref_align_corners (oy, k->h, t->oh, &y0, &y1, &ly);
                  ref_align_corners (ox, k->w, t->ow, &x0, &x1, &lx);
                  v = (1 - ly) * ((1 - lx) * nchw (a, k->c, k->h, k->w, n, c, y0, x0)
                                  + lx * nchw (a, k->c, k->h, k->w, n, c, y0, x1))
                      + ly * ((1 - lx) * nchw (a, k->c, k->h, k->w, n, c, y1, x0)
                              + lx * nchw (a, k->c, k->h, k->w, n, c, y1, x1));
                  break;
                }
              case SEGCAM_OP_CONV_TRANSPOSE2D:
                break; /* scattered below */
              default:
                v = ref_activation (k, nchw (a, k->c, k->h, k->w, n, c, oy, ox));
                break;
              }
            y[(((size_t) n * t->oc + c) * t->oh + oy) * t->ow + ox] = v;
          }
  if (k->op != SEGCAM_OP_CONV_TRANSPOSE2D)
    return;
  /* ConvTranspose2d: every input pixel scatters weight [ci][co/g] at y * s - p + k * d. */
  int cig = k->c / k->groups, cog = k->cout / k->groups;
  for (int n = 0; n < k->n; n++)
    {
      for (int co = 0; co < t->oc; co++)
        for (size_t q = 0; q < (size_t) t->oh * t->ow; q++)
          y[((size_t) n * t->oc + co) * t->oh * t->ow + q] = t->bias[co];
      for (int ci = 0; ci < k->c; ci++)
        for (int iy = 0; iy < k->h; iy++)
          for (int ix = 0; ix < k->w; ix++)
            for (int co = 0; co < cog; co++)
              for (int ky = 0; ky < k->kh; ky++)
                for (int kx = 0; kx < k->kw; kx++)
                  {
                    int oy = iy * k->sh - k->pt + ky * k->dh, ox = ix * k->sw - k->pl + kx * k->dw;
                    if (oy < 0 || oy >= t->oh || ox < 0 || ox >= t->ow)
                      continue;
                    int g = ci / cig, oc = g * cog + co;
                    y[(((size_t) n * t->oc + oc) * t->oh + oy) * t->ow + ox]
                      += t->weight[(((size_t) ci * cog + co) * k->kh + ky) * k->kw + kx]
                         * nchw (x[0], k->c, k->h, k->w, n, ci, iy, ix);
                  }
    }
}

/* ---- engine side -------------------------------------------------------------------------- */

static segcam_act
to_engine (const double *v, int n, int c, int h, int w)
{
  segcam_act a = {g_new (float, numel (n, c, h, w)), n, h, w, c};
  for (int b = 0; b < n; b++)
    for (int k = 0; k < c; k++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          a.data[(((size_t) b * h + y) * w + x) * c + k] = (float) nchw (v, c, h, w, b, k, y, x);
  return a;
}

static void
from_engine (const segcam_act *a, double *v)
{
  for (int b = 0; b < a->n; b++)
    for (int k = 0; k < a->c; k++)
      for (int y = 0; y < a->h; y++)
        for (int x = 0; x < a->w; x++)
          v[(((size_t) b * a->c + k) * a->h + y) * a->w + x]
            = a->data[(((size_t) b * a->h + y) * a->w + x) * a->c + k];
}

static float *
conv_scratch (segcam_pool *pool, const segcam_conv_params *p, size_t *per_thread)
{
  *per_thread = segcam_conv_scratch (p);
  return g_new (float, *per_thread * segcam_pool_threads (pool));
}

static void
engine_forward (const instance *t, segcam_pool *pool, segcam_act *ins, segcam_act *out)
{
  const v2_case *k = t->k;
  switch (k->op)
    {
    case SEGCAM_OP_AVGPOOL2D:
      segcam_avgpool_forward (pool, &k->pool, &ins[0], out);
      break;
    case SEGCAM_OP_GLOBAL_AVGPOOL:
      segcam_global_avgpool_forward (pool, &ins[0], out);
      break;
    case SEGCAM_OP_MUL:
      segcam_mul_forward (pool, &ins[0], &ins[t->n_ins - 1], out);
      break;
    case SEGCAM_OP_PAD:
      segcam_pad_forward (pool, &k->pad, &ins[0], out);
      break;
    case SEGCAM_OP_UPSAMPLE:
      segcam_upsample_forward (pool, SEGCAM_UPSAMPLE_ALIGN_CORNERS, 0, 0, &ins[0], out);
      break;
    case SEGCAM_OP_CONV2D:
    case SEGCAM_OP_CONV_TRANSPOSE2D:
      {
        size_t per;
        float *scratch = conv_scratch (pool, &t->conv, &per);
        segcam_conv_forward (pool, scratch, per, &t->conv, k->op == SEGCAM_OP_CONV_TRANSPOSE2D,
                             &ins[0], out);
        g_free (scratch);
        break;
      }
    default:
      segcam_activation_forward (pool, k->op, &k->act, &ins[0], out);
      break;
    }
}

static void
engine_backward (const instance *t, segcam_pool *pool, segcam_act *ins, const segcam_act *dout,
                 segcam_act *dins)
{
  const v2_case *k = t->k;
  switch (k->op)
    {
    case SEGCAM_OP_AVGPOOL2D:
      segcam_avgpool_backward (pool, &k->pool, dout, &dins[0]);
      break;
    case SEGCAM_OP_GLOBAL_AVGPOOL:
      segcam_global_avgpool_backward (pool, dout, &dins[0]);
      break;
    case SEGCAM_OP_MUL:
      segcam_mul_backward (pool, &ins[0], &ins[t->n_ins - 1], dout, &dins[0], &dins[t->n_ins - 1]);
      break;
    case SEGCAM_OP_PAD:
      segcam_pad_backward (pool, &k->pad, dout, &dins[0]);
      break;
    case SEGCAM_OP_UPSAMPLE:
      segcam_upsample_backward (pool, SEGCAM_UPSAMPLE_ALIGN_CORNERS, 0, 0, dout, &dins[0]);
      break;
    case SEGCAM_OP_CONV2D:
    case SEGCAM_OP_CONV_TRANSPOSE2D:
      {
        size_t per;
        float *scratch = conv_scratch (pool, &t->conv, &per);
        segcam_conv_backward (pool, scratch, per, &t->conv, k->op == SEGCAM_OP_CONV_TRANSPOSE2D,
                              dout, &dins[0]);
        g_free (scratch);
        break;
      }
    default:
      segcam_activation_backward (pool, k->op, &k->act, &ins[0], dout, &dins[0]);
      break;
    }
}

/* ---- the check ------------------------------------------------------------------------------ */

static double
rel_error (const double *got, const double *want, size_t n)
{
  double err = 0, scale = 1e-6;
  for (size_t i = 0; i < n; i++)
    {
      err = MAX (err, fabs (got[i] - want[i]));
      scale = MAX (scale, fabs (want[i]));
    }
  return err / scale;
}

static double
dot (const double *a, const double *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static void
check_case (gconstpointer data)
{
  const v2_case *k = data;
  GRand *r = g_rand_new_with_seed (g_str_hash (k->name));
  instance t;
  instance_init (&t, k, r);
  size_t n_out = numel (k->n, t.oc, t.oh, t.ow);
  double *x[2], *y = g_new (double, n_out), *dout = g_new (double, n_out);
  size_t n_in[2];
  segcam_act ins[2], dins[2];
  double *din_before[2];
  for (int i = 0; i < t.n_ins; i++)
    {
      n_in[i] = numel (k->n, t.in_c[i], t.in_h[i], t.in_w[i]);
      x[i] = g_new (double, n_in[i]);
      din_before[i] = g_new (double, n_in[i]);
      for (size_t q = 0; q < n_in[i]; q++)
        {
          x[i][q] = (float) random_value (r, k);
          din_before[i][q] = (float) g_rand_double_range (r, -1, 1);
        }
      ins[i] = to_engine (x[i], k->n, t.in_c[i], t.in_h[i], t.in_w[i]);
      dins[i] = to_engine (din_before[i], k->n, t.in_c[i], t.in_h[i], t.in_w[i]);
    }
  for (size_t q = 0; q < n_out; q++)
    dout[q] = (float) g_rand_double_range (r, -1, 1);

  segcam_pool *pool = segcam_pool_new (2);
  segcam_act out = {g_new (float, n_out), k->n, t.oh, t.ow, t.oc};
  engine_forward (&t, pool, ins, &out);
  double *got = g_new (double, n_out);
  from_engine (&out, got);
  naive_forward (&t, x, y);
  double fwd_err = rel_error (got, y, n_out);

  segcam_act dout_act = to_engine (dout, k->n, t.oc, t.oh, t.ow);
  engine_backward (&t, pool, ins, &dout_act, dins);
  double bwd_err = 0;
  for (int i = 0; i < t.n_ins; i++)
    {
      double *after = g_new (double, n_in[i]), *fd = g_new (double, n_in[i]);
      from_engine (&dins[i], after);
      for (size_t q = 0; q < n_in[i]; q++)
        {
          double keep = x[i][q];
          x[i][q] = keep + FD_STEP;
          naive_forward (&t, x, y);
          double plus = dot (dout, y, n_out);
          x[i][q] = keep - FD_STEP;
          naive_forward (&t, x, y);
          double minus = dot (dout, y, n_out);
          x[i][q] = keep;
          fd[q] = (plus - minus) / (2 * FD_STEP);
          after[q] -= din_before[i][q];
        }
      bwd_err = MAX (bwd_err, rel_error (after, fd, n_in[i]));
      g_free (after);
      g_free (fd);
    }
  g_test_message ("%-36s forward %.2e  backward %.2e", k->name, fwd_err, bwd_err);
  g_assert_cmpfloat (fwd_err, <, TOL);
  g_assert_cmpfloat (bwd_err, <, TOL);

  segcam_pool_free (pool);
  for (int i = 0; i < t.n_ins; i++)
    {
      g_free (x[i]);
      g_free (din_before[i]);
      g_free (ins[i].data);
      g_free (dins[i].data);
    }
  g_free (dout_act.data);
  g_free (out.data);
  g_free (got);
  g_free (y);
  g_free (dout);
  instance_clear (&t);
  g_rand_free (r);
}

/* PyTorch's gradients exactly at the kinks, which finite differences cannot see. */
static void
test_kinks (void)
{
  static const struct {
    segcam_op op;
    segcam_activation_params p;
    float x, slope;
  } kinks[] = {
    {SEGCAM_OP_HARDSWISH, {0}, -3.0f, -0.5f},   /* the middle piece holds on [-3, 3] */
    {SEGCAM_OP_HARDSWISH, {0}, 3.0f, 1.5f},
    {SEGCAM_OP_HARDSIGMOID, {0}, -3.0f, 0.0f},  /* and the open interval for hardsigmoid */
    {SEGCAM_OP_HARDSIGMOID, {0}, 3.0f, 0.0f},
    {SEGCAM_OP_LEAKY_RELU, {.alpha = 0.1f}, 0.0f, 0.1f},
    {SEGCAM_OP_CLIP, {.min = 0, .max = 6}, 0.0f, 0.0f}, /* hardtanh, as ReLU6 */
    {SEGCAM_OP_CLIP, {.min = 0, .max = 6}, 6.0f, 0.0f},
  };
  segcam_pool *pool = segcam_pool_new (1);
  for (size_t i = 0; i < G_N_ELEMENTS (kinks); i++)
    {
      float x = kinks[i].x, g = 1, d = 0;
      segcam_act in = {&x, 1, 1, 1, 1}, dout = {&g, 1, 1, 1, 1}, din = {&d, 1, 1, 1, 1};
      segcam_activation_backward (pool, kinks[i].op, &kinks[i].p, &in, &dout, &din);
      g_assert_cmpfloat (fabsf (d - kinks[i].slope), <, 1e-6);
    }
  segcam_pool_free (pool);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *path = g_strdup_printf ("/ops-v2/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], check_case);
      g_free (path);
    }
  g_test_add_func ("/ops-v2/kinks", test_kinks);
  return g_test_run ();
}
