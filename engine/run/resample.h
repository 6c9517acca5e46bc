/* resample.h — bilinear resampling of channels-last float images (internal), as PyTorch's
 * F.interpolate (mode="bilinear", align_corners=False, antialias=False) computes it: half-pixel
 * centres, source coordinates below 0 clamped to 0, and no low-pass filter when shrinking, so a
 * large reduction samples rather than averages. The session resamples with it between an image
 * and a network of fixed input size (docs/model-format.md, `segcam.fixed_size`). */
#ifndef SEGCAM_RESAMPLE_H
#define SEGCAM_RESAMPLE_H

#include "threads.h"

/* src: src_h rows of src_w pixels of channels floats; dst: dst_h x dst_w of the same channels.
 * The two must not overlap. Sizes of at least 1; equal sizes copy. */
void segcam_resample_bilinear (segcam_pool *pool, const float *src, int src_w, int src_h,
                               int channels, float *dst, int dst_w, int dst_h);

#endif /* SEGCAM_RESAMPLE_H */
