#!/usr/bin/env bats
# runwarden must reach its delegate with argv unchanged but for argv[0], by
# execv (same pid, fds, environment), printing nothing on success and exiting
# with the delegate's status. A recording mock delegate (helpers/mock-delegate)
# named by the policy shows what the delegate got.

bats_require_minimum_version 1.5.0
load helpers/common

MOCK="$RUNWARDEN_SRCDIR/tests/helpers/mock-delegate"

setup() {
	[ -x "$MOCK" ] || fail "$MOCK is missing or not executable"
	T=$(scratch)
	R="$T/root"
	L="$T/runtime.log"
	ID="argv$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	MOCK_DIR="$T/mock"
	mkdir -p "$MOCK_DIR"
	export MOCK_DIR
	unset MOCK_EXIT MOCK_STDIN MOCK_STDOUT MOCK_STDERR
	export RUNWARDEN_POLICY="$T/policy.json"
	write_policy "$RUNWARDEN_POLICY" "{ /* the recording mock */ \"delegate\": \"$MOCK\" }"
	# Only runwarden reads this bundle: a config.json is all it needs.
	B="$T/bundle"
	mkdir -p "$B"
	echo "$MINIMAL_SPEC" > "$B/config.json"
	cp "$B/config.json" "$T/config.orig"
	# exec --process and update --resources documents.
	# Already within the default tier (no capabilities, noNewPrivileges): no
	# stage changes it, so it must reach the delegate byte for byte.
	echo '{"args":["sh","-c","echo hi"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0},"terminal":false,"noNewPrivileges":true,"capabilities":{"bounding":[],"effective":[],"inheritable":[],"permitted":[],"ambient":[]}}' > "$T/process.json"
	# Within the default tier (256 MiB, swap = memory): reaches the delegate unchanged.
	echo '{"memory":{"limit":134217729,"swap":134217729},"pids":{"limit":7},"cpu":{"shares":512}}' > "$T/resources.json"
	cp "$T/process.json" "$T/process.orig"
	cp "$T/resources.json" "$T/resources.orig"
	echo 'not json' > "$T/bad.json"
}

teardown() {
	# Nothing may land in the default state directory: every call passes --root
	# or fails before writing.
	if [ -e "/run/runwarden/.runwarden-$ID.json" ]; then
		rm -f "/run/runwarden/.runwarden-$ID.json"
		fail "a record for $ID was left in /run/runwarden"
	fi
}

# Forget what the mock recorded.
mock_reset() {
	rm -f "$MOCK_DIR"/*
}

# assert_mock_argv [--as PATH] ARG...: the mock ran with argv PATH ($MOCK by
# default) then exactly ARG... (compared byte for byte, NUL-separated).
assert_mock_argv() {
	local self="$MOCK"
	if [ "$1" = --as ]; then
		self=$2
		shift 2
	fi
	[ -f "$MOCK_DIR/argv" ] || fail "the delegate did not run (expected: $*)"
	printf '%s\0' "$self" "$@" > "$T/expected.argv"
	cmp -s "$T/expected.argv" "$MOCK_DIR/argv" ||
		fail "$(printf 'argv differs\n-- expected:\n%s\n-- got:\n%s' \
			"$(tr '\0' '\n' < "$T/expected.argv")" "$(tr '\0' '\n' < "$MOCK_DIR/argv")")"
}

assert_mock_not_run() {
	[ ! -e "$MOCK_DIR/argv" ] || fail "the delegate ran: $(tr '\0' ' ' < "$MOCK_DIR/argv")"
}

# check_form ARG...: `runwarden ARG...` succeeds, prints nothing on stdout or
# stderr, and the delegate got exactly ARG... .
check_form() {
	mock_reset
	run --separate-stderr "$RUNWARDEN" "$@"
	[ "$status" -eq 0 ] || fail "runwarden $* exited $status; stderr: $stderr"
	[ -z "$output" ] || fail "runwarden $* printed on stdout: $output"
	[ -z "$stderr" ] || fail "runwarden $* printed on stderr: $stderr"
	assert_mock_argv "$@"
}

record() {
	echo "$R/.runwarden-$ID.json"
}

assert_record_names_mock() {
	[ -f "$(record)" ] || fail "no record $(record)"
	jq -e --arg p "$MOCK" --arg b "$(realpath "$B")" \
		'.delegate == "mock-delegate" and .path == $p and .bundle == $b' "$(record)" >/dev/null ||
		fail "record: $(cat "$(record)")"
}

assert_config_annotated() {
	local v
	v=$("$RUNWARDEN" --version | sed -n '1s/^runwarden version //p')
	jq -e --arg v "$v" '.annotations["org.runwarden.delegate"] == "mock-delegate" and
		.annotations["org.runwarden.version"] == $v and .process.args == ["true"]' "$B/config.json" >/dev/null ||
		fail "config.json: $(cat "$B/config.json")"
}

@test "dockerd's create, then every later verb, reach the delegate with argv unchanged" {
	check_form --root "$R" --log "$L" --log-format json create --bundle "$B" \
		--pid-file "$T/init.pid" --console-socket "$T/console.sock" "$ID"
	assert_record_names_mock
	assert_config_annotated

	check_form --root "$R" --log "$L" --log-format json start "$ID"
	check_form --root "$R" --log "$L" --log-format json state "$ID"
	check_form --root "$R" --log "$L" --log-format json ps --format json "$ID"
	check_form --root "$R" --log "$L" --log-format json pause "$ID"
	check_form --root "$R" --log "$L" --log-format json resume "$ID"
	check_form --root "$R" --log "$L" --log-format json events --stats "$ID"
	check_form --root "$R" --log "$L" --log-format json exec --process "$T/process.json" \
		--detach --pid-file "$T/exec.pid" "$ID"
	cmp "$T/process.orig" "$T/process.json"
	check_form --root "$R" --log "$L" --log-format json exec --user 0:0 --env A=b -t "$ID" sh -c 'echo "$A"'
	check_form --root "$R" --log "$L" --log-format json update --resources "$T/resources.json" "$ID"
	json_equal "$T/resources.orig" "$T/resources.json"
	check_form --root "$R" --log "$L" --log-format json update --memory 1048576 --pids-limit 9 "$ID"
	check_form --root "$R" --log "$L" --log-format json kill "$ID" 15
	check_form --root "$R" --log "$L" --log-format json kill --all "$ID" 9
	[ -f "$(record)" ] || fail "the record went before delete"

	check_form --root "$R" --log "$L" --log-format json delete "$ID"
	[ ! -e "$(record)" ] || fail "delete left the record"

	# delete --force, of a container created again.
	check_form --root "$R" --log "$L" --log-format json create --bundle "$B" --pid-file "$T/init.pid" "$ID"
	[ -f "$(record)" ]
	check_form --root "$R" --log "$L" --log-format json delete --force "$ID"
	[ ! -e "$(record)" ] || fail "delete --force left the record"
	# None of this was an error.
	[ ! -s "$L" ] || fail "log: $(cat "$L")"
}

@test "later verbs go to the recorded delegate, new containers to the policy's" {
	mkdir "$T/bin"
	ln -s "$MOCK" "$T/bin/other-mock"
	check_form --root "$R" create --bundle "$B" "$ID"
	assert_record_names_mock

	write_policy "$RUNWARDEN_POLICY" "{\"delegate\": \"$T/bin/other-mock\"}"
	for verb in start state pause resume; do
		mock_reset
		run --separate-stderr "$RUNWARDEN" --root "$R" "$verb" "$ID"
		assert_success
		assert_mock_argv --as "$MOCK" --root "$R" "$verb" "$ID"
	done
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" exec --process "$T/process.json" "$ID"
	assert_success
	assert_mock_argv --as "$MOCK" --root "$R" exec --process "$T/process.json" "$ID"
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" kill "$ID" 9
	assert_success
	assert_mock_argv --as "$MOCK" --root "$R" kill "$ID" 9

	# Another container follows the policy.
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" create --bundle "$B" "$ID-2"
	assert_success
	assert_mock_argv --as "$T/bin/other-mock" --root "$R" create --bundle "$B" "$ID-2"
	jq -e '.delegate == "other-mock"' "$R/.runwarden-$ID-2.json"

	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" delete "$ID"
	assert_success
	assert_mock_argv --as "$MOCK" --root "$R" delete "$ID"
	[ ! -e "$(record)" ]
	# With its record gone (and no delegate state to probe), the policy decides.
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" state "$ID"
	assert_success
	assert_mock_argv --as "$T/bin/other-mock" --root "$R" state "$ID"
	run --separate-stderr "$RUNWARDEN" --root "$R" delete -f "$ID-2"
	assert_success
	[ ! -e "$R/.runwarden-$ID-2.json" ]
}

@test "update --resources -: the delegate reads the same JSON on its stdin" {
	export MOCK_STDIN=1
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" --log "$L" --log-format json update --resources - "$ID" < "$T/resources.json"
	assert_success
	assert_output ''
	[ -z "$stderr" ]
	assert_mock_argv --root "$R" --log "$L" --log-format json update --resources - "$ID"
	[ -f "$MOCK_DIR/stdin" ] || fail "the delegate read nothing"
	json_equal "$T/resources.orig" "$MOCK_DIR/stdin" ||
		fail "stdin differs: $(cat "$MOCK_DIR/stdin")"

	# Short and = forms.
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" update -r - "$ID" < "$T/resources.json"
	assert_success
	assert_mock_argv --root "$R" update -r - "$ID"
	json_equal "$T/resources.orig" "$MOCK_DIR/stdin"
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" update --resources=- "$ID" < "$T/resources.json"
	assert_success
	assert_mock_argv --root "$R" update --resources=- "$ID"
	json_equal "$T/resources.orig" "$MOCK_DIR/stdin"

	# runwarden does read it: something that is not JSON never reaches the delegate.
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root "$R" update --resources - "$ID" < "$T/bad.json"
	assert_failure 1
	assert_mock_not_run
	[[ $stderr == runwarden:* ]] || fail "stderr: $stderr"
}

@test "other verbs leave stdin to the delegate" {
	export MOCK_STDIN=1
	printf 'line one\nline two\n' > "$T/in"
	for args in "run --bundle $B $ID" "exec $ID cat" "start $ID" "exec --process $T/process.json $ID"; do
		mock_reset
		# shellcheck disable=SC2086
		run --separate-stderr "$RUNWARDEN" --root "$R" $args < "$T/in"
		[ "$status" -eq 0 ] || fail "$args: exit $status: $stderr"
		# shellcheck disable=SC2086
		assert_mock_argv --root "$R" $args
		cmp "$T/in" "$MOCK_DIR/stdin" || fail "$args: stdin did not reach the delegate"
	done
}

@test "--flag=value forms are understood and passed on unchanged" {
	check_form --root="$R" --log="$L" --log-format=json create --bundle="$B" \
		--pid-file="$T/init.pid" --console-socket="$T/console.sock" "$ID"
	assert_record_names_mock
	assert_config_annotated
	check_form --root="$R" --log="$L" exec --process="$T/process.json" --detach=true --pid-file="$T/p" "$ID"
	check_form --root="$R" update --resources="$T/resources.json" "$ID"
	check_form --root="$R" ps --format=json "$ID"
	check_form --root="$R" kill --all=true "$ID" 9
	check_form --root="$R" delete --force=true "$ID"
	[ ! -e "$(record)" ]

	# The values were taken as such: a bad process or resources file is
	# refused before the delegate runs, and so is a missing bundle.
	mock_reset
	run --separate-stderr "$RUNWARDEN" --root="$R" exec --process="$T/bad.json" "$ID"
	assert_failure 1
	assert_mock_not_run
	run --separate-stderr "$RUNWARDEN" --root="$R" update --resources="$T/bad.json" "$ID"
	assert_failure 1
	assert_mock_not_run
	run --separate-stderr "$RUNWARDEN" --root="$R" create --bundle="$T/nonexistent" "$ID"
	assert_failure 1
	assert_mock_not_run
	[ ! -e "$(record)" ]
}

@test "Go's single-dash forms: -root R, -root=R, -bundle, -p, -r, -f" {
	check_form -root "$R" -log "$L" -log-format json create -bundle "$B" -pid-file "$T/init.pid" "$ID"
	assert_record_names_mock
	assert_config_annotated
	check_form -root="$R" state "$ID"
	check_form -root "$R" exec -p "$T/process.json" -d "$ID"
	check_form -root "$R" update -r "$T/resources.json" "$ID"
	check_form -root "$R" ps -f json "$ID"
	check_form -root "$R" kill -a "$ID" 15
	check_form -root "$R" delete -f "$ID"
	[ ! -e "$(record)" ]
	check_form -root="$R" create -b="$B" "$ID"
	assert_record_names_mock
	check_form -root "$R" delete -force "$ID"
	[ ! -e "$(record)" ]

	mock_reset
	run --separate-stderr "$RUNWARDEN" -root "$R" exec -p "$T/bad.json" "$ID"
	assert_failure 1
	assert_mock_not_run
}

@test "runtimeArgs before --root (runsc's --network=none --platform ptrace) are passed on" {
	check_form --network=none --platform ptrace --root "$R" --log "$L" --log-format json \
		create --bundle "$B" --pid-file "$T/init.pid" --console-socket "$T/console.sock" "$ID"
	# --root after "--platform ptrace" was still understood.
	assert_record_names_mock
	assert_config_annotated
	check_form --network=none --platform ptrace --root "$R" --log "$L" --log-format json start "$ID"
	check_form --network=none --platform=ptrace --root "$R" state "$ID"
	check_form --debug --root "$R" kill "$ID" 15
	check_form --root "$R" --systemd-cgroup pause "$ID"
	check_form --network=none --platform ptrace --root "$R" --log "$L" --log-format json \
		exec --process "$T/process.json" --detach --pid-file "$T/p" "$ID"
	check_form --network=none --platform ptrace --root "$R" delete --force "$ID"
	[ ! -e "$(record)" ]
	# A boolean runtimeArg right before the verb.
	check_form --root "$R" --systemd-cgroup create --bundle "$B" "$ID"
	assert_record_names_mock
	check_form --network=none --root "$R" --debug delete "$ID"
	[ ! -e "$(record)" ]
}

@test "no fork: the delegate has runwarden's caller's pid, fds and environment" {
	# The caller writes its pid and fd list, opens fd 7, then execs runwarden.
	# (A child lists the fds: a redirection in this shell would show up.)
	run --separate-stderr sh -c '
		exec 7> "$1/seven"
		echo $$ > "$1/caller.pid"
		/bin/sh -c "exec ls -l --time-style=+T /proc/\$1/fd > \"\$2\"" lsfd $$ "$1/caller.fds.ls"
		export RW_ARGV_MARK="two words = x"
		exec "$2" --root "$3" state "$4"' \
		caller "$T" "$RUNWARDEN" "$R" "$ID"
	assert_success
	assert_output ''
	[ -z "$stderr" ]
	assert_mock_argv --root "$R" state "$ID"
	[ "$(cat "$MOCK_DIR/pid")" = "$(cat "$T/caller.pid")" ] ||
		fail "delegate pid $(cat "$MOCK_DIR/pid") != caller pid $(cat "$T/caller.pid")"
	# fd 7 is still open, for writing, on the same file.
	grep -qxF "l-wx------ 7 -> $T/seven" "$MOCK_DIR/fds" || fail "fd 7 lost: $(cat "$MOCK_DIR/fds")"
	# The same fds, no more (the mock's shell adds only its script's).
	sed -n 's/^\([^ ]*\) .* T \(.*\)$/\1 \2/p' "$T/caller.fds.ls" | sort > "$T/caller.fds"
	grep -vF -- "-> $MOCK" "$MOCK_DIR/fds" | sort > "$T/mock.fds"
	diff -u "$T/caller.fds" "$T/mock.fds" || fail "fds differ"
	tr '\0' '\n' < "$MOCK_DIR/env" | grep -qxF 'RW_ARGV_MARK=two words = x' ||
		fail "the caller's variable did not reach the delegate"
}

@test "no fork: the environment reaches the delegate exactly (state and create)" {
	local -a envs=(PATH=/usr/sbin:/usr/bin:/sbin:/bin "MOCK_DIR=$MOCK_DIR"
		"RUNWARDEN_POLICY=$RUNWARDEN_POLICY" 'RW_ARGV_MARK=two words = x' 'EMPTY=' 'LANG=C')
	printf '%s\0' "${envs[@]}" > "$T/expected.env"
	for args in "state $ID" "create --bundle $B $ID" "exec --process $T/process.json $ID" "delete $ID"; do
		mock_reset
		# shellcheck disable=SC2086
		run --separate-stderr env -i "${envs[@]}" "$RUNWARDEN" --root "$R" $args
		[ "$status" -eq 0 ] || fail "$args: exit $status: $stderr"
		# shellcheck disable=SC2086
		assert_mock_argv --root "$R" $args
		cmp -s "$T/expected.env" "$MOCK_DIR/env" ||
			fail "$args: environment differs: $(tr '\0' ' ' < "$MOCK_DIR/env")"
	done
}

@test "the delegate's exit status and output are runwarden's" {
	for code in 0 1 2 3 42 125 255; do
		mock_reset
		export MOCK_EXIT=$code
		run --separate-stderr "$RUNWARDEN" --root "$R" state "$ID"
		[ "$status" -eq "$code" ] || fail "delegate exited $code, runwarden $status"
		[ -z "$output" ] && [ -z "$stderr" ] || fail "output for exit $code: [$output] [$stderr]"
		assert_mock_argv --root "$R" state "$ID"
	done
	export MOCK_EXIT=3
	run --separate-stderr "$RUNWARDEN" --root "$R" create --bundle "$B" "$ID"
	assert_failure 3
	[ -z "$stderr" ]
	export MOCK_EXIT=0 MOCK_STDOUT='{"status":"created"}\n' MOCK_STDERR='a warning\nsecond\n'
	run --separate-stderr "$RUNWARDEN" --root "$R" state "$ID"
	assert_success
	assert_output '{"status":"created"}'
	[ "$stderr" = $'a warning\nsecond' ] || fail "stderr: $stderr"
}

@test "an unknown verb fails with a message and a log line; the delegate never runs" {
	run --separate-stderr "$RUNWARDEN" --root "$R" --log "$L" --log-format json frobnicate "$ID"
	assert_failure 1
	assert_output ''
	[[ $stderr == 'runwarden: '*'frobnicate'* ]] || fail "stderr: $stderr"
	assert_mock_not_run
	[ "$(wc -l < "$L")" -eq 1 ] || fail "log: $(cat "$L")"
	jq -e '.level == "error" and (.msg | startswith("runwarden: ") and contains("frobnicate"))' "$L" >/dev/null ||
		fail "log: $(cat "$L")"

	rm -f "$L"
	run --separate-stderr "$RUNWARDEN" --root "$R" --log "$L" --log-format text frobnicate "$ID"
	assert_failure 1
	assert_mock_not_run
	grep -q '^time=".*" level=error msg="runwarden: .*frobnicate' "$L" || fail "log: $(cat "$L")"

	# A verb-looking option value is not a verb either.
	run --separate-stderr "$RUNWARDEN" --root "$R" Create --bundle "$B" "$ID"
	assert_failure 1
	assert_mock_not_run
	cmp "$T/config.orig" "$B/config.json"
	[ ! -e "$(record)" ]
}

@test "no verb fails with a message; the delegate never runs" {
	run --separate-stderr "$RUNWARDEN"
	assert_failure 1
	[[ $stderr == 'runwarden: '*'no command'* ]] || fail "stderr: $stderr"
	run --separate-stderr "$RUNWARDEN" --root "$R" --log "$L" --log-format json
	assert_failure 1
	assert_output ''
	[[ $stderr == 'runwarden: '*'no command'* ]] || fail "stderr: $stderr"
	jq -e '.level == "error"' "$L" >/dev/null
	run --separate-stderr "$RUNWARDEN" --root "$R" --
	assert_failure 1
	assert_mock_not_run
}

@test "an invalid container id is refused before anything is written or run" {
	local id args
	for id in '../x' '..' '.' 'a/b' '/abs' 'a b' 'x;y'; do
		for args in "create --bundle $B" "run --bundle $B" start state "kill" delete "delete --force" \
			"exec --process $T/process.json" "update --resources $T/resources.json" ps pause; do
			mock_reset
			# shellcheck disable=SC2086
			run --separate-stderr "$RUNWARDEN" --root "$R" --log "$L" --log-format json $args "$id"
			[ "$status" -eq 1 ] || fail "$args '$id': exit $status"
			[[ $stderr == 'runwarden: '*'invalid container id'* ]] || fail "$args '$id': stderr: $stderr"
			assert_mock_not_run
		done
	done
	run --separate-stderr "$RUNWARDEN" --root "$R" state ''
	assert_failure 1
	[[ $stderr == 'runwarden: '*'container id'* ]] || fail "stderr: $stderr"
	run --separate-stderr "$RUNWARDEN" --root "$R" delete
	assert_failure 1
	assert_mock_not_run
	# Nothing written: no record anywhere, config.json untouched.
	cmp "$T/config.orig" "$B/config.json"
	[ -z "$(find "$T" -name '.runwarden-*')" ] || fail "records: $(find "$T" -name '.runwarden-*')"
	[ ! -e "$R" ] || [ -z "$(ls -A "$R")" ]
	jq -e -s 'length > 0 and all(.level == "error")' "$L" >/dev/null
}

# dockerd's and containerd's view of `runtime --version`.
@test "--version: runwarden's lines, then the delegate's (runc) renamed" {
	command -v runc >/dev/null || skip "runc not installed"
	write_policy "$RUNWARDEN_POLICY" '{"delegate":"runc"}'
	run --separate-stderr "$RUNWARDEN" --version
	assert_success
	[ -z "$stderr" ]
	[[ ${lines[0]} =~ ^runwarden\ version\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "line 1: ${lines[0]}"
	[[ ${lines[1]} =~ ^commit:\ [^\ ].* ]] || fail "line 2: ${lines[1]}"
	[[ ${lines[2]} =~ ^spec:\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "line 3: ${lines[2]}"
	[ "${lines[3]}" = "delegate: $(command -v runc)" ] || fail "line 4: ${lines[3]}"
	local rv n i
	rv=$(runc --version)
	n=$(printf '%s\n' "$rv" | wc -l)
	[ "${#lines[@]}" -eq $((4 + n)) ] || fail "expected $((4 + n)) lines: $output"
	for ((i = 4; i < ${#lines[@]}; i++)); do
		[[ ${lines[i]} =~ ^delegate-[a-z]+:\ [^\ ] ]] || fail "line $((i + 1)): ${lines[i]}"
		# dockerd takes the last line containing "version" as the runtime's
		[[ ${lines[i]} != *version* ]] || fail "line $((i + 1)): ${lines[i]}"
	done
	assert_line "delegate-release: $(printf '%s\n' "$rv" | sed -n '1s/^runc version //p')"
	assert_line "delegate-commit: $(printf '%s\n' "$rv" | sed -n 's/^commit: //p')"
	assert_line "delegate-spec: $(printf '%s\n' "$rv" | sed -n 's/^spec: //p')"
	# Only runwarden's lines keep the names callers look for.
	[ "$(grep -c '^commit:' <<< "$output")" -eq 1 ]
	[ "$(grep -c 'version' <<< "$output")" -eq 1 ]
	[ "$(grep -c '^runc' <<< "$output")" -eq 0 ]
	# -v is the same.
	local full=$output
	run --separate-stderr "$RUNWARDEN" -v
	assert_success
	[ "$output" = "$full" ]
}

@test "--version with crun, runsc and a mock delegate" {
	local d
	for d in crun runsc; do
		command -v "$d" >/dev/null || continue
		write_policy "$RUNWARDEN_POLICY" "{\"delegate\":\"$d\"}"
		run --separate-stderr "$RUNWARDEN" --version
		assert_success
		[[ ${lines[0]} =~ ^runwarden\ version\ [0-9] ]] || fail "$d: ${lines[0]}"
		[ "${lines[3]}" = "delegate: $(command -v "$d")" ] || fail "$d: ${lines[3]}"
		assert_line "delegate-release: $("$d" --version | sed -n "1s/^$d version //p")"
		[ "$(grep -c 'version' <<< "$output")" -eq 1 ] || fail "$d: $output"
		[ "$(grep -vc '^delegate' <<< "$output")" -eq 3 ] || fail "$d: $output"
	done

	# The mock's lines, renamed; it was asked exactly "--version".
	export MOCK_STDOUT='mock version 9.8.7\ncommit: abc123\nspec: 1.1.0\nsome free text\n'
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\":\"$MOCK\"}"
	run --separate-stderr "$RUNWARDEN" --version
	assert_success
	[ -z "$stderr" ]
	assert_equal "${lines[3]}" "delegate: $MOCK"
	assert_equal "${lines[4]}" "delegate-release: 9.8.7"
	assert_equal "${lines[5]}" "delegate-commit: abc123"
	assert_equal "${lines[6]}" "delegate-spec: 1.1.0"
	assert_equal "${lines[7]}" "delegate-info: some free text"
	assert_equal "${#lines[@]}" 8
	assert_mock_argv --version

	# A delegate whose --version fails, and no delegate at all: still exit 0.
	export MOCK_EXIT=1
	run --separate-stderr "$RUNWARDEN" --version
	assert_success
	assert_line --index 0 --regexp '^runwarden version '
	assert_line --index 4 --regexp "^delegate-release: unknown"
	write_policy "$RUNWARDEN_POLICY" '{"delegate":"no-such-runtime-xyz"}'
	run --separate-stderr "$RUNWARDEN" --version
	assert_success
	assert_line --index 0 --regexp '^runwarden version '
	assert_line --index 3 --regexp '^delegate: none \(.*no-such-runtime-xyz'
}

# Go's strings.TrimSpace, enough for this.
trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# moby's parseRuntimeVersion (daemon/info_unix.go): the last line containing
# "version" gives the runtime's name and version, the last "commit:" line its
# commit. runwarden's own must be the ones found (see shim/info.c).
@test "--version: dockerd's parser finds runwarden's name, version and commit" {
	command -v runc >/dev/null || skip "runc not installed"
	write_policy "$RUNWARDEN_POLICY" '{"delegate":"runc"}'
	run --separate-stderr "$RUNWARDEN" --version
	assert_success
	local line name="" version="" commit=""
	while IFS= read -r line; do
		if [[ $line == *version* ]]; then
			name=$(trim "${line%%version*}")
			version=$(trim "${line##*version}")
		elif [[ $line == commit:* ]]; then
			commit=$(trim "${line#commit:}")
		fi
	done <<< "$output"
	[ "$name" = runwarden ] || fail "dockerd would see runtime \"$name\" version \"$version\""
	[ "$version" = "$(sed -n '1s/^runwarden version //p' <<< "$output")" ] ||
		fail "dockerd would see version \"$version\""
	[ "$commit" = "$(sed -n 's/^commit: //p' <<< "$output" | head -1)" ] ||
		fail "dockerd would see commit \"$commit\""
}

@test "features: runc's document plus runwarden's annotations" {
	command -v runc >/dev/null || skip "runc not installed"
	write_policy "$RUNWARDEN_POLICY" '{"delegate":"runc"}'
	run --separate-stderr "$RUNWARDEN" features
	assert_success
	[ -z "$stderr" ]
	printf '%s\n' "$output" > "$T/features.json"
	runc features > "$T/runc-features.json"
	local v
	v=$("$RUNWARDEN" --version | sed -n '1s/^runwarden version //p')
	jq -e --arg v "$v" '.annotations["org.runwarden.delegate"] == "runc" and
		.annotations["org.runwarden.version"] == $v and (.ociVersionMin | type) == "string"' \
		"$T/features.json" >/dev/null || fail "features: $output"
	# Everything runc says is kept, runc's annotations included.
	diff <(jq -S 'del(.annotations)' "$T/runc-features.json") <(jq -S 'del(.annotations)' "$T/features.json")
	jq -e --slurpfile r "$T/runc-features.json" \
		'.annotations as $a | $r[0].annotations // {} | to_entries | all(.value == $a[.key])' \
		"$T/features.json" >/dev/null || fail "runc's annotations lost: $output"
	[ "$(jq '.annotations | keys | length' "$T/features.json")" -eq \
		"$(( $(jq '.annotations // {} | keys | length' "$T/runc-features.json") + 2 ))" ]
}

@test "features: a delegate without it (crun 1.8, runsc) gets the minimal document" {
	local d found=0 spec v
	v=$("$RUNWARDEN" --version | sed -n '1s/^runwarden version //p')
	spec=$("$RUNWARDEN" --version | sed -n '3s/^spec: //p')
	for d in crun runsc; do
		command -v "$d" >/dev/null || continue
		! "$d" features >/dev/null 2>&1 || continue # has its own
		found=1
		write_policy "$RUNWARDEN_POLICY" "{\"delegate\":\"$d\"}"
		run --separate-stderr "$RUNWARDEN" features
		assert_success
		[ -z "$stderr" ] || fail "$d: stderr: $stderr"
		jq -e --arg d "$d" --arg v "$v" --arg s "$spec" '
			(keys | sort) == ["annotations", "ociVersionMax", "ociVersionMin"] and
			.ociVersionMin == "1.0.0" and .ociVersionMax == $s and
			.annotations == {"org.runwarden.version": $v, "org.runwarden.delegate": $d}' \
			<<< "$output" >/dev/null || fail "$d: $output"
	done
	[ "$found" = 1 ] || skip "neither crun nor runsc lacks features here"

	# A delegate printing a features document: passed through, annotated.
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\":\"$MOCK\"}"
	export MOCK_STDOUT='{"ociVersionMin":"1.0.0","ociVersionMax":"1.1.0","hooks":["prestart"],"annotations":{"x.y":"z"}}\n'
	run --separate-stderr "$RUNWARDEN" features
	assert_success
	assert_mock_argv features
	jq -e --arg v "$v" '.ociVersionMax == "1.1.0" and .hooks == ["prestart"] and
		.annotations == {"x.y": "z", "org.runwarden.version": $v, "org.runwarden.delegate": "mock-delegate"}' \
		<<< "$output" >/dev/null || fail "$output"
	# ...and one printing garbage: the minimal document.
	export MOCK_STDOUT='features? what features\n'
	run --separate-stderr "$RUNWARDEN" features
	assert_success
	jq -e '.ociVersionMin == "1.0.0" and .annotations["org.runwarden.delegate"] == "mock-delegate"' \
		<<< "$output" >/dev/null || fail "$output"
}

@test "stdio on the host's /dev/null reaches create, run and exec as a private null device" {
	local null_ino
	null_ino=$(stat -c %i /dev/null)
	mkdir -p "$T/b" && echo "$MINIMAL_SPEC" > "$T/b/config.json"
	for line in "create --bundle $T/b c1" "run -d --bundle $T/b c2" "exec --detach c1 true"; do
		mock_reset
		# shellcheck disable=SC2086
		"$RUNWARDEN" --root "$T/root" $line < /dev/null > /dev/null 2> /dev/null
		for fd in 0 1 2; do
			run grep "^$fd " "$MOCK_DIR/stdio"
			assert_output --regexp "^$fd 1:3 [0-9]+$"
			refute_output "$fd 1:3 $null_ino"
		done
	done
	# the private node is gone once opened, and the host's is untouched
	run compgen -G '/dev/.runwarden-null-*'
	assert_failure
	[ "$(stat -c '%U:%G %a' /dev/null)" = "root:root 666" ]
	# stdio that is not /dev/null is left alone
	mock_reset
	echo input > "$T/stdin"
	"$RUNWARDEN" --root "$T/root" create --bundle "$T/b" c3 < "$T/stdin" > "$T/out" 2>&1
	run grep "^0 " "$MOCK_DIR/stdio"
	assert_output "0 $(stat -c '%t:%T %i' "$T/stdin")"
}
