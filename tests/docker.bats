#!/usr/bin/env bats
# End to end: a private containerd + dockerd with runwarden as the default
# runtime, driven through the docker CLI. Needs root, dockerd, containerd.
#
# Environment: RUNWARDEN (the binary), RUNWARDEN_SRCDIR (top source dir).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/docker'

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	docker_start
	docker_import_busybox
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	docker_stop
}

setup() {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
}

teardown() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	restore_policy
	# Each test starts from no containers.
	local ids
	ids=$(dk ps -aq)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || dk rm -f $ids >/dev/null
}

# Start a long-running container; print its full id.
start_sleeper() {
	dk run -d --network none "$RW_IMAGE" sleep 600
}

inspect() { # FORMAT ID
	dk inspect -f "$1" "$2"
}

# A container's cgroup directory in a v1 hierarchy.
cgdir() { # CONTROLLER ID
	echo "/sys/fs/cgroup/$1/$RW_CGPARENT/$2"
}

@test "docker info: runwarden is the default runtime" {
	run dk info --format '{{.DefaultRuntime}}'
	assert_success
	assert_output runwarden

	run dk info --format '{{json .Runtimes}}'
	assert_success
	run jq -r '.runwarden.path' <<<"$output"
	assert_output "$RUNWARDEN"

	# dockerd runs "<default runtime> --version" and keeps its commit: line.
	local want
	want=$("$RUNWARDEN" --version | sed -n 's/^commit: *//p' | head -n 1)
	[ -n "$want" ]
	run dk info --format '{{.RuncCommit.ID}}'
	assert_success
	assert_output "$want"
}

@test "docker run --rm prints the command's output" {
	run dk run --rm --network none "$RW_IMAGE" echo hello
	assert_success
	assert_output hello
}

@test "create annotates the bundle config.json with the delegate" {
	local id cfg
	id=$(start_sleeper)
	cfg=$(bundle_dir "$id")/config.json
	[ -f "$cfg" ]
	run jq -r '.annotations["org.runwarden.delegate"] // "MISSING"' "$cfg"
	assert_success
	assert_output runc
	run jq -r '.annotations["org.runwarden.version"] // ""' "$cfg"
	assert_success
	refute_output ''
	# runwarden's record sits beside runc's state under dockerd's --root.
	run jq -r .delegate "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json"
	assert_success
	assert_output runc
	[ -f "$RW_EXEC_ROOT/runtime-runc/moby/$id/state.json" ]
	# The rewritten bundle is still the one that runs.
	run jq -r '.process.args | join(" ")' "$cfg"
	assert_output 'sleep 600'
	assert_equal "$(inspect '{{.State.Running}}' "$id")" true
}

@test "docker exec runs a process in a running container" {
	local id
	id=$(start_sleeper)
	run dk exec "$id" sh -c 'echo from-exec; cat /proc/1/comm'
	assert_success
	assert_line --index 0 from-exec
	assert_line --index 1 sleep
	run dk exec "$id" sh -c 'exit 7'
	assert_failure 7
}

@test "docker top lists the container's processes" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	run dk top "$id" -o pid,args
	assert_success
	assert_line --regexp "^ *$pid +sleep 600\$"
}

@test "docker pause and unpause freeze and thaw the container" {
	local id
	id=$(start_sleeper)
	dk pause "$id"
	assert_equal "$(inspect '{{.State.Status}} {{.State.Paused}}' "$id")" 'paused true'
	assert_equal "$(cat "$(cgdir freezer "$id")/freezer.state")" FROZEN
	dk unpause "$id"
	assert_equal "$(inspect '{{.State.Status}} {{.State.Paused}}' "$id")" 'running false'
	assert_equal "$(cat "$(cgdir freezer "$id")/freezer.state")" THAWED
	run dk exec "$id" echo awake
	assert_success
	assert_output awake
}

@test "docker update --memory sets the memory cgroup limit" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	# The container really lives in the cgroup we are about to read.
	run grep -E '^[0-9]+:memory:' "/proc/$pid/cgroup"
	assert_output --regexp ":memory:/$RW_CGPARENT/$id\$"
	run cat "$(cgdir memory "$id")/memory.limit_in_bytes"
	refute_output 67108864

	run dk update --memory 64m --memory-swap 64m "$id"
	assert_success
	run cat "$(cgdir memory "$id")/memory.limit_in_bytes"
	assert_output 67108864
	if [ -f "$(cgdir memory "$id")/memory.memsw.limit_in_bytes" ]; then
		run cat "$(cgdir memory "$id")/memory.memsw.limit_in_bytes"
		assert_output 67108864
	fi
	assert_equal "$(inspect '{{.HostConfig.Memory}}' "$id")" 67108864
}

@test "docker stop stops the container" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	kill -0 "$pid"
	run dk stop -t 1 "$id"
	assert_success
	assert_equal "$(inspect '{{.State.Status}} {{.State.Running}}' "$id")" 'exited false'
	run kill -0 "$pid"
	assert_failure
	[ ! -d "$(cgdir memory "$id")" ]
}

@test "docker restart runs the container again with a new pid" {
	local id old new
	id=$(start_sleeper)
	old=$(inspect '{{.State.Pid}}' "$id")
	run dk restart -t 1 "$id"
	assert_success
	assert_equal "$(inspect '{{.State.Running}}' "$id")" true
	new=$(inspect '{{.State.Pid}}' "$id")
	[ "$new" -gt 0 ]
	[ "$new" != "$old" ]
	kill -0 "$new"
	run kill -0 "$old"
	assert_failure
	run jq -r '.annotations["org.runwarden.delegate"] // "MISSING"' \
		"$(bundle_dir "$id")/config.json"
	assert_output runc
	run dk exec "$id" echo again
	assert_output again
}

@test "docker rm -f removes a running container" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	[ -d "$(bundle_dir "$id")" ]
	run dk rm -f "$id"
	assert_success
	run dk inspect "$id"
	assert_failure
	run dk ps -aq --no-trunc
	assert_success
	refute_output --partial "$id"
	run kill -0 "$pid"
	assert_failure
	[ ! -e "$(bundle_dir "$id")" ]
	[ ! -d "$(cgdir memory "$id")" ]
	# and runwarden's record went with it
	[ -e "$RW_EXEC_ROOT/runtime-runc/moby" ]
	[ ! -e "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json" ]
}

@test "a refusal by runwarden fails docker run with its message" {
	set_policy '{"delegate":"runc","test_refuse":"forced by test"}'
	run dk run --rm --network none "$RW_IMAGE" echo should-not-run
	restore_policy
	assert_failure
	assert_output --partial 'runwarden: refused: forced by test'
	refute_output --partial should-not-run
	# Nothing is left running, and the next run (policy restored) works.
	run dk ps -q
	assert_output ''
	run dk run --rm --network none "$RW_IMAGE" echo back
	assert_success
	assert_output back
}

@test "docker run through runwarden to runsc (gVisor), runtimeArgs passed through" {
	# Debian's runsc (2022) needs --network=none on this kernel: the second
	# registered runtime carries it as runtimeArgs, which runwarden hands over.
	set_policy '{"delegate":"runsc"}'
	local id
	id=$(dk run -d --runtime runwarden-netnone --network none "$RW_IMAGE" sleep 600)
	run jq -r '.annotations["org.runwarden.delegate"]' "$(bundle_dir "$id")/config.json"
	assert_output runsc
	run jq -r .delegate "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json"
	assert_output runsc
	# the policy changes; the container keeps its delegate
	restore_policy
	run dk exec "$id" dmesg
	assert_success
	assert_output --partial gVisor
	run dk rm -f "$id"
	assert_success
	[ ! -e "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json" ]
	# containerd gives a detached runsc container the host's /dev/null as
	# stdin, which runsc chowns to its sandbox user: runwarden shields it
	[ "$(stat -c '%U:%G %a' /dev/null)" = "root:root 666" ]
	set_policy '{"delegate":"runsc"}'
	run dk run --rm --runtime runwarden-netnone --network none "$RW_IMAGE" echo hello-runsc
	assert_success
	assert_output hello-runsc
}
