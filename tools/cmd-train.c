/* cmd-train.c — `segcam train`: a U-Net trained on TextureMNIST by the engine itself.
 *
 * Samples are generated on the fly (TextureMNIST samples are a pure function of their index), so
 * each epoch sees --train-count new images made from the training digits; validation uses the
 * test split's digits. One progress line per epoch; the model file records the command, the
 * data and the final metrics in segcam.training. */
#include "cli.h"
#include "commands.h"
#include "output.h"
#include "segcam-train.h"
#include "texture-mnist.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SIZE 64           /* TextureMNIST images are 64 x 64 */
#define N_CLASSES 11

static const char *const class_names[N_CLASSES] = {
  "background", "digit 0", "digit 1", "digit 2", "digit 3", "digit 4",
  "digit 5", "digit 6", "digit 7", "digit 8", "digit 9",
};
/* Background black; digits spread around the hue circle. */
static const char *const class_colors[N_CLASSES] = {
  "#000000", "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
  "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe",
};

typedef struct {
  double accuracy, mean_iou;
} metrics;

/* Pixel accuracy and mean IoU (over classes present in labels or predictions) on n test images. */
static gboolean
evaluate (segcam_model *m, const segcam_mnist *mnist, SegcamTextureMnistConfig config, guint64 seed,
          int n, int threads, metrics *out, GError **error)
{
  segcam_session_options o = {SIZE, SIZE, -1, FALSE, threads, NULL, NULL};
  segcam_session *s = segcam_session_new (m, &o, error);
  if (!s)
    return FALSE;
  float *image = g_new (float, SIZE * SIZE);
  uint8_t *truth = g_new (uint8_t, SIZE * SIZE), *pred = g_new (uint8_t, SIZE * SIZE);
  gint64 inter[N_CLASSES] = {0}, uni[N_CLASSES] = {0}, correct = 0;
  gboolean ok = TRUE;
  for (int i = 0; ok && i < n; i++)
    {
      segcam_texture_mnist_batch (mnist, config, SEGCAM_MNIST_TEST, seed, i, 1, image, truth);
      ok = segcam_session_forward (s, image, error);
      segcam_session_labels (s, pred);
      for (int p = 0; ok && p < SIZE * SIZE; p++)
        {
          correct += pred[p] == truth[p];
          inter[truth[p]] += pred[p] == truth[p];
          uni[truth[p]]++;
          uni[pred[p]] += pred[p] != truth[p];
        }
    }
  double iou = 0;
  int present = 0;
  for (int c = 0; c < N_CLASSES; c++)
    if (uni[c] > 0)
      iou += (double) inter[c] / uni[c], present++;
  out->accuracy = (double) correct / ((double) n * SIZE * SIZE);
  out->mean_iou = present ? iou / present : 0;
  g_free (image);
  g_free (truth);
  g_free (pred);
  segcam_session_free (s);
  return ok;
}

static char *
training_record (const char *command, const char *config, int train_count, guint64 seed,
                 const segcam_unet_spec *spec, int epochs, int batch, double lr, const metrics *mt,
                 double loss, double seconds, double images_per_s, int val_count)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
#define STR(k, v) (json_builder_set_member_name (b, k), json_builder_add_string_value (b, v))
#define INT(k, v) (json_builder_set_member_name (b, k), json_builder_add_int_value (b, v))
#define DBL(k, v) (json_builder_set_member_name (b, k), json_builder_add_double_value (b, v))
  char *data = g_strdup_printf ("TextureMNIST %s, %d new training images per epoch (seed %" G_GUINT64_FORMAT
                                "), validation on %d test-split images", config, train_count, seed, val_count);
  STR ("data", data);
  STR ("command", command);
  char *arch = g_strdup_printf ("U-Net depth %d, %d filters, %s, %s upsampling", spec->depth,
                                spec->filters, spec->batchnorm ? "batch norm" : "no batch norm",
                                spec->transposed ? "transposed-conv" : "bilinear");
  STR ("architecture", arch);
  INT ("epochs", epochs);
  INT ("batch", batch);
  DBL ("lr", lr);
  json_builder_set_member_name (b, "metrics");
  json_builder_begin_object (b);
  DBL ("pixel_accuracy", mt->accuracy);
  DBL ("mean_iou", mt->mean_iou);
  DBL ("train_loss", loss);
  json_builder_end_object (b);
  DBL ("training_seconds", seconds);
  DBL ("images_per_second", images_per_s);
#undef STR
#undef INT
#undef DBL
  json_builder_end_object (b);
  JsonNode *root = json_builder_get_root (b);
  char *text = json_to_string (root, FALSE);
  json_node_unref (root);
  g_object_unref (b);
  g_free (data);
  g_free (arch);
  return text;
}

/* The U-Net a checkpoint holds, as training_record describes it: resuming rebuilds nothing, so
 * --depth, --filters, --no-batchnorm and --upsample say nothing of it. The builder's graph has one
 * max-pool per level, and its first convolution has the first level's filters. */
static void
spec_of_model (const segcam_model *m, segcam_unet_spec *spec)
{
  int n = segcam_model_n_nodes (m), *shapes = g_new (int, 3 * n);
  gboolean shaped = segcam_model_infer_shapes (m, SIZE, SIZE, shapes, NULL);
  spec->depth = 0, spec->filters = 0, spec->batchnorm = FALSE, spec->transposed = FALSE;
  for (int i = 0; i < n; i++)
    {
      const char *op = segcam_model_node_op (m, i);
      spec->depth += strcmp (op, "maxpool2d") == 0;
      spec->batchnorm |= strcmp (op, "batchnorm") == 0;
      spec->transposed |= strcmp (op, "conv_transpose2d") == 0;
      if (shaped && !spec->filters && strcmp (op, "conv2d") == 0)
        spec->filters = shapes[3 * i];
    }
  g_free (shapes);
}

typedef struct {
  segcam_trainer *trainer;
  const char *training_json;
  gboolean checkpoint;
} save_job;

/* The model or checkpoint file, for segcam_write_atomically. */
static gboolean
write_trained (const char *path, gpointer data, GError **error)
{
  const save_job *job = data;
  return segcam_trainer_save (job->trainer, path, job->training_json, job->checkpoint, error);
}

int
segcam_cmd_train (int argc, char **argv)
{
  char *data = NULL, *config_name = NULL, *mnist_path = NULL, *upsample = NULL, *out = NULL;
  char *checkpoint = NULL, *resume = NULL, *name = NULL;
  int depth = 4, filters = 32, epochs = 10, batch = 32, train_count = 10000, val_count = 1000;
  int threads = 0;
  gint64 seed = 1;
  double lr = 1e-3;
  gboolean no_bn = FALSE, exact = FALSE;
  char *command = g_strjoinv (" ", argv);
  GOptionEntry entries[] = {
    {"data", 0, 0, G_OPTION_ARG_STRING, &data, "Data set: texture-mnist", "NAME"},
    {"config", 0, 0, G_OPTION_ARG_STRING, &config_name, "biased or unbiased", "CONFIG"},
    {"mnist", 0, 0, G_OPTION_ARG_FILENAME, &mnist_path,
     "Digits file (default: $SEGCAM_MNIST or " SEGCAM_CLI_DEFAULT_MNIST ")", "FILE"},
    {"depth", 0, 0, G_OPTION_ARG_INT, &depth, "U-Net depth (pooling steps; default 4)", "N"},
    {"filters", 0, 0, G_OPTION_ARG_INT, &filters, "Filters at the first level (default 32)", "N"},
    {"no-batchnorm", 0, 0, G_OPTION_ARG_NONE, &no_bn, "No batch normalisation", NULL},
    {"upsample", 0, 0, G_OPTION_ARG_STRING, &upsample, "bilinear (default) or transposed", "MODE"},
    {"epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "Epochs (default 10)", "N"},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images per step (default 32)", "N"},
    {"lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 1e-3)", "LR"},
    {"train-count", 0, 0, G_OPTION_ARG_INT, &train_count, "Training images per epoch (default 10000)", "N"},
    {"val-count", 0, 0, G_OPTION_ARG_INT, &val_count, "Test-split images for validation (default 1000)", "N"},
    {"seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed for weights and data (default 1)", "S"},
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N"},
    {"exact", 0, 0, G_OPTION_ARG_NONE, &exact, "Every convolution direct, no Winograd (slower; "
     "closer to float64)", NULL},
    {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Model name stored in the file", "TEXT"},
    {"checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &checkpoint, "Checkpoint written after every epoch", "FILE"},
    {"resume", 0, 0, G_OPTION_ARG_FILENAME, &resume, "Continue from a checkpoint", "FILE"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Trained model (.safetensors)", "FILE"},
    {NULL},
  };
  GError *error = NULL;
  int status = 0;
  segcam_mnist *mnist = NULL;
  segcam_trainer *trainer = NULL;
  float *images = NULL;
  uint8_t *labels = NULL;
  if (!segcam_cli_parse ("train", "", "Train a U-Net on TextureMNIST.", entries, &argc, &argv))
    {
      status = EXIT_USAGE;
      goto out;
    }
  SegcamTextureMnistConfig config = config_name && strcmp (config_name, "unbiased") == 0
                                      ? SEGCAM_TEXTURE_MNIST_UNBIASED : SEGCAM_TEXTURE_MNIST_BIASED;
  if (!data || strcmp (data, "texture-mnist") != 0 || !config_name
      || (strcmp (config_name, "biased") != 0 && strcmp (config_name, "unbiased") != 0) || !out
      || argc != 1 || epochs < 1 || batch < 1 || batch > 4096 || train_count < batch
      || val_count < 1 || !(lr > 0) || !isfinite (lr) || seed < 0
      || (upsample && strcmp (upsample, "bilinear") != 0 && strcmp (upsample, "transposed") != 0))
    {
      status = segcam_cli_fail ("train", EXIT_USAGE, "needs --data texture-mnist, --config "
                                "biased|unbiased and -o; counts and rates must be positive");
      goto out;
    }
  /* The checkpoint may be the file resumed from (it is read whole before the first write, and
   * replaced only by a complete one); the model must not replace the checkpoint it came from. */
  const segcam_cli_file outputs[] = {{"-o", out}, {"--checkpoint", checkpoint}};
  const segcam_cli_file data_file = {"--mnist", mnist_path}, resumed = {"--resume", resume};
  if ((status = segcam_cli_check_outputs ("train", outputs, 2, &data_file, 1))
      || (status = segcam_cli_check_outputs ("train", outputs, 1, &resumed, 1)))
    goto out;
  if (!(mnist = segcam_cli_load_mnist ("train", mnist_path)))
    {
      status = EXIT_INPUT;
      goto out;
    }
  char *default_name = g_strdup_printf ("TextureMNIST U-Net (%s)", config_name);
  segcam_unet_spec spec = {1, N_CLASSES, class_names, class_colors, depth, filters, !no_bn,
                           upsample && strcmp (upsample, "transposed") == 0, 0.5f, 0.25f,
                           (guint64) seed, name ? name : default_name};
  segcam_model *model = resume ? segcam_model_load (resume, &error) : segcam_unet_build (&spec, &error);
  g_free (default_name);
  segcam_trainer_options to = {batch, SIZE, SIZE, 0, 0, 0, 0, threads, exact};
  if (!model || !(trainer = segcam_trainer_new (model, &to, &error))
      || (resume && !segcam_trainer_resume (trainer, resume, &error)))
    {
      status = segcam_cli_fail_error ("train", EXIT_INPUT, &error);
      goto out;
    }
  int steps_per_epoch = train_count / batch;
  int first_epoch = (int) MIN (segcam_trainer_steps (trainer) / steps_per_epoch, G_MAXINT);
  if (first_epoch >= epochs)
    {
      /* Nothing to train, so no metrics to record: a model saying accuracy 0 would be a lie. */
      status = segcam_cli_fail ("train", EXIT_INPUT, "--resume '%s' already trained %d epoch%s, "
                                "--epochs is %d: raise --epochs to train further (the checkpoint "
                                "is a model file as it is)", resume, first_epoch,
                                first_epoch == 1 ? "" : "s", epochs);
      goto out;
    }
  if (resume)
    spec_of_model (segcam_trainer_model (trainer), &spec);
  images = g_new (float, (size_t) batch * SIZE * SIZE);
  labels = g_new (uint8_t, (size_t) batch * SIZE * SIZE);
  segcam_cli_print ("training %s: %" G_GINT64_FORMAT " parameters, %d steps of %d images per epoch",
                    segcam_model_name (segcam_trainer_model (trainer)),
                    segcam_model_n_parameters (segcam_trainer_model (trainer)), steps_per_epoch, batch);
  gint64 start = g_get_monotonic_time ();
  metrics mt = {0};
  double loss = 0, trained_seconds = 0;
  for (int epoch = first_epoch; epoch < epochs; epoch++)
    {
      gint64 t0 = g_get_monotonic_time ();
      double loss_sum = 0, acc_sum = 0;
      for (int step = 0; step < steps_per_epoch; step++)
        {
          guint64 first = ((guint64) epoch * steps_per_epoch + step) * batch;
          segcam_texture_mnist_batch (mnist, config, SEGCAM_MNIST_TRAIN, seed, first, batch, images, labels);
          segcam_step_result r;
          if (!segcam_trainer_step (trainer, images, labels, lr, &r, &error))
            {
              /* Nothing more is written: the last checkpoint stays the last good state. */
              status = segcam_cli_fail ("train", EXIT_INPUT, "epoch %d, step %d of %d: %s",
                                        epoch + 1, step + 1, steps_per_epoch, error->message);
              goto out;
            }
          loss_sum += r.loss, acc_sum += r.accuracy;
        }
      double seconds = (g_get_monotonic_time () - t0) / 1e6;
      trained_seconds += seconds;
      segcam_trainer_sync (trainer);
      if (!evaluate (segcam_trainer_model (trainer), mnist, config, seed + 1, val_count, threads, &mt, &error))
        {
          status = segcam_cli_fail_error ("train", EXIT_INPUT, &error);
          goto out;
        }
      loss = loss_sum / steps_per_epoch;
      double ips = (double) steps_per_epoch * batch / seconds;
      double left = (g_get_monotonic_time () - start) / 1e6 / (epoch + 1 - first_epoch) * (epochs - epoch - 1);
      printf ("epoch %3d/%d  loss %.4f  train acc %.4f  val acc %.4f  val mIoU %.4f  %.1f img/s  %.0f s left\n",
              epoch + 1, epochs, loss, acc_sum / steps_per_epoch, mt.accuracy, mt.mean_iou, ips, left);
      fflush (stdout);
      save_job job = {trainer, NULL, TRUE};
      if (checkpoint && !segcam_write_atomically (checkpoint, write_trained, &job, &error))
        {
          status = segcam_cli_fail_error ("train", EXIT_INPUT, &error);
          goto out;
        }
    }
  double ips = trained_seconds > 0 ? (double) (epochs - first_epoch) * steps_per_epoch * batch / trained_seconds : 0;
  char *record = training_record (command, config_name, train_count, (guint64) seed, &spec, epochs,
                                  batch, lr, &mt, loss, trained_seconds, ips, val_count);
  save_job job = {trainer, record, FALSE};
  if (!segcam_write_atomically (out, write_trained, &job, &error))
    status = segcam_cli_fail_error ("train", EXIT_INPUT, &error);
  else
    printf ("wrote %s: val pixel accuracy %.4f, mean IoU %.4f, %.1f images/s\n", out, mt.accuracy,
            mt.mean_iou, ips);
  g_free (record);

out:
  g_clear_error (&error);
  segcam_trainer_free (trainer);
  segcam_mnist_free (mnist);
  g_free (images);
  g_free (labels);
  g_free (command);
  return status;
}
