/*
 * check_conv.c - the convolution engine (src/conv.c).
 *
 * Expected values come from the test itself, never from the engine: worked
 * examples checked by hand (the arithmetic is in the comments), and a naive
 * implementation below that pads the image the way NumPy's np.pad does
 * (chunk by chunk, mirroring the array built so far) and then sums
 * w * padded over every window.  Dilation is done the way it is usually
 * drawn, "a trous": the kernel is spread out with D-1 zeros between taps
 * into an E x E matrix (E = D(F-1)+1) that the plain naive sum then uses;
 * a multi-channel result is the sum of per-plane naive results plus the
 * bias.  None of it shares code with conv.c, whose border rules are modular
 * index formulas and whose dilation is an index step.  Both engine paths,
 * the fast imf_conv_run and the plain imf_conv_reference, are held to it.
 */
#include "testutil.h"

#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef imf_status (*conv_fn)(const imf_image *, const imf_kernel *, const imf_conv_params *,
                              imf_image **, imf_error *);

static const struct {
	const char *name;
	conv_fn fn;
} paths[] = {
	{"fast", imf_conv_run},
	{"reference", imf_conv_reference},
};
#define N_PATHS COUNT(paths)

/* ---- kernels built in place (no parser involved) ---------------------------- */

#define TK_MAX 64

#define TK_SLICES 4

typedef struct test_kernel {
	imf_kernel k;
	imf_matrix m[TK_SLICES];
	double w[TK_SLICES][TK_MAX];
} test_kernel;

static char empty_string[] = "";

/* A one-matrix kernel; t must not be copied afterwards (it points into itself). */
static void tk_init(test_kernel *t, size_t rows, size_t cols, const double *w, double scale)
{
	ck_assert_uint_le(rows * cols, TK_MAX);
	memset(t, 0, sizeof *t);
	t->k.name = empty_string;
	t->k.description = empty_string;
	t->k.combine = IMF_COMBINE_NONE;
	t->k.count = 1;
	t->k.m = t->m;
	t->m[0].rows = rows;
	t->m[0].cols = cols;
	t->m[0].w = t->w[0];
	t->m[0].scale = scale;
	memcpy(t->w[0], w, rows * cols * sizeof(double));
}

/* Make t the magnitude of its first matrix and this second one. */
static void tk_add_part(test_kernel *t, size_t rows, size_t cols, const double *w, double scale)
{
	ck_assert_uint_le(rows * cols, TK_MAX);
	t->k.combine = IMF_COMBINE_MAGNITUDE;
	t->k.count = 2;
	t->m[1].rows = rows;
	t->m[1].cols = cols;
	t->m[1].w = t->w[1];
	t->m[1].scale = scale;
	memcpy(t->w[1], w, rows * cols * sizeof(double));
}

/* Make t a multi-channel kernel: one more slice, the same size as the first. */
static void tk_add_slice(test_kernel *t, const double *w, double scale)
{
	size_t q = t->k.count;
	ck_assert_uint_lt(q, TK_SLICES);
	t->k.combine = IMF_COMBINE_NONE;
	t->k.count = q + 1;
	t->m[q] = t->m[0];
	t->m[q].w = t->w[q];
	t->m[q].scale = scale;
	memcpy(t->w[q], w, t->m[0].rows * t->m[0].cols * sizeof(double));
}

/* ---- the naive implementation ------------------------------------------------ */

/* v[k * step], the k-th element of a strided vector. */
#define AT(v, k) (v)[(k) * step]

/*
 * Pad a vector in place the way np.pad does.  The original n values sit at
 * before .. before+n-1 of a vector of before + n + after elements.  reflect
 * and symmetric mirror the part already built about its current end, at
 * most n-1 (reflect) or n (symmetric) elements at a time, so padding wider
 * than the vector repeats the pattern; wrap copies from one period inside.
 * A single sample under reflect is repeated (np.pad does the same).
 */
static void np_pad_1d(double *v, size_t step, size_t n, size_t before, size_t after,
                      imf_border mode)
{
	size_t total = before + n + after;
	size_t first = before, last = before + n - 1; /* the filled range */

	switch (mode) {
	case IMF_BORDER_ZERO:
		for (size_t k = 0; k < before; k++)
			AT(v, k) = 0;
		for (size_t k = last + 1; k < total; k++)
			AT(v, k) = 0;
		break;
	case IMF_BORDER_REPLICATE:
		for (size_t k = 0; k < before; k++)
			AT(v, k) = AT(v, first);
		for (size_t k = last + 1; k < total; k++)
			AT(v, k) = AT(v, last);
		break;
	case IMF_BORDER_WRAP:
		for (size_t k = before; k-- > 0;)
			AT(v, k) = AT(v, k + n);
		for (size_t k = last + 1; k < total; k++)
			AT(v, k) = AT(v, k - n);
		break;
	case IMF_BORDER_REFLECT:
		if (n == 1) {
			np_pad_1d(v, step, n, before, after, IMF_BORDER_REPLICATE);
			break;
		}
		while (first > 0) {
			size_t chunk = first < n - 1 ? first : n - 1;
			for (size_t t = 1; t <= chunk; t++)
				AT(v, first - t) = AT(v, first + t);
			first -= chunk;
		}
		while (last < total - 1) {
			size_t chunk = total - 1 - last < n - 1 ? total - 1 - last : n - 1;
			for (size_t t = 1; t <= chunk; t++)
				AT(v, last + t) = AT(v, last - t);
			last += chunk;
		}
		break;
	case IMF_BORDER_SYMMETRIC:
		while (first > 0) {
			size_t chunk = first < n ? first : n;
			for (size_t t = 1; t <= chunk; t++)
				AT(v, first - t) = AT(v, first + t - 1);
			first -= chunk;
		}
		while (last < total - 1) {
			size_t chunk = total - 1 - last < n ? total - 1 - last : n;
			for (size_t t = 1; t <= chunk; t++)
				AT(v, last + t) = AT(v, last - t + 1);
			last += chunk;
		}
		break;
	}
}

/* The padded image (ph x pw, row-major), axis 0 first as np.pad does. */
static double *np_pad_2d(const double *img, size_t w, size_t h, size_t top, size_t bottom,
                         size_t left, size_t right, imf_border mode, size_t *ph, size_t *pw)
{
	size_t H = top + h + bottom, W = left + w + right;
	double *p = calloc(H * W, sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			p[(top + y) * W + left + x] = img[y * w + x];
	for (size_t x = left; x < left + w; x++)
		np_pad_1d(p + x, W, h, top, bottom, mode);
	for (size_t y = 0; y < H; y++)
		np_pad_1d(p + y * W, 1, w, left, right, mode);
	*ph = H;
	*pw = W;
	return p;
}

/* Padding along an axis with kernel extent f, straight from the definitions. */
static void naive_padding(imf_pad_mode mode, size_t pad, size_t f, size_t *before, size_t *after)
{
	*before = *after = 0;
	switch (mode) {
	case IMF_PAD_SAME: /* PyTorch/MATLAB 'same': the extra cell of an even kernel goes after */
		*before = (f - 1) / 2;
		*after = f / 2;
		break;
	case IMF_PAD_VALID:
		*before = *after = 0;
		break;
	case IMF_PAD_FULL:
		*before = *after = f - 1;
		break;
	case IMF_PAD_EXPLICIT:
		*before = *after = pad;
		break;
	}
}

/* Window positions along an axis, counted one by one: y*s + f <= padded. */
static size_t count_windows(size_t padded, size_t f, size_t s)
{
	size_t n = 0;
	for (size_t y = 0; y * s + f <= padded; y++)
		n++;
	return n;
}

typedef struct naive_result {
	int valid; /* 0: the kernel does not fit in the padded input */
	size_t ow, oh;
	double *v; /* oh x ow */
} naive_result;

/*
 * scale * sum_ij w(i, j) * padded(y*s + i, x*s + j) over one plane, with w
 * rotated by 180 degrees when flip.  w is rows x cols, row-major.
 */
static naive_result naive_conv(const double *img, size_t w, size_t h, const double *k,
                               size_t rows, size_t cols, double scale, imf_pad_mode pmode,
                               size_t pad, size_t s, int flip, imf_border border);

/*
 * The kernel spread out for dilation d: w(i, j) moves to (i*d, j*d) of an
 * (d(rows-1)+1) x (d(cols-1)+1) matrix of zeros (malloc'd).
 */
static double *dilate_kernel(const double *k, size_t rows, size_t cols, size_t d, size_t *erows,
                             size_t *ecols)
{
	size_t er = d * (rows - 1) + 1, ec = d * (cols - 1) + 1;
	double *e = calloc(er * ec, sizeof *e);
	ck_assert_ptr_nonnull(e);
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < cols; j++)
			e[i * d * ec + j * d] = k[i * cols + j];
	*erows = er;
	*ecols = ec;
	return e;
}

/* Everything a naive convolution takes besides the image and the kernel. */
typedef struct naive_params {
	imf_pad_mode mode;
	size_t pad, stride, dilation;
	int flip;
	imf_border border;
	double bias;
} naive_params;

static naive_params naive_from(const imf_conv_params *p)
{
	naive_params n = {p->pad_mode, p->pad, p->stride, p->dilation, p->flip, p->border, p->bias};
	return n;
}

/* naive_conv with dilation (the spread-out kernel) and the bias added. */
static naive_result naive_conv_d(const double *img, size_t w, size_t h, const double *k,
                                 size_t rows, size_t cols, double scale, const naive_params *np)
{
	size_t er, ec;
	double *e = dilate_kernel(k, rows, cols, np->dilation, &er, &ec);
	naive_result r = naive_conv(img, w, h, e, er, ec, scale, np->mode, np->pad, np->stride,
	                            np->flip, np->border);
	for (size_t i = 0; r.valid && i < r.ow * r.oh; i++)
		r.v[i] += np->bias;
	free(e);
	return r;
}

/*
 * A multi-channel kernel: sum over c of scale * corr(plane c, slice c), plus
 * the bias once.  planes[c] and slices[c] are row-major.
 */
static naive_result naive_conv_3d(const double *const *planes, size_t w, size_t h,
                                  const double *const *slices, size_t depth, size_t rows,
                                  size_t cols, double scale, const naive_params *np)
{
	naive_params nb = *np;
	naive_result sum = {0, 0, 0, NULL};

	nb.bias = 0;
	for (size_t c = 0; c < depth; c++) {
		naive_result r = naive_conv_d(planes[c], w, h, slices[c], rows, cols, scale, &nb);
		if (!r.valid)
			return r;
		if (c == 0) {
			sum = r;
			continue;
		}
		for (size_t i = 0; i < r.ow * r.oh; i++)
			sum.v[i] += r.v[i];
		free(r.v);
	}
	for (size_t i = 0; i < sum.ow * sum.oh; i++)
		sum.v[i] += np->bias;
	return sum;
}

static naive_result naive_conv(const double *img, size_t w, size_t h, const double *k,
                               size_t rows, size_t cols, double scale, imf_pad_mode pmode,
                               size_t pad, size_t s, int flip, imf_border border)
{
	naive_result r = {0, 0, 0, NULL};
	size_t top, bottom, left, right, ph, pw;

	naive_padding(pmode, pad, rows, &top, &bottom);
	naive_padding(pmode, pad, cols, &left, &right);
	if (h + top + bottom < rows || w + left + right < cols)
		return r;
	double *p = np_pad_2d(img, w, h, top, bottom, left, right, border, &ph, &pw);
	r.valid = 1;
	r.oh = count_windows(ph, rows, s);
	r.ow = count_windows(pw, cols, s);
	r.v = calloc(r.oh * r.ow, sizeof *r.v);
	ck_assert_ptr_nonnull(r.v);
	for (size_t y = 0; y < r.oh; y++) {
		for (size_t x = 0; x < r.ow; x++) {
			double sum = 0;
			for (size_t i = 0; i < rows; i++) {
				for (size_t j = 0; j < cols; j++) {
					double wt = flip ? k[(rows - 1 - i) * cols + (cols - 1 - j)]
					                 : k[i * cols + j];
					sum += wt * p[(y * s + i) * pw + x * s + j];
				}
			}
			r.v[y * r.ow + x] = scale * sum;
		}
	}
	free(p);
	return r;
}

/* ---- helpers ------------------------------------------------------------------- */

static imf_image *image_new(size_t w, size_t h, int channels, int has_alpha)
{
	imf_image *img = NULL;
	imf_error err = {0};
	ck_assert_int_eq(imf_image_new(w, h, channels, has_alpha, NULL, &img, &err), IMF_OK);
	return img;
}

/* Plane c of img as a row-major array of doubles (malloc'd). */
static double *plane_values(const imf_image *img, int c)
{
	size_t w = imf_image_width(img), h = imf_image_height(img);
	double *v = malloc(w * h * sizeof *v);
	ck_assert_ptr_nonnull(v);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			v[y * w + x] = imf_image_row_const(img, c, y)[x];
	return v;
}

static void fill_plane(imf_image *img, int c, const double *v)
{
	size_t w = imf_image_width(img), h = imf_image_height(img);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			imf_image_row(img, c, y)[x] = (float)v[y * w + x];
}

static int close_enough(double got, double want)
{
	double tol = 1e-4 * (fabs(want) > 1 ? fabs(want) : 1);
	return fabs(got - want) <= tol;
}

/* Plane c of img equals want (oh x ow): exactly, or within 1e-4 relative/absolute. */
static void assert_plane(const imf_image *img, int c, const double *want, size_t ow, size_t oh,
                         int exact, const char *what)
{
	ck_assert_msg(imf_image_width(img) == ow && imf_image_height(img) == oh,
	              "%s: output is %zux%zu, expected %zux%zu", what, imf_image_width(img),
	              imf_image_height(img), ow, oh);
	for (size_t y = 0; y < oh; y++) {
		const float *row = imf_image_row_const(img, c, y);
		for (size_t x = 0; x < ow; x++) {
			double got = row[x], exp = want[y * ow + x];
			int ok = exact ? got == exp : close_enough(got, exp);
			/* Check records every passing ck_assert: keep hot loops to failures. */
			if (!ok)
				ck_abort_msg(
				        "%s: plane %d at (y %zu, x %zu): got %.9g, expected %.9g",
				        what, c, y, x, got, exp);
		}
	}
}

static void params(imf_conv_params *p, imf_pad_mode mode, size_t pad, size_t stride,
                   imf_border border, int flip)
{
	imf_conv_params_default(p);
	p->pad_mode = mode;
	p->pad = pad;
	p->stride = stride;
	p->border = border;
	p->flip = flip;
}

/* Run both paths on a one-plane image and compare each with want. */
static void check_both(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                       const double *want, size_t ow, size_t oh, int exact, const char *what)
{
	for (size_t i = 0; i < N_PATHS; i++) {
		imf_image *out = NULL;
		imf_error err = {0};
		char label[256];
		snprintf(label, sizeof label, "%s (%s path)", what, paths[i].name);
		ck_assert_msg(paths[i].fn(in, k, p, &out, &err) == IMF_OK, "%s: %s", label,
		              err.msg);
		assert_plane(out, 0, want, ow, oh, exact, label);
		imf_image_free(out);
	}
}

/* check_both when the naive result exists, else both paths must refuse. */
static void check_case(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                       const naive_result *n, int exact, const char *what)
{
	if (n->valid) {
		check_both(in, k, p, n->v, n->ow, n->oh, exact, what);
		return;
	}
	for (size_t i = 0; i < N_PATHS; i++) {
		imf_image *out = NULL;
		imf_error err = {0};
		ck_assert_msg(paths[i].fn(in, k, p, &out, &err) == IMF_EINVAL,
		              "%s (%s path): accepted a kernel larger than the input", what,
		              paths[i].name);
		ck_assert_ptr_null(out);
	}
}

/* ---- worked examples ------------------------------------------------------------- */

static const double binary5[25] = {
	1, 1, 1, 0, 0,
	0, 1, 1, 1, 0,
	0, 0, 1, 1, 1,
	0, 0, 1, 1, 0,
	0, 1, 1, 0, 0,
};

static const double x_kernel[9] = {1, 0, 1, 0, 1, 0, 1, 0, 1};

START_TEST(test_binary_valid)
{
	/*
	 * Top-left window rows (1 1 1; 0 1 1; 0 0 1): corners 1+1+0+1 plus the
	 * centre 1 = 4.  The middle window (1 1 1; 0 1 1; 0 1 1): corners
	 * 1+1+0+1 + centre 1 = 4.
	 */
	static const double want[9] = {4, 3, 4, 2, 4, 3, 2, 3, 4};
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(binary5, 5, 5);

	tk_init(&t, 3, 3, x_kernel, 1);
	params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
	check_both(in, &t.k, &p, want, 3, 3, 1, "binary VALID");
	imf_image_free(in);
}
END_TEST

static const double photo5[25] = {
	60, 113, 56, 139, 85,
	73, 121, 54, 84, 128,
	131, 99, 70, 129, 127,
	80, 57, 115, 69, 134,
	104, 126, 123, 95, 130,
};

static const double sharpen[9] = {0, -1, 0, -1, 5, -1, 0, -1, 0};

START_TEST(test_sharpen_zero_pad)
{
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(photo5, 5, 5);
	naive_result n = naive_conv(photo5, 5, 5, sharpen, 3, 3, 1, IMF_PAD_EXPLICIT, 1, 1, 0,
	                            IMF_BORDER_ZERO);

	tk_init(&t, 3, 3, sharpen, 1);
	params(&p, IMF_PAD_EXPLICIT, 1, 1, IMF_BORDER_ZERO, 0);
	/* By hand: (0,0) = 5*60 - 113 - 73 - 0 - 0 = 114;
	 *          (0,1) = 5*113 - 60 - 56 - 121 - 0 = 328;
	 *          (2,2) = 5*70 - 54 - 99 - 129 - 115 = -47. */
	ck_assert(n.valid && n.ow == 5 && n.oh == 5);
	ck_assert(n.v[0] == 114 && n.v[1] == 328 && n.v[12] == -47);
	check_both(in, &t.k, &p, n.v, 5, 5, 1, "sharpen pad 1");

	/* SAME is the same padding for a 3x3 kernel. */
	params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_ZERO, 0);
	check_both(in, &t.k, &p, n.v, 5, 5, 1, "sharpen SAME");
	free(n.v);
	imf_image_free(in);
}
END_TEST

START_TEST(test_sharpen_stride2)
{
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(photo5, 5, 5);
	naive_result n = naive_conv(photo5, 5, 5, sharpen, 3, 3, 1, IMF_PAD_EXPLICIT, 1, 2, 0,
	                            IMF_BORDER_ZERO);

	tk_init(&t, 3, 3, sharpen, 1);
	params(&p, IMF_PAD_EXPLICIT, 1, 2, IMF_BORDER_ZERO, 0);
	/* floor((5 - 3 + 2*1) / 2) + 1 = 3.  Windows centred on input rows and
	 * columns 0, 2, 4: (0,1) is centred on (0,2): 5*56 - 113 - 139 - 54 = -26;
	 * (1,1) on (2,2): -47 as above; (2,2) on (4,4): 5*130 - 95 - 134 = 421. */
	ck_assert(n.valid && n.ow == 3 && n.oh == 3);
	ck_assert(n.v[0] == 114 && n.v[1] == -26 && n.v[4] == -47 && n.v[8] == 421);
	check_both(in, &t.k, &p, n.v, 3, 3, 1, "sharpen stride 2");
	free(n.v);
	imf_image_free(in);
}
END_TEST

/* A stride past the image leaves the first window only: the top-left 114. */
START_TEST(test_huge_stride)
{
	static const double want[1] = {114};
	size_t got = 0;
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(photo5, 5, 5);

	ck_assert_int_eq(imf_conv_output_size(5, 3, 1, 1, SIZE_MAX, &got, NULL), IMF_OK);
	ck_assert_uint_eq(got, 1);
	tk_init(&t, 3, 3, sharpen, 1);
	params(&p, IMF_PAD_SAME, 0, SIZE_MAX, IMF_BORDER_ZERO, 0);
	check_both(in, &t.k, &p, want, 1, 1, 1, "stride SIZE_MAX");
	p.stride = 5;
	check_both(in, &t.k, &p, want, 1, 1, 1, "stride 5");
	imf_image_free(in);
}
END_TEST

/* The same example through the kernel parser, as the command line does it. */
START_TEST(test_parsed_kernel)
{
	imf_kernel *k = NULL;
	imf_image *in = tu_image_from(photo5, 5, 5), *out = NULL;
	imf_error err = {0};
	imf_conv_params p;

	ck_assert_msg(imf_kernel_parse("0 -1 0; -1 5 -1; 0 -1 0", &k, &err) == IMF_OK, "%s",
	              err.msg);
	imf_conv_params_default(&p);
	ck_assert_int_eq(imf_conv_run(in, k, &p, &out, &err), IMF_OK);
	ck_assert(imf_image_row_const(out, 0, 0)[0] == 114.0f);
	ck_assert(imf_image_row_const(out, 0, 2)[2] == -47.0f);
	imf_image_free(out);
	imf_kernel_free(k);
	imf_image_free(in);
}
END_TEST

START_TEST(test_flip)
{
	/* An impulse shows the kernel: correlation shows it reversed,
	 * convolution (flip) as written. */
	static const double impulse[5] = {0, 0, 1, 0, 0};
	static const double k[3] = {1, 2, 3};
	static const double corr[5] = {0, 3, 2, 1, 0}, conv[5] = {0, 1, 2, 3, 0};
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(impulse, 5, 1);

	tk_init(&t, 1, 3, k, 1);
	params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_ZERO, 0);
	check_both(in, &t.k, &p, corr, 5, 1, 1, "correlation");
	p.flip = 1;
	check_both(in, &t.k, &p, conv, 5, 1, 1, "convolution");
	imf_image_free(in);
}
END_TEST

/*
 * Dilation 2 on photo5 with the kernel 1 2 3; 4 5 6; 7 8 9: the taps sit on
 * rows and columns 0, 2, 4, so the one VALID output (extent 5 = the image)
 * takes the four corners, the four edge centres and the centre:
 *   1*60 + 2*56 + 3*85 + 4*131 + 5*70 + 6*127 + 7*104 + 8*123 + 9*130
 *   = 60 + 112 + 255 + 524 + 350 + 762 + 728 + 984 + 1170 = 4945.
 * Flipped, the weights run 9..1 over the same samples:
 *   540 + 448 + 595 + 786 + 350 + 508 + 312 + 246 + 130 = 3915.
 * SAME pads floor((5-1)/2) = 2 each side; output (0, 0) then has real
 * samples under the taps w(1,1), w(1,2), w(2,1), w(2,2) only:
 *   5*60 + 6*56 + 8*131 + 9*70 = 300 + 336 + 1048 + 630 = 2314.
 */
START_TEST(test_dilation_example)
{
	static const double k9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	static const double valid[1] = {4945}, valid_bias[1] = {4945.5}, flipped[1] = {3915};
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(photo5, 5, 5);

	tk_init(&t, 3, 3, k9, 1);
	params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
	p.dilation = 2;
	check_both(in, &t.k, &p, valid, 1, 1, 1, "dilation 2, valid");
	p.bias = 0.5;
	check_both(in, &t.k, &p, valid_bias, 1, 1, 1, "dilation 2, valid, bias 0.5");
	p.bias = 0;
	p.flip = 1;
	check_both(in, &t.k, &p, flipped, 1, 1, 1, "dilation 2, valid, flipped");

	/* SAME: 5x5, the corner as above, the rest from the naive version. */
	params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_ZERO, 0);
	p.dilation = 2;
	naive_params np = naive_from(&p);
	naive_result n = naive_conv_d(photo5, 5, 5, k9, 3, 3, 1, &np);
	ck_assert(n.valid && n.ow == 5 && n.oh == 5);
	ck_assert(n.v[0] == 2314 && n.v[12] == 4945);
	check_both(in, &t.k, &p, n.v, 5, 5, 1, "dilation 2, same");
	free(n.v);

	/* Stride 2: 3x3 windows centred on rows/columns 0, 2, 4; the middle one is 4945. */
	p.stride = 2;
	np = naive_from(&p);
	n = naive_conv_d(photo5, 5, 5, k9, 3, 3, 1, &np);
	ck_assert(n.valid && n.ow == 3 && n.oh == 3);
	ck_assert(n.v[0] == 2314 && n.v[4] == 4945);
	check_both(in, &t.k, &p, n.v, 3, 3, 1, "dilation 2, same, stride 2");
	free(n.v);
	imf_image_free(in);
}
END_TEST

/* ---- geometry --------------------------------------------------------------------- */

START_TEST(test_defaults)
{
	imf_conv_params p;
	memset(&p, 0xff, sizeof p);
	imf_conv_params_default(&p);
	ck_assert_int_eq(p.pad_mode, IMF_PAD_SAME);
	ck_assert_uint_eq(p.stride, 1);
	ck_assert_int_eq(p.border, IMF_BORDER_ZERO);
	ck_assert_int_eq(p.flip, 0);
	ck_assert_uint_eq(p.dilation, 1);
	ck_assert(p.bias == 0);
}
END_TEST

START_TEST(test_padding)
{
	static const struct {
		imf_pad_mode mode;
		size_t pad, f, before, after;
	} cases[] = {
		{IMF_PAD_SAME, 0, 1, 0, 0},     {IMF_PAD_SAME, 0, 2, 0, 1},
		{IMF_PAD_SAME, 0, 3, 1, 1},     {IMF_PAD_SAME, 0, 4, 1, 2},
		{IMF_PAD_SAME, 0, 5, 2, 2},     {IMF_PAD_SAME, 0, 6, 2, 3},
		{IMF_PAD_SAME, 7, 7, 3, 3},     {IMF_PAD_VALID, 3, 5, 0, 0},
		{IMF_PAD_FULL, 0, 1, 0, 0},     {IMF_PAD_FULL, 0, 4, 3, 3},
		{IMF_PAD_FULL, 9, 7, 6, 6},     {IMF_PAD_EXPLICIT, 0, 3, 0, 0},
		{IMF_PAD_EXPLICIT, 2, 3, 2, 2}, {IMF_PAD_EXPLICIT, 9, 2, 9, 9},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_conv_params p;
		size_t b = 99, a = 99;
		params(&p, cases[i].mode, cases[i].pad, 1, IMF_BORDER_ZERO, 0);
		imf_conv_padding(&p, cases[i].f, &b, &a);
		ck_assert_msg(b == cases[i].before && a == cases[i].after,
		              "case %zu: padding %zu/%zu, expected %zu/%zu", i, b, a,
		              cases[i].before, cases[i].after);
	}
}
END_TEST

START_TEST(test_output_size_table)
{
	static const struct {
		size_t m, f, p, s;
	} cases[] = {
		{5, 3, 0, 1},  {5, 3, 1, 1},   {5, 3, 1, 2},   {5, 5, 0, 1},  {7, 4, 0, 1},
		{7, 4, 2, 3},  {6, 2, 0, 2},   {3, 5, 1, 1},   {2, 3, 9, 1},  {2, 3, 9, 4},
		{4, 2, 0, 5},  {1, 1, 0, 1},   {1, 1, 0, 7},   {10, 6, 3, 4}, {224, 7, 3, 2},
		{224, 3, 1, 1}, {227, 11, 0, 4}, {32, 5, 2, 3}, {1, 4, 2, 1}, {9, 1, 4, 2},
		{3, 5, 0, 1},  {1, 2, 0, 1},   {4, 9, 2, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long long m = (long long)cases[i].m, f = (long long)cases[i].f;
		long long pad = (long long)cases[i].p, s = (long long)cases[i].s;
		size_t got = 12345;
		imf_error err = {0};
		imf_status st = imf_conv_output_size(cases[i].m, cases[i].f, cases[i].p, cases[i].p,
		                                     cases[i].s, &got, &err);
		if (m + 2 * pad < f) {
			ck_assert_msg(st == IMF_EINVAL, "case %zu: no error", i);
			continue;
		}
		/* floor((M - F + 2P) / S) + 1, numerator >= 0 here */
		long long want = (m - f + 2 * pad) / s + 1;
		ck_assert_msg(st == IMF_OK, "case %zu: %s", i, err.msg);
		ck_assert_msg((long long)got == want, "case %zu: %zu, expected %lld", i, got, want);
		ck_assert_uint_eq(got, count_windows(cases[i].m + 2 * cases[i].p, cases[i].f,
		                                     cases[i].s));
	}
}
END_TEST

START_TEST(test_output_size_same)
{
	/* SAME keeps the size at stride 1 and gives ceil(M / S) at stride S. */
	for (size_t m = 1; m <= 20; m++) {
		for (size_t f = 1; f <= 8; f++) {
			for (size_t s = 1; s <= 4; s++) {
				imf_conv_params p;
				size_t b, a, got = 0;
				imf_error err = {0};
				params(&p, IMF_PAD_SAME, 0, s, IMF_BORDER_ZERO, 0);
				imf_conv_padding(&p, f, &b, &a);
				ck_assert_int_eq(imf_conv_output_size(m, f, b, a, s, &got, &err),
				                 IMF_OK);
				ck_assert_uint_eq(got, (m + s - 1) / s);
			}
		}
	}
}
END_TEST

/*
 * Output sizes with dilation: imf_conv_output_size takes the extent
 * D(F-1)+1, and both engine paths produce that size on an M x M image.
 * The expectation is PyTorch's formula, computed here in signed arithmetic.
 */
START_TEST(test_output_size_dilation)
{
	static const struct {
		size_t m, f, d, p, s;
	} cases[] = {
		{5, 3, 2, 0, 1},  {5, 3, 2, 2, 1},  {5, 3, 3, 0, 1},  {5, 3, 3, 1, 1},
		{7, 3, 2, 0, 2},  {7, 3, 3, 3, 2},  {9, 2, 4, 0, 1},  {9, 2, 4, 1, 3},
		{10, 4, 2, 3, 2}, {6, 5, 2, 0, 1},  {6, 5, 2, 2, 1},  {6, 5, 2, 1, 1},
		{1, 3, 2, 2, 1},  {1, 3, 2, 1, 1},  {2, 2, 3, 1, 1},  {32, 3, 2, 2, 1},
		{32, 3, 4, 4, 2}, {28, 5, 3, 6, 3}, {13, 1, 9, 0, 2}, {4, 3, 5, 0, 1},
		{16, 7, 2, 6, 1}, {16, 7, 3, 0, 1}, {20, 2, 7, 3, 4}, {3, 2, 1, 0, 1},
		{8, 4, 3, 0, 1},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		const long long m = (long long)cases[i].m, f = (long long)cases[i].f;
		const long long d = (long long)cases[i].d, pad = (long long)cases[i].p;
		const long long s = (long long)cases[i].s;
		const long long num = m + 2 * pad - d * (f - 1) - 1;
		const size_t e = cases[i].d * (cases[i].f - 1) + 1;
		size_t got = 12345;
		imf_error err = {0};
		imf_status st = imf_conv_output_size(cases[i].m, e, cases[i].p, cases[i].p,
		                                     cases[i].s, &got, &err);
		double ones[TK_MAX];
		test_kernel t;
		imf_conv_params p;
		imf_image *in = image_new(cases[i].m, cases[i].m, 1, 0);

		for (size_t j = 0; j < TK_MAX; j++)
			ones[j] = 1;
		tk_init(&t, cases[i].f, cases[i].f, ones, 1);
		params(&p, IMF_PAD_EXPLICIT, cases[i].p, cases[i].s, IMF_BORDER_ZERO, 0);
		p.dilation = cases[i].d;
		if (num < 0) {
			ck_assert_msg(st == IMF_EINVAL, "case %zu: no error", i);
			for (size_t pi = 0; pi < N_PATHS; pi++) {
				imf_image *out = NULL;
				ck_assert_int_eq(paths[pi].fn(in, &t.k, &p, &out, &err),
				                 IMF_EINVAL);
				ck_assert_ptr_null(out);
			}
			imf_image_free(in);
			continue;
		}
		/* floor((M + 2P - D(F-1) - 1) / S) + 1, numerator >= 0 here */
		const long long want = num / s + 1;
		ck_assert_msg(st == IMF_OK, "case %zu: %s", i, err.msg);
		ck_assert_msg((long long)got == want, "case %zu: %zu, expected %lld", i, got, want);
		for (size_t pi = 0; pi < N_PATHS; pi++) {
			imf_image *out = NULL;
			ck_assert_msg(paths[pi].fn(in, &t.k, &p, &out, &err) == IMF_OK,
			              "case %zu: %s", i, err.msg);
			ck_assert_msg((long long)imf_image_width(out) == want &&
			                      (long long)imf_image_height(out) == want,
			              "case %zu (%s path): %zux%zu, expected %lldx%lld", i,
			              paths[pi].name, imf_image_width(out), imf_image_height(out),
			              want, want);
			imf_image_free(out);
		}
		imf_image_free(in);
	}
}
END_TEST

/* One case of test_padding_dilation: a 1 x f kernel along a row of m. */
static void check_pad_dilation(size_t m, size_t f, size_t d, size_t s, imf_pad_mode mode)
{
	static const double ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	const size_t e = d * (f - 1) + 1;
	const int same = mode == IMF_PAD_SAME;
	const size_t wb = same ? (e - 1) / 2 : e - 1;
	const size_t wa = same ? e - 1 - (e - 1) / 2 : e - 1;
	const size_t want = same ? (m + s - 1) / s : (m + e - 2) / s + 1;
	size_t b = 99, a = 99, got = 0;
	imf_error err = {0};
	imf_conv_params p;
	test_kernel t;
	imf_image *in = image_new(m, 1, 1, 0);

	tk_init(&t, 1, f, ones, 1);
	params(&p, mode, 0, s, IMF_BORDER_ZERO, 0);
	p.dilation = d;
	imf_conv_padding(&p, e, &b, &a);
	ck_assert_msg(b == wb && a == wa, "F %zu D %zu: padding %zu/%zu, expected %zu/%zu", f, d, b,
	              a, wb, wa);
	ck_assert_int_eq(imf_conv_output_size(m, e, b, a, s, &got, &err), IMF_OK);
	ck_assert_uint_eq(got, want);
	for (size_t pi = 0; pi < N_PATHS; pi++) {
		imf_image *out = NULL;
		ck_assert_msg(paths[pi].fn(in, &t.k, &p, &out, &err) == IMF_OK, "%s", err.msg);
		ck_assert_msg(imf_image_width(out) == want && imf_image_height(out) == 1,
		              "M %zu F %zu D %zu S %zu %s: %zux%zu, expected %zux1", m, f, d, s,
		              same ? "same" : "full", imf_image_width(out), imf_image_height(out),
		              want);
		imf_image_free(out);
	}
	imf_image_free(in);
}

/*
 * same and full with dilation: same pads floor((E-1)/2) before and the rest
 * after, keeping ceil(M / S); full pads E-1 on each side, giving
 * floor((M + 2(E-1) - E) / S) + 1 = floor((M + E - 2) / S) + 1.  Checked on
 * the padding, the size formula and both engine paths.
 */
START_TEST(test_padding_dilation)
{
	for (size_t f = 1; f <= 5; f++)
		for (size_t d = 1; d <= 4; d++)
			for (size_t m = 1; m <= 12; m++)
				for (size_t s = 1; s <= 3; s++) {
					check_pad_dilation(m, f, d, s, IMF_PAD_SAME);
					check_pad_dilation(m, f, d, s, IMF_PAD_FULL);
				}
}
END_TEST

START_TEST(test_output_size_errors)
{
	size_t got = 777;
	imf_error err = {0};

	ck_assert_int_eq(imf_conv_output_size(3, 5, 0, 0, 1, &got, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "kernel size 5 is larger than the padded input size 3");
	ck_assert_uint_eq(got, 777);
	ck_assert_int_eq(imf_conv_output_size(3, 5, 1, 0, 1, &got, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_conv_output_size(3, 5, 1, 1, 1, &got, &err), IMF_OK);
	ck_assert_uint_eq(got, 1);

	ck_assert_int_eq(imf_conv_output_size(5, 3, 1, 1, 0, &got, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "stride must be at least 1");
	ck_assert_int_eq(err.code, IMF_EINVAL);

	ck_assert_int_eq(imf_conv_output_size(SIZE_MAX, 1, 1, 0, 1, &got, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_conv_output_size(10, 1, SIZE_MAX - 5, 0, 1, &got, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_conv_output_size(10, 1, SIZE_MAX / 2, SIZE_MAX / 2, 1, &got, &err),
	                 IMF_EINVAL);
}
END_TEST

START_TEST(test_run_errors)
{
	static const double ones[25] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	test_kernel t;
	imf_conv_params p;
	imf_image *in = tu_image_from(ones, 3, 3);

	for (size_t i = 0; i < N_PATHS; i++) {
		imf_image *out = (imf_image *)&t; /* must be reset to NULL */
		imf_error err = {0};

		tk_init(&t, 5, 5, ones, 1);
		params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "kernel 5x5 is larger than the padded input 3x3");
		ck_assert_ptr_null(out);

		/* Rectangular: width x height, as every size imfilter prints. */
		tk_init(&t, 2, 4, ones, 1);
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "kernel 4x2 is larger than the padded input 3x3");
		p.pad_mode = IMF_PAD_EXPLICIT;
		p.pad = 1;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_OK);
		ck_assert_uint_eq(imf_image_width(out), 2);
		ck_assert_uint_eq(imf_image_height(out), 4);
		imf_image_free(out);

		p.stride = 0;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "stride must be at least 1");
		ck_assert_ptr_null(out);

		/* Parts of a compound kernel must agree in size. */
		params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_ZERO, 0);
		tk_init(&t, 3, 3, ones, 1);
		tk_add_part(&t, 3, 2, ones, 1);
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_ptr_null(out);

		/* Huge explicit padding is refused, not wrapped around. */
		tk_init(&t, 1, 1, ones, 1);
		params(&p, IMF_PAD_EXPLICIT, SIZE_MAX / 2, 1, IMF_BORDER_ZERO, 0);
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_ptr_null(out);
	}
	imf_image_free(in);
}
END_TEST

START_TEST(test_run_errors_dilation)
{
	static const double ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	double four[16];
	test_kernel t;
	imf_conv_params p;

	for (size_t i = 0; i < 16; i++)
		four[i] = 1;
	imf_image *in = tu_image_from(four, 4, 4);
	tk_init(&t, 3, 3, ones, 1);
	for (size_t i = 0; i < N_PATHS; i++) {
		imf_image *out = (imf_image *)&t; /* must be reset to NULL */
		imf_error err = {0};

		params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
		p.dilation = 0;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "dilation must be at least 1");
		ck_assert_ptr_null(out);

		/* 3 taps 2 apart span 5 > 4. */
		p.dilation = 2;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "kernel 3x3 with dilation 2 (extent 5x5) is larger than "
		                          "the padded input 4x4");
		ck_assert_ptr_null(out);
		/* One cell of padding makes room: (4 + 2 - 5) / 1 + 1 = 2. */
		p.pad_mode = IMF_PAD_EXPLICIT;
		p.pad = 1;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_OK);
		ck_assert_uint_eq(imf_image_width(out), 2);
		ck_assert_uint_eq(imf_image_height(out), 2);
		imf_image_free(out);

		/* A 2x3 kernel (3 wide, 2 tall) with dilation 3: extent 7x4. */
		tk_init(&t, 2, 3, ones, 1);
		params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
		p.dilation = 3;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "kernel 3x2 with dilation 3 (extent 7x4) is larger than "
		                          "the padded input 4x4");

		/* An extent past size_t is refused, not wrapped around: 2 * D overflows. */
		p.dilation = SIZE_MAX / 2 + 1;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		{
			char want[120];
			snprintf(want, sizeof want, "dilation %zu is too large for a 3x2 kernel",
			         (size_t)(SIZE_MAX / 2 + 1));
			ck_assert_str_eq(err.msg, want);
		}
		ck_assert_ptr_null(out);
		/* Same padding with a huge (but representable) extent. */
		tk_init(&t, 3, 3, ones, 1);
		params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_ZERO, 0);
		p.dilation = SIZE_MAX / 4;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_ptr_null(out);

		/* The bias must be a number. */
		params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_ZERO, 0);
		p.bias = NAN;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "bias must be a finite number");
		p.bias = -INFINITY;
		ck_assert_int_eq(paths[i].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
		ck_assert_ptr_null(out);
	}
	imf_image_free(in);
}
END_TEST

/* ---- borders ---------------------------------------------------------------------- */

START_TEST(test_border_examples)
{
	/* np.pad([1, 2, 3, 4], 2, mode) for each mode. */
	static const struct {
		imf_border border;
		double padded[8];
	} cases[] = {
		{IMF_BORDER_ZERO, {0, 0, 1, 2, 3, 4, 0, 0}},
		{IMF_BORDER_REPLICATE, {1, 1, 1, 2, 3, 4, 4, 4}},
		{IMF_BORDER_REFLECT, {3, 2, 1, 2, 3, 4, 3, 2}},
		{IMF_BORDER_SYMMETRIC, {2, 1, 1, 2, 3, 4, 4, 3}},
		{IMF_BORDER_WRAP, {3, 4, 1, 2, 3, 4, 1, 2}},
	};
	static const double row[4] = {1, 2, 3, 4};
	imf_image *in = tu_image_from(row, 4, 1);

	for (size_t c = 0; c < COUNT(cases); c++) {
		for (size_t tap = 0; tap < 5; tap++) {
			/* A 1x5 kernel with a single 1 at tap: out(y, x) = padded(y, x + tap). */
			double k[5] = {0, 0, 0, 0, 0}, want[5 * 4];
			test_kernel t;
			imf_conv_params p;
			char what[80];

			k[tap] = 1;
			tk_init(&t, 1, 5, k, 1);
			params(&p, IMF_PAD_EXPLICIT, 2, 1, cases[c].border, 0);
			/* 4 + 2 + 2 - 5 + 1 = 4 wide; the one row padded by 2 is 5 tall.
			 * Vertically a 1-row image: zero above and below, or the row. */
			for (size_t y = 0; y < 5; y++)
				for (size_t x = 0; x < 4; x++)
					want[y * 4 + x] =
					        cases[c].border == IMF_BORDER_ZERO && y != 2
					                ? 0
					                : cases[c].padded[x + tap];
			snprintf(what, sizeof what, "%s, tap %zu", imf_border_name(cases[c].border),
			         tap);
			check_both(in, &t.k, &p, want, 4, 5, 1, what);
		}
	}
	imf_image_free(in);
}
END_TEST

/* Wider than the image: np.pad([1, 2, 3], 7, mode), written out. */
START_TEST(test_border_wide)
{
	static const struct {
		imf_border border;
		double padded[17];
	} cases[] = {
		{IMF_BORDER_REFLECT, {2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2}},
		{IMF_BORDER_SYMMETRIC, {1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3, 3}},
		{IMF_BORDER_WRAP, {3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}},
		{IMF_BORDER_REPLICATE, {1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3}},
	};
	static const double row[3] = {1, 2, 3};
	static const double one[1] = {1};
	imf_image *in = tu_image_from(row, 3, 1);
	test_kernel t;

	tk_init(&t, 1, 1, one, 1);
	for (size_t c = 0; c < COUNT(cases); c++) {
		imf_conv_params p;
		double v[17], want[15 * 17];

		/* The test's own np.pad agrees with the written-out rows. */
		memcpy(v + 7, row, sizeof row);
		np_pad_1d(v, 1, 3, 7, 7, cases[c].border);
		for (size_t x = 0; x < 17; x++)
			ck_assert(v[x] == cases[c].padded[x]);
		/* A 1x1 identity kernel shows the padded image: 15 copies of the row. */
		for (size_t y = 0; y < 15; y++)
			memcpy(want + y * 17, cases[c].padded, sizeof cases[c].padded);
		params(&p, IMF_PAD_EXPLICIT, 7, 1, cases[c].border, 0);
		check_both(in, &t.k, &p, want, 17, 15, 1, imf_border_name(cases[c].border));
	}
	imf_image_free(in);
}
END_TEST

/* ---- random cases against the naive implementation ------------------------------- */

static const size_t rand_sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 2}, {5, 5}, {13, 9}, {31, 17}};
static const size_t rand_kernels[][2] = {
	{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}, {7, 7},
	{2, 3}, {3, 2}, {4, 1}, {1, 6}, {7, 2},
};
static const struct {
	imf_pad_mode mode;
	size_t pad;
} rand_pads[] = {
	{IMF_PAD_SAME, 0},     {IMF_PAD_VALID, 0},    {IMF_PAD_FULL, 0},     {IMF_PAD_EXPLICIT, 0},
	{IMF_PAD_EXPLICIT, 1}, {IMF_PAD_EXPLICIT, 2}, {IMF_PAD_EXPLICIT, 3}, {IMF_PAD_EXPLICIT, 9},
};
#define RAND_STRIDES 3
#define RAND_DILATIONS 3
/* Every size x kernel x padding x stride 1..3 x flip off/on x dilation 1..3. */
#define RAND_CASES                                                                         \
	(COUNT(rand_sizes) * COUNT(rand_kernels) * COUNT(rand_pads) * RAND_STRIDES * 2 *    \
	 RAND_DILATIONS)

typedef struct rand_case {
	size_t w, h, rows, cols;
	imf_conv_params p;
	int integer; /* integer data and weights: results must be exact */
	char what[200];
} rand_case;

/* Case number idx of the table above, for one border. */
static void rand_case_get(size_t idx, imf_border border, rand_case *rc)
{
	size_t r = idx;
	const size_t si = r % COUNT(rand_sizes);
	r /= COUNT(rand_sizes);
	const size_t ki = r % COUNT(rand_kernels);
	r /= COUNT(rand_kernels);
	const size_t pi = r % COUNT(rand_pads);
	r /= COUNT(rand_pads);
	const size_t stride = r % RAND_STRIDES + 1;
	r /= RAND_STRIDES;
	const int flip = (int)(r % 2);
	r /= 2;
	const size_t dilation = r % RAND_DILATIONS + 1;

	rc->w = rand_sizes[si][0];
	rc->h = rand_sizes[si][1];
	rc->rows = rand_kernels[ki][0];
	rc->cols = rand_kernels[ki][1];
	rc->integer = idx % 2 == 0;
	params(&rc->p, rand_pads[pi].mode, rand_pads[pi].pad, stride, border, flip);
	rc->p.dilation = dilation;
	/* An integer bias keeps integer cases exact; real cases get a fraction. */
	rc->p.bias = rc->integer ? (double)(idx / 2 % 7) - 3 : ((double)(idx % 5) - 2) * 0.731;
	snprintf(rc->what, sizeof rc->what,
	         "case %zu, %s: image %zux%zu, kernel %zux%zu, pad mode %d/%zu, stride %zu, "
	         "flip %d, dilation %zu, bias %g",
	         idx, imf_border_name(border), rc->w, rc->h, rc->cols, rc->rows,
	         (int)rc->p.pad_mode, rc->p.pad, stride, flip, dilation, rc->p.bias);
}

/* A random value: an 8-bit sample, or a real one in lo .. lo + span. */
static double rand_value(unsigned long long *rng, int integer, double lo, double span)
{
	return integer ? floor(tu_rand(rng) * 256) : lo + tu_rand(rng) * span;
}

/* A random weight: an integer in -m .. m, or a real one in -1 .. 1. */
static double rand_weight(unsigned long long *rng, int integer, int m)
{
	return integer ? floor(tu_rand(rng) * (2 * m + 1)) - m : tu_rand(rng) * 2 - 1;
}

/*
 * Every case of the table for one border (the loop index): both engine
 * paths against the naive implementation.  Even cases use integer data and
 * weights (exact results), odd cases real values, a fractional scale and
 * 1e-4 relative tolerance.
 */
START_TEST(test_random_borders)
{
	unsigned long long rng = 0x1234567ULL + (unsigned long long)_i;
	size_t nvalid = 0;

	for (size_t idx = 0; idx < RAND_CASES; idx++) {
		rand_case rc;
		double img[31 * 17], k[TK_MAX];
		test_kernel t;

		rand_case_get(idx, (imf_border)_i, &rc);
		const double scale = rc.integer ? 1 : 0.37;
		for (size_t i = 0; i < rc.w * rc.h; i++)
			img[i] = rand_value(&rng, rc.integer, -20, 300);
		for (size_t i = 0; i < rc.rows * rc.cols; i++)
			k[i] = rand_weight(&rng, rc.integer, 4);
		tk_init(&t, rc.rows, rc.cols, k, scale);

		imf_image *in = tu_image_from(img, rc.w, rc.h);
		naive_params np = naive_from(&rc.p);
		naive_result n = naive_conv_d(img, rc.w, rc.h, k, rc.rows, rc.cols, scale, &np);
		check_case(in, &t.k, &rc.p, &n, rc.integer, rc.what);
		nvalid += (size_t)n.valid;
		free(n.v);
		imf_image_free(in);
	}
	ck_assert_uint_gt(nvalid, RAND_CASES / 2);
}
END_TEST

/*
 * The fast path against the reference path directly, on images of 1 to 4
 * planes (with alpha for 2 and 4), with compound kernels every third case
 * and, on images of 2 or more colour planes, multi-channel kernels (one
 * slice per plane) every third case: the two must agree exactly on integer
 * data and within 1e-4 on real data.
 */
START_TEST(test_fast_equals_reference)
{
	unsigned long long rng = 0xfeedULL + (unsigned long long)_i;

	for (size_t idx = 0; idx < RAND_CASES; idx++) {
		rand_case rc;
		double k0[TK_MAX], k1[TK_MAX], ks[TK_SLICES][TK_MAX];
		test_kernel t;
		imf_error ea = {0}, eb = {0};
		imf_image *a = NULL, *b = NULL;

		rand_case_get(idx, (imf_border)_i, &rc);
		const int channels = (int)(idx / 2 % 4) + 1;
		imf_image *in = image_new(rc.w, rc.h, channels, channels == 2 || channels == 4);
		for (int c = 0; c < channels; c++)
			for (size_t y = 0; y < rc.h; y++)
				for (size_t x = 0; x < rc.w; x++)
					imf_image_row(in, c, y)[x] =
					        (float)rand_value(&rng, rc.integer, 0, 255);
		const int colour = channels - (channels == 2 || channels == 4);
		for (size_t i = 0; i < rc.rows * rc.cols; i++) {
			k0[i] = rand_weight(&rng, rc.integer, 2);
			k1[i] = rand_weight(&rng, rc.integer, 2);
			for (int c = 1; c < colour; c++)
				ks[c][i] = rand_weight(&rng, rc.integer, 2);
		}
		tk_init(&t, rc.rows, rc.cols, k0, rc.integer ? 1 : 0.5);
		if (idx % 3 == 0)
			tk_add_part(&t, rc.rows, rc.cols, k1, 1);
		else if (idx % 3 == 1 && colour > 1)
			for (int c = 1; c < colour; c++)
				tk_add_slice(&t, ks[c], rc.integer ? 1 : 0.5);

		imf_status sa = imf_conv_run(in, &t.k, &rc.p, &a, &ea);
		imf_status sb = imf_conv_reference(in, &t.k, &rc.p, &b, &eb);
		ck_assert_int_eq(sa, sb);
		if (sa == IMF_OK) {
			const int nout =
			        t.k.count > 1 && t.k.combine == IMF_COMBINE_NONE ? 1 : channels;
			ck_assert_int_eq(imf_image_channels(a), nout);
			ck_assert_int_eq(imf_image_channels(b), nout);
			for (int c = 0; c < nout; c++) {
				double *want = plane_values(b, c);
				assert_plane(a, c, want, imf_image_width(b), imf_image_height(b),
				             rc.integer, rc.what);
				free(want);
			}
		} else {
			ck_assert_str_eq(ea.msg, eb.msg);
		}
		imf_image_free(a);
		imf_image_free(b);
		imf_image_free(in);
	}
}
END_TEST

/*
 * Rows wider than the fast path's 256-column spans, with strides and
 * dilations: the spans must join exactly where the naive result says.
 */
START_TEST(test_wide_rows)
{
	static const size_t sizes[][2] = {{700, 4}, {257, 3}, {1030, 2}};
	static const size_t kernels[][2] = {{3, 3}, {2, 5}, {1, 7}, {4, 4}};
	static const imf_pad_mode modes[] = {IMF_PAD_SAME, IMF_PAD_VALID, IMF_PAD_EXPLICIT};
	unsigned long long rng = 4242;
	size_t ncase = 0;

	for (size_t si = 0; si < COUNT(sizes); si++) {
		const size_t w = sizes[si][0], h = sizes[si][1];
		double *img = malloc(w * h * sizeof *img);
		ck_assert_ptr_nonnull(img);
		for (size_t i = 0; i < w * h; i++)
			img[i] = rand_value(&rng, 1, 0, 0);
		imf_image *in = tu_image_from(img, w, h);
		for (size_t ki = 0; ki < COUNT(kernels) * 5 * 3; ki++, ncase++) {
			const size_t rows = kernels[ki / 15][0], cols = kernels[ki / 15][1];
			const imf_border border = (imf_border)(ki / 3 % 5);
			const size_t s = ki % 3 + 1;
			double k[TK_MAX];
			test_kernel t;
			imf_conv_params p;
			char what[120];

			for (size_t i = 0; i < rows * cols; i++)
				k[i] = rand_weight(&rng, 1, 4);
			tk_init(&t, rows, cols, k, 1);
			params(&p, modes[ncase % 3], 9, s, border, (int)(ncase % 2));
			p.dilation = ncase / 3 % 3 + 1;
			p.bias = (double)(ncase % 5);
			naive_params np = naive_from(&p);
			naive_result n = naive_conv_d(img, w, h, k, rows, cols, 1, &np);
			snprintf(what, sizeof what,
			         "%zux%zu image, %zux%zu kernel, %s, stride %zu, dilation %zu", w,
			         h, cols, rows, imf_border_name(p.border), s, p.dilation);
			check_case(in, &t.k, &p, &n, 1, what);
			free(n.v);
		}
		imf_image_free(in);
		free(img);
	}
}
END_TEST

/*
 * Dilations past CONV_RING_FULL_DILATION (4), where the fast path keeps
 * fewer padded rows than the extent and may pad a row again: every border,
 * padding and stride, against the naive version.
 */
START_TEST(test_large_dilation)
{
	static const size_t sizes[][2] = {{40, 30}, {300, 9}, {7, 45}};
	static const size_t kernels[][2] = {{3, 3}, {2, 4}, {5, 1}, {4, 2}};
	static const size_t dilations[] = {5, 6, 8, 12, 9};
	static const struct {
		imf_pad_mode mode;
		size_t pad;
	} pads[] = {
		{IMF_PAD_SAME, 0}, {IMF_PAD_VALID, 0}, {IMF_PAD_FULL, 0}, {IMF_PAD_EXPLICIT, 7},
	};
	/* Per image: every kernel x border x padding x stride 1..3. */
	const size_t per_image = COUNT(kernels) * 5 * COUNT(pads) * 3;
	unsigned long long rng = 777;
	size_t ncase = 0, nvalid = 0;

	for (size_t si = 0; si < COUNT(sizes); si++) {
		const size_t w = sizes[si][0], h = sizes[si][1];
		double *img = malloc(w * h * sizeof *img);
		ck_assert_ptr_nonnull(img);
		for (size_t i = 0; i < w * h; i++)
			img[i] = rand_value(&rng, 1, 0, 0);
		imf_image *in = tu_image_from(img, w, h);
		for (size_t idx = 0; idx < per_image; idx++, ncase++) {
			const size_t s = idx % 3 + 1, pi = idx / 3 % COUNT(pads);
			const imf_border border = (imf_border)(idx / 3 / COUNT(pads) % 5);
			const size_t ki = idx / 3 / COUNT(pads) / 5;
			const size_t rows = kernels[ki][0], cols = kernels[ki][1];
			double k[TK_MAX];
			test_kernel t;
			imf_conv_params p;
			char what[160];

			for (size_t i = 0; i < rows * cols; i++)
				k[i] = rand_weight(&rng, 1, 4);
			tk_init(&t, rows, cols, k, 1);
			params(&p, pads[pi].mode, pads[pi].pad, s, border, (int)(ncase % 2));
			p.dilation = dilations[ncase % COUNT(dilations)];
			p.bias = -1;
			naive_params np = naive_from(&p);
			naive_result n = naive_conv_d(img, w, h, k, rows, cols, 1, &np);
			snprintf(what, sizeof what,
			         "%zux%zu image, %zux%zu kernel, %s, pad mode %d, stride %zu, "
			         "dilation %zu",
			         w, h, cols, rows, imf_border_name(border), (int)p.pad_mode, s,
			         p.dilation);
			check_case(in, &t.k, &p, &n, 1, what);
			nvalid += (size_t)n.valid;
			free(n.v);
		}
		imf_image_free(in);
		free(img);
	}
	ck_assert_uint_gt(nvalid, ncase / 2);
}
END_TEST

/* ---- compound kernels, channels, alpha ------------------------------------------- */

static const double sobel_x[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};
static const double sobel_y[9] = {-1, -2, -1, 0, 0, 0, 1, 2, 1};

/* A step both ways: 100 right of column 3, plus 50 from row 4 down. */
static void step_image(double *v, size_t w, size_t h)
{
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			v[y * w + x] = (x >= 3 ? 100 : 0) + (y >= 4 ? 50 : 0);
}

START_TEST(test_magnitude)
{
	double img[8 * 7];
	test_kernel t;
	imf_conv_params p;

	step_image(img, 8, 7);
	imf_image *in = tu_image_from(img, 8, 7);
	tk_init(&t, 3, 3, sobel_x, 1);
	tk_add_part(&t, 3, 3, sobel_y, 1);
	for (int b = IMF_BORDER_ZERO; b <= IMF_BORDER_WRAP; b++) {
		for (size_t s = 1; s <= 2; s++) {
			naive_result gx = naive_conv(img, 8, 7, sobel_x, 3, 3, 1, IMF_PAD_SAME, 0,
			                             s, 0, (imf_border)b);
			naive_result gy = naive_conv(img, 8, 7, sobel_y, 3, 3, 1, IMF_PAD_SAME, 0,
			                             s, 0, (imf_border)b);
			double want[8 * 7];
			for (size_t i = 0; i < gx.ow * gx.oh; i++)
				want[i] = sqrt(gx.v[i] * gx.v[i] + gy.v[i] * gy.v[i]);
			params(&p, IMF_PAD_SAME, 0, s, (imf_border)b, 0);
			check_both(in, &t.k, &p, want, gx.ow, gx.oh, 0, "sobel magnitude");
			free(gx.v);
			free(gy.v);
		}
	}
	/* By hand, replicate, stride 1, at (1, 2) on the vertical edge only:
	 * gx = (100 - 0) * (1 + 2 + 1) = 400, gy = 0, so 400; at (4, 3) on both
	 * edges: rows 3..5 columns 2..4 are (0 100 100; 50 150 150; 50 150 150),
	 * gx = -0 + 100 - 2*50 + 2*150 - 50 + 150 = 400,
	 * gy = -(0 + 200 + 100) + (50 + 300 + 150) = 200, sqrt(400^2 + 200^2). */
	{
		imf_image *out = NULL;
		imf_error err = {0};
		params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_REPLICATE, 0);
		ck_assert_int_eq(imf_conv_run(in, &t.k, &p, &out, &err), IMF_OK);
		ck_assert(imf_image_row_const(out, 0, 1)[2] == 400.0f);
		ck_assert(imf_image_row_const(out, 0, 4)[3] ==
		          (float)sqrt(400.0 * 400 + 200 * 200));
		imf_image_free(out);
	}
	imf_image_free(in);
}
END_TEST

/* The built-in sobel (a compound of the library's sobel-x and sobel-y). */
START_TEST(test_builtin_sobel)
{
	double img[8 * 7];
	imf_kernel *k = NULL;
	imf_image *out = NULL;
	imf_error err = {0};
	imf_conv_params p;

	step_image(img, 8, 7);
	imf_image *in = tu_image_from(img, 8, 7);
	ck_assert_msg(imf_kernel_builtin("sobel", &k, &err) == IMF_OK, "%s", err.msg);
	imf_conv_params_default(&p);
	p.border = IMF_BORDER_REPLICATE;
	ck_assert_int_eq(imf_conv_run(in, k, &p, &out, &err), IMF_OK);
	/* The magnitude does not depend on the parts' sign conventions. */
	naive_result gx = naive_conv(img, 8, 7, sobel_x, 3, 3, 1, IMF_PAD_SAME, 0, 1, 0,
	                             IMF_BORDER_REPLICATE);
	naive_result gy = naive_conv(img, 8, 7, sobel_y, 3, 3, 1, IMF_PAD_SAME, 0, 1, 0,
	                             IMF_BORDER_REPLICATE);
	double want[8 * 7];
	for (size_t i = 0; i < 8 * 7; i++)
		want[i] = sqrt(gx.v[i] * gx.v[i] + gy.v[i] * gy.v[i]);
	assert_plane(out, 0, want, 8, 7, 0, "built-in sobel");
	free(gx.v);
	free(gy.v);
	imf_image_free(out);
	imf_kernel_free(k);
	imf_image_free(in);
}
END_TEST

/* a clamped into 0 .. n-1 */
static size_t clamp_index(long long a, size_t n)
{
	return a < 0 ? 0 : a >= (long long)n ? n - 1 : (size_t)a;
}

/*
 * The alpha plane an output of oh x ow should carry: output (y, x) takes
 * alpha at (y*S - top + (Er-1)/2, x*S - left + (Ec-1)/2), clamped, where
 * E = D(F-1)+1 is the kernel's extent.
 */
static double *expected_alpha(const double *alpha, size_t w, size_t h, size_t frows,
                              size_t fcols, const imf_conv_params *p, size_t ow, size_t oh)
{
	size_t top, bottom, left, right;
	const size_t rows = p->dilation * (frows - 1) + 1, cols = p->dilation * (fcols - 1) + 1;
	double *v = malloc(ow * oh * sizeof *v);

	ck_assert_ptr_nonnull(v);
	naive_padding(p->pad_mode, p->pad, rows, &top, &bottom);
	naive_padding(p->pad_mode, p->pad, cols, &left, &right);
	for (size_t y = 0; y < oh; y++) {
		long long ay = (long long)(y * p->stride + (rows - 1) / 2) - (long long)top;
		for (size_t x = 0; x < ow; x++) {
			long long ax = (long long)(x * p->stride + (cols - 1) / 2);
			ax -= (long long)left;
			v[y * ow + x] = alpha[clamp_index(ay, h) * w + clamp_index(ax, w)];
		}
	}
	return v;
}

typedef struct channel_case {
	int channels, alpha;
	size_t rows, cols;
	imf_pad_mode mode;
	size_t pad, stride, dilation;
	double bias;
} channel_case;

/* Every colour plane filtered on its own (bias on each); alpha carried; the source kept. */
static void check_channels(const channel_case *cc, unsigned long long *rng)
{
	enum { W = 6, H = 5 };
	const int nch = cc->channels;
	double planes[4][W * H], k[TK_MAX];
	test_kernel t;
	imf_conv_params p;
	imf_image *in = image_new(W, H, nch, cc->alpha);

	imf_image_set_source(in, IMF_FORMAT_PNG, 16);
	for (int c = 0; c < nch; c++) {
		for (size_t i = 0; i < W * H; i++)
			planes[c][i] = rand_value(rng, 1, 0, 0);
		fill_plane(in, c, planes[c]);
	}
	for (size_t i = 0; i < cc->rows * cc->cols; i++)
		k[i] = rand_weight(rng, 1, 3);
	tk_init(&t, cc->rows, cc->cols, k, 1);
	params(&p, cc->mode, cc->pad, cc->stride, IMF_BORDER_REFLECT, 0);
	p.dilation = cc->dilation;
	p.bias = cc->bias;
	const naive_params np = naive_from(&p);

	for (size_t pi = 0; pi < N_PATHS; pi++) {
		imf_image *out = NULL;
		imf_error err = {0};
		ck_assert_msg(paths[pi].fn(in, &t.k, &p, &out, &err) == IMF_OK, "%s", err.msg);
		ck_assert_int_eq(imf_image_channels(out), nch);
		ck_assert_int_eq(imf_image_has_alpha(out), cc->alpha);
		ck_assert_int_eq(imf_image_source_format(out), IMF_FORMAT_PNG);
		ck_assert_int_eq(imf_image_source_depth(out), 16);
		for (int c = 0; c < nch - cc->alpha; c++) {
			naive_result n =
			        naive_conv_d(planes[c], W, H, k, cc->rows, cc->cols, 1, &np);
			ck_assert(n.valid);
			assert_plane(out, c, n.v, n.ow, n.oh, 1, paths[pi].name);
			free(n.v);
		}
		if (cc->alpha) {
			size_t ow = imf_image_width(out), oh = imf_image_height(out);
			double *want = expected_alpha(planes[nch - 1], W, H, cc->rows, cc->cols, &p,
			                              ow, oh);
			assert_plane(out, nch - 1, want, ow, oh, 1, paths[pi].name);
			free(want);
		}
		imf_image_free(out);
	}
	imf_image_free(in);
}

START_TEST(test_channels_and_alpha)
{
	static const channel_case cases[] = {
		{4, 1, 3, 3, IMF_PAD_SAME, 0, 1, 1, 0},
		{4, 1, 4, 4, IMF_PAD_SAME, 0, 2, 1, 0},
		{4, 1, 3, 3, IMF_PAD_VALID, 0, 1, 1, 0},
		{4, 1, 5, 2, IMF_PAD_FULL, 0, 1, 1, 0},
		{2, 1, 3, 5, IMF_PAD_EXPLICIT, 6, 3, 1, 0},
		{3, 0, 3, 3, IMF_PAD_SAME, 0, 2, 1, 0},
		{2, 1, 1, 1, IMF_PAD_EXPLICIT, 2, 1, 1, 0},
		{2, 1, 2, 6, IMF_PAD_VALID, 0, 2, 1, 0},
	        /* dilation moves the anchor to floor((E-1)/2); bias on every plane */
		{4, 1, 3, 3, IMF_PAD_SAME, 0, 1, 2, 7},
		{4, 1, 2, 2, IMF_PAD_VALID, 0, 1, 3, -2},
		{2, 1, 3, 2, IMF_PAD_FULL, 0, 2, 2, 100},
		{3, 0, 2, 3, IMF_PAD_EXPLICIT, 3, 1, 2, 1},
		{4, 1, 4, 1, IMF_PAD_SAME, 0, 2, 2, -5},
		{2, 1, 2, 2, IMF_PAD_EXPLICIT, 1, 1, 4, 0},
	};
	unsigned long long rng = 99;

	for (size_t i = 0; i < COUNT(cases); i++)
		check_channels(&cases[i], &rng);
}
END_TEST

/* ---- multi-channel kernels ---------------------------------------------------------- */

/*
 * Two 3x3 planes, two 2x2 slices, bias 10, VALID:
 *   p0 = 1 2 3; 4 5 6; 7 8 9    s0 = 1 0; 0 -1  (top-left minus bottom-right)
 *   p1 = 9 8 7; 6 5 4; 3 2 1    s1 = 0 1; 1 0   (top-right plus bottom-left)
 *   (0,0): (1 - 5) + (8 + 6) + 10 = 20     (0,1): (2 - 6) + (7 + 5) + 10 = 18
 *   (1,0): (4 - 8) + (5 + 3) + 10 = 14     (1,1): (5 - 9) + (4 + 2) + 10 = 12
 */
static const double mc_p0[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const double mc_p1[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
static const double mc_s0[4] = {1, 0, 0, -1};
static const double mc_s1[4] = {0, 1, 1, 0};

static void check_one_plane(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                            const double *want, size_t ow, size_t oh, int exact,
                            const char *what)
{
	for (size_t i = 0; i < N_PATHS; i++) {
		imf_image *out = NULL;
		imf_error err = {0};
		char label[256];
		snprintf(label, sizeof label, "%s (%s path)", what, paths[i].name);
		ck_assert_msg(paths[i].fn(in, k, p, &out, &err) == IMF_OK, "%s: %s", label,
		              err.msg);
		ck_assert_msg(imf_image_channels(out) == 1 && !imf_image_has_alpha(out),
		              "%s: %d planes, alpha %d; expected one plane", label,
		              imf_image_channels(out), imf_image_has_alpha(out));
		assert_plane(out, 0, want, ow, oh, exact, label);
		imf_image_free(out);
	}
}

START_TEST(test_multichannel_example)
{
	static const double want[4] = {20, 18, 14, 12};
	const double *planes[2] = {mc_p0, mc_p1}, *slices[2] = {mc_s0, mc_s1};
	imf_image *in = image_new(3, 3, 2, 0);
	imf_kernel *k = NULL;
	imf_error err = {0};
	test_kernel t;
	imf_conv_params p;

	fill_plane(in, 0, mc_p0);
	fill_plane(in, 1, mc_p1);
	tk_init(&t, 2, 2, mc_s0, 1);
	tk_add_slice(&t, mc_s1, 1);
	params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
	p.bias = 10;

	/* The test's own sum agrees with the hand arithmetic. */
	naive_params np = naive_from(&p);
	naive_result n = naive_conv_3d(planes, 3, 3, slices, 2, 2, 2, 1, &np);
	ck_assert(n.valid && n.ow == 2 && n.oh == 2);
	for (size_t i = 0; i < 4; i++)
		ck_assert(n.v[i] == want[i]);
	free(n.v);
	check_one_plane(in, &t.k, &p, want, 2, 2, 1, "2 slices");

	/* The same kernel from a kernel file: slices separated by a blank line. */
	ck_assert_msg(imf_kernel_from_text("# two slices\n1 0\n0 -1\n\n0 1\n1 0\n", "two", &k,
	                                   &err) == IMF_OK,
	              "%s", err.msg);
	ck_assert_uint_eq(imf_kernel_depth(k), 2);
	check_one_plane(in, k, &p, want, 2, 2, 1, "2 slices, parsed");
	imf_kernel_free(k);

	/* The scale multiplies every slice's response, before the bias:
	 * 0.5 * ((1 - 5) + (8 + 6)) + 10 = 15, and so on. */
	{
		static const double half[4] = {15, 14, 12, 11};
		t.m[0].scale = t.m[1].scale = 0.5;
		check_one_plane(in, &t.k, &p, half, 2, 2, 1, "2 slices, scale 1/2");
	}
	imf_image_free(in);
}
END_TEST

/*
 * Random multi-channel cases on 2 planes, RGB, RGBA (alpha dropped) and 4 planes,
 * every border, padding, stride, dilation 1..3, flip and a bias: the sum of
 * the per-plane naive results plus the bias.
 */
START_TEST(test_multichannel_random)
{
	static const struct {
		int channels, alpha;
	} kinds[] = {{2, 0}, {3, 0}, {4, 1}, {4, 0}};
	static const size_t kernels[][2] = {{1, 1}, {3, 3}, {2, 3}, {4, 4}, {3, 1}};
	/* Per image: every kernel x border x padding. */
	const size_t per_image = COUNT(kernels) * 5 * COUNT(rand_pads);
	unsigned long long rng = 31337;
	size_t ncase = 0, nvalid = 0;

	for (size_t kind = 0; kind < COUNT(kinds); kind++) {
		enum { W = 9, H = 7 };
		const int nch = kinds[kind].channels, depth = nch - kinds[kind].alpha;
		double planes[4][W * H], slices[4][TK_MAX];
		const double *pp[4], *sp[4];
		imf_image *in = image_new(W, H, nch, kinds[kind].alpha);

		for (int c = 0; c < nch; c++) {
			for (size_t i = 0; i < W * H; i++)
				planes[c][i] = rand_value(&rng, 1, 0, 0);
			fill_plane(in, c, planes[c]);
			pp[c] = planes[c];
			sp[c] = slices[c];
		}
		for (size_t idx = 0; idx < per_image; idx++, ncase++) {
			const size_t pi = idx % COUNT(rand_pads);
			const imf_border border = (imf_border)(idx / COUNT(rand_pads) % 5);
			const size_t ki = idx / COUNT(rand_pads) / 5;
			const size_t rows = kernels[ki][0], cols = kernels[ki][1];
			test_kernel t;
			imf_conv_params p;
			char what[160];

			for (int c = 0; c < depth; c++)
				for (size_t i = 0; i < rows * cols; i++)
					slices[c][i] = rand_weight(&rng, 1, 3);
			tk_init(&t, rows, cols, slices[0], 1);
			for (int c = 1; c < depth; c++)
				tk_add_slice(&t, slices[c], 1);
			params(&p, rand_pads[pi].mode, rand_pads[pi].pad, ncase % 3 + 1, border,
			       (int)(ncase / 3 % 2));
			p.dilation = ncase / 6 % 3 + 1;
			p.bias = (double)(ncase % 9) - 4;
			naive_params np = naive_from(&p);
			naive_result n =
			        naive_conv_3d(pp, W, H, sp, (size_t)depth, rows, cols, 1, &np);
			snprintf(what, sizeof what,
			         "%d planes (alpha %d), %zux%zu slices, %s, pad %d/%zu, "
			         "stride %zu, dilation %zu, flip %d",
			         nch, kinds[kind].alpha, cols, rows, imf_border_name(border),
			         (int)p.pad_mode, p.pad, p.stride, p.dilation, p.flip);
			if (n.valid)
				check_one_plane(in, &t.k, &p, n.v, n.ow, n.oh, 1, what);
			else
				check_case(in, &t.k, &p, &n, 1, what);
			nvalid += (size_t)n.valid;
			free(n.v);
		}
		imf_image_free(in);
	}
	ck_assert_uint_gt(nvalid, ncase / 2);
}
END_TEST

/* Slices and colour planes must match; alpha does not count as a channel. */
START_TEST(test_multichannel_errors)
{
	static const double ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	static const struct {
		int channels, alpha;
		size_t depth;
		const char *msg;
	} cases[] = {
		{1, 0, 3, "kernel has 3 slices but the input has 1 channel"},
		{2, 0, 3, "kernel has 3 slices but the input has 2 channels"},
		{2, 1, 2, "kernel has 2 slices but the input has 1 channel"},
		{4, 1, 4, "kernel has 4 slices but the input has 3 channels"},
		{4, 0, 2, "kernel has 2 slices but the input has 4 channels"},
		{3, 0, 4, "kernel has 4 slices but the input has 3 channels"},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_image *in = image_new(5, 5, cases[i].channels, cases[i].alpha);
		test_kernel t;
		imf_conv_params p;

		tk_init(&t, 3, 3, ones, 1);
		for (size_t q = 1; q < cases[i].depth; q++)
			tk_add_slice(&t, ones, 1);
		imf_conv_params_default(&p);
		for (size_t pi = 0; pi < N_PATHS; pi++) {
			imf_image *out = (imf_image *)&t;
			imf_error err = {0};
			ck_assert_int_eq(paths[pi].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
			ck_assert_str_eq(err.msg, cases[i].msg);
			ck_assert_ptr_null(out);
		}
		imf_image_free(in);
	}

	/* Slices of different sizes (a kernel built by hand; the parser refuses them). */
	{
		imf_image *in = image_new(5, 5, 2, 0);
		imf_image *out = NULL;
		imf_error err = {0};
		test_kernel t;
		imf_conv_params p;
		tk_init(&t, 3, 3, ones, 1);
		tk_add_slice(&t, ones, 1);
		t.m[1].cols = 2;
		imf_conv_params_default(&p);
		for (size_t pi = 0; pi < N_PATHS; pi++) {
			ck_assert_int_eq(paths[pi].fn(in, &t.k, &p, &out, &err), IMF_EINVAL);
			ck_assert_str_eq(err.msg, "kernel slices differ in size: 3x3, 2x3");
			ck_assert_ptr_null(out);
		}
		imf_image_free(in);
	}
}
END_TEST

/*
 * Feature maps: more planes than an image file has.  Built only when the
 * image module accepts them (IMF_MAX_PLANES planes); a C-slice kernel sums
 * them into one map, a 2-D kernel filters each (bias on each).
 */
START_TEST(test_many_planes)
{
	enum { W = 6, H = 5, C = 7 };
	double planes[C][W * H], slices[C][9];
	const double *pp[C], *sp[C];
	unsigned long long rng = 4096;
	imf_image *in = NULL;
	imf_error err = {0};

	if (imf_image_new(W, H, C, 0, NULL, &in, &err) != IMF_OK)
		return; /* images of more than 4 planes are not there yet */
	for (int c = 0; c < C; c++) {
		for (size_t i = 0; i < W * H; i++)
			planes[c][i] = rand_value(&rng, 1, 0, 0);
		for (size_t i = 0; i < 9; i++)
			slices[c][i] = rand_weight(&rng, 1, 2);
		fill_plane(in, c, planes[c]);
		pp[c] = planes[c];
		sp[c] = slices[c];
	}
	for (size_t d = 1; d <= 2; d++) {
		imf_conv_params p;
		params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_REPLICATE, 0);
		p.dilation = d;
		p.bias = 3;
		naive_params np = naive_from(&p);

		/* A 7-slice kernel: a test_kernel holds 4 slices, so build it here. */
		imf_matrix m[C];
		imf_kernel k = {empty_string, empty_string, IMF_COMBINE_NONE, C, m, NULL};
		for (int c = 0; c < C; c++) {
			m[c].rows = m[c].cols = 3;
			m[c].w = slices[c];
			m[c].scale = 1;
		}
		naive_result n = naive_conv_3d(pp, W, H, sp, C, 3, 3, 1, &np);
		ck_assert(n.valid);
		check_one_plane(in, &k, &p, n.v, n.ow, n.oh, 1, "7 slices on 7 planes");
		free(n.v);

		/* A 2-D kernel on 7 planes: 7 maps. */
		test_kernel t;
		tk_init(&t, 3, 3, slices[0], 1);
		for (size_t pi = 0; pi < N_PATHS; pi++) {
			imf_image *out = NULL;
			ck_assert_msg(paths[pi].fn(in, &t.k, &p, &out, &err) == IMF_OK, "%s",
			              err.msg);
			ck_assert_int_eq(imf_image_channels(out), C);
			for (int c = 0; c < C; c++) {
				naive_result r =
				        naive_conv_d(planes[c], W, H, slices[0], 3, 3, 1, &np);
				assert_plane(out, c, r.v, r.ow, r.oh, 1, paths[pi].name);
				free(r.v);
			}
			imf_image_free(out);
		}
	}
	imf_image_free(in);
}
END_TEST

/* ---- no normalisation -------------------------------------------------------------- */

START_TEST(test_no_normalisation)
{
	static const double laplacian[9] = {0, 1, 0, 1, -4, 1, 0, 1, 0};
	static const double box2[4] = {1, 1, 1, 1};
	double flat[7 * 6], ones[7 * 6], zeros[7 * 6], fours[7 * 6], twos[7 * 6];
	test_kernel t;
	imf_conv_params p;

	for (size_t i = 0; i < 7 * 6; i++) {
		flat[i] = 200;
		ones[i] = 1;
		zeros[i] = 0;
		fours[i] = 4;
		twos[i] = 2;
	}
	imf_image *in = tu_image_from(flat, 7, 6);
	tk_init(&t, 3, 3, laplacian, 1);
	params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_REPLICATE, 0);
	check_both(in, &t.k, &p, zeros, 7, 6, 1, "zero-sum kernel on a flat image");
	imf_image_free(in);

	in = tu_image_from(ones, 7, 6);
	tk_init(&t, 2, 2, box2, 1);
	params(&p, IMF_PAD_VALID, 0, 1, IMF_BORDER_ZERO, 0);
	check_both(in, &t.k, &p, fours, 6, 5, 1, "[1 1; 1 1] on ones, valid");
	params(&p, IMF_PAD_SAME, 0, 1, IMF_BORDER_SYMMETRIC, 0);
	check_both(in, &t.k, &p, fours, 7, 6, 1, "[1 1; 1 1] on ones, same");
	/* The scale multiplies the sum: 0.5 * 4 = 2. */
	tk_init(&t, 2, 2, box2, 0.5);
	check_both(in, &t.k, &p, twos, 7, 6, 1, "0.5 * [1 1; 1 1] on ones");
	imf_image_free(in);
}
END_TEST

/* ---- border names ------------------------------------------------------------------- */

START_TEST(test_border_parse)
{
	static const struct {
		const char *name;
		imf_border border;
	} cases[] = {
		{"zero", IMF_BORDER_ZERO},
		{"constant", IMF_BORDER_ZERO},
		{"zeros", IMF_BORDER_ZERO},
		{"fill", IMF_BORDER_ZERO},
		{"border_constant", IMF_BORDER_ZERO},
		{"BORDER_CONSTANT", IMF_BORDER_ZERO},
		{"grid-constant", IMF_BORDER_ZERO},
		{"Zero", IMF_BORDER_ZERO},
		{"replicate", IMF_BORDER_REPLICATE},
		{"edge", IMF_BORDER_REPLICATE},
		{"nearest", IMF_BORDER_REPLICATE},
		{"clamp", IMF_BORDER_REPLICATE},
		{"border_replicate", IMF_BORDER_REPLICATE},
		{"Border-Replicate", IMF_BORDER_REPLICATE},
		{"REPLICATE", IMF_BORDER_REPLICATE},
		{"reflect", IMF_BORDER_REFLECT}, /* NumPy/PyTorch, not SciPy */
		{"mirror", IMF_BORDER_REFLECT},
		{"reflect101", IMF_BORDER_REFLECT},
		{"reflect_101", IMF_BORDER_REFLECT},
		{"reflect-101", IMF_BORDER_REFLECT},
		{"border_reflect_101", IMF_BORDER_REFLECT},
		{"BORDER_REFLECT_101", IMF_BORDER_REFLECT},
		{"border_reflect101", IMF_BORDER_REFLECT},
		{"Reflect", IMF_BORDER_REFLECT},
		{"symmetric", IMF_BORDER_SYMMETRIC},
		{"symm", IMF_BORDER_SYMMETRIC},
		{"border_reflect", IMF_BORDER_SYMMETRIC},
		{"BORDER-REFLECT", IMF_BORDER_SYMMETRIC},
		{"grid-mirror", IMF_BORDER_SYMMETRIC},
		{"grid_mirror", IMF_BORDER_SYMMETRIC},
		{"SYMMETRIC", IMF_BORDER_SYMMETRIC},
		{"wrap", IMF_BORDER_WRAP},
		{"circular", IMF_BORDER_WRAP},
		{"periodic", IMF_BORDER_WRAP},
		{"grid-wrap", IMF_BORDER_WRAP},
		{"GRID_WRAP", IMF_BORDER_WRAP},
		{"border_wrap", IMF_BORDER_WRAP},
		{"Circular", IMF_BORDER_WRAP},
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_border b = (imf_border)-1;
		imf_error err = {0};
		ck_assert_msg(imf_border_parse(cases[i].name, &b, &err) == IMF_OK, "%s: %s",
		              cases[i].name, err.msg);
		ck_assert_msg(b == cases[i].border, "%s parsed as %s", cases[i].name,
		              imf_border_name(b));
	}
}
END_TEST

START_TEST(test_border_parse_errors)
{
	static const char *const bad[] = {"", "mirrored", "zero ", "reflec", "reflect1o1",
	                                  "wrapx", "border", "101"};
	for (size_t i = 0; i < COUNT(bad); i++) {
		imf_border b = IMF_BORDER_WRAP;
		imf_error err = {0};
		char want[200];
		ck_assert_int_eq(imf_border_parse(bad[i], &b, &err), IMF_EINVAL);
		ck_assert_int_eq(err.code, IMF_EINVAL);
		ck_assert_int_eq(b, IMF_BORDER_WRAP);
		snprintf(want, sizeof want,
		         "unknown border '%s' (zero, replicate, reflect, symmetric, wrap)", bad[i]);
		ck_assert_str_eq(err.msg, want);
	}
}
END_TEST

START_TEST(test_border_names)
{
	static const char *const names[] = {"zero", "replicate", "reflect", "symmetric", "wrap"};
	for (int b = IMF_BORDER_ZERO; b <= IMF_BORDER_WRAP; b++) {
		imf_border back = (imf_border)-1;
		ck_assert_str_eq(imf_border_name((imf_border)b), names[b]);
		ck_assert_int_eq(imf_border_parse(names[b], &back, NULL), IMF_OK);
		ck_assert_int_eq(back, b);
	}
}
END_TEST

static Suite *conv_suite(void)
{
	Suite *s = suite_create("conv");
	TCase *tc;

	tc = tcase_create("examples");
	tcase_add_test(tc, test_binary_valid);
	tcase_add_test(tc, test_sharpen_zero_pad);
	tcase_add_test(tc, test_sharpen_stride2);
	tcase_add_test(tc, test_huge_stride);
	tcase_add_test(tc, test_parsed_kernel);
	tcase_add_test(tc, test_flip);
	tcase_add_test(tc, test_dilation_example);
	tcase_add_test(tc, test_no_normalisation);
	suite_add_tcase(s, tc);

	tc = tcase_create("geometry");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_padding);
	tcase_add_test(tc, test_output_size_table);
	tcase_add_test(tc, test_output_size_same);
	tcase_add_test(tc, test_output_size_dilation);
	tcase_add_test(tc, test_padding_dilation);
	tcase_add_test(tc, test_output_size_errors);
	tcase_add_test(tc, test_run_errors);
	tcase_add_test(tc, test_run_errors_dilation);
	suite_add_tcase(s, tc);

	tc = tcase_create("borders");
	tcase_add_test(tc, test_border_examples);
	tcase_add_test(tc, test_border_wide);
	tcase_add_test(tc, test_border_parse);
	tcase_add_test(tc, test_border_parse_errors);
	tcase_add_test(tc, test_border_names);
	suite_add_tcase(s, tc);

	/* Thousands of cases per border: generous for sanitizer and valgrind runs. */
	tc = tcase_create("random");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_random_borders, IMF_BORDER_ZERO, IMF_BORDER_WRAP + 1);
	tcase_add_loop_test(tc, test_fast_equals_reference, IMF_BORDER_ZERO, IMF_BORDER_WRAP + 1);
	tcase_add_test(tc, test_wide_rows);
	tcase_add_test(tc, test_large_dilation);
	suite_add_tcase(s, tc);

	tc = tcase_create("channels");
	tcase_add_test(tc, test_magnitude);
	tcase_add_test(tc, test_builtin_sobel);
	tcase_add_test(tc, test_channels_and_alpha);
	suite_add_tcase(s, tc);

	tc = tcase_create("multichannel");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_multichannel_example);
	tcase_add_test(tc, test_multichannel_random);
	tcase_add_test(tc, test_multichannel_errors);
	tcase_add_test(tc, test_many_planes);
	suite_add_tcase(s, tc);

	return s;
}

IMF_TEST_MAIN(conv_suite)
