/* cmd-bias.c — `segcam bias`: the paper's finding as a number.
 *
 * On digit-2 images of the biased TextureMNIST test split, explain "digit 2" over the pixels the
 * model predicts as digit 2 (at the model's default layer) and compare the mean saliency on the
 * background tile that holds the biased texture with the mean on the other tile. A model that
 * learned the bias looks at its texture: the ratio is clearly above 1. */
#include "cli.h"
#include "commands.h"
#include "segcam.h"
#include "texture-mnist.h"

#include <stdio.h>
#include <string.h>

#define SIZE 64

typedef struct {
  int images, skipped;
  double bias_tile, other_tile, digit; /* mean saliency per pixel, averaged over images */
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

static gboolean
measure (const char *model_path, const segcam_mnist *mnist, guint64 seed, int count, int threads,
         bias_result *r, GError **error)
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
  float pixels[SIZE * SIZE], roi[SIZE * SIZE], map[SIZE * SIZE];
  memset (r, 0, sizeof *r);
  gboolean ok = TRUE;
  for (guint64 i = 0; ok && r->images < count && i < (guint64) count * 100; i++)
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
          r->skipped++; /* nothing predicted as digit 2: no ROI to explain */
          continue;
        }
      segcam_explain_options eo = {cls, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE};
      if (!(ok = segcam_session_explain (s, &eo, roi, map, NULL, error)))
        break;
      other_tile_mask (&info, bias, truth, other);
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
      r->images++;
    }
  if (ok && r->images > 0)
    r->bias_tile /= r->images, r->other_tile /= r->images, r->digit /= r->images;
  segcam_session_free (s);
  segcam_model_free (m);
  return ok;
}

int
segcam_cmd_bias (int argc, char **argv)
{
  char *mnist_path = NULL;
  int count = 200, threads = 0;
  gint64 seed = 7;
  GOptionEntry entries[] = {
    {"mnist", 0, 0, G_OPTION_ARG_FILENAME, &mnist_path,
     "Digits file (default: $SEGCAM_MNIST or " SEGCAM_CLI_DEFAULT_MNIST ")", "FILE"},
    {"count", 'n', 0, G_OPTION_ARG_INT, &count, "Digit-2 images to explain (default 200)", "N"},
    {"seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the test images (default 7)", "S"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    {NULL},
  };
  if (!segcam_cli_parse ("bias", "MODEL...", "Saliency on the biased texture tile.", entries, &argc,
                         &argv))
    return EXIT_USAGE;
  if (argc < 2 || count < 1 || seed < 0)
    return segcam_cli_fail ("bias", EXIT_USAGE, "needs one or more MODELs and a positive --count");
  segcam_mnist *mnist = segcam_cli_load_mnist ("bias", mnist_path);
  if (!mnist)
    return EXIT_INPUT;
  printf ("%-44s %7s %8s %10s %10s %10s %7s\n", "model", "images", "skipped", "bias tile",
          "other tile", "digit", "ratio");
  GError *error = NULL;
  int status = 0;
  for (int i = 1; i < argc; i++)
    {
      bias_result r;
      if (!measure (argv[i], mnist, (guint64) seed, count, threads, &r, &error))
        {
          status = segcam_cli_fail_error ("bias", EXIT_INPUT, &error);
          break;
        }
      char *base = g_path_get_basename (argv[i]);
      printf ("%-44s %7d %8d %10.4f %10.4f %10.4f %7.2f\n", base, r.images, r.skipped, r.bias_tile,
              r.other_tile, r.digit, r.other_tile > 0 ? r.bias_tile / r.other_tile : 0.0);
      g_free (base);
    }
  if (status == 0)
    printf ("mean normalised Seg-Grad-CAM saliency per pixel (ROI: pixels predicted as digit 2, "
            "default layer); ratio = bias tile / other tile\n");
  segcam_mnist_free (mnist);
  return status;
}
