#!/usr/bin/env bats
# The build as an operator runs it: make install with DESTDIR and --prefix,
# and configure naming the Debian package of a missing dependency.

load helpers/common
load helpers/install

setup() {
	T=$(scratch)
}

@test "make install DESTDIR puts the programs, the man pages, the default policy and the sentry's unit in place, and the programs run" {
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	bindir=$(make_var bindir)
	mandir=$(make_var mandir)
	policy=$(make_var RW_POLICY_FILE)
	unitdir=$(make_var systemdsystemunitdir)
	[ -x "$T/dest$bindir/runwarden" ]
	run "$T/dest$bindir/runwarden" --version
	assert_success
	assert_line --index 0 --regexp '^runwarden version [0-9]+\.[0-9]+\.[0-9]+$'
	# runwarden-egress (the egress hooks) and runwarden-sentry beside it, the
	# three man pages, the policy where runwarden reads it, the unit; nothing
	# else: the bench trampoline and tests stay in the tree
	expected=("$T/dest$bindir/runwarden" "$T/dest$bindir/runwarden-egress" "$T/dest$bindir/runwarden-sentry"
		"$T/dest$mandir/man8/runwarden.8" "$T/dest$mandir/man8/runwarden-sentry.8"
		"$T/dest$mandir/man5/runwarden-policy.5" "$T/dest$policy")
	[ "$unitdir" = no ] || expected+=("$T/dest$unitdir/runwarden-sentry.service")
	run bash -c "find '$T/dest' -type f | sort"
	assert_output "$(printf '%s\n' "${expected[@]}" | sort)"
	run "$T/dest$bindir/runwarden-egress" egress show
	assert_success
	# the BPF object is inside the sentry (skeleton): no file to install
	run "$T/dest$bindir/runwarden-sentry" --version
	assert_success
	assert_output --regexp '^runwarden-sentry [0-9]+\.[0-9]+\.[0-9]+ '
	# and make uninstall takes it all away again (the policy, unedited, too)
	run make -C "$RUNWARDEN_BUILDDIR" uninstall DESTDIR="$T/dest"
	assert_success
	run find "$T/dest" -type f
	assert_output ""
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
