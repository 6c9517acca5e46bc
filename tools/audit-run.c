/* audit-run.c — one manifest row of segcam audit: load, predict, explain, evaluate (audit-run.h). */
#include "audit-run.h"

#include "audit-table.h"
#include "image-io.h"

#include <math.h>
#include <string.h>

/* A row's image and masks, loaded and predicted. */
typedef struct {
  int width, height;
  float *pixels;        /* the model's input channels */
  uint8_t *predicted;
  float *roi;           /* the manifest's ROI mask, or NULL */
  float *context;       /* the context mask, or NULL */
  uint8_t *labels;      /* the label map, or NULL */
} loaded_row;

static void
loaded_row_clear (loaded_row *l)
{
  g_free (l->pixels);
  g_free (l->predicted);
  g_free (l->roi);
  g_free (l->context);
  g_free (l->labels);
}

/* A mask as the explain command reads --roi-mask: gray times alpha, so transparent is outside. */
static float *
load_mask (const char *column, const char *path, int width, int height, GError **error)
{
  int w, h;
  if (!segcam_image_size (path, &w, &h, error))
    return NULL;
  if (w != width || h != height)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s mask '%s' is %dx%d but the image "
                   "is %dx%d", column, path, w, h, width, height);
      return NULL;
    }
  float *gray_alpha = segcam_image_load (path, 2, w, h, error);
  if (!gray_alpha)
    return NULL;
  size_t n = (size_t) w * h;
  float *mask = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    mask[i] = gray_alpha[2 * i] * gray_alpha[2 * i + 1];
  g_free (gray_alpha);
  return mask;
}

/* A label map: the gray level of each pixel (0..255) is its class index. */
static uint8_t *
load_labels (const char *path, const segcam_model *model, int width, int height, GError **error)
{
  float *gray = load_mask ("labels", path, width, height, error);
  if (!gray)
    return NULL;
  size_t n = (size_t) width * height;
  uint8_t *labels = g_new (uint8_t, n);
  for (size_t i = 0; i < n; i++)
    {
      int v = (int) lrintf (gray[i] * 255.0f);
      if (v >= segcam_model_n_classes (model))
        {
          g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "label map '%s' has class %d at "
                       "(%d, %d), but the model has %d classes", path, v, (int) (i % width),
                       (int) (i / width), segcam_model_n_classes (model));
          g_free (labels);
          labels = NULL;
          break;
        }
      labels[i] = (uint8_t) v;
    }
  g_free (gray);
  return labels;
}

static gboolean
load_row (segcam_audit_run *run, const segcam_audit_item *item, loaded_row *l, GError **error)
{
  memset (l, 0, sizeof *l);
  if (item->error)
    {
      g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, item->error);
      return FALSE;
    }
  if (!segcam_image_size (item->image_path, &l->width, &l->height, error))
    return FALSE;
  if (!run->session || run->width != l->width || run->height != l->height)
    {
      segcam_session_free (run->session);
      segcam_session_options o = {l->width, l->height, run->layer, TRUE, run->threads};
      run->width = l->width, run->height = l->height;
      if (!(run->session = segcam_session_new (run->model, &o, error)))
        return FALSE;
    }
  l->pixels = segcam_image_load (item->image_path, segcam_model_input_channels (run->model),
                                 l->width, l->height, error);
  if (!l->pixels || !segcam_session_forward (run->session, l->pixels, error))
    return FALSE;
  l->predicted = g_new (uint8_t, (size_t) l->width * l->height);
  segcam_session_labels (run->session, l->predicted);
  if (item->roi_path && !(l->roi = load_mask ("roi", item->roi_path, l->width, l->height, error)))
    return FALSE;
  if (item->context_path
      && !(l->context = load_mask ("context", item->context_path, l->width, l->height, error)))
    return FALSE;
  if (item->labels_path
      && !(l->labels = load_labels (item->labels_path, run->model, l->width, l->height, error)))
    return FALSE;
  return TRUE;
}

/* The ROI of a class: the manifest's mask, else the pixels predicted as the class. */
static float *
class_roi (const loaded_row *l, int cls)
{
  size_t n = (size_t) l->width * l->height;
  float *roi = l->roi ? g_memdup2 (l->roi, n * sizeof (float)) : g_new (float, n);
  if (!l->roi)
    {
      for (size_t i = 0; i < n; i++)
        roi[i] = 1;
      segcam_roi_intersect_class (roi, l->predicted, l->width, l->height, cls);
    }
  return roi;
}

/* Intersection over union of the pixels predicted and labelled as cls; NaN without labels. */
static double
label_iou (const loaded_row *l, int cls)
{
  if (!l->labels)
    return NAN;
  size_t n = (size_t) l->width * l->height, both = 0, either = 0;
  for (size_t i = 0; i < n; i++)
    {
      gboolean p = l->predicted[i] == cls, t = l->labels[i] == cls;
      both += p && t, either += p || t;
    }
  return either ? (double) both / either : NAN;
}

static void
set_number (char **record, SegcamAuditColumn column, double value)
{
  g_free (record[column]);
  record[column] = segcam_audit_format_number (value);
}

static void
set_text (char **record, SegcamAuditColumn column, const char *text)
{
  g_free (record[column]);
  record[column] = g_strdup (text);
}

/* The record's error: the message on one line, as the command line prints errors. */
static void
set_error (char **record, GError **error)
{
  g_free (record[SEGCAM_AUDIT_ERROR]);
  record[SEGCAM_AUDIT_ERROR] = segcam_escape ((*error)->message, 0);
  g_clear_error (error);
}

/* The audit explains as the explain command does by default: logits, mean weights, normalised;
 * Score-CAM and Ablation-CAM get the row's pixels, which they run again. */
static segcam_explain_options
explain_options (int cls, SegcamMethod method, const float *pixels)
{
  return (segcam_explain_options) {.class_index = cls, .normalize = TRUE, .method = method,
                                   .pool = 2, .pixels = pixels};
}

/* Explains cls with method over the class's ROI into map; *forwarded says whether the session
 * still holds the row's forward pass (evaluate runs it on perturbed images). */
static gboolean
explain (segcam_audit_run *run, const loaded_row *l, int cls, SegcamMethod method,
         const float *roi, float *map, segcam_explain_info *info, gboolean *forwarded,
         GError **error)
{
  if (!*forwarded && !segcam_session_forward (run->session, l->pixels, error))
    return FALSE;
  *forwarded = TRUE;
  segcam_explain_options eo = explain_options (cls, method, l->pixels);
  return segcam_session_explain (run->session, &eo, roi, map, info, error);
}

/* One record: cls explained by method and evaluated. */
static gboolean
audit_class (segcam_audit_run *run, const loaded_row *l, int cls,
             SegcamMethod method, gboolean *forwarded, char **record, GError **error)
{
  size_t n = (size_t) l->width * l->height;
  float *roi = class_roi (l, cls), *map = g_new (float, n);
  segcam_explain_info info;
  segcam_metrics m;
  segcam_explain_options eo = explain_options (cls, method, l->pixels);
  gboolean ok = explain (run, l, cls, method, roi, map, &info, forwarded, error);
  if (ok)
    {
      /* The curves and ROAD run the session on perturbed images; the shares alone do not. */
      *forwarded = run->metrics.steps == 0 && !run->metrics.road;
      ok = segcam_session_evaluate (run->session, &eo, l->pixels, roi, l->context, map,
                                    &run->metrics, &m, NULL, error);
    }
  if (ok)
    {
      set_number (record, SEGCAM_AUDIT_ROI_WEIGHT, info.roi_weight);
      set_number (record, SEGCAM_AUDIT_SCORE, info.score);
      set_number (record, SEGCAM_AUDIT_MAP_MAX, info.raw_max);
      set_number (record, SEGCAM_AUDIT_LABEL_IOU, label_iou (l, cls));
      set_number (record, SEGCAM_AUDIT_ROI_ENERGY_SHARE, m.energy.roi_energy_share);
      set_number (record, SEGCAM_AUDIT_CONTEXT_SHARE, m.energy.context_share);
      set_number (record, SEGCAM_AUDIT_CONTEXT_MASK_SHARE, m.energy.context_mask_share);
      set_number (record, SEGCAM_AUDIT_DELETION_AUC, m.deletion_auc);
      set_number (record, SEGCAM_AUDIT_INSERTION_AUC, m.insertion_auc);
      set_number (record, SEGCAM_AUDIT_ROAD_MORF, m.road_morf);
      set_number (record, SEGCAM_AUDIT_ROAD_LERF, m.road_lerf);
      set_number (record, SEGCAM_AUDIT_ROAD_SCORE, m.road_score);
    }
  g_free (roi);
  g_free (map);
  return ok;
}

/* The classes of a row: the audit's, or those its prediction has, in index order. */
static int *
row_classes (const segcam_audit_run *run, const loaded_row *l, int *n_out)
{
  int nc = segcam_model_n_classes (run->model), n = 0;
  int *classes = g_new (int, MAX (nc, run->n_classes));
  if (run->classes)
    {
      memcpy (classes, run->classes, run->n_classes * sizeof (int));
      n = run->n_classes;
    }
  else
    {
      gboolean *present = g_new0 (gboolean, nc);
      for (size_t i = 0; i < (size_t) l->width * l->height; i++)
        present[l->predicted[i]] = TRUE;
      for (int c = 0; c < nc; c++)
        if (present[c])
          classes[n++] = c;
      g_free (present);
    }
  *n_out = n;
  return classes;
}

gboolean
segcam_audit_run_item (segcam_audit_run *run, const segcam_audit_item *item, GPtrArray *records)
{
  GError *error = NULL;
  loaded_row l;
  gboolean ok = load_row (run, item, &l, &error);
  int n_classes = 0, *classes = ok ? row_classes (run, &l, &n_classes) : NULL;
  gboolean forwarded = TRUE;
  for (int c = 0; ok && c < n_classes; c++)
    {
      float *roi = class_roi (&l, classes[c]);
      /* A class the image does not show has no ROI: nothing to explain, no record. */
      gboolean empty = segcam_roi_sum (roi, (size_t) l.width * l.height) <= 0;
      g_free (roi);
      for (int m = 0; !empty && m < run->n_methods; m++)
        {
          char **record = segcam_audit_record_new (item->row, item->image);
          set_text (record, SEGCAM_AUDIT_CLASS, segcam_model_class_name (run->model, classes[c]));
          set_text (record, SEGCAM_AUDIT_METHOD, segcam_method_name (run->methods[m]));
          set_text (record, SEGCAM_AUDIT_LAYER, segcam_model_node_name (run->model, run->layer));
          if (!audit_class (run, &l, classes[c], run->methods[m], &forwarded, record, &error))
            {
              set_error (record, &error);
              ok = FALSE;
            }
          g_ptr_array_add (records, record);
        }
    }
  if (error)
    {
      char **record = segcam_audit_record_new (item->row, item->image);
      set_error (record, &error);
      g_ptr_array_add (records, record);
    }
  g_free (classes);
  loaded_row_clear (&l);
  return ok;
}

gboolean
segcam_audit_run_map (segcam_audit_run *run, const segcam_audit_item *item, int cls,
                      SegcamMethod method, float **rgb, float **map, float **roi, int *width,
                      int *height, GError **error)
{
  loaded_row l;
  gboolean forwarded = TRUE;
  *rgb = *map = *roi = NULL;
  gboolean ok = load_row (run, item, &l, error);
  if (ok)
    {
      *width = l.width, *height = l.height;
      *roi = class_roi (&l, cls);
      *map = g_new (float, (size_t) l.width * l.height);
      segcam_explain_info info;
      ok = explain (run, &l, cls, method, *roi, *map, &info, &forwarded, error)
           && (*rgb = segcam_image_load (item->image_path, 3, l.width, l.height, error)) != NULL;
    }
  loaded_row_clear (&l);
  return ok;
}

void
segcam_audit_run_clear (segcam_audit_run *run)
{
  segcam_session_free (run->session);
  run->session = NULL;
}
