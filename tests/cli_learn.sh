#!/bin/sh
# tests/cli_learn.sh - end-to-end tests of 'imfilter learn INPUT TARGET'.
#
# Makes targets with $IMFILTER itself (default build/imfilter) from the
# samples, learns their kernels back with both solvers, and checks the
# weights, the kernel file (loadable with -k, and the command it prints
# reproduces the target), the saturated-value count, --explain's worked
# example, -o's atomic output, and each bad input's one-line error, exit
# status and absence of output.
# Prints "cli_learn: N passed, N failed" last; exits 1 if anything failed.
set -u

IMF=${IMFILTER:-build/imfilter}
T=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-learn-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
S=samples

. "$(dirname "$0")/clilib.sh"

# weights FILE: the kernel's numbers, one row a line, single spaces (comments dropped)
weights() {
	grep -v '^#' "$1" | tr -s ' ' | sed 's/^ //;s/ $//'
}

# within NAME FILE TOL ROWS: every weight of kernel FILE is within TOL of ROWS ("a b; c d")
within() {
	printf '%s\n' "$4" | tr ';' '\n' | sed 's/^ *//;s/ *$//' >"$T/want"
	weights "$2" >"$T/got"
	if awk -v tol="$3" '
		NR == FNR { for (i = 1; i <= NF; i++) w[FNR, i] = $i; n[FNR] = NF; rows = FNR; next }
		{
			if (NF != n[FNR])
				bad = 1
			for (i = 1; i <= NF; i++) {
				d = $i - w[FNR, i]
				if (d < 0 ? -d > tol : d > tol)
					bad = 1
			}
			got = FNR
		}
		END { exit bad || got != rows }' "$T/want" "$T/got"; then ok; else
		bad "$1: got $(tr '\n' ';' <"$T/got"), want $4 within $3"
	fi
}

# close NAME A B TOL: text matrices A and B hold the same numbers within TOL
close() {
	if paste -d ' ' "$2" "$3" | awk -v tol="$4" '{
		n = NF / 2
		for (i = 1; i <= n; i++) {
			d = $i - $(i + n)
			if (d < 0 ? -d > tol : d > tol)
				exit 1
		}
	}'; then ok; else bad "$1: $2 and $3 differ by more than $4"; fi
}

# nothing_written NAME FILE: FILE does not exist and no temporary file is left in its folder
nothing_written() {
	if [ ! -e "$2" ] && [ "$(find "$(dirname "$2")" -name '.*imfilter-*' | wc -l)" -eq 0 ]; then ok; else
		bad "$1: $2 or a temporary file was left behind"
	fi
}

mkdir -p "$T/dst"

# ---- help and the option table ---------------------------------------------------

run learn --help
expect_ok "learn --help"
grep -q '^Usage: imfilter learn \[OPTIONS\] INPUT TARGET' "$T/out" && ok || bad "learn --help: usage line"
grep -q -- '--solver gd|exact' "$T/out" && ok || bad "learn --help lists --solver"
run learn --dump-options
expect_ok "learn --dump-options"
awk -F '\t' 'NF != 4 { exit 1 }' "$T/out" && ok || bad "learn --dump-options: 4 tab-separated fields"
grep -qx -e "$(printf -- '-\tsize\tHxW\t').*" "$T/out" && ok || bad "learn --dump-options: --size"
$IMF learn --help | sed -n 's/^  \(-., \)\{0,1\} *--\([a-z-]*\).*/\2/p' | sort >"$T/help-names"
cut -f 2 "$T/out" | sort >"$T/dump-names"
cmp -s "$T/help-names" "$T/dump-names" && ok || bad "learn: --help and --dump-options list the same options"
# The filtering table does not list learn's options, and the reverse.
$IMF --dump-options | cut -f 2 | grep -qx 'solver' && bad "--dump-options lists learn's --solver" || ok

# The man page lists them (its generator reads learn --dump-options), when IMF is one word.
case $IMF in
*' '*) ;;
*)
	if sh src/tools/mkman.sh "$IMF" doc/imfilter.1.in 0 >"$T/man" 2>"$T/err"; then
		missing=""
		for o in $(cat "$T/dump-names"); do
			esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
			grep -q "fB\\\\-\\\\-$esc\\\\fR" "$T/man" || missing="$missing $o"
		done
		[ -z "$missing" ] && ok || bad "learn options missing from the man page:$missing"
	else
		bad "mkman.sh: $(cat "$T/err")"
	fi
	;;
esac

# ---- round trips on the samples ------------------------------------------------------

# gd, the defaults, raw target: sharpen back within 1e-2
$IMF -k sharpen -f pfm "$S/texture.png" "$T/sharp.pfm" || bad "make sharp.pfm"
run learn "$S/texture.png" "$T/sharp.pfm"
expect_ok "learn sharpen (gd)"
within "gd recovers sharpen" "$T/out" 0.01 "0 -1 0; -1 5 -1; 0 -1 0"
grep -q '^# learned from samples/texture.png -> .*sharp.pfm: 3x3 kernel (rows x columns), bias 0, mean squared error ' "$T/out" &&
	ok || bad "the description line: $(head -n 1 "$T/out")"
grep -q '^# solver gd, momentum, lr 0.1, [0-9]* epochs' "$T/out" && ok || bad "the solver line: $(sed -n 2p "$T/out")"
grep -q '^# fitted 16384 target values$' "$T/out" && ok || bad "the count line: $(sed -n 3p "$T/out")"
grep -q "^# apply: imfilter -k KERNEL.txt INPUT OUTPUT$" "$T/out" && ok || bad "the apply line"

# exact, 8-bit target, sobel-x: exact weights, and the clipped values are counted
$IMF -k sobel-x "$S/shapes.png" "$T/sx.png" || bad "make sx.png"
$IMF -k identity -f txt "$T/sx.png" - | tr ' ' '\n' | grep -c -x -e 0 -e 255 >"$T/nsat"
run learn --solver exact "$S/shapes.png" "$T/sx.png"
expect_ok "learn sobel-x (exact, 8-bit)"
weights "$T/out" >"$T/k"
expect_out "exact recovers sobel-x exactly" "$T/k" "1 0 -1
2 0 -2
1 0 -1"
grep -q "^# fitted $((16384 - $(cat "$T/nsat"))) target values; $(cat "$T/nsat") saturated values (0 or 255) left out$" "$T/out" &&
	ok || bad "saturated count: $(sed -n 3p "$T/out"), want $(cat "$T/nsat")"
run learn --solver exact --no-mask-saturated "$S/shapes.png" "$T/sx.png"
expect_ok "--no-mask-saturated"
grep -q '^# fitted 16384 target values$' "$T/out" && ok || bad "--no-mask-saturated uses every value"

# a 5x5 Gaussian through replicate padding and stride 2, written with -o
$IMF -k gaussian-5 -b replicate -s 2 -f pfm "$S/blobs.jpg" "$T/g5.pfm" || bad "make g5.pfm"
run learn --solver exact --size 5x5 -b replicate -s 2 -o "$T/dst/g5.txt" "$S/blobs.jpg" "$T/g5.pfm"
expect_status "learn -o" 0
grep -q '^imfilter: learn: wrote .*g5.txt: mean squared error .* over 6144 values$' "$T/err" && ok ||
	bad "learn -o: summary line: $(cat "$T/err")"
[ ! -s "$T/out" ] && ok || bad "learn -o: nothing on stdout"
g1="0.00390625 0.015625 0.0234375 0.015625 0.00390625"
g2="0.015625 0.0625 0.09375 0.0625 0.015625"
within "exact recovers gaussian-5" "$T/dst/g5.txt" 0.001 "$g1; $g2; 0.0234375 0.09375 0.140625 0.09375 0.0234375; $g2; $g1"
grep -q "^# apply: imfilter -k $T/dst/g5.txt -s 2 -b replicate INPUT OUTPUT$" "$T/dst/g5.txt" && ok ||
	bad "apply line with the geometry: $(grep apply "$T/dst/g5.txt")"
# the file loads with -k and reproduces the target
$IMF -k "$T/dst/g5.txt" -b replicate -s 2 -f txt "$S/blobs.jpg" "$T/back.txt" 2>"$T/err" && ok || bad "-k learned file: $(cat "$T/err")"
$IMF -k identity -f txt "$T/g5.pfm" "$T/g5.txt"
close "the learned gaussian-5 reproduces the target" "$T/back.txt" "$T/g5.txt" 0.01

# a bias: the kernel file has none, the apply line carries it in a chain
$IMF -e 'conv sharpen bias=12.5' -f pfm "$S/texture.png" "$T/sb.pfm" || bad "make sb.pfm"
run learn --solver exact -o "$T/dst/sb.txt" --quiet "$S/texture.png" "$T/sb.pfm"
expect_ok "learn with a bias (--quiet: nothing on stderr)"
within "sharpen with a bias" "$T/dst/sb.txt" 0.001 "0 -1 0; -1 5 -1; 0 -1 0"
grep -q '^# learned from .*, bias 12.5, mean squared error' "$T/dst/sb.txt" && ok || bad "bias in the description"
grep -q "^# apply with the bias: imfilter -e 'conv $T/dst/sb.txt bias=12.5' INPUT OUTPUT$" "$T/dst/sb.txt" &&
	ok || bad "apply line with the bias: $(grep apply "$T/dst/sb.txt")"
$IMF -e "conv $T/dst/sb.txt bias=12.5" -f txt "$S/texture.png" "$T/back.txt" || bad "apply the chain"
$IMF -k identity -f txt "$T/sb.pfm" "$T/sb.txt"
close "the chain with the bias reproduces the target" "$T/back.txt" "$T/sb.txt" 0.01
$IMF --show-kernel "$T/dst/sb.txt" >"$T/show" 2>"$T/err" && grep -q '^# learned from' "$T/show" && ok ||
	bad "--show-kernel reads the learned file: $(cat "$T/err")"

# --channels rgb: one kernel over R, G and B (depthwise)
$IMF -k laplacian --channels rgb -f pfm "$S/texture.png" "$T/lap3.pfm" || bad "make lap3.pfm"
run learn --channels rgb --solver exact "$S/texture.png" "$T/lap3.pfm"
expect_ok "learn --channels rgb"
within "rgb laplacian" "$T/out" 0.001 "-1 -1 -1; -1 8 -1; -1 -1 -1"
grep -q '^# fitted 49152 target values$' "$T/out" && ok || bad "rgb: 3 x 16384 values"
grep -q '^# apply: imfilter --channels rgb -k KERNEL.txt INPUT OUTPUT$' "$T/out" && ok || bad "rgb: apply line"

# a ramp determines little: the result says so
$IMF -k sobel-x -f pfm "$S/gradient.png" "$T/ramp.pfm" || bad "make ramp.pfm"
run learn --solver exact "$S/gradient.png" "$T/ramp.pfm"
expect_ok "learn on a ramp"
grep -q '^# warning: INPUT hardly determines some weights (condition number [0-9.e+]*): kernels far from this one fit almost as well$' "$T/out" &&
	ok || bad "no warning on a ramp: $(cat "$T/out")"
grep -q '^# warning' "$T/dst/g5.txt" && bad "a warning on a photograph" || ok

# a gray INPUT and a colour TARGET: compared through the target's luma
run learn --solver exact "$S/texture.png" "$T/lap3.pfm"
expect_ok "gray input, colour target"
within "laplacian through luma" "$T/out" 0.001 "-1 -1 -1; -1 8 -1; -1 -1 -1"

# INPUT from stdin, valid padding, a 1x3 kernel
$IMF -k "-1 0 1" -p valid -f pfm "$S/strokes.png" "$T/d.pfm" || bad "make d.pfm"
$IMF learn --solver exact --size 1x3 -p valid - "$T/d.pfm" <"$S/strokes.png" >"$T/out" 2>"$T/err"
rc=$?
expect_ok "learn from stdin"
within "1x3 from stdin" "$T/out" 0.001 "-1 0 1"

# ---- --explain -------------------------------------------------------------------------

$IMF -k sharpen samples/worked.txt "$T/wt.txt" || bad "make wt.txt"
run learn --explain samples/worked.txt "$T/wt.txt"
expect_ok "--explain"
grep -qx '  dL/dy_11 = 2/25 \* (0 - 114) = -9.12' "$T/out" && ok || bad "--explain: dL/dy_11"
grep -q '^  dL/dw_22 = dL/dy_11\*x_11 + dL/dy_12\*x_12 + ' "$T/out" && ok || bad "--explain: dL/dw_22 as a sum"
grep -qx '  w <- w - lr/s^2 \* dL/dw = w - 5.17572e-06 \* dL/dw,  b <- b - lr \* dL/db' "$T/out" && ok ||
	bad "--explain: the step, lr 0.1 / 139^2"
grep -q '^loss after the step: L = .* (before: 64609)$' "$T/out" && ok || bad "--explain: the loss before and after"
run learn --explain "$S/shapes.png" "$S/shapes.png"
expect_err "--explain on a large input" 2 "samples/shapes.png: the input is 128x128: --explain shows inputs of at most 8x8"

# ---- bad input: one line, the status, nothing written ------------------------------------

run learn --size 0x3 -o "$T/dst/k.txt" "$S/shapes.png" "$T/sx.png"
expect_err "--size 0x3" 2 "imfilter: --size: '0x3': a kernel needs at least 1 row and 1 column"
nothing_written "--size 0x3" "$T/dst/k.txt"
run learn --size 3 "$S/shapes.png" "$T/sx.png"
expect_err "--size 3" 2 "imfilter: --size: '3' is not HxW (rows x columns, such as 3x3 or 1x5)"
run learn --size 9x9 -o "$T/dst/k.txt" samples/worked.txt "$T/wt.txt"
expect_err "kernel larger than the image" 2 "imfilter: learn: kernel size 9x9 (rows x columns) is larger than the 5x5 input"
nothing_written "kernel larger than the image" "$T/dst/k.txt"
run learn -p valid -o "$T/dst/k.txt" "$S/shapes.png" "$T/sx.png"
expect_err "target size" 2 "$T/sx.png: the target is 128x128, but a 3x3 kernel (rows x columns) with padding valid and stride 1 gives 126x126 from the 128x128 input"
nothing_written "target size" "$T/dst/k.txt"
run learn -s 2 "$S/shapes.png" "$T/sx.png"
expect_err "stride" 2 "$T/sx.png: the target is 128x128, but a 3x3 kernel (rows x columns) with padding same and stride 2 gives 64x64 from the 128x128 input"
run learn --optimizer sgd --lr 50 -o "$T/dst/k.txt" "$S/texture.png" "$T/sharp.pfm"
[ "$rc" -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	grep -q "^imfilter: learn: gd diverged at epoch [0-9]*: the loss became .*; the learning rate 50 is too large, try a smaller --lr (such as 5)$" "$T/err" &&
	ok || bad "diverging run: status $rc: $(cat "$T/err")"
nothing_written "diverging run" "$T/dst/k.txt"
$IMF -k "255 255; 255 255" "$S/shapes.png" "$T/white.png" || bad "make white.png"
run learn -o "$T/dst/k.txt" "$S/shapes.png" "$T/white.png"
expect_err "all saturated" 1 "$T/white.png: every one of the 16384 target values is 0 or 255 (saturated by clamping): nothing to learn from (--no-mask-saturated uses them)"
nothing_written "all saturated" "$T/dst/k.txt"
run learn --max-memory 100K -o "$T/dst/k.txt" "$S/shapes.png" "$T/sx.png"
[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
	grep -q '^imfilter: learn: working copies (doubles): .* over the --max-memory limit of 100 KiB' "$T/err" &&
	ok || bad "--max-memory: status $rc: $(cat "$T/err")"
nothing_written "--max-memory" "$T/dst/k.txt"
run learn "$T/nosuch.png" "$T/sx.png"
expect_err "missing input" 1 "$T/nosuch.png: cannot open: No such file or directory"
run learn "$S/shapes.png"
expect_err "one operand" 2 "imfilter: learn needs INPUT and TARGET (usage: imfilter learn [OPTIONS] INPUT TARGET)"
run learn - - <"$S/shapes.png"
expect_err "stdin twice" 2 "imfilter: INPUT and TARGET cannot both be standard input"
run learn --frobnicate a b
expect_err "unknown option" 2 "imfilter: unknown option '--frobnicate' (see imfilter learn --help)"
run learn --lr -1 a b
expect_err "--lr -1" 2 "imfilter: --lr: '-1' is not a number above 0"
run learn --momentum 1 a b
expect_err "--momentum 1" 2 "imfilter: --momentum: '1' is not below 1"
run learn --solver newton a b
expect_err "--solver" 2 "imfilter: --solver: unknown solver 'newton' (gd, exact)"
run learn --optimizer rmsprop a b
expect_err "--optimizer" 2 "imfilter: --optimizer: unknown optimizer 'rmsprop' (momentum, sgd, adam)"
cp "$S/shapes.png" "$T/in.png"
run learn -o "$T/in.png" "$T/in.png" "$T/sx.png"
expect_err "-o INPUT" 2 "$T/in.png: refusing to overwrite the INPUT with a kernel"
cmp -s "$T/in.png" "$S/shapes.png" && ok || bad "-o INPUT: the input is untouched"
run learn -o "$T/nodir/k.txt" "$S/shapes.png" "$T/sx.png"
[ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "unwritable -o: status $rc: $(cat "$T/err")"
# a failed run keeps an older output whole
printf 'old\n' >"$T/dst/keep.txt"
run learn -p valid -o "$T/dst/keep.txt" "$S/shapes.png" "$T/sx.png"
[ "$rc" -eq 2 ] && [ "$(cat "$T/dst/keep.txt")" = old ] && ok || bad "a failed run replaced keep.txt"

# ---- the progress line: on a terminal only ------------------------------------------------

run learn --epochs 50 "$S/texture.png" "$T/sharp.pfm"
grep -q 'epoch' "$T/err" && bad "a progress line off a terminal" || ok
if command -v script >/dev/null 2>&1 && script -qec true /dev/null >/dev/null 2>&1; then
	script -qec "$IMF learn --epochs 50 -o $T/dst/p.txt $S/texture.png $T/sharp.pfm" /dev/null >"$T/tty" 2>&1
	grep -q 'imfilter: learn: epoch 50/50  loss ' "$T/tty" && ok || bad "progress line on a terminal: $(od -c "$T/tty" | head -5)"
	script -qec "$IMF learn --quiet --epochs 50 -o $T/dst/p.txt $S/texture.png $T/sharp.pfm" /dev/null >"$T/tty" 2>&1
	grep -q 'epoch' "$T/tty" && bad "--quiet still shows progress" || ok
fi

echo "cli_learn: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
