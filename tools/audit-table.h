/* audit-table.h — the table segcam audit writes, one record per image x class x method
 * (docs/audit.md, "The table"): its columns, how numbers are written, and the shard files and
 * audit.csv that hold it. A record is a NULL-terminated vector of SEGCAM_AUDIT_N_COLUMNS strings
 * exactly as written, so that merging never reformats a number. */
#ifndef SEGCAM_AUDIT_TABLE_H
#define SEGCAM_AUDIT_TABLE_H

#include <glib.h>

typedef enum {
  SEGCAM_AUDIT_ROW,            /* the manifest's data row, 0-based */
  SEGCAM_AUDIT_IMAGE,          /* the manifest's image field */
  SEGCAM_AUDIT_CLASS,
  SEGCAM_AUDIT_METHOD,
  SEGCAM_AUDIT_LAYER,
  SEGCAM_AUDIT_ROI_WEIGHT,
  SEGCAM_AUDIT_SCORE,
  SEGCAM_AUDIT_MAP_MAX,
  SEGCAM_AUDIT_LABEL_IOU,
  SEGCAM_AUDIT_ROI_ENERGY_SHARE,
  SEGCAM_AUDIT_CONTEXT_SHARE,
  SEGCAM_AUDIT_CONTEXT_MASK_SHARE,
  SEGCAM_AUDIT_DELETION_AUC,
  SEGCAM_AUDIT_INSERTION_AUC,
  SEGCAM_AUDIT_ROAD_MORF,
  SEGCAM_AUDIT_ROAD_LERF,
  SEGCAM_AUDIT_ROAD_SCORE,
  SEGCAM_AUDIT_ERROR,          /* empty, or the one-line error of a record that failed */
  SEGCAM_AUDIT_N_COLUMNS
} SegcamAuditColumn;

/* The header names, in column order. */
extern const char *const segcam_audit_columns[SEGCAM_AUDIT_N_COLUMNS];

/* A number as the table writes it: "%.9g" in the C locale (a float's every digit, a double's
 * first nine), the empty string for NaN. g_malloc'd. */
char *segcam_audit_format_number (double value);

/* A field read back as a number: NaN when empty. */
double segcam_audit_field_number (const char *field);

/* The manifest row of a record. */
int segcam_audit_record_row (char **record);

/* A new record of the row and image with every other field empty. */
char **segcam_audit_record_new (int row, const char *image);

/* Reads a table written by segcam_audit_table_write (GPtrArray of records, freed with it); a file
 * whose header is not this version's columns, or a record that is not, is an error naming path. */
GPtrArray *segcam_audit_table_read (const char *path, GError **error);

/* Writes the header and the records to path atomically (tools/output.h). */
gboolean segcam_audit_table_write (const char *path, GPtrArray *records, GError **error);

/* Writes text to path atomically: the audit's CSV files and its report. */
gboolean segcam_audit_write_text (const char *path, const GString *text, GError **error);

#endif /* SEGCAM_AUDIT_TABLE_H */
