/* seggradcam.c — Seg-Grad-CAM exactly as docs/seg-grad-cam.md, 'Definition', and the steps every
 * other CAM method (docs/methods.md) shares with it:
 *
 *   S = sum_ij M_ij y_c,ij            y = logits, or probabilities (softmax / sigmoid)
 *   G = dS/dA                         backward to the target layer
 *   L = the method's map (cam.c)      Seg-Grad-CAM: sum_k mean_uv (G_k) A_k
 *   map = ReLU (crop (bilinear (L, padded size)))  / max, when normalising and max > 0
 *   (a network of fixed size other than the image's: bilinear (L, image size), no crop) */
#include "cam.h"
#include "error.h"
#include "session.h"

#include <math.h>
#include <string.h>

/* Fills grads[output] with dS/dz and returns S. The padding has no ROI weight; a network of
 * another fixed size than the image's scores the ROI resampled to it. */
static double
seed_output (segcam_session *s, const segcam_explain_options *o, const float *roi)
{
  const segcam_model *m = s->model;
  segcam_act *g = &s->grads[m->output];
  const segcam_act *z = &s->acts[m->output];
  int nc = z->c, c = o->class_index;
  gboolean one_channel = m->sigmoid && nc == 1;
  /* A one-channel model's class 0 is the background: logit -z, probability 1 - sigmoid(z). */
  float sign = one_channel && c == 0 ? -1.0f : 1.0f;
  int zc = one_channel ? 0 : c;
  float *prob = g_newa (float, nc);
  double score = 0;
  memset (g->data, 0, segcam_act_size (g) * sizeof (float));
  roi = segcam_session_network_roi (s, roi);
  int ch = segcam_session_covered_h (s), cw = segcam_session_covered_w (s);
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++)
      {
        float w = roi ? roi[(size_t) y * cw + x] : 1.0f;
        size_t q = ((size_t) y * s->wp + x) * nc;
        const float *v = z->data + q;
        float *d = g->data + q;
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

gboolean
segcam_session_explain (segcam_session *s, const segcam_explain_options *o, const float *roi,
                        float *map, segcam_explain_info *info, GError **error)
{
  const segcam_model *m = s->model;
  if (!s->explain || !s->forward_done)
    return segcam_fail (error, SEGCAM_ERROR_INPUT,
                        "the session must be planned for explaining and run forward first");
  if (o->class_index < 0 || o->class_index >= m->n_classes)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the class index is out of range");
  if (!segcam_method_name (o->method))
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "unknown CAM method %d", (int) o->method);
  if (o->method == SEGCAM_METHOD_XRES && o->pool < 1)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the xres pool must be at least 1, not %d", o->pool);
  size_t n = (size_t) s->width * s->height;
  double roi_sum = roi ? 0 : (double) n;
  for (size_t i = 0; roi && i < n; i++)
    {
      if (!(roi[i] >= 0 && roi[i] <= 1))
        return segcam_fail (error, SEGCAM_ERROR_INPUT, "ROI weights must lie in [0, 1]");
      roi_sum += roi[i];
    }
  if (roi_sum <= 0)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the region of interest is empty");

  double score = seed_output (s, o, roi);
  if (segcam_method_needs_gradient (o->method))
    segcam_session_backward (s);
  const segcam_act *a = &s->acts[s->target];
  segcam_cam_compute (a, &s->grads[s->target], o, s->cam);

  /* Resize at the padded size, then crop: the padding's context stays out of the image's map. */
  segcam_act cam = {s->cam, 1, a->h, a->w, 1}, full = segcam_session_map_grid (s);
  segcam_upsample_forward (s->pool, SEGCAM_UPSAMPLE_BILINEAR, 0, 0, &cam, &full);
  float mx = 0;
  for (int y = 0; y < s->height; y++)
    for (int x = 0; x < s->width; x++)
      {
        float v = MAX (s->resized[(size_t) y * full.w + x], 0.0f);
        map[(size_t) y * s->width + x] = v;
        mx = MAX (mx, v);
      }
  if (o->normalize && mx > 0)
    for (size_t i = 0; i < n; i++)
      map[i] /= mx;
  if (info)
    *info = (segcam_explain_info) {mx, roi_sum, score};
  return TRUE;
}

const float *
segcam_session_cam (const segcam_session *s, int *h, int *w)
{
  if (h)
    *h = s->target >= 0 ? s->acts[s->target].h : 0;
  if (w)
    *w = s->target >= 0 ? s->acts[s->target].w : 0;
  return s->cam;
}
