/* JSON writer, RFC 8259. Escapes '"', '\\' and control characters, and U+2028/U+2029 so that
 * the output is also valid JavaScript; replaces invalid UTF-8 (RFC 3629) with U+FFFD. */
#include "core/json.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json_buf *jb)
{
	memset(jb, 0, sizeof(*jb));
}

void json_free(struct json_buf *jb)
{
	free(jb->data);
	json_init(jb);
}

void json_reset(struct json_buf *jb)
{
	jb->len = 0;
	jb->failed = false;
	jb->need_comma = false;
	if (jb->data)
		jb->data[0] = '\0';
}

static bool reserve(struct json_buf *jb, size_t more)
{
	size_t cap;
	char *p;

	if (jb->failed)
		return false;
	if (jb->len + more + 1 <= jb->cap)
		return true;
	cap = jb->cap ? jb->cap : 256;
	while (cap < jb->len + more + 1) {
		if (cap > SIZE_MAX / 2) {
			jb->failed = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(jb->data, cap);
	if (p == NULL) {
		jb->failed = true;
		return false;
	}
	jb->data = p;
	jb->cap = cap;
	return true;
}

static void put(struct json_buf *jb, const char *s, size_t n)
{
	if (!reserve(jb, n))
		return;
	memcpy(jb->data + jb->len, s, n);
	jb->len += n;
	jb->data[jb->len] = '\0';
}

static void puts_(struct json_buf *jb, const char *s)
{
	put(jb, s, strlen(s));
}

void json_string(struct json_buf *jb, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;
	int32_t cp;
	char esc[8];

	put(jb, "\"", 1);
	while (i < len) {
		cp = utf8_decode(s + i, len - i, &n);
		if (cp < 0) {
			puts_(jb, "\\ufffd");
			i++;
			continue;
		}
		if (cp == '"') {
			puts_(jb, "\\\"");
		} else if (cp == '\\') {
			puts_(jb, "\\\\");
		} else if (cp == '\n') {
			puts_(jb, "\\n");
		} else if (cp == '\r') {
			puts_(jb, "\\r");
		} else if (cp == '\t') {
			puts_(jb, "\\t");
		} else if (cp < 0x20 || cp == 0x7F || cp == 0x2028 || cp == 0x2029) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			puts_(jb, esc);
		} else {
			put(jb, (const char *)s + i, n);
		}
		i += n;
	}
	put(jb, "\"", 1);
}

static void key(struct json_buf *jb, const char *k)
{
	if (jb->need_comma)
		put(jb, ",", 1);
	json_string(jb, k, strlen(k));
	put(jb, ":", 1);
	jb->need_comma = true;
}

void json_object_begin(struct json_buf *jb)
{
	if (jb->need_comma)
		put(jb, ",", 1);
	put(jb, "{", 1);
	jb->need_comma = false;
}

void json_object_end(struct json_buf *jb)
{
	put(jb, "}", 1);
	jb->need_comma = true;
}

void json_key_str(struct json_buf *jb, const char *k, const char *s, size_t len)
{
	key(jb, k);
	json_string(jb, s, len);
}

void json_key_cstr(struct json_buf *jb, const char *k, const char *s)
{
	if (s == NULL) {
		json_key_null(jb, k);
		return;
	}
	json_key_str(jb, k, s, strlen(s));
}

void json_key_bool(struct json_buf *jb, const char *k, bool v)
{
	key(jb, k);
	puts_(jb, v ? "true" : "false");
}

void json_key_int(struct json_buf *jb, const char *k, long long v)
{
	char num[24];

	key(jb, k);
	snprintf(num, sizeof(num), "%lld", v);
	puts_(jb, num);
}

void json_key_null(struct json_buf *jb, const char *k)
{
	key(jb, k);
	puts_(jb, "null");
}

void json_key_array_begin(struct json_buf *jb, const char *k)
{
	key(jb, k);
	put(jb, "[", 1);
	jb->need_comma = false;
}

void json_array_str(struct json_buf *jb, const char *s, size_t len)
{
	if (jb->need_comma)
		put(jb, ",", 1);
	json_string(jb, s, len);
	jb->need_comma = true;
}

void json_key_object_begin(struct json_buf *jb, const char *k)
{
	key(jb, k);
	put(jb, "{", 1);
	jb->need_comma = false;
}

void json_array_end(struct json_buf *jb)
{
	put(jb, "]", 1);
	jb->need_comma = true;
}
