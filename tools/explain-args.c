/* explain-args.c — the options and steps the commands that explain share (explain-args.h):
 * moved here from segcam.c so that evaluate scores exactly the map explain makes, and loads, warns
 * and reports progress as explain does. */
#include "explain-args.h"
#include "advice.h"
#include "cli.h"
#include "image-io.h"
#include "progress.h"

#include <math.h>
#include <string.h>

void
segcam_cli_run_clear (segcam_cli_run *r)
{
  segcam_cli_net_clear (&r->net);
  segcam_model_free (r->model);
  g_free (r->pixels);
  g_free (r->labels);
  g_free (r->probabilities);
}

segcam_model *
segcam_cli_load_model (const char *command, const char *path)
{
  GError *error = NULL;
  segcam_model *m = segcam_model_load (path, &error);
  if (!m)
    segcam_cli_fail_error (command, EXIT_INPUT, &error);
  else /* an ONNX file read as it is cannot say its normalisation; a segcam file's mean 0 and
        * std 1 are what it was given (the plug-in tells them apart so too) */
    segcam_advice_warn_model (command, path, m, g_str_has_suffix (path, ".onnx"));
  return m;
}

int
segcam_cli_find_layer (const char *command, const segcam_model *m, const char *name)
{
  int node = segcam_model_find_node (m, name);
  if (node >= 0)
    return node;
  int near = segcam_model_suggest_node (m, name), matching = 0;
  for (int i = 0; i < segcam_model_n_nodes (m); i++)
    matching += segcam_cli_name_matches (segcam_model_node_name (m, i), name);
  if (near >= 0)
    segcam_cli_fail (command, EXIT_INPUT, "unknown layer '%s' (did you mean '%s'? segcam info "
                     "lists the nodes)", name, segcam_model_node_name (m, near));
  else if (matching)
    segcam_cli_fail (command, EXIT_INPUT, "unknown layer '%s' (%d node names contain it: segcam "
                     "info --grep '%s' lists them)", name, matching, name);
  else
    segcam_cli_fail (command, EXIT_INPUT, "unknown layer '%s' (segcam info lists the nodes)", name);
  return -1;
}

int
segcam_cli_check_max_size (const char *command, int max_size)
{
  if (max_size < 0 || max_size > LARGEST_IMAGE)
    return segcam_cli_fail (command, EXIT_USAGE, "--max-size must be from 1 to %d pixels, not %d",
                            LARGEST_IMAGE, max_size);
  return 0;
}

void
segcam_cli_working_size (int w, int h, int max_size, int *ww, int *wh)
{
  if (max_size > 0)
    segcam_working_size (w, h, max_size, ww, wh);
  else
    *ww = w, *wh = h;
}

float *
segcam_cli_to_working (const float *src, int w, int h, int channels, int ww, int wh)
{
  if (ww == w && wh == h)
    return (float *) src;
  float *dst = g_new (float, (size_t) ww * wh * channels);
  segcam_resample_image (src, w, h, channels, dst, ww, wh);
  return dst;
}

void
segcam_cli_resample_to_working (float **buf, int w, int h, int channels, int ww, int wh)
{
  float *resampled = segcam_cli_to_working (*buf, w, h, channels, ww, wh);
  if (resampled != *buf)
    g_free (*buf);
  *buf = resampled;
}

int
segcam_cli_image_size (const char *command, const char *path, int *w, int *h)
{
  GError *error = NULL;
  if (!segcam_image_size (path, w, h, &error))
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  if (MAX (*w, *h) > LARGEST_IMAGE)
    return segcam_cli_fail (command, EXIT_INPUT, "image '%s' is %dx%d, larger than %d pixels on "
                            "its longer side: scale it down (--max-size only sets the size the "
                            "network sees)", path, *w, *h, LARGEST_IMAGE);
  return 0;
}

float *
segcam_cli_load_image (const char *command, const char *path, const segcam_model *m, int w, int h,
                       int ww, int wh, float **rgb)
{
  GError *error = NULL;
  int channels = segcam_model_input_channels (m);
  float *colour = segcam_image_load (path, 3, w, h, &error);
  float *pixels = channels == 3 || !colour ? colour : segcam_image_load (path, channels, w, h, &error);
  if (!pixels)
    {
      g_free (colour);
      segcam_cli_fail_error (command, EXIT_INPUT, &error);
      return NULL;
    }
  segcam_advice_warn_image (command, path, m, colour, (size_t) w * h);
  segcam_advice_warn_size (command, path, m, ww, wh);
  if (rgb)
    *rgb = colour;
  else if (colour != pixels)
    g_free (colour);
  return pixels;
}

int
segcam_cli_check_tile (const char *command, int tile)
{
  if (tile < 0 && tile != TILE_AUTO)
    return segcam_cli_fail (command, EXIT_USAGE, "--tile must be 0 or more, not %d", tile);
  return 0;
}

/* Tiles for a w x h image as --tile asks (0: SEGCAM_TILE_DEFAULT, halved until it fits), with
 * their layout said in one line (why, when the session did not fit); NULL with the error
 * printed. */
static segcam_tiled *
new_tiles (const char *command, const segcam_model *m, int w, int h, gboolean explain, int layer,
           int threads, gboolean exact, int tile, const char *why)
{
  GError *error = NULL;
  segcam_tiled_options o = {w, h, layer, explain, threads, exact, MAX (tile, 0),
                            segcam_progress_forward, NULL};
  segcam_tiled *t = segcam_tiled_new (m, &o, &error);
  if (!t)
    {
      segcam_cli_fail_error (command, EXIT_INPUT, &error);
      return NULL;
    }
  int n, core, halo, cw, ch;
  segcam_tiled_layout (t, &n, &core, &halo, &cw, &ch);
  segcam_cli_remark (command, "%s%d tiles of %dx%d pixels with a halo of %d (crops of %dx%d, "
                     "%.1f GiB)", why, n, core, core, halo, cw, ch,
                     segcam_tiled_memory (t) / 1073741824.0);
  return t;
}

int
segcam_cli_net_new (const char *command, const segcam_model *m, int w, int h, gboolean explain,
                    int layer, int threads, gboolean exact, int tile, segcam_cli_net *net)
{
  memset (net, 0, sizeof *net);
  if (tile > 0)
    return (net->tiled = new_tiles (command, m, w, h, explain, layer, threads, exact, tile, ""))
           ? 0 : EXIT_INPUT;
  GError *error = NULL;
  segcam_session_options o = {w, h, layer, explain, threads, segcam_progress_forward, NULL, exact};
  if ((net->session = segcam_session_new (m, &o, &error)))
    return 0;
  /* Tiles help when the session is too large for memory and the network has a reach; else the
   * session's own message says what to do. */
  int reach, stride;
  if (tile == TILE_AUTO && g_error_matches (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY)
      && segcam_model_reach (m, &reach, &stride, NULL))
    {
      g_clear_error (&error);
      return (net->tiled = new_tiles (command, m, w, h, explain, layer, threads, exact, 0,
                                      "the image does not fit in memory at once: "))
             ? 0 : EXIT_INPUT;
    }
  return segcam_cli_fail_error (command, EXIT_INPUT, &error);
}

void
segcam_cli_net_clear (segcam_cli_net *net)
{
  segcam_session_free (net->session);
  segcam_tiled_free (net->tiled);
  memset (net, 0, sizeof *net);
}

gboolean
segcam_cli_net_forward (segcam_cli_net *net, const float *pixels, float *probabilities,
                        uint8_t *labels, GError **error)
{
  if (net->tiled)
    return segcam_tiled_forward (net->tiled, pixels, probabilities, labels, error);
  if (!segcam_session_forward (net->session, pixels, error))
    return FALSE;
  if (probabilities)
    segcam_session_probabilities (net->session, probabilities);
  if (labels)
    segcam_session_labels (net->session, labels);
  return TRUE;
}

gboolean
segcam_cli_net_explain (segcam_cli_net *net, const segcam_explain_options *o, const float *roi,
                        float *map, segcam_explain_info *info, GError **error)
{
  return net->tiled ? segcam_tiled_explain (net->tiled, o, roi, map, info, error)
                    : segcam_session_explain (net->session, o, roi, map, info, error);
}

static int
run_forward (segcam_cli_run *r, const char *command, const char *model_path,
             const char *image_path, gboolean explain, const char *layer, int threads,
             gboolean exact, int max_size, int tile, gboolean probabilities)
{
  memset (r, 0, sizeof *r);
  if (!(r->model = segcam_cli_load_model (command, model_path)))
    return EXIT_INPUT;
  int node = layer ? segcam_cli_find_layer (command, r->model, layer) : -1;
  if (layer && node < 0)
    return EXIT_INPUT;
  int status = segcam_cli_image_size (command, image_path, &r->width, &r->height);
  if (status)
    return status;
  segcam_cli_working_size (r->width, r->height, max_size, &r->work_width, &r->work_height);
  if ((status = segcam_cli_net_new (command, r->model, r->work_width, r->work_height, explain,
                                    node, threads, exact, tile, &r->net)))
    return status;
  if (!(r->pixels = segcam_cli_load_image (command, image_path, r->model, r->width, r->height,
                                           r->work_width, r->work_height, NULL)))
    return EXIT_INPUT;
  segcam_cli_resample_to_working (&r->pixels, r->width, r->height,
                                  segcam_model_input_channels (r->model), r->work_width,
                                  r->work_height);
  GError *error = NULL;
  size_t n = (size_t) r->work_width * r->work_height;
  r->labels = g_new (uint8_t, n);
  if (probabilities)
    r->probabilities = g_new (float, n * segcam_model_n_classes (r->model));
  segcam_progress_stage ("%s", image_path);
  gboolean ran = segcam_cli_net_forward (&r->net, r->pixels, r->probabilities, r->labels, &error);
  segcam_progress_clear ();
  if (!ran)
    return segcam_cli_fail_error (command, EXIT_INPUT, &error);
  return 0;
}

int
segcam_cli_run_forward (segcam_cli_run *r, const char *command, const char *model_path,
                        const char *image_path, gboolean explain, const char *layer, int threads,
                        gboolean exact, int max_size)
{
  return run_forward (r, command, model_path, image_path, explain, layer, threads, exact, max_size,
                      0, FALSE);
}

int
segcam_cli_run_predict (segcam_cli_run *r, const char *command, const char *model_path,
                        const char *image_path, int threads, gboolean exact, int max_size,
                        int tile, gboolean probabilities)
{
  return run_forward (r, command, model_path, image_path, FALSE, NULL, threads, exact, max_size,
                      tile, probabilities);
}

/* The class names an error lists: enough to see what the model has, not a screenful. */
#define LISTED_CLASSES 20

int
segcam_cli_unknown_class (const char *command, const segcam_model *m, const char *text)
{
  int nc = segcam_model_n_classes (m), near = segcam_model_suggest_class (m, text);
  GString *names = g_string_new (NULL);
  for (int c = 0; c < MIN (nc, LISTED_CLASSES); c++)
    g_string_append_printf (names, "%s%s", c ? ", " : "", segcam_model_class_name (m, c));
  if (nc > LISTED_CLASSES)
    g_string_append_printf (names, " and %d more: segcam info lists them", nc - LISTED_CLASSES);
  char *hint = near >= 0 ? g_strdup_printf ("did you mean '%s'? ", segcam_model_class_name (m, near))
                         : g_strdup ("");
  int status = segcam_cli_fail (command, EXIT_INPUT, "unknown class '%s' (%sthe model has: %s)",
                                text, hint, names->str);
  g_free (hint);
  g_string_free (names, TRUE);
  return status;
}

int
segcam_cli_find_class (const char *command, const segcam_model *model, const char *name, int *cls)
{
  if ((*cls = segcam_model_find_class (model, name)) >= 0)
    return 0;
  return segcam_cli_unknown_class (command, model, name);
}

int
segcam_cli_check_roi (const char *command, segcam_cli_roi_options *o)
{
  if (!!o->mask + !!o->rect + !!o->pixel > 1)
    return segcam_cli_fail (command, EXIT_USAGE,
                            "use at most one of --roi-mask, --roi-rect and --roi-pixel");
  if (o->component && strcmp (o->component, "largest") != 0 && strcmp (o->component, "smallest") != 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--roi-component must be largest or smallest");
  if ((o->rect && !segcam_cli_parse_ints (o->rect, ',', 4, G_MININT, o->v))
      || (o->pixel && !segcam_cli_parse_ints (o->pixel, ',', 2, G_MININT, o->v)))
    return segcam_cli_fail (command, EXIT_USAGE, "%s must be %s, whole numbers within +-%d, not '%s'",
                            o->rect ? "--roi-rect" : "--roi-pixel", o->rect ? "X,Y,W,H" : "X,Y",
                            G_MAXINT, o->rect ? o->rect : o->pixel);
  return 0;
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

/* Image coordinate v in [0, n] on an axis of size n, at the working size's wn: rounded down,
 * or up when up is TRUE. */
static int
to_working (int v, int n, int wn, gboolean up)
{
  double x = (double) v * wn / n;
  return (int) (up ? ceil (x) : floor (x));
}

/* The ROI weights of docs/seg-grad-cam.md, "Region of interest". */
int
segcam_cli_image_roi (const char *command, const segcam_cli_roi_options *o, int w, int h, int ww,
                      int wh, float **out)
{
  *out = NULL;
  if (o->mask)
    {
      int status = segcam_cli_load_mask (command, o->mask, "ROI mask", w, h, out);
      if (status == 0)
        segcam_cli_resample_to_working (out, w, h, 1, ww, wh);
      return status;
    }
  if (!o->rect && !o->pixel)
    return 0;
  float *roi = g_new (float, (size_t) w * h);
  gboolean inside = o->rect ? segcam_roi_rect (roi, w, h, o->v[0], o->v[1], o->v[2], o->v[3])
                            : segcam_roi_pixel (roi, w, h, o->v[0], o->v[1]);
  if (!inside)
    {
      g_free (roi);
      return segcam_cli_fail (command, EXIT_INPUT, "the ROI %s lies outside the %dx%d image",
                              o->rect ? o->rect : o->pixel, w, h);
    }
  if (ww != w || wh != h)
    {
      g_free (roi);
      roi = g_new (float, (size_t) ww * wh);
      if (o->rect)
        {
          /* Clipped to the image first: what is inside it stays inside the working size. */
          int x0 = MAX (o->v[0], 0), y0 = MAX (o->v[1], 0);
          int x1 = (int) MIN ((int64_t) o->v[0] + o->v[2], w), y1 = (int) MIN ((int64_t) o->v[1] + o->v[3], h);
          int wx0 = to_working (x0, w, ww, FALSE), wy0 = to_working (y0, h, wh, FALSE);
          segcam_roi_rect (roi, ww, wh, wx0, wy0, to_working (x1, w, ww, TRUE) - wx0,
                           to_working (y1, h, wh, TRUE) - wy0);
        }
      else
        segcam_roi_pixel (roi, ww, wh, to_working (o->v[0], w, ww, FALSE),
                          to_working (o->v[1], h, wh, FALSE));
    }
  *out = roi;
  return 0;
}

int
segcam_cli_class_roi (const char *command, const segcam_cli_roi_options *o, const float *base,
                      const uint8_t *labels, int w, int h, int cls, float **out)
{
  size_t n = (size_t) w * h;
  float *roi = base ? g_memdup2 (base, n * sizeof *base) : NULL;
  if (o->by_class || o->component)
    {
      if (!roi)
        {
          roi = g_new (float, n);
          for (size_t i = 0; i < n; i++)
            roi[i] = 1;
        }
      segcam_roi_intersect_class (roi, labels, w, h, cls);
      if (o->component)
        segcam_roi_keep_component (roi, w, h, strcmp (o->component, "largest") == 0);
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
