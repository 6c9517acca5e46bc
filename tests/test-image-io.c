/* test-image-io.c — tools/image-io.c's libpng path against GEGL's: every PNG layout decodes to
 * the floats gegl:load and babl gave (within 1/65535), PNGs with colours GEGL does not read as
 * sRGB still go to GEGL, the encoder's files decode to its pixels in GEGL, and the other output
 * formats follow the extension. */
#include "image-io.h"
#include "png-io.h"

#include <gegl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

#define W 37
#define H 23

static char *dir;

/* A PNG of random samples in the given layout, written with libpng directly (an encoder other
 * than png-io.c's); srgb and gamma add those chunks, tRNS a transparent colour or palette alphas. */
typedef struct {
  const char *name;
  int type, depth;
  gboolean interlaced, trns, srgb;
  double gamma; /* 0: no gAMA chunk */
  gboolean takes; /* whether png-io.c should decode it (else GEGL does) */
} layout;

static const layout layouts[] = {
  {"gray1", PNG_COLOR_TYPE_GRAY, 1, FALSE, FALSE, FALSE, 0, TRUE},
  {"gray2", PNG_COLOR_TYPE_GRAY, 2, FALSE, FALSE, FALSE, 0, TRUE},
  {"gray4", PNG_COLOR_TYPE_GRAY, 4, FALSE, FALSE, FALSE, 0, TRUE},
  {"gray8", PNG_COLOR_TYPE_GRAY, 8, FALSE, FALSE, FALSE, 0, TRUE},
  {"gray16", PNG_COLOR_TYPE_GRAY, 16, FALSE, FALSE, FALSE, 0, TRUE},
  {"gray8-trns", PNG_COLOR_TYPE_GRAY, 8, FALSE, TRUE, FALSE, 0, TRUE},
  {"gray16-trns", PNG_COLOR_TYPE_GRAY, 16, FALSE, TRUE, FALSE, 0, TRUE},
  {"grayalpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, FALSE, FALSE, FALSE, 0, TRUE},
  {"grayalpha16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, FALSE, FALSE, FALSE, 0, TRUE},
  {"rgb8", PNG_COLOR_TYPE_RGB, 8, FALSE, FALSE, FALSE, 0, TRUE},
  {"rgb16", PNG_COLOR_TYPE_RGB, 16, FALSE, FALSE, FALSE, 0, TRUE},
  {"rgb8-trns", PNG_COLOR_TYPE_RGB, 8, FALSE, TRUE, FALSE, 0, TRUE},
  {"rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, FALSE, FALSE, FALSE, 0, TRUE},
  {"rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, FALSE, FALSE, FALSE, 0, TRUE},
  {"rgba8-interlaced", PNG_COLOR_TYPE_RGB_ALPHA, 8, TRUE, FALSE, FALSE, 0, TRUE},
  {"gray16-interlaced", PNG_COLOR_TYPE_GRAY, 16, TRUE, FALSE, FALSE, 0, TRUE},
  {"palette1", PNG_COLOR_TYPE_PALETTE, 1, FALSE, FALSE, FALSE, 0, TRUE},
  {"palette4", PNG_COLOR_TYPE_PALETTE, 4, FALSE, FALSE, FALSE, 0, TRUE},
  {"palette8", PNG_COLOR_TYPE_PALETTE, 8, FALSE, FALSE, FALSE, 0, TRUE},
  {"palette8-trns", PNG_COLOR_TYPE_PALETTE, 8, FALSE, TRUE, FALSE, 0, TRUE},
  {"rgb8-srgb", PNG_COLOR_TYPE_RGB, 8, FALSE, FALSE, TRUE, 0.45455, TRUE},
  {"rgb8-gamma1", PNG_COLOR_TYPE_RGB, 8, FALSE, FALSE, FALSE, 1.0, FALSE},
};

static char *
write_layout (const layout *l, GRand *rand)
{
  char *path = g_build_filename (dir, l->name, NULL);
  char *png_path = g_strconcat (path, ".png", NULL);
  g_free (path);
  FILE *f = g_fopen (png_path, "wb");
  g_assert_nonnull (f);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  g_assert_nonnull (info);
  g_assert_cmpint (setjmp (png_jmpbuf (png)), ==, 0);
  png_init_io (png, f);
  png_set_IHDR (png, info, W, H, l->depth, l->type,
                l->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  int levels = 1 << l->depth;
  if (l->type == PNG_COLOR_TYPE_PALETTE)
    {
      png_color palette[256];
      png_byte alphas[256];
      for (int i = 0; i < levels; i++)
        {
          palette[i] = (png_color) {g_rand_int (rand), g_rand_int (rand), g_rand_int (rand)};
          alphas[i] = g_rand_int (rand);
        }
      png_set_PLTE (png, info, palette, levels);
      if (l->trns)
        png_set_tRNS (png, info, alphas, levels, NULL);
    }
  else if (l->trns)
    {
      png_color_16 colour = {0, 3, 5, 7, 3}; /* gray 3, or RGB (3, 5, 7): present below */
      png_set_tRNS (png, info, NULL, 0, &colour);
    }
  if (l->srgb)
    png_set_sRGB (png, info, PNG_sRGB_INTENT_PERCEPTUAL);
  if (l->gamma > 0)
    png_set_gAMA (png, info, l->gamma);
  png_write_info (png, info);
  if (l->depth == 16)
    png_set_swap (png);
  int samples = png_get_channels (png, info);
  size_t stride = png_get_rowbytes (png, info);
  png_bytep image = g_malloc0 (stride * H);
  for (int y = 0; y < H; y++)
    {
      png_bytep row = image + y * stride;
      if (l->depth < 8)
        for (size_t b = 0; b < stride; b++)
          row[b] = g_rand_int (rand);
      else
        for (int i = 0; i < W * samples; i++)
          {
            /* A few samples at the transparent colour's values, and the extremes. */
            guint32 v = g_rand_int_range (rand, 0, 8) == 0 ? (guint32) (3 + 2 * (i % 3)) : g_rand_int (rand);
            if (g_rand_int_range (rand, 0, 16) == 0)
              v = g_rand_boolean (rand) ? 0 : 0xffff;
            if (l->depth == 16)
              ((uint16_t *) row)[i] = v;
            else
              row[i] = v;
          }
    }
  png_bytep rows[H];
  for (int y = 0; y < H; y++)
    rows[y] = image + y * stride;
  png_write_image (png, rows);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (f);
  g_free (image);
  return png_path;
}

/* What the GEGL path gave: gegl:load, then babl to the float format. */
static float *
gegl_decode (const char *path, int channels, int *width, int *height)
{
  static const char *const formats[] = {NULL, "Y' float", "Y'A float", "R'G'B' float", "R'G'B'A float"};
  GeglNode *graph = gegl_node_new ();
  GeglNode *load = gegl_node_new_child (graph, "operation", "gegl:load", "path", path, NULL);
  GeglRectangle r = gegl_node_get_bounding_box (load);
  float *out = g_new (float, (size_t) r.width * r.height * channels);
  gegl_node_blit (load, 1.0, &r, babl_format (formats[channels]), out, GEGL_AUTO_ROWSTRIDE,
                  GEGL_BLIT_DEFAULT);
  g_object_unref (graph);
  *width = r.width, *height = r.height;
  return out;
}

static double
max_difference (const float *a, const float *b, size_t n)
{
  double worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = MAX (worst, fabs ((double) a[i] - b[i]));
  return worst;
}

static void
test_decode_as_gegl (void)
{
  GRand *rand = g_rand_new_with_seed (16);
  for (size_t i = 0; i < G_N_ELEMENTS (layouts); i++)
    {
      const layout *l = &layouts[i];
      char *path = write_layout (l, rand);
      int w = 0, h = 0;
      g_assert_cmpint (segcam_png_takes (path, &w, &h), ==, l->takes);
      GError *error = NULL;
      g_assert_true (segcam_image_size (path, &w, &h, &error));
      g_assert_no_error (error);
      g_assert_cmpint (w, ==, W);
      g_assert_cmpint (h, ==, H);
      for (int channels = 1; channels <= 3; channels++)
        {
          float *ours = segcam_image_load (path, channels, W, H, &error);
          g_assert_no_error (error);
          int gw, gh;
          float *theirs = gegl_decode (path, channels, &gw, &gh);
          g_assert_cmpint (gw, ==, W);
          double d = max_difference (ours, theirs, (size_t) W * H * channels);
          if (d > 1.0 / 65535)
            g_error ("%s as %d channels: %.3g from GEGL's floats", l->name, channels, d);
          g_free (ours);
          g_free (theirs);
        }
      g_free (path);
    }
  g_rand_free (rand);
}

/* The encoder's files, read back by GEGL: every sample as given, in every layout. */
static void
test_encode (void)
{
  GRand *rand = g_rand_new_with_seed (61);
  for (int channels = 1; channels <= 4; channels++)
    {
      uint8_t *pixels = g_malloc ((size_t) W * H * channels);
      for (int i = 0; i < W * H * channels; i++)
        pixels[i] = g_rand_int (rand);
      char *path = g_strdup_printf ("%s/saved%d.png", dir, channels);
      GError *error = NULL;
      g_assert_true (segcam_png_save (path, pixels, W, H, channels, &error));
      g_assert_no_error (error);
      int gw, gh;
      float *back = gegl_decode (path, channels, &gw, &gh);
      g_assert_cmpint (gw, ==, W);
      g_assert_cmpint (gh, ==, H);
      for (int i = 0; i < W * H * channels; i++)
        g_assert_cmpfloat (fabsf (back[i] * 255 - pixels[i]), <, 1e-3);
      g_free (back);
      g_free (path);
      g_free (pixels);
    }
  g_rand_free (rand);
}

/* The format follows the extension: a TIFF is lossless, a JPEG close, and both really are those
 * formats; names without a known extension are refused. */
static void
test_formats (void)
{
  GError *error = NULL;
  for (const char *const *ok = (const char *const[]) {"a.png", "b.PNG", "c.jpg", "d.jpeg", "e.tif",
                                                       "f.TIFF", "g.webp", NULL}; *ok; ok++)
    {
      g_assert_true (segcam_image_format_supported (*ok, &error));
      g_assert_no_error (error);
    }
  for (const char *const *bad = (const char *const[]) {"a.bmp", "b", "c.png.d/e", "x.npy", NULL};
       *bad; bad++)
    {
      g_assert_false (segcam_image_format_supported (*bad, &error));
      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
      g_assert_nonnull (strstr (error->message, *bad));
      g_clear_error (&error);
    }
  uint8_t pixels[W * H * 3];
  for (int i = 0; i < W * H * 3; i++)
    pixels[i] = (i / 3 % W) * 6; /* smooth, for JPEG */
  static const struct {
    const char *name, *magic;
    size_t magic_at;
    double tolerance;
  } outputs[] = {{"out.tif", "II*", 0, 1e-6}, {"out.jpg", "\xff\xd8\xff", 0, 6.0},
                 {"out.webp", "WEBP", 8, 8.0}, {"out.png", "\x89PNG", 0, 1e-6}};
  for (size_t i = 0; i < G_N_ELEMENTS (outputs); i++)
    {
      char *path = g_build_filename (dir, outputs[i].name, NULL);
      g_assert_true (segcam_image_save (path, pixels, W, H, 3, &error));
      g_assert_no_error (error);
      char *bytes;
      gsize n;
      g_assert_true (g_file_get_contents (path, &bytes, &n, NULL));
      g_assert_cmpmem (bytes + outputs[i].magic_at, strlen (outputs[i].magic), outputs[i].magic,
                       strlen (outputs[i].magic));
      g_free (bytes);
      int gw, gh;
      float *back = gegl_decode (path, 3, &gw, &gh);
      g_assert_cmpint (gw, ==, W);
      double worst = 0;
      for (int j = 0; j < W * H * 3; j++)
        worst = MAX (worst, fabs (back[j] * 255 - pixels[j]));
      g_assert_cmpfloat (worst, <=, outputs[i].tolerance);
      g_free (back);
      g_free (path);
    }
  g_assert_false (segcam_image_save ("/nonexistent/x.bmp", pixels, W, H, 3, &error));
  g_assert_nonnull (strstr (error->message, "'.bmp'"));
  g_clear_error (&error);
}

/* A PNG cut short is an error naming it, never a half-black image. */
static void
test_truncated (void)
{
  GRand *rand = g_rand_new_with_seed (7);
  char *whole = write_layout (&layouts[10], rand), *cut = g_build_filename (dir, "cut.png", NULL);
  g_rand_free (rand);
  char *bytes;
  gsize n;
  g_assert_true (g_file_get_contents (whole, &bytes, &n, NULL));
  g_assert_true (g_file_set_contents (cut, bytes, n * 2 / 3, NULL));
  int w, h;
  GError *error = NULL;
  g_assert_true (segcam_image_size (cut, &w, &h, &error));
  float *pixels = segcam_image_load (cut, 3, w, h, &error);
  g_assert_null (pixels);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "damaged or truncated"));
  g_assert_nonnull (strstr (error->message, cut));
  g_clear_error (&error);
  g_free (bytes);
  g_free (whole);
  g_free (cut);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gegl_init (NULL, NULL);
  dir = g_dir_make_tmp ("segcam-image-io-XXXXXX", NULL);
  g_test_add_func ("/image-io/decode-as-gegl", test_decode_as_gegl);
  g_test_add_func ("/image-io/encode", test_encode);
  g_test_add_func ("/image-io/formats", test_formats);
  g_test_add_func ("/image-io/truncated", test_truncated);
  int status = g_test_run ();
  GDir *d = g_dir_open (dir, 0, NULL);
  for (const char *name; (name = g_dir_read_name (d));)
    {
      char *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
      g_free (path);
    }
  g_dir_close (d);
  g_rmdir (dir);
  segcam_image_io_exit ();
  return status;
}
