/* output.c — checked outputs and atomic writes for the command line (output.h). */
#include "output.h"

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
segcam_cli_file_kind (const char *path)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0 || S_ISREG (st.st_mode))
    return NULL;
  return S_ISDIR (st.st_mode) ? "a directory"
         : S_ISFIFO (st.st_mode) ? "a FIFO"
         : S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode) ? "a device"
         : S_ISSOCK (st.st_mode) ? "a socket"
                                 : "not a regular file";
}

/* The file a write to path replaces: the one a symbolic link points to, so that the link stays. */
static char *
resolve (const char *path)
{
  char *real = realpath (path, NULL);
  char *out = g_strdup (real ? real : path);
  free (real);
  return out;
}

/* What two names must share to be the same file: device and inode when it exists, else the
 * folder's device and inode and the name in it (two outputs not yet written). */
typedef struct {
  dev_t dev;
  ino_t ino;
  char *name;
} identity;

static gboolean
identify (const char *path, identity *id)
{
  GStatBuf st;
  id->name = NULL;
  if (g_stat (path, &st) != 0)
    {
      char *dir = g_path_get_dirname (path);
      gboolean found = g_stat (dir, &st) == 0;
      g_free (dir);
      if (!found)
        return FALSE;
      id->name = g_path_get_basename (path);
    }
  id->dev = st.st_dev, id->ino = st.st_ino;
  return TRUE;
}

static gboolean
same_file (const identity *a, const identity *b)
{
  return a->dev == b->dev && a->ino == b->ino && g_strcmp0 (a->name, b->name) == 0;
}

/* What stands in the way of writing path, in a few words for the one line, or NULL. */
static char *
output_problem (const char *path)
{
  const char *kind = segcam_cli_file_kind (path);
  if (kind)
    return g_strdup_printf ("it is %s", kind);
  if (g_file_test (path, G_FILE_TEST_EXISTS) && g_access (path, W_OK) != 0)
    return g_strdup_printf ("the file is read-only (%s)", g_strerror (errno));
  char *target = resolve (path), *dir = g_path_get_dirname (target), *problem = NULL;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    problem = g_strdup_printf ("folder '%s' does not exist", dir);
  else if (g_access (dir, W_OK | X_OK) != 0)
    problem = g_strdup_printf ("folder '%s' is not writable (%s)", dir, g_strerror (errno));
  g_free (target);
  g_free (dir);
  return problem;
}

int
segcam_cli_check_outputs (const char *command, const segcam_cli_file *outputs, int n_outputs,
                          const segcam_cli_file *inputs, int n_inputs)
{
  int status = 0;
  identity *ids = g_new0 (identity, n_outputs + n_inputs);
  gboolean *known = g_new0 (gboolean, n_outputs + n_inputs);
  for (int i = 0; i < n_inputs; i++)
    known[n_outputs + i] = inputs[i].path && identify (inputs[i].path, &ids[n_outputs + i]);
  for (int i = 0; i < n_outputs && status == 0; i++)
    {
      const segcam_cli_file *o = &outputs[i];
      if (!o->path)
        continue;
      /* GEGL's savers crash on an empty name; it is a slip on the command line. */
      if (!*o->path)
        {
          status = segcam_cli_fail (command, EXIT_USAGE, "%s must name a file", o->option);
          break;
        }
      char *problem = output_problem (o->path);
      if (problem)
        {
          status = segcam_cli_fail (command, EXIT_INPUT, "cannot write %s '%s': %s", o->option,
                                    o->path, problem);
          g_free (problem);
          break;
        }
      if (!(known[i] = identify (o->path, &ids[i])))
        continue;
      /* Earlier outputs (later ones meet this one in their turn), then every input. */
      for (int j = 0; j < n_outputs + n_inputs && status == 0; j++)
        if ((j < i || j >= n_outputs) && known[j] && same_file (&ids[i], &ids[j]))
          {
            const segcam_cli_file *other = j < n_outputs ? &outputs[j] : &inputs[j - n_outputs];
            status = segcam_cli_fail (command, EXIT_INPUT, "%s '%s' is the same file as %s '%s'; "
                                      "write to another file", o->option, o->path, other->option,
                                      other->path);
          }
    }
  for (int i = 0; i < n_outputs + n_inputs; i++)
    g_free (ids[i].name);
  g_free (ids);
  g_free (known);
  return status;
}

/* ---- atomic writes ---------------------------------------------------------------------------- */

/* The temporary file being written, for the signal handler: set only once complete, so the
 * handler (which may only call async-signal-safe functions) never sees half a string. */
static char *volatile pending;

static void
remove_pending (int sig)
{
  char *p = pending;
  if (p)
    unlink (p);
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
install_handlers (void)
{
  static gboolean done;
  if (done)
    return;
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < G_N_ELEMENTS (sigs); i++)
    {
      struct sigaction sa = {0}, old;
      sa.sa_handler = remove_pending;
      sigemptyset (&sa.sa_mask);
      /* A signal ignored on purpose (nohup) stays ignored. */
      if (sigaction (sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction (sigs[i], &sa, NULL);
    }
  /* Past a file-size limit (ulimit -f) a write should fail, and be reported, rather than kill the
   * program with the temporary file left behind. */
  signal (SIGXFSZ, SIG_IGN);
  done = TRUE;
}

/* Forces tmp's data to disk: a rename is only safe once the blocks it names are written (a full
 * disk may show only here). */
static gboolean
flush_file (const char *tmp, GError **error)
{
  int fd = g_open (tmp, O_WRONLY | O_CLOEXEC, 0);
  struct stat st;
  gboolean ok = fd >= 0 && fsync (fd) == 0 && fstat (fd, &st) == 0;
  int saved = errno;
  if (fd >= 0)
    close (fd);
  if (!ok)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s", g_strerror (saved));
  else if (st.st_size == 0) /* no format segcam writes is empty: the writer failed unseen */
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "nothing was written");
  return ok && st.st_size > 0;
}

gboolean
segcam_write_atomically (const char *path, segcam_writer write, gpointer data, GError **error)
{
  install_handlers ();
  char *target = resolve (path), *dir = g_path_get_dirname (target);
  char *base = g_path_get_basename (target), *tmp = NULL;
  GError *err = NULL;
  GStatBuf st;
  /* The name is whole before the signal handler can see it, and O_EXCL makes sure it was free, so
   * a signal at any moment removes at most the file this call made. (mkstemp fills its template in
   * place, and a signal between its open and the handler learning the name left the file behind.)
   * The file is then removed again for the writer to create, since GIO (under GEGL's savers)
   * replaces an existing file through a temporary file of its own, which would outlive a signal. */
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 64; attempt++)
    {
      pending = NULL;
      g_free (tmp);
      char *name = g_strdup_printf (".%s.%d-%08x", base, (int) getpid (), g_random_int ());
      tmp = g_build_filename (dir, name, NULL);
      g_free (name);
      pending = tmp;
      fd = g_open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0 && errno != EEXIST)
        break;
    }
  if (fd < 0)
    {
      pending = NULL;
      g_set_error (&err, G_FILE_ERROR, g_file_error_from_errno (errno), "%s", g_strerror (errno));
    }
  else
    {
      close (fd);
      g_unlink (tmp);
      /* A replaced file keeps its permissions; a new one gets what the umask allows. */
      if (write (tmp, data, &err) && flush_file (tmp, &err)
          && ((g_stat (target, &st) == 0 && g_chmod (tmp, st.st_mode & 07777) != 0)
              || g_rename (tmp, target) != 0))
        g_set_error (&err, G_FILE_ERROR, g_file_error_from_errno (errno), "%s", g_strerror (errno));
      if (err)
        g_unlink (tmp);
      pending = NULL;
    }
  gboolean ok = err == NULL;
  if (!ok)
    {
      /* The writer names the file it was given; the user knows only path. */
      GString *message = g_string_new (err->message);
      if (g_string_replace (message, tmp, path, 0) == 0)
        g_string_printf (message, "cannot write '%s': %s", path, err->message);
      g_set_error_literal (error, err->domain, err->code, message->str);
      g_string_free (message, TRUE);
      g_error_free (err);
    }
  else
    {
      /* The rename itself reaches the disk only with the folder. */
      int dfd = g_open (dir, O_RDONLY | O_CLOEXEC, 0);
      if (dfd >= 0)
        fsync (dfd), close (dfd);
    }
  g_free (target), g_free (dir), g_free (base), g_free (tmp);
  return ok;
}
