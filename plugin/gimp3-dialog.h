/* gimp3-dialog.h — the GimpProcedureDialogs of the GIMP 3.0 adapter. */
#ifndef SEGCAM_GIMP3_DIALOG_H
#define SEGCAM_GIMP3_DIALOG_H

#include <libgimp/gimp.h>

#include "explain-job.h"

G_BEGIN_DECLS

/* Shows the dialog of procedure for drawable (Explain: for the layer source holds, whose pixels
 * and selection feed the preview), editing config (GIMP loads the last values into it
 * and saves them after a successful run). On OK returns TRUE and, in *model, the model the
 * dialog loaded for config's model (owned by the caller), so that it is not read twice. */
gboolean gimp3_explain_dialog (GimpProcedure *procedure, GimpProcedureConfig *config,
                               const ExplainSource *source, const gchar *model_dir,
                               segcam_model **model);
gboolean gimp3_segment_dialog (GimpProcedure *procedure, GimpProcedureConfig *config,
                               GimpDrawable *drawable, const gchar *model_dir,
                               segcam_model **model);

/* The Heat map to selection dialog, all GIMP's own widgets: TRUE on OK. */
gboolean gimp3_select_dialog (GimpProcedure *procedure, GimpProcedureConfig *config);

G_END_DECLS

#endif /* SEGCAM_GIMP3_DIALOG_H */
