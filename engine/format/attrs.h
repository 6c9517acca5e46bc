/* attrs.h — reading one node's attributes from the graph JSON (docs/model-format.md, 'Graph').
 *
 * Each op's parse function (ops/) reads its attributes through these; every failure sets a
 * one-line error "node 'NAME': ..." naming the attribute or tensor at fault and returns FALSE. */
#ifndef SEGCAM_FORMAT_ATTRS_H
#define SEGCAM_FORMAT_ATTRS_H

#include "error.h"
#include "safetensors.h"

#include <json-glib/json-glib.h>

/* Bounds that no real segmentation network comes near; they keep shape arithmetic far from
 * overflow so later code can multiply dimensions freely in 64 bits. */
#define SEGCAM_MAX_NODES 4096
#define SEGCAM_MAX_INPUTS 64
#define SEGCAM_MAX_CHANNELS 65536
#define SEGCAM_MAX_KERNEL 64
#define SEGCAM_MAX_STRIDE 64
#define SEGCAM_MAX_DILATION 64
#define SEGCAM_MAX_CLASSES 255

typedef struct {
  const char *node;               /* for messages */
  JsonObject *obj;                /* the node's JSON object */
  const segcam_safetensors *st;   /* where tensor attributes are looked up */
  GError **error;
} segcam_attrs;

/* "node 'NAME': " followed by the formatted message, as SEGCAM_ERROR_MODEL; returns FALSE. */
gboolean segcam_attr_fail (const segcam_attrs *a, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* A JSON integer in [lo, hi]; a finite JSON number. FALSE (without an error) otherwise. */
gboolean segcam_json_int (JsonNode *n, int lo, int hi, int *out);
gboolean segcam_json_double (JsonNode *n, double *out);

/* An integer list of exactly n values in [lo, hi]; a single integer is accepted for all n. A
 * missing attribute takes def (which must then be non-NULL). */
gboolean segcam_attr_ints (segcam_attrs *a, const char *key, int n, int lo, int hi, const int *def,
                           int *out);
gboolean segcam_attr_bool (segcam_attrs *a, const char *key, gboolean def, gboolean *out);
/* A finite number; def when absent. */
gboolean segcam_attr_float (segcam_attrs *a, const char *key, float def, float *out);
/* A string attribute, or NULL when absent (not an error: callers decide); *bad is set when the
 * attribute is there but not a string. */
const char *segcam_attr_string (segcam_attrs *a, const char *key, gboolean *bad);
/* A tensor named by a string attribute, with exactly the given shape (n_dims values) and finite
 * values only; *out is NULL when an optional (required FALSE) attribute is absent. */
gboolean segcam_attr_tensor (segcam_attrs *a, const char *key, gboolean required, int n_dims,
                             const int64_t *shape, const segcam_tensor **out);

#endif /* SEGCAM_FORMAT_ATTRS_H */
