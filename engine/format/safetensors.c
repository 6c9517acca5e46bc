/* safetensors.c — strict safetensors reader and writer (docs/model-format.md, 'Container').
 *
 * Parsing runs in stages, each trusting only what the previous one proved:
 *   1. the 8-byte header length against the file size and a 100 MB cap;
 *   2. the strict JSON reader (json.h): UTF-8, strict tokens, bounded nesting and size, and
 *      duplicate keys refused, which json-glib alone would collapse into one;
 *   3. every entry is checked and the byte ranges must tile the data section exactly;
 *   4. only then are tensors allocated (their total is bounded by the file size) and copied out.
 */
#include "safetensors.h"
#include "error.h"
#include "fp16.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define MAX_HEADER_BYTES (100 * 1000 * 1000)  /* as the reference implementation */
#define MAX_TENSORS 100000
#define MAX_SHOWN_CHARS SEGCAM_SHOWN_CHARS

typedef enum { DTYPE_F32, DTYPE_F16, DTYPE_BF16, N_DTYPES } dtype;

static const struct { const char *name; int size; } dtypes[N_DTYPES] = {
  [DTYPE_F32] = { "F32", 4 }, [DTYPE_F16] = { "F16", 2 }, [DTYPE_BF16] = { "BF16", 2 },
};

/* One header entry, checked but not yet loaded. */
typedef struct {
  const char *name;  /* owned by the JSON tree */
  dtype type;
  int n_dims;
  int64_t shape[SEGCAM_TENSOR_MAX_DIMS];
  uint64_t n_elements, begin, end;
  int index;         /* position in the header: orders tensors that share offsets */
} entry;

/* ---- Bytes and numbers ------------------------------------------------------------------- */

/* Explicit little-endian loads and stores keep the file format independent of the host. */
static uint16_t load_le16 (const uint8_t *p) { return (uint16_t) (p[0] | p[1] << 8); }

static uint32_t load_le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t load_le64 (const uint8_t *p)
{
  return load_le32 (p) | (uint64_t) load_le32 (p + 4) << 32;
}

static void store_le64 (uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t) (v >> 8 * i);
}

static void widen (const uint8_t *src, dtype type, size_t n, float *dst)
{
  switch (type) {
  case DTYPE_F32:
    for (size_t i = 0; i < n; i++)
      dst[i] = segcam_float_from_bits (load_le32 (src + 4 * i));
    break;
  case DTYPE_F16:
    for (size_t i = 0; i < n; i++)
      dst[i] = segcam_f16_to_f32 (load_le16 (src + 2 * i));
    break;
  default:
    for (size_t i = 0; i < n; i++)
      dst[i] = segcam_bf16_to_f32 (load_le16 (src + 2 * i));
    break;
  }
}

/* ---- Errors ------------------------------------------------------------------------------ */

#define fail(error, ...) segcam_fail (error, SEGCAM_ERROR_MODEL, __VA_ARGS__)

/* Each character escapes to at most 4 bytes ("\\x1b" or UTF-8); then "..." and the NUL. */
typedef struct { char text[MAX_SHOWN_CHARS * 4 + 4]; } shown_buf;

/* segcam_escape into buf, so that callers free nothing. */
static const char *show (shown_buf *buf, const char *s)
{
  char *escaped = segcam_escape (s, MAX_SHOWN_CHARS);
  g_strlcpy (buf->text, escaped, sizeof buf->text);
  g_free (escaped);
  return buf->text;
}

static gboolean G_GNUC_PRINTF (3, 4)
tensor_fail (GError **error, const char *name, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  shown_buf who;
  fail (error, "tensor '%s': %s", show (&who, name), what);
  g_free (what);
  return FALSE;
}

/* ---- Duplicate keys ---------------------------------------------------------------------- */

/* A repeated key named in the header's terms: a tensor, __metadata__ or a key of either. */
static gboolean duplicate_fail (const segcam_json_duplicate *dup, GError **error)
{
  shown_buf key;
  show (&key, dup->key);
  if (dup->level == 1 && strcmp (dup->key, "__metadata__") == 0)
    return fail (error, "header has __metadata__ twice");
  if (dup->level == 1)
    return fail (error, "duplicate tensor name '%s'", key.text);
  if (g_strcmp0 (dup->parent, "__metadata__") == 0)
    return fail (error, "__metadata__ has duplicate key '%s'", key.text);
  return tensor_fail (error, dup->parent ? dup->parent : "?", "duplicate key '%s'", key.text);
}

/* ---- Header entries ---------------------------------------------------------------------- */

/* Reads an array of min..max non-negative integers. */
static gboolean read_uints (JsonNode *node, const char *tensor, const char *field, guint min,
                            guint max, uint64_t *vals, guint *n, GError **error)
{
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return tensor_fail (error, tensor, "%s is not an array", field);
  JsonArray *array = json_node_get_array (node);
  guint len = json_array_get_length (array);
  if (len < min || len > max)
    return min == max
           ? tensor_fail (error, tensor, "%s has %u elements, expected %u", field, len, min)
           : tensor_fail (error, tensor, "%s has %u elements, at most %u allowed", field, len, max);
  for (guint i = 0; i < len; i++) {
    JsonNode *v = json_array_get_element (array, i);
    if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64)
      return tensor_fail (error, tensor, "%s[%u] is not an integer", field, i);
    if (json_node_get_int (v) < 0)
      return tensor_fail (error, tensor, "%s[%u] is negative (%" G_GINT64_FORMAT ")", field, i,
                          json_node_get_int (v));
    vals[i] = (uint64_t) json_node_get_int (v);
  }
  *n = len;
  return TRUE;
}

static gboolean read_dtype (JsonNode *node, const char *tensor, dtype *type, GError **error)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return tensor_fail (error, tensor, "dtype is not a string");
  const char *name = json_node_get_string (node);
  for (int t = 0; t < N_DTYPES; t++)
    if (strcmp (name, dtypes[t].name) == 0) {
      *type = (dtype) t;
      return TRUE;
    }
  shown_buf s;
  return tensor_fail (error, tensor, "unsupported dtype %s (F32, F16 and BF16 are)",
                      show (&s, name));
}

static gboolean read_entry (const char *name, JsonNode *node, entry *e, GError **error)
{
  static const char *const fields[] = { "dtype", "shape", "data_offsets" };
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return tensor_fail (error, name, "entry is not an object");
  JsonObject *object = json_node_get_object (node);
  JsonObjectIter iter;
  const char *key;
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &key, NULL))
    if (strcmp (key, fields[0]) && strcmp (key, fields[1]) && strcmp (key, fields[2])) {
      shown_buf s;
      return tensor_fail (error, name, "unknown key '%s'", show (&s, key));
    }
  for (size_t f = 0; f < G_N_ELEMENTS (fields); f++)
    if (!json_object_has_member (object, fields[f]))
      return tensor_fail (error, name, "missing %s", fields[f]);

  uint64_t dims[SEGCAM_TENSOR_MAX_DIMS], offsets[2];
  guint n_dims, n_offsets;
  if (!read_dtype (json_object_get_member (object, "dtype"), name, &e->type, error)
      || !read_uints (json_object_get_member (object, "shape"), name, "shape", 0,
                      SEGCAM_TENSOR_MAX_DIMS, dims, &n_dims, error)
      || !read_uints (json_object_get_member (object, "data_offsets"), name, "data_offsets", 2, 2,
                      offsets, &n_offsets, error))
    return FALSE;

  e->name = name;
  e->n_dims = (int) n_dims;
  e->begin = offsets[0];
  e->end = offsets[1];
  uint64_t n_elements = 1, n_bytes;
  for (guint d = 0; d < n_dims; d++) {
    e->shape[d] = (int64_t) dims[d];
    if (__builtin_mul_overflow (n_elements, dims[d], &n_elements))
      return tensor_fail (error, name, "shape is too large, its element count overflows 64 bits");
  }
  if (__builtin_mul_overflow (n_elements, (uint64_t) dtypes[e->type].size, &n_bytes))
    return tensor_fail (error, name, "shape is too large, its byte size overflows 64 bits");
  e->n_elements = n_elements;
  if (e->end < e->begin)
    return tensor_fail (error, name, "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                        "] are reversed", e->begin, e->end);
  if (e->end - e->begin != n_bytes)
    return tensor_fail (error, name, "data_offsets span %" G_GUINT64_FORMAT " bytes but shape and "
                        "dtype %s need %" G_GUINT64_FORMAT, e->end - e->begin,
                        dtypes[e->type].name, n_bytes);
  return TRUE;
}

static gboolean read_metadata (JsonNode *node, GHashTable *metadata, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, "__metadata__ is not an object");
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init_ordered (&iter, json_node_get_object (node));
  while (json_object_iter_next_ordered (&iter, &key, &value)) {
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING) {
      shown_buf s;
      return fail (error, "__metadata__ value of '%s' is not a string", show (&s, key));
    }
    g_hash_table_insert (metadata, g_strdup (key), g_strdup (json_node_get_string (value)));
  }
  return TRUE;
}

/* Fills entries (room for every member) and metadata; returns the number of entries or -1. */
static int read_header (JsonObject *root, entry *entries, GHashTable *metadata, GError **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  int n = 0;
  json_object_iter_init_ordered (&iter, root);
  while (json_object_iter_next_ordered (&iter, &name, &node)) {
    if (strcmp (name, "__metadata__") == 0) {
      if (!read_metadata (node, metadata, error))
        return -1;
      continue;
    }
    if (!read_entry (name, node, &entries[n], error))
      return -1;
    entries[n].index = n;
    n++;
  }
  return n;
}

/* ---- Layout of the data section ---------------------------------------------------------- */

static int compare_entries (const void *pa, const void *pb)
{
  const entry *a = pa, *b = pb;
  if (a->begin != b->begin)
    return a->begin < b->begin ? -1 : 1;
  if (a->end != b->end)
    return a->end < b->end ? -1 : 1;
  return a->index - b->index;
}

/* Explains why e, following prev (NULL for the first) which ends at byte at, breaks the tiling. */
static gboolean layout_fail (const entry *e, const entry *prev, uint64_t at, uint64_t data_size,
                             GError **error)
{
  shown_buf a, b;
  show (&a, e->name);
  show (&b, prev ? prev->name : "");
  if (e->end > data_size)
    return fail (error, "tensor '%s' ends at byte %" G_GUINT64_FORMAT " beyond the data section (%"
                 G_GUINT64_FORMAT " bytes)", a.text, e->end, data_size);
  if (e->begin < at)
    return fail (error, "tensor '%s' overlaps tensor '%s'", a.text, b.text);
  if (prev)
    return fail (error, "tensor '%s' starts at byte %" G_GUINT64_FORMAT ", leaving a hole of %"
                 G_GUINT64_FORMAT " bytes after tensor '%s'", a.text, e->begin, e->begin - at,
                 b.text);
  return fail (error, "tensor '%s' starts at byte %" G_GUINT64_FORMAT ", leaving a hole at the "
               "start of the data section", a.text, e->begin);
}

/* Sorted by offset, the ranges must tile [0, data_size): no holes (polyglot files), no
 * overlaps, nothing past the end and nothing left over. */
static gboolean check_tiling (const entry *entries, int n, uint64_t data_size, GError **error)
{
  uint64_t at = 0;
  for (int i = 0; i < n; i++) {
    const entry *e = &entries[i];
    if (e->end > data_size || e->begin != at)
      return layout_fail (e, i > 0 ? &entries[i - 1] : NULL, at, data_size, error);
    at = e->end;
  }
  if (at < data_size)
    return fail (error, "data section has %" G_GUINT64_FORMAT " bytes after the last tensor%s",
                 data_size - at, n == 0 ? " (the header lists none)" : "");
  return TRUE;
}

/* Whether a tensor's stored bytes already are the floats it holds, in place. */
static gboolean usable_in_place (const entry *e, const uint8_t *bytes)
{
  return e->type == DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN
         && (uintptr_t) bytes % _Alignof (float) == 0;
}

static gboolean load_tensors (const entry *entries, int n, const uint8_t *data_section,
                              gboolean borrow, segcam_safetensors *out, GError **error)
{
  out->tensors = g_new0 (segcam_tensor, n);
  out->n_tensors = n;
  for (int i = 0; i < n; i++) {
    const entry *e = &entries[i];
    segcam_tensor *t = &out->tensors[i];
    t->name = g_strdup (e->name);
    t->n_dims = e->n_dims;
    memcpy (t->shape, e->shape, (size_t) e->n_dims * sizeof *t->shape);
    t->n_elements = (size_t) e->n_elements; /* <= the file size, by the tiling */
    if (t->n_elements == 0)
      continue;
    if (borrow && usable_in_place (e, data_section + e->begin)) {
      t->data = (float *) (data_section + e->begin);
      t->borrowed = TRUE;
      continue;
    }
    t->data = g_try_malloc_n (t->n_elements, sizeof (float));
    if (!t->data) {
      shown_buf s;
      return segcam_fail (error, SEGCAM_ERROR_MEMORY, "out of memory for tensor '%s' (%zu floats)",
                        show (&s, t->name), t->n_elements);
    }
    widen (data_section + e->begin, e->type, t->n_elements, t->data);
  }
  return TRUE;
}

/* ---- Reader ------------------------------------------------------------------------------ */

static gboolean parse (const uint8_t *data, size_t size, gboolean borrow, segcam_safetensors *out,
                       GError **error)
{
  memset (out, 0, sizeof *out);
  if (size < 8)
    return fail (error, "file is %zu bytes, too short for a safetensors header", size);
  uint64_t header_len = load_le64 (data);
  if (header_len > size - 8)
    return fail (error, "header length %" G_GUINT64_FORMAT " exceeds the file (%zu bytes)",
                 header_len, size);
  if (header_len > MAX_HEADER_BYTES)
    return fail (error, "header length %" G_GUINT64_FORMAT " exceeds the limit of %d bytes",
                 header_len, MAX_HEADER_BYTES);
  const char *text = (const char *) data + 8;
  if (header_len == 0 || text[0] != '{')
    return fail (error, "header is not a JSON object (it must start with '{')");
  JsonParser *parser = segcam_json_parse (text, header_len, "header", duplicate_fail, error);
  if (!parser)
    return FALSE;

  JsonObject *root = json_node_get_object (json_parser_get_root (parser)); /* text starts with { */
  if (json_object_get_size (root) - (guint) json_object_has_member (root, "__metadata__")
      > MAX_TENSORS) {
    g_object_unref (parser);
    return fail (error, "header lists more than %d tensors", MAX_TENSORS);
  }
  entry *entries = g_new (entry, json_object_get_size (root));
  GHashTable *metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const uint8_t *data_section = data + 8 + header_len;
  uint64_t data_size = size - 8 - header_len;
  int n = read_header (root, entries, metadata, error);
  if (n > 1)
    qsort (entries, (size_t) n, sizeof *entries, compare_entries);
  gboolean ok = n >= 0 && check_tiling (entries, n, data_size, error);
  if (ok) {
    out->metadata = metadata;
    ok = load_tensors (entries, n, data_section, borrow, out, error);
    /* Loaders look tensors up by name once per reference: keep that O(1) for hostile files. */
    out->index = g_hash_table_new (g_str_hash, g_str_equal);
    for (int i = 0; ok && i < out->n_tensors; i++)
      g_hash_table_insert (out->index, out->tensors[i].name, &out->tensors[i]);
  } else {
    g_hash_table_unref (metadata);
  }
  g_free (entries);
  g_object_unref (parser);
  if (!ok)
    segcam_safetensors_clear (out);
  return ok;
}

gboolean segcam_safetensors_parse (const uint8_t *data, size_t size, segcam_safetensors *out,
                                   GError **error)
{
  return parse (data, size, FALSE, out, error);
}

gboolean segcam_safetensors_view (const uint8_t *data, size_t size, segcam_safetensors *out,
                                  GError **error)
{
  return parse (data, size, TRUE, out, error);
}

void segcam_safetensors_clear (segcam_safetensors *st)
{
  for (int i = 0; i < st->n_tensors; i++) {
    g_free (st->tensors[i].name);
    if (!st->tensors[i].borrowed)
      g_free (st->tensors[i].data);
  }
  g_free (st->tensors);
  if (st->metadata)
    g_hash_table_unref (st->metadata);
  if (st->index)
    g_hash_table_unref (st->index);
  memset (st, 0, sizeof *st);
}

const segcam_tensor *segcam_safetensors_find (const segcam_safetensors *st, const char *name)
{
  if (st->index)
    return g_hash_table_lookup (st->index, name);
  /* A table built in memory (the ONNX importer's) has no index. */
  for (int i = 0; i < st->n_tensors; i++)
    if (strcmp (st->tensors[i].name, name) == 0)
      return &st->tensors[i];
  return NULL;
}

size_t segcam_tensor_find_nonfinite (const segcam_tensor *t)
{
  size_t i = 0;
  while (i < t->n_elements && isfinite (t->data[i]))
    i++;
  return i;
}

const char *segcam_safetensors_metadata (const segcam_safetensors *st, const char *key)
{
  return st->metadata ? g_hash_table_lookup (st->metadata, key) : NULL;
}

/* ---- Writer ------------------------------------------------------------------------------ */

#define input_fail(error, ...) segcam_fail (error, SEGCAM_ERROR_INPUT, __VA_ARGS__)

static gboolean check_name (const char *name, const char *what, GHashTable *seen, GError **error)
{
  if (!name || !g_utf8_validate (name, -1, NULL))
    return input_fail (error, "%s is NULL or not valid UTF-8", what);
  if (!g_hash_table_add (seen, (gpointer) name))
    return input_fail (error, "%s '%s' is given twice", what, name);
  return TRUE;
}

static gboolean add_metadata (JsonBuilder *b, const char *const *keys, const char *const *values,
                              GError **error)
{
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  for (int i = 0; ok && keys[i]; i++) {
    ok = check_name (keys[i], "metadata key", seen, error);
    if (ok && (!values[i] || !g_utf8_validate (values[i], -1, NULL)))
      ok = input_fail (error, "metadata value of '%s' is NULL or not valid UTF-8", keys[i]);
    if (ok) {
      json_builder_set_member_name (b, keys[i]);
      json_builder_add_string_value (b, values[i]);
    }
  }
  json_builder_end_object (b);
  g_hash_table_unref (seen);
  return ok;
}

static void add_int_array (JsonBuilder *b, const char *name, const int64_t *vals, int n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    json_builder_add_int_value (b, vals[i]);
  json_builder_end_array (b);
}

static gboolean add_tensor (JsonBuilder *b, const segcam_tensor *t, uint64_t *offset,
                            GError **error)
{
  if (strcmp (t->name, "__metadata__") == 0)
    return input_fail (error, "tensor name __metadata__ is reserved");
  if (t->n_dims < 0 || t->n_dims > SEGCAM_TENSOR_MAX_DIMS)
    return input_fail (error, "tensor '%s' has %d dimensions", t->name, t->n_dims);
  uint64_t n = 1, n_bytes;
  for (int d = 0; d < t->n_dims; d++)
    if (t->shape[d] < 0 || __builtin_mul_overflow (n, (uint64_t) t->shape[d], &n))
      return input_fail (error, "tensor '%s' has a bad shape", t->name);
  if (n != t->n_elements || (n > 0 && !t->data))
    return input_fail (error, "tensor '%s' has %zu elements but its shape holds %" G_GUINT64_FORMAT,
                       t->name, t->n_elements, n);
  uint64_t end;
  if (__builtin_mul_overflow (n, 4, &n_bytes) || __builtin_add_overflow (*offset, n_bytes, &end)
      || end > INT64_MAX)
    return input_fail (error, "tensor '%s' is too large", t->name);
  int64_t offsets[2] = { (int64_t) *offset, (int64_t) end };
  *offset = end;
  json_builder_set_member_name (b, t->name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "dtype");
  json_builder_add_string_value (b, "F32");
  add_int_array (b, "shape", t->shape, t->n_dims);
  add_int_array (b, "data_offsets", offsets, 2);
  json_builder_end_object (b);
  return TRUE;
}

/* The header JSON padded with spaces to a multiple of 8, so that the data starts 8-aligned. */
static GString *build_header (const segcam_tensor *tensors, int n_tensors, const char *const *keys,
                              const char *const *values, GError **error)
{
  JsonBuilder *b = json_builder_new ();
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;
  uint64_t offset = 0;
  json_builder_begin_object (b);
  if (keys && !values)
    ok = input_fail (error, "metadata keys given without values");
  else if (keys)
    ok = add_metadata (b, keys, values, error);
  for (int i = 0; ok && i < n_tensors; i++)
    ok = check_name (tensors[i].name, "tensor name", seen, error)
         && add_tensor (b, &tensors[i], &offset, error);
  json_builder_end_object (b);
  GString *header = NULL;
  if (ok) {
    JsonGenerator *gen = json_generator_new ();
    JsonNode *root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    header = g_string_new (NULL);
    json_generator_to_gstring (gen, header);
    while (header->len % 8)
      g_string_append_c (header, ' ');
    json_node_unref (root);
    g_object_unref (gen);
  }
  g_hash_table_unref (seen);
  g_object_unref (b);
  return header;
}

static gboolean write_floats (FILE *f, const float *data, size_t n)
{
  uint8_t buf[4096];
  while (n > 0) {
    size_t k = MIN (n, sizeof buf / 4);
    for (size_t i = 0; i < k; i++) {
      uint32_t bits;
      memcpy (&bits, &data[i], 4);
      for (size_t j = 0; j < 4; j++)
        buf[4 * i + j] = (uint8_t) (bits >> 8 * j);
    }
    if (fwrite (buf, 4, k, f) != k)
      return FALSE;
    data += k;
    n -= k;
  }
  return TRUE;
}

gboolean segcam_safetensors_write (const char *path, const segcam_tensor *tensors, int n_tensors,
                                   const char *const *meta_keys, const char *const *meta_values,
                                   GError **error)
{
  GString *header = build_header (tensors, n_tensors, meta_keys, meta_values, error);
  if (!header)
    return FALSE;
  uint8_t len[8];
  store_le64 (len, header->len);
  int saved_errno = 0;
  FILE *f = g_fopen (path, "wb");
  GStatBuf st;
  gboolean regular = f && fstat (fileno (f), &st) == 0 && S_ISREG (st.st_mode);
  gboolean ok = f && fwrite (len, 1, 8, f) == 8
                && fwrite (header->str, 1, header->len, f) == header->len;
  for (int i = 0; ok && i < n_tensors; i++)
    ok = write_floats (f, tensors[i].data, tensors[i].n_elements);
  if (!ok)
    saved_errno = errno;
  if (f && fclose (f) != 0 && ok) {
    ok = FALSE;
    saved_errno = errno;
  }
  g_string_free (header, TRUE);
  if (ok)
    return TRUE;
  if (regular) /* no half-written model left behind; never unlink /dev/full and the like */
    g_remove (path);
  char *display = g_filename_display_name (path);
  fail (error, "cannot write '%s': %s", display, g_strerror (saved_errno ? saved_errno : EIO));
  g_free (display);
  return FALSE;
}
