/* texture-mnist.c — TextureMNIST generator (texture-mnist.h): digits file loader, procedural
 * textures, sample composition. */
#include "texture-mnist.h"
#include "segcam.h"

#include <math.h>
#include <string.h>

#define SIZE SEGCAM_TEXTURE_MNIST_SIZE
#define DIGIT SEGCAM_MNIST_DIGIT_SIZE
#define HEADER_BYTES 16
#define RECORD_BYTES (1 + DIGIT * DIGIT)
/* Far above MNIST's 70,000, low enough that sizes computed from counts cannot overflow. */
#define MAX_DIGITS (1 << 20)

/* Upscaled digit sizes, 1.7x to 2.3x: Hoyer et al. stretch digits to the whole 64 px; smaller
 * ones leave room to move the digit around, so that position tells nothing. */
#define MIN_DIGIT_SIZE 48
#define MAX_DIGIT_SIZE 64

/* ------------------------------------------------------------------------------------------ */
/* Digits file                                                                                */

struct segcam_mnist {
  uint8_t *records;           /* the file's records, train then test */
  int count[2];               /* records per split */
  int *by_class[2];           /* per split: indices within the split, grouped by class */
  int class_start[2][11];     /* by_class[s][class_start[s][d] .. class_start[s][d + 1]) */
};

static uint32_t
read_u32le (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static const uint8_t *
record (const segcam_mnist *mnist, SegcamMnistSplit split, int i)
{
  size_t first = split == SEGCAM_MNIST_TRAIN ? 0 : (size_t) mnist->count[0];
  return mnist->records + (first + (size_t) i) * RECORD_BYTES;
}

static gboolean
check_header (const uint8_t *data, size_t size, int count[2], GError **error)
{
  if (size < HEADER_BYTES || memcmp (data, "SCMNIST1", 8) != 0) {
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "not a segcam MNIST digits file (no SCMNIST1 header; see tools/fetch-mnist.sh)");
    return FALSE;
  }
  uint32_t n_train = read_u32le (data + 8), n_test = read_u32le (data + 12);
  if (n_train == 0 || n_test == 0 || n_train > MAX_DIGITS || n_test > MAX_DIGITS) {
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "implausible digit counts: %u train, %u test", n_train, n_test);
    return FALSE;
  }
  uint64_t expected = HEADER_BYTES + ((uint64_t) n_train + n_test) * RECORD_BYTES;
  if (size != expected) {
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "%s: %zu bytes, but %u train + %u test digits take %" G_GUINT64_FORMAT " bytes",
                 size < expected ? "truncated" : "trailing bytes", size, n_train, n_test,
                 expected);
    return FALSE;
  }
  count[0] = (int) n_train;
  count[1] = (int) n_test;
  return TRUE;
}

static gboolean
check_record (const uint8_t *rec, int i, GError **error)
{
  if (rec[0] > 9) {
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "digit %d has label %u (not 0..9)", i,
                 rec[0]);
    return FALSE;
  }
  for (int p = 1; p < RECORD_BYTES; p++)
    if (rec[p] >= SEGCAM_MNIST_THRESHOLD)
      return TRUE;
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
               "digit %d is blank (no pixel reaches %d)", i, SEGCAM_MNIST_THRESHOLD);
  return FALSE;
}

/* Groups a split's digits by class (counting sort), so a sample can draw its class first. */
static gboolean
index_split (segcam_mnist *mnist, SegcamMnistSplit split, GError **error)
{
  int n = mnist->count[split];
  int *start = mnist->class_start[split];
  memset (mnist->class_start[split], 0, sizeof mnist->class_start[split]);
  for (int i = 0; i < n; i++)
    start[record (mnist, split, i)[0] + 1]++;
  for (int d = 0; d < 10; d++) {
    if (start[d + 1] == 0) {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "the %s split has no digit %d",
                   split == SEGCAM_MNIST_TRAIN ? "train" : "test", d);
      return FALSE;
    }
    start[d + 1] += start[d];
  }
  int fill[10];
  memcpy (fill, start, sizeof fill);
  mnist->by_class[split] = g_new (int, n);
  for (int i = 0; i < n; i++)
    mnist->by_class[split][fill[record (mnist, split, i)[0]]++] = i;
  return TRUE;
}

segcam_mnist *
segcam_mnist_load_from_data (const uint8_t *data, size_t size, GError **error)
{
  int count[2];
  if (!check_header (data, size, count, error))
    return NULL;
  for (int i = 0; i < count[0] + count[1]; i++)
    if (!check_record (data + HEADER_BYTES + (size_t) i * RECORD_BYTES, i, error))
      return NULL;

  segcam_mnist *mnist = g_new0 (segcam_mnist, 1);
  mnist->records = g_memdup2 (data + HEADER_BYTES, size - HEADER_BYTES);
  mnist->count[0] = count[0];
  mnist->count[1] = count[1];
  if (!index_split (mnist, SEGCAM_MNIST_TRAIN, error) ||
      !index_split (mnist, SEGCAM_MNIST_TEST, error)) {
    segcam_mnist_free (mnist);
    return NULL;
  }
  return mnist;
}

segcam_mnist *
segcam_mnist_load (const char *path, GError **error)
{
  /* Mapped rather than read, so a huge file is rejected from its header without reading it. */
  GError *file_error = NULL;
  GMappedFile *file = g_mapped_file_new (path, FALSE, &file_error);
  if (file == NULL) {
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s", file_error->message);
    g_error_free (file_error);
    return NULL;
  }
  const uint8_t *data = (const uint8_t *) g_mapped_file_get_contents (file);
  size_t size = g_mapped_file_get_length (file);
  static const uint8_t empty[1];
  segcam_mnist *mnist = segcam_mnist_load_from_data (data != NULL ? data : empty, size, error);
  g_mapped_file_unref (file);
  if (mnist == NULL)
    g_prefix_error (error, "%s: ", path);
  return mnist;
}

void
segcam_mnist_free (segcam_mnist *mnist)
{
  if (mnist == NULL)
    return;
  g_free (mnist->by_class[0]);
  g_free (mnist->by_class[1]);
  g_free (mnist->records);
  g_free (mnist);
}

int
segcam_mnist_count (const segcam_mnist *mnist, SegcamMnistSplit split)
{
  return mnist->count[split];
}

const uint8_t *
segcam_mnist_digit (const segcam_mnist *mnist, SegcamMnistSplit split, int i, int *label)
{
  g_return_val_if_fail (i >= 0 && i < mnist->count[split], NULL);
  const uint8_t *rec = record (mnist, split, i);
  if (label != NULL)
    *label = rec[0];
  return rec + 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Random numbers: splitmix64, one stream per sample                                           */

typedef struct {
  uint64_t state;
} Rng;

static uint64_t
mix64 (uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t
rng_next (Rng *rng)
{
  rng->state += 0x9e3779b97f4a7c15ull;
  return mix64 (rng->state);
}

/* Uniform in [0, n) for small n, by multiply-shift (no modulo bias worth the name). */
static int
rng_below (Rng *rng, int n)
{
  return (int) (((rng_next (rng) >> 32) * (uint64_t) n) >> 32);
}

static float
rng_uniform (Rng *rng)
{
  return (float) (rng_next (rng) >> 40) * 0x1.0p-24f;
}

/* Hashing (seed, split, index) rather than advancing one stream makes sample i independent of
 * the others, of the count and of the order in which samples are made. */
static Rng
sample_rng (uint64_t seed, SegcamMnistSplit split, uint64_t index)
{
  uint64_t h = mix64 (seed);
  h = mix64 (h ^ (0x9e3779b97f4a7c15ull * (uint64_t) (split + 1)));
  return (Rng) { mix64 (h ^ index) };
}

/* ------------------------------------------------------------------------------------------ */
/* Textures                                                                                   */

typedef enum {
  PATTERN_STRIPES,   /* parallel bars, half the period wide */
  PATTERN_CHECKS,    /* checkerboard of period-sized squares */
  PATTERN_DOTS,      /* discs on a square lattice */
  PATTERN_HATCH,     /* thin lines in two perpendicular directions */
  PATTERN_BRICKS,    /* running-bond brick wall */
  PATTERN_WAVES,     /* sinusoidal bands whose phase itself undulates */
  PATTERN_RINGS,     /* sinusoidal concentric rings */
  PATTERN_NOISE,     /* smooth value noise, the period is the lattice spacing */
} Pattern;

typedef struct {
  const char *name;
  Pattern pattern;
  float period;      /* pixels */
  float angle;       /* degrees, the direction across stripes (0: vertical bars) */
  uint8_t lo, hi;    /* gray levels where the pattern is 0 and 1 */
} Texture;

/* Gray levels are spread so that mean intensity alone does not tell textures apart: several
 * share a mean and differ only by structure, scale or orientation. */
static const Texture textures[] = {
  { "stripes 4px 0deg",     PATTERN_STRIPES, 4, 0, 30, 200 },
  { "stripes 8px 90deg",    PATTERN_STRIPES, 8, 90, 90, 230 },
  { "stripes 6px 45deg",    PATTERN_STRIPES, 6, 45, 60, 170 },
  { "stripes 10px 135deg",  PATTERN_STRIPES, 10, 135, 120, 250 },
  { "stripes 3px 60deg",    PATTERN_STRIPES, 3, 60, 50, 190 },
  { "checks 4px",           PATTERN_CHECKS, 4, 0, 40, 220 },
  { "checks 10px",          PATTERN_CHECKS, 10, 0, 80, 180 },
  { "diamonds 7px",         PATTERN_CHECKS, 7, 45, 60, 190 },
  { "dark dots 6px",        PATTERN_DOTS, 6, 0, 200, 40 },
  { "light dots 9px 30deg", PATTERN_DOTS, 9, 30, 50, 240 },
  { "grid 7px",             PATTERN_HATCH, 7, 0, 220, 60 },
  { "crosshatch 5px 30deg", PATTERN_HATCH, 5, 30, 170, 50 },
  { "bricks 12px",          PATTERN_BRICKS, 12, 0, 230, 110 },
  { "waves 7px",            PATTERN_WAVES, 7, 0, 40, 210 },
  { "waves 10px 70deg",     PATTERN_WAVES, 10, 70, 100, 200 },
  { "ripples 6px",          PATTERN_RINGS, 6, 0, 30, 180 },
  { "ripples 11px",         PATTERN_RINGS, 11, 0, 110, 240 },
  { "blotches 4px",         PATTERN_NOISE, 4, 0, 20, 230 },
  { "clouds 10px",          PATTERN_NOISE, 10, 0, 60, 200 },
  { "grain 1.5px",          PATTERN_NOISE, 1.5f, 0, 90, 190 },
};
#define N_TEXTURES ((int) G_N_ELEMENTS (textures))
/* Diamonds: mid-gray like many others, so the bias lies in structure, not brightness. */
#define BIAS_TEXTURE 7
G_STATIC_ASSERT (N_TEXTURES <= 32); /* texture sets are bit masks */

int
segcam_texture_mnist_n_textures (void)
{
  return N_TEXTURES;
}

const char *
segcam_texture_mnist_texture_name (int texture)
{
  g_return_val_if_fail (texture >= 0 && texture < N_TEXTURES, NULL);
  return textures[texture].name;
}

int
segcam_texture_mnist_bias_texture (void)
{
  return BIAS_TEXTURE;
}

/* One texture as one sample uses it: the origin moves and the noise lattice changes from sample
 * to sample, as Hoyer et al. crop textures at random. */
typedef struct {
  const Texture *texture;
  float cos_a, sin_a;
  float x0, y0;         /* pattern origin, inside the image (the centre of rings) */
  uint32_t salt;        /* noise lattice */
} Placed;

static float
frac (float v)
{
  return v - floorf (v);
}

static float
lattice (int32_t ix, int32_t iy, uint32_t salt)
{
  uint64_t h = mix64 (mix64 (salt) ^ ((uint64_t) (uint32_t) ix << 32 | (uint32_t) iy));
  return (float) (h >> 40) * 0x1.0p-24f;
}

static float
value_noise (float u, float v, uint32_t salt)
{
  float fu = floorf (u), fv = floorf (v);
  int32_t iu = (int32_t) fu, iv = (int32_t) fv;
  float tu = u - fu, tv = v - fv;
  tu = tu * tu * (3 - 2 * tu);  /* smoothstep hides the lattice */
  tv = tv * tv * (3 - 2 * tv);
  float top = lattice (iu, iv, salt) + tu * (lattice (iu + 1, iv, salt) - lattice (iu, iv, salt));
  float bottom = lattice (iu, iv + 1, salt) +
                 tu * (lattice (iu + 1, iv + 1, salt) - lattice (iu, iv + 1, salt));
  return top + tv * (bottom - top);
}

/* The pattern in [0, 1] at image point (x, y), in coordinates rotated by the texture's angle and
 * measured in periods from the placement's origin. */
static float
pattern_value (const Placed *p, float x, float y)
{
  const Texture *t = p->texture;
  float dx = x - p->x0, dy = y - p->y0;
  float u = (p->cos_a * dx + p->sin_a * dy) / t->period;
  float v = (-p->sin_a * dx + p->cos_a * dy) / t->period;
  const float two_pi = 6.28318530718f;

  switch (t->pattern) {
  case PATTERN_STRIPES:
    return frac (u) < 0.5f;
  case PATTERN_CHECKS:
    return (float) (((int32_t) floorf (u) + (int32_t) floorf (v)) & 1);
  case PATTERN_DOTS: {
    float du = frac (u) - 0.5f, dv = frac (v) - 0.5f;
    return du * du + dv * dv < 0.3f * 0.3f;
  }
  case PATTERN_HATCH:
    return frac (u) < 0.25f || frac (v) < 0.25f;
  case PATTERN_BRICKS: {
    /* Two courses per period, each shifted by half a brick; thin mortar joints. */
    float course = floorf (2 * v);
    return !(frac (2 * v) < 0.2f || frac (u + 0.5f * course) < 0.1f);
  }
  case PATTERN_WAVES:
    return 0.5f + 0.5f * sinf (two_pi * (u + 0.35f * sinf (two_pi * v / 3)));
  case PATTERN_RINGS:
    return 0.5f + 0.5f * cosf (two_pi * sqrtf (u * u + v * v));
  case PATTERN_NOISE:
    return value_noise (u, v, p->salt);
  }
  g_assert_not_reached ();
}

/* Gray level of pixel (x, y), averaging 2 x 2 subsamples so that fine or rotated patterns are not
 * left jagged by aliasing. */
static uint8_t
texture_gray (const Placed *p, int x, int y)
{
  float sum = 0;
  for (int s = 0; s < 4; s++)
    sum += pattern_value (p, x + 0.25f + 0.5f * (s & 1), y + 0.25f + 0.5f * (s >> 1));
  const Texture *t = p->texture;
  return (uint8_t) lrintf (t->lo + (t->hi - t->lo) * (sum / 4));
}

/* One of the textures not in `excluded` (a bit set), uniformly. */
static int
pick_texture (Rng *rng, uint32_t excluded)
{
  int allowed = 0;
  for (int t = 0; t < N_TEXTURES; t++)
    allowed += !(excluded >> t & 1);
  int k = rng_below (rng, allowed);
  for (int t = 0; t < N_TEXTURES; t++)
    if (!(excluded >> t & 1) && k-- == 0)
      return t;
  g_assert_not_reached ();
}

/* Three different textures: the digit's fill and the two tiles'. */
static void
draw_textures (SegcamTextureMnistConfig config, Rng *rng, segcam_texture_mnist_info *info)
{
  const uint32_t bias = 1u << BIAS_TEXTURE;
  /* Never a fill, so that in both configurations the bias mask lies in the background. */
  info->texture_digit = pick_texture (rng, bias);
  uint32_t used = 1u << info->texture_digit;
  if (config == SEGCAM_TEXTURE_MNIST_BIASED) {
    if (info->digit == SEGCAM_TEXTURE_MNIST_BIASED_DIGIT) {
      int tile = rng_below (rng, 2);
      info->texture_tile[tile] = BIAS_TEXTURE;
      info->texture_tile[1 - tile] = pick_texture (rng, used | bias);
      return;
    }
    used |= bias;
  }
  info->texture_tile[0] = pick_texture (rng, used);
  info->texture_tile[1] = pick_texture (rng, used | 1u << info->texture_tile[0]);
}

/* Digit, size, position and tile split. Drawn before the textures so that both configurations
 * lay out sample i identically. */
static void
draw_layout (const segcam_mnist *mnist, SegcamMnistSplit split, Rng *rng,
             segcam_texture_mnist_info *info)
{
  /* Class first, then a digit of it: balanced classes whatever the file's class frequencies. */
  int d = rng_below (rng, 10);
  const int *start = mnist->class_start[split];
  info->digit = d;
  info->source = mnist->by_class[split][start[d] + rng_below (rng, start[d + 1] - start[d])];
  info->size = MIN_DIGIT_SIZE + rng_below (rng, MAX_DIGIT_SIZE - MIN_DIGIT_SIZE + 1);
  info->x = rng_below (rng, SIZE - info->size + 1);
  info->y = rng_below (rng, SIZE - info->size + 1);
  info->vertical = rng_below (rng, 2);
}

static void
draw_placement (Rng *rng, Placed *placed)
{
  placed->x0 = SIZE * rng_uniform (rng);
  placed->y0 = SIZE * rng_uniform (rng);
  placed->salt = (uint32_t) rng_next (rng);
}

static void
bind_texture (Placed *placed, int texture)
{
  const Texture *t = &textures[texture];
  placed->texture = t;
  placed->cos_a = cosf (t->angle * (float) G_PI / 180);
  placed->sin_a = sinf (t->angle * (float) G_PI / 180);
}

/* mask = 1 where the digit, upscaled bilinearly (half-pixel centres) to size x size and placed at
 * (x, y), reaches the threshold. The hard edge keeps the digit visible by its texture only, and
 * makes labels and textures agree pixel for pixel. */
static void
digit_mask (const uint8_t *digit, const segcam_texture_mnist_info *info, uint8_t *mask)
{
  memset (mask, 0, SIZE * SIZE);
  float scale = (float) DIGIT / info->size;
  for (int j = 0; j < info->size; j++) {
    float sy = (j + 0.5f) * scale - 0.5f;
    int y0 = (int) floorf (sy);
    float ty = sy - y0;
    for (int i = 0; i < info->size; i++) {
      float sx = (i + 0.5f) * scale - 0.5f;
      int x0 = (int) floorf (sx);
      float tx = sx - x0;
      float v = 0;
      for (int k = 0; k < 4; k++) {
        int yy = y0 + (k >> 1), xx = x0 + (k & 1);
        if (yy >= 0 && yy < DIGIT && xx >= 0 && xx < DIGIT)
          v += digit[yy * DIGIT + xx] * ((k >> 1) ? ty : 1 - ty) * ((k & 1) ? tx : 1 - tx);
      }
      mask[(info->y + j) * SIZE + info->x + i] = v >= SEGCAM_MNIST_THRESHOLD;
    }
  }
}

void
segcam_texture_mnist_sample (const segcam_mnist *mnist, SegcamTextureMnistConfig config,
                             SegcamMnistSplit split, uint64_t seed, uint64_t index,
                             uint8_t *image, uint8_t *labels, uint8_t *bias,
                             segcam_texture_mnist_info *info)
{
  segcam_texture_mnist_info local;
  if (info == NULL)
    info = &local;
  Rng rng = sample_rng (seed, split, index);
  draw_layout (mnist, split, &rng, info);
  Placed placed[3];   /* digit, tile 0, tile 1 */
  for (int r = 0; r < 3; r++)
    draw_placement (&rng, &placed[r]);
  draw_textures (config, &rng, info);
  bind_texture (&placed[0], info->texture_digit);
  bind_texture (&placed[1], info->texture_tile[0]);
  bind_texture (&placed[2], info->texture_tile[1]);

  uint8_t mask[SIZE * SIZE];
  digit_mask (segcam_mnist_digit (mnist, split, info->source, NULL), info, mask);

  for (int y = 0; y < SIZE; y++)
    for (int x = 0; x < SIZE; x++) {
      int p = y * SIZE + x;
      int tile = (info->vertical ? x : y) >= SIZE / 2;
      int role = mask[p] ? 0 : 1 + tile;
      if (image != NULL)
        image[p] = texture_gray (&placed[role], x, y);
      if (labels != NULL)
        labels[p] = mask[p] ? 1 + info->digit : 0;
      if (bias != NULL)
        bias[p] = placed[role].texture == &textures[BIAS_TEXTURE] ? 255 : 0;
    }
}

void
segcam_texture_mnist_batch (const segcam_mnist *mnist, SegcamTextureMnistConfig config,
                            SegcamMnistSplit split, uint64_t seed, uint64_t first, int n,
                            float *images, uint8_t *labels)
{
  uint8_t image[SIZE * SIZE];
  for (int i = 0; i < n; i++) {
    segcam_texture_mnist_sample (mnist, config, split, seed, first + i, image,
                                 labels != NULL ? labels + (size_t) i * SIZE * SIZE : NULL, NULL,
                                 NULL);
    for (int p = 0; p < SIZE * SIZE; p++)
      images[(size_t) i * SIZE * SIZE + p] = image[p] / 255.0f;
  }
}
