/* advice.c — the decisions behind the command line's warnings (advice.h). */
#include "advice.h"

#include <math.h>
#include <string.h>

char *
segcam_advice_image_mode (const char *image, int model_channels, const float *rgb, size_t n)
{
  const float tolerance = 2.0f / 255;
  gboolean gray = TRUE;
  for (size_t i = 0; i < n && gray; i++)
    gray = fabsf (rgb[3 * i] - rgb[3 * i + 1]) <= tolerance && fabsf (rgb[3 * i + 1] - rgb[3 * i + 2]) <= tolerance;
  if (model_channels == 1 && !gray)
    return g_strdup_printf ("warning: '%s' is in colour but the model reads gray images: it sees "
                            "the luminance only", image);
  if (model_channels == 3 && gray)
    return g_strdup_printf ("warning: '%s' is gray but the model reads colour images: what it "
                            "sees may be far from what it was trained on", image);
  return NULL;
}

char *
segcam_advice_zero_map (const segcam_explain_options *o)
{
  gboolean weights = o->method == SEGCAM_METHOD_SEG_GRAD_CAM && o->weights != SEGCAM_WEIGHTS_ABS;
  return g_strdup_printf ("try %sanother --layer or another --method", weights ? "--weights abs, " : "");
}

gboolean
segcam_advice_classes_unnamed (const segcam_model *m)
{
  for (int c = 0; c < segcam_model_n_classes (m); c++)
    {
      char *placeholder = g_strdup_printf ("class %d", c);
      gboolean same = strcmp (segcam_model_class_name (m, c), placeholder) == 0;
      g_free (placeholder);
      if (!same)
        return FALSE;
    }
  return TRUE;
}
