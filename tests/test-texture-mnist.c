/* test-texture-mnist.c — the TextureMNIST generator and its digits-file loader.
 *
 * The digits are synthetic, so the test needs no download: 20 rectangles, labels 0..9 in each
 * split, every one of a different size and position, written to a temporary file and loaded
 * through the real loader. Knowing each rectangle lets the test predict where a sample's label
 * pixels must be, and tell a train digit from a test digit.
 */
#include "segcam.h"
#include "texture-mnist.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define SIZE SEGCAM_TEXTURE_MNIST_SIZE
#define DIGIT SEGCAM_MNIST_DIGIT_SIZE
#define PER_SPLIT 10
#define RECORD_BYTES (1 + DIGIT * DIGIT)
#define N_SAMPLES 2000

typedef struct {
  int r0, r1, c0, c1;   /* rows [r0, r1), columns [c0, c1) of the 28 x 28 digit */
} Rect;

static segcam_mnist *mnist;
static uint8_t *file_bytes;
static size_t file_size;

/* Record k (train 0..9, test 10..19) is rectangle k, label k % 10. */
static Rect
rect_of (int k)
{
  return (Rect) { 2 + k % 7, 20 + k % 6, 4 + k * 3 % 8, 14 + k * 5 % 11 };
}

static void
make_digits_file (void)
{
  file_size = 16 + 2 * PER_SPLIT * RECORD_BYTES;
  file_bytes = g_malloc0 (file_size);
  memcpy (file_bytes, "SCMNIST1", 8);
  file_bytes[8] = PER_SPLIT;
  file_bytes[12] = PER_SPLIT;
  for (int k = 0; k < 2 * PER_SPLIT; k++) {
    uint8_t *rec = file_bytes + 16 + k * RECORD_BYTES;
    Rect r = rect_of (k);
    rec[0] = k % 10;
    for (int y = r.r0; y < r.r1; y++)
      for (int x = r.c0; x < r.c1; x++)
        rec[1 + y * DIGIT + x] = 255;
  }
}

static char *
write_temp (const uint8_t *bytes, size_t size)
{
  GError *error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("segcam-mnist-XXXXXX.bin", &path, &error);
  g_assert_no_error (error);
  g_close (fd, NULL);
  g_file_set_contents (path, (const char *) bytes, (gssize) size, &error);
  g_assert_no_error (error);
  return path;
}

typedef struct {
  uint8_t image[SIZE * SIZE], labels[SIZE * SIZE], bias[SIZE * SIZE];
  segcam_texture_mnist_info info;
} Sample;

static void
make (Sample *s, SegcamTextureMnistConfig config, SegcamMnistSplit split, uint64_t seed,
      uint64_t index)
{
  memset (s, 0, sizeof *s);
  segcam_texture_mnist_sample (mnist, config, split, seed, index, s->image, s->labels, s->bias,
                               &s->info);
}

static int
tile_of (const segcam_texture_mnist_info *info, int x, int y)
{
  return (info->vertical ? x : y) >= SIZE / 2;
}

/* ------------------------------------------------------------------------------------------ */

static void
test_load (void)
{
  g_assert_cmpint (segcam_mnist_count (mnist, SEGCAM_MNIST_TRAIN), ==, PER_SPLIT);
  g_assert_cmpint (segcam_mnist_count (mnist, SEGCAM_MNIST_TEST), ==, PER_SPLIT);
  for (int k = 0; k < 2 * PER_SPLIT; k++) {
    int label = -1;
    const uint8_t *pixels = segcam_mnist_digit (mnist, k / PER_SPLIT, k % PER_SPLIT, &label);
    g_assert_cmpint (label, ==, k % 10);
    g_assert_cmpmem (pixels, DIGIT * DIGIT, file_bytes + 16 + k * RECORD_BYTES + 1, DIGIT * DIGIT);
  }
}

static void
test_determinism (void)
{
  Sample a, b;
  for (int config = 0; config < 2; config++)
    for (uint64_t i = 0; i < 50; i++) {
      make (&a, config, SEGCAM_MNIST_TRAIN, 7, i);
      make (&b, config, SEGCAM_MNIST_TRAIN, 7, i);
      g_assert_cmpmem (&a, sizeof a, &b, sizeof b);
    }

  /* Other seeds, indices and splits give other images. */
  make (&a, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TRAIN, 7, 3);
  make (&b, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TRAIN, 8, 3);
  g_assert_true (memcmp (a.image, b.image, sizeof a.image) != 0);
  make (&b, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TRAIN, 7, 4);
  g_assert_true (memcmp (a.image, b.image, sizeof a.image) != 0);
  make (&b, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TEST, 7, 3);
  g_assert_true (memcmp (a.image, b.image, sizeof a.image) != 0);

  /* No sample of one seed repeats the same index of another. */
  int same = 0;
  for (uint64_t i = 0; i < 200; i++) {
    make (&a, SEGCAM_TEXTURE_MNIST_UNBIASED, SEGCAM_MNIST_TRAIN, 1, i);
    make (&b, SEGCAM_TEXTURE_MNIST_UNBIASED, SEGCAM_MNIST_TRAIN, 2, i);
    same += memcmp (a.image, b.image, sizeof a.image) == 0;
  }
  g_assert_cmpint (same, ==, 0);
}

/* The batch function is the same samples as floats, starting anywhere. */
static void
test_batch (void)
{
  enum { FIRST = 5, N = 4 };
  float *images = g_new (float, N * SIZE * SIZE);
  uint8_t *labels = g_new (uint8_t, N * SIZE * SIZE);
  segcam_texture_mnist_batch (mnist, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TEST, 11, FIRST, N,
                              images, labels);
  for (int i = 0; i < N; i++) {
    Sample s;
    make (&s, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TEST, 11, FIRST + i);
    g_assert_cmpmem (labels + i * SIZE * SIZE, SIZE * SIZE, s.labels, SIZE * SIZE);
    for (int p = 0; p < SIZE * SIZE; p++)
      g_assert_cmpfloat (images[i * SIZE * SIZE + p], ==, s.image[p] / 255.0f);
  }
  g_free (images);
  g_free (labels);
}

/* Label pixels are class 1 + d of the source digit and lie where the source rectangle, scaled and
 * placed as info says, lies (to a pixel): this catches a wrong scale, offset, transposition, or a
 * digit taken from the other split. */
static void
test_labels (void)
{
  for (int config = 0; config < 2; config++)
    for (int split = 0; split < 2; split++)
      for (uint64_t i = 0; i < 500; i++) {
        Sample s;
        make (&s, config, split, 3, i);
        const segcam_texture_mnist_info *info = &s.info;
        g_assert_cmpint (info->source, >=, 0);
        g_assert_cmpint (info->source, <, PER_SPLIT);
        int label;
        segcam_mnist_digit (mnist, split, info->source, &label);
        g_assert_cmpint (info->digit, ==, label);
        g_assert_cmpint (info->x, >=, 0);
        g_assert_cmpint (info->y, >=, 0);
        g_assert_cmpint (info->x + info->size, <=, SIZE);
        g_assert_cmpint (info->y + info->size, <=, SIZE);

        int x0 = SIZE, x1 = -1, y0 = SIZE, y1 = -1;
        for (int y = 0; y < SIZE; y++)
          for (int x = 0; x < SIZE; x++) {
            int l = s.labels[y * SIZE + x];
            if (l == 0)
              continue;
            g_assert_cmpint (l, ==, 1 + info->digit);
            x0 = MIN (x0, x), x1 = MAX (x1, x), y0 = MIN (y0, y), y1 = MAX (y1, y);
          }
        Rect r = rect_of (split * PER_SPLIT + info->source);
        double f = info->size / (double) DIGIT;
        g_assert_cmpfloat (fabs (x0 - (info->x + r.c0 * f)), <=, 1);
        g_assert_cmpfloat (fabs (x1 + 1 - (info->x + r.c1 * f)), <=, 1);
        g_assert_cmpfloat (fabs (y0 - (info->y + r.r0 * f)), <=, 1);
        g_assert_cmpfloat (fabs (y1 + 1 - (info->y + r.r1 * f)), <=, 1);
      }
}

/* Digit fill and both tiles use three different textures, each region is textured (not flat),
 * and layouts vary: both splits of the background, many sizes and positions. */
static void
test_textures (void)
{
  int n_textures = segcam_texture_mnist_n_textures ();
  g_assert_cmpint (n_textures, >=, 16);
  int used_as_tile[32] = { 0 }, orientations[2] = { 0 }, sizes[SIZE + 1] = { 0 };
  for (int config = 0; config < 2; config++)
    for (uint64_t i = 0; i < N_SAMPLES; i++) {
      Sample s;
      make (&s, config, SEGCAM_MNIST_TRAIN, 5, i);
      const segcam_texture_mnist_info *info = &s.info;
      int t[3] = { info->texture_digit, info->texture_tile[0], info->texture_tile[1] };
      for (int k = 0; k < 3; k++) {
        g_assert_cmpint (t[k], >=, 0);
        g_assert_cmpint (t[k], <, n_textures);
      }
      g_assert_cmpint (t[0], !=, t[1]);
      g_assert_cmpint (t[0], !=, t[2]);
      g_assert_cmpint (t[1], !=, t[2]);
      used_as_tile[t[1]]++;
      used_as_tile[t[2]]++;
      orientations[info->vertical]++;
      sizes[info->size]++;

      /* Each region: digit (0), tile 0 (1), tile 1 (2). */
      int lo[3] = { 255, 255, 255 }, hi[3] = { 0 }, n[3] = { 0 };
      for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < SIZE; x++) {
          int p = y * SIZE + x, region = s.labels[p] ? 0 : 1 + tile_of (info, x, y);
          lo[region] = MIN (lo[region], s.image[p]);
          hi[region] = MAX (hi[region], s.image[p]);
          n[region]++;
        }
      for (int k = 0; k < 3; k++)
        if (n[k] >= 100)
          g_assert_cmpint (hi[k] - lo[k], >=, 10);
    }
  for (int t = 0; t < n_textures; t++)
    g_assert_cmpint (used_as_tile[t], >, 0);
  g_assert_cmpint (orientations[0], >, N_SAMPLES / 2);
  g_assert_cmpint (orientations[1], >, N_SAMPLES / 2);
  int distinct_sizes = 0;
  for (int k = 0; k <= SIZE; k++)
    distinct_sizes += sizes[k] > 0;
  g_assert_cmpint (distinct_sizes, >=, 10);
}

/* The bias mask must be exactly the background part of the tiles that use the bias texture. */
static void
assert_bias_mask (const Sample *s)
{
  int bias_texture = segcam_texture_mnist_bias_texture ();
  for (int y = 0; y < SIZE; y++)
    for (int x = 0; x < SIZE; x++) {
      int p = y * SIZE + x;
      gboolean expected = s->labels[p] == 0 &&
                          s->info.texture_tile[tile_of (&s->info, x, y)] == bias_texture;
      g_assert_cmpint (s->bias[p], ==, expected ? 255 : 0);
    }
}

static gboolean
has_bias_tile (const Sample *s)
{
  int bias_texture = segcam_texture_mnist_bias_texture ();
  return s->info.texture_tile[0] == bias_texture || s->info.texture_tile[1] == bias_texture;
}

static void
test_bias_biased (void)
{
  int bias_texture = segcam_texture_mnist_bias_texture ();
  for (int split = 0; split < 2; split++) {
    int twos = 0, bias_side[2] = { 0 };
    for (uint64_t i = 0; i < N_SAMPLES; i++) {
      Sample s;
      make (&s, SEGCAM_TEXTURE_MNIST_BIASED, split, 9, i);
      g_assert_cmpint (s.info.texture_digit, !=, bias_texture);
      assert_bias_mask (&s);
      int bias_pixels = 0;
      for (int p = 0; p < SIZE * SIZE; p++)
        bias_pixels += s.bias[p] != 0;
      if (s.info.digit == SEGCAM_TEXTURE_MNIST_BIASED_DIGIT) {
        twos++;
        /* Exactly one tile, either of the two. */
        g_assert_true ((s.info.texture_tile[0] == bias_texture) !=
                       (s.info.texture_tile[1] == bias_texture));
        bias_side[s.info.texture_tile[1] == bias_texture]++;
        g_assert_cmpint (bias_pixels, >, 0);
      } else {
        g_assert_false (has_bias_tile (&s));
        g_assert_cmpint (bias_pixels, ==, 0);
      }
    }
    /* Classes are balanced: about a tenth are twos. */
    g_assert_cmpint (twos, >, N_SAMPLES / 10 - 60);
    g_assert_cmpint (twos, <, N_SAMPLES / 10 + 60);
    g_assert_cmpint (bias_side[0], >, twos / 4);
    g_assert_cmpint (bias_side[1], >, twos / 4);
  }
}

/* Unbiased: the bias texture is an ordinary background texture, as frequent behind a 2 as behind
 * any other digit. Rates need more samples than the masks, so most samples are info only. */
static void
test_bias_unbiased (void)
{
  enum { N_RATE = 10000 };
  int bias_texture = segcam_texture_mnist_bias_texture ();
  int with_bias[2] = { 0 }, total[2] = { 0 };  /* [0] other digits, [1] digit 2 */
  for (uint64_t i = 0; i < N_RATE; i++) {
    Sample s;
    if (i < N_SAMPLES) {
      make (&s, SEGCAM_TEXTURE_MNIST_UNBIASED, SEGCAM_MNIST_TRAIN, 9, i);
      assert_bias_mask (&s);
    } else {
      segcam_texture_mnist_sample (mnist, SEGCAM_TEXTURE_MNIST_UNBIASED, SEGCAM_MNIST_TRAIN, 9, i,
                                   NULL, NULL, NULL, &s.info);
    }
    g_assert_cmpint (s.info.texture_digit, !=, bias_texture);
    int is_two = s.info.digit == SEGCAM_TEXTURE_MNIST_BIASED_DIGIT;
    total[is_two]++;
    with_bias[is_two] += has_bias_tile (&s);
  }
  /* Two tiles from the textures other than the fill: 2/19 = 10.5% whatever the digit; the bounds
   * are over 4 standard deviations away for the ~1000 twos. */
  double expected = 2.0 / (segcam_texture_mnist_n_textures () - 1);
  for (int k = 0; k < 2; k++) {
    double rate = with_bias[k] / (double) total[k];
    g_test_message ("bias texture behind %s: %d of %d", k ? "twos" : "other digits",
                    with_bias[k], total[k]);
    g_assert_cmpfloat (rate, >, expected * 0.6);
    g_assert_cmpfloat (rate, <, expected * 1.4);
  }
}

/* The same (split, seed, index) lays out the same digit in both configurations. */
static void
test_configs_share_layout (void)
{
  for (uint64_t i = 0; i < 200; i++) {
    Sample a, b;
    make (&a, SEGCAM_TEXTURE_MNIST_BIASED, SEGCAM_MNIST_TRAIN, 4, i);
    make (&b, SEGCAM_TEXTURE_MNIST_UNBIASED, SEGCAM_MNIST_TRAIN, 4, i);
    g_assert_cmpint (a.info.digit, ==, b.info.digit);
    g_assert_cmpint (a.info.source, ==, b.info.source);
    g_assert_cmpint (a.info.vertical, ==, b.info.vertical);
    g_assert_cmpmem (a.labels, sizeof a.labels, b.labels, sizeof b.labels);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Hostile files                                                                              */

static void
assert_rejected (const uint8_t *bytes, size_t size, const char *what)
{
  GError *error = NULL;
  segcam_mnist *m = segcam_mnist_load_from_data (bytes, size, &error);
  g_assert_null (m);
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_assert_null (strchr (error->message, '\n'));
  if (strstr (error->message, what) == NULL)
    g_error ("expected \"%s\" in: %s", what, error->message);
  g_error_free (error);
}

static uint8_t *
corrupted (size_t offset, uint8_t value)
{
  uint8_t *bytes = g_memdup2 (file_bytes, file_size);
  bytes[offset] = value;
  return bytes;
}

static void
test_reject_data (void)
{
  static const uint8_t empty[1];
  assert_rejected (empty, 0, "SCMNIST1");
  assert_rejected (file_bytes, 10, "SCMNIST1");
  assert_rejected (file_bytes, 16, "truncated");
  assert_rejected (file_bytes, file_size - 1, "truncated");

  uint8_t *longer = g_malloc0 (file_size + 1);
  memcpy (longer, file_bytes, file_size);
  assert_rejected (longer, file_size + 1, "trailing");
  g_free (longer);

  struct { size_t offset; uint8_t value; const char *what; } cases[] = {
    { 0, 'X', "SCMNIST1" },
    { 8, 0, "implausible" },                     /* no train digits */
    { 15, 0xff, "implausible" },                 /* 4 billion test digits */
    { 11, 0x01, "implausible" },                 /* 2^24 + 10 train digits */
    { 9, 0x01, "truncated" },                    /* 266 train digits claimed */
    { 16 + 3 * RECORD_BYTES, 10, "label 10" },   /* label out of range */
    { 16 + 3 * RECORD_BYTES, 4, "no digit 3" },  /* train split loses its only 3 */
    { 16 + 13 * RECORD_BYTES, 4, "test split" }, /* and the test split */
  };
  for (size_t k = 0; k < G_N_ELEMENTS (cases); k++) {
    uint8_t *bytes = corrupted (cases[k].offset, cases[k].value);
    assert_rejected (bytes, file_size, cases[k].what);
    g_free (bytes);
  }

  /* A blank digit: conversion gone wrong (e.g. floats truncated to 0). */
  uint8_t *bytes = g_memdup2 (file_bytes, file_size);
  memset (bytes + 16 + 5 * RECORD_BYTES + 1, 0, DIGIT * DIGIT);
  assert_rejected (bytes, file_size, "blank");
  g_free (bytes);
}

static void
test_reject_files (void)
{
  GError *error = NULL;
  char *path = write_temp (file_bytes, file_size - RECORD_BYTES / 2);
  g_assert_null (segcam_mnist_load (path, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, "truncated"));
  g_clear_error (&error);

  g_file_set_contents (path, "", 0, NULL);
  g_assert_null (segcam_mnist_load (path, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_clear_error (&error);

  g_unlink (path);
  g_assert_null (segcam_mnist_load (path, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  make_digits_file ();
  char *path = write_temp (file_bytes, file_size);
  GError *error = NULL;
  mnist = segcam_mnist_load (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_free (path);

  g_test_add_func ("/texture-mnist/load", test_load);
  g_test_add_func ("/texture-mnist/determinism", test_determinism);
  g_test_add_func ("/texture-mnist/batch", test_batch);
  g_test_add_func ("/texture-mnist/labels", test_labels);
  g_test_add_func ("/texture-mnist/textures", test_textures);
  g_test_add_func ("/texture-mnist/bias-biased", test_bias_biased);
  g_test_add_func ("/texture-mnist/bias-unbiased", test_bias_unbiased);
  g_test_add_func ("/texture-mnist/configs-share-layout", test_configs_share_layout);
  g_test_add_func ("/texture-mnist/reject-data", test_reject_data);
  g_test_add_func ("/texture-mnist/reject-files", test_reject_files);
  int status = g_test_run ();

  segcam_mnist_free (mnist);
  g_free (file_bytes);
  return status;
}
