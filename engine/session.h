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

struct segcam_session {
  const segcam_model *model;
  int width, height;      /* the caller's image */
  int hp, wp;             /* padded to the model's size multiple */
  gboolean explain;
  int target;             /* node explained at, -1 when not explaining */
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
};

/* Shapes of every node for a padded input of hp x wp; acts[i].data stays NULL. */
gboolean segcam_plan_shapes (const segcam_model *m, int hp, int wp, segcam_act *acts, GError **error);
/* Marks the nodes that are descendants of target and ancestors of the output. */
void segcam_plan_grad_set (const segcam_model *m, int target, guint8 *needs_grad);
/* Places every buffer in one arena and allocates it (and the conv scratch). */
gboolean segcam_plan_memory (segcam_session *s, GError **error);

/* Runs the backward pass from the gradient already in grads[output] down to the target. */
void segcam_session_backward (segcam_session *s);

#endif /* SEGCAM_SESSION_H */
