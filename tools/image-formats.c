/* image-formats.c — the image formats the command line writes (image-formats.h). */
#include "image-formats.h"

#include <string.h>

gboolean
segcam_image_format_supported (const char *path)
{
  const char *dot = strrchr (path, '.');
  /* An extension is in the file's name, not in a folder's ("out.d/heat"). */
  return dot && !strchr (dot, '/') && g_ascii_strcasecmp (dot, ".png") == 0;
}
