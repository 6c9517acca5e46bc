/* test-train.c — the engine's training pieces against double-precision references.
 *
 *  - segcam_conv_weight_grad (conv2d and conv_transpose2d): the weight and bias gradients of the
 *    scalar <dout, conv (x)> by central finite differences of a naive double loop, written from
 *    PyTorch's definitions, by the gather GEMM and (3x3 stride 1) by Winograd's tiles; results must
 *    ACCUMULATE into pre-filled buffers and be the same bytes with 1 and 3 threads.
 *  - segcam_batchnorm_train_forward/backward: the output and saved statistics against the batch
 *    statistics formula, the running statistics against PyTorch's update (biased variance to
 *    normalise, unbiased for running_var), and dx, dgamma, dbeta against finite differences of
 *    <dout, bn (x)> with the batch mean and variance recomputed from the perturbed x.
 *  - segcam_unet_build: nodes, names, ops and shapes for depth 2 and 3, bilinear and transposed,
 *    with and without batch norm; the parameter count against a formula; initialisation.
 *  - checkpoints: 2 steps, save, load, resume, 1 step is bit-identical to 3 steps in one go.
 *
 * Errors are max |got - want| / max |want| over a case (run with --verbose to see them).
 */
#include "session.h"
#include "segcam-train.h"
#include "winograd.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define TOL 1e-4        /* float32 kernels against double references */

static double
rand_range (GRand *r, double lo, double hi)
{
  return g_rand_double_range (r, lo, hi);
}

/* n random floats in [lo, hi), and their double copy when want is non-NULL. */
static float *
random_floats (GRand *r, size_t n, double lo, double hi, double **want)
{
  float *v = g_new (float, n);
  if (want)
    *want = g_new (double, n);
  for (size_t i = 0; i < n; i++)
    {
      v[i] = (float) rand_range (r, lo, hi);
      if (want)
        (*want)[i] = v[i];
    }
  return v;
}

/* max |got - want| / max |want|. */
static double
rel_error (const float *got, const double *want, size_t n)
{
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++)
    {
      diff = MAX (diff, fabs ((double) got[i] - want[i]));
      scale = MAX (scale, fabs (want[i]));
    }
  return scale > 0 ? diff / scale : diff;
}

static void
expect_close (const char *what, const float *got, const double *want, size_t n)
{
  double e = rel_error (got, want, n);
  g_test_message ("%-40s rel. error %.2e", what, e);
  if (!(e <= TOL))
    g_error ("%s: relative error %.3e > %.0e", what, e, TOL);
}

/* ---- (a) conv weight gradients ---------------------------------------------------------------- */

typedef struct {
  const char *name;
  gboolean transposed;
  int n, cin, h, w, cout;
  int kh, kw, sh, sw, dh, dw;
  int pt, pl, pb, pr;     /* conv2d; conv_transpose2d uses pt and pl as its symmetric padding */
  int oph, opw;           /* conv_transpose2d output_padding */
  gboolean bias;
} conv_case;

static const conv_case conv_cases[] = {
  {"3x3 s1 p1", FALSE, 2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, TRUE},
  {"3x2 s2 d2x1 pad 1,0,2,1", FALSE, 2, 2, 9, 8, 3, 3, 2, 2, 2, 2, 1, 1, 0, 2, 1, 0, 0, FALSE},
  {"1x1 (identity gather)", FALSE, 2, 5, 6, 5, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, TRUE},
  {"5x3 s2x1 d1x2 p2", FALSE, 2, 3, 11, 10, 2, 5, 3, 2, 1, 1, 2, 2, 2, 2, 2, 0, 0, TRUE},
  /* k = 288: several row blocks per image, and weight-gradient chunks that span images */
  {"3x3 p1, 32 channels, batch 3", FALSE, 3, 32, 30, 32, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, TRUE},
  {"T 2x2 s2", TRUE, 2, 4, 5, 4, 3, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, TRUE},
  {"T 3x3 s2 p1 op1", TRUE, 2, 3, 5, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, TRUE},
  {"T 3x3 s1 p1 d2", TRUE, 2, 2, 6, 7, 3, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0, FALSE},
  {"T 4x3 s3x2 p2x1 op1x0", TRUE, 2, 3, 4, 5, 2, 4, 3, 3, 2, 1, 1, 2, 1, 2, 1, 1, 0, TRUE},
};

/* Output size along one axis, PyTorch's formulas (nn.Conv2d, nn.ConvTranspose2d). */
static int
conv_out (const conv_case *k, int in, int kernel, int s, int d, int lo, int hi, int op)
{
  if (k->transposed)
    return (in - 1) * s - 2 * lo + d * (kernel - 1) + op + 1;
  return (in + lo + hi - d * (kernel - 1) - 1) / s + 1;
}

/* Index of PyTorch's weight layout: conv2d [cout][cin][kh][kw], conv_transpose2d
 * [cin][cout][kh][kw]. */
static size_t
torch_weight (const conv_case *k, int co, int ci, int ky, int kx)
{
  return k->transposed ? (((size_t) ci * k->cout + co) * k->kh + ky) * k->kw + kx
                       : (((size_t) co * k->cin + ci) * k->kh + ky) * k->kw + kx;
}

/* The part of <dout, conv (x)> that output channel co contributes, in double; activations are
 * NHWC as in the engine. Every weight of output channel co and its bias act only here, so finite
 * differences need only this sum. */
static double
conv_channel_dot (const conv_case *k, const double *w, const double *b, const double *x,
                  const double *dout, int oh, int ow, int co)
{
  double sum = 0;
  for (int n = 0; n < k->n; n++)
    {
      const double *xi = x + (size_t) n * k->h * k->w * k->cin;
      const double *gi = dout + (size_t) n * oh * ow * k->cout;
      if (b)
        for (size_t p = 0; p < (size_t) oh * ow; p++)
          sum += gi[p * k->cout + co] * b[co];
      /* Both ops pair input pixel (iy, ix) and output pixel (oy, ox) through tap (ky, kx):
       * conv2d reads iy = oy * s - pad + ky * d, conv_transpose2d scatters to oy = iy * s - pad
       * + ky * d. */
      int ah = k->transposed ? k->h : oh, aw = k->transposed ? k->w : ow;
      for (int ay = 0; ay < ah; ay++)
        for (int ax = 0; ax < aw; ax++)
          for (int ky = 0; ky < k->kh; ky++)
            for (int kx = 0; kx < k->kw; kx++)
              {
                int by = ay * k->sh - k->pt + ky * k->dh, bx = ax * k->sw - k->pl + kx * k->dw;
                int bh = k->transposed ? oh : k->h, bw = k->transposed ? ow : k->w;
                if (by < 0 || by >= bh || bx < 0 || bx >= bw)
                  continue;
                int iy = k->transposed ? ay : by, ix = k->transposed ? ax : bx;
                int oy = k->transposed ? by : ay, ox = k->transposed ? bx : ax;
                double g = gi[((size_t) oy * ow + ox) * k->cout + co];
                const double *v = xi + ((size_t) iy * k->w + ix) * k->cin;
                for (int ci = 0; ci < k->cin; ci++)
                  sum += g * w[torch_weight (k, co, ci, ky, kx)] * v[ci];
              }
    }
  return sum;
}

/* Central difference of conv_channel_dot in one parameter. The sum is linear in it, so the
 * difference is exact up to rounding whatever the step. */
static double
fd_param (const conv_case *k, double *param, double *w, double *b, const double *x,
          const double *dout, int oh, int ow, int co)
{
  const double h = 0.5;
  double keep = *param;
  *param = keep + h;
  double up = conv_channel_dot (k, w, b, x, dout, oh, ow, co);
  *param = keep - h;
  double down = conv_channel_dot (k, w, b, x, dout, oh, ow, co);
  *param = keep;
  return (up - down) / (2 * h);
}

/* Runs the engine's weight gradient (with winograd, by Winograd's tiles) with n_threads into
 * copies of dw0 and db0. */
static void
engine_weight_grad (const conv_case *k, const segcam_conv_params *p, gboolean winograd,
                    const segcam_act *in, const segcam_act *dout, int n_threads, const float *dw0,
                    const float *db0, float *dw, float *db)
{
  size_t nw = (size_t) k->kh * k->kw * k->cin * k->cout;
  memcpy (dw, dw0, nw * sizeof (float));
  if (db)
    memcpy (db, db0, k->cout * sizeof (float));
  segcam_pool *pool = segcam_pool_new (n_threads);
  size_t per_thread = MAX (segcam_conv_scratch (p),
                           winograd ? segcam_winograd_scratch (p->cin, p->cout) : 0);
  float *scratch = g_new (float, per_thread * segcam_pool_threads (pool));
  float *partial = g_new (float, segcam_conv_work_floats (p, in, winograd));
  segcam_conv_weight_grad (pool, scratch, per_thread, p, k->transposed, winograd, in, dout,
                           partial, dw, db);
  g_free (partial);
  g_free (scratch);
  segcam_pool_free (pool);
}

static void
test_conv_weight_grad (gconstpointer data)
{
  const conv_case *k = data;
  GRand *r = g_rand_new_with_seed (7);
  int oh = conv_out (k, k->h, k->kh, k->sh, k->dh, k->pt, k->pb, k->oph);
  int ow = conv_out (k, k->w, k->kw, k->sw, k->dw, k->pl, k->pr, k->opw);
  size_t nx = (size_t) k->n * k->h * k->w * k->cin, ny = (size_t) k->n * oh * ow * k->cout;
  size_t nw = (size_t) k->kh * k->kw * k->cin * k->cout;
  double *x, *dy, *w, *b = NULL;
  float *xf = random_floats (r, nx, -1, 1, &x), *dyf = random_floats (r, ny, -1, 1, &dy);
  g_free (random_floats (r, nw, -0.5, 0.5, &w));
  if (k->bias)
    g_free (random_floats (r, k->cout, -0.5, 0.5, &b));

  /* The reference gradients, in PyTorch's weight layout. */
  double *want_w = g_new (double, nw), *want_b = g_new0 (double, k->cout);
  for (int co = 0; co < k->cout; co++)
    {
      for (int ci = 0; ci < k->cin; ci++)
        for (int ky = 0; ky < k->kh; ky++)
          for (int kx = 0; kx < k->kw; kx++)
            {
              size_t i = torch_weight (k, co, ci, ky, kx);
              want_w[i] = fd_param (k, &w[i], w, b, x, dy, oh, ow, co);
            }
      if (b)
        want_b[co] = fd_param (k, &b[co], w, b, x, dy, oh, ow, co);
    }

  /* The weights' values do not enter the weight gradient: the params carry no weights. */
  segcam_conv_params p = {
    .kh = k->kh, .kw = k->kw, .sh = k->sh, .sw = k->sw,
    .pt = k->pt, .pl = k->pl, .pb = k->transposed ? k->pt : k->pb, .pr = k->transposed ? k->pl : k->pr,
    .oph = k->oph, .opw = k->opw, .dh = k->dh, .dw = k->dw, .cin = k->cin, .cout = k->cout, .groups = 1,
    .transposed = k->transposed,
  };
  segcam_act in = {xf, k->n, k->h, k->w, k->cin}, dout = {dyf, k->n, oh, ow, k->cout};
  float *dw0 = random_floats (r, nw, -1, 1, NULL), *db0 = random_floats (r, k->cout, -1, 1, NULL);
  float *dw = g_new (float, nw), *db = g_new (float, k->cout);
  float *dw3 = g_new (float, nw), *db3 = g_new (float, k->cout);
  /* The gather GEMM's, and where the conv has Winograd's geometry the Winograd one's (whether
   * it would pay on the map does not matter here). */
  float *added = g_new (float, nw);
  for (int winograd = 0; winograd <= segcam_winograd_applies (&p); winograd++)
    {
      engine_weight_grad (k, &p, winograd, &in, &dout, 1, dw0, db0, dw, k->bias ? db : NULL);
      engine_weight_grad (k, &p, winograd, &in, &dout, 3, dw0, db0, dw3, k->bias ? db3 : NULL);

      /* What the engine added, unpacked from [kh][kw][cin][cout] (ops.h). */
      for (int ky = 0; ky < k->kh; ky++)
        for (int kx = 0; kx < k->kw; kx++)
          for (int ci = 0; ci < k->cin; ci++)
            for (int co = 0; co < k->cout; co++)
              {
                size_t packed = (((size_t) ky * k->kw + kx) * k->cin + ci) * k->cout + co;
                added[torch_weight (k, co, ci, ky, kx)] = dw[packed] - dw0[packed];
              }
      char *what = g_strdup_printf ("%s %s%s: dW", k->transposed ? "conv_transpose2d" : "conv2d",
                                    k->name, winograd ? ", Winograd" : "");
      expect_close (what, added, want_w, nw);
      g_free (what);
      if (k->bias)
        {
          for (int co = 0; co < k->cout; co++)
            added[co] = db[co] - db0[co];
          expect_close ("  db", added, want_b, k->cout);
        }
      g_assert_true (memcmp (dw, dw3, nw * sizeof (float)) == 0);  /* 1 and 3 threads: same bytes */
      g_assert_true (!k->bias || memcmp (db, db3, k->cout * sizeof (float)) == 0);
    }

  g_free (added);
  g_free (dw), g_free (db), g_free (dw3), g_free (db3), g_free (dw0), g_free (db0);
  g_free (want_w), g_free (want_b);
  g_free (x), g_free (xf), g_free (dy), g_free (dyf), g_free (w), g_free (b);
  g_rand_free (r);
}

/* ---- (b) batch norm in train mode ------------------------------------------------------------- */

typedef struct {
  const char *name;
  int n, h, w, c;
  double momentum;
} bn_case;

static const bn_case bn_cases[] = {
  {"2x5x3x4", 2, 5, 3, 4, 0.1},
  {"1x1x3x3 (three pixels: unbiased var x 3/2)", 1, 1, 3, 3, 0.1},
  /* More pixels than one task's block: the per-pixel work is split. */
  {"2x47x45x3, momentum 0.3", 2, 47, 45, 3, 0.3},
};

/* Batch statistics of channel k (biased variance), in double. */
static void
bn_stats (const bn_case *k, const double *x, int ch, double *mean, double *var)
{
  size_t m = (size_t) k->n * k->h * k->w;
  double s = 0, q = 0;
  for (size_t p = 0; p < m; p++)
    s += x[p * k->c + ch];
  s /= (double) m;
  for (size_t p = 0; p < m; p++)
    q += (x[p * k->c + ch] - s) * (x[p * k->c + ch] - s);
  *mean = s;
  *var = q / (double) m;
}

/* <dout[:, ch], bn (x)[:, ch]> with the batch statistics of x: the part of the objective that
 * channel ch's inputs, gamma and beta act on. */
static double
bn_channel_dot (const bn_case *k, const double *x, const double *dout, double gamma, double beta,
                double eps, int ch)
{
  size_t m = (size_t) k->n * k->h * k->w;
  double mean, var, sum = 0;
  bn_stats (k, x, ch, &mean, &var);
  double rstd = 1 / sqrt (var + eps);
  for (size_t p = 0; p < m; p++)
    sum += dout[p * k->c + ch] * ((x[p * k->c + ch] - mean) * rstd * gamma + beta);
  return sum;
}

static double
fd_bn (const bn_case *k, double *param, double *x, const double *dout, double *gamma,
       double *beta, double eps, int ch)
{
  const double h = 1e-4;
  double keep = *param;
  *param = keep + h;
  double up = bn_channel_dot (k, x, dout, gamma[ch], beta[ch], eps, ch);
  *param = keep - h;
  double down = bn_channel_dot (k, x, dout, gamma[ch], beta[ch], eps, ch);
  *param = keep;
  return (up - down) / (2 * h);
}

typedef struct {
  float *out, *mean, *rstd, *run_mean, *run_var, *dx, *dgamma, *dbeta;
} bn_result;

/* Forward and backward through the engine with n_threads; din NULL when !with_dx. */
static bn_result
engine_bn (const bn_case *k, int n_threads, const float *x, const float *dout, float *gamma,
           float *beta, const float *run_mean, const float *run_var, const float *dx0,
           const float *dg0, const float *db0, gboolean with_dx)
{
  size_t size = (size_t) k->n * k->h * k->w * k->c, cb = k->c * sizeof (float);
  bn_result r = {g_new (float, size), g_new (float, k->c), g_new (float, k->c),
                 g_memdup2 (run_mean, cb), g_memdup2 (run_var, cb),
                 with_dx ? g_memdup2 (dx0, size * sizeof (float)) : NULL,
                 g_memdup2 (dg0, cb), g_memdup2 (db0, cb)};
  segcam_batchnorm_params p = {.channels = k->c, .eps = 1e-5, .gamma = gamma, .beta = beta,
                               .mean = r.run_mean, .var = r.run_var};
  segcam_act in = {(float *) x, k->n, k->h, k->w, k->c}, out = {r.out, k->n, k->h, k->w, k->c};
  segcam_act dy = {(float *) dout, k->n, k->h, k->w, k->c}, dx = {r.dx, k->n, k->h, k->w, k->c};
  segcam_pool *pool = segcam_pool_new (n_threads);
  segcam_batchnorm_train_forward (pool, &p, k->momentum, &in, &out, r.mean, r.rstd);
  segcam_batchnorm_train_backward (pool, &p, &in, r.mean, r.rstd, &dy, with_dx ? &dx : NULL,
                                   r.dgamma, r.dbeta);
  segcam_pool_free (pool);
  return r;
}

static void
bn_result_free (bn_result *r)
{
  g_free (r->out), g_free (r->mean), g_free (r->rstd), g_free (r->run_mean);
  g_free (r->run_var), g_free (r->dx), g_free (r->dgamma), g_free (r->dbeta);
}

static void
test_batchnorm_train (gconstpointer data)
{
  const bn_case *k = data;
  const double eps = 1e-5;
  GRand *r = g_rand_new_with_seed (11);
  size_t m = (size_t) k->n * k->h * k->w, size = m * k->c;
  double *x = g_new (double, size), *dy;
  float *xf = g_new (float, size), *dyf = random_floats (r, size, -1, 1, &dy);
  /* Channels with different means and spreads, far from zero mean: the statistics matter. */
  for (size_t p = 0; p < m; p++)
    for (int c = 0; c < k->c; c++)
      xf[p * k->c + c] = (float) (3.0 * (c + 1) + (0.5 + c) * rand_range (r, -1, 1));
  for (size_t i = 0; i < size; i++)
    x[i] = xf[i];
  double *gamma, *beta;
  float *gf = random_floats (r, k->c, 0.5, 1.5, &gamma), *bf = random_floats (r, k->c, -0.5, 0.5, &beta);
  float *rm = random_floats (r, k->c, -1, 1, NULL), *rv = random_floats (r, k->c, 0.5, 2, NULL);
  float *dx0 = random_floats (r, size, -1, 1, NULL);
  float *dg0 = random_floats (r, k->c, -1, 1, NULL), *db0 = random_floats (r, k->c, -1, 1, NULL);

  bn_result e = engine_bn (k, 1, xf, dyf, gf, bf, rm, rv, dx0, dg0, db0, TRUE);

  /* Forward, saved statistics and running statistics against the formulas. */
  double *want = g_new (double, size), *want_c = g_new (double, 4 * k->c);
  double *w_mean = want_c, *w_rstd = want_c + k->c, *w_rm = want_c + 2 * k->c, *w_rv = want_c + 3 * k->c;
  for (int c = 0; c < k->c; c++)
    {
      double mean, var;
      bn_stats (k, x, c, &mean, &var);
      w_mean[c] = mean;
      w_rstd[c] = 1 / sqrt (var + eps);
      w_rm[c] = (1 - k->momentum) * rm[c] + k->momentum * mean;
      w_rv[c] = (1 - k->momentum) * rv[c] + k->momentum * var * (double) m / (double) (m - 1);
      for (size_t p = 0; p < m; p++)
        want[p * k->c + c] = (x[p * k->c + c] - mean) * w_rstd[c] * gamma[c] + beta[c];
    }
  g_test_message ("batch norm %s", k->name);
  expect_close ("  forward", e.out, want, size);
  expect_close ("  batch mean", e.mean, w_mean, k->c);
  expect_close ("  batch 1/sqrt(var + eps)", e.rstd, w_rstd, k->c);
  expect_close ("  running mean", e.run_mean, w_rm, k->c);
  expect_close ("  running var (unbiased)", e.run_var, w_rv, k->c);

  /* Backward against finite differences; the engine's results are what it added. */
  for (size_t i = 0; i < size; i++)
    want[i] = fd_bn (k, &x[i], x, dy, gamma, beta, eps, (int) (i % k->c));
  float *added = g_new (float, size);
  for (size_t i = 0; i < size; i++)
    added[i] = e.dx[i] - dx0[i];
  expect_close ("  dx", added, want, size);
  for (int c = 0; c < k->c; c++)
    {
      want_c[c] = fd_bn (k, &gamma[c], x, dy, gamma, beta, eps, c);
      want_c[k->c + c] = fd_bn (k, &beta[c], x, dy, gamma, beta, eps, c);
      added[c] = e.dgamma[c] - dg0[c];
      added[k->c + c] = e.dbeta[c] - db0[c];
    }
  expect_close ("  dgamma", added, want_c, k->c);
  expect_close ("  dbeta", added + k->c, want_c + k->c, k->c);

  /* Without an input gradient, and with 3 threads: the same bytes. */
  bn_result e3 = engine_bn (k, 3, xf, dyf, gf, bf, rm, rv, dx0, dg0, db0, TRUE);
  bn_result nodx = engine_bn (k, 3, xf, dyf, gf, bf, rm, rv, dx0, dg0, db0, FALSE);
  size_t cb = k->c * sizeof (float);
  g_assert_true (memcmp (e.out, e3.out, size * sizeof (float)) == 0);
  g_assert_true (memcmp (e.dx, e3.dx, size * sizeof (float)) == 0);
  g_assert_true (memcmp (e.run_mean, e3.run_mean, cb) == 0 && memcmp (e.run_var, e3.run_var, cb) == 0);
  g_assert_true (memcmp (e.dgamma, nodx.dgamma, cb) == 0 && memcmp (e.dbeta, nodx.dbeta, cb) == 0);

  bn_result_free (&e), bn_result_free (&e3), bn_result_free (&nodx);
  g_free (added), g_free (want), g_free (want_c);
  g_free (x), g_free (xf), g_free (dy), g_free (dyf), g_free (gamma), g_free (gf);
  g_free (beta), g_free (bf), g_free (rm), g_free (rv), g_free (dx0), g_free (dg0), g_free (db0);
  g_rand_free (r);
}

/* ---- (c) the U-Net builder -------------------------------------------------------------------- */

static const char *const class_names[] = {"background", "digit", "other"};

static segcam_unet_spec
small_spec (int depth, gboolean batchnorm, gboolean transposed)
{
  return (segcam_unet_spec) {.in_channels = 1, .n_classes = 3, .class_names = class_names,
                             .depth = depth, .filters = 4, .batchnorm = batchnorm,
                             .transposed = transposed, .mean = 0.5f, .std = 0.25f, .seed = 42};
}

/* Parameters of a conv, and of a batch norm as the model counts them (gamma, beta and both
 * running statistics). */
static int64_t
conv_params (int64_t cin, int64_t cout, int k, gboolean bias)
{
  return cin * cout * k * k + (bias ? cout : 0);
}

/* The parameter count of the architecture segcam-train.h describes, level by level. */
static int64_t
unet_parameter_formula (const segcam_unet_spec *s)
{
  int64_t total = 0, cin = s->in_channels, f = s->filters;
  gboolean bn = s->batchnorm;
  /* A block: two 3x3 convs to c channels, each with a bias or a batch norm. */
#define BLOCK(in, c) (conv_params (in, c, 3, !bn) + conv_params (c, c, 3, !bn) + (bn ? 8 * (c) : 0))
  for (int l = 0; l < s->depth; l++)
    total += BLOCK (l ? f << (l - 1) : cin, f << l);
  total += BLOCK (f << (s->depth - 1), f << s->depth);
  for (int l = s->depth - 1; l >= 0; l--)
    {
      int64_t below = f << (l + 1), skip = f << l;
      int64_t up = s->transposed ? below / 2 : below;
      if (s->transposed)  /* 2x2 stride-2 transposed conv with bias, halving the channels */
        total += conv_params (below, up, 2, TRUE);
      total += BLOCK (up + skip, f << l);
    }
#undef BLOCK
  return total + conv_params (f, s->n_classes, 1, TRUE);
}

static void
expect_node (const segcam_model *m, const int *shapes, const char *name, const char *op, int c,
             int h, int w)
{
  int i = segcam_model_find_node (m, name);
  if (i < 0)
    g_error ("U-Net: no node '%s'", name);
  g_assert_cmpstr (segcam_model_node_op (m, i), ==, op);
  if (shapes[3 * i] != c || shapes[3 * i + 1] != h || shapes[3 * i + 2] != w)
    g_error ("U-Net node %s: %dx%dx%d, expected %dx%dx%d", name, shapes[3 * i], shapes[3 * i + 1],
             shapes[3 * i + 2], c, h, w);
}

static void
check_unet (int depth, gboolean batchnorm, gboolean transposed)
{
  segcam_unet_spec spec = small_spec (depth, batchnorm, transposed);
  GError *error = NULL;
  segcam_model *m = segcam_unet_build (&spec, &error);
  g_assert_no_error (error);
  const int size = 32, f = spec.filters;
  int per_block = batchnorm ? 6 : 4;   /* (conv [+ bn] + relu) x 2 */
  /* input; per level a block and a pool; the bottleneck; per level an upsample, a concat and a
   * block; the head */
  int want_nodes = 1 + depth * (per_block + 1) + per_block + depth * (2 + per_block) + 1;
  g_test_message ("U-Net depth %d%s%s: %d nodes, %" G_GINT64_FORMAT " parameters", depth,
                  batchnorm ? ", batch norm" : "", transposed ? ", transposed" : "",
                  segcam_model_n_nodes (m), segcam_model_n_parameters (m));
  g_assert_cmpint (segcam_model_n_nodes (m), ==, want_nodes);
  g_assert_cmpint (segcam_model_n_parameters (m), ==, unet_parameter_formula (&spec));
  g_assert_cmpint (segcam_model_size_multiple (m), ==, 1 << depth);
  g_assert_cmpint (segcam_model_input_channels (m), ==, 1);
  g_assert_cmpint (segcam_model_n_classes (m), ==, 3);
  g_assert_cmpstr (segcam_model_class_name (m, 1), ==, "digit");
  g_assert_false (segcam_model_output_is_sigmoid (m));
  g_assert_cmpstr (segcam_model_node_name (m, segcam_model_output_node (m)), ==, "head");
  g_assert_cmpstr (segcam_model_node_name (m, segcam_model_default_layer (m)), ==, "bottleneck.relu2");

  int *shapes = g_new (int, 3 * segcam_model_n_nodes (m));
  g_assert_true (segcam_model_infer_shapes (m, size, size, shapes, &error));
  expect_node (m, shapes, "input", "input", 1, size, size);
  for (int l = 1; l <= depth; l++)
    {
      int c = f << (l - 1), s = size >> (l - 1);
      for (int i = 1; i <= 2; i++)
        {
          char *conv = g_strdup_printf ("down%d.conv%d", l, i), *bn = g_strdup_printf ("down%d.bn%d", l, i);
          char *relu = g_strdup_printf ("down%d.relu%d", l, i);
          expect_node (m, shapes, conv, "conv2d", c, s, s);
          if (batchnorm)
            expect_node (m, shapes, bn, "batchnorm", c, s, s);
          else
            g_assert_cmpint (segcam_model_find_node (m, bn), ==, -1);
          expect_node (m, shapes, relu, "relu", c, s, s);
          g_free (conv), g_free (bn), g_free (relu);
        }
      char *pool = g_strdup_printf ("pool%d", l), *up = g_strdup_printf ("up%d.upsample", l);
      char *cat = g_strdup_printf ("up%d.concat", l), *out = g_strdup_printf ("up%d.relu2", l);
      expect_node (m, shapes, pool, "maxpool2d", c, s / 2, s / 2);
      /* what the upsampling receives: the bottleneck or the level below's output, 2c channels */
      int up_c = transposed ? c : 2 * c;
      expect_node (m, shapes, up, transposed ? "conv_transpose2d" : "upsample", up_c, s, s);
      expect_node (m, shapes, cat, "concat", up_c + c, s, s);
      expect_node (m, shapes, out, "relu", c, s, s);
      g_free (pool), g_free (up), g_free (cat), g_free (out);
    }
  expect_node (m, shapes, "bottleneck.relu2", "relu", f << depth, size >> depth, size >> depth);
  expect_node (m, shapes, "head", "conv2d", 3, size, size);
  g_free (shapes);
  segcam_model_free (m);
}

static void
test_unet_structure (void)
{
  for (int depth = 2; depth <= 3; depth++)
    for (int transposed = 0; transposed < 2; transposed++)
      for (int batchnorm = 1; batchnorm >= 0; batchnorm--)
        check_unet (depth, batchnorm, transposed);
}

/* He initialisation (std sqrt(2 / fan_in)), zero biases, batch norms gamma 1 and beta 0, running
 * statistics 0 and 1; the same seed gives the same weights, another seed others. */
static void
test_unet_init (void)
{
  segcam_unet_spec spec = small_spec (2, TRUE, TRUE);
  spec.filters = 16;
  segcam_model *a = segcam_unet_build (&spec, NULL), *b = segcam_unet_build (&spec, NULL);
  spec.seed++;
  segcam_model *c = segcam_unet_build (&spec, NULL);
  g_assert_true (a && b && c);
  for (int i = 0; i < a->n_nodes; i++)
    {
      const segcam_node *n = &a->nodes[i];
      if (n->op == SEGCAM_OP_CONV2D || n->op == SEGCAM_OP_CONV_TRANSPOSE2D)
        {
          const segcam_conv_params *p = &n->p.conv;
          size_t count = (size_t) p->kh * p->kw * p->cin * p->cout;
          /* PyTorch's fan-in: weight dims 1.. of its layout, i.e. cout for transposed convs */
          int fan_in = (n->op == SEGCAM_OP_CONV2D ? p->cin : p->cout) * p->kh * p->kw;
          double sq = 0;
          for (size_t k = 0; k < count; k++)
            sq += (double) p->w_fwd[k] * p->w_fwd[k];
          double ratio = sqrt (sq / count) / sqrt (2.0 / fan_in);
          g_test_message ("%-20s %6zu weights, std / He std %.3f", n->name, count, ratio);
          /* a sample std of count normals is within 4 / sqrt (2 count) of the truth */
          g_assert_cmpfloat (fabs (ratio - 1), <, 4 / sqrt (2.0 * count));
          for (int k = 0; p->bias && k < p->cout; k++)
            g_assert_cmpfloat (p->bias[k], ==, 0);
          g_assert_true (memcmp (p->w_fwd, b->nodes[i].p.conv.w_fwd, count * sizeof (float)) == 0);
          g_assert_false (memcmp (p->w_fwd, c->nodes[i].p.conv.w_fwd, count * sizeof (float)) == 0);
        }
      else if (n->op == SEGCAM_OP_BATCHNORM)
        for (int k = 0; k < n->channels; k++)
          g_assert_true (n->p.bn.gamma[k] == 1 && n->p.bn.beta[k] == 0 && n->p.bn.mean[k] == 0
                         && n->p.bn.var[k] == 1);
    }
  segcam_model_free (a), segcam_model_free (b), segcam_model_free (c);
}

static void
test_unet_bad_spec (void)
{
  segcam_unet_spec bad[4];
  for (int i = 0; i < 4; i++)
    bad[i] = small_spec (2, TRUE, FALSE);
  bad[0].depth = 0, bad[1].filters = 0, bad[2].n_classes = 1, bad[3].in_channels = 2;
  for (int i = 0; i < 4; i++)
    {
      GError *error = NULL;
      g_assert_null (segcam_unet_build (&bad[i], &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
      g_error_free (error);
    }
}

/* ---- (d) checkpoints -------------------------------------------------------------------------- */

enum { CK_BATCH = 2, CK_SIZE = 16 };

static segcam_trainer *
new_trainer (segcam_model *m)
{
  segcam_trainer_options o = {.batch = CK_BATCH, .width = CK_SIZE, .height = CK_SIZE, .n_threads = 2};
  GError *error = NULL;
  segcam_trainer *t = segcam_trainer_new (m, &o, &error);
  g_assert_no_error (error);
  return t;
}

/* Steps on batch k of a fixed sequence: every run sees the same data at the same step. */
static double
train_steps (segcam_trainer *t, int first, int count)
{
  size_t pixels = (size_t) CK_BATCH * CK_SIZE * CK_SIZE;
  float *images = g_new (float, pixels);
  uint8_t *labels = g_new (uint8_t, pixels);
  segcam_step_result r = {0};
  for (int k = first; k < first + count; k++)
    {
      GRand *rng = g_rand_new_with_seed (100 + k);
      for (size_t i = 0; i < pixels; i++)
        {
          images[i] = (float) g_rand_double (rng);
          labels[i] = (uint8_t) (images[i] > 0.7f ? 1 : g_rand_int_range (rng, 0, 3) == 0 ? 2 : 0);
        }
      g_rand_free (rng);
      GError *error = NULL;
      g_assert_true (segcam_trainer_step (t, images, labels, 1e-2, &r, &error));
      g_assert_no_error (error);
    }
  g_free (images);
  g_free (labels);
  return r.loss;
}

static gboolean
same_file (const char *a, const char *b)
{
  char *x, *y;
  gsize nx, ny;
  g_assert_true (g_file_get_contents (a, &x, &nx, NULL) && g_file_get_contents (b, &y, &ny, NULL));
  gboolean same = nx == ny && memcmp (x, y, nx) == 0;
  g_free (x), g_free (y);
  return same;
}

static void
check_round_trip (gboolean transposed)
{
  segcam_unet_spec spec = small_spec (2, TRUE, transposed);
  char *dir = g_dir_make_tmp ("test-train-XXXXXX", NULL);
  char *straight = g_build_filename (dir, "straight.safetensors", NULL);
  char *half = g_build_filename (dir, "half.safetensors", NULL);
  char *resumed = g_build_filename (dir, "resumed.safetensors", NULL);
  char *plain = g_build_filename (dir, "plain.safetensors", NULL);
  GError *error = NULL;

  segcam_trainer *t = new_trainer (segcam_unet_build (&spec, NULL));
  double loss3 = train_steps (t, 0, 3);
  g_assert_true (segcam_trainer_save (t, straight, NULL, TRUE, &error));
  segcam_trainer_free (t);

  t = new_trainer (segcam_unet_build (&spec, NULL));
  train_steps (t, 0, 2);
  g_assert_true (segcam_trainer_save (t, half, NULL, TRUE, &error));
  g_assert_true (segcam_trainer_save (t, plain, NULL, FALSE, &error));
  segcam_trainer_free (t);

  segcam_model *m = segcam_model_load (half, &error);
  g_assert_no_error (error);
  t = new_trainer (m);
  g_assert_true (segcam_trainer_resume (t, half, &error));
  g_assert_no_error (error);
  g_assert_cmpint (segcam_trainer_steps (t), ==, 2);
  double resumed_loss3 = train_steps (t, 2, 1);
  g_assert_true (segcam_trainer_save (t, resumed, NULL, TRUE, &error));
  g_assert_no_error (error);
  g_test_message ("%s: loss at step 3 %.9g straight, %.9g resumed", transposed ? "transposed" : "bilinear",
                  loss3, resumed_loss3);
  g_assert_true (loss3 == resumed_loss3);
  g_assert_true (same_file (straight, resumed));  /* weights, statistics, moments, step count */

  /* A model saved without Adam's state loads, but is no checkpoint. */
  g_assert_false (segcam_trainer_resume (t, plain, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
  g_clear_error (&error);
  segcam_trainer_free (t);
  m = segcam_model_load (plain, &error);
  g_assert_no_error (error);
  segcam_model_free (m);

  for (const char *const *p = (const char *const[]) {straight, half, resumed, plain, NULL}; *p; p++)
    g_unlink (*p);
  g_rmdir (dir);
  g_free (straight), g_free (half), g_free (resumed), g_free (plain), g_free (dir);
}

static void
test_checkpoint_round_trip (void)
{
  check_round_trip (FALSE);
  check_round_trip (TRUE);
}

/* A diverging run fails with an error at the step it shows, from the weights (a learning rate of
 * 1e300 makes them infinite at once) or from the loss: it returned FALSE without
 * an error before, which the command line dereferenced. */
static void
test_trainer_diverges (void)
{
  segcam_unet_spec spec = small_spec (2, TRUE, FALSE);
  size_t pixels = (size_t) CK_BATCH * CK_SIZE * CK_SIZE;
  float *images = g_new (float, pixels);
  uint8_t *labels = g_new0 (uint8_t, pixels);
  for (size_t i = 0; i < pixels; i++)
    images[i] = (float) (i % 7) / 7, labels[i] = i % 3 == 0;
  GError *error = NULL;
  segcam_trainer *t = new_trainer (segcam_unet_build (&spec, NULL));
  g_assert_false (segcam_trainer_step (t, images, labels, 1e300, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_test_message ("%s", error->message);
  g_assert_true (g_regex_match_simple ("^training diverged: the step made '.+' NaN or infinite; "
                                       "a lower learning rate may train$", error->message, 0, 0));
  g_clear_error (&error);
  segcam_trainer_free (t);

  /* 1e36: the first step's weights stay finite; the second fails by its loss or its weights. */
  t = new_trainer (segcam_unet_build (&spec, NULL));
  g_assert_true (segcam_trainer_step (t, images, labels, 1e36, NULL, &error));
  g_assert_false (segcam_trainer_step (t, images, labels, 1e36, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_true (g_regex_match_simple ("^training diverged: (the loss is (NaN|infinite)|the step "
                                       "made '.+' NaN or infinite); a lower learning rate may "
                                       "train$", error->message, 0, 0));
  g_clear_error (&error);
  segcam_trainer_free (t);
  g_free (images);
  g_free (labels);
}

/* Image sizes the network would pad cannot be trained on: the labels have no padded pixels. */
static void
test_trainer_sizes (void)
{
  segcam_unet_spec spec = small_spec (2, TRUE, FALSE);
  segcam_trainer_options o = {.batch = 1, .width = 18, .height = 16, .n_threads = 1};
  GError *error = NULL;
  g_assert_null (segcam_trainer_new (segcam_unet_build (&spec, NULL), &o, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_error_free (error);
}

/* Gradient read-out by name, PyTorch layout; NULL for names that are no trainable tensor. */
static void
test_trainer_gradient_names (void)
{
  segcam_unet_spec spec = small_spec (2, TRUE, TRUE);
  segcam_trainer *t = new_trainer (segcam_unet_build (&spec, NULL));
  train_steps (t, 0, 1);
  size_t n = 0;
  g_assert_nonnull (segcam_trainer_gradient (t, "down1.conv1.weight", &n));
  g_assert_cmpuint (n, ==, 4 * 1 * 3 * 3);
  g_assert_nonnull (segcam_trainer_gradient (t, "up1.upsample.weight", &n));
  g_assert_cmpuint (n, ==, 8 * 4 * 2 * 2);
  g_assert_nonnull (segcam_trainer_gradient (t, "down1.bn1.bias", &n));
  g_assert_cmpuint (n, ==, 4);
  g_assert_null (segcam_trainer_gradient (t, "down1.bn1.running_mean", &n));
  g_assert_null (segcam_trainer_gradient (t, "no such tensor", &n));
  segcam_trainer_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (conv_cases); i++)
    {
      char *path = g_strdup_printf ("/train/conv-weight-grad/%s/%zu",
                                    conv_cases[i].transposed ? "transposed" : "conv2d", i);
      g_test_add_data_func (path, &conv_cases[i], test_conv_weight_grad);
      g_free (path);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (bn_cases); i++)
    {
      char *path = g_strdup_printf ("/train/batchnorm/%zu", i);
      g_test_add_data_func (path, &bn_cases[i], test_batchnorm_train);
      g_free (path);
    }
  g_test_add_func ("/train/unet/structure", test_unet_structure);
  g_test_add_func ("/train/unet/init", test_unet_init);
  g_test_add_func ("/train/unet/bad-spec", test_unet_bad_spec);
  g_test_add_func ("/train/checkpoint/round-trip", test_checkpoint_round_trip);
  g_test_add_func ("/train/trainer/sizes", test_trainer_sizes);
  g_test_add_func ("/train/trainer/diverges", test_trainer_diverges);
  g_test_add_func ("/train/trainer/gradient-names", test_trainer_gradient_names);
  return g_test_run ();
}
