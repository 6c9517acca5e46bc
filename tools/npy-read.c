/* npy-read.c — the .npy reader of npy-read.h: the format's version 1, 2 and 3 headers (a Python
 * dict literal), checked key by key rather than trusted. */
#include "npy-read.h"

#include <string.h>

static gboolean
npy_fail (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "'%s' is not a map .npy file: %s", path, what);
  return FALSE;
}

/* The text after 'key': in the header dict, spaces skipped; NULL when absent. */
static const char *
dict_value (const char *dict, const char *key)
{
  char *quoted = g_strdup_printf ("'%s':", key);
  const char *at = strstr (dict, quoted);
  g_free (quoted);
  if (!at)
    return NULL;
  at += strlen (key) + 3;
  while (*at == ' ')
    at++;
  return at;
}

/* The shape tuple "(a, b)" or "(1, a, b)": its dimensions, at most 3. */
static int
parse_shape (const char *text, gint64 *dims)
{
  if (*text++ != '(')
    return -1;
  int n = 0;
  while (n < 4)
    {
      while (*text == ' ')
        text++;
      if (*text == ')')
        return n;
      char *end;
      if (!g_ascii_isdigit (*text))
        return -1;
      gint64 v = g_ascii_strtoll (text, &end, 10);
      if (v < 0 || v > G_MAXINT)
        return -1;
      dims[n++] = v;
      text = end;
      while (*text == ' ')
        text++;
      if (*text == ',')
        text++;
      else if (*text != ')')
        return -1;
    }
  return -1;
}

float *
segcam_npy_load_map (const char *path, int width, int height, GError **error)
{
  char *data = NULL;
  gsize size = 0;
  if (!g_file_get_contents (path, &data, &size, error))
    return NULL;
  float *out = NULL;
  gsize header = 0, at = 0;
  if (size < 10 || memcmp (data, "\x93NUMPY", 6) != 0)
    npy_fail (error, path, "no NumPy magic");
  else if (data[6] == 1 && size >= 10)
    header = (guint8) data[8] | (gsize) (guint8) data[9] << 8, at = 10;
  else if ((data[6] == 2 || data[6] == 3) && size >= 12)
    header = (guint8) data[8] | (gsize) (guint8) data[9] << 8 | (gsize) (guint8) data[10] << 16
             | (gsize) (guint8) data[11] << 24, at = 12;
  else
    npy_fail (error, path, "unknown format version");
  if (at && header > size - at)
    npy_fail (error, path, "the header runs past the end of the file"), at = 0;
  if (at)
    {
      char *dict = g_strndup (data + at, header);
      const char *descr = dict_value (dict, "descr"), *order = dict_value (dict, "fortran_order");
      const char *shape = dict_value (dict, "shape");
      gint64 dims[4];
      int n_dims = shape ? parse_shape (shape, dims) : -1;
      int bytes = descr && g_str_has_prefix (descr, "'<f4'") ? 4
                  : descr && g_str_has_prefix (descr, "'<f8'") ? 8 : 0;
      gboolean shape_ok = (n_dims == 2 && dims[0] == height && dims[1] == width)
                          || (n_dims == 3 && dims[0] == 1 && dims[1] == height && dims[2] == width);
      size_t n = (size_t) width * height;
      if (!bytes)
        npy_fail (error, path, "its dtype is not little-endian float32 or float64");
      else if (!order || !g_str_has_prefix (order, "False"))
        npy_fail (error, path, "it is not in C order");
      else if (n_dims < 0)
        npy_fail (error, path, "its shape is unreadable");
      else if (!shape_ok)
        {
          char *msg = g_strdup_printf ("its shape is not (%d, %d), the image's", height, width);
          npy_fail (error, path, msg);
          g_free (msg);
        }
      else if (size - at - header != n * bytes)
        npy_fail (error, path, "its data is not as long as its shape says");
      else
        {
          out = g_new (float, n);
          const char *v = data + at + header;
          for (size_t i = 0; i < n; i++)
            {
              if (bytes == 4)
                {
                  guint32 u;
                  memcpy (&u, v + 4 * i, 4);
                  u = GUINT32_FROM_LE (u);
                  memcpy (&out[i], &u, 4);
                }
              else
                {
                  guint64 u;
                  double d;
                  memcpy (&u, v + 8 * i, 8);
                  u = GUINT64_FROM_LE (u);
                  memcpy (&d, &u, 8);
                  out[i] = (float) d;
                }
            }
        }
      g_free (dict);
    }
  g_free (data);
  return out;
}
