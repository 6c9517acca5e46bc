/* safetensors.h — strict reader and writer of the safetensors container (docs/model-format.md, 'Container').
 *
 * The reader treats the file as hostile: every length, offset, shape and dtype is checked with
 * overflow-safe arithmetic before use, and tensor byte ranges must tile the data section exactly
 * (no holes, no overlaps, nothing left over). F16 and BF16 tensors are widened to F32 on load;
 * tensors are copied out (or, with segcam_safetensors_view, used in place where they are aligned
 * F32), never cast in place unchecked, because offsets need not be aligned.
 */
#ifndef SEGCAM_SAFETENSORS_H
#define SEGCAM_SAFETENSORS_H

#include <glib.h>
#include <stdint.h>

#define SEGCAM_TENSOR_MAX_DIMS 8

typedef struct {
  char *name;
  int n_dims;
  int64_t shape[SEGCAM_TENSOR_MAX_DIMS];
  size_t n_elements;
  float *data;            /* n_elements floats, widened from the stored dtype */
  gboolean borrowed;      /* data points into the parsed bytes (segcam_safetensors_view) */
} segcam_tensor;

typedef struct {
  segcam_tensor *tensors; /* in the order of their data offsets */
  int n_tensors;
  GHashTable *metadata;   /* __metadata__: char * -> char *, owned; never NULL after parse */
  GHashTable *index;      /* tensor name -> segcam_tensor * into tensors (set by parse) */
} segcam_safetensors;

/* Parses a whole file image. On failure returns FALSE, sets a one-line error (SEGCAM_ERROR,
 * SEGCAM_ERROR_MODEL) and leaves *out empty. */
gboolean segcam_safetensors_parse (const uint8_t *data, size_t size, segcam_safetensors *out,
                                   GError **error);
/* As parse, but F32 tensors whose bytes are aligned floats are not copied: their data points
 * into data, which must then stay mapped and unchanged until *out is cleared, and is read-only.
 * A model load reads the weights once this way instead of copying the whole file first. */
gboolean segcam_safetensors_view (const uint8_t *data, size_t size, segcam_safetensors *out,
                                  GError **error);
void segcam_safetensors_clear (segcam_safetensors *st);

const segcam_tensor *segcam_safetensors_find (const segcam_safetensors *st, const char *name);
/* The index of the first NaN or infinity in t's data, or t->n_elements when all are finite. */
size_t segcam_tensor_find_nonfinite (const segcam_tensor *t);
const char *segcam_safetensors_metadata (const segcam_safetensors *st, const char *key);

/* Writes F32 tensors and string metadata (keys and values NULL-terminated arrays of equal length,
 * may be NULL) as a safetensors file, header padded with spaces to a multiple of 8. */
gboolean segcam_safetensors_write (const char *path, const segcam_tensor *tensors, int n_tensors,
                                   const char *const *meta_keys, const char *const *meta_values,
                                   GError **error);

#endif /* SEGCAM_SAFETENSORS_H */
