/* onnx-nodes.h — the translation state the ONNX importer shares between its two parts (internal):
 * onnx-import.c walks the graph and makes the model, onnx-nodes.c translates one node at a time.
 *
 * Every ONNX tensor the output depends on becomes one of three kinds of value:
 *   - an activation: a segcam node, named after the tensor, whose channels are known statically;
 *   - a float constant: an initializer or a Constant node (weights, Resize scales, Clip bounds);
 *   - an activation seen with its channels split in two, by a Reshape that only touches channels:
 *     [N, a, b, H, W] (a channel shuffle's), or [N, a, b*H*W] (GroupNorm's grouping before
 *     InstanceNormalization); a Transpose of the two splits and a Reshape back to N x C x H x W
 *     make it an activation again;
 *   - an integer tensor whose elements are numbers or symbols "dimension d of node X". Shape
 *     sub-graphs (Shape, Gather, Slice, Unsqueeze, Concat, Constant...) are evaluated on those at
 *     import time, so that a Resize whose sizes come from Shape (T) becomes an upsample "to the
 *     size of T" and the model works at any input size, as it did in PyTorch.
 */
#ifndef SEGCAM_ONNX_NODES_H
#define SEGCAM_ONNX_NODES_H

#include "onnx-import.h"
#include "onnx.pb-c.h"
#include "error.h"

#include <json-glib/json-glib.h>

#define MAX_DIMS 8
#define MAX_COMPUTED 65536        /* elements of a tensor computed at import time */

typedef enum { V_ACT, V_INT, V_FLOAT, V_VIEW } value_kind;

/* An integer element: the number k, or (node >= 0) dimension dim (0..3, NCHW) of node's output. */
typedef struct {
  int node, dim;
  int64_t k;
} sym;

typedef struct {
  value_kind kind;
  int node;               /* V_ACT, V_VIEW: index into the emitted nodes */
  int view_a;             /* V_VIEW: the node's channels as a x (channels / a) */
  gboolean view_merged;   /* V_VIEW: [N, a, b*H*W], else [N, a, b, H, W] */
  gboolean view_swapped;  /* V_VIEW: a Transpose swapped the splits: logical channel j * a + i
                             is the node's i * b + j */
  int n_dims;
  int64_t dims[MAX_DIMS];
  size_t n;
  sym *ints;              /* V_INT */
  float *floats;          /* V_FLOAT */
  char *source;           /* the initializer or Constant it is, for naming saved tensors */
  const char *stored;     /* the name it is saved under once a node uses it as a tensor */
} value;

/* One emitted segcam node. */
typedef struct {
  char *name;
  const char *op;
  int input0;             /* its first input, -1 for none */
  int channels;
  gboolean one_pixel;     /* 1 x 1 pixels whatever the image (after global pooling) */
  JsonObject *json;
} out_node;

typedef struct {
  const Onnx__ModelProto *model;
  const Onnx__GraphProto *graph;
  int64_t opset;
  GHashTable *values;     /* ONNX tensor name -> value * */
  GHashTable *initializers; /* name -> const Onnx__TensorProto * */
  GHashTable *producers;  /* tensor name -> producing node index + 1 */
  GArray *nodes;          /* out_node */
  GArray *tensors;        /* segcam_tensor, as the model file will hold them */
  GHashTable *tensor_names; /* name -> the value it holds (or itself for synthetic tensors) */
  int64_t export_h, export_w; /* the graph input's static height and width, else 0 */
  GArray *fixed;          /* int: the upsample nodes of Resizes to a fixed size, in order */
  int n_dequantized;      /* ConvInteger weights dequantized to float */
  gboolean fixed_size;    /* the network runs at its export size only (segcam.fixed_size) */
  int attr_version;       /* the format version attribute values need beyond their ops' */
  GError **error;
} importer;

/* Whether v is computed from the image (V_ACT or V_VIEW), not at import time. */
static inline gboolean
is_act (const value *v)
{
  return v->kind == V_ACT || v->kind == V_VIEW;
}

static inline void
value_free (value *v)
{
  g_free (v->ints);
  g_free (v->floats);
  g_free (v->source);
  g_free (v);
}

static inline gboolean fail (importer *imp, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Sets the one-line error (SEGCAM_ERROR_MODEL) and returns FALSE. */
static inline gboolean
fail (importer *imp, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  segcam_failv (imp->error, SEGCAM_ERROR_MODEL, fmt, ap);
  va_end (ap);
  return FALSE;
}

/* Names end up in one-line messages and in the model: UTF-8 without control characters. */
static inline gboolean
printable (const char *s)
{
  if (!s || !g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return FALSE;
  return TRUE;
}

static inline const char *
shown (const char *s)
{
  return printable (s) ? s : "(unprintable)";
}

static inline const char *
node_label (const Onnx__NodeProto *n)
{
  if (n->name && *n->name && printable (n->name))
    return n->name;
  return n->n_output && *n->output[0] ? shown (n->output[0]) : "?";
}

static inline const Onnx__AttributeProto *
attr (const Onnx__NodeProto *n, const char *name)
{
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && strcmp (n->attribute[i]->name, name) == 0)
      return n->attribute[i];
  return NULL;
}

static inline int64_t
attr_int (const Onnx__NodeProto *n, const char *name, int64_t def)
{
  const Onnx__AttributeProto *a = attr (n, name);
  return a && a->has_i ? a->i : def;
}

static inline const out_node *
node_at (const importer *imp, int i)
{
  return &g_array_index (imp->nodes, out_node, i);
}

/* Translates node n: defines the values of its outputs, emitting segcam nodes and tensors as it
 * goes. FALSE with the one-line error naming the node. */
gboolean onnx_convert_node (importer *imp, const Onnx__NodeProto *n);

#endif /* SEGCAM_ONNX_NODES_H */
