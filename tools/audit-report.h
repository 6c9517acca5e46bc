/* audit-report.h — DIR/report.html of a merged audit (docs/audit.md, "Report"): per-class
 * distributions of the shares as plots drawn with cairo (PNG files beside the page), the finding
 * as a number, and a gallery of the records whose maps leave the ROI most. */
#ifndef SEGCAM_AUDIT_REPORT_H
#define SEGCAM_AUDIT_REPORT_H

#include "audit-settings.h"

#include <glib.h>

/* Writes dir/report.html and its images from the merged records. The gallery's maps are made
 * again from the settings' model and manifest; when those cannot be loaded the page says so
 * instead of showing it. */
gboolean segcam_audit_report_write (const char *dir, GPtrArray *records,
                                    const segcam_audit_settings *settings, int threads,
                                    GError **error);

#endif /* SEGCAM_AUDIT_REPORT_H */
