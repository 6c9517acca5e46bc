/* audit-report.c — the HTML report of a merged audit, its plots drawn with cairo (audit-report.h). */
#include "audit-report.h"

#include "audit-manifest.h"
#include "audit-run.h"
#include "audit-table.h"
#include "output.h"

#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The shares the plots show, as columns of the table. */
static const struct {
  SegcamAuditColumn column;
  const char *title;
} shares[] = {
  {SEGCAM_AUDIT_CONTEXT_MASK_SHARE, "share of the map on the context mask"},
  {SEGCAM_AUDIT_CONTEXT_SHARE, "share of the map outside the ROI"},
  {SEGCAM_AUDIT_ROI_ENERGY_SHARE, "share of the map inside the ROI"},
};
#define N_SHARES G_N_ELEMENTS (shares)

/* How many records the gallery shows. */
#define GALLERY 12

/* The records of one method and class. */
typedef struct {
  const char *method, *cls;
  int order;                     /* the class's index in the model, for the plots' order */
  GArray *values[N_SHARES];      /* doubles, NaN left out */
  GArray *deletion, *insertion;
  int records, failed;
} group;

static void
group_free (group *g)
{
  for (guint s = 0; s < N_SHARES; s++)
    g_array_free (g->values[s], TRUE);
  g_array_free (g->deletion, TRUE);
  g_array_free (g->insertion, TRUE);
  g_free (g);
}

static void
add_value (GArray *values, const char *field)
{
  double v = segcam_audit_field_number (field);
  if (!isnan (v))
    g_array_append_val (values, v);
}

static int
compare_groups (gconstpointer a, gconstpointer b)
{
  const group *x = *(group *const *) a, *y = *(group *const *) b;
  int m = strcmp (x->method, y->method);
  if (m)
    return m;
  return x->order != y->order ? (x->order < y->order ? -1 : 1) : strcmp (x->cls, y->cls);
}

/* The groups of the records, by method then class; model (may be NULL) orders the classes. */
static GPtrArray *
group_records (GPtrArray *records, const segcam_model *model)
{
  GHashTable *index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *groups = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
  for (guint r = 0; r < records->len; r++)
    {
      char **rec = records->pdata[r];
      if (*rec[SEGCAM_AUDIT_CLASS] == '\0')
        continue; /* a row that failed before any class */
      char *key = g_strdup_printf ("%s\t%s", rec[SEGCAM_AUDIT_METHOD], rec[SEGCAM_AUDIT_CLASS]);
      group *g = g_hash_table_lookup (index, key);
      if (!g)
        {
          g = g_new0 (group, 1);
          g->method = rec[SEGCAM_AUDIT_METHOD], g->cls = rec[SEGCAM_AUDIT_CLASS];
          g->order = model ? segcam_model_find_class (model, g->cls) : 0;
          for (guint s = 0; s < N_SHARES; s++)
            g->values[s] = g_array_new (FALSE, FALSE, sizeof (double));
          g->deletion = g_array_new (FALSE, FALSE, sizeof (double));
          g->insertion = g_array_new (FALSE, FALSE, sizeof (double));
          g_hash_table_insert (index, key, g);
          g_ptr_array_add (groups, g);
        }
      else
        g_free (key);
      g->records++;
      g->failed += *rec[SEGCAM_AUDIT_ERROR] != '\0';
      for (guint s = 0; s < N_SHARES; s++)
        add_value (g->values[s], rec[shares[s].column]);
      add_value (g->deletion, rec[SEGCAM_AUDIT_DELETION_AUC]);
      add_value (g->insertion, rec[SEGCAM_AUDIT_INSERTION_AUC]);
    }
  g_hash_table_destroy (index);
  g_ptr_array_sort (groups, compare_groups);
  return groups;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
mean (GArray *v)
{
  double s = 0;
  for (guint i = 0; i < v->len; i++)
    s += g_array_index (v, double, i);
  return v->len ? s / v->len : NAN;
}

/* The q-quantile of sorted values, linearly interpolated. */
static double
quantile (const double *sorted, guint n, double q)
{
  double at = q * (n - 1);
  guint lo = (guint) floor (at), hi = MIN (lo + 1, n - 1);
  return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
}

/* ---- plots ------------------------------------------------------------------------------- */

static gboolean
write_png (const char *path, gpointer surface, GError **error)
{
  cairo_status_t st = cairo_surface_write_to_png (surface, path);
  if (st != CAIRO_STATUS_SUCCESS)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write '%s': %s", path,
                 cairo_status_to_string (st));
  return st == CAIRO_STATUS_SUCCESS;
}

enum { PLOT_W = 760, PLOT_H = 400, LEFT = 64, RIGHT = 72, TOP = 40, BOTTOM = 96 };

/* A distribution per class of one method: every value as a dot (spread sideways by a fixed
 * pattern, so the picture is the same on every run), the quartiles as a box, the median as a line
 * and the mean as a red diamond. */
static gboolean
plot_share (const char *path, GPtrArray *groups, const char *method, guint share, GError **error)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, PLOT_W, PLOT_H);
  cairo_t *cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  double x0 = LEFT, x1 = PLOT_W - RIGHT, y0 = PLOT_H - BOTTOM, y1 = TOP;
  /* Axes and grid: shares lie in [0, 1]. */
  cairo_set_font_size (cr, 12);
  for (int t = 0; t <= 4; t++)
    {
      double y = y0 + (y1 - y0) * t / 4.0;
      cairo_set_source_rgb (cr, 0.85, 0.85, 0.85);
      cairo_set_line_width (cr, 1);
      cairo_move_to (cr, x0, y + 0.5), cairo_line_to (cr, x1, y + 0.5);
      cairo_stroke (cr);
      char label[16];
      g_snprintf (label, sizeof label, "%.2f", t / 4.0);
      cairo_text_extents_t ext;
      cairo_text_extents (cr, label, &ext);
      cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
      cairo_move_to (cr, x0 - 8 - ext.width, y + ext.height / 2);
      cairo_show_text (cr, label);
    }
  cairo_set_font_size (cr, 14);
  char *title = g_strdup_printf ("%s — %s, per class", shares[share].title, method);
  cairo_move_to (cr, x0, 24);
  cairo_show_text (cr, title);
  g_free (title);
  int n = 0;
  for (guint i = 0; i < groups->len; i++)
    n += strcmp (((group *) groups->pdata[i])->method, method) == 0;
  double slot = (x1 - x0) / MAX (n, 1);
  int k = 0;
  cairo_set_font_size (cr, 12);
  for (guint i = 0; i < groups->len; i++)
    {
      group *g = groups->pdata[i];
      if (strcmp (g->method, method) != 0)
        continue;
      double cx = x0 + slot * (k++ + 0.5), half = MIN (slot * 0.3, 30);
      GArray *v = g->values[share];
      if (v->len > 0)
        {
          double *sorted = g_memdup2 (v->data, v->len * sizeof (double));
          qsort (sorted, v->len, sizeof (double), compare_doubles);
          double q1 = quantile (sorted, v->len, 0.25), q2 = quantile (sorted, v->len, 0.5);
          double q3 = quantile (sorted, v->len, 0.75);
          g_free (sorted);
          cairo_set_source_rgba (cr, 0.25, 0.45, 0.85, 0.25);
          cairo_rectangle (cr, cx - half, y0 + (y1 - y0) * q3, 2 * half, (y1 - y0) * (q1 - q3));
          cairo_fill (cr);
          cairo_set_source_rgb (cr, 0.1, 0.2, 0.6);
          cairo_set_line_width (cr, 2);
          cairo_move_to (cr, cx - half, y0 + (y1 - y0) * q2), cairo_line_to (cr, cx + half, y0 + (y1 - y0) * q2);
          cairo_stroke (cr);
          cairo_set_source_rgba (cr, 0.1, 0.1, 0.1, 0.45);
          for (guint j = 0; j < v->len; j++)
            {
              /* The golden ratio's fractions spread the dots evenly across the slot. */
              double spread = fmod (j * 0.6180339887, 1.0) * 2 - 1;
              cairo_arc (cr, cx + spread * half * 0.9, y0 + (y1 - y0) * g_array_index (v, double, j),
                         2, 0, 2 * G_PI);
              cairo_fill (cr);
            }
          double m = mean (v), my = y0 + (y1 - y0) * m;
          cairo_set_source_rgb (cr, 0.85, 0.1, 0.1);
          cairo_move_to (cr, cx, my - 6), cairo_line_to (cr, cx + 6, my);
          cairo_line_to (cr, cx, my + 6), cairo_line_to (cr, cx - 6, my);
          cairo_close_path (cr);
          cairo_fill (cr);
        }
      /* The class's name below its slot, slanted so that long names fit. */
      cairo_save (cr);
      cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
      cairo_move_to (cr, cx, y0 + 14);
      cairo_rotate (cr, G_PI / 5);
      char *label = g_strdup_printf ("%s (%u)", g->cls, v->len);
      cairo_show_text (cr, label);
      g_free (label);
      cairo_restore (cr);
    }
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  gboolean ok = segcam_write_atomically (path, write_png, surface, error);
  cairo_surface_destroy (surface);
  return ok;
}

/* ---- gallery ----------------------------------------------------------------------------- */

/* One record's image with its map over it, half and half as segcam explain --overlay makes it,
 * and the ROI's edge in white; scaled to about 192 pixels across. */
static gboolean
gallery_image (const char *path, const float *rgb, const float *map, const float *roi, int w,
               int h, GError **error)
{
  size_t n = (size_t) w * h;
  uint8_t *heat = g_new (uint8_t, 3 * n);
  segcam_colormap_apply (SEGCAM_COLORMAP_JET, map, n, heat);
  cairo_surface_t *src = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_surface_flush (src);
  uint8_t *data = cairo_image_surface_get_data (src);
  int stride = cairo_image_surface_get_stride (src);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = (size_t) y * w + x;
        gboolean inside = roi[i] > 0;
        gboolean edge = inside && (x == 0 || y == 0 || x == w - 1 || y == h - 1 || roi[i - 1] <= 0
                                   || roi[i + 1] <= 0 || roi[i - w] <= 0 || roi[i + w] <= 0);
        uint32_t px = 0xffffff;
        if (!edge)
          {
            px = 0;
            for (int c = 0; c < 3; c++)
              px = px << 8 | (uint8_t) (0.5f * heat[3 * i + c] + 127.5f * CLAMP (rgb[3 * i + c], 0.0f, 1.0f) + 0.5f);
          }
        *(uint32_t *) (data + (size_t) y * stride + 4 * x) = px;
      }
  cairo_surface_mark_dirty (src);
  g_free (heat);
  double scale = 192.0 / MAX (w, h);
  int ow = MAX (1, (int) lround (w * scale)), oh = MAX (1, (int) lround (h * scale));
  cairo_surface_t *out = cairo_image_surface_create (CAIRO_FORMAT_RGB24, ow, oh);
  cairo_t *cr = cairo_create (out);
  cairo_scale (cr, scale, scale);
  cairo_set_source_surface (cr, src, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), scale >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_destroy (cr);
  cairo_surface_flush (out);
  gboolean ok = segcam_write_atomically (path, write_png, out, error);
  cairo_surface_destroy (out);
  cairo_surface_destroy (src);
  return ok;
}

static int
compare_context (gconstpointer a, gconstpointer b)
{
  char **x = *(char **const *) a, **y = *(char **const *) b;
  double u = segcam_audit_field_number (x[SEGCAM_AUDIT_CONTEXT_SHARE]);
  double v = segcam_audit_field_number (y[SEGCAM_AUDIT_CONTEXT_SHARE]);
  if (u != v)
    return u > v ? -1 : 1;
  return segcam_audit_record_row (x) - segcam_audit_record_row (y);
}

/* The gallery's figures, or why there are none. */
static void
write_gallery (GString *html, const char *dir, GPtrArray *records,
               const segcam_audit_settings *settings, segcam_model *model, const char *model_error,
               int threads, GError **error)
{
  GPtrArray *ranked = g_ptr_array_new ();
  for (guint r = 0; r < records->len; r++)
    if (!isnan (segcam_audit_field_number (((char **) records->pdata[r])[SEGCAM_AUDIT_CONTEXT_SHARE])))
      g_ptr_array_add (ranked, records->pdata[r]);
  g_ptr_array_sort (ranked, compare_context);
  g_string_append (html, "<h2>Maps that leave the ROI most</h2>\n");
  GError *why = NULL;
  GPtrArray *items = model ? segcam_audit_manifest_load (settings->manifest, &why) : NULL;
  if (!items)
    {
      char *text = g_markup_escape_text (model ? why->message : model_error, -1);
      g_string_append_printf (html, "<p class=note>No gallery: %s</p>\n", text);
      g_free (text);
      g_clear_error (&why);
      g_ptr_array_free (ranked, TRUE);
      return;
    }
  segcam_audit_run run = {.model = model, .layer = segcam_model_find_node (model, settings->layer),
                          .threads = threads};
  g_string_append (html, "<p>The records with the largest context share (the map's energy "
                   "outside the ROI), the map over the image, the ROI's edge in white.</p>\n"
                   "<div class=gallery>\n");
  for (guint k = 0; k < MIN (ranked->len, GALLERY) && !*error; k++)
    {
      char **rec = ranked->pdata[k];
      int row = segcam_audit_record_row (rec);
      int cls = segcam_model_find_class (model, rec[SEGCAM_AUDIT_CLASS]);
      int method = segcam_method_from_name (rec[SEGCAM_AUDIT_METHOD]);
      float *rgb, *map, *roi;
      int w = 0, h = 0;
      char *name = g_strdup_printf ("gallery-%u.png", k);
      char *png = g_build_filename (dir, name, NULL);
      GError *err = NULL;
      if (row >= (int) items->len || cls < 0 || method < 0 || run.layer < 0)
        g_set_error (&err, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "the model or manifest changed since the audit");
      else if (segcam_audit_run_map (&run, items->pdata[row], cls, method, &rgb, &map, &roi, &w, &h, &err))
        gallery_image (png, rgb, map, roi, w, h, error);
      char *image = g_markup_escape_text (rec[SEGCAM_AUDIT_IMAGE], -1);
      char *cname = g_markup_escape_text (rec[SEGCAM_AUDIT_CLASS], -1);
      if (err)
        {
          char *text = g_markup_escape_text (err->message, -1);
          g_string_append_printf (html, "<figure><figcaption>%s, %s: %s</figcaption></figure>\n",
                                  image, cname, text);
          g_free (text);
          g_error_free (err);
        }
      else
        {
          g_free (rgb), g_free (map), g_free (roi);
          g_string_append_printf (html, "<figure><img src=\"%s\" alt=\"%s, %s\"><figcaption>%s<br>"
                                  "%s, %s<br>context share %s</figcaption></figure>\n", name, image,
                                  cname, image, cname, rec[SEGCAM_AUDIT_METHOD],
                                  rec[SEGCAM_AUDIT_CONTEXT_SHARE]);
        }
      g_free (image), g_free (cname), g_free (name), g_free (png);
    }
  g_string_append (html, "</div>\n");
  segcam_audit_run_clear (&run);
  g_ptr_array_free (items, TRUE);
  g_ptr_array_free (ranked, TRUE);
}

/* ---- the page ---------------------------------------------------------------------------- */

/* The finding as a number: per method, the class whose maps lie most on the context mask (else
 * outside the ROI), against all other classes' records. */
static void
write_finding (GString *html, GPtrArray *groups)
{
  guint share = 0;
  gboolean any = FALSE;
  for (guint i = 0; i < groups->len && !any; i++)
    any = ((group *) groups->pdata[i])->values[0]->len > 0;
  if (!any)
    share = 1;
  g_string_append (html, "<h2>Finding</h2>\n<ul>\n");
  for (guint i = 0; i < groups->len;)
    {
      const char *method = ((group *) groups->pdata[i])->method;
      group *top = NULL;
      guint j = i;
      for (; j < groups->len && strcmp (((group *) groups->pdata[j])->method, method) == 0; j++)
        {
          group *g = groups->pdata[j];
          if (g->values[share]->len && (!top || mean (g->values[share]) > mean (top->values[share])))
            top = g;
        }
      if (top)
        {
          GArray *rest = g_array_new (FALSE, FALSE, sizeof (double));
          for (guint k = i; k < j; k++)
            if (groups->pdata[k] != top)
              g_array_append_vals (rest, ((group *) groups->pdata[k])->values[share]->data,
                                   ((group *) groups->pdata[k])->values[share]->len);
          char *cname = g_markup_escape_text (top->cls, -1);
          double m = mean (top->values[share]), others = mean (rest);
          g_string_append_printf (html, "<li class=finding>%s: <b>%s</b> has the largest %s, "
                                  "<b>%.3f</b> on average over %u records", method, cname,
                                  shares[share].title, m, top->values[share]->len);
          if (rest->len)
            g_string_append_printf (html, ", against %.3f over the %u records of the other "
                                    "classes", others, rest->len);
          if (rest->len && others > 0)
            g_string_append_printf (html, " (%.1f times as much)", m / others);
          g_string_append (html, ".</li>\n");
          g_free (cname);
          g_array_free (rest, TRUE);
        }
      i = j;
    }
  g_string_append (html, "</ul>\n");
}

static void
append_mean (GString *html, GArray *v)
{
  if (v->len)
    g_string_append_printf (html, "<td>%.3f</td>", mean (v));
  else
    g_string_append (html, "<td>–</td>");
}

static void
write_table (GString *html, GPtrArray *groups)
{
  g_string_append (html, "<h2>Per class</h2>\n<table>\n<tr><th>method</th><th>class</th>"
                   "<th>records</th><th>failed</th><th>ROI share</th><th>context share</th>"
                   "<th>context-mask share</th><th>deletion AUC</th><th>insertion AUC</th></tr>\n");
  for (guint i = 0; i < groups->len; i++)
    {
      group *g = groups->pdata[i];
      char *cname = g_markup_escape_text (g->cls, -1);
      g_string_append_printf (html, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%d</td>", g->method,
                              cname, g->records, g->failed);
      g_free (cname);
      append_mean (html, g->values[2]);
      append_mean (html, g->values[1]);
      append_mean (html, g->values[0]);
      append_mean (html, g->deletion);
      append_mean (html, g->insertion);
      g_string_append (html, "</tr>\n");
    }
  g_string_append (html, "</table>\n<p>Means over the records that have the value (a record "
                   "without ROI pixels, or without a context mask, has none).</p>\n");
}

/* The records that hold an error, first few. */
static void
write_failures (GString *html, GPtrArray *records)
{
  int n = 0;
  for (guint r = 0; r < records->len; r++)
    {
      char **rec = records->pdata[r];
      if (!*rec[SEGCAM_AUDIT_ERROR])
        continue;
      if (n++ == 0)
        g_string_append (html, "<h2>Failed records</h2>\n<ul>\n");
      if (n <= 50)
        {
          char *image = g_markup_escape_text (rec[SEGCAM_AUDIT_IMAGE], -1);
          char *text = g_markup_escape_text (rec[SEGCAM_AUDIT_ERROR], -1);
          g_string_append_printf (html, "<li>row %s, %s: %s</li>\n", rec[SEGCAM_AUDIT_ROW], image, text);
          g_free (image), g_free (text);
        }
    }
  if (n > 50)
    g_string_append_printf (html, "<li>and %d more (column error of audit.csv)</li>\n", n - 50);
  if (n)
    g_string_append (html, "</ul>\n");
}

gboolean
segcam_audit_report_write (const char *dir, GPtrArray *records,
                           const segcam_audit_settings *settings, int threads, GError **error)
{
  GError *why = NULL;
  segcam_model *model = segcam_model_load (settings->model, &why);
  GPtrArray *groups = group_records (records, model);
  GString *html = g_string_new (NULL);
  char *model_name = g_markup_escape_text (settings->model, -1);
  char *manifest = g_markup_escape_text (settings->manifest, -1);
  char *layer = g_markup_escape_text (settings->layer, -1);
  g_string_append_printf (html, "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
                          "<title>segcam audit</title>\n<style>\n"
                          "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\n"
                          "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}\n"
                          ".finding{font-size:1.15em}.note{color:#a00}\n"
                          ".gallery{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;font-size:.85em}\n"
                          "</style>\n</head>\n<body>\n<h1>segcam audit</h1>\n"
                          "<p>Model <code>%s</code>, manifest <code>%s</code> (%d rows), layer "
                          "<code>%s</code>, %u records; deletion and insertion with %d steps on a "
                          "%s baseline.</p>\n", model_name, manifest, settings->rows,
                          layer, records->len, settings->steps, settings->baseline);
  g_free (model_name), g_free (manifest), g_free (layer);
  write_finding (html, groups);
  write_table (html, groups);
  g_string_append (html, "<h2>Distributions</h2>\n<p>Each dot is a record; the box holds the "
                   "middle half, the line is the median, the red diamond the mean.</p>\n");
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < groups->len; i++)
    {
      group *g = groups->pdata[i];
      if (i > 0 && strcmp (g->method, ((group *) groups->pdata[i - 1])->method) == 0)
        continue;
      for (guint s = 0; ok && s < N_SHARES; s++)
        {
          gboolean any = FALSE;
          for (guint j = i; j < groups->len && strcmp (((group *) groups->pdata[j])->method, g->method) == 0; j++)
            any |= ((group *) groups->pdata[j])->values[s]->len > 0;
          if (!any)
            continue;
          char *name = g_strdup_printf ("%s-%s.png", segcam_audit_columns[shares[s].column], g->method);
          char *path = g_build_filename (dir, name, NULL);
          ok = plot_share (path, groups, g->method, s, error);
          g_string_append_printf (html, "<p><img src=\"%s\" alt=\"%s, %s\" width=%d></p>\n", name,
                                  shares[s].title, g->method, PLOT_W);
          g_free (name), g_free (path);
        }
    }
  if (ok)
    write_gallery (html, dir, records, settings, model, why ? why->message : NULL, threads, error);
  ok = ok && !*error;
  write_failures (html, records);
  g_string_append (html, "</body>\n</html>\n");
  char *path = g_build_filename (dir, "report.html", NULL);
  ok = ok && segcam_audit_write_text (path, html, error);
  g_free (path);
  g_string_free (html, TRUE);
  g_ptr_array_free (groups, TRUE);
  g_clear_error (&why);
  segcam_model_free (model);
  return ok;
}
