/* threads.h — a small persistent thread pool for data-parallel loops.
 *
 * The engine runs one node at a time and splits each node's work into independent tasks (blocks
 * of rows, or of channels); the calling thread works too. OpenBLAS is kept single-threaded so that
 * the pool's threads can each call sgemm on their own block. */
#ifndef SEGCAM_THREADS_H
#define SEGCAM_THREADS_H

typedef struct segcam_pool segcam_pool;

/* fn (ctx, task, thread) for every task in [0, n_tasks); thread in [0, n_threads) indexes
 * per-thread scratch. */
typedef void (*segcam_task_fn) (void *ctx, int task, int thread);

segcam_pool *segcam_pool_new (int n_threads);
void segcam_pool_free (segcam_pool *pool);
int segcam_pool_threads (const segcam_pool *pool);
/* Runs all tasks and returns when they are done. Tasks are claimed dynamically, so the split of
 * work between threads varies, but each task's result must not depend on which thread ran it. */
void segcam_pool_run (segcam_pool *pool, int n_tasks, segcam_task_fn fn, void *ctx);

#endif /* SEGCAM_THREADS_H */
