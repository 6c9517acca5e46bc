/* tiled.c — an image too large for one session, run as tiles with halos (docs/seg-grad-cam.md,
 * "Large images: tiles").
 *
 * The padded image (hp x wp) is cut into core tiles of one side, aligned to the network's total
 * stride; each runs inside a crop that adds a halo of at least the network's reach (graph/
 * reach.c) on every side inside the image, shifted inward at the border so that every crop has
 * one size and one session. Every output of a core then depends only on pixels of its crop, and
 * the crop's edge (where its convolutions pad) reaches no core output: the cores' outputs, and
 * every activation and Jacobian they depend on, are the untiled session's.
 *
 * Forward: each core's labels and probabilities, and its positions of the target activation A.
 * Explain: per crop, S_t = the ROI score over its core only; backward; dS_t/dA over the whole
 * crop added into the global G. S = sum_t S_t, so G = dS/dA, exact. Then L from A and G
 * (cam.c) and the output steps every method shares (seggradcam.c). A forward pass asked for no
 * predictions runs no tile: explain runs each then, keeping A as it goes, and skips the later
 * explanations' crops whose cores hold no ROI weight. */
#include "cam.h"
#include "error.h"
#include "score.h"

#include <math.h>
#include <string.h>

struct segcam_tiled {
  const segcam_model *model;
  int width, height, hp, wp;
  int core, halo, crop_w, crop_h, n_tx, n_ty;
  gboolean explain;
  segcam_session *tile;     /* crop_w x crop_h */
  int target, target_stride;
  segcam_act a, g;          /* the target's activation and gradient over the padded image */
  float *cam, *resized;     /* L (target h x w) and L resized to hp x wp */
  float *crop_pixels, *crop_roi, *crop_probs;
  uint8_t *crop_labels;
  guint8 *kept;             /* per tile: its core's part of a is this image's */
  const float *pixels;      /* the forward pass's image */
  segcam_progress_fn progress;
  void *progress_data;
  gboolean (*cancelled) (void *data);
  void *cancel_data;
};

/* One tile: its core [x0, x1) x [y0, y1) and its crop's origin, in padded-image pixels. */
typedef struct {
  int x0, y0, x1, y1, ox, oy;
} tile_box;

static int
round_up (int v, int m)
{
  return (v + m - 1) / m * m;
}

static int
lcm (int a, int b)
{
  int x = a, y = b;
  while (y)
    {
      int t = x % y;
      x = y, y = t;
    }
  return a / x * b;
}

static tile_box
tile_at (const segcam_tiled *t, int index)
{
  int tx = index % t->n_tx, ty = index / t->n_tx;
  tile_box b = {tx * t->core, ty * t->core, MIN ((tx + 1) * t->core, t->wp),
                MIN ((ty + 1) * t->core, t->hp)};
  b.ox = CLAMP (b.x0 - t->halo, 0, t->wp - t->crop_w);
  b.oy = CLAMP (b.y0 - t->halo, 0, t->hp - t->crop_h);
  return b;
}

/* The crop's pixels, padded at the image's bottom and right by repeating its edge as a session
 * pads the whole image, so that the crops together see the padded image. */
static void
fill_crop (segcam_tiled *t, const tile_box *b)
{
  int c = t->model->in_channels;
  for (int y = 0; y < t->crop_h; y++)
    {
      const float *row = t->pixels + (size_t) MIN (b->oy + y, t->height - 1) * t->width * c;
      float *out = t->crop_pixels + (size_t) y * t->crop_w * c;
      for (int x = 0; x < t->crop_w; x++)
        memcpy (out + (size_t) x * c, row + (size_t) MIN (b->ox + x, t->width - 1) * c,
                c * sizeof (float));
    }
}

/* FALSE with SEGCAM_ERROR_CANCELLED when either callback asks to stop; reports the tile. */
static gboolean
tile_may_run (const segcam_tiled *t, const segcam_explain_options *o, int done, int total,
              GError **error)
{
  if ((t->cancelled && t->cancelled (t->cancel_data))
      || (o && o->cancelled && o->cancelled (o->cancel_data)))
    return segcam_fail (error, SEGCAM_ERROR_CANCELLED, "the tiled run was cancelled after %d of "
                        "%d tiles", done, total);
  if (t->progress)
    {
      char *what = g_strdup_printf ("tile %d/%d", done + 1, total);
      t->progress ((double) done / total, what, t->progress_data);
      g_free (what);
    }
  return TRUE;
}

/* Rows y0 .. y1 and columns x0 .. x1 (target pixels of the padded image) of the crop's act,
 * whose origin is at (ox, oy), copied into the global dst, or added to it. */
static void
crop_to_global (const segcam_act *crop, segcam_act *dst, int ox, int oy, int x0, int y0, int x1,
                int y1, gboolean add)
{
  int c = dst->c;
  for (int y = y0; y < y1; y++)
    {
      const float *src = crop->data + ((size_t) (y - oy) * crop->w + (x0 - ox)) * c;
      float *out = dst->data + ((size_t) y * dst->w + x0) * c;
      size_t n = (size_t) (x1 - x0) * c;
      if (add)
        for (size_t i = 0; i < n; i++)
          out[i] += src[i];
      else
        memcpy (out, src, n * sizeof (float));
    }
}

static void
tiled_free_buffers (segcam_tiled *t)
{
  segcam_session_free (t->tile);
  g_free (t->a.data);
  g_free (t->g.data);
  g_free (t->cam);
  g_free (t->resized);
  g_free (t->crop_pixels);
  g_free (t->crop_roi);
  g_free (t->crop_probs);
  g_free (t->crop_labels);
  g_free (t->kept);
}

void
segcam_tiled_free (segcam_tiled *t)
{
  if (!t)
    return;
  tiled_free_buffers (t);
  g_free (t);
}

/* The layout and the crop session for core side core; FALSE with the session's error. */
static gboolean
plan_tiles (segcam_tiled *t, const segcam_tiled_options *o, int core, GError **error)
{
  t->core = core;
  t->crop_w = MIN (core + 2 * t->halo, t->wp);
  t->crop_h = MIN (core + 2 * t->halo, t->hp);
  t->n_tx = (t->wp + core - 1) / core;
  t->n_ty = (t->hp + core - 1) / core;
  segcam_session_options so = {t->crop_w, t->crop_h, o->layer, o->explain, o->n_threads, NULL,
                               NULL, o->exact};
  t->tile = segcam_session_new (t->model, &so, error);
  return t->tile != NULL;
}

segcam_tiled *
segcam_tiled_new (const segcam_model *m, const segcam_tiled_options *o, GError **error)
{
  int reach, stride;
  if (o->width < 1 || o->height < 1 || o->width > 1 << 20 || o->height > 1 << 20)
    {
      segcam_fail (error, SEGCAM_ERROR_INPUT, "image size %dx%d is out of range", o->width,
                   o->height);
      return NULL;
    }
  if (o->tile < 0)
    {
      segcam_fail (error, SEGCAM_ERROR_INPUT, "the tile side must be 0 or more, not %d", o->tile);
      return NULL;
    }
  if (!segcam_model_reach (m, &reach, &stride, error))
    return NULL;
  segcam_tiled *t = g_new0 (segcam_tiled, 1);
  t->model = m;
  t->width = o->width, t->height = o->height;
  t->hp = round_up (o->height, m->size_multiple);
  t->wp = round_up (o->width, m->size_multiple);
  t->explain = o->explain;
  t->progress = o->progress, t->progress_data = o->progress_data;
  t->cancelled = o->cancelled, t->cancel_data = o->cancel_data;
  if (t->hp % stride || t->wp % stride)
    {
      segcam_fail (error, SEGCAM_ERROR_INPUT, "the padded image %dx%d is not a multiple of the "
                   "network's stride %d (its size multiple is %d): it cannot be cut into tiles",
                   t->wp, t->hp, stride, m->size_multiple);
      goto fail;
    }
  /* Crops whose origins are multiples of 4 strides keep the fast path's Winograd grids where
   * the untiled session has them; crops of the size multiple need no padding of their own. */
  int align = lcm (4 * stride, m->size_multiple);
  t->halo = round_up (reach, align);
  int core = o->tile ? round_up (o->tile, align) : round_up (SEGCAM_TILE_DEFAULT, align);
  core = MIN (core, round_up (MAX (t->wp, t->hp), align));
  GError *local = NULL;
  while (!plan_tiles (t, o, core, &local))
    {
      if (o->tile || core <= align || !g_error_matches (local, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY))
        {
          g_propagate_error (error, local);
          goto fail;
        }
      g_clear_error (&local);
      core = round_up (core / 2, align);
    }
  size_t crop = (size_t) t->crop_w * t->crop_h;
  t->crop_pixels = g_try_new (float, crop * m->in_channels);
  t->crop_roi = g_try_new (float, crop);
  t->crop_probs = g_try_new (float, crop * m->n_classes);
  t->crop_labels = g_try_new (uint8_t, crop);
  t->kept = g_new0 (guint8, t->n_tx * t->n_ty);
  gboolean ok = t->crop_pixels && t->crop_roi && t->crop_probs && t->crop_labels;
  if (ok && o->explain)
    {
      /* The target's grid over the image, at the stride it has in the crop (the whole image's
       * shapes may be beyond what one session can hold). The alignment makes that stride whole
       * in every crop and in the image, unless a pad before the target shifts its size. */
      t->target = t->tile->target;
      const segcam_act *ta = &t->tile->acts[t->target];
      int ts = t->target_stride = t->crop_h / ta->h;
      if (ta->h * ts != t->crop_h || ta->w * ts != t->crop_w || t->hp % ts || t->wp % ts)
        {
          char *name = segcam_escape (m->nodes[t->target].name, SEGCAM_SHOWN_CHARS);
          segcam_fail (error, SEGCAM_ERROR_INPUT, "layer '%s' is not at a whole stride of the "
                       "image (%dx%d for a %dx%d crop): tiles cannot explain at it", name, ta->w,
                       ta->h, t->crop_w, t->crop_h);
          g_free (name);
          goto fail;
        }
      t->a = t->g = (segcam_act) {NULL, 1, t->hp / ts, t->wp / ts, ta->c};
      size_t n = segcam_act_size (&t->a);
      t->a.data = g_try_new (float, n);
      t->g.data = g_try_new (float, n);
      t->cam = g_try_new (float, (size_t) t->a.h * t->a.w);
      t->resized = g_try_new (float, (size_t) t->hp * t->wp);
      ok = t->a.data && t->g.data && t->cam && t->resized;
    }
  if (!ok)
    {
      segcam_fail (error, SEGCAM_ERROR_MEMORY, "not enough memory for the tiles of a %dx%d image",
                   o->width, o->height);
      goto fail;
    }
  return t;

fail:
  segcam_tiled_free (t);
  return NULL;
}

void
segcam_tiled_layout (const segcam_tiled *t, int *n_tiles, int *core, int *halo, int *crop_width,
                     int *crop_height)
{
  if (n_tiles)
    *n_tiles = t->n_tx * t->n_ty;
  if (core)
    *core = t->core;
  if (halo)
    *halo = t->halo;
  if (crop_width)
    *crop_width = t->crop_w;
  if (crop_height)
    *crop_height = t->crop_h;
}

size_t
segcam_tiled_memory (const segcam_tiled *t)
{
  size_t crop = (size_t) t->crop_w * t->crop_h;
  size_t floats = crop * (t->model->in_channels + 1 + t->model->n_classes) + crop / 4;
  if (t->explain)
    floats += 2 * segcam_act_size (&t->a) + (size_t) t->a.h * t->a.w + (size_t) t->hp * t->wp;
  return segcam_session_memory (t->tile) + floats * sizeof (float);
}

/* Copies the core's part inside the image of a crop's planes (planes of crop_w x crop_h) into
 * the image's planes (width x height); element size bytes. */
static void
core_to_image (const segcam_tiled *t, const tile_box *b, const void *crop, void *image,
               int planes, size_t size)
{
  int x1 = MIN (b->x1, t->width), y1 = MIN (b->y1, t->height);
  size_t crop_plane = (size_t) t->crop_w * t->crop_h, plane = (size_t) t->width * t->height;
  for (int k = 0; k < planes && b->x0 < x1; k++)
    for (int y = b->y0; y < y1; y++)
      memcpy ((char *) image + (k * plane + (size_t) y * t->width + b->x0) * size,
              (const char *) crop + (k * crop_plane + (size_t) (y - b->oy) * t->crop_w
                                     + (b->x0 - b->ox)) * size,
              (x1 - b->x0) * size);
}

/* Runs tile i forward and keeps its core's part of the target activation, once per image. */
static gboolean
forward_tile (segcam_tiled *t, int i, const tile_box *b, GError **error)
{
  int s = t->target_stride;
  fill_crop (t, b);
  if (!segcam_session_forward (t->tile, t->crop_pixels, error))
    return FALSE;
  if (t->explain && !t->kept[i])
    crop_to_global (&t->tile->acts[t->target], &t->a, b->ox / s, b->oy / s, b->x0 / s, b->y0 / s,
                    b->x1 / s, b->y1 / s, FALSE);
  t->kept[i] = t->explain;
  return TRUE;
}

gboolean
segcam_tiled_forward (segcam_tiled *t, const float *pixels, float *probabilities,
                      uint8_t *labels, GError **error)
{
  int n = t->n_tx * t->n_ty;
  t->pixels = pixels;
  memset (t->kept, 0, n);
  /* Without predictions to give, the tiles wait for explain, which runs them anyway. */
  for (int i = 0; i < n && (probabilities || labels); i++)
    {
      tile_box b = tile_at (t, i);
      if (!tile_may_run (t, NULL, i, n, error) || !forward_tile (t, i, &b, error))
        {
          t->pixels = NULL; /* a new forward pass must come first */
          return FALSE;
        }
      if (probabilities)
        {
          segcam_session_probabilities (t->tile, t->crop_probs);
          core_to_image (t, &b, t->crop_probs, probabilities, t->model->n_classes, sizeof (float));
        }
      if (labels)
        {
          segcam_session_labels (t->tile, t->crop_labels);
          core_to_image (t, &b, t->crop_labels, labels, 1, 1);
        }
    }
  return TRUE;
}

/* The crop's ROI: the caller's weights on the core's pixels inside the image, 0 elsewhere (the
 * halo belongs to other cores, the padding to none). Returns their sum. */
static double
fill_crop_roi (segcam_tiled *t, const tile_box *b, const float *roi)
{
  double sum = 0;
  for (int y = 0; y < t->crop_h; y++)
    for (int x = 0; x < t->crop_w; x++)
      {
        int gx = b->ox + x, gy = b->oy + y;
        gboolean in = gx >= b->x0 && gx < MIN (b->x1, t->width) && gy >= b->y0
                      && gy < MIN (b->y1, t->height);
        float w = !in ? 0 : roi ? roi[(size_t) gy * t->width + gx] : 1;
        t->crop_roi[(size_t) y * t->crop_w + x] = w;
        sum += w;
      }
  return sum;
}

gboolean
segcam_tiled_explain (segcam_tiled *t, const segcam_explain_options *o, const float *roi,
                      float *map, segcam_explain_info *info, GError **error)
{
  const segcam_model *m = t->model;
  if (!t->explain || !t->pixels)
    return segcam_fail (error, SEGCAM_ERROR_INPUT,
                        "the tiles must be planned for explaining and run forward first");
  if (o->class_index < 0 || o->class_index >= m->n_classes)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the class index is out of range");
  if (!segcam_method_name (o->method))
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "unknown CAM method %d", (int) o->method);
  if (segcam_method_reruns (o->method))
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "%s reruns the whole image once per channel: "
                        "it is not available on tiles (use a smaller image or another method)",
                        segcam_method_name (o->method));
  if (o->method == SEGCAM_METHOD_XRES && o->pool < 1)
    return segcam_fail (error, SEGCAM_ERROR_INPUT, "the xres pool must be at least 1, not %d", o->pool);
  /* EIGEN reads only the activation, which it runs the tiles for once: S is not computed. */
  gboolean gradient = segcam_method_needs_gradient (o->method);
  double roi_sum, score = gradient ? 0 : NAN;
  if (!segcam_roi_check (roi, (size_t) t->width * t->height, &roi_sum, error))
    return FALSE;
  int n = t->n_tx * t->n_ty, s = t->target_stride;
  const segcam_act *tg = &t->tile->grads[t->target];
  memset (t->g.data, 0, segcam_act_size (&t->g) * sizeof (float));
  for (int i = 0; i < n; i++)
    {
      tile_box b = tile_at (t, i);
      /* a crop whose core holds no ROI weight adds nothing to S or G */
      gboolean weighed = gradient && fill_crop_roi (t, &b, roi) > 0;
      if (!weighed && t->kept[i])
        continue;
      if (!tile_may_run (t, o, i, n, error) || !forward_tile (t, i, &b, error))
        return FALSE;
      if (!weighed)
        continue;
      score += segcam_roi_score (t->tile, o, t->crop_roi, &t->tile->grads[m->output]);
      segcam_session_backward (t->tile);
      crop_to_global (tg, &t->g, b.ox / s, b.oy / s, b.ox / s, b.oy / s, b.ox / s + tg->w,
                      b.oy / s + tg->h, TRUE);
    }
  segcam_cam_compute (&t->a, &t->g, o, t->cam);
  segcam_act cam = {t->cam, 1, t->a.h, t->a.w, 1}, grid = {t->resized, 1, t->hp, t->wp, 1};
  float mx = segcam_map_from_cam (t->tile->pool, &cam, &grid, t->width, t->height, o->normalize,
                                  map);
  if (info)
    *info = (segcam_explain_info) {mx, roi_sum, score};
  return TRUE;
}
