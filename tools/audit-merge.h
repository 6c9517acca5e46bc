/* audit-merge.h — `segcam audit --merge DIR` (docs/audit.md, "Merge"): the shards of an audit
 * folder into DIR/audit.csv, sorted by manifest row, and DIR/report.html. */
#ifndef SEGCAM_AUDIT_MERGE_H
#define SEGCAM_AUDIT_MERGE_H

/* Checks that DIR holds every shard of one N and every manifest row once, writes the table and
 * the report; the exit status (2 also when a record holds an error), with errors printed. */
int segcam_audit_merge (const char *dir, int threads);

#endif /* SEGCAM_AUDIT_MERGE_H */
