/* test-safetensors.c — the safetensors reader and writer (engine/format/safetensors.c).
 *
 * Valid files round-trip through the writer or are built by hand (F16, BF16, unaligned offsets,
 * the in-place view);
 * every hostile case must fail with a one-line SEGCAM_ERROR_MODEL message naming the problem;
 * random mutations of a valid file must never crash the reader.
 */
#include "safetensors.h"
#include "segcam.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

/* One header entry as JSON text, e.g. ENTRY ("w", "F32", "[2]", "[0,8]"). */
#define ENTRY(name, dtype, shape, offsets) \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

/* A file image: 8-byte little-endian header length, header, data_len bytes of data (data may be
 * NULL for zeros). */
static GByteArray *make_file (const char *header, const void *data, size_t data_len)
{
  GByteArray *file = g_byte_array_new ();
  size_t n = strlen (header);
  uint8_t len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (uint8_t) ((uint64_t) n >> 8 * i);
  g_byte_array_append (file, len, 8);
  g_byte_array_append (file, (const uint8_t *) header, (guint) n);
  g_byte_array_set_size (file, (guint) (8 + n + data_len));
  if (data)
    memcpy (file->data + 8 + n, data, data_len);
  else
    memset (file->data + 8 + n, 0, data_len);
  return file;
}

static void expect_error_bytes (const uint8_t *data, size_t size, const char *phrase)
{
  segcam_safetensors st;
  GError *error = NULL;
  gboolean ok = segcam_safetensors_parse (data, size, &st, &error);
  g_assert_false (ok);
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
  if (!strstr (error->message, phrase))
    g_error ("message \"%s\" lacks \"%s\"", error->message, phrase);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_null (st.tensors);
  g_assert_cmpint (st.n_tensors, ==, 0);
  g_assert_null (st.metadata);
  g_test_message ("%s", error->message);
  g_error_free (error);
}

static void expect_error (const char *header, size_t data_len, const char *phrase)
{
  GByteArray *file = make_file (header, NULL, data_len);
  expect_error_bytes (file->data, file->len, phrase);
  g_byte_array_unref (file);
}

static void parse_ok (const GByteArray *file, segcam_safetensors *st)
{
  GError *error = NULL;
  gboolean ok = segcam_safetensors_parse (file->data, file->len, st, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_nonnull (st->metadata);
}

static uint32_t bits_of (float f)
{
  uint32_t b;
  memcpy (&b, &f, 4);
  return b;
}

/* ---- Valid files ------------------------------------------------------------------------- */

static void test_round_trip (void)
{
  float w[24], bias[2] = { -0.5f, 1e-30f }, scale = 3.25f;
  for (int i = 0; i < 24; i++)
    w[i] = (float) i * 0.25f - 2.0f;
  w[5] = NAN;
  w[6] = -INFINITY;
  segcam_tensor tensors[] = {
    { .name = "conv.weight", .n_dims = 4, .shape = { 2, 3, 2, 2 }, .n_elements = 24, .data = w },
    { .name = "conv.bias", .n_dims = 1, .shape = { 2 }, .n_elements = 2, .data = bias },
    { .name = "scale", .n_dims = 0, .n_elements = 1, .data = &scale },
    { .name = "empty", .n_dims = 2, .shape = { 3, 0 }, .n_elements = 0, .data = NULL },
    { .name = "tail ünï \"q\"", .n_dims = 1, .shape = { 1 }, .n_elements = 1, .data = &scale },
  };
  const char *keys[] = { "segcam.format", "quote", "unicode", "newlines", NULL };
  const char *values[] = { "1", "a \"quoted\" \\ back\\slash", "ünïcødé ✓ 🎨",
                           "line1\nline2\r\ttab\x01", NULL };
  char *dir = g_dir_make_tmp ("segcam-st-XXXXXX", NULL);
  char *path = g_build_filename (dir, "model.safetensors", NULL);
  GError *error = NULL;
  g_assert_true (segcam_safetensors_write (path, tensors, G_N_ELEMENTS (tensors), keys, values,
                                           &error));
  g_assert_no_error (error);

  char *contents;
  gsize size;
  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--)
    header_len = header_len << 8 | (uint8_t) contents[i];
  g_assert_cmpuint (header_len % 8, ==, 0);
  g_assert_cmpuint (size, ==, 8 + header_len + 4 * (24 + 2 + 1 + 0 + 1));

  segcam_safetensors st;
  g_assert_true (segcam_safetensors_parse ((const uint8_t *) contents, size, &st, &error));
  g_assert_no_error (error);
  g_assert_cmpint (st.n_tensors, ==, G_N_ELEMENTS (tensors));
  for (int i = 0; i < st.n_tensors; i++) {
    const segcam_tensor *a = &tensors[i], *b = &st.tensors[i]; /* written in order */
    g_assert_cmpstr (b->name, ==, a->name);
    g_assert_cmpint (b->n_dims, ==, a->n_dims);
    for (int d = 0; d < a->n_dims; d++)
      g_assert_cmpint (b->shape[d], ==, a->shape[d]);
    g_assert_cmpuint (b->n_elements, ==, a->n_elements);
    for (size_t k = 0; k < a->n_elements; k++)
      g_assert_cmphex (bits_of (b->data[k]), ==, bits_of (a->data[k]));
  }
  g_assert_true (segcam_safetensors_find (&st, "scale") == &st.tensors[2]);
  g_assert_null (segcam_safetensors_find (&st, "nope"));
  for (int i = 0; keys[i]; i++)
    g_assert_cmpstr (segcam_safetensors_metadata (&st, keys[i]), ==, values[i]);
  g_assert_null (segcam_safetensors_metadata (&st, "absent"));
  segcam_safetensors_clear (&st);
  segcam_safetensors_clear (&st); /* clearing twice is harmless */

  /* no metadata at all: an empty table */
  g_assert_true (segcam_safetensors_write (path, tensors, 1, NULL, NULL, &error));
  g_free (contents);
  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_true (segcam_safetensors_parse ((const uint8_t *) contents, size, &st, &error));
  g_assert_cmpuint (g_hash_table_size (st.metadata), ==, 0);
  segcam_safetensors_clear (&st);

  g_remove (path);
  g_rmdir (dir);
  g_free (contents);
  g_free (path);
  g_free (dir);
}

/* A bad argument gets SEGCAM_ERROR_INPUT and leaves no file behind. */
static void expect_write_error (const char *path, const segcam_tensor *tensors, int n,
                                const char *const *keys, const char *const *values,
                                const char *phrase)
{
  GError *error = NULL;
  g_assert_false (segcam_safetensors_write (path, tensors, n, keys, values, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  if (!strstr (error->message, phrase))
    g_error ("message \"%s\" lacks \"%s\"", error->message, phrase);
  g_error_free (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void test_write_rejects (void)
{
  float x = 1;
  segcam_tensor bad_count = { .name = "x", .n_dims = 1, .shape = { 2 }, .n_elements = 1,
                              .data = &x };
  segcam_tensor dup[2] = { { .name = "x", .n_elements = 1, .data = &x },
                           { .name = "x", .n_elements = 1, .data = &x } };
  segcam_tensor reserved = { .name = "__metadata__", .n_elements = 1, .data = &x };
  const char *keys[] = { "k", "k", NULL }, *values[] = { "a", "b", NULL };
  const char *bad_values[] = { "\xff", NULL };
  char *dir = g_dir_make_tmp ("segcam-st-XXXXXX", NULL);
  char *path = g_build_filename (dir, "m.safetensors", NULL);
  expect_write_error (path, &bad_count, 1, NULL, NULL,
                      "tensor 'x' has 1 elements but its shape holds 2");
  expect_write_error (path, dup, 2, NULL, NULL, "tensor name 'x' is given twice");
  expect_write_error (path, &reserved, 1, NULL, NULL, "__metadata__ is reserved");
  expect_write_error (path, NULL, 0, keys, values, "metadata key 'k' is given twice");
  expect_write_error (path, NULL, 0, keys + 1, bad_values, "not valid UTF-8");
  expect_write_error (path, NULL, 0, keys, NULL, "keys given without values");

  GError *error = NULL;
  char *missing = g_build_filename (dir, "no-such-dir", "m.safetensors", NULL);
  g_assert_false (segcam_safetensors_write (missing, NULL, 0, NULL, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "cannot write"));
  g_clear_error (&error);
  g_rmdir (dir);
  g_free (missing);
  g_free (path);
  g_free (dir);
}

static void test_f16 (void)
{
  const uint16_t h[] = { 0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555,
                         0x8000, 0x7c00, 0xfc00, 0x7e00 };
  const float want[] = { 1.0f, -2.5f, 65504.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f,
                         0.333251953125f, -0.0f, INFINITY, -INFINITY };
  uint8_t bytes[sizeof h];
  for (size_t i = 0; i < G_N_ELEMENTS (h); i++)
    bytes[2 * i] = h[i] & 0xff, bytes[2 * i + 1] = h[i] >> 8;
  GByteArray *file = make_file ("{" ENTRY ("h", "F16", "[11]", "[0,22]") "}", bytes, sizeof bytes);
  segcam_safetensors st;
  parse_ok (file, &st);
  const float *v = st.tensors[0].data;
  for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmphex (bits_of (v[i]), ==, bits_of (want[i]));
  g_assert_true (isnan (v[10]));
  segcam_safetensors_clear (&st);
  g_byte_array_unref (file);
}

static void test_bf16 (void)
{
  const uint16_t b[] = { 0x4049, 0x3f80, 0xc020, 0x0001, 0x7f80, 0xff80, 0x8000, 0x7fc0 };
  const float want[] = { 3.140625f, 1.0f, -2.5f, 0x1p-133f, INFINITY, -INFINITY, -0.0f };
  uint8_t bytes[sizeof b];
  for (size_t i = 0; i < G_N_ELEMENTS (b); i++)
    bytes[2 * i] = b[i] & 0xff, bytes[2 * i + 1] = b[i] >> 8;
  GByteArray *file = make_file ("{" ENTRY ("b", "BF16", "[2,4]", "[0,16]") "}", bytes,
                                sizeof bytes);
  segcam_safetensors st;
  parse_ok (file, &st);
  const segcam_tensor *t = &st.tensors[0];
  g_assert_cmpint (t->n_dims, ==, 2);
  g_assert_cmpuint (t->n_elements, ==, 8);
  for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmphex (bits_of (t->data[i]), ==, bits_of (want[i]));
  g_assert_true (isnan (t->data[7]));
  segcam_safetensors_clear (&st);
  g_byte_array_unref (file);
}

/* An F16 tensor of odd length puts the next F32 tensor at an unaligned offset: valid. The header
 * lists tensors out of offset order, with two empty tensors sharing an offset. */
static void test_unaligned (void)
{
  uint8_t bytes[6 + 8];
  const uint16_t h[3] = { 0x3c00, 0x4000, 0x4200 }; /* 1, 2, 3 */
  const float f[2] = { -7.5f, 1e20f };
  for (int i = 0; i < 3; i++)
    bytes[2 * i] = h[i] & 0xff, bytes[2 * i + 1] = h[i] >> 8;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 4; j++)
      bytes[6 + 4 * i + j] = (uint8_t) (bits_of (f[i]) >> 8 * j);
  GByteArray *file = make_file ("{" ENTRY ("f", "F32", "[2]", "[6,14]") ","
                                ENTRY ("e", "F32", "[0,5]", "[6,6]") ",\"__metadata__\":{},"
                                ENTRY ("d", "BF16", "[0]", "[6,6]") ","
                                ENTRY ("h", "F16", "[3]", "[0,6]") "}   ",
                                bytes, sizeof bytes);
  segcam_safetensors st;
  parse_ok (file, &st);
  g_assert_cmpint (st.n_tensors, ==, 4);
  g_assert_cmpstr (st.tensors[0].name, ==, "h");
  g_assert_cmpstr (st.tensors[1].name, ==, "e"); /* same offsets: header order */
  g_assert_cmpstr (st.tensors[2].name, ==, "d");
  g_assert_cmpstr (st.tensors[3].name, ==, "f");
  g_assert_cmpfloat (st.tensors[0].data[2], ==, 3.0f);
  g_assert_cmpuint (st.tensors[1].n_elements, ==, 0);
  g_assert_null (st.tensors[1].data);
  g_assert_cmpfloat (st.tensors[3].data[0], ==, -7.5f);
  g_assert_cmpfloat (st.tensors[3].data[1], ==, 1e20f);
  segcam_safetensors_clear (&st);
  g_byte_array_unref (file);
}

/* The view reads aligned F32 tensors in place and copies the rest, with the same values as
 * parse; clearing it frees only what it copied (AddressSanitizer would see a bad free). */
static void test_view (void)
{
  const float f[3] = { -7.5f, 1e20f, 0x1p-140f };
  uint8_t bytes[8 + 2 + 4];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      bytes[(i < 2 ? 4 * i : 10) + j] = (uint8_t) (bits_of (f[i]) >> 8 * j);
  bytes[8] = 0x00, bytes[9] = 0x3c; /* F16 1.0 */
  const char *header = "{" ENTRY ("a", "F32", "[2]", "[0,8]") ","
                       ENTRY ("h", "F16", "[1]", "[8,10]") ","
                       ENTRY ("u", "F32", "[1]", "[10,14]") "}";
  char *padded = g_strdup_printf ("%-*s", (int) (strlen (header) + 7) / 8 * 8, header);
  GByteArray *file = make_file (padded, bytes, sizeof bytes);
  segcam_safetensors copied, viewed;
  GError *error = NULL;
  parse_ok (file, &copied);
  g_assert_true (segcam_safetensors_view (file->data, file->len, &viewed, &error));
  g_assert_no_error (error);
  g_assert_cmpint (viewed.n_tensors, ==, 3);
  const uint8_t *section = file->data + 8 + strlen (padded);
  g_assert_cmpuint ((uintptr_t) section % 4, ==, 0); /* GByteArray's buffer is malloc-aligned */
  for (int i = 0; i < 3; i++) {
    const segcam_tensor *c = &copied.tensors[i], *v = &viewed.tensors[i];
    g_assert_cmpstr (v->name, ==, c->name);
    g_assert_false (c->borrowed);
    for (size_t k = 0; k < c->n_elements; k++)
      g_assert_cmphex (bits_of (v->data[k]), ==, bits_of (c->data[k]));
  }
  g_assert_true (viewed.tensors[0].borrowed);
  g_assert_true ((const uint8_t *) viewed.tensors[0].data == section);
  g_assert_false (viewed.tensors[1].borrowed); /* F16, widened */
  g_assert_false (viewed.tensors[2].borrowed); /* at byte 10: not float-aligned */
  g_assert_cmpfloat (viewed.tensors[2].data[0], ==, 0x1p-140f);
  segcam_safetensors_clear (&viewed);
  segcam_safetensors_clear (&copied);
  g_byte_array_unref (file);
  g_free (padded);
}

static void test_empty_header (void)
{
  GByteArray *file = make_file ("{}", NULL, 0);
  segcam_safetensors st;
  parse_ok (file, &st);
  g_assert_cmpint (st.n_tensors, ==, 0);
  segcam_safetensors_clear (&st);
  g_byte_array_unref (file);
}

/* Escapes decode exactly, surrogate pairs included; -0 reads as 0. */
static void test_escapes (void)
{
  GByteArray *file = make_file ("{\"__metadata__\":{\"k\\u00e9\":\"\\ud83d\\ude00 \\\"\\/\\t\"},"
                                ENTRY ("w\\u0041\\n", "F32", "[-0]", "[0,0]") "}", NULL, 0);
  segcam_safetensors st;
  parse_ok (file, &st);
  g_assert_cmpstr (st.tensors[0].name, ==, "wA\n");
  g_assert_cmpint (st.tensors[0].shape[0], ==, 0);
  g_assert_cmpstr (segcam_safetensors_metadata (&st, "k\u00e9"), ==, "\U0001F600 \"/\t");
  segcam_safetensors_clear (&st);
  g_byte_array_unref (file);
}

/* ---- Hostile files ----------------------------------------------------------------------- */

static void test_bad_lengths (void)
{
  const uint8_t five[5] = { 0 };
  expect_error_bytes (five, 0, "file is 0 bytes, too short");
  expect_error_bytes (five, 5, "file is 5 bytes, too short");

  uint8_t file[20] = { 0xe8, 0x03 }; /* header length 1000 */
  expect_error_bytes (file, sizeof file, "header length 1000 exceeds the file (20 bytes)");
  memset (file, 0, 8);
  file[7] = 0x80; /* 2^63 */
  expect_error_bytes (file, sizeof file, "header length 9223372036854775808 exceeds the file");
  memset (file, 0xff, 8);
  expect_error_bytes (file, sizeof file, "header length 18446744073709551615 exceeds the file");
  memset (file, 0, 8); /* length 0 */
  expect_error_bytes (file, sizeof file, "not a JSON object");

  /* over the cap though inside the file (calloc'd pages stay untouched) */
  size_t big = 100 * 1000 * 1000 + 16;
  uint8_t *huge = g_malloc0 (big);
  uint64_t n = big - 8;
  for (int i = 0; i < 8; i++)
    huge[i] = (uint8_t) (n >> 8 * i);
  expect_error_bytes (huge, big, "exceeds the limit of 100000000 bytes");
  g_free (huge);
}

typedef struct {
  const char *header;
  size_t data_len;
  const char *phrase;
} hostile_case;

static const struct { const char *name; hostile_case c; } hostile[] = {
  { "json-syntax", { "{\"a\": {\"dtype\": \"F32\",", 0, "header is not valid JSON" } },
  { "json-missing-comma", { "{\"a\":1 \"b\":2}", 0, "header is not valid JSON" } },
  { "json-array", { "[1, 2]", 0, "header is not a JSON object" } },
  { "json-leading-space", { " {}", 0, "header is not a JSON object" } },
  { "json-trailing-value", { "{} {}", 0, "bytes after its JSON value" } },
  { "json-trailing-garbage", { "{}  x", 0, "bytes after its JSON value" } },
  { "json-comment", { "{/* c */}", 0, "unexpected character at byte 1" } },
  { "json-single-quotes", { "{'a':1}", 0, "unexpected character" } },
  { "json-hex", { "{" ENTRY ("a", "F32", "[0x1]", "[0,4]") "}", 4, "unexpected character" } },
  { "json-octal", { "{" ENTRY ("a", "F32", "[01]", "[0,4]") "}", 4, "malformed number" } },
  { "json-plus", { "{" ENTRY ("a", "F32", "[+1]", "[0,4]") "}", 4, "unexpected character" } },
  { "json-wrapping-integer", { "{" ENTRY ("a", "F32", "[1]", "[0,18446744073709551620]") "}", 4,
                               "outside the signed 64-bit range" } },
  { "json-int64-min", { "{" ENTRY ("a", "F32", "[-9223372036854775809]", "[0,4]") "}", 4,
                        "outside the signed 64-bit range" } },
  /* 2^63 + 7 fits in 64 bits: the message says which range it is outside of. */
  { "json-offset-2^63+7", { "{" ENTRY ("a", "F32", "[1]", "[0,9223372036854775815]") "}", 4,
                            "integer outside the signed 64-bit range (at most 2^63-1) at byte" } },
  { "json-control-char", { "{\"a\nb\":1}", 0, "raw control character" } },
  { "json-nul-escape", { "{\"a\\u0000b\":1}", 0, "\\u0000 escape" } },
  { "json-bad-escape", { "{\"a\\qb\":1}", 0, "bad escape sequence" } },
  { "json-bad-u-escape", { "{\"a\\u12\":1}", 0, "bad \\u escape" } },
  { "json-lone-high-surrogate", { "{\"a\\ud800x\":1}", 0, "unpaired surrogate escape at byte 3" } },
  { "json-high-high-surrogate", { "{\"a\\ud800\\ud800\":1}", 0, "unpaired surrogate" } },
  { "json-lone-low-surrogate", { "{\"a\\udc00\":1}", 0, "unpaired surrogate" } },
  { "json-truncated-surrogate", { "{\"a\\ud800\\u12", 0, "unpaired surrogate" } },
  { "json-unterminated", { "{\"abc", 0, "unterminated string" } },
  { "json-bad-utf8", { "{\"\xff\":1}", 0, "not valid UTF-8" } },
  { "json-literal", { "{\"a\":nul}", 0, "unexpected character" } },
  { "entry-not-object", { "{\"a\":5}", 0, "tensor 'a': entry is not an object" } },
  { "entry-null", { "{\"a\":null}", 0, "tensor 'a': entry is not an object" } },
  { "missing-dtype", { "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                       "tensor 'a': missing dtype" } },
  { "missing-shape", { "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
                       "tensor 'a': missing shape" } },
  { "missing-offsets", { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
                         "tensor 'a': missing data_offsets" } },
  { "unknown-key", { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
                     "tensor 'a': unknown key 'x'" } },
  { "dtype-not-string", { "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                          "tensor 'a': dtype is not a string" } },
  { "dtype-i64", { "{" ENTRY ("x", "I64", "[1]", "[0,8]") "}", 8,
                   "tensor 'x': unsupported dtype I64" } },
  { "dtype-f64", { "{" ENTRY ("x", "F64", "[1]", "[0,8]") "}", 8,
                   "tensor 'x': unsupported dtype F64" } },
  { "dtype-u8", { "{" ENTRY ("x", "U8", "[1]", "[0,1]") "}", 1,
                  "tensor 'x': unsupported dtype U8" } },
  { "dtype-lowercase", { "{" ENTRY ("x", "f32", "[1]", "[0,4]") "}", 4, "unsupported dtype f32" } },
  { "shape-not-array", { "{" ENTRY ("a", "F32", "3", "[0,12]") "}", 12,
                         "tensor 'a': shape is not an array" } },
  { "shape-negative", { "{" ENTRY ("a", "F32", "[2,-1]", "[0,4]") "}", 4,
                        "tensor 'a': shape[1] is negative (-1)" } },
  { "shape-float", { "{" ENTRY ("a", "F32", "[1.0]", "[0,4]") "}", 4,
                     "tensor 'a': shape[0] is not an integer" } },
  { "shape-exponent", { "{" ENTRY ("a", "F32", "[1e0]", "[0,4]") "}", 4,
                        "shape[0] is not an integer" } },
  { "shape-string", { "{" ENTRY ("a", "F32", "[\"1\"]", "[0,4]") "}", 4,
                      "shape[0] is not an integer" } },
  { "shape-bool", { "{" ENTRY ("a", "F32", "[true]", "[0,4]") "}", 4,
                    "shape[0] is not an integer" } },
  { "shape-nested", { "{" ENTRY ("a", "F32", "[[1]]", "[0,4]") "}", 4,
                      "shape[0] is not an integer" } },
  { "shape-too-many-dims", { "{" ENTRY ("a", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4,
                             "tensor 'a': shape has 9 elements, at most 8 allowed" } },
  { "shape-overflow", { "{" ENTRY ("a", "F32", "[1099511627776,1099511627776]", "[0,4]") "}", 4,
                        "tensor 'a': shape is too large, its element count overflows" } },
  { "shape-bytes-overflow", { "{" ENTRY ("a", "F32", "[4611686018427387904]", "[0,4]") "}", 4,
                              "its byte size overflows" } },
  { "offsets-not-array", { "{" ENTRY ("a", "F32", "[1]", "{}") "}", 4,
                           "data_offsets is not an array" } },
  { "offsets-one", { "{" ENTRY ("a", "F32", "[1]", "[4]") "}", 4,
                     "data_offsets has 1 elements, expected 2" } },
  { "offsets-three", { "{" ENTRY ("a", "F32", "[1]", "[0,4,8]") "}", 8,
                       "data_offsets has 3 elements, expected 2" } },
  { "offsets-reversed", { "{" ENTRY ("a", "F32", "[1]", "[8,4]") "}", 8,
                          "tensor 'a': data_offsets [8, 4] are reversed" } },
  { "offsets-negative", { "{" ENTRY ("a", "F32", "[1]", "[-4,0]") "}", 4,
                          "data_offsets[0] is negative" } },
  { "offsets-float", { "{" ENTRY ("a", "F32", "[1]", "[0,4.0]") "}", 4,
                       "data_offsets[1] is not an integer" } },
  { "byte-length", { "{" ENTRY ("a", "F32", "[2,3]", "[0,12]") "}", 12,
                     "tensor 'a': data_offsets span 12 bytes but shape and dtype F32 need 24" } },
  { "byte-length-f16", { "{" ENTRY ("a", "F16", "[3]", "[0,12]") "}", 12,
                         "span 12 bytes but shape and dtype F16 need 6" } },
  { "out-of-range", { "{" ENTRY ("w", "F32", "[1024]", "[0,4096]") "}", 4000,
                      "tensor 'w' ends at byte 4096 beyond the data section (4000 bytes)" } },
  { "overlap", { "{" ENTRY ("a", "F32", "[2]", "[0,8]") ","
                   ENTRY ("b", "F32", "[2]", "[4,12]") "}", 12,
                 "tensor 'b' overlaps tensor 'a'" } },
  { "overlap-same-begin", { "{" ENTRY ("a", "F32", "[2]", "[0,8]") ","
                              ENTRY ("b", "F32", "[1]", "[0,4]") "}", 8,
                            "tensor 'a' overlaps tensor 'b'" } },
  { "hole", { "{" ENTRY ("a", "F32", "[1]", "[0,4]") ","
                ENTRY ("b", "F32", "[1]", "[8,12]") "}", 12,
              "tensor 'b' starts at byte 8, leaving a hole of 4 bytes after tensor 'a'" } },
  { "hole-at-start", { "{" ENTRY ("a", "F32", "[1]", "[4,8]") "}", 8,
                       "hole at the start of the data section" } },
  { "trailing-bytes", { "{" ENTRY ("a", "F32", "[1]", "[0,4]") "}", 16,
                        "data section has 12 bytes after the last tensor" } },
  { "data-without-tensors", { "{\"__metadata__\":{}}", 3,
                              "3 bytes after the last tensor (the header lists none)" } },
  { "duplicate-name", { "{" ENTRY ("a", "F32", "[1]", "[0,4]") ","
                          ENTRY ("a", "F32", "[1]", "[4,8]") "}", 8,
                        "duplicate tensor name 'a'" } },
  { "duplicate-name-escaped", { "{" ENTRY ("a", "F32", "[1]", "[0,4]") ","
                                  ENTRY ("\\u0061", "F32", "[1]", "[4,8]") "}", 8,
                                "duplicate tensor name 'a'" } },
  { "duplicate-field", { "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],"
                         "\"data_offsets\":[0,4]}}", 4,
                         "tensor 'a': duplicate key 'dtype'" } },
  { "duplicate-metadata", { "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
                            "__metadata__ has duplicate key 'k'" } },
  { "duplicate-metadata-object", { "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
                                   "header has __metadata__ twice" } },
  { "metadata-not-object", { "{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object" } },
  { "metadata-number", { "{\"__metadata__\":{\"k\":1}}", 0,
                         "__metadata__ value of 'k' is not a string" } },
  { "metadata-null", { "{\"__metadata__\":{\"k\":null}}", 0,
                       "__metadata__ value of 'k' is not a string" } },
  { "metadata-nested", { "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0,
                         "__metadata__ value of 'k' is not a string" } },
  { "name-escaped-in-message", { "{" ENTRY ("a\\nb\\u0007", "I8", "[1]", "[0,1]") "}", 1,
                                 "tensor 'a\\x0ab\\x07': unsupported dtype I8" } },
};

static void test_hostile (gconstpointer data)
{
  const hostile_case *c = data;
  expect_error (c->header, c->data_len, c->phrase);
}

static void test_deep_nesting (void)
{
  GString *h = g_string_new ("{\"a\":");
  for (int i = 0; i < 100000; i++)
    g_string_append_c (h, '[');
  expect_error (h->str, 0, "nests deeper than 16 levels");
  g_string_free (h, TRUE);
}

static void test_too_many_tensors (void)
{
  GString *h = g_string_new ("{");
  for (int i = 0; i <= 100000; i++)
    g_string_append_printf (h, "%s\"%d\":0", i ? "," : "", i);
  g_string_append_c (h, '}');
  expect_error (h->str, 0, "more than 100000 tensors");
  g_string_free (h, TRUE);

  h = g_string_new ("{\"a\":[");
  for (int i = 0; i <= 2000000; i++)
    g_string_append (h, "0,");
  g_string_append (h, "0]}");
  expect_error (h->str, 0, "more than 2000000 values");
  g_string_free (h, TRUE);
}

/* A long name is cut in messages. */
static void test_long_name (void)
{
  GString *h = g_string_new ("{\"");
  for (int i = 0; i < 10000; i++)
    g_string_append_c (h, 'n');
  g_string_append (h, "\":7}");
  GByteArray *file = make_file (h->str, NULL, 0);
  segcam_safetensors st;
  GError *error = NULL;
  g_assert_false (segcam_safetensors_parse (file->data, file->len, &st, &error));
  g_assert_nonnull (strstr (error->message, "...': entry is not an object"));
  g_assert_cmpuint (strlen (error->message), <, 200);
  g_error_free (error);
  g_byte_array_unref (file);
  g_string_free (h, TRUE);
}

/* ---- Robustness -------------------------------------------------------------------------- */

static GByteArray *valid_sample (void)
{
  uint8_t data[2 * 3 + 4 * 4 + 2 * 2];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t) (i * 37 + 11);
  return make_file ("{\"__metadata__\":{\"segcam.format\":\"1\","
                    "\"segcam.name\":\"t\\u00e9st \\\"x\\\"\"},"
                    ENTRY ("h", "F16", "[3]", "[0,6]") ","
                    ENTRY ("f", "F32", "[2,2]", "[6,22]") ","
                    ENTRY ("s", "BF16", "[]", "[22,24]") ","
                    ENTRY ("e", "F32", "[0,2]", "[24,24]") ","
                    ENTRY ("b", "BF16", "[1]", "[24,26]") "}  ",
                    data, sizeof data);
}

static void test_mutations (void)
{
  GByteArray *base = valid_sample ();
  segcam_safetensors st;
  parse_ok (base, &st);
  g_assert_cmpint (st.n_tensors, ==, 5);
  segcam_safetensors_clear (&st);

  GRand *rand = g_rand_new_with_seed (20240607);
  int n_ok = 0;
  for (int iter = 0; iter < 2000; iter++) {
    GByteArray *file = g_byte_array_new ();
    g_byte_array_append (file, base->data, base->len);
    int n_mutations = g_rand_int_range (rand, 1, 4);
    for (int m = 0; m < n_mutations && file->len > 0; m++) {
      guint at = (guint) g_rand_int_range (rand, 0, (gint32) file->len);
      switch (g_rand_int_range (rand, 0, 6)) {
      case 0: file->data[at] = (uint8_t) g_rand_int (rand); break;
      case 1: file->data[at] ^= (uint8_t) (1u << g_rand_int_range (rand, 0, 8)); break;
      case 2: g_byte_array_set_size (file, at); break;
      case 3: g_byte_array_remove_index (file, at); break;
      case 4: /* insert a JSON-ish character */
        g_byte_array_set_size (file, file->len + 1);
        memmove (file->data + at + 1, file->data + at, file->len - 1 - at);
        file->data[at] = (uint8_t) "{}[]\",:-0123456789e.\\ "[g_rand_int_range (rand, 0, 22)];
        break;
      default: /* the header length */
        file->data[at % MIN (file->len, 8)] = (uint8_t) g_rand_int (rand);
        break;
      }
    }
    GError *error = NULL;
    if (segcam_safetensors_parse (file->data, file->len, &st, &error)) {
      n_ok++;
      for (int i = 0; i < st.n_tensors; i++) {
        size_t n = 1;
        for (int d = 0; d < st.tensors[i].n_dims; d++)
          n *= (size_t) st.tensors[i].shape[d];
        g_assert_cmpuint (n, ==, st.tensors[i].n_elements);
      }
      segcam_safetensors_clear (&st);
    } else {
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
      g_assert_null (strchr (error->message, '\n'));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_error_free (error);
    }
    g_byte_array_unref (file);
  }
  g_test_message ("%d of 2000 mutants parsed", n_ok);
  g_rand_free (rand);
  g_byte_array_unref (base);
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/round-trip", test_round_trip);
  g_test_add_func ("/safetensors/write-rejects", test_write_rejects);
  g_test_add_func ("/safetensors/f16", test_f16);
  g_test_add_func ("/safetensors/bf16", test_bf16);
  g_test_add_func ("/safetensors/unaligned", test_unaligned);
  g_test_add_func ("/safetensors/view", test_view);
  g_test_add_func ("/safetensors/empty-header", test_empty_header);
  g_test_add_func ("/safetensors/escapes", test_escapes);
  g_test_add_func ("/safetensors/reject/lengths", test_bad_lengths);
  for (size_t i = 0; i < G_N_ELEMENTS (hostile); i++) {
    char *path = g_strdup_printf ("/safetensors/reject/%s", hostile[i].name);
    g_test_add_data_func (path, &hostile[i].c, test_hostile);
    g_free (path);
  }
  g_test_add_func ("/safetensors/reject/deep-nesting", test_deep_nesting);
  g_test_add_func ("/safetensors/reject/too-many", test_too_many_tensors);
  g_test_add_func ("/safetensors/reject/long-name", test_long_name);
  g_test_add_func ("/safetensors/mutations", test_mutations);
  return g_test_run ();
}
