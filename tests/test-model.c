/* test-model.c — the model loader on a valid graph and on every kind of bad graph: each must be
 * refused with a one-line error that names the problem (docs/model-format.md, 'Validation'). The container itself
 * (safetensors) has its own hostile-file tests in test-safetensors.c. */
#include "model.h"
#include "safetensors.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* A two-class net: conv (3->4, 3x3) + bn + relu, maxpool, upsample, concat with the relu, head. */
static const char *const valid_graph =
  "{\"input\": {\"channels\": 3, \"colorspace\": \"rgb\", \"mean\": [0.5, 0.5, 0.5],"
  "  \"std\": [0.25, 0.25, 0.25], \"size_multiple\": 2},"
  " \"classes\": [{\"name\": \"bg\", \"color\": \"#000000\"}, {\"name\": \"fg\", \"color\": \"#ff0000\"}],"
  " \"output\": \"head\", \"output_activation\": \"softmax\", \"default_layer\": \"relu\","
  " \"nodes\": ["
  "  {\"name\": \"head\", \"op\": \"conv2d\", \"inputs\": [\"cat\"], \"weight\": \"head.w\", \"bias\": \"head.b\"},"
  "  {\"name\": \"input\", \"op\": \"input\"},"
  "  {\"name\": \"conv\", \"op\": \"conv2d\", \"inputs\": [\"input\"], \"kernel\": [3, 3],"
  "   \"padding\": [1, 1, 1, 1], \"weight\": \"conv.w\"},"
  "  {\"name\": \"bn\", \"op\": \"batchnorm\", \"inputs\": [\"conv\"], \"gamma\": \"bn.g\","
  "   \"beta\": \"bn.b\", \"mean\": \"bn.m\", \"var\": \"bn.v\", \"eps\": 1e-5},"
  "  {\"name\": \"relu\", \"op\": \"relu\", \"inputs\": [\"bn\"]},"
  "  {\"name\": \"pool\", \"op\": \"maxpool2d\", \"inputs\": [\"relu\"], \"kernel\": [2, 2]},"
  "  {\"name\": \"up\", \"op\": \"upsample\", \"inputs\": [\"pool\"], \"scale\": [2, 2], \"mode\": \"bilinear\"},"
  "  {\"name\": \"cat\", \"op\": \"concat\", \"inputs\": [\"relu\", \"up\"]}"
  " ]}";

typedef struct {
  const char *name;
  int64_t shape[4];
  int n_dims;
  float first;  /* element 0 when not 0: a NaN or an infinity */
} spec;

static const spec valid_tensors[] = {
  {"conv.w", {4, 3, 3, 3}, 4}, {"bn.g", {4}, 1}, {"bn.b", {4}, 1}, {"bn.m", {4}, 1},
  {"bn.v", {4}, 1}, {"head.w", {2, 8, 1, 1}, 4}, {"head.b", {2}, 1},
};

/* Writes the graph with the valid tensors, optionally one of them replaced, and loads it. */
static segcam_model *
load_graph (const char *graph, const spec *replace, GError **error)
{
  int n = G_N_ELEMENTS (valid_tensors);
  segcam_tensor t[G_N_ELEMENTS (valid_tensors)];
  for (int i = 0; i < n; i++)
    {
      const spec *s = replace && strcmp (replace->name, valid_tensors[i].name) == 0 ? replace : &valid_tensors[i];
      t[i] = (segcam_tensor) {(char *) s->name, s->n_dims, {0}, 1, NULL};
      for (int d = 0; d < s->n_dims; d++)
        t[i].shape[d] = s->shape[d], t[i].n_elements *= s->shape[d];
      t[i].data = g_new (float, t[i].n_elements);
      for (size_t k = 0; k < t[i].n_elements; k++)
        t[i].data[k] = 0.5f + 0.01f * k;
      if (s->first != 0)
        t[i].data[0] = s->first;
    }
  char *path = NULL;
  int fd = g_file_open_tmp ("test-model-XXXXXX.safetensors", &path, NULL);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  const char *keys[] = {"segcam.format", "segcam.graph", NULL};
  const char *values[] = {"1", graph, NULL};
  g_assert_true (segcam_safetensors_write (path, t, n, keys, values, NULL));
  segcam_model *m = segcam_model_load (path, error);
  g_unlink (path);
  g_free (path);
  for (int i = 0; i < n; i++)
    g_free (t[i].data);
  return m;
}

static void
test_valid (void)
{
  GError *error = NULL;
  segcam_model *m = load_graph (valid_graph, NULL, &error);
  g_assert_no_error (error);
  /* Sorted topologically although the file lists the head first. */
  g_assert_cmpint (segcam_model_n_nodes (m), ==, 8);
  g_assert_cmpstr (segcam_model_node_name (m, 0), ==, "input");
  g_assert_cmpstr (segcam_model_node_name (m, segcam_model_output_node (m)), ==, "head");
  g_assert_cmpint (segcam_model_output_node (m), ==, 7);
  g_assert_cmpstr (segcam_model_node_name (m, segcam_model_default_layer (m)), ==, "relu");
  g_assert_cmpint (segcam_model_n_parameters (m), ==, 4 * 3 * 9 + 4 * 4 + 2 * 8 + 2);
  g_assert_cmpint (segcam_model_find_class (m, "fg"), ==, 1);
  g_assert_cmpint (segcam_model_find_class (m, "1"), ==, 1);
  g_assert_cmpint (segcam_model_find_class (m, "2"), ==, -1);
  g_assert_cmpint (segcam_model_find_class (m, "zebra"), ==, -1);
  int shapes[3 * 8];
  g_assert_true (segcam_model_infer_shapes (m, 7, 5, shapes, &error));
  /* 7x5 pads to 8x6: the pooled node is 3 x 4. */
  int pool = segcam_model_find_node (m, "pool");
  g_assert_cmpint (shapes[3 * pool], ==, 4);
  g_assert_cmpint (shapes[3 * pool + 1], ==, 3);
  g_assert_cmpint (shapes[3 * pool + 2], ==, 4);
  segcam_model_free (m);
}

/* Replaces the first occurrence of from in text. */
static char *
edit (const char *text, const char *from, const char *to)
{
  const char *at = strstr (text, from);
  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - text), text, to, at + strlen (from));
}

/* Loads valid_graph with its two classes renamed. */
static segcam_model *
load_classes (const char *first, const char *second)
{
  char *names = g_strdup_printf ("\"name\": \"%s\", \"color\": \"#000000\"}, {\"name\": \"%s\"",
                                 first, second);
  char *graph = edit (valid_graph, "\"name\": \"bg\", \"color\": \"#000000\"}, {\"name\": \"fg\"", names);
  GError *error = NULL;
  segcam_model *m = load_graph (graph, NULL, &error);
  g_assert_no_error (error);
  g_free (names);
  g_free (graph);
  return m;
}

/* Classes by name (exact, then ignoring case when that is unambiguous) before index; the
 * suggestions of "did you mean". */
static void
test_find_class (void)
{
  segcam_model *m = load_classes ("\u00c9cureuil", "1");
  g_assert_cmpint (segcam_model_find_class (m, "\xc3\x89" "cureuil"), ==, 0);
  g_assert_cmpint (segcam_model_find_class (m, "\xc3\xa9" "CUREUIL"), ==, 0); /* Unicode folding */
  g_assert_cmpint (segcam_model_find_class (m, "1"), ==, 1);          /* the name, also an index */
  g_assert_cmpint (segcam_model_find_class (m, "0"), ==, 0);          /* an index */
  g_assert_cmpint (segcam_model_find_class (m, "ecureuil"), ==, -1);  /* e is not \xc3\xa9 */
  g_assert_cmpint (segcam_model_suggest_class (m, "ecureuil"), ==, 0);
  g_assert_cmpint (segcam_model_suggest_class (m, "squirrel"), ==, -1);
  g_assert_cmpint (segcam_model_find_class (m, "\xff"), ==, -1);      /* not UTF-8: no crash */
  g_assert_cmpint (segcam_model_suggest_class (m, "\xff"), ==, 1);     /* one edit from "1" */
  segcam_model_free (m);

  m = load_classes ("Cat", "cat");
  g_assert_cmpint (segcam_model_find_class (m, "Cat"), ==, 0);
  g_assert_cmpint (segcam_model_find_class (m, "cat"), ==, 1);
  g_assert_cmpint (segcam_model_find_class (m, "CAT"), ==, -1);       /* both match: neither */
  g_assert_cmpint (segcam_model_suggest_class (m, "CAT"), ==, 0);
  segcam_model_free (m);

  GError *error = NULL;
  m = load_graph (valid_graph, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (segcam_model_find_class (m, "FG"), ==, 1);
  g_assert_cmpint (segcam_model_suggest_node (m, "Relu"), ==, segcam_model_find_node (m, "relu"));
  g_assert_cmpint (segcam_model_suggest_node (m, "hed"), ==, segcam_model_find_node (m, "head"));
  g_assert_cmpint (segcam_model_suggest_node (m, "bnn"), ==, segcam_model_find_node (m, "bn"));
  g_assert_cmpint (segcam_model_suggest_node (m, "zzzz"), ==, -1);
  segcam_model_free (m);
}

typedef struct {
  const char *from, *to;  /* graph edit */
  const char *expect;     /* part of the message */
} bad_graph;

static const bad_graph bad_graphs[] = {
  {"\"op\": \"relu\"", "\"op\": \"gelu\"", "node 'relu': unknown op 'gelu'"},
  {"\"inputs\": [\"bn\"]", "\"inputs\": [\"nope\"]", "node 'relu': input 'nope' is not a node"},
  {"\"inputs\": [\"conv\"]", "\"inputs\": [\"relu\"]", "cycle through node"},
  {"\"inputs\": [\"bn\"]", "\"inputs\": [\"bn\", \"conv\"]", "node 'relu': relu takes 1 input"},
  {"\"name\": \"pool\"", "\"name\": \"relu\"", "two nodes are named 'relu'"},
  {"\"output\": \"head\"", "\"output\": \"tail\"", "output 'tail' is not a node"},
  {"\"output\": \"head\"", "\"output\": \"input\"", "graph: the output is 'input', the image itself"},
  {"\"default_layer\": \"relu\"", "\"default_layer\": \"x\"", "default_layer 'x' is not a node"},
  {"\"weight\": \"conv.w\"", "\"weight\": \"conv.x\"", "tensor 'conv.x' (weight) is not in the file"},
  {"\"gamma\": \"bn.g\"", "\"gamma\": \"head.b\"", "tensor 'head.b' has shape [2], expected [4]"},
  {"\"kernel\": [3, 3]", "\"kernel\": [5, 5]", "tensor 'conv.w' has shape [4,3,3,3], expected [4,3,5,5]"},
  {"\"kernel\": [2, 2]", "\"kernel\": [2, 2000000]", "attribute 'kernel' must be 2 integers"},
  {"\"kernel\": [2, 2]", "\"kernel\": [2.5, 2]", "attribute 'kernel' must be 2 integers"},
  {"\"kernel\": [2, 2]", "\"kernel\": [2, 2], \"auto_pad\": \"same\"",
   "auto_pad must be \"same_upper\" or \"same_lower\", not \"same\""},
  {"\"kernel\": [2, 2]", "\"kernel\": [2, 2], \"auto_pad\": \"same_lower\", \"ceil_mode\": false",
   "no 'padding' or 'ceil_mode' with it"},
  {"\"padding\": [1, 1, 1, 1]", "\"padding\": [1, 1, -1, 1]", "attribute 'padding' must be 4 integers"},
  {"\"scale\": [2, 2]", "\"scale\": [0, 2]", "upsample needs 'scale'"},
  {"\"mode\": \"bilinear\"", "\"mode\": \"bicubic\"",
   "mode must be \"nearest\", \"bilinear\" or \"bilinear_asymmetric\", not \"bicubic\""},
  {"\"mode\": \"bilinear\"", "\"mode\": \"nearest\", \"align_corners\": true",
   "align_corners applies to mode \"bilinear\" only"},
  {"\"mode\": \"bilinear\"", "\"mode\": \"bilinear_asymmetric\", \"align_corners\": true",
   "align_corners applies to mode \"bilinear\" only"},
  {"\"eps\": 1e-5", "\"eps\": -1", "attribute 'eps' must be a number >= 0"},
  {"\"channels\": 3", "\"channels\": 2", "input channels must be 1 (gray) or 3 (rgb)"},
  {"\"colorspace\": \"rgb\"", "\"colorspace\": \"gray\"", "colorspace 'gray' does not match"},
  {"\"std\": [0.25, 0.25, 0.25]", "\"std\": [0.25, 0, 0.25]", "input std must be positive"},
  {"\"color\": \"#ff0000\"", "\"color\": \"red\"", "class 'fg' color must look like"},
  {"{\"name\": \"bg\", \"color\": \"#000000\"}, ", "", "the output has 2 channels for 1 classes"},
  {"\"output_activation\": \"softmax\"", "\"output_activation\": \"tanh\"", "'output_activation' must be"},
  {"\"size_multiple\": 2", "\"size_multiple\": 0", "attribute 'size_multiple' must be 1 integer"},
  {"{\"input\":", "[{\"input\":", "segcam.graph is not valid JSON"},
  /* As strict as the header (issue 12): json-glib alone takes all three. */
  {"{\"input\":", "{/* c */\"input\":", "segcam.graph has an unexpected character at byte 1"},
  {"\"kernel\": [3, 3]", "\"kernel\": [0x3, 3]", "segcam.graph has an unexpected character at byte"},
  {"\"op\": \"relu\"", "\"op\": \"sigmoid\", \"op\": \"relu\"",
   "segcam.graph has the key 'op' twice in one object"},
};

static void
test_bad_graph (gconstpointer data)
{
  const bad_graph *b = data;
  char *graph = edit (valid_graph, b->from, b->to);
  GError *error = NULL;
  segcam_model *m = load_graph (graph, NULL, &error);
  g_assert_null (m);
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, b->expect));
  g_assert_null (strchr (error->message, '\n'));
  g_error_free (error);
  g_free (graph);
}

/* A weight far too large for its layer's declared shapes is refused by shape, not by memory. */
static void
test_absurd_tensor (void)
{
  const spec huge = {"head.w", {2, 8, 1000, 1}, 4};
  GError *error = NULL;
  g_assert_null (load_graph (valid_graph, &huge, &error));
  g_assert_nonnull (strstr (error->message, "head"));
  g_error_free (error);
}

/* 100,000 '[' overflowed json-glib's stack; the strict reader stops at its depth limit. */
static void
test_deep_graph (void)
{
  char *graph = g_strnfill (100000, '[');
  GError *error = NULL;
  g_assert_null (load_graph (graph, NULL, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
  g_assert_true (g_str_has_suffix (error->message, ": segcam.graph nests deeper than 16 levels"));
  g_error_free (error);
  g_free (graph);
}

/* A weight that is NaN or infinite is refused at load, named. */
static void
test_nonfinite_weight (void)
{
  const spec nan_w = {"conv.w", {4, 3, 3, 3}, 4, NAN}, inf_b = {"head.b", {2}, 1, -INFINITY};
  GError *error = NULL;
  g_assert_null (load_graph (valid_graph, &nan_w, &error));
  g_assert_true (g_str_has_suffix (error->message, ": node 'conv': tensor 'conv.w' holds NaN at "
                                   "element 0: its training diverged or the file is damaged"));
  g_clear_error (&error);
  g_assert_null (load_graph (valid_graph, &inf_b, &error));
  g_assert_nonnull (strstr (error->message, "tensor 'head.b' holds an infinity at element 0"));
  g_clear_error (&error);
}

/* Logits of another size than the padded input (a pool or an upsample before the head, a
 * strided head) overflowed the predictions' buffers: refused when the size is known. */
static void
test_output_size (void)
{
  static const struct { const char *from, *to, *from2, *to2, *message; } cases[] = {
    {"[\"relu\", \"up\"]", "[\"pool\", \"pool\"]", NULL, NULL,
     "output 'head' is 4x3 for a 8x6 (padded) input: segcam explains networks whose logits have "
     "the input's size"},
    {"\"inputs\": [\"pool\"], \"scale\"", "\"inputs\": [\"relu\"], \"scale\"",
     "[\"relu\", \"up\"]", "[\"up\", \"up\"]", "output 'head' is 16x12 for a 8x6 (padded) input"},
    {"\"weight\": \"head.w\"", "\"stride\": [4, 4], \"weight\": \"head.w\"", NULL, NULL,
     "output 'head' is 2x2 for a 8x6 (padded) input"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *graph = edit (valid_graph, cases[i].from, cases[i].to);
      if (cases[i].from2)
        {
          char *second = edit (graph, cases[i].from2, cases[i].to2);
          g_free (graph);
          graph = second;
        }
      GError *error = NULL;
      segcam_model *m = load_graph (graph, NULL, &error);
      g_assert_no_error (error);
      int shapes[3 * 8];
      g_assert_false (segcam_model_infer_shapes (m, 7, 5, shapes, &error));
      g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MODEL);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, cases[i].message));
      g_clear_error (&error);
      segcam_session_options o = {7, 5, -1, TRUE, 1, NULL, NULL};
      g_assert_null (segcam_session_new (m, &o, &error));
      g_assert_true (g_str_has_prefix (error->message, cases[i].message));
      g_clear_error (&error);
      segcam_model_free (m);
      g_free (graph);
    }
}

/* Absurd image sizes fail cleanly when planning, never by allocating. */
static void
test_absurd_size (void)
{
  GError *error = NULL;
  segcam_model *m = load_graph (valid_graph, NULL, &error);
  g_assert_no_error (error);
  int shapes[3 * 8];
  g_assert_false (segcam_model_infer_shapes (m, 0, 5, shapes, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT);
  g_clear_error (&error);
  segcam_session_options o = {1 << 20, 1 << 20, -1, TRUE, 1, NULL, NULL};
  g_assert_null (segcam_session_new (m, &o, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* Every activation within bounds, the whole plan (about 100 GiB) beyond what is available:
   * the planner says how much it has and what to do. */
  o.width = 1 << 19, o.height = 1000;
  g_assert_null (segcam_session_new (m, &o, &error));
  g_assert_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY);
  g_test_message ("%s", error->message);
  g_assert_true (g_regex_match_simple ("^not enough memory for a 524288x1000 image \\([0-9.]+ GiB "
                                       "needed, [0-9.]+ GiB available\\): use a smaller image "
                                       "\\(segcam's --max-size, the plug-in's working size\\)$",
                                       error->message, 0, 0));
  g_clear_error (&error);
  segcam_model_free (m);
}

static void
test_not_a_model (void)
{
  GError *error = NULL;
  g_assert_null (segcam_model_load ("/nonexistent/model.safetensors", &error));
  g_assert_nonnull (strstr (error->message, "cannot read model"));
  g_clear_error (&error);
  const uint8_t empty_st[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
  g_assert_null (segcam_model_load_from_data (empty_st, sizeof empty_st, &error));
  g_assert_nonnull (strstr (error->message, "no 'segcam.format'"));
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model/valid", test_valid);
  g_test_add_func ("/model/find-class", test_find_class);
  for (size_t i = 0; i < G_N_ELEMENTS (bad_graphs); i++)
    {
      char *path = g_strdup_printf ("/model/bad/%zu", i);
      g_test_add_data_func (path, &bad_graphs[i], test_bad_graph);
      g_free (path);
    }
  g_test_add_func ("/model/absurd-tensor", test_absurd_tensor);
  g_test_add_func ("/model/absurd-size", test_absurd_size);
  g_test_add_func ("/model/deep-graph", test_deep_graph);
  g_test_add_func ("/model/nonfinite-weight", test_nonfinite_weight);
  g_test_add_func ("/model/output-size", test_output_size);
  g_test_add_func ("/model/not-a-model", test_not_a_model);
  return g_test_run ();
}
