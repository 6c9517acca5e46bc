/* fuse.c — the fast path of forward and explain sessions: each conv runs as one step with the
 * batch norm and ReLU that follow it, reading a concat's inputs in place.
 *
 * A rewrite of the node list, decided once per session (ggml-style), that keeps every tensor the
 * caller can see:
 *   - conv -> batch norm (eval): the norm's per-channel scale goes into the conv's weights and its
 *     shift into the bias, so the conv's and the norm's activations are never written;
 *   - -> ReLU: applied in the conv's output epilogue (and in backward, as a mask on the gradient);
 *   - concat read only by convs on the Winograd path: never materialised; the convs read its
 *     inputs as channel parts, and in backward write only the gradients of the parts on a path
 *     to the target (a U-Net decoder's skip half needs none);
 *   - 3x3 stride-1 convs run as Winograd F(4x4, 3x3) (winograd.c), forward and backward-data;
 *     dilated ones as one such conv per phase, where the phases' sub-images fill the tiles. Their
 *     weights are transformed from the model's just before each conv runs, into one buffer that
 *     all of them share (segcam_fuse_weight_floats).
 * A node is left out of a chain when it is the explained layer or the output, or when anything
 * else reads it. Training (batch statistics, gradients for every node) and sessions asked to be
 * exact run node by node. */
#include "session.h"

#include <string.h>

/* Readers of each node, counted over all input slots. */
static int *
count_readers (const segcam_model *m)
{
  int *readers = g_new0 (int, m->n_nodes);
  for (int i = 0; i < m->n_nodes; i++)
    for (int k = 0; k < m->nodes[i].n_inputs; k++)
      readers[m->nodes[i].inputs[k]]++;
  return readers;
}

/* The single reader of node i, or -1. */
static int
only_reader (const segcam_model *m, const int *readers, int i)
{
  if (readers[i] != 1)
    return -1;
  for (int j = i + 1; j < m->n_nodes; j++)
    for (int k = 0; k < m->nodes[j].n_inputs; k++)
      if (m->nodes[j].inputs[k] == i)
        return j;
  return -1;
}

static segcam_fuse_role
fuse_role (const segcam_model *m, int i)
{
  return segcam_op_get (m->nodes[i].op)->fuse;
}

static gboolean
visible (const segcam_session *s, int i)
{
  return i == s->target || i == s->model->output;
}

/* Scales output channel co of every forward weight ([g][taps][cig][cog]) by scale[co]. */
static void
scale_out_channels (float *w, const segcam_conv_params *p, const float *scale)
{
  int groups = MAX (p->groups, 1), cig = p->cin / groups, cog = p->cout / groups;
  size_t rows = (size_t) p->kh * p->kw * cig;
  for (int g = 0; g < groups; g++)
    for (size_t r = 0; r < rows; r++)
      {
        float *row = w + (g * rows + r) * cog;
        for (int co = 0; co < cog; co++)
          row[co] *= scale[g * cog + co];
      }
}

/* The conv with batch norm bn (NULL: none) folded in; shares the model's arrays when there is
 * nothing to fold. A Winograd step folds bn's scale in its transform instead, and its weights are
 * not packed at all (step_kernels). The backward weights are packed only when backward asks for
 * them. */
static gboolean
fold (segcam_conv_step *st, const segcam_conv_params *conv, const segcam_batchnorm_params *bn,
      gboolean backward)
{
  if (!st->winograd)
    segcam_conv_forward_weights (conv);
  if (!bn && backward)
    segcam_conv_backward_weights (conv);
  st->p = *conv;
  if (!bn)
    return TRUE;
  st->p.bias = g_try_new (float, conv->cout);
  st->owns_bias = TRUE;
  if (!st->p.bias)
    return FALSE;
  for (int c = 0; c < conv->cout; c++)
    st->p.bias[c] = (conv->bias ? conv->bias[c] * bn->scale[c] : 0) + bn->shift[c];
  if (st->winograd)
    return TRUE;
  size_t n = (size_t) conv->kh * conv->kw * (conv->cin / MAX (conv->groups, 1)) * conv->cout;
  st->p.w_fwd = g_try_new (float, n);
  st->p.w_bwd = NULL;
  st->owns_weights = TRUE;
  if (!st->p.w_fwd)
    return FALSE;
  memcpy (st->p.w_fwd, conv->w_fwd, n * sizeof (float));
  scale_out_channels (st->p.w_fwd, conv, bn->scale);
  if (backward)
    segcam_conv_backward_weights (&st->p);
  return TRUE;
}

typedef struct {
  segcam_session *s;
  gint failed;
} prepare_job;

/* Step k's weights folded. Steps are independent, so the pool prepares them side by side. */
static void
prepare_task (void *ctx, int k, int thread)
{
  prepare_job *j = ctx;
  segcam_session *s = j->s;
  segcam_conv_step *st = &s->steps[k];
  (void) thread;
  const segcam_node *head = &s->model->nodes[st->head];
  gboolean backward = s->mode == SEGCAM_RUN_EXPLAIN && s->needs_grad[st->out];
  if (!fold (st, &head->p.conv, st->bn, backward && !st->winograd))
    g_atomic_int_set (&j->failed, 1);
}

/* Whether a group (or instance) normalisation lies between the explained layer and the output.
 * It removes each channel's mean, so the mean gradient by which Seg-Grad-CAM weighs a channel
 * nearly cancels below it and the map amplifies any rounding of the passes: Winograd's (about
 * 1e-6 a conv, before the layer as well as after it) became 1-2 % of the map at 512x512 on
 * nnU-Net-style networks, where the direct convolutions stayed within 7e-6 of float64 PyTorch.
 * Such sessions then run every conv direct. */
static gboolean
gradient_normalised (const segcam_session *s)
{
  if (s->mode != SEGCAM_RUN_EXPLAIN)
    return FALSE;
  for (int j = 0; j < s->model->n_nodes; j++)
    if (s->needs_grad[j] && s->model->nodes[j].op == SEGCAM_OP_GROUP_NORM)
      return TRUE;
  return FALSE;
}

/* winograd: FALSE when the session may not use it at all (gradient_normalised). */
static gboolean
uses_winograd (const segcam_session *s, gboolean winograd, int i)
{
  const segcam_node *node = &s->model->nodes[i];
  return winograd && fuse_role (s->model, i) == SEGCAM_FUSE_CONV
         && segcam_winograd_pays (&node->p.conv, &s->acts[node->inputs[0]]);
}

/* Whether concat node i can stay virtual: every reader is a conv on the Winograd path. */
static gboolean
concat_in_place (const segcam_session *s, gboolean winograd, int i)
{
  const segcam_model *m = s->model;
  if (fuse_role (m, i) != SEGCAM_FUSE_PARTS || visible (s, i))
    return FALSE;
  for (int j = i + 1; j < m->n_nodes; j++)
    for (int k = 0; k < m->nodes[j].n_inputs; k++)
      if (m->nodes[j].inputs[k] == i && !uses_winograd (s, winograd, j))
        return FALSE;
  return TRUE;
}

gboolean
segcam_fuse_plan (segcam_session *s, GError **error)
{
  const segcam_model *m = s->model;
  int n = m->n_nodes;
  int *readers = count_readers (m);
  s->step_at = g_new (int, n);
  s->absorbed = g_new0 (guint8, n);
  s->steps = g_new0 (segcam_conv_step, n);
  for (int i = 0; i < n; i++)
    s->step_at[i] = -1;
  gboolean winograd = !gradient_normalised (s);
  for (int i = 0; i < n; i++)
    s->absorbed[i] = concat_in_place (s, winograd, i);

  for (int i = 0; i < n; i++)
    {
      const segcam_node *node = &m->nodes[i];
      if (fuse_role (m, i) != SEGCAM_FUSE_CONV)
        continue;
      segcam_conv_step *st = &s->steps[s->n_steps++];
      st->head = st->out = i;
      int next = visible (s, i) ? -1 : only_reader (m, readers, i);
      if (next >= 0 && fuse_role (m, next) == SEGCAM_FUSE_FOLD)
        {
          st->bn = &m->nodes[next].p.bn;
          s->absorbed[st->out] = 1;
          st->out = next;
          next = visible (s, next) ? -1 : only_reader (m, readers, next);
        }
      if (next >= 0 && fuse_role (m, next) == SEGCAM_FUSE_RELU)
        {
          s->absorbed[st->out] = 1;
          st->out = next;
          st->relu = TRUE;
        }
      s->step_at[st->out] = s->n_steps - 1;

      int in = node->inputs[0];
      gboolean split = s->absorbed[in];
      st->n_parts = split ? m->nodes[in].n_inputs : 1;
      st->parts = split ? m->nodes[in].inputs : node->inputs;
      st->winograd = uses_winograd (s, winograd, i);
      if (st->winograd)
        st->kept = g_new0 (segcam_wino_slot, st->n_parts + 1);
    }
  prepare_job job = {s, 0};
  segcam_pool_run (s->pool, s->n_steps, prepare_task, &job);
  gboolean ok = !job.failed;
  g_free (readers);
  if (!ok)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
                 "not enough memory for the model's prepared weights");
  return ok;
}

void
segcam_fuse_free (segcam_session *s)
{
  for (int i = 0; s->steps && i < s->n_steps; i++)
    {
      segcam_conv_step *st = &s->steps[i];
      if (st->owns_weights)
        {
          g_free (st->p.w_fwd);
          g_free (st->p.w_bwd);
        }
      if (st->owns_bias)
        g_free (st->p.bias);
      for (int k = 0; st->kept && k <= st->n_parts; k++)
        g_free (st->kept[k].u);
      g_free (st->kept);
    }
  g_free (s->steps);
  g_free (s->step_at);
  g_free (s->absorbed);
}

int
segcam_node_reads (const segcam_session *s, int i, const int **inputs)
{
  const segcam_conv_step *st = segcam_step_at (s, i);
  if (st)
    {
      *inputs = st->parts;
      return st->n_parts;
    }
  *inputs = s->model->nodes[i].inputs;
  return s->model->nodes[i].n_inputs;
}

size_t
segcam_fuse_scratch (const segcam_session *s)
{
  size_t floats = 0;
  for (int i = 0; i < s->n_steps; i++)
    {
      const segcam_conv_step *st = &s->steps[i];
      if (!st->winograd)
        continue;
      floats = MAX (floats, segcam_winograd_scratch (st->p.cin, st->p.cout));
      if (s->mode == SEGCAM_RUN_EXPLAIN && s->needs_grad[st->out])
        for (int k = 0; k < st->n_parts; k++)
          floats = MAX (floats, segcam_winograd_scratch (st->p.cout, s->acts[st->parts[k]].c));
    }
  return floats;
}

size_t
segcam_fuse_weight_floats (const segcam_session *s)
{
  /* a backward part's transform, cout x (some of cin), is never larger than the forward's */
  size_t floats = 0;
  for (int i = 0; i < s->n_steps; i++)
    if (s->steps[i].winograd)
      floats = MAX (floats, segcam_winograd_floats (s->steps[i].p.cin, s->steps[i].p.cout));
  return floats;
}

/* A Winograd step's kernels: the model's packed ones if anything packed them (training changes
 * those), else the file's. */
static segcam_winograd_kernels
step_kernels (const segcam_session *s, const segcam_conv_step *st)
{
  const segcam_conv_params *c = &s->model->nodes[st->head].p.conv;
  const float *scale = st->bn ? st->bn->scale : NULL;
  const float *packed = g_atomic_pointer_get ((float **) &c->w_fwd);
  return packed ? segcam_winograd_packed (packed, c->cin, c->cout, scale)
                : segcam_winograd_file (c->w_file, c->cin, scale);
}

/* The weights slot's conv runs with: transformed into the shared buffer on its first two runs;
 * from its third on, the session is one that runs many times (explanations of several classes,
 * Score-CAM's masked passes, a benchmark), and the slot keeps them when memory allows, as
 * repeating the transforms cost 5 % of a U-Net's forward pass in-process. Keeping them from the
 * second run made that run slower than the first (the new pages' faults cost more than the
 * transform), which is the run a GIMP user waits for after changing the class.
 * *ready: they are transformed already. */
static float *
slot_weights (segcam_session *s, segcam_wino_slot *slot, int cin, int cout, gboolean *ready)
{
  *ready = slot->u != NULL;
  if (slot->u)
    return slot->u;
  size_t floats = segcam_winograd_floats (cin, cout);
  if (slot->runs++ >= 2 && (slot->u = g_try_new (float, floats)))
    {
      s->wino_kept_floats += floats;
      return slot->u;
    }
  return s->wino_weights;
}

static void
winograd_forward (segcam_session *s, const segcam_conv_step *st, segcam_act *out)
{
  segcam_winograd_part *parts = g_newa (segcam_winograd_part, st->n_parts);
  for (int k = 0; k < st->n_parts; k++)
    parts[k] = (segcam_winograd_part) {s->acts[st->parts[k]].data, s->acts[st->parts[k]].c};
  const segcam_act *in = &s->acts[st->parts[0]];
  segcam_winograd_geom g = segcam_winograd_forward (&st->p, in->n, in->h, in->w);
  gboolean ready;
  segcam_winograd_weights w = {st->p.cin, st->p.cout,
                               slot_weights (s, &st->kept[0], st->p.cin, st->p.cout, &ready)};
  segcam_winograd_kernels k = step_kernels (s, st);
  if (!ready)
    segcam_winograd_transform (s->pool, &k, st->p.cin, st->p.cout, &w);
  segcam_winograd_conv (s->pool, s->scratch, s->scratch_per_thread, &w, &g, parts,
                        st->n_parts, out->data, out->c, st->p.bias, 0.0f, st->relu);
}

void
segcam_step_forward (segcam_session *s, const segcam_conv_step *st)
{
  segcam_act *out = &s->acts[st->out];
  if (st->winograd)
    winograd_forward (s, st, out);
  else
    segcam_conv_forward_relu (s->pool, s->scratch, s->scratch_per_thread, &st->p,
                              st->p.transposed, &s->acts[st->parts[0]], out, st->relu);
  if (s->relu_bits[st->out])
    segcam_relu_bits (s->pool, out, s->relu_bits[st->out]);
}

void
segcam_step_backward (segcam_session *s, const segcam_conv_step *st, segcam_act *const *dparts,
                      const gboolean *fresh)
{
  segcam_act *dout = &s->grads[st->out];
  if (st->relu)
    /* The gradient of the step's output is read only here: mask it in place. */
    segcam_relu_mask_bits (s->pool, s->relu_bits[st->out], dout);
  if (!st->winograd)
    {
      if (dparts[0])
        segcam_conv_backward (s->pool, s->scratch, s->scratch_per_thread, &st->p,
                              st->p.transposed, dout,
                              dparts[0]);
      return;
    }
  segcam_winograd_part g = {dout->data, dout->c};
  const segcam_act *in = &s->acts[st->parts[0]];
  segcam_winograd_geom geom = segcam_winograd_backward (&st->p, in->n, in->h, in->w);
  segcam_winograd_kernels k = step_kernels (s, st);
  for (int i = 0, first = 0; i < st->n_parts; first += s->acts[st->parts[i]].c, i++)
    if (dparts[i])
      {
        gboolean ready;
        segcam_winograd_weights w = {st->p.cout, dparts[i]->c,
                                     slot_weights (s, &st->kept[1 + i], st->p.cout, dparts[i]->c,
                                                   &ready)};
        if (!ready)
          segcam_winograd_transform_backward (s->pool, &k, st->p.cout, first, dparts[i]->c, &w);
        segcam_winograd_conv (s->pool, s->scratch, s->scratch_per_thread, &w, &geom, &g, 1,
                              dparts[i]->data, dparts[i]->c, NULL, fresh[i] ? 0.0f : 1.0f, FALSE);
      }
}
