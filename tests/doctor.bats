#!/usr/bin/env bats
# runwarden doctor against a private containerd + dockerd (tests/helpers/docker.bash)
# with runwarden as the default runtime: a correct setup is all OK (but for the
# WARNs no configuration removes here), each broken variant gives its FAIL and
# exit 1. Needs root, dockerd, containerd.
#
# The daemon.json checks read a file of the test's own (--daemon-json) where a
# variant needs another one; the running daemon is shared by every test.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/docker'

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	docker_start
	docker_import_busybox
	# The production settings the seed asks for, on top of the daemon's own file.
	jq '."live-restore" = true | ."no-new-privileges" = true | ."userland-proxy" = false' \
		"$RW_T/daemon.json" > "$RW_T/daemon-good.json"
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	docker_stop
}

setup() {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
	good_policy
	fresh_sentry_status
	FAKE_PIDS=()
}

teardown() {
	local p
	for p in "${FAKE_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	docker_test_teardown
}

# The suites' policy plus a sentry status file under $RW_T.
good_policy() {
	set_policy "$(printf '{"delegate":"runc","audit_log":"%s","sentry":{"status":"%s"}}' \
		"$RW_AUDIT" "$RW_T/sentry.json")"
}

# What a running runwarden-sentry writes every interval (bpf/sentry.c): this
# shell's pid stands in for the daemon's.
fresh_sentry_status() {
	printf '{"time":"now","pid":%d,"interval_ms":1000,"window":8,"samples":1,"containers":[]}\n' "$$" \
		> "$RW_T/sentry.json"
}

# doctor against the private daemon; the docker CLI is the Debian 20.10 one.
doctor() {
	DOCKER_HOST="unix://$RW_DOCKER_SOCK" RUNWARDEN_POLICY="$RW_POLICY" \
		"$RUNWARDEN" doctor --docker "$RW_DOCKER" "$@"
}

# The statuses of the text output: "check STATUS" lines.
text_statuses() {
	sed -n 's/^\[\([A-Z]*\)\] *\([^:]*\): .*/\2 \1/p' <<<"$output"
}

# The status of one check in the text output (the first line of that check).
status_of() { # CHECK
	text_statuses | awk -v c="$1" '$1 == c { print $2; exit }'
}

# The statuses of a correct setup on this host. bypass.runtime and
# bypass.buildkit are WARNs no configuration here removes: dockerd keeps its
# built-in runc, and the private dockerd runs without
# DOCKER_BUILDKIT_RUNC_COMMAND (docker.bash gives it a clean environment).
expected_good() {
	local bpf=OK cgroups=OK
	[ -r /sys/kernel/btf/vmlinux ] || bpf=WARN
	if ! awk '{ for (i = 1; i < NF; i++) if ($i == "-") break
		    if ($(i + 1) != "cgroup") next
		    n = split($(i + 3), o, ","); for (k = 1; k <= n; k++) if (o[k] == "cpu") f = 1 }
		  END { exit !f }' /proc/self/mountinfo && [ "$(cat /proc/1/comm)" = systemd ]; then
		cgroups=WARN   # cgroup2 only, systemd, and docker.bash's cgroupfs driver
	fi
	cat <<-EOF
	runwarden OK
	policy OK
	delegate OK
	docker OK
	dockerd.default-runtime OK
	daemon.json.default-runtime OK
	daemon.json.live-restore OK
	daemon.json.userland-proxy OK
	daemon.json.no-new-privileges OK
	cgroups $cgroups
	nftables OK
	bpf $bpf
	sentry OK
	bypass.runtime WARN
	bypass.buildkit WARN
	containers OK
	EOF
}

@test "doctor: a correct setup is OK but for the inherent WARNs, exit 0" {
	run doctor --daemon-json "$RW_T/daemon-good.json"
	echo "$output"
	assert_success
	assert_equal "$(text_statuses)" "$(expected_good)"
	assert_line --regexp '^\[OK\]   delegate: runc for "delegate": /usr/sbin/runc, runc version '
	assert_line --regexp "^\[OK\]   docker: dockerd [0-9.]+.* \(pid $RW_DOCKERD_PID\) at unix://$RW_DOCKER_SOCK\$"
	assert_line --partial "dockerd.default-runtime: the running dockerd's default runtime is runwarden ($RUNWARDEN)"
	assert_line --partial 'runtime runc` skips runwarden'
	assert_line --partial 'has no DOCKER_BUILDKIT_RUNC_COMMAND'
	# every WARN says its fix on the next line
	run awk '/^\[WARN\]|^\[FAIL\]/ { getline nx; if (nx !~ /^       fix: /) bad++ } END { exit bad }' <<<"$output"
	assert_success
	[ "$(grep -c '^       fix: ' <<<"$output")" -eq "$(grep -c '^\[WARN\]\|^\[FAIL\]' <<<"$output")" ]
}

@test "doctor --json: an array of {check, status, message, fix} with the text's statuses" {
	local want
	want=$(expected_good)
	run doctor --daemon-json "$RW_T/daemon-good.json" --json
	assert_success
	local json=$output
	run jq -r '.[] | "\(.check) \(.status)"' <<<"$json"
	assert_success
	assert_equal "$output" "$want"
	# keys, and a fix exactly on the WARNs and FAILs
	run jq -e 'all(.[]; (keys == ["check","fix","message","status"]) and (.message | type == "string")
		and ((.status == "OK" or .status == "SKIP") == (.fix == null)))' <<<"$json"
	assert_success
}

@test "doctor: an invalid policy is a FAIL, exit 1" {
	printf '{"delegate": "runc", "tiers": {"free": {"memory": "lots"}}, "bogus": 1}\n' > "$RW_T/bad-policy.json"
	DOCKER_HOST="unix://$RW_DOCKER_SOCK" RUNWARDEN_POLICY=$RW_T/bad-policy.json \
		run "$RUNWARDEN" doctor --docker "$RW_DOCKER" --daemon-json "$RW_T/daemon-good.json"
	echo "$output"
	assert_failure 1
	assert_equal "$(status_of policy)" FAIL
	assert_line --regexp "^\[FAIL\] policy: [0-9]+ errors: $RW_T/bad-policy.json:1:[0-9]+: "
	assert_line --partial 'unknown key "bogus"'
	assert_line --partial "fix: correct $RW_T/bad-policy.json (runwarden policy check $RW_T/bad-policy.json"
	# the delegates it names cannot be known
	assert_equal "$(status_of delegate)" SKIP
	# the other checks still ran
	assert_equal "$(status_of dockerd.default-runtime)" OK
}

@test "doctor: a delegate the policy names that does not exist is a FAIL, exit 1" {
	set_policy "$(printf '{"delegate":"runc","audit_log":"%s","sentry":{"status":"%s"},
		"tiers":{"free":{"memory":"256m","cpus":0.25,"tmpfs":"512m","pids":256,"delegate":"%s"}}}' \
		"$RW_AUDIT" "$RW_T/sentry.json" "$RW_T/no-such-runsc")"
	run doctor --daemon-json "$RW_T/daemon-good.json"
	echo "$output"
	assert_failure 1
	assert_line --regexp "^\[FAIL\] delegate: $RW_T/no-such-runsc for tier free: .*No such file or directory"
	assert_line --partial "fix: install $RW_T/no-such-runsc, or name an installed runtime in $RW_POLICY"
	# the one that exists is still reported with its version
	assert_line --regexp '^\[OK\]   delegate: runc for "delegate": /usr/sbin/runc, runc version '
	[ "$(grep -c '^\[FAIL\]' <<<"$output")" -eq 1 ]

	run doctor --daemon-json "$RW_T/daemon-good.json" --json
	assert_failure 1
	run jq -r '.[] | select(.status == "FAIL") | .check' <<<"$output"
	assert_output delegate
}

@test "doctor: runwarden not the default runtime in daemon.json is a FAIL, exit 1" {
	# runwarden registered but not the default
	jq 'del(."default-runtime")' "$RW_T/daemon-good.json" > "$RW_T/daemon-nodefault.json"
	run doctor --daemon-json "$RW_T/daemon-nodefault.json"
	echo "$output"
	assert_failure 1
	assert_line "[FAIL] daemon.json.default-runtime: $RW_T/daemon-nodefault.json sets no \"default-runtime\": dockerd uses runc"
	assert_line --partial "fix: runwarden install --docker (or add \"runtimes\": {\"runwarden\": {\"path\": \"$RUNWARDEN\"}} and \"default-runtime\": \"runwarden\" to $RW_T/daemon-nodefault.json), then restart dockerd"
	[ "$(grep -c '^\[FAIL\]' <<<"$output")" -eq 1 ]

	# the default is another runtime
	jq '."default-runtime" = "runsc" | .runtimes.runsc = {"path": "/usr/bin/runsc"}' \
		"$RW_T/daemon-good.json" > "$RW_T/daemon-runsc.json"
	run doctor --daemon-json "$RW_T/daemon-runsc.json"
	assert_failure 1
	assert_line "[FAIL] daemon.json.default-runtime: $RW_T/daemon-runsc.json: \"default-runtime\": \"runsc\" is /usr/bin/runsc, not runwarden"

	# dockerd's own runc
	jq '."default-runtime" = "runc"' "$RW_T/daemon-good.json" > "$RW_T/daemon-runc.json"
	run doctor --daemon-json "$RW_T/daemon-runc.json"
	assert_failure 1
	assert_line --partial "\"default-runtime\": \"runc\" is not one of its \"runtimes\" (dockerd's own runc)"

	# a daemon.json that is missing, or not JSON
	run doctor --daemon-json "$RW_T/no-such-daemon.json"
	assert_failure 1
	assert_line --regexp "^\[FAIL\] daemon.json.default-runtime: .*$RW_T/no-such-daemon.json.*No such file or directory"
	printf '{"default-runtime": "runwarden",' > "$RW_T/daemon-broken.json"
	run doctor --daemon-json "$RW_T/daemon-broken.json"
	assert_failure 1
	assert_line --regexp "^\[FAIL\] daemon.json.default-runtime: $RW_T/daemon-broken.json"
}

@test "doctor: live-restore off, userland-proxy on, no no-new-privileges are WARNs with their fixes" {
	jq '."live-restore" = false | ."userland-proxy" = true | del(."no-new-privileges")' \
		"$RW_T/daemon-good.json" > "$RW_T/daemon-lax.json"
	run doctor --daemon-json "$RW_T/daemon-lax.json"
	echo "$output"
	assert_success
	assert_equal "$(status_of daemon.json.live-restore)" WARN
	assert_equal "$(status_of daemon.json.userland-proxy)" WARN
	assert_equal "$(status_of daemon.json.no-new-privileges)" WARN
	assert_line "       fix: set \"live-restore\": true in $RW_T/daemon-lax.json, then restart dockerd"
	assert_line "       fix: set \"userland-proxy\": false in $RW_T/daemon-lax.json, then restart dockerd"
	assert_line "       fix: set \"no-new-privileges\": true in $RW_T/daemon-lax.json, then restart dockerd"
}

@test "doctor: without --daemon-json it reads the daemon.json of dockerd's --config-file" {
	run doctor
	echo "$output"
	# docker.bash's own file: runwarden the default, live-restore off
	assert_success
	assert_line --partial "daemon.json.default-runtime: $RW_T/daemon.json: \"default-runtime\": \"runwarden\" ($RUNWARDEN)"
	assert_line "[WARN] daemon.json.live-restore: live-restore is off: restarting or upgrading dockerd stops every container"
}

@test "doctor: a running container that did not start through runwarden is a FAIL, exit 1" {
	dk run -d --name doc-tenant --network none "$RW_IMAGE" sleep 600 >/dev/null
	run doctor --daemon-json "$RW_T/daemon-good.json"
	assert_success
	assert_line "[OK]   containers: all 1 running container started through runwarden"

	dk run -d --name doc-bypass --runtime runc --network none "$RW_IMAGE" sleep 600 >/dev/null
	run doctor --daemon-json "$RW_T/daemon-good.json"
	echo "$output"
	assert_failure 1
	assert_line "[FAIL] containers: 1 of 2 running containers did not start through runwarden: doc-bypass (runc)"
	assert_line --partial "fix: recreate them"
	run doctor --daemon-json "$RW_T/daemon-good.json" --json
	assert_failure 1
	run jq -r '.[] | select(.check == "containers") | .status' <<<"$output"
	assert_output FAIL
}

@test "doctor: BuildKit is OK when dockerd's environment sets DOCKER_BUILDKIT_RUNC_COMMAND to runwarden" {
	# a stand-in for dockerd: only its environment is read
	env DOCKER_BUILDKIT_RUNC_COMMAND="$RUNWARDEN" sleep 600 &
	FAKE_PIDS+=($!)
	run doctor --daemon-json "$RW_T/daemon-good.json" --dockerd-pid "${FAKE_PIDS[0]}"
	assert_success
	assert_line "[OK]   bypass.buildkit: dockerd's environment sets DOCKER_BUILDKIT_RUNC_COMMAND=$RUNWARDEN: BuildKit's RUN steps go through runwarden"

	env DOCKER_BUILDKIT_RUNC_COMMAND=/usr/sbin/runc sleep 600 &
	FAKE_PIDS+=($!)
	run doctor --daemon-json "$RW_T/daemon-good.json" --dockerd-pid "${FAKE_PIDS[1]}"
	assert_success
	assert_line --regexp '^\[WARN\] bypass.buildkit: .*DOCKER_BUILDKIT_RUNC_COMMAND=/usr/sbin/runc, not runwarden'
	assert_line --partial "fix: systemctl edit docker: [Service] Environment=DOCKER_BUILDKIT_RUNC_COMMAND=$RUNWARDEN"
}

@test "doctor: a stale or dead sentry is a WARN with how to start it" {
	rm -f "$RW_T/sentry.json"
	run doctor --daemon-json "$RW_T/daemon-good.json"
	assert_success
	assert_line "[WARN] sentry: runwarden-sentry is not running (no status file $RW_T/sentry.json): nothing watches containers for mining"
	assert_line --partial "fix: start it: "

	fresh_sentry_status
	touch -d '-1 min' "$RW_T/sentry.json"
	run doctor --daemon-json "$RW_T/daemon-good.json"
	assert_success
	assert_line --regexp "^\[WARN\] sentry: runwarden-sentry is not running: its status file $RW_T/sentry.json was last written [0-9]+s ago"

	# fresh, but its pid is gone
	local dead
	sleep 0 & dead=$!
	wait "$dead"
	printf '{"pid":%d,"containers":[]}\n' "$dead" > "$RW_T/sentry.json"
	run doctor --daemon-json "$RW_T/daemon-good.json"
	assert_success
	assert_line "[WARN] sentry: runwarden-sentry is not running: the pid $dead of $RW_T/sentry.json is gone"
}

@test "doctor: no reachable dockerd: the docker checks WARN or SKIP, no crash" {
	DOCKER_HOST=unix://$RW_T/no-such.sock RUNWARDEN_POLICY="$RW_POLICY" \
		run "$RUNWARDEN" doctor --docker "$RW_DOCKER" --daemon-json "$RW_T/daemon-good.json"
	echo "$output"
	assert_success
	assert_line --regexp "^\[WARN\] docker: cannot reach dockerd: .*$RW_T/no-such.sock"
	assert_equal "$(status_of dockerd.default-runtime)" SKIP
	assert_equal "$(status_of bypass.runtime)" SKIP
	assert_equal "$(status_of containers)" SKIP
	assert_equal "$(status_of daemon.json.default-runtime)" OK

	# no docker CLI at all
	RUNWARDEN_POLICY="$RW_POLICY" run "$RUNWARDEN" doctor --docker "$RW_T/no-such-docker" \
		--daemon-json "$RW_T/daemon-good.json" --json
	assert_success
	run jq -r '.[] | select(.check == "docker") | .status + " " + .message' <<<"$output"
	assert_output --partial "WARN no docker CLI ($RW_T/no-such-docker)"
}

@test "doctor: a docker CLI that hangs is killed after --timeout" {
	printf '#!/bin/sh\necho $$ > "%s"\nexec sleep 600\n' "$RW_T/hanging.pid" > "$RW_T/hanging-docker"
	chmod +x "$RW_T/hanging-docker"
	local t0=$SECONDS
	RUNWARDEN_POLICY="$RW_POLICY" run "$RUNWARDEN" doctor --docker "$RW_T/hanging-docker" --timeout 1 \
		--daemon-json "$RW_T/daemon-good.json"
	assert_success
	assert_line "[WARN] docker: docker info failed: no answer within the timeout"
	[ $((SECONDS - t0)) -lt 10 ]
	# the child was killed and reaped
	local pid
	pid=$(cat "$RW_T/hanging.pid")
	[ -n "$pid" ]
	if kill -0 "$pid" 2>/dev/null; then fail "the hanging docker ($pid) outlived doctor"; fi
}

@test "doctor: usage errors exit 1" {
	run "$RUNWARDEN" doctor --bogus
	assert_failure 1
	assert_output --partial 'usage: runwarden doctor'
	run "$RUNWARDEN" doctor --dockerd-pid abc
	assert_failure 1
	assert_output --partial 'not a pid'
	run "$RUNWARDEN" doctor extra
	assert_failure 1
	assert_output --partial 'unexpected "extra"'
}
