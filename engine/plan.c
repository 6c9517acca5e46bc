/* plan.c — shapes, the gradient set and the memory plan of a session.
 *
 * Memory is planned once per (model, image size, target): every buffer gets an interval on a
 * timeline (forward step i at time i, the backward of node i at time 2n-1-i) and an offset in one
 * arena such that buffers alive at the same time never overlap (greedy placement, largest first,
 * as ggml-alloc and TFLite's arena planner do). Nothing is allocated while the network runs. */
#include "session.h"

#include <string.h>
#include <unistd.h>

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

void
segcam_plan_grad_set (const segcam_model *m, int target, guint8 *needs_grad)
{
  /* Descendants of the target, in topological order... */
  memset (needs_grad, 0, m->n_nodes);
  needs_grad[target] = 1;
  for (int i = target + 1; i < m->n_nodes; i++)
    for (int k = 0; k < m->nodes[i].n_inputs; k++)
      if (needs_grad[m->nodes[i].inputs[k]])
        needs_grad[i] = 1;
  /* ...that are also ancestors of the output: every node the loader kept is one. */
}

/* ---- arena placement --------------------------------------------------------------------- */

typedef struct {
  size_t floats;
  int start, end;         /* alive during [start, end] */
  size_t offset;
  float **slot;           /* where the final pointer goes */
} buffer;

static int
by_size_desc (const void *a, const void *b)
{
  const buffer *x = a, *y = b;
  return x->floats < y->floats ? 1 : x->floats > y->floats ? -1 : 0;
}

static int
by_offset (const void *a, const void *b)
{
  const buffer *x = *(const buffer *const *) a, *y = *(const buffer *const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Greedy best placement: each buffer (largest first) goes at the lowest offset that does not
 * collide with an already placed buffer alive at an overlapping time. Returns the arena size. */
static size_t
place (buffer *bufs, int n)
{
  qsort (bufs, n, sizeof *bufs, by_size_desc);
  buffer **live = g_new (buffer *, n);
  size_t total = 0;
  for (int i = 0; i < n; i++)
    {
      int k = 0;
      for (int j = 0; j < i; j++)
        if (bufs[j].start <= bufs[i].end && bufs[i].start <= bufs[j].end)
          live[k++] = &bufs[j];
      qsort (live, k, sizeof *live, by_offset);
      size_t offset = 0;
      for (int j = 0; j < k; j++)
        {
          if (live[j]->offset >= offset + bufs[i].floats)
            break;
          offset = MAX (offset, live[j]->offset + live[j]->floats);
        }
      bufs[i].offset = offset;
      total = MAX (total, offset + bufs[i].floats);
    }
  g_free (live);
  return total;
}

/* Round up to 16 floats so every buffer starts on a 64-byte line. */
static size_t
aligned (size_t floats)
{
  return (floats + 15) & ~(size_t) 15;
}

gboolean
segcam_plan_memory (segcam_session *s, GError **error)
{
  const segcam_model *m = s->model;
  int n = m->n_nodes, end = 2 * n;
  buffer *bufs = g_new0 (buffer, 2 * n);
  int nb = 0;

  /* Activations: alive from their node to their last reader. A fast-path step runs at the time
   * of its last node and reads its parts then; absorbed nodes have no buffer. */
  int *last = g_new (int, n);
  for (int i = 0; i < n; i++)
    last[i] = i;
  for (int i = 0; i < n; i++)
    {
      const int *in;
      int n_in = segcam_node_absorbed (s, i) ? 0 : segcam_node_reads (s, i, &in);
      for (int k = 0; k < n_in; k++)
        last[in[k]] = i;
    }
  last[m->output] = end;
  gboolean train = s->mode == SEGCAM_RUN_TRAIN;
  if (s->mode != SEGCAM_RUN_FORWARD)
    {
      /* What backward reads stays until the end, so that one forward serves many explanations.
       * Training also reads the inputs of convs and batch norms, for the parameter gradients. */
      last[s->target] = end;
      for (int i = s->target + 1; i < n; i++)
        {
          const segcam_node *node = &m->nodes[i];
          if (!s->needs_grad[i] || segcam_node_absorbed (s, i))
            continue;
          if (node->op == SEGCAM_OP_RELU || node->op == SEGCAM_OP_SIGMOID)
            last[i] = end;
          else if (node->op == SEGCAM_OP_MUL)
            last[node->inputs[0]] = last[node->inputs[1]] = end;
          else if (node->op == SEGCAM_OP_MAXPOOL2D || node->op == SEGCAM_OP_HARDSWISH
                   || node->op == SEGCAM_OP_HARDSIGMOID || node->op == SEGCAM_OP_LEAKY_RELU
                   || node->op == SEGCAM_OP_CLIP
                   || (train && (node->op == SEGCAM_OP_CONV2D || node->op == SEGCAM_OP_CONV_TRANSPOSE2D
                                 || node->op == SEGCAM_OP_BATCHNORM)))
            last[node->inputs[0]] = end;
        }
    }
  for (int i = 0; i < n; i++)
    if (!segcam_node_absorbed (s, i))
      bufs[nb++] = (buffer) {aligned (segcam_act_size (&s->acts[i])), i, last[i], 0, &s->acts[i].data};

  /* Gradients: from the backward step of their first writer to their own backward step. */
  if (s->mode != SEGCAM_RUN_FORWARD)
    for (int i = s->target; i < n; i++)
      {
        if (!s->needs_grad[i] || segcam_node_absorbed (s, i))
          continue;
        int first_writer = i == m->output ? i : -1;
        for (int j = i + 1; j < n; j++)
          {
            const int *in;
            int n_in = segcam_node_absorbed (s, j) || !s->needs_grad[j] ? 0 : segcam_node_reads (s, j, &in);
            for (int k = 0; k < n_in; k++)
              if (in[k] == i)
                first_writer = j;
          }
        int start = end - 1 - first_writer, stop = i == s->target ? end : end - 1 - i;
        bufs[nb++] = (buffer) {aligned (segcam_act_size (&s->acts[i])), start, stop, 0,
                               &s->grads[i].data};
      }
  g_free (last);

  size_t total = place (bufs, nb);
  size_t scratch = 0;
  for (int i = 0; i < n; i++)
    if (m->nodes[i].op == SEGCAM_OP_CONV2D || m->nodes[i].op == SEGCAM_OP_CONV_TRANSPOSE2D)
      scratch = MAX (scratch, aligned (segcam_conv_scratch (&m->nodes[i].p.conv)));
  scratch = MAX (scratch, aligned (segcam_fuse_scratch (s)));
  int threads = segcam_pool_threads (s->pool);
  double bytes = (total + (double) scratch * threads) * sizeof (float);
  /* Linux overcommits: a plan larger than the machine would "allocate" and then be killed. */
  double physical = (double) sysconf (_SC_PHYS_PAGES) * sysconf (_SC_PAGESIZE);
  s->arena = bytes < physical ? g_try_new (float, total) : NULL;
  s->scratch = scratch ? g_try_new (float, scratch * threads) : NULL;
  s->scratch_per_thread = scratch;
  s->arena_floats = total;
  if (!s->arena || (scratch && !s->scratch))
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
                   "not enough memory for a %dx%d image (%.1f GiB needed)", s->width, s->height,
                   bytes / (1 << 30));
      g_free (bufs);
      return FALSE;
    }
  for (int i = 0; i < nb; i++)
    *bufs[i].slot = s->arena + bufs[i].offset;
  g_free (bufs);
  return TRUE;
}
