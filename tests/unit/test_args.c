#include "config.h"
#include "shim/args.h"
#include "tests/unit/tap.h"

#include <string.h>

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int parse(struct rw_cmdline *cl, const char *line)
{
	static char buf[4096];
	static char *argv[64];
	int argc = 0;
	char *s;
	rw_error_t err = NULL;
	int r;

	snprintf(buf, sizeof(buf), "%s", line);
	for (s = strtok(buf, " "); s && argc < 63; s = strtok(NULL, " "))
		argv[argc++] = s;
	argv[argc] = NULL;
	r = rw_parse_cmdline(argc, argv, cl, &err);
	rw_error_free(&err);
	return r;
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int main(void)
{
	struct rw_cmdline cl;

	ok(parse(&cl, "rw --root /run/r --log /b/log.json --log-format json create --bundle /b --pid-file /b/init.pid " ID) == 0 &&
	   cl.verb == VERB_CREATE && streq(cl.root, "/run/r") && streq(cl.log, "/b/log.json") &&
	   streq(cl.log_format, "json") && streq(cl.bundle, "/b") && streq(cl.id, ID),
	   "dockerd's create line");
	ok(parse(&cl, "rw --root=/run/r --log=/l --log-format=text create --bundle=/b x") == 0 &&
	   streq(cl.root, "/run/r") && streq(cl.log, "/l") && streq(cl.log_format, "text") && streq(cl.bundle, "/b"),
	   "--flag=value forms");
	ok(parse(&cl, "rw -root /run/r -log /l create -b /b x") == 0 &&
	   streq(cl.root, "/run/r") && streq(cl.log, "/l") && streq(cl.bundle, "/b"), "Go-style -flag value");
	ok(parse(&cl, "rw --network=none --platform ptrace --debug --root /r create -b /b x") == 0 &&
	   streq(cl.root, "/r") && cl.verb == VERB_CREATE && streq(cl.id, "x"),
	   "runtimeArgs before --root are skipped over");
	ok(parse(&cl, "rw --rootless --root R state x") == 0 && streq(cl.root, "R") && streq(cl.id, "x"),
	   "runsc's boolean --rootless");
	ok(parse(&cl, "rw --rootless auto --root R state x") == 0 && streq(cl.root, "R"),
	   "runc's --rootless auto");
	ok(parse(&cl, "rw --rootless=false state x") == 0 && streq(cl.id, "x"), "--rootless=false");
	ok(parse(&cl, "rw --debug create x") == 0 && cl.verb == VERB_CREATE && streq(cl.id, "x"),
	   "an unknown flag followed by a verb is a boolean");
	ok(parse(&cl, "rw create x") == 0 && cl.bundle == NULL, "no --bundle: the working directory");
	ok(parse(&cl, "rw --root /r exec --process /tmp/runc-process1 --detach --pid-file /p --console-socket /s " ID) == 0 &&
	   cl.verb == VERB_EXEC && streq(cl.process, "/tmp/runc-process1") && cl.detach && streq(cl.id, ID),
	   "exec line from containerd");
	ok(parse(&cl, "rw exec -t -e A=B -u 0 x sh -c true") == 0 && streq(cl.id, "x") && cl.process == NULL,
	   "exec with a command line");
	ok(parse(&cl, "rw --root /r update --resources - " ID) == 0 && cl.verb == VERB_UPDATE &&
	   streq(cl.resources, "-") && streq(cl.id, ID), "update from stdin");
	ok(parse(&cl, "rw update -r=/res.json --memory 1g x") == 0 && streq(cl.resources, "/res.json") &&
	   streq(cl.id, "x"), "update from a file with other flags");
	ok(parse(&cl, "rw delete --force x") == 0 && cl.force && streq(cl.id, "x"), "delete --force");
	ok(parse(&cl, "rw delete -f=false x") == 0 && !cl.force, "Go's -f=false");
	ok(parse(&cl, "rw kill x 15") == 0 && cl.verb == VERB_KILL && streq(cl.id, "x"), "kill ID SIG");
	ok(parse(&cl, "rw kill --all x 9") == 0 && streq(cl.id, "x"), "kill --all");
	ok(parse(&cl, "rw ps --format json x") == 0 && cl.verb == VERB_PS && streq(cl.id, "x"), "ps --format json");
	ok(parse(&cl, "rw run -d --keep -b /b x") == 0 && cl.verb == VERB_RUN && cl.detach && cl.keep, "run -d --keep");
	ok(parse(&cl, "rw features") == 0 && cl.verb == VERB_FEATURES && cl.id == NULL, "features needs no id");
	ok(parse(&cl, "rw --version") == 0 && cl.version && cl.verb == VERB_NONE, "--version");
	ok(parse(&cl, "rw -v") == 0 && cl.version, "-v");
	ok(parse(&cl, "rw frobnicate x") < 0, "an unknown verb fails");
	ok(parse(&cl, "rw") < 0, "no verb fails");
	ok(parse(&cl, "rw start") < 0, "a missing id fails");
	ok(parse(&cl, "rw --root") < 0, "a flag without its value fails");
	ok(parse(&cl, "rw create -b") < 0, "an option without its value fails");
	ok(parse(&cl, "rw start ../../etc") < 0, "an id with a slash fails");
	ok(parse(&cl, "rw start ..") < 0, "the id .. fails");
	ok(rw_valid_id("a_b-c.d+e") && !rw_valid_id("") && !rw_valid_id("a/b") && !rw_valid_id("a b"),
	   "id rule as runc's");
	return tap_done();
}
