#!/usr/bin/env bats
# The workload blocklist through a private containerd + dockerd with runwarden
# as the default runtime (helpers/docker.bash): each of the five categories
# refused by the image's name (Docker's own record of it), the command, an
# sh -c string, a -e variable, an executable's name in the image, and a
# renamed binary whose SHA-256 is listed; evasions; `docker exec` of a miner
# into a running container refused while it keeps running; and the start
# commands of common images still run. Every refusal must show runwarden's
# message, naming the policy file and line, in what `docker run` (or
# `docker exec`) prints, and leave an audit line with Docker's image name.
#
# Images are `docker import`ed from the busybox rootfs of helpers/mkbundle,
# with the files a test needs added; no registry is used.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/docker'
load 'helpers/blocklist'

# Image names each category refuses by name (the repository's last component).
image_for() {
	case $1 in
	miners) echo rwtest/xmrig:latest ;;
	tor) echo rwtest/tor-relay:latest ;;
	vpn-proxy) echo rwtest/openvpn:latest ;;
	torrent) echo rwtest/qbittorrent:latest ;;
	mail) echo rwtest/postfix:latest ;;
	esac
}

# An executable each category refuses by name in the image's rootfs.
rootfs_exe_for() {
	case $1 in
	miners) echo /usr/local/bin/xmrig ;;
	tor) echo /usr/bin/tor ;;
	vpn-proxy) echo /usr/sbin/openvpn ;;
	torrent) echo /usr/bin/qbittorrent-nox ;;
	mail) echo /usr/sbin/sendmail ;;
	esac
}

# image_from NAME SETUP: import the busybox rootfs, after SETUP ROOTFS has
# added its files, as NAME.
image_from() {
	local name=$1 setup=$2 dir
	dir="$RW_T/img-${name//[\/:]/-}"
	cp -a "$RW_T/bundle/rootfs" "$dir" &&
	"$setup" "$dir" &&
	tar -C "$dir" -cf "$dir.tar" . &&
	dk import "$dir.tar" "$name" > /dev/null &&
	rm -rf "$dir" "$dir.tar"
}

add_rootfs_exe() { bl_script "$1" "$(rootfs_exe_for "$IMG_CATEGORY")" "$IMG_CATEGORY binary"; }
add_renamed() { bl_put_payload "$1" /app/server "$IMG_CATEGORY"; }
add_apps() { bl_common_rootfs "$1"; }

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	docker_start
	docker_import_busybox
	local c
	for c in $BL_CATEGORIES; do
		dk tag "$RW_IMAGE" "$(image_for "$c")"
		IMG_CATEGORY=$c image_from "rwtest/app-$c:1" add_rootfs_exe
		IMG_CATEGORY=$c image_from "rwtest/renamed-$c:1" add_renamed
	done
	image_from rwtest/apps:1 add_apps
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	docker_stop
}

setup() {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
	[ "$(stat -c '%U:%G %a %F' /dev/null)" = "root:root 666 character special file" ] ||
		fail "/dev/null is $(stat -c '%U:%G %a %F' /dev/null) before the test"
	# The suite shares one audit log: a test reads what it added.
	AUDIT_START=0
	[ ! -f "$RW_AUDIT" ] || AUDIT_START=$(wc -l < "$RW_AUDIT")
	# The test policy (helpers/blocklist.bash), its digest cache under $RW_T.
	set_policy "$(bl_policy_json runc "$RW_AUDIT" "$RW_T/digests.cache")"
}

teardown() {
	docker_test_teardown
}

# The audit lines this test added.
new_audit() {
	tail -n "+$((AUDIT_START + 1))" "$RW_AUDIT" 2> /dev/null
	return 0
}

# "FILE:LINE" of RULE in the policy dockerd's runwarden reads.
source_of() {
	local line
	line=$(bl_src_line "$1" "$RW_POLICY" 2>&1) || { echo "?($line)"; return 0; }
	echo "$RW_POLICY:$line"
}

# The index in the process environment that a -e variable gets (docker run
# -e, or docker exec -e into container ID): where `env` shows it.
env_index() { # run|exec [ID]
	local out
	if [ "$1" = run ]; then
		out=$(dk run --rm --network none -e RWTEST_PROBE=1 "$RW_IMAGE" env) || return 1
	else
		out=$(dk exec -e RWTEST_PROBE=1 "$2" env) || return 1
	fi
	awk '$0 == "RWTEST_PROBE=1" { print NR - 1; found = 1 } END { exit !found }' <<< "$out"
}

# expect_docker_refused CATEGORY RULE FIELD VALUE IMAGE DOCKER-RUN-ARG...:
# `docker run` with these arguments (a --name is added) fails showing the
# refusal; the audit line names the container, Docker's image and the rule.
# Print what differs from the README, or nothing.
expect_docker_refused() {
	local cat=$1 rule=$2 field=$3 value=$4 image=$5 name id msg out rc=0 bad="" v
	shift 5
	name="bl$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	msg=$(bl_message "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	out=$(dk run --name "$name" --network none "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || bad="$bad; docker run succeeded"
	[[ $out == *"runwarden: $msg"* ]] || bad="$bad; docker run printed: \"$out\", not: \"runwarden: $msg\""
	[[ $out != *should-not-run* ]] || bad="$bad; the container ran"
	id=$(dk inspect -f '{{.Id}}' "$name" 2> /dev/null)
	if [ -z "$id" ]; then
		bad="$bad; no container $name"
	else
		[ "$(dk inspect -f '{{.State.Running}}' "$id")" = false ] || bad="$bad; $name is running"
		v=$(bl_check_audit "$RW_AUDIT" "$id" create free "$image" "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
		[ -z "$v" ] || bad="$bad; $v"
	fi
	[ -z "$bad" ] || echo "${bad#; }"
}

# each_category WAY: every category refused WAY's way.
each_category() {
	local way=$1 c out bad="" n
	for c in $BL_CATEGORIES; do
		case $way:$c in
		image:*)
			out=$(expect_docker_refused "$c" "$(basename "$(image_for "$c")" | sed 's/[-:].*//')" \
				image "$(image_for "$c")" "$(image_for "$c")" "$(image_for "$c")" echo should-not-run) ;;
		command:miners)
			out=$(expect_docker_refused miners xmrig 'process.args[0]' /usr/local/bin/xmrig "$RW_IMAGE" \
				"$RW_IMAGE" /usr/local/bin/xmrig --url pool.example.org:3333) ;;
		command:tor)
			out=$(expect_docker_refused tor tor 'process.args[0]' tor "$RW_IMAGE" \
				"$RW_IMAGE" tor -f /etc/tor/torrc) ;;
		command:vpn-proxy)
			out=$(expect_docker_refused vpn-proxy openvpn 'process.args[0]' openvpn "$RW_IMAGE" \
				"$RW_IMAGE" openvpn --config /etc/openvpn/server.conf) ;;
		command:torrent)
			out=$(expect_docker_refused torrent qbittorrent 'process.args[0]' /usr/bin/qbittorrent-nox "$RW_IMAGE" \
				"$RW_IMAGE" /usr/bin/qbittorrent-nox --webui-port=8080) ;;
		command:mail)
			out=$(expect_docker_refused mail postfix 'process.args[0]' /usr/sbin/postfix "$RW_IMAGE" \
				"$RW_IMAGE" /usr/sbin/postfix start-fg) ;;
		shc:miners)
			out=$(expect_docker_refused miners xmrig 'process.args[2] (sh -c)' ./xmrig "$RW_IMAGE" \
				"$RW_IMAGE" sh -c 'cd /tmp && ./xmrig -o pool.example.org:3333') ;;
		shc:tor)
			out=$(expect_docker_refused tor tor 'process.args[2] (sh -c)' tor "$RW_IMAGE" \
				"$RW_IMAGE" sh -c 'exec tor --RunAsDaemon 0') ;;
		shc:vpn-proxy)
			out=$(expect_docker_refused vpn-proxy ss-server 'process.args[2] (sh -c)' ss-server "$RW_IMAGE" \
				"$RW_IMAGE" /bin/sh -c 'ss-server -s 0.0.0.0 -p 8388 -m aes-256-gcm') ;;
		shc:torrent)
			out=$(expect_docker_refused torrent transmission-daemon 'process.args[2] (sh -c)' transmission-daemon \
				"$RW_IMAGE" "$RW_IMAGE" sh -c 'mkdir -p /config && transmission-daemon --foreground') ;;
		shc:mail)
			out=$(expect_docker_refused mail postfix 'process.args[2] (sh -c)' postfix "$RW_IMAGE" \
				"$RW_IMAGE" sh -c 'postconf -e myhostname=mx.example.org; postfix start-fg') ;;
		env:*)
			n=$(env_index run) || fail "no -e variable in the container's environment"
			case $c in
			miners) out=$(expect_docker_refused miners stratum+tcp:// "process.env[$n]" \
				POOL_URL=stratum+tcp://pool.example.org:3333 "$RW_IMAGE" \
				-e POOL_URL=stratum+tcp://pool.example.org:3333 "$RW_IMAGE" echo should-not-run) ;;
			tor) out=$(expect_docker_refused tor tor "process.env[$n]" TOR_BIN=/usr/bin/tor "$RW_IMAGE" \
				-e TOR_BIN=/usr/bin/tor "$RW_IMAGE" echo should-not-run) ;;
			vpn-proxy) out=$(expect_docker_refused vpn-proxy ss:// "process.env[$n]" \
				SS_URL=ss://YWVzLTI1Ni1nY206c2VjcmV0@203.0.113.5:8388 "$RW_IMAGE" \
				-e SS_URL=ss://YWVzLTI1Ni1nY206c2VjcmV0@203.0.113.5:8388 "$RW_IMAGE" echo should-not-run) ;;
			torrent) out=$(expect_docker_refused torrent 'magnet:?xt=urn:btih:' "process.env[$n]" \
				SEED=magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a "$RW_IMAGE" \
				-e SEED=magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a "$RW_IMAGE" echo should-not-run) ;;
			mail) out=$(expect_docker_refused mail exim "process.env[$n]" MTA=/usr/sbin/exim4 "$RW_IMAGE" \
				-e MTA=/usr/sbin/exim4 "$RW_IMAGE" echo should-not-run) ;;
			esac ;;
		rootfs:*)
			out=$(expect_docker_refused "$c" "$(basename "$(rootfs_exe_for "$c")" | sed 's/-nox$//')" rootfs \
				"$(rootfs_exe_for "$c")" "rwtest/app-$c:1" "rwtest/app-$c:1" echo should-not-run) ;;
		digest:*)
			out=$(expect_docker_refused "$c" "$(bl_payload_digest "$c")" 'rootfs sha256' /app/server \
				"rwtest/renamed-$c:1" "rwtest/renamed-$c:1" /app/server) ;;
		esac
		[ -z "$out" ] || bad="$bad
  $c: $out"
	done
	[ -z "$bad" ] || fail "docker run, by $way, not refused as the README says:$bad"
}

@test "docker run: each category refused by the image's name (rwtest/xmrig, tor-relay, openvpn, qbittorrent, postfix)" {
	each_category image
}

@test "docker run: each category refused by its command" {
	each_category command
}

@test "docker run: each category refused by an sh -c string" {
	each_category shc
}

@test "docker run: each category refused by a -e variable" {
	each_category env
}

@test "docker run: each category refused by an executable's name in the image" {
	each_category rootfs
}

@test "docker run: each category refused by a renamed binary (/app/server) whose SHA-256 is listed" {
	each_category digest
}

@test "docker run: evasions refused: uppercase in a wrapper chain, quoting, an image digest" {
	local out bad=""
	out=$(expect_docker_refused miners xmrig 'process.args[4] (sh -c)' XMRig "$RW_IMAGE" \
		"$RW_IMAGE" nohup nice sh -c 'exec XMRig -o pool.example.org:3333')
	[ -z "$out" ] || bad="$bad
  nohup nice sh -c XMRig: $out"
	out=$(expect_docker_refused vpn-proxy openvpn 'process.args[2] (sh -c)' /usr/sbin/openvpn "$RW_IMAGE" \
		"$RW_IMAGE" sh -c '"/usr/sbin/open"vpn --config /etc/openvpn/server.conf')
	[ -z "$out" ] || bad="$bad
  quoted in sh -c: $out"
	out=$(expect_docker_refused miners xmrig 'process.args[0]' /opt/.cache/XMRIG-6.21.0 "$RW_IMAGE" \
		--entrypoint /opt/.cache/XMRIG-6.21.0 "$RW_IMAGE" -o pool.example.org:3333)
	[ -z "$out" ] || bad="$bad
  --entrypoint with a path and version: $out"
	# Docker's image id, listed as an image digest
	local digest
	digest=$(dk image inspect -f '{{.Id}}' "$RW_IMAGE")
	set_policy "$(bl_policy_json runc "$RW_AUDIT" "$RW_T/digests.cache" \
		".blocklist.categories.miners.image_digests += [\"$digest\"]")"
	out=$(expect_docker_refused miners "$digest" 'image digest' "$digest" "$RW_IMAGE" "$RW_IMAGE" echo should-not-run)
	[ -z "$out" ] || bad="$bad
  image digest $digest: $out"
	[ -z "$bad" ] || fail "docker run, not refused as the README says:$bad"
}

# expect_exec_refused ID CATEGORY RULE FIELD VALUE DOCKER-EXEC-ARG...
expect_exec_refused() {
	local id=$1 cat=$2 rule=$3 field=$4 value=$5 msg out rc=0 bad="" v
	shift 5
	msg=$(bl_message "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	out=$(dk exec "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || bad="$bad; docker exec succeeded"
	[[ $out == *"runwarden: $msg"* ]] || bad="$bad; docker exec printed: \"$out\", not: \"runwarden: $msg\""
	[[ $out != *should-not-run* ]] || bad="$bad; the process ran"
	v=$(bl_check_audit "$RW_AUDIT" "$id" exec free "$RW_IMAGE" "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	[ -z "$v" ] || bad="$bad; $v"
	[ -z "$bad" ] || echo "${bad#; }"
}

@test "docker exec of a miner into a running container is refused; the container keeps running" {
	local id pid n out bad=""
	id=$(dk run -d --network none "$RW_IMAGE" sleep 600)
	pid=$(dk inspect -f '{{.State.Pid}}' "$id")
	n=$(env_index exec "$id") || fail "no -e variable in an exec's environment"

	out=$(expect_exec_refused "$id" miners xmrig 'exec process.args[0]' xmrig "$id" xmrig -o pool.example.org:3333)
	[ -z "$out" ] || bad="$bad
  docker exec ID xmrig: $out"
	out=$(expect_exec_refused "$id" miners xmrig 'exec process.args[2] (sh -c)' /tmp/xmrig \
		"$id" sh -c 'nohup nice /tmp/xmrig -o pool.example.org:3333 > /dev/null 2>&1 &')
	[ -z "$out" ] || bad="$bad
  docker exec ID sh -c 'nohup nice /tmp/xmrig &': $out"
	out=$(expect_exec_refused "$id" miners stratum+tcp:// "exec process.env[$n]" \
		POOL=stratum+tcp://pool.example.org:3333 -e POOL=stratum+tcp://pool.example.org:3333 "$id" echo should-not-run)
	[ -z "$out" ] || bad="$bad
  docker exec -e POOL=stratum+tcp://...: $out"
	[ -z "$bad" ] || fail "docker exec, not refused as the README says:$bad"

	assert_equal "$(dk inspect -f '{{.State.Running}} {{.State.Pid}}' "$id")" "true $pid"
	kill -0 "$pid"
	run dk exec "$id" sh -c 'echo still-$0' running
	assert_success
	assert_output still-running
}

@test "docker run: a benign container still runs under the blocklist, and is not audited" {
	local id
	run dk run --rm --network none "$RW_IMAGE" sh -c 'echo benign-$0' ok
	assert_success
	assert_output benign-ok
	# a detached one, and an exec into it
	id=$(dk run -d --network none "$RW_IMAGE" sleep 600)
	run dk exec "$id" sh -c 'echo exec-$0' ok
	assert_success
	assert_output exec-ok
	run jq -c 'select(.event | startswith("blocklist"))' <(new_audit)
	assert_success
	assert_output ''
}

# The start commands of common images (helpers/blocklist.bash), from one
# imported rootfs that holds them all: "NAME|ARGS-JSON|CWD|ENV-JSON|MARKER".
@test "docker run: no false positives under the default list: nginx, node, python, gunicorn, postgres, redis, java, maximum" {
	local name args cwd env marker out bad="" e
	local -a opts argv
	set_policy "{\"delegate\": \"runc\", \"audit_log\": \"$RW_AUDIT\",
	 \"blocklist\": {\"scan\": {\"cache\": \"$RW_T/digests.cache\"}}}"
	while IFS='|' read -r name args cwd env marker; do
		opts=(-w "$cwd")
		while IFS= read -r e; do
			opts+=(-e "$e")
		done < <(jq -r '.[]' <<< "$env")
		mapfile -t argv < <(jq -r '.[]' <<< "$args")
		out=$(dk run --rm --network none "${opts[@]}" rwtest/apps:1 "${argv[@]}" 2>&1) ||
			bad="$bad
  $name: docker run failed: $out"
		grep -qxF -- "$marker" <<< "$out" || bad="$bad
  $name: printed \"$out\", not \"$marker\""
	done < <(bl_common_images)
	[ -z "$bad" ] || fail "refused or failed:$bad"
	run jq -c 'select(.event | startswith("blocklist"))' <(new_audit)
	assert_success
	assert_output ''
}
