/* audit-manifest.h — the list of images segcam audit works through (docs/audit.md, "Manifest"):
 * a CSV file with a header row naming the columns image (required), roi, labels and context
 * (optional; others are ignored), each a path relative to the manifest's folder. */
#ifndef SEGCAM_AUDIT_MANIFEST_H
#define SEGCAM_AUDIT_MANIFEST_H

#include <glib.h>

/* One data row. A row that cannot be audited at all (too few fields, no image) keeps its place
 * and says why in error, so that the audit reports it and row numbers stay those of the file. */
typedef struct {
  int row;            /* 0-based among the data rows: what shards and the table count */
  int line;           /* where it starts in the file, for messages */
  char *image;        /* the image field as written: the table's key */
  char *image_path, *roi_path, *labels_path, *context_path; /* resolved; NULL when empty */
  char *error;        /* NULL, or why the row is unusable */
} segcam_audit_item;

/* The manifest's rows, in order (GPtrArray of segcam_audit_item, freed with it). A file that cannot
 * be read, is not CSV, has no header or no image column is an error naming it. */
GPtrArray *segcam_audit_manifest_load (const char *path, GError **error);

#endif /* SEGCAM_AUDIT_MANIFEST_H */
