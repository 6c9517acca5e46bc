/* score.c — the ROI score S and its gradient dS/dz at the output (docs/seg-grad-cam.md,
 * 'Definition'): shared by the CAM methods, which back-propagate it, and the metrics, which
 * only read it on perturbed images. */
#include "score.h"
#include "error.h"

#include <string.h>

gboolean
segcam_roi_check (const float *roi, size_t n, double *sum, GError **error)
{
  double total = roi ? 0 : (double) n;
  for (size_t i = 0; roi && i < n; i++)
    {
      if (!(roi[i] >= 0 && roi[i] <= 1))
        return segcam_fail (error, SEGCAM_ERROR_INPUT, "ROI weights must lie in [0, 1]");
      total += roi[i];
    }
  if (total <= 0)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the region of interest is empty");
  *sum = total;
  return TRUE;
}

double
segcam_roi_score (const segcam_session *s, const segcam_explain_options *o, const float *roi,
                  segcam_act *seed)
{
  const segcam_model *m = s->model;
  const segcam_act *z = &s->acts[m->output];
  int nc = z->c, c = o->class_index;
  gboolean one_channel = m->sigmoid && nc == 1;
  /* A one-channel model's class 0 is the background: logit -z, probability 1 - sigmoid(z). */
  float sign = one_channel && c == 0 ? -1.0f : 1.0f;
  int zc = one_channel ? 0 : c;
  float *prob = g_newa (float, nc);
  float *scratch = g_newa (float, nc);
  double score = 0;
  if (seed)
    memset (seed->data, 0, segcam_act_size (seed) * sizeof (float));
  for (int y = 0; y < s->height; y++)
    for (int x = 0; x < s->width; x++)
      {
        float w = roi ? roi[(size_t) y * s->width + x] : 1.0f;
        size_t q = ((size_t) y * s->wp + x) * nc;
        const float *v = z->data + q;
        float *d = seed ? seed->data + q : scratch;
        if (w == 0)
          continue;
        if (o->score == SEGCAM_SCORE_LOGITS)
          {
            d[zc] = sign * w;
            score += (double) w * sign * v[zc];
          }
        else if (m->sigmoid)
          {
            float p = segcam_logistic (v[zc]);
            d[zc] = sign * w * p * (1.0f - p);
            score += (double) w * (sign > 0 ? p : 1.0f - p);
          }
        else
          {
            /* d p_c / d z_k = p_c (delta_ck - p_k) */
            segcam_softmax (v, nc, prob);
            float pc = prob[c];
            for (int k = 0; k < nc; k++)
              d[k] = -w * pc * prob[k];
            d[c] += w * pc;
            score += (double) w * pc;
          }
      }
  return score;
}
