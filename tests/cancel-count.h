/* cancel-count.h — a cancel callback for the tests of the per-pass cancel hook
 * (segcam_explain_options.cancelled and the metrics' options). */
#ifndef SEGCAM_TESTS_CANCEL_COUNT_H
#define SEGCAM_TESTS_CANCEL_COUNT_H

#include <glib.h>

/* Says stop from its (stop_after + 1)-th question on; asked counts the questions. */
typedef struct {
  int asked, stop_after;
} cancel_count;

static inline gboolean
cancel_after (void *data)
{
  cancel_count *c = data;
  return ++c->asked > c->stop_after;
}

#endif /* SEGCAM_TESTS_CANCEL_COUNT_H */
