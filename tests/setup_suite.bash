# shellcheck shell=bash
# Run by bats once per suite file: the runtimes' default state directories
# that a suite's containers create (runc's /run/runc, crun's /run/crun,
# runsc's /run/runsc, runwarden's records in /run/runwarden) are removed
# again when the suite made them and they are empty at the end; one that
# existed before is left as it was.
setup_suite() {
	local d
	RW_NEW_STATE_DIRS=""
	for d in /run/runc /run/crun /run/runsc /run/runwarden; do
		[ -e "$d" ] || RW_NEW_STATE_DIRS="$RW_NEW_STATE_DIRS $d"
	done
	export RW_NEW_STATE_DIRS
}

teardown_suite() {
	local d
	for d in $RW_NEW_STATE_DIRS; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	return 0
}
