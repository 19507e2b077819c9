#!/usr/bin/env bats
# Real containers through runwarden, with each delegate (runc, crun, runsc):
# create/start/state/kill/delete, run and exec, the delegate recorded at create
# (or found by probing its state) outliving a policy change, delete --force of
# a container never started, parallel creates, a broken policy. Each test uses
# its own --root in a scratch directory and its own ids; teardown removes
# whatever a test left (through the delegate itself, then by PID) and fails
# the test if anything was leaked: state, records, cgroups, processes, or a
# changed /dev/null.

bats_require_minimum_version 1.5.0
load helpers/common


setup() {
	require_root
	command -v busybox >/dev/null || skip "busybox not installed"
	# The teardown checks that no runtime changed the host's /dev/null.
	[ "$(devnull)" = "$DEVNULL_OK" ] ||
		fail "/dev/null is \"$(devnull)\" before the test: something changed it earlier (restore it with: chown root:root /dev/null; chmod 666 /dev/null)"
	T=$(scratch)
	R="$T/root"
	LOG="$T/runtime.log"
	ID="lc$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	B="$T/bundle"
	export RUNWARDEN_POLICY="$T/policy.json"
	: > "$T/containers" # "DELEGATE ID" for each container made, for teardown
	: > "$T/pids"       # our own background processes
	: > "$T/stdin"      # stdin for the runtimes
	RW_VERSION=$("$RUNWARDEN" --version | sed -n '1s/^runwarden version //p')
}

track() {
	echo "$1 $2" >> "$T/containers"
}

use_policy() {
	write_policy "$RUNWARDEN_POLICY" "{ \"delegate\": \"$1\" } // written by lifecycle.bats"
}


status_is() {
	[ "$(rwd "$1" state "$2" 2> "$T/state.err" | jq -r .status)" = "$3" ]
}

wait_status() {
	wait_for "${4:-20}" status_is "$1" "$2" "$3" ||
		fail "$2 did not get to \"$3\": $(rwd "$1" state "$2" 2>&1)"
}

record() {
	echo "$R/.runwarden-$1.json"
}

assert_record() {
	local d=$1 id=$2
	[ -f "$(record "$id")" ] || fail "no record for $id"
	jq -e --arg d "$d" --arg p "$(delegate_path "$d")" --arg b "$(realpath "$B")" \
		'.delegate == $d and .path == $p and .bundle == $b' "$(record "$id")" >/dev/null ||
		fail "record: $(cat "$(record "$id")")"
}

assert_annotated() {
	jq -e --arg d "$1" --arg v "$RW_VERSION" \
		'.annotations["org.runwarden.delegate"] == $d and .annotations["org.runwarden.version"] == $v and
		 .process.args[0] == "sh"' "$B/config.json" >/dev/null ||
		fail "config.json annotations: $(jq -c .annotations "$B/config.json")"
}

# The delegate's own state for the container is there, and no other's.
assert_delegate_state() {
	local d=$1 id=$2
	case $d in
	runc) [ -f "$R/$id/state.json" ] && [ ! -e "$R/$id/status" ] ;;
	crun) [ -f "$R/$id/status" ] && [ ! -e "$R/$id/state.json" ] ;;
	runsc) compgen -G "$R/*_sandbox:$id.state" >/dev/null && [ ! -e "$R/$id" ] ;;
	esac || fail "no $d state for $id in $R: $(ls -A "$R")"
}

# `state` output ($output) is in DELEGATE's own format.
assert_state_format() {
	local d=$1 f
	case $d in
	runc) f='has("rootfs") and has("owner") and (has("systemd-scope") | not)' ;;
	crun) f='has("rootfs") and has("systemd-scope")' ;;
	runsc) f='(has("rootfs") | not) and (has("systemd-scope") | not)' ;;
	esac
	jq -e "$f" <<< "$output" >/dev/null || fail "state is not $d's: $output"
}



none_alive() {
	local p
	for p in "$@"; do
		! alive "$p" || return 1
	done
}

# Nothing of the container is left: state, record, cgroups, runsc processes.
container_gone() {
	local id=$1
	[ ! -e "$R/$id" ] && ! compgen -G "$R/*_sandbox:$id.*" >/dev/null &&
		[ ! -e "$(record "$id")" ] && [ -z "$(cgroup_dirs "$id")" ] && [ -z "$(root_procs)" ]
}

assert_gone() {
	wait_for 20 container_gone "$1" ||
		fail "$1 left: $(ls -A "$R"; cgroup_dirs "$1"; root_procs)"
}

# A pipe for the container's stdout (runsc writes nothing to a regular file),
# copied to $T/out.
start_reader() {
	mkfifo "$T/out.fifo"
	cat "$T/out.fifo" > "$T/out" 2>/dev/null 3>&- &
	echo $! >> "$T/pids"
}

# create, with the container's stdout on the reader's pipe.
create() {
	local d=$1 id=$2 rc=0
	track "$d" "$id"
	rwd "$d" create --bundle "$B" "$id" > "$T/out.fifo" 2> "$T/create.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "create $id exited $rc: $(cat "$T/create.err")"
	[ ! -s "$T/create.err" ] || fail "create $id printed: $(cat "$T/create.err")"
}

assert_no_runwarden_errors() {
	! grep -q 'runwarden:' "$LOG" 2>/dev/null || fail "errors logged: $(cat "$LOG")"
}

teardown() {
	[ -n "${T:-}" ] || return 0
	local d id p pids="" bad=""

	# Remove every container through its own delegate.
	while read -r d id; do
		[ -n "$id" ] || continue
		p=$(direct "$d" state "$id" 2> "$T/teardown.out" | jq -r '.pid // empty' 2>/dev/null) || true
		pids="$pids $p $(cgroup_procs "$id")"
		direct "$d" delete --force "$id" > "$T/teardown.out" 2>&1 || true
	done < "$T/containers"
	# Then whatever survived, by PID.
	pids="$pids $(cat "$T/pids") $(root_procs)"
	while read -r d id; do
		[ -n "$id" ] && pids="$pids $(cgroup_procs "$id")"
	done < "$T/containers"
	for p in $pids; do
		if alive "$p"; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	# shellcheck disable=SC2086
	wait_for 10 none_alive $pids || true
	while read -r d id; do
		[ -n "$id" ] || continue
		for p in $(cgroup_dirs "$id"); do
			find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
	done < "$T/containers"

	# Then check that nothing is left.
	while read -r d id; do
		[ -n "$id" ] || continue
		[ -z "$(cgroup_dirs "$id")" ] || bad="$bad cgroups:$(cgroup_dirs "$id" | tr '\n' ' ')"
		for p in "/run/runc/$id" "/run/crun/$id" "/run/runwarden/.runwarden-$id.json" \
			$(compgen -G "/var/run/runsc/*$id*" || true); do
			if [ -e "$p" ]; then
				bad="$bad $p"
				rm -rf "$p"
			fi
		done
	done < "$T/containers"
	[ -z "$(root_procs)" ] || bad="$bad runsc-processes:$(root_procs | tr '\n' ' ')"
	for p in $pids; do
		! alive "$p" || bad="$bad pid:$p"
	done
	p=$(devnull)
	[ "$p" = "$DEVNULL_OK" ] || bad="$bad /dev/null:($p)"
	[ -z "$bad" ] || fail "teardown: left behind:$bad"
}

# create -> created -> start -> output -> running -> kill -> stopped -> delete.
lifecycle() {
	local d=$1 pid
	require_delegate "$d"
	use_policy "$d"
	"$MKBUNDLE" "$B" sh -c "echo out-\$0; exec sleep 60" "$ID" > /dev/null
	start_reader
	create "$d" "$ID"
	assert_record "$d" "$ID"
	assert_annotated "$d"
	assert_delegate_state "$d" "$ID"

	run --separate-stderr rwd "$d" state "$ID"
	assert_success
	assert_state_format "$d"
	jq -e --arg id "$ID" --arg d "$d" '.id == $id and .status == "created" and
		.annotations["org.runwarden.delegate"] == $d' <<< "$output" >/dev/null || fail "state: $output"
	[ ! -s "$T/out" ] || fail "output before start: $(cat "$T/out")"

	run --separate-stderr rwd "$d" start "$ID"
	assert_success
	assert_output ''
	wait_for 20 grep -qx "out-$ID" "$T/out" || fail "no output from the container: $(cat "$T/out")"
	wait_status "$d" "$ID" running
	pid=$(rwd "$d" state "$ID" | jq -r .pid)
	[ "$pid" -gt 1 ] && alive "$pid" || fail "pid $pid"
	[ -n "$(cgroup_dirs "$ID")" ] || fail "no cgroup named $ID"

	run --separate-stderr rwd "$d" kill "$ID" 9
	assert_success
	assert_output ''
	wait_status "$d" "$ID" stopped
	[ -f "$(record "$ID")" ] || fail "the record went before delete"

	run --separate-stderr rwd "$d" delete "$ID"
	assert_success
	assert_output ''
	run --separate-stderr rwd "$d" state "$ID"
	assert_failure
	[ ! -e "$(record "$ID")" ] || fail "delete left the record"
	assert_gone "$ID"
	wait_for 10 none_alive "$pid" || fail "pid $pid survived"
	assert_no_runwarden_errors
}

@test "runc: create, state, start, output, kill, delete" {
	lifecycle runc
}

@test "crun: create, state, start, output, kill, delete" {
	lifecycle crun
}

@test "runsc: create, state, start, output, kill, delete" {
	lifecycle runsc
}

# run in the foreground prints the container's output and exit status; run -d
# (--detach), then exec with a command line and with --process.
run_and_exec() {
	local d=$1 id2="$ID-d"
	require_delegate "$d"
	use_policy "$d"
	"$MKBUNDLE" "$B" sh -c "echo out-\$0; exit 3" "$ID" > /dev/null
	track "$d" "$ID"
	run --separate-stderr rwd "$d" run --bundle "$B" "$ID"
	[ "$status" -eq 3 ] || fail "run exited $status (the container 3): $stderr"
	assert_output "out-$ID"
	assert_annotated "$d"
	# A foreground run removes its container, and leaves no record.
	assert_gone "$ID"

	jq '.process.args = ["sh", "-c", "exec sleep 60"]' "$B/config.json" > "$T/c" && mv "$T/c" "$B/config.json"
	track "$d" "$id2"
	# runc and crun take -d; runsc only --detach.
	local detach=-d
	[ "$d" != runsc ] || detach=--detach
	rwd "$d" run "$detach" --bundle "$B" "$id2" > "$T/run.out" 2> "$T/run.err" ||
		fail "run $detach: $(cat "$T/run.err")"
	[ ! -s "$T/run.err" ] || fail "run $detach printed: $(cat "$T/run.err")"
	assert_record "$d" "$id2"
	assert_delegate_state "$d" "$id2"
	wait_status "$d" "$id2" running

	run --separate-stderr rwd "$d" exec "$id2" sh -c "echo exec-\$0; exit 5" "$id2"
	[ "$status" -eq 5 ] || fail "exec exited $status (the process 5): $stderr"
	assert_output "exec-$id2"

	cat > "$T/process.json" <<-EOF
	{"args": ["sh", "-c", "echo proc-\$MARK \$(hostname)"], "env": ["PATH=/bin", "MARK=$id2"],
	 "cwd": "/", "user": {"uid": 0, "gid": 0}, "terminal": false}
	EOF
	cp "$T/process.json" "$T/process.orig"
	run --separate-stderr rwd "$d" exec --process "$T/process.json" "$id2"
	assert_success
	assert_output "proc-$id2 $(jq -r .hostname "$B/config.json")"
	# the tier's treatment (no capabilities, noNewPrivileges), nothing else
	jq -e '.noNewPrivileges == true and ([.capabilities[]] | flatten | length) == 0' "$T/process.json" > /dev/null ||
		fail "the process did not get the tier's treatment: $(cat "$T/process.json")"
	jq 'del(.noNewPrivileges, .capabilities)' "$T/process.json" > "$T/process.rest"
	jq . "$T/process.orig" > "$T/process.orig.norm"
	json_equal "$T/process.orig.norm" "$T/process.rest" || fail "the process file changed beyond the tier's fields"

	run --separate-stderr rwd "$d" delete --force "$id2"
	assert_success
	assert_output ''
	run --separate-stderr rwd "$d" state "$id2"
	assert_failure
	assert_gone "$id2"
	assert_no_runwarden_errors
}

@test "runc: run prints the output; run --detach then exec (args and --process)" {
	run_and_exec runc
}

@test "crun: run prints the output; run --detach then exec (args and --process)" {
	run_and_exec crun
}

@test "runsc: run prints the output; run --detach then exec (args and --process)" {
	run_and_exec runsc
}

# Created with DELEGATE, then the policy names OTHER: the later verbs still
# reach DELEGATE, through the record (or, with WAY=probe, its state).
later_verbs() {
	local d=$1 other=$2 way=$3
	require_delegate "$d"
	require_delegate "$other"
	use_policy "$d"
	"$MKBUNDLE" "$B" sh -c "echo out-\$0; exec sleep 60" "$ID" > /dev/null
	start_reader
	create "$d" "$ID"
	assert_record "$d" "$ID"
	[ "$way" = record ] || rm "$(record "$ID")"

	use_policy "$other"
	"$RUNWARDEN" --version | grep -qxF "delegate: $(delegate_path "$other")" ||
		fail "the policy change did not take"

	run --separate-stderr rwd "$d" start "$ID"
	assert_success
	wait_for 20 grep -qx "out-$ID" "$T/out" || fail "no output from the container"
	wait_status "$d" "$ID" running
	run --separate-stderr rwd "$d" state "$ID"
	assert_success
	assert_state_format "$d"
	assert_delegate_state "$d" "$ID"
	run --separate-stderr rwd "$d" exec "$ID" echo "exec-$ID"
	assert_success
	assert_output "exec-$ID"
	run --separate-stderr rwd "$d" kill "$ID" 9
	assert_success
	wait_status "$d" "$ID" stopped
	run --separate-stderr rwd "$d" delete "$ID"
	assert_success
	run --separate-stderr rwd "$d" state "$ID"
	assert_failure
	assert_gone "$ID"
	assert_no_runwarden_errors
}

@test "created with crun, policy now runc: start/state/exec/kill/delete reach crun (record)" {
	later_verbs crun runc record
}

@test "created with runc, policy now crun: later verbs reach runc (record)" {
	later_verbs runc crun record
}

@test "created with runsc, policy now runc: later verbs reach runsc (record)" {
	later_verbs runsc runc record
}

@test "created with crun, record lost, policy now runc: later verbs find crun by its state" {
	later_verbs crun runc probe
}

@test "created with runc, record lost, policy now crun: later verbs find runc by its state" {
	later_verbs runc crun probe
}

@test "created with runsc, record lost, policy now runc: later verbs find runsc by its state" {
	later_verbs runsc runc probe
}

# delete --force of a container created but never started.
force_delete_created() {
	local d=$1 pid
	require_delegate "$d"
	use_policy "$d"
	"$MKBUNDLE" "$B" sh -c "echo started-\$0; exec sleep 60" "$ID" > /dev/null
	start_reader
	create "$d" "$ID"
	assert_record "$d" "$ID"
	wait_status "$d" "$ID" created
	pid=$(rwd "$d" state "$ID" | jq -r .pid)
	alive "$pid" || fail "no process $pid for the created container"

	run --separate-stderr rwd "$d" delete --force "$ID"
	assert_success
	assert_output ''
	[ ! -e "$(record "$ID")" ] || fail "delete --force left the record"
	run --separate-stderr rwd "$d" state "$ID"
	assert_failure
	run --separate-stderr direct "$d" state "$ID"
	assert_failure
	assert_gone "$ID"
	wait_for 10 none_alive "$pid" || fail "pid $pid survived"
	# It never ran.
	wait_for 5 none_alive "$(cat "$T/pids")" || true
	[ ! -s "$T/out" ] || fail "the process ran: $(cat "$T/out")"
	assert_no_runwarden_errors
}

@test "runc: delete --force of a created, never started container" {
	force_delete_created runc
}

@test "crun: delete --force of a created, never started container" {
	force_delete_created crun
}

@test "runsc: delete --force of a created, never started container" {
	force_delete_created runsc
}

@test "runc: 8 parallel creates of one bundle, then 8 parallel deletes" {
	local i rc
	local -a bg=()
	require_delegate runc
	use_policy runc
	"$MKBUNDLE" "$B" sh -c 'exec sleep 60' > /dev/null
	for i in 1 2 3 4 5 6 7 8; do
		track runc "$ID-$i"
	done
	for i in 1 2 3 4 5 6 7 8; do
		rwd runc create --bundle "$B" "$ID-$i" > "$T/create.$i.out" 2> "$T/create.$i.err" 3>&- &
		bg+=($!)
	done
	for i in 1 2 3 4 5 6 7 8; do
		rc=0
		wait "${bg[i - 1]}" || rc=$?
		[ "$rc" -eq 0 ] || fail "create $ID-$i exited $rc: $(cat "$T/create.$i.err")"
		[ ! -s "$T/create.$i.err" ] || fail "create $ID-$i printed: $(cat "$T/create.$i.err")"
	done
	[ "$(compgen -G "$R/.runwarden-$ID-*.json" | wc -l)" -eq 8 ] || fail "records: $(ls -A "$R")"
	for i in 1 2 3 4 5 6 7 8; do
		assert_record runc "$ID-$i"
		assert_delegate_state runc "$ID-$i"
		status_is runc "$ID-$i" created || fail "$ID-$i: $(rwd runc state "$ID-$i" 2>&1)"
	done
	# The bundle's config.json, rewritten 8 times at once, is whole: annotated
	# once (no duplicate keys), the process intact.
	assert_annotated runc
	python3 - "$B/config.json" <<-'PY'
	import json, sys
	def pairs(kv):
	    keys = [k for k, _ in kv]
	    assert len(keys) == len(set(keys)), "duplicate keys: %r" % keys
	    return dict(kv)
	json.load(open(sys.argv[1]), object_pairs_hook=pairs)
	PY

	bg=()
	for i in 1 2 3 4 5 6 7 8; do
		rwd runc delete "$ID-$i" > "$T/delete.$i.out" 2> "$T/delete.$i.err" 3>&- &
		bg+=($!)
	done
	for i in 1 2 3 4 5 6 7 8; do
		rc=0
		wait "${bg[i - 1]}" || rc=$?
		[ "$rc" -eq 0 ] || fail "delete $ID-$i exited $rc: $(cat "$T/delete.$i.err")"
	done
	for i in 1 2 3 4 5 6 7 8; do
		assert_gone "$ID-$i"
	done
	[ -z "$(ls -A "$R")" ] || fail "left in $R: $(ls -A "$R")"
	assert_no_runwarden_errors
}

@test "runc: a broken policy stops create, not the containers already there" {
	local id2="$ID-2"
	require_delegate runc
	use_policy runc
	"$MKBUNDLE" "$B" sh -c 'exec sleep 60' > /dev/null
	track runc "$ID"
	track runc "$id2"
	rwd runc create --bundle "$B" "$ID" > "$T/create.out" 2>&1 || fail "create: $(cat "$T/create.out")"
	run --separate-stderr rwd runc start "$ID"
	assert_success
	wait_status runc "$ID" running

	write_policy "$RUNWARDEN_POLICY" '{"delegate": "runc",'
	# (Not through `run`: a container wrongly created would hold its pipe.)
	local rc=0
	"$RUNWARDEN" --root "$R" --log "$T/json.log" --log-format json create --bundle "$B" "$id2" \
		< "$T/stdin" > "$T/create2.out" 2> "$T/create2.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "create under a broken policy exited $rc"
	[ ! -s "$T/create2.out" ] || fail "stdout: $(cat "$T/create2.out")"
	[[ $(cat "$T/create2.err") == 'runwarden: policy'* ]] || fail "stderr: $(cat "$T/create2.err")"
	jq -e -s 'length == 1 and .[0].level == "error" and (.[0].msg | startswith("runwarden: policy"))' \
		"$T/json.log" >/dev/null || fail "log: $(cat "$T/json.log")"
	[ ! -e "$(record "$id2")" ] && [ ! -e "$R/$id2" ] && [ -z "$(cgroup_dirs "$id2")" ] ||
		fail "something of $id2 was made"

	# The running container is still managed (through its record).
	run --separate-stderr rwd runc state "$ID"
	assert_success
	assert_state_format runc
	run --separate-stderr rwd runc kill "$ID" 9
	assert_success
	wait_status runc "$ID" stopped
	run --separate-stderr rwd runc delete "$ID"
	assert_success
	assert_gone "$ID"
}

@test "runsc with stdio on the host's /dev/null: the host's /dev/null keeps its owner" {
	require_delegate runsc
	use_policy runsc
	"$MKBUNDLE" "$B" sh -c 'echo devnull-ok' > /dev/null
	# runsc (2022) chowns its stdio to its sandbox user; runwarden hands it a
	# private null device instead of the host's (teardown checks /dev/null too)
	run bash -c "'$RUNWARDEN' --network=none --root '$R' run --bundle '$B' '$ID' < /dev/null 2>&1 | cat"
	assert_success
	assert_output devnull-ok
	[ "$(devnull)" = "$DEVNULL_OK" ]
	run compgen -G '/dev/.runwarden-null-*'
	assert_failure
}

@test "runc: a bind mount beneath /run stays visible under the tier's /run tmpfs" {
	require_delegate runc
	use_policy runc
	"$MKBUNDLE" "$B" cat /run/secrets/token > /dev/null
	mkdir -p "$T/secrets" && echo "s3cret-$ID" > "$T/secrets/token"
	# the source sits in the bundle directory, which tenant mounts may use
	mv "$T/secrets" "$B/secrets"
	jq --arg s "$B/secrets" '.mounts += [{"destination": "/run/secrets", "type": "bind", "source": $s, "options": ["rbind", "ro"]}]' \
		"$B/config.json" > "$T/c" && mv "$T/c" "$B/config.json"
	run bash -c "'$RUNWARDEN' --root '$R' run --bundle '$B' '$ID' < '$T/stdin' 2>&1 | cat"
	assert_success
	assert_output "s3cret-$ID"
}
