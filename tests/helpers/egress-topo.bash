# Plumbing for tests/egress-runtime.bats: a network topology made only of
# namespaces the test creates, and busybox containers (runc, crun, runsc)
# placed in it the way CNI and Kubernetes do it, through a netns path in
# config.json. Load after helpers/common and helpers/tiers-lib.
#
#   container netns $CNS (rwt-c-SFX): eth0 10.231.N.2/24 fd00:231::2/64,
#       default routes via the router end (IPv4 and IPv6)
#   router netns $RNS (rwt-r-SFX): rwr0 10.231.N.1/24 fd00:231::1/64, the
#       veth peer of eth0: the "host side" runwarden's hook finds and hooks;
#       on its lo the test hosts 169.254.169.254/32, fd00:ec2::254/128 and
#       198.51.100.10/24 (this kernel has no dummy links); socat listeners (under
#       tests/helpers/reaper) on TCP 80 25 3333 6667 9001 443 (IPv4 and
#       IPv6, any local address) and UDP 3333 and 5000.
#
# The router netns has no other link and no default route, and forwarding
# stays off in it (the test hosts are its own addresses, so nothing needs
# forwarding): a packet for any other address dies there. Nothing is added
# to the host's root netns, no nft rule either.
#
# Every listener writes "PORT TOKEN" (the first line the client sent) to
# $T/heard, and UDP payloads to $T/udp-PORT: a connection counts as made only
# when the listener heard it.

EGRESS_TCP_PORTS="80 25 3333 6667 9001 443"
EGRESS_UDP_PORTS="3333 5000"
# shellcheck disable=SC2034 # used by the suite
EGRESS_TOOL="${RUNWARDEN_BUILDDIR:-.}/tests/helpers/egress-tool"

# runsc here joins the container's netns (the spec's path) and, with
# --network=host, uses that netns's own stack (hostinet), so its packets
# leave through eth0 like runc's and crun's (common.bash's rwd and direct
# give runsc --network=none otherwise).
RW_RUNSC_NETWORK=host

# copy_bin ROOTFS PROGRAM: PROGRAM and the libraries ldd lists, at the same
# paths in ROOTFS.
copy_bin() {
	local root=$1 prog=$2 lib
	mkdir -p "$root$(dirname "$prog")"
	cp -L "$prog" "$root$prog"
	for lib in $(ldd "$prog" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		[ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
	done
}

# egress_setup_file: the prototype bundle (tiers-lib) with socat, nft and the
# probe script in its rootfs.
egress_setup_file() {
	tiers_setup_file
	[ -f "$PROTO/config.json" ] || return 0
	command -v socat >/dev/null && command -v nft >/dev/null || return 0
	copy_bin "$PROTO/rootfs" "$(command -v socat)"
	copy_bin "$PROTO/rootfs" "$(command -v nft)"
	cat > "$PROTO/rootfs/egress-probe.sh" <<-'SH'
	#!/bin/sh
	# egress-probe.sh TAG [SECONDS]: tries each destination, one line each,
	# "result NAME OK|FAIL" (TCP: the listener's "ok" came back) or "result
	# NAME SENT" (UDP: only the listener can tell); then waits SECONDS.
	tag=$1
	tcp() {
		out=$(echo "$tag $1" | timeout 4 socat -T2 - "TCP:$2:$3,connect-timeout=1" 2>/dev/null)
		if [ "$out" = ok ]; then echo "result $1 OK"; else echo "result $1 FAIL"; fi
	}
	udp() {
		echo "$tag $1" | socat -u - "UDP:$2:$3" 2>/dev/null
		echo "result $1 SENT"
	}
	if [ -n "${FLUSH:-}" ]; then
		nft add table inet mine 2>&1
		nft flush ruleset 2>&1
		echo "flush $?"
		echo "tables $(nft list tables 2>&1 | tr '\n' ' ')"
	fi
	# One at a time: under runsc the sandbox's host tasks count against the
	# tier's pids limit (tests/tiers.bats), and a dozen parallel probes
	# exhaust it.
	tcp metadata4 169.254.169.254 80
	tcp metadata4-443 169.254.169.254 443
	tcp metadata6 '[fd00:ec2::254]' 80
	tcp smtp 198.51.100.10 25
	tcp mining 198.51.100.10 3333
	tcp mining6 '[fd00:231::1]' 3333
	tcp irc 198.51.100.10 6667
	tcp tor 198.51.100.10 9001
	tcp https 198.51.100.10 443
	tcp http 198.51.100.10 80
	tcp https6 '[fd00:231::1]' 443
	udp mining-udp 198.51.100.10 3333
	udp udp5000 198.51.100.10 5000
	echo probe-done
	[ -z "${2:-}" ] || exec sleep "$2"
	SH
}

# The probe's destinations: NAME and what the default rules make of it.
EGRESS_BLOCKED="metadata4 metadata4-443 metadata6 smtp mining mining6 irc tor"
EGRESS_OPEN="https http https6"

egress_require() {
	command -v socat >/dev/null || skip "socat is not installed"
	command -v nft >/dev/null || skip "nft is not installed"
	[ -x "$PROTO/rootfs/usr/bin/socat" ] || fail "no socat in the prototype bundle (setup_file)"
}

# topo_setup: the namespaces, links and listeners above, for this test.
topo_setup() {
	local sfx n p args=()
	sfx=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	n=$((0x${sfx:0:2}))
	RNS="rwt-r-$sfx"
	CNS="rwt-c-$sfx"
	RDEV=rwr0
	SUBNET4="10.231.$n"
	: > "$T/netns"     # netns this test made, for teardown
	: > "$T/listeners" # reaper PIDs
	: > "$T/heard"
	chmod 666 "$T/heard"
	topo_netns "$RNS"
	topo_netns "$CNS"
	ip -n "$RNS" link add "$RDEV" type veth peer name eth0 netns "$CNS"
	ip -n "$RNS" addr add "$SUBNET4.1/24" dev "$RDEV"
	ip -n "$RNS" addr add fd00:231::1/64 dev "$RDEV" nodad
	ip -n "$RNS" link set "$RDEV" up
	ip -n "$RNS" addr add 169.254.169.254/32 dev lo
	ip -n "$RNS" addr add fd00:ec2::254/128 dev lo
	ip -n "$RNS" addr add 198.51.100.10/24 dev lo
	ip netns exec "$RNS" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
	ip -n "$CNS" addr add "$SUBNET4.2/24" dev eth0
	ip -n "$CNS" addr add fd00:231::2/64 dev eth0 nodad
	ip -n "$CNS" link set eth0 up
	ip -n "$CNS" route add default via "$SUBNET4.1"
	ip -n "$CNS" -6 route add default via fd00:231::1
	cat > "$T/listen.sh" <<-'SH'
	#!/bin/sh
	# listen.sh HEARD PORT: one accepted connection (socat EXEC).
	IFS= read -r line
	echo "$2 $line" >> "$1"
	echo ok
	SH
	chmod +x "$T/listen.sh"
	for p in $EGRESS_TCP_PORTS; do
		args+=(socat "TCP6-LISTEN:$p,ipv6only=0,reuseaddr,fork" "EXEC:$T/listen.sh $T/heard $p" ';')
	done
	for p in $EGRESS_UDP_PORTS; do
		: > "$T/udp-$p"
		args+=(socat -u "UDP6-RECV:$p,ipv6only=0" "OPEN:$T/udp-$p,creat,append" ';')
	done
	ip netns exec "$RNS" "$RUNWARDEN_SRCDIR/tests/helpers/reaper" "${args[@]}" \
		< /dev/null > /dev/null 2>&1 3>&- &
	echo $! >> "$T/listeners"
	wait_for 5 topo_listening || fail "listeners in $RNS: $(ip netns exec "$RNS" ss -Hlntu)"
}

# topo_netns NAME: a netns with lo up, remembered for teardown.
topo_netns() {
	echo "$1" >> "$T/netns"
	ip netns add "$1"
	ip -n "$1" link set lo up
}

topo_listening() {
	local p
	for p in $EGRESS_TCP_PORTS; do
		ip netns exec "$RNS" ss -Hltn "sport = :$p" | grep -q . || return 1
	done
	for p in $EGRESS_UDP_PORTS; do
		ip netns exec "$RNS" ss -Hlun "sport = :$p" | grep -q . || return 1
	done
}

# topo_teardown: listeners by PID, then our netns (their veths and dummies
# go with them); checks that none is left and that the root netns has no
# table of this test's containers.
topo_teardown() {
	[ -n "${T:-}" ] || return 0
	local pid ns bad=""
	if [ -f "$T/listeners" ]; then
		while read -r pid; do
			if [ -n "$pid" ]; then
				kill "$pid" 2>/dev/null || true
			fi
		done < "$T/listeners"
		while read -r pid; do
			[ -n "$pid" ] && wait_for 10 eval "! alive $pid" || bad="$bad pid:$pid"
		done < "$T/listeners"
	fi
	if [ -f "$T/netns" ]; then
		while read -r ns; do
			[ -n "$ns" ] || continue
			ip netns del "$ns" 2>/dev/null || true
			[ ! -e "/run/netns/$ns" ] || bad="$bad netns:$ns"
		done < "$T/netns"
	fi
	if [ -n "${ID:-}" ] && nft list tables netdev 2>/dev/null | grep -q " rw_$ID"; then
		bad="$bad root-netns-table:$(nft list tables netdev | grep " rw_$ID" | tr '\n' ' ')"
	fi
	[ -z "$bad" ] || fail "teardown: left behind:$bad"
}

# ebundle DIR ARG...: a copy of the prototype bundle running ARG..., in
# netns NETNS (default $CNS) by path, with the probe's TAG in its env.
ebundle() {
	local dir=$1
	shift
	bundle "$dir" "$@"
	jq --arg ns "/run/netns/${NETNS:-$CNS}" '
		.linux.namespaces |= map(if .type == "network" then {type: "network", path: $ns} else . end) |
		.process.env += ["FLUSH=\(env.FLUSH // "")"]' "$dir/config.json" > "$T/cfg.tmp" &&
		mv "$T/cfg.tmp" "$dir/config.json"
}

# rw_tables NETNS: the names of the rw_* netdev tables in NETNS.
rw_tables() {
	ip netns exec "$1" nft list tables netdev | awk '$3 ~ /^rw_/ { print $3 }'
}

# table_device NETNS ID: the device(s) the chains of table rw_ID hook (from
# the text: nft 1.0.6's JSON leaves a netdev chain's device out).
table_device() {
	ip netns exec "$1" nft list table netdev "rw_$2" |
		sed -n 's/.*hook ingress device "\([^"]*\)".*/\1/p' | sort -u | paste -sd,
}

# result NAME: what the probe printed for NAME (OK, FAIL, SENT).
result() {
	awk -v n="$1" '$1 == "result" && $2 == n { print $3 }' "$T/out"
}

# heard PORT NAME: the listener on PORT received the token "$ID NAME".
heard() {
	grep -qxF "$1 $ID $2" "$T/heard"
}

# assert_probe_blocked: every blocked destination failed and no listener
# heard it; the open ones connected and their listener heard them; the UDP
# datagram to 3333 never arrived while the one to 5000 did.
assert_probe_blocked() {
	local name bad=""
	grep -qx probe-done "$T/out" || fail "the probe did not finish: $(cat "$T/out")"
	for name in $EGRESS_BLOCKED; do
		[ "$(result "$name")" = FAIL ] || bad="$bad $name:$(result "$name")"
		! grep -qF " $ID $name" "$T/heard" || bad="$bad $name:heard"
	done
	heard 443 https || bad="$bad https:not-heard"
	heard 80 http || bad="$bad http:not-heard"
	heard 443 https6 || bad="$bad https6:not-heard"
	for name in $EGRESS_OPEN; do
		[ "$(result "$name")" = OK ] || bad="$bad $name:$(result "$name")"
	done
	wait_for 3 grep -qxF "$ID udp5000" "$T/udp-5000" || bad="$bad udp5000:not-received"
	[ ! -s "$T/udp-3333" ] || bad="$bad mining-udp:received($(cat "$T/udp-3333"))"
	[ -z "$bad" ] || fail "egress not as the default rules say:$bad
probe: $(tr '\n' ' ' < "$T/out")
heard: $(tr '\n' ' ' < "$T/heard")"
}

# assert_probe_open: every destination connected (no rules).
assert_probe_open() {
	local name bad=""
	grep -qx probe-done "$T/out" || fail "the probe did not finish: $(cat "$T/out")"
	for name in $EGRESS_BLOCKED $EGRESS_OPEN; do
		[ "$(result "$name")" = OK ] || bad="$bad $name:$(result "$name")"
	done
	for name in metadata4:80 metadata4-443:443 metadata6:80 smtp:25 mining:3333 mining6:3333 \
		irc:6667 tor:9001 https:443 http:80 https6:443; do
		heard "${name#*:}" "${name%%:*}" || bad="$bad ${name%%:*}:not-heard"
	done
	wait_for 3 grep -qxF "$ID udp5000" "$T/udp-5000" || bad="$bad udp5000:not-received"
	grep -qxF "$ID mining-udp" "$T/udp-3333" || bad="$bad mining-udp:not-received"
	[ -z "$bad" ] || fail "not every destination reachable:$bad
probe: $(tr '\n' ' ' < "$T/out")
heard: $(tr '\n' ' ' < "$T/heard")"
}
