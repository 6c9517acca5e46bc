/* gimp-common.c — the part of a run both libgimp adapters share (gimp-common.h). */
#include <libgimp/gimp.h>

#include "gimp-common.h"
#include "model-files.h"

GimpImageType
gimp_common_layer_type (gboolean gray, gboolean alpha)
{
  if (gray)
    return alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  return alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;
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

ExplainResult *
gimp_common_compute (const gchar *model_dir, const gchar *model_setting, segcam_model *model,
                     const ExplainSettings *settings, ExplainSource *source, GError **error)
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
      model = segcam_model_load (path, error);
    }
  if (model != NULL)
    result = explain_run (model, label, settings, source, report_progress, &shown, error);
  gimp_progress_end ();

out:
  g_clear_object (&source->selection);
  g_clear_object (&source->pixels);
  segcam_model_free (model);
  g_free (shown);
  g_free (label);
  g_free (path);
  return result;
}
