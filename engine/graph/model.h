/* model.h — the in-memory network: a topologically sorted list of nodes with plain parameter
 * structs (ggml-style), weights already repacked for channels-last execution. Internal to the
 * engine; segcam.h is the public face. */
#ifndef SEGCAM_MODEL_H
#define SEGCAM_MODEL_H

#include "op.h"

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
  int fixed_w, fixed_h;   /* segcam.fixed_size: the only input size the network runs at; 0: any */
  int train_w, train_h;   /* segcam.training_size: the size it was trained at; 0: not recorded */

  int n_classes;
  segcam_class *classes;
  gboolean sigmoid;       /* output_activation "sigmoid" */

  int n_nodes;
  segcam_node *nodes;     /* topological order, only ancestors of the output; nodes[0] = input */
  int output;
  int default_layer;
  int64_t n_parameters;

  /* The container the nodes' tensors were parsed from, when the model keeps it (adopt) rather
   * than copies of what they borrow from it; with the bytes its borrowed tensors point into. */
  segcam_safetensors *source;
  GBytes *source_bytes;
};

/* A model from a parsed container (tensors and segcam.* metadata), validated as a file is; it
 * keeps copies of what it needs of st. */
segcam_model *segcam_model_from_safetensors (const segcam_safetensors *st, GError **error);
/* The same, reading st's tensors where they are (a conv's weights until they are packed,
 * op.h): st must outlive the model. For a model used and dropped while st is at hand. */
segcam_model *segcam_model_borrow_safetensors (const segcam_safetensors *st, GError **error);
/* The same, and the model takes st's contents (st is left empty) and a reference to bytes
 * (NULL: none), which st's borrowed tensors point into (segcam_safetensors_view). On failure st
 * is left as it was. */
segcam_model *segcam_model_adopt_safetensors (segcam_safetensors *st, GBytes *bytes,
                                              GError **error);

/* Depth-first post-order of root and its ancestors among n nodes, with cycle detection; iterative,
 * as a hostile file may chain 100000 nodes. input (ctx, v, k) is the node that feeds input k of
 * node v (k < n_inputs (ctx, v)), or -1 for none; a root < 0 has no ancestors. order (n entries)
 * receives the nodes, inputs before users, and *n_order their count. Returns -1, or a node on a
 * cycle (found before the order was complete). Model files and ONNX graphs are sorted by it. */
int segcam_sort_ancestors (int n, int root, int (*n_inputs) (const void *ctx, int v),
                           int (*input) (const void *ctx, int v, int k), const void *ctx,
                           int *order, int *n_order);

/* Shapes of every node for a batch of padded inputs of hp x wp; acts[i].data stays NULL. */
gboolean segcam_model_shapes (const segcam_model *m, int batch, int hp, int wp, segcam_act *acts,
                             GError **error);

#endif /* SEGCAM_MODEL_H */
