#!/usr/bin/env bats
# End to end: a private containerd + dockerd with runwarden as the default
# runtime, driven through the docker CLI. Needs root, dockerd, containerd.
#
# Environment: RUNWARDEN (the binary), RUNWARDEN_SRCDIR (top source dir).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/docker'

setup_file() {
	RW_SKIP_REASON=$(docker_missing_prereq)
	export RW_SKIP_REASON
	[ -z "$RW_SKIP_REASON" ] || return 0
	docker_start
	docker_import_busybox
}

teardown_file() {
	[ -n "${RW_SKIP_REASON:-}" ] && return 0
	docker_stop
}

setup() {
	[ -z "${RW_SKIP_REASON:-}" ] || skip "$RW_SKIP_REASON"
}

teardown() {
	docker_test_teardown
}

# Start a long-running container; print its full id.
start_sleeper() {
	dk run -d --network none "$RW_IMAGE" sleep 600
}

inspect() { # FORMAT ID
	dk inspect -f "$1" "$2"
}

# A container's cgroup directory in a v1 hierarchy.
cgdir() { # CONTROLLER ID
	echo "/sys/fs/cgroup/$1/$RW_CGPARENT/$2"
}

@test "docker info: runwarden is the default runtime" {
	run dk info --format '{{.DefaultRuntime}}'
	assert_success
	assert_output runwarden

	run dk info --format '{{json .Runtimes}}'
	assert_success
	run jq -r '.runwarden.path' <<<"$output"
	assert_output "$RUNWARDEN"

	# dockerd runs "<default runtime> --version" and keeps its commit: line.
	local want
	want=$("$RUNWARDEN" --version | sed -n 's/^commit: *//p' | head -n 1)
	[ -n "$want" ]
	run dk info --format '{{.RuncCommit.ID}}'
	assert_success
	assert_output "$want"
}

@test "docker run --rm prints the command's output" {
	run dk run --rm --network none "$RW_IMAGE" echo hello
	assert_success
	assert_output hello
}

@test "create annotates the bundle config.json with the delegate" {
	local id cfg
	id=$(start_sleeper)
	cfg=$(bundle_dir "$id")/config.json
	[ -f "$cfg" ]
	run jq -r '.annotations["org.runwarden.delegate"] // "MISSING"' "$cfg"
	assert_success
	assert_output runc
	run jq -r '.annotations["org.runwarden.version"] // ""' "$cfg"
	assert_success
	refute_output ''
	# runwarden's record sits beside runc's state under dockerd's --root.
	run jq -r .delegate "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json"
	assert_success
	assert_output runc
	[ -f "$RW_EXEC_ROOT/runtime-runc/moby/$id/state.json" ]
	# The rewritten bundle is still the one that runs.
	run jq -r '.process.args | join(" ")' "$cfg"
	assert_output 'sleep 600'
	assert_equal "$(inspect '{{.State.Running}}' "$id")" true
}

@test "docker exec runs a process in a running container" {
	local id
	id=$(start_sleeper)
	run dk exec "$id" sh -c 'echo from-exec; cat /proc/1/comm'
	assert_success
	assert_line --index 0 from-exec
	assert_line --index 1 sleep
	run dk exec "$id" sh -c 'exit 7'
	assert_failure 7
}

@test "docker top lists the container's processes" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	run dk top "$id" -o pid,args
	assert_success
	assert_line --regexp "^ *$pid +sleep 600\$"
}

@test "docker pause and unpause freeze and thaw the container" {
	local id
	id=$(start_sleeper)
	dk pause "$id"
	assert_equal "$(inspect '{{.State.Status}} {{.State.Paused}}' "$id")" 'paused true'
	assert_equal "$(cat "$(cgdir freezer "$id")/freezer.state")" FROZEN
	dk unpause "$id"
	assert_equal "$(inspect '{{.State.Status}} {{.State.Paused}}' "$id")" 'running false'
	assert_equal "$(cat "$(cgdir freezer "$id")/freezer.state")" THAWED
	run dk exec "$id" echo awake
	assert_success
	assert_output awake
}

@test "docker update --memory sets the memory cgroup limit" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	# The container really lives in the cgroup we are about to read.
	run grep -E '^[0-9]+:memory:' "/proc/$pid/cgroup"
	assert_output --regexp ":memory:/$RW_CGPARENT/$id\$"
	run cat "$(cgdir memory "$id")/memory.limit_in_bytes"
	refute_output 67108864

	run dk update --memory 64m --memory-swap 64m "$id"
	assert_success
	run cat "$(cgdir memory "$id")/memory.limit_in_bytes"
	assert_output 67108864
	if [ -f "$(cgdir memory "$id")/memory.memsw.limit_in_bytes" ]; then
		run cat "$(cgdir memory "$id")/memory.memsw.limit_in_bytes"
		assert_output 67108864
	fi
	assert_equal "$(inspect '{{.HostConfig.Memory}}' "$id")" 67108864
}

@test "docker stop stops the container" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	kill -0 "$pid"
	run dk stop -t 1 "$id"
	assert_success
	assert_equal "$(inspect '{{.State.Status}} {{.State.Running}}' "$id")" 'exited false'
	run kill -0 "$pid"
	assert_failure
	[ ! -d "$(cgdir memory "$id")" ]
}

@test "docker restart runs the container again with a new pid" {
	local id old new
	id=$(start_sleeper)
	old=$(inspect '{{.State.Pid}}' "$id")
	run dk restart -t 1 "$id"
	assert_success
	assert_equal "$(inspect '{{.State.Running}}' "$id")" true
	new=$(inspect '{{.State.Pid}}' "$id")
	[ "$new" -gt 0 ]
	[ "$new" != "$old" ]
	kill -0 "$new"
	run kill -0 "$old"
	assert_failure
	run jq -r '.annotations["org.runwarden.delegate"] // "MISSING"' \
		"$(bundle_dir "$id")/config.json"
	assert_output runc
	run dk exec "$id" echo again
	assert_output again
}

@test "docker rm -f removes a running container" {
	local id pid
	id=$(start_sleeper)
	pid=$(inspect '{{.State.Pid}}' "$id")
	[ -d "$(bundle_dir "$id")" ]
	run dk rm -f "$id"
	assert_success
	run dk inspect "$id"
	assert_failure
	run dk ps -aq --no-trunc
	assert_success
	refute_output --partial "$id"
	run kill -0 "$pid"
	assert_failure
	[ ! -e "$(bundle_dir "$id")" ]
	[ ! -d "$(cgdir memory "$id")" ]
	# and runwarden's record went with it
	[ -e "$RW_EXEC_ROOT/runtime-runc/moby" ]
	[ ! -e "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json" ]
}

@test "a refusal by runwarden fails docker run with its message" {
	policy '"test_refuse":"forced by test"'
	run dk run --rm --network none "$RW_IMAGE" echo should-not-run
	restore_policy
	assert_failure
	assert_output --partial 'runwarden: refused: forced by test'
	refute_output --partial should-not-run
	# Nothing is left running, and the next run (policy restored) works.
	run dk ps -q
	assert_output ''
	run dk run --rm --network none "$RW_IMAGE" echo back
	assert_success
	assert_output back
}

@test "docker run through runwarden to runsc (gVisor), runtimeArgs passed through" {
	# Debian's runsc (2022) needs --network=none on this kernel: the second
	# registered runtime carries it as runtimeArgs, which runwarden hands over.
	set_policy "{\"delegate\":\"runsc\",\"audit_log\":\"$RW_AUDIT\"}"
	local id
	id=$(dk run -d --runtime runwarden-netnone --network none "$RW_IMAGE" sleep 600)
	run jq -r '.annotations["org.runwarden.delegate"]' "$(bundle_dir "$id")/config.json"
	assert_output runsc
	run jq -r .delegate "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json"
	assert_output runsc
	# the policy changes; the container keeps its delegate
	restore_policy
	run dk exec "$id" dmesg
	assert_success
	assert_output --partial gVisor
	run dk rm -f "$id"
	assert_success
	[ ! -e "$RW_EXEC_ROOT/runtime-runc/moby/.runwarden-$id.json" ]
	# containerd gives a detached runsc container the host's /dev/null as
	# stdin, which runsc chowns to its sandbox user: runwarden shields it
	[ "$(stat -c '%U:%G %a' /dev/null)" = "root:root 666" ]
	set_policy "{\"delegate\":\"runsc\",\"audit_log\":\"$RW_AUDIT\"}"
	run dk run --rm --runtime runwarden-netnone --network none "$RW_IMAGE" echo hello-runsc
	assert_success
	assert_output hello-runsc
}

# --- tiers, refusals and trusted containers (README: "The policy file") ---

# Set a policy: runc, the test's audit log, and the JSON members given.
policy() { # ['"key":value,...']
	set_policy "{\"delegate\":\"runc\",\"audit_log\":\"$RW_AUDIT\"${1:+,$1}}"
}

# An annotation of a container's bundle config.json (MISSING when absent).
annotation() { # ID KEY
	jq -r --arg k "$2" '.annotations[$k] // "MISSING"' "$(bundle_dir "$1")/config.json"
}

# A container's cgroup directory for CONTROLLER, read from its init's
# /proc/PID/cgroup (so it holds for any --cgroup-parent).
cg() { # CONTROLLER ID
	local pid rel
	pid=$(inspect '{{.State.Pid}}' "$2")
	rel=$(sed -n "s/^[0-9]*:$1:\\(.*\\)\$/\\1/p" "/proc/$pid/cgroup")
	[ -n "$rel" ] || return 1
	echo "/sys/fs/cgroup/$1$rel"
}

# docker run -d --network none OPTION... IMAGE sleep 600, then print
# "TIER SOURCE MEMORY-LIMIT" (annotations and the memory cgroup file) and
# remove the container.
probe() { # OPTION... IMAGE
	local id mem
	id=$(dk run -d --network none "$@" sleep 600) || return 1
	mem=$(cat "$(cg memory "$id")/memory.limit_in_bytes")
	echo "$(annotation "$id" org.runwarden.tier) $(annotation "$id" org.runwarden.tier.source) $mem"
	dk rm -f "$id" >/dev/null
}

# The container's limits as "MEM MEMSW QUOTA PERIOD PIDS".
limits() { # ID
	local m c p memsw=none
	m=$(cg memory "$1") && c=$(cg cpu "$1") && p=$(cg pids "$1") || return 1
	[ -f "$m/memory.memsw.limit_in_bytes" ] && memsw=$(cat "$m/memory.memsw.limit_in_bytes")
	echo "$(cat "$m/memory.limit_in_bytes") $memsw $(cat "$c/cpu.cfs_quota_us")" \
		"$(cat "$c/cpu.cfs_period_us") $(cat "$p/pids.max")"
}

# memsw reads "none" on kernels without swap accounting.
free_limits() {
	local memsw=268435456
	[ -f "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes" ] || memsw=none
	echo "268435456 $memsw 25000 100000 256"
}

@test "policy core present: runwarden policy check answers" {
	run "$RUNWARDEN" policy check "$RW_POLICY"
	assert_success
	run "$RUNWARDEN" policy check /dev/null
	assert_failure
	refute_output --partial 'unknown command'
}

@test "default tier free: memory, swap, CPU and pids cgroup limits" {
	local id
	id=$(start_sleeper)
	run limits "$id"
	assert_success
	assert_output "$(free_limits)"
	assert_equal "$(annotation "$id" org.runwarden.tier)" free
	assert_equal "$(annotation "$id" org.runwarden.tier.source)" default
	run annotation "$id" org.runwarden.changes
	assert_output --partial ' -> '
	run jq -r '.root.readonly, .process.noNewPrivileges' "$(bundle_dir "$id")/config.json"
	assert_output $'true\ntrue'
}

@test "default tier free: read-only root, tmpfs /tmp /run /var/tmp, no capabilities, no_new_privs" {
	run dk run --rm --network none "$RW_IMAGE" sh -c '
		touch /x 2>/dev/null && echo root-writable || echo root-readonly
		for d in /tmp /run /var/tmp; do
			touch $d/f && echo "$d writable"
			echo "$d mode $(stat -c %a $d)"
			awk -v d=$d "\$2 == d { print d, \$3, \$4 }" /proc/mounts
		done
		grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status'
	assert_success
	assert_line root-readonly
	local d
	for d in /tmp /run /var/tmp; do
		assert_line "$d writable"
		assert_line --regexp "^$d tmpfs .*nosuid.*nodev.*size=524288k"
	done
	# runc gives a tmpfs the mode of the directory it covers, when the image
	# has one (this image's /tmp is 755), so only /run and /var/tmp show 1777
	assert_line '/run mode 1777'
	assert_line '/var/tmp mode 1777'
	assert_line --regexp '^CapEff:[[:space:]]+0000000000000000$'
	assert_line --regexp '^CapPrm:[[:space:]]+0000000000000000$'
	assert_line --regexp '^CapBnd:[[:space:]]+0000000000000000$'
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	local id
	id=$(start_sleeper)
	run jq -r '.mounts[] | select(.type == "tmpfs" and (.destination == "/tmp" or
		.destination == "/run" or .destination == "/var/tmp")) |
		"\(.destination) \(.options | sort | join(","))"' "$(bundle_dir "$id")/config.json"
	assert_output $'/tmp mode=1777,nodev,nosuid,size=536870912\n/run mode=1777,nodev,nosuid,size=536870912\n/var/tmp mode=1777,nodev,nosuid,size=536870912'
}

@test "a container's own lower limits are kept, higher ones lowered to the tier" {
	local id
	id=$(dk run -d --network none -m 64m --memory-swap 64m --cpus 0.1 --pids-limit 50 \
		"$RW_IMAGE" sleep 600)
	run limits "$id"
	assert_output --regexp '^67108864 (67108864|none) 10000 100000 50$'
	id=$(dk run -d --network none -m 2g --memory-swap 4g --cpus 2 --pids-limit 5000 \
		"$RW_IMAGE" sleep 600)
	run limits "$id"
	assert_output "$(free_limits)"
	# -m alone: Docker asks for swap = 2 x memory; the tier keeps swap = memory
	id=$(dk run -d --network none -m 64m "$RW_IMAGE" sleep 600)
	run limits "$id"
	assert_output --regexp '^67108864 (67108864|none) 25000 100000 256$'
}

@test "docker exec --privileged gains no capabilities" {
	local id
	id=$(start_sleeper)
	run dk exec --privileged "$id" grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status
	assert_success
	assert_line --regexp '^CapEff:[[:space:]]+0000000000000000$'
	assert_line --regexp '^CapBnd:[[:space:]]+0000000000000000$'
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	run dk exec "$id" grep CapEff /proc/self/status
	assert_output --regexp '^CapEff:[[:space:]]+0000000000000000$'
}

@test "docker update cannot raise the tier's limits; each clamp is audited" {
	local id
	id=$(start_sleeper)
	run dk update --memory 10g --memory-swap 10g --pids-limit 100000 --cpus 2 "$id"
	assert_success
	run limits "$id"
	assert_output "$(free_limits)"
	# dockerd keeps what was asked; the cgroup files are what counts
	run grep -F "$id" "$RW_AUDIT"
	assert_success
	run jq -e . "$RW_AUDIT"
	assert_success
}

@test "exec and update apply the tier recorded at create, not the policy of now" {
	local id
	id=$(start_sleeper)
	policy '"tiers":{"free":{"memory":"2g","cpus":2,"tmpfs":"64m","pids":1000,"capabilities":["CAP_NET_RAW","CAP_CHOWN"]}}'
	run dk update --memory 1g --memory-swap 1g --pids-limit 900 "$id"
	assert_success
	run limits "$id"
	assert_output "$(free_limits)"
	run dk exec --privileged "$id" grep CapEff /proc/self/status
	assert_output --regexp '^CapEff:[[:space:]]+0000000000000000$'
	# the new policy does apply to a new container
	id=$(start_sleeper)
	run limits "$id"
	assert_output --regexp '^2147483648 (2147483648|none) 200000 100000 1000$'
}

@test "docker run --label org.runwarden.tier selects the tier" {
	local id
	id=$(dk run -d --network none --label org.runwarden.tier=pro "$RW_IMAGE" sleep 600)
	run limits "$id"
	assert_output --regexp '^1073741824 (1073741824|none) 100000 100000 256$'
	assert_equal "$(annotation "$id" org.runwarden.tier)" pro
	assert_equal "$(annotation "$id" org.runwarden.tier.source)" label
	run probe --label org.runwarden.tier=basic "$RW_IMAGE"
	assert_output 'basic label 536870912'
	run probe --label org.runwarden.tier=custom "$RW_IMAGE"
	assert_output 'custom label 2147483648'
}

@test "an unknown tier is refused, naming the tier and its input" {
	run dk run --rm --network none --label org.runwarden.tier=gold "$RW_IMAGE" echo should-not-run
	assert_failure
	assert_output --partial 'runwarden: refused: unknown tier "gold"'
	assert_output --partial 'org.runwarden.tier'
	refute_output --partial should-not-run
}

@test "an image's LABEL org.runwarden.tier does not select a tier" {
	run probe "$RW_IMAGE_LABELS"
	assert_output 'free default 268435456'
	# a run-time label that differs from the image's counts
	run probe --label org.runwarden.tier=basic "$RW_IMAGE_LABELS"
	assert_output 'basic label 536870912'
	# one equal to the image's cannot be told from it, so it does not count
	run probe --label org.runwarden.tier=pro "$RW_IMAGE_LABELS"
	assert_output 'free default 268435456'
}

@test "environment, image ENV, hostname and name never select a tier" {
	run probe -e RUNWARDEN_TIER=pro "$RW_IMAGE"
	assert_output 'free default 268435456'
	run probe -e org.runwarden.tier=pro "$RW_IMAGE"
	assert_output 'free default 268435456'
	run probe "$RW_IMAGE_ENV"
	assert_output 'free default 268435456'
	run probe --hostname pro "$RW_IMAGE"
	assert_output 'free default 268435456'
	run probe --name org.runwarden.tier-pro --hostname org.runwarden.tier=pro "$RW_IMAGE"
	assert_output 'free default 268435456'
}

@test "cgroup_parents maps --cgroup-parent (and what lies under it) to a tier" {
	local pro=/$RW_CGPARENT-pro id
	policy "\"cgroup_parents\":{\"$pro\":\"pro\"}"
	id=$(dk run -d --network none --cgroup-parent "$pro" "$RW_IMAGE" sleep 600)
	assert_equal "$(cg memory "$id")" "/sys/fs/cgroup/memory$pro/$id"
	run limits "$id"
	assert_output --regexp '^1073741824 (1073741824|none) 100000 100000 256$'
	assert_equal "$(annotation "$id" org.runwarden.tier.source)" cgroup-parent
	run probe --cgroup-parent "$pro/team1" "$RW_IMAGE"
	assert_output 'pro cgroup-parent 1073741824'
	# a sibling whose name merely starts with the key is not under it
	run probe --cgroup-parent "${pro}2" "$RW_IMAGE"
	assert_output 'free default 268435456'
	# a label comes before the cgroup parent
	run probe --cgroup-parent "$pro" --label org.runwarden.tier=basic "$RW_IMAGE"
	assert_output 'basic label 536870912'
}

@test "refused: --privileged" {
	run dk run --rm --network none --privileged "$RW_IMAGE" echo should-not-run
	assert_failure
	assert_output --partial 'runwarden: refused:'
	assert_output --partial 'privileged'
	refute_output --partial should-not-run
}

@test "refused: host pid, ipc and uts namespaces; joining another's pid namespace" {
	local ns
	for ns in pid ipc uts; do
		run dk run --rm "--$ns" host "$RW_IMAGE" echo should-not-run
		assert_failure
		assert_output --regexp "runwarden: refused: .*host.*$ns|runwarden: refused: .*$ns.*host"
		refute_output --partial should-not-run
	done
	local id
	id=$(start_sleeper)
	run dk run --rm --network none --pid "container:$id" "$RW_IMAGE" echo should-not-run
	assert_failure
	assert_output --partial 'runwarden: refused: pid namespace'
}

@test "refused: the host network namespace" {
	# Docker 20.10 gives --network host as a path: <exec-root>/netns/default
	run dk run --rm --network host "$RW_IMAGE" echo should-not-run
	assert_failure
	assert_output --partial 'runwarden: refused: host network namespace'
	refute_output --partial should-not-run
}

@test "allowed: --network container:X (another container's network namespace)" {
	local id
	id=$(start_sleeper)
	# Docker bind-mounts X's hosts, hostname and resolv.conf into the joiner
	run dk run --rm --network "container:$id" "$RW_IMAGE" echo joined
	assert_success
	# dockerd warns that ip_forward is off (this harness keeps it off)
	assert_line joined
}

@test "refused: a host path outside allow_host_paths; named volumes and allowed paths work" {
	run dk run --rm --network none -v /etc:/host-etc:ro "$RW_IMAGE" echo should-not-run
	assert_failure
	assert_output --partial 'runwarden: refused:'
	assert_output --partial '/etc'
	assert_output --partial 'allow_host_paths'
	refute_output --partial should-not-run

	mkdir -p "$RW_T/share" "$RW_T/share2"
	echo shared > "$RW_T/share/f"
	policy "\"allow_host_paths\":[\"$RW_T/share\"]"
	run dk run --rm --network none -v "$RW_T/share:/data:ro" "$RW_IMAGE" cat /data/f
	assert_success
	assert_output shared
	run dk run --rm --network none -v "$RW_T/share2:/data" "$RW_IMAGE" echo should-not-run
	assert_failure
	assert_output --partial 'allow_host_paths'
	run dk run --rm --network none -v rwtest-vol:/data "$RW_IMAGE" sh -c 'echo v > /data/f && cat /data/f'
	assert_success
	assert_output v
	dk volume rm rwtest-vol >/dev/null
	# Docker's files for another container are not this one's
	local other
	other=$(start_sleeper)
	run dk run --rm --network none -v "$RW_DATA_ROOT/containers/$other:/other:ro" "$RW_IMAGE" \
		ls /other
	assert_failure
	assert_output --partial 'runwarden: refused:'
	run dk run --rm --network none -v "$RW_DATA_ROOT:/dr:ro" "$RW_IMAGE" ls /dr
	assert_failure
	assert_output --partial 'runwarden: refused:'
}

@test "refused: bind mounts of the Docker or containerd socket, even under an allowed path" {
	mkdir -p "$RW_T/socks"
	python3 -c 'import socket, sys
for p in sys.argv[1:]:
    socket.socket(socket.AF_UNIX).bind(p)' "$RW_T/socks/docker.sock" "$RW_T/socks/containerd.sock"
	echo plain > "$RW_T/socks/plain"
	policy "\"allow_host_paths\":[\"$RW_T\"]"
	# the allowed directory itself is fine
	run dk run --rm --network none -v "$RW_T/socks/plain:/plain:ro" "$RW_IMAGE" cat /plain
	assert_success
	assert_output plain
	local s
	for s in docker.sock containerd.sock; do
		run dk run --rm --network none -v "$RW_T/socks/$s:/var/run/docker.sock" "$RW_IMAGE" \
			echo should-not-run
		assert_failure
		assert_output --partial 'runwarden: refused:'
		assert_output --partial socket
		refute_output --partial should-not-run
	done
}

@test "refused: the sockets of the very daemons running the container, whatever their names" {
	# dockerd and containerd here listen on $RW_T/d.sock and $RW_T/c.sock.
	local s
	for s in "$RW_DOCKER_SOCK" "$RW_CTRD_SOCK"; do
		# outside allow_host_paths: refused (by the host path rule at least)
		run dk run --rm --network none -v "$s:/var/run/docker.sock" "$RW_IMAGE" echo should-not-run
		assert_failure
		assert_output --partial 'runwarden: refused:'
	done
	# an operator allowing the directory does not allow the Docker socket in it
	policy "\"allow_host_paths\":[\"$RW_T\"]"
	for s in "$RW_DOCKER_SOCK" "$RW_CTRD_SOCK"; do
		run dk run --rm --network none -v "$s:/var/run/docker.sock" "$RW_IMAGE" \
			sh -c 'test -S /var/run/docker.sock && echo socket-mounted'
		assert_failure
		assert_output --partial 'runwarden: refused:'
		assert_output --partial socket
		refute_output --partial socket-mounted
	done
}

@test "a trusted container runs unrestricted on the rule's delegate, and is audited" {
	policy '"trusted":[{"name":"proxy","label":{"org.example.role":"proxy"},"delegate":"runc"}]'
	local id
	id=$(dk run -d --network none --label org.example.role=proxy "$RW_IMAGE" sleep 600)
	assert_equal "$(annotation "$id" org.runwarden.tier.source)" trusted:proxy
	assert_equal "$(annotation "$id" org.runwarden.delegate)" runc
	run dk exec "$id" sh -c 'grep CapEff /proc/1/status; touch /x && echo root-writable'
	assert_success
	assert_line --regexp '^CapEff:[[:space:]]+00000000a80425fb$'
	assert_line root-writable
	run jq -r '.root.readonly // false' "$(bundle_dir "$id")/config.json"
	assert_output false
	run cat "$(cg memory "$id")/memory.limit_in_bytes"
	refute_output 268435456
	run grep -F "$id" "$RW_AUDIT"
	assert_success
	assert_output --partial '"rule":"proxy"'
	# the same label carried by the image does not make a container trusted
	run probe "$RW_IMAGE_LABELS"
	assert_output 'free default 268435456'
	run probe --label org.example.role=other "$RW_IMAGE"
	assert_output 'free default 268435456'
}
