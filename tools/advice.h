/* advice.h — what the command line says when a result may mislead (README, "Command line"):
 * the decisions behind its warnings, kept apart from the commands that print them. */
#ifndef SEGCAM_ADVICE_H
#define SEGCAM_ADVICE_H

#include "segcam.h"

/* A warning when an image and a model disagree on colour, else NULL; g_free. rgb holds the
 * image's n pixels as R'G'B' (image-io.h); it is gray when every pixel's channels agree within
 * 2/255 (JPEG's colour noise in a gray photograph). */
char *segcam_advice_image_mode (const char *image, int model_channels, const float *rgb, size_t n);

/* What to try when a map is zero everywhere (info.raw_max is 0: nothing at the layer argues
 * for the class there), for the method and weights that made it; g_free. */
char *segcam_advice_zero_map (const segcam_explain_options *options);

/* TRUE when the model's classes are the importer's placeholders "class 0", "class 1"...: an
 * ONNX model that named none. */
gboolean segcam_advice_classes_unnamed (const segcam_model *model);

#endif /* SEGCAM_ADVICE_H */
