/* score.h — the ROI score S of docs/seg-grad-cam.md, 'Definition', that every CAM method explains
 * and every metric (docs/metrics.md) measures (internal). */
#ifndef SEGCAM_SCORE_H
#define SEGCAM_SCORE_H

#include "session.h"

/* Checks roi (n weights, NULL: the whole image, weight n) as explain and evaluate take it: every
 * weight in [0, 1], some weight > 0. Sets *sum to the weights' sum. */
gboolean segcam_roi_check (const float *roi, size_t n, double *sum, GError **error);

/* S of o's class and score mode over roi (already checked) after a forward pass. When seed is
 * not NULL (the output's gradient buffer, output-shaped) it receives dS/dz, the backward pass's
 * seed. The padding has no ROI weight. */
double segcam_roi_score (segcam_session *s, const segcam_explain_options *o, const float *roi,
                         segcam_act *seed);

/* S of image b of a session planned for a batch, after a forward pass: network_roi is the ROI
 * as segcam_session_network_roi gives it for a session of the same model and image size (the
 * batch session itself need not hold that buffer). */
double segcam_roi_score_image (const segcam_session *s, const segcam_explain_options *o,
                               const float *network_roi, int b);

#endif /* SEGCAM_SCORE_H */
