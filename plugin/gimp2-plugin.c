/* gimp2-plugin.c — the GIMP 2.10 adapter: PDB procedures, run modes, last values, and the one
 * place that changes the image.
 *
 * Everything that computes lives in explain-job.c, which knows nothing of libgimp; this file
 * turns PDB arguments into ExplainSettings, GIMP drawables into GeglBuffers, and the finished
 * ExplainResult into layers. Like wavelet-decompose.c it adds a layer group directly above the
 * source layer inside one undo group, and like every well-behaved filter it does so only after
 * all computation has succeeded.
 */
#include <string.h>

#include <libgimp/gimp.h>

#include "explain-job.h"
#include "gimp2-dialog.h"
#include "model-files.h"

#define EXPLAIN_PROC "plug-in-segcam-explain"
#define SEGMENT_PROC "plug-in-segcam-segment"
#define MENU_PATH    "<Image>/Filters/Seg-Grad-CAM"
#define AUTHOR       "The segcam authors"
#define COPYRIGHT    "GPL-3.0-or-later"
#define DATE         "2025"

static void query (void);
static void run (const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                 GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = { NULL, NULL, query, run };

MAIN ()

static const ExplainVals explain_defaults = {
  GIMP2_VALS_VERSION, "", "", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS,
  SEGCAM_COLORMAP_JET, EXPLAIN_DEFAULT_OPACITY, EXPLAIN_DEFAULT_OUTPUTS, EXPLAIN_DEFAULT_MAX_SIZE,
};

static const SegmentVals segment_defaults = {
  GIMP2_VALS_VERSION, "", EXPLAIN_DEFAULT_OPACITY, EXPLAIN_DEFAULT_MAX_SIZE,
};

#define RUN_ARGS                                                                              \
  { GIMP_PDB_INT32, "run-mode",                                                               \
    "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), RUN-WITH-LAST-VALS (2) }" }, \
  { GIMP_PDB_IMAGE, "image", "Input image" },                                                 \
  { GIMP_PDB_DRAWABLE, "drawable", "The source layer (never modified)" },                 \
  { GIMP_PDB_STRING, "model",                                                                 \
    "Path of a .safetensors model; \"\" = the bundled default model" }

static const GimpParamDef explain_args[] = {
  RUN_ARGS,
  { GIMP_PDB_STRING, "classes",
    "Comma-separated class names or indices, e.g. \"digit 2, 3\"; \"\" = the class predicted "
    "most in the ROI" },
  { GIMP_PDB_STRING, "layer", "Node of the network to explain at; \"\" = the model's default "
    "layer" },
  { GIMP_PDB_INT32, "roi-mode",
    "Region whose score is explained: { SELECTION (0) (the whole layer when nothing is "
    "selected), SELECTION-AND-CLASS (1) (selected pixels predicted as the class), CLASS (2) "
    "(all pixels predicted as the class), LARGEST-COMPONENT (3) (the largest connected region "
    "of those inside the selection) }" },
  { GIMP_PDB_INT32, "score", "Score explained: { LOGITS (0), PROBABILITIES (1) }" },
  { GIMP_PDB_INT32, "colormap",
    "Heat-map colours: { JET (0), TURBO (1), VIRIDIS (2), INFERNO (3), GRAYSCALE (4) } "
    "(grayscale images always get GRAYSCALE)" },
  { GIMP_PDB_FLOAT, "opacity", "Opacity of the heat-map layers, and of the heat map in the "
    "overlay (0 <= opacity <= 100)" },
  { GIMP_PDB_INT32, "outputs",
    "Layers to create, a bit set: 1 a heat-map layer per class, 2 an overlay per class (heat "
    "map composited over the source), 4 the segmentation (1 <= outputs <= 7)" },
};
static const GimpParamDef explain_return[] = {
  { GIMP_PDB_LAYER, "group", "The created layer group" },
};
static const GimpParamDef segment_args[] = {
  RUN_ARGS,
  { GIMP_PDB_FLOAT, "opacity", "Opacity of the segmentation layer (0 <= opacity <= 100)" },
};
static const GimpParamDef segment_return[] = {
  { GIMP_PDB_LAYER, "segmentation", "The created segmentation layer" },
};

static void
query (void)
{
  gimp_install_procedure (
    EXPLAIN_PROC, "Explain a segmentation network's prediction with Seg-Grad-CAM",
    "Segments the layer with a segmentation network and explains the prediction of one or "
    "more classes over a region of interest with Seg-Grad-CAM (Vinogradova et al., AAAI 2020): "
    "the heat map shows which parts of the layer the network's score for the class in the ROI "
    "depends on, as seen at an inner layer of the network. The ROI is the selection "
    "(feathered selections give fractional weights; the whole layer when nothing is "
    "selected), optionally reduced to the pixels predicted as the class. The heat map covers "
    "the whole layer, because the context outside the ROI is what the method reveals.\n\n"
    "A layer group is added directly above the layer, in one undo step, holding per class a "
    "heat-map layer named like \"Seg-Grad-CAM: digit 2 @ mid.relu1 (selection)\" and/or an "
    "overlay, and optionally the segmentation; only its top layer is visible. The layer itself "
    "is never modified. Layers larger than the maximum working size (a dialog setting, "
    G_STRINGIFY (EXPLAIN_DEFAULT_MAX_SIZE) " pixels in batch mode) are resampled for the "
    "network and the maps resampled back. "
    "Models are .safetensors files (see the segcam README); the bundled ones live in the "
    "models folder beside the plug-in.",
    AUTHOR, COPYRIGHT, DATE, "_Explain...", "RGB*, GRAY*", GIMP_PLUGIN,
    G_N_ELEMENTS (explain_args), G_N_ELEMENTS (explain_return), explain_args, explain_return);
  gimp_plugin_menu_register (EXPLAIN_PROC, MENU_PATH);

  gimp_install_procedure (
    SEGMENT_PROC, "Segment a layer with a segmentation network",
    "Runs a segmentation network on the layer and adds its prediction as a new layer directly "
    "above it, in the model's class colours, in one undo step. The layer itself is never "
    "modified. Layers larger than the maximum working size (a dialog setting, "
    G_STRINGIFY (EXPLAIN_DEFAULT_MAX_SIZE) " pixels in batch mode) are resampled for the "
    "network and the labels resampled back.",
    AUTHOR, COPYRIGHT, DATE, "_Segment...", "RGB*, GRAY*", GIMP_PLUGIN,
    G_N_ELEMENTS (segment_args), G_N_ELEMENTS (segment_return), segment_args, segment_return);
  gimp_plugin_menu_register (SEGMENT_PROC, MENU_PATH);
}

/* ---- settings ----------------------------------------------------------------------------- */

/* Reads the last values of proc into vals if a struct of this size and version is stored. */
static void
load_last_vals (const gchar *proc, gpointer vals, gsize size)
{
  gpointer stored;

  if (gimp_get_data_size (proc) != (gint) size)
    return;
  stored = g_malloc (size);
  gimp_get_data (proc, stored);
  if (*(guint32 *) stored == GIMP2_VALS_VERSION)
    memcpy (vals, stored, size);
  g_free (stored);
}

static gboolean
copy_string (gchar *dest, gsize size, const gchar *value, const gchar *what, GError **error)
{
  if (g_strlcpy (dest, value != NULL ? value : "", size) < size)
    return TRUE;
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s is longer than %" G_GSIZE_FORMAT
               " bytes", what, size - 1);
  return FALSE;
}

static gboolean
check_range (gdouble value, gdouble min, gdouble max, const gchar *what, GError **error)
{
  if (value >= min && value <= max)
    return TRUE;
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s must lie in [%g, %g], not %g", what,
               min, max, value);
  return FALSE;
}

static gboolean
check_nparams (gint nparams, gsize expected, GError **error)
{
  if (nparams == (gint) expected)
    return TRUE;
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%" G_GSIZE_FORMAT " arguments expected, "
               "not %d", expected, nparams);
  return FALSE;
}

/* The PDB arguments after run-mode, image and drawable. */
static gboolean
read_explain_args (const GimpParam *param, ExplainVals *vals, GError **error)
{
  vals->roi_mode = param[6].data.d_int32;
  vals->score = param[7].data.d_int32;
  vals->colormap = param[8].data.d_int32;
  vals->opacity = param[9].data.d_float;
  vals->outputs = param[10].data.d_int32;
  return copy_string (vals->model, sizeof vals->model, param[3].data.d_string, "model", error)
         && copy_string (vals->classes, sizeof vals->classes, param[4].data.d_string, "classes",
                         error)
         && copy_string (vals->layer, sizeof vals->layer, param[5].data.d_string, "layer", error)
         && check_range (vals->roi_mode, 0, EXPLAIN_N_ROI_MODES - 1, "roi-mode", error)
         && check_range (vals->score, SEGCAM_SCORE_LOGITS, SEGCAM_SCORE_PROBABILITIES, "score",
                         error)
         && check_range (vals->colormap, SEGCAM_COLORMAP_JET, SEGCAM_COLORMAP_GRAYSCALE,
                         "colormap", error)
         && check_range (vals->opacity, 0, 100, "opacity", error)
         && check_range (vals->outputs, 1, EXPLAIN_OUTPUTS_ALL, "outputs", error);
}

static gboolean
read_segment_args (const GimpParam *param, SegmentVals *vals, GError **error)
{
  vals->opacity = param[4].data.d_float;
  return copy_string (vals->model, sizeof vals->model, param[3].data.d_string, "model", error)
         && check_range (vals->opacity, 0, 100, "opacity", error);
}

/* ---- running ------------------------------------------------------------------------------ */

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

static GimpImageType
layer_type (gboolean gray, gboolean alpha)
{
  if (gray)
    return alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  return alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;
}

/* The only function that changes the image: one undo group, the new layers directly above the
 * source layer (in a group of their own when grouped), aligned with it. Returns the group, or
 * the first layer when not grouped. */
static gint32
insert_layers (gint32 image, gint32 drawable, const ExplainResult *result, gboolean grouped)
{
  gint32 parent = gimp_item_get_parent (drawable);
  gint position = gimp_image_get_item_position (image, drawable);
  gboolean gray = gimp_image_base_type (image) == GIMP_GRAY;
  gint width = gimp_drawable_width (drawable), height = gimp_drawable_height (drawable);
  gint offset_x, offset_y;
  gint32 top = -1;

  gimp_drawable_offsets (drawable, &offset_x, &offset_y);
  gimp_image_undo_group_start (image);
  gimp_image_freeze_layers (image);

  if (grouped)
    {
      top = gimp_layer_group_new (image);
      gimp_item_set_name (top, result->group_name);
      gimp_image_insert_layer (image, top, parent, position);
      parent = top;
      position = 0;
    }
  for (guint i = 0; i < result->layers->len; i++)
    {
      const ExplainLayer *out = g_ptr_array_index (result->layers, i);
      gint32 layer = gimp_layer_new (image, out->name, width, height,
                                     layer_type (gray, out->has_alpha), out->opacity,
                                     GIMP_LAYER_MODE_NORMAL);
      GeglBuffer *buffer;

      gimp_image_insert_layer (image, layer, parent, position + i);
      gimp_layer_set_offsets (layer, offset_x, offset_y);
      buffer = gimp_drawable_get_buffer (layer);
      gegl_buffer_copy (out->buffer, NULL, GEGL_ABYSS_NONE, buffer, NULL);
      g_object_unref (buffer);
      gimp_drawable_update (layer, 0, 0, width, height);
      gimp_item_set_visible (layer, out->visible);
      if (top == -1)
        top = layer;
    }

  gimp_image_thaw_layers (image);
  gimp_image_set_active_layer (image, top);
  gimp_image_undo_group_end (image);
  return top;
}

/* Loads the model (unless the dialog already did), runs the job and, only if it succeeds,
 * changes the image. Returns the created group or layer, or -1 with an error. */
static gint32
execute (gint32 image, gint32 drawable, const gchar *model_dir, const gchar *model_setting,
         segcam_model *model, const ExplainSettings *settings, gboolean grouped, GError **error)
{
  gchar *path = model_files_resolve (model_setting, model_dir, error);
  gchar *label = NULL, *shown = NULL;
  ExplainSource source = { NULL };
  ExplainResult *result = NULL;
  gint32 created = -1;

  if (path == NULL)
    goto out;
  label = model_files_label (path);
  gimp_progress_init ("Seg-Grad-CAM");
  if (model == NULL)
    {
      gimp_progress_set_text_printf ("Loading the model %s", label);
      gimp_progress_pulse ();
      model = segcam_model_load (path, error);
      if (model == NULL)
        goto out;
    }

  source.pixels = gimp_drawable_get_buffer (drawable);
  if (! gimp_selection_is_empty (image))
    source.selection = gimp_drawable_get_buffer (gimp_image_get_selection (image));
  gimp_drawable_offsets (drawable, &source.offset_x, &source.offset_y);
  source.gray = gimp_image_base_type (image) == GIMP_GRAY;

  result = explain_run (model, label, settings, &source, report_progress, &shown, error);

  g_clear_object (&source.selection);
  g_clear_object (&source.pixels);
  if (result != NULL)
    created = insert_layers (image, drawable, result, grouped);

out:
  gimp_progress_end ();
  explain_result_free (result);
  segcam_model_free (model);
  g_free (shown);
  g_free (label);
  g_free (path);
  return created;
}

static gboolean
check_drawable (gint32 drawable, GError **error)
{
  const gchar *problem = NULL;

  if (! gimp_item_is_layer (drawable) || gimp_item_is_group (drawable))
    problem = "Seg-Grad-CAM works on a layer, not on a layer group, mask or channel";
  else if (gimp_drawable_is_indexed (drawable))
    problem = "Seg-Grad-CAM works on RGB and grayscale images, not on indexed ones "
              "(Image ▸ Mode ▸ RGB converts them)";
  if (problem != NULL)
    g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, problem);
  return problem == NULL;
}

/* The explain procedure; the status for values[0]. */
static GimpPDBStatusType
run_explain (GimpRunMode run_mode, gint nparams, const GimpParam *param, const gchar *model_dir,
             gint32 *created, GError **error)
{
  gint32 image = param[1].data.d_image, drawable = param[2].data.d_drawable;
  ExplainVals vals = explain_defaults;
  segcam_model *model = NULL;
  ExplainSettings settings;

  if (! check_drawable (drawable, error))
    return GIMP_PDB_CALLING_ERROR;
  switch (run_mode)
    {
    case GIMP_RUN_INTERACTIVE:
      load_last_vals (EXPLAIN_PROC, &vals, sizeof vals);
      if (! gimp2_explain_dialog (&vals, drawable, model_dir, &model))
        return GIMP_PDB_CANCEL;
      break;
    case GIMP_RUN_NONINTERACTIVE:
      if (! check_nparams (nparams, G_N_ELEMENTS (explain_args), error)
          || ! read_explain_args (param, &vals, error))
        return GIMP_PDB_CALLING_ERROR;
      break;
    case GIMP_RUN_WITH_LAST_VALS:
      load_last_vals (EXPLAIN_PROC, &vals, sizeof vals);
      break;
    }

  settings = (ExplainSettings) {
    .classes = vals.classes, .layer = vals.layer, .roi_mode = vals.roi_mode,
    .score = vals.score, .colormap = vals.colormap, .opacity = vals.opacity,
    .outputs = vals.outputs, .max_size = vals.max_size,
  };
  *created = execute (image, drawable, model_dir, vals.model, model, &settings, TRUE, error);
  if (*created == -1)
    return GIMP_PDB_EXECUTION_ERROR;
  if (run_mode == GIMP_RUN_INTERACTIVE)
    gimp_set_data (EXPLAIN_PROC, &vals, sizeof vals);
  return GIMP_PDB_SUCCESS;
}

static GimpPDBStatusType
run_segment (GimpRunMode run_mode, gint nparams, const GimpParam *param, const gchar *model_dir,
             gint32 *created, GError **error)
{
  gint32 image = param[1].data.d_image, drawable = param[2].data.d_drawable;
  SegmentVals vals = segment_defaults;
  segcam_model *model = NULL;
  ExplainSettings settings;

  if (! check_drawable (drawable, error))
    return GIMP_PDB_CALLING_ERROR;
  switch (run_mode)
    {
    case GIMP_RUN_INTERACTIVE:
      load_last_vals (SEGMENT_PROC, &vals, sizeof vals);
      if (! gimp2_segment_dialog (&vals, drawable, model_dir, &model))
        return GIMP_PDB_CANCEL;
      break;
    case GIMP_RUN_NONINTERACTIVE:
      if (! check_nparams (nparams, G_N_ELEMENTS (segment_args), error)
          || ! read_segment_args (param, &vals, error))
        return GIMP_PDB_CALLING_ERROR;
      break;
    case GIMP_RUN_WITH_LAST_VALS:
      load_last_vals (SEGMENT_PROC, &vals, sizeof vals);
      break;
    }

  settings = (ExplainSettings) {
    .opacity = vals.opacity, .outputs = EXPLAIN_OUTPUT_SEGMENTATION, .max_size = vals.max_size,
  };
  *created = execute (image, drawable, model_dir, vals.model, model, &settings, FALSE, error);
  if (*created == -1)
    return GIMP_PDB_EXECUTION_ERROR;
  if (run_mode == GIMP_RUN_INTERACTIVE)
    gimp_set_data (SEGMENT_PROC, &vals, sizeof vals);
  return GIMP_PDB_SUCCESS;
}

static void
run (const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
     GimpParam **return_vals)
{
  static GimpParam values[2];
  static gchar *message;
  GimpRunMode run_mode = param[0].data.d_int32;
  gchar *model_dir = model_files_dir (gimp_get_progname ());
  GimpPDBStatusType status;
  GError *error = NULL;
  gint32 created = -1;

  gegl_init (NULL, NULL);

  if (strcmp (name, EXPLAIN_PROC) == 0)
    status = run_explain (run_mode, nparams, param, model_dir, &created, &error);
  else
    status = run_segment (run_mode, nparams, param, model_dir, &created, &error);

  *nreturn_vals = 1;
  *return_vals = values;
  values[0].type = GIMP_PDB_STATUS;
  values[0].data.d_status = status;
  if (status == GIMP_PDB_SUCCESS)
    {
      *nreturn_vals = 2;
      values[1].type = GIMP_PDB_LAYER;
      values[1].data.d_layer = created;
      if (run_mode != GIMP_RUN_NONINTERACTIVE)
        gimp_displays_flush ();
    }
  else if (error != NULL)
    {
      /* Users get a message; scripts get the PDB error string (GIMP would show that string
       * too when the filter runs from a menu, so the user would read it twice). */
      if (run_mode == GIMP_RUN_NONINTERACTIVE)
        {
          g_free (message);
          message = g_strdup (error->message);
          *nreturn_vals = 2;
          values[1].type = GIMP_PDB_STRING;
          values[1].data.d_string = message;
        }
      else
        gimp_message (error->message);
    }
  g_clear_error (&error);
  g_free (model_dir);

  gegl_exit ();
}
