/* test-tiled.c — tiles with halos (docs/seg-grad-cam.md, "Large images: tiles") against the
 * untiled session, which is the reference:
 *   - reach: segcam_model_reach's bound against a probe on the exact path: one pixel perturbed,
 *     no logit farther than the reach may change, and some must change near it;
 *   - equality: at 300x236, with cores of 64 and 96 on the bundled U-Nets and on small graphs
 *     built here (dilated convs; overlapping and SAME pooling, nearest, asymmetric and
 *     transposed upsampling), the tiled maps of every gradient method and EigenCAM lie within
 *     1e-5 of the untiled map's maximum, probabilities within 1e-5 (the GEMMs round a crop's
 *     rows otherwise than the image's), labels equal, S within
 *     1e-5 relative; exact and fast path; after a forward pass with predictions and after one
 *     without (which leaves every tile to explain);
 *   - what tiles refuse: global pooling and group norm (naming the node), Score-CAM and
 *     Ablation-CAM, explain before forward; a cancel between tiles stops the run.
 * Arguments: the bundled model files. */
#include "cancel-count.h"
#include "safetensors.h"
#include "session.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static char **model_paths;

/* ---- small graphs -------------------------------------------------------------------------- */

typedef struct {
  GRand *rand;
  GArray *tensors;
  GString *nodes;
} graph;

static void graph_init (graph *g)
{
  g->rand = g_rand_new_with_seed (7);
  g->tensors = g_array_new (FALSE, TRUE, sizeof (segcam_tensor));
  g->nodes = g_string_new ("{\"name\": \"input\", \"op\": \"input\"}");
}

static void node (graph *g, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static void node (graph *g, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_string_append (g->nodes, ", ");
  g_string_append_vprintf (g->nodes, fmt, ap);
  va_end (ap);
}

/* A conv2d of k x k with He-uniform weights, a small bias and the attributes in extra. */
static void conv (graph *g, const char *name, const char *input, int cin, int cout, int k,
                  const char *extra)
{
  const int64_t shapes[2][4] = {{cout, cin, k, k}, {cout}};
  char *names[2] = {g_strdup_printf ("%s.w", name), g_strdup_printf ("%s.b", name)};
  double s = sqrt (6.0 / (cin * k * k));
  for (int t = 0; t < 2; t++)
    {
      segcam_tensor x = {g_strdup (names[t]), t ? 1 : 4, {0}, 1, NULL};
      for (int i = 0; i < x.n_dims; i++)
        x.shape[i] = shapes[t][i], x.n_elements *= (size_t) shapes[t][i];
      x.data = g_new (float, x.n_elements);
      for (size_t i = 0; i < x.n_elements; i++)
        x.data[i] = (float) g_rand_double_range (g->rand, t ? -0.1 : -s, t ? 0.1 : s);
      g_array_append_val (g->tensors, x);
    }
  node (g, "{\"name\": \"%s\", \"op\": \"conv2d\", \"inputs\": [\"%s\"], \"kernel\": [%d, %d], "
        "\"weight\": \"%s\", \"bias\": \"%s\"%s%s}", name, input, k, k, names[0], names[1],
        extra ? ", " : "", extra ? extra : "");
  g_free (names[0]);
  g_free (names[1]);
}

static void relu (graph *g, const char *name, const char *input)
{
  node (g, "{\"name\": \"%s\", \"op\": \"relu\", \"inputs\": [\"%s\"]}", name, input);
}

/* Three classes, softmax, the layer given as default. */
static segcam_model *graph_finish (graph *g, int size_multiple, const char *layer)
{
  char *json = g_strdup_printf (
    "{\"input\": {\"channels\": 3, \"colorspace\": \"rgb\", \"mean\": [0.5, 0.5, 0.5], \"std\": "
    "[0.25, 0.25, 0.25], \"size_multiple\": %d}, \"classes\": [{\"name\": \"a\", \"color\": "
    "\"#ff0000\"}, {\"name\": \"b\", \"color\": \"#00ff00\"}, {\"name\": \"c\", \"color\": "
    "\"#0000ff\"}], \"output\": \"head\", \"output_activation\": \"softmax\", \"default_layer\": "
    "\"%s\", \"nodes\": [%s]}", size_multiple, layer, g->nodes->str);
  const char *keys[] = {"segcam.format", "segcam.graph", NULL}, *values[] = {"3", json, NULL};
  GError *error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("test-tiled-XXXXXX.safetensors", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (segcam_safetensors_write (path, (segcam_tensor *) g->tensors->data,
                                           (int) g->tensors->len, keys, values, &error));
  segcam_model *m = segcam_model_load (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_free (path);
  g_free (json);
  for (guint i = 0; i < g->tensors->len; i++)
    {
      g_free (g_array_index (g->tensors, segcam_tensor, i).name);
      g_free (g_array_index (g->tensors, segcam_tensor, i).data);
    }
  g_array_free (g->tensors, TRUE);
  g_string_free (g->nodes, TRUE);
  g_rand_free (g->rand);
  return m;
}

/* Dilated convs (2 and 3) and a strided one, back up by nearest upsampling. */
static segcam_model *make_dilated (void)
{
  graph g;
  graph_init (&g);
  conv (&g, "c1", "input", 3, 6, 3, "\"padding\": [2, 2, 2, 2], \"dilation\": [2, 2]");
  relu (&g, "r1", "c1");
  conv (&g, "c2", "r1", 6, 6, 3, "\"padding\": [3, 3, 3, 3], \"dilation\": [3, 3]");
  relu (&g, "r2", "c2");
  conv (&g, "c3", "r2", 6, 8, 3, "\"padding\": [1, 1, 1, 1], \"stride\": [2, 2]");
  relu (&g, "r3", "c3");
  node (&g, "{\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"r3\"], \"scale\": [2, 2], "
        "\"mode\": \"nearest\"}");
  conv (&g, "head", "up", 8, 3, 1, NULL);
  return graph_finish (&g, 2, "r2");
}

/* Overlapping max-pooling, SAME average pooling, a skip, asymmetric bilinear upsampling by 4
 * and a size taken from another input. */
static segcam_model *make_pooling (void)
{
  graph g;
  graph_init (&g);
  conv (&g, "c1", "input", 3, 6, 3, "\"padding\": [1, 1, 1, 1]");
  relu (&g, "r1", "c1");
  node (&g, "{\"name\": \"p1\", \"op\": \"maxpool2d\", \"inputs\": [\"r1\"], \"kernel\": [3, 3], "
        "\"stride\": [2, 2], \"padding\": [1, 1]}");
  node (&g, "{\"name\": \"p2\", \"op\": \"avgpool2d\", \"inputs\": [\"p1\"], \"kernel\": [2, 2], "
        "\"stride\": [2, 2], \"auto_pad\": \"same_upper\"}");
  conv (&g, "c2", "p2", 6, 8, 3, "\"padding\": [1, 1, 1, 1]");
  relu (&g, "r2", "c2");
  node (&g, "{\"name\": \"up4\", \"op\": \"upsample\", \"inputs\": [\"r2\"], \"scale\": [4, 4], "
        "\"mode\": \"bilinear_asymmetric\"}");
  node (&g, "{\"name\": \"up2\", \"op\": \"upsample\", \"inputs\": [\"p1\", \"r1\"], "
        "\"mode\": \"bilinear\"}");
  node (&g, "{\"name\": \"cat\", \"op\": \"concat\", \"inputs\": [\"up4\", \"up2\", \"r1\"]}");
  conv (&g, "head", "cat", 20, 3, 3, "\"padding\": [1, 1, 1, 1]");
  return graph_finish (&g, 4, "r2");
}

/* A squeeze-and-excitation gate: a global average scales every pixel. */
static segcam_model *make_global (void)
{
  graph g;
  graph_init (&g);
  conv (&g, "c1", "input", 3, 4, 3, "\"padding\": [1, 1, 1, 1]");
  node (&g, "{\"name\": \"gap\", \"op\": \"global_avgpool\", \"inputs\": [\"c1\"]}");
  node (&g, "{\"name\": \"gate\", \"op\": \"mul\", \"inputs\": [\"c1\", \"gap\"]}");
  conv (&g, "head", "gate", 4, 3, 1, NULL);
  return graph_finish (&g, 1, "c1");
}

static segcam_model *make_group_norm (void)
{
  graph g;
  graph_init (&g);
  conv (&g, "c1", "input", 3, 4, 3, "\"padding\": [1, 1, 1, 1]");
  const int64_t shape[1] = {4};
  for (int t = 0; t < 2; t++)
    {
      segcam_tensor x = {g_strdup (t ? "gn.beta" : "gn.gamma"), 1, {4}, 4, g_new (float, 4)};
      for (int i = 0; i < 4; i++)
        x.data[i] = t ? 0.0f : 1.0f;
      x.shape[0] = shape[0];
      g_array_append_val (g.tensors, x);
    }
  node (&g, "{\"name\": \"gn\", \"op\": \"group_norm\", \"inputs\": [\"c1\"], \"groups\": 2, "
        "\"weight\": \"gn.gamma\", \"bias\": \"gn.beta\"}");
  conv (&g, "head", "gn", 4, 3, 1, NULL);
  return graph_finish (&g, 1, "c1");
}

static segcam_model *load_bundled (int i)
{
  GError *error = NULL;
  segcam_model *m = segcam_model_load (model_paths[i], &error);
  g_assert_no_error (error);
  return m;
}

/* Every model the equality and reach tests run: the bundled ones and the graphs above. */
static int n_models (void)
{
  return (int) g_strv_length (model_paths) + 2;
}

static segcam_model *model_at (int i)
{
  int bundled = (int) g_strv_length (model_paths);
  return i < bundled ? load_bundled (i) : i == bundled ? make_dilated () : make_pooling ();
}

/* Smooth blobs, so that labels vary over the image, and noise of the given amplitude. */
static float *random_image (const segcam_model *m, int w, int h, guint32 seed, double noise)
{
  GRand *r = g_rand_new_with_seed (seed);
  size_t n = (size_t) w * h * segcam_model_input_channels (m);
  float *px = g_new (float, n);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < segcam_model_input_channels (m); c++)
        px[((size_t) y * w + x) * segcam_model_input_channels (m) + c] =
          (float) CLAMP (0.5 + 0.3 * sin (x / (9.0 + c) + y / 13.0) * cos (y / (7.0 + c))
                         + g_rand_double_range (r, -noise, noise), 0, 1);
  g_rand_free (r);
  return px;
}

/* ---- reach ----------------------------------------------------------------------------------- */

/* The farthest output pixel (Chebyshev distance) whose logits change when pixel (px, py) of the
 * image changes, on the exact path. */
static int probe (segcam_session *s, const float *pixels, int w, int h, int px, int py)
{
  const segcam_model *m = s->model;
  int c = m->in_channels;
  size_t n = (size_t) w * h * c;
  const segcam_act *z = &s->acts[m->output];
  g_assert_true (segcam_session_forward (s, pixels, NULL));
  float *base = g_memdup2 (z->data, segcam_act_size (z) * sizeof (float));
  float *moved = g_memdup2 (pixels, n * sizeof (float));
  for (int k = 0; k < c; k++)
    moved[((size_t) py * w + px) * c + k] = 1.0f - moved[((size_t) py * w + px) * c + k];
  g_assert_true (segcam_session_forward (s, moved, NULL));
  int far = -1;
  for (int y = 0; y < z->h; y++)
    for (int x = 0; x < z->w; x++)
      for (int k = 0; k < z->c; k++)
        if (z->data[((size_t) y * z->w + x) * z->c + k] != base[((size_t) y * z->w + x) * z->c + k])
          far = MAX (far, MAX (abs (x - px), abs (y - py)));
  g_free (base);
  g_free (moved);
  return far;
}

static void test_reach (void)
{
  for (int i = 0; i < n_models (); i++)
    {
      segcam_model *m = model_at (i);
      int reach, stride;
      GError *error = NULL;
      g_assert_true (segcam_model_reach (m, &reach, &stride, &error));
      g_assert_no_error (error);
      int side = 2 * reach + 3 * stride * 4;
      side = (side + 15) / 16 * 16;
      segcam_session_options o = {side, side, -1, FALSE, 0, NULL, NULL, TRUE};
      segcam_session *s = segcam_session_new (m, &o, &error);
      g_assert_no_error (error);
      float *px = random_image (m, side, side, 3, 0.15);
      /* pixels at every phase of the stride, far enough from the border to see the whole reach */
      int far = 0;
      for (int d = 0; d < stride; d++)
        {
          int p = side / 2 + d;
          int f = probe (s, px, side, side, p, side / 2 - d);
          g_assert_cmpint (f, <=, reach);
          far = MAX (far, f);
        }
      g_test_message ("model %d: reach %d, stride %d, farthest change seen %d", i, reach, stride,
                      far);
      /* the bound is tight up to the few pixels of bilinear weights and pooling windows that
       * the conservative rule counts */
      g_assert_cmpint (far, >=, reach * 3 / 4);
      g_free (px);
      segcam_session_free (s);
      segcam_model_free (m);
    }
}

/* ---- equality with the untiled session --------------------------------------------------- */

enum { W = 300, H = 236 };

static const SegcamMethod methods[] = {
  SEGCAM_METHOD_SEG_GRAD_CAM, SEGCAM_METHOD_HIRES, SEGCAM_METHOD_XRES, SEGCAM_METHOD_GRADCAM_PP,
  SEGCAM_METHOD_XGRAD, SEGCAM_METHOD_LAYER, SEGCAM_METHOD_EIGEN,
};

static float max_abs_diff (const float *a, const float *b, size_t n)
{
  float d = 0;
  for (size_t i = 0; i < n; i++)
    d = MAX (d, fabsf (a[i] - b[i]));
  return d;
}

/* The untiled session against tiles of each side (two), on the same forward and explain calls. */
static void compare (segcam_model *m, gboolean exact, const int *tiles)
{
  GError *error = NULL;
  size_t n = (size_t) W * H;
  int nc = segcam_model_n_classes (m);
  /* A max-pool window whose two largest inputs differ by rounding only picks one or the other,
   * and sends the gradient there: on the noisy image the untiled fast path itself differs from
   * the exact one by 1.7% of HiResCAM's maximum, and the exact path's tiles from its untiled run
   * wherever the GEMMs round a crop's rows differently from the image's (OpenBLAS's AVX2 kernels:
   * 6.6e-3 of HiResCAM's maximum, 5.9e-5 of Seg-Grad-CAM's, spread over the map rather than at
   * the seams). Both paths are compared on the smooth image, where such near ties are rare (at
   * most 7.1e-6 of the maximum with AVX2 kernels, 2e-6 with AVX-512 ones). */
  float *px = random_image (m, W, H, 5, 0);
  segcam_session_options so = {W, H, -1, TRUE, 0, NULL, NULL, exact};
  segcam_session *s = segcam_session_new (m, &so, &error);
  g_assert_no_error (error);
  float *p0 = g_new (float, nc * n), *p1 = g_new (float, nc * n);
  uint8_t *l0 = g_new (uint8_t, n), *l1 = g_new (uint8_t, n);
  g_assert_true (segcam_session_forward (s, px, &error));
  segcam_session_probabilities (s, p0);
  segcam_session_labels (s, l0);
  segcam_tiled *t[2];
  for (int j = 0; j < 2; j++)
    {
      segcam_tiled_options to = {W, H, -1, TRUE, 0, exact, tiles[j]};
      t[j] = segcam_tiled_new (m, &to, &error);
      g_assert_no_error (error);
      int n_tiles, core, halo, cw, ch;
      segcam_tiled_layout (t[j], &n_tiles, &core, &halo, &cw, &ch);
      g_test_message ("tile %d: %d tiles of %d, halo %d, crops %dx%d, exact %d", tiles[j], n_tiles,
                      core, halo, cw, ch, exact);
      g_assert_cmpint (n_tiles, >, 1);
      g_assert_true (cw < (W + 15) / 16 * 16 || ch < (H + 15) / 16 * 16);
      g_assert_true (segcam_tiled_forward (t[j], px, p1, l1, &error));
      g_assert_no_error (error);
      /* Not 1e-6: the GEMMs take other kernels for a crop's rows than for the image's, which
       * rounds some logits of either differently (up to 7.6e-6 in a probability seen, nowhere
       * concentrated at the tiles' edges). */
      float d = max_abs_diff (p0, p1, nc * n);
      g_test_message ("probabilities differ by %g", d);
      g_assert_cmpfloat (d, <=, 1e-5);
      g_assert_cmpmem (l0, n, l1, n);
    }
  /* the second tiles forward again without predictions: explain then runs every tile itself */
  g_assert_true (segcam_tiled_forward (t[1], px, NULL, NULL, &error));

  float *m0 = g_new (float, n), *m1 = g_new (float, n), *roi = g_new (float, n);
  /* Each method once, with the first two classes and the last in turn, and one of three ROIs:
   * the whole image, the pixels predicted as the class, a rectangle over a few tiles; the seven
   * methods meet every class, every ROI and both scores. (Every method with every class took
   * the sanitizer build past ten minutes.) */
  const int classes[3] = {0, 1, nc - 1};
  for (guint k = 0; k < G_N_ELEMENTS (methods); k++)
    {
      int ci = (int) k % 3, c = classes[ci], r = (int) (k + k / 3) % 3;
      const float *rp = NULL;
      if (r == 1)
        {
          for (size_t i = 0; i < n; i++)
            roi[i] = 1;
          segcam_roi_intersect_class (roi, l0, W, H, c);
          rp = segcam_roi_sum (roi, n) > 0 ? roi : NULL;
        }
      else if (r == 2)
        {
          segcam_roi_rect (roi, W, H, 70, 150, 40, 30);
          rp = roi;
        }
      segcam_explain_options eo = {c, ci == 1 ? SEGCAM_SCORE_PROBABILITIES : SEGCAM_SCORE_LOGITS,
                                   SEGCAM_WEIGHTS_MEAN, FALSE, methods[k], 2, SEGCAM_POOL_MAX};
      segcam_explain_info i0, i1;
      g_assert_true (segcam_session_explain (s, &eo, rp, m0, &i0, &error));
      for (int j = 0; j < 2; j++)
        {
          g_assert_true (segcam_tiled_explain (t[j], &eo, rp, m1, &i1, &error));
          g_assert_no_error (error);
          float d = max_abs_diff (m0, m1, n);
          if (!(d <= 1e-5f * i0.raw_max))
            g_error ("tile %d, class %d, %s, roi %d: maps differ by %g, maximum %g", tiles[j],
                     c, segcam_method_name (methods[k]), r, d, i0.raw_max);
          g_assert_cmpfloat (fabs (i1.roi_weight - i0.roi_weight), <=, 1e-9 * i0.roi_weight);
          if (methods[k] != SEGCAM_METHOD_EIGEN)
            g_assert_cmpfloat (fabs (i1.score - i0.score), <=, 1e-5 * fabs (i0.score) + 1e-6);
          else
            g_assert_true (isnan (i1.score));
        }
    }
  g_free (m0);
  g_free (m1);
  g_free (roi);
  g_free (p0);
  g_free (p1);
  g_free (l0);
  g_free (l1);
  g_free (px);
  segcam_tiled_free (t[0]);
  segcam_tiled_free (t[1]);
  segcam_session_free (s);
}

static void test_equal (gconstpointer data)
{
  static const int tiles[2] = {64, 96};
  for (int i = 0; i < n_models (); i++)
    {
      segcam_model *m = model_at (i);
      compare (m, GPOINTER_TO_INT (data), tiles);
      segcam_model_free (m);
    }
}

/* ---- what tiles refuse ------------------------------------------------------------------- */

static void expect_refusal (segcam_model *m, const char *node)
{
  GError *error = NULL;
  segcam_tiled_options to = {64, 48, -1, TRUE, 1, FALSE, 16};
  g_assert_null (segcam_tiled_new (m, &to, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, node));
  g_assert_null (strchr (error->message, '\n'));
  g_test_message ("%s", error->message);
  g_error_free (error);
  int reach, stride;
  g_assert_false (segcam_model_reach (m, &reach, &stride, NULL));
}

static gboolean stop_now (void *data)
{
  return TRUE;
}

static void test_refuse (void)
{
  segcam_model *m = make_global ();
  expect_refusal (m, "'gap'");
  segcam_model_free (m);
  m = make_group_norm ();
  expect_refusal (m, "'gn'");
  segcam_model_free (m);

  m = load_bundled (0);
  GError *error = NULL;
  segcam_tiled_options to = {W, H, -1, TRUE, 1, FALSE, 64};
  segcam_tiled *t = segcam_tiled_new (m, &to, &error);
  g_assert_no_error (error);
  float *px = random_image (m, W, H, 9, 0.15), *map = g_new (float, (size_t) W * H);
  segcam_explain_options eo = {0};
  g_assert_false (segcam_tiled_explain (t, &eo, NULL, map, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_true (segcam_tiled_forward (t, px, NULL, NULL, &error));
  for (int k = SEGCAM_METHOD_SCORE; k <= SEGCAM_METHOD_ABLATION; k++)
    {
      eo.method = k;
      eo.pixels = px;
      g_assert_false (segcam_tiled_explain (t, &eo, NULL, map, NULL, &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
      g_assert_nonnull (strstr (error->message, "not available on tiles"));
      g_clear_error (&error);
    }
  /* a cancel between tiles: after the third of them */
  cancel_count cc = {0, 3};
  eo = (segcam_explain_options) {0};
  eo.cancelled = cancel_after, eo.cancel_data = &cc;
  g_assert_false (segcam_tiled_explain (t, &eo, NULL, map, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_CANCELLED);
  g_assert_cmpint (cc.asked, ==, 4);
  g_clear_error (&error);
  segcam_tiled_free (t);
  to.cancelled = stop_now;
  t = segcam_tiled_new (m, &to, &error);
  uint8_t *labels = g_new (uint8_t, (size_t) W * H);
  g_assert_false (segcam_tiled_forward (t, px, NULL, labels, &error));
  g_free (labels);
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_CANCELLED);
  g_clear_error (&error);
  /* a forward that did not complete leaves nothing to explain */
  g_assert_false (segcam_tiled_explain (t, &eo, NULL, map, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_clear_error (&error);
  segcam_tiled_free (t);
  g_free (px);
  g_free (map);
  segcam_model_free (m);
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  model_paths = argv + 1;
  g_assert_cmpint (argc, >=, 2);
  g_test_add_func ("/tiled/reach", test_reach);
  g_test_add_data_func ("/tiled/equal-exact", GINT_TO_POINTER (TRUE), test_equal);
  g_test_add_data_func ("/tiled/equal-fast", GINT_TO_POINTER (FALSE), test_equal);
  g_test_add_func ("/tiled/refuse", test_refuse);
  return g_test_run ();
}
