/* fuzz-safetensors.c — libFuzzer entry for the safetensors reader.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iengine/include -Iengine/core \
 *     $(pkg-config --cflags glib-2.0 json-glib-1.0) tests/fuzz/fuzz-safetensors.c \
 *     engine/format/safetensors.c engine/core/error.c \
 *     $(pkg-config --libs glib-2.0 json-glib-1.0) -o fuzz-st
 *   mkdir -p /tmp/corpus && ./fuzz-st /tmp/corpus tests/fuzz/corpus-safetensors
 *
 * New inputs go to the first (scratch) directory, so the seed corpus stays small. Besides memory
 * errors, the target traps when an accepted file breaks what callers rely on.
 */
#include "safetensors.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void check_invariants (const segcam_safetensors *st)
{
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, st->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_utf8_validate (key, -1, NULL) || !g_utf8_validate (value, -1, NULL))
      __builtin_trap ();
  for (int i = 0; i < st->n_tensors; i++) {
    const segcam_tensor *t = &st->tensors[i];
    size_t n = 1;
    for (int d = 0; d < t->n_dims; d++)
      n *= (size_t) t->shape[d];
    if (!g_utf8_validate (t->name, -1, NULL) || n != t->n_elements || (n > 0 && !t->data)
        || segcam_safetensors_find (st, t->name) != t)
      __builtin_trap ();
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  segcam_safetensors st;
  GError *error = NULL;
  if (segcam_safetensors_parse (data, size, &st, &error)) {
    check_invariants (&st);
  } else {
    if (!error || strchr (error->message, '\n') || !g_utf8_validate (error->message, -1, NULL))
      __builtin_trap ();
    g_error_free (error);
  }
  segcam_safetensors_clear (&st);
  return 0;
}
