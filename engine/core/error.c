/* error.c — the engine's GError domain, its one error helper and the escape of quoted names. */
#include "error.h"

#include <string.h>

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

char *
segcam_escape (const char *text, int max_chars)
{
  GString *out = g_string_sized_new (strlen (text));
  int n = 0;
  for (const char *p = text; *p; n++)
    {
      if (max_chars > 0 && n == max_chars)
        {
          g_string_append (out, "...");
          break;
        }
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        g_string_append_printf (out, "\\x%02x", (guchar) *p++);
      else
        {
          if (c < 0x20 || (c >= 0x7f && c < 0xa0))
            g_string_append_printf (out, "\\x%02x", c);
          else
            g_string_append_len (out, p, g_utf8_skip[*(const guchar *) p]);
          p = g_utf8_next_char (p);
        }
    }
  return g_string_free (out, FALSE);
}
