/* image-io.c — reading and writing image and array files through GEGL and babl, so every format
 * GEGL knows is accepted and colour conversions are babl's, as in GIMP. */
#include "image-io.h"

#include <gegl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

static gboolean gegl_ready;

static void
quiet (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
}

static void
ensure_gegl (void)
{
  if (gegl_ready)
    return;
  gegl_init (NULL, NULL);
  /* GEGL's loaders and savers warn on stderr about every unreadable file; the caller reports
   * each failure in one line of its own, so their chatter would only repeat it. */
  const GLogLevelFlags levels = G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_CRITICAL;
  g_log_set_handler ("GEGL", levels, quiet, NULL);
  g_log_set_handler (NULL, levels, quiet, NULL);
  gegl_ready = TRUE;
}

static void
io_error (GError **error, const char *fmt, const char *path)
{
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, fmt, path);
}

void
segcam_image_io_exit (void)
{
  if (gegl_ready)
    gegl_exit ();
  gegl_ready = FALSE;
}

float *
segcam_image_load (const char *path, int channels, int *width, int *height, GError **error)
{
  ensure_gegl ();
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      io_error (error, "cannot read image '%s': no such file", path);
      return NULL;
    }
  GeglBuffer *buffer = NULL;
  GeglNode *graph = gegl_node_new ();
  GeglNode *load = gegl_node_new_child (graph, "operation", "gegl:load", "path", path, NULL);
  GeglNode *sink = gegl_node_new_child (graph, "operation", "gegl:buffer-sink", "buffer", &buffer, NULL);
  gegl_node_link (load, sink);
  gegl_node_process (sink);
  g_object_unref (graph);
  const GeglRectangle *r = buffer ? gegl_buffer_get_extent (buffer) : NULL;
  if (!r || r->width < 1 || r->height < 1)
    {
      io_error (error, "cannot read image '%s': not an image GEGL can load", path);
      g_clear_object (&buffer);
      return NULL;
    }
  float *pixels = g_try_new (float, (size_t) r->width * r->height * channels);
  if (!pixels)
    {
      io_error (error, "image '%s' is too large for memory", path);
      g_object_unref (buffer);
      return NULL;
    }
  gegl_buffer_get (buffer, r, 1.0, babl_format (channels == 1 ? "Y' float" : "R'G'B' float"), pixels,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  *width = r->width;
  *height = r->height;
  g_object_unref (buffer);
  return pixels;
}

/* Writes a whole buffer through one GEGL save operation (created with the given properties). */
static gboolean
save_buffer (GeglBuffer *buffer, GeglNode *save, const char *path, GError **error)
{
  GeglNode *graph = gegl_node_new ();
  GeglNode *src = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", buffer, NULL);
  gegl_node_add_child (graph, save);
  g_object_unref (save);
  gegl_node_link (src, save);
  /* GEGL's savers report failure only as a warning; check the file instead. */
  g_remove (path);
  gegl_node_process (save);
  g_object_unref (graph);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      io_error (error, "cannot write '%s'", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
segcam_png_save (const char *path, const uint8_t *pixels, int width, int height, int channels,
                 GError **error)
{
  ensure_gegl ();
  const char *format = channels == 1 ? "Y' u8" : channels == 3 ? "R'G'B' u8" : "R'G'B'A u8";
  const Babl *fmt = babl_format (format);
  GeglBuffer *buffer = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height), fmt);
  gegl_buffer_set (buffer, GEGL_RECTANGLE (0, 0, width, height), 0, fmt, pixels, GEGL_AUTO_ROWSTRIDE);
  /* png-save defaults to 16 bits per channel; labels and heat maps are 8-bit images. */
  GeglNode *save = gegl_node_new ();
  gegl_node_set (save, "operation", "gegl:png-save", "path", path, "bitdepth", 8, NULL);
  gboolean ok = save_buffer (buffer, save, path, error);
  g_object_unref (buffer);
  return ok;
}

/* gegl:npy-save writes pixel formats only, (height, width) for one channel; a stack of class
 * planes has no pixel format, so (channels, height, width) arrays get the .npy header here. */
static gboolean
save_npy_planes (const char *path, const float *values, int width, int height, int channels,
                 GError **error)
{
  char dict[128];
  int len = g_snprintf (dict, sizeof dict,
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d), }",
                        channels, height, width);
  /* Magic (6) + version (2) + header length (2) + dict, padded with spaces to 64 bytes, '\n'. */
  int header = (10 + len + 1 + 63) / 64 * 64 - 10;
  FILE *f = fopen (path, "wb");
  if (!f)
    {
      io_error (error, "cannot write '%s'", path);
      return FALSE;
    }
  const uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, header & 0xff, header >> 8};
  fwrite (pre, 1, sizeof pre, f);
  fprintf (f, "%s%*s\n", dict, header - len - 1, "");
  size_t n = (size_t) width * height * channels;
  gboolean ok = fwrite (values, sizeof (float), n, f) == n;
  ok = fclose (f) == 0 && ok;
  if (!ok)
    io_error (error, "cannot write '%s'", path);
  return ok;
}

gboolean
segcam_npy_save (const char *path, const float *values, int width, int height, int channels,
                 GError **error)
{
  if (channels != 1)
    return save_npy_planes (path, values, width, height, channels, error);
  ensure_gegl ();
  const Babl *fmt = babl_format ("Y float");
  GeglBuffer *buffer = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height), fmt);
  gegl_buffer_set (buffer, GEGL_RECTANGLE (0, 0, width, height), 0, fmt, values, GEGL_AUTO_ROWSTRIDE);
  GeglNode *save = gegl_node_new ();
  gegl_node_set (save, "operation", "gegl:npy-save", "path", path, NULL);
  gboolean ok = save_buffer (buffer, save, path, error);
  g_object_unref (buffer);
  return ok;
}
