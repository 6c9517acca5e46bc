/* train.c — U-Net construction, the training step (loss, backward, Adam) and checkpoints.
 *
 * The trainer runs a SEGCAM_RUN_TRAIN session (batch statistics, gradients for every node) and
 * keeps one record per trainable tensor: its values live in the model (conv weights in the
 * forward-packed layout the kernels use), its gradient and Adam moments beside it in the same
 * layout. PyTorch's layout appears only at the edges: saving, resuming, and gradient read-out. */
#include "segcam-train.h"
#include "safetensors.h"
#include "session.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* ---- U-Net construction ----------------------------------------------------------------- */

/* splitmix64: small, seedable, and the same everywhere. */
static guint64
next_u64 (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
next_normal (guint64 *state)
{
  /* Box-Muller on two uniforms in (0, 1]. */
  double u = ((next_u64 (state) >> 11) + 1) * 0x1.0p-53, v = (next_u64 (state) >> 11) * 0x1.0p-53;
  return sqrt (-2 * log (u)) * cos (2 * G_PI * v);
}

typedef struct {
  JsonBuilder *nodes;
  GPtrArray *tensors;     /* segcam_tensor *, owned */
  guint64 rng;
  int channels;           /* of the last node added */
  char *last;             /* its name */
} unet_builder;

static char *
add_tensor (unet_builder *b, const char *name, int n_dims, const int64_t *shape, double std, double fill)
{
  segcam_tensor *t = g_new0 (segcam_tensor, 1);
  t->name = g_strdup (name);
  t->n_dims = n_dims;
  t->n_elements = 1;
  for (int i = 0; i < n_dims; i++)
    t->shape[i] = shape[i], t->n_elements *= shape[i];
  t->data = g_new (float, t->n_elements);
  for (size_t i = 0; i < t->n_elements; i++)
    t->data[i] = (float) (std > 0 ? std * next_normal (&b->rng) : fill);
  g_ptr_array_add (b->tensors, t);
  return t->name;
}

static void
begin_node (unet_builder *b, const char *name, const char *op, const char *const *inputs, int n)
{
  json_builder_begin_object (b->nodes);
  json_builder_set_member_name (b->nodes, "name");
  json_builder_add_string_value (b->nodes, name);
  json_builder_set_member_name (b->nodes, "op");
  json_builder_add_string_value (b->nodes, op);
  json_builder_set_member_name (b->nodes, "inputs");
  json_builder_begin_array (b->nodes);
  for (int i = 0; i < n; i++)
    json_builder_add_string_value (b->nodes, inputs[i]);
  json_builder_end_array (b->nodes);
}

static void
int_pair (JsonBuilder *j, const char *key, int a, int c)
{
  json_builder_set_member_name (j, key);
  json_builder_begin_array (j);
  json_builder_add_int_value (j, a);
  json_builder_add_int_value (j, c);
  json_builder_end_array (j);
}

static void
end_node (unet_builder *b, const char *name, int channels)
{
  json_builder_end_object (b->nodes);
  g_free (b->last);
  b->last = g_strdup (name);
  b->channels = channels;
}

/* conv (k x k, stride 1, "same" zero padding for odd k) with He initialisation. */
static void
add_conv (unet_builder *b, const char *name, int cout, int k, gboolean bias)
{
  char *w = g_strdup_printf ("%s.weight", name), *bn = g_strdup_printf ("%s.bias", name);
  const int64_t shape[4] = {cout, b->channels, k, k}, bshape[1] = {cout};
  const char *in = b->last;
  begin_node (b, name, "conv2d", &in, 1);
  int_pair (b->nodes, "kernel", k, k);
  json_builder_set_member_name (b->nodes, "padding");
  json_builder_begin_array (b->nodes);
  for (int i = 0; i < 4; i++)
    json_builder_add_int_value (b->nodes, k / 2);
  json_builder_end_array (b->nodes);
  json_builder_set_member_name (b->nodes, "weight");
  json_builder_add_string_value (b->nodes, add_tensor (b, w, 4, shape, sqrt (2.0 / (b->channels * k * k)), 0));
  if (bias)
    {
      json_builder_set_member_name (b->nodes, "bias");
      json_builder_add_string_value (b->nodes, add_tensor (b, bn, 1, bshape, 0, 0));
    }
  end_node (b, name, cout);
  g_free (w);
  g_free (bn);
}

static void
add_unary (unet_builder *b, const char *name, const char *op)
{
  const char *in = b->last;
  begin_node (b, name, op, &in, 1);
  if (strcmp (op, "maxpool2d") == 0)
    int_pair (b->nodes, "kernel", 2, 2);
  end_node (b, name, b->channels);
}

static void
add_batchnorm (unet_builder *b, const char *name)
{
  const int64_t shape[1] = {b->channels};
  static const char *const fields[4] = {"gamma", "beta", "mean", "var"};
  static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
  const double fill[4] = {1, 0, 0, 1};
  const char *in = b->last;
  begin_node (b, name, "batchnorm", &in, 1);
  for (int i = 0; i < 4; i++)
    {
      char *t = g_strdup_printf ("%s.%s", name, suffix[i]);
      json_builder_set_member_name (b->nodes, fields[i]);
      json_builder_add_string_value (b->nodes, add_tensor (b, t, 1, shape, 0, fill[i]));
      g_free (t);
    }
  json_builder_set_member_name (b->nodes, "eps");
  json_builder_add_double_value (b->nodes, 1e-5);
  end_node (b, name, b->channels);
}

/* Two (conv3x3 [+ BN] + ReLU) named prefix.conv1 ... prefix.relu2. */
static void
add_block (unet_builder *b, const segcam_unet_spec *spec, const char *prefix, int filters)
{
  for (int i = 1; i <= 2; i++)
    {
      char *conv = g_strdup_printf ("%s.conv%d", prefix, i), *bn = g_strdup_printf ("%s.bn%d", prefix, i);
      char *relu = g_strdup_printf ("%s.relu%d", prefix, i);
      add_conv (b, conv, filters, 3, !spec->batchnorm);
      if (spec->batchnorm)
        add_batchnorm (b, bn);
      add_unary (b, relu, "relu");
      g_free (conv);
      g_free (bn);
      g_free (relu);
    }
}

static void
add_upsample (unet_builder *b, const segcam_unet_spec *spec, const char *name)
{
  const char *in = b->last;
  if (!spec->transposed)
    {
      begin_node (b, name, "upsample", &in, 1);
      int_pair (b->nodes, "scale", 2, 2);
      json_builder_set_member_name (b->nodes, "mode");
      json_builder_add_string_value (b->nodes, "bilinear");
      end_node (b, name, b->channels);
      return;
    }
  int cout = b->channels / 2;
  char *w = g_strdup_printf ("%s.weight", name), *bias = g_strdup_printf ("%s.bias", name);
  const int64_t shape[4] = {b->channels, cout, 2, 2}, bshape[1] = {cout};
  begin_node (b, name, "conv_transpose2d", &in, 1);
  int_pair (b->nodes, "kernel", 2, 2);
  int_pair (b->nodes, "stride", 2, 2);
  json_builder_set_member_name (b->nodes, "weight");
  /* PyTorch computes a transposed conv's fan-in from weight dim 1 (cout) times the kernel. */
  json_builder_add_string_value (b->nodes, add_tensor (b, w, 4, shape, sqrt (2.0 / (cout * 4)), 0));
  json_builder_set_member_name (b->nodes, "bias");
  json_builder_add_string_value (b->nodes, add_tensor (b, bias, 1, bshape, 0, 0));
  end_node (b, name, cout);
  g_free (w);
  g_free (bias);
}

static char *
graph_json (const segcam_unet_spec *spec, JsonNode *nodes, const char *default_layer, const char *output)
{
  JsonBuilder *j = json_builder_new ();
  json_builder_begin_object (j);
  json_builder_set_member_name (j, "input");
  json_builder_begin_object (j);
  json_builder_set_member_name (j, "channels");
  json_builder_add_int_value (j, spec->in_channels);
  json_builder_set_member_name (j, "colorspace");
  json_builder_add_string_value (j, spec->in_channels == 1 ? "gray" : "rgb");
  for (int k = 0; k < 2; k++)
    {
      json_builder_set_member_name (j, k ? "std" : "mean");
      json_builder_begin_array (j);
      for (int c = 0; c < spec->in_channels; c++)
        json_builder_add_double_value (j, k ? spec->std : spec->mean);
      json_builder_end_array (j);
    }
  json_builder_set_member_name (j, "size_multiple");
  json_builder_add_int_value (j, 1 << spec->depth);
  json_builder_end_object (j);
  json_builder_set_member_name (j, "classes");
  json_builder_begin_array (j);
  for (int c = 0; c < spec->n_classes; c++)
    {
      json_builder_begin_object (j);
      json_builder_set_member_name (j, "name");
      json_builder_add_string_value (j, spec->class_names[c]);
      if (spec->class_colors)
        {
          json_builder_set_member_name (j, "color");
          json_builder_add_string_value (j, spec->class_colors[c]);
        }
      json_builder_end_object (j);
    }
  json_builder_end_array (j);
  json_builder_set_member_name (j, "output");
  json_builder_add_string_value (j, output);
  json_builder_set_member_name (j, "output_activation");
  json_builder_add_string_value (j, "softmax");
  json_builder_set_member_name (j, "default_layer");
  json_builder_add_string_value (j, default_layer);
  json_builder_set_member_name (j, "nodes");
  json_builder_add_value (j, nodes); /* takes the reference */
  json_builder_end_object (j);
  JsonNode *root = json_builder_get_root (j);
  char *text = json_to_string (root, FALSE);
  json_node_unref (root);
  g_object_unref (j);
  return text;
}

static void
free_tensor (gpointer p)
{
  segcam_tensor *t = p;
  g_free (t->name);
  g_free (t->data);
  g_free (t);
}

segcam_model *
segcam_unet_build (const segcam_unet_spec *spec, GError **error)
{
  if (spec->depth < 1 || spec->depth > 8 || spec->filters < 1 || spec->filters > 1024
      || spec->n_classes < 2 || spec->n_classes > 255 || (spec->in_channels != 1 && spec->in_channels != 3))
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                   "U-Net: depth 1-8, filters 1-1024, 2-255 classes, 1 or 3 input channels");
      return NULL;
    }
  unet_builder b = {json_builder_new (), g_ptr_array_new_with_free_func (free_tensor), spec->seed,
                    spec->in_channels, g_strdup ("input")};
  json_builder_begin_array (b.nodes);
  begin_node (&b, "input", "input", NULL, 0);
  end_node (&b, "input", spec->in_channels);

  char **skips = g_new0 (char *, spec->depth);
  int *skip_channels = g_new (int, spec->depth);
  for (int level = 0; level < spec->depth; level++)
    {
      char *prefix = g_strdup_printf ("down%d", level + 1), *pool = g_strdup_printf ("pool%d", level + 1);
      add_block (&b, spec, prefix, spec->filters << level);
      skips[level] = g_strdup (b.last);
      skip_channels[level] = b.channels;
      add_unary (&b, pool, "maxpool2d");
      g_free (prefix);
      g_free (pool);
    }
  add_block (&b, spec, "bottleneck", spec->filters << spec->depth);
  char *default_layer = g_strdup (b.last);
  for (int level = spec->depth - 1; level >= 0; level--)
    {
      char *up = g_strdup_printf ("up%d.upsample", level + 1), *cat = g_strdup_printf ("up%d.concat", level + 1);
      char *prefix = g_strdup_printf ("up%d", level + 1);
      add_upsample (&b, spec, up);
      const char *ins[2] = {skips[level], b.last};
      int channels = b.channels + skip_channels[level];
      begin_node (&b, cat, "concat", ins, 2);
      end_node (&b, cat, channels);
      add_block (&b, spec, prefix, spec->filters << level);
      g_free (up);
      g_free (cat);
      g_free (prefix);
    }
  add_conv (&b, "head", spec->n_classes, 1, TRUE);
  json_builder_end_array (b.nodes);

  JsonNode *nodes = json_builder_get_root (b.nodes);
  char *graph = graph_json (spec, nodes, default_layer, "head");
  /* The container the model would be saved as, in memory and borrowing the builder's strings
   * and tensors: the loader validates it as it validates a file. */
  GHashTable *metadata = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (metadata, (gpointer) "segcam.format", (gpointer) "1");
  g_hash_table_insert (metadata, (gpointer) "segcam.graph", graph);
  g_hash_table_insert (metadata, (gpointer) "segcam.name",
                       (gpointer) (spec->name ? spec->name : "U-Net"));
  GPtrArray *ts = b.tensors;
  segcam_tensor *flat = g_new (segcam_tensor, ts->len);
  for (guint i = 0; i < ts->len; i++)
    flat[i] = *(segcam_tensor *) ts->pdata[i];
  segcam_safetensors st = {flat, (int) ts->len, metadata, NULL};
  segcam_model *m = segcam_model_from_safetensors (&st, error);
  g_hash_table_unref (metadata);

  g_free (flat);
  g_free (graph);
  g_object_unref (b.nodes);
  g_ptr_array_free (ts, TRUE);
  for (int i = 0; i < spec->depth; i++)
    g_free (skips[i]);
  g_free (skips);
  g_free (skip_channels);
  g_free (default_layer);
  g_free (b.last);
  return m;
}

/* ---- the trainer ---------------------------------------------------------------------------- */

/* One trainable tensor. */
typedef struct {
  const char *name;       /* as in the file */
  int node;
  int which;              /* index into the node's tensors[] */
  gboolean packed;        /* a conv weight in the forward-packed layout */
  float *value, *grad, *m, *v;
  size_t n;
  float *torch;           /* read-out buffer in PyTorch's layout */
} param;

struct segcam_trainer {
  segcam_model *model;
  segcam_session *session;
  segcam_trainer_options o;
  param *params;
  int n_params;
  segcam_node_grads *node_grads;
  int64_t steps;
};

/* What each op derives from its tensors (conv backward weights, batch norm's eval scale and
 * shift) follows the values training gave them. */
static void
refresh (segcam_model *m)
{
  for (int i = 0; i < m->n_nodes; i++)
    {
      const segcam_op_def *def = segcam_op_get (m->nodes[i].op);
      if (def->refresh)
        def->refresh (&m->nodes[i]);
    }
}

static void
add_param (GArray *list, const segcam_node *n, int node, int which, float *value, size_t count,
           gboolean packed)
{
  param p = {n->tensors[which], node, which, packed, value, g_new0 (float, count),
             g_new0 (float, count), g_new0 (float, count), count, NULL};
  g_array_append_val (list, p);
}

segcam_trainer *
segcam_trainer_new (segcam_model *model, const segcam_trainer_options *options, GError **error)
{
  segcam_trainer *t = g_new0 (segcam_trainer, 1);
  t->model = model;
  t->o = *options;
  /* Each option on its own: a zero beta2 or eps left in would make Adam divide 0 by 0. */
  if (t->o.beta1 == 0)
    t->o.beta1 = 0.9;
  if (t->o.beta2 == 0)
    t->o.beta2 = 0.999;
  if (t->o.eps == 0)
    t->o.eps = 1e-8;
  if (t->o.bn_momentum == 0)
    t->o.bn_momentum = 0.1;
  /* The loss reads one label per pixel of the network's input, which the session pads up to the
   * size multiple; padded pixels have no labels. */
  int mult = model->size_multiple;
  if (options->width % mult || options->height % mult)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                   "training images must be a multiple of %d pixels wide and high, not %dx%d", mult,
                   options->width, options->height);
      segcam_trainer_free (t);
      return NULL;
    }
  /* One record per trainable tensor, in node order: each op describes its tensors (and refuses
   * what it cannot train). */
  GArray *list = g_array_new (FALSE, FALSE, sizeof (param));
  gboolean ok = TRUE;
  for (int i = 0; ok && i < model->n_nodes; i++)
    {
      segcam_node *n = &model->nodes[i];
      const segcam_op_def *def = segcam_op_get (n->op);
      for (int k = 0; ok && def->tensor && k < (int) G_N_ELEMENTS (n->tensors); k++)
        {
          segcam_op_tensor ft;
          if (n->tensors[k] && (ok = def->tensor (n, k, &ft, error)) && ft.trainable)
            add_param (list, n, i, k, ft.data, ft.n, ft.packed);
        }
    }
  t->n_params = (int) list->len;
  t->params = (param *) g_array_free (list, FALSE);
  if (ok)
    t->session = segcam_session_create (model, options->width, options->height, options->batch,
                                        SEGCAM_RUN_TRAIN, 0, options->n_threads, options->exact,
                                        error);
  if (!t->session)
    {
      segcam_trainer_free (t);
      return NULL;
    }
  t->session->bn_momentum = t->o.bn_momentum;
  t->node_grads = g_new0 (segcam_node_grads, model->n_nodes);
  /* Each node's gradients come first (weight or gamma), then bias or beta. */
  for (int k = 0; k < t->n_params; k++)
    {
      segcam_node_grads *g = &t->node_grads[t->params[k].node];
      if (!g->weight)
        g->weight = t->params[k].grad;
      else
        g->bias = t->params[k].grad;
    }
  t->session->param_grads = t->node_grads;
  return t;
}

void
segcam_trainer_free (segcam_trainer *t)
{
  if (!t)
    return;
  for (int k = 0; k < t->n_params; k++)
    {
      g_free (t->params[k].grad);
      g_free (t->params[k].m);
      g_free (t->params[k].v);
      g_free (t->params[k].torch);
    }
  g_free (t->params);
  g_free (t->node_grads);
  segcam_session_free (t->session);
  segcam_model_free (t->model);
  g_free (t);
}

segcam_model *
segcam_trainer_model (segcam_trainer *t)
{
  return t->model;
}

int64_t
segcam_trainer_steps (const segcam_trainer *t)
{
  return t->steps;
}

/* Mean cross-entropy over the batch's pixels into *loss (not finite when the run diverged);
 * writes dLoss/dlogits into the output gradient. FALSE for a label that is not a class. */
static gboolean
loss_and_seed (segcam_session *s, const uint8_t *labels, double *loss_out, double *accuracy,
               GError **error)
{
  const segcam_model *m = s->model;
  const segcam_act *z = &s->acts[m->output];
  segcam_act *g = &s->grads[m->output];
  size_t pixels = (size_t) z->n * z->h * z->w;
  int nc = z->c;
  double loss = 0, inv = 1.0 / (double) pixels;
  size_t correct = 0;
  for (size_t p = 0; p < pixels; p++)
    {
      const float *v = z->data + p * nc;
      float *d = g->data + p * nc;
      int y = labels[p];
      if (y >= m->n_classes)
        {
          g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "label %d is not a class of the model", y);
          return FALSE;
        }
      if (nc == 1)
        {
          /* Binary cross-entropy with logits, in its stable form. */
          float x = v[0], prob = segcam_logistic (x);
          loss += MAX (x, 0.0f) - x * y + log1p (exp (-fabs (x)));
          d[0] = (float) ((prob - y) * inv);
          correct += (x > 0) == (y == 1);
          continue;
        }
      int best = 0;
      float mx = v[0];
      for (int k = 1; k < nc; k++)
        if (v[k] > mx)
          mx = v[k], best = k;
      double sum = 0;
      for (int k = 0; k < nc; k++)
        sum += exp ((double) v[k] - mx);
      loss += log (sum) - ((double) v[y] - mx);
      for (int k = 0; k < nc; k++)
        d[k] = (float) ((exp ((double) v[k] - mx) / sum - (k == y)) * inv);
      correct += best == y;
    }
  *accuracy = (double) correct / (double) pixels;
  *loss_out = loss * inv;
  return TRUE;
}

/* Elements of the parameters per task of the Adam update. */
#define ADAM_CHUNK 65536

typedef struct {
  segcam_trainer *t;
  float b1, b2, c1, c2;    /* beta1, beta2, 1 - beta1, 1 - beta2 */
  double step_size, bc2_sqrt, eps;
  size_t *start;           /* n_params + 1: where each parameter starts in one flat run of all */
  int *first_bad;          /* per task: the first parameter it made NaN or infinite, or -1 */
} adam_job;

/* Elements [a, b) of p; whether one of them became NaN or infinite. As PyTorch writes Adam:
 * m = b1 m + c1 g, v = b2 v + c2 g^2 in float, value -= step_size * m / (sqrt (v) / bc2_sqrt +
 * eps) with the scalars in double, each result rounded to float (the arithmetic the bundled
 * models were trained with: models/README.md). */
static gboolean
adam_span (const adam_job *j, param *p, size_t a, size_t b)
{
  float *restrict m = p->m, *restrict v = p->v, *restrict w = p->value;
  const float *restrict g = p->grad;
  guint32 bad = 0;
  for (size_t i = a; i < b; i++)
    {
      float gi = g[i], mi = j->b1 * m[i] + j->c1 * gi, vi = j->b2 * v[i] + j->c2 * gi * gi;
      float denom = (float) (sqrtf (vi) / j->bc2_sqrt + j->eps);
      float wi = w[i] - (float) (j->step_size * mi / denom);
      m[i] = mi;
      v[i] = vi;
      w[i] = wi;
      guint32 bits;
      memcpy (&bits, &wi, sizeof bits);
      bad |= (bits & 0x7f800000u) == 0x7f800000u;   /* exponent all ones: infinite or NaN */
    }
  return bad != 0;
}

static void
adam_task (void *ctx, int task, int thread)
{
  const adam_job *j = ctx;
  (void) thread;
  int n = j->t->n_params, k = 0;
  size_t lo = (size_t) task * ADAM_CHUNK, hi = MIN (lo + ADAM_CHUNK, j->start[n]);
  while (j->start[k + 1] <= lo)
    k++;
  j->first_bad[task] = -1;
  for (; lo < hi; k++)
    {
      size_t end = MIN (hi, j->start[k + 1]);
      if (adam_span (j, &j->t->params[k], lo - j->start[k], end - j->start[k])
          && j->first_bad[task] < 0)
        j->first_bad[task] = k;
      lo = end;
    }
}

/* torch.optim.Adam (no weight decay, no amsgrad), split between the session's threads. Returns
 * the parameter a step made NaN or infinite (the run diverged), or NULL. */
static const param *
adam_update (segcam_trainer *t, double lr)
{
  double bc1 = 1 - pow (t->o.beta1, (double) t->steps), bc2 = 1 - pow (t->o.beta2, (double) t->steps);
  /* 1 - beta is taken in double and then rounded, as PyTorch turns its Python-float scalars
   * into float32: 1 - (float) 0.999 would be 1.3e-5 off 0.001 and bias every v. */
  adam_job j = {
    .t = t, .b1 = (float) t->o.beta1, .b2 = (float) t->o.beta2, .c1 = (float) (1 - t->o.beta1),
    .c2 = (float) (1 - t->o.beta2), .step_size = lr / bc1, .bc2_sqrt = sqrt (bc2), .eps = t->o.eps,
    .start = g_new (size_t, t->n_params + 1),
  };
  j.start[0] = 0;
  for (int k = 0; k < t->n_params; k++)
    j.start[k + 1] = j.start[k] + t->params[k].n;
  int tasks = (int) ((j.start[t->n_params] + ADAM_CHUNK - 1) / ADAM_CHUNK);
  j.first_bad = g_new (int, MAX (tasks, 1));
  segcam_pool_run (t->session->pool, tasks, adam_task, &j);
  const param *diverged = NULL;
  for (int i = 0; i < tasks && !diverged; i++)
    if (j.first_bad[i] >= 0)
      diverged = &t->params[j.first_bad[i]];
  g_free (j.start);
  g_free (j.first_bad);
  refresh (t->model);
  return diverged;
}

gboolean
segcam_trainer_step (segcam_trainer *t, const float *images, const uint8_t *labels, double lr,
                     segcam_step_result *result, GError **error)
{
  segcam_session *s = t->session;
  if (!segcam_session_forward (s, images, error))
    return FALSE;
  double loss, accuracy;
  if (!loss_and_seed (s, labels, &loss, &accuracy, error))
    return FALSE;
  /* No step brings a diverged run back: stop at the first sign, in the loss or the weights. */
  if (!isfinite (loss))
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "training diverged: the loss is %s; a lower "
                        "learning rate may train", isnan (loss) ? "NaN" : "infinite");
  for (int k = 0; k < t->n_params; k++)
    memset (t->params[k].grad, 0, t->params[k].n * sizeof (float));
  segcam_session_backward (s);
  t->steps++;
  const param *diverged = adam_update (t, lr);
  if (diverged)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "training diverged: the step made '%s' NaN or "
                        "infinite; a lower learning rate may train", diverged->name);
  if (result)
    *result = (segcam_step_result) {loss, accuracy};
  return TRUE;
}

void
segcam_trainer_sync (segcam_trainer *t)
{
  refresh (t->model);
}

/* PyTorch's layout of a parameter-shaped buffer (the value, a gradient or a moment). */
static void
to_torch (const segcam_trainer *t, const param *p, const float *src, float *dst)
{
  const segcam_node *n = &t->model->nodes[p->node];
  if (p->packed)
    segcam_conv_unpack (&n->p.conv, n->p.conv.transposed, src, dst);
  else
    memcpy (dst, src, p->n * sizeof (float));
}

static void
from_torch (const segcam_trainer *t, const param *p, const float *src, float *dst)
{
  const segcam_node *n = &t->model->nodes[p->node];
  if (p->packed)
    segcam_conv_pack (&n->p.conv, n->p.conv.transposed, src, dst);
  else
    memcpy (dst, src, p->n * sizeof (float));
}

const float *
segcam_trainer_gradient (segcam_trainer *t, const char *tensor, size_t *n)
{
  for (int k = 0; k < t->n_params; k++)
    {
      param *p = &t->params[k];
      if (strcmp (p->name, tensor) != 0)
        continue;
      if (!p->torch)
        p->torch = g_new (float, p->n);
      to_torch (t, p, p->grad, p->torch);
      *n = p->n;
      return p->torch;
    }
  return NULL;
}

/* A tensor named name, laid out as the file tensor tensors[which] of node n. */
static segcam_tensor
file_tensor (segcam_node *n, int which, char *name, float *data)
{
  segcam_op_tensor ft;
  segcam_op_get (n->op)->tensor (n, which, &ft, NULL);
  segcam_tensor t = {name, ft.n_dims, {0}, ft.n, data};
  memcpy (t.shape, ft.shape, sizeof ft.shape);
  return t;
}

gboolean
segcam_trainer_save (segcam_trainer *t, const char *path, const char *training_json,
                     gboolean checkpoint, GError **error)
{
  segcam_model *m = t->model;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (segcam_tensor));
  GPtrArray *owned = g_ptr_array_new_with_free_func (g_free);
  for (int k = 0; k < t->n_params; k++)
    {
      const param *p = &t->params[k];
      segcam_node *n = &m->nodes[p->node];
      const float *srcs[3] = {p->value, p->m, p->v};
      for (int s = 0; s < (checkpoint ? 3 : 1); s++)
        {
          float *data = g_new (float, p->n);
          char *name = s ? g_strdup_printf ("adam.%s.%s", s == 1 ? "m" : "v", p->name) : g_strdup (p->name);
          to_torch (t, p, srcs[s], data);
          g_ptr_array_add (owned, data);
          g_ptr_array_add (owned, name);
          segcam_tensor ft = file_tensor (n, p->which, name, data);
          g_array_append_val (out, ft);
        }
    }
  /* State (running statistics) is saved, never optimised. */
  for (int i = 0; i < m->n_nodes; i++)
    {
      segcam_node *n = &m->nodes[i];
      const segcam_op_def *def = segcam_op_get (n->op);
      for (int k = 0; def->tensor && k < (int) G_N_ELEMENTS (n->tensors); k++)
        {
          segcam_op_tensor st;
          if (n->tensors[k] && def->tensor (n, k, &st, NULL) && !st.trainable)
            {
              segcam_tensor ft = file_tensor (n, k, n->tensors[k], st.data);
              g_array_append_val (out, ft);
            }
        }
    }
  char *steps = g_strdup_printf ("%" G_GINT64_FORMAT, t->steps);
  /* The graph is written back as loaded, so it keeps its format: version 2 ops need "2". */
  char *format = g_strdup_printf ("%d", MAX (m->format_version, 1));
  /* The size every training image had: the advice warns when an image is far from it. */
  char *size = g_strdup_printf ("%dx%d", t->o.width, t->o.height);
  const char *keys[8] = {"segcam.format", "segcam.graph", "segcam.name", "segcam.description",
                         "segcam.training_size"};
  const char *values[8] = {format, m->graph_json, m->name, m->description, size};
  int n_keys = 5;
  if (training_json)
    keys[n_keys] = "segcam.training", values[n_keys++] = training_json;
  if (checkpoint)
    keys[n_keys] = "segcam.adam_steps", values[n_keys++] = steps;
  keys[n_keys] = values[n_keys] = NULL;
  gboolean ok = segcam_safetensors_write (path, (segcam_tensor *) out->data, (int) out->len, keys,
                                          values, error);
  g_free (size);
  g_free (steps);
  g_free (format);
  g_ptr_array_free (owned, TRUE);
  g_array_free (out, TRUE);
  return ok;
}

gboolean
segcam_trainer_resume (segcam_trainer *t, const char *path, GError **error)
{
  GMappedFile *f = g_mapped_file_new (path, FALSE, error);
  if (!f)
    return FALSE;
  segcam_safetensors st;
  gboolean ok = segcam_safetensors_parse ((const uint8_t *) g_mapped_file_get_contents (f),
                                          g_mapped_file_get_length (f), &st, error);
  g_mapped_file_unref (f);
  if (!ok)
    return FALSE;
  const char *steps = segcam_safetensors_metadata (&st, "segcam.adam_steps");
  guint64 v = 0;
  ok = steps && g_ascii_string_to_unsigned (steps, 10, 0, G_MAXINT64, &v, NULL);
  for (int k = 0; ok && k < t->n_params; k++)
    {
      param *p = &t->params[k];
      for (int s = 0; ok && s < 2; s++)
        {
          char *name = g_strdup_printf ("adam.%s.%s", s ? "v" : "m", p->name);
          const segcam_tensor *st_t = segcam_safetensors_find (&st, name);
          ok = st_t && st_t->n_elements == p->n;
          if (ok && segcam_tensor_find_nonfinite (st_t) < p->n)
            {
              /* The model's own weights were checked at load: the same for its Adam state. */
              g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL, "checkpoint tensor '%s' holds "
                           "NaN or an infinity: the run it saved had diverged", name);
              g_free (name);
              segcam_safetensors_clear (&st);
              return FALSE;
            }
          if (ok)
            from_torch (t, p, st_t->data, s ? p->v : p->m);
          g_free (name);
        }
    }
  if (!ok)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL,
                 "%s is not a checkpoint of this model (Adam state missing or of another shape)", path);
  else
    t->steps = (int64_t) v;
  segcam_safetensors_clear (&st);
  return ok;
}
