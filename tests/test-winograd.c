/* test-winograd.c — the F(4x4, 3x3) fast path (winograd.h) against a naive 3x3 convolution.
 *
 * Each case convolves random float data (n x h x w x cin, in one or several parts) with random
 * weights, padding 1, and compares with a direct loop in double precision written from the
 * definition of conv2d, epilogue included (beta * out + conv + bias, then ReLU). The error of a
 * case is max |got - want| / max |want|; F(4x4, 3x3) in float loses a few bits to the transforms,
 * so TOL is looser than a plain float sum's, and the worst error is reported with
 * g_test_message (run with --verbose). Output channels outside [0, cout) of a wider output
 * (ldo > cout) must stay untouched, and with beta 0 the old output must not be read (it is NaN).
 *
 * Also: the same results bit for bit with 1, 2 and 3 threads, and which convolutions
 * segcam_winograd_applies takes. */
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
} wino_case;

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

/* A case's data: inputs per part, packed weights [ky][kx][cin][cout], bias, initial output. */
typedef struct {
  const wino_case *k;
  int cin, n_parts, ldo;
  float *in[3];
  float *weight, *bias, *out0;
  size_t out_size;
} wino_data;

static void
data_init (wino_data *d, const wino_case *k, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  memset (d, 0, sizeof *d);
  d->k = k;
  d->cin = case_cin (k);
  d->n_parts = case_parts (k);
  d->ldo = k->cout + k->pad;
  size_t pixels = (size_t) k->n * k->h * k->w;
  for (int i = 0; i < d->n_parts; i++)
    d->in[i] = random_floats (r, pixels * k->parts[i], 1);
  /* He-like scale keeps outputs of order 1 whatever cin. */
  d->weight = random_floats (r, (size_t) 9 * d->cin * k->cout, 1 / sqrt (9.0 * MAX (d->cin, 1)));
  d->bias = k->bias ? random_floats (r, k->cout, 0.5) : NULL;
  d->out_size = pixels * d->ldo;
  d->out0 = random_floats (r, d->out_size, 1);
  if (k->beta == 0)
    for (size_t p = 0; p < pixels; p++)
      for (int c = 0; c < k->cout; c++)
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

/* The expected output, [pixel][cout]. */
static double *
naive_conv (const wino_data *d)
{
  const wino_case *k = d->k;
  size_t pixels = (size_t) k->n * k->h * k->w;
  double *y = g_new0 (double, pixels * k->cout);
  double *px = g_new (double, d->cin);
  for (int b = 0; b < k->n; b++)
    for (int oy = 0; oy < k->h; oy++)
      for (int ox = 0; ox < k->w; ox++)
        {
          size_t p = ((size_t) b * k->h + oy) * k->w + ox;
          double *yp = y + p * k->cout;
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++)
              {
                for (int ci = 0; ci < d->cin; ci++)
                  px[ci] = input_at (d, b, oy + ky - 1, ox + kx - 1, ci);
                const float *wk = d->weight + (size_t) (ky * 3 + kx) * d->cin * k->cout;
                for (int ci = 0; ci < d->cin; ci++)
                  if (px[ci] != 0)
                    for (int co = 0; co < k->cout; co++)
                      yp[co] += px[ci] * wk[(size_t) ci * k->cout + co];
              }
          for (int co = 0; co < k->cout; co++)
            {
              double v = yp[co] + (d->bias ? d->bias[co] : 0);
              if (k->beta != 0)
                v += k->beta * d->out0[p * d->ldo + k->pad / 2 + co];
              yp[co] = k->relu && v < 0 ? 0 : v;
            }
        }
  g_free (px);
  return y;
}

/* Runs the fast path on pool into a copy of out0; NaN-filled scratch catches reads of
 * unwritten scratch. */
static float *
run_winograd (const wino_data *d, segcam_pool *pool)
{
  const wino_case *k = d->k;
  segcam_winograd_weights w;
  g_assert_true (segcam_winograd_prepare (&w, d->weight, d->cin, k->cout));
  size_t per_thread = segcam_winograd_scratch (d->cin, k->cout);
  size_t n_scratch = per_thread * segcam_pool_threads (pool);
  float *scratch = g_new (float, n_scratch);
  for (size_t i = 0; i < n_scratch; i++)
    scratch[i] = NAN;
  segcam_winograd_part parts[3];
  for (int i = 0; i < d->n_parts; i++)
    parts[i] = (segcam_winograd_part) {d->in[i], k->parts[i]};
  float *out = g_memdup2 (d->out0, d->out_size * sizeof (float));
  segcam_winograd_conv (pool, scratch, per_thread, &w, k->n, k->h, k->w, parts, d->n_parts,
                        out + k->pad / 2, d->ldo, d->bias, k->beta, k->relu);
  g_free (scratch);
  segcam_winograd_clear (&w);
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
  return g_string_free (s, FALSE);
}

static void
check_case (gconstpointer p)
{
  const wino_case *k = p;
  wino_data d;
  data_init (&d, k, (guint32) (k->n * 7919 + k->h * 104729 + k->w * 1299709 + case_cin (k) * 31
                               + k->cout));
  double *want = naive_conv (&d);
  segcam_pool *pool = segcam_pool_new (2);
  float *got = run_winograd (&d, pool);
  segcam_pool_free (pool);

  size_t pixels = (size_t) k->n * k->h * k->w;
  double err = 0, scale = 0;
  for (size_t q = 0; q < pixels; q++)
    {
      for (int c = 0; c < d.ldo; c++)
        {
          int co = c - k->pad / 2;
          float g = got[q * d.ldo + c];
          if (co < 0 || co >= k->cout)
            {
              /* outside the conv's channels: untouched */
              g_assert_cmpmem (&g, sizeof g, &d.out0[q * d.ldo + c], sizeof g);
              continue;
            }
          double wv = want[q * k->cout + co];
          g_assert_true (isfinite (g));
          err = MAX (err, fabs (g - wv));
          scale = MAX (scale, fabs (wv));
        }
    }
  double rel = scale > 0 ? err / scale : err;
  char *name = case_name (k);
  g_test_message ("%-44s rel err %.2e", name, rel);
  worst_error = MAX (worst_error, rel);
  if (rel > TOL)
    g_test_fail_printf ("%s: relative error %.3e > %.1e", name, rel, TOL);
  g_free (name);
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
  REJECT (dh, 2);
  REJECT (dw, 2);
  REJECT (groups, 2);
  REJECT (groups, 64);
  REJECT (kh, 5);
  REJECT (kw, 5);
  REJECT (kh, 1);
  REJECT (pt, 0);
  REJECT (pl, 0);
  REJECT (pb, 0);
  REJECT (pr, 2);
  REJECT (kw, 1);
  p = base;
  p.kh = p.kw = 5;
  p.pt = p.pl = p.pb = p.pr = 2;
  g_assert_false (segcam_winograd_applies (&p));
#undef REJECT
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
  /* A slice of a wider output (ldo > cout). */
  ADD (.n = 2, .h = 13, .w = 7, .parts = {17}, .cout = 17, .bias = TRUE, .pad = 6);
  ADD (.n = 1, .h = 5, .w = 9, .parts = {64}, .cout = 64, .beta = 1, .relu = TRUE, .pad = 32);
  /* Larger maps: several tile blocks per task plan, several output-channel slices. */
  ADD (.n = 1, .h = 100, .w = 90, .parts = {32}, .cout = 32, .bias = TRUE, .relu = TRUE);
  ADD (.n = 2, .h = 33, .w = 33, .parts = {256}, .cout = 256, .bias = TRUE, .beta = 1);
  ADD (.n = 1, .h = 16, .w = 16, .parts = {128}, .cout = 512, .relu = TRUE);
  /* 64 tiles x 128 output channels: input-channel chunks cut by the GEMM size limit
   * (WINO_GEMM_MNK) from one of 120 to 64 + 56, across the parts' end */
  ADD (.n = 1, .h = 31, .w = 30, .parts = {72, 48}, .cout = 128, .bias = TRUE, .beta = 1,
       .relu = TRUE);

  for (guint i = 0; i < cases->len; i++)
    {
      const wino_case *k = cases->pdata[i];
      char *name = case_name (k);
      char *path = g_strdup_printf ("/winograd/conv/%s", name);
      g_test_add_data_func (path, k, check_case);
      g_free (path);
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
