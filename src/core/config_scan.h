/* Kannel's configuration syntax read for its structure: groups, their variables and the
 * file and line of each, includes followed as libgw follows them. libgw's cfg module reads
 * the values; this scan gives what it cannot: the line of each variable (an unknown or a
 * repeated one is named at its own line) and the other groups of a kannel.conf. */
#ifndef CEIRGW_CORE_CONFIG_SCAN_H
#define CEIRGW_CORE_CONFIG_SCAN_H

#include <stddef.h>

#define CFGSCAN_MAX_DEPTH 8		/* include nesting */
#define CFGSCAN_MAX_LINE 65536		/* bytes in one line */
#define CFGSCAN_MAX_GROUPS 4096
#define CFGSCAN_MAX_VARS 1024		/* in one group */
#define CFGSCAN_MAX_BYTES (16 << 20)	/* read in all, includes included */

struct cfgscan_var {
	char *name;
	char *value;		/* unquoted as libgw unquotes it */
	const char *file;	/* as given (the top file's path, or the include's value) */
	unsigned line;
};

struct cfgscan_group {
	const char *name;	/* its `group = ` value, or NULL */
	struct cfgscan_var *vars;
	size_t nvars;
};

struct cfgscan {
	struct cfgscan_group *groups;
	size_t ngroups;
};

/* Reads path and what it includes. Returns a talloc child of ctx, or NULL with a one-line
 * reason naming the file and line in err (unreadable file or include, a line too long,
 * includes nested too deep or in a loop, a folder included, too many groups or bytes). */
struct cfgscan *cfgscan_read(void *ctx, const char *path, char *err, size_t errsz);

/* The variable name of group g, or NULL (the first when it is repeated). */
const struct cfgscan_var *cfgscan_get(const struct cfgscan_group *g, const char *name);

/* "FILE:LINE" of v, as a talloc child of ctx. */
char *cfgscan_where(void *ctx, const struct cfgscan_var *v);

#endif
