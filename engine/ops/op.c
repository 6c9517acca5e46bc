/* op.c — what op units share below the table. */
#include "op.h"

char *
segcam_shape_like_input (const segcam_node *n, const segcam_act *acts, segcam_act *out)
{
  const segcam_act *x = &acts[n->inputs[0]];
  out->h = x->h, out->w = x->w;
  return NULL;
}
