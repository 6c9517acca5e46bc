/* dialog-widgets.c — dialog parts shared by the GIMP 2.10 (GTK 2) and 3.0 (GTK 3) adapters.
 *
 * Only what GTK 2.24 and GTK 3 have in common (tree models, combo boxes, cell renderers, the
 * file chooser) and the libgimpwidgets calls both versions keep (gimp_frame_new,
 * gimp_help_set_help_data, gimp_label_set_attributes). Whatever the widgets show about the model
 * comes from the engine's public header and explain-job.h.
 */
#include <stdlib.h>
#include <string.h>

#include <libgimp/gimp.h>
/* GTK 2's headers declare what GLib has since deprecated (GTimeVal); that is not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <libgimp/gimpui.h>
#pragma GCC diagnostic pop

#include "dialog-widgets.h"
#include "model-files.h"

#define TEST_ENV "SEGCAM_TEST_DIALOG"
#define TEST_WAIT_ENV "SEGCAM_TEST_DIALOG_WAIT"

/* A wrapping label in small print, aligned left (xalign is GtkMisc's in GTK 2, GtkLabel's in
 * GTK 3). */
static GtkWidget *
small_label_new (void)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  g_object_set (label, "xalign", 0.0f, NULL);
  gimp_label_set_attributes (GTK_LABEL (label), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  return label;
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

/* ---- model picker: bundled models first, then a chosen file --------------------------------- */

enum { MODEL_LABEL, MODEL_SETTING, MODEL_KIND, MODEL_N_COLUMNS };
enum { KIND_FILE, KIND_SEPARATOR, KIND_OTHER };

static gboolean
model_row_is_separator (GtkTreeModel *model, GtkTreeIter *iter, gpointer data)
{
  gint kind;

  gtk_tree_model_get (model, iter, MODEL_KIND, &kind, -1);
  return kind == KIND_SEPARATOR;
}

/* The index of the file row holding setting, or -1; *n_files receives the number of file rows
 * (they come first, before the separator). */
static gint
model_picker_find (ModelPicker *picker, const gchar *setting, gint *n_files)
{
  GtkTreeModel *model = GTK_TREE_MODEL (picker->store);
  GtkTreeIter iter;
  gint index = 0, found = -1;
  gboolean valid;

  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter), index++)
    {
      gchar *row_setting;
      gint kind;

      gtk_tree_model_get (model, &iter, MODEL_SETTING, &row_setting, MODEL_KIND, &kind, -1);
      if (found < 0 && kind == KIND_FILE && strcmp (row_setting, setting) == 0)
        found = index;
      g_free (row_setting);
      if (kind != KIND_FILE)
        break;
    }
  *n_files = index;
  return found;
}

/* Adds a file row before the separator (unless one holds setting) and returns its index. */
static gint
model_picker_add (ModelPicker *picker, const gchar *label, const gchar *setting)
{
  gint n_files, index = model_picker_find (picker, setting, &n_files);

  if (index >= 0)
    return index;
  gtk_list_store_insert_with_values (picker->store, NULL, n_files, MODEL_LABEL, label,
                                     MODEL_SETTING, setting, MODEL_KIND, KIND_FILE, -1);
  return n_files;
}

/* The row of a setting that is not a bundled model: labelled by its file name. */
static gint
model_picker_add_file (ModelPicker *picker, const gchar *setting)
{
  gchar *label = model_files_label (setting);
  gint index = model_picker_add (picker, label, setting);

  g_free (label);
  return index;
}

static void
model_picker_load (ModelPicker *picker)
{
  GError *error = NULL;
  gchar *path = model_files_resolve (picker->setting, picker->dir, &error);

  if (picker->model != NULL && picker->releasing != NULL)
    picker->releasing (picker->releasing_data);
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

      picker->active = model_picker_add_file (picker, path);
      g_free (picker->setting);
      picker->setting = path;
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

GtkWidget *
model_picker_new (ModelPicker *picker, const gchar *dir, const gchar *setting,
                  ModelChanged changed, gpointer data)
{
  GPtrArray *bundled = model_files_list (dir);
  GtkWidget *frame = gimp_frame_new ("Model");
  GtkWidget *vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
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
    picker->active = model_picker_add_file (picker, setting);
  g_ptr_array_unref (bundled);

  picker->combo = gtk_combo_box_new_with_model (GTK_TREE_MODEL (picker->store));
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (picker->combo), cell, TRUE);
  gtk_cell_layout_set_attributes (GTK_CELL_LAYOUT (picker->combo), cell, "text", MODEL_LABEL,
                                  NULL);
  gtk_combo_box_set_row_separator_func (GTK_COMBO_BOX (picker->combo), model_row_is_separator,
                                        NULL, NULL);
  gimp_help_set_help_data (picker->combo, "The segmentation network (a .safetensors file). "
                           "The bundled models come first.", NULL);

  picker->status = small_label_new ();
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

void
model_picker_select (ModelPicker *picker, const gchar *setting)
{
  gint n_files, index;

  if (g_strcmp0 (picker->setting, setting) == 0)
    return;
  index = model_picker_find (picker, setting, &n_files);
  if (index < 0 && setting[0] == '\0')
    {
      /* "" without a bundled model: no row to select, but the status says why. */
      g_free (picker->setting);
      picker->setting = g_strdup (setting);
      model_picker_load (picker);
      return;
    }
  if (index < 0)
    index = model_picker_add_file (picker, setting);
  /* The "changed" handler loads it. */
  gtk_combo_box_set_active (GTK_COMBO_BOX (picker->combo), index);
}

segcam_model *
model_picker_steal (ModelPicker *picker)
{
  return g_steal_pointer (&picker->model);
}

void
model_picker_clear (ModelPicker *picker)
{
  g_clear_pointer (&picker->model, segcam_model_free);
  g_clear_object (&picker->store);
  g_free (picker->setting);
  g_free (picker->dir);
}

/* ---- classes and nodes -------------------------------------------------------------------- */

enum { CLASS_ACTIVE, CLASS_INDEX, CLASS_NAME, CLASS_SWATCH, CLASS_N_COLUMNS };
enum { NODE_MARKUP, NODE_INFO, NODE_TIP, NODE_SEARCH, NODE_INDEX, NODE_TICKED, NODE_N_COLUMNS };

#define AUTO_CLASS (-1)

static GdkPixbuf *
swatch_new (const segcam_model *model, gint class_index)
{
  GdkPixbuf *swatch = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 16, 12);
  guint8 rgb[3];

  segcam_model_class_color (model, class_index, rgb);
  gdk_pixbuf_fill (swatch, ((guint32) rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xff);
  return swatch;
}

void
explain_widgets_fill_classes (ExplainWidgets *w, const gchar *classes)
{
  const segcam_model *model = w->picker.model;
  GArray *chosen = model != NULL ? explain_parse_classes (model, classes, NULL) : NULL;
  gboolean automatic = chosen == NULL || chosen->len == 0;

  gtk_list_store_clear (w->classes);
  if (model == NULL)
    return;
  gtk_list_store_insert_with_values (w->classes, NULL, -1, CLASS_ACTIVE, automatic, CLASS_INDEX,
                                     AUTO_CLASS, CLASS_NAME,
                                     "Automatic: the class predicted most", -1);
  for (gint c = 0; c < segcam_model_n_classes (model); c++)
    {
      GdkPixbuf *swatch = swatch_new (model, c);
      gboolean active = FALSE;

      for (guint i = 0; ! automatic && i < chosen->len; i++)
        active |= g_array_index (chosen, int, i) == c;
      gtk_list_store_insert_with_values (w->classes, NULL, -1, CLASS_ACTIVE, active, CLASS_INDEX,
                                         c, CLASS_NAME, segcam_model_class_name (model, c),
                                         CLASS_SWATCH, swatch, -1);
      g_object_unref (swatch);
    }
  if (chosen != NULL)
    g_array_unref (chosen);
}

static void
explain_widgets_user_changed (ExplainWidgets *w)
{
  if (w->filling)
    return;
  if (w->user_changed != NULL)
    w->user_changed (w->user_data);
  explain_widgets_preview_update (w);
}

/* Checking "automatic" unchecks the classes, and "automatic" is checked exactly when no class
 * is: checking a class unchecks it, unchecking the last class checks it again. */
static void
class_toggled (GtkCellRendererToggle *cell, gchar *path, ExplainWidgets *w)
{
  GtkTreeModel *model = GTK_TREE_MODEL (w->classes);
  GtkTreeIter iter, automatic;
  gboolean active, any = FALSE, valid;
  gint index;

  if (! gtk_tree_model_get_iter_from_string (model, &iter, path))
    return;
  gtk_tree_model_get (model, &iter, CLASS_ACTIVE, &active, CLASS_INDEX, &index, -1);
  gtk_list_store_set (w->classes, &iter, CLASS_ACTIVE, ! active, -1);

  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      gint row_index;
      gboolean row_active;

      gtk_tree_model_get (model, &iter, CLASS_INDEX, &row_index, CLASS_ACTIVE, &row_active, -1);
      if (row_index == AUTO_CLASS)
        automatic = iter;
      else if (index == AUTO_CLASS && ! active && row_active)
        gtk_list_store_set (w->classes, &iter, CLASS_ACTIVE, FALSE, -1);
      else
        any |= row_active;
    }
  gtk_list_store_set (w->classes, &automatic, CLASS_ACTIVE, ! any, -1);
  explain_widgets_user_changed (w);
}

gchar *
explain_widgets_classes (ExplainWidgets *w)
{
  GtkTreeModel *model = GTK_TREE_MODEL (w->classes);
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
  setting = explain_format_classes (w->picker.model, (const int *) chosen->data, chosen->len);
  g_array_unref (chosen);
  return setting;
}

/* The node chooser: a tree of modules (each standing for its output) and nodes with a search
 * entry that filters it, because a network of a few hundred nodes with ONNX's long names does
 * not fit in a combo box. */

/* A row's markup: its label, in bold with "default" when it stands for the default node. */
static gchar *
node_row_markup (const ExplainNodeGroup *group, const segcam_model *model)
{
  if (group->node == segcam_model_default_layer (model))
    return g_markup_printf_escaped ("<b>%s</b> — default", group->label);
  return g_markup_escape_text (group->label, -1);
}

/* ticked: the nodes to tick (for a sweep over chosen layers), or NULL. */
static void
node_store_add (ExplainWidgets *w, const ExplainNodeGroup *group, GtkTreeIter *parent,
                const gint *shapes, const GArray *ticked)
{
  const segcam_model *model = w->picker.model;

  for (guint i = 0; i < group->children->len; i++)
    {
      const ExplainNodeGroup *child = group->children->pdata[i];
      gint node = child->node;
      gchar *markup = node_row_markup (child, model);
      gchar *label = explain_node_label (model, node, shapes);
      gchar *tip = g_markup_escape_text (label, -1);
      gchar *info = shapes != NULL
                      ? g_strdup_printf ("%s  %d×%d×%d", segcam_model_node_op (model, node),
                                         shapes[3 * node], shapes[3 * node + 1],
                                         shapes[3 * node + 2])
                      : g_strdup (segcam_model_node_op (model, node));
      gchar *search = g_utf8_casefold (child->path, -1);
      gboolean tick = FALSE;
      GtkTreeIter iter;

      for (guint k = 0; ticked != NULL && k < ticked->len; k++)
        tick |= g_array_index (ticked, int, k) == node;
      gtk_tree_store_insert_with_values (w->node_store, &iter, parent, -1, NODE_MARKUP, markup,
                                         NODE_INFO, info, NODE_TIP, tip, NODE_SEARCH, search,
                                         NODE_INDEX, node, NODE_TICKED, tick, -1);
      if (child->children != NULL)
        node_store_add (w, child, &iter, shapes, ticked);
      g_free (search);
      g_free (info);
      g_free (tip);
      g_free (label);
      g_free (markup);
    }
}

/* Whether the row or one below it matches the search (each word, case-folded, somewhere in
 * its name). */
static gboolean
node_row_matches (GtkTreeModel *model, GtkTreeIter *iter, gchar **words)
{
  GtkTreeIter child;
  gchar *search;
  gboolean match = TRUE, valid;

  gtk_tree_model_get (model, iter, NODE_SEARCH, &search, -1);
  for (gchar **word = words; match && *word != NULL; word++)
    match = strstr (search, *word) != NULL;
  g_free (search);
  for (valid = gtk_tree_model_iter_children (model, &child, iter); ! match && valid;
       valid = gtk_tree_model_iter_next (model, &child))
    match = node_row_matches (model, &child, words);
  return match;
}

static gboolean
node_row_visible (GtkTreeModel *model, GtkTreeIter *iter, gpointer data)
{
  ExplainWidgets *w = data;

  return w->node_words == NULL || node_row_matches (model, iter, w->node_words);
}

/* The first row, in the order the tree shows them, that stands for node (the module highest up
 * whose output it is); FALSE when none does. */
static gboolean
node_store_find (GtkTreeModel *model, GtkTreeIter *parent, gint node, GtkTreeIter *found)
{
  GtkTreeIter iter;
  gboolean valid;

  for (valid = gtk_tree_model_iter_children (model, &iter, parent); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      gint index;

      gtk_tree_model_get (model, &iter, NODE_INDEX, &index, -1);
      if (index == node || node_store_find (model, &iter, node, found))
        {
          if (index == node)
            *found = iter;
          return TRUE;
        }
    }
  return FALSE;
}

/* The chosen node's full label under the tree, and its row selected and in view (when the
 * search shows it). */
static void
node_show_chosen (ExplainWidgets *w)
{
  const segcam_model *model = w->picker.model;
  GtkTreeSelection *selection = gtk_tree_view_get_selection (GTK_TREE_VIEW (w->node_view));
  GtkTreeIter iter, shown;
  gchar *label;

  if (model == NULL || w->node < 0)
    {
      gtk_label_set_text (GTK_LABEL (w->node_chosen), "");
      return;
    }
  label = explain_node_label (model, w->node, w->node_shapes);
  gtk_label_set_text (GTK_LABEL (w->node_chosen), label);
  gimp_help_set_help_data (w->node_chosen, label, NULL);
  g_free (label);

  if (! node_store_find (GTK_TREE_MODEL (w->node_store), NULL, w->node, &iter)
      || ! gtk_tree_model_filter_convert_child_iter_to_iter (w->node_filter, &shown, &iter))
    return;
  w->filling = TRUE;
  {
    GtkTreePath *path = gtk_tree_model_get_path (GTK_TREE_MODEL (w->node_filter), &shown);

    gtk_tree_view_expand_to_path (GTK_TREE_VIEW (w->node_view), path);
    gtk_tree_selection_select_iter (selection, &shown);
    gtk_tree_view_scroll_to_cell (GTK_TREE_VIEW (w->node_view), path, NULL, TRUE, 0.3, 0);
    gtk_tree_path_free (path);
  }
  w->filling = FALSE;
}

void
explain_widgets_fill_nodes (ExplainWidgets *w, const gchar *layer, gint max_size, gboolean keep)
{
  const segcam_model *model = w->picker.model;
  gint work_width, work_height;
  ExplainNodeGroup *tree;
  GArray *ticked;

  w->filling = TRUE;
  gtk_tree_store_clear (w->node_store);
  g_clear_pointer (&w->node_shapes, g_free);
  w->filling = FALSE;
  if (model == NULL)
    {
      w->node = -1;
      node_show_chosen (w);
      return;
    }
  /* keep: the choice so far, by name ("" = the default), if the model has it. */
  w->node = explain_find_layer (model, keep && w->node_setting != NULL ? w->node_setting : layer,
                                NULL);
  /* A sweep's list of layers (sweep 2) ticks them, the first chosen. */
  ticked = explain_parse_layers (model, layer, NULL);
  if (w->node < 1 && ticked != NULL)
    w->node = g_array_index (ticked, int, 0);
  if (w->node < 1)
    w->node = segcam_model_default_layer (model);
  g_free (w->node_setting);
  w->node_setting = explain_widgets_layer (w);

  segcam_working_size (w->width, w->height, max_size, &work_width, &work_height);
  w->node_shapes = g_new (gint, 3 * segcam_model_n_nodes (model));
  if (! segcam_model_infer_shapes (model, work_width, work_height, w->node_shapes, NULL))
    g_clear_pointer (&w->node_shapes, g_free);
  tree = explain_node_tree (model);
  node_store_add (w, tree, NULL, w->node_shapes, ticked);
  explain_node_tree_free (tree);
  if (ticked != NULL)
    g_array_unref (ticked);
  node_show_chosen (w);
}

gchar *
explain_widgets_layer (ExplainWidgets *w)
{
  const segcam_model *model = w->picker.model;

  if (model == NULL || w->node < 0)
    return NULL;
  /* The default node is stored as "", so that it follows the model. */
  return g_strdup (w->node == segcam_model_default_layer (model)
                     ? "" : segcam_model_node_name (model, w->node));
}

/* The ticked nodes, in the tree's order: a module's row stands for the same node as its output's
 * row, so each node comes once. */
static gboolean
node_collect_ticked (GtkTreeModel *store, GtkTreePath *path, GtkTreeIter *iter, gpointer data)
{
  GArray *nodes = data;
  gboolean ticked, seen = FALSE;
  gint node;

  gtk_tree_model_get (store, iter, NODE_TICKED, &ticked, NODE_INDEX, &node, -1);
  for (guint i = 0; i < nodes->len; i++)
    seen |= g_array_index (nodes, gint, i) == node;
  if (ticked && ! seen)
    g_array_append_val (nodes, node);
  return FALSE;
}

gchar *
explain_widgets_layers (ExplainWidgets *w)
{
  GArray *nodes;
  GString *names;

  if (w->picker.model == NULL || w->node < 0)
    return NULL;
  nodes = g_array_new (FALSE, FALSE, sizeof (gint));
  gtk_tree_model_foreach (GTK_TREE_MODEL (w->node_store), node_collect_ticked, nodes);
  if (nodes->len == 0)
    {
      g_array_unref (nodes);
      return explain_widgets_layer (w);
    }
  names = g_string_new (NULL);
  for (guint i = 0; i < nodes->len; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            segcam_model_node_name (w->picker.model,
                                                    g_array_index (nodes, gint, i)));
  g_array_unref (nodes);
  return g_string_free (names, FALSE);
}

typedef struct {
  gint node;
  gboolean ticked;
} NodeTick;

static gboolean
node_set_tick (GtkTreeModel *store, GtkTreePath *path, GtkTreeIter *iter, gpointer data)
{
  const NodeTick *tick = data;
  gint node;

  gtk_tree_model_get (store, iter, NODE_INDEX, &node, -1);
  if (node == tick->node)
    gtk_tree_store_set (GTK_TREE_STORE (store), iter, NODE_TICKED, tick->ticked, -1);
  return FALSE;
}

/* A tick box toggled in the (filtered) tree: the row's node joins or leaves the sweep, on its
 * module's row and its own alike. */
static void
node_tick_toggled (GtkCellRendererToggle *cell, gchar *path, ExplainWidgets *w)
{
  GtkTreeIter shown, iter;
  NodeTick tick;

  if (! gtk_tree_model_get_iter_from_string (GTK_TREE_MODEL (w->node_filter), &shown, path))
    return;
  gtk_tree_model_filter_convert_iter_to_child_iter (w->node_filter, &iter, &shown);
  gtk_tree_model_get (GTK_TREE_MODEL (w->node_store), &iter, NODE_TICKED, &tick.ticked,
                      NODE_INDEX, &tick.node, -1);
  tick.ticked = ! tick.ticked;
  gtk_tree_model_foreach (GTK_TREE_MODEL (w->node_store), node_set_tick, &tick);
  explain_widgets_user_changed (w);
}

static void
node_selected (GtkTreeSelection *selection, ExplainWidgets *w)
{
  GtkTreeModel *model;
  GtkTreeIter iter;
  gint node;

  /* A search that hides the chosen row unselects it; the choice stays. */
  if (w->filling || ! gtk_tree_selection_get_selected (selection, &model, &iter))
    return;
  gtk_tree_model_get (model, &iter, NODE_INDEX, &node, -1);
  if (node == w->node)
    return;
  w->node = node;
  g_free (w->node_setting);
  w->node_setting = explain_widgets_layer (w);
  node_show_chosen (w);
  explain_widgets_user_changed (w);
}

static void
node_search_changed (GtkEditable *entry, ExplainWidgets *w)
{
  gchar *text = g_utf8_casefold (gtk_entry_get_text (GTK_ENTRY (entry)), -1);

  g_strfreev (w->node_words);
  w->node_words = g_strsplit_set (g_strstrip (text), " ", -1);
  if (w->node_words[0] == NULL || w->node_words[0][0] == '\0')
    g_clear_pointer (&w->node_words, g_strfreev);
  g_free (text);
  w->filling = TRUE;
  gtk_tree_model_filter_refilter (w->node_filter);
  w->filling = FALSE;
  /* What matched is the point of a search: show all of it; without one, only the choice. */
  if (w->node_words != NULL)
    gtk_tree_view_expand_all (GTK_TREE_VIEW (w->node_view));
  else
    gtk_tree_view_collapse_all (GTK_TREE_VIEW (w->node_view));
  node_show_chosen (w);
}

/* The search entry, the tree (a module's name, then the op and output shape of what the row
 * stands for) and the chosen node's full label. */
static GtkWidget *
node_chooser_new (ExplainWidgets *w)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *scrolled = gtk_scrolled_window_new (NULL, NULL);
  GtkTreeViewColumn *column;
  GtkCellRenderer *cell;

  w->node_store = gtk_tree_store_new (NODE_N_COLUMNS, G_TYPE_STRING, G_TYPE_STRING,
                                      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT, G_TYPE_BOOLEAN);
  w->node_filter = GTK_TREE_MODEL_FILTER (gtk_tree_model_filter_new (
                                            GTK_TREE_MODEL (w->node_store), NULL));
  gtk_tree_model_filter_set_visible_func (w->node_filter, node_row_visible, w, NULL);
  w->node = -1;

  w->node_search = gtk_entry_new ();
  gtk_entry_set_icon_from_icon_name (GTK_ENTRY (w->node_search), GTK_ENTRY_ICON_PRIMARY,
                                     "edit-find");
  gimp_help_set_help_data (w->node_search, "Shows only the nodes whose names contain these "
                           "words, e.g. \"layer3 relu\".", NULL);
  g_signal_connect (w->node_search, "changed", G_CALLBACK (node_search_changed), w);

  w->node_view = gtk_tree_view_new_with_model (GTK_TREE_MODEL (w->node_filter));
  gtk_tree_view_set_headers_visible (GTK_TREE_VIEW (w->node_view), FALSE);
  gtk_tree_view_set_enable_search (GTK_TREE_VIEW (w->node_view), FALSE);
  gtk_tree_view_set_tooltip_column (GTK_TREE_VIEW (w->node_view), NODE_TIP);
  cell = gtk_cell_renderer_toggle_new ();
  g_signal_connect (cell, "toggled", G_CALLBACK (node_tick_toggled), w);
  w->node_ticks = gtk_tree_view_column_new_with_attributes (NULL, cell, "active", NODE_TICKED,
                                                            NULL);
  gtk_tree_view_column_set_visible (w->node_ticks, FALSE);
  gtk_tree_view_append_column (GTK_TREE_VIEW (w->node_view), w->node_ticks);
  cell = gtk_cell_renderer_text_new ();
  /* Long names give way to the shape column, not to the dialog's width. */
  g_object_set (cell, "ellipsize", PANGO_ELLIPSIZE_END, "width-chars", 18, NULL);
  column = gtk_tree_view_column_new_with_attributes (NULL, cell, "markup", NODE_MARKUP, NULL);
  gtk_tree_view_column_set_expand (column, TRUE);
  gtk_tree_view_append_column (GTK_TREE_VIEW (w->node_view), column);
  cell = gtk_cell_renderer_text_new ();
  g_object_set (cell, "xalign", 1.0f, NULL);
  column = gtk_tree_view_column_new_with_attributes (NULL, cell, "text", NODE_INFO, NULL);
  gtk_tree_view_append_column (GTK_TREE_VIEW (w->node_view), column);
  g_signal_connect (gtk_tree_view_get_selection (GTK_TREE_VIEW (w->node_view)), "changed",
                    G_CALLBACK (node_selected), w);

  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_shadow_type (GTK_SCROLLED_WINDOW (scrolled), GTK_SHADOW_IN);
  gtk_widget_set_size_request (scrolled, -1, 130);
  gtk_container_add (GTK_CONTAINER (scrolled), w->node_view);

  w->node_chosen = small_label_new ();
  gtk_label_set_line_wrap (GTK_LABEL (w->node_chosen), FALSE);
  gtk_label_set_ellipsize (GTK_LABEL (w->node_chosen), PANGO_ELLIPSIZE_MIDDLE);
  g_object_set (w->node_chosen, "max-width-chars", 40, NULL);

  gtk_box_pack_start (GTK_BOX (box), w->node_search, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), scrolled, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (box), w->node_chosen, FALSE, FALSE, 0);
  gimp_help_set_help_data (w->node_view, "The network node whose activations explain the "
                           "score: a module stands for its output; the shape is channels × "
                           "height × width for this layer. Deeper nodes give coarser maps.",
                           NULL);
  gtk_widget_show_all (box);
  return box;
}

/* ---- the live preview --------------------------------------------------------------------- */

/* The longer side of the preview, in pixels: enough to see where the map is hot, small enough
 * that a forward pass of a large network takes about a second. */
#define PREVIEW_SIZE 200
/* How long the settings must stay put before a computation starts, in ms: a quick run through
 * the classes computes only the last. */
#define PREVIEW_DELAY 150
/* How often the status line shows a computation's progress, in ms: Score-CAM and Ablation-CAM
 * run the network once per channel, seconds to minutes on a large one. */
#define PREVIEW_POLL 250

/* The preview's state, on the heap: a computation's result comes back through the main loop,
 * where it must find the state even after the dialog is gone (w == NULL). */
typedef struct PreviewState {
  ExplainWidgets *w;
  ExplainPreview *preview;
  GtkWidget *toggle, *image, *status;
  GCancellable *cancel;        /* the computation in flight, NULL when none */
  gboolean again;              /* the settings changed during it */
  guint timeout;
  guint poll;                  /* shows the progress of the computation in flight */
  float *map;                  /* the last map, NULL when there is none */
  gchar *key;                  /* what it was computed for */
  gchar *text;                 /* its status line */
} PreviewState;

/* One computation: what it needs, copied, and what it returns. */
typedef struct {
  PreviewState *state;
  const segcam_model *model;
  gchar *classes, *layer, *key;
  ExplainSettings settings;
  ExplainPreviewStats stats;
  float *map;
} PreviewJob;

static void
preview_job_free (PreviewJob *job)
{
  g_free (job->map);
  g_free (job->key);
  g_free (job->layer);
  g_free (job->classes);
  g_free (job);
}

/* The current settings; *key says what the map depends on (not colormap or opacity). */
static void
preview_settings (ExplainWidgets *w, ExplainSettings *settings, gchar **classes, gchar **layer,
                  gchar **key)
{
  *settings = (ExplainSettings) { NULL };
  w->get_settings (w->user_data, settings);
  *classes = explain_widgets_classes (w);
  *layer = explain_widgets_layer (w);
  settings->classes = *classes;
  settings->layer = *layer;
  *key = g_strdup_printf ("%p|%s|%s|%d|%d|%d|%d|%d|%d|%d", (void *) w->picker.model, *classes,
                          *layer, settings->roi_mode, settings->score, settings->method,
                          settings->weights, settings->pool, settings->pool_mode,
                          settings->max_channels);
}

static void
free_pixels (guchar *pixels, gpointer data)
{
  g_free (pixels);
}

/* Shows the map (or the layer alone) in the current colormap and opacity. */
static void
preview_show (PreviewState *state)
{
  ExplainSettings settings = { NULL };
  gint width, height;
  guint8 *rgb;
  GdkPixbuf *pixbuf;

  state->w->get_settings (state->w->user_data, &settings);
  explain_preview_size (state->preview, &width, &height);
  rgb = explain_preview_render (state->preview, state->map, settings.colormap,
                                settings.opacity, settings.map_alpha);
  pixbuf = gdk_pixbuf_new_from_data (rgb, GDK_COLORSPACE_RGB, FALSE, 8, width, height, 3 * width,
                                     free_pixels, NULL);
  gtk_image_set_from_pixbuf (GTK_IMAGE (state->image), pixbuf);
  g_object_unref (pixbuf);
}

static void
preview_status (PreviewState *state, const gchar *text, gboolean error)
{
  gchar *markup = g_markup_printf_escaped (error ? "<span foreground=\"#c01c28\">%s</span>"
                                                 : "%s", text);

  g_free (state->text);
  state->text = g_strdup (text);
  gtk_label_set_markup (GTK_LABEL (state->status), markup);
  g_free (markup);
}

static void
preview_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
  PreviewJob *job = data;
  GError *error = NULL;

  job->map = explain_preview_compute (job->state->preview, job->model, &job->settings, cancel,
                                      &job->stats, &error);
  if (job->map != NULL)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void preview_start (PreviewState *state);

static void
preview_free (PreviewState *state)
{
  if (state->timeout != 0)
    g_source_remove (state->timeout);
  if (state->poll != 0)
    g_source_remove (state->poll);
  explain_preview_free (state->preview);
  g_free (state->map);
  g_free (state->key);
  g_free (state->text);
  g_free (state);
}

/* Back in the main loop: shows the map, unless the dialog is gone or it was cancelled. */
static void
preview_done (GObject *source, GAsyncResult *result, gpointer data)
{
  PreviewJob *job = g_task_get_task_data (G_TASK (result));
  PreviewState *state = job->state;
  GError *error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);

  gboolean cancelled = g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result)));

  g_clear_object (&state->cancel);
  if (state->poll != 0)
    g_source_remove (state->poll);
  state->poll = 0;
  /* A result computed for settings or a model that have changed since is not shown. */
  if (state->w == NULL || cancelled)
    ;
  else if (! ok)
    {
      g_clear_pointer (&state->map, g_free);
      preview_show (state);
      preview_status (state, error->message, TRUE);
    }
  else
    {
      const segcam_model *model = job->model;
      gchar *text;

      g_free (state->map);
      state->map = g_steal_pointer (&job->map);
      g_free (state->key);
      state->key = g_strdup (job->key);
      preview_show (state);
      /* The times say what a change costs: the forward pass only for a new node or model. */
      if (job->stats.forward_seconds >= 0)
        text = g_strdup_printf ("%s: forward %.2f s, backward %.2f s",
                                segcam_model_class_name (model, job->stats.class_index),
                                job->stats.forward_seconds, job->stats.backward_seconds);
      else
        text = g_strdup_printf ("%s: backward %.2f s (forward kept)",
                                segcam_model_class_name (model, job->stats.class_index),
                                job->stats.backward_seconds);
      preview_status (state, text, FALSE);
      g_free (text);
    }
  g_clear_error (&error);
  if (state->w != NULL && state->again)
    preview_start (state);
}

static gboolean
preview_poll (gpointer data)
{
  PreviewState *state = data;
  gchar *text;

  if (state->w == NULL)               /* the dialog is closing: its labels may be gone */
    return G_SOURCE_CONTINUE;
  text = g_strdup_printf ("Computing… %d %%", explain_preview_percent (state->preview));
  preview_status (state, text, FALSE);
  g_free (text);
  return G_SOURCE_CONTINUE;
}

static void
preview_start (PreviewState *state)
{
  ExplainWidgets *w = state->w;
  PreviewJob *job;
  GTask *task;

  state->again = FALSE;
  if (w->picker.model == NULL)
    return;
  job = g_new0 (PreviewJob, 1);
  job->state = state;
  job->model = w->picker.model;
  preview_settings (w, &job->settings, &job->classes, &job->layer, &job->key);
  state->cancel = g_cancellable_new ();
  preview_status (state, "Computing…", FALSE);
  if (state->poll == 0)
    state->poll = g_timeout_add (PREVIEW_POLL, preview_poll, state);
  task = g_task_new (NULL, state->cancel, preview_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) preview_job_free);
  g_task_run_in_thread (task, preview_thread);
  g_object_unref (task);
}

static gboolean
preview_timeout (gpointer data)
{
  PreviewState *state = data;

  state->timeout = 0;
  if (state->cancel != NULL)
    state->again = TRUE;
  else
    preview_start (state);
  return G_SOURCE_REMOVE;
}

/* Cancels the computation in flight and waits until it no longer uses the model. */
static void
preview_stop (gpointer data)
{
  PreviewState *state = ((ExplainWidgets *) data)->preview;

  if (state == NULL)
    return;
  if (state->cancel != NULL)
    g_cancellable_cancel (state->cancel);
  state->again = FALSE;
  if (state->timeout != 0)
    g_source_remove (state->timeout);
  state->timeout = 0;
  explain_preview_forget (state->preview);
  g_clear_pointer (&state->map, g_free);
  g_clear_pointer (&state->key, g_free);
}

void
explain_widgets_preview_update (ExplainWidgets *w)
{
  PreviewState *state = w->preview;
  ExplainSettings settings;
  gchar *classes, *layer, *key;
  gboolean on;

  if (state == NULL || w->filling)
    return;
  /* The tick boxes are there when a sweep over chosen layers is. */
  settings = (ExplainSettings) { NULL };
  w->get_settings (w->user_data, &settings);
  gtk_tree_view_column_set_visible (w->node_ticks, settings.sweep == EXPLAIN_SWEEP_LAYERS);
  on = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (state->toggle)) && w->picker.model != NULL;
  gtk_widget_set_sensitive (state->image, on);
  if (! on)
    {
      if (state->cancel != NULL)
        g_cancellable_cancel (state->cancel);
      state->again = FALSE;
      preview_status (state, w->picker.model != NULL ? "" : "No model", FALSE);
      return;
    }
  preview_settings (w, &settings, &classes, &layer, &key);
  if (g_strcmp0 (key, state->key) == 0)
    preview_show (state);               /* only the colours changed */
  else
    {
      if (state->cancel != NULL)
        g_cancellable_cancel (state->cancel);
      if (state->timeout != 0)
        g_source_remove (state->timeout);
      state->timeout = g_timeout_add (PREVIEW_DELAY, preview_timeout, state);
    }
  g_free (key);
  g_free (layer);
  g_free (classes);
}

static void
preview_toggled (GtkToggleButton *toggle, ExplainWidgets *w)
{
  explain_widgets_preview_update (w);
}

static GtkWidget *
preview_box_new (ExplainWidgets *w)
{
  PreviewState *state = g_new0 (PreviewState, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);

  state->w = w;
  state->preview = explain_preview_new (w->source, PREVIEW_SIZE);
  state->toggle = gtk_check_button_new_with_mnemonic ("Pre_view");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (state->toggle), TRUE);
  gimp_help_set_help_data (state->toggle, "The first chosen class's heat map over the layer, "
                           "scaled down, as the overlay would show it. It follows the settings; "
                           "a new class or ROI costs only a backward pass.", NULL);
  g_signal_connect (state->toggle, "toggled", G_CALLBACK (preview_toggled), w);
  state->image = gtk_image_new ();
  state->status = small_label_new ();
  g_object_set (state->status, "max-width-chars", 30, NULL);
  w->preview = state;
  preview_status (state, "", FALSE);
  preview_show (state);

  gtk_box_pack_start (GTK_BOX (box), state->toggle, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), state->image, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), state->status, FALSE, FALSE, 0);
  gtk_widget_show_all (box);
  return box;
}

segcam_model *
explain_widgets_steal_model (ExplainWidgets *w)
{
  preview_stop (w);
  return model_picker_steal (&w->picker);
}

static GtkWidget *
classes_view_new (ExplainWidgets *w)
{
  GtkWidget *scrolled = gtk_scrolled_window_new (NULL, NULL);
  GtkWidget *view = gtk_tree_view_new_with_model (GTK_TREE_MODEL (w->classes));
  GtkCellRenderer *toggle = gtk_cell_renderer_toggle_new ();
  GtkTreeViewColumn *column = gtk_tree_view_column_new ();
  GtkCellRenderer *swatch = gtk_cell_renderer_pixbuf_new ();
  GtkCellRenderer *name = gtk_cell_renderer_text_new ();

  g_signal_connect (toggle, "toggled", G_CALLBACK (class_toggled), w);
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
  gtk_widget_set_size_request (scrolled, -1, 110);
  gtk_container_add (GTK_CONTAINER (scrolled), view);
  gtk_widget_show_all (scrolled);
  return scrolled;
}

void
explain_widgets_init (ExplainWidgets *w)
{
  w->classes = gtk_list_store_new (CLASS_N_COLUMNS, G_TYPE_BOOLEAN, G_TYPE_INT, G_TYPE_STRING,
                                   GDK_TYPE_PIXBUF);
  w->classes_view = classes_view_new (w);
  w->node_chooser = node_chooser_new (w);
  w->size_note = size_note_new ();
  w->preview_box = preview_box_new (w);
  w->picker.releasing = preview_stop;
  w->picker.releasing_data = w;
}

void
explain_widgets_clear (ExplainWidgets *w)
{
  PreviewState *state = w->preview;

  /* Waits for the computation in flight to come back (cancelled, it stops at its next step),
   * so that nothing outlives the dialog. */
  preview_stop (w);
  state->w = NULL;
  while (state->cancel != NULL)
    g_main_context_iteration (NULL, TRUE);
  preview_free (state);
  w->preview = NULL;
  model_picker_clear (&w->picker);
  g_clear_object (&w->node_filter);
  g_clear_object (&w->node_store);
  g_clear_pointer (&w->node_words, g_strfreev);
  g_clear_pointer (&w->node_shapes, g_free);
  g_free (w->node_setting);
  g_clear_object (&w->classes);
}

/* ---- working size ------------------------------------------------------------------------- */

GtkWidget *
size_note_new (void)
{
  GtkWidget *note = small_label_new ();

  gtk_widget_show (note);
  return note;
}

void
size_note_update (GtkWidget *note, gint width, gint height, gint max_size)
{
  gint work_width, work_height;
  gchar *text;

  if (segcam_working_size (width, height, max_size, &work_width, &work_height))
    text = g_strdup_printf ("The network sees the layer resampled to %d × %d pixels (it has "
                            "%d × %d); the results are resampled back.", work_width, work_height,
                            width, height);
  else
    text = g_strdup_printf ("The network sees the layer at its own size, %d × %d pixels.",
                            width, height);
  gtk_label_set_text (GTK_LABEL (note), text);
  g_free (text);
}

/* ---- the test hook ------------------------------------------------------------------------ */

typedef struct {
  GtkWidget *dialog;
  DialogDump dump;
  gpointer state;
} TestHook;

static gboolean
test_hook_answer (gpointer data)
{
  TestHook *hook = data;
  const gchar *answer = g_getenv (TEST_ENV);

  if (hook->dump != NULL)
    hook->dump (hook->state);
  g_printerr ("segcam-dialog: ok-sensitive = %d\n",
              gtk_widget_is_sensitive (gtk_dialog_get_widget_for_response (
                GTK_DIALOG (hook->dialog), GTK_RESPONSE_OK)));
  gtk_dialog_response (GTK_DIALOG (hook->dialog),
                       strcmp (answer, "ok") == 0 ? GTK_RESPONSE_OK : GTK_RESPONSE_CANCEL);
  return G_SOURCE_REMOVE;
}

void
dialog_test_hook (GtkWidget *dialog, DialogDump dump, gpointer state)
{
  TestHook *hook;

  if (g_getenv (TEST_ENV) == NULL)
    return;
  hook = g_new (TestHook, 1);
  *hook = (TestHook) { dialog, dump, state };
  /* SEGCAM_TEST_DIALOG_WAIT=seconds leaves the dialog up that long, for a screenshot. */
  if (g_getenv (TEST_WAIT_ENV) != NULL)
    g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, atoi (g_getenv (TEST_WAIT_ENV)),
                                test_hook_answer, hook, g_free);
  else
    g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, test_hook_answer, hook, g_free);
}

static void
dump_model (ModelPicker *picker)
{
  gchar *model = combo_text (GTK_COMBO_BOX (picker->combo), MODEL_LABEL);

  g_printerr ("segcam-dialog: model = %s\n", model != NULL ? model : "(none)");
  g_printerr ("segcam-dialog: status = %s\n", gtk_label_get_text (GTK_LABEL (picker->status)));
  g_free (model);
}

/* The node tree's rows, top level first, as "name [op shape] > child, child" (one level). */
static void
dump_node_rows (GtkTreeModel *model, GtkTreeIter *parent, GString *rows)
{
  GtkTreeIter iter;
  gboolean valid;

  for (valid = gtk_tree_model_iter_children (model, &iter, parent); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      gchar *markup, *info, *text;

      gtk_tree_model_get (model, &iter, NODE_MARKUP, &markup, NODE_INFO, &info, -1);
      pango_parse_markup (markup, -1, 0, NULL, &text, NULL, NULL);
      g_string_append_printf (rows, "%s%s [%s]", rows->len > 0 ? " | " : "", text, info);
      g_free (text);
      g_free (info);
      g_free (markup);
    }
}

static gint
count_nodes (GtkTreeModel *model, GtkTreeIter *parent)
{
  GtkTreeIter iter;
  gint n = 0;
  gboolean valid;

  for (valid = gtk_tree_model_iter_children (model, &iter, parent); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    n += gtk_tree_model_iter_has_child (model, &iter) ? count_nodes (model, &iter) : 1;
  return n;
}

void
explain_widgets_dump (ExplainWidgets *w)
{
  GtkTreeModel *classes = GTK_TREE_MODEL (w->classes);
  GString *rows = g_string_new (NULL), *nodes = g_string_new (NULL);
  ExplainSettings settings = { NULL };
  GtkTreeIter iter;
  gboolean valid;
  gchar *method, *sweep;

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
  dump_node_rows (GTK_TREE_MODEL (w->node_store), NULL, nodes);
  dump_model (&w->picker);
  g_printerr ("segcam-dialog: classes = %s\n", rows->str);
  g_printerr ("segcam-dialog: layer = %s\n",
              w->node >= 0 ? gtk_label_get_text (GTK_LABEL (w->node_chosen)) : "(none)");
  g_printerr ("segcam-dialog: layers = %d\n", count_nodes (GTK_TREE_MODEL (w->node_store), NULL));
  g_printerr ("segcam-dialog: layer rows = %s\n", nodes->str);
  sweep = explain_widgets_layers (w);
  g_printerr ("segcam-dialog: sweep layers = %s (tick boxes %s)\n", sweep != NULL ? sweep : "",
              gtk_tree_view_column_get_visible (w->node_ticks) ? "shown" : "hidden");
  g_free (sweep);
  g_printerr ("segcam-dialog: working size = %s\n", gtk_label_get_text (GTK_LABEL (w->size_note)));
  g_printerr ("segcam-dialog: preview = %s\n", w->preview->text);
  w->get_settings (w->user_data, &settings);
  method = explain_method_label (&settings);
  g_printerr ("segcam-dialog: method = %s\n", method);
  g_free (method);
  g_string_free (nodes, TRUE);
  g_string_free (rows, TRUE);
}

void
segment_widgets_dump (ModelPicker *picker, GtkWidget *size_note)
{
  dump_model (picker);
  g_printerr ("segcam-dialog: working size = %s\n", gtk_label_get_text (GTK_LABEL (size_note)));
}
