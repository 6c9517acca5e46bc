/* audit-run.h — what segcam audit measures for one manifest row (docs/audit.md, "The table"):
 * for each class and method, the map (segcam_session_explain over the row's ROI) and its
 * faithfulness (segcam_session_evaluate, engine/include/segcam-metrics.h). */
#ifndef SEGCAM_AUDIT_RUN_H
#define SEGCAM_AUDIT_RUN_H

#include "audit-manifest.h"
#include "segcam-metrics.h"

/* The audit's settings and the session it reuses while image sizes repeat. */
typedef struct {
  segcam_model *model;
  int layer;                    /* node, never -1: the model's default resolved */
  const int *classes;           /* the classes to explain; NULL: those the row's prediction has */
  int n_classes;
  const SegcamMethod *methods;
  int n_methods;
  segcam_metrics_options metrics;
  int threads;
  segcam_session *session;      /* planned for width x height, or NULL */
  int width, height;
} segcam_audit_run;

/* Appends item's records to records: one per class x method, or one holding the error when the
 * row cannot be audited (its image, masks or label map missing, damaged, of another size or with
 * values that are no class). FALSE when a record holds an error. */
gboolean segcam_audit_run_item (segcam_audit_run *run, const segcam_audit_item *item,
                                GPtrArray *records);

/* The map of one record again, for the report's gallery: rgb (height x width x 3, the image as
 * R'G'B'), map and roi (height x width) are g_malloc'd. */
gboolean segcam_audit_run_map (segcam_audit_run *run, const segcam_audit_item *item, int cls,
                               SegcamMethod method, float **rgb, float **map, float **roi,
                               int *width, int *height, GError **error);

void segcam_audit_run_clear (segcam_audit_run *run);

#endif /* SEGCAM_AUDIT_RUN_H */
