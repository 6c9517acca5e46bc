/* audit-settings.c — DIR/audit.ini through GLib's key files (audit-settings.h). */
#include "audit-settings.h"

#include "audit-table.h"
#include "segcam.h"

#include <string.h>

#define GROUP "audit"

static GKeyFile *
to_key_file (const segcam_audit_settings *s)
{
  GKeyFile *k = g_key_file_new ();
  g_key_file_set_string (k, GROUP, "model", s->model);
  g_key_file_set_string (k, GROUP, "manifest", s->manifest);
  g_key_file_set_integer (k, GROUP, "rows", s->rows);
  g_key_file_set_string_list (k, GROUP, "classes", (const char *const *) s->classes,
                              g_strv_length (s->classes));
  g_key_file_set_string_list (k, GROUP, "methods", (const char *const *) s->methods,
                              g_strv_length (s->methods));
  g_key_file_set_string (k, GROUP, "layer", s->layer);
  g_key_file_set_integer (k, GROUP, "steps", s->steps);
  g_key_file_set_string (k, GROUP, "baseline", s->baseline);
  g_key_file_set_boolean (k, GROUP, "road", s->road);
  return k;
}

gboolean
segcam_audit_settings_record (const char *dir, const segcam_audit_settings *settings,
                              GError **error)
{
  char *path = g_build_filename (dir, "audit.ini", NULL);
  GKeyFile *mine = to_key_file (settings), *theirs = g_key_file_new ();
  gboolean ok = TRUE;
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      ok = g_key_file_load_from_file (theirs, path, G_KEY_FILE_NONE, error);
      gsize n_keys = 0;
      char **keys = ok ? g_key_file_get_keys (mine, GROUP, &n_keys, NULL) : NULL;
      for (gsize i = 0; ok && i < n_keys; i++)
        {
          char *a = g_key_file_get_value (mine, GROUP, keys[i], NULL);
          char *b = g_key_file_get_value (theirs, GROUP, keys[i], NULL);
          if (g_strcmp0 (a, b) != 0)
            {
              g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s holds an audit with other "
                           "settings (%s: '%s' there, '%s' now): choose another --out", dir, keys[i],
                           b ? b : "", a);
              ok = FALSE;
            }
          g_free (a);
          g_free (b);
        }
      g_strfreev (keys);
    }
  else
    {
      gsize length;
      char *data = g_key_file_to_data (mine, &length, NULL);
      GString *text = g_string_new_len (data, (gssize) length);
      ok = segcam_audit_write_text (path, text, error);
      g_string_free (text, TRUE);
      g_free (data);
    }
  g_key_file_free (mine);
  g_key_file_free (theirs);
  g_free (path);
  return ok;
}

gboolean
segcam_audit_settings_load (const char *dir, segcam_audit_settings *s, GError **error)
{
  memset (s, 0, sizeof *s);
  char *path = g_build_filename (dir, "audit.ini", NULL);
  GKeyFile *k = g_key_file_new ();
  GError *err = NULL;
  if (g_key_file_load_from_file (k, path, G_KEY_FILE_NONE, &err))
    {
      s->model = g_key_file_get_string (k, GROUP, "model", &err);
      s->manifest = err ? NULL : g_key_file_get_string (k, GROUP, "manifest", &err);
      s->rows = err ? 0 : g_key_file_get_integer (k, GROUP, "rows", &err);
      s->classes = err ? NULL : g_key_file_get_string_list (k, GROUP, "classes", NULL, &err);
      s->methods = err ? NULL : g_key_file_get_string_list (k, GROUP, "methods", NULL, &err);
      s->layer = err ? NULL : g_key_file_get_string (k, GROUP, "layer", &err);
      s->steps = err ? 0 : g_key_file_get_integer (k, GROUP, "steps", &err);
      s->baseline = err ? NULL : g_key_file_get_string (k, GROUP, "baseline", &err);
      s->road = err ? FALSE : g_key_file_get_boolean (k, GROUP, "road", &err);
    }
  if (err)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s: %s (is %s an audit folder?)", path,
                   err->message, dir);
      g_error_free (err);
      segcam_audit_settings_clear (s);
    }
  g_key_file_free (k);
  g_free (path);
  return s->model != NULL;
}

void
segcam_audit_settings_clear (segcam_audit_settings *s)
{
  g_free (s->model);
  g_free (s->manifest);
  g_strfreev (s->classes);
  g_strfreev (s->methods);
  g_free (s->layer);
  g_free (s->baseline);
  memset (s, 0, sizeof *s);
}
