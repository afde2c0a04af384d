#!/bin/sh
# bench/run.sh - the end-to-end benchmark of issue 6 (run by `make bench`).
#
# Makes the test images under $BUILD/bench/in/ (once), runs $BUILD/imfilter
# and whichever peers are installed - libvips (vips), ImageMagick (magick or
# convert) and GraphicsMagick (gm) - on the same files, and writes a Markdown
# report, one table per goal of the issue, to $BUILD/bench/report.md, then
# prints it.  Every command runs under runstat (bench/runstat.c), which gives
# its wall time (CLOCK_MONOTONIC) and peak RSS (wait4's ru_maxrss).
#
# Environment:
#   BUILD          the build folder (default build)
#   BENCH_RUNS     runs of each command; the median is reported (default 5);
#                  goal 7 runs 6 * BENCH_RUNS + 1 pairs of -j 1 and -j 2 back
#                  to back and reports the median of the pairs' ratios, and
#                  imfilter-bench runs 4 * BENCH_RUNS + 1 pairs of a conv and
#                  a memcpy a kernel (these are short: more pairs make their
#                  medians steady where one pair's ratio spreads widely)
#   BENCH_BUDGET   seconds: no further run of a command starts once its runs
#                  took this long in total, so slow peers run fewer times and
#                  the table says so (default 12)
#   BENCH_TIMEOUT  seconds after which one run is killed (default 120)
#   BENCH_OUT      the folder the outputs are written to (default: a new
#                  folder on /dev/shm when it is a writable tmpfs, else
#                  $BUILD/bench/out): on tmpfs the timings measure the tools,
#                  not the disk (imfilter makes every output durable with
#                  fsync before renaming it into place; the peers do not)
#   BENCH_CFLAGS, BENCH_CC  how imfilter was built, for the report
#
# A benchmark, not a test: the status is 0 whatever the numbers, 1 when the
# harness itself cannot run (a tool missing from $BUILD, an image that cannot
# be made).
set -u

BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
BUDGET=${BENCH_BUDGET:-12}
TIMEOUT=${BENCH_TIMEOUT:-120}

die() {
	echo "bench: $*" >&2
	exit 1
}

for v in "$RUNS" "$BUDGET" "$TIMEOUT"; do
	case $v in '' | *[!0-9]*) die "BENCH_RUNS, BENCH_BUDGET and BENCH_TIMEOUT take whole numbers" ;; esac
done
[ "$RUNS" -ge 1 ] || die "BENCH_RUNS must be at least 1"

ABS_BUILD=$(cd "$BUILD" && pwd) || die "no build folder $BUILD"
IMF=$ABS_BUILD/imfilter
ENGINE=$ABS_BUILD/imfilter-bench
RUNSTAT=$ABS_BUILD/tools/runstat
MKIMG=$ABS_BUILD/tools/mkbenchimg
for t in "$IMF" "$ENGINE" "$RUNSTAT" "$MKIMG"; do
	[ -x "$t" ] || die "$t is missing (run 'make bench')"
done

SRC_DIR=$(pwd)
DIR=$ABS_BUILD/bench
REPORT=$DIR/report.md
mkdir -p "$DIR/in" "$DIR/kernels" "$DIR/res" || die "cannot create $DIR"
rm -f "$DIR"/res/*
# out/ is the outputs' folder: a link to BENCH_OUT or to a tmpfs folder.
OUT_WHERE="$DIR/out (disk)"
OUTDIR=${BENCH_OUT:-}
if [ -z "$OUTDIR" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	OUTDIR=$(mktemp -d /dev/shm/imfilter-bench-XXXXXX) || OUTDIR=
	[ -n "$OUTDIR" ] && trap 'rm -rf "$OUTDIR"' EXIT
fi
if [ -n "$OUTDIR" ]; then
	mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
	rm -rf "$DIR/out"
	ln -s "$OUTDIR" "$DIR/out" || die "cannot link $DIR/out to $OUTDIR"
	OUT_WHERE="$OUTDIR ($(df -PT "$OUTDIR" 2>/dev/null | awk 'NR == 2 { print $2 }'))"
else
	[ -L "$DIR/out" ] && rm -f "$DIR/out"
	mkdir -p "$DIR/out" || die "cannot create $DIR/out"
	rm -f "$DIR"/out/*
fi
cd "$DIR" || die "cannot enter $DIR"
RES=res

# ---- peers ------------------------------------------------------------------

HAVE_VIPS=0 IM='' HAVE_GM=0
command -v vips >/dev/null 2>&1 && HAVE_VIPS=1
if command -v magick >/dev/null 2>&1; then
	IM=magick
elif command -v convert >/dev/null 2>&1 && convert -version 2>/dev/null | grep -q ImageMagick; then
	IM=convert
fi
command -v gm >/dev/null 2>&1 && HAVE_GM=1

# ---- test images and kernels ------------------------------------------------

# make_image KIND W H FILE: generate FILE unless it is newer than the
# generator's source (not its binary, which every library change relinks).
make_image() {
	if [ -f "$4" ] && [ -n "$(find "$4" -newer "$SRC_DIR/bench/mkbenchimg.c")" ]; then
		return 0
	fi
	echo "bench: making $4" >&2
	"$MKIMG" "$1" "$2" "$3" "$4.tmp" || die "cannot make $4"
	mv "$4.tmp" "$4" || die "cannot make $4"
}

make_image pgm 4096 4096 in/gray-4096x4096.pgm
make_image jpeg 4096 4096 in/rgb-4096x4096.jpg
make_image pgm 1024 4096 in/gray-1024x4096.pgm
make_image pgm 1024 65536 in/gray-1024x65536.pgm

# Kernels: imfilter's kernel files (.txt) and libvips matrix files (.mat:
# "WIDTH HEIGHT SCALE OFFSET", then the rows; the result is sum / SCALE).
# The Gaussian has integer weights g(i) g(j) and one scale, so the full matrix
# is exactly rank 1 (a separable path can detect it); its 1-D mask for
# `vips convsep` is g with scale sum(g), applied across then down.  The 31x31
# kernel has random weights of either sign, magnitude 0.05..1 (a fixed
# Park-Miller sequence, exact in awk's doubles, so every awk gives the same).
awk 'BEGIN {
	n = 15; s = 0
	for (i = 0; i < n; i++) { d = i - 7; g[i] = int(256 * exp(-d * d / 12.5) + 0.5); s += g[i] }
	f = "kernels/gauss15.txt"
	print "# 15x15 Gaussian, sigma 2.5, as a full matrix (rank 1)" > f
	printf "scale 1/%d\n", s * s > f
	for (i = 0; i < n; i++) { r = ""; for (j = 0; j < n; j++) r = r (j ? " " : "") g[i] * g[j]; print r > f }
	f = "kernels/gauss15.mat"
	printf "%d %d %d 0\n", n, n, s * s > f
	for (i = 0; i < n; i++) { r = ""; for (j = 0; j < n; j++) r = r (j ? " " : "") g[i] * g[j]; print r > f }
	f = "kernels/gauss15-1d.mat"
	printf "%d 1 %d 0\n", n, s > f
	r = ""; for (j = 0; j < n; j++) r = r (j ? " " : "") g[j]; print r > f
	f = "kernels/box15.txt"
	print "# 15x15 box blur as a full matrix" > f
	print "scale 1/225" > f
	r = ""; for (j = 0; j < n; j++) r = r (j ? " " : "") 1
	for (i = 0; i < n; i++) print r > f
	f = "kernels/box15-1d.mat"
	printf "%d 1 %d 0\n", n, n > f
	print r > f
	n = 31; x = 20260101
	ft = "kernels/rand31.txt"; fm = "kernels/rand31.mat"
	print "# 31x31 random weights" > ft
	printf "%d %d 1 0\n", n, n > fm
	for (i = 0; i < n; i++) {
		r = ""
		for (j = 0; j < n; j++) {
			x = (x * 16807) % 2147483647; m = 0.05 + 0.95 * x / 2147483647
			x = (x * 16807) % 2147483647; if (x % 2) m = -m
			r = r (j ? " " : "") sprintf("%.4f", m)
		}
		print r > ft; print r > fm
	}
	print "3 3 1 0\n1 0 -1\n2 0 -2\n1 0 -1" > "kernels/sobel-x.mat"
	print "3 3 1 0\n0 -1 0\n-1 5 -1\n0 -1 0" > "kernels/sharpen.mat"
}' || die "cannot write the kernels"

SOBEL_IM='3x3: 1,0,-1 2,0,-2 1,0,-1'
SHARPEN_IM='3x3: 0,-1,0 -1,5,-1 0,-1,0'
SOBEL_GM=1,0,-1,2,0,-2,1,0,-1
SHARPEN_GM=0,-1,0,-1,5,-1,0,-1,0

G1=in/gray-4096x4096.pgm
G2=in/rgb-4096x4096.jpg

# ---- measuring --------------------------------------------------------------

# Show a command as one could type it (in $BUILD/bench): our binaries by
# name, arguments with unusual characters in single quotes.
show_cmd() {
	out=
	for a in "$@"; do
		case $a in
		"$IMF") a=imfilter ;;
		*[!A-Za-z0-9_./=:,+-]*) a="'$a'" ;;
		esac
		out="$out${out:+ }$a"
	done
	printf '%s\n' "$out"
}

# run_once ID OUT CMD...: one run of CMD (which writes OUT, removed first),
# its line "WALL_MS MAXRSS_KB STATUS" appended to $RES/ID.runs; 1 unless
# the run succeeded.
run_once() {
	id=$1 outf=$2
	shift 2
	rm -f "$outf"
	"$RUNSTAT" -t "$TIMEOUT" -o "$RES/$id.runs" -- "$@" >"$RES/$id.log" 2>&1 ||
		die "runstat failed on $(cat "$RES/$id.cmd")"
	[ "$(tail -n 1 "$RES/$id.runs" | cut -d' ' -f3)" = 0 ]
}

# awk functions for the summaries below: sort a[0..n) in place, ascending;
# the median of a sorted a[0..n), n > 0.
AWK_MEDIAN='
	function sort(a, n,   i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } }
	function median(a, n) { return n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2 }'

# summarize ID OUT: write to $RES/ID the line
#   RUNS MEDIAN_MS PEAK_RSS_KB STATUS OUT_BYTES
# (median over the successful runs, peak over all of them).
summarize() {
	id=$1 outf=$2
	bytes=0
	[ -f "$outf" ] && bytes=$(wc -c <"$outf" | tr -d ' ')
	awk -v bytes="$bytes" "$AWK_MEDIAN"'
		{ st = $3; if ($2 > rss) rss = $2; if ($3 == "0") ok[k++] = $1 }
		END {
			sort(ok, k)
			med = k == 0 ? -1 : median(ok, k)
			print NR, med, rss, st, bytes
		}' "$RES/$id.runs" >"$RES/$id"
	read -r runs med rss st bytes <"$RES/$id"
	if [ "$st" = 0 ]; then
		echo "bench: $id: $med ms, $((rss / 1024)) MB ($runs runs)" >&2
	else
		echo "bench: $id: failed ($st): $(head -n 1 "$RES/$id.log")" >&2
	fi
}

# measure ID OUT CMD...: run CMD (which writes OUT) up to $RUNS times, until
# a run fails or the runs took $BUDGET seconds, then summarize.
measure() {
	id=$1 outf=$2
	shift 2
	show_cmd "$@" >"$RES/$id.cmd"
	: >"$RES/$id.runs"
	n=0
	while [ "$n" -lt "$RUNS" ]; do
		n=$((n + 1))
		run_once "$id" "$outf" "$@" || break
		awk -v b="$BUDGET" '{ t += $1 } END { exit !(t >= b * 1000) }' "$RES/$id.runs" && break
	done
	summarize "$id" "$outf"
}

# measure_threads N: goal 7's two commands, imfilter -j 1 and -j 2 on goal
# 1's image, one right after the other, N times, so that both runs of a
# pair meet the same state of a shared machine; summarize both, and write
# to $RES/g7.ratio the line "MEDIAN PAIRS MIN MAX CPU" of the pairs' time
# ratios (-j 1 over -j 2), CPU being the median of the pairs' CPU time
# ratios (-j 2 over -j 1): above 1 by how much longer the same work took
# with two threads running, when they slow each other (README, goal 7).
measure_threads() {
	show_cmd "$IMF" -j 1 -k sobel-x "$G1" out/g7-j1.pgm >"$RES/g7-j1.cmd"
	show_cmd "$IMF" -j 2 -k sobel-x "$G1" out/g7-j2.pgm >"$RES/g7-j2.cmd"
	: >"$RES/g7-j1.runs"
	: >"$RES/g7-j2.runs"
	i=0
	while [ "$i" -lt "$1" ]; do
		i=$((i + 1))
		run_once g7-j1 out/g7-j1.pgm "$IMF" -j 1 -k sobel-x "$G1" out/g7-j1.pgm || break
		run_once g7-j2 out/g7-j2.pgm "$IMF" -j 2 -k sobel-x "$G1" out/g7-j2.pgm || break
	done
	summarize g7-j1 out/g7-j1.pgm
	summarize g7-j2 out/g7-j2.pgm
	paste -d' ' "$RES/g7-j1.runs" "$RES/g7-j2.runs" | awk "$AWK_MEDIAN"'
		BEGIN { k = 0 }
		NF == 8 && $3 == "0" && $7 == "0" && $5 > 0 && $4 > 0 { r[k] = $1 / $5; c[k] = $8 / $4; k++ }
		END {
			sort(r, k); sort(c, k)
			if (k == 0) print "- 0 - - -"; else printf "%.2f %d %.2f %.2f %.2f\n", median(r, k), k, r[0], r[k - 1], median(c, k)
		}' >"$RES/g7.ratio"
}

# field ID N: field N of ID's result ("" when ID did not run).
field() {
	[ -f "$RES/$1" ] || return 0
	cut -d' ' -f"$2" "$RES/$1"
}

# ok ID: the command ran and its last run succeeded.
ok() {
	[ "$(field "$1" 4)" = 0 ]
}

# row ID LABEL REF [NOTE]: one table row; the ratio column is REF's median
# time over ID's ("imfilter time / this": below 1, imfilter is faster), "-"
# when REF is "-".
row() {
	id=$1 label=$2 ref=$3 note=${4:-}
	[ -f "$RES/$id" ] || return 0
	read -r runs med rss st bytes <"$RES/$id"
	if [ "$st" != 0 ]; then
		case $st in
		timeout) why="killed after $TIMEOUT s" ;;
		*) why="failed ($st): $(head -n 1 "$RES/$id.log" | cut -c1-100 | tr '|' '/')" ;;
		esac
		note="$why${note:+; }$note"
	elif [ "$runs" -lt "$RUNS" ]; then
		note="$runs of $RUNS runs (over the ${BUDGET} s budget)${note:+; }$note"
	fi
	ratio=-
	if [ "$st" = 0 ] && ok "$ref"; then
		ratio=$(awk -v a="$(field "$ref" 2)" -v b="$med" 'BEGIN { printf "%.2f", a / b }')
	fi
	awk -v label="$label" -v runs="$runs" -v med="$med" -v rss="$rss" -v bytes="$bytes" \
		-v ratio="$ratio" -v note="$note" 'BEGIN {
		printf "| %s | %d | %s | %.1f | %.2f | %s | %s |\n", label, runs,
			(med < 0 ? "-" : sprintf("%.0f", med)), rss / 1024, bytes / 1048576, ratio, note
	}'
}

table_head() {
	echo "| tool | runs | median ms | peak RSS MB | output MB | imfilter time / this | note |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
}

goal_head() {
	echo
	echo "| goal | measured | target | result |"
	echo "| --- | ---: | ---: | --- |"
}

# goal DESC A B FIELD MAX: the ratio field FIELD of A over B must be <= MAX.
goal() {
	desc=$1 a=$2 b=$3 f=$4 max=$5
	if ! ok "$a"; then
		if [ -f "$RES/$a" ]; then
			echo "| $desc | - | <= $max | FAIL (imfilter failed) |"
		else
			echo "| $desc | - | <= $max | n/a |"
		fi
	elif ! ok "$b"; then
		echo "| $desc | - | <= $max | n/a (reference not run or failed) |"
	else
		awk -v d="$desc" -v a="$(field "$a" "$f")" -v b="$(field "$b" "$f")" -v m="$max" 'BEGIN {
			r = a / b
			printf "| %s | %.2f | <= %s | %s |\n", d, r, m, (r <= m ? "PASS" : "FAIL")
		}'
	fi
}

# ---- the cases --------------------------------------------------------------

echo "bench: $RUNS runs per command, at most $BUDGET s of runs each, $TIMEOUT s per run" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
START=$(date +%s)

# Goal 1 (and 3, 7): 4096x4096 gray PGM -> PGM, sobel-x.
measure g1-imf out/g1-imf.pgm "$IMF" -k sobel-x "$G1" out/g1-imf.pgm
if [ "$HAVE_VIPS" = 1 ]; then
	measure g1-vconv out/g1-vconv.pgm vips conv "$G1" out/g1-vconv.pgm kernels/sobel-x.mat --precision integer
	measure g1-vcopy out/g1-vcopy.pgm vips copy "$G1" out/g1-vcopy.pgm
fi
[ -n "$IM" ] && measure g1-im out/g1-im.pgm $IM "$G1" -morphology Correlate "$SOBEL_IM" out/g1-im.pgm
[ "$HAVE_GM" = 1 ] && measure g1-gm out/g1-gm.pgm gm convert "$G1" -convolve "$SOBEL_GM" out/g1-gm.pgm

# Goal 2: 4096x4096 RGB JPEG -> PNG, sharpen on R, G and B.
measure g2-imf out/g2-imf.png "$IMF" --channels rgb -k sharpen "$G2" out/g2-imf.png
measure g2-imfluma out/g2-imfluma.png "$IMF" -k sharpen "$G2" out/g2-imfluma.png
if [ "$HAVE_VIPS" = 1 ]; then
	measure g2-vconv out/g2-vconv.png vips conv "$G2" out/g2-vconv.png kernels/sharpen.mat --precision integer
	measure g2-vcopy out/g2-vcopy.png vips copy "$G2" out/g2-vcopy.png
fi
[ -n "$IM" ] && measure g2-im out/g2-im.png $IM "$G2" -morphology Correlate "$SHARPEN_IM" out/g2-im.png
[ "$HAVE_GM" = 1 ] && measure g2-gm out/g2-gm.png gm convert "$G2" -convolve "$SHARPEN_GM" out/g2-gm.png

# Goal 3: memory on a short and a tall image of the same width.
measure g3-imf-short out/g3-imf-short.pgm "$IMF" -k sobel-x in/gray-1024x4096.pgm out/g3-imf-short.pgm
measure g3-imf-tall out/g3-imf-tall.pgm "$IMF" -k sobel-x in/gray-1024x65536.pgm out/g3-imf-tall.pgm
if [ "$HAVE_VIPS" = 1 ]; then
	measure g3-vconv-short out/g3-vconv-short.pgm vips conv in/gray-1024x4096.pgm out/g3-vconv-short.pgm kernels/sobel-x.mat --precision integer
	measure g3-vconv-tall out/g3-vconv-tall.pgm vips conv in/gray-1024x65536.pgm out/g3-vconv-tall.pgm kernels/sobel-x.mat --precision integer
fi

# Goal 4: 15x15 Gaussian and box given as full matrices, against vips's
# separable path with the 1-D mask (float, as the issue measured it; vips
# then writes a float PFM), and for reference its integer path (8-bit PGM,
# the same output as imfilter's) and vips conv on the full Gaussian matrix.
measure g4-imf-gauss out/g4-imf-gauss.pgm "$IMF" -k kernels/gauss15.txt "$G1" out/g4-imf-gauss.pgm
measure g4-imf-box out/g4-imf-box.pgm "$IMF" -k kernels/box15.txt "$G1" out/g4-imf-box.pgm
if [ "$HAVE_VIPS" = 1 ]; then
	measure g4-vsep-gauss out/g4-vsep-gauss.pgm vips convsep "$G1" out/g4-vsep-gauss.pgm kernels/gauss15-1d.mat --precision float
	measure g4-vsep-box out/g4-vsep-box.pgm vips convsep "$G1" out/g4-vsep-box.pgm kernels/box15-1d.mat --precision float
	measure g4-vsepi-gauss out/g4-vsepi-gauss.pgm vips convsep "$G1" out/g4-vsepi-gauss.pgm kernels/gauss15-1d.mat --precision integer
	measure g4-vsepi-box out/g4-vsepi-box.pgm vips convsep "$G1" out/g4-vsepi-box.pgm kernels/box15-1d.mat --precision integer
	measure g4-vconv-gauss out/g4-vconv-gauss.pgm vips conv "$G1" out/g4-vconv-gauss.pgm kernels/gauss15.mat --precision float
fi

# Goal 5: a 31x31 random kernel (float weights; vips conv in float, PFM out).
measure g5-imf out/g5-imf.pgm "$IMF" -k kernels/rand31.txt "$G1" out/g5-imf.pgm
[ "$HAVE_VIPS" = 1 ] &&
	measure g5-vconv out/g5-vconv.pgm vips conv "$G1" out/g5-vconv.pgm kernels/rand31.mat --precision float

# Goal 6: the engine alone, each run paired with a memcpy (as goal 7's pairs).
# On the shared machine of the README one pair's ratio spreads by a third,
# so the median of 11 moved by several points from one bench run to the next.
ENGINE_RUNS=$((4 * RUNS + 1))
[ "$ENGINE_RUNS" -le 1000 ] || ENGINE_RUNS=1000 # imfilter-bench's MAX_RUNS
echo "bench: imfilter-bench -r $ENGINE_RUNS" >&2
"$ENGINE" -r "$ENGINE_RUNS" >"$RES/engine.md" 2>"$RES/engine.log" ||
	echo "imfilter-bench failed: $(head -n 1 "$RES/engine.log")" >>"$RES/engine.md"

# Goal 7: threads.  The two runs of each pair follow each other, and the
# goal is the median of the pairs' ratios: on a shared machine whose speed
# drifts, a ratio of two medians taken minutes apart measures the drift.  One
# pair's ratio spread from 0.9 to 2.1 on the machine of the README, which
# moved a median of 11 pairs by about 0.1 between runs minutes apart: 31
# pairs (about 2 s) halve that.
measure_threads $((6 * RUNS + 1))

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
ELAPSED=$(($(date +%s) - START))

# ---- the report -------------------------------------------------------------

# version_of CMD...: the first line the command prints, or "not installed".
version_of() {
	command -v "$1" >/dev/null 2>&1 || { echo "not installed"; return; }
	"$@" 2>&1 | head -n 1
}

git_rev() {
	rev=$(cd "$SRC_DIR" && git rev-parse --short HEAD 2>/dev/null) || { echo "unknown"; return; }
	if [ -n "$(cd "$SRC_DIR" && git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		rev="$rev with uncommitted changes"
	fi
	echo "$rev"
}

{
	echo "# imfilter benchmark (issue 6)"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1), $(nproc 2>/dev/null || echo '?') online CPUs; memory $(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null); $(uname -sr)"
	echo "- load average (1, 5, 15 min): $LOAD_BEFORE before, $LOAD_AFTER after; other work on the machine makes the numbers noisy"
	echo "- imfilter: $("$IMF" --version 2>&1 | head -n 1), git $(git_rev), CFLAGS '${BENCH_CFLAGS:-unknown}', $(${BENCH_CC:-cc} --version 2>/dev/null | head -n 1)"
	echo "- vips: $(version_of vips --version)"
	if [ -n "$IM" ]; then
		echo "- ImageMagick: $($IM -version 2>&1 | head -n 1 | sed 's/^Version: //')"
	else
		echo "- ImageMagick: not installed"
	fi
	echo "- GraphicsMagick: $(version_of gm version)"
	echo "- runs: median of BENCH_RUNS=$RUNS runs per command; no further run once a command's runs took ${BUDGET} s (BENCH_BUDGET); a run is killed after ${TIMEOUT} s (BENCH_TIMEOUT); $ELAPSED s in all"
	echo
	echo "Wall time and peak RSS (ru_maxrss) of each whole command, input file in"
	echo "\`$DIR/in\` to output file in $OUT_WHERE (BENCH_OUT). \"imfilter time / this\" below 1 means imfilter is faster."
	echo "Peers run with their defaults (libvips, ImageMagick and GraphicsMagick use every core)."
	echo "They extend the image at its border by copying the edge, imfilter (by default) with zeros."
	echo "The exact commands are at the end."

	echo
	echo "## Goal 1: 4096x4096 gray PGM -> PGM, sobel-x"
	echo
	table_head
	row g1-imf imfilter g1-imf
	row g1-vconv "vips conv" g1-imf "integer mask, 8-bit out"
	row g1-vcopy "vips copy" g1-imf "no filter: the I/O floor"
	row g1-im "ImageMagick" g1-imf
	row g1-gm "GraphicsMagick" g1-imf
	goal_head
	goal "imfilter / vips conv (time)" g1-imf g1-vconv 2 0.8
	goal "imfilter / vips copy (time)" g1-imf g1-vcopy 2 1.15

	echo
	echo "## Goal 2: 4096x4096 RGB JPEG -> PNG, sharpen, --channels rgb"
	echo
	table_head
	row g2-imf "imfilter --channels rgb" g2-imf
	row g2-imfluma "imfilter (luma, default)" - "one gray plane: not the same job"
	row g2-vconv "vips conv" g2-imf "integer mask, 8-bit RGB out"
	row g2-vcopy "vips copy" g2-imf "no filter: JPEG to PNG only"
	row g2-im "ImageMagick" g2-imf
	row g2-gm "GraphicsMagick" g2-imf
	goal_head
	goal "imfilter / vips conv (time)" g2-imf g2-vconv 2 0.8
	goal "imfilter / vips conv (PNG size)" g2-imf g2-vconv 5 1.1

	echo
	echo "## Goal 3: peak memory"
	echo
	table_head
	row g1-imf "imfilter, 4096x4096 (goal 1)" g1-imf
	row g1-vconv "vips conv, 4096x4096 (goal 1)" g1-imf
	row g3-imf-short "imfilter, 1024x4096" g3-imf-short
	row g3-imf-tall "imfilter, 1024x65536" g3-imf-tall
	row g3-vconv-short "vips conv, 1024x4096" g3-imf-short
	row g3-vconv-tall "vips conv, 1024x65536" g3-imf-tall
	goal_head
	goal "imfilter / vips conv (RSS, 4096x4096)" g1-imf g1-vconv 3 1
	goal "imfilter 1024x65536 / 1024x4096 (RSS)" g3-imf-tall g3-imf-short 3 1.3

	echo
	echo "## Goal 4: 15x15 Gaussian and box as full matrices, 4096x4096 gray PGM"
	echo
	table_head
	row g4-imf-gauss "imfilter, Gaussian (full 15x15)" g4-imf-gauss
	row g4-vsep-gauss "vips convsep, Gaussian 1-D mask, float" g4-imf-gauss "float PFM out"
	row g4-vsepi-gauss "vips convsep, Gaussian 1-D mask, integer" g4-imf-gauss "8-bit out; for reference"
	row g4-vconv-gauss "vips conv, Gaussian full matrix, float" g4-imf-gauss "float PFM out; for reference"
	row g4-imf-box "imfilter, box (full 15x15)" g4-imf-box
	row g4-vsep-box "vips convsep, box 1-D mask, float" g4-imf-box "float PFM out"
	row g4-vsepi-box "vips convsep, box 1-D mask, integer" g4-imf-box "8-bit out; for reference"
	goal_head
	goal "imfilter / vips convsep float (time), Gaussian" g4-imf-gauss g4-vsep-gauss 2 0.8
	goal "imfilter / vips convsep float (time), box" g4-imf-box g4-vsep-box 2 0.8
	echo
	echo "ImageMagick and GraphicsMagick are not run on 15x15 and larger kernels (minutes per run)."

	echo
	echo "## Goal 5: 31x31 random kernel, 4096x4096 gray PGM"
	echo
	table_head
	row g5-imf imfilter g5-imf
	row g5-vconv "vips conv, float" g5-imf "float PFM out"
	goal_head
	goal "imfilter / vips conv (time)" g5-imf g5-vconv 2 0.5

	echo
	echo "## Goal 6: the engine alone (build/imfilter-bench -r $ENGINE_RUNS)"
	echo
	cat "$RES/engine.md"

	echo
	echo "## Goal 7: threads, goal 1's case"
	echo
	table_head
	row g7-j1 "imfilter -j 1" g7-j1
	row g7-j2 "imfilter -j 2" g7-j1
	goal_head
	if ok g7-j1 && ok g7-j2; then
		read -r r k lo hi cpu <"$RES/g7.ratio"
		awk -v r="$r" -v k="$k" -v lo="$lo" -v hi="$hi" -v cpu="$cpu" 'BEGIN {
			printf "| speedup of -j 2 over -j 1: median of %d back-to-back pairs (range %s-%s) | %s | >= 1.6 | %s |\n", k, lo, hi, r, (r != "-" && r + 0 >= 1.6 ? "PASS" : "FAIL")
			printf "| CPU time of -j 2 over -j 1, the same pairs (median): above 1 when the two threads slow each other | %s | - | for context |\n", cpu
		}'
		if cmp -s out/g7-j1.pgm out/g7-j2.pgm && cmp -s out/g7-j1.pgm out/g1-imf.pgm; then
			echo "| output of -j 1, -j 2 and the default identical (cmp) | yes | yes | PASS |"
		else
			echo "| output of -j 1, -j 2 and the default identical (cmp) | no | yes | FAIL |"
		fi
	else
		echo "| speedup of -j 2 over -j 1 | - | >= 1.6 | FAIL (imfilter failed) |"
	fi

	echo
	echo "## Commands"
	echo
	echo "Run in \`$DIR\`; \`imfilter\` is \`$IMF\`. Matrix files (\`.mat\`, libvips's format)"
	echo "and kernel files (\`.txt\`) are in \`kernels/\`."
	echo
	for f in "$RES"/*.cmd; do
		[ -f "$f" ] || continue
		id=$(basename "$f" .cmd)
		printf -- '- %s: \140%s\140\n' "$id" "$(cat "$f")"
	done
	echo
	echo "Test images (\`mkbenchimg\`, bench/mkbenchimg.c): $(cd in && for f in *; do printf '%s (%s bytes) ' "$f" "$(wc -c <"$f" | tr -d ' ')"; done)"
} >"$REPORT.tmp" || die "cannot write $REPORT"
mv "$REPORT.tmp" "$REPORT" || die "cannot write $REPORT"

echo >&2
cat "$REPORT"
