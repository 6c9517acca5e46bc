/* imputation.h — ROAD's linear imputation (internal; docs/metrics.md, "ROAD"): removed pixels
 * replaced by the solution of Rong et al.'s mean-of-neighbours equations, the kept pixels as the
 * boundary. The noise ROAD adds afterwards is the caller's. */
#ifndef SEGCAM_IMPUTATION_H
#define SEGCAM_IMPUTATION_H

#include <glib.h>

/* Rong et al.'s neighbourhood: each removed pixel is the weighted mean of its 8 neighbours inside
 * the image, 1/6 for the 4 sharing a side, 1/12 for the diagonal ones. */
#define SEGCAM_IMPUTE_SIDE_WEIGHT (1 / 6.0)
#define SEGCAM_IMPUTE_DIAGONAL_WEIGHT (1 / 12.0)

/* The relative residual (Euclidean, per channel) at which the solution is taken. */
#define SEGCAM_IMPUTE_TOLERANCE 1e-7

/* Replaces every pixel of image (height x width x c, row-major) where removed is non-zero by the
 * solution of: value = the weighted mean of its neighbours, removed or kept, per channel. At
 * least one pixel must be kept (then the system has one solution). */
void segcam_impute_linear (float *image, int width, int height, int c, const guint8 *removed);

#endif /* SEGCAM_IMPUTATION_H */
