/*
 * check_engine.c - the fast convolution paths against the reference.
 *
 * check_conv.c holds both paths to a naive np.pad-style implementation;
 * here the fast engine's own choices are exercised on purpose and compared
 * with imf_conv_reference (the plain one-pixel-at-a-time path):
 *  - kernels of every size 1..15 on rows wider than a span and widths that
 *    are not a multiple of any vector size, every border, strides;
 *  - the exact float loops (integer kernels on integer rows), including
 *    rows that must fall back to double (fractions, NaN, large values);
 *  - separable (rank-1) kernels, integer and real, and near-misses;
 *    symmetric ones; the float passes within their stated bound, and
 *    exact wherever the data under the kernel is integer;
 *  - several matrices: magnitude kernels and multi-channel slices;
 *  - the sign of a zero result (a bias of -0);
 *  - --precision float: within its bound of the reference, exact where the
 *    sums are integers, and where it does not apply;
 *  - thread counts: identical output for every count;
 *  - the band streaming API: identical output for every band split.
 * Direct paths must equal the reference to the last bit; the separable path
 * exactly on integer data and kernels, otherwise within 1e-4 relative
 * (test_separable) and within SEP_BOUND of |scale| sum|w| max|x| + |bias|
 * (its float passes).
 */
#include "testutil.h"

#include "internal.h"
#include "conv_internal.h"
#include "conv_rows.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define KMAX 15
#define BK_MAX 31 /* big_kernel's largest side: folded passes of 16 taps */

typedef struct big_kernel {
	imf_kernel k;
	imf_matrix m;
	double w[BK_MAX * BK_MAX];
} big_kernel;

static char empty[] = "";

static void bk_init(big_kernel *b, size_t rows, size_t cols, double scale)
{
	ck_assert(rows <= BK_MAX && cols <= BK_MAX);
	memset(b, 0, sizeof *b);
	b->k.name = empty;
	b->k.description = empty;
	b->k.combine = IMF_COMBINE_NONE;
	b->k.count = 1;
	b->k.m = &b->m;
	b->m.rows = rows;
	b->m.cols = cols;
	b->m.w = b->w;
	b->m.scale = scale;
}

static imf_image *rand_image(size_t w, size_t h, int channels, int alpha, int integer,
                             unsigned long long *rng)
{
	imf_image *img = NULL;
	imf_error err = {0};
	ck_assert_int_eq(imf_image_new(w, h, channels, alpha, NULL, &img, &err), IMF_OK);
	for (int c = 0; c < channels; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] =
				        integer ? (float)floor(tu_rand(rng) * 256)
				                : (float)(tu_rand(rng) * 300 - 20);
	return img;
}

/* Same values, NaN equal to NaN; exact, or within 1e-4 relative (1e-4 absolute near 0). */
static void assert_same(const imf_image *a, const imf_image *b, int exact, const char *what)
{
	ck_assert_msg(imf_image_width(a) == imf_image_width(b) &&
	                      imf_image_height(a) == imf_image_height(b) &&
	                      imf_image_channels(a) == imf_image_channels(b),
	              "%s: geometry differs", what);
	for (int c = 0; c < imf_image_channels(a); c++)
		for (size_t y = 0; y < imf_image_height(a); y++) {
			const float *ra = imf_image_row_const(a, c, y);
			const float *rb = imf_image_row_const(b, c, y);
			for (size_t x = 0; x < imf_image_width(a); x++) {
				double u = ra[x], v = rb[x];
				int ok;
				if (isnan(u) || isnan(v))
					ok = isnan(u) && isnan(v);
				else if (exact)
					ok = u == v;
				else
					ok = fabs(u - v) <= 1e-4 * (fabs(v) > 1 ? fabs(v) : 1);
				if (!ok)
					ck_abort_msg("%s: plane %d (y %zu, x %zu): %.9g, reference %.9g",
					             what, c, y, x, u, v);
			}
		}
}

/* imf_conv_run against imf_conv_reference: same status, same message, same values. */
static void check_against_reference(const imf_image *in, const imf_kernel *k,
                                    const imf_conv_params *p, int exact, const char *what)
{
	imf_image *a = NULL, *b = NULL;
	imf_error ea = {0}, eb = {0};
	imf_status sa = imf_conv_run(in, k, p, &a, &ea);
	imf_status sb = imf_conv_reference(in, k, p, &b, &eb);

	ck_assert_msg(sa == sb, "%s: status %d, reference %d", what, sa, sb);
	if (sa == IMF_OK)
		assert_same(a, b, exact, what);
	else
		ck_assert_str_eq(ea.msg, eb.msg);
	imf_image_free(a);
	imf_image_free(b);
}

/*
 * imf_conv_run within bound of imf_conv_reference, pixel by pixel (the
 * separable path's error bound); NaN equal to NaN.
 */
static void check_within(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                         double bound, const char *what)
{
	imf_image *a = NULL, *b = NULL;
	imf_error err = {0};

	ck_assert_int_eq(imf_conv_run(in, k, p, &a, &err), IMF_OK);
	ck_assert_int_eq(imf_conv_reference(in, k, p, &b, &err), IMF_OK);
	for (int c = 0; c < imf_image_channels(a); c++)
		for (size_t y = 0; y < imf_image_height(a); y++)
			for (size_t x = 0; x < imf_image_width(a); x++) {
				double u = imf_image_row(a, c, y)[x], v = imf_image_row(b, c, y)[x];
				if (isnan(u) || isnan(v) ? !(isnan(u) && isnan(v)) : fabs(u - v) > bound)
					ck_abort_msg("%s: plane %d (y %zu, x %zu): %.9g, reference %.9g, "
					             "bound %.3g", what, c, y, x, u, v, bound);
			}
	imf_image_free(a);
	imf_image_free(b);
}

/*
 * IMF_PRECISION_FLOAT: sums in float, each within (taps + 3) 2^-24 of the
 * exact sum of magnitudes under the kernel, |scale| sum |w x| + |bias|
 * (the weights rounded to float, each product and sum rounded, the last
 * rounding to the output).  That sum is itself computed pixel by pixel by
 * the reference, on |in| with |w|, |scale| and |bias|.
 */
static void check_float_sums(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                             const char *what)
{
	const size_t n = k->m[0].rows * k->m[0].cols;
	imf_image *a = NULL, *r = NULL, *mag = NULL, *absin = NULL;
	imf_error err = {0};
	imf_conv_params pa = *p;
	big_kernel ak;
	size_t nt = 0;

	ck_assert_int_eq(k->count, 1);
	bk_init(&ak, k->m[0].rows, k->m[0].cols, fabs(k->m[0].scale));
	for (size_t t = 0; t < n; t++) {
		ak.w[t] = fabs(k->m[0].w[t]);
		nt += k->m[0].w[t] != 0;
	}
	pa.bias = fabs(p->bias);
	pa.precision = IMF_PRECISION_EXACT;
	ck_assert_int_eq(imf_image_new(imf_image_width(in), imf_image_height(in), 1, 0, NULL,
	                               &absin, &err), IMF_OK);
	for (size_t y = 0; y < imf_image_height(in); y++)
		for (size_t x = 0; x < imf_image_width(in); x++)
			imf_image_row(absin, 0, y)[x] = fabsf(imf_image_row_const(in, 0, y)[x]);
	ck_assert_int_eq(imf_conv_run(in, k, p, &a, &err), IMF_OK);
	ck_assert_int_eq(imf_conv_reference(in, k, p, &r, &err), IMF_OK);
	ck_assert_int_eq(imf_conv_reference(absin, &ak.k, &pa, &mag, &err), IMF_OK);
	for (size_t y = 0; y < imf_image_height(a); y++)
		for (size_t x = 0; x < imf_image_width(a); x++) {
			double u = imf_image_row(a, 0, y)[x], v = imf_image_row(r, 0, y)[x];
			double bound = (double)(nt + 3) * 0x1p-24 * imf_image_row(mag, 0, y)[x] *
			               (1 + 0x1p-20);
			if (fabs(u - v) > bound)
				ck_abort_msg("%s: (y %zu, x %zu): %.9g, reference %.9g, bound %.3g", what,
				             y, x, u, v, bound);
		}
	imf_image_free(a);
	imf_image_free(r);
	imf_image_free(mag);
	imf_image_free(absin);
}

/* Which inner loops the engine picks for k on a w x h image. */
static const char *method_of(const imf_kernel *k, const imf_conv_params *p, size_t w, size_t h)
{
	static char buf[256];
	imf_conv_stream *s = NULL;
	imf_error err = {0};
	ck_assert_int_eq(imf_conv_stream_new(k, p, w, h, 1, 0, &s, &err), IMF_OK);
	snprintf(buf, sizeof buf, "%s", imf_conv_stream_method(s));
	imf_conv_stream_free(s);
	return buf;
}

/*
 * Random non-separable kernels of every size 1..15 (square and not), on
 * widths 1, 13 and 1101 (more than one span: 1024 direct, 512 separable;
 * no multiple of 4, 8 or 16),
 * every border, strides 1 and 2, integer and real kernels on integer and
 * real data, scales 1 (whose multiply the loops skip) and not, biases 0
 * and not: equal to the last bit; with --precision float, within the bound
 * of check_float_sums, and still to the last bit for integer kernels on
 * integer data (the exact float loops).
 */
START_TEST(test_every_size)
{
	static const size_t widths[] = {1, 13, 1101};
	unsigned long long rng = 0xabcdefULL + (unsigned long long)_i;
	const size_t rows = (size_t)_i + 1;

	for (size_t v = 0; v < 2; v++) {
		const size_t cols = v == 0 ? rows : (rows * 7) % 15 + 1;
		for (size_t wi = 0; wi < COUNT(widths); wi++) {
			/* 0 real, 1 integer, 2 integer kernel on real data */
			for (int kind = 0; kind < 3; kind++) {
				const int integer = kind != 0;
				const size_t h = rows + 4;
				imf_image *in = rand_image(widths[wi], h, 1, 0, kind == 1, &rng);
				big_kernel b;
				bk_init(&b, rows, cols, integer || (rows + cols) % 2 ? 1 : 0.37);
				for (size_t t = 0; t < rows * cols; t++)
					b.w[t] = integer ? floor(tu_rand(&rng) * 9) - 4
					                 : tu_rand(&rng) * 2 - 1;
				/* Not rank 1 (a 1xN or Nx1 kernel is, and runs direct anyway). */
				if (rows > 1 && cols > 1)
					b.w[0] += integer ? 3 : 0.5;
				for (int border = 0; border < 5; border++) {
					for (size_t run = 0; run < 4; run++) {
						const size_t stride = run % 2 + 1;
						const int fl = run >= 2;
						imf_conv_params p;
						char what[160];
						imf_conv_params_default(&p);
						p.border = (imf_border)border;
						p.stride = stride;
						p.bias = (border + stride) % 2 ? 0 : integer ? 2 : 0.25;
						if (fl)
							p.precision = IMF_PRECISION_FLOAT;
						snprintf(what, sizeof what,
						         "%zux%zu kernel, width %zu, %s, stride %zu, %s%s",
						         cols, rows, widths[wi],
						         imf_border_name(p.border), stride,
						         kind == 0 ? "real" : kind == 1 ? "integer"
						                   : "integer kernel, real data",
						         fl ? ", float sums" : "");
						if (fl && stride == 1)
							ck_assert_str_eq(
							        method_of(&b.k, &p, widths[wi], h),
							        integer ? "direct (exact float for integer "
							                  "samples, else float sums)"
							                : "direct (float sums)");
						if (fl && kind != 1)
							check_float_sums(in, &b.k, &p, what);
						else
							check_against_reference(in, &b.k, &p, 1, what);
					}
				}
				imf_image_free(in);
			}
		}
	}
}
END_TEST

/*
 * The exact float loops take integer kernels on integer rows; any row with
 * a fraction, a NaN, an infinity or a value too large for exact float sums
 * must send its output rows to the double loops, with the same results.
 */
START_TEST(test_exact_float_fallback)
{
	static const double sobel[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};
	unsigned long long rng = 77;
	imf_image *in = rand_image(40, 30, 1, 0, 1, &rng);
	big_kernel b;
	imf_conv_params p;

	bk_init(&b, 3, 3, 1);
	memcpy(b.w, sobel, sizeof sobel);
	imf_conv_params_default(&p);
	ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 40, 30), "exact float"));

	imf_image_row(in, 0, 3)[5] = 12.5f;          /* a fraction */
	imf_image_row(in, 0, 9)[0] = NAN;            /* NaN at the edge */
	imf_image_row(in, 0, 14)[39] = INFINITY;     /* an infinity */
	imf_image_row(in, 0, 20)[7] = 5000000.0f;    /* beyond 2^24 / sum|w| */
	imf_image_row(in, 0, 25)[8] = -16777216.0f;  /* a large negative */
	imf_image_row(in, 0, 27)[30] = 4194304.5f;   /* not representable: rounds in float */
	for (int border = 0; border < 5; border++) {
		char what[64];
		p.border = (imf_border)border;
		snprintf(what, sizeof what, "sobel-x, %s", imf_border_name(p.border));
		check_against_reference(in, &b.k, &p, 1, what);
	}

	/* Power-of-two scales (written straight from the float sums), and others. */
	{
		static const double binom[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
		static const double scales[] = {1.0 / 16, 4, -0.5, 1.0 / 9, 3};
		for (size_t i = 0; i < COUNT(scales); i++) {
			char what[64];
			bk_init(&b, 3, 3, scales[i]);
			memcpy(b.w, binom, sizeof binom);
			p.border = IMF_BORDER_REPLICATE;
			p.bias = i == 4 ? 0.5 : 0;
			snprintf(what, sizeof what, "binomial, scale %g", scales[i]);
			check_against_reference(in, &b.k, &p, 1, what);
		}
		p.bias = 0;
	}

	/* A kernel whose sums could pass 2^24 on 8-bit data never takes the float loops. */
	bk_init(&b, 3, 3, 1);
	for (size_t t = 0; t < 9; t++)
		b.w[t] = 10000;
	ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 40, 30), "exact float"));
	for (size_t y = 0; y < 30; y++)
		for (size_t x = 0; x < 40; x++)
			imf_image_row(in, 0, y)[x] = (float)((x * 37 + y * 11) % 256);
	check_against_reference(in, &b.k, &p, 1, "weights 10000 on 8-bit data");

	/* A fractional weight: no float loops at all. */
	b.w[4] = 0.5;
	ck_assert_ptr_null(strstr(method_of(&b.k, &p, 40, 30), "exact float"));
	imf_image_free(in);
}
END_TEST

/* Outer product of c (rows) and r (cols) into b. */
static void outer(big_kernel *b, const double *c, const double *r)
{
	for (size_t i = 0; i < b->m.rows; i++)
		for (size_t j = 0; j < b->m.cols; j++)
			b->w[i * b->m.cols + j] = c[i] * r[j];
}

/*
 * Rank-1 kernels 5x5 .. 15x15 (and 4x9, 12x5) run as two 1-D passes: exact
 * on integer kernels and data, within 1e-4 on real ones, for every border,
 * stride 1..3, dilation 1..2, flip, bias, on a width past one span.
 */
START_TEST(test_separable)
{
	static const size_t sizes[][2] = {{5, 5}, {7, 7}, {9, 9}, {15, 15}, {4, 9}, {12, 5}};
	unsigned long long rng = 4242;

	for (size_t si = 0; si < COUNT(sizes); si++) {
		for (int integer = 0; integer < 2; integer++) {
			const size_t rows = sizes[si][0], cols = sizes[si][1];
			imf_image *in = rand_image(523, 2 * rows + 3, 1, 0, integer, &rng);
			double c[KMAX], r[KMAX];
			big_kernel b;

			bk_init(&b, rows, cols, integer ? 1.0 / 64 : 0.9);
			for (size_t i = 0; i < rows; i++)
				c[i] = integer ? floor(tu_rand(&rng) * 7) - 3 : tu_rand(&rng) - 0.3;
			for (size_t j = 0; j < cols; j++)
				r[j] = integer ? floor(tu_rand(&rng) * 7) - 2 : tu_rand(&rng) - 0.5;
			c[rows / 2] = integer ? 6 : 1.5; /* never all zero */
			r[cols / 2] = integer ? -4 : 2.5;
			outer(&b, c, r);
			for (int border = 0; border < 5; border++) {
				imf_conv_params p;
				char what[160];
				imf_conv_params_default(&p);
				p.border = (imf_border)border;
				p.stride = (size_t)border % 3 + 1;
				p.dilation = (size_t)(border + (int)si) % 2 + 1;
				p.flip = border % 2;
				p.bias = integer ? -3 : 0.7;
				ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 523, 2 * rows + 3),
				                             "separable"));
				snprintf(what, sizeof what, "separable %zux%zu, %s, %s", cols, rows,
				         imf_border_name(p.border), integer ? "integer" : "real");
				check_against_reference(in, &b.k, &p, integer, what);
			}
			imf_image_free(in);
		}
	}
}
END_TEST

/* A Gaussian and a box as full matrices are found separable; a near miss is not. */
START_TEST(test_separable_detection)
{
	static const double binom[5] = {1, 4, 6, 4, 1};
	double g[15], ones[15];
	big_kernel b;
	imf_conv_params p;
	unsigned long long rng = 99;
	imf_image *in = rand_image(200, 40, 1, 0, 1, &rng);

	imf_conv_params_default(&p);
	for (size_t i = 0; i < 15; i++) {
		g[i] = exp(-((double)i - 7) * ((double)i - 7) / (2 * 3.0 * 3.0));
		ones[i] = 1;
	}
	/* Gaussian printed to 9 digits, as a kernel file would hold it. */
	bk_init(&b, 15, 15, 1);
	outer(&b, g, g);
	for (size_t t = 0; t < 225; t++) {
		char s[32];
		snprintf(s, sizeof s, "%.9g", b.w[t]);
		b.w[t] = strtod(s, NULL);
	}
	ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 200, 40), "separable"));
	check_against_reference(in, &b.k, &p, 0, "15x15 Gaussian");

	bk_init(&b, 15, 15, 1.0 / 225);
	outer(&b, ones, ones);
	ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 200, 40), "separable"));
	check_against_reference(in, &b.k, &p, 0, "15x15 box");

	/* Integer binomial 5x5: exact. */
	bk_init(&b, 5, 5, 1.0 / 256);
	outer(&b, binom, binom);
	ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 200, 40), "separable"));
	check_against_reference(in, &b.k, &p, 1, "5x5 binomial");

	/* Off rank 1 by one unit: direct, and still exact. */
	b.w[7] += 1;
	ck_assert_ptr_null(strstr(method_of(&b.k, &p, 200, 40), "separable"));
	check_against_reference(in, &b.k, &p, 1, "5x5 binomial, one weight off");

	/* Real kernel off rank 1 by more than 1e-6 of its sum: direct. */
	bk_init(&b, 15, 15, 1);
	outer(&b, g, g);
	b.w[100] *= 1.001;
	ck_assert_ptr_null(strstr(method_of(&b.k, &p, 200, 40), "separable"));

	/*
	 * Zero weights add nothing, even under infinities and NaN (0 * inf would
	 * be NaN): a separable kernel with zero rows and columns agrees with the
	 * reference on such data.
	 */
	{
		static const double c5[5] = {1, 0, 2, 0, 1}, r5[5] = {0, 1, 0, -3, 0};
		imf_image *bad = rand_image(60, 20, 1, 0, 1, &rng);
		imf_image_row(bad, 0, 4)[10] = INFINITY;
		imf_image_row(bad, 0, 9)[31] = -INFINITY;
		imf_image_row(bad, 0, 15)[45] = NAN;
		bk_init(&b, 5, 5, 1);
		outer(&b, c5, r5);
		ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 60, 20), "separable"));
		for (int border = 0; border < 5; border++) {
			char what[64];
			p.border = (imf_border)border;
			snprintf(what, sizeof what, "separable, zeros under inf, %s",
			         imf_border_name(p.border));
			check_against_reference(bad, &b.k, &p, 1, what);
		}
		p.border = IMF_BORDER_ZERO;
		imf_image_free(bad);
	}

	/* 3x3 is cheaper direct even when separable. */
	bk_init(&b, 3, 3, 1);
	outer(&b, binom + 1, binom + 1);
	ck_assert_ptr_null(strstr(method_of(&b.k, &p, 200, 40), "separable"));
	imf_image_free(in);
}
END_TEST

/* Every thread count gives the same bits, for direct, exact and separable kernels. */
START_TEST(test_threads_identical)
{
	unsigned long long rng = 5150;
	imf_image *in = rand_image(97, 61, 4, 1, 0, &rng);
	imf_image *in8 = rand_image(97, 61, 1, 0, 1, &rng);
	big_kernel b;
	double c[7] = {1, 2, 3, 4, 3, 2, 1};

	for (int kind = 0; kind < 3; kind++) {
		imf_image *base = NULL;
		const imf_image *src = kind == 1 ? in8 : in;
		imf_conv_params p;
		imf_error err = {0};

		if (kind == 2) {
			bk_init(&b, 7, 7, 1.0 / 256);
			outer(&b, c, c);
		} else {
			bk_init(&b, 5, 5, 1);
			for (size_t t = 0; t < 25; t++)
				b.w[t] = kind == 1 ? floor(tu_rand(&rng) * 5) - 2 : tu_rand(&rng) - 0.5;
		}
		imf_conv_params_default(&p);
		p.border = IMF_BORDER_REFLECT;
		ck_assert_int_eq(imf_conv_run(src, &b.k, &p, &base, &err), IMF_OK);
		for (size_t n = 2; n <= 9; n++) {
			imf_image *o = NULL;
			char what[64];
			p.threads = n;
			ck_assert_int_eq(imf_conv_run(src, &b.k, &p, &o, &err), IMF_OK);
			snprintf(what, sizeof what, "kind %d, %zu threads", kind, n);
			assert_same(o, base, 1, what);
			imf_image_free(o);
		}
		imf_image_free(base);
	}
	imf_image_free(in);
	imf_image_free(in8);
}
END_TEST

/*
 * in through imf_conv_stream in bands of `band` output rows (0: varying
 * sizes, 1 to 6), the window of each holding exactly the rows
 * imf_conv_stream_input_rows names; the bands put together.
 */
static imf_image *stream_out(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                             size_t band, unsigned long long *rng, const char *what)
{
	imf_image *out = NULL;
	imf_conv_stream *s = NULL;
	imf_error err = {0};
	size_t ow, oh, iw = imf_image_width(in), ih = imf_image_height(in);
	int och, oa, ich = imf_image_channels(in);

	ck_assert_int_eq(imf_conv_stream_new(k, p, iw, ih, ich, imf_image_has_alpha(in), &s, &err),
	                 IMF_OK);
	ck_assert_int_eq(imf_conv_stream_bounded(s), 1);
	imf_conv_stream_output(s, &ow, &oh, &och, &oa);
	ck_assert_int_eq(imf_image_new(ow, oh, och, oa, NULL, &out, &err), IMF_OK);

	for (size_t oy = 0; oy < oh;) {
		size_t n = band ? band : 1 + (size_t)(tu_rand(rng) * 6), lo, hi;
		imf_image *win = NULL, *part = NULL;
		if (n > oh - oy)
			n = oh - oy;
		imf_conv_stream_input_rows(s, oy, n, &lo, &hi);
		ck_assert_uint_le(lo, hi);
		ck_assert_uint_le(hi, ih);
		ck_assert_int_eq(imf_image_new(iw, hi > lo ? hi - lo : 1, ich,
		                               imf_image_has_alpha(in), NULL, &win, &err),
		                 IMF_OK);
		for (int c = 0; c < ich; c++)
			for (size_t y = lo; y < hi; y++)
				memcpy(imf_image_row(win, c, y - lo), imf_image_row_const(in, c, y),
				       iw * sizeof(float));
		ck_assert_int_eq(imf_image_new(ow, n, och, oa, NULL, &part, &err), IMF_OK);
		ck_assert_msg(imf_conv_stream_run(s, win, lo, part, oy, n, &err) == IMF_OK, "%s: %s",
		              what, err.msg);
		for (int c = 0; c < och; c++)
			for (size_t y = 0; y < n; y++)
				memcpy(imf_image_row(out, c, oy + y), imf_image_row_const(part, c, y),
				       ow * sizeof(float));
		imf_image_free(win);
		imf_image_free(part);
		oy += n;
	}
	imf_conv_stream_free(s);
	return out;
}

/* Streamed in bands of varying sizes, the output must equal imf_conv_run's. */
static void stream_compare(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                           unsigned long long *rng, const char *what)
{
	imf_image *whole = NULL, *out;
	imf_error err = {0};

	ck_assert_int_eq(imf_conv_run(in, k, p, &whole, &err), IMF_OK);
	out = stream_out(in, k, p, 0, rng, what);
	assert_same(out, whole, 1, what);
	imf_image_free(out);
	imf_image_free(whole);
}

START_TEST(test_stream_bands)
{
	static const struct {
		imf_pad_mode mode;
		size_t pad;
	} pads[] = {{IMF_PAD_SAME, 0}, {IMF_PAD_VALID, 0}, {IMF_PAD_FULL, 0}, {IMF_PAD_EXPLICIT, 3}};
	unsigned long long rng = 8086;
	imf_image *in = rand_image(37, 29, 2, 1, 0, &rng);
	big_kernel b;
	double c[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1};

	for (int kind = 0; kind < 3; kind++) {
		if (kind != 1) { /* 2: the same with float sums */
			bk_init(&b, 4, 3, 0.5);
			for (size_t t = 0; t < 12; t++)
				b.w[t] = tu_rand(&rng) - 0.5;
		} else {
			bk_init(&b, 9, 9, 1.0 / 65536);
			outer(&b, c, c);
		}
		for (int border = 0; border < 4; border++) { /* wrap: see below */
			for (size_t pi = 0; pi < COUNT(pads); pi++) {
				for (size_t stride = 1; stride <= 3; stride += 2) {
					imf_conv_params p;
					char what[128];
					imf_conv_params_default(&p);
					p.border = (imf_border)border;
					p.pad_mode = pads[pi].mode;
					p.pad = pads[pi].pad;
					p.stride = stride;
					p.dilation = (size_t)border % 2 + 1;
					p.threads = (size_t)pi % 3 + 1;
					if (kind == 2)
						p.precision = IMF_PRECISION_FLOAT;
					snprintf(what, sizeof what, "kind %d, %s, pad %d, stride %zu",
					         kind, imf_border_name(p.border), (int)p.pad_mode,
					         stride);
					stream_compare(in, &b.k, &p, &rng, what);
				}
			}
		}
	}

	/* wrap with padding reads the far edge: not bounded; valid padding is. */
	{
		imf_conv_params p;
		imf_conv_stream *s = NULL;
		imf_error err = {0};
		imf_conv_params_default(&p);
		p.border = IMF_BORDER_WRAP;
		ck_assert_int_eq(imf_conv_stream_new(&b.k, &p, 37, 29, 2, 1, &s, &err), IMF_OK);
		ck_assert_int_eq(imf_conv_stream_bounded(s), 0);
		imf_conv_stream_free(s);
		p.pad_mode = IMF_PAD_VALID;
		stream_compare(in, &b.k, &p, &rng, "wrap, valid");
	}
	imf_image_free(in);
}
END_TEST

/*
 * A worker's run that writes CONV_STREAM_BYTES or more stores its output
 * past the caches, from a staging span.  A whole 2051x2100 plane on one
 * thread does (its rows start at every alignment), bands of a few rows do
 * not; the two agree to the bit on every path: direct double (also equal
 * to the reference), float sums and exact float; separable rows made one,
 * two and four at a time.
 */
START_TEST(test_streaming_stores)
{
	enum { W = 2051, H = 2100 };
	unsigned long long rng = 4242;
	imf_image *frac = rand_image(W, H, 1, 0, 0, &rng), *ints = rand_image(W, H, 1, 0, 1, &rng);
	double sym[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1}, c5[5] = {1, 3, 2, 5, 4};
	big_kernel b;

	ck_assert_uint_ge((size_t)W * H * sizeof(float), CONV_STREAM_BYTES);
	for (int kind = 0; kind < 5; kind++) {
		imf_conv_params p;
		imf_conv_stream *s = NULL;
		imf_image *whole = NULL, *banded;
		imf_error err = {0};
		const imf_image *in = kind == 2 ? ints : frac;
		char what[64];

		imf_conv_params_default(&p);
		p.threads = 1;
		if (kind <= 1) {
			bk_init(&b, 3, 3, 1);
			for (size_t t = 0; t < 9; t++)
				b.w[t] = tu_rand(&rng) - 0.5;
			p.precision = kind == 1 ? IMF_PRECISION_FLOAT : IMF_PRECISION_EXACT;
		} else if (kind == 2) {
			static const double sobel[9] = {1, 0, -1, 2, 0, -2, 1, 0, -1};
			bk_init(&b, 3, 3, 1);
			memcpy(b.w, sobel, sizeof sobel);
		} else if (kind == 3) {
			bk_init(&b, 9, 9, 1.0 / 65536);
			outer(&b, sym, sym);
		} else {
			bk_init(&b, 5, 5, 1.0 / 225);
			outer(&b, c5, c5);
		}
		snprintf(what, sizeof what, "streaming stores, kind %d", kind);
		ck_assert_int_eq(imf_conv_stream_new(&b.k, &p, W, H, 1, 0, &s, &err), IMF_OK);
		ck_assert_int_eq(imf_image_new(W, H, 1, 0, NULL, &whole, &err), IMF_OK);
		ck_assert_int_eq(imf_conv_stream_run(s, in, 0, whole, 0, H, &err), IMF_OK);
		ck_assert_uint_eq(conv_stream_streamed_rows(s), H);
		if (kind >= 3)
			ck_assert_uint_gt(conv_stream_group_rows(s, kind == 3 ? 4 : 2), H / 2);
		imf_conv_stream_free(s);
		banded = stream_out(in, &b.k, &p, 0, &rng, what);
		assert_same(whole, banded, 1, what);
		if (kind == 0) {
			imf_image *ref = NULL;
			ck_assert_int_eq(imf_conv_reference(in, &b.k, &p, &ref, &err), IMF_OK);
			assert_same(whole, ref, 1, what);
			imf_image_free(ref);
		}
		imf_image_free(banded);
		imf_image_free(whole);
	}
	imf_image_free(frac);
	imf_image_free(ints);
}
END_TEST

/* A window that misses rows, or a band of the wrong size, is refused. */
START_TEST(test_stream_errors)
{
	static const double box[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	big_kernel b;
	imf_conv_params p;
	imf_conv_stream *s = NULL;
	imf_image *win = NULL, *band = NULL;
	imf_error err = {0};

	bk_init(&b, 3, 3, 1);
	memcpy(b.w, box, sizeof box);
	imf_conv_params_default(&p);
	ck_assert_int_eq(imf_conv_stream_new(&b.k, &p, 10, 10, 1, 0, &s, &err), IMF_OK);
	ck_assert_int_eq(imf_image_new(10, 3, 1, 0, NULL, &win, &err), IMF_OK);
	ck_assert_int_eq(imf_image_new(10, 2, 1, 0, NULL, &band, &err), IMF_OK);
	/* Output rows 4..5 read input rows 3..6: a window of 3 rows from 3 is short. */
	ck_assert_int_eq(imf_conv_stream_run(s, win, 3, band, 4, 2, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "convolution: band does not fit the stream");
	/* Past the last output row. */
	ck_assert_int_eq(imf_conv_stream_run(s, win, 7, band, 9, 2, &err), IMF_EINVAL);
	/* Rows 0..1 read 0..2: fits. */
	ck_assert_int_eq(imf_conv_stream_run(s, win, 0, band, 0, 2, &err), IMF_OK);
	imf_image_free(win);
	imf_image_free(band);
	imf_conv_stream_free(s);

	/* Stream creation checks what imf_conv_run checks. */
	ck_assert_int_eq(imf_conv_stream_new(&b.k, &p, 0, 10, 1, 0, &s, &err), IMF_EINVAL);
	ck_assert_ptr_null(s);
	p.pad_mode = IMF_PAD_VALID;
	ck_assert_int_eq(imf_conv_stream_new(&b.k, &p, 2, 10, 1, 0, &s, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "kernel 3x3 is larger than the padded input 2x10");
}
END_TEST

/*
 * The separable path's bound where it may run in float (a real kernel, or
 * real data), for every pixel:
 *   |fast - reference| <= SEP_BOUND * (|scale| * sum|w| * max|x| + |bias|)
 * (the passes round about (Fr + Fc + 8) 2^-24 of it: 2.3e-6 at 15x15).
 */
#define SEP_BOUND 1e-5

static int no_zero(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == 0)
			return 0;
	return 1;
}

/* A separable method string says which passes fold their mirrored taps. */
static void assert_folds(const char *method, int row, int col)
{
	static const char *const says[2][2] = {
	        {NULL, "symmetric column folded"},
	        {"symmetric row folded", "symmetric row and column folded"}};
	if (row || col)
		ck_assert_msg(strstr(method, says[row][col]), "%s: not \"%s\"", method,
		              says[row][col]);
	else
		ck_assert_msg(!strstr(method, "folded"), "%s: folded", method);
}

/*
 * Symmetric rank-1 kernels (Gaussians, boxes, any w_j = w_{F-1-j}): within
 * SEP_BOUND on real data, exact on integer kernels and data.  Odd and even
 * sizes, zero weights (also mirrored, and under infinities), every border,
 * strides, dilations, flip, widths past a span.
 */
START_TEST(test_separable_symmetric)
{
	/*
	 * Even entries (no zero weight) fold their passes; 20x21, 4x19 and 27x31
	 * over two passes of folded taps (11 and 10; 16 and 14).
	 */
	static const size_t sizes[][2] = {{5, 5}, {6, 6},  {7, 4}, {9, 15}, {15, 15}, {4, 11},
	                                  {21, 20}, {5, 7}, {19, 4}, {5, 9}, {31, 27}};
	unsigned long long rng = 31337;

	for (size_t si = 0; si < COUNT(sizes); si++) {
		for (int integer = 0; integer < 2; integer++) {
			const size_t rows = sizes[si][0], cols = sizes[si][1];
			imf_image *in = rand_image(541, 2 * rows + 5, 1, 0, integer, &rng);
			double c[BK_MAX], r[BK_MAX], sum_w = 0, max_x = 0;
			big_kernel b;

			bk_init(&b, rows, cols, integer ? 1.0 / 256 : 0.7);
			for (size_t i = 0; i < (rows + 1) / 2; i++)
				c[i] = c[rows - 1 - i] = integer ? floor(tu_rand(&rng) * 9)
				                                 : tu_rand(&rng) * 2 - 0.5;
			for (size_t j = 0; j < (cols + 1) / 2; j++)
				r[j] = r[cols - 1 - j] = integer ? floor(tu_rand(&rng) * 9) - 2
				                                 : tu_rand(&rng) * 2 - 1;
			/* never all zero; the middle (an even size's two) still mirrored */
			c[rows / 2] = c[(rows - 1) / 2] = integer ? 5 : 1.25;
			r[cols / 2] = r[(cols - 1) / 2] = integer ? 7 : -1.5;
			if (si % 2) { /* mirrored zeros: the pairs are skipped */
				c[0] = c[rows - 1] = 0;
				r[1] = r[cols - 2] = 0;
			}
			outer(&b, c, r);
			for (size_t t = 0; t < rows * cols; t++)
				sum_w += fabs(b.w[t]);
			for (size_t y = 0; y < imf_image_height(in); y++)
				for (size_t x = 0; x < imf_image_width(in); x++)
					max_x = fmax(max_x, fabs(imf_image_row(in, 0, y)[x]));
			for (int border = 0; border < 5; border++) {
				for (size_t stride = 1; stride <= 2; stride++) {
					imf_conv_params p;
					char what[160];
					imf_conv_params_default(&p);
					p.border = (imf_border)border;
					p.stride = stride;
					p.dilation = (size_t)(border + (int)stride) % 2 + 1;
					p.flip = (border + (int)si) % 2;
					p.bias = integer ? 3 : -0.3;
					const char *m = method_of(&b.k, &p, 541, 2 * rows + 5);
					ck_assert_ptr_nonnull(strstr(m, "separable"));
					assert_folds(m, stride == 1 && no_zero(r, cols),
					             stride == 1 && no_zero(c, rows));
					snprintf(what, sizeof what,
					         "symmetric %zux%zu, %s, stride %zu, %s", cols, rows,
					         imf_border_name(p.border), stride,
					         integer ? "integer" : "real");
					if (integer)
						check_against_reference(in, &b.k, &p, 1, what);
					else
						check_within(in, &b.k, &p,
						             SEP_BOUND * (0.7 * sum_w * max_x + 0.3),
						             what);
				}
			}
			imf_image_free(in);
		}
	}

	/* Mirrored zero weights under infinities and NaN add nothing. */
	{
		static const double c7[7] = {0, 1, 2, 3, 2, 1, 0}, r7[7] = {1, 0, 4, 6, 4, 0, 1};
		unsigned long long rng2 = 5;
		imf_image *bad = rand_image(70, 24, 1, 0, 1, &rng2);
		big_kernel b;
		imf_image_row(bad, 0, 2)[0] = INFINITY;  /* under c7[0] at the top */
		imf_image_row(bad, 0, 10)[33] = NAN;     /* under r7[1] and r7[5] */
		bk_init(&b, 7, 7, 1.0 / 64);
		outer(&b, c7, r7);
		for (int border = 0; border < 5; border++) {
			imf_conv_params p;
			char what[64];
			imf_conv_params_default(&p);
			p.border = (imf_border)border;
			snprintf(what, sizeof what, "symmetric, zeros under inf, %s",
			         imf_border_name(p.border));
			check_against_reference(bad, &b.k, &p, 1, what);
		}
		imf_image_free(bad);
	}
}
END_TEST

/*
 * Each output row of a separable kernel picks its arithmetic: float where
 * the result need not be exact, double where it must (an integer kernel
 * on integer rows) or where float could overflow or lose precision (huge,
 * tiny, infinite or NaN samples).  An image whose bands switch: real rows,
 * integer rows (the output rows reading only those exact), integers above
 * 2^22 (and 2^24), huge values (one well after the row's first fraction,
 * where classify_row tests moderation alone), a tiny one, an infinity and
 * a NaN; every border, dilation 1 and 2, real and integer kernels, flip.
 */
START_TEST(test_separable_float)
{
	static const double binom[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1};
	const size_t w = 300, h = 64;
	unsigned long long rng = 1618;
	imf_image *in = rand_image(w, h, 1, 0, 0, &rng);
	double max_x = 0;

	/* rows 16..39 integer, 40..43 large integers; 50..63 extreme values */
	for (size_t y = 16; y < 44; y++)
		for (size_t x = 0; x < w; x++)
			imf_image_row(in, 0, y)[x] = y < 40 ? (float)((x * 7 + y * 13) % 256)
			                                    : (float)(16777216 + 8 * (x % 1000));
	for (size_t y = 0; y < 50; y++)
		for (size_t x = 0; x < w; x++)
			max_x = fmax(max_x, fabs(imf_image_row(in, 0, y)[x]));
	imf_image_row(in, 0, 52)[10] = 1e37f; /* 256 times it overflows a float */
	imf_image_row(in, 0, 53)[250] = -1e37f; /* past the first fraction's block */
	imf_image_row(in, 0, 50)[w - 1] = 1e37f;  /* in the last, partial block */
	imf_image_row(in, 0, 55)[20] = 1e-30f;
	imf_image_row(in, 0, 58)[100] = INFINITY;
	imf_image_row(in, 0, 61)[200] = NAN;

	for (int kind = 0; kind < 2; kind++) {
		double c[9], r[9], sum_w = 0;
		big_kernel b;
		bk_init(&b, 9, kind ? 9 : 7, kind ? 1.0 / 65536 : 0.8);
		for (size_t i = 0; i < 9; i++) {
			c[i] = kind ? binom[i] : tu_rand(&rng) * 2 - 0.7;
			r[i] = kind ? binom[i] : tu_rand(&rng) - 0.4;
		}
		outer(&b, c, r);
		for (size_t t = 0; t < b.m.rows * b.m.cols; t++)
			sum_w += fabs(b.w[t]);
		for (int border = 0; border < 5; border++) {
			for (size_t dil = 1; dil <= 2; dil++) {
				imf_conv_params p;
				imf_image *a = NULL, *ref = NULL;
				imf_error err = {0};
				const double bound = SEP_BOUND * (b.m.scale * sum_w * max_x + 0.5);
				imf_conv_params_default(&p);
				p.border = (imf_border)border;
				p.dilation = dil;
				p.flip = border % 2;
				p.bias = 0.5;
				ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, w, h), "separable"));
				ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &a, &err), IMF_OK);
				ck_assert_int_eq(imf_conv_reference(in, &b.k, &p, &ref, &err), IMF_OK);
				for (size_t y = 0; y < h; y++) {
					/* input rows y - 4D .. y + 4D (same padding, 9 rows) */
					const size_t lo = y >= 4 * dil ? y - 4 * dil : 0, hi = y + 4 * dil;
					const int integer_rows = kind && lo >= 16 && hi < 44;
					/* reads rows 50.. (wrap: the top rows do too) */
					const int wild = hi >= 50 || (p.border == IMF_BORDER_WRAP &&
					                              y < 4 * dil);
					for (size_t x = 0; x < w; x++) {
						double u = imf_image_row(a, 0, y)[x];
						double v = imf_image_row(ref, 0, y)[x];
						int ok;
						if (isnan(u) || isnan(v))
							ok = isnan(u) && isnan(v);
						else if (integer_rows)
							ok = u == v;
						else if (wild) /* double: within rounding */
							ok = u == v || fabs(u - v) <=
							     1e-4 * (fabs(v) > 1 ? fabs(v) : 1);
						else
							ok = fabs(u - v) <= bound;
						ck_assert_msg(ok, "kind %d, %s, dilation %zu: (%zu, %zu): "
						              "%.9g, reference %.9g", kind,
						              imf_border_name(p.border), dil, y, x, u, v);
					}
				}
				imf_image_free(a);
				imf_image_free(ref);
			}
		}
	}
	imf_image_free(in);
}
END_TEST

/* Every bit of every value the same, the sign of zero included. */
static void assert_bits_same(const imf_image *a, const imf_image *b, const char *what)
{
	assert_same(a, b, 1, what);
	for (int c = 0; c < imf_image_channels(a); c++)
		for (size_t y = 0; y < imf_image_height(a); y++)
			ck_assert_msg(memcmp(imf_image_row_const(a, c, y), imf_image_row_const(b, c, y),
			                     imf_image_width(a) * sizeof(float)) == 0,
			              "%s: plane %d, row %zu differs in its bits", what, c, y);
}

/*
 * in through one imf_conv_stream as a single band; made[0] and made[1] =
 * the output rows its workers made two, and four, at a time.
 */
static imf_image *stream_whole(const imf_image *in, const imf_kernel *k,
                               const imf_conv_params *p, size_t made[2])
{
	imf_conv_stream *s = NULL;
	imf_image *out = NULL;
	imf_error err = {0};
	size_t ow, oh;
	int och, oa;

	ck_assert_int_eq(imf_conv_stream_new(k, p, imf_image_width(in), imf_image_height(in),
	                                     imf_image_channels(in), imf_image_has_alpha(in), &s,
	                                     &err),
	                 IMF_OK);
	imf_conv_stream_output(s, &ow, &oh, &och, &oa);
	ck_assert_int_eq(imf_image_new(ow, oh, och, oa, NULL, &out, &err), IMF_OK);
	ck_assert_int_eq(imf_conv_stream_run(s, in, 0, out, 0, oh, &err), IMF_OK);
	made[0] = conv_stream_group_rows(s, 2);
	made[1] = conv_stream_group_rows(s, 4);
	imf_conv_stream_free(s);
	return out;
}

/*
 * Where consecutive output rows all take the float passes, the separable
 * path's column pass makes two at once (each row-pass result loaded once
 * for both), four when it folds in one pass.  A row must come out the same
 * to the bit in a group or alone (the sign of zero included), since threads
 * and bands split the rows differently: each image streamed one output row
 * a band (never grouped) equals the whole image run at once (grouped
 * wherever rows qualify; the workers' counts say groups of each size ran),
 * and so do bands of 1 to 6 rows and runs on three and four threads (their
 * parts group other rows; wrap, which does not stream, has only those).
 * Real and integer column weights, symmetric ones folded (the binomial;
 * 21x20 in two folded passes each way; 7x6 on four planes) and not; every
 * border (zero: the first and last rows read the border's zeros and go
 * alone); a 12x3 kernel on four planes (more planes than columns) and on
 * three and alpha; widths past one span and odd; rows where groups must
 * fall back (integer rows under an integer kernel, a huge value, a NaN);
 * integer data under an integer kernel is never grouped (it must be
 * exact).  The method says when groups may run: not with a zero column
 * weight, not with dilation 2.  And a folded group of four keeps +0 for a
 * sum of -0 terms.
 */
START_TEST(test_separable_groups)
{
	static const double binom[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1};
	unsigned long long rng = 2718;

	for (int kind = 0; kind < 6; kind++) {
		const int narrow = kind == 2 || kind == 3 || kind == 5; /* four planes */
		const size_t w = narrow ? 37 : 531;
		const size_t h = kind == 4 ? 61 : 41; /* 21 rows: some pair clear of row 30 */
		/* kind 2 and 5: four planes; 3: three and alpha */
		imf_image *in = rand_image(w, h, narrow ? 4 : 1, kind == 3, 0, &rng);
		double c[BK_MAX], r[BK_MAX];
		big_kernel b;

		if (kind == 0) { /* 15x15, real weights */
			bk_init(&b, 15, 15, 1);
			for (size_t i = 0; i < 15; i++) {
				c[i] = 0.1 + tu_rand(&rng);
				r[i] = tu_rand(&rng) - 0.3;
			}
		} else if (kind == 1) { /* 9x9 binomial: exact in double on integer rows */
			bk_init(&b, 9, 9, 1.0 / 65536);
			memcpy(c, binom, sizeof binom);
			memcpy(r, binom, sizeof binom);
		} else if (kind <= 3) { /* 12x3 */
			bk_init(&b, 12, 3, 0.25);
			for (size_t i = 0; i < 12; i++)
				c[i] = tu_rand(&rng) + 0.5;
			r[0] = 0.75;
			r[1] = -1.5;
			r[2] = 0.125;
		} else { /* symmetric, real weights: 20x21 and 7x6 */
			const size_t fr = kind == 4 ? 21 : 6, fc = kind == 4 ? 20 : 7;
			bk_init(&b, fr, fc, 0.3);
			for (size_t i = 0; i < (fr + 1) / 2; i++)
				c[i] = c[fr - 1 - i] = 0.2 + tu_rand(&rng);
			for (size_t j = 0; j < (fc + 1) / 2; j++)
				r[j] = r[fc - 1 - j] = tu_rand(&rng) - 0.6;
		}
		outer(&b, c, r);
		/* rows 10..24 integers (kind 1: exact, double); a huge value; a NaN */
		for (size_t y = 10; y < 25; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(in, 0, y)[x] = (float)((x * 5 + y * 11) % 256);
		imf_image_row(in, 0, 30)[w / 2] = 1e37f;
		imf_image_row(in, 0, 36)[w - 1] = NAN;

		for (int border = 0; border < 5; border++) {
			imf_conv_params p;
			imf_image *whole = NULL, *rows;
			imf_error err = {0};
			char what[96];
			imf_conv_params_default(&p);
			p.border = (imf_border)border;
			p.flip = border % 2;
			p.bias = border == 3 ? 0.5 : 0;
			snprintf(what, sizeof what, "groups: kind %d, border %d", kind, border);
			/* folded in one pass: groups of four (21 rows fold in two) */
			const int fours = kind == 1 || kind == 5;
			ck_assert_msg(strstr(method_of(&b.k, &p, w, h),
			                     fours ? "four output rows" : "two output rows"),
			              "%s: %s", what, method_of(&b.k, &p, w, h));
			assert_folds(method_of(&b.k, &p, w, h), kind == 1 || kind >= 4,
			             kind == 1 || kind >= 4);
			ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &whole, &err), IMF_OK);
			if (p.border != IMF_BORDER_WRAP) { /* wrap does not stream */
				size_t made[2];
				rows = stream_out(in, &b.k, &p, 1, &rng, what);
				assert_bits_same(rows, whole, what);
				imf_image_free(rows);
				rows = stream_out(in, &b.k, &p, 0, &rng, what);
				assert_bits_same(rows, whole, what);
				imf_image_free(rows);
				/* groups did run: most of the rows, not all; fours where they may */
				rows = stream_whole(in, &b.k, &p, made);
				assert_bits_same(rows, whole, what);
				ck_assert_msg(made[0] + made[1] >= 10 && made[0] + made[1] < h &&
				              (fours ? made[1] >= 8 : made[1] == 0),
				              "%s: %zu rows paired, %zu in fours", what, made[0],
				              made[1]);
				imf_image_free(rows);
			}
			/* three and four threads: parts grouped from their starts */
			for (p.threads = 3; p.threads <= 4; p.threads++) {
				ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &rows, &err), IMF_OK);
				assert_bits_same(rows, whole, what);
				imf_image_free(rows);
			}
			imf_image_free(whole);
			p.threads = 1;

			p.dilation = 2;
			ck_assert_ptr_null(strstr(method_of(&b.k, &p, w, h), "output rows at a time"));
		}
		imf_image_free(in);
	}

	/* integer data under the binomial: exact in double, never paired */
	{
		static const double binom[9] = {1, 8, 28, 56, 70, 56, 28, 8, 1};
		unsigned long long irng = 31;
		imf_image *in = rand_image(64, 30, 1, 0, 1, &irng), *a, *ref = NULL;
		big_kernel b;
		imf_conv_params p;
		imf_error err = {0};
		size_t made[2];
		bk_init(&b, 9, 9, 1.0 / 65536);
		outer(&b, binom, binom);
		imf_conv_params_default(&p);
		p.border = IMF_BORDER_REPLICATE;
		a = stream_whole(in, &b.k, &p, made);
		ck_assert_uint_eq(made[0] + made[1], 0);
		ck_assert_int_eq(imf_conv_reference(in, &b.k, &p, &ref, &err), IMF_OK);
		assert_bits_same(a, ref, "binomial on integers");
		imf_image_free(a);
		imf_image_free(ref);
		imf_image_free(in);
	}

	/* a zero column weight: no pairs (each would be a tap of weight 0) */
	{
		big_kernel b;
		imf_conv_params p;
		double c[9], r[9];
		bk_init(&b, 9, 9, 1);
		for (size_t i = 0; i < 9; i++)
			c[i] = r[i] = 0.5 + (double)i;
		c[4] = 0;
		outer(&b, c, r);
		imf_conv_params_default(&p);
		ck_assert_ptr_nonnull(strstr(method_of(&b.k, &p, 100, 50), "separable"));
		ck_assert_ptr_null(strstr(method_of(&b.k, &p, 100, 50), "output rows at a time"));
	}

	/* one pass symmetric, the other not: that one alone folds, grouped or not */
	for (int sym_col = 0; sym_col < 2; sym_col++) {
		unsigned long long frng = 77;
		imf_image *in = rand_image(200, 40, 1, 0, 0, &frng), *a, *alone;
		const size_t fr = sym_col ? 9 : 8, fc = sym_col ? 8 : 9;
		double sym[9], asym[8], sum_w = 0, max_x = 0;
		big_kernel b;
		imf_conv_params p;
		size_t made[2];
		for (size_t i = 0; i < 9; i++)
			sym[i] = 1 + (double)(i < 5 ? i : 8 - i);
		for (size_t j = 0; j < 8; j++)
			asym[j] = 0.5 + (double)j;
		bk_init(&b, fr, fc, 0.01);
		outer(&b, sym_col ? sym : asym, sym_col ? asym : sym);
		for (size_t t = 0; t < fr * fc; t++)
			sum_w += 0.01 * fabs(b.w[t]);
		for (size_t y = 0; y < 40; y++)
			for (size_t x = 0; x < 200; x++)
				max_x = fmax(max_x, fabs(imf_image_row(in, 0, y)[x]));
		imf_conv_params_default(&p);
		p.border = IMF_BORDER_REFLECT;
		assert_folds(method_of(&b.k, &p, 200, 40), !sym_col, sym_col);
		check_within(in, &b.k, &p, SEP_BOUND * sum_w * max_x, "one pass folded");
		a = stream_whole(in, &b.k, &p, made);
		/* a folded column pass of one pass: every row in fours; else in pairs */
		ck_assert_uint_eq(made[sym_col], 40);
		ck_assert_uint_eq(made[!sym_col], 0);
		alone = stream_out(in, &b.k, &p, 1, &frng, "one pass folded");
		assert_bits_same(alone, a, "one pass folded, alone");
		imf_image_free(alone);
		imf_image_free(a);
		imf_image_free(in);
	}

	/* -0 everywhere under a folded 9x9: every sum of -0 terms comes out +0, in fours too */
	{
		unsigned long long zrng = 9;
		imf_image *in = rand_image(70, 20, 1, 0, 0, &zrng), *a;
		double c[9], r[9];
		big_kernel b;
		imf_conv_params p;
		size_t made[2];
		for (size_t i = 0; i < 9; i++)
			c[i] = r[i] = 0.25 + (double)(i < 5 ? i : 8 - i);
		bk_init(&b, 9, 9, 0.3);
		outer(&b, c, r);
		for (size_t y = 0; y < 20; y++)
			for (size_t x = 0; x < 70; x++)
				imf_image_row(in, 0, y)[x] = -0.0f;
		imf_conv_params_default(&p);
		p.border = IMF_BORDER_REPLICATE;
		a = stream_whole(in, &b.k, &p, made);
		ck_assert_uint_eq(made[1], 20);
		for (size_t y = 0; y < 20; y++)
			for (size_t x = 0; x < 70; x++) {
				float v = imf_image_row(a, 0, y)[x];
				ck_assert_msg(v == 0 && !signbit(v), "-0 under a folded group: (%zu, %zu) "
				              "%g, sign %d", y, x, v, signbit(v) != 0);
			}
		imf_image_free(a);
		imf_image_free(in);
	}
}
END_TEST

/*
 * Kernels of several matrices take the accumulate-then-combine loops:
 * magnitude kernels (2 and 3 parts) on an RGBA image (alpha carried), and
 * 3-slice kernels on an RGB image; sizes 1..15, every border, strides,
 * real and integer data, zero weights: equal to the last bit.
 */
START_TEST(test_multi_matrix)
{
	static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 9, 12, 15};
	static const size_t widths[] = {13, 1101}; /* past a direct span (1024) */
	unsigned long long rng = 2718;

	for (size_t si = 0; si < COUNT(sizes); si++) {
		for (int kind = 0; kind < 3; kind++) {
			const size_t n = sizes[si], count = kind == 0 ? 2 : 3;
			imf_matrix m[3];
			double w[3][KMAX * KMAX];
			imf_kernel k;
			memset(&k, 0, sizeof k);
			k.name = empty;
			k.description = empty;
			k.combine = kind == 2 ? IMF_COMBINE_NONE : IMF_COMBINE_MAGNITUDE;
			k.count = count;
			k.m = m;
			for (size_t q = 0; q < count; q++) {
				m[q].rows = n;
				m[q].cols = n;
				m[q].w = w[q];
				m[q].scale = q == 1 ? 0.5 : 1;
				for (size_t t = 0; t < n * n; t++)
					w[q][t] = tu_rand(&rng) < 0.2 ? 0 : tu_rand(&rng) * 2 - 1;
			}
			for (size_t wi = 0; wi < COUNT(widths); wi++) {
				for (int integer = 0; integer < 2; integer++) {
					imf_image *in = rand_image(widths[wi], n + 6, kind == 2 ? 3 : 4,
					                           kind != 2, integer, &rng);
					for (int border = 0; border < 5; border++) {
						imf_conv_params p;
						char what[160];
						imf_conv_params_default(&p);
						p.border = (imf_border)border;
						p.stride = (size_t)border % 2 + 1;
						p.bias = integer ? 1 : -0.75;
						snprintf(what, sizeof what,
						         "%zu matrices %zux%zu (%s), width %zu, %s, "
						         "stride %zu", count, n, n,
						         kind == 2 ? "slices" : "magnitude",
						         widths[wi], imf_border_name(p.border),
						         p.stride);
						check_against_reference(in, &k, &p, 1, what);
					}
					imf_image_free(in);
				}
			}
		}
	}
}
END_TEST

/*
 * A zero result has the reference's sign: with a bias of -0 the reference
 * adds 0 + sum first, so -0 never comes out; the fast loops (which skip that
 * first 0 +) must agree, on every path: real, exact float, separable,
 * several matrices.
 */
START_TEST(test_signed_zero)
{
	static const double neg[9] = {-1, -2, -1, -0.5, -4, -3, -2, -1, -7};
	static const double ineg[9] = {-1, -2, -1, -3, -4, -3, -2, -1, -7};
	static const double g5[5] = {1, 4, 6, 4, 1};
	imf_image *in = NULL;
	imf_error err = {0};
	big_kernel b;

	ck_assert_int_eq(imf_image_new(37, 9, 1, 0, NULL, &in, &err), IMF_OK);
	for (size_t y = 0; y < 9; y++)
		for (size_t x = 0; x < 37; x++)
			imf_image_row(in, 0, y)[x] = 0.0f; /* products -0 under negative weights */
	for (int kind = 0; kind < 3; kind++) {
		for (int bz = 0; bz < 2; bz++) {
			imf_conv_params p;
			imf_image *a = NULL, *r = NULL;
			if (kind == 0) {
				bk_init(&b, 3, 3, 0.75);
				memcpy(b.w, neg, sizeof neg);
			} else if (kind == 1) {
				bk_init(&b, 3, 3, 3);
				memcpy(b.w, ineg, sizeof ineg);
			} else {
				bk_init(&b, 5, 5, -1.0 / 256);
				outer(&b, g5, g5);
			}
			imf_conv_params_default(&p);
			p.bias = bz ? -0.0 : 0.0;
			ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &a, &err), IMF_OK);
			ck_assert_int_eq(imf_conv_reference(in, &b.k, &p, &r, &err), IMF_OK);
			for (size_t y = 0; y < 9; y++)
				for (size_t x = 0; x < 37; x++) {
					float u = imf_image_row(a, 0, y)[x], v = imf_image_row(r, 0, y)[x];
					ck_assert_msg(u == v && signbit(u) == signbit(v),
					              "kind %d, bias %s0: (%zu, %zu): %g, reference %g",
					              kind, bz ? "-" : "+", y, x, u, v);
				}
			imf_image_free(a);
			imf_image_free(r);
		}
	}
	imf_image_free(in);
}
END_TEST

/* The row tests, written plainly in double: see conv_pad_row. */
static int plain_moderate(float v)
{
	double a = fabs((double)v);
	return !isnan(v) && a <= 0x1p64 && (a == 0 || a >= 0x1p-64);
}

static int plain_exact(float v, float lim)
{
	return isfinite(v) && (double)v == floor((double)v) && fabs((double)v) <= lim;
}

/*
 * The checks each new ring row gets as it is padded: exact (every value an
 * integer of magnitude <= lim) and moderate (0, or 2^-64 .. 2^64), on the
 * boundaries and every kind of float, in the vector body and in the tail
 * of the copied part, and in the part the output does not read (pw <
 * width, checked apart).
 */
START_TEST(test_row_checks)
{
	const float sub = 0x1p-149f; /* the smallest subnormal */
	const float vals[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 255.0f, 256.0f, 257.0f,
	                      -256.0f, -257.0f, 255.5f, 0x1p22f, 0x1p22f + 1.0f, 0x1p22f + 0.5f,
	                      0x1p23f, 0x1p64f, nextafterf(0x1p64f, INFINITY), -0x1p64f,
	                      -nextafterf(0x1p64f, INFINITY), 0x1p-64f,
	                      nextafterf(0x1p-64f, 0.0f), -0x1p-64f,
	                      -nextafterf(0x1p-64f, 0.0f), sub, -sub, FLT_MIN, FLT_MAX,
	                      -FLT_MAX, INFINITY, -INFINITY, NAN, 1e30f, 1e-30f};
	const float lims[] = {256.0f, 0x1p22f};
	enum { W = 77 };
	static const size_t shifts[] = {0, 3, 14}; /* dst + 2 from a 64-byte line */
	static const size_t ats[] = {0, 9, 20, 33, 47, 60, W - 1};
	float src[W];
	_Alignas(64) float dbuf[W + 4 + 16];
	ptrdiff_t colsrc[W + 4];

	for (size_t i = 0; i < COUNT(colsrc); i++)
		colsrc[i] = -1; /* zero border */
	/*
	 * Each value at the start, in the vector body and in the tail, with
	 * the copied part's start on a line and off it (the AVX-512 copy
	 * stores from the first line on).
	 */
	for (size_t v = 0; v < COUNT(vals); v++)
		for (size_t k = 0; k < COUNT(shifts) * COUNT(ats); k++) {
			float *dst = dbuf + (16 - 2 + shifts[k % COUNT(shifts)]) % 16;
			const size_t at = ats[k / COUNT(shifts)];
			for (size_t x = 0; x < W; x++)
				src[x] = (float)(x % 7) - 3.0f;
			src[at] = vals[v];
			for (size_t l = 0; l < COUNT(lims); l++) {
				int mod = -1;
				int ex = conv_pad_row(dst, src, W, 2, W + 4, colsrc, lims[l], &mod);
				ck_assert_msg(ex == plain_exact(vals[v], lims[l]),
				              "exact(%a, lim %g) at %zu: %d", (double)vals[v],
				              (double)lims[l], at, ex);
				ck_assert_msg(mod == plain_moderate(vals[v]), "moderate(%a) at %zu: %d",
				              (double)vals[v], at, mod);
				ck_assert(memcmp(dst + 2, src, sizeof src) == 0);
				/* The output reads the first 20 columns; the rest is checked apart. */
				mod = -1;
				ex = conv_pad_row(dst, src, W, 2, 20, colsrc, lims[l], &mod);
				ck_assert_msg(ex == plain_exact(vals[v], lims[l]),
				              "exact(%a), partly read, at %zu: %d", (double)vals[v], at,
				              ex);
				ck_assert_msg(mod == plain_moderate(vals[v]),
				              "moderate(%a), partly read, at %zu: %d", (double)vals[v],
				              at, mod);
			}
			int mod = -1;
			(void)conv_pad_row(dst, src, W, 2, W + 4, colsrc, 0, &mod); /* float sums */
			ck_assert_msg(mod == plain_moderate(vals[v]), "moderate(%a) alone at %zu: %d",
			              (double)vals[v], at, mod);
			mod = -1;
			(void)conv_pad_row(dst, src, W, 2, 20, colsrc, 0, &mod);
			ck_assert_msg(mod == plain_moderate(vals[v]),
			              "moderate(%a) alone, partly read, at %zu: %d", (double)vals[v],
			              at, mod);
		}

	/*
	 * The separable path's test: moderate as above; integer unless a value
	 * below 2^22 has a fraction.  It looks at 64 values at a time and, once
	 * a fraction is found, for moderation alone: the value sits in the
	 * first block of an integer row, past it (150), and past a fraction in
	 * the first block.
	 */
	enum { WC = 200 };
	float row[WC];
	for (size_t v = 0; v < COUNT(vals); v++)
		for (int lead = 0; lead < 2; lead++)
			for (size_t at = 10; at < WC; at += 140) {
				int integer = -1, mod = -1;
				float u = vals[v];
				for (size_t x = 0; x < WC; x++)
					row[x] = (float)(x % 5);
				if (lead)
					row[3] = 0.25f;
				row[at] = u;
				conv_classify_row(row, WC, &integer, &mod);
				int frac = lead || (fabsf(u) < 0x1p22f && u != floorf(u));
				ck_assert_msg(mod == plain_moderate(u), "classify: moderate(%a) at %zu%s: %d",
				              (double)u, at, lead ? " after a fraction" : "", mod);
				/* A row that is not moderate may stop early: only its moderation counts. */
				if (plain_moderate(u))
					ck_assert_msg(integer == !frac, "classify: integer(%a) at %zu%s: %d",
					              (double)u, at, lead ? " after a fraction" : "",
					              integer);
			}
}
END_TEST

/*
 * --precision float: what runs, and where it does not apply.  The method
 * names float sums; weights float cannot hold moderately (below 2^-40)
 * keep double, equal to the reference to the last bit; so does a stride
 * of 2.  Several matrices (magnitude, slices) sum each in float, within
 * the bound of each summed: (taps + 3) 2^-24 (sum over matrices of
 * |scale| sum|w|) max|x| + |bias| 2^-24.  Threads and bands do not change
 * a value.
 */
START_TEST(test_float_precision_paths)
{
	unsigned long long rng = 31337;
	imf_image *in = rand_image(203, 19, 1, 0, 0, &rng), *base = NULL;
	imf_conv_params p;
	imf_error err = {0};
	big_kernel b;

	bk_init(&b, 3, 3, 1);
	for (size_t t = 0; t < 9; t++)
		b.w[t] = tu_rand(&rng) - 0.5;
	b.w[0] += 0.5;
	imf_conv_params_default(&p);
	ck_assert_str_eq(method_of(&b.k, &p, 203, 19), "direct (double)");
	p.precision = IMF_PRECISION_FLOAT;
	ck_assert_str_eq(method_of(&b.k, &p, 203, 19), "direct (float sums)");
	b.m.scale = 3; /* integer kernel: exact float loops first */
	for (size_t t = 0; t < 9; t++)
		b.w[t] = (double)(t % 4) - 1;
	ck_assert_str_eq(method_of(&b.k, &p, 203, 19),
	                 "direct (exact float for integer samples, else float sums)");
	/* A weight float cannot hold (1e-13 < 2^-40): double, as exact. */
	b.w[4] = 1e-13;
	ck_assert_str_eq(method_of(&b.k, &p, 203, 19), "direct (double)");
	check_against_reference(in, &b.k, &p, 1, "float precision, tiny weight");
	b.w[4] = 0.3;
	p.stride = 2;
	check_against_reference(in, &b.k, &p, 1, "float precision, stride 2");
	/*
	 * Rows with a value beyond 2^64, below 2^-64, NaN or infinite sum in
	 * double: the output rows they reach equal the reference to the last
	 * bit.  Two neighbours of 1e30 under weights 1e10 and -1e10 cancel
	 * exactly in double; in float each product would be infinite, and the
	 * sum NaN.  So would two of 3e38 under an integer kernel's 2 and -2
	 * (rows it cannot sum exactly in float are checked apart).
	 */
	{
		static const float wild[] = {1e30f, 1e-30f, NAN, -INFINITY, 3e38f};
		imf_image *hot = rand_image(203, 19, 1, 0, 0, &rng);
		big_kernel big;
		bk_init(&big, 3, 3, 1);
		p.stride = 1;
		for (size_t v = 0; v < COUNT(wild); v++) {
			for (size_t t = 0; t < 9; t++)
				big.w[t] = (t % 2 ? -1 : 1) * (wild[v] == 3e38f ? 2 : 1e10);
			imf_image *a = NULL, *r = NULL;
			imf_error e = {0};
			char what[64];
			imf_image_row(hot, 0, 9)[100] = wild[v];
			imf_image_row(hot, 0, 9)[101] = wild[v];
			snprintf(what, sizeof what, "float precision, a row holding %g", wild[v]);
			ck_assert_int_eq(imf_conv_run(hot, &big.k, &p, &a, &e), IMF_OK);
			ck_assert_int_eq(imf_conv_reference(hot, &big.k, &p, &r, &e), IMF_OK);
			for (size_t y = 8; y <= 10; y++)
				for (size_t x = 0; x < 203; x++) {
					float u = imf_image_row(a, 0, y)[x], q = imf_image_row(r, 0, y)[x];
					ck_assert_msg((isnan(u) && isnan(q)) || (u == q && signbit(u) == signbit(q)),
					              "%s: (%zu, %zu): %g, reference %g", what, y, x, u, q);
				}
			imf_image_free(a);
			imf_image_free(r);
		}
		imf_image_free(hot);
	}

	/* Threads: the same values for every count. */
	p.stride = 1;
	p.border = IMF_BORDER_REFLECT;
	ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &base, &err), IMF_OK);
	check_float_sums(in, &b.k, &p, "float precision, reflect");
	for (size_t n = 2; n <= 5; n++) {
		imf_image *o = NULL;
		p.threads = n;
		ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &o, &err), IMF_OK);
		assert_same(o, base, 1, "float precision, threads");
		imf_image_free(o);
	}
	imf_image_free(base);
	imf_image_free(in);

	/* Several matrices, 3 channels. */
	for (int kind = 0; kind < 2; kind++) {
		imf_matrix m[3];
		double w[3][25], sum = 0, max_x = 0;
		imf_kernel k;
		imf_image *in3 = rand_image(77, 11, 3, 0, 0, &rng);
		memset(&k, 0, sizeof k);
		k.name = empty;
		k.description = empty;
		k.combine = kind ? IMF_COMBINE_NONE : IMF_COMBINE_MAGNITUDE;
		k.count = kind ? 3 : 2;
		k.m = m;
		for (size_t q = 0; q < k.count; q++) {
			double s = 0;
			m[q] = (imf_matrix){ .rows = 5, .cols = 5, .w = w[q], .scale = q ? 0.5 : 1 };
			for (size_t t = 0; t < 25; t++) {
				w[q][t] = tu_rand(&rng) * 2 - 1;
				s += fabs(w[q][t]);
			}
			sum += m[q].scale * s;
		}
		for (int c = 0; c < 3; c++)
			for (size_t y = 0; y < 11; y++)
				for (size_t x = 0; x < 77; x++)
					max_x = fmax(max_x, fabs(imf_image_row(in3, c, y)[x]));
		imf_conv_params_default(&p);
		p.precision = IMF_PRECISION_FLOAT;
		p.bias = -0.75;
		check_within(in3, &k, &p, 28 * 0x1p-24 * (sum * max_x + 0.75),
		             kind ? "float precision, slices" : "float precision, magnitude");
		imf_image_free(in3);
	}
}
END_TEST

START_TEST(test_precision_names)
{
	imf_precision v = IMF_PRECISION_EXACT;
	imf_error err = {0};
	imf_conv_params p;
	imf_image *in = NULL, *o = NULL;
	big_kernel b;

	ck_assert_int_eq(imf_precision_parse("float", &v, &err), IMF_OK);
	ck_assert_int_eq(v, IMF_PRECISION_FLOAT);
	ck_assert_str_eq(imf_precision_name(v), "float");
	ck_assert_int_eq(imf_precision_parse("exact", &v, &err), IMF_OK);
	ck_assert_int_eq(v, IMF_PRECISION_EXACT);
	ck_assert_str_eq(imf_precision_name(v), "exact");
	ck_assert_int_eq(imf_precision_parse("double", &v, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "unknown precision 'double' (exact, float)");
	ck_assert_int_eq(imf_precision_parse(NULL, &v, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "unknown precision '' (exact, float)");

	imf_conv_params_default(&p);
	ck_assert_int_eq(p.precision, IMF_PRECISION_EXACT);
	p.precision = (imf_precision)7;
	bk_init(&b, 1, 1, 1);
	b.w[0] = 1;
	ck_assert_int_eq(imf_image_new(4, 4, 1, 0, NULL, &in, &err), IMF_OK);
	ck_assert_int_eq(imf_conv_run(in, &b.k, &p, &o, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "unknown precision 7");
	ck_assert_ptr_null(o);
	imf_image_free(in);
}
END_TEST

/* imf_conv_run's output, with the AVX-512 loops on or off */
static imf_image *run_z(const imf_image *in, const imf_kernel *k, const imf_conv_params *p,
                        int z)
{
	imf_image *out = NULL;
	imf_error err = {0};
	conv_z_use(z);
	ck_assert_int_eq(imf_conv_run(in, k, p, &out, &err), IMF_OK);
	conv_z_use(1);
	return out;
}

/*
 * The AVX-512 loops (conv_z_loops: a 3x3 kernel's float sums, the
 * separable path's folded row pass and four-row column pass) give the
 * other loops' values to the bit, the sign of zero included: every width
 * from 1 to past a span and round 16 and 32 (where they hand the last
 * columns to the plain loops), every border, flip, scales and biases (the
 * column pass takes the plain loops for a bias), a row with a NaN (its
 * output rows go to double) and rows of -0.  Where the CPU has no AVX-512
 * both runs take the same loops; the values are still held to the
 * reference.
 */
START_TEST(test_avx512_loops)
{
	static const size_t widths[] = {1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 100, 1101};
	unsigned long long rng = 5150;

	for (size_t wi = 0; wi < COUNT(widths); wi++) {
		const size_t w = widths[wi], h = 23;
		imf_image *in = rand_image(w, h, 1, 0, 0, &rng);
		big_kernel b;
		char what[160];

		for (size_t x = 0; x < w; x++)
			imf_image_row(in, 0, 3)[x] = -0.0f;
		imf_image_row(in, 0, 11)[w / 2] = NAN;
		bk_init(&b, 3, 3, 1);
		for (size_t t = 0; t < 9; t++)
			b.w[t] = tu_rand(&rng) - 0.5;
		for (int v = 0; v < 10; v++) {
			imf_conv_params p;
			imf_conv_params_default(&p);
			p.precision = IMF_PRECISION_FLOAT;
			p.border = (imf_border)(v % 5);
			p.flip = v / 5;
			b.m.scale = v % 3 == 1 ? 1.0 / 7 : v % 3 == 2 ? 3 : 1;
			p.bias = v % 4 == 3 ? 0.25 : 0;
			ck_assert_str_eq(method_of(&b.k, &p, w, h), "direct (float sums)");
			imf_image *a = run_z(in, &b.k, &p, 1), *c = run_z(in, &b.k, &p, 0);
			snprintf(what, sizeof what, "3x3 float sums, width %zu, %s, flip %d, scale %g, bias %g",
			         w, imf_border_name(p.border), p.flip, b.m.scale, p.bias);
			assert_bits_same(a, c, what);
			check_float_sums(in, &b.k, &p, what);
			imf_image_free(a);
			imf_image_free(c);
		}
		for (size_t f = 3; f <= 19; f += 2) {
			double g[19];
			for (size_t i = 0; i < f; i++) {
				double d = (double)i - (double)(f - 1) / 2;
				g[i] = f == 9 ? 1 : exp(-d * d / (f * 0.4)); /* 9x9: a box */
			}
			/* f columns (the row pass); a 3-wide kernel goes separable 7 high */
			const size_t rows = f < 5 ? 7 : f;
			double c[19];
			for (size_t i = 0; i < rows; i++) /* symmetric: the column pass folds */
				c[i] = rows > f ? 1 + 0.25 * (double)(i < rows - 1 - i ? i : rows - 1 - i)
				                : g[i];
			bk_init(&b, rows, f, f == 9 ? 1.0 / 81 : 0.37);
			outer(&b, c, g);
			for (int v = 0; v < 5; v++) {
				imf_conv_params p;
				imf_conv_params_default(&p);
				p.border = (imf_border)v;
				p.bias = v == 2 ? -1.5 : 0;
				p.flip = v == 3;
				if (rows > h)
					continue;
				ck_assert_msg(strstr(method_of(&b.k, &p, w, h), "separable") != NULL,
				              "%zux%zu, width %zu: %s", f, rows, w, method_of(&b.k, &p, w, h));
				imf_image *a = run_z(in, &b.k, &p, 1), *c = run_z(in, &b.k, &p, 0);
				snprintf(what, sizeof what, "separable %zux%zu, width %zu, %s, bias %g", f, rows,
				         w, imf_border_name(p.border), p.bias);
				assert_bits_same(a, c, what);
				check_within(in, &b.k, &p, 1e-3, what);
				imf_image_free(a);
				imf_image_free(c);
			}
		}
		imf_image_free(in);
	}
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_every_size, 0, KMAX);
	tcase_add_test(tc, test_exact_float_fallback);
	tcase_add_test(tc, test_separable);
	tcase_add_test(tc, test_separable_detection);
	tcase_add_test(tc, test_separable_symmetric);
	tcase_add_test(tc, test_separable_float);
	tcase_add_test(tc, test_separable_groups);
	tcase_add_test(tc, test_multi_matrix);
	tcase_add_test(tc, test_signed_zero);
	tcase_add_test(tc, test_row_checks);
	tcase_add_test(tc, test_float_precision_paths);
	tcase_add_test(tc, test_avx512_loops);
	tcase_add_test(tc, test_precision_names);
	tcase_add_test(tc, test_threads_identical);
	tcase_add_test(tc, test_stream_bands);
	tcase_add_test(tc, test_streaming_stores);
	tcase_add_test(tc, test_stream_errors);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(engine_suite)
