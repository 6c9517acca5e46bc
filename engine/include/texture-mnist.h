/* texture-mnist.h — the TextureMNIST toy data set of "Grid Saliency for Context Explanations of
 * Semantic Segmentation" (Hoyer et al., 2019), as the Seg-Grad-CAM paper used it to show that
 * explanations reveal a context bias.
 *
 * A sample is a 64 x 64 gray image: an MNIST digit, upscaled 1.7x to 2.3x (48 to 64 px) and placed
 * at random, filled with one texture, on a background split through the middle into two tiles
 * (top/bottom or left/right, at random) of two other textures. The three textures are always
 * different. Textures only show where the digit is: its edge is hard, with no outline. Labels:
 * 0 background, 1 + d for digit d (SEGCAM_TEXTURE_MNIST_CLASSES classes).
 *
 * Configurations:
 *   biased    every image of digit 2 has the bias texture in one of its two tiles (which one is
 *             random), and the bias texture appears in no other image;
 *   unbiased  tile textures are drawn from the whole pool, the bias texture included, whatever the
 *             digit.
 * In both, the bias texture is a background texture only, never a digit's fill, so the bias mask
 * always marks (part of) a tile and the two configurations differ only in the tie to digit 2.
 *
 * Textures are procedural (no image files). Samples are pure functions of (config, split, seed,
 * index): each draws from its own random stream, so sample i is the same whatever the count or
 * order in which samples are made. For the same (split, seed, index) both configurations place
 * the same digit at the same position; only the textures differ.
 *
 * The digits come from a file written by tools/fetch-mnist.sh ("SCMNIST1"): 8-byte magic, u32 LE
 * train count, u32 LE test count, then that many 785-byte records (u8 label 0..9, 28 x 28 u8
 * pixels), train records first. A split only uses its own records.
 */
#ifndef SEGCAM_TEXTURE_MNIST_H
#define SEGCAM_TEXTURE_MNIST_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define SEGCAM_TEXTURE_MNIST_SIZE 64       /* image width and height */
#define SEGCAM_TEXTURE_MNIST_CLASSES 11    /* background, digit 0 .. digit 9 */
#define SEGCAM_MNIST_DIGIT_SIZE 28

/* A pixel belongs to the digit where the bilinearly upscaled MNIST intensity is at least this
 * (half of 255: Hoyer et al. threshold the resized digit at 0.5). */
#define SEGCAM_MNIST_THRESHOLD 128

typedef enum { SEGCAM_MNIST_TRAIN, SEGCAM_MNIST_TEST } SegcamMnistSplit;
typedef enum {
  SEGCAM_TEXTURE_MNIST_UNBIASED,
  SEGCAM_TEXTURE_MNIST_BIASED,
} SegcamTextureMnistConfig;

typedef struct segcam_mnist segcam_mnist;

/* Loads and validates a digits file: magic, counts, exact size, labels 0..9, every class present
 * in both splits, every digit with at least one pixel >= SEGCAM_MNIST_THRESHOLD. Errors are in
 * SEGCAM_ERROR (SEGCAM_ERROR_INPUT) and name the file. */
segcam_mnist *segcam_mnist_load (const char *path, GError **error);
/* Same from bytes in memory. The bytes are copied. */
segcam_mnist *segcam_mnist_load_from_data (const uint8_t *data, size_t size, GError **error);
void segcam_mnist_free (segcam_mnist *mnist);

int segcam_mnist_count (const segcam_mnist *mnist, SegcamMnistSplit split);
/* The 28 x 28 pixels of digit i (0 <= i < count) of a split; its class goes to *label. */
const uint8_t *segcam_mnist_digit (const segcam_mnist *mnist, SegcamMnistSplit split, int i,
                                   int *label);

/* Textures: indices 0 .. segcam_texture_mnist_n_textures () - 1. */
int segcam_texture_mnist_n_textures (void);
const char *segcam_texture_mnist_texture_name (int texture);
int segcam_texture_mnist_bias_texture (void);
#define SEGCAM_TEXTURE_MNIST_BIASED_DIGIT 2

/* What a sample is made of, for tests and for bias-aware evaluation. */
typedef struct {
  int digit;              /* class of the digit, 0..9 */
  int source;             /* index of the digit within its split (segcam_mnist_digit) */
  int x, y, size;         /* the upscaled digit covers [x, x + size) x [y, y + size) */
  gboolean vertical;      /* TRUE: tiles are the left and right halves, else top and bottom */
  int texture_digit;      /* the digit's fill */
  int texture_tile[2];    /* tile 0 is the top (or left) half, tile 1 the bottom (or right) */
} segcam_texture_mnist_info;

/* Makes sample `index` of (config, split, seed). Each output is 64 x 64 row-major u8 and may be
 * NULL: image (gray), labels (0 background, 1 + d on the digit), bias (255 where the bias texture
 * lies, else 0). */
void segcam_texture_mnist_sample (const segcam_mnist *mnist, SegcamTextureMnistConfig config,
                                  SegcamMnistSplit split, uint64_t seed, uint64_t index,
                                  uint8_t *image, uint8_t *labels, uint8_t *bias,
                                  segcam_texture_mnist_info *info);

/* Samples first .. first + n - 1 for training: images gets n x 64 x 64 floats (pixel / 255, the
 * engine's Y' convention), labels n x 64 x 64 class indices (may be NULL). */
void segcam_texture_mnist_batch (const segcam_mnist *mnist, SegcamTextureMnistConfig config,
                                 SegcamMnistSplit split, uint64_t seed, uint64_t first, int n,
                                 float *images, uint8_t *labels);

G_END_DECLS

#endif /* SEGCAM_TEXTURE_MNIST_H */
