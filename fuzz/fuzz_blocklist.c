/* libFuzzer target for the blocklist matcher (policy/blocklist.c) with the
 * embedded default list. Each input is checked (a) as a shell string:
 * process {"args":["sh","-c",INPUT],"env":["X=INPUT"]}, NUL bytes and all;
 * (b) cut at its NUL bytes into args, as a process and as exec's argv, the
 * first two pieces also as the image reference and digest. abort() when the
 * result breaks the contract: 0 or 1 (-1 only with an error set), and a
 * match names a category, a rule, a field and a value. */
#include "config.h"
#include "policy/blocklist.h"
#include "policy/policy.h"
#include "shim/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PIECES 64

static struct rw_policy pol;
static struct rw_blocklist *bl;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_blocklist: %s\n", what);
	abort();
}

/* A small list of each kind, should the default one be empty. */
static struct rw_blocklist *hand_made(void)
{
	static struct rw_bl_rule rules[] = {
		{ BL_NAME, "xmrig", { 0 }, "fuzz", 1 },
		{ BL_NAME, "tor", { 0 }, "fuzz", 2 },
		{ BL_ARG, "--donate-level", { 0 }, "fuzz", 3 },
		{ BL_CONTAINS, "stratum+tcp://", { 0 }, "fuzz", 4 },
		{ BL_PORT, "9001", { 0 }, "fuzz", 5 },
		{ BL_IMAGE, "*/xmrig*", { 0 }, "fuzz", 6 },
		{ BL_IMAGE_DIGEST, "sha256:0000000000000000000000000000000000000000000000000000000000000000", { 0 },
		  "fuzz", 7 },
	};
	static struct rw_bl_category cat = { "miners", true, NULL, 0, rules, sizeof(rules) / sizeof(rules[0]) };
	static struct rw_bl_allow allow = { "miners", "tor", NULL, "/usr/bin/tor*", "fuzz", 8 };
	static struct rw_blocklist hand = { &cat, 1, &allow, 1, { 0 }, false };

	return &hand;
}

static void setup(void)
{
	rw_error_t err = NULL;

	if (rw_policy_load("/nonexistent/runwarden-fuzz-policy.json", &pol, &err) < 0)
		fail(err && err->msg ? err->msg : "the default policy does not load");
	bl = pol.blocklist.ncats > 0 ? &pol.blocklist : hand_made();
}

/* Appends v (taken, freed on failure) to arr. */
static int push(struct json *arr, struct json *v)
{
	if (v == NULL)
		return -1;
	if (arr->u.arr.n == arr->u.arr.cap) {
		size_t cap = arr->u.arr.cap ? 2 * arr->u.arr.cap : 8;
		struct json **nv = realloc(arr->u.arr.v, cap * sizeof(*nv));
		if (nv == NULL) {
			json_free(v);
			return -1;
		}
		arr->u.arr.v = nv;
		arr->u.arr.cap = cap;
	}
	arr->u.arr.v[arr->u.arr.n++] = v;
	return 0;
}

static void check(const struct rw_bl_subject *s)
{
	struct rw_bl_match m;
	struct rw_bl_stats st;
	rw_error_t err = NULL;
	int r = rw_blocklist_check(bl, s, &m, &st, &err);

	if (r < 0) {
		if (err == NULL || err->msg == NULL)
			fail("-1 without an error");
		if (m.value != NULL)
			fail("-1 keeps a value");
		rw_error_free(&err);
		return;
	}
	if (err != NULL)
		fail("an error without -1");
	if (r == 0) {
		if (m.cat || m.rule || m.value || m.field[0])
			fail("0 with a match filled");
		return;
	}
	if (r != 1)
		fail("neither 0, 1 nor -1");
	if (m.cat == NULL || m.rule == NULL || m.value == NULL || m.field[0] == '\0' ||
	    memchr(m.field, '\0', sizeof(m.field)) == NULL)
		fail("1 without category, rule, field or value");
	(void)strlen(m.value);
	if (rw_bl_refuse(&m, &err) != -1 || err == NULL || strstr(err->msg, m.cat->name) == NULL)
		fail("the refusal does not name the category");
	rw_error_free(&err);
	rw_bl_match_release(&m);
	if (m.value != NULL)
		fail("release keeps the value");
}

/* (a) the input as an sh -c string and an env value */
static void as_shell_string(const uint8_t *d, size_t n)
{
	struct json *proc = json_new(JSON_OBJECT), *args = json_new(JSON_ARRAY), *env = json_new(JSON_ARRAY);
	struct rw_bl_subject s = { .tier = "default", .field = "process" };
	char *x = malloc(n + 2);
	int r;

	if (proc == NULL || args == NULL || env == NULL || x == NULL)
		goto out;
	x[0] = 'X';
	x[1] = '=';
	memcpy(x + 2, d, n);
	if (push(args, json_new_string("sh")) < 0 || push(args, json_new_string("-c")) < 0 ||
	    push(args, json_new_stringn((const char *)d, n)) < 0 || push(env, json_new_stringn(x, n + 2)) < 0)
		goto out;
	/* json_set takes its value, on failure too */
	r = json_set(proc, "args", args, NULL);
	args = NULL;
	if (r == 0)
		r = json_set(proc, "env", env, NULL);
	env = NULL;
	if (r == 0) {
		s.process = proc;
		check(&s);
	}
out:
	free(x);
	json_free(args);
	json_free(env);
	json_free(proc);
}

/* (b) the input cut at NUL bytes: args, exec's argv, the image */
static void as_args(const uint8_t *d, size_t n)
{
	struct rw_bl_subject s = { .tier = "default", .field = "exec process" };
	char *copy = malloc(n + 1), *pieces[MAX_PIECES];
	struct json *proc = json_new(JSON_OBJECT), *args = json_new(JSON_ARRAY);
	size_t np = 0, i = 0;
	int r;

	if (copy == NULL || proc == NULL || args == NULL)
		goto out;
	memcpy(copy, d, n);
	copy[n] = '\0';
	while (np < MAX_PIECES && i <= n) {
		pieces[np++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	for (i = 0; i < np; i++)
		if (push(args, json_new_string(pieces[i])) < 0)
			goto out;

	s.argv = pieces;
	s.argc = np;
	check(&s);

	s.field = "process";
	s.argv = NULL;
	s.argc = 0;
	s.image = pieces[0];
	s.image_digest = np > 1 ? pieces[1] : NULL;
	r = json_set(proc, "args", args, NULL);
	args = NULL;
	if (r == 0) {
		s.process = proc;
		check(&s);
	}

	for (i = 0; i + 1 < np; i++)
		(void)rw_bl_name_match(pieces[i], pieces[i + 1]);
	for (i = 0; i < np; i++)
		if (rw_bl_name_match(pieces[i], "xmrig") != rw_bl_name_match(pieces[i], "XMRIG"))
			fail("a name match depends on case");
out:
	free(copy);
	json_free(args);
	json_free(proc);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (bl == NULL)
		setup();
	as_shell_string(d, n);
	as_args(d, n);
	return 0;
}
