/* shapes.c — every node's output shape for an input size: what the memory plan places and what
 * segcam_model_infer_shapes reports. Both refuse a network whose output is not the size of its
 * padded input, so a model file and an imported ONNX model meet the same check. */
#include "model.h"

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
segcam_model_shapes (const segcam_model *m, int batch, int hp, int wp, segcam_act *acts, GError **error)
{
  for (int i = 0; i < m->n_nodes; i++)
    {
      const segcam_node *n = &m->nodes[i];
      segcam_act *a = &acts[i];
      a->data = NULL;
      a->n = batch;
      a->c = n->channels;
      const segcam_op_def *def = segcam_op_get (n->op);
      if (!def->shape)
        a->h = hp, a->w = wp;
      else
        {
          char *why = def->shape (n, acts, a);
          if (why)
            {
              shape_fail (error, n, hp, wp, why);
              g_free (why);
              return FALSE;
            }
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
  /* Predictions, the loss and the explanation's score read the logits pixel for pixel with the
   * input: any other size would read past them or beside them. */
  const segcam_act *out = &acts[m->output];
  if (out->h != hp || out->w != wp)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL,
                   "output '%s' is %dx%d for a %dx%d (padded) input: segcam explains networks "
                   "whose logits have the input's size", m->nodes[m->output].name, out->w, out->h,
                   wp, hp);
      return FALSE;
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
  if (m->fixed_w)
    hp = m->fixed_h, wp = m->fixed_w; /* the size every image is resampled to */
  segcam_act *acts = g_new (segcam_act, m->n_nodes);
  gboolean ok = segcam_model_shapes (m, 1, hp, wp, acts, error);
  for (int i = 0; ok && i < m->n_nodes; i++)
    shapes[3 * i] = acts[i].c, shapes[3 * i + 1] = acts[i].h, shapes[3 * i + 2] = acts[i].w;
  g_free (acts);
  return ok;
}

