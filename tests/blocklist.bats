#!/usr/bin/env bats
# The workload blocklist (README "The workload blocklist") on plain OCI bundles
# through runwarden to the real runc, crun and runsc: each of the five
# categories refused by image name, command, sh -c string, environment, an
# executable's name in the rootfs, and a renamed binary's SHA-256; the rule
# kinds (args, contains, ports, image globs and digests); the evasions
# (case, paths, quoting, wrapper chains, exec into a running container); the
# exemptions (allow, skip_tiers, enabled, trusted), the rootfs scan's own
# rules (symlinks, multi-call binaries, limits, the cache); and no refusal for
# the start commands of common images.
#
# A refusal is checked whole: exit 1, the exact message on stderr naming the
# rule's FILE:LINE (found in the policy the test wrote), the same message as
# the last JSON line of --log, the audit line, config.json byte-identical, and
# nothing made: no record, no delegate state, no cgroup. An allowed container
# is run to completion and must print its marker.
#
# Plumbing (prototype bundle, create, teardown that removes containers,
# processes and cgroups and checks /dev/null) from helpers/tiers-lib.bash; the
# policy and the refusal checks from helpers/blocklist.bash.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/tiers-lib
load helpers/blocklist

# The digest cache runwarden uses when a policy names none: every policy here
# names one in the test's directory, so this one must not appear. (Reported,
# not removed: another runwarden on the host may own it.)
HOST_CACHE=/run/runwarden/digests.cache

setup_file() {
	tiers_setup_file
}

setup() {
	tiers_setup
	ID="bl$BATS_TEST_NUMBER-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
	AUDIT="$T/audit.log"
	HAD_HOST_CACHE=no
	[ ! -e "$HOST_CACHE" ] || HAD_HOST_CACHE=yes
}

teardown() {
	tiers_teardown
	if [ "${HAD_HOST_CACHE:-yes}" = no ] && [ -e "$HOST_CACHE" ]; then
		fail "teardown: $HOST_CACHE appeared during the test (the policy named $T/digests.cache)"
	fi
}

# --- bundles, policies, containers ---

# mkb DIR ARGS-JSON: a copy of the prototype busybox bundle running ARGS.
mkb() {
	[ -f "$PROTO/config.json" ] || fail "no prototype bundle (setup_file)"
	rm -rf "$1"
	cp -a "$PROTO" "$1"
	jq --argjson a "$2" '.process.args = $a' "$PROTO/config.json" > "$1/config.json"
}

# cfg DIR JQ-ARGS...: edit DIR's config.json.
cfg() {
	local dir=$1
	shift
	jq "$@" "$dir/config.json" > "$T/cfg.tmp" && mv "$T/cfg.tmp" "$dir/config.json"
}

# policy DELEGATE [JQ-FILTER]: the test policy (helpers/blocklist.bash) with
# DELEGATE for every tier; refusals name this file and its lines.
policy() {
	bl_policy_json "$1" "$AUDIT" "$T/digests.cache" "${2:-.}" > "$T/policy.tmp" ||
		fail "jq: policy"
	mv "$T/policy.tmp" "$RUNWARDEN_POLICY"
	"$RUNWARDEN" policy check "$RUNWARDEN_POLICY" > "$T/check.out" 2>&1 ||
		fail "policy check: $(cat "$T/check.out")"
	SRC_FILE=$RUNWARDEN_POLICY
	SRC_NAME=$RUNWARDEN_POLICY
}

# default_list_policy DELEGATE: the embedded default categories (the policy
# names only its delegate, audit log and digest cache); refusals name
# "<embedded default>" and the line of `runwarden policy show --default`.
default_list_policy() {
	write_policy "$RUNWARDEN_POLICY" "{\"delegate\": \"$1\", \"audit_log\": \"$AUDIT\",
	 \"blocklist\": {\"scan\": {\"cache\": \"$T/digests.cache\"}}} // written by blocklist.bats"
	"$RUNWARDEN" policy show --default > "$T/default-policy.txt" || fail "policy show --default"
	SRC_FILE=$T/default-policy.txt
	SRC_NAME="<embedded default>"
}

# source_of RULE: "FILE:LINE" of RULE in the current policy.
source_of() {
	local line
	line=$(bl_src_line "$1" "$SRC_FILE" 2>&1) || { echo "?($line)"; return 0; }
	echo "$SRC_NAME:$line"
}

# A new container id (and its own cgroups path, for teardown); the count
# lives in a file, as callers run it in command substitutions.
next_id() {
	local n
	n=$(($(cat "$T/ids" 2> /dev/null || echo 0) + 1))
	echo "$n" > "$T/ids"
	echo "$ID-$n"
}

cgpath() {
	echo "/rwbl-$$-$1"
}

# Nothing of container ID was made: no record, no delegate state, no cgroup.
nothing_made() { # ID
	local id=$1 left=""
	[ ! -e "$R/.runwarden-$id.json" ] || left="$left record"
	[ ! -e "$R/$id" ] || left="$left $R/$id"
	! compgen -G "$R/*_sandbox:$id.*" > /dev/null || left="$left runsc-state"
	[ -z "$(cgroup_dirs "$(cgpath "$id")")" ] || left="$left cgroups"
	[ -z "$left" ] || echo "made:$left"
}

# expect_refused VERB DELEGATE DIR ID CATEGORY RULE FIELD VALUE [IMAGE [TIER]]:
# VERB (create or run) of DIR as ID is refused by RULE; print every way the
# refusal differs from the README's, or nothing.
expect_refused() {
	local verb=$1 d=$2 dir=$3 id=$4 cat=$5 rule=$6 field=$7 value=$8 image=${9:-} tier=${10:-free}
	local msg rc=0 bad="" v
	cfg "$dir" --arg cg "$(cgpath "$id")" '.linux.cgroupsPath = $cg'
	cp "$dir/config.json" "$T/config.before"
	track "$d" "$id" "$(cgpath "$id")"
	msg=$(bl_message "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	# A regular file for stdout: a refusal writes nothing to it, and a create
	# that wrongly goes through must not hold a pipe open.
	rwd "$d" "$verb" --bundle "$dir" "$id" > "$T/refused.out" 2> "$T/refused.err" || rc=$?
	[ "$rc" -eq 1 ] || bad="$bad; exit $rc, not 1"
	v=$(cat "$T/refused.err")
	[ "$v" = "runwarden: $msg" ] || bad="$bad; stderr: \"$v\", expected: \"runwarden: $msg\""
	[ ! -s "$T/refused.out" ] || bad="$bad; stdout: $(cat "$T/refused.out")"
	v=$(bl_check_log "$LOG" "$msg")
	[ -z "$v" ] || bad="$bad; $v"
	v=$(bl_check_audit "$AUDIT" "$id" "$verb" "$tier" "$image" "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	[ -z "$v" ] || bad="$bad; $v"
	cmp -s "$T/config.before" "$dir/config.json" || bad="$bad; config.json changed"
	v=$(nothing_made "$id")
	[ -z "$v" ] || bad="$bad; $v"
	[ -z "$bad" ] || echo "${bad#; }"
}

# expect_runs DELEGATE DIR ID MARKER: a foreground run of DIR prints MARKER
# (a line of its output) and exits 0, with no blocklist audit line; print what
# went wrong, or nothing.
expect_runs() {
	local d=$1 dir=$2 id=$3 marker=$4 rc bad=""
	cfg "$dir" --arg cg "$(cgpath "$id")" '.linux.cgroupsPath = $cg'
	track "$d" "$id" "$(cgpath "$id")"
	# stdout through a pipe: runsc writes nothing to a regular file.
	{ rwd "$d" run --bundle "$dir" "$id" 2> "$T/run.err" && echo 0 > "$T/run.rc" || echo "$?" > "$T/run.rc"; } |
		cat > "$T/run.out"
	rc=$(cat "$T/run.rc")
	[ "$rc" -eq 0 ] || bad="$bad; run exited $rc: $(cat "$T/run.err")"
	grep -qxF -- "$marker" "$T/run.out" || bad="$bad; output \"$(cat "$T/run.out")\" lacks \"$marker\""
	[ -z "$(bl_audit_line "$AUDIT" "$id")" ] || bad="$bad; audited: $(bl_audit_line "$AUDIT" "$id")"
	[ -z "$bad" ] || echo "${bad#; }"
}

# --- the five categories, six ways each, with each delegate ---

# vector WAY CATEGORY DIR: make the bundle in DIR carry CATEGORY's workload
# WAY's way; print "RULE|FIELD|VALUE|IMAGE" of the refusal it must meet.
vector() {
	local way=$1 c=$2 dir=$3 rule field value image="" args env path key
	case $way:$c in
	image:*)
		key=org.opencontainers.image.ref.name
		case $c in
		miners) image=docker.io/metal3d/xmrig:latest rule=xmrig ;;
		tor) image=docker.io/rwtest/tor-relay:0.4.8 rule=tor ;;
		vpn-proxy) image=docker.io/kylemanna/openvpn:2.4 rule=openvpn ;;
		torrent) image=lscr.io/linuxserver/qbittorrent:4.6.2 rule=qbittorrent
			key=io.kubernetes.cri.image-name ;;
		mail) image=docker.io/boky/postfix:latest rule=postfix ;;
		esac
		mkb "$dir" '["sh", "-c", "echo should-not-run"]'
		cfg "$dir" --arg k "$key" --arg v "$image" '.annotations[$k] = $v'
		field=image value=$image
		;;
	command:*)
		case $c in
		miners) args='["/usr/local/bin/xmrig", "--url", "pool.example.org:3333"]' rule=xmrig ;;
		tor) args='["tor", "-f", "/etc/tor/torrc"]' rule=tor ;;
		vpn-proxy) args='["openvpn", "--config", "/etc/openvpn/server.conf"]' rule=openvpn ;;
		torrent) args='["/usr/bin/qbittorrent-nox", "--webui-port=8080"]' rule=qbittorrent ;;
		mail) args='["/usr/sbin/postfix", "start-fg"]' rule=postfix ;;
		esac
		mkb "$dir" "$args"
		field='process.args[0]' value=$(jq -r '.[0]' <<< "$args")
		;;
	shc:*)
		case $c in
		miners) args='["sh", "-c", "cd /tmp && ./xmrig -o pool.example.org:3333"]' rule=xmrig value=./xmrig ;;
		tor) args='["sh", "-c", "exec tor --RunAsDaemon 0"]' rule=tor value=tor ;;
		vpn-proxy) args='["/bin/sh", "-c", "ss-server -s 0.0.0.0 -p 8388 -m aes-256-gcm"]'
			rule=ss-server value=ss-server ;;
		torrent) args='["sh", "-c", "mkdir -p /config && transmission-daemon --foreground --config-dir /config"]'
			rule=transmission-daemon value=transmission-daemon ;;
		mail) args='["sh", "-c", "postconf -e myhostname=mx.example.org; postfix start-fg"]'
			rule=postfix value=postfix ;;
		esac
		mkb "$dir" "$args"
		field='process.args[2] (sh -c)'
		;;
	env:*)
		# the value named is the whole entry, whichever part matched
		case $c in
		miners) env='POOL_URL=stratum+tcp://pool.example.org:3333' rule=stratum+tcp:// value=$env ;;
		tor) env='TOR_BIN=/usr/bin/tor' rule=tor value=$env ;;
		vpn-proxy) env='SS_URL=ss://YWVzLTI1Ni1nY206c2VjcmV0@203.0.113.5:8388' rule=ss:// value=$env ;;
		torrent) env='SEED=magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a'
			rule='magnet:?xt=urn:btih:' value=$env ;;
		mail) env='MTA=/usr/sbin/exim4' rule=exim value=$env ;;
		esac
		mkb "$dir" '["sh", "-c", "echo should-not-run"]'
		cfg "$dir" --arg e "$env" '.process.env += [$e]'
		field="process.env[$(jq '.process.env | length - 1' "$dir/config.json")]"
		;;
	rootfs:*)
		case $c in
		miners) path=/usr/local/bin/xmrig rule=xmrig ;;
		tor) path=/usr/bin/tor rule=tor ;;
		vpn-proxy) path=/usr/sbin/openvpn rule=openvpn ;;
		torrent) path=/usr/bin/qbittorrent-nox rule=qbittorrent ;;
		mail) path=/usr/sbin/sendmail rule=sendmail ;;
		esac
		# (not the payload: its digest is listed too, and one rule must match)
		mkb "$dir" '["sh", "-c", "echo should-not-run"]'
		bl_script "$dir/rootfs" "$path" "$c binary"
		field=rootfs value=$path
		;;
	digest:*)
		# The payload under an innocent name: only its SHA-256 tells.
		case $c in
		miners) path=/app/server args='["/app/server"]' ;;
		tor) path=/usr/local/bin/svc args='["svc", "--config", "/etc/svc.conf"]' ;;
		vpn-proxy) path=/opt/net/agent args='["sh", "-c", "echo should-not-run"]' ;;
		torrent) path=/srv/worker args='["sh", "-c", "/srv/worker --quiet"]' ;;
		mail) path=/home/app/mta args='["sh", "-c", "echo should-not-run"]' ;;
		esac
		mkb "$dir" "$args"
		bl_put_payload "$dir/rootfs" "$path" "$c"
		rule=$(bl_payload_digest "$c") field='rootfs sha256' value=$path
		;;
	*) return 1 ;;
	esac
	echo "$rule|$field|$value|$image"
}

# categories_refused DELEGATE WAY: each category, WAY's way, refused at create.
categories_refused() {
	local d=$1 way=$2 c id dir rule field value image out bad=""
	require_delegate "$d"
	policy "$d"
	for c in $BL_CATEGORIES; do
		id=$(next_id)
		dir="$T/b-$c"
		IFS='|' read -r rule field value image < <(vector "$way" "$c" "$dir") ||
			fail "no vector $way for $c"
		out=$(expect_refused create "$d" "$dir" "$id" "$c" "$rule" "$field" "$value" "$image")
		[ -z "$out" ] || bad="$bad
  $c ($way, $field \"$value\"): $out"
	done
	[ -z "$bad" ] || fail "$d, by $way, not refused as the README says:$bad"
}

@test "runc: each category refused by image name (annotations)" {
	categories_refused runc image
}

@test "runc: each category refused by command (process.args[0])" {
	categories_refused runc command
}

@test "runc: each category refused by an sh -c string" {
	categories_refused runc shc
}

@test "runc: each category refused by an environment value" {
	categories_refused runc env
}

@test "runc: each category refused by an executable's name in the rootfs" {
	categories_refused runc rootfs
}

@test "runc: each category refused by a renamed binary whose SHA-256 is listed" {
	categories_refused runc digest
}

@test "crun: each category refused by image name (annotations)" {
	categories_refused crun image
}

@test "crun: each category refused by command (process.args[0])" {
	categories_refused crun command
}

@test "crun: each category refused by an sh -c string" {
	categories_refused crun shc
}

@test "crun: each category refused by an environment value" {
	categories_refused crun env
}

@test "crun: each category refused by an executable's name in the rootfs" {
	categories_refused crun rootfs
}

@test "crun: each category refused by a renamed binary whose SHA-256 is listed" {
	categories_refused crun digest
}

@test "runsc: each category refused by image name (annotations)" {
	categories_refused runsc image
}

@test "runsc: each category refused by command (process.args[0])" {
	categories_refused runsc command
}

@test "runsc: each category refused by an sh -c string" {
	categories_refused runsc shc
}

@test "runsc: each category refused by an environment value" {
	categories_refused runsc env
}

@test "runsc: each category refused by an executable's name in the rootfs" {
	categories_refused runsc rootfs
}

@test "runsc: each category refused by a renamed binary whose SHA-256 is listed" {
	categories_refused runsc digest
}

# --- rule kinds and evasions ---

# table_refused VERB DELEGATE: each row of $T/table, "CATEGORY|RULE|FIELD|
# VALUE|ARGS-JSON|ANNOTATIONS-JSON" (and the name of the case first),
# refused at VERB.
table_refused() {
	local verb=$1 d=$2 name c rule field value args ann id dir out image bad=""
	while IFS='|' read -r name c rule field value args ann; do
		[ -n "$name" ] || continue
		id=$(next_id)
		dir="$T/b-$id"
		mkb "$dir" "$args"
		image=""
		if [ -n "$ann" ]; then
			cfg "$dir" --argjson a "$ann" '.annotations += $a'
			image=$(jq -r '.["org.opencontainers.image.ref.name"] // ""' <<< "$ann")
		fi
		out=$(expect_refused "$verb" "$d" "$dir" "$id" "$c" "$rule" "$field" "$value" "$image")
		[ -z "$out" ] || bad="$bad
  $name: $out"
	done < "$T/table"
	[ -z "$bad" ] || fail "$d $verb, not refused as the README says:$bad"
}

@test "runc: args, contains and ports rules; image globs and digests" {
	require_delegate runc
	policy runc
	cat > "$T/table" <<-EOF
	arg with =value|miners|--donate-level|process.args[1]|--donate-level=1|["/usr/bin/worker", "--donate-level=1"]|
	arg alone|miners|--donate-level|process.args[2]|--donate-level|["/usr/bin/worker", "-t", "--donate-level", "1"]|
	contains in a word|miners|stratum+tcp://|process.args[2]|stratum+tcp://pool.example.org:3333|["/usr/bin/worker", "-o", "stratum+tcp://pool.example.org:3333"]|
	contains after =|miners|stratum+tcp://|process.args[1]|--url=stratum+tcp://pool.example.org:3333|["/usr/bin/worker", "--url=stratum+tcp://pool.example.org:3333"]|
	port as a word|tor|9001|process.args[2]|9001|["/usr/bin/relay", "--ORPort", "9001"]|
	port after :|tor|9030|process.args[1]|--DirPort=0.0.0.0:9030|["/usr/bin/relay", "--DirPort=0.0.0.0:9030"]|
	port in sh -c|tor|9001|process.args[2] (sh -c)|0.0.0.0:9001|["sh", "-c", "exec /usr/bin/relay --listen 0.0.0.0:9001"]|
	vmess link|vpn-proxy|vmess://|process.args[1]|vmess://eyJhZGQiOiIxOTguNTEuMTAwLjEifQ|["/usr/bin/client", "vmess://eyJhZGQiOiIxOTguNTEuMTAwLjEifQ"]|
	magnet split by quotes in sh -c|torrent|magnet:?xt=urn:btih:|process.args[2] (sh -c)|magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a|["sh", "-c", "aria2c 'magnet:?xt='\"urn:btih:\"c12fe1c06bba254a9dc9f519b335aa7c1367a88a"]|
	name with a version|mail|exim|process.args[0]|/usr/sbin/exim4|["/usr/sbin/exim4", "-bd", "-q30m"]|
	image glob|miners|*/miners/*|image|registry.example.com/miners/worker:1.0|["sh", "-c", "echo should-not-run"]|{"org.opencontainers.image.ref.name": "registry.example.com/miners/worker:1.0"}
	image digest|miners|$BL_IMAGE_DIGEST|image digest|$BL_IMAGE_DIGEST|["sh", "-c", "echo should-not-run"]|{"org.opencontainers.image.digest": "$BL_IMAGE_DIGEST"}
	EOF
	table_refused create runc
}

# The issue's evasions, each at `run` (the audit line says so).
evasions() {
	local d=$1
	require_delegate "$d"
	policy "$d"
	cat > "$T/table" <<-'EOF'
	uppercase|miners|xmrig|process.args[0]|XMRig|["XMRig", "-o", "pool.example.org:3333"]|
	uppercase path|miners|xmrig|process.args[0]|/OPT/XMRIG/XMRIG|["/OPT/XMRIG/XMRIG"]|
	path prefix and version|miners|xmrig|process.args[0]|/opt/.cache/bin/xmrig-6.21.0|["/opt/.cache/bin/xmrig-6.21.0", "-o", "pool.example.org:3333"]|
	relative path|tor|tor|process.args[0]|./tor|["./tor", "--RunAsDaemon", "0"]|
	quoted program in sh -c|miners|xmrig|process.args[2] (sh -c)|xmrig|["sh", "-c", "'xm'\"ri\"g -o pool.example.org:3333"]|
	quoted path in sh -c|vpn-proxy|openvpn|process.args[2] (sh -c)|/usr/sbin/openvpn|["sh", "-c", "\"/usr/sbin/openvpn\" --config '/etc/openvpn/server.conf'"]|
	backslash in sh -c|torrent|qbittorrent|process.args[2] (sh -c)|qbittorrent-nox|["sh", "-c", "qbit\\torrent-nox --webui-port=8080"]|
	nohup nice sh -c|miners|xmrig|process.args[4] (sh -c)|xmrig|["nohup", "nice", "sh", "-c", "exec xmrig -o pool.example.org:3333"]|
	env timeout taskset|miners|minerd|process.args[8]|/tmp/minerd|["env", "-i", "HOME=/tmp", "timeout", "3600", "taskset", "-c", "0", "/tmp/minerd"]|
	setsid stdbuf ionice|mail|postfix|process.args[5]|postfix|["setsid", "stdbuf", "-oL", "ionice", "-c3", "postfix", "start-fg"]|
	busybox applet|tor|tor|process.args[2]|tor|["busybox", "nohup", "tor"]|
	sh -c in bash -c|miners|cpuminer|process.args[2] (sh -c)|cpuminer|["bash", "-c", "sh -c 'exec nice -n 19 cpuminer -a cryptonight'"]|
	after ; && and a pipe (written \u007c in JSON)|torrent|transmission-daemon|process.args[2] (sh -c)|transmission-daemon|["sh", "-c", "true; echo x \u007c cat && transmission-daemon -f"]|
	command substitution|vpn-proxy|ss-server|process.args[2] (sh -c)|ss-server|["sh", "-c", "echo $(ss-server -c /etc/ss.json)"]|
	leading assignment|miners|xmrig|process.args[2] (sh -c)|xmrig|["sh", "-c", "POOL=pool.example.org LD_PRELOAD= xmrig"]|
	background and subshell|mail|sendmail|process.args[2] (sh -c)|sendmail|["sh", "-c", "(sendmail -bd &) ; sleep 1"]|
	EOF
	table_refused run "$d"
}

@test "runc: evasions refused: case, paths, quoting, wrapper chains, nested shells" {
	evasions runc
}

@test "crun: evasions refused: case, paths, quoting, wrapper chains, nested shells" {
	evasions crun
}

@test "the embedded default list: each category, naming <embedded default>:LINE" {
	require_delegate runc
	default_list_policy runc
	cat > "$T/table" <<-'EOF'
	miner name|miners|xmrig|process.args[0]|xmrig|["xmrig", "--url", "pool.example.org:3333"]|
	miner flag|miners|--donate-level|process.args[1]|--donate-level=0|["/usr/bin/worker", "--donate-level=0"]|
	tor port|tor|9001|process.args[2]|9001|["/usr/bin/relay", "--ORPort", "9001"]|
	vless link|vpn-proxy|vless://|process.args[1]|vless://6d1a@198.51.100.1:443|["/usr/bin/client", "vless://6d1a@198.51.100.1:443"]|
	torrent client|torrent|rtorrent|process.args[0]|rtorrent|["rtorrent", "-n"]|
	mail server|mail|haraka|process.args[0]|haraka|["haraka", "-c", "/etc/haraka"]|
	EOF
	table_refused create runc

	# The rootfs scan under the default list too: a real sendmail binary.
	local id dir out
	id=$(next_id)
	dir="$T/b-sendmail"
	mkb "$dir" '["sh", "-c", "echo should-not-run"]'
	bl_put_payload "$dir/rootfs" /usr/sbin/sendmail mail
	out=$(expect_refused create runc "$dir" "$id" mail sendmail rootfs /usr/sbin/sendmail)
	[ -z "$out" ] || fail "a regular /usr/sbin/sendmail: $out"
}

# --- exec into a running container ---

# A running tenant container ($B) whose rootfs holds, outside the scan
# directories (so create lets it through): the miner payload as /data/worker,
# and a script /data/xmrig-6.21 with a link /data/svc to it.
start_container() {
	local d=$1
	mkb "$B" '["sh", "-c", "echo ready; exec sleep 120"]'
	bl_put_payload "$B/rootfs" /data/worker miners
	bl_script "$B/rootfs" /data/xmrig-6.21 "xmrig 6.21"
	ln -s xmrig-6.21 "$B/rootfs/data/svc"
	cfg "$B" --arg cg "$(cgpath "$ID")" '.linux.cgroupsPath = $cg'
	start_reader
	create "$d" "$ID"
	run --separate-stderr rwd "$d" start "$ID"
	[ "$status" -eq 0 ] || fail "start: $stderr"
	wait_for 20 grep -qx ready "$T/out" || fail "the container did not start: $(cat "$T/out")"
}

# expect_exec_refused DELEGATE CATEGORY RULE FIELD VALUE EXEC-ARG...: exec
# into $ID refused; print what differs from the README, or nothing.
expect_exec_refused() {
	local d=$1 cat=$2 rule=$3 field=$4 value=$5 msg rc=0 bad="" v
	shift 5
	msg=$(bl_message "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	rwd "$d" exec "$@" > "$T/exec.out" 2> "$T/exec.err" || rc=$?
	[ "$rc" -eq 1 ] || bad="$bad; exit $rc, not 1"
	v=$(cat "$T/exec.err")
	[ "$v" = "runwarden: $msg" ] || bad="$bad; stderr: \"$v\", expected: \"runwarden: $msg\""
	[ ! -s "$T/exec.out" ] || bad="$bad; stdout: $(cat "$T/exec.out")"
	v=$(bl_check_log "$LOG" "$msg")
	[ -z "$v" ] || bad="$bad; $v"
	v=$(bl_check_audit "$AUDIT" "$ID" exec free "" "$cat" "$rule" "$(source_of "$rule")" "$field" "$value")
	[ -z "$v" ] || bad="$bad; $v"
	[ -z "$bad" ] || echo "${bad#; }"
}

exec_refused() {
	local d=$1 pid out bad="" miner
	require_delegate "$d"
	policy "$d"
	start_container "$d"
	pid=$(state_pid "$d" "$ID")
	miner=$(bl_payload_digest miners)

	out=$(expect_exec_refused "$d" miners xmrig 'exec process.args[0]' xmrig "$ID" xmrig -o pool.example.org:3333)
	[ -z "$out" ] || bad="$bad
  exec ID xmrig: $out"

	printf '%s' '{"args": ["sh", "-c", "nohup nice /tmp/xmrig -o pool.example.org:3333 &"],
	 "env": ["PATH=/usr/bin:/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "terminal": false}' > "$T/p1.json"
	out=$(expect_exec_refused "$d" miners xmrig 'exec process.args[2] (sh -c)' /tmp/xmrig --process "$T/p1.json" "$ID")
	[ -z "$out" ] || bad="$bad
  exec --process (sh -c wrapper chain): $out"

	printf '%s' '{"args": ["sh", "-c", "echo hi"],
	 "env": ["PATH=/usr/bin:/bin", "POOL=stratum+tcp://pool.example.org:3333"], "cwd": "/",
	 "user": {"uid": 0, "gid": 0}, "terminal": false}' > "$T/p2.json"
	out=$(expect_exec_refused "$d" miners stratum+tcp:// 'exec process.env[1]' \
		POOL=stratum+tcp://pool.example.org:3333 --process "$T/p2.json" "$ID")
	[ -z "$out" ] || bad="$bad
  exec --process (env): $out"

	out=$(expect_exec_refused "$d" miners "$miner" 'rootfs sha256' /data/worker "$ID" /data/worker)
	[ -z "$out" ] || bad="$bad
  exec ID /data/worker (the miner's digest): $out"

	out=$(expect_exec_refused "$d" miners xmrig rootfs /data/xmrig-6.21 "$ID" /data/svc)
	[ -z "$out" ] || bad="$bad
  exec ID /data/svc (a link to xmrig-6.21): $out"

	[ -z "$bad" ] || fail "$d exec not refused as the README says:$bad"

	# The container is still running, and a clean exec works.
	run --separate-stderr rwd "$d" state "$ID"
	[ "$(jq -r .status <<< "$output")" = running ] || fail "state after the refusals: $output $stderr"
	alive "$pid" || fail "the container's process $pid is gone"
	run --separate-stderr rwd "$d" exec "$ID" sh -c 'echo still-$0' here
	[ "$status" -eq 0 ] && [ "$output" = still-here ] || fail "a clean exec: $status \"$output\" $stderr"
	[ "$(jq -s --arg id "$ID" '[.[] | select(.id == $id and .event == "blocklist")] | length' "$AUDIT")" = 5 ] ||
		fail "audit lines for $ID: $(grep -F "$ID" "$AUDIT")"
	remove "$d" "$ID"
}

@test "runc: exec into a running container refused (args, --process, env, digest, link); it keeps running" {
	exec_refused runc
}

@test "crun: exec into a running container refused (args, --process, env, digest, link); it keeps running" {
	exec_refused crun
}

@test "runsc: exec into a running container refused (args, --process, env, digest, link); it keeps running" {
	exec_refused runsc
}

# --- exemptions ---

@test "allow: a path exempts that file only; an image glob exempts the image" {
	require_delegate runc
	local id dir out
	# a regular /usr/sbin/sendmail (the mail rule), allowed by path
	policy runc '.blocklist.allow = [{"category": "mail", "rule": "sendmail", "path": "/usr/sbin/sendmail"}]'
	dir="$T/b-allow-path"
	mkb "$dir" '["sh", "-c", "echo allowed-path"]'
	bl_script "$dir/rootfs" /usr/sbin/sendmail "sendmail binary"
	out=$(expect_runs runc "$dir" "$(next_id)" allowed-path)
	[ -z "$out" ] || fail "allowed path /usr/sbin/sendmail: $out"
	# the same name elsewhere is not allowed
	bl_script "$dir/rootfs" /usr/bin/sendmail "sendmail binary"
	out=$(expect_refused create runc "$dir" "$(next_id)" mail sendmail rootfs /usr/bin/sendmail)
	[ -z "$out" ] || fail "/usr/bin/sendmail beside the allowed path: $out"
	# without the allow entry the allowed one is refused too
	rm "$dir/rootfs/usr/bin/sendmail"
	policy runc
	out=$(expect_refused create runc "$dir" "$(next_id)" mail sendmail rootfs /usr/sbin/sendmail)
	[ -z "$out" ] || fail "/usr/sbin/sendmail without the allow entry: $out"

	# an image glob: registry.example.com/ops/exim-exporter:* (names: exim)
	policy runc '.blocklist.allow = [{"image": "registry.example.com/ops/exim-exporter:*"}]'
	dir="$T/b-allow-image"
	mkb "$dir" '["sh", "-c", "echo allowed-image"]'
	cfg "$dir" '.annotations["org.opencontainers.image.ref.name"] = "registry.example.com/ops/exim-exporter:1.2"'
	out=$(expect_runs runc "$dir" "$(next_id)" allowed-image)
	[ -z "$out" ] || fail "allowed image: $out"
	cfg "$dir" '.annotations["org.opencontainers.image.ref.name"] = "registry.example.com/ops/exim-exporter-ng:1.2"'
	out=$(expect_refused create runc "$dir" "$(next_id)" mail exim image \
		registry.example.com/ops/exim-exporter-ng:1.2 registry.example.com/ops/exim-exporter-ng:1.2)
	[ -z "$out" ] || fail "an image the glob does not match: $out"
}

# A bundle running the miner payload as /usr/local/bin/xmrig (prints "mining").
miner_bundle() {
	mkb "$1" '["/usr/local/bin/xmrig", "--bench=1M"]'
	bl_put_payload "$1/rootfs" /usr/local/bin/xmrig miners
}

@test "skip_tiers: a category skipped for tier pro (annotation) still refuses tier basic" {
	require_delegate runc
	local dir out
	policy runc '.blocklist.categories.miners.skip_tiers = ["pro"]'
	dir="$T/b-skip"
	miner_bundle "$dir"
	cfg "$dir" '.annotations["org.runwarden.tier"] = "pro"'
	out=$(expect_runs runc "$dir" "$(next_id)" mining)
	[ -z "$out" ] || fail "tier pro, miners skipped: $out"
	# other categories still apply to pro
	miner_bundle "$dir"
	cfg "$dir" '.annotations["org.runwarden.tier"] = "pro" | .process.args = ["tor"]'
	out=$(expect_refused create runc "$dir" "$(next_id)" tor tor 'process.args[0]' tor "" pro)
	[ -z "$out" ] || fail "tier pro, tor: $out"
	miner_bundle "$dir"
	cfg "$dir" '.annotations["org.runwarden.tier"] = "basic"'
	out=$(expect_refused create runc "$dir" "$(next_id)" miners xmrig 'process.args[0]' /usr/local/bin/xmrig "" basic)
	[ -z "$out" ] || fail "tier basic: $out"
}

@test "enabled false: the category is off, the others still refuse" {
	require_delegate runc
	local dir out
	policy runc '.blocklist.categories.miners = {"enabled": false}'
	dir="$T/b-off"
	miner_bundle "$dir"
	out=$(expect_runs runc "$dir" "$(next_id)" mining)
	[ -z "$out" ] || fail "miners disabled: $out"
	mkb "$dir" '["/usr/bin/relay", "--ORPort", "9001"]'
	out=$(expect_refused create runc "$dir" "$(next_id)" tor 9001 'process.args[2]' 9001)
	[ -z "$out" ] || fail "tor, with miners disabled: $out"
}

@test "a trusted container is not checked; the same bundle as a tenant is refused" {
	require_delegate runc
	local dir out
	policy runc '.trusted = [{"name": "bench", "annotation": {"example.org/role": "bench"}}]'
	dir="$T/b-trusted"
	miner_bundle "$dir"
	cfg "$dir" '.annotations["example.org/role"] = "bench"'
	out=$(expect_runs runc "$dir" "$(next_id)" mining)
	[ -z "$out" ] || fail "trusted: $out"
	jq -e '.annotations["org.runwarden.tier.source"] == "trusted:bench"' "$dir/config.json" > /dev/null ||
		fail "not run as trusted: $(jq -c .annotations "$dir/config.json")"
	miner_bundle "$dir"
	cfg "$dir" '.annotations["example.org/role"] = "tenant"'
	out=$(expect_refused create runc "$dir" "$(next_id)" miners xmrig 'process.args[0]' /usr/local/bin/xmrig)
	[ -z "$out" ] || fail "the same bundle as a tenant: $out"
}

# --- the rootfs scan ---

@test "symlinks are not matched by their names: Alpine's sendmail -> busybox runs" {
	local d dir out
	for d in runc crun runsc; do
		require_delegate "$d"
		policy "$d"
		dir="$T/b-$d"
		mkb "$dir" '["sh", "-c", "echo symlinks-ok"]'
		mkdir -p "$dir/rootfs/usr/sbin" "$dir/rootfs/usr/bin" "$dir/rootfs/usr/local/bin"
		ln -s /bin/busybox "$dir/rootfs/usr/sbin/sendmail"
		ln -s ../../bin/busybox "$dir/rootfs/usr/bin/tor"
		ln -s /opt/xmrig/xmrig "$dir/rootfs/usr/local/bin/miner"
		out=$(expect_runs "$d" "$dir" "$(next_id)" symlinks-ok)
		[ -z "$out" ] || fail "$d: links named sendmail, tor (to busybox), a dangling one to xmrig: $out"
	done
}

@test "multi-call binaries: more than 4 hard links match by digest only; 4 still by name" {
	require_delegate runc
	local dir out i
	policy runc
	# busybox's applet farm: the binary hard-linked as sh, cat, echo and sendmail
	dir="$T/b-farm"
	mkb "$dir" '["sh", "-c", "echo farm-ok"]'
	mkdir -p "$dir/rootfs/usr/sbin"
	for i in sh cat echo; do
		rm -f "$dir/rootfs/bin/$i"
		ln "$dir/rootfs/bin/busybox" "$dir/rootfs/bin/$i"
	done
	ln "$dir/rootfs/bin/busybox" "$dir/rootfs/usr/sbin/sendmail"
	[ "$(stat -c %h "$dir/rootfs/bin/busybox")" = 5 ] || fail "the farm has $(stat -c %h "$dir/rootfs/bin/busybox") links"
	out=$(expect_runs runc "$dir" "$(next_id)" farm-ok)
	[ -z "$out" ] || fail "busybox with 5 links, one named sendmail: $out"

	# a tool with exactly 4 links, one named sendmail: matched by that name
	dir="$T/b-four"
	mkb "$dir" '["sh", "-c", "echo should-not-run"]'
	bl_put "$dir/rootfs" /usr/local/bin/mailtool '#!/bin/sh
echo mailtool
'
	mkdir -p "$dir/rootfs/usr/sbin"
	ln "$dir/rootfs/usr/local/bin/mailtool" "$dir/rootfs/usr/local/bin/mailq"
	ln "$dir/rootfs/usr/local/bin/mailtool" "$dir/rootfs/usr/local/bin/newaliases"
	ln "$dir/rootfs/usr/local/bin/mailtool" "$dir/rootfs/usr/sbin/sendmail"
	out=$(expect_refused create runc "$dir" "$(next_id)" mail sendmail rootfs /usr/sbin/sendmail)
	[ -z "$out" ] || fail "4 links, one named sendmail: $out"

	# the miner payload with 6 links (the others outside the scan): its digest still tells
	dir="$T/b-farm-digest"
	mkb "$dir" '["sh", "-c", "echo should-not-run"]'
	bl_put_payload "$dir/rootfs" /usr/local/bin/tool miners
	mkdir -p "$dir/rootfs/data"
	for i in a b c d e; do
		ln "$dir/rootfs/usr/local/bin/tool" "$dir/rootfs/data/tool-$i"
	done
	out=$(expect_refused create runc "$dir" "$(next_id)" miners "$(bl_payload_digest miners)" 'rootfs sha256' \
		/usr/local/bin/tool)
	[ -z "$out" ] || fail "a listed digest behind 6 links: $out"
}

@test "a symlink to a host path whose digest is listed is not followed out of the rootfs" {
	require_delegate runc
	local dir out host
	policy runc
	host="$T/host/payload.bin"
	mkdir -p "$T/host"
	bl_payload miners > "$host"
	chmod 755 "$host"
	dir="$T/b-escape"
	mkb "$dir" '["/usr/local/bin/helper"]'
	mkdir -p "$dir/rootfs/usr/local/bin"
	ln -s "$host" "$dir/rootfs/usr/local/bin/helper"
	# as the program (explain resolves it without running anything)
	run "$RUNWARDEN" explain --bundle "$dir"
	[ "$status" -eq 0 ] || fail "explain of a link to a listed host file: $status $output"
	assert_line --regexp '^blocklist: [0-9]+ files, [0-9]+ hashed, [0-9]+ cached, [0-9.]+ ms$'
	# in the scan directories, under a container that runs
	cfg "$dir" '.process.args = ["sh", "-c", "test -e /usr/local/bin/helper || echo dangling-inside"]'
	out=$(expect_runs runc "$dir" "$(next_id)" dangling-inside)
	[ -z "$out" ] || fail "a link to a listed host file: $out"
	# control: the same path inside the rootfs is what the link means there
	bl_put_payload "$dir/rootfs" "$host" miners
	cfg "$dir" '.process.args = ["/usr/local/bin/helper"]'
	run "$RUNWARDEN" explain --bundle "$dir"
	[ "$status" -eq 1 ] || fail "explain, the link's target inside the rootfs: $status $output"
	# (the value: the path the link resolves to, inside the rootfs)
	assert_line "$(bl_message miners "$(bl_payload_digest miners)" "$(source_of "$(bl_payload_digest miners)")" \
		'rootfs sha256' "$host")"
}

@test "a scan limit allows the container and audits blocklist-limit; refuse_on_limit refuses" {
	require_delegate runc
	local dir id out rc=0
	# the busybox rootfs has hundreds of entries in /bin
	policy runc '.blocklist.scan.max_files = 5'
	dir="$T/b-limit"
	mkb "$dir" '["sh", "-c", "echo limited"]'
	id=$(next_id)
	out=$(expect_runs runc "$dir" "$id" limited)
	[ -z "$out" ] || fail "at max_files 5: $out"
	run jq -c --arg id "$id" 'select(.id == $id and .event == "blocklist-limit")' "$AUDIT"
	[ -n "$output" ] || fail "no blocklist-limit audit line: $(cat "$AUDIT" 2>/dev/null)"
	jq -e '.verb == "run" and .limit == "max_files"' <<< "$output" > /dev/null ||
		fail "blocklist-limit line: $output"

	policy runc '.blocklist.scan.max_files = 5 | .blocklist.scan.refuse_on_limit = true'
	id=$(next_id)
	cfg "$dir" --arg cg "$(cgpath "$id")" '.linux.cgroupsPath = $cg'
	cp "$dir/config.json" "$T/config.before"
	track runc "$id" "$(cgpath "$id")"
	rwd runc create --bundle "$dir" "$id" > "$T/out.txt" 2> "$T/err.txt" || rc=$?
	[ "$rc" -eq 1 ] || fail "refuse_on_limit: exit $rc: $(cat "$T/err.txt")"
	grep -q '^runwarden: refused: .*max_files' "$T/err.txt" || fail "refuse_on_limit: $(cat "$T/err.txt")"
	[ -z "$(bl_check_log "$LOG" "$(sed 's/^runwarden: //' "$T/err.txt")")" ] || fail "--log: $(tail -n 1 "$LOG")"
	cmp -s "$T/config.before" "$dir/config.json" || fail "config.json changed"
	[ -z "$(nothing_made "$id")" ] || fail "$(nothing_made "$id")"
}

@test "explain: a refusal (exit 1, nothing written), a clean bundle's scan figures, and the digest cache" {
	require_delegate runc
	local dir msg out before files hashed
	policy runc
	dir="$T/b-explain"
	mkb "$dir" '["nohup", "/opt/xmrig/xmrig", "-o", "pool.example.org:3333"]'
	cp "$dir/config.json" "$T/config.before"
	msg=$(bl_message miners xmrig "$(source_of xmrig)" 'process.args[1]' /opt/xmrig/xmrig)
	run "$RUNWARDEN" explain --bundle "$dir"
	[ "$status" -eq 1 ] || fail "explain exited $status: $output"
	assert_output --partial "$msg"
	cmp -s "$T/config.before" "$dir/config.json" || fail "explain changed config.json"
	[ ! -s "$AUDIT" ] || fail "explain audited: $(cat "$AUDIT")"

	# clean: every file looked at, the busybox binary hashed (digests are listed)
	mkb "$dir" '["sh", "-c", "echo clean"]'
	run "$RUNWARDEN" explain --bundle "$dir"
	[ "$status" -eq 0 ] || fail "explain of a clean bundle exited $status: $output"
	before=$(grep -E '^blocklist: ' <<< "$output") || fail "no blocklist line: $output"
	read -r files hashed < <(sed -E 's/^blocklist: ([0-9]+) files, ([0-9]+) hashed, [0-9]+ cached, [0-9.]+ ms$/\1 \2/' <<< "$before")
	[[ $files =~ ^[0-9]+$ ]] && [ "$files" -ge 200 ] && [ "$hashed" -ge 1 ] || fail "first explain: $before"
	# a run fills the cache; then nothing is hashed again
	out=$(expect_runs runc "$dir" "$(next_id)" clean)
	[ -z "$out" ] || fail "a clean run: $out"
	[ -s "$T/digests.cache" ] || fail "no digest cache at $T/digests.cache"
	run "$RUNWARDEN" explain --bundle "$dir"
	[ "$status" -eq 0 ] || fail "second explain exited $status: $output"
	assert_line --regexp "^blocklist: $files files, 0 hashed, [1-9][0-9]* cached, [0-9.]+ ms\$"
}

# --- no false positives ---

no_false_positives() {
	local d=$1 name args cwd env marker out bad=""
	require_delegate "$d"
	default_list_policy "$d"
	mkb "$B" '["true"]'
	bl_common_rootfs "$B/rootfs"
	cp "$B/config.json" "$T/config.proto"
	while IFS='|' read -r name args cwd env marker; do
		jq --argjson a "$args" --arg cwd "$cwd" --argjson e "$env" \
			'.process.args = $a | .process.cwd = $cwd | .process.env = $e' \
			"$T/config.proto" > "$B/config.json"
		out=$(expect_runs "$d" "$B" "$(next_id)" "$marker")
		[ -z "$out" ] || bad="$bad
  $name $(jq -r 'join(" ")' <<< "$args"): $out"
	done < <(bl_common_images)
	[ -z "$bad" ] || fail "$d: refused or failed, the default list:$bad"
	[ ! -s "$AUDIT" ] || fail "audit lines for clean containers: $(cat "$AUDIT")"
}

@test "runc: no false positives: nginx, node, python, gunicorn, postgres, redis, java, a Go binary named maximum" {
	no_false_positives runc
}

@test "crun: no false positives: nginx, node, python, gunicorn, postgres, redis, java, a Go binary named maximum" {
	no_false_positives crun
}

@test "runsc: no false positives: nginx, node, python, gunicorn, postgres, redis, java, a Go binary named maximum" {
	no_false_positives runsc
}

@test "a script a shell is given is read where the shell would: sh /data/job, sh job in the working directory" {
	policy runc
	local form dir="$T/b-script"
	for form in '["sh", "/data/job"]' '["sh", "job"]' '["/bin/sh", "-e", "job", "--now"]' '["nohup", "sh", "./job"]'; do
		mkb "$dir" "$form"
		cfg "$dir" '.process.cwd = "/data"'
		# /data is no scan dir: only the program's resolution reads it
		bl_put_payload "$dir/rootfs" /data/job miners
		run "$RUNWARDEN" explain --bundle "$dir"
		assert_failure
		assert_line "refused: blocklist \"miners\" rule \"$(bl_payload_digest miners)\" ($SRC_NAME:$(bl_src_line "$(bl_payload_digest miners)" "$SRC_FILE")) matched rootfs sha256 \"/data/job\""
	done
	# the same file as data, not run: no refusal
	mkb "$dir" '["sh", "-c", "cat /data/job"]'
	bl_put_payload "$dir/rootfs" /data/job miners
	run "$RUNWARDEN" explain --bundle "$dir"
	assert_success
}
