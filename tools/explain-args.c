/* explain-args.c — the options and steps the commands that explain share (explain-args.h):
 * moved here from segcam.c so that evaluate scores exactly the map explain makes. */
#include "explain-args.h"
#include "cli.h"
#include "image-io.h"

#include <string.h>

void
segcam_cli_run_clear (segcam_cli_run *r)
{
  segcam_session_free (r->session);
  segcam_model_free (r->model);
  g_free (r->pixels);
  g_free (r->labels);
}

int
segcam_cli_run_forward (segcam_cli_run *r, const char *command, const char *model_path,
                        const char *image_path, gboolean explain, const char *layer, int threads,
                        gboolean exact, int max_size)
{
  GError *error = NULL;
  memset (r, 0, sizeof *r);
  if (!(r->model = segcam_model_load (model_path, &error)))
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  int node = -1;
  if (layer && (node = segcam_model_find_node (r->model, layer)) < 0)
    return segcam_cli_fail (command, EXIT_INPUT, "unknown layer '%s' (segcam info lists the nodes)",
                            layer);
  if (!segcam_image_size (image_path, &r->width, &r->height, &error))
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  if (MAX (r->width, r->height) > max_size)
    return segcam_cli_fail (command, EXIT_INPUT, "image '%s' is %dx%d, larger than --max-size %d "
                            "on its longer side: scale it down, or raise --max-size if memory allows",
                            image_path, r->width, r->height, max_size);
  segcam_session_options o = {r->width, r->height, node, explain, threads, NULL, NULL, exact};
  if (!(r->session = segcam_session_new (r->model, &o, &error)))
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  r->pixels = segcam_image_load (image_path, segcam_model_input_channels (r->model), r->width,
                                 r->height, &error);
  if (!r->pixels || !segcam_session_forward (r->session, r->pixels, &error))
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  r->labels = g_new (uint8_t, (size_t) r->width * r->height);
  segcam_session_labels (r->session, r->labels);
  return 0;
}

int
segcam_cli_find_class (const char *command, const segcam_model *model, const char *name, int *cls)
{
  if ((*cls = segcam_model_find_class (model, name)) >= 0)
    return 0;
  GString *names = g_string_new (NULL);
  for (int c = 0; c < segcam_model_n_classes (model); c++)
    g_string_append_printf (names, "%s%s", c ? ", " : "", segcam_model_class_name (model, c));
  int status = segcam_cli_fail (command, EXIT_INPUT, "unknown class '%s' (the model has: %s)", name,
                                names->str);
  g_string_free (names, TRUE);
  return status;
}

int
segcam_cli_load_mask (const char *command, const char *path, const char *what, int width, int height,
                      float **out)
{
  int w, h;
  GError *error = NULL;
  if (!segcam_image_size (path, &w, &h, &error))
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  if (w != width || h != height)
    return segcam_cli_fail (command, EXIT_INPUT, "%s is %dx%d but the image is %dx%d", what, w, h,
                            width, height);
  float *gray_alpha = segcam_image_load (path, 2, w, h, &error);
  if (!gray_alpha)
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  /* A transparent pixel is outside the mask, whatever its gray. */
  size_t n = (size_t) w * h;
  float *mask = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    mask[i] = gray_alpha[2 * i] * gray_alpha[2 * i + 1];
  g_free (gray_alpha);
  *out = mask;
  return 0;
}

/* The ROI weights of docs/seg-grad-cam.md, "Region of interest". */
int
segcam_cli_build_roi (const char *command, const segcam_cli_roi_options *o, const segcam_cli_run *r,
                      int cls, float **out)
{
  size_t n = (size_t) r->width * r->height;
  int kinds = !!o->mask + !!o->rect + !!o->pixel;
  if (kinds > 1)
    return segcam_cli_fail (command, EXIT_USAGE,
                            "use at most one of --roi-mask, --roi-rect and --roi-pixel");
  if (o->component && strcmp (o->component, "largest") != 0 && strcmp (o->component, "smallest") != 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--roi-component must be largest or smallest");
  float *roi = NULL;
  if (o->mask)
    {
      int status = segcam_cli_load_mask (command, o->mask, "ROI mask", r->width, r->height, &roi);
      if (status)
        return status;
    }
  else if (o->rect || o->pixel)
    {
      int v[4];
      roi = g_new (float, n);
      gboolean inside = o->rect ? segcam_cli_parse_ints (o->rect, ',', 4, G_MININT, v)
                                : segcam_cli_parse_ints (o->pixel, ',', 2, G_MININT, v);
      if (!inside)
        {
          g_free (roi);
          return segcam_cli_fail (command, EXIT_USAGE, "%s must be %s, whole numbers within "
                                  "+-%d, not '%s'", o->rect ? "--roi-rect" : "--roi-pixel",
                                  o->rect ? "X,Y,W,H" : "X,Y", G_MAXINT, o->rect ? o->rect : o->pixel);
        }
      inside = o->rect ? segcam_roi_rect (roi, r->width, r->height, v[0], v[1], v[2], v[3])
                       : segcam_roi_pixel (roi, r->width, r->height, v[0], v[1]);
      if (!inside)
        {
          g_free (roi);
          return segcam_cli_fail (command, EXIT_INPUT, "the ROI %s lies outside the %dx%d image",
                                  o->rect ? o->rect : o->pixel, r->width, r->height);
        }
    }
  if (o->by_class || o->component)
    {
      if (!roi)
        {
          roi = g_new (float, n);
          for (size_t i = 0; i < n; i++)
            roi[i] = 1;
        }
      segcam_roi_intersect_class (roi, r->labels, r->width, r->height, cls);
      if (o->component)
        segcam_roi_keep_component (roi, r->width, r->height, strcmp (o->component, "largest") == 0);
    }
  if (roi && segcam_roi_sum (roi, n) <= 0)
    {
      g_free (roi);
      return segcam_cli_fail (command, EXIT_INPUT, "the region of interest is empty%s",
                              o->by_class || o->component ? " (no pixel is predicted as the class there)"
                                                          : "");
    }
  *out = roi;
  return 0;
}

int
segcam_cli_choice (const char *value, const char *const *names, int def)
{
  if (!value)
    return def;
  for (int i = 0; names[i]; i++)
    if (strcmp (value, names[i]) == 0)
      return i;
  return -1;
}

int
segcam_cli_parse_method (const char *command, const segcam_cli_method_options *mo,
                         segcam_explain_options *eo)
{
  static const char *const scores[] = {"logits", "probabilities", NULL};
  static const char *const weight_names[] = {"mean", "abs", "relu", NULL};
  int score_mode = segcam_cli_choice (mo->score, scores, SEGCAM_SCORE_LOGITS);
  int weight_mode = segcam_cli_choice (mo->weights, weight_names, SEGCAM_WEIGHTS_MEAN);
  if (score_mode < 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--score must be logits or probabilities");
  if (weight_mode < 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--weights must be mean, abs or relu");
  gboolean weights_given = weight_mode != SEGCAM_WEIGHTS_MEAN;
  int method = mo->method ? segcam_method_from_name (mo->method) : SEGCAM_METHOD_SEG_GRAD_CAM;
  if (method < 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--method must be seg-grad-cam, hires, xres, "
                            "gradcam++, xgrad, layer, eigen, score or ablation, not '%s'", mo->method);
  if (weights_given && method != SEGCAM_METHOD_SEG_GRAD_CAM)
    return segcam_cli_fail (command, EXIT_USAGE, "--weights applies to --method seg-grad-cam only");
  if ((mo->pool || mo->pool_mode) && method != SEGCAM_METHOD_XRES)
    return segcam_cli_fail (command, EXIT_USAGE, "--pool and --pool-mode apply to --method xres only");
  int pool = 2;
  if (mo->pool && !segcam_cli_parse_ints (mo->pool, ',', 1, 1, &pool))
    return segcam_cli_fail (command, EXIT_USAGE, "--pool must be a whole number from 1 to %d, not '%s'",
                            G_MAXINT, mo->pool);
  static const char *const modes[] = {"max", "mean", NULL};
  int mode = segcam_cli_choice (mo->pool_mode, modes, SEGCAM_POOL_MAX);
  if (mode < 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--pool-mode must be max or mean");
  gboolean reruns = method == SEGCAM_METHOD_SCORE || method == SEGCAM_METHOD_ABLATION;
  if (mo->max_channels && !reruns)
    return segcam_cli_fail (command, EXIT_USAGE, "--max-channels applies to --method score and "
                            "ablation only");
  int max_channels = 0;
  if (mo->max_channels && !segcam_cli_parse_ints (mo->max_channels, ',', 1, 1, &max_channels))
    return segcam_cli_fail (command, EXIT_USAGE, "--max-channels must be a whole number from 1 to "
                            "%d, not '%s'", G_MAXINT, mo->max_channels);
  eo->max_channels = max_channels;
  eo->score = score_mode;
  eo->weights = weight_mode;
  eo->method = method;
  eo->pool = pool;
  eo->pool_mode = mode;
  return 0;
}
