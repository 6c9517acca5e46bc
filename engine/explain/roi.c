/* roi.c — regions of interest: per-pixel weights in [0, 1] that select what a score sums over. */
#include "segcam.h"

#include <stdint.h>

/* Pixels in a width x height map, or 0 when the size is empty, negative or does not fit size_t. */
static size_t n_pixels (int width, int height)
{
  if (width <= 0 || height <= 0 || (size_t) height > SIZE_MAX / (size_t) width)
    return 0;
  return (size_t) width * (size_t) height;
}

gboolean segcam_roi_rect (float *roi, int width, int height, int x, int y, int w, int h)
{
  size_t n = n_pixels (width, height);
  for (size_t i = 0; i < n; i++)
    roi[i] = 0;
  /* int64 so that x + w cannot overflow. */
  int64_t x0 = MAX (x, 0), x1 = MIN ((int64_t) x + w, width);
  int64_t y0 = MAX (y, 0), y1 = MIN ((int64_t) y + h, height);
  if (n == 0 || x0 >= x1 || y0 >= y1)
    return FALSE;
  for (int64_t r = y0; r < y1; r++)
    for (int64_t c = x0; c < x1; c++)
      roi[r * width + c] = 1;
  return TRUE;
}

gboolean segcam_roi_pixel (float *roi, int width, int height, int x, int y)
{
  return segcam_roi_rect (roi, width, height, x, y, 1, 1);
}

void segcam_roi_intersect_class (float *roi, const uint8_t *labels, int width, int height,
                                 int class_index)
{
  size_t n = n_pixels (width, height);
  for (size_t i = 0; i < n; i++)
    if (labels[i] != class_index)
      roi[i] = 0;
}

typedef struct {
  size_t *items;
  size_t len, cap;
} pixel_stack;

static void push (pixel_stack *s, size_t i)
{
  if (s->len == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 4096;
    s->items = g_renew (size_t, s->items, s->cap);
  }
  s->items[s->len++] = i;
}

/* Negates every pixel of seed's 8-connected component of pixels with sign * roi > 0 and returns how
 * many there are. The sign is the visited mark, so the fill needs no label image; an explicit stack,
 * because a 4096 x 4096 component would overflow the call stack of a recursive fill. */
static size_t flip_component (float *roi, int width, int height, size_t seed, float sign,
                              pixel_stack *stack)
{
  size_t count = 0;
  roi[seed] = -roi[seed];
  push (stack, seed);
  while (stack->len > 0) {
    size_t i = stack->items[--stack->len];
    int x = (int) (i % (size_t) width), y = (int) (i / (size_t) width);
    count++;
    for (int ny = MAX (y - 1, 0); ny <= MIN (y + 1, height - 1); ny++)
      for (int nx = MAX (x - 1, 0); nx <= MIN (x + 1, width - 1); nx++) {
        size_t j = (size_t) ny * (size_t) width + (size_t) nx;
        if (sign * roi[j] > 0) {
          roi[j] = -roi[j];
          push (stack, j);
        }
      }
  }
  return count;
}

void segcam_roi_keep_component (float *roi, int width, int height, gboolean largest)
{
  size_t n = n_pixels (width, height);
  pixel_stack stack = {0};
  size_t best_seed = n, best_size = 0;
  /* The fills mark pixels by negating them, so no weight may start out negative (or NaN). */
  for (size_t i = 0; i < n; i++)
    if (!(roi[i] > 0))
      roi[i] = 0;
  /* A row-major scan meets every component first at its first pixel, so the strict comparisons
   * keep the earlier of equal components. */
  for (size_t i = 0; i < n; i++)
    if (roi[i] > 0) {
      size_t size = flip_component (roi, width, height, i, 1, &stack);
      if (best_seed == n || (largest ? size > best_size : size < best_size)) {
        best_seed = i;
        best_size = size;
      }
    }
  if (best_seed < n)
    flip_component (roi, width, height, best_seed, -1, &stack);
  for (size_t i = 0; i < n; i++)
    if (roi[i] < 0)
      roi[i] = 0;
  g_free (stack.items);
}

double segcam_roi_sum (const float *roi, size_t n)
{
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += roi[i];
  return sum;
}
