/* explain-job.h — what one run of the Seg-Grad-CAM plug-in computes, without GIMP.
 *
 * Either GIMP adapter (libgimp 2.10 or 3.0, through gimp-common.c) hands a job the source layer
 * and the selection as GeglBuffers together with the PDB settings. The job does all the work —
 * parse the classes and the layer against the model, build the ROI, segment, explain, resample
 * back to the layer's size, colour — and returns finished pixel buffers with their layer names.
 * Only then does the adapter touch the image, inside one undo group, so that an error or a
 * cancel (GIMP kills a plug-in whose progress is cancelled) leaves the image as it was.
 */
#ifndef SEGCAM_EXPLAIN_JOB_H
#define SEGCAM_EXPLAIN_JOB_H

#include <gegl.h>
#include <gio/gio.h>

#include "segcam.h"

G_BEGIN_DECLS

/* roi-mode of plug-in-segcam-explain. */
typedef enum {
  EXPLAIN_ROI_SELECTION,        /* the selection (the whole layer when there is none) */
  EXPLAIN_ROI_SELECTION_CLASS,  /* the selection ∩ the pixels predicted as the class */
  EXPLAIN_ROI_CLASS,            /* all pixels predicted as the class */
  EXPLAIN_ROI_COMPONENT,        /* the largest connected component of selection ∩ class */
} ExplainRoiMode;
#define EXPLAIN_N_ROI_MODES 4

/* outputs of plug-in-segcam-explain (a bit set). */
typedef enum {
  EXPLAIN_OUTPUT_HEAT_MAP = 1 << 0,
  EXPLAIN_OUTPUT_OVERLAY = 1 << 1,
  EXPLAIN_OUTPUT_SEGMENTATION = 1 << 2,
} ExplainOutputs;
#define EXPLAIN_OUTPUTS_ALL 7

/* Where the maps are made: the sweep argument of plug-in-segcam-explain-method. */
typedef enum {
  EXPLAIN_SWEEP_NONE,        /* at the layer setting's node */
  EXPLAIN_SWEEP_BLOCKS,      /* at every block output */
  EXPLAIN_SWEEP_LAYERS,      /* at every node the layer setting lists */
} ExplainSweep;

/* Defaults shared by the adapters' dialogs and batch runs. */
#define EXPLAIN_DEFAULT_OPACITY 60.0
#define EXPLAIN_DEFAULT_OUTPUTS EXPLAIN_OUTPUT_HEAT_MAP
#define EXPLAIN_DEFAULT_MAX_SIZE 1024
#define EXPLAIN_MIN_MAX_SIZE 16
#define EXPLAIN_MAX_MAX_SIZE 16384
/* XRES's block side: 2 × 2 blocks, as the command line's default. */
#define EXPLAIN_DEFAULT_POOL 2
/* SCORE and ABLATION's cap on channels: they cost a forward pass per channel, and a layer of
 * 512 channels would keep the menu busy for minutes; 64 is seconds at a working size of 1024. */
#define EXPLAIN_DEFAULT_MAX_CHANNELS 64

typedef struct {
  const char *classes;       /* "digit 2, 3": names or indices; "" = the class predicted most */
  const char *layer;         /* node name; "" = the model's default layer */
  ExplainRoiMode roi_mode;
  SegcamScore score;
  SegcamColormap colormap;
  double opacity;            /* 0..100 */
  unsigned outputs;          /* ExplainOutputs; EXPLAIN_OUTPUT_SEGMENTATION alone only segments */
  int max_size;              /* the longer side the model sees at most, in pixels */
  /* The CAM method and its options (docs/methods.md); plug-in-segcam-explain leaves them zero:
   * Seg-Grad-CAM with mean weights. */
  SegcamMethod method;
  SegcamWeights weights;     /* SEG_GRAD_CAM's channel weights */
  int pool;                  /* XRES: the gradient's block side in target pixels, >= 1 */
  SegcamPoolMode pool_mode;  /* XRES */
  int max_channels;          /* SCORE, ABLATION: the channels of highest mean activation used,
                                a forward pass each; 0: every channel */
  ExplainSweep sweep;        /* a layer sweep: maps at every block output (the node tree's
                                top-level rows, explain_node_tree) or at every node layer lists
                                (explain_parse_layers) instead of at layer, all in the one group;
                                a forward pass each */
  /* Dialog options beyond the PDB arguments (batch runs leave them FALSE): */
  gboolean map_alpha;        /* the heat maps' alpha is the map: cold values are transparent */
  gboolean legend;           /* a legend layer on top: the colormap bar, named with each
                                class's raw maximum */
} ExplainSettings;

typedef struct {
  GeglBuffer *pixels;        /* the source layer, extent (0, 0, width, height) */
  GeglBuffer *selection;     /* the image's selection mask, NULL when nothing is selected */
  int offset_x, offset_y;    /* the layer's offsets: its pixel (x, y) is the selection's pixel
                                (x + offset_x, y + offset_y) */
  int image_width, image_height;   /* the selection's (the image's) size */
} ExplainSource;

/* Releases the source's buffers. */
void explain_source_clear (ExplainSource *source);

typedef enum {
  EXPLAIN_LAYER_HEAT_MAP,
  EXPLAIN_LAYER_OVERLAY,
  EXPLAIN_LAYER_SEGMENTATION,
  EXPLAIN_LAYER_LEGEND,
} ExplainLayerKind;

/* One layer to create: the source layer's size and offsets, normal mode, in colour (an RGB
 * layer, whatever the source's image mode). */
typedef struct {
  ExplainLayerKind kind;
  char *name;
  GeglBuffer *buffer;        /* its pixels, extent (0, 0, width, height) */
  gboolean has_alpha;
  double opacity;            /* 0..100 */
  gboolean visible;
} ExplainLayer;

typedef struct {
  char *group_name;
  GPtrArray *layers;         /* ExplainLayer *, top to bottom; only the top one is visible
                                (and the legend above it) */
  int working_width, working_height;
  GPtrArray *warnings;       /* char *: one line each on what may make the result misleading
                                (the image does not fit the model, the model names no classes,
                                a map is zero everywhere); empty when nothing */
} ExplainResult;

/* fraction in [0, 1], or < 0 for "busy, no estimate". */
typedef void (*ExplainProgress) (double fraction, const char *text, void *user_data);

/* What a persistent plug-in process keeps between runs: the last run's session with its forward
 * pass, the model's input it ran on and the predicted labels. A run with the same model (the same
 * segcam_model), target node, working size and segmentation-or-explanation finds the session
 * planned; if the layer it reads then gives the same input, bit for bit, the forward pass is
 * not run again either, so another class, ROI, score or method costs only its backward passes.
 * Any other input (an edited layer, another layer or image) costs a forward pass in the kept
 * session. The results are those of a run without a cache: the same session, the same input. */
typedef struct ExplainCache ExplainCache;

ExplainCache *explain_cache_new (void);
/* Drops the session and its forward pass, giving back their memory: call before the model they
 * were made with is freed. */
void explain_cache_clear (ExplainCache *cache);
void explain_cache_free (ExplainCache *cache);

/* Runs everything and returns the layers to create, or NULL with a one-line error (unknown class
 * or layer, empty ROI, image too large, ...). model_label names the model in layer names. cache
 * (NULL: none) keeps the forward pass for the next run, and gives this one the last run's when
 * it fits. */
ExplainResult *explain_run (const segcam_model *model, const char *model_label,
                            const ExplainSettings *settings, const ExplainSource *source,
                            ExplainCache *cache, ExplainProgress progress, void *progress_data,
                            GError **error);
void explain_result_free (ExplainResult *result);

/* ---- the dialog's live preview ------------------------------------------------------------ */

/* The layer downscaled once, with a session that keeps its forward pass between explanations
 * (an ExplainCache): a new class, ROI mode or score costs one backward pass, a new layer or
 * model a forward too.
 * explain_preview_compute may run in a worker thread while the dialog calls
 * explain_preview_render from the main loop; computations must not overlap each other. */
typedef struct ExplainPreview ExplainPreview;

typedef struct {
  int class_index;           /* the class explained (the default class when none is chosen) */
  int node;
  double forward_seconds;    /* < 0 when the forward pass was kept */
  double backward_seconds;
} ExplainPreviewStats;

/* Reads source (its pixels and selection, not kept) scaled to at most max_size pixels on the
 * longer side. Call from the thread that owns the buffers. */
ExplainPreview *explain_preview_new (const ExplainSource *source, int max_size);
void explain_preview_free (ExplainPreview *preview);
void explain_preview_size (const ExplainPreview *preview, int *width, int *height);

/* The normalised map (width x height floats, to g_free) of the first class of settings (or the
 * class predicted most in the ROI) with its layer, ROI mode and score; NULL with an error, or
 * with G_IO_ERROR_CANCELLED when cancel fires (it is checked between steps, and by Score-CAM
 * and Ablation-CAM between their passes, one per channel). */
float *explain_preview_compute (ExplainPreview *preview, const segcam_model *model,
                                const ExplainSettings *settings, GCancellable *cancel,
                                ExplainPreviewStats *stats, GError **error);
/* How far the computation in progress is, 0..100: its forward pass, then Score-CAM's or
 * Ablation-CAM's passes (the other methods' backward is one step). Any thread may ask. */
int explain_preview_percent (ExplainPreview *preview);
/* Waits for a computation in progress and drops the session: call before model is freed. */
void explain_preview_forget (ExplainPreview *preview);

/* The preview's pixels (R'G'B' u8, width x height x 3, to g_free) with map (NULL: none) in
 * colormap over them at opacity (0..100), as the overlay layer shows it (map_alpha: weighted by
 * the map, as with transparent cold values). */
guint8 *explain_preview_render (ExplainPreview *preview, const float *map,
                                SegcamColormap colormap, double opacity, gboolean map_alpha);

/* ---- the steps, for the adapters' dialogs and for tests ----------------------------------- */

/* Class indices from "digit 2, 3" (comma-separated names or indices; spaces around items are
 * ignored, repeats dropped). An empty string gives an empty array: the caller picks the default.
 * Fails naming the unknown class. */
GArray *explain_parse_classes (const segcam_model *model, const char *classes, GError **error);
/* The inverse: names joined by ", " (indices for names a comma would split). */
char *explain_format_classes (const segcam_model *model, const int *classes, int n_classes);

/* The node a layer setting names ("" = the model's default layer), or -1 with an error. */
int explain_find_layer (const segcam_model *model, const char *layer, GError **error);
/* The nodes of a sweep's layer setting: names separated by commas (spaces around them ignored,
 * repeats dropped, "" or an empty item the default layer), or one node whose own name has a
 * comma. NULL with the error naming the first unknown node. */
GArray *explain_parse_layers (const segcam_model *model, const char *layers, GError **error);
/* "mid.relu1 (relu) 64 × 16 × 16" from infer_shapes' output (NULL: no shape), marked when it
 * is the default. */
char *explain_node_label (const segcam_model *model, int node, const int *shapes);

/* The nodes grouped by module, for a chooser: a name splits into modules at "/" (ONNX names
 * such as "/model/backbone/layer4/layer4.2/relu_2/Relu_output_0") or else at "." ("mid.relu1").
 * A module stands for its output, the last of its nodes in topological order; a module with a
 * single node is that node, and a chain of single modules is one row ("model/backbone"). */
typedef struct ExplainNodeGroup ExplainNodeGroup;
struct ExplainNodeGroup {
  char *label;               /* the row's text: its part of the name ("layer4.2", "relu_2") */
  char *path;                /* the whole name up to here, for searching */
  int node;                  /* the node the row stands for */
  GPtrArray *children;       /* ExplainNodeGroup *, in topological order; NULL for a node */
};

/* The root (label "", children the top-level rows); node 0, the input, is left out. */
ExplainNodeGroup *explain_node_tree (const segcam_model *model);
void explain_node_tree_free (ExplainNodeGroup *tree);

/* The class with the largest ROI weight among the predicted labels (the lowest on ties);
 * weights NULL counts every pixel once. */
int explain_default_class (const uint8_t *labels, const float *weights, size_t n, int n_classes);

/* The ROI weights of roi_mode for one class at width x height: selection holds the selection's
 * weights (NULL: no selection), labels the predicted classes. Fails when the ROI is empty. */
gboolean explain_build_roi (ExplainRoiMode roi_mode, const float *selection,
                            const uint8_t *labels, int width, int height, int class_index,
                            const char *class_name, float *roi, GError **error);

/* The engine's method names, "seg-grad-cam, hires, ...", in the order of SegcamMethod: the
 * dialogs' choices and the error messages follow the engine's list. */
char *explain_method_names (void);
/* The method of a name ("" = seg-grad-cam), or -1 with an error listing the methods. */
int explain_parse_method (const char *name, GError **error);
/* Fails naming the problem when the method options do not fit: an unknown method, an XRES pool
 * below 1, weights other than mean for a method other than Seg-Grad-CAM, max channels below 0. */
gboolean explain_check_method (const ExplainSettings *settings, GError **error);
/* The engine's options for one class's map with the settings' score and method; pixels is the
 * model's input given to segcam_session_forward (SCORE and ABLATION run it again). */
segcam_explain_options explain_engine_options (const ExplainSettings *settings, int class_index,
                                               const float *pixels);
/* How names show the method: "Seg-Grad-CAM" (mean weights), "Seg-Grad-CAM abs", "hires",
 * "xres 4 max", "eigen, class-agnostic", "score, 8 channels" (a cap; none: every channel). */
char *explain_method_label (const ExplainSettings *settings);
/* The warning for a map whose maximum after ReLU, raw_max, is not positive: the engine's
 * sentence (segcam_advise_zero_map) after the map's method, class and node, its remedies named
 * as the dialog names its options; NULL for a map with a positive maximum. */
char *explain_zero_map_warning (const ExplainSettings *settings, const char *class_name,
                                const char *node_name, float raw_max);

/* "selection", "whole layer", "predicted in selection", ... as layer names show the ROI. */
const char *explain_roi_label (ExplainRoiMode roi_mode, gboolean has_selection);
/* "digit 2 @ mid.relu1 (selection) — Seg-Grad-CAM" (method_label from explain_method_label)
 * and its overlay's name (… overlay): the class first, so that it stays readable in the Layers
 * dock; " — all zero" at the end when the map is zero everywhere. */
char *explain_layer_name (ExplainLayerKind kind, const char *class_name, const char *node_name,
                          const char *roi_label, const char *method_label, gboolean zero);
/* "digit 1, digit 2 @ mid.relu1 — Seg-Grad-CAM (texture-mnist-biased)" (node_name is a sweep's
 * "11 block outputs"), or with class_names NULL (only a segmentation) "Segmentation —
 * Seg-Grad-CAM (texture-mnist-biased)". */
char *explain_group_name (const char *class_names, const char *node_name,
                          const char *method_label, const char *model_label);
/* "Legend: jet 0 … max, digit 1 max 0.0213, digit 2 max 0.00871 @ mid.relu1 — hires": the
 * colormap, what its top end stands for in each map (raw_max[i] for map_names[i]: the map's
 * maximum after ReLU, before normalising), the node and the method. A sweep's maps are at
 * several nodes: node_name NULL, and each map's name says its node ("digit 1 @ enc"). */
char *explain_legend_name (SegcamColormap colormap, const char *const *map_names,
                           const float *raw_max, int n_maps, const char *node_name,
                           const char *method_label);
/* "Segmentation: texture-mnist-biased" */
char *explain_segmentation_name (const char *model_label);

G_END_DECLS

#endif /* SEGCAM_EXPLAIN_JOB_H */
