/* image-io.c — reading and writing image and array files: PNG through libpng (png-io.c), every
 * other format GEGL knows through GEGL and babl, started only then, so colour conversions are
 * babl's, as in GIMP, either way. */
#include "image-io.h"

#include "cli.h"
#include "output.h"
#include "png-io.h"
#include "segcam.h"

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

/* What gegl_init maps (its modules and a thread; about 120 MiB here), which babl does not survive
 * failing to map: under a tight address-space limit it is refused instead. */
#define GEGL_START_MAPPINGS (160.0 * (1 << 20))

static gboolean
ensure_gegl (GError **error)
{
  if (gegl_ready)
    return TRUE;
  if (segcam_address_space_room (1) < GEGL_START_MAPPINGS)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "the address-space limit (ulimit -v) "
                   "leaves too little room to start the image libraries: raise it");
      return FALSE;
    }
  gegl_init (NULL, NULL);
  /* GEGL's loaders and savers warn about every unreadable file; the caller reports each failure in
   * one line of its own, with what they said folded in. */
  const GLogLevelFlags levels = G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_CRITICAL;
  g_log_set_handler ("GEGL", levels, collect, NULL);
  g_log_set_handler (NULL, levels, collect, NULL);
  atexit (exit_while_collecting);
  gegl_ready = TRUE;
  return TRUE;
}

void
segcam_image_io_exit (void)
{
  if (gegl_ready)
    gegl_exit ();
  gegl_ready = FALSE;
}

/* Whether path names something to read: what is not a regular file (a FIFO would block the
 * reader), or nothing, is an error naming it. */
static gboolean
readable (const char *path, GError **error)
{
  const char *kind = segcam_cli_file_kind (path);
  if (!kind && g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot read image '%s': %s%s", path,
               kind ? "it is " : "", kind ? kind : "no such file");
  return FALSE;
}

/* A gegl:load node for path in graph, and the image's extent from its header (nothing is decoded
 * yet); NULL with the error set. */
static GeglNode *
open_image (GeglNode *graph, const char *path, GeglRectangle *extent, GError **error)
{
  char *what = g_strdup_printf ("cannot read image '%s'", path);
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
  if (!readable (path, error))
    return FALSE;
  if (segcam_png_takes (path, width, height))
    return TRUE;
  if (!ensure_gegl (error))
    return FALSE;
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
  int w, h;
  if (!readable (path, error))
    return NULL;
  if (segcam_png_takes (path, &w, &h))
    return segcam_png_decode (path, channels, width, height, error);
  if (!ensure_gegl (error))
    return NULL;
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

/* Output formats by file-name extension, and the GEGL saver of those that are not PNG. */
static const struct {
  const char *extension, *saver;
} output_formats[] = {
  {".png", NULL}, {".jpg", "gegl:jpg-save"}, {".jpeg", "gegl:jpg-save"},
  {".tif", "gegl:tiff-save"}, {".tiff", "gegl:tiff-save"}, {".webp", "gegl:webp-save"},
};

/* The index in formats of path's extension, or -1. */
static int
format_of (const char *path)
{
  const char *dot = strrchr (path, '.');
  if (!dot || strchr (dot, G_DIR_SEPARATOR))
    return -1;
  for (int i = 0; i < (int) G_N_ELEMENTS (output_formats); i++)
    if (g_ascii_strcasecmp (dot, output_formats[i].extension) == 0)
      return i;
  return -1;
}

gboolean
segcam_image_format_supported (const char *path, GError **error)
{
  if (format_of (path) >= 0)
    return TRUE;
  const char *dot = strrchr (path, '.');
  if (dot && !strchr (dot, G_DIR_SEPARATOR))
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "cannot write '%s': '%s' is not the "
                 "extension of an image format segcam writes (.png, .jpg, .tif, .webp)", path, dot);
  else
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "cannot write '%s': the name has no "
                 "extension to choose the image format by (.png, .jpg, .tif, .webp)", path);
  return FALSE;
}

/* 8-bit pixels on their way to a file, and the GEGL saver that writes them (NULL for PNG). */
typedef struct {
  const uint8_t *pixels;
  int width, height, channels;
  const char *saver;
} image_out;

/* One image for segcam_write_atomically. */
static gboolean
write_image (const char *path, gpointer data, GError **error)
{
  const image_out *o = data;
  if (!o->saver)
    return segcam_png_encode (path, o->pixels, o->width, o->height, o->channels, error);
  if (!ensure_gegl (error))
    return FALSE;
  static const char *const pixel_formats[] = {NULL, "Y' u8", "Y'A u8", "R'G'B' u8", "R'G'B'A u8"};
  const Babl *fmt = babl_format (pixel_formats[o->channels]);
  GeglRectangle all = {0, 0, o->width, o->height};
  GeglBuffer *buffer = gegl_buffer_new (&all, fmt);
  gegl_buffer_set (buffer, &all, 0, fmt, o->pixels, GEGL_AUTO_ROWSTRIDE);
  GeglNode *graph = gegl_node_new ();
  GeglNode *src = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer", buffer, NULL);
  GeglNode *save = gegl_node_new_child (graph, "operation", o->saver, "path", path, NULL);
  gegl_node_link (src, save);
  /* GEGL's savers report failure only by what they and their libraries print. */
  chatter c;
  char *what = g_strdup_printf ("cannot write '%s'", path);
  chatter_begin (&c, what);
  gegl_node_process (save);
  char *said = chatter_end (&c);
  g_object_unref (graph);
  g_object_unref (buffer);
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
segcam_image_save (const char *path, const uint8_t *pixels, int width, int height, int channels,
                   GError **error)
{
  int f = format_of (path);
  if (f < 0)
    return segcam_image_format_supported (path, error);
  image_out o = {pixels, width, height, channels, output_formats[f].saver};
  return segcam_write_atomically (path, write_image, &o, error);
}

gboolean
segcam_png_save (const char *path, const uint8_t *pixels, int width, int height, int channels,
                 GError **error)
{
  image_out o = {pixels, width, height, channels, NULL};
  return segcam_write_atomically (path, write_image, &o, error);
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
