/*
 * conv.c - the convolution engine: border modes, padding and output geometry,
 * a plain reference path and the fast path that imf_conv_run uses.
 *
 * What is computed (cross-correlation, as in CNNs; no kernel flip unless
 * asked, no division by the kernel sum, ever):
 *
 *   out(y, x) = scale * sum_{i,j} w(i, j) * in(y*S - top + i, x*S - left + j)
 *
 * with samples outside the image supplied by the border mode, per axis:
 *   zero       0
 *   replicate  clamp the index into 0..n-1
 *   reflect    mirror without repeating the edge, period 2(n-1) (n = 1: 0)
 *   symmetric  mirror repeating the edge, period 2n
 *   wrap       i mod n (mathematical modulo)
 * Every mode is a periodic (or constant) extension, so padding wider than
 * the image behaves as NumPy's np.pad does.  flip uses w rotated by 180
 * degrees (true convolution).  A compound kernel (IMF_COMBINE_MAGNITUDE)
 * outputs sqrt(sum over parts of part_response^2); all parts share one size.
 * Alpha (the last plane when has_alpha) is never filtered: output (y, x)
 * takes the input alpha under the kernel's anchor, (y*S - top + (Fr-1)/2,
 * x*S - left + (Fc-1)/2), clamped into the image.
 *
 * Numbers: both paths accumulate in double, in the same order (kernel row by
 * kernel row, left to right), apply the scale after the sum and round to
 * float once.  Integer kernels on 8-bit data are therefore exact, and the two
 * paths agree to the last bit on finite data.  A zero weight contributes
 * nothing in either path (it marks a tap outside the kernel's footprint), so
 * an infinite or NaN sample under a zero weight does not poison the result.
 *
 * Structure: conv_setup() checks the arguments and works out the geometry
 * once for both paths.  imf_conv_reference() is the obviously correct
 * version: one output pixel at a time, every sample fetched through
 * border_index().  conv_fast() produces the output row by row, so it can
 * later stream bands: it keeps a ring of Fr horizontally padded input rows,
 * widened to double (the border applied once per row; rows the zero border
 * supplies point at one shared zero row and their taps are dropped), so its
 * memory does not depend on the image height.  Each output row is a few
 * branch-free axpy passes (up to four non-zero taps per pass) over spans of
 * 256 columns.  The tests compare both paths with a naive np.pad-style
 * implementation on random inputs for every border, padding, stride and
 * flip, and with each other.
 */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- border names ---------------------------------------------------------- */

/*
 * Canonical names first (imf_border_name returns those), then the aliases
 * other tools use for the same extension.  Matching ignores case and treats
 * '-' and '_' alike.  Beware: SciPy ndimage's 'reflect' is our symmetric and
 * its 'mirror' our reflect; 'reflect' here means what NumPy and PyTorch mean.
 */
static const struct border_alias {
	const char *name;
	imf_border border;
} border_names[] = {
	{"zero", IMF_BORDER_ZERO},
	{"replicate", IMF_BORDER_REPLICATE},  /* also MATLAB imfilter, PyTorch */
	{"reflect", IMF_BORDER_REFLECT},      /* also NumPy np.pad, PyTorch */
	{"symmetric", IMF_BORDER_SYMMETRIC},  /* also NumPy np.pad, MATLAB imfilter */
	{"wrap", IMF_BORDER_WRAP},            /* also NumPy np.pad, SciPy ndimage */

	{"constant", IMF_BORDER_ZERO},        /* NumPy np.pad, SciPy ndimage, PyTorch F.pad */
	{"zeros", IMF_BORDER_ZERO},           /* PyTorch Conv2d padding_mode */
	{"fill", IMF_BORDER_ZERO},            /* SciPy signal.convolve2d boundary (fillvalue 0) */
	{"grid-constant", IMF_BORDER_ZERO},   /* SciPy ndimage */
	{"border_constant", IMF_BORDER_ZERO}, /* OpenCV BORDER_CONSTANT (value 0) */

	{"edge", IMF_BORDER_REPLICATE},             /* NumPy np.pad */
	{"nearest", IMF_BORDER_REPLICATE},          /* SciPy ndimage */
	{"clamp", IMF_BORDER_REPLICATE},            /* GPU texture addressing, clamp to edge */
	{"border_replicate", IMF_BORDER_REPLICATE}, /* OpenCV */

	{"mirror", IMF_BORDER_REFLECT},             /* SciPy ndimage */
	{"reflect101", IMF_BORDER_REFLECT},         /* OpenCV BORDER_REFLECT101 */
	{"reflect_101", IMF_BORDER_REFLECT},        /* OpenCV BORDER_REFLECT_101 */
	{"border_reflect_101", IMF_BORDER_REFLECT}, /* OpenCV (its filters' default) */
	{"border_reflect101", IMF_BORDER_REFLECT},  /* OpenCV */

	{"symm", IMF_BORDER_SYMMETRIC},           /* SciPy signal.convolve2d boundary */
	{"grid-mirror", IMF_BORDER_SYMMETRIC},    /* SciPy ndimage (its 'reflect') */
	{"border_reflect", IMF_BORDER_SYMMETRIC}, /* OpenCV BORDER_REFLECT */

	{"circular", IMF_BORDER_WRAP},    /* PyTorch padding_mode, MATLAB imfilter/padarray */
	{"periodic", IMF_BORDER_WRAP},    /* PyWavelets, common usage */
	{"grid-wrap", IMF_BORDER_WRAP},   /* SciPy ndimage */
	{"border_wrap", IMF_BORDER_WRAP}, /* OpenCV BORDER_WRAP */
};

#define N_BORDER_NAMES (sizeof border_names / sizeof border_names[0])

/* Case-insensitive equality with '-' and '_' equivalent. */
static int border_name_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca == '-')
			ca = '_';
		if (cb == '-')
			cb = '_';
		if (ca != cb)
			return 0;
		if (ca == '\0')
			return 1;
	}
}

imf_status imf_border_parse(const char *name, imf_border *out, imf_error *err)
{
	if (!name)
		return imf_error_set(err, IMF_EINVAL, "missing border name");
	for (size_t i = 0; i < N_BORDER_NAMES; i++) {
		if (border_name_eq(name, border_names[i].name)) {
			*out = border_names[i].border;
			return IMF_OK;
		}
	}
	return imf_error_set(err, IMF_EINVAL,
	                     "unknown border '%.64s' (zero, replicate, reflect, symmetric, wrap)",
	                     name);
}

const char *imf_border_name(imf_border b)
{
	switch (b) {
	case IMF_BORDER_ZERO: return "zero";
	case IMF_BORDER_REPLICATE: return "replicate";
	case IMF_BORDER_REFLECT: return "reflect";
	case IMF_BORDER_SYMMETRIC: return "symmetric";
	case IMF_BORDER_WRAP: return "wrap";
	}
	return "?";
}

/* ---- geometry ---------------------------------------------------------------- */

void imf_conv_params_default(imf_conv_params *p)
{
	p->pad_mode = IMF_PAD_SAME;
	p->pad = 0;
	p->stride = 1;
	p->border = IMF_BORDER_ZERO;
	p->flip = 0;
	imf_limits_default(&p->limits);
}

void imf_conv_padding(const imf_conv_params *p, size_t f, size_t *before, size_t *after)
{
	size_t b = 0, a = 0;
	size_t span = f > 0 ? f - 1 : 0;

	switch (p->pad_mode) {
	case IMF_PAD_SAME: /* before = floor((F-1)/2), after = F-1-before */
		b = span / 2;
		a = span - b;
		break;
	case IMF_PAD_VALID:
		break;
	case IMF_PAD_FULL:
		b = a = span;
		break;
	case IMF_PAD_EXPLICIT:
		b = a = p->pad;
		break;
	}
	*before = b;
	*after = a;
}

/* padded = m + before + after, refused past PTRDIFF_MAX so signed indices fit. */
static int padded_extent(size_t m, size_t before, size_t after, size_t *padded)
{
	size_t t;
	return imf_size_add(m, before, &t) && imf_size_add(t, after, padded) &&
	       *padded <= (size_t)PTRDIFF_MAX;
}

imf_status imf_conv_output_size(size_t m, size_t f, size_t before, size_t after, size_t stride,
                                size_t *out, imf_error *err)
{
	size_t padded;

	if (stride == 0)
		return imf_error_set(err, IMF_EINVAL, "stride must be at least 1");
	if (f == 0)
		return imf_error_set(err, IMF_EINVAL, "kernel size must be at least 1");
	if (!padded_extent(m, before, after, &padded))
		return imf_error_set(err, IMF_EINVAL, "padded size %zu + %zu + %zu is too large", m,
		                     before, after);
	if (padded < f)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel size %zu is larger than the padded input size %zu", f,
		                     padded);
	/* out = floor((M + before + after - F) / S) + 1 */
	*out = (padded - f) / stride + 1;
	return IMF_OK;
}

/* Everything both paths need, worked out and checked once. */
typedef struct conv_geom {
	size_t fr, fc;                   /* kernel rows and columns */
	size_t top, bottom, left, right; /* padding */
	size_t oh, ow;                   /* output height and width */
	size_t stride;
	imf_border border;
	int flip;
	int nfilt; /* planes filtered: all but alpha */
} conv_geom;

static imf_status conv_setup(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                             conv_geom *g, imf_error *err)
{
	size_t ph, pw;
	imf_status st;

	if (!in || !k || !p)
		return imf_error_set(err, IMF_EINVAL, "convolution: missing argument");
	if (p->stride == 0)
		return imf_error_set(err, IMF_EINVAL, "stride must be at least 1");
	if (p->pad_mode != IMF_PAD_SAME && p->pad_mode != IMF_PAD_VALID &&
	    p->pad_mode != IMF_PAD_FULL && p->pad_mode != IMF_PAD_EXPLICIT)
		return imf_error_set(err, IMF_EINVAL, "unknown padding mode %d", (int)p->pad_mode);
	if (p->border != IMF_BORDER_ZERO && p->border != IMF_BORDER_REPLICATE &&
	    p->border != IMF_BORDER_REFLECT && p->border != IMF_BORDER_SYMMETRIC &&
	    p->border != IMF_BORDER_WRAP)
		return imf_error_set(err, IMF_EINVAL, "unknown border mode %d", (int)p->border);
	if (k->count == 0 || !k->m)
		return imf_error_set(err, IMF_EINVAL, "kernel has no matrix");
	if (k->combine == IMF_COMBINE_NONE && k->count != 1)
		return imf_error_set(err, IMF_EINVAL, "kernel has %zu matrices but no combination",
		                     k->count);
	if (k->combine != IMF_COMBINE_NONE && k->combine != IMF_COMBINE_MAGNITUDE)
		return imf_error_set(err, IMF_EINVAL, "unknown kernel combination %d",
		                     (int)k->combine);
	for (size_t q = 0; q < k->count; q++) {
		const imf_matrix *m = &k->m[q];
		if (m->rows == 0 || m->cols == 0 || !m->w)
			return imf_error_set(err, IMF_EINVAL, "kernel is empty");
		if (m->rows != k->m[0].rows || m->cols != k->m[0].cols)
			return imf_error_set(err, IMF_EINVAL,
			                     "kernel parts differ in size: %zux%zu, %zux%zu",
			                     k->m[0].cols, k->m[0].rows, m->cols, m->rows);
	}
	if (in->width == 0 || in->height == 0 || in->channels < 1 ||
	    in->channels > IMF_MAX_CHANNELS || (in->has_alpha && in->channels < 2))
		return imf_error_set(err, IMF_EINVAL, "convolution: bad image");

	g->fr = k->m[0].rows;
	g->fc = k->m[0].cols;
	g->stride = p->stride;
	g->border = p->border;
	g->flip = p->flip != 0;
	g->nfilt = in->channels - (in->has_alpha ? 1 : 0);
	imf_conv_padding(p, g->fr, &g->top, &g->bottom);
	imf_conv_padding(p, g->fc, &g->left, &g->right);
	if (!padded_extent(in->height, g->top, g->bottom, &ph) ||
	    !padded_extent(in->width, g->left, g->right, &pw))
		return imf_error_set(err, IMF_EINVAL, "padding is too large for a %zux%zu image",
		                     in->width, in->height);
	/* Sizes as width x height, like every other size imfilter prints. */
	if (ph < g->fr || pw < g->fc)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel %zux%zu is larger than the padded input %zux%zu",
		                     g->fc, g->fr, pw, ph);
	/* Cannot fail after the checks above. */
	st = imf_conv_output_size(in->height, g->fr, g->top, g->bottom, p->stride, &g->oh, err);
	if (st != IMF_OK)
		return st;
	st = imf_conv_output_size(in->width, g->fc, g->left, g->right, p->stride, &g->ow, err);
	if (st != IMF_OK)
		return st;
	/* Large padding can make the output far larger than the input. */
	return imf_check_dims(g->ow, g->oh, in->channels, &p->limits, "output", err);
}

/*
 * The input index that supplies padded sample i (i may be any value) of an
 * axis of n >= 1 samples, or -1 for a zero.
 */
static ptrdiff_t border_index(imf_border b, ptrdiff_t i, size_t n)
{
	ptrdiff_t nn = (ptrdiff_t)n, period, r;

	if (i >= 0 && i < nn)
		return i;
	switch (b) {
	case IMF_BORDER_ZERO:
		return -1;
	case IMF_BORDER_REPLICATE:
		return i < 0 ? 0 : nn - 1;
	case IMF_BORDER_REFLECT: /* ... 2 1 | 0 1 ... n-1 | n-2 ... */
		if (nn == 1)
			return 0;
		period = 2 * (nn - 1);
		r = i % period;
		if (r < 0)
			r += period;
		return r < nn ? r : period - r;
	case IMF_BORDER_SYMMETRIC: /* ... 1 0 | 0 1 ... n-1 | n-1 n-2 ... */
		period = 2 * nn;
		r = i % period;
		if (r < 0)
			r += period;
		return r < nn ? r : period - 1 - r;
	case IMF_BORDER_WRAP:
		r = i % nn;
		return r < 0 ? r + nn : r;
	}
	return -1;
}

/* Output (oy, ox) takes the alpha under the anchor, clamped into the image. */
static size_t anchor_index(size_t o, size_t stride, size_t before, size_t f, size_t n)
{
	ptrdiff_t a = (ptrdiff_t)(o * stride + (f - 1) / 2) - (ptrdiff_t)before;
	if (a < 0)
		return 0;
	if ((size_t)a >= n)
		return n - 1;
	return (size_t)a;
}

static imf_status new_output(const imf_image *in, const conv_geom *g, imf_image **out,
                             imf_error *err)
{
	imf_status st = imf_image_new(g->ow, g->oh, in->channels, in->has_alpha, NULL, out, err);
	if (st == IMF_OK)
		imf_image_set_source(*out, in->src_format, in->src_depth);
	return st;
}

/* ---- reference path ----------------------------------------------------------- */

/*
 * One part's response at output (oy, ox) of plane c: scale * sum w * sample,
 * each sample fetched through border_index().  Zero weights are skipped (as
 * the fast path does).
 */
static double reference_response(const imf_image *in, int c, const imf_matrix *m,
                                 const conv_geom *g, size_t oy, size_t ox)
{
	double sum = 0;

	for (size_t i = 0; i < g->fr; i++) {
		for (size_t j = 0; j < g->fc; j++) {
			size_t wi = g->flip ? g->fr - 1 - i : i;
			size_t wj = g->flip ? g->fc - 1 - j : j;
			double w = m->w[wi * g->fc + wj], v = 0;
			ptrdiff_t y = (ptrdiff_t)(oy * g->stride + i) - (ptrdiff_t)g->top;
			ptrdiff_t x = (ptrdiff_t)(ox * g->stride + j) - (ptrdiff_t)g->left;

			if (w == 0)
				continue;
			y = border_index(g->border, y, in->height);
			x = border_index(g->border, x, in->width);
			if (y >= 0 && x >= 0)
				v = imf_image_row_const(in, c, (size_t)y)[x];
			sum += w * v;
		}
	}
	return m->scale * sum;
}

/*
 * The obviously correct version: each output pixel, each part, each tap.
 * Kept for the tests, which hold the fast path to it.
 */
imf_status imf_conv_reference(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                              imf_image **out, imf_error *err)
{
	conv_geom g;
	imf_image *o = NULL;
	imf_status st;

	*out = NULL;
	st = conv_setup(in, k, p, &g, err);
	if (st != IMF_OK)
		return st;
	st = new_output(in, &g, &o, err);
	if (st != IMF_OK)
		return st;

	for (int c = 0; c < g.nfilt; c++) {
		for (size_t oy = 0; oy < g.oh; oy++) {
			for (size_t ox = 0; ox < g.ow; ox++) {
				double value = 0, sumsq = 0;
				for (size_t q = 0; q < k->count; q++) {
					value = reference_response(in, c, &k->m[q], &g, oy, ox);
					sumsq += value * value;
				}
				if (k->combine == IMF_COMBINE_MAGNITUDE)
					value = sqrt(sumsq);
				imf_image_row(o, c, oy)[ox] = (float)value;
			}
		}
	}
	if (in->has_alpha) {
		int a = in->channels - 1;
		for (size_t oy = 0; oy < g.oh; oy++) {
			size_t ay = anchor_index(oy, g.stride, g.top, g.fr, in->height);
			for (size_t ox = 0; ox < g.ow; ox++) {
				size_t ax = anchor_index(ox, g.stride, g.left, g.fc, in->width);
				imf_image_row(o, a, oy)[ox] = imf_image_row_const(in, a, ay)[ax];
			}
		}
	}
	*out = o;
	return IMF_OK;
}

/* ---- fast path ------------------------------------------------------------------ */

typedef struct conv_tap {
	size_t i, j; /* kernel row and column, after the flip */
	double w;
} conv_tap;

/*
 * The inner loops: acc[x] += w * src[x] for one, two or four taps in a pass
 * (fewer passes over acc), each sum formed left to right as the reference
 * adds its taps.  At -O2 GCC vectorizes no loop that needs a scalar
 * epilogue, but it packs the four independent statements of an unrolled body
 * (2 doubles per instruction with SSE2, 4 with AVX).  Rows are double so
 * that no loop mixes float and double, which -O2 does not vectorize either.
 */
#define AXPY1(x) acc[x] = acc[x] + w0 * a[x]
#define AXPY2(x) acc[x] = acc[x] + w0 * a[x] + w1 * b[x]
#define AXPY4(x) acc[x] = acc[x] + w0 * a[x] + w1 * b[x] + w2 * c[x] + w3 * d[x]

static void axpy1(double *restrict acc, const double *restrict a, const double *w, size_t n)
{
	const double w0 = w[0];
	size_t x = 0;
	for (; x + 4 <= n; x += 4) {
		AXPY1(x);
		AXPY1(x + 1);
		AXPY1(x + 2);
		AXPY1(x + 3);
	}
	for (; x < n; x++)
		AXPY1(x);
}

static void axpy2(double *restrict acc, const double *restrict a, const double *restrict b,
                  const double *w, size_t n)
{
	const double w0 = w[0], w1 = w[1];
	size_t x = 0;
	for (; x + 4 <= n; x += 4) {
		AXPY2(x);
		AXPY2(x + 1);
		AXPY2(x + 2);
		AXPY2(x + 3);
	}
	for (; x < n; x++)
		AXPY2(x);
}

static void axpy4(double *restrict acc, const double *restrict a, const double *restrict b,
                  const double *restrict c, const double *restrict d, const double *w, size_t n)
{
	const double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
	size_t x = 0;
	for (; x + 4 <= n; x += 4) {
		AXPY4(x);
		AXPY4(x + 1);
		AXPY4(x + 2);
		AXPY4(x + 3);
	}
	for (; x < n; x++)
		AXPY4(x);
}

/* acc[x] += w * a[x * s], for strides above 1 */
static void axpy_strided(double *restrict acc, const double *restrict a, double w, size_t n,
                         size_t s)
{
	for (size_t x = 0; x < n; x++)
		acc[x] = acc[x] + w * a[x * s];
}

/*
 * dst[0..pw) = input row src extended by the border and widened to double
 * (exactly): dst[x] is input column x - left.  colsrc holds border_index()
 * of every padded column; only the columns outside the image use it.
 */
static void pad_row(double *restrict dst, const float *restrict src, size_t width, size_t left,
                    size_t pw, const ptrdiff_t *restrict colsrc)
{
	size_t a = left < pw ? left : pw;                 /* end of the left border */
	size_t b = left + width < pw ? left + width : pw; /* end of the inside */

	for (size_t x = 0; x < a; x++)
		dst[x] = colsrc[x] < 0 ? 0.0 : (double)src[colsrc[x]];
	if (b > a) {
		const float *restrict in = src + (a - left);
		double *restrict out = dst + a;
		size_t n = b - a, x = 0;
		for (; x + 4 <= n; x += 4) { /* unrolled for the vectorizer, as above */
			out[x] = in[x];
			out[x + 1] = in[x + 1];
			out[x + 2] = in[x + 2];
			out[x + 3] = in[x + 3];
		}
		for (; x < n; x++)
			out[x] = in[x];
	}
	for (size_t x = b; x < pw; x++)
		dst[x] = colsrc[x] < 0 ? 0.0 : (double)src[colsrc[x]];
}

/*
 * Output columns covered by one pass over the taps: the accumulators
 * (2 x 256 doubles) stay in the L1 cache while the taps stream over them.
 */
#define CONV_SPAN 256

/* The taps of one part that read real rows in the current output row. */
typedef struct conv_active {
	const double **src; /* padded row + tap column */
	double *w;
	size_t n;
} conv_active;

/*
 * n output values of one plane's row into dst: the output columns whose
 * windows start at padded column off + x*s, every part, every active tap.
 */
static void conv_span(float *restrict dst, const imf_kernel *k, const conv_active *act,
                      size_t off, size_t n, size_t s, double *restrict acc,
                      double *restrict sumsq)
{
	const int magnitude = k->combine == IMF_COMBINE_MAGNITUDE;

	for (size_t x = 0; x < n; x++)
		sumsq[x] = 0;
	for (size_t q = 0; q < k->count; q++) {
		const double scale = k->m[q].scale;
		const double *const *src = act[q].src;
		const double *w = act[q].w;
		size_t t = 0, nt = act[q].n;

		for (size_t x = 0; x < n; x++)
			acc[x] = 0;
		if (s == 1) {
			for (; t + 4 <= nt; t += 4)
				axpy4(acc, src[t] + off, src[t + 1] + off, src[t + 2] + off,
				      src[t + 3] + off, w + t, n);
			for (; t + 2 <= nt; t += 2)
				axpy2(acc, src[t] + off, src[t + 1] + off, w + t, n);
			for (; t < nt; t++)
				axpy1(acc, src[t] + off, w + t, n);
		} else {
			for (; t < nt; t++)
				axpy_strided(acc, src[t] + off, w[t], n, s);
		}
		if (magnitude) {
			for (size_t x = 0; x < n; x++) {
				double v = scale * acc[x];
				sumsq[x] += v * v;
			}
		} else {
			for (size_t x = 0; x < n; x++)
				dst[x] = (float)(scale * acc[x]);
		}
	}
	if (magnitude)
		for (size_t x = 0; x < n; x++)
			dst[x] = (float)sqrt(sumsq[x]);
}

static imf_status conv_fast(const imf_image *in, const imf_kernel *k, const conv_geom *g,
                            imf_image *o, imf_error *err)
{
	imf_status st = IMF_ENOMEM;
	const size_t fr = g->fr, fc = g->fc, ow = g->ow, s = g->stride;
	/* Padded columns the output reads: 0 .. (ow-1)*S + Fc - 1 (<= left + W + right). */
	const size_t pw = (ow - 1) * s + fc;
	const size_t span = ow < CONV_SPAN ? ow : CONV_SPAN;
	const int nplanes = g->nfilt > 0 ? g->nfilt : 1;
	size_t ntaps, cache_rows, cache_len;
	conv_tap *taps = NULL;
	conv_active *act = NULL;
	const double **act_src = NULL;
	double *act_w = NULL;
	size_t *part_start = NULL, *tag = NULL, *alpha_col = NULL;
	ptrdiff_t *colsrc = NULL;
	double *cache = NULL, *zero = NULL;
	const double **rows = NULL;
	double *acc = NULL, *sumsq = NULL;

	if (!imf_size_mul(fr, fc, &ntaps) || !imf_size_mul(ntaps, k->count, &ntaps) ||
	    !imf_size_mul((size_t)nplanes, fr, &cache_rows) ||
	    !imf_size_mul(cache_rows, pw, &cache_len)) {
		st = imf_error_set(err, IMF_ENOMEM, "convolution buffers are too large");
		goto cleanup;
	}
	taps = imf_alloc_array(ntaps, sizeof *taps, err);
	act = imf_alloc_array(k->count, sizeof *act, err);
	act_src = imf_alloc_array(ntaps, sizeof *act_src, err);
	act_w = imf_alloc_array(ntaps, sizeof *act_w, err);
	part_start = imf_alloc_array(k->count + 1, sizeof *part_start, err);
	tag = imf_alloc_array(fr, sizeof *tag, err);
	alpha_col = imf_alloc_array(ow, sizeof *alpha_col, err);
	colsrc = imf_alloc_array(pw, sizeof *colsrc, err);
	cache = imf_alloc_array(cache_len, sizeof *cache, err);
	zero = imf_alloc_array(pw, sizeof *zero, err);
	rows = imf_alloc_array(cache_rows, sizeof *rows, err);
	acc = imf_alloc_array(span, sizeof *acc, err);
	sumsq = imf_alloc_array(span, sizeof *sumsq, err);
	if (!taps || !act || !act_src || !act_w || !part_start || !tag || !alpha_col || !colsrc ||
	    !cache || !zero || !rows || !acc || !sumsq)
		goto cleanup;

	/* Non-zero taps of each part in summation order (row by row), flip applied. */
	{
		size_t n = 0;
		for (size_t q = 0; q < k->count; q++) {
			const double *w = k->m[q].w;
			part_start[q] = n;
			act[q].src = act_src + n;
			act[q].w = act_w + n;
			for (size_t i = 0; i < fr; i++) {
				for (size_t j = 0; j < fc; j++) {
					size_t wi = g->flip ? fr - 1 - i : i;
					size_t wj = g->flip ? fc - 1 - j : j;
					double v = w[wi * fc + wj];
					if (v != 0) {
						taps[n].i = i;
						taps[n].j = j;
						taps[n].w = v;
						n++;
					}
				}
			}
		}
		part_start[k->count] = n;
	}
	for (size_t x = 0; x < pw; x++) {
		colsrc[x] = border_index(g->border, (ptrdiff_t)x - (ptrdiff_t)g->left, in->width);
		zero[x] = 0.0;
	}
	for (size_t ox = 0; ox < ow; ox++)
		alpha_col[ox] = anchor_index(ox, s, g->left, fc, in->width);
	for (size_t i = 0; i < fr; i++)
		tag[i] = SIZE_MAX; /* ring slot i holds padded row tag[i] (none yet) */

	for (size_t oy = 0; oy < g->oh; oy++) {
		/*
		 * Output row oy reads padded rows r = oy*S + i, i < Fr: distinct
		 * modulo Fr, so slot r % Fr is free for r; a row the previous output
		 * row already padded is reused.
		 */
		for (size_t i = 0; i < fr; i++) {
			size_t r = oy * s + i, slot = r % fr;
			ptrdiff_t sy = border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top,
			                            in->height);
			for (int c = 0; c < g->nfilt; c++) {
				double *dst = cache + ((size_t)c * fr + slot) * pw;
				if (sy < 0) {
					rows[(size_t)c * fr + i] = zero;
					continue;
				}
				if (tag[slot] != r) {
					const float *src = imf_image_row_const(in, c, (size_t)sy);
					pad_row(dst, src, in->width, g->left, pw, colsrc);
				}
				rows[(size_t)c * fr + i] = dst;
			}
			if (sy >= 0)
				tag[slot] = r;
		}

		for (int c = 0; c < g->nfilt; c++) {
			const double *const *prow = rows + (size_t)c * fr;
			float *dst = imf_image_row(o, c, oy);
			/* The taps on rows of zeros (zero border) add nothing: drop them. */
			for (size_t q = 0; q < k->count; q++) {
				act[q].n = 0;
				for (size_t t = part_start[q]; t < part_start[q + 1]; t++) {
					if (prow[taps[t].i] == zero)
						continue;
					act[q].src[act[q].n] = prow[taps[t].i] + taps[t].j;
					act[q].w[act[q].n] = taps[t].w;
					act[q].n++;
				}
			}
			for (size_t x0 = 0; x0 < ow; x0 += span) {
				size_t n = ow - x0 < span ? ow - x0 : span;
				conv_span(dst + x0, k, act, x0 * s, n, s, acc, sumsq);
			}
		}

		if (in->has_alpha) {
			int a = in->channels - 1;
			const float *restrict src =
			    imf_image_row_const(in, a, anchor_index(oy, s, g->top, fr, in->height));
			float *restrict dst = imf_image_row(o, a, oy);
			for (size_t x = 0; x < ow; x++)
				dst[x] = src[alpha_col[x]];
		}
	}
	st = IMF_OK;

cleanup:
	free(taps);
	free(act);
	free(act_src);
	free(act_w);
	free(part_start);
	free(tag);
	free(alpha_col);
	free(colsrc);
	free(cache);
	free(zero);
	free(rows);
	free(acc);
	free(sumsq);
	return st;
}

imf_status imf_conv_run(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                        imf_image **out, imf_error *err)
{
	conv_geom g;
	imf_image *o = NULL;
	imf_status st;

	*out = NULL;
	st = conv_setup(in, k, p, &g, err);
	if (st != IMF_OK)
		return st;
	st = new_output(in, &g, &o, err);
	if (st != IMF_OK)
		return st;
	st = conv_fast(in, k, &g, o, err);
	if (st != IMF_OK) {
		imf_image_free(o);
		return st;
	}
	*out = o;
	return IMF_OK;
}
