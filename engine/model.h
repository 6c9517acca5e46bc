/* model.h — the in-memory network: a topologically sorted list of nodes with plain parameter
 * structs (ggml-style), weights already repacked for channels-last execution. Internal to the
 * engine; segcam.h is the public face. */
#ifndef SEGCAM_MODEL_H
#define SEGCAM_MODEL_H

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
  float *w_fwd;
  float *w_bwd;
  float *bias;            /* cout floats, or NULL */
} segcam_conv_params;

typedef struct {
  int channels;
  float *scale;           /* gamma / sqrt(var + eps) */
  float *shift;           /* beta - mean * scale */
} segcam_batchnorm_params;

typedef struct {
  int kh, kw, sh, sw, ph, pw;
  gboolean ceil_mode;
} segcam_pool_params;

typedef struct {
  double scale_h, scale_w; /* 0 when the size comes from the second input */
  gboolean bilinear;
} segcam_upsample_params;

typedef struct {
  char *name;
  segcam_op op;
  int n_inputs;
  int *inputs;            /* indices of earlier nodes */
  int channels;           /* output channels (static: they do not depend on the image size) */
  union {
    segcam_conv_params conv;
    segcam_batchnorm_params bn;
    segcam_pool_params pool;
    segcam_upsample_params up;
  } p;
} segcam_node;

typedef struct {
  char *name;
  uint8_t rgb[3];
} segcam_class;

struct segcam_model {
  int format_version;
  char *name, *description, *training;

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

#endif /* SEGCAM_MODEL_H */
