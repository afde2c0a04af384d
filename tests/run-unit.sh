#!/bin/sh
# Run every Check suite binary given as an argument; print one summary line.
# Check itself prints "NN%: Checks: N, Failures: N, Errors: N" per suite.
status=0
for t in "$@"; do
	echo "== $(basename "$t")"
	$TEST_WRAPPER "$t" || status=1
done
exit $status
