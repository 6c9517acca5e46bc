/* fuzz-onnx.c — libFuzzer entry for the ONNX importer (engine/import/onnx-import.c): protobuf unpacking,
 * the translation and the validation of its result by the model loader.
 *
 *   meson setup build-fuzz -Dfuzz=true -Dplugin=disabled -Dtools=disabled (CC=clang)
 *   mkdir -p /tmp/corpus && build-fuzz/tests/fuzz/fuzz-onnx /tmp/corpus tests/fuzz/corpus-onnx
 *
 * The seed corpus is written by make-onnx-corpus.py (python3-onnx).
 */
#include "onnx-import.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  segcam_safetensors st;
  GError *error = NULL;
  if (segcam_onnx_import (data, size, NULL, NULL, &st, &error))
    segcam_safetensors_clear (&st);
  else
    g_error_free (error);
  return 0;
}
