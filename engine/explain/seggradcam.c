/* seggradcam.c — Seg-Grad-CAM exactly as docs/seg-grad-cam.md, 'Definition', and the steps every
 * other CAM method (docs/methods.md) shares with it:
 *
 *   S = sum_ij M_ij y_c,ij            y = logits, or probabilities (softmax / sigmoid)
 *   G = dS/dA                         backward to the target layer
 *   L = the method's map (cam.c)      Seg-Grad-CAM: sum_k mean_uv (G_k) A_k; Score-CAM and
 *                                     Ablation-CAM run the network again (perturb.c)
 *   map = ReLU (crop (bilinear (L, padded size)))  / max, when normalising and max > 0
 *   (a network of fixed size other than the image's: bilinear (L, image size), no crop) */
#include "cam.h"
#include "error.h"
#include "perturb.h"
#include "score.h"

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
  double roi_sum;
  if (!segcam_roi_check (roi, n, &roi_sum, error))
    return FALSE;

  double score = segcam_roi_score (s, o, roi, &s->grads[m->output]);
  if (segcam_method_needs_gradient (o->method))
    segcam_session_backward (s);
  const segcam_act *a = &s->acts[s->target];
  if (!segcam_method_reruns (o->method))
    segcam_cam_compute (a, &s->grads[s->target], o, s->cam);
  else if (!segcam_perturb_cam (s, o, roi, error))
    return FALSE;

  segcam_act cam = {s->cam, 1, a->h, a->w, 1}, full = segcam_session_map_grid (s);
  float mx = segcam_map_from_cam (s->pool, &cam, &full, s->width, s->height, o->normalize, map);
  if (info)
    *info = (segcam_explain_info) {mx, roi_sum, score};
  return TRUE;
}

float
segcam_map_from_cam (segcam_pool *pool, const segcam_act *cam, segcam_act *grid, int width,
                     int height, gboolean normalize, float *map)
{
  /* Resize at the padded size, then crop: the padding's context stays out of the image's map. */
  segcam_upsample_forward (pool, SEGCAM_UPSAMPLE_BILINEAR, 0, 0, cam, grid);
  float mx = 0;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        float v = MAX (grid->data[(size_t) y * grid->w + x], 0.0f);
        map[(size_t) y * width + x] = v;
        mx = MAX (mx, v);
      }
  if (normalize && mx > 0)
    for (size_t i = 0, n = (size_t) width * height; i < n; i++)
      map[i] /= mx;
  return mx;
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
