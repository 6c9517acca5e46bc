/* json.c — strict JSON: a lexical pass, then json-glib with duplicate-key detection (json.h). */
#include "json.h"

#include <string.h>

#define fail(error, ...) segcam_fail (error, SEGCAM_ERROR_MODEL, __VA_ARGS__)

/* ---- Lexical pass ------------------------------------------------------------------------ */

/* The value of 4 hex digits at s[k], or -1. */
static int hex4 (const char *s, size_t n, size_t k)
{
  int v = 0;
  for (size_t d = k; d < k + 4; d++) {
    if (d >= n || !g_ascii_isxdigit (s[d]))
      return -1;
    v = v << 4 | g_ascii_xdigit_value (s[d]);
  }
  return v;
}

/* Besides JSON's rules: no \u0000 (C strings cannot hold it) and no unpaired surrogate, which
 * json-glib would turn into invalid UTF-8. */
static gboolean skip_string (const char *s, size_t n, size_t *i, const char *what, GError **error)
{
  size_t k = *i + 1;
  while (k < n && s[k] != '"') {
    if ((unsigned char) s[k] < 0x20)
      return fail (error, "%s has a raw control character in a string at byte %zu", what, k);
    if (s[k] != '\\') {
      k++;
    } else if (k + 1 < n && s[k + 1] == 'u') {
      int u = hex4 (s, n, k + 2);
      if (u < 0)
        return fail (error, "%s has a bad \\u escape at byte %zu", what, k);
      if (u == 0)
        return fail (error, "%s has a \\u0000 escape at byte %zu", what, k);
      if (u >= 0xd800 && u <= 0xdfff) { /* only as a high, low pair */
        gboolean high = u < 0xdc00 && k + 7 < n && s[k + 6] == '\\' && s[k + 7] == 'u';
        int low = high ? hex4 (s, n, k + 8) : -1;
        if (low < 0xdc00 || low > 0xdfff)
          return fail (error, "%s has an unpaired surrogate escape at byte %zu", what, k);
        k += 6;
      }
      k += 6;
    } else if (k + 1 < n && s[k + 1] != '\0' && strchr ("\"\\/bfnrt", s[k + 1])) {
      k += 2;
    } else {
      return fail (error, "%s has a bad escape sequence at byte %zu", what, k);
    }
  }
  if (k >= n)
    return fail (error, "%s has an unterminated string", what);
  *i = k + 1;
  return TRUE;
}

/* Integers must be plain decimal and fit in int64: json-glib reads 010 as octal and 0x10 as hex,
 * and wraps larger values silently. A token with a fraction or an exponent is left to json-glib,
 * which makes it a double or rejects it. */
static gboolean skip_number (const char *s, size_t n, size_t *i, const char *what, GError **error)
{
  size_t start = *i, digits = start + (s[start] == '-'), k = digits;
  uint64_t magnitude = 0;
  gboolean wide = FALSE;
  for (; k < n && g_ascii_isdigit (s[k]); k++)
    wide |= __builtin_mul_overflow (magnitude, 10, &magnitude)
            || __builtin_add_overflow (magnitude, (uint64_t) (s[k] - '0'), &magnitude);
  if (k == digits || (s[digits] == '0' && k - digits > 1))
    return fail (error, "%s has a malformed number at byte %zu", what, start);
  if (k < n && (s[k] == '.' || s[k] == 'e' || s[k] == 'E')) {
    while (k < n && s[k] && strchr ("0123456789+-.eE", s[k]))
      k++;
  } else if (wide || magnitude > (uint64_t) INT64_MAX + (s[start] == '-')) {
    return fail (error, "%s has an integer outside the signed 64-bit range (at most 2^63-1) at "
                 "byte %zu", what, start);
  }
  *i = k;
  return TRUE;
}

static gboolean skip_literal (const char *s, size_t n, size_t *i, const char *what, GError **error)
{
  static const char *const words[] = { "true", "false", "null" };
  for (size_t w = 0; w < G_N_ELEMENTS (words); w++) {
    size_t len = strlen (words[w]);
    if (n - *i >= len && memcmp (s + *i, words[w], len) == 0) {
      *i += len;
      return TRUE;
    }
  }
  return fail (error, "%s has an unexpected character at byte %zu", what, *i);
}

/* Checks what json-glib would accept too leniently, and bounds what it would allocate and how
 * deep it would recurse. */
static gboolean check_text (const char *s, size_t n, const char *what, GError **error)
{
  size_t i = 0, n_values = 0;
  int depth = 0;
  gboolean started = FALSE;
  while (i < n) {
    char c = s[i];
    gboolean ok = TRUE;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    if (depth == 0 && started)
      return fail (error, "%s has bytes after its JSON value (at byte %zu)", what, i);
    if (c == '{' || c == '[') {
      if (++depth > SEGCAM_JSON_MAX_DEPTH)
        return fail (error, "%s nests deeper than %d levels", what, SEGCAM_JSON_MAX_DEPTH);
      n_values++, i++;
    } else if (c == '}' || c == ']') {
      depth--, i++;
    } else if (c == ',' || c == ':') {
      i++;
    } else if (c == '"') {
      ok = skip_string (s, n, &i, what, error), n_values++;
    } else if (c == '-' || g_ascii_isdigit (c)) {
      ok = skip_number (s, n, &i, what, error), n_values++;
    } else {
      ok = skip_literal (s, n, &i, what, error), n_values++;
    }
    if (!ok)
      return FALSE;
    started = TRUE;
    if (n_values > SEGCAM_JSON_MAX_VALUES)
      return fail (error, "%s holds more than %d values", what, SEGCAM_JSON_MAX_VALUES);
  }
  return TRUE;
}

/* ---- Tree with duplicate-key detection --------------------------------------------------- */

typedef struct {
  GPtrArray *open;  /* names seen so far in each object being parsed, innermost last */
  segcam_json_duplicate first;
} dup_check;

static void on_object_start (JsonParser *parser G_GNUC_UNUSED, dup_check *dup)
{
  g_ptr_array_add (dup->open, g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL));
}

/* Members are reported after their value is parsed, so a root member arrives after any
 * duplicate found inside it and names its parent. */
static void on_object_member (JsonParser *parser G_GNUC_UNUSED, JsonObject *object G_GNUC_UNUSED,
                              const char *name, dup_check *dup)
{
  guint level = dup->open->len; /* >= 1: object-start came first */
  GHashTable *seen = g_ptr_array_index (dup->open, level - 1);
  segcam_json_duplicate *d = &dup->first;
  if (!g_hash_table_add (seen, g_strdup (name)) && !d->key) {
    d->key = g_strdup (name);
    d->level = level;
  } else if (level == 1 && d->key && d->level > 1 && !d->parent) {
    d->parent = g_strdup (name);
  }
}

static void on_object_end (JsonParser *parser G_GNUC_UNUSED, JsonObject *object G_GNUC_UNUSED,
                           dup_check *dup)
{
  g_ptr_array_remove_index (dup->open, dup->open->len - 1);
}

JsonParser *segcam_json_parse (const char *text, size_t n, const char *what,
                               segcam_json_duplicate_fn on_duplicate, GError **error)
{
  if (!g_utf8_validate_len (text, n, NULL)) {
    fail (error, "%s is not valid UTF-8", what);
    return NULL;
  }
  if (!check_text (text, n, what, error))
    return NULL;
  dup_check dup = { .open = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref) };
  JsonParser *parser = json_parser_new ();
  g_signal_connect (parser, "object-start", G_CALLBACK (on_object_start), &dup);
  g_signal_connect (parser, "object-member", G_CALLBACK (on_object_member), &dup);
  g_signal_connect (parser, "object-end", G_CALLBACK (on_object_end), &dup);
  GError *json_error = NULL;
  gboolean ok = json_parser_load_from_data (parser, text, (gssize) n, &json_error);
  if (!ok) {
    char *msg = segcam_escape (json_error->message, 0);
    fail (error, "%s is not valid JSON: %s", what, msg);
    g_free (msg);
    g_error_free (json_error);
  } else if (dup.first.key) {
    char *key = segcam_escape (dup.first.key, SEGCAM_SHOWN_CHARS);
    ok = on_duplicate ? on_duplicate (&dup.first, error)
                      : fail (error, "%s has the key '%s' twice in one object", what, key);
    g_free (key);
  }
  g_signal_handlers_disconnect_by_data (parser, &dup);
  g_ptr_array_unref (dup.open);
  g_free (dup.first.key);
  g_free (dup.first.parent);
  if (!ok)
    g_clear_object (&parser);
  return parser;
}
