# tests/clilib.sh - helpers shared by the command-line test scripts.
#
# Sourced by tests/cli.sh and tests/cli_batch.sh, which set IMF (the command,
# possibly with a wrapper such as valgrind), T (their temporary folder) and
# pass=0 fail=0 before using these.

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}

# run ARGS...: runs imfilter, stdout -> $T/out, stderr -> $T/err, status -> $rc
run() {
	$IMF "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect_ok NAME: the last run succeeded with nothing on stderr
expect_ok() {
	if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ]; then ok; else
		bad "$1: status $rc, stderr: $(cat "$T/err")"
	fi
}

# expect_status NAME STATUS: the last run exited with STATUS
expect_status() {
	if [ "$rc" -eq "$2" ]; then ok; else bad "$1: status $rc (want $2): $(cat "$T/err")"; fi
}

# expect_err NAME STATUS MESSAGE: the last run failed with STATUS and exactly
# one stderr line equal to MESSAGE
expect_err() {
	lines=$(wc -l <"$T/err")
	msg=$(cat "$T/err")
	if [ "$rc" -eq "$2" ] && [ "$lines" -eq 1 ] && [ "$msg" = "$3" ]; then ok; else
		bad "$1: status $rc (want $2), $lines lines: '$msg' (want '$3')"
	fi
}

# expect_out NAME FILE TEXT: FILE holds exactly TEXT
expect_out() {
	if [ "$(cat "$2")" = "$3" ]; then ok; else
		bad "$1: got '$(cat "$2")', want '$3'"
	fi
}
