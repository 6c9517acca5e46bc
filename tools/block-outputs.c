/* block-outputs.c — the block outputs of a model (block-outputs.h). */
#include "block-outputs.h"

#include <string.h>

static gboolean
is_separator (char c)
{
  return c == '.' || c == '/';
}

/* Calls fn for every start of name cut before a separator (not the empty one), longest first. */
static void
for_each_prefix (const char *name, void (*fn) (const char *name, size_t len, gpointer data),
                 gpointer data)
{
  for (size_t len = strlen (name); len-- > 1;)
    if (is_separator (name[len]))
      fn (name, len, data);
}

static void
count_prefix (const char *name, size_t len, gpointer data)
{
  GHashTable *counts = data;
  char *key = g_strndup (name, len);
  g_hash_table_replace (counts, key, GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (counts, key)) + 1));
}

typedef struct {
  GHashTable *counts;
  char *module;
} module_search;

static void
take_shared_prefix (const char *name, size_t len, gpointer data)
{
  module_search *s = data;
  if (s->module)
    return;
  char *key = g_strndup (name, len);
  if (GPOINTER_TO_INT (g_hash_table_lookup (s->counts, key)) >= 2)
    s->module = key;
  else
    g_free (key);
}

/* Nodes' modules ("" for none), in a g_strfreev'd array of n_nodes. */
static char **
modules (const segcam_model *m)
{
  int n = segcam_model_n_nodes (m);
  GHashTable *counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int i = 0; i < n; i++)
    for_each_prefix (segcam_model_node_name (m, i), count_prefix, counts);
  char **out = g_new0 (char *, n + 1);
  for (int i = 0; i < n; i++)
    {
      module_search s = {counts, NULL};
      for_each_prefix (segcam_model_node_name (m, i), take_shared_prefix, &s);
      out[i] = s.module ? s.module : g_strdup ("");
    }
  g_hash_table_unref (counts);
  return out;
}

/* TRUE when inner is a module nested in outer ("a/b" in "a"). */
static gboolean
nested (const char *inner, const char *outer)
{
  size_t n = strlen (outer);
  return *outer && strncmp (inner, outer, n) == 0 && is_separator (inner[n]);
}

/* Whether node i counts: a feature map between the input and the output. */
static gboolean
candidate (const segcam_model *m, int i)
{
  return i > 0 && i != segcam_model_output_node (m);
}

typedef struct {
  int first, last;  /* the module's first and last nodes */
} span;

int *
segcam_block_outputs (const segcam_model *m, const int *shapes, int *n_out)
{
  int n = segcam_model_n_nodes (m);
  char **mod = modules (m);
  GHashTable *spans = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  for (int i = 0; i < n; i++)
    {
      span *s = g_hash_table_lookup (spans, mod[i]);
      if (!s)
        {
          s = g_new (span, 1);
          s->first = i;
          g_hash_table_insert (spans, mod[i], s);
        }
      s->last = i;
    }
  /* A module wrapped by another, which has nodes before and after it, is that one's side branch
   * when it is the only one so (a ResNet block's "downsample"); several are stages of a
   * container. wrapper[i]: the module that wraps node i's module alone, or NULL. */
  const char **wrapper = g_new0 (const char *, n);
  GHashTable *wrapped = g_hash_table_new (g_str_hash, g_str_equal); /* wrapper -> count */
  for (int i = 0; i < n; i++)
    {
      const span *own = g_hash_table_lookup (spans, mod[i]);
      if (!*mod[i] || own->last != i)
        continue;
      GHashTableIter it;
      gpointer key, value;
      g_hash_table_iter_init (&it, spans);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          const span *outer = value;
          if (nested (mod[i], key) && outer->first < own->first && outer->last > i)
            {
              wrapper[i] = key;
              g_hash_table_replace (wrapped, key, GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (wrapped, key)) + 1));
            }
        }
    }
  int *out = g_new (int, MAX (n, 1)), count = 0;
  for (int i = 0; i < n; i++)
    {
      const span *own = g_hash_table_lookup (spans, mod[i]);
      if (*mod[i] && own->last == i && candidate (m, i)
          && !(wrapper[i] && GPOINTER_TO_INT (g_hash_table_lookup (wrapped, wrapper[i])) == 1))
        out[count++] = i;
    }
  g_hash_table_unref (wrapped);
  g_free (wrapper);
  if (count == 0)
    for (int i = 0; i < n; i++)
      if (candidate (m, i) && (i + 1 == n || !candidate (m, i + 1)
                               || shapes[3 * i + 1] != shapes[3 * (i + 1) + 1]
                               || shapes[3 * i + 2] != shapes[3 * (i + 1) + 2]))
        out[count++] = i;
  g_hash_table_unref (spans);
  g_strfreev (mod);
  *n_out = count;
  return out;
}
