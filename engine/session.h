/* session.h — a planned run of one model at one image size (internal).
 *
 * The plan (plan.c) fixes every activation's shape and, from the nodes' lifetimes on a timeline
 * of forward steps followed by backward steps, places all activations and gradients in one arena
 * with reuse. Only the nodes on paths from the target layer to the output get gradients, and only
 * the activations their backward reads outlive their last forward use. */
#ifndef SEGCAM_SESSION_H
#define SEGCAM_SESSION_H

#include "model.h"
#include "ops.h"

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

struct segcam_session {
  const segcam_model *model;
  int width, height;      /* the caller's image */
  int hp, wp;             /* padded to the model's size multiple */
  int batch;              /* images per forward pass */
  segcam_run_mode mode;
  gboolean explain;       /* mode == SEGCAM_RUN_EXPLAIN */
  int target;             /* node explained at (0, the input, when training), -1 otherwise */
  segcam_pool *pool;
  segcam_progress_fn progress;
  void *progress_data;

  segcam_act *acts;       /* per node */
  segcam_act *grads;      /* per node; data NULL outside the gradient set */
  guint8 *needs_grad;     /* per node: on a path from target to output */
  float *arena;
  size_t arena_floats;
  float *scratch;         /* per-thread conv scratch */
  size_t scratch_per_thread;
  float *cam;             /* L of the last explanation: target h x w */
  float *resized;         /* L resized to hp x wp */
  gboolean forward_done;

  /* training only */
  segcam_node_grads *param_grads; /* per node, filled by the trainer */
  float **bn_mean, **bn_rstd;     /* per batch-norm node: the last batch's statistics */
  double bn_momentum;
};

/* The general constructor; segcam_session_new is the public face for FORWARD and EXPLAIN. */
segcam_session *segcam_session_create (const segcam_model *m, int width, int height, int batch,
                                       segcam_run_mode mode, int target, int n_threads,
                                       GError **error);

/* Shapes of every node for a batch of padded inputs of hp x wp; acts[i].data stays NULL. */
gboolean segcam_plan_shapes (const segcam_model *m, int batch, int hp, int wp, segcam_act *acts,
                             GError **error);
/* Marks the nodes that are descendants of target and ancestors of the output. */
void segcam_plan_grad_set (const segcam_model *m, int target, guint8 *needs_grad);
/* Places every buffer in one arena and allocates it (and the conv scratch). */
gboolean segcam_plan_memory (segcam_session *s, GError **error);

/* Runs the backward pass from the gradient already in grads[output] down to the target. */
void segcam_session_backward (segcam_session *s);

#endif /* SEGCAM_SESSION_H */
