#!/bin/sh
# tests/hostile.sh - imfilter against a hostile corpus made independently of
# tests/corpus/: reproducible mutants of ordinary files.
#
# Seed files: samples/, small files of every kind made here (netpbm P1-P7
# written with printf, PNGs of every colour type, bit depth and Adam7 written
# by build/tools/mutate's own encoder, PFM, text matrices and JPEG written by
# imfilter, a progressive JPEG when cjpeg is installed), a few kernel files,
# and PNG decompression bombs (mutate --png-bomb).  Each seed file gets
# HOSTILE_SEEDS mutants (tools/mutate.c: truncations, bit flips, byte runs,
# duplicated and removed runs, hostile tokens, netpbm/PFM header lies, PNG
# IHDR and chunk lies with fixed CRCs, JPEG frame-header lies), and each
# mutant is run, under a 2 GiB address-space cap (ulimit -v) and a timeout:
#   image:  imfilter -k sobel-x [--channels rgb] MUTANT OUT.png
#           (every other mutant in colour, so both paths see hostile data)
#   kernel: imfilter -k MUTANT --channels rgb samples/texture.png OUT.png
# and must end with status 0, 1 or 2 (never a signal or the timeout); on
# success with an empty stderr and OUT.png; on failure with exactly one
# stderr line that starts with the file's path or "imfilter: " and holds no
# control character, and without OUT.png; and never leave a temporary file
# in the output folder.  The bombs run once each, unmutated, and every seed
# file must itself filter without error.
# Prints "hostile: N passed, N failed (...)" last; exits 1 if anything failed.
#
# Environment:
#   IMFILTER        the command (default build/imfilter); may be a wrapper
#   MUTATE          the mutator (default build/tools/mutate)
#   HOSTILE_SEEDS   mutants per seed file (default 40)
#   HOSTILE_FIRST   index of the first mutant (default 0): another range of
#                   the same reproducible set
#   HOSTILE_SEED    the PRNG seed (default 1)
#   HOSTILE_KEEP    a folder to copy every failing mutant into (mutant N of a
#                   file, the 4-digit number in its name, is also remade alone
#                   by 'mutate -s SEED -f N -n 1 FILE DIR')
#   IMF_NO_ULIMIT   if set, no 'ulimit -v' (AddressSanitizer cannot start under it)
#   IMF_TIMEOUT     seconds per run (default 20)
set -u
# Byte-wise patterns ([:print:] is printable ASCII) and C messages.
LC_ALL=C
export LC_ALL

IMF=${IMFILTER:-build/imfilter}
MUTATE=${MUTATE:-build/tools/mutate}
COUNT=${HOSTILE_SEEDS:-40}
FIRST=${HOSTILE_FIRST:-0}
SEED=${HOSTILE_SEED:-1}
KEEP=${HOSTILE_KEEP:-}
TIMEOUT=${IMF_TIMEOUT:-20}
here=$(dirname "$0")
top=$here/..
TEXTURE=$top/samples/texture.png
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-hostile-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
n0=0
n1=0
n2=0
ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*"
}

# make WHAT CMD...: a seed file made here; a failure to make it is a failure.
make_seed() {
	what=$1
	shift
	"$@" >"$T/make.err" 2>&1 || bad "making the seed $what: $(head -c 300 "$T/make.err")"
}

# ---- seed files ----------------------------------------------------------------
I=$T/seeds/image
K=$T/seeds/kernel
mkdir -p "$I" "$K" "$T/mutants" "$T/dst"
cp "$top"/samples/* "$I/"

# netpbm, by hand: plain and raw, bitmaps, 16-bit maxvals, comments, PAM.
printf 'P1\n# a plain bitmap\n5 4\n0 1 0 1 1\n1 0 1 0 0\n0 0 1 1 0\n1 1 1 0 1\n' >"$I/p1.pbm"
printf 'P2\n4 3\n# maxval over 255\n1000\n0 250 500 1000\n1000 500 250 0\n7 8 9 10\n' >"$I/p2.pgm"
printf 'P3\n3 2\n255\n255 0 0  0 255 0  0 0 255\n9 99 199  1 2 3  250 251 252\n' >"$I/p3.ppm"
printf 'P4\n10 3\n\252\300\125\200\377\300' >"$I/p4.pbm"
printf 'P7\nWIDTH 3\nHEIGHT 2\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n\000\377\100\200\377\377\020\040\060\070\200\000' >"$I/p7-ga.pam"
printf 'P7\nWIDTH 2\nHEIGHT 2\nDEPTH 4\nMAXVAL 65535\nTUPLTYPE RGB_ALPHA\nENDHDR\n\000\001\000\002\000\003\377\377\200\000\100\000\040\000\377\377\001\000\002\000\003\000\004\000\377\377\377\377\377\377\000\000' >"$I/p7-rgba16.pam"

# PNGs from mutate's own encoder: every colour type and depth, plain and Adam7.
for spec in "gray1 0 1 0" "gray2 0 2 1" "gray4 0 4 0" "gray16-adam7 0 16 1" "rgb8-adam7 2 8 1" \
	"rgb16 2 16 0" "pal4 3 4 0" "pal8-adam7 3 8 1" "ga8 4 8 0" "ga16-adam7 4 16 1" \
	"rgba8 6 8 0" "rgba16-adam7 6 16 1"; do
	set -- $spec
	make_seed "$1.png" "$MUTATE" --png 13 11 "$2" "$3" "$4" "$I/$1.png"
done
make_seed rgb.png "$MUTATE" --png 24 16 2 8 0 "$T/rgb.png"
make_seed bomb-1024.png "$MUTATE" --png-bomb 1024 1024 1024 "$I/bomb-1024.png"

# Written by imfilter: 8- and 16-bit netpbm, PFM of both kinds, text blocks, JPEG.
make_seed p5.pgm $IMF -k identity -f pnm "$top/samples/strokes.png" "$I/p5.pgm"
make_seed p5-16.pgm $IMF -k identity --depth 16 -f pnm "$top/samples/gradient.png" "$I/p5-16.pgm"
make_seed p6.ppm $IMF -k identity --channels rgb -f pnm "$T/rgb.png" "$I/p6.ppm"
make_seed gray.pfm $IMF -k identity -f pfm "$I/gray4.png" "$I/gray.pfm"
make_seed rgb.pfm $IMF -k identity --channels rgb -f pfm "$T/rgb.png" "$I/rgb.pfm"
make_seed rgb.txt $IMF -k identity --channels rgb -f txt "$I/rgb8-adam7.png" "$I/rgb.txt"
make_seed gray.jpg $IMF -k identity -f jpeg "$top/samples/strokes.png" "$I/gray.jpg"
make_seed rgb.jpg $IMF -k identity --channels rgb -f jpeg "$T/rgb.png" "$I/rgb.jpg"
# A progressive JPEG needs an encoder that writes one; cjpeg is optional.
if command -v cjpeg >/dev/null 2>&1; then
	make_seed progressive.jpg sh -c 'cjpeg -progressive -outfile "$2" "$1"' sh "$I/p6.ppm" "$I/progressive.jpg"
else
	echo "hostile: no cjpeg, so no progressive JPEG among the seeds"
fi

# Kernel files: built-ins, a three-slice kernel (for RGB), a magnitude kernel.
cp "$top/filters/sobel-x.txt" "$top/filters/gaussian-5.txt" "$K/"
printf '# three slices\nscale 1/4\n1 0 -1\n2 0 -2\n\n0 1 0\n1 -4 1\n\n1 1 1\n-1 -1 -1\n' >"$K/slices.txt"
printf '# gradient\nmagnitude sobel-x, sobel-y\n' >"$K/magnitude.txt"

# ---- running ---------------------------------------------------------------------

# check WHAT MODE FILE ARGS...: run imfilter with ARGS, writing $T/dst/out.png.
# Only shell built-ins look at the result: thousands of runs stay quick.
check() {
	what=$1
	mode=$2
	file=$3
	shift 3
	# $IMF unquoted: it may be a wrapper command with arguments.
	(
		[ -n "${IMF_NO_ULIMIT:-}" ] || ulimit -v 2097152
		exec timeout "$TIMEOUT" $IMF "$@"
	) </dev/null >/dev/null 2>"$T/err"
	rc=$?
	problems=
	case $rc in
	0) n0=$((n0 + 1)) ;;
	1) n1=$((n1 + 1)) ;;
	2) n2=$((n2 + 1)) ;;
	124) problems="; timed out after ${TIMEOUT}s" ;;
	*) problems="; status $rc (a signal or worse)" ;;
	esac
	# The stderr lines (a last line without its newline counts too).
	lines=0
	msg=
	while IFS= read -r line || [ -n "$line" ]; do
		[ "$lines" -eq 0 ] && msg=$line
		lines=$((lines + 1))
	done <"$T/err"
	if [ -z "$problems" ] && [ "$rc" -eq 0 ]; then
		[ "$lines" -eq 0 ] || problems="$problems; stderr not empty"
		[ -s "$T/dst/out.png" ] || problems="$problems; no output file"
	elif [ -z "$problems" ]; then
		[ "$lines" -eq 1 ] || problems="$problems; $lines stderr lines"
		# A kernel's mismatch with the image names the image.
		case $msg in
		"$file: "* | "imfilter: "*) ;;
		"$TEXTURE: "*) [ "$mode" = kernel ] || problems="$problems; the message names another file" ;;
		*) problems="$problems; the message does not start with the file or 'imfilter: '" ;;
		esac
		case $msg in
		*[![:print:]]*) problems="$problems; control characters or bytes outside ASCII in the message" ;;
		esac
		[ ! -e "$T/dst/out.png" ] || problems="$problems; an output file after a failure"
	fi
	[ ! -e "$T/dst/out.png" ] || rm -f "$T/dst/out.png"
	for left in "$T"/dst/.[!.]* "$T"/dst/*; do
		[ -e "$left" ] || continue
		problems="$problems; left in the output folder: ${left##*/}"
		rm -f "$left"
	done
	if [ -z "$problems" ]; then ok; else
		bad "$what (rc $rc)${problems}: $(head -c 300 "$T/err" | tr '\n' '|')"
		if [ -n "$KEEP" ]; then
			mkdir -p "$KEEP" && cp "$file" "$KEEP/"
		fi
	fi
}

# mutants MODE SEEDFILE: make its mutants and run each.
mutants() {
	mode=$1
	seedfile=$2
	rm -f "$T"/mutants/*
	if ! "$MUTATE" -s "$SEED" -f "$FIRST" -n "$COUNT" "$seedfile" "$T/mutants" 2>"$T/err"; then
		bad "mutate $seedfile: $(head -c 300 "$T/err")"
		return
	fi
	i=0
	for m in "$T"/mutants/*; do
		[ -e "$m" ] || continue
		name=$(basename "$m")
		what="$name, mutant of $(basename "$seedfile")"
		if [ "$mode" = kernel ]; then
			check "$what" kernel "$m" -k "$m" --channels rgb "$TEXTURE" "$T/dst/out.png"
		elif [ $((i % 2)) -eq 1 ]; then
			check "$what" image "$m" -k sobel-x --channels rgb "$m" "$T/dst/out.png"
		else
			check "$what" image "$m" -k sobel-x "$m" "$T/dst/out.png"
		fi
		i=$((i + 1))
	done
}

# Every seed file itself is valid: its mutants start from a file that works.
for f in "$I"/*; do
	$IMF -k sobel-x --channels rgb "$f" "$T/dst/seed.png" 2>"$T/err" && ok ||
		bad "the seed $(basename "$f") does not filter: $(head -c 300 "$T/err")"
	rm -f "$T/dst/seed.png"
done
for f in "$K"/*; do
	$IMF -k "$f" --channels rgb "$TEXTURE" "$T/dst/seed.png" 2>"$T/err" && ok ||
		bad "the seed $(basename "$f") does not filter: $(head -c 300 "$T/err")"
	rm -f "$T/dst/seed.png"
done

nseeds=0
for f in "$I"/*; do
	mutants image "$f"
	nseeds=$((nseeds + 1))
done
for f in "$K"/*; do
	mutants kernel "$f"
	nseeds=$((nseeds + 1))
done

# Bombs, once each: far over --max-pixels (refused from the header), at the
# limit with 64 rows of data (refused when the data runs out), and a complete
# 4096x4096 image of zeros in 106 KB (filtered).
make_seed bomb-20000.png "$MUTATE" --png-bomb 20000 20000 20000 "$T/bomb-20000.png"
make_seed bomb-16384.png "$MUTATE" --png-bomb 16384 16384 64 "$T/bomb-16384.png"
make_seed bomb-4096.png "$MUTATE" --png-bomb 4096 4096 4096 "$T/bomb-4096.png"
for b in "$T"/bomb-*.png; do
	check "$(basename "$b")" image "$b" -k sobel-x "$b" "$T/dst/out.png"
done

echo "hostile: $pass passed, $fail failed ($nseeds seed files x $COUNT mutants and 3 bombs;" \
	"exit 0: $n0, exit 1: $n1, exit 2: $n2)"
[ "$fail" -eq 0 ]
