/* session.c — running a planned network: preprocessing, the forward pass node by node, the
 * backward pass over the gradient set, and reading predictions off the output. */
#include "session.h"
#include "resample.h"

#include <math.h>
#include <string.h>

segcam_session *
segcam_session_create (const segcam_model *m, int width, int height, int batch,
                       segcam_run_mode mode, int target, int n_threads, gboolean exact,
                       GError **error)
{
  if (width < 1 || height < 1 || width > 1 << 20 || height > 1 << 20 || batch < 1 || batch > 1 << 16)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "image size %dx%d is out of range",
                   width, height);
      return NULL;
    }
  if (mode == SEGCAM_RUN_EXPLAIN && (target < 0 || target >= m->n_nodes))
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "layer %d does not exist", target);
      return NULL;
    }
  segcam_session *s = g_new0 (segcam_session, 1);
  int mult = m->size_multiple;
  s->model = m;
  s->width = width, s->height = height, s->batch = batch;
  s->hp = (height + mult - 1) / mult * mult;
  s->wp = (width + mult - 1) / mult * mult;
  if (m->fixed_w)
    {
      s->hp = m->fixed_h, s->wp = m->fixed_w;
      s->resampled = width != m->fixed_w || height != m->fixed_h;
    }
  if (s->resampled && mode == SEGCAM_RUN_TRAIN)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "the model runs at %dx%d only: train "
                   "it on images of that size, not %dx%d", s->wp, s->hp, width, height);
      g_free (s);
      return NULL;
    }
  s->mode = mode;
  s->exact = exact;
  s->explain = mode == SEGCAM_RUN_EXPLAIN;
  s->target = mode == SEGCAM_RUN_EXPLAIN ? target : mode == SEGCAM_RUN_TRAIN ? 0 : -1;
  s->acts = g_new0 (segcam_act, m->n_nodes);
  s->grads = g_new0 (segcam_act, m->n_nodes);
  s->needs_grad = g_new0 (guint8, m->n_nodes);
  s->relu_bits = g_new0 (guint32 *, m->n_nodes);
  s->pool = segcam_pool_new (n_threads);
  if (!segcam_model_shapes (m, batch, s->hp, s->wp, s->acts, error))
    goto fail;
  if (mode != SEGCAM_RUN_FORWARD)
    {
      segcam_plan_grad_set (m, s->target, s->needs_grad);
      for (int i = 0; i < m->n_nodes; i++)
        s->grads[i] = (segcam_act) {NULL, batch, s->acts[i].h, s->acts[i].w, s->acts[i].c};
    }
  if (mode == SEGCAM_RUN_TRAIN)
    {
      /* Nothing needs the gradient of the image itself. */
      s->needs_grad[0] = 0;
      s->bn_mean = g_new0 (float *, m->n_nodes);
      s->bn_rstd = g_new0 (float *, m->n_nodes);
      for (int i = 0; i < m->n_nodes; i++)
        if (segcam_op_get (m->nodes[i].op)->batch_stats)
          {
            s->bn_mean[i] = g_new (float, m->nodes[i].channels);
            s->bn_rstd[i] = g_new (float, m->nodes[i].channels);
          }
    }
  if (mode == SEGCAM_RUN_EXPLAIN)
    {
      const segcam_act *a = &s->acts[target];
      s->cam = g_try_new (float, (size_t) a->h * a->w);
      s->resized = g_try_new (float, s->resampled ? (size_t) width * height : (size_t) s->hp * s->wp);
      s->network_roi = s->resampled ? g_try_new (float, (size_t) s->hp * s->wp) : NULL;
      if (!s->cam || !s->resized || (s->resampled && !s->network_roi))
        {
          g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
                       "not enough memory for a %dx%d image", width, height);
          goto fail;
        }
    }
  if (s->resampled
      && !(s->image_logits = g_try_new (float, (size_t) width * height * s->acts[m->output].c)))
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY, "not enough memory for a %dx%d image",
                   width, height);
      goto fail;
    }
  if (mode != SEGCAM_RUN_TRAIN && !exact && !segcam_fuse_plan (s, error))
    goto fail;
  if (!segcam_plan_memory (s, error))
    goto fail;
  return s;

fail:
  segcam_session_free (s);
  return NULL;
}

segcam_session *
segcam_session_new (const segcam_model *m, const segcam_session_options *o, GError **error)
{
  if (o->layer < -1)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "layer %d does not exist", o->layer);
      return NULL;
    }
  int target = o->layer < 0 ? m->default_layer : o->layer;
  segcam_session *s = segcam_session_create (m, o->width, o->height, 1,
                                             o->explain ? SEGCAM_RUN_EXPLAIN : SEGCAM_RUN_FORWARD,
                                             target, o->n_threads, o->exact, error);
  if (s)
    {
      s->progress = o->progress;
      s->progress_data = o->progress_data;
    }
  return s;
}

void
segcam_session_free (segcam_session *s)
{
  if (!s)
    return;
  segcam_pool_free (s->pool);
  segcam_fuse_free (s);
  g_free (s->acts);
  g_free (s->grads);
  g_free (s->needs_grad);
  g_free (s->relu_bits);
  g_free (s->arena);
  g_free (s->scratch);
  g_free (s->wino_weights);
  g_free (s->conv_work);
  g_free (s->cam);
  g_free (s->resized);
  g_free (s->network_roi);
  g_free (s->image_logits);
  for (int i = 0; s->bn_mean && i < s->model->n_nodes; i++)
    {
      g_free (s->bn_mean[i]);
      g_free (s->bn_rstd[i]);
    }
  g_free (s->bn_mean);
  g_free (s->bn_rstd);
  g_free (s);
}

size_t
segcam_session_memory (const segcam_session *s)
{
  size_t floats = s->arena_floats + s->scratch_per_thread * segcam_pool_threads (s->pool)
                  + s->wino_floats + s->wino_kept_floats + s->conv_work_floats;
  if (s->cam)
    floats += (size_t) s->acts[s->target].h * s->acts[s->target].w
              + (s->resampled ? (size_t) s->width * s->height + (size_t) s->hp * s->wp
                              : (size_t) s->hp * s->wp);
  if (s->image_logits)
    floats += (size_t) s->width * s->height * s->acts[s->model->output].c;
  return floats * sizeof (float);
}

static void
report (const segcam_session *s, double fraction, const char *what)
{
  if (s->progress)
    s->progress (fraction, what, s->progress_data);
}

/* (x - mean) / std, padded at the bottom and right by repeating the edge pixels, or resampled to
 * the network's fixed size (normalising after resampling is the same: the weights sum to 1). */
static void
preprocess (const segcam_session *s, const float *pixels, float *out)
{
  const segcam_model *m = s->model;
  int c = m->in_channels;
  for (int b = 0; b < s->batch; b++, pixels += (size_t) s->width * s->height * c,
       out += (size_t) s->wp * s->hp * c)
  if (s->resampled)
    {
      segcam_resample_bilinear (s->pool, pixels, s->width, s->height, c, out, s->wp, s->hp);
      for (size_t i = 0; i < (size_t) s->wp * s->hp; i++)
        for (int k = 0; k < c; k++)
          out[i * c + k] = (out[i * c + k] - m->mean[k]) / m->std[k];
    }
  else
  for (int y = 0; y < s->hp; y++)
    {
      const float *row = pixels + (size_t) MIN (y, s->height - 1) * s->width * c;
      for (int x = 0; x < s->wp; x++)
        {
          const float *p = row + (size_t) MIN (x, s->width - 1) * c;
          float *o = out + ((size_t) y * s->wp + x) * c;
          for (int k = 0; k < c; k++)
            o[k] = (p[k] - m->mean[k]) / m->std[k];
        }
    }
}

/* What node i's kernels need of the session. */
static segcam_op_run
node_run (const segcam_session *s, int i)
{
  const segcam_node_grads *pg = s->param_grads ? &s->param_grads[i] : NULL;
  return (segcam_op_run) {
    .pool = s->pool, .scratch = s->scratch, .scratch_per_thread = s->scratch_per_thread,
    .train = s->mode == SEGCAM_RUN_TRAIN, .bn_momentum = s->bn_momentum,
    .bn_mean = s->bn_mean ? s->bn_mean[i] : NULL, .bn_rstd = s->bn_rstd ? s->bn_rstd[i] : NULL,
    .dweight = pg ? pg->weight : NULL, .dbias = pg ? pg->bias : NULL,
    .winograd = s->mode == SEGCAM_RUN_TRAIN && !s->exact, .conv_work = s->conv_work,
  };
}

static const segcam_act **
node_inputs (const segcam_session *s, const segcam_node *n, const segcam_act **ins)
{
  for (int k = 0; k < n->n_inputs; k++)
    ins[k] = &s->acts[n->inputs[k]];
  return ins;
}

static void
forward_node (segcam_session *s, int i)
{
  const segcam_node *n = &s->model->nodes[i];
  segcam_op_run r = node_run (s, i);
  const segcam_act **ins = g_newa (const segcam_act *, MAX (n->n_inputs, 1));
  segcam_op_get (n->op)->forward (&r, n, node_inputs (s, n, ins), &s->acts[i]);
}

gboolean
segcam_session_forward (segcam_session *s, const float *pixels, GError **error)
{
  const segcam_model *m = s->model;
  for (size_t i = 0, n = (size_t) s->width * s->height * m->in_channels * s->batch; i < n; i++)
    if (!isfinite (pixels[i]))
      {
        g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "the image has a non-finite value");
        return FALSE;
      }
  preprocess (s, pixels, s->acts[0].data);
  for (int i = 1; i < m->n_nodes; i++)
    {
      if (segcam_node_absorbed (s, i))
        continue;
      report (s, (double) i / m->n_nodes, m->nodes[i].name);
      const segcam_conv_step *st = segcam_step_at (s, i);
      if (st)
        segcam_step_forward (s, st);
      else
        forward_node (s, i);
    }
  if (s->resampled)
    {
      const segcam_act *z = &s->acts[m->output];
      segcam_resample_bilinear (s->pool, z->data, z->w, z->h, z->c, s->image_logits, s->width,
                                s->height);
    }
  report (s, 1.0, "done");
  s->forward_done = TRUE;
  return TRUE;
}

/* Gradient of node src, or NULL when the plan gives it none; *fresh says whether this is its
 * first writer, whose buffer may still hold another tensor's old values (the arena reuses it). */
static segcam_act *
claim_grad (segcam_session *s, int src, guint8 *ready, gboolean *fresh)
{
  if (!s->needs_grad[src])
    return NULL;
  *fresh = !ready[src];
  ready[src] = 1;
  return &s->grads[src];
}

/* The same, zeroed for kernels that accumulate. */
static segcam_act *
input_grad (segcam_session *s, int src, guint8 *ready)
{
  gboolean fresh;
  segcam_act *g = claim_grad (s, src, ready, &fresh);
  if (g && fresh)
    memset (g->data, 0, segcam_act_size (g) * sizeof (float));
  return g;
}

/* A fast-path step: the gradients of the parts it reads, as far as they need one. Winograd
 * steps overwrite a fresh gradient instead of adding to zeros. */
static void
backward_step (segcam_session *s, const segcam_conv_step *st, guint8 *ready)
{
  segcam_act **dparts = g_newa (segcam_act *, st->n_parts);
  gboolean *fresh = g_newa (gboolean, st->n_parts);
  for (int k = 0; k < st->n_parts; k++)
    {
      dparts[k] = claim_grad (s, st->parts[k], ready, &fresh[k]);
      if (dparts[k] && fresh[k] && !st->winograd)
        memset (dparts[k]->data, 0, segcam_act_size (dparts[k]) * sizeof (float));
    }
  segcam_step_backward (s, st, dparts, fresh);
}

static void
backward_node (segcam_session *s, int i, guint8 *ready)
{
  const segcam_conv_step *st = segcam_step_at (s, i);
  if (st)
    {
      /* Steps exist only in forward and explain sessions: no parameter gradients. */
      backward_step (s, st, ready);
      return;
    }
  const segcam_node *n = &s->model->nodes[i];
  const segcam_op_def *def = segcam_op_get (n->op);
  segcam_op_run r = node_run (s, i);
  int n_grad = def->grad_inputs < 0 ? n->n_inputs : def->grad_inputs;
  segcam_act **din = g_newa (segcam_act *, n->n_inputs);
  gboolean any = r.dweight != NULL;
  for (int k = 0; k < n->n_inputs; k++)
    {
      din[k] = k < n_grad ? input_grad (s, n->inputs[k], ready) : NULL;
      any |= din[k] != NULL;
    }
  /* Nothing below needs a gradient, and no parameter is trained here. */
  if (!any)
    return;
  const segcam_act **ins = g_newa (const segcam_act *, n->n_inputs);
  def->backward (&r, n, node_inputs (s, n, ins), &s->acts[i], &s->grads[i], din);
}

void
segcam_session_backward (segcam_session *s)
{
  const segcam_model *m = s->model;
  guint8 *ready = g_new0 (guint8, m->n_nodes);
  ready[m->output] = 1;
  for (int i = m->output; i > s->target; i--)
    if (s->needs_grad[i] && !segcam_node_absorbed (s, i))
      backward_node (s, i, ready);
  g_free (ready);
}

const float *
segcam_session_network_roi (segcam_session *s, const float *roi)
{
  if (!roi || !s->resampled)
    return roi;
  segcam_resample_bilinear (s->pool, roi, s->width, s->height, 1, s->network_roi, s->wp, s->hp);
  return s->network_roi;
}

/* ---- predictions ------------------------------------------------------------------------- */

void
segcam_session_probabilities (const segcam_session *s, float *out)
{
  g_return_if_fail (s->forward_done);
  const segcam_model *m = s->model;
  const segcam_act *z = &s->acts[m->output];
  size_t plane = (size_t) s->width * s->height;
  int nc = m->n_classes;
  float *prob = g_newa (float, nc);
  for (int y = 0; y < s->height; y++)
    for (int x = 0; x < s->width; x++)
      {
        const float *v = segcam_session_logits_at (s, x, y);
        size_t p = (size_t) y * s->width + x;
        if (m->sigmoid && z->c == 1)
          {
            float fg = segcam_logistic (v[0]);
            out[p] = 1.0f - fg;
            out[plane + p] = fg;
          }
        else if (m->sigmoid)
          for (int k = 0; k < nc; k++)
            out[k * plane + p] = segcam_logistic (v[k]);
        else
          {
            segcam_softmax (v, nc, prob);
            for (int k = 0; k < nc; k++)
              out[k * plane + p] = prob[k];
          }
      }
}

void
segcam_session_labels (const segcam_session *s, uint8_t *labels)
{
  g_return_if_fail (s->forward_done);
  const segcam_model *m = s->model;
  const segcam_act *z = &s->acts[m->output];
  for (int y = 0; y < s->height; y++)
    for (int x = 0; x < s->width; x++)
      {
        const float *v = segcam_session_logits_at (s, x, y);
        int best = 0;
        if (z->c == 1)
          best = v[0] > 0; /* sigmoid(z) > 0.5 */
        else
          for (int k = 1; k < z->c; k++)
            if (v[k] > v[best])
              best = k;
        labels[(size_t) y * s->width + x] = (uint8_t) best;
      }
}

void
segcam_labels_from_probabilities (const float *p, int n_classes, size_t n_pixels, uint8_t *labels)
{
  for (size_t i = 0; i < n_pixels; i++)
    {
      int best = 0;
      for (int k = 1; k < n_classes; k++)
        if (p[k * n_pixels + i] > p[best * n_pixels + i])
          best = k;
      labels[i] = (uint8_t) best;
    }
}

/* ---- reruns from the target (Ablation-CAM, engine/explain/perturb.c) ----------------------- */

/* The activations of nodes before the target that nodes after it read (a U-Net's skips), saved
 * while they are still whole: a full forward pass lets the arena reuse their buffers after their
 * last reader, so each rerun restores them first. */
struct segcam_rerun {
  int n;
  int *nodes;
  float **saved;
};

/* Nodes first..last in order, as segcam_session_forward runs them. */
static void
run_nodes (segcam_session *s, int first, int last)
{
  for (int i = first; i <= last; i++)
    {
      if (segcam_node_absorbed (s, i))
        continue;
      const segcam_conv_step *st = segcam_step_at (s, i);
      if (st)
        segcam_step_forward (s, st);
      else
        forward_node (s, i);
    }
}

segcam_rerun *
segcam_rerun_new (segcam_session *s, const float *pixels)
{
  const segcam_model *m = s->model;
  preprocess (s, pixels, s->acts[0].data);
  run_nodes (s, 1, s->target);
  guint8 *read = g_new0 (guint8, m->n_nodes);
  for (int i = s->target + 1; i < m->n_nodes; i++)
    {
      const int *in;
      int n_in = segcam_node_absorbed (s, i) ? 0 : segcam_node_reads (s, i, &in);
      for (int k = 0; k < n_in; k++)
        read[in[k]] |= in[k] < s->target;
    }
  segcam_rerun *r = g_new0 (segcam_rerun, 1);
  r->nodes = g_new (int, m->n_nodes);
  r->saved = g_new (float *, m->n_nodes);
  for (int i = 0; i < s->target; i++)
    if (read[i])
      {
        r->nodes[r->n] = i;
        r->saved[r->n++] = g_memdup2 (s->acts[i].data, segcam_act_size (&s->acts[i]) * sizeof (float));
      }
  g_free (read);
  return r;
}

void
segcam_rerun_forward (segcam_session *s, const segcam_rerun *r)
{
  for (int k = 0; k < r->n; k++)
    memcpy (s->acts[r->nodes[k]].data, r->saved[k],
            segcam_act_size (&s->acts[r->nodes[k]]) * sizeof (float));
  run_nodes (s, s->target + 1, s->model->n_nodes - 1);
}

void
segcam_rerun_free (segcam_rerun *r)
{
  for (int k = 0; r && k < r->n; k++)
    g_free (r->saved[k]);
  if (r)
    g_free (r->nodes), g_free (r->saved), g_free (r);
}
