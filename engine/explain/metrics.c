/* metrics.c — how far to trust a map (segcam-metrics.h; definitions, sources and conventions in
 * docs/metrics.md): where its energy lies relative to the ROI and a context mask. */
#include "segcam-metrics.h"

#include <math.h>

void
segcam_map_energy (const float *map, const float *roi, const float *context, int width, int height,
                   segcam_energy *out)
{
  size_t n = (size_t) width * height;
  double total = 0, in_roi = 0, on_context = 0;
  for (size_t i = 0; i < n; i++)
    {
      total += map[i];
      in_roi += (double) map[i] * (roi ? roi[i] : 1.0);
      if (context)
        on_context += (double) map[i] * context[i];
    }
  if (total > 0)
    *out = (segcam_energy) {in_roi / total, (total - in_roi) / total,
                            context ? on_context / total : NAN};
  else
    *out = (segcam_energy) {NAN, NAN, NAN};
}
