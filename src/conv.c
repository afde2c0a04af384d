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
 * Numbers: the reference accumulates in double, kernel row by kernel row,
 * left to right (slice by slice or part by part), applies each scale after
 * its sum, adds the bias last and rounds to float once.  Integer kernels on
 * 8-bit data are therefore exact.  The fast engine (conv_rows.c) gives the
 * same bits on its direct paths (double in the same order, or float where
 * float is provably exact) and agrees within rounding on its separable path
 * (exact again for integer kernels on integer data).  With
 * IMF_PRECISION_FLOAT the direct paths may sum in float too, within a
 * bound (see imfilter.h).  A zero weight
 * contributes nothing in either path (it marks a tap outside the kernel's
 * footprint), so an infinite or NaN sample under a zero weight does not
 * poison the result.
 *
 * Structure: conv_setup() checks the arguments and works out the geometry
 * once for every path.  imf_conv_reference() is the obviously correct
 * version: one output pixel at a time, every sample fetched through
 * conv_border_index().  imf_conv_run() and the band API (imf_conv_stream_*)
 * drive the row engine of conv_rows.c, splitting output rows across
 * threads; whole images and streamed windows reach it through one fetch
 * function.  The tests compare every path with a naive np.pad-style
 * implementation (check_conv.c) and the fast paths with the reference
 * (check_engine.c).
 */
#include "conv_internal.h"

#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

imf_status imf_precision_parse(const char *name, imf_precision *out, imf_error *err)
{
	if (name && strcmp(name, "exact") == 0)
		*out = IMF_PRECISION_EXACT;
	else if (name && strcmp(name, "float") == 0)
		*out = IMF_PRECISION_FLOAT;
	else
		return imf_error_set(err, IMF_EINVAL, "unknown precision '%.64s' (exact, float)",
		                     name ? name : "");
	return IMF_OK;
}

const char *imf_precision_name(imf_precision p)
{
	return p == IMF_PRECISION_FLOAT ? "float" : p == IMF_PRECISION_EXACT ? "exact" : "?";
}

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
	p->threads = 1;
	p->precision = IMF_PRECISION_EXACT;
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

/* *e = D(F-1)+1; 0 on overflow. */
static int kernel_extent(size_t f, size_t d, size_t *e)
{
	return imf_size_mul(f - 1, d, e) && imf_size_add(*e, 1, e);
}

imf_status conv_setup(size_t width, size_t height, int channels, int has_alpha,
                      const imf_kernel *k, const imf_conv_params *p, conv_geom *g,
                      imf_error *err)
{
	size_t ph, pw;
	imf_status st;

	if (!k || !p)
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
	if (p->precision != IMF_PRECISION_EXACT && p->precision != IMF_PRECISION_FLOAT)
		return imf_error_set(err, IMF_EINVAL, "unknown precision %d", (int)p->precision);
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
	if (width == 0 || height == 0 || channels < 1 || channels > IMF_MAX_PLANES ||
	    (has_alpha && channels < 2))
		return imf_error_set(err, IMF_EINVAL, "convolution: bad image");

	g->iw = width;
	g->ih = height;
	g->ich = channels;
	g->fr = k->m[0].rows;
	g->fc = k->m[0].cols;
	g->dil = p->dilation;
	g->stride = p->stride;
	g->border = p->border;
	g->flip = p->flip != 0;
	g->bias = p->bias;
	g->float_sums = p->precision == IMF_PRECISION_FLOAT;
	g->depth = k->combine == IMF_COMBINE_NONE ? k->count : 1;
	g->nfilt = has_alpha ? channels - 1 : channels;
	if (g->depth > 1 && g->depth != (size_t)g->nfilt)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel has %zu slices but the input has %d channel%s",
		                     g->depth, g->nfilt, g->nfilt == 1 ? "" : "s");
	g->nout = g->depth > 1 ? 1 : g->nfilt;
	g->alpha = g->depth > 1 ? 0 : has_alpha != 0;

	if (!kernel_extent(g->fr, g->dil, &g->er) || !kernel_extent(g->fc, g->dil, &g->ec))
		return imf_error_set(err, IMF_EINVAL,
		                     "dilation %zu is too large for a %zux%zu kernel", g->dil,
		                     g->fc, g->fr);
	imf_conv_padding(p, g->er, &g->top, &g->bottom);
	imf_conv_padding(p, g->ec, &g->left, &g->right);
	if (!padded_extent(height, g->top, g->bottom, &ph) ||
	    !padded_extent(width, g->left, g->right, &pw))
		return imf_error_set(err, IMF_EINVAL, "padding is too large for a %zux%zu image",
		                     width, height);
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
	st = imf_conv_output_size(height, g->er, g->top, g->bottom, p->stride, &g->oh, err);
	if (st != IMF_OK)
		return st;
	st = imf_conv_output_size(width, g->ec, g->left, g->right, p->stride, &g->ow, err);
	if (st != IMF_OK)
		return st;
	/* Large padding can make the output far larger than the input. */
	return imf_check_dims(g->ow, g->oh, g->nout + g->alpha, &p->limits, "output", err);
}

/*
 * The input index that supplies padded sample i (i may be any value) of an
 * axis of n >= 1 samples, or -1 for a zero.
 */
ptrdiff_t conv_border_index(imf_border b, ptrdiff_t i, size_t n)
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
size_t conv_anchor_index(size_t o, size_t stride, size_t before, size_t e, size_t n)
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
			y = conv_border_index(g->border, y, in->height);
			x = conv_border_index(g->border, x, in->width);
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
	st = in ? conv_setup(in->width, in->height, in->channels, in->has_alpha, k, p, &g, err)
	        : imf_error_set(err, IMF_EINVAL, "convolution: missing argument");
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
			size_t ay = conv_anchor_index(oy, g.stride, g.top, g.er, in->height);
			for (size_t ox = 0; ox < g.ow; ox++) {
				size_t ax = conv_anchor_index(ox, g.stride, g.left, g.ec, in->width);
				imf_image_row(o, a, oy)[ox] = imf_image_row_const(in, a, ay)[ax];
			}
		}
	}
	*out = o;
	return IMF_OK;
}

/* ---- the fast path: whole images and streamed bands --------------------------- */

static const float *image_fetch(const void *ctx, int plane, size_t y)
{
	return imf_image_row_const((const imf_image *)ctx, plane, y);
}

/* A band window: input rows first .. first + height - 1 of a streamed image. */
typedef struct window_ctx {
	const imf_image *win;
	size_t first;
} window_ctx;

static const float *window_fetch(const void *ctx, int plane, size_t y)
{
	const window_ctx *w = ctx;
	/* The engine asks only for rows of the run (its prefetch too, which no fault would catch). */
	assert(y >= w->first && y - w->first < imf_image_height(w->win));
	return imf_image_row_const(w->win, plane, y - w->first);
}

typedef struct conv_job {
	conv_worker *w;
	conv_fetch fetch;
	const void *ctx;
	imf_image *o;
	size_t first, oy0, oy1;
} conv_job;

static void *job_run(void *arg)
{
	conv_job *j = arg;
	conv_worker_run(j->w, j->fetch, j->ctx, j->o, j->first, j->oy0, j->oy1);
	return NULL;
}

/*
 * Output rows oy0..oy1-1 split into nw contiguous parts, one per worker;
 * the calling thread does the first part.  Every output row is computed by
 * the same code whatever the split, so the result does not depend on nw.
 * A thread that cannot be started leaves its part to the caller.
 */
static void run_split(conv_worker **ws, size_t nw, conv_fetch fetch, const void *ctx,
                      imf_image *o, size_t first, size_t oy0, size_t oy1)
{
	conv_job jobs[IMF_MAX_THREADS];
	pthread_t tid[IMF_MAX_THREADS];
	int started[IMF_MAX_THREADS] = { 0 };
	size_t rows = oy1 - oy0;

	if (nw > rows)
		nw = rows ? rows : 1;
	for (size_t t = 0; t < nw; t++) {
		jobs[t] = (conv_job){ ws[t], fetch, ctx, o, first, oy0 + rows * t / nw,
			              oy0 + rows * (t + 1) / nw };
		if (t > 0)
			started[t] = pthread_create(&tid[t], NULL, job_run, &jobs[t]) == 0;
	}
	job_run(&jobs[0]);
	for (size_t t = 1; t < nw; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			job_run(&jobs[t]);
	}
}

static size_t thread_count(const imf_conv_params *p, size_t rows)
{
	size_t n = p->threads < 1 ? 1 : p->threads;
	if (n > IMF_MAX_THREADS)
		n = IMF_MAX_THREADS;
	/* Below a few rows each, a thread costs more than it saves. */
	while (n > 1 && rows / n < 8)
		n--;
	return n;
}

static void free_workers(conv_worker **ws, size_t n)
{
	for (size_t t = 0; t < n; t++)
		conv_worker_free(ws[t]);
}

static imf_status new_workers(const conv_plan *plan, conv_worker **ws, size_t n,
                              imf_error *err)
{
	for (size_t t = 0; t < n; t++) {
		ws[t] = NULL;
		if (conv_worker_new(plan, &ws[t], err) != IMF_OK) {
			free_workers(ws, t);
			return err ? err->code : IMF_ENOMEM;
		}
	}
	return IMF_OK;
}

imf_status imf_conv_run(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                        imf_image **out, imf_error *err)
{
	conv_geom g;
	conv_plan *plan = NULL;
	conv_worker *ws[IMF_MAX_THREADS];
	imf_image *o = NULL;
	imf_status st;
	size_t nw = 0;

	*out = NULL;
	st = in ? conv_setup(in->width, in->height, in->channels, in->has_alpha, k, p, &g, err)
	        : imf_error_set(err, IMF_EINVAL, "convolution: missing argument");
	if (st != IMF_OK)
		return st;
	st = new_output(in, &g, &o, err);
	if (st == IMF_OK)
		st = conv_plan_new(k, &g, &plan, err);
	if (st == IMF_OK) {
		nw = thread_count(p, g.oh);
		st = new_workers(plan, ws, nw, err);
		if (st != IMF_OK)
			nw = 0;
	}
	if (st == IMF_OK)
		run_split(ws, nw, image_fetch, in, o, 0, 0, g.oh);
	free_workers(ws, nw);
	conv_plan_free(plan);
	if (st != IMF_OK) {
		imf_image_free(o);
		return st;
	}
	*out = o;
	return IMF_OK;
}

struct imf_conv_stream {
	conv_geom g;
	conv_plan *plan;
	conv_worker *ws[IMF_MAX_THREADS];
	size_t nw;
	char method[224]; /* imf_conv_stream_method */
};

/* Which inner loops the plan runs, in words, into buf (n bytes). */
static void describe(const conv_plan *p, char *buf, size_t n)
{
	static const char *const folds[4] = {"", ", symmetric row folded",
	                                     ", symmetric column folded",
	                                     ", symmetric row and column folded"};
	static const char *const groups[5] = {"", "", ", two output rows at a time", "",
	                                      ", four output rows at a time"};

	if (conv_plan_method(p) == CONV_METHOD_SEPARABLE && !conv_plan_float_passes(p))
		snprintf(buf, n, "separable (row pass, then column pass, double)");
	else if (conv_plan_method(p) == CONV_METHOD_SEPARABLE)
		snprintf(buf, n, "separable (row pass, then column pass%s%s%s%s)",
		         conv_plan_exact_limit(p) > 0
		                 ? ": double, exact, on integer samples; else float"
		                 : ", float",
		         folds[conv_plan_folded(p)], groups[conv_plan_group(p)],
		         conv_plan_exact_limit(p) > 0 ? "" : "; double where values are extreme");
	else if (conv_plan_exact_limit(p) > 0)
		snprintf(buf, n, "direct (exact float for integer samples, else %s)",
		         conv_plan_float_sums(p) ? "float sums" : "double");
	else
		snprintf(buf, n, "direct (%s)", conv_plan_float_sums(p) ? "float sums" : "double");
}

void imf_conv_stream_free(imf_conv_stream *s)
{
	if (!s)
		return;
	free_workers(s->ws, s->nw);
	conv_plan_free(s->plan);
	free(s);
}

imf_status imf_conv_stream_new(const imf_kernel *k, const imf_conv_params *p, size_t width,
                               size_t height, int channels, int has_alpha,
                               imf_conv_stream **out, imf_error *err)
{
	imf_conv_stream *s;
	imf_status st;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	st = conv_setup(width, height, channels, has_alpha, k, p, &s->g, err);
	if (st == IMF_OK)
		st = conv_plan_new(k, &s->g, &s->plan, err);
	if (st == IMF_OK) {
		size_t n = p->threads < 1 ? 1 : p->threads;
		n = n > IMF_MAX_THREADS ? IMF_MAX_THREADS : n;
		describe(s->plan, s->method, sizeof s->method);
		st = new_workers(s->plan, s->ws, n, err);
		if (st == IMF_OK)
			s->nw = n;
	}
	if (st != IMF_OK) {
		imf_conv_stream_free(s);
		return st;
	}
	*out = s;
	return IMF_OK;
}

void imf_conv_stream_output(const imf_conv_stream *s, size_t *width, size_t *height,
                            int *channels, int *has_alpha)
{
	*width = s->g.ow;
	*height = s->g.oh;
	*channels = s->g.nout + s->g.alpha;
	*has_alpha = s->g.alpha;
}

int imf_conv_stream_bounded(const imf_conv_stream *s)
{
	/* wrap reads the far edge; padding past the image's height repeats all of it */
	if (s->g.top == 0 && s->g.bottom == 0)
		return 1;
	return s->g.border != IMF_BORDER_WRAP && s->g.top < s->g.ih && s->g.bottom < s->g.ih;
}

void imf_conv_stream_input_rows(const imf_conv_stream *s, size_t oy0, size_t n, size_t *lo,
                                size_t *hi)
{
	const conv_geom *g = &s->g;
	size_t a = SIZE_MAX, b = 0;

	for (size_t oy = oy0; oy < oy0 + n && oy < g->oh; oy++) {
		for (size_t i = 0; i < g->fr; i++) {
			ptrdiff_t r = (ptrdiff_t)(oy * g->stride + i * g->dil) - (ptrdiff_t)g->top;
			ptrdiff_t sy = conv_border_index(g->border, r, g->ih);
			if (sy < 0)
				continue;
			a = (size_t)sy < a ? (size_t)sy : a;
			b = (size_t)sy + 1 > b ? (size_t)sy + 1 : b;
		}
		if (g->alpha) {
			size_t ay = conv_anchor_index(oy, g->stride, g->top, g->er, g->ih);
			a = ay < a ? ay : a;
			b = ay + 1 > b ? ay + 1 : b;
		}
	}
	if (a == SIZE_MAX) /* only zero rows: nothing to read */
		a = b = 0;
	*lo = a;
	*hi = b;
}

/* A band call's arguments fit the stream: win covers what the rows read. */
static imf_status band_check(const imf_conv_stream *s, const imf_image *win, size_t first,
                             const imf_image *out, size_t oy0, size_t n, imf_error *err)
{
	size_t lo, hi, ow, oh;
	int och, oa;

	imf_conv_stream_output(s, &ow, &oh, &och, &oa);
	imf_conv_stream_input_rows(s, oy0, n, &lo, &hi);
	if (oy0 > oh || n > oh - oy0 || !win || !out || win->width != s->g.iw ||
	    win->channels != s->g.ich || (hi > lo && (lo < first || hi - first > win->height)) ||
	    out->width != ow || out->channels != och || out->height < n)
		return imf_error_set(err, IMF_EINVAL, "convolution: band does not fit the stream");
	return IMF_OK;
}

imf_status imf_conv_stream_run(imf_conv_stream *s, const imf_image *win, size_t first,
                               imf_image *out, size_t oy0, size_t n, imf_error *err)
{
	window_ctx ctx = { win, first };
	imf_status st;

	if (n == 0)
		return IMF_OK;
	if ((st = band_check(s, win, first, out, oy0, n, err)) != IMF_OK)
		return st;
	run_split(s->ws, s->nw, window_fetch, &ctx, out, oy0, oy0, oy0 + n);
	return IMF_OK;
}

imf_status imf_conv_stream_run_part(imf_conv_stream *s, size_t slot, const imf_image *win,
                                    size_t first, imf_image *out, size_t oy0, size_t n,
                                    imf_error *err)
{
	window_ctx ctx = { win, first };
	imf_status st;

	if (n == 0)
		return IMF_OK;
	if (slot >= s->nw)
		return imf_error_set(err, IMF_EINVAL, "convolution: no thread slot %zu", slot);
	if ((st = band_check(s, win, first, out, oy0, n, err)) != IMF_OK)
		return st;
	conv_worker_run(s->ws[slot], window_fetch, &ctx, out, oy0, oy0, oy0 + n);
	return IMF_OK;
}

size_t conv_stream_group_rows(const imf_conv_stream *s, size_t k)
{
	size_t n = 0;
	for (size_t t = 0; t < s->nw; t++)
		n += conv_worker_group_rows(s->ws[t], k);
	return n;
}

size_t conv_stream_streamed_rows(const imf_conv_stream *s)
{
	size_t n = 0;
	for (size_t t = 0; t < s->nw; t++)
		n += conv_worker_streamed_rows(s->ws[t]);
	return n;
}

const char *imf_conv_stream_method(const imf_conv_stream *s)
{
	return s->method;
}
