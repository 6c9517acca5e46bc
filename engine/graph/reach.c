/* reach.c — how far an output pixel's value reaches into the image (docs/seg-grad-cam.md,
 * "Large images: tiles"): each op's reach (segcam_op_def.reach) carried from the input to the
 * output in topological order, and the network's total stride, which tiles align to. */
#include "error.h"
#include "model.h"

/* Beyond these a network is no candidate for tiles (and int arithmetic stays safe). */
#define MAX_STRIDE (1 << 20)
#define MAX_REACH (1 << 24)

static int64_t
gcd64 (int64_t a, int64_t b)
{
  while (b)
    {
      int64_t t = a % b;
      a = b, b = t;
    }
  return a;
}

static gboolean
within_limits (const segcam_reach_axis *a)
{
  return a->stride >= 1 && a->stride <= MAX_STRIDE && a->lo >= -MAX_REACH && a->lo <= MAX_REACH
         && a->hi >= -MAX_REACH && a->hi <= MAX_REACH;
}

gboolean
segcam_model_reach (const segcam_model *m, int *reach, int *stride, GError **error)
{
  if (m->fixed_w)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the model runs at %dx%d only: it cannot be "
                        "run on tiles", m->fixed_w, m->fixed_h);
  segcam_reach *r = g_new (segcam_reach, m->n_nodes);
  r[0] = (segcam_reach) {{1, 0, 0}, {1, 0, 0}};
  int64_t lcm = 1;
  for (int i = 1; i < m->n_nodes; i++)
    {
      const segcam_node *n = &m->nodes[i];
      const segcam_op_def *def = segcam_op_get (n->op);
      char *why = def->reach ? def->reach (n, r, &r[i]) : g_strdup ("its op gives no reach");
      if (!why && !(within_limits (&r[i].y) && within_limits (&r[i].x)))
        why = g_strdup_printf ("its reach exceeds %d pixels or its stride %d", MAX_REACH,
                               MAX_STRIDE);
      for (int k = 0; !why && k < 2; k++)
        {
          int64_t s = k ? r[i].x.stride : r[i].y.stride;
          lcm = lcm / gcd64 (lcm, s) * s;
          if (lcm > MAX_STRIDE)
            why = g_strdup_printf ("the strides of the nodes up to it have no common multiple "
                                   "up to %d", MAX_STRIDE);
        }
      if (why)
        {
          char *name = segcam_escape (n->name, SEGCAM_SHOWN_CHARS);
          segcam_fail (error, SEGCAM_ERROR_INPUT, "node '%s' (%s) cannot be run on tiles: %s",
                       name, segcam_op_name (n->op), why);
          g_free (name);
          g_free (why);
          g_free (r);
          return FALSE;
        }
    }
  const segcam_reach *out = &r[m->output];
  int64_t most = MAX (MAX (-out->y.lo, out->y.hi), MAX (-out->x.lo, out->x.hi));
  *reach = (int) MAX (most, 0);
  *stride = (int) lcm;
  g_free (r);
  return TRUE;
}
