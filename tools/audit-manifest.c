/* audit-manifest.c — reads segcam audit's manifest (audit-manifest.h). */
#include "audit-manifest.h"

#include "audit-csv.h"
#include "segcam.h"

#include <string.h>

static void
item_free (segcam_audit_item *item)
{
  g_free (item->image);
  g_free (item->image_path);
  g_free (item->roi_path);
  g_free (item->labels_path);
  g_free (item->context_path);
  g_free (item->error);
  g_free (item);
}

/* A path of the manifest, relative to its folder; NULL for an empty field. */
static char *
resolve (const char *folder, const char *field)
{
  if (field == NULL || *field == '\0')
    return NULL;
  return g_path_is_absolute (field) ? g_strdup (field) : g_build_filename (folder, field, NULL);
}

GPtrArray *
segcam_audit_manifest_load (const char *path, GError **error)
{
  char *text;
  gsize length;
  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  char *what = g_strdup_printf ("manifest %s", path);
  GArray *lines = NULL;
  GPtrArray *records = segcam_csv_parse (text, length, what, &lines, error);
  g_free (text);
  if (!records)
    {
      g_free (what);
      return NULL;
    }
  enum { IMAGE, ROI, LABELS, CONTEXT, N_COLUMNS };
  static const char *const names[N_COLUMNS] = {"image", "roi", "labels", "context"};
  int column[N_COLUMNS] = {-1, -1, -1, -1};
  char **header = records->len ? records->pdata[0] : NULL;
  for (int c = 0; header && header[c]; c++)
    for (int k = 0; k < N_COLUMNS; k++)
      if (strcmp (g_strstrip (header[c]), names[k]) == 0)
        {
          if (column[k] >= 0)
            {
              g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s names column '%s' twice",
                           what, names[k]);
              header = NULL;
              break;
            }
          column[k] = c;
        }
  GPtrArray *items = NULL;
  if (header && column[IMAGE] < 0)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s has no 'image' column in its "
                 "header row (%s)", what, records->len ? "its first line" : "the file is empty");
  else if (header)
    {
      char *folder = g_path_get_dirname (path);
      items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
      int n_header = (int) g_strv_length (header);
      for (guint r = 1; r < records->len; r++)
        {
          char **fields = records->pdata[r];
          segcam_audit_item *item = g_new0 (segcam_audit_item, 1);
          item->row = (int) r - 1;
          item->line = g_array_index (lines, int, r);
          int n = (int) g_strv_length (fields);
          item->image = g_strdup (column[IMAGE] < n ? fields[column[IMAGE]] : "");
          if (n != n_header)
            item->error = g_strdup_printf ("%s, line %d: %d fields where the header has %d", what,
                                           item->line, n, n_header);
          else if (*item->image == '\0')
            item->error = g_strdup_printf ("%s, line %d: no image", what, item->line);
          else
            {
              item->image_path = resolve (folder, fields[column[IMAGE]]);
              char **optional[] = {&item->roi_path, &item->labels_path, &item->context_path};
              for (int k = ROI; k < N_COLUMNS; k++)
                if (column[k] >= 0)
                  *optional[k - ROI] = resolve (folder, fields[column[k]]);
            }
          g_ptr_array_add (items, item);
        }
      g_free (folder);
    }
  g_ptr_array_free (records, TRUE);
  g_array_free (lines, TRUE);
  g_free (what);
  return items;
}
