/* audit-shard.c — shards of segcam audit (audit-shard.h). */
#include "audit-shard.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>

/* One of Slurm's array variables as a whole number, or -1 when unset. */
static gint64
slurm_number (const char *name, GError **error)
{
  const char *v = g_getenv (name);
  gint64 n = -1;
  if (v && !g_ascii_string_to_signed (v, 10, 0, G_MAXINT, &n, NULL))
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s is '%s', not a task number", name, v);
  return n;
}

gboolean
segcam_audit_shard_resolve (const char *text, segcam_audit_shard *shard, int *status,
                            GError **error)
{
  shard->index = 0, shard->count = 1;
  if (text)
    {
      int v[2];
      char *sep = strchr (text, '/');
      char *with_comma = g_strdup (text);
      if (sep)
        with_comma[sep - text] = ',';
      gboolean ok = sep && segcam_cli_parse_ints (with_comma, ',', 2, 0, v) && v[1] >= 1 && v[0] < v[1];
      g_free (with_comma);
      if (!ok)
        {
          *status = EXIT_USAGE;
          g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "--shard must be I/N with "
                       "0 <= I < N, not '%s'", text);
          return FALSE;
        }
      shard->index = v[0], shard->count = v[1];
      return TRUE;
    }
  GError *err = NULL;
  gint64 id = slurm_number ("SLURM_ARRAY_TASK_ID", &err);
  gint64 count = err ? -1 : slurm_number ("SLURM_ARRAY_TASK_COUNT", &err);
  gint64 min = err ? -1 : slurm_number ("SLURM_ARRAY_TASK_MIN", &err);
  gint64 max = err ? -1 : slurm_number ("SLURM_ARRAY_TASK_MAX", &err);
  if (!err && id >= 0 && (count < 1 || min < 0 || max - min + 1 != count || id < min || id > max))
    g_set_error (&err, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "the Slurm array's task ids %s..%s "
                 "(%s tasks) are not consecutive: pass --shard I/N", g_getenv ("SLURM_ARRAY_TASK_MIN"),
                 g_getenv ("SLURM_ARRAY_TASK_MAX"), g_getenv ("SLURM_ARRAY_TASK_COUNT"));
  if (err)
    {
      *status = EXIT_INPUT;
      g_propagate_error (error, err);
      return FALSE;
    }
  if (id >= 0)
    shard->index = (int) (id - min), shard->count = (int) count;
  return TRUE;
}

char *
segcam_audit_shard_path (const char *dir, segcam_audit_shard shard)
{
  char *name = g_strdup_printf ("shard-%d-of-%d.csv", shard.index, shard.count);
  char *path = g_build_filename (dir, name, NULL);
  g_free (name);
  return path;
}

gboolean
segcam_audit_shard_from_name (const char *name, segcam_audit_shard *shard)
{
  int i, n, end = 0;
  if (sscanf (name, "shard-%d-of-%d.csv%n", &i, &n, &end) != 2 || name[end] != '\0')
    return FALSE;
  /* Only the name this program writes: no leading zeros, signs or spaces. */
  char *again = g_strdup_printf ("shard-%d-of-%d.csv", i, n);
  gboolean ok = strcmp (again, name) == 0 && n >= 1 && i >= 0 && i < n;
  g_free (again);
  shard->index = i, shard->count = n;
  return ok;
}
