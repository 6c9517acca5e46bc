/* png-io.h — PNG files read and written with libpng alone, so that a command on PNGs never starts
 * GEGL (whose start-up, loading every module it has, took most of a small command's time).
 *
 * The decoder gives what GEGL's gegl:png-load followed by babl's conversion gave: sRGB-encoded
 * samples scaled to [0, 1], gray replicated to R'G'B', alpha dropped (not composited), and R'G'B'
 * to Y' through linear light with babl's sRGB luminance weights. It takes only the files whose
 * colours GEGL would read as sRGB; segcam_png_takes says which, and image-io.c hands the others
 * to GEGL. */
#ifndef SEGCAM_PNG_IO_H
#define SEGCAM_PNG_IO_H

#include <glib.h>
#include <stdint.h>

/* Whether path is a PNG this decoder takes: the PNG signature, a header libpng accepts, and no
 * colour description other than sRGB (no ICC profile; a gAMA chunk only with the sRGB gamma).
 * Gives the size from the header. FALSE, without an error, for anything else: GEGL then reads the
 * file and reports its failures in its own words. */
gboolean segcam_png_takes (const char *path, int *width, int *height);

/* Decodes a PNG segcam_png_takes took into height x width x channels floats (channels 1: Y',
 * 2: Y' and alpha, 3: R'G'B'), of the size it gave (a file changed meanwhile is an error). A
 * damaged or truncated file is an error, "cannot read image 'PATH': the file is damaged or
 * truncated (libpng's words)". Returns a g_malloc'd buffer, NULL with the error set. */
float *segcam_png_decode (const char *path, int channels, int width, int height, GError **error);

/* Writes 8-bit pixels (channels 1 = gray, 2 = gray and alpha, 3 = RGB, 4 = RGBA) to a new PNG at
 * path: the segcam_writer that segcam_write_atomically calls. A failed write is an error naming
 * path with the system's reason ("File too large"). */
gboolean segcam_png_encode (const char *path, const uint8_t *pixels, int width, int height,
                            int channels, GError **error);

#endif /* SEGCAM_PNG_IO_H */
