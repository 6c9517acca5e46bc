/* json.h — the one strict JSON reader for every JSON text segcam parses: the safetensors header,
 * the segcam.graph string and the JSON lists of ONNX metadata.
 *
 * json-glib alone is lenient (comments, single quotes, hex and octal numbers, integers wrapping
 * silently, trailing values, the last of duplicate keys winning) and recurses without a depth
 * limit, so a 100 KB text of '[' overflows the stack. A lexical pass proves the text strict JSON
 * with bounded nesting and size first; json-glib then builds the tree while its signals catch
 * duplicate keys. Every failure is one line starting with the text's name ("header has ...",
 * "segcam.graph has ..."). */
#ifndef SEGCAM_FORMAT_JSON_H
#define SEGCAM_FORMAT_JSON_H

#include "error.h"

#include <json-glib/json-glib.h>

/* Far beyond what any valid text holds (a header nests 3 deep, a graph 4), far below what
 * json-glib's recursion can take. */
#define SEGCAM_JSON_MAX_DEPTH 16
#define SEGCAM_JSON_MAX_VALUES 2000000

/* The first key met twice in one object, for callers whose messages name it in their terms. */
typedef struct {
  char *key;
  guint level;   /* nesting level of the object that repeats it: 1 = the root object */
  char *parent;  /* the root's member holding that object, when level > 1 */
} segcam_json_duplicate;

/* Sets a one-line error for a duplicate key and returns FALSE. */
typedef gboolean (*segcam_json_duplicate_fn) (const segcam_json_duplicate *dup, GError **error);

/* Parses the n bytes of text (UTF-8 is checked) named what in messages, as SEGCAM_ERROR_MODEL.
 * A duplicate key fails with on_duplicate's message, or "WHAT has the key 'K' twice in one
 * object" when it is NULL. Returns the parser holding the tree, or NULL. */
JsonParser *segcam_json_parse (const char *text, size_t n, const char *what,
                               segcam_json_duplicate_fn on_duplicate, GError **error);

#endif /* SEGCAM_FORMAT_JSON_H */
