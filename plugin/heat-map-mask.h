/* heat-map-mask.h — a heat-map layer read back as its map, and the map cut at a threshold.
 *
 * A heat-map layer holds the colours segcam_colormap_apply gave the normalised map (0 at the
 * cold end, 1 at the map's maximum). "Heat map to selection" needs the values again: each
 * colour is matched to the nearest of the colormap's 256 levels, which gives back the map to
 * 1/255 wherever the colours are the layer's own (painting over it changes what it says).
 */
#ifndef SEGCAM_HEAT_MAP_MASK_H
#define SEGCAM_HEAT_MAP_MASK_H

#include <gegl.h>

#include "segcam.h"

G_BEGIN_DECLS

/* The colormap level (0..255) whose colour is nearest to each of n R'G'B' u8 pixels (squared
 * distance; the lowest level on ties), as values level / 255. */
void heat_map_values (SegcamColormap colormap, const guint8 *rgb, size_t n, float *values);

/* Writes mask (a "Y float" buffer in image coordinates) as 1 where the heat map — heat, whose
 * pixel (x, y) is the mask's (x + offset_x, y + offset_y) — stands for a value of at least
 * threshold, and 0 elsewhere, the parts of the mask the layer does not cover included. Returns
 * how many pixels it set to 1. */
size_t heat_map_mask (GeglBuffer *heat, int offset_x, int offset_y, SegcamColormap colormap,
                      double threshold, GeglBuffer *mask);

G_END_DECLS

#endif /* SEGCAM_HEAT_MAP_MASK_H */
