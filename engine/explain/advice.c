/* advice.c — what may make a map misleading although every step succeeded: an image whose
 * colour or size does not fit the model's input, a model that names no classes or
 * normalisation, a map that is zero everywhere.
 * The callers (the plug-in, the command line) only word how they show it. */
#include "segcam.h"

#include <stdio.h>
#include <string.h>

#include "model.h"

/* Channels closer than this (2/255) are the same level: a gray picture saved as RGB, or
 * through a lossy codec, stays gray. */
#define GRAY_TOLERANCE (2.0f / 255.0f)
/* Colour on fewer pixels than this (1/1000) is a stray mark, not a colour picture. */
#define COLOUR_FRACTION 0.001

gboolean
segcam_pixels_are_gray (const float *rgb, size_t n_pixels)
{
  size_t coloured = 0;

  for (size_t i = 0; i < n_pixels; i++)
    {
      const float *p = rgb + 3 * i;
      float lo = MIN (p[0], MIN (p[1], p[2])), hi = MAX (p[0], MAX (p[1], p[2]));

      coloured += hi - lo > GRAY_TOLERANCE;
    }
  return coloured <= COLOUR_FRACTION * n_pixels;
}

char *
segcam_advise_image (const segcam_model *model, const float *rgb, size_t n_pixels)
{
  gboolean gray = segcam_pixels_are_gray (rgb, n_pixels);

  if (model->in_channels == 1 && ! gray)
    return g_strdup ("a colour image into a grayscale model: the model sees only its "
                     "brightness, so colour cannot explain anything");
  if (model->in_channels == 3 && gray)
    return g_strdup ("a gray image into a colour model: the model was trained on colour, and "
                     "its maps may reflect the missing colour rather than the picture");
  return NULL;
}

/* The importer's name for a class the file does not name: "class 3". */
static gboolean
is_fallback_name (const char *name, int index)
{
  char want[32];

  snprintf (want, sizeof want, "class %d", index);
  return strcmp (name, want) == 0;
}

char *
segcam_advise_model (const segcam_model *model, gboolean imported)
{
  gboolean unnamed = TRUE, unnormalised = imported;
  GString *text;

  for (int c = 0; c < model->n_classes; c++)
    unnamed &= is_fallback_name (model->classes[c].name, c);
  /* A segcam file that says mean 0 and std 1 means it; an ONNX file cannot say either. */
  for (int c = 0; unnormalised && c < model->in_channels; c++)
    unnormalised &= model->mean[c] == 0 && model->std[c] == 1;
  if (! unnamed && ! unnormalised)
    return NULL;
  text = g_string_new ("the model file gives no ");
  if (unnamed)
    g_string_append (text, "class names (they read \"class 0\", \"class 1\", ...)");
  if (unnamed && unnormalised)
    g_string_append (text, " and no ");
  if (unnormalised)
    g_string_append (text, "input mean and std (pixels go in as 0..1; a network trained on "
                           "normalised input sees the wrong values)");
  g_string_append_printf (text, ": segcam import %s sets %s",
                          unnamed && unnormalised ? "--classes --mean --std"
                          : unnamed ? "--classes" : "--mean --std",
                          unnamed && unnormalised ? "them" : "it");
  return g_string_free (text, FALSE);
}

/* Whether one side is more than the ratio away from the training's, either way. */
static gboolean
far_from (int side, int trained)
{
  return (int64_t) side > (int64_t) trained * SEGCAM_ADVISE_SIZE_RATIO
         || (int64_t) side * SEGCAM_ADVISE_SIZE_RATIO < trained;
}

char *
segcam_advise_size (const segcam_model *model, int width, int height)
{
  int tw, th;

  if (segcam_model_fixed_size (model, NULL, NULL) || ! segcam_model_training_size (model, &tw, &th)
      || (! far_from (width, tw) && ! far_from (height, th)))
    return NULL;
  return g_strdup_printf ("the network sees %d x %d, more than %d times %s than the %d x %d it "
                          "was trained at: objects appear at a scale it never saw, and its maps "
                          "may say more of that than of the picture",
                          width, height, SEGCAM_ADVISE_SIZE_RATIO,
                          (int64_t) width > (int64_t) tw * SEGCAM_ADVISE_SIZE_RATIO
                            || (int64_t) height > (int64_t) th * SEGCAM_ADVISE_SIZE_RATIO
                            ? "larger" : "smaller",
                          tw, th);
}

char *
segcam_advise_zero_map (const segcam_explain_options *options, float raw_max,
                        const segcam_remedy_names *names)
{
  gboolean weights = options->method == SEGCAM_METHOD_SEG_GRAD_CAM
                     && options->weights != SEGCAM_WEIGHTS_ABS;

  if (raw_max > 0)
    return NULL;
  return g_strdup_printf ("is zero everywhere: no part of the layer raises the score there, "
                          "which says nothing of where the evidence lies; try %s%s%s or %s",
                          weights ? names->abs_weights : "", weights ? ", " : "",
                          names->other_layer, names->other_method);
}
