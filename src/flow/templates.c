/* The template loader, renderer and checker (format in templates.h and doc/templates.md).
 * YAML 1.1 through libyaml's event API, so that every fault carries the line and column a
 * translator can go to; USSD screen sizes from 3GPP TS 23.038 section 6.1.2.3 via domain/gsm.h. */
#include "flow/templates.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <talloc.h>
#include <yaml.h>

#include "core/errbuf.h"
#include "core/utf8.h"
#include "domain/gsm.h"

/* Longer names are typos or garbage; the cap keeps messages short. */
#define TPL_NAME_MAX		32
/* The language's own name is a menu line. */
#define TPL_LANG_NAME_MAX	64

struct tpl_text {
	const char *key;
	char *text;		/* NUL-terminated; NUL itself is refused inside */
	size_t len;
	const char **ph;	/* placeholder names, sorted, unique; point into the registry */
	size_t nph;
	size_t line, col;	/* 1-based, for duplicate-key messages */
};

struct tpl_lang {
	char *code;
	char *name;
	bool rtl;
	struct tpl_text *texts;	/* sorted by key */
	size_t ntexts;
};

struct tpl_set {
	struct tpl_placeholder *reg;
	size_t nreg;
	struct tpl_lang **langs;	/* sorted by code */
	size_t nlangs;
	const char *default_lang;	/* a code of langs, or NULL */
};

/* The state of one file's load: libyaml's parser and the event in hand. */
struct tpl_loader {
	struct tpl_set *set;
	const char *fname;
	const char *data;
	size_t len;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool have_ev;
	char *err;
	size_t errsz;
};

struct tpl_set *tpl_set_new(void *ctx, const struct tpl_placeholder *reg, size_t nreg)
{
	struct tpl_set *s = talloc_zero(ctx, struct tpl_set);
	size_t i;

	if (s == NULL)
		return NULL;
	s->reg = talloc_array(s, struct tpl_placeholder, nreg ? nreg : 1);
	if (s->reg == NULL)
		goto fail;
	for (i = 0; i < nreg; i++) {
		s->reg[i] = reg[i];
		s->reg[i].name = talloc_strdup(s->reg, reg[i].name);
		if (s->reg[i].name == NULL)
			goto fail;
		if (reg[i].values != NULL &&
		    (s->reg[i].values = talloc_strdup(s->reg, reg[i].values)) == NULL)
			goto fail;
	}
	s->nreg = nreg;
	return s;
fail:
	talloc_free(s);
	return NULL;
}

static const struct tpl_placeholder *reg_find(const struct tpl_set *s, const char *name,
					      size_t len)
{
	size_t i;

	for (i = 0; i < s->nreg; i++)
		if (strncmp(s->reg[i].name, name, len) == 0 && s->reg[i].name[len] == '\0')
			return &s->reg[i];
	return NULL;
}

static struct tpl_lang *lang_find(const struct tpl_set *s, const char *code)
{
	size_t i;

	if (code == NULL)
		return NULL;
	/* a handful of languages: a scan beats anything cleverer */
	for (i = 0; i < s->nlangs; i++)
		if (strcmp(s->langs[i]->code, code) == 0)
			return s->langs[i];
	return NULL;
}

static int text_cmp(const void *a, const void *b)
{
	const struct tpl_text *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static const struct tpl_text *text_find(const struct tpl_lang *l, const char *key)
{
	size_t lo = 0, hi = l->ntexts, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(key, l->texts[mid].key);
		if (c == 0)
			return &l->texts[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- loading ---------------------------------------------------------------------------- */

static void load_err(struct tpl_loader *ld, size_t line, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* line and col are 1-based */
static void load_err(struct tpl_loader *ld, size_t line, size_t col, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errbuf_set(ld->err, ld->errsz, "%s:%zu:%zu: %s", ld->fname, line, col, msg);
}

#define MARK(m) (m).line + 1, (m).column + 1

/* Moves to the next event. Returns 0, or -EINVAL with libyaml's reason in err. */
static int next_event(struct tpl_loader *ld)
{
	yaml_parser_t *p = &ld->parser;
	size_t line = 1, i;

	if (ld->have_ev) {
		yaml_event_delete(&ld->ev);
		ld->have_ev = false;
	}
	if (yaml_parser_parse(p, &ld->ev)) {
		ld->have_ev = true;
		if (ld->ev.type == YAML_ALIAS_EVENT) {
			/* no use in texts, and the way to a billion laughs */
			load_err(ld, MARK(ld->ev.start_mark), "aliases (*name) are not allowed");
			return -EINVAL;
		}
		return 0;
	}
	if (p->error == YAML_READER_ERROR) {
		/* The reader knows only the offset (invalid UTF-8, control characters). */
		for (i = 0; i < p->problem_offset && i < ld->len; i++)
			line += ld->data[i] == '\n';
		load_err(ld, line, 1, "%s", p->problem ? p->problem : "unreadable");
		return -EINVAL;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		errbuf_set(ld->err, ld->errsz, "%s: out of memory", ld->fname);
		return -ENOMEM;
	}
	load_err(ld, MARK(p->problem_mark), "%s%s%s", p->problem ? p->problem : "syntax error",
		 p->context ? " " : "", p->context ? p->context : "");
	return -EINVAL;
}

/* Moves to the next event of a mapping. Returns 1 at a key (the caller says which it takes),
 * 0 at the mapping's end, or a negative errno with the reason in err. */
static int next_key(struct tpl_loader *ld)
{
	int rc = next_event(ld);

	if (rc < 0)
		return rc;
	return ld->ev.type != YAML_MAPPING_END_EVENT;
}

/* Moves to the next event, which must be of type: else what is said wrong there. Returns 0,
 * or a negative errno with the reason in err. */
static int expect_event(struct tpl_loader *ld, yaml_event_type_t type, const char *what)
{
	int rc = next_event(ld);

	if (rc < 0)
		return rc;
	if (ld->ev.type != type) {
		load_err(ld, MARK(ld->ev.start_mark), "%s", what);
		return -EINVAL;
	}
	return 0;
}

static bool word_in(const char *v, size_t n, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strlen(*words) == n && memcmp(*words, v, n) == 0)
			return true;
	return false;
}

/* What YAML 1.1 makes of a plain scalar other than a string (as PyYAML resolves it, the tool
 * a translator is likeliest to check a file with): "null", "a boolean", "a number", or NULL. */
static const char *plain_type(const char *v, size_t n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "yes", "Yes", "YES", "no", "No", "NO", "true", "True",
		"TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", NULL };
	static const char *const specials[] = { ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN",
		NULL };
	size_t i = 0, digits = 0;

	if (word_in(v, n, nulls))
		return "null";
	if (word_in(v, n, bools))
		return "a boolean";
	if (i < n && (v[i] == '+' || v[i] == '-'))
		i++;
	if (word_in(v + i, n - i, specials))
		return "a number";
	if (n - i > 2 && v[i] == '0' && (v[i + 1] == 'x' || v[i + 1] == 'b'))
		i += 2;
	/* Loose on purpose: "1.2.3" is no number to YAML, but quoting it costs nothing. */
	for (; i < n; i++) {
		if (v[i] >= '0' && v[i] <= '9')
			digits++;
		else if (!strchr("_.eE+-abcdefABCDEF:", v[i]))
			return NULL;
	}
	if (digits == 0 || !((v[0] >= '0' && v[0] <= '9') || strchr("+-.", v[0])))
		return NULL;
	return "a number";
}

/* The scalar in hand as a string value: refuses non-string tags and plain scalars that YAML
 * reads as something else. Returns 0 or -EINVAL. */
static int want_string(struct tpl_loader *ld, const char *what)
{
	const yaml_event_t *ev = &ld->ev;
	const char *tag, *type;

	if (ev->type != YAML_SCALAR_EVENT) {
		load_err(ld, MARK(ev->start_mark), "%s is not a string", what);
		return -EINVAL;
	}
	tag = (const char *)ev->data.scalar.tag;
	if (tag != NULL && strcmp(tag, YAML_STR_TAG) != 0) {
		load_err(ld, MARK(ev->start_mark), "%s: tag %.40s not allowed, texts are strings",
			 what, tag);
		return -EINVAL;
	}
	if (tag == NULL && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		type = plain_type((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (type != NULL) {
			load_err(ld, MARK(ev->start_mark), "%s is %s in YAML, not a string: quote it",
				 what, type);
			return -EINVAL;
		}
	}
	return 0;
}

static bool key_valid(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > TPL_KEY_MAX || k[0] == '.' || k[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (k[i] == '.' && k[i + 1] == '.')
			return false;
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'
		      || k[i] == '.'))
			return false;
	}
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates the text value in hand and fills t: UTF-8 without NUL, within TPL_TEXT_MAX,
 * braces balanced, placeholders registered. Returns 0, -EINVAL or -ENOMEM. */
static int parse_text(struct tpl_loader *ld, void *mem, struct tpl_text *t)
{
	const char *v = (const char *)ld->ev.data.scalar.value;
	size_t n = ld->ev.data.scalar.length, i, j, used, w;
	const struct tpl_placeholder *ph;

	if (n > TPL_TEXT_MAX) {
		load_err(ld, MARK(ld->ev.start_mark), "text of %zu bytes, %d at most", n,
			 TPL_TEXT_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i += used) {
		if (v[i] == '\0') {
			load_err(ld, MARK(ld->ev.start_mark), "NUL character in text");
			return -EINVAL;
		}
		if (utf8_decode((const unsigned char *)v + i, n - i, &used) < 0) {
			load_err(ld, MARK(ld->ev.start_mark), "invalid UTF-8 in text");
			return -EINVAL;
		}
	}
	t->text = talloc_memdup(mem, v, n + 1);
	t->ph = talloc_array(mem, const char *, n / 3 + 1);	/* "{x}" is the shortest */
	if (t->text == NULL || t->ph == NULL)
		return -ENOMEM;
	t->text[n] = '\0';
	t->len = n;
	t->nph = 0;
	for (i = 0; i < n; i++) {
		if (v[i] == '}') {
			if (i + 1 < n && v[i + 1] == '}') {
				i++;
				continue;
			}
			load_err(ld, MARK(ld->ev.start_mark),
				 "lone '}' in text (write }} for a brace)");
			return -EINVAL;
		}
		if (v[i] != '{')
			continue;
		if (i + 1 < n && v[i + 1] == '{') {
			i++;
			continue;
		}
		for (j = i + 1; j < n && ((v[j] >= 'a' && v[j] <= 'z') || v[j] == '_'
					  || (v[j] >= '0' && v[j] <= '9')); j++)
			;
		w = j - i - 1;
		if (j >= n || v[j] != '}') {
			load_err(ld, MARK(ld->ev.start_mark),
				 "unterminated '{' in text (write {{ for a brace)");
			return -EINVAL;
		}
		if (w == 0 || w > TPL_NAME_MAX || (v[i + 1] >= '0' && v[i + 1] <= '9')) {
			load_err(ld, MARK(ld->ev.start_mark), "bad placeholder name {%.*s}",
				 (int)(w > TPL_NAME_MAX ? TPL_NAME_MAX : w), v + i + 1);
			return -EINVAL;
		}
		ph = reg_find(ld->set, v + i + 1, w);
		if (ph == NULL) {
			load_err(ld, MARK(ld->ev.start_mark), "unknown placeholder {%.*s}", (int)w,
				 v + i + 1);
			return -EINVAL;
		}
		t->ph[t->nph++] = ph->name;
		i = j;
	}
	qsort(t->ph, t->nph, sizeof(*t->ph), name_cmp);
	for (i = j = 0; i < t->nph; i++)
		if (j == 0 || t->ph[j - 1] != t->ph[i])
			t->ph[j++] = t->ph[i];
	t->nph = j;
	return 0;
}

/* The texts: mapping, its start event in hand. Returns 0, -EINVAL or -ENOMEM. */
static int load_texts(struct tpl_loader *ld, struct tpl_lang *l)
{
	struct tpl_text *texts = NULL, *t;
	size_t n = 0, cap = 0, i;
	char key[TPL_KEY_MAX + 1];
	int rc;

	while ((rc = next_key(ld)) > 0) {
		if (ld->ev.type != YAML_SCALAR_EVENT
		    || !key_valid((const char *)ld->ev.data.scalar.value, ld->ev.data.scalar.length)) {
			load_err(ld, MARK(ld->ev.start_mark),
				 "bad key %s%.64s%s: lowercase letters, digits, '_' and '.', at most %d bytes",
				 ld->ev.type == YAML_SCALAR_EVENT ? "\"" : "",
				 ld->ev.type == YAML_SCALAR_EVENT ? (const char *)ld->ev.data.scalar.value
				 : "(not a scalar)", ld->ev.type == YAML_SCALAR_EVENT ? "\"" : "",
				 TPL_KEY_MAX);
			return -EINVAL;
		}
		if (n == TPL_KEYS_MAX) {
			load_err(ld, MARK(ld->ev.start_mark), "more than %d keys", TPL_KEYS_MAX);
			return -EINVAL;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			texts = talloc_realloc(l, texts, struct tpl_text, cap);
			if (texts == NULL)
				return -ENOMEM;
			l->texts = texts;
		}
		t = &texts[n];
		memcpy(key, ld->ev.data.scalar.value, ld->ev.data.scalar.length + 1);
		t->key = talloc_strdup(texts, key);
		t->line = ld->ev.start_mark.line + 1;
		t->col = ld->ev.start_mark.column + 1;
		if (t->key == NULL)
			return -ENOMEM;
		if ((rc = next_event(ld)) < 0)
			return rc;
		if ((rc = want_string(ld, key)) < 0)
			return rc;
		if ((rc = parse_text(ld, texts, t)) < 0)
			return rc;
		n++;
	}
	if (rc < 0)
		return rc;
	if (n > 1)
		qsort(texts, n, sizeof(*texts), text_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(texts[i].key, texts[i - 1].key) == 0) {
			load_err(ld, texts[i].line, texts[i].col, "duplicate key %s (first at line %zu)",
				 texts[i].key, texts[i - 1].line);
			return -EINVAL;
		}
	}
	l->texts = texts;
	l->ntexts = n;
	return 0;
}

/* The language the file name promises: "dir/sw.yaml" -> "sw"; NULL without ".yaml". */
static char *fname_lang(void *mem, const char *fname)
{
	const char *base, *dot;

	if (fname == NULL)
		return NULL;
	base = strrchr(fname, '/');
	base = base ? base + 1 : fname;
	dot = strrchr(base, '.');
	if (dot == NULL || strcmp(dot, ".yaml") != 0)
		return NULL;
	return talloc_strndup(mem, base, (size_t)(dot - base));
}

static bool lang_code_valid(const char *v, size_t n)
{
	return n == 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z';
}

/* The top-level mapping, its start event in hand. Returns 0, -EINVAL or -ENOMEM. */
static int load_top(struct tpl_loader *ld, struct tpl_lang *l)
{
	yaml_mark_t top = ld->ev.start_mark, lang_mark = top;
	bool seen_dir = false, seen_texts = false;
	const char *k, *v, *want;
	size_t vlen, i, used;
	int rc;

	while ((rc = next_key(ld)) > 0) {
		if (ld->ev.type != YAML_SCALAR_EVENT) {
			load_err(ld, MARK(ld->ev.start_mark), "top-level keys are names");
			return -EINVAL;
		}
		k = (const char *)ld->ev.data.scalar.value;
		if (strcmp(k, "language") == 0 || strcmp(k, "name") == 0
		    || strcmp(k, "direction") == 0) {
			if ((k[0] == 'l' && l->code) || (k[0] == 'n' && l->name)
			    || (k[0] == 'd' && seen_dir)) {
				load_err(ld, MARK(ld->ev.start_mark), "duplicate key %s", k);
				return -EINVAL;
			}
			want = k[0] == 'l' ? "language" : k[0] == 'n' ? "name" : "direction";
			if ((rc = next_event(ld)) < 0)
				return rc;
			if ((rc = want_string(ld, want)) < 0)
				return rc;
			v = (const char *)ld->ev.data.scalar.value;
			vlen = ld->ev.data.scalar.length;
			if (want[0] == 'l') {
				if (!lang_code_valid(v, vlen)) {
					load_err(ld, MARK(ld->ev.start_mark),
						 "language must be an ISO 639-1 code (two lowercase letters)");
					return -EINVAL;
				}
				lang_mark = ld->ev.start_mark;
				l->code = talloc_strdup(l, v);
				if (l->code == NULL)
					return -ENOMEM;
			} else if (want[0] == 'n') {
				for (i = 0; i < vlen; i += used)
					if (v[i] == '\0' || v[i] == '\n'
					    || utf8_decode((const unsigned char *)v + i, vlen - i,
							   &used) < 0)
						break;
				if (vlen == 0 || vlen > TPL_LANG_NAME_MAX || i < vlen) {
					load_err(ld, MARK(ld->ev.start_mark),
						 "name must be one line of 1 to %d bytes",
						 TPL_LANG_NAME_MAX);
					return -EINVAL;
				}
				l->name = talloc_strdup(l, v);
				if (l->name == NULL)
					return -ENOMEM;
			} else {
				if (strcmp(v, "ltr") != 0 && strcmp(v, "rtl") != 0) {
					load_err(ld, MARK(ld->ev.start_mark),
						 "direction must be ltr or rtl");
					return -EINVAL;
				}
				l->rtl = v[0] == 'r';
				seen_dir = true;
			}
		} else if (strcmp(k, "texts") == 0) {
			if (seen_texts) {
				load_err(ld, MARK(ld->ev.start_mark), "duplicate key texts");
				return -EINVAL;
			}
			seen_texts = true;
			if ((rc = expect_event(ld, YAML_MAPPING_START_EVENT,
					       "texts must be a mapping of key: text")) < 0 ||
			    (rc = load_texts(ld, l)) < 0)
				return rc;
		} else {
			load_err(ld, MARK(ld->ev.start_mark),
				 "unknown top-level key \"%.40s\" (language, name, direction, texts)", k);
			return -EINVAL;
		}
	}
	if (rc < 0)
		return rc;
	if (l->code == NULL || l->name == NULL || !seen_texts) {
		load_err(ld, MARK(top), "missing %s", l->code == NULL ? "language"
			 : l->name == NULL ? "name" : "texts");
		return -EINVAL;
	}
	want = fname_lang(l, ld->fname);
	if (want != NULL && strcmp(want, l->code) != 0) {
		load_err(ld, MARK(lang_mark), "language %s does not match the file name (%s.yaml)",
			 l->code, want);
		return -EINVAL;
	}
	return 0;
}

static int load_stream(struct tpl_loader *ld, struct tpl_lang *l)
{
	int rc;

	if ((rc = next_event(ld)) < 0)		/* stream start */
		return rc;
	if ((rc = next_event(ld)) < 0)
		return rc;
	if (ld->ev.type != YAML_DOCUMENT_START_EVENT) {
		load_err(ld, 1, 1, "empty file");
		return -EINVAL;
	}
	if ((rc = expect_event(ld, YAML_MAPPING_START_EVENT,
			       "the file must be a mapping (language:, name:, texts:)")) < 0 ||
	    (rc = load_top(ld, l)) < 0)
		return rc;
	if ((rc = next_event(ld)) < 0)		/* document end */
		return rc;
	return expect_event(ld, YAML_STREAM_END_EVENT, "one document per file");
}

int tpl_add_mem(struct tpl_set *s, const char *fname, const char *yaml, size_t len,
		char *err, size_t errsz)
{
	struct tpl_loader ld = { .set = s, .fname = fname ? fname : "<memory>", .data = yaml,
				 .len = len, .err = err, .errsz = errsz };
	struct tpl_lang *l, **langs;
	size_t i;
	int rc;

	if (len > TPL_FILE_MAX) {
		errbuf_set(err, errsz, "%s: larger than %d bytes", ld.fname, TPL_FILE_MAX);
		return -EFBIG;
	}
	l = talloc_zero(NULL, struct tpl_lang);
	if (l == NULL || !yaml_parser_initialize(&ld.parser)) {
		talloc_free(l);
		errbuf_set(err, errsz, "%s: out of memory", ld.fname);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)yaml, len);
	/* UTF-8 only: a UTF-16 file would be read, but no translator tool needs it */
	yaml_parser_set_encoding(&ld.parser, YAML_UTF8_ENCODING);
	rc = load_stream(&ld, l);
	if (ld.have_ev)
		yaml_event_delete(&ld.ev);
	yaml_parser_delete(&ld.parser);
	if (rc == 0 && lang_find(s, l->code) != NULL) {
		errbuf_set(err, errsz, "%s: language %s loaded twice", ld.fname, l->code);
		rc = -EEXIST;
	}
	if (rc == 0) {
		langs = talloc_realloc(s, s->langs, struct tpl_lang *, s->nlangs + 1);
		if (langs == NULL) {
			rc = -ENOMEM;
		} else {
			s->langs = langs;
			for (i = s->nlangs; i > 0 && strcmp(langs[i - 1]->code, l->code) > 0; i--)
				langs[i] = langs[i - 1];
			langs[i] = talloc_steal(langs, l);
			s->nlangs++;
			return 0;
		}
	}
	if (rc == -ENOMEM)
		errbuf_set(err, errsz, "%s: out of memory", ld.fname);
	talloc_free(l);
	return rc;
}

int tpl_add_file(struct tpl_set *s, const char *path, char *err, size_t errsz)
{
	char *buf;
	size_t len = 0;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		errbuf_set(err, errsz, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* one byte more than allowed tells a too-big file from one exactly at the limit */
	buf = talloc_size(NULL, TPL_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		errbuf_set(err, errsz, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (len < TPL_FILE_MAX + 1) {
		r = read(fd, buf + len, TPL_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			errbuf_set(err, errsz, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = tpl_add_mem(s, path, buf, len, err, errsz);
out:
	close(fd);
	talloc_free(buf);
	return rc;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tpl_set *tpl_load_dir(void *ctx, const char *dir, const struct tpl_placeholder *reg,
			     size_t nreg, char *err, size_t errsz)
{
	struct tpl_set *s = tpl_set_new(ctx, reg, nreg);
	void *tmp = talloc_new(NULL);
	char **names = NULL, *path;
	size_t n = 0, i, nl;
	struct dirent *de;
	DIR *d;

	if (s == NULL || tmp == NULL) {
		errbuf_set(err, errsz, "%s: out of memory", dir);
		goto fail;
	}
	d = opendir(dir);
	if (d == NULL) {
		errbuf_set(err, errsz, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		nl = strlen(de->d_name);
		if (de->d_name[0] == '.' || nl <= 5 || strcmp(de->d_name + nl - 5, ".yaml") != 0)
			continue;
		names = talloc_realloc(tmp, names, char *, n + 1);
		if (names == NULL || (names[n] = talloc_strdup(names, de->d_name)) == NULL) {
			closedir(d);
			errbuf_set(err, errsz, "%s: out of memory", dir);
			goto fail;
		}
		n++;
	}
	closedir(d);
	if (n == 0) {
		errbuf_set(err, errsz, "%s: no *.yaml template files", dir);
		goto fail;
	}
	/* name order, so that the first fault reported is the same on every machine */
	qsort(names, n, sizeof(*names), str_cmp);
	for (i = 0; i < n; i++) {
		path = talloc_asprintf(tmp, "%s/%s", dir, names[i]);
		if (path == NULL) {
			errbuf_set(err, errsz, "%s: out of memory", dir);
			goto fail;
		}
		if (tpl_add_file(s, path, err, errsz) < 0)
			goto fail;
	}
	talloc_free(tmp);
	return s;
fail:
	talloc_free(tmp);
	talloc_free(s);
	return NULL;
}

struct tpl_set *tpl_load_mem(void *ctx, const char *fname, const char *yaml, size_t len,
			     const struct tpl_placeholder *reg, size_t nreg, char *err, size_t errsz)
{
	struct tpl_set *s = tpl_set_new(ctx, reg, nreg);

	if (s == NULL) {
		errbuf_set(err, errsz, "%s: out of memory", fname ? fname : "<memory>");
		return NULL;
	}
	if (tpl_add_mem(s, fname, yaml, len, err, errsz) < 0) {
		talloc_free(s);
		return NULL;
	}
	return s;
}

/* ---- queries and rendering -------------------------------------------------------------- */

int tpl_set_default(struct tpl_set *s, const char *lang)
{
	struct tpl_lang *l = lang_find(s, lang);

	if (l == NULL)
		return -ENOENT;
	s->default_lang = l->code;
	return 0;
}

size_t tpl_languages(const struct tpl_set *s, const char **codes, size_t max)
{
	size_t i;

	for (i = 0; i < s->nlangs && i < max; i++)
		codes[i] = s->langs[i]->code;
	return s->nlangs;
}

const char *tpl_language_name(const struct tpl_set *s, const char *lang)
{
	struct tpl_lang *l = lang_find(s, lang);

	return l ? l->name : NULL;
}

bool tpl_rtl(const struct tpl_set *s, const char *lang)
{
	struct tpl_lang *l = lang_find(s, lang);

	return l ? l->rtl : false;
}

static int render_fail(char *out, size_t outsz, int rc)
{
	if (outsz > 0)
		out[0] = '\0';
	return rc;
}

int tpl_render(const struct tpl_set *s, const char *lang, const char *key,
	       const struct tpl_var *vars, size_t nvars, char *out, size_t outsz, bool *fallback)
{
	const struct tpl_lang *l = lang_find(s, lang);
	const struct tpl_text *t = l ? text_find(l, key) : NULL;
	const char *v, *piece;
	size_t i, j, k, w, o = 0, plen;

	if (fallback != NULL)
		*fallback = false;
	if (t == NULL && (l = lang_find(s, s->default_lang)) != NULL) {
		t = text_find(l, key);
		if (t != NULL && fallback != NULL)
			*fallback = true;
	}
	if (t == NULL)
		return render_fail(out, outsz, -ENOENT);
	v = t->text;
	for (i = 0; i < t->len; i = j) {
		/* the loader vouched for the braces: {{, }}, or {name} with a registered name */
		if (v[i] == '{' && v[i + 1] != '{') {
			for (w = 0; v[i + 1 + w] != '}'; w++)
				;
			for (k = 0; k < nvars; k++)
				if (strncmp(vars[k].name, v + i + 1, w) == 0 && vars[k].name[w] == '\0')
					break;
			if (k == nvars)
				return render_fail(out, outsz, -EINVAL);
			piece = vars[k].val;
			plen = vars[k].len;
			j = i + w + 2;
		} else if (v[i] == '{' || v[i] == '}') {
			piece = v + i;
			plen = 1;
			j = i + 2;
		} else {
			for (j = i; j < t->len && v[j] != '{' && v[j] != '}'; j++)
				;
			piece = v + i;
			plen = j - i;
		}
		if (outsz == 0 || plen >= outsz - o)
			return render_fail(out, outsz, -ENOSPC);
		if (plen > 0)
			memcpy(out + o, piece, plen);
		o += plen;
	}
	if (o >= outsz)
		return render_fail(out, outsz, -ENOSPC);
	out[o] = '\0';
	if (o > INT32_MAX)
		return render_fail(out, outsz, -ENOSPC);
	return (int)o;
}

/* ---- checking --------------------------------------------------------------------------- */

struct tpl_checker {
	tpl_problem_fn report;
	void *arg;
	size_t problems;
};

static void problem(struct tpl_checker *c, const char *lang, const char *key, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static void problem(struct tpl_checker *c, const char *lang, const char *key, const char *fmt,
		    ...)
{
	char msg[512];
	va_list ap;

	c->problems++;
	if (c->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->report(c->arg, lang, key, msg);
}

static bool same_placeholders(const struct tpl_text *a, const struct tpl_text *b)
{
	size_t i;

	if (a->nph != b->nph)
		return false;
	for (i = 0; i < a->nph; i++)
		if (strcmp(a->ph[i], b->ph[i]) != 0)
			return false;
	return true;
}

static void ph_list(char *buf, size_t sz, const struct tpl_text *t)
{
	size_t i, o = 0;
	int n;

	buf[0] = '\0';
	if (t->nph == 0)
		snprintf(buf, sz, "none");
	for (i = 0; i < t->nph && o < sz; i++) {
		n = snprintf(buf + o, sz - o, "%s{%s}", i ? " " : "", t->ph[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* One SMS part: 160 GSM 7-bit septets, or 70 UTF-16 units in UCS-2 (3GPP TS 23.038). */
#define SMS_PART_GSM7 160
#define SMS_PART_UCS2 70

/* The longest of l's texts whose key starts with prefix, in units of its own coding (GSM
 * septets are never fewer than the same text's UTF-16 units, so it bounds either), and
 * whether one of them needs UCS-2. Returns false when l has no such text. */
static bool values_measure(const struct tpl_lang *l, const char *prefix, size_t *units,
			   bool *ucs2)
{
	size_t i, plen = strlen(prefix);
	struct sms_measure m;
	bool any = false;

	*units = 0;
	*ucs2 = false;
	for (i = 0; l != NULL && i < l->ntexts; i++) {
		if (strncmp(l->texts[i].key, prefix, plen) != 0 ||
		    sms_measure(l->texts[i].text, l->texts[i].len, &m) < 0)
			continue;
		any = true;
		if (m.units > *units)
			*units = m.units;
		if (m.coding != SMS_GSM7)
			*ucs2 = true;
	}
	return any;
}

/* The worst rendering of a screen (sms_part: of one SMS part; above: what is shown with it,
 * "with common.invalid_choice above it", for the messages): the literal text measured by sms_measure(), each placeholder adding
 * max_chars units (one septet or one UTF-16 unit per character, see struct tpl_placeholder),
 * or the longest of its values' texts in this language, and UCS-2 as soon as the text or one
 * value needs it. */
static void check_screen(struct tpl_checker *c, const struct tpl_set *s, const char *lang,
			 const struct tpl_text *t, bool sms_part, const char *above)
{
	const struct tpl_lang *l = lang_find(s, lang);
	size_t vunits;
	bool vucs2;
	char *lit = talloc_size(NULL, t->len + 3), *forcing = NULL;
	const struct tpl_placeholder *ph;
	struct sms_measure m, lm;
	size_t i, j, o = 0, extra = 0;
	const char *v = t->text;

	if (lit == NULL) {
		problem(c, lang, t->key, "out of memory measuring the screen");
		return;
	}
	for (i = 0; i < t->len; i = j) {
		if (v[i] == '{' && v[i + 1] != '{') {
			for (j = i + 1; v[j] != '}'; j++)
				;
			ph = reg_find(s, v + i + 1, j - i - 1);
			j++;
			if (ph == NULL)	/* the loader refuses these; a set is never half-checked */
				continue;
			if (ph->values != NULL && values_measure(l, ph->values, &vunits, &vucs2)) {
				extra += vunits;
				if (vucs2 && forcing == NULL)
					forcing = talloc_strdup(lit, ph->name);
				continue;
			}
			extra += ph->max_chars;
			if (!ph->gsm_safe && ph->max_chars > 0 && forcing == NULL)
				forcing = talloc_strndup(lit, ph->name, strlen(ph->name));
		} else if (v[i] == '{' || v[i] == '}') {
			lit[o++] = v[i];
			j = i + 2;
		} else {
			lit[o++] = v[i];
			j = i + 1;
		}
	}
	if (sms_measure(lit, o, &lm) < 0) {
		problem(c, lang, t->key, "text is not valid UTF-8");
		talloc_free(lit);
		return;
	}
	m = lm;
	if (forcing != NULL && lm.coding == SMS_GSM7) {
		/* the literal's UTF-16 units: measured with one UCS-2-only letter (U+0101) more */
		memcpy(lit + o, "\xc4\x81", 2);
		sms_measure(lit, o + 2, &m);
		m.units -= 1;
		m.chars -= 1;
	}
	m.units += extra;
	m.chars += extra;
	if (sms_part) {
		size_t limit = m.coding == SMS_GSM7 ? SMS_PART_GSM7 : SMS_PART_UCS2;

		if (m.units > limit)
			problem(c, lang, t->key, "SMS needs up to %zu %s, one part holds %zu",
				m.units, m.coding == SMS_GSM7 ? "GSM-7 septets" : "UCS-2 units",
				limit);
	} else if (!sms_fits_ussd(&m)) {
		char pre[3 * TPL_KEY_MAX + 80] = "";

		if (above)
			snprintf(pre, sizeof(pre), "%s, ", above);
		if (m.coding == SMS_GSM7)
			problem(c, lang, t->key, "%sscreen needs up to %zu GSM-7 septets, %zu fit",
				pre, m.units, sms_ussd_limit(SMS_GSM7));
		else if (lm.coding == SMS_GSM7)
			problem(c, lang, t->key,
				"%sscreen needs up to %zu UCS-2 units, %zu fit ({%s} may force UCS-2)",
				pre, m.units, sms_ussd_limit(SMS_UCS2), forcing);
		else
			problem(c, lang, t->key, "%sscreen needs up to %zu UCS-2 units, %zu fit",
				pre, m.units, sms_ussd_limit(SMS_UCS2));
	}
	talloc_free(lit);
}

size_t tpl_check(const struct tpl_set *s, const char *default_lang, tpl_screen_fn is_screen,
		 void *screen_arg, tpl_problem_fn report, void *report_arg)
{
	struct tpl_checker c = { .report = report, .arg = report_arg };
	const struct tpl_lang *def, *l;
	char want[256], have[256];
	size_t i, a, b;
	int cmp;

	if (default_lang == NULL)
		default_lang = s->default_lang;
	def = lang_find(s, default_lang);
	if (def == NULL) {
		problem(&c, default_lang, NULL, "default language %s not loaded",
			default_lang ? default_lang : "(none)");
		return c.problems;
	}
	for (i = 0; i < s->nlangs; i++) {
		l = s->langs[i];
		if (l != def) {
			/* both sorted by key: one merge pass finds the missing and the extra */
			for (a = b = 0; a < def->ntexts || b < l->ntexts;) {
				cmp = a == def->ntexts ? 1 : b == l->ntexts ? -1
					: strcmp(def->texts[a].key, l->texts[b].key);
				if (cmp < 0) {
					problem(&c, l->code, def->texts[a].key, "missing (%s has it)",
						def->code);
					a++;
				} else if (cmp > 0) {
					problem(&c, l->code, l->texts[b].key, "not in %s", def->code);
					b++;
				} else {
					if (!same_placeholders(&def->texts[a], &l->texts[b])) {
						ph_list(want, sizeof(want), &def->texts[a]);
						ph_list(have, sizeof(have), &l->texts[b]);
						problem(&c, l->code, l->texts[b].key,
							"placeholders %s, but %s has %s", have,
							def->code, want);
					}
					a++;
					b++;
				}
			}
		}
		if (is_screen == NULL)
			continue;
		for (a = 0; a < l->ntexts; a++)
			if (is_screen(l->texts[a].key, screen_arg))
				check_screen(&c, s, l->code, &l->texts[a], false, NULL);
	}
	return c.problems;
}

size_t tpl_check_sms_part(const struct tpl_set *s, const char *key, tpl_problem_fn report,
			  void *report_arg)
{
	struct tpl_checker c = { .report = report, .arg = report_arg };

	for (size_t i = 0; i < s->nlangs; i++) {
		const struct tpl_lang *l = s->langs[i];

		for (size_t a = 0; a < l->ntexts; a++)
			if (strcmp(l->texts[a].key, key) == 0)
				check_screen(&c, s, l->code, &l->texts[a], true, NULL);
	}
	return c.problems;
}

size_t tpl_check_lines(const struct tpl_set *s, const char *lang, const char *const *keys,
		       size_t n, size_t main, tpl_problem_fn report, void *report_arg)
{
	struct tpl_checker c = { .report = report, .arg = report_arg };
	const struct tpl_lang *l = lang_find(s, lang);
	const struct tpl_text *t[TPL_LINES_MAX];
	struct tpl_text joined;
	char with[3 * TPL_KEY_MAX + 64] = "";
	size_t i, o = 0, w = 0;

	if (l == NULL || n == 0 || n > TPL_LINES_MAX || main >= n)
		return 0;
	for (i = 0; i < n; i++) {
		t[i] = text_find(l, keys[i]);
		if (t[i] == NULL)
			return 0;	/* tpl_check() reports a missing text */
		o += t[i]->len + 1;
	}
	joined = *t[main];
	joined.len = o - 1;
	joined.text = talloc_size(NULL, o);
	if (joined.text == NULL) {
		problem(&c, lang, keys[main], "out of memory measuring the screen");
		return c.problems;
	}
	/* Each text is whole: a placeholder or an escaped brace never spans a newline. */
	for (i = o = 0; i < n; i++) {
		memcpy(joined.text + o, t[i]->text, t[i]->len);
		o += t[i]->len;
		joined.text[o++] = i + 1 < n ? '\n' : '\0';
	}
	/* "with A above it, B and C below it": what the message names besides the text. */
	for (i = 0; i < n && w < sizeof(with); i++) {
		if (i == main)
			continue;
		w += (size_t)snprintf(with + w, sizeof(with) - w, "%s%s",
				      i == 0 || (i == main + 1 && main == 0) ? "with " :
				      i == main + 1 ? (n - main == 2 ? " and " : ", ") :
				      i + 1 == n ? " and " : ", ", keys[i]);
		if (i + 1 == main && w < sizeof(with))
			w += (size_t)snprintf(with + w, sizeof(with) - w, " above it");
		else if (i + 1 == n && w < sizeof(with))
			w += (size_t)snprintf(with + w, sizeof(with) - w, " below it");
	}
	check_screen(&c, s, lang, &joined, false, with[0] ? with : NULL);
	talloc_free(joined.text);
	return c.problems;
}

size_t tpl_check_joined(const struct tpl_set *s, const char *lang, const char *above,
			const char *key, tpl_problem_fn report, void *report_arg)
{
	const char *keys[2] = { above, key };

	return tpl_check_lines(s, lang, keys, 2, 1, report, report_arg);
}
