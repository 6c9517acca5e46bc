/* perturb.h — the CAM methods that weigh each channel of the target by running the network again
 * (internal; docs/methods.md): Score-CAM and Ablation-CAM. */
#ifndef SEGCAM_PERTURB_H
#define SEGCAM_PERTURB_H

#include "session.h"

/* s->cam = L of o->method (SCORE or ABLATION) for the ROI score over roi (checked), after a
 * forward pass on o->pixels. Score-CAM runs its masked images several at a time in a session of
 * its own when memory allows (docs/methods.md, "Cost"); Ablation-CAM reruns s from the target.
 * Afterwards s is as segcam_session_forward on o->pixels left it, also when the caller's cancel
 * callback, asked before each pass, stopped it (SEGCAM_ERROR_CANCELLED). Progress goes to the
 * session's callback, one report per channel. FALSE with the error when o->pixels is missing or
 * max_channels is negative. */
gboolean segcam_perturb_cam (segcam_session *s, const segcam_explain_options *o, const float *roi,
                             GError **error);

#endif /* SEGCAM_PERTURB_H */
