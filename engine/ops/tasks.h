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

/* An element-wise kernel over pixels [p0, p1) of its job (each pixel's channels contiguous). */
typedef void (*pixel_fn) (const void *job, size_t p0, size_t p1);

typedef struct {
  pixel_fn fn;
  const void *job;
  size_t n_pixels;
} pixel_job;

static inline void
pixel_task (void *ctx, int task, int thread)
{
  const pixel_job *j = ctx;
  size_t p0 = (size_t) task * PIXEL_BLOCK;
  j->fn (j->job, p0, MIN (p0 + PIXEL_BLOCK, j->n_pixels));
}

/* Runs fn over every pixel of shape's images, in tasks of PIXEL_BLOCK pixels. */
static inline void
pixel_run (segcam_pool *pool, const segcam_act *shape, pixel_fn fn, const void *job)
{
  pixel_job j = {fn, job, (size_t) shape->n * shape->h * shape->w};
  segcam_pool_run (pool, (int) ((j.n_pixels + PIXEL_BLOCK - 1) / PIXEL_BLOCK), pixel_task, &j);
}

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
