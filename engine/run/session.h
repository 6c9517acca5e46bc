/* session.h — a planned run of one model at one image size (internal).
 *
 * The plan (plan.c) takes every activation's shape from the graph (graph/shapes.c) and, from the
 * nodes' lifetimes on a timeline of forward steps followed by backward steps, places all
 * activations and gradients in one arena with reuse. Only the nodes on paths from the target
 * layer to the output get gradients, and only the activations their backward reads outlive their
 * last forward use (of a fast-path ReLU, only its bits). */
#ifndef SEGCAM_SESSION_H
#define SEGCAM_SESSION_H

#include "model.h"
#include "ops.h"
#include "winograd.h"

typedef enum {
  SEGCAM_RUN_FORWARD,     /* predictions only */
  SEGCAM_RUN_EXPLAIN,     /* forward once, then backward to a target layer per explanation */
  SEGCAM_RUN_TRAIN,       /* batch statistics, gradients for every node and parameter */
} segcam_run_mode;

/* Parameter gradients of one node (training): conv dW in the forward-packed layout and db;
 * batch norm dgamma and dbeta. */
typedef struct {
  float *weight, *bias;
} segcam_node_grads;

/* Where a Winograd step's transformed weights for one conv (its forward, or its backward into
 * one part) are: the session's shared buffer on the first two runs, then u (NULL until then). */
typedef struct {
  int runs;
  float *u;
} segcam_wino_slot;

/* One conv of the fast path (fuse.c) with what it absorbs: it reads its input channels from parts
 * (a concat's inputs, in place, or the conv's own input) and writes the activation of out, the
 * last node of the chain conv [-> batch norm] [-> ReLU]. */
typedef struct {
  int head, out;
  gboolean relu;
  const segcam_batchnorm_params *bn; /* the batch norm it absorbs (NULL: none) */
  segcam_conv_params p;          /* the conv with bn folded in; a Winograd step's weights are the
                                    model's, bn's scale applied when they are transformed */
  gboolean owns_weights;         /* p's w_fwd and w_bwd are the step's, not the model's */
  gboolean owns_bias;            /* p's bias is the step's */
  int n_parts;
  const int *parts;              /* node indices */
  gboolean winograd;
  segcam_wino_slot *kept;        /* Winograd: the forward's, then each part's backward */
} segcam_conv_step;

struct segcam_session {
  const segcam_model *model;
  int width, height;      /* the caller's image */
  int hp, wp;             /* padded to the model's size multiple, or the model's fixed size */
  gboolean resampled;     /* the fixed size is not the image's: pixels are resampled to it, and
                             logits and maps back (image_logits, segcam_session_map_grid) */
  float *image_logits;    /* resampled: the output's logits at width x height, after forward */
  float *network_roi;     /* resampled: the last ROI at hp x wp */
  int batch;              /* images per forward pass */
  segcam_run_mode mode;
  gboolean explain;       /* mode == SEGCAM_RUN_EXPLAIN */
  gboolean exact;         /* every conv direct: no fast path, no Winograd in training */
  int target;             /* node explained at (0, the input, when training), -1 otherwise */
  segcam_pool *pool;
  segcam_progress_fn progress;
  void *progress_data;

  segcam_act *acts;       /* per node */
  segcam_act *grads;      /* per node; data NULL outside the gradient set */
  guint8 *needs_grad;     /* per node: on a path from target to output */
  guint32 **relu_bits;    /* per node: a fast-path step's ReLU output as bits (segcam_relu_bits)
                             where backward needs them, else NULL */
  float *arena;
  size_t arena_floats;
  float *scratch;         /* per-thread conv scratch */
  size_t scratch_per_thread;
  float *wino_weights;    /* the transformed weights of the Winograd step that runs */
  size_t wino_floats;
  size_t wino_kept_floats; /* in the steps' kept slots */
  float *cam;             /* L of the last explanation: target h x w */
  float *resized;         /* L resized to hp x wp */
  gboolean forward_done;

  /* fast path (fuse.c); steps NULL when the session runs node by node */
  segcam_conv_step *steps;
  int n_steps;
  int *step_at;           /* per node: the step whose output it is, or -1 */
  guint8 *absorbed;       /* per node: computed inside a step, never materialised */

  /* training only */
  float *conv_work;               /* segcam_op_run.conv_work */
  size_t conv_work_floats;
  segcam_node_grads *param_grads; /* per node, filled by the trainer */
  float **bn_mean, **bn_rstd;     /* per batch-norm node: the last batch's statistics */
  double bn_momentum;
};

/* The part of the output the image's pixels are: its top-left width x height, or all of it when
 * the image is resampled to the network's fixed size. */
static inline int
segcam_session_covered_w (const segcam_session *s)
{
  return s->resampled ? s->wp : s->width;
}

static inline int
segcam_session_covered_h (const segcam_session *s)
{
  return s->resampled ? s->hp : s->height;
}

/* The logits of image pixel (x, y): the output's own, or their resampling to the image. */
static inline const float *
segcam_session_logits_at (const segcam_session *s, int x, int y)
{
  const segcam_act *z = &s->acts[s->model->output];
  if (s->resampled)
    return s->image_logits + ((size_t) y * s->width + x) * z->c;
  return z->data + ((size_t) y * s->wp + x) * z->c;
}

/* The ROI (width x height weights, or NULL for the whole image) over the covered part of the
 * output: roi itself, or its resampling to the network's size. */
const float *segcam_session_network_roi (segcam_session *s, const float *roi);

/* Where a map is resized before it is cropped to the image: the padded input (the padding's
 * context stays out of the map), or the image itself when the network's size is another. */
static inline segcam_act
segcam_session_map_grid (const segcam_session *s)
{
  return (segcam_act) {s->resized, 1, s->resampled ? s->height : s->hp,
                       s->resampled ? s->width : s->wp, 1};
}

/* The general constructor; segcam_session_new is the public face for FORWARD and EXPLAIN.
 * exact: node by node with direct convolutions, no fast path (fuse.c). Training runs node by node
 * either way; unless exact, its 3x3 convs' forward and input gradient run as Winograd
 * (segcam_op_run.winograd). */
segcam_session *segcam_session_create (const segcam_model *m, int width, int height, int batch,
                                       segcam_run_mode mode, int target, int n_threads,
                                       gboolean exact, GError **error);

/* Marks the nodes that are descendants of target and ancestors of the output. */
void segcam_plan_grad_set (const segcam_model *m, int target, guint8 *needs_grad);
/* Places every buffer in one arena and allocates it (and the conv scratch). */
gboolean segcam_plan_memory (segcam_session *s, GError **error);

/* Whether node i is computed inside a fast-path step and so has no buffer and no node of its own
 * to run; the step, if any, whose output node i is (NULL otherwise). */
static inline gboolean
segcam_node_absorbed (const segcam_session *s, int i)
{
  return s->absorbed && s->absorbed[i];
}

static inline const segcam_conv_step *
segcam_step_at (const segcam_session *s, int i)
{
  return s->step_at && s->step_at[i] >= 0 ? &s->steps[s->step_at[i]] : NULL;
}

/* Decides the fast path's steps and prepares their weights (forward and explain sessions). */
gboolean segcam_fuse_plan (segcam_session *s, GError **error);
void segcam_fuse_free (segcam_session *s);
/* The nodes whose activations node i's computation reads: a step's parts, or the node's inputs.
 * Absorbed nodes read nothing of their own. */
int segcam_node_reads (const segcam_session *s, int i, const int **inputs);
/* Per-thread scratch floats the Winograd steps need. */
size_t segcam_fuse_scratch (const segcam_session *s);
/* Floats of the one buffer the Winograd steps transform their weights into (wino_weights). */
size_t segcam_fuse_weight_floats (const segcam_session *s);
void segcam_step_forward (segcam_session *s, const segcam_conv_step *st);
/* Back-propagates grads[st->out] (which it overwrites) into the gradients of the step's parts;
 * dparts[k] NULL: part k needs none. A Winograd step overwrites dparts[k] where fresh[k] and
 * adds to it elsewhere; other steps always add. */
void segcam_step_backward (segcam_session *s, const segcam_conv_step *st, segcam_act *const *dparts,
                           const gboolean *fresh);

/* Runs the backward pass from the gradient already in grads[output] down to the target. */
void segcam_session_backward (segcam_session *s);

/* Reruns the network from the target on: new runs pixels (already checked by a forward pass) up
 * to the target and saves what the later nodes read of the earlier ones; each rerun_forward then
 * recomputes every node after the target from acts[target] as the caller left it (a replaced
 * activation). */
typedef struct segcam_rerun segcam_rerun;
segcam_rerun *segcam_rerun_new (segcam_session *s, const float *pixels);
void segcam_rerun_forward (segcam_session *s, const segcam_rerun *r);
void segcam_rerun_free (segcam_rerun *r);

#endif /* SEGCAM_SESSION_H */
