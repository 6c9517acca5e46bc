/* gimp-common.h — what the libgimp 2.10 and 3.0 adapters share.
 *
 * The procedures' names and Procedure Browser texts (the public interface of DESIGN.md §5 is the
 * same in both), the check of the source layer, and a run up to the finished layers: the model,
 * the job, the progress bar. This is compiled against whichever libgimp the build chose: the
 * progress calls are the same in both, and nothing here names a layer, image or run mode.
 */
#ifndef SEGCAM_GIMP_COMMON_H
#define SEGCAM_GIMP_COMMON_H

#include <libgimp/gimp.h>

#include "explain-job.h"

G_BEGIN_DECLS

#define SEGCAM_EXPLAIN_PROC  "plug-in-segcam-explain"
#define SEGCAM_SEGMENT_PROC  "plug-in-segcam-segment"
#define SEGCAM_BINARY        "seg-grad-cam"
#define SEGCAM_MENU_PATH     "<Image>/Filters/Seg-Grad-CAM"
#define SEGCAM_IMAGE_TYPES   "RGB*, GRAY*"
#define SEGCAM_AUTHOR        "The segcam authors"
#define SEGCAM_COPYRIGHT     "GPL-3.0-or-later"
#define SEGCAM_DATE          "2025"

#define SEGCAM_EXPLAIN_BLURB "Explain a segmentation network's prediction with Seg-Grad-CAM"
#define SEGCAM_EXPLAIN_HELP                                                                     \
  "Segments the layer with a segmentation network and explains the prediction of one or "     \
  "more classes over a region of interest with Seg-Grad-CAM (Vinogradova et al., AAAI 2020): " \
  "the heat map shows which parts of the layer the network's score for the class in the ROI "  \
  "depends on, as seen at an inner layer of the network. The ROI is the selection "            \
  "(feathered selections give fractional weights; the whole layer when nothing is "            \
  "selected), optionally reduced to the pixels predicted as the class. The heat map covers "   \
  "the whole layer, because the context outside the ROI is what the method reveals.\n\n"      \
  "A layer group is added directly above the layer, in one undo step, holding per class a "    \
  "heat-map layer named like \"Seg-Grad-CAM: digit 2 @ mid.relu1 (selection)\" and/or an "     \
  "overlay, and optionally the segmentation; only its top layer is visible. The layer itself " \
  "is never modified. " SEGCAM_WORKING_SIZE_HELP ("maps")                                     \
  " Models are .safetensors files (see the segcam README); the bundled ones live in the "      \
  "models folder beside the plug-in."
#define SEGCAM_SEGMENT_BLURB "Segment a layer with a segmentation network"
#define SEGCAM_SEGMENT_HELP                                                                     \
  "Runs a segmentation network on the layer and adds its prediction as a new layer directly "  \
  "above it, in the model's class colours, in one undo step. The layer itself is never "       \
  "modified. " SEGCAM_WORKING_SIZE_HELP ("labels")
#define SEGCAM_WORKING_SIZE_HELP(what)                                                          \
  "Layers larger than the maximum working size (a dialog setting, "                           \
  G_STRINGIFY (EXPLAIN_DEFAULT_MAX_SIZE) " pixels in batch mode) are resampled for the "       \
  "network and the " what " resampled back."

/* The arguments after run-mode, image and drawable(s), in this order (DESIGN.md §5). */
#define SEGCAM_ARG_MODEL    "Path of a .safetensors model; \"\" = the bundled default model"
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
  "Heat-map colours: { JET (0), TURBO (1), VIRIDIS (2), INFERNO (3), GRAYSCALE (4) } "         \
  "(grayscale images always get GRAYSCALE)"
#define SEGCAM_ARG_OPACITY                                                                      \
  "Opacity of the heat-map layers, and of the heat map in the overlay (0 <= opacity <= 100)"
#define SEGCAM_ARG_OUTPUTS                                                                      \
  "Layers to create, a bit set: 1 a heat-map layer per class, 2 an overlay per class (heat "   \
  "map composited over the source), 4 the segmentation (1 <= outputs <= 7)"
#define SEGCAM_ARG_SEGMENT_OPACITY "Opacity of the segmentation layer (0 <= opacity <= 100)"
#define SEGCAM_ARG_MAX_SIZE                                                                     \
  "Larger layers are scaled down, keeping their aspect ratio, so that their longer side has "  \
  "this many pixels; the network's memory grows with this size."
#define SEGCAM_RETURN_GROUP "The created layer group"
#define SEGCAM_RETURN_SEGMENTATION "The created segmentation layer"

/* The type of a new layer in an image of base type gray or RGB. */
GimpImageType gimp_common_layer_type (gboolean gray, gboolean alpha);

/* Fails unless the source is a plain layer (no group, mask or channel) of an RGB or grayscale
 * image. */
gboolean gimp_common_check_source (gboolean plain_layer, gboolean indexed, GError **error);

/* The whole computation of a run, with GIMP's progress bar: loads the model model_setting names
 * (unless model is given: a dialog loaded it already), then runs the job on source. The model
 * and the source's buffers are released here either way. Returns the layers to create, or NULL
 * with an error. Touches no image. */
ExplainResult *gimp_common_compute (const gchar *model_dir, const gchar *model_setting,
                                    segcam_model *model, const ExplainSettings *settings,
                                    ExplainSource *source, GError **error);

G_END_DECLS

#endif /* SEGCAM_GIMP_COMMON_H */
