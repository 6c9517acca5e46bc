/* gimp-common.h — what the libgimp 2.10 and 3.0 adapters share.
 *
 * The procedures' names and Procedure Browser texts (the PDB interface is the same in both), the
 * check of the source layer, and a whole run from the drawable to the new layers: the model, the
 * job, the progress bar, and the insertion of the layers in one undo group. This is compiled
 * against whichever libgimp the build chose; the few image calls whose names or types differ
 * between the two APIs reach it through a GimpCommonSeam that each adapter fills in, so that
 * the sequence — and the promise that the image changes only after everything has succeeded —
 * is written once.
 */
#ifndef SEGCAM_GIMP_COMMON_H
#define SEGCAM_GIMP_COMMON_H

#include <libgimp/gimp.h>

#include "explain-job.h"

G_BEGIN_DECLS

#define SEGCAM_EXPLAIN_PROC  "plug-in-segcam-explain"
#define SEGCAM_SEGMENT_PROC  "plug-in-segcam-segment"
/* Explain with the CAM method as arguments, for scripts (plug-in-segcam-explain keeps its
 * signature: Seg-Grad-CAM with mean weights). */
#define SEGCAM_EXPLAIN_METHOD_PROC "plug-in-segcam-explain-method"
#define SEGCAM_HEAT_MAP_SELECT_PROC "plug-in-segcam-heat-map-select"
/* The persistent process (plugin/README.md, "The persistent process"): a procedure of the same
 * executable that GIMP keeps running once started, and the temporary procedure it installs,
 * which runs Explain with every setting, the dialog's too, as arguments. GIMP starts the former
 * when it starts; Explain runs in its own process while the latter does not exist, and
 * SEGCAM_PERSISTENT_ENV=0 in GIMP's environment turns it off. */
#define SEGCAM_PERSISTENT_PROC "plug-in-segcam-persistent"
#define SEGCAM_PERSISTENT_RUN_PROC "plug-in-segcam-persistent-explain"
#define SEGCAM_PERSISTENT_ENV "SEGCAM_PERSISTENT"
#define SEGCAM_PERSISTENT_BLURB "The Seg-Grad-CAM plug-in's persistent process"
#define SEGCAM_PERSISTENT_HELP                                                                  \
  "Started by GIMP when it starts, not to be called: it stays running until "                  \
  "GIMP quits and runs Explain through " SEGCAM_PERSISTENT_RUN_PROC ", keeping the model and "  \
  "the network's forward pass between runs, so that another class or selection on the same "   \
  "layer costs only the backward pass. " SEGCAM_PERSISTENT_ENV "=0 in GIMP's environment "     \
  "turns it off."
#define SEGCAM_PERSISTENT_RUN_HELP                                                              \
  "plug-in-segcam-explain-method's arguments, then the dialog's options (max-size, map-alpha, " \
  "legend), run in the persistent process; plug-in-segcam-explain calls it."
/* The last argument of the persistent process's Explain in GIMP 3, which runs it
 * non-interactively: GIMP 3 would give an interactive run of it its own last values. */
#define SEGCAM_ARG_INTERACTIVE                                                                 \
  "Whether the caller ran from the menu, so that the run's warnings are shown to the user"
/* How long the persistent process keeps the model and the forward pass without a run. */
#define SEGCAM_PERSISTENT_IDLE_MINUTES 10
/* How often, between runs, it looks whether the kept forward pass's image is still open. */
#define SEGCAM_PERSISTENT_POLL_MS 5000
#define SEGCAM_BINARY        "seg-grad-cam"
#define SEGCAM_MENU_PATH     "<Image>/Filters/Seg-Grad-CAM"
#define SEGCAM_IMAGE_TYPES   "RGB*, GRAY*"
#define SEGCAM_AUTHOR        "The segcam authors"
#define SEGCAM_COPYRIGHT     "GPL-3.0-or-later"
#define SEGCAM_DATE          "2025"
/* The help domain of both procedures: the folder help/ beside the plug-in, whose
 * en/gimp-help.xml maps the procedures' names (their help IDs) to pages. */
#define SEGCAM_HELP_DOMAIN   "plug-in-segcam"

#define SEGCAM_EXPLAIN_BLURB "Explain a segmentation network's prediction with Seg-Grad-CAM"
#define SEGCAM_EXPLAIN_HELP                                                                     \
  "Segments the layer with a segmentation network and explains the prediction of one or "     \
  "more classes over a region of interest with Seg-Grad-CAM (Vinogradova et al., AAAI 2020): " \
  "the heat map shows which parts of the layer the network's score for the class in the ROI "  \
  "depends on, as seen at an inner layer of the network. The ROI is the selection "            \
  "(feathered selections give fractional weights; the whole layer when nothing is "            \
  "selected), optionally reduced to the pixels predicted as the class. The heat map covers "   \
  "the whole layer, because the context outside the ROI is what the method reveals.\n\n"      \
  "A layer group is added above the layer, in one undo step, holding per class a heat-map "    \
  "layer named like \"digit 2 @ mid.relu1 (selection) — Seg-Grad-CAM\" and/or an overlay, "    \
  "and optionally the segmentation; only its top layer is visible. " SEGCAM_RESULT_HELP       \
  " " SEGCAM_WORKING_SIZE_HELP ("maps")                                                       \
  " Models are .safetensors files or ONNX (.onnx) networks, which are imported on loading (see " \
  "the segcam README); the bundled ones live in the models folder beside the plug-in. The "    \
  "dialog also chooses the CAM method (and Repeat uses it); a script's call uses Seg-Grad-CAM " \
  "with mean weights, as it always did: plug-in-segcam-explain-method takes the method. "     \
  SEGCAM_WARNINGS_HELP
#define SEGCAM_EXPLAIN_METHOD_BLURB                                                            \
  "Explain a segmentation network's prediction with a chosen CAM method"
#define SEGCAM_EXPLAIN_METHOD_HELP                                                             \
  "Does what plug-in-segcam-explain does, with the class-activation method, its options and "  \
  "the layer sweep as six more arguments: method (seg-grad-cam, the default; hires, "         \
  "element-wise gradient times activation; xres, Seg-XRes-CAM with the gradient pooled in "    \
  "blocks; gradcam++; xgrad; layer, Layer-CAM; eigen, the first principal component of the "   \
  "activations, which does not depend on the class or the ROI; score, Score-CAM, and "         \
  "ablation, Ablation-CAM, which rerun the network once per channel of the layer — and "       \
  "whatever methods later versions of the engine add), weights (Seg-Grad-CAM's channel "      \
  "weights), pool and pool-mode (xres), sweep (maps at every block output, or at "  \
  "the layers the layer argument lists, instead of at one layer) and max-channels (score and ablation: how many channels, hence forward passes, "     \
  "they may cost). The segcam documentation (docs/methods.md) gives each formula and its "    \
  "source. Layer and group names show the method, e.g. \"digit 2 @ mid.relu1 (selection) — "  \
  "xres 2 max\". The Explain dialog offers the same choices. " SEGCAM_WARNINGS_HELP
#define SEGCAM_WARNINGS_HELP                                                                   \
  "What may make a result misleading — a colour image into a grayscale model or the reverse, " \
  "a model file without class names or input mean and std, a map that is zero everywhere — "  \
  "is shown in a message when the filter runs from the menu, and is always kept in the "      \
  "group's parasite \"segcam-warnings\" (one line each); a zero map's layer name ends in "      \
  "\"— all zero\"."
#define SEGCAM_HEAT_MAP_SELECT_BLURB "Turn a Seg-Grad-CAM heat map into a selection or channel"
#define SEGCAM_HEAT_MAP_SELECT_HELP                                                            \
  "Reads a heat-map layer that Explain created back as its map (each colour matched to the "  \
  "nearest of its colormap's 256 levels; the layer's parasite \"segcam-heat-map\" names the "  \
  "colormap) and selects the pixels whose value is at least the threshold, a fraction of the " \
  "map's maximum: 0.5 selects where the map is at least half its maximum. The selection "      \
  "replaces the current one, or a new channel named after the layer holds it; one undo step. " \
  "Fails without changing the image when the layer is not a heat map (an overlay or a legend " \
  "cannot be read back) or when no pixel reaches the threshold."
#define SEGCAM_SEGMENT_BLURB "Segment a layer with a segmentation network"
#define SEGCAM_SEGMENT_HELP                                                                     \
  "Runs a segmentation network on the layer and adds its prediction as a new layer above it, " \
  "in the model's class colours, in one undo step. " SEGCAM_RESULT_HELP " "                    \
  SEGCAM_WORKING_SIZE_HELP ("labels")
#define SEGCAM_RESULT_HELP                                                                      \
  "Each run's result goes above the layer and above the results of earlier runs on it, and "   \
  "the layer stays the active one, so Repeat works on it again. A grayscale image is "         \
  "converted to RGB in the same undo step, so that the results are in colour; its pixels keep " \
  "their values, and the layer itself is never modified."
#define SEGCAM_WORKING_SIZE_HELP(what)                                                          \
  "Layers larger than the maximum working size (a dialog setting, "                           \
  G_STRINGIFY (EXPLAIN_DEFAULT_MAX_SIZE) " pixels in batch mode) are resampled for the "       \
  "network and the " what " resampled back."

/* The arguments after run-mode, image and drawable(s), in this order: the same in both APIs, so
 * that a script calls either alike. */
#define SEGCAM_ARG_MODEL                                                                        \
  "Path of a .safetensors or .onnx model; \"\" = the bundled default model"
#define SEGCAM_ARG_CLASSES                                                                      \
  "Comma-separated class names or indices, e.g. \"digit 2, 3\"; \"\" = the class predicted "   \
  "most in the ROI"
#define SEGCAM_ARG_LAYER    "Node of the network to explain at; \"\" = the model's default layer"
#define SEGCAM_ARG_ROI_MODE                                                                     \
  "Region whose score is explained: { SELECTION (0) (the whole layer when nothing is "         \
  "selected), SELECTION-AND-CLASS (1) (selected pixels predicted as the class), CLASS (2) "    \
  "(all pixels predicted as the class), LARGEST-COMPONENT (3) (the largest connected region "  \
  "of those inside the selection) }"
#define SEGCAM_ARG_SCORE    "Score explained: { LOGITS (0), PROBABILITIES (1) }"
#define SEGCAM_ARG_COLORMAP                                                                     \
  "Heat-map colours: { JET (0), TURBO (1), VIRIDIS (2), INFERNO (3), GRAYSCALE (4) }"
#define SEGCAM_ARG_OPACITY                                                                      \
  "Opacity of the heat-map layers, and of the heat map in the overlay (0 <= opacity <= 100)"
#define SEGCAM_ARG_OUTPUTS                                                                      \
  "Layers to create, a bit set: 1 a heat-map layer per class, 2 an overlay per class (heat "   \
  "map composited over the source), 4 the segmentation (1 <= outputs <= 7)"
#define SEGCAM_ARG_SEGMENT_OPACITY "Opacity of the segmentation layer (0 <= opacity <= 100)"
#define SEGCAM_ARG_MAX_SIZE                                                                     \
  "Larger layers are scaled down, keeping their aspect ratio, so that their longer side has "  \
  "this many pixels; the network's memory grows with this size."
/* The Explain dialog's options beyond the PDB arguments (batch runs leave them off), as the
 * dialogs label them (GIMP 3's are aux arguments of the procedure). */
#define SEGCAM_MAP_ALPHA_LABEL "Transparent cold value_s"
#define SEGCAM_MAP_ALPHA_HELP                                                                   \
  "The heat maps' opacity follows the map: where it is cold the layer below shows through."
#define SEGCAM_LEGEND_LABEL "Lege_nd"
#define SEGCAM_LEGEND_HELP                                                                      \
  "A layer on top with the colormap's bar, named with each class's raw maximum (what the top " \
  "colour stands for) and the node."
/* plug-in-segcam-explain-method's arguments after outputs. */
#define SEGCAM_ARG_METHOD                                                                      \
  "CAM method, by the engine's name: seg-grad-cam, hires, xres, gradcam++, xgrad, layer, "    \
  "eigen, score, ablation, ...; \"\" = seg-grad-cam"
#define SEGCAM_ARG_WEIGHTS                                                                     \
  "Seg-Grad-CAM's channel weights (other methods need MEAN): { MEAN (0) (the paper's mean "   \
  "gradient), ABS (1) (mean of the gradient's magnitude: evidence that pulls both ways does " \
  "not cancel), RELU (2) (mean of the positive gradient) }"
#define SEGCAM_ARG_POOL                                                                        \
  "xres: side of the blocks the gradient is pooled in, in pixels of the target layer "        \
  "(1 = hires; the layer's size with mean pooling = Seg-Grad-CAM); ignored by other methods"
#define SEGCAM_ARG_POOL_MODE                                                                   \
  "xres: how a block's gradient is pooled: { MAX (0) (the paper's), MEAN (1) }"
#define SEGCAM_ARG_SWEEP                                                                       \
  "Where the maps are made: { LAYER (0) (at the layer argument's node), BLOCKS (1) (a layer "  \
  "sweep: at every block output — the top-level rows of the dialog's node tree — one heat "    \
  "map per block and class in the one group, a forward pass each), LAYERS (2) (a sweep over " \
  "the nodes the layer argument lists, separated by commas, e.g. \"enc.relu1, mid.relu1\": "   \
  "one heat map per node and class, named with the node) }"
#define SEGCAM_ARG_MAX_CHANNELS                                                                \
  "score and ablation: at most this many channels of the layer, those of highest mean "        \
  "activation (the others weigh 0); each costs one forward pass (score) or one rerun from "    \
  "the layer (ablation) per class, so a layer of 512 channels costs 512 passes; 0 = every "     \
  "channel; ignored by other methods"
#define SEGCAM_ARG_THRESHOLD                                                                   \
  "Fraction of the map's maximum a pixel must reach to be selected (0 <= threshold <= 1)"
#define SEGCAM_ARG_TO_CHANNEL                                                                  \
  "Where the result goes: { SELECTION (0) (replaces the selection), CHANNEL (1) (a new "     \
  "channel) }"
#define SEGCAM_RETURN_CHANNEL "The selection, or the new channel"
/* The dialog's labels and tips of the method options. */
/* Mnemonics clear of the other settings' and of the dialogs' buttons. */
#define SEGCAM_METHOD_LABEL "E_xplanation method"
#define SEGCAM_WEIGHTS_LABEL "Weights"
#define SEGCAM_POOL_LABEL "_Block size (pool)"
#define SEGCAM_POOL_MODE_LABEL "Pool mode"
#define SEGCAM_SWEEP_LABEL "Maps _for"
#define SEGCAM_MAX_CHANNELS_LABEL "Max channels"
#define SEGCAM_RETURN_GROUP "The created layer group"
#define SEGCAM_RETURN_SEGMENTATION "The created segmentation layer"

/* Whether Explain may hand its runs to the persistent process: unless SEGCAM_PERSISTENT_ENV is
 * "0". */
gboolean gimp_common_persistent_enabled (void);

/* The help folder beside the plug-in; free with g_free. */
gchar *gimp_common_help_dir (void);

/* Fails unless the source is a plain layer (no group, mask or channel) of an RGB or grayscale
 * image. */
gboolean gimp_common_check_source (gboolean plain_layer, gboolean indexed, GError **error);

/* An image, layer or layer group of the libgimp the build chose, as the shared run passes it
 * around without looking inside: an item ID (GINT_TO_POINTER) in 2.10, a GimpItem in 3.0. NULL
 * is never a real item. */
typedef gpointer GimpCommonItem;

/* The seam between the shared run and the two libgimp APIs: the calls whose names or types
 * differ between 2.10 and 3.0, one small table per adapter. Each entry does one thing and
 * decides nothing; the order of the calls, the undo group and what goes where are
 * gimp_common_run's. */
typedef struct {
  /* Fills source from drawable of image: its pixels, the selection (NULL when nothing is
   * selected), the drawable's offsets and the image's size. */
  void (*read_source) (GimpCommonItem image, GimpCommonItem drawable, ExplainSource *source);
  /* Whether image's base type is grayscale. */
  gboolean (*is_gray) (GimpCommonItem image);
  /* Where item stands: its parent group (whatever the API says at the top level) and its
   * position in it. */
  void (*place) (GimpCommonItem image, GimpCommonItem item, GimpCommonItem *parent,
                 gint *position);
  /* The items of item's parent (the image's top-level layers at the top level), top to
   * bottom, item among them; free with g_free. */
  GimpCommonItem *(*siblings) (GimpCommonItem image, GimpCommonItem item, gint *n);
  /* item's tattoo: unique in its image and kept in XCF files, unlike its ID. */
  guint (*tattoo) (GimpCommonItem item);
  /* The data of item's parasite of that name as text (NULL: none); free with g_free. item
   * NULL: GIMP's global parasites, which it keeps across sessions when persistent. */
  gchar *(*get_parasite) (GimpCommonItem item, const gchar *name);
  void (*attach_parasite) (GimpCommonItem item, const GimpParasite *parasite);
  /* Opens the undo group and freezes the Layers dialog. */
  void (*begin) (GimpCommonItem image);
  /* Converts image to RGB. */
  void (*convert_rgb) (GimpCommonItem image);
  /* A new empty layer group named name, inserted at position in parent. */
  GimpCommonItem (*add_group) (GimpCommonItem image, const gchar *name, GimpCommonItem parent,
                               gint position);
  /* A new layer for layer (its name and opacity, normal mode) of type, inserted at position in
   * parent, then moved to bounds' offsets and sized as bounds. Its pixels are still empty. */
  GimpCommonItem (*add_layer) (GimpCommonItem image, const ExplainLayer *layer,
                               GimpImageType type, const GeglRectangle *bounds,
                               GimpCommonItem parent, gint position);
  /* The new layer's pixels, to write into. */
  GeglBuffer *(*buffer) (GimpCommonItem layer);
  /* After the pixels are written: redraws the layer and sets its visibility. */
  void (*finish_layer) (GimpCommonItem layer, const GeglRectangle *bounds, gboolean visible);
  /* Thaws the Layers dialog, makes layer the active (selected) one and closes the undo group. */
  void (*end) (GimpCommonItem image, GimpCommonItem layer);
  /* Shows a warning to the user in a message dialog. */
  void (*warn) (const gchar *text);
  /* item's name; free with g_free. */
  gchar *(*get_name) (GimpCommonItem item);
  /* A new channel of the image's size named name, on top of the channels; its pixels are still
   * empty. */
  GimpCommonItem (*add_channel) (GimpCommonItem image, const gchar *name);
  /* Replaces the selection with channel, removes channel and returns the selection. */
  GimpCommonItem (*select_channel) (GimpCommonItem image, GimpCommonItem channel);
  /* image's ID, which outlives the item (libgimp 3.0 drops its objects after each run), and
   * whether the image of an ID is still open. */
  gint (*image_id) (GimpCommonItem image);
  gboolean (*image_open) (gint image_id);
} GimpCommonSeam;

/* The parasite that marks what a run created (its group, or Segment's layer) with the tattoo
 * of the source layer, in decimal: a later run for the same layer puts its result above the
 * marked ones, whatever they have been renamed to. Persistent, so it survives XCF files. */
#define SEGCAM_PARASITE_SOURCE "segcam-source"

/* The parasite of each heat-map layer: its colormap's name, so that "Heat map to selection"
 * can read the layer back as its map. Persistent. */
#define SEGCAM_PARASITE_HEAT_MAP "segcam-heat-map"
/* The parasite of a result whose run warned (ExplainResult.warnings): the warnings, one a line.
 * Persistent. */
#define SEGCAM_PARASITE_WARNINGS "segcam-warnings"

/* The global parasite that holds the model setting of the last successful interactive run of
 * either procedure: Segment's dialog opens with the model last used in Explain's, and the
 * other way round. */
#define SEGCAM_PARASITE_MODEL "segcam-model"

/* The model setting the last interactive run used (NULL: none yet); free with g_free. */
gchar *gimp_common_last_model (const GimpCommonSeam *seam);
void gimp_common_remember_model (const GimpCommonSeam *seam, const gchar *model_setting);

/* What the persistent process (plugin/README.md, "The persistent process") keeps between runs:
 * the last model loaded, known by its file's path, size and modification time, so that a file
 * changed since is loaded again, and the last run's forward pass with that model (explain-job.h,
 * ExplainCache) with the image it was run on. */
typedef struct {
  gchar *path;                /* NULL: no model kept */
  goffset size;
  guint64 mtime_usec;
  segcam_model *model;
  ExplainCache *forward;
  gint image_id;              /* the kept forward pass's image; 0: none */
  gint64 last_run;            /* when the last run ended, g_get_monotonic_time () */
  gboolean busy;              /* a run is in progress */
} GimpCommonKeep;

GimpCommonKeep *gimp_common_keep_new (void);
/* Drops the model and the forward pass, and gives back their memory. */
void gimp_common_keep_clear (GimpCommonKeep *keep);
void gimp_common_keep_free (GimpCommonKeep *keep);
/* Between runs of the persistent process: drops what keep holds once the image of its forward
 * pass is closed, or after SEGCAM_PERSISTENT_IDLE_MINUTES without a run. */
void gimp_common_keep_expire (const GimpCommonSeam *seam, GimpCommonKeep *keep);

/* One run on drawable of image, up to the changed image: loads the model model_setting names
 * (unless model is given: a dialog loaded it already, and it is released here either way), runs
 * the job with GIMP's progress bar and, only if that succeeds, adds the layers above drawable
 * and above what earlier runs created for it (newest on top), aligned with it, in one undo
 * group — in a layer group of their own when grouped, after converting a grayscale image to RGB
 * so that they are in colour — and leaves drawable the active layer, so that Repeat works on it
 * again. The run's warnings go into the result's parasite and, when interactive, to the user.
 * With keep (NULL: nothing is kept), the model comes from keep when its file is unchanged, and
 * the run's forward pass stays there for the next one (unless model is given). Returns the
 * group, or the first layer when not grouped; NULL with an error, the image as it was. */
GimpCommonItem gimp_common_run (const GimpCommonSeam *seam, GimpCommonItem image,
                                GimpCommonItem drawable, const gchar *model_dir,
                                const gchar *model_setting, segcam_model *model,
                                const ExplainSettings *settings, gboolean grouped,
                                gboolean interactive, GimpCommonKeep *keep, GError **error);

/* gimp_common_run in the persistent process, grouped, on keep's model and forward pass — unless
 * a run is already in progress: a call that arrives while a run waits for GIMP (libgimp handles
 * it inside that run's PDB calls) runs without them, so as not to touch the state the outer run
 * is using. */
GimpCommonItem gimp_common_run_kept (const GimpCommonSeam *seam, GimpCommonKeep *keep,
                                     GimpCommonItem image, GimpCommonItem drawable,
                                     const gchar *model_dir, const gchar *model_setting,
                                     const ExplainSettings *settings, gboolean interactive,
                                     GError **error);

/* plug-in-segcam-heat-map-select on drawable, a heat-map layer of image, in one undo group:
 * the pixels whose map value reaches threshold (0..1) become the selection, or a new channel
 * when to_channel. Returns the selection or the channel; NULL with an error (not a heat map,
 * nothing reaches the threshold), the image as it was. */
GimpCommonItem gimp_common_heat_map_select (const GimpCommonSeam *seam, GimpCommonItem image,
                                            GimpCommonItem drawable, gdouble threshold,
                                            gboolean to_channel, GError **error);

G_END_DECLS

#endif /* SEGCAM_GIMP_COMMON_H */
