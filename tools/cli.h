/* cli.h — what every segcam command shares (README, "Command line"): the exit statuses, the one-line error
 * "segcam COMMAND: message", option parsing and the TextureMNIST digits file. */
#ifndef SEGCAM_CLI_H
#define SEGCAM_CLI_H

#include "segcam.h"
#include "texture-mnist.h"

#include <glib.h>

enum { EXIT_USAGE = 1, EXIT_INPUT = 2 };

/* Where the digits file is when neither --mnist nor $SEGCAM_MNIST says. */
#define SEGCAM_CLI_DEFAULT_MNIST "data/mnist.bin"

/* Prints "segcam COMMAND: message" on stderr, followed by " (see segcam COMMAND --help)" when
 * status is EXIT_USAGE; returns status. */
int segcam_cli_fail (const char *command, int status, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* Prints one line on stdout (the newline is added), escaped as segcam_cli_fail's messages are:
 * for every line that shows names from a model. */
void segcam_cli_print (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* What a command needs ("--model MODEL", "one IMAGE") and whether it was given. */
typedef struct {
  const char *what;
  gboolean given;
} segcam_cli_arg;

/* 0 when every one of the n arguments was given, else EXIT_USAGE with "missing --model MODEL
 * and -o FILE" printed: the message names each argument that is missing. */
int segcam_cli_require (const char *command, const segcam_cli_arg *args, int n);

/* --quiet: TRUE silences segcam_cli_remark and the progress line (progress.h); errors are
 * always printed. */
void segcam_cli_set_quiet (gboolean quiet);
gboolean segcam_cli_quiet (void);

/* erase is called before every line segcam_cli_fail, _print and _remark print: the progress
 * line's eraser, so that no line is mixed into it. */
void segcam_cli_before_printing (void (*erase) (void));

/* A warning or a note on stderr, "segcam COMMAND: message" (the message says "warning: ..." or
 * "note: ..."), escaped as errors are; never changes the exit status; silenced by --quiet. */
void segcam_cli_remark (const char *command, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* The --quiet option of the commands that take it (a gboolean named quiet in scope). */
#define SEGCAM_CLI_QUIET_OPTION                                                                  \
  {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,                                                  \
   "No progress line and no warnings or notes on stderr (errors are still printed)", NULL}

/* segcam_cli_fail with the error's message; clears *error. */
int segcam_cli_fail_error (const char *command, int status, GError **error);

/* Parses the options in entries out of argv (argv[0] is the command's name); --help describes
 * "segcam COMMAND [OPTION...] ARGS" with the summary and exits. FALSE with the usage error
 * printed. */
gboolean segcam_cli_parse (const char *command, const char *args, const char *summary,
                           const GOptionEntry *entries, int *argc, char ***argv);

/* Parses exactly n whole numbers in [min, G_MAXINT] separated by separator ("512x384",
 * "0,0,10,10") into out; FALSE for anything else: junk after a number, a number beyond int (no
 * silent wrapping), too few or too many. The one parser for numeric option values GOption's
 * own G_OPTION_ARG_INT (as strict) does not take. */
gboolean segcam_cli_parse_ints (const char *text, char separator, int n, int min, int *out);

/* The digits file made by tools/fetch-mnist.sh: path (--mnist) when given, else $SEGCAM_MNIST
 * when set and not empty, else SEGCAM_CLI_DEFAULT_MNIST. NULL with the error printed (exit
 * status EXIT_INPUT). */
segcam_mnist *segcam_cli_load_mnist (const char *command, const char *path);

/* info --grep and "unknown layer": name matches pattern ignoring case, as a glob when it has
 * '*' or '?', else as a substring. */
gboolean segcam_cli_name_matches (const char *name, const char *pattern);

/* The median of n > 0 timings; sorts v. Benchmarks report it, as the PyTorch peer does. */
double segcam_cli_median (double *v, int n);

#endif /* SEGCAM_CLI_H */
