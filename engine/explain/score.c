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

/* S over roi (already at the covered size of the output) of z, one image's logits in s's
 * output. */
static double
score_logits (const segcam_session *s, const segcam_explain_options *o, const float *roi,
              const float *z, segcam_act *seed)
{
  const segcam_model *m = s->model;
  int nc = s->acts[m->output].c, c = o->class_index;
  gboolean one_channel = m->sigmoid && nc == 1;
  /* A one-channel model's class 0 is the background: logit -z, probability 1 - sigmoid(z). */
  float sign = one_channel && c == 0 ? -1.0f : 1.0f;
  int zc = one_channel ? 0 : c;
  float *prob = g_newa (float, nc);
  float *scratch = g_newa (float, nc);
  double score = 0;
  if (seed)
    memset (seed->data, 0, segcam_act_size (seed) * sizeof (float));
  int ch = segcam_session_covered_h (s), cw = segcam_session_covered_w (s);
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++)
      {
        float w = roi ? roi[(size_t) y * cw + x] : 1.0f;
        size_t q = ((size_t) y * s->wp + x) * nc;
        const float *v = z + q;
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

double
segcam_roi_score (segcam_session *s, const segcam_explain_options *o, const float *roi,
                  segcam_act *seed)
{
  /* A network of another fixed size than the image's scores the ROI resampled to it. */
  return score_logits (s, o, segcam_session_network_roi (s, roi), s->acts[s->model->output].data,
                       seed);
}

double
segcam_roi_score_image (const segcam_session *s, const segcam_explain_options *o,
                        const float *network_roi, int b)
{
  const segcam_act *z = &s->acts[s->model->output];
  return score_logits (s, o, network_roi, z->data + (size_t) b * z->h * z->w * z->c, NULL);
}
