/* resample.c — bilinear resampling of images (resample.h), by the upsample op's kernel: one index
 * rule for the network's upsampling and for the images fed to a fixed-size network, the rule the
 * PyTorch reference reproduces with F.interpolate. */
#include "resample.h"
#include "ops.h"

#include <math.h>

#include "segcam.h"

void
segcam_resample_bilinear (segcam_pool *pool, const float *src, int src_w, int src_h, int channels,
                          float *dst, int dst_w, int dst_h)
{
  /* The kernel only reads its input; segcam_act has no const variant. */
  const segcam_act in = {(float *) src, 1, src_h, src_w, channels};
  segcam_act out = {dst, 1, dst_h, dst_w, channels};
  segcam_upsample_forward (pool, SEGCAM_UPSAMPLE_BILINEAR, 0, 0, &in, &out);
}

gboolean
segcam_working_size (int width, int height, int max_side, int *work_width, int *work_height)
{
  int longer = MAX (width, height);
  double scale;

  g_return_val_if_fail (width > 0 && height > 0 && max_side > 0, FALSE);

  if (longer <= max_side)
    {
      *work_width = width;
      *work_height = height;
      return FALSE;
    }
  scale = (double) max_side / longer;
  *work_width = CLAMP ((int) lround (width * scale), 1, max_side);
  *work_height = CLAMP ((int) lround (height * scale), 1, max_side);
  return TRUE;
}

void
segcam_resample_image (const float *src, int src_w, int src_h, int channels, float *dst,
                       int dst_w, int dst_h)
{
  /* One thread: a resampling is a small part of a run, and a pool of one starts no thread. */
  segcam_pool *pool = segcam_pool_new (1);

  segcam_resample_bilinear (pool, src, src_w, src_h, channels, dst, dst_w, dst_h);
  segcam_pool_free (pool);
}
