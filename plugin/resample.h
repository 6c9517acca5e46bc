/* resample.h — separable resampling of float images, for the plug-in's maximum working size.
 *
 * The plug-in runs the model on the layer at its own resolution up to a maximum working size
 * (the max-size setting). A larger layer is reduced by area averaging — each output pixel is the mean of
 * the input area it covers, so that fractional selection weights stay weights and no detail
 * aliases — and the maps are enlarged back bilinearly with half-pixel centres, the convention the
 * engine uses to resize its own maps (docs/seg-grad-cam.md, "Definition"). Labels are enlarged by nearest
 * neighbour. At equal sizes every kernel is exactly the identity, so an unresampled run gives the
 * same numbers as the command line.
 *
 * A kernel resamples one axis; a row pass and a column pass make a 2-D resampling. Images are
 * interleaved, row-major, `channels` floats per pixel.
 */
#ifndef SEGCAM_RESAMPLE_H
#define SEGCAM_RESAMPLE_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  int src_size, dst_size;
  int taps;        /* source samples each destination sample reads */
  int *first;      /* dst_size: index of the first of them */
  float *weights;  /* dst_size x taps, summing to 1 (unused taps are 0) */
} ResampleKernel;

/* Area average, for dst_size <= src_size. */
ResampleKernel *resample_kernel_new_area (int src_size, int dst_size);
/* Linear interpolation with half-pixel centres and clamped edges (PyTorch align_corners=False). */
ResampleKernel *resample_kernel_new_linear (int src_size, int dst_size);
/* Nearest neighbour of each destination centre (one tap of weight 1). */
ResampleKernel *resample_kernel_new_nearest (int src_size, int dst_size);
void resample_kernel_free (ResampleKernel *kernel);

/* Source rows [*src_y0, *src_y1) that destination rows [dst_y, dst_y + n_rows) read. */
void resample_kernel_span (const ResampleKernel *ky, int dst_y, int n_rows, int *src_y0,
                           int *src_y1);

/* Destination rows [dst_y, dst_y + n_rows) of a kx->dst_size wide image, into dst. src holds
 * consecutive rows of kx->src_size pixels starting at source row src_y0, and must include all the
 * rows resample_kernel_span names for these destination rows. */
void resample_rows (const ResampleKernel *kx, const ResampleKernel *ky, int channels,
                    const float *src, int src_y0, int dst_y, int n_rows, float *dst);

G_END_DECLS

#endif /* SEGCAM_RESAMPLE_H */
