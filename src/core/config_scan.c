/* A reader of Kannel's configuration syntax (gwlib/cfg.c in Kannel 1.4.5), for structure
 * only: a line "name = value" (a value in double quotes may hold '#' and escaped '"'), '#'
 * starting a comment line, an empty line ending a group, and `include = FILE` replaced by
 * FILE's lines where it stands (so a group may go on in the included file). libgw takes a
 * relative FILE from the current folder, and so does this reader; libgw ends the process
 * (a panic) when FILE cannot be read, which is why it is checked here first. */
#include "core/config_scan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <talloc.h>

struct scan_state {
	struct cfgscan *s;
	struct cfgscan_group *cur;	/* the group being read, or NULL between groups */
	const char *stack[CFGSCAN_MAX_DEPTH + 1];	/* files being read, for loops */
	size_t bytes;		/* read so far, in every file */
	char *err;
	size_t errsz;
};

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* libgw's parse_value: a value starting with '"' ends at the next unescaped '"'; "\"" is a
 * quote. Returns 0, or -1 when the quote is not closed. */
static int unquote(char *v)
{
	char *r = v + 1, *w = v;

	if (*v != '"')
		return 0;
	while (*r && *r != '"') {
		if (*r == '\\' && r[1] == '"')
			r++;
		*w++ = *r++;
	}
	if (*r != '"')
		return -1;
	*w = '\0';
	return 0;
}

static int end_group(struct scan_state *st)
{
	st->cur = NULL;
	return 0;
}

static int add_var(struct scan_state *st, const char *file, unsigned line, const char *name,
		   const char *value)
{
	struct cfgscan *s = st->s;
	struct cfgscan_group *g = st->cur;
	struct cfgscan_var *v;

	if (g == NULL) {
		if (s->ngroups == CFGSCAN_MAX_GROUPS) {
			snprintf(st->err, st->errsz, "%s:%u: more than %d groups", file, line,
				 CFGSCAN_MAX_GROUPS);
			return -EINVAL;
		}
		g = talloc_realloc(s, s->groups, struct cfgscan_group, s->ngroups + 1);
		if (g == NULL)
			return -ENOMEM;
		s->groups = g;
		g = st->cur = &s->groups[s->ngroups++];
		memset(g, 0, sizeof(*g));
	}
	if (g->nvars == CFGSCAN_MAX_VARS) {
		snprintf(st->err, st->errsz, "%s:%u: more than %d lines in one group", file, line,
			 CFGSCAN_MAX_VARS);
		return -EINVAL;
	}
	v = talloc_realloc(s, g->vars, struct cfgscan_var, g->nvars + 1);
	if (v == NULL)
		return -ENOMEM;
	g->vars = v;
	v = &g->vars[g->nvars];
	v->name = talloc_strdup(s, name);
	v->value = talloc_strdup(s, value);
	v->file = file;
	v->line = line;
	if (v->name == NULL || v->value == NULL)
		return -ENOMEM;
	g->nvars++;
	if (strcmp(name, "group") == 0 && g->name == NULL)
		g->name = v->value;
	return 0;
}

static int read_one(struct scan_state *st, const char *file, int depth);

static int include(struct scan_state *st, const char *from, unsigned line, const char *target,
		   int depth)
{
	struct stat sb = { 0 };
	char *file;
	int i;

	if (depth == CFGSCAN_MAX_DEPTH) {
		snprintf(st->err, st->errsz, "%s:%u: include = '%.200s': includes nested more "
			 "than %d deep", from, line, target, CFGSCAN_MAX_DEPTH);
		return -EINVAL;
	}
	for (i = 0; i <= depth; i++) {
		if (strcmp(st->stack[i], target) == 0) {
			snprintf(st->err, st->errsz, "%s:%u: include = '%.200s': an include loop "
				 "(that file is being read)", from, line, target);
			return -EINVAL;
		}
	}
	if (stat(target, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		const char *why = S_ISDIR(sb.st_mode) ? "a folder (ceirgw follows files only: "
			"include each one)" : strerror(errno);

		if (!S_ISDIR(sb.st_mode) && target[0] != '/')
			why = "not found from the current folder, where bearerbox looks for a relative "
			      "include too: give an absolute path";
		snprintf(st->err, st->errsz, "%s:%u: include = '%.200s': %s", from, line, target,
			 why);
		return -EINVAL;
	}
	file = talloc_strdup(st->s, target);
	if (file == NULL)
		return -ENOMEM;
	return read_one(st, file, depth + 1);
}

static int read_one(struct scan_state *st, const char *file, int depth)
{
	char *buf = talloc_size(st->s, CFGSCAN_MAX_LINE + 2);
	unsigned line = 0;
	int rc = 0;
	FILE *f;

	if (buf == NULL)
		return -ENOMEM;
	st->stack[depth] = file;
	f = fopen(file, "re");
	if (f == NULL) {
		snprintf(st->err, st->errsz, "%s: %s", file, strerror(errno));
		talloc_free(buf);
		return -errno;
	}
	while (rc == 0 && fgets(buf, CFGSCAN_MAX_LINE + 2, f)) {
		char *l, *eq, *name, *value;

		line++;
		st->bytes += strlen(buf);
		if (st->bytes > CFGSCAN_MAX_BYTES) {
			snprintf(st->err, st->errsz, "%s:%u: more than %d bytes in all (includes "
				 "included)", file, line, CFGSCAN_MAX_BYTES);
			rc = -EINVAL;
			break;
		}
		if (strlen(buf) > CFGSCAN_MAX_LINE && buf[strlen(buf) - 1] != '\n') {
			snprintf(st->err, st->errsz, "%s:%u: a line longer than %d bytes", file,
				 line, CFGSCAN_MAX_LINE);
			rc = -EINVAL;
			break;
		}
		l = strip(buf);
		if (*l == '\0') {
			rc = end_group(st);
			continue;
		}
		if (*l == '#')
			continue;
		eq = strchr(l, '=');
		if (eq == NULL)
			continue;	/* libgw names the line */
		*eq = '\0';
		name = strip(l);
		value = strip(eq + 1);
		if (unquote(value) < 0)
			continue;	/* libgw names the line */
		if (strcmp(name, "include") == 0)
			rc = include(st, file, line, value, depth);
		else
			rc = add_var(st, file, line, name, value);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(st->err, st->errsz, "%s: %s", file, strerror(errno));
		rc = -EIO;
	}
	fclose(f);
	talloc_free(buf);
	return rc;
}

struct cfgscan *cfgscan_read(void *ctx, const char *path, char *err, size_t errsz)
{
	struct scan_state st = { .err = err, .errsz = errsz };
	int rc;

	st.s = talloc_zero(ctx, struct cfgscan);
	if (st.s == NULL)
		goto oom;
	st.stack[0] = talloc_strdup(st.s, path);
	if (st.stack[0] == NULL)
		goto oom;
	rc = read_one(&st, st.stack[0], 0);
	if (rc == -ENOMEM)
		goto oom;
	if (rc < 0) {
		talloc_free(st.s);
		return NULL;
	}
	return st.s;
oom:
	snprintf(err, errsz, "%s: out of memory", path);
	talloc_free(st.s);
	return NULL;
}

const struct cfgscan_var *cfgscan_get(const struct cfgscan_group *g, const char *name)
{
	for (size_t i = 0; i < g->nvars; i++)
		if (strcmp(g->vars[i].name, name) == 0)
			return &g->vars[i];
	return NULL;
}

char *cfgscan_where(void *ctx, const struct cfgscan_var *v)
{
	return talloc_asprintf(ctx, "%s:%u", v->file, v->line);
}
