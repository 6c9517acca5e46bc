/* error.c — the engine's GError domain. */
#include "segcam.h"

G_DEFINE_QUARK (segcam-error-quark, segcam_error)
