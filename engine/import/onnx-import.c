/* onnx-import.c — ONNX models (as PyTorch's torch.onnx.export writes them) translated into segcam
 * models: the segcam.graph JSON and its F32 tensors (docs/model-format.md, 'ONNX import'). This part unpacks the file,
 * orders the nodes the output needs (the file may list them in any order; nodes the output does
 * not need are never looked at), hands them to onnx-nodes.c, describes classes and input, and
 * settles what needs the model's shapes. */
#include "json.h"
#include "model.h"
#include "onnx-nodes.h"

#include <math.h>
#include <string.h>

#define MAX_NESTING 32            /* message depth; ONNX nests graphs inside node attributes */
#define MAX_MULTIPLE 64           /* largest size multiple tried for the input */

/* ---- protobuf nesting -------------------------------------------------------------------- */

static gboolean
read_varint (const uint8_t **p, const uint8_t *end, uint64_t *v)
{
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7)
    {
      uint8_t b = *(*p)++;
      *v |= (uint64_t) (b & 0x7f) << shift;
      if (!(b & 0x80))
        return TRUE;
    }
  return FALSE;
}

/* protobuf-c unpacks nested messages by recursion without a depth limit, so a hostile file of a
 * few bytes per level could exhaust the stack. This walk keeps no values (protobuf-c does all the
 * parsing); guided by the generated descriptors, with a bounded explicit stack, it only measures
 * how deep messages nest. Malformed wire data is left for protobuf-c to reject. */
static gboolean
nesting_ok (const uint8_t *data, size_t size)
{
  struct {
    const ProtobufCMessageDescriptor *desc;
    const uint8_t *p, *end;
  } stack[MAX_NESTING];
  int sp = 0;
  stack[0].desc = &onnx__model_proto__descriptor, stack[0].p = data, stack[0].end = data + size;
  while (sp >= 0)
    {
      const uint8_t **p = &stack[sp].p, *end = stack[sp].end;
      uint64_t key, len;
      if (*p >= end)
        {
          sp--;
          continue;
        }
      if (!read_varint (p, end, &key))
        return TRUE;
      switch (key & 7)
        {
        case 0:
          if (!read_varint (p, end, &len))
            return TRUE;
          break;
        case 1:
        case 5:
          if ((size_t) (end - *p) < ((key & 7) == 1 ? 8u : 4u))
            return TRUE;
          *p += (key & 7) == 1 ? 8 : 4;
          break;
        case 2:
          {
            if (!read_varint (p, end, &len) || len > (uint64_t) (end - *p))
              return TRUE;
            const uint8_t *start = *p;
            *p += len;
            const ProtobufCFieldDescriptor *f
              = key >> 3 <= G_MAXUINT
                  ? protobuf_c_message_descriptor_get_field (stack[sp].desc, (unsigned) (key >> 3))
                  : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE)
              {
                if (sp + 1 >= MAX_NESTING)
                  return FALSE;
                sp++;
                stack[sp].desc = f->descriptor, stack[sp].p = start, stack[sp].end = start + len;
              }
            break;
          }
        default:
          return TRUE;
        }
    }
  return TRUE;
}

/* ---- the graph ---------------------------------------------------------------------------- */

static int
onnx_n_inputs (const void *ctx, int v)
{
  const importer *imp = ctx;
  return (int) imp->graph->node[v]->n_input;
}

/* The node producing input k of node v; -1 for an absent input (empty name), the graph input
 * and initializers. */
static int
onnx_input (const void *ctx, int v, int k)
{
  const importer *imp = ctx;
  const char *in = imp->graph->node[v]->input[k];
  return *in ? GPOINTER_TO_INT (g_hash_table_lookup (imp->producers, in)) - 1 : -1;
}

/* Nodes the tensor depends on, inputs before users. */
static gboolean
order_nodes (importer *imp, const char *target, int **order, int *n_order)
{
  const Onnx__GraphProto *g = imp->graph;
  int n = (int) g->n_node;
  int first = GPOINTER_TO_INT (g_hash_table_lookup (imp->producers, target)) - 1;
  *order = g_new (int, MAX (n, 1));
  int cycle = segcam_sort_ancestors (n, first, onnx_n_inputs, onnx_input, imp, *order, n_order);
  if (cycle >= 0)
    return fail (imp, "the graph has a cycle through node '%s'", node_label (g->node[cycle]));
  return TRUE;
}

/* The graph input: the one input that is not an initializer, [N, C, H, W] with C 1 or 3. */
static gboolean
add_graph_input (importer *imp, int *channels)
{
  const Onnx__GraphProto *g = imp->graph;
  const Onnx__ValueInfoProto *in = NULL;
  for (size_t i = 0; i < g->n_input; i++)
    if (g->input[i]->name && !g_hash_table_contains (imp->initializers, g->input[i]->name))
      {
        if (in)
          return fail (imp, "the graph has several inputs ('%s', '%s'); segcam feeds one image",
                       shown (in->name), shown (g->input[i]->name));
        in = g->input[i];
      }
  if (!in)
    return fail (imp, "the graph has no input");
  const Onnx__TypeProto *t = in->type;
  const Onnx__TensorShapeProto *shape = t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
                                          && t->tensor_type ? t->tensor_type->shape : NULL;
  if (!shape || shape->n_dim != 4)
    return fail (imp, "input '%s' must be an image tensor [N, C, H, W]", shown (in->name));
  const Onnx__TensorShapeProto__Dimension *c = shape->dim[1];
  if (c->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
      || (c->dim_value != 1 && c->dim_value != 3))
    return fail (imp, "input '%s' must have 1 (gray) or 3 (RGB) channels", shown (in->name));
  *channels = (int) c->dim_value;
  const Onnx__TensorShapeProto__Dimension *h = shape->dim[2], *w = shape->dim[3];
  if (h->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
      && w->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && h->dim_value > 0
      && w->dim_value > 0 && h->dim_value <= 65536 && w->dim_value <= 65536)
    imp->export_h = h->dim_value, imp->export_w = w->dim_value;
  out_node o = {g_strdup ("input"), "input", -1, *channels, FALSE, json_object_new ()};
  json_object_set_string_member (o.json, "name", "input");
  json_object_set_string_member (o.json, "op", "input");
  g_array_append_val (imp->nodes, o);
  value *v = g_new0 (value, 1);
  v->kind = V_ACT;
  g_hash_table_insert (imp->values, g_strdup (in->name), v);
  return TRUE;
}

static const Onnx__NodeProto *
producer (importer *imp, const char *tensor)
{
  int i = GPOINTER_TO_INT (g_hash_table_lookup (imp->producers, tensor)) - 1;
  return i >= 0 ? imp->graph->node[i] : NULL;
}

/* Casts between float types and Identity leave the values as segcam computes them. */
static gboolean
is_float_alias (const Onnx__NodeProto *p)
{
  if (!p || !p->n_input || !p->op_type)
    return FALSE;
  if (strcmp (p->op_type, "Identity") == 0)
    return TRUE;
  int64_t to = attr_int (p, "to", 0);
  return strcmp (p->op_type, "Cast") == 0
         && (to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16
             || to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE);
}

/* The logits: the requested or first graph output, without the Casts (fp16 models cast their
 * outputs back to float) and the final Softmax or Sigmoid (whose kind becomes the output
 * activation) after them. *activation is NULL when there was none. */
static gboolean
find_logits (importer *imp, const char *requested, const char **logits, const char **activation)
{
  const Onnx__GraphProto *g = imp->graph;
  if (!requested && (!g->n_output || !g->output[0]->name))
    return fail (imp, "the graph has no output");
  const char *t = requested ? requested : g->output[0]->name;
  const Onnx__NodeProto *p = producer (imp, t);
  for (int hops = 0; is_float_alias (p) && hops < 16; hops++) /* a cycle is reported later */
    t = p->input[0], p = producer (imp, t);
  const char *op = p && p->n_input && p->op_type ? p->op_type : "";
  *activation = NULL;
  if (strcmp (op, "Softmax") == 0 || strcmp (op, "LogSoftmax") == 0)
    {
      int64_t axis = attr_int (p, "axis", imp->opset >= 13 ? -1 : 1);
      if (axis != 1 && axis != -3)
        return fail (imp, "the output's %s at node '%s' is not over the channels", p->op_type,
                     node_label (p));
      *activation = "softmax", t = p->input[0];
    }
  else if (strcmp (op, "Sigmoid") == 0)
    *activation = "sigmoid", t = p->input[0];
  *logits = t;
  return TRUE;
}

/* ---- classes, normalisation and the side file ------------------------------------------------- */

static const char *
metadata (const importer *imp, const char *key)
{
  for (size_t i = 0; i < imp->model->n_metadata_props; i++)
    {
      const Onnx__StringStringEntryProto *e = imp->model->metadata_props[i];
      if (e->key && e->value && strcmp (e->key, key) == 0)
        return e->value;
    }
  return NULL;
}

/* The metadata entry key, "a,b,c" or a JSON list of strings, as NULL-terminated strings in *out
 * (NULL when the model has no such entry). A JSON list goes through the strict reader, as every
 * other JSON segcam reads: a hostile one (nested 200,000 deep, say) is an error naming the entry,
 * not a crash or a silently empty list. */
static gboolean
split_list (importer *imp, const char *key, char ***out)
{
  const char *text = metadata (imp, key);
  *out = NULL;
  if (!text)
    return TRUE;
  char *s = g_strstrip (g_strdup (text));
  if (*s != '[')
    {
      *out = g_strsplit (s, ",", -1);
      for (char **q = *out; *q; q++)
        g_strstrip (*q);
      g_free (s);
      return TRUE;
    }
  char *what = g_strdup_printf ("metadata '%s'", key);
  JsonParser *p = segcam_json_parse (s, strlen (s), what, NULL, imp->error);
  JsonNode *root = p ? json_parser_get_root (p) : NULL;
  gboolean ok = root != NULL;
  if (ok && !JSON_NODE_HOLDS_ARRAY (root))
    ok = fail (imp, "%s is neither a JSON list nor comma-separated", what);
  if (ok)
    {
      JsonArray *a = json_node_get_array (root);
      guint n = json_array_get_length (a);
      *out = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        {
          /* Strings as they are, numbers as text (parse_numbers reads them back), the rest
           * empty, which the callers refuse. */
          JsonNode *e = json_array_get_element (a, i);
          GType t = JSON_NODE_HOLDS_VALUE (e) ? json_node_get_value_type (e) : G_TYPE_INVALID;
          char number[G_ASCII_DTOSTR_BUF_SIZE];
          (*out)[i] = g_strdup (t == G_TYPE_STRING ? json_node_get_string (e)
                                : t == G_TYPE_DOUBLE || t == G_TYPE_INT64
                                ? g_ascii_dtostr (number, sizeof number, json_node_get_double (e))
                                : "");
        }
    }
  g_clear_object (&p);
  g_free (what);
  g_free (s);
  return ok;
}

/* The numbers of metadata entry key (at most max are stored): their count, 0 when there is no
 * entry, -1 when it is not a list of numbers, -2 when the error is already set. */
static int
parse_numbers (importer *imp, const char *key, float *out, int max)
{
  char **parts;
  if (!split_list (imp, key, &parts))
    return -2;
  int n = 0;
  for (char **q = parts; q && *q && n <= max; q++)
    {
      char *s = g_strstrip (g_strdelimit (*q, "[]\"", ' ')), *end;
      double v = g_ascii_strtod (s, &end);
      if (!*s || *end || !isfinite (v))
        {
          n = -1;
          break;
        }
      if (n < max)
        out[n] = (float) v;
      n++;
    }
  g_strfreev (parts);
  return n;
}

gboolean
segcam_onnx_read_classes (const char *file, char ***classes, char ***colors, GError **error)
{
  char *text = NULL;
  if (!g_file_get_contents (file, &text, NULL, error))
    return FALSE;
  GPtrArray *names = g_ptr_array_new (), *cols = g_ptr_array_new ();
  char **lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      char *s = g_strstrip (*l);
      size_t len = strlen (s);
      if (!*s)
        continue;
      if (len > 8 && s[len - 7] == '#' && s[len - 8] == ' ')
        {
          g_ptr_array_add (cols, g_strdup (s + len - 7));
          s[len - 8] = 0;
          g_strchomp (s);
        }
      else
        g_ptr_array_add (cols, g_strdup (""));
      g_ptr_array_add (names, g_strdup (s));
    }
  g_strfreev (lines);
  g_free (text);
  g_ptr_array_add (names, NULL);
  g_ptr_array_add (cols, NULL);
  *classes = (char **) g_ptr_array_free (names, FALSE);
  *colors = (char **) g_ptr_array_free (cols, FALSE);
  return TRUE;
}

/* The side file of an ONNX model: PATH without .onnx, plus .classes.txt. */
static gboolean
read_side_file (const char *path, char ***classes, char ***colors)
{
  char *stem = g_str_has_suffix (path, ".onnx") ? g_strndup (path, strlen (path) - 5) : g_strdup (path);
  char *file = g_strconcat (stem, ".classes.txt", NULL);
  gboolean found = g_file_test (file, G_FILE_TEST_IS_REGULAR)
                   && segcam_onnx_read_classes (file, classes, colors, NULL);
  g_free (stem);
  g_free (file);
  return found;
}

static JsonArray *
json_floats (int n, const float *v)
{
  JsonArray *a = json_array_new ();
  for (int i = 0; i < n; i++)
    json_array_add_double_element (a, v[i]);
  return a;
}

/* The "input" and "classes" members. */
static gboolean
describe_io (importer *imp, const char *path, const segcam_onnx_options *o, int in_channels,
             int out_channels, gboolean sigmoid, JsonObject *root)
{
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1}, meta[3];
  int nm = o && o->n_mean ? o->n_mean : parse_numbers (imp, "segcam.mean", meta, 3);
  if (nm == -2)
    return FALSE;
  if (nm > 0)
    for (int c = 0; c < in_channels; c++)
      mean[c] = o && o->n_mean ? o->mean[nm == 1 ? 0 : c] : meta[nm == 1 ? 0 : c];
  int ns = o && o->n_std ? o->n_std : parse_numbers (imp, "segcam.std", meta, 3);
  if (ns == -2)
    return FALSE;
  if (ns > 0)
    for (int c = 0; c < in_channels; c++)
      std[c] = o && o->n_std ? o->std[ns == 1 ? 0 : c] : meta[ns == 1 ? 0 : c];
  if (nm < 0 || ns < 0 || (nm > 1 && nm != in_channels) || (ns > 1 && ns != in_channels))
    return fail (imp, "mean and std must give 1 or %d numbers", in_channels);
  JsonObject *in = json_object_new ();
  json_object_set_int_member (in, "channels", in_channels);
  json_object_set_string_member (in, "colorspace", in_channels == 3 ? "rgb" : "gray");
  json_object_set_array_member (in, "mean", json_floats (in_channels, mean));
  json_object_set_array_member (in, "std", json_floats (in_channels, std));
  json_object_set_int_member (in, "size_multiple", 1);
  json_object_set_object_member (root, "input", in);

  char **names = NULL, **colors = NULL;
  if (o && o->classes)
    names = g_strdupv (o->classes), colors = g_strdupv (o->colors);
  else if (!path || !read_side_file (path, &names, &colors))
    {
      if (!split_list (imp, "segcam.classes", &names) || !split_list (imp, "segcam.colors", &colors))
        {
          g_strfreev (names);
          return FALSE;
        }
    }
  if (o && o->colors && !(o && o->classes))
    g_strfreev (colors), colors = g_strdupv (o->colors);
  int want = sigmoid && out_channels == 1 ? 2 : out_channels;
  int n = names ? (int) g_strv_length (names) : 0;
  if (names && n == 1 && want == 2)
    {
      /* a one-channel model named by its foreground */
      char *fg = names[0];
      names = g_renew (char *, names, 3);
      names[0] = g_strdup ("background"), names[1] = fg, names[2] = NULL;
      n = 2;
    }
  gboolean ok = TRUE;
  for (int i = 0; ok && i < n; i++)
    if (!printable (names[i]) || (colors && i < (int) g_strv_length (colors) && !printable (colors[i])))
      ok = fail (imp, "class %d has a name or colour with control characters", i);
  if (ok && names && n != want)
    ok = fail (imp, "%d class names for an output of %d classes", n, want);
  JsonArray *classes = json_array_new ();
  for (int i = 0; ok && i < want; i++)
    {
      JsonObject *c = json_object_new ();
      char *fallback = g_strdup_printf (want == 2 && sigmoid && out_channels == 1
                                          ? (i ? "foreground" : "background") : "class %d", i);
      json_object_set_string_member (c, "name", names ? names[i] : fallback);
      g_free (fallback);
      int nc = colors ? (int) g_strv_length (colors) : 0;
      int ci = nc == want ? i : nc == want - 1 && want == 2 ? i - 1 : -1;
      if (ci >= 0 && *colors[ci])
        json_object_set_string_member (c, "color", colors[ci]);
      json_array_add_object_element (classes, c);
    }
  json_object_set_array_member (root, "classes", classes);
  g_strfreev (names);
  g_strfreev (colors);
  return ok;
}

/* ---- after the translation: what needs the model's shapes ------------------------------------ */

static char *
graph_text (JsonObject *root)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, root);
  char *text = json_to_string (node, FALSE);
  json_node_unref (node);
  return text;
}

/* Which node a name of the translation is, and which nodes each one reads. */
static int **
node_inputs (importer *imp)
{
  GHashTable *index = g_hash_table_new (g_str_hash, g_str_equal);
  int **inputs = g_new0 (int *, imp->nodes->len);
  for (guint i = 0; i < imp->nodes->len; i++)
    {
      const out_node *o = node_at (imp, i);
      JsonArray *a = json_object_has_member (o->json, "inputs")
                       ? json_object_get_array_member (o->json, "inputs") : NULL;
      guint k = a ? json_array_get_length (a) : 0;
      inputs[i] = g_new (int, k + 1);
      for (guint j = 0; j < k; j++)
        inputs[i][j] = GPOINTER_TO_INT (g_hash_table_lookup (index, json_array_get_string_element (a, j))) - 1;
      inputs[i][k] = -1;
      g_hash_table_insert (index, o->name, GINT_TO_POINTER ((int) i + 1));
    }
  g_hash_table_destroy (index);
  return inputs;
}

/* fixed[i]: node i's size is fixed, because it is or reads an unresolved fixed-size upsample
 * (the nodes are in the order they were emitted, inputs first). */
static void
mark_fixed (importer *imp, int *const *inputs, const gboolean *unresolved, gboolean *fixed)
{
  for (guint i = 0; i < imp->nodes->len; i++)
    {
      fixed[i] = unresolved[i];
      for (const int *k = inputs[i]; *k >= 0 && !fixed[i]; k++)
        fixed[i] = fixed[*k];
    }
}

/* A partner for upsample node u, whose export-time output is h x w (hw: every node's export-time
 * size, -1 for nodes the output does not need): a node of that size whose own size follows the
 * image. First a node that u's output, through ops that keep its size, is added to, multiplied
 * or concatenated with, as U-Net and FPN decoders, "resize like" helpers and segmentation heads
 * do; then the graph input; then the nearest node before u. *why says which. */
static int
size_partner (importer *imp, int u, const int *hw, int *const *inputs, const gboolean *fixed,
              const char **why)
{
  int h = hw[2 * u], w = hw[2 * u + 1];
  guint n = imp->nodes->len;
  /* A node of size h x w at the export size and whose inputs are too keeps its input's size at
   * every size: a stride-1 window keeps it exactly when its padding does, whatever the size. */
  gboolean *chain = g_new0 (gboolean, n);
  chain[u] = TRUE;
#define FITS(j) ((j) != u && !fixed[j] && !chain[j] && hw[2 * (j)] == h && hw[2 * (j) + 1] == w \
                 && !node_at (imp, j)->one_pixel)
  int found = -1;
  for (guint i = u + 1; found < 0 && i < n; i++)
    {
      const char *op = node_at (imp, i)->op;
      gboolean reads_chain = FALSE;
      for (const int *k = inputs[i]; *k >= 0; k++)
        reads_chain |= chain[*k];
      if (!reads_chain || hw[2 * i] != h || hw[2 * i + 1] != w)
        continue;
      chain[i] = TRUE;
      if (strcmp (op, "concat") && strcmp (op, "add") && strcmp (op, "mul"))
        continue;
      for (const int *k = inputs[i]; found < 0 && *k >= 0; k++)
        if (FITS (*k))
          found = *k;
    }
  if (found >= 0)
    *why = "the tensor it is combined with";
  else if (FITS (0))
    found = 0, *why = "the input";
  for (int j = u - 1; found < 0 && j > 0; j--)
    if (FITS (j))
      found = j, *why = "an earlier tensor of that size at the export size";
#undef FITS
  g_free (chain);
  return found;
}

/* Static exports (torch.onnx.export without dynamic_axes) give every Resize a fixed output size.
 * Each is re-expressed, where the export-time shapes allow, as "the size of a tensor"
 * (size_partner) or as a whole scale of its input, so that the network runs at any image size
 * as it did in PyTorch; summary says so in a sentence, notes what became of each. */
static gboolean
generalise (importer *imp, JsonObject *root, segcam_safetensors *st, GString *summary,
            GString *notes)
{
  guint n = imp->nodes->len, n_fixed = imp->fixed->len;
  if (!n_fixed)
    return TRUE;
  const out_node *first = node_at (imp, g_array_index (imp->fixed, int, 0));
  if (!imp->export_h)
    return fail (imp, "Resize to '%s' has a fixed output size, but the graph input has no static "
                 "size to relate it to; export with a static input, or with sizes taken from tensors",
                 first->name);
  g_hash_table_replace (st->metadata, g_strdup ("segcam.graph"), graph_text (root));
  segcam_model *m = segcam_model_borrow_safetensors (st, imp->error);
  if (!m)
    return FALSE;
  int n_model = segcam_model_n_nodes (m), *shapes = g_new (int, 3 * n_model);
  GError *why = NULL;
  gboolean ok = segcam_model_infer_shapes (m, (int) imp->export_w, (int) imp->export_h, shapes, &why);
  if (!ok)
    {
      fail (imp, "the network fails at its export size %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
            " (%s)", imp->export_w, imp->export_h, why->message);
      g_clear_error (&why);
    }
  int *hw = g_new (int, 2 * n), **inputs = node_inputs (imp);
  GHashTable *index = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    hw[2 * i] = hw[2 * i + 1] = -1, g_hash_table_insert (index, node_at (imp, i)->name, GINT_TO_POINTER (i + 1));
  for (int i = 0; ok && i < n_model; i++)
    {
      int at = GPOINTER_TO_INT (g_hash_table_lookup (index, segcam_model_node_name (m, i))) - 1;
      if (at >= 0)
        hw[2 * at] = shapes[3 * i + 1], hw[2 * at + 1] = shapes[3 * i + 2];
    }
  gboolean *unresolved = g_new0 (gboolean, n), *fixed = g_new0 (gboolean, n);
  for (guint f = 0; f < n_fixed; f++)
    unresolved[g_array_index (imp->fixed, int, f)] = TRUE;
  int counts[3] = {0, 0, 0};
  /* A partner may itself follow a fixed Resize resolved later: repeat while one resolves. */
  for (gboolean progress = ok; progress;)
    {
      progress = FALSE;
      for (guint f = 0; f < n_fixed; f++)
        {
          int u = g_array_index (imp->fixed, int, f), x = inputs[u][0];
          if (!unresolved[u] || hw[2 * u] < 0)
            continue;
          mark_fixed (imp, inputs, unresolved, fixed);
          const out_node *o = node_at (imp, u);
          const char *reason = NULL;
          int partner = size_partner (imp, u, hw, inputs, fixed, &reason);
          int sh = hw[2 * x] > 0 && hw[2 * u] % hw[2 * x] == 0 ? hw[2 * u] / hw[2 * x] : 0;
          int sw = hw[2 * x + 1] > 0 && hw[2 * u + 1] % hw[2 * x + 1] == 0 ? hw[2 * u + 1] / hw[2 * x + 1] : 0;
          gboolean scaled = partner < 0 && sh >= 1 && sw >= 1 && sh <= 64 && sw <= 64 && !fixed[x];
          if (partner < 0 && !scaled)
            continue;
          json_object_remove_member (o->json, "size");
          if (partner >= 0)
            {
              json_array_add_string_element (json_object_get_array_member (o->json, "inputs"),
                                             node_at (imp, partner)->name);
              g_string_append_printf (notes, "Resize to '%s' (%dx%d at the export size): to the size "
                                      "of %s, '%s'\n", o->name, hw[2 * u + 1], hw[2 * u], reason,
                                      node_at (imp, partner)->name);
              counts[partner == 0 ? 1 : 0]++;
            }
          else
            {
              /* what torch.onnx.export writes for interpolate(scale_factor=k) */
              json_object_set_array_member (o->json, "scale", json_floats (2, (float[]) {sh, sw}));
              g_string_append_printf (notes, "Resize to '%s' (%dx%d at the export size): %d x %d its "
                                      "input's size\n", o->name, hw[2 * u + 1], hw[2 * u], sw, sh);
              counts[2]++;
            }
          unresolved[u] = FALSE, progress = TRUE;
        }
    }
  for (guint f = 0; ok && !imp->fixed_size && f < n_fixed; f++)
    {
      int u = g_array_index (imp->fixed, int, f);
      if (unresolved[u] && hw[2 * u] >= 0)
        {
          /* The resizes already re-expressed give the same sizes at the export size. */
          imp->fixed_size = TRUE;
          g_string_append_printf (summary, "; kept its fixed input size %" G_GINT64_FORMAT "x%"
                                  G_GINT64_FORMAT ", since Resize to '%s' (%dx%d at that size) is "
                                  "neither the size of a tensor whose size follows the image nor a "
                                  "whole multiple of its input's: images are resampled to it",
                                  imp->export_w, imp->export_h, node_at (imp, u)->name,
                                  hw[2 * u + 1], hw[2 * u]);
        }
    }
  if (ok && !imp->fixed_size)
    g_string_append_printf (summary, "; generalised a static export: the %d fixed Resize sizes of "
                            "its %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " input follow the image "
                            "(%d the size of a tensor, %d the input's, %d a whole scale)",
                            counts[0] + counts[1] + counts[2], imp->export_w, imp->export_h,
                            counts[0], counts[1], counts[2]);
  for (guint i = 0; i < n; i++)
    g_free (inputs[i]);
  g_free (inputs);
  g_free (unresolved);
  g_free (fixed);
  g_free (hw);
  g_free (shapes);
  g_hash_table_destroy (index);
  segcam_model_free (m);
  return ok;
}

/* Loads the translation as segcam would and sets, from its shapes, the input's size multiple (the
 * smallest that keeps every node valid and the logits at the input's size) and, unless given,
 * the default layer: the widest of the deepest feature maps (least pixels, most channels; the
 * last of equals), where Grad-CAM is usually taken. */
static gboolean
finish (importer *imp, JsonObject *root, segcam_safetensors *st, gboolean choose_layer,
        GString *summary)
{
  g_hash_table_replace (st->metadata, g_strdup ("segcam.graph"), graph_text (root));
  segcam_model *m = segcam_model_borrow_safetensors (st, imp->error);
  if (!m)
    return FALSE;
  int n = segcam_model_n_nodes (m), out = segcam_model_output_node (m), mult = 1;
  int *shapes = g_new (int, 3 * n);
  static const int probes[][2] = {{7, 9}, {12, 5}, {16, 16}};
  for (; !imp->fixed_size && mult <= MAX_MULTIPLE; mult *= 2)
    {
      gboolean fits = TRUE;
      for (size_t p = 0; fits && p < G_N_ELEMENTS (probes); p++)
        {
          int h = probes[p][0] * mult, w = probes[p][1] * mult;
          fits = segcam_model_infer_shapes (m, w, h, shapes, NULL) && shapes[3 * out + 1] == h
                 && shapes[3 * out + 2] == w;
        }
      if (fits)
        break;
    }
  gboolean ok = TRUE;
  if (mult > MAX_MULTIPLE && imp->export_h
      && segcam_model_infer_shapes (m, (int) imp->export_w, (int) imp->export_h, shapes, NULL))
    {
      imp->fixed_size = TRUE, mult = 1;
      g_string_append_printf (summary, "; kept its fixed input size %" G_GINT64_FORMAT "x%"
                              G_GINT64_FORMAT ", since its logits have the input's size at that "
                              "size only: images are resampled to it", imp->export_w, imp->export_h);
    }
  if (mult > MAX_MULTIPLE)
    {
      GError *why = NULL;
      if (!segcam_model_infer_shapes (m, 512, 512, shapes, &why))
        ok = fail (imp, "the network fails at every size tried (%s)", why->message);
      else
        ok = fail (imp, "output '%s' is %dx%d for a 512x512 input; segcam explains networks whose "
                   "logits have the input's size", segcam_model_node_name (m, out),
                   shapes[3 * out + 2], shapes[3 * out + 1]);
      g_clear_error (&why);
    }
  /* At a fixed size the model's shapes are those of its export size. */
  int side = imp->fixed_size ? (int) imp->export_w : 256 * mult;
  if (ok && choose_layer && segcam_model_infer_shapes (m, side, imp->fixed_size ? (int) imp->export_h : side,
                                                       shapes, NULL))
    {
      int best = out;
      int64_t best_area = G_MAXINT64;
      for (int i = 1; i < n; i++)
        {
          int64_t area = (int64_t) shapes[3 * i + 1] * shapes[3 * i + 2];
          if (area <= 1)
            continue; /* globally pooled: no map to show */
          if (area < best_area || (area == best_area && shapes[3 * i] >= shapes[3 * best]))
            best = i, best_area = area;
        }
      json_object_set_string_member (root, "default_layer", segcam_model_node_name (m, best));
    }
  json_object_set_int_member (json_object_get_object_member (root, "input"), "size_multiple", mult);
  g_hash_table_replace (st->metadata, g_strdup ("segcam.graph"), graph_text (root));
  /* The lowest version that has every op and key the translation uses. */
  int version = MAX (imp->fixed_size ? 3 : 2, imp->attr_version);
  for (guint i = 0; i < imp->nodes->len; i++)
    version = MAX (version, segcam_op_get (segcam_op_find (node_at (imp, i)->op))->format_version);
  g_hash_table_replace (st->metadata, g_strdup ("segcam.format"), g_strdup_printf ("%d", version));
  if (imp->fixed_size)
    {
      g_hash_table_replace (st->metadata, g_strdup ("segcam.fixed_size"),
                            g_strdup_printf ("%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT, imp->export_w,
                                             imp->export_h));
    }
  g_free (shapes);
  segcam_model_free (m);
  return ok;
}

/* ---- public ------------------------------------------------------------------------------- */

gboolean
segcam_onnx_is_onnx (const uint8_t *data, size_t size, const char *path)
{
  /* safetensors: an 8-byte header length, then '{'. ONNX: a protobuf whose first field is
   * ir_version (field 1, varint: 0x08), as every exporter writes it. */
  if (size >= 9 && data[8] == '{')
    return FALSE;
  return (size > 0 && data[0] == 0x08) || (path && g_str_has_suffix (path, ".onnx"));
}

/* The value of a tensor named by the user: an activation, under its ONNX name or an alias. */
static int
named_node (importer *imp, const char *name, const char *what)
{
  value *v = g_hash_table_lookup (imp->values, name);
  if (!v || v->kind != V_ACT)
    {
      fail (imp, "%s '%s' is not a feature map of the network", what, shown (name));
      return -1;
    }
  return v->node;
}

/* The given name, else the graph's unless an exporter's placeholder, else the file's. */
static char *
model_name (const Onnx__GraphProto *g, const char *path, const segcam_onnx_options *o)
{
  static const char *const placeholders[] = {"torch_jit", "torch-jit-export", "main_graph", "tf2onnx"};
  if (o && o->name)
    return g_strdup (o->name);
  gboolean named = printable (g->name) && *g->name;
  for (size_t i = 0; named && i < G_N_ELEMENTS (placeholders); i++)
    named = strcmp (g->name, placeholders[i]) != 0;
  if (named)
    return g_strdup (g->name);
  if (!path)
    return g_strdup ("");
  char *base = g_path_get_basename (path);
  if (g_str_has_suffix (base, ".onnx"))
    base[strlen (base) - 5] = 0;
  return base;
}

static gboolean
translate (importer *imp, const char *path, const segcam_onnx_options *o, segcam_safetensors *st)
{
  const Onnx__GraphProto *g = imp->graph;
  for (size_t i = 0; i < imp->model->n_opset_import; i++)
    {
      const Onnx__OperatorSetIdProto *op = imp->model->opset_import[i];
      if ((!op->domain || !*op->domain || strcmp (op->domain, "ai.onnx") == 0) && op->has_version)
        imp->opset = op->version;
    }
  for (size_t i = 0; i < g->n_initializer; i++)
    {
      if (!printable (g->initializer[i]->name))
        return fail (imp, "initializer %zu has a name with control characters or invalid UTF-8", i);
      g_hash_table_insert (imp->initializers, g->initializer[i]->name, g->initializer[i]);
    }
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_output; k++)
      {
        const char *t = g->node[i]->output[k];
        if (!*t)
          continue;
        if (!printable (t))
          return fail (imp, "node %zu names an output with control characters or invalid UTF-8", i);
        if (g_hash_table_contains (imp->producers, t) || g_hash_table_contains (imp->initializers, t))
          return fail (imp, "tensor '%s' is produced twice", t);
        g_hash_table_insert (imp->producers, (gpointer) t, GINT_TO_POINTER ((int) i + 1));
      }
  const char *out_name = o && o->output ? o->output : metadata (imp, "segcam.output");
  const char *logits = NULL, *activation = NULL;
  int in_channels = 0, *order = NULL, n_order = 0;
  if (!add_graph_input (imp, &in_channels) || !find_logits (imp, out_name, &logits, &activation)
      || !order_nodes (imp, logits, &order, &n_order))
    {
      g_free (order);
      return FALSE;
    }
  gboolean ok = TRUE;
  for (int i = 0; ok && i < n_order; i++)
    ok = onnx_convert_node (imp, g->node[order[i]]);
  g_free (order);
  int out = ok ? named_node (imp, logits, "output") : -1;
  if (out < 0)
    return FALSE;
  const char *layer_name = o && o->default_layer ? o->default_layer : metadata (imp, "segcam.default_layer");
  int layer = layer_name ? named_node (imp, layer_name, "default layer") : out;
  if (layer < 0)
    return FALSE;

  int out_channels = node_at (imp, out)->channels;
  gboolean sigmoid = activation ? strcmp (activation, "sigmoid") == 0 : out_channels == 1;
  JsonObject *root = json_object_new ();
  if (!describe_io (imp, path, o, in_channels, out_channels, sigmoid, root))
    {
      json_object_unref (root);
      return FALSE;
    }
  json_object_set_string_member (root, "output", node_at (imp, out)->name);
  json_object_set_string_member (root, "output_activation", sigmoid ? "sigmoid" : "softmax");
  json_object_set_string_member (root, "default_layer", node_at (imp, layer)->name);
  JsonArray *nodes = json_array_new ();
  for (guint i = 0; i < imp->nodes->len; i++)
    json_array_add_object_element (nodes, json_object_ref (node_at (imp, i)->json));
  json_object_set_array_member (root, "nodes", nodes);

  /* Hand the tensors over. */
  st->n_tensors = (int) imp->tensors->len;
  st->tensors = (segcam_tensor *) g_array_free (imp->tensors, FALSE);
  imp->tensors = NULL;
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (st->metadata, g_strdup ("segcam.format"), g_strdup ("2"));
  g_hash_table_insert (st->metadata, g_strdup ("segcam.name"), model_name (g, path, o));
  g_hash_table_insert (st->metadata, g_strdup ("segcam.description"),
                       g_strdup_printf ("imported from ONNX (%s %s, opset %" G_GINT64_FORMAT ")",
                                        imp->model->producer_name ? imp->model->producer_name : "?",
                                        imp->model->producer_version ? imp->model->producer_version : "",
                                        imp->opset));
  GString *summary = g_string_new (""), *notes = g_string_new ("");
  if (imp->n_dequantized)
    g_string_append_printf (summary, "; the weights of its %d ConvInteger nodes were dequantized "
                            "(activations stay float: DynamicQuantizeLinear is not applied)",
                            imp->n_dequantized);
  ok = generalise (imp, root, st, summary, notes) && finish (imp, root, st, layer_name == NULL, summary);
  if (ok && summary->len)
    {
      /* The summary joins the description `segcam info` shows; segcam import prints it and
       * the details. */
      char *d = g_strconcat (g_hash_table_lookup (st->metadata, "segcam.description"), summary->str, NULL);
      g_hash_table_replace (st->metadata, g_strdup ("segcam.description"), d);
      g_hash_table_replace (st->metadata, g_strdup ("segcam.import_notes"),
                            g_strdup_printf ("%s\n%s", summary->str + 2 /* "; " */, notes->str));
    }
  g_string_free (summary, TRUE);
  g_string_free (notes, TRUE);
  json_object_unref (root);
  return ok;
}

gboolean
segcam_onnx_import (const uint8_t *data, size_t size, const char *path,
                    const segcam_onnx_options *options, segcam_safetensors *out, GError **error)
{
  memset (out, 0, sizeof *out);
  if (!nesting_ok (data, size))
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL,
                   "not an ONNX model: messages nest more than %d deep", MAX_NESTING);
      return FALSE;
    }
  Onnx__ModelProto *model = onnx__model_proto__unpack (NULL, size, data);
  if (!model || !model->graph)
    {
      g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL,
                           model ? "the ONNX model has no graph" : "not a valid ONNX model (protobuf)");
      if (model)
        onnx__model_proto__free_unpacked (model, NULL);
      return FALSE;
    }
  importer imp = {
    .model = model, .graph = model->graph, .opset = 1, .error = error,
    .values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) value_free),
    .initializers = g_hash_table_new (g_str_hash, g_str_equal),
    .producers = g_hash_table_new (g_str_hash, g_str_equal),
    .nodes = g_array_new (FALSE, TRUE, sizeof (out_node)),
    .tensors = g_array_new (FALSE, TRUE, sizeof (segcam_tensor)),
    .tensor_names = g_hash_table_new (g_str_hash, g_str_equal),
    .fixed = g_array_new (FALSE, FALSE, sizeof (int)),
  };
  gboolean ok = translate (&imp, path, options, out);
  for (guint i = 0; i < imp.nodes->len; i++)
    {
      g_free (g_array_index (imp.nodes, out_node, i).name);
      json_object_unref (g_array_index (imp.nodes, out_node, i).json);
    }
  g_array_free (imp.nodes, TRUE);
  for (guint i = 0; imp.tensors && i < imp.tensors->len; i++)
    {
      g_free (g_array_index (imp.tensors, segcam_tensor, i).name);
      g_free (g_array_index (imp.tensors, segcam_tensor, i).data);
    }
  if (imp.tensors)
    g_array_free (imp.tensors, TRUE);
  g_array_free (imp.fixed, TRUE);
  g_hash_table_destroy (imp.tensor_names);
  g_hash_table_destroy (imp.values);
  g_hash_table_destroy (imp.initializers);
  g_hash_table_destroy (imp.producers);
  onnx__model_proto__free_unpacked (model, NULL);
  if (!ok)
    segcam_safetensors_clear (out);
  return ok;
}
