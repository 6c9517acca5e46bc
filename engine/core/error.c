/* error.c — the engine's GError domain and its one error helper. */
#include "error.h"

G_DEFINE_QUARK (segcam-error-quark, segcam_error)

gboolean
segcam_failv (GError **error, int code, const char *fmt, va_list ap)
{
  char *msg = g_strdup_vprintf (fmt, ap);
  g_set_error_literal (error, SEGCAM_ERROR, code, msg);
  g_free (msg);
  return FALSE;
}

gboolean
segcam_fail (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  segcam_failv (error, code, fmt, ap);
  va_end (ap);
  return FALSE;
}
