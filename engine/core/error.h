/* error.h — how every engine failure becomes a one-line GError (segcam.h's SEGCAM_ERROR). */
#ifndef SEGCAM_CORE_ERROR_H
#define SEGCAM_CORE_ERROR_H

#include "segcam.h"

/* How much of a name from a file a message quotes (segcam_escape's max_chars). */
#define SEGCAM_SHOWN_CHARS 96

/* Sets *error (when error is not NULL) to a formatted message in SEGCAM_ERROR with the given
 * segcam_error code, and returns FALSE so that callers can write `return segcam_fail (...)`. */
gboolean segcam_fail (GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* The same for callers with arguments of their own to format. */
gboolean segcam_failv (GError **error, int code, const char *fmt, va_list ap) G_GNUC_PRINTF (3, 0);

#endif /* SEGCAM_CORE_ERROR_H */
