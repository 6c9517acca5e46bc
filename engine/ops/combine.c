/* combine.c — the ops of several inputs: add, mul (whose second factor may be one pixel per
 * image, a gate, broadcast over the first) and channel concat. */
#include "tasks.h"

#include <string.h>

/* ---- add ------------------------------------------------------------------------------------ */

typedef struct {
  const float *x, *y;     /* forward: the two terms; backward: x is the output gradient */
  float *out, *out2;      /* forward: the sum; backward: the two gradients (either may be NULL) */
  int c;
} add_job;

static void
add_forward_pixels (const void *job, size_t p0, size_t p1)
{
  const add_job *j = job;
  for (size_t i = p0 * j->c; i < p1 * j->c; i++)
    j->out[i] = j->x[i] + j->y[i];
}

static void
add_backward_pixels (const void *job, size_t p0, size_t p1)
{
  const add_job *j = job;
  for (size_t i = p0 * j->c; i < p1 * j->c; i++)
    {
      if (j->out)
        j->out[i] += j->x[i];
      if (j->out2)
        j->out2[i] += j->x[i];
    }
}

void
segcam_add_forward (segcam_pool *pool, const segcam_act *a, const segcam_act *b, segcam_act *out)
{
  add_job j = {a->data, b->data, out->data, NULL, a->c};
  pixel_run (pool, a, add_forward_pixels, &j);
}

void
segcam_add_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *da, segcam_act *db)
{
  /* For add (x, x) da == db: both += happen in turn in the same task, so nothing races. */
  add_job j = {dout->data, NULL, da ? da->data : NULL, db ? db->data : NULL, dout->c};
  pixel_run (pool, dout, add_backward_pixels, &j);
}

/* ---- concat along channels -------------------------------------------------------------------- */

typedef struct {
  const segcam_act *const *parts; /* the inputs (forward) or their gradients (backward) */
  int n_parts;
  float *out;                     /* forward output */
  const float *dy;                /* output gradient (backward) */
  int c;
} concat_job;

static void
concat_pixels (const void *job, size_t p0, size_t p1)
{
  const concat_job *j = job;
  int offset = 0;
  for (int i = 0; i < j->n_parts; i++)
    {
      const segcam_act *part = j->parts[i];
      int pc = part->c;
      if (part->data)
        for (size_t p = p0; p < p1; p++)
          {
            if (!j->dy)
              memcpy (j->out + p * j->c + offset, part->data + p * pc, pc * sizeof (float));
            else
              {
                const float *g = j->dy + p * j->c + offset;
                float *d = part->data + p * pc;
                for (int k = 0; k < pc; k++)
                  d[k] += g[k];
              }
          }
      offset += pc;
    }
}

void
segcam_concat_forward (segcam_pool *pool, const segcam_act *const *ins, int n_ins, segcam_act *out)
{
  concat_job j = {ins, n_ins, out->data, NULL, out->c};
  pixel_run (pool, out, concat_pixels, &j);
}

void
segcam_concat_backward (segcam_pool *pool, const segcam_act *dout, segcam_act *const *dins, int n_ins)
{
  /* Parts with data == NULL need no gradient. A node concatenated with itself appears twice with
   * the same buffer: the parts are visited in turn within a pixel, so that is safe too. */
  concat_job j = {(const segcam_act *const *) dins, n_ins, NULL, dout->data, dout->c};
  pixel_run (pool, dout, concat_pixels, &j);
}

/* ---- mul, with the second operand optionally one pixel broadcast over the first's ---------- */

typedef struct {
  const segcam_act *a, *b, *dy;
  float *out, *da, *db;
  gboolean broadcast;
} mul_job;

static inline const float *
mul_b (const mul_job *j, size_t pixel)
{
  /* pixel counts over the whole batch; a broadcast b has one pixel per image */
  size_t hw = (size_t) j->a->h * j->a->w;
  return j->b->data + (j->broadcast ? pixel / hw : pixel) * j->b->c;
}

static void
mul_task (void *ctx, int task, int thread)
{
  const mul_job *j = ctx;
  size_t n = (size_t) j->a->n * j->a->h * j->a->w, c = j->a->c;
  size_t p0 = (size_t) task * PIXEL_BLOCK, p1 = MIN (p0 + PIXEL_BLOCK, n);
  for (size_t p = p0; p < p1; p++)
    {
      const float *a = j->a->data + p * c, *b = mul_b (j, p);
      if (!j->dy)
        for (size_t k = 0; k < c; k++)
          j->out[p * c + k] = a[k] * b[k];
      else
        {
          const float *g = j->dy->data + p * c;
          if (j->da)
            for (size_t k = 0; k < c; k++)
              j->da[p * c + k] += g[k] * b[k];
          if (j->db && !j->broadcast)
            for (size_t k = 0; k < c; k++)
              j->db[p * c + k] += g[k] * a[k];
        }
    }
  (void) thread;
}

/* The broadcast operand's gradient sums over pixels: one task per image and channel block, in
 * double, in pixel order, so the result does not depend on the threads. */
static void
mul_reduce_task (void *ctx, int task, int thread)
{
  const mul_job *j = ctx;
  int c = j->a->c, b, k0, k1;
  channel_block (task, c, &b, &k0, &k1);
  size_t hw = (size_t) j->a->h * j->a->w;
  double sum[CHANNEL_BLOCK] = {0};
  for (size_t p = (size_t) b * hw; p < (size_t) (b + 1) * hw; p++)
    for (int k = k0; k < k1; k++)
      sum[k - k0] += (double) j->dy->data[p * c + k] * j->a->data[p * c + k];
  for (int k = k0; k < k1; k++)
    j->db[(size_t) b * c + k] += (float) sum[k - k0];
  (void) thread;
}

static int
mul_tasks (const segcam_act *a)
{
  return (int) (((size_t) a->n * a->h * a->w + PIXEL_BLOCK - 1) / PIXEL_BLOCK);
}

static gboolean
mul_broadcasts (const segcam_act *a, const segcam_act *b)
{
  return b->h == 1 && b->w == 1 && (a->h != 1 || a->w != 1);
}

void
segcam_mul_forward (segcam_pool *pool, const segcam_act *a, const segcam_act *b, segcam_act *out)
{
  mul_job j = {.a = a, .b = b, .out = out->data, .broadcast = mul_broadcasts (a, b)};
  segcam_pool_run (pool, mul_tasks (a), mul_task, &j);
}

void
segcam_mul_backward (segcam_pool *pool, const segcam_act *a, const segcam_act *b,
                     const segcam_act *dout, segcam_act *da, segcam_act *db)
{
  mul_job j = {.a = a, .b = b, .dy = dout, .da = da ? da->data : NULL, .db = db ? db->data : NULL,
               .broadcast = mul_broadcasts (a, b)};
  /* mul (x, x): da and db are one buffer, updated in turn within a task, as add does. */
  segcam_pool_run (pool, mul_tasks (a), mul_task, &j);
  if (j.db && j.broadcast)
    segcam_pool_run (pool, channel_tasks (a), mul_reduce_task, &j);
}


/* ---- the ops -------------------------------------------------------------------------- */

extern const segcam_op_def segcam_op_add, segcam_op_mul;

/* add and mul take inputs of equal channels. */
static gboolean
same_channels (segcam_attrs *a, segcam_node *node, const segcam_node *nodes, const char *op)
{
  int c1 = nodes[node->inputs[1]].channels;
  if (c1 != node->channels)
    return segcam_attr_fail (a, "%s of %d and %d channels", op, node->channels, c1);
  return TRUE;
}

static gboolean
parse_add (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  return same_channels (a, node, nodes, segcam_op_add.name);
}

static gboolean
parse_mul (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  return same_channels (a, node, nodes, segcam_op_mul.name);
}

static gboolean
parse_concat (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  int64_t sum = 0;
  for (int i = 0; i < node->n_inputs; i++)
    sum += nodes[node->inputs[i]].channels;
  if (sum > SEGCAM_MAX_CHANNELS)
    return segcam_attr_fail (a, "concat gives %" G_GINT64_FORMAT " channels, more than %d", sum,
                             SEGCAM_MAX_CHANNELS);
  node->channels = (int) sum;
  return TRUE;
}

/* Inputs of one size (add, concat). */
static char *
same_size_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_act *x = &acts[n->inputs[0]];
  out->h = x->h, out->w = x->w;
  for (int k = 1; k < n->n_inputs; k++)
    if (acts[n->inputs[k]].h != x->h || acts[n->inputs[k]].w != x->w)
      return g_strdup_printf ("inputs of %dx%d and %dx%d pixels do not match", x->w, x->h,
                              acts[n->inputs[k]].w, acts[n->inputs[k]].h);
  return NULL;
}

/* The second factor may be one pixel (a gate), broadcast over the first. */
static char *
mul_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_act *x = &acts[n->inputs[0]], *y = &acts[n->inputs[1]];
  out->h = x->h, out->w = x->w;
  if ((y->h != x->h || y->w != x->w) && (y->h != 1 || y->w != 1))
    return g_strdup_printf ("factors of %dx%d and %dx%d pixels do not match", x->w, x->h, y->w,
                            y->h);
  return NULL;
}

static void
add_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                  segcam_act *out)
{
  segcam_add_forward (r->pool, in[0], in[1], out);
}

static void
add_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                   const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_add_backward (r->pool, dout, din[0], din[1]);
}

static void
mul_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                  segcam_act *out)
{
  segcam_mul_forward (r->pool, in[0], in[1], out);
}

/* Each factor's gradient is the other factor times the output's: both stay (SEGCAM_READS_INPUTS). */
static void
mul_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                   const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_mul_backward (r->pool, in[0], in[1], dout, din[0], din[1]);
}

static void
concat_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                     segcam_act *out)
{
  segcam_concat_forward (r->pool, in, n->n_inputs, out);
}

static void
concat_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                      const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_act *parts = g_newa (segcam_act, n->n_inputs);
  segcam_act **dins = g_newa (segcam_act *, n->n_inputs);
  for (int k = 0; k < n->n_inputs; k++)
    {
      /* A part without a gradient keeps its width so the channel offsets stay right. */
      parts[k] = din[k] ? *din[k] : (segcam_act) {NULL, dout->n, 0, 0, in[k]->c};
      dins[k] = &parts[k];
    }
  segcam_concat_backward (r->pool, dout, dins, n->n_inputs);
}

const segcam_op_def segcam_op_add = {
  .name = "add", .format_version = 1, .min_inputs = 2, .max_inputs = 2, .grad_inputs = -1,
  .parse = parse_add, .shape = same_size_shape, .forward = add_node_forward,
  .backward = add_node_backward, .reach = segcam_reach_union,
};

const segcam_op_def segcam_op_mul = {
  .name = "mul", .format_version = 2, .min_inputs = 2, .max_inputs = 2, .grad_inputs = -1,
  .backward_reads = SEGCAM_READS_INPUTS, .parse = parse_mul, .shape = mul_shape,
  .forward = mul_node_forward, .backward = mul_node_backward, .reach = segcam_reach_union,
};

const segcam_op_def segcam_op_concat = {
  .name = "concat", .format_version = 1, .min_inputs = 1, .max_inputs = SEGCAM_MAX_INPUTS,
  .grad_inputs = -1, .fuse = SEGCAM_FUSE_PARTS, .parse = parse_concat, .shape = same_size_shape,
  .forward = concat_node_forward, .backward = concat_node_backward, .reach = segcam_reach_union,
};
