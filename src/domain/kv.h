/* A field and its value, as a Redis hash or a stream entry holds them: binary-safe
 * (pointer and length). Defined in the domain, below the store, so that the domain's
 * decoders (report.h) read what the store lends without including it; the store and
 * everything above use it under this name. */
#ifndef CEIRGW_DOMAIN_KV_H
#define CEIRGW_DOMAIN_KV_H

#include <stddef.h>

struct store_kv {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
};

#endif
