# Plumbing for tests/tiers.bats: real containers through runwarden with runc,
# crun and runsc, each in its own cgroup (linux.cgroupsPath), with a probe
# script in the rootfs that reports what the container sees. Modelled on
# tests/lifecycle.bats (same stdio and teardown discipline).


# tier_values TIER: "MEMORY-BYTES CPU-QUOTA TMPFS-BYTES PIDS" of a default
# tier (README: free 256m / 0.25 CPU / 512m tmpfs; basic 512m / 0.5 / 1g;
# pro 1g / 1.0 / 2g; custom 2g / 2.0 / 5g; pids 256), quota at period 100000.
tier_values() {
	case $1 in
	free) echo 268435456 25000 536870912 256 ;;
	basic) echo 536870912 50000 1073741824 256 ;;
	pro) echo 1073741824 100000 2147483648 256 ;;
	custom) echo 2147483648 200000 5368709120 256 ;;
	*) return 1 ;;
	esac
}

# to_bytes SIZE: a tmpfs size= value (bytes, or k/m/g/t binary suffixes, as
# mount(8) and the kernel take them) in bytes; empty if it is not one.
to_bytes() {
	local s=${1,,} n m=1
	case $s in
	*k) m=1024 ;;
	*m) m=$((1024 ** 2)) ;;
	*g) m=$((1024 ** 3)) ;;
	*t) m=$((1024 ** 4)) ;;
	esac
	n=${s%[kmgt]}
	[[ $n =~ ^[0-9]+$ ]] || return 0
	echo $((n * m))
}

tiers_setup() {
	require_root
	command -v busybox >/dev/null || skip "busybox not installed"
	[ "$(devnull)" = "$DEVNULL_OK" ] ||
		fail "/dev/null is \"$(devnull)\" before the test: something changed it earlier (restore it with: chown root:root /dev/null; chmod 666 /dev/null)"
	T=$(scratch)
	R="$T/root"
	LOG="$T/runtime.log"
	ID="tr$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	CG="/rwtiers-$$-$ID"
	B="$T/bundle"
	export RUNWARDEN_POLICY="$T/policy.json"
	: > "$T/containers" # "DELEGATE ID CGROUPSPATH" for each container made
	: > "$T/pids"       # our own background processes
	: > "$T/cgroups"    # more cgroups paths to remove (parents)
	: > "$T/stdin"      # stdin for the runtimes
}

# use_policy JSON: the policy file (audit log in the scratch directory).
use_policy() {
	write_policy "$RUNWARDEN_POLICY" "$1 // written by tiers.bats"
}

# default_policy DELEGATE: the default tiers, DELEGATE for all of them.
default_policy() {
	use_policy "{\"delegate\": \"$1\", \"audit_log\": \"$T/audit.log\"}"
}



none_alive() {
	local p
	for p in "$@"; do
		! alive "$p" || return 1
	done
}

# tiers_setup_file: one busybox bundle for the whole file (mkbundle is the
# slow part of a test); bundle DIR ARG... copies it and sets the process.
tiers_setup_file() {
	PROTO="$BATS_FILE_TMPDIR/proto"
	export PROTO
	[ "$(id -u)" = 0 ] || return 0
	command -v busybox >/dev/null || return 0
	"$MKBUNDLE" "$PROTO" true > /dev/null
}

bundle() {
	local dir=$1
	shift
	[ -f "$PROTO/config.json" ] || fail "no prototype bundle (setup_file)"
	cp -a "$PROTO" "$dir"
	local args
	args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
	jq --argjson a "$args" '.process.args = $a' "$PROTO/config.json" > "$dir/config.json"
}

# mkprobe: a bundle in $B whose process (sh /probe.sh) reports, one fact a
# line, what the container sees, then prints probe-done and sleeps. The
# bundle starts out with what a tier must change: root writable, no
# noNewPrivileges, runc spec's default capabilities (AUDIT_WRITE, KILL,
# NET_BIND_SERVICE); and it gets our own cgroups path.
mkprobe() {
	bundle "$B" sh /probe.sh
	cat > "$B/rootfs/probe.sh" <<-'SH'
	#!/bin/sh
	echo "cgroup $(grep -E '^[0-9]+:memory:' /proc/self/cgroup | cut -d: -f3)"
	awk '$2 == "/" || $2 == "/tmp" || $2 == "/run" || $2 == "/var/tmp" { print "mount", $2, $3, $4 }' /proc/mounts
	for d in /tmp /run /var/tmp; do
		echo "df $d $(df -Pk "$d" | awk 'NR == 2 { print $2 }') $(stat -c %a "$d")"
		if echo x > "$d/probe-w" 2>/dev/null; then echo "write $d ok"; else echo "write $d failed"; fi
	done
	if err=$(touch /probe-x 2>&1); then echo "rootwrite ok"; else echo "rootwrite failed: $err"; fi
	grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\t' |
		sed 's/^/status /; s/:/ /'
	echo "memtotal $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	echo probe-done
	exec sleep 60
	SH
	cfg_edit --arg cg "$CG" '.linux.cgroupsPath = $cg | .root.readonly = false |
		.process.noNewPrivileges = false'
}

# cfg_edit JQ-ARGS...: edit the bundle's config.json with jq.
cfg_edit() {
	jq "$@" "$B/config.json" > "$T/config.tmp" && mv "$T/config.tmp" "$B/config.json"
}

# A pipe for the container's stdout (runsc writes nothing to a regular file),
# copied to $T/out.
start_reader() {
	rm -f "$T/out.fifo" "$T/out"
	mkfifo "$T/out.fifo"
	cat "$T/out.fifo" > "$T/out" 2>/dev/null 3>&- &
	echo $! >> "$T/pids"
}

track() {
	echo "$1 $2 $3" >> "$T/containers"
}

# track_cgroup PATH: a cgroups path for teardown to remove (all hierarchies).
track_cgroup() {
	echo "$1" >> "$T/cgroups"
}

# create DELEGATE ID: create through runwarden, stdout on the reader's pipe.
create() {
	local d=$1 id=$2 rc=0 m
	track "$d" "$id" "$(jq -r '.linux.cgroupsPath // empty' "$B/config.json")"
	# The modes of the image's own /tmp, /run, /var/tmp, before a runtime makes them.
	for m in /tmp /run /var/tmp; do
		echo "$m $(stat -c %a "$B/rootfs$m" 2>/dev/null || echo none)"
	done > "$T/image-modes"
	rwd "$d" create --bundle "$B" "$id" > "$T/out.fifo" 2> "$T/create.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "create $id exited $rc: $(cat "$T/create.err")"
	[ ! -s "$T/create.err" ] || fail "create $id printed: $(cat "$T/create.err")"
}

state_pid() {
	rwd "$1" state "$2" 2>/dev/null | jq -r '.pid // empty'
}

# start_probe DELEGATE ID: start, wait for the probe's report.
start_probe() {
	local d=$1 id=$2 rc=0
	rwd "$d" start "$id" > "$T/start.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "start $id exited $rc: $(cat "$T/start.out")"
	wait_for 20 grep -qx probe-done "$T/out" || fail "no report from the container: $(cat "$T/out")"
}

# remove DELEGATE ID: delete --force through runwarden; nothing of it left.
remove() {
	local d=$1 id=$2 cg
	cg=$(awk -v id="$id" '$2 == id { print $3 }' "$T/containers")
	rwd "$d" delete --force "$id" > "$T/delete.out" 2>&1 || fail "delete --force $id: $(cat "$T/delete.out")"
	wait_for 20 container_gone "$id" "$cg" ||
		fail "$id left: $(ls -A "$R"; cgroup_dirs "$cg"; root_procs)"
}

container_gone() {
	local id=$1 cg=$2
	[ ! -e "$R/$id" ] && ! compgen -G "$R/*_sandbox:$id.*" >/dev/null &&
		[ ! -e "$R/.runwarden-$id.json" ] && { [ -z "$cg" ] || [ -z "$(cgroup_dirs "$cg")" ]; } &&
		[ -z "$(root_procs)" ]
}

# cfg_is JQ-FILTER EXPECTED: config.json's value (jq -c) is EXPECTED.
cfg_is() {
	local v
	v=$(jq -c "$1" "$B/config.json")
	[ "$v" = "$2" ] || fail "config.json $1 is $v, not $2"
}

# cg_is PATH CONTROLLER FILE EXPECTED: the cgroup file holds EXPECTED.
cg_is() {
	local f="/sys/fs/cgroup/$2$1/$3" v
	[ -f "$f" ] || fail "no $f (cgroups: $(cgroup_dirs "$1" | tr '\n' ' '))"
	v=$(cat "$f")
	[ "$v" = "$4" ] || fail "$f holds $v, not $4"
}

# in_cgroup PATH PID: PID is in PATH in the memory, cpu and pids hierarchies.
in_cgroup() {
	local c
	for c in memory cpu pids; do
		grep -qx "$2" "/sys/fs/cgroup/$c$1/cgroup.procs" 2>/dev/null ||
			fail "pid $2 is not in /sys/fs/cgroup/$c$1 (it is in: $(tr '\n' ' ' < "/proc/$2/cgroup"))"
	done
}

# The probe's facts: probe KEY [FIELD...] prints the lines that start with KEY.
probe() {
	awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$T/out"
}

assert_no_runwarden_errors() {
	! grep -q 'runwarden:' "$LOG" 2>/dev/null || fail "errors logged: $(cat "$LOG")"
}

tiers_teardown() {
	[ -n "${T:-}" ] || return 0
	local d id cg p pids="" bad=""

	# Remove every container through its own delegate.
	while read -r d id cg; do
		[ -n "$id" ] || continue
		p=$(direct "$d" state "$id" 2> "$T/teardown.out" | jq -r '.pid // empty' 2>/dev/null) || true
		pids="$pids $p"
		[ -z "$cg" ] || pids="$pids $(cgroup_procs "$cg")"
		direct "$d" delete --force "$id" > "$T/teardown.out" 2>&1 || true
	done < "$T/containers"
	# Then whatever survived, by PID.
	pids="$pids $(cat "$T/pids") $(root_procs)"
	while read -r d id cg; do
		[ -n "$cg" ] && pids="$pids $(cgroup_procs "$cg")"
	done < "$T/containers"
	for p in $pids; do
		if alive "$p"; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	# shellcheck disable=SC2086
	wait_for 10 none_alive $pids || true
	# Our cgroups, depth-first, in every hierarchy.
	for cg in $(awk '$3 != "" { print $3 }' "$T/containers") $(cat "$T/cgroups"); do
		for p in $(cgroup_dirs "$cg"); do
			find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
	done

	# Then check that nothing is left.
	while read -r d id cg; do
		[ -n "$id" ] || continue
		[ -z "$cg" ] || [ -z "$(cgroup_dirs "$cg")" ] || bad="$bad cgroups:$(cgroup_dirs "$cg" | tr '\n' ' ')"
		for p in "/run/runc/$id" "/run/crun/$id" "/run/runwarden/.runwarden-$id.json" \
			$(compgen -G "/var/run/runsc/*$id*" || true); do
			if [ -e "$p" ]; then
				bad="$bad $p"
				rm -rf "$p"
			fi
		done
	done < "$T/containers"
	for cg in $(cat "$T/cgroups"); do
		[ -z "$(cgroup_dirs "$cg")" ] || bad="$bad cgroups:$(cgroup_dirs "$cg" | tr '\n' ' ')"
	done
	[ -z "$(root_procs)" ] || bad="$bad runsc-processes:$(root_procs | tr '\n' ' ')"
	for p in $pids; do
		! alive "$p" || bad="$bad pid:$p"
	done
	p=$(devnull)
	[ "$p" = "$DEVNULL_OK" ] || bad="$bad /dev/null:($p)"
	[ -z "$bad" ] || fail "teardown: left behind:$bad"
}
