#include "config.h"
#include "shim/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct json *json_new(enum json_type t)
{
	struct json *j = calloc(1, sizeof(*j));
	if (j)
		j->type = t;
	return j;
}

static struct json *json_new_bytes(enum json_type t, const char *s, size_t len)
{
	struct json *j = json_new(t);
	if (j == NULL)
		return NULL;
	j->u.str.s = malloc(len + 1);
	if (j->u.str.s == NULL) {
		free(j);
		return NULL;
	}
	memcpy(j->u.str.s, s, len);
	j->u.str.s[len] = '\0';
	j->u.str.len = len;
	return j;
}

int json_push(struct json *arr, struct json *val, rw_error_t *err)
{
	if (val == NULL || arr == NULL || arr->type != JSON_ARRAY) {
		json_free(val);
		return rw_error(err, ENOMEM, "json");
	}
	if (arr->u.arr.n == arr->u.arr.cap) {
		size_t cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 8;
		struct json **v = realloc(arr->u.arr.v, cap * sizeof(*v));
		if (v == NULL) {
			json_free(val);
			return rw_error(err, ENOMEM, "json");
		}
		arr->u.arr.v = v;
		arr->u.arr.cap = cap;
	}
	arr->u.arr.v[arr->u.arr.n++] = val;
	return 0;
}

struct json *json_new_string(const char *s)
{
	return json_new_bytes(JSON_STRING, s, strlen(s));
}

struct json *json_new_stringn(const char *s, size_t len)
{
	return json_new_bytes(JSON_STRING, s, len);
}

void json_free(struct json *j)
{
	size_t i;

	if (j == NULL)
		return;
	switch (j->type) {
	case JSON_STRING:
	case JSON_NUMBER:
		free(j->u.str.s);
		break;
	case JSON_ARRAY:
		for (i = 0; i < j->u.arr.n; i++)
			json_free(j->u.arr.v[i]);
		free(j->u.arr.v);
		break;
	case JSON_OBJECT:
		for (i = 0; i < j->u.obj.n; i++) {
			free(j->u.obj.m[i].key);
			json_free(j->u.obj.m[i].val);
		}
		free(j->u.obj.m);
		break;
	default:
		break;
	}
	free(j);
}

void json_freep(struct json **j)
{
	json_free(*j);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Parser: callbacks build the tree with an explicit stack of open containers,
 * so depth costs heap, not C stack. */
struct parse_ctx {
	yajl_handle h;
	const char *buf;
	struct json *root;
	struct json **stack;
	size_t depth, cap;
	char *pending_key;      /* key waiting for its value */
	size_t pending_klen, pending_koff;
	bool too_deep, oom;
};

/* Where the token yajl has just handed over starts: yajl's offset is just
 * past it, so walk back over a string (to its unescaped opening quote), a
 * number or literal, or one bracket. */
static size_t token_start(const struct parse_ctx *c, enum json_type t)
{
	size_t end = yajl_get_bytes_consumed(c->h), i;

	if (end == 0)
		return 0;
	if (t == JSON_STRING) {
		for (i = end - 1; i-- > 0;) {
			size_t bs = 0;
			if (c->buf[i] != '"')
				continue;
			while (bs < i && c->buf[i - 1 - bs] == '\\')
				bs++;
			if (bs % 2 == 0)
				return i;
		}
		return 0;
	}
	if (t == JSON_OBJECT || t == JSON_ARRAY)
		return end - 1;
	for (i = end; i > 0 && strchr("0123456789+-.eEtruefalsn", c->buf[i - 1]) && c->buf[i - 1]; i--)
		;
	return i;
}

static int attach(struct parse_ctx *c, struct json *v)
{
	struct json *top;

	if (v == NULL) {
		c->oom = true;
		return 0;
	}
	v->off = token_start(c, v->type);
	if (c->depth == 0) {
		c->root = v;
		return 1;
	}
	top = c->stack[c->depth - 1];
	if (top->type == JSON_ARRAY) {
		if (grow((void **)&top->u.arr.v, &top->u.arr.cap, top->u.arr.n + 1, sizeof(*top->u.arr.v)) < 0)
			goto oom;
		top->u.arr.v[top->u.arr.n++] = v;
	} else {
		struct json_member *m;
		if (grow((void **)&top->u.obj.m, &top->u.obj.cap, top->u.obj.n + 1, sizeof(*top->u.obj.m)) < 0)
			goto oom;
		m = &top->u.obj.m[top->u.obj.n++];
		m->key = c->pending_key;
		m->klen = c->pending_klen;
		m->koff = c->pending_koff;
		m->val = v;
		c->pending_key = NULL;
	}
	return 1;
oom:
	json_free(v);
	c->oom = true;
	return 0;
}

static int open_container(struct parse_ctx *c, enum json_type t)
{
	struct json *v;

	if (c->depth >= JSON_MAX_DEPTH) {
		c->too_deep = true;
		return 0;
	}
	if (grow((void **)&c->stack, &c->cap, c->depth + 1, sizeof(*c->stack)) < 0) {
		c->oom = true;
		return 0;
	}
	v = json_new(t);
	if (!attach(c, v))
		return 0;
	c->stack[c->depth++] = v;
	return 1;
}

static int cb_null(void *ctx) { return attach(ctx, json_new(JSON_NULL)); }
static int cb_bool(void *ctx, int b) { return attach(ctx, json_new(b ? JSON_TRUE : JSON_FALSE)); }
static int cb_number(void *ctx, const char *s, size_t l) { return attach(ctx, json_new_bytes(JSON_NUMBER, s, l)); }
static int cb_string(void *ctx, const unsigned char *s, size_t l)
{
	return attach(ctx, json_new_bytes(JSON_STRING, (const char *)s, l));
}
static int cb_start_map(void *ctx) { return open_container(ctx, JSON_OBJECT); }
static int cb_start_array(void *ctx) { return open_container(ctx, JSON_ARRAY); }
static int cb_end(void *ctx)
{
	struct parse_ctx *c = ctx;
	c->depth--;
	return 1;
}
static int cb_map_key(void *ctx, const unsigned char *s, size_t l)
{
	struct parse_ctx *c = ctx;

	free(c->pending_key);
	c->pending_key = malloc(l + 1);
	if (c->pending_key == NULL) {
		c->oom = true;
		return 0;
	}
	memcpy(c->pending_key, s, l);
	c->pending_key[l] = '\0';
	c->pending_klen = l;
	c->pending_koff = token_start(c, JSON_STRING);
	return 1;
}

static const yajl_callbacks parse_callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

void json_line_col(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int json_parse(const char *buf, size_t len, unsigned flags, const char *name,
	       struct json **out, rw_error_t *err)
{
	struct parse_ctx c = { 0 };
	yajl_handle h;
	yajl_status st;
	size_t line, col, off;

	*out = NULL;
	h = yajl_alloc(&parse_callbacks, NULL, &c);
	if (h == NULL)
		return rw_error(err, ENOMEM, "%s", name);
	c.h = h;
	c.buf = buf;
	if (flags & JSON_ALLOW_COMMENTS)
		yajl_config(h, yajl_allow_comments, 1);
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_ok && c.root == NULL)
		st = yajl_status_error;
	if (st != yajl_status_ok) {
		off = yajl_get_bytes_consumed(h);
		json_line_col(buf, len, off, &line, &col);
		if (c.too_deep)
			rw_error(err, 0, "%s:%zu:%zu: JSON nested deeper than %d levels", name, line, col, JSON_MAX_DEPTH);
		else if (c.oom)
			rw_error(err, ENOMEM, "%s", name);
		else if (len == 0)
			rw_error(err, 0, "%s: empty file, expected a JSON document", name);
		else {
			unsigned char *ymsg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
			char *nl;
			const char *m = ymsg ? (const char *)ymsg : "malformed JSON";
			/* yajl's message is "parse error: what\n" or "lexical error: what\n" */
			if ((nl = strchr((char *)m, '\n')) != NULL)
				*nl = '\0';
			rw_error(err, 0, "%s:%zu:%zu: invalid JSON: %s", name, line, col, m);
			if (ymsg)
				yajl_free_error(h, ymsg);
		}
		yajl_free(h);
		json_free(c.root);
		free(c.stack);
		free(c.pending_key);
		return -1;
	}
	yajl_free(h);
	free(c.stack);
	free(c.pending_key);
	*out = c.root;
	return 0;
}

/* Emitter */
static int put(struct json_buf *b, const char *s, size_t n)
{
	if (grow((void **)&b->p, &b->cap, b->len + n + 1, 1) < 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int put_string(struct json_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	if (put(b, "\"", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[7];
		size_t elen = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		if (put(b, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
			elen = 6;
		}
		if (put(b, esc, elen) < 0)
			return -1;
	}
	if (put(b, s + run, n - run) < 0)
		return -1;
	return put(b, "\"", 1);
}

static int emit(const struct json *j, struct json_buf *b)
{
	size_t i;

	switch (j->type) {
	case JSON_NULL: return put(b, "null", 4);
	case JSON_FALSE: return put(b, "false", 5);
	case JSON_TRUE: return put(b, "true", 4);
	case JSON_NUMBER: return put(b, j->u.str.s, j->u.str.len);
	case JSON_STRING: return put_string(b, j->u.str.s, j->u.str.len);
	case JSON_ARRAY:
		if (put(b, "[", 1) < 0)
			return -1;
		for (i = 0; i < j->u.arr.n; i++)
			if ((i && put(b, ",", 1) < 0) || emit(j->u.arr.v[i], b) < 0)
				return -1;
		return put(b, "]", 1);
	case JSON_OBJECT:
		if (put(b, "{", 1) < 0)
			return -1;
		for (i = 0; i < j->u.obj.n; i++) {
			const struct json_member *m = &j->u.obj.m[i];
			if ((i && put(b, ",", 1) < 0) || put_string(b, m->key, m->klen) < 0 ||
			    put(b, ":", 1) < 0 || emit(m->val, b) < 0)
				return -1;
		}
		return put(b, "}", 1);
	}
	return -1;
}

int json_buf_add_nl(struct json_buf *b)
{
	return put(b, "\n", 1);
}

int json_emit(const struct json *j, struct json_buf *out, rw_error_t *err)
{
	if (emit(j, out) < 0)
		return rw_error(err, ENOMEM, "writing JSON");
	return 0;
}

static struct json_member *find_member(const struct json *obj, const char *key)
{
	size_t klen = strlen(key), i;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	for (i = obj->u.obj.n; i-- > 0;) {
		struct json_member *m = &obj->u.obj.m[i];
		if (m->klen == klen && memcmp(m->key, key, klen) == 0)
			return m;
	}
	return NULL;
}

struct json *json_get(const struct json *obj, const char *key)
{
	struct json_member *m = find_member(obj, key);
	return m ? m->val : NULL;
}

struct json *json_getv(const struct json *obj, ...)
{
	va_list ap;
	const char *k;
	const struct json *cur = obj;

	va_start(ap, obj);
	while (cur && (k = va_arg(ap, const char *)) != NULL)
		cur = json_get(cur, k);
	va_end(ap);
	return (struct json *)cur;
}

int json_set(struct json *obj, const char *key, struct json *val, rw_error_t *err)
{
	struct json_member *m;

	if (val == NULL)
		return rw_error(err, ENOMEM, "setting %s", key);
	if (obj->type != JSON_OBJECT) {
		json_free(val);
		return rw_error(err, 0, "cannot set \"%s\": not inside a JSON object", key);
	}
	m = find_member(obj, key);
	if (m) {
		json_free(m->val);
		m->val = val;
		return 0;
	}
	if (grow((void **)&obj->u.obj.m, &obj->u.obj.cap, obj->u.obj.n + 1, sizeof(*obj->u.obj.m)) < 0 ||
	    (m = &obj->u.obj.m[obj->u.obj.n], (m->key = strdup(key)) == NULL)) {
		json_free(val);
		return rw_error(err, ENOMEM, "setting %s", key);
	}
	m->klen = strlen(key);
	m->val = val;
	obj->u.obj.n++;
	return 0;
}

struct json *json_get_object(struct json *obj, const char *key, rw_error_t *err)
{
	struct json *v = json_get(obj, key);

	if (v == NULL || v->type == JSON_NULL) {
		/* A null "annotations" is what Go writes for an empty map: replace it. */
		if (json_set(obj, key, json_new(JSON_OBJECT), err) < 0)
			return NULL;
		return json_get(obj, key);
	}
	if (v->type != JSON_OBJECT) {
		rw_error(err, 0, "\"%s\" is not a JSON object", key);
		return NULL;
	}
	return v;
}

bool json_is_string(const struct json *j, const char *s)
{
	return j && j->type == JSON_STRING && j->u.str.len == strlen(s) && memcmp(j->u.str.s, s, j->u.str.len) == 0;
}

struct json *json_new_int(long long v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", v);
	return json_new_bytes(JSON_NUMBER, buf, (size_t)n);
}

size_t json_remove_if(struct json *obj, bool (*match)(const char *key, size_t klen))
{
	size_t i, o = 0, removed = 0;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return 0;
	for (i = 0; i < obj->u.obj.n; i++) {
		struct json_member *m = &obj->u.obj.m[i];
		if (match(m->key, m->klen)) {
			free(m->key);
			json_free(m->val);
			removed++;
			continue;
		}
		obj->u.obj.m[o++] = *m;
	}
	obj->u.obj.n = o;
	return removed;
}

bool json_int(const struct json *j, long long *out)
{
	char *end;

	if (j == NULL || j->type != JSON_NUMBER || strpbrk(j->u.str.s, ".eE"))
		return false;
	errno = 0;
	*out = strtoll(j->u.str.s, &end, 10);
	return *end == '\0' && errno == 0;
}
