/* explain-args.h — what the commands that run the network and explain a class share (explain,
 * evaluate, predict, bench): loading model and image into a session with the warnings and the
 * progress line, the choice of a layer and a class by name (with "did you mean"), the ROI
 * options, the method, score and weights options. Every function that can
 * fail prints the one-line error as command's and returns the exit status (0 on success). */
#ifndef SEGCAM_EXPLAIN_ARGS_H
#define SEGCAM_EXPLAIN_ARGS_H

#include "segcam.h"

#include <glib.h>

/* --tile SIDE (docs/seg-grad-cam.md, "Large images: tiles"): by default an image is tiled only
 * when its untiled session does not fit in memory; 0 never tiles it. */
#define TILE_AUTO (-1)
#define TILE_OPTION                                                                             \
  {"tile", 0, 0, G_OPTION_ARG_INT, &tile,                                                       \
   "Run the network on tiles of SIDE pixels with halos, which give the untiled results "       \
   "(default: only when the image does not fit in memory; 0: never)", "SIDE"}

/* 0, or EXIT_USAGE with the error printed when --tile is negative (other than TILE_AUTO, the
 * default the caller starts from). */
int segcam_cli_check_tile (const char *command, int tile);

/* A network planned for one image size: a session, or tiles (the other pointer NULL). */
typedef struct {
  segcam_session *session;
  segcam_tiled *tiled;
} segcam_cli_net;

/* Plans net for a w x h image, reporting the forward pass (and each tile) on the progress line:
 * tiles when tile > 0, or when tile is TILE_AUTO and the session does not fit in memory (said in
 * one line on stderr: tiles, side, halo); a session's memory error stands when tiles cannot help
 * either. 0, or the exit status with the error printed. */
int segcam_cli_net_new (const char *command, const segcam_model *model, int w, int h,
                        gboolean explain, int layer, int threads, gboolean exact, int tile,
                        segcam_cli_net *net);
void segcam_cli_net_clear (segcam_cli_net *net);
/* Forward on pixels; probabilities and labels as segcam_tiled_forward (either may be NULL). */
gboolean segcam_cli_net_forward (segcam_cli_net *net, const float *pixels, float *probabilities,
                                 uint8_t *labels, GError **error);
gboolean segcam_cli_net_explain (segcam_cli_net *net, const segcam_explain_options *options,
                                 const float *roi, float *map, segcam_explain_info *info,
                                 GError **error);

/* A model, an image and a network run forward on it at the working size (--max-size): the
 * image's own size, or a smaller one the image was resampled to. */
typedef struct {
  segcam_model *model;
  float *pixels;                /* the network's input, work_width x work_height */
  int width, height;            /* the image's */
  int work_width, work_height;  /* the network's */
  segcam_cli_net net;
  uint8_t *labels;              /* work_width x work_height */
  float *probabilities;         /* n_classes x work_width x work_height, when asked for */
} segcam_cli_run;

void segcam_cli_run_clear (segcam_cli_run *r);

/* Every command that runs the network can be asked for the reference kernels. */
#define EXACT_OPTION                                                                            \
  {"exact", 0, 0, G_OPTION_ARG_NONE, &exact,                                                    \
   "Run node by node with direct convolutions (slower; the fast path is tested against it)",   \
   NULL}

/* The longest side of an image the commands that run the network take, and of a working
 * size: the plug-in's largest working size. Beyond it an image is more likely a mistake than a
 * photograph, and its float copies alone would take gigabytes. */
#define LARGEST_IMAGE 16384

/* max_size 0 (the default) runs the network at the image's size. */
#define MAX_SIZE_OPTION                                                                         \
  {"max-size", 0, 0, G_OPTION_ARG_INT, &max_size,                                               \
   "Run the network at most N pixels on the longer side: a larger image is resampled down "    \
   "(bilinear) for it and its results back up to the image's size (default: the image's size; " \
   "images above " G_STRINGIFY (LARGEST_IMAGE) " are refused)", "N"}

/* 0, or EXIT_USAGE with the error printed when --max-size is not 0 or in [1, LARGEST_IMAGE]. */
int segcam_cli_check_max_size (const char *command, int max_size);

/* The size the network sees for a width x height image under --max-size (0: none). */
void segcam_cli_working_size (int width, int height, int max_size, int *work_width,
                              int *work_height);

/* src (width x height x channels) resampled to the working size, in a new buffer; src itself
 * (not copied) when the sizes are equal. */
float *segcam_cli_to_working (const float *src, int width, int height, int channels,
                              int work_width, int work_height);
/* The same for a buffer the caller owns: *buf (g_new'd) is replaced by its resampling, and
 * freed, when the sizes differ. */
void segcam_cli_resample_to_working (float **buf, int width, int height, int channels,
                                     int work_width, int work_height);

/* ---- loading, with the warnings (advice.h) and the progress line (progress.h) ---- */

/* The model, with a warning when a map of it may mislead; NULL with the error printed. */
segcam_model *segcam_cli_load_model (const char *command, const char *path);

/* The node called name, else -1 with "unknown layer" printed and what may have been meant: the
 * closest name, or how many names contain it (info --grep lists them). */
int segcam_cli_find_layer (const char *command, const segcam_model *model, const char *name);

/* The image's size from its header, without decoding it; 0, or the exit status with the error
 * printed when it is unreadable or larger than LARGEST_IMAGE on a side. */
int segcam_cli_image_size (const char *command, const char *path, int *width, int *height);

/* The image as the model reads it, and in *rgb (when rgb is not NULL) as R'G'B', which is the
 * same buffer for a colour model; warns when image and model disagree on colour, or when the
 * working size is far from the size the model was trained at. NULL with the error printed. */
float *segcam_cli_load_image (const char *command, const char *path, const segcam_model *model,
                              int width, int height, int work_width, int work_height, float **rgb);

/* Loads model and image, plans a session and runs the forward pass, with the steps above. The
 * image's size is read from its header and the session planned for its working size under
 * max_size (which refuses what memory cannot hold) before the image is decoded. r is cleared
 * first; free it with segcam_cli_run_clear in any case. */
int segcam_cli_run_forward (segcam_cli_run *r, const char *command, const char *model_path,
                            const char *image_path, gboolean explain, const char *layer, int threads,
                            gboolean exact, int max_size);
/* The same without explaining, for predict: on tiles as --tile says (segcam_cli_net_new), and
 * with r->probabilities when probabilities is TRUE. */
int segcam_cli_run_predict (segcam_cli_run *r, const char *command, const char *model_path,
                            const char *image_path, int threads, gboolean exact, int max_size,
                            int tile, gboolean probabilities);

/* "unknown class" with the closest name and the model's classes printed; EXIT_INPUT. */
int segcam_cli_unknown_class (const char *command, const segcam_model *model, const char *text);

/* The class named on the command line (segcam_model_find_class: by name, ignoring case when
 * unambiguous, or index), or segcam_cli_unknown_class's error. */
int segcam_cli_find_class (const char *command, const segcam_model *model, const char *name,
                           int *cls);

/* The model and what to explain in it, as explain and evaluate name them. */
#define TARGET_OPTIONS(model, cls, layer)                                                         \
  {"model", 'm', 0, G_OPTION_ARG_FILENAME, &(model), "Model file (.safetensors or .onnx)", "MODEL"}, \
  {"class", 'c', 0, G_OPTION_ARG_STRING, &(cls), "Class to explain, by name (any case) or index", "NAME|INDEX"}, \
  {"layer", 'l', 0, G_OPTION_ARG_STRING, &(layer), "Node to explain at (default: the model's)", "NODE"}

/* ---- regions of interest (docs/seg-grad-cam.md, "Region of interest") ---- */

typedef struct {
  char *mask, *rect, *pixel, *component;
  gboolean by_class;
  int v[4];  /* --roi-rect's X, Y, W, H or --roi-pixel's X, Y, set by segcam_cli_check_roi */
} segcam_cli_roi_options;

#define ROI_OPTIONS(ro)                                                                           \
  {"roi-mask", 0, 0, G_OPTION_ARG_FILENAME, &(ro).mask, "ROI weights from a gray image (white = 1)", "PNG"}, \
  {"roi-rect", 0, 0, G_OPTION_ARG_STRING, &(ro).rect, "ROI rectangle", "X,Y,W,H"},                 \
  {"roi-pixel", 0, 0, G_OPTION_ARG_STRING, &(ro).pixel, "ROI of one pixel", "X,Y"},                \
  {"roi-class", 0, 0, G_OPTION_ARG_NONE, &(ro).by_class, "ROI: pixels predicted as the class", NULL}, \
  {"roi-component", 0, 0, G_OPTION_ARG_STRING, &(ro).component,                                    \
   "ROI: largest or smallest 8-connected region predicted as the class", "largest|smallest"}

/* Checks the ROI options and parses their numbers into o->v, before any work; 0, or
 * EXIT_USAGE with the error printed. */
int segcam_cli_check_roi (const char *command, segcam_cli_roi_options *o);

/* Weights from a gray image of the given size, white = 1, a transparent pixel 0 (--roi-mask,
 * evaluate's --context-mask); what names it in messages ("ROI mask"). */
int segcam_cli_load_mask (const char *command, const char *path, const char *what, int width,
                          int height, float **out);

/* The part of the ROI that does not depend on the class (checked options): the mask's weights,
 * the rectangle or the pixel, in *out at the working size, or NULL for the whole image. They
 * are given at the image's size: a mask is resampled as the image is; a rectangle's edges and
 * a pixel are scaled to the working size, the rectangle outwards to whole pixels. */
int segcam_cli_image_roi (const char *command, const segcam_cli_roi_options *o, int width,
                          int height, int work_width, int work_height, float **out);

/* The ROI for class cls: base (segcam_cli_image_roi's, not changed), restricted to the pixels
 * labels predicts as cls for --roi-class and --roi-component, in *out (NULL for the whole image);
 * an error when nothing is left. */
int segcam_cli_class_roi (const char *command, const segcam_cli_roi_options *o, const float *base,
                          const uint8_t *labels, int width, int height, int cls, float **out);

/* ---- the method and its options ---- */

/* The index of value in the NULL-terminated names, def when value is NULL, -1 when unknown. */
int segcam_cli_choice (const char *value, const char *const *names, int def);

typedef struct {
  char *method, *pool, *pool_mode, *score, *weights, *max_channels;
} segcam_cli_method_options;

#define METHOD_OPTIONS(mo)                                                                        \
  {"method", 0, 0, G_OPTION_ARG_STRING, &(mo).method,                                             \
   "CAM method: seg-grad-cam (default), hires, xres, gradcam++, xgrad, layer, eigen, score or "  \
   "ablation", "NAME"},                                                                           \
  {"pool", 0, 0, G_OPTION_ARG_STRING, &(mo).pool,                                                 \
   "xres: gradient block side in target pixels (default 2)", "S"},                                \
  {"pool-mode", 0, 0, G_OPTION_ARG_STRING, &(mo).pool_mode,                                       \
   "xres: pool the gradient by max (default) or mean", "MODE"},                                  \
  {"max-channels", 0, 0, G_OPTION_ARG_STRING, &(mo).max_channels,                                 \
   "score, ablation: only the N channels of highest mean activation (default: all)", "N"}

/* --score and --weights, for the commands that explain a class. */
#define SCORE_OPTIONS(mo)                                                                         \
  {"score", 0, 0, G_OPTION_ARG_STRING, &(mo).score, "Score: logits (default) or probabilities", "MODE"}, \
  {"weights", 0, 0, G_OPTION_ARG_STRING, &(mo).weights,                                           \
   "seg-grad-cam's channel weights: mean (default), abs or relu", "MODE"}

/* Every option of what explain and evaluate explain: model, class, layer, ROI, score, method. */
#define EXPLAIN_OPTIONS(model, cls, layer, ro, mo)                                                \
  TARGET_OPTIONS (model, cls, layer), ROI_OPTIONS (ro), SCORE_OPTIONS (mo), METHOD_OPTIONS (mo)

/* Fills eo's score, weights, method and max_channels fields from the options (usage errors);
 * the caller sets eo->pixels for the methods that rerun the network. A weights mode
 * other than the default, or a pool option, with a method that has no use for it is a mistake
 * worth saying. */
int segcam_cli_parse_method (const char *command, const segcam_cli_method_options *mo,
                             segcam_explain_options *eo);

#endif /* SEGCAM_EXPLAIN_ARGS_H */
