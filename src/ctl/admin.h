/* ceirgwctl's admin commands (issue 20): queue (the CEIR streams), report (one report by
 * reference or IMEI), outbox (the SMS waiting per path), unlock (clear a lock-out, audited)
 * and stats (what the admin listener's /metrics says, readable). doc/admin.md. */
#ifndef CEIRGW_CTL_ADMIN_H
#define CEIRGW_CTL_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

/* argv[0] is the command (queue, report, outbox, unlock, stats); its options are read with
 * getopt_long. Returns the exit code: 0, 1 (nothing found or cleared, a Redis or HTTP
 * error), 2 (a usage or configuration error, or no store named and none running). */
int admin_main(void *ctx, int argc, char **argv);

/* Whether name is one of admin_main's commands. */
bool admin_is_command(const char *name);

/* Prints the usage of the command name to out. Returns false for a name that is none. */
bool admin_usage(const char *name, FILE *out);

/* ceirgwctl stats (admin_stats.c). */
int admin_stats_main(void *ctx, int argc, char **argv);
void admin_stats_usage(FILE *out);

#endif
