/* advice.h — how the command line words the engine's advice (segcam.h, "Advice": the image's
 * colour against the model's input, a model without class names or normalisation) and what it
 * suggests trying when a map is zero: the warnings that say when a result may mislead. The
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

/* What to try when a map is zero everywhere (info.raw_max is 0: nothing at the layer argues
 * for the class there), for the method and weights that made it; g_free. */
char *segcam_advice_zero_map (const segcam_explain_options *options);

#endif /* SEGCAM_ADVICE_H */
