/* test-ops.c — every op of the table (engine/ops/registry.c) against naive references.
 *
 * Each case runs an op forward and backward through its definition's kernels (float32,
 * channels-last, split over a thread pool) and compares:
 *   - the forward output with a naive loop over NCHW indices in double precision, written
 *     directly from PyTorch's definition of the op;
 *   - the backward (vector-Jacobian product with a random output gradient) with central finite
 *     differences of the scalar <dout, naive_forward (x)>, also in double, so that the reference
 *     gradient is exact to ~1e-10 and every mismatch is the engine's;
 *   - accumulation: backward into input gradients pre-filled with random values must add the
 *     product (din_after - din_before == vjp), as ops.h promises.
 * Errors are max |got - want| / max |want| over a case; the worst one of each kind is reported
 * with g_test_message (run with --verbose to see the table). Inputs of the piecewise activations
 * stay away from their kinks, where finite differences would straddle two pieces; the kink
 * conventions themselves are checked by exact values.
 *
 * The shape helpers (segcam_conv_out & co.) are checked against PyTorch's output-size formulas
 * on a grid of values. Nothing here reuses engine index code: the references are written from
 * PyTorch's documented output sizes and conventions.
 */
#include "ops.h"

#include <math.h>
#include <string.h>

#define TOL 1e-4        /* float32 kernels against double references */
#define FD_STEP 1e-3    /* the references are linear or smooth near the test points */

/* ---- references for the output sizes (PyTorch) ---------------------------------------------- */

/* floor (a / b) for b > 0, also for negative a (PyTorch's div_rtn). */
static int64_t floor_div (int64_t a, int64_t b)
{
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* nn.Conv2d: floor ((in + pad_lo + pad_hi - d (k - 1) - 1) / s) + 1. */
static int64_t ref_conv_out (int in, int k, int s, int lo, int hi, int d)
{
  return floor_div ((int64_t) in + lo + hi - (int64_t) d * (k - 1) - 1, s) + 1;
}

/* nn.ConvTranspose2d: (in - 1) s - 2 pad + d (k - 1) + output_padding + 1. */
static int64_t ref_conv_transpose_out (int in, int k, int s, int pad, int out_pad, int d)
{
  return (int64_t) (in - 1) * s - 2 * (int64_t) pad + (int64_t) d * (k - 1) + out_pad + 1;
}

/* nn.MaxPool2d (pooling_output_shape, dilation 1): in ceil mode the last window must start
 * inside the input or its left padding. */
static int64_t ref_pool_out (int in, int k, int s, int pad, gboolean ceil_mode)
{
  int64_t out = floor_div ((int64_t) in + 2 * pad - (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= (int64_t) in + pad)
    out--;
  return out;
}

/* F.interpolate (scale_factor=s): floor (in * s), computed in double. */
static int64_t ref_upsample_out (int in, double scale)
{
  return (int64_t) floor ((double) in * scale);
}

/* ---- the case table --------------------------------------------------------------------------- */

typedef enum {
  VALUES_RANDOM,        /* uniform in [-1, 1] */
  VALUES_WIDE,          /* uniform in [-4, 4]: sigmoid's curved part and tails */
  VALUES_OFF_ZERO,      /* |x| >= 0.05: ReLU's kink stays out of the finite differences */
  VALUES_DISTINCT,      /* a shuffled ladder 0.01 apart: pooling windows have one clear max */
  VALUES_CONSTANT,      /* all equal: every pooling window is a tie */
  VALUES_OFF_KINKS,     /* uniform in [-5, 5], 0.05 away from the activation's kinks */
} values_kind;

typedef struct {
  const char *name;
  segcam_op op;
  int n, h, w;              /* batch and spatial size of every input */
  int c[3];                 /* channels of each distinct input */
  int n_ins;                /* distinct inputs (0 means 1) */
  int h1, w1;               /* mul: the second factor's size (0: the first's) */
  /* conv2d, conv_transpose2d (padding pt, pl = [ph, pw]), maxpool2d and avgpool2d (pt, pl) */
  int cout, groups, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, oph, opw;
  gboolean bias, ceil_mode, exclude_pad;
  /* pooling with auto_pad SAME: pt, pl, pb, pr are the pads it must find for this size */
  segcam_pool_same same;
  /* upsample: scale factors, or (0) a target size */
  segcam_upsample_mode mode;
  double scale_h, scale_w;
  int to_h, to_w;
  segcam_activation_params act;
  segcam_pad_params pad;
  /* concat, add and mul: operands as indices into the inputs (0 means the inputs in order), and
   * a bit per operand whose gradient is not wanted (data NULL, width kept) */
  int n_operands;
  int operand[3];
  unsigned null_grad;
  values_kind values;
  int fd_samples;           /* elements per input checked by finite differences; 0: all */
  gboolean also_1_thread;
} op_case;

#define OP_CONV SEGCAM_OP_CONV2D
#define OP_CONVT SEGCAM_OP_CONV_TRANSPOSE2D
#define OP_BN SEGCAM_OP_BATCHNORM
#define OP_RELU SEGCAM_OP_RELU
#define OP_SIGMOID SEGCAM_OP_SIGMOID
#define OP_MAXPOOL SEGCAM_OP_MAXPOOL2D
#define OP_UPSAMPLE SEGCAM_OP_UPSAMPLE
#define OP_CONCAT SEGCAM_OP_CONCAT
#define OP_ADD SEGCAM_OP_ADD
#define OP_AVGPOOL SEGCAM_OP_AVGPOOL2D
#define OP_MUL SEGCAM_OP_MUL
#define BILINEAR .mode = SEGCAM_UPSAMPLE_BILINEAR
#define ALIGN_CORNERS .mode = SEGCAM_UPSAMPLE_ALIGN_CORNERS
#define ASYMMETRIC .mode = SEGCAM_UPSAMPLE_ASYMMETRIC
#define K(a, b) .kh = a, .kw = b
#define S(a, b) .sh = a, .sw = b
#define D(a, b) .dh = a, .dw = b
#define PAD4(t, l, b, r) .pt = t, .pl = l, .pb = b, .pr = r
#define PAD2(ph, pw) .pt = ph, .pl = pw, .pb = ph, .pr = pw

static const op_case cases[] = {
  /* conv2d: weight [cout][cin][kh][kw] */
  {"1x1-image-k3-p1", OP_CONV, 1, 1, 1, {2}, .cout = 3, K (3, 3), PAD2 (1, 1), .bias = TRUE},
  {"7x5-k3-p1-n2-bias", OP_CONV, 2, 7, 5, {3}, .cout = 4, K (3, 3), PAD2 (1, 1), .bias = TRUE,
   .also_1_thread = TRUE},
  {"7x5-k1x1", OP_CONV, 2, 7, 5, {5}, .cout = 4, K (1, 1), .bias = TRUE},
  {"13x11-k1x1-s2", OP_CONV, 1, 13, 11, {3}, .cout = 2, K (1, 1), S (2, 2)},
  {"13x11-k3-s2-p1", OP_CONV, 2, 13, 11, {3}, .cout = 5, K (3, 3), S (2, 2), PAD2 (1, 1)},
  {"13x11-k3-s3-p1", OP_CONV, 1, 13, 11, {2}, .cout = 3, K (3, 3), S (3, 3), PAD2 (1, 1),
   .bias = TRUE},
  {"13x11-k5x3-s2-pad[2,0,1,3]", OP_CONV, 2, 13, 11, {3}, .cout = 4, K (5, 3), S (2, 2),
   PAD4 (2, 0, 1, 3)},
  {"13x11-k5x3-s(2,3)-d(2,1)-pad[1,2,3,0]", OP_CONV, 1, 13, 11, {2}, .cout = 3, K (5, 3),
   S (2, 3), D (2, 1), PAD4 (1, 2, 3, 0), .bias = TRUE},
  {"13x11-k3-d2-same", OP_CONV, 1, 13, 11, {3}, .cout = 3, K (3, 3), D (2, 2), PAD2 (2, 2)},
  {"7x5-k2x2-same[0,0,1,1]", OP_CONV, 2, 7, 5, {2}, .cout = 3, K (2, 2), PAD4 (0, 0, 1, 1)},
  {"7x5-k5x3-same-d2[4,2,4,2]", OP_CONV, 1, 7, 5, {2}, .cout = 2, K (5, 3), D (2, 2),
   PAD4 (4, 2, 4, 2)},
  {"7x5-k3-valid", OP_CONV, 1, 7, 5, {4}, .cout = 3, K (3, 3)},
  /* several tasks per image: blocks of a quarter of the 2 x 50 x 45 output pixels */
  {"50x45-k3-p1-c16", OP_CONV, 2, 50, 45, {16}, .cout = 4, K (3, 3), PAD2 (1, 1), .bias = TRUE,
   .fd_samples = 48, .also_1_thread = TRUE},
  /* dilations as large as much of the map (DeepLabV3's ASPP): blocks (a quarter of the pixels)
   * whose upper or lower kernel rows reach only padding skip them; on the 8-row map only the
   * middle row is left; blocks that run into the next image keep all three */
  {"28x5-k3-d7-p7", OP_CONV, 1, 28, 5, {3}, .cout = 4, K (3, 3), D (7, 7), PAD2 (7, 7),
   .bias = TRUE, .also_1_thread = TRUE},
  {"8x3-k3-d9-p9", OP_CONV, 1, 8, 3, {2}, .cout = 2, K (3, 3), D (9, 9), PAD2 (9, 9)},
  {"24x30-k3-d12-p12-n3", OP_CONV, 3, 24, 30, {2}, .cout = 3, K (3, 3), D (12, 12), PAD2 (12, 12)},

  /* conv_transpose2d: weight [cin][cout][kh][kw] */
  {"7x5-k2-s2", OP_CONVT, 2, 7, 5, {4}, .cout = 3, K (2, 2), S (2, 2), .bias = TRUE,
   .also_1_thread = TRUE},
  {"7x5-k3-s2-p1-op1", OP_CONVT, 1, 7, 5, {3}, .cout = 2, K (3, 3), S (2, 2), PAD2 (1, 1),
   .oph = 1, .opw = 1, .bias = TRUE},
  {"7x5-k3-s1-p1-d2", OP_CONVT, 1, 7, 5, {3}, .cout = 2, K (3, 3), PAD2 (1, 1), D (2, 2)},
  {"7x5-k3-s2-p1-op1-d2", OP_CONVT, 2, 7, 5, {2}, .cout = 3, K (3, 3), S (2, 2), PAD2 (1, 1),
   D (2, 2), .oph = 1, .opw = 1},
  {"1x1-image-k3-s3", OP_CONVT, 1, 1, 1, {2}, .cout = 3, K (3, 3), S (3, 3), .bias = TRUE},
  {"13x11-k4-s2-p1", OP_CONVT, 1, 13, 11, {2}, .cout = 2, K (4, 4), S (2, 2), PAD2 (1, 1)},
  {"13x11-k5x3-s(3,2)-p(2,0)-op(1,1)", OP_CONVT, 1, 13, 11, {2}, .cout = 2, K (5, 3), S (3, 2),
   PAD2 (2, 0), .oph = 1, .opw = 1},
  {"40x36-k2-s2-c8", OP_CONVT, 2, 40, 36, {8}, .cout = 8, K (2, 2), S (2, 2), .bias = TRUE,
   .fd_samples = 100},

  /* batchnorm (eval) */
  {"7x5-c5-n2", OP_BN, 2, 7, 5, {5}, .also_1_thread = TRUE},
  {"1x1-c3", OP_BN, 1, 1, 1, {3}},
  {"70x65-c3-n2", OP_BN, 2, 70, 65, {3}, .fd_samples = 300},

  /* relu, sigmoid */
  {"7x5-c4-n2", OP_RELU, 2, 7, 5, {4}, .values = VALUES_OFF_ZERO},
  {"1x1-c3", OP_RELU, 1, 1, 1, {3}, .values = VALUES_OFF_ZERO},
  {"70x65-c3-n2", OP_RELU, 2, 70, 65, {3}, .values = VALUES_OFF_ZERO, .fd_samples = 300},
  {"7x5-c4-n2", OP_SIGMOID, 2, 7, 5, {4}, .values = VALUES_WIDE},
  {"1x1-c3", OP_SIGMOID, 1, 1, 1, {3}, .values = VALUES_WIDE},
  {"70x65-c3-n2", OP_SIGMOID, 2, 70, 65, {3}, .values = VALUES_WIDE, .fd_samples = 300},

  /* maxpool2d: stride 0 in the table means "= kernel" */
  {"13x11-k2", OP_MAXPOOL, 2, 13, 11, {3}, K (2, 2), .values = VALUES_DISTINCT,
   .also_1_thread = TRUE},
  {"13x11-k2-ceil", OP_MAXPOOL, 1, 13, 11, {3}, K (2, 2), .ceil_mode = TRUE,
   .values = VALUES_DISTINCT},
  {"13x11-k3-s2-overlap", OP_MAXPOOL, 2, 13, 11, {2}, K (3, 3), S (2, 2),
   .values = VALUES_DISTINCT},
  {"13x11-k3-s2-p1-ceil", OP_MAXPOOL, 1, 13, 11, {2}, K (3, 3), S (2, 2), PAD2 (1, 1),
   .ceil_mode = TRUE, .values = VALUES_DISTINCT},
  {"7x5-k3-s1-p1", OP_MAXPOOL, 1, 7, 5, {2}, K (3, 3), S (1, 1), PAD2 (1, 1),
   .values = VALUES_DISTINCT},
  {"13x11-k2-s3", OP_MAXPOOL, 1, 13, 11, {2}, K (2, 2), S (3, 3), .values = VALUES_DISTINCT},
  /* auto_pad SAME: 13 x 12, k 5, s 2 -> 7 x 6, total pads 4 and 3 (upper: 2 + 2, 1 + 2) */
  {"same-upper-13x12-k5-s2", OP_MAXPOOL, 1, 13, 12, {2}, K (5, 5), S (2, 2), PAD4 (2, 1, 2, 2),
   .same = SEGCAM_POOL_SAME_UPPER, .values = VALUES_DISTINCT},
  {"same-lower-13x12-k5-s2", OP_MAXPOOL, 2, 13, 12, {2}, K (5, 5), S (2, 2), PAD4 (2, 2, 2, 1),
   .same = SEGCAM_POOL_SAME_LOWER, .values = VALUES_DISTINCT},
  /* 6 x 7, k 2, s 1: one pixel at the end (upper) or the start (lower) */
  {"same-upper-6x7-k2-s1", OP_MAXPOOL, 1, 6, 7, {3}, K (2, 2), S (1, 1), PAD4 (0, 0, 1, 1),
   .same = SEGCAM_POOL_SAME_UPPER, .values = VALUES_DISTINCT},
  {"same-lower-6x7-k2-s1", OP_MAXPOOL, 1, 6, 7, {3}, K (2, 2), S (1, 1), PAD4 (1, 1, 0, 0),
   .same = SEGCAM_POOL_SAME_LOWER, .values = VALUES_DISTINCT},
  {"7x5-k2-s2-p1-ceil", OP_MAXPOOL, 2, 7, 5, {2}, K (2, 2), S (2, 2), PAD2 (1, 1),
   .ceil_mode = TRUE, .values = VALUES_DISTINCT},
  {"13x11-k3x2-s(2,1)-p(1,0)", OP_MAXPOOL, 1, 13, 11, {2}, K (3, 2), S (2, 1), PAD2 (1, 0),
   .values = VALUES_DISTINCT},
  {"1x1-k3-s1-p1", OP_MAXPOOL, 1, 1, 1, {3}, K (3, 3), S (1, 1), PAD2 (1, 1),
   .values = VALUES_DISTINCT},
  {"5x4-k3-s3-ceil-partial-window", OP_MAXPOOL, 1, 5, 4, {2}, K (3, 3), .ceil_mode = TRUE,
   .values = VALUES_DISTINCT},
  /* Windows wider than the input: PyTorch gives these outputs (segcam_pool_out does not yet) */
  {"1x1-k2-s2-ceil", OP_MAXPOOL, 1, 1, 1, {3}, K (2, 2), .ceil_mode = TRUE,
   .values = VALUES_DISTINCT},
  {"2x1-k4-s2-p1-ceil", OP_MAXPOOL, 2, 2, 1, {2}, K (4, 4), S (2, 2), PAD2 (1, 1),
   .ceil_mode = TRUE, .values = VALUES_DISTINCT},
  {"ties-13x11-k3-s2-p1-ceil", OP_MAXPOOL, 2, 13, 11, {2}, K (3, 3), S (2, 2), PAD2 (1, 1),
   .ceil_mode = TRUE, .values = VALUES_CONSTANT, .also_1_thread = TRUE},
  {"ties-7x5-k2", OP_MAXPOOL, 1, 7, 5, {2}, K (2, 2), .values = VALUES_CONSTANT},
  {"70x65-k2-c4", OP_MAXPOOL, 2, 70, 65, {4}, K (2, 2), .values = VALUES_DISTINCT,
   .fd_samples = 300},
  {"70x65-k3-s2-p1-c2", OP_MAXPOOL, 2, 70, 65, {2}, K (3, 3), S (2, 2), PAD2 (1, 1),
   .values = VALUES_DISTINCT, .fd_samples = 300},

  /* upsample nearest */
  {"nearest-7x5-x2", OP_UPSAMPLE, 2, 7, 5, {3}, .scale_h = 2, .scale_w = 2},
  {"nearest-7x5-x3", OP_UPSAMPLE, 1, 7, 5, {2}, .scale_h = 3, .scale_w = 3},
  {"nearest-7x5-x1.5", OP_UPSAMPLE, 1, 7, 5, {2}, .scale_h = 1.5, .scale_w = 1.5},
  {"nearest-7x5-x(2,3)", OP_UPSAMPLE, 1, 7, 5, {2}, .scale_h = 2, .scale_w = 3},
  {"nearest-7x5-to-13x11", OP_UPSAMPLE, 2, 7, 5, {2}, .to_h = 13, .to_w = 11},
  {"nearest-13x11-to-7x5", OP_UPSAMPLE, 1, 13, 11, {2}, .to_h = 7, .to_w = 5},
  {"nearest-1x1-x2", OP_UPSAMPLE, 1, 1, 1, {3}, .scale_h = 2, .scale_w = 2},
  /* upsample bilinear (align_corners=False) */
  {"bilinear-7x5-x2", OP_UPSAMPLE, 2, 7, 5, {3}, BILINEAR, .scale_h = 2, .scale_w = 2,
   .also_1_thread = TRUE},
  {"bilinear-7x5-x2.5", OP_UPSAMPLE, 1, 7, 5, {2}, BILINEAR, .scale_h = 2.5,
   .scale_w = 2.5},
  {"bilinear-37x29-to-64x48", OP_UPSAMPLE, 1, 37, 29, {2}, BILINEAR, .to_h = 64,
   .to_w = 48, .fd_samples = 400},
  {"bilinear-64x48-to-37x29", OP_UPSAMPLE, 1, 64, 48, {2}, BILINEAR, .to_h = 37,
   .to_w = 29, .fd_samples = 400},
  {"bilinear-13x11-to-13x11", OP_UPSAMPLE, 2, 13, 11, {2}, BILINEAR, .to_h = 13,
   .to_w = 11},
  /* floor (5 * 1.1) = 5: PyTorch copies when the sizes agree, whatever the factor */
  {"bilinear-5x7-x1.1-same-size", OP_UPSAMPLE, 1, 5, 7, {2}, BILINEAR, .scale_h = 1.1,
   .scale_w = 1.1},
  {"bilinear-1x1-x2", OP_UPSAMPLE, 1, 1, 1, {2}, BILINEAR, .scale_h = 2, .scale_w = 2},
  {"bilinear-70x65-x2", OP_UPSAMPLE, 2, 70, 65, {2}, BILINEAR, .scale_h = 2,
   .scale_w = 2, .fd_samples = 150},

  /* concat */
  {"3-parts", OP_CONCAT, 2, 7, 5, {2, 3, 1}, .n_ins = 3, .also_1_thread = TRUE},
  {"3-parts-middle-null-grad", OP_CONCAT, 2, 7, 5, {2, 3, 1}, .n_ins = 3, .null_grad = 2},
  {"3-parts-outer-null-grads", OP_CONCAT, 1, 13, 11, {1, 2, 3}, .n_ins = 3, .null_grad = 5},
  {"x-y-x-same-buffer", OP_CONCAT, 1, 7, 5, {2, 3}, .n_ins = 2, .n_operands = 3,
   .operand = {0, 1, 0}},
  {"70x65-3-parts", OP_CONCAT, 2, 70, 65, {2, 1, 2}, .n_ins = 3, .null_grad = 2,
   .fd_samples = 200},

  /* add */
  {"a+b", OP_ADD, 2, 7, 5, {3, 3}, .n_ins = 2},
  {"a+b-1x1", OP_ADD, 1, 1, 1, {2, 2}, .n_ins = 2},
  {"x+x-same-buffer", OP_ADD, 2, 7, 5, {3}, .n_ins = 1, .n_operands = 2, .operand = {0, 0},
   .also_1_thread = TRUE},
  {"a+b-b-null-grad", OP_ADD, 1, 7, 5, {2, 2}, .n_ins = 2, .null_grad = 2},
  {"70x65-a+b", OP_ADD, 2, 70, 65, {3, 3}, .n_ins = 2, .fd_samples = 200},

  /* grouped and depthwise convolutions */
  {"groups-2", OP_CONV, 2, 7, 6, {4}, .cout = 6, .groups = 2, K (3, 3), PAD2 (1, 1), .bias = TRUE},
  {"groups-3-1x1", OP_CONV, 1, 5, 4, {6}, .cout = 9, .groups = 3, K (1, 1), .bias = TRUE},
  {"depthwise-k3-s2-p2-d2", OP_CONV, 2, 9, 7, {5}, .cout = 5, .groups = 5, K (3, 3), S (2, 2),
   PAD2 (2, 2), D (2, 2), .bias = TRUE},
  {"depthwise-k5-p2", OP_CONV, 1, 6, 5, {18}, .cout = 18, .groups = 18, K (5, 5), PAD2 (2, 2),
   .bias = TRUE},
  /* two register chunks of 16 channels and a remainder of 8 */
  {"depthwise-k3-p1-c40", OP_CONV, 2, 7, 6, {40}, .cout = 40, .groups = 40, K (3, 3), PAD2 (1, 1),
   .bias = TRUE},
  {"depthwise-multiplier-2", OP_CONV, 1, 6, 5, {3}, .cout = 6, .groups = 3, K (3, 3), PAD2 (1, 1),
   .bias = TRUE},
  {"groups-2-s2", OP_CONVT, 1, 4, 3, {4}, .cout = 6, .groups = 2, K (3, 3), S (2, 2), PAD2 (1, 1),
   .bias = TRUE},
  {"depthwise-s2", OP_CONVT, 1, 4, 3, {3}, .cout = 3, .groups = 3, K (2, 2), S (2, 2),
   .bias = TRUE},
  {"depthwise-k3-s2-c20", OP_CONVT, 1, 4, 5, {20}, .cout = 20, .groups = 20, K (3, 3), S (2, 2),
   PAD2 (1, 1), .bias = TRUE},

  /* upsample bilinear, align_corners=True */
  {"align-corners-x2", OP_UPSAMPLE, 2, 7, 5, {3}, ALIGN_CORNERS, .to_h = 14, .to_w = 10},
  {"align-corners-13x11-to-20x17", OP_UPSAMPLE, 1, 13, 11, {2}, ALIGN_CORNERS, .to_h = 20,
   .to_w = 17},
  {"align-corners-down-9x8-to-4x3", OP_UPSAMPLE, 1, 9, 8, {2}, ALIGN_CORNERS, .to_h = 4, .to_w = 3},
  {"align-corners-1x1-to-3x2", OP_UPSAMPLE, 1, 1, 1, {2}, ALIGN_CORNERS, .to_h = 3, .to_w = 2},
  {"align-corners-to-1x1", OP_UPSAMPLE, 1, 5, 4, {2}, ALIGN_CORNERS, .to_h = 1, .to_w = 1},

  /* upsample bilinear, asymmetric (TensorFlow 1): odd and even sizes, the last pixel repeated */
  {"asymmetric-7x6-x2", OP_UPSAMPLE, 2, 7, 6, {3}, ASYMMETRIC, .scale_h = 2, .scale_w = 2,
   .also_1_thread = TRUE},
  {"asymmetric-7x6-x2.5", OP_UPSAMPLE, 1, 7, 6, {2}, ASYMMETRIC, .scale_h = 2.5, .scale_w = 2.5},
  {"asymmetric-7x6-x(1.5,3)", OP_UPSAMPLE, 1, 7, 6, {2}, ASYMMETRIC, .scale_h = 1.5, .scale_w = 3},
  {"asymmetric-13x11-to-20x17", OP_UPSAMPLE, 1, 13, 11, {2}, ASYMMETRIC, .to_h = 20, .to_w = 17},
  {"asymmetric-down-13x12-to-5x7", OP_UPSAMPLE, 1, 13, 12, {2}, ASYMMETRIC, .to_h = 5, .to_w = 7},
  {"asymmetric-down-9x8-x0.6", OP_UPSAMPLE, 1, 9, 8, {2}, ASYMMETRIC, .scale_h = 0.6,
   .scale_w = 0.6},
  /* floor (5 * 1.1) = 5 and floor (7 * 1.1) = 7: ONNX Runtime copies the image; with one side
   * unchanged (6 * 1.1 = 6.6, 10 * 1.1 = 11), that side is divided by the factor all the same */
  {"asymmetric-5x7-x1.1-same-size", OP_UPSAMPLE, 1, 5, 7, {2}, ASYMMETRIC, .scale_h = 1.1,
   .scale_w = 1.1},
  {"asymmetric-6x10-x1.1-one-side-same", OP_UPSAMPLE, 1, 6, 10, {2}, ASYMMETRIC, .scale_h = 1.1,
   .scale_w = 1.1},
  {"asymmetric-1x1-x3", OP_UPSAMPLE, 1, 1, 1, {2}, ASYMMETRIC, .scale_h = 3, .scale_w = 3},

  /* avgpool2d */
  {"k2-s2", OP_AVGPOOL, 2, 6, 8, {3}, K (2, 2), S (2, 2)},
  /* auto_pad SAME, pads worked by hand from ONNX's rule: 7 x 6, k 3, s 2 -> 4 x 3, total 2 and 1 */
  {"same-upper-7x6-k3-s2", OP_AVGPOOL, 1, 7, 6, {2}, K (3, 3), S (2, 2), PAD4 (1, 0, 1, 1),
   .same = SEGCAM_POOL_SAME_UPPER},
  {"same-lower-7x6-k3-s2-exclude-pad", OP_AVGPOOL, 1, 7, 6, {2}, K (3, 3), S (2, 2),
   PAD4 (1, 1, 1, 0), .same = SEGCAM_POOL_SAME_LOWER, .exclude_pad = TRUE},
  /* 5 x 8, k 2 x 5, s 1: totals 1 and 4 */
  {"same-lower-5x8-k2x5-s1", OP_AVGPOOL, 2, 5, 8, {3}, K (2, 5), S (1, 1), PAD4 (1, 2, 0, 2),
   .same = SEGCAM_POOL_SAME_LOWER},
  {"same-upper-5x8-k2x5-s1-exclude-pad", OP_AVGPOOL, 1, 5, 8, {2}, K (2, 5), S (1, 1),
   PAD4 (0, 2, 1, 2), .same = SEGCAM_POOL_SAME_UPPER, .exclude_pad = TRUE},
  {"k3-s2-p1-include-pad", OP_AVGPOOL, 1, 7, 5, {3}, K (3, 3), S (2, 2), PAD2 (1, 1)},
  {"k3-s2-p1-exclude-pad", OP_AVGPOOL, 1, 7, 5, {3}, K (3, 3), S (2, 2), PAD2 (1, 1),
   .exclude_pad = TRUE},
  {"k2-s2-ceil", OP_AVGPOOL, 1, 7, 5, {2}, K (2, 2), S (2, 2), .ceil_mode = TRUE},
  {"k3-s2-p1-ceil-include-pad", OP_AVGPOOL, 2, 8, 6, {17}, K (3, 3), S (2, 2), PAD2 (1, 1),
   .ceil_mode = TRUE},
  {"k3-s1-p1-c20", OP_AVGPOOL, 1, 5, 4, {20}, K (3, 3), S (1, 1), PAD2 (1, 1), .exclude_pad = TRUE},

  /* global_avgpool */
  {"5x7-c19", SEGCAM_OP_GLOBAL_AVGPOOL, 2, 5, 7, {19}},

  /* mul */
  {"same-size", OP_MUL, 2, 5, 4, {3, 3}, .n_ins = 2},
  {"broadcast-gate", OP_MUL, 2, 5, 4, {18, 18}, .n_ins = 2, .h1 = 1, .w1 = 1},
  {"x-times-x", OP_MUL, 1, 5, 4, {3}, .n_ins = 1, .n_operands = 2, .operand = {0, 0}},

  /* hard activations, leaky ReLU, clip */
  {"5x4-c3-n2", SEGCAM_OP_HARDSWISH, 2, 5, 4, {3}, .values = VALUES_OFF_KINKS},
  {"5x4-c3-n2", SEGCAM_OP_HARDSIGMOID, 2, 5, 4, {3}, .values = VALUES_OFF_KINKS},
  {"alpha-0.2", SEGCAM_OP_LEAKY_RELU, 1, 5, 4, {3}, .act = {.alpha = 0.2f},
   .values = VALUES_OFF_KINKS},
  {"relu6", SEGCAM_OP_CLIP, 1, 5, 4, {3}, .act = {.min = 0, .max = 6}, .values = VALUES_OFF_KINKS},
  {"-1,2", SEGCAM_OP_CLIP, 1, 5, 4, {3}, .act = {.min = -1, .max = 2}, .values = VALUES_OFF_KINKS},

  /* pad */
  {"constant", SEGCAM_OP_PAD, 2, 5, 4, {3}, .pad = {1, 2, 3, 0, SEGCAM_PAD_CONSTANT, 0.5f}},
  {"reflect", SEGCAM_OP_PAD, 1, 5, 4, {3}, .pad = {2, 3, 4, 1, SEGCAM_PAD_REFLECT, 0}},
  {"replicate", SEGCAM_OP_PAD, 1, 5, 4, {17}, .pad = {3, 1, 0, 5, SEGCAM_PAD_REPLICATE, 0}},
  {"crop", SEGCAM_OP_PAD, 1, 6, 5, {3}, .pad = {-1, 1, -2, 0, SEGCAM_PAD_CONSTANT, 0}},

  /* group_norm: groups of channels; one group per channel is InstanceNorm, one in all LayerNorm */
  {"c6-g3-n2", SEGCAM_OP_GROUP_NORM, 2, 5, 4, {6}, .groups = 3, .also_1_thread = TRUE},
  {"instance-c4", SEGCAM_OP_GROUP_NORM, 1, 5, 4, {4}, .groups = 4},
  {"one-group-c5", SEGCAM_OP_GROUP_NORM, 2, 3, 7, {5}, .groups = 1},
  {"70x65-c8-g2", SEGCAM_OP_GROUP_NORM, 1, 70, 65, {8}, .groups = 2, .fd_samples = 300},
};

/* ---- tensors --------------------------------------------------------------------------------- */

typedef struct {
  int n, c, h, w;
} shape;

static size_t shape_size (shape s)
{
  return (size_t) s.n * s.c * s.h * s.w;
}

/* Index of (n, c, y, x) in an NCHW array, as PyTorch stores a contiguous tensor. */
static size_t nchw (shape s, int n, int c, int y, int x)
{
  return (((size_t) n * s.c + c) * s.h + y) * s.w + x;
}

/* NCHW doubles -> a newly allocated NHWC float activation. */
static segcam_act act_from (shape s, const double *v)
{
  segcam_act a = {g_new (float, shape_size (s)), s.n, s.h, s.w, s.c};
  for (int n = 0; n < s.n; n++)
    for (int c = 0; c < s.c; c++)
      for (int y = 0; y < s.h; y++)
        for (int x = 0; x < s.w; x++)
          a.data[(((size_t) n * s.h + y) * s.w + x) * s.c + c] = (float) v[nchw (s, n, c, y, x)];
  return a;
}

/* NHWC float activation -> NCHW doubles. */
static void act_to (const segcam_act *a, double *v)
{
  shape s = {a->n, a->c, a->h, a->w};
  for (int n = 0; n < s.n; n++)
    for (int c = 0; c < s.c; c++)
      for (int y = 0; y < s.h; y++)
        for (int x = 0; x < s.w; x++)
          v[nchw (s, n, c, y, x)] = a->data[(((size_t) n * s.h + y) * s.w + x) * s.c + c];
}

/* A random value that a float holds exactly, so engine and reference see the same numbers. */
static double rand_float (GRand *r, double lo, double hi)
{
  return (float) g_rand_double_range (r, lo, hi);
}

/* Uniform in [-5, 5] but 0.05 away from the kinks of op's activation. */
static double off_kinks (GRand *r, segcam_op op, const segcam_activation_params *p)
{
  double kinks[2] = {-3, 3};
  if (op == SEGCAM_OP_LEAKY_RELU)
    kinks[0] = kinks[1] = 0;
  else if (op == SEGCAM_OP_CLIP)
    kinks[0] = p->min, kinks[1] = p->max;
  for (;;)
    {
      double v = rand_float (r, -5, 5);
      if (fabs (v - kinks[0]) > 0.05 && fabs (v - kinks[1]) > 0.05)
        return v;
    }
}

static double *random_values (GRand *r, size_t n, values_kind kind, const op_case *k)
{
  double *v = g_new (double, n);
  for (size_t i = 0; i < n; i++)
    switch (kind)
      {
      case VALUES_RANDOM:
        v[i] = rand_float (r, -1, 1);
        break;
      case VALUES_WIDE:
        v[i] = rand_float (r, -4, 4);
        break;
      case VALUES_OFF_ZERO:
        v[i] = (g_rand_boolean (r) ? 1 : -1) * rand_float (r, 0.05, 1);
        break;
      case VALUES_DISTINCT:
        v[i] = (float) (0.01 * (double) i - 0.005 * (double) n);
        break;
      case VALUES_CONSTANT:
        v[i] = 0.25;
        break;
      case VALUES_OFF_KINKS:
        v[i] = off_kinks (r, k->op, &k->act);
        break;
      }
  if (kind == VALUES_DISTINCT)
    for (size_t i = n; i > 1; i--)
      {
        size_t j = (size_t) g_rand_int_range (r, 0, (gint32) i);
        double t = v[i - 1];
        v[i - 1] = v[j], v[j] = t;
      }
  return v;
}

/* ---- one case, instantiated: shapes, parameters, the engine's packed parameters ------------- */

typedef struct {
  const op_case *k;
  int n_ins, n_operands;
  int operand[3];
  shape in[3];
  shape out;
  int sh, sw, dh, dw;           /* defaults filled in */
  int groups;
  double *weight, *bias;        /* conv: PyTorch layouts */
  double *gamma, *beta, *mean, *var, eps;
  segcam_node node;             /* what the engine runs: the op and its parameters */
  int inputs[3];
} op_instance;

/* Packs a PyTorch weight into the two layouts op.h documents for the engine, per group: forward
 * [taps][cin/g][cout/g] and backward [taps][cout/g][cin/g], cin and cout being the op's input
 * and output channels. conv2d stores [cout][cin/g][kh][kw], conv_transpose2d [cin][cout/g][kh][kw]. */
static void pack_conv_weights (op_instance *t)
{
  segcam_conv_params *p = &t->node.p.conv;
  int groups = t->groups, cig = p->cin / groups, cog = p->cout / groups, taps = p->kh * p->kw;
  size_t n = (size_t) taps * cig * p->cout;
  p->w_fwd = g_new (float, n);
  p->w_bwd = g_new (float, n);
  for (int g = 0; g < groups; g++)
    for (int co = 0; co < cog; co++)
      for (int ci = 0; ci < cig; ci++)
        for (int tap = 0; tap < taps; tap++)
          {
            size_t torch = p->transposed ? ((size_t) (g * cig + ci) * cog + co) * taps + tap
                                         : ((size_t) (g * cog + co) * cig + ci) * taps + tap;
            p->w_fwd[(((size_t) g * taps + tap) * cig + ci) * cog + co] = (float) t->weight[torch];
            p->w_bwd[(((size_t) g * taps + tap) * cog + co) * cig + ci] = (float) t->weight[torch];
          }
}

static void instance_init (op_instance *t, const op_case *k, GRand *r)
{
  memset (t, 0, sizeof *t);
  t->k = k;
  t->n_ins = MAX (k->n_ins, 1);
  t->n_operands = k->n_operands ? k->n_operands : t->n_ins;
  for (int i = 0; i < t->n_operands; i++)
    t->operand[i] = k->n_operands ? k->operand[i] : i;
  for (int i = 0; i < t->n_ins; i++)
    t->in[i] = (shape) {k->n, k->c[i], k->h, k->w};
  if (k->h1)
    t->in[1].h = k->h1, t->in[1].w = k->w1;
  gboolean pool = k->op == OP_MAXPOOL || k->op == OP_AVGPOOL;
  t->sh = k->sh ? k->sh : pool ? k->kh : 1;
  t->sw = k->sw ? k->sw : pool ? k->kw : 1;
  t->dh = k->dh ? k->dh : 1;
  t->dw = k->dw ? k->dw : 1;
  t->groups = MAX (k->groups, 1);
  segcam_node *node = &t->node;
  node->name = (char *) k->name;
  node->op = k->op;
  node->n_inputs = t->n_operands;
  node->inputs = t->inputs;
  memcpy (t->inputs, t->operand, sizeof t->inputs);
  shape in = t->in[0], out = in;
  switch (k->op)
    {
    case OP_CONV:
    case OP_CONVT:
      {
        gboolean transposed = k->op == OP_CONVT;
        out.c = k->cout;
        if (transposed)
          {
            out.h = (int) ref_conv_transpose_out (in.h, k->kh, t->sh, k->pt, k->oph, t->dh);
            out.w = (int) ref_conv_transpose_out (in.w, k->kw, t->sw, k->pl, k->opw, t->dw);
          }
        else
          {
            out.h = (int) ref_conv_out (in.h, k->kh, t->sh, k->pt, k->pb, t->dh);
            out.w = (int) ref_conv_out (in.w, k->kw, t->sw, k->pl, k->pr, t->dw);
          }
        size_t nw = (size_t) in.c * (k->cout / t->groups) * k->kh * k->kw;
        /* He-like scale keeps outputs O(1) whatever the fan-in. */
        double scale = 1.0 / sqrt ((double) in.c / t->groups * k->kh * k->kw);
        t->weight = g_new (double, nw);
        for (size_t i = 0; i < nw; i++)
          t->weight[i] = rand_float (r, -scale, scale);
        if (k->bias)
          t->bias = random_values (r, k->cout, VALUES_RANDOM, k);
        node->p.conv = (segcam_conv_params) {
          .transposed = transposed, .kh = k->kh, .kw = k->kw, .sh = t->sh, .sw = t->sw,
          .pt = k->pt, .pl = k->pl, .pb = transposed ? k->pt : k->pb, .pr = transposed ? k->pl : k->pr,
          .oph = k->oph, .opw = k->opw, .dh = t->dh, .dw = t->dw, .cin = in.c, .cout = k->cout,
          .groups = k->groups,
        };
        pack_conv_weights (t);
        if (t->bias)
          {
            node->p.conv.bias = g_new (float, k->cout);
            for (int c = 0; c < k->cout; c++)
              node->p.conv.bias[c] = (float) t->bias[c];
          }
        break;
      }
    case OP_BN:
      t->gamma = g_new (double, in.c);
      t->beta = g_new (double, in.c);
      t->mean = g_new (double, in.c);
      t->var = g_new (double, in.c);
      t->eps = 1e-5;
      node->p.bn = (segcam_batchnorm_params) {.channels = in.c, .eps = t->eps,
                                              .scale = g_new (float, in.c),
                                              .shift = g_new (float, in.c)};
      for (int c = 0; c < in.c; c++)
        {
          t->gamma[c] = rand_float (r, 0.5, 1.5);
          t->beta[c] = rand_float (r, -0.5, 0.5);
          t->mean[c] = rand_float (r, -0.5, 0.5);
          t->var[c] = rand_float (r, 0.1, 2);
          /* The loader folds the four vectors into a scale and a shift (op.h). */
          double s = t->gamma[c] / sqrt (t->var[c] + t->eps);
          node->p.bn.scale[c] = (float) s;
          node->p.bn.shift[c] = (float) (t->beta[c] - t->mean[c] * s);
        }
      break;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
      node->p.pool = (segcam_pool_params) {.kh = k->kh, .kw = k->kw, .sh = t->sh, .sw = t->sw,
                                           .ph = k->same ? 0 : k->pt, .pw = k->same ? 0 : k->pl,
                                           .ceil_mode = k->ceil_mode,
                                           .count_include_pad = !k->exclude_pad, .same = k->same};
      if (k->same)
        {
          /* ONNX's SAME: the pads make the output ceil (in / s) */
          out.h = (in.h + k->pt + k->pb - k->kh) / t->sh + 1;
          out.w = (in.w + k->pl + k->pr - k->kw) / t->sw + 1;
          g_assert_cmpint (out.h, ==, (in.h + t->sh - 1) / t->sh);
          g_assert_cmpint (out.w, ==, (in.w + t->sw - 1) / t->sw);
        }
      else
        {
          out.h = (int) ref_pool_out (in.h, k->kh, t->sh, k->pt, k->ceil_mode);
          out.w = (int) ref_pool_out (in.w, k->kw, t->sw, k->pl, k->ceil_mode);
        }
      break;
    case SEGCAM_OP_GLOBAL_AVGPOOL:
      out.h = out.w = 1;
      break;
    case OP_UPSAMPLE:
      node->p.up = (segcam_upsample_params) {k->scale_h, k->scale_w, k->mode};
      out.h = k->scale_h > 0 ? (int) ref_upsample_out (in.h, k->scale_h) : k->to_h;
      out.w = k->scale_w > 0 ? (int) ref_upsample_out (in.w, k->scale_w) : k->to_w;
      break;
    case OP_CONCAT:
      out.c = 0;
      for (int i = 0; i < t->n_operands; i++)
        out.c += t->in[t->operand[i]].c;
      break;
    case SEGCAM_OP_PAD:
      node->p.pad = k->pad;
      out.h = in.h + k->pad.pt + k->pad.pb;
      out.w = in.w + k->pad.pl + k->pad.pr;
      break;
    case SEGCAM_OP_HARDSWISH:
    case SEGCAM_OP_HARDSIGMOID:
    case SEGCAM_OP_LEAKY_RELU:
    case SEGCAM_OP_CLIP:
      node->p.act = k->act;
      break;
    case SEGCAM_OP_GROUP_NORM:
      t->gamma = g_new (double, in.c);
      t->beta = g_new (double, in.c);
      t->eps = 1e-5;
      node->p.gn = (segcam_group_norm_params) {t->groups, t->eps, g_new (float, in.c),
                                               g_new (float, in.c)};
      for (int c = 0; c < in.c; c++)
        {
          node->p.gn.gamma[c] = (float) (t->gamma[c] = rand_float (r, 0.5, 1.5));
          node->p.gn.beta[c] = (float) (t->beta[c] = rand_float (r, -0.5, 0.5));
        }
      break;
    default:
      break;
    }
  node->channels = out.c;
  g_assert_cmpint (out.h, >=, 1);
  g_assert_cmpint (out.w, >=, 1);
  t->out = out;
}

static void instance_clear (op_instance *t)
{
  g_free (t->weight);
  g_free (t->bias);
  g_free (t->gamma);
  g_free (t->beta);
  g_free (t->mean);
  g_free (t->var);
  const segcam_op_def *def = segcam_op_get (t->k->op);
  if (def->clear)
    def->clear (&t->node);
}

/* ---- naive references, NCHW, double ------------------------------------------------------ */

static void naive_conv (const op_instance *t, const double *x, double *y)
{
  const op_case *k = t->k;
  shape in = t->in[0], out = t->out;
  /* Output channel co of group g = co / (cout / groups) sees that group's input channels. */
  int cig = in.c / t->groups, cog = out.c / t->groups;
  for (int n = 0; n < out.n; n++)
    for (int co = 0; co < out.c; co++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          {
            double sum = t->bias ? t->bias[co] : 0;
            for (int ci = co / cog * cig; ci < (co / cog + 1) * cig; ci++)
              for (int ky = 0; ky < k->kh; ky++)
                for (int kx = 0; kx < k->kw; kx++)
                  {
                    /* out[oy] sees in[oy * stride - pad_top + ky * dilation] (zero outside). */
                    int iy = oy * t->sh - k->pt + ky * t->dh, ix = ox * t->sw - k->pl + kx * t->dw;
                    if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w)
                      continue;
                    double w = t->weight[(((size_t) co * cig + ci % cig) * k->kh + ky) * k->kw + kx];
                    sum += w * x[nchw (in, n, ci, iy, ix)];
                  }
            y[nchw (out, n, co, oy, ox)] = sum;
          }
}

static void naive_conv_transpose (const op_instance *t, const double *x, double *y)
{
  /* PyTorch's definition, in the scatter form (the adjoint of conv2d's gather): input pixel iy
   * adds w * x[iy] to out[iy * stride - pad + ky * dilation]. */
  const op_case *k = t->k;
  shape in = t->in[0], out = t->out;
  int cig = in.c / t->groups, cog = out.c / t->groups;
  for (int n = 0; n < out.n; n++)
    for (int co = 0; co < out.c; co++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          y[nchw (out, n, co, oy, ox)] = t->bias ? t->bias[co] : 0;
  for (int n = 0; n < in.n; n++)
    for (int ci = 0; ci < in.c; ci++)
      for (int iy = 0; iy < in.h; iy++)
        for (int ix = 0; ix < in.w; ix++)
          for (int co = ci / cig * cog; co < (ci / cig + 1) * cog; co++)
            for (int ky = 0; ky < k->kh; ky++)
              for (int kx = 0; kx < k->kw; kx++)
                {
                  int oy = iy * t->sh - k->pt + ky * t->dh, ox = ix * t->sw - k->pl + kx * t->dw;
                  if (oy < 0 || oy >= out.h || ox < 0 || ox >= out.w)
                    continue;
                  double w = t->weight[(((size_t) ci * cog + co % cog) * k->kh + ky) * k->kw + kx];
                  y[nchw (out, n, co, oy, ox)] += w * x[nchw (in, n, ci, iy, ix)];
                }
}

/* The window of output (oy, ox), clipped to the input: PyTorch pads with -inf, so padding never
 * wins. Returns FALSE if the window holds no input pixel (PyTorch's size rule prevents that). */
static gboolean pool_window (const op_instance *t, int oy, int ox, int *y0, int *y1, int *x0, int *x1)
{
  int ys = oy * t->sh - t->k->pt, xs = ox * t->sw - t->k->pl;
  *y0 = MAX (ys, 0), *y1 = MIN (ys + t->k->kh, t->in[0].h);
  *x0 = MAX (xs, 0), *x1 = MIN (xs + t->k->kw, t->in[0].w);
  return *y0 < *y1 && *x0 < *x1;
}

/* Position of the maximum of a window: the first one in row-major order among equals. */
static size_t pool_argmax (const op_instance *t, const double *x, int n, int c, int oy, int ox)
{
  int y0, y1, x0, x1;
  g_assert_true (pool_window (t, oy, ox, &y0, &y1, &x0, &x1));
  size_t best = nchw (t->in[0], n, c, y0, x0);
  for (int y = y0; y < y1; y++)
    for (int xx = x0; xx < x1; xx++)
      if (x[nchw (t->in[0], n, c, y, xx)] > x[best])
        best = nchw (t->in[0], n, c, y, xx);
  return best;
}

static void naive_maxpool (const op_instance *t, const double *x, double *y)
{
  shape out = t->out;
  for (int n = 0; n < out.n; n++)
    for (int c = 0; c < out.c; c++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          y[nchw (out, n, c, oy, ox)] = x[pool_argmax (t, x, n, c, oy, ox)];
}

/* Source pixels of output index x along one axis, after PyTorch's interpolate with
 * align_corners=False (asymmetric and align_corners apart): the ratio is 1 / scale_factor when the
 * model gives one, else in / out; equal sizes copy; nearest takes floor (x * ratio), with the
 * out == 2 in special case x / 2; bilinear samples at (x + 0.5) ratio - 0.5, clamped at 0. */
static void upsample_taps (segcam_upsample_mode mode, double scale, int x, int in, int out,
                           gboolean same_image, int *i0, int *i1, double *l1)
{
  gboolean bilinear = mode != SEGCAM_UPSAMPLE_NEAREST;
  *i1 = -1, *l1 = 0;
  if (mode == SEGCAM_UPSAMPLE_ALIGN_CORNERS)
    {
      /* align_corners=True: the corner pixels' centres align. */
      double real = out > 1 ? (double) x * (in - 1) / (out - 1) : 0;
      *i0 = (int) floor (real);
      *i1 = MIN (*i0 + 1, in - 1);
      *l1 = real - *i0;
      return;
    }
  if (mode == SEGCAM_UPSAMPLE_ASYMMETRIC && same_image)
    {
      /* ONNX Runtime returns an image of unchanged size as it is. */
      *i0 = x;
      return;
    }
  if (mode == SEGCAM_UPSAMPLE_ASYMMETRIC)
    {
      /* ONNX's x_original = x_resized / scale, clamped to the last pixel as ONNX Runtime does. */
      double real = MIN (scale > 0 ? x / scale : (double) x * in / out, in - 1.0);
      *i0 = (int) floor (real);
      *i1 = MIN (*i0 + 1, in - 1);
      *l1 = real - *i0;
      return;
    }
  if (out == in)
    {
      *i0 = x;
      return;
    }
  if (!bilinear)
    {
      /* x / scale, not x * (1 / scale): a correctly rounded quotient is exact when integral. */
      double src = out == 2 * in ? x / 2 : scale > 0 ? x / scale : (double) x * in / out;
      *i0 = MIN ((int) floor (src), in - 1);
      return;
    }
  double real = (scale > 0 ? (x + 0.5) / scale : (x + 0.5) * in / out) - 0.5;
  real = MAX (real, 0.0);
  *i0 = (int) floor (real);
  *i1 = MIN (*i0 + 1, in - 1);
  *l1 = real - *i0;
}

static void naive_upsample (const op_instance *t, const double *x, double *y)
{
  const op_case *k = t->k;
  shape in = t->in[0], out = t->out;
  for (int n = 0; n < out.n; n++)
    for (int c = 0; c < out.c; c++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          {
            int y0, y1, x0, x1;
            double ly, lx;
            gboolean same = in.h == out.h && in.w == out.w;
            upsample_taps (k->mode, k->scale_h, oy, in.h, out.h, same, &y0, &y1, &ly);
            upsample_taps (k->mode, k->scale_w, ox, in.w, out.w, same, &x0, &x1, &lx);
            /* taps with weight 0 may be -1: read them only when weighted */
            double v = (1 - ly) * (1 - lx) * x[nchw (in, n, c, y0, x0)];
            if (lx > 0)
              v += (1 - ly) * lx * x[nchw (in, n, c, y0, x1)];
            if (ly > 0)
              v += ly * (1 - lx) * x[nchw (in, n, c, y1, x0)];
            if (ly > 0 && lx > 0)
              v += ly * lx * x[nchw (in, n, c, y1, x1)];
            y[nchw (out, n, c, oy, ox)] = v;
          }
}

/* torch.nn.AvgPool2d: the window is clipped to the padded input; the divisor is that window's
 * size with count_include_pad, else the real pixels. */
static void naive_avgpool (const op_instance *t, const double *x, double *y)
{
  const op_case *k = t->k;
  shape in = t->in[0], out = t->out;
  for (int n = 0; n < out.n; n++)
    for (int c = 0; c < out.c; c++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          {
            int y0 = oy * t->sh - k->pt, x0 = ox * t->sw - k->pl;
            int y1 = MIN (y0 + k->kh, in.h + k->pb), x1 = MIN (x0 + k->kw, in.w + k->pr);
            int padded = (y1 - y0) * (x1 - x0), real = 0;
            double v = 0;
            for (int yy = y0; yy < y1; yy++)
              for (int xx = x0; xx < x1; xx++)
                if (yy >= 0 && yy < in.h && xx >= 0 && xx < in.w)
                  v += x[nchw (in, n, c, yy, xx)], real++;
            y[nchw (out, n, c, oy, ox)] = v / (k->exclude_pad ? real : padded);
          }
}

/* F.pad's source index: reflect mirrors without repeating the edge, replicate clamps; -1 is
 * the constant. */
static int pad_index (segcam_pad_mode mode, int i, int n)
{
  if (i >= 0 && i < n)
    return i;
  if (mode == SEGCAM_PAD_CONSTANT)
    return -1;
  if (mode == SEGCAM_PAD_REPLICATE)
    return i < 0 ? 0 : n - 1;
  return i < 0 ? -i : 2 * n - 2 - i;
}

static void naive_pad (const op_instance *t, const double *x, double *y)
{
  const segcam_pad_params *p = &t->k->pad;
  shape in = t->in[0], out = t->out;
  for (int n = 0; n < out.n; n++)
    for (int c = 0; c < out.c; c++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          {
            int sy = pad_index (p->mode, oy - p->pt, in.h), sx = pad_index (p->mode, ox - p->pl, in.w);
            y[nchw (out, n, c, oy, ox)] = sy < 0 || sx < 0 ? p->value : x[nchw (in, n, c, sy, sx)];
          }
}

/* PyTorch's hard activations, leaky ReLU and clip (hardtanh). */
/* Each image's group of channels normalised by its own mean and biased variance. */
static void naive_group_norm (const op_instance *t, const double *x, double *y)
{
  shape s = t->out;
  int per = s.c / t->groups, m = per * s.h * s.w;
  for (int b = 0; b < s.n; b++)
    for (int g = 0; g < t->groups; g++)
      {
        /* A group's channels are contiguous in NCHW. */
        size_t at = nchw (s, b, g * per, 0, 0);
        double mean = 0, var = 0;
        for (int i = 0; i < m; i++)
          mean += x[at + i] / m;
        for (int i = 0; i < m; i++)
          var += (x[at + i] - mean) * (x[at + i] - mean) / m;
        for (int i = 0; i < m; i++)
          {
            int c = g * per + i / (s.h * s.w);
            y[at + i] = (x[at + i] - mean) / sqrt (var + t->eps) * t->gamma[c] + t->beta[c];
          }
      }
}

static double naive_activation (const op_case *k, double x)
{
  switch (k->op)
    {
    case SEGCAM_OP_HARDSWISH: /* x * relu6 (x + 3) / 6 */
      return x * fmin (fmax (x + 3, 0), 6) / 6;
    case SEGCAM_OP_HARDSIGMOID: /* relu6 (x + 3) / 6 */
      return fmin (fmax (x + 3, 0), 6) / 6;
    case SEGCAM_OP_LEAKY_RELU:
      return x >= 0 ? x : k->act.alpha * x;
    default:
      return fmin (fmax (x, k->act.min), k->act.max);
    }
}

/* The forward of any case: forward_fn for the finite differences. */
typedef void (*forward_fn) (const void *ctx, double *const *x, double *y);

static void naive_forward (const void *ctx, double *const *x, double *y)
{
  const op_instance *t = ctx;
  shape out = t->out;
  size_t n = shape_size (out);
  switch (t->k->op)
    {
    case OP_CONV:
      naive_conv (t, x[0], y);
      break;
    case OP_CONVT:
      naive_conv_transpose (t, x[0], y);
      break;
    case OP_BN:
      for (int b = 0; b < out.n; b++)
        for (int c = 0; c < out.c; c++)
          for (int i = 0; i < out.h * out.w; i++)
            {
              size_t q = nchw (out, b, c, 0, 0) + i;
              y[q] = (x[0][q] - t->mean[c]) / sqrt (t->var[c] + t->eps) * t->gamma[c] + t->beta[c];
            }
      break;
    case OP_RELU:
      for (size_t i = 0; i < n; i++)
        y[i] = x[0][i] > 0 ? x[0][i] : 0;
      break;
    case OP_SIGMOID:
      for (size_t i = 0; i < n; i++)
        y[i] = 1 / (1 + exp (-x[0][i]));
      break;
    case OP_MAXPOOL:
      naive_maxpool (t, x[0], y);
      break;
    case OP_UPSAMPLE:
      naive_upsample (t, x[0], y);
      break;
    case OP_CONCAT:
      for (int b = 0; b < out.n; b++)
        for (int i = 0, c0 = 0; i < t->n_operands; c0 += t->in[t->operand[i]].c, i++)
          {
            shape s = t->in[t->operand[i]];
            for (int c = 0; c < s.c; c++)
              for (int p = 0; p < s.h * s.w; p++)
                y[nchw (out, b, c0 + c, 0, 0) + p] = x[t->operand[i]][nchw (s, b, c, 0, 0) + p];
          }
      break;
    case OP_ADD:
      for (size_t i = 0; i < n; i++)
        y[i] = x[t->operand[0]][i] + x[t->operand[1]][i];
      break;
    case OP_AVGPOOL:
      naive_avgpool (t, x[0], y);
      break;
    case SEGCAM_OP_GLOBAL_AVGPOOL:
      for (int b = 0; b < out.n; b++)
        for (int c = 0; c < out.c; c++)
          {
            shape in = t->in[0];
            double sum = 0;
            for (int p = 0; p < in.h * in.w; p++)
              sum += x[0][nchw (in, b, c, 0, 0) + p];
            y[nchw (out, b, c, 0, 0)] = sum / (in.h * in.w);
          }
      break;
    case OP_MUL:
      {
        /* The second factor may be one pixel per image (a gate), broadcast over the first. */
        shape g = t->in[t->operand[1]];
        for (int b = 0; b < out.n; b++)
          for (int c = 0; c < out.c; c++)
            for (int p = 0; p < out.h * out.w; p++)
              y[nchw (out, b, c, 0, 0) + p] = x[t->operand[0]][nchw (out, b, c, 0, 0) + p]
                                               * x[t->operand[1]][nchw (g, b, c, 0, 0)
                                                                  + (g.h * g.w == 1 ? 0 : p)];
        break;
      }
    case SEGCAM_OP_PAD:
      naive_pad (t, x[0], y);
      break;
    case SEGCAM_OP_GROUP_NORM:
      naive_group_norm (t, x[0], y);
      break;
    case SEGCAM_OP_HARDSWISH:
    case SEGCAM_OP_HARDSIGMOID:
    case SEGCAM_OP_LEAKY_RELU:
    case SEGCAM_OP_CLIP:
      for (size_t i = 0; i < n; i++)
        y[i] = naive_activation (t->k, x[0][i]);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Vector-Jacobian product of a max-pool where windows tie: PyTorch routes each output's
 * gradient to the first maximum in row-major window order. Finite differences are undefined at
 * ties, so this is the reference there. */
static void tie_vjp (const op_instance *t, const double *x, const double *dout, double *din)
{
  shape out = t->out;
  memset (din, 0, shape_size (t->in[0]) * sizeof (double));
  for (int n = 0; n < out.n; n++)
    for (int c = 0; c < out.c; c++)
      for (int oy = 0; oy < out.h; oy++)
        for (int ox = 0; ox < out.w; ox++)
          din[pool_argmax (t, x, n, c, oy, ox)] += dout[nchw (out, n, c, oy, ox)];
}

/* ---- the engine: through the op's definition, as a session runs it -------------------------- */

static segcam_op_run engine_run (const op_instance *t, segcam_pool *pool)
{
  const segcam_op_def *def = segcam_op_get (t->k->op);
  segcam_op_run run = {.pool = pool};
  if (def->scratch)
    {
      run.scratch_per_thread = def->scratch (&t->node);
      run.scratch = g_new (float, run.scratch_per_thread * segcam_pool_threads (pool));
    }
  return run;
}

static void engine_forward (const op_instance *t, segcam_pool *pool, segcam_act *ins, segcam_act *out)
{
  segcam_op_run run = engine_run (t, pool);
  const segcam_act *operands[3];
  for (int i = 0; i < t->n_operands; i++)
    operands[i] = &ins[t->operand[i]];
  segcam_op_get (t->k->op)->forward (&run, &t->node, operands, out);
  g_free (run.scratch);
}

/* Backward into dins (accumulating); ins and out are the forward's. Operands named twice (x + x,
 * concat (x, y, x)) pass the same buffer twice; a null_grad operand passes none. */
static void engine_backward (const op_instance *t, segcam_pool *pool, const segcam_act *ins,
                             const segcam_act *out, const segcam_act *dout, segcam_act *dins)
{
  segcam_op_run run = engine_run (t, pool);
  const segcam_act *operands[3];
  segcam_act *grads[3];
  for (int i = 0; i < t->n_operands; i++)
    {
      operands[i] = &ins[t->operand[i]];
      grads[i] = t->k->null_grad & (1u << i) ? NULL : &dins[t->operand[i]];
    }
  segcam_op_get (t->k->op)->backward (&run, &t->node, operands, out, dout, grads);
  g_free (run.scratch);
}

/* ---- checking --------------------------------------------------------------------------------- */

static double dot (const double *a, const double *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* Central differences of f (x) = <dout, forward (x)> with respect to the listed elements of
 * input `which`: the reference vector-Jacobian product, for any forward. */
static void fd_vjp (forward_fn forward, const void *ctx, double *const *x, int which, const size_t *idx,
                    size_t n_idx, const double *dout, size_t n_out, double *grad)
{
  double *y = g_new (double, n_out);
  for (size_t s = 0; s < n_idx; s++)
    {
      double *v = &x[which][idx[s]], saved = *v, f[2];
      for (int side = 0; side < 2; side++)
        {
          *v = saved + (side ? -FD_STEP : FD_STEP);
          forward (ctx, x, y);
          f[side] = dot (dout, y, n_out);
        }
      *v = saved;
      grad[s] = (f[0] - f[1]) / (2 * FD_STEP);
    }
  g_free (y);
}

/* max |got - want| / max |want| (or absolute when want is all zero); NaN if any value is. */
static double rel_error (const double *got, const double *want, size_t n)
{
  double worst = 0, scale = 0;
  for (size_t i = 0; i < n; i++)
    {
      double d = fabs (got[i] - want[i]);
      if (isnan (d))
        return NAN;
      worst = MAX (worst, d);
      scale = MAX (scale, fabs (want[i]));
    }
  return scale > 0 ? worst / scale : worst;
}

/* Kernels must not write to what they only read. */
static void assert_unchanged (const segcam_act *a, const double *v, const char *what)
{
  shape s = {a->n, a->c, a->h, a->w};
  double *now = g_new (double, shape_size (s));
  act_to (a, now);
  for (size_t i = 0; i < shape_size (s); i++)
    if (now[i] != (double) (float) v[i])
      g_error ("%s changed at %zu", what, i);
  g_free (now);
}

/* The larger error, NaN winning (MAX would drop it). */
static double worse (double a, double b)
{
  return isnan (a) || isnan (b) ? NAN : MAX (a, b);
}

typedef struct {
  const op_case *k;
  int threads;
} run_spec;

static void check_case (gconstpointer data)
{
  const run_spec *spec = data;
  const op_case *k = spec->k;
  GRand *r = g_rand_new_with_seed (g_str_hash (k->name) ^ (guint32) k->op);
  op_instance t;
  instance_init (&t, k, r);
  segcam_pool *pool = segcam_pool_new (spec->threads);
  g_assert_cmpint (segcam_pool_threads (pool), ==, spec->threads);

  double *x[3];
  segcam_act ins[3];
  for (int i = 0; i < t.n_ins; i++)
    {
      x[i] = random_values (r, shape_size (t.in[i]), k->values, k);
      ins[i] = act_from (t.in[i], x[i]);
    }

  /* Forward: the output starts as NaN, so an element the kernel forgets to write shows. */
  size_t n_out = shape_size (t.out);
  double *want = g_new (double, n_out), *got = g_new (double, n_out);
  naive_forward (&t, x, want);
  segcam_act out = {g_new (float, n_out), t.out.n, t.out.h, t.out.w, t.out.c};
  for (size_t i = 0; i < n_out; i++)
    out.data[i] = NAN;
  engine_forward (&t, pool, ins, &out);
  act_to (&out, got);
  double err_fwd = rel_error (got, want, n_out);

  /* Backward, from zero and on top of random values. */
  double *dout_v = random_values (r, n_out, VALUES_RANDOM, k);
  segcam_act dout = act_from (t.out, dout_v);
  double err_bwd = 0, err_acc = 0;
  size_t n_checked = 0;
  segcam_act dzero[3], dfill[3];
  double *before[3];
  for (int i = 0; i < t.n_ins; i++)
    {
      size_t n = shape_size (t.in[i]);
      before[i] = random_values (r, n, VALUES_RANDOM, k);
      dfill[i] = act_from (t.in[i], before[i]);
      dzero[i] = (segcam_act) {g_new0 (float, n), t.in[i].n, t.in[i].h, t.in[i].w, t.in[i].c};
    }
  engine_backward (&t, pool, ins, &out, &dout, dzero);
  engine_backward (&t, pool, ins, &out, &dout, dfill);
  for (int i = 0; i < t.n_ins; i++)
    assert_unchanged (&ins[i], x[i], "an input");
  assert_unchanged (&dout, dout_v, "the output gradient");

  for (int i = 0; i < t.n_ins; i++)
    {
      gboolean wanted = TRUE;
      for (int j = 0; j < t.n_operands; j++)
        if (t.operand[j] == i && (k->null_grad & (1u << j)))
          wanted = FALSE;
      if (!wanted)
        continue;   /* the kernel never saw this gradient's buffer */
      size_t n = shape_size (t.in[i]);
      size_t n_idx = k->fd_samples ? MIN ((size_t) k->fd_samples, n) : n;
      size_t *idx = g_new (size_t, n_idx);
      for (size_t s = 0; s < n_idx; s++)
        idx[s] = k->fd_samples ? (size_t) g_rand_int_range (r, 0, (gint32) n) : s;

      double *ref = g_new (double, n_idx), *g0 = g_new (double, n_idx), *g1 = g_new (double, n_idx);
      if (k->values == VALUES_CONSTANT)
        {
          double *full = g_new (double, n);
          tie_vjp (&t, x[0], dout_v, full);
          for (size_t s = 0; s < n_idx; s++)
            ref[s] = full[idx[s]];
          g_free (full);
        }
      else
        fd_vjp (naive_forward, &t, x, i, idx, n_idx, dout_v, n_out, ref);

      double *after0 = g_new (double, n), *after1 = g_new (double, n);
      act_to (&dzero[i], after0);
      act_to (&dfill[i], after1);
      for (size_t s = 0; s < n_idx; s++)
        {
          g0[s] = after0[idx[s]];
          g1[s] = after1[idx[s]] - before[i][idx[s]];
        }
      err_bwd = worse (err_bwd, rel_error (g0, ref, n_idx));
      err_acc = worse (err_acc, rel_error (g1, ref, n_idx));
      n_checked += n_idx;
      g_free (idx);
      g_free (ref);
      g_free (g0);
      g_free (g1);
      g_free (after0);
      g_free (after1);
    }

  g_test_message ("%-17s %-40s t%d  %dx%dx%dx%d -> %dx%dx%dx%d  fwd %.1e  bwd %.1e  acc %.1e  (%zu grads)",
                  segcam_op_name (k->op), k->name, spec->threads, t.in[0].n, t.in[0].c, t.in[0].h, t.in[0].w,
                  t.out.n, t.out.c, t.out.h, t.out.w, err_fwd, err_bwd, err_acc, n_checked);
  g_assert_cmpfloat (err_fwd, <=, TOL);
  g_assert_cmpfloat (err_bwd, <=, TOL);
  g_assert_cmpfloat (err_acc, <=, TOL);

  for (int i = 0; i < t.n_ins; i++)
    {
      g_free (x[i]);
      g_free (ins[i].data);
      g_free (before[i]);
      g_free (dfill[i].data);
      g_free (dzero[i].data);
    }
  g_free (want);
  g_free (got);
  g_free (out.data);
  g_free (dout_v);
  g_free (dout.data);
  instance_clear (&t);
  segcam_pool_free (pool);
  g_rand_free (r);
}

/* ---- shape helpers ---------------------------------------------------------------------------- */

/* The engine answers <= 0 for "empty"; PyTorch's formulas give <= 0 there too (and raise).
 * Sizes are counted and so are mismatches, the first few described (what the call was, from
 * fmt), so one run shows the pattern. */
static int checked, mismatches;

static void expect_size (int64_t want, int got, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void expect_size (int64_t want, int got, const char *fmt, ...)
{
  checked++;
  if (want >= 1 ? got == want : got <= 0)
    return;
  if (mismatches++ < 12)
    {
      va_list ap;
      va_start (ap, fmt);
      char *what = g_strdup_vprintf (fmt, ap);
      va_end (ap);
      g_test_message ("MISMATCH %s: engine %d, PyTorch %" G_GINT64_FORMAT, what, got, want);
      g_free (what);
    }
}

/* Ends a shape test: every size must have matched. */
static void shapes_done (const char *what)
{
  g_test_message ("%d %s sizes, %d mismatches", checked, what, mismatches);
  g_assert_cmpint (mismatches, ==, 0);
  checked = mismatches = 0;
}

static void test_shapes_conv (void)
{
  for (int in = 1; in <= 20; in++)
    for (int k = 1; k <= 6; k++)
      for (int s = 1; s <= 3; s++)
        for (int d = 1; d <= 3; d++)
          for (int lo = 0; lo <= 3; lo++)
            for (int hi = 0; hi <= 3; hi++)
              expect_size (ref_conv_out (in, k, s, lo, hi, d), segcam_conv_out (in, k, s, lo, hi, d),
                           "conv_out (in %d, k %d, s %d, pad %d/%d, d %d)", in, k, s, lo, hi, d);
  shapes_done ("conv2d");
}

static void test_shapes_conv_transpose (void)
{
  for (int in = 1; in <= 20; in++)
    for (int k = 1; k <= 6; k++)
      for (int s = 1; s <= 3; s++)
        for (int d = 1; d <= 3; d++)
          for (int pad = 0; pad <= 4; pad++)
            for (int op = 0; op < MAX (s, d); op++) /* output_padding < stride or dilation */
              expect_size (ref_conv_transpose_out (in, k, s, pad, op, d),
                           segcam_conv_transpose_out (in, k, s, pad, op, d),
                           "conv_transpose_out (in %d, k %d, s %d, pad %d, out_pad %d, d %d)", in, k,
                           s, pad, op, d);
  shapes_done ("conv_transpose2d");
}

static void test_shapes_pool (void)
{
  for (int in = 1; in <= 20; in++)
    for (int k = 1; k <= 6; k++)
      for (int s = 1; s <= 4; s++)
        for (int pad = 0; pad <= k / 2; pad++) /* PyTorch: pad at most half the kernel */
          for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++)
            expect_size (ref_pool_out (in, k, s, pad, ceil_mode),
                         segcam_pool_out (in, k, s, pad, ceil_mode),
                         "pool_out (in %d, k %d, s %d, pad %d, ceil %d)", in, k, s, pad, ceil_mode);
  shapes_done ("maxpool2d");
}

static void test_shapes_upsample (void)
{
  static const double scales[] = {0.25, 0.5, 37.0 / 64, 0.9, 1, 1.1, 1.5, 64.0 / 37, 2, 2.5, 3, 4, 7.3};
  for (int in = 1; in <= 40; in++)
    for (size_t i = 0; i < G_N_ELEMENTS (scales); i++)
      expect_size (ref_upsample_out (in, scales[i]), segcam_upsample_out (in, scales[i]),
                   "upsample_out (in %d, scale %g)", in, scales[i]);
  shapes_done ("upsample");
}

/* PyTorch's gradients exactly at the kinks, which finite differences cannot see. */
static void test_kinks (void)
{
  static const struct {
    segcam_op op;
    segcam_activation_params p;
    float x, slope;
  } kinks[] = {
    {SEGCAM_OP_HARDSWISH, {0}, -3.0f, -0.5f},   /* the middle piece holds on [-3, 3] */
    {SEGCAM_OP_HARDSWISH, {0}, 3.0f, 1.5f},
    {SEGCAM_OP_HARDSIGMOID, {0}, -3.0f, 0.0f},  /* and the open interval for hardsigmoid */
    {SEGCAM_OP_HARDSIGMOID, {0}, 3.0f, 0.0f},
    {SEGCAM_OP_LEAKY_RELU, {.alpha = 0.1f}, 0.0f, 0.1f},
    {SEGCAM_OP_CLIP, {.min = 0, .max = 6}, 0.0f, 0.0f}, /* hardtanh, as ReLU6 */
    {SEGCAM_OP_CLIP, {.min = 0, .max = 6}, 6.0f, 0.0f},
  };
  segcam_pool *pool = segcam_pool_new (1);
  for (size_t i = 0; i < G_N_ELEMENTS (kinks); i++)
    {
      float x = kinks[i].x, g = 1, d = 0;
      segcam_act in = {&x, 1, 1, 1, 1}, dout = {&g, 1, 1, 1, 1}, din = {&d, 1, 1, 1, 1};
      segcam_activation_backward (pool, kinks[i].op, &kinks[i].p, &in, &dout, &din);
      g_assert_cmpfloat (fabsf (d - kinks[i].slope), <, 1e-6);
    }
  segcam_pool_free (pool);
}

/* The engine's packing (blocked, the backward layout packed on first use) against the naive one
 * of pack_conv_weights, exactly, on channel counts around the block size. */
static void test_conv_packing (void)
{
  static const struct {
    gboolean transposed;
    int groups, kh, kw, cin, cout;
  } shapes[] = {{FALSE, 1, 3, 3, 37, 20}, {TRUE, 1, 2, 2, 16, 33}, {FALSE, 3, 3, 3, 9, 51},
                {FALSE, 40, 3, 3, 40, 40}, {TRUE, 2, 3, 1, 34, 18}, {FALSE, 1, 1, 1, 64, 5}};
  GRand *r = g_rand_new_with_seed (1616);
  for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      op_instance t;
      memset (&t, 0, sizeof t);
      segcam_conv_params *p = &t.node.p.conv;
      *p = (segcam_conv_params) {.transposed = shapes[i].transposed, .kh = shapes[i].kh,
                                 .kw = shapes[i].kw, .cin = shapes[i].cin, .cout = shapes[i].cout,
                                 .groups = shapes[i].groups};
      t.groups = shapes[i].groups;
      size_t n = (size_t) p->kh * p->kw * (p->cin / t.groups) * p->cout;
      t.weight = g_new (double, n);
      float *w = g_new (float, n);
      for (size_t e = 0; e < n; e++)
        w[e] = (float) (t.weight[e] = g_rand_double_range (r, -1, 1));
      pack_conv_weights (&t);
      segcam_conv_params engine = *p;
      engine.w_fwd = g_new (float, n);
      engine.w_bwd = NULL;
      segcam_conv_pack (&engine, engine.transposed, w, engine.w_fwd);
      g_assert_cmpmem (engine.w_fwd, n * sizeof (float), p->w_fwd, n * sizeof (float));
      const float *bwd = segcam_conv_backward_weights (&engine);
      g_assert_true (bwd == engine.w_bwd && bwd == segcam_conv_backward_weights (&engine));
      g_assert_cmpmem (bwd, n * sizeof (float), p->w_bwd, n * sizeof (float));
      g_free (engine.w_fwd);
      g_free (engine.w_bwd);
      g_free (p->w_fwd);
      g_free (p->w_bwd);
      g_free (t.weight);
      g_free (w);
    }
  g_rand_free (r);
}

/* The table has an entry per op, each named once, and every op but the input has kernels and a
 * case here. */
static void test_registry (void)
{
  for (int op = 0; op < SEGCAM_OP_COUNT; op++)
    {
      const segcam_op_def *def = segcam_op_get (op);
      g_assert_nonnull (def);
      g_assert_cmpint (segcam_op_find (def->name), ==, op);
      g_assert_true (def->format_version >= 1 && def->format_version <= 3);
      if (op == SEGCAM_OP_INPUT)
        continue;
      g_assert_true (def->forward && def->backward && def->shape);
      gboolean tested = FALSE;
      for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
        tested |= cases[i].op == (segcam_op) op;
      if (!tested)
        g_error ("op %s has no case", def->name);
    }
  g_assert_null (segcam_op_get (SEGCAM_OP_COUNT));
}

int main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/registry", test_registry);
  g_test_add_func ("/ops/kinks", test_kinks);
  g_test_add_func ("/ops/conv/packing", test_conv_packing);
  g_test_add_func ("/ops/shapes/conv2d", test_shapes_conv);
  g_test_add_func ("/ops/shapes/conv_transpose2d", test_shapes_conv_transpose);
  g_test_add_func ("/ops/shapes/maxpool2d", test_shapes_pool);
  g_test_add_func ("/ops/shapes/upsample", test_shapes_upsample);

  /* Every case with 2 threads, some with 1 too; the specs live as long as the tests. */
  run_spec *specs = g_new (run_spec, 2 * G_N_ELEMENTS (cases));
  int n_specs = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int threads = 2; threads >= 1; threads--)
      {
        if (threads == 1 && !cases[i].also_1_thread)
          continue;
        specs[n_specs] = (run_spec) {&cases[i], threads};
        char *path = g_strdup_printf ("/ops/%s/%s/t%d", segcam_op_name (cases[i].op), cases[i].name,
                                      threads);
        g_test_add_data_func (path, &specs[n_specs++], check_case);
        g_free (path);
      }
  int status = g_test_run ();
  g_free (specs);
  return status;
}
