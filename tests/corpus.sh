#!/bin/sh
# tests/corpus.sh - run imfilter on every hostile file in tests/corpus/.
#
# tests/corpus/MANIFEST (written by tests/corpus/make-corpus.py) has one line
# per file:  FILE<TAB>MODE<TAB>STATUS<TAB>KEYWORDS
#   MODE input:  imfilter -k sobel FILE OUT.png
#   MODE kernel: imfilter -k FILE samples/shapes.png OUT.png
#   STATUS the expected exit status; KEYWORDS '|'-separated substrings that the
#   one stderr line must all contain, or must not contain when written '!TEXT'
#   ('-' when STATUS is 0).
# For every file this checks: the exit status; no crash signal (status >= 128)
# and no timeout; on failure exactly one stderr line, starting with the file's
# path or "imfilter: ", holding every keyword and no control character (a
# hostile file must not be able to write terminal escapes or extra lines);
# on success an empty stderr and an output file; on failure no output file and
# no temporary file (.*.imfilter-*) left in the output folder.  It also checks
# that every file in tests/corpus/ is in the manifest and the other way round.
# Prints "corpus: N passed, N failed" last; exits 1 if anything failed.
#
# Environment:
#   IMFILTER        the command (default build/imfilter); may be a wrapper with
#                   arguments, e.g. IMFILTER="valgrind -q --error-exitcode=99 build/imfilter"
#   IMF_NO_ULIMIT   if set, skip 'ulimit -v 2097152' (the 2 GiB address-space cap
#                   that proves memory stays bounded at default limits).  Set it
#                   under AddressSanitizer, whose shadow memory reserves terabytes
#                   of address space and cannot start under the cap, and under
#                   valgrind, which needs room of its own.
#   IMF_TIMEOUT     seconds per file (default 10); raise it for valgrind.
set -u

IMF=${IMFILTER:-build/imfilter}
TIMEOUT=${IMF_TIMEOUT:-10}
here=$(dirname "$0")
C=$here/corpus
M=$C/MANIFEST
SHAPES=$here/../samples/shapes.png
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-corpus-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}

if [ ! -f "$M" ]; then
	echo "FAIL: $M is missing"
	echo "corpus: 0 passed, 1 failed"
	exit 1
fi

# ---- the manifest and the folder agree ------------------------------------------
tab=$(printf '\t')
grep -v '^#' "$M" | grep -v '^$' | cut -f1 | sort >"$T/listed"
find "$C" -mindepth 1 -maxdepth 1 ! -name MANIFEST ! -name make-corpus.py ! -name __pycache__ \
	-exec basename {} \; | sort >"$T/present"
missing=$(comm -13 "$T/present" "$T/listed")
unlisted=$(comm -23 "$T/present" "$T/listed")
dups=$(uniq -d "$T/listed")
if [ -z "$missing$unlisted$dups" ]; then ok; else
	[ -n "$missing" ] && bad "in MANIFEST but not in tests/corpus/: $(echo "$missing" | tr '\n' ' ')"
	[ -n "$unlisted" ] && bad "in tests/corpus/ but not in MANIFEST: $(echo "$unlisted" | tr '\n' ' ')"
	[ -n "$dups" ] && bad "listed twice in MANIFEST: $(echo "$dups" | tr '\n' ' ')"
fi

# ---- every file ------------------------------------------------------------------
mkdir -p "$T/dst"
while IFS="$tab" read -r file mode want keywords; do
	case $file in '' | '#'*) continue ;; esac
	path=$C/$file
	[ -f "$path" ] || continue # reported above
	rm -rf "$T/dst" && mkdir "$T/dst"
	out=$T/dst/out.png
	case $mode in
	input) set -- -k sobel "$path" "$out"; who=$path ;;
	kernel) set -- -k "$path" "$SHAPES" "$out"; who=$path ;;
	*)
		bad "$file: unknown mode '$mode' in MANIFEST"
		continue
		;;
	esac
	# $IMF unquoted: it may be a wrapper command with arguments.  ulimit -v
	# is not POSIX, but dash, bash, busybox and ksh all have it.
	(
		[ -n "${IMF_NO_ULIMIT:-}" ] || ulimit -v 2097152
		exec timeout "$TIMEOUT" $IMF "$@"
	) </dev/null >"$T/stdout" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	# A last line without its newline counts too.
	[ -s "$T/err" ] && [ "$(tail -c 1 "$T/err" | od -An -c | tr -d ' ')" != '\n' ] && lines=$((lines + 1))
	msg=$(head -n 1 "$T/err")
	what="$file ($mode): status $rc (want $want)"
	if [ "$rc" -eq 124 ]; then
		bad "$what: timed out after ${TIMEOUT}s"
		continue
	fi
	if [ "$rc" -ge 128 ]; then
		bad "$what: killed by signal $((rc - 128)): $(head -c 300 "$T/err")"
		continue
	fi
	left=$(find "$T/dst" -name '.*.imfilter-*' | wc -l)
	problems=
	if [ "$rc" -ne "$want" ]; then
		problems="; wrong status"
	elif [ "$want" -eq 0 ]; then
		[ "$lines" -eq 0 ] || problems="$problems; stderr not empty"
		[ -s "$out" ] || problems="$problems; no output file"
	else
		[ "$lines" -eq 1 ] || problems="$problems; $lines stderr lines"
		case $msg in
		"$who: "* | "imfilter: "*) ;;
		*) problems="$problems; message does not start with the file or 'imfilter: '" ;;
		esac
		# Each keyword, split on '|' (the shell's own word splitting would
		# break keywords that hold spaces).
		rest=$keywords
		while [ -n "$rest" ]; do
			kw=${rest%%|*}
			case $rest in *'|'*) rest=${rest#*|} ;; *) rest= ;; esac
			case $kw in
			'!'*)
				case $msg in *"${kw#!}"*) problems="$problems; has '${kw#!}'" ;; esac ;;
			*)
				case $msg in *"$kw"*) ;; *) problems="$problems; no '$kw'" ;; esac ;;
			esac
		done
		if [ "$(LC_ALL=C tr -d '\n\t[:print:]' <"$T/err" | wc -c)" -gt 0 ]; then
			problems="$problems; control characters in the message"
		fi
	fi
	[ "$rc" -eq 0 ] || [ ! -e "$out" ] || problems="$problems; output file left behind"
	[ "$left" -eq 0 ] || problems="$problems; $left temporary file(s) left"
	if [ -z "$problems" ]; then ok; else
		bad "$what${problems}: $(head -c 300 "$T/err" | tr '\n' '|')"
	fi
done <"$M"

echo "corpus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
