#!/usr/bin/env bats
# Egress rules through a private containerd + dockerd with runwarden as the
# default runtime and a bridge network of the suite's own (helpers/docker.bash,
# RW_DOCKER_BRIDGE): runwarden's prestart hook puts a netdev table rw_<id> on
# the host-side end of the container's veth (netfilter/LIFECYCLE.md); delete
# removes it. Checked: the table and its device for a running container, gone
# after `docker rm -f`; 50 parallel `docker run -d` make exactly 50 tables on 50
# veths, and none are left after removing them; `--network none` gets none;
# `--network container:X` keeps X's table and adds the joiner's on the same
# device; a drop is counted (`runwarden egress show`) and an allowed port is
# not; a restarted container has one table on its new veth; and the host is
# left as found.
#
# Nothing leaves the machine: the bridge has an address of a private test
# subnet, IPv4 forwarding off and no IPv6, and the daemon does no NAT,
# forwarding or iptables. The only destination a container is sent to is the
# bridge address; the metadata address is never contacted here (its route is
# checked, the packet is left to the netns suite).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/docker'

# Ports of the host-side listeners on the bridge address: the blocked one
# (smtp) and one no default rule names.
SMTP_PORT=25
OPEN_PORT=18081

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	[ -n "$RW_SKIP_REASON" ] || command -v nft > /dev/null || RW_SKIP_REASON="nft not installed"
	[ -n "$RW_SKIP_REASON" ] || command -v python3 > /dev/null || RW_SKIP_REASON="python3 not installed"
	[ -n "$RW_SKIP_REASON" ] || command -v nsenter > /dev/null || RW_SKIP_REASON="nsenter not installed"
	[ -n "$RW_SKIP_REASON" ] || command -v ip > /dev/null || RW_SKIP_REASON="ip not installed"
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	# What the suite must leave as it found it.
	RW_FWD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
	export RW_FWD_BEFORE
	RW_DOCKER_BRIDGE=yes docker_start
	docker_import_busybox
	# Every container id the suite made, for the final leak check.
	: > "$RW_T/ids"
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	stop_listener
	docker_stop
}

setup() {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
	[ -d "${RW_T:-}" ] || skip "the daemons are gone"
	[ "$(stat -c '%U:%G %a %F' /dev/null)" = "root:root 666 character special file" ] ||
		fail "/dev/null is $(stat -c '%U:%G %a %F' /dev/null) before the test"
}

teardown() {
	docker_test_teardown
}

# docker run -d ARG...: print the full id and remember it.
run_d() {
	local id
	id=$(dk run -d "$@") || return 1
	echo "$id" >> "$RW_T/ids"
	echo "$id"
}

sleeper() { run_d "$@" "$RW_IMAGE" sleep 600; }

# Does table rw_ID exist in the host's netns?
has_table() { nft list table netdev "rw_$1" > /dev/null 2>&1; }
no_table() { ! has_table "$1"; }

exited() { [ "$(dk inspect -f '{{.State.Status}}' "$1")" = exited ]; }

# The device of table rw_ID's ingress chain ("" if none).
table_device() {
	nft list table netdev "rw_$1" 2> /dev/null |
		sed -n 's/.*hook ingress device "\([^"]*\)".*/\1/p'
}

# How many of the ids in FILE have a table.
count_tables() { # FILE
	nft list tables netdev | sed -n 's/^table netdev rw_//p' | grep -cxF -f "$1" || true
}

# The host-side veth of a container, by its pid's netns (no docker exec).
host_veth_ns() { # ID
	local pid idx
	pid=$(dk inspect -f '{{.State.Pid}}' "$1") || return 1
	idx=$(nsenter -t "$pid" -n ip -o link show eth0 | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
	[ -n "$idx" ] || return 1
	ip -o link | grep "^$idx:" | awk -F': ' '{print $2}' | sed 's/@.*//'
}

# runwarden's record dir under dockerd's exec-root, and a container's egress file.
egress_file() { echo "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$1.egress"; }

# packets of RULE in `runwarden egress show ID --json`.
show_packets() { # ID RULE
	"$RUNWARDEN" egress show "$1" --json |
		jq -e --arg id "$1" --arg r "$2" \
			'[.[] | select(.id == $id) | .counters[] | select(.rule == $r) | .packets] | if length == 1 then .[0] else error("rule \($r) of \($id): \(length) entries") end'
}

# The listener on the bridge address (host side): accepts on each port given,
# logs "PORT" per connection to $RW_T/listener.log. Binds the bridge address
# only; a port it cannot bind is logged as "nobind PORT".
start_listener() { # PORT...
	stop_listener
	: > "$RW_T/listener.log"
	python3 - "$RW_BRIDGE_ADDR" "$RW_T/listener.log" "$@" > /dev/null 2>&1 3>&- <<-'EOF' &
	import os, select, socket, sys
	addr, log = sys.argv[1], sys.argv[2]
	socks = {}
	def note(s):
	    with open(log, "a") as f:
	        f.write(s + "\n")
	for p in sys.argv[3:]:
	    s = socket.socket()
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    try:
	        s.bind((addr, int(p)))
	        s.listen(16)
	        socks[s] = p
	    except OSError as e:
	        note("nobind %s %s" % (p, e))
	note("ready")
	while True:
	    r, _, _ = select.select(list(socks), [], [], 600)
	    if not r:
	        break
	    for s in r:
	        c, _ = s.accept()
	        note(socks[s])
	        c.close()
	EOF
	echo $! > "$RW_T/listener.pid"
	wait_for 10 grep -qx ready "$RW_T/listener.log"
}

stop_listener() {
	local pid
	[ -f "${RW_T:-/nonexistent}/listener.pid" ] || return 0
	pid=$(cat "$RW_T/listener.pid")
	rm -f "$RW_T/listener.pid"
	_rw_is "$pid" python3 && kill "$pid" 2> /dev/null
	return 0
}

@test "a running container has table rw_<id> on its host-side veth; docker rm -f removes it" {
	local id veth
	id=$(sleeper)
	veth=$(docker_host_veth "$id")
	[ -n "$veth" ] || fail "no host-side veth for $id"
	# The host-side end is a port of the suite's bridge.
	run ip -o link show "$veth"
	assert_output --partial "master $RW_BRIDGE "

	has_table "$id" || fail "no table netdev rw_$id"
	assert_equal "$(table_device "$id")" "$veth"
	run nft list table netdev "rw_$id"
	assert_output --partial "type filter hook ingress device \"$veth\""
	# The hooks: runwarden-egress's prestart hook after Docker's own (which
	# wires the veth), and a poststop one that removes the table.
	local cfg
	cfg=$(bundle_dir "$id")/config.json
	run jq -r '.hooks.prestart | map(.args[0]) | join(" ")' "$cfg"
	assert_output "libnetwork-setkey runwarden-egress"
	# (its --log is containerd's log.json, so its refusal reaches docker run;
	# the rules travel in --rules)
	run jq -r '.hooks.prestart[-1] | .path + " " + (.args[1:] | join(" "))' "$cfg"
	assert_output --regexp "^${RUNWARDEN%/*}/runwarden-egress --root $RW_EXEC_ROOT/runtime-runc/moby --log [^ ]*/$id/log.json --log-format json egress-hook --rules \\[.*\\] $id\$"
	run jq -r '.hooks.prestart[-1].args | .[index("--rules") + 1] | fromjson | map(.name) | join(" ")' "$cfg"
	assert_output "metadata smtp mining irc tor"
	run jq -r '.hooks.poststop[-1] | .path + " " + (.args[1:] | join(" "))' "$cfg"
	assert_output --regexp "^${RUNWARDEN%/*}/runwarden-egress --root $RW_EXEC_ROOT/runtime-runc/moby --log [^ ]*/$id/log.json --log-format json egress-hook --remove $id\$"
	# runwarden's record of where the table is.
	run jq -r '.netns + " " + .device' "$(egress_file "$id")"
	assert_success
	assert_output "self $veth"
	# egress show lists it with its device.
	run "$RUNWARDEN" egress show "$id" --json
	assert_success
	run jq -r --arg id "$id" '.[] | select(.id == $id) | .device' <<< "$output"
	assert_output "$veth"
	# The default rules (LIFECYCLE.md: a tier gets every rule of egress.rules).
	run "$RUNWARDEN" egress show "$id" --json
	run jq -r --arg id "$id" '.[] | select(.id == $id) | [.counters[].rule] | join(" ")' <<< "$output"
	assert_output "metadata smtp mining irc tor"

	run dk rm -f "$id"
	assert_success
	run nft list table netdev "rw_$id"
	assert_failure
	[ ! -e "$(egress_file "$id")" ] || fail "$(egress_file "$id") is left"
	ip link show "$veth" > /dev/null 2>&1 && fail "veth $veth is left"
	return 0
}

@test "50 parallel docker run -d: exactly 50 tables on 50 distinct veths; 0 after removing them" {
	local n=50 dir="$RW_T/par" i t0 t1 ids bad=""
	mkdir -p "$dir"
	t0=$(date +%s%N)
	local pids=()
	for i in $(seq 1 "$n"); do
		dk run -d "$RW_IMAGE" sleep 600 > "$dir/$i.id" 2> "$dir/$i.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || bad="$bad $i"; done
	t1=$(date +%s%N)
	cat "$dir"/*.id >> "$RW_T/ids"
	printf '# 50 parallel docker run -d took %d.%03d s\n' \
		$(((t1 - t0) / 1000000000)) $(((t1 - t0) / 1000000 % 1000)) >&3
	[ -z "$bad" ] || fail "docker run failed:$bad: $(grep -hv '^WARNING: IPv4 forwarding' "$dir"/*.err)"
	cat "$dir"/*.id > "$dir/ids"
	assert_equal "$(sort -u "$dir/ids" | grep -c .)" "$n"

	assert_equal "$(count_tables "$dir/ids")" "$n"
	# Each on its own container's veth, all distinct.
	local id dev veth
	: > "$dir/devs"
	while read -r id; do
		dev=$(table_device "$id")
		veth=$(host_veth_ns "$id")
		[ -n "$dev" ] && [ "$dev" = "$veth" ] ||
			bad="$bad; $id: table on \"$dev\", veth \"$veth\""
		echo "$dev" >> "$dir/devs"
	done < "$dir/ids"
	[ -z "$bad" ] || fail "${bad#; }"
	assert_equal "$(sort -u "$dir/devs" | grep -c .)" "$n"

	# Remove them all, in parallel.
	t0=$(date +%s%N)
	pids=()
	while read -r id; do
		dk rm -f "$id" > /dev/null 2>> "$dir/rm.err" &
		pids+=($!)
	done < "$dir/ids"
	for i in "${pids[@]}"; do wait "$i" || bad="$bad $i"; done
	t1=$(date +%s%N)
	printf '# removing them in parallel took %d.%03d s\n' \
		$(((t1 - t0) / 1000000000)) $(((t1 - t0) / 1000000 % 1000)) >&3
	[ -z "$bad" ] || fail "docker rm -f failed:$bad: $(cat "$dir/rm.err")"
	assert_equal "$(count_tables "$dir/ids")" 0
	assert_equal "$(ip -o link show master "$RW_BRIDGE" | grep -c .)" 0
	while read -r id; do
		[ ! -e "$(egress_file "$id")" ] || bad="$bad $id"
	done < "$dir/ids"
	[ -z "$bad" ] || fail "egress files left:$bad"
}

@test "--network none: the container runs, no table, no error" {
	local id out
	out=$(dk run -d --network none "$RW_IMAGE" sleep 600 2> "$RW_T/none.err") ||
		fail "docker run --network none failed: $(cat "$RW_T/none.err")"
	id=$out
	echo "$id" >> "$RW_T/ids"
	assert_equal "$(cat "$RW_T/none.err")" ""
	assert_equal "$(dk inspect -f '{{.State.Running}}' "$id")" true
	run nft list table netdev "rw_$id"
	assert_failure
	[ ! -e "$(egress_file "$id")" ] || fail "$(egress_file "$id") exists"
	# A foreground run too, with its output and nothing else.
	run dk run --rm --network none "$RW_IMAGE" echo ok
	assert_success
	assert_output ok
	run dk rm -f "$id"
	assert_success
}

@test "--network container:X: X keeps its table, the joiner gets its own on the same veth" {
	local x y veth
	x=$(sleeper)
	veth=$(docker_host_veth "$x")
	[ -n "$veth" ] || fail "no host-side veth for $x"
	has_table "$x" || fail "no table for X"
	y=$(sleeper --network "container:$x")
	assert_equal "$(dk inspect -f '{{.State.Running}}' "$y")" true
	# Same netns, same veth.
	assert_equal "$(dk exec "$y" cat /sys/class/net/eth0/iflink)" \
		"$(dk exec "$x" cat /sys/class/net/eth0/iflink)"
	assert_equal "$(table_device "$x")" "$veth"
	# LIFECYCLE.md: "container:X ...: the same (own table on the same device)".
	has_table "$y" || fail "no table rw_$y for the joiner"
	assert_equal "$(table_device "$y")" "$veth"
	run jq -r '.netns + " " + .device' "$(egress_file "$y")"
	assert_output "self $veth"

	# Removing the joiner leaves X's table.
	run dk rm -f "$y"
	assert_success
	has_table "$y" && fail "rw_$y is left after docker rm -f"
	assert_equal "$(table_device "$x")" "$veth"
	run dk rm -f "$x"
	assert_success
	has_table "$x" && fail "rw_$x is left after docker rm -f"
	return 0
}

@test "a dropped smtp connection is counted; an allowed port is not" {
	local id before after
	start_listener "$SMTP_PORT" "$OPEN_PORT"
	grep -q "^nobind $OPEN_PORT" "$RW_T/listener.log" &&
		fail "cannot listen on $RW_BRIDGE_ADDR:$OPEN_PORT: $(cat "$RW_T/listener.log")"
	id=$(sleeper)
	has_table "$id" || fail "no table netdev rw_$id"

	# The metadata address would leave through the bridge, nothing else: the
	# drop at the veth's ingress comes before the host could route it. (Not
	# sent here: see the top of the file.)
	run dk exec "$id" ip route
	assert_success
	assert_equal "$(grep -c . <<< "$output")" 2
	assert_line --regexp "^default via $RW_BRIDGE_ADDR dev eth0 *\$"
	assert_line --regexp "^${RW_BRIDGE_SUBNET//./\\.} dev eth0 .*"
	run dk exec "$id" ip route get 169.254.169.254
	assert_success
	assert_output --regexp "^169\.254\.169\.254 via ${RW_BRIDGE_ADDR//./\\.} dev eth0 "

	run show_packets "$id" smtp
	assert_success
	assert_output 0

	# Blocked: the SYN dies at the veth, so even with a listener there the
	# connection fails (a timeout, not a refusal) and the listener sees nothing.
	run dk exec "$id" nc -w 1 "$RW_BRIDGE_ADDR" "$SMTP_PORT" < /dev/null
	assert_failure
	refute_output --partial refused
	run grep -cx "$SMTP_PORT" "$RW_T/listener.log"
	assert_output 0
	before=$(show_packets "$id" smtp) || fail "egress show: $before"
	[ "$before" -gt 0 ] || fail "smtp packets $before after a blocked connection"
	run "$RUNWARDEN" egress show "$id"
	assert_success
	# ID NETNS DEVICE RULE PACKETS BYTES (the host's namespace is "self")
	assert_line --regexp "^${id}[[:space:]]+self[[:space:]]+[^[:space:]]+[[:space:]]+smtp[[:space:]]+${before}[[:space:]]+[0-9]+\$"

	# Allowed: the connection reaches the host's listener, no counter moves.
	run dk exec "$id" nc -w 2 "$RW_BRIDGE_ADDR" "$OPEN_PORT" < /dev/null
	assert_success
	wait_for 5 grep -qx "$OPEN_PORT" "$RW_T/listener.log" ||
		fail "the listener saw no connection on $OPEN_PORT"
	after=$(show_packets "$id" smtp)
	assert_equal "$after" "$before"
	local r
	for r in metadata mining irc tor; do
		assert_equal "$(show_packets "$id" "$r")" 0
	done
	stop_listener
}

@test "docker stop, start and restart: one table, on the current veth" {
	local id veth
	id=$(sleeper)
	has_table "$id" || fail "no table netdev rw_$id"

	run dk stop -t 1 "$id"
	assert_success
	# The delete that follows a stop removes the table.
	run nft list table netdev "rw_$id"
	assert_failure

	run dk start "$id"
	assert_success
	veth=$(docker_host_veth "$id")
	[ -n "$veth" ] || fail "no host-side veth after start"
	assert_equal "$(table_device "$id")" "$veth"

	run dk restart -t 1 "$id"
	assert_success
	veth=$(docker_host_veth "$id")
	[ -n "$veth" ] || fail "no host-side veth after restart"
	assert_equal "$(nft list tables netdev | grep -cx "table netdev rw_$id")" 1
	assert_equal "$(table_device "$id")" "$veth"
	assert_equal "$(nft list table netdev "rw_$id" | grep -c 'hook ingress')" 1
	run jq -r .device "$(egress_file "$id")"
	assert_output "$veth"

	run dk rm -f "$id"
	assert_success
	run nft list table netdev "rw_$id"
	assert_failure
}

@test "a container on two networks at start: one chain hooked on both veths" {
	local id veths v
	docker_new_bridge
	dk network create -d bridge --subnet "${RW_NEW_BRIDGE_ADDR%.1}.0/24" --gateway "$RW_NEW_BRIDGE_ADDR" \
		-o com.docker.network.bridge.name="$RW_NEW_BRIDGE" \
		-o com.docker.network.bridge.enable_ip_masquerade=false rwnet2 > /dev/null
	# compose's way: create on one network, connect the other, then start
	id=$(dk create "$RW_IMAGE" sleep 600)
	run dk network connect rwnet2 "$id"
	assert_success
	run dk start "$id"
	assert_success
	veths=$(for i in $(dk exec "$id" sh -c 'cat /sys/class/net/eth*/iflink'); do
		ip -o link | grep "^$i:" | awk -F': ' '{print $2}' | sed 's/@.*//'; done)
	[ "$(echo "$veths" | grep -c .)" = 2 ] || fail "expected 2 host-side veths, got: $veths"
	run nft list table netdev "rw_$id"
	assert_success
	for v in $veths; do
		assert_line --partial "$v"
	done
	assert_line --regexp 'hook ingress devices = \{ [^}]*, [^}]* \}'
	dk rm -f "$id" > /dev/null
	dk network rm rwnet2 > /dev/null
	run nft list table netdev "rw_$id"
	assert_failure
}

@test "a tier's egress list: [] gets no hook and no table, [\"smtp\"] gets only smtp" {
	set_policy "$(printf '{"delegate":"runc","audit_log":"%s","tiers":{
		"free": {"memory":"256m","cpus":0.25,"tmpfs":"512m","pids":256,"egress":[]},
		"pro": {"memory":"1g","cpus":1.0,"tmpfs":"2g","pids":256,"egress":["smtp"]}}}' "$RW_AUDIT")"
	local id
	id=$(sleeper)
	has_table "$id" && fail "a free container (egress []) has rw_$id"
	run jq -r '[.hooks.prestart[]?, .hooks.poststop[]? | .args[0]] | join(" ")' \
		"$(bundle_dir "$id")/config.json"
	refute_output --partial runwarden-egress
	[ ! -e "$(egress_file "$id")" ] || fail "$(egress_file "$id") exists"

	id=$(sleeper --label org.runwarden.tier=pro)
	has_table "$id" || fail "no table for a pro container"
	run "$RUNWARDEN" egress show "$id" --json
	assert_success
	run jq -r --arg id "$id" '.[] | select(.id == $id) | [.counters[].rule] | join(" ")' <<< "$output"
	assert_output smtp
}

@test "a container that exits by itself, and a docker run --rm, leave no table" {
	local id
	id=$(run_d "$RW_IMAGE" sleep 1)
	wait_for 20 exited "$id" || fail "$id still runs"
	# Docker deletes the exited task (runc delete: the poststop hook).
	wait_for 10 no_table "$id" || fail "rw_$id is left after the container exited"
	[ ! -e "$(egress_file "$id")" ] || fail "$(egress_file "$id") is left"

	run dk run --rm --cidfile "$RW_T/rm.cid" "$RW_IMAGE" \
		sh -c 'cat /sys/class/net/eth0/iflink'
	assert_success
	id=$(cat "$RW_T/rm.cid")
	echo "$id" >> "$RW_T/ids"
	rm -f "$RW_T/rm.cid"
	has_table "$id" && fail "rw_$id is left after docker run --rm"
	return 0
}

# Last: stop everything here, so that what is left is a failure of this test.
@test "the suite leaves no table, veth, bridge, cgroup or daemon, and /dev/null as it was" {
	local bridge=$RW_BRIDGE ids=$RW_T/ids left
	cp "$ids" "$BATS_FILE_TMPDIR/ids"
	stop_listener
	run dk ps -aq
	# shellcheck disable=SC2086
	[ -z "$output" ] || dk rm -f $output > /dev/null
	# No veth on the bridge once docker removed the containers.
	assert_equal "$(ip -o link show master "$bridge" | grep -c .)" 0

	run docker_stop
	assert_success
	ip link show "$bridge" > /dev/null 2>&1 && fail "bridge $bridge is left"
	left=$(count_tables "$BATS_FILE_TMPDIR/ids")
	assert_equal "$left" 0
	assert_equal "$(cat /proc/sys/net/ipv4/ip_forward)" "$RW_FWD_BEFORE"
	assert_equal "$(stat -c '%U:%G %a %F' /dev/null)" "root:root 666 character special file"
}
