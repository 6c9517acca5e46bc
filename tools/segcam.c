/* segcam — the command line (README, "Command line"): inspect a model, segment an image, explain
 * a class with Seg-Grad-CAM or another method, and measure the engine. Exit status: 0 success, 1 usage error, 2 bad input;
 * every error is one line on stderr naming the problem. */
#include "cli.h"
#include "commands.h"
#include "image-io.h"
#include "output.h"
#include "segcam.h"

#include <cblas.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ---- info ---------------------------------------------------------------------------------- */

static int
cmd_info (int argc, char **argv)
{
  char *size = NULL;
  GOptionEntry entries[] = {
    {"size", 's', 0, G_OPTION_ARG_STRING, &size, "Input size for the node shapes (default 256x256)", "WxH"},
    {NULL},
  };
  if (!segcam_cli_parse ("info", "MODEL", "Describe a model: input, classes, nodes and their shapes.",
                         entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc != 2)
    return segcam_cli_fail ("info", EXIT_USAGE, "expected one MODEL");
  int wh[2] = {256, 256};
  if (size && !segcam_cli_parse_ints (size, 'x', 2, 1, wh))
    return segcam_cli_fail ("info", EXIT_USAGE, "--size must look like 512x384 (at most %d a side), "
                            "not '%s'", G_MAXINT, size);
  int w = wh[0], h = wh[1];
  GError *error = NULL;
  segcam_model *m = segcam_model_load (argv[1], &error);
  if (!m)
    return segcam_cli_fail_error ("info", EXIT_INPUT, &error);
  int n = segcam_model_n_nodes (m);
  int *shapes = g_new (int, 3 * n);
  if (!segcam_model_infer_shapes (m, w, h, shapes, &error))
    {
      g_free (shapes);
      segcam_model_free (m);
      return segcam_cli_fail_error ("info", EXIT_INPUT, &error);
    }
  segcam_cli_print ("model:         %s", *segcam_model_name (m) ? segcam_model_name (m) : argv[1]);
  if (*segcam_model_description (m))
    segcam_cli_print ("description:   %s", segcam_model_description (m));
  printf ("format:        %d\n", segcam_model_format_version (m));
  int fw, fh;
  if (segcam_model_fixed_size (m, &fw, &fh))
    printf ("input:         %s, fixed at %dx%d: other images are resampled to it, and the results "
            "back\n", segcam_model_input_channels (m) == 1 ? "gray (Y')" : "RGB (R'G'B')", fw, fh);
  else
  printf ("input:         %s, padded to a multiple of %d\n",
          segcam_model_input_channels (m) == 1 ? "gray (Y')" : "RGB (R'G'B')",
          segcam_model_size_multiple (m));
  segcam_cli_print ("output:        %s (%s)", segcam_model_node_name (m, segcam_model_output_node (m)),
                    segcam_model_output_is_sigmoid (m) ? "sigmoid" : "softmax");
  segcam_cli_print ("default layer: %s", segcam_model_node_name (m, segcam_model_default_layer (m)));
  printf ("parameters:    %" G_GINT64_FORMAT "\n", segcam_model_n_parameters (m));
  printf ("classes:\n");
  for (int c = 0; c < segcam_model_n_classes (m); c++)
    {
      uint8_t rgb[3];
      segcam_model_class_color (m, c, rgb);
      segcam_cli_print ("  %3d  #%02x%02x%02x  %s", c, rgb[0], rgb[1], rgb[2],
                        segcam_model_class_name (m, c));
    }
  printf ("nodes (shapes C x H x W for a %dx%d input):\n", fw ? fw : w, fw ? fh : h);
  for (int i = 0; i < n; i++)
    segcam_cli_print ("  %-32s %-18s %5d x %5d x %5d%s", segcam_model_node_name (m, i),
                      segcam_model_node_op (m, i), shapes[3 * i], shapes[3 * i + 1],
                      shapes[3 * i + 2], i == segcam_model_default_layer (m) ? "  (default layer)" : "");
  if (*segcam_model_training (m))
    segcam_cli_print ("training:      %s", segcam_model_training (m));
  g_free (shapes);
  segcam_model_free (m);
  return 0;
}

/* ---- shared by predict and explain ----------------------------------------------------------- */

typedef struct {
  segcam_model *model;
  float *pixels;
  int width, height;
  segcam_session *session;
  uint8_t *labels;
} run;

static void
run_clear (run *r)
{
  segcam_session_free (r->session);
  segcam_model_free (r->model);
  g_free (r->pixels);
  g_free (r->labels);
}

/* Every command that runs the network can be asked for the reference kernels. */
#define EXACT_OPTION                                                                            \
  {"exact", 0, 0, G_OPTION_ARG_NONE, &exact,                                                    \
   "Run node by node with direct convolutions (slower; the fast path is tested against it)",   \
   NULL}

/* The longer side of the images predict and explain take by default: the plug-in's largest
 * working size. Beyond it an image is more likely a mistake than a photograph. */
#define DEFAULT_MAX_SIZE 16384

#define MAX_SIZE_OPTION                                                                         \
  {"max-size", 0, 0, G_OPTION_ARG_INT, &max_size,                                               \
   "Refuse images whose longer side exceeds N pixels (default " G_STRINGIFY (DEFAULT_MAX_SIZE) ")", \
   "N"}

/* Loads model and image, plans a session and runs the forward pass; errors are printed as
 * command's. The image's size is read from its header and the session planned for it (which
 * refuses what memory cannot hold) before the image is decoded. */
static int
run_forward (run *r, const char *command, const char *model_path, const char *image_path,
             gboolean explain, const char *layer, int threads, gboolean exact, int max_size)
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

/* ---- predict --------------------------------------------------------------------------------- */

static int
cmd_predict (int argc, char **argv)
{
  char *model = NULL, *out = NULL, *probs = NULL;
  int threads = 0, max_size = DEFAULT_MAX_SIZE;
  gboolean exact = FALSE;
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file (.safetensors or .onnx)", "MODEL"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Segmentation PNG in the classes' colours", "PNG"},
    {"probabilities", 0, 0, G_OPTION_ARG_FILENAME, &probs, "Class probabilities as .npy (C x H x W)", "NPY"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    MAX_SIZE_OPTION,
    EXACT_OPTION,
    {NULL},
  };
  if (!segcam_cli_parse ("predict", "IMAGE", "Segment an image.", entries, &argc, &argv))
    return EXIT_USAGE;
  if (!model || !out || argc != 2)
    return segcam_cli_fail ("predict", EXIT_USAGE, "needs --model, -o and one IMAGE");
  const segcam_cli_file outputs[] = {{"-o", out}, {"--probabilities", probs}};
  const segcam_cli_file inputs[] = {{"--model", model}, {"the image", argv[1]}};
  int checked = segcam_cli_check_outputs ("predict", outputs, G_N_ELEMENTS (outputs), inputs,
                                          G_N_ELEMENTS (inputs));
  if (checked)
    return checked;
  run r;
  int status = run_forward (&r, "predict", model, argv[1], FALSE, NULL, threads, exact, max_size);
  GError *error = NULL;
  if (status == 0)
    {
      size_t n = (size_t) r.width * r.height;
      uint8_t *rgb = g_new (uint8_t, 3 * n);
      for (size_t i = 0; i < n; i++)
        segcam_model_class_color (r.model, r.labels[i], rgb + 3 * i);
      if (!segcam_png_save (out, rgb, r.width, r.height, 3, &error))
        status = segcam_cli_fail_error ("predict", EXIT_INPUT, &error);
      g_free (rgb);
    }
  if (status == 0 && probs)
    {
      int nc = segcam_model_n_classes (r.model);
      float *p = g_new (float, (size_t) nc * r.width * r.height);
      segcam_session_probabilities (r.session, p);
      if (!segcam_npy_save (probs, p, r.width, r.height, nc, &error))
        status = segcam_cli_fail_error ("predict", EXIT_INPUT, &error);
      g_free (p);
    }
  run_clear (&r);
  return status;
}

/* ---- explain --------------------------------------------------------------------------------- */

typedef struct {
  char *mask, *rect, *pixel, *component;
  gboolean by_class;
} roi_options;

/* The ROI weights of docs/seg-grad-cam.md, "Region of interest", or an exit status (> 0) with the
 * error printed. */
static int
build_roi (const roi_options *o, const run *r, int cls, float **out)
{
  size_t n = (size_t) r->width * r->height;
  int kinds = !!o->mask + !!o->rect + !!o->pixel;
  if (kinds > 1)
    return segcam_cli_fail ("explain", EXIT_USAGE,
                            "use at most one of --roi-mask, --roi-rect and --roi-pixel");
  if (o->component && strcmp (o->component, "largest") != 0 && strcmp (o->component, "smallest") != 0)
    return segcam_cli_fail ("explain", EXIT_USAGE, "--roi-component must be largest or smallest");
  float *roi = NULL;
  if (o->mask)
    {
      int w, h;
      GError *error = NULL;
      if (!segcam_image_size (o->mask, &w, &h, &error))
        return segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      if (w != r->width || h != r->height)
        return segcam_cli_fail ("explain", EXIT_INPUT, "ROI mask is %dx%d but the image is %dx%d",
                                w, h, r->width, r->height);
      float *gray_alpha = segcam_image_load (o->mask, 2, w, h, &error);
      if (!gray_alpha)
        return segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      /* A transparent pixel is outside the region, whatever its gray. */
      roi = g_new (float, n);
      for (size_t i = 0; i < n; i++)
        roi[i] = gray_alpha[2 * i] * gray_alpha[2 * i + 1];
      g_free (gray_alpha);
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
          return segcam_cli_fail ("explain", EXIT_USAGE, "%s must be %s, whole numbers within "
                                  "+-%d, not '%s'", o->rect ? "--roi-rect" : "--roi-pixel",
                                  o->rect ? "X,Y,W,H" : "X,Y", G_MAXINT, o->rect ? o->rect : o->pixel);
        }
      inside = o->rect ? segcam_roi_rect (roi, r->width, r->height, v[0], v[1], v[2], v[3])
                       : segcam_roi_pixel (roi, r->width, r->height, v[0], v[1]);
      if (!inside)
        {
          g_free (roi);
          return segcam_cli_fail ("explain", EXIT_INPUT, "the ROI %s lies outside the %dx%d image",
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
      return segcam_cli_fail ("explain", EXIT_INPUT, "the region of interest is empty%s",
                              o->by_class || o->component ? " (no pixel is predicted as the class there)"
                                                          : "");
    }
  *out = roi;
  return 0;
}

/* Heat map over the source image, half and half. */
static uint8_t *
overlay (const uint8_t *heat, const float *rgb, size_t n)
{
  uint8_t *out = g_new (uint8_t, 3 * n);
  for (size_t i = 0; i < 3 * n; i++)
    out[i] = (uint8_t) (0.5f * heat[i] + 127.5f * CLAMP (rgb[i], 0.0f, 1.0f) + 0.5f);
  return out;
}

static int
lookup_choice (const char *value, const char *const *names, int def)
{
  if (!value)
    return def;
  for (int i = 0; names[i]; i++)
    if (strcmp (value, names[i]) == 0)
      return i;
  return -1;
}

/* The method options of explain and bench. */
typedef struct {
  char *method, *pool, *pool_mode;
} method_options;

#define METHOD_OPTIONS(mo)                                                                        \
  {"method", 0, 0, G_OPTION_ARG_STRING, &(mo).method,                                             \
   "CAM method: seg-grad-cam (default), hires, xres, gradcam++, xgrad, layer or eigen", "NAME"},  \
  {"pool", 0, 0, G_OPTION_ARG_STRING, &(mo).pool,                                                 \
   "xres: gradient block side in target pixels (default 2)", "S"},                                \
  {"pool-mode", 0, 0, G_OPTION_ARG_STRING, &(mo).pool_mode,                                       \
   "xres: pool the gradient by max (default) or mean", "MODE"}

/* Fills eo's method fields from the options; 0, or EXIT_USAGE with the error printed. A
 * weights mode other than the default, or a pool option, with a method that has no use for it is
 * a mistake worth saying. */
static int
parse_method (const char *command, const method_options *mo, gboolean weights_given,
              segcam_explain_options *eo)
{
  int method = mo->method ? segcam_method_from_name (mo->method) : SEGCAM_METHOD_SEG_GRAD_CAM;
  if (method < 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--method must be seg-grad-cam, hires, xres, "
                            "gradcam++, xgrad, layer or eigen, not '%s'", mo->method);
  if (weights_given && method != SEGCAM_METHOD_SEG_GRAD_CAM)
    return segcam_cli_fail (command, EXIT_USAGE, "--weights applies to --method seg-grad-cam only");
  if ((mo->pool || mo->pool_mode) && method != SEGCAM_METHOD_XRES)
    return segcam_cli_fail (command, EXIT_USAGE, "--pool and --pool-mode apply to --method xres only");
  int pool = 2;
  if (mo->pool && !segcam_cli_parse_ints (mo->pool, ',', 1, 1, &pool))
    return segcam_cli_fail (command, EXIT_USAGE, "--pool must be a whole number from 1 to %d, not '%s'",
                            G_MAXINT, mo->pool);
  static const char *const modes[] = {"max", "mean", NULL};
  int mode = lookup_choice (mo->pool_mode, modes, SEGCAM_POOL_MAX);
  if (mode < 0)
    return segcam_cli_fail (command, EXIT_USAGE, "--pool-mode must be max or mean");
  eo->method = method;
  eo->pool = pool;
  eo->pool_mode = mode;
  return 0;
}

static int
cmd_explain (int argc, char **argv)
{
  char *model = NULL, *cls_arg = NULL, *layer = NULL, *score = NULL, *weights = NULL;
  char *colormap = NULL, *out = NULL, *over = NULL, *npy = NULL;
  gboolean no_normalize = FALSE, exact = FALSE;
  int threads = 0, max_size = DEFAULT_MAX_SIZE;
  roi_options ro = {0};
  method_options mo = {0};
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file (.safetensors or .onnx)", "MODEL"},
    {"class", 'c', 0, G_OPTION_ARG_STRING, &cls_arg, "Class to explain, by name or index", "NAME|INDEX"},
    {"layer", 'l', 0, G_OPTION_ARG_STRING, &layer, "Node to explain at (default: the model's)", "NODE"},
    {"roi-mask", 0, 0, G_OPTION_ARG_FILENAME, &ro.mask, "ROI weights from a gray image (white = 1)", "PNG"},
    {"roi-rect", 0, 0, G_OPTION_ARG_STRING, &ro.rect, "ROI rectangle", "X,Y,W,H"},
    {"roi-pixel", 0, 0, G_OPTION_ARG_STRING, &ro.pixel, "ROI of one pixel", "X,Y"},
    {"roi-class", 0, 0, G_OPTION_ARG_NONE, &ro.by_class, "ROI: pixels predicted as the class", NULL},
    {"roi-component", 0, 0, G_OPTION_ARG_STRING, &ro.component,
     "ROI: largest or smallest 8-connected region predicted as the class", "largest|smallest"},
    {"score", 0, 0, G_OPTION_ARG_STRING, &score, "Score: logits (default) or probabilities", "MODE"},
    METHOD_OPTIONS (mo),
    {"weights", 0, 0, G_OPTION_ARG_STRING, &weights,
     "seg-grad-cam's channel weights: mean (default), abs or relu", "MODE"},
    {"no-normalize", 0, 0, G_OPTION_ARG_NONE, &no_normalize, "Keep the map's raw scale", NULL},
    {"colormap", 0, 0, G_OPTION_ARG_STRING, &colormap,
     "jet (default), turbo, viridis, inferno or grayscale", "NAME"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Heat-map PNG", "PNG"},
    {"overlay", 0, 0, G_OPTION_ARG_FILENAME, &over, "Heat map over the image, PNG", "PNG"},
    {"map-npy", 0, 0, G_OPTION_ARG_FILENAME, &npy, "The map as float32 .npy (H x W)", "NPY"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    MAX_SIZE_OPTION,
    EXACT_OPTION,
    {NULL},
  };
  if (!segcam_cli_parse ("explain", "IMAGE",
                         "Explain a class's prediction over a region with Seg-Grad-CAM or another CAM method.", entries,
                         &argc, &argv))
    return EXIT_USAGE;
  if (!model || !cls_arg || !out || argc != 2)
    return segcam_cli_fail ("explain", EXIT_USAGE, "needs --model, --class, -o and one IMAGE");
  static const char *const scores[] = {"logits", "probabilities", NULL};
  static const char *const weight_names[] = {"mean", "abs", "relu", NULL};
  int score_mode = lookup_choice (score, scores, SEGCAM_SCORE_LOGITS);
  int weight_mode = lookup_choice (weights, weight_names, SEGCAM_WEIGHTS_MEAN);
  int cmap = colormap ? segcam_colormap_from_name (colormap) : SEGCAM_COLORMAP_JET;
  if (score_mode < 0)
    return segcam_cli_fail ("explain", EXIT_USAGE, "--score must be logits or probabilities");
  if (weight_mode < 0)
    return segcam_cli_fail ("explain", EXIT_USAGE, "--weights must be mean, abs or relu");
  if (cmap < 0)
    return segcam_cli_fail ("explain", EXIT_USAGE,
                            "--colormap must be jet, turbo, viridis, inferno or grayscale");
  segcam_explain_options eo = {.score = score_mode, .weights = weight_mode, .normalize = !no_normalize};
  int bad_method = parse_method ("explain", &mo, weights && weight_mode != SEGCAM_WEIGHTS_MEAN, &eo);
  if (bad_method)
    return bad_method;
  const segcam_cli_file outputs[] = {{"-o", out}, {"--overlay", over}, {"--map-npy", npy}};
  const segcam_cli_file inputs[] = {{"--model", model}, {"the image", argv[1]}, {"--roi-mask", ro.mask}};
  int checked = segcam_cli_check_outputs ("explain", outputs, G_N_ELEMENTS (outputs), inputs,
                                          G_N_ELEMENTS (inputs));
  if (checked)
    return checked;

  run r;
  int status = run_forward (&r, "explain", model, argv[1], TRUE, layer, threads, exact, max_size);
  int cls = status ? -1 : segcam_model_find_class (r.model, cls_arg);
  if (status == 0 && cls < 0)
    {
      GString *names = g_string_new (NULL);
      for (int c = 0; c < segcam_model_n_classes (r.model); c++)
        g_string_append_printf (names, "%s%s", c ? ", " : "", segcam_model_class_name (r.model, c));
      status = segcam_cli_fail ("explain", EXIT_INPUT, "unknown class '%s' (the model has: %s)",
                                cls_arg, names->str);
      g_string_free (names, TRUE);
    }
  float *roi = NULL, *map = NULL;
  if (status == 0)
    status = build_roi (&ro, &r, cls, &roi);
  GError *error = NULL;
  size_t n = (size_t) r.width * r.height;
  if (status == 0)
    {
      segcam_explain_info info;
      eo.class_index = cls;
      if (segcam_method_is_class_agnostic (eo.method))
        fprintf (stderr, "segcam explain: note: %s is class-agnostic: the map is the same for "
                 "every class and region of interest\n", segcam_method_name (eo.method));
      map = g_new (float, n);
      if (!segcam_session_explain (r.session, &eo, roi, map, &info, &error))
        status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      else
        segcam_cli_print ("class '%s', ROI weight %.1f, score %.6g, map maximum %.6g",
                          segcam_model_class_name (r.model, cls), info.roi_weight, info.score, info.raw_max);
    }
  if (status == 0)
    {
      uint8_t *heat = g_new (uint8_t, 3 * n);
      segcam_colormap_apply (cmap, map, n, heat);
      if (!segcam_png_save (out, heat, r.width, r.height, 3, &error))
        status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      if (status == 0 && over)
        {
          float *rgb = segcam_image_load (argv[1], 3, r.width, r.height, &error);
          uint8_t *blend = rgb ? overlay (heat, rgb, n) : NULL;
          if (!blend || !segcam_png_save (over, blend, r.width, r.height, 3, &error))
            status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
          g_free (rgb);
          g_free (blend);
        }
      if (status == 0 && npy && !segcam_npy_save (npy, map, r.width, r.height, 1, &error))
        status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      g_free (heat);
    }
  g_free (roi);
  g_free (map);
  run_clear (&r);
  return status;
}

/* ---- bench ----------------------------------------------------------------------------------- */

static int
cmd_bench (int argc, char **argv)
{
  char *model = NULL, *size = NULL, *layer = NULL;
  int runs = 5, threads = 0;
  gboolean exact = FALSE;
  method_options mo = {0};
  GOptionEntry entries[] = {
    METHOD_OPTIONS (mo),
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file (.safetensors or .onnx)", "MODEL"},
    {"size", 's', 0, G_OPTION_ARG_STRING, &size, "Image size (default 512x512)", "WxH"},
    {"layer", 'l', 0, G_OPTION_ARG_STRING, &layer, "Node to explain at (default: the model's)", "NODE"},
    {"runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Timed runs (default 5; the median is printed)", "N"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    EXACT_OPTION,
    {NULL},
  };
  if (!segcam_cli_parse ("bench", "", "Time forward and explain passes on a synthetic image.",
                         entries, &argc, &argv))
    return EXIT_USAGE;
  int wh[2] = {512, 512};
  if (!model || argc != 1 || runs < 1 || runs > 1000 || (size && !segcam_cli_parse_ints (size, 'x', 2, 1, wh)))
    return segcam_cli_fail ("bench", EXIT_USAGE,
                            "needs --model; --size like 512x384; 1 <= --runs <= 1000");
  segcam_explain_options eo = {.normalize = TRUE};
  int bad_method = parse_method ("bench", &mo, FALSE, &eo);
  if (bad_method)
    return bad_method;
  int w = wh[0], h = wh[1];
  GError *error = NULL;
  segcam_model *m = segcam_model_load (model, &error);
  if (!m)
    return segcam_cli_fail_error ("bench", EXIT_INPUT, &error);
  int node = layer ? segcam_model_find_node (m, layer) : -1;
  if (layer && node < 0)
    {
      segcam_model_free (m);
      return segcam_cli_fail ("bench", EXIT_INPUT, "unknown layer '%s'", layer);
    }
  segcam_session_options o = {w, h, node, TRUE, threads, NULL, NULL, exact};
  segcam_session *s = segcam_session_new (m, &o, &error);
  if (!s)
    {
      segcam_model_free (m);
      return segcam_cli_fail_error ("bench", EXIT_INPUT, &error);
    }
  size_t npix = (size_t) w * h, nval = npix * segcam_model_input_channels (m);
  float *pixels = g_new (float, nval), *map = g_new (float, npix);
  GRand *rand = g_rand_new_with_seed (1);
  for (size_t i = 0; i < nval; i++)
    pixels[i] = (float) g_rand_double (rand);
  g_rand_free (rand);
  double *fwd = g_new (double, runs), *exp = g_new (double, runs);
  for (int i = -1; i < runs; i++) /* run -1 warms caches and pages */
    {
      gint64 t0 = g_get_monotonic_time ();
      segcam_session_forward (s, pixels, NULL);
      gint64 t1 = g_get_monotonic_time ();
      segcam_session_explain (s, &eo, NULL, map, NULL, NULL);
      gint64 t2 = g_get_monotonic_time ();
      if (i >= 0)
        fwd[i] = (t1 - t0) / 1e3, exp[i] = (t2 - t0) / 1e3;
    }
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  printf ("model %s, %dx%d, %d thread(s), %s path, method %s, OpenBLAS core %s\n", model, w, h,
          threads > 0 ? threads : segcam_default_threads (), exact ? "exact" : "fast",
          segcam_method_name (eo.method), openblas_get_corename ());
  printf ("forward          %10.2f ms (median of %d)\n", segcam_cli_median (fwd, runs), runs);
  printf ("forward+explain  %10.2f ms (median of %d)\n", segcam_cli_median (exp, runs), runs);
  printf ("planned memory   %10.1f MiB\n", segcam_session_memory (s) / 1048576.0);
  printf ("peak resident    %10.1f MiB\n", ru.ru_maxrss / 1024.0);
  g_free (fwd);
  g_free (exp);
  g_free (pixels);
  g_free (map);
  segcam_session_free (s);
  segcam_model_free (m);
  return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

static const struct {
  const char *name;
  int (*fn) (int argc, char **argv);
  const char *summary;
} commands[] = {
  {"info", cmd_info, "describe a model"},
  {"predict", cmd_predict, "segment an image"},
  {"explain", cmd_explain, "Seg-Grad-CAM heat map of a class over a region"},
  {"dataset", segcam_cmd_dataset, "generate TextureMNIST data"},
  {"train", segcam_cmd_train, "train a U-Net on TextureMNIST"},
  {"bias", segcam_cmd_bias, "saliency on TextureMNIST's biased texture (the paper's finding)"},
  {"import", segcam_cmd_import, "translate an ONNX model into a segcam model"},
  {"bench", cmd_bench, "time forward and explain passes"},
};

static int
usage (FILE *f)
{
  fprintf (f, "Usage: segcam COMMAND [OPTION...]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (f, "\nsegcam COMMAND --help describes each command.\n");
  return f == stdout ? 0 : EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  /* The user's character set, so that GOption takes non-ASCII --class and --layer values; numbers
   * stay in the C locale's format, which scripts read. */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  if (argc < 2)
    return usage (stderr);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    return usage (stdout);
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("segcam %s\n", SEGCAM_VERSION);
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        int status = commands[i].fn (argc - 1, argv + 1);
        segcam_image_io_exit ();
        return status;
      }
  fprintf (stderr, "segcam: unknown command '%s' (see segcam --help)\n", argv[1]);
  return EXIT_USAGE;
}
