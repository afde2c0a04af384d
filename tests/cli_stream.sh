#!/bin/sh
# tests/cli_stream.sh - the band pipeline (one -k convolution, read ->
# filter -> write in bands of rows) against the whole-image path.
#
# For every input format and depth, many kernels (direct, exact-float,
# separable, magnitude), paddings, borders, strides and mappings, and every
# output format, the streamed result with -j 1 and with -j 3 must be byte
# for byte the whole-image result (--stats holds the image whole and prints
# to stderr only).  Also: a truncated file fails in the middle of streaming
# with the whole path's message and leaves no output; --verbose says which
# path ran and what was held whole; a tall image streams in memory that does
# not grow with its height.
# Prints "cli_stream: N passed, N failed" last; exits 1 if anything failed.
set -u

IMF=${IMFILTER:-build/imfilter}
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-stream-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
S=$(dirname "$0")/../samples

. "$(dirname "$0")/clilib.sh"

# Inputs: the samples in several formats (made with imfilter itself) and a
# tall netpbm image written here.
$IMF -k identity -f pgm "$S/texture.png" "$T/tex.pgm" 2>/dev/null
$IMF -k identity --channels rgb -f pnm "$S/blobs.jpg" "$T/blobs.ppm" 2>/dev/null
$IMF -k identity -f pfm "$S/strokes.png" "$T/strokes.pfm" 2>/dev/null
$IMF -k "0.5 0.25; -1 2" -f txt "$S/worked.txt" "$T/worked.txt" 2>/dev/null
awk 'BEGIN { w = 23; h = 301; printf "P2\n%d %d\n255\n", w, h;
	for (y = 0; y < h; y++) { for (x = 0; x < w; x++) printf "%d ", (x * 37 + y * 11) % 256; printf "\n" } }' \
	>"$T/tall.pgm"
INPUTS="$S/shapes.png $S/gradient.png $S/blobs.jpg $T/tex.pgm $T/blobs.ppm $T/strokes.pfm $T/worked.txt $T/tall.pgm"
for f in $INPUTS; do [ -s "$f" ] || bad "input $f was not made"; done

# same NAME ARGS...: -j 1 and -j 3 streamed, and the whole-image path, agree
same() {
	name=$1
	shift
	$IMF -j 1 "$@" "$T/a" 2>"$T/err.a"
	ra=$?
	$IMF -j 3 "$@" "$T/b" 2>"$T/err.b"
	rb=$?
	$IMF -j 1 --stats "$@" "$T/c" 2>"$T/err.c"
	rcw=$?
	if [ "$ra" -ne "$rcw" ] || [ "$rb" -ne "$rcw" ]; then
		bad "$name: status $ra / $rb streamed, $rcw whole: $(cat "$T/err.a")"
	elif [ "$rcw" -ne 0 ]; then
		# the same error, word for word
		if cmp -s "$T/err.a" "$T/err.b" && cmp -s "$T/err.a" "$T/err.c"; then ok; else
			bad "$name: messages differ: '$(cat "$T/err.a")' / '$(cat "$T/err.c")'"
		fi
	elif cmp -s "$T/a" "$T/c" && cmp -s "$T/b" "$T/c"; then
		ok
	else
		bad "$name: streamed output differs from the whole-image output"
	fi
	rm -f "$T/a" "$T/b" "$T/c"
}

KERNELS="sobel-x sharpen sobel gaussian-5 box-5 log-5 identity roberts-x"
KERNELS_RGB="sharpen sobel-y unsharp-5"
OPTS_LIST="none|-b reflect|-p valid -s 2|-p 3 -b replicate|-b wrap|-p full -s 3|-b symmetric -s 2|-m abs|-m normalize|-b wrap -p valid"
# IMF_QUICK (make valgrind): a cross-section, since every run is slow there.
if [ -n "${IMF_QUICK:-}" ]; then
	INPUTS="$S/shapes.png $S/blobs.jpg $T/tall.pgm"
	KERNELS="sobel-x gaussian-5"
	KERNELS_RGB="sharpen"
	OPTS_LIST="none|-p valid -s 2|-m normalize"
fi

for f in $INPUTS; do
	base=$(basename "$f")
	for k in $KERNELS; do
		old_ifs=$IFS
		IFS='|'
		for opts in $OPTS_LIST; do
			IFS=$old_ifs
			[ "$opts" = none ] && opts=
			# shellcheck disable=SC2086
			same "$base -k $k $opts" -k "$k" $opts -f pgm "$f"
			IFS='|'
		done
		IFS=$old_ifs
	done
	for fmt in png pfm txt jpg; do
		same "$base -k sobel-x -f $fmt" -k sobel-x -f "$fmt" "$f"
		same "$base -k gaussian-5 -s 2 -f $fmt" -k gaussian-5 -s 2 -f "$fmt" "$f"
	done
	for k in $KERNELS_RGB; do
		same "$base --channels rgb -k $k -f png" --channels rgb -k "$k" -f png "$f"
		same "$base --channels rgb -k $k -b reflect -s 2 -f pfm" --channels rgb -k "$k" -b reflect -s 2 -f pfm "$f"
	done
	# A 7x7 separable kernel given in full, and a random-looking 5x4 one, real weights.
	same "$base 7x7 separable" -k "1 2 3 4 3 2 1; 2 4 6 8 6 4 2; 3 6 9 12 9 6 3; 4 8 12 16 12 8 4; 3 6 9 12 9 6 3; 2 4 6 8 6 4 2; 1 2 3 4 3 2 1" -f pfm "$f"
	same "$base 5x4 real" -k "0.1 -0.7 0.33 0.25 -1; 0.5 0.5 -0.125 2 0.01; -0.3 0.9 0.4 -0.2 0.6; 1.5 -0.05 0.7 0.2 -0.9" -f pfm "$f"
	same "$base 16-bit out" -k sharpen --depth 16 -f png "$f"
	same "$base dilation" -k sobel-x --dilation 3 -p valid -f pgm "$f"
done

# A file cut in the middle of its rows: the same message as the whole path, no output.
head -c 2000 "$T/tall.pgm" >"$T/cut.pgm"
run -k sobel-x "$T/cut.pgm" "$T/cut-out.pgm"
msg_stream=$(cat "$T/err")
rc_stream=$rc
run --stats -k sobel-x "$T/cut.pgm" "$T/cut-out2.pgm"
if [ "$rc_stream" -eq 1 ] && [ "$rc" -eq 1 ] && [ "$msg_stream" = "$(cat "$T/err")" ] &&
	[ "$(wc -l <"$T/err")" -eq 1 ]; then ok; else
	bad "truncated: status $rc_stream/$rc, '$msg_stream' / '$(cat "$T/err")'"
fi
if [ ! -e "$T/cut-out.pgm" ] && [ -z "$(find "$T" -name '.*.imfilter-*')" ]; then ok; else
	bad "truncated: an output or a temporary file was left"
fi
# An existing output survives a failed streamed run.
echo keep >"$T/keep.pgm"
run -k sobel-x "$T/cut.pgm" "$T/keep.pgm"
expect_out "truncated: existing output kept" "$T/keep.pgm" keep

# --verbose: which path, what was held whole.  (The big image of the last
# test has many bands, so two threads share them.)
awk 'BEGIN { printf "P5\n2000 600\n255\n" }' >"$T/wide.pgm"
head -c 1200000 /dev/zero >>"$T/wide.pgm"
run --verbose -j 2 -k sobel-x "$T/wide.pgm" "$T/v.pgm"
grep -q "streaming .* output rows a band, bands read, computed and written at once; 2 threads; direct (exact float" "$T/err" &&
	grep -q "reader streams, writer streams" "$T/err" && ok || bad "verbose streaming: $(cat "$T/err")"
run --verbose -j 1 -k gaussian-5 -m normalize "$T/tall.pgm" "$T/v.pgm"
grep -q "one step at a time; 1 thread; separable" "$T/err" && grep -q "writer holds the whole image" "$T/err" &&
	ok || bad "verbose normalize: $(cat "$T/err")"
run --verbose -k sobel-x -b wrap "$T/tall.pgm" "$T/v.pgm"
grep -q "holding the whole image: a wrap border" "$T/err" && ok || bad "verbose wrap: $(cat "$T/err")"
run --verbose -k sobel-x "$T/strokes.pfm" "$T/v.pgm"
grep -q "reader holds the whole image" "$T/err" && ok || bad "verbose pfm: $(cat "$T/err")"

# Streaming from stdin to stdout.
$IMF -k sobel-x - - <"$T/tall.pgm" >"$T/pipe.pgm" 2>"$T/err"
$IMF --stats -k sobel-x "$T/tall.pgm" "$T/whole.pgm" 2>/dev/null
cmp -s "$T/pipe.pgm" "$T/whole.pgm" && ok || bad "stdin to stdout differs"

# A tall image streams: a 2000x30000 image (60 MB as floats) under a 40 MB
# address-space cap would not even hold its decoded planes whole.
if [ -z "${IMF_NO_ULIMIT:-}" ]; then
	awk 'BEGIN { printf "P5\n2000 30000\n255\n" }' >"$T/big.pgm"
	head -c 60000000 /dev/zero >>"$T/big.pgm"
	(ulimit -v 60000 && $IMF -k sobel-x "$T/big.pgm" "$T/big-out.pgm") 2>"$T/err"
	if [ $? -eq 0 ] && [ "$(wc -c <"$T/big-out.pgm")" -eq "$(wc -c <"$T/big.pgm")" ]; then ok; else
		bad "tall image under a 60 MB cap: $(cat "$T/err")"
	fi
fi

echo "cli_stream: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
