/* winograd-bench.c — the Winograd fast path (winograd.h) against the gather GEMM (conv.c), layer
 * by layer, on the 3x3 convs of the yardstick U-Net (bench/README.md), or with --net resnet on
 * the dilated ones of torchvision's ResNet-50 segmentation nets (output stride 8: layer3 at
 * dilation 2, layer4 at 2 and 4, FCN's head at 1, DeepLabV3's ASPP at 12, 24 and 36).
 *
 *   winograd-bench [--size WxH] [--runs N] [--threads T] [--min] [--layer I] [--only wino|gather]
 *                  [--net unet|resnet] [--batch N] [--wgrad]
 *
 * Each layer runs once to warm up, then N times; the table gives the median (--min: the fastest
 * run, steadier when other work shares the machine) in ms and the
 * effective rate, direct-convolution FLOPs (2 * H * W * 9 * cin * cout) over time, so both
 * columns are comparable. Decoder convs read their concat [upsampled, skip] as two parts on the
 * Winograd side; the gather GEMM gets one concatenated tensor. Winograd's times include
 * transforming the weights, as a session's first two runs of a conv do. --wgrad times training's
 * weight gradient instead (segcam_winograd_weight_grad against the gather GEMM's), usually with
 * --size 64x64 --batch 32 as train-bench trains; the input is then one concatenated tensor on
 * both sides. Built as
 * build/bench/winograd-bench; run it as every measurement: env -u OPENBLAS_CORETYPE -u
 * OPENBLAS_L2_SIZE. */
#include "cli.h"
#include "ops.h"
#include "winograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int level;              /* spatial size = input / 2^level */
  int c_up, c_skip;       /* input channels (decoder: upsampled + skip parts; else c_skip = 0) */
  int cout;
  int d;                  /* dilation and padding (0: 1) */
} layer;

static const layer unet_layers[] = {
  {0, 3, 0, 32}, {0, 32, 0, 32},
  {1, 32, 0, 64}, {1, 64, 0, 64},
  {2, 64, 0, 128}, {2, 128, 0, 128},
  {3, 128, 0, 256}, {3, 256, 0, 256},
  {4, 256, 0, 512}, {4, 512, 0, 512},
  {3, 512, 256, 256}, {3, 256, 0, 256},
  {2, 256, 128, 128}, {2, 128, 0, 128},
  {1, 128, 64, 64}, {1, 64, 0, 64},
  {0, 64, 32, 32}, {0, 32, 0, 32},
};

static const layer resnet_layers[] = {
  {3, 256, 0, 256, 2}, {3, 512, 0, 512, 2}, {3, 512, 0, 512, 4}, {3, 2048, 0, 512, 1},
  {3, 2048, 0, 256, 12}, {3, 2048, 0, 256, 24}, {3, 2048, 0, 256, 36},
};

/* The median, or with use_min the fastest run. */
static double
summary (double *v, int n, gboolean use_min)
{
  double m = segcam_cli_median (v, n);
  return use_min ? v[0] : m;
}

/* Values in [-scale, scale) from a multiplicative hash of the index: timing does not depend on
 * the values (no denormals), only on their being spread like real activations and weights. */
static float *
filled (size_t n, guint32 seed, double scale)
{
  float *v = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) (scale * ((guint32) ((i + seed) * 2654435761u) / 2147483648.0 - 1.0));
  return v;
}

int
main (int argc, char **argv)
{
  int width = 512, height = 512, runs = 5, threads = 2, batch = 1;
  gboolean wgrad = FALSE;
  const char *only = NULL;
  int only_layer = -1;        /* index into layers[], or all */
  gboolean use_min = FALSE;   /* the fastest run instead of the median: for tuning on a busy machine */
  gboolean resnet = FALSE;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--size") && i + 1 < argc)
        {
          if (sscanf (argv[++i], "%dx%d", &width, &height) != 2)
            return 2;
        }
      else if (!strcmp (argv[i], "--runs") && i + 1 < argc)
        runs = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--threads") && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--layer") && i + 1 < argc)
        only_layer = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--batch") && i + 1 < argc)
        batch = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--wgrad"))
        wgrad = TRUE;
      else if (!strcmp (argv[i], "--min"))
        use_min = TRUE;
      else if (!strcmp (argv[i], "--only") && i + 1 < argc)
        only = argv[++i];
      else if (!strcmp (argv[i], "--net") && i + 1 < argc
               && (!strcmp (argv[i + 1], "unet") || !strcmp (argv[i + 1], "resnet")))
        resnet = !strcmp (argv[++i], "resnet");
      else
        {
          fprintf (stderr, "usage: %s [--size WxH] [--runs N] [--threads T] [--min] [--layer I] "
                   "[--only wino|gather] [--net unet|resnet] [--batch N] [--wgrad]\n", argv[0]);
          return 2;
        }
    }
  runs = MAX (runs, 1);
  batch = MAX (batch, 1);
  threads = MAX (threads, 1);
  gboolean do_wino = !only || !strcmp (only, "wino"), do_gather = !only || !strcmp (only, "gather");
  segcam_pool *pool = segcam_pool_new (threads);
  double *t = g_new (double, runs);
  double total_flops = 0, total_wino = 0, total_gather = 0, wide_flops = 0, wide_wino = 0;

  printf ("%s, %dx%d, batch %d, %d threads, %s of %d runs\n",
          wgrad ? "weight gradient" : "forward", width, height, batch, threads,
          use_min ? "min" : "median", runs);
  const layer *layers = resnet ? resnet_layers : unet_layers;
  size_t n_layers = resnet ? G_N_ELEMENTS (resnet_layers) : G_N_ELEMENTS (unet_layers);
  printf ("%-9s %-13s %4s %5s %10s %8s %10s %8s %7s\n", "size", "cin x cout", "d", "fill",
          "wino ms", "GFLOP/s", "gather ms", "GFLOP/s", "speedup");
  for (size_t li = 0; li < n_layers; li++)
    {
      if (only_layer >= 0 && (size_t) only_layer != li)
        continue;
      const layer *l = &layers[li];
      int h = height >> l->level, w = width >> l->level, cin = l->c_up + l->c_skip;
      int d = MAX (l->d, 1);
      segcam_conv_params cp = {
        .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = d, .pl = d, .pb = d, .pr = d, .dh = d, .dw = d,
        .cin = cin, .cout = l->cout, .groups = 1,
      };
      segcam_winograd_geom g = segcam_winograd_forward (&cp, batch, h, w);
      size_t pixels = (size_t) batch * h * w;
      double flops = 2.0 * pixels * 9 * cin * l->cout;
      float *in = filled (pixels * cin, 1, 1);
      float *skip = l->c_skip ? filled (pixels * l->c_skip, 2, 1) : NULL;
      float *wt = filled ((size_t) 9 * cin * l->cout, 3, 0.05);
      cp.w_fwd = wt;
      float *out = filled (pixels * l->cout, 4, 1);   /* the output gradient with --wgrad */

      /* One tensor for all input channels where the path reads no parts. */
      float *cat = in;
      if (skip && (wgrad || do_gather))
        {
          cat = g_new (float, pixels * cin);
          for (size_t p = 0; p < pixels; p++)
            {
              memcpy (cat + p * cin, in + p * l->c_up, l->c_up * sizeof (float));
              memcpy (cat + p * cin + l->c_up, skip + p * l->c_skip, l->c_skip * sizeof (float));
            }
        }
      segcam_act a = {cat, batch, h, w, cin}, o = {out, batch, h, w, l->cout};
      float *dw = wgrad ? g_new0 (float, (size_t) 9 * cin * l->cout) : NULL;

      double wino_ms = 0, gather_ms = 0;
      if (do_wino)
        {
          segcam_winograd_weights ww = {.u = g_new (float, segcam_winograd_floats (cin, l->cout))};
          segcam_winograd_kernels k = segcam_winograd_packed (wt, cin, l->cout, NULL);
          size_t per = segcam_winograd_scratch (cin, l->cout);
          float *scratch = g_new (float, per * threads);
          float *work = wgrad ? g_new (float, segcam_conv_work_floats (&cp, &a, TRUE)) : NULL;
          segcam_winograd_part parts[2] = {{in, l->c_up}, {skip, l->c_skip}};
          for (int i = -1; i < runs; i++)
            {
              gint64 t0 = g_get_monotonic_time ();
              if (wgrad)
                segcam_conv_weight_grad (pool, scratch, per, &cp, FALSE, TRUE, &a, &o, work, dw,
                                         NULL);
              else
                {
                  /* as a session's first runs: the weights transformed just before the conv */
                  segcam_winograd_transform (pool, &k, cin, l->cout, &ww);
                  segcam_winograd_conv (pool, scratch, per, &ww, &g, parts, skip ? 2 : 1, out,
                                        l->cout, NULL, 0, TRUE);
                }
              if (i >= 0)
                t[i] = (g_get_monotonic_time () - t0) / 1e3;
            }
          wino_ms = summary (t, runs, use_min);
          g_free (work);
          g_free (scratch);
          g_free (ww.u);
        }
      if (do_gather)
        {
          size_t per = segcam_conv_scratch (&cp);
          float *scratch = g_new (float, per * threads);
          float *work = wgrad ? g_new (float, segcam_conv_work_floats (&cp, &a, FALSE)) : NULL;
          for (int i = -1; i < runs; i++)
            {
              gint64 t0 = g_get_monotonic_time ();
              if (wgrad)
                segcam_conv_weight_grad (pool, scratch, per, &cp, FALSE, FALSE, &a, &o, work, dw,
                                         NULL);
              else
                segcam_conv_forward (pool, scratch, per, &cp, FALSE, &a, &o);
              if (i >= 0)
                t[i] = (g_get_monotonic_time () - t0) / 1e3;
            }
          gather_ms = summary (t, runs, use_min);
          g_free (work);
          g_free (scratch);
        }
      if (cat != in)
        g_free (cat);
      g_free (dw);
      char shape[32], size[32];
      g_snprintf (size, sizeof size, "%dx%d", w, h);
      if (l->c_skip)
        g_snprintf (shape, sizeof shape, "%d+%dx%d", l->c_up, l->c_skip, l->cout);
      else
        g_snprintf (shape, sizeof shape, "%dx%d", cin, l->cout);
      printf ("%-9s %-13s %4d %5.2f %10.2f %8.0f %10.2f %8.0f %6.2fx\n", size, shape, d,
              segcam_winograd_fill (&g), wino_ms,
              wino_ms > 0 ? flops / wino_ms / 1e6 : 0, gather_ms,
              gather_ms > 0 ? flops / gather_ms / 1e6 : 0,
              wino_ms > 0 ? gather_ms / wino_ms : 0);
      fflush (stdout);
      total_flops += flops;
      total_wino += wino_ms;
      total_gather += gather_ms;
      if (cin >= 16)
        {
          wide_flops += flops;
          wide_wino += wino_ms;
        }
      g_free (in);
      g_free (skip);
      g_free (wt);
      g_free (out);
    }
  printf ("%-34s %10.2f %8.0f %10.2f %8.0f %6.2fx\n", "total", total_wino,
          total_wino > 0 ? total_flops / total_wino / 1e6 : 0, total_gather,
          total_gather > 0 ? total_flops / total_gather / 1e6 : 0,
          total_wino > 0 ? total_gather / total_wino : 0);
  printf ("%-34s %10.2f %8.0f   (layers with cin >= 16)\n", "wide layers", wide_wino,
          wide_wino > 0 ? wide_flops / wide_wino / 1e6 : 0);
  g_free (t);
  segcam_pool_free (pool);
  return 0;
}
