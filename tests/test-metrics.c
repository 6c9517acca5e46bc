/* test-metrics.c — the faithfulness metrics of segcam-metrics.h (docs/metrics.md) on cases whose
 * answers are known:
 *   - energy: a map equal to the ROI puts all its energy there, a constant map puts there the
 *     ROI's fraction of the image, shares add up to 1, a zero map gives NaN;
 *   - deletion and insertion: on a model whose ROI score is linear in the pixels (a 3x3
 *     convolution straight to a one-channel logit), S after any replacement is a weighted sum of
 *     the pixels whose weights this file computes from the kernel itself, so every curve point,
 *     and so the AUCs, follow by hand for both baselines (the blur by a direct 2-D convolution,
 *     not the engine's separable one);
 *   - the imputation itself against a dense solve, on masks of every kind;
 *   - ROAD: on the same model, the noiseless imputation solved here as a dense linear system, and
 *     with noise, a constant image whose imputation is the constant itself;
 *   - cancel: asked once before each forward pass, its first TRUE stops the evaluation;
 *   - bad input fails with SEGCAM_ERROR_INPUT and a one-line message.
 */
#include "safetensors.h"
#include "segcam-metrics.h"
#include "imputation.h"
#include "cancel-count.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* ---- energy ------------------------------------------------------------------------------ */

static void test_energy_roi (void)
{
  enum { W = 9, H = 7 };
  float roi[W * H], map[W * H];
  for (int i = 0; i < W * H; i++)
    roi[i] = (i % W >= 2 && i % W < 6 && i / W >= 1 && i / W < 4) ? 1.0f : 0.0f;
  memcpy (map, roi, sizeof map);
  segcam_energy e;
  segcam_map_energy (map, roi, NULL, W, H, &e);
  g_assert_cmpfloat (e.roi_energy_share, ==, 1.0);
  g_assert_cmpfloat (e.context_share, ==, 0.0);
  g_assert_true (isnan (e.context_mask_share));

  /* A constant map: the ROI's share of the image's weight; a context mask of the complement
   * gets the rest. */
  float context[W * H];
  double roi_sum = 0;
  for (int i = 0; i < W * H; i++)
    map[i] = 0.37f, context[i] = 1.0f - roi[i], roi_sum += roi[i];
  segcam_map_energy (map, roi, context, W, H, &e);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share, roi_sum / (W * H), 1e-12);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share + e.context_share, 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (e.context_mask_share, e.context_share, 1e-12);

  /* Soft weights: the share is the weighted sum, computed here naively. */
  GRand *r = g_rand_new_with_seed (3);
  double num = 0, den = 0;
  for (int i = 0; i < W * H; i++)
    {
      map[i] = (float) g_rand_double (r), roi[i] = (float) g_rand_double (r);
      num += (double) map[i] * roi[i], den += map[i];
    }
  g_rand_free (r);
  segcam_map_energy (map, roi, NULL, W, H, &e);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share, num / den, 1e-12);

  /* NULL ROI: the whole image. A zero map has no energy to share. */
  segcam_map_energy (map, NULL, NULL, W, H, &e);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share, 1.0, 1e-12);
  memset (map, 0, sizeof map);
  segcam_map_energy (map, roi, context, W, H, &e);
  g_assert_true (isnan (e.roi_energy_share) && isnan (e.context_share) && isnan (e.context_mask_share));
}

/* ---- a model whose score is linear in the pixels ------------------------------------------ */

enum { SIZE_W = 13, SIZE_H = 11, CH = 3 };

typedef struct {
  float weight[CH][3][3]; /* the head's 3x3 kernel, one output channel */
  float bias;
  segcam_model *model;
} linear_model;

/* input (mean 0, std 1: the network sees the pixels themselves) -> 3x3 conv, zero padding ->
 * one-channel sigmoid head. Written as a safetensors file through the engine's writer. */
static void linear_model_make (linear_model *lm, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  for (int k = 0; k < CH; k++)
    for (int dy = 0; dy < 3; dy++)
      for (int dx = 0; dx < 3; dx++)
        lm->weight[k][dy][dx] = (float) g_rand_double_range (r, -0.2, 1.0);
  lm->bias = 0.3f;
  g_rand_free (r);
  segcam_tensor t[2] = {
    {"head.weight", 4, {1, CH, 3, 3}, CH * 9, &lm->weight[0][0][0]},
    {"head.bias", 1, {1}, 1, &lm->bias},
  };
  const char *keys[] = {"segcam.format", "segcam.graph", NULL};
  const char *values[] = {"1",
    "{\"input\": {\"channels\": 3, \"colorspace\": \"rgb\", \"mean\": [0, 0, 0], \"std\": [1, 1, 1], "
    "\"size_multiple\": 1}, \"classes\": [{\"name\": \"background\", \"color\": \"#000000\"}, "
    "{\"name\": \"thing\", \"color\": \"#ffffff\"}], \"output\": \"head\", "
    "\"output_activation\": \"sigmoid\", \"default_layer\": \"head\", \"nodes\": ["
    "{\"name\": \"input\", \"op\": \"input\"}, {\"name\": \"head\", \"op\": \"conv2d\", "
    "\"inputs\": [\"input\"], \"kernel\": [3, 3], \"padding\": [1, 1, 1, 1], "
    "\"weight\": \"head.weight\", \"bias\": \"head.bias\"}]}", NULL};
  GError *error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("test-metrics-XXXXXX.safetensors", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (segcam_safetensors_write (path, t, 2, keys, values, &error));
  lm->model = segcam_model_load (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_free (path);
}

/* S (logits of class 1 over roi) of image, from the kernel: sum_q roi_q (b + sum w x). */
static double linear_score (const linear_model *lm, const float *roi, const float *image)
{
  double s = 0;
  for (int y = 0; y < SIZE_H; y++)
    for (int x = 0; x < SIZE_W; x++)
      {
        double z = lm->bias;
        for (int k = 0; k < CH; k++)
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
              if (y + dy >= 0 && y + dy < SIZE_H && x + dx >= 0 && x + dx < SIZE_W)
                z += lm->weight[k][dy + 1][dx + 1] * image[((y + dy) * SIZE_W + x + dx) * CH + k];
        s += roi[y * SIZE_W + x] * z;
      }
  return s;
}

/* The blur baseline of docs/metrics.md as one 2-D convolution (the engine's is separable). */
static void reference_blur (const float *image, float *out)
{
  for (int y = 0; y < SIZE_H; y++)
    for (int x = 0; x < SIZE_W; x++)
      for (int k = 0; k < CH; k++)
        {
          double sum = 0, total = 0;
          for (int dy = -15; dy <= 15; dy++)
            for (int dx = -15; dx <= 15; dx++)
              {
                double w = exp (-(dx * dx + dy * dy) / 50.0);
                int yy = CLAMP (y + dy, 0, SIZE_H - 1), xx = CLAMP (x + dx, 0, SIZE_W - 1);
                sum += w * image[(yy * SIZE_W + xx) * CH + k];
                total += w;
              }
          out[(y * SIZE_W + x) * CH + k] = (float) (sum / total);
        }
}

static void reference_mean (const float *image, float *out)
{
  enum { N = SIZE_W * SIZE_H };
  for (int k = 0; k < CH; k++)
    {
      double sum = 0;
      for (int i = 0; i < N; i++)
        sum += image[i * CH + k];
      for (int i = 0; i < N; i++)
        out[i * CH + k] = (float) (sum / N);
    }
}

/* Pixels in decreasing map order, equal values in raster order (selection sort: slow and plain). */
static void reference_order (const float *map, int n, int *order)
{
  guint8 *taken = g_new0 (guint8, n);
  for (int r = 0; r < n; r++)
    {
      int best = -1;
      for (int i = 0; i < n; i++)
        if (!taken[i] && (best < 0 || map[i] > map[best]))
          best = i;
      taken[best] = 1;
      order[r] = best;
    }
  g_free (taken);
}

/* The deletion (or insertion) curve and its trapezoid area, by the rules of docs/metrics.md. */
static double reference_curve (const linear_model *lm, const float *roi, const float *start,
                               const float *fill, const int *order, int steps, double s0,
                               double *curve)
{
  enum { N = SIZE_W * SIZE_H };
  float image[N * CH];
  double area = 0, prev_fraction = 0;
  for (int t = 0; t <= steps; t++)
    {
      int k = (int) floor ((double) t * N / steps + 0.5);
      memcpy (image, start, sizeof image);
      for (int r = 0; r < k; r++)
        memcpy (image + order[r] * CH, fill + order[r] * CH, CH * sizeof (float));
      curve[t] = linear_score (lm, roi, image) / s0;
      double fraction = (double) k / N;
      if (t > 0)
        area += 0.5 * (curve[t - 1] + curve[t]) * (fraction - prev_fraction);
      prev_fraction = fraction;
    }
  return area;
}

static segcam_session *forward_session (const segcam_model *m, const float *image)
{
  GError *error = NULL;
  segcam_session_options so = {SIZE_W, SIZE_H, -1, FALSE, 1, NULL, NULL, TRUE};
  segcam_session *s = segcam_session_new (m, &so, &error);
  g_assert_no_error (error);
  g_assert_true (segcam_session_forward (s, image, &error));
  return s;
}

static float *random_values (GRand *r, int n, double lo, double hi)
{
  float *v = g_new (float, n);
  for (int i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (r, lo, hi);
  return v;
}

static void test_deletion_insertion (void)
{
  enum { N = SIZE_W * SIZE_H, STEPS = 7 };
  linear_model lm;
  linear_model_make (&lm, 5);
  GRand *r = g_rand_new_with_seed (9);
  float *image = random_values (r, N * CH, 0, 0.2), *map = random_values (r, N, 0, 1);
  float roi[N];
  /* Structure for the blur to remove: a bright left part. */
  for (int i = 0; i < N * CH; i++)
    image[i] += (i / CH) % SIZE_W < 5 ? 0.75f : 0.0f;
  for (int i = 0; i < N; i++)
    roi[i] = (i % SIZE_W) < 4 && (i / SIZE_W) > 2 ? 1.0f : (i % 5 == 0) ? 0.5f : 0.0f;
  /* Ties: a block of equal values, taken in raster order. */
  for (int i = 20; i < 40; i++)
    map[i] = 0.5f;
  segcam_session *s = forward_session (lm.model, image);
  int order[N];
  reference_order (map, N, order);
  for (int b = 0; b < 2; b++)
    {
      float fill[N * CH];
      (b == SEGCAM_BASELINE_BLUR ? reference_blur : reference_mean) (image, fill);
      double s0 = linear_score (&lm, roi, image), want[2][STEPS + 1];
      double want_del = reference_curve (&lm, roi, image, fill, order, STEPS, s0, want[0]);
      double want_ins = reference_curve (&lm, roi, fill, image, order, STEPS, s0, want[1]);
      segcam_explain_options eo = {.class_index = 1};
      segcam_metrics_options mo = {.steps = STEPS, .baseline = b};
      segcam_metrics got;
      double curves[2 * (STEPS + 1)];
      GError *error = NULL;
      g_assert_true (segcam_session_evaluate (s, &eo, image, roi, NULL, map, &mo, &got, curves, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat_with_epsilon (got.score, s0, 1e-4 * fabs (s0));
      for (int t = 0; t <= STEPS; t++)
        {
          g_assert_cmpfloat_with_epsilon (curves[t], want[0][t], 1e-4);
          g_assert_cmpfloat_with_epsilon (curves[STEPS + 1 + t], want[1][t], 1e-4);
        }
      g_assert_cmpfloat (curves[0], ==, 1.0);
      g_assert_cmpfloat_with_epsilon (curves[2 * STEPS + 1], 1.0, 1e-6);
      g_assert_cmpfloat_with_epsilon (got.deletion_auc, want_del, 1e-4);
      g_assert_cmpfloat_with_epsilon (got.insertion_auc, want_ins, 1e-4);
      g_assert_true (isnan (got.road_morf) && isnan (got.road_score));
      /* A baseline that is not the image must move the curve, or the test shows nothing. */
      double moved = 0;
      for (int t = 0; t <= STEPS; t++)
        moved = MAX (moved, fabs (want[0][t] - 1));
      g_assert_cmpfloat (moved, >, 0.05);
    }
  g_rand_free (r);
  g_free (image);
  g_free (map);
  segcam_session_free (s);
  segcam_model_free (lm.model);
}

/* Rong et al.'s imputation of every channel, solved densely: for each removed pixel,
 * sum_j w_j (x_i - x_j) = 0 over its neighbours inside the image (w = 1/6 sharing a side, 1/12
 * diagonally), Gaussian elimination with partial pivoting. */
static void reference_impute_sized (float *image, int width, int height, int ch,
                                    const guint8 *removed)
{
  int n = width * height, m = 0, *index = g_new (int, n);
  for (int i = 0; i < n; i++)
    index[i] = removed[i] ? m++ : -1;
  for (int k = 0; k < ch; k++)
    {
      double *a = g_new0 (double, (size_t) m * (m + 1));
      for (int i = 0; i < n; i++)
        {
          if (index[i] < 0)
            continue;
          double *row = a + (size_t) index[i] * (m + 1);
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
              {
                int x = i % width + dx, y = i / width + dy;
                if ((dx == 0 && dy == 0) || x < 0 || x >= width || y < 0 || y >= height)
                  continue;
                double w = dx && dy ? 1 / 12.0 : 1 / 6.0;
                int j = y * width + x;
                row[index[i]] += w;
                if (index[j] >= 0)
                  row[index[j]] -= w;
                else
                  row[m] += w * image[j * ch + k];
              }
        }
      for (int col = 0; col < m; col++)
        {
          int piv = col;
          for (int r = col + 1; r < m; r++)
            if (fabs (a[(size_t) r * (m + 1) + col]) > fabs (a[(size_t) piv * (m + 1) + col]))
              piv = r;
          for (int q = 0; q <= m; q++)
            {
              double t = a[(size_t) col * (m + 1) + q];
              a[(size_t) col * (m + 1) + q] = a[(size_t) piv * (m + 1) + q];
              a[(size_t) piv * (m + 1) + q] = t;
            }
          for (int r = 0; r < m; r++)
            {
              double f = a[(size_t) r * (m + 1) + col] / a[(size_t) col * (m + 1) + col];
              if (r == col || f == 0)
                continue;
              for (int q = col; q <= m; q++)
                a[(size_t) r * (m + 1) + q] -= f * a[(size_t) col * (m + 1) + q];
            }
        }
      for (int i = 0; i < n; i++)
        if (index[i] >= 0)
          image[i * ch + k] = (float) (a[(size_t) index[i] * (m + 1) + m]
                                       / a[(size_t) index[i] * (m + 1) + index[i]]);
      g_free (a);
    }
  g_free (index);
}

static void reference_impute (float *image, const guint8 *removed)
{
  reference_impute_sized (image, SIZE_W, SIZE_H, CH, removed);
}

/* The engine's imputation (imputation.c: conjugate gradients with a multigrid preconditioner)
 * against the dense solve, on an image large enough for two levels of the multigrid and masks of
 * every kind: random 10 %, 50 %, 90 %, all but one pixel, a square hole, every other column
 * (no removed pixel shares a side with another), and a one-pixel border kept. */
static void test_imputation (void)
{
  enum { W = 30, H = 21, N = W * H, C = 2 };
  GRand *r = g_rand_new_with_seed (9);
  float *image = random_values (r, N * C, 0, 1);
  float *got = g_new (float, N * C), *want = g_new (float, N * C);
  guint8 removed[N];
  for (int t = 0; t < 7; t++)
    {
      for (int i = 0; i < N; i++)
        {
          int x = i % W, y = i / W;
          double u = g_rand_double (r);
          removed[i] = t == 0 ? u < 0.1 : t == 1 ? u < 0.5 : t == 2 ? u < 0.9
                       : t == 3 ? i != N / 2 + 7
                       : t == 4 ? x >= 5 && x < 25 && y >= 3 && y < 18
                       : t == 5 ? x % 2 == 1
                       : x > 0 && x < W - 1 && y > 0 && y < H - 1;
        }
      memcpy (got, image, sizeof (float) * N * C);
      memcpy (want, image, sizeof (float) * N * C);
      segcam_impute_linear (got, W, H, C, removed);
      reference_impute_sized (want, W, H, C, removed);
      double worst = 0;
      for (int i = 0; i < N * C; i++)
        {
          if (!removed[i / C])
            g_assert_cmpfloat (got[i], ==, image[i]);
          worst = MAX (worst, fabs ((double) got[i] - want[i]));
        }
      g_test_message ("mask %d: largest difference from the dense solve %.1e", t, worst);
      g_assert_cmpfloat (worst, <=, 1e-5);
    }
  g_rand_free (r);
  g_free (image);
  g_free (got);
  g_free (want);
}

/* ROAD without noise: the mean of S / S(0) over 10..90 % removed, most or least relevant first. */
static double reference_road (const linear_model *lm, const float *roi, const float *image,
                              const int *order, gboolean most_first, double s0)
{
  enum { N = SIZE_W * SIZE_H };
  double sum = 0;
  for (int p = 1; p <= 9; p++)
    {
      int k = (int) floor (p * N / 10.0 + 0.5);
      guint8 removed[N] = {0};
      for (int r = 0; r < k; r++)
        removed[order[most_first ? r : N - 1 - r]] = 1;
      float imputed[N * CH];
      memcpy (imputed, image, sizeof imputed);
      reference_impute (imputed, removed);
      sum += linear_score (lm, roi, imputed) / s0;
    }
  return sum / 9;
}

static void test_road (void)
{
  enum { N = SIZE_W * SIZE_H };
  linear_model lm;
  linear_model_make (&lm, 8);
  GRand *r = g_rand_new_with_seed (4);
  float *image = random_values (r, N * CH, 0, 1), *map = random_values (r, N, 0, 1);
  float roi[N];
  for (int i = 0; i < N; i++)
    roi[i] = (i % SIZE_W) > 6 ? 1.0f : 0.0f;
  segcam_session *s = forward_session (lm.model, image);
  int order[N];
  reference_order (map, N, order);
  double s0 = linear_score (&lm, roi, image);
  double morf = reference_road (&lm, roi, image, order, TRUE, s0);
  double lerf = reference_road (&lm, roi, image, order, FALSE, s0);
  segcam_explain_options eo = {.class_index = 1};
  segcam_metrics_options mo = {.road = TRUE};
  segcam_metrics got;
  GError *error = NULL;
  g_assert_true (segcam_session_evaluate (s, &eo, image, roi, NULL, map, &mo, &got, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (got.road_morf, morf, 1e-4);
  g_assert_cmpfloat_with_epsilon (got.road_lerf, lerf, 1e-4);
  g_assert_cmpfloat_with_epsilon (got.road_score, (lerf - morf) / 2, 1e-4);
  g_assert_true (isnan (got.deletion_auc));
  g_assert_cmpfloat (fabs (morf - lerf), >, 1e-3);

  /* With noise, on a constant image whose imputation is the constant: S moves only by the noise,
   * sum_p c_p e_p with c_p the score's weight on pixel p, whose spread bounds the deviation. */
  for (int i = 0; i < N * CH; i++)
    image[i] = 0.5f;
  double c2 = 0;
  for (int p = 0; p < N * CH; p++)
    {
      float unit[N * CH] = {0}, zero[N * CH] = {0};
      unit[p] = 1;
      double c = linear_score (&lm, roi, unit) - linear_score (&lm, roi, zero);
      c2 += c * c;
    }
  s0 = linear_score (&lm, roi, image);
  mo.road_noise = SEGCAM_ROAD_NOISE;
  mo.seed = 12;
  segcam_metrics again;
  g_assert_true (segcam_session_evaluate (s, &eo, image, roi, NULL, map, &mo, &got, NULL, &error));
  g_assert_true (segcam_session_evaluate (s, &eo, image, roi, NULL, map, &mo, &again, NULL, &error));
  g_assert_no_error (error);
  double bound = 5 * SEGCAM_ROAD_NOISE * sqrt (c2) / fabs (s0);
  g_assert_cmpfloat (fabs (got.road_morf - 1), <, bound);
  g_assert_cmpfloat (fabs (got.road_lerf - 1), <, bound);
  g_assert_cmpfloat (got.road_morf, !=, 1.0);
  g_assert_cmpfloat (got.road_morf, ==, again.road_morf); /* the seed decides the noise */
  mo.seed = 13;
  g_assert_true (segcam_session_evaluate (s, &eo, image, roi, NULL, map, &mo, &again, NULL, &error));
  g_assert_cmpfloat (got.road_morf, !=, again.road_morf);
  g_rand_free (r);
  g_free (image);
  g_free (map);
  segcam_session_free (s);
  segcam_model_free (lm.model);
}

static void expect_input_error (gboolean ok, GError **error, const char *what)
{
  g_assert_false (ok);
  g_assert_error (*error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_assert_nonnull (strstr ((*error)->message, what));
  g_assert_null (strchr ((*error)->message, '\n'));
  g_clear_error (error);
}


/* The cancel callback is asked before each forward pass: 1 + 2 steps + 2 * 9 of them with the
 * curves and ROAD (the curves' two points on the original image reuse S(0)), none for the shares
 * alone. Its first TRUE stops the evaluation with SEGCAM_ERROR_CANCELLED, and a later evaluation
 * gives what an uncancelled one gives. */
static void test_cancel (void)
{
  enum { N = SIZE_W * SIZE_H, STEPS = 4, PASSES = 1 + 2 * STEPS + 2 * 9 };
  linear_model lm;
  linear_model_make (&lm, 6);
  GRand *r = g_rand_new_with_seed (5);
  float *image = random_values (r, N * CH, 0, 1), *map = random_values (r, N, 0, 1);
  segcam_session *s = forward_session (lm.model, image);
  segcam_explain_options eo = {.class_index = 1};
  cancel_count never = {0, G_MAXINT};
  segcam_metrics_options mo = {.steps = STEPS, .road = TRUE, .road_noise = SEGCAM_ROAD_NOISE,
                               .cancelled = cancel_after, .cancel_data = &never};
  segcam_metrics want, got;
  GError *error = NULL;
  g_assert_true (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &want, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (never.asked, ==, PASSES);
  /* The shares alone: S(0) from the forward pass of image the session holds, no pass of its own. */
  segcam_metrics shares;
  segcam_metrics_options none = {.cancelled = cancel_after, .cancel_data = &never};
  never.asked = 0;
  g_assert_true (segcam_session_forward (s, image, &error));
  g_assert_true (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &none, &shares, NULL,
                                          &error));
  g_assert_cmpint (never.asked, ==, 0);
  g_assert_cmpfloat (shares.score, ==, want.score);
  g_assert_cmpfloat (shares.energy.roi_energy_share, ==, want.energy.roi_energy_share);
  for (int k = 0; k < PASSES; k += 7)
    {
      cancel_count c = {0, k};
      mo.cancel_data = &c;
      g_assert_false (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &got, NULL,
                                               &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_CANCELLED);
      g_assert_nonnull (strstr (error->message, "cancelled"));
      g_clear_error (&error);
      g_assert_cmpint (c.asked, ==, k + 1);
    }
  mo.cancelled = NULL;
  g_assert_true (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &got, NULL, &error));
  g_assert_cmpfloat (got.deletion_auc, ==, want.deletion_auc);
  g_assert_cmpfloat (got.insertion_auc, ==, want.insertion_auc);
  g_assert_cmpfloat (got.road_score, ==, want.road_score);
  g_rand_free (r);
  g_free (image);
  g_free (map);
  segcam_session_free (s);
  segcam_model_free (lm.model);
}

static void test_bad_input (void)
{
  enum { N = SIZE_W * SIZE_H };
  linear_model lm;
  linear_model_make (&lm, 5);
  GRand *r = g_rand_new_with_seed (2);
  float *image = random_values (r, N * CH, 0, 1), *map = random_values (r, N, 0, 1);
  float roi[N], context[N];
  for (int i = 0; i < N; i++)
    roi[i] = 0, context[i] = 1;
  segcam_session *s = forward_session (lm.model, image);
  segcam_explain_options eo = {.class_index = 1};
  segcam_metrics_options mo = {.steps = 4};
  segcam_metrics out;
  GError *error = NULL;
  expect_input_error (segcam_session_evaluate (s, &eo, image, roi, NULL, map, &mo, &out, NULL, &error),
                      &error, "empty");
  eo.class_index = 2;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &out, NULL, &error),
                      &error, "class");
  eo.class_index = 1;
  map[17] = -1;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &out, NULL, &error),
                      &error, "map has a negative");
  map[17] = NAN;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &out, NULL, &error),
                      &error, "pixel (4, 1)");
  map[17] = 0;
  context[3] = INFINITY;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, context, map, &mo, &out, NULL,
                                               &error), &error, "context mask");
  mo.steps = N + 1;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &out, NULL, &error),
                      &error, "steps");
  mo.steps = 2;
  mo.road_noise = -1;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &out, NULL, &error),
                      &error, "noise");
  mo.road_noise = 0;
  image[5] = NAN;
  expect_input_error (segcam_session_evaluate (s, &eo, image, NULL, NULL, map, &mo, &out, NULL, &error),
                      &error, "non-finite");
  g_rand_free (r);
  g_free (image);
  g_free (map);
  segcam_session_free (s);
  segcam_model_free (lm.model);
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/energy", test_energy_roi);
  g_test_add_func ("/metrics/deletion-insertion", test_deletion_insertion);
  g_test_add_func ("/metrics/imputation", test_imputation);
  g_test_add_func ("/metrics/road", test_road);
  g_test_add_func ("/metrics/cancel", test_cancel);
  g_test_add_func ("/metrics/bad-input", test_bad_input);
  return g_test_run ();
}
