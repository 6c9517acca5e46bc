/* cli.c — the pieces every segcam command shares (cli.h). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void (*eraser) (void);

/* Whatever a line printed must not be mixed into (the progress line) goes first. */
static void
erase_line (void)
{
  if (eraser)
    eraser ();
}

/* "segcam COMMAND: message" on stderr, and for a usage error the pointer to the help (bad input
 * names the problem and that is enough). Messages quote names from model files and the command
 * line: escaped here, once, a line stays one line and cannot drive the terminal. */
static void
say (const char *command, gboolean usage, const char *format, va_list ap)
{
  char *raw = g_strdup_vprintf (format, ap);
  char *message = segcam_escape (raw, 0);
  erase_line ();
  if (usage)
    fprintf (stderr, "segcam %s: %s (see segcam %s --help)\n", command, message, command);
  else
    fprintf (stderr, "segcam %s: %s\n", command, message);
  g_free (raw);
  g_free (message);
}

int
segcam_cli_fail (const char *command, int status, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  say (command, status == EXIT_USAGE, format, ap);
  va_end (ap);
  return status;
}

void
segcam_cli_print (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  char *raw = g_strdup_vprintf (format, ap);
  va_end (ap);
  char *line = segcam_escape (raw, 0);
  erase_line ();
  puts (line);
  fflush (stdout);
  g_free (raw);
  g_free (line);
}

static gboolean quiet;

void
segcam_cli_set_quiet (gboolean q)
{
  quiet = q;
}

gboolean
segcam_cli_quiet (void)
{
  return quiet;
}

void
segcam_cli_before_printing (void (*erase) (void))
{
  eraser = erase;
}

void
segcam_cli_remark (const char *command, const char *format, ...)
{
  if (quiet)
    return;
  va_list ap;
  va_start (ap, format);
  say (command, FALSE, format, ap);
  va_end (ap);
}

int
segcam_cli_require (const char *command, const segcam_cli_arg *args, int n)
{
  GString *missing = g_string_new (NULL);
  int n_missing = 0;
  for (int i = 0; i < n; i++)
    if (!args[i].given)
      n_missing++;
  for (int i = 0, k = 0; i < n; i++)
    if (!args[i].given)
      {
        k++;
        g_string_append_printf (missing, "%s%s", k == 1 ? "" : k == n_missing ? " and " : ", ",
                                args[i].what);
      }
  int status = n_missing ? segcam_cli_fail (command, EXIT_USAGE, "missing %s", missing->str) : 0;
  g_string_free (missing, TRUE);
  return status;
}

gboolean
segcam_cli_parse_ints (const char *text, char separator, int n, int min, int *out)
{
  char sep[2] = {separator, '\0'};
  char **parts = g_strsplit (text, sep, -1);
  gboolean ok = (int) g_strv_length (parts) == n;
  for (int i = 0; ok && i < n; i++)
    {
      gint64 v;
      ok = g_ascii_string_to_signed (parts[i], 10, min, G_MAXINT, &v, NULL);
      out[i] = (int) v;
    }
  g_strfreev (parts);
  return ok;
}

int
segcam_cli_fail_error (const char *command, int status, GError **error)
{
  segcam_cli_fail (command, status, "%s", (*error)->message);
  g_clear_error (error);
  return status;
}

gboolean
segcam_cli_parse (const char *command, const char *args, const char *summary,
                  const GOptionEntry *entries, int *argc, char ***argv)
{
  GOptionContext *ctx = g_option_context_new (args);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  /* --help names the command as it is typed. */
  char *prgname = g_strdup_printf ("segcam %s", command);
  g_set_prgname (prgname);
  g_free (prgname);
  GError *error = NULL;
  gboolean ok = g_option_context_parse (ctx, argc, argv, &error);
  if (!ok)
    segcam_cli_fail_error (command, EXIT_USAGE, &error);
  g_option_context_free (ctx);
  return ok;
}

segcam_mnist *
segcam_cli_load_mnist (const char *command, const char *path)
{
  const char *env = g_getenv ("SEGCAM_MNIST");
  if (path == NULL)
    path = env != NULL && *env != '\0' ? env : SEGCAM_CLI_DEFAULT_MNIST;
  /* The usual first-run problem gets the way out, not only "no such file". */
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      segcam_cli_fail (command, EXIT_INPUT, "MNIST digits file %s not found (make it with "
                       "tools/fetch-mnist.sh %s, or pass --mnist FILE)", path, path);
      return NULL;
    }
  GError *error = NULL;
  segcam_mnist *mnist = segcam_mnist_load (path, &error);
  if (mnist == NULL)
    segcam_cli_fail_error (command, EXIT_INPUT, &error);
  return mnist;
}

double
segcam_cli_median (double *v, int n)
{
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--)
      {
        double t = v[j];
        v[j] = v[j - 1], v[j - 1] = t;
      }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Text folded for comparisons that ignore case (names from a file need not be UTF-8); g_free. */
static char *
fold (const char *text)
{
  return g_utf8_validate (text, -1, NULL) ? g_utf8_casefold (text, -1) : g_ascii_strdown (text, -1);
}

gboolean
segcam_cli_name_matches (const char *name, const char *pattern)
{
  char *n = fold (name), *p = fold (pattern);
  gboolean match = strpbrk (p, "*?") ? g_pattern_match_simple (p, n) : strstr (n, p) != NULL;
  g_free (n);
  g_free (p);
  return match;
}
