/* cmd-dataset.c — `segcam dataset texture-mnist ...` (README, "Command line"): writes TextureMNIST samples
 * (engine/include/texture-mnist.h) as PNG files, per sample NNNN: NNNN.png (the gray image),
 * NNNN-labels.png (class index per pixel: 0 background, 1 + d for digit d) and NNNN-bias.png
 * (255 where the bias texture lies, else 0).
 *
 * The handwritten digits come from a file made by tools/fetch-mnist.sh: --mnist FILE, else the
 * environment variable SEGCAM_MNIST, else data/mnist.bin under the current directory.
 *
 * Exit status: 0 success, 1 usage error, 2 bad input (digits file) or unwritable output.
 */
#include "cli.h"
#include "commands.h"
#include "image-io.h"
#include "segcam.h"
#include "texture-mnist.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  /* As given on the command line (GOption allocates them), NULL when absent. */
  char *config_name, *split_name, *seed_text, *out, *mnist_option;
  int count;
  /* Resolved from them. */
  SegcamTextureMnistConfig config;
  SegcamMnistSplit split;
  uint64_t seed;           /* 0 unless --seed */
} DatasetArgs;

static void
dataset_args_clear (DatasetArgs *args)
{
  g_free (args->config_name);
  g_free (args->split_name);
  g_free (args->seed_text);
  g_free (args->out);
  g_free (args->mnist_option);
}

/* Parses the command line into args; FALSE with the usage error printed. */
static gboolean
parse_options (int argc, char **argv, DatasetArgs *args)
{
  GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_STRING, &args->config_name, "biased (every 2 has the bias "
      "texture in a tile, no other image has it) or unbiased", "biased|unbiased" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &args->split_name, "which MNIST digits to use "
      "(default train)", "train|test" },
    { "count", 0, 0, G_OPTION_ARG_INT, &args->count, "number of samples", "N" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &args->seed_text, "random seed, 0 .. 2^64-1 "
      "(default 0)", "S" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &args->out, "output folder (created if missing)",
      "DIR" },
    { "mnist", 0, 0, G_OPTION_ARG_FILENAME, &args->mnist_option, "digits file from "
      "tools/fetch-mnist.sh (default $SEGCAM_MNIST, else " SEGCAM_CLI_DEFAULT_MNIST ")", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  static const char summary[] =
    "segcam dataset texture-mnist --config biased|unbiased --split train|test --count N\n"
    "                             --seed S --out DIR\n\n"
    "Writes TextureMNIST samples (Hoyer et al. 2019): per sample NNNN, NNNN.png (64x64 gray\n"
    "image), NNNN-labels.png (class index per pixel: 0 background, 1 + d for digit d) and\n"
    "NNNN-bias.png (255 where the bias texture lies). Sample i depends only on the config,\n"
    "split, seed and i.";
  if (!segcam_cli_parse ("dataset", "texture-mnist", summary, entries, &argc, &argv))
    return FALSE;
  if (argc != 2 || strcmp (argv[1], "texture-mnist") != 0) {
    segcam_cli_fail ("dataset", EXIT_USAGE, "expected one data set name: texture-mnist");
    return FALSE;
  }
  return TRUE;
}

/* Checks the options and resolves args' values; FALSE with the usage error printed. */
static gboolean
resolve_options (DatasetArgs *args)
{
  const char *problem = NULL;
  if (args->config_name == NULL ||
      (strcmp (args->config_name, "biased") != 0 && strcmp (args->config_name, "unbiased") != 0))
    problem = "--config must be biased or unbiased";
  else if (args->split_name != NULL && strcmp (args->split_name, "train") != 0 &&
           strcmp (args->split_name, "test") != 0)
    problem = "--split must be train or test";
  else if (args->count < 1)
    problem = "--count must be a positive number of samples";
  else if (args->out == NULL)
    problem = "--out DIR is required";
  else if (args->seed_text != NULL &&
           !g_ascii_string_to_unsigned (args->seed_text, 10, 0, G_MAXUINT64, &args->seed, NULL))
    problem = "--seed must be a number in 0 .. 2^64-1";
  if (problem != NULL) {
    segcam_cli_fail ("dataset", EXIT_USAGE, "%s", problem);
    return FALSE;
  }

  args->config = strcmp (args->config_name, "biased") == 0 ? SEGCAM_TEXTURE_MNIST_BIASED
                                                           : SEGCAM_TEXTURE_MNIST_UNBIASED;
  args->split = args->split_name != NULL && strcmp (args->split_name, "test") == 0
                ? SEGCAM_MNIST_TEST : SEGCAM_MNIST_TRAIN;
  return TRUE;
}

/* Writes one sample's three PNG files. */
static gboolean
write_sample (const segcam_mnist *mnist, const DatasetArgs *args, int index, int width,
              GError **error)
{
  enum { SIZE = SEGCAM_TEXTURE_MNIST_SIZE };
  uint8_t image[SIZE * SIZE], labels[SIZE * SIZE], bias[SIZE * SIZE];
  segcam_texture_mnist_sample (mnist, args->config, args->split, args->seed, (uint64_t) index,
                               image, labels, bias, NULL);
  const struct { const char *suffix; const uint8_t *pixels; } files[] = {
    { "", image }, { "-labels", labels }, { "-bias", bias },
  };
  for (size_t f = 0; f < G_N_ELEMENTS (files); f++) {
    char *name = g_strdup_printf ("%0*d%s.png", width, index, files[f].suffix);
    char *path = g_build_filename (args->out, name, NULL);
    gboolean ok = segcam_png_save (path, files[f].pixels, SIZE, SIZE, 1, error);
    g_free (path);
    g_free (name);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* Loads the digits and writes the samples; the exit status. */
static int
write_dataset (const DatasetArgs *args)
{
  segcam_mnist *mnist = segcam_cli_load_mnist ("dataset", args->mnist_option);
  if (mnist == NULL)
    return EXIT_INPUT;

  GError *error = NULL;
  int status = 0;
  if (g_mkdir_with_parents (args->out, 0777) != 0) {
    status = segcam_cli_fail ("dataset", EXIT_INPUT, "cannot create %s: %s", args->out,
                              g_strerror (errno));
  } else {
    /* At least 4 digits (NNNN), more when the count needs them, so that names sort in order. */
    int width = MAX (4, snprintf (NULL, 0, "%d", args->count - 1));
    for (int i = 0; i < args->count && status == 0; i++)
      if (!write_sample (mnist, args, i, width, &error))
        status = segcam_cli_fail_error ("dataset", EXIT_INPUT, &error);
  }
  segcam_mnist_free (mnist);
  return status;
}

int
segcam_cmd_dataset (int argc, char **argv)
{
  DatasetArgs args = { 0 };
  int status = EXIT_USAGE;
  if (parse_options (argc, argv, &args) && resolve_options (&args))
    status = write_dataset (&args);
  dataset_args_clear (&args);
  return status;
}
