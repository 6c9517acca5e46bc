/* block-outputs.h — the nodes `--layer blocks` sweeps (README, "Command line"): each module's
 * output, found from the node names, or where the names say nothing, the last node at each
 * resolution. */
#ifndef SEGCAM_BLOCK_OUTPUTS_H
#define SEGCAM_BLOCK_OUTPUTS_H

#include "segcam.h"

/* The block outputs of model in topological order (never the input or the output node); their
 * count in *n, at least 1 when the model has a node between input and output. shapes are
 * segcam_model_infer_shapes's for some image size. g_free.
 *
 * A node's module is the longest start of its name, cut before a '.' or '/', that at least one
 * other node's name also starts with ("down1" for "down1.relu2", "/backbone/layer4/layer4.2" for
 * "/backbone/layer4/layer4.2/relu_2/Relu_output_0"). Each module's output is the last node of
 * that module, except for a side branch: the one module nested in another whose nodes come both
 * before and after it (a ResNet block's "downsample"; where several are nested so, they are the
 * stages of a container, and each counts). When no node has a module, the block outputs are the
 * last node before each change of resolution. */
int *segcam_block_outputs (const segcam_model *model, const int *shapes, int *n);

#endif /* SEGCAM_BLOCK_OUTPUTS_H */
