/* test-roi.c — ROI helpers: rectangles, pixels, class masks and connected components. */
#include "segcam.h"

#include <limits.h>
#include <string.h>

#define W 8
#define H 6

static int count_set (const float *roi, size_t n)
{
  int count = 0;
  for (size_t i = 0; i < n; i++)
    count += roi[i] != 0;
  return count;
}

/* Fills with garbage first, so that the functions must clear what they do not set. */
static gboolean rect (float *roi, int x, int y, int w, int h)
{
  for (int i = 0; i < W * H; i++)
    roi[i] = 7;
  return segcam_roi_rect (roi, W, H, x, y, w, h);
}

static void test_rect (void)
{
  float roi[W * H];
  g_assert_true (rect (roi, 2, 1, 3, 2));
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      g_assert_cmpfloat (roi[y * W + x], ==, x >= 2 && x < 5 && y >= 1 && y < 3);

  /* Partly outside: clipped. */
  g_assert_true (rect (roi, -2, -1, 4, 3));
  g_assert_cmpint (count_set (roi, W * H), ==, 4);
  g_assert_cmpfloat (roi[1 * W + 1], ==, 1);
  g_assert_true (rect (roi, 6, 4, 10, 10));
  g_assert_cmpint (count_set (roi, W * H), ==, 4);
  g_assert_cmpfloat (roi[5 * W + 7], ==, 1);
  g_assert_true (rect (roi, 5, 0, INT_MAX, 1));
  g_assert_cmpint (count_set (roi, W * H), ==, 3);
  g_assert_true (rect (roi, -10, -10, INT_MAX, INT_MAX));
  g_assert_cmpint (count_set (roi, W * H), ==, W * H);

  /* Nothing left: FALSE, and all zero. */
  const int empty[][4] = {{W, 0, 2, 2}, {0, H, 2, 2}, {-3, 0, 3, 2}, {0, -2, 2, 2}, {1, 1, 0, 2},
                          {1, 1, 2, -1}, {INT_MAX, 0, INT_MAX, 1}, {INT_MIN, 0, INT_MAX, 1}};
  for (size_t i = 0; i < G_N_ELEMENTS (empty); i++) {
    g_assert_false (rect (roi, empty[i][0], empty[i][1], empty[i][2], empty[i][3]));
    g_assert_cmpint (count_set (roi, W * H), ==, 0);
  }
  g_assert_false (segcam_roi_rect (NULL, 0, H, 0, 0, 1, 1));
  g_assert_false (segcam_roi_rect (NULL, W, -1, 0, 0, 1, 1));
}

static void test_pixel (void)
{
  float roi[W * H];
  memset (roi, 0xff, sizeof roi);
  g_assert_true (segcam_roi_pixel (roi, W, H, 3, 2));
  g_assert_cmpint (count_set (roi, W * H), ==, 1);
  g_assert_cmpfloat (roi[2 * W + 3], ==, 1);
  g_assert_true (segcam_roi_pixel (roi, W, H, W - 1, H - 1));
  g_assert_cmpfloat (roi[W * H - 1], ==, 1);

  const int outside[][2] = {{-1, 0}, {0, -1}, {W, 0}, {0, H}, {INT_MIN, INT_MAX}};
  for (size_t i = 0; i < G_N_ELEMENTS (outside); i++) {
    memset (roi, 0xff, sizeof roi);
    g_assert_false (segcam_roi_pixel (roi, W, H, outside[i][0], outside[i][1]));
    g_assert_cmpint (count_set (roi, W * H), ==, 0);
  }
}

static void test_intersect_class (void)
{
  float roi[W * H], before[W * H];
  uint8_t labels[W * H];
  for (int i = 0; i < W * H; i++) {
    before[i] = roi[i] = (float) (i % 5) / 4;
    labels[i] = (uint8_t) (i % 3);
  }
  segcam_roi_intersect_class (roi, labels, W, H, 2);
  for (int i = 0; i < W * H; i++)
    g_assert_cmpfloat (roi[i], ==, labels[i] == 2 ? before[i] : 0);

  segcam_roi_intersect_class (roi, labels, W, H, 258);   /* 258 must not wrap to class 2 */
  g_assert_cmpint (count_set (roi, W * H), ==, 0);
}

/* Reference for keep_component, slow but obviously right: each pixel with weight > 0 starts
 * labelled with its own index and repeatedly takes the smallest label among its 8 neighbours until
 * nothing changes; a component then carries the index of its first pixel in row-major order. */
static void reference_keep_component (float *roi, int width, int height, gboolean largest)
{
  int n = width * height;
  int *label = g_new (int, n), *size = g_new0 (int, n);
  for (int i = 0; i < n; i++)
    label[i] = roi[i] > 0 ? i : -1;
  for (gboolean changed = TRUE; changed;) {
    changed = FALSE;
    for (int i = 0; i < n; i++)
      for (int dy = -1; dy <= 1 && label[i] >= 0; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          int x = i % width + dx, y = i / width + dy, j = y * width + x;
          if (x >= 0 && x < width && y >= 0 && y < height && label[j] >= 0 && label[j] < label[i]) {
            label[i] = label[j];
            changed = TRUE;
          }
        }
  }
  int best = -1;
  for (int i = 0; i < n; i++)
    if (label[i] >= 0)
      size[label[i]]++;
  for (int i = 0; i < n; i++)
    if (size[i] > 0 && (best < 0 || (largest ? size[i] > size[best] : size[i] < size[best])))
      best = i;
  for (int i = 0; i < n; i++)
    if (best < 0 || label[i] != best)
      roi[i] = 0;
  g_free (label);
  g_free (size);
}

static void check_components (const float *roi, int width, int height)
{
  size_t bytes = (size_t) width * height * sizeof (float);
  for (int largest = 0; largest <= 1; largest++) {
    float *got = g_memdup2 (roi, bytes), *want = g_memdup2 (roi, bytes);
    segcam_roi_keep_component (got, width, height, largest);
    reference_keep_component (want, width, height, largest);
    g_assert_cmpmem (got, bytes, want, bytes);
    g_free (got);
    g_free (want);
  }
}

/* Parses a picture: '.' is 0, '#' is 1, a digit d is d/10, '-' is negative (not in the ROI). */
static float *picture (const char *rows, int *width, int *height)
{
  *width = (int) strcspn (rows, "\n");
  *height = (int) (strlen (rows) + 1) / (*width + 1);
  float *roi = g_new (float, *width * *height);
  for (int y = 0, i = 0; y < *height; y++)
    for (int x = 0; x < *width; x++, i++) {
      char c = rows[y * (*width + 1) + x];
      roi[i] = c == '#' ? 1 : c == '-' ? -0.5f : c == '.' ? 0 : (float) (c - '0') / 10;
    }
  return roi;
}

/* Checks both keep_component and the reference against a picture of what must be kept. */
static void keep (const char *rows, gboolean largest, const char *expected)
{
  int width, height, w2, h2;
  float *roi = picture (rows, &width, &height), *ref = picture (rows, &width, &height);
  float *want = picture (expected, &w2, &h2);
  size_t bytes = (size_t) width * height * sizeof (float);
  g_assert_cmpint (w2 * h2, ==, width * height);
  segcam_roi_keep_component (roi, width, height, largest);
  reference_keep_component (ref, width, height, largest);
  g_assert_cmpmem (roi, bytes, want, bytes);
  g_assert_cmpmem (ref, bytes, want, bytes);
  g_free (roi);
  g_free (ref);
  g_free (want);
}

static void test_components_cases (void)
{
  /* Diagonal neighbours connect; fractional weights survive; negative weights are dropped. */
  keep ("#.....\n"
        ".5..#3\n"
        "..#.-.\n", TRUE,
        "#.....\n"
        ".5....\n"
        "..#...\n");
  keep ("#.....\n"
        ".5..#3\n"
        "..#.-.\n", FALSE,
        "......\n"
        "....#3\n"
        "......\n");
  /* Equal sizes: the component whose first pixel comes first in row-major order, here the U whose
   * two arms join only in a later row. */
  keep ("#.#...\n"
        "###..#\n"
        ".....#\n"
        ".....#\n"
        "....##\n", TRUE,
        "#.#...\n"
        "###...\n"
        "......\n"
        "......\n"
        "......\n");
  keep (".....#\n"
        "#....7\n"
        "#.....\n", FALSE,
        ".....#\n"
        ".....7\n"
        "......\n");
  keep ("--..\n"
        "....\n", TRUE,
        "....\n"
        "....\n");

  /* Empty and degenerate sizes do nothing. */
  segcam_roi_keep_component (NULL, 0, 5, TRUE);
  segcam_roi_keep_component (NULL, 5, -1, FALSE);
}

static void test_components_random (void)
{
  for (int seed = 0; seed < 2000; seed++) {
    int width = g_test_rand_int_range (1, 17), height = g_test_rand_int_range (1, 17);
    double density = g_test_rand_double_range (0.1, 0.8);
    float *roi = g_new (float, width * height);
    for (int i = 0; i < width * height; i++) {
      double r = g_test_rand_double ();
      roi[i] = r < density ? (r < density / 2 ? 1 : (float) g_test_rand_double_range (1e-6, 1))
             : r < density + 0.05 ? -1 : 0;
    }
    check_components (roi, width, height);
    g_free (roi);
  }
}

/* One 4096 x 4096 serpentine component (about 8M pixels end to end) and one lone pixel: a recursive
 * fill would overflow the call stack. */
static void test_components_big (void)
{
  const int size = 4096, snake_width = size - 2;
  size_t n = (size_t) size * size, snake = 0;
  float *roi = g_new0 (float, n);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < snake_width; x++)
      if (y % 2 == 0 || x == (y % 4 == 1 ? snake_width - 1 : 0)) {
        roi[(size_t) y * size + x] = 0.5f;
        snake++;
      }
  roi[size - 1] = 0.25f;

  g_test_timer_start ();
  segcam_roi_keep_component (roi, size, size, TRUE);
  g_test_message ("largest of %zu pixels in %.3f s", n, g_test_timer_elapsed ());
  g_assert_cmpfloat (roi[size - 1], ==, 0);
  g_assert_cmpfloat (segcam_roi_sum (roi, n), ==, 0.5 * snake);

  roi[size - 1] = 0.25f;
  segcam_roi_keep_component (roi, size, size, FALSE);
  g_assert_cmpfloat (roi[size - 1], ==, 0.25f);
  g_assert_cmpfloat (segcam_roi_sum (roi, n), ==, 0.25);
  g_free (roi);
}

static void test_sum (void)
{
  /* A float accumulator would stop growing at 1: each 1e-8 is below half its spacing. */
  size_t n = 1000001;
  float *roi = g_new (float, n);
  roi[0] = 1;
  for (size_t i = 1; i < n; i++)
    roi[i] = 1e-8f;
  g_assert_cmpfloat_with_epsilon (segcam_roi_sum (roi, n), 1 + 1e6 * (double) 1e-8f, 1e-9);
  g_assert_cmpfloat (segcam_roi_sum (roi, 0), ==, 0);
  g_free (roi);
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/roi/rect", test_rect);
  g_test_add_func ("/roi/pixel", test_pixel);
  g_test_add_func ("/roi/intersect-class", test_intersect_class);
  g_test_add_func ("/roi/components/cases", test_components_cases);
  g_test_add_func ("/roi/components/random", test_components_random);
  g_test_add_func ("/roi/components/big", test_components_big);
  g_test_add_func ("/roi/sum", test_sum);
  return g_test_run ();
}
