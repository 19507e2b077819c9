#!/usr/bin/env bats
# Tenant tiers (README "What a tenant tier does to config.json"), proven on
# real containers through runwarden with runc, crun and runsc: for each default
# tier, selected by the annotation org.runwarden.tier, the rewritten
# config.json, the values in the container's cgroups (v1 hierarchies here,
# under our own linux.cgroupsPath), and what the container sees inside: a
# read-only root, tmpfs of the tier's size on /tmp, /run and /var/tmp, no
# capabilities, no new privileges. Then: a tmpfs takes writes up to its size
# and no more (and its pages are charged to the memory cgroup); limits below
# the tier are kept, above it clamped; the default tier; cgroup_parents; an
# undefined tier refused.
#
# runsc (Debian's 2022 build) on this hybrid host puts its sandbox and gofer
# in the v1 cgroups at cgroupsPath (its processes stay in the cgroup2 root), so
# the cgroup files bound the sandbox as a whole; inside, gVisor shows no
# cgroup files, a MemTotal equal to the memory limit, no NoNewPrivs line in
# /proc/self/status, and no nosuid/nodev in /proc/mounts. Its pids.max counts
# the sandbox's host tasks (sentry threads, ptrace stubs), not the container's
# processes: at 256 the sentry panics ("creating stub process: resource
# temporarily unavailable") after about 40 processes, so no test forks up to
# the limit, and the tmpfs test's tier keeps 256.
#
# Every container gets its own cgroups path (/rwtiers-PID-ID); teardown
# removes containers, processes and those cgroups, and fails the test if
# anything was left or /dev/null changed.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/tiers-lib

setup_file() {
	tiers_setup_file
}

setup() {
	tiers_setup
}

teardown() {
	tiers_teardown
}

# config.json has the tenant treatment of tier TIER chosen by SOURCE, with
# these resources: MEMORY (bytes; swap the same) PERIOD QUOTA PIDS TMPFS
# (bytes, each of /tmp, /run, /var/tmp: one mount there, a tmpfs with nosuid,
# nodev, mode=1777). All facts from one jq run, compared as a whole.
assert_tier_config() {
	local tier=$1 source=$2 mem=$3 period=$4 quota=$5 pids=$6 tmpfs=$7 d size
	jq -r '
		def mounts($d): [.mounts[]? | select(.destination == $d)];
		def flags($m): [("nosuid", "nodev", "mode=1777") as $o | select($m.options // [] | any(. == $o)) | $o] | join(",");
		"tier \(.annotations["org.runwarden.tier"])",
		"source \(.annotations["org.runwarden.tier.source"])",
		"changes \(.annotations["org.runwarden.changes"] | type == "string" and contains(" -> "))",
		"memory \(.linux.resources.memory.limit)",
		"swap \(.linux.resources.memory.swap)",
		"period \(.linux.resources.cpu.period)",
		"quota \(.linux.resources.cpu.quota)",
		"pids \(.linux.resources.pids.limit)",
		"readonly \(.root.readonly)",
		"noNewPrivileges \(.process.noNewPrivileges)",
		def list: if length == 0 then "none" else join(",") end;
		"capabilities \([(.process.capabilities // {})[] | .[]] | unique | list)",
		"dev.gvisor \([.annotations | keys[] | select(startswith("dev.gvisor."))] | list)",
		("/tmp", "/run", "/var/tmp") as $d | mounts($d) as $m |
		"mount \($d) \($m | length) \($m[0].type) \(flags($m[0])) \([$m[0].options[]? | select(startswith("size=")) | .[5:]] | join(","))"
	' "$B/config.json" > "$T/config.facts" || fail "jq: config.json"
	# The size as bytes, whatever its spelling (536870912, 512m, 524288k).
	while IFS= read -r d; do
		if [[ $d == mount* ]]; then
			size=${d##* }
			d="${d% *} $(to_bytes "$size")"
		fi
		echo "$d"
	done < "$T/config.facts" > "$T/config.actual"
	{
		echo "tier $tier"
		echo "source $source"
		echo "changes true"
		echo "memory $mem"
		echo "swap $mem"
		echo "period $period"
		echo "quota $quota"
		echo "pids $pids"
		echo "readonly true"
		echo "noNewPrivileges true"
		echo "capabilities none"
		echo "dev.gvisor none"
		for d in /tmp /run /var/tmp; do
			echo "mount $d 1 tmpfs nosuid,nodev,mode=1777 $tmpfs"
		done
	} > "$T/config.expected"
	diff -u "$T/config.expected" "$T/config.actual" > "$T/config.diff" ||
		fail "config.json is not tier $tier's (- expected, + config.json; changes: $(jq -c '.annotations["org.runwarden.changes"]' "$B/config.json")):
$(tail -n +3 "$T/config.diff")"
}

# assert_tier_cgroups DELEGATE ID MEMORY PERIOD QUOTA PIDS: the container's
# cgroup files hold these values, and its process is in those cgroups.
assert_tier_cgroups() {
	local d=$1 id=$2 mem=$3 period=$4 quota=$5 pids=$6 pid
	pid=$(state_pid "$d" "$id")
	[ -n "$pid" ] && alive "$pid" || fail "no process for $id: $(rwd "$d" state "$id" 2>&1)"
	in_cgroup "$CG" "$pid"
	cg_is "$CG" memory memory.limit_in_bytes "$mem"
	if [ -f "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes" ]; then
		cg_is "$CG" memory memory.memsw.limit_in_bytes "$mem"
	fi
	cg_is "$CG" cpu cpu.cfs_period_us "$period"
	cg_is "$CG" cpu cpu.cfs_quota_us "$quota"
	cg_is "$CG" pids pids.max "$pids"
}

# What the probe saw inside, for DELEGATE and a tier of TMPFS and MEMORY bytes.
assert_probe_tier() {
	local d=$1 tmpfs=$2 mem=$3 dest lines f v mode
	# The root is read-only.
	v=$(probe rootwrite)
	[[ $v == failed:*"Read-only file system"* ]] || fail "writing to / did not fail read-only: $v"
	probe mount | awk '$1 == "/" { n++; if (("," $3 ",") !~ /,ro,/) bad = 1 } END { exit !(n == 1 && !bad) }' ||
		fail "/ is not mounted read-only: $(probe mount)"
	# /tmp, /run, /var/tmp: one tmpfs each, of the tier's size, mode 1777, writable.
	for dest in /tmp /run /var/tmp; do
		lines=$(probe mount | awk -v m="$dest" '$1 == m')
		[ "$(wc -l <<< "$lines")" -eq 1 ] && [ "$(awk '{ print $2 }' <<< "$lines")" = tmpfs ] ||
			fail "mounts on $dest: $lines"
		if [ "$d" != runsc ]; then
			# (gVisor lists neither in /proc/mounts.)
			for f in nosuid nodev; do
				[[ ,$(awk '{ print $3 }' <<< "$lines"), == *",$f,"* ]] || fail "$dest lacks $f: $lines"
			done
		fi
		# runc (1.1) gives a tmpfs the mode of the directory it covers, when
		# the image has one, whatever mode= says; crun and runsc follow mode=.
		mode=$(awk -v m="$dest" '$1 == m { print $2 }' "$T/image-modes")
		[ "$d" = runc ] && [ "$mode" != none ] || mode=1777
		v=$(probe df | awk -v m="$dest" '$1 == m { print $2, $3 }')
		[ "$v" = "$((tmpfs / 1024)) $mode" ] ||
			fail "df -k and mode of $dest: \"$v\", not \"$((tmpfs / 1024)) $mode\""
		[ "$(probe write | awk -v m="$dest" '$1 == m { print $2 }')" = ok ] || fail "$dest is not writable"
	done
	# No capabilities left in any set gVisor or Linux reports.
	[ -n "$(probe status | awk '$1 == "CapEff"')" ] || fail "no CapEff: $(probe status)"
	v=$(probe status | awk '$1 ~ /^Cap/ && $2 != "0000000000000000"')
	[ -z "$v" ] || fail "capabilities left: $v"
	# No new privileges: Linux reports it; gVisor (2022) has no such line, and
	# its prctl(PR_GET_NO_NEW_PRIVS) is 1 whatever the spec says, so there
	# only config.json (checked) tells.
	v=$(probe status | awk '$1 == "NoNewPrivs" { print $2 }')
	if [ "$d" = runsc ] && [ -z "$v" ]; then
		:
	else
		[ "$v" = 1 ] || fail "NoNewPrivs is \"$v\": $(probe status)"
	fi
	if [ "$d" = runsc ]; then
		# The sentry sizes its memory to the limit.
		[ "$(probe memtotal)" = "$((mem / 1024))" ] ||
			fail "MemTotal in the sandbox is $(probe memtotal) kB, not $((mem / 1024))"
	else
		# The container's own process is in our cgroup.
		[ "$(probe cgroup)" = "$CG" ] || fail "the container's memory cgroup is \"$(probe cgroup)\", not $CG"
	fi
}

# A container on default tier TIER (annotation) with DELEGATE: config.json,
# cgroups, and what it sees inside.
tier_container() {
	local d=$1 tier=$2 mem quota tmpfs pids
	require_delegate "$d"
	read -r mem quota tmpfs pids < <(tier_values "$tier")
	default_policy "$d"
	mkprobe
	cfg_edit --arg t "$tier" '.annotations["org.runwarden.tier"] = $t'
	start_reader
	create "$d" "$ID"
	assert_tier_config "$tier" annotation "$mem" 100000 "$quota" "$pids" "$tmpfs"
	cfg_is '.annotations["org.runwarden.delegate"]' "\"$d\""
	assert_tier_cgroups "$d" "$ID" "$mem" 100000 "$quota" "$pids"
	start_probe "$d" "$ID"
	assert_probe_tier "$d" "$tmpfs" "$mem"
	remove "$d" "$ID"
	assert_no_runwarden_errors
}

@test "runc: tier free (256m, 0.25 CPU, 512m tmpfs, 256 pids): config, cgroups, inside" {
	tier_container runc free
}

@test "runc: tier basic (512m, 0.5 CPU, 1g tmpfs, 256 pids): config, cgroups, inside" {
	tier_container runc basic
}

@test "runc: tier pro (1g, 1.0 CPU, 2g tmpfs, 256 pids): config, cgroups, inside" {
	tier_container runc pro
}

@test "runc: tier custom (2g, 2.0 CPU, 5g tmpfs, 256 pids): config, cgroups, inside" {
	tier_container runc custom
}

@test "crun: tier free (256m, 0.25 CPU, 512m tmpfs, 256 pids): config, cgroups, inside" {
	tier_container crun free
}

@test "crun: tier basic (512m, 0.5 CPU, 1g tmpfs, 256 pids): config, cgroups, inside" {
	tier_container crun basic
}

@test "crun: tier pro (1g, 1.0 CPU, 2g tmpfs, 256 pids): config, cgroups, inside" {
	tier_container crun pro
}

@test "crun: tier custom (2g, 2.0 CPU, 5g tmpfs, 256 pids): config, cgroups, inside" {
	tier_container crun custom
}

@test "runsc: tier free (256m, 0.25 CPU, 512m tmpfs, 256 pids): config, sandbox cgroups, inside" {
	tier_container runsc free
}

@test "runsc: tier basic (512m, 0.5 CPU, 1g tmpfs, 256 pids): config, sandbox cgroups, inside" {
	tier_container runsc basic
}

@test "runsc: tier pro (1g, 1.0 CPU, 2g tmpfs, 256 pids): config, sandbox cgroups, inside" {
	tier_container runsc pro
}

@test "runsc: tier custom (2g, 2.0 CPU, 5g tmpfs, 256 pids): config, sandbox cgroups, inside" {
	tier_container runsc custom
}

# A tier of its own ("tiers" replaces the defaults; default_tier selects it):
# /tmp (8m) takes 6 MiB, then fills at 8 MiB with ENOSPC; the tmpfs pages are
# charged to the container's memory cgroup.
tmpfs_fill() {
	local d=$1 before after v
	require_delegate "$d"
	use_policy "{\"delegate\": \"$d\", \"audit_log\": \"$T/audit.log\",
		\"tiers\": {\"tiny\": {\"memory\": \"256m\", \"cpus\": \"0.5\", \"tmpfs\": \"8m\", \"pids\": 256}},
		\"default_tier\": \"tiny\"}"
	bundle "$B" sh /fill.sh
	cat > "$B/rootfs/fill.sh" <<-'SH'
	#!/bin/sh
	dd if=/dev/zero of=/tmp/a bs=1M count=6 2>/dev/null
	echo "first $?"
	err=$(dd if=/dev/zero of=/tmp/b bs=1M count=4 2>&1)
	echo "second $? $(echo "$err" | grep -o 'No space left on device' | head -n 1)"
	echo "bytes $(cat /tmp/a /tmp/b | wc -c)"
	echo "df $(df -Pk /tmp | awk 'NR == 2 { print $2, $3 }')"
	echo fill-done
	exec sleep 60
	SH
	cfg_edit --arg cg "$CG" '.linux.cgroupsPath = $cg'
	start_reader
	create "$d" "$ID"
	assert_tier_config tiny default 268435456 100000 50000 256 8388608
	assert_tier_cgroups "$d" "$ID" 268435456 100000 50000 256
	before=$(awk '$1 == "shmem" { print $2 }' "/sys/fs/cgroup/memory$CG/memory.stat")
	rwd "$d" start "$ID" > "$T/start.out" 2>&1 || fail "start: $(cat "$T/start.out")"
	wait_for 20 grep -qx fill-done "$T/out" || fail "no report from the container: $(cat "$T/out")"
	after=$(awk '$1 == "shmem" { print $2 }' "/sys/fs/cgroup/memory$CG/memory.stat")
	[ "$(probe first)" = 0 ] || fail "writing 6 MiB to /tmp failed: $(cat "$T/out")"
	v=$(probe second)
	[[ $v != 0* ]] && [[ $v == *"No space left on device" ]] ||
		fail "writing 4 MiB more to /tmp did not fail with ENOSPC: $(cat "$T/out")"
	[ "$(probe bytes)" = 8388608 ] || fail "/tmp took $(probe bytes) bytes, not 8 MiB: $(cat "$T/out")"
	[ "$(probe df)" = "8192 8192" ] || fail "df -k /tmp: $(probe df)"
	[ $((after - before)) -ge 8388608 ] ||
		fail "memory cgroup shmem went from $before to $after: the 8 MiB in /tmp are not charged to it"
	remove "$d" "$ID"
	assert_no_runwarden_errors
}

@test "runc: /tmp takes writes up to the tier's tmpfs size and no more (ENOSPC), charged to the memory cgroup" {
	tmpfs_fill runc
}

@test "crun: /tmp takes writes up to the tier's tmpfs size and no more (ENOSPC), charged to the memory cgroup" {
	tmpfs_fill crun
}

@test "runsc: /tmp takes writes up to the tier's tmpfs size and no more (ENOSPC), charged to the sandbox's memory cgroup" {
	tmpfs_fill runsc
}

# Under pro (1g, 1.0 CPU, 2g tmpfs, 256 pids): a container asking for less
# keeps its own limits (swap still = memory); one asking for more is clamped
# (quota = CPUs x its own period), and its own tmpfs mounts and dev.gvisor.*
# annotations are replaced/removed. Checked in config.json and the cgroups.
keep_and_clamp() {
	local d=$1 id2="$ID-above"
	require_delegate "$d"
	default_policy "$d"

	mkprobe
	cfg_edit '.annotations["org.runwarden.tier"] = "pro" |
		.linux.resources.memory = {"limit": 104857600, "swap": 314572800} |
		.linux.resources.cpu = {"period": 100000, "quota": 10000} |
		.linux.resources.pids = {"limit": 50}'
	start_reader
	create "$d" "$ID"
	assert_tier_config pro annotation 104857600 100000 10000 50 2147483648
	assert_tier_cgroups "$d" "$ID" 104857600 100000 10000 50
	remove "$d" "$ID"

	B="$T/bundle-above"
	CG="$CG-above"
	mkprobe
	cfg_edit '.annotations["org.runwarden.tier"] = "pro" |
		.annotations["dev.gvisor.spec.mount.tmp.share"] = "shared" |
		.linux.resources.memory = {"limit": 4294967296, "swap": -1} |
		.linux.resources.cpu = {"period": 50000, "quota": 400000} |
		.linux.resources.pids = {"limit": 100000} |
		.mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["exec", "mode=777", "size=64g"]},
			{"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]}]'
	start_reader
	create "$d" "$id2"
	assert_tier_config pro annotation 1073741824 50000 50000 256 2147483648
	cfg_is '[.mounts[] | select(.destination == "/tmp" or .destination == "/run") | .options[] |
		select(. == "exec" or . == "mode=777" or . == "size=64g")]' '[]'
	assert_tier_cgroups "$d" "$id2" 1073741824 50000 50000 256
	start_probe "$d" "$id2"
	assert_probe_tier "$d" 2147483648 1073741824
	remove "$d" "$id2"
	assert_no_runwarden_errors
}

@test "runc: limits below the tier are kept, above it clamped; the container's own tmpfs replaced" {
	keep_and_clamp runc
}

@test "crun: limits below the tier are kept, above it clamped; the container's own tmpfs replaced" {
	keep_and_clamp crun
}

@test "runsc: limits below the tier are kept, above it clamped; the container's own tmpfs replaced" {
	keep_and_clamp runsc
}

@test "runc: no annotation, no rule: the default tier (free), source default" {
	require_delegate runc
	default_policy runc
	mkprobe
	start_reader
	create runc "$ID"
	assert_tier_config free default 268435456 100000 25000 256 536870912
	assert_tier_cgroups runc "$ID" 268435456 100000 25000 256
	remove runc "$ID"
	assert_no_runwarden_errors
}

@test "runc: cgroup_parents selects the tier under its parent; the annotation comes first" {
	local parent="/rwtiers-$$-$ID-parent"
	require_delegate runc
	use_policy "{\"delegate\": \"runc\", \"audit_log\": \"$T/audit.log\", \"cgroup_parents\": {\"$parent\": \"basic\"}}"
	# (runc leaves the parent directories behind; teardown removes them.)
	track_cgroup "$parent"
	CG="$parent/a/c1"
	mkprobe
	start_reader
	create runc "$ID"
	assert_tier_config basic cgroup-parent 536870912 100000 50000 256 1073741824
	assert_tier_cgroups runc "$ID" 536870912 100000 50000 256
	remove runc "$ID"

	B="$T/bundle2"
	CG="$parent/c2"
	mkprobe
	cfg_edit '.annotations["org.runwarden.tier"] = "custom"'
	start_reader
	create runc "$ID-2"
	assert_tier_config custom annotation 2147483648 100000 200000 256 5368709120
	assert_tier_cgroups runc "$ID-2" 2147483648 100000 200000 256
	remove runc "$ID-2"
	assert_no_runwarden_errors
}

@test "runc: a tier the policy does not define is refused, nothing made" {
	local rc=0
	require_delegate runc
	# "tiers" replaces the default tiers: "pro" is no longer one.
	use_policy "{\"delegate\": \"runc\", \"audit_log\": \"$T/audit.log\",
		\"tiers\": {\"tiny\": {\"memory\": \"256m\", \"cpus\": \"0.5\", \"tmpfs\": \"8m\", \"pids\": 256}},
		\"default_tier\": \"tiny\"}"
	mkprobe
	cfg_edit '.annotations["org.runwarden.tier"] = "pro"'
	cp "$B/config.json" "$T/config.orig"
	track runc "$ID" "$CG"
	# (Not through `run`: a container wrongly created would hold its pipe.)
	rwd runc create --bundle "$B" "$ID" > "$T/create.out" 2> "$T/create.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "create exited $rc: $(cat "$T/create.err")"
	grep -qxF 'runwarden: refused: unknown tier "pro" (annotation org.runwarden.tier)' "$T/create.err" ||
		fail "stderr: $(cat "$T/create.err")"
	cmp -s "$B/config.json" "$T/config.orig" || fail "config.json changed"
	[ ! -e "$R/.runwarden-$ID.json" ] && [ ! -e "$R/$ID" ] && [ -z "$(cgroup_dirs "$CG")" ] ||
		fail "something of $ID was made: $(ls -A "$R" 2>&1; cgroup_dirs "$CG")"
}
