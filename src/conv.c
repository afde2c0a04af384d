/*
 * conv.c - the convolution engine: border modes, padding and output geometry,
 * a plain reference path and the fast path that imf_conv_run uses.
 *
 * What is computed (cross-correlation, as in CNNs; no kernel flip unless
 * asked, no division by the kernel sum, ever), for a kernel of F taps per
 * axis with dilation D, i.e. taps D apart over an extent E = D(F-1)+1:
 *
 *   out(y, x) = scale * sum_{i,j} w(i, j) * in(y*S - top + i*D, x*S - left + j*D) + bias
 *
 * with samples outside the image supplied by the border mode, per axis:
 *   zero       0
 *   replicate  clamp the index into 0..n-1
 *   reflect    mirror without repeating the edge, period 2(n-1) (n = 1: 0)
 *   symmetric  mirror repeating the edge, period 2n
 *   wrap       i mod n (mathematical modulo)
 * Every mode is a periodic (or constant) extension, so padding wider than
 * the image behaves as NumPy's np.pad does.  flip uses w rotated by 180
 * degrees (true convolution).  Every size and padding rule uses the extent
 * E where an undilated kernel has F: imf_conv_padding() and
 * imf_conv_output_size() take the extent as their f, so
 * out = floor((M + 2P - D(F-1) - 1) / S) + 1, as in PyTorch.
 *
 * Kernels come in three shapes (struct imf_kernel):
 *  - one 2-D matrix: each non-alpha plane is filtered on its own
 *    (depthwise), the bias added to each;
 *  - IMF_COMBINE_MAGNITUDE, several 2-D parts of one size: each plane gives
 *    sqrt(sum over parts of part_response^2) + bias;
 *  - IMF_COMBINE_NONE with count C > 1: a multi-channel kernel of C slices.
 *    It needs exactly C non-alpha planes and gives ONE plane, as a CNN
 *    layer does: out = sum_c scale_c * corr(in_c, slice_c) + bias.
 * Alpha (the last plane when has_alpha) is never filtered: output (y, x)
 * takes the input alpha under the kernel's anchor, (y*S - top + (Er-1)/2,
 * x*S - left + (Ec-1)/2), clamped into the image.  A multi-channel kernel's
 * output has no alpha (one map from several planes has no pixel to take
 * it from).
 *
 * Numbers: both paths accumulate in double, in the same order (slice by
 * slice or part by part; within one, kernel row by kernel row, left to
 * right), apply each scale after its sum, add the bias last and round to
 * float once.  Integer kernels on 8-bit data are therefore exact, and the
 * two paths agree to the last bit on finite data.  A zero weight
 * contributes nothing in either path (it marks a tap outside the kernel's
 * footprint), so an infinite or NaN sample under a zero weight does not
 * poison the result.
 *
 * Structure: conv_setup() checks the arguments and works out the geometry
 * once for both paths.  imf_conv_reference() is the obviously correct
 * version: one output pixel at a time, every sample fetched through
 * border_index().  conv_fast() produces the output row by row, so it can
 * later stream bands: it keeps a ring of horizontally padded input rows per
 * input plane, widened to double (the border applied once per row; rows the
 * zero border supplies point at one shared zero row and their taps are
 * dropped), so its memory does not depend on the image height.  Each
 * output row is a few branch-free axpy passes (up to four non-zero taps per
 * pass) over spans of 256 columns.  The tests compare both paths with a
 * naive np.pad-style implementation on random inputs for every border,
 * padding, stride, dilation and flip, and with each other.
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
	p->dilation = 1;
	p->bias = 0;
	imf_limits_default(&p->limits);
}

/*
 * Both functions below take the kernel's extent along the axis as f: F for
 * an undilated kernel, E = D(F-1)+1 with dilation D (conv_setup passes E).
 */

void imf_conv_padding(const imf_conv_params *p, size_t f, size_t *before, size_t *after)
{
	size_t b = 0, a = 0;
	size_t span = f > 0 ? f - 1 : 0;

	switch (p->pad_mode) {
	case IMF_PAD_SAME: /* before = floor((E-1)/2), after = E-1-before */
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
	/* out = floor((M + before + after - E) / S) + 1 */
	*out = (padded - f) / stride + 1;
	return IMF_OK;
}

/* Everything both paths need, worked out and checked once. */
typedef struct conv_geom {
	size_t fr, fc;                   /* kernel rows and columns (taps per axis) */
	size_t dil;                      /* dilation D: taps D apart */
	size_t er, ec;                   /* extents D(F-1)+1: rows and columns spanned */
	size_t top, bottom, left, right; /* padding */
	size_t oh, ow;                   /* output height and width */
	size_t stride;
	imf_border border;
	int flip;
	double bias;
	size_t depth; /* slices: C for a multi-channel kernel, else 1 */
	int nfilt;    /* input planes filtered: all but alpha */
	int nout;     /* output planes besides alpha: nfilt, or 1 when depth > 1 */
	int alpha;    /* the output carries the input's alpha */
} conv_geom;

/* *e = D(F-1)+1; 0 on overflow. */
static int kernel_extent(size_t f, size_t d, size_t *e)
{
	return imf_size_mul(f - 1, d, e) && imf_size_add(*e, 1, e);
}

static imf_status conv_setup(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                             conv_geom *g, imf_error *err)
{
	size_t ph, pw;
	imf_status st;

	if (!in || !k || !p)
		return imf_error_set(err, IMF_EINVAL, "convolution: missing argument");
	if (p->stride == 0)
		return imf_error_set(err, IMF_EINVAL, "stride must be at least 1");
	if (p->dilation == 0)
		return imf_error_set(err, IMF_EINVAL, "dilation must be at least 1");
	if (!isfinite(p->bias))
		return imf_error_set(err, IMF_EINVAL, "bias must be a finite number");
	if (p->pad_mode != IMF_PAD_SAME && p->pad_mode != IMF_PAD_VALID &&
	    p->pad_mode != IMF_PAD_FULL && p->pad_mode != IMF_PAD_EXPLICIT)
		return imf_error_set(err, IMF_EINVAL, "unknown padding mode %d", (int)p->pad_mode);
	if (p->border != IMF_BORDER_ZERO && p->border != IMF_BORDER_REPLICATE &&
	    p->border != IMF_BORDER_REFLECT && p->border != IMF_BORDER_SYMMETRIC &&
	    p->border != IMF_BORDER_WRAP)
		return imf_error_set(err, IMF_EINVAL, "unknown border mode %d", (int)p->border);
	if (k->count == 0 || !k->m)
		return imf_error_set(err, IMF_EINVAL, "kernel has no matrix");
	if (k->combine != IMF_COMBINE_NONE && k->combine != IMF_COMBINE_MAGNITUDE)
		return imf_error_set(err, IMF_EINVAL, "unknown kernel combination %d",
		                     (int)k->combine);
	for (size_t q = 0; q < k->count; q++) {
		const imf_matrix *m = &k->m[q];
		if (m->rows == 0 || m->cols == 0 || !m->w)
			return imf_error_set(err, IMF_EINVAL, "kernel is empty");
		if (m->rows != k->m[0].rows || m->cols != k->m[0].cols)
			return imf_error_set(err, IMF_EINVAL,
			                     "kernel %s differ in size: %zux%zu, %zux%zu",
			                     k->combine == IMF_COMBINE_NONE ? "slices" : "parts",
			                     k->m[0].cols, k->m[0].rows, m->cols, m->rows);
	}
	if (in->width == 0 || in->height == 0 || in->channels < 1 ||
	    in->channels > IMF_MAX_PLANES || (in->has_alpha && in->channels < 2))
		return imf_error_set(err, IMF_EINVAL, "convolution: bad image");

	g->fr = k->m[0].rows;
	g->fc = k->m[0].cols;
	g->dil = p->dilation;
	g->stride = p->stride;
	g->border = p->border;
	g->flip = p->flip != 0;
	g->bias = p->bias;
	g->depth = k->combine == IMF_COMBINE_NONE ? k->count : 1;
	g->nfilt = imf_image_data_planes(in);
	if (g->depth > 1 && g->depth != (size_t)g->nfilt)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel has %zu slices but the input has %d channel%s",
		                     g->depth, g->nfilt, g->nfilt == 1 ? "" : "s");
	g->nout = g->depth > 1 ? 1 : g->nfilt;
	g->alpha = g->depth > 1 ? 0 : in->has_alpha;

	if (!kernel_extent(g->fr, g->dil, &g->er) || !kernel_extent(g->fc, g->dil, &g->ec))
		return imf_error_set(err, IMF_EINVAL,
		                     "dilation %zu is too large for a %zux%zu kernel", g->dil,
		                     g->fc, g->fr);
	imf_conv_padding(p, g->er, &g->top, &g->bottom);
	imf_conv_padding(p, g->ec, &g->left, &g->right);
	if (!padded_extent(in->height, g->top, g->bottom, &ph) ||
	    !padded_extent(in->width, g->left, g->right, &pw))
		return imf_error_set(err, IMF_EINVAL, "padding is too large for a %zux%zu image",
		                     in->width, in->height);
	/* Sizes as width x height, like every other size imfilter prints. */
	if (ph < g->er || pw < g->ec) {
		if (g->dil == 1)
			return imf_error_set(
			        err, IMF_EINVAL,
			        "kernel %zux%zu is larger than the padded input %zux%zu", g->fc,
			        g->fr, pw, ph);
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel %zux%zu with dilation %zu (extent %zux%zu) is larger "
		                     "than the padded input %zux%zu",
		                     g->fc, g->fr, g->dil, g->ec, g->er, pw, ph);
	}
	/* Cannot fail after the checks above. */
	st = imf_conv_output_size(in->height, g->er, g->top, g->bottom, p->stride, &g->oh, err);
	if (st != IMF_OK)
		return st;
	st = imf_conv_output_size(in->width, g->ec, g->left, g->right, p->stride, &g->ow, err);
	if (st != IMF_OK)
		return st;
	/* Large padding can make the output far larger than the input. */
	return imf_check_dims(g->ow, g->oh, g->nout + g->alpha, &p->limits, "output", err);
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

/*
 * Output (oy, ox) takes the alpha under the anchor, floor((E-1)/2) into the
 * window of extent e, clamped into the image.
 */
static size_t anchor_index(size_t o, size_t stride, size_t before, size_t e, size_t n)
{
	ptrdiff_t a = (ptrdiff_t)(o * stride + (e - 1) / 2) - (ptrdiff_t)before;
	if (a < 0)
		return 0;
	if ((size_t)a >= n)
		return n - 1;
	return (size_t)a;
}

static imf_status new_output(const imf_image *in, const conv_geom *g, imf_image **out,
                             imf_error *err)
{
	imf_status st = imf_image_new(g->ow, g->oh, g->nout + g->alpha, g->alpha, NULL, out, err);
	if (st == IMF_OK)
		imf_image_set_source(*out, in->src_format, in->src_depth);
	return st;
}

/* ---- reference path ----------------------------------------------------------- */

/*
 * One matrix's response at output (oy, ox) on plane c: scale * sum w * sample,
 * the taps D apart, each sample fetched through border_index().  Zero
 * weights are skipped (as the fast path does).
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
			ptrdiff_t y = (ptrdiff_t)(oy * g->stride + i * g->dil) - (ptrdiff_t)g->top;
			ptrdiff_t x = (ptrdiff_t)(ox * g->stride + j * g->dil) - (ptrdiff_t)g->left;

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
 * The obviously correct version: each output pixel, each matrix, each tap.
 * Matrix q reads plane q of a multi-channel kernel's input, else the plane
 * being filtered.  Kept for the tests, which hold the fast path to it.
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

	const int magnitude = k->combine == IMF_COMBINE_MAGNITUDE;
	for (int c = 0; c < g.nout; c++) {
		for (size_t oy = 0; oy < g.oh; oy++) {
			for (size_t ox = 0; ox < g.ow; ox++) {
				double total = 0; /* sum of responses, or of their squares */
				for (size_t q = 0; q < k->count; q++) {
					int plane = g.depth > 1 ? (int)q : c;
					double v =
					        reference_response(in, plane, &k->m[q], &g, oy, ox);
					total += magnitude ? v * v : v;
				}
				imf_image_row(o, c, oy)[ox] =
				        (float)((magnitude ? sqrt(total) : total) + g.bias);
			}
		}
	}
	if (g.alpha) {
		int a = in->channels - 1;
		for (size_t oy = 0; oy < g.oh; oy++) {
			size_t ay = anchor_index(oy, g.stride, g.top, g.er, in->height);
			for (size_t ox = 0; ox < g.ow; ox++) {
				size_t ax = anchor_index(ox, g.stride, g.left, g.ec, in->width);
				imf_image_row(o, a, oy)[ox] = imf_image_row_const(in, a, ay)[ax];
			}
		}
	}
	*out = o;
	return IMF_OK;
}

/* ---- fast path ------------------------------------------------------------------ */

typedef struct conv_tap {
	size_t i;   /* kernel row, after the flip */
	size_t col; /* padded-row offset of the tap: kernel column (after the flip) * D */
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

/* The taps of one matrix that read real rows in the current output row. */
typedef struct conv_active {
	const double **src; /* padded row + tap column */
	double *w;
	size_t n;
} conv_active;

/*
 * n output values of one output plane's row into dst: the output columns
 * whose windows start at padded column off + x*s, every matrix, every
 * active tap; responses summed (or their squares, for a magnitude), then
 * the bias, in the reference's order.
 */
static void conv_span(float *restrict dst, const imf_kernel *k, const conv_active *act,
                      size_t off, size_t n, size_t s, double bias, double *restrict acc,
                      double *restrict total)
{
	const int magnitude = k->combine == IMF_COMBINE_MAGNITUDE;

	for (size_t x = 0; x < n; x++)
		total[x] = 0;
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
				total[x] += v * v;
			}
		} else {
			for (size_t x = 0; x < n; x++)
				total[x] += scale * acc[x];
		}
	}
	if (magnitude)
		for (size_t x = 0; x < n; x++)
			dst[x] = (float)(sqrt(total[x]) + bias);
	else
		for (size_t x = 0; x < n; x++)
			dst[x] = (float)(total[x] + bias);
}

static size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Up to this dilation the ring holds E rows; past it, the fewest that work. */
#define CONV_RING_FULL_DILATION 4

/*
 * Rows in the ring of padded rows: output row oy reads padded rows
 * oy*S + i*D (i < F), kept in slot r % R.  Those F rows fall in distinct
 * slots whenever R >= F and R has no factor in common with D.  R = E (the
 * extent) is such a number and keeps every row until the last output row
 * that reads it has been made, so no row is padded twice; for a large
 * dilation E rows of a width that grows with E would be wasteful, and the
 * smallest such R >= F is used (rows may then be padded again).
 */
static size_t ring_rows(const conv_geom *g)
{
	size_t r = g->fr;
	if (g->dil <= CONV_RING_FULL_DILATION)
		return g->er;
	while (gcd(r, g->dil) != 1)
		r++;
	return r;
}

static imf_status conv_fast(const imf_image *in, const imf_kernel *k, const conv_geom *g,
                            imf_image *o, imf_error *err)
{
	imf_status st = IMF_ENOMEM;
	const size_t fr = g->fr, fc = g->fc, ow = g->ow, s = g->stride, d = g->dil;
	/* Padded columns the output reads: 0 .. (ow-1)*S + Ec - 1 (<= left + W + right). */
	const size_t pw = (ow - 1) * s + g->ec;
	const size_t span = ow < CONV_SPAN ? ow : CONV_SPAN;
	const size_t ring = ring_rows(g);
	const int nplanes = g->nfilt; /* every input plane but alpha is read */
	size_t ntaps, nrows, cache_rows, cache_len;
	conv_tap *taps = NULL;
	conv_active *act = NULL;
	const double **act_src = NULL;
	double *act_w = NULL;
	size_t *part_start = NULL, *tag = NULL, *alpha_col = NULL;
	ptrdiff_t *colsrc = NULL;
	double *cache = NULL, *zero = NULL;
	const double **rows = NULL;
	double *acc = NULL, *total = NULL;

	if (!imf_size_mul(fr, fc, &ntaps) || !imf_size_mul(ntaps, k->count, &ntaps) ||
	    !imf_size_mul((size_t)nplanes, fr, &nrows) ||
	    !imf_size_mul((size_t)nplanes, ring, &cache_rows) ||
	    !imf_size_mul(cache_rows, pw, &cache_len)) {
		st = imf_error_set(err, IMF_ENOMEM, "convolution buffers are too large");
		goto cleanup;
	}
	taps = imf_alloc_array(ntaps, sizeof *taps, err);
	act = imf_alloc_array(k->count, sizeof *act, err);
	act_src = imf_alloc_array(ntaps, sizeof *act_src, err);
	act_w = imf_alloc_array(ntaps, sizeof *act_w, err);
	part_start = imf_alloc_array(k->count + 1, sizeof *part_start, err);
	tag = imf_alloc_array(ring, sizeof *tag, err);
	alpha_col = imf_alloc_array(ow, sizeof *alpha_col, err);
	colsrc = imf_alloc_array(pw, sizeof *colsrc, err);
	cache = imf_alloc_array(cache_len, sizeof *cache, err);
	zero = imf_alloc_array(pw, sizeof *zero, err);
	rows = imf_alloc_array(nrows, sizeof *rows, err);
	acc = imf_alloc_array(span, sizeof *acc, err);
	total = imf_alloc_array(span, sizeof *total, err);
	if (!taps || !act || !act_src || !act_w || !part_start || !tag || !alpha_col || !colsrc ||
	    !cache || !zero || !rows || !acc || !total)
		goto cleanup;

	/* Non-zero taps of each matrix in summation order (row by row), flip applied. */
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
						taps[n].col = j * d;
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
		alpha_col[ox] = anchor_index(ox, s, g->left, g->ec, in->width);
	for (size_t r = 0; r < ring; r++)
		tag[r] = SIZE_MAX; /* ring slot r holds padded row tag[r] (none yet) */

	for (size_t oy = 0; oy < g->oh; oy++) {
		/*
		 * Output row oy reads padded rows r = oy*S + i*D, i < Fr, each in
		 * slot r % R (distinct, see ring_rows); a row an earlier output row
		 * padded and no later row evicted is reused.  rows[c*Fr + i] points
		 * at plane c's padded row for kernel row i.
		 */
		for (size_t i = 0; i < fr; i++) {
			size_t r = oy * s + i * d, slot = r % ring;
			ptrdiff_t sy = border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top,
			                            in->height);
			for (int c = 0; c < nplanes; c++) {
				double *dst = cache + ((size_t)c * ring + slot) * pw;
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

		for (int c = 0; c < g->nout; c++) {
			float *dst = imf_image_row(o, c, oy);
			/*
			 * Matrix q reads plane q of a multi-channel kernel's input, else
			 * plane c.  The taps on rows of zeros (zero border) add nothing:
			 * drop them.
			 */
			for (size_t q = 0; q < k->count; q++) {
				const size_t plane = g->depth > 1 ? q : (size_t)c;
				const double *const *prow = rows + plane * fr;
				act[q].n = 0;
				for (size_t t = part_start[q]; t < part_start[q + 1]; t++) {
					if (prow[taps[t].i] == zero)
						continue;
					act[q].src[act[q].n] = prow[taps[t].i] + taps[t].col;
					act[q].w[act[q].n] = taps[t].w;
					act[q].n++;
				}
			}
			for (size_t x0 = 0; x0 < ow; x0 += span) {
				size_t n = ow - x0 < span ? ow - x0 : span;
				conv_span(dst + x0, k, act, x0 * s, n, s, g->bias, acc, total);
			}
		}

		if (g->alpha) {
			int a = in->channels - 1;
			const float *restrict src = imf_image_row_const(
			        in, a, anchor_index(oy, s, g->top, g->er, in->height));
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
	free(total);
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
