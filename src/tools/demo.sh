#!/bin/sh
# make demo: filter the bundled samples and say where the results are.
#   demo.sh IMFILTER OUTDIR
set -eu
bin=$1
out=$2
mkdir -p "$out"
run() {
	echo "  imfilter $*"
	"$bin" "$@"
}
echo "imfilter demo: edge maps of the samples in samples/"
for s in shapes strokes gradient texture; do
	run -k sobel -b replicate "samples/$s.png" "$out/$s-sobel.png"
done
run -k sobel -b replicate -m normalize samples/gradient.png "$out/gradient-sobel-normalized.png"
run -k sobel-x -m offset samples/shapes.png "$out/shapes-sobel-x.png"
run -k sobel-y -m offset samples/shapes.png "$out/shapes-sobel-y.png"
run -k laplacian -m abs samples/strokes.png "$out/strokes-laplacian.png"
run -k sobel -b replicate samples/blobs.jpg "$out/blobs-sobel.png"
run -k sharpen --channels rgb samples/blobs.jpg "$out/blobs-sharpen.jpg"
echo
echo "A small CNN forward pass: three kernels, ReLU, 2x2 max pooling (docs/cnn-*.png):"
run -e 'conv sobel-x,sobel-y,laplacian' -m normalize samples/shapes.png "$out/cnn-1-conv.png"
run -e 'conv sobel-x,sobel-y,laplacian | relu' -m normalize samples/shapes.png "$out/cnn-2-relu.png"
run -e 'conv sobel-x,sobel-y,laplacian | relu | maxpool 2' -m normalize samples/shapes.png "$out/cnn-3-maxpool.png"
run --dry-run -e 'conv sobel-x,sobel-y,laplacian | relu | maxpool 2' samples/shapes.png
echo
echo "The worked example: samples/worked.txt with sharpen, zero padding 1:"
run -k sharpen -p 1 samples/worked.txt -
echo
echo "Edge maps written to $out/:"
ls "$out"
