/* load.c — model files of either container. An ONNX file is translated in memory (onnx-import.c)
 * into what a segcam file holds, so one validation path (model.c) serves both. */
#include "model.h"
#include "onnx-import.h"
#include "safetensors.h"

/* path, when known, locates an ONNX file's class-name side file. The model keeps the container
 * and bytes: the tensors of a segcam file are read in place (segcam_safetensors_view), and the
 * convs' weights are packed from there only when something needs them packed (op.h). */
static segcam_model *
load_bytes (GBytes *bytes, const char *path, GError **error)
{
  size_t size;
  const uint8_t *data = g_bytes_get_data (bytes, &size);
  segcam_safetensors st;
  gboolean onnx = segcam_onnx_is_onnx (data, size, path);
  gboolean parsed = onnx ? segcam_onnx_import (data, size, path, NULL, &st, error)
                         : segcam_safetensors_view (data, size, &st, error);
  if (!parsed)
    return NULL;
  /* an imported container owns its tensors */
  segcam_model *m = segcam_model_adopt_safetensors (&st, onnx ? NULL : bytes, error);
  if (!m)
    segcam_safetensors_clear (&st);
  return m;
}

segcam_model *
segcam_model_load_from_data (const uint8_t *data, size_t size, GError **error)
{
  /* a copy: the caller's data need not outlive the model */
  GBytes *bytes = g_bytes_new (data, size);
  segcam_model *m = load_bytes (bytes, NULL, error);
  g_bytes_unref (bytes);
  return m;
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
  GBytes *bytes = g_mapped_file_get_bytes (f);
  g_mapped_file_unref (f);
  GError *lerr = NULL;
  segcam_model *m = load_bytes (bytes, path, &lerr);
  g_bytes_unref (bytes);
  if (!m)
    {
      char *base = g_path_get_basename (path);
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL, "%s: %s", base, lerr->message);
      g_free (base);
      g_error_free (lerr);
    }
  return m;
}
