/* gimp2-dialog.h — the GTK2 dialogs of the GIMP 2.10 adapter and the settings they edit. */
#ifndef SEGCAM_GIMP2_DIALOG_H
#define SEGCAM_GIMP2_DIALOG_H

#include <libgimp/gimp.h>

#include "explain-job.h"

G_BEGIN_DECLS

/* Last values, stored with gimp_set_data: plain bytes, so fixed-size strings and a version that
 * changes with the layout (a stored struct of another version or size is ignored). */
#define GIMP2_VALS_VERSION 4

typedef struct {
  guint32 version;
  gchar   model[4096];     /* "" = the bundled default */
  gchar   classes[1024];   /* "" = the class predicted most in the ROI */
  gchar   layer[256];      /* "" = the model's default layer */
  gint32  roi_mode;
  gint32  score;
  gint32  colormap;
  gdouble opacity;
  gint32  outputs;
  gint32  max_size;
  gint32  map_alpha;       /* dialog options beyond the PDB arguments: FALSE in batch runs */
  gint32  legend;
  gint32  method;          /* SegcamMethod; with the five below, arguments of
                              plug-in-segcam-explain-method only */
  gint32  weights;
  gint32  pool;
  gint32  pool_mode;
  gint32  sweep;
  gint32  max_channels;
} ExplainVals;

typedef struct {
  guint32 version;
  gchar   model[4096];
  gdouble opacity;
  gint32  max_size;
} SegmentVals;

typedef struct {
  guint32 version;
  gdouble threshold;
  gint32  to_channel;
} SelectVals;

/* Shows the Explain dialog for the layer source holds (its pixels and the selection feed the
 * preview), or the Segment dialog for drawable. On OK returns TRUE with vals updated and, in
 * *model, the model the dialog loaded for vals->model (owned by the caller), so it is not read
 * twice. */
gboolean gimp2_explain_dialog (ExplainVals *vals, const ExplainSource *source,
                               const gchar *model_dir, segcam_model **model);
gboolean gimp2_segment_dialog (SegmentVals *vals, gint32 drawable, const gchar *model_dir,
                               segcam_model **model);
/* The Heat map to selection dialog: TRUE on OK with vals updated. */
gboolean gimp2_select_dialog (SelectVals *vals);

G_END_DECLS

#endif /* SEGCAM_GIMP2_DIALOG_H */
