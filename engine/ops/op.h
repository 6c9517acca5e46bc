/* op.h — what an op is: one segcam_op_def per op, in one table (registry.c).
 *
 * A node is an op with its inputs and plain parameters (ggml-style). Each op's unit (one file per
 * family of ops: conv.c, batchnorm.c, ...) holds its kernels, forward and backward side by side,
 * and the definition that tells the rest of the engine how to parse, shape, run and differentiate
 * it; the loader, shape inference, the memory plan, forward, backward, training and the fast path
 * loop over the table instead of switching on the op. docs/architecture.md, "Adding an op", lists
 * what a new op touches. */
#ifndef SEGCAM_OP_H
#define SEGCAM_OP_H

#include "attrs.h"
#include "threads.h"

#include <stddef.h>

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
  /* format version 2 (the ONNX import) */
  SEGCAM_OP_AVGPOOL2D,
  SEGCAM_OP_GLOBAL_AVGPOOL,
  SEGCAM_OP_MUL,
  SEGCAM_OP_HARDSWISH,
  SEGCAM_OP_HARDSIGMOID,
  SEGCAM_OP_LEAKY_RELU,
  SEGCAM_OP_CLIP,
  SEGCAM_OP_PAD,
  /* format version 3 */
  SEGCAM_OP_GROUP_NORM,
  SEGCAM_OP_COUNT
} segcam_op;

/* A convolution in the "gather" form both conv2d and conv_transpose2d reduce to (conv.c).
 * Weights are packed from the file's layout when first needed, twice: forward [kh*kw*cin][cout]
 * (segcam_conv_forward_weights) and backward-data [kh*kw*cout][cin]
 * (segcam_conv_backward_weights). The fast path's Winograd convs read the file's layout, so a
 * model loaded from a file packs only what its other convs need. */
typedef struct {
  gboolean transposed;    /* conv_transpose2d */
  int kh, kw;
  int sh, sw;
  int pt, pl, pb, pr;     /* conv2d: [t,l,b,r]; conv_transpose2d: t = b = ph, l = r = pw */
  int oph, opw;           /* conv_transpose2d output_padding */
  int dh, dw;
  int cin, cout;
  int groups;             /* cin and cout split into this many independent convolutions (0: 1) */
  const float *w_file;    /* as the model file holds them, [cout][cin/g][kh][kw] (transposed:
                             [cin][cout/g][kh][kw]), in the model's container; NULL once only
                             the packed ones are kept (segcam_model_from_safetensors) */
  float *w_fwd;           /* NULL until packed; then what training changes */
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

/* ONNX's auto_pad SAME (version 3): out = ceil (in / s), padded by max ((out - 1) s + k - in, 0)
 * in all, the odd pixel at the end (upper) or the start (lower); the pads follow the input's
 * size. */
typedef enum {
  SEGCAM_POOL_EXPLICIT,
  SEGCAM_POOL_SAME_UPPER,
  SEGCAM_POOL_SAME_LOWER,
} segcam_pool_same;

typedef struct {
  int kh, kw, sh, sw, ph, pw; /* ph, pw: padding on both sides (SEGCAM_POOL_EXPLICIT) */
  gboolean ceil_mode;
  gboolean count_include_pad; /* avgpool2d: padding counts in the divisor */
  segcam_pool_same same;
} segcam_pool_params;

typedef enum {
  SEGCAM_UPSAMPLE_NEAREST,
  SEGCAM_UPSAMPLE_BILINEAR,       /* half-pixel centres: align_corners=False */
  SEGCAM_UPSAMPLE_ALIGN_CORNERS,  /* bilinear, align_corners=True (version 2) */
  SEGCAM_UPSAMPLE_ASYMMETRIC,     /* bilinear, source = destination / scale: TensorFlow 1's
                                   * (ONNX's asymmetric; version 3) */
} segcam_upsample_mode;

typedef struct {
  double scale_h, scale_w; /* 0 when the size comes from the second input or is fixed */
  segcam_upsample_mode mode;
  int size_h, size_w;      /* the fixed output size ('size'), else 0 */
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

/* group_norm: gamma and beta per channel. */
typedef struct {
  int groups;
  double eps;
  float *gamma, *beta;
} segcam_group_norm_params;

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
    segcam_group_norm_params gn;
  } p;
} segcam_node;

/* An activation: n images of h x w pixels with c contiguous channels each (NHWC). */
typedef struct {
  float *data;
  int n, h, w, c;
} segcam_act;

static inline size_t
segcam_act_size (const segcam_act *a)
{
  return (size_t) a->n * a->h * a->w * a->c;
}

/* What a kernel needs besides its tensors: the thread pool, per-thread scratch, and in training
 * the node's batch statistics and parameter gradients. */
typedef struct {
  segcam_pool *pool;
  float *scratch;          /* segcam_pool_threads () blocks of scratch_per_thread floats */
  size_t scratch_per_thread;
  gboolean train;          /* batch statistics; running statistics move by bn_momentum */
  double bn_momentum;
  float *bn_mean, *bn_rstd; /* batch norm in training: this batch's statistics, per channel */
  float *dweight, *dbias;  /* training: where parameter gradients accumulate, or NULL */
  gboolean winograd;       /* training: a 3x3 conv whose input segcam_winograd_pays runs its
                              forward and input gradient as Winograd (ops/conv.c) */
  float *conv_work;        /* training: segcam_conv_work_floats of the largest conv, for its
                              weight gradient's partial sums and its Winograd weights */
} segcam_op_run;

/* Which forward tensors an op's backward reads, so that the memory plan keeps them alive until
 * the backward pass (run/plan.c). They sit beside the backward kernels that read them. */
enum {
  SEGCAM_READS_OUTPUT = 1 << 0,      /* the node's own output */
  SEGCAM_READS_INPUT = 1 << 1,       /* its first input */
  SEGCAM_READS_INPUTS = 1 << 2,      /* every input */
  SEGCAM_READS_INPUT_TRAIN = 1 << 3, /* its first input, in training (parameter gradients) */
};

/* How the fast path (run/fuse.c) may absorb a node into a conv step. */
typedef enum {
  SEGCAM_FUSE_NONE,
  SEGCAM_FUSE_CONV,       /* heads a step: a conv whose weights the step owns */
  SEGCAM_FUSE_FOLD,       /* a per-channel scale and shift (p.bn's) folded into the conv before it */
  SEGCAM_FUSE_RELU,       /* max (0, .) in the conv's epilogue (and a mask in backward) */
  SEGCAM_FUSE_PARTS,      /* a channel concat the convs reading it read in place */
} segcam_fuse_role;

/* Where an activation's pixels come from, along one axis (graph/reach.c): pixel j of a node at
 * stride s (padded-image pixels per pixel) depends only on the padded image's pixels
 * [j s + lo, j s + s - 1 + hi]. A network whose output's lo and hi are finite can be run on
 * tiles with a halo of max (-lo, hi) (explain/tiled.c). */
typedef struct {
  int64_t stride, lo, hi;
} segcam_reach_axis;

typedef struct {
  segcam_reach_axis y, x;
} segcam_reach;

/* Where a parameter tensor of a node lives and how the file stores it (training saves it). */
typedef struct {
  float *data;
  size_t n;
  int n_dims;
  int64_t shape[4];       /* PyTorch's shape, as in the file */
  gboolean packed;        /* conv weights: data is forward-packed (segcam_conv_pack) */
  gboolean trainable;     /* FALSE: state (batch norm running statistics), saved as is */
} segcam_op_tensor;

typedef struct {
  const char *name;       /* in the graph JSON */
  int format_version;     /* the segcam.format that introduced it (docs/model-format.md, 'Ops') */
  int min_inputs, max_inputs;
  /* Inputs that receive a gradient: the first grad_inputs, or all when -1. */
  int grad_inputs;
  unsigned backward_reads; /* SEGCAM_READS_* */
  segcam_fuse_role fuse;
  gboolean batch_stats;   /* training keeps per-channel batch statistics (segcam_op_run.bn_*) */

  /* Reads the node's attributes and tensors. node->channels holds the first input's channels
   * (nodes[] are the ones before it, already parsed); the op sets its output channels and
   * node->tensors (the names of the file tensors it took, whose sizes make the parameter count).
   * NULL: no attributes. */
  gboolean (*parse) (segcam_attrs *a, segcam_node *node, const segcam_node *nodes);
  /* Sets out->h and out->w from the input shapes (acts is indexed by node); returns NULL or a
   * newly allocated reason why the inputs do not fit. NULL for the input node, which has the
   * padded image's size. */
  char *(*shape) (const segcam_node *n, const segcam_act *acts, segcam_act *out);
  /* Overwrites out from the inputs. NULL for the input node, which preprocessing fills. */
  void (*forward) (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                   segcam_act *out);
  /* Adds the gradients of the inputs (din[k] NULL: not needed) and, in training, of the
   * parameters, from the forward tensors in and out (as far as backward_reads keeps them). */
  void (*backward) (const segcam_op_run *r, const segcam_node *n, const segcam_act *const *in,
                    const segcam_act *out, const segcam_act *dout, segcam_act *const *din);
  /* Sets out from the inputs' reaches (indexed by node, as acts in shape); returns NULL or a
   * newly allocated reason why an output pixel does not depend on a bounded neighbourhood of
   * its own position (whole-image statistics, a size fixed or tied to the image). NULL for the
   * input node, at stride 1 with no reach. */
  char *(*reach) (const segcam_node *n, const segcam_reach *in, segcam_reach *out);
  /* Per-thread scratch floats forward and backward need (NULL: none). */
  size_t (*scratch) (const segcam_node *n);
  /* Describes node->tensors[k] for training; FALSE with an error when the op cannot be trained
   * (NULL: the op has no tensors). */
  gboolean (*tensor) (segcam_node *n, int k, segcam_op_tensor *t, GError **error);
  /* Re-derives what the op computes from its tensors after training changed them (NULL: none). */
  void (*refresh) (segcam_node *n);
  /* Copies whatever parse left in the container's tensors (NULL: parse copied everything), for
   * a model that does not keep its container. */
  void (*detach) (segcam_node *n);
  /* Frees the parameters parse allocated (NULL: none). */
  void (*clear) (segcam_node *n);
} segcam_op_def;

/* The definition of op (< SEGCAM_OP_COUNT), and the op named name or -1 (registry.c). */
const segcam_op_def *segcam_op_get (segcam_op op);
int segcam_op_find (const char *name);
const char *segcam_op_name (segcam_op op);

/* Output the same size as the first input: most ops' shape (op.c). */
char *segcam_shape_like_input (const segcam_node *n, const segcam_act *acts, segcam_act *out);

/* Reaches (op.c): the first input's, for ops that read each pixel at its own position; the
 * union of every input's, for ops that combine inputs of one size pixel by pixel (an error when
 * their strides differ); and one axis of a window op, whose output pixel j reads input pixels
 * j s - pad .. j s - pad + span (conv and pooling: span = (k - 1) dilation). */
char *segcam_reach_like_input (const segcam_node *n, const segcam_reach *in, segcam_reach *out);
char *segcam_reach_union (const segcam_node *n, const segcam_reach *in, segcam_reach *out);
void segcam_reach_window (const segcam_reach_axis *in, int span, int s, int pad,
                          segcam_reach_axis *out);

#endif /* SEGCAM_OP_H */
