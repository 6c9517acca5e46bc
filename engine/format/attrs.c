/* attrs.c — the graph JSON's attribute readers (attrs.h). */
#include "attrs.h"

#include <math.h>
#include <string.h>

gboolean
segcam_attr_fail (const segcam_attrs *a, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  segcam_fail (a->error, SEGCAM_ERROR_MODEL, "node '%s': %s", a->node, msg);
  g_free (msg);
  return FALSE;
}

gboolean
segcam_json_int (JsonNode *n, int lo, int hi, int *out)
{
  if (!n || JSON_NODE_TYPE (n) != JSON_NODE_VALUE || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (n);
  if (v < lo || v > hi)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

gboolean
segcam_json_double (JsonNode *n, double *out)
{
  if (!n || JSON_NODE_TYPE (n) != JSON_NODE_VALUE)
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return FALSE;
  *out = json_node_get_double (n);
  return isfinite (*out);
}

gboolean
segcam_attr_ints (segcam_attrs *a, const char *key, int n, int lo, int hi, const int *def, int *out)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  if (!node)
    {
      if (!def)
        return segcam_attr_fail (a, "missing attribute '%s'", key);
      memcpy (out, def, n * sizeof *out);
      return TRUE;
    }
  int v;
  if (segcam_json_int (node, lo, hi, &v))
    {
      for (int i = 0; i < n; i++)
        out[i] = v;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == (guint) n)
    {
      JsonArray *arr = json_node_get_array (node);
      int i;
      for (i = 0; i < n; i++)
        if (!segcam_json_int (json_array_get_element (arr, i), lo, hi, &out[i]))
          break;
      if (i == n)
        return TRUE;
    }
  return segcam_attr_fail (a, "attribute '%s' must be %d integer%s in [%d, %d]", key, n,
                           n > 1 ? "s" : "", lo, hi);
}

gboolean
segcam_attr_bool (segcam_attrs *a, const char *key, gboolean def, gboolean *out)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  *out = def;
  if (!node)
    return TRUE;
  if (JSON_NODE_TYPE (node) == JSON_NODE_VALUE && json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    {
      *out = json_node_get_boolean (node);
      return TRUE;
    }
  return segcam_attr_fail (a, "attribute '%s' must be true or false", key);
}

const char *
segcam_attr_string (segcam_attrs *a, const char *key, gboolean *bad)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  if (!node)
    return NULL;
  if (JSON_NODE_TYPE (node) == JSON_NODE_VALUE && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  segcam_attr_fail (a, "attribute '%s' must be a string", key);
  *bad = TRUE;
  return NULL;
}

gboolean
segcam_attr_tensor (segcam_attrs *a, const char *key, gboolean required, int n_dims,
                    const int64_t *shape, const segcam_tensor **out)
{
  gboolean bad = FALSE;
  const char *name = segcam_attr_string (a, key, &bad);
  *out = NULL;
  if (bad)
    return FALSE;
  if (!name)
    return required ? segcam_attr_fail (a, "missing attribute '%s'", key) : TRUE;
  const segcam_tensor *t = segcam_safetensors_find (a->st, name);
  if (!t)
    return segcam_attr_fail (a, "tensor '%s' (%s) is not in the file", name, key);
  gboolean same = t->n_dims == n_dims;
  for (int i = 0; same && i < n_dims; i++)
    same = t->shape[i] == shape[i];
  if (!same)
    {
      GString *want = g_string_new ("["), *have = g_string_new ("[");
      for (int i = 0; i < n_dims; i++)
        g_string_append_printf (want, "%s%" G_GINT64_FORMAT, i ? "," : "", shape[i]);
      for (int i = 0; i < t->n_dims; i++)
        g_string_append_printf (have, "%s%" G_GINT64_FORMAT, i ? "," : "", t->shape[i]);
      segcam_attr_fail (a, "tensor '%s' has shape %s], expected %s]", name, have->str, want->str);
      g_string_free (want, TRUE);
      g_string_free (have, TRUE);
      return FALSE;
    }
  /* NaN or infinity in a weight turns every map into NaN or zero without a sign. */
  size_t bad_at = segcam_tensor_find_nonfinite (t);
  if (bad_at < t->n_elements)
    return segcam_attr_fail (a, "tensor '%s' holds %s at element %zu: its training diverged or "
                             "the file is damaged", name, isnan (t->data[bad_at]) ? "NaN"
                             : "an infinity", bad_at);
  *out = t;
  return TRUE;
}

gboolean
segcam_attr_float (segcam_attrs *a, const char *key, float def, float *out)
{
  JsonNode *node = json_object_get_member (a->obj, key);
  double v = def;
  if (node && (!segcam_json_double (node, &v) || fabs (v) > G_MAXFLOAT))
    return segcam_attr_fail (a, "attribute '%s' must be a number", key);
  *out = (float) v;
  return TRUE;
}
