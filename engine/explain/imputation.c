/* imputation.c — ROAD's linear imputation (imputation.h; docs/metrics.md, "ROAD").
 *
 * For the m removed pixels the equations are A x = b: A_ii = the sum of pixel i's neighbour
 * weights inside the image, A_ij = -w_ij for a removed neighbour j, b_i = sum_j w_ij v_j over its
 * kept neighbours. A is symmetric and positive definite (every group of removed pixels borders a
 * kept one, since one is kept and the grid is connected). Conjugate gradients solves it, one
 * channel after the other, preconditioned by one multigrid V-cycle: the removed pixels of each
 * 2 x 2 block are aggregated into one unknown of a coarser level whose matrix is A's sum over
 * the aggregates (P^T A P, P the piecewise-constant prolongation), recursively, down to a level
 * small enough to factor densely; damped Jacobi smooths before and after each coarse correction
 * (the same sweeps, so the preconditioner is symmetric). Iterations then do not grow with the
 * image: a few dozen at 512 x 512 where the diagonal preconditioner needed thousands. */
#include "imputation.h"

#include <math.h>
#include <string.h>

#define MAX_ITERATIONS 20000
#define DENSE_MAX 256        /* a level of at most this many unknowns is factored (Cholesky) */
#define SMOOTHING_SWEEPS 1   /* damped Jacobi before and after each coarse correction: 1 was
                                faster than 2 or 3 (as many iterations, fewer products) */
/* The coarse correction scaled up: a piecewise-constant prolongation's corrections are too
 * small (they cannot bend within an aggregate); 1.4 took a quarter fewer iterations at 256 x 256
 * than 1 (1.7 and 1.9 no fewer). */
#define COARSE_SCALE 1.4
#define JACOBI_DAMPING (2.0 / 3.0) /* below 2 / max eig (D^-1 A) <= 1: A is diagonally dominant */

static const int NB_DX[8] = {-1, 1, 0, 0, -1, 1, -1, 1}, NB_DY[8] = {0, 0, -1, 1, -1, -1, 1, 1};
static const double NB_W[8] = {
  SEGCAM_IMPUTE_SIDE_WEIGHT, SEGCAM_IMPUTE_SIDE_WEIGHT, SEGCAM_IMPUTE_SIDE_WEIGHT,
  SEGCAM_IMPUTE_SIDE_WEIGHT, SEGCAM_IMPUTE_DIAGONAL_WEIGHT, SEGCAM_IMPUTE_DIAGONAL_WEIGHT,
  SEGCAM_IMPUTE_DIAGONAL_WEIGHT, SEGCAM_IMPUTE_DIAGONAL_WEIGHT,
};

/* One level's matrix over its m unknowns, each at (x[i], y[i]) of a width x height grid: the
 * diagonal, and row i's off-diagonal entries -w[q] at columns nb[q], q in first[i] ..
 * first[i + 1]. The next (coarser) level's unknown of aggregate i is agg[i]; the coarsest level
 * holds its Cholesky factor instead (chol, m x m, lower). Vectors r, e, t are its work space. */
typedef struct level level;
struct level {
  int m, width, height;
  int *x, *y, *first, *nb, *agg;
  double *w, *diag, *chol;
  double *r, *e, *t;
  level *coarser;
};

static level *
level_new (int m, int width, int height, int entries)
{
  level *l = g_new0 (level, 1);
  l->m = m, l->width = width, l->height = height;
  l->x = g_new (int, m), l->y = g_new (int, m), l->first = g_new (int, m + 1);
  l->nb = g_new (int, entries), l->w = g_new (double, entries), l->diag = g_new0 (double, m);
  l->r = g_new (double, m), l->e = g_new (double, m), l->t = g_new (double, m);
  return l;
}

static void
level_free (level *l)
{
  while (l)
    {
      level *next = l->coarser;
      g_free (l->x), g_free (l->y), g_free (l->first), g_free (l->nb), g_free (l->agg);
      g_free (l->w), g_free (l->diag), g_free (l->chol), g_free (l->r), g_free (l->e), g_free (l->t);
      g_free (l);
      l = next;
    }
}

/* out = A v. */
static void
level_apply (const level *l, const double *v, double *out)
{
  for (int i = 0; i < l->m; i++)
    {
      double sum = l->diag[i] * v[i];
      for (int q = l->first[i]; q < l->first[i + 1]; q++)
        sum -= l->w[q] * v[l->nb[q]];
      out[i] = sum;
    }
}

/* The coarsest level: A = L L^T, dense. */
static void
level_factor (level *l)
{
  int m = l->m;
  double *a = l->chol = g_new0 (double, (size_t) m * m);
  for (int i = 0; i < m; i++)
    {
      a[(size_t) i * m + i] = l->diag[i];
      for (int q = l->first[i]; q < l->first[i + 1]; q++)
        a[(size_t) i * m + l->nb[q]] -= l->w[q];
    }
  for (int j = 0; j < m; j++)
    {
      double d = a[(size_t) j * m + j];
      for (int k = 0; k < j; k++)
        d -= a[(size_t) j * m + k] * a[(size_t) j * m + k];
      a[(size_t) j * m + j] = d = sqrt (d);
      for (int i = j + 1; i < m; i++)
        {
          double s = a[(size_t) i * m + j];
          for (int k = 0; k < j; k++)
            s -= a[(size_t) i * m + k] * a[(size_t) j * m + k];
          a[(size_t) i * m + j] = s / d;
        }
    }
}

static void
level_dense_solve (const level *l, const double *b, double *x)
{
  int m = l->m;
  const double *a = l->chol;
  for (int i = 0; i < m; i++)
    {
      double s = b[i];
      for (int k = 0; k < i; k++)
        s -= a[(size_t) i * m + k] * x[k];
      x[i] = s / a[(size_t) i * m + i];
    }
  for (int i = m - 1; i >= 0; i--)
    {
      double s = x[i];
      for (int k = i + 1; k < m; k++)
        s -= a[(size_t) k * m + i] * x[k];
      x[i] = s / a[(size_t) i * m + i];
    }
}

/* The next level: one unknown per 2 x 2 block holding any of l's, its matrix P^T A P. Returns
 * NULL when l is small enough to factor, or does not shrink. */
static level *
level_coarsen (level *l)
{
  int cw = (l->width + 1) / 2, ch = (l->height + 1) / 2;
  int *slot = g_new (int, (size_t) cw * ch), mc = 0;
  for (size_t i = 0; i < (size_t) cw * ch; i++)
    slot[i] = -1;
  l->agg = g_new (int, l->m);
  for (int i = 0; i < l->m; i++)
    {
      size_t s = (size_t) (l->y[i] / 2) * cw + l->x[i] / 2;
      if (slot[s] < 0)
        slot[s] = mc++;
      l->agg[i] = slot[s];
    }
  /* Coarse row I's neighbours lie in the 8 blocks around I's: one accumulator per direction. */
  level *c = level_new (mc, cw, ch, 8 * mc);
  double *acc = g_new0 (double, (size_t) 8 * mc);
  for (int i = 0; i < l->m; i++)
    {
      int I = l->agg[i];
      c->x[I] = l->x[i] / 2, c->y[I] = l->y[i] / 2;
      c->diag[I] += l->diag[i];
      for (int q = l->first[i]; q < l->first[i + 1]; q++)
        {
          int j = l->nb[q], dx = l->x[j] / 2 - c->x[I], dy = l->y[j] / 2 - c->y[I];
          if (dx == 0 && dy == 0)
            c->diag[I] -= l->w[q];
          else
            for (int d = 0; d < 8; d++)
              if (NB_DX[d] == dx && NB_DY[d] == dy)
                acc[(size_t) I * 8 + d] += l->w[q];
        }
    }
  int entries = 0;
  for (int I = 0; I < mc; I++)
    {
      c->first[I] = entries;
      for (int d = 0; d < 8; d++)
        if (acc[(size_t) I * 8 + d] != 0)
          {
            int nx = c->x[I] + NB_DX[d], ny = c->y[I] + NB_DY[d];
            c->nb[entries] = slot[(size_t) ny * cw + nx];
            c->w[entries++] = acc[(size_t) I * 8 + d];
          }
    }
  c->first[mc] = entries;
  g_free (acc);
  g_free (slot);
  return c;
}

/* The hierarchy under l, down to a level of at most DENSE_MAX unknowns (or one that stops
 * shrinking), which is factored. */
static void
level_build (level *l)
{
  while (l->m > DENSE_MAX)
    {
      level *c = level_coarsen (l);
      if (c->m == l->m)
        {
          level_free (c);
          break;
        }
      l->coarser = c;
      l = c;
    }
  level_factor (l);
}

static void
smooth (const level *l, const double *b, double *x, int sweeps)
{
  for (int s = 0; s < sweeps; s++)
    {
      level_apply (l, x, l->t);
      for (int i = 0; i < l->m; i++)
        x[i] += JACOBI_DAMPING * (b[i] - l->t[i]) / l->diag[i];
    }
}

/* x = the V-cycle's approximation of A^-1 b, from zero. */
static void
vcycle (const level *l, const double *b, double *x)
{
  if (l->chol)
    {
      level_dense_solve (l, b, x);
      return;
    }
  /* The first sweep from zero needs no product. */
  for (int i = 0; i < l->m; i++)
    x[i] = JACOBI_DAMPING * b[i] / l->diag[i];
  smooth (l, b, x, SMOOTHING_SWEEPS - 1);
  level *c = l->coarser;
  level_apply (l, x, l->t);
  memset (c->r, 0, c->m * sizeof (double));
  for (int i = 0; i < l->m; i++)
    c->r[l->agg[i]] += b[i] - l->t[i];
  vcycle (c, c->r, c->e);
  for (int i = 0; i < l->m; i++)
    x[i] += COARSE_SCALE * c->e[l->agg[i]];
  smooth (l, b, x, SMOOTHING_SWEEPS);
}

/* Preconditioned conjugate gradients for A x = b from x = 0, to the relative tolerance. */
static void
solve (const level *l, const double *b, double *x)
{
  int m = l->m;
  double *r = g_new (double, m), *z = g_new (double, m), *p = g_new (double, m);
  double *ap = g_new (double, m);
  double bnorm = 0, rnorm = 0, rz = 0;
  for (int i = 0; i < m; i++)
    bnorm += b[i] * b[i];
  memset (x, 0, m * sizeof (double));
  memcpy (r, b, m * sizeof (double));
  vcycle (l, r, z);
  memcpy (p, z, m * sizeof (double));
  for (int i = 0; i < m; i++)
    rz += r[i] * z[i], rnorm += r[i] * r[i];
  double limit = SEGCAM_IMPUTE_TOLERANCE * SEGCAM_IMPUTE_TOLERANCE * MAX (bnorm, 1e-30);
  for (int it = 0; it < MAX_ITERATIONS && rnorm > limit; it++)
    {
      level_apply (l, p, ap);
      double pap = 0;
      for (int i = 0; i < m; i++)
        pap += p[i] * ap[i];
      double alpha = rz / pap;
      rnorm = 0;
      for (int i = 0; i < m; i++)
        {
          x[i] += alpha * p[i];
          r[i] -= alpha * ap[i];
          rnorm += r[i] * r[i];
        }
      vcycle (l, r, z);
      double rz_next = 0;
      for (int i = 0; i < m; i++)
        rz_next += r[i] * z[i];
      for (int i = 0; i < m; i++)
        p[i] = z[i] + rz_next / rz * p[i];
      rz = rz_next;
    }
  g_free (r), g_free (z), g_free (p), g_free (ap);
}

void
segcam_impute_linear (float *image, int width, int height, int c, const guint8 *removed)
{
  size_t n = (size_t) width * height;
  int *local = g_new (int, n), m = 0;
  for (size_t i = 0; i < n; i++)
    local[i] = removed[i] ? m++ : -1;
  if (m == 0)
    {
      g_free (local);
      return;
    }
  level *fine = level_new (m, width, height, 8 * m);
  int *at = g_new (int, m), entries = 0;
  double *b = g_new0 (double, (size_t) m * c), *x = g_new (double, m), *bk = g_new (double, m);
  for (int y = 0; y < height; y++)
    for (int xx = 0; xx < width; xx++)
      {
        size_t p = (size_t) y * width + xx;
        int i = local[p];
        if (i < 0)
          continue;
        at[i] = (int) p, fine->x[i] = xx, fine->y[i] = y, fine->first[i] = entries;
        for (int q = 0; q < 8; q++)
          {
            int nx = xx + NB_DX[q], ny = y + NB_DY[q];
            if (nx < 0 || nx >= width || ny < 0 || ny >= height)
              continue;
            size_t j = (size_t) ny * width + nx;
            fine->diag[i] += NB_W[q];
            if (local[j] >= 0)
              fine->nb[entries] = local[j], fine->w[entries++] = NB_W[q];
            else
              for (int k = 0; k < c; k++)
                b[(size_t) i * c + k] += NB_W[q] * image[j * c + k];
          }
      }
  fine->first[m] = entries;
  g_free (local);
  level_build (fine);
  for (int k = 0; k < c; k++)
    {
      for (int i = 0; i < m; i++)
        bk[i] = b[(size_t) i * c + k];
      solve (fine, bk, x);
      for (int i = 0; i < m; i++)
        image[(size_t) at[i] * c + k] = (float) x[i];
    }
  level_free (fine);
  g_free (at), g_free (b), g_free (x), g_free (bk);
}
