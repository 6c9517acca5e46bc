/* groupnorm.c — group normalisation, PyTorch's GroupNorm (InstanceNorm is one group per channel):
 * each image's channels split into g groups, and each group normalised by its own mean and biased
 * variance over its channels and pixels, then scaled and shifted per channel:
 *
 *   y = (x - mean) / sqrt (var + eps) * gamma[k] + beta[k]
 *
 * The statistics depend on the image, so nothing is folded; backward recomputes them from the
 * input it keeps (SEGCAM_READS_INPUT) and takes the two-reduction form, per group of M values:
 *
 *   dx = rstd * (d - mean (d) - xhat * mean (d * xhat)),   d = dy * gamma[k].
 *
 * One task per image and group; sums in double, in one fixed order. */
#include "tasks.h"

#include <math.h>
#include <string.h>

typedef struct {
  const segcam_group_norm_params *p;
  const segcam_act *in, *dout;
  segcam_act *out, *din;
} gn_job;

/* The mean and 1 / sqrt (var + eps) of group g of image b. */
static void
group_stats (const gn_job *j, int b, int g, double *mean, double *rstd)
{
  const segcam_act *x = j->in;
  int c = x->c, per = c / j->p->groups, k0 = g * per;
  size_t pixels = (size_t) x->h * x->w;
  const float *base = x->data + (size_t) b * pixels * c + k0;
  double sum = 0, sq = 0;
  for (size_t p = 0; p < pixels; p++)
    for (int k = 0; k < per; k++)
      sum += base[p * c + k];
  double m = sum / ((double) pixels * per);
  for (size_t p = 0; p < pixels; p++)
    for (int k = 0; k < per; k++)
      {
        double d = base[p * c + k] - m;
        sq += d * d;
      }
  *mean = m;
  *rstd = 1.0 / sqrt (sq / ((double) pixels * per) + j->p->eps);
}

static void
gn_forward_task (void *ctx, int task, int thread)
{
  const gn_job *j = ctx;
  int groups = j->p->groups, b = task / groups, g = task % groups;
  int c = j->in->c, per = c / groups, k0 = g * per;
  size_t pixels = (size_t) j->in->h * j->in->w, at = (size_t) b * pixels * c + k0;
  double mean, rstd;
  group_stats (j, b, g, &mean, &rstd);
  const float *x = j->in->data + at;
  float *y = j->out->data + at;
  for (size_t p = 0; p < pixels; p++)
    for (int k = 0; k < per; k++)
      y[p * c + k] = (float) ((x[p * c + k] - mean) * rstd * j->p->gamma[k0 + k] + j->p->beta[k0 + k]);
  (void) thread;
}

static void
gn_backward_task (void *ctx, int task, int thread)
{
  const gn_job *j = ctx;
  int groups = j->p->groups, b = task / groups, g = task % groups;
  int c = j->in->c, per = c / groups, k0 = g * per;
  size_t pixels = (size_t) j->in->h * j->in->w, at = (size_t) b * pixels * c + k0;
  double mean, rstd;
  group_stats (j, b, g, &mean, &rstd);
  const float *x = j->in->data + at, *dy = j->dout->data + at;
  float *dx = j->din->data + at;
  const float *gamma = j->p->gamma + k0;
  double sd = 0, sdx = 0;
  for (size_t p = 0; p < pixels; p++)
    for (int k = 0; k < per; k++)
      {
        double d = (double) dy[p * c + k] * gamma[k];
        sd += d;
        sdx += d * (x[p * c + k] - mean) * rstd;
      }
  double m = (double) pixels * per, md = sd / m, mdx = sdx / m;
  for (size_t p = 0; p < pixels; p++)
    for (int k = 0; k < per; k++)
      {
        double xhat = (x[p * c + k] - mean) * rstd;
        dx[p * c + k] += (float) (rstd * ((double) dy[p * c + k] * gamma[k] - md - xhat * mdx));
      }
  (void) thread;
}

static void
group_norm_forward (segcam_pool *pool, const segcam_group_norm_params *p, const segcam_act *in,
                    segcam_act *out)
{
  gn_job j = {.p = p, .in = in, .out = out};
  segcam_pool_run (pool, in->n * p->groups, gn_forward_task, &j);
}

static void
group_norm_backward (segcam_pool *pool, const segcam_group_norm_params *p, const segcam_act *in,
                     const segcam_act *dout, segcam_act *din)
{
  gn_job j = {.p = p, .in = in, .dout = dout, .din = din};
  segcam_pool_run (pool, in->n * p->groups, gn_backward_task, &j);
}

/* ---- the op ------------------------------------------------------------------------------- */

static gboolean
parse_group_norm (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  int channels = node->channels;
  const int64_t shape[1] = {channels};
  const segcam_tensor *g, *b;
  segcam_group_norm_params *p = &node->p.gn;
  if (!segcam_attr_ints (a, "groups", 1, 1, 65536, NULL, &p->groups)
      || !segcam_attr_tensor (a, "weight", TRUE, 1, shape, &g)
      || !segcam_attr_tensor (a, "bias", TRUE, 1, shape, &b))
    return FALSE;
  if (channels % p->groups)
    return segcam_attr_fail (a, "%d groups do not divide %d channels", p->groups, channels);
  double eps = 1e-5;
  JsonNode *en = json_object_get_member (a->obj, "eps");
  /* eps > 0: a constant group would otherwise divide by zero. */
  if (en && (!segcam_json_double (en, &eps) || !(eps > 0)))
    return segcam_attr_fail (a, "attribute 'eps' must be a number > 0");
  p->eps = eps;
  p->gamma = g_memdup2 (g->data, channels * sizeof (float));
  p->beta = g_memdup2 (b->data, channels * sizeof (float));
  node->tensors[0] = g_strdup (g->name);
  node->tensors[1] = g_strdup (b->name);
  (void) nodes;
  return TRUE;
}

static void
group_norm_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                         segcam_act *out)
{
  group_norm_forward (r->pool, &n->p.gn, in[0], out);
}

static void
group_norm_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                          const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  if (din[0])
    group_norm_backward (r->pool, &n->p.gn, in[0], dout, din[0]);
  (void) out;
}

/* Imported networks are explained, not trained: no parameter gradients. */
static gboolean
group_norm_tensor (segcam_node *n, int k, segcam_op_tensor *t, GError **error)
{
  (void) k, (void) t;
  return segcam_fail (error, SEGCAM_ERROR_MODEL, "node '%s': group_norm cannot be trained", n->name);
}

static void
group_norm_clear (segcam_node *n)
{
  g_free (n->p.gn.gamma);
  g_free (n->p.gn.beta);
}

const segcam_op_def segcam_op_group_norm = {
  .name = "group_norm", .format_version = 3, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_INPUT, .parse = parse_group_norm,
  .shape = segcam_shape_like_input, .forward = group_norm_node_forward,
  .backward = group_norm_node_backward, .tensor = group_norm_tensor, .clear = group_norm_clear,
};
