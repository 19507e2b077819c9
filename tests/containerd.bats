#!/usr/bin/env bats
# runwarden under containerd without Docker: `ctr run` with the runc shim
# (io.containerd.runc.v2) whose BinaryName is runwarden, the way the CRI
# plugin runs it for Kubernetes with contrib/containerd-config.toml.
# The runtime type and BinaryName come from that snippet (its path replaced by
# the binary under test), and containerd itself must accept the snippet.
# Needs root, containerd, ctr; dockerd only to make the image (docker save).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/docker'

SNIPPET=contrib/containerd-config.toml

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	[ -n "$RW_SKIP_REASON" ] || command -v ctr >/dev/null || RW_SKIP_REASON="ctr not installed"
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	# ctr and the runc shim use two fixed directories under /run/containerd:
	# remove them at the end when this suite made them (and they are empty)
	RW_HAD_CTRD_DIRS=""
	local d
	for d in /run/containerd/runc /run/containerd/fifo; do
		[ -e "$d" ] && RW_HAD_CTRD_DIRS="$RW_HAD_CTRD_DIRS $d"
	done
	export RW_HAD_CTRD_DIRS
	docker_start
	docker_import_busybox
	# containerd's own namespace for these tests (not dockerd's "moby")
	export RW_NS=rwtest-$$
	dk save -o "$RW_T/busybox.tar" "$RW_IMAGE"
	ctrc image import "$RW_T/busybox.tar" >/dev/null
	# ctr names an image of a docker save by its normalised reference
	export RW_CTR_IMAGE=docker.io/$RW_IMAGE
	# The snippet, pointing at the binary under test.
	sed "s|/usr/local/bin/runwarden|$RUNWARDEN|" "$RUNWARDEN_SRCDIR/$SNIPPET" > "$RW_T/snippet.toml"
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	ctr_cleanup
	# runc's state root for our namespace (the shim's /run/containerd/runc/NS)
	[ -z "${RW_NS:-}" ] || rmdir "/run/containerd/runc/$RW_NS" 2>/dev/null
	local d
	for d in /run/containerd/runc /run/containerd/fifo; do
		case " $RW_HAD_CTRD_DIRS " in *" $d "*) ;; *) rmdir "$d" 2>/dev/null ;; esac
	done
	docker_stop
}

setup() {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
}

teardown() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	ctr_cleanup keep-image
	restore_policy
	[ "$(stat -c '%U:%G %a %F' /dev/null)" = "root:root 666 character special file" ] ||
		fail "/dev/null is $(stat -c '%U:%G %a %F' /dev/null) after the test"
}

ctrc() {
	ctr --address "$RW_CTRD_SOCK" --namespace "$RW_NS" "$@"
}

# Every task and container of our namespace; with no argument the image and
# the namespace too.
ctr_cleanup() {
	local c
	[ -n "${RW_NS:-}" ] && [ -S "${RW_CTRD_SOCK:-}" ] || return 0
	for c in $(ctrc task ls -q 2>/dev/null); do
		ctrc task kill -s KILL "$c" >/dev/null 2>&1
		wait_for 10 task_stopped "$c"
		ctrc task delete -f "$c" >/dev/null 2>&1
	done
	for c in $(ctrc container ls -q 2>/dev/null); do
		ctrc container delete "$c" >/dev/null 2>&1
	done
	[ "${1:-}" = keep-image ] && return 0
	ctrc image rm "$(ctrc image ls -q)" >/dev/null 2>&1
	ctr --address "$RW_CTRD_SOCK" namespace rm "$RW_NS" >/dev/null 2>&1 || true
}

task_stopped() {
	! ctrc task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }' | grep -q RUNNING
}

# A value of the snippet's runwarden runtime: KEY (runtime_type, BinaryName).
snippet_value() {
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\\(.*\\)\"[[:space:]]*\$/\\1/p" "$RW_T/snippet.toml"
}

# ctr run -d, the way the snippet configures the runtime. ID [ctr run flags...]
run_detached() {
	local id=$1
	shift
	ctrc run -d --null-io --runtime "$(snippet_value runtime_type)" \
		--runc-binary "$(snippet_value BinaryName)" \
		--cgroup "/$RW_CGPARENT/$id" "$@" "$RW_CTR_IMAGE" "$id" sleep 600
}

bundle() { # ID
	echo "$RW_CTRD_STATE/io.containerd.runtime.v2.task/$RW_NS/$1"
}

@test "containerd accepts contrib/containerd-config.toml: runtime runwarden, runc shim, BinaryName" {
	# the CRI plugin's typed configuration, as containerd reads it
	{ cat "$RW_T/containerd.toml"; cat "$RW_T/snippet.toml"; } |
		grep -v '^disabled_plugins' > "$RW_T/with-snippet.toml"
	run containerd --config "$RW_T/with-snippet.toml" config dump
	assert_success
	run awk '/^ *\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runwarden\]/ { on = 1; next }
		 on && /^ *\[/ && !/runtimes.runwarden.options\]/ { on = 0 }
		 on && /runtime_type|BinaryName|SystemdCgroup/ { gsub(/^ +/, ""); print }' <<<"$output"
	assert_success
	assert_line 'runtime_type = "io.containerd.runc.v2"'
	assert_line "BinaryName = \"$RUNWARDEN\""
	assert_line 'SystemdCgroup = false'
	[ "$(snippet_value runtime_type)" = io.containerd.runc.v2 ]
	[ "$(snippet_value BinaryName)" = "$RUNWARDEN" ]
}

@test "contrib/runtimeclass.yaml's handler is the snippet's runtime name" {
	run sed -n 's/^handler: *//p' "$RUNWARDEN_SRCDIR/contrib/runtimeclass.yaml"
	assert_output runwarden
	grep -q '^\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runwarden\]$' "$RW_T/snippet.toml"
	run grep -E '^(apiVersion|kind):' "$RUNWARDEN_SRCDIR/contrib/runtimeclass.yaml"
	assert_output "$(printf 'apiVersion: node.k8s.io/v1\nkind: RuntimeClass')"
}

@test "ctr run through runwarden (BinaryName): the free tier's limits on the container's cgroup" {
	run run_detached c1
	assert_success
	wait_for 20 bash -c "ctr --address '$RW_CTRD_SOCK' --namespace '$RW_NS' task ls | grep -q '^c1 .*RUNNING'"

	# runwarden rewrote the bundle's config.json and said so
	local cfg
	cfg=$(bundle c1)/config.json
	run jq -r '.annotations["org.runwarden.tier"], .annotations["org.runwarden.tier.source"],
		.annotations["org.runwarden.delegate"], .linux.resources.memory.limit, .linux.resources.pids.limit,
		.root.readonly, .process.noNewPrivileges' "$cfg"
	assert_success
	assert_output "$(printf '%s\n' free default runc 268435456 256 true true)"

	# and the delegate applied it: the container's cgroup
	[ "$(cat "/sys/fs/cgroup/memory/$RW_CGPARENT/c1/memory.limit_in_bytes")" = 268435456 ]
	[ "$(cat "/sys/fs/cgroup/pids/$RW_CGPARENT/c1/pids.max")" = 256 ]
	[ "$(cat "/sys/fs/cgroup/cpu/$RW_CGPARENT/c1/cpu.cfs_quota_us")" = 25000 ]
	local pid
	pid=$(ctrc task ls | awk '$1 == "c1" { print $2 }')
	grep -qx "[0-9]*:memory:/$RW_CGPARENT/c1" "/proc/$pid/cgroup"

	# runwarden's record beside runc's state (the shim's root for our namespace)
	[ -f "/run/containerd/runc/$RW_NS/.runwarden-c1.json" ]
	# exec goes through runwarden too: a tenant's no-new-privileges holds
	run ctrc task exec --exec-id e1 c1 grep NoNewPrivs /proc/self/status
	assert_success
	assert_output --regexp 'NoNewPrivs:[[:space:]]+1'
}

@test "ctr run --annotation org.runwarden.tier=pro gets the pro tier" {
	run run_detached c2 --annotation org.runwarden.tier=pro
	assert_success
	run jq -r '.annotations["org.runwarden.tier"], .annotations["org.runwarden.tier.source"],
		.linux.resources.memory.limit' "$(bundle c2)/config.json"
	assert_output "$(printf '%s\n' pro annotation 1073741824)"
	[ "$(cat "/sys/fs/cgroup/memory/$RW_CGPARENT/c2/memory.limit_in_bytes")" = 1073741824 ]
}

@test "a refusal reaches ctr: create fails with runwarden's message (policy test_refuse)" {
	set_policy "{\"delegate\":\"runc\",\"audit_log\":\"$RW_AUDIT\",\"test_refuse\":\"no containers today\"}"
	run run_detached c3
	assert_failure
	assert_output --partial "no containers today"
	# shellcheck disable=SC2143 # (! grep would not fail a bats test)
	[ -z "$(ctrc task ls -q | grep -x c3)" ]
}

@test "delete through runwarden removes its record" {
	run run_detached c4
	assert_success
	[ -f "/run/containerd/runc/$RW_NS/.runwarden-c4.json" ]
	ctrc task kill -s KILL c4
	wait_for 10 task_stopped c4
	run ctrc task delete c4
	assert_success
	[ ! -e "/run/containerd/runc/$RW_NS/.runwarden-c4.json" ]
	[ ! -e "/run/containerd/runc/$RW_NS/c4" ]
}
