/* pointwise.c — batch norm (eval), ReLU, sigmoid, add and channel concat, forward and backward.
 *
 * All of them walk pixels independently, so one job type splits every op into blocks of pixels;
 * the op-specific work is a small switch on contiguous channel vectors. */
#include "ops.h"

#include <math.h>
#include <string.h>

typedef enum {
  PW_BN_FWD, PW_BN_BWD, PW_RELU_FWD, PW_RELU_BWD, PW_RELU_MASK, PW_SIGMOID_FWD, PW_SIGMOID_BWD,
  PW_ADD_FWD, PW_ADD_BWD, PW_CONCAT_FWD, PW_CONCAT_BWD,
} pw_kind;

#define PW_BLOCK 4096   /* pixels per task */

typedef struct {
  pw_kind kind;
  size_t n_pixels;
  int c;                          /* channels of the primary operand */
  const float *x, *y;             /* inputs */
  float *out, *out2;              /* outputs (out2: second gradient of add) */
  const float *scale, *shift;     /* batch norm */
  const segcam_act *const *parts; /* concat: the inputs (forward) or their gradients (backward) */
  int n_parts;
} pw_job;

static void
concat_pixels (const pw_job *j, size_t p0, size_t p1)
{
  int offset = 0;
  for (int i = 0; i < j->n_parts; i++)
    {
      const segcam_act *part = j->parts[i];
      int pc = part->c;
      if (part->data)
        for (size_t p = p0; p < p1; p++)
          {
            if (j->kind == PW_CONCAT_FWD)
              memcpy (j->out + p * j->c + offset, part->data + p * pc, pc * sizeof (float));
            else
              {
                const float *g = j->x + p * j->c + offset;
                float *d = part->data + p * pc;
                for (int k = 0; k < pc; k++)
                  d[k] += g[k];
              }
          }
      offset += pc;
    }
}

static void
pw_task (void *ctx, int task, int thread)
{
  const pw_job *j = ctx;
  size_t p0 = (size_t) task * PW_BLOCK, p1 = MIN (p0 + PW_BLOCK, j->n_pixels);
  if (j->kind == PW_CONCAT_FWD || j->kind == PW_CONCAT_BWD)
    {
      concat_pixels (j, p0, p1);
      return;
    }
  int c = j->c;
  size_t i0 = p0 * c, i1 = p1 * c;
  switch (j->kind)
    {
    case PW_BN_FWD:
      for (size_t p = p0; p < p1; p++)
        for (int k = 0; k < c; k++)
          j->out[p * c + k] = j->x[p * c + k] * j->scale[k] + j->shift[k];
      break;
    case PW_BN_BWD:
      for (size_t p = p0; p < p1; p++)
        for (int k = 0; k < c; k++)
          j->out[p * c + k] += j->x[p * c + k] * j->scale[k];
      break;
    case PW_RELU_FWD:
      for (size_t i = i0; i < i1; i++)
        j->out[i] = j->x[i] > 0 ? j->x[i] : 0;
      break;
    case PW_RELU_BWD: /* x = forward output, y = output gradient */
      for (size_t i = i0; i < i1; i++)
        j->out[i] += j->x[i] > 0 ? j->y[i] : 0;
      break;
    case PW_RELU_MASK:
      for (size_t i = i0; i < i1; i++)
        j->out[i] = j->x[i] > 0 ? j->out[i] : 0;
      break;
    case PW_SIGMOID_FWD:
      for (size_t i = i0; i < i1; i++)
        j->out[i] = 1.0f / (1.0f + expf (-j->x[i]));
      break;
    case PW_SIGMOID_BWD:
      for (size_t i = i0; i < i1; i++)
        j->out[i] += j->y[i] * j->x[i] * (1.0f - j->x[i]);
      break;
    case PW_ADD_FWD:
      for (size_t i = i0; i < i1; i++)
        j->out[i] = j->x[i] + j->y[i];
      break;
    case PW_ADD_BWD:
      for (size_t i = i0; i < i1; i++)
        {
          if (j->out)
            j->out[i] += j->x[i];
          if (j->out2)
            j->out2[i] += j->x[i];
        }
      break;
    case PW_CONCAT_FWD:
    case PW_CONCAT_BWD:
      break;
    }
  (void) thread;
}

static void
pw_run (segcam_pool *pool, pw_job *j, const segcam_act *shape)
{
  j->n_pixels = (size_t) shape->n * shape->h * shape->w;
  j->c = shape->c;
  segcam_pool_run (pool, (int) ((j->n_pixels + PW_BLOCK - 1) / PW_BLOCK), pw_task, j);
}

void
segcam_batchnorm_forward (segcam_pool *pool, const segcam_batchnorm_params *p, const segcam_act *in,
                          segcam_act *out)
{
  pw_job j = {.kind = PW_BN_FWD, .x = in->data, .out = out->data, .scale = p->scale, .shift = p->shift};
  pw_run (pool, &j, in);
}

void
segcam_batchnorm_backward (segcam_pool *pool, const segcam_batchnorm_params *p,
                           const segcam_act *dout, segcam_act *din)
{
  pw_job j = {.kind = PW_BN_BWD, .x = dout->data, .out = din->data, .scale = p->scale};
  pw_run (pool, &j, dout);
}

void
segcam_relu_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out)
{
  pw_job j = {.kind = PW_RELU_FWD, .x = in->data, .out = out->data};
  pw_run (pool, &j, in);
}

void
segcam_relu_backward (segcam_pool *pool, const segcam_act *out, const segcam_act *dout, segcam_act *din)
{
  pw_job j = {.kind = PW_RELU_BWD, .x = out->data, .y = dout->data, .out = din->data};
  pw_run (pool, &j, dout);
}

void
segcam_relu_mask (segcam_pool *pool, const segcam_act *out, segcam_act *g)
{
  pw_job j = {.kind = PW_RELU_MASK, .x = out->data, .out = g->data};
  pw_run (pool, &j, g);
}

void
segcam_sigmoid_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out)
{
  pw_job j = {.kind = PW_SIGMOID_FWD, .x = in->data, .out = out->data};
  pw_run (pool, &j, in);
}

void
segcam_sigmoid_backward (segcam_pool *pool, const segcam_act *out, const segcam_act *dout,
                         segcam_act *din)
{
  pw_job j = {.kind = PW_SIGMOID_BWD, .x = out->data, .y = dout->data, .out = din->data};
  pw_run (pool, &j, dout);
}

void
segcam_add_forward (segcam_pool *pool, const segcam_act *a, const segcam_act *b, segcam_act *out)
{
  pw_job j = {.kind = PW_ADD_FWD, .x = a->data, .y = b->data, .out = out->data};
  pw_run (pool, &j, a);
}

void
segcam_add_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *da, segcam_act *db)
{
  /* For add (x, x) da == db: both += happen in turn in the same task, so nothing races. */
  pw_job j = {.kind = PW_ADD_BWD, .x = dout->data, .out = da ? da->data : NULL,
              .out2 = db ? db->data : NULL};
  pw_run (pool, &j, dout);
}

void
segcam_concat_forward (segcam_pool *pool, const segcam_act *const *ins, int n_ins, segcam_act *out)
{
  pw_job j = {.kind = PW_CONCAT_FWD, .out = out->data, .parts = ins, .n_parts = n_ins};
  pw_run (pool, &j, out);
}

void
segcam_concat_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *const *dins, int n_ins)
{
  /* Parts with data == NULL need no gradient. A node concatenated with itself appears twice with
   * the same buffer: the parts are visited in turn within a pixel, so that is safe too. */
  pw_job j = {.kind = PW_CONCAT_BWD, .x = dout->data, .parts = (const segcam_act *const *) dins,
              .n_parts = n_ins};
  pw_run (pool, &j, dout);
}
