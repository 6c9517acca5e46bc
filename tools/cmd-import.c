/* cmd-import.c — `segcam import MODEL.onnx -o MODEL.safetensors`: translates an ONNX segmentation
 * network (engine/include/onnx-import.h) into a self-describing segcam model file
 * (docs/model-format.md, segcam.format 2), with what ONNX files do not say given on the command
 * line: class names and colours, the input normalisation, which tensor holds the logits and the
 * default layer.
 *
 * Exit status: 0 success, 1 usage error, 2 bad input (unreadable or unsupported model, bad class
 * file) or unwritable output.
 */
#include "advice.h"
#include "cli.h"
#include "commands.h"
#include "onnx-import.h"
#include "output.h"
#include "segcam.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* "0.485,0.456,0.406" or one number: 1 to 3 finite values, else -1. */
static int
parse_floats (const char *text, float *out)
{
  char **parts = g_strsplit (text, ",", -1);
  int n = (int) g_strv_length (parts);
  for (int i = 0; i < n && n <= 3; i++)
    {
      char *end, *s = g_strstrip (parts[i]);
      double v = g_ascii_strtod (s, &end);
      if (!*s || *end || !isfinite (v))
        n = -1;
      else
        out[i] = (float) v;
    }
  g_strfreev (parts);
  return n >= 1 && n <= 3 ? n : -1;
}

/* --classes: a file (see segcam_onnx_read_classes) when one exists by that name, else
 * comma-separated names. */
static gboolean
parse_classes (const char *arg, char ***classes, char ***colors, GError **error)
{
  if (g_file_test (arg, G_FILE_TEST_EXISTS))
    return segcam_onnx_read_classes (arg, classes, colors, error);
  *classes = g_strsplit (arg, ",", -1);
  for (char **c = *classes; *c; c++)
    g_strstrip (*c);
  return TRUE;
}

/* The model file, for segcam_write_atomically. */
static gboolean
write_model (const char *path, gpointer data, GError **error)
{
  const segcam_safetensors *st = data;
  guint n = g_hash_table_size (st->metadata), i = 0;
  const char **keys = g_new0 (const char *, n + 1), **values = g_new0 (const char *, n + 1);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, st->metadata);
  while (g_hash_table_iter_next (&it, &k, &v))
    keys[i] = k, values[i++] = v;
  gboolean ok = segcam_safetensors_write (path, st->tensors, st->n_tensors, keys, values, error);
  g_free (keys);
  g_free (values);
  return ok;
}

/* The argument count and the options every import needs: 0, or EXIT_USAGE with the error
 * printed. */
static int
check_arguments (int argc, const char *out, const char *logits, const char *old_output)
{
  if (argc > 2)
    return segcam_cli_fail ("import", EXIT_USAGE, "expected one MODEL.onnx, not %d", argc - 1);
  if (old_output && logits)
    return segcam_cli_fail ("import", EXIT_USAGE, "--output is the old name of --logits: give one");
  const segcam_cli_arg needed[] = {{"the MODEL.onnx", argc == 2}, {"-o MODEL.safetensors", out != NULL}};
  return segcam_cli_require ("import", needed, G_N_ELEMENTS (needed));
}

int
segcam_cmd_import (int argc, char **argv)
{
  char *out = NULL, *classes = NULL, *colors = NULL, *mean = NULL, *std = NULL;
  char *logits = NULL, *old_output = NULL, *layer = NULL, *name = NULL;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    {"output-file", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The segcam model to write", "MODEL.safetensors"},
    {"classes", 0, 0, G_OPTION_ARG_STRING, &classes,
     "Class names, comma-separated, or a file with one per line (\"name #rrggbb\" sets a colour); "
     "default: MODEL.classes.txt, else the model's metadata, else class 0, class 1...", "NAMES|FILE"},
    {"colors", 0, 0, G_OPTION_ARG_STRING, &colors, "Class colours, comma-separated", "#rrggbb,..."},
    {"mean", 0, 0, G_OPTION_ARG_STRING, &mean,
     "Per-channel mean subtracted from pixels in [0, 1] (default 0)", "M[,M,M]"},
    {"std", 0, 0, G_OPTION_ARG_STRING, &std, "Per-channel standard deviation (default 1)", "S[,S,S]"},
    {"logits", 0, 0, G_OPTION_ARG_STRING, &logits,
     "Tensor holding the logits (default: the first graph output, without the Casts and the final "
     "Softmax or Sigmoid that end it)", "TENSOR"},
    /* The old name of --logits, kept for scripts: it read as the output file. */
    {"output", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &old_output, NULL, NULL},
    {"default-layer", 0, 0, G_OPTION_ARG_STRING, &layer,
     "Tensor Seg-Grad-CAM explains at by default (default: the deepest, widest feature map)", "TENSOR"},
    {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Model name (default: the graph's)", "NAME"},
    SEGCAM_CLI_QUIET_OPTION,
    {NULL},
  };
  GError *error = NULL;
  segcam_onnx_options o = {.output = NULL};
  segcam_safetensors st = {0};
  int status = segcam_cli_parse ("import", "MODEL.onnx",
                                 "Translate an ONNX segmentation network into a segcam model.",
                                 entries, &argc, &argv)
                 ? check_arguments (argc, out, logits, old_output) : EXIT_USAGE;
  if (status == 0 && mean && (o.n_mean = parse_floats (mean, o.mean)) < 0)
    status = segcam_cli_fail ("import", EXIT_USAGE, "--mean must be 1 to 3 comma-separated numbers");
  if (status == 0 && std && (o.n_std = parse_floats (std, o.std)) < 0)
    status = segcam_cli_fail ("import", EXIT_USAGE, "--std must be 1 to 3 comma-separated numbers");
  if (status == 0 && classes && !parse_classes (classes, &o.classes, &o.colors, &error))
    status = segcam_cli_fail_error ("import", EXIT_INPUT, &error);
  if (status == 0)
    {
      const segcam_cli_file output_file = {"-o", out};
      const segcam_cli_file inputs[] = {{"the ONNX model", argv[1]}, {"--classes", classes}};
      status = segcam_cli_check_outputs ("import", &output_file, 1, inputs, G_N_ELEMENTS (inputs));
    }
  segcam_cli_set_quiet (quiet);
  gboolean renamed = old_output != NULL;
  if (renamed)
    logits = old_output, old_output = NULL;
  if (status == 0)
    {
      if (colors)
        {
          g_strfreev (o.colors);
          o.colors = g_strsplit (colors, ",", -1);
          for (char **c = o.colors; *c; c++)
            g_strstrip (*c);
        }
      o.output = logits, o.default_layer = layer, o.name = name;
      GMappedFile *f = g_mapped_file_new (argv[1], FALSE, &error);
      gboolean ok = f && segcam_onnx_import ((const uint8_t *) g_mapped_file_get_contents (f),
                                             g_mapped_file_get_length (f), argv[1], &o, &st, &error);
      if (f)
        g_mapped_file_unref (f);
      if (!ok || !segcam_write_atomically (out, write_model, &st, &error))
        status = segcam_cli_fail_error ("import", EXIT_INPUT, &error);
      else if (g_hash_table_contains (st.metadata, "segcam.import_notes"))
        {
          char **lines = g_strsplit (g_hash_table_lookup (st.metadata, "segcam.import_notes"), "\n", -1);
          for (char **l = lines; *l; l++)
            if (**l)
              segcam_cli_print ("%s", *l);
          g_strfreev (lines);
        }
    }
  if (status == 0)
    {
      /* Load what was written, as every later command will, and describe it. */
      segcam_model *m = segcam_model_load (out, &error);
      if (!m)
        status = segcam_cli_fail_error ("import", EXIT_INPUT, &error);
      else
        {
          int fw, fh;
          char *input = segcam_model_fixed_size (m, &fw, &fh)
                          ? g_strdup_printf ("input fixed at %dx%d", fw, fh)
                          : g_strdup_printf ("input padded to a multiple of %d", segcam_model_size_multiple (m));
          /* Mean 0 and std 1 are the importer's default unless the options said so. */
          segcam_advice_warn_model ("import", out, m, !o.n_mean && !o.n_std);
          segcam_cli_print ("%s: %d nodes, %d classes, output '%s' (%s), default layer '%s', "
                            "%s", out, segcam_model_n_nodes (m),
                            segcam_model_n_classes (m),
                            segcam_model_node_name (m, segcam_model_output_node (m)),
                            segcam_model_output_is_sigmoid (m) ? "sigmoid" : "softmax",
                            segcam_model_node_name (m, segcam_model_default_layer (m)), input);
          g_free (input);
          segcam_model_free (m);
        }
    }
  /* After the work, so that a failure stays one line. */
  if (status == 0 && renamed)
    segcam_cli_remark ("import", "note: --output is now called --logits (it names the logits "
                       "tensor; the file is -o)");
  g_clear_error (&error);
  segcam_safetensors_clear (&st);
  g_strfreev (o.classes);
  g_strfreev (o.colors);
  g_free (out), g_free (classes), g_free (colors), g_free (mean), g_free (std);
  g_free (logits), g_free (old_output), g_free (layer), g_free (name);
  return status;
}
