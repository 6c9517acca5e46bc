/* output.h — how the segcam command line writes files, so that nothing the user had is lost
 * (issue 12): outputs are checked before any work, and each is written to a temporary file in its
 * own folder, flushed to disk and renamed over the target only when complete. */
#ifndef SEGCAM_OUTPUT_H
#define SEGCAM_OUTPUT_H

#include <glib.h>

/* A file named on the command line: the option that named it ("-o", "--model", "the image")
 * and its path, NULL when the option was not given. */
typedef struct {
  const char *option;
  const char *path;
} segcam_cli_file;

/* Refuses, before the command does any work, outputs that would destroy something or could not
 * be written: an empty name (usage error), a directory, a device, FIFO or socket, a read-only file,
 * a missing or read-only folder, a file that is also one of the inputs or another output. 0, or
 * the exit status with the one-line error printed as command's. */
int segcam_cli_check_outputs (const char *command, const segcam_cli_file *outputs, int n_outputs,
                              const segcam_cli_file *inputs, int n_inputs);

/* " (a directory)", " (a FIFO)"... for a path that exists but is not a regular file, else NULL:
 * what the user named instead of a file, for the messages of inputs and outputs alike. */
const char *segcam_cli_file_kind (const char *path);

/* Writes path through write (which creates the file it is given): to a temporary
 * file beside path, which is checked, flushed and renamed over path when write succeeds and
 * removed otherwise, or when SIGINT, SIGTERM or SIGHUP end the program meanwhile. Errors name
 * path, not the temporary file. */
typedef gboolean (*segcam_writer) (const char *path, gpointer data, GError **error);
gboolean segcam_write_atomically (const char *path, segcam_writer write, gpointer data,
                                  GError **error);

#endif /* SEGCAM_OUTPUT_H */
