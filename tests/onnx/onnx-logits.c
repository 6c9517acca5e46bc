/* onnx-logits — a model's logits for given pixels, for the PyTorch cross-check (crosscheck.py):
 *
 *   onnx-logits MODEL PIXELS.f32 WIDTH HEIGHT LOGITS.f32
 *
 * PIXELS holds HEIGHT x WIDTH x channels float32 values in [0, 1] (what segcam's image loader
 * makes of a PNG); LOGITS receives the output node's values as channels x HEIGHT x WIDTH float32
 * (NCHW, as PyTorch prints them), cropped to the image. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
  if (argc != 6)
    {
      fprintf (stderr, "usage: onnx-logits MODEL PIXELS.f32 WIDTH HEIGHT LOGITS.f32\n");
      return 1;
    }
  GError *error = NULL;
  int w = atoi (argv[3]), h = atoi (argv[4]);
  segcam_model *m = segcam_model_load (argv[1], &error);
  gchar *pixels = NULL;
  gsize size = 0;
  if (m && !g_file_get_contents (argv[2], &pixels, &size, &error))
    m = (segcam_model_free (m), NULL);
  if (!m)
    {
      fprintf (stderr, "onnx-logits: %s\n", error->message);
      return 2;
    }
  if (w < 1 || h < 1 || size != (gsize) w * h * segcam_model_input_channels (m) * sizeof (float))
    {
      fprintf (stderr, "onnx-logits: %s does not hold %dx%d pixels\n", argv[2], w, h);
      return 2;
    }
  segcam_session_options o = {w, h, -1, FALSE, 0, NULL, NULL};
  segcam_session *s = segcam_session_new (m, &o, &error);
  if (!s || !segcam_session_forward (s, (const float *) pixels, &error))
    {
      fprintf (stderr, "onnx-logits: %s\n", error->message);
      return 2;
    }
  const segcam_act *z = &s->acts[segcam_model_output_node (m)];
  float *out = g_new (float, (size_t) z->c * w * h);
  for (int c = 0; c < z->c; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        out[((size_t) c * h + y) * w + x] = segcam_session_logits_at (s, x, y)[c];
  gboolean ok = g_file_set_contents (argv[5], (const char *) out, (gssize) z->c * w * h * sizeof (float),
                                     &error);
  if (!ok)
    fprintf (stderr, "onnx-logits: %s\n", error->message);
  g_free (out);
  g_free (pixels);
  segcam_session_free (s);
  segcam_model_free (m);
  return ok ? 0 : 2;
}
