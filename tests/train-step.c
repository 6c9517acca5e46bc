/* train-step.c — a test helper that runs the engine's trainer on one fixed batch, for
 * tests/reference/train_crosscheck.py (PyTorch comparison, determinism, thread independence).
 *
 *   train-step MODEL IMAGES.f32 LABELS.u8 N H W LR STEPS OUT_MODEL GRADS.safetensors
 *
 * IMAGES.f32: N x H x W x C little-endian float32 in [0, 1] (C = the model's input channels);
 * LABELS.u8: N x H x W class indices. Runs STEPS Adam steps on that same batch, printing
 * "step K loss L accuracy A" per step; then writes OUT_MODEL (a checkpoint: the model with Adam's
 * state) and GRADS.safetensors (the last step's gradient of every trainable tensor, PyTorch layout,
 * named as in the model file). TRAIN_STEP_THREADS in the environment sets the trainer's thread
 * count (default 0: all cores), so runs with different counts can be compared byte for byte.
 * Exit status 0, 1 on bad usage, 2 on any failure. */
#include "model.h"
#include "safetensors.h"
#include "segcam-train.h"

#include <stdio.h>
#include <stdlib.h>

/* The image file is raw little-endian float32, read as is. */
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "train-step reads raw little-endian floats"
#endif

/* A whole file of exactly size bytes, or NULL with an error. */
static gpointer
read_exact (const char *path, size_t size, GError **error)
{
  char *data = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &data, &length, error))
    return NULL;
  if (length != size)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "%s has %zu bytes, expected %zu", path,
                   (size_t) length, size);
      g_free (data);
      return NULL;
    }
  return data;
}

/* The file shape of a trainable tensor: conv2d weights [cout][cin][kh][kw], conv_transpose2d
 * weights [cin][cout][kh][kw], everything else a vector. */
static void
torch_shape (const segcam_node *n, int which, size_t count, segcam_tensor *t)
{
  t->n_dims = 1;
  t->shape[0] = (int64_t) count;
  if ((n->op == SEGCAM_OP_CONV2D || n->op == SEGCAM_OP_CONV_TRANSPOSE2D) && which == 0)
    {
      const segcam_conv_params *c = &n->p.conv;
      gboolean transposed = n->op == SEGCAM_OP_CONV_TRANSPOSE2D;
      t->n_dims = 4;
      t->shape[0] = transposed ? c->cin : c->cout;
      t->shape[1] = transposed ? c->cout : c->cin;
      t->shape[2] = c->kh;
      t->shape[3] = c->kw;
    }
}

/* The last step's gradients of every conv weight/bias and batch-norm gamma/beta. The arrays
 * point into the trainer's read-out buffers (one per tensor), valid until the next step. */
static gboolean
write_gradients (segcam_trainer *trainer, const char *path, GError **error)
{
  const segcam_model *m = segcam_trainer_model (trainer);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (segcam_tensor));
  gboolean ok = TRUE;
  for (int i = 0; ok && i < m->n_nodes; i++)
    {
      const segcam_node *n = &m->nodes[i];
      if (n->op != SEGCAM_OP_CONV2D && n->op != SEGCAM_OP_CONV_TRANSPOSE2D && n->op != SEGCAM_OP_BATCHNORM)
        continue;
      for (int which = 0; which < 2; which++)
        {
          if (!n->tensors[which])   /* a conv without bias */
            continue;
          segcam_tensor t = {n->tensors[which]};
          t.data = (float *) segcam_trainer_gradient (trainer, t.name, &t.n_elements);
          if (!t.data)
            {
              g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL,
                           "the trainer has no gradient for tensor '%s'", t.name);
              ok = FALSE;
              break;
            }
          torch_shape (n, which, t.n_elements, &t);
          g_array_append_val (out, t);
        }
    }
  ok = ok && segcam_safetensors_write (path, (segcam_tensor *) out->data, (int) out->len, NULL, NULL,
                                       error);
  g_array_free (out, TRUE);
  return ok;
}

static gboolean
parse_int (const char *text, int lo, int hi, int *out)
{
  gint64 v;
  if (!g_ascii_string_to_signed (text, 10, lo, hi, &v, NULL))
    return FALSE;
  *out = (int) v;
  return TRUE;
}

int
main (int argc, char **argv)
{
  int n, h, w, steps, threads = 0;
  char *end = NULL;
  double lr = argc > 7 ? g_ascii_strtod (argv[7], &end) : 0;
  const char *env = g_getenv ("TRAIN_STEP_THREADS");
  if (argc != 11 || !parse_int (argv[4], 1, 4096, &n) || !parse_int (argv[5], 1, 1 << 14, &h)
      || !parse_int (argv[6], 1, 1 << 14, &w) || !end || *end || !(lr > 0)
      || !parse_int (argv[8], 1, 1 << 20, &steps) || (env && !parse_int (env, 0, 64, &threads)))
    {
      fprintf (stderr, "usage: train-step MODEL IMAGES.f32 LABELS.u8 N H W LR STEPS OUT_MODEL "
                       "GRADS.safetensors  (env TRAIN_STEP_THREADS=0..64)\n");
      return 1;
    }
  GError *error = NULL;
  segcam_trainer *trainer = NULL;
  float *images = NULL;
  uint8_t *labels = NULL;
  int status = 2;
  segcam_model *model = segcam_model_load (argv[1], &error);
  if (!model)
    goto out;
  size_t pixels = (size_t) n * h * w;
  images = read_exact (argv[2], pixels * segcam_model_input_channels (model) * sizeof (float), &error);
  labels = images ? read_exact (argv[3], pixels, &error) : NULL;
  if (!labels)
    {
      segcam_model_free (model);
      goto out;
    }
  segcam_trainer_options options = {.batch = n, .width = w, .height = h, .n_threads = threads,
                                    .exact = g_strcmp0 (g_getenv ("TRAIN_STEP_EXACT"), "1") == 0};
  if (!(trainer = segcam_trainer_new (model, &options, &error)))
    goto out;
  for (int k = 1; k <= steps; k++)
    {
      segcam_step_result r;
      if (!segcam_trainer_step (trainer, images, labels, lr, &r, &error))
        goto out;
      printf ("step %d loss %.17g accuracy %.17g\n", k, r.loss, r.accuracy);
    }
  if (segcam_trainer_save (trainer, argv[9], NULL, TRUE, &error)
      && write_gradients (trainer, argv[10], &error))
    status = 0;

out:
  if (error)
    fprintf (stderr, "train-step: %s\n", error->message);
  g_clear_error (&error);
  segcam_trainer_free (trainer);
  g_free (images);
  g_free (labels);
  return status;
}
