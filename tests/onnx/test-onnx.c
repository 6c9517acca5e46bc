/* test-onnx.c — the ONNX importer on the small models of tests/fuzz/corpus-onnx
 * (make-onnx-corpus.py) and tests/onnx/static (make-static.py): what valid ones become, the one-line errors of broken ones, and no crash
 * on any truncation or on thousands of byte mutations of the valid ones (run it under the
 * sanitizers: tools/run-tests.sh --sanitize). The numbers of whole networks are checked against
 * PyTorch by crosscheck.py. */
#include "session.h"
#include "onnx-import.h"

#include <string.h>

/* A file of tests/: corpus-onnx/NAME, or static/NAME.onnx here (make-static.py). */
static GBytes *
corpus_file (const char *name)
{
  gboolean local = g_str_has_prefix (name, "static-");
  char *file = local ? g_strconcat (name, ".onnx", NULL) : g_strdup (name);
  char *path = g_test_build_filename (G_TEST_DIST, local ? "onnx" : "fuzz", local ? "static" : "corpus-onnx",
                                      file, NULL);
  g_free (file);
  GError *error = NULL;
  char *data;
  gsize size;
  if (!g_file_get_contents (path, &data, &size, &error))
    g_error ("%s", error->message);
  g_free (path);
  return g_bytes_new_take (data, size);
}

static segcam_model *
load (const char *name, GError **error)
{
  GBytes *b = corpus_file (name);
  gsize size;
  const uint8_t *data = g_bytes_get_data (b, &size);
  segcam_model *m = segcam_model_load_from_data (data, size, error);
  g_bytes_unref (b);
  return m;
}

static const segcam_node *
node (const segcam_model *m, const char *name)
{
  int i = segcam_model_find_node (m, name);
  g_assert_cmpint (i, >=, 0);
  return &m->nodes[i];
}

static void
test_softmax_metadata (void)
{
  GError *error = NULL;
  segcam_model *m = load ("valid-conv-softmax", &error);
  g_assert_no_error (error);
  /* The final Softmax is taken off; its input gives the logits. */
  g_assert_cmpstr (segcam_model_node_name (m, segcam_model_output_node (m)), ==, "logits");
  g_assert_false (segcam_model_output_is_sigmoid (m));
  g_assert_cmpint (segcam_model_format_version (m), ==, 2);
  g_assert_cmpstr (segcam_model_class_name (m, 1), ==, "ground");
  g_assert_cmpfloat (m->mean[2], ==, 0.5f);
  g_assert_cmpfloat (m->std[0], ==, 0.25f);
  g_assert_cmpint (node (m, "bn")->op, ==, SEGCAM_OP_BATCHNORM);
  segcam_model_free (m);
}

static void
test_resize_to_shape (void)
{
  GError *error = NULL;
  segcam_model *m = load ("valid-resize-to-shape", &error);
  g_assert_no_error (error);
  /* Sizes from Shape (image) become "the size of the input", whatever it is. */
  const segcam_node *up = node (m, "up");
  g_assert_cmpint (up->op, ==, SEGCAM_OP_UPSAMPLE);
  g_assert_cmpint (up->n_inputs, ==, 2);
  g_assert_cmpint (up->inputs[1], ==, 0);
  g_assert_cmpint (up->p.up.mode, ==, SEGCAM_UPSAMPLE_BILINEAR);
  g_assert_cmpint (node (m, "d")->p.conv.groups, ==, 3);
  g_assert_cmpint (segcam_model_size_multiple (m), ==, 1);
  int shapes[3 * 16];
  g_assert_true (segcam_model_infer_shapes (m, 37, 23, shapes, NULL));
  int out = segcam_model_output_node (m);
  g_assert_cmpint (shapes[3 * out + 1], ==, 23);
  g_assert_cmpint (shapes[3 * out + 2], ==, 37);
  segcam_model_free (m);
}

static void
test_gate (void)
{
  GError *error = NULL;
  segcam_model *m = load ("valid-gate", &error);
  g_assert_no_error (error);
  /* Mul (gate, image): the one-pixel gate goes second so that it broadcasts. */
  const segcam_node *x = node (m, "x");
  g_assert_cmpint (x->op, ==, SEGCAM_OP_MUL);
  g_assert_cmpstr (m->nodes[x->inputs[1]].name, ==, "s");
  g_assert_cmpint (node (m, "s")->op, ==, SEGCAM_OP_HARDSIGMOID);
  /* x * hardsigmoid (x) is hardswish; the hardsigmoid node is left out. */
  g_assert_cmpint (node (m, "hx")->op, ==, SEGCAM_OP_HARDSWISH);
  g_assert_cmpstr (m->nodes[node (m, "hx")->inputs[0]].name, ==, "hx1");
  g_assert_cmpint (segcam_model_find_node (m, "hs"), ==, -1);
  /* Activations times and plus constants are depthwise 1x1 convolutions. */
  const segcam_node *hk = node (m, "hk"), *out = node (m, "logits");
  g_assert_cmpint (hk->op, ==, SEGCAM_OP_CONV2D);
  g_assert_cmpint (hk->p.conv.groups, ==, 3);
  g_assert_cmpfloat (segcam_conv_forward_weights (&hk->p.conv)[0], ==, 0.5f);
  g_assert_null (hk->p.conv.bias);
  g_assert_cmpfloat (segcam_conv_forward_weights (&out->p.conv)[1], ==, 1.0f);
  g_assert_cmpfloat (out->p.conv.bias[2], ==, 0.5f);
  segcam_model_free (m);
}

static void
test_unet (void)
{
  GError *error = NULL;
  segcam_model *m = load ("valid-unet", &error);
  g_assert_no_error (error);
  g_assert_true (segcam_model_output_is_sigmoid (m));
  g_assert_cmpint (segcam_model_n_classes (m), ==, 2);
  g_assert_cmpstr (segcam_model_class_name (m, 1), ==, "foreground");
  /* ceil-mode pooling then a stride-2 transposed conv: even sizes only */
  g_assert_cmpint (segcam_model_size_multiple (m), ==, 2);
  g_assert_cmpint (node (m, "pad")->p.pad.mode, ==, SEGCAM_PAD_REFLECT);
  g_assert_cmpfloat (node (m, "a2")->p.act.max, ==, 6.0f);
  g_assert_false (node (m, "p2")->p.pool.count_include_pad);
  segcam_model_free (m);
}

/* SAME pooling whose padding follows the image's size and TensorFlow 1's bilinear: attributes of
 * version 3, which the file must declare. */
static void
test_tf_same (void)
{
  GError *error = NULL;
  segcam_model *m = load ("valid-tf-same", &error);
  g_assert_no_error (error);
  g_assert_cmpint (segcam_model_format_version (m), ==, 3);
  const segcam_node *p1 = node (m, "p1"), *p2 = node (m, "p2"), *up = node (m, "logits");
  g_assert_cmpint (p1->p.pool.same, ==, SEGCAM_POOL_SAME_LOWER);
  g_assert_cmpint (p2->p.pool.same, ==, SEGCAM_POOL_SAME_UPPER);
  g_assert_true (p2->p.pool.count_include_pad);
  g_assert_cmpint (up->p.up.mode, ==, SEGCAM_UPSAMPLE_ASYMMETRIC);
  g_assert_cmpfloat (up->p.up.scale_h, ==, 2);
  segcam_model_free (m);
}

/* A static export's fixed resize sizes become "the size of that tensor", so the network runs at
 * any size. */
static void
test_static (void)
{
  GError *error = NULL;
  segcam_model *m = load ("static-decoder", &error);
  g_assert_no_error (error);
  const segcam_node *up2 = node (m, "up2"), *up = node (m, "up");
  g_assert_cmpint (up2->n_inputs, ==, 2);
  g_assert_cmpstr (m->nodes[up2->inputs[1]].name, ==, "down");
  g_assert_cmpint (up->n_inputs, ==, 2);
  g_assert_cmpstr (m->nodes[up->inputs[1]].name, ==, "input");
  g_assert_cmpint (segcam_model_size_multiple (m), ==, 1);
  int *shapes = g_new (int, 3 * segcam_model_n_nodes (m));
  g_assert_true (segcam_model_infer_shapes (m, 33, 19, shapes, &error));
  int out = segcam_model_output_node (m);
  g_assert_cmpint (shapes[3 * out + 1], ==, 19);
  g_assert_cmpint (shapes[3 * out + 2], ==, 33);
  g_free (shapes);
  segcam_model_free (m);

  /* No tensor has the size: a whole scale of the resize's input. */
  m = load ("static-scale", &error);
  g_assert_no_error (error);
  up2 = node (m, "up2");
  g_assert_cmpint (up2->n_inputs, ==, 1);
  g_assert_cmpfloat (up2->p.up.scale_h, ==, 2);
  g_assert_cmpfloat (up2->p.up.scale_w, ==, 2);
  g_assert_cmpint (up2->p.up.size_h, ==, 0);
  segcam_model_free (m);

  /* A size no tensor has and no whole scale gives: the model keeps its export size, and a
   * session at another size plans the network at it (its outputs come back resampled). */
  m = load ("static-stuck", &error);
  g_assert_no_error (error);
  int fw, fh;
  g_assert_true (segcam_model_fixed_size (m, &fw, &fh));
  g_assert_cmpint (fw, ==, 20);
  g_assert_cmpint (fh, ==, 16);
  g_assert_cmpint (segcam_model_format_version (m), ==, 3);
  g_assert_cmpint (node (m, "odd")->p.up.size_h, ==, 13);
  g_assert_nonnull (strstr (segcam_model_description (m), "kept its fixed input size 20x16, since "
                            "Resize to 'odd' (7x13 at that size)"));
  segcam_session_options o = {33, 9, -1, TRUE, 1, NULL, NULL, TRUE};
  segcam_session *s = segcam_session_new (m, &o, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->wp, ==, 20);
  g_assert_cmpint (s->hp, ==, 16);
  g_assert_true (s->resampled);
  segcam_session_free (s);
  segcam_model_free (m);
}

/* segcam.fixed_size is read in version 3 files only, and only as WIDTHxHEIGHT. */
static void
test_fixed_size_metadata (void)
{
  static const struct {
    const char *format, *size, *message;
  } cases[] = {
    {"3", "20x16", NULL},
    {"2", "20x16", "segcam.fixed_size needs segcam.format 3, not 2"},
    {"3", "20x", "segcam.fixed_size must be WIDTHxHEIGHT"},
    {"3", "0x16", "segcam.fixed_size must be WIDTHxHEIGHT"},
    {"3", "20x16 ", "segcam.fixed_size must be WIDTHxHEIGHT"},
    {"3", "-20x16", "segcam.fixed_size must be WIDTHxHEIGHT"},
    {"3", "65537x1", "segcam.fixed_size must be WIDTHxHEIGHT"},
  };
  GBytes *b = corpus_file ("static-stuck");
  gsize size;
  const uint8_t *data = g_bytes_get_data (b, &size);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      segcam_safetensors st;
      g_assert_true (segcam_onnx_import (data, size, NULL, NULL, &st, &error));
      g_assert_cmpstr (g_hash_table_lookup (st.metadata, "segcam.fixed_size"), ==, "20x16");
      g_hash_table_replace (st.metadata, g_strdup ("segcam.format"), g_strdup (cases[i].format));
      g_hash_table_replace (st.metadata, g_strdup ("segcam.fixed_size"), g_strdup (cases[i].size));
      segcam_model *m = segcam_model_from_safetensors (&st, &error);
      if (cases[i].message)
        {
          g_assert_null (m);
          g_assert_nonnull (strstr (error->message, cases[i].message));
          g_error_free (error);
        }
      else
        {
          g_assert_no_error (error);
          g_assert_true (segcam_model_fixed_size (m, NULL, NULL));
          segcam_model_free (m);
        }
      segcam_safetensors_clear (&st);
    }
  g_bytes_unref (b);
}

static void
test_errors (void)
{
  static const struct {
    const char *file, *message;
  } cases[] = {
    {"bad-unsupported-op", "op Tanh at node 'logits' is not supported"},
    {"bad-fixed-resize", "has a fixed output size"},
    {"bad-external-data", "tensor 'w' keeps its data in an external file"},
    {"bad-cycle", "cycle"},
    {"bad-short-tensor", "tensor 'w' holds 20 bytes"},
    {"bad-deep-nesting", "nest more than"},
    {"bad-nested-classes", "metadata 'segcam.classes' nests deeper than 16 levels"},
    {"bad-nested-mean", "metadata 'segcam.mean' nests deeper than 16 levels"},
    {"bad-nan-scale", "Resize at node 'logits': the scales must be finite and positive"},
    {"bad-truncated", "not a valid ONNX model"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      g_assert_null (load (cases[i].file, &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
      g_test_message ("%s: %s", cases[i].file, error->message);
      g_assert_nonnull (strstr (error->message, cases[i].message));
      g_assert_null (strchr (error->message, '\n'));
      g_error_free (error);
    }
}

/* Truncations and byte mutations fail cleanly or load; they never crash. */
static void
test_hostile (void)
{
  static const char *const files[] = {"valid-conv-softmax", "valid-resize-to-shape", "valid-gate",
                                      "valid-unet", "static-decoder"};
  GRand *r = g_rand_new_with_seed (7);
  int loaded = 0, failed = 0;
  for (size_t f = 0; f < G_N_ELEMENTS (files); f++)
    {
      GBytes *b = corpus_file (files[f]);
      gsize size;
      const uint8_t *orig = g_bytes_get_data (b, &size);
      uint8_t *data = g_memdup2 (orig, size);
      for (gsize cut = 0; cut <= size + 1000; cut++)
        {
          gsize n = cut <= size ? cut : size;
          if (cut > size)
            {
              /* then mutations: a few random bytes of the whole file */
              memcpy (data, orig, size);
              for (int k = g_rand_int_range (r, 1, 4); k > 0; k--)
                data[g_rand_int_range (r, 0, (gint32) size)] = (uint8_t) g_rand_int (r);
            }
          GError *error = NULL;
          segcam_safetensors st;
          if (segcam_onnx_import (data, n, NULL, NULL, &st, &error))
            segcam_safetensors_clear (&st), loaded++;
          else
            {
              g_assert_null (strchr (error->message, '\n'));
              g_error_free (error), failed++;
            }
        }
      g_free (data);
      g_bytes_unref (b);
    }
  g_test_message ("%d hostile inputs loaded, %d refused", loaded, failed);
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/onnx/softmax-and-metadata", test_softmax_metadata);
  g_test_add_func ("/onnx/resize-to-shape", test_resize_to_shape);
  g_test_add_func ("/onnx/gate-and-constants", test_gate);
  g_test_add_func ("/onnx/unet", test_unet);
  g_test_add_func ("/onnx/tf-same", test_tf_same);
  g_test_add_func ("/onnx/static", test_static);
  g_test_add_func ("/onnx/fixed-size-metadata", test_fixed_size_metadata);
  g_test_add_func ("/onnx/errors", test_errors);
  g_test_add_func ("/onnx/hostile", test_hostile);
  return g_test_run ();
}
