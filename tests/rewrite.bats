#!/usr/bin/env bats
# The lossless rewrite: what runwarden writes back is the input, value for
# value and in order, plus what its stages decided.

load helpers/common

setup() {
	T=$(scratch)
	mkdir -p "$T/bundle" "$T/root"
	recording_delegate "$T/delegate"
	export RUNWARDEN_POLICY="$T/policy.json"
	# The round-trip tests run as a trusted container: nothing is changed
	# but runwarden's annotations, so every other value must come out equal.
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\": \"$T/delegate\", \"audit_log\": \"$T/audit.log\",
	  \"trusted\": [{\"name\": \"roundtrip\", \"annotation\": {\"test.runwarden/roundtrip\": \"yes\"}, \"delegate\": \"$T/delegate\"}]}"
}

# mark FILE: the annotation the trusted rule matches
mark() {
	jq '.annotations["test.runwarden/roundtrip"] = "yes"' "$1" > "$1.tmp" && mv "$1.tmp" "$1"
}

# A trusted container c1, for the exec and update round trips.
create_trusted() {
	(cd "$T/bundle" && runc spec)
	mark "$T/bundle/config.json"
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	assert_success
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
	       '"uidMappings":null},"dup":1,"dup":2,"deep":' + deep + ',"empty":{},"ea":[],"t":true,"f":false,"n":null,'
	       '"annotations":{"test.runwarden/roundtrip":"yes"}}')
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
	printf '%s' '{"ociVersion":"1.0.2","annotations":{"a":"1","org.runwarden.delegate":"forged","z":"2","test.runwarden/roundtrip":"yes"},"root":{"path":"rootfs"}}' > "$T/bundle/config.json"
	cp "$T/bundle/config.json" "$T/orig.json"
	create
	assert_success
	run "$RUNWARDEN_SRCDIR/tests/helpers/rewrite-check.py" "$T/orig.json" "$T/bundle/config.json"
	assert_success
	run jq -r '.annotations | keys_unsorted | join(",")' "$T/bundle/config.json"
	assert_output "a,org.runwarden.delegate,z,test.runwarden/roundtrip,org.runwarden.tier,org.runwarden.tier.source,org.runwarden.version"
	run jq -r '.annotations["org.runwarden.delegate"]' "$T/bundle/config.json"
	assert_output "delegate"
}

@test "a real runc spec round-trips (canonical comparison)" {
	(cd "$T/bundle" && runc spec)
	mark "$T/bundle/config.json"
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
	create_trusted
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
	create_trusted
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
	create_trusted
	python3 -c 'import json; print(json.dumps({"memory": {"limit": 1}, "pad": ["x" * 100] * 10000}))' > "$T/res.json"
	export MOCK_READ_STDIN=1
	run bash -c "'$RUNWARDEN' --root '$T/root' update -r - c1 < '$T/res.json'"
	assert_success
	cmp <(tr -d '\n' < "$T/res.json" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), separators=(",",":")))') \
	    <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",",":")))' "$T/stdin")
}

@test "a tenant tier changes only what it owns: every other value comes out equal" {
	(cd "$T/bundle" && runc spec)
	# (python, not jq: jq 1.6 rounds integers beyond 2^53)
	python3 - "$T/bundle/config.json" "$T/orig.json" <<-'PY'
	import json, sys
	d = json.load(open(sys.argv[1]))
	d['zfuture'] = {'k': [1, 18446744073709551615]}
	d['process']['env'].append('X=caf\u00e9')
	d['annotations'] = {'keep': 'me', 'dev.gvisor.spec.mount.x': 'drop'}
	json.dump(d, open(sys.argv[2], 'w'))
	PY
	cp "$T/orig.json" "$T/bundle/config.json"
	create
	assert_success
	# what the tier owns, removed from both sides; the rest must be equal
	python3 - "$T/orig.json" "$T/bundle/config.json" <<-'PY'
	import json, sys
	def load(p):
	    return json.loads(open(p, 'rb').read().decode(), object_pairs_hook=list)
	def drop(doc):
	    d = dict(doc)
	    for k in ('annotations', 'mounts', 'hooks'):
	        d.pop(k, None)
	    root = dict(d['root']); root.pop('readonly', None); d['root'] = root
	    proc = dict(d['process']); proc.pop('capabilities', None); proc.pop('noNewPrivileges', None); d['process'] = proc
	    lin = dict(d['linux']); res = dict(lin.get('resources') or [])
	    for k in ('memory', 'cpu', 'pids'):
	        res.pop(k, None)
	    lin['resources'] = res; d['linux'] = lin
	    return json.dumps(d, sort_keys=False)
	a, b = load(sys.argv[1]), load(sys.argv[2])
	assert drop(a) == drop(b), (drop(a)[:300], drop(b)[:300])
	ann = dict(dict(b)['annotations'])
	assert ann['keep'] == 'me' and 'dev.gvisor.spec.mount.x' not in ann, ann
	assert ann['org.runwarden.tier'] == 'free' and ann['org.runwarden.tier.source'] == 'default', ann
	# the egress hooks (the only hooks: runc spec has none)
	hooks = dict(dict(b)['hooks'])
	pre, post = [dict(h)['args'] for h in hooks['prestart']], [dict(h)['args'] for h in hooks['poststop']]
	assert len(pre) == 1 and pre[0][-4:-1] == ['egress-hook', '--rules', pre[0][-2]] and pre[0][-1] == 'c1', hooks
	assert [r['name'] for r in json.loads(pre[0][-2])] == ['metadata', 'smtp', 'mining', 'irc', 'tor'], pre
	assert [a[-3:] for a in post] == [['egress-hook', '--remove', 'c1']], hooks
	PY
	grep -q '18446744073709551615' "$T/bundle/config.json"
}

@test "a tenant's exec process: capabilities reduced to the tier's, noNewPrivileges on" {
	(cd "$T/bundle" && runc spec)
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	assert_success
	printf '%s' '{"args":["sh"],"cwd":"/","capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_NET_RAW"],"effective":["CAP_SYS_ADMIN"]},"noNewPrivileges":false,"future":[1]}' > "$T/process.json"
	run "$RUNWARDEN" --root "$T/root" exec --process "$T/process.json" --detach c1
	assert_success
	run jq -c '[.capabilities.bounding, .capabilities.effective, .noNewPrivileges, .future, .args]' "$T/process.json"
	assert_output '[[],[],true,[1],["sh"]]'
	# flags that add capabilities to an exec's command line are refused
	run "$RUNWARDEN" --root "$T/root" exec --cap CAP_SYS_ADMIN c1 sh
	assert_failure
	assert_output --partial "refused: exec with added capabilities"
}

@test "a tenant's update is clamped to the tier, swap kept equal to memory, and logged" {
	(cd "$T/bundle" && runc spec)
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	assert_success
	export MOCK_READ_STDIN=1
	run bash -c "printf '%s' '{\"memory\":{\"limit\":10737418240,\"swap\":-1},\"cpu\":{\"quota\":400000,\"period\":100000},\"pids\":{\"limit\":100000},\"blockIO\":{\"weight\":10}}' | '$RUNWARDEN' --root '$T/root' update --resources - c1"
	assert_success
	run jq -c '[.memory.limit, .memory.swap, .cpu.quota, .cpu.period, .pids.limit, .blockIO.weight]' "$T/stdin"
	assert_output '[268435456,268435456,25000,100000,256,10]'
	# asking for less than the tier is kept
	run bash -c "printf '%s' '{\"memory\":{\"limit\":67108864}}' | '$RUNWARDEN' --root '$T/root' update --resources - c1"
	assert_success
	run jq -c '[.memory.limit, .memory.swap]' "$T/stdin"
	assert_output '[67108864,67108864]'
	run jq -r 'select(.event == "clamp") | .change' "$T/audit.log"
	assert_line "memory.limit: 10737418240 -> 268435456"
	assert_line "pids.limit: 100000 -> 256"
	# runc's flags cannot be rewritten: within the tier they pass, above it refused
	run "$RUNWARDEN" --root "$T/root" update --memory 10g c1
	assert_failure
	assert_output --partial "refused: update --memory 10g is above tier free's 268435456 bytes"
	run "$RUNWARDEN" --root "$T/root" update --pids-limit 100000 c1
	assert_failure
	assert_output --partial "refused: update --pids-limit 100000"
	run "$RUNWARDEN" --root "$T/root" update --memory 64m --pids-limit 100 c1
	assert_success
}

@test "the tier's tmpfs comes before mounts beneath it (secrets under /run stay visible)" {
	(cd "$T/bundle" && runc spec)
	mkdir -p "$T/bundle/secrets"
	jq --arg s "$T/bundle/secrets" '.mounts += [{"destination": "/run/secrets", "type": "bind", "source": $s, "options": ["rbind", "ro"]},
	                                            {"destination": "/var/run/secrets/k8s", "type": "bind", "source": $s, "options": ["rbind", "ro"]}]' \
		"$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c1
	assert_success
	run jq -r '.mounts | map(.destination) | join(" ")' "$T/bundle/config.json"
	assert_output --regexp '/run .*/run/secrets'
	assert_output --regexp '/tmp /run /var/tmp /run/secrets /var/run/secrets/k8s$'
}
