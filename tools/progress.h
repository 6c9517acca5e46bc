/* progress.h — the one line on stderr that says how far a long run is (README, "Command line"):
 * shown only when stderr is a terminal and --quiet was not given, redrawn in place, and erased
 * before anything else is printed, so that results, warnings and errors are never mixed into it. */
#ifndef SEGCAM_PROGRESS_H
#define SEGCAM_PROGRESS_H

#include <glib.h>

/* Turns the line on for the rest of the run when stderr is a terminal and --quiet was not given
 * (segcam_cli_quiet); the lines cli.h prints erase it first. */
void segcam_progress_start (void);

/* Sets what the run is doing ("image 2/5 'a.png', layer 'x'") and draws the line. */
void segcam_progress_stage (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* A segcam_progress_fn for sessions: the forward pass's fraction after the stage; redrawn at
 * most ten times a second. */
void segcam_progress_forward (double fraction, const char *what, void *user_data);

/* Erases the line, if it is shown; everything that prints on the terminal calls this first. */
void segcam_progress_clear (void);

#endif /* SEGCAM_PROGRESS_H */
