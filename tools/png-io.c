/* png-io.c — PNG decoding and encoding with libpng, the same samples GEGL and babl gave. */
#include "png-io.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

/* babl's sRGB luminance weights: the Y row of its RGB-to-XYZ matrix, which it derives from the
 * sRGB primaries adapted to D50 as ICC profiles are (Rec. 709's 0.2126/0.7152/0.0722 differ by up
 * to 0.01); the values babl 0.1.98 gives, to its float precision. */
static const double luma_weights[3] = {0.222487941, 0.716903865, 0.060608257};

/* One file open for libpng: what it reads or writes, and libpng's first complaint. */
typedef struct {
  FILE *file;
  png_structp png;
  png_infop info;
  char message[256];
  int write_errno; /* why the last fwrite failed, 0 if none did */
} png_file;

static void
on_error (png_structp png, png_const_charp message)
{
  png_file *f = png_get_error_ptr (png);
  if (!*f->message)
    g_strlcpy (f->message, message, sizeof f->message);
  png_longjmp (png, 1);
}

/* Warnings (an odd but readable chunk, a benign error) leave the image as decoded. */
static void
on_warning (png_structp png, png_const_charp message)
{
}

/* A file that ends early reads as zeros, as GEGL's reader left it, so that libpng reports where
 * the data stops making sense ("IDAT: CRC error") rather than a bare read error. */
static void
read_bytes (png_structp png, png_bytep data, size_t length)
{
  png_file *f = png_get_io_ptr (png);
  size_t got = fread (data, 1, length, f->file);
  memset (data + got, 0, length - got);
}

static void
write_bytes (png_structp png, png_bytep data, size_t length)
{
  png_file *f = png_get_io_ptr (png);
  if (fwrite (data, 1, length, f->file) != length)
    {
      f->write_errno = errno;
      png_error (png, g_strerror (errno));
    }
}

static void
flush_bytes (png_structp png)
{
  png_file *f = png_get_io_ptr (png);
  if (fflush (f->file) != 0)
    {
      f->write_errno = errno;
      png_error (png, g_strerror (errno));
    }
}

/* Opens path for reading when it starts with the PNG signature. */
static gboolean
reader_open (png_file *f, const char *path)
{
  memset (f, 0, sizeof *f);
  png_byte signature[8];
  f->file = g_fopen (path, "rb");
  if (!f->file || fread (signature, 1, 8, f->file) != 8 || png_sig_cmp (signature, 0, 8) != 0)
    return FALSE;
  f->png = png_create_read_struct (PNG_LIBPNG_VER_STRING, f, on_error, on_warning);
  f->info = f->png ? png_create_info_struct (f->png) : NULL;
  if (!f->info)
    return FALSE;
  /* As gegl:png-load: what libpng calls benign errors do not stop the decoding. */
  png_set_benign_errors (f->png, 1);
  png_set_option (f->png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
  png_set_read_fn (f->png, f, read_bytes);
  png_set_sig_bytes (f->png, 8);
  return TRUE;
}

static void
file_close (png_file *f, gboolean reading)
{
  if (f->png && reading)
    png_destroy_read_struct (&f->png, &f->info, NULL);
  else if (f->png)
    png_destroy_write_struct (&f->png, &f->info);
  if (f->file)
    fclose (f->file);
  f->file = NULL;
}

/* Reads the chunks before the image data; FALSE with libpng's message kept. */
static gboolean
reader_header (png_file *f)
{
  if (setjmp (png_jmpbuf (f->png)))
    return FALSE;
  png_read_info (f->png, f->info);
  return TRUE;
}

/* Whether GEGL would take the file's colours as sRGB: gegl:png-load makes a colour space of an
 * ICC profile, and of a gAMA chunk in a file without an sRGB chunk; otherwise it asks libpng to
 * correct from the file's gamma to 1/2.2, which libpng skips within 5 % of it. */
static gboolean
colours_are_srgb (png_file *f)
{
  if (png_get_valid (f->png, f->info, PNG_INFO_iCCP))
    return FALSE;
  double gamma;
  if (!png_get_gAMA (f->png, f->info, &gamma))
    return TRUE;
  return png_get_valid (f->png, f->info, PNG_INFO_sRGB) && fabs (gamma * 2.2 - 1) < 0.05;
}

gboolean
segcam_png_takes (const char *path, int *width, int *height)
{
  png_file f;
  gboolean ok = reader_open (&f, path) && reader_header (&f) && colours_are_srgb (&f);
  if (ok)
    *width = (int) png_get_image_width (f.png, f.info), *height = (int) png_get_image_height (f.png, f.info);
  file_close (&f, TRUE);
  return ok;
}

/* Asks libpng for 8- or 16-bit gray or RGB samples, with alpha where the file has any (a palette,
 * fewer bits, a tRNS chunk are expanded), 16-bit ones in this machine's byte order. The number of
 * interlace passes, 0 with libpng's message kept. */
static int
reader_transforms (png_file *f)
{
  if (setjmp (png_jmpbuf (f->png)))
    return 0;
  png_set_expand (f->png);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (png_get_bit_depth (f->png, f->info) == 16)
    png_set_swap (f->png);
#endif
  int passes = png_set_interlace_handling (f->png);
  png_read_update_info (f->png, f->info);
  return passes;
}

/* The sRGB transfer function's inverse, from encoded to linear light, at every sample value. */
static double *
linear_table (int levels)
{
  double *t = g_new (double, levels);
  for (int i = 0; i < levels; i++)
    {
      double v = (double) i / (levels - 1);
      t[i] = v <= 0.04045 ? v / 12.92 : pow ((v + 0.055) / 1.055, 2.4);
    }
  return t;
}

static float
srgb_encode (double y)
{
  return (float) (y <= 0.0031308 ? 12.92 * y : 1.055 * pow (y, 1 / 2.4) - 0.055);
}

/* A decoded row: width pixels of `have` samples (1 Y', 2 Y'A, 3 R'G'B', 4 R'G'B'A), 8 or 16 bits. */
typedef struct {
  const void *samples;
  int have, sixteen;
  const double *linear; /* linear_table of the sample depth, for R'G'B' to Y' */
} png_row;

static unsigned
sample (const png_row *r, size_t i)
{
  return r->sixteen ? ((const uint16_t *) r->samples)[i] : ((const uint8_t *) r->samples)[i];
}

/* One row into `want` floats a pixel (1 Y', 2 Y'A, 3 R'G'B'), as babl converts them. */
static void
convert_row (const png_row *r, int width, int want, float *out)
{
  const float scale = r->sixteen ? 65535.0f : 255.0f;
  gboolean colour = r->have >= 3, alpha = r->have == 2 || r->have == 4;
  for (int x = 0; x < width; x++, out += want)
    {
      size_t p = (size_t) x * r->have;
      if (want == 3)
        for (int c = 0; c < 3; c++)
          out[c] = (float) sample (r, p + (colour ? c : 0)) / scale;
      else
        {
          out[0] = colour ? srgb_encode (luma_weights[0] * r->linear[sample (r, p)]
                                         + luma_weights[1] * r->linear[sample (r, p + 1)]
                                         + luma_weights[2] * r->linear[sample (r, p + 2)])
                          : (float) sample (r, p) / scale;
          if (want == 2)
            out[1] = alpha ? (float) sample (r, p + r->have - 1) / scale : 1.0f;
        }
    }
}

/* Decodes every row into out; FALSE with libpng's message kept. Rows are read one at a time, into
 * one row of buffer, except that an interlaced image needs all of them between passes. */
static gboolean
decode_rows (png_file *f, int passes, png_bytep buffer, size_t stride, png_row *row, int width,
             int height, int want, float *out)
{
  if (setjmp (png_jmpbuf (f->png)))
    return FALSE;
  for (int pass = 0; pass < passes; pass++)
    for (int y = 0; y < height; y++)
      {
        png_bytep line = buffer + (passes > 1 ? (size_t) y * stride : 0);
        png_read_row (f->png, line, NULL);
        if (pass == passes - 1)
          {
            row->samples = line;
            convert_row (row, width, want, out + (size_t) y * width * want);
          }
      }
  png_read_end (f->png, NULL);
  return TRUE;
}

float *
segcam_png_decode (const char *path, int channels, int width, int height, GError **error)
{
  png_file f;
  float *out = NULL;
  png_bytep buffer = NULL;
  double *linear = NULL;
  if (!reader_open (&f, path) || !reader_header (&f))
    goto damaged;
  int w = (int) png_get_image_width (f.png, f.info), h = (int) png_get_image_height (f.png, f.info);
  if (w != width || h != height)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "image '%s' changed while being read "
                   "(%dx%d, then %dx%d)", path, width, height, w, h);
      goto done;
    }
  int passes = reader_transforms (&f);
  if (!passes)
    goto damaged;
  int sixteen = png_get_bit_depth (f.png, f.info) == 16;
  size_t stride = png_get_rowbytes (f.png, f.info);
  png_row row = {NULL, png_get_channels (f.png, f.info), sixteen, NULL};
  if (channels < 3 && row.have >= 3)
    row.linear = linear = linear_table (sixteen ? 65536 : 256);
  out = g_try_new (float, (size_t) width * height * channels);
  buffer = out ? g_try_malloc (passes > 1 ? stride * height : stride) : NULL;
  if (!buffer)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "image '%s' is too large for memory", path);
      g_clear_pointer (&out, g_free);
      goto done;
    }
  if (decode_rows (&f, passes, buffer, stride, &row, width, height, channels, out))
    goto done;
damaged:
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
               "cannot read image '%s': the file is damaged or truncated (%s)", path,
               *f.message ? f.message : g_strerror (errno));
  g_clear_pointer (&out, g_free);
done:
  g_free (buffer);
  g_free (linear);
  file_close (&f, TRUE);
  return out;
}

/* Writes every row; FALSE with libpng's message kept. */
static gboolean
encode_rows (png_file *f, const uint8_t *pixels, int width, int height, int channels)
{
  static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                              PNG_COLOR_TYPE_RGB_ALPHA};
  if (setjmp (png_jmpbuf (f->png)))
    return FALSE;
  png_set_IHDR (f->png, f->info, width, height, 8, types[channels], PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  /* gegl:png-save's level: maps and label images are written fast, and compress well anyway. */
  png_set_compression_level (f->png, 3);
  png_write_info (f->png, f->info);
  for (int y = 0; y < height; y++)
    png_write_row (f->png, pixels + (size_t) y * width * channels);
  png_write_end (f->png, NULL);
  return TRUE;
}

gboolean
segcam_png_encode (const char *path, const uint8_t *pixels, int width, int height, int channels,
                   GError **error)
{
  png_file f;
  memset (&f, 0, sizeof f);
  f.file = g_fopen (path, "wb");
  if (!f.file)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "cannot write '%s': %s",
                   path, g_strerror (saved));
      return FALSE;
    }
  f.png = png_create_write_struct (PNG_LIBPNG_VER_STRING, &f, on_error, on_warning);
  f.info = f.png ? png_create_info_struct (f.png) : NULL;
  gboolean ok = f.info != NULL;
  if (ok)
    {
      png_set_write_fn (f.png, &f, write_bytes, flush_bytes);
      ok = encode_rows (&f, pixels, width, height, channels);
    }
  FILE *file = f.file;
  f.file = NULL;
  file_close (&f, FALSE);
  if (fclose (file) != 0 && ok)
    ok = FALSE, f.write_errno = errno;
  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write '%s': %s", path,
                 f.write_errno ? g_strerror (f.write_errno) : *f.message ? f.message : "libpng failed");
  return ok;
}
