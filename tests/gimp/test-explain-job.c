/* test-explain-job.c — unit tests of the plug-in's GIMP-free helpers (plugin/explain-job.h,
 * heat-map-mask.h, resample.h, model-files.h). The end-to-end cases check the job's pixels against the engine
 * called directly, the way the command line calls it.
 *
 * usage: test-explain-job TINY-RGB.safetensors TINY-GRAY.safetensors (make-test-models.py)
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "explain-job.h"
#include "heat-map-mask.h"
#include "model-files.h"
#include "resample.h"

static const char *rgb_model_path, *gray_model_path;
static segcam_model *rgb_model, *gray_model;

/* ---- resample ----------------------------------------------------------------------------- */

static void
check_kernel_sums (const ResampleKernel *k)
{
  for (int i = 0; i < k->dst_size; i++)
    {
      double sum = 0;

      g_assert_cmpint (k->first[i], >=, 0);
      g_assert_cmpint (k->first[i] + k->taps, <=, k->src_size);
      for (int t = 0; t < k->taps; t++)
        sum += k->weights[i * k->taps + t];
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
    }
}

static void
test_kernels_identity (void)
{
  ResampleKernel *kernels[] = {
    resample_kernel_new_area (7, 7), resample_kernel_new_linear (7, 7),
    resample_kernel_new_nearest (7, 7),
  };

  for (guint k = 0; k < G_N_ELEMENTS (kernels); k++)
    {
      check_kernel_sums (kernels[k]);
      for (int i = 0; i < 7; i++)
        for (int t = 0; t < kernels[k]->taps; t++)
          g_assert_cmpfloat (kernels[k]->weights[i * kernels[k]->taps + t], ==,
                             kernels[k]->first[i] + t == i ? 1.0f : 0.0f);
      resample_kernel_free (kernels[k]);
    }
}

static void
test_kernel_area (void)
{
  ResampleKernel *k = resample_kernel_new_area (3, 2);

  /* [0, 1.5) and [1.5, 3): weights 2/3, 1/3 and 1/3, 2/3. */
  check_kernel_sums (k);
  g_assert_cmpint (k->first[0], ==, 0);
  g_assert_cmpfloat_with_epsilon (k->weights[0], 2.0 / 3, 1e-6);
  g_assert_cmpfloat_with_epsilon (k->weights[1], 1.0 / 3, 1e-6);
  g_assert_cmpint (k->first[1] + k->taps, ==, 3);
  resample_kernel_free (k);

  k = resample_kernel_new_area (1000, 7);
  check_kernel_sums (k);
  resample_kernel_free (k);
}

static void
test_kernel_linear (void)
{
  /* PyTorch: interpolate([0, 1], size=4, mode="linear", align_corners=False) = 0, .25, .75, 1 */
  static const float src[2] = { 0, 1 }, want[4] = { 0, 0.25f, 0.75f, 1 };
  ResampleKernel *kx = resample_kernel_new_linear (2, 4), *ky = resample_kernel_new_linear (1, 1);
  float dst[4];

  check_kernel_sums (kx);
  resample_rows (kx, ky, 1, src, 0, 0, 1, dst);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon (dst[i], want[i], 1e-6);
  resample_kernel_free (kx);
  resample_kernel_free (ky);
}

static void
test_kernel_nearest (void)
{
  ResampleKernel *k = resample_kernel_new_nearest (2, 5);
  static const int want[5] = { 0, 0, 1, 1, 1 }; /* centres 0.2, 0.6, 1.0, 1.4, 1.8 */

  for (int i = 0; i < 5; i++)
    g_assert_cmpint (k->first[i], ==, want[i]);
  resample_kernel_free (k);
}

static void
test_resample_rows (void)
{
  /* A 6 x 4 two-channel image reduced to 3 x 2 by area: each output is a 2 x 2 mean. */
  float src[4][6][2], dst[2][3][2];
  ResampleKernel *kx = resample_kernel_new_area (6, 3), *ky = resample_kernel_new_area (4, 2);
  int y0, y1;

  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 6; x++)
      {
        src[y][x][0] = x + 10 * y;
        src[y][x][1] = 1;
      }
  resample_kernel_span (ky, 1, 1, &y0, &y1);
  g_assert_cmpint (y0, ==, 2);
  g_assert_cmpint (y1, ==, 4);
  /* Row by row, from only the rows each needs, as the plug-in reads strips. */
  for (int y = 0; y < 2; y++)
    {
      resample_kernel_span (ky, y, 1, &y0, &y1);
      resample_rows (kx, ky, 2, &src[y0][0][0], y0, y, 1, &dst[y][0][0]);
    }
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 3; x++)
      {
        g_assert_cmpfloat_with_epsilon (dst[y][x][0], 2 * x + 0.5 + 10 * (2 * y + 0.5), 1e-5);
        g_assert_cmpfloat_with_epsilon (dst[y][x][1], 1, 1e-6);
      }
  resample_kernel_free (kx);
  resample_kernel_free (ky);
}

/* ---- settings and names ------------------------------------------------------------------- */

static void
test_working_size (void)
{
  int w, h;

  g_assert_false (segcam_working_size (640, 480, 1024, &w, &h));
  g_assert_cmpint (w, ==, 640);
  g_assert_cmpint (h, ==, 480);
  g_assert_false (segcam_working_size (1024, 1024, 1024, &w, &h));
  g_assert_true (segcam_working_size (2000, 1000, 1000, &w, &h));
  g_assert_cmpint (w, ==, 1000);
  g_assert_cmpint (h, ==, 500);
  g_assert_true (segcam_working_size (1000, 3001, 1000, &w, &h));
  g_assert_cmpint (w, ==, 333);
  g_assert_cmpint (h, ==, 1000);
  g_assert_true (segcam_working_size (5000, 1, 1000, &w, &h));
  g_assert_cmpint (w, ==, 1000);
  g_assert_cmpint (h, ==, 1);
}

static void
test_parse_classes (void)
{
  GError *error = NULL;
  GArray *classes = explain_parse_classes (rgb_model, "digit 2, 3", &error);
  char *text;

  g_assert_no_error (error);
  g_assert_cmpint (classes->len, ==, 2);
  g_assert_cmpint (g_array_index (classes, int, 0), ==, 2);
  g_assert_cmpint (g_array_index (classes, int, 1), ==, 3);
  text = explain_format_classes (rgb_model, (int *) classes->data, classes->len);
  g_assert_cmpstr (text, ==, "digit 2, digit 3");
  g_free (text);
  g_array_unref (classes);

  /* Spaces and repeats, by name and by index; empty items are ignored. */
  classes = explain_parse_classes (rgb_model, "  1 ,digit 1,, 0,", &error);
  g_assert_no_error (error);
  g_assert_cmpint (classes->len, ==, 2);
  g_assert_cmpint (g_array_index (classes, int, 0), ==, 1);
  g_assert_cmpint (g_array_index (classes, int, 1), ==, 0);
  g_array_unref (classes);

  classes = explain_parse_classes (rgb_model, "", &error);
  g_assert_no_error (error);
  g_assert_cmpint (classes->len, ==, 0);
  g_array_unref (classes);

  g_assert_null (explain_parse_classes (rgb_model, "digit 2, digit 12", &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_assert_cmpstr (error->message, ==, "unknown class \"digit 12\": the model's classes are "
                   "background, digit 1, digit 2, digit 3");
  g_clear_error (&error);
}

static void
test_find_layer (void)
{
  GError *error = NULL;
  GArray *nodes;
  int shapes[3 * 16];
  char *label;

  g_assert_cmpint (explain_find_layer (rgb_model, "", NULL), ==,
                   segcam_model_default_layer (rgb_model));
  g_assert_cmpint (explain_find_layer (rgb_model, " enc.relu1 ", NULL), ==,
                   segcam_model_find_node (rgb_model, "enc.relu1"));
  g_assert_cmpint (explain_find_layer (rgb_model, "nope", &error), ==, -1);
  g_assert_cmpstr (error->message, ==, "unknown layer \"nope\": the model has no node of that "
                   "name (its default layer is \"mid.relu1\")");
  g_clear_error (&error);

  /* A sweep's list: in order, spaces ignored, repeats and empty items dropped; nothing at all
   * is the default layer; an unknown name fails by name. */
  nodes = explain_parse_layers (rgb_model, " mid.relu1,enc.relu1 ,, mid.relu1", NULL);
  g_assert_cmpint (nodes->len, ==, 2);
  g_assert_cmpint (g_array_index (nodes, int, 0), ==, segcam_model_find_node (rgb_model, "mid.relu1"));
  g_assert_cmpint (g_array_index (nodes, int, 1), ==, segcam_model_find_node (rgb_model, "enc.relu1"));
  g_array_unref (nodes);
  nodes = explain_parse_layers (rgb_model, " , ", NULL);
  g_assert_cmpint (nodes->len, ==, 1);
  g_assert_cmpint (g_array_index (nodes, int, 0), ==, segcam_model_default_layer (rgb_model));
  g_array_unref (nodes);
  g_assert_null (explain_parse_layers (rgb_model, "enc.relu1, nope", &error));
  g_assert_true (g_str_has_prefix (error->message, "unknown layer \"nope\""));
  g_clear_error (&error);

  g_assert_cmpint (segcam_model_n_nodes (rgb_model), <=, 16);
  g_assert_true (segcam_model_infer_shapes (rgb_model, 20, 10, shapes, NULL));
  label = explain_node_label (rgb_model, segcam_model_default_layer (rgb_model), shapes);
  g_assert_cmpstr (label, ==, "mid.relu1 (relu) 8 × 5 × 10 — default");
  g_free (label);
  label = explain_node_label (rgb_model, segcam_model_find_node (rgb_model, "cat1"), NULL);
  g_assert_cmpstr (label, ==, "cat1 (concat)");
  g_free (label);
}

/* "label=node" for a node, "label=node{child child}" for a module. */
static void
format_tree (const ExplainNodeGroup *group, GString *out)
{
  g_string_append_printf (out, "%s=%s", group->label,
                          segcam_model_node_name (rgb_model, group->node));
  if (group->children == NULL)
    return;
  g_string_append_c (out, '{');
  for (guint i = 0; i < group->children->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ' ');
      format_tree (group->children->pdata[i], out);
    }
  g_string_append_c (out, '}');
}

static void
test_node_tree (void)
{
  ExplainNodeGroup *tree = explain_node_tree (rgb_model);
  GString *text = g_string_new (NULL);

  /* Modules stand for their last node; "dec" has one node and becomes it; the input is left
   * out. */
  for (guint i = 0; i < tree->children->len; i++)
    {
      g_string_append (text, i > 0 ? " " : "");
      format_tree (tree->children->pdata[i], text);
    }
  g_assert_cmpstr (text->str, ==,
                   "enc=enc.relu1{conv1=enc.conv1 relu1=enc.relu1} pool1=pool1 "
                   "mid=mid.relu1{conv1=mid.conv1 relu1=mid.relu1} up1=up1 cat1=cat1 "
                   "dec.conv1=dec.conv1 colour=colour logits=logits");
  g_assert_cmpstr (((ExplainNodeGroup *) tree->children->pdata[2])->path, ==, "mid");
  g_string_free (text, TRUE);
  explain_node_tree_free (tree);
}

static void
test_names (void)
{
  char *name = explain_layer_name (EXPLAIN_LAYER_HEAT_MAP, "digit 2", "mid.relu1",
                                   explain_roi_label (EXPLAIN_ROI_SELECTION, TRUE),
                                   "Seg-Grad-CAM", FALSE);

  g_assert_cmpstr (name, ==, "digit 2 @ mid.relu1 (selection) — Seg-Grad-CAM");
  g_free (name);
  name = explain_layer_name (EXPLAIN_LAYER_OVERLAY, "digit 2", "mid.relu1",
                             explain_roi_label (EXPLAIN_ROI_SELECTION, FALSE), "hires", TRUE);
  g_assert_cmpstr (name, ==, "digit 2 @ mid.relu1 (whole layer) — hires overlay — all zero");
  g_free (name);
  g_assert_cmpstr (explain_roi_label (EXPLAIN_ROI_SELECTION_CLASS, TRUE), ==,
                   "predicted in selection");
  g_assert_cmpstr (explain_roi_label (EXPLAIN_ROI_CLASS, TRUE), ==, "predicted");
  g_assert_cmpstr (explain_roi_label (EXPLAIN_ROI_COMPONENT, FALSE), ==, "largest region");
  name = explain_group_name ("digit 1, digit 2", "mid.relu1", "xres 2 max",
                             "texture-mnist-biased");
  g_assert_cmpstr (name, ==, "digit 1, digit 2 @ mid.relu1 — xres 2 max (texture-mnist-biased)");
  g_free (name);
  name = explain_group_name (NULL, NULL, NULL, "texture-mnist-biased");
  g_assert_cmpstr (name, ==, "Segmentation — Seg-Grad-CAM (texture-mnist-biased)");
  g_free (name);
  name = explain_segmentation_name ("texture-mnist-biased");
  g_assert_cmpstr (name, ==, "Segmentation: texture-mnist-biased");
  g_free (name);
}

/* Each method by the engine's name, its label, and the checks of its options. */
static void
test_methods (void)
{
  static const struct { SegcamMethod method; SegcamWeights weights; int pool;
                        SegcamPoolMode mode; const char *label; } labels[] = {
    { SEGCAM_METHOD_SEG_GRAD_CAM, SEGCAM_WEIGHTS_MEAN, 0, 0, "Seg-Grad-CAM" },
    { SEGCAM_METHOD_SEG_GRAD_CAM, SEGCAM_WEIGHTS_ABS, 0, 0, "Seg-Grad-CAM abs" },
    { SEGCAM_METHOD_XRES, SEGCAM_WEIGHTS_MEAN, 4, SEGCAM_POOL_MEAN, "xres 4 mean" },
    { SEGCAM_METHOD_HIRES, SEGCAM_WEIGHTS_MEAN, 0, 0, "hires" },
    { SEGCAM_METHOD_EIGEN, SEGCAM_WEIGHTS_MEAN, 0, 0, "eigen, class-agnostic" },
    { SEGCAM_METHOD_SCORE, SEGCAM_WEIGHTS_MEAN, 0, 0, "score" },
    { SEGCAM_METHOD_ABLATION, SEGCAM_WEIGHTS_MEAN, 0, 0, "ablation" },
  };
  ExplainSettings settings = { NULL };
  GError *error = NULL;
  char *names = explain_method_names (), *text, **split;
  int n;

  /* The list is the engine's, in its order: every name parses back to its method. */
  split = g_strsplit (names, ", ", -1);
  for (n = 0; split[n] != NULL; n++)
    g_assert_cmpint (explain_parse_method (split[n], NULL), ==, n);
  g_strfreev (split);
  g_assert_cmpint (n, >=, 7);
  g_assert_cmpstr (segcam_method_name (n), ==, NULL);
  g_assert_cmpint (explain_parse_method ("", NULL), ==, SEGCAM_METHOD_SEG_GRAD_CAM);
  g_assert_cmpint (explain_parse_method ("Hires", &error), ==, -1);
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  text = g_strdup_printf ("unknown method \"Hires\": the methods are %s", names);
  g_assert_cmpstr (error->message, ==, text);
  g_free (text);
  g_clear_error (&error);
  g_free (names);

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      settings.method = labels[i].method;
      settings.weights = labels[i].weights;
      settings.pool = labels[i].pool;
      settings.pool_mode = labels[i].mode;
      text = explain_method_label (&settings);
      g_assert_cmpstr (text, ==, labels[i].label);
      g_free (text);
    }
  /* A cap on the channels changes the map, so the name shows it. */
  settings = (ExplainSettings) { .method = SEGCAM_METHOD_ABLATION, .max_channels = 8 };
  text = explain_method_label (&settings);
  g_assert_cmpstr (text, ==, "ablation, 8 channels");
  g_free (text);
  g_assert_true (explain_check_method (&settings, NULL));
  settings.max_channels = -1;
  g_assert_false (explain_check_method (&settings, &error));
  g_assert_cmpstr (error->message, ==, "max-channels must be 0 (every channel) or more, not -1");
  g_clear_error (&error);

  settings = (ExplainSettings) { .method = SEGCAM_METHOD_XRES, .pool = 0 };
  g_assert_false (explain_check_method (&settings, &error));
  g_assert_cmpstr (error->message, ==, "the xres pool must be at least 1, not 0");
  g_clear_error (&error);
  settings = (ExplainSettings) { .method = SEGCAM_METHOD_HIRES, .weights = SEGCAM_WEIGHTS_ABS };
  g_assert_false (explain_check_method (&settings, &error));
  g_assert_cmpstr (error->message, ==,
                   "weights other than mean apply to seg-grad-cam only, not to hires");
  g_clear_error (&error);
  settings = (ExplainSettings) { .method = 99 };
  g_assert_false (explain_check_method (&settings, &error));
  g_clear_error (&error);
  settings = (ExplainSettings) { .method = SEGCAM_METHOD_XRES, .pool = 1, .pool_mode = 2 };
  g_assert_false (explain_check_method (&settings, &error));
  g_clear_error (&error);
  settings.pool_mode = SEGCAM_POOL_MEAN;
  g_assert_true (explain_check_method (&settings, NULL));

  /* A zero map is named, with abs weights among the suggestions only where they apply. */
  settings = (ExplainSettings) { .method = SEGCAM_METHOD_SEG_GRAD_CAM };
  g_assert_null (explain_zero_map_warning (&settings, "digit 1", "mid.relu1", 0.01f));
  text = explain_zero_map_warning (&settings, "digit 1", "mid.relu1", 0);
  g_assert_cmpstr (text, ==, "the Seg-Grad-CAM map of \"digit 1\" at mid.relu1 is zero "
                   "everywhere: no part of the layer raises the score there, which says nothing "
                   "of where the evidence lies; try abs weights, another layer or another method");
  g_free (text);
  settings.method = SEGCAM_METHOD_LAYER;
  text = explain_zero_map_warning (&settings, "digit 1", "mid.relu1", 0);
  g_assert_null (strstr (text, "abs weights"));
  g_assert_nonnull (strstr (text, "the layer map of"));
  g_free (text);
}

/* The engine's advice on images and models, as the plug-in passes it on. */
static void
test_advice (void)
{
  float rgb[3 * 2000];
  char *text;

  for (int i = 0; i < 3 * 2000; i++)
    rgb[i] = (i / 3) % 7 / 7.0f;
  g_assert_true (segcam_pixels_are_gray (rgb, 2000));
  g_assert_null (segcam_advise_image (gray_model, rgb, 2000));
  text = segcam_advise_image (rgb_model, rgb, 2000);
  g_assert_true (g_str_has_prefix (text, "a gray image into a colour model"));
  g_free (text);
  /* Two coloured pixels in 2000 are a stray mark (up to 1/1000); three make a colour image. */
  rgb[0] = rgb[3] = 1;
  g_assert_true (segcam_pixels_are_gray (rgb, 2000));
  rgb[6] = 1;
  rgb[7] = 0;
  g_assert_false (segcam_pixels_are_gray (rgb, 2000));
  g_assert_null (segcam_advise_image (rgb_model, rgb, 2000));
  text = segcam_advise_image (gray_model, rgb, 2000);
  g_assert_true (g_str_has_prefix (text, "a colour image into a grayscale model"));
  g_free (text);
  /* The test models name their classes; mean 0 and std 1 are only suspect in an import. */
  g_assert_null (segcam_advise_model (rgb_model, FALSE));
  text = segcam_advise_model (rgb_model, TRUE);
  g_assert_cmpstr (text, ==, "the model file gives no input mean and std (pixels go in as 0..1; "
                   "a network trained on normalised input sees the wrong values): segcam import "
                   "--mean --std sets it");
  g_free (text);
}

/* ---- ROI ---------------------------------------------------------------------------------- */

static void
test_default_class (void)
{
  static const uint8_t labels[6] = { 0, 0, 0, 2, 2, 1 };
  static const float weights[6] = { 0.1f, 0.1f, 0.1f, 0.5f, 0.5f, 0 };

  g_assert_cmpint (explain_default_class (labels, NULL, 6, 3), ==, 0);
  g_assert_cmpint (explain_default_class (labels, weights, 6, 3), ==, 2);
  /* Ties go to the lowest class. */
  g_assert_cmpint (explain_default_class (labels + 2, NULL, 4, 3), ==, 2);
  g_assert_cmpint (explain_default_class (labels + 1, NULL, 4, 3), ==, 0);
}

static void
test_build_roi (void)
{
  /* 4 x 2: class 1 in two separate pieces (sizes 1 and 2), a feathered selection. */
  static const uint8_t labels[8] = { 1, 0, 1, 1,
                                     0, 0, 0, 2 };
  static const float selection[8] = { 0.5f, 1, 1, 0,
                                      0.25f, 0, 0, 0 };
  float roi[8];
  GError *error = NULL;

  g_assert_true (explain_build_roi (EXPLAIN_ROI_SELECTION, selection, labels, 4, 2, 1, "one",
                                    roi, NULL));
  g_assert_cmpmem (roi, sizeof roi, selection, sizeof selection);
  g_assert_true (explain_build_roi (EXPLAIN_ROI_SELECTION, NULL, labels, 4, 2, 1, "one", roi,
                                    NULL));
  g_assert_cmpfloat (segcam_roi_sum (roi, 8), ==, 8);

  g_assert_true (explain_build_roi (EXPLAIN_ROI_SELECTION_CLASS, selection, labels, 4, 2, 1,
                                    "one", roi, NULL));
  g_assert_cmpfloat (roi[0], ==, 0.5f);
  g_assert_cmpfloat (roi[2], ==, 1);
  g_assert_cmpfloat (segcam_roi_sum (roi, 8), ==, 1.5);

  g_assert_true (explain_build_roi (EXPLAIN_ROI_CLASS, selection, labels, 4, 2, 1, "one", roi,
                                    NULL));
  g_assert_cmpfloat (segcam_roi_sum (roi, 8), ==, 3);

  /* Inside the selection class 1 has pieces {0} (0.5) and {2} (1, 3 is unselected). */
  g_assert_true (explain_build_roi (EXPLAIN_ROI_COMPONENT, NULL, labels, 4, 2, 1, "one", roi,
                                    NULL));
  g_assert_cmpfloat (roi[0], ==, 0);
  g_assert_cmpfloat (segcam_roi_sum (roi, 8), ==, 2);

  g_assert_false (explain_build_roi (EXPLAIN_ROI_SELECTION_CLASS, selection, labels, 4, 2, 2,
                                     "two", roi, &error));
  g_assert_cmpstr (error->message, ==, "empty ROI: no pixel of the selection is predicted as "
                   "\"two\"");
  g_clear_error (&error);
  g_assert_false (explain_build_roi (EXPLAIN_ROI_CLASS, selection, labels, 4, 2, 3, "three", roi,
                                     &error));
  g_assert_cmpstr (error->message, ==, "empty ROI: no pixel of the layer is predicted as "
                   "\"three\"");
  g_clear_error (&error);
}

/* ---- model files -------------------------------------------------------------------------- */

static void
touch (const char *dir, const char *name)
{
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, "x", 1, NULL));
  g_free (path);
}

static void
test_model_files (void)
{
  char *dir = g_dir_make_tmp ("segcam-models-XXXXXX", NULL);
  GPtrArray *list;
  GError *error = NULL;
  char *path, *base;
  const char *names[] = { "b.safetensors", "a.safetensors", "README.md", MODEL_FILES_DEFAULT };

  path = model_files_resolve ("", dir, &error);
  g_assert_null (path);
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, MODEL_FILES_ENV));
  g_clear_error (&error);

  for (guint i = 0; i < 3; i++)
    touch (dir, names[i]);
  list = model_files_list (dir);
  g_assert_cmpint (list->len, ==, 2);
  base = g_path_get_basename (list->pdata[0]);
  g_assert_cmpstr (base, ==, "a.safetensors");
  g_free (base);
  g_ptr_array_unref (list);

  touch (dir, names[3]);
  list = model_files_list (dir);
  g_assert_cmpint (list->len, ==, 3);
  path = model_files_resolve (NULL, dir, NULL);
  g_assert_cmpstr (path, ==, list->pdata[0]);
  base = g_path_get_basename (path);
  g_assert_cmpstr (base, ==, MODEL_FILES_DEFAULT);
  g_free (base);
  g_free (path);
  base = g_path_get_basename (list->pdata[1]);
  g_assert_cmpstr (base, ==, "a.safetensors");
  g_free (base);
  g_ptr_array_unref (list);

  path = model_files_resolve ("/some/where.safetensors", dir, NULL);
  g_assert_cmpstr (path, ==, "/some/where.safetensors");
  g_free (path);
  path = model_files_label ("/some/where.safetensors");
  g_assert_cmpstr (path, ==, "where");
  g_free (path);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      path = g_build_filename (dir, names[i], NULL);
      g_unlink (path);
      g_free (path);
    }
  g_rmdir (dir);
  g_free (dir);
}

static void
test_model_dir (void)
{
  char *dir;

  g_unsetenv (MODEL_FILES_ENV);
  dir = model_files_dir ("/opt/gimp/plug-ins/seg-grad-cam/seg-grad-cam");
  g_assert_cmpstr (dir, ==, "/opt/gimp/plug-ins/seg-grad-cam/models");
  g_free (dir);
  g_setenv (MODEL_FILES_ENV, "/tmp/elsewhere", TRUE);
  dir = model_files_dir ("/opt/gimp/plug-ins/seg-grad-cam/seg-grad-cam");
  g_assert_cmpstr (dir, ==, "/tmp/elsewhere");
  g_free (dir);
  g_unsetenv (MODEL_FILES_ENV);
}

/* ---- the job, end to end ------------------------------------------------------------------ */

/* A width x height "R'G'B' u8" layer: dark background, a red square, a green bar. */
static GeglBuffer *
make_layer (int width, int height, float **floats)
{
  GeglBuffer *buffer = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height),
                                        babl_format ("R'G'B' u8"));
  guint8 *rgb = g_new (guint8, (size_t) width * height * 3);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = rgb + 3 * ((size_t) y * width + x);
        gboolean red = x >= width / 5 && x < width / 2 && y >= height / 4 && y < 3 * height / 4;
        gboolean green = x >= 3 * width / 5 && x < 4 * width / 5 && y >= height / 8;

        p[0] = red ? 230 : 20 + (x * 7) % 30;
        p[1] = green ? 210 : 25;
        p[2] = 30 + (y * 5) % 20;
      }
  gegl_buffer_set (buffer, NULL, 0, babl_format ("R'G'B' u8"), rgb, GEGL_AUTO_ROWSTRIDE);
  *floats = g_new (float, (size_t) width * height * 3);
  for (size_t i = 0; i < (size_t) width * height * 3; i++)
    (*floats)[i] = rgb[i] / 255.0f;
  g_free (rgb);
  return buffer;
}

/* What the command line computes: the engine's map at node (-1: the default) with explain's
 * options for roi, colormapped (no map when explain's class is negative). */
static guint8 *
engine_heat_with (const segcam_model *model, const float *pixels, int width, int height,
                  int node, const segcam_explain_options *explain_options, const float *roi,
                  SegcamColormap colormap, uint8_t **labels)
{
  segcam_session_options options = { width, height, node, TRUE, 0, NULL, NULL };
  segcam_explain_options explain = *explain_options;
  int class_index = explain.class_index;
  segcam_session *session = segcam_session_new (model, &options, NULL);
  size_t n = (size_t) width * height;
  float *map = g_new (float, n);
  guint8 *heat = g_new (guint8, n * 3);

  g_assert_nonnull (session);
  g_assert_true (segcam_session_forward (session, pixels, NULL));
  /* The image forwarded, which SCORE and ABLATION rerun (the others ignore it). */
  explain.pixels = pixels;
  if (labels != NULL)
    {
      *labels = g_new (uint8_t, n);
      segcam_session_labels (session, *labels);
    }
  if (class_index >= 0)
    {
      g_assert_true (segcam_session_explain (session, &explain, roi, map, NULL, NULL));
      segcam_colormap_apply (colormap, map, n, heat);
    }
  segcam_session_free (session);
  g_free (map);
  return heat;
}

/* The same with Seg-Grad-CAM's mean weights. */
static guint8 *
engine_heat (const segcam_model *model, const float *pixels, int width, int height,
             int class_index, const float *roi, SegcamScore score, SegcamColormap colormap,
             uint8_t **labels)
{
  segcam_explain_options explain = { class_index, score, SEGCAM_WEIGHTS_MEAN, TRUE };

  return engine_heat_with (model, pixels, width, height, -1, &explain, roi, colormap, labels);
}

static guint8 *
read_u8 (GeglBuffer *buffer, const char *format, int channels)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (buffer);
  guint8 *pixels = g_new (guint8, (size_t) extent->width * extent->height * channels);

  gegl_buffer_get (buffer, NULL, 1.0, babl_format (format), pixels, GEGL_AUTO_ROWSTRIDE,
                   GEGL_ABYSS_NONE);
  return pixels;
}

static ExplainLayer *
layer_at (const ExplainResult *result, guint i)
{
  return g_ptr_array_index (result->layers, i);
}

/* The first layer of result holds exactly the R'G'B' pixels want (n of them, freed here). */
static void
check_first_layer (const ExplainResult *result, guint8 *want, int n)
{
  guint8 *got = read_u8 (layer_at (result, 0)->buffer, "R'G'B' u8", 3);

  g_assert_cmpmem (got, n * 3, want, n * 3);
  g_free (got);
  g_free (want);
}

typedef struct {
  double last;
  int calls;
  gboolean monotonic;
} ProgressLog;

static void
log_progress (double fraction, const char *text, void *data)
{
  ProgressLog *log = data;

  log->monotonic &= fraction >= log->last - 1e-9 && fraction <= 1.0 && text[0] != '\0';
  log->last = fraction;
  log->calls++;
}

/* Counts the engine's forward steps in the "Segmenting" phase ("Segmenting …: conv …"). */
static void
count_forward_steps (double fraction, const char *text, void *data)
{
  if (g_str_has_prefix (text, "Segmenting") && strstr (text, ": ") != NULL)
    (*(int *) data)++;
}

/* Both results have the same layers, byte for byte in each layer's own format. */
static void
check_same_result (const ExplainResult *got, const ExplainResult *want)
{
  g_assert_cmpstr (got->group_name, ==, want->group_name);
  g_assert_cmpint (got->layers->len, ==, want->layers->len);
  for (guint i = 0; i < want->layers->len; i++)
    {
      GeglBuffer *a = layer_at (got, i)->buffer, *b = layer_at (want, i)->buffer;
      const Babl *format = gegl_buffer_get_format (b);
      const GeglRectangle *extent = gegl_buffer_get_extent (b);
      size_t size = (size_t) extent->width * extent->height
                    * babl_format_get_bytes_per_pixel (format);
      guint8 *pa = g_malloc (size), *pb = g_malloc (size);

      g_assert_cmpstr (layer_at (got, i)->name, ==, layer_at (want, i)->name);
      g_assert_true (gegl_buffer_get_format (a) == format);
      gegl_buffer_get (a, NULL, 1.0, format, pa, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      gegl_buffer_get (b, NULL, 1.0, format, pb, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      g_assert_cmpmem (pa, size, pb, size);
      g_free (pa);
      g_free (pb);
    }
}

/* A persistent process's runs: each with the cache gives what a run without it gives, the
 * forward pass kept only while the model, node, working size and input stay. */
static void
test_run_cache (void)
{
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  GeglBuffer *selection = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height),
                                           babl_format ("Y float"));
  ExplainSource source = { layer, NULL, 0, 0 };
  ExplainCache *cache = explain_cache_new ();
  /* Each run's settings, and whether it may reuse the forward pass of the one before. */
  struct {
    ExplainSettings settings;
    segcam_model **model;
    gboolean edit, select, kept;
  } runs[] = {
    { { "digit 1", "", .outputs = EXPLAIN_OUTPUTS_ALL, .max_size = 1024 }, &rgb_model },
    { { "digit 2", "", .outputs = EXPLAIN_OUTPUTS_ALL, .max_size = 1024 }, &rgb_model,
      .kept = TRUE },
    { { "digit 2", "", EXPLAIN_ROI_SELECTION_CLASS, SEGCAM_SCORE_PROBABILITIES,
        .outputs = EXPLAIN_OUTPUT_HEAT_MAP, .max_size = 1024 }, &rgb_model, .select = TRUE,
      .kept = TRUE },
    /* Score-CAM reruns the network, and the session must come back to the layer's state. */
    { { "digit 1", "", .outputs = EXPLAIN_OUTPUT_HEAT_MAP, .max_size = 1024,
        .method = SEGCAM_METHOD_SCORE, .max_channels = 3 }, &rgb_model, .kept = TRUE },
    { { "digit 1", "", .outputs = EXPLAIN_OUTPUTS_ALL, .max_size = 1024 }, &rgb_model,
      .kept = TRUE },
    { { "digit 1", "", .outputs = EXPLAIN_OUTPUTS_ALL, .max_size = 1024 }, &rgb_model,
      .edit = TRUE },
    { { "digit 1", "enc.relu1", .outputs = EXPLAIN_OUTPUT_HEAT_MAP, .max_size = 1024 },
      &rgb_model },
    { { "digit 1", "enc.relu1", .outputs = EXPLAIN_OUTPUT_HEAT_MAP, .max_size = 16 },
      &rgb_model },
    { { "", "", .outputs = EXPLAIN_OUTPUT_HEAT_MAP, .max_size = 1024 }, &gray_model },
    { { "", "", .outputs = EXPLAIN_OUTPUT_SEGMENTATION, .max_size = 1024 }, &gray_model },
    { { "digit 2", "", .outputs = EXPLAIN_OUTPUTS_ALL, .max_size = 1024 }, &rgb_model },
    { { "digit 1, 3", "", .outputs = EXPLAIN_OUTPUTS_ALL, .max_size = 1024 }, &rgb_model,
      .kept = TRUE },
  };
  float mask[20][30];

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      mask[y][x] = x >= 4 && x < 20 && y >= 3 && y < 15 ? 1 : 0;
  gegl_buffer_set (selection, NULL, 0, babl_format ("Y float"), mask, GEGL_AUTO_ROWSTRIDE);
  for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
    {
      ExplainResult *fresh, *cached;
      GError *error = NULL;
      int steps = 0;

      if (runs[r].edit)
        {
          /* An edit the layer's size and IDs do not show: one pixel. */
          guint8 white[3] = { 255, 255, 255 };

          gegl_buffer_set (layer, GEGL_RECTANGLE (3, 4, 1, 1), 0, babl_format ("R'G'B' u8"),
                           white, GEGL_AUTO_ROWSTRIDE);
        }
      source.selection = runs[r].select ? selection : NULL;
      fresh = explain_run (*runs[r].model, "tiny", &runs[r].settings, &source, NULL, NULL, NULL,
                           &error);
      g_assert_no_error (error);
      cached = explain_run (*runs[r].model, "tiny", &runs[r].settings, &source, cache,
                            count_forward_steps, &steps, &error);
      g_assert_no_error (error);
      check_same_result (cached, fresh);
      if (runs[r].kept)
        g_assert_cmpint (steps, ==, 0);
      else
        g_assert_cmpint (steps, >, 0);
      explain_result_free (fresh);
      explain_result_free (cached);
    }
  explain_cache_free (cache);
  g_object_unref (selection);
  g_object_unref (layer);
  g_free (pixels);
}

static void
test_run_whole_layer (void)
{
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSettings settings = {
    "digit 1, 2", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_GRAYSCALE, 50,
    EXPLAIN_OUTPUTS_ALL, 1024,
  };
  ExplainSource source = { layer, NULL, 0, 0 };
  ProgressLog log = { 0, 0, TRUE };
  GError *error = NULL;
  ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL,
                                       log_progress, &log, &error);
  uint8_t *labels;
  guint8 *want, *got, *overlay;

  g_assert_no_error (error);
  g_assert_true (log.monotonic);
  g_assert_cmpfloat (log.last, ==, 1.0);
  g_assert_cmpstr (result->group_name, ==,
                   "digit 1, digit 2 @ mid.relu1 — Seg-Grad-CAM (tiny)");
  g_assert_cmpint (result->working_width, ==, width);
  g_assert_cmpint (result->warnings->len, ==, 0);
  g_assert_cmpint (result->layers->len, ==, 5);
  g_assert_cmpstr (layer_at (result, 0)->name, ==,
                   "digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM");
  g_assert_cmpstr (layer_at (result, 1)->name, ==,
                   "digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM overlay");
  g_assert_cmpstr (layer_at (result, 2)->name, ==,
                   "digit 2 @ mid.relu1 (whole layer) — Seg-Grad-CAM");
  g_assert_cmpstr (layer_at (result, 4)->name, ==, "Segmentation: tiny");
  g_assert_cmpint (layer_at (result, 0)->kind, ==, EXPLAIN_LAYER_HEAT_MAP);
  g_assert_cmpint (layer_at (result, 1)->kind, ==, EXPLAIN_LAYER_OVERLAY);
  g_assert_cmpint (layer_at (result, 4)->kind, ==, EXPLAIN_LAYER_SEGMENTATION);
  g_assert_true (layer_at (result, 0)->visible);
  for (guint i = 1; i < 5; i++)
    g_assert_false (layer_at (result, i)->visible);
  g_assert_cmpfloat (layer_at (result, 0)->opacity, ==, 50);
  g_assert_cmpfloat (layer_at (result, 1)->opacity, ==, 100);
  g_assert_true (layer_at (result, 1)->has_alpha);
  g_assert_false (layer_at (result, 0)->has_alpha);

  /* Unresampled, the heat map is exactly the engine's. */
  want = engine_heat (rgb_model, pixels, width, height, 1, NULL, SEGCAM_SCORE_LOGITS,
                      SEGCAM_COLORMAP_GRAYSCALE, &labels);
  got = read_u8 (layer_at (result, 0)->buffer, "R'G'B' u8", 3);
  g_assert_cmpmem (got, width * height * 3, want, width * height * 3);

  /* The overlay: the heat map at 50 % over the layer, its alpha kept. */
  overlay = read_u8 (layer_at (result, 1)->buffer, "R'G'B'A u8", 4);
  for (int i = 0; i < width * height; i++)
    {
      for (int c = 0; c < 3; c++)
        {
          double blend = 127.5 * pixels[3 * i + c] + 0.5 * want[3 * i + c];

          g_assert_cmpfloat (fabs (overlay[4 * i + c] - blend), <=, 0.51);
        }
      g_assert_cmpint (overlay[4 * i + 3], ==, 255);
    }
  g_free (overlay);
  g_free (got);

  /* The segmentation in the class colours; the fixture has all three colour classes. */
  got = read_u8 (layer_at (result, 4)->buffer, "R'G'B' u8", 3);
  for (int i = 0; i < width * height; i++)
    {
      guint8 rgb[3];

      segcam_model_class_color (rgb_model, labels[i], rgb);
      g_assert_cmpmem (got + 3 * i, 3, rgb, 3);
    }
  g_assert_cmpint (labels[(height / 2) * width + width / 3], ==, 1);
  g_assert_cmpint (labels[(height / 2) * width + 7 * width / 10], ==, 2);
  g_assert_cmpint (labels[0], ==, 0);

  g_free (got);
  g_free (want);
  g_free (labels);
  g_free (pixels);
  explain_result_free (result);
  g_object_unref (layer);
}

static void
test_run_selection_offsets (void)
{
  /* The layer lies at (5, 3) in a 40 x 30 image whose selection is feathered. */
  const int width = 24, height = 16, offset_x = 5, offset_y = 3;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  GeglBuffer *selection = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 40, 30), babl_format ("Y float"));
  float mask[30][40], roi[16][24];
  ExplainSettings settings = {
    "", "enc.relu1", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_PROBABILITIES, SEGCAM_COLORMAP_VIRIDIS,
    60, EXPLAIN_OUTPUT_HEAT_MAP, 1024,
  };
  ExplainSource source = { layer, selection, offset_x, offset_y };
  GError *error = NULL;
  ExplainResult *result;
  uint8_t *labels;
  guint8 *want, *got;
  int best;

  for (int y = 0; y < 30; y++)
    for (int x = 0; x < 40; x++)
      mask[y][x] = x >= 8 && x < 18 && y >= 6 && y < 15 ? (x % 4 + 1) / 4.0f : 0;
  gegl_buffer_set (selection, NULL, 0, babl_format ("Y float"), mask, GEGL_AUTO_ROWSTRIDE);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      roi[y][x] = mask[y + offset_y][x + offset_x];

  result = explain_run (rgb_model, "tiny", &settings, &source, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result->layers->len, ==, 1);

  /* The default class is the one predicted most in the selection: the red square's. */
  g_free (engine_heat (rgb_model, pixels, width, height, -1, NULL, 0, 0, &labels));
  best = explain_default_class (labels, &roi[0][0], width * height, 4);
  g_assert_cmpint (best, ==, 1);
  g_assert_cmpstr (layer_at (result, 0)->name, ==,
                   "digit 1 @ enc.relu1 (selection) — Seg-Grad-CAM");

  /* enc.relu1 is not the default: the engine must explain there too. */
  {
    segcam_session_options options = { width, height,
                                       segcam_model_find_node (rgb_model, "enc.relu1"), TRUE, 0,
                                       NULL, NULL };
    segcam_explain_options explain = { 1, SEGCAM_SCORE_PROBABILITIES, SEGCAM_WEIGHTS_MEAN, TRUE };
    segcam_session *session = segcam_session_new (rgb_model, &options, NULL);
    float map[16 * 24];

    g_assert_true (segcam_session_forward (session, pixels, NULL));
    g_assert_true (segcam_session_explain (session, &explain, &roi[0][0], map, NULL, NULL));
    want = g_new (guint8, width * height * 3);
    segcam_colormap_apply (SEGCAM_COLORMAP_VIRIDIS, map, width * height, want);
    segcam_session_free (session);
  }
  got = read_u8 (layer_at (result, 0)->buffer, "R'G'B' u8", 3);
  g_assert_cmpmem (got, width * height * 3, want, width * height * 3);

  g_free (got);
  g_free (want);
  g_free (labels);
  g_free (pixels);
  explain_result_free (result);
  g_object_unref (selection);
  g_object_unref (layer);
}

static void
test_run_resampled (void)
{
  /* 90 x 60 at a maximum working size of 30: the model sees 30 x 20. */
  const int width = 90, height = 60;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSettings settings = {
    "digit 2", "", EXPLAIN_ROI_CLASS, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, 60,
    EXPLAIN_OUTPUT_HEAT_MAP | EXPLAIN_OUTPUT_SEGMENTATION, 30,
  };
  ExplainSource source = { layer, NULL, 0, 0 };
  GError *error = NULL;
  ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL,
                                       NULL, NULL, &error);
  const GeglRectangle *extent;
  guint8 *seg;

  g_assert_no_error (error);
  g_assert_cmpint (result->working_width, ==, 30);
  g_assert_cmpint (result->working_height, ==, 20);
  g_assert_cmpstr (layer_at (result, 0)->name, ==,
                   "digit 2 @ mid.relu1 (predicted) — Seg-Grad-CAM");
  extent = gegl_buffer_get_extent (layer_at (result, 0)->buffer);
  g_assert_cmpint (extent->width, ==, width);
  g_assert_cmpint (extent->height, ==, height);

  /* Back at full size the segmentation still lines up with the fixture's shapes. */
  seg = read_u8 (layer_at (result, 1)->buffer, "R'G'B' u8", 3);
  g_assert_cmpint (seg[3 * ((height / 2) * width + width / 3)], ==, 255);      /* red */
  g_assert_cmpint (seg[3 * ((height / 2) * width + 7 * width / 10) + 1], ==, 255); /* green */
  g_assert_cmpint (seg[3 * ((height - 1) * width + 2)], ==, 0);                 /* background */
  g_free (seg);
  g_free (pixels);
  explain_result_free (result);
  g_object_unref (layer);
}

static void
test_run_gray (void)
{
  /* A gray model on a gray image: the heat map in the colormap asked, in colour (the adapter
   * converts the image to RGB before adding it). */
  const int width = 16, height = 12;
  float *pixels, *gray = g_new (float, width * height);
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSettings settings = {
    "foreground", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, 60,
    EXPLAIN_OUTPUT_HEAT_MAP, 1024,
  };
  ExplainSource source = { layer, NULL, 0, 0 };
  GError *error = NULL;
  ExplainResult *result = explain_run (gray_model, "gray", &settings, &source, NULL,
                                       NULL, NULL, &error);

  g_assert_no_error (error);
  /* The fixture is in colour: the model sees only its brightness, and the result says so. */
  g_assert_cmpint (result->warnings->len, ==, 1);
  g_assert_true (g_str_has_prefix (result->warnings->pdata[0],
                                   "a colour image into a grayscale model"));
  gegl_buffer_get (layer, NULL, 1.0, babl_format ("Y' float"), gray, GEGL_AUTO_ROWSTRIDE,
                   GEGL_ABYSS_NONE);
  check_first_layer (result, engine_heat (gray_model, gray, width, height, 1, NULL,
                                          SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, NULL),
                     width * height);
  g_free (gray);
  g_free (pixels);
  explain_result_free (result);
  g_object_unref (layer);
}

/* The engine's maximum after ReLU of class's Seg-Grad-CAM map over the pixels predicted as it
 * at node, as the command line computes it. */
static float
engine_raw_max (const float *pixels, int width, int height, int class_index, int node)
{
  segcam_session_options options = { width, height, node, TRUE, 0, NULL, NULL };
  segcam_explain_options explain = { class_index, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE };
  segcam_session *session = segcam_session_new (rgb_model, &options, NULL);
  size_t n = (size_t) width * height;
  float *map = g_new (float, n), *roi = g_new (float, n);
  uint8_t *labels = g_new (uint8_t, n);
  segcam_explain_info info = { 0 };

  g_assert_true (segcam_session_forward (session, pixels, NULL));
  segcam_session_labels (session, labels);
  for (size_t i = 0; i < n; i++)
    roi[i] = 1;
  segcam_roi_intersect_class (roi, labels, width, height, class_index);
  g_assert_true (segcam_session_explain (session, &explain, roi, map, &info, NULL));
  segcam_session_free (session);
  g_free (labels);
  g_free (roi);
  g_free (map);
  return info.raw_max;
}

/* Each method's heat map is the engine's for the same options, and the names say the method;
 * a zero map is named and warned about. */
static void
test_run_methods (void)
{
  static const struct { SegcamMethod method; SegcamWeights weights; int pool;
                        SegcamPoolMode mode; int max_channels; const char *name; } runs[] = {
    { SEGCAM_METHOD_HIRES, SEGCAM_WEIGHTS_MEAN, 1, SEGCAM_POOL_MAX, 0,
      "digit 1 @ mid.relu1 (whole layer) — hires" },
    { SEGCAM_METHOD_XRES, SEGCAM_WEIGHTS_MEAN, 3, SEGCAM_POOL_MEAN, 0,
      "digit 1 @ mid.relu1 (whole layer) — xres 3 mean" },
    { SEGCAM_METHOD_SEG_GRAD_CAM, SEGCAM_WEIGHTS_ABS, 1, SEGCAM_POOL_MAX, 0,
      "digit 1 @ mid.relu1 (whole layer) — Seg-Grad-CAM abs" },
    { SEGCAM_METHOD_EIGEN, SEGCAM_WEIGHTS_MEAN, 1, SEGCAM_POOL_MAX, 0,
      "digit 1 @ mid.relu1 (whole layer) — eigen, class-agnostic" },
    /* The methods that rerun the network get the image and the cap; each channel is a step of
     * the progress bar. */
    { SEGCAM_METHOD_SCORE, SEGCAM_WEIGHTS_MEAN, 1, SEGCAM_POOL_MAX, 3,
      "digit 1 @ mid.relu1 (whole layer) — score, 3 channels" },
    { SEGCAM_METHOD_ABLATION, SEGCAM_WEIGHTS_MEAN, 1, SEGCAM_POOL_MAX, 3,
      "digit 1 @ mid.relu1 (whole layer) — ablation, 3 channels" },
    { SEGCAM_METHOD_ABLATION, SEGCAM_WEIGHTS_MEAN, 1, SEGCAM_POOL_MAX, 0,
      "digit 1 @ mid.relu1 (whole layer) — ablation" },
  };
  int hires_calls = -1;
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSource source = { layer, NULL, 0, 0 };
  int zeros = 0;

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      ExplainSettings settings = {
        "digit 1", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, 50,
        EXPLAIN_OUTPUT_HEAT_MAP, 1024, runs[i].method, runs[i].weights, runs[i].pool,
        runs[i].mode, runs[i].max_channels,
      };
      segcam_explain_options options = {
        1, SEGCAM_SCORE_LOGITS, runs[i].weights, TRUE, runs[i].method, runs[i].pool, runs[i].mode,
        NULL, runs[i].max_channels,
      };
      GError *error = NULL;
      ProgressLog log = { 0, 0, TRUE };
      ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL,
                                           log_progress, &log, &error);

      g_assert_no_error (error);
      g_assert_true (log.monotonic);
      if (runs[i].method == SEGCAM_METHOD_HIRES)
        hires_calls = log.calls;
      else if (runs[i].max_channels > 0)
        g_assert_cmpint (log.calls, ==, hires_calls + runs[i].max_channels);
      g_assert_cmpstr (layer_at (result, 0)->name, ==, runs[i].name);
      check_first_layer (result, engine_heat_with (rgb_model, pixels, width, height, -1,
                                                   &options, NULL, SEGCAM_COLORMAP_JET, NULL),
                         width * height);
      explain_result_free (result);
    }

  /* A map is named zero and warned about exactly when the engine's maximum after ReLU is 0;
   * the fixture has such a class and layer. */
  /* The classes the fixture has pixels of (test_run_whole_layer), at every node. */
  for (int k = 0; k < 3 * segcam_model_n_nodes (rgb_model); k++)
    {
      int class_index = k % 3, node = k / 3;
      ExplainSettings settings = {
        segcam_model_class_name (rgb_model, class_index), segcam_model_node_name (rgb_model, node),
        EXPLAIN_ROI_CLASS, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, 50, EXPLAIN_OUTPUT_HEAT_MAP,
        1024,
      };
      GError *error = NULL;
      ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL, NULL, NULL,
                                           &error);
      float raw_max = engine_raw_max (pixels, width, height, class_index, node);
      gboolean zero = g_str_has_suffix (layer_at (result, 0)->name, " — all zero");

      g_assert_no_error (error);
      g_assert_cmpint (zero, ==, raw_max <= 0);
      g_assert_cmpint (result->warnings->len, ==, zero);
      zeros += zero;
      explain_result_free (result);
    }
  g_assert_cmpint (zeros, >, 0);
  g_free (pixels);
  g_object_unref (layer);
}

/* A sweep: one heat map per block output (the node tree's top-level rows), each the engine's
 * map at that node, in one group; the legend names each map's node. */
static void
test_run_sweep (void)
{
  static const char *const nodes[] = { "enc.relu1", "pool1", "mid.relu1", "up1", "cat1",
                                       "dec.conv1", "colour", "logits" };
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSource source = { layer, NULL, 0, 0 };
  ExplainSettings settings = {
    "digit 1", "no such layer: a sweep ignores it", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS,
    SEGCAM_COLORMAP_GRAYSCALE, 50, EXPLAIN_OUTPUT_HEAT_MAP, 1024, .sweep = EXPLAIN_SWEEP_BLOCKS,
    .legend = TRUE,
  };
  segcam_explain_options options = { 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE };
  GError *error = NULL;
  ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL,
                                       NULL, NULL, &error);
  const char *legend;

  g_assert_no_error (error);
  g_assert_cmpstr (result->group_name, ==, "digit 1 @ 8 block outputs — Seg-Grad-CAM (tiny)");
  g_assert_cmpint (result->layers->len, ==, 1 + G_N_ELEMENTS (nodes));
  legend = layer_at (result, 0)->name;
  g_assert_true (g_str_has_prefix (legend, "Legend: grayscale 0 … max, digit 1 @ enc.relu1 max "));
  g_assert_nonnull (strstr (legend, ", digit 1 @ logits max "));
  g_assert_true (g_str_has_suffix (legend, " — Seg-Grad-CAM"));
  for (guint k = 0; k < G_N_ELEMENTS (nodes); k++)
    {
      ExplainLayer *heat = layer_at (result, 1 + k);
      char *name = g_strdup_printf ("digit 1 @ %s (whole layer) — Seg-Grad-CAM%s", nodes[k],
                                    strstr (heat->name, " — all zero") != NULL ? " — all zero"
                                                                               : "");
      guint8 *want = engine_heat_with (rgb_model, pixels, width, height,
                                       segcam_model_find_node (rgb_model, nodes[k]), &options,
                                       NULL, SEGCAM_COLORMAP_GRAYSCALE, NULL);
      guint8 *got = read_u8 (heat->buffer, "R'G'B' u8", 3);

      g_assert_cmpstr (heat->name, ==, name);
      g_assert_cmpmem (got, width * height * 3, want, width * height * 3);
      g_assert_cmpint (heat->visible, ==, k == 0);
      g_free (got);
      g_free (want);
      g_free (name);
    }
  explain_result_free (result);
  g_free (pixels);
  g_object_unref (layer);
}

/* A sweep over listed layers: one map per node and class, in the list's order, each the
 * engine's at that node. */
static void
test_run_sweep_layers (void)
{
  static const char *const nodes[] = { "mid.relu1", "enc.relu1" };
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSource source = { layer, NULL, 0, 0 };
  ExplainSettings settings = {
    "digit 1", "mid.relu1, enc.relu1", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS,
    SEGCAM_COLORMAP_GRAYSCALE, 50, EXPLAIN_OUTPUT_HEAT_MAP, 1024, .sweep = EXPLAIN_SWEEP_LAYERS,
  };
  segcam_explain_options options = { 1, SEGCAM_SCORE_LOGITS, SEGCAM_WEIGHTS_MEAN, TRUE };
  GError *error = NULL;
  ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL,
                                       NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (result->group_name, ==, "digit 1 @ 2 layers — Seg-Grad-CAM (tiny)");
  g_assert_cmpint (result->layers->len, ==, G_N_ELEMENTS (nodes));
  for (guint k = 0; k < G_N_ELEMENTS (nodes); k++)
    {
      ExplainLayer *heat = layer_at (result, k);
      char *name = g_strdup_printf ("digit 1 @ %s (whole layer) — Seg-Grad-CAM", nodes[k]);
      guint8 *want = engine_heat_with (rgb_model, pixels, width, height,
                                       segcam_model_find_node (rgb_model, nodes[k]), &options,
                                       NULL, SEGCAM_COLORMAP_GRAYSCALE, NULL);
      guint8 *got = read_u8 (heat->buffer, "R'G'B' u8", 3);

      g_assert_true (g_str_has_prefix (heat->name, name));
      g_assert_cmpmem (got, width * height * 3, want, width * height * 3);
      g_free (got);
      g_free (want);
      g_free (name);
    }
  explain_result_free (result);
  g_free (pixels);
  g_object_unref (layer);
}

/* Heat-map colours read back: every level of every colormap, then a mask at a threshold over a
 * layer at offsets partly outside the image. */
static void
test_heat_map_mask (void)
{
  float levels[256], back[256];
  guint8 rgb[3 * 256];
  const int width = 20, height = 10;
  GeglBuffer *heat, *mask;
  float *values = g_new (float, width * height), *got = g_new (float, 30 * 12);
  guint8 *colours = g_new (guint8, 3 * width * height);
  size_t want = 0;

  for (int i = 0; i < 256; i++)
    levels[i] = i / 255.0f;
  for (int colormap = SEGCAM_COLORMAP_JET; colormap <= SEGCAM_COLORMAP_GRAYSCALE; colormap++)
    {
      segcam_colormap_apply (colormap, levels, 256, rgb);
      heat_map_values (colormap, rgb, 256, back);
      for (int i = 0; i < 256; i++)
        {
          guint8 again[3];

          /* The level found has this colour; equal colours (if any) are the same level. */
          segcam_colormap_apply (colormap, back + i, 1, again);
          g_assert_cmpmem (again, 3, rgb + 3 * i, 3);
        }
      g_assert_cmpfloat (back[0], ==, 0);
      g_assert_cmpfloat (back[255], ==, 1);
    }

  for (int i = 0; i < width * height; i++)
    values[i] = (i % width) / (float) (width - 1);
  segcam_colormap_apply (SEGCAM_COLORMAP_TURBO, values, width * height, colours);
  heat = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height), babl_format ("R'G'B' u8"));
  gegl_buffer_set (heat, NULL, 0, babl_format ("R'G'B' u8"), colours, GEGL_AUTO_ROWSTRIDE);
  mask = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 30, 12), babl_format ("Y float"));
  /* The layer at (15, 4): its columns 0..14 and rows 0..7 lie inside the 30 x 12 image. */
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 15; x++)
      want += values[y * width + x] >= 0.5f;
  g_assert_cmpuint (heat_map_mask (heat, 15, 4, SEGCAM_COLORMAP_TURBO, 0.5, mask), ==, want);
  gegl_buffer_get (mask, NULL, 1.0, babl_format ("Y float"), got, GEGL_AUTO_ROWSTRIDE,
                   GEGL_ABYSS_NONE);
  for (int y = 0; y < 12; y++)
    for (int x = 0; x < 30; x++)
      {
        gboolean inside = x >= 15 && y >= 4;
        float expected = inside && values[(y - 4) * width + x - 15] >= 0.5f ? 1 : 0;

        g_assert_cmpfloat (got[y * 30 + x], ==, expected);
      }
  /* The hottest columns lie outside the image. */
  g_assert_cmpuint (heat_map_mask (heat, 15, 4, SEGCAM_COLORMAP_TURBO, 1.0, mask), ==, 0);
  g_object_unref (mask);
  g_object_unref (heat);
  g_free (colours);
  g_free (got);
  g_free (values);
}

static void
check_run_fails (const ExplainSettings *settings, GeglBuffer *selection, const char *message)
{
  float *pixels;
  GeglBuffer *layer = make_layer (20, 10, &pixels);
  ExplainSource source = { layer, selection, 0, 0 };
  GError *error = NULL;

  g_assert_null (explain_run (rgb_model, "tiny", settings, &source, NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  if (strstr (error->message, message) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, message);
  g_clear_error (&error);
  g_free (pixels);
  g_object_unref (layer);
}

/* Transparent cold values: the heat map's alpha is its gray level (grayscale: 255 v), and the
 * overlay weighs the heat map by it; the legend goes on top with the raw maxima in its name. */
static void
test_run_map_alpha_legend (void)
{
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSettings settings = {
    "digit 1", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_GRAYSCALE, 50,
    EXPLAIN_OUTPUT_HEAT_MAP | EXPLAIN_OUTPUT_OVERLAY, 1024, .map_alpha = TRUE, .legend = TRUE,
  };
  ExplainSource source = { layer, NULL, 0, 0 };
  GError *error = NULL;
  ExplainResult *result = explain_run (rgb_model, "tiny", &settings, &source, NULL,
                                       NULL, NULL, &error);
  guint8 *want, *heat, *overlay, *legend;
  char *name;

  g_assert_no_error (error);
  g_assert_cmpint (result->layers->len, ==, 3);
  g_assert_cmpint (layer_at (result, 0)->kind, ==, EXPLAIN_LAYER_LEGEND);
  g_assert_true (layer_at (result, 0)->visible && layer_at (result, 1)->visible);
  g_assert_false (layer_at (result, 2)->visible);
  g_assert_true (g_str_has_prefix (layer_at (result, 0)->name,
                                   "Legend: grayscale 0 … max, digit 1 max "));
  g_assert_true (g_str_has_suffix (layer_at (result, 0)->name, " @ mid.relu1 — Seg-Grad-CAM"));
  g_assert_true (layer_at (result, 1)->has_alpha);

  want = engine_heat (rgb_model, pixels, width, height, 1, NULL, SEGCAM_SCORE_LOGITS,
                      SEGCAM_COLORMAP_GRAYSCALE, NULL);
  heat = read_u8 (layer_at (result, 1)->buffer, "R'G'B'A u8", 4);
  overlay = read_u8 (layer_at (result, 2)->buffer, "R'G'B'A u8", 4);
  for (int i = 0; i < width * height; i++)
    {
      g_assert_cmpint (heat[4 * i], ==, want[3 * i]);
      g_assert_cmpint (heat[4 * i + 3], ==, want[3 * i]);
      for (int c = 0; c < 3; c++)
        {
          double v = want[3 * i] / 255.0;
          double source_value = 255 * pixels[3 * i + c];
          double blend = source_value + 0.5 * v * (want[3 * i + c] - source_value);

          g_assert_cmpfloat (fabs (overlay[4 * i + c] - blend), <=, 0.51 + 0.5);
        }
    }
  /* The bar: opaque, dark at its frame, black to white (grayscale) from left to right inside. */
  legend = read_u8 (layer_at (result, 0)->buffer, "R'G'B'A u8", 4);
  g_assert_cmpint (legend[3], ==, 0);
  g_assert_cmpint (legend[4 * ((height - 3) * width + 2) + 3], ==, 255);
  g_assert_cmpint (legend[4 * ((height - 3) * width + 2)], <,
                   legend[4 * ((height - 3) * width + width / 2 - 1)]);

  name = explain_legend_name (SEGCAM_COLORMAP_JET, (const char *[]) { "a", "b" },
                              (const float[]) { 0.5f, 0.0123f }, 2, "mid.relu1", "hires");
  g_assert_cmpstr (name, ==,
                   "Legend: jet 0 … max, a max 0.5, b max 0.0123 @ mid.relu1 — hires");
  g_free (name);
  g_free (legend);
  g_free (overlay);
  g_free (heat);
  g_free (want);
  g_free (pixels);
  explain_result_free (result);
  g_object_unref (layer);
}

/* Computes the preview's map for settings and checks it against the engine's (forward: whether
 * a forward pass was run for it). */
static void
check_preview_map (ExplainPreview *preview, const ExplainSettings *settings,
                   const float *pixels, int width, int height, gboolean forward,
                   ExplainPreviewStats *stats)
{
  GError *error = NULL;
  float *map = explain_preview_compute (preview, rgb_model, settings, NULL, stats, &error);
  guint8 *want, *got;

  g_assert_no_error (error);
  g_assert_true ((stats->forward_seconds >= 0) == forward);
  want = engine_heat (rgb_model, pixels, width, height, stats->class_index, NULL,
                      settings->score, SEGCAM_COLORMAP_GRAYSCALE, NULL);
  got = explain_preview_render (preview, map, SEGCAM_COLORMAP_GRAYSCALE, 100, FALSE);
  g_assert_cmpmem (got, width * height * 3, want, width * height * 3);
  g_free (got);
  g_free (want);
  g_free (map);
}

/* The preview's map is the engine's at the preview's size; a new class or score keeps the
 * forward pass, a new layer does not; the render is the overlay's blend. */
static void
test_preview (void)
{
  const int width = 30, height = 20;
  float *pixels;
  GeglBuffer *layer = make_layer (width, height, &pixels);
  ExplainSource source = { layer, NULL, 0, 0 };
  ExplainPreview *preview = explain_preview_new (&source, 64);
  ExplainSettings settings = {
    "digit 1", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_GRAYSCALE, 50,
    EXPLAIN_OUTPUT_HEAT_MAP, 64,
  };
  ExplainPreviewStats stats;
  GCancellable *cancel = g_cancellable_new ();
  GError *error = NULL;
  uint8_t *labels;
  guint8 *got;
  float *map;
  int w, h;

  explain_preview_size (preview, &w, &h);
  g_assert_cmpint (w, ==, width);
  g_assert_cmpint (h, ==, height);
  check_preview_map (preview, &settings, pixels, width, height, TRUE, &stats);
  g_assert_cmpint (stats.class_index, ==, 1);
  g_free (engine_heat (rgb_model, pixels, width, height, 1, NULL, SEGCAM_SCORE_LOGITS,
                       SEGCAM_COLORMAP_GRAYSCALE, &labels));

  /* Another class, by default the one predicted most: only a backward pass. */
  settings.classes = "";
  settings.score = SEGCAM_SCORE_PROBABILITIES;
  check_preview_map (preview, &settings, pixels, width, height, FALSE, &stats);
  g_assert_cmpint (stats.class_index, ==, explain_default_class (labels, NULL, width * height,
                                                                 segcam_model_n_classes (
                                                                   rgb_model)));

  /* Another layer: a forward pass again. */
  settings.layer = "enc.relu1";
  map = explain_preview_compute (preview, rgb_model, &settings, cancel, &stats, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (stats.forward_seconds, >=, 0);
  g_assert_cmpint (stats.node, ==, segcam_model_find_node (rgb_model, "enc.relu1"));
  /* No map: the layer itself. */
  got = explain_preview_render (preview, NULL, SEGCAM_COLORMAP_JET, 60, FALSE);
  for (int i = 0; i < width * height * 3; i++)
    g_assert_cmpint (abs (got[i] - (int) lround (255 * pixels[i])), <=, 1);
  g_free (got);
  g_free (map);

  /* Score-CAM on the same layer keeps the forward pass and reports one step per channel
   * through the session, which the dialog's status line polls: the last is 100 %. */
  settings.method = SEGCAM_METHOD_SCORE;
  map = explain_preview_compute (preview, rgb_model, &settings, cancel, &stats, &error);
  g_assert_no_error (error);
  g_assert_nonnull (map);
  g_assert_cmpfloat (stats.forward_seconds, <, 0);
  g_assert_cmpint (explain_preview_percent (preview), ==, 100);
  g_free (map);
  settings.method = SEGCAM_METHOD_SEG_GRAD_CAM;

  /* Errors, and a cancel before the work starts. */
  settings.classes = "nope";
  g_assert_null (explain_preview_compute (preview, rgb_model, &settings, cancel, &stats,
                                          &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_clear_error (&error);
  settings.classes = "";
  g_cancellable_cancel (cancel);
  g_assert_null (explain_preview_compute (preview, rgb_model, &settings, cancel, &stats,
                                          &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  explain_preview_free (preview);
  g_object_unref (cancel);
  g_free (labels);
  g_free (pixels);
  g_object_unref (layer);
}

static void
test_run_errors (void)
{
  ExplainSettings settings = {
    "digit 3", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, 60,
    EXPLAIN_OUTPUT_HEAT_MAP, 1024,
  };
  GeglBuffer *empty = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 20, 10), babl_format ("Y float"));

  settings.classes = "digit 9";
  check_run_fails (&settings, NULL, "unknown class \"digit 9\"");
  settings.classes = "1";
  settings.layer = "mid.relu9";
  check_run_fails (&settings, NULL, "unknown layer \"mid.relu9\"");
  settings.layer = "";
  check_run_fails (&settings, empty, "empty ROI: the selection does not overlap the layer");
  /* No pixel of the fixture is blue: "digit 3" is never predicted. */
  settings.classes = "digit 3";
  settings.roi_mode = EXPLAIN_ROI_CLASS;
  check_run_fails (&settings, NULL, "no pixel of the layer is predicted as \"digit 3\"");
  settings.outputs = 0;
  check_run_fails (&settings, NULL, "no output");
  g_object_unref (empty);
}

static void
test_run_too_large (void)
{
  /* A (sparse) layer far beyond memory fails when the engine plans, before a pixel is read. */
  GeglBuffer *huge = gegl_buffer_new (GEGL_RECTANGLE (0, 0, 1 << 20, 1 << 20),
                                      babl_format ("R'G'B' u8"));
  ExplainSettings settings = {
    "", "", EXPLAIN_ROI_SELECTION, SEGCAM_SCORE_LOGITS, SEGCAM_COLORMAP_JET, 60,
    EXPLAIN_OUTPUT_HEAT_MAP, 1 << 20,
  };
  ExplainSource source = { huge, NULL, 0, 0 };
  GError *error = NULL;

  g_assert_null (explain_run (rgb_model, "tiny", &settings, &source, NULL, NULL, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY);
  g_assert_true (g_str_has_prefix (error->message, "image too large: "));
  g_assert_nonnull (strstr (error->message, "lower the maximum working size"));
  g_clear_error (&error);
  g_object_unref (huge);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  if (argc != 3)
    g_error ("usage: %s TINY-RGB.safetensors TINY-GRAY.safetensors", argv[0]);
  rgb_model_path = argv[1];
  gray_model_path = argv[2];
  gegl_init (NULL, NULL);
  rgb_model = segcam_model_load (rgb_model_path, NULL);
  gray_model = segcam_model_load (gray_model_path, NULL);
  g_assert_nonnull (rgb_model);
  g_assert_nonnull (gray_model);

  g_test_add_func ("/resample/identity", test_kernels_identity);
  g_test_add_func ("/resample/area", test_kernel_area);
  g_test_add_func ("/resample/linear", test_kernel_linear);
  g_test_add_func ("/resample/nearest", test_kernel_nearest);
  g_test_add_func ("/resample/rows", test_resample_rows);
  g_test_add_func ("/settings/working-size", test_working_size);
  g_test_add_func ("/settings/classes", test_parse_classes);
  g_test_add_func ("/settings/layer", test_find_layer);
  g_test_add_func ("/settings/node-tree", test_node_tree);
  g_test_add_func ("/settings/names", test_names);
  g_test_add_func ("/settings/methods", test_methods);
  g_test_add_func ("/settings/advice", test_advice);
  g_test_add_func ("/roi/default-class", test_default_class);
  g_test_add_func ("/roi/modes", test_build_roi);
  g_test_add_func ("/model-files/list", test_model_files);
  g_test_add_func ("/model-files/dir", test_model_dir);
  g_test_add_func ("/run/whole-layer", test_run_whole_layer);
  g_test_add_func ("/run/cache", test_run_cache);
  g_test_add_func ("/run/selection-offsets", test_run_selection_offsets);
  g_test_add_func ("/run/resampled", test_run_resampled);
  g_test_add_func ("/run/gray", test_run_gray);
  g_test_add_func ("/run/methods", test_run_methods);
  g_test_add_func ("/run/sweep", test_run_sweep);
  g_test_add_func ("/run/sweep-layers", test_run_sweep_layers);
  g_test_add_func ("/heat-map/mask", test_heat_map_mask);
  g_test_add_func ("/run/errors", test_run_errors);
  g_test_add_func ("/run/map-alpha-legend", test_run_map_alpha_legend);
  g_test_add_func ("/preview/reuses-forward", test_preview);
  g_test_add_func ("/run/too-large", test_run_too_large);
  status = g_test_run ();

  segcam_model_free (gray_model);
  segcam_model_free (rgb_model);
  gegl_exit ();
  return status;
}
