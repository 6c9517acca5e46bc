/* shapes.c — every node's output shape for an input size: what the memory plan places and what
 * segcam_model_infer_shapes reports. */
#include "ops.h"

/* One activation may hold at most this many floats (16 GiB): far beyond any image a user could
 * open, and small enough that offsets and byte counts never overflow. */
#define MAX_ACT_FLOATS ((size_t) 1 << 32)

static gboolean
shape_fail (GError **error, const segcam_node *n, int hp, int wp, const char *why)
{
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "node '%s' (%s): %s for a %dx%d input",
               n->name, segcam_op_name (n->op), why, wp, hp);
  return FALSE;
}

gboolean
segcam_plan_shapes (const segcam_model *m, int batch, int hp, int wp, segcam_act *acts, GError **error)
{
  for (int i = 0; i < m->n_nodes; i++)
    {
      const segcam_node *n = &m->nodes[i];
      segcam_act *a = &acts[i];
      const segcam_act *x = n->n_inputs ? &acts[n->inputs[0]] : NULL;
      a->data = NULL;
      a->n = batch;
      a->c = n->channels;
      switch (n->op)
        {
        case SEGCAM_OP_INPUT:
          a->h = hp, a->w = wp;
          break;
        case SEGCAM_OP_CONV2D:
          {
            const segcam_conv_params *p = &n->p.conv;
            a->h = segcam_conv_out (x->h, p->kh, p->sh, p->pt, p->pb, p->dh);
            a->w = segcam_conv_out (x->w, p->kw, p->sw, p->pl, p->pr, p->dw);
            break;
          }
        case SEGCAM_OP_CONV_TRANSPOSE2D:
          {
            const segcam_conv_params *p = &n->p.conv;
            a->h = segcam_conv_transpose_out (x->h, p->kh, p->sh, p->pt, p->oph, p->dh);
            a->w = segcam_conv_transpose_out (x->w, p->kw, p->sw, p->pl, p->opw, p->dw);
            break;
          }
        case SEGCAM_OP_MAXPOOL2D:
        case SEGCAM_OP_AVGPOOL2D:
          {
            const segcam_pool_params *p = &n->p.pool;
            a->h = segcam_pool_out (x->h, p->kh, p->sh, p->ph, p->ceil_mode);
            a->w = segcam_pool_out (x->w, p->kw, p->sw, p->pw, p->ceil_mode);
            break;
          }
        case SEGCAM_OP_UPSAMPLE:
          if (n->n_inputs == 2)
            a->h = acts[n->inputs[1]].h, a->w = acts[n->inputs[1]].w;
          else
            {
              a->h = segcam_upsample_out (x->h, n->p.up.scale_h);
              a->w = segcam_upsample_out (x->w, n->p.up.scale_w);
            }
          break;
        case SEGCAM_OP_CONCAT:
        case SEGCAM_OP_ADD:
          a->h = x->h, a->w = x->w;
          for (int k = 1; k < n->n_inputs; k++)
            if (acts[n->inputs[k]].h != x->h || acts[n->inputs[k]].w != x->w)
              {
                char *why = g_strdup_printf ("inputs of %dx%d and %dx%d pixels do not match", x->w,
                                             x->h, acts[n->inputs[k]].w, acts[n->inputs[k]].h);
                shape_fail (error, n, hp, wp, why);
                g_free (why);
                return FALSE;
              }
          break;
        case SEGCAM_OP_GLOBAL_AVGPOOL:
          a->h = a->w = 1;
          break;
        case SEGCAM_OP_MUL:
          {
            /* The second factor may be one pixel (a gate), broadcast over the first. */
            const segcam_act *y = &acts[n->inputs[1]];
            a->h = x->h, a->w = x->w;
            if ((y->h != x->h || y->w != x->w) && (y->h != 1 || y->w != 1))
              {
                char *why = g_strdup_printf ("factors of %dx%d and %dx%d pixels do not match", x->w,
                                             x->h, y->w, y->h);
                shape_fail (error, n, hp, wp, why);
                g_free (why);
                return FALSE;
              }
            break;
          }
        case SEGCAM_OP_PAD:
          {
            const segcam_pad_params *p = &n->p.pad;
            a->h = segcam_pad_out (x->h, p->pt, p->pb);
            a->w = segcam_pad_out (x->w, p->pl, p->pr);
            /* PyTorch: reflection needs pads smaller than the padded dimension. */
            if (p->mode == SEGCAM_PAD_REFLECT
                && (MAX (p->pt, p->pb) >= x->h || MAX (p->pl, p->pr) >= x->w))
              return shape_fail (error, n, hp, wp, "reflect padding as large as the input");
            break;
          }
        case SEGCAM_OP_BATCHNORM:
        case SEGCAM_OP_RELU:
        case SEGCAM_OP_SIGMOID:
        case SEGCAM_OP_HARDSWISH:
        case SEGCAM_OP_HARDSIGMOID:
        case SEGCAM_OP_LEAKY_RELU:
        case SEGCAM_OP_CLIP:
        case SEGCAM_OP_COUNT:
          a->h = x->h, a->w = x->w;
          break;
        }
      if (a->h <= 0 || a->w <= 0)
        return shape_fail (error, n, hp, wp, "the output would be empty");
      if ((size_t) a->h * a->w > MAX_ACT_FLOATS / (size_t) a->c / (size_t) batch)
        {
          g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
                       "node '%s' would hold %dx%dx%d values, too many for a %dx%d input", n->name,
                       a->c, a->h, a->w, wp, hp);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
segcam_model_infer_shapes (const segcam_model *m, int width, int height, int *shapes, GError **error)
{
  if (width < 1 || height < 1 || width > 1 << 20 || height > 1 << 20)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "image size %dx%d is out of range",
                   width, height);
      return FALSE;
    }
  int mult = m->size_multiple;
  int hp = (height + mult - 1) / mult * mult, wp = (width + mult - 1) / mult * mult;
  segcam_act *acts = g_new (segcam_act, m->n_nodes);
  gboolean ok = segcam_plan_shapes (m, 1, hp, wp, acts, error);
  for (int i = 0; ok && i < m->n_nodes; i++)
    shapes[3 * i] = acts[i].c, shapes[3 * i + 1] = acts[i].h, shapes[3 * i + 2] = acts[i].w;
  g_free (acts);
  return ok;
}

