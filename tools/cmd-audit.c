/* cmd-audit.c — `segcam audit` (README, "Audit a data set on a cluster"; docs/audit.md): explain
 * every image x class x method of a manifest, one shard of it per process, and merge the shards
 * into one table and a report.
 *
 * Exit status: 0 when every record of the shard (or the merged table) is good, 1 usage error,
 * 2 bad input — also when some records hold an error, which they name. */
#include "audit-manifest.h"
#include "audit-merge.h"
#include "audit-run.h"
#include "audit-settings.h"
#include "audit-shard.h"
#include "audit-table.h"
#include "cli.h"
#include "commands.h"
#include "explain-args.h"
#include "output.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *model, *manifest, *out, *layer, *shard, *baseline, *merge;
  char **classes, **methods;
  int steps, threads;
  gboolean road;
} audit_args;

static void
audit_args_clear (audit_args *a)
{
  g_free (a->model), g_free (a->manifest), g_free (a->out), g_free (a->layer);
  g_free (a->shard), g_free (a->baseline), g_free (a->merge);
  g_strfreev (a->classes), g_strfreev (a->methods);
}

/* The deletion and insertion curves' default points: segcam evaluate's (docs/metrics.md). */
#define DEFAULT_STEPS 20

/* The model's classes and methods the arguments name, and its target layer; 0 or the exit status
 * with the error printed. */
static int
resolve_choices (const audit_args *a, const segcam_model *model, segcam_audit_run *run,
                 int **classes, SegcamMethod **methods)
{
  int n_classes = a->classes ? (int) g_strv_length (a->classes) : 0;
  int n_methods = a->methods ? (int) g_strv_length (a->methods) : 1;
  *classes = n_classes ? g_new (int, n_classes) : NULL;
  *methods = g_new (SegcamMethod, n_methods);
  for (int c = 0; c < n_classes; c++)
    {
      int status = segcam_cli_find_class ("audit", model, a->classes[c], &(*classes)[c]);
      if (status)
        return status;
    }
  for (int m = 0; m < n_methods; m++)
    {
      int method = a->methods ? segcam_method_from_name (a->methods[m]) : SEGCAM_METHOD_SEG_GRAD_CAM;
      if (method < 0)
        return segcam_cli_fail ("audit", EXIT_USAGE, "--method must be seg-grad-cam, hires, xres, "
                                "gradcam++, xgrad, layer, eigen, score or ablation, not '%s'", a->methods[m]);
      (*methods)[m] = method;
    }
  run->layer = a->layer ? segcam_model_find_node (model, a->layer) : segcam_model_default_layer (model);
  if (run->layer < 0)
    return segcam_cli_fail ("audit", EXIT_INPUT, "unknown layer '%s' (segcam info lists the nodes)",
                            a->layer);
  run->model = (segcam_model *) model;
  run->classes = *classes, run->n_classes = n_classes;
  run->methods = *methods, run->n_methods = n_methods;
  run->threads = a->threads;
  run->metrics.steps = a->steps;
  run->metrics.road = a->road;
  run->metrics.road_noise = SEGCAM_ROAD_NOISE;
  return 0;
}

/* The audit folder's settings from the arguments (paths made absolute, names as the model has
 * them). */
static void
describe (const audit_args *a, const segcam_audit_run *run, int rows, segcam_audit_settings *s)
{
  s->model = g_canonicalize_filename (a->model, NULL);
  s->manifest = g_canonicalize_filename (a->manifest, NULL);
  s->rows = rows;
  s->classes = g_new0 (char *, run->n_classes + 1);
  for (int c = 0; c < run->n_classes; c++)
    s->classes[c] = g_strdup (segcam_model_class_name (run->model, run->classes[c]));
  s->methods = g_new0 (char *, run->n_methods + 1);
  for (int m = 0; m < run->n_methods; m++)
    s->methods[m] = g_strdup (segcam_method_name (run->methods[m]));
  s->layer = g_strdup (segcam_model_node_name (run->model, run->layer));
  s->steps = a->steps;
  s->baseline = g_strdup (run->metrics.baseline == SEGCAM_BASELINE_MEAN ? "mean" : "blur");
  s->road = a->road;
}

/* The records of a shard file that a rerun keeps: those of rows that belong to the shard and
 * had no error (a failed row is tried again). */
static GPtrArray *
resumable (const char *path, segcam_audit_shard shard, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  GPtrArray *records = segcam_audit_table_read (path, error);
  if (!records)
    return NULL;
  GHashTable *failed = g_hash_table_new (NULL, NULL);
  for (guint r = 0; r < records->len; r++)
    {
      char **record = records->pdata[r];
      int row = segcam_audit_record_row (record);
      if (row % shard.count != shard.index)
        {
          g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s holds row %d, which is not "
                       "shard %d of %d's", path, row, shard.index, shard.count);
          g_ptr_array_free (records, TRUE);
          g_hash_table_destroy (failed);
          return NULL;
        }
      if (*record[SEGCAM_AUDIT_ERROR])
        g_hash_table_add (failed, GINT_TO_POINTER (row + 1));
    }
  for (guint r = records->len; r-- > 0;)
    if (g_hash_table_contains (failed, GINT_TO_POINTER (segcam_audit_record_row (records->pdata[r]) + 1)))
      g_ptr_array_remove_index (records, r);
  g_hash_table_destroy (failed);
  return records;
}

/* Seconds between two saves of a shard file. */
#define SAVE_INTERVAL 5

/* Audits the shard's rows that path does not hold yet, saving path as it goes; the exit status. */
static int
audit_shard (segcam_audit_run *run, GPtrArray *items, segcam_audit_shard shard, const char *path)
{
  GError *error = NULL;
  GPtrArray *records = resumable (path, shard, &error);
  if (!records)
    return segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  GHashTable *done = g_hash_table_new (NULL, NULL);
  for (guint r = 0; r < records->len; r++)
    g_hash_table_add (done, GINT_TO_POINTER (segcam_audit_record_row (records->pdata[r]) + 1));
  int status = 0, audited = 0, skipped = 0, failed = 0;
  gint64 t0 = g_get_monotonic_time (), saved = t0;
  /* A shard with nothing to audit still leaves its file, which the merge looks for. */
  gboolean dirty = !g_file_test (path, G_FILE_TEST_EXISTS);
  for (guint i = shard.index; i < items->len && status == 0; i += shard.count)
    {
      const segcam_audit_item *item = items->pdata[i];
      if (g_hash_table_contains (done, GINT_TO_POINTER (item->row + 1)))
        {
          skipped++;
          continue;
        }
      /* Rows stay in manifest order: the kept ones come before, since rows only grow. */
      GPtrArray *fresh = g_ptr_array_new ();
      failed += !segcam_audit_run_item (run, item, fresh);
      guint at = records->len;
      while (at > 0 && segcam_audit_record_row (records->pdata[at - 1]) > item->row)
        at--;
      for (guint k = 0; k < fresh->len; k++)
        g_ptr_array_insert (records, (int) (at + k), fresh->pdata[k]);
      g_ptr_array_free (fresh, TRUE);
      audited++;
      /* Each save rewrites the whole file: every few seconds, so that a long shard of small
       * images does not spend its time writing, and a kill loses at most those seconds. */
      dirty = TRUE;
      if (audited == 1 || g_get_monotonic_time () - saved >= SAVE_INTERVAL * G_USEC_PER_SEC)
        {
          if (!segcam_audit_table_write (path, records, &error))
            status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
          saved = g_get_monotonic_time ();
          dirty = FALSE;
        }
    }
  if (status == 0 && dirty && !segcam_audit_table_write (path, records, &error))
    status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (status == 0)
    {
      segcam_cli_print ("%s: %d rows audited in %.1f s (%.2f rows/s), %d already there, %d failed",
                        path, audited, seconds, audited ? audited / seconds : 0.0, skipped, failed);
      if (failed)
        status = segcam_cli_fail ("audit", EXIT_INPUT, "%d rows failed: their records in %s say why",
                                  failed, path);
    }
  g_hash_table_destroy (done);
  g_ptr_array_free (records, TRUE);
  return status;
}

static int
run_audit (audit_args *a)
{
  if (!a->model || !a->manifest || !a->out)
    return segcam_cli_fail ("audit", EXIT_USAGE, "needs --model, --manifest and --out (or --merge DIR)");
  if (a->steps < 0)
    return segcam_cli_fail ("audit", EXIT_USAGE, "--steps must be 0 (no deletion and insertion "
                            "curves) or more");
  segcam_audit_shard shard;
  int status = 0;
  GError *error = NULL;
  if (!segcam_audit_shard_resolve (a->shard, &shard, &status, &error))
    return segcam_cli_fail_error ("audit", status, &error);
  segcam_audit_run run = {0};
  static const char *const baselines[] = {"blur", "mean", NULL};
  int baseline = segcam_cli_choice (a->baseline, baselines, SEGCAM_BASELINE_BLUR);
  if (baseline < 0)
    return segcam_cli_fail ("audit", EXIT_USAGE, "--baseline must be blur or mean");
  run.metrics.baseline = baseline;
  const char *kind = segcam_cli_file_kind (a->out);
  if (kind && strcmp (kind, "a directory") != 0)
    return segcam_cli_fail ("audit", EXIT_INPUT, "--out '%s' is %s, not a folder", a->out, kind);
  if (g_file_test (a->out, G_FILE_TEST_EXISTS) && !kind)
    return segcam_cli_fail ("audit", EXIT_INPUT, "--out '%s' is a file, not a folder", a->out);
  segcam_model *model = segcam_model_load (a->model, &error);
  if (!model)
    return segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  int *classes = NULL;
  SegcamMethod *methods = NULL;
  GPtrArray *items = NULL;
  status = resolve_choices (a, model, &run, &classes, &methods);
  if (status == 0 && !(items = segcam_audit_manifest_load (a->manifest, &error)))
    status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  if (status == 0 && g_mkdir_with_parents (a->out, 0777) != 0)
    status = segcam_cli_fail ("audit", EXIT_INPUT, "cannot create %s: %s", a->out, g_strerror (errno));
  if (status == 0)
    {
      segcam_audit_settings settings;
      describe (a, &run, (int) items->len, &settings);
      if (!segcam_audit_settings_record (a->out, &settings, &error))
        status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
      segcam_audit_settings_clear (&settings);
    }
  if (status == 0)
    {
      char *path = segcam_audit_shard_path (a->out, shard);
      status = audit_shard (&run, items, shard, path);
      g_free (path);
    }
  if (items)
    g_ptr_array_free (items, TRUE);
  segcam_audit_run_clear (&run);
  g_free (classes);
  g_free (methods);
  segcam_model_free (model);
  return status;
}

int
segcam_cmd_audit (int argc, char **argv)
{
  audit_args a = {.steps = DEFAULT_STEPS};
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &a.model, "Model file (.safetensors or .onnx)", "MODEL"},
    {"manifest", 0, 0, G_OPTION_ARG_FILENAME, &a.manifest,
     "CSV with a header row: image, and optional roi, labels and context (paths relative to it)", "LIST.csv"},
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &a.out, "Audit folder (created if missing)", "DIR"},
    {"class", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &a.classes,
     "Class to explain, by name or index; repeat for more (default: each class a row's prediction has)",
     "NAME"},
    {"method", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a.methods,
     "CAM method (segcam explain --help); repeat for more (default seg-grad-cam)", "NAME"},
    {"layer", 'l', 0, G_OPTION_ARG_STRING, &a.layer, "Node to explain at (default: the model's)", "NODE"},
    {"shard", 0, 0, G_OPTION_ARG_STRING, &a.shard,
     "Audit rows whose index modulo N is I (default: the Slurm array task's, else all)", "I/N"},
    {"steps", 0, 0, G_OPTION_ARG_INT, &a.steps,
     "Points of the deletion and insertion curves after the first; 0 skips them (default "
     G_STRINGIFY (DEFAULT_STEPS) ")", "N"},
    {"baseline", 0, 0, G_OPTION_ARG_STRING, &a.baseline,
     "What replaces removed pixels: blur (default) or mean", "NAME"},
    {"road", 0, 0, G_OPTION_ARG_NONE, &a.road, "Also ROAD (slower)", NULL},
    {"threads", 't', 0, G_OPTION_ARG_INT, &a.threads, "Threads (default: all cores)", "N"},
    {"merge", 0, 0, G_OPTION_ARG_FILENAME, &a.merge,
     "Merge DIR's shards into DIR/audit.csv and DIR/report.html", "DIR"},
    {NULL},
  };
  if (!segcam_cli_parse ("audit", "", "Explain every image x class x method of a manifest, "
                         "in shards, and merge them into one table and a report.", entries, &argc, &argv))
    {
      audit_args_clear (&a);
      return EXIT_USAGE;
    }
  int status;
  if (argc != 1)
    status = segcam_cli_fail ("audit", EXIT_USAGE, "unexpected argument '%s'", argv[1]);
  else if (a.merge && (a.model || a.manifest || a.out || a.shard || a.classes || a.methods))
    status = segcam_cli_fail ("audit", EXIT_USAGE, "--merge DIR takes no other option but --threads");
  else
    status = a.merge ? segcam_audit_merge (a.merge, a.threads) : run_audit (&a);
  audit_args_clear (&a);
  return status;
}
