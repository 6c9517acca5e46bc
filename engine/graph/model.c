/* model.c — a segcam model from a parsed container: the `segcam.graph` JSON (docs/model-format.md,
 * 'Graph' and 'Validation') validated node by node, sorted topologically and pruned to what the
 * output needs; each node's attributes and tensors go through its op's parse function (ops/),
 * which repacks weights for channels-last execution. Every error is one line naming the node,
 * attribute or tensor at fault. */
#include "model.h"
#include "json.h"

#include <string.h>

#define fail(error, ...) segcam_fail (error, SEGCAM_ERROR_MODEL, __VA_ARGS__)

/* ---- the graph ---------------------------------------------------------------------------- */

/* Parsed, unsorted description of one node before weights are attached. */
typedef struct {
  const char *name;
  int op;
  JsonObject *obj;
  int n_inputs;
  int inputs[SEGCAM_MAX_INPUTS];
} raw_node;

static gboolean
read_raw_nodes (JsonArray *arr, raw_node **out, int *n_out, GError **error)
{
  guint n = json_array_get_length (arr);
  if (n < 2 || n > SEGCAM_MAX_NODES)
    return fail (error, "graph: 'nodes' must list between 2 and %d nodes", SEGCAM_MAX_NODES);
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
          segcam_attrs a = {"?", raw[i].obj, NULL, error};
          gboolean bad = FALSE;
          raw[i].name = segcam_attr_string (&a, "name", &bad);
          const char *op = bad ? NULL : segcam_attr_string (&a, "op", &bad);
          if (bad)
            ok = FALSE;
          else if (!raw[i].name || !*raw[i].name)
            ok = fail (error, "graph: node %u has no name", i);
          else if (g_hash_table_contains (index, raw[i].name))
            ok = fail (error, "graph: two nodes are named '%s'", raw[i].name);
          else if (!op)
            ok = fail (error, "node '%s': missing attribute 'op'", raw[i].name);
          else if ((raw[i].op = segcam_op_find (op)) < 0)
            ok = fail (error, "node '%s': unknown op '%s'", raw[i].name, op);
          else
            g_hash_table_insert (index, (gpointer) raw[i].name, GUINT_TO_POINTER (i + 1));
        }
    }
  /* Inputs are resolved after all names are known: files need not list nodes in order. */
  for (guint i = 0; ok && i < n; i++)
    {
      JsonNode *in = json_object_get_member (raw[i].obj, "inputs");
      const segcam_op_def *def = segcam_op_get (raw[i].op);
      JsonArray *ins = in && JSON_NODE_HOLDS_ARRAY (in) ? json_node_get_array (in) : NULL;
      guint k = ins ? json_array_get_length (ins) : 0;
      if ((in && !ins) || (int) k < def->min_inputs || (int) k > def->max_inputs)
        {
          ok = def->min_inputs == def->max_inputs
                 ? fail (error, "node '%s': %s takes %d input%s", raw[i].name, def->name,
                         def->min_inputs, def->min_inputs == 1 ? "" : "s")
                 : fail (error, "node '%s': %s takes %d to %d inputs", raw[i].name, def->name,
                         def->min_inputs, def->max_inputs);
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

/* Attributes and tensors of one node, through its op's parse function; the parameters it has are
 * the elements of the tensors it took. */
static gboolean
parse_node (const raw_node *r, const segcam_safetensors *st, segcam_node *node,
            const segcam_node *nodes, int64_t *n_params, GError **error)
{
  segcam_attrs a = {r->name, r->obj, st, error};
  const segcam_op_def *def = segcam_op_get (node->op);
  node->channels = r->n_inputs ? nodes[node->inputs[0]].channels : 0;
  if (def->parse && !def->parse (&a, node, nodes))
    return FALSE;
  for (int k = 0; k < (int) G_N_ELEMENTS (node->tensors); k++)
    if (node->tensors[k])
      *n_params += (int64_t) segcam_safetensors_find (st, node->tensors[k])->n_elements;
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
      if (!segcam_json_double (json_array_get_element (arr, i), &v))
        return fail (error, "graph: input '%s' must list %d numbers", key, n);
      out[i] = (float) v;
    }
  return TRUE;
}

static gboolean
parse_input (segcam_model *m, JsonObject *in, GError **error)
{
  segcam_attrs a = {"input", in, NULL, error};
  static const int sixteen = 16;
  if (!segcam_attr_ints (&a, "channels", 1, 1, 3, NULL, &m->in_channels)
      || !segcam_attr_ints (&a, "size_multiple", 1, 1, 1024, &sixteen, &m->size_multiple))
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
  if (n < 1 || n > SEGCAM_MAX_CLASSES)
    return fail (error, "graph: 'classes' must list 1 to %d classes", SEGCAM_MAX_CLASSES);
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
  /* As strict as the header it came in: the same reader, the same limits. */
  JsonParser *parser = segcam_json_parse (text, strlen (text), "segcam.graph", NULL, error);
  raw_node *raw = NULL;
  int n_raw = 0, *order = NULL;
  gboolean ok = FALSE;
  if (!parser)
    return FALSE;
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
  /* Checked before the nodes, whose count a graph of the input alone fails first, unclearly. */
  const char *out_name = member_string (g, "output"), *layer_name = member_string (g, "default_layer");
  if (g_strcmp0 (out_name, "input") == 0)
    {
      fail (error, "graph: the output is 'input', the image itself: it must be a node computed "
            "from it");
      goto out;
    }
  if (!read_raw_nodes (json_node_get_array (nodes), &raw, &n_raw, error))
    goto out;

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

/* A size key's "WxH", each side in [1, 65536]; absent (NULL) leaves *w and *h alone. */
static gboolean
parse_size (const char *key, const char *text, int *w_out, int *h_out, GError **error)
{
  if (!text)
    return TRUE;
  char *end;
  guint64 w, h;
  if (!g_ascii_isdigit (text[0]) || (w = g_ascii_strtoull (text, &end, 10), *end != 'x')
      || !g_ascii_isdigit (end[1]) || (h = g_ascii_strtoull (end + 1, &end, 10), *end)
      || w < 1 || h < 1 || w > 1 << 16 || h > 1 << 16)
    return fail (error, "%s must be WIDTHxHEIGHT, each in [1, 65536]", key);
  *w_out = (int) w, *h_out = (int) h;
  return TRUE;
}

/* segcam.fixed_size: version 3 only, since an older reader would ignore the key and run the
 * network at sizes it does not support. segcam.training_size, only advice, is read in any
 * version: a reader that ignores it loses nothing but a warning. */
static gboolean
parse_sizes (segcam_model *m, const segcam_safetensors *st, int version, GError **error)
{
  const char *fixed = segcam_safetensors_metadata (st, "segcam.fixed_size");
  if (fixed && version < 3)
    return fail (error, "segcam.fixed_size needs segcam.format 3, not %d", version);
  return parse_size ("segcam.fixed_size", fixed, &m->fixed_w, &m->fixed_h, error)
         && parse_size ("segcam.training_size", segcam_safetensors_metadata (st, "segcam.training_size"),
                        &m->train_w, &m->train_h, error);
}

/* ---- public ---------------------------------------------------------------------------------- */

segcam_model *
segcam_model_borrow_safetensors (const segcam_safetensors *st, GError **error)
{
  segcam_model *m = g_new0 (segcam_model, 1);
  const char *format = segcam_safetensors_metadata (st, "segcam.format");
  const char *graph = segcam_safetensors_metadata (st, "segcam.graph");
  gboolean ok = FALSE;
  if (!format)
    fail (error, "not a segcam model: no 'segcam.format' in the metadata");
  else if (strcmp (format, "1") != 0 && strcmp (format, "2") != 0 && strcmp (format, "3") != 0)
    fail (error, "segcam.format '%s' is not supported (this version reads 1 to 3)", format);
  else if (!graph)
    fail (error, "not a segcam model: no 'segcam.graph' in the metadata");
  else if (parse_sizes (m, st, format[0] - '0', error))
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

segcam_model *
segcam_model_from_safetensors (const segcam_safetensors *st, GError **error)
{
  segcam_model *m = segcam_model_borrow_safetensors (st, error);
  for (int i = 0; m && i < m->n_nodes; i++)
    {
      const segcam_op_def *def = segcam_op_get (m->nodes[i].op);
      if (def->detach)
        def->detach (&m->nodes[i]);
    }
  return m;
}

segcam_model *
segcam_model_adopt_safetensors (segcam_safetensors *st, GBytes *bytes, GError **error)
{
  segcam_model *m = segcam_model_borrow_safetensors (st, error);
  if (!m)
    return NULL;
  m->source = g_memdup2 (st, sizeof *st);
  memset (st, 0, sizeof *st);
  m->source_bytes = bytes ? g_bytes_ref (bytes) : NULL;
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
      const segcam_op_def *def = segcam_op_get (n->op);
      if (def->clear)
        def->clear (n);
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
  if (m->source)
    segcam_safetensors_clear (m->source);
  g_free (m->source);
  if (m->source_bytes)
    g_bytes_unref (m->source_bytes);
  g_free (m);
}

const char *segcam_model_name (const segcam_model *m) { return m->name; }
const char *segcam_model_description (const segcam_model *m) { return m->description; }
const char *segcam_model_training (const segcam_model *m) { return m->training; }
int segcam_model_format_version (const segcam_model *m) { return m->format_version; }
int segcam_model_input_channels (const segcam_model *m) { return m->in_channels; }
int segcam_model_size_multiple (const segcam_model *m) { return m->size_multiple; }

gboolean
segcam_model_fixed_size (const segcam_model *m, int *width, int *height)
{
  if (width)
    *width = m->fixed_w;
  if (height)
    *height = m->fixed_h;
  return m->fixed_w > 0;
}

gboolean
segcam_model_training_size (const segcam_model *m, int *width, int *height)
{
  if (width)
    *width = m->train_w;
  if (height)
    *height = m->train_h;
  return m->train_w > 0;
}
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

/* Text folded for case-insensitive comparison, as characters: Unicode case folding when text is
 * UTF-8, else its bytes in ASCII lower case (names from a file need not be UTF-8). g_free. */
static gunichar *
folded_chars (const char *text, glong *n)
{
  if (g_utf8_validate (text, -1, NULL))
    {
      char *folded = g_utf8_casefold (text, -1);
      gunichar *chars = g_utf8_to_ucs4_fast (folded, -1, n);
      g_free (folded);
      return chars;
    }
  *n = (glong) strlen (text);
  gunichar *chars = g_new (gunichar, *n + 1);
  for (glong i = 0; i <= *n; i++)
    chars[i] = (guchar) g_ascii_tolower (text[i]);
  return chars;
}

static gboolean
same_ignoring_case (const char *a, const char *b)
{
  glong na, nb;
  gunichar *fa = folded_chars (a, &na), *fb = folded_chars (b, &nb);
  gboolean same = na == nb && memcmp (fa, fb, na * sizeof *fa) == 0;
  g_free (fa);
  g_free (fb);
  return same;
}

int
segcam_model_find_class (const segcam_model *m, const char *s)
{
  if (!s)
    return -1;
  for (int c = 0; c < m->n_classes; c++)
    if (strcmp (m->classes[c].name, s) == 0)
      return c;
  int found = -1;
  for (int c = 0; c < m->n_classes; c++)
    if (same_ignoring_case (m->classes[c].name, s))
      {
        /* "CAT" among "Cat" and "cat" names neither. */
        if (found >= 0)
          return -1;
        found = c;
      }
  if (found >= 0)
    return found;
  guint64 v;
  if (*s && g_ascii_string_to_unsigned (s, 10, 0, m->n_classes - 1, &v, NULL))
    return (int) v;
  return -1;
}

/* The index of the name closest to text in edit distance (Levenshtein, on case-folded
 * characters), when it is at most a third of text's length (at least 1), else -1; the first of
 * equally close names. */
static int
closest_name (const char *text, int n, const char *(*name) (const segcam_model *, int),
              const segcam_model *m)
{
  glong nt;
  gunichar *t = folded_chars (text, &nt);
  glong limit = MAX (1, nt / 3);
  guint *row = g_new (guint, nt + 1);
  int best = -1;
  glong best_distance = limit + 1;
  for (int i = 0; i < n; i++)
    {
      glong nc;
      gunichar *c = folded_chars (name (m, i), &nc);
      /* The distance is at least the difference in length: most names are skipped unread, and
       * a model's long names cannot make this slow. */
      if (ABS (nc - nt) < best_distance)
        {
          for (glong k = 0; k <= nt; k++)
            row[k] = (guint) k;
          for (glong j = 1; j <= nc; j++)
            {
              guint diagonal = row[0];
              row[0] = (guint) j;
              for (glong k = 1; k <= nt; k++)
                {
                  guint above = row[k];
                  row[k] = MIN (MIN (row[k] + 1, row[k - 1] + 1), diagonal + (c[j - 1] != t[k - 1]));
                  diagonal = above;
                }
            }
          if (row[nt] < (guint) best_distance)
            best = i, best_distance = row[nt];
        }
      g_free (c);
    }
  g_free (row);
  g_free (t);
  return best;
}

int
segcam_model_suggest_class (const segcam_model *m, const char *text)
{
  return text ? closest_name (text, m->n_classes, segcam_model_class_name, m) : -1;
}

int
segcam_model_suggest_node (const segcam_model *m, const char *text)
{
  return text ? closest_name (text, m->n_nodes, segcam_model_node_name, m) : -1;
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
