/* perturb.c — Score-CAM and Ablation-CAM (docs/methods.md): channel weights from the ROI score S
 * of the network run again, per channel k of the target activation A (h x w x K, NHWC),
 *   SCORE     on the image masked by H_k = minmax (crop (bilinear (A_k))), in the network's
 *             normalised input space: x' = mean + (x - mean) H_k; w = softmax_k S_k
 *   ABLATION  from the target on, with A_k = 0; w_k = (S - S_k) / S (S - S_k when S = 0)
 * and L = sum_k w_k A_k over the channels evaluated (max_channels: those of highest mean). */
#include "perturb.h"
#include "error.h"
#include "score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* pytorch-grad-cam's guard in Score-CAM's min-max normalisation. */
#define SCORE_CAM_EPS 1e-8

typedef struct {
  double mean;
  int channel;
} channel_rank;

static int
by_mean (const void *pa, const void *pb)
{
  const channel_rank *a = pa, *b = pb;
  if (a->mean != b->mean)
    return a->mean > b->mean ? -1 : 1;
  return a->channel - b->channel;
}

/* The channels to evaluate, highest mean activation first (all of them when max is 0). */
static int
choose_channels (const float *a, int hw, int nc, int max, int *out)
{
  channel_rank *r = g_new0 (channel_rank, nc);
  for (int k = 0; k < nc; k++)
    r[k].channel = k;
  for (int p = 0; p < hw; p++)
    for (int k = 0; k < nc; k++)
      r[k].mean += a[(size_t) p * nc + k];
  qsort (r, nc, sizeof *r, by_mean);
  int n = max > 0 ? MIN (max, nc) : nc;
  for (int i = 0; i < n; i++)
    out[i] = r[i].channel;
  g_free (r);
  return n;
}

/* The image masked by channel k's normalised upsampled map (Score-CAM's H_k). */
static void
masked_image (segcam_session *s, const float *a, int k, const float *pixels, float *out)
{
  const segcam_act *t = &s->acts[s->target];
  const segcam_model *m = s->model;
  size_t hw = (size_t) t->h * t->w;
  for (size_t p = 0; p < hw; p++)
    s->cam[p] = a[p * t->c + k];
  /* The grid every map is resized on, so that a fixed-size network's mask covers the image. */
  segcam_act cam = {s->cam, 1, t->h, t->w, 1}, full = segcam_session_map_grid (s);
  segcam_upsample_forward (s->pool, SEGCAM_UPSAMPLE_BILINEAR, 0, 0, &cam, &full);
  float lo = INFINITY, hi = -INFINITY;
  for (int y = 0; y < s->height; y++)
    for (int x = 0; x < s->width; x++)
      {
        float v = full.data[(size_t) y * full.w + x];
        lo = MIN (lo, v), hi = MAX (hi, v);
      }
  int c = m->in_channels;
  for (int y = 0; y < s->height; y++)
    for (int x = 0; x < s->width; x++)
      {
        double h = (full.data[(size_t) y * full.w + x] - lo) / (hi - lo + SCORE_CAM_EPS);
        size_t q = ((size_t) y * s->width + x) * c;
        for (int j = 0; j < c; j++)
          out[q + j] = (float) (m->mean[j] + (pixels[q + j] - m->mean[j]) * h);
      }
}

/* ---- passes: progress, one step per channel, and the caller's cancel between passes --------- */

typedef struct {
  const segcam_explain_options *o;
  segcam_progress_fn fn;
  void *data;
  int done, total;          /* channels */
} passes;

/* Asked before each pass: FALSE with SEGCAM_ERROR_CANCELLED when the caller wants to stop. */
static gboolean
pass_may_run (const passes *p, GError **error)
{
  if (p->o->cancelled && p->o->cancelled (p->o->cancel_data))
    return segcam_fail (error, SEGCAM_ERROR_CANCELLED, "%s was cancelled after %d of %d channels",
                        segcam_method_name (p->o->method), p->done, p->total);
  return TRUE;
}

static void
passes_report (passes *p, int channels)
{
  for (int i = 0; i < channels; i++)
    {
      p->done++;
      if (p->fn)
        p->fn ((double) p->done / p->total, segcam_method_name (p->o->method), p->data);
    }
}

/* After passes that ran in s: s back to the caller's image, as forward left it, also when they
 * stopped early (cancelled). pixels went through forward before, so this pass cannot fail. */
static gboolean
restore_forward (segcam_session *s, const float *pixels, gboolean ok, GError **error)
{
  return segcam_session_forward (s, pixels, ok ? error : NULL) && ok;
}

/* ---- Score-CAM's masked images, B at a time ------------------------------------------------ */

/* Images per pass, and the memory they may take: a batch session of at most this many images,
 * within SCORE_BATCH_FACTOR times the explaining session and SCORE_BATCH_BUDGET bytes
 * (docs/methods.md, "Cost"). */
#define SCORE_BATCH_MAX 16
#define SCORE_BATCH_FACTOR 4
#define SCORE_BATCH_BUDGET ((size_t) 256 << 20)

/* A forward-only session for up to n masked images at a time, of the largest batch within the
 * budget; NULL when that is a single image (s itself then runs them). */
static segcam_session *
score_batch_session (segcam_session *s, int n)
{
  size_t budget = MIN (SCORE_BATCH_BUDGET, SCORE_BATCH_FACTOR * segcam_session_memory (s));
  int b = MIN (n, SCORE_BATCH_MAX);
  while (b > 1)
    {
      segcam_session *bs = segcam_session_create (s->model, s->width, s->height, b,
                                                  SEGCAM_RUN_FORWARD, -1,
                                                  segcam_pool_threads (s->pool), !s->steps, NULL);
      size_t bytes = bs ? segcam_session_memory (bs) : 0;
      if (bs && bytes <= budget)
        return bs;
      segcam_session_free (bs);
      /* Memory grows about linearly with b; without a session (out of memory), halve it. */
      b = bs ? MIN (b - 1, (int) (b * (budget / (double) bytes))) : b / 2;
    }
  return NULL;
}

/* S_i on the image masked by channel channels[i] (Score-CAM), for i < n, a batch of images per
 * pass. s is as the caller's forward pass left it afterwards. */
static gboolean
score_cam_scores (segcam_session *s, const segcam_explain_options *o, const float *roi,
                  const float *a, const int *channels, int n, double *score, passes *p,
                  GError **error)
{
  segcam_session *bs = score_batch_session (s, n);
  segcam_session *run = bs ? bs : s;
  size_t per = (size_t) s->width * s->height * s->model->in_channels;
  float *images = g_new (float, per * run->batch);
  /* A fixed-size network's ROI resampled once, in s (the batch session has no buffer for it). */
  const float *network_roi = segcam_session_network_roi (s, roi);
  gboolean ok = TRUE;
  for (int i = 0; ok && i < n; i += run->batch)
    {
      int b = MIN (run->batch, n - i);
      if (!(ok = pass_may_run (p, error)))
        break;
      for (int j = 0; j < b; j++)
        masked_image (s, a, channels[i + j], o->pixels, images + j * per);
      /* The last batch may be short: its unused images repeat the first, any valid image. */
      for (int j = b; j < run->batch; j++)
        memcpy (images + j * per, images, per * sizeof (float));
      if (!(ok = segcam_session_forward (run, images, error)))
        break;
      for (int j = 0; j < b; j++)
        score[i + j] = segcam_roi_score_image (run, o, network_roi, j);
      passes_report (p, b);
    }
  g_free (images);
  if (!bs)
    return restore_forward (s, o->pixels, ok, error);
  segcam_session_free (bs);
  return ok;
}

/* S_i with channel channels[i] of the target zeroed (Ablation-CAM), for i < n, one rerun per
 * channel; s is as the caller's forward pass left it afterwards. */
static gboolean
ablation_scores (segcam_session *s, const segcam_explain_options *o, const float *roi,
                 const float *a, const int *channels, int n, double *score, passes *p,
                 GError **error)
{
  const segcam_act *t = &s->acts[s->target];
  int nc = t->c, hw = t->h * t->w;
  segcam_rerun *rerun = segcam_rerun_new (s, o->pixels);
  gboolean ok = TRUE;
  for (int i = 0; i < n && (ok = pass_may_run (p, error)); i++)
    {
      int k = channels[i];
      for (int q = 0; q < hw; q++)
        t->data[(size_t) q * nc + k] = 0;
      segcam_rerun_forward (s, rerun);
      for (int q = 0; q < hw; q++)
        t->data[(size_t) q * nc + k] = a[(size_t) q * nc + k];
      score[i] = segcam_roi_score (s, o, roi, NULL);
      passes_report (p, 1);
    }
  segcam_rerun_free (rerun);
  return restore_forward (s, o->pixels, ok, error);
}

gboolean
segcam_perturb_cam (segcam_session *s, const segcam_explain_options *o, const float *roi,
                    GError **error)
{
  if (!o->pixels)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "%s needs the image (the options' pixels)",
                        segcam_method_name (o->method));
  if (o->max_channels < 0)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "max_channels must be 0 (all) or more, not %d",
                        o->max_channels);
  segcam_progress_fn progress = s->progress;
  void *progress_data = s->progress_data;
  s->progress = NULL; /* one report per channel, not per node of each pass */
  if (!segcam_session_forward (s, o->pixels, error))
    {
      s->progress = progress;
      return FALSE;
    }
  const segcam_act *t = &s->acts[s->target];
  int nc = t->c, hw = t->h * t->w;
  float *a = g_memdup2 (t->data, segcam_act_size (t) * sizeof (float));
  int *channels = g_new (int, nc);
  int n = choose_channels (a, hw, nc, o->max_channels, channels);
  double *weight = g_new0 (double, nc), *score = g_new (double, MAX (n, 1));
  double s0 = segcam_roi_score (s, o, roi, NULL);
  passes p = {o, progress, progress_data, 0, n};
  gboolean ablation = o->method == SEGCAM_METHOD_ABLATION;
  gboolean ok = ablation ? ablation_scores (s, o, roi, a, channels, n, score, &p, error)
                         : score_cam_scores (s, o, roi, a, channels, n, score, &p, error);
  if (ok && ablation)
    for (int i = 0; i < n; i++)
      weight[channels[i]] = s0 != 0 ? (s0 - score[i]) / s0 : s0 - score[i];
  else if (ok)
    {
      /* softmax over the channels evaluated, shifted by the maximum so that it cannot overflow */
      double top = -INFINITY, total = 0;
      for (int i = 0; i < n; i++)
        top = MAX (top, score[i]);
      for (int i = 0; i < n; i++)
        total += weight[channels[i]] = exp (score[i] - top);
      for (int i = 0; i < n; i++)
        weight[channels[i]] /= total;
    }
  for (int q = 0; ok && q < hw; q++)
    {
      double sum = 0;
      for (int k = 0; k < nc; k++)
        sum += weight[k] * a[(size_t) q * nc + k];
      s->cam[q] = (float) sum;
    }
  s->progress = progress;
  g_free (a);
  g_free (channels);
  g_free (weight);
  g_free (score);
  return ok;
}
