/* segcam-train.h — training segmentation networks in libsegcam (public API).
 *
 * A trainer owns a model and updates it in place with per-pixel softmax cross-entropy (sigmoid
 * binary cross-entropy for one-channel models), batch normalisation in train mode and Adam, all
 * with PyTorch's conventions, so one step matches torch.optim.Adam on nn.BatchNorm2d nets.
 * Training is deterministic: the same model, batches and options give the same bytes. */
#ifndef SEGCAM_TRAIN_H
#define SEGCAM_TRAIN_H

#include "segcam.h"

G_BEGIN_DECLS

/* The CSBDeep-style U-Net of the paper: per level two (conv3x3 [+ batch norm] + ReLU), 2x2
 * max-pool, filters doubling per level; the decoder upsamples (bilinear x2, or a 2x2 stride-2
 * transposed conv), concatenates the skip and applies two convs again; a 1x1 conv gives the
 * logits. Weights get He (Kaiming normal, fan-in) initialisation, batch norms gamma 1, beta 0. */
typedef struct {
  int in_channels;            /* 1 (gray) or 3 (RGB) */
  int n_classes;
  const char *const *class_names;  /* n_classes names */
  const char *const *class_colors; /* "#rrggbb" each, or NULL */
  int depth;                  /* pooling steps, >= 1 */
  int filters;                /* at the first level */
  gboolean batchnorm;
  gboolean transposed;        /* upsample with transposed convs instead of bilinear */
  float mean, std;            /* input normalisation, for every channel */
  guint64 seed;
  const char *name;           /* segcam.name, or NULL */
} segcam_unet_spec;

segcam_model *segcam_unet_build (const segcam_unet_spec *spec, GError **error);

typedef struct segcam_trainer segcam_trainer;

typedef struct {
  int batch;                  /* images per step */
  int width, height;          /* of every image */
  double beta1, beta2, eps;   /* Adam; 0 means PyTorch's defaults 0.9, 0.999, 1e-8 */
  double bn_momentum;         /* 0 means PyTorch's 0.1 */
  int n_threads;              /* 0: all cores */
  gboolean exact;             /* every conv direct (the gather GEMM); otherwise the 3x3 convs'
                                 forward, input gradient and weight gradient run as Winograd
                                 F(4x4, 3x3) where it pays: about 1.6x the steps per second
                                 (bench/train-bench), gradients within 1.1e-5 of float64
                                 PyTorch (direct: 2.4e-6) */
} segcam_trainer_options;

/* Takes ownership of model. */
segcam_trainer *segcam_trainer_new (segcam_model *model, const segcam_trainer_options *options,
                                    GError **error);
void segcam_trainer_free (segcam_trainer *trainer);
segcam_model *segcam_trainer_model (segcam_trainer *trainer);

typedef struct {
  double loss;                /* mean over the batch's pixels */
  double accuracy;            /* pixel accuracy of the batch, before the update */
} segcam_step_result;

/* One Adam step on a batch: images batch x height x width x channels in [0, 1], labels
 * batch x height x width class indices. Fails with an error, never silently: for a label that is
 * not a class, and when the run diverges (a loss or an updated weight NaN or infinite; the
 * trainer's weights are then unusable, and what was saved before is what is left). */
gboolean segcam_trainer_step (segcam_trainer *trainer, const float *images, const uint8_t *labels,
                              double lr, segcam_step_result *result, GError **error);
int64_t segcam_trainer_steps (const segcam_trainer *trainer);

/* Gradients of the last step, in PyTorch's layout, by tensor name (NULL for unknown names). */
const float *segcam_trainer_gradient (segcam_trainer *trainer, const char *tensor, size_t *n);

/* Makes the model usable for inference (eval-mode batch norm from the running statistics). */
void segcam_trainer_sync (segcam_trainer *trainer);

/* Writes the model (segcam.training = training_json when non-NULL; segcam.training_size = the
 * options' width x height). With checkpoint TRUE the
 * file also holds Adam's state and step count, so segcam_trainer_resume can continue; it stays a
 * loadable model either way. */
gboolean segcam_trainer_save (segcam_trainer *trainer, const char *path, const char *training_json,
                              gboolean checkpoint, GError **error);
/* Restores Adam's state from a checkpoint of this model (loaded with segcam_model_load). */
gboolean segcam_trainer_resume (segcam_trainer *trainer, const char *path, GError **error);

G_END_DECLS

#endif /* SEGCAM_TRAIN_H */
