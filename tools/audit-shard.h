/* audit-shard.h — which rows a segcam audit process takes and where it keeps them
 * (docs/audit.md, "Shards and resume"). */
#ifndef SEGCAM_AUDIT_SHARD_H
#define SEGCAM_AUDIT_SHARD_H

#include <glib.h>

/* Shard index of count: the rows whose index modulo count is index. */
typedef struct {
  int index, count;
} segcam_audit_shard;

/* The shard from --shard I/N (text, may be NULL), else from a Slurm array task's environment
 * (SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT; an array with a step
 * is refused), else 0 of 1. FALSE with the error: a usage error (EXIT_USAGE) for --shard, bad input
 * (EXIT_INPUT) for the environment, in *status. */
gboolean segcam_audit_shard_resolve (const char *text, segcam_audit_shard *shard, int *status,
                                     GError **error);

/* DIR/shard-I-of-N.csv, g_malloc'd. */
char *segcam_audit_shard_path (const char *dir, segcam_audit_shard shard);

/* The shard a file name of the form shard-I-of-N.csv stands for; FALSE for any other name. */
gboolean segcam_audit_shard_from_name (const char *name, segcam_audit_shard *shard);

#endif /* SEGCAM_AUDIT_SHARD_H */
