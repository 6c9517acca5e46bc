/* activation.c — element-wise activations: relu and sigmoid (whose backward reads their output),
 * and PyTorch's hard activations, leaky ReLU and clip (whose backward reads their input). */
#include "clones.h"
#include "tasks.h"

#include <math.h>

/* ---- relu and sigmoid --------------------------------------------------------------------- */

typedef struct {
  const float *x;         /* forward input; in backward, the forward output */
  const float *dy;        /* output gradient (backward) */
  float *out;             /* forward output, or the input gradient (backward) */
  int c;
} pw_job;

/* The tensors never overlap (the plan gives each its own buffer): restrict lets both loops
 * vectorise, which the backward's read-modify-write did not (6 % of a training step). */
static SEGCAM_CLONES void
relu_forward_pixels (const void *job, size_t p0, size_t p1)
{
  const pw_job *j = job;
  const float *restrict x = j->x;
  float *restrict out = j->out;
  for (size_t i = p0 * j->c; i < p1 * j->c; i++)
    out[i] = x[i] > 0 ? x[i] : 0;
}

static SEGCAM_CLONES void
relu_backward_pixels (const void *job, size_t p0, size_t p1)
{
  const pw_job *j = job;
  const float *restrict x = j->x, *restrict dy = j->dy;
  float *restrict out = j->out;
  for (size_t i = p0 * j->c; i < p1 * j->c; i++)
    out[i] += x[i] > 0 ? dy[i] : 0;
}

/* Bits of elements [p0 c, p1 c): tasks start at multiples of PIXEL_BLOCK pixels, so on whole
 * words. */
typedef struct {
  const float *x;
  float *g;
  guint32 *bits;
  int c;
} bits_job;

static SEGCAM_CLONES void
relu_bits_pixels (const void *job, size_t p0, size_t p1)
{
  const bits_job *j = job;
  for (size_t i = p0 * j->c; i < p1 * j->c; i += 32)
    {
      guint32 w = 0;
      for (size_t b = 0; b < MIN (32, p1 * j->c - i); b++)
        w |= (guint32) (j->x[i + b] > 0) << b;
      j->bits[i / 32] = w;
    }
}

static SEGCAM_CLONES void
relu_mask_bits_pixels (const void *job, size_t p0, size_t p1)
{
  const bits_job *j = job;
  for (size_t i = p0 * j->c; i < p1 * j->c; i += 32)
    {
      guint32 w = j->bits[i / 32];
      for (size_t b = 0; b < MIN (32, p1 * j->c - i); b++)
        j->g[i + b] = w >> b & 1 ? j->g[i + b] : 0;
    }
}

static void
sigmoid_forward_pixels (const void *job, size_t p0, size_t p1)
{
  const pw_job *j = job;
  for (size_t i = p0 * j->c; i < p1 * j->c; i++)
    j->out[i] = segcam_logistic (j->x[i]);
}

static void
sigmoid_backward_pixels (const void *job, size_t p0, size_t p1)
{
  const pw_job *j = job;
  for (size_t i = p0 * j->c; i < p1 * j->c; i++)
    j->out[i] += j->dy[i] * j->x[i] * (1.0f - j->x[i]);
}

void
segcam_softmax (const float *z, int n, float *p)
{
  float mx = z[0], sum = 0;
  for (int k = 1; k < n; k++)
    mx = MAX (mx, z[k]);
  for (int k = 0; k < n; k++)
    sum += expf (z[k] - mx);
  for (int k = 0; k < n; k++)
    p[k] = expf (z[k] - mx) / sum;
}

void
segcam_relu_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out)
{
  pw_job j = {in->data, NULL, out->data, in->c};
  pixel_run (pool, in, relu_forward_pixels, &j);
}

void
segcam_relu_backward (segcam_pool *pool, const segcam_act *out, const segcam_act *dout, segcam_act *din)
{
  pw_job j = {out->data, dout->data, din->data, dout->c};
  pixel_run (pool, dout, relu_backward_pixels, &j);
}

G_STATIC_ASSERT (PIXEL_BLOCK % 32 == 0);

size_t
segcam_relu_bits_words (const segcam_act *a)
{
  return (segcam_act_size (a) + 31) / 32;
}

void
segcam_relu_bits (segcam_pool *pool, const segcam_act *out, guint32 *bits)
{
  bits_job j = {out->data, NULL, bits, out->c};
  pixel_run (pool, out, relu_bits_pixels, &j);
}

void
segcam_relu_mask_bits (segcam_pool *pool, const guint32 *bits, segcam_act *g)
{
  bits_job j = {NULL, g->data, (guint32 *) bits, g->c};
  pixel_run (pool, g, relu_mask_bits_pixels, &j);
}

void
segcam_sigmoid_forward (segcam_pool *pool, const segcam_act *in, segcam_act *out)
{
  pw_job j = {in->data, NULL, out->data, in->c};
  pixel_run (pool, in, sigmoid_forward_pixels, &j);
}

void
segcam_sigmoid_backward (segcam_pool *pool, const segcam_act *out, const segcam_act *dout,
                         segcam_act *din)
{
  pw_job j = {out->data, dout->data, din->data, dout->c};
  pixel_run (pool, dout, sigmoid_backward_pixels, &j);
}

/* ---- hard activations, leaky ReLU and clip ------------------------------------------------ */

typedef struct {
  segcam_op op;
  const segcam_activation_params *p;
  const float *x, *dy;     /* forward input; output gradient (backward) */
  float *out;              /* forward output, or the input gradient (backward) */
  size_t n;
} act_job;

/* std::min and std::max as PyTorch's CPU kernels use them: a NaN stays NaN. fminf and fmaxf
 * would not, and are calls into libm that keep the loops from vectorising. */
static inline float
at_least (float x, float lo)
{
  return x < lo ? lo : x;
}

static inline float
at_most (float x, float hi)
{
  return hi < x ? hi : x;
}

/* PyTorch's definitions, as its CPU kernels compute them. */
static inline float
act_value (segcam_op op, const segcam_activation_params *p, float x)
{
  switch (op)
    {
    case SEGCAM_OP_HARDSWISH:
      return x * at_most (at_least (x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case SEGCAM_OP_HARDSIGMOID:
      return at_most (at_least (x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case SEGCAM_OP_LEAKY_RELU:
      return x > 0 ? x : x * p->alpha;
    default: /* SEGCAM_OP_CLIP */
      return at_most (at_least (x, p->min), p->max);
    }
}

/* d value / dx, with PyTorch's choices at the kinks: hardswish takes the middle piece on
 * [-3, 3], hardsigmoid and clip pass nothing at their ends (clip follows hardtanh, which is what
 * ReLU6 exports as), leaky ReLU the negative slope at 0. */
static inline float
act_slope (segcam_op op, const segcam_activation_params *p, float x)
{
  switch (op)
    {
    case SEGCAM_OP_HARDSWISH:
      return x < -3.0f ? 0.0f : x <= 3.0f ? x / 3.0f + 0.5f : 1.0f;
    case SEGCAM_OP_HARDSIGMOID:
      return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f;
    case SEGCAM_OP_LEAKY_RELU:
      return x > 0 ? 1.0f : p->alpha;
    default: /* SEGCAM_OP_CLIP */
      return x > p->min && x < p->max ? 1.0f : 0.0f;
    }
}

/* Called with a constant op, so that each op gets its own loop without a branch per element. */
static inline __attribute__ ((always_inline)) void
act_range (segcam_op op, const act_job *j, size_t i0, size_t i1)
{
  const float *x = j->x, *dy = j->dy;
  float *out = j->out;
  if (dy)
    for (size_t i = i0; i < i1; i++)
      out[i] += dy[i] * act_slope (op, j->p, x[i]);
  else
    for (size_t i = i0; i < i1; i++)
      out[i] = act_value (op, j->p, x[i]);
}

SEGCAM_CLONES static void
act_task (void *ctx, int task, int thread)
{
  const act_job *j = ctx;
  size_t i0 = (size_t) task * PIXEL_BLOCK * 16, i1 = MIN (i0 + PIXEL_BLOCK * 16, j->n);
  switch (j->op)
    {
    case SEGCAM_OP_HARDSWISH:
      act_range (SEGCAM_OP_HARDSWISH, j, i0, i1);
      break;
    case SEGCAM_OP_HARDSIGMOID:
      act_range (SEGCAM_OP_HARDSIGMOID, j, i0, i1);
      break;
    case SEGCAM_OP_LEAKY_RELU:
      act_range (SEGCAM_OP_LEAKY_RELU, j, i0, i1);
      break;
    default:
      act_range (SEGCAM_OP_CLIP, j, i0, i1);
    }
  (void) thread;
}

static void
act_run (segcam_pool *pool, act_job *j)
{
  segcam_pool_run (pool, (int) ((j->n + PIXEL_BLOCK * 16 - 1) / (PIXEL_BLOCK * 16)), act_task, j);
}

void
segcam_activation_forward (segcam_pool *pool, segcam_op op, const segcam_activation_params *p,
                           const segcam_act *in, segcam_act *out)
{
  act_job j = {op, p, in->data, NULL, out->data, segcam_act_size (in)};
  act_run (pool, &j);
}

void
segcam_activation_backward (segcam_pool *pool, segcam_op op, const segcam_activation_params *p,
                            const segcam_act *in, const segcam_act *dout, segcam_act *din)
{
  act_job j = {op, p, in->data, dout->data, din->data, segcam_act_size (in)};
  act_run (pool, &j);
}


/* ---- the ops -------------------------------------------------------------------------- */

static gboolean
parse_activation (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  segcam_activation_params *p = &node->p.act;
  /* PyTorch's defaults; clip without bounds clips nothing. */
  if (!segcam_attr_float (a, "alpha", 0.01f, &p->alpha)
      || !segcam_attr_float (a, "min", -G_MAXFLOAT, &p->min)
      || !segcam_attr_float (a, "max", G_MAXFLOAT, &p->max))
    return FALSE;
  if (node->op == SEGCAM_OP_CLIP && !(p->min <= p->max))
    return segcam_attr_fail (a, "clip needs min <= max");
  return TRUE;
}


static void
relu_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                   segcam_act *out)
{
  segcam_relu_forward (r->pool, in[0], out);
}

static void
relu_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                    const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_relu_backward (r->pool, out, dout, din[0]);
}

static void
sigmoid_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                      segcam_act *out)
{
  segcam_sigmoid_forward (r->pool, in[0], out);
}

static void
sigmoid_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                       const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_sigmoid_backward (r->pool, out, dout, din[0]);
}

static void
activation_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                         segcam_act *out)
{
  segcam_activation_forward (r->pool, n->op, &n->p.act, in[0], out);
}

static void
activation_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                          const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_activation_backward (r->pool, n->op, &n->p.act, in[0], dout, din[0]);
}

const segcam_op_def segcam_op_relu = {
  .name = "relu", .format_version = 1, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_OUTPUT, .fuse = SEGCAM_FUSE_RELU,
  .shape = segcam_shape_like_input, .forward = relu_node_forward, .backward = relu_node_backward,
  .reach = segcam_reach_like_input,
};

const segcam_op_def segcam_op_sigmoid = {
  .name = "sigmoid", .format_version = 1, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_OUTPUT,
  .shape = segcam_shape_like_input, .forward = sigmoid_node_forward,
  .backward = sigmoid_node_backward, .reach = segcam_reach_like_input,
};

#define ACTIVATION(op_name)                                                                       \
  {                                                                                               \
    .name = op_name, .format_version = 2, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,     \
    .backward_reads = SEGCAM_READS_INPUT, .parse = parse_activation,                             \
    .shape = segcam_shape_like_input, .forward = activation_node_forward,                        \
    .backward = activation_node_backward, .reach = segcam_reach_like_input,                       \
  }

const segcam_op_def segcam_op_hardswish = ACTIVATION ("hardswish");
const segcam_op_def segcam_op_hardsigmoid = ACTIVATION ("hardsigmoid");
const segcam_op_def segcam_op_leaky_relu = ACTIVATION ("leaky_relu");
const segcam_op_def segcam_op_clip = ACTIVATION ("clip");
