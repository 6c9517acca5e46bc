/* image-io.h — image and array files for the segcam command line.
 *
 * PNG files are read and written with libpng (png-io.h); GEGL reads every other image format it
 * knows and writes JPEG, TIFF and WebP, and is started (from one thread) only when one of those is
 * met, since its start-up costs a small command most of its time. Either way an image reads as
 * GEGL and babl read it: sRGB-encoded values. Pixel buffers are interleaved and row-major.
 */
#ifndef SEGCAM_IMAGE_IO_H
#define SEGCAM_IMAGE_IO_H

#include <glib.h>
#include <stdint.h>

/* The size of an image from its header, before anything is decoded (so that what it would take
 * can be checked first). */
gboolean segcam_image_size (const char *path, int *width, int *height, GError **error);

/* Loads an image GEGL reads, of the size segcam_image_size gave (so buffers are sized before
 * decoding; a file that changed meanwhile is an error), as floats in [0, 1]: channels 1 gives Y',
 * 2 gives Y' and alpha, 3 gives R'G'B' (alpha is dropped; gray images are replicated). Returns a
 * g_malloc'd buffer of height x width x channels. A file that is not a regular file, or that the
 * decoder reports as damaged (truncated PNG or JPEG), is an error naming it, with the decoder's
 * words. */
float *segcam_image_load (const char *path, int channels, int width, int height, GError **error);

/* Whether path's extension names an image format segcam_image_save writes: .png, .jpg or .jpeg,
 * .tif or .tiff, .webp, in any case. FALSE with the error "cannot write 'PATH': ..." naming the
 * formats: for the command line to refuse an output before any work. */
gboolean segcam_image_format_supported (const char *path, GError **error);

/* Saves 8-bit pixels (channels 1 = gray, 2 = gray and alpha, 3 = RGB, 4 = RGBA) in the format
 * path's extension names (segcam_image_format_supported; JPEG drops alpha), through
 * segcam_write_atomically. */
gboolean segcam_image_save (const char *path, const uint8_t *pixels, int width, int height,
                            int channels, GError **error);

/* Saves 8-bit pixels (channels 1 = gray, 2 = gray and alpha, 3 = RGB, 4 = RGBA) as PNG, whatever
 * path's extension, through segcam_write_atomically. */
gboolean segcam_png_save (const char *path, const uint8_t *pixels, int width, int height,
                          int channels, GError **error);

/* Saves float32 values as a NumPy .npy array of shape (height, width) when channels is 1, else
 * (channels, height, width); values are planar (channel after channel). */
gboolean segcam_npy_save (const char *path, const float *values, int width, int height,
                          int channels, GError **error);

/* Releases GEGL, if it was used, before the program exits. */
void segcam_image_io_exit (void);

#endif /* SEGCAM_IMAGE_IO_H */
