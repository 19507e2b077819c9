#!/usr/bin/env bats
# Bad input: a clear error on stderr and in the --log file, exit non-zero,
# the delegate never run, config.json byte-identical, nothing half-applied.

load helpers/common

setup() {
	T=$(scratch)
	mkdir -p "$T/bundle" "$T/root"
	recording_delegate "$T/delegate"
	export RUNWARDEN_POLICY="$T/policy.json"
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\": \"$T/delegate\"}"
}

# Contents of a regular file, else its type (never opens a FIFO).
fingerprint() {
	if [ -f "$1" ] && [ ! -p "$1" ]; then sha256sum < "$1"; else stat -c '%F %i' "$1" 2>/dev/null || echo none; fi
}

# refused_create NEEDLE: create fails with NEEDLE in the message, on stderr and
# as the last error line of the JSON log; config.json unchanged; no record;
# the delegate not run; no temporary file in the bundle.
refused_create() {
	local before after
	before=$(fingerprint "$T/bundle/config.json")
	# a root that does not exist yet: a refused create must not make it
	run "$RUNWARDEN" --root "$T/fresh-root" --log "$T/log.json" --log-format json create --bundle "$T/bundle" c1
	assert_failure
	assert_output --partial "runwarden: "
	assert_output --partial "$1"
	[ ! -e "$T/fresh-root" ]
	after=$(fingerprint "$T/bundle/config.json")
	[ "$before" = "$after" ]
	[ ! -e "$T/argv" ]
	[ -z "$(find "$T/bundle" -maxdepth 1 -name '*.runwarden-*')" ]
	# dockerd shows the last {"level":"error","msg":...} line of the log
	run jq -r 'select(.level == "error") | .msg' "$T/log.json"
	assert_success
	local last=${lines[${#lines[@]}-1]}
	[[ "$last" == "runwarden: "*"$1"* ]] || fail "last log error: $last"
	jq -e '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")' "$T/log.json"
}

@test "missing config.json" {
	refused_create "config.json: No such file or directory"
}

@test "config.json that is a directory, or a FIFO (must not hang)" {
	mkdir "$T/bundle/config.json"
	refused_create "not a regular file"
	rmdir "$T/bundle/config.json"
	mkfifo "$T/bundle/config.json"
	refused_create "not a regular file"
}

@test "empty config.json" {
	: > "$T/bundle/config.json"
	refused_create "empty file"
}

@test "truncated config.json" {
	(cd "$T/bundle" && runc spec)
	head -c 700 "$T/bundle/config.json" > "$T/t" && mv "$T/t" "$T/bundle/config.json"
	refused_create "invalid JSON"
}

@test "malformed config.json names the line and column" {
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {"args": [sh]}\n}\n' > "$T/bundle/config.json"
	refused_create "config.json:3:"
}

@test "a config.json that is not an object" {
	printf '["ociVersion"]' > "$T/bundle/config.json"
	refused_create "must be a JSON object"
}

@test "annotations of the wrong type" {
	echo "$MINIMAL_SPEC" | jq -c '.annotations = ["x"]' > "$T/bundle/config.json"
	refused_create '"annotations" is not a JSON object'
}

@test "a 64 MiB config.json" {
	python3 -c 'import sys; sys.stdout.write("{\"ociVersion\":\"1.0.2\",\"pad\":\"" + "x" * (64 << 20) + "\"}")' > "$T/bundle/config.json"
	refused_create "larger than"
}

@test "nesting 100,000 deep" {
	python3 -c 'import sys; sys.stdout.write("{\"a\":" + "[" * 100000 + "]" * 100000 + "}")' > "$T/bundle/config.json"
	refused_create "nested deeper than"
}

@test "invalid UTF-8" {
	printf '{"ociVersion":"1.0.2","hostname":"\xff\xfe"}' > "$T/bundle/config.json"
	refused_create "invalid JSON"
}

@test "a bundle that is not a directory, or does not exist" {
	rmdir "$T/bundle"
	: > "$T/bundle"
	refused_create "not a directory"
	rm "$T/bundle"
	refused_create "No such file or directory"
}

@test "a broken policy fails closed at create, with the file and line" {
	(cd "$T/bundle" && runc spec)
	printf '{\n  "delegate": "runc",\n  "delegate": \n}\n' > "$RUNWARDEN_POLICY"
	refused_create "$RUNWARDEN_POLICY:4:"
	write_policy "$RUNWARDEN_POLICY" '{"delegate": "runc", "tierz": 1}'
	refused_create 'unknown key "tierz"'
	write_policy "$RUNWARDEN_POLICY" '{"delegate": "no-such-runtime"}'
	refused_create 'delegate "no-such-runtime" not found'
	write_policy "$RUNWARDEN_POLICY" '{"delegate": 7}'
	refused_create '"delegate" must be a string'
}

@test "a broken policy does not stop verbs on existing containers" {
	(cd "$T/bundle" && runc spec)
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	assert_success
	printf '{ broken' > "$RUNWARDEN_POLICY"
	rm -f "$T/argv"
	for verb in "kill c1 9" "state c1" "delete --force c1"; do
		rm -f "$T/argv"
		run "$RUNWARDEN" --root "$T/root" $verb
		assert_success
		[ -e "$T/argv" ]     # the recorded delegate ran
	done
	[ ! -e "$T/root/.runwarden-c1.json" ]
}

@test "the test-only refusal switch, in runc's text log form" {
	(cd "$T/bundle" && runc spec)
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\": \"$T/delegate\", \"test_refuse\": \"no \\\"quotes\\\" here\"}"
	run "$RUNWARDEN" --root "$T/root" --log "$T/log.txt" --log-format text create --bundle "$T/bundle" c1
	assert_failure
	assert_output --partial 'runwarden: refused: no "quotes" here'
	run cat "$T/log.txt"
	assert_output --regexp '^time="[0-9T:-]+Z" level=error msg="runwarden: refused: no \\"quotes\\" here'
	[ ! -e "$T/argv" ]
}

@test "the log file gets one line per failure, appended" {
	: > "$T/bundle/config.json"
	echo '{"level":"info","msg":"earlier"}' > "$T/log.json"
	run "$RUNWARDEN" --root "$T/root" --log "$T/log.json" --log-format json create --bundle "$T/bundle" c1
	run "$RUNWARDEN" --root "$T/root" --log "$T/log.json" --log-format json create --bundle "$T/bundle" c1
	[ "$(wc -l < "$T/log.json")" = 3 ]
	[ "$(head -n1 "$T/log.json")" = '{"level":"info","msg":"earlier"}' ]
}

@test "malformed exec --process file and update resources are refused before the delegate" {
	printf '{"args":["sh"' > "$T/process.json"
	run "$RUNWARDEN" --root "$T/root" exec --process "$T/process.json" c1
	assert_failure
	assert_output --partial "process.json:1:"
	[ ! -e "$T/argv" ]
	run bash -c "printf '{\"memory\":' | '$RUNWARDEN' --root '$T/root' update --resources - c1"
	assert_failure
	assert_output --partial "stdin:1:"
	[ ! -e "$T/argv" ]
	run bash -c "printf '[1]' | '$RUNWARDEN' --root '$T/root' update --resources - c1"
	assert_failure
	assert_output --partial "must be a JSON object"
}

@test "bad command lines: unknown verb, no verb, missing id, bad id, missing value" {
	for line in "frobnicate c1" "" "start" "start ../../etc/passwd" "create --bundle" "--root"; do
		run "$RUNWARDEN" $line
		assert_failure
		assert_output --partial "runwarden: "
	done
	[ ! -e "$T/argv" ]
}

@test "a delegate that crashes: its fate is the caller's to see" {
	(cd "$T/bundle" && runc spec)
	export MOCK_CRASH=1
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	[ "$status" -eq 139 ]
	# the record stays until the caller deletes; delete reaches the same delegate
	[ -e "$T/root/.runwarden-c1.json" ]
	unset MOCK_CRASH
	run "$RUNWARDEN" --root "$T/root" delete --force c1
	assert_success
	[ ! -e "$T/root/.runwarden-c1.json" ]
}

@test "a policy key with an embedded NUL is not the key it starts with" {
	(cd "$T/bundle" && runc spec)
	printf '{"delegate":"%s","delegate\\u0000x":"crun"}' "$T/delegate" > "$RUNWARDEN_POLICY"
	refused_create 'unknown key "delegate\u0000x"'
}

@test "create of an id a delegate still holds is refused, its record kept" {
	(cd "$T/bundle" && runc spec)
	# crun's state for c1 under this root, as after a create with crun
	mkdir -p "$T/root/c1" && : > "$T/root/c1/status"
	printf '{"delegate":"crun","path":"/usr/bin/crun"}\n' > "$T/root/.runwarden-c1.json"
	cp "$T/root/.runwarden-c1.json" "$T/record.before"
	sum=$(sha256sum < "$T/bundle/config.json")
	run "$RUNWARDEN" --root "$T/root" --log "$T/log.json" create --bundle "$T/bundle" c1
	assert_failure
	assert_output --partial 'container "c1" already exists (delegate crun)'
	cmp "$T/record.before" "$T/root/.runwarden-c1.json"
	[ "$(sha256sum < "$T/bundle/config.json")" = "$sum" ]
	[ ! -e "$T/argv" ]
	# a stale record alone (no delegate state) does not block a new create
	rm -r "$T/root/c1"
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	assert_success
	run jq -r .delegate "$T/root/.runwarden-c1.json"
	assert_output delegate
}
