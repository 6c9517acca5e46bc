/* onnx-nodes.c — one ONNX node at a time into segcam nodes, tensors, or values computed at import
 * time (onnx-nodes.h): the graph ops with their ONNX attributes mapped to PyTorch's conventions,
 * and the shape arithmetic that feeds Resize. */
#include "onnx-nodes.h"
#include "fp16.h"

#include <math.h>
#include <string.h>

static gboolean
unsupported (importer *imp, const Onnx__NodeProto *n, const char *why)
{
  if (why)
    return fail (imp, "%s at node '%s': %s", shown (n->op_type), node_label (n), why);
  return fail (imp, "op %s at node '%s' is not supported", shown (n->op_type), node_label (n));
}

static gboolean unsupported_printf (importer *imp, const Onnx__NodeProto *n, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

/* unsupported with a reason that names something (an input, a mode). */
static gboolean
unsupported_printf (importer *imp, const Onnx__NodeProto *n, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  unsupported (imp, n, why);
  g_free (why);
  return FALSE;
}

static value *
value_alloc (importer *imp, value_kind kind, int n_dims, const int64_t *dims, gboolean computed)
{
  size_t n = 1;
  for (int i = 0; i < n_dims; i++)
    {
      if (dims[i] < 0 || (dims[i] && n > (computed ? MAX_COMPUTED : (size_t) INT32_MAX) / dims[i]))
        {
          fail (imp, "a tensor of %d dimensions has a bad or too large shape", n_dims);
          return NULL;
        }
      n *= dims[i];
    }
  if (computed && n > MAX_COMPUTED)
    {
      fail (imp, "a computed tensor would hold %zu values, more than %d", n, MAX_COMPUTED);
      return NULL;
    }
  value *v = g_new0 (value, 1);
  v->kind = kind;
  v->n_dims = n_dims;
  memcpy (v->dims, dims, n_dims * sizeof *dims);
  v->n = n;
  if (kind == V_INT)
    v->ints = g_new0 (sym, MAX (n, 1));
  else if (kind == V_FLOAT)
    v->floats = g_new0 (float, MAX (n, 1));
  for (size_t i = 0; kind == V_INT && i < n; i++)
    v->ints[i].node = -1;
  return v;
}

static void
copy_elem (value *dst, size_t j, const value *src, size_t i)
{
  if (dst->kind == V_INT)
    dst->ints[j] = src->ints[i];
  else
    dst->floats[j] = src->floats[i];
}

static gboolean
is_number (const value *v, size_t i)
{
  return v->kind == V_FLOAT || v->ints[i].node < 0;
}

static double
number (const value *v, size_t i)
{
  return v->kind == V_FLOAT ? v->floats[i] : (double) v->ints[i].k;
}

/* An integer from a number (a float constant may stand where integers are expected): NaN is 0,
 * the rest clamped, so that the conversion is always defined. */
static int64_t
number_int (const value *v, size_t i)
{
  double d = number (v, i);
  return isnan (d) ? 0 : (int64_t) CLAMP (d, -9e18, 9e18);
}

/* ---- tensors in the file ------------------------------------------------------------------ */

/* Element i of a tensor's data as double (floats) or int64 (integers), from raw little-endian
 * bytes or the typed field. The caller has checked the lengths. */
static double
tensor_float (const Onnx__TensorProto *t, size_t i)
{
  const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
  uint16_t h;
  float f;
  double d;
  switch (t->data_type)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
      if (!raw)
        return t->float_data[i];
      memcpy (&f, raw + 4 * i, 4);
      return f;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
      if (!raw)
        return t->double_data[i];
      memcpy (&d, raw + 8 * i, 8);
      return d;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
      return raw ? raw[i] : (uint8_t) t->int32_data[i];
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
      return raw ? (int8_t) raw[i] : (int8_t) t->int32_data[i];
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
      if (raw)
        memcpy (&h, raw + 2 * i, 2);
      else
        h = (uint16_t) t->int32_data[i];
      return t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ? segcam_f16_to_f32 (h)
                                                                    : segcam_bf16_to_f32 (h);
    default:
      return 0;
    }
}

static int64_t
tensor_int (const Onnx__TensorProto *t, size_t i)
{
  const uint8_t *raw = t->has_raw_data ? t->raw_data.data : NULL;
  int64_t v64;
  int32_t v32;
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
    {
      if (!raw)
        return t->int64_data[i];
      memcpy (&v64, raw + 8 * i, 8);
      return v64;
    }
  if (!raw)
    return t->int32_data[i];
  memcpy (&v32, raw + 4 * i, 4);
  return v32;
}

/* A TensorProto as a value: float types widen to F32, INT32/INT64 become numbers. */
static value *
decode_tensor (importer *imp, const Onnx__TensorProto *t, const char *name)
{
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    {
      fail (imp, "tensor '%s' keeps its data in an external file, which segcam does not read "
            "(save the model with its tensors inside)", name);
      return NULL;
    }
  if (t->segment || t->n_dims > MAX_DIMS)
    {
      fail (imp, "tensor '%s' is segmented or has more than %d dimensions", name, MAX_DIMS);
      return NULL;
    }
  size_t elem, typed;
  value_kind kind = V_FLOAT;
  switch (t->data_type)
    {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
      elem = 4, typed = t->n_float_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
      elem = 8, typed = t->n_double_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
      elem = 2, typed = t->n_int32_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
      /* quantized weights and zero points: their values, dequantized by ConvInteger */
      elem = 1, typed = t->n_int32_data;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
      elem = 8, typed = t->n_int64_data, kind = V_INT;
      break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
      elem = 4, typed = t->n_int32_data, kind = V_INT;
      break;
    default:
      fail (imp, "tensor '%s' has ONNX data type %d; segcam reads float, float16, bfloat16, "
            "double, int8, uint8, int32 and int64", name, t->data_type);
      return NULL;
    }
  /* The data must be there before anything is allocated for it: dims alone may claim gigabytes. */
  int64_t dims[MAX_DIMS];
  size_t n = 1;
  for (size_t i = 0; i < t->n_dims; i++)
    {
      dims[i] = t->dims[i];
      if (dims[i] < 0 || (dims[i] && n > SIZE_MAX / elem / (uint64_t) dims[i]))
        {
          fail (imp, "tensor '%s' has a bad shape", name);
          return NULL;
        }
      n *= (size_t) dims[i];
    }
  if (t->has_raw_data ? t->raw_data.len != n * elem : typed != n)
    {
      fail (imp, "tensor '%s' holds %zu bytes of data, which does not match its shape", name,
            t->has_raw_data ? t->raw_data.len : typed * elem);
      return NULL;
    }
  value *v = value_alloc (imp, kind, (int) t->n_dims, dims, kind == V_INT);
  if (!v)
    return NULL;
  for (size_t i = 0; i < v->n; i++)
    if (kind == V_INT)
      v->ints[i].k = tensor_int (t, i);
    else
      v->floats[i] = (float) tensor_float (t, i);
  v->source = g_strdup (name);
  return v;
}

/* The value of an ONNX tensor; initializers are decoded on first use. NULL with an error when
 * nothing produces it. */
static value *
lookup (importer *imp, const Onnx__NodeProto *n, const char *name)
{
  value *v = g_hash_table_lookup (imp->values, name);
  if (v)
    return v;
  const Onnx__TensorProto *t = g_hash_table_lookup (imp->initializers, name);
  if (!t)
    {
      fail (imp, "tensor '%s' (input of node '%s') is not produced by any node", shown (name),
            node_label (n));
      return NULL;
    }
  if ((v = decode_tensor (imp, t, name)))
    g_hash_table_insert (imp->values, g_strdup (name), v);
  return v;
}

/* Input k of node n: NULL and no error when absent (optional inputs have empty names). */
static value *
input (importer *imp, const Onnx__NodeProto *n, size_t k, gboolean *ok)
{
  if (!*ok || k >= n->n_input || !*n->input[k])
    return NULL;
  value *v = lookup (imp, n, n->input[k]);
  if (!v)
    *ok = FALSE;
  return v;
}

static gboolean
define (importer *imp, const Onnx__NodeProto *n, value *v)
{
  if (!n->n_output || !*n->output[0])
    {
      value_free (v);
      return fail (imp, "node '%s' has no output", node_label (n));
    }
  g_hash_table_insert (imp->values, g_strdup (n->output[0]), v);
  return TRUE;
}

/* Input k of any kind; NULL with an error when it is absent. */
static value *
present_input (importer *imp, const Onnx__NodeProto *n, size_t k)
{
  gboolean ok = TRUE;
  value *v = input (imp, n, k, &ok);
  if (ok && !v)
    unsupported (imp, n, "the input is missing");
  return v;
}

/* A constant input as numbers (no symbols); NULL with an error otherwise. */
static value *
input_numbers (importer *imp, const Onnx__NodeProto *n, size_t k, const char *what)
{
  gboolean ok = TRUE;
  value *v = input (imp, n, k, &ok);
  if (!ok)
    return NULL;
  for (size_t i = 0; v && !is_act (v) && i < v->n; i++)
    if (!is_number (v, i))
      v = NULL;
  if (!v || is_act (v))
    {
      unsupported_printf (imp, n, "%s must be a constant", what);
      return NULL;
    }
  return v;
}

/* ---- attributes ------------------------------------------------------------------------- */



static double
attr_float (const Onnx__NodeProto *n, const char *name, double def)
{
  const Onnx__AttributeProto *a = attr (n, name);
  return a && a->has_f ? a->f : def;
}

/* A string attribute, or def; the bytes are copied into buf (NUL-terminated, truncated). */
static const char *
attr_string (const Onnx__NodeProto *n, const char *name, const char *def, char *buf, size_t size)
{
  const Onnx__AttributeProto *a = attr (n, name);
  if (!a || !a->has_s)
    return def;
  size_t len = MIN (a->s.len, size - 1);
  memcpy (buf, a->s.data, len);
  buf[len] = 0;
  return buf;
}

/* An integer list attribute of exactly want values (def when absent), each in [lo, hi]. */
static gboolean
attr_ints (importer *imp, const Onnx__NodeProto *n, const char *name, size_t want, int lo, int hi,
           const int *def, int *out)
{
  const Onnx__AttributeProto *a = attr (n, name);
  if (!a || !a->n_ints)
    {
      if (!def)
        return fail (imp, "%s at node '%s': missing attribute '%s'", shown (n->op_type), node_label (n),
                     name);
      memcpy (out, def, want * sizeof *out);
      return TRUE;
    }
  if (a->n_ints != want)
    return fail (imp, "%s at node '%s': attribute '%s' must have %zu values (a 2-D operation)",
                 shown (n->op_type), node_label (n), name, want);
  for (size_t i = 0; i < want; i++)
    {
      if (a->ints[i] < lo || a->ints[i] > hi)
        return fail (imp, "%s at node '%s': attribute '%s' has %" G_GINT64_FORMAT
                     ", outside [%d, %d]", shown (n->op_type), node_label (n), name, a->ints[i], lo, hi);
      out[i] = (int) a->ints[i];
    }
  return TRUE;
}

/* ---- emitted nodes and tensors -------------------------------------------------------------- */

static JsonArray *
json_ints (int n, const int *v)
{
  JsonArray *a = json_array_new ();
  for (int i = 0; i < n; i++)
    json_array_add_int_element (a, v[i]);
  return a;
}

/* Emits segcam node op for n's first output, reading the given activation nodes. */
static JsonObject *
emit (importer *imp, const Onnx__NodeProto *n, const char *op, int n_in, const int *in,
      int channels, gboolean one_pixel)
{
  out_node o = {NULL, op, n_in ? in[0] : -1, channels, one_pixel, json_object_new ()};
  /* 'input' names the graph input in segcam; another tensor of that name steps aside. */
  o.name = strcmp (n->output[0], "input") == 0 ? g_strdup ("input#onnx") : g_strdup (n->output[0]);
  json_object_set_string_member (o.json, "name", o.name);
  json_object_set_string_member (o.json, "op", op);
  JsonArray *inputs = json_array_new ();
  for (int i = 0; i < n_in; i++)
    json_array_add_string_element (inputs, g_array_index (imp->nodes, out_node, in[i]).name);
  json_object_set_array_member (o.json, "inputs", inputs);
  g_array_append_val (imp->nodes, o);
  value *v = g_new0 (value, 1);
  v->kind = V_ACT;
  v->node = (int) imp->nodes->len - 1;
  define (imp, n, v);
  return o.json;
}


/* A name no tensor of the file has yet: base, else base#2, base#3... */
static char *
unique_tensor_name (importer *imp, const char *base)
{
  char *name = g_strdup (base);
  for (int k = 2; g_hash_table_contains (imp->tensor_names, name); k++)
    {
      g_free (name);
      name = g_strdup_printf ("%s#%d", base, k);
    }
  return name;
}

static const char *
add_tensor (importer *imp, const char *base, const float *data, int n_dims, const int64_t *shape,
            gconstpointer owner)
{
  segcam_tensor t = {unique_tensor_name (imp, base), n_dims, {0}, 1, NULL};
  for (int i = 0; i < n_dims; i++)
    t.shape[i] = shape[i], t.n_elements *= shape[i];
  t.data = g_memdup2 (data, t.n_elements * sizeof (float));
  g_hash_table_insert (imp->tensor_names, t.name, (gpointer) owner);
  g_array_append_val (imp->tensors, t);
  return t.name;
}

/* The tensor of a float constant under its ONNX name; a constant used twice is stored once. */
static const char *
value_tensor (importer *imp, value *v, const char *fallback)
{
  if (!v->stored)
    v->stored = add_tensor (imp, v->source ? v->source : fallback, v->floats, v->n_dims, v->dims, v);
  return v->stored;
}

/* ---- graph ops ---------------------------------------------------------------------------- */

/* Input k as an activation (a segcam node index), or -1 with an error. */
static int
input_act (importer *imp, const Onnx__NodeProto *n, size_t k)
{
  gboolean ok = TRUE;
  value *v = input (imp, n, k, &ok);
  if (!ok)
    return -1;
  if (v && v->kind == V_VIEW)
    {
      unsupported_printf (imp, n, "input %zu is an activation whose channels a Reshape split, "
                          "which only Transpose, InstanceNormalization and a Reshape back to "
                          "N x C x H x W take", k);
      return -1;
    }
  if (!v || v->kind != V_ACT)
    {
      unsupported_printf (imp, n, "input %zu must be computed from the image", k);
      return -1;
    }
  return v->node;
}

static gboolean
weight_input (importer *imp, const Onnx__NodeProto *n, size_t k, int n_dims, value **out)
{
  gboolean ok = TRUE;
  value *v = input (imp, n, k, &ok);
  if (!ok)
    return FALSE;
  *out = v;
  if (!v)
    return TRUE;
  if (v->kind != V_FLOAT || v->n_dims != n_dims)
    return unsupported_printf (imp, n, "input %zu must be a %d-D float constant", k, n_dims);
  return TRUE;
}

/* auto_pad: only what does not depend on the input size. */
static gboolean
conv_pads (importer *imp, const Onnx__NodeProto *n, const int *k, const int *s, const int *d,
           int *pads)
{
  static const int zero[4] = {0, 0, 0, 0};
  char buf[32];
  const char *auto_pad = attr_string (n, "auto_pad", "NOTSET", buf, sizeof buf);
  if (strcmp (auto_pad, "NOTSET") == 0)
    return attr_ints (imp, n, "pads", 4, 0, 4096, zero, pads);
  if (strcmp (auto_pad, "VALID") == 0)
    {
      memset (pads, 0, 4 * sizeof *pads);
      return TRUE;
    }
  if ((strcmp (auto_pad, "SAME_UPPER") == 0 || strcmp (auto_pad, "SAME_LOWER") == 0) && s[0] == 1
      && s[1] == 1)
    {
      gboolean upper = auto_pad[5] == 'U';
      for (int i = 0; i < 2; i++)
        {
          int total = d[i] * (k[i] - 1);
          pads[i] = upper ? total / 2 : total - total / 2;
          pads[i + 2] = total - pads[i];
        }
      return TRUE;
    }
  return unsupported (imp, n, "auto_pad SAME with a stride depends on the input size; export "
                      "with explicit pads");
}

/* A convolution of activation x by the weight w and the bias b (may be NULL). */
static gboolean
emit_conv (importer *imp, const Onnx__NodeProto *n, int x, value *w, value *b, gboolean transposed)
{
  static const int one[2] = {1, 1}, zero[2] = {0, 0};
  int k[2], s[2], d[2], pads[4], opad[2];
  int groups = (int) CLAMP (attr_int (n, "group", 1), 0, G_MAXINT);
  int wk[2] = {(int) MIN (w->dims[2], G_MAXINT), (int) MIN (w->dims[3], G_MAXINT)};
  if (!attr_ints (imp, n, "kernel_shape", 2, 1, 4096, wk, k)
      || !attr_ints (imp, n, "strides", 2, 1, 4096, one, s)
      || !attr_ints (imp, n, "dilations", 2, 1, 4096, one, d) || !conv_pads (imp, n, k, s, d, pads))
    return FALSE;
  if (groups < 1)
    return unsupported (imp, n, "group must be positive");
  int64_t cout = transposed ? w->dims[1] * groups : w->dims[0];
  if (cout < 1 || cout > G_MAXINT)
    return unsupported (imp, n, "the weight has a bad shape");
  /* A 1x1 unpadded convolution of a globally pooled map (squeeze-and-excitation) stays 1x1. */
  gboolean one_pixel = node_at (imp, x)->one_pixel && !transposed && k[0] == 1 && k[1] == 1
                       && !pads[0] && !pads[1] && !pads[2] && !pads[3];
  JsonObject *o = emit (imp, n, transposed ? "conv_transpose2d" : "conv2d", 1, &x, (int) cout,
                        one_pixel);
  json_object_set_string_member (o, "weight", value_tensor (imp, w, "weight"));
  if (b)
    json_object_set_string_member (o, "bias", value_tensor (imp, b, "bias"));
  json_object_set_array_member (o, "kernel", json_ints (2, k));
  json_object_set_array_member (o, "stride", json_ints (2, s));
  json_object_set_array_member (o, "dilation", json_ints (2, d));
  json_object_set_int_member (o, "groups", groups);
  if (!transposed)
    {
      json_object_set_array_member (o, "padding", json_ints (4, pads));
      return TRUE;
    }
  if (attr (n, "output_shape"))
    return unsupported (imp, n, "output_shape fixes the size; export without it");
  if (pads[0] != pads[2] || pads[1] != pads[3])
    return unsupported (imp, n, "asymmetric pads are not supported for transposed convolutions");
  if (!attr_ints (imp, n, "output_padding", 2, 0, 4096, zero, opad))
    return FALSE;
  json_object_set_array_member (o, "padding", json_ints (2, pads));
  json_object_set_array_member (o, "output_padding", json_ints (2, opad));
  return TRUE;
}

static gboolean
op_conv (importer *imp, const Onnx__NodeProto *n, gboolean transposed)
{
  int x = input_act (imp, n, 0);
  value *w, *b;
  if (x < 0 || !weight_input (imp, n, 1, 4, &w) || !weight_input (imp, n, 2, 1, &b))
    return FALSE;
  if (!w)
    return unsupported (imp, n, "the weight is missing");
  return emit_conv (imp, n, x, w, b, transposed);
}

/* DynamicQuantizeLinear of an activation, as dynamically quantized models (onnxruntime's
 * quantize_dynamic) feed every ConvInteger: segcam keeps the activation in float, so the
 * quantized tensor is the activation itself, with scale 1 and zero point 0. The Mul by
 * scale x weight scale after each ConvInteger then dequantizes its weights exactly. */
static gboolean
op_dynamic_quantize (importer *imp, const Onnx__NodeProto *n)
{
  value *x = present_input (imp, n, 0);
  if (!x)
    return FALSE;
  if (x->kind != V_ACT || n->n_output != 3)
    return unsupported (imp, n, "segcam dequantizes DynamicQuantizeLinear of an activation with "
                        "its three outputs");
  value *y = g_new0 (value, 1);
  *y = (value) {.kind = V_ACT, .node = x->node};
  for (int i = 1; i < 3; i++)
    {
      value *c = value_alloc (imp, V_FLOAT, 0, NULL, TRUE);
      c->floats[0] = i == 1 ? 1 : 0;
      g_hash_table_insert (imp->values, g_strdup (n->output[i]), c);
    }
  return define (imp, n, y);
}

/* ConvInteger (x - x_zero_point) * (w - w_zero_point) of a DynamicQuantizeLinear output: a
 * convolution by the weights less their zero point (per tensor or per output channel). */
static gboolean
op_conv_integer (importer *imp, const Onnx__NodeProto *n)
{
  int x = input_act (imp, n, 0);
  value *w, *xz = NULL, *wz = NULL;
  if (x < 0 || !weight_input (imp, n, 1, 4, &w))
    return FALSE;
  if (!w)
    return unsupported (imp, n, "the weight is missing");
  if (n->n_input > 2 && *n->input[2] && !(xz = input_numbers (imp, n, 2, "the input's zero point")))
    return FALSE;
  if (n->n_input > 3 && *n->input[3] && !(wz = input_numbers (imp, n, 3, "the weight's zero point")))
    return FALSE;
  if (xz && (xz->n != 1 || number (xz, 0) != 0))
    return unsupported (imp, n, "the input must come from DynamicQuantizeLinear (segcam keeps "
                        "activations in float)");
  size_t per = w->dims[0] ? w->n / (size_t) w->dims[0] : 0;
  if (wz && wz->n != 1 && wz->n != (size_t) w->dims[0])
    return unsupported (imp, n, "the weight's zero point must be one number or one per output "
                        "channel");
  value *d = value_alloc (imp, V_FLOAT, w->n_dims, w->dims, FALSE);
  if (!d)
    return FALSE;
  for (size_t i = 0; i < w->n; i++)
    d->floats[i] = w->floats[i] - (wz ? (float) number (wz, wz->n == 1 ? 0 : i / per) : 0);
  d->source = g_strdup (w->source);
  g_hash_table_insert (imp->values, g_strdup_printf ("%s#dequantized", n->output[0]), d);
  imp->n_dequantized++;
  return emit_conv (imp, n, x, d, NULL, FALSE);
}

static gboolean
op_batchnorm (importer *imp, const Onnx__NodeProto *n)
{
  static const char *const keys[4] = {"gamma", "beta", "mean", "var"};
  int x = input_act (imp, n, 0);
  if (x < 0)
    return FALSE;
  if (attr_int (n, "training_mode", 0))
    return unsupported (imp, n, "training mode; export the model in eval mode");
  value *p[4];
  for (int i = 0; i < 4; i++)
    {
      /* FALSE has set the error (and may leave p[i] unset); NULL is an absent input. */
      if (!weight_input (imp, n, i + 1, 1, &p[i]))
        return FALSE;
      if (!p[i])
        return unsupported (imp, n, "an input is missing");
    }
  JsonObject *o = emit (imp, n, "batchnorm", 1, &x, node_at (imp, x)->channels,
                        node_at (imp, x)->one_pixel);
  for (int i = 0; i < 4; i++)
    json_object_set_string_member (o, keys[i], value_tensor (imp, p[i], keys[i]));
  json_object_set_double_member (o, "eps", attr_float (n, "epsilon", 1e-5));
  return TRUE;
}

/* An op of one activation input and the same shape out. */
static JsonObject *
emit_unary (importer *imp, const Onnx__NodeProto *n, const char *op)
{
  int x = input_act (imp, n, 0);
  if (x < 0)
    return NULL;
  return emit (imp, n, op, 1, &x, node_at (imp, x)->channels, node_at (imp, x)->one_pixel);
}

static gboolean
op_unary (importer *imp, const Onnx__NodeProto *n, const char *op)
{
  return emit_unary (imp, n, op) != NULL;
}

static gboolean
op_leaky_relu (importer *imp, const Onnx__NodeProto *n)
{
  JsonObject *o = emit_unary (imp, n, "leaky_relu");
  if (o)
    json_object_set_double_member (o, "alpha", attr_float (n, "alpha", 0.01));
  return o != NULL;
}

/* x * w[c] + b[c] (b NULL: no shift), a depthwise 1x1 convolution named after n's output. */
static void
emit_depthwise (importer *imp, const Onnx__NodeProto *n, int x, const float *w, const float *b)
{
  int c = node_at (imp, x)->channels;
  JsonObject *o = emit (imp, n, "conv2d", 1, &x, c, node_at (imp, x)->one_pixel);
  const char *name = node_at (imp, (int) imp->nodes->len - 1)->name;
  char *wname = g_strdup_printf ("%s.weight", name), *bname = g_strdup_printf ("%s.bias", name);
  const int64_t wshape[4] = {c, 1, 1, 1}, bshape[1] = {c};
  json_object_set_string_member (o, "weight", add_tensor (imp, wname, w, 4, wshape, NULL));
  if (b)
    json_object_set_string_member (o, "bias", add_tensor (imp, bname, b, 1, bshape, NULL));
  json_object_set_int_member (o, "groups", c);
  g_free (wname);
  g_free (bname);
}

static gboolean
op_hardsigmoid (importer *imp, const Onnx__NodeProto *n)
{
  double alpha = attr_float (n, "alpha", 0.2), beta = attr_float (n, "beta", 0.5);
  if (fabs (alpha - 1.0 / 6) <= 1e-6 && fabs (beta - 0.5) <= 1e-6)
    return op_unary (imp, n, "hardsigmoid");
  /* Other slopes (PaddlePaddle's 0.2): clip (alpha x + beta, 0, 1), the affine step named
   * apart so that the clip carries the ONNX name. */
  int x = input_act (imp, n, 0);
  if (x < 0)
    return FALSE;
  if (!isfinite (alpha) || !isfinite (beta))
    return unsupported (imp, n, "alpha and beta must be finite");
  int c = node_at (imp, x)->channels;
  float *w = g_new (float, c), *b = g_new (float, c);
  for (int i = 0; i < c; i++)
    w[i] = (float) alpha, b[i] = (float) beta;
  emit_depthwise (imp, n, x, w, b);
  g_free (w);
  g_free (b);
  int affine = (int) imp->nodes->len - 1;
  out_node *o = &g_array_index (imp->nodes, out_node, affine);
  char *name = g_strdup_printf ("%s#affine", o->name);
  g_free (o->name);
  o->name = name;
  json_object_set_string_member (o->json, "name", name);
  JsonObject *clip = emit (imp, n, "clip", 1, &affine, c, o->one_pixel);
  json_object_set_double_member (clip, "min", 0);
  json_object_set_double_member (clip, "max", 1);
  return TRUE;
}

static gboolean
op_clip (importer *imp, const Onnx__NodeProto *n)
{
  double bound[2] = {attr_float (n, "min", -INFINITY), attr_float (n, "max", INFINITY)};
  for (int i = 0; imp->opset >= 11 && i < 2; i++)
    if (i + 1 < (int) n->n_input && *n->input[i + 1])
      {
        value *v = input_numbers (imp, n, i + 1, i ? "max" : "min");
        if (!v)
          return FALSE;
        if (v->n != 1)
          return unsupported (imp, n, "min and max must be single numbers");
        bound[i] = number (v, 0);
      }
  JsonObject *o = emit_unary (imp, n, "clip");
  for (int i = 0; o && i < 2; i++)
    if (isfinite (bound[i]))
      json_object_set_double_member (o, i ? "max" : "min", bound[i]);
  return o != NULL;
}

/* Output activation channels of a per-channel constant: 1 (scalar) or c values. */
static gboolean
per_channel (const value *k, int c)
{
  if (k->n == 1)
    return TRUE;
  if (k->n != (size_t) c)
    return FALSE;
  /* [c], [c,1,1] or [1,c,1,1]: every dimension but one is 1, at the channel position. */
  for (int i = 0; i < k->n_dims; i++)
    if (k->dims[i] != 1 && k->n_dims - i != 3)
      return FALSE;
  return TRUE;
}

/* What an activation x and a constant k make. */
typedef enum { X_TIMES_K, X_OVER_K, X_PLUS_K, X_MINUS_K, K_MINUS_X } affine_kind;

/* x * scale + shift with per-channel constants, as a depthwise 1x1 convolution. */
static gboolean
emit_affine (importer *imp, const Onnx__NodeProto *n, int x, const value *k, affine_kind kind)
{
  int c = node_at (imp, x)->channels;
  if (!per_channel (k, c))
    return unsupported (imp, n, "a constant operand must be a number or one per channel");
  float *w = g_new (float, c), *b = g_new (float, c);
  for (int i = 0; i < c; i++)
    {
      float v = (float) number (k, k->n == 1 ? 0 : i);
      w[i] = kind == X_TIMES_K ? v : kind == X_OVER_K ? 1 / v : kind == K_MINUS_X ? -1 : 1;
      b[i] = kind == X_PLUS_K || kind == K_MINUS_X ? v : kind == X_MINUS_K ? -v : 0;
    }
  emit_depthwise (imp, n, x, w, kind != X_TIMES_K && kind != X_OVER_K ? b : NULL);
  g_free (w);
  g_free (b);
  return TRUE;
}

static gboolean fold_arith (importer *imp, const Onnx__NodeProto *n, value *a, value *b);

/* Add, Sub, Mul, Div: of two activations (add, mul), of an activation and a constant (a depthwise
 * 1x1 convolution), or of two constants (folded). */
static gboolean
op_arith (importer *imp, const Onnx__NodeProto *n)
{
  gboolean ok = TRUE;
  value *a = input (imp, n, 0, &ok), *b = input (imp, n, 1, &ok);
  if (!ok)
    return FALSE;
  if (!a || !b)
    return unsupported (imp, n, "an input is missing");
  char op = n->op_type[0];
  if (a->kind == V_VIEW || b->kind == V_VIEW)
    return unsupported (imp, n, "an operand is an activation with its channels split by a "
                        "Reshape; segcam computes on N x C x H x W activations");
  if (!is_act (a) && !is_act (b))
    return fold_arith (imp, n, a, b);
  if (a->kind == V_ACT && b->kind == V_ACT)
    {
      if (op != 'A' && op != 'M')
        return unsupported (imp, n, "segcam subtracts or divides activations only by constants");
      /* mul broadcasts its second factor: put a one-pixel gate second. */
      if (node_at (imp, a->node)->one_pixel && !node_at (imp, b->node)->one_pixel)
        {
          value *t = a;
          a = b, b = t;
        }
      if (op == 'A' && node_at (imp, a->node)->one_pixel != node_at (imp, b->node)->one_pixel)
        return unsupported (imp, n, "segcam adds activations of the same size only");
      /* x * hardsigmoid (x) is how opsets before 14 export PyTorch's hardswish: computed as
       * one op, the unused hardsigmoid node is pruned by the loader. */
      for (int k = 0; op == 'M' && k < 2; k++)
        {
          const out_node *gate = node_at (imp, (k ? a : b)->node);
          int x = (k ? b : a)->node;
          if (strcmp (gate->op, "hardsigmoid") == 0 && gate->input0 == x)
            return emit (imp, n, "hardswish", 1, &x, node_at (imp, x)->channels,
                         node_at (imp, x)->one_pixel) != NULL;
        }
      int in[2] = {a->node, b->node};
      return emit (imp, n, op == 'A' ? "add" : "mul", 2, in, node_at (imp, a->node)->channels,
                   node_at (imp, a->node)->one_pixel && node_at (imp, b->node)->one_pixel) != NULL;
    }
  gboolean act_first = a->kind == V_ACT;
  value *x = act_first ? a : b, *k = act_first ? b : a;
  for (size_t i = 0; i < k->n; i++)
    if (!is_number (k, i))
      return unsupported (imp, n, "the constant operand depends on the input size");
  if (op == 'D' && !act_first)
    return unsupported (imp, n, "segcam divides activations by constants, not constants by them");
  affine_kind kind = op == 'M' ? X_TIMES_K : op == 'D' ? X_OVER_K : op == 'A' ? X_PLUS_K
                     : act_first ? X_MINUS_K : K_MINUS_X;
  return emit_affine (imp, n, x->node, k, kind);
}

static gboolean
op_concat (importer *imp, const Onnx__NodeProto *n)
{
  gboolean ok = TRUE;
  int64_t axis = attr_int (n, "axis", 1);
  if (axis != 1 && axis != -3)
    return unsupported (imp, n, "segcam concatenates activations along channels only");
  int *in = g_new (int, MAX (n->n_input, 1));
  int64_t channels = 0;
  gboolean one_pixel = TRUE;
  for (size_t i = 0; ok && i < n->n_input; i++)
    {
      in[i] = input_act (imp, n, i);
      ok = in[i] >= 0;
      if (ok)
        channels += node_at (imp, in[i])->channels, one_pixel &= node_at (imp, in[i])->one_pixel;
    }
  if (ok && channels > G_MAXINT)
    ok = unsupported (imp, n, "too many channels");
  if (ok)
    emit (imp, n, "concat", (int) n->n_input, in, (int) channels, one_pixel);
  g_free (in);
  return ok;
}

/* auto_pad SAME_* pads a window by max ((ceil (in / s) - 1) s + k - in, 0) in all, the odd one
 * at the end for SAME_UPPER. With a 1-pixel window that is nothing; with stride 1 and an odd
 * window, (k - 1) / 2 on each side; with stride 2 and an even window, SAME_UPPER is (k - 2) / 2
 * on each side plus one at the end for an odd input, which is PyTorch's ceil mode: its
 * overhanging window reads only the input. Sets pads (symmetric) and *ceil_mode and returns TRUE
 * for these windows, whose translation any format version reads; others pad by the image's size
 * (pooling's auto_pad). */
static gboolean
same_fixed_pads (const int *k, const int *s, gboolean upper, int *pads, gboolean *ceil_mode)
{
  *ceil_mode = FALSE;
  for (int i = 0; i < 2; i++)
    {
      if (k[i] == 1)
        pads[i] = 0;
      else if (s[i] == 1 && k[i] % 2 == 1)
        pads[i] = (k[i] - 1) / 2;
      else if (s[i] == 2 && k[i] % 2 == 0 && upper)
        pads[i] = (k[i] - 2) / 2, *ceil_mode = TRUE;
      else
        return FALSE;
      pads[i + 2] = pads[i];
    }
  return TRUE;
}

/* Pooling windows: 2-D, symmetric padding or auto_pad SAME, no dilation. */
static gboolean
op_pool (importer *imp, const Onnx__NodeProto *n, gboolean average)
{
  static const int one[2] = {1, 1};
  int k[2], s[2], d[2], pads[4];
  char buf[32];
  const char *auto_pad = attr_string (n, "auto_pad", "NOTSET", buf, sizeof buf);
  gboolean same = strcmp (auto_pad, "SAME_UPPER") == 0 || strcmp (auto_pad, "SAME_LOWER") == 0;
  gboolean ceil_mode = attr_int (n, "ceil_mode", 0) != 0;
  gboolean include_pad = average && attr_int (n, "count_include_pad", 0) != 0;
  if (!attr_ints (imp, n, "kernel_shape", 2, 1, 4096, NULL, k)
      || !attr_ints (imp, n, "strides", 2, 1, 4096, one, s)
      || !attr_ints (imp, n, "dilations", 2, 1, 4096, one, d))
    return FALSE;
  if (d[0] != 1 || d[1] != 1)
    return unsupported (imp, n, "dilated pooling is not supported");
  /* ceil mode's overhanging window counts no padding in PyTorch; ONNX counts SAME's extra pixel. */
  gboolean runtime_same = same && (!same_fixed_pads (k, s, auto_pad[5] == 'U', pads, &ceil_mode)
                                   || (include_pad && ceil_mode));
  if (!same && !conv_pads (imp, n, k, one, d, pads))
    return FALSE;
  if (!runtime_same && (pads[0] != pads[2] || pads[1] != pads[3]))
    return unsupported (imp, n, "asymmetric pads are not supported for pooling");
  JsonObject *o = emit_unary (imp, n, average ? "avgpool2d" : "maxpool2d");
  if (!o)
    return FALSE;
  json_object_set_array_member (o, "kernel", json_ints (2, k));
  json_object_set_array_member (o, "stride", json_ints (2, s));
  if (runtime_same)
    {
      json_object_set_string_member (o, "auto_pad",
                                     auto_pad[5] == 'U' ? "same_upper" : "same_lower");
      imp->attr_version = MAX (imp->attr_version, 3);
    }
  else
    {
      json_object_set_array_member (o, "padding", json_ints (2, pads));
      json_object_set_boolean_member (o, "ceil_mode", ceil_mode);
    }
  if (average)
    json_object_set_boolean_member (o, "count_include_pad", include_pad);
  return TRUE;
}

static gboolean
op_global_avgpool (importer *imp, const Onnx__NodeProto *n)
{
  int x = input_act (imp, n, 0);
  return x >= 0 && emit (imp, n, "global_avgpool", 1, &x, node_at (imp, x)->channels, TRUE);
}

/* ReduceMean over height and width, keeping them: global average pooling. */
static gboolean
op_reduce_mean (importer *imp, const Onnx__NodeProto *n)
{
  int64_t axes[2] = {0, 0};
  size_t n_axes = 0;
  const Onnx__AttributeProto *a = attr (n, "axes");
  if (a)
    for (size_t i = 0; i < a->n_ints && n_axes < 2; i++)
      axes[n_axes++] = a->ints[i];
  else if (n->n_input > 1)
    {
      value *v = input_numbers (imp, n, 1, "axes");
      if (!v)
        return FALSE;
      for (size_t i = 0; i < v->n && n_axes < 2; i++)
        axes[n_axes++] = number_int (v, i);
    }
  for (int i = 0; i < 2; i++)
    axes[i] = axes[i] < 0 ? axes[i] + 4 : axes[i];
  if (n_axes != 2 || (a && a->n_ints != 2) || MIN (axes[0], axes[1]) != 2 || MAX (axes[0], axes[1]) != 3
      || !attr_int (n, "keepdims", 1))
    return unsupported (imp, n, "segcam averages over height and width only, keeping them");
  return op_global_avgpool (imp, n);
}

static gboolean
op_pad (importer *imp, const Onnx__NodeProto *n)
{
  char buf[32];
  const char *mode = attr_string (n, "mode", "constant", buf, sizeof buf);
  const char *segcam_mode = strcmp (mode, "constant") == 0  ? "constant"
                            : strcmp (mode, "reflect") == 0 ? "reflect"
                            : strcmp (mode, "edge") == 0    ? "replicate" : NULL;
  if (!segcam_mode)
    return unsupported (imp, n, "mode must be constant, reflect or edge");
  int64_t p[8];
  double fill = attr_float (n, "value", 0);
  if (imp->opset < 11)
    {
      const Onnx__AttributeProto *a = attr (n, "pads");
      if (!a || a->n_ints != 8)
        return unsupported (imp, n, "pads must pad the 4 dimensions of an image");
      memcpy (p, a->ints, sizeof p);
    }
  else
    {
      value *v = input_numbers (imp, n, 1, "pads");
      if (!v)
        return FALSE;
      if (v->n != 8 || (n->n_input > 3 && *n->input[3]))
        return unsupported (imp, n, "pads must pad the 4 dimensions of an image");
      for (int i = 0; i < 8; i++)
        p[i] = number_int (v, i);
      if (n->n_input > 2 && *n->input[2])
        {
          value *c = input_numbers (imp, n, 2, "the constant value");
          if (!c || c->n != 1)
            return c ? unsupported (imp, n, "the constant value must be one number") : FALSE;
          fill = number (c, 0);
        }
    }
  if (p[0] || p[1] || p[4] || p[5])
    return unsupported (imp, n, "segcam pads height and width only");
  for (int i = 0; i < 8; i++)
    if (p[i] < -4096 || p[i] > 4096)
      return unsupported (imp, n, "pads are out of range");
  JsonObject *o = emit_unary (imp, n, "pad");
  if (!o)
    return FALSE;
  json_object_set_array_member (o, "pads", json_ints (4, (int[]) {(int) p[2], (int) p[3],
                                                                  (int) p[6], (int) p[7]}));
  json_object_set_string_member (o, "mode", segcam_mode);
  if (!isfinite (fill))
    return unsupported (imp, n, "the constant value must be finite");
  json_object_set_double_member (o, "value", fill);
  return TRUE;
}

/* Which of segcam's index rules an ONNX Resize's is. PyTorch's nearest, floor (out / scale), is
 * asymmetric with floor; for a whole upscale factor k it is also what half_pixel with either
 * rounding gives (round ((x + 0.5) / k - 0.5) = floor (x / k): no ties), tf_half_pixel_for_nn with
 * floor, and, for k = 2 only, asymmetric with round_prefer_floor (x / 2 ties at odd x, rounded
 * down). Linear with asymmetric is TensorFlow 1's bilinear, segcam's bilinear_asymmetric. */
typedef enum {
  RULE_NONE,
  RULE_NEAREST,           /* PyTorch's nearest at any scale */
  RULE_NEAREST_WHOLE,     /* PyTorch's nearest for whole constant scales only */
  RULE_NEAREST_TWO,       /* PyTorch's nearest for constant scales 1 and 2 only */
  RULE_BILINEAR,
  RULE_ALIGN_CORNERS,
  RULE_ASYMMETRIC,
} resize_rule;

static resize_rule
resize_rule_of (const char *mode, const char *ctm, const char *nearest, gboolean legacy)
{
  gboolean round = g_str_has_prefix (nearest, "round_prefer_");
  if (strcmp (mode, "linear") == 0)
    return strcmp (ctm, "half_pixel") == 0 || strcmp (ctm, "pytorch_half_pixel") == 0 ? RULE_BILINEAR
           : strcmp (ctm, "align_corners") == 0 ? RULE_ALIGN_CORNERS
           : strcmp (ctm, "asymmetric") == 0 ? RULE_ASYMMETRIC : RULE_NONE;
  if (strcmp (mode, "nearest") != 0)
    return RULE_NONE;
  if (strcmp (ctm, "asymmetric") == 0)
    return legacy || strcmp (nearest, "floor") == 0 ? RULE_NEAREST
           : strcmp (nearest, "round_prefer_floor") == 0 ? RULE_NEAREST_TWO : RULE_NONE;
  if ((strcmp (ctm, "half_pixel") == 0 || strcmp (ctm, "pytorch_half_pixel") == 0) && round)
    return RULE_NEAREST_WHOLE;
  return strcmp (ctm, "tf_half_pixel_for_nn") == 0 && strcmp (nearest, "floor") == 0
           ? RULE_NEAREST_WHOLE : RULE_NONE;
}

/* Whether a constant scale fits a rule that holds for some scales only. */
static gboolean
whole_scale (float k, resize_rule rule)
{
  return k >= 1 && k <= 64 && k == floorf (k) && (rule != RULE_NEAREST_TWO || k <= 2);
}

/* The shortest decimal that reads back as f: the factor the exporter was given (1.05, not
 * 1.0499999523), so that floor (in * scale) in double is PyTorch's size, and ONNX Runtime's, which
 * rounds the float product (20 · 1.05 is 21 for both, 20 · 1.0499999523 is 20). */
static double
shortest_decimal (float f)
{
  for (int digits = 6; digits < 9; digits++)
    {
      char buf[32];
      g_snprintf (buf, sizeof buf, "%.*g", digits, f);
      double d = g_ascii_strtod (buf, NULL);
      if ((float) d == f)
        return d;
    }
  return f;
}

/* Resize (opset 10+) and Upsample: to the size of another tensor (sizes computed from its Shape),
 * or by constant scales. */
static gboolean
op_resize (importer *imp, const Onnx__NodeProto *n)
{
  char b1[32], b2[32], b3[32];
  const char *mode = attr_string (n, "mode", "nearest", b1, sizeof b1);
  gboolean upsample = strcmp (n->op_type, "Upsample") == 0;
  const char *ctm = attr_string (n, "coordinate_transformation_mode",
                                 upsample || imp->opset < 11 ? "asymmetric" : "half_pixel", b2, sizeof b2);
  const char *nearest = attr_string (n, "nearest_mode", "round_prefer_floor", b3, sizeof b3);
  resize_rule rule = resize_rule_of (mode, ctm, nearest, upsample || imp->opset < 11);
  const char *segcam_mode = rule == RULE_BILINEAR || rule == RULE_ALIGN_CORNERS ? "bilinear"
                           : rule == RULE_ASYMMETRIC ? "bilinear_asymmetric" : "nearest";
  gboolean align_corners = rule == RULE_ALIGN_CORNERS;
  if (rule == RULE_ASYMMETRIC)
    imp->attr_version = MAX (imp->attr_version, 3);
  gboolean is_nearest = strcmp (mode, "nearest") == 0;
  if (rule == RULE_NONE)
    return unsupported_printf (imp, n, "mode %s with coordinate_transformation_mode %s%s%s is not "
                               "supported; export with PyTorch's interpolate: nearest (asymmetric, "
                               "floor) or bilinear (half_pixel or align_corners)", mode, ctm,
                               is_nearest ? " and nearest_mode " : "", is_nearest ? nearest : "");
  int x = input_act (imp, n, 0);
  if (x < 0)
    return FALSE;
  /* Where the scales and sizes are: Upsample-7 attribute, Upsample-9 / Resize-10 input 1,
   * Resize-11+ inputs 2 and 3. */
  gboolean ok = TRUE;
  value *scales = NULL, *sizes = NULL;
  if (upsample && imp->opset < 9)
    {
      const Onnx__AttributeProto *a = attr (n, "scales");
      if (!a || a->n_floats != 4)
        return unsupported (imp, n, "scales must scale the 4 dimensions of an image");
      scales = value_alloc (imp, V_FLOAT, 1, (int64_t[]) {4}, TRUE);
      for (int i = 0; i < 4; i++)
        scales->floats[i] = a->floats[i];
      g_hash_table_insert (imp->values, g_strdup_printf ("%s#scales", n->output[0]), scales);
    }
  else if (upsample || imp->opset < 11)
    scales = input (imp, n, 1, &ok);
  else
    scales = input (imp, n, 2, &ok), sizes = input (imp, n, 3, &ok);
  if (!ok)
    return FALSE;
  if ((rule == RULE_NEAREST_WHOLE || rule == RULE_NEAREST_TWO)
      && !(!(sizes && sizes->n) && scales && scales->kind == V_FLOAT && scales->n == 4
           && whole_scale (scales->floats[2], rule) && whole_scale (scales->floats[3], rule)))
    return unsupported_printf (imp, n, "nearest with coordinate_transformation_mode %s and "
                               "nearest_mode %s is PyTorch's nearest only for %s scales given as "
                               "constants; export with PyTorch's interpolate (nearest: asymmetric, "
                               "floor)", ctm, nearest, rule == RULE_NEAREST_TWO ? "1 or 2" : "whole");
  if (sizes && sizes->n)
    {
      if (sizes->kind != V_INT || sizes->n != 4)
        return unsupported (imp, n, "sizes must give the 4 dimensions of an image");
      const sym *h = &sizes->ints[2], *w = &sizes->ints[3];
      JsonObject *o;
      if (h->node < 0 && w->node < 0)
        {
          /* A static export's fixed size: onnx-import.c re-expresses it in terms of the graph
           * once the export-time shapes are known. */
          if (h->k < 1 || w->k < 1 || h->k > 65536 || w->k > 65536)
            return unsupported (imp, n, "the output size is out of range");
          o = emit (imp, n, "upsample", 1, &x, node_at (imp, x)->channels, FALSE);
          json_object_set_array_member (o, "size", json_ints (2, (int[]) {(int) h->k, (int) w->k}));
          int at = (int) imp->nodes->len - 1;
          g_array_append_val (imp->fixed, at);
        }
      else if (h->node < 0 || h->node != w->node || h->dim != 2 || w->dim != 3)
        return unsupported (imp, n, "the output size mixes a fixed size with a tensor's; export "
                            "with dynamic height and width (torch.onnx.export's dynamic_axes)");
      else
        o = emit (imp, n, "upsample", 2, (int[]) {x, h->node}, node_at (imp, x)->channels, FALSE);
      json_object_set_string_member (o, "mode", segcam_mode);
      if (align_corners)
        json_object_set_boolean_member (o, "align_corners", TRUE);
      return TRUE;
    }
  if (!scales || scales->kind != V_FLOAT || scales->n != 4 || scales->floats[0] != 1
      || scales->floats[1] != 1)
    return unsupported (imp, n, "needs constant scales [1, 1, h, w] or sizes from a tensor's shape");
  /* Named here: left to the graph, a NaN would surface as JSON that is not valid. */
  if (!(isfinite (scales->floats[2]) && scales->floats[2] > 0 && isfinite (scales->floats[3])
        && scales->floats[3] > 0))
    return unsupported (imp, n, "the scales must be finite and positive");
  JsonObject *o = emit_unary (imp, n, "upsample");
  if (!o)
    return FALSE;
  JsonArray *s = json_array_new ();
  json_array_add_double_element (s, shortest_decimal (scales->floats[2]));
  json_array_add_double_element (s, shortest_decimal (scales->floats[3]));
  json_object_set_array_member (o, "scale", s);
  json_object_set_string_member (o, "mode", segcam_mode);
  if (align_corners)
    json_object_set_boolean_member (o, "align_corners", TRUE);
  return TRUE;
}

/* Identity, Dropout (inference) and Cast to float of an activation: the same node. */
static gboolean
op_alias (importer *imp, const Onnx__NodeProto *n)
{
  value *x = present_input (imp, n, 0);
  if (!x)
    return FALSE;
  value *v = g_new0 (value, 1);
  *v = *x;
  v->source = g_strdup (x->source);
  v->ints = x->ints ? g_memdup2 (x->ints, x->n * sizeof *x->ints) : NULL;
  v->floats = x->floats ? g_memdup2 (x->floats, x->n * sizeof *x->floats) : NULL;
  if (strcmp (n->op_type, "Cast") == 0)
    {
      int64_t to = attr_int (n, "to", 0);
      gboolean to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
                          || to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16
                          || to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
      gboolean to_int = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64
                        || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
      if (is_act (v) ? !to_float : !to_float && !to_int)
        {
          value_free (v);
          return unsupported (imp, n, "segcam casts to float and integer types only");
        }
      if (v->kind == V_INT && to_float)
        {
          v->floats = g_new (float, MAX (v->n, 1));
          for (size_t i = 0; i < v->n; i++)
            if (!is_number (x, i))
              {
                value_free (v);
                return unsupported (imp, n, "a size cast to float is not supported");
              }
            else
              v->floats[i] = (float) number (x, i);
          g_clear_pointer (&v->ints, g_free);
          v->kind = V_FLOAT;
        }
      else if (v->kind == V_FLOAT && to_int)
        {
          v->ints = g_new (sym, MAX (v->n, 1));
          for (size_t i = 0; i < v->n; i++)
            v->ints[i] = (sym) {-1, 0, number_int (x, i)};
          g_clear_pointer (&v->floats, g_free);
          v->kind = V_INT;
        }
    }
  return define (imp, n, v);
}

/* ---- shape arithmetic: values computed at import time -------------------------------------- */

static gboolean
op_constant (importer *imp, const Onnx__NodeProto *n)
{
  const Onnx__AttributeProto *a;
  value *v = NULL;
  if ((a = attr (n, "value")) && a->t)
    v = decode_tensor (imp, a->t, n->output[0]);
  else if ((a = attr (n, "value_float")) && a->has_f)
    {
      if ((v = value_alloc (imp, V_FLOAT, 0, NULL, TRUE)))
        v->floats[0] = a->f;
    }
  else if ((a = attr (n, "value_floats")))
    {
      if ((v = value_alloc (imp, V_FLOAT, 1, (int64_t[]) {(int64_t) a->n_floats}, TRUE)))
        memcpy (v->floats, a->floats, a->n_floats * sizeof (float));
    }
  else if ((a = attr (n, "value_int")) && a->has_i)
    {
      if ((v = value_alloc (imp, V_INT, 0, NULL, TRUE)))
        v->ints[0].k = a->i;
    }
  else if ((a = attr (n, "value_ints")))
    {
      if ((v = value_alloc (imp, V_INT, 1, (int64_t[]) {(int64_t) a->n_ints}, TRUE)))
        for (size_t i = 0; i < a->n_ints; i++)
          v->ints[i].k = a->ints[i];
    }
  else
    return unsupported (imp, n, "only tensor, float and integer constants are supported");
  if (!v)
    return FALSE;
  g_free (v->source);
  v->source = g_strdup (n->output[0]);
  return define (imp, n, v);
}

static gboolean
op_constant_of_shape (importer *imp, const Onnx__NodeProto *n)
{
  value *shape = input_numbers (imp, n, 0, "the shape");
  if (!shape)
    return FALSE;
  if (shape->n > MAX_DIMS)
    return unsupported (imp, n, "too many dimensions");
  int64_t dims[MAX_DIMS];
  for (size_t i = 0; i < shape->n; i++)
    dims[i] = number_int (shape, i);
  const Onnx__AttributeProto *a = attr (n, "value");
  value *fill = a && a->t ? decode_tensor (imp, a->t, n->output[0]) : NULL;
  if (a && !fill)
    return FALSE;
  value *v = value_alloc (imp, fill ? fill->kind : V_FLOAT, (int) shape->n, dims, TRUE);
  for (size_t i = 0; v && fill && fill->n && i < v->n; i++)
    copy_elem (v, i, fill, 0);
  if (fill)
    value_free (fill);
  return v && define (imp, n, v);
}

static gboolean
op_shape (importer *imp, const Onnx__NodeProto *n)
{
  value *x = present_input (imp, n, 0);
  if (!x)
    return FALSE;
  if (x->kind == V_VIEW)
    return unsupported (imp, n, "the shape of an activation whose channels a Reshape split is "
                        "not supported");
  int rank = x->kind == V_ACT ? 4 : x->n_dims;
  int64_t start = attr_int (n, "start", 0), end = attr_int (n, "end", rank);
  start = CLAMP (start < 0 ? start + rank : start, 0, rank);
  end = CLAMP (end < 0 ? end + rank : end, start, rank);
  value *v = value_alloc (imp, V_INT, 1, (int64_t[]) {end - start}, TRUE);
  for (int64_t i = start; i < end; i++)
    {
      sym *e = &v->ints[i - start];
      if (x->kind != V_ACT)
        *e = (sym) {-1, 0, x->dims[i]};
      else if (i == 1) /* channels do not depend on the image */
        *e = (sym) {-1, 0, node_at (imp, x->node)->channels};
      else if (i >= 2 && node_at (imp, x->node)->one_pixel)
        *e = (sym) {-1, 0, 1};
      else
        *e = (sym) {x->node, (int) i, 0};
    }
  return define (imp, n, v);
}

/* Multi-index helpers for the small tensors of shape arithmetic. */
static void
strides_of (const value *v, int64_t *strides)
{
  int64_t s = 1;
  for (int i = v->n_dims - 1; i >= 0; i--)
    strides[i] = s, s *= v->dims[i];
}

/* Defines n's output as a copy of a strided view of x (Slice, Transpose): element (i_0 ..
 * i_rank-1) of the dims-shaped result is element sum_k (start[k] + i_k step[k]) stride[k] of x.
 * Steps are multiplied by an index first, not folded into the strides: along an axis of one
 * element, a Slice step may be any int64. */
static gboolean
define_view (importer *imp, const Onnx__NodeProto *n, const value *x, int rank,
             const int64_t *dims, const int64_t *start, const int64_t *step, const int64_t *stride)
{
  value *v = value_alloc (imp, x->kind, rank, dims, TRUE);
  if (!v)
    return FALSE;
  for (size_t f = 0; f < v->n; f++)
    {
      size_t rest = f, from = 0;
      for (int i = rank - 1; i >= 0; i--)
        {
          int64_t idx = (int64_t) (rest % (size_t) dims[i]);
          rest /= (size_t) dims[i];
          from += (size_t) ((start[i] + idx * step[i]) * stride[i]);
        }
      copy_elem (v, f, x, from);
    }
  return define (imp, n, v);
}

static value *
computed_input (importer *imp, const Onnx__NodeProto *n, size_t k)
{
  gboolean ok = TRUE;
  value *v = input (imp, n, k, &ok);
  if (!ok)
    return NULL;
  if (!v || is_act (v))
    {
      unsupported (imp, n, v ? "segcam cannot reshape activations" : "an input is missing");
      return NULL;
    }
  return v;
}

/* Axes from an attribute (older opsets) or input k, as given (at most MAX_DIMS). */
static gboolean
read_axes (importer *imp, const Onnx__NodeProto *n, size_t k, int64_t *axes, size_t *n_axes)
{
  const Onnx__AttributeProto *a = attr (n, "axes");
  value *v = NULL;
  *n_axes = 0;
  if (!a && k < n->n_input && *n->input[k] && !(v = input_numbers (imp, n, k, "axes")))
    return FALSE;
  size_t count = a ? a->n_ints : v ? v->n : 0;
  if (count > MAX_DIMS)
    return unsupported (imp, n, "too many axes");
  for (size_t i = 0; i < count; i++)
    axes[(*n_axes)++] = a ? a->ints[i] : number_int (v, i);
  return TRUE;
}

/* Negative axes count from the end; every axis must lie in [0, rank). */
static gboolean
normalize_axes (importer *imp, const Onnx__NodeProto *n, int64_t *axes, size_t n_axes, int rank)
{
  for (size_t i = 0; i < n_axes; i++)
    {
      axes[i] = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (axes[i] < 0 || axes[i] >= rank)
        return unsupported (imp, n, "an axis is out of range");
    }
  return TRUE;
}

static gboolean
op_gather (importer *imp, const Onnx__NodeProto *n)
{
  value *data = computed_input (imp, n, 0), *idx = data ? input_numbers (imp, n, 1, "indices") : NULL;
  if (!idx)
    return FALSE;
  int64_t axis = attr_int (n, "axis", 0);
  axis = axis < 0 ? axis + data->n_dims : axis;
  if (axis < 0 || axis >= data->n_dims || data->n_dims + idx->n_dims - 1 > MAX_DIMS)
    return unsupported (imp, n, "the axis is out of range");
  int64_t dims[MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < axis; i++)
    dims[nd++] = data->dims[i];
  for (int i = 0; i < idx->n_dims; i++)
    dims[nd++] = idx->dims[i];
  for (int i = (int) axis + 1; i < data->n_dims; i++)
    dims[nd++] = data->dims[i];
  value *v = value_alloc (imp, data->kind, nd, dims, TRUE);
  if (!v)
    return FALSE;
  size_t outer = 1, inner = 1, len = (size_t) data->dims[axis];
  for (int i = 0; i < axis; i++)
    outer *= data->dims[i];
  for (int i = (int) axis + 1; i < data->n_dims; i++)
    inner *= data->dims[i];
  for (size_t o = 0; o < outer; o++)
    for (size_t j = 0; j < idx->n; j++)
      {
        int64_t at = number_int (idx, j);
        at = at < 0 ? at + (int64_t) len : at;
        if (at < 0 || at >= (int64_t) len)
          {
            value_free (v);
            return unsupported (imp, n, "an index is out of range");
          }
        for (size_t i = 0; i < inner; i++)
          copy_elem (v, (o * idx->n + j) * inner + i, data, (o * len + at) * inner + i);
      }
  return define (imp, n, v);
}

/* Unsqueeze, Squeeze and Reshape only change dims: the elements stay in order. */
/* ---- activations whose channels a Reshape splits ------------------------------------------ */

static gboolean
define_channel_view (importer *imp, const Onnx__NodeProto *n, int node, int a, gboolean merged,
                     gboolean swapped)
{
  value *v = g_new0 (value, 1);
  *v = (value) {.kind = V_VIEW, .node = node, .view_a = a, .view_merged = merged,
                .view_swapped = swapped};
  return define (imp, n, v);
}

/* A view whose splits a Transpose swapped, back to N x C x H x W: its channels permuted, as a 1x1
 * convolution by the permutation matrix (exact: every output is one input times 1). */
static gboolean
emit_channel_permutation (importer *imp, const Onnx__NodeProto *n, const value *x)
{
  int c = node_at (imp, x->node)->channels, a = x->view_a, b = c / a;
  if (c > 2048)
    return unsupported (imp, n, "segcam shuffles at most 2048 channels");
  float *w = g_new0 (float, (size_t) c * c);
  for (int i = 0; i < a; i++)
    for (int j = 0; j < b; j++)
      w[(size_t) (j * a + i) * c + i * b + j] = 1;
  JsonObject *o = emit (imp, n, "conv2d", 1, &x->node, c, node_at (imp, x->node)->one_pixel);
  char *wname = g_strdup_printf ("%s.weight", node_at (imp, (int) imp->nodes->len - 1)->name);
  json_object_set_string_member (o, "weight", add_tensor (imp, wname, w, 4,
                                                          (int64_t[]) {c, c, 1, 1}, NULL));
  g_free (wname);
  g_free (w);
  return TRUE;
}

/* Reshape of an activation, which may change its channels only: split them in two ([N, a, b, H,
 * W], a channel shuffle), group them ([N, a, -1], GroupNorm's export), or, from such a view, back
 * to N x C x H x W. Sizes in the shape are not checked: whether symbols of the input's shape or a
 * static export's numbers, they leave height and width as they are. */
static gboolean
reshape_activation (importer *imp, const Onnx__NodeProto *n, const value *x)
{
  static const char *why = "segcam reshapes activations only to split their channels in two "
                           "(N x a x b x H x W), to group them (N x a x -1), or back to N x C x H x W";
  gboolean ok = TRUE;
  value *shape = input (imp, n, 1, &ok);
  if (!ok)
    return FALSE;
  if (!shape || shape->kind != V_INT || shape->n < 3 || shape->n > 5)
    return unsupported (imp, n, why);
  int c = node_at (imp, x->node)->channels;
  int64_t d1 = is_number (shape, 1) ? number_int (shape, 1) : -2;
  int64_t d2 = shape->n == 5 && is_number (shape, 2) ? number_int (shape, 2) : -2;
  if (shape->n == 4)
    {
      if (d1 != c && !(d1 == 0 && x->kind == V_ACT && !attr_int (n, "allowzero", 0)))
        return unsupported (imp, n, why);
      if (x->kind == V_VIEW && x->view_swapped)
        return emit_channel_permutation (imp, n, x);
      value *v = g_new0 (value, 1);
      *v = (value) {.kind = V_ACT, .node = x->node};
      return define (imp, n, v);
    }
  if (x->kind == V_VIEW)
    return unsupported (imp, n, why);
  if (shape->n == 3 && d1 >= 1 && c % d1 == 0)
    return define_channel_view (imp, n, x->node, (int) d1, TRUE, FALSE);
  if (shape->n == 5 && d1 >= 1 && d2 >= 1 && d1 * d2 == c)
    return define_channel_view (imp, n, x->node, (int) d1, FALSE, FALSE);
  return unsupported (imp, n, why);
}

/* Transpose of a channel view: its two splits swapped (perm 0, 2, 1, 3, 4). */
static gboolean
transpose_view (importer *imp, const Onnx__NodeProto *n, const value *x)
{
  static const int64_t swap[5] = {0, 2, 1, 3, 4};
  const Onnx__AttributeProto *a = attr (n, "perm");
  if (x->view_merged || !a || a->n_ints != 5 || memcmp (a->ints, swap, sizeof swap) != 0)
    return unsupported (imp, n, "segcam transposes the two splits of an activation's channels "
                        "only (perm 0, 2, 1, 3, 4 of N x a x b x H x W)");
  return define_channel_view (imp, n, x->node, x->view_a, FALSE, !x->view_swapped);
}

/* A group_norm of activation x: scale and bias per channel, or per group (per_group). */
static gboolean
emit_group_norm (importer *imp, const Onnx__NodeProto *n, int x, int groups, const value *scale,
                 const value *bias, gboolean per_group)
{
  int c = node_at (imp, x)->channels;
  double eps = attr_float (n, "epsilon", 1e-5);
  if (!(eps > 0 && isfinite (eps)))
    return unsupported (imp, n, "epsilon must be positive");
  float *g = g_new (float, c), *b = g_new (float, c);
  for (int k = 0; k < c; k++)
    {
      int i = per_group ? k / (c / groups) : k;
      g[k] = scale->floats[i], b[k] = bias->floats[i];
    }
  JsonObject *o = emit (imp, n, "group_norm", 1, &x, c, node_at (imp, x)->one_pixel);
  const char *name = node_at (imp, (int) imp->nodes->len - 1)->name;
  char *wname = g_strdup_printf ("%s.weight", name), *bname = g_strdup_printf ("%s.bias", name);
  json_object_set_string_member (o, "weight", add_tensor (imp, wname, g, 1, (int64_t[]) {c}, NULL));
  json_object_set_string_member (o, "bias", add_tensor (imp, bname, b, 1, (int64_t[]) {c}, NULL));
  json_object_set_int_member (o, "groups", groups);
  json_object_set_double_member (o, "eps", eps);
  g_free (wname), g_free (bname), g_free (g), g_free (b);
  return TRUE;
}

/* Flatten of a globally pooled activation, N x C x 1 x 1 to N x C: the same values, so the same
 * node (a squeeze-and-excitation block's, before its Gemm). */
static gboolean
op_flatten (importer *imp, const Onnx__NodeProto *n)
{
  int x = input_act (imp, n, 0);
  if (x < 0)
    return FALSE;
  if (!node_at (imp, x)->one_pixel || attr_int (n, "axis", 1) != 1)
    return unsupported (imp, n, "segcam flattens only N x C x 1 x 1 activations (after global "
                        "pooling) to N x C");
  value *v = g_new0 (value, 1);
  *v = (value) {.kind = V_ACT, .node = x};
  return define (imp, n, v);
}

/* Gemm (alpha A B' + beta C, B' = B or its transpose) or MatMul (A B) of a globally pooled,
 * flattened activation A by constants: a 1 x 1 convolution, weight [Cout, Cin, 1, 1]. */
static gboolean
op_gemm (importer *imp, const Onnx__NodeProto *n)
{
  gboolean gemm = strcmp (n->op_type, "Gemm") == 0;
  int x = input_act (imp, n, 0);
  value *w, *c = NULL;
  if (x < 0 || !weight_input (imp, n, 1, 2, &w) || (gemm && !weight_input (imp, n, 2, 1, &c)))
    return FALSE;
  if (!node_at (imp, x)->one_pixel)
    return unsupported (imp, n, "segcam multiplies by matrices only N x C activations flattened "
                        "after global pooling");
  if (!w || (gemm && attr_int (n, "transA", 0)))
    return unsupported (imp, n, "the first input must be the activation and the second a "
                        "constant matrix");
  gboolean trans = gemm && attr_int (n, "transB", 0);
  int64_t cin = node_at (imp, x)->channels, cout = trans ? w->dims[0] : w->dims[1];
  if ((trans ? w->dims[1] : w->dims[0]) != cin || cout < 1 || cout > 65536
      || (c && c->n != 1 && c->n != (size_t) cout))
    return unsupported (imp, n, "the matrix does not fit the activation's channels");
  double alpha = gemm ? attr_float (n, "alpha", 1) : 1, beta = gemm ? attr_float (n, "beta", 1) : 1;
  float *k = g_new (float, cout * cin), *b = c ? g_new (float, cout) : NULL;
  for (int64_t o = 0; o < cout; o++)
    {
      for (int64_t i = 0; i < cin; i++)
        k[o * cin + i] = (float) (alpha * w->floats[trans ? o * cin + i : i * cout + o]);
      if (b)
        b[o] = (float) (beta * c->floats[c->n == 1 ? 0 : o]);
    }
  JsonObject *o = emit (imp, n, "conv2d", 1, &x, (int) cout, TRUE);
  const char *name = node_at (imp, (int) imp->nodes->len - 1)->name;
  char *wname = g_strdup_printf ("%s.weight", name), *bname = g_strdup_printf ("%s.bias", name);
  json_object_set_string_member (o, "weight", add_tensor (imp, wname, k, 4,
                                                          (int64_t[]) {cout, cin, 1, 1}, NULL));
  if (b)
    json_object_set_string_member (o, "bias", add_tensor (imp, bname, b, 1, (int64_t[]) {cout}, NULL));
  g_free (wname), g_free (bname), g_free (k), g_free (b);
  return TRUE;
}

/* InstanceNormalization of an activation (a group per channel), or of the grouping view
 * GroupNorm's export makes (a group per row), whose output is that view again. */
static gboolean
op_instance_norm (importer *imp, const Onnx__NodeProto *n)
{
  value *x = present_input (imp, n, 0), *scale, *bias;
  if (!x)
    return FALSE;
  if (!is_act (x) || (x->kind == V_VIEW && !x->view_merged))
    return unsupported (imp, n, "input 0 must be an N x C x H x W activation, or one grouped "
                        "N x G x -1 by a Reshape");
  int node = x->node, groups = x->kind == V_VIEW ? x->view_a : node_at (imp, node)->channels;
  if (!weight_input (imp, n, 1, 1, &scale) || !weight_input (imp, n, 2, 1, &bias))
    return FALSE;
  if (!scale || !bias || scale->n != (size_t) groups || bias->n != (size_t) groups)
    return unsupported (imp, n, "scale and B must give one value per channel");
  if (!emit_group_norm (imp, n, node, groups, scale, bias, x->kind == V_VIEW))
    return FALSE;
  return x->kind != V_VIEW
         || define_channel_view (imp, n, (int) imp->nodes->len - 1, groups, TRUE, FALSE);
}

/* GroupNormalization (opset 18: scale and bias per group; 21: per channel). */
static gboolean
op_group_norm (importer *imp, const Onnx__NodeProto *n)
{
  int x = input_act (imp, n, 0);
  value *scale, *bias;
  if (x < 0 || !weight_input (imp, n, 1, 1, &scale) || !weight_input (imp, n, 2, 1, &bias))
    return FALSE;
  int c = node_at (imp, x)->channels;
  int64_t groups = attr_int (n, "num_groups", 0);
  if (groups < 1 || groups > c || c % groups)
    return unsupported (imp, n, "num_groups must divide the channels");
  size_t per = scale ? scale->n : 0;
  if (!scale || !bias || bias->n != per || (per != (size_t) c && per != (size_t) groups))
    return unsupported (imp, n, "scale and bias must give one value per channel or per group");
  return emit_group_norm (imp, n, x, (int) groups, scale, bias, per != (size_t) c);
}

static gboolean
op_reshape (importer *imp, const Onnx__NodeProto *n)
{
  value *first = present_input (imp, n, 0);
  if (!first)
    return FALSE;
  if (is_act (first) && n->op_type[0] == 'R')
    return reshape_activation (imp, n, first);
  value *x = computed_input (imp, n, 0);
  if (!x)
    return FALSE;
  int64_t dims[MAX_DIMS], axes[MAX_DIMS];
  size_t n_axes;
  int nd = 0;
  char op = n->op_type[0];
  if (op == 'U')
    {
      int rank = x->n_dims;
      if (!read_axes (imp, n, 1, axes, &n_axes))
        return FALSE;
      if (rank + (int) n_axes > MAX_DIMS)
        return unsupported (imp, n, "too many dimensions");
      if (!normalize_axes (imp, n, axes, n_axes, rank + (int) n_axes))
        return FALSE;
      for (int i = 0, from = 0; i < rank + (int) n_axes; i++)
        {
          gboolean inserted = FALSE;
          for (size_t k = 0; k < n_axes; k++)
            inserted |= axes[k] == i;
          dims[nd++] = inserted ? 1 : x->dims[from++];
        }
    }
  else if (op == 'S')
    {
      if (!read_axes (imp, n, 1, axes, &n_axes) || !normalize_axes (imp, n, axes, n_axes, x->n_dims))
        return FALSE;
      for (int i = 0; i < x->n_dims; i++)
        {
          gboolean drop = n_axes == 0 && x->dims[i] == 1;
          for (size_t k = 0; k < n_axes; k++)
            drop |= axes[k] == i;
          if (drop && x->dims[i] != 1)
            return unsupported (imp, n, "a squeezed dimension is not 1");
          if (!drop)
            dims[nd++] = x->dims[i];
        }
    }
  else
    {
      value *shape = input_numbers (imp, n, 1, "the shape");
      if (!shape)
        return FALSE;
      if (shape->n > MAX_DIMS)
        return unsupported (imp, n, "too many dimensions");
      int infer = -1;
      int64_t known = 1;
      for (size_t i = 0; i < shape->n; i++)
        {
          int64_t d = number_int (shape, i);
          if (d == 0 && !attr_int (n, "allowzero", 0) && (int) i < x->n_dims)
            d = x->dims[i];
          if (d == -1 && infer < 0)
            infer = nd;
          else if (d < 0 || d > MAX_COMPUTED || (known *= MAX (d, 1)) > MAX_COMPUTED)
            return unsupported (imp, n, "a bad shape");
          dims[nd++] = d;
        }
      if (infer >= 0)
        dims[infer] = known ? (int64_t) x->n / known : 0;
    }
  value *v = value_alloc (imp, x->kind, nd, dims, TRUE);
  if (!v)
    return FALSE;
  if (v->n != x->n)
    {
      value_free (v);
      return unsupported (imp, n, "the new shape does not hold the same number of values");
    }
  for (size_t i = 0; i < x->n; i++)
    copy_elem (v, i, x, i);
  return define (imp, n, v);
}

static gboolean
op_concat_values (importer *imp, const Onnx__NodeProto *n)
{
  value *first = computed_input (imp, n, 0);
  if (!first)
    return FALSE;
  int64_t axis = attr_int (n, "axis", 0);
  axis = axis < 0 ? axis + first->n_dims : axis;
  if (axis < 0 || axis >= first->n_dims)
    return unsupported (imp, n, "the axis is out of range");
  int64_t dims[MAX_DIMS];
  memcpy (dims, first->dims, sizeof dims);
  dims[axis] = 0;
  for (size_t k = 0; k < n->n_input; k++)
    {
      value *x = computed_input (imp, n, k);
      if (!x)
        return FALSE;
      if (x->kind != first->kind || x->n_dims != first->n_dims)
        return unsupported (imp, n, "inputs of different types or ranks");
      for (int i = 0; i < x->n_dims; i++)
        if (i != axis && x->dims[i] != first->dims[i])
          return unsupported (imp, n, "inputs of different shapes");
      dims[axis] += x->dims[axis];
    }
  value *v = value_alloc (imp, first->kind, first->n_dims, dims, TRUE);
  if (!v)
    return FALSE;
  size_t outer = 1, at = 0;
  for (int i = 0; i < axis; i++)
    outer *= dims[i];
  for (size_t o = 0; o < outer; o++)
    for (size_t k = 0; k < n->n_input; k++)
      {
        value *x = g_hash_table_lookup (imp->values, n->input[k]);
        size_t block = outer ? x->n / outer : 0;
        for (size_t i = 0; i < block; i++)
          copy_elem (v, at++, x, o * block + i);
      }
  return define (imp, n, v);
}

static gboolean
op_slice (importer *imp, const Onnx__NodeProto *n)
{
  value *x = computed_input (imp, n, 0);
  if (!x)
    return FALSE;
  int rank = x->n_dims;
  int64_t start[MAX_DIMS], step[MAX_DIMS], dims[MAX_DIMS], strides[MAX_DIMS];
  for (int i = 0; i < rank; i++)
    start[i] = 0, step[i] = 1, dims[i] = x->dims[i];
  int64_t s[MAX_DIMS], e[MAX_DIMS], ax[MAX_DIMS], st[MAX_DIMS];
  size_t count;
  if (imp->opset < 10)
    {
      const Onnx__AttributeProto *as = attr (n, "starts"), *ae = attr (n, "ends");
      if (!as || !ae || as->n_ints != ae->n_ints || as->n_ints > (size_t) rank)
        return unsupported (imp, n, "starts and ends must match");
      count = as->n_ints;
      memcpy (s, as->ints, count * sizeof *s);
      memcpy (e, ae->ints, count * sizeof *e);
    }
  else
    {
      value *vs = input_numbers (imp, n, 1, "starts"), *ve = vs ? input_numbers (imp, n, 2, "ends") : NULL;
      if (!ve)
        return FALSE;
      if (vs->n != ve->n || vs->n > (size_t) rank)
        return unsupported (imp, n, "starts and ends must match");
      count = vs->n;
      for (size_t i = 0; i < count; i++)
        s[i] = number_int (vs, i), e[i] = number_int (ve, i);
    }
  size_t n_axes;
  if (!read_axes (imp, n, 3, ax, &n_axes) || !normalize_axes (imp, n, ax, n_axes, rank))
    return FALSE;
  if (n_axes == 0)
    for (size_t i = 0; i < count; i++)
      ax[i] = (int64_t) i;
  else if (n_axes != count)
    return unsupported (imp, n, "axes and starts must match");
  for (size_t i = 0; i < count; i++)
    st[i] = 1;
  if (imp->opset >= 10 && n->n_input > 4 && *n->input[4])
    {
      value *vst = input_numbers (imp, n, 4, "steps");
      if (!vst)
        return FALSE;
      if (vst->n != count)
        return unsupported (imp, n, "steps and starts must match");
      for (size_t i = 0; i < count; i++)
        st[i] = number_int (vst, i);
    }
  /* ONNX's clamping rules, for positive and negative steps. */
  for (size_t i = 0; i < count; i++)
    {
      int a = (int) ax[i];
      int64_t d = x->dims[a], lo = s[i], hi = e[i];
      if (st[i] == 0)
        return unsupported (imp, n, "a step is 0");
      lo = lo < 0 ? MAX (lo + d, 0) : lo;
      hi = hi < 0 ? hi + d : hi;
      if (st[i] > 0)
        lo = MIN (lo, d), hi = CLAMP (hi, 0, d);
      else
        lo = MIN (lo, d - 1), hi = CLAMP (hi, -1, d - 1);
      start[a] = lo, step[a] = st[i];
      int64_t span = st[i] > 0 ? hi - lo : lo - hi, abs_step = st[i] > 0 ? st[i] : -st[i];
      dims[a] = span > 0 ? (span + abs_step - 1) / abs_step : 0;
    }
  strides_of (x, strides);
  return define_view (imp, n, x, rank, dims, start, step, strides);
}

static gboolean
op_transpose (importer *imp, const Onnx__NodeProto *n)
{
  value *v = present_input (imp, n, 0);
  if (!v)
    return FALSE;
  if (v->kind == V_VIEW)
    return transpose_view (imp, n, v);
  value *x = computed_input (imp, n, 0);
  if (!x)
    return FALSE;
  int rank = x->n_dims, perm[MAX_DIMS];
  const Onnx__AttributeProto *a = attr (n, "perm");
  if (a && a->n_ints != (size_t) rank)
    return unsupported (imp, n, "perm must list every axis");
  guint seen = 0;
  for (int i = 0; i < rank; i++)
    {
      int64_t p = a ? a->ints[i] : rank - 1 - i;
      if (p < 0 || p >= rank || seen & (1u << p))
        return unsupported (imp, n, "perm must list every axis once");
      seen |= 1u << p;
      perm[i] = (int) p;
    }
  int64_t dims[MAX_DIMS], strides[MAX_DIMS], start[MAX_DIMS], step[MAX_DIMS], stride[MAX_DIMS];
  strides_of (x, strides);
  for (int i = 0; i < rank; i++)
    dims[i] = x->dims[perm[i]], start[i] = 0, step[i] = 1, stride[i] = strides[perm[i]];
  return define_view (imp, n, x, rank, dims, start, step, stride);
}

/* Add, Sub, Mul, Div of two constants, with one of them possibly a single number. */
static gboolean
fold_arith (importer *imp, const Onnx__NodeProto *n, value *a, value *b)
{
  for (size_t i = 0; i < a->n; i++)
    if (!is_number (a, i))
      return unsupported (imp, n, "arithmetic on the input's size is not supported");
  for (size_t i = 0; i < b->n; i++)
    if (!is_number (b, i))
      return unsupported (imp, n, "arithmetic on the input's size is not supported");
  if (a->n != b->n && a->n != 1 && b->n != 1)
    return unsupported (imp, n, "only a single number broadcasts");
  const value *shape = a->n >= b->n ? a : b;
  value_kind kind = a->kind == V_FLOAT || b->kind == V_FLOAT ? V_FLOAT : V_INT;
  value *v = value_alloc (imp, kind, shape->n_dims, shape->dims, TRUE);
  if (!v)
    return FALSE;
  for (size_t i = 0; i < v->n; i++)
    {
      double x = number (a, a->n == 1 ? 0 : i), y = number (b, b->n == 1 ? 0 : i), r;
      switch (n->op_type[0])
        {
        case 'A': r = x + y; break;
        case 'S': r = x - y; break;
        case 'M': r = x * y; break;
        default:
          if (kind == V_INT && y == 0)
            {
              value_free (v);
              return unsupported (imp, n, "division by zero");
            }
          r = kind == V_INT ? trunc (x / y) : x / y;
          break;
        }
      if (kind == V_INT)
        v->ints[i].k = (int64_t) CLAMP (r, -9e18, 9e18);
      else
        v->floats[i] = (float) r;
    }
  return define (imp, n, v);
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static gboolean
any_act_input (importer *imp, const Onnx__NodeProto *n, gboolean *ok)
{
  for (size_t i = 0; *ok && i < n->n_input; i++)
    {
      value *v = input (imp, n, i, ok);
      if (v && is_act (v))
        return TRUE;
    }
  return FALSE;
}

gboolean
onnx_convert_node (importer *imp, const Onnx__NodeProto *n)
{
  const char *t = n->op_type ? n->op_type : "";
  if (n->domain && *n->domain && strcmp (n->domain, "ai.onnx") != 0)
    return fail (imp, "op %s (domain %s) at node '%s' is not supported", shown (t), shown (n->domain),
                 node_label (n));
  if (!n->n_output || !*n->output[0])
    return fail (imp, "node '%s' has no output", node_label (n));
  if (strcmp (t, "Conv") == 0)
    return op_conv (imp, n, FALSE);
  if (strcmp (t, "ConvTranspose") == 0)
    return op_conv (imp, n, TRUE);
  if (strcmp (t, "ConvInteger") == 0)
    return op_conv_integer (imp, n);
  if (strcmp (t, "DynamicQuantizeLinear") == 0)
    return op_dynamic_quantize (imp, n);
  if (strcmp (t, "BatchNormalization") == 0)
    return op_batchnorm (imp, n);
  if (strcmp (t, "Flatten") == 0)
    return op_flatten (imp, n);
  if (strcmp (t, "Gemm") == 0 || strcmp (t, "MatMul") == 0)
    return op_gemm (imp, n);
  if (strcmp (t, "InstanceNormalization") == 0)
    return op_instance_norm (imp, n);
  if (strcmp (t, "GroupNormalization") == 0)
    return op_group_norm (imp, n);
  if (strcmp (t, "Relu") == 0)
    return op_unary (imp, n, "relu");
  if (strcmp (t, "Sigmoid") == 0)
    return op_unary (imp, n, "sigmoid");
  if (strcmp (t, "HardSwish") == 0)
    return op_unary (imp, n, "hardswish");
  if (strcmp (t, "HardSigmoid") == 0)
    return op_hardsigmoid (imp, n);
  if (strcmp (t, "LeakyRelu") == 0)
    return op_leaky_relu (imp, n);
  if (strcmp (t, "Clip") == 0)
    return op_clip (imp, n);
  if (strcmp (t, "Add") == 0 || strcmp (t, "Sub") == 0 || strcmp (t, "Mul") == 0
      || strcmp (t, "Div") == 0)
    return op_arith (imp, n);
  if (strcmp (t, "MaxPool") == 0)
    return op_pool (imp, n, FALSE);
  if (strcmp (t, "AveragePool") == 0)
    return op_pool (imp, n, TRUE);
  if (strcmp (t, "GlobalAveragePool") == 0)
    return op_global_avgpool (imp, n);
  if (strcmp (t, "ReduceMean") == 0)
    return op_reduce_mean (imp, n);
  if (strcmp (t, "Pad") == 0)
    return op_pad (imp, n);
  if (strcmp (t, "Resize") == 0 || strcmp (t, "Upsample") == 0)
    return op_resize (imp, n);
  if (strcmp (t, "Identity") == 0 || strcmp (t, "Dropout") == 0 || strcmp (t, "Cast") == 0)
    return op_alias (imp, n);
  if (strcmp (t, "Constant") == 0)
    return op_constant (imp, n);
  if (strcmp (t, "ConstantOfShape") == 0)
    return op_constant_of_shape (imp, n);
  if (strcmp (t, "Shape") == 0)
    return op_shape (imp, n);
  if (strcmp (t, "Gather") == 0)
    return op_gather (imp, n);
  if (strcmp (t, "Unsqueeze") == 0 || strcmp (t, "Squeeze") == 0 || strcmp (t, "Reshape") == 0)
    return op_reshape (imp, n);
  if (strcmp (t, "Slice") == 0)
    return op_slice (imp, n);
  if (strcmp (t, "Transpose") == 0)
    return op_transpose (imp, n);
  if (strcmp (t, "Concat") == 0)
    {
      gboolean ok = TRUE, act = any_act_input (imp, n, &ok);
      return ok && (act ? op_concat (imp, n) : op_concat_values (imp, n));
    }
  return unsupported (imp, n, NULL);
}
