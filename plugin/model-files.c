/* model-files.c — locating bundled models (see model-files.h). */
#include "model-files.h"

#include <string.h>

#include "segcam.h"

char *
model_files_dir (const char *executable)
{
  const char *env = g_getenv (MODEL_FILES_ENV);
  char *folder, *dir;

  if (env != NULL && env[0] != '\0')
    return g_strdup (env);

  folder = g_path_get_dirname (executable);
  dir = g_build_filename (folder, "models", NULL);
  g_free (folder);
  return dir;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
model_files_list (const char *dir)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  GDir *folder = g_dir_open (dir, 0, NULL);
  const char *name;

  if (folder == NULL)
    return paths;

  while ((name = g_dir_read_name (folder)) != NULL)
    {
      char *path;

      if (! g_str_has_suffix (name, MODEL_FILES_EXTENSION)
          && ! g_str_has_suffix (name, MODEL_FILES_ONNX_EXTENSION))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (paths, path);
      else
        g_free (path);
    }
  g_dir_close (folder);

  g_ptr_array_sort (paths, compare_paths);
  for (guint i = 1; i < paths->len; i++)
    {
      char *base = g_path_get_basename (paths->pdata[i]);
      gboolean is_default = strcmp (base, MODEL_FILES_DEFAULT) == 0;

      g_free (base);
      if (is_default)
        {
          gpointer path = g_ptr_array_steal_index (paths, i);

          g_ptr_array_insert (paths, 0, path);
          break;
        }
    }
  return paths;
}

char *
model_files_resolve (const char *setting, const char *dir, GError **error)
{
  GPtrArray *paths;
  char *path = NULL;

  if (setting != NULL && setting[0] != '\0')
    return g_strdup (setting);

  paths = model_files_list (dir);
  if (paths->len > 0)
    path = g_strdup (paths->pdata[0]);
  else
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL,
                 "no bundled model: %s has no %s file (choose a model file, or set %s)",
                 dir, MODEL_FILES_EXTENSION, MODEL_FILES_ENV);
  g_ptr_array_unref (paths);
  return path;
}

char *
model_files_label (const char *path)
{
  char *base = g_path_get_basename (path);
  size_t length = strlen (base), extension = strlen (MODEL_FILES_EXTENSION);

  if (g_str_has_suffix (base, MODEL_FILES_ONNX_EXTENSION))
    extension = strlen (MODEL_FILES_ONNX_EXTENSION);
  if (length > extension && (g_str_has_suffix (base, MODEL_FILES_EXTENSION)
                             || g_str_has_suffix (base, MODEL_FILES_ONNX_EXTENSION)))
    base[length - extension] = '\0';
  return base;
}

gboolean
model_files_is_onnx (const char *path)
{
  return g_str_has_suffix (path, MODEL_FILES_ONNX_EXTENSION);
}
