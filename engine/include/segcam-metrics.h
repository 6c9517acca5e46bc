/* segcam-metrics.h — how far to trust a map: faithfulness metrics of libsegcam (public API).
 *
 * A map explains the ROI score S of docs/seg-grad-cam.md ('Definition') for one class, ROI and
 * image. These functions measure it against the segmentation itself: where its energy lies, and
 * how S falls or rises as the pixels it ranks first are removed or restored (docs/metrics.md has
 * every definition, its source and segcam's conventions: baselines, steps, imputation, AUCs).
 * Maps, ROIs and masks are width x height, row-major, as in segcam.h. */
#ifndef SEGCAM_METRICS_H
#define SEGCAM_METRICS_H

#include "segcam.h"

G_BEGIN_DECLS

/* Where a map's energy lies. map >= 0 (a final map: after ReLU); roi as for segcam_session_explain
 * (NULL: the whole image); context a 0/1 (or weight) mask, or NULL. Shares are in [0, 1], NaN when
 * the map sums to zero. */
typedef struct {
  double roi_energy_share;     /* sum(map * roi) / sum(map): the energy pointing game, ROI as box */
  double context_share;        /* sum(map * (1 - roi)) / sum(map): what lies outside the ROI */
  double context_mask_share;   /* sum(map * context) / sum(map); NaN without a context mask */
} segcam_energy;

void segcam_map_energy (const float *map, const float *roi, const float *context,
                        int width, int height, segcam_energy *out);

/* What replaces a removed pixel in deletion / insertion. */
typedef enum {
  SEGCAM_BASELINE_BLUR,  /* the image blurred (documented kernel): removes detail, keeps colour */
  SEGCAM_BASELINE_MEAN,  /* the image's per-channel mean */
} SegcamBaseline;

/* The standard deviation of the noise ROAD adds to imputed pixels (values in [0, 1]): Rong et
 * al.'s. */
#define SEGCAM_ROAD_NOISE 0.01

typedef struct {
  int steps;                /* points on the deletion / insertion curves after the first, at most
                               width x height; 0: skip them */
  SegcamBaseline baseline;
  gboolean road;            /* also ROAD (MoRF, LeRF with noisy linear imputation, 10..90 %) */
  guint64 seed;             /* ROAD's imputation noise */
  double road_noise;        /* its standard deviation, >= 0: SEGCAM_ROAD_NOISE for ROAD as
                               published; 0 imputes without noise */
  gboolean (*cancelled) (void *data); /* asked before each forward pass; TRUE stops the evaluation
                               with SEGCAM_ERROR_CANCELLED. NULL: never */
  void *cancel_data;
} segcam_metrics_options;

typedef struct {
  segcam_energy energy;
  double score;             /* S(0), S on the unperturbed image: every curve is divided by it, so
                               the normalised figures mean little when it is <= 0 (NaN when 0) */
  double deletion_auc;      /* area under S(fraction removed) / S(0), fraction in [0, 1]; NaN if skipped */
  double insertion_auc;     /* same, pixels restored onto the baseline; NaN if skipped */
  double road_morf;         /* ROAD: mean normalised S over the MoRF percentiles; NaN if skipped */
  double road_lerf;
  double road_score;        /* the combined score (docs/metrics.md): (road_lerf - road_morf) / 2 */
} segcam_metrics;

/* Scores map for the explain options' class and score over roi on pixels (height x width x
 * input channels, as for segcam_session_forward). It runs the session forward on pixels for S(0)
 * and once per curve point on perturbed copies of pixels (not at the points whose image is pixels
 * itself: S(0) there), so the session's state afterwards is that of the last perturbed image:
 * call segcam_session_forward again before explaining. With no curve (steps 0, no ROAD) it runs
 * no forward pass: S(0) is read from the session's last one, which must be that of pixels (as
 * after segcam_session_forward or an explanation of pixels; a session never run forward runs it). curves may be NULL, else it gets
 * 2 * (steps + 1) doubles: the deletion curve then the insertion curve, S(fraction) / S(0).
 * A session that was not planned with explain = TRUE works. The map must be finite and >= 0, the
 * ROI as for explain, the context (when given) finite and >= 0. Progress goes to the session's
 * callback, one report per forward pass; the options' cancel callback is asked before each. */
gboolean segcam_session_evaluate (segcam_session *session, const segcam_explain_options *explain,
                                  const float *pixels, const float *roi, const float *context,
                                  const float *map, const segcam_metrics_options *options,
                                  segcam_metrics *out, double *curves, GError **error);

G_END_DECLS

#endif /* SEGCAM_METRICS_H */
