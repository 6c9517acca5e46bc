/* progress.c — the progress line on a terminal (progress.h). */
#include "progress.h"

#include "cli.h"
#include "segcam.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct {
  gboolean on, shown;
  char *stage;
  gint64 drawn_at;  /* monotonic µs of the last redraw */
} line;

void
segcam_progress_start (void)
{
  line.on = !segcam_cli_quiet () && isatty (STDERR_FILENO);
  if (line.on)
    segcam_cli_before_printing (segcam_progress_clear);
}

/* Redraws "stage: detail", cut to the terminal's width so that it never wraps (a wrapped line
 * cannot be erased in place). */
static void
draw (const char *detail)
{
  struct winsize ws;
  int columns = ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
  char *raw = g_strdup_printf ("%s%s%s", line.stage ? line.stage : "", detail ? ": " : "",
                               detail ? detail : "");
  char *text = segcam_escape (raw, MAX (columns - 4, 1)); /* and "..." */
  fprintf (stderr, "\r\033[K%s", text);
  fflush (stderr);
  line.shown = TRUE;
  line.drawn_at = g_get_monotonic_time ();
  g_free (raw);
  g_free (text);
}

void
segcam_progress_stage (const char *format, ...)
{
  if (!line.on)
    return;
  va_list ap;
  va_start (ap, format);
  g_free (line.stage);
  line.stage = g_strdup_vprintf (format, ap);
  va_end (ap);
  draw (NULL);
}

void
segcam_progress_forward (double fraction, const char *what, void *user_data)
{
  (void) user_data;
  if (!line.on || g_get_monotonic_time () - line.drawn_at < G_USEC_PER_SEC / 10)
    return;
  char *detail = g_strdup_printf ("forward %3.0f%% (%s)", 100 * fraction, what);
  draw (detail);
  g_free (detail);
}

void
segcam_progress_clear (void)
{
  if (!line.shown)
    return;
  fprintf (stderr, "\r\033[K");
  fflush (stderr);
  line.shown = FALSE;
}
