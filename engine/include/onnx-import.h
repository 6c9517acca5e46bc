/* onnx-import.h — ONNX segmentation networks as segcam models (docs/model-format.md,
 * 'ONNX import').
 *
 * An ONNX file is unpacked by protobuf-c (code generated from libonnx-dev's onnx.proto at build
 * time) and translated into what a segcam model file holds: F32 tensors and the segcam.*
 * metadata with a `segcam.graph`. The loader then validates that exactly as it validates a file, so
 * `.onnx` files load wherever a model path is accepted, and `segcam import` writes the same
 * translation out as a `.safetensors` model. Each node takes the name of the ONNX tensor it
 * produces. The file is untrusted: every failure is one line naming the node or tensor at fault.
 */
#ifndef SEGCAM_ONNX_IMPORT_H
#define SEGCAM_ONNX_IMPORT_H

#include "safetensors.h"

/* What the ONNX file cannot say. Every member may be NULL / 0 for "from the file's metadata
 * (segcam.classes, segcam.colors, segcam.mean, segcam.std, segcam.output, segcam.default_layer
 * in metadata_props), else the default". */
typedef struct {
  char **classes;         /* NULL-terminated names; default: a side file, else "class 0", ... */
  char **colors;          /* NULL-terminated "#rrggbb", one per class */
  int n_mean, n_std;      /* values in mean / std (1 or the input channels) */
  float mean[3], std[3];  /* default 0 and 1: the network sees R'G'B' in [0, 1] */
  const char *output;     /* the logits tensor; default: the graph's first output, with a final
                             Softmax or Sigmoid taken off */
  const char *default_layer; /* default: the deepest, widest feature map */
  const char *name;       /* segcam.name; default: the graph's name */
} segcam_onnx_options;

/* TRUE when data looks like an ONNX file rather than a safetensors file (or path ends in .onnx). */
gboolean segcam_onnx_is_onnx (const uint8_t *data, size_t size, const char *path);

/* Translates an ONNX model. path (may be NULL) locates the class-name side file PATH-without-
 * .onnx + ".classes.txt" (one name per line, optionally followed by " #rrggbb"), used when
 * options give no classes. options may be NULL. On success *out holds the tensors and metadata
 * of a segcam.format 2 model; free it with segcam_safetensors_clear. */
gboolean segcam_onnx_import (const uint8_t *data, size_t size, const char *path,
                             const segcam_onnx_options *options, segcam_safetensors *out,
                             GError **error);

/* Reads a class file: one class name per line, optionally followed by " #rrggbb"; blank lines
 * are skipped. colors[i] is "" for a class without a colour. Both are NULL-terminated. */
gboolean segcam_onnx_read_classes (const char *file, char ***classes, char ***colors,
                                   GError **error);

#endif /* SEGCAM_ONNX_IMPORT_H */
