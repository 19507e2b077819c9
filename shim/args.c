#include "config.h"
#include "shim/args.h"

#include <string.h>

struct verb_def {
	const char *name;
	enum rw_verb verb;
	bool needs_id;
	const char *value_flags;  /* space-separated names of options taking a value */
};

/* Options that take a value, per verb, from runc 1.1 (urfave/cli), crun and
 * runsc. Anything else is a boolean. */
static const struct verb_def verbs[] = {
	{ "create", VERB_CREATE, true, "bundle b console-socket pid-file preserve-fds" },
	{ "run", VERB_RUN, true, "bundle b console-socket pid-file preserve-fds" },
	{ "start", VERB_START, true, "" },
	{ "exec", VERB_EXEC, true,
	  "console-socket cwd env e user u additional-gids g process p process-label apparmor "
	  "cap c preserve-fds pid-file cgroup" },
	{ "kill", VERB_KILL, true, "" },
	{ "delete", VERB_DELETE, true, "" },
	{ "state", VERB_STATE, true, "" },
	{ "ps", VERB_PS, true, "format f" },
	{ "pause", VERB_PAUSE, true, "" },
	{ "resume", VERB_RESUME, true, "" },
	{ "update", VERB_UPDATE, true,
	  "resources r blkio-weight cpu-period cpu-quota cpu-share cpu-rt-period cpu-rt-runtime "
	  "cpuset-cpus cpuset-mems kernel-memory kernel-memory-tcp memory memory-reservation "
	  "memory-swap pids-limit l3-cache-schema mem-bw-schema" },
	{ "events", VERB_EVENTS, true, "interval" },
	{ "list", VERB_LIST, false, "format f" },
	{ "features", VERB_FEATURES, false, "" },
	{ "spec", VERB_SPEC, false, "bundle b" },
	{ "checkpoint", VERB_CHECKPOINT, true,
	  "image-path work-path parent-path page-server manage-cgroups-mode empty-ns status-fd "
	  "lazy-pages-fd" },
	{ "policy", VERB_POLICY, false, "" },
	{ "explain", VERB_EXPLAIN, false, "bundle b" },
	{ "egress-hook", VERB_EGRESS_HOOK, true, "root rules" },
	{ "egress", VERB_EGRESS, false, "root" },
	{ "gc", VERB_GC, false, "root" },
	{ "top", VERB_TOP, false, "" },
	{ "doctor", VERB_DOCTOR, false, "" },
	{ "install", VERB_INSTALL, false, "" },
	{ "uninstall", VERB_UNINSTALL, false, "" },
	{ "restore", VERB_RESTORE, true,
	  "image-path work-path parent-path page-server manage-cgroups-mode empty-ns bundle b "
	  "console-socket pid-file status-fd lazy-pages-fd" },
};

/* Global flags that take a value (runc, crun); runsc's are many and are
 * handled by the rule for unknown flags below. */
static const char global_value_flags[] = "root log log-format criu log-level cgroup-manager";

static bool in_list(const char *list, const char *name, size_t nlen)
{
	const char *p = list;

	while (*p) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == nlen && strncmp(p, name, nlen) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

static const struct verb_def *find_verb(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, s) == 0)
			return &verbs[i];
	return NULL;
}

/* Splits a flag argument: "-f", "--f", "-f=v", "--f=v" -> name (without dashes),
 * its length, and the inline value or NULL. */
static void split_flag(const char *arg, const char **name, size_t *nlen, const char **value)
{
	const char *n = arg + (arg[1] == '-' ? 2 : 1);
	const char *eq = strchr(n, '=');

	*name = n;
	*nlen = eq ? (size_t)(eq - n) : strlen(n);
	*value = eq ? eq + 1 : NULL;
}

static bool name_is(const char *name, size_t nlen, const char *s)
{
	return strlen(s) == nlen && strncmp(name, s, nlen) == 0;
}

static bool is_flag(const char *a)
{
	return a[0] == '-' && a[1] != '\0' && strcmp(a, "--") != 0;
}

bool rw_valid_id(const char *id)
{
	const char *p;

	if (id == NULL || *id == '\0' || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 1024)
		return false;
	for (p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int rw_parse_cmdline(int argc, char **argv, struct rw_cmdline *cl, rw_error_t *err)
{
	const struct verb_def *vd = NULL;
	int i = 1;

	memset(cl, 0, sizeof(*cl));
	cl->argc = argc;
	cl->argv = argv;

	/* Global flags, up to the verb. */
	for (; i < argc && is_flag(argv[i]); i++) {
		const char *name, *value, **slot = NULL;
		size_t nlen;

		split_flag(argv[i], &name, &nlen, &value);
		if (name_is(name, nlen, "version") || name_is(name, nlen, "v")) {
			cl->version = true;
			continue;
		}
		if (name_is(name, nlen, "help") || name_is(name, nlen, "h")) {
			cl->help = true;
			continue;
		}
		if (name_is(name, nlen, "root"))
			slot = &cl->root;
		else if (name_is(name, nlen, "log"))
			slot = &cl->log;
		else if (name_is(name, nlen, "log-format"))
			slot = &cl->log_format;

		if (name_is(name, nlen, "rootless")) {
			/* runc: --rootless true|false|auto; runsc: a boolean. */
			if (value == NULL && i + 1 < argc &&
			    (strcmp(argv[i + 1], "true") == 0 || strcmp(argv[i + 1], "false") == 0 ||
			     strcmp(argv[i + 1], "auto") == 0))
				i++;
		} else if (in_list(global_value_flags, name, nlen)) {
			if (value == NULL) {
				if (i + 1 >= argc)
					return rw_error(err, 0, "flag needs an argument: %s", argv[i]);
				value = argv[++i];
			}
		} else if (value == NULL && i + 1 < argc && !is_flag(argv[i + 1]) &&
			   find_verb(argv[i + 1]) == NULL) {
			/* An unknown flag (a runtimeArg for the delegate) followed by a
			 * word that is not a verb: that word is its value
			 * ("--platform ptrace"). Followed by a verb, it is a boolean. */
			i++;
		}
		if (slot)
			*slot = value;
	}

	if (i >= argc) {
		if (cl->version || cl->help)
			return 0;
		return rw_error(err, 0, "no command given (usage: runwarden [global options] command [options] [container-id])");
	}
	if (strcmp(argv[i], "--") == 0 && ++i >= argc)
		return rw_error(err, 0, "no command given");
	vd = find_verb(argv[i]);
	if (vd == NULL)
		return rw_error(err, 0, "unknown command \"%s\"", argv[i]);
	cl->verb = vd->verb;
	cl->verb_name = vd->name;
	cl->verb_index = i++;

	/* Verb options, up to the first positional (urfave/cli stops there). */
	for (; i < argc && is_flag(argv[i]); i++) {
		const char *name, *value, **slot = NULL;
		size_t nlen;

		split_flag(argv[i], &name, &nlen, &value);
		if (name_is(name, nlen, "help") || name_is(name, nlen, "h")) {
			cl->help = true;
			continue;
		}
		if (in_list(vd->value_flags, name, nlen)) {
			if (value == NULL) {
				if (i + 1 >= argc)
					return rw_error(err, 0, "%s: flag needs an argument: %s", vd->name, argv[i]);
				value = argv[++i];
			}
			if (name_is(name, nlen, "bundle") || name_is(name, nlen, "b"))
				slot = &cl->bundle;
			/* runwarden's own verbs take --root after the verb too */
			else if (name_is(name, nlen, "root") && (vd->verb == VERB_EGRESS_HOOK || vd->verb == VERB_EGRESS || vd->verb == VERB_GC))
				slot = &cl->root;
			else if (name_is(name, nlen, "rules") && vd->verb == VERB_EGRESS_HOOK)
				slot = &cl->egress_rules;
			else if (vd->verb == VERB_EXEC && (name_is(name, nlen, "process") || name_is(name, nlen, "p")))
				slot = &cl->process;
			else if (vd->verb == VERB_UPDATE && (name_is(name, nlen, "resources") || name_is(name, nlen, "r")))
				slot = &cl->resources;
			else if (vd->verb == VERB_UPDATE) {
				cl->update_flags = true;
				if (name_is(name, nlen, "memory"))
					cl->upd_memory = value;
				else if (name_is(name, nlen, "memory-swap"))
					cl->upd_swap = value;
				else if (name_is(name, nlen, "pids-limit"))
					cl->upd_pids = value;
				else if (name_is(name, nlen, "cpu-quota"))
					cl->upd_quota = value;
				else if (name_is(name, nlen, "cpu-period"))
					cl->upd_period = value;
			}
			else if (vd->verb == VERB_EXEC && (name_is(name, nlen, "cap") || name_is(name, nlen, "c")))
				cl->exec_privileged = true;
			if (slot)
				*slot = value;
			continue;
		}
		/* Booleans; Go accepts --force=false. */
		{
			bool on = value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
			if (name_is(name, nlen, "force") || name_is(name, nlen, "f"))
				cl->force = on;
			else if (name_is(name, nlen, "detach") || name_is(name, nlen, "d"))
				cl->detach = on;
			else if (name_is(name, nlen, "keep"))
				cl->keep = on;
			else if (vd->verb == VERB_EGRESS_HOOK && name_is(name, nlen, "remove"))
				cl->egress_remove = on;
		}
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	cl->rest_index = i;
	if (vd->verb == VERB_EXPLAIN && i < argc) {
		if (!rw_valid_id(argv[i]))
			return rw_error(err, 0, "explain: invalid container id \"%s\"", argv[i]);
		cl->id = argv[i];
	}

	if (vd->needs_id) {
		if (cl->help)
			return 0;
		if (i >= argc)
			return rw_error(err, 0, "%s: container id cannot be empty", vd->name);
		if (!rw_valid_id(argv[i]))
			return rw_error(err, 0, "%s: invalid container id \"%s\"", vd->name, argv[i]);
		cl->id = argv[i];
	}
	return 0;
}
