/* metrics.c — how far to trust a map (segcam-metrics.h; definitions, sources and conventions in
 * docs/metrics.md): where its energy lies relative to the ROI and a context mask, and how the ROI
 * score S falls or rises as pixels are removed or restored in the map's order. */
#include "segcam-metrics.h"
#include "error.h"
#include "imputation.h"
#include "score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The blur baseline: a Gaussian of this standard deviation in pixels (RISE's), cut at 3 sigma. */
#define BLUR_SIGMA 5.0
#define BLUR_RADIUS 15

void
segcam_map_energy (const float *map, const float *roi, const float *context, int width, int height,
                   segcam_energy *out)
{
  size_t n = (size_t) width * height;
  double total = 0, in_roi = 0, on_context = 0;
  for (size_t i = 0; i < n; i++)
    {
      total += map[i];
      in_roi += (double) map[i] * (roi ? roi[i] : 1.0);
      if (context)
        on_context += (double) map[i] * context[i];
    }
  if (total > 0)
    *out = (segcam_energy) {in_roi / total, (total - in_roi) / total,
                            context ? on_context / total : NAN};
  else
    *out = (segcam_energy) {NAN, NAN, NAN};
}

/* ---- the pixels' order --------------------------------------------------------------------- */

typedef struct {
  float value;
  int index;
} ranked;

/* Most relevant first; equal values in raster order, so the order is total and reproducible. */
static int
by_relevance (const void *pa, const void *pb)
{
  const ranked *a = pa, *b = pb;
  if (a->value != b->value)
    return a->value > b->value ? -1 : 1;
  return (a->index > b->index) - (a->index < b->index);
}

static int *
relevance_order (const float *map, size_t n)
{
  ranked *r = g_new (ranked, n);
  for (size_t i = 0; i < n; i++)
    r[i] = (ranked) {map[i], (int) i};
  qsort (r, n, sizeof *r, by_relevance);
  int *order = g_new (int, n);
  for (size_t i = 0; i < n; i++)
    order[i] = r[i].index;
  g_free (r);
  return order;
}

/* ---- baselines ------------------------------------------------------------------------------ */

/* One pass of the separable Gaussian along rows (dx = 1) or columns, edge pixels repeated. */
static void
blur_pass (const float *in, float *out, int width, int height, int c, gboolean along_rows,
           const double *taps)
{
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      for (int k = 0; k < c; k++)
        {
          double sum = 0;
          for (int d = -BLUR_RADIUS; d <= BLUR_RADIUS; d++)
            {
              int xx = along_rows ? CLAMP (x + d, 0, width - 1) : x;
              int yy = along_rows ? y : CLAMP (y + d, 0, height - 1);
              sum += taps[d + BLUR_RADIUS] * in[((size_t) yy * width + xx) * c + k];
            }
          out[((size_t) y * width + x) * c + k] = (float) sum;
        }
}

static float *
make_baseline (const float *pixels, int width, int height, int c, SegcamBaseline kind)
{
  size_t n = (size_t) width * height;
  float *out = g_new (float, n * c);
  if (kind == SEGCAM_BASELINE_MEAN)
    for (int k = 0; k < c; k++)
      {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
          sum += pixels[i * c + k];
        for (size_t i = 0; i < n; i++)
          out[i * c + k] = (float) (sum / n);
      }
  else
    {
      double taps[2 * BLUR_RADIUS + 1], total = 0;
      for (int d = -BLUR_RADIUS; d <= BLUR_RADIUS; d++)
        total += taps[d + BLUR_RADIUS] = exp (-0.5 * d * d / (BLUR_SIGMA * BLUR_SIGMA));
      for (int d = 0; d < 2 * BLUR_RADIUS + 1; d++)
        taps[d] /= total;
      float *rows = g_new (float, n * c);
      blur_pass (pixels, rows, width, height, c, TRUE, taps);
      blur_pass (rows, out, width, height, c, FALSE, taps);
      g_free (rows);
    }
  return out;
}

/* ---- running the network on perturbed images --------------------------------------------- */

typedef struct {
  segcam_session *session;
  const segcam_explain_options *explain;
  const float *roi;
  int channels;
  int done, total;          /* forward passes, for progress */
  segcam_progress_fn progress;
  void *progress_data;
  const segcam_metrics_options *options; /* its cancel callback */
} scorer;

/* S on image; each call is one forward pass, reported as one step of the whole evaluation, and
 * first asks the caller's cancel callback. */
static gboolean
score_image (scorer *sc, const float *image, double *score, GError **error)
{
  if (sc->options->cancelled && sc->options->cancelled (sc->options->cancel_data))
    return segcam_fail (error, SEGCAM_ERROR_CANCELLED, "the evaluation was cancelled after %d of "
                        "%d forward passes", sc->done, sc->total);
  if (!segcam_session_forward (sc->session, image, error))
    return FALSE;
  *score = segcam_roi_score (sc->session, sc->explain, sc->roi, NULL);
  sc->done++;
  if (sc->progress)
    sc->progress ((double) sc->done / sc->total, "evaluate", sc->progress_data);
  return TRUE;
}

static void
copy_pixel (float *dst, const float *src, int index, int c)
{
  memcpy (dst + (size_t) index * c, src + (size_t) index * c, c * sizeof (float));
}

/* Pixels changed after step t of steps: round (t n / steps). */
static size_t
pixels_at_step (int t, int steps, size_t n)
{
  return (size_t) (((guint64) t * n * 2 + (guint64) steps) / (2 * (guint64) steps));
}

/* The deletion curve (start from pixels, put fill in, in order) or the insertion curve (start
 * from fill, put pixels back): curve[t] = S_t / S_0 for t = 0..steps; returns its area over the
 * fraction changed, by the trapezoid rule on the exact fractions. */
static gboolean
run_curve (scorer *sc, const float *original_pixels, const float *start, const float *fill,
           const int *order, size_t n, int steps, double s0, double *curve, double *auc,
           GError **error)
{
  float *image = g_memdup2 (start, n * sc->channels * sizeof (float));
  gboolean ok = TRUE;
  size_t changed = 0;
  double area = 0;
  for (int t = 0; ok && t <= steps; t++)
    {
      size_t upto = pixels_at_step (t, steps, n);
      for (; changed < upto; changed++)
        copy_pixel (image, fill, order[changed], sc->channels);
      /* Where the image is the original (nothing deleted yet, everything inserted back), S is
       * S(0): the forward pass is deterministic, so running it again would give the same bits. */
      double s = s0;
      gboolean original = (upto == 0 && start == original_pixels)
                          || (upto == n && fill == original_pixels);
      if (!original && !(ok = score_image (sc, image, &s, error)))
        break;
      curve[t] = s / s0;
      if (t > 0)
        area += 0.5 * (curve[t - 1] + curve[t])
                * (double) (upto - pixels_at_step (t - 1, steps, n)) / n;
    }
  g_free (image);
  *auc = area;
  return ok;
}

/* ---- ROAD: noisy linear imputation ------------------------------------------------------------ */

/* A standard normal draw (Box-Muller). */
static double
normal (GRand *rand)
{
  double u = 1.0 - g_rand_double (rand), v = g_rand_double (rand);
  return sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v);
}

#define ROAD_PERCENTILES 9  /* 10, 20, ..., 90 % */

/* One ROAD curve: remove the first (MoRF) or last (LeRF) p % of order, impute them, add noise,
 * and average S / S(0) over the percentiles. */
static gboolean
road_curve (scorer *sc, const float *pixels, const int *order, size_t n, gboolean most_first,
            const segcam_metrics_options *o, GRand *rand, double s0, double *mean, GError **error)
{
  int w = sc->session->width, h = sc->session->height, c = sc->channels;
  float *image = g_new (float, n * c);
  guint8 *removed = g_new0 (guint8, n);
  double sum = 0;
  gboolean ok = TRUE;
  for (int p = 1; ok && p <= ROAD_PERCENTILES; p++)
    {
      size_t k = pixels_at_step (p, ROAD_PERCENTILES + 1, n);
      memset (removed, 0, n);
      for (size_t r = 0; r < k; r++)
        removed[order[most_first ? r : n - 1 - r]] = 1;
      memcpy (image, pixels, n * c * sizeof (float));
      segcam_impute_linear (image, w, h, c, removed);
      for (size_t i = 0; i < n; i++)
        for (int ch = 0; removed[i] && ch < c; ch++)
          image[i * c + ch] += (float) (o->road_noise * normal (rand));
      double s;
      if ((ok = score_image (sc, image, &s, error)))
        sum += s / s0;
    }
  *mean = sum / ROAD_PERCENTILES;
  g_free (image);
  g_free (removed);
  return ok;
}

/* ---- the evaluation ------------------------------------------------------------------------- */

static gboolean
check_inputs (const segcam_session *s, const segcam_explain_options *e, const float *roi,
              const float *context, const float *map, const segcam_metrics_options *o,
              GError **error)
{
  size_t n = (size_t) s->width * s->height;
  double roi_sum;
  if (e->class_index < 0 || e->class_index >= s->model->n_classes)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the class index is out of range");
  if (!segcam_roi_check (roi, n, &roi_sum, error))
    return FALSE;
  for (size_t i = 0; i < n; i++)
    {
      if (!(map[i] >= 0 && isfinite (map[i])))
        return segcam_fail (error, SEGCAM_ERROR_INPUT, "the map has a negative or non-finite value "
                            "at pixel (%d, %d)", (int) (i % s->width), (int) (i / s->width));
      if (context && !(context[i] >= 0 && isfinite (context[i])))
        return segcam_fail (error, SEGCAM_ERROR_INPUT, "the context mask has a negative or "
                            "non-finite value at pixel (%d, %d)", (int) (i % s->width),
                            (int) (i / s->width));
    }
  if (o->steps < 0 || (size_t) o->steps > n)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the curves' steps must lie between 0 and the "
                        "image's %zu pixels, not %d", n, o->steps);
  if (o->baseline != SEGCAM_BASELINE_BLUR && o->baseline != SEGCAM_BASELINE_MEAN)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "unknown baseline %d", (int) o->baseline);
  if (o->road && n < 10)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "ROAD needs an image of at least 10 pixels");
  if (!(o->road_noise >= 0 && isfinite (o->road_noise)))
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "ROAD's noise must be finite and >= 0");
  return TRUE;
}

gboolean
segcam_session_evaluate (segcam_session *s, const segcam_explain_options *explain,
                         const float *pixels, const float *roi, const float *context,
                         const float *map, const segcam_metrics_options *o, segcam_metrics *out,
                         double *curves, GError **error)
{
  if (!check_inputs (s, explain, roi, context, map, o, error))
    return FALSE;
  size_t n = (size_t) s->width * s->height;
  /* Forward passes: S(0), each curve's points but its original image, ROAD's percentiles. With
   * no curve, S(0) is read from the forward pass the session holds (pixels', by contract). */
  gboolean curved = o->steps > 0 || o->road;
  scorer sc = {s, explain, roi, s->model->in_channels, 0,
               (curved || !s->forward_done) + (o->steps > 0 ? 2 * o->steps : 0)
               + (o->road ? 2 * ROAD_PERCENTILES : 0),
               s->progress, s->progress_data, o};
  /* The evaluation reports its own progress, one step per forward pass. */
  s->progress = NULL;
  *out = (segcam_metrics) {.deletion_auc = NAN, .insertion_auc = NAN, .road_morf = NAN,
                           .road_lerf = NAN, .road_score = NAN};
  segcam_map_energy (map, roi, context, s->width, s->height, &out->energy);
  double s0 = 0;
  gboolean ok = TRUE;
  if (curved || !s->forward_done)
    ok = score_image (&sc, pixels, &s0, error);
  else
    s0 = segcam_roi_score (s, explain, roi, NULL);
  out->score = s0;
  int *order = curved ? relevance_order (map, n) : NULL;
  if (ok && o->steps > 0 && s0 != 0)
    {
      float *fill = make_baseline (pixels, s->width, s->height, sc.channels, o->baseline);
      double *own = curves ? NULL : g_new (double, 2 * (o->steps + 1));
      double *del = curves ? curves : own, *ins = del + o->steps + 1;
      ok = run_curve (&sc, pixels, pixels, fill, order, n, o->steps, s0, del, &out->deletion_auc,
                      error)
           && run_curve (&sc, pixels, fill, pixels, order, n, o->steps, s0, ins,
                         &out->insertion_auc, error);
      g_free (own);
      g_free (fill);
    }
  else if (curves && o->steps > 0)
    for (int t = 0; t < 2 * (o->steps + 1); t++)
      curves[t] = NAN;
  if (ok && o->road && s0 != 0)
    {
      GRand *rand = g_rand_new_with_seed_array ((const guint32[]) {(guint32) o->seed,
                                                                   (guint32) (o->seed >> 32)}, 2);
      ok = road_curve (&sc, pixels, order, n, TRUE, o, rand, s0, &out->road_morf, error)
           && road_curve (&sc, pixels, order, n, FALSE, o, rand, s0, &out->road_lerf, error);
      out->road_score = 0.5 * (out->road_lerf - out->road_morf);
      g_rand_free (rand);
    }
  g_free (order);
  s->progress = sc.progress;
  return ok;
}
