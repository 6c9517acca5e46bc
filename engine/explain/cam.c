/* cam.c — the signed map L of every CAM method from the target's activation A and gradient
 * G = dS/dA (docs/methods.md). Both are h x w x K (NHWC, one image); L is h x w.
 *
 * Three families, one function each:
 *   channel weights   L = sum_k alpha_k A_k       Seg-Grad-CAM, Grad-CAM++, XGrad-CAM
 *   element-wise      L = sum_k W_k (.) A_k       HiResCAM (W = G), Seg-XRes-CAM (W = pooled G),
 *                                                 Layer-CAM (W = ReLU (G))
 *   principal axis    L = (A - mean) v_1          EigenCAM, no gradient
 * Sums run in double precision; the maps agree with their float64 definitions to float32's. */
#include "cam.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static const char *const method_names[] = {
  [SEGCAM_METHOD_SEG_GRAD_CAM] = "seg-grad-cam",
  [SEGCAM_METHOD_HIRES] = "hires",
  [SEGCAM_METHOD_XRES] = "xres",
  [SEGCAM_METHOD_GRADCAM_PP] = "gradcam++",
  [SEGCAM_METHOD_XGRAD] = "xgrad",
  [SEGCAM_METHOD_LAYER] = "layer",
  [SEGCAM_METHOD_EIGEN] = "eigen",
  [SEGCAM_METHOD_SCORE] = "score",
  [SEGCAM_METHOD_ABLATION] = "ablation",
};

int
segcam_method_from_name (const char *name)
{
  for (int i = 0; name && i < (int) G_N_ELEMENTS (method_names); i++)
    if (strcmp (name, method_names[i]) == 0)
      return i;
  return -1;
}

const char *
segcam_method_name (SegcamMethod method)
{
  return (unsigned) method < G_N_ELEMENTS (method_names) ? method_names[method] : NULL;
}

gboolean
segcam_method_is_class_agnostic (SegcamMethod method)
{
  return method == SEGCAM_METHOD_EIGEN;
}

gboolean
segcam_method_needs_gradient (SegcamMethod method)
{
  return method != SEGCAM_METHOD_EIGEN && !segcam_method_reruns (method);
}

gboolean
segcam_method_reruns (SegcamMethod method)
{
  return method == SEGCAM_METHOD_SCORE || method == SEGCAM_METHOD_ABLATION;
}

/* pytorch-grad-cam's guards against a zero denominator, kept so that its maps are ours. */
#define GRADCAM_PP_EPS 1e-6
#define XGRAD_EPS 1e-7

/* L = sum_k alpha_k A_k with the method's alpha_k, in double. Seg-Grad-CAM's weights are rounded
 * to float first, as they always were, so that its maps stay bit for bit what they were before
 * the other methods. */
static void
channel_weighted_cam (const segcam_act *a, const segcam_act *g, const segcam_explain_options *o,
                      float *cam)
{
  size_t hw = (size_t) a->h * a->w;
  int nc = a->c;
  double *sum_a = g_new0 (double, nc), *alpha = g_new0 (double, nc);
  if (o->method != SEGCAM_METHOD_SEG_GRAD_CAM)
    for (size_t p = 0; p < hw; p++)
      for (int k = 0; k < nc; k++)
        sum_a[k] += a->data[p * nc + k];
  for (size_t p = 0; p < hw; p++)
    for (int k = 0; k < nc; k++)
      {
        double gv = g->data[p * nc + k];
        if (o->method == SEGCAM_METHOD_SEG_GRAD_CAM)
          alpha[k] += gv;
        else if (o->method == SEGCAM_METHOD_XGRAD)
          alpha[k] += gv * a->data[p * nc + k];
        else if (gv > 0)
          {
            /* Grad-CAM++ (Chattopadhay et al. 2018, eq. 19) with exp (S) as the score, as
             * pytorch-grad-cam: a_uv = g^2 / (2 g^2 + sum_uv A * g^3), alpha = sum a_uv ReLU (g). */
            double g2 = gv * gv;
            alpha[k] += g2 * gv / (2 * g2 + sum_a[k] * g2 * gv + GRADCAM_PP_EPS);
          }
      }
  for (int k = 0; k < nc; k++)
    {
      if (o->method == SEGCAM_METHOD_SEG_GRAD_CAM)
        {
          double v = alpha[k] / (double) hw;
          alpha[k] = (float) (o->weights == SEGCAM_WEIGHTS_ABS ? fabs (v)
                              : o->weights == SEGCAM_WEIGHTS_RELU ? MAX (v, 0.0) : v);
        }
      else if (o->method == SEGCAM_METHOD_XGRAD)
        alpha[k] /= sum_a[k] + XGRAD_EPS;
    }
  for (size_t p = 0; p < hw; p++)
    {
      double sum = 0;
      for (int k = 0; k < nc; k++)
        sum += alpha[k] * a->data[p * nc + k];
      cam[p] = (float) sum;
    }
  g_free (sum_a);
  g_free (alpha);
}

/* Seg-XRes-CAM's gradient: each channel's maximum or mean over pool x pool blocks (cut short at
 * the right and bottom edges), one value per block, (h/pool) x (w/pool) x K rounded up. */
static double *
pooled_gradient (const segcam_act *g, int pool, SegcamPoolMode mode, int *bw)
{
  int h = g->h, w = g->w, nc = g->c;
  int nbh = (h + pool - 1) / pool, nbw = (w + pool - 1) / pool;
  double *out = g_new (double, (size_t) nbh * nbw * nc);
  for (int by = 0; by < nbh; by++)
    for (int bx = 0; bx < nbw; bx++)
      {
        double *o = out + ((size_t) by * nbw + bx) * nc;
        int y1 = MIN (h, (by + 1) * pool), x1 = MIN (w, (bx + 1) * pool);
        for (int k = 0; k < nc; k++)
          o[k] = mode == SEGCAM_POOL_MAX ? -INFINITY : 0;
        for (int y = by * pool; y < y1; y++)
          for (int x = bx * pool; x < x1; x++)
            for (int k = 0; k < nc; k++)
              {
                double v = g->data[((size_t) y * w + x) * nc + k];
                o[k] = mode == SEGCAM_POOL_MAX ? MAX (o[k], v) : o[k] + v;
              }
        if (mode == SEGCAM_POOL_MEAN)
          for (int k = 0; k < nc; k++)
            o[k] /= (double) (y1 - by * pool) * (x1 - bx * pool);
      }
  *bw = nbw;
  return out;
}

/* L = sum_k W_k (.) A_k with W = G, ReLU (G) or G pooled and upsampled by nearest neighbour
 * (every pixel reads its block's value). */
static void
elementwise_cam (const segcam_act *a, const segcam_act *g, const segcam_explain_options *o,
                 float *cam)
{
  int h = a->h, w = a->w, nc = a->c, nbw = 0;
  double *pooled = o->method == SEGCAM_METHOD_XRES
                   ? pooled_gradient (g, o->pool, o->pool_mode, &nbw) : NULL;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t p = (size_t) y * w + x;
        const float *av = a->data + p * nc, *gv = g->data + p * nc;
        const double *pv = pooled ? pooled + ((size_t) (y / o->pool) * nbw + x / o->pool) * nc : NULL;
        double sum = 0;
        for (int k = 0; k < nc; k++)
          {
            double wk = pv ? pv[k] : o->method == SEGCAM_METHOD_LAYER ? MAX (gv[k], 0.0f) : gv[k];
            sum += wk * av[k];
          }
        cam[p] = (float) sum;
      }
  g_free (pooled);
}

/* Power iteration v <- m v / |m v| from v, until no component moves by more than 1e-15 (at most
 * max_iter steps). */
static void
power_iterate (const double *m, int n, double *v, int max_iter)
{
  double *t = g_new (double, n);
  for (int iter = 0; iter < max_iter; iter++)
    {
      cblas_dgemv (CblasRowMajor, CblasNoTrans, n, n, 1.0, m, n, v, 1, 0.0, t, 1);
      double norm = cblas_dnrm2 (n, t, 1), change = 0;
      if (norm == 0)
        break;
      for (int i = 0; i < n; i++)
        {
          change = MAX (change, fabs (t[i] / norm - v[i]));
          v[i] = t[i] / norm;
        }
      if (change < 1e-15)
        break;
    }
  g_free (t);
}

/* The unit eigenvector of the largest eigenvalue of the symmetric positive semi-definite n x n
 * matrix c. Squaring c six times raises the ratio of the two largest eigenvalues to the 64th
 * power, so that power iteration converges in a few steps even when they are close; a few steps
 * on c itself then restore the precision the squaring lost. */
static void
top_eigenvector (const double *c, int n, double *v)
{
  size_t nn = (size_t) n * n;
  double *p = g_memdup2 (c, nn * sizeof (double)), *sq = g_new (double, nn);
  for (int i = 0; i < 6; i++)
    {
      double norm = 0;
      for (size_t j = 0; j < nn; j++)
        norm = MAX (norm, fabs (p[j]));
      if (norm == 0)
        break;
      /* scaled by the largest entry to keep the powers within range */
      cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0 / (norm * norm), p, n,
                   p, n, 0.0, sq, n);
      memcpy (p, sq, nn * sizeof (double));
    }
  /* a start that no eigenvector is orthogonal to in practice */
  for (int i = 0; i < n; i++)
    v[i] = 1.0 + 0.001 * i;
  power_iterate (p, n, v, 200);
  power_iterate (c, n, v, 50);
  g_free (p);
  g_free (sq);
}

/* EigenCAM (Muhammad and Yeasin 2020, as pytorch-grad-cam): the pixels are h*w samples of K
 * features; L is each pixel's centred activation projected on the first principal axis, the
 * top eigenvector of the K x K covariance. An eigenvector's sign is arbitrary: segcam takes the
 * one with sum_k v_k >= 0, which makes L correlate positively with the channels' sum. */
static void
eigen_cam (const segcam_act *a, float *cam)
{
  size_t hw = (size_t) a->h * a->w;
  int nc = a->c;
  double *mean = g_new0 (double, nc), *cov = g_new0 (double, (size_t) nc * nc);
  double *v = g_new (double, nc);
  for (size_t p = 0; p < hw; p++)
    for (int k = 0; k < nc; k++)
      mean[k] += a->data[p * nc + k];
  for (int k = 0; k < nc; k++)
    mean[k] /= (double) hw;
  /* cov = X^T X over blocks of centred rows, in double */
  enum { ROWS = 256 };
  double *block = g_new (double, (size_t) ROWS * nc);
  for (size_t p0 = 0; p0 < hw; p0 += ROWS)
    {
      int rows = (int) MIN ((size_t) ROWS, hw - p0);
      for (int r = 0; r < rows; r++)
        for (int k = 0; k < nc; k++)
          block[(size_t) r * nc + k] = a->data[(p0 + r) * nc + k] - mean[k];
      cblas_dsyrk (CblasRowMajor, CblasUpper, CblasTrans, nc, rows, 1.0, block, nc, 1.0, cov, nc);
    }
  g_free (block);
  for (int i = 0; i < nc; i++)
    for (int j = 0; j < i; j++)
      cov[(size_t) i * nc + j] = cov[(size_t) j * nc + i];
  top_eigenvector (cov, nc, v);
  double sum = 0;
  for (int k = 0; k < nc; k++)
    sum += v[k];
  double sign = sum < 0 ? -1 : 1;
  for (size_t p = 0; p < hw; p++)
    {
      double l = 0;
      for (int k = 0; k < nc; k++)
        l += (a->data[p * nc + k] - mean[k]) * v[k];
      cam[p] = (float) (sign * l);
    }
  g_free (mean);
  g_free (cov);
  g_free (v);
}

void
segcam_cam_compute (const segcam_act *a, const segcam_act *g, const segcam_explain_options *o,
                    float *cam)
{
  switch (o->method)
    {
    case SEGCAM_METHOD_SEG_GRAD_CAM:
    case SEGCAM_METHOD_GRADCAM_PP:
    case SEGCAM_METHOD_XGRAD:
      channel_weighted_cam (a, g, o, cam);
      break;
    case SEGCAM_METHOD_HIRES:
    case SEGCAM_METHOD_XRES:
    case SEGCAM_METHOD_LAYER:
      elementwise_cam (a, g, o, cam);
      break;
    case SEGCAM_METHOD_EIGEN:
      eigen_cam (a, cam);
      break;
    case SEGCAM_METHOD_SCORE:
    case SEGCAM_METHOD_ABLATION:
      g_return_if_reached (); /* perturb.c makes their maps */
    }
}
