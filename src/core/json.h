/* A small JSON writer (RFC 8259) into a growing buffer, for the CLI's --json lines and the
 * HTTP replies. Strings are escaped so that any bytes, hostile ones too, give valid JSON:
 * invalid UTF-8 becomes U+FFFD. */
#ifndef CEIRGW_CORE_JSON_H
#define CEIRGW_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct json_buf {
	char *data;		/* NUL-terminated once anything was written */
	size_t len, cap;
	bool failed;		/* an allocation failed: the content is incomplete */
	bool need_comma;
};

void json_init(struct json_buf *jb);
void json_free(struct json_buf *jb);
/* Empties the buffer and keeps its memory. */
void json_reset(struct json_buf *jb);

void json_object_begin(struct json_buf *jb);
void json_object_end(struct json_buf *jb);
void json_key_str(struct json_buf *jb, const char *key, const char *s, size_t len);
/* s may be NULL: then the value is null. */
void json_key_cstr(struct json_buf *jb, const char *key, const char *s);
void json_key_bool(struct json_buf *jb, const char *key, bool v);
void json_key_int(struct json_buf *jb, const char *key, long long v);
void json_key_null(struct json_buf *jb, const char *key);
/* "key":[ ... ]: objects (json_object_begin) between the two, separated by commas. */
void json_key_array_begin(struct json_buf *jb, const char *key);
void json_array_end(struct json_buf *jb);
/* A string as an element of an array. */
void json_array_str(struct json_buf *jb, const char *s, size_t len);
/* "key":{ ... }, closed by json_object_end. */
void json_key_object_begin(struct json_buf *jb, const char *key);

/* Appends s[0..len) as a quoted, escaped JSON string. */
void json_string(struct json_buf *jb, const char *s, size_t len);

#endif
