/* load.c — model files of either container. An ONNX file is translated in memory (onnx-import.c)
 * into what a segcam file holds, so one validation path (model.c) serves both. */
#include "model.h"
#include "onnx-import.h"
#include "safetensors.h"

/* path, when known, locates an ONNX file's class-name side file. The tensors are read in place
 * from data (segcam_safetensors_view), which outlives st here. */
static segcam_model *
load_bytes (const uint8_t *data, size_t size, const char *path, GError **error)
{
  segcam_safetensors st;
  gboolean parsed = segcam_onnx_is_onnx (data, size, path)
                      ? segcam_onnx_import (data, size, path, NULL, &st, error)
                      : segcam_safetensors_view (data, size, &st, error);
  if (!parsed)
    return NULL;
  segcam_model *m = segcam_model_from_safetensors (&st, error);
  segcam_safetensors_clear (&st);
  return m;
}

segcam_model *
segcam_model_load_from_data (const uint8_t *data, size_t size, GError **error)
{
  return load_bytes (data, size, NULL, error);
}

segcam_model *
segcam_model_load (const char *path, GError **error)
{
  GError *ferr = NULL;
  GMappedFile *f = g_mapped_file_new (path, FALSE, &ferr);
  if (!f)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL, "cannot read model: %s", ferr->message);
      g_error_free (ferr);
      return NULL;
    }
  GError *lerr = NULL;
  segcam_model *m = load_bytes ((const uint8_t *) g_mapped_file_get_contents (f),
                                g_mapped_file_get_length (f), path, &lerr);
  g_mapped_file_unref (f);
  if (!m)
    {
      char *base = g_path_get_basename (path);
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL, "%s: %s", base, lerr->message);
      g_free (base);
      g_error_free (lerr);
    }
  return m;
}

