#!/usr/bin/env bats
# The build as an operator runs it: make install with DESTDIR and --prefix,
# and configure naming the Debian package of a missing dependency.

load helpers/common

setup() {
	T=$(scratch)
}

@test "make install DESTDIR puts runwarden, runwarden-egress and runwarden-sentry under the prefix, and they run" {
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	prefix=$(sed -n 's/^prefix = //p' "$RUNWARDEN_BUILDDIR/Makefile")
	[ -x "$T/dest$prefix/bin/runwarden" ]
	run "$T/dest$prefix/bin/runwarden" --version
	assert_success
	assert_line --index 0 --regexp '^runwarden version [0-9]+\.[0-9]+\.[0-9]+$'
	# runwarden-egress (the egress hooks) and runwarden-sentry beside it,
	# nothing else: the bench trampoline and tests stay in the tree
	run bash -c "find '$T/dest' -type f | sort"
	assert_output "$(printf '%s\n' "$T/dest$prefix/bin/runwarden" "$T/dest$prefix/bin/runwarden-egress" \
		"$T/dest$prefix/bin/runwarden-sentry" | sort)"
	run "$T/dest$prefix/bin/runwarden-egress" egress show
	assert_success
	# the BPF object is inside the sentry (skeleton): no file to install
	run "$T/dest$prefix/bin/runwarden-sentry" --version
	assert_success
	assert_output --regexp '^runwarden-sentry [0-9]+\.[0-9]+\.[0-9]+ '
}

# A fresh out-of-tree configure needs an unconfigured source tree (autoconf's
# rule); scripts/test builds that way, an in-tree developer build does not.
fresh_configure() {
	[ ! -f "$RUNWARDEN_SRCDIR/config.status" ] || skip "source tree configured in place"
	[ -x "$RUNWARDEN_SRCDIR/configure" ] || skip "no configure script"
	mkdir -p "$T/build"
	cd "$T/build"
	run "$RUNWARDEN_SRCDIR/configure" -q "$@"
}

@test "--prefix and DESTDIR" {
	fresh_configure --prefix=/opt/rw
	assert_success
	run make -j2 runwarden
	assert_success
	run make install-exec DESTDIR="$T/dest"
	assert_success
	[ -x "$T/dest/opt/rw/bin/runwarden" ]
}

@test "configure fails naming the -dev package of a missing library" {
	PKG_CONFIG_LIBDIR="$T/empty" PKG_CONFIG_PATH="" fresh_configure
	assert_failure
	assert_output --partial "libyajl-dev"
}
