/* libFuzzer harness for the template loader, renderer and checker (flow/templates.h; YAML 1.1
 * through libyaml, USSD limits of 3GPP TS 23.038). The input is one or two files split at the
 * first NUL: en.yaml and fr.yaml. Besides crashes it checks what the header promises: a
 * rendering's length, -ENOSPC exactly below it, and a set left unchanged by a failed load. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <talloc.h>

#include "fuzzlib.h"

#include "flow/templates.h"

static const struct tpl_placeholder reg[] = {
	{ "ref", 10, true, NULL }, { "maker", 24, false, NULL }, { "model", 32, false, NULL },
	{ "date", 10, true, NULL }, { "reason", 40, false, NULL },
};
#define NREG (sizeof(reg) / sizeof(reg[0]))

/* Every key is a screen: the worst-case measure runs on everything. */
static bool every_key(const char *key, void *arg)
{
	return true;
}

struct keys {
	char names[64][TPL_KEY_MAX + 1];
	size_t n;
};

static void count(void *arg, const char *lang, const char *key, const char *msg)
{
	struct keys *k = arg;

	CHECK(msg != NULL && msg[0] != '\0');
	if (key != NULL && k->n < 64) {
		CHECK(strlen(key) <= TPL_KEY_MAX);
		strcpy(k->names[k->n++], key);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* values with braces: never expanded, so the output holds them as they are */
	const struct tpl_var vars[] = {
		{ "ref", "{ref}", 5 }, { "maker", "Tecno", 5 }, { "model", "{{x}", 4 },
		{ "date", "2024-05-01", 10 }, { "reason", "", 0 },
	};
	const char *split = memchr(data, '\0', size), *codes[4];
	size_t len1 = split ? (size_t)(split - (const char *)data) : size, i, nl;
	void *ctx = talloc_new(NULL);
	struct tpl_set *s = tpl_set_new(ctx, reg, NREG);
	static char out[16384];
	char err[256];
	/* keys the corpus uses, then those the checker names (missing, extra, too long) */
	struct keys k = { .names = { "a", "b", "c", "menu.main", "check.result_clean" }, .n = 5 };
	bool fb;
	int n, m;

	CHECK(s != NULL);
	if (tpl_add_mem(s, "en.yaml", (const char *)data, len1, err, sizeof(err)) < 0)
		CHECK(tpl_languages(s, codes, 4) == 0 && strncmp(err, "en.yaml", 7) == 0);
	if (split != NULL
	    && tpl_add_mem(s, "fr.yaml", split + 1, size - len1 - 1, err, sizeof(err)) < 0)
		CHECK(strncmp(err, "fr.yaml", 7) == 0);
	nl = tpl_languages(s, codes, 4);
	CHECK(nl <= 2);
	if (nl == 0)
		goto out;
	tpl_set_default(s, codes[0]);
	tpl_check(s, NULL, every_key, NULL, count, &k);
	for (i = 0; i < k.n; i++) {
		n = tpl_render(s, "fr", k.names[i], vars, NREG, out, sizeof(out), &fb);
		CHECK(n == -ENOENT || n >= 0);
		if (n < 0)
			continue;
		CHECK((size_t)n == strlen(out));
		m = tpl_render(s, "fr", k.names[i], vars, NREG, out, (size_t)n + 1, NULL);
		CHECK(m == n);
		m = tpl_render(s, "fr", k.names[i], vars, NREG, out, (size_t)n, NULL);
		CHECK(m == -ENOSPC && (n == 0 || out[0] == '\0'));
		/* without values every placeholder is missing; a text without any renders */
		m = tpl_render(s, "fr", k.names[i], NULL, 0, out, sizeof(out), NULL);
		CHECK(m == -EINVAL || m >= 0);
	}
out:
	talloc_free(ctx);
	return 0;
}
