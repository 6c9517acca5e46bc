/* gimp3-dialog.c — the Explain and Segment dialogs of the GIMP 3.0 adapter.
 *
 * A GimpProcedureDialog edits the procedure's config: GIMP builds the widgets of the plain
 * settings (region of interest, score, colormap, opacity, maximum working size) from the
 * arguments, and "Reset" or saved settings change them through the config. The settings that
 * depend on the model — the model itself, the classes, the node — use the widgets shared with
 * the 2.10 dialogs (dialog-widgets.c), kept in step with the config both ways, as are the three
 * check buttons that stand for the outputs bit set.
 */
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "dialog-widgets.h"
#include "gimp-common.h"
#include "gimp3-dialog.h"

/* What both dialogs keep: the config and the guard against echoes between it and the widgets. */
typedef struct {
  GimpProcedureConfig *config;
  GtkWidget *dialog;
  gboolean syncing;            /* the dialog itself is changing the config */
  gint width, height;          /* the layer */
} Dialog;

static void
dialog_init (Dialog *d, GimpProcedure *procedure, GimpProcedureConfig *config, gint width,
             gint height, const gchar *title)
{
  gimp_ui_init (SEGCAM_BINARY);
  d->config = config;
  d->dialog = gimp_procedure_dialog_new (procedure, config, title);
  d->width = width;
  d->height = height;
}

/* Sets one config property from the dialog, without its own notify handlers reacting. */
static void
dialog_set (Dialog *d, const gchar *property, const GValue *value)
{
  d->syncing = TRUE;
  g_object_set_property (G_OBJECT (d->config), property, value);
  d->syncing = FALSE;
}

static void
dialog_set_string (Dialog *d, const gchar *property, const gchar *text)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, text != NULL ? text : "");
  dialog_set (d, property, &value);
  g_value_unset (&value);
}

static gint
config_int (Dialog *d, const gchar *property)
{
  gint value;

  g_object_get (d->config, property, &value, NULL);
  return value;
}

/* A string property's value, to g_free. */
static gchar *
config_string (Dialog *d, const gchar *property)
{
  gchar *value;

  g_object_get (d->config, property, &value, NULL);
  return value != NULL ? value : g_strdup ("");
}

/* The picker follows the config's model (Reset, saved settings). */
static void
dialog_show_model (Dialog *d, ModelPicker *picker)
{
  gchar *model = config_string (d, "model");

  model_picker_select (picker, model);
  g_free (model);
}

/* Adds a widget to the content area, after those so far. */
static void
dialog_pack (Dialog *d, GtkWidget *widget)
{
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (d->dialog))), widget,
                      FALSE, FALSE, 0);
  gtk_widget_show (widget);
}

/* The maximum working size, logarithmic like the 2.10 one, with its note below. */
static void
dialog_pack_max_size (Dialog *d, GtkWidget *note)
{
  GtkWidget *scale = gimp_procedure_dialog_get_scale_entry (GIMP_PROCEDURE_DIALOG (d->dialog),
                                                            "max-size", 1.0);

  gimp_scale_entry_set_logarithmic (GIMP_SCALE_ENTRY (scale), TRUE);
  dialog_pack (d, scale);
  gtk_widget_set_margin_start (note, 6);
  dialog_pack (d, note);
  size_note_update (note, d->width, d->height, config_int (d, "max-size"));
}

static gboolean
dialog_run (Dialog *d, DialogDump dump, gpointer state)
{
  gboolean run;

  dialog_test_hook (d->dialog, dump, state);
  run = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (d->dialog));
  g_signal_handlers_disconnect_by_data (d->config, state);
  return run;
}

/* ---- Explain ------------------------------------------------------------------------------ */

typedef struct {
  Dialog d;
  ExplainWidgets w;
  GtkWidget *outputs[3];
  GtkWidget *method;           /* the engine's methods by name, for the config's string */
} ExplainDialog;

/* The outputs bit set the check buttons show (the config's until they exist). */
static gint
explain_checked_outputs (ExplainDialog *e)
{
  gint outputs = 0;

  if (e->outputs[0] == NULL)
    return config_int (&e->d, "outputs");
  for (guint i = 0; i < G_N_ELEMENTS (e->outputs); i++)
    if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (e->outputs[i])))
      outputs |= 1 << i;
  return outputs;
}

static void
explain_update_ok (ExplainDialog *e)
{
  gtk_dialog_set_response_sensitive (GTK_DIALOG (e->d.dialog), GTK_RESPONSE_OK,
                                     e->w.picker.model != NULL && explain_checked_outputs (e) != 0);
}

/* The widgets' classes and node into the config. */
static void
explain_store_choice (gpointer data)
{
  ExplainDialog *e = data;
  gchar *classes, *layer;

  if (e->w.picker.model == NULL)
    return;
  classes = explain_widgets_classes (&e->w);
  layer = config_int (&e->d, "sweep") == EXPLAIN_SWEEP_LAYERS ? explain_widgets_layers (&e->w)
                                                              : explain_widgets_layer (&e->w);
  dialog_set_string (&e->d, "classes", classes);
  if (layer != NULL)
    dialog_set_string (&e->d, "layer", layer);
  g_free (layer);
  g_free (classes);
}

static void
explain_model_changed (gpointer data)
{
  ExplainDialog *e = data;
  gchar *classes = config_string (&e->d, "classes");
  gchar *layer = config_string (&e->d, "layer");

  dialog_set_string (&e->d, "model", e->w.picker.setting);
  explain_widgets_fill_classes (&e->w, classes);
  explain_widgets_fill_nodes (&e->w, layer, config_int (&e->d, "max-size"), TRUE);
  explain_update_ok (e);
  explain_widgets_preview_update (&e->w);
  g_free (layer);
  g_free (classes);
}

static void
explain_get_settings (gpointer data, ExplainSettings *settings)
{
  ExplainDialog *e = data;
  gchar *method = config_string (&e->d, "method");

  settings->roi_mode = config_int (&e->d, "roi-mode");
  settings->score = config_int (&e->d, "score");
  settings->colormap = config_int (&e->d, "colormap");
  /* A name from stored settings that this engine lacks shows as an error in the preview. */
  settings->method = explain_parse_method (method, NULL);
  g_free (method);
  settings->weights = config_int (&e->d, "weights");
  settings->pool = config_int (&e->d, "pool");
  settings->pool_mode = config_int (&e->d, "pool-mode");
  settings->max_channels = config_int (&e->d, "max-channels");
  settings->sweep = config_int (&e->d, "sweep");
  g_object_get (e->d.config, "opacity", &settings->opacity, "map-alpha", &settings->map_alpha,
                NULL);
}

static void
explain_outputs_show (ExplainDialog *e)
{
  gint outputs = config_int (&e->d, "outputs");

  e->d.syncing = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (e->outputs); i++)
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (e->outputs[i]), (outputs & (1 << i)) != 0);
  e->d.syncing = FALSE;
}

static void
explain_output_toggled (GtkToggleButton *button, ExplainDialog *e)
{
  gint outputs = explain_checked_outputs (e);
  GValue value = G_VALUE_INIT;

  if (e->d.syncing)
    return;
  /* outputs must lie in 1..7: with no box checked the config keeps its value and OK is off. */
  if (outputs != 0)
    {
      g_value_init (&value, G_TYPE_INT);
      g_value_set_int (&value, outputs);
      dialog_set (&e->d, "outputs", &value);
    }
  explain_update_ok (e);
}

/* The combo shows the config's method (none active for a name the engine lacks). */
static void
explain_method_show (ExplainDialog *e)
{
  gchar *method = config_string (&e->d, "method");

  e->d.syncing = TRUE;
  gtk_combo_box_set_active (GTK_COMBO_BOX (e->method), explain_parse_method (method, NULL));
  e->d.syncing = FALSE;
  g_free (method);
}

static void
explain_method_chosen (GtkComboBox *combo, ExplainDialog *e)
{
  gint method = gtk_combo_box_get_active (combo);

  if (e->d.syncing || method < 0)
    return;
  dialog_set_string (&e->d, "method", segcam_method_name (method));
  explain_widgets_preview_update (&e->w);
}

/* The method combo with its label (aligned with GIMP's), from the engine's list: a method the
 * engine adds appears without a change here. */
static GtkWidget *
explain_method_row (ExplainDialog *e, GtkSizeGroup *labels)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new_with_mnemonic (SEGCAM_METHOD_LABEL);

  e->method = gtk_combo_box_text_new ();
  for (int m = 0; segcam_method_name (m) != NULL; m++)
    gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (e->method), segcam_method_name (m));
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), e->method);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
  gtk_size_group_add_widget (labels, label);
  gimp_help_set_help_data (e->method, DIALOG_TIP_METHOD, NULL);
  gtk_widget_set_hexpand (e->method, TRUE);
  gtk_box_pack_start (GTK_BOX (box), label, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), e->method, TRUE, TRUE, 0);
  explain_method_show (e);
  g_signal_connect (e->method, "changed", G_CALLBACK (explain_method_chosen), e);
  gtk_widget_show_all (box);
  return box;
}

/* The config changed from outside the dialog's own widgets (Reset, saved settings). */
static void
explain_config_changed (GObject *config, GParamSpec *pspec, ExplainDialog *e)
{
  const gchar *name = g_param_spec_get_name (pspec);

  if (e->d.syncing)
    return;
  if (g_strcmp0 (name, "model") == 0)
    dialog_show_model (&e->d, &e->w.picker);
  else if (g_strcmp0 (name, "classes") == 0)
    {
      gchar *classes = config_string (&e->d, "classes");

      explain_widgets_fill_classes (&e->w, classes);
      g_free (classes);
    }
  else if (g_strcmp0 (name, "layer") == 0 || g_strcmp0 (name, "max-size") == 0)
    {
      gchar *layer = config_string (&e->d, "layer");
      gint max_size = config_int (&e->d, "max-size");

      size_note_update (e->w.size_note, e->w.width, e->w.height, max_size);
      explain_widgets_fill_nodes (&e->w, layer, max_size, g_strcmp0 (name, "max-size") == 0);
      g_free (layer);
    }
  else if (g_strcmp0 (name, "outputs") == 0)
    {
      explain_outputs_show (e);
      explain_update_ok (e);
    }
  else if (g_strcmp0 (name, "method") == 0)
    explain_method_show (e);
  explain_widgets_preview_update (&e->w);
}

/* The class checklist and the node chooser, their labels aligned with those GIMP makes. */
static GtkWidget *
explain_model_grid (ExplainDialog *e, GtkSizeGroup *labels)
{
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *label;

  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 6);
  gtk_widget_set_hexpand (e->w.classes_view, TRUE);
  label = gimp_grid_attach_aligned (GTK_GRID (grid), 0, 0, "Cl_asses", 0.0, 0.0,
                                    e->w.classes_view, 1);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label),
                                 gtk_bin_get_child (GTK_BIN (e->w.classes_view)));
  gtk_size_group_add_widget (labels, label);
  label = gimp_grid_attach_aligned (GTK_GRID (grid), 0, 1, "Network la_yer", 0.0, 0.0,
                                    e->w.node_chooser, 1);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), e->w.node_search);
  gtk_size_group_add_widget (labels, label);
  return grid;
}

static GtkWidget *
explain_outputs_frame (ExplainDialog *e)
{
  static const gchar *const labels[] = DIALOG_OUTPUT_LABELS;
  GtkWidget *frame = gimp_frame_new ("Create");
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);

  for (guint i = 0; i < G_N_ELEMENTS (e->outputs); i++)
    {
      e->outputs[i] = gtk_check_button_new_with_mnemonic (labels[i]);
      g_signal_connect (e->outputs[i], "toggled", G_CALLBACK (explain_output_toggled), e);
      gtk_box_pack_start (GTK_BOX (box), e->outputs[i], FALSE, FALSE, 0);
    }
  gimp_help_set_help_data (box, SEGCAM_ARG_OUTPUTS, NULL);
  /* GIMP makes these from the aux arguments, with their tooltips. */
  gtk_box_pack_start (GTK_BOX (box),
                      gimp_procedure_dialog_get_widget (GIMP_PROCEDURE_DIALOG (e->d.dialog),
                                                        "map-alpha", GTK_TYPE_CHECK_BUTTON),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box),
                      gimp_procedure_dialog_get_widget (GIMP_PROCEDURE_DIALOG (e->d.dialog),
                                                        "legend", GTK_TYPE_CHECK_BUTTON),
                      FALSE, FALSE, 0);
  explain_outputs_show (e);
  gtk_container_add (GTK_CONTAINER (frame), box);
  gtk_widget_show_all (frame);
  return frame;
}

static void
explain_dump (gpointer state)
{
  explain_widgets_dump (&((ExplainDialog *) state)->w);
}

/* Weights only for seg-grad-cam, pool and pool mode only for xres, max channels only for the
 * methods that rerun the network per channel. */
static void
explain_method_sensitivity (GimpProcedureDialog *dialog, GimpProcedureConfig *config)
{
  static const struct { const gchar *property; SegcamMethod methods[2]; guint n; } uses[] = {
    { "weights", { SEGCAM_METHOD_SEG_GRAD_CAM }, 1 }, { "pool", { SEGCAM_METHOD_XRES }, 1 },
    { "pool-mode", { SEGCAM_METHOD_XRES }, 1 },
    { "max-channels", { SEGCAM_METHOD_SCORE, SEGCAM_METHOD_ABLATION }, 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (uses); i++)
    {
      GimpValueArray *values = gimp_value_array_new (uses[i].n);

      for (guint k = 0; k < uses[i].n; k++)
        {
          GValue value = G_VALUE_INIT;

          g_value_init (&value, G_TYPE_STRING);
          g_value_set_string (&value, segcam_method_name (uses[i].methods[k]));
          gimp_value_array_append (values, &value);
          g_value_unset (&value);
        }
      gimp_procedure_dialog_set_sensitive_if_in (dialog, uses[i].property, G_OBJECT (config),
                                                 "method", values, TRUE);
    }
}

gboolean
gimp3_explain_dialog (GimpProcedure *procedure, GimpProcedureConfig *config,
                      const ExplainSource *source, const gchar *model_dir, segcam_model **model)
{
  static const gchar *const generated[] = { "roi-mode", "score", "weights", "pool",
                                            "pool-mode", "max-channels", "sweep", "colormap",
                                            "opacity", "max-size" };
  ExplainDialog e = { { NULL } };
  GimpProcedureDialog *dialog;
  gboolean run;
  GtkSizeGroup *labels = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);
  GtkWidget *hbox;
  gchar *setting;

  dialog_init (&e.d, procedure, config, gegl_buffer_get_width (source->pixels),
               gegl_buffer_get_height (source->pixels), "Seg-Grad-CAM: Explain");
  dialog = GIMP_PROCEDURE_DIALOG (e.d.dialog);
  e.w.width = e.d.width;
  e.w.height = e.d.height;
  e.w.source = source;
  e.w.user_changed = explain_store_choice;
  e.w.get_settings = explain_get_settings;
  e.w.user_data = &e;
  explain_widgets_init (&e.w);

  /* The model first: loading it fills the classes and nodes. */
  setting = config_string (&e.d, "model");
  dialog_pack (&e.d, model_picker_new (&e.w.picker, model_dir, setting, explain_model_changed,
                                       &e));
  g_free (setting);
  dialog_pack (&e.d, explain_model_grid (&e, labels));

  gimp_help_set_help_data (gimp_procedure_dialog_get_int_combo (
                             dialog, "roi-mode", GIMP_INT_STORE (gimp_int_store_new (
                                                   DIALOG_ROI_MODES))),
                           DIALOG_TIP_ROI_MODE, NULL);
  gimp_help_set_help_data (gimp_procedure_dialog_get_int_combo (
                             dialog, "score", GIMP_INT_STORE (gimp_int_store_new (DIALOG_SCORES))),
                           DIALOG_TIP_SCORE, NULL);
  gimp_help_set_help_data (gimp_procedure_dialog_get_int_combo (
                             dialog, "colormap", GIMP_INT_STORE (gimp_int_store_new (
                                                   DIALOG_COLORMAPS))),
                           DIALOG_TIP_COLORMAP, NULL);
  /* The method's options are greyed out where the method has no use for them. */
  gimp_help_set_help_data (gimp_procedure_dialog_get_int_combo (
                             dialog, "weights", GIMP_INT_STORE (gimp_int_store_new (
                                                  DIALOG_WEIGHTS))),
                           DIALOG_TIP_WEIGHTS, NULL);
  /* The slider up to 64 target pixels, the entry beyond (a block as large as the map is
   * Seg-Grad-CAM with mean pooling). */
  gimp_scale_entry_set_bounds (GIMP_SCALE_ENTRY (gimp_procedure_dialog_get_scale_entry (
                                 dialog, "pool", 1.0)),
                               1, 64, FALSE);
  gimp_help_set_help_data (gimp_procedure_dialog_get_int_combo (
                             dialog, "pool-mode", GIMP_INT_STORE (gimp_int_store_new (
                                                    DIALOG_POOL_MODES))),
                           DIALOG_TIP_POOL_MODE, NULL);
  /* The slider up to 256 channels (seconds to a minute), the entry beyond; 0 = every channel. */
  gimp_scale_entry_set_bounds (GIMP_SCALE_ENTRY (gimp_procedure_dialog_get_scale_entry (
                                 dialog, "max-channels", 1.0)),
                               0, 256, FALSE);
  explain_method_sensitivity (dialog, config);
  gimp_help_set_help_data (gimp_procedure_dialog_get_int_combo (
                             dialog, "sweep", GIMP_INT_STORE (gimp_int_store_new (DIALOG_SWEEP))),
                           DIALOG_TIP_SWEEP, NULL);
  gimp_help_set_help_data (gimp_procedure_dialog_get_scale_entry (dialog, "opacity", 1.0),
                           DIALOG_TIP_OPACITY, NULL);
  gimp_procedure_dialog_fill (dialog, "roi-mode", "score", NULL);
  dialog_pack (&e.d, explain_method_row (&e, labels));
  gimp_procedure_dialog_fill (dialog, "weights", "pool", "pool-mode", "max-channels", "sweep",
                              "colormap", "opacity", NULL);
  dialog_pack_max_size (&e.d, e.w.size_note);
  for (guint i = 0; i < G_N_ELEMENTS (generated); i++)
    gtk_size_group_add_widget (labels, gimp_labeled_get_label (GIMP_LABELED (
                                 gimp_procedure_dialog_get_widget (dialog, generated[i],
                                                                   G_TYPE_NONE))));
  g_object_unref (labels);
  /* The preview beside the outputs, where the dialog has room to spare. */
  hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_box_pack_start (GTK_BOX (hbox), explain_outputs_frame (&e), TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (hbox), e.w.preview_box, FALSE, FALSE, 0);
  dialog_pack (&e.d, hbox);
  explain_update_ok (&e);
  g_signal_connect (config, "notify", G_CALLBACK (explain_config_changed), &e);

  run = dialog_run (&e.d, explain_dump, &e);
  if (run)
    {
      explain_store_choice (&e);
      *model = explain_widgets_steal_model (&e.w);
    }
  gtk_widget_destroy (e.d.dialog);
  explain_widgets_clear (&e.w);
  return run;
}

/* ---- Heat map to selection ---------------------------------------------------------------- */

gboolean
gimp3_select_dialog (GimpProcedure *procedure, GimpProcedureConfig *config)
{
  GtkWidget *dialog;
  gboolean run;

  gimp_ui_init (SEGCAM_BINARY);
  dialog = gimp_procedure_dialog_new (procedure, config, "Seg-Grad-CAM: Heat map to selection");
  gimp_procedure_dialog_get_int_combo (GIMP_PROCEDURE_DIALOG (dialog), "to-channel",
                                       GIMP_INT_STORE (gimp_int_store_new (DIALOG_SELECT_TARGETS)));
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog), "threshold", "to-channel", NULL);
  dialog_test_hook (dialog, NULL, NULL);
  run = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);
  return run;
}

/* ---- Segment ------------------------------------------------------------------------------ */

typedef struct {
  Dialog d;
  ModelPicker picker;
  GtkWidget *size_note;
} SegmentDialog;

static void
segment_model_changed (gpointer data)
{
  SegmentDialog *s = data;

  dialog_set_string (&s->d, "model", s->picker.setting);
  gtk_dialog_set_response_sensitive (GTK_DIALOG (s->d.dialog), GTK_RESPONSE_OK,
                                     s->picker.model != NULL);
}

static void
segment_config_changed (GObject *config, GParamSpec *pspec, SegmentDialog *s)
{
  const gchar *name = g_param_spec_get_name (pspec);

  if (s->d.syncing)
    return;
  if (g_strcmp0 (name, "model") == 0)
    dialog_show_model (&s->d, &s->picker);
  else if (g_strcmp0 (name, "max-size") == 0)
    size_note_update (s->size_note, s->d.width, s->d.height, config_int (&s->d, "max-size"));
}

static void
segment_dump (gpointer state)
{
  SegmentDialog *s = state;

  segment_widgets_dump (&s->picker, s->size_note);
}

gboolean
gimp3_segment_dialog (GimpProcedure *procedure, GimpProcedureConfig *config,
                      GimpDrawable *drawable, const gchar *model_dir, segcam_model **model)
{
  SegmentDialog s = { { NULL } };
  GimpProcedureDialog *dialog;
  gchar *setting;
  gboolean run;

  dialog_init (&s.d, procedure, config, gimp_drawable_get_width (drawable),
               gimp_drawable_get_height (drawable), "Seg-Grad-CAM: Segment");
  dialog = GIMP_PROCEDURE_DIALOG (s.d.dialog);
  s.size_note = size_note_new ();

  setting = config_string (&s.d, "model");
  dialog_pack (&s.d, model_picker_new (&s.picker, model_dir, setting, segment_model_changed,
                                       &s));
  g_free (setting);
  gimp_help_set_help_data (gimp_procedure_dialog_get_scale_entry (dialog, "opacity", 1.0),
                           DIALOG_TIP_SEGMENT_OPACITY, NULL);
  gimp_procedure_dialog_fill (dialog, "opacity", NULL);
  dialog_pack_max_size (&s.d, s.size_note);
  g_signal_connect (config, "notify", G_CALLBACK (segment_config_changed), &s);

  run = dialog_run (&s.d, segment_dump, &s);
  if (run)
    *model = model_picker_steal (&s.picker);
  gtk_widget_destroy (s.d.dialog);
  model_picker_clear (&s.picker);
  return run;
}
