/* test-winograd.c — the F(4x4, 3x3) fast path (winograd.h) against a naive 3x3 convolution.
 *
 * Each case convolves random float data (n x h x w x cin, in one or several parts) with random
 * weights, padding 1 and dilation 1 unless the case gives others, and compares with a direct loop
 * in double precision written from the definition of conv2d, epilogue included (beta * out +
 * conv + bias, then ReLU). Backward cases run the backward-data conv as the fast path's sessions
 * do (segcam_winograd_backward, the kernel turned and transposed) and compare with the gradient
 * scattered from the definition, tap by tap. The error of a
 * case is max |got - want| / max |want|; F(4x4, 3x3) in float loses a few bits to the transforms,
 * so TOL is looser than a plain float sum's, and the worst error is reported with
 * g_test_message (run with --verbose). Output channels outside [0, cout) of a wider output
 * (ldo > cout) must stay untouched, and with beta 0 the old output must not be read (it is NaN).
 *
 * Scaled cases fold a per-output-channel factor into the transform (a batch norm's scale);
 * file-layout cases transform the weights from the layout a model file holds them in.
 * Also: the same results bit for bit with 1, 2 and 3 threads, which convolutions
 * segcam_winograd_applies takes, and the tiles a dilated geometry fills. */
#include "ops.h"
#include "winograd.h"

#include <math.h>
#include <string.h>

#define TOL 5e-5

static double worst_error;

typedef struct {
  int n, h, w;
  int parts[3];           /* channels of each part; 0 ends the list */
  int cout;
  gboolean bias, relu;
  float beta;
  int pad;                /* ldo = cout + pad; the output starts pad / 2 floats into each pixel */
  int dh, dw;             /* dilation (0: 1) */
  gboolean own_pads;      /* padding pt, pl, pb, pr; otherwise the dilation's on every side */
  int pt, pl, pb, pr;
  gboolean backward;      /* the input gradient from an output gradient of cout channels */
  gboolean scaled;        /* the transform scales each forward output channel (a batch norm) */
  int first;              /* backward: the gradient of input channels [first, cin) only, as for
                             the second part of a concat */
  gboolean file_layout;   /* the transform reads the weights as a model file holds them */
} wino_case;

/* The forward conv of case k (its weights aside). */
static segcam_conv_params
case_conv (const wino_case *k, int cin)
{
  int dh = MAX (k->dh, 1), dw = MAX (k->dw, 1);
  return (segcam_conv_params) {
    .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = dh, .dw = dw, .cin = cin, .cout = k->cout,
    .groups = 1, .pt = k->own_pads ? k->pt : dh, .pl = k->own_pads ? k->pl : dw,
    .pb = k->own_pads ? k->pb : dh, .pr = k->own_pads ? k->pr : dw,
  };
}

static int
case_cin (const wino_case *k)
{
  int cin = 0;
  for (int i = 0; i < 3 && k->parts[i]; i++)
    cin += k->parts[i];
  return cin;
}

static int
case_parts (const wino_case *k)
{
  int n = 0;
  while (n < 3 && k->parts[n])
    n++;
  return n;
}

static float *
random_floats (GRand *r, size_t n, double scale)
{
  float *v = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (r, -scale, scale);
  return v;
}

/* A case's data: inputs per part, packed weights [ky][kx][cin][cout], bias, initial output.
 * Forward, the input is n x h x w and the output n x ho x wo (g); backward, the other way round:
 * the one part is the output gradient (cout channels) and the "output" the input gradient (cin -
 * first channels, ldo = cin - first + pad). */
typedef struct {
  const wino_case *k;
  int cin, n_parts, ldo, out_c;
  segcam_conv_params conv;
  segcam_winograd_geom g;     /* of the conv the fast path runs */
  float *in[3];
  float *weight, *bias, *out0;
  float *scale;               /* per output channel, or NULL */
  size_t out_size;
} wino_data;

static void
data_init (wino_data *d, const wino_case *k, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  memset (d, 0, sizeof *d);
  d->k = k;
  d->cin = case_cin (k);
  d->n_parts = k->backward ? 1 : case_parts (k);
  d->conv = case_conv (k, d->cin);
  d->g = k->backward ? segcam_winograd_backward (&d->conv, k->n, k->h, k->w)
                     : segcam_winograd_forward (&d->conv, k->n, k->h, k->w);
  d->out_c = k->backward ? d->cin - k->first : k->cout;
  d->ldo = d->out_c + k->pad;
  size_t in_pixels = (size_t) k->n * d->g.h * d->g.w, pixels = (size_t) k->n * d->g.ho * d->g.wo;
  for (int i = 0; i < d->n_parts; i++)
    d->in[i] = random_floats (r, in_pixels * (k->backward ? k->cout : k->parts[i]), 1);
  /* He-like scale keeps outputs of order 1 whatever cin. */
  d->weight = random_floats (r, (size_t) 9 * d->cin * k->cout, 1 / sqrt (9.0 * MAX (d->cin, 1)));
  d->bias = k->bias ? random_floats (r, d->out_c, 0.5) : NULL;
  d->scale = k->scaled ? random_floats (r, k->cout, 2) : NULL;
  d->out_size = pixels * d->ldo;
  d->out0 = random_floats (r, d->out_size, 1);
  if (k->beta == 0)
    for (size_t p = 0; p < pixels; p++)
      for (int c = 0; c < d->out_c; c++)
        d->out0[p * d->ldo + k->pad / 2 + c] = NAN;
  g_rand_free (r);
}

static void
data_clear (wino_data *d)
{
  for (int i = 0; i < d->n_parts; i++)
    g_free (d->in[i]);
  g_free (d->weight);
  g_free (d->bias);
  g_free (d->scale);
  g_free (d->out0);
}

/* Input channel ci of pixel (b, y, x), zero in the padding. */
static double
input_at (const wino_data *d, int b, int y, int x, int ci)
{
  const wino_case *k = d->k;
  if (y < 0 || y >= k->h || x < 0 || x >= k->w)
    return 0;
  int i = 0;
  while (ci >= k->parts[i])
    ci -= k->parts[i++];
  return d->in[i][(((size_t) b * k->h + y) * k->w + x) * k->parts[i] + ci];
}

/* The expected output, [pixel][out_c]: forward, each output pixel gathers its taps; backward,
 * each output-gradient pixel adds into the input pixels its taps read. */
static double *
naive_conv (const wino_data *d)
{
  const wino_case *k = d->k;
  const segcam_conv_params *p = &d->conv;
  int ho = segcam_conv_out (k->h, 3, 1, p->pt, p->pb, p->dh);
  int wo = segcam_conv_out (k->w, 3, 1, p->pl, p->pr, p->dw);
  size_t pixels = (size_t) k->n * d->g.ho * d->g.wo;
  double *y = g_new0 (double, pixels * d->out_c);
  for (int b = 0; b < k->n; b++)
    for (int oy = 0; oy < ho; oy++)
      for (int ox = 0; ox < wo; ox++)
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            {
              int iy = oy - p->pt + ky * p->dh, ix = ox - p->pl + kx * p->dw;
              if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                continue;
              const float *wk = d->weight + (size_t) (ky * 3 + kx) * d->cin * k->cout;
              size_t ip = ((size_t) b * k->h + iy) * k->w + ix, op = ((size_t) b * ho + oy) * wo + ox;
              for (int ci = 0; ci < d->cin; ci++)
                {
                  const float *wr = wk + (size_t) ci * k->cout;
                  if (k->backward)
                    {
                      const float *dy = d->in[0] + op * k->cout;
                      double s = 0;
                      for (int co = 0; co < k->cout; co++)
                        s += (double) wr[co] * dy[co] * (d->scale ? d->scale[co] : 1.0);
                      if (ci >= k->first)
                        y[ip * d->out_c + ci - k->first] += s;
                    }
                  else
                    {
                      double x = input_at (d, b, iy, ix, ci);
                      for (int co = 0; co < k->cout; co++)
                        y[op * k->cout + co] += x * wr[co] * (d->scale ? d->scale[co] : 1.0);
                    }
                }
            }
  for (size_t q = 0; q < pixels; q++)
    for (int c = 0; c < d->out_c; c++)
      {
        double v = y[q * d->out_c + c] + (d->bias ? d->bias[c] : 0);
        if (k->beta != 0)
          v += k->beta * d->out0[q * d->ldo + k->pad / 2 + c];
        y[q * d->out_c + c] = k->relu && v < 0 ? 0 : v;
      }
  return y;
}

/* The weights the fast path runs, transformed on pool: forward as packed; backward turned 180
 * degrees and transposed. They are read in the packed layout the case's data has or, for
 * file-layout cases, from a copy in the file's [cout][cin][3][3]. */
static segcam_winograd_weights
transform_weights (const wino_data *d, segcam_pool *pool)
{
  const wino_case *k = d->k;
  segcam_winograd_weights w = {.u = g_new (float, segcam_winograd_floats (d->cin, k->cout))};
  float *file = NULL;
  segcam_winograd_kernels kern = segcam_winograd_packed (d->weight, d->cin, k->cout, d->scale);
  if (k->file_layout)
    {
      file = g_new (float, (size_t) 9 * d->cin * k->cout);
      for (int co = 0; co < k->cout; co++)
        for (int ci = 0; ci < d->cin; ci++)
          for (int tap = 0; tap < 9; tap++)
            file[((size_t) co * d->cin + ci) * 9 + tap]
              = d->weight[((size_t) tap * d->cin + ci) * k->cout + co];
      kern = segcam_winograd_file (file, d->cin, d->scale);
    }
  if (k->backward)
    segcam_winograd_transform_backward (pool, &kern, k->cout, k->first, d->out_c, &w);
  else
    segcam_winograd_transform (pool, &kern, d->cin, k->cout, &w);
  g_free (file);
  return w;
}

/* Runs the fast path on pool into a copy of out0; NaN-filled scratch catches reads of
 * unwritten scratch. */
static float *
run_winograd (const wino_data *d, segcam_pool *pool)
{
  const wino_case *k = d->k;
  segcam_winograd_weights w = transform_weights (d, pool);
  size_t per_thread = segcam_winograd_scratch (w.cin, w.cout);
  size_t n_scratch = per_thread * segcam_pool_threads (pool);
  float *scratch = g_new (float, n_scratch);
  for (size_t i = 0; i < n_scratch; i++)
    scratch[i] = NAN;
  segcam_winograd_part parts[3];
  for (int i = 0; i < d->n_parts; i++)
    parts[i] = (segcam_winograd_part) {d->in[i], k->backward ? k->cout : k->parts[i]};
  float *out = g_memdup2 (d->out0, d->out_size * sizeof (float));
  segcam_winograd_conv (pool, scratch, per_thread, &w, &d->g, parts, d->n_parts,
                        out + k->pad / 2, d->ldo, d->bias, k->beta, k->relu);
  g_free (scratch);
  g_free (w.u);
  return out;
}

static char *
case_name (const wino_case *k)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "n%d-%dx%d-c", k->n, k->h, k->w);
  for (int i = 0; i < case_parts (k); i++)
    g_string_append_printf (s, "%s%d", i ? "+" : "", k->parts[i]);
  g_string_append_printf (s, "-o%d%s%s%s", k->cout, k->bias ? "-bias" : "",
                          k->beta != 0 ? "-beta1" : "", k->relu ? "-relu" : "");
  if (k->pad)
    g_string_append_printf (s, "-ldo+%d", k->pad);
  if (k->dh > 1 || k->dw > 1)
    g_string_append_printf (s, "-d%dx%d", MAX (k->dh, 1), MAX (k->dw, 1));
  if (k->own_pads)
    g_string_append_printf (s, "-p%d.%d.%d.%d", k->pt, k->pl, k->pb, k->pr);
  if (k->backward)
    g_string_append (s, "-backward");
  if (k->first)
    g_string_append_printf (s, "-from%d", k->first);
  if (k->file_layout)
    g_string_append (s, "-file");
  if (k->scaled)
    g_string_append (s, "-scaled");
  return g_string_free (s, FALSE);
}

/* Case k's error err / scale (what: "" for the conv's output, "dW " for its weight gradient):
 * logged, kept for the summary, and a failure above TOL. */
static void
report_error (const wino_case *k, const char *what, double err, double scale)
{
  double rel = scale > 0 ? err / scale : err;
  char *name = case_name (k);
  g_test_message ("%-44s %srel err %.2e", name, what, rel);
  worst_error = MAX (worst_error, rel);
  if (rel > TOL)
    g_test_fail_printf ("%s: %srelative error %.3e > %.1e", name, what, rel, TOL);
  g_free (name);
}

static void
check_case (gconstpointer p)
{
  const wino_case *k = p;
  wino_data d;
  data_init (&d, k, (guint32) (k->n * 7919 + k->h * 104729 + k->w * 1299709 + case_cin (k) * 31
                               + k->cout + k->dh * 17 + k->dw * 13 + k->pt * 5));
  double *want = naive_conv (&d);
  segcam_pool *pool = segcam_pool_new (2);
  float *got = run_winograd (&d, pool);
  segcam_pool_free (pool);

  size_t pixels = (size_t) k->n * d.g.ho * d.g.wo;
  double err = 0, scale = 0;
  for (size_t q = 0; q < pixels; q++)
    {
      for (int c = 0; c < d.ldo; c++)
        {
          int co = c - k->pad / 2;
          float g = got[q * d.ldo + c];
          if (co < 0 || co >= d.out_c)
            {
              /* outside the conv's channels: untouched */
              g_assert_cmpmem (&g, sizeof g, &d.out0[q * d.ldo + c], sizeof g);
              continue;
            }
          double wv = want[q * d.out_c + co];
          g_assert_true (isfinite (g));
          err = MAX (err, fabs (g - wv));
          scale = MAX (scale, fabs (wv));
        }
    }
  report_error (k, "", err, scale);
  g_free (got);
  g_free (want);
  data_clear (&d);
}

/* Bit-identical results with 1, 2 and 3 threads. */
static void
check_threads (gconstpointer p)
{
  const wino_case *k = p;
  wino_data d;
  data_init (&d, k, 42);
  float *ref = NULL;
  for (int threads = 1; threads <= 3; threads++)
    {
      segcam_pool *pool = segcam_pool_new (threads);
      float *got = run_winograd (&d, pool);
      segcam_pool_free (pool);
      if (!ref)
        ref = got;
      else
        {
          g_assert_cmpmem (got, d.out_size * sizeof (float), ref, d.out_size * sizeof (float));
          g_free (got);
        }
    }
  g_free (ref);
  data_clear (&d);
}

/* The weight gradient (segcam_winograd_weight_grad) of case k's forward conv, its input parts
 * concatenated, for a random output gradient, against the definition in double: dW[tap][ci][co]
 * = sum over output pixels of dy[co] * x[ci] at the input pixel the tap reads. It must add into
 * dw (filled beforehand) and give the same bytes with 1, 2 and 3 threads. */
static void
check_wgrad (gconstpointer p)
{
  const wino_case *k = p;
  wino_data d;
  data_init (&d, k, (guint32) (k->n * 31 + k->h * 7 + k->w * 3 + case_cin (k) + k->cout * 5));
  GRand *r = g_rand_new_with_seed (3);
  size_t in_pixels = (size_t) k->n * k->h * k->w, pixels = (size_t) k->n * d.g.ho * d.g.wo;
  size_t nw = (size_t) 9 * d.cin * k->cout;
  float *x = g_new (float, in_pixels * d.cin);
  for (size_t q = 0; q < in_pixels; q++)
    for (int ci = 0; ci < d.cin; ci++)
      x[q * d.cin + ci] = (float) input_at (&d, (int) (q / ((size_t) k->h * k->w)),
                                            (int) (q / k->w % k->h), (int) (q % k->w), ci);
  float *dy = random_floats (r, pixels * k->cout, 1), *dw0 = random_floats (r, nw, 1);
  g_rand_free (r);

  double *want = g_new0 (double, nw);
  const segcam_winograd_geom *g = &d.g;
  for (int b = 0; b < k->n; b++)
    for (int oy = 0; oy < g->ho; oy++)
      for (int ox = 0; ox < g->wo; ox++)
        for (int tap = 0; tap < 9; tap++)
          {
            int iy = oy - g->pt + tap / 3 * g->dh, ix = ox - g->pl + tap % 3 * g->dw;
            if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
              continue;
            const float *xp = x + (((size_t) b * k->h + iy) * k->w + ix) * d.cin;
            const float *gp = dy + (((size_t) b * g->ho + oy) * g->wo + ox) * k->cout;
            double *wt = want + (size_t) tap * d.cin * k->cout;
            for (int ci = 0; ci < d.cin; ci++)
              for (int co = 0; co < k->cout; co++)
                wt[(size_t) ci * k->cout + co] += (double) xp[ci] * gp[co];
          }

  float *ref = NULL;
  for (int threads = 1; threads <= 3; threads++)
    {
      segcam_pool *pool = segcam_pool_new (threads);
      size_t per_thread = segcam_winograd_scratch (d.cin, k->cout);
      size_t n_scratch = per_thread * threads, n_work = segcam_winograd_wgrad_floats (g, d.cin, k->cout);
      float *scratch = g_new (float, n_scratch), *work = g_new (float, n_work);
      for (size_t i = 0; i < n_scratch; i++)
        scratch[i] = NAN;
      for (size_t i = 0; i < n_work; i++)
        work[i] = NAN;
      float *dw = g_memdup2 (dw0, nw * sizeof (float));
      segcam_winograd_weight_grad (pool, scratch, per_thread, work, g, x, d.cin, dy, k->cout, dw);
      segcam_pool_free (pool);
      g_free (scratch);
      g_free (work);
      if (ref)
        {
          g_assert_cmpmem (dw, nw * sizeof (float), ref, nw * sizeof (float));
          g_free (dw);
          continue;
        }
      ref = dw;
    }
  double err = 0, scale = 0;
  for (size_t i = 0; i < nw; i++)
    {
      g_assert_true (isfinite (ref[i]));
      err = MAX (err, fabs ((double) ref[i] - dw0[i] - want[i]));
      scale = MAX (scale, fabs (want[i]));
    }
  report_error (k, "dW ", err, scale);
  g_free (ref), g_free (want), g_free (x), g_free (dy), g_free (dw0);
  data_clear (&d);
}

static void
test_applies (void)
{
  segcam_conv_params base = {
    .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1,
    .cin = 64, .cout = 64, .groups = 1,
  };
  g_assert_true (segcam_winograd_applies (&base));
  segcam_conv_params p = base;
  p.groups = 0;         /* "0: 1" */
  g_assert_true (segcam_winograd_applies (&p));
  p = base;
  p.cin = 3;            /* the RGB input layer */
  g_assert_true (segcam_winograd_applies (&p));
  p = base;
  p.dh = p.dw = p.pt = p.pl = p.pb = p.pr = 4;  /* ResNet's layer4 at output stride 8 */
  g_assert_true (segcam_winograd_applies (&p));
  p = base;
  p.dh = 3;
  p.pt = 0;
  p.pr = 2;             /* any padding, per axis dilation */
  g_assert_true (segcam_winograd_applies (&p));
#define REJECT(field, value)                                  \
  do                                                          \
    {                                                         \
      segcam_conv_params q = base;                            \
      q.field = value;                                        \
      g_assert_false (segcam_winograd_applies (&q));          \
    }                                                         \
  while (0)
  REJECT (sh, 2);
  REJECT (sw, 2);
  REJECT (dh, 0);
  REJECT (groups, 2);
  REJECT (groups, 64);
  REJECT (kh, 5);
  REJECT (kw, 5);
  REJECT (kh, 1);
  REJECT (pt, -1);
  REJECT (kw, 1);
  REJECT (transposed, TRUE);
  p = base;
  p.kh = p.kw = 5;
  p.pt = p.pl = p.pb = p.pr = 2;
  g_assert_false (segcam_winograd_applies (&p));
#undef REJECT
}

/* Tiles and their fill: per phase sub-image, ceil (ceil (out / d) / 4) tiles a side. */
static void
test_fill (void)
{
  segcam_conv_params p = {
    .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1,
    .cin = 8, .cout = 8, .groups = 1,
  };
  segcam_winograd_geom g = segcam_winograd_forward (&p, 2, 64, 64);
  g_assert_cmpuint (segcam_winograd_tiles (&g), ==, 2 * 16 * 16);
  g_assert_cmpfloat (segcam_winograd_fill (&g), ==, 1.0);
  /* ASPP: phases of 3 or 2 pixels a side, 24 tiles a side apart, 22 on the canvas of
   * 64 + 23 pixels */
  p.dh = p.dw = p.pt = p.pl = p.pb = p.pr = 24;
  g = segcam_winograd_forward (&p, 1, 64, 64);
  g_assert_cmpint (g.ho, ==, 64);
  g_assert_cmpuint (segcam_winograd_tiles (&g), ==, 22 * 22);
  g_assert_cmpfloat (fabs (segcam_winograd_fill (&g) - 4096.0 / (22 * 22 * 16)), <, 1e-12);
  /* ResNet's layer4: phases of 16 pixels, 4 tiles each; the canvas (64 + 3) takes 17 */
  p.dh = p.dw = p.pt = p.pl = p.pb = p.pr = 4;
  g = segcam_winograd_forward (&p, 1, 64, 64);
  g_assert_cmpuint (segcam_winograd_tiles (&g), ==, 16 * 16);
  /* columns padded other than by d: phases only (36 of 1 or 2 pixels) */
  p.dh = p.dw = 36;
  p.pt = p.pb = 36;
  p.pl = p.pr = 34;
  g = segcam_winograd_forward (&p, 1, 20, 64);
  g_assert_cmpint (g.wo, ==, 60);
  g_assert_cmpuint (segcam_winograd_tiles (&g), ==, 10 * 36);  /* row canvas: 20 + 19 pixels */
  p.pt = p.pb = 0;                                   /* 20 + 0 - 72 < 0: no output */
  g = segcam_winograd_forward (&p, 1, 20, 64);
  g_assert_cmpint (g.ho, ==, 0);
  g_assert_cmpuint (segcam_winograd_tiles (&g), ==, 0);
}

static void
report_worst (void)
{
  g_test_message ("worst relative error over all cases: %.2e (tolerance %.1e)", worst_error, TOL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/winograd/applies", test_applies);
  g_test_add_func ("/winograd/fill", test_fill);

  GPtrArray *cases = g_ptr_array_new_with_free_func (g_free);
#define ADD(...)                                                               \
  g_ptr_array_add (cases, g_memdup2 (&(wino_case) {__VA_ARGS__}, sizeof (wino_case)))

  /* Every size pair, small channel counts (edge tiles of every width and height). */
  static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 33};
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (sizes); j++)
      {
        int v = (int) (i * G_N_ELEMENTS (sizes) + j);
        ADD (.n = 1 + v % 2, .h = sizes[i], .w = sizes[j], .parts = {3 + v % 3}, .cout = 5,
             .bias = v % 3 == 0, .beta = v % 4 == 1 ? 1 : 0, .relu = v % 5 == 2);
      }
  /* Channel counts: full and partial transform passes, one and many GEMM columns. */
  static const int channels[] = {1, 3, 17, 64, 256};
  for (size_t i = 0; i < G_N_ELEMENTS (channels); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (channels); j++)
      {
        int v = (int) (i * G_N_ELEMENTS (channels) + j);
        ADD (.n = 1 + v % 2, .h = 13, .w = 7 + 2 * (v % 2), .parts = {channels[i]},
             .cout = channels[j], .bias = v % 2 == 0, .beta = v % 3 == 0, .relu = v % 4 < 2);
      }
  /* Concatenated inputs in uneven parts (channel passes straddle the parts' ends). */
  ADD (.n = 2, .h = 8, .w = 13, .parts = {5, 12}, .cout = 17, .bias = TRUE, .relu = TRUE);
  ADD (.n = 1, .h = 16, .w = 16, .parts = {1, 40, 23}, .cout = 64, .beta = 1);
  ADD (.n = 1, .h = 33, .w = 16, .parts = {48, 17}, .cout = 33, .bias = TRUE, .beta = 1, .relu = TRUE);
  ADD (.n = 2, .h = 7, .w = 5, .parts = {512, 256}, .cout = 256, .bias = TRUE, .relu = TRUE);
  ADD (.n = 1, .h = 16, .w = 33, .parts = {64, 32}, .cout = 32, .bias = TRUE, .relu = TRUE);
  /* input-channel chunks (of 100 here) across a part's end, passes starting mid-part */
  ADD (.n = 2, .h = 9, .w = 11, .parts = {70, 130}, .cout = 40, .bias = TRUE, .beta = 1);
  ADD (.n = 2, .h = 9, .w = 11, .parts = {70, 130}, .cout = 40, .bias = TRUE, .relu = TRUE,
       .scaled = TRUE);
  ADD (.n = 1, .h = 29, .w = 24, .parts = {24}, .cout = 16, .dh = 2, .dw = 2, .scaled = TRUE);
  /* A slice of a wider output (ldo > cout). */
  ADD (.n = 2, .h = 13, .w = 7, .parts = {17}, .cout = 17, .bias = TRUE, .pad = 6);
  ADD (.n = 1, .h = 5, .w = 9, .parts = {64}, .cout = 64, .beta = 1, .relu = TRUE, .pad = 32);
  /* Larger maps: several tile blocks per task plan, several output-channel slices. */
  ADD (.n = 1, .h = 100, .w = 90, .parts = {32}, .cout = 32, .bias = TRUE, .relu = TRUE);
  ADD (.n = 2, .h = 33, .w = 33, .parts = {256}, .cout = 256, .bias = TRUE, .beta = 1);
  ADD (.n = 1, .h = 16, .w = 16, .parts = {128}, .cout = 512, .relu = TRUE);
  /* a batch of 1024 tiles: the weight gradient sums four shares of them apart */
  ADD (.n = 4, .h = 64, .w = 64, .parts = {16}, .cout = 24, .bias = TRUE);
  /* 64 tiles x 128 output channels: input-channel chunks cut by the GEMM size limit
   * (WINO_GEMM_MNK) from one of 120 to 64 + 56, across the parts' end */
  ADD (.n = 1, .h = 31, .w = 30, .parts = {72, 48}, .cout = 128, .bias = TRUE, .beta = 1,
       .relu = TRUE);

  /* Dilated, forward and backward: sizes divisible by neither d nor 4, d larger than the map
   * (phases of one pixel or none), padding d as ResNet's, and others (less, more, uneven, none). */
  static const int dilations[] = {2, 3, 4, 6};
  static const int dsizes[][2] = {{13, 11}, {16, 9}, {5, 7}, {29, 24}};
  for (size_t i = 0; i < G_N_ELEMENTS (dilations); i++)
    for (size_t j = 0; j < G_N_ELEMENTS (dsizes); j++)
      for (int backward = 0; backward < 2; backward++)
        {
          int v = (int) (i * G_N_ELEMENTS (dsizes) + j), dl = dilations[i];
          ADD (.n = 1 + v % 2, .h = dsizes[j][0], .w = dsizes[j][1], .parts = {5 + v % 3},
               .cout = 6 + v % 4, .dh = dl, .dw = dl, .bias = !backward && v % 3 == 0,
               .beta = v % 4 == 1 ? 1 : 0, .relu = !backward && v % 5 == 2, .backward = backward);
        }
  for (int backward = 0; backward < 2; backward++)
    {
      gboolean fwd = !backward;
      ADD (.n = 1, .h = 17, .w = 14, .parts = {9}, .cout = 7, .dh = 2, .dw = 3, .bias = fwd,
           .backward = backward);
      ADD (.n = 2, .h = 15, .w = 18, .parts = {6}, .cout = 5, .dh = 2, .dw = 2, .own_pads = TRUE,
           .pt = 1, .pl = 0, .pb = 3, .pr = 2, .relu = fwd, .backward = backward);
      ADD (.n = 1, .h = 21, .w = 19, .parts = {4}, .cout = 8, .dh = 3, .dw = 3, .own_pads = TRUE,
           .pt = 0, .pl = 0, .pb = 0, .pr = 0, .beta = 1, .backward = backward);
      ADD (.n = 1, .h = 12, .w = 13, .parts = {3}, .cout = 4, .dh = 4, .dw = 4, .own_pads = TRUE,
           .pt = 9, .pl = 5, .pb = 2, .pr = 7, .bias = fwd, .backward = backward);
      ADD (.n = 1, .h = 10, .w = 9, .parts = {5}, .cout = 3, .dh = 1, .dw = 1, .own_pads = TRUE,
           .pt = 0, .pl = 2, .pb = 3, .pr = 1, .backward = backward);
      /* phase sub-images of 2-4 pixels, tiled on the canvas */
      ADD (.n = 2, .h = 20, .w = 23, .parts = {11}, .cout = 9, .dh = 5, .dw = 7, .bias = fwd,
           .beta = backward, .relu = fwd, .backward = backward);
      ADD (.n = 1, .h = 26, .w = 26, .parts = {150}, .cout = 40, .dh = 12, .dw = 12,
           .bias = fwd, .backward = backward);
      ADD (.n = 1, .h = 14, .w = 17, .parts = {6}, .cout = 5, .dh = 12, .dw = 2, .own_pads = TRUE,
           .pt = 12, .pl = 1, .pb = 12, .pr = 3, .backward = backward);
      /* ResNet-like channel counts, several channel chunks and tile blocks, in two parts */
      ADD (.n = 1, .h = 37, .w = 35, .parts = {96, 160}, .cout = 128, .dh = 2, .dw = 2,
           .bias = fwd, .beta = backward, .relu = fwd, .backward = backward);
      ADD (.n = 1, .h = 30, .w = 33, .parts = {200}, .cout = 72, .dh = 4, .dw = 4, .pad = 6,
           .beta = 1, .backward = backward);
    }

  /* Backward into part of the input channels (a concat's), with a batch norm's scale folded in,
   * as in a U-Net's decoder */
  ADD (.n = 1, .h = 19, .w = 22, .parts = {96, 64}, .cout = 48, .first = 96, .scaled = TRUE,
       .backward = TRUE);
  ADD (.n = 2, .h = 9, .w = 11, .parts = {70, 130}, .cout = 40, .first = 33, .beta = 1,
       .backward = TRUE);
  ADD (.n = 1, .h = 29, .w = 24, .parts = {24}, .cout = 16, .dh = 2, .dw = 2, .scaled = TRUE,
       .backward = TRUE);
  /* Weights read in the file's layout, as a loaded model's are */
  ADD (.n = 1, .h = 19, .w = 22, .parts = {96, 64}, .cout = 48, .first = 96, .scaled = TRUE,
       .backward = TRUE, .file_layout = TRUE);
  ADD (.n = 2, .h = 9, .w = 11, .parts = {70, 130}, .cout = 40, .bias = TRUE, .relu = TRUE,
       .scaled = TRUE, .file_layout = TRUE);
  ADD (.n = 1, .h = 16, .w = 16, .parts = {3}, .cout = 32, .bias = TRUE, .file_layout = TRUE);

  for (guint i = 0; i < cases->len; i++)
    {
      const wino_case *k = cases->pdata[i];
      char *name = case_name (k);
      char *path = g_strdup_printf ("/winograd/conv/%s", name);
      g_test_add_data_func (path, k, check_case);
      g_free (path);
      /* the weight gradient of each forward conv; scaling and layouts concern weights only */
      if (!k->backward && !k->scaled && !k->file_layout)
        {
          path = g_strdup_printf ("/winograd/weight-grad/%s", name);
          g_test_add_data_func (path, k, check_wgrad);
          g_free (path);
        }
      g_free (name);
    }

  /* Determinism: these split into many tasks (tile blocks, output-channel slices). */
  static const wino_case thread_cases[] = {
    {.n = 1, .h = 100, .w = 90, .parts = {32}, .cout = 32, .bias = TRUE, .relu = TRUE},
    {.n = 2, .h = 40, .w = 36, .parts = {64, 64}, .cout = 128, .beta = 1},
    {.n = 1, .h = 16, .w = 16, .parts = {256}, .cout = 512, .bias = TRUE},
    {.n = 2, .h = 5, .w = 7, .parts = {17}, .cout = 3},
    {.n = 2, .h = 9, .w = 11, .parts = {70, 130}, .cout = 40, .bias = TRUE, .relu = TRUE},
    {.n = 1, .h = 31, .w = 30, .parts = {72, 48}, .cout = 128, .bias = TRUE, .beta = 1},
    {.n = 2, .h = 37, .w = 35, .parts = {64}, .cout = 128, .dh = 2, .dw = 2, .relu = TRUE},
    {.n = 1, .h = 30, .w = 33, .parts = {72}, .cout = 64, .dh = 4, .dw = 4, .backward = TRUE},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (thread_cases); i++)
    {
      char *name = case_name (&thread_cases[i]);
      char *path = g_strdup_printf ("/winograd/threads/%s", name);
      g_test_add_data_func (path, &thread_cases[i], check_threads);
      g_free (path);
      g_free (name);
    }
  g_test_add_func ("/winograd/summary/worst-error", report_worst);

  int status = g_test_run ();
  g_ptr_array_free (cases, TRUE);
  return status;
}
