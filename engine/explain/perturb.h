/* perturb.h — the CAM methods that weigh each channel of the target by running the network again
 * (internal; docs/methods.md): Score-CAM and Ablation-CAM. */
#ifndef SEGCAM_PERTURB_H
#define SEGCAM_PERTURB_H

#include "session.h"

/* s->cam = L of o->method (SCORE or ABLATION) for the ROI score over roi (checked), after a
 * forward pass on o->pixels. Ends with another forward pass on o->pixels, so the session is as
 * segcam_session_forward left it. FALSE with the error when o->pixels is missing or max_channels
 * is negative. */
gboolean segcam_perturb_cam (segcam_session *s, const segcam_explain_options *o, const float *roi,
                             GError **error);

#endif /* SEGCAM_PERTURB_H */
