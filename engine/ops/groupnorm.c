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

/* Group g of image b, task b * groups + g: where its values start (its channel k of pixel p is at
 * p * c + k), how many pixels and channels it has, and its mean and 1 / sqrt (var + eps). */
typedef struct {
  size_t at, pixels;
  int c, per, k0;
  double mean, rstd;
} group;

static group
group_of (const gn_job *j, int task)
{
  const segcam_act *x = j->in;
  int groups = j->p->groups, b = task / groups, g = task % groups;
  group r = {.pixels = (size_t) x->h * x->w, .c = x->c, .per = x->c / groups};
  r.k0 = g * r.per;
  r.at = (size_t) b * r.pixels * r.c + r.k0;
  const float *base = x->data + r.at;
  double sum = 0, sq = 0, m = (double) r.pixels * r.per;
  for (size_t p = 0; p < r.pixels; p++)
    for (int k = 0; k < r.per; k++)
      sum += base[p * r.c + k];
  r.mean = sum / m;
  for (size_t p = 0; p < r.pixels; p++)
    for (int k = 0; k < r.per; k++)
      {
        double d = base[p * r.c + k] - r.mean;
        sq += d * d;
      }
  r.rstd = 1.0 / sqrt (sq / m + j->p->eps);
  return r;
}

static void
gn_forward_task (void *ctx, int task, int thread)
{
  const gn_job *j = ctx;
  group g = group_of (j, task);
  const float *x = j->in->data + g.at, *gamma = j->p->gamma + g.k0, *beta = j->p->beta + g.k0;
  float *y = j->out->data + g.at;
  for (size_t p = 0; p < g.pixels; p++)
    for (int k = 0; k < g.per; k++)
      y[p * g.c + k] = (float) ((x[p * g.c + k] - g.mean) * g.rstd * gamma[k] + beta[k]);
  (void) thread;
}

static void
gn_backward_task (void *ctx, int task, int thread)
{
  const gn_job *j = ctx;
  group g = group_of (j, task);
  const float *x = j->in->data + g.at, *dy = j->dout->data + g.at, *gamma = j->p->gamma + g.k0;
  float *dx = j->din->data + g.at;
  int c = g.c;
  double sd = 0, sdx = 0;
  for (size_t p = 0; p < g.pixels; p++)
    for (int k = 0; k < g.per; k++)
      {
        double d = (double) dy[p * c + k] * gamma[k];
        sd += d;
        sdx += d * (x[p * c + k] - g.mean) * g.rstd;
      }
  double m = (double) g.pixels * g.per, md = sd / m, mdx = sdx / m;
  for (size_t p = 0; p < g.pixels; p++)
    for (int k = 0; k < g.per; k++)
      {
        double xhat = (x[p * c + k] - g.mean) * g.rstd;
        dx[p * c + k] += (float) (g.rstd * ((double) dy[p * c + k] * gamma[k] - md - xhat * mdx));
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

static char *
group_norm_reach (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  return g_strdup ("it normalises by statistics over the whole image");
}

const segcam_op_def segcam_op_group_norm = {
  .name = "group_norm", .format_version = 3, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .backward_reads = SEGCAM_READS_INPUT, .parse = parse_group_norm,
  .shape = segcam_shape_like_input, .forward = group_norm_node_forward,
  .backward = group_norm_node_backward, .tensor = group_norm_tensor, .clear = group_norm_clear,
  .reach = group_norm_reach,
};
