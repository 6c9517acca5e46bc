/* audit-csv.h — CSV as RFC 4180 has it, for the manifests and tables of segcam audit
 * (docs/audit.md, "Files"): fields separated by commas, quoted with double quotes when they hold a
 * comma, a quote or a line break, a quote inside a quoted field doubled. Records end in LF or CRLF
 * when read; segcam writes LF. */
#ifndef SEGCAM_AUDIT_CSV_H
#define SEGCAM_AUDIT_CSV_H

#include <glib.h>

/* The records of text (length bytes, not NUL-terminated), each a NULL-terminated string vector
 * (GPtrArray of char **, freed with it). An empty last line is no record; a blank line elsewhere is
 * a record of one empty field. Unbalanced quotes, text after a closing quote or a NUL byte are
 * errors naming what (the source, e.g. a path) and the line. line_of, if not NULL, gets the
 * first line number of each record (GArray of int). */
GPtrArray *segcam_csv_parse (const char *text, gsize length, const char *what, GArray **line_of,
                             GError **error);

/* Appends one record's fields to out, quoted where needed, and the LF. */
void segcam_csv_append_record (GString *out, const char *const *fields, int n_fields);

#endif /* SEGCAM_AUDIT_CSV_H */
