#!/usr/bin/env bats
# What an operator installs: make install (the programs, the man pages, the
# default policy that never overwrites an edited one, the sentry's systemd
# unit) and the Debian package built from the tree with the same files. The
# package is built and inspected, never installed: the machine is left as
# found.

load helpers/common
load helpers/install

setup() {
	T=$(scratch)
	bindir=$(make_var bindir)
	mandir=$(make_var mandir)
	policy=$(make_var RW_POLICY_FILE)
	unitdir=$(make_var systemdsystemunitdir)
	MANPAGES="man8/runwarden.8 man5/runwarden-policy.5 man8/runwarden-sentry.8"
}

# no_warnings FILE: man and groff render the page without a warning.
no_warnings() {
	run env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1"
	assert_success
	run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$1' 2>&1 >/dev/null"
	assert_output ""
	case $1 in
	*.gz) run bash -c "zcat '$1' | groff -man -ww -z -Tutf8 2>&1" ;;
	*) run groff -man -ww -z -Tutf8 "$1" ;;
	esac
	assert_success
	assert_output ""
}

# bold_words FILE: the words the page sets in bold (command and option
# names, keys), one a line.
bold_words() {
	groff -man -Tascii -P-c -rLL=300n "$1" 2>/dev/null |
		perl -ne 'while (/((?:([^\x08])\x08\2)+)/g) { (my $w = $1) =~ s/.\x08//g; print "$w\n" }'
}

@test "make install DESTDIR: the programs, the three man pages (rendered without warnings), the policy, the unit with this build's paths" {
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	for p in runwarden runwarden-egress runwarden-sentry; do
		[ -x "$T/dest$bindir/$p" ]
	done
	for m in $MANPAGES; do
		[ -f "$T/dest$mandir/$m" ]
		no_warnings "$T/dest$mandir/$m"
	done
	# the policy is the embedded default, installed where runwarden reads
	# it, and valid
	cmp "$RUNWARDEN_SRCDIR/contrib/policy.json" "$T/dest$policy"
	run "$RUNWARDEN" policy check "$T/dest$policy"
	assert_success
	run "$RUNWARDEN" policy show --default
	assert_output "$(cat "$T/dest$policy")"
	[ "$(stat -c %a "$T/dest$policy")" = 644 ]
	# the unit starts the sentry this build installs
	[ "$unitdir" != no ] || skip "configured --without-systemdsystemunitdir"
	u="$T/dest$unitdir/runwarden-sentry.service"
	run grep -x "ExecStart=$bindir/runwarden-sentry" "$u"
	assert_success
	run grep -x 'Documentation=man:runwarden-sentry(8) man:runwarden-policy(5)' "$u"
	assert_success
	run grep -c '^#.*cp contrib' "$u"
	assert_output 0
	if command -v systemd-analyze >/dev/null; then
		# systemd's own parser: no unknown keys or bad values (the
		# binary's absence from / is the only complaint allowed)
		run systemd-analyze verify "$u"
		refute_output --partial "Unknown key"
		refute_output --partial "Failed to parse"
	fi
}

@test "the man pages name every verb, every policy key and every sentry option of the code" {
	src=$RUNWARDEN_SRCDIR
	bold_words "$src/man/runwarden.8" > "$T/rw"
	bold_words "$src/man/runwarden-policy.5" > "$T/pol"
	bold_words "$src/man/runwarden-sentry.8" > "$T/sentry"
	missing=""
	for v in $(grep -o '{ "[a-z-]*", VERB_' "$src/shim/args.c" | cut -d'"' -f2); do
		grep -qxF -- "$v" "$T/rw" || missing="$missing runwarden.8:$v"
	done
	for k in $( (grep -o 'key_is([a-z]*, "[a-z_]*")' "$src/policy/policy.c"; grep -o '{ "[a-z_]*", BL_' "$src/policy/policy.c") |
		cut -d'"' -f2 | sort -u); do
		grep -qxF -- "$k" "$T/pol" || missing="$missing runwarden-policy.5:$k"
	done
	for o in $(grep -o '{ "[a-z-]*", [a-z_]*_argument' "$src/bpf/sentry.c" | cut -d'"' -f2); do
		grep -qxF -- "--$o" "$T/sentry" || missing="$missing runwarden-sentry.8:--$o"
	done
	# doctor's, install's and uninstall's options
	for o in $(cat "$src/shim/doctor.c" "$src/shim/install.c" | grep -o '{ "[a-z-]*", [a-z_]*_argument' | cut -d'"' -f2); do
		grep -qxF -- "--$o" "$T/rw" || missing="$missing runwarden.8:--$o"
	done
	[ -z "$missing" ] || { echo "not in the man pages:$missing"; false; }
	# and the release they describe is this one
	for m in runwarden.8 runwarden-policy.5 runwarden-sentry.8; do
		grep -q "^\.TH .* \"runwarden $(make_var PACKAGE_VERSION)\" " "$src/man/$m"
	done
	# the sanity of the check itself: it did find verbs, keys and options
	[ "$(grep -c 'VERB_[A-Z]*, \(true\|false\)' "$src/shim/args.c")" -ge 20 ]
	grep -qxF -- interval_ms "$T/pol"
	grep -qxF -- --once "$T/sentry"
}

@test "a second make install keeps an edited policy.json and puts the new default beside it as policy.json.dist; uninstall keeps the edit" {
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	p="$T/dest$policy"
	# unedited: a second install leaves it and adds nothing
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	cmp "$RUNWARDEN_SRCDIR/contrib/policy.json" "$p"
	[ ! -e "$p.dist" ]
	# the operator's edit
	sed -i 's/"default_tier": "free"/"default_tier": "basic"/' "$p"
	echo '// edited by the operator' >> "$p"
	cp "$p" "$T/edited"
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	assert_output --partial "$p: kept (it differs from the default); the new default is $p.dist"
	cmp "$T/edited" "$p"
	cmp "$RUNWARDEN_SRCDIR/contrib/policy.json" "$p.dist"
	# and again: still the edit
	run make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest"
	assert_success
	cmp "$T/edited" "$p"
	# uninstall removes the programs, the pages, the unit and the .dist,
	# never the operator's policy
	run make -C "$RUNWARDEN_BUILDDIR" uninstall DESTDIR="$T/dest"
	assert_success
	cmp "$T/edited" "$p"
	run find "$T/dest" -type f
	assert_output "$p"
}

@test "dpkg-buildpackage -us -uc -b builds from a copy of the tree a .deb with make install's files, the policy a conffile, the unit neither enabled nor started" {
	command -v dpkg-buildpackage >/dev/null || skip "dpkg-dev is not installed (scripts/install-deps)"
	command -v dh >/dev/null || skip "debhelper is not installed (scripts/install-deps)"
	git -C "$RUNWARDEN_SRCDIR" rev-parse --git-dir >/dev/null 2>&1 || skip "the source is not a git checkout"
	version=$(dpkg-parsechangelog -l "$RUNWARDEN_SRCDIR/debian/changelog" -S Version)
	# the package's version is the release's
	[ "$version" = "$(make_var PACKAGE_VERSION)" ]
	# The tree as it would be committed: tracked and new files, not what
	# .gitignore names (in-tree builds, configure's output), so the package
	# builds from scratch: autoreconf, configure, make.
	src="$T/deb/runwarden-$version"
	mkdir -p "$src"
	(cd "$RUNWARDEN_SRCDIR" && git ls-files -z --cached --others --exclude-standard) |
		tar -C "$RUNWARDEN_SRCDIR" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$src" -xf -
	[ -x "$src/debian/rules" ]
	[ ! -e "$src/configure" ]
	start=$SECONDS
	(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1 ||
		{ tail -n 60 "$T/build.log"; false; }
	echo "# dpkg-buildpackage: $((SECONDS - start)) s" >&3
	deb=$(echo "$T"/deb/runwarden_"$version"_*.deb)
	[ -f "$deb" ]

	# its files: make install's, with the Debian paths, plus the copyright
	# and changelog every package has
	run bash -c "dpkg-deb -c '$deb' | awk '\$1 !~ /^d/ { print \$6 }' | sort"
	assert_success
	assert_output "$(printf '%s\n' ./etc/runwarden/policy.json ./lib/systemd/system/runwarden-sentry.service \
		./usr/bin/runwarden ./usr/bin/runwarden-egress ./usr/bin/runwarden-sentry \
		./usr/share/doc/runwarden/changelog.gz ./usr/share/doc/runwarden/copyright \
		./usr/share/man/man5/runwarden-policy.5.gz ./usr/share/man/man8/runwarden-sentry.8.gz \
		./usr/share/man/man8/runwarden.8.gz | sort)"
	# the same names as this build's make install, whatever its prefix
	make -C "$RUNWARDEN_BUILDDIR" install DESTDIR="$T/dest" >/dev/null
	installed=$(find "$T/dest" -type f -printf '%f\n' | sed 's/\.[58]$/&.gz/' | sort)
	packaged=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | grep -v '^./usr/share/doc/' |
		sed 's|.*/||' | sort)
	[ "$installed" = "$packaged" ]

	# the policy is a conffile (dpkg keeps an edited one on upgrade) and
	# the default
	run dpkg-deb -I "$deb" conffiles
	assert_output /etc/runwarden/policy.json
	dpkg-deb -x "$deb" "$T/x"
	cmp "$RUNWARDEN_SRCDIR/contrib/policy.json" "$T/x/etc/runwarden/policy.json"
	# the programs run, the unit starts the packaged sentry, the pages render
	run "$T/x/usr/bin/runwarden" --version
	assert_success
	assert_line --index 0 "runwarden version $version"
	run "$T/x/usr/bin/runwarden-sentry" --version
	assert_success
	run grep -x 'ExecStart=/usr/bin/runwarden-sentry' "$T/x/lib/systemd/system/runwarden-sentry.service"
	assert_success
	for m in $MANPAGES; do
		no_warnings "$T/x/usr/share/man/$m.gz"
	done

	# the dependencies: shared libraries from shlibs, a delegate recommended
	run dpkg-deb -f "$deb" Depends
	assert_output --partial libbpf1
	assert_output --partial libnftnl11
	run dpkg-deb -f "$deb" Recommends
	assert_output "runc | crun | runsc"

	# the unit is not enabled nor started on install: only "was it enabled
	# before" (an upgrade) re-enables, only try-restart (a running one) on
	# upgrade; removal stops it; daemon.json is not the package's business
	run dpkg-deb -I "$deb" postinst
	assert_success
	assert_output --partial "deb-systemd-helper debian-installed 'runwarden-sentry.service'"
	assert_output --partial "deb-systemd-invoke try-restart"
	refute_output --regexp 'deb-systemd-invoke (start|restart)'
	refute_output --partial daemon.json
	run dpkg-deb -I "$deb" prerm
	assert_output --partial "deb-systemd-invoke stop runwarden-sentry.service"
	run bash -c "for s in preinst postinst prerm postrm; do dpkg-deb -I '$deb' \$s 2>/dev/null; done"
	refute_output --partial docker
}
