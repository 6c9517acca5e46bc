/* segcam — the command line (README, "Command line"): inspect a model, segment an image, explain
 * classes with Seg-Grad-CAM or another method, and measure the engine. Exit status: 0 success,
 * 1 usage error, 2 bad input; every error is one line on stderr naming the problem. */
#include "advice.h"
#include "block-outputs.h"
#include "cli.h"
#include "commands.h"
#include "explain-args.h"
#include "image-io.h"
#include "output.h"
#include "progress.h"
#include "segcam.h"
#include "template.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ---- info ---------------------------------------------------------------------------------- */

/* The node column's width; a longer name goes on a line of its own, the columns below it. */
#define NODE_COLUMN 32

static int
cmd_info (int argc, char **argv)
{
  char *size = NULL, *grep = NULL;
  GOptionEntry entries[] = {
    {"size", 's', 0, G_OPTION_ARG_STRING, &size, "Input size for the node shapes (default 256x256)", "WxH"},
    {"grep", 'g', 0, G_OPTION_ARG_STRING, &grep,
     "List only the nodes whose names contain PATTERN, ignoring case (a glob with * or ?)", "PATTERN"},
    {NULL},
  };
  if (!segcam_cli_parse ("info", "MODEL", "Describe a model: input, classes, nodes and their shapes.",
                         entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc > 2)
    return segcam_cli_fail ("info", EXIT_USAGE, "expected one MODEL, not %d", argc - 1);
  const segcam_cli_arg needed[] = {{"the MODEL", argc == 2}};
  int missing = segcam_cli_require ("info", needed, G_N_ELEMENTS (needed));
  if (missing)
    return missing;
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
  int tw, th;
  if (segcam_model_training_size (m, &tw, &th))
    printf ("trained at:    %dx%d (explain warns for images more than %d times off per side)\n",
            tw, th, SEGCAM_ADVISE_SIZE_RATIO);
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
  int n_blocks;
  int *blocks = segcam_block_outputs (m, shapes, &n_blocks);
  gboolean *is_block = g_new0 (gboolean, n);
  for (int b = 0; b < n_blocks; b++)
    is_block[blocks[b]] = TRUE;
  int listed = 0;
  for (int i = 0; i < n; i++)
    listed += !grep || segcam_cli_name_matches (segcam_model_node_name (m, i), grep);
  if (grep)
    segcam_cli_print ("nodes whose names contain '%s' (%d of %d; shapes C x H x W for a %dx%d input):",
                      grep, listed, n, w, h);
  else
    printf ("nodes (shapes C x H x W for a %dx%d input; --layer blocks explains at each block output):\n", w, h);
  for (int i = 0; i < n; i++)
    {
      const char *name = segcam_model_node_name (m, i);
      if (grep && !segcam_cli_name_matches (name, grep))
        continue;
      gboolean own_line = g_utf8_strlen (name, -1) > NODE_COLUMN;
      if (own_line)
        segcam_cli_print ("  %s", name);
      gboolean is_default = i == segcam_model_default_layer (m);
      segcam_cli_print ("  %-*s %-18s %5d x %5d x %5d%s", NODE_COLUMN, own_line ? "" : name,
                        segcam_model_node_op (m, i), shapes[3 * i], shapes[3 * i + 1], shapes[3 * i + 2],
                        is_default && is_block[i] ? "  (default layer, block output)"
                        : is_default ? "  (default layer)" : is_block[i] ? "  (block output)" : "");
    }
  if (*segcam_model_training (m))
    segcam_cli_print ("training:      %s", segcam_model_training (m));
  g_free (is_block);
  g_free (blocks);
  g_free (shapes);
  segcam_model_free (m);
  return 0;
}

/* ---- shared by predict and explain ----------------------------------------------------------- */

/* Refuses, before any work, an image output whose name says a format segcam cannot write. */
static int
check_image_format (const char *command, const char *option, const char *path)
{
  GError *error = NULL;
  /* A directory or a device is named for what it is by segcam_cli_check_outputs. */
  if (!path || !*path || segcam_cli_file_kind (path) || segcam_image_format_supported (path, &error))
    return 0;
  int status = segcam_cli_fail (command, EXIT_USAGE, "%s %s", option, error->message);
  g_error_free (error);
  return status;
}

/* ---- predict --------------------------------------------------------------------------------- */

static int
cmd_predict (int argc, char **argv)
{
  char *model = NULL, *out = NULL, *probs = NULL;
  int threads = 0, max_size = 0, tile = TILE_AUTO;
  gboolean exact = FALSE, quiet = FALSE;
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file (.safetensors or .onnx)", "MODEL"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Segmentation PNG in the classes' colours", "PNG"},
    {"probabilities", 0, 0, G_OPTION_ARG_FILENAME, &probs, "Class probabilities as .npy (C x H x W)", "NPY"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    MAX_SIZE_OPTION,
    TILE_OPTION,
    EXACT_OPTION,
    SEGCAM_CLI_QUIET_OPTION,
    {NULL},
  };
  if (!segcam_cli_parse ("predict", "IMAGE", "Segment an image.", entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc > 2)
    return segcam_cli_fail ("predict", EXIT_USAGE, "expected one IMAGE, not %d", argc - 1);
  const segcam_cli_arg needed[] = {
    {"--model MODEL", model != NULL}, {"-o SEGMENTATION.png", out != NULL}, {"the IMAGE", argc == 2},
  };
  int status = segcam_cli_require ("predict", needed, G_N_ELEMENTS (needed));
  if (status)
    return status;
  if ((status = check_image_format ("predict", "-o", out))
      || (status = segcam_cli_check_max_size ("predict", max_size))
      || (status = segcam_cli_check_tile ("predict", tile)))
    return status;
  const segcam_cli_file outputs[] = {{"-o", out}, {"--probabilities", probs}};
  const segcam_cli_file inputs[] = {{"--model", model}, {"the image", argv[1]}};
  if ((status = segcam_cli_check_outputs ("predict", outputs, G_N_ELEMENTS (outputs), inputs,
                                          G_N_ELEMENTS (inputs))))
    return status;
  segcam_cli_set_quiet (quiet);
  segcam_progress_start ();
  segcam_cli_run r;
  /* a working size needs the probabilities to resample back */
  status = segcam_cli_run_predict (&r, "predict", model, argv[1], threads, exact, max_size, tile,
                                   probs != NULL || max_size > 0);
  GError *error = NULL;
  size_t n = (size_t) r.width * r.height;
  int nc = status ? 0 : segcam_model_n_classes (r.model);
  float *p = r.probabilities;
  uint8_t *labels = r.labels;
  if (status == 0 && (r.work_width != r.width || r.work_height != r.height))
    {
      /* At a working size, each class's probabilities are resampled back to the image and the
       * labels taken from them. */
      size_t nw = (size_t) r.work_width * r.work_height;
      p = g_new (float, (size_t) nc * n);
      for (int k = 0; k < nc; k++)
        segcam_resample_image (r.probabilities + k * nw, r.work_width, r.work_height, 1, p + k * n,
                               r.width, r.height);
      labels = g_new (uint8_t, n);
      segcam_labels_from_probabilities (p, nc, n, labels);
    }
  if (status == 0)
    {
      uint8_t *rgb = g_new (uint8_t, 3 * n);
      for (size_t i = 0; i < n; i++)
        segcam_model_class_color (r.model, labels[i], rgb + 3 * i);
      if (!segcam_image_save (out, rgb, r.width, r.height, 3, &error))
        status = segcam_cli_fail_error ("predict", EXIT_INPUT, &error);
      g_free (rgb);
    }
  if (status == 0 && probs && !segcam_npy_save (probs, p, r.width, r.height, nc, &error))
    status = segcam_cli_fail_error ("predict", EXIT_INPUT, &error);
  if (p != r.probabilities)
    g_free (p);
  if (labels != r.labels)
    g_free (labels);
  segcam_cli_run_clear (&r);
  return status;
}

/* ---- explain --------------------------------------------------------------------------------- */

/* Heat map over the source image, half and half. */
static uint8_t *
overlay (const uint8_t *heat, const float *rgb, size_t n)
{
  uint8_t *out = g_new (uint8_t, 3 * n);
  for (size_t i = 0; i < 3 * n; i++)
    out[i] = (uint8_t) (0.5f * heat[i] + 127.5f * CLAMP (rgb[i], 0.0f, 1.0f) + 0.5f);
  return out;
}

static void
add_once (GArray *list, int value)
{
  for (guint i = 0; i < list->len; i++)
    if (g_array_index (list, int, i) == value)
      return;
  g_array_append_val (list, value);
}

/* The class that pieces[0..n) joined by commas names (spaces around it ignored), or -1. */
static int
find_class_run (const segcam_model *m, char **pieces, int n)
{
  char *saved = pieces[n];
  pieces[n] = NULL;
  char *joined = g_strjoinv (",", pieces);
  pieces[n] = saved;
  int c = segcam_model_find_class (m, g_strstrip (joined));
  g_free (joined);
  return c;
}

/* The classes the --class values name, each once, in order (README, "Command line"): a value is
 * a class (segcam_model_find_class: a name, ignoring case when unambiguous, before an index),
 * else a comma-separated list of them, in which a name that holds commas is taken whole (the
 * longest run of pieces that names a class wins). 0, or the exit status with the error printed. */
static int
resolve_classes (const segcam_model *m, char **values, GArray *out)
{
  for (char **v = values; *v; v++)
    {
      int c = segcam_model_find_class (m, *v);
      if (c >= 0)
        {
          add_once (out, c);
          continue;
        }
      char **pieces = g_strsplit (*v, ",", -1);
      int k = (int) g_strv_length (pieces), status = 0;
      for (int i = 0, j; i < k && status == 0; i = j + 1)
        {
          for (j = k, c = -1; j > i && c < 0; j--)
            c = find_class_run (m, pieces + i, j - i);
          if (c >= 0)
            add_once (out, c);
          else
            status = segcam_cli_unknown_class ("explain", m, k == 1 ? *v : g_strstrip (pieces[i]));
        }
      g_strfreev (pieces);
      if (status)
        return status;
    }
  return 0;
}

/* The nodes the --layer values name, each once, in order; the model's default layer when there
 * are none. "blocks" (unless a node has that name) stands for every block output
 * (block-outputs.h; the fallback's resolutions are those of a w x h image). 0, or the exit
 * status with the error printed. */
static int
resolve_layers (const segcam_model *m, char **values, int w, int h, GArray *out)
{
  if (!values)
    add_once (out, segcam_model_default_layer (m));
  for (char **v = values; v && *v; v++)
    {
      if (strcmp (*v, "blocks") == 0 && segcam_model_find_node (m, *v) < 0)
        {
          int n = segcam_model_n_nodes (m), n_blocks;
          int *shapes = g_new (int, 3 * n);
          GError *error = NULL;
          if (!segcam_model_infer_shapes (m, w, h, shapes, &error))
            {
              g_free (shapes);
              return segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
            }
          int *blocks = segcam_block_outputs (m, shapes, &n_blocks);
          for (int b = 0; b < n_blocks; b++)
            add_once (out, blocks[b]);
          g_free (blocks);
          g_free (shapes);
          if (n_blocks == 0)
            return segcam_cli_fail ("explain", EXIT_INPUT, "--layer blocks: the model has no node "
                                    "between its input and its output");
          continue;
        }
      int node = segcam_cli_find_layer ("explain", m, *v);
      if (node < 0)
        return EXIT_INPUT;
      add_once (out, node);
    }
  return 0;
}

/* The image outputs, each a template (template.h). */
enum { OUT_HEAT, OUT_OVERLAY, OUT_NPY, N_OUTPUTS };
static const char *const output_options[N_OUTPUTS] = {"-o", "--overlay", "--map-npy"};

/* One map: an image, a layer and a class, and the files it goes to (NULL: not asked for). */
typedef struct {
  int image, layer, cls;
  char *path[N_OUTPUTS];
} result;

/* Everything an explain run was asked for. */
typedef struct {
  const char *model;
  char **classes, **layers, **images;
  int n_images;
  char *templates[N_OUTPUTS];
  const segcam_cli_roi_options *roi;
  segcam_explain_options eo;
  SegcamColormap colormap;
  int threads, max_size, tile;
  gboolean exact;
} explain_request;

/* What a result's fields are called in a template, and its values. */
static const char *const placeholders[] = {"{stem}", "{layer}", "{class}"};

/* Refuses templates that would write two results to one file, naming the placeholder that tells
 * them apart (or the values that look alike in a file name); 0 or EXIT_USAGE. */
static int
check_distinct (const explain_request *q, const segcam_model *m, const result *rs, int n)
{
  int status = 0;
  for (int t = 0; t < N_OUTPUTS && status == 0; t++)
    {
      if (!q->templates[t])
        continue;
      GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
      for (int i = 0; i < n && status == 0; i++)
        {
          const result *a = g_hash_table_lookup (seen, rs[i].path[t]), *b = &rs[i];
          if (!a)
            {
              g_hash_table_insert (seen, b->path[t], (gpointer) b);
              continue;
            }
          int field = a->image != b->image ? 0 : a->layer != b->layer ? 1 : 2;
          const char *va = field == 0 ? q->images[a->image]
                           : field == 1 ? segcam_model_node_name (m, a->layer) : segcam_model_class_name (m, a->cls);
          const char *vb = field == 0 ? q->images[b->image]
                           : field == 1 ? segcam_model_node_name (m, b->layer) : segcam_model_class_name (m, b->cls);
          if (!strstr (q->templates[t], placeholders[field]))
            status = segcam_cli_fail ("explain", EXIT_USAGE, "%s '%s' would write the maps of '%s' "
                                      "and '%s' to one file '%s': put %s in it", output_options[t],
                                      q->templates[t], va, vb, b->path[t], placeholders[field]);
          else
            status = segcam_cli_fail ("explain", EXIT_USAGE, "%s '%s' would write the maps of '%s' "
                                      "and '%s' to one file '%s': their %s is the same", output_options[t],
                                      q->templates[t], va, vb, b->path[t], placeholders[field]);
        }
      g_hash_table_destroy (seen);
    }
  return status;
}

/* Every result in the order they are computed (image, then layer, then class), with its files;
 * *n their count. */
static result *
plan_results (const explain_request *q, const segcam_model *m, const GArray *layers,
              const GArray *classes, int *n)
{
  *n = q->n_images * layers->len * classes->len;
  result *rs = g_new0 (result, *n), *r = rs;
  for (int i = 0; i < q->n_images; i++)
    {
      char *stem = segcam_template_stem (q->images[i]);
      for (guint l = 0; l < layers->len; l++)
        for (guint c = 0; c < classes->len; c++, r++)
          {
            r->image = i, r->layer = g_array_index (layers, int, l), r->cls = g_array_index (classes, int, c);
            segcam_template_fields f = {stem, segcam_model_class_name (m, r->cls),
                                        segcam_model_node_name (m, r->layer), segcam_method_name (q->eo.method)};
            for (int t = 0; t < N_OUTPUTS; t++)
              r->path[t] = q->templates[t] ? segcam_template_expand (q->templates[t], &f) : NULL;
          }
      g_free (stem);
    }
  return rs;
}

/* The outputs against each other and against the inputs (output.h), before any work. */
static int
check_result_files (const explain_request *q, const result *rs, int n)
{
  segcam_cli_file *outputs = g_new (segcam_cli_file, N_OUTPUTS * n);
  segcam_cli_file *inputs = g_new (segcam_cli_file, q->n_images + 2);
  for (int i = 0; i < n; i++)
    for (int t = 0; t < N_OUTPUTS; t++)
      outputs[N_OUTPUTS * i + t] = (segcam_cli_file) {output_options[t], rs[i].path[t]};
  inputs[0] = (segcam_cli_file) {"--model", q->model};
  inputs[1] = (segcam_cli_file) {"--roi-mask", q->roi->mask};
  for (int i = 0; i < q->n_images; i++)
    inputs[2 + i] = (segcam_cli_file) {"the image", q->images[i]};
  int status = segcam_cli_check_outputs ("explain", outputs, N_OUTPUTS * n, inputs, q->n_images + 2);
  g_free (outputs);
  g_free (inputs);
  return status;
}

/* Writes one map's files; rgb is the image as R'G'B' (for the overlay). */
static int
write_result (const explain_request *q, const result *r, const float *map, const float *rgb, int w,
              int h)
{
  size_t n = (size_t) w * h;
  GError *error = NULL;
  int status = 0;
  uint8_t *heat = g_new (uint8_t, 3 * n);
  segcam_colormap_apply (q->colormap, map, n, heat);
  if (!segcam_image_save (r->path[OUT_HEAT], heat, w, h, 3, &error))
    status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
  if (status == 0 && r->path[OUT_OVERLAY])
    {
      uint8_t *blend = overlay (heat, rgb, n);
      if (!segcam_image_save (r->path[OUT_OVERLAY], blend, w, h, 3, &error))
        status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      g_free (blend);
    }
  if (status == 0 && r->path[OUT_NPY] && !segcam_npy_save (r->path[OUT_NPY], map, w, h, 1, &error))
    status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
  g_free (heat);
  return status;
}

/* Score-CAM and Ablation-CAM rerun the whole image once per channel, which tiles cannot: --tile
 * with them is refused before any work, and without --tile an image too large stays refused
 * with the memory error. */
static int
check_tile_method (explain_request *q)
{
  if (q->eo.method != SEGCAM_METHOD_SCORE && q->eo.method != SEGCAM_METHOD_ABLATION)
    return 0;
  if (q->tile > 0)
    return segcam_cli_fail ("explain", EXIT_USAGE, "--tile: %s reruns the whole image once per "
                            "channel, which tiles cannot; use another --method",
                            segcam_method_name (q->eo.method));
  q->tile = 0;
  return 0;
}

/* The network the results of one image at one layer need: *s when it was planned for the same
 * size and layer (the forward is then the only new work), else a new one (a session, or tiles:
 * --tile). */
static int
session_for (const explain_request *q, const segcam_model *m, int w, int h, int layer,
             segcam_cli_net *s, int *planned)
{
  if ((s->session || s->tiled) && planned[0] == w && planned[1] == h && planned[2] == layer)
    return 0;
  segcam_cli_net_clear (s);
  int status = segcam_cli_net_new ("explain", m, w, h, TRUE, layer, q->threads, q->exact, q->tile, s);
  if (status == 0)
    planned[0] = w, planned[1] = h, planned[2] = layer;
  return status;
}

/* Explains the results rs[0..n) of image i (one forward per layer, one backward per class), at
 * the working size under --max-size; the maps are resampled back to the image's size. */
static int
explain_image (const explain_request *q, const segcam_model *m, const result *rs, int n, int w,
               int h, segcam_cli_net *s, int *planned)
{
  const char *image = q->images[rs[0].image];
  char *base_name = g_path_get_basename (image); /* the progress line is short */
  int ww, wh;
  segcam_cli_working_size (w, h, q->max_size, &ww, &wh);
  float *rgb = NULL, *base = NULL;
  float *loaded = segcam_cli_load_image ("explain", image, m, w, h, ww, wh, &rgb);
  if (!loaded)
    return EXIT_INPUT;
  float *pixels = segcam_cli_to_working (loaded, w, h, segcam_model_input_channels (m), ww, wh);
  if (pixels != loaded && loaded != rgb)
    g_free (loaded);
  int status = segcam_cli_image_roi ("explain", q->roi, w, h, ww, wh, &base);
  size_t npix = (size_t) ww * wh;
  /* only the class ROIs read the labels: tiles without them run once, in explain */
  uint8_t *labels = q->roi->by_class || q->roi->component ? g_new (uint8_t, npix) : NULL;
  float *map = g_new (float, npix);
  float *image_map = ww != w || wh != h ? g_new (float, (size_t) w * h) : map;
  GError *error = NULL;
  for (int i = 0; i < n && status == 0; i++)
    {
      const result *r = &rs[i];
      const char *layer = segcam_model_node_name (m, r->layer);
      if (i == 0 || r->layer != rs[i - 1].layer)
        {
          segcam_progress_stage ("image %d/%d %s, layer '%s'", r->image + 1, q->n_images, base_name, layer);
          if ((status = session_for (q, m, ww, wh, r->layer, s, planned)))
            break;
          if (!segcam_cli_net_forward (s, pixels, NULL, labels, &error))
            {
              status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
              break;
            }
        }
      const char *cls = segcam_model_class_name (m, r->cls);
      segcam_progress_stage ("image %d/%d %s, layer '%s': class '%s'", r->image + 1, q->n_images,
                             base_name, layer, cls);
      float *roi = NULL;
      if ((status = segcam_cli_class_roi ("explain", q->roi, base, labels, ww, wh, r->cls, &roi)))
        break;
      segcam_explain_options eo = q->eo;
      eo.class_index = r->cls;
      eo.pixels = pixels;
      segcam_explain_info info;
      if (!segcam_cli_net_explain (s, &eo, roi, map, &info, &error))
        status = segcam_cli_fail_error ("explain", EXIT_INPUT, &error);
      g_free (roi);
      if (status)
        break;
      segcam_cli_print ("%s: class %d '%s' at '%s': ROI weight %.1f, score %.6g, map maximum %.6g",
                        image, r->cls, cls, layer, info.roi_weight, info.score, info.raw_max);
      char *advice = segcam_advice_zero_map (&q->eo, info.raw_max);
      if (advice)
        segcam_cli_remark ("explain", "warning: %s: the map of class '%s' at '%s' %s", image, cls,
                           layer, advice);
      g_free (advice);
      if (image_map != map)
        segcam_resample_image (map, ww, wh, 1, image_map, w, h);
      status = write_result (q, r, image_map, rgb, w, h);
    }
  segcam_progress_clear ();
  g_free (base_name);
  if (rgb != pixels)
    g_free (rgb);
  g_free (pixels);
  g_free (base);
  g_free (labels);
  if (image_map != map)
    g_free (image_map);
  g_free (map);
  return status;
}

/* The whole run: every image's header, the model, the classes, layers and outputs are checked
 * before the first forward pass; a failure later stops the run and keeps what was written. */
static int
run_explain (const explain_request *q)
{
  int *sizes = g_new (int, 2 * q->n_images), status = 0;
  for (int i = 0; i < q->n_images && status == 0; i++)
    status = segcam_cli_image_size ("explain", q->images[i], &sizes[2 * i], &sizes[2 * i + 1]);
  segcam_model *m = status ? NULL : segcam_cli_load_model ("explain", q->model);
  if (status == 0 && !m)
    status = EXIT_INPUT;
  GArray *classes = g_array_new (FALSE, FALSE, sizeof (int)), *layers = g_array_new (FALSE, FALSE, sizeof (int));
  if (status == 0)
    status = resolve_classes (m, q->classes, classes);
  int ww = 0, wh = 0;
  if (status == 0)
    segcam_cli_working_size (sizes[0], sizes[1], q->max_size, &ww, &wh);
  if (status == 0)
    status = resolve_layers (m, q->layers, ww, wh, layers);
  int n = 0;
  result *rs = status ? NULL : plan_results (q, m, layers, classes, &n);
  if (status == 0)
    status = check_distinct (q, m, rs, n);
  if (status == 0)
    status = check_result_files (q, rs, n);
  if (status == 0 && segcam_method_is_class_agnostic (q->eo.method))
    segcam_cli_remark ("explain", "note: %s is class-agnostic: the map is the same for every class "
                       "and region of interest", segcam_method_name (q->eo.method));
  segcam_cli_net s = {0};
  int planned[3] = {0};
  int per_image = n / MAX (q->n_images, 1);
  for (int i = 0; i < q->n_images && status == 0; i++)
    status = explain_image (q, m, rs + i * per_image, per_image, sizes[2 * i], sizes[2 * i + 1], &s, planned);
  segcam_cli_net_clear (&s);
  for (int i = 0; i < n; i++)
    for (int t = 0; t < N_OUTPUTS; t++)
      g_free (rs[i].path[t]);
  g_free (rs);
  g_array_free (classes, TRUE);
  g_array_free (layers, TRUE);
  segcam_model_free (m);
  g_free (sizes);
  return status;
}

static int
cmd_explain (int argc, char **argv)
{
  char *model = NULL, **classes = NULL, **layers = NULL;
  char *colormap = NULL, *out = NULL, *over = NULL, *npy = NULL;
  gboolean no_normalize = FALSE, exact = FALSE, quiet = FALSE;
  int threads = 0, max_size = 0, tile = TILE_AUTO;
  segcam_cli_roi_options ro = {0};
  segcam_cli_method_options mo = {0};
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file (.safetensors or .onnx)", "MODEL"},
    {"class", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &classes,
     "Class to explain, by name (any case) or index; repeat it, or separate classes with commas, "
     "for several", "NAME|INDEX"},
    {"layer", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &layers,
     "Node to explain at (default: the model's); repeat it for several, 'blocks' for every block output",
     "NODE"},
    ROI_OPTIONS (ro),
    SCORE_OPTIONS (mo),
    METHOD_OPTIONS (mo),
    {"no-normalize", 0, 0, G_OPTION_ARG_NONE, &no_normalize, "Keep the map's raw scale", NULL},
    {"colormap", 0, 0, G_OPTION_ARG_STRING, &colormap,
     "jet (default), turbo, viridis, inferno or grayscale", "NAME"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
     "Heat-map PNG; with several images, classes or layers a template such as "
     "'out/{stem}-{class}.png' ({stem}, {class}, {layer}, {method})", "PNG"},
    {"overlay", 0, 0, G_OPTION_ARG_FILENAME, &over, "Heat map over the image, PNG (a template too)", "PNG"},
    {"map-npy", 0, 0, G_OPTION_ARG_FILENAME, &npy, "The map as float32 .npy (H x W; a template too)", "NPY"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    MAX_SIZE_OPTION,
    TILE_OPTION,
    EXACT_OPTION,
    SEGCAM_CLI_QUIET_OPTION,
    {NULL},
  };
  if (!segcam_cli_parse ("explain", "IMAGE...",
                         "Explain classes' predictions over a region with Seg-Grad-CAM or another CAM method.",
                         entries, &argc, &argv))
    return EXIT_USAGE;
  const segcam_cli_arg needed[] = {
    {"--model MODEL", model != NULL}, {"--class NAME|INDEX", classes != NULL},
    {"-o HEATMAP.png", out != NULL}, {"an IMAGE", argc >= 2},
  };
  int status = segcam_cli_require ("explain", needed, G_N_ELEMENTS (needed));
  if (status)
    return status;
  int cmap = colormap ? segcam_colormap_from_name (colormap) : SEGCAM_COLORMAP_JET;
  if (cmap < 0)
    return segcam_cli_fail ("explain", EXIT_USAGE,
                            "--colormap must be jet, turbo, viridis, inferno or grayscale");
  explain_request q = {
    .model = model, .classes = classes, .layers = layers, .images = argv + 1, .n_images = argc - 1,
    .templates = {out, over, npy}, .roi = &ro, .colormap = cmap, .threads = threads,
    .max_size = max_size, .tile = tile, .exact = exact,
    .eo = {.normalize = !no_normalize},
  };
  if ((status = segcam_cli_parse_method ("explain", &mo, &q.eo))
      || (status = segcam_cli_check_max_size ("explain", max_size))
      || (status = segcam_cli_check_tile ("explain", tile))
      || (status = check_tile_method (&q))
      || (status = segcam_cli_check_roi ("explain", &ro)) || (status = check_image_format ("explain", "-o", out))
      || (status = check_image_format ("explain", "--overlay", over)))
    return status;
  for (int t = 0; t < N_OUTPUTS; t++)
    {
      char *unknown = q.templates[t] ? segcam_template_unknown (q.templates[t]) : NULL;
      if (unknown)
        status = segcam_cli_fail ("explain", EXIT_USAGE, "%s '%s' has '%s', which is none of "
                                  "{stem}, {class}, {layer} and {method}", output_options[t],
                                  q.templates[t], unknown);
      g_free (unknown);
      if (status)
        return status;
    }
  segcam_cli_set_quiet (quiet);
  segcam_progress_start ();
  return run_explain (&q);
}

/* ---- bench ----------------------------------------------------------------------------------- */

static int
cmd_bench (int argc, char **argv)
{
  char *model = NULL, *size = NULL, *layer = NULL;
  int runs = 5, threads = 0;
  gboolean exact = FALSE;
  segcam_cli_method_options mo = {0};
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
  /* --method all: after the usual figures for the default method, one explain timing per method. */
  gboolean all = mo.method && strcmp (mo.method, "all") == 0;
  if (all)
    mo.method = NULL;
  int bad_method = segcam_cli_parse_method ("bench", &mo, &eo);
  if (bad_method)
    return bad_method;
  int w = wh[0], h = wh[1];
  GError *error = NULL;
  segcam_model *m = segcam_model_load (model, &error);
  if (!m)
    return segcam_cli_fail_error ("bench", EXIT_INPUT, &error);
  int node = layer ? segcam_cli_find_layer ("bench", m, layer) : -1;
  if (layer && node < 0)
    {
      segcam_model_free (m);
      return EXIT_INPUT;
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
  eo.pixels = pixels;
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
          segcam_method_name (eo.method), segcam_blas_core ());
  char *blas = segcam_advise_blas ();
  if (blas)
    printf ("note: %s\n", blas);
  g_free (blas);
  printf ("forward          %10.2f ms (median of %d)\n", segcam_cli_median (fwd, runs), runs);
  printf ("forward+explain  %10.2f ms (median of %d)\n", segcam_cli_median (exp, runs), runs);
  /* The methods that rerun the network cost about one pass per channel: 8 show the rate. */
#define ALL_RERUN_CHANNELS 8
  for (int k = 0; all && segcam_method_name (k); k++)
    {
      eo.method = k;
      gboolean reruns = k == SEGCAM_METHOD_SCORE || k == SEGCAM_METHOD_ABLATION;
      eo.max_channels = reruns ? ALL_RERUN_CHANNELS : 0;
      for (int i = 0; i < runs; i++)
        {
          gint64 t0 = g_get_monotonic_time ();
          segcam_session_explain (s, &eo, NULL, map, NULL, NULL);
          exp[i] = (g_get_monotonic_time () - t0) / 1e3;
        }
      printf ("explain %-13s %7.2f ms after forward (median of %d)%s\n", segcam_method_name (k),
              segcam_cli_median (exp, runs), runs,
              reruns ? " with --max-channels " G_STRINGIFY (ALL_RERUN_CHANNELS) : "");
    }
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
  {"evaluate", segcam_cmd_evaluate, "how faithful a map is: energy shares, deletion, ROAD"},
  {"dataset", segcam_cmd_dataset, "generate TextureMNIST data"},
  {"train", segcam_cmd_train, "train a U-Net on TextureMNIST"},
  {"bias", segcam_cmd_bias, "saliency on TextureMNIST's biased texture (the paper's finding)"},
  {"import", segcam_cmd_import, "translate an ONNX model into a segcam model"},
  {"audit", segcam_cmd_audit, "explain a data set in shards, merge into a table and report"},
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
