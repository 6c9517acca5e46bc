/* plan.c — the gradient set and the memory plan of a session.
 *
 * Memory is planned once per (model, image size, target): every buffer gets an interval on a
 * timeline (forward step i at time i, the backward of node i at time 2n-1-i) and an offset in one
 * arena such that buffers alive at the same time never overlap (greedy placement, largest first,
 * as ggml-alloc and TFLite's arena planner do). Nothing is allocated while the network runs.
 * The plan, with the buffers around it, must fit in what the process may still take: the
 * kernel's MemAvailable and the room under its cgroup's limit. */
#include "session.h"

#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void
segcam_plan_grad_set (const segcam_model *m, int target, guint8 *needs_grad)
{
  /* Descendants of the target, in topological order... */
  memset (needs_grad, 0, m->n_nodes);
  needs_grad[target] = 1;
  for (int i = target + 1; i < m->n_nodes; i++)
    for (int k = 0; k < m->nodes[i].n_inputs; k++)
      if (needs_grad[m->nodes[i].inputs[k]])
        needs_grad[i] = 1;
  /* ...that are also ancestors of the output: every node the loader kept is one. */
}

/* ---- arena placement --------------------------------------------------------------------- */

typedef struct {
  size_t floats;
  int start, end;         /* alive during [start, end] */
  size_t offset;
  float **slot;           /* where the final pointer goes, or */
  guint32 **bits;         /* for a ReLU's bits */
} buffer;

static int
by_size_desc (const void *a, const void *b)
{
  const buffer *x = a, *y = b;
  return x->floats < y->floats ? 1 : x->floats > y->floats ? -1 : 0;
}

static int
by_offset (const void *a, const void *b)
{
  const buffer *x = *(const buffer *const *) a, *y = *(const buffer *const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Greedy best placement: each buffer (largest first) goes at the lowest offset that does not
 * collide with an already placed buffer alive at an overlapping time. Returns the arena size. */
static size_t
place (buffer *bufs, int n)
{
  qsort (bufs, n, sizeof *bufs, by_size_desc);
  buffer **live = g_new (buffer *, n);
  size_t total = 0;
  for (int i = 0; i < n; i++)
    {
      int k = 0;
      for (int j = 0; j < i; j++)
        if (bufs[j].start <= bufs[i].end && bufs[i].start <= bufs[j].end)
          live[k++] = &bufs[j];
      qsort (live, k, sizeof *live, by_offset);
      size_t offset = 0;
      for (int j = 0; j < k; j++)
        {
          if (live[j]->offset >= offset + bufs[i].floats)
            break;
          offset = MAX (offset, live[j]->offset + live[j]->floats);
        }
      bufs[i].offset = offset;
      total = MAX (total, offset + bufs[i].floats);
    }
  g_free (live);
  return total;
}

/* Round up to 16 floats so every buffer starts on a 64-byte line. */
static size_t
aligned (size_t floats)
{
  return (floats + 15) & ~(size_t) 15;
}

/* ---- memory the process may still take ---------------------------------------------------- */

/* The integer a sysfs or procfs file starts with; FALSE for none ("max": no limit). */
static gboolean
read_integer (const char *path, double *out)
{
  char *text = NULL, *end;
  gboolean ok = g_file_get_contents (path, &text, NULL, NULL);
  guint64 v = ok ? g_ascii_strtoull (text, &end, 10) : 0;
  ok = ok && end != text;
  g_free (text);
  if (ok)
    *out = (double) v;
  return ok;
}

/* MemAvailable of /proc/meminfo (what the kernel can hand out without swapping), in bytes. */
static double
meminfo_available (void)
{
  char *text = NULL;
  double bytes = INFINITY;
  if (g_file_get_contents ("/proc/meminfo", &text, NULL, NULL))
    {
      const char *at = strstr (text, "MemAvailable:");
      if (at)
        bytes = (double) g_ascii_strtoull (at + strlen ("MemAvailable:"), NULL, 10) * 1024;
    }
  g_free (text);
  return bytes;
}

/* Room under the limit of the cgroup directory dir, or INFINITY; FALSE when dir has no such files. */
static gboolean
cgroup_dir_room (const char *dir, gboolean v2, double *room)
{
  char *limit_path = g_build_filename (dir, v2 ? "memory.max" : "memory.limit_in_bytes", NULL);
  char *usage_path = g_build_filename (dir, v2 ? "memory.current" : "memory.usage_in_bytes", NULL);
  gboolean there = g_file_test (usage_path, G_FILE_TEST_EXISTS);
  double limit, usage;
  *room = there && read_integer (limit_path, &limit) && read_integer (usage_path, &usage)
            ? MAX (limit - usage, 0) : INFINITY;
  g_free (limit_path);
  g_free (usage_path);
  return there;
}

/* Room left under the memory limit of the process's cgroup: limit - usage, v2 (memory.max) or
 * v1 (memory.limit_in_bytes). A container may show its own cgroup as the root of the mount, so
 * the root is read when the process's path is not there. */
static double
cgroup_room (void)
{
  char *text = NULL;
  double room = INFINITY;
  if (!g_file_get_contents ("/proc/self/cgroup", &text, NULL, NULL))
    return room;
  char **lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      char **f = g_strsplit (*l, ":", 3), **controllers = NULL;
      gboolean v2 = FALSE, v1 = FALSE;
      if (g_strv_length (f) == 3)
        {
          controllers = g_strsplit (f[1], ",", -1);
          v2 = strcmp (f[0], "0") == 0 && !*f[1];
          v1 = g_strv_contains ((const char *const *) controllers, "memory");
        }
      if (v1 || v2)
        {
          const char *mount = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
          char *dir = g_build_filename (mount, f[2], NULL);
          double r;
          if (cgroup_dir_room (dir, v2, &r) || cgroup_dir_room (mount, v2, &r))
            room = MIN (room, r);
          g_free (dir);
        }
      g_strfreev (controllers);
      g_strfreev (f);
    }
  g_strfreev (lines);
  g_free (text);
  return room;
}

/* What each engine thread maps besides the plan once it runs: OpenBLAS's work buffer on its
 * first product (BUFFER_SIZE, 128 MiB and a page in Debian's x86-64 builds), a stack and a
 * malloc arena. OpenBLAS retries that buffer's mmap forever when it fails, so these are kept
 * out of the room under an address-space limit rather than left to fail; so is one more for
 * OpenBLAS's own server thread, which maps its buffer when it starts, maybe after VmSize is read
 * (babl crashes when its own mappings lose that race). */
#define THREAD_MAPPINGS ((128.0 + 8 + 64) * (1 << 20))

double
segcam_address_space_room (int threads)
{
  struct rlimit limit;
  if (getrlimit (RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return INFINITY;
  /* VmSize counts what the limit counts: every mapping, touched or not. */
  char *text = NULL;
  double mapped = 0;
  if (g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    {
      const char *at = strstr (text, "VmSize:");
      if (at)
        mapped = (double) g_ascii_strtoull (at + strlen ("VmSize:"), NULL, 10) * 1024;
    }
  g_free (text);
  return (double) limit.rlim_cur - mapped - (MAX (threads, 1) + 1) * THREAD_MAPPINGS;
}

/* What a plan may use, and the end of the message that says which limit sets it. Linux overcommits, so a plan larger than the
 * memory would "allocate" and then be killed, by the kernel or the cgroup's OOM killer, when
 * its pages are touched; one beyond the address-space limit fails to map. */
static double
memory_available (int threads, const char **limit)
{
  double physical = (double) sysconf (_SC_PHYS_PAGES) * sysconf (_SC_PAGESIZE);
  double memory = MIN (physical, MIN (meminfo_available (), cgroup_room ()));
  double address = segcam_address_space_room (threads);
  *limit = address < memory
             ? " under the address-space limit, ulimit -v): raise the limit, use fewer threads or "
               "a smaller image"
             : "): use a smaller image";
  return MAX (MIN (memory, address), 0);
}

/* What training's convs need besides their own scratch: the one work buffer they all share
 * (segcam_op_run.conv_work) and, where Winograd pays, its per-thread scratch forward and
 * backward. */
static void
train_convs (const segcam_session *s, size_t *scratch, size_t *work)
{
  *scratch = *work = 0;
  if (s->mode != SEGCAM_RUN_TRAIN)
    return;
  for (int i = 0; i < s->model->n_nodes; i++)
    {
      const segcam_node *n = &s->model->nodes[i];
      const segcam_conv_params *p = &n->p.conv;
      if (n->op != SEGCAM_OP_CONV2D && n->op != SEGCAM_OP_CONV_TRANSPOSE2D)
        continue;
      const segcam_act *in = &s->acts[n->inputs[0]];
      gboolean winograd = !s->exact && segcam_winograd_pays (p, in);
      *work = MAX (*work, segcam_conv_work_floats (p, in, winograd));
      if (winograd)
        *scratch = MAX (*scratch, MAX (segcam_winograd_scratch (p->cin, p->cout),
                                       segcam_winograd_scratch (p->cout, p->cin)));
    }
}

gboolean
segcam_plan_memory (segcam_session *s, GError **error)
{
  const segcam_model *m = s->model;
  int n = m->n_nodes, end = 2 * n;
  buffer *bufs = g_new0 (buffer, 3 * n);
  int nb = 0;

  /* Activations: alive from their node to their last reader. A fast-path step runs at the time
   * of its last node and reads its parts then; absorbed nodes have no buffer. */
  int *last = g_new (int, n);
  for (int i = 0; i < n; i++)
    last[i] = i;
  for (int i = 0; i < n; i++)
    {
      const int *in;
      int n_in = segcam_node_absorbed (s, i) ? 0 : segcam_node_reads (s, i, &in);
      for (int k = 0; k < n_in; k++)
        last[in[k]] = i;
    }
  last[m->output] = end;
  gboolean train = s->mode == SEGCAM_RUN_TRAIN;
  if (s->mode != SEGCAM_RUN_FORWARD)
    {
      /* What backward reads (each op's backward_reads) stays until the end, so that one forward
       * serves many explanations. A fast-path step's ReLU keeps only its bits: that took the
       * benchmark U-Net's 512x512 explain from 277 to 184 MiB, 2048x1024 from 1.82 to 1.10 GiB. */
      last[s->target] = end;
      for (int i = s->target + 1; i < n; i++)
        {
          const segcam_node *node = &m->nodes[i];
          if (!s->needs_grad[i] || segcam_node_absorbed (s, i))
            continue;
          unsigned reads = segcam_op_get (node->op)->backward_reads;
          const segcam_conv_step *st = segcam_step_at (s, i);
          if (st && st->relu)
            bufs[nb++] = (buffer) {.floats = aligned (segcam_relu_bits_words (&s->acts[i])),
                                   .start = i, .end = end, .bits = &s->relu_bits[i]};
          else if (reads & SEGCAM_READS_OUTPUT)
            last[i] = end;
          for (int k = 0; k < node->n_inputs; k++)
            if ((reads & SEGCAM_READS_INPUTS)
                || (k == 0 && ((reads & SEGCAM_READS_INPUT)
                               || (train && (reads & SEGCAM_READS_INPUT_TRAIN)))))
              last[node->inputs[k]] = end;
        }
    }
  for (int i = 0; i < n; i++)
    if (!segcam_node_absorbed (s, i))
      bufs[nb++] = (buffer) {aligned (segcam_act_size (&s->acts[i])), i, last[i], 0,
                             &s->acts[i].data, NULL};

  /* Gradients: from the backward step of their first writer to their own backward step. */
  if (s->mode != SEGCAM_RUN_FORWARD)
    for (int i = s->target; i < n; i++)
      {
        if (!s->needs_grad[i] || segcam_node_absorbed (s, i))
          continue;
        int first_writer = i == m->output ? i : -1;
        for (int j = i + 1; j < n; j++)
          {
            const int *in;
            int n_in = segcam_node_absorbed (s, j) || !s->needs_grad[j] ? 0 : segcam_node_reads (s, j, &in);
            for (int k = 0; k < n_in; k++)
              if (in[k] == i)
                first_writer = j;
          }
        int start = end - 1 - first_writer, stop = i == s->target ? end : end - 1 - i;
        bufs[nb++] = (buffer) {aligned (segcam_act_size (&s->acts[i])), start, stop, 0,
                               &s->grads[i].data, NULL};
      }
  g_free (last);

  size_t total = place (bufs, nb);
  size_t scratch = 0;
  for (int i = 0; i < n; i++)
    {
      const segcam_op_def *def = segcam_op_get (m->nodes[i].op);
      if (def->scratch)
        scratch = MAX (scratch, aligned (def->scratch (&m->nodes[i])));
    }
  size_t train_scratch, work;
  train_convs (s, &train_scratch, &work);
  scratch = MAX (scratch, aligned (MAX (segcam_fuse_scratch (s), train_scratch)));
  int threads = segcam_pool_threads (s->pool);
  /* Besides the arena and the scratch: the session's resized map, and what every caller holds
   * beside it for each image (the pixels, an ROI and a heat map in floats; labels and the heat
   * map's colours in bytes), so that the whole run fits, not the plan alone. */
  double pixels = (double) s->width * s->height * s->batch;
  double around = (double) s->hp * s->wp * sizeof (float)
                  + pixels * ((m->in_channels + 2) * sizeof (float) + 4);
  size_t wino = segcam_fuse_weight_floats (s);
  double bytes = (total + (double) scratch * threads + wino + work) * sizeof (float) + around;
  const char *limit;
  double available = memory_available (threads, &limit);
  s->arena = bytes < available ? g_try_new (float, total) : NULL;
  s->scratch = scratch ? g_try_new (float, scratch * threads) : NULL;
  s->scratch_per_thread = scratch;
  s->wino_weights = wino ? g_try_new (float, wino) : NULL;
  s->wino_floats = wino;
  s->conv_work = work ? g_try_new (float, work) : NULL;
  s->conv_work_floats = work;
  s->arena_floats = total;
  if (!s->arena || (scratch && !s->scratch) || (wino && !s->wino_weights)
      || (work && !s->conv_work))
    {
      g_set_error (error, SEGCAM_ERROR, SEGCAM_ERROR_MEMORY,
                   "not enough memory for a %dx%d image (%.1f GiB needed, %.1f GiB available%s "
                   "(segcam's --max-size, the plug-in's working size)",
                   s->width, s->height, bytes / (1 << 30), available / (1 << 30), limit);
      g_free (bufs);
      return FALSE;
    }
  for (int i = 0; i < nb; i++)
    if (bufs[i].slot)
      *bufs[i].slot = s->arena + bufs[i].offset;
    else
      *bufs[i].bits = (guint32 *) (s->arena + bufs[i].offset);
  g_free (bufs);
  return TRUE;
}
