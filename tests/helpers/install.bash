# shellcheck shell=bash
# Shared by tests/install.bats and tests/package.bats.

# make_var NAME: the value of a variable of the build's Makefile, expanded
# ($(bindir), $(RW_POLICY_FILE), $(systemdsystemunitdir)...).
make_var() {
	printf 'rw-print-var:\n\t@echo $(%s)\n' "$1" |
		make -s --no-print-directory -C "$RUNWARDEN_BUILDDIR" -f Makefile -f - rw-print-var
}
