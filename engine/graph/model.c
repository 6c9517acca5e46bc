/* model.c — loading a segcam model: safetensors container + the `segcam.graph` JSON
 * (DESIGN.md §2), validated node by node, sorted topologically, pruned to what the output needs,
 * and weights repacked for channels-last execution. Every error is one line naming the node,
 * attribute or tensor at fault. */
#include "model.h"
#include "safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* Bounds that no real segmentation network comes near; they keep shape arithmetic far from
 * overflow so later code can multiply dimensions freely in 64 bits. */
#define MAX_NODES 4096
#define MAX_INPUTS 64
#define MAX_CHANNELS 65536
#define MAX_KERNEL 64
#define MAX_STRIDE 64
#define MAX_DILATION 64
#define MAX_CLASSES 255

static const char *const op_names[SEGCAM_OP_COUNT] = {
  "input", "conv2d", "conv_transpose2d", "batchnorm", "relu", "sigmoid", "maxpool2d",
  "upsample", "concat", "add",
  "avgpool2d", "global_avgpool", "mul", "hardswish", "hardsigmoid", "leaky_relu", "clip", "pad",
};

const char *
segcam_op_name (segcam_op op)
{
  return op < SEGCAM_OP_COUNT ? op_names[op] : "?";
}

/* ---- JSON attribute readers: each fails with "node 'x': ..." ---------------------------- */

typedef struct {
  const char *node;       /* for messages */
  JsonObject *obj;
  GError **error;
} attrs;

static gboolean
fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL, msg);
  g_free (msg);
  return FALSE;
}

static gboolean
json_to_int (JsonNode *n, int lo, int hi, int *out)
{
  if (!n || JSON_NODE_TYPE (n) != JSON_NODE_VALUE || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (n);
  if (v < lo || v > hi)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

static gboolean
json_to_double (JsonNode *n, double *out)
{
  if (!n || JSON_NODE_TYPE (n) != JSON_NODE_VALUE)
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return FALSE;
  *out = json_node_get_double (n);
  return isfinite (*out);
}

/* An integer list of exactly n values in [lo, hi]; a single integer is accepted for all n. A
 * missing attribute takes def (which must then be non-NULL). */
static gboolean
attr_ints (attrs *a, const char *key, int n, int lo, int hi, const int *def, int *out)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  if (!node)
    {
      if (!def)
        return fail (a->error, "node '%s': missing attribute '%s'", a->node, key);
      memcpy (out, def, n * sizeof *out);
      return TRUE;
    }
  int v;
  if (json_to_int (node, lo, hi, &v))
    {
      for (int i = 0; i < n; i++)
        out[i] = v;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == (guint) n)
    {
      JsonArray *arr = json_node_get_array (node);
      int i;
      for (i = 0; i < n; i++)
        if (!json_to_int (json_array_get_element (arr, i), lo, hi, &out[i]))
          break;
      if (i == n)
        return TRUE;
    }
  return fail (a->error, "node '%s': attribute '%s' must be %d integer%s in [%d, %d]", a->node, key,
               n, n > 1 ? "s" : "", lo, hi);
}

static gboolean
attr_bool (attrs *a, const char *key, gboolean def, gboolean *out)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  *out = def;
  if (!node)
    return TRUE;
  if (JSON_NODE_TYPE (node) == JSON_NODE_VALUE && json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    {
      *out = json_node_get_boolean (node);
      return TRUE;
    }
  return fail (a->error, "node '%s': attribute '%s' must be true or false", a->node, key);
}

/* A string attribute, or NULL when absent (not an error: callers decide). */
static const char *
attr_string (attrs *a, const char *key, gboolean *bad)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  if (!node)
    return NULL;
  if (JSON_NODE_TYPE (node) == JSON_NODE_VALUE && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  fail (a->error, "node '%s': attribute '%s' must be a string", a->node, key);
  *bad = TRUE;
  return NULL;
}

/* A tensor named by a string attribute, with exactly the given shape (n_dims values). */
static gboolean
attr_tensor (attrs *a, const segcam_safetensors *st, const char *key, gboolean required,
             int n_dims, const int64_t *shape, const segcam_tensor **out)
{
  gboolean bad = FALSE;
  const char *name = attr_string (a, key, &bad);
  *out = NULL;
  if (bad)
    return FALSE;
  if (!name)
    return required ? fail (a->error, "node '%s': missing attribute '%s'", a->node, key) : TRUE;
  const segcam_tensor *t = segcam_safetensors_find (st, name);
  if (!t)
    return fail (a->error, "node '%s': tensor '%s' (%s) is not in the file", a->node, name, key);
  gboolean same = t->n_dims == n_dims;
  for (int i = 0; same && i < n_dims; i++)
    same = t->shape[i] == shape[i];
  if (!same)
    {
      GString *want = g_string_new ("["), *have = g_string_new ("[");
      for (int i = 0; i < n_dims; i++)
        g_string_append_printf (want, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
      for (int i = 0; i < t->n_dims; i++)
        g_string_append_printf (have, "%s%" G_GINT64_FORMAT, i ? "," : "", t->shape[i]);
      fail (a->error, "node '%s': tensor '%s' has shape %s], expected %s]", a->node, name,
            have->str, want->str);
      g_string_free (want, TRUE);
      g_string_free (have, TRUE);
      return FALSE;
    }
  *out = t;
  return TRUE;
}

/* ---- weight packing ---------------------------------------------------------------------- */

/* Index of weight (co, ci, tap) in PyTorch's storage: conv2d [cout][cin][kh][kw],
 * conv_transpose2d [cin][cout][kh][kw]. */
static inline size_t
torch_index (const segcam_conv_params *c, gboolean transposed, int co, int ci, size_t tap)
{
  size_t taps = (size_t) c->kh * c->kw;
  return transposed ? ((size_t) ci * c->cout + co) * taps + tap : ((size_t) co * c->cin + ci) * taps + tap;
}

void
segcam_conv_pack (const segcam_conv_params *c, gboolean transposed, const float *w, float *fwd)
{
  size_t taps = (size_t) c->kh * c->kw;
  for (int co = 0; co < c->cout; co++)
    for (int ci = 0; ci < c->cin; ci++)
      for (size_t t = 0; t < taps; t++)
        fwd[(t * c->cin + ci) * c->cout + co] = w[torch_index (c, transposed, co, ci, t)];
}

/* Grouped convolutions run group by group (see conv.c) from fwd [g][kh][kw][cin/g][cout/g] and
 * bwd [g][kh][kw][cout/g][cin/g]; PyTorch stores conv2d weights as [cout][cin/g][kh][kw] and
 * conv_transpose2d weights as [cin][cout/g][kh][kw]. */
static void
pack_conv_grouped (segcam_conv_params *c, const float *w, gboolean transposed)
{
  int groups = c->groups, cig = c->cin / groups, cog = c->cout / groups;
  size_t taps = (size_t) c->kh * c->kw, n = taps * cig * c->cout;
  c->w_fwd = g_new (float, n);
  c->w_bwd = g_new (float, n);
  for (int g = 0; g < groups; g++)
    for (int co = 0; co < cog; co++)
      for (int ci = 0; ci < cig; ci++)
        for (size_t t = 0; t < taps; t++)
          {
            size_t from = transposed ? ((size_t) (g * cig + ci) * cog + co) * taps + t
                                     : ((size_t) (g * cog + co) * cig + ci) * taps + t;
            c->w_fwd[(((size_t) g * taps + t) * cig + ci) * cog + co] = w[from];
            c->w_bwd[(((size_t) g * taps + t) * cog + co) * cig + ci] = w[from];
          }
}

/* Both conv ops run from fwd [kh][kw][cin][cout] and bwd [kh][kw][cout][cin] (see conv.c). */
static void
pack_conv (segcam_conv_params *c, const float *w, gboolean transposed)
{
  if (c->groups > 1)
    {
      pack_conv_grouped (c, w, transposed);
      return;
    }
  size_t n = (size_t) c->kh * c->kw * c->cin * c->cout;
  c->w_fwd = g_new (float, n);
  c->w_bwd = g_new (float, n);
  segcam_conv_pack (c, transposed, w, c->w_fwd);
  segcam_conv_repack_backward (c);
}

void
segcam_conv_repack_backward (segcam_conv_params *c)
{
  size_t taps = (size_t) c->kh * c->kw;
  for (size_t t = 0; t < taps; t++)
    for (int ci = 0; ci < c->cin; ci++)
      for (int co = 0; co < c->cout; co++)
        c->w_bwd[(t * c->cout + co) * c->cin + ci] = c->w_fwd[(t * c->cin + ci) * c->cout + co];
}

void
segcam_conv_unpack (const segcam_conv_params *c, gboolean transposed, const float *fwd, float *w)
{
  size_t taps = (size_t) c->kh * c->kw;
  for (int co = 0; co < c->cout; co++)
    for (int ci = 0; ci < c->cin; ci++)
      for (size_t t = 0; t < taps; t++)
        w[torch_index (c, transposed, co, ci, t)] = fwd[(t * c->cin + ci) * c->cout + co];
}

void
segcam_batchnorm_fold (segcam_batchnorm_params *bn)
{
  for (int c = 0; c < bn->channels; c++)
    {
      /* In double, as PyTorch's CPU kernel computes invstd in the accumulation type. */
      double s = bn->gamma[c] / sqrt ((double) bn->var[c] + bn->eps);
      bn->scale[c] = (float) s;
      bn->shift[c] = (float) (bn->beta[c] - bn->mean[c] * s);
    }
}

/* ---- per-op parsing ---------------------------------------------------------------------- */

static gboolean
parse_conv (attrs *a, const segcam_safetensors *st, segcam_node *node, int cin, gboolean transposed,
            int64_t *n_params)
{
  segcam_conv_params *c = &node->p.conv;
  static const int one[2] = {1, 1}, zero[4] = {0, 0, 0, 0};
  gboolean bad = FALSE;
  const char *wname = attr_string (a, "weight", &bad);
  if (bad)
    return FALSE;
  if (!wname)
    return fail (a->error, "node '%s': missing attribute 'weight'", a->node);
  const segcam_tensor *w = segcam_safetensors_find (st, wname);
  if (!w)
    return fail (a->error, "node '%s': tensor '%s' (weight) is not in the file", a->node, wname);
  if (w->n_dims != 4 || w->shape[0] < 1 || w->shape[0] > MAX_CHANNELS || w->shape[1] < 1
      || w->shape[1] > MAX_CHANNELS || w->shape[2] < 1 || w->shape[2] > MAX_KERNEL
      || w->shape[3] < 1 || w->shape[3] > MAX_KERNEL)
    return fail (a->error, "node '%s': weight '%s' must be 4-D with channels in [1, %d] and "
                 "kernel in [1, %d]", a->node, wname, MAX_CHANNELS, MAX_KERNEL);

  int k[2];
  const int wk[2] = {(int) w->shape[2], (int) w->shape[3]};
  if (!attr_ints (a, "kernel", 2, 1, MAX_KERNEL, wk, k)
      || !attr_ints (a, "stride", 2, 1, MAX_STRIDE, one, &c->sh)
      || !attr_ints (a, "dilation", 2, 1, MAX_DILATION, one, &c->dh)
      || !attr_ints (a, "groups", 1, 1, MAX_CHANNELS, one, &c->groups))
    return FALSE;
  c->kh = k[0], c->kw = k[1];
  c->cin = cin;
  int64_t cout = transposed ? w->shape[1] * c->groups : w->shape[0];
  if (cin % c->groups || cout % c->groups || cout > MAX_CHANNELS)
    return fail (a->error, "node '%s': %d groups do not divide %d input and %" G_GINT64_FORMAT
                 " output channels", a->node, c->groups, cin, cout);
  c->cout = (int) cout;
  /* PyTorch's shapes: conv2d [cout][cin/g][kh][kw], conv_transpose2d [cin][cout/g][kh][kw]. */
  const int64_t want[4] = {transposed ? cin : c->cout, (transposed ? c->cout : cin) / c->groups,
                           c->kh, c->kw};
  const segcam_tensor *wt, *bt;
  if (!attr_tensor (a, st, "weight", TRUE, 4, want, &wt))
    return FALSE;
  const int64_t bshape[1] = {c->cout};
  if (!attr_tensor (a, st, "bias", FALSE, 1, bshape, &bt))
    return FALSE;

  if (transposed)
    {
      int pad[2];
      if (!attr_ints (a, "padding", 2, 0, MAX_KERNEL * MAX_DILATION, zero, pad)
          || !attr_ints (a, "output_padding", 2, 0, MAX_STRIDE, zero, &c->oph))
        return FALSE;
      c->pt = c->pb = pad[0];
      c->pl = c->pr = pad[1];
      /* PyTorch's rule: output padding must be smaller than stride or dilation. */
      if ((c->oph >= c->sh && c->oph >= c->dh) || (c->opw >= c->sw && c->opw >= c->dw))
        return fail (a->error, "node '%s': output_padding must be smaller than stride or dilation",
                     a->node);
    }
  else
    {
      JsonNode *pn = json_object_get_member (a->obj, "padding");
      if (pn && JSON_NODE_TYPE (pn) == JSON_NODE_VALUE
          && json_node_get_value_type (pn) == G_TYPE_STRING)
        {
          if (strcmp (json_node_get_string (pn), "same") != 0)
            return fail (a->error, "node '%s': padding must be [t,l,b,r], an integer or \"same\"",
                         a->node);
          if (c->sh != 1 || c->sw != 1)
            return fail (a->error, "node '%s': padding \"same\" needs stride 1", a->node);
          /* PyTorch puts the odd pixel of "same" padding at the bottom and right. */
          int th = c->dh * (c->kh - 1), tw = c->dw * (c->kw - 1);
          c->pt = th / 2, c->pb = th - th / 2, c->pl = tw / 2, c->pr = tw - tw / 2;
        }
      else if (!attr_ints (a, "padding", 4, 0, MAX_KERNEL * MAX_DILATION, zero, &c->pt))
        return FALSE;
    }
  pack_conv (c, wt->data, transposed);
  c->bias = bt ? g_memdup2 (bt->data, c->cout * sizeof (float)) : NULL;
  node->tensors[0] = g_strdup (wt->name);
  node->tensors[1] = bt ? g_strdup (bt->name) : NULL;
  node->channels = c->cout;
  *n_params += (int64_t) wt->n_elements + (bt ? c->cout : 0);
  return TRUE;
}

static gboolean
parse_batchnorm (attrs *a, const segcam_safetensors *st, segcam_node *node, int channels,
                 int64_t *n_params)
{
  const int64_t shape[1] = {channels};
  const segcam_tensor *g, *b, *m, *v;
  if (!attr_tensor (a, st, "gamma", TRUE, 1, shape, &g)
      || !attr_tensor (a, st, "beta", TRUE, 1, shape, &b)
      || !attr_tensor (a, st, "mean", TRUE, 1, shape, &m)
      || !attr_tensor (a, st, "var", TRUE, 1, shape, &v))
    return FALSE;
  double eps = 1e-5;
  JsonNode *en = json_object_get_member (a->obj, "eps");
  if (en && (!json_to_double (en, &eps) || eps < 0))
    return fail (a->error, "node '%s': attribute 'eps' must be a number >= 0", a->node);
  for (int c = 0; c < channels; c++)
    if (!(v->data[c] + eps > 0))
      return fail (a->error, "node '%s': variance + eps must be positive (channel %d)", a->node, c);
  segcam_batchnorm_params *bn = &node->p.bn;
  size_t bytes = channels * sizeof (float);
  bn->channels = channels;
  bn->eps = eps;
  bn->gamma = g_memdup2 (g->data, bytes);
  bn->beta = g_memdup2 (b->data, bytes);
  bn->mean = g_memdup2 (m->data, bytes);
  bn->var = g_memdup2 (v->data, bytes);
  bn->scale = g_new (float, channels);
  bn->shift = g_new (float, channels);
  segcam_batchnorm_fold (bn);
  const segcam_tensor *const t[4] = {g, b, m, v};
  for (int i = 0; i < 4; i++)
    node->tensors[i] = g_strdup (t[i]->name);
  node->channels = channels;
  *n_params += 4 * (int64_t) channels;
  return TRUE;
}

static gboolean
parse_pool (attrs *a, segcam_node *node)
{
  segcam_pool_params *p = &node->p.pool;
  static const int zero[2] = {0, 0};
  if (!attr_ints (a, "kernel", 2, 1, MAX_KERNEL, NULL, &p->kh))
    return FALSE;
  if (!attr_ints (a, "stride", 2, 1, MAX_STRIDE, &p->kh, &p->sh)
      || !attr_ints (a, "padding", 2, 0, MAX_KERNEL, zero, &p->ph)
      || !attr_bool (a, "ceil_mode", FALSE, &p->ceil_mode)
      || !attr_bool (a, "count_include_pad", TRUE, &p->count_include_pad))
    return FALSE;
  if (2 * p->ph > p->kh || 2 * p->pw > p->kw)
    return fail (a->error, "node '%s': padding must be at most half the kernel", a->node);
  return TRUE;
}

/* A finite number; def when absent. */
static gboolean
attr_float (attrs *a, const char *key, float def, float *out)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  double v = def;
  if (node && (!json_to_double (node, &v) || fabs (v) > G_MAXFLOAT))
    return fail (a->error, "node '%s': attribute '%s' must be a number", a->node, key);
  *out = (float) v;
  return TRUE;
}

static gboolean
parse_activation (attrs *a, segcam_node *node)
{
  segcam_activation_params *p = &node->p.act;
  /* PyTorch's defaults; clip without bounds clips nothing. */
  if (!attr_float (a, "alpha", 0.01f, &p->alpha) || !attr_float (a, "min", -G_MAXFLOAT, &p->min)
      || !attr_float (a, "max", G_MAXFLOAT, &p->max))
    return FALSE;
  if (node->op == SEGCAM_OP_CLIP && !(p->min <= p->max))
    return fail (a->error, "node '%s': clip needs min <= max", a->node);
  return TRUE;
}

static gboolean
parse_pad (attrs *a, segcam_node *node)
{
  segcam_pad_params *p = &node->p.pad;
  gboolean bad = FALSE;
  const char *mode = attr_string (a, "mode", &bad);
  if (bad || !attr_ints (a, "pads", 4, -MAX_KERNEL * MAX_DILATION, MAX_KERNEL * MAX_DILATION, NULL,
                         &p->pt)
      || !attr_float (a, "value", 0, &p->value))
    return FALSE;
  if (!mode || strcmp (mode, "constant") == 0)
    p->mode = SEGCAM_PAD_CONSTANT;
  else if (strcmp (mode, "reflect") == 0)
    p->mode = SEGCAM_PAD_REFLECT;
  else if (strcmp (mode, "replicate") == 0)
    p->mode = SEGCAM_PAD_REPLICATE;
  else
    return fail (a->error, "node '%s': mode must be \"constant\", \"reflect\" or \"replicate\"",
                 a->node);
  return TRUE;
}

static gboolean
parse_upsample (attrs *a, segcam_node *node)
{
  segcam_upsample_params *u = &node->p.up;
  gboolean bad = FALSE;
  const char *mode = attr_string (a, "mode", &bad);
  gboolean align_corners;
  if (bad || !attr_bool (a, "align_corners", FALSE, &align_corners))
    return FALSE;
  if (!mode || strcmp (mode, "nearest") == 0)
    u->mode = SEGCAM_UPSAMPLE_NEAREST;
  else if (strcmp (mode, "bilinear") == 0)
    u->mode = align_corners ? SEGCAM_UPSAMPLE_ALIGN_CORNERS : SEGCAM_UPSAMPLE_BILINEAR;
  else
    return fail (a->error, "node '%s': mode must be \"nearest\" or \"bilinear\", not \"%s\"",
                 a->node, mode);
  if (align_corners && u->mode == SEGCAM_UPSAMPLE_NEAREST)
    return fail (a->error, "node '%s': align_corners applies to bilinear upsampling only", a->node);
  if (node->n_inputs == 2)
    return TRUE;
  JsonNode *sn = json_object_get_member (a->obj, "scale");
  double s[2];
  gboolean ok = FALSE;
  if (sn && json_to_double (sn, &s[0]))
    s[1] = s[0], ok = TRUE;
  else if (sn && JSON_NODE_HOLDS_ARRAY (sn) && json_array_get_length (json_node_get_array (sn)) == 2)
    ok = json_to_double (json_array_get_element (json_node_get_array (sn), 0), &s[0])
         && json_to_double (json_array_get_element (json_node_get_array (sn), 1), &s[1]);
  if (!ok || s[0] <= 0 || s[1] <= 0 || s[0] > 64 || s[1] > 64)
    return fail (a->error, "node '%s': upsample needs 'scale' [sh,sw] in (0, 64] or a second input",
                 a->node);
  u->scale_h = s[0], u->scale_w = s[1];
  return TRUE;
}

/* ---- the graph ---------------------------------------------------------------------------- */

static const int op_arity_min[SEGCAM_OP_COUNT] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 2,
                                                  1, 1, 2, 1, 1, 1, 1, 1};
static const int op_arity_max[SEGCAM_OP_COUNT] = {0, 1, 1, 1, 1, 1, 1, 2, MAX_INPUTS, 2,
                                                  1, 1, 2, 1, 1, 1, 1, 1};

static int
op_from_name (const char *name)
{
  for (int i = 0; i < SEGCAM_OP_COUNT; i++)
    if (strcmp (op_names[i], name) == 0)
      return i;
  return -1;
}

/* Parsed, unsorted description of one node before weights are attached. */
typedef struct {
  const char *name;
  int op;
  JsonObject *obj;
  int n_inputs;
  int inputs[MAX_INPUTS];
} raw_node;

static gboolean
read_raw_nodes (JsonArray *arr, raw_node **out, int *n_out, GError **error)
{
  guint n = json_array_get_length (arr);
  if (n < 2 || n > MAX_NODES)
    return fail (error, "graph: 'nodes' must list between 2 and %d nodes", MAX_NODES);
  raw_node *raw = g_new0 (raw_node, n);
  GHashTable *index = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < n; i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_OBJECT (e))
        ok = fail (error, "graph: node %u is not an object", i);
      else
        {
          raw[i].obj = json_node_get_object (e);
          attrs a = {"?", raw[i].obj, error};
          gboolean bad = FALSE;
          raw[i].name = attr_string (&a, "name", &bad);
          const char *op = bad ? NULL : attr_string (&a, "op", &bad);
          if (bad)
            ok = FALSE;
          else if (!raw[i].name || !*raw[i].name)
            ok = fail (error, "graph: node %u has no name", i);
          else if (g_hash_table_contains (index, raw[i].name))
            ok = fail (error, "graph: two nodes are named '%s'", raw[i].name);
          else if (!op)
            ok = fail (error, "node '%s': missing attribute 'op'", raw[i].name);
          else if ((raw[i].op = op_from_name (op)) < 0)
            ok = fail (error, "node '%s': unknown op '%s'", raw[i].name, op);
          else
            g_hash_table_insert (index, (gpointer) raw[i].name, GUINT_TO_POINTER (i + 1));
        }
    }
  /* Inputs are resolved after all names are known: files need not list nodes in order. */
  for (guint i = 0; ok && i < n; i++)
    {
      JsonNode *in = json_object_get_member (raw[i].obj, "inputs");
      int op = raw[i].op;
      JsonArray *ins = in && JSON_NODE_HOLDS_ARRAY (in) ? json_node_get_array (in) : NULL;
      guint k = ins ? json_array_get_length (ins) : 0;
      if ((in && !ins) || (int) k < op_arity_min[op] || (int) k > op_arity_max[op])
        {
          ok = op_arity_min[op] == op_arity_max[op]
                 ? fail (error, "node '%s': %s takes %d input%s", raw[i].name, op_names[op],
                         op_arity_min[op], op_arity_min[op] == 1 ? "" : "s")
                 : fail (error, "node '%s': %s takes %d to %d inputs", raw[i].name, op_names[op],
                         op_arity_min[op], op_arity_max[op]);
          break;
        }
      raw[i].n_inputs = (int) k;
      for (guint j = 0; ok && j < k; j++)
        {
          JsonNode *e = json_array_get_element (ins, j);
          const char *ref = JSON_NODE_TYPE (e) == JSON_NODE_VALUE
                                && json_node_get_value_type (e) == G_TYPE_STRING
                              ? json_node_get_string (e) : NULL;
          guint idx = ref ? GPOINTER_TO_UINT (g_hash_table_lookup (index, ref)) : 0;
          if (!ref)
            ok = fail (error, "node '%s': inputs must be node names", raw[i].name);
          else if (!idx)
            ok = fail (error, "node '%s': input '%s' is not a node", raw[i].name, ref);
          else
            raw[i].inputs[j] = (int) idx - 1;
        }
    }
  g_hash_table_destroy (index);
  if (!ok)
    {
      g_free (raw);
      return FALSE;
    }
  *out = raw;
  *n_out = (int) n;
  return TRUE;
}

int
segcam_sort_ancestors (int n, int root, int (*n_inputs) (const void *ctx, int v),
                       int (*input) (const void *ctx, int v, int k), const void *ctx, int *order,
                       int *n_order)
{
  enum { UNSEEN, OPEN, DONE };
  guint8 *state = g_new0 (guint8, MAX (n, 1));
  int *stack = g_new (int, MAX (n, 1)), *next = g_new0 (int, MAX (n, 1));
  int sp = 0, count = 0, cycle = -1;
  if (root >= 0)
    stack[sp++] = root, state[root] = OPEN;
  while (cycle < 0 && sp > 0)
    {
      int v = stack[sp - 1];
      if (next[v] < n_inputs (ctx, v))
        {
          int u = input (ctx, v, next[v]++);
          if (u < 0)
            continue;
          if (state[u] == OPEN)
            cycle = u;
          else if (state[u] == UNSEEN)
            state[u] = OPEN, stack[sp++] = u;
        }
      else
        {
          state[v] = DONE;
          order[count++] = v;
          sp--;
        }
    }
  g_free (state);
  g_free (stack);
  g_free (next);
  *n_order = count;
  return cycle;
}

static int
raw_n_inputs (const void *ctx, int v)
{
  const raw_node *raw = ctx;
  return raw[v].n_inputs;
}

static int
raw_input (const void *ctx, int v, int k)
{
  const raw_node *raw = ctx;
  return raw[v].inputs[k];
}

static gboolean
parse_node (const raw_node *r, const segcam_safetensors *st, segcam_node *node,
            const segcam_node *nodes, int64_t *n_params, GError **error)
{
  attrs a = {r->name, r->obj, error};
  int c0 = r->n_inputs ? nodes[node->inputs[0]].channels : 0;
  node->channels = c0;
  switch (node->op)
    {
    case SEGCAM_OP_CONV2D:
      return parse_conv (&a, st, node, c0, FALSE, n_params);
    case SEGCAM_OP_CONV_TRANSPOSE2D:
      return parse_conv (&a, st, node, c0, TRUE, n_params);
    case SEGCAM_OP_BATCHNORM:
      return parse_batchnorm (&a, st, node, c0, n_params);
    case SEGCAM_OP_MAXPOOL2D:
      return parse_pool (&a, node);
    case SEGCAM_OP_UPSAMPLE:
      return parse_upsample (&a, node);
    case SEGCAM_OP_CONCAT:
      {
        int64_t sum = 0;
        for (int i = 0; i < node->n_inputs; i++)
          sum += nodes[node->inputs[i]].channels;
        if (sum > MAX_CHANNELS)
          return fail (error, "node '%s': concat gives %" G_GINT64_FORMAT " channels, more than %d",
                       r->name, sum, MAX_CHANNELS);
        node->channels = (int) sum;
        return TRUE;
      }
    case SEGCAM_OP_ADD:
    case SEGCAM_OP_MUL:
      if (nodes[node->inputs[1]].channels != c0)
        return fail (error, "node '%s': %s of %d and %d channels", r->name, op_names[node->op], c0,
                     nodes[node->inputs[1]].channels);
      return TRUE;
    case SEGCAM_OP_AVGPOOL2D:
      return parse_pool (&a, node);
    case SEGCAM_OP_HARDSWISH:
    case SEGCAM_OP_HARDSIGMOID:
    case SEGCAM_OP_LEAKY_RELU:
    case SEGCAM_OP_CLIP:
      return parse_activation (&a, node);
    case SEGCAM_OP_PAD:
      return parse_pad (&a, node);
    case SEGCAM_OP_GLOBAL_AVGPOOL:
    case SEGCAM_OP_INPUT:
    case SEGCAM_OP_RELU:
    case SEGCAM_OP_SIGMOID:
    case SEGCAM_OP_COUNT:
      break;
    }
  return TRUE;
}

static const char *
member_string (JsonObject *o, const char *key)
{
  JsonNode *n = json_object_get_member (o, key);
  return n && JSON_NODE_TYPE (n) == JSON_NODE_VALUE && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

static gboolean
parse_floats (JsonObject *o, const char *key, int n, float *out, GError **error)
{
  JsonNode *node = json_object_get_member (o, key);
  JsonArray *arr = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  if (!arr || json_array_get_length (arr) != (guint) n)
    return fail (error, "graph: input '%s' must list %d numbers", key, n);
  for (int i = 0; i < n; i++)
    {
      double v;
      if (!json_to_double (json_array_get_element (arr, i), &v))
        return fail (error, "graph: input '%s' must list %d numbers", key, n);
      out[i] = (float) v;
    }
  return TRUE;
}

static gboolean
parse_input (segcam_model *m, JsonObject *in, GError **error)
{
  attrs a = {"input", in, error};
  static const int sixteen = 16;
  if (!attr_ints (&a, "channels", 1, 1, 3, NULL, &m->in_channels)
      || !attr_ints (&a, "size_multiple", 1, 1, 1024, &sixteen, &m->size_multiple))
    return FALSE;
  if (m->in_channels == 2)
    return fail (error, "graph: input channels must be 1 (gray) or 3 (rgb)");
  const char *cs = member_string (in, "colorspace");
  if (cs && strcmp (cs, m->in_channels == 3 ? "rgb" : "gray") != 0)
    return fail (error, "graph: colorspace '%s' does not match %d input channel%s", cs,
                 m->in_channels, m->in_channels == 1 ? "" : "s");
  for (int c = 0; c < 3; c++)
    m->mean[c] = 0, m->std[c] = 1;
  if (json_object_has_member (in, "mean") && !parse_floats (in, "mean", m->in_channels, m->mean, error))
    return FALSE;
  if (json_object_has_member (in, "std") && !parse_floats (in, "std", m->in_channels, m->std, error))
    return FALSE;
  for (int c = 0; c < m->in_channels; c++)
    if (!(m->std[c] > 0))
      return fail (error, "graph: input std must be positive");
  return TRUE;
}

static gboolean
parse_color (const char *s, uint8_t rgb[3])
{
  if (!s || strlen (s) != 7 || s[0] != '#')
    return FALSE;
  for (int i = 0; i < 6; i++)
    if (!g_ascii_isxdigit (s[1 + i]))
      return FALSE;
  for (int i = 0; i < 3; i++)
    rgb[i] = (uint8_t) (g_ascii_xdigit_value (s[1 + 2 * i]) * 16 + g_ascii_xdigit_value (s[2 + 2 * i]));
  return TRUE;
}

static gboolean
parse_classes (segcam_model *m, JsonNode *node, GError **error)
{
  JsonArray *arr = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  guint n = arr ? json_array_get_length (arr) : 0;
  if (n < 1 || n > MAX_CLASSES)
    return fail (error, "graph: 'classes' must list 1 to %d classes", MAX_CLASSES);
  m->n_classes = (int) n;
  m->classes = g_new0 (segcam_class, n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
      const char *name = o ? member_string (o, "name") : NULL;
      if (!name || !*name)
        return fail (error, "graph: class %u has no name", i);
      for (guint j = 0; j < i; j++)
        if (strcmp (m->classes[j].name, name) == 0)
          return fail (error, "graph: two classes are named '%s'", name);
      m->classes[i].name = g_strdup (name);
      const char *color = member_string (o, "color");
      if (color ? !parse_color (color, m->classes[i].rgb) : FALSE)
        return fail (error, "graph: class '%s' color must look like \"#rrggbb\"", name);
      if (!color)
        {
          /* A distinct, stable colour per class when the file gives none. */
          guint h = g_str_hash (name) * 2654435761u;
          m->classes[i].rgb[0] = h >> 24, m->classes[i].rgb[1] = h >> 16, m->classes[i].rgb[2] = h >> 8;
        }
    }
  return TRUE;
}

static int
find_raw (const raw_node *raw, int n, const char *name)
{
  for (int i = 0; name && i < n; i++)
    if (strcmp (raw[i].name, name) == 0)
      return i;
  return -1;
}

static gboolean
parse_graph (segcam_model *m, const segcam_safetensors *st, const char *text, GError **error)
{
  JsonParser *parser = json_parser_new ();
  GError *jerr = NULL;
  raw_node *raw = NULL;
  int n_raw = 0, *order = NULL;
  gboolean ok = FALSE;
  if (!json_parser_load_from_data (parser, text, -1, &jerr))
    {
      fail (error, "segcam.graph is not valid JSON: %s", jerr->message);
      g_error_free (jerr);
      goto out;
    }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *g = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (!g)
    {
      fail (error, "segcam.graph must be a JSON object");
      goto out;
    }
  JsonNode *in = json_object_get_member (g, "input"), *nodes = json_object_get_member (g, "nodes");
  if (!in || !JSON_NODE_HOLDS_OBJECT (in))
    {
      fail (error, "graph: missing 'input' object");
      goto out;
    }
  if (!parse_input (m, json_node_get_object (in), error)
      || !parse_classes (m, json_object_get_member (g, "classes"), error))
    goto out;
  const char *act = member_string (g, "output_activation");
  if (!act || (strcmp (act, "softmax") != 0 && strcmp (act, "sigmoid") != 0))
    {
      fail (error, "graph: 'output_activation' must be \"softmax\" or \"sigmoid\"");
      goto out;
    }
  m->sigmoid = strcmp (act, "sigmoid") == 0;
  if (!nodes || !JSON_NODE_HOLDS_ARRAY (nodes))
    {
      fail (error, "graph: missing 'nodes' array");
      goto out;
    }
  if (!read_raw_nodes (json_node_get_array (nodes), &raw, &n_raw, error))
    goto out;

  const char *out_name = member_string (g, "output"), *layer_name = member_string (g, "default_layer");
  int out_raw = find_raw (raw, n_raw, out_name), in_raw = find_raw (raw, n_raw, "input");
  int layer_raw = find_raw (raw, n_raw, layer_name);
  if (in_raw < 0 || raw[in_raw].op != SEGCAM_OP_INPUT)
    {
      fail (error, "graph: there must be a node named 'input' with op \"input\"");
      goto out;
    }
  for (int i = 0; i < n_raw; i++)
    if (raw[i].op == SEGCAM_OP_INPUT && i != in_raw)
      {
        fail (error, "node '%s': only the node named 'input' may have op \"input\"", raw[i].name);
        goto out;
      }
  if (out_raw < 0)
    {
      fail (error, "graph: output '%s' is not a node", out_name ? out_name : "(missing)");
      goto out;
    }
  if (layer_raw < 0)
    {
      fail (error, "graph: default_layer '%s' is not a node", layer_name ? layer_name : "(missing)");
      goto out;
    }

  order = g_new (int, n_raw);
  int n_order;
  int cycle = segcam_sort_ancestors (n_raw, out_raw, raw_n_inputs, raw_input, raw, order, &n_order);
  if (cycle >= 0)
    {
      fail (error, "graph: cycle through node '%s'", raw[cycle].name);
      goto out;
    }
  if (order[0] != in_raw)
    {
      /* The first finished node is a leaf; any leaf but 'input' has no inputs it could use. */
      fail (error, "graph: the output does not depend on 'input' alone (node '%s' has no inputs)",
            raw[order[0]].name);
      goto out;
    }

  int *new_index = g_new (int, n_raw);
  for (int i = 0; i < n_raw; i++)
    new_index[i] = -1;
  for (int i = 0; i < n_order; i++)
    new_index[order[i]] = i;
  m->n_nodes = n_order;
  m->nodes = g_new0 (segcam_node, n_order);
  m->default_layer = new_index[layer_raw];
  m->output = new_index[out_raw];
  ok = TRUE;
  for (int i = 0; ok && i < n_order; i++)
    {
      const raw_node *r = &raw[order[i]];
      segcam_node *node = &m->nodes[i];
      node->name = g_strdup (r->name);
      node->op = r->op;
      node->n_inputs = r->n_inputs;
      node->inputs = g_new (int, MAX (r->n_inputs, 1));
      for (int j = 0; j < r->n_inputs; j++)
        node->inputs[j] = new_index[r->inputs[j]];
      if (node->op == SEGCAM_OP_INPUT)
        node->channels = m->in_channels;
      else
        ok = parse_node (r, st, node, m->nodes, &m->n_parameters, error);
    }
  g_free (new_index);
  if (!ok)
    goto out;
  if (m->default_layer < 0)
    {
      ok = fail (error, "graph: default_layer '%s' does not lead to the output", layer_name);
      goto out;
    }
  int out_c = m->nodes[m->output].channels;
  gboolean one_channel = m->sigmoid && out_c == 1 && m->n_classes == 2;
  if (out_c != m->n_classes && !one_channel)
    ok = fail (error, "graph: the output has %d channels for %d classes", out_c, m->n_classes);

out:
  g_free (order);
  g_free (raw);
  g_object_unref (parser);
  return ok;
}

/* ---- public ---------------------------------------------------------------------------------- */

segcam_model *
segcam_model_from_safetensors (const segcam_safetensors *st, GError **error)
{
  segcam_model *m = g_new0 (segcam_model, 1);
  const char *format = segcam_safetensors_metadata (st, "segcam.format");
  const char *graph = segcam_safetensors_metadata (st, "segcam.graph");
  gboolean ok = FALSE;
  if (!format)
    fail (error, "not a segcam model: no 'segcam.format' in the metadata");
  else if (strcmp (format, "1") != 0 && strcmp (format, "2") != 0)
    fail (error, "segcam.format '%s' is not supported (this version reads 1 and 2)", format);
  else if (!graph)
    fail (error, "not a segcam model: no 'segcam.graph' in the metadata");
  else
    {
      m->format_version = format[0] - '0';
      const char *s;
      m->name = g_strdup ((s = segcam_safetensors_metadata (st, "segcam.name")) ? s : "");
      m->description = g_strdup ((s = segcam_safetensors_metadata (st, "segcam.description")) ? s : "");
      m->training = g_strdup ((s = segcam_safetensors_metadata (st, "segcam.training")) ? s : "");
      m->graph_json = g_strdup (graph);
      ok = parse_graph (m, st, graph, error);
    }
  if (!ok)
    {
      segcam_model_free (m);
      return NULL;
    }
  return m;
}

void
segcam_model_free (segcam_model *m)
{
  if (!m)
    return;
  for (int i = 0; i < m->n_nodes; i++)
    {
      segcam_node *n = &m->nodes[i];
      if (n->op == SEGCAM_OP_CONV2D || n->op == SEGCAM_OP_CONV_TRANSPOSE2D)
        {
          g_free (n->p.conv.w_fwd);
          g_free (n->p.conv.w_bwd);
          g_free (n->p.conv.bias);
        }
      else if (n->op == SEGCAM_OP_BATCHNORM)
        {
          segcam_batchnorm_params *bn = &n->p.bn;
          g_free (bn->gamma);
          g_free (bn->beta);
          g_free (bn->mean);
          g_free (bn->var);
          g_free (bn->scale);
          g_free (bn->shift);
        }
      g_free (n->name);
      g_free (n->inputs);
      for (int k = 0; k < 4; k++)
        g_free (n->tensors[k]);
    }
  g_free (m->nodes);
  for (int i = 0; m->classes && i < m->n_classes; i++)
    g_free (m->classes[i].name);
  g_free (m->classes);
  g_free (m->name);
  g_free (m->description);
  g_free (m->training);
  g_free (m->graph_json);
  g_free (m);
}

const char *segcam_model_name (const segcam_model *m) { return m->name; }
const char *segcam_model_description (const segcam_model *m) { return m->description; }
const char *segcam_model_training (const segcam_model *m) { return m->training; }
int segcam_model_format_version (const segcam_model *m) { return m->format_version; }
int segcam_model_input_channels (const segcam_model *m) { return m->in_channels; }
int segcam_model_size_multiple (const segcam_model *m) { return m->size_multiple; }
int64_t segcam_model_n_parameters (const segcam_model *m) { return m->n_parameters; }
int segcam_model_n_classes (const segcam_model *m) { return m->n_classes; }
gboolean segcam_model_output_is_sigmoid (const segcam_model *m) { return m->sigmoid; }
int segcam_model_n_nodes (const segcam_model *m) { return m->n_nodes; }
int segcam_model_output_node (const segcam_model *m) { return m->output; }
int segcam_model_default_layer (const segcam_model *m) { return m->default_layer; }

const char *
segcam_model_class_name (const segcam_model *m, int c)
{
  return c >= 0 && c < m->n_classes ? m->classes[c].name : NULL;
}

void
segcam_model_class_color (const segcam_model *m, int c, uint8_t rgb[3])
{
  g_return_if_fail (c >= 0 && c < m->n_classes);
  memcpy (rgb, m->classes[c].rgb, 3);
}

int
segcam_model_find_class (const segcam_model *m, const char *s)
{
  if (!s)
    return -1;
  for (int c = 0; c < m->n_classes; c++)
    if (strcmp (m->classes[c].name, s) == 0)
      return c;
  guint64 v;
  if (*s && g_ascii_string_to_unsigned (s, 10, 0, m->n_classes - 1, &v, NULL))
    return (int) v;
  return -1;
}

const char *
segcam_model_node_name (const segcam_model *m, int i)
{
  return i >= 0 && i < m->n_nodes ? m->nodes[i].name : NULL;
}

const char *
segcam_model_node_op (const segcam_model *m, int i)
{
  return i >= 0 && i < m->n_nodes ? segcam_op_name (m->nodes[i].op) : NULL;
}

int
segcam_model_find_node (const segcam_model *m, const char *name)
{
  for (int i = 0; name && i < m->n_nodes; i++)
    if (strcmp (m->nodes[i].name, name) == 0)
      return i;
  return -1;
}
