/* An import's progress for Prometheus: a node_exporter textfile-collector file (Prometheus
 * text exposition format 0.0.4), replaced whole (FILE.tmp, fsync, rename) so that the
 * collector never reads half of it. Written at the start, every few seconds and at the end;
 * every series carries the import's kind, so one file per kind sits beside the others. */
#ifndef CEIRGW_IMPORT_METRICS_H
#define CEIRGW_IMPORT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seconds between two writes while the import runs. */
#define IMPORT_METRICS_INTERVAL_S 5

struct import_metrics;	/* opaque, a talloc child of the ctx it was opened with */

/* Starts the file for an import of kind ("pairings", "kyc", "tac"): running 1, counts 0, the
 * last success time kept from what path held for that kind (0 if nothing). Returns the
 * object, or NULL with "path: reason" in err when the file cannot be written. */
struct import_metrics *import_metrics_open(void *ctx, const char *path, const char *kind,
					   char *err, size_t errsz);

/* The counts so far: rows written to the store, rows rejected, bytes of CSV read. */
void import_metrics_set(struct import_metrics *m, size_t stored, size_t rejected,
			uint64_t bytes);

/* Writes the file when IMPORT_METRICS_INTERVAL_S passed since the last write. A failed
 * write is said once on standard error and never stops the import. */
void import_metrics_tick(struct import_metrics *m);

/* The last write: running 0, the duration, and on success the time now as the last success.
 * Returns 0, or a negative errno when the file could not be written. */
int import_metrics_end(struct import_metrics *m, bool success);

#endif
