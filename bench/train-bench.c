/* train-bench.c — training throughput of the engine's trainer, for comparison with PyTorch.
 *
 *   train-bench [--depth 4] [--filters 32] [--classes 11] [--channels 1] [--size 64] [--batch 32]
 *               [--steps 10] [--threads 2] [--save MODEL.safetensors]
 *
 * Builds the CSBDeep-style U-Net of segcam-train.h (conv3x3 + batch norm + ReLU x2 per level,
 * 2x2 max-pool, bilinear x2 upsampling, concat skip, 1x1 head; He initialisation), then times
 * segcam_trainer_step (forward with batch statistics, per-pixel softmax cross-entropy, backward
 * including weight gradients, Adam lr 1e-3) on batches of uniform random images and random labels.
 * Prints the median step time over --steps steps after two warm-up steps, images/s, and a line
 *   RESULT step_ms=.. images_per_s=.. peak_mib=..
 * --save writes the freshly built model (before any step) so that bench/torch_peer.py --train
 * trains exactly the same graph. */
#include "cli.h"
#include "segcam-train.h"

#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

int
main (int argc, char **argv)
{
  int depth = 4, filters = 32, classes = 11, channels = 1, size = 64, batch = 32, steps = 10,
      threads = 2;
  char *save = NULL;
  gboolean exact = FALSE;
  GOptionEntry entries[] = {
    {"depth", 0, 0, G_OPTION_ARG_INT, &depth, "U-Net depth (default 4)", "N"},
    {"filters", 0, 0, G_OPTION_ARG_INT, &filters, "filters at the first level (default 32)", "N"},
    {"classes", 0, 0, G_OPTION_ARG_INT, &classes, "classes (default 11)", "N"},
    {"channels", 0, 0, G_OPTION_ARG_INT, &channels, "input channels, 1 or 3 (default 1)", "N"},
    {"size", 0, 0, G_OPTION_ARG_INT, &size, "image width and height (default 64)", "N"},
    {"batch", 0, 0, G_OPTION_ARG_INT, &batch, "images per step (default 32)", "N"},
    {"steps", 0, 0, G_OPTION_ARG_INT, &steps, "timed steps (default 10)", "N"},
    {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default 2)", "N"},
    {"save", 0, 0, G_OPTION_ARG_FILENAME, &save, "write the initial model here", "FILE"},
    {"exact", 0, 0, G_OPTION_ARG_NONE, &exact, "every conv direct (the trainer's exact path)", NULL},
    {NULL},
  };
  GError *error = NULL;
  GOptionContext *ctx = g_option_context_new ("- time the engine's training step");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "train-bench: %s\n", error->message);
      return 1;
    }
  g_option_context_free (ctx);
  if (steps < 1 || batch < 1 || size < (1 << depth) || classes < 2 || classes > 255)
    {
      fprintf (stderr, "train-bench: bad options\n");
      return 1;
    }

  char **names = g_new0 (char *, classes + 1);
  for (int c = 0; c < classes; c++)
    names[c] = g_strdup_printf ("class %d", c);
  segcam_unet_spec spec = {channels, classes, (const char *const *) names, NULL, depth, filters,
                           TRUE, FALSE, 0.5f, 0.25f, 1, "train-bench U-Net"};
  segcam_model *model = segcam_unet_build (&spec, &error);
  segcam_trainer *trainer = NULL;
  segcam_trainer_options to = {batch, size, size, 0, 0, 0, 0, threads, exact};
  if (!model || !(trainer = segcam_trainer_new (model, &to, &error))
      || (save && !segcam_trainer_save (trainer, save, NULL, FALSE, &error)))
    {
      fprintf (stderr, "train-bench: %s\n", error->message);
      return 2;
    }
  size_t npix = (size_t) batch * size * size;
  float *images = g_new (float, npix * channels);
  uint8_t *labels = g_new (uint8_t, npix);
  GRand *rand = g_rand_new_with_seed (1);
  for (size_t i = 0; i < npix * channels; i++)
    images[i] = (float) g_rand_double (rand);
  for (size_t i = 0; i < npix; i++)
    labels[i] = (uint8_t) g_rand_int_range (rand, 0, classes);
  g_rand_free (rand);

  printf ("train-bench: U-Net depth %d, %d filters, %d classes, %d channel(s), %lld parameters; "
          "batch %d of %dx%d, %d thread(s), OpenBLAS core %s\n",
          depth, filters, classes, channels,
          (long long) segcam_model_n_parameters (segcam_trainer_model (trainer)), batch, size, size,
          threads, openblas_get_corename ());
  double *t = g_new (double, steps);
  for (int i = -2; i < steps; i++)
    {
      segcam_step_result r;
      gint64 t0 = g_get_monotonic_time ();
      if (!segcam_trainer_step (trainer, images, labels, 1e-3, &r, &error))
        {
          fprintf (stderr, "train-bench: %s\n", error->message);
          return 2;
        }
      double ms = (g_get_monotonic_time () - t0) / 1e3;
      if (i >= 0)
        t[i] = ms;
      printf ("  step %2d: %9.1f ms, loss %.4f\n", i, ms, r.loss);
      fflush (stdout);
    }
  double med = segcam_cli_median (t, steps);
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  printf ("train %dx%d batch %d: %.1f ms/step (median of %d), %.1f images/s, peak RSS %.1f MiB\n",
          size, size, batch, med, steps, batch / (med / 1e3), ru.ru_maxrss / 1024.0);
  printf ("RESULT step_ms=%.3f images_per_s=%.2f peak_mib=%.1f\n", med, batch / (med / 1e3),
          ru.ru_maxrss / 1024.0);
  segcam_trainer_free (trainer);
  g_free (images);
  g_free (labels);
  g_free (t);
  g_strfreev (names);
  return 0;
}
