/* explain-job.c — the GIMP-free part of the plug-in (see explain-job.h). */
#include "explain-job.h"

#include <math.h>
#include <string.h>

#include "resample.h"

/* Rows per gegl_buffer_get/set: enough to amortise the calls, few enough that a large layer is
 * never copied whole at full size. */
#define STRIP_ROWS 64
/* Classes an "unknown class" message lists before it stops. */
#define LISTED_CLASSES 12

void
explain_source_clear (ExplainSource *source)
{
  g_clear_object (&source->selection);
  g_clear_object (&source->pixels);
}

/* ---- settings ----------------------------------------------------------------------------- */

static char *
list_classes (const segcam_model *model)
{
  GString *list = g_string_new (NULL);
  int n = segcam_model_n_classes (model);

  for (int c = 0; c < MIN (n, LISTED_CLASSES); c++)
    g_string_append_printf (list, "%s%s", c > 0 ? ", " : "", segcam_model_class_name (model, c));
  if (n > LISTED_CLASSES)
    g_string_append_printf (list, ", … (%d classes)", n);
  return g_string_free (list, FALSE);
}

/* The indices lookup gives the comma-separated names of list, each once, in the order first
 * named; empty names are skipped. NULL with lookup's error at the first name it does not know. */
typedef int (*name_lookup) (const segcam_model *model, const char *name, GError **error);

static GArray *
parse_name_list (const segcam_model *model, const char *list, name_lookup lookup, GError **error)
{
  GArray *indices = g_array_new (FALSE, FALSE, sizeof (int));
  char **items = g_strsplit (list, ",", -1);

  for (char **item = items; *item != NULL; item++)
    {
      const char *name = g_strstrip (*item);
      int index;
      gboolean seen = FALSE;

      if (name[0] == '\0')
        continue;
      index = lookup (model, name, error);
      if (index < 0)
        {
          g_strfreev (items);
          g_array_unref (indices);
          return NULL;
        }
      for (guint i = 0; i < indices->len; i++)
        seen |= g_array_index (indices, int, i) == index;
      if (! seen)
        g_array_append_val (indices, index);
    }
  g_strfreev (items);
  return indices;
}

static int
find_class (const segcam_model *model, const char *name, GError **error)
{
  int index = segcam_model_find_class (model, name);

  if (index < 0)
    {
      char *known = list_classes (model);

      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                   "unknown class \"%s\": the model's classes are %s", name, known);
      g_free (known);
    }
  return index;
}

GArray *
explain_parse_classes (const segcam_model *model, const char *classes, GError **error)
{
  if (classes == NULL)
    return g_array_new (FALSE, FALSE, sizeof (int));
  return parse_name_list (model, classes, find_class, error);
}

char *
explain_format_classes (const segcam_model *model, const int *classes, int n_classes)
{
  GString *text = g_string_new (NULL);

  for (int i = 0; i < n_classes; i++)
    {
      const char *name = segcam_model_class_name (model, classes[i]);

      if (i > 0)
        g_string_append (text, ", ");
      /* A name with a comma, or with spaces a parser would strip, can only be given by index. */
      if (strchr (name, ',') != NULL || g_ascii_isspace (name[0]) || name[0] == '\0'
          || g_ascii_isspace (name[strlen (name) - 1]))
        g_string_append_printf (text, "%d", classes[i]);
      else
        g_string_append (text, name);
    }
  return g_string_free (text, FALSE);
}

int
explain_find_layer (const segcam_model *model, const char *layer, GError **error)
{
  char *name;
  int node;

  if (layer == NULL || layer[0] == '\0')
    return segcam_model_default_layer (model);

  name = g_strstrip (g_strdup (layer));
  node = segcam_model_find_node (model, name);
  if (node < 0)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "unknown layer \"%s\": the model has no node of that name (its default layer "
                 "is \"%s\")", name,
                 segcam_model_node_name (model, segcam_model_default_layer (model)));
  g_free (name);
  return node;
}

GArray *
explain_parse_layers (const segcam_model *model, const char *layers, GError **error)
{
  int node = layers != NULL ? segcam_model_find_node (model, layers) : -1;
  GArray *nodes;

  if (node >= 0)
    {
      nodes = g_array_new (FALSE, FALSE, sizeof (int));
      g_array_append_val (nodes, node);
      return nodes;
    }
  nodes = parse_name_list (model, layers != NULL ? layers : "", explain_find_layer, error);
  /* No name at all is the default layer, as an empty layer setting is. */
  if (nodes != NULL && nodes->len == 0)
    {
      node = segcam_model_default_layer (model);
      g_array_append_val (nodes, node);
    }
  return nodes;
}

char *
explain_node_label (const segcam_model *model, int node, const int *shapes)
{
  const char *mark = node == segcam_model_default_layer (model) ? " — default" : "";

  if (shapes == NULL)
    return g_strdup_printf ("%s (%s)%s", segcam_model_node_name (model, node),
                            segcam_model_node_op (model, node), mark);
  return g_strdup_printf ("%s (%s) %d × %d × %d%s", segcam_model_node_name (model, node),
                          segcam_model_node_op (model, node), shapes[3 * node],
                          shapes[3 * node + 1], shapes[3 * node + 2], mark);
}

/* ---- the node tree ------------------------------------------------------------------------ */

static ExplainNodeGroup *
node_group_new (const char *label, const char *path, int node, gboolean module)
{
  ExplainNodeGroup *group = g_new0 (ExplainNodeGroup, 1);

  group->label = g_strdup (label);
  group->path = g_strdup (path);
  group->node = node;
  if (module)
    group->children = g_ptr_array_new_with_free_func ((GDestroyNotify) explain_node_tree_free);
  return group;
}

void
explain_node_tree_free (ExplainNodeGroup *tree)
{
  if (tree == NULL)
    return;
  if (tree->children != NULL)
    g_ptr_array_unref (tree->children);
  g_free (tree->label);
  g_free (tree->path);
  g_free (tree);
}

/* The child module of parent labelled label, made when missing (modules keep the order in
 * which their first node comes). */
static ExplainNodeGroup *
node_group_module (ExplainNodeGroup *parent, const char *label, const char *path)
{
  ExplainNodeGroup *child;

  for (guint i = 0; i < parent->children->len; i++)
    {
      child = parent->children->pdata[i];
      if (child->children != NULL && strcmp (child->label, label) == 0)
        return child;
    }
  child = node_group_new (label, path, -1, TRUE);
  g_ptr_array_add (parent->children, child);
  return child;
}

/* "Relu_output_0": the name ONNX gives an op's output says nothing the op column does not. */
static gboolean
is_output_suffix (const char *label)
{
  const char *mark = strstr (label, "_output_");

  return mark != NULL && mark[8] != '\0' && strspn (mark + 8, "0123456789") == strlen (mark + 8);
}

/* Folds single-child modules: one node becomes that node (named by the module, plus the
 * node's own part unless it is only ONNX's "_output_N"), one module merges into "a/b". */
static ExplainNodeGroup *
node_group_compact (ExplainNodeGroup *group, char separator)
{
  ExplainNodeGroup *only;
  char *label;

  if (group->children == NULL)
    return group;
  for (guint i = 0; i < group->children->len; i++)
    group->children->pdata[i] = node_group_compact (group->children->pdata[i], separator);
  if (group->children->len != 1 || group->label[0] == '\0')
    return group;

  only = g_ptr_array_steal_index (group->children, 0);
  label = only->children == NULL && is_output_suffix (only->label)
            ? g_strdup (group->label)
            : g_strdup_printf ("%s%c%s", group->label, separator, only->label);
  g_free (only->label);
  only->label = label;
  explain_node_tree_free (group);
  return only;
}

/* A module around all the others (ONNX's "model") is spliced into the root: its parts are the
 * blocks to show first. */
static void
node_group_splice_single_module (ExplainNodeGroup *root)
{
  guint modules = 0, at = 0;
  ExplainNodeGroup *only;

  for (guint i = 0; i < root->children->len; i++)
    if (((ExplainNodeGroup *) root->children->pdata[i])->children != NULL)
      {
        modules++;
        at = i;
      }
  if (modules != 1)
    return;
  only = g_ptr_array_steal_index (root->children, at);
  for (guint i = 0; i < only->children->len; i++)
    g_ptr_array_insert (root->children, at + i, only->children->pdata[i]);
  g_ptr_array_set_free_func (only->children, NULL);
  explain_node_tree_free (only);
}

ExplainNodeGroup *
explain_node_tree (const segcam_model *model)
{
  ExplainNodeGroup *root = node_group_new ("", "", -1, TRUE);
  gboolean onnx = FALSE;
  char separator;

  for (int node = 1; node < segcam_model_n_nodes (model); node++)
    onnx |= strchr (segcam_model_node_name (model, node), '/') != NULL;
  separator = onnx ? '/' : '.';

  for (int node = 1; node < segcam_model_n_nodes (model); node++)
    {
      const char *name = segcam_model_node_name (model, node);
      char sep[2] = { separator, '\0' };
      char **parts = g_strsplit (name, sep, -1);
      guint n = g_strv_length (parts), last = n;
      GString *path = g_string_new (NULL);
      ExplainNodeGroup *module = root;

      /* The last non-empty part is the node's own; "/a/b" has an empty first part. */
      while (last > 0 && parts[last - 1][0] == '\0')
        last--;
      for (guint i = 0; i + 1 < last; i++)
        {
          if (parts[i][0] == '\0')
            continue;
          g_string_append_printf (path, "%s%s", path->len > 0 ? sep : "", parts[i]);
          module = node_group_module (module, parts[i], path->str);
          /* Topological order: the node seen last in a module is its output. */
          module->node = node;
        }
      g_ptr_array_add (module->children,
                       node_group_new (last > 0 ? parts[last - 1] : name, name, node, FALSE));
      g_string_free (path, TRUE);
      g_strfreev (parts);
    }
  node_group_splice_single_module (root);
  return node_group_compact (root, separator);
}

/* ---- ROI ---------------------------------------------------------------------------------- */

int
explain_default_class (const uint8_t *labels, const float *weights, size_t n, int n_classes)
{
  double *votes = g_new0 (double, n_classes);
  int best = 0;

  for (size_t i = 0; i < n; i++)
    if (labels[i] < n_classes)
      votes[labels[i]] += weights != NULL ? weights[i] : 1.0;
  for (int c = 1; c < n_classes; c++)
    if (votes[c] > votes[best])
      best = c;
  g_free (votes);
  return best;
}

gboolean
explain_build_roi (ExplainRoiMode roi_mode, const float *selection, const uint8_t *labels,
                   int width, int height, int class_index, const char *class_name, float *roi,
                   GError **error)
{
  size_t n = (size_t) width * height;
  gboolean selected = selection != NULL && roi_mode != EXPLAIN_ROI_CLASS;

  if (selected)
    memcpy (roi, selection, n * sizeof *roi);
  else
    for (size_t i = 0; i < n; i++)
      roi[i] = 1;

  if (roi_mode != EXPLAIN_ROI_SELECTION)
    segcam_roi_intersect_class (roi, labels, width, height, class_index);
  if (roi_mode == EXPLAIN_ROI_COMPONENT)
    segcam_roi_keep_component (roi, width, height, TRUE);

  if (segcam_roi_sum (roi, n) > 0)
    return TRUE;

  if (roi_mode == EXPLAIN_ROI_SELECTION)
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "empty ROI: the selection does not overlap the layer");
  else
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                 "empty ROI: no pixel of the %s is predicted as \"%s\"",
                 selected ? "selection" : "layer", class_name);
  return FALSE;
}

const char *
explain_roi_label (ExplainRoiMode roi_mode, gboolean has_selection)
{
  switch (roi_mode)
    {
    case EXPLAIN_ROI_SELECTION:
      return has_selection ? "selection" : "whole layer";
    case EXPLAIN_ROI_SELECTION_CLASS:
      return has_selection ? "predicted in selection" : "predicted";
    case EXPLAIN_ROI_CLASS:
      return "predicted";
    case EXPLAIN_ROI_COMPONENT:
      return has_selection ? "largest region in selection" : "largest region";
    }
  g_return_val_if_reached (NULL);
}

/* ---- methods ------------------------------------------------------------------------------ */

char *
explain_method_names (void)
{
  GString *names = g_string_new (NULL);

  for (int m = 0; segcam_method_name (m) != NULL; m++)
    g_string_append_printf (names, "%s%s", m > 0 ? ", " : "", segcam_method_name (m));
  return g_string_free (names, FALSE);
}

int
explain_parse_method (const char *name, GError **error)
{
  int method = segcam_method_from_name (name != NULL && name[0] != '\0' ? name
                                        : segcam_method_name (SEGCAM_METHOD_SEG_GRAD_CAM));

  if (method < 0)
    {
      char *names = explain_method_names ();

      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
                   "unknown method \"%s\": the methods are %s", name, names);
      g_free (names);
    }
  return method;
}

gboolean
explain_check_method (const ExplainSettings *settings, GError **error)
{
  const char *method = segcam_method_name (settings->method);
  char *problem = NULL;

  if (method == NULL)
    problem = g_strdup_printf ("unknown CAM method %d", (int) settings->method);
  else if ((unsigned) settings->weights > SEGCAM_WEIGHTS_RELU)
    problem = g_strdup_printf ("weights must be 0 (mean), 1 (abs) or 2 (relu), not %d",
                               (int) settings->weights);
  else if (settings->weights != SEGCAM_WEIGHTS_MEAN
           && settings->method != SEGCAM_METHOD_SEG_GRAD_CAM)
    problem = g_strdup_printf ("weights other than mean apply to seg-grad-cam only, not to %s",
                               method);
  else if (settings->method == SEGCAM_METHOD_XRES && settings->pool < 1)
    problem = g_strdup_printf ("the xres pool must be at least 1, not %d", settings->pool);
  else if ((unsigned) settings->pool_mode > SEGCAM_POOL_MEAN)
    problem = g_strdup_printf ("pool-mode must be 0 (max) or 1 (mean), not %d",
                               (int) settings->pool_mode);
  else if (settings->max_channels < 0)
    problem = g_strdup_printf ("max-channels must be 0 (every channel) or more, not %d",
                               settings->max_channels);
  if (problem == NULL)
    return TRUE;
  g_set_error_literal (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, problem);
  g_free (problem);
  return FALSE;
}

char *
explain_method_label (const ExplainSettings *settings)
{
  static const char *const weights[] = { "", " abs", " relu" };

  switch (settings->method)
    {
    case SEGCAM_METHOD_SEG_GRAD_CAM:
      return g_strdup_printf ("Seg-Grad-CAM%s", weights[CLAMP (settings->weights, 0, 2)]);
    case SEGCAM_METHOD_XRES:
      return g_strdup_printf ("xres %d %s", settings->pool,
                              settings->pool_mode == SEGCAM_POOL_MEAN ? "mean" : "max");
    case SEGCAM_METHOD_SCORE:
    case SEGCAM_METHOD_ABLATION:
      /* The cap changes the map, so the name must tell runs with different caps apart. */
      if (settings->max_channels > 0)
        return g_strdup_printf ("%s, %d channels", segcam_method_name (settings->method),
                                settings->max_channels);
      return g_strdup (segcam_method_name (settings->method));
    default:
      return g_strdup_printf ("%s%s", segcam_method_name (settings->method),
                              segcam_method_is_class_agnostic (settings->method)
                                ? ", class-agnostic" : "");
    }
}

char *
explain_zero_map_warning (const ExplainSettings *settings, const char *class_name,
                          const char *node_name, float raw_max)
{
  static const segcam_remedy_names options = {"abs weights", "another layer", "another method"};
  segcam_explain_options engine = explain_engine_options (settings, 0, NULL);
  char *advice = segcam_advise_zero_map (&engine, raw_max, &options), *label, *warning;

  if (advice == NULL)
    return NULL;
  label = explain_method_label (settings);
  warning = g_strdup_printf ("the %s map of \"%s\" at %s %s", label, class_name, node_name, advice);
  g_free (label);
  g_free (advice);
  return warning;
}

segcam_explain_options
explain_engine_options (const ExplainSettings *settings, int class_index, const float *pixels)
{
  return (segcam_explain_options) {
    .class_index = class_index, .score = settings->score, .weights = settings->weights,
    .normalize = TRUE, .method = settings->method, .pool = settings->pool,
    .pool_mode = settings->pool_mode, .pixels = pixels, .max_channels = settings->max_channels,
  };
}

/* ---- names -------------------------------------------------------------------------------- */

/* The class first and the method last: the Layers dock cuts long names at the end, and the
 * class is what tells one result from the next. */
char *
explain_layer_name (ExplainLayerKind kind, const char *class_name, const char *node_name,
                    const char *roi_label, const char *method_label, gboolean zero)
{
  return g_strdup_printf ("%s @ %s (%s) — %s%s%s", class_name, node_name, roi_label,
                          method_label, kind == EXPLAIN_LAYER_OVERLAY ? " overlay" : "",
                          zero ? " — all zero" : "");
}

char *
explain_group_name (const char *class_names, const char *node_name, const char *method_label,
                    const char *model_label)
{
  if (class_names == NULL)
    return g_strdup_printf ("Segmentation — Seg-Grad-CAM (%s)", model_label);
  return g_strdup_printf ("%s @ %s — %s (%s)", class_names, node_name, method_label,
                          model_label);
}

char *
explain_legend_name (SegcamColormap colormap, const char *const *map_names,
                     const float *raw_max, int n_maps, const char *node_name,
                     const char *method_label)
{
  GString *name = g_string_new (NULL);

  g_string_printf (name, "Legend: %s 0 … max", segcam_colormap_name (colormap));
  for (int i = 0; i < n_maps; i++)
    g_string_append_printf (name, ", %s max %.3g", map_names[i], raw_max[i]);
  if (node_name != NULL)
    g_string_append_printf (name, " @ %s", node_name);
  g_string_append_printf (name, " — %s", method_label);
  return g_string_free (name, FALSE);
}

char *
explain_segmentation_name (const char *model_label)
{
  return g_strdup_printf ("Segmentation: %s", model_label);
}

/* ---- progress ----------------------------------------------------------------------------- */

/* Maps the engine's 0..1 progress of one phase onto [start, start + span] of the whole run. */
typedef struct {
  ExplainProgress fn;
  void *data;
  double start, span;
  char *phase;
} Progress;

static void
progress_report (Progress *progress, double fraction, const char *what)
{
  char *text;

  if (progress->fn == NULL)
    return;
  text = what != NULL && what[0] != '\0' ? g_strdup_printf ("%s: %s", progress->phase, what)
                                         : g_strdup (progress->phase);
  progress->fn (progress->start + progress->span * CLAMP (fraction, 0.0, 1.0), text,
                progress->data);
  g_free (text);
}

/* Starts a phase; phase is a printf format. */
static void G_GNUC_PRINTF (4, 5)
progress_phase (Progress *progress, double start, double span, const char *phase, ...)
{
  va_list args;

  g_free (progress->phase);
  va_start (args, phase);
  progress->phase = g_strdup_vprintf (phase, args);
  va_end (args);
  progress->start = start;
  progress->span = span;
  progress_report (progress, 0, NULL);
}

static void
engine_progress (double fraction, const char *what, void *user_data)
{
  progress_report (user_data, fraction, what);
}

/* ---- pixels in ---------------------------------------------------------------------------- */

/* Reads the kx->src_size x ky->src_size area of buffer at (x, y), converted by babl to format
 * (`channels` floats a pixel), resampled to kx->dst_size x ky->dst_size into dst. Pixels outside
 * the buffer read as 0: the part of a layer that sticks out of the image is not selected. */
static void
read_resampled (GeglBuffer *buffer, int x, int y, const Babl *format, int channels,
                const ResampleKernel *kx, const ResampleKernel *ky, float *dst)
{
  int rows = MAX (ky->taps, STRIP_ROWS);
  float *strip = g_new (float, (size_t) kx->src_size * channels * rows);

  for (int dst_y = 0; dst_y < ky->dst_size;)
    {
      int n = 1, y0, y1, next0, next1;

      resample_kernel_span (ky, dst_y, n, &y0, &y1);
      while (dst_y + n < ky->dst_size)
        {
          resample_kernel_span (ky, dst_y, n + 1, &next0, &next1);
          if (next1 - next0 > rows)
            break;
          n++;
          y1 = next1;
        }
      gegl_buffer_get (buffer, GEGL_RECTANGLE (x, y + y0, kx->src_size, y1 - y0), 1.0, format,
                       strip, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      resample_rows (kx, ky, channels, strip, y0, dst_y, n,
                     dst + (size_t) dst_y * kx->dst_size * channels);
      dst_y += n;
    }
  g_free (strip);
}

/* ---- pixels out --------------------------------------------------------------------------- */

static ExplainLayer *
layer_new (ExplainLayerKind kind, char *name, int width, int height, const char *format,
           double opacity)
{
  ExplainLayer *layer = g_new0 (ExplainLayer, 1);

  layer->kind = kind;
  layer->name = name;
  layer->buffer = gegl_buffer_new (GEGL_RECTANGLE (0, 0, width, height), babl_format (format));
  layer->has_alpha = babl_format_has_alpha (babl_format (format));
  layer->opacity = opacity;
  return layer;
}

static void
layer_free (gpointer data)
{
  ExplainLayer *layer = data;

  g_free (layer->name);
  g_clear_object (&layer->buffer);
  g_free (layer);
}

/* Enlarges a map to the layer's size and colours it into heat (colormap colours, opaque or,
 * with map_alpha, as opaque as the map is high) and/or overlay (those colours composited at
 * `alpha` — times the map with map_alpha — over the source's R'G'B', keeping its alpha). */
static void
render_map (const float *map, int map_width, int map_height, SegcamColormap colormap,
            gboolean map_alpha, GeglBuffer *source, double alpha, GeglBuffer *heat,
            GeglBuffer *overlay)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (source);
  int width = extent->width, height = extent->height;
  ResampleKernel *kx = resample_kernel_new_linear (map_width, width);
  ResampleKernel *ky = resample_kernel_new_linear (map_height, height);
  size_t strip = (size_t) width * STRIP_ROWS;
  float *values = g_new (float, strip);
  guint8 *rgb = g_new (guint8, strip * 3);
  guint8 *heat_rgba = heat != NULL && map_alpha ? g_new (guint8, strip * 4) : NULL;
  float *rgba = overlay != NULL ? g_new (float, strip * 4) : NULL;

  for (int y = 0; y < height; y += STRIP_ROWS)
    {
      GeglRectangle rows = { 0, y, width, MIN (STRIP_ROWS, height - y) };
      size_t count = (size_t) width * rows.height;

      resample_rows (kx, ky, 1, map, 0, y, rows.height, values);
      segcam_colormap_apply (colormap, values, count, rgb);
      if (heat_rgba != NULL)
        {
          for (size_t i = 0; i < count; i++)
            {
              memcpy (heat_rgba + 4 * i, rgb + 3 * i, 3);
              heat_rgba[4 * i + 3] = (guint8) lroundf (255 * CLAMP (values[i], 0.0f, 1.0f));
            }
          gegl_buffer_set (heat, &rows, 0, babl_format ("R'G'B'A u8"), heat_rgba,
                           GEGL_AUTO_ROWSTRIDE);
        }
      else if (heat != NULL)
        gegl_buffer_set (heat, &rows, 0, babl_format ("R'G'B' u8"), rgb, GEGL_AUTO_ROWSTRIDE);
      if (overlay != NULL)
        {
          gegl_buffer_get (source, &rows, 1.0, babl_format ("R'G'B'A float"), rgba,
                           GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
          for (size_t i = 0; i < count; i++)
            {
              float weight = (float) alpha * (map_alpha ? CLAMP (values[i], 0.0f, 1.0f) : 1.0f);

              for (int c = 0; c < 3; c++)
                rgba[4 * i + c] += weight * (rgb[3 * i + c] / 255.0f - rgba[4 * i + c]);
            }
          gegl_buffer_set (overlay, &rows, 0, babl_format ("R'G'B'A float"), rgba,
                           GEGL_AUTO_ROWSTRIDE);
        }
    }
  g_free (rgba);
  g_free (heat_rgba);
  g_free (rgb);
  g_free (values);
  resample_kernel_free (ky);
  resample_kernel_free (kx);
}

/* The legend's pixels in dest (transparent, R'G'B'A u8): the colormap from 0 (left) to 1 in a
 * framed bar along the bottom left, half the layer wide, about a twentieth of it high. */
static void
render_legend (SegcamColormap colormap, GeglBuffer *dest)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (dest);
  int margin = MAX (1, MIN (extent->width, extent->height) / 40);
  int bar_width = MAX (3, extent->width / 2), bar_height = CLAMP (extent->height / 20, 3, 32);
  GeglRectangle bar = { margin, extent->height - margin - bar_height,
                        MIN (bar_width, extent->width - margin), bar_height };
  float *values = g_new (float, bar.width);
  guint8 *rgb = g_new (guint8, (size_t) bar.width * 3);
  guint8 *rgba = g_new0 (guint8, (size_t) bar.width * bar.height * 4);

  if (bar.y < 0 || bar.width < 3)
    goto out;                     /* a layer too small for a bar keeps only the name */
  for (int x = 0; x < bar.width; x++)
    values[x] = bar.width > 1 ? (float) x / (bar.width - 1) : 0;
  segcam_colormap_apply (colormap, values, bar.width, rgb);
  for (int y = 0; y < bar.height; y++)
    for (int x = 0; x < bar.width; x++)
      {
        guint8 *out = rgba + 4 * ((size_t) y * bar.width + x);
        /* A dark frame keeps the bar apart from whatever lies under it. */
        gboolean frame = x == 0 || y == 0 || x == bar.width - 1 || y == bar.height - 1;

        if (! frame)
          memcpy (out, rgb + 3 * x, 3);
        out[3] = 255;
      }
  gegl_buffer_set (dest, &bar, 0, babl_format ("R'G'B'A u8"), rgba, GEGL_AUTO_ROWSTRIDE);
out:
  g_free (rgba);
  g_free (rgb);
  g_free (values);
}

/* Enlarges the labels to dest's size (nearest neighbour) in the model's class colours. */
static void
render_segmentation (const segcam_model *model, const uint8_t *labels, int label_width,
                     int label_height, GeglBuffer *dest)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (dest);
  int width = extent->width, height = extent->height;
  ResampleKernel *kx = resample_kernel_new_nearest (label_width, width);
  ResampleKernel *ky = resample_kernel_new_nearest (label_height, height);
  guint8 colours[256][3] = { { 0 } };
  guint8 *rgb = g_new (guint8, (size_t) width * STRIP_ROWS * 3);

  for (int c = 0; c < MIN (segcam_model_n_classes (model), 256); c++)
    segcam_model_class_color (model, c, colours[c]);

  for (int y = 0; y < height; y += STRIP_ROWS)
    {
      GeglRectangle rows = { 0, y, width, MIN (STRIP_ROWS, height - y) };

      for (int r = 0; r < rows.height; r++)
        {
          const uint8_t *in = labels + (size_t) ky->first[y + r] * label_width;
          guint8 *out = rgb + (size_t) r * width * 3;

          for (int x = 0; x < width; x++)
            memcpy (out + 3 * x, colours[in[kx->first[x]]], 3);
        }
      gegl_buffer_set (dest, &rows, 0, babl_format ("R'G'B' u8"), rgb, GEGL_AUTO_ROWSTRIDE);
    }
  g_free (rgb);
  resample_kernel_free (ky);
  resample_kernel_free (kx);
}

/* ---- the kept forward pass --------------------------------------------------------------- */

/* One session with its forward pass, as the preview and a persistent process keep it between
 * explanations (explain-job.h, ExplainCache). The session is planned for model at node and
 * width x height; labels is non-NULL only after a forward pass on input, so that a kept forward
 * is recognised by its input's bits, not by where they came from. */
struct ExplainCache {
  const segcam_model *model;   /* NULL: nothing kept */
  int node, width, height;
  gboolean explain;
  segcam_session *session;
  float *input;                /* width x height x the model's input channels */
  uint8_t *labels;
  /* Where the session's progress goes during the computation in progress (NULL: nowhere): the
   * session outlives the run that planned it. */
  segcam_progress_fn progress;
  void *progress_data;
};

ExplainCache *
explain_cache_new (void)
{
  return g_new0 (ExplainCache, 1);
}

void
explain_cache_clear (ExplainCache *cache)
{
  g_clear_pointer (&cache->session, segcam_session_free);
  g_clear_pointer (&cache->labels, g_free);
  g_clear_pointer (&cache->input, g_free);
  cache->model = NULL;
}

void
explain_cache_free (ExplainCache *cache)
{
  if (cache == NULL)
    return;
  explain_cache_clear (cache);
  g_free (cache);
}

static void
cache_progress (double fraction, const char *what, void *data)
{
  ExplainCache *cache = data;

  if (cache->progress != NULL)
    cache->progress (fraction, what, cache->progress_data);
}

/* The session for model at node (explain: with what backward needs) and width x height: the
 * kept one, its forward pass with it, when it was planned so; else a new one without a forward
 * pass (the input stays, for a sweep's next node). */
static gboolean
cache_open (ExplainCache *cache, const segcam_model *model, int node, int width, int height,
            gboolean explain, GError **error)
{
  segcam_session_options options = {
    .width = width, .height = height, .layer = node, .explain = explain, .n_threads = 0,
    .progress = cache_progress, .progress_data = cache,
  };

  if (cache->session != NULL && cache->model == model && cache->node == node
      && cache->width == width && cache->height == height && cache->explain == explain)
    return TRUE;
  g_clear_pointer (&cache->session, segcam_session_free);
  g_clear_pointer (&cache->labels, g_free);
  cache->model = NULL;
  cache->session = segcam_session_new (model, &options, error);
  if (cache->session == NULL)
    return FALSE;
  cache->model = model;
  cache->node = node;
  cache->width = width;
  cache->height = height;
  cache->explain = explain;
  return TRUE;
}

/* The forward pass on input (taken; it may be the kept input itself) and its labels, unless the
 * session ran on the same bits already. */
static gboolean
cache_forward (ExplainCache *cache, float *input, GError **error)
{
  size_t n = (size_t) cache->width * cache->height;

  if (input != cache->input)
    {
      /* Labels are only kept while the session is the one that ran on cache->input, whose
       * size is then input's. */
      if (cache->labels != NULL
          && memcmp (input, cache->input,
                     n * segcam_model_input_channels (cache->model) * sizeof *input) == 0)
        {
          g_free (input);
          return TRUE;
        }
      g_free (cache->input);
      cache->input = input;
      g_clear_pointer (&cache->labels, g_free);
    }
  else if (cache->labels != NULL)
    return TRUE;
  if (! segcam_session_forward (cache->session, input, error))
    return FALSE;
  cache->labels = g_new (uint8_t, n);
  segcam_session_labels (cache->session, cache->labels);
  return TRUE;
}

/* ---- the run ------------------------------------------------------------------------------ */

/* What one run holds, at the working size unless said otherwise. */
typedef struct {
  const segcam_model *model;
  const ExplainSettings *settings;
  const ExplainSource *source;
  int width, height;              /* the layer's size */
  int work_width, work_height;
  size_t n;                       /* work_width * work_height */
  gboolean explain;               /* heat maps or overlays wanted, not only the segmentation */
  GArray *classes;
  GArray *nodes;                  /* the target nodes: the layer, or a sweep's block outputs */
  ResampleKernel *kx, *ky;        /* layer -> working size */
  /* The session, the model's input it ran on (kept for a sweep's further forward passes and
   * for the methods that rerun the network) and its labels: the caller's cache, or the job's
   * own (forward_owned) freed with it. */
  ExplainCache *forward;
  gboolean forward_owned;
  float *selection;               /* the selection's weights; NULL: none, or one the ROI ignores */
  float **maps;                   /* one per node and class: [node * n_classes + class] */
  float *raw_max;                 /* each map's maximum before normalising */
  char *method_label;
  GPtrArray *warnings;            /* char *, for the result */
  Progress progress;
} Job;

static gboolean
too_large (const Job *job, GError **error)
{
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
               "image too large: %d × %d pixels do not fit in memory (lower the maximum working "
               "size, now %d)", job->work_width, job->work_height, job->settings->max_size);
  return FALSE;
}

/* Checks the settings against the model before anything costly: a typo in a class name should
 * not cost a forward pass. */
static gboolean
job_prepare (Job *job, GError **error)
{
  if (job->settings->outputs == 0)
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT, "no output chosen: nothing to create");
      return FALSE;
    }
  if (job->explain)
    {
      job->classes = explain_parse_classes (job->model, job->settings->classes, error);
      if (job->classes == NULL)
        return FALSE;
      if (! explain_check_method (job->settings, error))
        return FALSE;
      if (job->settings->sweep == EXPLAIN_SWEEP_LAYERS)
        {
          job->nodes = explain_parse_layers (job->model, job->settings->layer, error);
          if (job->nodes == NULL)
            return FALSE;
        }
      else if (job->settings->sweep == EXPLAIN_SWEEP_BLOCKS)
        {
          job->nodes = g_array_new (FALSE, FALSE, sizeof (int));
          ExplainNodeGroup *tree = explain_node_tree (job->model);

          for (guint i = 0; i < tree->children->len; i++)
            g_array_append_val (job->nodes,
                                ((ExplainNodeGroup *) tree->children->pdata[i])->node);
          explain_node_tree_free (tree);
        }
      else
        {
          int node = explain_find_layer (job->model, job->settings->layer, error);

          if (node < 0)
            return FALSE;
          job->nodes = g_array_new (FALSE, FALSE, sizeof (int));
          g_array_append_val (job->nodes, node);
        }
      job->method_label = explain_method_label (job->settings);
    }
  segcam_working_size (job->width, job->height, job->settings->max_size, &job->work_width,
                        &job->work_height);
  job->n = (size_t) job->work_width * job->work_height;
  job->kx = resample_kernel_new_area (job->width, job->work_width);
  job->ky = resample_kernel_new_area (job->height, job->work_height);
  return TRUE;
}

/* Plans the engine's memory for the target node (the first one: before any pixel is read, so
 * that a layer too large fails at once), or takes the kept session planned so. */
static gboolean
job_open_session (Job *job, int node, GError **error)
{
  GError *local = NULL;

  if (cache_open (job->forward, job->model, node, job->work_width, job->work_height,
                  job->explain, &local))
    return TRUE;
  if (g_error_matches (local, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY))
    g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
                 "image too large: %s (lower the maximum working size, now %d)", local->message,
                 job->settings->max_size);
  else
    g_propagate_error (error, g_steal_pointer (&local));
  g_clear_error (&local);
  return FALSE;
}

/* The selection's weights over the layer, resampled by kx, ky into selection. */
static void
read_selection (const ExplainSource *source, const ResampleKernel *kx, const ResampleKernel *ky,
                float *selection)
{
  size_t n = (size_t) kx->dst_size * ky->dst_size;

  read_resampled (source->selection, source->offset_x, source->offset_y, babl_format ("Y float"),
                  1, kx, ky, selection);
  /* Area weights sum to 1 only up to rounding, and the engine wants weights in [0, 1]. */
  for (size_t i = 0; i < n; i++)
    selection[i] = CLAMP (selection[i], 0.0f, 1.0f);
}

/* The selection the ROI of roi_mode uses: selection itself, or NULL when there is none or the
 * mode ignores an empty one (the class ROI: it would only have picked the default class).
 * FALSE when the selection misses the layer and the ROI needs it. */
static gboolean
usable_selection (const float *selection, size_t n, ExplainRoiMode roi_mode,
                  const float **usable, GError **error)
{
  *usable = selection;
  if (selection == NULL || segcam_roi_sum (selection, n) > 0)
    return TRUE;
  *usable = NULL;
  if (roi_mode == EXPLAIN_ROI_CLASS)
    return TRUE;
  g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_INPUT,
               "empty ROI: the selection does not overlap the layer");
  return FALSE;
}

static gboolean
job_read_selection (Job *job, GError **error)
{
  const float *usable;

  if (job->source->selection == NULL || ! job->explain)
    return TRUE;
  job->selection = g_try_new (float, job->n);
  if (job->selection == NULL)
    return too_large (job, error);
  read_selection (job->source, job->kx, job->ky, job->selection);
  if (! usable_selection (job->selection, job->n, job->settings->roi_mode, &usable, error))
    return FALSE;
  if (usable == NULL)
    g_clear_pointer (&job->selection, g_free);
  return TRUE;
}

/* Reads the layer at the working size in R'G'B' — whatever the model takes, so that the
 * engine can say whether the image's colour fits the model — and segments it, unless the kept
 * forward pass ran on the same input. */
static gboolean
job_segment (Job *job, double end, GError **error)
{
  int channels = segcam_model_input_channels (job->model);
  float *pixels = g_try_new (float, job->n * 3);
  char *advice;

  if (pixels == NULL)
    return too_large (job, error);
  read_resampled (job->source->pixels, 0, 0, babl_format ("R'G'B' float"), 3, job->kx, job->ky,
                  pixels);
  advice = segcam_advise_image (job->model, pixels, job->n);
  if (advice != NULL)
    g_ptr_array_add (job->warnings, advice);
  /* The network sees the working size, not the layer's. */
  advice = segcam_advise_size (job->model, job->work_width, job->work_height);
  if (advice != NULL)
    g_ptr_array_add (job->warnings, advice);
  if (channels == 1)
    {
      float *gray = g_try_new (float, job->n);

      if (gray == NULL)
        {
          g_free (pixels);
          return too_large (job, error);
        }
      babl_process (babl_fish (babl_format ("R'G'B' float"), babl_format ("Y' float")), pixels,
                    gray, job->n);
      g_free (pixels);
      pixels = gray;
    }
  progress_phase (&job->progress, 0.05, end - 0.05, "Segmenting %d × %d pixels", job->work_width,
                  job->work_height);
  return cache_forward (job->forward, pixels, error);
}

/* node's maps, one per class, into maps and raw_max, from the session's forward pass. */
static gboolean
job_explain_node (Job *job, int node, float **maps, float *raw_max, float *roi, double start,
                  double end, GError **error)
{
  guint n = job->classes->len;
  gboolean ok = TRUE;

  for (guint i = 0; ok && i < n; i++)
    {
      segcam_explain_info info;
      int class_index = g_array_index (job->classes, int, i);
      const char *class_name = segcam_model_class_name (job->model, class_index);
      const char *node_name = segcam_model_node_name (job->model, node);
      segcam_explain_options options = explain_engine_options (job->settings, class_index,
                                                                 job->forward->input);
      double span = (end - start) / n;

      progress_phase (&job->progress, start + i * span, span, "Explaining %s at %s (%u of %u)",
                      class_name, node_name, i + 1, n);
      maps[i] = g_try_new (float, job->n);
      if (maps[i] == NULL)
        ok = too_large (job, error);
      else
        ok = explain_build_roi (job->settings->roi_mode, job->selection, job->forward->labels,
                                job->work_width, job->work_height, class_index, class_name, roi,
                                error)
             && segcam_session_explain (job->forward->session, &options, roi, maps[i], &info,
                                        error);
      if (ok)
        {
          char *warning = explain_zero_map_warning (job->settings, class_name, node_name,
                                                    info.raw_max);

          raw_max[i] = info.raw_max;
          if (warning != NULL)
            g_ptr_array_add (job->warnings, warning);
        }
    }
  return ok;
}

/* One map per node and class (the default class first picked from the labels); the nodes after
 * the first each need a session and a forward pass of their own. */
static gboolean
job_explain (Job *job, double start, double end, GError **error)
{
  float *roi = g_try_new (float, job->n);
  guint n_classes, n_nodes = job->nodes->len;
  double span = (end - start) / n_nodes;
  gboolean ok = TRUE;

  if (roi == NULL)
    return too_large (job, error);
  if (job->classes->len == 0)
    {
      int best = explain_default_class (job->forward->labels, job->selection, job->n,
                                        segcam_model_n_classes (job->model));

      g_array_append_val (job->classes, best);
    }
  n_classes = job->classes->len;
  job->maps = g_new0 (float *, n_nodes * n_classes);
  job->raw_max = g_new0 (float, n_nodes * n_classes);
  for (guint k = 0; ok && k < n_nodes; k++)
    {
      int node = g_array_index (job->nodes, int, k);
      double node_start = start + k * span;

      if (k > 0)
        {
          progress_phase (&job->progress, node_start, span / 2, "Forward pass for %s",
                          segcam_model_node_name (job->model, node));
          ok = job_open_session (job, node, error)
               && cache_forward (job->forward, job->forward->input, error);
        }
      ok = ok && job_explain_node (job, node, job->maps + k * n_classes,
                                   job->raw_max + k * n_classes, roi,
                                   node_start + (k > 0 ? span / 2 : 0), node_start + span,
                                   error);
    }
  g_free (roi);
  return ok;
}

/* The group's name: the classes explained, by name, and the layer (none when only segmenting). */
static char *
job_group_name (const Job *job, const char *model_label)
{
  GString *names;
  char *name, *nodes;

  if (! job->explain)
    return explain_group_name (NULL, NULL, NULL, model_label);
  names = g_string_new (NULL);
  for (guint i = 0; i < job->classes->len; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            segcam_model_class_name (job->model,
                                                     g_array_index (job->classes, int, i)));
  nodes = job->settings->sweep == EXPLAIN_SWEEP_BLOCKS
            ? g_strdup_printf ("%u block outputs", job->nodes->len)
          : job->settings->sweep == EXPLAIN_SWEEP_LAYERS
            ? g_strdup_printf ("%u layer%s", job->nodes->len, job->nodes->len == 1 ? "" : "s")
            : g_strdup (segcam_model_node_name (job->model, g_array_index (job->nodes, int, 0)));
  name = explain_group_name (names->str, nodes, job->method_label, model_label);
  g_free (nodes);
  g_string_free (names, TRUE);
  return name;
}

/* The name of map i of the job (node k = i / n_classes): its class, and in a sweep its node. */
static char *
job_map_name (const Job *job, guint i)
{
  guint n_classes = job->classes->len;
  const char *class_name = segcam_model_class_name (job->model,
                                                    g_array_index (job->classes, int,
                                                                   i % n_classes));

  if (job->settings->sweep == EXPLAIN_SWEEP_NONE)
    return g_strdup (class_name);
  return g_strdup_printf ("%s @ %s", class_name,
                          segcam_model_node_name (job->model,
                                                  g_array_index (job->nodes, int,
                                                                 i / n_classes)));
}

/* The legend layer: the colormap bar, named with what its top end means in each map. */
static ExplainLayer *
job_legend (const Job *job)
{
  guint n = job->classes->len * job->nodes->len;
  char **names = g_new0 (char *, n + 1);
  ExplainLayer *legend;

  for (guint i = 0; i < n; i++)
    names[i] = job_map_name (job, i);
  legend = layer_new (EXPLAIN_LAYER_LEGEND,
                      explain_legend_name (job->settings->colormap, (const char *const *) names,
                                           job->raw_max, n,
                                           job->settings->sweep != EXPLAIN_SWEEP_NONE
                                             ? NULL
                                             : segcam_model_node_name (
                                                 job->model, g_array_index (job->nodes, int, 0)),
                                           job->method_label),
                      job->width, job->height, "R'G'B'A u8", 100.0);
  render_legend (job->settings->colormap, legend->buffer);
  g_strfreev (names);
  return legend;
}

/* The layers, coloured at the layer's size; nothing here can fail. */
static ExplainResult *
job_render (Job *job, const char *model_label)
{
  const ExplainSettings *settings = job->settings;
  const char *roi_label = explain_roi_label (settings->roi_mode, job->source->selection != NULL);
  ExplainResult *result = g_new0 (ExplainResult, 1);
  guint n_maps = job->explain ? job->classes->len * job->nodes->len : 0;

  progress_phase (&job->progress, 0.9, 0.1, "Colouring the maps");
  result->group_name = job_group_name (job, model_label);
  result->layers = g_ptr_array_new_with_free_func (layer_free);
  result->working_width = job->work_width;
  result->working_height = job->work_height;
  result->warnings = g_steal_pointer (&job->warnings);
  if (n_maps > 0 && settings->legend)
    g_ptr_array_add (result->layers, job_legend (job));
  for (guint i = 0; i < n_maps; i++)
    {
      guint n_classes = job->classes->len;
      const char *class_name = segcam_model_class_name (job->model,
                                                        g_array_index (job->classes, int,
                                                                       i % n_classes));
      const char *node_name = segcam_model_node_name (job->model,
                                                      g_array_index (job->nodes, int,
                                                                     i / n_classes));
      ExplainLayer *heat = NULL, *overlay = NULL;

      if (settings->outputs & EXPLAIN_OUTPUT_HEAT_MAP)
        {
          heat = layer_new (EXPLAIN_LAYER_HEAT_MAP,
                            explain_layer_name (EXPLAIN_LAYER_HEAT_MAP, class_name, node_name,
                                                roi_label, job->method_label,
                                                job->raw_max[i] <= 0),
                            job->width, job->height,
                            settings->map_alpha ? "R'G'B'A u8" : "R'G'B' u8", settings->opacity);
          g_ptr_array_add (result->layers, heat);
        }
      if (settings->outputs & EXPLAIN_OUTPUT_OVERLAY)
        {
          overlay = layer_new (EXPLAIN_LAYER_OVERLAY,
                               explain_layer_name (EXPLAIN_LAYER_OVERLAY, class_name, node_name,
                                                   roi_label, job->method_label,
                                                   job->raw_max[i] <= 0),
                               job->width, job->height, "R'G'B'A float", 100.0);
          g_ptr_array_add (result->layers, overlay);
        }
      render_map (job->maps[i], job->work_width, job->work_height, settings->colormap,
                  settings->map_alpha, job->source->pixels, settings->opacity / 100.0,
                  heat != NULL ? heat->buffer : NULL, overlay != NULL ? overlay->buffer : NULL);
      progress_report (&job->progress, (i + 1.0) / (n_maps + 1.0), NULL);
    }
  if (settings->outputs & EXPLAIN_OUTPUT_SEGMENTATION)
    {
      ExplainLayer *segmentation = layer_new (EXPLAIN_LAYER_SEGMENTATION,
                                              explain_segmentation_name (model_label),
                                              job->width, job->height, "R'G'B' u8",
                                              settings->opacity);

      render_segmentation (job->model, job->forward->labels, job->work_width, job->work_height,
                           segmentation->buffer);
      g_ptr_array_add (result->layers, segmentation);
    }
  /* Opaque layers would only hide each other: show the top one and let the user toggle; the
   * legend, transparent but for its bar, stays visible above it. */
  for (guint i = 0; i < result->layers->len; i++)
    {
      ExplainLayer *layer = result->layers->pdata[i];

      layer->visible = TRUE;
      if (layer->kind != EXPLAIN_LAYER_LEGEND)
        break;
    }
  progress_report (&job->progress, 1, NULL);
  return result;
}

static void
job_clear (Job *job)
{
  if (job->maps != NULL)
    for (guint i = 0; i < job->classes->len * job->nodes->len; i++)
      g_free (job->maps[i]);
  g_free (job->maps);
  g_free (job->raw_max);
  g_free (job->method_label);
  if (job->warnings != NULL)
    g_ptr_array_unref (job->warnings);
  g_free (job->selection);
  /* A kept session outlives the job: its progress must not reach the job any more. */
  job->forward->progress = NULL;
  if (job->forward_owned)
    explain_cache_free (job->forward);
  resample_kernel_free (job->ky);
  resample_kernel_free (job->kx);
  if (job->classes != NULL)
    g_array_unref (job->classes);
  if (job->nodes != NULL)
    g_array_unref (job->nodes);
  g_free (job->progress.phase);
}

void
explain_result_free (ExplainResult *result)
{
  if (result == NULL)
    return;
  g_free (result->group_name);
  g_ptr_array_unref (result->layers);
  g_ptr_array_unref (result->warnings);
  g_free (result);
}

ExplainResult *
explain_run (const segcam_model *model, const char *model_label, const ExplainSettings *settings,
             const ExplainSource *source, ExplainCache *cache, ExplainProgress progress_fn,
             void *progress_data, GError **error)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (source->pixels);
  Job job = {
    .model = model, .settings = settings, .source = source,
    .width = extent->width, .height = extent->height,
    .explain = (settings->outputs & (EXPLAIN_OUTPUT_HEAT_MAP | EXPLAIN_OUTPUT_OVERLAY)) != 0,
    .progress = { progress_fn, progress_data, 0, 0, NULL },
    .warnings = g_ptr_array_new_with_free_func (g_free),
    .forward = cache != NULL ? cache : explain_cache_new (), .forward_owned = cache == NULL,
  };
  /* Where segmenting ends and explaining begins on the progress bar. */
  double segmented = job.explain ? 0.35 : 0.9;
  ExplainResult *result = NULL;
  gboolean ok;

  g_return_val_if_fail ((settings->outputs & ~EXPLAIN_OUTPUTS_ALL) == 0, NULL);

  job.forward->progress = engine_progress;
  job.forward->progress_data = &job.progress;
  progress_phase (&job.progress, 0, 0.05, "Reading the layer");
  ok = job_prepare (&job, error)
       && job_open_session (&job, job.explain ? g_array_index (job.nodes, int, 0) : -1, error)
       && job_read_selection (&job, error) && job_segment (&job, segmented, error)
       && (! job.explain || job_explain (&job, segmented, 0.9, error));
  /* The session's memory is no longer needed to colour the maps (the labels are), unless it is
   * kept. */
  if (job.forward_owned)
    g_clear_pointer (&job.forward->session, segcam_session_free);
  if (ok)
    result = job_render (&job, model_label);
  job_clear (&job);
  return result;
}

/* ---- the dialog's live preview ------------------------------------------------------------ */

struct ExplainPreview {
  int width, height;
  size_t n;
  float *rgba;                 /* the layer at the preview's size, R'G'B'A float */
  GeglBuffer *pixels;          /* the same, for render_map */
  float *selection;            /* NULL: nothing selected */
  GMutex lock;                 /* held while computing */
  /* The forward pass on these pixels, kept while the model and the node stay. */
  ExplainCache forward;
  gint percent;                /* of the computation in progress, atomic: the dialog polls it */
};

static void preview_progress (double fraction, const char *what, void *data);

ExplainPreview *
explain_preview_new (const ExplainSource *source, int max_size)
{
  const GeglRectangle *extent = gegl_buffer_get_extent (source->pixels);
  ExplainPreview *preview = g_new0 (ExplainPreview, 1);
  ResampleKernel *kx, *ky;

  segcam_working_size (extent->width, extent->height, max_size, &preview->width,
                        &preview->height);
  preview->n = (size_t) preview->width * preview->height;
  kx = resample_kernel_new_area (extent->width, preview->width);
  ky = resample_kernel_new_area (extent->height, preview->height);
  preview->rgba = g_new (float, preview->n * 4);
  read_resampled (source->pixels, 0, 0, babl_format ("R'G'B'A float"), 4, kx, ky,
                  preview->rgba);
  preview->pixels = gegl_buffer_new (GEGL_RECTANGLE (0, 0, preview->width, preview->height),
                                     babl_format ("R'G'B'A float"));
  gegl_buffer_set (preview->pixels, NULL, 0, babl_format ("R'G'B'A float"), preview->rgba,
                   GEGL_AUTO_ROWSTRIDE);
  if (source->selection != NULL)
    {
      preview->selection = g_new (float, preview->n);
      read_selection (source, kx, ky, preview->selection);
    }
  resample_kernel_free (ky);
  resample_kernel_free (kx);
  g_mutex_init (&preview->lock);
  preview->forward.progress = preview_progress;
  preview->forward.progress_data = preview;
  return preview;
}

void
explain_preview_forget (ExplainPreview *preview)
{
  g_mutex_lock (&preview->lock);
  explain_cache_clear (&preview->forward);
  g_mutex_unlock (&preview->lock);
}

void
explain_preview_free (ExplainPreview *preview)
{
  if (preview == NULL)
    return;
  explain_preview_forget (preview);
  g_mutex_clear (&preview->lock);
  g_clear_object (&preview->pixels);
  g_free (preview->selection);
  g_free (preview->rgba);
  g_free (preview);
}

void
explain_preview_size (const ExplainPreview *preview, int *width, int *height)
{
  *width = preview->width;
  *height = preview->height;
}

/* The engine's progress (the forward pass node by node; SCORE and ABLATION channel by
 * channel), for explain_preview_percent. */
static void
preview_progress (double fraction, const char *what, void *data)
{
  ExplainPreview *preview = data;

  g_atomic_int_set (&preview->percent, (gint) (100 * CLAMP (fraction, 0, 1)));
}

int
explain_preview_percent (ExplainPreview *preview)
{
  return g_atomic_int_get (&preview->percent);
}

/* The engine asks between SCORE's and ABLATION's passes. */
static gboolean
preview_cancelled (void *cancel)
{
  return g_cancellable_is_cancelled (cancel);
}

/* The forward pass at node on the preview's pixels: the kept one when model and node stayed (the
 * pixels never change), else a new session's, its time (with the planning) in *seconds. */
static gboolean
preview_forward (ExplainPreview *preview, const segcam_model *model, int node, double *seconds,
                 GError **error)
{
  int channels = segcam_model_input_channels (model);
  gint64 start = g_get_monotonic_time ();
  float *input;
  gboolean ok;

  if (! cache_open (&preview->forward, model, node, preview->width, preview->height, TRUE,
                    error))
    return FALSE;
  if (preview->forward.labels != NULL)
    return TRUE;
  input = g_new (float, preview->n * channels);
  babl_process (babl_fish (babl_format ("R'G'B'A float"),
                           babl_format (channels == 1 ? "Y' float" : "R'G'B' float")),
                preview->rgba, input, preview->n);
  ok = cache_forward (&preview->forward, input, error);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  return ok;
}

/* The steps of explain_preview_compute, with the lock held. */
static float *
preview_compute (ExplainPreview *preview, const segcam_model *model,
                 const ExplainSettings *settings, GCancellable *cancel,
                 ExplainPreviewStats *stats, GError **error)
{
  GArray *classes = NULL;
  const float *selection;
  float *roi = NULL, *map = NULL;
  segcam_explain_options options;
  int node;
  gint64 start;

  stats->forward_seconds = -1;
  g_atomic_int_set (&preview->percent, 0);
  if (g_cancellable_set_error_if_cancelled (cancel, error)
      || (classes = explain_parse_classes (model, settings->classes, error)) == NULL
      || (node = explain_find_layer (model, settings->layer, error)) < 0
      || ! explain_check_method (settings, error)
      || ! usable_selection (preview->selection, preview->n, settings->roi_mode, &selection,
                             error))
    goto out;
  stats->node = node;
  if (! preview_forward (preview, model, node, &stats->forward_seconds, error))
    goto out;
  if (g_cancellable_set_error_if_cancelled (cancel, error))
    goto out;

  stats->class_index = classes->len > 0
                         ? g_array_index (classes, int, 0)
                         : explain_default_class (preview->forward.labels, selection, preview->n,
                                                  segcam_model_n_classes (model));
  options = explain_engine_options (settings, stats->class_index, preview->forward.input);
  options.cancelled = cancel != NULL ? preview_cancelled : NULL;
  options.cancel_data = cancel;
  g_atomic_int_set (&preview->percent, 0);
  start = g_get_monotonic_time ();
  roi = g_new (float, preview->n);
  map = g_new (float, preview->n);
  if (! explain_build_roi (settings->roi_mode, selection, preview->forward.labels, preview->width,
                           preview->height, stats->class_index,
                           segcam_model_class_name (model, stats->class_index), roi, error)
      || ! segcam_session_explain (preview->forward.session, &options, roi, map, NULL, error))
    {
      g_clear_pointer (&map, g_free);
      /* One error for a cancelled computation, wherever it stopped. */
      if (error != NULL && g_error_matches (*error, SEGCAM_ERROR, SEGCAM_ERROR_CANCELLED))
        {
          g_clear_error (error);
          g_cancellable_set_error_if_cancelled (cancel, error);
        }
    }
  stats->backward_seconds = (g_get_monotonic_time () - start) / 1e6;

out:
  g_free (roi);
  if (classes != NULL)
    g_array_unref (classes);
  return map;
}

float *
explain_preview_compute (ExplainPreview *preview, const segcam_model *model,
                         const ExplainSettings *settings, GCancellable *cancel,
                         ExplainPreviewStats *stats, GError **error)
{
  float *map;

  g_mutex_lock (&preview->lock);
  map = preview_compute (preview, model, settings, cancel, stats, error);
  g_mutex_unlock (&preview->lock);
  return map;
}

guint8 *
explain_preview_render (ExplainPreview *preview, const float *map, SegcamColormap colormap,
                        double opacity, gboolean map_alpha)
{
  guint8 *rgb = g_new (guint8, preview->n * 3);
  GeglBuffer *overlay;

  if (map == NULL)
    {
      gegl_buffer_get (preview->pixels, NULL, 1.0, babl_format ("R'G'B' u8"), rgb,
                       GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
      return rgb;
    }
  overlay = gegl_buffer_new (GEGL_RECTANGLE (0, 0, preview->width, preview->height),
                             babl_format ("R'G'B'A float"));
  render_map (map, preview->width, preview->height, colormap, map_alpha, preview->pixels,
              opacity / 100.0, NULL, overlay);
  gegl_buffer_get (overlay, NULL, 1.0, babl_format ("R'G'B' u8"), rgb, GEGL_AUTO_ROWSTRIDE,
                   GEGL_ABYSS_NONE);
  g_object_unref (overlay);
  return rgb;
}
