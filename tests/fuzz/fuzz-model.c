/* fuzz-model.c — libFuzzer entry for the whole model loader and what runs a loaded model:
 * container, graph JSON, shapes, weight packing, planning a session for a 9x7 image, and then
 * forward, the predictions and an explanation of every class. Anything the loader accepts must
 * run (or refuse to plan) without a memory error: the harness that only planned never read the
 * logits, and so missed a 2x2 pool before the head overflowing the predictions (issue 12).
 * Built by meson with -Dfuzz=true (clang). */
#include "segcam.h"

#include <string.h>

enum { W = 9, H = 7 };

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Forward, the predictions and one explanation per class (at most 4) at the default layer. */
static void
run (const segcam_model *m)
{
  segcam_session_options o = {W, H, -1, TRUE, 1, NULL, NULL, FALSE};
  segcam_session *s = segcam_session_new (m, &o, NULL);
  if (!s)
    return;
  int channels = segcam_model_input_channels (m), n_classes = segcam_model_n_classes (m);
  float *pixels = g_new (float, W * H * channels), *map = g_new (float, W * H);
  float *probabilities = g_new (float, (size_t) n_classes * W * H);
  uint8_t *labels = g_new (uint8_t, W * H);
  for (int i = 0; i < W * H * channels; i++)
    pixels[i] = (float) (i % 5) / 4;
  if (segcam_session_forward (s, pixels, NULL))
    {
      segcam_session_probabilities (s, probabilities);
      segcam_session_labels (s, labels);
      for (int c = 0; c < n_classes && c < 4; c++)
        {
          segcam_explain_options e = {c, c % 2 ? SEGCAM_SCORE_PROBABILITIES : SEGCAM_SCORE_LOGITS,
                                      SEGCAM_WEIGHTS_MEAN, TRUE};
          segcam_session_explain (s, &e, NULL, map, NULL, NULL);
        }
    }
  g_free (pixels);
  g_free (map);
  g_free (probabilities);
  g_free (labels);
  segcam_session_free (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  segcam_model *m = segcam_model_load_from_data (data, size, NULL);
  if (!m)
    return 0;
  int *shapes = g_new (int, 3 * segcam_model_n_nodes (m));
  if (segcam_model_infer_shapes (m, W, H, shapes, NULL))
    run (m);
  g_free (shapes);
  segcam_model_free (m);
  return 0;
}
