/* resample.c — bilinear resampling of images (resample.h), by the upsample op's kernel: one index
 * rule for the network's upsampling and for the images fed to a fixed-size network, the rule the
 * PyTorch reference reproduces with F.interpolate. */
#include "resample.h"
#include "ops.h"

void
segcam_resample_bilinear (segcam_pool *pool, const float *src, int src_w, int src_h, int channels,
                          float *dst, int dst_w, int dst_h)
{
  /* The kernel only reads its input; segcam_act has no const variant. */
  const segcam_act in = {(float *) src, 1, src_h, src_w, channels};
  segcam_act out = {dst, 1, dst_h, dst_w, channels};
  segcam_upsample_forward (pool, SEGCAM_UPSAMPLE_BILINEAR, 0, 0, &in, &out);
}
