/* explain-args.h — what the commands that run the network and explain a class share (explain,
 * evaluate, predict, bench): loading model and image into a session, the ROI options, the
 * method, score and weights options, and the choice of a class by name. Every function that can
 * fail prints the one-line error as command's and returns the exit status (0 on success). */
#ifndef SEGCAM_EXPLAIN_ARGS_H
#define SEGCAM_EXPLAIN_ARGS_H

#include "segcam.h"

#include <glib.h>

/* A model, an image and a session run forward on it. */
typedef struct {
  segcam_model *model;
  float *pixels;
  int width, height;
  segcam_session *session;
  uint8_t *labels;
} segcam_cli_run;

void segcam_cli_run_clear (segcam_cli_run *r);

/* Every command that runs the network can be asked for the reference kernels. */
#define EXACT_OPTION                                                                            \
  {"exact", 0, 0, G_OPTION_ARG_NONE, &exact,                                                    \
   "Run node by node with direct convolutions (slower; the fast path is tested against it)",   \
   NULL}

/* The longer side of the images predict and explain take by default: the plug-in's largest
 * working size. Beyond it an image is more likely a mistake than a photograph. */
#define DEFAULT_MAX_SIZE 16384

#define MAX_SIZE_OPTION                                                                         \
  {"max-size", 0, 0, G_OPTION_ARG_INT, &max_size,                                               \
   "Refuse images whose longer side exceeds N pixels (default " G_STRINGIFY (DEFAULT_MAX_SIZE) ")", \
   "N"}

/* Loads model and image, plans a session and runs the forward pass. The image's size is read
 * from its header and the session planned for it (which refuses what memory cannot hold) before
 * the image is decoded. r is cleared first; free it with segcam_cli_run_clear in any case. */
int segcam_cli_run_forward (segcam_cli_run *r, const char *command, const char *model_path,
                            const char *image_path, gboolean explain, const char *layer, int threads,
                            gboolean exact, int max_size);

/* The class named on the command line, by name or index, or the error with the model's classes. */
int segcam_cli_find_class (const char *command, const segcam_model *model, const char *name,
                           int *cls);

/* The model and what to explain in it, as explain and evaluate name them. */
#define TARGET_OPTIONS(model, cls, layer)                                                         \
  {"model", 'm', 0, G_OPTION_ARG_FILENAME, &(model), "Model file (.safetensors or .onnx)", "MODEL"}, \
  {"class", 'c', 0, G_OPTION_ARG_STRING, &(cls), "Class to explain, by name or index", "NAME|INDEX"}, \
  {"layer", 'l', 0, G_OPTION_ARG_STRING, &(layer), "Node to explain at (default: the model's)", "NODE"}

/* ---- regions of interest (docs/seg-grad-cam.md, "Region of interest") ---- */

typedef struct {
  char *mask, *rect, *pixel, *component;
  gboolean by_class;
} segcam_cli_roi_options;

#define ROI_OPTIONS(ro)                                                                           \
  {"roi-mask", 0, 0, G_OPTION_ARG_FILENAME, &(ro).mask, "ROI weights from a gray image (white = 1)", "PNG"}, \
  {"roi-rect", 0, 0, G_OPTION_ARG_STRING, &(ro).rect, "ROI rectangle", "X,Y,W,H"},                 \
  {"roi-pixel", 0, 0, G_OPTION_ARG_STRING, &(ro).pixel, "ROI of one pixel", "X,Y"},                \
  {"roi-class", 0, 0, G_OPTION_ARG_NONE, &(ro).by_class, "ROI: pixels predicted as the class", NULL}, \
  {"roi-component", 0, 0, G_OPTION_ARG_STRING, &(ro).component,                                    \
   "ROI: largest or smallest 8-connected region predicted as the class", "largest|smallest"}

/* Weights from a gray image of the given size, white = 1, a transparent pixel 0 (--roi-mask,
 * evaluate's --context-mask); what names it in messages ("ROI mask"). */
int segcam_cli_load_mask (const char *command, const char *path, const char *what, int width,
                          int height, float **out);

/* The ROI weights (*out NULL: the whole image) for class cls of the run. */
int segcam_cli_build_roi (const char *command, const segcam_cli_roi_options *o,
                          const segcam_cli_run *r, int cls, float **out);

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
