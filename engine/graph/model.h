/* model.h — the in-memory network: a topologically sorted list of nodes with plain parameter
 * structs (ggml-style), weights already repacked for channels-last execution. Internal to the
 * engine; segcam.h is the public face. */
#ifndef SEGCAM_MODEL_H
#define SEGCAM_MODEL_H

#include "safetensors.h"
#include "segcam.h"

typedef enum {
  SEGCAM_OP_INPUT,
  SEGCAM_OP_CONV2D,
  SEGCAM_OP_CONV_TRANSPOSE2D,
  SEGCAM_OP_BATCHNORM,
  SEGCAM_OP_RELU,
  SEGCAM_OP_SIGMOID,
  SEGCAM_OP_MAXPOOL2D,
  SEGCAM_OP_UPSAMPLE,
  SEGCAM_OP_CONCAT,
  SEGCAM_OP_ADD,
  /* version 2 (DESIGN.md §2, ONNX import) */
  SEGCAM_OP_AVGPOOL2D,
  SEGCAM_OP_GLOBAL_AVGPOOL,
  SEGCAM_OP_MUL,
  SEGCAM_OP_HARDSWISH,
  SEGCAM_OP_HARDSIGMOID,
  SEGCAM_OP_LEAKY_RELU,
  SEGCAM_OP_CLIP,
  SEGCAM_OP_PAD,
  SEGCAM_OP_COUNT
} segcam_op;

/* A convolution in the "gather" form both conv2d and conv_transpose2d reduce to (see conv.c).
 * Weights are packed twice: forward [kh*kw*cin][cout] and backward-data [kh*kw*cout][cin]. */
typedef struct {
  int kh, kw;
  int sh, sw;
  int pt, pl, pb, pr;     /* conv2d: [t,l,b,r]; conv_transpose2d: t = b = ph, l = r = pw */
  int oph, opw;           /* conv_transpose2d output_padding */
  int dh, dw;
  int cin, cout;
  int groups;             /* cin and cout split into this many independent convolutions (0: 1) */
  float *w_fwd;
  float *w_bwd;
  float *bias;            /* cout floats, or NULL */
} segcam_conv_params;

typedef struct {
  int channels;
  double eps;
  float *gamma, *beta;    /* as stored: training updates these and the running statistics */
  float *mean, *var;
  float *scale;           /* eval mode: gamma / sqrt(var + eps), kept by segcam_batchnorm_fold */
  float *shift;           /* eval mode: beta - mean * scale */
} segcam_batchnorm_params;

typedef struct {
  int kh, kw, sh, sw, ph, pw;
  gboolean ceil_mode;
  gboolean count_include_pad; /* avgpool2d: padding counts in the divisor */
} segcam_pool_params;

typedef enum {
  SEGCAM_UPSAMPLE_NEAREST,
  SEGCAM_UPSAMPLE_BILINEAR,       /* half-pixel centres: align_corners=False */
  SEGCAM_UPSAMPLE_ALIGN_CORNERS,  /* bilinear, align_corners=True (version 2) */
} segcam_upsample_mode;

typedef struct {
  double scale_h, scale_w; /* 0 when the size comes from the second input */
  segcam_upsample_mode mode;
} segcam_upsample_params;

/* leaky_relu (alpha) and clip (min, max). */
typedef struct {
  float alpha, min, max;
} segcam_activation_params;

typedef enum { SEGCAM_PAD_CONSTANT, SEGCAM_PAD_REFLECT, SEGCAM_PAD_REPLICATE } segcam_pad_mode;

typedef struct {
  int pt, pl, pb, pr;     /* negative values crop */
  segcam_pad_mode mode;
  float value;
} segcam_pad_params;

typedef struct {
  char *name;
  segcam_op op;
  int n_inputs;
  int *inputs;            /* indices of earlier nodes */
  int channels;           /* output channels (static: they do not depend on the image size) */
  char *tensors[4];       /* names of the tensors it was loaded from (conv: weight, bias; batch
                             norm: gamma, beta, mean, var), for saving a trained model */
  union {
    segcam_conv_params conv;
    segcam_batchnorm_params bn;
    segcam_pool_params pool;
    segcam_upsample_params up;
    segcam_activation_params act;
    segcam_pad_params pad;
  } p;
} segcam_node;

typedef struct {
  char *name;
  uint8_t rgb[3];
} segcam_class;

struct segcam_model {
  int format_version;
  char *name, *description, *training;
  char *graph_json;       /* segcam.graph as loaded, written back when a trained model is saved */

  int in_channels;
  float mean[3], std[3];
  int size_multiple;

  int n_classes;
  segcam_class *classes;
  gboolean sigmoid;       /* output_activation "sigmoid" */

  int n_nodes;
  segcam_node *nodes;     /* topological order, only ancestors of the output; nodes[0] = input */
  int output;
  int default_layer;
  int64_t n_parameters;
};

const char *segcam_op_name (segcam_op op);
/* A model from a parsed container (tensors and segcam.* metadata), validated as a file is. */
segcam_model *segcam_model_from_safetensors (const segcam_safetensors *st, GError **error);

/* Depth-first post-order of root and its ancestors among n nodes, with cycle detection; iterative,
 * as a hostile file may chain 100000 nodes. input (ctx, v, k) is the node that feeds input k of
 * node v (k < n_inputs (ctx, v)), or -1 for none; a root < 0 has no ancestors. order (n entries)
 * receives the nodes, inputs before users, and *n_order their count. Returns -1, or a node on a
 * cycle (found before the order was complete). Model files and ONNX graphs are sorted by it. */
int segcam_sort_ancestors (int n, int root, int (*n_inputs) (const void *ctx, int v),
                           int (*input) (const void *ctx, int v, int k), const void *ctx,
                           int *order, int *n_order);

/* Recomputes a batch norm's eval-mode scale and shift from its parameters and statistics. */
void segcam_batchnorm_fold (segcam_batchnorm_params *p);
/* Re-derives a conv's backward weights from its forward weights (after training changed them). */
void segcam_conv_repack_backward (segcam_conv_params *p);
/* Conversions between PyTorch's weight layout (conv2d [cout][cin][kh][kw], conv_transpose2d
 * [cin][cout][kh][kw]) and the forward-packed one [kh][kw][cin][cout]. */
void segcam_conv_pack (const segcam_conv_params *p, gboolean transposed, const float *w, float *fwd);
void segcam_conv_unpack (const segcam_conv_params *p, gboolean transposed, const float *fwd, float *w);

#endif /* SEGCAM_MODEL_H */
