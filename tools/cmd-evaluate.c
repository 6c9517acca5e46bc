/* cmd-evaluate.c — `segcam evaluate`: how far to trust a map (docs/metrics.md). It explains the
 * class as `segcam explain` would (same options) or takes the map from --map, then measures it
 * against the segmentation: ROI and context energy shares, deletion and insertion AUCs, and with
 * --road the ROAD scores; one line on stdout, everything (curves included) in the -o JSON file. */
#include "cli.h"
#include "commands.h"
#include "explain-args.h"
#include "image-io.h"
#include "npy-read.h"
#include "output.h"
#include "progress.h"
#include "segcam-metrics.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_STEPS 20

typedef struct {
  const char *model, *image, *map_source, *score, *baseline, *cls;
  double roi_weight, roi_fraction;
  const segcam_metrics_options *options;
  const segcam_metrics *metrics;
  const double *curves;
  int n_pixels;
  GPtrArray *notes;
} evaluation;

static void
add_number (JsonBuilder *b, const char *key, double v)
{
  json_builder_set_member_name (b, key);
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
add_string (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

/* A curve as [[fraction, S / S(0)], ...]. */
static void
add_curve (JsonBuilder *b, const char *key, const double *curve, int steps, int n)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (int t = 0; t <= steps; t++)
    {
      json_builder_begin_array (b);
      /* The same rounding as the engine (docs/metrics.md). */
      guint64 k = ((guint64) t * n * 2 + steps) / (2 * (guint64) steps);
      json_builder_add_double_value (b, (double) k / n);
      if (isfinite (curve[t]))
        json_builder_add_double_value (b, curve[t]);
      else
        json_builder_add_null_value (b);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

static gboolean
write_json (const char *path, gpointer data, GError **error)
{
  const evaluation *e = data;
  const segcam_metrics *m = e->metrics;
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "model", e->model);
  add_string (b, "image", e->image);
  add_string (b, "class", e->cls);
  add_string (b, "map", e->map_source);
  add_string (b, "score_mode", e->score);
  add_number (b, "roi_weight", e->roi_weight);
  add_number (b, "roi_fraction", e->roi_fraction);
  add_number (b, "score", m->score);
  add_number (b, "roi_energy_share", m->energy.roi_energy_share);
  add_number (b, "context_share", m->energy.context_share);
  add_number (b, "context_mask_share", m->energy.context_mask_share);
  json_builder_set_member_name (b, "steps");
  json_builder_add_int_value (b, e->options->steps);
  add_string (b, "baseline", e->baseline);
  add_number (b, "deletion_auc", m->deletion_auc);
  add_number (b, "insertion_auc", m->insertion_auc);
  if (e->options->steps > 0)
    {
      add_curve (b, "deletion_curve", e->curves, e->options->steps, e->n_pixels);
      add_curve (b, "insertion_curve", e->curves + e->options->steps + 1, e->options->steps,
                 e->n_pixels);
    }
  if (e->options->road)
    {
      json_builder_set_member_name (b, "road_seed");
      json_builder_add_int_value (b, (gint64) e->options->seed);
    }
  add_number (b, "road_morf", m->road_morf);
  add_number (b, "road_lerf", m->road_lerf);
  add_number (b, "road_score", m->road_score);
  json_builder_set_member_name (b, "notes");
  json_builder_begin_array (b);
  for (guint i = 0; i < e->notes->len; i++)
    json_builder_add_string_value (b, e->notes->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  JsonGenerator *g = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  json_generator_set_pretty (g, TRUE);
  gboolean ok = json_generator_to_file (g, path, error);
  json_node_unref (root);
  g_object_unref (g);
  g_object_unref (b);
  return ok;
}

/* A note goes to stderr at once (unless --quiet) and into the JSON file: a result that may
 * mislead says so. */
static void
note (GPtrArray *notes, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
note (GPtrArray *notes, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  segcam_cli_remark ("evaluate", "note: %s", text);
  g_ptr_array_add (notes, text);
}

/* "0.8123" or "n/a" for what was not computed. */
static const char *
figure (char *buf, size_t size, double v)
{
  if (isfinite (v))
    g_snprintf (buf, size, "%.4f", v);
  else
    g_strlcpy (buf, "n/a", size);
  return buf;
}

int
segcam_cmd_evaluate (int argc, char **argv)
{
  char *model = NULL, *cls_arg = NULL, *layer = NULL, *map_path = NULL, *context_path = NULL;
  char *baseline = NULL, *out = NULL;
  gboolean exact = FALSE, road = FALSE, quiet = FALSE;
  int threads = 0, max_size = 0, steps = DEFAULT_STEPS;
  gint64 seed = 0;
  segcam_cli_roi_options ro = {0};
  segcam_cli_method_options mo = {0};
  GOptionEntry entries[] = {
    EXPLAIN_OPTIONS (model, cls_arg, layer, ro, mo),
    {"map", 0, 0, G_OPTION_ARG_FILENAME, &map_path,
     "Score this map (H x W .npy, e.g. explain --map-npy) instead of computing one", "NPY"},
    {"context-mask", 0, 0, G_OPTION_ARG_FILENAME, &context_path,
     "Also the map's share on this mask (gray PNG, white = 1): a label map or a bias mask", "PNG"},
    {"steps", 0, 0, G_OPTION_ARG_INT, &steps,
     "Points on the deletion and insertion curves after the first (default "
     G_STRINGIFY (DEFAULT_STEPS) "; 0 skips them)", "N"},
    {"baseline", 0, 0, G_OPTION_ARG_STRING, &baseline,
     "What replaces removed pixels: blur (default) or mean", "NAME"},
    {"road", 0, 0, G_OPTION_ARG_NONE, &road, "Also ROAD (MoRF, LeRF, combined score)", NULL},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of ROAD's imputation noise (default 0)", "S"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Every figure and the curves, as JSON", "JSON"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    MAX_SIZE_OPTION,
    EXACT_OPTION,
    SEGCAM_CLI_QUIET_OPTION,
    {NULL},
  };
  if (!segcam_cli_parse ("evaluate", "IMAGE",
                         "Measure how faithful a map is: ROI energy share, deletion and insertion "
                         "AUCs, ROAD.", entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc > 2)
    return segcam_cli_fail ("evaluate", EXIT_USAGE, "expected one IMAGE, not %d", argc - 1);
  const segcam_cli_arg needed[] = {
    {"--model MODEL", model != NULL}, {"--class NAME|INDEX", cls_arg != NULL}, {"the IMAGE", argc == 2},
  };
  int status = segcam_cli_require ("evaluate", needed, G_N_ELEMENTS (needed));
  if (status)
    return status;
  if (map_path && (mo.method || mo.pool || mo.pool_mode || mo.weights || layer))
    return segcam_cli_fail ("evaluate", EXIT_USAGE, "--map is scored as it is: --method, --pool, "
                            "--pool-mode, --weights and --layer do not apply to it");
  if (steps < 0)
    return segcam_cli_fail ("evaluate", EXIT_USAGE, "--steps must be 0 or more, not %d", steps);
  if (seed < 0)
    return segcam_cli_fail ("evaluate", EXIT_USAGE, "--seed must be 0 or more");
  static const char *const baselines[] = {"blur", "mean", NULL};
  int baseline_kind = segcam_cli_choice (baseline, baselines, SEGCAM_BASELINE_BLUR);
  if (baseline_kind < 0)
    return segcam_cli_fail ("evaluate", EXIT_USAGE, "--baseline must be blur or mean");
  segcam_explain_options eo = {.normalize = TRUE};
  if ((status = segcam_cli_parse_method ("evaluate", &mo, &eo))
      || (status = segcam_cli_check_max_size ("evaluate", max_size))
      || (status = segcam_cli_check_roi ("evaluate", &ro)))
    return status;
  const segcam_cli_file outputs[] = {{"-o", out}};
  const segcam_cli_file inputs[] = {{"--model", model}, {"the image", argv[1]}, {"--roi-mask", ro.mask},
                                    {"--map", map_path}, {"--context-mask", context_path}};
  if ((status = segcam_cli_check_outputs ("evaluate", outputs, G_N_ELEMENTS (outputs), inputs,
                                          G_N_ELEMENTS (inputs))))
    return status;

  segcam_cli_set_quiet (quiet);
  segcam_progress_start ();
  segcam_cli_run r;
  int cls = -1;
  status = segcam_cli_run_forward (&r, "evaluate", model, argv[1], !map_path, layer, threads, exact,
                                   max_size);
  if (status == 0)
    status = segcam_cli_find_class ("evaluate", r.model, cls_arg, &cls);
  /* Everything is scored at the working size: the masks and a given map are resampled to it
   * as the image is. */
  float *base = NULL, *roi = NULL, *map = NULL, *context = NULL;
  if (status == 0)
    status = segcam_cli_image_roi ("evaluate", &ro, r.width, r.height, r.work_width,
                                   r.work_height, &base);
  if (status == 0)
    status = segcam_cli_class_roi ("evaluate", &ro, base, r.labels, r.work_width, r.work_height,
                                   cls, &roi);
  if (status == 0 && context_path)
    status = segcam_cli_load_mask ("evaluate", context_path, "the context mask", r.width, r.height,
                                   &context);
  if (context)
    segcam_cli_resample_to_working (&context, r.width, r.height, 1, r.work_width, r.work_height);
  size_t n = (size_t) r.work_width * r.work_height;
  GError *error = NULL;
  GPtrArray *notes = g_ptr_array_new_with_free_func (g_free);
  eo.class_index = cls;
  eo.pixels = r.pixels;
  if (status == 0 && map_path)
    {
      if (!(map = segcam_npy_load_map (map_path, r.width, r.height, &error)))
        status = segcam_cli_fail_error ("evaluate", EXIT_INPUT, &error);
      else
        segcam_cli_resample_to_working (&map, r.width, r.height, 1, r.work_width, r.work_height);
    }
  else if (status == 0)
    {
      map = g_new (float, n);
      if (!segcam_session_explain (r.net.session, &eo, roi, map, NULL, &error))
        status = segcam_cli_fail_error ("evaluate", EXIT_INPUT, &error);
      else if (segcam_method_is_class_agnostic (eo.method))
        note (notes, "%s is class-agnostic: its map is the same for every class and region of "
              "interest", segcam_method_name (eo.method));
    }
  segcam_metrics_options opts = {steps, baseline_kind, road, (guint64) seed, SEGCAM_ROAD_NOISE};
  segcam_metrics metrics;
  double *curves = g_new (double, 2 * (steps + 1));
  if (status == 0 && !segcam_session_evaluate (r.net.session, &eo, r.pixels, roi, context, map, &opts,
                                               &metrics, curves, &error))
    status = segcam_cli_fail_error ("evaluate", EXIT_INPUT, &error);
  if (status == 0)
    {
      double roi_weight = roi ? segcam_roi_sum (roi, n) : (double) n;
      if (metrics.score == 0 && (steps > 0 || road))
        note (notes, "the ROI score S(0) is 0: the curves, divided by it, are not defined");
      else if (metrics.score < 0 && (steps > 0 || road))
        note (notes, "the ROI score S(0) = %.6g is negative (the model rejects the class there): "
              "the curves are divided by it, so a falling score reads as a rising curve",
              metrics.score);
      if (isnan (metrics.energy.roi_energy_share))
        note (notes, "the map is zero everywhere: it has no energy to share");
      char a[32], b[32], c[32], d[32], e[32];
      segcam_cli_print ("class '%s': ROI energy share %s (ROI %.1f%% of the image), deletion AUC %s, "
                        "insertion AUC %s, ROAD %s%s%s", segcam_model_class_name (r.model, cls),
                        figure (a, sizeof a, metrics.energy.roi_energy_share),
                        100.0 * roi_weight / n, figure (b, sizeof b, metrics.deletion_auc),
                        figure (c, sizeof c, metrics.insertion_auc),
                        figure (d, sizeof d, metrics.road_score),
                        context ? ", context-mask share " : "",
                        context ? figure (e, sizeof e, metrics.energy.context_mask_share) : "");
      if (out)
        {
          evaluation ev = {model, argv[1], map_path ? map_path : segcam_method_name (eo.method),
                           eo.score == SEGCAM_SCORE_LOGITS ? "logits" : "probabilities",
                           baselines[baseline_kind], segcam_model_class_name (r.model, cls),
                           roi_weight, roi_weight / n, &opts, &metrics, curves, (int) n, notes};
          if (!segcam_write_atomically (out, write_json, &ev, &error))
            status = segcam_cli_fail_error ("evaluate", EXIT_INPUT, &error);
        }
    }
  g_ptr_array_unref (notes);
  g_free (curves);
  g_free (base);
  g_free (roi);
  g_free (map);
  g_free (context);
  segcam_cli_run_clear (&r);
  return status;
}
