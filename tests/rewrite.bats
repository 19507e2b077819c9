#!/usr/bin/env bats
# The lossless rewrite: what runwarden writes back is the input, value for
# value and in order, plus what its stages decided.

load helpers/common

setup() {
	T=$(scratch)
	mkdir -p "$T/bundle" "$T/root"
	recording_delegate "$T/delegate"
	export RUNWARDEN_POLICY="$T/policy.json"
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\": \"$T/delegate\"}"
}

create() {
	run "$RUNWARDEN" --root "$T/root" --log "$T/log.json" --log-format json create --bundle "$T/bundle" c1
}

@test "unknown fields, huge integers, escapes, non-ASCII text, duplicates and deep nesting survive" {
	python3 - "$T/bundle/config.json" <<-'PY'
	import sys
	deep = '[' * 900 + '{"x":18446744073709551615}' + ']' * 900
	doc = ('{"ociVersion":"1.0.2","zfuture":{"b":2,"a":1,"list":[1,2.50,-0.0,1e400]},'
	       '"process":{"args":["sh","-c","echo \\"hi\\"\\t\\\\ \\u0001 caf\\u00e9 \xe6\x97\xa5\xf0\x9f\x90\xb3"],'
	       '"env":["A=1","A=2"],"user":{"uid":0,"gid":0}},'
	       '"linux":{"resources":{"memory":{"limit":9223372036854775807,"swap":18446744073709551615}},'
	       '"uidMappings":null},"dup":1,"dup":2,"deep":' + deep + ',"empty":{},"ea":[],"t":true,"f":false,"n":null}')
	open(sys.argv[1], 'w', encoding='utf-8').write(doc)
	PY
	cp "$T/bundle/config.json" "$T/orig.json"
	create
	assert_success
	assert_output ""
	run "$RUNWARDEN_SRCDIR/tests/helpers/rewrite-check.py" "$T/orig.json" "$T/bundle/config.json"
	assert_success
	# and the integers are exact in the bytes, not only in Python's reading
	grep -q '"swap":18446744073709551615' "$T/bundle/config.json"
	grep -q '1e400' "$T/bundle/config.json"
}

@test "annotations already present are kept, ours replaced in place" {
	printf '%s' '{"ociVersion":"1.0.2","annotations":{"a":"1","org.runwarden.delegate":"forged","z":"2"},"root":{"path":"rootfs"}}' > "$T/bundle/config.json"
	cp "$T/bundle/config.json" "$T/orig.json"
	create
	assert_success
	run "$RUNWARDEN_SRCDIR/tests/helpers/rewrite-check.py" "$T/orig.json" "$T/bundle/config.json"
	assert_success
	run jq -r '.annotations | keys_unsorted | join(",")' "$T/bundle/config.json"
	assert_output "a,org.runwarden.delegate,z,org.runwarden.version"
	run jq -r '.annotations["org.runwarden.delegate"]' "$T/bundle/config.json"
	assert_output "delegate"
}

@test "a real runc spec round-trips (canonical comparison)" {
	(cd "$T/bundle" && runc spec)
	cp "$T/bundle/config.json" "$T/orig.json"
	create
	assert_success
	run "$RUNWARDEN_SRCDIR/tests/helpers/rewrite-check.py" "$T/orig.json" "$T/bundle/config.json"
	assert_success
	jq -e '.annotations["org.runwarden.version"] | test("^[0-9]+\\.[0-9]+\\.[0-9]+")' "$T/bundle/config.json"
}

@test "config.json is replaced by rename: mode and owner kept, no temporary file left" {
	(cd "$T/bundle" && runc spec)
	chmod 0640 "$T/bundle/config.json"
	chown 1234:5678 "$T/bundle/config.json"
	ino=$(stat -c %i "$T/bundle/config.json")
	create
	assert_success
	[ "$(stat -c '%a %u:%g' "$T/bundle/config.json")" = "640 1234:5678" ]
	[ "$(stat -c %i "$T/bundle/config.json")" != "$ino" ]
	run ls -A "$T/bundle"
	assert_output "config.json"
}

@test "the bundle defaults to the working directory" {
	(cd "$T/bundle" && runc spec)
	cd "$T/bundle"
	run "$RUNWARDEN" --root "$T/root" create c2
	assert_success
	jq -e '.annotations["org.runwarden.delegate"] == "delegate"' "$T/bundle/config.json"
}

@test "exec's --process file: parsed, and left byte-identical when no stage changes it" {
	printf '%s' '{"args":["sh","-c","echo x"],"cwd":"/","env":["BIG=18446744073709551615"],"future":{"k":[1,2]}}' > "$T/process.json"
	sum=$(sha256sum < "$T/process.json")
	ino=$(stat -c %i "$T/process.json")
	run "$RUNWARDEN" --root "$T/root" exec --process "$T/process.json" --detach --pid-file "$T/p.pid" c1
	assert_success
	[ "$(sha256sum < "$T/process.json")" = "$sum" ]
	[ "$(stat -c %i "$T/process.json")" = "$ino" ]
	run cat "$T/argv"
	assert_line --index 0 "--root"
	assert_line "--process"
	assert_line "$T/process.json"
}

@test "update's resources on stdin reach the delegate whole, argv still says -" {
	res='{"memory":{"limit":67108864,"swap":67108864},"cpu":{"quota":50000,"period":100000},"pids":{"limit":18446744073709551615},"future":[1]}'
	export MOCK_READ_STDIN=1
	run bash -c "printf '%s' '$res' | '$RUNWARDEN' --root '$T/root' update --resources - c1"
	assert_success
	[ "$(cat "$T/stdin")" = "$res" ]
	run cat "$T/argv"
	assert_line --index 3 -- "--resources"
	assert_line --index 4 -- "-"
}

@test "update's resources from a big stdin (1 MiB of fields) reach the delegate whole" {
	python3 -c 'import json; print(json.dumps({"memory": {"limit": 1}, "pad": ["x" * 100] * 10000}))' > "$T/res.json"
	export MOCK_READ_STDIN=1
	run bash -c "'$RUNWARDEN' --root '$T/root' update -r - c1 < '$T/res.json'"
	assert_success
	cmp <(tr -d '\n' < "$T/res.json" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), separators=(",",":")))') \
	    <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$T/stdin")
}
