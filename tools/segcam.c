/* segcam — the command line (README, "Command line"): inspect a model, segment an image, explain
 * a class with Seg-Grad-CAM or another method, and measure the engine. Exit status: 0 success, 1 usage error, 2 bad input;
 * every error is one line on stderr naming the problem. */
#include "cli.h"
#include "commands.h"
#include "explain-args.h"
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
  segcam_cli_run r;
  int status = segcam_cli_run_forward (&r, "predict", model, argv[1], FALSE, NULL, threads, exact, max_size);
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

static int
cmd_explain (int argc, char **argv)
{
  char *model = NULL, *cls_arg = NULL, *layer = NULL;
  char *colormap = NULL, *out = NULL, *over = NULL, *npy = NULL;
  gboolean no_normalize = FALSE, exact = FALSE;
  int threads = 0, max_size = DEFAULT_MAX_SIZE;
  segcam_cli_roi_options ro = {0};
  segcam_cli_method_options mo = {0};
  GOptionEntry entries[] = {
    EXPLAIN_OPTIONS (model, cls_arg, layer, ro, mo),
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
  int cmap = colormap ? segcam_colormap_from_name (colormap) : SEGCAM_COLORMAP_JET;
  if (cmap < 0)
    return segcam_cli_fail ("explain", EXIT_USAGE,
                            "--colormap must be jet, turbo, viridis, inferno or grayscale");
  segcam_explain_options eo = {.normalize = !no_normalize};
  int bad_method = segcam_cli_parse_method ("explain", &mo, &eo);
  if (bad_method)
    return bad_method;
  const segcam_cli_file outputs[] = {{"-o", out}, {"--overlay", over}, {"--map-npy", npy}};
  const segcam_cli_file inputs[] = {{"--model", model}, {"the image", argv[1]}, {"--roi-mask", ro.mask}};
  int checked = segcam_cli_check_outputs ("explain", outputs, G_N_ELEMENTS (outputs), inputs,
                                          G_N_ELEMENTS (inputs));
  if (checked)
    return checked;

  segcam_cli_run r;
  int cls = -1;
  int status = segcam_cli_run_forward (&r, "explain", model, argv[1], TRUE, layer, threads, exact,
                                       max_size);
  if (status == 0)
    status = segcam_cli_find_class ("explain", r.model, cls_arg, &cls);
  float *roi = NULL, *map = NULL;
  if (status == 0)
    status = segcam_cli_build_roi ("explain", &ro, &r, cls, &roi);
  GError *error = NULL;
  size_t n = (size_t) r.width * r.height;
  if (status == 0)
    {
      segcam_explain_info info;
      eo.class_index = cls;
      eo.pixels = r.pixels;
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
  segcam_cli_run_clear (&r);
  return status;
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
          segcam_method_name (eo.method), openblas_get_corename ());
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
