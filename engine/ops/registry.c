/* registry.c — the op table: segcam_op -> its definition, in the enum's order (op.h). */
#include "op.h"

#include <string.h>

/* Each definition lives in its op's unit (conv.c, pooling.c, ...). */
extern const segcam_op_def segcam_op_conv2d, segcam_op_conv_transpose2d, segcam_op_batchnorm,
  segcam_op_relu, segcam_op_sigmoid, segcam_op_maxpool2d, segcam_op_upsample, segcam_op_concat,
  segcam_op_add, segcam_op_avgpool2d, segcam_op_global_avgpool, segcam_op_mul,
  segcam_op_hardswish, segcam_op_hardsigmoid, segcam_op_leaky_relu, segcam_op_clip, segcam_op_pad,
  segcam_op_group_norm;

/* The image, preprocessed by the session: it has neither attributes nor kernels. */
static const segcam_op_def segcam_op_input = {
  .name = "input", .format_version = 1,
};

static const segcam_op_def *const table[] = {
  [SEGCAM_OP_INPUT] = &segcam_op_input,
  [SEGCAM_OP_CONV2D] = &segcam_op_conv2d,
  [SEGCAM_OP_CONV_TRANSPOSE2D] = &segcam_op_conv_transpose2d,
  [SEGCAM_OP_BATCHNORM] = &segcam_op_batchnorm,
  [SEGCAM_OP_RELU] = &segcam_op_relu,
  [SEGCAM_OP_SIGMOID] = &segcam_op_sigmoid,
  [SEGCAM_OP_MAXPOOL2D] = &segcam_op_maxpool2d,
  [SEGCAM_OP_UPSAMPLE] = &segcam_op_upsample,
  [SEGCAM_OP_CONCAT] = &segcam_op_concat,
  [SEGCAM_OP_ADD] = &segcam_op_add,
  [SEGCAM_OP_AVGPOOL2D] = &segcam_op_avgpool2d,
  [SEGCAM_OP_GLOBAL_AVGPOOL] = &segcam_op_global_avgpool,
  [SEGCAM_OP_MUL] = &segcam_op_mul,
  [SEGCAM_OP_HARDSWISH] = &segcam_op_hardswish,
  [SEGCAM_OP_HARDSIGMOID] = &segcam_op_hardsigmoid,
  [SEGCAM_OP_LEAKY_RELU] = &segcam_op_leaky_relu,
  [SEGCAM_OP_CLIP] = &segcam_op_clip,
  [SEGCAM_OP_PAD] = &segcam_op_pad,
  [SEGCAM_OP_GROUP_NORM] = &segcam_op_group_norm,
};
/* An op added at the end of the enum without a line here fails the assertion; one added in the
 * middle leaves a NULL, which the op test's /ops/registry finds, along with names used twice. */
G_STATIC_ASSERT (G_N_ELEMENTS (table) == SEGCAM_OP_COUNT);

const segcam_op_def *
segcam_op_get (segcam_op op)
{
  return op < SEGCAM_OP_COUNT ? table[op] : NULL;
}

int
segcam_op_find (const char *name)
{
  for (int i = 0; i < SEGCAM_OP_COUNT; i++)
    if (strcmp (table[i]->name, name) == 0)
      return i;
  return -1;
}

const char *
segcam_op_name (segcam_op op)
{
  return op < SEGCAM_OP_COUNT ? table[op]->name : "?";
}
