/* image-io.c — reading and writing image and array files through GEGL and babl, so every format
 * GEGL knows is accepted and colour conversions are babl's, as in GIMP. */
#include "image-io.h"

#include "output.h"

#include <errno.h>
#include <gegl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static gboolean gegl_ready;

/* ---- library chatter ------------------------------------------------------------------------ */

/* GEGL, libpng and libjpeg tell of failures only by printing them: GLib messages (caught by
 * collect) and fprintf on stderr (caught by pointing file descriptor 2 at a temporary file). While
 * an operation runs, both are collected, and the caller folds what matters into its one line. */
static GString *collected;

static void
collect (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (collected)
    g_string_append_printf (collected, "%s\n", message);
}

typedef struct {
  FILE *sink;
  int saved_stderr;
} chatter;

static void
chatter_begin (chatter *c)
{
  fflush (stderr);
  c->sink = tmpfile ();
  c->saved_stderr = c->sink ? dup (STDERR_FILENO) : -1;
  if (c->saved_stderr >= 0)
    dup2 (fileno (c->sink), STDERR_FILENO);
  collected = g_string_new (NULL);
}

/* The first line of what was printed since chatter_begin, without the libraries' own
 * "libpng error: " prefixes, or NULL when nothing was. Libraries end lines inconsistently (GEGL's
 * libpng handler prints "LIBPNG ERROR: x" without a newline before libpng's "libpng error: x"), so
 * the text after the last "error: " of the first line is the message. */
static char *
chatter_end (chatter *c)
{
  fflush (stderr);
  if (c->saved_stderr >= 0)
    {
      dup2 (c->saved_stderr, STDERR_FILENO);
      close (c->saved_stderr);
      char buf[1024];
      rewind (c->sink);
      size_t n = fread (buf, 1, sizeof buf - 1, c->sink);
      buf[n] = '\0';
      g_string_append (collected, buf);
    }
  if (c->sink)
    fclose (c->sink);
  char *text = g_string_free (collected, FALSE);
  collected = NULL;
  g_strstrip (text);
  char *end = strchr (text, '\n');
  if (end)
    *end = '\0';
  char *last = NULL;
  for (char *p = text; (p = strstr (p, "error: ")); p++)
    last = p + strlen ("error: ");
  char *line = *text ? g_strdup (g_strstrip (last ? last : text)) : NULL;
  g_free (text);
  return line;
}

static void
ensure_gegl (void)
{
  if (gegl_ready)
    return;
  gegl_init (NULL, NULL);
  /* GEGL's loaders and savers warn about every unreadable file; the caller reports each failure in
   * one line of its own, with what they said folded in. */
  const GLogLevelFlags levels = G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_CRITICAL;
  g_log_set_handler ("GEGL", levels, collect, NULL);
  g_log_set_handler (NULL, levels, collect, NULL);
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

/* One PNG for segcam_write_atomically: the whole buffer through gegl:png-save. */
static gboolean
write_png (const char *path, gpointer buffer, GError **error)
{
  GeglNode *graph = gegl_node_new ();
  GeglNode *src = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", buffer, NULL);
  /* png-save defaults to 16 bits per channel; labels and heat maps are 8-bit images. */
  GeglNode *save = gegl_node_new_child (graph, "operation", "gegl:png-save", "path", path,
                                        "bitdepth", 8, NULL);
  gegl_node_link (src, save);
  /* GEGL's savers report failure only by what they and libpng print. */
  chatter c;
  chatter_begin (&c);
  gegl_node_process (save);
  char *complaint = chatter_end (&c);
  g_object_unref (graph);
  if (complaint)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write '%s': %s", path, complaint);
  g_free (complaint);
  return complaint == NULL;
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
  gboolean ok = segcam_write_atomically (path, write_png, buffer, error);
  g_object_unref (buffer);
  return ok;
}

typedef struct {
  const float *values;
  int width, height, channels;
} npy_array;

/* One .npy file for segcam_write_atomically. Written here rather than by gegl:npy-save, which
 * knows only pixel formats (no (channels, height, width) stack of class planes) and reports a
 * failed write only on stderr. */
static gboolean
write_npy (const char *path, gpointer data, GError **error)
{
  const npy_array *a = data;
  char shape[64], dict[128];
  if (a->channels == 1)
    g_snprintf (shape, sizeof shape, "%d, %d", a->height, a->width);
  else
    g_snprintf (shape, sizeof shape, "%d, %d, %d", a->channels, a->height, a->width);
  int len = g_snprintf (dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }",
                        shape);
  /* Magic (6) + version (2) + header length (2) + dict, padded with spaces to 64 bytes, '\n'. */
  int header = (10 + len + 1 + 63) / 64 * 64 - 10;
  FILE *f = g_fopen (path, "wb");
  const uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, header & 0xff, header >> 8};
  size_t n = (size_t) a->width * a->height * a->channels;
  gboolean ok = f && fwrite (pre, 1, sizeof pre, f) == sizeof pre
                && fprintf (f, "%s%*s\n", dict, header - len - 1, "") == header
                && fwrite (a->values, sizeof (float), n, f) == n;
  int saved = errno;
  if (f && fclose (f) != 0 && ok)
    ok = FALSE, saved = errno;
  if (!ok)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot write '%s': %s", path,
                 g_strerror (saved));
  return ok;
}

gboolean
segcam_npy_save (const char *path, const float *values, int width, int height, int channels,
                 GError **error)
{
  npy_array a = {values, width, height, channels};
  return segcam_write_atomically (path, write_npy, &a, error);
}
