/* batch-bench.c — whether Score-CAM's masked forward passes pay for running B images at a time
 * (docs/methods.md, "Cost"): the time per image of one forward pass of a session planned for a
 * batch of B, against B = 1, and the session's memory.
 *
 *   batch-bench MODEL [--size WxH] [--runs N] [--threads T] [--batches 1,4,8,16]
 *
 * Each B runs once to warm up, then N times; the table gives the median per image. Before timing,
 * the logits of every image of a batch are compared with those of the single-image session (the
 * batched path must compute the same thing, or its time means nothing). Built as
 * build/bench/batch-bench; run it as every measurement: env -u OPENBLAS_CORETYPE -u
 * OPENBLAS_L2_SIZE. */
#include "cli.h"
#include "session.h"

#include <cblas.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest |difference| between image b's logits in s and the single-image session's. */
static double
logits_gap (const segcam_session *s, int b, const segcam_session *one)
{
  const segcam_act *z = &s->acts[s->model->output], *z1 = &one->acts[one->model->output];
  size_t per = segcam_act_size (z1);
  double gap = 0;
  for (size_t i = 0; i < per; i++)
    gap = MAX (gap, fabs ((double) z->data[b * per + i] - z1->data[i]));
  return gap;
}

int
main (int argc, char **argv)
{
  int wh[2] = {256, 256}, runs = 5, threads = 2, batches[8] = {1, 4, 8, 16}, n_batches = 4;
  const char *model = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--size") && i + 1 < argc)
        {
          if (!segcam_cli_parse_ints (argv[++i], 'x', 2, 1, wh))
            return 2;
        }
      else if (!strcmp (argv[i], "--runs") && i + 1 < argc)
        runs = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--threads") && i + 1 < argc)
        threads = atoi (argv[++i]);
      else if (!strcmp (argv[i], "--batches") && i + 1 < argc)
        {
          char **parts = g_strsplit (argv[++i], ",", 8);
          n_batches = 0;
          for (char **p = parts; *p; p++)
            batches[n_batches++] = atoi (*p);
          g_strfreev (parts);
        }
      else if (!model && argv[i][0] != '-')
        model = argv[i];
      else
        {
          fprintf (stderr, "usage: batch-bench MODEL [--size WxH] [--runs N] [--threads T] "
                   "[--batches 1,4,8,16]\n");
          return 2;
        }
    }
  if (!model || runs < 1)
    {
      fprintf (stderr, "batch-bench: needs a model and --runs >= 1\n");
      return 2;
    }
  GError *error = NULL;
  segcam_model *m = segcam_model_load (model, &error);
  if (!m)
    {
      fprintf (stderr, "batch-bench: %s\n", error->message);
      return 2;
    }
  int w = wh[0], h = wh[1], bmax = 1;
  for (int j = 0; j < n_batches; j++)
    bmax = MAX (bmax, batches[j]);
  size_t per = (size_t) w * h * m->in_channels;
  float *pixels = g_new (float, per * bmax);
  GRand *rand = g_rand_new_with_seed (1);
  for (size_t i = 0; i < per * bmax; i++)
    pixels[i] = (float) g_rand_double (rand);
  g_rand_free (rand);
  segcam_session *one = segcam_session_create (m, w, h, 1, SEGCAM_RUN_FORWARD, -1, threads,
                                               FALSE, &error);
  if (!one)
    {
      fprintf (stderr, "batch-bench: %s\n", error->message);
      return 2;
    }
  printf ("%s, %dx%d, %d thread(s), OpenBLAS core %s\n", model, w, h, threads,
          openblas_get_corename ());
  printf ("%5s %14s %12s %14s %12s\n", "B", "ms per image", "vs B = 1", "memory MiB", "max gap");
  double *t = g_new (double, runs), base = 0;
  for (int j = 0; j < n_batches; j++)
    {
      int b = batches[j];
      segcam_session *s = segcam_session_create (m, w, h, b, SEGCAM_RUN_FORWARD, -1, threads,
                                                 FALSE, &error);
      if (!s)
        {
          fprintf (stderr, "batch-bench: B = %d: %s\n", b, error->message);
          g_clear_error (&error);
          continue;
        }
      double gap = 0;
      segcam_session_forward (s, pixels, NULL);
      for (int k = 0; k < b; k++)
        {
          segcam_session_forward (one, pixels + k * per, NULL);
          gap = MAX (gap, logits_gap (s, k, one));
        }
      for (int r = 0; r < runs; r++)
        {
          gint64 t0 = g_get_monotonic_time ();
          segcam_session_forward (s, pixels, NULL);
          t[r] = (g_get_monotonic_time () - t0) / 1e3 / b;
        }
      double ms = segcam_cli_median (t, runs);
      if (b == 1)
        base = ms;
      printf ("%5d %14.2f %12.2f %14.1f %12.2g\n", b, ms, base > 0 ? ms / base : NAN,
              segcam_session_memory (s) / 1048576.0, gap);
      segcam_session_free (s);
    }
  g_free (t);
  g_free (pixels);
  segcam_session_free (one);
  segcam_model_free (m);
  return 0;
}
