/* tasks.h — how kernels split their work over the pool (internal to ops/).
 *
 * Element-wise kernels take blocks of pixels. Kernels whose backward scatters (avgpool, pad) take
 * blocks of channels instead: tasks then never write the same value, whatever the windows or
 * reflections do. */
#ifndef SEGCAM_OPS_TASKS_H
#define SEGCAM_OPS_TASKS_H

#include "ops.h"

#define PIXEL_BLOCK 4096  /* pixels per task of element-wise kernels */
#define CHANNEL_BLOCK 16  /* channels per task of the scattering ops */

/* Tasks split by image and block of CHANNEL_BLOCK channels: how many there are for a, and
 * which image b and channels [k0, k1) of c task covers. */
static inline int
channel_tasks (const segcam_act *a)
{
  return a->n * ((a->c + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK);
}

static inline void
channel_block (int task, int c, int *b, int *k0, int *k1)
{
  int blocks = (c + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
  *b = task / blocks, *k0 = (task % blocks) * CHANNEL_BLOCK, *k1 = MIN (*k0 + CHANNEL_BLOCK, c);
}

/* The jobs of the channel-block ops: forward reads in and writes out; backward reads the
 * gradient in out and accumulates into in. */
typedef struct {
  const void *p;              /* the op's parameters */
  const segcam_act *in, *out;
  gboolean backward;
} channel_job;

static inline void
channel_run (segcam_pool *pool, segcam_task_fn task, const void *p,
             const segcam_act *in, const segcam_act *out, gboolean backward)
{
  channel_job j = {p, in, out, backward};
  segcam_pool_run (pool, channel_tasks (in), task, &j);
}

#endif /* SEGCAM_OPS_TASKS_H */
