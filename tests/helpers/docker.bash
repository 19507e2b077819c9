# shellcheck shell=bash
# Helpers for tests/docker.bats: a private containerd + dockerd pair that
# registers $RUNWARDEN as the default runtime, and a teardown that leaves the
# host as it was found (no daemons, shims, container processes, mounts,
# cgroups, links or files outside the test's temporary directory).
#
# Everything the daemons write lives under one `mktemp -d` directory ($RW_T),
# except what dockerd 20.10 / containerd 1.6 hard-code and this file cleans up:
#   /run/docker/plugins    dockerd's plugin exec root (not derived from --exec-root)
#   /run/containerd/s/*    containerd 1.6's shim sockets (not derived from state)
#                          (both removed only if they did not exist before)
#   /sys/fs/cgroup/*/$RW_CGPARENT  container cgroups (--cgroup-parent), and
#   /sys/fs/cgroup/*/$RW_CGPARENT-*  parents that tests name with --cgroup-parent
#
# Output: nothing on stdout (the file runs under automake's TAP driver);
# diagnostics go to stderr, which bats shows for a failing setup/test.
#
# Opt-in bridge (tests/egress-docker.bats): RW_DOCKER_BRIDGE=yes before
# docker_start gives dockerd's default "bridge" network a bridge this file
# makes and removes itself: rwbr<4 hex>, 10.232.N.1/24 (N random, unused here),
# IPv4 forwarding off on it and IPv6 disabled on it. The daemon keeps
# iptables, ip-masq and ip-forward off, so nothing touches the host's firewall
# or forwarding: a container reaches the bridge address and nothing beyond.
# docker_start exports RW_BRIDGE, RW_BRIDGE_ADDR, RW_BRIDGE_SUBNET;
# docker_new_bridge makes another such bridge (for a second Docker network).
# docker_stop then deletes those bridges and only the veths still attached to
# them (not every new veth*, which would be other suites' in a parallel make
# check).

RW_DOCKER=/usr/bin/docker       # the Debian 20.10 client, not /usr/local/bin/docker
RW_DOCKERD=/usr/sbin/dockerd
RW_CONTAINERD=/usr/bin/containerd
RW_DAEMON_PATH=/usr/sbin:/usr/bin:/sbin:/bin
RW_IMAGE=rwtest/busybox:latest
# The same rootfs, with what a tenant could put in an image (docker_import_busybox).
RW_IMAGE_LABELS=rwtest/busybox-labels:latest    # LABEL org.runwarden.tier=pro, org.example.role=proxy
RW_IMAGE_ENV=rwtest/busybox-env:latest          # ENV RUNWARDEN_TIER=pro, org.runwarden.tier=pro
# The policy every test starts from (RW_AUDIT: see docker_start).
rw_default_policy() {
	printf '{"delegate":"runc","audit_log":"%s"}' "$RW_AUDIT"
}

# Why the docker tests cannot run here, or nothing.
docker_missing_prereq() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return; }
	[ -x "$RW_DOCKERD" ] || { echo "dockerd not installed ($RW_DOCKERD)"; return; }
	[ -x "$RW_DOCKER" ] || { echo "docker client not installed ($RW_DOCKER)"; return; }
	[ -x "$RW_CONTAINERD" ] || { echo "containerd not installed ($RW_CONTAINERD)"; return; }
	command -v containerd-shim-runc-v2 >/dev/null ||
		{ echo "containerd-shim-runc-v2 not installed"; return; }
	[ -x /usr/sbin/runc ] || command -v runc >/dev/null || { echo "runc not installed"; return; }
	command -v busybox >/dev/null || { echo "busybox not installed"; return; }
	command -v jq >/dev/null || { echo "jq not installed"; return; }
	[ -n "${RUNWARDEN:-}" ] || { echo "RUNWARDEN is not set"; return; }
	[ -x "$RUNWARDEN" ] || { echo "RUNWARDEN=$RUNWARDEN is not executable"; return; }
	[ -n "${RUNWARDEN_SRCDIR:-}" ] || { echo "RUNWARDEN_SRCDIR is not set"; return; }
	[ -x "$RUNWARDEN_SRCDIR/tests/helpers/mkbundle" ] ||
		{ echo "$RUNWARDEN_SRCDIR/tests/helpers/mkbundle missing"; return; }
	[ -d /sys/fs/cgroup ] || { echo "no /sys/fs/cgroup"; return; }
}

# docker CLI against the private daemon.
dk() {
	"$RW_DOCKER" -H "unix://$RW_DOCKER_SOCK" "$@"
}

# teardown of a Docker suite's test: the policy back, no container left,
# and the host's /dev/null as it was (runsc chowns its stdio).
docker_test_teardown() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	[ -d "${RW_T:-}" ] || return 0
	restore_policy
	local ids
	ids=$(dk ps -aq)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || dk rm -f $ids > /dev/null
	[ "$(stat -c '%U:%G %a %F' /dev/null)" = "root:root 666 character special file" ] ||
		fail "/dev/null is $(stat -c '%U:%G %a %F' /dev/null) after the test"
}

# Write the policy file atomically (runwarden re-reads it on every call).
set_policy() {
	printf '%s\n' "$1" > "$RW_POLICY.tmp" && mv -f "$RW_POLICY.tmp" "$RW_POLICY"
}

restore_policy() {
	[ -n "${RW_POLICY:-}" ] && set_policy "$(rw_default_policy)"
}

# The bundle containerd made for a container (moby namespace).
bundle_dir() {
	echo "$RW_CTRD_STATE/io.containerd.runtime.v2.task/moby/$1"
}

# wait_for SECONDS CMD...: poll CMD (quietly) every 0.2s until it succeeds.
wait_for() {
	local t=$(($1 * 5)); shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		t=$((t - 1))
	done
	"$@" >/dev/null 2>&1
}

_rw_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Is PID still the process we started (not a recycled pid)?
_rw_is() { # PID COMM
	[ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# Write the daemons' configuration and start them. Sets and exports RW_* vars.
docker_start() {
	RW_T=$(mktemp -d /tmp/rwd.XXXXXX) || return 1
	chmod 700 "$RW_T"
	export RW_T
	export RW_CTRD_SOCK=$RW_T/c.sock
	export RW_CTRD_ROOT=$RW_T/ctrd/root
	export RW_CTRD_STATE=$RW_T/ctrd/state
	export RW_DOCKER_SOCK=$RW_T/d.sock
	export RW_DATA_ROOT=$RW_T/docker/data
	export RW_EXEC_ROOT=$RW_T/docker/exec
	export RW_POLICY=$RW_T/policy.json
	export RW_CGPARENT=rwtest-$$
	export RW_IMAGE RW_IMAGE_LABELS RW_IMAGE_ENV
	# runwarden's audit log stays under $RW_T (its default is /var/log/runwarden).
	export RW_AUDIT=$RW_T/audit.log
	export DOCKER_CONFIG=$RW_T/client   # keep the client off ~/.docker
	mkdir -p "$RW_CTRD_ROOT" "$RW_CTRD_STATE" "$RW_DATA_ROOT" "$RW_EXEC_ROOT" \
		"$DOCKER_CONFIG" "$RW_T/ctrd/opt"

	# Remember what existed before, so teardown removes only what we made.
	RW_HAD_RUN_DOCKER=$(_rw_shared_dir_had /run/docker)
	RW_HAD_RUN_CONTAINERD=$(_rw_shared_dir_had /run/containerd)
	RW_HAD_ETC_KEY=no; [ -e /etc/docker/key.json ] && RW_HAD_ETC_KEY=yes
	export RW_HAD_RUN_DOCKER RW_HAD_RUN_CONTAINERD RW_HAD_ETC_KEY
	ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' \
		> "$RW_T/links.before"

	set_policy "$(rw_default_policy)"

	local rw_bridge=none
	if [ -n "${RW_DOCKER_BRIDGE:-}" ]; then
		_rw_bridge_create || return 1
		rw_bridge=$RW_BRIDGE
	fi

	cat > "$RW_T/containerd.toml" <<-EOF
	version = 2
	root = "$RW_CTRD_ROOT"
	state = "$RW_CTRD_STATE"
	disabled_plugins = ["io.containerd.grpc.v1.cri"]
	[grpc]
	  address = "$RW_CTRD_SOCK"
	[debug]
	  address = ""
	  level = "debug"
	[metrics]
	  address = ""
	[plugins."io.containerd.internal.v1.opt"]
	  path = "$RW_T/ctrd/opt"
	EOF

	cat > "$RW_T/daemon.json" <<-EOF
	{
	  "runtimes": {
	    "runwarden": { "path": "$RUNWARDEN" },
	    "runwarden-netnone": { "path": "$RUNWARDEN", "runtimeArgs": ["--network=none"] }
	  },
	  "default-runtime": "runwarden",
	  "exec-opts": ["native.cgroupdriver=cgroupfs"],
	  "cgroup-parent": "/$RW_CGPARENT",
	  "storage-driver": "overlay2",
	  "iptables": false,
	  "ip6tables": false,
	  "ip-masq": false,
	  "ip-forward": false,
	  "bridge": "$rw_bridge",
	  "userland-proxy": false,
	  "live-restore": false,
	  "deprecated-key-path": "$RW_T/docker/key.json",
	  "debug": true
	}
	EOF

	# fd 3 is bats' TAP channel: daemons must not hold it open.
	env -i PATH="$RW_DAEMON_PATH" HOME="$RW_T" RUNWARDEN_POLICY="$RW_POLICY" \
		"$RW_CONTAINERD" --config "$RW_T/containerd.toml" \
		</dev/null >"$RW_T/containerd.log" 2>&1 3>&- &
	export RW_CTRD_PID=$!
	echo "$RW_CTRD_PID" > "$RW_T/containerd.pid"
	wait_for 30 _rw_ctrd_ready || true
	if ! _rw_alive "$RW_CTRD_PID" || ! _rw_ctrd_ready; then
		echo "containerd did not come up; log:" >&2
		tail -n 40 "$RW_T/containerd.log" >&2
		return 1
	fi

	env -i PATH="$RW_DAEMON_PATH" HOME="$RW_T" RUNWARDEN_POLICY="$RW_POLICY" \
		"$RW_DOCKERD" --config-file "$RW_T/daemon.json" \
		--data-root "$RW_DATA_ROOT" --exec-root "$RW_EXEC_ROOT" \
		--pidfile "$RW_T/dockerd.pid" -H "unix://$RW_DOCKER_SOCK" \
		--containerd "$RW_CTRD_SOCK" \
		</dev/null >"$RW_T/dockerd.log" 2>&1 3>&- &
	export RW_DOCKERD_PID=$!
	wait_for 60 _rw_docker_ready || true
	if ! _rw_alive "$RW_DOCKERD_PID" || ! _rw_docker_ready; then
		echo "dockerd did not come up; log:" >&2
		tail -n 40 "$RW_T/dockerd.log" >&2
		return 1
	fi
}

_rw_ctrd_ready() {
	_rw_alive "$RW_CTRD_PID" || return 0   # dead: stop waiting
	[ -S "$RW_CTRD_SOCK" ] || return 1
	if command -v ctr >/dev/null; then
		ctr --address "$RW_CTRD_SOCK" version >/dev/null 2>&1
	fi
}

_rw_docker_ready() {
	_rw_alive "$RW_DOCKERD_PID" || return 0
	dk version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# Make the busybox image from mkbundle's rootfs.
docker_import_busybox() {
	"$RUNWARDEN_SRCDIR/tests/helpers/mkbundle" "$RW_T/bundle" >/dev/null &&
	tar -C "$RW_T/bundle/rootfs" -cf "$RW_T/rootfs.tar" . &&
	dk import "$RW_T/rootfs.tar" "$RW_IMAGE" >/dev/null &&
	dk import -c 'LABEL org.runwarden.tier=pro' -c 'LABEL org.example.role=proxy' \
		"$RW_T/rootfs.tar" "$RW_IMAGE_LABELS" >/dev/null &&
	dk import -c 'ENV RUNWARDEN_TIER=pro' -c 'ENV org.runwarden.tier=pro' \
		"$RW_T/rootfs.tar" "$RW_IMAGE_ENV" >/dev/null
}

# Our cgroup parents in every v1 hierarchy: the daemon's and the tests' own.
_rw_cgparent_dirs() {
	[ -n "${RW_CGPARENT:-}" ] || return 0
	local d
	for d in /sys/fs/cgroup/*/"$RW_CGPARENT" /sys/fs/cgroup/*/"$RW_CGPARENT"-*; do
		[ -d "$d" ] && echo "$d"
	done
	return 0
}

# TERM PID, wait up to SECONDS for it to go, then KILL it.
_rw_stop_pid() { # PID COMM SECONDS
	local pid=$1 comm=$2 t=$(($3 * 5))
	_rw_is "$pid" "$comm" || return 0
	kill -TERM "$pid" 2>/dev/null
	while [ "$t" -gt 0 ] && _rw_is "$pid" "$comm"; do
		sleep 0.2; t=$((t - 1))
	done
	if _rw_is "$pid" "$comm"; then
		echo "$comm ($pid) ignored TERM; killing" >&2
		kill -KILL "$pid" 2>/dev/null
		sleep 0.5
	fi
	# Reap it if it is our child (it is, when started in this shell).
	wait "$pid" 2>/dev/null || true
}

# Shims that talk to our containerd (found by their -address argument).
_rw_our_shims() {
	local p
	for p in /proc/[0-9]*; do
		case "$(cat "$p/comm" 2>/dev/null)" in containerd-shim*) ;; *) continue ;; esac
		tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "$RW_CTRD_SOCK" &&
			echo "${p#/proc/}"
	done
}

# Every process still in one of our cgroups (container processes whose shim
# died): thaw them, then kill them.
_rw_kill_cgroup_procs() {
	local d f
	for d in $(_rw_cgparent_dirs); do
		find "$d" -name freezer.state 2>/dev/null | while read -r f; do
			echo THAWED > "$f" 2>/dev/null
		done
		find "$d" \( -name cgroup.procs -o -name tasks \) 2>/dev/null |
			while read -r f; do
				xargs -r kill -KILL < "$f" 2>/dev/null
			done
	done
}

_rw_remove_cgroups() {
	local d
	for d in $(_rw_cgparent_dirs); do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$d" ] && echo "could not remove cgroup $d" >&2
	done
	return 0
}

# Mount points at or under DIR, deepest first (field 5 of mountinfo,
# with \040-style escapes decoded).
_rw_mounts_under() {
	awk -v d="$1" '{
		m = $5
		gsub(/\\040/, " ", m); gsub(/\\011/, "\t", m)
		gsub(/\\012/, "\n", m); gsub(/\\134/, "\\", m)
		if (m == d || index(m, d "/") == 1) print length(m) " " m
	}' /proc/self/mountinfo | sort -rn | cut -d' ' -f2- | uniq
}

_rw_unmount_under() {
	local m
	for _ in 1 2 3; do
		_rw_mounts_under "$1" | while IFS= read -r m; do
			umount "$m" 2>/dev/null || umount -R "$m" 2>/dev/null ||
				umount -l "$m" 2>/dev/null
		done
		[ -z "$(_rw_mounts_under "$1")" ] && return 0
		sleep 0.5
	done
	echo "mounts left under $1:" >&2
	_rw_mounts_under "$1" >&2
	return 1
}

# Remove DIR if this run created it, after unmounting what is under it.
# /run/docker and /run/containerd are shared by the private daemons of every
# suite running at once (make -j check). "no" (made by the tests, so to be
# removed by the last suite to stop) when DIR is missing, or carries the mark
# that a suite leaves in a DIR it makes; "yes" (the host's: left alone) else.
_rw_shared_dir_had() { # DIR
	if [ -e "$1/.rwtest-made" ]; then
		echo no
	elif [ -e "$1" ]; then
		echo yes
	else
		mkdir -p "$1" && : > "$1/.rwtest-made"
		echo no
	fi
}

# Is a private daemon (or shim) of another suite still running? Their
# command lines name their own /tmp/rwd.* directory.
_rw_other_suites() {
	local p cmd
	for p in /proc/[0-9]*; do
		case "$(cat "$p/comm" 2>/dev/null)" in
		dockerd|containerd|containerd-shim*) ;;
		*) continue ;;
		esac
		cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)
		case "$cmd" in *"$RW_T/"*) continue ;; *" /tmp/rwd."*) return 0 ;; esac
	done
	return 1
}

_rw_remove_created_dir() { # DIR HAD
	[ "$2" = no ] && [ -e "$1" ] || return 0
	_rw_unmount_under "$1"
	rm -rf --one-file-system "$1"
}

# Remove everything docker_start made. Safe to call after a partial start.
docker_stop() {
	local p
	[ -n "${RW_T:-}" ] && [ -d "$RW_T" ] || return 0

	if _rw_is "${RW_DOCKERD_PID:-}" dockerd; then
		# Containers first, while dockerd still works.
		local ids
		ids=$(timeout 60 "$RW_DOCKER" -H "unix://$RW_DOCKER_SOCK" ps -aq 2>/dev/null)
		if [ -n "$ids" ]; then
			# shellcheck disable=SC2086
			timeout 60 "$RW_DOCKER" -H "unix://$RW_DOCKER_SOCK" rm -f $ids >/dev/null 2>&1
		fi
	fi
	_rw_stop_pid "${RW_DOCKERD_PID:-}" dockerd 30
	_rw_stop_pid "${RW_CTRD_PID:-}" containerd 20

	# Anything that outlived the daemons: shims, then container processes.
	for p in $(_rw_our_shims); do
		_rw_stop_pid "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" 5
	done
	_rw_kill_cgroup_procs
	sleep 0.2

	_rw_unmount_under "$RW_T"
	_rw_remove_cgroups

	# The opt-in bridge: only its own veths and itself.
	_rw_bridge_remove

	# Links this run created (only docker-made names; bridge is "none", so
	# normally there are none). Not with the opt-in bridge: its veths are
	# gone with it, and any other new veth* is another suite's. Never an
	# opt-in bridge (rwbr*) or a veth on one: a suite running beside this one
	# (make -j check) owns them and removes them itself.
	if [ -f "$RW_T/links.before" ] && ! [ -f "$RW_T/bridge" ]; then
		ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
		while read -r p; do
			case "$p" in docker0|br-*|veth*) ;; *) continue ;; esac
			grep -qxF "$p" "$RW_T/links.before" && continue
			ip -o link show "$p" 2>/dev/null | grep -q ' master rwbr' && continue
			ip link del "$p" 2>/dev/null
		done
	fi

	# Hard-coded paths outside $RW_T (see the top of this file), shared with
	# the daemons of suites running beside this one: each suite stops its own
	# daemons before it looks, so the last one to look sees none and removes
	# them. It notes each one's inode and birth time (ext4 hands a freed
	# inode to the next directory made): a suite starting right after may
	# make the directory again, and that is not this suite's leak.
	RW_REMOVED_SHARED=""
	if ! _rw_other_suites; then
		for p in /run/docker:"${RW_HAD_RUN_DOCKER:-yes}" /run/containerd:"${RW_HAD_RUN_CONTAINERD:-yes}"; do
			[ "${p#*:}" = no ] && [ -e "${p%%:*}" ] || continue
			RW_REMOVED_SHARED="$RW_REMOVED_SHARED ${p%%:*}:$(stat -c %i.%.9W "${p%%:*}")"
			_rw_remove_created_dir "${p%%:*}" no
		done
	fi
	# daemon.json moves the trust key into $RW_T; this is a safety net.
	[ "${RW_HAD_ETC_KEY:-yes}" = no ] && rm -f /etc/docker/key.json

	if _rw_unmount_under "$RW_T"; then
		rm -rf --one-file-system "$RW_T"
	else
		echo "left $RW_T in place: it still has mounts" >&2
	fi
	_rw_wait_zombie_shims
	docker_leaks
}

# Exited shims are reparented to PID 1, which may reap them a little later;
# give it a bounded moment so no containerd-shim entry outlives the run.
_rw_zombie_shims() {
	# shellcheck disable=SC2009
	ps -eo stat=,comm= 2>/dev/null | grep -q '^Z.* containerd-shim'
}
_rw_wait_zombie_shims() {
	local t=50
	while [ "$t" -gt 0 ] && _rw_zombie_shims; do
		sleep 0.2; t=$((t - 1))
	done
	return 0
}

# Report (on stderr) and fail on anything docker_stop should have removed.
docker_leaks() {
	local bad=0 d
	_rw_is "${RW_DOCKERD_PID:-}" dockerd && { echo "leak: dockerd $RW_DOCKERD_PID" >&2; bad=1; }
	_rw_is "${RW_CTRD_PID:-}" containerd && { echo "leak: containerd $RW_CTRD_PID" >&2; bad=1; }
	for d in $(_rw_our_shims); do echo "leak: shim $d" >&2; bad=1; done
	if [ -n "$(_rw_mounts_under "$RW_T")" ]; then
		echo "leak: mounts under $RW_T" >&2; bad=1
	fi
	for d in $(_rw_cgparent_dirs); do
		echo "leak: cgroup $d" >&2; bad=1
	done
	# A shared directory this suite removed is a leak only if that same
	# directory is still there (a suite starting beside this one makes a
	# new one, and removes it itself).
	for d in $RW_REMOVED_SHARED; do
		[ "$(stat -c %i.%.9W "${d%%:*}" 2>/dev/null)" = "${d#*:}" ] &&
			{ echo "leak: ${d%%:*}" >&2; bad=1; }
	done
	[ "${RW_HAD_ETC_KEY:-yes}" = no ] && [ -e /etc/docker/key.json ] &&
		{ echo "leak: /etc/docker/key.json" >&2; bad=1; }
	[ -e "$RW_T" ] && { echo "leak: $RW_T" >&2; bad=1; }
	if [ -n "${RW_BRIDGE:-}" ]; then
		ip link show "$RW_BRIDGE" >/dev/null 2>&1 &&
			{ echo "leak: bridge $RW_BRIDGE" >&2; bad=1; }
		ip -4 -o addr show 2>/dev/null | grep -qF " inet $RW_BRIDGE_ADDR/" &&
			{ echo "leak: address $RW_BRIDGE_ADDR" >&2; bad=1; }
	fi
	return "$bad"
}

# The opt-in bridge (see the top of this file). Called by docker_start after
# $RW_T exists; $RW_T/bridge names the bridges made (one a line) once they
# exist, so that a teardown after a partial start removes them.
_rw_bridge_create() {
	docker_new_bridge || return 1
	export RW_BRIDGE=$RW_NEW_BRIDGE RW_BRIDGE_ADDR=$RW_NEW_BRIDGE_ADDR
	export RW_BRIDGE_SUBNET=${RW_NEW_BRIDGE_ADDR%.1}.0/24
}

# A bridge rwbr<4 hex> with 10.232.N.1/24 (N random, unused here), IPv4
# forwarding off and IPv6 disabled on it; sets RW_NEW_BRIDGE and
# RW_NEW_BRIDGE_ADDR. docker_stop deletes it with its veths. Also for a
# second Docker network: `docker network create --subnet 10.232.N.0/24
# -o com.docker.network.bridge.name=$RW_NEW_BRIDGE ...`.
docker_new_bridge() {
	local _ n name
	for _ in $(seq 1 50); do
		name=rwbr$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
		n=$(od -An -N1 -tu1 /dev/urandom | tr -d ' \n')
		ip link show "$name" >/dev/null 2>&1 && continue
		# The subnet must be nobody's here: no address, no route in any table.
		ip -4 -o addr show 2>/dev/null | grep -qF " inet 10.232.$n." && continue
		ip -4 route show table all 2>/dev/null | grep -qF "10.232.$n." && continue
		if ip link add name "$name" type bridge 2>/dev/null; then
			echo "$name" >> "$RW_T/bridge"
			RW_NEW_BRIDGE=$name RW_NEW_BRIDGE_ADDR=10.232.$n.1
			# Nothing that enters the bridge is forwarded (IPv4 forwarding
			# is decided by the input device's setting) or seen as IPv6.
			echo 0 > "/proc/sys/net/ipv4/conf/$name/forwarding" &&
			echo 1 > "/proc/sys/net/ipv6/conf/$name/disable_ipv6" &&
			ip addr add "$RW_NEW_BRIDGE_ADDR/24" dev "$name" &&
			ip link set "$name" up && return 0
			echo "could not set up bridge $name" >&2
			return 1
		fi
	done
	echo "found no free bridge name and 10.232.N.0/24 subnet" >&2
	return 1
}

# Delete the bridges docker_new_bridge made and the veths still attached to
# them (containers that docker_stop could not remove); nothing else.
_rw_bridge_remove() {
	local name l
	[ -n "${RW_T:-}" ] && [ -f "$RW_T/bridge" ] || return 0
	while read -r name; do
		case "$name" in rwbr*) ;; *) continue ;; esac
		ip link show "$name" >/dev/null 2>&1 || continue
		for l in $(ip -o link show master "$name" 2>/dev/null |
			   awk -F': ' '{print $2}' | sed 's/@.*//'); do
			echo "deleting $l, left on $name" >&2
			ip link del "$l" 2>/dev/null
		done
		ip link del "$name" 2>/dev/null || echo "could not delete bridge $name" >&2
	done < "$RW_T/bridge"
}

# The host-side end (in this netns) of a container's eth0 on the opt-in
# bridge: the link whose index is the container's eth0 iflink.
docker_host_veth() { # ID
	local idx
	idx=$(dk exec "$1" cat /sys/class/net/eth0/iflink) || return 1
	ip -o link | grep "^$idx:" | awk -F': ' '{print $2}' | sed 's/@.*//'
}
