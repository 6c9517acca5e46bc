/* gimp2-plugin.c — the GIMP 2.10 adapter: PDB procedures, run modes, last values, and the
 * libgimp 2.10 calls behind the shared run's seam.
 *
 * Everything that computes lives in explain-job.c, which knows nothing of libgimp, and the run
 * itself — the model, the progress bar, the new layers inside one undo group, only after all
 * computation has succeeded — in gimp-common.c, shared with the GIMP 3 adapter. This file
 * turns PDB arguments into ExplainSettings and lends gimp_common_run the handful of image calls
 * that 2.10 spells with item IDs.
 */
#include <string.h>

#include <libgimp/gimp.h>

#include "explain-job.h"
#include "gimp-common.h"
#include "gimp2-dialog.h"
#include "model-files.h"

static void query (void);
static void run (const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
                 GimpParam **return_vals);

const GimpPlugInInfo PLUG_IN_INFO = { NULL, NULL, query, run };

MAIN ()

static const ExplainVals explain_defaults = {
  GIMP2_VALS_VERSION, "", "", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS,
  SEGCAM_COLORMAP_JET, EXPLAIN_DEFAULT_OPACITY, EXPLAIN_DEFAULT_OUTPUTS, EXPLAIN_DEFAULT_MAX_SIZE,
  FALSE, FALSE, SEGCAM_METHOD_SEG_GRAD_CAM, SEGCAM_WEIGHTS_MEAN, EXPLAIN_DEFAULT_POOL,
  SEGCAM_POOL_MAX, FALSE, EXPLAIN_DEFAULT_MAX_CHANNELS,
};

static const SelectVals select_defaults = { GIMP2_VALS_VERSION, 0.5, FALSE };

static const SegmentVals segment_defaults = {
  GIMP2_VALS_VERSION, "", EXPLAIN_DEFAULT_OPACITY, EXPLAIN_DEFAULT_MAX_SIZE,
};

#define IMAGE_ARGS(drawable)                                                                  \
  { GIMP_PDB_INT32, "run-mode",                                                               \
    "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), RUN-WITH-LAST-VALS (2) }" }, \
  { GIMP_PDB_IMAGE, "image", "Input image" },                                                 \
  { GIMP_PDB_DRAWABLE, "drawable", drawable }
#define RUN_ARGS                                                                              \
  IMAGE_ARGS ("The source layer (never modified)"),                                           \
  { GIMP_PDB_STRING, "model", SEGCAM_ARG_MODEL }
#define EXPLAIN_ARGS                                                                          \
  RUN_ARGS,                                                                                   \
  { GIMP_PDB_STRING, "classes", SEGCAM_ARG_CLASSES },                                         \
  { GIMP_PDB_STRING, "layer", SEGCAM_ARG_LAYER },                                             \
  { GIMP_PDB_INT32, "roi-mode", SEGCAM_ARG_ROI_MODE },                                        \
  { GIMP_PDB_INT32, "score", SEGCAM_ARG_SCORE },                                              \
  { GIMP_PDB_INT32, "colormap", SEGCAM_ARG_COLORMAP },                                        \
  { GIMP_PDB_FLOAT, "opacity", SEGCAM_ARG_OPACITY },                                          \
  { GIMP_PDB_INT32, "outputs", SEGCAM_ARG_OUTPUTS }

#define METHOD_ARGS                                                                           \
  { GIMP_PDB_STRING, "method", SEGCAM_ARG_METHOD },                                           \
  { GIMP_PDB_INT32, "weights", SEGCAM_ARG_WEIGHTS },                                          \
  { GIMP_PDB_INT32, "pool", SEGCAM_ARG_POOL },                                                \
  { GIMP_PDB_INT32, "pool-mode", SEGCAM_ARG_POOL_MODE },                                      \
  { GIMP_PDB_INT32, "sweep", SEGCAM_ARG_SWEEP },                                              \
  { GIMP_PDB_INT32, "max-channels", SEGCAM_ARG_MAX_CHANNELS }

static const GimpParamDef explain_args[] = { EXPLAIN_ARGS };
static const GimpParamDef explain_method_args[] = { EXPLAIN_ARGS, METHOD_ARGS };
/* The persistent process's Explain: explain-method's arguments, then the dialog's options. */
static const GimpParamDef persistent_run_args[] = {
  EXPLAIN_ARGS,
  METHOD_ARGS,
  { GIMP_PDB_INT32, "max-size", SEGCAM_ARG_MAX_SIZE },
  { GIMP_PDB_INT32, "map-alpha", SEGCAM_MAP_ALPHA_HELP },
  { GIMP_PDB_INT32, "legend", SEGCAM_LEGEND_HELP },
};
static const GimpParamDef explain_return[] = {
  { GIMP_PDB_LAYER, "group", SEGCAM_RETURN_GROUP },
};
static const GimpParamDef segment_args[] = {
  RUN_ARGS,
  { GIMP_PDB_FLOAT, "opacity", SEGCAM_ARG_SEGMENT_OPACITY },
};
static const GimpParamDef segment_return[] = {
  { GIMP_PDB_LAYER, "segmentation", SEGCAM_RETURN_SEGMENTATION },
};
static const GimpParamDef select_args[] = {
  IMAGE_ARGS ("A heat-map layer of an Explain result"),
  { GIMP_PDB_FLOAT, "threshold", SEGCAM_ARG_THRESHOLD },
  { GIMP_PDB_INT32, "to-channel", SEGCAM_ARG_TO_CHANNEL },
};
static const GimpParamDef select_return[] = {
  { GIMP_PDB_CHANNEL, "channel", SEGCAM_RETURN_CHANNEL },
};

static void
query (void)
{
  gchar *help_dir = gimp_common_help_dir ();
  gchar *help_uri = g_filename_to_uri (help_dir, NULL, NULL);

  /* The dialogs' Help button opens the page installed beside the plug-in, not GIMP's manual. */
  gimp_plugin_help_register (SEGCAM_HELP_DOMAIN, help_uri);
  g_free (help_uri);
  g_free (help_dir);
  gimp_install_procedure (SEGCAM_EXPLAIN_PROC, SEGCAM_EXPLAIN_BLURB, SEGCAM_EXPLAIN_HELP,
                          SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE, "_Explain...",
                          SEGCAM_IMAGE_TYPES, GIMP_PLUGIN, G_N_ELEMENTS (explain_args),
                          G_N_ELEMENTS (explain_return), explain_args, explain_return);
  gimp_plugin_menu_register (SEGCAM_EXPLAIN_PROC, SEGCAM_MENU_PATH);

  /* For scripts: the dialog is Explain's. */
  gimp_install_procedure (SEGCAM_EXPLAIN_METHOD_PROC, SEGCAM_EXPLAIN_METHOD_BLURB,
                          SEGCAM_EXPLAIN_METHOD_HELP, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT,
                          SEGCAM_DATE, NULL, SEGCAM_IMAGE_TYPES, GIMP_PLUGIN,
                          G_N_ELEMENTS (explain_method_args), G_N_ELEMENTS (explain_return),
                          explain_method_args, explain_return);

  gimp_install_procedure (SEGCAM_SEGMENT_PROC, SEGCAM_SEGMENT_BLURB, SEGCAM_SEGMENT_HELP,
                          SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE, "_Segment...",
                          SEGCAM_IMAGE_TYPES, GIMP_PLUGIN, G_N_ELEMENTS (segment_args),
                          G_N_ELEMENTS (segment_return), segment_args, segment_return);
  gimp_plugin_menu_register (SEGCAM_SEGMENT_PROC, SEGCAM_MENU_PATH);

  /* An extension without arguments: GIMP starts it when it starts, and it stays until GIMP
   * quits. */
  gimp_install_procedure (SEGCAM_PERSISTENT_PROC, SEGCAM_PERSISTENT_BLURB, SEGCAM_PERSISTENT_HELP,
                          SEGCAM_AUTHOR, SEGCAM_COPYRIGHT, SEGCAM_DATE, NULL, NULL,
                          GIMP_EXTENSION, 0, 0, NULL, NULL);

  gimp_install_procedure (SEGCAM_HEAT_MAP_SELECT_PROC, SEGCAM_HEAT_MAP_SELECT_BLURB,
                          SEGCAM_HEAT_MAP_SELECT_HELP, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT,
                          SEGCAM_DATE, "_Heat map to selection...", SEGCAM_IMAGE_TYPES,
                          GIMP_PLUGIN, G_N_ELEMENTS (select_args), G_N_ELEMENTS (select_return),
                          select_args, select_return);
  gimp_plugin_menu_register (SEGCAM_HEAT_MAP_SELECT_PROC, SEGCAM_MENU_PATH);
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
read_explain_args (const GimpParam *param, gpointer data, GError **error)
{
  ExplainVals *vals = data;

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

/* explain-method: explain's arguments, then the method's. */
static gboolean
read_explain_method_args (const GimpParam *param, gpointer data, GError **error)
{
  ExplainVals *vals = data;
  int method;

  if (! read_explain_args (param, data, error)
      || (method = explain_parse_method (param[11].data.d_string, error)) < 0)
    return FALSE;
  vals->method = method;
  vals->weights = param[12].data.d_int32;
  vals->pool = param[13].data.d_int32;
  vals->pool_mode = param[14].data.d_int32;
  vals->sweep = param[15].data.d_int32;
  vals->max_channels = param[16].data.d_int32;
  return check_range (vals->weights, SEGCAM_WEIGHTS_MEAN, SEGCAM_WEIGHTS_RELU, "weights", error)
         && check_range (vals->pool, 1, G_MAXINT32, "pool", error)
         && check_range (vals->pool_mode, SEGCAM_POOL_MAX, SEGCAM_POOL_MEAN, "pool-mode", error)
         && check_range (vals->sweep, EXPLAIN_SWEEP_NONE, EXPLAIN_SWEEP_LAYERS, "sweep", error)
         && check_range (vals->max_channels, 0, G_MAXINT32, "max-channels", error);
}

/* The persistent process's Explain: explain-method's arguments, then the dialog's options. */
static gboolean
read_persistent_args (const GimpParam *param, gpointer data, GError **error)
{
  ExplainVals *vals = data;

  if (! read_explain_method_args (param, data, error))
    return FALSE;
  vals->max_size = param[17].data.d_int32;
  vals->map_alpha = param[18].data.d_int32;
  vals->legend = param[19].data.d_int32;
  return check_range (vals->max_size, EXPLAIN_MIN_MAX_SIZE, EXPLAIN_MAX_MAX_SIZE, "max-size",
                      error)
         && check_range (vals->map_alpha, 0, 1, "map-alpha", error)
         && check_range (vals->legend, 0, 1, "legend", error);
}

static gboolean
read_segment_args (const GimpParam *param, gpointer data, GError **error)
{
  SegmentVals *vals = data;

  vals->opacity = param[4].data.d_float;
  return copy_string (vals->model, sizeof vals->model, param[3].data.d_string, "model", error)
         && check_range (vals->opacity, 0, 100, "opacity", error);
}

/* ---- running ------------------------------------------------------------------------------ */

/* The image calls of gimp_common_run in libgimp 2.10, where every item is an ID. */

#define ID(item) GPOINTER_TO_INT (item)
#define ITEM(id) GINT_TO_POINTER (id)

static void
seam_read_source (GimpCommonItem image, GimpCommonItem drawable, ExplainSource *source)
{
  source->pixels = gimp_drawable_get_buffer (ID (drawable));
  if (! gimp_selection_is_empty (ID (image)))
    source->selection = gimp_drawable_get_buffer (gimp_image_get_selection (ID (image)));
  gimp_drawable_offsets (ID (drawable), &source->offset_x, &source->offset_y);
  source->image_width = gimp_image_width (ID (image));
  source->image_height = gimp_image_height (ID (image));
}

static gboolean
seam_is_gray (GimpCommonItem image)
{
  return gimp_image_base_type (ID (image)) == GIMP_GRAY;
}

static void
seam_place (GimpCommonItem image, GimpCommonItem item, GimpCommonItem *parent, gint *position)
{
  *parent = ITEM (gimp_item_get_parent (ID (item)));
  *position = gimp_image_get_item_position (ID (image), ID (item));
}

static GimpCommonItem *
seam_siblings (GimpCommonItem image, GimpCommonItem item, gint *n)
{
  gint32 parent = gimp_item_get_parent (ID (item));
  gint *ids = parent > 0 ? gimp_item_get_children (parent, n)
                         : gimp_image_get_layers (ID (image), n);
  GimpCommonItem *items = g_new (GimpCommonItem, *n);

  for (gint i = 0; i < *n; i++)
    items[i] = ITEM (ids[i]);
  g_free (ids);
  return items;
}

static guint
seam_tattoo (GimpCommonItem item)
{
  return gimp_item_get_tattoo (ID (item));
}

static gchar *
seam_get_parasite (GimpCommonItem item, const gchar *name)
{
  GimpParasite *parasite = item != NULL ? gimp_item_get_parasite (ID (item), name)
                                         : gimp_get_parasite (name);
  gchar *text = NULL;

  if (parasite != NULL)
    {
      gconstpointer data = gimp_parasite_data (parasite);

      /* An empty parasite has no data, and g_strndup (NULL, 0) would say "none". */
      text = data != NULL ? g_strndup (data, gimp_parasite_data_size (parasite)) : g_strdup ("");
    }
  gimp_parasite_free (parasite);
  return text;
}

static void
seam_attach_parasite (GimpCommonItem item, const GimpParasite *parasite)
{
  if (item != NULL)
    gimp_item_attach_parasite (ID (item), parasite);
  else
    gimp_attach_parasite (parasite);
}

static void
seam_begin (GimpCommonItem image)
{
  gimp_image_undo_group_start (ID (image));
  gimp_image_freeze_layers (ID (image));
}

static void
seam_convert_rgb (GimpCommonItem image)
{
  gimp_image_convert_rgb (ID (image));
}

static GimpCommonItem
seam_add_group (GimpCommonItem image, const gchar *name, GimpCommonItem parent, gint position)
{
  gint32 group = gimp_layer_group_new (ID (image));

  gimp_item_set_name (group, name);
  gimp_image_insert_layer (ID (image), group, ID (parent), position);
  return ITEM (group);
}

static GimpCommonItem
seam_add_layer (GimpCommonItem image, const ExplainLayer *out, GimpImageType type,
                const GeglRectangle *bounds, GimpCommonItem parent, gint position)
{
  gint32 layer = gimp_layer_new (ID (image), out->name, bounds->width, bounds->height, type,
                                 out->opacity, GIMP_LAYER_MODE_NORMAL);

  gimp_image_insert_layer (ID (image), layer, ID (parent), position);
  gimp_layer_set_offsets (layer, bounds->x, bounds->y);
  return ITEM (layer);
}

static GeglBuffer *
seam_buffer (GimpCommonItem layer)
{
  return gimp_drawable_get_buffer (ID (layer));
}

static void
seam_finish_layer (GimpCommonItem layer, const GeglRectangle *bounds, gboolean visible)
{
  gimp_drawable_update (ID (layer), 0, 0, bounds->width, bounds->height);
  gimp_item_set_visible (ID (layer), visible);
}

static void
seam_end (GimpCommonItem image, GimpCommonItem layer)
{
  gimp_image_thaw_layers (ID (image));
  gimp_image_set_active_layer (ID (image), ID (layer));
  gimp_image_undo_group_end (ID (image));
}

/* A message in a dialog. GIMP shows plug-in messages in a dialog only with that message
 * handler, and even then puts a one-line message in the image window's status bar, where it
 * vanishes after a few seconds: hence the handler, set for this message only, and the callers'
 * two lines. */
static void
seam_warn (const gchar *text)
{
  GimpMessageHandlerType handler = gimp_message_get_handler ();

  gimp_message_set_handler (GIMP_MESSAGE_BOX);
  gimp_message (text);
  gimp_message_set_handler (handler);
}

static gchar *
seam_get_name (GimpCommonItem item)
{
  return gimp_item_get_name (ID (item));
}

static GimpCommonItem
seam_add_channel (GimpCommonItem image, const gchar *name)
{
  const GimpRGB black = { 0, 0, 0, 1 };
  gint32 channel = gimp_channel_new (ID (image), name, gimp_image_width (ID (image)),
                                     gimp_image_height (ID (image)), 50, &black);

  gimp_image_insert_channel (ID (image), channel, 0, 0);
  return ITEM (channel);
}

static GimpCommonItem
seam_select_channel (GimpCommonItem image, GimpCommonItem channel)
{
  gimp_image_select_item (ID (image), GIMP_CHANNEL_OP_REPLACE, ID (channel));
  gimp_image_remove_channel (ID (image), ID (channel));
  return ITEM (gimp_image_get_selection (ID (image)));
}

static gint
seam_image_id (GimpCommonItem image)
{
  return ID (image);
}

static const GimpCommonSeam seam = {
  seam_read_source, seam_is_gray, seam_place, seam_siblings, seam_tattoo, seam_get_parasite,
  seam_attach_parasite, seam_begin, seam_convert_rgb, seam_add_group, seam_add_layer,
  seam_buffer, seam_finish_layer, seam_end, seam_warn, seam_get_name,
  seam_add_channel, seam_select_channel, seam_image_id, gimp_image_is_valid,
};

/* What differs between the two procedures; their run modes work alike. */
typedef struct {
  const gchar *name;
  gsize n_args;
  gsize vals_size;
  gboolean grouped;            /* the new layers go into a layer group of their own */
  gboolean persistent;         /* runs in the persistent process when it can (ExplainVals) */
  gboolean (*dialog) (gpointer vals, gint32 image, gint32 drawable, const gchar *model_dir,
                      segcam_model **model);
  gboolean (*read_args) (const GimpParam *param, gpointer vals, GError **error);
  /* The job's settings from the values; returns the model setting. */
  const gchar *(*settings) (gconstpointer vals, ExplainSettings *settings);
  /* Where the values keep the model setting, and its size. */
  gchar *(*model) (gpointer vals, gsize *size);
} Procedure;

static gboolean
explain_dialog (gpointer vals, gint32 image, gint32 drawable, const gchar *model_dir,
                segcam_model **model)
{
  ExplainSource source = { NULL };
  gboolean run;

  /* For the preview (the run reads the source again: the image may change while the dialog is
   * open). */
  seam_read_source (ITEM (image), ITEM (drawable), &source);
  run = gimp2_explain_dialog (vals, &source, model_dir, model);
  explain_source_clear (&source);
  return run;
}

static gboolean
segment_dialog (gpointer vals, gint32 image, gint32 drawable, const gchar *model_dir,
                segcam_model **model)
{
  return gimp2_segment_dialog (vals, drawable, model_dir, model);
}

static const gchar *
explain_settings (gconstpointer data, ExplainSettings *settings)
{
  const ExplainVals *vals = data;

  *settings = (ExplainSettings) {
    .classes = vals->classes, .layer = vals->layer, .roi_mode = vals->roi_mode,
    .score = vals->score, .colormap = vals->colormap, .opacity = vals->opacity,
    .outputs = vals->outputs, .max_size = vals->max_size, .method = vals->method,
    .weights = vals->weights, .pool = vals->pool, .pool_mode = vals->pool_mode,
    .sweep = vals->sweep, .max_channels = vals->max_channels,
    .map_alpha = vals->map_alpha, .legend = vals->legend,
  };
  return vals->model;
}

static const gchar *
segment_settings (gconstpointer data, ExplainSettings *settings)
{
  const SegmentVals *vals = data;

  *settings = (ExplainSettings) {
    .opacity = vals->opacity, .outputs = EXPLAIN_OUTPUT_SEGMENTATION, .max_size = vals->max_size,
  };
  return vals->model;
}

static gchar *
explain_model (gpointer vals, gsize *size)
{
  *size = sizeof ((ExplainVals *) vals)->model;
  return ((ExplainVals *) vals)->model;
}

static gchar *
segment_model (gpointer vals, gsize *size)
{
  *size = sizeof ((SegmentVals *) vals)->model;
  return ((SegmentVals *) vals)->model;
}

static const Procedure explain_procedure = {
  SEGCAM_EXPLAIN_PROC, G_N_ELEMENTS (explain_args), sizeof (ExplainVals), TRUE, TRUE,
  explain_dialog, read_explain_args, explain_settings, explain_model,
};
static const Procedure explain_method_procedure = {
  SEGCAM_EXPLAIN_METHOD_PROC, G_N_ELEMENTS (explain_method_args), sizeof (ExplainVals), TRUE,
  TRUE, explain_dialog, read_explain_method_args, explain_settings, explain_model,
};
static const Procedure segment_procedure = {
  SEGCAM_SEGMENT_PROC, G_N_ELEMENTS (segment_args), sizeof (SegmentVals), FALSE, FALSE,
  segment_dialog, read_segment_args, segment_settings, segment_model,
};

/* The dialog opens with the model of the last interactive run of either procedure. */
static void
inherit_model (const Procedure *proc, gpointer vals)
{
  gchar *last = gimp_common_last_model (&seam);
  gsize size;
  gchar *model = proc->model (vals, &size);

  if (last != NULL && strlen (last) < size)
    g_strlcpy (model, last, size);
  g_free (last);
}

/* Hands an Explain run with vals to the persistent process. FALSE when there is none (turned
 * off, or it did not start) or it died in the run: the caller runs it itself. Else *status, and
 * *created or the error, are its run's. */
static gboolean
run_persistent (const ExplainVals *vals, GimpRunMode run_mode, gint32 image, gint32 drawable,
                GimpPDBStatusType *status, gint32 *created, GError **error)
{
  GimpParam *values;
  gint n;

  if (! gimp_common_persistent_enabled ()
      || ! gimp_procedural_db_proc_exists (SEGCAM_PERSISTENT_RUN_PROC))
    return FALSE;
  /* Its errors come back to this process, which shows them or returns them; GIMP must not
   * show them as well. */
  gimp_plugin_set_pdb_error_handler (GIMP_PDB_ERROR_HANDLER_PLUGIN);
  values = gimp_run_procedure (SEGCAM_PERSISTENT_RUN_PROC, &n,
                               GIMP_PDB_INT32, run_mode, GIMP_PDB_IMAGE, image,
                               GIMP_PDB_DRAWABLE, drawable, GIMP_PDB_STRING, vals->model,
                               GIMP_PDB_STRING, vals->classes, GIMP_PDB_STRING, vals->layer,
                               GIMP_PDB_INT32, vals->roi_mode, GIMP_PDB_INT32, vals->score,
                               GIMP_PDB_INT32, vals->colormap, GIMP_PDB_FLOAT, vals->opacity,
                               GIMP_PDB_INT32, vals->outputs,
                               GIMP_PDB_STRING, segcam_method_name (vals->method),
                               GIMP_PDB_INT32, vals->weights, GIMP_PDB_INT32, vals->pool,
                               GIMP_PDB_INT32, vals->pool_mode, GIMP_PDB_INT32, vals->sweep,
                               GIMP_PDB_INT32, vals->max_channels, GIMP_PDB_INT32, vals->max_size,
                               GIMP_PDB_INT32, vals->map_alpha, GIMP_PDB_INT32, vals->legend,
                               GIMP_PDB_END);
  gimp_plugin_set_pdb_error_handler (GIMP_PDB_ERROR_HANDLER_INTERNAL);
  *status = values[0].data.d_status;
  /* A failure that took the process with it (a crash; not a cancel, which ends it too) is not
   * the run's: the caller runs it itself. */
  if (*status != GIMP_PDB_SUCCESS && *status != GIMP_PDB_CANCEL
      && ! gimp_procedural_db_proc_exists (SEGCAM_PERSISTENT_RUN_PROC))
    {
      gimp_destroy_params (values, n);
      return FALSE;
    }
  if (*status == GIMP_PDB_SUCCESS && n > 1)
    *created = values[1].data.d_layer;
  else if (*status != GIMP_PDB_SUCCESS && *status != GIMP_PDB_CANCEL)
    g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                         n > 1 && values[1].type == GIMP_PDB_STRING ? values[1].data.d_string
                                                                     : gimp_get_pdb_error ());
  gimp_destroy_params (values, n);
  return TRUE;
}

/* Runs proc with vals (its defaults on entry); the status for values[0]. */
static GimpPDBStatusType
run_procedure (const Procedure *proc, gpointer vals, GimpRunMode run_mode, gint nparams,
               const GimpParam *param, const gchar *model_dir, gint32 *created, GError **error)
{
  gint32 image = param[1].data.d_image, drawable = param[2].data.d_drawable;
  segcam_model *model = NULL;
  ExplainSettings settings;
  const gchar *model_setting;
  GimpCommonItem layer;
  GimpPDBStatusType status;

  if (! gimp_common_check_source (gimp_item_is_layer (drawable)
                                    && ! gimp_item_is_group (drawable),
                                  gimp_drawable_is_indexed (drawable), error))
    return GIMP_PDB_CALLING_ERROR;
  switch (run_mode)
    {
    case GIMP_RUN_INTERACTIVE:
      load_last_vals (proc->name, vals, proc->vals_size);
      inherit_model (proc, vals);
      if (! proc->dialog (vals, image, drawable, model_dir, &model))
        return GIMP_PDB_CANCEL;
      break;
    case GIMP_RUN_NONINTERACTIVE:
      if (! check_nparams (nparams, proc->n_args, error) || ! proc->read_args (param, vals, error))
        return GIMP_PDB_CALLING_ERROR;
      break;
    case GIMP_RUN_WITH_LAST_VALS:
      load_last_vals (proc->name, vals, proc->vals_size);
      break;
    }

  model_setting = proc->settings (vals, &settings);
  if (proc->persistent
      && run_persistent (vals, run_mode, image, drawable, &status, created, error))
    /* The dialog's model stays unused: the persistent process keeps its own. */
    segcam_model_free (model);
  else
    {
      layer = gimp_common_run (&seam, ITEM (image), ITEM (drawable), model_dir, model_setting,
                               model, &settings, proc->grouped,
                               run_mode != GIMP_RUN_NONINTERACTIVE, NULL, error);
      status = layer != NULL ? GIMP_PDB_SUCCESS : GIMP_PDB_EXECUTION_ERROR;
      *created = layer != NULL ? ID (layer) : -1;
    }
  if (status == GIMP_PDB_SUCCESS && run_mode == GIMP_RUN_INTERACTIVE)
    {
      gimp_set_data (proc->name, vals, proc->vals_size);
      gimp_common_remember_model (&seam, model_setting);
    }
  return status;
}

/* An error for the user who ran the filter from a menu, in a message dialog. */
static void
show_error (const gchar *message)
{
  gchar *text = g_strdup_printf ("Seg-Grad-CAM could not finish:\n%s", message);

  seam_warn (text);
  g_free (text);
}

/* Heat map to selection; the status for values[0]. */
static GimpPDBStatusType
run_select (GimpRunMode run_mode, gint nparams, const GimpParam *param, gint32 *created,
            GError **error)
{
  gint32 image = param[1].data.d_image, drawable = param[2].data.d_drawable;
  SelectVals vals = select_defaults;
  GimpCommonItem channel;

  switch (run_mode)
    {
    case GIMP_RUN_INTERACTIVE:
      load_last_vals (SEGCAM_HEAT_MAP_SELECT_PROC, &vals, sizeof vals);
      if (! gimp2_select_dialog (&vals))
        return GIMP_PDB_CANCEL;
      break;
    case GIMP_RUN_NONINTERACTIVE:
      if (! check_nparams (nparams, G_N_ELEMENTS (select_args), error))
        return GIMP_PDB_CALLING_ERROR;
      vals.threshold = param[3].data.d_float;
      vals.to_channel = param[4].data.d_int32;
      if (! check_range (vals.threshold, 0, 1, "threshold", error)
          || ! check_range (vals.to_channel, 0, 1, "to-channel", error))
        return GIMP_PDB_CALLING_ERROR;
      break;
    case GIMP_RUN_WITH_LAST_VALS:
      load_last_vals (SEGCAM_HEAT_MAP_SELECT_PROC, &vals, sizeof vals);
      break;
    }
  channel = gimp_common_heat_map_select (&seam, ITEM (image), ITEM (drawable), vals.threshold,
                                         vals.to_channel, error);
  if (channel == NULL)
    return GIMP_PDB_EXECUTION_ERROR;
  *created = ID (channel);
  if (run_mode == GIMP_RUN_INTERACTIVE)
    gimp_set_data (SEGCAM_HEAT_MAP_SELECT_PROC, &vals, sizeof vals);
  return GIMP_PDB_SUCCESS;
}

/* The return values of a run: the status, then what it created or, unless shown to the user
 * (show: a message dialog, as for a run from the menu), the PDB error string. */
static void
return_values (GimpPDBStatusType status, GimpPDBArgType created_type, gint32 created,
               const GError *error, gboolean show, gint *nreturn_vals, GimpParam **return_vals)
{
  static GimpParam values[2];
  static gchar *message;

  *nreturn_vals = 1;
  *return_vals = values;
  values[0].type = GIMP_PDB_STATUS;
  values[0].data.d_status = status;
  if (status == GIMP_PDB_SUCCESS)
    {
      *nreturn_vals = 2;
      values[1].type = created_type;
      values[1].data.d_int32 = created;
    }
  else if (error != NULL)
    {
      /* Users get a message dialog; scripts get the PDB error string (GIMP would show that
       * string too when the filter runs from a menu, so the user would read it twice). */
      if (! show)
        {
          g_free (message);
          message = g_strdup (error->message);
          *nreturn_vals = 2;
          values[1].type = GIMP_PDB_STRING;
          values[1].data.d_string = message;
        }
      else
        show_error (error->message);
    }
}

/* ---- the persistent process --------------------------------------------------------------- */

/* What the persistent process keeps. */
static GimpCommonKeep *persistent;

/* SEGCAM_PERSISTENT_RUN_PROC: an Explain run with every setting as arguments (the caller has
 * settled the run mode's values), on the kept model and forward pass. Errors always go back to
 * the caller, which shows them or returns them. */
static void
run_persistent_explain (const gchar *name, gint nparams, const GimpParam *param,
                        gint *nreturn_vals, GimpParam **return_vals)
{
  GimpRunMode run_mode = param[0].data.d_int32;
  gint32 image = param[1].data.d_image, drawable = param[2].data.d_drawable;
  gchar *model_dir = model_files_dir (gimp_get_progname ());
  ExplainVals vals = explain_defaults;
  ExplainSettings settings;
  GimpCommonItem layer = NULL;
  GimpPDBStatusType status = GIMP_PDB_CALLING_ERROR;
  GError *error = NULL;

  if (check_nparams (nparams, G_N_ELEMENTS (persistent_run_args), &error)
      && read_persistent_args (param, &vals, &error))
    {
      const gchar *model_setting = explain_settings (&vals, &settings);

      layer = gimp_common_run_kept (&seam, persistent, ITEM (image), ITEM (drawable), model_dir,
                                    model_setting, &settings,
                                    run_mode != GIMP_RUN_NONINTERACTIVE, &error);
      status = layer != NULL ? GIMP_PDB_SUCCESS : GIMP_PDB_EXECUTION_ERROR;
    }
  return_values (status, GIMP_PDB_LAYER, ID (layer), error, FALSE, nreturn_vals, return_vals);
  g_clear_error (&error);
  g_free (model_dir);
}

/* SEGCAM_PERSISTENT_PROC, which GIMP runs when it starts: installs the Explain procedure above,
 * tells GIMP it is ready, then serves it until GIMP quits (libgimp ends the process then). It
 * loads nothing before the first run; between runs it looks every few seconds whether what it
 * keeps has expired. */
static void
serve (void)
{
  persistent = gimp_common_keep_new ();
  gimp_install_temp_proc (SEGCAM_PERSISTENT_RUN_PROC, SEGCAM_EXPLAIN_METHOD_BLURB,
                          SEGCAM_PERSISTENT_RUN_HELP, SEGCAM_AUTHOR, SEGCAM_COPYRIGHT,
                          SEGCAM_DATE, NULL, SEGCAM_IMAGE_TYPES, GIMP_TEMPORARY,
                          G_N_ELEMENTS (persistent_run_args), G_N_ELEMENTS (explain_return),
                          persistent_run_args, explain_return, run_persistent_explain);
  gimp_extension_ack ();
  for (;;)
    {
      gimp_extension_process (SEGCAM_PERSISTENT_POLL_MS);
      gimp_common_keep_expire (&seam, persistent);
    }
}

/* ---- the entry point ---------------------------------------------------------------------- */

static void
run (const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
     GimpParam **return_vals)
{
  GimpRunMode run_mode;
  gchar *model_dir;
  GimpPDBStatusType status;
  GError *error = NULL;
  gint32 created = -1;
  gboolean select = strcmp (name, SEGCAM_HEAT_MAP_SELECT_PROC) == 0;

  /* A plug-in's PDB call waits for the procedure it calls to return, so the persistent process
   * cannot be started by Explain: GIMP starts it (an extension without arguments) when it
   * starts; turned off, it ends at once and Explain runs in its own process. */
  if (strcmp (name, SEGCAM_PERSISTENT_PROC) == 0)
    {
      if (gimp_common_persistent_enabled ())
        {
          gegl_init (NULL, NULL);
          serve ();
        }
      return_values (GIMP_PDB_SUCCESS, GIMP_PDB_LAYER, -1, NULL, FALSE, nreturn_vals,
                     return_vals);
      *nreturn_vals = 1;
      return;
    }

  gegl_init (NULL, NULL);
  run_mode = param[0].data.d_int32;
  model_dir = model_files_dir (gimp_get_progname ());
  if (strcmp (name, SEGCAM_EXPLAIN_PROC) == 0 || strcmp (name, SEGCAM_EXPLAIN_METHOD_PROC) == 0)
    {
      ExplainVals vals = explain_defaults;

      status = run_procedure (strcmp (name, SEGCAM_EXPLAIN_PROC) == 0 ? &explain_procedure
                                                                      : &explain_method_procedure,
                              &vals, run_mode, nparams, param, model_dir, &created, &error);
    }
  else if (select)
    status = run_select (run_mode, nparams, param, &created, &error);
  else
    {
      SegmentVals vals = segment_defaults;

      status = run_procedure (&segment_procedure, &vals, run_mode, nparams, param, model_dir,
                              &created, &error);
    }

  return_values (status, select ? GIMP_PDB_CHANNEL : GIMP_PDB_LAYER, created, error,
                 run_mode != GIMP_RUN_NONINTERACTIVE, nreturn_vals, return_vals);
  if (status == GIMP_PDB_SUCCESS && run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush ();
  g_clear_error (&error);
  g_free (model_dir);

  gegl_exit ();
}
