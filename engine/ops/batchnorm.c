/* batchnorm.c — batch normalisation: the op, its folding for eval mode, and the kernels with batch
 * statistics, PyTorch's BatchNorm2d in train mode: normalise with the biased variance, update
 * running_var with the unbiased one.
 *
 * Per-channel sums run over n*h*w pixels in double, in one fixed order, so training is
 * reproducible; the per-pixel work is split over the pool. The backward is the usual
 * two-reduction form:  dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)) * gamma. */
#include "tasks.h"

#include <math.h>
#include <string.h>

/* ---- eval mode: the folded per-channel scale and shift ----------------------------------- */

typedef struct {
  const float *x;         /* forward input, or the output gradient (backward) */
  float *out;             /* forward output, or the input gradient (backward) */
  const float *scale, *shift;
  int c;
} eval_job;

static void
eval_forward_pixels (const void *job, size_t p0, size_t p1)
{
  const eval_job *j = job;
  int c = j->c;
  for (size_t p = p0; p < p1; p++)
    for (int k = 0; k < c; k++)
      j->out[p * c + k] = j->x[p * c + k] * j->scale[k] + j->shift[k];
}

static void
eval_backward_pixels (const void *job, size_t p0, size_t p1)
{
  const eval_job *j = job;
  int c = j->c;
  for (size_t p = p0; p < p1; p++)
    for (int k = 0; k < c; k++)
      j->out[p * c + k] += j->x[p * c + k] * j->scale[k];
}

void
segcam_batchnorm_forward (segcam_pool *pool, const segcam_batchnorm_params *p, const segcam_act *in,
                          segcam_act *out)
{
  eval_job j = {in->data, out->data, p->scale, p->shift, in->c};
  pixel_run (pool, in, eval_forward_pixels, &j);
}

void
segcam_batchnorm_backward (segcam_pool *pool, const segcam_batchnorm_params *p,
                           const segcam_act *dout, segcam_act *din)
{
  eval_job j = {dout->data, din->data, p->scale, NULL, dout->c};
  pixel_run (pool, dout, eval_backward_pixels, &j);
}

/* ---- training: batch statistics ----------------------------------------------------------- */

#define BN_BLOCK 4096

typedef struct {
  const segcam_act *in, *dout;
  segcam_act *out, *din;
  const float *a, *b;     /* per channel: out = x * a + b, or the backward's coefficients */
  const float *mean, *rstd;
  const float *c;
} bn_job;

/* out = in * a[k] + b[k] (forward), or din += a[k] * (dy - b[k] - (x - mean) * c[k]) (backward). */
static void
bn_task (void *ctx, int task, int thread)
{
  const bn_job *j = ctx;
  const segcam_act *shape = j->in;
  int nc = shape->c;
  size_t n = segcam_act_size (shape) / nc;
  size_t p0 = (size_t) task * BN_BLOCK, p1 = MIN (p0 + BN_BLOCK, n);
  for (size_t p = p0; p < p1; p++)
    {
      const float *x = j->in->data + p * nc;
      if (!j->dout)
        for (int k = 0; k < nc; k++)
          j->out->data[p * nc + k] = x[k] * j->a[k] + j->b[k];
      else
        {
          const float *dy = j->dout->data + p * nc;
          float *dx = j->din->data + p * nc;
          for (int k = 0; k < nc; k++)
            dx[k] += j->a[k] * (dy[k] - j->b[k] - (x[k] - j->mean[k]) * j->c[k]);
        }
    }
  (void) thread;
}

static void
bn_run (segcam_pool *pool, bn_job *j)
{
  size_t n = segcam_act_size (j->in) / j->in->c;
  segcam_pool_run (pool, (int) ((n + BN_BLOCK - 1) / BN_BLOCK), bn_task, j);
}

void
segcam_batchnorm_train_forward (segcam_pool *pool, segcam_batchnorm_params *p, double momentum,
                                const segcam_act *in, segcam_act *out, float *mean, float *rstd)
{
  int nc = in->c;
  size_t n = segcam_act_size (in) / nc;
  double *sum = g_new0 (double, nc), *sq = g_new0 (double, nc);
  for (size_t q = 0; q < n; q++)
    for (int k = 0; k < nc; k++)
      sum[k] += in->data[q * nc + k];
  for (int k = 0; k < nc; k++)
    sum[k] /= (double) n;
  for (size_t q = 0; q < n; q++)
    for (int k = 0; k < nc; k++)
      {
        double d = in->data[q * nc + k] - sum[k];
        sq[k] += d * d;
      }
  float *a = g_new (float, nc), *b = g_new (float, nc);
  for (int k = 0; k < nc; k++)
    {
      double var = sq[k] / (double) n;
      double r = 1.0 / sqrt (var + p->eps);
      mean[k] = (float) sum[k];
      rstd[k] = (float) r;
      a[k] = (float) (p->gamma[k] * r);
      b[k] = (float) (p->beta[k] - sum[k] * p->gamma[k] * r);
      double unbiased = n > 1 ? sq[k] / (double) (n - 1) : var;
      p->mean[k] = (float) ((1 - momentum) * p->mean[k] + momentum * sum[k]);
      p->var[k] = (float) ((1 - momentum) * p->var[k] + momentum * unbiased);
    }
  bn_job j = {.in = in, .out = out, .a = a, .b = b};
  bn_run (pool, &j);
  g_free (sum);
  g_free (sq);
  g_free (a);
  g_free (b);
}

void
segcam_batchnorm_train_backward (segcam_pool *pool, const segcam_batchnorm_params *p,
                                 const segcam_act *in, const float *mean, const float *rstd,
                                 const segcam_act *dout, segcam_act *din, float *dgamma, float *dbeta)
{
  int nc = in->c;
  size_t n = segcam_act_size (in) / nc;
  double *sdy = g_new0 (double, nc), *sdyx = g_new0 (double, nc);
  for (size_t q = 0; q < n; q++)
    for (int k = 0; k < nc; k++)
      {
        double dy = dout->data[q * nc + k];
        sdy[k] += dy;
        sdyx[k] += dy * (in->data[q * nc + k] - mean[k]) * rstd[k];
      }
  for (int k = 0; k < nc; k++)
    {
      dgamma[k] += (float) sdyx[k];
      dbeta[k] += (float) sdy[k];
    }
  if (din)
    {
      float *a = g_new (float, nc), *b = g_new (float, nc), *c = g_new (float, nc);
      for (int k = 0; k < nc; k++)
        {
          a[k] = (float) (p->gamma[k] * rstd[k]);
          b[k] = (float) (sdy[k] / (double) n);
          c[k] = (float) (sdyx[k] / (double) n * rstd[k]);
        }
      bn_job j = {.in = in, .dout = dout, .din = din, .a = a, .b = b, .c = c, .mean = mean};
      bn_run (pool, &j);
      g_free (a);
      g_free (b);
      g_free (c);
    }
  g_free (sdy);
  g_free (sdyx);
}

/* ---- the op ------------------------------------------------------------------------------- */

void
segcam_batchnorm_fold (segcam_batchnorm_params *bn)
{
  for (int c = 0; c < bn->channels; c++)
    {
      /* In double, as PyTorch's CPU kernel computes invstd in the accumulation type. */
      double s = bn->gamma[c] / sqrt ((double) bn->var[c] + bn->eps);
      bn->scale[c] = (float) s;
      bn->shift[c] = (float) (bn->beta[c] - bn->mean[c] * s);
    }
}


static gboolean
parse_batchnorm (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  int channels = node->channels;
  const int64_t shape[1] = {channels};
  const segcam_tensor *g, *b, *m, *v;
  if (!segcam_attr_tensor (a, "gamma", TRUE, 1, shape, &g)
      || !segcam_attr_tensor (a, "beta", TRUE, 1, shape, &b)
      || !segcam_attr_tensor (a, "mean", TRUE, 1, shape, &m)
      || !segcam_attr_tensor (a, "var", TRUE, 1, shape, &v))
    return FALSE;
  double eps = 1e-5;
  JsonNode *en = json_object_get_member (a->obj, "eps");
  if (en && (!segcam_json_double (en, &eps) || eps < 0))
    return segcam_attr_fail (a, "attribute 'eps' must be a number >= 0");
  for (int c = 0; c < channels; c++)
    if (!(v->data[c] + eps > 0))
      return segcam_attr_fail (a, "variance + eps must be positive (channel %d)", c);
  segcam_batchnorm_params *bn = &node->p.bn;
  size_t bytes = channels * sizeof (float);
  bn->channels = channels;
  bn->eps = eps;
  bn->gamma = g_memdup2 (g->data, bytes);
  bn->beta = g_memdup2 (b->data, bytes);
  bn->mean = g_memdup2 (m->data, bytes);
  bn->var = g_memdup2 (v->data, bytes);
  bn->scale = g_new (float, channels);
  bn->shift = g_new (float, channels);
  segcam_batchnorm_fold (bn);
  const segcam_tensor *const t[4] = {g, b, m, v};
  for (int i = 0; i < 4; i++)
    node->tensors[i] = g_strdup (t[i]->name);
  return TRUE;
}


/* Eval mode runs on the folded scale and shift; training on the batch's statistics, which it
 * keeps in r->bn_mean and r->bn_rstd for backward together with the input it reads
 * (SEGCAM_READS_INPUT_TRAIN). */
static void
batchnorm_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                        segcam_act *out)
{
  if (r->train)
    /* Training owns its model: the running statistics are meant to change. */
    segcam_batchnorm_train_forward (r->pool, (segcam_batchnorm_params *) &n->p.bn, r->bn_momentum,
                                    in[0], out, r->bn_mean, r->bn_rstd);
  else
    segcam_batchnorm_forward (r->pool, &n->p.bn, in[0], out);
}

static void
batchnorm_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                         const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  if (r->train)
    segcam_batchnorm_train_backward (r->pool, &n->p.bn, in[0], r->bn_mean, r->bn_rstd, dout, din[0],
                                     r->dweight, r->dbias);
  else if (din[0])
    segcam_batchnorm_backward (r->pool, &n->p.bn, dout, din[0]);
}

/* tensors[] are gamma and beta (trained), then the running mean and variance (state). */
static gboolean
batchnorm_tensor (segcam_node *n, int k, segcam_op_tensor *t, GError **error)
{
  segcam_batchnorm_params *bn = &n->p.bn;
  float *const data[4] = {bn->gamma, bn->beta, bn->mean, bn->var};
  *t = (segcam_op_tensor) {data[k], bn->channels, 1, {bn->channels}, FALSE, k < 2};
  return TRUE;
}

static void
batchnorm_refresh (segcam_node *n)
{
  segcam_batchnorm_fold (&n->p.bn);
}

static void
batchnorm_clear (segcam_node *n)
{
  segcam_batchnorm_params *bn = &n->p.bn;
  g_free (bn->gamma);
  g_free (bn->beta);
  g_free (bn->mean);
  g_free (bn->var);
  g_free (bn->scale);
  g_free (bn->shift);
}

const segcam_op_def segcam_op_batchnorm = {
  .name = "batchnorm", .format_version = 1, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_INPUT_TRAIN, .fuse = SEGCAM_FUSE_FOLD, .batch_stats = TRUE,
  .parse = parse_batchnorm, .shape = segcam_shape_like_input, .forward = batchnorm_node_forward,
  .backward = batchnorm_node_backward, .tensor = batchnorm_tensor, .refresh = batchnorm_refresh,
  .clear = batchnorm_clear, .reach = segcam_reach_like_input,
};
