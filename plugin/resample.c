/* resample.c — separable resampling kernels (see resample.h). */
#include "resample.h"

#include <math.h>
#include <string.h>

/* Allocates a kernel whose destination samples each read `taps` consecutive source samples. */
static ResampleKernel *
kernel_alloc (int src_size, int dst_size, int taps)
{
  ResampleKernel *kernel;

  g_return_val_if_fail (src_size > 0 && dst_size > 0, NULL);

  kernel = g_new0 (ResampleKernel, 1);
  kernel->src_size = src_size;
  kernel->dst_size = dst_size;
  kernel->taps = MIN (taps, src_size);
  kernel->first = g_new0 (int, dst_size);
  kernel->weights = g_new0 (float, (size_t) dst_size * kernel->taps);
  return kernel;
}

/* Starts destination sample i's window at the lowest source index it reads, moved left where the
 * window would run past the end (the extra taps then get weight 0). */
static void
kernel_set_first (ResampleKernel *kernel, int i, int lowest)
{
  kernel->first[i] = MIN (lowest, kernel->src_size - kernel->taps);
}

static void
kernel_add (ResampleKernel *kernel, int i, int source, double weight)
{
  kernel->weights[(size_t) i * kernel->taps + (source - kernel->first[i])] += (float) weight;
}

/* The unit cells [k, k + 1) that destination sample i's interval [i, i + 1) * scale touches. */
static void
area_cells (int i, double scale, int src_size, double *a, double *b, int *k0, int *k1)
{
  *a = i * scale;
  *b = (i + 1) * scale;
  *k0 = (int) floor (*a);
  *k1 = MIN ((int) ceil (*b), src_size);
}

ResampleKernel *
resample_kernel_new_area (int src_size, int dst_size)
{
  double scale = (double) src_size / dst_size, a, b;
  ResampleKernel *kernel;
  int k0, k1, taps = 1;

  g_return_val_if_fail (dst_size <= src_size, NULL);

  for (int i = 0; i < dst_size; i++)
    {
      area_cells (i, scale, src_size, &a, &b, &k0, &k1);
      taps = MAX (taps, k1 - k0);
    }
  kernel = kernel_alloc (src_size, dst_size, taps);
  for (int i = 0; i < dst_size; i++)
    {
      area_cells (i, scale, src_size, &a, &b, &k0, &k1);
      kernel_set_first (kernel, i, k0);
      for (int k = k0; k < k1; k++)
        {
          double overlap = MIN (b, k + 1.0) - MAX (a, (double) k);

          if (overlap > 0)
            kernel_add (kernel, i, k, overlap / scale);
        }
    }
  return kernel;
}

ResampleKernel *
resample_kernel_new_linear (int src_size, int dst_size)
{
  ResampleKernel *kernel = kernel_alloc (src_size, dst_size, 2);

  for (int i = 0; i < dst_size; i++)
    {
      /* Centre of destination sample i in source coordinates, from exact integers. */
      double x = ((2.0 * i + 1.0) * src_size - dst_size) / (2.0 * dst_size);
      int x0;
      double frac;

      x = MAX (x, 0.0);
      x0 = (int) floor (x);
      if (x0 >= src_size - 1)
        {
          x0 = src_size - 1;
          frac = 0;
        }
      else
        frac = x - x0;

      kernel_set_first (kernel, i, x0);
      kernel_add (kernel, i, x0, 1.0 - frac);
      if (frac > 0)
        kernel_add (kernel, i, x0 + 1, frac);
    }
  return kernel;
}

ResampleKernel *
resample_kernel_new_nearest (int src_size, int dst_size)
{
  ResampleKernel *kernel = kernel_alloc (src_size, dst_size, 1);

  for (int i = 0; i < dst_size; i++)
    {
      int x = (int) (((2 * (gint64) i + 1) * src_size) / (2 * (gint64) dst_size));

      kernel_set_first (kernel, i, MIN (x, src_size - 1));
      kernel_add (kernel, i, kernel->first[i], 1.0);
    }
  return kernel;
}

void
resample_kernel_free (ResampleKernel *kernel)
{
  if (kernel == NULL)
    return;
  g_free (kernel->first);
  g_free (kernel->weights);
  g_free (kernel);
}

void
resample_kernel_span (const ResampleKernel *ky, int dst_y, int n_rows, int *src_y0, int *src_y1)
{
  /* first[] never decreases, so the span runs from the first row's window to the last row's. */
  *src_y0 = ky->first[dst_y];
  *src_y1 = ky->first[dst_y + n_rows - 1] + ky->taps;
}

void
resample_rows (const ResampleKernel *kx, const ResampleKernel *ky, int channels,
               const float *src, int src_y0, int dst_y, int n_rows, float *dst)
{
  size_t src_row = (size_t) kx->src_size * channels;
  size_t dst_row = (size_t) kx->dst_size * channels;
  float *column = g_new (float, src_row);

  for (int y = dst_y; y < dst_y + n_rows; y++)
    {
      const float *wy = ky->weights + (size_t) y * ky->taps;
      float *out = dst + (size_t) (y - dst_y) * dst_row;

      /* Columns first: one source-wide row per destination row. Zero weights are skipped, so
       * an identity kernel copies exactly and never multiplies an unused inf or NaN by 0. */
      memset (column, 0, src_row * sizeof *column);
      for (int t = 0; t < ky->taps; t++)
        {
          const float *in = src + (size_t) (ky->first[y] + t - src_y0) * src_row;

          if (wy[t] == 0)
            continue;
          for (size_t k = 0; k < src_row; k++)
            column[k] += wy[t] * in[k];
        }

      for (int x = 0; x < kx->dst_size; x++)
        {
          const float *wx = kx->weights + (size_t) x * kx->taps;

          for (int c = 0; c < channels; c++)
            {
              float sum = 0;

              for (int t = 0; t < kx->taps; t++)
                if (wx[t] != 0)
                  sum += wx[t] * column[(size_t) (kx->first[x] + t) * channels + c];
              out[(size_t) x * channels + c] = sum;
            }
        }
    }
  g_free (column);
}
