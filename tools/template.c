/* template.c — output names from templates (template.h). */
#include "template.h"

#include <string.h>

static const char *const keys[] = {"stem", "class", "layer", "method"};

/* The key index of the placeholder that starts at p ('{'), with its length in *len, or -1. */
static int
placeholder (const char *p, size_t *len)
{
  const char *end = strchr (p, '}');
  for (int k = 0; end && k < (int) G_N_ELEMENTS (keys); k++)
    if ((size_t) (end - p - 1) == strlen (keys[k]) && strncmp (p + 1, keys[k], end - p - 1) == 0)
      {
        *len = end - p + 1;
        return k;
      }
  return -1;
}

char *
segcam_template_unknown (const char *template)
{
  for (const char *p = strchr (template, '{'); p; p = strchr (p + 1, '{'))
    {
      size_t len;
      if (placeholder (p, &len) < 0)
        {
          const char *end = strchr (p, '}');
          return end ? g_strndup (p, end - p + 1) : g_strdup ("{");
        }
    }
  return NULL;
}

gboolean
segcam_template_has (const char *template, const char *key)
{
  char *braced = g_strdup_printf ("{%s}", key);
  gboolean has = strstr (template, braced) != NULL;
  g_free (braced);
  return has;
}

static void
append_field (GString *out, const char *value)
{
  gsize start = out->len;
  gboolean only_dots = TRUE;
  for (const char *v = value; *v; v++)
    {
      guchar c = (guchar) *v;
      only_dots = only_dots && c == '.';
      g_string_append_c (out, c == '/' || c < 0x20 || c == 0x7f ? '_' : (char) c);
    }
  if (only_dots)
    {
      for (gsize i = start; i < out->len; i++)
        out->str[i] = '_';
      if (out->len == start)
        g_string_append_c (out, '_');
    }
}

char *
segcam_template_expand (const char *template, const segcam_template_fields *f)
{
  const char *values[] = {f->stem, f->class_name, f->layer, f->method};
  GString *out = g_string_new (NULL);
  for (const char *p = template; *p;)
    {
      size_t len;
      int k = *p == '{' ? placeholder (p, &len) : -1;
      if (k >= 0)
        append_field (out, values[k] ? values[k] : ""), p += len;
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

char *
segcam_template_stem (const char *path)
{
  char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  return base;
}
