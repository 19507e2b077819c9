#!/usr/bin/env bats
# The README's first command, scripts/demo, run on this build: it is
# self-checking (exit 1 when a step did not show what it should, or something
# it started is left behind), so this suite runs it and reads its verdict and
# the lines that carry each step's proof.

load helpers/common

@test "scripts/demo shows every step and cleans up" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v dockerd > /dev/null || skip "docker.io not installed"
	run env RW_DEMO_BUILD="$RUNWARDEN_BUILDDIR" timeout 300 "$RUNWARDEN_SRCDIR/scripts/demo"
	echo "$output"
	assert_success
	assert_output --partial 'ok: memory 512 MiB, 0.5 CPU'
	assert_output --partial 'refused: blocklist "miners" rule "xmrig"'
	assert_output --partial 'ok: the request to 169.254.169.254 got no answer'
	assert_output --partial 'ok: the spinning container was flagged within 20 s'
	assert_output --regexp 'demo: every step showed what it should \([0-9]+ s after the build\)'
	run stat -c '%U:%G %a' /dev/null
	assert_output 'root:root 666'
}
