#include "config.h"
#include "shim/json.h"
#include "tests/unit/tap.h"

#include <string.h>

/* Parses in, emits, returns the emitted text (caller frees) or NULL. */
static char *roundtrip(const char *in, size_t len)
{
	struct json *j = NULL;
	struct json_buf b = { 0 };
	rw_error_t err = NULL;

	if (json_parse(in, len, 0, "test", &j, &err) < 0) {
		printf("# parse error: %s\n", err->msg);
		rw_error_free(&err);
		return NULL;
	}
	if (json_emit(j, &b, &err) < 0) {
		rw_error_free(&err);
		free(b.p);
		b.p = NULL;
	}
	json_free(j);
	return b.p;
}

static void same(const char *in, const char *what)
{
	char *out = roundtrip(in, strlen(in));
	ok(out && strcmp(out, in) == 0, "round trip keeps %s", what);
	if (out && strcmp(out, in) != 0)
		printf("#   in:  %s\n#   out: %s\n", in, out);
	free(out);
}

static void refused(const char *in, size_t len, const char *needle, const char *what)
{
	struct json *j = NULL;
	rw_error_t err = NULL;
	int r = json_parse(in, len, 0, "f.json", &j, &err);

	ok(r < 0 && j == NULL && err && strstr(err->msg, needle), "refuses %s", what);
	if (err && !strstr(err->msg, needle))
		printf("#   message: %s\n", err->msg);
	rw_error_free(&err);
	json_free(j);
}

int main(void)
{
	same("{\"ociVersion\":\"1.0.2\",\"zeta\":1,\"alpha\":2,\"future\":{\"x\":[1,{\"y\":null}]}}",
	     "key order and unknown fields");
	same("{\"u64\":18446744073709551615,\"big\":123456789012345678901234567890,\"neg\":-9223372036854775808}",
	     "integers beyond 2^53 exactly");
	same("{\"f\":1.5e-300,\"g\":-0.0,\"h\":1E+2,\"i\":0}", "number text as written");
	same("{\"a\":1,\"a\":2}", "duplicate keys");
	same("{\"s\":\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3\"}", "non-ASCII text");
	same("{\"e\":\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f c\\u0001 nul\\u0000 x\"}", "escapes");
	same("{\"\":\"\",\"t\":true,\"f\":false,\"n\":null,\"a\":[],\"o\":{}}", "empty and literal values");

	{
		/* "\u00e9" and "\/" decode to the same string; values stay identical */
		char *out = roundtrip("{\"s\":\"\\u00e9\\/\"}", 16);
		ok(out && strcmp(out, "{\"s\":\"\xc3\xa9/\"}") == 0, "unicode escapes decode to the same value");
		free(out);
	}
	{
		/* nesting at the limit round-trips */
		size_t d = JSON_MAX_DEPTH, i;
		char *in = malloc(2 * d + 1), *out;
		for (i = 0; i < d; i++) {
			in[i] = '[';
			in[2 * d - 1 - i] = ']';
		}
		in[2 * d] = '\0';
		out = roundtrip(in, 2 * d);
		ok(out && strcmp(out, in) == 0, "nesting %zu deep round-trips", d);
		free(out);
		free(in);
	}
	{
		size_t d = 100000, i;
		char *in = malloc(d);
		for (i = 0; i < d; i++)
			in[i] = '[';
		refused(in, d, "nested deeper than", "nesting 100000 deep");
		free(in);
	}
	refused("", 0, "empty", "an empty document");
	refused("{\"a\":1", 6, "invalid JSON", "a truncated document");
	refused("{\"a\":1}x", 8, "invalid JSON", "trailing garbage");
	refused("{\"a\":\"\xff\xfe\"}", 9, "invalid JSON", "invalid UTF-8");
	refused("{\n  \"a\": tru\n}", 14, "f.json:2:", "with the line of the error");
	refused("{/* c */\"a\":1}", 14, "invalid JSON", "comments unless allowed");
	{
		struct json *j = NULL;
		rw_error_t err = NULL;
		ok(json_parse("{/* c */\"a\":1 // d\n}", 20, JSON_ALLOW_COMMENTS, "p", &j, &err) == 0,
		   "comments allowed when asked");
		json_free(j);
		rw_error_free(&err);
	}
	{
		struct json *j = NULL, *ann;
		struct json_buf b = { 0 };
		rw_error_t err = NULL;
		const char *in = "{\"a\":1,\"annotations\":{\"k\":\"v\",\"x\":\"old\"},\"z\":[]}";
		json_parse(in, strlen(in), 0, "t", &j, &err);
		ann = json_get_object(j, "annotations", &err);
		json_set(ann, "x", json_new_string("new"), &err);
		json_set(ann, "y", json_new_string("add"), &err);
		json_emit(j, &b, &err);
		ok(b.p && strcmp(b.p, "{\"a\":1,\"annotations\":{\"k\":\"v\",\"x\":\"new\",\"y\":\"add\"},\"z\":[]}") == 0,
		   "set replaces in place and appends new keys at the end");
		free(b.p);
		json_free(j);
		rw_error_free(&err);
	}
	{
		struct json *j = NULL, *ann;
		struct json_buf b = { 0 };
		rw_error_t err = NULL;
		json_parse("{\"annotations\":null}", 20, 0, "t", &j, &err);
		ann = json_get_object(j, "annotations", &err);
		json_set(ann, "k", json_new_string("v"), &err);
		json_emit(j, &b, &err);
		ok(b.p && strcmp(b.p, "{\"annotations\":{\"k\":\"v\"}}") == 0, "null annotations become an object");
		free(b.p);
		json_free(j);
		rw_error_free(&err);
	}
	{
		struct json *j = NULL;
		rw_error_t err = NULL;
		json_parse("{\"annotations\":[1]}", 19, 0, "t", &j, &err);
		ok(json_get_object(j, "annotations", &err) == NULL && err, "annotations of the wrong type is an error");
		json_free(j);
		rw_error_free(&err);
	}
	{
		struct json *j = NULL;
		rw_error_t err = NULL;
		const char *in = "{\"a\":{\"b\":{\"c\":\"d\"}},\"a\":{\"b\":{\"c\":\"e\"}}}";
		json_parse(in, strlen(in), 0, "t", &j, &err);
		ok(json_is_string(json_getv(j, "a", "b", "c", NULL), "e"), "get takes the last duplicate, as Go does");
		json_free(j);
	}
	{
		/* source positions of keys and values, for FILE:LINE:COL messages */
		const char *in = "{\n  \"a\": 1,\n  \"b\\\"b\": \"x\\\\\",\n  \"c\": [true, {\"d\": -2.5e3}]\n}";
		struct json *j = NULL, *c;
		rw_error_t err = NULL;
		size_t l1, c1, l2, c2, l3, c3, l4, c4;
		json_parse(in, strlen(in), 0, "t", &j, &err);
		json_line_col(in, strlen(in), j->u.obj.m[1].koff, &l1, &c1);
		json_line_col(in, strlen(in), j->u.obj.m[1].val->off, &l2, &c2);
		c = json_get(j, "c");
		json_line_col(in, strlen(in), c->u.arr.v[1]->u.obj.m[0].val->off, &l3, &c3);
		json_line_col(in, strlen(in), j->u.obj.m[0].val->off, &l4, &c4);
		ok(l1 == 3 && c1 == 3 && l2 == 3 && c2 == 11 && l3 == 4 && c3 == 21 && l4 == 2 && c4 == 8,
		   "positions: key 3:3 (%zu:%zu), string 3:11 (%zu:%zu), number 4:21 (%zu:%zu), 2:8 (%zu:%zu)",
		   l1, c1, l2, c2, l3, c3, l4, c4);
		json_free(j);
	}
	return tap_done();
}
