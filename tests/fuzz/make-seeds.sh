#!/bin/sh
# tests/fuzz/make-seeds.sh - seed corpora for the fuzz harnesses.
#
#   make-seeds.sh IMFILTER SEEDS_DIR
#
# Fills SEEDS_DIR/<name>/ for every harness in tests/fuzz/ with small valid
# inputs of its kind, so the fuzzer starts inside each parser:
#   - samples/ and filters/ (the images, text matrices and kernel files in the tree);
#   - tests/corpus/: every hostile file goes to the harnesses of its format
#     (decided by its first bytes, as imfilter decides);
#   - valid variants written by tests/corpus/make-corpus.py --valid (PNG bit
#     depths, palettes, tRNS, Adam7; baseline JPEG; every netpbm type; PFM
#     of either byte order; text blocks);
#   - small images made with IMFILTER from those: each format imfilter
#     writes, 8- and 16-bit, gray and RGB;
#   - chain strings: the README's examples and every stage kind.
# The folder is rebuilt from scratch each time.
set -eu
IMF=$1
S=$2
here=$(dirname "$0")
top=$here/../..

rm -rf "$S"
for n in png jpeg pnm pfm text kernel chain pipeline; do mkdir -p "$S/$n"; done

# put FILE: copy FILE into the seed folder(s) of its format, by its first bytes.
put() {
	base=$(basename "$1")
	magic=$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')
	case $magic in
	89504e47*) dirs="png pipeline" ;;
	ffd8ff*) dirs="jpeg pipeline" ;;
	503[1-7]*) dirs="pnm pipeline" ;;
	5046* | 5066*) dirs="pfm pipeline" ;;
	*) dirs="text pipeline" ;;
	esac
	for d in $dirs; do cp "$1" "$S/$d/$2$base"; done
}

for f in "$top"/samples/*; do put "$f" sample-; done
for f in "$top"/filters/*.txt; do cp "$f" "$S/kernel/"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/imfilter-seeds-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if command -v python3 >/dev/null 2>&1; then
	python3 "$top/tests/corpus/make-corpus.py" --valid "$tmp/valid" >/dev/null
	for f in "$tmp"/valid/*; do
		case $f in
		*.kernel) cp "$f" "$S/kernel/" ;;
		*) put "$f" valid- ;;
		esac
	done
fi

# The hostile corpus: input files by format, kernel files to the kernel harness.
if [ -f "$top/tests/corpus/MANIFEST" ]; then
	while IFS='	' read -r file mode _rest; do
		case $file in '' | '#'*) continue ;; esac
		[ -f "$top/tests/corpus/$file" ] || continue
		if [ "$mode" = kernel ]; then
			cp "$top/tests/corpus/$file" "$S/kernel/corpus-$file"
		elif [ "$(wc -c <"$top/tests/corpus/$file")" -le 65536 ]; then
			put "$top/tests/corpus/$file" corpus-
		fi
	done <"$top/tests/corpus/MANIFEST"
fi

# Small images in every format imfilter writes, from a 7x5 RGB text matrix.
cat >"$tmp/rgb.txt" <<'M'
0 36 72 108 144 180 216
20 56 92 128 164 200 236
40 76 112 148 184 220 255
60 96 132 168 204 240 10
80 116 152 188 224 5 50

255 200 150 100 50 0 25
230 180 130 80 30 5 45
210 160 110 60 10 15 65
190 140 90 40 0 35 85
170 120 70 20 25 55 105

10 10 10 200 200 200 90
10 10 10 200 200 200 90
120 120 120 30 30 30 90
120 120 120 30 30 30 90
250 250 250 0 0 0 90
M
for f in png jpg ppm pfm txt; do
	"$IMF" -k identity --channels rgb "$tmp/rgb.txt" "$tmp/img-rgb.$f" 2>/dev/null || true
	"$IMF" -k identity "$tmp/rgb.txt" "$tmp/img-gray.$f" 2>/dev/null || true
	"$IMF" -k identity --channels rgb --depth 16 "$tmp/rgb.txt" "$tmp/img-rgb16.$f" 2>/dev/null || true
done
"$IMF" -k sobel -p valid -f png "$tmp/rgb.txt" "$tmp/img-sobel.png" 2>/dev/null || true
"$IMF" -k identity -q 30 --channels rgb "$tmp/rgb.txt" "$tmp/img-q30.jpg" 2>/dev/null || true
for f in "$tmp"/img-*; do [ -s "$f" ] && put "$f" made-; done

# Chains: the README's examples and every stage kind.
i=0
while IFS= read -r chain; do
	[ -n "$chain" ] || continue
	i=$((i + 1))
	printf '%s' "$chain" >"$S/chain/chain-$i.txt"
done <<'C'
conv sobel-x,sobel-y | relu | maxpool 2
conv sobel-x,sobel-y,laplacian pad=same stride=2 border=reflect | leaky-relu=0.1 | avgpool 3 stride=2 pad=1
conv [1 0 -1; 2 0 -2; 1 0 -1] bias=-10 flip | sigmoid | minpool 2 | normalize
conv [1/16 * 1 2 1; 2 4 2; 1 2 1] dilation=2 pad=valid | tanh | abs
conv 3x3 out=40 | relu | maxpool 2 | conv 5x5 out=8 nobias stride=2 pad=2
conv gaussian-5 border=wrap pad=full | conv sharpen border=symmetric pad=4
conv box-3 | maxpool 2 stride=1 | conv emboss border=replicate
conv identity,sobel | relu | normalize
C
