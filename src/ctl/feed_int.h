/* Inside `ceirgwctl feed` (ctl/feed.c dispatches): each subcommand's entry point, and what
 * status, export and resume share (their options, the configuration, the store). */
#ifndef CEIRGW_CTL_FEED_INT_H
#define CEIRGW_CTL_FEED_INT_H

#include <stddef.h>
#include <stdio.h>

enum { FEED_EXIT_OK = 0, FEED_EXIT_ERROR = 1, FEED_EXIT_USAGE = 2 };

/* argv[0] is the subcommand's name; each returns the process exit code. */
int feed_status_main(void *ctx, int argc, char **argv);
int feed_export_main(void *ctx, int argc, char **argv);
int feed_verify_main(void *ctx, int argc, char **argv);
int feed_resume_main(void *ctx, int argc, char **argv);

/* The commands on a ceirgw's Redis (status, export, resume): -c FILE (required), --redis URL or
 * --redis-cluster SEEDS, --help; what remains of argv from *first on. */
struct ceirgw_config;
struct bulk;
struct feed_store {
	const char *config_path;
	const char *redis, *redis_cluster;
	struct ceirgw_config *cfg;
	struct bulk *bulk;
	int first;		/* the first operand in argv */
};

/* Those options in each command's --help, one spelling. */
#define FEED_STORE_OPTIONS_HELP \
	"  -c, --config FILE     ceirgw's configuration (required)\n" \
	"  --redis URL           this Redis instead of the configuration's\n" \
	"  --redis-cluster SEEDS this Redis Cluster instead\n" \
	"  -h, --help            show this help\n"

/* Reads the options (usage(stdout) and FEED_EXIT_OK + 100 for --help), then the
 * configuration. Returns FEED_EXIT_OK, or the exit code with the reason said. */
int feed_store_options(void *ctx, const char *cmd, int argc, char **argv,
		       void (*usage)(FILE *out), struct feed_store *fs);
/* Connects to the configuration's Redis, never starting one. Returns FEED_EXIT_OK, or
 * FEED_EXIT_ERROR (said) when Redis cannot be read, FEED_EXIT_USAGE for a bad Redis URL. */
int feed_store_connect(void *ctx, const char *cmd, struct feed_store *fs);

/* A signed note's text: up to and with the newline before the first blank line (a note
 * our own checkpointer wrote has one signature line). 0 when there is none. */
size_t feed_note_textlen(const char *note, size_t len);

#define FEED_HELP_SHOWN 100

#endif
