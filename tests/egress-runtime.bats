#!/usr/bin/env bats
# Egress rules through the runtime (netfilter/LIFECYCLE.md): real containers
# under runc, crun and runsc, created through runwarden with a tenant tier and
# the default egress rules, in a topology of network namespaces this file
# makes (helpers/egress-topo.bash): the container's netns is given by path
# (as CNI does), its veth's other end lies in a router netns that holds the
# test hosts and their listeners. runwarden's prestart hook finds that end
# and installs table rw_<id> there; from inside the container every blocked
# destination fails and the others reach their listener; the counters show
# the drops; delete and gc remove the table; a hook that cannot install
# fails the container.
#
# runsc runs with --network=host: the sandbox joins the netns of the spec's
# path and uses its stack, so its packets cross the same veth. All three run
# prestart hooks at create: the table is there before start.
#
# Teardown removes containers (through the delegate), listeners by PID and
# the namespaces (with them every veth and table), pass or fail, and checks
# /dev/null and the root netns (no table of ours there).

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/tiers-lib
load helpers/egress-topo

setup_file() {
	egress_setup_file
}

setup() {
	tiers_setup
	egress_require
	ID="eg$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	topo_setup
}

teardown() {
	local rc=0
	tiers_teardown || rc=1
	topo_teardown || rc=1
	return $rc
}

# egress_policy DELEGATE [JSON-MEMBERS]: the default tiers and egress rules,
# DELEGATE for every tier, the audit log here; more top-level members after.
egress_policy() {
	use_policy "{\"delegate\": \"$1\", \"audit_log\": \"$T/audit.log\"${2:+, $2}}"
	"$RUNWARDEN" policy check "$RUNWARDEN_POLICY" > "$T/check.out" 2>&1 ||
		fail "policy check: $(cat "$T/check.out")"
}

# run_probe DELEGATE ID [SECONDS]: create and start the probe container, wait
# for its report (it then exits, or sleeps SECONDS).
run_probe() {
	local d=$1 id=$2
	rm -rf "$B"
	ebundle "$B" sh /egress-probe.sh "$id" ${3:+"$3"}
	start_reader
	create "$d" "$id"
	rwd "$d" start "$id" > "$T/start.out" 2>&1 || fail "start $id: $(cat "$T/start.out")"
	wait_for 60 grep -qx probe-done "$T/out" || fail "no report from $id: $(cat "$T/out")"
}

# The hook runwarden adds: one prestart hook, last (after the engine's own,
# which wire the link), an absolute path, "egress-hook", "--root" R and the
# id in its args (LIFECYCLE.md names runwarden itself and that argument
# order; the glue execs runwarden-egress beside it: either passes), and the
# change line.
assert_hook() {
	jq -e --arg root "$R" --arg id "$1" '
		(.hooks.prestart | map(select(.args | index("egress-hook"))) | length == 1) and
		(.hooks.prestart[-1] | (.path | startswith("/")) and (.args | index($id) != null) and
			(.args | index("--root") as $i | $i != null and .[$i + 1] == $root))' \
		"$B/config.json" > /dev/null ||
		fail "config.json's prestart hooks: $(jq -c '.hooks.prestart' "$B/config.json")"
	[ -x "$(jq -r '.hooks.prestart[-1].path' "$B/config.json")" ] || fail "the hook's program is not executable"
	jq -e '.annotations["org.runwarden.changes"] | contains("egress-hook added")' \
		"$B/config.json" > /dev/null ||
		fail "changes: $(jq -c '.annotations["org.runwarden.changes"]' "$B/config.json")"
}

# assert_table ID: one table rw_ID in the router netns, on the router end; the
# record of where it is.
assert_table() {
	local id=$1
	[ "$(rw_tables "$RNS" | grep -cx "rw_$id")" = 1 ] || fail "tables in $RNS: $(rw_tables "$RNS")"
	[ "$(table_device "$RNS" "$id")" = "$RDEV" ] ||
		fail "rw_$id hooks \"$(table_device "$RNS" "$id")\", not $RDEV: $(ip netns exec "$RNS" nft list table netdev "rw_$id")"
	[ -z "$(rw_tables "$CNS")" ] || fail "tables in the container's netns: $(rw_tables "$CNS")"
	jq -e --arg ns "/run/netns/$RNS" --arg dev "$RDEV" '.netns == $ns and .device == $dev' \
		"$R/.runwarden-$id.egress" > /dev/null ||
		fail "$R/.runwarden-$id.egress: $(cat "$R/.runwarden-$id.egress" 2>&1)"
}

# assert_no_table ID: no table rw_ID anywhere we made, no .egress file.
assert_no_table() {
	local id=$1 ns
	for ns in $(cat "$T/netns"); do
		! rw_tables "$ns" | grep -qx "rw_$id" || fail "rw_$id is still in $ns"
	done
	[ ! -e "$R/.runwarden-$id.egress" ] || fail "$R/.runwarden-$id.egress is left"
}

# gc_here ARG...: runwarden ARG... (gc) with our router netns the only one it
# can see.
# gc walks every netns in /run/netns: on a host where other suites run at
# the same time (tests/egress.bats makes tables with no container), a plain
# gc would remove their tables. So it runs in our router netns (its "own"),
# in a private mount namespace whose /run/netns is an empty tmpfs.
gc_here() {
	ip netns exec "$RNS" unshare -m --propagation private \
		sh -c 'mount -t tmpfs rwt-netns /run/netns && exec "$@"' gc "$RUNWARDEN" "$@"
}

# --- without rules: the topology and the probe work ---

@test "topology: a plain runc container (no runwarden) reaches every test host" {
	require_delegate runc
	ebundle "$B" sh /egress-probe.sh "$ID"
	start_reader
	track runc "$ID" ""
	direct runc run --bundle "$B" "$ID" > "$T/out.fifo" 2> "$T/run.err" ||
		fail "runc run: $(cat "$T/run.err")"
	wait_for 5 grep -qx probe-done "$T/out"
	assert_probe_open
	[ -z "$(rw_tables "$RNS")" ]
}

egress_none_tier() {
	local d=$1
	require_delegate "$d"
	egress_policy "$d" '"tiers": {"open": {"memory": "256m", "cpus": 0.5, "tmpfs": "64m", "pids": 256, "egress": []}},
		"default_tier": "open"'
	run_probe "$d" "$ID"
	jq -e '[.hooks.prestart[]? | select(.args[1]? == "egress-hook")] == []' "$B/config.json" > /dev/null ||
		fail "an egress hook for a tier with no rules: $(jq -c .hooks "$B/config.json")"
	[ -z "$(rw_tables "$RNS")" ] || fail "tables: $(rw_tables "$RNS")"
	assert_probe_open
	assert_no_runwarden_errors
}

@test "runc: a tier with \"egress\": [] gets no hook and reaches every test host" {
	egress_none_tier runc
}

@test "crun: a tier with \"egress\": [] gets no hook and reaches every test host" {
	egress_none_tier crun
}

@test "runsc: a tier with \"egress\": [] gets no hook and reaches every test host" {
	egress_none_tier runsc
}

# --- the default rules ---

# From inside the container: metadata (IPv4 and IPv6, any port), SMTP,
# mining (TCP IPv4 and IPv6, UDP), IRC and Tor fail; 443 and 80 reach their
# listener. Then the counters of `egress show` (text and JSON).
egress_blocked() {
	local d=$1 rule n
	require_delegate "$d"
	egress_policy "$d"
	ebundle "$B" sh /egress-probe.sh "$ID"
	# An engine's own prestart hook (Docker's libnetwork-setkey) comes first.
	cfg_edit '.hooks.prestart = [{path: "/bin/true", args: ["true", "engine-hook"]}]'
	start_reader
	create "$d" "$ID"
	assert_hook "$ID"
	jq -e '.hooks.prestart[0].args == ["true", "engine-hook"]' "$B/config.json" > /dev/null ||
		fail "the engine's hook: $(jq -c .hooks.prestart "$B/config.json")"
	jq -e '.limits.egress | tostring | (contains("metadata") and contains("smtp") and contains("tor"))' \
		"$R/.runwarden-$ID.json" > /dev/null || fail "record: $(jq -c .limits "$R/.runwarden-$ID.json")"
	assert_table "$ID"
	rwd "$d" start "$ID" > "$T/start.out" 2>&1 || fail "start: $(cat "$T/start.out")"
	wait_for 60 grep -qx probe-done "$T/out" || fail "no report: $(cat "$T/out")"
	assert_table "$ID"
	assert_probe_blocked

	run -0 "$RUNWARDEN" egress show "$ID" --json
	jq -e . <<< "$output" > /dev/null || fail "egress show --json: not JSON: $output"
	[ "$(jq --arg id "$ID" '[.[] | select(.id == $id)] | length' <<< "$output")" = 1 ] ||
		fail "egress show --json: $output"
	jq -e --arg id "$ID" --arg ns "/run/netns/$RNS" --arg dev "$RDEV" '
		.[] | select(.id == $id) | .netns == $ns and .device == $dev' <<< "$output" > /dev/null ||
		fail "egress show --json (netns, device): $output"
	# SYN retransmits count too: at least one packet per destination tried.
	for rule in metadata:3 smtp:1 mining:3 irc:1 tor:1; do
		n=$(jq --arg id "$ID" --arg r "${rule%:*}" \
			'[.[] | select(.id == $id) | .counters[] | select(.rule == $r) | .packets] | add // -1' <<< "$output")
		[ "$n" -ge "${rule#*:}" ] || fail "egress show --json: $rule packets $n: $output"
	done
	jq -e --arg id "$ID" '.[] | select(.id == $id) | .counters | all(.bytes >= .packets * 40)' \
		<<< "$output" > /dev/null || fail "egress show --json (bytes): $output"
	# LIFECYCLE.md: "ID DEVICE RULE PACKETS BYTES"; the glue prints the netns
	# after the id as well: either passes.
	run -0 "$RUNWARDEN" egress show "$ID"
	for rule in metadata smtp mining irc tor; do
		grep -qE "^$ID +(/run/netns/$RNS +)?$RDEV +$rule +[1-9][0-9]* +[1-9][0-9]*\$" <<< "$output" ||
			fail "egress show: no \"$ID $RDEV $rule PACKETS BYTES\" line with packets: $output"
	done
	! grep -v "^$ID " <<< "$output" | grep -q . || fail "egress show $ID lists others: $output"
	remove "$d" "$ID"
	assert_no_table "$ID"
	assert_no_runwarden_errors
}

@test "runc: default rules: blocked destinations fail, 443 and 80 reach the listener, counters" {
	egress_blocked runc
}

@test "crun: default rules: blocked destinations fail, 443 and 80 reach the listener, counters" {
	egress_blocked crun
}

@test "runsc: default rules: blocked destinations fail, 443 and 80 reach the listener, counters" {
	egress_blocked runsc
}

# A foreground `runwarden run` (README: it writes no record, since the
# delegate deletes the container after runwarden has gone) gets the same
# rules, and its table goes when the container does.
egress_run_foreground() {
	local d=$1 rc=0
	require_delegate "$d"
	egress_policy "$d"
	ebundle "$B" sh /egress-probe.sh "$ID"
	start_reader
	track "$d" "$ID" ""
	rwd "$d" run --bundle "$B" "$ID" > "$T/out.fifo" 2> "$T/run.err" || rc=$?
	[ "$rc" = 0 ] || fail "run exited $rc: $(cat "$T/run.err")"
	wait_for 5 grep -qx probe-done "$T/out" || fail "no report: $(cat "$T/out")"
	assert_probe_blocked
	wait_for 10 container_gone "$ID" "" || fail "$ID left: $(ls -A "$R")"
	assert_no_table "$ID"
}

@test "runc: a foreground run gets the rules too" {
	egress_run_foreground runc
}

@test "crun: a foreground run gets the rules too" {
	egress_run_foreground crun
}

@test "runsc: a foreground run gets the rules too" {
	egress_run_foreground runsc
}

# A tier with CAP_NET_ADMIN: the container flushes its netns's ruleset
# itself (nft and its libraries are in the rootfs) and is still blocked:
# the table is in the router's netns, which it cannot reach. gVisor has no
# nftables netlink, so under runsc the container's own flush fails; the test
# then flushes the container's netns from outside (ip netns exec) as well,
# for every delegate, and probes again from there.
egress_flush() {
	local d=$1
	require_delegate "$d"
	egress_policy "$d" '"tiers": {"netadmin": {"memory": "256m", "cpus": 0.5, "tmpfs": "64m", "pids": 256,
		"capabilities": ["CAP_NET_ADMIN"]}}, "default_tier": "netadmin"'
	FLUSH=1 ebundle "$B" sh /egress-probe.sh "$ID" 120
	cfg_edit '.process.capabilities |= map_values(. + ["CAP_NET_ADMIN"] | unique)'
	start_reader
	create "$d" "$ID"
	jq -e '.process.capabilities.effective | index("CAP_NET_ADMIN")' "$B/config.json" > /dev/null ||
		fail "the tier dropped CAP_NET_ADMIN: $(jq -c .process.capabilities "$B/config.json")"
	rwd "$d" start "$ID" > "$T/start.out" 2>&1 || fail "start: $(cat "$T/start.out")"
	wait_for 60 grep -qx probe-done "$T/out" || fail "no report: $(cat "$T/out")"
	if [ "$d" != runsc ]; then
		grep -qx "flush 0" "$T/out" || fail "nft flush ruleset in the container failed: $(cat "$T/out")"
	fi
	! grep '^tables' "$T/out" | grep -q rw_ || fail "the container sees our table: $(grep '^tables' "$T/out")"
	assert_probe_blocked
	ip netns exec "$CNS" nft flush ruleset
	run ip netns exec "$CNS" timeout 4 socat -T2 - "TCP:198.51.100.10:3333,connect-timeout=1" <<< "$ID again"
	assert_failure
	run ip netns exec "$CNS" timeout 4 socat -T2 - "TCP:169.254.169.254:80,connect-timeout=1" <<< "$ID again"
	assert_failure
	run -0 ip netns exec "$CNS" timeout 4 socat -T2 - "TCP:198.51.100.10:443,connect-timeout=1" <<< "$ID again"
	assert_output ok
	heard 443 again
	! grep -qE "^(3333|80) $ID again" "$T/heard" || fail "heard: $(cat "$T/heard")"
	assert_table "$ID"
	remove "$d" "$ID"
	assert_no_table "$ID"
}

@test "runc: CAP_NET_ADMIN and nft flush ruleset in the container's netns: still blocked" {
	egress_flush runc
}

@test "crun: CAP_NET_ADMIN and nft flush ruleset in the container's netns: still blocked" {
	egress_flush crun
}

@test "runsc: CAP_NET_ADMIN and nft flush ruleset in the container's netns: still blocked" {
	egress_flush runsc
}

# --- the table's lifecycle ---

# delete --force of a running container removes its table and .egress file;
# deleting again is the delegate's business (no egress error); the same id
# made again gets one table; the hook run again (a repeated start) still
# leaves one; delete of a stopped container removes it.
is_stopped() {
	[ "$(rwd "$1" state "$2" 2>/dev/null | jq -r .status)" = stopped ]
}

egress_lifecycle() {
	local d=$1 rc_direct rc hook_path hook_n hook_args
	require_delegate "$d"
	egress_policy "$d"
	run_probe "$d" "$ID" 300
	assert_table "$ID"
	remove "$d" "$ID"
	assert_no_table "$ID"
	[ -z "$(rw_tables "$RNS")" ] || fail "tables left: $(rw_tables "$RNS")"

	rc=0
	rwd "$d" delete --force "$ID" > "$T/delete2.out" 2>&1 || rc=$?
	rc_direct=0
	direct "$d" delete --force "$ID" > "$T/delete3.out" 2>&1 || rc_direct=$?
	[ "$rc" = "$rc_direct" ] || fail "delete --force again exited $rc, the delegate alone $rc_direct: $(cat "$T/delete2.out")"
	! grep -q egress "$T/delete2.out" || fail "delete again: $(cat "$T/delete2.out")"

	# The same id again.
	: > "$T/heard"
	rm -rf "$B"
	run_probe "$d" "$ID" 300
	assert_table "$ID"
	assert_probe_blocked
	# The hook again, as config.json has it, with the container's state, as a
	# second start would run it.
	rwd "$d" state "$ID" > "$T/state.json" || fail "state"
	jq -r '.hooks.prestart[-1] | .path, (.args | length), .args[]' "$B/config.json" > "$T/hook.argv"
	{
		read -r hook_path
		read -r hook_n
		mapfile -t -n "$hook_n" hook_args
	} < "$T/hook.argv"
	(exec -a "${hook_args[0]}" "$hook_path" "${hook_args[@]:1}") < "$T/state.json" > "$T/hook.out" 2>&1 ||
		fail "the prestart hook again (${hook_args[*]}): $(cat "$T/hook.out")"
	[ "$(rw_tables "$RNS")" = "rw_$ID" ] || fail "tables after a second hook: $(rw_tables "$RNS")"
	assert_table "$ID"

	# Stopped, then a plain delete.
	rwd "$d" kill "$ID" KILL > "$T/kill.out" 2>&1 || fail "kill: $(cat "$T/kill.out")"
	wait_for 20 is_stopped "$d" "$ID" ||
		fail "not stopped: $(rwd "$d" state "$ID" 2>&1)"
	rwd "$d" delete "$ID" > "$T/delete.out" 2>&1 || fail "delete: $(cat "$T/delete.out")"
	assert_no_table "$ID"
	[ -z "$(rw_tables "$RNS")" ] || fail "tables left: $(rw_tables "$RNS")"
	assert_no_runwarden_errors
}

@test "runc: delete --force removes the table; again is fine; re-create and a second hook leave one; delete" {
	egress_lifecycle runc
}

@test "crun: delete --force removes the table; again is fine; re-create and a second hook leave one; delete" {
	egress_lifecycle crun
}

@test "runsc: delete --force removes the table; again is fine; re-create and a second hook leave one; delete" {
	egress_lifecycle runsc
}

# A container created and never started (Docker's path when a start fails):
# its table, installed at create, goes with delete --force.
egress_created_only() {
	local d=$1
	require_delegate "$d"
	egress_policy "$d"
	ebundle "$B" sh /egress-probe.sh "$ID"
	start_reader
	create "$d" "$ID"
	assert_table "$ID"
	remove "$d" "$ID"
	assert_no_table "$ID"
	[ -z "$(rw_tables "$RNS")" ] || fail "tables left: $(rw_tables "$RNS")"
	[ ! -s "$T/out" ] || fail "the container ran: $(cat "$T/out")"
}

@test "runc: created, never started, delete --force: no table left" {
	egress_created_only runc
}

@test "crun: created, never started, delete --force: no table left" {
	egress_created_only crun
}

@test "runsc: created, never started, delete --force: no table left" {
	egress_created_only runsc
}

# gc removes the table of a container that is gone (deleted through the
# delegate with runwarden's record and .egress file already lost, as after a
# crash, so nothing removed its table; and a table egress-tool made for an
# id that never existed) and keeps a live container's.
egress_gc() {
	local d=$1 gone="gone-$ID" fake="fake-$ID"
	require_delegate "$d"
	egress_policy "$d"
	run_probe "$d" "$gone" 300
	assert_table "$gone"
	rm -f "$R/.runwarden-$gone.json" "$R/.runwarden-$gone.egress"
	direct "$d" delete --force "$gone" > "$T/direct.out" 2>&1 || fail "$d delete: $(cat "$T/direct.out")"
	wait_for 20 container_gone "$gone" "" || fail "$gone left: $(ls -A "$R")"
	rm -rf "$B"
	run_probe "$d" "$ID" 300
	if [ -x "$EGRESS_TOOL" ]; then
		"$EGRESS_TOOL" install -n "/run/netns/$RNS" "$RDEV" "$fake" || fail "egress-tool install"
	else
		fake=""
	fi
	[ "$(rw_tables "$RNS" | sort)" = "$(printf '%s\n' "rw_$ID" "rw_$gone" ${fake:+"rw_$fake"} | sort)" ] ||
		fail "tables before gc: $(rw_tables "$RNS")"
	run -0 gc_here gc --root "$R"
	assert_line --partial "$gone"
	[ -z "$fake" ] || assert_line --partial "$fake"
	! grep -v -e "gone-$ID" -e "fake-$ID" <<< "$output" | grep -q "$ID" || fail "gc removed the live one: $output"
	[ "$(rw_tables "$RNS")" = "rw_$ID" ] || fail "tables after gc: $(rw_tables "$RNS")"
	run -0 gc_here gc --root "$R"
	assert_output ""
	remove "$d" "$ID"
	assert_no_table "$ID"
}

@test "runc: gc removes the tables of containers that are gone, keeps a live one's" {
	egress_gc runc
}

@test "crun: gc removes the tables of containers that are gone, keeps a live one's" {
	egress_gc crun
}

@test "runsc: gc removes the tables of containers that are gone, keeps a live one's" {
	egress_gc runsc
}

# A netns with only lo (network none): no table, no error, the container runs.
egress_no_network() {
	local d=$1
	require_delegate "$d"
	egress_policy "$d"
	NETNS="rwt-n-${RNS#rwt-r-}"
	topo_netns "$NETNS"
	ebundle "$B" sh -c 'ip -o link | cut -d: -f2 | tr -d " "; echo ran'
	start_reader
	create "$d" "$ID"
	assert_hook "$ID"
	rwd "$d" start "$ID" > "$T/start.out" 2>&1 || fail "start: $(cat "$T/start.out")"
	[ ! -s "$T/start.out" ] || fail "start printed: $(cat "$T/start.out")"
	wait_for 20 grep -qx ran "$T/out" || fail "no output: $(cat "$T/out")"
	[ "$(head -n 1 "$T/out")" = lo ] && [ "$(wc -l < "$T/out")" = 2 ] || fail "links: $(cat "$T/out")"
	[ -z "$(rw_tables "$RNS")$(rw_tables "$NETNS")$(rw_tables "$CNS")" ] ||
		fail "tables: $(rw_tables "$RNS") $(rw_tables "$NETNS")"
	! nft list tables netdev | grep -q "rw_$ID" || fail "a table in the root netns"
	remove "$d" "$ID"
	assert_no_runwarden_errors
}

@test "runc: a netns with only lo gets no table and no error" {
	egress_no_network runc
}

@test "crun: a netns with only lo gets no table and no error" {
	egress_no_network crun
}

@test "runsc: a netns with only lo gets no table and no error" {
	egress_no_network runsc
}

# --- fail closed ---

@test "policy: a broken egress rule is refused by policy check and by create" {
	require_delegate runc
	use_policy '{"delegate": "runc", "audit_log": "'"$T"'/audit.log",
		"egress": {"rules": {"bad": {"cidrs": ["169.254.169.254/33"]}}}}'
	run -1 "$RUNWARDEN" policy check "$RUNWARDEN_POLICY"
	assert_output --regexp "^$RUNWARDEN_POLICY:[0-9]+:[0-9]+: .*"
	assert_output --partial "169.254.169.254/33"
	ebundle "$B" sh /egress-probe.sh "$ID"
	cp "$B/config.json" "$T/config.before"
	track runc "$ID" ""
	run -1 rwd runc create --bundle "$B" "$ID"
	assert_output --partial "runwarden:"
	assert_output --partial "169.254.169.254/33"
	cmp -s "$T/config.before" "$B/config.json" || fail "config.json changed"
	[ ! -e "$R/$ID" ] && [ ! -e "$R/.runwarden-$ID.json" ] || fail "state made: $(ls -A "$R")"

	# A tier that names a rule the file does not define.
	use_policy '{"delegate": "runc", "audit_log": "'"$T"'/audit.log",
		"tiers": {"t": {"memory": "256m", "cpus": 0.5, "tmpfs": "64m", "pids": 256, "egress": ["nosuch"]}},
		"default_tier": "t"}'
	run -1 "$RUNWARDEN" policy check "$RUNWARDEN_POLICY"
	assert_output --partial "nosuch"
	run -1 rwd runc create --bundle "$B" "$ID"
	assert_output --partial "nosuch"
	[ ! -e "$R/$ID" ] || fail "state made: $(ls -A "$R")"
}

# The hook cannot install: the veth's other end lies in a netns that is
# neither runwarden's own nor bound in /run/netns (held only by a process),
# so the hook cannot reach it. The container must not run: create fails
# with runwarden's message, and leaves no container behind.
egress_hook_fails() {
	local d=$1 holder rc=0
	require_delegate "$d"
	egress_policy "$d"
	NETNS="rwt-n-${RNS#rwt-r-}"
	topo_netns "$NETNS"
	# Not a job of this shell (its kill in teardown would be reported).
	(unshare -n sleep 300 < /dev/null > /dev/null 2>&1 3>&- & echo $! > "$T/holder")
	holder=$(cat "$T/holder")
	echo "$holder" >> "$T/pids"
	wait_for 5 sh -c "[ \"\$(readlink /proc/$holder/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]" ||
		fail "no netns for the holder"
	ip -n "$NETNS" link add eth0 type veth peer name rwu0 netns "$holder"
	ip -n "$NETNS" link set eth0 up
	ebundle "$B" sh -c 'echo ran'
	start_reader
	track "$d" "$ID" ""
	rwd "$d" create --bundle "$B" "$ID" > "$T/out.fifo" 2> "$T/create.err" || rc=$?
	[ "$rc" != 0 ] || fail "create succeeded: $(cat "$T/create.err")"
	grep -q "runwarden: egress" "$T/create.err" "$LOG" ||
		fail "no \"runwarden: egress\" message: $(cat "$T/create.err") log: $(cat "$LOG" 2>/dev/null)"
	rwd "$d" start "$ID" > "$T/start.out" 2>&1 && fail "start succeeded after a failed create"
	sleep 1
	! grep -q ran "$T/out" || fail "the container ran"
	[ -z "$(rw_tables "$RNS")" ] || fail "tables: $(rw_tables "$RNS")"
	[ ! -e "$R/$ID" ] && ! compgen -G "$R/*_sandbox:$ID.*" > /dev/null || fail "delegate state left: $(ls -A "$R")"
	# containerd deletes after a failed create: that removes runwarden's record.
	rwd "$d" delete --force "$ID" > "$T/delete.out" 2>&1 || true
	[ ! -e "$R/.runwarden-$ID.json" ] || fail "runwarden's record left: $(ls -A "$R")"
	! grep -q "runwarden:" "$T/delete.out" || fail "delete: $(cat "$T/delete.out")"
}

@test "runc: a hook that cannot reach the veth's peer fails the container" {
	egress_hook_fails runc
}

@test "crun: a hook that cannot reach the veth's peer fails the container" {
	egress_hook_fails crun
}

@test "runsc: a hook that cannot reach the veth's peer fails the container" {
	egress_hook_fails runsc
}
