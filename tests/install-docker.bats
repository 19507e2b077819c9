#!/usr/bin/env bats
# runwarden install --docker / uninstall --docker: daemon.json edited in two
# spots only (default-runtime's value, runtimes.NAME), every other byte kept;
# install then uninstall gives back the exact original bytes. Then live: a
# private dockerd that has never heard of runwarden gets it through install
# and a SIGHUP, runs a container through it (the free tier's memory limit on
# its cgroup), and loses it again through uninstall.

load helpers/common
load 'helpers/docker'

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	live_start
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	docker_stop
}

setup() {
	T=$(mktemp -d "$BATS_FILE_TMPDIR/t.XXXXXX")
	D=$T/etc/docker
	J=$D/daemon.json
	mkdir -p "$D"
}

teardown() {
	[ -n "${RW_SKIP_REASON:-}" ] || docker_test_teardown
	rm -rf "$T"
}

inst() {
	"$RUNWARDEN" install --docker --daemon-json "$J" --path "$RUNWARDEN" --no-reload "$@"
}

uninst() {
	"$RUNWARDEN" uninstall --docker --daemon-json "$J" --no-reload "$@"
}

# A daemon.json with everything that must survive: odd spacing and tabs,
# key order, unicode escapes and raw UTF-8, numbers as written, nested
# objects, strings that look like JSON, another runtime, a default runtime.
rich() {
	printf '%s\n' \
		'{   "log-opts" :{"max-size":"10m" ,  "max-file":"3"},' \
		$'\t"default-runtime"  :   "crun"  ,' \
		'  "labels": ["caf\u00e9", "naïve", "\ud83d\ude00", "{\"runtimes\": [1, \"}\"]}"],' \
		'  "runtimes"   : {' \
		'        "crun": { "path": "/usr/bin/crun", "runtimeArgs": [ "--debug" ] }' \
		'  },' \
		'  "max-concurrent-downloads": 1e3, "shutdown-timeout": 10.50, "n": -0,' \
		'  "nested": {"a": {"b": {"c": [true, false, null, {}]}}},' \
		'  "x-empty": {},' \
		'  "debug": false' \
		'}'
}

# rich() as install must leave it: two spots changed.
rich_installed() {
	printf '%s\n' \
		'{   "log-opts" :{"max-size":"10m" ,  "max-file":"3"},' \
		$'\t"default-runtime"  :   "runwarden"  ,' \
		'  "labels": ["caf\u00e9", "naïve", "\ud83d\ude00", "{\"runtimes\": [1, \"}\"]}"],' \
		'  "runtimes"   : {' \
		"        \"runwarden\": {\"path\": \"$RUNWARDEN\", \"runtimeArgs\": [\"--network=none\", \"--platform=ptrace\"]}," \
		'        "crun": { "path": "/usr/bin/crun", "runtimeArgs": [ "--debug" ] }' \
		'  },' \
		'  "max-concurrent-downloads": 1e3, "shutdown-timeout": 10.50, "n": -0,' \
		'  "nested": {"a": {"b": {"c": [true, false, null, {}]}}},' \
		'  "x-empty": {},' \
		'  "debug": false' \
		'}'
}

@test "install edits only default-runtime and runtimes.runwarden; uninstall gives back the exact bytes" {
	rich > "$J"
	cp "$J" "$T/orig"
	run inst --runtime-arg --network=none --runtime-arg --platform=ptrace
	assert_success
	assert_line --partial 'default-runtime "runwarden" (was "crun")'
	rich_installed > "$T/want"
	run diff "$T/want" "$J"
	assert_success
	# the backup is the file as it was
	cmp "$T/orig" "$J.runwarden-backup"
	# the state remembers the previous default
	run jq -r '.name, .default_runtime, .runtimes_created, .file_created' "$J.runwarden-state"
	assert_output "$(printf '%s\n' runwarden '"crun"' false false)"

	run uninst
	assert_success
	assert_line --partial 'default-runtime back to "crun"'
	cmp "$T/orig" "$J"
	[ ! -e "$J.runwarden-state" ]
	cmp "$T/orig" "$J.runwarden-backup"
}

@test "no default-runtime and no runtimes before: both added, and both gone after uninstall" {
	printf '{\n    "debug": true,\n    "storage-driver": "overlay2"\n}\n' > "$J"
	cp "$J" "$T/orig"
	run inst
	assert_success
	assert_line --partial '(was unset: runc)'
	run cat "$J"
	assert_output "$(printf '%s\n' '{' '    "default-runtime": "runwarden",' \
		"    \"runtimes\": {\"runwarden\": {\"path\": \"$RUNWARDEN\"}}," \
		'    "debug": true,' '    "storage-driver": "overlay2"' '}')"
	run jq -r '.["default-runtime"], .runtimes.runwarden.path, .debug' "$J"
	assert_output "$(printf '%s\n' runwarden "$RUNWARDEN" true)"
	run uninst
	assert_success
	# absent before, absent after
	cmp "$T/orig" "$J"
}

@test "compact one-line files, an empty runtimes map, a runtimes map that already names runwarden" {
	local f
	for f in '{"debug":true}' '{"runtimes":{},"debug":true}' '{"runtimes":{ },"default-runtime":"runc"}' \
		 '{"runtimes":{"runwarden":{"path":"/old/runwarden"},"x":{"path":"/x"}},"default-runtime":"runwarden"}' \
		 '{"runtimes":{"x":{"path":"/x"},"runwarden":{"path":"/old/runwarden"}}}' \
		 '{"a":1,"default-runtime":"runc","default-runtime":"x"}' $'\r\n{\r\n"a": 1\r\n}\r\n' ' '; do
		printf '%s' "$f" > "$J"
		cp "$J" "$T/orig"
		run inst
		assert_success
		run jq -r '.["default-runtime"], .runtimes.runwarden.path' "$J"
		assert_output "$(printf '%s\n' runwarden "$RUNWARDEN")"
		run uninst
		assert_success
		cmp "$T/orig" "$J" || fail "round trip of '$f' gave '$(cat "$J")'"
		rm -f "$J".runwarden-*
	done
}

@test "a missing daemon.json is created (and removed again by uninstall); an empty object comes back as it was" {
	run inst
	assert_success
	[ -f "$J" ]
	[ "$(stat -c %a "$J")" = 644 ]
	run jq -c . "$J"
	assert_output "{\"runtimes\":{\"runwarden\":{\"path\":\"$RUNWARDEN\"}},\"default-runtime\":\"runwarden\"}"
	[ ! -e "$J.runwarden-backup" ]
	run uninst
	assert_success
	[ ! -e "$J" ]
	[ ! -e "$J.runwarden-state" ]

	printf '{ }\n' > "$J"
	run inst
	assert_success
	run uninst
	assert_success
	[ "$(cat "$J")" = "{ }" ]

	# a directory that does not exist yet
	J=$T/new/daemon.json
	run inst
	assert_success
	[ -f "$J" ]
}

@test "install twice is install once; the backup and the state stay the first install's" {
	rich > "$J"
	cp "$J" "$T/orig"
	inst
	cp "$J" "$T/once"
	cp "$J.runwarden-state" "$T/state"
	run inst
	assert_success
	assert_output --partial 'already installed'
	cmp "$T/once" "$J"
	cmp "$T/state" "$J.runwarden-state"
	cmp "$T/orig" "$J.runwarden-backup"
	# a new path or new flags update the entry; uninstall still restores the original
	cp "$RUNWARDEN" "$T/rw2"
	run "$RUNWARDEN" install --docker --daemon-json "$J" --path "$T/rw2" --runtime-arg --debug --no-reload
	assert_success
	run jq -c '.runtimes.runwarden' "$J"
	assert_output "{\"path\":\"$T/rw2\",\"runtimeArgs\":[\"--debug\"]}"
	run uninst
	assert_success
	cmp "$T/orig" "$J"
	run uninst
	assert_success
	assert_output --partial 'not installed'
	cmp "$T/orig" "$J"
}

@test "mode and owner are kept, for daemon.json and its backup; a symlink stays a symlink" {
	[ "$(id -u)" = 0 ] || skip "needs root (chown)"
	rich > "$T/real.json"
	chmod 640 "$T/real.json"
	chown 1234:5678 "$T/real.json"
	ln -s "$T/real.json" "$J"
	inst
	[ -L "$J" ]
	[ "$(stat -c '%a %u:%g' "$T/real.json")" = "640 1234:5678" ]
	[ "$(stat -c '%a %u:%g' "$T/real.json.runwarden-backup")" = "640 1234:5678" ]
	[ "$(stat -c '%a' "$T/real.json.runwarden-state")" = 600 ]
	run jq -r '.["default-runtime"]' "$J"
	assert_output runwarden
	uninst
	[ -L "$J" ]
	[ "$(stat -c '%a %u:%g' "$T/real.json")" = "640 1234:5678" ]
	[ "$(rich)" = "$(cat "$T/real.json")" ]
}

@test "an operator's later edit of another key survives uninstall" {
	rich > "$J"
	inst
	sed -i 's/"debug": false/"debug": true/' "$J"
	# and a key added at the end
	sed -i 's/^}$/, "experimental": true }/' "$J"
	uninst
	run diff <(rich | sed 's/"debug": false/"debug": true/; s/^}$/, "experimental": true }/') "$J"
	assert_success
}

@test "uninstall leaves a default-runtime the operator changed since install" {
	printf '{"default-runtime": "runc", "debug": true}\n' > "$J"
	inst
	sed -i 's/"default-runtime": "runwarden"/"default-runtime": "crun"/' "$J"
	run uninst
	assert_success
	assert_output --partial 'left as it is'
	run jq -c . "$J"
	assert_output '{"default-runtime":"crun","debug":true}'
}

# refuse CMD...: fails with a message matching the last argument, leaves
# daemon.json as it was and writes no backup or state.
refused() {
	local want=${*: -1}
	cp "$J" "$T/before"
	run "${@:1:$#-1}"
	assert_failure
	assert_output --regexp "$want"
	cmp "$T/before" "$J"
	[ ! -e "$J.runwarden-backup" ] && [ ! -e "$J.runwarden-state" ]
	[ -z "$(find "$D" -name '*.runwarden-*')" ]
}

@test "refused: broken JSON (file:line:col), not an object, runtimes not an object" {
	printf '{\n  "debug": true,\n  "x": [1, 2\n}\n' > "$J"
	refused inst "^runwarden: $J:4:[12]: invalid JSON"
	printf '{"debug": true} {}' > "$J"
	refused inst "$J:1:"
	printf '[{"default-runtime": "runc"}]\n' > "$J"
	refused inst "^runwarden: $J:1:1: not a JSON object"
	printf '"runc"' > "$J"
	refused inst "not a JSON object"
	printf '{\n "runtimes": ["runwarden"]\n}\n' > "$J"
	refused inst "$J:2:14: \"runtimes\" is not a JSON object"
	printf '{"a": 1,}' > "$J"
	refused uninst "invalid JSON"
}

@test "refused: a relative, missing or non-executable --path; no --docker; a reserved name" {
	rich > "$J"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --no-reload --path bin/runwarden "not an absolute path"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --no-reload --path "$T/nope" "No such file"
	printf '#!/bin/sh\n' > "$T/noexec"
	chmod 644 "$T/noexec"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --no-reload --path "$T/noexec" "not executable"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --no-reload --path "$T" "not a regular file"
	refused "$RUNWARDEN" install --daemon-json "$J" --no-reload "name the engine: --docker"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --no-reload --runtime-name runc "not a usable runtime name"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --bogus "unknown option --bogus"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --pid 1 --no-reload extra "unexpected argument extra"
	# a --pid that is not dockerd's: refused before anything is written
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --pid $$ "--pid $$ is .*, not dockerd"
	refused "$RUNWARDEN" install --docker --daemon-json "$J" --pid 999999999 "not a process id|no such process"
}

@test "--runtime-name: another name; uninstall finds it in the state" {
	rich > "$J"
	cp "$J" "$T/orig"
	inst --runtime-name rw-gvisor --runtime-arg --network=none
	run jq -r '.["default-runtime"], .runtimes["rw-gvisor"].runtimeArgs[0]' "$J"
	assert_output "$(printf '%s\n' rw-gvisor --network=none)"
	# a second install under another name is refused while this one stands
	run inst --runtime-name runwarden
	assert_failure
	assert_output --partial 'installed as runtime "rw-gvisor"'
	uninst
	cmp "$T/orig" "$J"
}

@test "installs and uninstalls running at once do not interleave" {
	rich > "$J"
	cp "$J" "$T/orig"
	local i pids=()
	for i in 1 2 3 4 5 6 7 8; do
		inst --runtime-arg --network=none --runtime-arg --platform=ptrace > "$T/out.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	rich_installed > "$T/want"
	diff "$T/want" "$J"
	cmp "$T/orig" "$J.runwarden-backup"
	[ "$(grep -l 'backup of the previous file' "$T"/out.* | wc -l)" = 1 ]
	pids=()
	for i in 1 2 3 4; do
		uninst > "$T/out.u$i" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	cmp "$T/orig" "$J"
	[ -z "$(find "$D" -name '*.runwarden-*' ! -name '*.runwarden-backup')" ]
}

@test "--help" {
	run "$RUNWARDEN" install --help
	assert_success
	assert_output --partial '--daemon-json FILE'
	run "$RUNWARDEN" uninstall --help
	assert_success
	assert_output --partial 'runwarden uninstall --docker'
}

# --- live: a private dockerd ----------------------------------------------

# The docker.bash daemons, with dockerd restarted on a daemon.json that
# does not name runwarden (only "default-runtime": "runc").
live_start() {
	docker_start
	docker_import_busybox
	_rw_stop_pid "$RW_DOCKERD_PID" dockerd 30
	jq 'del(.runtimes) | .["default-runtime"] = "runc"' "$RW_T/daemon.json" > "$RW_T/daemon.json.new"
	mv "$RW_T/daemon.json.new" "$RW_T/daemon.json"
	cp "$RW_T/daemon.json" "$RW_T/daemon.json.orig"
	env -i PATH="$RW_DAEMON_PATH" HOME="$RW_T" RUNWARDEN_POLICY="$RW_POLICY" \
		"$RW_DOCKERD" --config-file "$RW_T/daemon.json" \
		--data-root "$RW_DATA_ROOT" --exec-root "$RW_EXEC_ROOT" \
		--pidfile "$RW_T/dockerd.pid" -H "unix://$RW_DOCKER_SOCK" \
		--containerd "$RW_CTRD_SOCK" \
		</dev/null >>"$RW_T/dockerd.log" 2>&1 3>&- &
	RW_DOCKERD_PID=$!
	export RW_DOCKERD_PID
	wait_for 60 _rw_docker_ready
	_rw_alive "$RW_DOCKERD_PID" && _rw_docker_ready
}

default_runtime() {
	dk info --format '{{.DefaultRuntime}}'
}

@test "live: install makes runwarden dockerd's default (SIGHUP), docker run gets the free tier; uninstall undoes it" {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
	[ "$(default_runtime)" = runc ]
	run dk info --format '{{json .Runtimes}}'
	refute_output --partial runwarden

	run "$RUNWARDEN" install --docker --daemon-json "$RW_T/daemon.json" --path "$RUNWARDEN" --pid "$RW_DOCKERD_PID"
	assert_success
	assert_line "asked dockerd (pid $RW_DOCKERD_PID) to reload its configuration (SIGHUP)"
	wait_for 20 test "$(default_runtime)" = runwarden
	[ "$(default_runtime)" = runwarden ]
	run dk info --format '{{json .Runtimes}}'
	run jq -r '.runwarden.path' <<<"$output"
	assert_output "$RUNWARDEN"

	local id cfg
	id=$(dk run -d --network none "$RW_IMAGE" sleep 600)
	cfg=$(bundle_dir "$id")/config.json
	run jq -r '.annotations["org.runwarden.tier"], .linux.resources.memory.limit' "$cfg"
	assert_output "$(printf '%s\n' free 268435456)"
	[ "$(cat "/sys/fs/cgroup/memory/$RW_CGPARENT/$id/memory.limit_in_bytes")" = 268435456 ]
	dk rm -f "$id" >/dev/null

	# uninstall, dockerd found by its --config-file (no --pid)
	run "$RUNWARDEN" uninstall --docker --daemon-json "$RW_T/daemon.json"
	assert_success
	assert_line --partial 'default-runtime back to "runc"'
	assert_line "asked dockerd (pid $RW_DOCKERD_PID) to reload its configuration (SIGHUP)"
	cmp "$RW_T/daemon.json.orig" "$RW_T/daemon.json"
	wait_for 20 test "$(default_runtime)" = runc
	[ "$(default_runtime)" = runc ]
	# the runtimes map was install's: dockerd forgets runwarden too
	run dk info --format '{{json .Runtimes}}'
	refute_output --partial runwarden
	# a new container no longer goes through runwarden
	id=$(dk run -d --network none "$RW_IMAGE" sleep 600)
	cfg=$(bundle_dir "$id")/config.json
	run jq -r '.annotations["org.runwarden.tier"] // "none"' "$cfg"
	assert_output none
	dk rm -f "$id" >/dev/null
}

@test "live: no default-runtime before, none after, and dockerd is back on runc without a restart" {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
	jq 'del(.["default-runtime"])' "$RW_T/daemon.json.orig" > "$RW_T/daemon.json"
	cp "$RW_T/daemon.json" "$T/orig"
	run "$RUNWARDEN" install --docker --daemon-json "$RW_T/daemon.json" --path "$RUNWARDEN"
	assert_success
	assert_line "asked dockerd (pid $RW_DOCKERD_PID) to reload its configuration (SIGHUP)"
	wait_for 20 test "$(default_runtime)" = runwarden
	[ "$(default_runtime)" = runwarden ]

	run "$RUNWARDEN" uninstall --docker --daemon-json "$RW_T/daemon.json" --pid "$RW_DOCKERD_PID"
	assert_success
	assert_line --partial 'dockerd reloaded with default-runtime runc and no extra runtimes'
	cmp "$T/orig" "$RW_T/daemon.json"
	wait_for 20 test "$(default_runtime)" = runc
	[ "$(default_runtime)" = runc ]
	run dk info --format '{{json .Runtimes}}'
	refute_output --partial runwarden
	run grep -c 'Error reloading\|failed to reload\|Error parsing' "$RW_T/dockerd.log"
	assert_output 0
}
