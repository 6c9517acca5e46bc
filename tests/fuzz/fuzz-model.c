/* fuzz-model.c — libFuzzer entry for the whole model loader: container, graph JSON, shapes,
 * weight packing, and planning a session for a small image. Anything the loader accepts must
 * also plan (or refuse to plan) without crashing. Built by meson with -Dfuzz=true (clang). */
#include "segcam.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  segcam_model *m = segcam_model_load_from_data (data, size, NULL);
  if (!m)
    return 0;
  int n = segcam_model_n_nodes (m);
  int *shapes = g_new (int, 3 * n);
  if (segcam_model_infer_shapes (m, 9, 7, shapes, NULL))
    {
      segcam_session_options o = {9, 7, -1, TRUE, 1, NULL, NULL};
      segcam_session *s = segcam_session_new (m, &o, NULL);
      segcam_session_free (s);
    }
  g_free (shapes);
  segcam_model_free (m);
  return 0;
}
