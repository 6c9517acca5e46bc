/* audit-merge.c — the merge of segcam audit's shards (audit-merge.h). */
#include "audit-merge.h"

#include "audit-report.h"
#include "audit-settings.h"
#include "audit-shard.h"
#include "audit-table.h"
#include "cli.h"

#include <string.h>

/* The shard files of dir, all of one count; NULL with the error. */
static GPtrArray *
find_shards (const char *dir, GError **error)
{
  GDir *d = g_dir_open (dir, 0, error);
  if (!d)
    return NULL;
  int count = 0;
  gboolean *seen = NULL;
  const char *name;
  while (!*error && (name = g_dir_read_name (d)))
    {
      segcam_audit_shard s;
      if (!segcam_audit_shard_from_name (name, &s))
        continue;
      if (count && s.count != count)
        g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s holds shards of %d and of %d: "
                     "remove those of the run that is not wanted", dir, count, s.count);
      else if (!count)
        count = s.count, seen = g_new0 (gboolean, count);
      if (!*error)
        seen[s.index] = TRUE;
    }
  g_dir_close (d);
  if (!*error && !count)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s holds no shard-I-of-N.csv file: "
                 "run segcam audit --out %s first", dir, dir);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; !*error && i < count; i++)
    {
      segcam_audit_shard s = {i, count};
      char *path = segcam_audit_shard_path (dir, s);
      if (!seen[i])
        g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s is missing: run shard %d of %d",
                     path, i, count);
      g_ptr_array_add (paths, path);
    }
  g_free (seen);
  if (*error)
    {
      g_ptr_array_free (paths, TRUE);
      return NULL;
    }
  return paths;
}

/* The rows of 0..rows-1 that no record has, as "3, 7, 12" (the first few) in missing; TRUE if
 * none. */
static gboolean
complete (GPtrArray *records, int rows, int shards, GString *missing)
{
  gboolean *has = g_new0 (gboolean, rows);
  for (guint r = 0; r < records->len; r++)
    {
      int row = segcam_audit_record_row (records->pdata[r]);
      if (row < rows)
        has[row] = TRUE;
    }
  int n = 0;
  for (int row = 0; row < rows; row++)
    if (!has[row] && n++ < 10)
      g_string_append_printf (missing, "%s%d (shard %d)", n > 1 ? ", " : "", row, row % shards);
  if (n > 10)
    g_string_append_printf (missing, " and %d more", n - 10);
  g_free (has);
  return n == 0;
}

/* A row's records name each class x method once: a shard that ran a row twice (two processes
 * given the same shard at once) shows here. 0 or the exit status with the error printed. */
static int
check_unique (GPtrArray *records)
{
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int status = 0;
  for (guint r = 0; r < records->len && status == 0; r++)
    {
      char **rec = records->pdata[r];
      char *key = g_strdup_printf ("%s\t%s", rec[SEGCAM_AUDIT_CLASS], rec[SEGCAM_AUDIT_METHOD]);
      if (!g_hash_table_add (seen, key))
        status = segcam_cli_fail ("audit", EXIT_INPUT, "row %s has two records of class '%s', "
                                  "method '%s': was its shard run twice at once?", rec[SEGCAM_AUDIT_ROW],
                                  rec[SEGCAM_AUDIT_CLASS], rec[SEGCAM_AUDIT_METHOD]);
    }
  g_hash_table_destroy (seen);
  return status;
}

int
segcam_audit_merge (const char *dir, int threads)
{
  GError *error = NULL;
  segcam_audit_settings settings;
  if (!segcam_audit_settings_load (dir, &settings, &error))
    return segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  GPtrArray *paths = find_shards (dir, &error);
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  int status = paths ? 0 : segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  /* Each shard file is in row order and shards share no row, so merging them by row gives the one
   * order a single process writes, whatever the number of shards. */
  for (guint s = 0; status == 0 && s < paths->len; s++)
    {
      GPtrArray *records = segcam_audit_table_read (paths->pdata[s], &error);
      if (!records)
        {
          status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
          break;
        }
      for (guint r = 0; r < records->len; r++)
        {
          int row = segcam_audit_record_row (records->pdata[r]);
          if (row >= settings.rows || row % (int) paths->len != (int) s)
            status = segcam_cli_fail ("audit", EXIT_INPUT, "%s holds row %d, which is not its "
                                      "shard's of a %d-row manifest", (char *) paths->pdata[s],
                                      row, settings.rows);
        }
      g_ptr_array_extend_and_steal (all, records);
    }
  if (status == 0)
    {
      /* Stable by row: a row's records keep the order its shard wrote them in. */
      guint n = all->len;
      GPtrArray *sorted = g_ptr_array_new_full (n, (GDestroyNotify) g_strfreev);
      GPtrArray **by_row = g_new0 (GPtrArray *, settings.rows);
      for (guint r = 0; r < n; r++)
        {
          int row = segcam_audit_record_row (all->pdata[r]);
          if (!by_row[row])
            by_row[row] = g_ptr_array_new ();
          g_ptr_array_add (by_row[row], all->pdata[r]);
        }
      for (int row = 0; row < settings.rows; row++)
        if (by_row[row])
          {
            if (status == 0)
              status = check_unique (by_row[row]);
            g_ptr_array_extend (sorted, by_row[row], NULL, NULL);
            g_ptr_array_free (by_row[row], TRUE);
          }
      g_free (by_row);
      g_ptr_array_set_free_func (all, NULL);
      g_ptr_array_free (all, TRUE);
      all = sorted;
    }
  GString *missing = g_string_new (NULL);
  if (status == 0 && !complete (all, settings.rows, (int) paths->len, missing))
    status = segcam_cli_fail ("audit", EXIT_INPUT, "%s is not complete: rows %s have no record "
                              "yet (rerun their shards)", dir, missing->str);
  g_string_free (missing, TRUE);
  char *table = g_build_filename (dir, "audit.csv", NULL);
  char *report = g_build_filename (dir, "report.html", NULL);
  if (status == 0 && !segcam_audit_table_write (table, all, &error))
    status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  if (status == 0 && !segcam_audit_report_write (dir, all, &settings, threads, &error))
    status = segcam_cli_fail_error ("audit", EXIT_INPUT, &error);
  if (status == 0)
    {
      int failed = 0;
      for (guint r = 0; r < all->len; r++)
        failed += *((char **) all->pdata[r])[SEGCAM_AUDIT_ERROR] != '\0';
      segcam_cli_print ("%s: %u records of %d rows from %u shards, %d with an error; %s", table,
                        all->len, settings.rows, paths->len, failed, report);
      if (failed)
        status = segcam_cli_fail ("audit", EXIT_INPUT, "%d records hold an error (column error of "
                                  "%s)", failed, table);
    }
  g_free (table);
  g_free (report);
  g_ptr_array_free (all, TRUE);
  if (paths)
    g_ptr_array_free (paths, TRUE);
  segcam_audit_settings_clear (&settings);
  return status;
}
