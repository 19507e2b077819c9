#!/usr/bin/env bats
# The policy file: `policy check` names every error at its place, `policy
# show --default` is a valid starting point, create fails closed with the same
# message, and `explain` tells what create would do without doing it.

load helpers/common

setup() {
	T=$(scratch)
	P="$T/policy.json"
	export RUNWARDEN_POLICY="$P"
}

# check_fails 'POLICY TEXT' 'AT' 'MESSAGE': policy check exits 1 and prints
# FILE:LINE:COL: MESSAGE, where LINE:COL is where the text AT first starts in
# the policy (the key or value at fault).
check_fails() {
	printf '%b' "$1" > "$P"
	local at
	at=$(python3 -c 'import sys
t = open(sys.argv[1]).read(); i = t.index(sys.argv[2])
print("%d:%d" % (t.count("\n", 0, i) + 1, i - (t.rfind("\n", 0, i) + 1) + 1))' "$P" "$(printf '%b' "$2")")
	run "$RUNWARDEN" policy check "$P"
	assert_failure 1
	assert_line "$P:$at: $3"
}

@test "policy check: a table of broken policies, each at its FILE:LINE:COL" {
	check_fails '{\n  "tierz": {}\n}\n' '"tierz"' 'unknown key "tierz"'
	check_fails '{"default_tier": 5}' '5' '"default_tier" must be a string'
	check_fails '{"default_tier": "free", "default_tier": "pro"}' '"default_tier": "pro"' 'duplicate key "default_tier"'
	check_fails '{"default_tier": "gold"}' '"gold"' 'tier "gold" is not defined (default_tier)'
	check_fails '{"cgroup_parents": {"/tenants/x": "gold"}}' '"gold"' 'tier "gold" is not defined (cgroup_parents)'
	check_fails '{"cgroup_parents": {"tenants": "free"}}' '"tenants"' 'a cgroup parent must be an absolute path or a systemd slice: "tenants"'
	check_fails '{"tiers": {"t": {"memory": "12q", "cpus": 1, "tmpfs": "1m", "pids": 1}}, "default_tier": "t"}' '"12q"' \
		'"memory": bad size "12q" (use bytes or a figure with k, m, g or t, e.g. "512m")'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 0, "tmpfs": "1m", "pids": 1}}, "default_tier": "t"}' '0,' \
		'"cpus" must be greater than zero'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": "x", "tmpfs": "1m", "pids": 1}}, "default_tier": "t"}' '"x"' \
		'"cpus": bad figure "x" (a number of CPUs up to 1024, e.g. 0.5)'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": "1m", "pids": -5}}, "default_tier": "t"}' '-5' \
		'"pids" must be greater than zero'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": "1m", "pids": 1.5}}, "default_tier": "t"}' '1.5' \
		'"pids" must be an integer'
	check_fails '{"tiers": {"t": {"memory": -1, "cpus": 1, "tmpfs": "1m", "pids": 5}}, "default_tier": "t"}' '-1' \
		'"memory" must be greater than zero'
	check_fails '{"tiers": {"t": {"memory": "0", "cpus": 1, "tmpfs": "1m", "pids": 5}}, "default_tier": "t"}' '"0"' \
		'"memory" must be greater than zero'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": true, "pids": 5}}, "default_tier": "t"}' 'true' \
		'"tmpfs" must be a size: a string like "512m" or a number of bytes'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "pids": 5}}, "default_tier": "t"}' '{"memory"' \
		'tier "t" has no "tmpfs"'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": "1m", "pids": 5, "capabilities": ["NET_ADMIN"]}}, "default_tier": "t"}' '"NET_ADMIN"' \
		'unknown capability "NET_ADMIN" (write it as CAP_NET_BIND_SERVICE)'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": "1m", "pids": 5, "swap": 1}}, "default_tier": "t"}' '"swap"' \
		'unknown key "swap" in a tier (memory, cpus, tmpfs, pids, capabilities, delegate, egress)'
	check_fails '{"tiers": {}}' '{}' '"tiers" defines no tier'
	check_fails '{"trusted": [{"name": "proxy", "image": "traefik:*"}]}' '{"name"' \
		'"trusted"[0] needs one of "annotation", "label", "cgroup_parent", "digest": an image name alone is anyone'"'"'s to choose'
	check_fails '{"trusted": [{"name": "p", "digest": "sha256:xyz"}]}' '"sha256:xyz"' \
		'"digest" must be "sha256:" and 64 lowercase hex digits'
	check_fails '{"audit_log": "audit.log"}' '"audit.log"' '"audit_log" must be an absolute path without "..": "audit.log"'
	check_fails '{"allow_host_paths": ["/srv", "data"]}' '"data"' '"allow_host_paths" entries must be an absolute path without "..": "data"'
	check_fails '{"delegate": "bin/runc"}' '"bin/runc"' '"delegate" must be a name (runsc, crun, runc) or an absolute path'
	check_fails '{"require_seccomp": "yes"}' '"yes"' '"require_seccomp" must be true or false'
	# the egress section
	check_fails '{"egress": {"rules": {"x": {"cidrs": ["10.0.0.0/33"]}}}}' '"10.0.0.0/33"' \
		'"cidrs": "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR'
	check_fails '{"egress": {"rules": {"x": {"ports": ["20-10"]}}}}' '"20-10"' \
		'"ports" entries must be ports (1 to 65535) or "lo-hi" ranges'
	check_fails '{"egress": {"rules": {"x": {"protocols": ["icmp"]}}}}' '"icmp"' '"protocols" entries must be "tcp" or "udp"'
	check_fails '{"egress": {"rules": {"bad name": {}}}}' '"bad name"' "an egress rule's name must be 1 to 32 letters, digits, '-' or '_'"
	check_fails '{"egress": {"allow": {"all": {}}}}' '{}' 'egress allow "all" needs "cidrs" or "ports": an allow of everything is no egress rules'
	check_fails '{"egress": {"drop": {}}}' '"drop"' 'unknown key "drop" in "egress" (rules, allow)'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": "1m", "pids": 5, "egress": ["smtp", "spam"]}}, "default_tier": "t"}' '"spam"' \
		'egress rule "spam" is not defined (egress.rules)'
	# the blocklist section
	check_fails '{"blocklist": {"categories": {"x": {"names": ["bin/xmrig"]}}}}' '"bin/xmrig"' \
		'"names" are basenames: "bin/xmrig" has a "/"'
	check_fails '{"blocklist": {"categories": {"x": {"contains": [""]}}}}' '""' \
		'"contains": an empty pattern would match everything'
	check_fails '{"blocklist": {"categories": {"x": {"ports": [9001, 70000]}}}}' '70000' \
		'"ports" entries must be ports, 1 to 65535'
	check_fails '{"blocklist": {"categories": {"x": {"file_digests": ["sha256:abc"]}}}}' '"sha256:abc"' \
		'"file_digests" entries must be "sha256:" and 64 hex digits'
	check_fails '{"blocklist": {"categories": {"x": {"names": "xmrig"}}}}' '"xmrig"' '"names" must be an array'
	check_fails '{"blocklist": {"categories": {"x": {"name": ["xmrig"]}}}}' '"name"' \
		'unknown key "name" in a blocklist category (names, args, contains, ports, images, image_digests, file_digests, skip_tiers, enabled)'
	check_fails '{"blocklist": {"categories": {"x": {"skip_tiers": ["gold"]}}}}' '"gold"' 'tier "gold" is not defined (skip_tiers)'
	check_fails '{"blocklist": {"categories": {"x": {"enabled": "no"}}}}' '"no"' '"enabled" must be true or false'
	check_fails '{"blocklist": {"allow": [{"category": "mail"}]}}' '{"category"' \
		'"allow"[0] needs "image" or "path": an exemption for everything is disabling the rule'
	check_fails '{"blocklist": {"allow": [{"category": "spam", "path": "/x"}]}}' '"spam"' \
		'blocklist category "spam" is not defined (allow)'
	check_fails '{"blocklist": {"scan": {"dirs": ["/usr/bin", "app"]}}}' '"app"' \
		'"dirs" entries must be an absolute path without "..": "app"'
	check_fails '{"blocklist": {"scan": {"depth": 40}}}' '40' '"depth" must be an integer from 0 to 32'
	check_fails '{"blocklist": {"scan": {"max_bytes": "lots"}}}' '"lots"' \
		'"max_bytes": bad size "lots" (use bytes or a figure with k, m, g or t, e.g. "512m")'
	check_fails '{"blocklist": {"scan": {"cache": "digests"}}}' '"digests"' '"cache" must be an absolute path without "..": "digests"'
	check_fails '{"blocklist": {"rules": []}}' '"rules"' 'unknown key "rules" in "blocklist" (categories, allow, scan)'
	# the sentry section
	check_fails '{"sentry": []}' '[]' '"sentry" must be an object'
	check_fails '{"sentry": {"interval": 1000}}' '"interval"' \
		'unknown key "interval" in "sentry" (interval_ms, window, flag_score, clear_score, cpu_high, throttled_high, syscalls_max, switches_max, execs_max, pool_bonus, exec_bonus, pool_rules, roots, events, metrics, textfile, status, actions)'
	check_fails '{"sentry": {"window": 8, "window": 9}}' '"window": 9' 'duplicate key "window"'
	check_fails '{"sentry": {"interval_ms": 50}}' '50' '"interval_ms" must be an integer from 100 to 60000'
	check_fails '{"sentry": {"interval_ms": 1000.5}}' '1000.5' '"interval_ms" must be an integer from 100 to 60000'
	check_fails '{"sentry": {"window": "8"}}' '"8"' '"window" must be an integer from 2 to 600'
	check_fails '{"sentry": {"window": 601}}' '601' '"window" must be an integer from 2 to 600'
	check_fails '{"sentry": {"flag_score": 1.5}}' '1.5' '"flag_score" must be a number greater than 0, at most 1'
	check_fails '{"sentry": {"clear_score": 0}}' '0}' '"clear_score" must be a number greater than 0, at most 1'
	check_fails '{"sentry": {"flag_score": 0.5, "clear_score": 0.5}}' '0.5}' '"clear_score" (0.5) must be below "flag_score" (0.5)'
	check_fails '{"sentry": {"flag_score": 0.2}}' '0.2' '"clear_score" (0.25) must be below "flag_score" (0.2)'
	check_fails '{"sentry": {"cpu_high": "0.8"}}' '"0.8"' '"cpu_high" must be a number greater than 0, at most 1'
	check_fails '{"sentry": {"throttled_high": 0}}' '0}' '"throttled_high" must be a number greater than 0, at most 1'
	check_fails '{"sentry": {"syscalls_max": -1}}' '-1' '"syscalls_max" must be a number, 0 or more'
	check_fails '{"sentry": {"switches_max": 1e999}}' '1e999' '"switches_max" must be a number, 0 or more'
	check_fails '{"sentry": {"execs_max": -1}}' '-1' '"execs_max" must be a number, 0 or more'
	check_fails '{"sentry": {"pool_bonus": 2}}' '2}' '"pool_bonus" must be a number from 0 to 1'
	check_fails '{"sentry": {"exec_bonus": true}}' 'true' '"exec_bonus" must be a number from 0 to 1'
	check_fails '{"sentry": {"pool_rules": "mining"}}' '"mining"' '"pool_rules" must be an array'
	check_fails '{"sentry": {"pool_rules": ["mining", "pools"]}}' '"pools"' 'egress rule "pools" is not defined (sentry.pool_rules)'
	check_fails '{"egress": {"rules": {"x": {"ports": [3333]}}}, "sentry": {"pool_rules": ["mining"]}}' '"mining"' \
		'egress rule "mining" is not defined (sentry.pool_rules)'
	check_fails '{"sentry": {"roots": ["/run/runwarden", "run/docker/*"]}}' '"run/docker/*"' \
		'"roots" entries must be an absolute path without "..": "run/docker/*"'
	check_fails '{"sentry": {"events": "sentry.log"}}' '"sentry.log"' \
		'"events" must be "-" (standard output) or an absolute path without "..": "sentry.log"'
	check_fails '{"sentry": {"events": 1}}' '1}' '"events" must be a string'
	check_fails '{"sentry": {"metrics": "localhost:9477"}}' '"localhost:9477"' \
		'"metrics" must be "" (off), "IPv4:PORT" or "[IPv6]:PORT" (numeric, the port 1 to 65535): "localhost:9477"'
	check_fails '{"sentry": {"metrics": "127.0.0.1:0"}}' '"127.0.0.1:0"' \
		'"metrics" must be "" (off), "IPv4:PORT" or "[IPv6]:PORT" (numeric, the port 1 to 65535): "127.0.0.1:0"'
	check_fails '{"sentry": {"metrics": "::1:9477"}}' '"::1:9477"' \
		'"metrics" must be "" (off), "IPv4:PORT" or "[IPv6]:PORT" (numeric, the port 1 to 65535): "::1:9477"'
	check_fails '{"sentry": {"textfile": "sentry.prom"}}' '"sentry.prom"' \
		'"textfile" must be "" (off) or an absolute path without "..": "sentry.prom"'
	check_fails '{"sentry": {"status": ""}}' '""' '"status" must be an absolute path without "..": ""'
	check_fails '{"sentry": {"status": "/run/../etc/x"}}' '"/run/../etc/x"' '"status" must be an absolute path without "..": "/run/../etc/x"'
	check_fails '{"sentry": {"actions": ["free"]}}' '["free"]' '"actions" must be an object: tier -> "none", "freeze" or "kill"'
	check_fails '{"sentry": {"actions": {"free": "freeze", "gold": "kill"}}}' '"gold"' 'tier "gold" is not defined (sentry.actions)'
	check_fails '{"sentry": {"actions": {"free": "stop"}}}' '"stop"' '"actions" values must be "none", "freeze" or "kill"'
	check_fails '{"tiers": {"t": {"memory": "1g", "cpus": 1, "tmpfs": "1m", "pids": 5}}, "default_tier": "t", "sentry": {"actions": {"free": "kill"}}}' \
		'"free"' 'tier "free" is not defined (sentry.actions)'
	# yajl stops at the byte where the text stopped making sense: the brace after ","
	check_fails '{\n  // comment\n  "tiers": {"t": {"memory": "1g",}}\n}' '}\n}' \
		"invalid JSON: parse error: invalid object key (must be a string)"
}

@test "policy check reports every error, not only the first" {
	printf '{\n  "default_tier": "gold",\n  "oops": 1,\n  "require_seccomp": 3\n}\n' > "$P"
	run "$RUNWARDEN" policy check "$P"
	assert_failure 1
	assert_line "$P:2:19: tier \"gold\" is not defined (default_tier)"
	assert_line "$P:3:3: unknown key \"oops\""
	assert_line "$P:4:22: \"require_seccomp\" must be true or false"
	[ "${#lines[@]}" -eq 3 ]
}

@test "human units are accepted: 512m, 1g, 1.5g, 512MiB, bytes; cpus as number or string" {
	printf '%s' '{"tiers": {"t": {"memory": "1.5g", "cpus": "0.5", "tmpfs": "512MiB", "pids": 10},
	              "u": {"memory": 268435456, "cpus": 2, "tmpfs": "64k", "pids": 1, "capabilities": ["CAP_NET_BIND_SERVICE"]}},
	   "default_tier": "t", "cgroup_parents": {"/tenants/u": "u"}, "audit_log": "/var/log/x.log"}' > "$P"
	run "$RUNWARDEN" policy check "$P"
	assert_success
	assert_output "$P: valid"
}

@test "policy show --default is commented, valid, and is contrib/policy.json" {
	run "$RUNWARDEN" policy show --default
	assert_success
	assert_line --partial '// runwarden policy'
	"$RUNWARDEN" policy show --default > "$T/default.json"
	run "$RUNWARDEN" policy check "$T/default.json"
	assert_success
	cmp "$T/default.json" <(sed "s|^// runwarden policy: .*, read|// runwarden policy: $(sed -n 's|^// runwarden policy: \(.*\), read.*|\1|p' "$T/default.json"), read|" "$RUNWARDEN_SRCDIR/contrib/policy.json")
	# its tiers are the hardening guide's
	for t in free:256m:0.25:512m basic:512m:0.5:1g pro:1g:1.0:2g custom:2g:2.0:5g; do
		IFS=: read -r name mem cpu tmp <<< "$t"
		grep -Eq "\"$name\": +\{ \"memory\": \"$mem\", +\"cpus\": $cpu, +\"tmpfs\": \"$tmp\", +\"pids\": 256" "$T/default.json"
	done
}

@test "sentry: a valid section loads; every key is optional, the rest keep their defaults" {
	cat > "$P" <<-'POL'
	{
		"egress": { "rules": { "pool": { "ports": [3333, "4444-4445"] } } },
		"sentry": {
			"interval_ms": 500, "window": 20, "flag_score": 0.9, "clear_score": 0.1,
			"cpu_high": 1, "throttled_high": 0.25, "syscalls_max": 0, "switches_max": 50.5, "execs_max": 0.5,
			"pool_bonus": 0, "exec_bonus": 1,
			"pool_rules": ["pool"],
			"roots": ["/run/runwarden", "/var/run/docker/runtime-*/*"],
			"events": "-", "metrics": "[::1]:9100", "textfile": "/var/lib/node_exporter/sentry.prom",
			"status": "/run/sentry.json",
			"actions": { "free": "freeze", "basic": "kill", "pro": "none" }
		}
	}
	POL
	run "$RUNWARDEN" policy check "$P"
	assert_success
	assert_output "$P: valid"
	printf '{"sentry": {"window": 4, "metrics": "", "textfile": "", "events": "/var/log/s.log"}}' > "$P"
	run "$RUNWARDEN" policy check "$P"
	assert_output "$P: valid"
	printf '{"sentry": {}}' > "$P"
	run "$RUNWARDEN" policy check "$P"
	assert_output "$P: valid"
	# a file with its own egress rules and no "mining" keeps the default
	# pool_rules out of its way (no rule, no counter)
	printf '{"egress": {"rules": {"smtp": {"ports": [25]}}}}' > "$P"
	run "$RUNWARDEN" policy check "$P"
	assert_output "$P: valid"
}

@test "sentry: the default section is in the embedded default, log only" {
	"$RUNWARDEN" policy show --default > "$T/default.json"
	for kv in '"interval_ms": 1000' '"window": 8' '"flag_score": 0.75' '"clear_score": 0.25' '"cpu_high": 0.8' \
		'"throttled_high": 0.5' '"syscalls_max": 100000' '"switches_max": 3000' '"execs_max": 2' '"pool_bonus": 0.3' '"exec_bonus": 0.3' \
		'"pool_rules": ["mining"]' '"events": "/var/log/runwarden/sentry.log"' '"metrics": "127.0.0.1:9477"' \
		'"textfile": ""' '"status": "/run/runwarden-sentry.json"' '"actions": {}'; do
		grep -qF -- "$kv" "$T/default.json" || fail "no $kv in the default"
	done
	grep -qE '"roots": \["[^"]+", "/run/docker/runtime-\*/\*", "/run/containerd/runc/\*"\]' "$T/default.json"
	run "$RUNWARDEN" policy show
	assert_success
	assert_line --partial '"sentry": {'
}

@test "policy show prints the file in force; without one, the default" {
	run "$RUNWARDEN" policy show
	assert_success
	assert_line --partial '"default_tier": "free"'
	echo '{"default_tier": "pro"} // mine' > "$P"
	run "$RUNWARDEN" policy show
	assert_output '{"default_tier": "pro"} // mine'
}

@test "a broken policy: create fails closed with the message policy check gives" {
	mkdir -p "$T/bundle" && (cd "$T/bundle" && runc spec)
	printf '{\n  "default_tier": "gold"\n}\n' > "$P"
	run "$RUNWARDEN" policy check "$P"
	want=${lines[0]}
	run "$RUNWARDEN" --root "$T/root" --log "$T/log.json" create --bundle "$T/bundle" c1
	assert_failure
	assert_output --partial "$want"
	run jq -r .msg "$T/log.json"
	assert_output "runwarden: policy: $want"
}

@test "explain: tier, source, delegate and every change, nothing written" {
	mkdir -p "$T/bundle" && (cd "$T/bundle" && runc spec)
	jq '.root.readonly = false | .process.noNewPrivileges = false' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	printf '{"delegate": "runc", "audit_log": "%s/audit.log"}' "$T" > "$P"
	sum=$(sha256sum < "$T/bundle/config.json")
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_success
	assert_line "tier: free (from default)"
	assert_line "delegate: runc ($(command -v runc))"
	assert_line "change: linux.resources.memory.limit: unset -> 268435456"
	assert_line "change: linux.resources.cpu.quota: unset -> 25000"
	assert_line "change: linux.resources.pids.limit: unset -> 256"
	assert_line "change: root.readonly: false -> true"
	assert_line --partial "change: process.capabilities.bounding: 3 dropped"
	assert_line "change: process.noNewPrivileges: false -> true"
	[ "$(sha256sum < "$T/bundle/config.json")" = "$sum" ]
	[ ! -e "$T/root" ]
	# the annotation selects another tier
	jq '.annotations = {"org.runwarden.tier": "pro"}' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_line "tier: pro (from annotation)"
	assert_line "change: linux.resources.memory.limit: unset -> 1073741824"
	# a refusal, and an unknown tier
	jq '.annotations = {"org.runwarden.tier": "gold"}' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_failure
	assert_line 'refused: unknown tier "gold" (annotation org.runwarden.tier)'
	jq '.annotations = {} | .linux.namespaces |= map(select(.type != "network"))' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_failure
	assert_line --partial 'refused: host network namespace'
}

@test "a tier's own delegate, and a trusted rule's, are the ones create records" {
	mkdir -p "$T/bundle" "$T/root" && (cd "$T/bundle" && runc spec)
	recording_delegate "$T/mock-a"
	recording_delegate "$T/mock-b"
	printf '{"delegate": "%s", "tiers": {"free": {"memory": "256m", "cpus": 0.25, "tmpfs": "64m", "pids": 64},
	  "pro": {"memory": "1g", "cpus": 1, "tmpfs": "64m", "pids": 64, "delegate": "%s"}},
	  "trusted": [{"name": "agent", "annotation": {"example.org/role": "agent"}, "delegate": "%s"}]}' \
		"$T/mock-a" "$T/mock-b" "$T/mock-b" > "$P"
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c-free
	assert_success
	[ -e "$T/argv" ] && [ "$(jq -r .delegate "$T/root/.runwarden-c-free.json")" = mock-a ]
	jq '.annotations = {"org.runwarden.tier": "pro"}' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c-pro
	assert_success
	[ "$(jq -r .delegate "$T/root/.runwarden-c-pro.json")" = mock-b ]
	[ "$(jq -r .limits.tier "$T/root/.runwarden-c-pro.json")" = pro ]
	jq '.annotations = {"example.org/role": "agent"}' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" --root "$T/root" create --bundle "$T/bundle" c-agent
	assert_success
	[ "$(jq -r .delegate "$T/root/.runwarden-c-agent.json")" = mock-b ]
	[ "$(jq -r .limits.tenant "$T/root/.runwarden-c-agent.json")" = false ]
	[ "$(jq -r '.annotations["org.runwarden.tier.source"]' "$T/bundle/config.json")" = trusted:agent ]
	run jq -r 'select(.event == "trusted") | .rule' "$RUNWARDEN_AUDIT_LOG"
	assert_line agent
}

@test "blocklist: a file's category replaces the default one of that name, a new one adds, the rest stay" {
	mkdir -p "$T/bundle" && (cd "$T/bundle" && runc spec)
	setcmd() { jq --argjson a "$1" '.process.args = $a' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"; }
	cat > "$P" <<-'POL'
	{
		"delegate": "runc",
		"blocklist": {
			"categories": {
				"mail": { "enabled": false },
				"games": {
					"names": ["doom"]
				}
			}
		}
	}
	POL
	# mail is off: sendmail runs
	setcmd '["/usr/sbin/sendmail", "-bd"]'
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_success
	assert_line --regexp '^blocklist: [0-9]+ files, 0 hashed, 0 cached, '
	# the new category, named at its line in the file
	setcmd '["/usr/games/DOOM"]'
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_failure
	assert_line "refused: blocklist \"games\" rule \"doom\" ($P:7) matched process.args[0] \"/usr/games/DOOM\""
	# the default miners category still applies, named at its line in the embedded default
	line=$("$RUNWARDEN" policy show --default | grep -n '"xmrig"' | cut -d: -f1)
	setcmd '["xmrig", "-o", "pool:3333"]'
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_failure
	assert_line "refused: blocklist \"miners\" rule \"xmrig\" (<embedded default>:$line) matched process.args[0] \"xmrig\""
	# explain is a dry run: no audit line
	[ ! -s "$RUNWARDEN_AUDIT_LOG" ] || ! grep -q '"event":"blocklist"' "$RUNWARDEN_AUDIT_LOG"
}

@test "blocklist: the default allow exempts MinIO's console port from the tor port rule, for MinIO images only" {
	mkdir -p "$T/bundle" && (cd "$T/bundle" && runc spec)
	printf '{"delegate": "runc"}' > "$P"
	jq '.process.args = ["minio", "server", "/data", "--console-address", ":9001"]' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_failure
	assert_line --partial 'refused: blocklist "tor" rule "9001"'
	assert_line --partial 'matched process.args[4] ":9001"'
	jq '.annotations = {"org.opencontainers.image.ref.name": "quay.io/minio/minio:RELEASE.2024-01-01"}' "$T/bundle/config.json" > "$T/c" && mv "$T/c" "$T/bundle/config.json"
	run "$RUNWARDEN" explain --bundle "$T/bundle"
	assert_success
	assert_line --regexp '^blocklist: '
}
