/* KYC digests: IDs normalised as people write them, the whole ID and its last characters
 * verified through keyed digests, nothing verifiable without the key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/kyc.h"

static const uint8_t key[] = "0123456789abcdef-test-key";
#define KEYLEN (sizeof(key) - 1)

struct norm_case {
	const char *name;
	const char *in;
	const char *out;	/* NULL: rejected */
};

static const struct norm_case norm_cases[] = {
	{ "kyc id: plain digits", "12345678", "12345678" },
	{ "kyc id: spaces and dashes", "12 345-678", "12345678" },
	{ "kyc id: passport letters upper-cased", "a1234567", "A1234567" },
	{ "kyc id: Arabic-Indic digits", "\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5", "12345" },
	{ "kyc id: full-width digits", "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94", "1234" },
	{ "kyc id: four is the least", "123", NULL },
	{ "kyc id: 32 is the most", "123456789012345678901234567890123", NULL },
	{ "kyc id: 32 characters", "12345678901234567890123456789012",
	  "12345678901234567890123456789012" },
	{ "kyc id: punctuation", "1234*5678", NULL },
	{ "kyc id: accented letter", "12345\xc3\xa9", NULL },
	{ "kyc id: empty", "", NULL },
	{ "kyc id: invalid UTF-8", "1234\xff", NULL },
};

static void test_norm(void **state)
{
	const struct norm_case *c = *state;
	char out[KYC_ID_MAX + 1];
	int n = kyc_normalise(c->in, strlen(c->in), out);

	if (c->out == NULL) {
		assert_int_equal(n, -EINVAL);
		return;
	}
	assert_int_equal(n, (int)strlen(c->out));
	assert_string_equal(out, c->out);
}

static void digest_of(const char *id, const uint8_t *k, size_t kl, struct kyc_digest *d)
{
	char norm[KYC_ID_MAX + 1];
	int n = kyc_normalise(id, strlen(id), norm);

	assert_true(n > 0);
	kyc_digest(k, kl, norm, (size_t)n, d);
}

static void test_match(void **state)
{
	static const uint8_t other[] = "another-key-of-16+bytes";
	struct kyc_digest d, d2;

	(void)state;
	digest_of("12 345 678", key, KEYLEN, &d);
	assert_true(kyc_matches(key, KEYLEN, "12345678", 8, &d));	/* whole ID */
	assert_true(kyc_matches(key, KEYLEN, "12-345-678", 10, &d));
	assert_true(kyc_matches(key, KEYLEN, "5678", 4, &d));		/* its last four */
	assert_true(kyc_matches(key, KEYLEN, "\xd9\xa5\xd9\xa6\xd9\xa7\xd9\xa8", 8, &d));
	assert_false(kyc_matches(key, KEYLEN, "5679", 4, &d));
	assert_false(kyc_matches(key, KEYLEN, "1234", 4, &d));		/* first four */
	assert_false(kyc_matches(key, KEYLEN, "12345679", 8, &d));
	assert_false(kyc_matches(key, KEYLEN, "345678", 6, &d));	/* neither */
	assert_false(kyc_matches(key, KEYLEN, "", 0, &d));
	assert_false(kyc_matches(key, KEYLEN, "56*8", 4, &d));
	assert_false(kyc_matches(other, sizeof(other) - 1, "12345678", 8, &d));
	/* The same ID digests the same; another key, differently. */
	digest_of("12345678", key, KEYLEN, &d2);
	assert_memory_equal(&d, &d2, sizeof(d));
	digest_of("12345678", other, sizeof(other) - 1, &d2);
	assert_memory_not_equal(d.full, d2.full, sizeof(d.full));
	/* The two digests of one ID are not the same bytes. */
	assert_memory_not_equal(d.full, d.tail, sizeof(d.tail));
}

static void test_key_file(void **state)
{
	char path[] = "/tmp/ceirgw-kyc-key-XXXXXX", err[256];
	uint8_t k[1024];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short\n", 6), 6);
	assert_int_equal(kyc_read_key(path, k, sizeof(k), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "16"));
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "0123456789abcdefXYZ\n", 20, 0), 20);
	assert_int_equal(kyc_read_key(path, k, sizeof(k), err, sizeof(err)), 19);
	assert_memory_equal(k, "0123456789abcdefXYZ", 19);
	close(fd);
	unlink(path);
	assert_int_equal(kyc_read_key(path, k, sizeof(k), err, sizeof(err)), -ENOENT);
}

#define NNORM (sizeof(norm_cases) / sizeof(norm_cases[0]))

int main(void)
{
	struct CMUnitTest tests[NNORM + 2];
	size_t i, n = 0;

	for (i = 0; i < NNORM; i++)
		tests[n++] = (struct CMUnitTest){ .name = norm_cases[i].name, .test_func = test_norm,
						  .initial_state = (void *)&norm_cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_match);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_key_file);
	return _cmocka_run_group_tests("kyc", tests, n, NULL, NULL);
}
