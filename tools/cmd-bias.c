/* cmd-bias.c — `segcam bias`: the paper's finding as a number, for every CAM method.
 *
 * On digit-2 images of the biased TextureMNIST test split, explain "digit 2" over the pixels the
 * model predicts as digit 2 (at the model's default layer) and compare the mean saliency on the
 * background tile that holds the biased texture with the mean on the other tile. A model that
 * learned the bias looks at its texture: the ratio is clearly above 1. Per method it also gives
 * the map's ROI energy share and the deletion AUC of the ROI score (docs/metrics.md), which say
 * how much of the map is on the digit and how faithful its ranking is. */
#include "cli.h"
#include "commands.h"
#include "segcam-metrics.h"
#include "segcam.h"
#include "texture-mnist.h"

#include <math.h>

#include <stdio.h>
#include <string.h>

#define SIZE 64

typedef struct {
  int images, skipped;
  double bias_tile, other_tile, digit; /* mean saliency per pixel, averaged over images */
  double roi_share, deletion_auc;      /* averaged over images (the AUC over those it is defined on) */
  int auc_images;
} bias_result;

/* Pixels of the tile without the bias texture: the other half of the image, minus the digit. */
static void
other_tile_mask (const segcam_texture_mnist_info *info, const uint8_t *bias, const uint8_t *labels,
                 uint8_t *mask)
{
  int bias_tile = -1;
  for (int p = 0; p < SIZE * SIZE && bias_tile < 0; p++)
    if (bias[p])
      bias_tile = info->vertical ? (p % SIZE >= SIZE / 2) : (p / SIZE >= SIZE / 2);
  for (int p = 0; p < SIZE * SIZE; p++)
    {
      int tile = info->vertical ? (p % SIZE >= SIZE / 2) : (p / SIZE >= SIZE / 2);
      mask[p] = tile != bias_tile && labels[p] == 0;
    }
}

/* The saliency of map on the three regions of one image, added to r. */
static void
add_regions (bias_result *r, const float *map, const uint8_t *bias, const uint8_t *other,
             const uint8_t *truth)
{
  double sums[3] = {0}, counts[3] = {0};
  for (int p = 0; p < SIZE * SIZE; p++)
    {
      int region = bias[p] ? 0 : other[p] ? 1 : truth[p] ? 2 : -1;
      if (region >= 0)
        sums[region] += map[p], counts[region]++;
    }
  r->bias_tile += sums[0] / MAX (counts[0], 1);
  r->other_tile += sums[1] / MAX (counts[1], 1);
  r->digit += sums[2] / MAX (counts[2], 1);
}

/* Explains every image with each of the n_methods methods; results[k] for methods[k]. steps 0
 * skips the deletion AUC. */
static gboolean
measure (const char *model_path, const segcam_mnist *mnist, guint64 seed, int count, int threads,
         const SegcamMethod *methods, int n_methods, int steps, bias_result *results, GError **error)
{
  segcam_model *m = segcam_model_load (model_path, error);
  if (!m)
    return FALSE;
  int cls = segcam_model_find_class (m, "digit 2");
  if (cls < 0 || segcam_model_input_channels (m) != 1)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                   "%s is not a TextureMNIST model (gray input, class 'digit 2')", model_path);
      segcam_model_free (m);
      return FALSE;
    }
  segcam_session_options o = {SIZE, SIZE, -1, TRUE, threads, NULL, NULL};
  segcam_session *s = segcam_session_new (m, &o, error);
  if (!s)
    {
      segcam_model_free (m);
      return FALSE;
    }
  uint8_t img[SIZE * SIZE], truth[SIZE * SIZE], bias[SIZE * SIZE], pred[SIZE * SIZE], other[SIZE * SIZE];
  float pixels[SIZE * SIZE], roi[SIZE * SIZE];
  float *maps = g_new (float, (size_t) n_methods * SIZE * SIZE);
  memset (results, 0, n_methods * sizeof *results);
  gboolean ok = TRUE;
  int images = 0, skipped = 0;
  for (guint64 i = 0; ok && images < count && i < (guint64) count * 100; i++)
    {
      segcam_texture_mnist_info info;
      segcam_texture_mnist_sample (mnist, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TEST, seed, i, img,
                                   truth, bias, &info);
      if (info.digit != SEGCAM_TEXTURE_MNIST_BIASED_DIGIT)
        continue;
      for (int p = 0; p < SIZE * SIZE; p++)
        pixels[p] = img[p] / 255.0f, roi[p] = 1;
      if (!(ok = segcam_session_forward (s, pixels, error)))
        break;
      segcam_session_labels (s, pred);
      segcam_roi_intersect_class (roi, pred, SIZE, SIZE, cls);
      if (segcam_roi_sum (roi, SIZE * SIZE) == 0)
        {
          skipped++; /* nothing predicted as digit 2: no ROI to explain */
          continue;
        }
      other_tile_mask (&info, bias, truth, other);
      /* Every map first: the deletion curves run the network on other images. */
      for (int k = 0; ok && k < n_methods; k++)
        {
          segcam_explain_options eo = {cls, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE,
                                       methods[k], 2, SEGCAM_POOL_MAX, pixels, 0};
          float *map = maps + (size_t) k * SIZE * SIZE;
          ok = segcam_session_explain (s, &eo, roi, map, NULL, error);
          if (ok)
            add_regions (&results[k], map, bias, other, truth);
        }
      for (int k = 0; ok && k < n_methods; k++)
        {
          segcam_explain_options eo = {.class_index = cls, .score = SEGCAM_SCORE_LOGITS};
          segcam_metrics_options mo = {.steps = steps, .baseline = SEGCAM_BASELINE_BLUR};
          segcam_metrics mt;
          ok = segcam_session_evaluate (s, &eo, pixels, roi, NULL, maps + (size_t) k * SIZE * SIZE,
                                        &mo, &mt, NULL, error);
          /* A zero map has no share; its deletion curve is still the raster order's. */
          if (ok && isfinite (mt.energy.roi_energy_share))
            results[k].roi_share += mt.energy.roi_energy_share;
          if (ok && isfinite (mt.deletion_auc))
            results[k].deletion_auc += mt.deletion_auc, results[k].auc_images++;
        }
      images++;
    }
  for (int k = 0; k < n_methods; k++)
    {
      bias_result *r = &results[k];
      r->images = images, r->skipped = skipped;
      if (images > 0)
        r->bias_tile /= images, r->other_tile /= images, r->digit /= images, r->roi_share /= images;
      r->deletion_auc = r->auc_images > 0 ? r->deletion_auc / r->auc_images : NAN;
    }
  g_free (maps);
  segcam_session_free (s);
  segcam_model_free (m);
  return ok;
}

int
segcam_cmd_bias (int argc, char **argv)
{
  char *mnist_path = NULL, *method = NULL;
  int count = 200, threads = 0, steps = 10;
  gint64 seed = 7;
  GOptionEntry entries[] = {
    {"mnist", 0, 0, G_OPTION_ARG_FILENAME, &mnist_path,
     "Digits file (default: $SEGCAM_MNIST or " SEGCAM_CLI_DEFAULT_MNIST ")", "FILE"},
    {"count", 'n', 0, G_OPTION_ARG_INT, &count, "Digit-2 images to explain (default 200)", "N"},
    {"seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the test images (default 7)", "S"},
    {"method", 0, 0, G_OPTION_ARG_STRING, &method,
     "Only this CAM method (default: every one; xres with 2x2 max pooling)", "NAME"},
    {"steps", 0, 0, G_OPTION_ARG_INT, &steps,
     "Steps of the deletion curve (default 10; 0 skips the AUC)", "N"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    {NULL},
  };
  if (!segcam_cli_parse ("bias", "MODEL...", "Saliency on the biased texture tile, per CAM method.",
                         entries, &argc, &argv))
    return EXIT_USAGE;
  if (argc < 2 || count < 1 || seed < 0)
    return segcam_cli_fail ("bias", EXIT_USAGE, "needs one or more MODELs and a positive --count");
  if (steps < 0 || steps > SIZE * SIZE)
    return segcam_cli_fail ("bias", EXIT_USAGE, "--steps must lie between 0 and %d", SIZE * SIZE);
  SegcamMethod methods[64];
  int n_methods = 0;
  if (method)
    {
      int k = segcam_method_from_name (method);
      if (k < 0)
        return segcam_cli_fail ("bias", EXIT_USAGE, "unknown --method '%s'", method);
      methods[n_methods++] = k;
    }
  else
    for (int k = 0; segcam_method_name (k) && n_methods < (int) G_N_ELEMENTS (methods); k++)
      methods[n_methods++] = k;
  segcam_mnist *mnist = segcam_cli_load_mnist ("bias", mnist_path);
  if (!mnist)
    return EXIT_INPUT;
  printf ("%-36s %-13s %6s %7s %9s %10s %7s %6s %9s %9s\n", "model", "method", "images", "skipped",
          "bias tile", "other tile", "digit", "ratio", "ROI share", "deletion");
  GError *error = NULL;
  int status = 0;
  bias_result *results = g_new (bias_result, n_methods);
  for (int i = 1; i < argc; i++)
    {
      if (!measure (argv[i], mnist, (guint64) seed, count, threads, methods, n_methods, steps,
                    results, &error))
        {
          status = segcam_cli_fail_error ("bias", EXIT_INPUT, &error);
          break;
        }
      char *base = g_path_get_basename (argv[i]);
      for (int k = 0; k < n_methods; k++)
        {
          const bias_result *r = &results[k];
          printf ("%-36s %-13s %6d %7d %9.4f %10.4f %7.4f %6.2f %9.4f %9.4f\n", base,
                  segcam_method_name (methods[k]), r->images, r->skipped, r->bias_tile,
                  r->other_tile, r->digit, r->other_tile > 0 ? r->bias_tile / r->other_tile : 0.0,
                  r->roi_share, r->deletion_auc);
        }
      g_free (base);
    }
  if (status == 0)
    printf ("mean normalised saliency per pixel (ROI: pixels predicted as digit 2, default layer, "
            "logits); ratio = bias tile / other tile; ROI share = the map's energy on the ROI; "
            "deletion = AUC of S with the blur baseline, %d steps (lower: more faithful)\n", steps);
  g_free (results);
  segcam_mnist_free (mnist);
  return status;
}
