/* test-colormap.c — colormap names and colours.
 *
 * test-colormap --dump NAME prints the 256 colours of v = i/255 as "r g b" lines, for
 * colormap-reference.py to compare with matplotlib. */
#include "segcam.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_COLORMAPS (SEGCAM_COLORMAP_GRAYSCALE + 1)

static void color (SegcamColormap colormap, float v, uint8_t rgb[3])
{
  segcam_colormap_apply (colormap, &v, 1, rgb);
}

static void test_names (void)
{
  for (int i = 0; i < N_COLORMAPS; i++)
    g_assert_cmpint (segcam_colormap_from_name (segcam_colormap_name (i)), ==, i);
  g_assert_cmpstr (segcam_colormap_name (SEGCAM_COLORMAP_JET), ==, "jet");
  g_assert_cmpstr (segcam_colormap_name (SEGCAM_COLORMAP_GRAYSCALE), ==, "grayscale");
  g_assert_cmpint (segcam_colormap_from_name ("gray"), ==, SEGCAM_COLORMAP_GRAYSCALE);
  g_assert_cmpint (segcam_colormap_from_name ("turbo"), ==, SEGCAM_COLORMAP_TURBO);
  g_assert_cmpint (segcam_colormap_from_name ("viridis"), ==, SEGCAM_COLORMAP_VIRIDIS);
  g_assert_cmpint (segcam_colormap_from_name ("inferno"), ==, SEGCAM_COLORMAP_INFERNO);

  const char *unknown[] = {"", "Jet", "grey", "hot", "jet ", "gra", NULL};
  for (size_t i = 0; i < G_N_ELEMENTS (unknown); i++)
    g_assert_cmpint (segcam_colormap_from_name (unknown[i]), ==, -1);
  g_assert_null (segcam_colormap_name (-1));
  g_assert_null (segcam_colormap_name (N_COLORMAPS));
}

static void test_grayscale (void)
{
  for (int i = 0; i < 20000; i++) {
    float v = i < 256 ? i / 255.0f : (float) g_test_rand_double_range (-0.5, 1.5);
    uint8_t rgb[3], want = (uint8_t) round (255.0 * CLAMP (v, 0, 1));
    g_assert_true (i >= 256 || want == i);
    color (SEGCAM_COLORMAP_GRAYSCALE, v, rgb);
    g_assert_cmpuint (rgb[0], ==, want);
    g_assert_cmpuint (rgb[1], ==, want);
    g_assert_cmpuint (rgb[2], ==, want);
  }
}

/* 0 before x0, 1 after x1, linear between. */
static double ramp (double t, double x0, double x1)
{
  return CLAMP ((t - x0) / (x1 - x0), 0, 1);
}

/* The table entry matplotlib picks for v in [0, 1]. */
static int entry (float v)
{
  return MIN ((int) (256 * v), 255);
}

static void test_jet (void)
{
  for (int k = 0; k <= 1000; k++) {
    float v = k / 1000.0f;
    double t = entry (v) / 255.0;
    double want[3] = {
      ramp (t, 0.35, 0.66) - 0.5 * ramp (t, 0.89, 1),
      ramp (t, 0.125, 0.375) - ramp (t, 0.64, 0.91),
      0.5 + 0.5 * ramp (t, 0, 0.11) - ramp (t, 0.34, 0.65),
    };
    uint8_t rgb[3];
    color (SEGCAM_COLORMAP_JET, v, rgb);
    for (int c = 0; c < 3; c++)
      g_assert_cmpuint (rgb[c], ==, (unsigned) round (255 * want[c]));
  }
}

/* Every colormap but grayscale is a 256-colour table indexed like matplotlib's. */
static void test_quantised (void)
{
  for (int m = 0; m < N_COLORMAPS; m++)
    for (int k = 0; k <= 1000 && m != SEGCAM_COLORMAP_GRAYSCALE; k++) {
      float v = k / 1000.0f;
      uint8_t got[3], want[3];
      color (m, v, got);
      color (m, entry (v) / 255.0f, want);
      g_assert_cmpmem (got, 3, want, 3);
    }
}

static void test_endpoints (void)
{
  /* matplotlib's colours of 0 and 1 (255 x, rounded); fits may be 1 off. */
  static const uint8_t ends[N_COLORMAPS][2][3] = {
    [SEGCAM_COLORMAP_JET] = {{0, 0, 128}, {128, 0, 0}},
    [SEGCAM_COLORMAP_TURBO] = {{48, 18, 59}, {122, 4, 3}},
    [SEGCAM_COLORMAP_VIRIDIS] = {{68, 1, 84}, {253, 231, 37}},
    [SEGCAM_COLORMAP_INFERNO] = {{0, 0, 4}, {252, 255, 164}},
    [SEGCAM_COLORMAP_GRAYSCALE] = {{0, 0, 0}, {255, 255, 255}},
  };
  for (int m = 0; m < N_COLORMAPS; m++)
    for (int end = 0; end <= 1; end++) {
      uint8_t rgb[3];
      int exact = m == SEGCAM_COLORMAP_JET || m == SEGCAM_COLORMAP_GRAYSCALE;
      color (m, end, rgb);
      for (int c = 0; c < 3; c++)
        g_assert_cmpint (abs (rgb[c] - ends[m][end][c]), <=, exact ? 0 : 1);
    }
}

static void test_clamping (void)
{
  const float values[] = {0, -0.0f, -1e-7f, -1, -INFINITY, NAN, -NAN, 1, 1 + 1e-7f, 2, INFINITY};
  const int n = G_N_ELEMENTS (values);
  for (int m = 0; m < N_COLORMAPS; m++) {
    uint8_t rgb[G_N_ELEMENTS (values)][3];
    segcam_colormap_apply (m, values, n, rgb[0]);
    for (int i = 1; i < n; i++)
      g_assert_cmpmem (rgb[i], 3, rgb[values[i] > 0 ? n - 1 : 0], 3);
  }
  segcam_colormap_apply (SEGCAM_COLORMAP_JET, NULL, 0, NULL);
}

static int dump (const char *name)
{
  int colormap = segcam_colormap_from_name (name);
  if (colormap < 0) {
    fprintf (stderr, "unknown colormap %s\n", name);
    return 1;
  }
  for (int i = 0; i < 256; i++) {
    uint8_t rgb[3];
    color (colormap, i / 255.0f, rgb);
    printf ("%d %d %d\n", rgb[0], rgb[1], rgb[2]);
  }
  return 0;
}

int main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "--dump") == 0)
    return dump (argv[2]);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/colormap/names", test_names);
  g_test_add_func ("/colormap/grayscale", test_grayscale);
  g_test_add_func ("/colormap/jet", test_jet);
  g_test_add_func ("/colormap/quantised", test_quantised);
  g_test_add_func ("/colormap/endpoints", test_endpoints);
  g_test_add_func ("/colormap/clamping", test_clamping);
  return g_test_run ();
}
