/* libFuzzer target for shim/args.c: the input split at NUL bytes is argv[1..]
 * (argv[0] is "runwarden", argv[argc] is NULL, each string in its own
 * allocation so ASan sees reads past any of them). Checks the parser's
 * contract: on success every pointer it fills points into argv, the verb is
 * at verb_index and the id (when the verb needs one) is valid; on failure an
 * error is set. abort() on any violation. */
#include "config.h"
#include "shim/args.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 4096

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_args: %s\n", what);
	abort();
}

/* NULL, or argv[k] itself, or the value after '=' inside argv[k]. */
static void check_ptr(const struct rw_cmdline *cl, const char *p, const char *what)
{
	int k;

	if (p == NULL)
		return;
	for (k = 1; k < cl->argc; k++) {
		const char *s = cl->argv[k];
		size_t n = strlen(s);
		if (p == s || (p > s && p <= s + n && p[-1] == '='))
			return;
	}
	fprintf(stderr, "fuzz_args: %s points outside argv\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **argv;
	int argc = 1, i;
	size_t start = 0, k;
	struct rw_cmdline cl;
	rw_error_t err = NULL;

	/* pieces: split at NUL; a trailing NUL ends the last piece */
	for (k = 0; k < size; k++)
		if (data[k] == '\0')
			argc++;
	if (size > 0 && data[size - 1] != '\0')
		argc++;
	if (argc > MAX_ARGS)
		return 0;
	argv = calloc((size_t)argc + 1, sizeof(*argv));
	if (argv == NULL)
		return 0;
	argv[0] = strdup("runwarden");
	for (i = 1, k = 0; k <= size && i < argc; k++) {
		if (k == size || data[k] == '\0') {
			argv[i] = malloc(k - start + 1);
			if (argv[i] == NULL)
				goto out;
			memcpy(argv[i], data + start, k - start);
			argv[i][k - start] = '\0';
			i++;
			start = k + 1;
		}
	}
	if (i != argc)
		fail("argv split miscounted");

	for (i = 1; i < argc; i++)
		(void)rw_valid_id(argv[i]);

	if (rw_parse_cmdline(argc, argv, &cl, &err) < 0) {
		if (err == NULL || err->msg == NULL)
			fail("failure without an error");
		rw_error_free(&err);
		goto out;
	}
	if (err != NULL)
		fail("success with an error");
	if (cl.argc != argc || cl.argv != argv)
		fail("argc/argv not kept");
	check_ptr(&cl, cl.root, "root");
	check_ptr(&cl, cl.log, "log");
	check_ptr(&cl, cl.log_format, "log_format");
	check_ptr(&cl, cl.id, "id");
	check_ptr(&cl, cl.bundle, "bundle");
	check_ptr(&cl, cl.process, "process");
	check_ptr(&cl, cl.resources, "resources");
	if (cl.verb == VERB_NONE) {
		if (!cl.version && !cl.help)
			fail("no verb, no --version, no --help, yet success");
		if (cl.verb_index != 0 || cl.id != NULL)
			fail("no verb but a verb index or an id");
	} else {
		if (cl.verb_index < 1 || cl.verb_index >= argc || cl.verb_name == NULL ||
		    strcmp(argv[cl.verb_index], cl.verb_name) != 0)
			fail("verb_index does not point at the verb");
		if (cl.id != NULL && !rw_valid_id(cl.id))
			fail("invalid container id accepted");
		if (cl.id != NULL && cl.id == argv[cl.verb_index])
			fail("the verb taken as the id");
	}
	if (rw_valid_id(".") || rw_valid_id("..") || rw_valid_id(""))
		fail("rw_valid_id accepts . .. or empty");
out:
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	return 0;
}
