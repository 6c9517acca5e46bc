/* advice.h — how the command line words the engine's advice (segcam.h, "Advice": the image's
 * colour or size against the model's input, a model without class names or normalisation, a
 * map that is zero): the warnings that say when a result may mislead. The
 * decisions are the engine's, shared with the plug-in; only the wording is here. */
#ifndef SEGCAM_ADVICE_H
#define SEGCAM_ADVICE_H

#include "segcam.h"

/* "warning: model 'PATH': ..." when the model loaded from path names no classes or, when
 * imported is TRUE (mean 0 and std 1 are the importer's default, not a choice), no
 * normalisation (segcam_advise_model). */
void segcam_advice_warn_model (const char *command, const char *path, const segcam_model *model,
                               gboolean imported);

/* "warning: 'PATH': ..." when the image, its n pixels as R'G'B' (image-io.h), does not fit the
 * model's input (segcam_advise_image). */
void segcam_advice_warn_image (const char *command, const char *path, const segcam_model *model,
                               const float *rgb, size_t n);

/* "warning: 'PATH': ..." when the network sees the image at width x height (the working size),
 * far from the model's training size (segcam_advise_size). */
void segcam_advice_warn_size (const char *command, const char *path, const segcam_model *model,
                              int width, int height);

/* When the map is zero everywhere (raw_max is not > 0): "is zero everywhere: ...; try ...", its
 * remedies named by the command line's flags (segcam_advise_zero_map); NULL otherwise; g_free. */
char *segcam_advice_zero_map (const segcam_explain_options *options, float raw_max);

#endif /* SEGCAM_ADVICE_H */
