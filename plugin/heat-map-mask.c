/* heat-map-mask.c — heat-map colours back to map values, and a mask at a threshold
 * (heat-map-mask.h). */
#include "heat-map-mask.h"

#include <string.h>

#define LEVELS 256

/* The nearest level of one colour among the colormap's. */
static int
nearest_level (const guint8 *colours, const guint8 *rgb)
{
  int best = 0, best_distance = G_MAXINT;

  for (int level = 0; level < LEVELS; level++)
    {
      int distance = 0;

      for (int c = 0; c < 3; c++)
        {
          int d = colours[3 * level + c] - rgb[c];

          distance += d * d;
        }
      if (distance < best_distance)
        {
          best = level;
          best_distance = distance;
        }
    }
  return best;
}

void
heat_map_values (SegcamColormap colormap, const guint8 *rgb, size_t n, float *values)
{
  float levels[LEVELS];
  guint8 colours[3 * LEVELS];
  /* A layer holds few distinct colours (at most the 256 of the colormap, unless painted on),
   * so each is matched once. */
  GHashTable *seen = g_hash_table_new (g_direct_hash, g_direct_equal);

  for (int level = 0; level < LEVELS; level++)
    levels[level] = level / (float) (LEVELS - 1);
  segcam_colormap_apply (colormap, levels, LEVELS, colours);
  for (size_t i = 0; i < n; i++)
    {
      const guint8 *p = rgb + 3 * i;
      guint key = 1u + ((guint) p[0] << 16 | (guint) p[1] << 8 | p[2]);   /* never 0 (NULL) */
      gpointer found = g_hash_table_lookup (seen, GUINT_TO_POINTER (key));
      int level;

      if (found != NULL)
        level = GPOINTER_TO_INT (found) - 1;
      else
        {
          level = nearest_level (colours, p);
          g_hash_table_insert (seen, GUINT_TO_POINTER (key), GINT_TO_POINTER (level + 1));
        }
      values[i] = levels[level];
    }
  g_hash_table_unref (seen);
}

size_t
heat_map_mask (GeglBuffer *heat, int offset_x, int offset_y, SegcamColormap colormap,
               double threshold, GeglBuffer *mask)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (heat);
  GeglRectangle covered = { offset_x, offset_y, extent->width, extent->height };
  int width = extent->width;
  guint8 *rgb = g_new (guint8, (size_t) width * 3);
  float *values = g_new (float, width);
  size_t set = 0;

  gegl_buffer_clear (mask, NULL);
  /* Only the part of the layer inside the image. */
  gegl_rectangle_intersect (&covered, &covered, gegl_buffer_get_extent (mask));
  for (int y = covered.y; y < covered.y + covered.height; y++)
    {
      GeglRectangle row = { covered.x - offset_x, y - offset_y, covered.width, 1 };

      gegl_buffer_get (heat, &row, 1.0, babl_format ("R'G'B' u8"), rgb, GEGL_AUTO_ROWSTRIDE,
                       GEGL_ABYSS_NONE);
      heat_map_values (colormap, rgb, covered.width, values);
      for (int x = 0; x < covered.width; x++)
        {
          /* A threshold of k/255 keeps level k, whatever the rounding of either. */
          values[x] = values[x] >= threshold - 1e-6 ? 1.0f : 0.0f;
          set += values[x] > 0;
        }
      gegl_buffer_set (mask, GEGL_RECTANGLE (covered.x, y, covered.width, 1), 0,
                       babl_format ("Y float"), values, GEGL_AUTO_ROWSTRIDE);
    }
  g_free (values);
  g_free (rgb);
  return set;
}
