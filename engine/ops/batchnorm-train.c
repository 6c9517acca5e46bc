/* batchnorm-train.c — batch normalisation with batch statistics, PyTorch's BatchNorm2d in train
 * mode: normalise with the biased variance, update running_var with the unbiased one.
 *
 * Per-channel sums run over n*h*w pixels in double, in one fixed order, so training is
 * reproducible; the per-pixel work is split over the pool. The backward is the usual
 * two-reduction form:  dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)) * gamma. */
#include "ops.h"

#include <math.h>
#include <string.h>

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
