/* A JSON tree that round-trips config.json losslessly: object members keep
 * their order (duplicates included), numbers keep their source text (so
 * integers up to 2^64-1 and beyond stay exact), strings are byte strings
 * (embedded NUL allowed). yajl parses; the emitter is ours because yajl_gen
 * caps nesting at 128 levels. */
#ifndef RW_JSON_H
#define RW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include "shim/error.h"

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json;
struct json_member {
	char *key;
	size_t klen;
	size_t koff;            /* offset of the key's opening quote in the source */
	struct json *val;
};
struct json {
	enum json_type type;
	size_t off;             /* offset of the value's first byte in the source (0 when built) */
	union {
		struct { char *s; size_t len; } str;          /* STRING, NUMBER (source text) */
		struct { struct json **v; size_t n, cap; } arr;
		struct { struct json_member *m; size_t n, cap; } obj;
	} u;
};

/* Deeper documents are refused: Go's encoding/json (runc, containerd) stops
 * at 10000; no OCI document comes near 100. */
#define JSON_MAX_DEPTH 1000

enum { JSON_ALLOW_COMMENTS = 1 };

/* Parses buf[0..len). On error *err says what and where ("line L column C").
 * name prefixes the message (a file name or "stdin"). */
int json_parse(const char *buf, size_t len, unsigned flags, const char *name,
	       struct json **out, rw_error_t *err);
void json_free(struct json *j);
/* 1-based line and column of a source offset. */
void json_line_col(const char *buf, size_t len, size_t off, size_t *line, size_t *col);
void json_freep(struct json **j);
#define cleanup_json __attribute__((cleanup(json_freep)))

/* Appends the compact text of j to a malloc'd buffer. */
struct json_buf { char *p; size_t len, cap; };
int json_emit(const struct json *j, struct json_buf *out, rw_error_t *err);
int json_buf_add_nl(struct json_buf *b);

struct json *json_new(enum json_type t);
struct json *json_new_string(const char *s);
/* A string of len bytes, which may hold NULs. */
struct json *json_new_stringn(const char *s, size_t len);
struct json *json_new_int(long long v);
/* Appends val (taken, freed on failure) to the array arr. */
int json_push(struct json *arr, struct json *val, rw_error_t *err);
/* Removes every member of obj whose key matches; returns how many. */
size_t json_remove_if(struct json *obj, bool (*match)(const char *key, size_t klen));
/* A number's value, when it is an integer that fits. */
bool json_int(const struct json *j, long long *out);
/* The value of the last member named key (the one Go's decoder keeps), or NULL. */
struct json *json_get(const struct json *obj, const char *key);
/* Path of keys, NULL-terminated: json_getv(root, "process", "args", NULL). */
struct json *json_getv(const struct json *obj, ...) __attribute__((sentinel));
/* Replaces the value of the last member named key, in place, or appends a member.
 * Takes ownership of val (freed on failure). */
int json_set(struct json *obj, const char *key, struct json *val, rw_error_t *err);
/* Object member key, created empty when missing; NULL (and *err) when it is not an object. */
struct json *json_get_object(struct json *obj, const char *key, rw_error_t *err);
bool json_is_string(const struct json *j, const char *s);

#endif
