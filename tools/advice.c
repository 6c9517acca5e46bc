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

void
segcam_advice_warn_size (const char *command, const char *path, const segcam_model *m, int width,
                         int height)
{
  char *advice = segcam_advise_size (m, width, height);
  if (advice)
    segcam_cli_remark (command, "warning: '%s': %s", path, advice);
  g_free (advice);
}

char *
segcam_advice_zero_map (const segcam_explain_options *o, float raw_max)
{
  static const segcam_remedy_names flags = {"--weights abs", "another --layer", "another --method"};
  return segcam_advise_zero_map (o, raw_max, &flags);
}
