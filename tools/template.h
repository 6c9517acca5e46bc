/* template.h — output names made from a template, so that one explain run writes a file per
 * image, class, layer and method (README, "Command line"): "out/{stem}-{class}.png". */
#ifndef SEGCAM_TEMPLATE_H
#define SEGCAM_TEMPLATE_H

#include <glib.h>

/* The placeholders, each replaced by its field. */
typedef struct {
  const char *stem;   /* {stem}: the image's file name without its extension */
  const char *class_name; /* {class} */
  const char *layer;  /* {layer} */
  const char *method; /* {method} */
} segcam_template_fields;

/* NULL when every "{" in template opens one of the placeholders, else the first one that does
 * not ("{size}", or "{" when nothing closes it); g_free. */
char *segcam_template_unknown (const char *template);

/* TRUE when template holds {key} (key without the braces). */
gboolean segcam_template_has (const char *template, const char *key);

/* template with each placeholder replaced by its field, made safe as one file name: a '/' or a
 * control character becomes '_', and so does each '.' of a field that is only dots (or empty), so
 * that no field climbs out of the folder the template names. g_free. */
char *segcam_template_expand (const char *template, const segcam_template_fields *fields);

/* {stem} of an image path: its last component without the last extension ("a.b.png" -> "a.b",
 * ".png" -> ".png"). g_free. */
char *segcam_template_stem (const char *path);

#endif /* SEGCAM_TEMPLATE_H */
