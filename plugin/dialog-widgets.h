/* dialog-widgets.h — the parts of the Explain and Segment dialogs that both adapters share.
 *
 * The GIMP 2.10 dialogs are GTK 2 (gimp2-dialog.c), the GIMP 3.0 ones GTK 3 with a
 * GimpProcedureDialog (gimp3-dialog.c); what lies between — the model picker, the class
 * checklist, the node combo with its output shapes, the working-size note and the
 * SEGCAM_TEST_DIALOG hook of the headless tests — uses only what GTK 2.24, GTK 3 and both
 * libgimpwidgets have in common, and is compiled against whichever the build chose.
 */
#ifndef SEGCAM_DIALOG_WIDGETS_H
#define SEGCAM_DIALOG_WIDGETS_H

#include <gtk/gtk.h>

#include "explain-job.h"

G_BEGIN_DECLS

/* The choices of the integer settings as (label, value) pairs for gimp_int_combo_box_new (2.10)
 * or gimp_int_store_new (3.0), and the tooltips both dialogs show. */
#define DIALOG_ROI_MODES                                                                       \
  "Selection (whole layer without one)", EXPLAIN_ROI_SELECTION,                               \
  "Selected pixels predicted as the class", EXPLAIN_ROI_SELECTION_CLASS,                      \
  "All pixels predicted as the class", EXPLAIN_ROI_CLASS,                                     \
  "Largest region of the class in the selection", EXPLAIN_ROI_COMPONENT, NULL
#define DIALOG_SCORES "Logits", SEGCAM_SCORE_LOGITS, "Probabilities", SEGCAM_SCORE_PROBABILITIES, \
  NULL
#define DIALOG_COLORMAPS                                                                       \
  "Jet", SEGCAM_COLORMAP_JET, "Turbo", SEGCAM_COLORMAP_TURBO, "Viridis",                      \
  SEGCAM_COLORMAP_VIRIDIS, "Inferno", SEGCAM_COLORMAP_INFERNO, "Grayscale",                   \
  SEGCAM_COLORMAP_GRAYSCALE, NULL
#define DIALOG_WEIGHTS "Mean", SEGCAM_WEIGHTS_MEAN, "Abs", SEGCAM_WEIGHTS_ABS, "ReLU",         \
  SEGCAM_WEIGHTS_RELU, NULL
#define DIALOG_POOL_MODES "Max", SEGCAM_POOL_MAX, "Mean", SEGCAM_POOL_MEAN, NULL
#define DIALOG_SWEEP "The chosen layer", 0, "Every block output (a sweep)", 1,                 \
  "The layers ticked in the tree (a sweep)", 2, NULL
#define DIALOG_TIP_SWEEP                                                                       \
  "A sweep makes each class's map at every block output (the tree's top-level rows), or at "   \
  "the layers ticked in the tree, one layer each in the one group: a forward pass per layer."
#define DIALOG_SELECT_TARGETS "Replace the selection", 0, "New channel", 1, NULL
#define DIALOG_TIP_METHOD                                                                      \
  "How the map is made from the layer's activations and gradients: seg-grad-cam (the "        \
  "paper's), hires (element-wise, sharper), xres (gradients pooled in blocks), gradcam++, "    \
  "xgrad, layer (Layer-CAM), eigen (the activations' first principal component: the same "    \
  "for every class and ROI). Names show the method."
#define DIALOG_TIP_WEIGHTS                                                                     \
  "Seg-Grad-CAM's channel weights: the mean gradient (the paper's), the mean of its "          \
  "magnitude (evidence pulling both ways does not cancel: try it when the map is zero), or of " \
  "its positive part."
#define DIALOG_TIP_POOL_MODE "xres: a block's gradient is its maximum (the paper's) or its mean."
#define DIALOG_TIP_ROI_MODE                                                                    \
  "Whose score is explained: the selection's pixels, or those of them the network predicts "  \
  "as the class. The heat map always covers the whole layer."
#define DIALOG_TIP_SCORE                                                                       \
  "Logits are what the Seg-Grad-CAM paper explains; probabilities saturate where the "        \
  "network is sure."
#define DIALOG_TIP_COLORMAP "Colours of the heat map, from 0 to the map's maximum."
#define DIALOG_TIP_OPACITY "Opacity of the heat-map layers, and of the heat map in the overlays."
#define DIALOG_TIP_SEGMENT_OPACITY "Opacity of the segmentation layer."
/* The outputs bits 1, 2, 4 as check buttons (mnemonics clear of Help, Reset, Cancel, OK and
 * GIMP 3's Load and Save settings buttons). */
#define DIALOG_OUTPUT_LABELS                                                                   \
  { "Hea_t map per class", "O_verlay per class", "Se_gmentation" }

/* Called after each (re)load of the model, successful or not. */
typedef void (*ModelChanged) (gpointer data);

/* The model picker: bundled models first, then a chosen file, and the model's description (or
 * why it did not load) below. */
typedef struct {
  GtkWidget *combo;
  GtkListStore *store;
  GtkWidget *status;
  gchar *dir;
  gchar *setting;              /* "" = the bundled default */
  segcam_model *model;         /* NULL when the chosen file did not load */
  gint active;                 /* the row to return to when the file chooser is cancelled */
  ModelChanged releasing;      /* optional: called with releasing_data before the loaded model
                                  is freed */
  gpointer releasing_data;
  ModelChanged changed;
  gpointer data;
} ModelPicker;

/* Builds the picker's frame with setting selected, and loads it. */
GtkWidget *model_picker_new (ModelPicker *picker, const gchar *dir, const gchar *setting,
                             ModelChanged changed, gpointer data);
/* Selects setting (adding its row when needed) and loads it, unless it is already chosen. */
void model_picker_select (ModelPicker *picker, const gchar *setting);
/* Hands the loaded model to the caller (the Explain dialog's through explain_widgets_steal_model,
 * which stops the preview first). */
segcam_model *model_picker_steal (ModelPicker *picker);
void model_picker_clear (ModelPicker *picker);

/* What the Explain dialog shows about the loaded model: the class checklist ("Automatic" and one
 * row per class with its colour) and the node chooser (a search entry over a tree of modules and
 * nodes, each with its output shape at the working size, and the chosen node's full name). */
typedef struct {
  ModelPicker picker;
  GtkListStore *classes;
  GtkWidget *classes_view;     /* a scrolled window */
  GtkWidget *node_chooser;     /* a box: node_search, the tree in a scrolled window, node_chosen */
  GtkWidget *node_search;
  GtkWidget *node_view;
  GtkWidget *node_chosen;
  GtkTreeViewColumn *node_ticks; /* the sweep's tick boxes, shown for EXPLAIN_SWEEP_LAYERS */
  GtkTreeStore *node_store;
  GtkTreeModelFilter *node_filter;
  gchar **node_words;          /* the search, case-folded; NULL: none */
  gint node;                   /* the chosen node, -1 without a model */
  gchar *node_setting;         /* the choice as a layer setting ("" = the default), kept across
                                  a new model or working size */
  gint *node_shapes;           /* segcam_model_infer_shapes at the working size, or NULL */
  GtkWidget *size_note;        /* see size_note_new */
  gint width, height;          /* the layer */
  const ExplainSource *source; /* the layer's pixels and the selection, for the preview */
  gboolean filling;
  void (*user_changed) (gpointer data);   /* after the user changes classes or node; optional */
  /* The dialog's own settings the preview follows: ROI mode, score, colormap, opacity and
   * map_alpha. */
  void (*get_settings) (gpointer data, ExplainSettings *settings);
  gpointer user_data;
  GtkWidget *preview_box;      /* the "Preview" check button, the image and its status line */
  struct PreviewState *preview;
} ExplainWidgets;

/* Creates the stores, the checklist, the node chooser and the preview (w->width, w->height,
 * w->source and w->get_settings set first). */
void explain_widgets_init (ExplainWidgets *w);
/* The preview follows the settings: recomputed off the main loop (the forward pass kept while
 * the model and node stay), or only recoloured when just the colormap or opacity changed. The
 * shared widgets call it for classes, node and model; the dialogs for their own settings. */
void explain_widgets_preview_update (ExplainWidgets *w);
/* Stops the preview and hands the loaded model to the caller. */
segcam_model *explain_widgets_steal_model (ExplainWidgets *w);
/* The class rows for the loaded model, checked as in classes (automatic when those are empty
 * or do not fit the model). */
void explain_widgets_fill_classes (ExplainWidgets *w, const gchar *classes);
/* The node rows with their output shapes at the working size, selecting the node layer names
 * ("" = the default) — or, when keep is TRUE, the node chosen so far. */
void explain_widgets_fill_nodes (ExplainWidgets *w, const gchar *layer, gint max_size,
                                 gboolean keep);
/* The checked classes as the PDB's classes string ("" = automatic). */
gchar *explain_widgets_classes (ExplainWidgets *w);
/* The chosen node as the PDB's layer string ("" = the default), NULL without a model. */
gchar *explain_widgets_layer (ExplainWidgets *w);
/* The nodes ticked for a sweep over chosen layers, in the tree's order, as the PDB's layer
 * string for sweep 2 ("enc.relu1, mid.relu1"; the chosen node when none is ticked); NULL
 * without a model. The ticks survive a search that hides them. */
gchar *explain_widgets_layers (ExplainWidgets *w);
void explain_widgets_clear (ExplainWidgets *w);

/* The small label under the maximum working size that says what it means for this layer. */
GtkWidget *size_note_new (void);
void size_note_update (GtkWidget *note, gint width, gint height, gint max_size);

/* SEGCAM_TEST_DIALOG=ok|cancel: once the dialog runs, dump prints what it shows to stderr
 * ("segcam-dialog: ..." lines), then the dialog answers itself — at once, or after
 * SEGCAM_TEST_DIALOG_WAIT seconds (for a screenshot). Does nothing without it. */
typedef void (*DialogDump) (gpointer state);
void dialog_test_hook (GtkWidget *dialog, DialogDump dump, gpointer state);
void explain_widgets_dump (ExplainWidgets *w);
void segment_widgets_dump (ModelPicker *picker, GtkWidget *size_note);

G_END_DECLS

#endif /* SEGCAM_DIALOG_WIDGETS_H */
