/* gimp2-dialog.c — the Explain and Segment dialogs of the GIMP 2.10 adapter (GTK2, GimpDialog).
 *
 * The dialogs only edit settings; whatever they show about the model (classes, nodes and their
 * output shapes) comes from the engine's public header and explain-job.h.
 *
 * SEGCAM_TEST_DIALOG=ok|cancel makes a dialog print what it shows to stderr ("segcam-dialog:"
 * lines) and answer itself once it is on screen: the headless tests drive it that way under
 * Xvfb, without a window manager or an input robot.
 */
#include <string.h>

#include <libgimp/gimp.h>
/* GTK2's headers declare what GLib has since deprecated (GTimeVal); that is not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <libgimp/gimpui.h>
#pragma GCC diagnostic pop

#include "gimp2-dialog.h"
#include "model-files.h"

#define PLUG_IN_BINARY "seg-grad-cam"
#define PLUG_IN_ROLE   "gimp-seg-grad-cam"
#define TEST_ENV       "SEGCAM_TEST_DIALOG"

/* ---- model picker: bundled models first, then a chosen file --------------------------------- */

enum { MODEL_LABEL, MODEL_SETTING, MODEL_KIND, MODEL_N_COLUMNS };
enum { KIND_FILE, KIND_SEPARATOR, KIND_OTHER };

/* Called after each (re)load of the model, successful or not. */
typedef void (*ModelChanged) (gpointer data);

typedef struct {
  GtkWidget *combo;
  GtkListStore *store;
  GtkWidget *status;           /* the model's description, or why it did not load */
  gchar *dir;
  gchar *setting;              /* "" = the bundled default */
  segcam_model *model;         /* NULL when the chosen file did not load */
  gint active;                 /* the row to return to when the file chooser is cancelled */
  ModelChanged changed;
  gpointer data;
} ModelPicker;

static gboolean
model_row_is_separator (GtkTreeModel *model, GtkTreeIter *iter, gpointer data)
{
  gint kind;

  gtk_tree_model_get (model, iter, MODEL_KIND, &kind, -1);
  return kind == KIND_SEPARATOR;
}

/* Adds a file row before the separator and returns its index. */
static gint
model_picker_add (ModelPicker *picker, const gchar *label, const gchar *setting)
{
  GtkTreeModel *model = GTK_TREE_MODEL (picker->store);
  GtkTreeIter iter;
  gint index = 0;
  gboolean valid;

  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter), index++)
    {
      gchar *row_setting;
      gint kind;
      gboolean same;

      gtk_tree_model_get (model, &iter, MODEL_SETTING, &row_setting, MODEL_KIND, &kind, -1);
      same = kind == KIND_FILE && strcmp (row_setting, setting) == 0;
      g_free (row_setting);
      if (same)
        return index;
      if (kind != KIND_FILE)
        break;
    }
  gtk_list_store_insert_with_values (picker->store, NULL, index, MODEL_LABEL, label,
                                     MODEL_SETTING, setting, MODEL_KIND, KIND_FILE, -1);
  return index;
}

static void
model_picker_load (ModelPicker *picker)
{
  GError *error = NULL;
  gchar *path = model_files_resolve (picker->setting, picker->dir, &error);

  g_clear_pointer (&picker->model, segcam_model_free);
  if (path != NULL)
    picker->model = segcam_model_load (path, &error);

  if (picker->model != NULL)
    {
      const gchar *description = segcam_model_description (picker->model);
      gchar *text = g_strdup_printf ("%s%s%d classes, %" G_GINT64_FORMAT " parameters",
                                     description, description[0] != '\0' ? "\n" : "",
                                     segcam_model_n_classes (picker->model),
                                     (gint64) segcam_model_n_parameters (picker->model));

      gtk_label_set_text (GTK_LABEL (picker->status), text);
      g_free (text);
    }
  else
    {
      gchar *markup = g_markup_printf_escaped ("<span foreground=\"#c01c28\">%s</span>",
                                               error->message);

      gtk_label_set_markup (GTK_LABEL (picker->status), markup);
      g_free (markup);
      g_clear_error (&error);
    }
  g_free (path);
  picker->changed (picker->data);
}

/* Asks for a model file and makes it the picker's active row. */
static void
model_picker_choose_file (ModelPicker *picker)
{
  GtkWidget *chooser = gtk_file_chooser_dialog_new (
    "Choose a Seg-Grad-CAM model", GTK_WINDOW (gtk_widget_get_toplevel (picker->combo)),
    GTK_FILE_CHOOSER_ACTION_OPEN, "_Cancel", GTK_RESPONSE_CANCEL, "_Open", GTK_RESPONSE_ACCEPT,
    NULL);
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, "Models (*.safetensors, *.onnx)");
  gtk_file_filter_add_pattern (filter, "*" MODEL_FILES_EXTENSION);
  gtk_file_filter_add_pattern (filter, "*" MODEL_FILES_ONNX_EXTENSION);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  if (g_file_test (picker->dir, G_FILE_TEST_IS_DIR))
    gtk_file_chooser_add_shortcut_folder (GTK_FILE_CHOOSER (chooser), picker->dir, NULL);

  if (gtk_dialog_run (GTK_DIALOG (chooser)) == GTK_RESPONSE_ACCEPT)
    {
      gchar *path = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (chooser));
      gchar *label = model_files_label (path);

      picker->active = model_picker_add (picker, label, path);
      g_free (picker->setting);
      picker->setting = path;
      g_free (label);
    }
  gtk_widget_destroy (chooser);
}

static void
model_picker_changed (GtkComboBox *combo, ModelPicker *picker)
{
  GtkTreeIter iter;
  gchar *setting;
  gint kind;

  if (! gtk_combo_box_get_active_iter (combo, &iter))
    return;
  gtk_tree_model_get (GTK_TREE_MODEL (picker->store), &iter, MODEL_SETTING, &setting,
                      MODEL_KIND, &kind, -1);
  if (kind == KIND_OTHER)
    {
      g_free (setting);
      model_picker_choose_file (picker);
      /* Back to a file row, the chosen one or the previous: this handler runs again for it. */
      gtk_combo_box_set_active (combo, picker->active);
      return;
    }
  picker->active = gtk_combo_box_get_active (combo);
  g_free (picker->setting);
  picker->setting = setting;
  model_picker_load (picker);
}

/* Builds the picker's frame, with setting selected, and loads it. */
static GtkWidget *
model_picker_new (ModelPicker *picker, const gchar *dir, const gchar *setting,
                  ModelChanged changed, gpointer data)
{
  GPtrArray *bundled = model_files_list (dir);
  GtkWidget *frame = gimp_frame_new ("Model");
  GtkWidget *vbox = gtk_vbox_new (FALSE, 6);
  GtkCellRenderer *cell = gtk_cell_renderer_text_new ();

  picker->dir = g_strdup (dir);
  picker->setting = g_strdup (setting);
  picker->changed = changed;
  picker->data = data;
  picker->store = gtk_list_store_new (MODEL_N_COLUMNS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT);
  gtk_list_store_insert_with_values (picker->store, NULL, -1, MODEL_KIND, KIND_SEPARATOR, -1);
  gtk_list_store_insert_with_values (picker->store, NULL, -1, MODEL_LABEL, "Other model file…",
                                     MODEL_SETTING, "", MODEL_KIND, KIND_OTHER, -1);
  for (guint i = 0; i < bundled->len; i++)
    {
      gchar *name = model_files_label (bundled->pdata[i]);
      gchar *label = g_strdup_printf ("%s (bundled%s)", name, i == 0 ? ", default" : "");

      /* The default is stored as "", so that it follows the installation. */
      model_picker_add (picker, label, i == 0 ? "" : bundled->pdata[i]);
      g_free (label);
      g_free (name);
    }
  if (setting[0] != '\0')
    {
      gchar *label = model_files_label (setting);

      picker->active = model_picker_add (picker, label, setting);
      g_free (label);
    }
  g_ptr_array_unref (bundled);

  picker->combo = gtk_combo_box_new_with_model (GTK_TREE_MODEL (picker->store));
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (picker->combo), cell, TRUE);
  gtk_cell_layout_set_attributes (GTK_CELL_LAYOUT (picker->combo), cell, "text", MODEL_LABEL,
                                  NULL);
  gtk_combo_box_set_row_separator_func (GTK_COMBO_BOX (picker->combo), model_row_is_separator,
                                        NULL, NULL);
  gimp_help_set_help_data (picker->combo, "The segmentation network (a .safetensors file). "
                           "The bundled models come first.", NULL);

  picker->status = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (picker->status), TRUE);
  gtk_misc_set_alignment (GTK_MISC (picker->status), 0.0, 0.5);
  gimp_label_set_attributes (GTK_LABEL (picker->status), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL,
                             -1);

  gtk_box_pack_start (GTK_BOX (vbox), picker->combo, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), picker->status, FALSE, FALSE, 0);
  gtk_container_add (GTK_CONTAINER (frame), vbox);
  gtk_widget_show_all (frame);

  /* With no bundled model and no file the combo stays empty until "Other model file…". */
  if (gtk_tree_model_iter_n_children (GTK_TREE_MODEL (picker->store), NULL) > 2)
    gtk_combo_box_set_active (GTK_COMBO_BOX (picker->combo), picker->active);
  g_signal_connect (picker->combo, "changed", G_CALLBACK (model_picker_changed), picker);
  model_picker_load (picker);
  return frame;
}

/* Hands the loaded model to the caller. */
static segcam_model *
model_picker_steal (ModelPicker *picker)
{
  return g_steal_pointer (&picker->model);
}

static void
model_picker_clear (ModelPicker *picker)
{
  g_clear_pointer (&picker->model, segcam_model_free);
  g_clear_object (&picker->store);
  g_free (picker->setting);
  g_free (picker->dir);
}

static gchar *
combo_text (GtkComboBox *combo, gint column)
{
  GtkTreeIter iter;
  gchar *text = NULL;

  if (gtk_combo_box_get_active_iter (combo, &iter))
    gtk_tree_model_get (gtk_combo_box_get_model (combo), &iter, column, &text, -1);
  return text;
}

/* ---- the test hook ------------------------------------------------------------------------ */

typedef void (*DumpFunc) (gpointer state);

typedef struct {
  GtkWidget *dialog;
  DumpFunc dump;
  gpointer state;
} TestHook;

static gboolean
test_hook_answer (gpointer data)
{
  TestHook *hook = data;
  const gchar *answer = g_getenv (TEST_ENV);

  hook->dump (hook->state);
  g_printerr ("segcam-dialog: ok-sensitive = %d\n",
              gtk_widget_is_sensitive (gtk_dialog_get_widget_for_response (
                GTK_DIALOG (hook->dialog), GTK_RESPONSE_OK)));
  gtk_dialog_response (GTK_DIALOG (hook->dialog),
                       strcmp (answer, "ok") == 0 ? GTK_RESPONSE_OK : GTK_RESPONSE_CANCEL);
  return G_SOURCE_REMOVE;
}

/* Runs the dialog: TRUE on OK. */
static gboolean
run_dialog (GtkWidget *dialog, DumpFunc dump, gpointer state)
{
  TestHook hook = { dialog, dump, state };

  gtk_widget_show (dialog);
  if (g_getenv (TEST_ENV) != NULL)
    g_idle_add (test_hook_answer, &hook);
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

/* "Maximum working size" with the note that says what it means for this layer. */
typedef struct {
  GtkObject *adjustment;
  GtkWidget *note;
  gint width, height;          /* the layer */
} WorkingSize;

static void
working_size_update (WorkingSize *size, gint max_size)
{
  gint work_width, work_height;
  gchar *text;

  if (explain_working_size (size->width, size->height, max_size, &work_width, &work_height))
    text = g_strdup_printf ("The network sees the layer resampled to %d × %d pixels (it has "
                            "%d × %d); the results are resampled back.", work_width, work_height,
                            size->width, size->height);
  else
    text = g_strdup_printf ("The network sees the layer at its own size, %d × %d pixels.",
                            size->width, size->height);
  gtk_label_set_text (GTK_LABEL (size->note), text);
  g_free (text);
}

static void
working_size_attach (WorkingSize *size, GtkTable *table, gint row, gint32 drawable,
                     gint *max_size)
{
  size->width = gimp_drawable_width (drawable);
  size->height = gimp_drawable_height (drawable);
  size->adjustment = gimp_scale_entry_new (table, 0, row, "Maximum _working size:", 200, 6,
                                           *max_size, EXPLAIN_MIN_MAX_SIZE,
                                           EXPLAIN_MAX_MAX_SIZE, 1, 64, 0, TRUE, 0, 0,
                                           "Larger layers are scaled down, keeping their aspect "
                                           "ratio, so that their longer side has this many "
                                           "pixels; the network's memory grows with this size.",
                                           NULL);
  gimp_scale_entry_set_logarithmic (size->adjustment, TRUE);
  g_signal_connect (size->adjustment, "value-changed", G_CALLBACK (gimp_int_adjustment_update),
                    max_size);

  size->note = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (size->note), TRUE);
  gtk_misc_set_alignment (GTK_MISC (size->note), 0.0, 0.5);
  gimp_label_set_attributes (GTK_LABEL (size->note), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  gtk_table_attach (table, size->note, 1, 3, row + 1, row + 2, GTK_FILL, GTK_FILL, 0, 0);
  gtk_widget_show (size->note);
  working_size_update (size, *max_size);
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

enum { CLASS_ACTIVE, CLASS_INDEX, CLASS_NAME, CLASS_SWATCH, CLASS_N_COLUMNS };
enum { NODE_LABEL, NODE_SETTING, NODE_N_COLUMNS };

#define AUTO_CLASS (-1)

typedef struct {
  ExplainVals *vals;
  GtkWidget *dialog;
  ModelPicker picker;
  WorkingSize size;
  GtkListStore *classes;
  GtkListStore *nodes;
  GtkWidget *node_combo;
} ExplainDialog;

static void
explain_update_ok (ExplainDialog *d)
{
  gtk_dialog_set_response_sensitive (GTK_DIALOG (d->dialog), GTK_RESPONSE_OK,
                                     d->picker.model != NULL && d->vals->outputs != 0);
}

static GdkPixbuf *
swatch_new (const segcam_model *model, gint class_index)
{
  GdkPixbuf *swatch = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 16, 12);
  guint8 rgb[3];

  segcam_model_class_color (model, class_index, rgb);
  gdk_pixbuf_fill (swatch, ((guint32) rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xff);
  return swatch;
}

/* The class rows for the loaded model, checked as in vals->classes (automatic when those are
 * empty or do not fit the model). */
static void
explain_fill_classes (ExplainDialog *d)
{
  const segcam_model *model = d->picker.model;
  GArray *chosen = model != NULL ? explain_parse_classes (model, d->vals->classes, NULL) : NULL;
  gboolean automatic = chosen == NULL || chosen->len == 0;

  gtk_list_store_clear (d->classes);
  if (model == NULL)
    return;
  gtk_list_store_insert_with_values (d->classes, NULL, -1, CLASS_ACTIVE, automatic, CLASS_INDEX,
                                     AUTO_CLASS, CLASS_NAME,
                                     "Automatic: the class predicted most in the selection", -1);
  for (gint c = 0; c < segcam_model_n_classes (model); c++)
    {
      GdkPixbuf *swatch = swatch_new (model, c);
      gboolean active = FALSE;

      for (guint i = 0; ! automatic && i < chosen->len; i++)
        active |= g_array_index (chosen, int, i) == c;
      gtk_list_store_insert_with_values (d->classes, NULL, -1, CLASS_ACTIVE, active, CLASS_INDEX,
                                         c, CLASS_NAME, segcam_model_class_name (model, c),
                                         CLASS_SWATCH, swatch, -1);
      g_object_unref (swatch);
    }
  if (chosen != NULL)
    g_array_unref (chosen);
}

/* Checking "automatic" unchecks the classes, and "automatic" is checked exactly when no class
 * is: checking a class unchecks it, unchecking the last class checks it again. */
static void
explain_class_toggled (GtkCellRendererToggle *cell, gchar *path, ExplainDialog *d)
{
  GtkTreeModel *model = GTK_TREE_MODEL (d->classes);
  GtkTreeIter iter, automatic;
  gboolean active, any = FALSE, valid;
  gint index;

  if (! gtk_tree_model_get_iter_from_string (model, &iter, path))
    return;
  gtk_tree_model_get (model, &iter, CLASS_ACTIVE, &active, CLASS_INDEX, &index, -1);
  gtk_list_store_set (d->classes, &iter, CLASS_ACTIVE, ! active, -1);

  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      gint row_index;
      gboolean row_active;

      gtk_tree_model_get (model, &iter, CLASS_INDEX, &row_index, CLASS_ACTIVE, &row_active, -1);
      if (row_index == AUTO_CLASS)
        automatic = iter;
      else if (index == AUTO_CLASS && ! active && row_active)
        gtk_list_store_set (d->classes, &iter, CLASS_ACTIVE, FALSE, -1);
      else
        any |= row_active;
    }
  gtk_list_store_set (d->classes, &automatic, CLASS_ACTIVE, ! any, -1);
}

/* The checked classes as the PDB's classes string ("" = automatic). */
static gchar *
explain_classes_setting (ExplainDialog *d)
{
  GtkTreeModel *model = GTK_TREE_MODEL (d->classes);
  GArray *chosen = g_array_new (FALSE, FALSE, sizeof (int));
  GtkTreeIter iter;
  gboolean valid;
  gchar *setting;

  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      gint index;
      gboolean active;

      gtk_tree_model_get (model, &iter, CLASS_INDEX, &index, CLASS_ACTIVE, &active, -1);
      if (active && index != AUTO_CLASS)
        g_array_append_val (chosen, index);
    }
  setting = explain_format_classes (d->picker.model, (const int *) chosen->data, chosen->len);
  g_array_unref (chosen);
  return setting;
}

/* The node rows with their output shapes at the working size; keeps the chosen node. */
static void
explain_fill_nodes (ExplainDialog *d)
{
  const segcam_model *model = d->picker.model;
  gchar *chosen = combo_text (GTK_COMBO_BOX (d->node_combo), NODE_SETTING);
  const gchar *want = chosen != NULL ? chosen : d->vals->layer;
  gint work_width, work_height, active = -1;
  gint *shapes;

  gtk_list_store_clear (d->nodes);
  if (model == NULL)
    {
      g_free (chosen);
      return;
    }
  explain_working_size (d->size.width, d->size.height, d->vals->max_size, &work_width,
                        &work_height);
  shapes = g_new (gint, 3 * segcam_model_n_nodes (model));
  if (! segcam_model_infer_shapes (model, work_width, work_height, shapes, NULL))
    g_clear_pointer (&shapes, g_free);

  /* Node 0 is the input, nothing to explain at; the default node is stored as "". */
  for (gint node = 1; node < segcam_model_n_nodes (model); node++)
    {
      const gchar *setting = node == segcam_model_default_layer (model)
                               ? "" : segcam_model_node_name (model, node);
      gchar *label = explain_node_label (model, node, shapes);

      if (strcmp (setting, want) == 0)
        active = node - 1;
      gtk_list_store_insert_with_values (d->nodes, NULL, -1, NODE_LABEL, label, NODE_SETTING,
                                         setting, -1);
      g_free (label);
    }
  gtk_combo_box_set_active (GTK_COMBO_BOX (d->node_combo),
                            active >= 0 ? active : segcam_model_default_layer (model) - 1);
  g_free (shapes);
  g_free (chosen);
}

static void
explain_model_changed (gpointer data)
{
  ExplainDialog *d = data;

  explain_fill_classes (d);
  explain_fill_nodes (d);
  explain_update_ok (d);
}

static void
explain_max_size_changed (GtkAdjustment *adjustment, ExplainDialog *d)
{
  working_size_update (&d->size, d->vals->max_size);
  explain_fill_nodes (d);
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

static GtkWidget *
explain_classes_view (ExplainDialog *d)
{
  GtkWidget *scrolled = gtk_scrolled_window_new (NULL, NULL);
  GtkWidget *view = gtk_tree_view_new_with_model (GTK_TREE_MODEL (d->classes));
  GtkCellRenderer *toggle = gtk_cell_renderer_toggle_new ();
  GtkTreeViewColumn *column = gtk_tree_view_column_new ();
  GtkCellRenderer *swatch = gtk_cell_renderer_pixbuf_new ();
  GtkCellRenderer *name = gtk_cell_renderer_text_new ();

  g_signal_connect (toggle, "toggled", G_CALLBACK (explain_class_toggled), d);
  gtk_tree_view_insert_column_with_attributes (GTK_TREE_VIEW (view), -1, NULL, toggle, "active",
                                               CLASS_ACTIVE, NULL);
  gtk_tree_view_column_pack_start (column, swatch, FALSE);
  gtk_tree_view_column_add_attribute (column, swatch, "pixbuf", CLASS_SWATCH);
  gtk_tree_view_column_pack_start (column, name, TRUE);
  gtk_tree_view_column_add_attribute (column, name, "text", CLASS_NAME);
  gtk_tree_view_append_column (GTK_TREE_VIEW (view), column);
  gtk_tree_view_set_headers_visible (GTK_TREE_VIEW (view), FALSE);
  gimp_help_set_help_data (view, "Classes to explain, one heat map each. Automatic picks the "
                           "class the network predicts most in the selection.", NULL);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_shadow_type (GTK_SCROLLED_WINDOW (scrolled), GTK_SHADOW_IN);
  gtk_widget_set_size_request (scrolled, -1, 160);
  gtk_container_add (GTK_CONTAINER (scrolled), view);
  gtk_widget_show_all (scrolled);
  return scrolled;
}

static GtkWidget *
int_combo_attach (GtkTable *table, gint row, const gchar *label, gint32 *value,
                  const gchar *tooltip, GtkWidget *combo)
{
  gimp_int_combo_box_connect (GIMP_INT_COMBO_BOX (combo), *value,
                              G_CALLBACK (gimp_int_combo_box_get_active), value);
  gimp_help_set_help_data (combo, tooltip, NULL);
  gimp_table_attach_aligned (table, 0, row, label, 0.0, 0.5, combo, 2, FALSE);
  return combo;
}

static void
explain_dump (gpointer state)
{
  ExplainDialog *d = state;
  GtkTreeModel *classes = GTK_TREE_MODEL (d->classes);
  gchar *model = combo_text (GTK_COMBO_BOX (d->picker.combo), MODEL_LABEL);
  gchar *node = combo_text (GTK_COMBO_BOX (d->node_combo), NODE_LABEL);
  GString *rows = g_string_new (NULL);
  GtkTreeIter iter;
  gboolean valid;

  for (valid = gtk_tree_model_get_iter_first (classes, &iter); valid;
       valid = gtk_tree_model_iter_next (classes, &iter))
    {
      gchar *name;
      gboolean active;

      gtk_tree_model_get (classes, &iter, CLASS_NAME, &name, CLASS_ACTIVE, &active, -1);
      g_string_append_printf (rows, "%s[%c] %s", rows->len > 0 ? " | " : "", active ? 'x' : ' ',
                              name);
      g_free (name);
    }
  g_printerr ("segcam-dialog: model = %s\n", model != NULL ? model : "(none)");
  g_printerr ("segcam-dialog: status = %s\n", gtk_label_get_text (GTK_LABEL (d->picker.status)));
  g_printerr ("segcam-dialog: classes = %s\n", rows->str);
  g_printerr ("segcam-dialog: layer = %s\n", node != NULL ? node : "(none)");
  g_printerr ("segcam-dialog: layers = %d\n",
              gtk_tree_model_iter_n_children (GTK_TREE_MODEL (d->nodes), NULL));
  g_printerr ("segcam-dialog: working size = %s\n", gtk_label_get_text (GTK_LABEL (d->size.note)));
  g_string_free (rows, TRUE);
  g_free (node);
  g_free (model);
}

gboolean
gimp2_explain_dialog (ExplainVals *vals, gint32 drawable, const gchar *model_dir,
                      segcam_model **model)
{
  static const gchar *const output_labels[] = {
    "_Heat map per class", "O_verlay per class (heat map over the layer)", "_Segmentation",
  };
  ExplainDialog d = { vals };
  gboolean gray = gimp_drawable_is_gray (drawable), run;
  GtkWidget *vbox, *table, *frame, *outputs_box, *combo, *outputs[G_N_ELEMENTS (output_labels)];
  GtkCellRenderer *cell;

  gimp_ui_init (PLUG_IN_BINARY, FALSE);
  d.dialog = dialog_new ("Seg-Grad-CAM: Explain", "plug-in-segcam-explain", &vbox);
  d.classes = gtk_list_store_new (CLASS_N_COLUMNS, G_TYPE_BOOLEAN, G_TYPE_INT, G_TYPE_STRING,
                                  GDK_TYPE_PIXBUF);
  d.nodes = gtk_list_store_new (NODE_N_COLUMNS, G_TYPE_STRING, G_TYPE_STRING);

  table = table_new (9);
  gimp_table_attach_aligned (GTK_TABLE (table), 0, 0, "_Classes:", 0.0, 0.0,
                             explain_classes_view (&d), 2, FALSE);

  d.node_combo = gtk_combo_box_new_with_model (GTK_TREE_MODEL (d.nodes));
  cell = gtk_cell_renderer_text_new ();
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (d.node_combo), cell, TRUE);
  gtk_cell_layout_set_attributes (GTK_CELL_LAYOUT (d.node_combo), cell, "text", NODE_LABEL, NULL);
  gimp_help_set_help_data (d.node_combo, "The network node whose activations explain the "
                           "score, with its output channels × height × width for this layer. "
                           "Deeper nodes give coarser maps.", NULL);
  gimp_table_attach_aligned (GTK_TABLE (table), 0, 1, "_Layer:", 0.0, 0.5, d.node_combo, 2,
                             FALSE);

  int_combo_attach (GTK_TABLE (table), 2, "_Region of interest:", &vals->roi_mode,
                    "Whose score is explained: the selection's pixels, or those of them the "
                    "network predicts as the class. The heat map always covers the whole layer.",
                    gimp_int_combo_box_new ("Selection (whole layer without one)",
                                            EXPLAIN_ROI_SELECTION,
                                            "Selected pixels predicted as the class",
                                            EXPLAIN_ROI_SELECTION_CLASS,
                                            "All pixels predicted as the class",
                                            EXPLAIN_ROI_CLASS,
                                            "Largest region of the class in the selection",
                                            EXPLAIN_ROI_COMPONENT, NULL));
  int_combo_attach (GTK_TABLE (table), 3, "S_core:", &vals->score,
                    "Logits are what the Seg-Grad-CAM paper explains; probabilities saturate "
                    "where the network is sure.",
                    gimp_int_combo_box_new ("Logits", SEGCAM_SCORE_LOGITS, "Probabilities",
                                            SEGCAM_SCORE_PROBABILITIES, NULL));
  combo = int_combo_attach (GTK_TABLE (table), 4, "Color_map:", &vals->colormap,
                            gray ? "A grayscale image can only show grayscale heat maps."
                                 : "Colours of the heat map, from 0 to the map's maximum.",
                            gimp_int_combo_box_new ("Jet", SEGCAM_COLORMAP_JET, "Turbo",
                                                    SEGCAM_COLORMAP_TURBO, "Viridis",
                                                    SEGCAM_COLORMAP_VIRIDIS, "Inferno",
                                                    SEGCAM_COLORMAP_INFERNO, "Grayscale",
                                                    SEGCAM_COLORMAP_GRAYSCALE, NULL));
  gtk_widget_set_sensitive (combo, ! gray);
  opacity_attach (GTK_TABLE (table), 5, &vals->opacity,
                  "Opacity of the heat-map layers, and of the heat map in the overlays.");
  working_size_attach (&d.size, GTK_TABLE (table), 6, drawable, &vals->max_size);
  g_signal_connect (d.size.adjustment, "value-changed", G_CALLBACK (explain_max_size_changed),
                    &d);

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
  gtk_container_add (GTK_CONTAINER (frame), outputs_box);
  gtk_widget_show_all (frame);

  gtk_box_pack_start (GTK_BOX (vbox),
                      model_picker_new (&d.picker, model_dir, vals->model,
                                        explain_model_changed, &d),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), table, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), frame, FALSE, FALSE, 0);

  run = run_dialog (d.dialog, explain_dump, &d);
  if (run)
    {
      gchar *classes = explain_classes_setting (&d);
      gchar *node = combo_text (GTK_COMBO_BOX (d.node_combo), NODE_SETTING);

      g_strlcpy (vals->model, d.picker.setting, sizeof vals->model);
      g_strlcpy (vals->classes, classes, sizeof vals->classes);
      g_strlcpy (vals->layer, node != NULL ? node : "", sizeof vals->layer);
      *model = model_picker_steal (&d.picker);
      g_free (node);
      g_free (classes);
    }
  gtk_widget_destroy (d.dialog);
  model_picker_clear (&d.picker);
  g_object_unref (d.nodes);
  g_object_unref (d.classes);
  return run;
}

/* ---- Segment ------------------------------------------------------------------------------ */

typedef struct {
  GtkWidget *dialog;
  ModelPicker picker;
  WorkingSize size;
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
  working_size_update (&d->size, (gint) gtk_adjustment_get_value (adjustment));
}

static void
segment_dump (gpointer state)
{
  SegmentDialog *d = state;
  gchar *model = combo_text (GTK_COMBO_BOX (d->picker.combo), MODEL_LABEL);

  g_printerr ("segcam-dialog: model = %s\n", model != NULL ? model : "(none)");
  g_printerr ("segcam-dialog: status = %s\n", gtk_label_get_text (GTK_LABEL (d->picker.status)));
  g_printerr ("segcam-dialog: working size = %s\n", gtk_label_get_text (GTK_LABEL (d->size.note)));
  g_free (model);
}

gboolean
gimp2_segment_dialog (SegmentVals *vals, gint32 drawable, const gchar *model_dir,
                      segcam_model **model)
{
  SegmentDialog d = { NULL };
  GtkWidget *vbox, *table;
  gboolean run;

  gimp_ui_init (PLUG_IN_BINARY, FALSE);
  d.dialog = dialog_new ("Seg-Grad-CAM: Segment", "plug-in-segcam-segment", &vbox);

  table = table_new (3);
  opacity_attach (GTK_TABLE (table), 0, &vals->opacity, "Opacity of the segmentation layer.");
  working_size_attach (&d.size, GTK_TABLE (table), 1, drawable, &vals->max_size);
  g_signal_connect (d.size.adjustment, "value-changed", G_CALLBACK (segment_max_size_changed),
                    &d);

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
