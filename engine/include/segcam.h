/* segcam.h — public API of libsegcam, the Seg-Grad-CAM engine.
 *
 * libsegcam loads a segmentation network from a safetensors file (docs/model-format.md), segments images
 * and explains a class's prediction over a region of interest with Seg-Grad-CAM (docs/seg-grad-cam.md).
 * It knows nothing of GIMP or of image files: callers hand it float pixels and get float maps.
 *
 * Conventions used throughout:
 *   - images are interleaved, row-major, H x W x C floats in [0, 1], non-linear R'G'B' (C = 3) or
 *     Y' (C = 1), exactly the model's input channels (segcam_model_input_channels());
 *   - per-pixel maps (ROI weights, heat maps, labels) are row-major H x W;
 *   - per-class maps (probabilities) are C x H x W (planar), as NumPy and PyTorch print them;
 *   - every function that can fail takes a GError ** and returns FALSE / NULL with a one-line
 *     message naming the problem; nothing aborts on bad input.
 */
#ifndef SEGCAM_H
#define SEGCAM_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define SEGCAM_ERROR (segcam_error_quark ())
GQuark segcam_error_quark (void);

typedef enum {
  SEGCAM_ERROR_MODEL,   /* the model file is unreadable, malformed or inconsistent */
  SEGCAM_ERROR_INPUT,   /* bad argument: unknown class or layer, empty ROI, wrong size */
  SEGCAM_ERROR_MEMORY,  /* the requested size does not fit in memory or address space */
  SEGCAM_ERROR_CANCELLED, /* the caller's cancel callback asked to stop */
} SegcamError;

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */

typedef struct segcam_model segcam_model;

/* Loads and fully validates a model file. */
segcam_model *segcam_model_load (const char *path, GError **error);
/* Same from bytes in memory (the fuzzer's entry point). The bytes are not retained. */
segcam_model *segcam_model_load_from_data (const uint8_t *data, size_t size, GError **error);
void segcam_model_free (segcam_model *model);

const char *segcam_model_name (const segcam_model *model);        /* "" when absent */
const char *segcam_model_description (const segcam_model *model); /* "" when absent */
const char *segcam_model_training (const segcam_model *model);    /* JSON text or "" */
int segcam_model_format_version (const segcam_model *model);

int segcam_model_input_channels (const segcam_model *model); /* 1 (Y') or 3 (R'G'B') */
int segcam_model_size_multiple (const segcam_model *model);
/* Whether the network runs at one input size only (docs/model-format.md, segcam.fixed_size), and
 * which (0 x 0 when not). A session for another image size resamples the image to it, bilinear,
 * and the logits, probabilities, labels and maps back to the image. */
gboolean segcam_model_fixed_size (const segcam_model *model, int *width, int *height);
/* The image size the model was trained at (docs/model-format.md, segcam.training_size; segcam
 * train writes it), and FALSE with 0 x 0 when the file does not record one. Only advice reads it. */
gboolean segcam_model_training_size (const segcam_model *model, int *width, int *height);
int64_t segcam_model_n_parameters (const segcam_model *model);

/* Classes as the model lists them. A one-channel sigmoid model lists two: background, foreground. */
int segcam_model_n_classes (const segcam_model *model);
const char *segcam_model_class_name (const segcam_model *model, int class_index);
void segcam_model_class_color (const segcam_model *model, int class_index, uint8_t rgb[3]);
/* A class by name, or by decimal index; -1 when there is no such class. A name matches exactly,
 * else ignoring case (Unicode case folding) when only one class matches so; a name always wins
 * over an index (in a model whose classes are named "0", "1"..., "1" is the class named "1"). */
int segcam_model_find_class (const segcam_model *model, const char *name_or_index);
/* For "did you mean": the class, or the node, whose name is closest to text in edit distance,
 * ignoring case, when that distance is at most a third of text's length (at least 1); the first
 * of equally close ones; -1 when none is that close. */
int segcam_model_suggest_class (const segcam_model *model, const char *text);
int segcam_model_suggest_node (const segcam_model *model, const char *text);
gboolean segcam_model_output_is_sigmoid (const segcam_model *model);

/* Nodes in topological order; node 0 is "input". */
int segcam_model_n_nodes (const segcam_model *model);
const char *segcam_model_node_name (const segcam_model *model, int node);
const char *segcam_model_node_op (const segcam_model *model, int node);
int segcam_model_find_node (const segcam_model *model, const char *name); /* -1 when absent */
int segcam_model_output_node (const segcam_model *model);
int segcam_model_default_layer (const segcam_model *model);

/* Output shape (channels, height, width) of every node for an image of width x height, after the
 * input is padded to the size multiple (or resampled to the model's fixed size, whatever the
 * image's). shapes has 3 * n_nodes ints. */
gboolean segcam_model_infer_shapes (const segcam_model *model, int width, int height,
                                    int *shapes, GError **error);

/* ------------------------------------------------------------------------------------------ */
/* Sessions: one model, one image size, one target layer; forward once, explain many times.   */

typedef struct segcam_session segcam_session;

/* Called with fraction in [0, 1] and a short description of the step ("conv d1.conv1"). */
typedef void (*segcam_progress_fn) (double fraction, const char *what, void *user_data);

typedef struct {
  int width, height;      /* image size (before padding) */
  int layer;              /* node to explain at (segcam_model_find_node), or -1 for the default;
                             ignored when explain is FALSE */
  gboolean explain;       /* keep what backward needs; FALSE plans a forward-only session */
  int n_threads;          /* 0: all cores */
  segcam_progress_fn progress;
  void *progress_data;
  gboolean exact;         /* FALSE: the fast path (batch norm folded into convs, Winograd 3x3
                             convs except when a group norm follows the explained layer; maps
                             agree with the exact path to about 2e-5 of their maximum). TRUE:
                             node by node with direct convolutions, the reference */
} segcam_session_options;

/* Plans memory for the whole run up front; fails with SEGCAM_ERROR_MEMORY if it cannot fit. */
segcam_session *segcam_session_new (const segcam_model *model, const segcam_session_options *options,
                                    GError **error);
void segcam_session_free (segcam_session *session);
/* Bytes the session holds (activations, gradients, scratch, and the transformed weights of the
 * fast path's convolutions, which it keeps once it runs a second time), for benchmarks and the
 * plug-in. */
size_t segcam_session_memory (const segcam_session *session);
/* Bytes still mappable under the process's address-space limit (ulimit -v, RLIMIT_AS) once
 * `threads` engine threads have mapped their work buffers and stacks; INFINITY without a limit,
 * negative when the limit leaves no room for them. Sessions plan within it. */
double segcam_address_space_room (int threads);

/* Runs the network on pixels (height x width x input_channels). */
gboolean segcam_session_forward (segcam_session *session, const float *pixels, GError **error);

/* After forward: per-class probabilities (n_classes x height x width; softmax, or for a sigmoid
 * model its per-class sigmoid, with background = 1 - foreground for a one-channel model). */
void segcam_session_probabilities (const segcam_session *session, float *out);
/* After forward: the predicted class of every pixel (argmax; the first of equal maxima). */
void segcam_session_labels (const segcam_session *session, uint8_t *labels);
/* The class of highest probability at each of n_pixels pixels (the first of equal maxima), from
 * planar probabilities (n_classes x n_pixels): labels for probabilities resampled to another
 * size (a working size's results back at the image's). */
void segcam_labels_from_probabilities (const float *probabilities, int n_classes,
                                       size_t n_pixels, uint8_t *labels);

typedef enum { SEGCAM_SCORE_LOGITS, SEGCAM_SCORE_PROBABILITIES } SegcamScore;
typedef enum { SEGCAM_WEIGHTS_MEAN, SEGCAM_WEIGHTS_ABS, SEGCAM_WEIGHTS_RELU } SegcamWeights;

/* The CAM methods (docs/methods.md has each formula and its source). All use the same score S
 * and the same output steps (resize, crop, ReLU, normalise); they differ in how the signed map L
 * at the target layer is made from its activation A and the gradient G = dS/dA:
 *   SEG_GRAD_CAM  L = sum_k alpha_k A_k, alpha_k = mean_uv G_k (with the weights option)
 *   HIRES         L = sum_k G_k * A_k (element-wise)
 *   XRES          L = sum_k pool (G)_k * A_k, G pooled in pool x pool blocks, nearest upsampling
 *   GRADCAM_PP    L = sum_k alpha_k A_k, alpha from Grad-CAM++'s closed form (2nd, 3rd powers of G)
 *   XGRAD         L = sum_k alpha_k A_k, alpha_k = sum_uv G_k,uv A_k,uv / sum_uv A_k,uv
 *   LAYER         L = sum_k ReLU (G_k) * A_k
 *   EIGEN         L = the projection of the centred A on its first principal component; it needs
 *                 no gradient and does not depend on the class or the ROI (class-agnostic)
 *   SCORE         L = sum_k w_k A_k, w = softmax_k S (image masked by the normalised upsampled
 *                 A_k): one forward pass per channel (Score-CAM)
 *   ABLATION      L = sum_k w_k A_k, w_k = (S - S with channel k of A zeroed) / S: the network
 *                 rerun from the target once per channel (Ablation-CAM)
 * SCORE and ABLATION need no gradient but the image (options.pixels). */
typedef enum {
  SEGCAM_METHOD_SEG_GRAD_CAM,
  SEGCAM_METHOD_HIRES,
  SEGCAM_METHOD_XRES,
  SEGCAM_METHOD_GRADCAM_PP,
  SEGCAM_METHOD_XGRAD,
  SEGCAM_METHOD_LAYER,
  SEGCAM_METHOD_EIGEN,
  SEGCAM_METHOD_SCORE,
  SEGCAM_METHOD_ABLATION,
} SegcamMethod;

/* How XRES pools the gradient within a block: its maximum (the paper's) or its mean. */
typedef enum { SEGCAM_POOL_MAX, SEGCAM_POOL_MEAN } SegcamPoolMode;

/* Fields after normalize may be left zero: Seg-Grad-CAM, as before they existed. */
typedef struct {
  int class_index;
  SegcamScore score;
  SegcamWeights weights;  /* SEG_GRAD_CAM only */
  gboolean normalize;     /* divide by the maximum when it is > 0 */
  SegcamMethod method;
  int pool;               /* XRES: block side in target pixels, >= 1; blocks at the right and
                             bottom edges are cut short. Equal to the map's larger side (or more)
                             with SEGCAM_POOL_MEAN this is Seg-Grad-CAM; 1 is HIRES */
  SegcamPoolMode pool_mode; /* XRES */
  const float *pixels;    /* SCORE, ABLATION: the image given to segcam_session_forward, which
                             they run again (the session's state afterwards is that image's) */
  int max_channels;       /* SCORE, ABLATION: at most this many channels, those of highest mean
                             activation (the others weigh 0); 0: every channel */
  gboolean (*cancelled) (void *data); /* SCORE, ABLATION: asked between passes; TRUE stops the
                             explanation with SEGCAM_ERROR_CANCELLED. NULL: never */
  void *cancel_data;
} segcam_explain_options;

/* "seg-grad-cam", "hires", "xres", "gradcam++", "xgrad", "layer", "eigen", "score", "ablation";
 * -1 for anything else. */
int segcam_method_from_name (const char *name);
const char *segcam_method_name (SegcamMethod method);
/* TRUE for methods whose map does not depend on the class or the ROI (EIGEN). */
gboolean segcam_method_is_class_agnostic (SegcamMethod method);

typedef struct {
  float raw_max;          /* maximum of the map after resize and ReLU, before normalising */
  double roi_weight;      /* sum of the ROI weights */
  double score;           /* S of docs/seg-grad-cam.md, 'Definition' */
} segcam_explain_info;

/* Seg-Grad-CAM (docs/seg-grad-cam.md, 'Definition'), or the options' other method (docs/methods.md),
 * after segcam_session_forward. roi has height x width weights in [0, 1] (NULL: the whole image);
 * map receives height x width floats. An ROI whose weights sum to zero, an unknown method, an
 * XRES pool below 1, SCORE or ABLATION without pixels or with max_channels < 0 is an error. info
 * may be NULL. SCORE and ABLATION report their progress (one step per channel) through the
 * session's callback. */
gboolean segcam_session_explain (segcam_session *session, const segcam_explain_options *options,
                                 const float *roi, float *map, segcam_explain_info *info,
                                 GError **error);

/* The class-activation map before resizing and ReLU (L of docs/seg-grad-cam.md, 'Definition', or of
 * the method, h x w of the target layer) from the last segcam_session_explain; h and w may be NULL. */
const float *segcam_session_cam (const segcam_session *session, int *h, int *w);

/* ------------------------------------------------------------------------------------------ */
/* Working size: a large image run at a smaller size, its results resampled back.             */

/* The size the network sees for a width x height image under a limit of max_side pixels on
 * the longer side: the image's own size when it fits, else scaled to fit keeping the aspect
 * ratio, each side rounded to the nearest whole number (at least 1). TRUE when that differs
 * from the image's size. The plug-in's working size and the command line's --max-size. */
gboolean segcam_working_size (int width, int height, int max_side, int *work_width,
                              int *work_height);
/* src, src_h rows of src_w pixels of channels interleaved floats, resampled into dst (dst_h x
 * dst_w, the same channels; not overlapping src) bilinearly as PyTorch's F.interpolate (mode
 * "bilinear", align_corners=False, antialias=False): half-pixel centres, source coordinates
 * clamped to the image, no low-pass filter when shrinking (a reduction by more than 2 samples
 * the image rather than averaging it). The resampling sessions of fixed-size networks use.
 * Sizes of at least 1; equal sizes copy. */
void segcam_resample_image (const float *src, int src_w, int src_h, int channels, float *dst,
                            int dst_w, int dst_h);

/* ------------------------------------------------------------------------------------------ */
/* Regions of interest (docs/seg-grad-cam.md, 'Region of interest'). All maps are width x height, row-major.     */

/* roi = 1 inside the rectangle (clipped to the image), else 0. FALSE if nothing is left. */
gboolean segcam_roi_rect (float *roi, int width, int height, int x, int y, int w, int h);
/* roi = 1 at one pixel, else 0. FALSE if the pixel is outside the image. */
gboolean segcam_roi_pixel (float *roi, int width, int height, int x, int y);
/* roi *= (labels == class_index). */
void segcam_roi_intersect_class (float *roi, const uint8_t *labels, int width, int height,
                                 int class_index);
/* Keeps only the largest (or smallest) 8-connected component of the pixels where roi > 0;
 * equal sizes are broken by the component met first in row-major order. */
void segcam_roi_keep_component (float *roi, int width, int height, gboolean largest);
/* Sum of the weights. */
double segcam_roi_sum (const float *roi, size_t n);

/* ------------------------------------------------------------------------------------------ */
/* Colormaps                                                                                  */

typedef enum {
  SEGCAM_COLORMAP_JET,
  SEGCAM_COLORMAP_TURBO,
  SEGCAM_COLORMAP_VIRIDIS,
  SEGCAM_COLORMAP_INFERNO,
  SEGCAM_COLORMAP_GRAYSCALE,
} SegcamColormap;

/* "jet", "turbo", "viridis", "inferno", "grayscale" (also "gray"); -1 for anything else. */
int segcam_colormap_from_name (const char *name);
const char *segcam_colormap_name (SegcamColormap colormap);
/* Maps n values (clamped to [0, 1]) to 8-bit RGB triples. Grayscale is round(255 v). */
void segcam_colormap_apply (SegcamColormap colormap, const float *values, size_t n, uint8_t *rgb);

/* ------------------------------------------------------------------------------------------ */

/* Threads the engine uses when a session asks for 0 (all cores). */
int segcam_default_threads (void);

/* The kernel set OpenBLAS chose when it was loaded ("Cooperlake", "Haswell", "Prescott", ...). */
const char *segcam_blas_core (void);
/* A one-line note when OpenBLAS runs kernels for an older CPU than this one (it did not recognise
 * the CPU), naming the OPENBLAS_CORETYPE that uses this CPU's vector units; NULL when OpenBLAS's
 * choice fits, or when OPENBLAS_CORETYPE is set (the user's choice stands). The engine never sets
 * it: OpenBLAS reads it only when a process loads it. Free with g_free. */
char *segcam_advise_blas (void);

/* Text from a model file or a user as it may appear in a one-line message or on a terminal:
 * control characters (C0, DEL and C1: newlines, ESC, the 8-bit CSI) and bytes that are not
 * UTF-8 become \xNN; after max_chars characters (0: no limit) the rest becomes "...". The
 * engine's messages quote names through it; callers escape their own the same way. Free with
 * g_free. */
char *segcam_escape (const char *text, int max_chars);

/* ------------------------------------------------------------------------------------------ */
/* Advice: what may make a result misleading although every step succeeded.                  */

/* TRUE when n R'G'B' pixels carry no colour: on all but a thousandth of them the three
 * channels lie within 2/255 of each other (a gray picture stored as RGB stays gray). */
gboolean segcam_pixels_are_gray (const float *rgb, size_t n_pixels);
/* A one-line warning when the image (n R'G'B' pixels, whatever the model's input channels)
 * does not fit the model: colour into a grayscale model, or gray into a colour model; NULL
 * when it fits. Free with g_free. */
char *segcam_advise_image (const segcam_model *model, const float *rgb, size_t n_pixels);
/* A one-line warning when the model names no classes (all read "class N", as the ONNX importer
 * names them without metadata) or, when imported from ONNX, no input normalisation (mean 0 and
 * std 1 on every channel: the importer's default, which a segcam file that says so means),
 * saying how to set them; NULL otherwise. Free with g_free. */
char *segcam_advise_model (const segcam_model *model, gboolean imported);
/* A one-line warning when the network will see an image of width x height (the working size,
 * after any downscaling the caller does) at a scale far from its training: a side more than
 * SEGCAM_ADVISE_SIZE_RATIO times smaller or larger than that side of the training size, so that
 * objects appear at a size the model never saw. NULL when the sides are within that ratio, when
 * the model records no training size, or when it runs at a fixed size (it then sees that size
 * whatever the image). Free with g_free. */
#define SEGCAM_ADVISE_SIZE_RATIO 4
char *segcam_advise_size (const segcam_model *model, int width, int height);

/* The names each caller gives the remedies of a zero map (the command line its flags, the
 * plug-in its dialog's options). */
typedef struct {
  const char *abs_weights;    /* e.g. "--weights abs" */
  const char *other_layer;    /* e.g. "another --layer" */
  const char *other_method;   /* e.g. "another --method" */
} segcam_remedy_names;
/* When a map is zero everywhere (raw_max, segcam_explain_info, is not > 0): why that happens
 * and what to try, as the end of a warning: "is zero everywhere: ...; try ..., ... or ...";
 * abs weights are offered only to Seg-Grad-CAM with other weights (mean weights cancel where a
 * layer's channels pull both ways). The caller writes what map it was before it. NULL when the
 * map is not zero. Free with g_free. */
char *segcam_advise_zero_map (const segcam_explain_options *options, float raw_max,
                              const segcam_remedy_names *names);

/* ------------------------------------------------------------------------------------------ */
/* Large images: tiles with halos (docs/seg-grad-cam.md, "Large images: tiles").              */

/* A network without whole-image operations computes each output pixel from the padded image's
 * pixels within a distance, its reach. *reach receives it (per side, the largest over both axes,
 * in image pixels) and *stride the network's total stride (the least common multiple of its
 * nodes' strides). FALSE with a one-line error naming the first node that has no bounded reach
 * (global average pooling, group and instance normalisation, upsampling to a fixed size or with
 * aligned corners) or when the model runs at a fixed size. */
gboolean segcam_model_reach (const segcam_model *model, int *reach, int *stride, GError **error);

/* An image run as tiles: core tiles that partition the padded image, each run inside a crop of
 * one size (core plus a halo of at least the reach on every side inside the image; crops at the
 * image's border are shifted inward) through one session. Predictions come from the cores; an
 * explanation adds the gradients of every crop at the target layer, so that activation and
 * gradient there, and so the maps, equal an untiled session's up to float rounding. */
typedef struct segcam_tiled segcam_tiled;

/* The core side the engine starts from when options.tile is 0. */
#define SEGCAM_TILE_DEFAULT 2048

typedef struct {
  int width, height;      /* image size (before padding) */
  int layer;              /* as segcam_session_options */
  gboolean explain;       /* FALSE: forward (predictions) only */
  int n_threads;          /* 0: all cores */
  gboolean exact;         /* as segcam_session_options */
  int tile;               /* core side in pixels, rounded up to the alignment (4 times the
                             stride, and the size multiple); 0: SEGCAM_TILE_DEFAULT, halved
                             while its session does not fit in memory */
  segcam_progress_fn progress; /* after each tile ("tile 3/16") */
  void *progress_data;
  gboolean (*cancelled) (void *data); /* asked between tiles (forward and explain); TRUE stops
                             with SEGCAM_ERROR_CANCELLED. NULL: never */
  void *cancel_data;
} segcam_tiled_options;

/* Plans the tiles and their session; fails as segcam_model_reach does, or with
 * SEGCAM_ERROR_MEMORY when even the smallest tile does not fit. */
segcam_tiled *segcam_tiled_new (const segcam_model *model, const segcam_tiled_options *options,
                                GError **error);
void segcam_tiled_free (segcam_tiled *tiled);
/* The layout: tiles, core side, halo, and the crops' size (each pointer may be NULL). */
void segcam_tiled_layout (const segcam_tiled *tiled, int *n_tiles, int *core, int *halo,
                          int *crop_width, int *crop_height);
/* Bytes held: the tiles' session and the whole image's buffers (target activation and gradient,
 * resized map). */
size_t segcam_tiled_memory (const segcam_tiled *tiled);

/* Runs every tile forward on pixels (height x width x input channels), which explain reads
 * again: they must stay valid and unchanged until the last segcam_tiled_explain. probabilities
 * (n_classes x height x width) and labels (height x width) receive what
 * segcam_session_probabilities and segcam_session_labels give; either may be NULL, and when
 * both are, no tile runs now: the first explanation runs each (once instead of twice). */
gboolean segcam_tiled_forward (segcam_tiled *tiled, const float *pixels, float *probabilities,
                               uint8_t *labels, GError **error);
/* segcam_session_explain on tiles, after segcam_tiled_forward: the same arguments and results.
 * The gradient methods run each crop whose core holds ROI weight forward and backward; EIGEN
 * reads only the target's activation (kept from the first pass over each tile) and leaves
 * info.score NaN. SCORE and ABLATION are refused. options.cancelled is asked between tiles
 * too. */
gboolean segcam_tiled_explain (segcam_tiled *tiled, const segcam_explain_options *options,
                               const float *roi, float *map, segcam_explain_info *info,
                               GError **error);

G_END_DECLS

#endif /* SEGCAM_H */
