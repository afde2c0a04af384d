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
	grep -q "reader reads rows at their place, writer writes rows at their place" "$T/err" && ok ||
	bad "verbose streaming: $(cat "$T/err")"
# -j's default is the CPUs in the process's affinity mask (nproc's count,
# which OMP_NUM_THREADS and OMP_THREAD_LIMIT would change), so a run
# confined to one CPU streams on one thread.
n=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null)
if [ -n "$n" ] && [ "$n" -le 16 ]; then
	run --verbose -k sobel-x "$T/wide.pgm" "$T/v.pgm"
	if [ "$n" -eq 1 ]; then want="; 1 thread;"; else want="; $n threads"; fi
	grep -q -- "$want" "$T/err" && ok || bad "default threads, $n CPUs: $(cat "$T/err")"
fi
first=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status 2>/dev/null)
if command -v taskset >/dev/null && [ -n "$first" ]; then
	taskset -c "$first" $IMF --verbose -k sobel-x "$T/wide.pgm" "$T/v1.pgm" 2>"$T/err"
	grep -q "one step at a time; 1 thread;" "$T/err" && cmp -s "$T/v.pgm" "$T/v1.pgm" && ok ||
		bad "default threads on one CPU: $(cat "$T/err")"
fi
# Through pipes, rows go in order.
cat "$T/wide.pgm" | $IMF --verbose -j 2 -k sobel-x -f pgm - - 2>"$T/err" | cat >"$T/v.pgm"
grep -q "reader streams, writer streams" "$T/err" && ok || bad "verbose streaming, pipes: $(cat "$T/err")"
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

# ---- rows read and written at their place ------------------------------------
# A raw netpbm file (bits, maxval 255 or 65535) that is a regular file is read
# by each worker where its band's rows lie; a PNM written to a regular file
# takes each band where it belongs.  Images wide enough for bands of 16-30
# rows, so that -j 2, 3 and 5 share several bands.  Made as plain netpbm by
# awk, then raw by imfilter (-k identity keeps whole values), except P4 and
# maxval 100, which imfilter does not write: bytes from awk in the C locale
# (never 0, which some awks cannot print).
awk 'BEGIN { w = 4100; h = 100; printf "P2\n%d %d\n255\n", w, h;
	for (y = 0; y < h; y++) { for (x = 0; x < w; x++) printf "%d ", (x * 37 + y * 11 + x * y) % 256; printf "\n" } }' \
	>"$T/pl2.pgm"
awk 'BEGIN { w = 4100; h = 90; printf "P2\n%d %d\n65535\n", w, h;
	for (y = 0; y < h; y++) { for (x = 0; x < w; x++) printf "%d ", (x * 7919 + y * 104729) % 65536; printf "\n" } }' \
	>"$T/pl16-2.pgm"
awk 'BEGIN { w = 2400; h = 120; printf "P3\n%d %d\n255\n", w, h;
	for (y = 0; y < h; y++) { for (x = 0; x < w; x++) printf "%d %d %d ", (x * 3 + y) % 256, (x * y) % 256, (x + 5 * y) % 256; printf "\n" } }' \
	>"$T/pl3.ppm"
$IMF -k identity -f pgm "$T/pl2.pgm" "$T/pl.pgm" 2>/dev/null
$IMF -k identity -f pgm "$T/pl16-2.pgm" "$T/pl16.pgm" 2>/dev/null
$IMF -k identity --channels rgb -f pnm "$T/pl3.ppm" "$T/pl.ppm" 2>/dev/null
# P4, 4100x100: 513 bytes a row.
LC_ALL=C awk 'BEGIN { w = 4100; h = 100; rb = int((w + 7) / 8); printf "P4\n%d %d\n", w, h;
	for (y = 0; y < h; y++) for (i = 0; i < rb; i++) printf "%c", (i * 29 + y * 13 + i * y) % 255 + 1 }' \
	>"$T/pl.pbm"
# maxval 100, 4100x100; maxbad.pgm has the sample 200 in its last row.
mk_maxval100() {
	LC_ALL=C awk -v bad="$1" 'BEGIN { w = 4100; h = 100; printf "P5\n%d %d\n100\n", w, h;
		for (y = 0; y < h; y++) for (x = 0; x < w; x++)
			printf "%c", (bad && y == h - 1 && x == 77) ? 200 : (x * 3 + y * 7) % 100 + 1 }'
}
mk_maxval100 0 >"$T/max100.pgm"
mk_maxval100 1 >"$T/maxbad.pgm"
[ "$(head -c 2 "$T/pl.pgm")" = P5 ] && [ "$(wc -c <"$T/pl.pgm")" -eq $((4100 * 100 + 16)) ] &&
	[ "$(head -c 16 "$T/pl16.pgm" | tail -c 5)" = 65535 ] &&
	[ "$(wc -c <"$T/pl16.pgm")" -eq $((4100 * 90 * 2 + 17)) ] &&
	[ "$(wc -c <"$T/pl.ppm")" -eq $((2400 * 120 * 3 + 16)) ] &&
	[ "$(wc -c <"$T/pl.pbm")" -eq $((513 * 100 + 12)) ] &&
	[ "$(wc -c <"$T/maxbad.pgm")" -eq $((4100 * 100 + 16)) ] && ok ||
	bad "place: inputs were not made as planned"

# same_place NAME WRITER ARGS...: with -j 1, 2, 3 and 5 the streamed run reads
# rows at their place, says "writer WRITER" ("writes rows at their place",
# "streams", ...), and gives the whole-image output byte for byte.
same_place() {
	name=$1
	writer=$2
	shift 2
	if ! $IMF --stats "$@" "$T/c" 2>"$T/err.c"; then
		bad "$name: whole-image path failed: $(cat "$T/err.c")"
		return
	fi
	for j in 1 2 3 5; do
		$IMF --verbose -j "$j" "$@" "$T/a" 2>"$T/err.a"
		ra=$?
		if [ "$ra" -ne 0 ]; then
			bad "$name -j $j: status $ra: $(cat "$T/err.a")"
		elif ! grep -q "reader reads rows at their place, writer $writer\$" "$T/err.a"; then
			bad "$name -j $j: not read at their place (writer $writer): $(cat "$T/err.a")"
		elif ! cmp -s "$T/a" "$T/c"; then
			bad "$name -j $j: differs from the whole-image output"
		else
			ok
		fi
		rm -f "$T/a"
	done
	rm -f "$T/c"
}

# Kernels of 1 to 7 rows; 'valid' and strides 2-4 leave input rows (at the
# bottom, or between bands' windows) that no band reads.
PLACE_RUNS="sobel-x|none
gaussian-5|-p valid -s 2
box-5|-b reflect -s 3
identity|-p valid -s 4
sharpen|-p valid -s 4
log-5|-p 3 -b replicate
1 2 3 4 3 2 1|-b symmetric
1; 2; 3; 4; 3; 2; 1|-p valid -s 2
1 -2 1; 2 0 -2; 1 2 1; 0 1 0|-p full -s 2 -m abs"
PLACE_INPUTS="pl.pgm pl16.pgm pl.ppm pl.pbm"
if [ -n "${IMF_QUICK:-}" ]; then
	PLACE_RUNS="gaussian-5|-p valid -s 2"
	PLACE_INPUTS="pl.pgm pl.ppm"
fi
for f in $PLACE_INPUTS; do
	# (read from fd 3, not through a pipe: the loop must count in this shell)
	while IFS='|' read -r k opts <&3; do
		[ "$opts" = none ] && opts=
		# shellcheck disable=SC2086
		same_place "$f -k '$k' $opts" "writes rows at their place" -k "$k" $opts -f pgm "$T/$f"
	done 3<<EOF
$PLACE_RUNS
EOF
done
# Colour in, colour out, and the 16-bit source written at 16 bits.
same_place "pl.ppm --channels rgb" "writes rows at their place" --channels rgb -k sharpen -f pnm "$T/pl.ppm"
if [ -z "${IMF_QUICK:-}" ]; then
	same_place "pl.ppm --channels rgb -p valid -s 2" "writes rows at their place" \
		--channels rgb -k gaussian-5 -p valid -s 2 -f pnm "$T/pl.ppm"
	same_place "pl16.pgm, 16 bits out" "writes rows at their place" \
		-k sobel-y -m offset --depth 16 -f pgm "$T/pl16.pgm"
	# Read at the place, written in order: PNG (encoded apart), JPEG, PFM (held whole).
	same_place "pl.pgm -f png" "streams" -k gaussian-5 -s 2 -f png "$T/pl.pgm"
	same_place "pl.ppm -f jpg" "streams" -k sharpen -f jpg "$T/pl.ppm"
	same_place "pl.pbm -f pfm" "holds the whole image" -k box-5 -f pfm "$T/pl.pbm"
	same_place "pl.pgm -m normalize" "holds the whole image" -k sobel-x -m normalize -f pgm "$T/pl.pgm"
fi

# Bands written at their place by 2 workers, many times over: a band must
# never be left behind, whatever the threads' timing (a race check, so it
# can only fail some of the time).
if [ -z "${IMF_QUICK:-}" ]; then
	$IMF --stats -k "1 2 3 4 3 2 1" -b symmetric -f pgm "$T/pl.pbm" "$T/c" 2>/dev/null
	lost=0
	i=0
	while [ $i -lt 40 ]; do
		$IMF -j 2 -k "1 2 3 4 3 2 1" -b symmetric -f pgm "$T/pl.pbm" "$T/a" 2>"$T/err.a" &&
			cmp -s "$T/a" "$T/c" || { lost=$((lost + 1)); cp "$T/err.a" "$T/err.lost"; }
		i=$((i + 1))
	done
	[ "$lost" -eq 0 ] && ok || bad "-j 2 at the place: $lost of 40 runs failed: $(cat "$T/err.lost")"
	rm -f "$T/a" "$T/c"
fi

# whole_of NAME ARGS...: the whole-image output of ARGS (input last) into $T/whole
whole_of() {
	name=$1
	shift
	$IMF --stats "$@" "$T/whole" 2>"$T/err.c" || bad "$name: whole-image path failed: $(cat "$T/err.c")"
}
# says NAME PHRASE: --verbose of the last run ($T/err) holds PHRASE
says() {
	grep -q "$2" "$T/err" && ok || bad "$1: --verbose lacks '$2': $(cat "$T/err")"
}
# same_file NAME FILE: FILE is the whole-image output
same_file() {
	cmp -s "$2" "$T/whole" && ok || bad "$1: output differs from the whole-image output"
}

# Standard input: a regular file is read at the place; a pipe streams.
whole_of "stdin" -k gaussian-5 -p valid -s 2 -f pgm "$T/pl.pgm"
$IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm - "$T/o.pgm" <"$T/pl.pgm" 2>"$T/err"
says "stdin from a file" "reader reads rows at their place, writer writes rows at their place"
same_file "stdin from a file" "$T/o.pgm"
cat "$T/pl.pgm" | $IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm - "$T/o.pgm" 2>"$T/err"
# (windows are then shared in order, so the writer keeps the order too)
says "stdin from a pipe" "reader streams, writer streams"
same_file "stdin from a pipe" "$T/o.pgm"
# A file whose first bytes someone else already read: the raster is found after them.
{ printf 'junk\n'; cat "$T/pl.pgm"; } >"$T/junk.pgm"
{ dd bs=5 count=1 of=/dev/null 2>/dev/null
	$IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm - "$T/o.pgm"; } <"$T/junk.pgm" 2>"$T/err"
says "stdin after 5 bytes read" "reader reads rows at their place"
same_file "stdin after 5 bytes read" "$T/o.pgm"

# Standard output: to a file, at the place; after what the file descriptor
# already wrote, the image starts there and whatever follows comes after it;
# appended (>>), in order after the existing bytes; to a pipe, in order.
$IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm "$T/pl.pgm" - >"$T/o.pgm" 2>"$T/err"
says "stdout to a file" "writer writes rows at their place"
same_file "stdout to a file" "$T/o.pgm"
{ printf 'head'; $IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm "$T/pl.pgm" - 2>"$T/err"
	printf 'tail'; } >"$T/o.pgm"
says "stdout shared with others" "writer writes rows at their place"
{ printf 'head'; cat "$T/whole"; printf 'tail'; } >"$T/want.pgm"
cmp -s "$T/o.pgm" "$T/want.pgm" && ok || bad "stdout shared with others: not head, image, tail"
printf 'existing bytes\n' >"$T/o.pgm"
$IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm "$T/pl.pgm" - >>"$T/o.pgm" 2>"$T/err"
says "stdout appended" "reader reads rows at their place, writer streams"
{ printf 'existing bytes\n'; cat "$T/whole"; } >"$T/want.pgm"
cmp -s "$T/o.pgm" "$T/want.pgm" && ok || bad "stdout appended: not the existing bytes, then the image"
$IMF --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm "$T/pl.pgm" - 2>"$T/err" | cat >"$T/o.pgm"
says "stdout to a pipe" "writer streams"
same_file "stdout to a pipe" "$T/o.pgm"

# maxval 100 is read in order, every row checked: a sample over it in the
# last row, which no band reads (-p valid -s 2), fails as the whole path does.
same max100 -k gaussian-5 -p valid -s 2 -f pgm "$T/max100.pgm"
run --verbose -j 3 -k gaussian-5 -p valid -s 2 -f pgm "$T/max100.pgm" "$T/o.pgm"
says "maxval 100" "reader streams, writer streams"
same maxbad -k gaussian-5 -p valid -s 2 -f pgm "$T/maxbad.pgm"
rm -f "$T/o.pgm"
run -j 3 -k gaussian-5 -p valid -s 2 -f pgm "$T/maxbad.pgm" "$T/o.pgm"
expect_err "maxval 100, bad sample unread" 1 "$T/maxbad.pgm: PNM: sample 200 exceeds maxval 100"
[ ! -e "$T/o.pgm" ] && ok || bad "maxval 100, bad sample unread: an output was left"

# A raw raster cut short is not read at the place: it fails in order as before,
# with the whole path's one-line message, and leaves no output.
CUT_INPUTS="pl.pgm pl16.pgm pl.pbm"
[ -n "${IMF_QUICK:-}" ] && CUT_INPUTS=pl.pgm
for f in $CUT_INPUTS; do
	size=$(wc -c <"$T/$f")
	head -c $((size * 2 / 3)) "$T/$f" >"$T/cut-$f"
	for j in 1 3; do
		run --verbose -j "$j" -k gaussian-5 -f pgm "$T/cut-$f" "$T/cut-out.pgm"
		says "cut $f -j $j" "reader streams"
		run -j "$j" -k gaussian-5 -f pgm "$T/cut-$f" "$T/cut-out.pgm"
		expect_err "cut $f -j $j" 1 "$T/cut-$f: PNM: truncated pixel data"
		[ ! -e "$T/cut-out.pgm" ] && ok || bad "cut $f -j $j: an output was left"
	done
done
run --stats -k gaussian-5 -f pgm "$T/cut-pl.pgm" "$T/cut-out.pgm"
expect_err "cut pl.pgm, whole path" 1 "$T/cut-pl.pgm: PNM: truncated pixel data"

# A write at the place that fails (the file size limit) stops every worker:
# one line, exit 1, no output and no temporary file left, an old output kept.
echo keep >"$T/lim.pgm"
(ulimit -f 16; $IMF -j 3 -k gaussian-5 -f pgm "$T/pl.pgm" "$T/lim.pgm") >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(cat "$T/err")" = "$T/lim.pgm: PNM: write failed: File too large" ] && ok ||
	bad "write at the place over the size limit: $rc $(cat "$T/err")"
[ "$(cat "$T/lim.pgm")" = keep ] && ok || bad "write at the place over the size limit: old output lost"
ls -a "$T" | grep -q '^\.lim\.pgm' && bad "write at the place over the size limit: temp file left" || ok

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
