/* error.c — the engine's GError domain and its one error helper. */
#include "error.h"

G_DEFINE_QUARK (segcam-error-quark, segcam_error)

gboolean
segcam_fail (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, SEGCAM_ERROR, code, msg);
  g_free (msg);
  return FALSE;
}
