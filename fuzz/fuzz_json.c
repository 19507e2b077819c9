/* libFuzzer target for shim/json.c. For the input parsed strictly and with
 * JSON_ALLOW_COMMENTS: a failure must leave an error and no tree; a success
 * must emit text that parses strictly and emits identically (the lossless
 * round trip). Objects also go through the config.json rewrite stages, whose
 * output must round-trip too and carry the annotations. abort() on any
 * violation. */
#include "config.h"
#include "shim/json.h"
#include "policy/enforce.h"
#include "shim/rewrite.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, const char *a, size_t alen, const char *b, size_t blen)
{
	fprintf(stderr, "fuzz_json: %s\n", what);
	if (a)
		fprintf(stderr, "first:  %.*s\n", (int)(alen > 4096 ? 4096 : alen), a);
	if (b)
		fprintf(stderr, "second: %.*s\n", (int)(blen > 4096 ? 4096 : blen), b);
	abort();
}

/* Emits j, parses the text strictly, emits again: both texts must match.
 * Returns the first text (caller frees). */
static struct json_buf roundtrip(const struct json *j)
{
	struct json_buf a = { 0 }, b = { 0 };
	struct json *k = NULL;
	rw_error_t err = NULL;

	if (json_emit(j, &a, &err) < 0)
		fail(err && err->msg ? err->msg : "json_emit failed", NULL, 0, NULL, 0);
	if (a.p == NULL || strlen(a.p) != a.len)   /* NUL-terminated, no raw NUL */
		fail("emitted text has a raw NUL byte or none at all", a.p, a.len, NULL, 0);
	if (json_parse(a.p, a.len, 0, "emitted", &k, &err) < 0)
		fail(err && err->msg ? err->msg : "emitted text does not parse", a.p, a.len, NULL, 0);
	if (json_emit(k, &b, &err) < 0)
		fail("second json_emit failed", NULL, 0, NULL, 0);
	if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
		fail("round trip not lossless", a.p, a.len, b.p, b.len);
	json_free(k);
	free(b.p);
	return a;
}

/* The whole create path on an arbitrary document: the embedded default
 * policy, a tier decision, enforcement (or a refusal), the annotations. */
static void check_annotate(struct json *tree)
{
	static struct rw_policy pol;
	static bool pol_loaded;
	struct rw_delegate d = { .name = "crun", .path = "/usr/bin/crun" };
	struct rw_decision dec;
	struct rw_limits lim = { 0 };
	struct rw_changes ch = { 0 };
	struct rw_cmdline cl = { .id = "fuzz" };
	struct rw_ctx ctx = { .cl = &cl, .policy = &pol, .delegate = &d, .bundle = "/nonexistent",
			      .decision = &dec, .limits = &lim, .changes = &ch };
	struct json_buf a;
	struct json *k = NULL, *ann;
	rw_error_t err = NULL;
	bool changed = false;

	if (!pol_loaded) {
		if (rw_policy_load("/nonexistent/runwarden-fuzz-policy.json", &pol, &err) < 0)
			fail("the embedded default policy does not load", NULL, 0, NULL, 0);
		pol_loaded = true;
	}
	if (tree->type != JSON_OBJECT)
		return;
	if (rw_decide(&pol, tree, cl.id, &dec, &err) < 0 || rw_run_stages(&ctx, DOC_SPEC, tree, &changed, &err) < 0) {
		if (err == NULL || err->msg == NULL)
			fail("the create path failed without an error", NULL, 0, NULL, 0);
		rw_error_free(&err);
		rw_decision_release(&dec);
		rw_limits_release(&lim);
		rw_changes_release(&ch);
		return;
	}
	rw_decision_release(&dec);
	rw_limits_release(&lim);
	rw_changes_release(&ch);
	a = roundtrip(tree);
	if (json_parse(a.p, a.len, 0, "rewritten", &k, &err) < 0)
		fail("rewritten text does not parse", a.p, a.len, NULL, 0);
	ann = json_get(k, "annotations");
	if (!json_is_string(json_get(ann, "org.runwarden.delegate"), "crun") ||
	    json_get(ann, "org.runwarden.version") == NULL)
		fail("rewritten document lacks the annotations", a.p, a.len, NULL, 0);
	json_free(k);
	free(a.p);
}

static void one(const uint8_t *data, size_t size, unsigned flags)
{
	struct json *j = NULL;
	rw_error_t err = NULL;
	struct json_buf a;

	if (json_parse((const char *)data, size, flags, "fuzz", &j, &err) < 0) {
		if (err == NULL || err->msg == NULL || j != NULL)
			fail("failed parse without an error, or with a tree", NULL, 0, NULL, 0);
		rw_error_free(&err);
		return;
	}
	if (j == NULL || err != NULL)
		fail("successful parse without a tree, or with an error", NULL, 0, NULL, 0);
	a = roundtrip(j);
	free(a.p);
	if (j->type == JSON_OBJECT)
		check_annotate(j);
	json_free(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	one(copy, size, 0);
	one(copy, size, JSON_ALLOW_COMMENTS);
	free(copy);
	return 0;
}
