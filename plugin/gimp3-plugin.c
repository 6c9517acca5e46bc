/* gimp3-plugin.c — the GIMP 3.0 adapter: a GimpPlugIn with the two GimpProcedures, their run
 * modes, and the libgimp 3.0 calls behind the shared run's seam.
 *
 * The procedures take the same arguments with the same ranges and defaults, in the same order,
 * as the 2.10 ones (gimp2-plugin.c), except that GIMP 3 hands an image procedure the selected
 * drawables as an array: exactly one layer is accepted. GIMP 3 keeps the last values itself
 * (GimpProcedureConfig, across sessions), validates the arguments against their ranges, and
 * shows a returned error to the user when the filter ran from a menu; the maximum working size
 * is an auxiliary argument: remembered and shown in the dialog, not part of the PDB signature.
 * The persistent process (plugin/README.md) is a persistent procedure of the same executable,
 * whose temporary procedure Explain hands its runs to, as in 2.10.
 *
 * Everything that computes lives in explain-job.c, and the run itself — the model, the progress
 * bar, the new layers inside one undo group, only after all computation has succeeded — in
 * gimp-common.c, shared with the 2.10 adapter. This file turns the config into ExplainSettings
 * and lends gimp_common_run the handful of image calls that 3.0 spells with objects.
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
static GimpValueArray *run_select (GimpProcedure *procedure, GimpRunMode run_mode,
                                   GimpImage *image, GimpDrawable **drawables,
                                   GimpProcedureConfig *config, gpointer data);
static GimpValueArray *run_kept (GimpProcedure *procedure, GimpRunMode run_mode,
                                 GimpImage *image, GimpDrawable **drawables,
                                 GimpProcedureConfig *config, gpointer data);
static GimpValueArray *serve (GimpProcedure *procedure, GimpProcedureConfig *config,
                              gpointer data);

static GList *
query_procedures (GimpPlugIn *plug_in)
{
  gchar *help_dir = gimp_common_help_dir ();
  GFile *help = g_file_new_for_path (help_dir);

  /* The dialogs' Help button opens the page installed beside the plug-in, not GIMP's manual. */
  gimp_plug_in_set_help_domain (plug_in, SEGCAM_HELP_DOMAIN, help);
  g_object_unref (help);
  g_free (help_dir);
  return g_list_append (g_list_append (g_list_append (g_list_append (g_list_append (
                                         NULL, g_strdup (SEGCAM_EXPLAIN_PROC)),
                                       g_strdup (SEGCAM_EXPLAIN_METHOD_PROC)),
                                     g_strdup (SEGCAM_SEGMENT_PROC)),
                                   g_strdup (SEGCAM_HEAT_MAP_SELECT_PROC)),
                        g_strdup (SEGCAM_PERSISTENT_PROC));
}

/* The method and its options: arguments of plug-in-segcam-explain-method, auxiliary arguments
 * (remembered, shown in the dialog, not in the signature) of plug-in-segcam-explain. The method
 * is a string the plug-in checks, not a GimpChoice: script-fu answers a choice it does not know
 * with a warning and the default, so a misspelt method would run Seg-Grad-CAM unannounced. */
static void
add_method_arguments (GimpProcedure *procedure, gboolean aux)
{
  const gchar *seg_grad_cam = segcam_method_name (SEGCAM_METHOD_SEG_GRAD_CAM);

  if (aux)
    {
      gimp_procedure_add_string_aux_argument (procedure, "method", SEGCAM_METHOD_LABEL,
                                              SEGCAM_ARG_METHOD, seg_grad_cam, G_PARAM_READWRITE);
      gimp_procedure_add_int_aux_argument (procedure, "weights", SEGCAM_WEIGHTS_LABEL,
                                           SEGCAM_ARG_WEIGHTS, SEGCAM_WEIGHTS_MEAN,
                                           SEGCAM_WEIGHTS_RELU, SEGCAM_WEIGHTS_MEAN,
                                           G_PARAM_READWRITE);
      gimp_procedure_add_int_aux_argument (procedure, "pool", SEGCAM_POOL_LABEL, SEGCAM_ARG_POOL,
                                           1, G_MAXINT32, EXPLAIN_DEFAULT_POOL,
                                           G_PARAM_READWRITE);
      gimp_procedure_add_int_aux_argument (procedure, "pool-mode", SEGCAM_POOL_MODE_LABEL,
                                           SEGCAM_ARG_POOL_MODE, SEGCAM_POOL_MAX,
                                           SEGCAM_POOL_MEAN, SEGCAM_POOL_MAX, G_PARAM_READWRITE);
      gimp_procedure_add_int_aux_argument (procedure, "sweep", SEGCAM_SWEEP_LABEL,
                                           SEGCAM_ARG_SWEEP, EXPLAIN_SWEEP_NONE,
                                           EXPLAIN_SWEEP_LAYERS, EXPLAIN_SWEEP_NONE,
                                           G_PARAM_READWRITE);
      gimp_procedure_add_int_aux_argument (procedure, "max-channels", SEGCAM_MAX_CHANNELS_LABEL,
                                           SEGCAM_ARG_MAX_CHANNELS, 0, G_MAXINT32,
                                           EXPLAIN_DEFAULT_MAX_CHANNELS, G_PARAM_READWRITE);
      return;
    }
  gimp_procedure_add_string_argument (procedure, "method", SEGCAM_METHOD_LABEL,
                                      SEGCAM_ARG_METHOD, seg_grad_cam, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "weights", SEGCAM_WEIGHTS_LABEL,
                                   SEGCAM_ARG_WEIGHTS, SEGCAM_WEIGHTS_MEAN, SEGCAM_WEIGHTS_RELU,
                                   SEGCAM_WEIGHTS_MEAN, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "pool", SEGCAM_POOL_LABEL, SEGCAM_ARG_POOL, 1,
                                   G_MAXINT32, EXPLAIN_DEFAULT_POOL, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "pool-mode", SEGCAM_POOL_MODE_LABEL,
                                   SEGCAM_ARG_POOL_MODE, SEGCAM_POOL_MAX, SEGCAM_POOL_MEAN,
                                   SEGCAM_POOL_MAX, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "sweep", SEGCAM_SWEEP_LABEL, SEGCAM_ARG_SWEEP,
                                   EXPLAIN_SWEEP_NONE, EXPLAIN_SWEEP_LAYERS, EXPLAIN_SWEEP_NONE,
                                   G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "max-channels", SEGCAM_MAX_CHANNELS_LABEL,
                                   SEGCAM_ARG_MAX_CHANNELS, 0, G_MAXINT32,
                                   EXPLAIN_DEFAULT_MAX_CHANNELS, G_PARAM_READWRITE);
}

static GimpProcedure *
create_select_procedure (GimpPlugIn *plug_in)
{
  GimpProcedure *procedure = gimp_image_procedure_new (plug_in, SEGCAM_HEAT_MAP_SELECT_PROC,
                                                       GIMP_PDB_PROC_TYPE_PLUGIN, run_select,
                                                       NULL, NULL);

  gimp_procedure_set_image_types (procedure, SEGCAM_IMAGE_TYPES);
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
  gimp_procedure_set_menu_label (procedure, "_Heat map to selection...");
  gimp_procedure_add_menu_path (procedure, SEGCAM_MENU_PATH);
  gimp_procedure_set_documentation (procedure, SEGCAM_HEAT_MAP_SELECT_BLURB,
                                    SEGCAM_HEAT_MAP_SELECT_HELP, SEGCAM_HEAT_MAP_SELECT_PROC);
  gimp_procedure_set_attribution (procedure, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE);
  gimp_procedure_add_double_argument (procedure, "threshold", "_Threshold",
                                      SEGCAM_ARG_THRESHOLD, 0, 1, 0.5, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "to-channel", "To _channel",
                                   SEGCAM_ARG_TO_CHANNEL, 0, 1, 0, G_PARAM_READWRITE);
  gimp_procedure_add_channel_return_value (procedure, "channel", "Channel",
                                           SEGCAM_RETURN_CHANNEL, FALSE, G_PARAM_READWRITE);
  return procedure;
}

/* Explain's arguments (Segment's when ! explain): with the method as arguments (with_method) or
 * as aux arguments, and the dialog's options — the working size, map alpha, legend — as aux
 * arguments, or as arguments (all: the persistent process's Explain, which a call hands every
 * setting). */
static void
add_arguments (GimpProcedure *procedure, gboolean explain, gboolean with_method, gboolean all)
{
  typedef void (*AddBoolean) (GimpProcedure *, const gchar *, const gchar *, const gchar *,
                              gboolean, GParamFlags);
  typedef void (*AddInt) (GimpProcedure *, const gchar *, const gchar *, const gchar *, gint,
                          gint, gint, GParamFlags);
  AddBoolean add_option = all ? gimp_procedure_add_boolean_argument
                              : gimp_procedure_add_boolean_aux_argument;
  AddInt add_size = all ? gimp_procedure_add_int_argument : gimp_procedure_add_int_aux_argument;

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
    {
      gimp_procedure_add_int_argument (procedure, "outputs", "Outputs", SEGCAM_ARG_OUTPUTS, 1,
                                       EXPLAIN_OUTPUTS_ALL, EXPLAIN_DEFAULT_OUTPUTS,
                                       G_PARAM_READWRITE);
      add_method_arguments (procedure, ! with_method);
    }
  add_size (procedure, "max-size", "Maximum _working size", SEGCAM_ARG_MAX_SIZE,
            EXPLAIN_MIN_MAX_SIZE, EXPLAIN_MAX_MAX_SIZE, EXPLAIN_DEFAULT_MAX_SIZE,
            G_PARAM_READWRITE);
  if (explain)
    {
      /* Dialog options: as aux arguments remembered but not part of the PDB signature (FALSE in
       * batch runs). */
      add_option (procedure, "map-alpha", SEGCAM_MAP_ALPHA_LABEL, SEGCAM_MAP_ALPHA_HELP, FALSE,
                  G_PARAM_READWRITE);
      add_option (procedure, "legend", SEGCAM_LEGEND_LABEL, SEGCAM_LEGEND_HELP, FALSE,
                  G_PARAM_READWRITE);
    }
  if (all)
    gimp_procedure_add_boolean_argument (procedure, "interactive", "Interactive",
                                         SEGCAM_ARG_INTERACTIVE, FALSE, G_PARAM_READWRITE);
  if (explain)
    gimp_procedure_add_layer_return_value (procedure, "group", "Group", SEGCAM_RETURN_GROUP,
                                           FALSE, G_PARAM_READWRITE);
  else
    gimp_procedure_add_layer_return_value (procedure, "segmentation", "Segmentation",
                                           SEGCAM_RETURN_SEGMENTATION, FALSE, G_PARAM_READWRITE);
}

/* The persistent process (plugin/README.md, "The persistent process"): a procedure without
 * arguments, which GIMP runs when it starts and which never returns. */
static GimpProcedure *
create_persistent_procedure (GimpPlugIn *plug_in)
{
  GimpProcedure *procedure = gimp_procedure_new (plug_in, SEGCAM_PERSISTENT_PROC,
                                                 GIMP_PDB_PROC_TYPE_PERSISTENT, serve, NULL,
                                                 NULL);

  gimp_procedure_set_documentation (procedure, SEGCAM_PERSISTENT_BLURB, SEGCAM_PERSISTENT_HELP,
                                    SEGCAM_PERSISTENT_PROC);
  gimp_procedure_set_attribution (procedure, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE);
  return procedure;
}

static GimpProcedure *
create_procedure (GimpPlugIn *plug_in, const gchar *name)
{
  gboolean with_method = strcmp (name, SEGCAM_EXPLAIN_METHOD_PROC) == 0;
  gboolean explain = with_method || strcmp (name, SEGCAM_EXPLAIN_PROC) == 0;
  GimpProcedure *procedure;

  if (strcmp (name, SEGCAM_HEAT_MAP_SELECT_PROC) == 0)
    return create_select_procedure (plug_in);
  if (strcmp (name, SEGCAM_PERSISTENT_PROC) == 0)
    return create_persistent_procedure (plug_in);
  if (! explain && strcmp (name, SEGCAM_SEGMENT_PROC) != 0)
    return NULL;
  procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN,
                                        explain ? run_explain : run_segment, NULL, NULL);
  gimp_procedure_set_image_types (procedure, SEGCAM_IMAGE_TYPES);
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
  /* explain-method is for scripts: the menu's Explain offers the same choices. */
  if (! with_method)
    {
      gimp_procedure_set_menu_label (procedure, explain ? "_Explain..." : "_Segment...");
      gimp_procedure_add_menu_path (procedure, SEGCAM_MENU_PATH);
    }
  gimp_procedure_set_documentation (procedure,
                                    with_method ? SEGCAM_EXPLAIN_METHOD_BLURB
                                    : explain ? SEGCAM_EXPLAIN_BLURB : SEGCAM_SEGMENT_BLURB,
                                    with_method ? SEGCAM_EXPLAIN_METHOD_HELP
                                    : explain ? SEGCAM_EXPLAIN_HELP : SEGCAM_SEGMENT_HELP, name);
  gimp_procedure_set_attribution (procedure, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE);
  add_arguments (procedure, explain, with_method, FALSE);
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

/* The image calls of gimp_common_run in libgimp 3.0, where items are objects. */

static void
seam_read_source (GimpCommonItem image, GimpCommonItem drawable, ExplainSource *source)
{
  source->pixels = gimp_drawable_get_buffer (drawable);
  if (! gimp_selection_is_empty (image))
    source->selection = gimp_drawable_get_buffer (
      GIMP_DRAWABLE (gimp_image_get_selection (image)));
  gimp_drawable_get_offsets (drawable, &source->offset_x, &source->offset_y);
  source->image_width = gimp_image_get_width (image);
  source->image_height = gimp_image_get_height (image);
}

static gboolean
seam_is_gray (GimpCommonItem image)
{
  return gimp_image_get_base_type (image) == GIMP_GRAY;
}

static void
seam_place (GimpCommonItem image, GimpCommonItem item, GimpCommonItem *parent, gint *position)
{
  *parent = gimp_item_get_parent (item);
  *position = gimp_image_get_item_position (image, item);
}

static GimpCommonItem *
seam_siblings (GimpCommonItem image, GimpCommonItem item, gint *n)
{
  GimpItem *parent = gimp_item_get_parent (item);
  GimpItem **items = parent != NULL ? gimp_item_get_children (parent)
                                    : (GimpItem **) gimp_image_get_layers (image);

  *n = (gint) gimp_core_object_array_get_length ((GObject **) items);
  return (GimpCommonItem *) items;
}

static guint
seam_tattoo (GimpCommonItem item)
{
  return gimp_item_get_tattoo (item);
}

static gchar *
seam_get_parasite (GimpCommonItem item, const gchar *name)
{
  GimpParasite *parasite = item != NULL ? gimp_item_get_parasite (item, name)
                                         : gimp_get_parasite (name);
  gchar *text = NULL;

  if (parasite != NULL)
    {
      guint32 size = 0;
      gconstpointer data = gimp_parasite_get_data (parasite, &size);

      /* An empty parasite has no data, and g_strndup (NULL, 0) would say "none". */
      text = data != NULL ? g_strndup (data, size) : g_strdup ("");
    }
  gimp_parasite_free (parasite);
  return text;
}

static void
seam_attach_parasite (GimpCommonItem item, const GimpParasite *parasite)
{
  if (item != NULL)
    gimp_item_attach_parasite (item, parasite);
  else
    gimp_attach_parasite (parasite);
}

static void
seam_begin (GimpCommonItem image)
{
  gimp_image_undo_group_start (image);
  gimp_image_freeze_layers (image);
}

static void
seam_convert_rgb (GimpCommonItem image)
{
  gimp_image_convert_rgb (image);
}

static GimpCommonItem
seam_add_group (GimpCommonItem image, const gchar *name, GimpCommonItem parent, gint position)
{
  GimpGroupLayer *group = gimp_group_layer_new (image, name);

  gimp_image_insert_layer (image, GIMP_LAYER (group), parent, position);
  return group;
}

static GimpCommonItem
seam_add_layer (GimpCommonItem image, const ExplainLayer *out, GimpImageType type,
                const GeglRectangle *bounds, GimpCommonItem parent, gint position)
{
  GimpLayer *layer = gimp_layer_new (image, out->name, bounds->width, bounds->height, type,
                                     out->opacity, GIMP_LAYER_MODE_NORMAL);

  gimp_image_insert_layer (image, layer, parent, position);
  gimp_layer_set_offsets (layer, bounds->x, bounds->y);
  return layer;
}

static GeglBuffer *
seam_buffer (GimpCommonItem layer)
{
  return gimp_drawable_get_buffer (layer);
}

static void
seam_finish_layer (GimpCommonItem layer, const GeglRectangle *bounds, gboolean visible)
{
  gimp_drawable_update (layer, 0, 0, bounds->width, bounds->height);
  gimp_item_set_visible (layer, visible);
}

static void
seam_end (GimpCommonItem image, GimpCommonItem layer)
{
  gimp_image_thaw_layers (image);
  gimp_image_set_selected_layers (image, (const GimpLayer *[]) { layer, NULL });
  gimp_image_undo_group_end (image);
}

/* GIMP 3 shows a plug-in's message in a dialog or its error console, as the user chose. */
static void
seam_warn (const gchar *text)
{
  gimp_message (text);
}

static gchar *
seam_get_name (GimpCommonItem item)
{
  return g_strdup (gimp_item_get_name (item));
}

static GimpCommonItem
seam_add_channel (GimpCommonItem image, const gchar *name)
{
  GeglColor *black = gegl_color_new ("black");
  GimpChannel *channel = gimp_channel_new (image, name, gimp_image_get_width (image),
                                           gimp_image_get_height (image), 50, black);

  g_object_unref (black);
  gimp_image_insert_channel (image, channel, NULL, 0);
  return channel;
}

static GimpCommonItem
seam_select_channel (GimpCommonItem image, GimpCommonItem channel)
{
  gimp_image_select_item (image, GIMP_CHANNEL_OP_REPLACE, channel);
  gimp_image_remove_channel (image, channel);
  return gimp_image_get_selection (image);
}

static gint
seam_image_id (GimpCommonItem image)
{
  return gimp_image_get_id (image);
}

static const GimpCommonSeam seam = {
  seam_read_source, seam_is_gray, seam_place, seam_siblings, seam_tattoo, seam_get_parasite,
  seam_attach_parasite, seam_begin, seam_convert_rgb, seam_add_group, seam_add_layer,
  seam_buffer, seam_finish_layer, seam_end, seam_warn, seam_get_name,
  seam_add_channel, seam_select_channel, seam_image_id, gimp_image_id_is_valid,
};

/* What the persistent process keeps. */
static GimpCommonKeep *persistent;

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

/* The Explain dialog, with the source read for its preview (the run reads it again: the image
 * may change while the dialog is open). */
static gboolean
explain_dialog (GimpProcedure *procedure, GimpProcedureConfig *config, GimpImage *image,
                GimpDrawable *drawable, const gchar *model_dir, segcam_model **model)
{
  ExplainSource source = { NULL };
  gboolean run;

  seam_read_source (image, drawable, &source);
  run = gimp3_explain_dialog (procedure, config, &source, model_dir, model);
  explain_source_clear (&source);
  return run;
}

/* The settings of a run from its config, and the model setting (free both with
 * clear_settings). */
static gchar *
read_settings (GimpProcedureConfig *config, gboolean explain, ExplainSettings *settings,
               GError **error)
{
  gint max_size, roi_mode = 0, score = 0, colormap = 0, outputs = 0, weights = 0,
       pool = EXPLAIN_DEFAULT_POOL, pool_mode = 0, sweep = 0,
       max_channels = EXPLAIN_DEFAULT_MAX_CHANNELS;
  gboolean map_alpha = FALSE, legend = FALSE;
  gdouble opacity;
  gchar *model_setting = NULL, *classes = NULL, *layer = NULL, *method = NULL;

  g_object_get (config, "model", &model_setting, "opacity", &opacity, "max-size", &max_size,
                NULL);
  if (explain)
    g_object_get (config, "classes", &classes, "layer", &layer, "roi-mode", &roi_mode,
                  "score", &score, "colormap", &colormap, "outputs", &outputs, "map-alpha",
                  &map_alpha, "legend", &legend, "method", &method, "weights", &weights,
                  "pool", &pool, "pool-mode", &pool_mode, "sweep", &sweep, "max-channels",
                  &max_channels, NULL);
  *settings = (ExplainSettings) {
    .classes = classes, .layer = layer, .roi_mode = roi_mode, .score = score,
    .colormap = colormap, .opacity = opacity,
    .outputs = explain ? (unsigned) outputs : EXPLAIN_OUTPUT_SEGMENTATION, .max_size = max_size,
    .method = explain ? explain_parse_method (method, error) : 0, .weights = weights,
    .pool = pool, .pool_mode = pool_mode, .sweep = sweep, .max_channels = max_channels,
    .map_alpha = map_alpha, .legend = legend,
  };
  g_free (method);
  return model_setting;
}

static void
clear_settings (ExplainSettings *settings, gchar *model_setting)
{
  g_free ((gchar *) settings->classes);
  g_free ((gchar *) settings->layer);
  g_free (model_setting);
}

/* Hands an Explain run with config's settings to the persistent process. FALSE when there is
 * none (turned off, or not started) or it died in the run: the caller runs it itself. Else
 * *status, and *created or the error, are its run's. */
static gboolean
run_persistent (GimpProcedureConfig *config, GimpRunMode run_mode, GimpImage *image,
                GimpDrawable *drawable, GimpPDBStatusType *status, GimpLayer **created,
                GError **error)
{
  GimpPDB *pdb = gimp_get_pdb ();
  GimpPlugIn *plug_in = gimp_get_plug_in ();
  GimpProcedure *kept;
  GimpProcedureConfig *args;
  GParamSpec **pspecs;
  GimpValueArray *values;
  gchar *message;
  gint n;

  if (! gimp_common_persistent_enabled ()
      || ! gimp_pdb_procedure_exists (pdb, SEGCAM_PERSISTENT_RUN_PROC))
    return FALSE;
  kept = gimp_pdb_lookup_procedure (pdb, SEGCAM_PERSISTENT_RUN_PROC);
  args = gimp_procedure_create_config (kept);
  /* Its arguments are this run's arguments and aux arguments, by the same names. */
  pspecs = gimp_procedure_get_arguments (kept, &n);
  for (gint i = 0; i < n; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (config), pspecs[i]->name) != NULL)
      {
        GValue value = G_VALUE_INIT;

        g_value_init (&value, pspecs[i]->value_type);
        g_object_get_property (G_OBJECT (config), pspecs[i]->name, &value);
        g_object_set_property (G_OBJECT (args), pspecs[i]->name, &value);
        g_value_unset (&value);
      }
  /* Not the run mode: an interactive run of an image procedure would take that procedure's
   * last values instead of the arguments. */
  g_object_set (args, "run-mode", GIMP_RUN_NONINTERACTIVE, "image", image, "drawables",
                (GimpDrawable *[]) { drawable, NULL }, "interactive",
                run_mode != GIMP_RUN_NONINTERACTIVE, NULL);
  /* Its errors come back to this process, which shows them or returns them; GIMP must not
   * show them as well. */
  gimp_plug_in_set_pdb_error_handler (plug_in, GIMP_PDB_ERROR_HANDLER_PLUGIN);
  values = gimp_procedure_run_config (kept, args);
  gimp_plug_in_set_pdb_error_handler (plug_in, GIMP_PDB_ERROR_HANDLER_INTERNAL);
  g_object_unref (args);
  *status = GIMP_VALUES_GET_ENUM (values, 0);
  /* A failed run returns its error's message after the status. */
  message = gimp_value_array_length (values) > 1
              && G_VALUE_HOLDS_STRING (gimp_value_array_index (values, 1))
            ? g_value_dup_string (gimp_value_array_index (values, 1))
            : g_strdup (gimp_pdb_get_last_error (pdb));
  /* A failure that took the process with it (a crash; not a cancel, which ends it too) is not
   * the run's: the caller runs it itself. */
  if (*status != GIMP_PDB_SUCCESS && *status != GIMP_PDB_CANCEL
      && ! gimp_pdb_procedure_exists (pdb, SEGCAM_PERSISTENT_RUN_PROC))
    {
      gimp_value_array_unref (values);
      g_free (message);
      return FALSE;
    }
  if (*status == GIMP_PDB_SUCCESS)
    *created = GIMP_VALUES_GET_LAYER (values, 1);
  else if (*status != GIMP_PDB_CANCEL)
    g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, message);
  gimp_value_array_unref (values);
  g_free (message);
  return TRUE;
}

/* An Explain or Segment run's return values: the status, then the error or the created layer. */
static GimpValueArray *
run_values (GimpProcedure *procedure, GimpPDBStatusType status, GError *error,
            GimpLayer *created)
{
  GimpValueArray *values = gimp_procedure_new_return_values (procedure, status, error);

  if (status == GIMP_PDB_SUCCESS)
    GIMP_VALUES_SET_LAYER (values, 1, created);
  return values;
}

static GimpValueArray *
run (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
     GimpDrawable **drawables, GimpProcedureConfig *config, gboolean explain)
{
  gchar *model_dir = model_files_dir (gimp_get_progname ());
  gchar *model_setting = NULL;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  ExplainSettings settings = { NULL };
  segcam_model *model = NULL;
  GimpLayer *created = NULL;
  GimpValueArray *values;
  GimpDrawable *drawable;
  GError *error = NULL;

  gegl_init (NULL, NULL);

  drawable = single_layer (drawables, &error);
  if (drawable != NULL && run_mode == GIMP_RUN_INTERACTIVE)
    {
      /* The dialog opens with the model of the last interactive run of either procedure. */
      gchar *last = gimp_common_last_model (&seam);

      if (last != NULL)
        g_object_set (config, "model", last, NULL);
      g_free (last);
    }
  if (drawable == NULL)
    status = GIMP_PDB_CALLING_ERROR;
  else if (run_mode == GIMP_RUN_INTERACTIVE
           && ! (explain ? explain_dialog (procedure, config, image, drawable, model_dir, &model)
                         : gimp3_segment_dialog (procedure, config, drawable, model_dir, &model)))
    status = GIMP_PDB_CANCEL;

  if (status == GIMP_PDB_SUCCESS)
    {
      model_setting = read_settings (config, explain, &settings, &error);
      if (error != NULL)
        status = GIMP_PDB_EXECUTION_ERROR;
      else if (! (explain && run_persistent (config, run_mode, image, drawable, &status,
                                             &created, &error)))
        {
          created = gimp_common_run (&seam, image, drawable, model_dir, model_setting,
                                     g_steal_pointer (&model), &settings, explain,
                                     run_mode != GIMP_RUN_NONINTERACTIVE, NULL, &error);
          status = created != NULL ? GIMP_PDB_SUCCESS : GIMP_PDB_EXECUTION_ERROR;
        }
      if (status == GIMP_PDB_SUCCESS && run_mode == GIMP_RUN_INTERACTIVE)
        gimp_common_remember_model (&seam, model_setting);
    }
  /* The dialog's model, unless the run took it: the persistent process keeps its own. */
  segcam_model_free (model);

  /* On failure GIMP shows the error to the user when the filter ran from a menu — in a message
   * dialog: it adds a first line, "Execution error for 'Explain...':", and the status bar takes
   * only one-liners — and hands it to the calling script otherwise. */
  values = run_values (procedure, status, error, created);
  clear_settings (&settings, model_setting);
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

static GimpValueArray *
run_select (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
            GimpDrawable **drawables, GimpProcedureConfig *config, gpointer data)
{
  gsize n = gimp_core_object_array_get_length ((GObject **) drawables);
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  GimpCommonItem channel = NULL;
  GimpValueArray *values;
  GError *error = NULL;
  gdouble threshold;
  gint to_channel;

  gegl_init (NULL, NULL);
  if (n != 1)
    {
      g_set_error (&error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                   "Heat map to selection works on one heat-map layer, not on %" G_GSIZE_FORMAT
                   " selected layers", n);
      status = GIMP_PDB_CALLING_ERROR;
    }
  else if (run_mode == GIMP_RUN_INTERACTIVE && ! gimp3_select_dialog (procedure, config))
    status = GIMP_PDB_CANCEL;
  if (status == GIMP_PDB_SUCCESS)
    {
      g_object_get (config, "threshold", &threshold, "to-channel", &to_channel, NULL);
      channel = gimp_common_heat_map_select (&seam, image, drawables[0], threshold, to_channel,
                                             &error);
      if (channel == NULL)
        status = GIMP_PDB_EXECUTION_ERROR;
    }
  values = gimp_procedure_new_return_values (procedure, status, error);
  if (status == GIMP_PDB_SUCCESS)
    GIMP_VALUES_SET_CHANNEL (values, 1, channel);
  return values;
}

/* ---- the persistent process --------------------------------------------------------------- */

/* SEGCAM_PERSISTENT_RUN_PROC: an Explain run with every setting as arguments (the caller has
 * settled the run mode's values and says whether it ran from the menu), on the kept model and
 * forward pass. Errors always go back to the caller, which shows them or returns them. */
static GimpValueArray *
run_kept (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
          GimpDrawable **drawables, GimpProcedureConfig *config, gpointer data)
{
  gchar *model_dir = model_files_dir (gimp_get_progname ());
  GimpPDBStatusType status = GIMP_PDB_CALLING_ERROR;
  ExplainSettings settings = { NULL };
  gchar *model_setting = NULL;
  GimpCommonItem created = NULL;
  GimpValueArray *values;
  GimpDrawable *drawable;
  GError *error = NULL;

  drawable = single_layer (drawables, &error);
  if (drawable != NULL)
    model_setting = read_settings (config, TRUE, &settings, &error);
  if (error == NULL)
    {
      gboolean interactive;

      g_object_get (config, "interactive", &interactive, NULL);
      created = gimp_common_run_kept (&seam, persistent, image, drawable, model_dir,
                                      model_setting, &settings, interactive, &error);
      status = created != NULL ? GIMP_PDB_SUCCESS : GIMP_PDB_EXECUTION_ERROR;
    }
  values = run_values (procedure, status, error, created);
  clear_settings (&settings, model_setting);
  g_free (model_dir);
  return values;
}

/* SEGCAM_PERSISTENT_PROC, which GIMP runs when it starts: installs the Explain procedure above,
 * tells GIMP it is ready, then serves it until GIMP quits (libgimp ends the process then). It
 * loads nothing before the first run; between runs it looks every few seconds whether what it
 * keeps has expired. Turned off, it returns at once. */
static GimpValueArray *
serve (GimpProcedure *procedure, GimpProcedureConfig *config, gpointer data)
{
  GimpPlugIn *plug_in = gimp_procedure_get_plug_in (procedure);
  GimpProcedure *kept;

  if (! gimp_common_persistent_enabled ())
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  gegl_init (NULL, NULL);
  persistent = gimp_common_keep_new ();
  kept = gimp_image_procedure_new (plug_in, SEGCAM_PERSISTENT_RUN_PROC,
                                   GIMP_PDB_PROC_TYPE_TEMPORARY, run_kept, NULL, NULL);
  gimp_procedure_set_image_types (kept, SEGCAM_IMAGE_TYPES);
  gimp_procedure_set_documentation (kept, SEGCAM_EXPLAIN_METHOD_BLURB,
                                    SEGCAM_PERSISTENT_RUN_HELP, SEGCAM_PERSISTENT_RUN_PROC);
  gimp_procedure_set_attribution (kept, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE);
  add_arguments (kept, TRUE, TRUE, TRUE);
  gimp_plug_in_add_temp_procedure (plug_in, kept);
  g_object_unref (kept);
  gimp_procedure_persistent_ready (procedure);
  for (;;)
    {
      gimp_plug_in_persistent_process (plug_in, SEGCAM_PERSISTENT_POLL_MS);
      gimp_common_keep_expire (&seam, persistent);
    }
}
