/* advice.c — the command line's wording of the engine's advice (advice.h). */
#include "advice.h"

#include "cli.h"

void
segcam_advice_warn_model (const char *command, const char *path, const segcam_model *m,
                          gboolean imported)
{
  char *advice = segcam_advise_model (m, imported);
  if (advice)
    segcam_cli_remark (command, "warning: model '%s': %s", path, advice);
  g_free (advice);
}

void
segcam_advice_warn_image (const char *command, const char *path, const segcam_model *m,
                          const float *rgb, size_t n)
{
  char *advice = segcam_advise_image (m, rgb, n);
  if (advice)
    segcam_cli_remark (command, "warning: '%s': %s", path, advice);
  g_free (advice);
}

char *
segcam_advice_zero_map (const segcam_explain_options *o)
{
  gboolean weights = o->method == SEGCAM_METHOD_SEG_GRAD_CAM && o->weights != SEGCAM_WEIGHTS_ABS;
  return g_strdup_printf ("try %sanother --layer or another --method", weights ? "--weights abs, " : "");
}
