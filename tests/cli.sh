#!/bin/sh
# tests/cli.sh - end-to-end tests of the imfilter command line.
#
# Runs $IMFILTER (default build/imfilter) on the samples and on files made
# here, and checks outputs, exit statuses, the exact one-line error messages,
# and that failed runs leave no output or temporary file behind.
# Prints "N passed, N failed" last; exits 1 if anything failed.
set -u

IMF=${IMFILTER:-build/imfilter}
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

. "$(dirname "$0")/clilib.sh"

no_leftovers() {
	left=$(find "$T/dst" -name '.*imfilter-*' | wc -l)
	if [ "$left" -eq 0 ]; then ok; else bad "$1: temporary files left in $T/dst"; fi
}

mkdir -p "$T/dst"

# ---- help, version, kernels ---------------------------------------------

run --help
expect_ok "--help"
grep -q '^Usage: imfilter' "$T/out" && ok || bad "--help prints usage"
grep -q 'Exit status: 0 success, 1 bad input or I/O failure, 2 usage error' "$T/out" && ok ||
	bad "--help documents exit codes"
grep -q 'circular (PyTorch, MATLAB)' "$T/out" && ok || bad "--help has border aliases"

run --version
expect_ok "--version"
grep -q '^imfilter [0-9]' "$T/out" && ok || bad "--version format"

run --list-kernels
expect_ok "--list-kernels"
for k in sobel-x sobel-y sobel laplacian sharpen identity box-3 gaussian-3 gaussian-5 prewitt-x \
	scharr-x emboss laplacian-4; do
	grep -q "^$k " "$T/out" && ok || bad "--list-kernels lists $k"
done
grep -q '^sobel-x  *3x3  *.' "$T/out" && ok || bad "--list-kernels shows size and description"

run --show-kernel sobel-y
expect_ok "--show-kernel"
grep -v '^#' "$T/out" | tr -s ' ' | sed 's/^ //;s/ $//' >"$T/k"
expect_out "--show-kernel sobel-y matrix" "$T/k" "1 2 1
0 0 0
-1 -2 -1"

# ---- the worked examples, exactly ---------------------------------------

run -k "1 0 1; 0 1 0; 1 0 1" -p valid samples/binary.txt -
expect_ok "binary example"
expect_out "binary example values" "$T/out" "4 3 4
2 4 3
2 3 4"

run -k sharpen -p 1 samples/worked.txt -
expect_ok "sharpen example"
# Computed by hand and with an independent NumPy correlation; top left is
# 5*60 - 113 - 73 = 114 (zero padding contributes nothing).
expect_out "sharpen example values" "$T/out" "114 328 -26 470 158
53 266 -61 -30 344
403 116 -47 295 244
108 -135 256 -128 344
314 346 279 153 421"

run -k sharpen -p 1 -s 2 samples/worked.txt -
expect_ok "sharpen stride 2"
[ "$(wc -l <"$T/out")" -eq 3 ] && [ "$(head -n 1 "$T/out" | wc -w)" -eq 3 ] && ok ||
	bad "stride 2 gives 3x3 (floor((5 - 3 + 2) / 2) + 1)"
expect_out "stride 2 takes every other value" "$T/out" "114 -26 158
403 -47 244
314 279 421"

# The same through stdin, inline kernel with a scale and fractions.
printf '0 0 0\n0 16 0\n0 0 0\n' >"$T/m.txt"
run -k "1/16 * 1 2 1; 2 4 2; 1 2 1" -p valid "$T/m.txt" -
expect_ok "scaled inline kernel"
expect_out "scaled inline kernel value" "$T/out" "4"

run -k "1 2; 3 4" -p valid -f txt - - <"$T/m.txt"
expect_ok "even kernel from stdin"
expect_out "even kernel values" "$T/out" "64 48
32 16"

run -k "0 1 0; 0 0 0; 0 0 0" --flip -p valid "$T/m.txt" -
expect_ok "--flip"
expect_out "--flip picks the tap below" "$T/out" "0"

# Border modes on a 1x4 row through a 1x5 kernel that selects the leftmost tap.
printf '1 2 3 4\n' >"$T/row.txt"
for case in "zero:0 0 1 2" "replicate:1 1 1 2" "reflect:3 2 1 2" "symmetric:2 1 1 2" \
	"wrap:3 4 1 2" "mirror:3 2 1 2" "circular:3 4 1 2" "edge:1 1 1 2"; do
	mode=${case%%:*}
	want=${case#*:}
	# -p 2 pads the rows too; the image row is the middle one of five.
	run -k "1 0 0 0 0" -p 2 -b "$mode" "$T/row.txt" -
	sed -n 3p "$T/out" >"$T/mid"
	expect_out "border $mode" "$T/mid" "$want"
done

# ---- formats and pipelines ----------------------------------------------

run -k sobel samples/shapes.png "$T/dst/s.png"
expect_ok "png out"
head -c 4 "$T/dst/s.png" | od -An -c | grep -q 'P   N   G' && ok || bad "png magic"

run -k sobel samples/shapes.png "$T/dst/s.pgm"
expect_ok "pgm by extension"
[ "$(head -n 1 "$T/dst/s.pgm")" = P5 ] && ok || bad "pgm is P5"
[ "$(sed -n 2p "$T/dst/s.pgm")" = "128 128" ] && ok || bad "same padding keeps 128x128"

run -k sobel -f pnm samples/shapes.png "$T/dst/noext"
expect_ok "-f overrides"
[ "$(head -n 1 "$T/dst/noext")" = P5 ] && ok || bad "-f pnm writes P5"

# Pipeline: PNG on stdin, output format follows the input's.
$IMF -k laplacian - - <samples/strokes.png >"$T/dst/pipe.out" 2>"$T/err"
rc=$?
expect_ok "stdin to stdout"
head -c 4 "$T/dst/pipe.out" | od -An -c | grep -q 'P   N   G' && ok || bad "stdout keeps PNG"

# PNM through a pipe into imfilter and out again; values identical to the file path.
$IMF -k identity -f pnm samples/shapes.png - 2>/dev/null | $IMF -k sobel-x -f txt - - >"$T/a.txt" 2>"$T/err"
$IMF -k sobel-x -f txt samples/shapes.png - >"$T/b.txt" 2>>"$T/err"
cmp -s "$T/a.txt" "$T/b.txt" && [ ! -s "$T/err" ] && ok || bad "netpbm pipe equals direct read"

run -k identity -f txt samples/gradient.png -
expect_ok "16-bit read"
# 16-bit samples keep their precision: v/257 is not an integer in general.
grep -q '\.' "$T/out" && ok || bad "16-bit values keep fractions"
cp "$T/out" "$T/g16a.txt"
run -k identity samples/gradient.png "$T/dst/g16.png"
$IMF -k identity -f txt "$T/dst/g16.png" - >"$T/g16.txt" 2>/dev/null
cmp -s "$T/g16a.txt" "$T/g16.txt" && ok || bad "16-bit PNG round trip is exact"

run -k identity samples/texture.png "$T/dst/rgb.ppm" --channels rgb
expect_ok "--channels rgb"
[ "$(head -n 1 "$T/dst/rgb.ppm")" = P6 ] && ok || bad "--channels rgb writes P6"
run -k identity samples/texture.png "$T/dst/gray.ppm"
[ "$(head -n 1 "$T/dst/gray.ppm")" = P5 ] && ok || bad "default intensity writes P5"

run -k sobel samples/blobs.jpg "$T/dst/j.jpg" -q 75
expect_ok "jpeg in and out"
head -c 3 "$T/dst/j.jpg" | od -An -tx1 | grep -q 'ff d8 ff' && ok || bad "jpeg magic"

run -k sobel-x samples/shapes.png "$T/dst/x.pfm"
expect_ok "pfm out"
[ "$(head -n 1 "$T/dst/x.pfm")" = Pf ] && ok || bad "pfm header"

# ---- mapping and stats ----------------------------------------------------

printf '10 20 30\n' >"$T/r.txt"
# "1 0 -1" with replicate on [10 20 30]: [10 - 20, 10 - 30, 20 - 30] = [-10, -20, -10]
for case in "clamp:0 0 0" "abs:10 20 10" "offset:118 108 118" "normalize:255 0 255"; do
	mode=${case%%:*}
	want=${case#*:}
	run -k "1 0 -1" -b replicate -m "$mode" "$T/r.txt" "$T/dst/m.pgm"
	$IMF -k identity -f txt "$T/dst/m.pgm" - >"$T/m.out" 2>/dev/null
	expect_out "map $mode" "$T/m.out" "$want"
done

run -k "-1 0 1" -b replicate --stats=json "$T/r.txt" "$T/dst/st.pgm"
[ "$rc" -eq 0 ] && ok || bad "--stats=json status"
expect_out "--stats=json" "$T/err" '{"min": 10, "max": 20, "mean": 13.3333333, "count": 3, "map": "clamp", "clipped": 0, "clipped_low": 0, "clipped_high": 0, "nonfinite": 0}'

run -k "1 0 -1" -b replicate --stats "$T/r.txt" "$T/dst/st.pgm"
expect_out "--stats text" "$T/err" "imfilter: stats: min -20, max -10, mean -13.3333 over 3 values; map clamp clipped 3 (100.00%): 3 below 0, 0 above 255"

# ---- chains (CNN stages) --------------------------------------------------

# conv sobel-x | relu | maxpool 2 on the worked example; expected values from
# an independent NumPy/SciPy computation: correlate(mode='constant'),
# np.maximum(z, 0), 2x2 max over the first 4x4.
run -e 'conv sobel-x | relu | maxpool 2' samples/worked.txt -
expect_ok "chain conv|relu|maxpool"
expect_out "chain values" "$T/out" "103 18
106 0"

# The same chain from -k: a one-stage chain.
run -k sobel-x -f txt samples/worked.txt -
head -n 1 "$T/out" >"$T/first"
expect_out "-k is a one-stage chain" "$T/first" "-347 27 -15 -132 362"

# A 3-slice kernel sums over R, G, B plus the bias: 1*R + 2*G + 3*B + 1.
printf 'P3\n2 1\n255\n10 20 30  1 2 3\n' >"$T/rgb.ppm"
printf '# weights per channel\n1\n\n2\n\n3\n' >"$T/k3.txt"
run --channels rgb -e "conv $T/k3.txt bias=1" -f txt "$T/rgb.ppm" -
expect_ok "multi-channel kernel"
expect_out "multi-channel sum" "$T/out" "141 15"

# Several kernels give several maps: text keeps them as blocks, images tile them.
run -e 'conv [1],[2]' -f txt samples/binary.txt -
[ "$(grep -c '^$' "$T/out")" -eq 1 ] && [ "$(wc -l <"$T/out")" -eq 11 ] && ok || bad "two maps as two text blocks"
run -e 'conv sobel-x,sobel-y' samples/shapes.png "$T/dst/maps.pgm"
expect_ok "two maps tiled"
[ "$(sed -n 2p "$T/dst/maps.pgm")" = "258 128" ] && ok || bad "2 maps side by side with a 2-pixel separator: $(sed -n 2p "$T/dst/maps.pgm")"
run -e 'conv sobel-x,sobel-y' --tile 1x2 samples/shapes.png "$T/dst/maps.pgm"
[ "$(sed -n 2p "$T/dst/maps.pgm")" = "128 258" ] && ok || bad "--tile 1x2 stacks the maps"
run -e 'conv sobel-x,sobel-y,laplacian' --split samples/shapes.png "$T/dst/map.pgm"
expect_ok "--split"
[ -f "$T/dst/map-0.pgm" ] && [ -f "$T/dst/map-1.pgm" ] && [ -f "$T/dst/map-2.pgm" ] && [ ! -e "$T/dst/map.pgm" ] && ok ||
	bad "--split writes map-0, map-1, map-2"
$IMF -k sobel-y -f txt samples/shapes.png - >"$T/y.txt" 2>/dev/null
$IMF -k identity -f txt "$T/dst/map-1.pgm" - >"$T/y1.txt" 2>/dev/null
$IMF -k sobel-y samples/shapes.png "$T/dst/y.pgm" 2>/dev/null
cmp -s "$T/dst/y.pgm" "$T/dst/map-1.pgm" && ok || bad "--split map 1 is the sobel-y result"

# --dry-run: the classic exam numbers.
run --dry-run --shape 10x10x10 -e 'conv 3x3 out=40 stride=1 pad=1 | relu | maxpool 3 stride=1 pad=1 | conv 3x3 out=20 stride=1 pad=1 | relu | maxpool 2 stride=2 pad=1'
expect_ok "--dry-run"
for shape in 10x10x40 10x10x20 6x6x20; do
	grep -q "$shape" "$T/out" && ok || bad "--dry-run shows $shape"
done
grep -q "10,860" "$T/out" && ok || bad "--dry-run total 10,860"
run --dry-run --shape 10x10x10 -e 'conv 3x3 out=40 stride=1 pad=1 | relu | maxpool 3 stride=1 pad=1 | conv 3x3 out=20 stride=1 pad=1 | relu | maxpool 2 stride=2 pad=1 | conv 3x3 out=10 pad=1'
grep -q "12,670" "$T/out" && ok || bad "--dry-run adds 1,810"
run --dry-run -e 'conv 3x3 out=8 | conv 3x3 out=8 | conv 3x3 out=8' samples/shapes.png
expect_ok "--dry-run from a file header"
grep -q "128x128x8" "$T/out" && ok || bad "--dry-run reads the shape from the file"
run --dry-run --shape 4x4x1 -e 'conv 5x5 out=1 pad=0'
[ "$rc" -eq 2 ] && grep -q "larger than the padded input" "$T/out" && [ "$(wc -l <"$T/err")" -eq 1 ] && ok ||
	bad "--dry-run stage that does not fit: $rc $(cat "$T/err")"
run -e 'conv 3x3 out=40' samples/shapes.png "$T/dst/new.png"
[ "$rc" -eq 2 ] && grep -q "needs --dry-run" "$T/err" && ok || bad "size-only kernel outside --dry-run"

# --explain: the textbook computation of every value.
run -k sharpen -p 1 --explain samples/worked.txt
expect_ok "--explain"
grep -q "5\*60" "$T/out" && grep -q "= 114$" "$T/out" && ok || bad "--explain shows y_11 = ... 5*60 ... = 114"

# Malformed chains: exit 2, one line quoting the stage.
for chain in "frobnicate" "conv" "conv sobel-x stride=0" "conv sobel-x pad=-1" "conv sobel-x |" \
	"conv [1 2; 3 4" "maxpool 0" "conv sobel-x foo=3"; do
	run -e "$chain" samples/shapes.png "$T/dst/new.png"
	[ "$rc" -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^imfilter: --chain: stage [0-9] '" "$T/err" && ok ||
		bad "malformed chain '$chain': $rc $(cat "$T/err")"
done
run -k sobel -e 'relu' samples/shapes.png "$T/dst/new.png"
expect_err "-k with --chain" 2 "imfilter: give either -k or --chain, not both (a chain's conv stage takes the kernel)"

# ---- bad input: one line, right status, nothing written -------------------

echo keep >"$T/dst/keep.png"
run -k sobel "$T/nope.png" "$T/dst/keep.png"
expect_err "missing input" 1 "$T/nope.png: cannot open: No such file or directory"
expect_out "existing output untouched" "$T/dst/keep.png" keep

head -c 100 samples/shapes.png >"$T/trunc.png"
run -k sobel "$T/trunc.png" "$T/dst/keep.png"
[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^$T/trunc.png: PNG: " "$T/err" && ok ||
	bad "truncated png: $rc $(cat "$T/err")"
expect_out "truncated png leaves output" "$T/dst/keep.png" keep

run -k sobel "$T/trunc.png" "$T/dst/new.png"
[ ! -e "$T/dst/new.png" ] && ok || bad "failed run creates no output"

printf 'P5\n4 4\n255\nab' >"$T/trunc.pgm"
run -k sobel "$T/trunc.pgm" "$T/dst/new.png"
[ "$rc" -eq 1 ] && grep -q "^$T/trunc.pgm: PNM: .*truncated" "$T/err" && ok || bad "truncated pgm: $(cat "$T/err")"

head -c 300 samples/blobs.jpg >"$T/trunc.jpg"
run -k sobel "$T/trunc.jpg" "$T/dst/new.png"
[ "$rc" -eq 1 ] && grep -q "^$T/trunc.jpg: JPEG: .*truncated" "$T/err" && ok || bad "truncated jpeg: $(cat "$T/err")"

printf 'hello world\n' >"$T/junk.bin"
run -k sobel "$T/junk.bin" "$T/dst/new.png"
expect_err "unknown format" 1 "$T/junk.bin: unknown format (not PNG, JPEG, netpbm, PFM or a text matrix)"

: >"$T/empty"
run -k sobel "$T/empty" "$T/dst/new.png"
expect_err "empty input" 1 "$T/empty: input is empty"

run -k sobelx samples/shapes.png "$T/dst/new.png"
expect_err "unknown kernel" 2 "imfilter: kernel: unknown kernel 'sobelx' (see --list-kernels); did you mean 'sobel-x'?"

run -k "1 2 3; 4 5" samples/shapes.png "$T/dst/new.png"
expect_err "ragged kernel" 2 "imfilter: kernel: row 2 has 2 values, expected 3"

run -k "" samples/shapes.png "$T/dst/new.png"
expect_err "empty kernel" 2 "imfilter: kernel: no values"

run -k sobel -s 0 samples/shapes.png "$T/dst/new.png"
expect_err "stride 0" 2 "imfilter: --stride: '0' is not a whole number in 1..1000000"

run -k sobel -p -1 samples/shapes.png "$T/dst/new.png"
expect_err "negative padding" 2 "imfilter: --pad: '-1' is not a whole number in 0..1000000"

run -k sobel -b sideways samples/shapes.png "$T/dst/new.png"
expect_err "unknown border" 2 "imfilter: --border: unknown border 'sideways' (zero, replicate, reflect, symmetric, wrap)"

run -k sobel --precision half samples/shapes.png "$T/dst/new.png"
expect_err "unknown precision" 2 "imfilter: --precision: unknown precision 'half' (exact, float)"

run -k sobel -m weird samples/shapes.png "$T/dst/new.png"
expect_err "unknown map" 2 "imfilter: --map: unknown map 'weird' (clamp, abs, offset, normalize)"

run -k sobel -f gif samples/shapes.png "$T/dst/new.png"
expect_err "unknown format" 2 "imfilter: --format: unknown format 'gif' (png, jpeg, pnm, pfm, txt)"

run -k sobel --bogus samples/shapes.png
expect_err "unknown option" 2 "imfilter: unknown option '--bogus' (see imfilter --help)"

run samples/shapes.png "$T/dst/new.png"
expect_err "no kernel" 2 "imfilter: no kernel: give -k NAME, -k FILE or -k \"ROWS\", or --chain (see --list-kernels)"

run -k "1 1 1 1 1 1 1" -p valid samples/binary.txt "$T/dst/new.png"
expect_err "kernel larger than input" 2 "samples/binary.txt: kernel 7x1 is larger than the padded input 5x5"
[ ! -e "$T/dst/new.png" ] && ok || bad "usage errors write nothing"

run -k sobel samples/shapes.png "$T/no/such/dir/out.png"
[ "$rc" -eq 1 ] && grep -q "^$T/no/such/dir/out.png: cannot create output: No such file or directory$" "$T/err" && ok ||
	bad "unwritable output: $rc $(cat "$T/err")"

run -k sobel a b c
expect_err "too many arguments" 2 "imfilter: unexpected argument 'c': several inputs need -O DIR (usage: imfilter [OPTIONS] [INPUT [OUTPUT]])"

printf '1 2 3\n4 nan 6\n' >"$T/nan.txt"
run -k identity "$T/nan.txt" -
[ "$rc" -eq 1 ] && grep -q "^$T/nan.txt: text: line 2: " "$T/err" && ok || bad "nan in text: $(cat "$T/err")"

printf '1 2 3\n4 5\n' >"$T/ragged.txt"
run -k identity "$T/ragged.txt" -
expect_err "ragged text" 1 "$T/ragged.txt: text: line 2 has 2 values, expected 3"

if [ "$(id -u)" -ne 0 ]; then
	mkdir "$T/ro" && chmod 555 "$T/ro"
	run -k sobel samples/shapes.png "$T/ro/out.png"
	[ "$rc" -eq 1 ] && grep -q "cannot create output: Permission denied" "$T/err" && ok ||
		bad "read-only folder"
fi

run -k sobel --max-pixels 100 samples/shapes.png "$T/dst/new.png"
expect_err "--max-pixels" 1 "samples/shapes.png: PNG: 128x128 is 16384 pixels, over the --max-pixels limit of 100 (raise it with --max-pixels)"

run -k identity -p 10 --max-side 20 samples/binary.txt -
expect_err "output over --max-side" 1 "samples/binary.txt: output: 23x23 is over the --max-side limit of 20 per side (raise it with --max-side)"

# --max-kernel: 255 per side unless raised, for inline specs, files, chains,
# built-ins and size-only kernels alike; every message names the option.
row=$(awk 'BEGIN { for (i = 0; i < 301; i++) printf "1 " }')
wide="$row; $row; $row"
printf '%s\n%s\n%s\n' "$row" "$row" "$row" >"$T/wide.txt"
limit_msg="is over the --max-kernel limit of 255 per side (raise it with --max-kernel)"
run -k "$wide" samples/shapes.png "$T/dst/new.png"
expect_err "inline kernel over --max-kernel" 2 "imfilter: kernel: 301x3 $limit_msg"
run -k "$T/wide.txt" samples/shapes.png "$T/dst/new.png"
expect_err "kernel file over --max-kernel" 2 "$T/wide.txt: kernel: 301x3 $limit_msg"
run -e "conv $T/wide.txt | relu" samples/shapes.png "$T/dst/new.png"
expect_err "chain kernel over --max-kernel" 2 "imfilter: --chain: stage 1 'conv $T/wide.txt': kernel: 301x3 $limit_msg"
run --dry-run --shape 32x32x1 -e 'conv 300x3 out=4'
expect_err "size-only kernel over --max-kernel" 2 "imfilter: --chain: stage 1 'conv 300x3 out=4': kernel 3x300 $limit_msg"
run --max-kernel 2 --show-kernel sobel-x
expect_err "built-in over a lowered --max-kernel" 2 "imfilter: kernel: 3x3 is over the --max-kernel limit of 2 per side (raise it with --max-kernel)"
run --max-kernel 2 -k sobel samples/shapes.png "$T/dst/new.png"
expect_err "magnitude parts over --max-kernel" 2 "imfilter: kernel: 3x3 is over the --max-kernel limit of 2 per side (raise it with --max-kernel)"
run --max-kernel 0 -k sobel samples/shapes.png "$T/dst/new.png"
expect_err "--max-kernel 0" 2 "imfilter: --max-kernel: '0' is not a whole number in 1..65535"
run --max-kernel 65536 -k sobel samples/shapes.png "$T/dst/new.png"
expect_err "--max-kernel over the ceiling" 2 "imfilter: --max-kernel: '65536' is not a whole number in 1..65535"
# Raised, the same kernels work.  On the 5x5 worked example (zero border),
# a 301x3 box of ones and a 9x3 one both sum whole rows (the anchor is the
# centre, and 4 columns each side already reach past the image).
row9="1 1 1 1 1 1 1 1 1"
run -k "$row9; $row9; $row9" -f txt samples/worked.txt "$T/ref.txt"
expect_ok "reference: a 9x3 box"
run --max-kernel 301 -k "$T/wide.txt" -f txt samples/worked.txt -
expect_ok "--max-kernel 301, kernel file"
expect_out "a 301x3 box equals a 9x3 box on a 5x5 input" "$T/out" "$(cat "$T/ref.txt")"
run --max-kernel 301 -e "conv [$wide] | relu" -f txt samples/worked.txt -
expect_ok "--max-kernel 301, inline kernel in a chain"
run --max-kernel 300 --dry-run --shape 32x32x1 -e 'conv 300x3 out=4'
expect_ok "--max-kernel 300, size-only kernel"

# Not a folder: fails even as root (CI runs as root, where chmod cannot deny).
run -k sobel samples/shapes.png "$T/dst/keep.png/out.png"
expect_err "output under a file" 1 "$T/dst/keep.png/out.png: cannot create output: Not a directory"

run -k sobel samples/shapes.png "$T/dst"
expect_err "output is a folder" 1 "$T/dst: output is a folder, not a file"

run --flip=3 -k sobel samples/shapes.png
expect_err "flag with a value" 2 "imfilter: option '--flip' takes no value"

$IMF --list-kernels >/dev/full 2>"$T/err"
rc=$?
expect_err "informational output to a full disk" 1 "<stdout>: write failed: No space left on device"

# An existing output keeps its permissions; a symlink stays a link to the new file.
cp samples/shapes.png "$T/dst/private.png" && chmod 640 "$T/dst/private.png"
run -k sobel samples/shapes.png "$T/dst/private.png"
expect_ok "overwrite a private file"
[ "$(stat -c %a "$T/dst/private.png")" = 640 ] && ok || bad "mode 640 kept: $(stat -c %a "$T/dst/private.png")"
echo old >"$T/dst/target.pgm"
ln -s target.pgm "$T/dst/link.pgm"
run -k identity samples/binary.txt "$T/dst/link.pgm"
expect_ok "write through a symlink"
[ -L "$T/dst/link.pgm" ] && [ "$(head -n 1 "$T/dst/target.pgm")" = P5 ] && ok || bad "symlink kept, target replaced"

# A FIFO is written in place, not replaced by a file.
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/fifo.out" &
reader=$!
run -k identity -f txt samples/binary.txt "$T/fifo"
wait $reader
expect_ok "write into a FIFO"
[ -p "$T/fifo" ] && cmp -s "$T/fifo.out" samples/binary.txt && ok || bad "FIFO kept and fed"

# -o onto the input itself is refused (exit 2, before any work) under any
# name: the same path, another spelling, a hard link, a symlink; files are
# compared by device and inode.  --in-place allows it, and alone replaces
# INPUT.  Standard input is never "the input file".
$IMF -k sobel samples/shapes.png "$T/ref-sobel.png" 2>"$T/err" && ok || bad "reference sobel: $(cat "$T/err")"
cp samples/shapes.png "$T/dst/self.png"
ln "$T/dst/self.png" "$T/dst/hard.png"
ln -s self.png "$T/dst/link-self.png"
refuse="(give --in-place to replace it)"
run -k sobel "$T/dst/self.png" "$T/dst/self.png"
expect_err "output is the input" 2 "imfilter: refusing to overwrite the input $T/dst/self.png $refuse"
run -k sobel -o "$T/dst/self.png" "$T/dst/self.png"
expect_err "-o is the input" 2 "imfilter: refusing to overwrite the input $T/dst/self.png $refuse"
run -k sobel "$T/dst/self.png" "$T/dst/../dst/./self.png"
expect_err "another spelling of the input" 2 "imfilter: refusing to overwrite the input $T/dst/self.png $refuse"
run -k sobel "$T/dst/self.png" "$T/dst/hard.png"
expect_err "a hard link to the input" 2 "imfilter: refusing to overwrite the input $T/dst/self.png $refuse"
run -k sobel "$T/dst/self.png" "$T/dst/link-self.png"
expect_err "a symlink to the input" 2 "imfilter: refusing to overwrite the input $T/dst/self.png $refuse"
run -k sobel "$T/dst/link-self.png" "$T/dst/self.png"
expect_err "the input through a symlink" 2 "imfilter: refusing to overwrite the input $T/dst/link-self.png $refuse"
cmp -s "$T/dst/self.png" samples/shapes.png && ok || bad "refused runs leave the input as it was"
# --split writes NAME-i.EXT: one of them may be the input.
cp samples/shapes.png "$T/dst/maps-1.png"
run -e 'conv sobel-x,sobel-y' --split "$T/dst/maps-1.png" "$T/dst/maps.png"
expect_err "--split onto the input" 1 "imfilter: refusing to overwrite the input $T/dst/maps-1.png $refuse"
cmp -s "$T/dst/maps-1.png" samples/shapes.png && ok || bad "--split left the input as it was"
rm -f "$T/dst/maps-0.png"
# A failed run with --in-place leaves the input untouched.
run -k sobel --in-place --max-pixels 100 "$T/dst/self.png"
expect_err "--in-place, failing" 1 "$T/dst/self.png: PNG: 128x128 is 16384 pixels, over the --max-pixels limit of 100 (raise it with --max-pixels)"
cmp -s "$T/dst/self.png" samples/shapes.png && ok || bad "a failed --in-place run keeps the input"
run -k sobel --in-place "$T/dst/self.png" "$T/dst/self.png"
expect_ok "--in-place with OUTPUT = INPUT"
cmp -s "$T/dst/self.png" "$T/ref-sobel.png" && ok || bad "--in-place wrote the result"
cmp -s "$T/dst/hard.png" samples/shapes.png && ok || bad "--in-place replaces the name, not the hard link's file"
cp samples/shapes.png "$T/dst/alone.png"
run -k sobel --in-place "$T/dst/alone.png"
expect_ok "--in-place alone"
cmp -s "$T/dst/alone.png" "$T/ref-sobel.png" && ok || bad "--in-place alone replaced INPUT"
$IMF -k sobel --in-place <samples/shapes.png >"$T/out" 2>"$T/err"
rc=$?
expect_err "--in-place on stdin" 2 "imfilter: --in-place needs an INPUT file to replace (not standard input)"
cp samples/shapes.png "$T/dst/piped.png"
$IMF -k sobel - "$T/dst/piped.png" <"$T/dst/piped.png" >"$T/out" 2>"$T/err"
rc=$?
expect_ok "standard input is never the input file"
cmp -s "$T/dst/piped.png" "$T/ref-sobel.png" && ok || bad "stdin read whole, then replaced"
# A batch: an output that is its own input needs --in-place too.
mkdir "$T/dst/batch"
cp samples/shapes.png "$T/dst/batch/x.png"
run -k sobel -O "$T/dst/batch" "$T/dst/batch/x.png"
expect_err "batch output over its own input" 2 "imfilter: refusing to overwrite the input $T/dst/batch/x.png $refuse"
cmp -s "$T/dst/batch/x.png" samples/shapes.png && ok || bad "refused batch keeps its input"
run -k sobel --in-place -O "$T/dst/batch" "$T/dst/batch/x.png"
expect_err "batch --in-place" 0 "imfilter: 1 written, 0 failed"
cmp -s "$T/dst/batch/x.png" "$T/ref-sobel.png" && ok || bad "batch --in-place replaced its input"
rm -f "$T/dst/self.png" "$T/dst/hard.png" "$T/dst/link-self.png" "$T/dst/maps-1.png" \
	"$T/dst/alone.png" "$T/dst/piped.png"
rm -rf "$T/dst/batch"

# A write that fails midway (file size limit) leaves the old output and no temp file.
echo keep >"$T/dst/big.txt"
(ulimit -f 4; $IMF -k identity -f txt samples/texture.png "$T/dst/big.txt") >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q "File too large" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] && ok ||
	bad "write over the size limit: $rc $(cat "$T/err")"
expect_out "failed write keeps the old output" "$T/dst/big.txt" keep

# --precision float: integer kernels on 8-bit gray images are exact either way
# (the same floats); a real kernel's values stay within (taps + 3) 2^-24 of
# sum |w x| of the exact ones (12 * 2^-24 * sum|w| * 255 = 8.4e-4 here);
# every thread count gives the same values on an image of several bands
# (2048 wide: 32 rows a band); --verbose names the loops.
real_k="0.1 -0.2 0.3; 0.4 0.55 -0.6; 0.7 0.8 -0.95"
run -f pfm -k sobel-x samples/strokes.png "$T/prec-exact.pfm"
expect_ok "sobel-x exact"
run -f pfm --precision float -k sobel-x samples/strokes.png "$T/prec-float.pfm"
expect_ok "sobel-x float"
cmp -s "$T/prec-exact.pfm" "$T/prec-float.pfm" && ok || bad "--precision float changed an integer kernel"
run -f txt -k "$real_k" samples/texture.png "$T/prec-exact.txt"
expect_ok "real kernel exact"
run -f txt --precision float -k "$real_k" samples/texture.png "$T/prec-float.txt"
expect_ok "real kernel float"
tr -s ' ' '\n' <"$T/prec-exact.txt" >"$T/prec-e1"
tr -s ' ' '\n' <"$T/prec-float.txt" >"$T/prec-f1"
paste "$T/prec-e1" "$T/prec-f1" | awk '
	{ d = $1 - $2; if (d < 0) d = -d; if (d > max) max = d; if ($1 != $2) diff++; n++ }
	END { exit !(n == 16384 && diff > 0 && max <= 8.4e-4) }' && ok ||
	bad "--precision float is not within 8.4e-4 of exact (or equal to it everywhere)"
awk 'BEGIN { w = 2048; h = 160; printf "P2\n%d %d\n255\n", w, h;
	for (y = 0; y < h; y++) { for (x = 0; x < w; x++) printf "%d ", (x * 37 + y * 11) % 256; printf "\n" } }' \
	>"$T/prec-wide.pgm"
run -f pfm -j 1 --precision float -k "$real_k" "$T/prec-wide.pgm" "$T/prec-j1.pfm"
expect_ok "wide image, float, -j 1"
run -f pfm -j 3 --verbose --precision float -k "$real_k" "$T/prec-wide.pgm" "$T/prec-j3.pfm"
grep -q "3 threads; direct (float sums)" "$T/err" && ok || bad "-j 3 float: $(cat "$T/err")"
cmp -s "$T/prec-j1.pfm" "$T/prec-j3.pfm" && ok || bad "--precision float: -j 3 differs from -j 1"
run --verbose -k "$real_k" samples/texture.png "$T/prec-exact.png"
grep -q "direct (double)" "$T/err" && ok || bad "--verbose does not name double sums: $(cat "$T/err")"

# No error above may have created the output they were given.
[ ! -e "$T/dst/new.png" ] && ok || bad "a failed run created $T/dst/new.png"

no_leftovers "temporary files"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
