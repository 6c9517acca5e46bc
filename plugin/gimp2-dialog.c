/* gimp2-dialog.c — the Explain and Segment dialogs of the GIMP 2.10 adapter (GTK2, GimpDialog).
 *
 * The dialogs only edit settings. The model picker, the class checklist, the node combo, the
 * working-size note and the SEGCAM_TEST_DIALOG hook of the headless tests are shared with the
 * GIMP 3 dialogs (dialog-widgets.c); this file lays them out in a GimpDialog with GTK 2 tables
 * and keeps ExplainVals / SegmentVals up to date.
 */
#include <string.h>

#include <libgimp/gimp.h>
/* GTK2's headers declare what GLib has since deprecated (GTimeVal); that is not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <libgimp/gimpui.h>
#pragma GCC diagnostic pop

#include "dialog-widgets.h"
#include "gimp-common.h"
#include "gimp2-dialog.h"

#define PLUG_IN_ROLE "gimp-seg-grad-cam"

/* Runs the dialog: TRUE on OK. */
static gboolean
run_dialog (GtkWidget *dialog, DialogDump dump, gpointer state)
{
  gtk_widget_show (dialog);
  dialog_test_hook (dialog, dump, state);
  return gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK;
}

/* A GimpDialog with Cancel and OK; *vbox receives its content box. */
static GtkWidget *
dialog_new (const gchar *title, const gchar *help_id, GtkWidget **vbox)
{
  GtkWidget *dialog = gimp_dialog_new (title, PLUG_IN_ROLE, NULL, 0, gimp_standard_help_func,
                                       help_id, "_Cancel", GTK_RESPONSE_CANCEL, "_OK",
                                       GTK_RESPONSE_OK, NULL);

  gtk_dialog_set_alternative_button_order (GTK_DIALOG (dialog), GTK_RESPONSE_OK,
                                           GTK_RESPONSE_CANCEL, -1);
  gimp_window_set_transient (GTK_WINDOW (dialog));
  *vbox = gtk_vbox_new (FALSE, 12);
  gtk_container_set_border_width (GTK_CONTAINER (*vbox), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), *vbox, TRUE,
                      TRUE, 0);
  gtk_widget_show (*vbox);
  return dialog;
}

/* "Maximum working size" with its note below (size_note_new) in the table. */
static GtkObject *
working_size_attach (GtkTable *table, gint row, GtkWidget *note, gint *max_size)
{
  GtkObject *adjustment = gimp_scale_entry_new (table, 0, row, "Maximum _working size:", 200, 6,
                                                *max_size, EXPLAIN_MIN_MAX_SIZE,
                                                EXPLAIN_MAX_MAX_SIZE, 1, 64, 0, TRUE, 0, 0,
                                                SEGCAM_ARG_MAX_SIZE, NULL);

  gimp_scale_entry_set_logarithmic (adjustment, TRUE);
  g_signal_connect (adjustment, "value-changed", G_CALLBACK (gimp_int_adjustment_update),
                    max_size);
  gtk_table_attach (table, note, 1, 3, row + 1, row + 2, GTK_FILL, GTK_FILL, 0, 0);
  return adjustment;
}

static GtkObject *
opacity_attach (GtkTable *table, gint row, gdouble *opacity, const gchar *tooltip)
{
  GtkObject *adjustment = gimp_scale_entry_new (table, 0, row, "O_pacity:", 200, 6, *opacity, 0,
                                                100, 1, 10, 1, TRUE, 0, 0, tooltip, NULL);

  g_signal_connect (adjustment, "value-changed", G_CALLBACK (gimp_double_adjustment_update),
                    opacity);
  return adjustment;
}

static GtkWidget *
table_new (gint rows)
{
  GtkWidget *table = gtk_table_new (rows, 3, FALSE);

  gtk_table_set_col_spacings (GTK_TABLE (table), 6);
  gtk_table_set_row_spacings (GTK_TABLE (table), 6);
  gtk_widget_show (table);
  return table;
}

/* ---- Explain ------------------------------------------------------------------------------ */

typedef struct {
  ExplainVals *vals;
  GtkWidget *dialog;
  ExplainWidgets w;
  GtkWidget *weights, *pool_mode;   /* greyed out where the method has no use for them */
  GtkObject *pool, *max_channels;
} ExplainDialog;

static void
explain_update_ok (ExplainDialog *d)
{
  gtk_dialog_set_response_sensitive (GTK_DIALOG (d->dialog), GTK_RESPONSE_OK,
                                     d->w.picker.model != NULL && d->vals->outputs != 0);
}

static void
explain_model_changed (gpointer data)
{
  ExplainDialog *d = data;

  explain_widgets_fill_classes (&d->w, d->vals->classes);
  explain_widgets_fill_nodes (&d->w, d->vals->layer, d->vals->max_size, TRUE);
  explain_update_ok (d);
  explain_widgets_preview_update (&d->w);
}

static void
explain_get_settings (gpointer data, ExplainSettings *settings)
{
  const ExplainVals *vals = ((ExplainDialog *) data)->vals;

  settings->roi_mode = vals->roi_mode;
  settings->score = vals->score;
  settings->colormap = vals->colormap;
  settings->opacity = vals->opacity;
  settings->map_alpha = vals->map_alpha;
  settings->method = vals->method;
  settings->weights = vals->weights;
  settings->pool = vals->pool;
  settings->pool_mode = vals->pool_mode;
  settings->max_channels = vals->max_channels;
  settings->sweep = vals->sweep;
}

static void
explain_method_changed (GtkWidget *combo, ExplainDialog *d)
{
  gtk_widget_set_sensitive (d->weights, d->vals->method == SEGCAM_METHOD_SEG_GRAD_CAM);
  gimp_scale_entry_set_sensitive (d->pool, d->vals->method == SEGCAM_METHOD_XRES);
  gtk_widget_set_sensitive (d->pool_mode, d->vals->method == SEGCAM_METHOD_XRES);
  gimp_scale_entry_set_sensitive (d->max_channels, d->vals->method == SEGCAM_METHOD_SCORE
                                                     || d->vals->method == SEGCAM_METHOD_ABLATION);
}

/* The engine's methods by name, in the order of SegcamMethod: a method the engine adds appears
 * without a change here. */
static GtkWidget *
method_combo_new (void)
{
  GPtrArray *names = g_ptr_array_new ();
  GtkWidget *combo;

  for (int m = 0; segcam_method_name (m) != NULL; m++)
    g_ptr_array_add (names, (gpointer) segcam_method_name (m));
  combo = gimp_int_combo_box_new_array (names->len, (const gchar **) names->pdata);
  g_ptr_array_unref (names);
  return combo;
}

/* A check button for a boolean option in *value; the preview follows it. */
static GtkWidget *
option_check_new (const gchar *label, const gchar *tooltip, gint32 *value, ExplainWidgets *w)
{
  GtkWidget *button = gtk_check_button_new_with_mnemonic (label);

  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (button), *value);
  gimp_help_set_help_data (button, tooltip, NULL);
  g_signal_connect (button, "toggled", G_CALLBACK (gimp_toggle_button_update), value);
  g_signal_connect_swapped (button, "toggled", G_CALLBACK (explain_widgets_preview_update), w);
  return button;
}

static void
explain_max_size_changed (GtkAdjustment *adjustment, ExplainDialog *d)
{
  size_note_update (d->w.size_note, d->w.width, d->w.height, d->vals->max_size);
  explain_widgets_fill_nodes (&d->w, d->vals->layer, d->vals->max_size, TRUE);
}

static void
explain_output_toggled (GtkToggleButton *button, ExplainDialog *d)
{
  guint bit = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "output"));

  if (gtk_toggle_button_get_active (button))
    d->vals->outputs |= bit;
  else
    d->vals->outputs &= ~bit;
  explain_update_ok (d);
}

/* A scale entry for *value: the slider over [lower, slider_upper], the entry up to upper; the
 * preview follows it. */
static GtkObject *
int_scale_attach (GtkTable *table, gint row, const gchar *label, gint32 *value, gint lower,
                  gint slider_upper, gint upper, const gchar *tooltip, ExplainWidgets *w)
{
  GtkObject *scale = gimp_scale_entry_new (table, 0, row, label, 200, 6, *value, lower,
                                           slider_upper, 1, 4, 0, FALSE, lower, upper, tooltip,
                                           NULL);

  g_signal_connect (scale, "value-changed", G_CALLBACK (gimp_int_adjustment_update), value);
  g_signal_connect_swapped (scale, "value-changed", G_CALLBACK (explain_widgets_preview_update),
                            w);
  return scale;
}

/* A combo for *value; the preview follows it (when w is given). */
static void
int_combo_attach (GtkTable *table, gint row, const gchar *label, gint32 *value,
                  const gchar *tooltip, GtkWidget *combo, ExplainWidgets *w)
{
  gimp_int_combo_box_connect (GIMP_INT_COMBO_BOX (combo), *value,
                              G_CALLBACK (gimp_int_combo_box_get_active), value);
  if (w != NULL)
    g_signal_connect_swapped (combo, "changed", G_CALLBACK (explain_widgets_preview_update), w);
  gimp_help_set_help_data (combo, tooltip, NULL);
  gimp_table_attach_aligned (table, 0, row, label, 0.0, 0.5, combo, 2, FALSE);
}

static void
explain_dump (gpointer state)
{
  explain_widgets_dump (&((ExplainDialog *) state)->w);
}

gboolean
gimp2_explain_dialog (ExplainVals *vals, const ExplainSource *source, const gchar *model_dir,
                      segcam_model **model)
{
  static const gchar *const output_labels[] = DIALOG_OUTPUT_LABELS;
  ExplainDialog d = { vals };
  gboolean run;
  GtkWidget *vbox, *table, *frame, *outputs_box, *outputs[G_N_ELEMENTS (output_labels)], *hbox;
  GtkWidget *method;
  GtkObject *size, *opacity;

  gimp_ui_init (SEGCAM_BINARY, FALSE);
  d.dialog = dialog_new ("Seg-Grad-CAM: Explain", SEGCAM_EXPLAIN_PROC, &vbox);
  d.w.width = gegl_buffer_get_width (source->pixels);
  d.w.height = gegl_buffer_get_height (source->pixels);
  d.w.source = source;
  d.w.get_settings = explain_get_settings;
  d.w.user_data = &d;
  explain_widgets_init (&d.w);

  table = table_new (15);
  gimp_table_attach_aligned (GTK_TABLE (table), 0, 0, "_Classes:", 0.0, 0.0, d.w.classes_view,
                             2, FALSE);
  gtk_label_set_mnemonic_widget (
    GTK_LABEL (gimp_table_attach_aligned (GTK_TABLE (table), 0, 1, "_Layer:", 0.0, 0.0,
                                          d.w.node_chooser, 2, FALSE)),
    d.w.node_search);
  int_combo_attach (GTK_TABLE (table), 2, "_Region of interest:", &vals->roi_mode,
                    DIALOG_TIP_ROI_MODE, gimp_int_combo_box_new (DIALOG_ROI_MODES), &d.w);
  int_combo_attach (GTK_TABLE (table), 3, "S_core:", &vals->score, DIALOG_TIP_SCORE,
                    gimp_int_combo_box_new (DIALOG_SCORES), &d.w);
  method = method_combo_new ();
  int_combo_attach (GTK_TABLE (table), 4, SEGCAM_METHOD_LABEL ":", &vals->method,
                    DIALOG_TIP_METHOD, method, &d.w);
  d.weights = gimp_int_combo_box_new (DIALOG_WEIGHTS);
  int_combo_attach (GTK_TABLE (table), 5, SEGCAM_WEIGHTS_LABEL ":", &vals->weights,
                    DIALOG_TIP_WEIGHTS, d.weights, &d.w);
  /* The scale up to 64 target pixels, the entry beyond (a block as large as the map is
   * Seg-Grad-CAM with mean pooling). */
  d.pool = int_scale_attach (GTK_TABLE (table), 6, SEGCAM_POOL_LABEL ":", &vals->pool, 1, 64,
                             4096, SEGCAM_ARG_POOL, &d.w);
  d.pool_mode = gimp_int_combo_box_new (DIALOG_POOL_MODES);
  int_combo_attach (GTK_TABLE (table), 7, SEGCAM_POOL_MODE_LABEL ":", &vals->pool_mode,
                    DIALOG_TIP_POOL_MODE, d.pool_mode, &d.w);
  /* The slider up to 256 channels (seconds to a minute), the entry beyond; 0 = every channel. */
  d.max_channels = int_scale_attach (GTK_TABLE (table), 8, SEGCAM_MAX_CHANNELS_LABEL ":",
                                     &vals->max_channels, 0, 256, 65536,
                                     SEGCAM_ARG_MAX_CHANNELS, &d.w);
  g_signal_connect (method, "changed", G_CALLBACK (explain_method_changed), &d);
  explain_method_changed (method, &d);
  /* The preview shows the chosen layer's map, also for a sweep. */
  int_combo_attach (GTK_TABLE (table), 9, SEGCAM_SWEEP_LABEL ":", &vals->sweep, DIALOG_TIP_SWEEP,
                    gimp_int_combo_box_new (DIALOG_SWEEP), NULL);
  int_combo_attach (GTK_TABLE (table), 10, "Color_map:", &vals->colormap, DIALOG_TIP_COLORMAP,
                    gimp_int_combo_box_new (DIALOG_COLORMAPS), &d.w);
  opacity = opacity_attach (GTK_TABLE (table), 11, &vals->opacity, DIALOG_TIP_OPACITY);
  g_signal_connect_swapped (opacity, "value-changed", G_CALLBACK (explain_widgets_preview_update),
                            &d.w);
  size = working_size_attach (GTK_TABLE (table), 12, d.w.size_note, &vals->max_size);
  size_note_update (d.w.size_note, d.w.width, d.w.height, vals->max_size);
  g_signal_connect (size, "value-changed", G_CALLBACK (explain_max_size_changed), &d);

  frame = gimp_frame_new ("Create");
  outputs_box = gtk_vbox_new (FALSE, 2);
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++)
    {
      outputs[i] = gtk_check_button_new_with_mnemonic (output_labels[i]);
      g_object_set_data (G_OBJECT (outputs[i]), "output", GUINT_TO_POINTER (1u << i));
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (outputs[i]),
                                    (vals->outputs & (1u << i)) != 0);
      g_signal_connect (outputs[i], "toggled", G_CALLBACK (explain_output_toggled), &d);
      gtk_box_pack_start (GTK_BOX (outputs_box), outputs[i], FALSE, FALSE, 0);
    }
  gtk_box_pack_start (GTK_BOX (outputs_box),
                      option_check_new (SEGCAM_MAP_ALPHA_LABEL, SEGCAM_MAP_ALPHA_HELP,
                                        &vals->map_alpha, &d.w),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (outputs_box),
                      option_check_new (SEGCAM_LEGEND_LABEL, SEGCAM_LEGEND_HELP, &vals->legend,
                                        &d.w),
                      FALSE, FALSE, 0);
  gtk_container_add (GTK_CONTAINER (frame), outputs_box);
  gtk_widget_show_all (frame);

  gtk_box_pack_start (GTK_BOX (vbox),
                      model_picker_new (&d.w.picker, model_dir, vals->model,
                                        explain_model_changed, &d),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), table, TRUE, TRUE, 0);
  /* The preview beside the outputs, where the dialog has room to spare. */
  hbox = gtk_hbox_new (FALSE, 12);
  gtk_box_pack_start (GTK_BOX (hbox), frame, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (hbox), d.w.preview_box, FALSE, FALSE, 0);
  gtk_widget_show (hbox);
  gtk_box_pack_start (GTK_BOX (vbox), hbox, FALSE, FALSE, 0);

  run = run_dialog (d.dialog, explain_dump, &d);
  if (run)
    {
      gchar *classes = explain_widgets_classes (&d.w);
      gchar *node = vals->sweep == EXPLAIN_SWEEP_LAYERS ? explain_widgets_layers (&d.w)
                                                        : explain_widgets_layer (&d.w);

      g_strlcpy (vals->model, d.w.picker.setting, sizeof vals->model);
      g_strlcpy (vals->classes, classes, sizeof vals->classes);
      g_strlcpy (vals->layer, node != NULL ? node : "", sizeof vals->layer);
      *model = explain_widgets_steal_model (&d.w);
      g_free (node);
      g_free (classes);
    }
  gtk_widget_destroy (d.dialog);
  explain_widgets_clear (&d.w);
  return run;
}

/* ---- Heat map to selection ---------------------------------------------------------------- */

gboolean
gimp2_select_dialog (SelectVals *vals)
{
  GtkWidget *vbox, *table, *dialog, *target;
  GtkObject *threshold;
  gboolean run;

  gimp_ui_init (SEGCAM_BINARY, FALSE);
  dialog = dialog_new ("Seg-Grad-CAM: Heat map to selection", SEGCAM_HEAT_MAP_SELECT_PROC, &vbox);
  table = table_new (2);
  threshold = gimp_scale_entry_new (GTK_TABLE (table), 0, 0, "_Threshold:", 200, 6,
                                    vals->threshold, 0, 1, 0.01, 0.1, 2, TRUE, 0, 0,
                                    SEGCAM_ARG_THRESHOLD, NULL);
  g_signal_connect (threshold, "value-changed", G_CALLBACK (gimp_double_adjustment_update),
                    &vals->threshold);
  target = gimp_int_combo_box_new (DIALOG_SELECT_TARGETS);
  gimp_int_combo_box_connect (GIMP_INT_COMBO_BOX (target), vals->to_channel,
                              G_CALLBACK (gimp_int_combo_box_get_active), &vals->to_channel);
  gimp_table_attach_aligned (GTK_TABLE (table), 0, 1, "_Result:", 0.0, 0.5, target, 2, FALSE);
  gtk_box_pack_start (GTK_BOX (vbox), table, FALSE, FALSE, 0);
  run = run_dialog (dialog, NULL, NULL);
  gtk_widget_destroy (dialog);
  return run;
}

/* ---- Segment ------------------------------------------------------------------------------ */

typedef struct {
  GtkWidget *dialog;
  ModelPicker picker;
  GtkWidget *size_note;
  gint width, height;
} SegmentDialog;

static void
segment_model_changed (gpointer data)
{
  SegmentDialog *d = data;

  gtk_dialog_set_response_sensitive (GTK_DIALOG (d->dialog), GTK_RESPONSE_OK,
                                     d->picker.model != NULL);
}

static void
segment_max_size_changed (GtkAdjustment *adjustment, SegmentDialog *d)
{
  size_note_update (d->size_note, d->width, d->height,
                    (gint) gtk_adjustment_get_value (adjustment));
}

static void
segment_dump (gpointer state)
{
  SegmentDialog *d = state;

  segment_widgets_dump (&d->picker, d->size_note);
}

gboolean
gimp2_segment_dialog (SegmentVals *vals, gint32 drawable, const gchar *model_dir,
                      segcam_model **model)
{
  SegmentDialog d = { NULL };
  GtkWidget *vbox, *table;
  GtkObject *size;
  gboolean run;

  gimp_ui_init (SEGCAM_BINARY, FALSE);
  d.dialog = dialog_new ("Seg-Grad-CAM: Segment", SEGCAM_SEGMENT_PROC, &vbox);
  d.width = gimp_drawable_width (drawable);
  d.height = gimp_drawable_height (drawable);
  d.size_note = size_note_new ();

  table = table_new (3);
  opacity_attach (GTK_TABLE (table), 0, &vals->opacity, DIALOG_TIP_SEGMENT_OPACITY);
  size = working_size_attach (GTK_TABLE (table), 1, d.size_note, &vals->max_size);
  size_note_update (d.size_note, d.width, d.height, vals->max_size);
  g_signal_connect (size, "value-changed", G_CALLBACK (segment_max_size_changed), &d);

  gtk_box_pack_start (GTK_BOX (vbox),
                      model_picker_new (&d.picker, model_dir, vals->model,
                                        segment_model_changed, &d),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), table, FALSE, FALSE, 0);

  run = run_dialog (d.dialog, segment_dump, &d);
  if (run)
    {
      g_strlcpy (vals->model, d.picker.setting, sizeof vals->model);
      *model = model_picker_steal (&d.picker);
    }
  gtk_widget_destroy (d.dialog);
  model_picker_clear (&d.picker);
  return run;
}
