/* op.c — what op units share below the table. */
#include "op.h"

char *
segcam_shape_like_input (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_act *x = &acts[n->inputs[0]];
  out->h = x->h, out->w = x->w;
  return NULL;
}

char *
segcam_reach_like_input (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  *out = in[n->inputs[0]];
  return NULL;
}

static void
widen (segcam_reach_axis *a, const segcam_reach_axis *b)
{
  a->lo = MIN (a->lo, b->lo);
  a->hi = MAX (a->hi, b->hi);
}

char *
segcam_reach_union (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  *out = in[n->inputs[0]];
  for (int k = 1; k < n->n_inputs; k++)
    {
      const segcam_reach *r = &in[n->inputs[k]];
      if (r->y.stride != out->y.stride || r->x.stride != out->x.stride)
        return g_strdup_printf ("it combines inputs at strides %" G_GINT64_FORMAT " and %"
                                G_GINT64_FORMAT, out->x.stride, r->x.stride);
      widen (&out->y, &r->y);
      widen (&out->x, &r->x);
    }
  return NULL;
}

/* Input pixel i at stride S depends on [i S + lo, i S + S - 1 + hi]; output pixel j reads
 * i = j s - pad .. j s - pad + span, so it depends on [(j s - pad) S + lo,
 * (j s - pad + span) S + S - 1 + hi], which is [j S' + lo', j S' + S' - 1 + hi'] at S' = s S. */
void
segcam_reach_window (const segcam_reach_axis *in, int span, int s, int pad, segcam_reach_axis *out)
{
  out->stride = in->stride * s;
  out->lo = in->lo - (int64_t) pad * in->stride;
  out->hi = in->hi + (int64_t) (span - pad - s + 1) * in->stride;
}
