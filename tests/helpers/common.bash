# Shared by the bats suites. make check exports RUNWARDEN (the binary under
# test), RUNWARDEN_SRCDIR and RUNWARDEN_BUILDDIR; by hand, set them yourself.
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${RUNWARDEN:?set RUNWARDEN to the runwarden binary}"
: "${RUNWARDEN_SRCDIR:?set RUNWARDEN_SRCDIR to the source tree}"
MKBUNDLE="$RUNWARDEN_SRCDIR/tests/helpers/mkbundle"
# Audit lines of policies that name no audit_log stay in the test's temp dir.
export RUNWARDEN_AUDIT_LOG="${BATS_FILE_TMPDIR:-${BATS_TMPDIR:-/tmp}}/audit.log"

# The real runtimes, where Debian installs them.
delegate_path() {
	case $1 in
	runc) echo /usr/sbin/runc ;;
	crun) echo /usr/bin/crun ;;
	runsc) echo /usr/bin/runsc ;;
	*) return 1 ;;
	esac
}

require_delegate() {
	[ -x "$(delegate_path "$1")" ] || skip "$1 is not installed"
}

DEVNULL_OK="root:root 666 character special file"

devnull() {
	stat -c '%U:%G %a %F' /dev/null
}

# rwd DELEGATE ARG...: runwarden, as a caller configured for DELEGATE would
# run it (runsc needs --network=none here, before --root: $RW_RUNSC_NETWORK
# for a suite that gives it a network), on the suite's
# $R root and $LOG log. Never with /dev/null (or a terminal) as stdio: runsc
# create/run/exec chown their stdio to the sandbox's user (nobody), crun to
# the container's. Its stdin is the empty file $T/stdin; callers give stdout
# and stderr pipes or files of their own.
rwd() {
	local d=$1
	shift
	if [ "$d" = runsc ]; then
		"$RUNWARDEN" --network="${RW_RUNSC_NETWORK:-none}" --root "$R" --log "$LOG" "$@" < "$T/stdin"
	else
		"$RUNWARDEN" --root "$R" --log "$LOG" "$@" < "$T/stdin"
	fi
}

# direct DELEGATE ARG...: the delegate itself, on the same state.
direct() {
	local d=$1
	shift
	if [ "$d" = runsc ]; then
		"$(delegate_path runsc)" --network="${RW_RUNSC_NETWORK:-none}" --root "$R" "$@" < "$T/stdin"
	else
		"$(delegate_path "$d")" --root "$R" "$@" < "$T/stdin"
	fi
}

# Processes with --root=$R as an argument (runsc's sandbox and gofer); the
# pattern comes from a file so that grep's own command line does not match.
root_procs() {
	grep -lsxzF -f <(printf -- '--root=%s\n' "$R") /proc/[0-9]*/cmdline | cut -d/ -f3
	return 0
}

# The directories of cgroup path P (an id, or a cgroupsPath with its leading
# "/") in every hierarchy, the v1 ones and the unified one.
cgroup_dirs() {
	compgen -G "/sys/fs/cgroup/*/${1#/}" || true
}

cgroup_procs() {
	local dir
	for dir in $(cgroup_dirs "$1"); do
		find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
}

# wait_for SECONDS CMD...: poll CMD (quietly) until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" > "$T/wait.out" 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@" > "$T/wait.out" 2>&1
}

# alive PID: the process exists and is not a zombie.
alive() {
	[ -e "/proc/$1" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

# A per-test scratch directory under the bats temp dir (removed by bats).
scratch() {
	mktemp -d "${BATS_TEST_TMPDIR:-${BATS_TMPDIR:-/tmp}}/rw.XXXXXX"
}

# recording_delegate PATH: a stand-in delegate at PATH that writes its argv
# (one per line) to argv beside it; with MOCK_READ_STDIN set, its stdin to
# stdin beside it; with MOCK_CRASH set, it dies of SIGSEGV.
recording_delegate() {
	cat > "$1" <<-'SH'
	#!/bin/sh
	d=$(dirname "$0")
	printf '%s\n' "$@" > "$d/argv"
	if [ -n "${MOCK_READ_STDIN:-}" ]; then cat > "$d/stdin"; fi
	if [ -n "${MOCK_CRASH:-}" ]; then kill -SEGV $$; fi
	exit 0
	SH
	chmod +x "$1"
}

# The smallest config.json a tenant tier accepts: its own namespaces.
MINIMAL_SPEC='{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}'

# write_policy FILE JSON: a policy for RUNWARDEN_POLICY.
write_policy() {
	printf '%s\n' "$2" > "$1"
}

# A canonical form of a JSON file that keeps key order, duplicate keys and
# exact integers (jq 1.6 would round integers beyond 2^53): compare two files.
json_equal() {
	python3 - "$1" "$2" <<'PY'
import json, sys
def load(p):
    with open(p, 'rb') as f:
        return json.loads(f.read().decode('utf-8'), object_pairs_hook=lambda kv: ('obj', kv))
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
}
