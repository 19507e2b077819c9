#!/usr/bin/env bats
# Egress rules (netfilter/egress.c) through tests/helpers/egress-tool, on a
# topology made only of namespaces this file creates:
#
#   container netns C: c0 10.77.0.2/24 fd77::2/64, routes to the hosts below via R
#   router netns R:    r0 10.77.0.1/24 fd77::1/64 (veth peer of c0: the
#                      "host side" the rules hook), and on its lo the test
#                      hosts 169.254.169.254/32, fd00:ec2::254/128,
#                      198.51.100.1/24; socat listeners on TCP 80 25 3333
#                      6667 9001 443 (IPv4 and IPv6) and UDP 3333 and 5000
#                      under tests/helpers/reaper.
#
# Packets go only between C and R. Every netns, veth and listener goes in
# teardown_file, pass or fail (listeners by PID); tables in teardown.

bats_require_minimum_version 1.5.0
load helpers/common

TOOL="${RUNWARDEN_BUILDDIR:-.}/tests/helpers/egress-tool"
TCP_PORTS="80 25 3333 6667 9001 443"

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	command -v socat >/dev/null && command -v nft >/dev/null || return 0
	local sfx
	sfx=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	export C="rwe-c-$sfx" R="rwe-r-$sfx" E="rwe-e-$sfx" ID="egr$sfx"
	export PIDS="$BATS_FILE_TMPDIR/pids" UDPDIR="$BATS_FILE_TMPDIR/udp"
	mkdir -p "$UDPDIR"
	: > "$PIDS"
	ip netns add "$C"
	ip netns add "$R"
	ip netns add "$E"
	ip -n "$R" link add r0 type veth peer name c0 netns "$C"
	ip -n "$R" link set lo up
	ip -n "$C" link set lo up
	ip -n "$E" link set lo up
	ip -n "$R" addr add 10.77.0.1/24 dev r0
	ip -n "$R" addr add fd77::1/64 dev r0 nodad
	ip -n "$R" addr add 169.254.169.254/32 dev lo
	ip -n "$R" addr add fd00:ec2::254/128 dev lo
	ip -n "$R" addr add 198.51.100.1/24 dev lo
	ip -n "$R" link set r0 up
	ip -n "$C" addr add 10.77.0.2/24 dev c0
	ip -n "$C" addr add fd77::2/64 dev c0 nodad
	ip -n "$C" link set c0 up
	ip -n "$C" route add 169.254.169.254/32 via 10.77.0.1
	ip -n "$C" route add 198.51.100.0/24 via 10.77.0.1
	ip -n "$C" -6 route add fd00:ec2::254/128 via fd77::1
	local p args=()
	for p in $TCP_PORTS; do
		args+=(socat "TCP6-LISTEN:$p,ipv6only=0,reuseaddr,fork" SYSTEM:'echo ok' ';')
	done
	for p in 3333 5000; do
		args+=(socat -u "UDP6-RECV:$p,ipv6only=0" "OPEN:$UDPDIR/$p,creat,append" ';')
	done
	# One subreaper holds every listener and their per-connection children.
	ip netns exec "$R" "$RUNWARDEN_SRCDIR/tests/helpers/reaper" "${args[@]}" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >> "$PIDS"
	# Listening before the first test.
	local n=50
	until ip netns exec "$R" ss -Hltn 'sport = :443' | grep -q . || [ $n = 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
}

teardown_file() {
	local pid
	if [ -n "${PIDS:-}" ] && [ -f "$PIDS" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done < "$PIDS"
		while read -r pid; do
			wait "$pid" 2>/dev/null || true
		done < "$PIDS"
	fi
	# The reaper kills and reaps its listeners and their children. Deleting
	# R takes r0 and with it its peer c0.
	for ns in "${C:-}" "${R:-}" "${E:-}"; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
	done
}

setup() {
	require_root
	command -v socat >/dev/null || skip "socat is not installed"
	command -v nft >/dev/null || skip "nft is not installed"
	[ -x "$TOOL" ] || skip "no $TOOL (run make)"
	T=$(scratch)
}

teardown() {
	[ -n "${R:-}" ] && "$TOOL" remove -n "/run/netns/$R" "$ID" 2>/dev/null || true
}

# tcp_ok HOST PORT: C connects to HOST:PORT and reads the listener's "ok".
tcp_ok() {
	local out
	out=$(ip netns exec "$C" timeout 5 socat -T2 - "TCP:$1:$2,connect-timeout=1" </dev/null 2>/dev/null) || return 1
	[ "$out" = ok ]
}

# tcp_blocked HOST PORT: the connect fails (the SYN is dropped: a timeout).
tcp_blocked() {
	! tcp_ok "$@"
}

tables_in_r() {
	ip netns exec "$R" nft list tables netdev | grep -c "rw_" || true
}

rw_install() {
	"$TOOL" install -n "/run/netns/$R" "$@" r0 "$ID"
}

@test "egress: the topology connects without rules (control)" {
	for p in $TCP_PORTS; do
		tcp_ok 198.51.100.1 "$p"
	done
	tcp_ok 169.254.169.254 80
	tcp_ok '[fd00:ec2::254]' 80
	tcp_ok '[fd77::1]' 3333
}

@test "egress: metadata, SMTP, mining, IRC and Tor are blocked; 443 and 80 still connect" {
	rw_install
	tcp_blocked 169.254.169.254 80
	tcp_blocked 169.254.169.254 443
	tcp_blocked '[fd00:ec2::254]' 80
	tcp_blocked 198.51.100.1 25
	tcp_blocked 198.51.100.1 3333
	tcp_blocked 198.51.100.1 6667
	tcp_blocked 198.51.100.1 9001
	tcp_blocked 198.51.100.77 9001
	tcp_blocked '[fd77::1]' 3333
	tcp_ok 198.51.100.1 443
	tcp_ok 198.51.100.1 80
	tcp_ok '[fd77::1]' 443
}

@test "egress: UDP to a blocked port is dropped, to another port it arrives" {
	rw_install
	: > "$UDPDIR/3333"
	: > "$UDPDIR/5000"
	echo blocked | ip netns exec "$C" socat -u - UDP:198.51.100.1:3333
	echo blocked6 | ip netns exec "$C" socat -u - 'UDP6:[fd77::1]:3333'
	echo passed | ip netns exec "$C" socat -u - UDP:198.51.100.1:5000
	wait_for 3 grep -q passed "$UDPDIR/5000"
	sleep 0.3
	[ ! -s "$UDPDIR/3333" ]
	run "$TOOL" list -n "/run/netns/$R" --json "$ID"
	assert_success
	[ "$(jq '.[0].rules[] | select(.name == "mining") | .packets' <<< "$output")" -ge 2 ]
}

@test "egress: nft flush ruleset inside the container's netns changes nothing" {
	rw_install
	ip netns exec "$C" nft add table inet mine
	ip netns exec "$C" nft flush ruleset
	tcp_blocked 198.51.100.1 3333
	tcp_blocked 169.254.169.254 80
	tcp_ok 198.51.100.1 443
	[ "$(tables_in_r)" = 1 ]
}

@test "egress: counters grow for the rule that dropped, and only for it" {
	rw_install
	tcp_blocked 198.51.100.1 6667
	tcp_ok 198.51.100.1 443
	run "$TOOL" list -n "/run/netns/$R" --json "$ID"
	assert_success
	jq -e . <<< "$output" >/dev/null
	[ "$(jq -r '.[0].device' <<< "$output")" = r0 ]
	[ "$(jq '.[0].rules[] | select(.name == "irc") | .packets' <<< "$output")" -ge 1 ]
	[ "$(jq '.[0].rules[] | select(.name == "irc") | .bytes' <<< "$output")" -ge 60 ]
	[ "$(jq '[.[0].rules[] | select(.name != "irc") | .packets] | add' <<< "$output")" = 0 ]
	run "$TOOL" list -n "/run/netns/$R" "$ID"
	assert_success
	assert_output --regexp "irc +packets=[1-9]"
}

@test "egress: an operator allow punches through the metadata block" {
	rw_install --rule "meta-http accept 4 tcp 169.254.169.254 80"
	tcp_ok 169.254.169.254 80
	tcp_blocked 169.254.169.254 443
	run "$TOOL" list -n "/run/netns/$R" --json "$ID"
	[ "$(jq '.[0].rules[] | select(.name == "meta-http") | .packets' <<< "$output")" -ge 1 ]
}

@test "egress: install twice leaves one table; remove leaves none; remove twice is fine" {
	rw_install
	rw_install
	[ "$(tables_in_r)" = 1 ]
	[ "$(ip netns exec "$R" nft list chain netdev "rw_$ID" egress | grep -c 'comment "mining"')" = 1 ]
	tcp_blocked 198.51.100.1 3333
	run "$TOOL" remove -n "/run/netns/$R" "$ID"
	assert_success
	[ "$(tables_in_r)" = 0 ]
	run "$TOOL" remove -n "/run/netns/$R" "$ID"
	assert_success
	tcp_ok 198.51.100.1 3333
}

@test "egress: a bad device name fails with the kernel's extended ACK; a missing device fails" {
	run "$TOOL" install -n "/run/netns/$R" averyverylongdevicename0 "$ID"
	assert_failure
	assert_output --partial "egress: container $ID: device 'averyverylongdevicename0' (kernel: Attribute failed policy validation)"
	run "$TOOL" install -n "/run/netns/$R" nosuchdev0 "$ID"
	assert_failure
	assert_output --partial "device 'nosuchdev0': No such device"
	[ "$(tables_in_r)" = 0 ]
}

@test "egress: the host-side peer of the container's veth is found; network none has none" {
	run "$TOOL" peers -n "/run/netns/$C"
	assert_success
	assert_output "c0 r0 $(ip -n "$R" -o link show r0 | cut -d: -f1) net:[$(stat -L -c %i "/run/netns/$R")]"
	run "$TOOL" peers -n "/run/netns/$E"
	assert_success
	assert_output ""
}

@test "egress: tables are per container: another container's table leaves this one alone" {
	rw_install
	"$TOOL" install -n "/run/netns/$R" r0 "${ID}other"
	[ "$(tables_in_r)" = 2 ]
	"$TOOL" remove -n "/run/netns/$R" "${ID}other"
	[ "$(tables_in_r)" = 1 ]
	run "$TOOL" list -n "/run/netns/$R"
	assert_success
	assert_output --partial "$ID device=r0"
	refute_output --partial "${ID}other"
}

@test "egress: remove-many deletes several tables in one transaction, skipping missing ones" {
	rw_install
	"$TOOL" install -n "/run/netns/$R" r0 "${ID}b"
	run "$TOOL" remove-batch -n "/run/netns/$R" "${ID}gone" "$ID" "${ID}b" "${ID}gone2"
	assert_success
	[ "$(tables_in_r)" = 0 ]
	run "$TOOL" remove-batch -n "/run/netns/$R" "bad/id"
	assert_failure
	assert_output --partial "invalid container id 'bad/id'"
}
