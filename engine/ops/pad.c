/* pad.c — constant, reflect (edge not repeated) or replicate padding, PyTorch's F.pad; negative
 * pads crop. */
#include "tasks.h"

int
segcam_pad_out (int in, int lo, int hi)
{
  int64_t v = (int64_t) in + lo + hi;
  return v < 1 || v > INT32_MAX ? 0 : (int) v;
}

/* ---- padding ---------------------------------------------------------------------------------- */

/* Source index of padded index i (already shifted by the leading pad), or -1 for the constant. */
static inline int
pad_source (segcam_pad_mode mode, int i, int n)
{
  if (i >= 0 && i < n)
    return i;
  switch (mode)
    {
    case SEGCAM_PAD_REFLECT: /* the edge is not repeated: -1 -> 1, n -> n - 2 */
      return i < 0 ? -i : 2 * (n - 1) - i;
    case SEGCAM_PAD_REPLICATE:
      return i < 0 ? 0 : n - 1;
    default:
      return -1;
    }
}

static void
pad_task (void *ctx, int task, int thread)
{
  const channel_job *j = ctx;
  const segcam_pad_params *p = j->p;
  const segcam_act *in = j->in, *out = j->out;
  int c = in->c, b, k0, k1;
  channel_block (task, c, &b, &k0, &k1);
  float *x = in->data + (size_t) b * in->h * in->w * c;
  float *y = out->data + (size_t) b * out->h * out->w * c;
  for (int oy = 0; oy < out->h; oy++)
    {
      int sy = pad_source (p->mode, oy - p->pt, in->h);
      for (int ox = 0; ox < out->w; ox++)
        {
          int sx = sy < 0 ? -1 : pad_source (p->mode, ox - p->pl, in->w);
          float *o = y + ((size_t) oy * out->w + ox) * c;
          float *v = sx < 0 ? NULL : x + ((size_t) sy * in->w + sx) * c;
          if (j->backward)
            {
              if (v)
                for (int k = k0; k < k1; k++)
                  v[k] += o[k];
            }
          else
            for (int k = k0; k < k1; k++)
              o[k] = v ? v[k] : p->value;
        }
    }
  (void) thread;
}

void
segcam_pad_forward (segcam_pool *pool, const segcam_pad_params *p, const segcam_act *in,
                    segcam_act *out)
{
  channel_run (pool, pad_task, p, in, out, FALSE);
}

void
segcam_pad_backward (segcam_pool *pool, const segcam_pad_params *p, const segcam_act *dout,
                     segcam_act *din)
{
  channel_run (pool, pad_task, p, din, dout, TRUE);
}

/* ---- the op --------------------------------------------------------------------------- */

static gboolean
parse_pad (segcam_attrs *a, segcam_node *node, const segcam_node *nodes)
{
  segcam_pad_params *p = &node->p.pad;
  gboolean bad = FALSE;
  const char *mode = segcam_attr_string (a, "mode", &bad);
  if (bad || !segcam_attr_ints (a, "pads", 4, -SEGCAM_MAX_KERNEL * SEGCAM_MAX_DILATION, SEGCAM_MAX_KERNEL * SEGCAM_MAX_DILATION, NULL,
                         &p->pt)
      || !segcam_attr_float (a, "value", 0, &p->value))
    return FALSE;
  if (!mode || strcmp (mode, "constant") == 0)
    p->mode = SEGCAM_PAD_CONSTANT;
  else if (strcmp (mode, "reflect") == 0)
    p->mode = SEGCAM_PAD_REFLECT;
  else if (strcmp (mode, "replicate") == 0)
    p->mode = SEGCAM_PAD_REPLICATE;
  else
    return segcam_attr_fail (a, "mode must be \"constant\", \"reflect\" or \"replicate\"");
  return TRUE;
}


static char *
pad_shape (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_pad_params *p = &n->p.pad;
  const segcam_act *x = &acts[n->inputs[0]];
  out->h = segcam_pad_out (x->h, p->pt, p->pb);
  out->w = segcam_pad_out (x->w, p->pl, p->pr);
  /* PyTorch: reflection needs pads smaller than the padded dimension. */
  if (p->mode == SEGCAM_PAD_REFLECT && (MAX (p->pt, p->pb) >= x->h || MAX (p->pl, p->pr) >= x->w))
    return g_strdup ("reflect padding as large as the input");
  return NULL;
}

static void
pad_node_forward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                  segcam_act *out)
{
  segcam_pad_forward (r->pool, &n->p.pad, in[0], out);
}

static void
pad_node_backward (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                   const segcam_act *out, const segcam_act *dout, segcam_act *const *din)
{
  segcam_pad_backward (r->pool, &n->p.pad, dout, din[0]);
}

/* Output pixel j is input pixel j - pad (the pad's own pixels lie at the edge, where a tile's
 * differ from the image's anyway). */
static char *
pad_reach (const segcam_node *n, const segcam_reach *in, segcam_reach *out)
{
  const segcam_pad_params *p = &n->p.pad;
  *out = in[n->inputs[0]];
  out->y.lo -= p->pt * out->y.stride, out->y.hi -= p->pt * out->y.stride;
  out->x.lo -= p->pl * out->x.stride, out->x.hi -= p->pl * out->x.stride;
  return NULL;
}

const segcam_op_def segcam_op_pad = {
  .name = "pad", .format_version = 2, .min_inputs = 1, .max_inputs = 1, .grad_inputs = 1,
  .parse = parse_pad, .shape = pad_shape, .forward = pad_node_forward,
  .backward = pad_node_backward, .reach = pad_reach,
};
