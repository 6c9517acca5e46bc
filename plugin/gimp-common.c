/* gimp-common.c — the part of a run both libgimp adapters share (gimp-common.h). */
#include <string.h>

#include <libgimp/gimp.h>

#include "gimp-common.h"
#include "heat-map-mask.h"
#include "model-files.h"

gchar *
gimp_common_help_dir (void)
{
  gchar *folder = g_path_get_dirname (gimp_get_progname ());
  gchar *help = g_build_filename (folder, "help", NULL);

  g_free (folder);
  return help;
}

gboolean
gimp_common_persistent_enabled (void)
{
  return g_strcmp0 (g_getenv (SEGCAM_PERSISTENT_ENV), "0") != 0;
}

gboolean
gimp_common_check_source (gboolean plain_layer, gboolean indexed, GError **error)
{
  const gchar *problem = NULL;

  if (! plain_layer)
    problem = "Seg-Grad-CAM works on a layer, not on a layer group, mask or channel";
  else if (indexed)
    problem = "Seg-Grad-CAM works on RGB and grayscale images, not on indexed ones "
              "(Image ▸ Mode ▸ RGB converts them)";
  if (problem != NULL)
    g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, problem);
  return problem == NULL;
}

gchar *
gimp_common_last_model (const GimpCommonSeam *seam)
{
  return seam->get_parasite (NULL, SEGCAM_PARASITE_MODEL);
}

void
gimp_common_remember_model (const GimpCommonSeam *seam, const gchar *model_setting)
{
  GimpParasite *parasite = gimp_parasite_new (SEGCAM_PARASITE_MODEL, GIMP_PARASITE_PERSISTENT,
                                              strlen (model_setting), model_setting);

  seam->attach_parasite (NULL, parasite);
  gimp_parasite_free (parasite);
}

/* Engine progress onto GIMP's progress bar; the text only when it changes (each call is a PDB
 * round trip). */
static void
report_progress (double fraction, const char *text, void *user_data)
{
  gchar **shown = user_data;

  if (g_strcmp0 (*shown, text) != 0)
    {
      gimp_progress_set_text (text);
      g_free (*shown);
      *shown = g_strdup (text);
    }
  gimp_progress_update (fraction);
}

GimpCommonKeep *
gimp_common_keep_new (void)
{
  GimpCommonKeep *keep = g_new0 (GimpCommonKeep, 1);

  keep->forward = explain_cache_new ();
  return keep;
}

void
gimp_common_keep_clear (GimpCommonKeep *keep)
{
  /* The forward pass's session points into the model. */
  explain_cache_clear (keep->forward);
  g_clear_pointer (&keep->model, segcam_model_free);
  g_clear_pointer (&keep->path, g_free);
  keep->image_id = 0;
}

void
gimp_common_keep_free (GimpCommonKeep *keep)
{
  if (keep == NULL)
    return;
  gimp_common_keep_clear (keep);
  explain_cache_free (keep->forward);
  g_free (keep);
}

void
gimp_common_keep_expire (const GimpCommonSeam *seam, GimpCommonKeep *keep)
{
  gint64 idle = g_get_monotonic_time () - keep->last_run;

  if (keep->model != NULL
      && (idle > (gint64) SEGCAM_PERSISTENT_IDLE_MINUTES * 60 * G_USEC_PER_SEC
          || (keep->image_id != 0 && ! seam->image_open (keep->image_id))))
    gimp_common_keep_clear (keep);
}

/* The model at path: keep's when it was loaded from that file as it is now, else loaded and
 * kept instead (a file that cannot be looked at is loaded, or fails to, and not kept). */
static segcam_model *
keep_model (GimpCommonKeep *keep, const gchar *path, GError **error)
{
  GFile *file = g_file_new_for_path (path);
  GFileInfo *info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                       G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                       G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                                       G_FILE_QUERY_INFO_NONE, NULL, NULL);
  gboolean known = info != NULL;
  goffset size = 0;
  guint64 mtime = 0;
  segcam_model *model;

  g_object_unref (file);
  if (known)
    {
      size = g_file_info_get_size (info);
      mtime = g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED)
                * G_USEC_PER_SEC
              + g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC);
      g_object_unref (info);
      if (keep->model != NULL && strcmp (keep->path, path) == 0 && keep->size == size
          && keep->mtime_usec == mtime)
        return keep->model;
    }
  gimp_common_keep_clear (keep);
  model = segcam_model_load (path, error);
  if (model != NULL && known)
    {
      keep->model = model;
      keep->path = g_strdup (path);
      keep->size = size;
      keep->mtime_usec = mtime;
    }
  return model;
}

/* The whole computation of a run, with GIMP's progress bar: loads the model model_setting names
 * (unless model is given; from keep when it holds it), then runs the job on source, with keep's
 * forward pass when the model is keep's. The model (unless keep's) and the source's buffers are
 * released here either way. Returns the layers to create, or NULL with an error. Touches no
 * image. */
static ExplainResult *
compute (const gchar *model_dir, const gchar *model_setting, segcam_model *model,
         const ExplainSettings *settings, ExplainSource *source, GimpCommonKeep *keep,
         GError **error)
{
  gchar *path = model_files_resolve (model_setting, model_dir, error);
  gchar *label = NULL, *shown = NULL;
  ExplainResult *result = NULL;

  if (path == NULL)
    goto out;
  label = model_files_label (path);
  gimp_progress_init ("Seg-Grad-CAM");
  if (model == NULL)
    {
      gimp_progress_set_text_printf ("Loading the model %s", label);
      gimp_progress_pulse ();
      model = keep != NULL ? keep_model (keep, path, error) : segcam_model_load (path, error);
    }
  if (model != NULL)
    result = explain_run (model, label, settings, source,
                          keep != NULL && model == keep->model ? keep->forward : NULL,
                          report_progress, &shown, error);
  if (result != NULL)
    {
      char *advice = segcam_advise_model (model, model_files_is_onnx (path));

      if (advice != NULL)
        g_ptr_array_insert (result->warnings, 0, advice);
    }
  gimp_progress_end ();

out:
  explain_source_clear (source);
  if (keep == NULL || model != keep->model)
    segcam_model_free (model);
  g_free (shown);
  g_free (label);
  g_free (path);
  return result;
}

static void
attach_text (const GimpCommonSeam *seam, GimpCommonItem item, const gchar *name,
             const gchar *text)
{
  /* Undoable: a Ctrl-Z that removes the result removes its parasites with it. */
  GimpParasite *parasite = gimp_parasite_new (name,
                                              GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                              strlen (text), text);

  seam->attach_parasite (item, parasite);
  gimp_parasite_free (parasite);
}

/* The mark of what runs create for drawable: its tattoo, as text. */
static gchar *
source_mark (const GimpCommonSeam *seam, GimpCommonItem drawable)
{
  return g_strdup_printf ("%u", seam->tattoo (drawable));
}

static gboolean
has_mark (const GimpCommonSeam *seam, GimpCommonItem item, const gchar *mark)
{
  gchar *text = seam->get_parasite (item, SEGCAM_PARASITE_SOURCE);
  gboolean marked = g_strcmp0 (text, mark) == 0;

  g_free (text);
  return marked;
}

/* Where in drawable's parent the new result goes: above the topmost result an earlier run
 * made for drawable there, else directly above drawable (at position). */
static gint
result_position (const GimpCommonSeam *seam, GimpCommonItem image, GimpCommonItem drawable,
                 gint position, const gchar *mark)
{
  gint n = 0;
  GimpCommonItem *siblings = seam->siblings (image, drawable, &n);

  for (gint i = 0; i < MIN (position, n); i++)
    if (has_mark (seam, siblings[i], mark))
      {
        position = i;
        break;
      }
  g_free (siblings);
  return position;
}

/* The only place that changes the image: one undo group, a gray image converted to RGB (so
 * that the results can be in colour: layers of a gray image can only hold gray, and a heat map
 * in gray over a gray picture is unreadable; the conversion gives every gray level the same
 * value in R, G and B, so the source's pixels keep their values), the new layers above the
 * source layer and its earlier results (in a group of their own when grouped), aligned with it
 * (bounds), the new top item marked as the source's, the source left active. Returns the group,
 * or the first layer when not grouped. */
static GimpCommonItem
insert_layers (const GimpCommonSeam *seam, GimpCommonItem image, GimpCommonItem drawable,
               const GeglRectangle *bounds, gboolean gray, const ExplainResult *result,
               SegcamColormap colormap, gboolean grouped)
{
  gchar *mark = source_mark (seam, drawable);
  GimpCommonItem parent, top = NULL;
  gint position;

  seam->place (image, drawable, &parent, &position);
  position = result_position (seam, image, drawable, position, mark);
  seam->begin (image);
  if (gray)
    seam->convert_rgb (image);
  if (grouped)
    {
      top = seam->add_group (image, result->group_name, parent, position);
      parent = top;
      position = 0;
    }
  for (guint i = 0; i < result->layers->len; i++)
    {
      const ExplainLayer *out = g_ptr_array_index (result->layers, i);
      GimpCommonItem layer = seam->add_layer (image, out,
                                              out->has_alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE,
                                              bounds, parent, position + i);
      GeglBuffer *buffer = seam->buffer (layer);

      gegl_buffer_copy (out->buffer, NULL, GEGL_ABYSS_NONE, buffer, NULL);
      g_object_unref (buffer);
      seam->finish_layer (layer, bounds, out->visible);
      if (out->kind == EXPLAIN_LAYER_HEAT_MAP)
        attach_text (seam, layer, SEGCAM_PARASITE_HEAT_MAP, segcam_colormap_name (colormap));
      if (top == NULL)
        top = layer;
    }
  attach_text (seam, top, SEGCAM_PARASITE_SOURCE, mark);
  if (result->warnings->len > 0)
    {
      gchar *warnings;

      g_ptr_array_add (result->warnings, NULL);
      warnings = g_strjoinv ("\n", (gchar **) result->warnings->pdata);
      g_ptr_array_remove_index (result->warnings, result->warnings->len - 1);
      attach_text (seam, top, SEGCAM_PARASITE_WARNINGS, warnings);
      g_free (warnings);
    }
  seam->end (image, drawable);
  g_free (mark);
  return top;
}

GimpCommonItem
gimp_common_run (const GimpCommonSeam *seam, GimpCommonItem image, GimpCommonItem drawable,
                 const gchar *model_dir, const gchar *model_setting, segcam_model *model,
                 const ExplainSettings *settings, gboolean grouped, gboolean interactive,
                 GimpCommonKeep *keep, GError **error)
{
  ExplainSource source = { NULL };
  ExplainResult *result;
  GeglRectangle bounds;
  GimpCommonItem created = NULL;
  gboolean gray = seam->is_gray (image);

  seam->read_source (image, drawable, &source);
  /* The new layers' place and size, taken now: compute releases the source's buffers. */
  bounds = *gegl_buffer_get_extent (source.pixels);
  bounds.x = source.offset_x;
  bounds.y = source.offset_y;

  result = compute (model_dir, model_setting, model, settings, &source, keep, error);
  if (keep != NULL && keep->model != NULL)
    keep->image_id = seam->image_id (image);
  if (result != NULL)
    created = insert_layers (seam, image, drawable, &bounds, gray, result, settings->colormap,
                             grouped);
  for (guint i = 0; interactive && result != NULL && i < result->warnings->len; i++)
    {
      gchar *text = g_strdup_printf ("Seg-Grad-CAM warning:\n%s",
                                     (const gchar *) result->warnings->pdata[i]);

      seam->warn (text);
      g_free (text);
    }
  explain_result_free (result);
  return created;
}

GimpCommonItem
gimp_common_run_kept (const GimpCommonSeam *seam, GimpCommonKeep *keep, GimpCommonItem image,
                      GimpCommonItem drawable, const gchar *model_dir, const gchar *model_setting,
                      const ExplainSettings *settings, gboolean interactive, GError **error)
{
  gboolean nested = keep->busy;
  GimpCommonItem created;

  keep->busy = TRUE;
  created = gimp_common_run (seam, image, drawable, model_dir, model_setting, NULL, settings,
                             TRUE, interactive, nested ? NULL : keep, error);
  keep->busy = nested;
  keep->last_run = g_get_monotonic_time ();
  return created;
}

GimpCommonItem
gimp_common_heat_map_select (const GimpCommonSeam *seam, GimpCommonItem image,
                             GimpCommonItem drawable, gdouble threshold, gboolean to_channel,
                             GError **error)
{
  gchar *colormap_name = seam->get_parasite (drawable, SEGCAM_PARASITE_HEAT_MAP);
  gint colormap = segcam_colormap_from_name (colormap_name);
  ExplainSource source = { NULL };
  GimpCommonItem channel = NULL;
  GeglBuffer *mask;
  gchar *name;

  g_free (colormap_name);
  if (colormap < 0)
    {
      g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                           "not a Seg-Grad-CAM heat map: choose a heat-map layer that Explain "
                           "created (overlays and legends cannot be read back)");
      return NULL;
    }
  seam->read_source (image, drawable, &source);
  /* Computed before the image changes, so that a threshold nothing reaches changes nothing. */
  mask = gegl_buffer_new (GEGL_RECTANGLE (0, 0, source.image_width, source.image_height),
                          babl_format ("Y float"));
  if (heat_map_mask (source.pixels, source.offset_x, source.offset_y, colormap, threshold,
                     mask) == 0)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "no pixel of the heat map inside the image reaches the threshold %g (a "
                 "fraction of the map's maximum)",
                 threshold);
  else
    {
      GeglBuffer *buffer;

      gchar *layer_name = seam->get_name (drawable);

      name = g_strdup_printf ("%s ≥ %g", layer_name, threshold);
      g_free (layer_name);
      seam->begin (image);
      channel = seam->add_channel (image, name);
      buffer = seam->buffer (channel);
      gegl_buffer_copy (mask, NULL, GEGL_ABYSS_NONE, buffer, NULL);
      g_object_unref (buffer);
      seam->finish_layer (channel, gegl_buffer_get_extent (mask), FALSE);
      if (! to_channel)
        channel = seam->select_channel (image, channel);
      seam->end (image, drawable);
      g_free (name);
    }
  g_object_unref (mask);
  explain_source_clear (&source);
  return channel;
}
