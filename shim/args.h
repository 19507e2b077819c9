/* runc's command line, as dockerd/containerd and people send it:
 *   runwarden [GLOBAL...] VERB [OPTION...] [ID] [MORE...]
 * Flags take Go's forms: --f v, --f=v, -f v, -f=v. runtimeArgs from
 * daemon.json (runsc's --network=none, --platform ptrace) come before --root
 * and are only looked at, never changed: argv reaches the delegate as is. */
#ifndef RW_ARGS_H
#define RW_ARGS_H

#include <stdbool.h>
#include "shim/error.h"

enum rw_verb {
	VERB_NONE, VERB_CREATE, VERB_RUN, VERB_START, VERB_EXEC, VERB_KILL, VERB_DELETE,
	VERB_STATE, VERB_PS, VERB_PAUSE, VERB_RESUME, VERB_UPDATE, VERB_EVENTS,
	VERB_LIST, VERB_FEATURES, VERB_SPEC, VERB_CHECKPOINT, VERB_RESTORE,
	/* runwarden's own */
	VERB_POLICY, VERB_EXPLAIN, VERB_EGRESS_HOOK, VERB_EGRESS, VERB_GC, VERB_TOP, VERB_DOCTOR, VERB_INSTALL, VERB_UNINSTALL,
};

struct rw_cmdline {
	int argc;
	char **argv;
	/* global flags */
	const char *root, *log, *log_format;
	bool version, help;
	/* verb */
	enum rw_verb verb;
	const char *verb_name;
	int verb_index;           /* argv index of the verb, 0 if none */
	/* verb options */
	const char *id;
	const char *bundle;       /* create, run, restore */
	const char *process;      /* exec --process */
	const char *resources;    /* update --resources */
	bool force, detach, keep;
	bool egress_remove;       /* egress-hook --remove (the poststop hook) */
	const char *egress_rules; /* egress-hook --rules JSON (the rules, fixed at create) */
	bool update_flags;        /* update given resource values as flags */
	const char *upd_memory, *upd_swap, *upd_pids, *upd_quota, *upd_period;
	bool exec_privileged;     /* exec --cap/-c or --no-new-privs=false style flags */        /* update given resource values as flags, not --resources */
	int rest_index;           /* argv index after the options (the id, or a policy subcommand) */
};

/* Fills cl from argv (pointers into argv). Fails on a missing flag value,
 * an unknown verb or a missing or invalid container id. */
int rw_parse_cmdline(int argc, char **argv, struct rw_cmdline *cl, rw_error_t *err);
/* runc's rule for ids: [A-Za-z0-9_+.-]+, not "." or "..". */
bool rw_valid_id(const char *id);

#endif
