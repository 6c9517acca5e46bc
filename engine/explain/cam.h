/* cam.h — the signed map L of each CAM method at the target layer (internal; docs/methods.md). */
#ifndef SEGCAM_CAM_H
#define SEGCAM_CAM_H

#include "op.h"
#include "segcam.h"

/* FALSE for the methods that read only the activation (EIGEN): explain skips the backward pass. */
gboolean segcam_method_needs_gradient (SegcamMethod method);
/* TRUE for the methods that run the network again on perturbed inputs (SCORE, ABLATION): their
 * maps come from perturb.h, not segcam_cam_compute. */
gboolean segcam_method_reruns (SegcamMethod method);

/* cam (a->h x a->w) = L of o->method from the activation a and its gradient g (same shape; not
 * read when the method needs no gradient). o must be valid: a known method, pool >= 1 for XRES. */
void segcam_cam_compute (const segcam_act *a, const segcam_act *g, const segcam_explain_options *o,
                         float *cam);

/* The output steps every method shares (seggradcam.c): map (width x height) = ReLU of the
 * top-left width x height of cam resized bilinearly onto grid (which receives the resizing),
 * divided by its maximum when normalize and the maximum is > 0. Returns that maximum. */
float segcam_map_from_cam (segcam_pool *pool, const segcam_act *cam, segcam_act *grid, int width,
                           int height, gboolean normalize, float *map);

#endif /* SEGCAM_CAM_H */
