#!/bin/sh
# tests/fuzz/run.sh - run one libFuzzer harness, or summarise the last runs.
#
#   run.sh FUZZ_BUILD NAME SECONDS [LIBFUZZER_FLAGS...]
#   run.sh FUZZ_BUILD --summary NAME...
#
# The first form runs FUZZ_BUILD/fuzz_NAME for SECONDS on FUZZ_BUILD/corpus/NAME
# (new finds go there and stay for the next run) plus the read-only seeds in
# FUZZ_BUILD/seeds/NAME, saves reproducers as FUZZ_BUILD/crashes/NAME-*, the
# log as FUZZ_BUILD/logs/NAME.log, and prints one line: executions, speed,
# coverage (cov: edges, ft: features), corpus size and what it found.  It
# exits 1 when the harness found a crash, leak, timeout, OOM or broken
# contract.  --summary prints the saved lines again, and fails if any did.
set -u
B=$1
shift

if [ "${1:-}" = --summary ]; then
	shift
	status=0
	echo "fuzz summary:"
	for n in "$@"; do
		if [ -f "$B/logs/$n.summary" ]; then
			sed 's/^/  /' "$B/logs/$n.summary"
			grep -q -E ': ok($| \(slow units)' "$B/logs/$n.summary" || status=1
		else
			echo "  fuzz_$n: not run"
			status=1
		fi
	done
	exit $status
fi

n=$1
secs=$2
shift 2
bin=$B/fuzz_$n
mkdir -p "$B/corpus/$n" "$B/seeds/$n" "$B/crashes" "$B/logs"
log=$B/logs/$n.log
# Slow units (libFuzzer's -report_slow_units) are not failures: they are
# listed apart, with the time each takes when run again, since a machine
# that was busy or paused makes any input look slow.
count() { find "$B/crashes" -name "$n-*" ! -name "$n-slow-unit-*" | wc -l; }
before=$(count)
touch "$B/logs/$n.started"

# stdin from /dev/null: a kernel spec is tried as a path, and must never
# wait on a terminal.  Leaks are findings (detect_leaks is libFuzzer's default).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$bin" -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$B/crashes/$n-" "$@" "$B/corpus/$n" "$B/seeds/$n" \
	</dev/null >"$log" 2>&1
rc=$?

after=$(count)
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
runs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
rss=$(stat peak_rss_mb)
# The last status line: "#N DONE cov: X ft: Y corp: A/B ..." (or the last pulse).
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1 | cut -d' ' -f2)
if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
	result=ok
else
	what=$(grep -m1 -o 'ERROR: [A-Za-z]*: [^ ]*\|fuzz contract broken: .*\|ERROR: libFuzzer: [a-z-]*' "$log")
	result="FOUND (exit $rc): ${what:-see $log}; reproducers: $(find "$B/crashes" -name "$n-*" | tr '\n' ' ')"
fi
# The time it really ran: -runs may end it before SECONDS.
took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
slow=
for f in $(find "$B/crashes" -name "$n-slow-unit-*" -newer "$B/logs/$n.started" 2>/dev/null); do
	t0=$(date +%s%N)
	"$bin" "$f" >/dev/null 2>&1
	t1=$(date +%s%N)
	slow="$slow $(( (t1 - t0) / 1000000 )) ms"
done
[ -n "$slow" ] && result="$result (slow units reported, run again:$slow)"
line="fuzz_$n: ${runs:-?} runs in ${took:-$secs} s (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, peak RSS ${rss:-?} MB: $result"
echo "$line" | tee "$B/logs/$n.summary"
[ "$result" = ok ]
