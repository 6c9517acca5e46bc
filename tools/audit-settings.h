/* audit-settings.h — what an audit folder was made with (DIR/audit.ini, docs/audit.md, "Files"),
 * so that shards of different settings never mix and the merge knows the manifest's length and
 * where the model is. */
#ifndef SEGCAM_AUDIT_SETTINGS_H
#define SEGCAM_AUDIT_SETTINGS_H

#include <glib.h>

typedef struct {
  char *model, *manifest;  /* absolute paths */
  int rows;                /* the manifest's data rows */
  char **classes;          /* names, or empty: each row's predicted classes */
  char **methods;
  char *layer;
  int steps;
  char *baseline;
  gboolean road;
} segcam_audit_settings;

/* Writes the settings to dir/audit.ini when it is missing; when it is there, a difference is an
 * error naming the setting, since the folder then holds another audit. */
gboolean segcam_audit_settings_record (const char *dir, const segcam_audit_settings *settings,
                                       GError **error);

/* Reads dir/audit.ini; an error names what is missing. */
gboolean segcam_audit_settings_load (const char *dir, segcam_audit_settings *settings,
                                     GError **error);

void segcam_audit_settings_clear (segcam_audit_settings *settings);

#endif /* SEGCAM_AUDIT_SETTINGS_H */
