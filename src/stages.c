/*
 * stages.c - the CNN stages that are not convolutions: activations, pooling
 * and normalize.
 *
 * Every stage works on the non-alpha planes ("feature maps") of an image;
 * the chain (chain.c) strings them after imf_conv_run.  What is computed:
 *
 *   relu        max(0, v)                     (NaN stays NaN, -0 becomes 0)
 *   leaky-relu  v >= 0 ? v : slope * v
 *   sigmoid     1 / (1 + exp(-v))             (evaluated so exp never overflows)
 *   tanh        tanh(v)
 *   abs         |v|
 *   pooling     out(y, x) = reduce of in(y*S - P + i, x*S - P + j), 0 <= i, j < K,
 *               over the REAL cells of the window only; out = floor((M - K + 2P)/S) + 1
 *   normalize   (v - lo) * 255 / (hi - lo) over the finite lo..hi of all maps
 *
 * Activations compute in double and round to float once.  Pooling never
 * invents a value: padded cells never win a max or a min and are not
 * counted in an average, so an average is the sum of the real cells divided
 * by their number.  Because pad < K is required, every window holds at least
 * one real cell (see pool_check).  NaN in a window makes its max, min and
 * average NaN, as in NumPy and PyTorch.  Alpha is pooled like the other
 * planes (with the same reduction) and is untouched by activations and
 * normalize.
 *
 * Pooling memory: the output plus O(output width) scratch.  For each output
 * column the real input columns of its window, [xlo, xhi), are worked out
 * once, so the inner loops have no border tests; each output row then folds
 * the real input rows of its window into a row of accumulators.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* ---- activations ------------------------------------------------------------ */

/*
 * sigmoid(v) = 1 / (1 + exp(-v)) = exp(v) / (1 + exp(v)): the first form for
 * v >= 0 and the second for v < 0, so exp only ever sees a value <= 0 and
 * cannot overflow; sigmoid(1000) = 1 and sigmoid(-1000) = 0 exactly.
 */
static double sigmoid(double v)
{
	double e;
	if (v >= 0)
		return 1.0 / (1.0 + exp(-v));
	e = exp(v); /* NaN falls here and stays NaN */
	return e / (1.0 + e);
}

void imf_activate(imf_image *img, imf_activation act, double slope)
{
	int n = imf_image_data_planes(img);

	for (int c = 0; c < n; c++) {
		for (size_t y = 0; y < img->height; y++) {
			float *restrict row = imf_image_row(img, c, y);
			size_t w = img->width;
			/* One loop per activation: no per-pixel dispatch. */
			switch (act) {
			case IMF_ACT_RELU:
				/* v > 0 ? v : 0, except that NaN stays NaN. */
				for (size_t x = 0; x < w; x++)
					if (!(row[x] > 0.0f) && !isnan(row[x]))
						row[x] = 0.0f;
				break;
			case IMF_ACT_LEAKY_RELU:
				for (size_t x = 0; x < w; x++) {
					double v = row[x];
					row[x] = (float)(v >= 0 ? v : slope * v);
				}
				break;
			case IMF_ACT_SIGMOID:
				for (size_t x = 0; x < w; x++)
					row[x] = (float)sigmoid(row[x]);
				break;
			case IMF_ACT_TANH:
				for (size_t x = 0; x < w; x++)
					row[x] = (float)tanh(row[x]);
				break;
			case IMF_ACT_ABS:
				for (size_t x = 0; x < w; x++)
					row[x] = fabsf(row[x]);
				break;
			}
		}
	}
}

/* ---- pooling ---------------------------------------------------------------- */

/*
 * Check the pooling arguments for one image and work out the output size.
 * With pad < k every window overlaps the image: the window of output o
 * starts at o*S - P and ends at o*S - P + K - 1 >= 0 (as P <= K - 1), and
 * o*S <= M + 2P - K gives a start <= M + P - K <= M - 1.
 */
static imf_status pool_check(const imf_image *in, size_t k, size_t s, size_t pad, size_t *ow,
                             size_t *oh, imf_error *err)
{
	size_t pw, ph, t, small;

	if (!in)
		return imf_error_set(err, IMF_EINVAL, "pool: missing image");
	if (k == 0)
		return imf_error_set(err, IMF_EINVAL, "pool size must be at least 1");
	if (s == 0)
		return imf_error_set(err, IMF_EINVAL, "pool stride must be at least 1");
	if (pad >= k)
		return imf_error_set(err, IMF_EINVAL,
		                     "pool padding %zu must be smaller than the window %zu", pad,
		                     k);
	/* padded = M + 2P per axis */
	if (!imf_size_add(pad, pad, &t) || !imf_size_add(in->width, t, &pw) ||
	    !imf_size_add(in->height, t, &ph))
		return imf_error_set(err, IMF_EINVAL,
		                     "pool padding %zu is too large for a %zux%zu input", pad,
		                     in->width, in->height);
	/* The smaller axis is the one a too-large window fails on. */
	small = pw < ph ? pw : ph;
	if (k > small)
		return imf_error_set(err, IMF_EINVAL,
		                     "pool window %zu is larger than the padded input %zu", k,
		                     small);
	/* out = floor((M - K + 2P) / S) + 1 */
	*ow = (pw - k) / s + 1;
	*oh = (ph - k) / s + 1;
	return IMF_OK;
}

/* max and min that let NaN win, so a NaN in a window gives NaN. */
static inline double nan_max(double a, double b)
{
	return (b > a || isnan(b)) ? b : a;
}

static inline double nan_min(double a, double b)
{
	return (b < a || isnan(b)) ? b : a;
}

/*
 * Fold one input row into acc: acc[o] = reduce(acc[o], row[xlo[o] .. xhi[o]-1]),
 * or start acc from the row when first is set.  Averages add the cells left to
 * right, row after row, in double.
 */
static void fold_row(imf_pool_kind kind, int first, const float *restrict row,
                     const size_t *restrict xlo, const size_t *restrict xhi, size_t ow,
                     double *restrict acc)
{
	switch (kind) {
	case IMF_POOL_MAX:
		for (size_t o = 0; o < ow; o++) {
			double m = first ? row[xlo[o]] : nan_max(acc[o], row[xlo[o]]);
			for (size_t x = xlo[o] + 1; x < xhi[o]; x++)
				m = nan_max(m, row[x]);
			acc[o] = m;
		}
		break;
	case IMF_POOL_MIN:
		for (size_t o = 0; o < ow; o++) {
			double m = first ? row[xlo[o]] : nan_min(acc[o], row[xlo[o]]);
			for (size_t x = xlo[o] + 1; x < xhi[o]; x++)
				m = nan_min(m, row[x]);
			acc[o] = m;
		}
		break;
	case IMF_POOL_AVG:
		for (size_t o = 0; o < ow; o++) {
			double sum = first ? 0.0 : acc[o];
			for (size_t x = xlo[o]; x < xhi[o]; x++)
				sum += row[x];
			acc[o] = sum;
		}
		break;
	}
}

imf_status imf_pool(const imf_image *in, imf_pool_kind kind, size_t k, size_t s, size_t pad,
                    imf_image **out, imf_error *err)
{
	imf_image *res = NULL;
	size_t *xlo = NULL, *xhi = NULL;
	double *acc = NULL;
	size_t ow = 0, oh = 0;
	imf_status st;

	*out = NULL;
	if (kind != IMF_POOL_MAX && kind != IMF_POOL_MIN && kind != IMF_POOL_AVG)
		return imf_error_set(err, IMF_EINVAL, "unknown pool kind %d", (int)kind);
	st = pool_check(in, k, s, pad, &ow, &oh, err);
	if (st != IMF_OK)
		return st;
	st = imf_image_new(ow, oh, in->channels, in->has_alpha, NULL, &res, err);
	if (st != IMF_OK)
		goto cleanup;
	imf_image_set_source(res, in->src_format, in->src_depth);
	xlo = imf_alloc_array(ow, sizeof *xlo, err);
	xhi = imf_alloc_array(ow, sizeof *xhi, err);
	acc = imf_alloc_array(ow, sizeof *acc, err);
	if (!xlo || !xhi || !acc) {
		st = IMF_ENOMEM;
		goto cleanup;
	}

	/*
	 * Window of output column o: padded columns o*S .. o*S + K - 1, i.e.
	 * input columns o*S - P .. o*S - P + K - 1, clipped to 0 .. W - 1.
	 * o*S + K <= W + 2P, checked in pool_check, so nothing here overflows.
	 */
	for (size_t o = 0; o < ow; o++) {
		size_t start = o * s, end = start + k;
		xlo[o] = start < pad ? 0 : start - pad;
		xhi[o] = end - pad > in->width ? in->width : end - pad;
	}

	for (int c = 0; c < in->channels; c++) {
		for (size_t oy = 0; oy < oh; oy++) {
			size_t start = oy * s, end = start + k;
			size_t ylo = start < pad ? 0 : start - pad;
			size_t yhi = end - pad > in->height ? in->height : end - pad;
			float *restrict dst = imf_image_row(res, c, oy);

			for (size_t y = ylo; y < yhi; y++) {
				const float *row = imf_image_row_const(in, c, y);
				fold_row(kind, y == ylo, row, xlo, xhi, ow, acc);
			}
			if (kind == IMF_POOL_AVG) {
				/* average = sum of the real cells / number of real cells */
				size_t rows = yhi - ylo;
				for (size_t o = 0; o < ow; o++) {
					size_t cells = rows * (xhi[o] - xlo[o]);
					dst[o] = (float)(acc[o] / (double)cells);
				}
			} else {
				for (size_t o = 0; o < ow; o++)
					dst[o] = (float)acc[o];
			}
		}
	}
	*out = res;
	res = NULL;
	st = IMF_OK;

cleanup:
	free(xlo);
	free(xhi);
	free(acc);
	imf_image_free(res);
	return st;
}

/* ---- normalize -------------------------------------------------------------- */

/*
 * v -> (v - lo) * 255 / (hi - lo) with lo..hi the finite range of all maps
 * together (so maps stay comparable).  A constant image has no range and
 * becomes 0.  Infinities lie beyond every finite value and take the ends,
 * +inf -> 255 and -inf -> 0; NaN stays NaN.
 */
void imf_normalize(imf_image *img)
{
	int n = imf_image_data_planes(img);
	double lo, hi, range;

	imf_finite_range(img, &lo, &hi);
	/* From floats, hi - lo is finite in double and > 0 when hi > lo. */
	range = hi > lo ? hi - lo : 0.0;

	for (int c = 0; c < n; c++) {
		for (size_t y = 0; y < img->height; y++) {
			float *restrict row = imf_image_row(img, c, y);
			for (size_t x = 0; x < img->width; x++) {
				double v = row[x], t;
				if (isnan(v))
					continue;
				if (isinf(v))
					t = v > 0 ? 255.0 : 0.0;
				else if (range > 0) {
					t = (v - lo) * 255.0 / range;
					/* Rounding must not step outside 0..255. */
					t = t < 0 ? 0 : t > 255 ? 255 : t;
				} else
					t = 0.0;
				row[x] = (float)t;
			}
		}
	}
}
