/* audit-table.c — the columns, numbers and files of segcam audit's table (audit-table.h). */
#include "audit-table.h"

#include "audit-csv.h"
#include "output.h"
#include "segcam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const segcam_audit_columns[SEGCAM_AUDIT_N_COLUMNS] = {
  "row", "image", "class", "method", "layer", "roi_weight", "score", "map_max", "label_iou",
  "roi_energy_share", "context_share", "context_mask_share", "deletion_auc", "insertion_auc",
  "road_morf", "road_lerf", "road_score", "error",
};

char *
segcam_audit_format_number (double value)
{
  if (isnan (value))
    return g_strdup ("");
  /* main () keeps LC_NUMERIC at "C", so the decimal point is a point whatever the user's locale. */
  return g_strdup_printf ("%.9g", value);
}

double
segcam_audit_field_number (const char *field)
{
  return *field ? g_ascii_strtod (field, NULL) : NAN;
}

int
segcam_audit_record_row (char **record)
{
  return atoi (record[SEGCAM_AUDIT_ROW]);
}

char **
segcam_audit_record_new (int row, const char *image)
{
  char **record = g_new0 (char *, SEGCAM_AUDIT_N_COLUMNS + 1);
  for (int c = 0; c < SEGCAM_AUDIT_N_COLUMNS; c++)
    record[c] = g_strdup ("");
  g_free (record[SEGCAM_AUDIT_ROW]);
  g_free (record[SEGCAM_AUDIT_IMAGE]);
  record[SEGCAM_AUDIT_ROW] = g_strdup_printf ("%d", row);
  record[SEGCAM_AUDIT_IMAGE] = g_strdup (image);
  return record;
}

GPtrArray *
segcam_audit_table_read (const char *path, GError **error)
{
  char *text;
  gsize length;
  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  GArray *lines = NULL;
  GPtrArray *records = segcam_csv_parse (text, length, path, &lines, error);
  g_free (text);
  if (!records)
    return NULL;
  const char *problem = NULL;
  int line = 1;
  for (guint r = 0; r < records->len && !problem; r++)
    {
      char **record = records->pdata[r];
      line = g_array_index (lines, int, r);
      guint64 row;
      if (g_strv_length (record) != SEGCAM_AUDIT_N_COLUMNS)
        problem = "not the columns of this version of segcam audit";
      else if (r == 0)
        {
          for (int c = 0; c < SEGCAM_AUDIT_N_COLUMNS && !problem; c++)
            if (strcmp (record[c], segcam_audit_columns[c]) != 0)
              problem = "not the header of this version of segcam audit";
        }
      else if (!g_ascii_string_to_unsigned (record[SEGCAM_AUDIT_ROW], 10, 0, G_MAXINT, &row, NULL))
        problem = "the row field is not a row number";
    }
  if (!problem && records->len == 0)
    problem = "no header";
  g_array_free (lines, TRUE);
  if (problem)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s, line %d: %s", path, line, problem);
      g_ptr_array_free (records, TRUE);
      return NULL;
    }
  g_ptr_array_remove_index (records, 0);
  return records;
}

/* In place, without GLib's own temporary file (which a signal could leave behind):
 * segcam_write_atomically has made the fresh name already and flushes it. */
static gboolean
write_text (const char *path, gpointer data, GError **error)
{
  const GString *text = data;
  return g_file_set_contents_full (path, text->str, (gssize) text->len, G_FILE_SET_CONTENTS_NONE,
                                   0666, error);
}

gboolean
segcam_audit_write_text (const char *path, const GString *text, GError **error)
{
  return segcam_write_atomically (path, write_text, (gpointer) text, error);
}

gboolean
segcam_audit_table_write (const char *path, GPtrArray *records, GError **error)
{
  GString *text = g_string_new (NULL);
  segcam_csv_append_record (text, segcam_audit_columns, SEGCAM_AUDIT_N_COLUMNS);
  for (guint r = 0; r < records->len; r++)
    segcam_csv_append_record (text, (const char *const *) records->pdata[r], SEGCAM_AUDIT_N_COLUMNS);
  gboolean ok = segcam_audit_write_text (path, text, error);
  g_string_free (text, TRUE);
  return ok;
}
