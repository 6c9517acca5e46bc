/* threads.c — persistent workers woken per parallel loop; tasks handed out by an atomic counter. */
#include "threads.h"
#include "blas.h"
#include "segcam.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct segcam_pool {
  int n_threads;
  pthread_t *workers;
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  unsigned generation;    /* bumped for each loop; workers wait for it to change */
  gboolean quit;
  int busy;               /* workers still inside the current loop */
  /* the current loop */
  segcam_task_fn fn;
  void *ctx;
  int n_tasks;
  atomic_int next_task;
};

typedef struct {
  segcam_pool *pool;
  int thread;
} worker_arg;

static void
drain (segcam_pool *pool, int thread)
{
  for (;;)
    {
      int t = atomic_fetch_add (&pool->next_task, 1);
      if (t >= pool->n_tasks)
        return;
      pool->fn (pool->ctx, t, thread);
    }
}

static void *
worker_main (void *p)
{
  worker_arg *arg = p;
  segcam_pool *pool = arg->pool;
  int thread = arg->thread;
  g_free (arg);
  unsigned seen = 0;
  pthread_mutex_lock (&pool->lock);
  for (;;)
    {
      while (pool->generation == seen && !pool->quit)
        pthread_cond_wait (&pool->wake, &pool->lock);
      if (pool->quit)
        break;
      seen = pool->generation;
      pthread_mutex_unlock (&pool->lock);
      drain (pool, thread);
      pthread_mutex_lock (&pool->lock);
      if (--pool->busy == 0)
        pthread_cond_signal (&pool->done);
    }
  pthread_mutex_unlock (&pool->lock);
  return NULL;
}

int
segcam_default_threads (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 64 ? 64 : (int) n;
}

segcam_pool *
segcam_pool_new (int n_threads)
{
  segcam_pool *pool = g_new0 (segcam_pool, 1);
  pool->n_threads = n_threads < 1 ? segcam_default_threads () : MIN (n_threads, 64);
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->wake, NULL);
  pthread_cond_init (&pool->done, NULL);
  /* Our threads each call sgemm on their own block; OpenBLAS's own threads would fight them. */
  segcam_blas_single_threaded ();
  pool->workers = g_new (pthread_t, pool->n_threads);
  for (int i = 1; i < pool->n_threads; i++)
    {
      worker_arg *arg = g_new (worker_arg, 1);
      arg->pool = pool, arg->thread = i;
      if (pthread_create (&pool->workers[i], NULL, worker_main, arg) != 0)
        {
          /* Fewer threads is slower, not wrong. */
          g_free (arg);
          pool->n_threads = i;
          break;
        }
    }
  return pool;
}

void
segcam_pool_free (segcam_pool *pool)
{
  if (!pool)
    return;
  pthread_mutex_lock (&pool->lock);
  pool->quit = TRUE;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);
  for (int i = 1; i < pool->n_threads; i++)
    pthread_join (pool->workers[i], NULL);
  pthread_mutex_destroy (&pool->lock);
  pthread_cond_destroy (&pool->wake);
  pthread_cond_destroy (&pool->done);
  g_free (pool->workers);
  g_free (pool);
}

int
segcam_pool_threads (const segcam_pool *pool)
{
  return pool->n_threads;
}

void
segcam_pool_run (segcam_pool *pool, int n_tasks, segcam_task_fn fn, void *ctx)
{
  if (n_tasks <= 0)
    return;
  if (pool->n_threads == 1 || n_tasks == 1)
    {
      for (int t = 0; t < n_tasks; t++)
        fn (ctx, t, 0);
      return;
    }
  pthread_mutex_lock (&pool->lock);
  pool->fn = fn;
  pool->ctx = ctx;
  pool->n_tasks = n_tasks;
  atomic_store (&pool->next_task, 0);
  pool->busy = pool->n_threads - 1;
  pool->generation++;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);
  drain (pool, 0);
  pthread_mutex_lock (&pool->lock);
  while (pool->busy > 0)
    pthread_cond_wait (&pool->done, &pool->lock);
  pthread_mutex_unlock (&pool->lock);
}
