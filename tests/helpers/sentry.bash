# shellcheck shell=bash
# Plumbing for tests/sentry.bats: runwarden-sentry (bpf/README.md) started by
# the test on the test's own root, watching real busybox containers created
# and started through runwarden (records in $R), each in its own cgroup
# (/rwsentry-PID-ID). Load after helpers/common and helpers/tiers-lib.
#
# The daemon always runs with --interval 500 and its events, status and
# metrics in the test's scratch directory, on a free loopback port. Tests
# wait on its events and status files with deadlines (wait_for), never on a
# fixed sleep; "N more samples" is read from the status file's counter.

SENTRY="${RUNWARDEN_BUILDDIR:-.}/runwarden-sentry"

sentry_setup() {
	tiers_setup
	[ -x "$SENTRY" ] || skip "no runwarden-sentry in the build (BPF not configured?)"
	ID="sn$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	SPID=""
	SPORT=""
	: > "$T/sentries" # PIDs of every sentry this test started
	: > "$T/events"
}

# sentry_teardown: thaw whatever the sentry froze (a frozen cgroup's tasks
# cannot be killed or removed), stop every sentry of this test by its PID,
# then the containers, processes and cgroups (tiers_teardown).
sentry_teardown() {
	[ -n "${T:-}" ] || return 0
	local d id cg f p rc=0
	if [ -f "$T/containers" ]; then
		while read -r d id cg; do
			f="/sys/fs/cgroup/freezer$cg/freezer.state"
			if [ -n "$cg" ] && [ -f "$f" ] && ! grep -qx THAWED "$f"; then
				echo THAWED > "$f" || true
			fi
		done < "$T/containers"
	fi
	if [ -f "$T/sentries" ]; then
		for p in $(cat "$T/sentries"); do
			if alive "$p"; then
				kill -TERM "$p" 2>/dev/null || true
				wait_for 10 eval "! alive $p" || kill -KILL "$p" 2>/dev/null || true
			fi
		done
	fi
	# Delete the containers first and give their processes time to go: two
	# suites at once on two CPUs, the tier's 0.25-CPU quota and a pid
	# namespace's teardown can take longer than tiers_teardown's 10 s.
	if [ -f "$T/containers" ]; then
		while read -r d id cg; do
			[ -n "$id" ] || continue
			direct "$d" delete --force "$id" > "$T/teardown.out" 2>&1 || true
			[ -z "$cg" ] || wait_for 30 eval "[ -z \"\$(cgroup_procs $cg)\" ]" || {
				echo "teardown: $id's processes stay:" >&2
				for p in $(cgroup_procs "$cg"); do
					echo "$p $(tr '\0' ' ' < "/proc/$p/cmdline") $(grep -E '^State' "/proc/$p/status")" >&2
				done
			}
		done < "$T/containers"
	fi
	tiers_teardown || rc=1
	for p in $(cat "$T/sentries" 2>/dev/null); do
		! alive "$p" || { echo "teardown: sentry $p is still running" >&2; rc=1; }
	done
	return $rc
}

# sentry_policy DELEGATE [SENTRY-MEMBERS] [TOP-LEVEL-MEMBERS]: the default
# tiers (free: 0.25 CPU) and egress rules, DELEGATE for every tier, and a
# "sentry" section with these members; checked by `runwarden policy check`.
#
# Under runsc the thresholds are set here: the sandbox's Go runtime (timers,
# futexes, its own scheduler) makes syscalls and voluntary switches on the
# host for the guest's pure spinning loop. Measured on this host, 2 CPUs: a
# lone spinner 600-1000 syscalls and 450-750 switches per CPU-second, rising
# to 2300 and 1700 while a second sandbox runs beside it (the defaults,
# 100,000 and 3,000, leave less than a factor 2 on the switches under a
# parallel `make check`); the benign loop (`echo x > /dev/null`)
# 150,000-260,000 and 50,000-90,000. 20000 and 10000 lie a decade from either.
sentry_policy() {
	local d=$1 s=${2:-} top=${3:-}
	if [ "$d" = runsc ]; then
		s="\"syscalls_max\": 20000, \"switches_max\": 10000${s:+, $s}"
	fi
	use_policy "{\"delegate\": \"$d\", \"audit_log\": \"$T/audit.log\", \"sentry\": {$s}${top:+, $top}}"
	"$RUNWARDEN" policy check "$RUNWARDEN_POLICY" > "$T/check.out" 2>&1 ||
		fail "policy check: $(cat "$T/check.out")"
}

# A loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_sentry [FLAG...]: the daemon on this test's root, policy, files and a
# free port, in the background ($SPID); returns once it wrote its status.
start_sentry() {
	SPORT=$(free_port)
	"$SENTRY" --policy "$RUNWARDEN_POLICY" --root "$R" --events "$T/events" \
		--status "$T/status.json" --metrics "127.0.0.1:$SPORT" --interval 500 "$@" \
		< "$T/stdin" > "$T/sentry.out" 2>> "$T/sentry.err" 3>&- &
	SPID=$!
	echo "$SPID" >> "$T/sentries"
	wait_for 20 sentry_up || fail "the sentry did not come up: $(cat "$T/sentry.err")"
}

sentry_up() {
	alive "$SPID" && [ "$(jq -r .pid "$T/status.json" 2>/dev/null)" = "$SPID" ]
}

# stop_sentry: SIGTERM; it must exit 0 (under the sanitizer build, a leak or
# an error report makes that fail too).
stop_sentry() {
	local rc=0
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID"
	wait_for 10 eval "! alive $SPID" || fail "the sentry ignored SIGTERM: $(cat "$T/sentry.err")"
	wait "$SPID" || rc=$?
	[ "$rc" = 0 ] || fail "the sentry exited $rc on SIGTERM: $(cat "$T/sentry.err")"
	SPID=""
}

# ctr DELEGATE ID ARG...: a busybox container running ARG... in cgroup
# /rwsentry-PID-ID, created and started through runwarden (so it has a
# record). $CTR_BUNDLE (default bundle, tiers-lib) makes the bundle.
ctr() {
	local d=$1 id=$2 b="$T/b-$2" cg="/rwsentry-$$-$2"
	shift 2
	"${CTR_BUNDLE:-bundle}" "$b" "$@"
	jq --arg cg "$cg" '.linux.cgroupsPath = $cg' "$b/config.json" > "$T/cfg.tmp" &&
		mv "$T/cfg.tmp" "$b/config.json"
	track "$d" "$id" "$cg"
	rwd "$d" create --bundle "$b" "$id" > "$T/ctr-$id.out" 2> "$T/ctr-$id.err" 3>&- ||
		fail "create $id: $(cat "$T/ctr-$id.err")"
	rwd "$d" start "$id" >> "$T/ctr-$id.out" 2>> "$T/ctr-$id.err" 3>&- ||
		fail "start $id: $(cat "$T/ctr-$id.err")"
}

# The loops the tests run: a pegged CPU with no syscalls (a miner's hashing
# loop); one that stops spinning at SIGUSR1 (ash runs the trap between
# commands; `[` is a builtin: no syscalls either); a busy but syscall-heavy
# loop (open/dup2/write/close each turn); an idle one. A signal sent to a
# container's pid 1 before its trap is set is dropped: wait for "ready".
SPIN='while :; do :; done'
SPIN_UNTIL_USR1='trap "s=1" USR1; s=0; echo ready; while [ $s = 0 ]; do :; done; echo stopped; exec sleep 1000'
BUSY='while :; do echo x > /dev/null; done'

# events [EVENT [ID]]: the event lines (compact JSON), of EVENT for ID.
events() {
	jq -c --arg e "${1:-}" --arg id "${2:-}" \
		'select(($e == "" or .event == $e) and ($id == "" or .id == $id))' "$T/events"
}

has_event() {
	[ -n "$(events "$1" "$2" 2>/dev/null)" ]
}

# wait_event SECONDS EVENT ID
wait_event() {
	wait_for "$1" has_event "$2" "$3" ||
		fail "no \"$2\" event for $3 within $1 s; events: $(cat "$T/events")
status: $(cat "$T/status.json" 2>/dev/null)
sentry: $(cat "$T/sentry.err")"
}

# st ID JQ: JQ applied to ID's entry in the status file.
st() {
	jq -r --arg id "$1" ".containers[] | select(.id == \$id) | $2" "$T/status.json"
}

samples() {
	jq -r '.samples // 0' "$T/status.json" 2>/dev/null || echo 0
}

# more_samples N: returns after the daemon took N more samples.
more_samples() {
	local want=$(($(samples) + $1))
	wait_for $(($1 + 10)) eval "[ \"\$(samples)\" -ge $want ]" ||
		fail "the sentry took no $1 more samples (at $(samples), want $want): $(cat "$T/sentry.err")"
}

watched() {
	[ "$(st "$1" .watched 2>/dev/null)" = true ]
}

# wait_watched SECONDS ID...
wait_watched() {
	local secs=$1 id
	shift
	for id in "$@"; do
		wait_for "$secs" watched "$id" ||
			fail "$id is not watched: $(cat "$T/status.json") $(cat "$T/sentry.err")"
	done
}

# get PATH: the daemon's answer to GET PATH (body), curl's exit status.
get() {
	curl -sf --max-time 5 "http://127.0.0.1:$SPORT$1"
}

# metric TEXT NAME ID: the value of NAME{id="ID",...} in TEXT.
metric() {
	awk -v n="$2" -v id="$3" 'index($1, n "{id=\"" id "\",") == 1 { print $2 }' <<< "$1"
}

# The cpu and freezer hierarchies' directories of a container's cgroup, as the
# status reports its cpu cgroup.
freezer_state() {
	cat "/sys/fs/cgroup/freezer$1/freezer.state"
}

cpu_usage() {
	cat "/sys/fs/cgroup/cpuacct$1/cpuacct.usage"
}

# cg_of ID: the container's cgroups path (what ctr gave it).
cg_of() {
	awk -v id="$1" '$2 == id { print $3 }' "$T/containers"
}

# sentry_map_ids: the ids of the BPF maps the running sentry holds, from its
# fds' fdinfo (bpftool's pid column needs its own BPF iterator).
sentry_map_ids() {
	local f
	for f in /proc/"$SPID"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:bpf-map" ] || continue
		awk '$1 == "map_id:" { print $2 }' "/proc/$SPID/fdinfo/${f##*/}"
	done
}

# watched_map_id: the id of the sentry's "watched" map.
watched_map_id() {
	local m
	for m in $(sentry_map_ids); do
		if bpftool map show id "$m" -j 2>/dev/null | jq -e '.name == "watched"' > /dev/null; then
			echo "$m"
			return 0
		fi
	done
	return 1
}

# map_keys ID: the keys (cgroup ids, decimal) in map ID, sorted.
map_keys() {
	bpftool map dump id "$1" -j | jq -r '.[].formatted.key' | sort -n
}
