#!/bin/sh
# tests/cli_batch.sh - end-to-end tests of batch mode (-O DIR INPUT...) and
# pipelines.
#
# Makes a batch of PNG, JPEG and PNM files with $IMFILTER itself (default
# build/imfilter), plus corrupt ones, and checks: output names, every bad
# file on its own stderr line (the same line as single-file mode gives), the
# summary line, exit statuses, byte-identical results for -j 1 and -j 4 and
# across runs, --files-from, the clash and folder errors, --verbose/--quiet,
# no progress bar off a terminal, quiet closed pipes, and that Ctrl-C in the
# middle of a batch exits 130 and leaves no temporary file.
# Prints "cli_batch: N passed, N failed" last; exits 1 if anything failed.
set -u

IMF=${IMFILTER:-build/imfilter}
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-batch-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

. "$(dirname "$0")/clilib.sh"

# no_leftovers NAME DIR: no temporary file anywhere under DIR
no_leftovers() {
	left=$(find "$2" -name '.*.imfilter-*' | wc -l)
	if [ "$left" -eq 0 ]; then ok; else bad "$1: $left temporary files left in $2"; fi
}

# same_tree NAME A B: folders A and B hold the same file names with identical bytes
same_tree() {
	if [ "$(ls -A "$2")" != "$(ls -A "$3")" ]; then
		bad "$1: different files: $(ls -A "$2" | tr '\n' ' ') / $(ls -A "$3" | tr '\n' ' ')"
		return
	fi
	for f in $(ls -A "$2"); do
		cmp -s "$2/$f" "$3/$f" || {
			bad "$1: $f differs"
			return
		}
	done
	ok
}

# ---- the batch ------------------------------------------------------------
# 16 good files in three formats and two folders, 4 bad ones (a truncated
# PNG, an empty file, text garbage, a folder).

S=samples
G=$T/in
mkdir -p "$G/sub"
for s in shapes strokes gradient texture; do
	cp "$S/$s.png" "$G/$s.png"
	$IMF -k identity "$S/$s.png" "$G/$s-p.pgm" || bad "make $s-p.pgm"
	$IMF -k identity -q 85 "$S/$s.png" "$G/$s-q.jpg" || bad "make $s-q.jpg"
done
$IMF -k identity --channels rgb "$S/texture.png" "$G/sub/colour.ppm" || bad "make colour.ppm"
$IMF -k identity --channels rgb -f png "$S/blobs.jpg" "$G/sub/blobs-rgb.png" || bad "make blobs-rgb.png"
cp "$S/blobs.jpg" "$G/sub/blobs.jpg"
$IMF -k gaussian-3 "$S/shapes.png" "$G/sub/soft.pgm" || bad "make soft.pgm"
head -c 300 "$S/shapes.png" >"$G/truncated.png"
: >"$G/empty.jpg"
printf 'hello, world\nthis is not an image\n' >"$G/garbage.pnm"
mkdir "$G/folder.png"

good="shapes.png shapes-p.pgm shapes-q.jpg strokes.png strokes-p.pgm strokes-q.jpg
gradient.png gradient-p.pgm gradient-q.jpg texture.png texture-p.pgm texture-q.jpg
sub/colour.ppm sub/blobs-rgb.png sub/blobs.jpg sub/soft.pgm"
badf="truncated.png empty.jpg garbage.pnm folder.png"
set --
for f in $good $badf; do set -- "$@" "$G/$f"; done
[ $# -eq 20 ] && ok || bad "the batch has $# files, want 20"

# What single-file mode says about each bad file: the batch must say the same.
: >"$T/want-err"
for f in $badf; do
	$IMF -k sobel "$G/$f" "$T/single-bad.png" 2>>"$T/want-err" && bad "single: $f was accepted"
done
[ "$(wc -l <"$T/want-err")" -eq 4 ] && ok || bad "single-file errors: $(cat "$T/want-err")"
grep -qx "$G/folder.png: is a folder" "$T/want-err" && ok || bad "a folder input: $(cat "$T/want-err")"
grep -qx "$G/empty.jpg: input is empty" "$T/want-err" && ok || bad "an empty input: $(cat "$T/want-err")"
[ ! -e "$T/single-bad.png" ] && ok || bad "a failed single run wrote its output"

# What each good file gives on its own, for comparing bytes.
mkdir "$T/single"
for f in $good; do
	b=$(basename "$f")
	$IMF -k sobel -f png "$G/$f" "$T/single/${b%.*}-edges.png" || bad "single: $f"
done

run -k sobel -f png --suffix -edges -j 4 -O "$T/j4" "$@"
expect_status "batch with bad files" 1
sort "$T/err" >"$T/got-err"
{
	cat "$T/want-err"
	echo "imfilter: 16 written, 4 failed"
} | sort >"$T/want-all"
cmp -s "$T/got-err" "$T/want-all" && ok || bad "batch stderr: $(cat "$T/err")"
[ "$(tail -n 1 "$T/err")" = "imfilter: 16 written, 4 failed" ] && ok || bad "summary comes last"
[ ! -s "$T/out" ] && ok || bad "a batch writes nothing on stdout"
grep -q "$(printf '\r')" "$T/err" && bad "progress bar drawn off a terminal" || ok
same_tree "batch = single files" "$T/j4" "$T/single"
[ "$(ls -A "$T/j4" | wc -l)" -eq 16 ] && ok || bad "16 outputs: $(ls -A "$T/j4")"
[ -f "$T/j4/colour-edges.png" ] && [ -f "$T/j4/shapes-q-edges.png" ] && ok || bad "names: $(ls "$T/j4")"
head -c 4 "$T/j4/blobs-edges.png" | od -An -c | grep -q 'P   N   G' && ok || bad "-f png writes PNG"
no_leftovers "batch" "$T/j4"

# -j 1 and -j 4 write the same bytes; so do two runs of the same batch.
run -k sobel -f png --suffix -edges -j 1 -O "$T/j1" "$@"
expect_status "batch -j 1" 1
same_tree "-j 1 = -j 4" "$T/j1" "$T/j4"
run -k sobel -f png --suffix -edges -j 4 -O "$T/j4b" "$@"
same_tree "two runs of one batch" "$T/j4b" "$T/j4"
run -e 'conv sobel-x,laplacian | relu | maxpool 2' -m normalize -j 1 -O "$T/c1" "$@"
run -e 'conv sobel-x,laplacian | relu | maxpool 2' -m normalize -j 3 -O "$T/c3" "$@"
same_tree "a chain: -j 1 = -j 3" "$T/c1" "$T/c3"

# Without -f each output keeps its input's extension, and its format.
good_only=""
for f in $good; do good_only="$good_only $G/$f"; done
# shellcheck disable=SC2086
run -k laplacian -O "$T/keep" $good_only
expect_out "all good: only the summary" "$T/err" "imfilter: 16 written, 0 failed"
expect_status "all good" 0
[ "$(head -n 1 "$T/keep/shapes-p.pgm")" = P5 ] && ok || bad ".pgm stays PNM"
head -c 3 "$T/keep/texture-q.jpg" | od -An -tx1 | grep -q 'ff d8 ff' && ok || bad ".jpg stays JPEG"
[ "$(head -n 1 "$T/keep/colour.ppm")" = P5 ] && ok || bad "gray result in a .ppm is P5"
$IMF -k laplacian "$G/sub/soft.pgm" "$T/soft1.pgm" && cmp -s "$T/soft1.pgm" "$T/keep/soft.pgm" && ok ||
	bad "kept extension: same bytes as one file"

# Canonical extensions of -f.
for fe in png:png jpeg:jpg pnm:pnm pfm:pfm txt:txt; do
	run -k sobel -f "${fe%%:*}" -O "$T/ext" "$G/shapes-p.pgm"
	[ "$rc" -eq 0 ] && [ -f "$T/ext/shapes-p.${fe#*:}" ] && ok || bad "-f ${fe%%:*} gives .${fe#*:}"
done

# --split: NAME-0.EXT, NAME-1.EXT under DIR.
run -e 'conv sobel-x,sobel-y' --split --quiet -O "$T/split" "$G/shapes.png" "$G/sub/soft.pgm"
[ "$rc" -eq 0 ] && [ "$(ls "$T/split" | tr '\n' ' ')" = "shapes-0.png shapes-1.png soft-0.pgm soft-1.pgm " ] &&
	ok || bad "--split in a batch: $(ls "$T/split")"

# A bad file never costs an existing output: the old one stays whole.
mkdir -p "$T/old"
echo keep >"$T/old/truncated.png"
run -k sobel -O "$T/old" "$G/truncated.png" "$G/shapes.png"
expect_status "bad file over an old output" 1
expect_out "old output kept" "$T/old/truncated.png" keep
[ -f "$T/old/shapes.png" ] && ok || bad "the good file is written"
no_leftovers "old outputs" "$T/old"

# Folders are created with their parents.
run -k sobel --quiet -O "$T/deep/a/b/c" "$G/shapes.png"
[ "$rc" -eq 0 ] && [ -f "$T/deep/a/b/c/shapes.png" ] && [ ! -s "$T/err" ] && ok || bad "mkdir -p: $(cat "$T/err")"

# ---- --files-from -------------------------------------------------------------

printf '%s\n\n%s\n   \n%s\r\n%s\n\n' "$G/shapes.png" "$G/nope.png" "$G/sub/soft.pgm" "$G/strokes-q.jpg" >"$T/list"
run -k sobel --files-from "$T/list" -O "$T/list-out"
expect_status "--files-from with a missing path" 1
printf '%s\n' "$G/nope.png: cannot open: No such file or directory" "imfilter: 3 written, 1 failed" >"$T/want"
cmp -s "$T/err" "$T/want" && ok || bad "--files-from stderr: $(cat "$T/err")"
[ "$(ls "$T/list-out" | tr '\n' ' ')" = "shapes.png soft.pgm strokes-q.jpg " ] && ok ||
	bad "--files-from outputs: $(ls "$T/list-out")"

# From stdin, added to the INPUT arguments.
printf '%s\n' "$G/strokes.png" "$G/sub/blobs.jpg" | $IMF -k sobel -@ - -O "$T/stdin-list" "$G/shapes-p.pgm" \
	>"$T/out" 2>"$T/err"
rc=$?
expect_err "-@ -" 0 "imfilter: 3 written, 0 failed"
[ "$(ls "$T/stdin-list" | tr '\n' ' ')" = "blobs.jpg shapes-p.pgm strokes.png " ] && ok || bad "-@ - outputs"

printf '\n\n' | $IMF -k sobel -@ - -O "$T/empty-list" >"$T/out" 2>"$T/err"
rc=$?
expect_err "an empty list" 0 "imfilter: 0 written, 0 failed"

run -k sobel -@ "$T/no-list" -O "$T/x"
expect_err "a missing list" 1 "$T/no-list: cannot open: No such file or directory"
[ ! -e "$T/x" ] && ok || bad "a missing list creates no folder"

# ---- errors before any work ------------------------------------------------------

mkdir "$G/other"
cp "$S/strokes.png" "$G/other/shapes.png"
run -k sobel -O "$T/dup" "$G/shapes.png" "$G/strokes.png" "$G/other/shapes.png"
expect_err "duplicate outputs" 2 "imfilter: $G/shapes.png and $G/other/shapes.png would both write $T/dup/shapes.png"
[ ! -e "$T/dup" ] && ok || bad "duplicate outputs: nothing written, no folder made"

cp "$G/shapes-p.pgm" "$G/other/strokes.pgm"
run -k sobel -f png -O "$T/dup" "$G/other/strokes.pgm" "$G/strokes.png"
expect_err "duplicates through -f" 2 "imfilter: $G/other/strokes.pgm and $G/strokes.png would both write $T/dup/strokes.png"

# An output that would replace another input of the batch (order-dependent results).
mkdir "$T/self"
cp "$S/shapes.png" "$T/self/a.png"
cp "$S/strokes.png" "$T/self/a-x.png"
run -k sobel --suffix -x -O "$T/self" "$T/self/a.png" "$T/self/a-x.png"
expect_err "output over another input" 2 "imfilter: $T/self/a.png would write $T/self/a-x.png over the input $T/self/a-x.png"
cmp -s "$T/self/a-x.png" "$S/strokes.png" && ok || bad "that input is untouched"

run -k sobel -j 0 -O "$T/j0" "$G/shapes.png"
expect_err "-j 0" 2 "imfilter: --jobs: '0' is not a whole number in 1..256"
run -k sobel --jobs=x -O "$T/j0" "$G/shapes.png"
expect_err "-j x" 2 "imfilter: --jobs: 'x' is not a whole number in 1..256"
[ ! -e "$T/j0" ] && ok || bad "-j 0 makes no folder"

echo file >"$T/plain"
run -k sobel -O "$T/plain/out" "$G/shapes.png" "$G/strokes.png"
expect_err "-O under a regular file" 1 "$T/plain/out: cannot create the output folder: Not a directory"
run -k sobel -O "$T/plain" "$G/shapes.png"
expect_err "-O names a file" 1 "$T/plain: cannot create the output folder: Not a directory"

if [ "$(id -u)" -ne 0 ]; then
	mkdir "$T/ro" && chmod 555 "$T/ro"
	run -k sobel -O "$T/ro" "$G/shapes.png"
	expect_err "read-only -O" 1 "$T/ro: cannot write into the output folder: Permission denied"
	run -k sobel -O "$T/ro/sub" "$G/shapes.png"
	expect_err "-O in a read-only folder" 1 "$T/ro/sub: cannot create the output folder: Permission denied"
fi

run -k sobel "$G/shapes.png" "$G/strokes.png" "$G/texture.png"
expect_err "several inputs without -O" 2 "imfilter: unexpected argument '$G/texture.png': several inputs need -O DIR (usage: imfilter [OPTIONS] [INPUT [OUTPUT]])"
run -k sobel -O "$T/o" -o "$T/o.png" "$G/shapes.png"
expect_err "-O with -o" 2 "imfilter: -O DIR writes one file per input: it does not go with -o"
run -k sobel -O "$T/o" - <"$G/shapes.png"
expect_err "-O with stdin" 2 "imfilter: -O DIR: '-' (standard input) cannot be one of a batch's inputs"
run -k sobel -O "$T/o"
expect_err "-O without inputs" 2 "imfilter: -O DIR needs INPUT files or --files-from FILE"
run -k sobel --suffix -x "$G/shapes.png" "$T/o.png"
expect_err "--suffix without -O" 2 "imfilter: --suffix needs -O DIR (the folder for the results)"
run -k sobel -@ "$T/list" "$T/o.png"
expect_err "-@ without -O" 2 "imfilter: --files-from needs -O DIR (the folder for the results)"
run -k sobel --quiet --verbose -O "$T/o" "$G/shapes.png"
expect_err "--quiet --verbose" 2 "imfilter: give either --quiet or --verbose, not both"
[ ! -e "$T/o" ] && [ ! -e "$T/o.png" ] && ok || bad "usage errors write nothing"

# ---- --verbose, --quiet, progress --------------------------------------------

run -k sobel --verbose -j 3 -O "$T/verbose" "$G/shapes.png" "$G/sub/blobs.jpg" "$G/empty.jpg"
expect_status "--verbose batch" 1
printf '%s\n' "$G/empty.jpg: input is empty" "$G/shapes.png -> $T/verbose/shapes.png" \
	"$G/sub/blobs.jpg -> $T/verbose/blobs.jpg" | sort >"$T/want"
head -n 3 "$T/err" | sort >"$T/got"
cmp -s "$T/got" "$T/want" && [ "$(wc -l <"$T/err")" -eq 4 ] &&
	[ "$(tail -n 1 "$T/err")" = "imfilter: 2 written, 1 failed" ] && ok || bad "--verbose: $(cat "$T/err")"

# One file: how it ran (streamed in bands here), then the arrow.
run -k sobel --verbose -j 1 "$G/shapes.png" "$T/one.png"
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$T/err")" -eq 2 ] &&
	[ "$(tail -n 1 "$T/err")" = "$G/shapes.png -> $T/one.png" ] &&
	head -n 1 "$T/err" | grep -q "^$G/shapes.png: streaming [0-9]* output rows a band, one step at a time; 1 thread; direct"; then
	ok
else
	bad "--verbose, one file: status $rc: $(cat "$T/err")"
fi

run -k sobel --quiet -O "$T/quiet" "$G/shapes.png" "$G/strokes.png"
[ "$rc" -eq 0 ] && [ ! -s "$T/err" ] && ok || bad "--quiet success: stderr '$(cat "$T/err")'"
run -k sobel --quiet -O "$T/quiet" "$G/shapes.png" "$G/garbage.pnm"
expect_status "--quiet with a failure" 1
[ "$(wc -l <"$T/err")" -eq 2 ] && [ "$(tail -n 1 "$T/err")" = "imfilter: 1 written, 1 failed" ] && ok ||
	bad "--quiet still prints errors and the summary when a file failed: $(cat "$T/err")"

# On a terminal (script(1) gives one) the bar is drawn with \r and cleared.
if script -qec true /dev/null >/dev/null 2>&1; then
	script -qec "$IMF -k sobel -j 2 -O '$T/tty' $good_only" /dev/null >"$T/tty.txt" 2>&1
	grep -q 'files/s' "$T/tty.txt" && grep -q "$(printf '\r')" "$T/tty.txt" && ok ||
		bad "progress on a terminal: $(od -c "$T/tty.txt" | head -5)"
	grep -q 'imfilter: 16 written, 0 failed' "$T/tty.txt" && ok || bad "summary on a terminal"
	script -qec "$IMF -k sobel --quiet -O '$T/tty2' $good_only" /dev/null >"$T/tty.txt" 2>&1
	[ ! -s "$T/tty.txt" ] && ok || bad "--quiet on a terminal: $(od -c "$T/tty.txt" | head -3)"
fi

# ---- pipelines -------------------------------------------------------------------

# A closed pipe ends imfilter quietly: empty stderr, non-zero status.
{
	$IMF -k sobel -p 300 -f pnm "$S/texture.png" - 2>"$T/err"
	echo $? >"$T/rc"
} | head -c 100 >/dev/null
[ ! -s "$T/err" ] && ok || bad "closed pipe: stderr '$(cat "$T/err")'"
[ "$(cat "$T/rc")" -ne 0 ] && ok || bad "closed pipe: status 0"
$IMF -k sobel "$S/texture.png" -f pnm - 2>"$T/err" | head -c 100 >/dev/null
[ ! -s "$T/err" ] && ok || bad "closed pipe (small image): stderr '$(cat "$T/err")'"
# ...also when the parent ignores SIGPIPE: EPIPE is a quiet failure, status 1.
# (PNG at level 0, so the output is far larger than a pipe's buffer: a
# compressed one could fit in it and never meet the closed end.)
for f in png pnm txt; do
	level=
	[ $f = png ] && level="--png-level 0"
	(
		trap '' PIPE
		{
			# shellcheck disable=SC2086
			$IMF -k sobel -p 300 $level -f $f "$S/texture.png" - 2>"$T/err"
			echo $? >"$T/rc"
		} | head -c 100 >/dev/null
	)
	[ ! -s "$T/err" ] && [ "$(cat "$T/rc")" -eq 1 ] && ok ||
		bad "EPIPE ($f): status $(cat "$T/rc"), stderr '$(cat "$T/err")'"
done

# A reader on stdin that ends early is an error, not a hang.
head -c 500 "$S/texture.png" | $IMF -k sobel - "$T/p.png" >"$T/out" 2>"$T/err"
rc=$?
expect_err "truncated PNG on stdin" 1 "<stdin>: PNG: truncated file"
printf 'P5\n10 10\n255\nabc' | $IMF -k sobel - "$T/p.png" >"$T/out" 2>"$T/err"
rc=$?
expect_err "truncated PNM on stdin" 1 "<stdin>: PNM: truncated pixel data"
$IMF -k sobel - "$T/p.png" </dev/null >"$T/out" 2>"$T/err"
rc=$?
expect_err "empty stdin" 1 "<stdin>: input is empty"
[ ! -e "$T/p.png" ] && ok || bad "no output from a truncated stdin"

# -f pnm through a pipe: the same bytes as a file.
$IMF -k sobel -f pnm "$S/shapes.png" - 2>"$T/err" | $IMF -k identity - - >"$T/piped.pnm" 2>>"$T/err"
$IMF -k sobel -f pnm "$S/shapes.png" "$T/direct.pnm"
cmp -s "$T/piped.pnm" "$T/direct.pnm" && [ ! -s "$T/err" ] && ok || bad "pipe = file"

# ---- the option table for the man page --------------------------------------------

run --dump-options
expect_status "--dump-options" 0
awk -F '\t' 'NF != 4 { exit 1 }' "$T/out" && ok || bad "--dump-options: 4 tab-separated fields"
grep -qx "$(printf 'O\toutput-dir\tDIR\t')batch: .*" "$T/out" && ok || bad "--dump-options: -O"
grep -qx -e "$(printf -- '-\tstats\t\\[json\\]\t').*" "$T/out" && ok || bad "--dump-options: optional argument"
grep -qx -e "$(printf -- '-\tflip\t-\t').*" "$T/out" && ok || bad "--dump-options: no argument"
grep -q 'dump-options' "$T/out" && bad "--dump-options lists itself" || ok
$IMF --help | grep -q 'dump-options' && bad "--help shows --dump-options" || ok
# Every option of --help is in the dump, and the other way round.
$IMF --help | sed -n 's/^  \(-., \)\{0,1\} *--\([a-z-]*\).*/\2/p' | sort >"$T/help-names"
cut -f 2 "$T/out" | sort >"$T/dump-names"
cmp -s "$T/help-names" "$T/dump-names" && ok || bad "--help and --dump-options list the same options"

# ---- Ctrl-C in the middle of a big batch ------------------------------------------

mkdir "$T/many" "$T/int"
$IMF -k identity -p 400 -b wrap "$S/texture.png" "$T/big.png" || bad "make big.png"
i=0
while [ $i -lt 200 ]; do
	ln "$T/big.png" "$T/many/c$i.png" 2>/dev/null || cp "$T/big.png" "$T/many/c$i.png"
	i=$((i + 1))
done
$IMF -k gaussian-5 "$T/big.png" "$T/ref.png" || bad "reference output"
# A shell's background job ignores SIGINT (and imfilter keeps an ignored
# signal ignored), so imfilter runs in the foreground and a helper sends it.
reset=""
env --default-signal=INT true 2>/dev/null && reset="env --default-signal=INT"
(
	n=0
	while [ $n -lt 400 ] && [ -z "$(ls "$T/int")" ]; do
		sleep 0.05
		n=$((n + 1))
	done
	kill -INT "$(cat "$T/pid")"
) &
helper=$!
sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$T/pid" $reset $IMF -k gaussian-5 -j 2 -O "$T/int" "$T"/many/*.png \
	>"$T/out" 2>"$T/err"
rc=$?
wait $helper
expect_status "SIGINT" 130
no_leftovers "SIGINT" "$T/int"
written=$(ls "$T/int" | wc -l)
[ "$written" -ge 1 ] && [ "$written" -lt 200 ] && ok || bad "SIGINT mid-batch: $written of 200 written"
for f in $(ls "$T/int"); do
	cmp -s "$T/int/$f" "$T/ref.png" || {
		bad "SIGINT: $f is not whole"
		break
	}
done
grep -q 'written' "$T/err" && bad "SIGINT: no summary expected: $(cat "$T/err")" || ok

echo "cli_batch: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
