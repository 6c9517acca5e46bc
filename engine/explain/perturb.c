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
  gboolean ok = segcam_session_forward (s, o->pixels, error);
  const segcam_act *t = &s->acts[s->target];
  int nc = t->c, hw = t->h * t->w;
  float *a = ok ? g_memdup2 (t->data, segcam_act_size (t) * sizeof (float)) : NULL;
  int *channels = g_new (int, nc);
  int n = ok ? choose_channels (a, hw, nc, o->max_channels, channels) : 0;
  double *weight = g_new0 (double, nc), *score = g_new (double, MAX (n, 1));
  double s0 = ok ? segcam_roi_score (s, o, roi, NULL) : 0;
  segcam_rerun *rerun = ok && o->method == SEGCAM_METHOD_ABLATION ? segcam_rerun_new (s, o->pixels)
                                                                  : NULL;
  float *image = o->method == SEGCAM_METHOD_SCORE
                 ? g_new (float, (size_t) s->width * s->height * s->model->in_channels) : NULL;
  for (int i = 0; ok && i < n; i++)
    {
      int k = channels[i];
      if (rerun)
        {
          for (int p = 0; p < hw; p++)
            t->data[(size_t) p * nc + k] = 0;
          segcam_rerun_forward (s, rerun);
          for (int p = 0; p < hw; p++)
            t->data[(size_t) p * nc + k] = a[(size_t) p * nc + k];
        }
      else
        {
          masked_image (s, a, k, o->pixels, image);
          ok = segcam_session_forward (s, image, error);
        }
      score[i] = segcam_roi_score (s, o, roi, NULL);
      if (progress)
        progress ((double) (i + 1) / n, segcam_method_name (o->method), progress_data);
    }
  if (ok && rerun)
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
  for (int p = 0; ok && p < hw; p++)
    {
      double sum = 0;
      for (int k = 0; k < nc; k++)
        sum += weight[k] * a[(size_t) p * nc + k];
      s->cam[p] = (float) sum;
    }
  /* Back to the caller's image, as forward left the session. */
  if (ok)
    ok = segcam_session_forward (s, o->pixels, error);
  s->progress = progress;
  segcam_rerun_free (rerun);
  g_free (image);
  g_free (a);
  g_free (channels);
  g_free (weight);
  g_free (score);
  return ok;
}
