/* gimp3-plugin.c — the GIMP 3.0 adapter: a GimpPlugIn with the two GimpProcedures of
 * DESIGN.md §5, their run modes, and the one place that changes the image.
 *
 * The procedures take the same arguments with the same ranges and defaults, in the same order,
 * as the 2.10 ones (gimp2-plugin.c), except that GIMP 3 hands an image procedure the selected
 * drawables as an array: exactly one layer is accepted. GIMP 3 keeps the last values itself
 * (GimpProcedureConfig, across sessions), validates the arguments against their ranges, and
 * shows a returned error to the user when the filter ran from a menu; the maximum working size
 * is an auxiliary argument: remembered and shown in the dialog, not part of the PDB signature.
 *
 * Everything that computes lives in explain-job.c and gimp-common.c, shared with the 2.10
 * adapter; this file turns the config into ExplainSettings, the drawable into GeglBuffers, and
 * the finished ExplainResult into layers — inside one undo group, after all computation.
 */
#include <string.h>

#include <libgimp/gimp.h>

#include "explain-job.h"
#include "gimp-common.h"
#include "gimp3-dialog.h"
#include "model-files.h"

#define SEGCAM_TYPE_PLUG_IN (segcam_plug_in_get_type ())
G_DECLARE_FINAL_TYPE (SegcamPlugIn, segcam_plug_in, SEGCAM, PLUG_IN, GimpPlugIn)

struct _SegcamPlugIn {
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE (SegcamPlugIn, segcam_plug_in, GIMP_TYPE_PLUG_IN)

GIMP_MAIN (SEGCAM_TYPE_PLUG_IN)

static GimpValueArray *run_explain (GimpProcedure *procedure, GimpRunMode run_mode,
                                    GimpImage *image, GimpDrawable **drawables,
                                    GimpProcedureConfig *config, gpointer data);
static GimpValueArray *run_segment (GimpProcedure *procedure, GimpRunMode run_mode,
                                    GimpImage *image, GimpDrawable **drawables,
                                    GimpProcedureConfig *config, gpointer data);

static GList *
query_procedures (GimpPlugIn *plug_in)
{
  return g_list_append (g_list_append (NULL, g_strdup (SEGCAM_EXPLAIN_PROC)),
                        g_strdup (SEGCAM_SEGMENT_PROC));
}

static GimpProcedure *
create_procedure (GimpPlugIn *plug_in, const gchar *name)
{
  gboolean explain = strcmp (name, SEGCAM_EXPLAIN_PROC) == 0;
  GimpProcedure *procedure;

  if (! explain && strcmp (name, SEGCAM_SEGMENT_PROC) != 0)
    return NULL;
  procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN,
                                        explain ? run_explain : run_segment, NULL, NULL);
  gimp_procedure_set_image_types (procedure, SEGCAM_IMAGE_TYPES);
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
  gimp_procedure_set_menu_label (procedure, explain ? "_Explain..." : "_Segment...");
  gimp_procedure_add_menu_path (procedure, SEGCAM_MENU_PATH);
  gimp_procedure_set_documentation (procedure,
                                    explain ? SEGCAM_EXPLAIN_BLURB : SEGCAM_SEGMENT_BLURB,
                                    explain ? SEGCAM_EXPLAIN_HELP : SEGCAM_SEGMENT_HELP, name);
  gimp_procedure_set_attribution (procedure, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE);

  gimp_procedure_add_string_argument (procedure, "model", "Mo_del", SEGCAM_ARG_MODEL, "",
                                      G_PARAM_READWRITE);
  if (explain)
    {
      gimp_procedure_add_string_argument (procedure, "classes", "Cl_asses", SEGCAM_ARG_CLASSES,
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (procedure, "layer", "Network la_yer", SEGCAM_ARG_LAYER,
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (procedure, "roi-mode", "Region of _interest",
                                       SEGCAM_ARG_ROI_MODE, 0, EXPLAIN_N_ROI_MODES - 1,
                                       EXPLAIN_ROI_SELECTION, G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (procedure, "score", "Scor_e", SEGCAM_ARG_SCORE,
                                       SEGCAM_SCORE_LOGITS, SEGCAM_SCORE_PROBABILITIES,
                                       SEGCAM_SCORE_LOGITS, G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (procedure, "colormap", "Color_map", SEGCAM_ARG_COLORMAP,
                                       SEGCAM_COLORMAP_JET, SEGCAM_COLORMAP_GRAYSCALE,
                                       SEGCAM_COLORMAP_JET, G_PARAM_READWRITE);
    }
  gimp_procedure_add_double_argument (procedure, "opacity", "O_pacity",
                                      explain ? SEGCAM_ARG_OPACITY : SEGCAM_ARG_SEGMENT_OPACITY,
                                      0, 100, EXPLAIN_DEFAULT_OPACITY, G_PARAM_READWRITE);
  if (explain)
    gimp_procedure_add_int_argument (procedure, "outputs", "Outputs", SEGCAM_ARG_OUTPUTS, 1,
                                     EXPLAIN_OUTPUTS_ALL, EXPLAIN_DEFAULT_OUTPUTS,
                                     G_PARAM_READWRITE);
  gimp_procedure_add_int_aux_argument (procedure, "max-size", "Maximum _working size",
                                       SEGCAM_ARG_MAX_SIZE, EXPLAIN_MIN_MAX_SIZE,
                                       EXPLAIN_MAX_MAX_SIZE, EXPLAIN_DEFAULT_MAX_SIZE,
                                       G_PARAM_READWRITE);

  if (explain)
    gimp_procedure_add_layer_return_value (procedure, "group", "Group", SEGCAM_RETURN_GROUP,
                                           FALSE, G_PARAM_READWRITE);
  else
    gimp_procedure_add_layer_return_value (procedure, "segmentation", "Segmentation",
                                           SEGCAM_RETURN_SEGMENTATION, FALSE, G_PARAM_READWRITE);
  return procedure;
}

/* No translations: GIMP would otherwise look for a locale folder beside the plug-in and say on
 * every run that there is none. */
static gboolean
set_i18n (GimpPlugIn *plug_in, const gchar *procedure_name, gchar **gettext_domain,
          gchar **catalog_dir)
{
  return FALSE;
}

static void
segcam_plug_in_class_init (SegcamPlugInClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = query_procedures;
  plug_in_class->create_procedure = create_procedure;
  plug_in_class->set_i18n = set_i18n;
}

static void
segcam_plug_in_init (SegcamPlugIn *plug_in)
{
}

/* ---- running ------------------------------------------------------------------------------ */

/* The only function that changes the image: one undo group, the new layers directly above the
 * source layer (in a group of their own when grouped), aligned with it. Returns the group, or
 * the first layer when not grouped. */
static GimpLayer *
insert_layers (GimpImage *image, GimpDrawable *drawable, const ExplainResult *result,
               gboolean grouped)
{
  GimpLayer *parent = GIMP_LAYER (gimp_item_get_parent (GIMP_ITEM (drawable)));
  gint position = gimp_image_get_item_position (image, GIMP_ITEM (drawable));
  gboolean gray = gimp_image_get_base_type (image) == GIMP_GRAY;
  gint width = gimp_drawable_get_width (drawable), height = gimp_drawable_get_height (drawable);
  gint offset_x, offset_y;
  GimpLayer *top = NULL;

  gimp_drawable_get_offsets (drawable, &offset_x, &offset_y);
  gimp_image_undo_group_start (image);
  gimp_image_freeze_layers (image);

  if (grouped)
    {
      top = GIMP_LAYER (gimp_group_layer_new (image, result->group_name));
      gimp_image_insert_layer (image, top, parent, position);
      parent = top;
      position = 0;
    }
  for (guint i = 0; i < result->layers->len; i++)
    {
      const ExplainLayer *out = g_ptr_array_index (result->layers, i);
      GimpLayer *layer = gimp_layer_new (image, out->name, width, height,
                                         gimp_common_layer_type (gray, out->has_alpha),
                                         out->opacity, GIMP_LAYER_MODE_NORMAL);
      GeglBuffer *buffer;

      gimp_image_insert_layer (image, layer, parent, position + i);
      gimp_layer_set_offsets (layer, offset_x, offset_y);
      buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
      gegl_buffer_copy (out->buffer, NULL, GEGL_ABYSS_NONE, buffer, NULL);
      g_object_unref (buffer);
      gimp_drawable_update (GIMP_DRAWABLE (layer), 0, 0, width, height);
      gimp_item_set_visible (GIMP_ITEM (layer), out->visible);
      if (top == NULL)
        top = layer;
    }

  gimp_image_thaw_layers (image);
  gimp_image_set_selected_layers (image, (const GimpLayer *[]) { top, NULL });
  gimp_image_undo_group_end (image);
  return top;
}

/* Computes everything and, only if that succeeds, changes the image. Returns the created group
 * or layer, or NULL with an error. */
static GimpLayer *
execute (GimpImage *image, GimpDrawable *drawable, const gchar *model_dir,
         const gchar *model_setting, segcam_model *model, const ExplainSettings *settings,
         gboolean grouped, GError **error)
{
  ExplainSource source = { NULL };
  ExplainResult *result;
  GimpLayer *created = NULL;

  source.pixels = gimp_drawable_get_buffer (drawable);
  if (! gimp_selection_is_empty (image))
    source.selection = gimp_drawable_get_buffer (
      GIMP_DRAWABLE (gimp_image_get_selection (image)));
  gimp_drawable_get_offsets (drawable, &source.offset_x, &source.offset_y);
  source.gray = gimp_image_get_base_type (image) == GIMP_GRAY;

  result = gimp_common_compute (model_dir, model_setting, model, settings, &source, error);
  if (result != NULL)
    created = insert_layers (image, drawable, result, grouped);
  explain_result_free (result);
  return created;
}

/* The one layer a run works on, or NULL with an error: GIMP 3 passes every selected drawable. */
static GimpDrawable *
single_layer (GimpDrawable **drawables, GError **error)
{
  gsize n = gimp_core_object_array_get_length ((GObject **) drawables);
  GimpDrawable *drawable = n == 1 ? drawables[0] : NULL;

  if (n == 0)
    g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                         "Seg-Grad-CAM needs a layer to work on: none is selected");
  else if (n > 1)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "Seg-Grad-CAM works on one layer at a time, not on %" G_GSIZE_FORMAT
                 " selected layers: select only the layer to work on", n);
  else if (! gimp_common_check_source (GIMP_IS_LAYER (drawable)
                                         && ! gimp_item_is_group (GIMP_ITEM (drawable)),
                                       gimp_drawable_is_indexed (drawable), error))
    drawable = NULL;
  return drawable;
}

static GimpValueArray *
run (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
     GimpDrawable **drawables, GimpProcedureConfig *config, gboolean explain)
{
  gchar *model_dir = model_files_dir (gimp_get_progname ());
  gchar *model_setting = NULL, *classes = NULL, *layer = NULL;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  ExplainSettings settings = { NULL };
  segcam_model *model = NULL;
  GimpLayer *created = NULL;
  GimpValueArray *values;
  GimpDrawable *drawable;
  GError *error = NULL;

  gegl_init (NULL, NULL);

  drawable = single_layer (drawables, &error);
  if (drawable == NULL)
    status = GIMP_PDB_CALLING_ERROR;
  else if (run_mode == GIMP_RUN_INTERACTIVE
           && ! (explain ? gimp3_explain_dialog : gimp3_segment_dialog) (
                  procedure, config, drawable, model_dir, &model))
    status = GIMP_PDB_CANCEL;

  if (status == GIMP_PDB_SUCCESS)
    {
      gint max_size, roi_mode = 0, score = 0, colormap = 0, outputs = 0;

      g_object_get (config, "model", &model_setting, "opacity", &settings.opacity, "max-size",
                    &max_size, NULL);
      if (explain)
        g_object_get (config, "classes", &classes, "layer", &layer, "roi-mode", &roi_mode,
                      "score", &score, "colormap", &colormap, "outputs", &outputs, NULL);
      settings.classes = classes;
      settings.layer = layer;
      settings.roi_mode = roi_mode;
      settings.score = score;
      settings.colormap = colormap;
      settings.outputs = explain ? (unsigned) outputs : EXPLAIN_OUTPUT_SEGMENTATION;
      settings.max_size = max_size;

      created = execute (image, drawable, model_dir, model_setting, model, &settings, explain,
                         &error);
      if (created == NULL)
        status = GIMP_PDB_EXECUTION_ERROR;
    }
  else
    segcam_model_free (model);

  /* On failure GIMP shows the error to the user when the filter ran from a menu, and hands it
   * to the calling script otherwise. */
  values = gimp_procedure_new_return_values (procedure, status, error);
  if (status == GIMP_PDB_SUCCESS)
    GIMP_VALUES_SET_LAYER (values, 1, created);
  g_free (layer);
  g_free (classes);
  g_free (model_setting);
  g_free (model_dir);
  return values;
}

static GimpValueArray *
run_explain (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
             GimpDrawable **drawables, GimpProcedureConfig *config, gpointer data)
{
  return run (procedure, run_mode, image, drawables, config, TRUE);
}

static GimpValueArray *
run_segment (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
             GimpDrawable **drawables, GimpProcedureConfig *config, gpointer data)
{
  return run (procedure, run_mode, image, drawables, config, FALSE);
}
