/* image-io.c — reading and writing image and array files through GEGL and babl, so every format
 * GEGL knows is accepted and colour conversions are babl's, as in GIMP. */
#include "image-io.h"

#include "cli.h"
#include "output.h"

#include <errno.h>
#include <gegl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gboolean gegl_ready;

/* ---- library chatter ------------------------------------------------------------------------ */

/* GEGL, libpng and libjpeg tell of failures only by printing them: GLib messages (through
 * collect) and fprintf on stderr. While an operation runs, file descriptor 2 points at a temporary
 * file that collects both, in order, and the caller folds what matters into its one line. */
typedef struct {
  FILE *sink;
  int saved_stderr;
  const char *what; /* "cannot read image 'x.png'", for a library that exits */
} chatter;

static chatter *collecting;

static void
collect (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (collecting)
    fprintf (stderr, "%s\n", message);
}

static void
chatter_begin (chatter *c, const char *what)
{
  fflush (stderr);
  c->sink = tmpfile ();
  c->saved_stderr = c->sink ? dup (STDERR_FILENO) : -1;
  if (c->saved_stderr >= 0)
    dup2 (fileno (c->sink), STDERR_FILENO);
  c->what = what;
  collecting = c;
}

/* What was printed since chatter_begin, or NULL when nothing was (or it could not be caught). */
static char *
chatter_end (chatter *c)
{
  fflush (stderr);
  collecting = NULL;
  char buf[1024] = "";
  if (c->saved_stderr >= 0)
    {
      dup2 (c->saved_stderr, STDERR_FILENO);
      close (c->saved_stderr);
      rewind (c->sink);
      buf[fread (buf, 1, sizeof buf - 1, c->sink)] = '\0';
    }
  if (c->sink)
    fclose (c->sink);
  g_strstrip (buf);
  return *buf ? g_strdup (buf) : NULL;
}

/* The first line of chatter, without the libraries' "libpng error: " prefixes. Libraries end
 * lines inconsistently (GEGL's libpng handler prints "LIBPNG ERROR: x" without a newline before
 * libpng's own "libpng error: x"), so the text after the last "error: " of the line is the
 * message. */
static char *
complaint (const char *chatter)
{
  char *line = g_strndup (chatter, strcspn (chatter, "\n")), *last = NULL;
  for (char *p = line; (p = strstr (p, "error: ")); p++)
    last = p + strlen ("error: ");
  char *out = g_strdup (g_strstrip (last ? last : line));
  g_free (line);
  return out;
}

/* libjpeg's default error handler, which GEGL's jpg-load keeps when it reads the header, calls
 * exit (1) on a damaged file: the one line, escaped as segcam_cli_fail's, and the bad-input
 * status instead. (Only loads exit so; no temporary output file is pending then.) */
static void
exit_while_collecting (void)
{
  if (!collecting)
    return;
  const char *what = collecting->what;
  char *said = chatter_end (collecting);
  char *raw = g_strdup_printf ("%s: %s", what, said ? complaint (said) : "the decoder gave up");
  char *line = segcam_escape (raw, 0);
  fprintf (stderr, "%s: %s\n", g_get_prgname (), line);
  _exit (EXIT_INPUT);
}

/* Whether a decoder's chatter says the image is damaged rather than merely unusual (libpng warns
 * about odd colour profiles in files that decode well; a truncated JPEG gives only libjpeg's
 * "premature end" warning). */
static gboolean
decoder_failed (const char *chatter)
{
  char *lower = g_ascii_strdown (chatter, -1);
  gboolean failed = strstr (lower, "error") || strstr (lower, "premature end") || strstr (lower, "truncat");
  g_free (lower);
  return failed;
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
  atexit (exit_while_collecting);
  gegl_ready = TRUE;
}

void
segcam_image_io_exit (void)
{
  if (gegl_ready)
    gegl_exit ();
  gegl_ready = FALSE;
}

/* A gegl:load node for path in graph, and the image's extent from its header (nothing is decoded
 * yet); NULL with the error set. */
static GeglNode *
open_image (GeglNode *graph, const char *path, GeglRectangle *extent, GError **error)
{
  ensure_gegl ();
  const char *kind = segcam_cli_file_kind (path);
  char *what = g_strdup_printf ("cannot read image '%s'", path);
  if (kind || !g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s%s", what, kind ? "it is " : "",
                   kind ? kind : "no such file");
      g_free (what);
      return NULL;
    }
  /* gegl:load reads the header as soon as it has the path. */
  chatter c;
  chatter_begin (&c, what);
  GeglNode *load = gegl_node_new_child (graph, "operation", "gegl:load", "path", path, NULL);
  *extent = gegl_node_get_bounding_box (load);
  char *said = chatter_end (&c);
  if (extent->width < 1 || extent->height < 1)
    {
      char *line = said ? complaint (said) : NULL;
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: not an image GEGL can load%s%s%s",
                   what, line ? " (" : "", line ? line : "", line ? ")" : "");
      g_free (line);
      load = NULL;
    }
  g_free (said);
  g_free (what);
  return load;
}

gboolean
segcam_image_size (const char *path, int *width, int *height, GError **error)
{
  GeglNode *graph = gegl_node_new ();
  GeglRectangle r;
  gboolean ok = open_image (graph, path, &r, error) != NULL;
  g_object_unref (graph);
  *width = r.width, *height = r.height;
  return ok;
}

float *
segcam_image_load (const char *path, int channels, int width, int height, GError **error)
{
  GeglNode *graph = gegl_node_new ();
  GeglRectangle r;
  GeglNode *load = open_image (graph, path, &r, error);
  if (load && (r.width != width || r.height != height))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "image '%s' changed while being read "
                   "(%dx%d, then %dx%d)", path, width, height, r.width, r.height);
      load = NULL;
    }
  float *pixels = load ? g_try_new (float, (size_t) r.width * r.height * channels) : NULL;
  if (load && !pixels)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "image '%s' is too large for memory", path);
  if (pixels)
    {
      static const char *const formats[] = {NULL, "Y' float", "Y'A float", "R'G'B' float"};
      chatter c;
      char *what = g_strdup_printf ("cannot read image '%s'", path);
      chatter_begin (&c, what);
      gegl_node_blit (load, 1.0, &r, babl_format (formats[channels]), pixels, GEGL_AUTO_ROWSTRIDE,
                      GEGL_BLIT_DEFAULT);
      char *said = chatter_end (&c);
      /* A damaged file decodes in part, the rest left as zeros: an error, not a darker image. */
      if (said && decoder_failed (said))
        {
          char *line = complaint (said);
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                       "%s: the file is damaged or truncated (%s)", what, line);
          g_free (line);
          g_clear_pointer (&pixels, g_free);
        }
      g_free (said);
      g_free (what);
    }
  g_object_unref (graph);
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
  char *what = g_strdup_printf ("cannot write '%s'", path);
  chatter_begin (&c, what);
  gegl_node_process (save);
  char *said = chatter_end (&c);
  g_object_unref (graph);
  if (said)
    {
      char *line = complaint (said);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", what, line);
      g_free (line);
    }
  g_free (what);
  g_free (said);
  return said == NULL;
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
