/* test-seggradcam.c — Seg-Grad-CAM (docs/seg-grad-cam.md) and the other CAM methods through the public API, on small models built
 * here and written as safetensors files.
 *
 * Properties that must hold whatever the weights:
 *   - the gradient: with the input itself as the target layer, A is the preprocessed image, so
 *     alpha_k = mean dS/dA_k is a directional derivative of the score S along "shift channel k of
 *     every pixel", which central differences of S (reported by explain) give independently of
 *     the engine's backward; and the class-activation map must be sum_k alpha_k A_k, with |alpha|
 *     and max(alpha, 0) for the abs and relu weights;
 *   - the pre-ReLU map L is linear in the ROI weights (logits score), for every method linear in G;
 *   - the other CAM methods (docs/methods.md): Seg-XRes-CAM's limits are Seg-Grad-CAM and
 *     HiResCAM; Layer-CAM is HiResCAM where no gradient is negative; EigenCAM ignores the class
 *     and is the first principal component of A; at the input, Score-CAM's and Ablation-CAM's
 *     maps from scores of perturbed images each run in a session of its own; a cancel between
 *     their passes stops them after those passes and leaves the session as it was;
 *   - a class whose logits do not depend on the target layer gets an all-zero map;
 *   - results do not depend on the number of threads, nor on what was explained before;
 *   - normalisation, the sign symmetry of a one-channel sigmoid model, probabilities and labels;
 *   - bad input fails with SEGCAM_ERROR_INPUT (or _MEMORY) and a one-line message, never a crash.
 */
#include "cancel-count.h"
#include "safetensors.h"
#include "segcam.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static const float MEAN[3] = {0.4f, 0.5f, 0.6f}, STD[3] = {0.2f, 0.25f, 0.3f};

/* ---- building models --------------------------------------------------------------------- */

typedef struct {
  GRand *rand;
  GArray *tensors;        /* segcam_tensor, names and data owned */
  GString *nodes;         /* JSON objects, comma-separated */
} builder;

static void builder_init (builder *b, guint32 seed)
{
  b->rand = g_rand_new_with_seed (seed);
  b->tensors = g_array_new (FALSE, TRUE, sizeof (segcam_tensor));
  b->nodes = g_string_new ("{\"name\": \"input\", \"op\": \"input\"}");
}

/* A tensor of uniform values in [lo, hi]; returns its data for callers that adjust it. */
static float *add_tensor (builder *b, const char *name, int n_dims, const int64_t *shape, double lo,
                          double hi)
{
  segcam_tensor t = {g_strdup (name), n_dims, {0}, 1, NULL};
  for (int i = 0; i < n_dims; i++)
    t.shape[i] = shape[i], t.n_elements *= (size_t) shape[i];
  t.data = g_new (float, t.n_elements);
  for (size_t i = 0; i < t.n_elements; i++)
    t.data[i] = (float) g_rand_double_range (b->rand, lo, hi);
  g_array_append_val (b->tensors, t);
  return t.data;
}

static void add_node (builder *b, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void add_node (builder *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_string_append (b->nodes, ", ");
  g_string_append_vprintf (b->nodes, fmt, ap);
  va_end (ap);
}

/* conv2d (or conv_transpose2d) with He-uniform weights and a small bias; `extra` holds more
 * attributes ("\"padding\": [1, 1, 1, 1]"). Returns the weights, PyTorch layout. */
static float *add_conv (builder *b, const char *op, const char *name, const char *input, int cin,
                        int cout, int k, const char *extra)
{
  gboolean transposed = strcmp (op, "conv_transpose2d") == 0;
  char *wname = g_strdup_printf ("%s.weight", name), *bname = g_strdup_printf ("%s.bias", name);
  const int64_t wshape[4] = {transposed ? cin : cout, transposed ? cout : cin, k, k}, bshape[1] = {cout};
  double s = sqrt (6.0 / (cin * k * k));
  float *w = add_tensor (b, wname, 4, wshape, -s, s);
  add_tensor (b, bname, 1, bshape, -0.1, 0.1);
  add_node (b, "{\"name\": \"%s\", \"op\": \"%s\", \"inputs\": [\"%s\"], \"kernel\": [%d, %d], "
            "\"weight\": \"%s\", \"bias\": \"%s\"%s%s}", name, op, input, k, k, wname, bname,
            extra ? ", " : "", extra ? extra : "");
  g_free (wname);
  g_free (bname);
  return w;
}

static void add_batchnorm (builder *b, const char *name, const char *input, int c)
{
  static const char *const keys[4] = {"gamma", "beta", "mean", "var"};
  static const double lo[4] = {0.8, -0.1, -0.1, 0.5}, hi[4] = {1.2, 0.1, 0.1, 1.5};
  const int64_t shape[1] = {c};
  GString *json = g_string_new (NULL);
  g_string_append_printf (json, "{\"name\": \"%s\", \"op\": \"batchnorm\", \"inputs\": [\"%s\"], "
                          "\"eps\": 1e-5", name, input);
  for (int i = 0; i < 4; i++)
    {
      char *tname = g_strdup_printf ("%s.%s", name, keys[i]);
      add_tensor (b, tname, 1, shape, lo[i], hi[i]);
      g_string_append_printf (json, ", \"%s\": \"%s\"", keys[i], tname);
      g_free (tname);
    }
  g_string_append (json, "}");
  add_node (b, "%s", json->str);
  g_string_free (json, TRUE);
}

#define P1 "\"padding\": [1, 1, 1, 1]"

/* prefix.conv (3x3, padding 1) -> prefix.bn -> prefix.relu */
static void add_conv_bn_relu (builder *b, const char *prefix, const char *input, int cin, int cout)
{
  char *conv = g_strconcat (prefix, ".conv", NULL), *bn = g_strconcat (prefix, ".bn", NULL);
  add_conv (b, "conv2d", conv, input, cin, cout, 3, P1);
  add_batchnorm (b, bn, conv, cout);
  add_node (b, "{\"name\": \"%s.relu\", \"op\": \"relu\", \"inputs\": [\"%s\"]}", prefix, bn);
  g_free (conv);
  g_free (bn);
}

/* Writes the model (through the engine's own safetensors writer) and loads it back. */
static segcam_model *builder_finish (builder *b, int size_multiple, const char *classes,
                                     const char *activation, const char *default_layer)
{
  char *graph = g_strdup_printf (
    "{\"input\": {\"channels\": 3, \"colorspace\": \"rgb\", \"mean\": [%g, %g, %g], "
    "\"std\": [%g, %g, %g], \"size_multiple\": %d}, \"classes\": [%s], \"output\": \"head\", "
    "\"output_activation\": \"%s\", \"default_layer\": \"%s\", \"nodes\": [%s]}",
    MEAN[0], MEAN[1], MEAN[2], STD[0], STD[1], STD[2], size_multiple, classes, activation,
    default_layer, b->nodes->str);
  const char *keys[] = {"segcam.format", "segcam.graph", NULL}, *values[] = {"1", graph, NULL};
  GError *error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("test-seggradcam-XXXXXX.safetensors", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (segcam_safetensors_write (path, (segcam_tensor *) b->tensors->data,
                                           (int) b->tensors->len, keys, values, &error));
  g_assert_no_error (error);
  segcam_model *m = segcam_model_load (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_free (path);
  g_free (graph);
  for (guint i = 0; i < b->tensors->len; i++)
    {
      segcam_tensor *t = &g_array_index (b->tensors, segcam_tensor, i);
      g_free (t->name);
      g_free (t->data);
    }
  g_array_free (b->tensors, TRUE);
  g_string_free (b->nodes, TRUE);
  g_rand_free (b->rand);
  return m;
}

#define THREE_CLASSES \
  "{\"name\": \"sky\", \"color\": \"#0000ff\"}, {\"name\": \"grass\", \"color\": \"#00ff00\"}, " \
  "{\"name\": \"road\", \"color\": \"#808080\"}"
#define TWO_CLASSES \
  "{\"name\": \"background\", \"color\": \"#000000\"}, {\"name\": \"foreground\", \"color\": \"#ffffff\"}"

/* A small U-Net with every op: conv + batch norm + ReLU, max-pool, a bilinear and a transposed
 * upsampling, a three-way concat with a skip (whose gradient the default target does not need),
 * a residual add and a 1x1 head; 3 classes, softmax. */
static segcam_model *make_unet (void)
{
  builder b;
  builder_init (&b, 11);
  add_conv_bn_relu (&b, "enc1", "input", 3, 8);
  add_node (&b, "{\"name\": \"pool1\", \"op\": \"maxpool2d\", \"inputs\": [\"enc1.relu\"], \"kernel\": [2, 2]}");
  add_conv (&b, "conv2d", "mid.conv", "pool1", 8, 8, 3, P1);
  add_node (&b, "{\"name\": \"mid.relu\", \"op\": \"relu\", \"inputs\": [\"mid.conv\"]}");
  add_node (&b, "{\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"mid.relu\"], \"scale\": [2, 2], "
            "\"mode\": \"bilinear\"}");
  add_conv (&b, "conv_transpose2d", "upt", "mid.relu", 8, 4, 2, "\"stride\": [2, 2]");
  add_node (&b, "{\"name\": \"cat\", \"op\": \"concat\", \"inputs\": [\"up\", \"upt\", \"enc1.relu\"]}");
  add_conv (&b, "conv2d", "dec.conv", "cat", 20, 8, 3, P1);
  add_node (&b, "{\"name\": \"dec.relu\", \"op\": \"relu\", \"inputs\": [\"dec.conv\"]}");
  add_node (&b, "{\"name\": \"res\", \"op\": \"add\", \"inputs\": [\"dec.relu\", \"enc1.relu\"]}");
  add_conv (&b, "conv2d", "head", "res", 8, 3, 1, NULL);
  return builder_finish (&b, 4, THREE_CLASSES, "softmax", "mid.relu");
}

/* Smooth (sigmoid, conv, bilinear) so that finite differences of the score are accurate. */
static segcam_model *make_smooth (gboolean one_channel_sigmoid)
{
  builder b;
  builder_init (&b, 23);
  add_conv (&b, "conv2d", "c1", "input", 3, 6, 3, P1);
  add_node (&b, "{\"name\": \"s1\", \"op\": \"sigmoid\", \"inputs\": [\"c1\"]}");
  add_conv (&b, "conv2d", "c2", "s1", 6, 6, 3, P1 ", \"stride\": [2, 2]");
  add_node (&b, "{\"name\": \"s2\", \"op\": \"sigmoid\", \"inputs\": [\"c2\"]}");
  add_node (&b, "{\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"s2\", \"s1\"], \"mode\": \"bilinear\"}");
  add_node (&b, "{\"name\": \"cat\", \"op\": \"concat\", \"inputs\": [\"up\", \"s1\"]}");
  add_conv (&b, "conv2d", "head", "cat", 12, one_channel_sigmoid ? 1 : 3, 1, NULL);
  return builder_finish (&b, 4, one_channel_sigmoid ? TWO_CLASSES : THREE_CLASSES,
                         one_channel_sigmoid ? "sigmoid" : "softmax", "s1");
}

/* A one-channel sigmoid model (background, foreground) with ReLU and max-pool. */
static segcam_model *make_sigmoid (void)
{
  builder b;
  builder_init (&b, 37);
  add_conv (&b, "conv2d", "enc.conv", "input", 3, 8, 3, P1);
  add_node (&b, "{\"name\": \"enc.relu\", \"op\": \"relu\", \"inputs\": [\"enc.conv\"]}");
  add_node (&b, "{\"name\": \"pool\", \"op\": \"maxpool2d\", \"inputs\": [\"enc.relu\"], \"kernel\": [2, 2]}");
  add_conv (&b, "conv2d", "mid.conv", "pool", 8, 8, 3, P1);
  add_node (&b, "{\"name\": \"mid.relu\", \"op\": \"relu\", \"inputs\": [\"mid.conv\"]}");
  add_node (&b, "{\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"mid.relu\"], \"scale\": [2, 2]}");
  add_conv (&b, "conv2d", "head", "up", 8, 1, 1, NULL);
  return builder_finish (&b, 2, TWO_CLASSES, "sigmoid", "mid.relu");
}

/* Two branches from the input: T = relu (conv (x)) and X = relu (conv (x)); the logits are
 * head_a (T) + head_b (X), and head_a's row for class 2 is zero. Class 2's logits then do not
 * depend on T at all: dS/dT = 0 exactly, so alpha = 0 and the map at T must be all zero (with
 * raw_max 0), although S itself is not zero (X carries the class). */
static segcam_model *make_zero_branch (void)
{
  builder b;
  builder_init (&b, 41);
  add_conv (&b, "conv2d", "t.conv", "input", 3, 6, 3, P1);
  add_node (&b, "{\"name\": \"t.relu\", \"op\": \"relu\", \"inputs\": [\"t.conv\"]}");
  add_conv (&b, "conv2d", "x.conv", "input", 3, 6, 3, P1);
  add_node (&b, "{\"name\": \"x.relu\", \"op\": \"relu\", \"inputs\": [\"x.conv\"]}");
  float *wa = add_conv (&b, "conv2d", "head_a", "t.relu", 6, 3, 1, NULL);
  memset (wa + 2 * 6, 0, 6 * sizeof (float)); /* weight [3][6][1][1]: class 2's row */
  add_conv (&b, "conv2d", "head_b", "x.relu", 6, 3, 1, NULL);
  add_node (&b, "{\"name\": \"head\", \"op\": \"add\", \"inputs\": [\"head_a\", \"head_b\"]}");
  return builder_finish (&b, 1, THREE_CLASSES, "softmax", "t.relu");
}

/* Every shape of the fast path's steps (fuse.c): chains conv + BN + ReLU, conv + ReLU, conv + BN
 * feeding an add, and a concat [upsampled, skip] read in place by its conv. */
static segcam_model *make_wide_unet (void)
{
  builder b;
  builder_init (&b, 47);
  add_conv_bn_relu (&b, "e1", "input", 3, 16);
  add_conv_bn_relu (&b, "e2", "e1.relu", 16, 16);
  add_node (&b, "{\"name\": \"pool\", \"op\": \"maxpool2d\", \"inputs\": [\"e2.relu\"], \"kernel\": [2, 2]}");
  add_conv_bn_relu (&b, "m1", "pool", 16, 32);
  add_conv (&b, "conv2d", "m2.conv", "m1.relu", 32, 32, 3, P1);
  add_node (&b, "{\"name\": \"m2.relu\", \"op\": \"relu\", \"inputs\": [\"m2.conv\"]}");
  add_node (&b, "{\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"m2.relu\"], \"scale\": [2, 2], "
            "\"mode\": \"bilinear\"}");
  add_node (&b, "{\"name\": \"cat\", \"op\": \"concat\", \"inputs\": [\"up\", \"e2.relu\"]}");
  add_conv_bn_relu (&b, "d1", "cat", 48, 16);
  add_conv (&b, "conv2d", "d2.conv", "d1.relu", 16, 16, 3, P1);
  add_batchnorm (&b, "d2.bn", "d2.conv", 16);
  add_node (&b, "{\"name\": \"res\", \"op\": \"add\", \"inputs\": [\"d2.bn\", \"e2.relu\"]}");
  add_conv (&b, "conv2d", "head", "res", 16, 3, 1, NULL);
  return builder_finish (&b, 2, THREE_CLASSES, "softmax", "m2.relu");
}

/* Two 2x2 max-pools and size multiple 1: a 1x1 image leaves nothing after the first. */
static segcam_model *make_two_pools (void)
{
  builder b;
  builder_init (&b, 43);
  add_conv (&b, "conv2d", "c", "input", 3, 4, 3, P1);
  add_node (&b, "{\"name\": \"p1\", \"op\": \"maxpool2d\", \"inputs\": [\"c\"], \"kernel\": [2, 2]}");
  add_node (&b, "{\"name\": \"p2\", \"op\": \"maxpool2d\", \"inputs\": [\"p1\"], \"kernel\": [2, 2]}");
  add_node (&b, "{\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"p2\", \"c\"]}");
  add_conv (&b, "conv2d", "head", "up", 4, 3, 1, NULL);
  return builder_finish (&b, 1, THREE_CLASSES, "softmax", "p2");
}

/* ---- running ------------------------------------------------------------------------------- */

static float *random_image (guint32 seed, int width, int height)
{
  GRand *r = g_rand_new_with_seed (seed);
  size_t n = (size_t) width * height * 3;
  float *px = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    px[i] = (float) g_rand_double_range (r, 0.05, 0.95);
  g_rand_free (r);
  return px;
}

/* Fractional ROI weights in [lo, hi] with about a quarter of the pixels at zero. */
static float *random_roi (guint32 seed, int width, int height, double hi)
{
  GRand *r = g_rand_new_with_seed (seed);
  size_t n = (size_t) width * height;
  float *roi = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    roi[i] = g_rand_int_range (r, 0, 4) ? (float) g_rand_double_range (r, 0, hi) : 0;
  g_rand_free (r);
  return roi;
}

static segcam_session *session_run (const segcam_model *m, int width, int height, int layer,
                                    int threads, const float *pixels)
{
  segcam_session_options o = {.width = width, .height = height, .layer = layer, .explain = TRUE,
                              .n_threads = threads};
  GError *error = NULL;
  segcam_session *s = segcam_session_new (m, &o, &error);
  g_assert_no_error (error);
  g_assert_true (segcam_session_forward (s, pixels, &error));
  g_assert_no_error (error);
  return s;
}

typedef struct {
  float *map;             /* width x height */
  float *cam;             /* L: h x w of the target */
  int h, w;
  segcam_explain_info info;
} explanation;

static explanation explain_with (segcam_session *s, int width, int height,
                                 const segcam_explain_options *o, const float *roi)
{
  explanation e = {g_new (float, (size_t) width * height)};
  GError *error = NULL;
  if (!segcam_session_explain (s, o, roi, e.map, &e.info, &error))
    g_error ("explain: %s", error->message);
  const float *cam = segcam_session_cam (s, &e.h, &e.w);
  e.cam = g_memdup2 (cam, (size_t) e.h * e.w * sizeof (float));
  return e;
}

static explanation explain (segcam_session *s, int width, int height, int class_index,
                            SegcamScore score, SegcamWeights weights, gboolean normalize,
                            const float *roi)
{
  segcam_explain_options o = {class_index, score, weights, normalize};
  return explain_with (s, width, height, &o, roi);
}

static void explanation_clear (explanation *e)
{
  g_free (e->map);
  g_free (e->cam);
}

static double max_abs (const float *a, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = MAX (m, fabs (a[i]));
  return m;
}

/* Bit-identical, or a message naming the first difference. */
static void assert_identical (const float *a, const float *b, size_t n, const char *what)
{
  for (size_t i = 0; i < n; i++)
    if (memcmp (&a[i], &b[i], sizeof (float)) != 0)
      g_error ("%s differs at %zu: %.9g vs %.9g", what, i, a[i], b[i]);
}

static void assert_same_explanation (const explanation *a, const explanation *b, int width,
                                     int height, const char *what)
{
  g_assert_cmpint (a->h, ==, b->h);
  g_assert_cmpint (a->w, ==, b->w);
  char *m = g_strdup_printf ("%s: map", what), *c = g_strdup_printf ("%s: cam", what);
  assert_identical (a->map, b->map, (size_t) width * height, m);
  assert_identical (a->cam, b->cam, (size_t) a->h * a->w, c);
  g_assert_cmpfloat (a->info.raw_max, ==, b->info.raw_max);
  g_assert_cmpfloat (a->info.score, ==, b->info.score);
  g_free (m);
  g_free (c);
}

/* ---- the gradient, checked by finite differences of the score ----------------------------- */

/* Solves the 3x3 system a x = y (Gaussian elimination with partial pivoting). */
static void solve3 (double a[3][3], double y[3], double x[3])
{
  for (int c = 0; c < 3; c++)
    {
      int p = c;
      for (int r = c + 1; r < 3; r++)
        if (fabs (a[r][c]) > fabs (a[p][c]))
          p = r;
      for (int k = 0; k < 3; k++)
        {
          double t = a[c][k];
          a[c][k] = a[p][k], a[p][k] = t;
        }
      double t = y[c];
      y[c] = y[p], y[p] = t;
      for (int r = c + 1; r < 3; r++)
        {
          double f = a[r][c] / a[c][c];
          for (int k = c; k < 3; k++)
            a[r][k] -= f * a[c][k];
          y[r] -= f * y[c];
        }
    }
  for (int c = 2; c >= 0; c--)
    {
      double s = y[c];
      for (int k = c + 1; k < 3; k++)
        s -= a[c][k] * x[k];
      x[c] = s / a[c][c];
    }
}

/* The preprocessed, padded image (docs/model-format.md, 'Graph'): channel k at padded pixel (y, x). */
static double input_activation (const float *px, int width, int height, int y, int x, int k)
{
  size_t q = ((size_t) MIN (y, height - 1) * width + MIN (x, width - 1)) * 3 + k;
  return ((double) px[q] - MEAN[k]) / STD[k];
}

/* max |cam - sum_k f(alpha_k) A_k| / max |cam| */
static double cam_residual (const explanation *e, const float *px, int width, int height,
                            const double alpha[3])
{
  double worst = 0;
  for (int y = 0; y < e->h; y++)
    for (int x = 0; x < e->w; x++)
      {
        double v = 0;
        for (int k = 0; k < 3; k++)
          v += alpha[k] * input_activation (px, width, height, y, x, k);
        worst = MAX (worst, fabs (v - e->cam[(size_t) y * e->w + x]));
      }
  double scale = max_abs (e->cam, (size_t) e->h * e->w);
  return scale > 0 ? worst / scale : worst;
}

typedef struct {
  gboolean one_channel;
  int class_index;
  SegcamScore score;
} fd_case;

static void test_gradient_fd (gconstpointer data)
{
  const fd_case *fc = data;
  const int width = 23, height = 17; /* padded to 24 x 20: the padding is part of the check */
  segcam_model *m = make_smooth (fc->one_channel);
  float *px = random_image (1, width, height);
  float *roi = random_roi (2, width, height, 1.0);
  int input = segcam_model_find_node (m, "input");
  segcam_session *s = session_run (m, width, height, input, 2, px);

  /* alpha from the map: L = sum_k alpha_k A_k is a 3-unknown least-squares fit. */
  explanation mean = explain (s, width, height, fc->class_index, fc->score, SEGCAM_WEIGHTS_MEAN,
                              FALSE, roi);
  double ata[3][3] = {{0}}, atl[3] = {0}, alpha[3];
  for (int y = 0; y < mean.h; y++)
    for (int x = 0; x < mean.w; x++)
      for (int i = 0; i < 3; i++)
        {
          double ai = input_activation (px, width, height, y, x, i);
          atl[i] += ai * mean.cam[(size_t) y * mean.w + x];
          for (int j = 0; j < 3; j++)
            ata[i][j] += ai * input_activation (px, width, height, y, x, j);
        }
  solve3 (ata, atl, alpha);
  double fit = cam_residual (&mean, px, width, height, alpha);

  /* alpha from finite differences: shifting channel k of every pixel by t shifts every padded
   * A_k by t / std_k, so dS/dt = sum_uv G_k,uv / std_k = hp wp alpha_k / std_k. */
  const double t = 1e-2;
  double alpha_fd[3], worst = 0, scale = 0;
  for (int k = 0; k < 3; k++)
    {
      double score[2];
      for (int side = 0; side < 2; side++)
        {
          float *shifted = g_memdup2 (px, (size_t) width * height * 3 * sizeof (float));
          for (size_t i = k; i < (size_t) width * height * 3; i += 3)
            shifted[i] += (float) (side ? -t : t);
          GError *error = NULL;
          g_assert_true (segcam_session_forward (s, shifted, &error));
          explanation e = explain (s, width, height, fc->class_index, fc->score,
                                   SEGCAM_WEIGHTS_MEAN, FALSE, roi);
          score[side] = e.info.score;
          explanation_clear (&e);
          g_free (shifted);
        }
      alpha_fd[k] = (score[0] - score[1]) / (2 * t) * STD[k] / ((double) mean.h * mean.w);
      worst = MAX (worst, fabs (alpha_fd[k] - alpha[k]));
      scale = MAX (scale, fabs (alpha_fd[k]));
    }
  double err = worst / scale;

  /* abs and relu weights: the same fit with |alpha| and max (alpha, 0). */
  GError *error = NULL;
  g_assert_true (segcam_session_forward (s, px, &error));
  explanation ea = explain (s, width, height, fc->class_index, fc->score, SEGCAM_WEIGHTS_ABS, FALSE, roi);
  explanation er = explain (s, width, height, fc->class_index, fc->score, SEGCAM_WEIGHTS_RELU, FALSE, roi);
  double alpha_abs[3], alpha_relu[3];
  for (int k = 0; k < 3; k++)
    alpha_abs[k] = fabs (alpha[k]), alpha_relu[k] = MAX (alpha[k], 0);
  double err_abs = cam_residual (&ea, px, width, height, alpha_abs);
  double err_relu = cam_residual (&er, px, width, height, alpha_relu);
  /* all weights <= 0: the relu map is zero and so is its reference; check it is exactly zero */
  if (alpha_relu[0] == 0 && alpha_relu[1] == 0 && alpha_relu[2] == 0)
    g_assert_cmpfloat (max_abs (er.cam, (size_t) er.h * er.w), ==, 0);

  g_test_message ("alpha (fit) %+.6f %+.6f %+.6f, (FD) %+.6f %+.6f %+.6f: FD error %.1e, fit "
                  "residual %.1e, abs %.1e, relu %.1e", alpha[0], alpha[1], alpha[2], alpha_fd[0],
                  alpha_fd[1], alpha_fd[2], err, fit, err_abs, err_relu);
  g_assert_cmpfloat (err, <=, 2e-3);
  g_assert_cmpfloat (fit, <=, 1e-5);
  g_assert_cmpfloat (err_abs, <=, 1e-5);
  g_assert_cmpfloat (err_relu, <=, 1e-5);
  /* Mixed signs make the abs and relu checks meaningful (the seeds are chosen so). */
  g_assert_true (MIN (MIN (alpha[0], alpha[1]), alpha[2]) < 0);
  g_assert_true (MAX (MAX (alpha[0], alpha[1]), alpha[2]) > 0);

  explanation_clear (&mean);
  explanation_clear (&ea);
  explanation_clear (&er);
  segcam_session_free (s);
  segcam_model_free (m);
  g_free (px);
  g_free (roi);
}

/* ---- linearity in the ROI ------------------------------------------------------------------ */

/* L is linear in the ROI M wherever the method is linear in G (S and G are, with logits):
 * Seg-Grad-CAM, HiResCAM, XGrad-CAM and Seg-XRes-CAM with mean pooling; not Grad-CAM++,
 * Layer-CAM or max pooling, whose weights clip or pick. */
static void test_linearity (void)
{
  const int width = 37, height = 29;
  const double a = 0.3, b = 0.6;
  segcam_model *m = make_unet ();
  float *px = random_image (3, width, height);
  float *m1 = random_roi (4, width, height, 1.0), *m2 = random_roi (5, width, height, 1.0);
  size_t n = (size_t) width * height;
  float *mix = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    mix[i] = (float) (a * m1[i] + b * m2[i]);
  static const char *const layers[] = {"mid.relu", "enc1.relu", "cat", "head"};
  static const segcam_explain_options methods[] = {
    {.method = SEGCAM_METHOD_SEG_GRAD_CAM},
    {.method = SEGCAM_METHOD_HIRES},
    {.method = SEGCAM_METHOD_XGRAD},
    {.method = SEGCAM_METHOD_XRES, .pool = 3, .pool_mode = SEGCAM_POOL_MEAN},
  };
  for (size_t l = 0; l < G_N_ELEMENTS (layers); l++)
    for (int c = 0; c < 3; c++)
      {
        segcam_session *s = session_run (m, width, height, segcam_model_find_node (m, layers[l]), 2, px);
        for (size_t k = 0; k < G_N_ELEMENTS (methods); k++)
          {
            segcam_explain_options o = methods[k];
            o.class_index = c;
            o.normalize = TRUE;
            explanation e1 = explain_with (s, width, height, &o, m1);
            explanation e2 = explain_with (s, width, height, &o, m2);
            explanation em = explain_with (s, width, height, &o, mix);
            size_t hw = (size_t) em.h * em.w;
            double worst = 0;
            for (size_t i = 0; i < hw; i++)
              worst = MAX (worst, fabs (em.cam[i] - (a * e1.cam[i] + b * e2.cam[i])));
            double err = worst / max_abs (em.cam, hw);
            double score_err = fabs (em.info.score - (a * e1.info.score + b * e2.info.score))
                               / fabs (em.info.score);
            g_test_message ("%-12s layer %-9s class %d: %dx%d map, linearity error %.1e, score %.1e",
                            segcam_method_name (o.method), layers[l], c, em.h, em.w, err, score_err);
            g_assert_cmpfloat (err, <=, 1e-5);
            g_assert_cmpfloat (score_err, <=, 1e-6);
            g_assert_cmpfloat (fabs (em.info.roi_weight - (a * e1.info.roi_weight + b * e2.info.roi_weight)),
                               <=, 1e-3);
            explanation_clear (&e1);
            explanation_clear (&e2);
            explanation_clear (&em);
          }
        segcam_session_free (s);
      }
  g_free (mix);
  g_free (m1);
  g_free (m2);
  g_free (px);
  segcam_model_free (m);
}

/* ---- the methods' relations ---------------------------------------------------------------- */

/* max |a - b| / max |b| over the target maps, after checking they are not all zero. */
static double cam_difference (const explanation *a, const explanation *b)
{
  size_t hw = (size_t) b->h * b->w;
  g_assert_cmpint (a->h * a->w, ==, hw);
  double worst = 0, scale = max_abs (b->cam, hw);
  g_assert_cmpfloat (scale, >, 0);
  for (size_t i = 0; i < hw; i++)
    worst = MAX (worst, fabs ((double) a->cam[i] - b->cam[i]));
  return worst / scale;
}

/* Seg-XRes-CAM spans the two: one block covering the map with mean pooling is Seg-Grad-CAM, and
 * 1 x 1 blocks (either mode) are HiResCAM. Odd sizes leave blocks cut short at the edges. */
static void test_xres_limits (void)
{
  const int width = 37, height = 29;
  segcam_model *m = make_unet ();
  float *px = random_image (31, width, height), *roi = random_roi (32, width, height, 1.0);
  static const char *const layers[] = {"mid.relu", "enc1.relu", "cat", "input"};
  for (size_t l = 0; l < G_N_ELEMENTS (layers); l++)
    for (int score = 0; score <= 1; score++)
      {
        segcam_session *s = session_run (m, width, height, segcam_model_find_node (m, layers[l]), 2, px);
        segcam_explain_options o = {.class_index = 1, .score = score, .normalize = TRUE};
        explanation grad_cam = explain_with (s, width, height, &o, roi);
        o.method = SEGCAM_METHOD_HIRES;
        explanation hires = explain_with (s, width, height, &o, roi);
        o.method = SEGCAM_METHOD_XRES;
        o.pool_mode = SEGCAM_POOL_MEAN;
        o.pool = MAX (hires.h, hires.w);
        explanation whole = explain_with (s, width, height, &o, roi);
        o.pool = 1000;
        explanation larger = explain_with (s, width, height, &o, roi);
        o.pool = 1;
        explanation one_mean = explain_with (s, width, height, &o, roi);
        o.pool_mode = SEGCAM_POOL_MAX;
        explanation one_max = explain_with (s, width, height, &o, roi);
        double d[] = {cam_difference (&whole, &grad_cam), cam_difference (&larger, &grad_cam),
                      cam_difference (&one_mean, &hires), cam_difference (&one_max, &hires)};
        g_test_message ("layer %-9s %dx%d: whole block vs seg-grad-cam %.1e (%.1e), 1x1 vs hires %.1e, %.1e",
                        layers[l], hires.h, hires.w, d[0], d[1], d[2], d[3]);
        g_assert_cmpfloat (d[0], <=, 1e-6);
        g_assert_cmpfloat (d[1], <=, 1e-6);
        g_assert_cmpfloat (d[2], ==, 0);
        g_assert_cmpfloat (d[3], ==, 0);
        /* and the two limits differ, or the checks above would be vacuous */
        g_assert_cmpfloat (cam_difference (&hires, &grad_cam), >, 1e-3);
        explanation e[] = {grad_cam, hires, whole, larger, one_mean, one_max};
        for (size_t i = 0; i < G_N_ELEMENTS (e); i++)
          explanation_clear (&e[i]);
        segcam_session_free (s);
      }
  g_free (px);
  g_free (roi);
  segcam_model_free (m);
}

/* A head whose weights are all positive after a ReLU: with the logits score every gradient at the
 * ReLU is >= 0, so Layer-CAM's ReLU (G) is G and its map is HiResCAM's. */
static segcam_model *make_positive_head (void)
{
  builder b;
  builder_init (&b, 53);
  add_conv (&b, "conv2d", "c1", "input", 3, 6, 3, P1);
  add_node (&b, "{\"name\": \"r1\", \"op\": \"relu\", \"inputs\": [\"c1\"]}");
  float *w = add_conv (&b, "conv2d", "head", "r1", 6, 3, 3, P1);
  for (int i = 0; i < 3 * 6 * 3 * 3; i++)
    w[i] = fabsf (w[i]);
  return builder_finish (&b, 1, THREE_CLASSES, "softmax", "r1");
}

static void test_layer_positive (void)
{
  const int width = 23, height = 17;
  float *px = random_image (33, width, height), *roi = random_roi (34, width, height, 1.0);
  segcam_model *pos = make_positive_head (), *unet = make_unet ();
  for (int c = 0; c < 3; c++)
    {
      segcam_session *s = session_run (pos, width, height, -1, 2, px);
      segcam_explain_options o = {.class_index = c, .normalize = TRUE, .method = SEGCAM_METHOD_LAYER};
      explanation layer = explain_with (s, width, height, &o, roi);
      o.method = SEGCAM_METHOD_HIRES;
      explanation hires = explain_with (s, width, height, &o, roi);
      g_assert_cmpfloat (cam_difference (&layer, &hires), ==, 0);
      assert_identical (layer.map, hires.map, (size_t) width * height, "layer vs hires map");
      explanation_clear (&layer);
      explanation_clear (&hires);
      segcam_session_free (s);
    }
  /* With gradients of both signs they differ. */
  segcam_session *s = session_run (unet, width, height, -1, 2, px);
  segcam_explain_options o = {.class_index = 1, .normalize = TRUE, .method = SEGCAM_METHOD_LAYER};
  explanation layer = explain_with (s, width, height, &o, roi);
  o.method = SEGCAM_METHOD_HIRES;
  explanation hires = explain_with (s, width, height, &o, roi);
  g_assert_cmpfloat (cam_difference (&layer, &hires), >, 1e-3);
  explanation_clear (&layer);
  explanation_clear (&hires);
  segcam_session_free (s);
  segcam_model_free (pos);
  segcam_model_free (unet);
  g_free (px);
  g_free (roi);
}

/* EigenCAM reads only the activation: every class, ROI and score gives the same bits. */
static void test_eigen_class_agnostic (void)
{
  const int width = 37, height = 29;
  segcam_model *m = make_unet ();
  float *px = random_image (35, width, height);
  float *r1 = random_roi (36, width, height, 1.0), *r2 = random_roi (37, width, height, 0.5);
  g_assert_true (segcam_method_is_class_agnostic (SEGCAM_METHOD_EIGEN));
  g_assert_false (segcam_method_is_class_agnostic (SEGCAM_METHOD_HIRES));
  static const char *const layers[] = {"mid.relu", "enc1.relu", "cat", "input"};
  for (size_t l = 0; l < G_N_ELEMENTS (layers); l++)
    {
      int node = segcam_model_find_node (m, layers[l]);
      segcam_session *s = session_run (m, width, height, node, 2, px);
      segcam_explain_options o = {.class_index = 0, .normalize = TRUE, .method = SEGCAM_METHOD_EIGEN};
      explanation first = explain_with (s, width, height, &o, r1);
      g_assert_cmpfloat (max_abs (first.cam, (size_t) first.h * first.w), >, 0);
      for (int c = 0; c < 3; c++)
        for (int score = 0; score <= 1; score++)
          {
            o.class_index = c;
            o.score = score;
            explanation e = explain_with (s, width, height, &o, c % 2 ? r2 : NULL);
            assert_identical (e.cam, first.cam, (size_t) e.h * e.w, "eigen cam across classes");
            assert_identical (e.map, first.map, (size_t) width * height, "eigen map across classes");
            explanation_clear (&e);
          }
      explanation_clear (&first);
      segcam_session_free (s);
    }
  g_free (px);
  g_free (r1);
  g_free (r2);
  segcam_model_free (m);
}

/* EigenCAM at the input, where A is the preprocessed image (edge-replicated into the padding)
 * and K = 3: the covariance's top eigenvector by plain power iteration, signed so that its
 * components sum to >= 0, and L = (A - mean) v. */
static void test_eigen_input (void)
{
  const int width = 31, height = 22;
  segcam_model *m = make_unet ();
  float *px = random_image (38, width, height);
  segcam_session *s = session_run (m, width, height, 0, 2, px);
  segcam_explain_options o = {.normalize = TRUE, .method = SEGCAM_METHOD_EIGEN};
  explanation e = explain_with (s, width, height, &o, NULL);
  size_t hw = (size_t) e.h * e.w;
  double mean[3] = {0}, cov[3][3] = {{0}}, v[3] = {1, 1, 1};
  for (int y = 0; y < e.h; y++)
    for (int x = 0; x < e.w; x++)
      for (int k = 0; k < 3; k++)
        mean[k] += input_activation (px, width, height, y, x, k) / (double) hw;
  for (int y = 0; y < e.h; y++)
    for (int x = 0; x < e.w; x++)
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
          cov[i][j] += (input_activation (px, width, height, y, x, i) - mean[i])
                       * (input_activation (px, width, height, y, x, j) - mean[j]);
  for (int iter = 0; iter < 10000; iter++)
    {
      double t[3] = {0}, norm = 0;
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
          t[i] += cov[i][j] * v[j];
      for (int i = 0; i < 3; i++)
        norm += t[i] * t[i];
      for (int i = 0; i < 3; i++)
        v[i] = t[i] / sqrt (norm);
    }
  double sign = v[0] + v[1] + v[2] < 0 ? -1 : 1, worst = 0;
  for (int y = 0; y < e.h; y++)
    for (int x = 0; x < e.w; x++)
      {
        double l = 0;
        for (int k = 0; k < 3; k++)
          l += sign * (input_activation (px, width, height, y, x, k) - mean[k]) * v[k];
        worst = MAX (worst, fabs (l - e.cam[(size_t) y * e.w + x]));
      }
  double err = worst / max_abs (e.cam, hw);
  g_test_message ("eigen at the input, %dx%d: relative error %.1e", e.h, e.w, err);
  g_assert_cmpfloat (err, <=, 1e-5);
  explanation_clear (&e);
  segcam_session_free (s);
  g_free (px);
  segcam_model_free (m);
}

/* ---- a class that does not depend on the target ------------------------------------------- */

static void test_independent_class (void)
{
  const int width = 19, height = 14;
  segcam_model *m = make_zero_branch ();
  float *px = random_image (6, width, height);
  float *roi = random_roi (7, width, height, 1.0);
  segcam_session *s = session_run (m, width, height, -1, 2, px);
  /* Only with the logits score: class 2's probability depends on T through the other classes'
   * logits in the softmax. */
  for (int normalize = 0; normalize <= 1; normalize++)
    {
      explanation e = explain (s, width, height, 2, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN,
                               normalize, roi);
      g_assert_cmpfloat (e.info.raw_max, ==, 0);
      g_assert_cmpfloat (fabs (e.info.score), >, 0);
      g_assert_cmpfloat (max_abs (e.cam, (size_t) e.h * e.w), ==, 0);
      g_assert_cmpfloat (max_abs (e.map, (size_t) width * height), ==, 0);
      explanation_clear (&e);
    }
  /* The construction is not vacuous: a class that uses T gets a map. */
  explanation e0 = explain (s, width, height, 0, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, roi);
  g_assert_cmpfloat (max_abs (e0.cam, (size_t) e0.h * e0.w), >, 0);
  explanation_clear (&e0);
  segcam_session_free (s);
  segcam_model_free (m);
  g_free (px);
  g_free (roi);
}

/* ---- threads and repetition ------------------------------------------------------------------ */

typedef struct {
  double last;
  int calls;
  gboolean ended;
} progress_log;

static void on_progress (double fraction, const char *what, void *data)
{
  progress_log *p = data;
  g_assert_cmpfloat (fraction, >=, p->last);
  g_assert_cmpfloat (fraction, <=, 1);
  g_assert_nonnull (what);
  p->last = fraction;
  p->calls++;
  p->ended = fraction == 1;
}

/* ---- the methods that rerun the network (Score-CAM, Ablation-CAM) -------------------------- */

/* S of class 1 over the whole image for pixels, through the public API alone. */
static double public_score (const segcam_model *m, int width, int height, const float *px)
{
  segcam_session *s = session_run (m, width, height, 0, 1, px);
  explanation e = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, NULL);
  double score = e.info.score;
  explanation_clear (&e);
  segcam_session_free (s);
  return score;
}

/* At the input, A is the preprocessed image (padding repeated), so both methods' perturbations
 * are images: ablating channel k is the image with channel k at the model's mean; Score-CAM's
 * mask of channel k is A_k itself (the bilinear resize to the padded size is the identity),
 * min-max normalised over the image. Each S_k then comes from its own session, and the maps
 * from the formulas of docs/methods.md. */
static void test_rerun_input (void)
{
  const int width = 31, height = 22, n = width * height;
  segcam_model *m = make_unet ();
  float *px = random_image (41, width, height), *alt = g_new (float, 3 * n);
  double s0 = public_score (m, width, height, px), weight[2][3];
  for (int k = 0; k < 3; k++)
    {
      memcpy (alt, px, 3 * n * sizeof (float));
      for (int i = 0; i < n; i++)
        alt[3 * i + k] = MEAN[k];
      weight[0][k] = (s0 - public_score (m, width, height, alt)) / s0;
      float lo = INFINITY, hi = -INFINITY;
      for (int i = 0; i < n; i++)
        lo = MIN (lo, (px[3 * i + k] - MEAN[k]) / STD[k]), hi = MAX (hi, (px[3 * i + k] - MEAN[k]) / STD[k]);
      for (int i = 0; i < n; i++)
        {
          double h = ((px[3 * i + k] - MEAN[k]) / STD[k] - lo) / (hi - lo + 1e-8);
          for (int j = 0; j < 3; j++)
            alt[3 * i + j] = (float) (MEAN[j] + (px[3 * i + j] - MEAN[j]) * h);
        }
      weight[1][k] = public_score (m, width, height, alt);
    }
  double top = MAX (weight[1][0], MAX (weight[1][1], weight[1][2])), total = 0;
  for (int k = 0; k < 3; k++)
    total += weight[1][k] = exp (weight[1][k] - top);
  for (int k = 0; k < 3; k++)
    weight[1][k] /= total;

  segcam_session *s = session_run (m, width, height, 0, 2, px);
  explanation before = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, NULL);
  static const SegcamMethod methods[2] = {SEGCAM_METHOD_ABLATION, SEGCAM_METHOD_SCORE};
  for (int t = 0; t < 2; t++)
    {
      progress_log log = {0};
      segcam_session_free (s);
      segcam_session_options so = {width, height, 0, TRUE, 2, on_progress, &log};
      GError *error = NULL;
      s = segcam_session_new (m, &so, &error);
      g_assert_true (segcam_session_forward (s, px, &error));
      log = (progress_log) {0};
      segcam_explain_options o = {.class_index = 1, .normalize = TRUE, .method = methods[t], .pixels = px};
      explanation e = explain_with (s, width, height, &o, NULL);
      g_assert_cmpint (log.calls, ==, 3); /* one report per channel */
      g_assert_true (log.ended);
      double worst = 0;
      for (int y = 0; y < e.h; y++)
        for (int x = 0; x < e.w; x++)
          {
            double l = 0;
            for (int k = 0; k < 3; k++)
              l += weight[t][k] * input_activation (px, width, height, y, x, k);
            worst = MAX (worst, fabs (l - e.cam[(size_t) y * e.w + x]));
          }
      double err = worst / max_abs (e.cam, (size_t) e.h * e.w);
      g_test_message ("%s at the input: relative error %.1e", segcam_method_name (methods[t]), err);
      g_assert_cmpfloat (err, <=, 2e-5);
      g_assert_cmpfloat_with_epsilon (e.info.score, s0, 1e-5 * fabs (s0));

      /* One channel: the one of highest mean activation, with its weight from the full run
       * for Ablation-CAM (weights are per channel), alone in the softmax for Score-CAM (1). */
      double mean[3] = {0};
      for (int y = 0; y < e.h; y++)
        for (int x = 0; x < e.w; x++)
          for (int k = 0; k < 3; k++)
            mean[k] += input_activation (px, width, height, y, x, k);
      int best = mean[1] > mean[0] ? 1 : 0;
      best = mean[2] > mean[best] ? 2 : best;
      o.max_channels = 1;
      explanation one = explain_with (s, width, height, &o, NULL);
      double w1 = t == 0 ? weight[0][best] : 1.0;
      worst = 0;
      for (int y = 0; y < e.h; y++)
        for (int x = 0; x < e.w; x++)
          worst = MAX (worst, fabs (w1 * input_activation (px, width, height, y, x, best)
                                    - one.cam[(size_t) y * e.w + x]));
      g_assert_cmpfloat (worst / max_abs (one.cam, (size_t) e.h * e.w), <=, 2e-5);

      /* The session is left as the forward pass on px left it. */
      explanation after = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE,
                                   NULL);
      assert_same_explanation (&before, &after, width, height, segcam_method_name (methods[t]));

      o.pixels = NULL;
      float *map = g_new (float, n);
      g_assert_false (segcam_session_explain (s, &o, NULL, map, NULL, &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
      g_assert_nonnull (strstr (error->message, "needs the image"));
      g_clear_error (&error);
      o.pixels = px;
      o.max_channels = -1;
      g_assert_false (segcam_session_explain (s, &o, NULL, map, NULL, &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
      g_clear_error (&error);
      g_free (map);
      explanation_clear (&e);
      explanation_clear (&one);
      explanation_clear (&after);
    }
  explanation_clear (&before);
  segcam_session_free (s);
  g_free (px);
  g_free (alt);
  segcam_model_free (m);
}


/* Images per Score-CAM pass at most (perturb.c): a cancelled run reports at most this many
 * channels per pass it ran. */
#define SCORE_BATCH_MAX 16

/* Cancelling Score-CAM and Ablation-CAM: asked before each pass, the callback's first TRUE stops
 * the explanation with SEGCAM_ERROR_CANCELLED after the passes before it (the progress reports
 * count their channels), and the session then explains exactly as a fresh one, with every
 * method, as if nothing had been cancelled. */
static void test_rerun_cancel (void)
{
  const int width = 22, height = 14;
  segcam_model *m = make_wide_unet ();
  float *px = random_image (53, width, height);
  static const SegcamMethod methods[2] = {SEGCAM_METHOD_ABLATION, SEGCAM_METHOD_SCORE};
  segcam_session *fresh = session_run (m, width, height, -1, 2, px);
  explanation fresh_sgc = explain (fresh, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN,
                                   TRUE, NULL);
  for (int t = 0; t < 2; t++)
    {
      segcam_explain_options o = {.class_index = 1, .normalize = TRUE, .method = methods[t], .pixels = px};
      explanation want = explain_with (fresh, width, height, &o, NULL);
      progress_log log = {0};
      segcam_session_options so = {width, height, -1, TRUE, 2, on_progress, &log};
      GError *error = NULL;
      segcam_session *s = segcam_session_new (m, &so, &error);
      g_assert_true (segcam_session_forward (s, px, &error));
      /* A callback that never stops changes nothing; its questions count the passes. */
      cancel_count never = {0, G_MAXINT};
      o.cancelled = cancel_after, o.cancel_data = &never;
      log = (progress_log) {0};
      explanation whole = explain_with (s, width, height, &o, NULL);
      assert_same_explanation (&want, &whole, width, height, "never cancelled");
      int channels = log.calls, passes = never.asked;
      g_assert_cmpint (channels, ==, 32); /* m2.relu */
      if (methods[t] == SEGCAM_METHOD_ABLATION)
        g_assert_cmpint (passes, ==, channels);
      else
        g_assert_cmpint (passes, >=, (channels + SCORE_BATCH_MAX - 1) / SCORE_BATCH_MAX);
      g_test_message ("%s: %d channels in %d passes", segcam_method_name (methods[t]), channels,
                      passes);
      float *map = g_new (float, (size_t) width * height);
      for (int k = 0; k < passes; k++)
        {
          cancel_count c = {0, k};
          o.cancel_data = &c;
          log = (progress_log) {0};
          g_assert_false (segcam_session_explain (s, &o, NULL, map, NULL, &error));
          g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_CANCELLED);
          g_assert_nonnull (strstr (error->message, "cancelled"));
          g_assert_null (strchr (error->message, '\n'));
          g_clear_error (&error);
          g_assert_cmpint (c.asked, ==, k + 1);
          g_assert_cmpint (log.calls, >=, k);
          g_assert_cmpint (log.calls, <=, k * (methods[t] == SEGCAM_METHOD_ABLATION ? 1 : SCORE_BATCH_MAX));
          g_assert_cmpint (log.calls, <, channels);
          g_assert_false (log.ended);

          /* The session is as before: the method and Seg-Grad-CAM as in a fresh session. */
          o.cancelled = NULL;
          log = (progress_log) {0};
          explanation again = explain_with (s, width, height, &o, NULL);
          assert_same_explanation (&want, &again, width, height, "after a cancel");
          explanation sgc = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN,
                                     TRUE, NULL);
          assert_same_explanation (&fresh_sgc, &sgc, width, height, "seg-grad-cam after a cancel");
          explanation_clear (&again);
          explanation_clear (&sgc);
          o.cancelled = cancel_after;
        }
      g_free (map);
      explanation_clear (&want);
      explanation_clear (&whole);
      segcam_session_free (s);
    }
  explanation_clear (&fresh_sgc);
  segcam_session_free (fresh);
  g_free (px);
  segcam_model_free (m);
}

static void test_threads (void)
{
  const int width = 200, height = 150;
  size_t n = (size_t) width * height;
  segcam_model *m = make_unet ();
  float *px = random_image (8, width, height);
  float *roi = g_new (float, n);
  g_assert_true (segcam_roi_rect (roi, width, height, 40, 30, 90, 70));
  float *probs[4];
  explanation e[4][2];
  for (int t = 0; t < 4; t++)
    {
      progress_log log = {0};
      segcam_session_options o = {.width = width, .height = height, .layer = -1, .explain = TRUE,
                                  .n_threads = t + 1, .progress = on_progress, .progress_data = &log};
      GError *error = NULL;
      segcam_session *s = segcam_session_new (m, &o, &error);
      g_assert_no_error (error);
      g_assert_true (segcam_session_forward (s, px, &error));
      g_assert_true (log.calls > 0 && log.ended);
      probs[t] = g_new (float, 3 * n);
      segcam_session_probabilities (s, probs[t]);
      e[t][0] = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, roi);
      e[t][1] = explain (s, width, height, 2, SEGCAM_SCORE_PROBABILITIES, SEGCAM_WEIGHTS_RELU, TRUE, NULL);
      if (t > 0)
        {
          char *what = g_strdup_printf ("%d threads vs 1", t + 1);
          assert_identical (probs[t], probs[0], 3 * n, what);
          assert_same_explanation (&e[t][0], &e[0][0], width, height, what);
          assert_same_explanation (&e[t][1], &e[0][1], width, height, what);
          g_free (what);
        }
      g_test_message ("%d threads: %zu bytes, raw max %.6g / %.6g", t + 1, segcam_session_memory (s),
                      e[t][0].info.raw_max, e[t][1].info.raw_max);
      segcam_session_free (s);
    }
  for (int t = 0; t < 4; t++)
    {
      g_free (probs[t]);
      explanation_clear (&e[t][0]);
      explanation_clear (&e[t][1]);
    }
  g_free (roi);
  g_free (px);
  segcam_model_free (m);
}

/* The fast path (BN folded, ReLU fused, concat read in place, Winograd convs) against the exact
 * one at every layer of two U-Nets: same predictions and maps up to float32 rounding. */
static void test_fast_path (void)
{
  const int width = 45, height = 31;
  size_t n = (size_t) width * height;
  float *px = random_image (12, width, height);
  float *roi = random_roi (13, width, height, 1.0);
  segcam_model *models[2] = {make_wide_unet (), make_unet ()};
  double worst_map = 0, worst_prob = 0;
  for (int k = 0; k < 2; k++)
    for (int layer = 0; layer < segcam_model_n_nodes (models[k]); layer++)
      {
        segcam_session *s[2];
        explanation e[2];
        float *probs[2];
        size_t bytes[2];
        for (int exact = 0; exact < 2; exact++)
          {
            segcam_session_options o = {.width = width, .height = height, .layer = layer,
                                        .explain = TRUE, .n_threads = 2, .exact = exact};
            GError *error = NULL;
            s[exact] = segcam_session_new (models[k], &o, &error);
            g_assert_no_error (error);
            g_assert_true (segcam_session_forward (s[exact], px, &error));
            probs[exact] = g_new (float, 3 * n);
            segcam_session_probabilities (s[exact], probs[exact]);
            e[exact] = explain (s[exact], width, height, 1, SEGCAM_SCORE_LOGITS,
                                SEGCAM_WEIGHTS_MEAN, FALSE, roi);
            bytes[exact] = segcam_session_memory (s[exact]);
          }
        double dp = 0, dm = 0, scale = max_abs (e[1].map, n);
        for (size_t i = 0; i < 3 * n; i++)
          dp = MAX (dp, fabs (probs[0][i] - probs[1][i]));
        for (size_t i = 0; i < n; i++)
          dm = MAX (dm, fabs (e[0].map[i] - e[1].map[i]));
        dm = scale > 0 ? dm / scale : dm;
        g_test_message ("%s: probabilities %.1e, map %.1e of its maximum %.3g; memory %zu vs %zu "
                        "bytes", segcam_model_node_name (models[k], layer), dp, dm, scale, bytes[0],
                        bytes[1]);
        g_assert_cmpfloat (dp, <=, 1e-5);
        g_assert_cmpfloat (dm, <=, 1e-4);
        worst_map = MAX (worst_map, dm), worst_prob = MAX (worst_prob, dp);
        for (int exact = 0; exact < 2; exact++)
          {
            explanation_clear (&e[exact]);
            g_free (probs[exact]);
            segcam_session_free (s[exact]);
          }
      }
  g_test_message ("worst: probabilities %.1e, map %.1e", worst_prob, worst_map);
  for (int k = 0; k < 2; k++)
    segcam_model_free (models[k]);
  g_free (px);
  g_free (roi);
}

/* An nnU-Net-style chain, conv -> instance norm -> leaky ReLU twice, then a 1x1 head. */
static segcam_model *make_instance_norm_net (void)
{
  builder b;
  builder_init (&b, 31);
  const char *input = "input";
  for (int k = 0; k < 2; k++)
    {
      char *conv = g_strdup_printf ("c%d", k), *norm = g_strdup_printf ("n%d", k);
      char *gamma = g_strdup_printf ("n%d.weight", k), *beta = g_strdup_printf ("n%d.bias", k);
      const int64_t shape[1] = {16};
      add_conv (&b, "conv2d", conv, input, k == 0 ? 3 : 16, 16, 3, P1);
      add_tensor (&b, gamma, 1, shape, 0.8, 1.2);
      add_tensor (&b, beta, 1, shape, -0.1, 0.1);
      add_node (&b, "{\"name\": \"%s\", \"op\": \"group_norm\", \"inputs\": [\"%s\"], "
                "\"groups\": 16, \"weight\": \"%s\", \"bias\": \"%s\"}", norm, conv, gamma, beta);
      add_node (&b, "{\"name\": \"a%d\", \"op\": \"leaky_relu\", \"inputs\": [\"%s\"]}", k, norm);
      input = k == 0 ? "a0" : "a1";
      g_free (conv), g_free (norm), g_free (gamma), g_free (beta);
    }
  add_conv (&b, "conv2d", "head", "a1", 16, 3, 1, NULL);
  return builder_finish (&b, 1, THREE_CLASSES, "softmax", "a0");
}

/* Below an instance norm the mean gradient that weighs each channel nearly cancels (the norm
 * removes each channel's mean) and the map amplifies rounding, so the fast path runs such
 * sessions with direct convolutions: with Winograd's the map here differed from the exact
 * path's by 1.2e-4 of its maximum (1-2 % on nnU-Net-style networks at this size). */
static void test_fast_path_normalised (void)
{
  const int width = 512, height = 512;
  size_t n = (size_t) width * height;
  float *px = random_image (14, width, height);
  segcam_model *m = make_instance_norm_net ();
  explanation e[2];
  for (int exact = 0; exact < 2; exact++)
    {
      segcam_session_options o = {.width = width, .height = height, .layer = -1, .explain = TRUE,
                                  .n_threads = 2, .exact = exact};
      GError *error = NULL;
      segcam_session *s = segcam_session_new (m, &o, &error);
      g_assert_no_error (error);
      g_assert_true (segcam_session_forward (s, px, &error));
      e[exact] = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, FALSE,
                          NULL);
      segcam_session_free (s);
    }
  double dm = 0, scale = max_abs (e[1].map, n);
  for (size_t i = 0; i < n; i++)
    dm = MAX (dm, fabs (e[0].map[i] - e[1].map[i]));
  g_test_message ("fast against exact below an instance norm: %.1e of the map's maximum %.3g",
                  dm / scale, scale);
  g_assert_cmpfloat (scale, >, 0);
  g_assert_cmpfloat (dm / scale, <=, 1e-6);
  for (int exact = 0; exact < 2; exact++)
    explanation_clear (&e[exact]);
  segcam_model_free (m);
  g_free (px);
}

/* Explaining again from one forward, at any layer, gives what a fresh session gives: the memory
 * plan must not let backward clobber activations a later explanation (or the predictions)
 * reads. */
static void test_repeat (void)
{
  const int width = 37, height = 29;
  size_t n = (size_t) width * height;
  segcam_model *m = make_unet ();
  float *px = random_image (9, width, height);
  float *roi = random_roi (10, width, height, 1.0);
  static const char *const layers[] = {"mid.relu", "enc1.relu", "enc1.conv", "pool1", "up", "cat",
                                       "dec.relu", "res", "head", "input"};
  static const int classes[] = {0, 1, 0, 2, 0};
  for (size_t l = 0; l < G_N_ELEMENTS (layers); l++)
    {
      int layer = segcam_model_find_node (m, layers[l]);
      g_assert_cmpint (layer, >=, 0);
      segcam_session *s = session_run (m, width, height, layer, 3, px);
      float *before = g_new (float, 3 * n), *after = g_new (float, 3 * n);
      segcam_session_probabilities (s, before);
      for (size_t i = 0; i < G_N_ELEMENTS (classes); i++)
        {
          SegcamScore score = i == 3 ? SEGCAM_SCORE_PROBABILITIES : SEGCAM_SCORE_LOGITS;
          explanation again = explain (s, width, height, classes[i], score, SEGCAM_WEIGHTS_MEAN, TRUE, roi);
          segcam_session *f = session_run (m, width, height, layer, 3, px);
          explanation fresh = explain (f, width, height, classes[i], score, SEGCAM_WEIGHTS_MEAN, TRUE, roi);
          char *what = g_strdup_printf ("layer %s, explanation %zu (class %d)", layers[l], i, classes[i]);
          assert_same_explanation (&again, &fresh, width, height, what);
          g_free (what);
          explanation_clear (&again);
          explanation_clear (&fresh);
          segcam_session_free (f);
        }
      segcam_session_probabilities (s, after);
      assert_identical (after, before, 3 * n, "probabilities after explaining");
      g_free (before);
      g_free (after);
      segcam_session_free (s);
    }
  g_free (px);
  g_free (roi);
  segcam_model_free (m);
}

/* ---- normalisation, ROI bookkeeping ------------------------------------------------------------ */

static void test_normalize (void)
{
  const int width = 37, height = 29;
  size_t n = (size_t) width * height;
  segcam_model *m = make_unet ();
  float *px = random_image (11, width, height);
  float *roi = random_roi (12, width, height, 1.0);
  float *ones = g_new (float, n), *probs = g_new (float, 3 * n);
  for (size_t i = 0; i < n; i++)
    ones[i] = 1;
  segcam_session *s = session_run (m, width, height, -1, 2, px);
  segcam_session_probabilities (s, probs);
  int positive = 0;
  for (int c = 0; c < 3; c++)
    for (SegcamWeights w = SEGCAM_WEIGHTS_MEAN; w <= SEGCAM_WEIGHTS_RELU; w++)
      {
        explanation norm = explain (s, width, height, c, SEGCAM_SCORE_PROBABILITIES, w, TRUE, roi);
        explanation raw = explain (s, width, height, c, SEGCAM_SCORE_PROBABILITIES, w, FALSE, roi);
        double mx = 0;
        for (size_t i = 0; i < n; i++)
          {
            g_assert_cmpfloat (norm.map[i], >=, 0);
            g_assert_cmpfloat (raw.map[i], >=, 0);
            mx = MAX (mx, raw.map[i]);
          }
        g_assert_cmpfloat (raw.info.raw_max, ==, mx);
        g_assert_cmpfloat (norm.info.raw_max, ==, raw.info.raw_max);
        if (raw.info.raw_max > 0)
          {
            positive++;
            g_assert_cmpfloat (max_abs (norm.map, n), ==, 1);
            for (size_t i = 0; i < n; i++)
              g_assert_cmpfloat (norm.map[i], ==, raw.map[i] / raw.info.raw_max);
          }
        else
          assert_identical (norm.map, raw.map, n, "normalising an all-zero map");
        assert_identical (norm.cam, raw.cam, (size_t) raw.h * raw.w, "cam with and without normalising");

        /* S and the ROI weight against the probabilities read off the session */
        double score = 0, weight = 0;
        for (size_t i = 0; i < n; i++)
          score += (double) roi[i] * probs[c * n + i], weight += roi[i];
        g_assert_cmpfloat (fabs (raw.info.score - score), <=, 1e-5 * weight);
        g_assert_cmpfloat (fabs (raw.info.roi_weight - weight), <=, 1e-9 * weight);
        explanation_clear (&norm);
        explanation_clear (&raw);
      }
  g_assert_cmpint (positive, >, 0);

  /* No ROI is the whole image. */
  explanation all = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, NULL);
  explanation full = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, ones);
  assert_same_explanation (&all, &full, width, height, "NULL ROI vs all ones");
  g_assert_cmpfloat (all.info.roi_weight, ==, (double) n);
  explanation_clear (&all);
  explanation_clear (&full);
  segcam_session_free (s);
  g_free (ones);
  g_free (probs);
  g_free (roi);
  g_free (px);
  segcam_model_free (m);
}

/* ---- predictions ------------------------------------------------------------------------------- */

static void check_predictions (const segcam_model *m, int width, int height, const float *px)
{
  size_t n = (size_t) width * height;
  int nc = segcam_model_n_classes (m);
  segcam_session_options o = {.width = width, .height = height, .layer = -1, .explain = FALSE, .n_threads = 2};
  GError *error = NULL;
  segcam_session *s = segcam_session_new (m, &o, &error);
  g_assert_no_error (error);
  g_assert_true (segcam_session_forward (s, px, &error));
  float *p = g_new (float, nc * n);
  uint8_t *labels = g_new (uint8_t, n);
  segcam_session_probabilities (s, p);
  segcam_session_labels (s, labels);
  double worst = 0;
  int counts[8] = {0};
  for (size_t i = 0; i < n; i++)
    {
      double sum = 0, best = -1;
      for (int c = 0; c < nc; c++)
        {
          g_assert_cmpfloat (p[c * n + i], >=, 0);
          g_assert_cmpfloat (p[c * n + i], <=, 1);
          sum += p[c * n + i];
          best = MAX (best, p[c * n + i]);
        }
      worst = MAX (worst, fabs (sum - 1));
      g_assert_cmpint (labels[i], <, nc);
      /* argmax (labels come from the logits; equal probabilities may round either way) */
      g_assert_cmpfloat (p[labels[i] * n + i], >=, best - 1e-6);
      counts[labels[i]]++;
    }
  g_test_message ("%d classes: |sum - 1| <= %.1e, labels %d %d %d", nc, worst, counts[0], counts[1],
                  counts[2]);
  g_assert_cmpfloat (worst, <=, 1e-6);
  g_free (p);
  g_free (labels);
  segcam_session_free (s);
}

static void test_predictions (void)
{
  segcam_model *unet = make_unet (), *sig = make_sigmoid ();
  float *px = random_image (13, 45, 31);
  check_predictions (unet, 45, 31, px);
  check_predictions (sig, 45, 31, px);
  g_free (px);
  segcam_model_free (unet);
  segcam_model_free (sig);
}

/* A one-channel sigmoid model: class 0 scores -z (logits) or 1 - sigmoid (z), class 1 z or
 * sigmoid (z); either way S0 = const - S1, so G0 = -G1, alpha0 = -alpha1 and L0 = -L1. */
static void test_sigmoid_symmetry (void)
{
  const int width = 33, height = 21;
  segcam_model *m = make_sigmoid ();
  g_assert_true (segcam_model_output_is_sigmoid (m));
  g_assert_cmpint (segcam_model_n_classes (m), ==, 2);
  float *px = random_image (14, width, height);
  float *roi = random_roi (15, width, height, 1.0);
  static const char *const layers[] = {"mid.relu", "enc.relu", "up"};
  for (size_t l = 0; l < G_N_ELEMENTS (layers); l++)
    for (SegcamScore score = SEGCAM_SCORE_LOGITS; score <= SEGCAM_SCORE_PROBABILITIES; score++)
      {
        segcam_session *s = session_run (m, width, height, segcam_model_find_node (m, layers[l]), 2, px);
        explanation e0 = explain (s, width, height, 0, score, SEGCAM_WEIGHTS_MEAN, FALSE, roi);
        explanation e1 = explain (s, width, height, 1, score, SEGCAM_WEIGHTS_MEAN, FALSE, roi);
        size_t hw = (size_t) e0.h * e0.w;
        double worst = 0;
        for (size_t i = 0; i < hw; i++)
          worst = MAX (worst, fabs (e0.cam[i] + e1.cam[i]));
        double err = worst / max_abs (e1.cam, hw);
        g_test_message ("layer %-8s score %d: |cam0 + cam1| / max |cam1| = %.1e", layers[l], score, err);
        g_assert_cmpfloat (max_abs (e1.cam, hw), >, 0);
        g_assert_cmpfloat (err, <=, 1e-6);
        if (score == SEGCAM_SCORE_LOGITS)
          g_assert_cmpfloat (fabs (e0.info.score + e1.info.score), <=, 1e-6 * fabs (e1.info.score));
        else
          g_assert_cmpfloat (fabs (e0.info.score + e1.info.score - e1.info.roi_weight), <=,
                             1e-6 * e1.info.roi_weight);
        explanation_clear (&e0);
        explanation_clear (&e1);
        segcam_session_free (s);
      }
  g_free (px);
  g_free (roi);
  segcam_model_free (m);
}

/* ---- bad input --------------------------------------------------------------------------------- */

/* ok must be FALSE with an error of the given code and a one-line message; clears the error. */
static void expect_error (gboolean ok, GError **error, int code, const char *what)
{
  g_assert_false (ok);
  g_assert_nonnull (*error);
  if (!g_error_matches (*error, SEGCAM_ERROR, code))
    g_error ("%s: wrong error %d (%s)", what, (*error)->code, (*error)->message);
  g_assert_cmpuint (strlen ((*error)->message), >, 0);
  g_assert_null (strchr ((*error)->message, '\n'));
  g_test_message ("%-28s -> %s", what, (*error)->message);
  g_clear_error (error);
}

static void test_bad_explain (void)
{
  const int width = 21, height = 15;
  size_t n = (size_t) width * height;
  segcam_model *m = make_unet ();
  float *px = random_image (16, width, height);
  float *roi = random_roi (17, width, height, 1.0), *map = g_new (float, n);
  segcam_explain_options o = {1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE};
  GError *error = NULL;

  /* Before forward. */
  segcam_session_options so = {.width = width, .height = height, .layer = -1, .explain = TRUE, .n_threads = 2};
  segcam_session *s = segcam_session_new (m, &so, &error);
  g_assert_no_error (error);
  expect_error (segcam_session_explain (s, &o, roi, map, NULL, &error), &error, SEGCAM_ERROR_INPUT,
                "explain before forward");
  /* Non-finite pixels. */
  float *badpx = g_memdup2 (px, n * 3 * sizeof (float));
  badpx[7] = NAN;
  expect_error (segcam_session_forward (s, badpx, &error), &error, SEGCAM_ERROR_INPUT, "NaN pixel");
  badpx[7] = INFINITY;
  expect_error (segcam_session_forward (s, badpx, &error), &error, SEGCAM_ERROR_INPUT, "infinite pixel");
  g_assert_true (segcam_session_forward (s, px, &error));
  explanation good = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, roi);

  /* Classes out of range. */
  o.class_index = -1;
  expect_error (segcam_session_explain (s, &o, roi, map, NULL, &error), &error, SEGCAM_ERROR_INPUT,
                "class -1");
  o.class_index = segcam_model_n_classes (m);
  expect_error (segcam_session_explain (s, &o, roi, map, NULL, &error), &error, SEGCAM_ERROR_INPUT,
                "class n_classes");
  o.class_index = 1;

  /* Methods: unknown, and Seg-XRes-CAM blocks below one pixel. */
  o.method = (SegcamMethod) 99;
  expect_error (segcam_session_explain (s, &o, roi, map, NULL, &error), &error, SEGCAM_ERROR_INPUT,
                "method 99");
  o.method = SEGCAM_METHOD_XRES;
  for (int pool = -1; pool <= 0; pool++)
    {
      o.pool = pool;
      expect_error (segcam_session_explain (s, &o, roi, map, NULL, &error), &error,
                    SEGCAM_ERROR_INPUT, "xres pool < 1");
    }
  o.method = SEGCAM_METHOD_SEG_GRAD_CAM;
  g_assert_cmpint (segcam_method_from_name ("gradcam++"), ==, SEGCAM_METHOD_GRADCAM_PP);
  g_assert_cmpint (segcam_method_from_name ("GradCAM"), ==, -1);
  g_assert_cmpint (segcam_method_from_name (NULL), ==, -1);
  g_assert_null (segcam_method_name ((SegcamMethod) -1));
  for (int i = SEGCAM_METHOD_SEG_GRAD_CAM; i <= SEGCAM_METHOD_EIGEN; i++)
    g_assert_cmpint (segcam_method_from_name (segcam_method_name (i)), ==, i);

  /* ROIs: empty, out of [0, 1], not a number. */
  float *bad = g_new0 (float, n);
  expect_error (segcam_session_explain (s, &o, bad, map, NULL, &error), &error, SEGCAM_ERROR_INPUT,
                "all-zero ROI");
  static const float wrong[] = {1.5f, -0.25f, NAN, INFINITY, -INFINITY, 1.0000001f};
  for (size_t i = 0; i < G_N_ELEMENTS (wrong); i++)
    {
      memcpy (bad, roi, n * sizeof (float));
      bad[n / 2] = wrong[i];
      char *what = g_strdup_printf ("ROI weight %g", wrong[i]);
      expect_error (segcam_session_explain (s, &o, bad, map, NULL, &error), &error,
                    SEGCAM_ERROR_INPUT, what);
      g_free (what);
    }
  /* A ROI of one tiny weight is not empty. */
  memset (bad, 0, n * sizeof (float));
  bad[n - 1] = 1e-30f;
  g_assert_true (segcam_session_explain (s, &o, bad, map, NULL, &error));
  g_assert_no_error (error);

  /* The failures left the session as it was. */
  explanation again = explain (s, width, height, 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE, roi);
  assert_same_explanation (&again, &good, width, height, "after failed calls");
  explanation_clear (&again);
  explanation_clear (&good);
  segcam_session_free (s);

  /* A forward-only session cannot explain. */
  so.explain = FALSE;
  s = segcam_session_new (m, &so, &error);
  g_assert_no_error (error);
  g_assert_true (segcam_session_forward (s, px, &error));
  expect_error (segcam_session_explain (s, &o, roi, map, NULL, &error), &error, SEGCAM_ERROR_INPUT,
                "forward-only session");
  segcam_session_free (s);

  g_free (bad);
  g_free (badpx);
  g_free (px);
  g_free (roi);
  g_free (map);
  segcam_model_free (m);
}

static void test_bad_sessions (void)
{
  segcam_model *unet = make_unet (), *pools = make_two_pools ();
  GError *error = NULL;
  struct {
    segcam_model *m;
    int width, height, layer;
    int code;
    const char *what;
  } bad[] = {
    {pools, 1, 1, -1, SEGCAM_ERROR_INPUT, "1x1 image, two max-pools"},
    {pools, 3, 2, -1, SEGCAM_ERROR_INPUT, "3x2 image, two max-pools"},
    {unet, 0, 10, -1, SEGCAM_ERROR_INPUT, "width 0"},
    {unet, 10, -3, -1, SEGCAM_ERROR_INPUT, "height -3"},
    {unet, (1 << 20) + 1, 8, -1, SEGCAM_ERROR_INPUT, "width 2^20 + 1"},
    {unet, 16, 16, segcam_model_n_nodes (unet), SEGCAM_ERROR_INPUT, "layer n_nodes"},
    {unet, 16, 16, 1 << 30, SEGCAM_ERROR_INPUT, "layer 2^30"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    for (int explain_too = 0; explain_too <= 1; explain_too++)
      {
        /* the layer is ignored by forward-only sessions */
        if (!explain_too && bad[i].layer >= 0)
          continue;
        segcam_session_options o = {.width = bad[i].width, .height = bad[i].height,
                                    .layer = bad[i].layer, .explain = explain_too, .n_threads = 2};
        segcam_session *s = segcam_session_new (bad[i].m, &o, &error);
        expect_error (s != NULL, &error, bad[i].code, bad[i].what);
        g_assert_null (s);
      }

  /* Absurd sizes: more values in one activation than the engine allows (2^32), refused before
   * anything is allocated, for memory (or as input), never a crash. */
  static const int absurd[][2] = {{1 << 20, 1 << 20}, {1 << 20, 4096}, {4096, 1 << 20}, {60000, 60000}};
  for (size_t i = 0; i < G_N_ELEMENTS (absurd); i++)
    for (int explain_too = 0; explain_too <= 1; explain_too++)
      {
        segcam_session_options o = {.width = absurd[i][0], .height = absurd[i][1], .layer = -1,
                                    .explain = explain_too, .n_threads = 2};
        segcam_session *s = segcam_session_new (unet, &o, &error);
        g_assert_null (s);
        g_assert_nonnull (error);
        int code = g_error_matches (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY) ? SEGCAM_ERROR_MEMORY
                                                                              : SEGCAM_ERROR_INPUT;
        char *what = g_strdup_printf ("%dx%d", absurd[i][0], absurd[i][1]);
        expect_error (FALSE, &error, code, what);
        g_free (what);
      }

  segcam_model_free (unet);
  segcam_model_free (pools);
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const fd_case fd[] = {
    {FALSE, 0, SEGCAM_SCORE_LOGITS}, {FALSE, 1, SEGCAM_SCORE_LOGITS},
    {FALSE, 2, SEGCAM_SCORE_PROBABILITIES}, {FALSE, 0, SEGCAM_SCORE_PROBABILITIES},
    {TRUE, 0, SEGCAM_SCORE_LOGITS}, {TRUE, 1, SEGCAM_SCORE_LOGITS},
    {TRUE, 0, SEGCAM_SCORE_PROBABILITIES}, {TRUE, 1, SEGCAM_SCORE_PROBABILITIES},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (fd); i++)
    {
      char *path = g_strdup_printf ("/seggradcam/gradient-fd/%s/class%d/%s",
                                    fd[i].one_channel ? "sigmoid" : "softmax", fd[i].class_index,
                                    fd[i].score == SEGCAM_SCORE_LOGITS ? "logits" : "probabilities");
      g_test_add_data_func (path, &fd[i], test_gradient_fd);
      g_free (path);
    }
  g_test_add_func ("/seggradcam/linearity", test_linearity);
  g_test_add_func ("/seggradcam/methods/xres-limits", test_xres_limits);
  g_test_add_func ("/seggradcam/methods/layer-positive", test_layer_positive);
  g_test_add_func ("/seggradcam/methods/eigen-class-agnostic", test_eigen_class_agnostic);
  g_test_add_func ("/seggradcam/methods/eigen-input", test_eigen_input);
  g_test_add_func ("/seggradcam/methods/rerun-input", test_rerun_input);
  g_test_add_func ("/seggradcam/methods/rerun-cancel", test_rerun_cancel);
  g_test_add_func ("/seggradcam/independent-class", test_independent_class);
  g_test_add_func ("/seggradcam/threads", test_threads);
  g_test_add_func ("/seggradcam/repeat", test_repeat);
  g_test_add_func ("/seggradcam/fast-path", test_fast_path);
  g_test_add_func ("/seggradcam/fast-path-normalised", test_fast_path_normalised);
  g_test_add_func ("/seggradcam/normalize", test_normalize);
  g_test_add_func ("/seggradcam/predictions", test_predictions);
  g_test_add_func ("/seggradcam/sigmoid-symmetry", test_sigmoid_symmetry);
  g_test_add_func ("/seggradcam/bad/explain", test_bad_explain);
  g_test_add_func ("/seggradcam/bad/sessions", test_bad_sessions);
  return g_test_run ();
}
