#!/usr/bin/env bats
# runwarden-sentry (bpf/README.md) on real containers and real BPF: busybox
# containers created and started through runwarden under runc, crun and
# runsc, the daemon started by the test on the test's own root with
# --interval 500. A pegged loop is flagged (event, status, metrics) and a
# syscall-heavy busy loop and an idle container beside it are not; a flag
# clears when the loop stops; the tier's action freezes or kills; metrics,
# textfile, --top and --once; map entries come and go with the containers;
# exec of a blocklisted name and pool-port attempts raise the score; bad
# flags and policies stop it, a damaged record does not.
#
# The flag tests (pegged, busy, idle) run with the policy's window (8: a
# pegged loop is flagged ~4 s after it is found); the others pass --window
# 4 to be flagged in ~2 s (cleared ~1.5 s after the loop stops).
#
# Teardown thaws frozen cgroups, stops every sentry by its PID, removes the
# containers, their processes and cgroups (tiers_teardown), the netns of the
# pool test, and checks /dev/null.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/tiers-lib
load helpers/egress-topo
# egress-topo gives runsc --network=host for its own topology; here runsc
# runs with common.bash's --network=none, except in the pool test (runc).
unset RW_RUNSC_NETWORK
load helpers/sentry

setup_file() {
	tiers_setup_file
}

setup() {
	sentry_setup
}

teardown() {
	local rc=0
	sentry_teardown || rc=1
	if [ -f "${T:-/nonexistent}/netns" ]; then
		topo_teardown || rc=1
	fi
	return $rc
}

# --- 1. a pegged loop is flagged; a busy syscall-heavy loop and an idle one are not ---

flag_spinner() {
	local d=$1 spin="$ID-spin" busy="$ID-busy" idle="$ID-idle" ev max
	require_delegate "$d"
	sentry_policy "$d"
	start_sentry
	ctr "$d" "$spin" sh -c "$SPIN"
	ctr "$d" "$busy" sh -c "$BUSY"
	ctr "$d" "$idle" sleep 1000
	wait_event 30 flag "$spin"
	# then some more samples, for the others to have had their chance
	more_samples 4

	[ "$(events flag "$spin" | wc -l)" = 1 ] || fail "flag events for $spin: $(events flag "$spin")"
	ev=$(events flag "$spin")
	max=2000
	[ "$d" != runsc ] || max=20000
	jq -e --arg d "$d" --argjson max "$max" '.tier == "free" and .delegate == $d and .score >= 0.75 and
		.signals.window == 8 and .signals.hot >= 6 and .signals.limit == 0.25 and
		.signals.syscalls_per_cpu_s <= $max and .signals.exec == "" and .signals.pool_packets == 0' \
		<<< "$ev" > /dev/null || fail "the flag event: $ev"
	[ -z "$(events "" "$busy")$(events "" "$idle")" ] ||
		fail "events for the benign containers: $(events "" "$busy") $(events "" "$idle")"

	# status: all three watched; the spinner flagged, the others not (the
	# busy one for its syscalls: it ran)
	[ "$(st "$spin" '[.watched, .flagged, .flags, .tier] | @tsv')" = "$(printf 'true\ttrue\t1\tfree')" ] ||
		fail "status of $spin: $(st "$spin" .)"
	[ "$(st "$busy" '[.watched, .flagged, .peak < 0.75] | @tsv')" = "$(printf 'true\tfalse\ttrue')" ] ||
		fail "status of $busy: $(st "$busy" .)"
	[ "$(st "$idle" '[.watched, .flagged, .peak] | @tsv')" = "$(printf 'true\tfalse\t0')" ] ||
		fail "status of $idle: $(st "$idle" .)"
	st "$busy" ".syscalls_per_cpu_s > $max" | grep -qx true ||
		fail "$busy makes no more than $max syscalls per CPU-second: $(st "$busy" .)"
	[ "$(st "$spin" .cgroup)" = "/sys/fs/cgroup/cpu$(cg_of "$spin")" ] ||
		fail "status cgroup of $spin: $(st "$spin" .cgroup)"

	# metrics: the same
	run -0 get /metrics
	[ "$(metric "$output" runwarden_sentry_flagged "$spin")" = 1 ] &&
		[ "$(metric "$output" runwarden_sentry_flagged "$busy")" = 0 ] &&
		[ "$(metric "$output" runwarden_sentry_flagged "$idle")" = 0 ] &&
		grep -qx 'runwarden_sentry_containers 3' <<< "$output" &&
		grep -qx 'runwarden_sentry_flags_total 1' <<< "$output" ||
		fail "metrics: $(grep -v '^#' <<< "$output")"
	stop_sentry
}

@test "runc: a pegged loop is flagged (event, status, metrics); a busy syscall-heavy loop and an idle one are not" {
	flag_spinner runc
}

@test "crun: a pegged loop is flagged (event, status, metrics); a busy syscall-heavy loop and an idle one are not" {
	flag_spinner crun
}

@test "runsc: a pegged loop is flagged (event, status, metrics); a busy syscall-heavy loop and an idle one are not" {
	flag_spinner runsc
}

# --- 2. a flagged container that stops spinning is cleared ---

flag_then_clear() {
	local d=$1 c="$ID-stop" ev out
	require_delegate "$d"
	sentry_policy "$d"
	start_sentry --window 4
	ctr "$d" "$c" sh -c "$SPIN_UNTIL_USR1"
	wait_event 30 flag "$c"
	rwd "$d" kill "$c" USR1 > "$T/kill.out" 2>&1 || fail "kill USR1: $(cat "$T/kill.out")"
	wait_event 20 clear "$c"
	# one flag, then one clear, nothing else
	out=$(events "" "$c" | jq -r .event | paste -sd,)
	[ "$out" = flag,clear ] || fail "events for $c: $(events "" "$c")"
	ev=$(events clear "$c")
	jq -e '.score <= 0.25 and .signals.hot <= 1 and .signals.window == 4 and .tier == "free"' <<< "$ev" > /dev/null ||
		fail "the clear event: $ev"
	wait_for 5 eval "[ \"\$(st $c .flagged)\" = false ]" || fail "status: $(st "$c" .)"
	[ "$(st "$c" .flags)" = 1 ] || fail "status: $(st "$c" .)"
	run -0 get /metrics
	[ "$(metric "$output" runwarden_sentry_flagged "$c")" = 0 ] || fail "metrics: $output"
	grep -qx 'runwarden_sentry_flags_total 1' <<< "$output" || fail "metrics: $output"
	stop_sentry
}

@test "runc: a flagged container that stops spinning is cleared" {
	flag_then_clear runc
}

@test "runsc: a flagged container that stops spinning is cleared" {
	flag_then_clear runsc
}

# --- 3. actions: freeze, kill ---

freeze_action() {
	local d=$1 c="$ID-spin" ev cg u1 u2
	require_delegate "$d"
	sentry_policy "$d" '"actions": {"free": "freeze"}'
	start_sentry --window 4
	ctr "$d" "$c" sh -c "$SPIN"
	wait_event 30 action "$c"
	ev=$(events action "$c")
	jq -e '.action == "freeze" and .result == "ok" and .tier == "free"' <<< "$ev" > /dev/null ||
		fail "the action event: $ev"
	[ "$(events "" "$c" | jq -r .event | paste -sd,)" = flag,action ] || fail "events: $(events "" "$c")"
	cg=$(st "$c" .cgroup)
	[ "$cg" = "/sys/fs/cgroup/cpu$(cg_of "$c")" ] || fail "status cgroup: $cg"
	cg=${cg#/sys/fs/cgroup/cpu}
	[ "$(freezer_state "$cg")" = FROZEN ] || fail "freezer.state: $(freezer_state "$cg")"
	# its CPU time stands still, over two samples
	u1=$(cpu_usage "$cg")
	more_samples 2
	u2=$(cpu_usage "$cg")
	[ "$u1" = "$u2" ] || fail "cpuacct.usage grew while frozen: $u1 -> $u2"
	wait_for 5 eval "[ \"\$(st $c .action)\" = true ]" || fail "status: $(st "$c" .)"
	# no second flag or action on a frozen container
	[ "$(events "" "$c" | wc -l)" = 2 ] || fail "events: $(events "" "$c")"
	stop_sentry
	# the sentry leaves it frozen when it goes (teardown thaws)
	[ "$(freezer_state "$cg")" = FROZEN ] || fail "freezer.state after the sentry: $(freezer_state "$cg")"
}

@test "runc: \"actions\": {\"free\": \"freeze\"}: the flagged container is frozen" {
	freeze_action runc
}

@test "runsc: \"actions\": {\"free\": \"freeze\"}: the flagged sandbox is frozen" {
	freeze_action runsc
}

kill_action() {
	local d=$1 c="$ID-spin" idle="$ID-idle" ev cg pid
	require_delegate "$d"
	sentry_policy "$d" '"actions": {"free": "kill"}'
	start_sentry --window 4
	ctr "$d" "$c" sh -c "$SPIN"
	ctr "$d" "$idle" sleep 1000
	pid=$(state_pid "$d" "$c")
	[ -n "$pid" ] || fail "no pid for $c"
	wait_event 30 action "$c"
	ev=$(events action "$c")
	jq -e '.action == "kill" and .result == "ok"' <<< "$ev" > /dev/null || fail "the action event: $ev"
	cg=$(cg_of "$c")
	wait_for 10 eval "[ -z \"\$(cat /sys/fs/cgroup/cpu$cg/cgroup.procs 2>/dev/null)\" ]" ||
		fail "processes left in $cg: $(cat "/sys/fs/cgroup/cpu$cg/cgroup.procs")"
	wait_for 5 eval "! alive $pid" || fail "$pid (the container's process) is alive"
	wait_for 10 eval "[ \"\$(rwd $d state $c 2>/dev/null | jq -r .status)\" = stopped ]" ||
		fail "state of $c: $(rwd "$d" state "$c" 2>&1)"
	# the idle one beside it is untouched
	[ -n "$(cat "/sys/fs/cgroup/cpu$(cg_of "$idle")/cgroup.procs")" ] || fail "$idle lost its processes"
	[ "$(rwd "$d" state "$idle" | jq -r .status)" = running ] || fail "$idle is not running"
	[ -z "$(events "" "$idle")" ] || fail "events for $idle: $(events "" "$idle")"
	stop_sentry
}

@test "runc: \"actions\": {\"free\": \"kill\"}: the flagged container's processes are gone, its neighbour runs" {
	kill_action runc
}

@test "runsc: \"actions\": {\"free\": \"kill\"}: the flagged sandbox's processes are gone, its neighbour runs" {
	kill_action runsc
}

# --- 4. metrics ---

@test "runc: /metrics: HELP and TYPE of each metric, the flagged container's series; 404, 400, and it keeps serving" {
	local c="$ID-spin" m line
	require_delegate runc
	sentry_policy runc
	start_sentry --window 4
	ctr runc "$c" sh -c "$SPIN"
	wait_event 30 flag "$c"
	wait_for 5 eval 'get /metrics | grep -q "^runwarden_sentry_flagged{id=\"$c\",tier=\"free\"} 1$"' ||
		fail "metrics: $(get /metrics)"
	run -0 get /metrics
	for m in containers:gauge cpu_seconds_total:counter cpu_cores:gauge cpu_limit_cores:gauge \
		throttled_ratio:gauge syscalls_total:counter voluntary_switches_total:counter score:gauge \
		flagged:gauge flags_total:counter; do
		grep -q "^# HELP runwarden_sentry_${m%:*} ." <<< "$output" || fail "no HELP for ${m%:*}: $output"
		grep -qx "# TYPE runwarden_sentry_${m%:*} ${m#*:}" <<< "$output" || fail "no TYPE ${m}: $output"
	done
	for line in "runwarden_sentry_containers 1" "runwarden_sentry_flags_total 1" \
		"runwarden_sentry_flagged{id=\"$c\",tier=\"free\"} 1" \
		"runwarden_sentry_cpu_limit_cores{id=\"$c\",tier=\"free\"} 0.2500" \
		"runwarden_sentry_syscalls_total{id=\"$c\",tier=\"free\"} 0"; do
		grep -qxF "$line" <<< "$output" || fail "no line \"$line\": $output"
	done
	awk -v v="$(metric "$output" runwarden_sentry_cpu_seconds_total "$c")" 'BEGIN { exit !(v > 0.2) }' ||
		fail "cpu_seconds_total: $output"
	awk -v v="$(metric "$output" runwarden_sentry_score "$c")" 'BEGIN { exit !(v >= 0.75) }' ||
		fail "score: $output"
	# every other line is a sample of ours with a number
	! grep -v '^#' <<< "$output" | grep -vE '^runwarden_sentry_[a-z_]+(\{id="[^"]*",tier="[^"]*"\})? [0-9.]+$' ||
		fail "lines that are not samples: $output"
	# /metrics as a HEAD: headers only; / is /metrics
	run -0 curl -sf --max-time 5 -I "http://127.0.0.1:$SPORT/metrics"
	grep -q '^HTTP/1.0 200' <<< "$output" || fail "HEAD: $output"
	run -0 get /
	grep -q '^runwarden_sentry_containers 1$' <<< "$output" || fail "GET /: $output"
	# an unknown path: 404
	run -0 curl -s --max-time 5 -o "$T/nope.body" -w '%{http_code}' "http://127.0.0.1:$SPORT/nope"
	[ "$output" = 404 ] || fail "GET /nope: $output"
	# garbage: 400, and the next request is served
	exec 5<> "/dev/tcp/127.0.0.1/$SPORT"
	printf 'garbage\r\n\r\n' >&5
	read -r -t 5 line <&5 || true
	exec 5<&-
	[ "${line%$'\r'}" = "HTTP/1.0 400 Bad Request" ] || fail "garbage got: $line"
	# a client that connects and sends nothing does not hold the daemon up
	exec 5<> "/dev/tcp/127.0.0.1/$SPORT"
	run -0 get /metrics
	grep -q "^runwarden_sentry_flagged{id=\"$c\",tier=\"free\"} 1$" <<< "$output" || fail "after garbage: $output"
	exec 5<&-
	alive "$SPID" || fail "the sentry died: $(cat "$T/sentry.err")"
	stop_sentry
}

# --- 5. textfile, --top, --once ---

@test "runc: --textfile is written; --top prints the daemon's table; --once --json without a daemon" {
	local c="$ID-spin" before
	require_delegate runc
	sentry_policy runc
	start_sentry --window 4 --textfile "$T/sentry.prom"
	ctr runc "$c" sh -c "$SPIN"
	wait_event 30 flag "$c"
	wait_for 5 grep -qxF "runwarden_sentry_flagged{id=\"$c\",tier=\"free\"} 1" "$T/sentry.prom" ||
		fail "textfile: $(cat "$T/sentry.prom" 2>&1)"
	grep -qx '# TYPE runwarden_sentry_flagged gauge' "$T/sentry.prom" || fail "textfile: $(cat "$T/sentry.prom")"
	# no temporary files beside it
	[ -z "$(find "$T" -maxdepth 1 -name '*sentry.prom?*')" ] || fail "left: $(find "$T" -maxdepth 1 -name '*sentry.prom?*')"

	# --top: the daemon's table (ids shown as 12 characters)
	run -0 "$SENTRY" --policy "$RUNWARDEN_POLICY" --top --status "$T/status.json"
	[ "${lines[0]}" = "$(printf '%-13s %-8s %-8s %6s %6s %9s %10s %10s %5s %-7s %s' ID TIER DELEGATE CPU LIMIT THROTTLED SYSCALLS/S SWITCHES/S SCORE FLAGGED IMAGE)" ] ||
		fail "header: ${lines[0]}"
	[ "${#lines[@]}" = 2 ] || fail "--top: $output"
	read -ra f <<< "${lines[1]}"
	[ "${f[0]} ${f[1]} ${f[2]} ${f[4]} ${f[9]}" = "${c:0:12} free runc 0.25 yes" ] || fail "--top row: ${lines[1]}"
	run -0 "$SENTRY" --policy "$RUNWARDEN_POLICY" --top --json --status "$T/status.json"
	jq -e --arg id "$c" 'length == 1 and .[0].id == $id and .[0].flagged == true' <<< "$output" > /dev/null ||
		fail "--top --json: $output"
	# and through runwarden top
	run -0 "$RUNWARDEN" top --json --status "$T/status.json"
	jq -e --arg id "$c" '.[0].id == $id and .[0].flagged == true' <<< "$output" > /dev/null ||
		fail "runwarden top --json: $output"

	stop_sentry
	# --once, no daemon: `window` samples, then the table; no events, no status
	before=$(stat -c %y "$T/status.json")
	cp "$T/events" "$T/events.before"
	run -0 timeout 60 "$SENTRY" --policy "$RUNWARDEN_POLICY" --root "$R" --interval 500 --window 4 \
		--status "$T/status.json" --events "$T/events" --once --json < "$T/stdin" 3>&-
	jq -e --arg id "$c" 'type == "array" and length == 1 and .[0].id == $id and .[0].watched == true and
		.[0].flagged == true and .[0].tier == "free" and .[0].delegate == "runc" and .[0].limit == 0.25' \
		<<< "$output" > /dev/null || fail "--once --json: $output"
	[ "$(stat -c %y "$T/status.json")" = "$before" ] || fail "--once wrote the status file"
	cmp -s "$T/events" "$T/events.before" || fail "--once wrote events: $(cat "$T/events")"
	# --top with no daemon runs --once
	run -0 timeout 60 "$SENTRY" --policy "$RUNWARDEN_POLICY" --root "$R" --interval 500 --window 2 \
		--top --status "$T/status.json" < "$T/stdin" 3>&-
	[ "${#lines[@]}" = 2 ] && [[ ${lines[1]} == "${c:0:12} "* ]] || fail "--top without a daemon: $output"
}

# --- 6. map entries come and go with the containers; a restart starts afresh ---

@test "runc: the watched map holds exactly the live containers' cgroups; a restarted sentry finds them again" {
	local a="$ID-spin" b="$ID-idle" c="$ID-new" map keys want
	require_delegate runc
	sentry_policy runc
	ctr runc "$a" sh -c "$SPIN"
	ctr runc "$b" sleep 1000
	start_sentry --window 4
	wait_watched 15 "$a" "$b"
	wait_event 30 flag "$a"
	map=$(watched_map_id) || fail "no map named watched among the sentry's: $(sentry_map_ids)"
	# the keys are the cpu cgroups' ids (their inode numbers)
	want=$(for x in "$a" "$b"; do stat -c %i "/sys/fs/cgroup/cpu$(cg_of "$x")"; done | sort -n)
	keys=$(map_keys "$map")
	[ "$keys" = "$want" ] || fail "map $map keys: $keys, want: $want"

	# restart: the old programs and map go with the process; the new one
	# finds both containers again, from nothing (no flag yet: it needs 3
	# samples, and it was found at its first)
	stop_sentry
	wait_for 5 eval "! bpftool map show id $map" || fail "map $map outlived its sentry: $(bpftool map show id "$map")"
	start_sentry --window 4
	wait_watched 15 "$a" "$b"
	[ "$(st "$a" '[.flagged, .flags] | @tsv')" = "$(printf 'false\t0')" ] || fail "state kept: $(st "$a" .)"
	run -0 get /metrics
	grep -qx 'runwarden_sentry_containers 2' <<< "$output" || fail "metrics after the restart: $output"
	map=$(watched_map_id) || fail "no watched map"

	# containers come and go
	ctr runc "$c" sleep 1000
	wait_watched 15 "$c"
	[ "$(map_keys "$map" | wc -l)" = 3 ] || fail "map: $(map_keys "$map")"
	rwd runc delete --force "$a" > "$T/delete.out" 2>&1 || fail "delete $a: $(cat "$T/delete.out")"
	wait_for 10 eval "[ \"\$(map_keys $map | wc -l)\" = 2 ]" || fail "map after deleting $a: $(map_keys "$map")"
	rwd runc delete --force "$b" > "$T/delete.out" 2>&1 || fail "delete $b: $(cat "$T/delete.out")"
	rwd runc delete --force "$c" > "$T/delete.out" 2>&1 || fail "delete $c: $(cat "$T/delete.out")"
	wait_for 10 eval 'get /metrics | grep -qx "runwarden_sentry_containers 0"' || fail "metrics: $(get /metrics)"
	[ -z "$(map_keys "$map")" ] || fail "map $map not empty: $(bpftool map dump id "$map")"
	wait_for 5 eval "jq -e '.containers == []' \"$T/status.json\"" || fail "status: $(cat "$T/status.json")"
	run -0 get /metrics
	! grep -q '{id=' <<< "$output" || fail "series left: $output"
	stop_sentry
}

# --- 7. exec of a blocklisted name ---

@test "runc: exec of a blocklisted name (xmrig) in the container raises the exec signal; it clears after the window" {
	local c="$ID-exec" ev
	require_delegate runc
	# the bonus alone reaches flag_score
	sentry_policy runc '"flag_score": 0.3, "exec_bonus": 0.5'
	start_sentry --window 4
	# no "xmrig" in the command or the rootfs at create (the blocklist would
	# refuse it): the name is made inside, at SIGUSR1 (one line: tiers-lib's
	# bundle splits arguments at newlines)
	ctr runc "$c" sh -c 'trap "go=1" USR1; go=0; echo ready; while [ $go = 0 ]; do sleep 0.1; done; n=xm; cp /bin/busybox /tmp/${n}rig; /tmp/${n}rig true; echo execd $?; exec sleep 1000'
	wait_watched 15 "$c"
	# (USR1 before the trap is set would be dropped: pid 1 ignores it)
	wait_for 10 grep -qx ready "$T/ctr-$c.out" || fail "no trap set: $(cat "$T/ctr-$c.out" "$T/ctr-$c.err")"
	rwd runc kill "$c" USR1 > "$T/kill.out" 2>&1 || fail "kill USR1: $(cat "$T/kill.out")"
	wait_for 10 grep -q '^execd' "$T/ctr-$c.out" || fail "the container did not exec: $(cat "$T/ctr-$c.out" "$T/ctr-$c.err")"
	wait_event 10 flag "$c"
	ev=$(events flag "$c")
	jq -e '.signals.exec == "xmrig" and .score >= 0.5 and .signals.hot == 0 and .tier == "free"' \
		<<< "$ev" > /dev/null || fail "the flag event: $ev"
	# the bonus lasts a window; then the score falls to 0 and the flag clears
	wait_event 10 clear "$c"
	stop_sentry
}

# --- 8. bad input ---

@test "sentry: a broken sentry section, an unknown flag, --interval 5: exit 1 with a message" {
	local p="$T/bad.json"
	printf '{\n  "sentry": {\n    "window": 1\n  }\n}\n' > "$p"
	run -1 "$SENTRY" --policy "$p" --root "$R" --events "$T/events" --status "$T/status.json" --metrics off
	assert_output --partial "$p:3:15: \"window\" must be an integer from 2 to 600"
	printf '{"sentry": {"actions": {"gold": "freeze"}}}\n' > "$p"
	run -1 "$SENTRY" --policy "$p" --root "$R" --metrics off
	assert_output --partial "$p:1:25: tier \"gold\" is not defined (sentry.actions)"
	run -1 "$SENTRY" --bogus
	assert_output --partial "usage: runwarden-sentry"
	run -1 "$SENTRY" --interval 5
	assert_output --partial '--interval'
	run -1 "$SENTRY" --window 1
	assert_output --partial '--window'
	run -1 "$SENTRY" extra-argument
	assert_output --partial "usage: runwarden-sentry"
	[ ! -e "$T/status.json" ] || fail "a status was written"
	[ ! -s "$T/events" ] || fail "events were written"
}

@test "runc: damaged and foreign records beside a real one: the real spinner is flagged, the others reported" {
	local c="$ID-spin"
	require_delegate runc
	sentry_policy runc
	mkdir -p "$R"
	printf 'garbage{{' > "$R/.runwarden-x.json"
	printf '{"delegate": "runc"}' > "$R/.runwarden-nodelegate.json"
	printf '{"delegate": "runc", "path": "/usr/sbin/runc"}' > "$R/.runwarden-ghost.json"
	: > "$R/.runwarden-.json"
	start_sentry --window 4
	ctr runc "$c" sh -c "$SPIN"
	wait_event 30 flag "$c"
	for x in x nodelegate ghost; do
		[ "$(st "$x" .watched)" = false ] && [ -n "$(st "$x" '.error // empty')" ] ||
			fail "status of record $x: $(st "$x" .)"
	done
	[ -z "$(events "" x)$(events "" ghost)$(events "" nodelegate)" ] || fail "events: $(cat "$T/events")"
	alive "$SPID" || fail "the sentry died: $(cat "$T/sentry.err")"
	stop_sentry
	rm -f "$R/.runwarden-x.json" "$R/.runwarden-nodelegate.json" "$R/.runwarden-ghost.json" "$R/.runwarden-.json"
}

# --- 9. pool-port attempts ---

@test "runc: attempts on a pool port (3333) dropped by the egress table raise pool_packets and the bonus" {
	local c="$ID-pool" ev
	require_delegate runc
	command -v nft > /dev/null || skip "nft is not installed"
	command -v socat > /dev/null || skip "socat is not installed"
	topo_setup
	# the bonus alone reaches flag_score
	sentry_policy runc '"flag_score": 0.3, "pool_bonus": 0.5'
	# the container first (its egress table, and the record of where, exist
	# at create), then the sentry, which reads the counters when it finds it
	# and every 5 s: the count it reads then has risen
	CTR_BUNDLE=ebundle ctr runc "$c" sh -c 'while :; do echo x | nc -w 1 198.51.100.10 3333; sleep 0.5; done'
	[ -f "$R/.runwarden-$c.egress" ] || fail "no egress record for $c"
	start_sentry --window 4
	wait_for 20 has_event flag "$c" ||
		fail "no flag for $c: status $(cat "$T/status.json"), egress record $(cat "$R/.runwarden-$c.egress"), table: $("$RUNWARDEN" --root "$R" egress show "$c" --json 2>&1), sentry: $(cat "$T/sentry.err")"
	ev=$(events flag "$c")
	jq -e '.signals.pool_packets > 0 and .score >= 0.5 and .signals.hot == 0' <<< "$ev" > /dev/null ||
		fail "the flag event: $ev"
	# the same count as the egress table's
	run -0 "$RUNWARDEN" --root "$R" egress show "$c" --json
	jq -e --arg id "$c" --argjson n "$(jq .signals.pool_packets <<< "$ev")" \
		'[.[] | select(.id == $id) | .counters[] | select(.rule == "mining") | .packets] | add >= $n' \
		<<< "$output" > /dev/null || fail "egress show: $output, event: $ev"
	! grep -q '^3333 ' "$T/heard" || fail "the listener on the pool port heard: $(cat "$T/heard")"
	stop_sentry
}
