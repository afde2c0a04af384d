/*
 * check_stages.c - activations, pooling and normalize (src/stages.c).
 *
 * Expected values come from the test itself, never from stages.c: the
 * activation formulas evaluated here, hand-worked pooling examples (the
 * arithmetic is in the comments), and a naive pooling written below that
 * walks every cell of every window and skips the ones outside the image.
 * It shares no code with stages.c, which precomputes clipped column ranges
 * and folds rows into accumulators.
 *
 * Tests with more than 4 planes need images of up to IMF_MAX_PLANES planes
 * (imf_image_new); they fail with IMF_EUNSUPPORTED where that is not there.
 */
#include "testutil.h"

#include "internal.h"

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A planes x h x w image with value f(c, y, x) = v[(c * h + y) * w + x]. */
static imf_image *image_planes(const double *v, size_t w, size_t h, int planes, int alpha)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_image_new(w, h, planes, alpha, NULL, &img, &err) == IMF_OK, "%s",
	              err.msg);
	for (int c = 0; c < planes; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] = (float)v[((size_t)c * h + y) * w + x];
	return img;
}

static float at(const imf_image *img, int c, size_t y, size_t x)
{
	return imf_image_row_const(img, c, y)[x];
}

/* Same value, NaN equal to NaN, and the same sign for zeros. */
static int same_float(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b && signbit(a) == signbit(b);
}

/* ---- activations ------------------------------------------------------------ */

static const double act_values[] = {
	0, 0.25, -0.25, 0.5, -0.5, 1, -1, 2.5, -2.5, 7, -7, 19.75, -19.75, 40, -40,
	88, -88, 100, -100, 255, -255, 1000, -1000, 1e30, -1e30, 1e-20, -1e-20,
};

/* The definitions, evaluated the plain way in long double. */
static double want_act(imf_activation act, double slope, double v)
{
	switch (act) {
	case IMF_ACT_RELU: return v > 0 ? v : 0;
	case IMF_ACT_LEAKY_RELU: return v >= 0 ? v : slope * v;
	case IMF_ACT_SIGMOID: return (double)(1.0L / (1.0L + expl(-(long double)v)));
	case IMF_ACT_TANH: return (double)tanhl((long double)v);
	case IMF_ACT_ABS: return v < 0 ? -v : v;
	}
	return NAN;
}

/* Within rounding to float: half an ulp plus a little, and subnormal spacing. */
static int close_float(float got, double want)
{
	return fabs((double)got - want) <= 1.2e-7 * fabs(want) + 1.5e-45;
}

START_TEST(activations_table)
{
	static const struct {
		imf_activation act;
		double slope;
	} cases[] = {
		{ IMF_ACT_RELU, 0 },    { IMF_ACT_LEAKY_RELU, 0.01 }, { IMF_ACT_LEAKY_RELU, 0.2 },
		{ IMF_ACT_SIGMOID, 0 }, { IMF_ACT_TANH, 0 },          { IMF_ACT_ABS, 0 },
	};
	size_t n = COUNT(act_values);
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_image *img = tu_image_from(act_values, n, 1);
		imf_activate(img, cases[i].act, cases[i].slope);
		for (size_t j = 0; j < n; j++) {
			double v = (float)act_values[j];
			double want = want_act(cases[i].act, cases[i].slope, v);
			float got = at(img, 0, 0, j);
			ck_assert_msg(close_float(got, want),
			              "act %d slope %g: f(%g) = %.9g, want %.9g", (int)cases[i].act,
			              cases[i].slope, v, (double)got, want);
		}
		imf_image_free(img);
	}
}
END_TEST

START_TEST(activations_exact_values)
{
	/* Values a student checks by hand; these must be exact. */
	static const double v[] = { -1000, -3, -0.0, 0, 2, 1000 };
	imf_image *img = tu_image_from(v, COUNT(v), 1);
	imf_activate(img, IMF_ACT_SIGMOID, 0);
	ck_assert(at(img, 0, 0, 0) == 0.0f);  /* sigmoid(-1000) saturates to 0 */
	ck_assert(at(img, 0, 0, 3) == 0.5f);  /* sigmoid(0) = 1/2 */
	ck_assert(at(img, 0, 0, 5) == 1.0f);  /* sigmoid(1000) saturates to 1 */
	ck_assert(!isnan(at(img, 0, 0, 0)) && !isnan(at(img, 0, 0, 5)));
	imf_image_free(img);

	img = tu_image_from(v, COUNT(v), 1);
	imf_activate(img, IMF_ACT_RELU, 0);
	const float relu[] = { 0, 0, 0, 0, 2, 1000 };
	for (size_t i = 0; i < COUNT(v); i++)
		ck_assert(same_float(at(img, 0, 0, i), relu[i])); /* relu(-0) is +0 */
	imf_image_free(img);

	img = tu_image_from(v, COUNT(v), 1);
	imf_activate(img, IMF_ACT_LEAKY_RELU, 0.2);
	/* -1000 * 0.2 = -200, -3 * 0.2 = -0.6 (rounded to float once) */
	ck_assert(at(img, 0, 0, 0) == -200.0f);
	ck_assert(at(img, 0, 0, 1) == (float)-0.6);
	ck_assert(at(img, 0, 0, 4) == 2.0f);
	imf_image_free(img);

	img = tu_image_from(v, COUNT(v), 1);
	imf_activate(img, IMF_ACT_TANH, 0);
	ck_assert(at(img, 0, 0, 0) == -1.0f && at(img, 0, 0, 5) == 1.0f);
	ck_assert(at(img, 0, 0, 3) == 0.0f);
	imf_image_free(img);
}
END_TEST

START_TEST(sigmoid_no_overflow)
{
	/* exp(1000) overflows a double: a stable sigmoid never evaluates it. */
	static const double v[] = { -1000, -800, -710, 1000, 710 };
	imf_image *img = tu_image_from(v, COUNT(v), 1);
	feclearexcept(FE_ALL_EXCEPT);
	imf_activate(img, IMF_ACT_SIGMOID, 0);
	ck_assert_msg(!fetestexcept(FE_OVERFLOW), "sigmoid overflowed");
	ck_assert(at(img, 0, 0, 0) == 0.0f && at(img, 0, 0, 3) == 1.0f);
	imf_image_free(img);
}
END_TEST

START_TEST(activations_nan)
{
	static const double v[] = { NAN };
	for (int act = IMF_ACT_RELU; act <= IMF_ACT_ABS; act++) {
		imf_image *img = tu_image_from(v, 1, 1);
		imf_activate(img, (imf_activation)act, 0.01);
		ck_assert_msg(isnan(at(img, 0, 0, 0)), "act %d", act);
		imf_image_free(img);
	}
}
END_TEST

START_TEST(activations_leave_alpha)
{
	/* Gray + alpha and RGBA: every colour plane changes, alpha keeps its negatives. */
	static const double v[] = { -5, 3, -7, 9, -2, 4, -6, 8 };
	for (int planes = 2; planes <= 4; planes += 2) {
		for (int act = IMF_ACT_RELU; act <= IMF_ACT_ABS; act++) {
			imf_activation a = (imf_activation)act;
			imf_image *img = image_planes(v, 2, 1, planes, 1);
			imf_activate(img, a, 0.01);
			for (int c = 0; c < planes; c++)
				for (size_t x = 0; x < 2; x++) {
					double in = v[(size_t)c * 2 + x];
					double want = c == planes - 1 ? in : want_act(a, 0.01, in);
					ck_assert_msg(close_float(at(img, c, 0, x), want),
					              "act %d plane %d x %zu", act, c, x);
				}
			imf_image_free(img);
		}
	}
}
END_TEST

START_TEST(activations_many_maps)
{
	/* Feature maps beyond 4 planes (needs IMF_MAX_PLANES images). */
	enum { N = 9 };
	double v[N * 3];
	for (size_t i = 0; i < COUNT(v); i++)
		v[i] = (double)i - 13.0;
	imf_image *img = image_planes(v, 3, 1, N, 0);
	imf_activate(img, IMF_ACT_RELU, 0);
	for (int c = 0; c < N; c++)
		for (size_t x = 0; x < 3; x++) {
			double in = v[(size_t)c * 3 + x];
			ck_assert(at(img, c, 0, x) == (float)(in > 0 ? in : 0));
		}
	imf_image_free(img);
}
END_TEST

/* ---- pooling: a naive reference ------------------------------------------- */

/*
 * out(oy, ox) over the cells (oy*s - pad + i, ox*s - pad + j), 0 <= i, j < k,
 * that are inside the image; every output size from the formula
 * floor((M - K + 2P) / S) + 1 computed in signed arithmetic.
 */
static long long out_size(long long m, long long k, long long p, long long s)
{
	long long num = m - k + 2 * p;
	return num < 0 ? 0 : num / s + 1;
}

static double naive_pool_at(const imf_image *in, int c, imf_pool_kind kind, size_t k, size_t s,
                            size_t pad, size_t oy, size_t ox)
{
	double best = 0, sum = 0;
	size_t count = 0;
	for (size_t i = 0; i < k; i++) {
		long long y = (long long)(oy * s + i) - (long long)pad;
		if (y < 0 || y >= (long long)imf_image_height(in))
			continue;
		for (size_t j = 0; j < k; j++) {
			long long x = (long long)(ox * s + j) - (long long)pad;
			if (x < 0 || x >= (long long)imf_image_width(in))
				continue;
			double v = at(in, c, (size_t)y, (size_t)x);
			if (count == 0 || (kind == IMF_POOL_MAX && v > best) ||
			    (kind == IMF_POOL_MIN && v < best))
				best = v;
			sum += v;
			count++;
		}
	}
	ck_assert_msg(count > 0, "a window without real cells");
	return kind == IMF_POOL_AVG ? sum / (double)count : best;
}

static const char *kind_name(imf_pool_kind kind)
{
	return kind == IMF_POOL_MAX ? "max" : kind == IMF_POOL_MIN ? "min" : "avg";
}

/* Compare imf_pool with the naive pooling on one image. */
static void check_against_naive(const imf_image *in, imf_pool_kind kind, size_t k, size_t s,
                                size_t pad)
{
	imf_image *out = NULL;
	imf_error err = { 0 };
	size_t w = imf_image_width(in), h = imf_image_height(in);
	long long ow = out_size((long long)w, (long long)k, (long long)pad, (long long)s);
	long long oh = out_size((long long)h, (long long)k, (long long)pad, (long long)s);
	imf_status st = imf_pool(in, kind, k, s, pad, &out, &err);

	if (k > w + 2 * pad || k > h + 2 * pad) {
		size_t small = (w < h ? w : h) + 2 * pad;
		char want[128];
		snprintf(want, sizeof want, "pool window %zu is larger than the padded input %zu",
		         k, small);
		ck_assert_int_eq(st, IMF_EINVAL);
		ck_assert_str_eq(err.msg, want);
		ck_assert_ptr_null(out);
		return;
	}
	ck_assert_msg(st == IMF_OK, "%zux%zu %spool k %zu s %zu pad %zu: %s", w, h, kind_name(kind),
	              k, s, pad, err.msg);
	ck_assert_uint_eq(imf_image_width(out), (size_t)ow);
	ck_assert_uint_eq(imf_image_height(out), (size_t)oh);
	ck_assert_int_eq(imf_image_channels(out), imf_image_channels(in));
	ck_assert_int_eq(imf_image_has_alpha(out), imf_image_has_alpha(in));
	for (int c = 0; c < imf_image_channels(in); c++)
		for (size_t oy = 0; oy < (size_t)oh; oy++)
			for (size_t ox = 0; ox < (size_t)ow; ox++) {
				double want = naive_pool_at(in, c, kind, k, s, pad, oy, ox);
				float got = at(out, c, oy, ox);
				/* max and min pick a value: exact; an average rounds once. */
				int ok = kind == IMF_POOL_AVG ? close_float(got, want)
				                              : got == (float)want;
				ck_assert_msg(ok, "%zux%zu %spool k %zu s %zu pad %zu plane %d "
				                  "(%zu,%zu): %.9g, want %.9g",
				              w, h, kind_name(kind), k, s, pad, c, ox, oy,
				              (double)got, want);
			}
	imf_image_free(out);
}

START_TEST(pool_random_against_naive)
{
	/* Gray, gray + alpha (pooled with the same kind) and RGB, in turn. */
	static const int shapes[][2] = { { 1, 0 }, { 2, 1 }, { 3, 0 } };
	unsigned long long seed = 12345;
	double v[3 * 13 * 9];
	for (size_t h = 1; h <= 9; h++)
		for (size_t w = 1; w <= 13; w++) {
			const int *shape = shapes[(w + h) % 3];
			/* Halves from -128 to 127.5: negatives, exact sums. */
			for (size_t i = 0; i < (size_t)shape[0] * w * h; i++)
				v[i] = floor(tu_rand(&seed) * 512.0) / 2.0 - 128.0;
			imf_image *in = image_planes(v, w, h, shape[0], shape[1]);
			/* k 1..4, stride 1..4, pad 0..k-1, every kind */
			for (size_t q = 0; q < 4 * 4 * 4 * 3; q++) {
				size_t k = q % 4 + 1, s = q / 4 % 4 + 1, pad = q / 16 % 4;
				imf_pool_kind kind = (imf_pool_kind)(q / 64);
				if (pad < k)
					check_against_naive(in, kind, k, s, pad);
			}
			imf_image_free(in);
		}
}
END_TEST

START_TEST(pool_random_fractions)
{
	/* Non-dyadic values: averages that round. */
	unsigned long long seed = 99;
	double v[7 * 5];
	for (size_t i = 0; i < COUNT(v); i++)
		v[i] = tu_rand(&seed) * 2.0 - 1.0;
	imf_image *in = tu_image_from(v, 7, 5);
	for (size_t k = 1; k <= 4; k++)
		for (size_t s = 1; s <= 3; s++)
			for (size_t pad = 0; pad < k; pad++)
				check_against_naive(in, IMF_POOL_AVG, k, s, pad);
	imf_image_free(in);
}
END_TEST

START_TEST(pool_many_maps)
{
	/* Every one of 6 planes pooled on its own (needs IMF_MAX_PLANES images). */
	unsigned long long seed = 7;
	double v[6 * 5 * 4];
	for (size_t i = 0; i < COUNT(v); i++)
		v[i] = floor(tu_rand(&seed) * 100.0) - 50.0;
	imf_image *in = image_planes(v, 5, 4, 6, 0);
	for (int kind = IMF_POOL_MAX; kind <= IMF_POOL_AVG; kind++)
		check_against_naive(in, (imf_pool_kind)kind, 2, 1, 1);
	imf_image_free(in);
}
END_TEST

/* ---- pooling: worked examples ---------------------------------------------- */

static void expect_pool(const double *in, size_t w, size_t h, imf_pool_kind kind, size_t k,
                        size_t s, size_t pad, const double *want, size_t ow, size_t oh)
{
	imf_image *img = tu_image_from(in, w, h), *out = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_pool(img, kind, k, s, pad, &out, &err) == IMF_OK, "%s", err.msg);
	ck_assert_uint_eq(imf_image_width(out), ow);
	ck_assert_uint_eq(imf_image_height(out), oh);
	for (size_t y = 0; y < oh; y++)
		for (size_t x = 0; x < ow; x++)
			ck_assert_msg(at(out, 0, y, x) == (float)want[y * ow + x],
			              "%spool (%zu,%zu) = %g, want %g", kind_name(kind), x, y,
			              (double)at(out, 0, y, x), want[y * ow + x]);
	imf_image_free(out);
	imf_image_free(img);
}

START_TEST(pool_worked_examples)
{
	static const double m4[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	/* maxpool 2 (stride 2): max(1,2,5,6) = 6, max(3,4,7,8) = 8, ... */
	static const double max2[] = { 6, 8, 14, 16 };
	expect_pool(m4, 4, 4, IMF_POOL_MAX, 2, 2, 0, max2, 2, 2);
	static const double min2[] = { 1, 3, 9, 11 };
	expect_pool(m4, 4, 4, IMF_POOL_MIN, 2, 2, 0, min2, 2, 2);
	/* avgpool 2: (1+2+5+6)/4 = 3.5, (3+4+7+8)/4 = 5.5, (9+10+13+14)/4 = 11.5, 13.5 */
	static const double avg2[] = { 3.5, 5.5, 11.5, 13.5 };
	expect_pool(m4, 4, 4, IMF_POOL_AVG, 2, 2, 0, avg2, 2, 2);
	/* maxpool 3 stride 1 on 4x4: out 2x2, max of each 3x3 block = its bottom-right */
	static const double max3[] = { 11, 12, 15, 16 };
	expect_pool(m4, 4, 4, IMF_POOL_MAX, 3, 1, 0, max3, 2, 2);

	/*
	 * avgpool 2 stride 1 pad 1 on [1 2; 3 4]: out floor((2-2+2)/1)+1 = 3.
	 * Corners see one real cell; edges two: (1+2)/2 = 1.5, (1+3)/2 = 2,
	 * (2+4)/2 = 3, (3+4)/2 = 3.5; the centre all four: 10/4 = 2.5.
	 */
	static const double sq[] = { 1, 2, 3, 4 };
	static const double avgpad[] = { 1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4 };
	expect_pool(sq, 2, 2, IMF_POOL_AVG, 2, 1, 1, avgpad, 3, 3);

	/* Padding never wins: a window of [-1] plus padding is -1, of [5] plus padding is 5. */
	static const double neg1[] = { -1 }, neg1_out[] = { -1, -1, -1, -1 };
	static const double five[] = { 5 }, five_out[] = { 5, 5, 5, 5 };
	for (int kind = IMF_POOL_MAX; kind <= IMF_POOL_AVG; kind++) {
		expect_pool(neg1, 1, 1, (imf_pool_kind)kind, 2, 1, 1, neg1_out, 2, 2);
		expect_pool(five, 1, 1, (imf_pool_kind)kind, 2, 1, 1, five_out, 2, 2);
	}
	/*
	 * minpool 2 stride 2 pad 1 on [-1 3; 2 -4]: out floor((2-2+2)/2)+1 = 2,
	 * each window holds one real cell, so the output is the input: no 0.
	 */
	static const double mixed[] = { -1, 3, 2, -4 };
	expect_pool(mixed, 2, 2, IMF_POOL_MIN, 2, 2, 1, mixed, 2, 2);
	static const double allneg[] = { -1, -3, -2, -4 };
	expect_pool(allneg, 2, 2, IMF_POOL_MAX, 2, 2, 1, allneg, 2, 2);
	/*
	 * minpool 3 stride 2 pad 1 on the 3x3 [5 -2 7; 1 8 3; -6 4 9]: out
	 * floor((3-3+2)/2)+1 = 2; windows rows/cols {0,1} and {1,2}:
	 * min(5,-2,1,8) = -2, min(-2,7,8,3) = -2, min(1,8,-6,4) = -6, min(8,3,4,9) = 3.
	 */
	static const double m3[] = { 5, -2, 7, 1, 8, 3, -6, 4, 9 };
	static const double min3[] = { -2, -2, -6, 3 };
	expect_pool(m3, 3, 3, IMF_POOL_MIN, 3, 2, 1, min3, 2, 2);
	/* avg of the same windows: (5-2+1+8)/4 = 3, (-2+7+8+3)/4 = 4, (1+8-6+4)/4 = 1.75, 6 */
	static const double avg3[] = { 3, 4, 1.75, 6 };
	expect_pool(m3, 3, 3, IMF_POOL_AVG, 3, 2, 1, avg3, 2, 2);
}
END_TEST

START_TEST(pool_output_sizes)
{
	/* M, K, P, S and floor((M - K + 2P) / S) + 1, worked out by hand. */
	static const size_t cases[][5] = {
		{ 1, 1, 0, 1, 1 },   { 4, 2, 0, 2, 2 },   { 5, 2, 0, 2, 2 },  { 10, 3, 1, 1, 10 },
		{ 10, 2, 1, 2, 6 },  { 7, 3, 0, 2, 3 },   { 5, 2, 1, 3, 2 },  { 13, 4, 2, 3, 5 },
		{ 1, 4, 3, 4, 1 },   { 2, 2, 1, 1, 3 },   { 9, 3, 0, 3, 3 },  { 9, 4, 0, 4, 2 },
		{ 224, 2, 0, 2, 112 }, { 32, 3, 1, 2, 16 }, { 6, 1, 0, 4, 2 },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		size_t m = cases[i][0], k = cases[i][1], p = cases[i][2], s = cases[i][3];
		ck_assert_uint_eq(cases[i][4], (m - k + 2 * p) / s + 1); /* the table itself */
		/* M along the width, then along the height of a 3-row image. */
		for (int axis = 0; axis < 2; axis++) {
			size_t w = axis == 0 ? m : 3 + 2 * k, h = axis == 0 ? 3 + 2 * k : m;
			imf_image *img = NULL, *out = NULL;
			imf_error err = { 0 };
			ck_assert_int_eq(imf_image_new(w, h, 1, 0, NULL, &img, &err), IMF_OK);
			ck_assert_msg(imf_pool(img, IMF_POOL_AVG, k, s, p, &out, &err) == IMF_OK,
			              "case %zu: %s", i, err.msg);
			ck_assert_uint_eq(axis == 0 ? imf_image_width(out) : imf_image_height(out),
			                  cases[i][4]);
			imf_image_free(out);
			imf_image_free(img);
		}
	}
}
END_TEST

START_TEST(pool_keeps_alpha_and_source)
{
	/* RGBA: alpha is max-pooled like the colour planes; source info is copied. */
	static const double v[] = {
		1, 2, 3, 4,  10, 20, 30, 40,  -1, -2, -3, -4,  0, 255, 128, 7,
	};
	imf_image *img = image_planes(v, 2, 2, 4, 1), *out = NULL;
	imf_error err = { 0 };
	imf_image_set_source(img, IMF_FORMAT_PNG, 16);
	ck_assert_int_eq(imf_pool(img, IMF_POOL_MAX, 2, 2, 0, &out, &err), IMF_OK);
	ck_assert_int_eq(imf_image_channels(out), 4);
	ck_assert_int_eq(imf_image_has_alpha(out), 1);
	ck_assert_int_eq(imf_image_source_format(out), IMF_FORMAT_PNG);
	ck_assert_int_eq(imf_image_source_depth(out), 16);
	ck_assert(at(out, 0, 0, 0) == 4.0f);
	ck_assert(at(out, 1, 0, 0) == 40.0f);
	ck_assert(at(out, 2, 0, 0) == -1.0f);
	ck_assert(at(out, 3, 0, 0) == 255.0f);
	imf_image_free(out);
	ck_assert_int_eq(imf_pool(img, IMF_POOL_MIN, 2, 2, 0, &out, &err), IMF_OK);
	ck_assert(at(out, 3, 0, 0) == 0.0f); /* alpha min-pooled too */
	imf_image_free(out);
	imf_image_free(img);
}
END_TEST

START_TEST(pool_nan_propagates)
{
	/* [1 NaN 3 4; 5 6 7 8], pool 2: the left window holds the NaN, the right does not. */
	static const double v[] = { 1, NAN, 3, 4, 5, 6, 7, 8 };
	imf_image *img = tu_image_from(v, 4, 2), *out = NULL;
	imf_error err = { 0 };
	for (int kind = IMF_POOL_MAX; kind <= IMF_POOL_AVG; kind++) {
		ck_assert_int_eq(imf_pool(img, (imf_pool_kind)kind, 2, 2, 0, &out, &err), IMF_OK);
		ck_assert_msg(isnan(at(out, 0, 0, 0)), "%spool", kind_name((imf_pool_kind)kind));
		ck_assert(!isnan(at(out, 0, 0, 1)));
		imf_image_free(out);
	}
	imf_image_free(img);
}
END_TEST

START_TEST(pool_errors)
{
	static const struct {
		size_t w, h, k, s, pad;
		const char *msg;
	} cases[] = {
		{ 4, 4, 0, 1, 0, "pool size must be at least 1" },
		{ 4, 4, 0, 0, 0, "pool size must be at least 1" },
		{ 4, 4, 2, 0, 0, "pool stride must be at least 1" },
		{ 2, 2, 3, 1, 0, "pool window 3 is larger than the padded input 2" },
		{ 5, 2, 3, 1, 0, "pool window 3 is larger than the padded input 2" },
		{ 1, 9, 4, 1, 1, "pool window 4 is larger than the padded input 3" },
		{ 4, 4, 2, 1, 2, "pool padding 2 must be smaller than the window 2" },
		{ 4, 4, 1, 1, 1, "pool padding 1 must be smaller than the window 1" },
		{ 4, 4, 3, 2, 7, "pool padding 7 must be smaller than the window 3" },
	};
	static char dummy;
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_image *img = NULL, *out = NULL;
		imf_error err = { 0 };
		ck_assert_int_eq(imf_image_new(cases[i].w, cases[i].h, 1, 0, NULL, &img, &err),
		                 IMF_OK);
		for (int kind = IMF_POOL_MAX; kind <= IMF_POOL_AVG; kind++) {
			out = (imf_image *)(void *)&dummy; /* must come back NULL */
			ck_assert_int_eq(imf_pool(img, (imf_pool_kind)kind, cases[i].k, cases[i].s,
			                          cases[i].pad, &out, &err),
			                 IMF_EINVAL);
			ck_assert_str_eq(err.msg, cases[i].msg);
			ck_assert_ptr_null(out);
		}
		imf_image_free(img);
	}

	/* M + 2P overflows size_t (pad < k, both near SIZE_MAX). */
	imf_image *img = NULL, *out = NULL;
	imf_error err = { 0 };
	char want[128];
	ck_assert_int_eq(imf_image_new(1, 1, 1, 0, NULL, &img, &err), IMF_OK);
	ck_assert_int_eq(imf_pool(img, IMF_POOL_MAX, SIZE_MAX, 1, SIZE_MAX - 1, &out, &err),
	                 IMF_EINVAL);
	snprintf(want, sizeof want, "pool padding %zu is too large for a 1x1 input", SIZE_MAX - 1);
	ck_assert_str_eq(err.msg, want);
	ck_assert_ptr_null(out);
	imf_image_free(img);
}
END_TEST

START_TEST(pool_huge_output_refused)
{
	/* A window of SIZE_MAX/4 on a 1x1 input: the output cannot be addressed. */
	imf_image *img = NULL, *out = NULL;
	imf_error err = { 0 };
	size_t k = SIZE_MAX / 4;
	ck_assert_int_eq(imf_image_new(1, 1, 1, 0, NULL, &img, &err), IMF_OK);
	ck_assert_int_eq(imf_pool(img, IMF_POOL_MAX, k, 1, k - 1, &out, &err), IMF_ELIMIT);
	ck_assert_ptr_null(out);
	imf_image_free(img);
}
END_TEST

/* ---- normalize ---------------------------------------------------------------- */

START_TEST(normalize_joint_range)
{
	/* Two maps, ranges -10..0 and 10..30: jointly -10..30, t = (v + 10) * 255 / 40. */
	static const double v[] = { -10, -5, 0, -2.5, 10, 30, 20, 17 };
	imf_image *img = image_planes(v, 2, 2, 2, 0);
	imf_normalize(img);
	for (int c = 0; c < 2; c++)
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 2; x++) {
				double in = v[((size_t)c * 2 + y) * 2 + x];
				double want = (in + 10) * 255.0 / 40.0;
				float got = at(img, c, y, x);
				ck_assert_msg(close_float(got, want), "%g -> %g, want %g", in,
				              (double)got, want);
			}
	ck_assert(at(img, 0, 0, 0) == 0.0f);   /* the minimum becomes 0 exactly */
	ck_assert(at(img, 1, 0, 1) == 255.0f); /* the maximum 255 exactly */
	ck_assert(at(img, 0, 1, 0) == 63.75f); /* (0 + 10) * 255 / 40 */
	imf_image_free(img);
}
END_TEST

START_TEST(normalize_special)
{
	/* Constant: all 0. */
	static const double c7[] = { 7, 7, 7, 7 };
	imf_image *img = tu_image_from(c7, 4, 1);
	imf_normalize(img);
	for (size_t x = 0; x < 4; x++)
		ck_assert(same_float(at(img, 0, 0, x), 0.0f));
	imf_image_free(img);

	/* NaN stays NaN and is not part of the range; infinities take the ends. */
	static const double v[] = { 2, NAN, 6, 4, INFINITY, -INFINITY };
	img = tu_image_from(v, 6, 1);
	imf_normalize(img);
	ck_assert(at(img, 0, 0, 0) == 0.0f);
	ck_assert(isnan(at(img, 0, 0, 1)));
	ck_assert(at(img, 0, 0, 2) == 255.0f);
	ck_assert(at(img, 0, 0, 3) == 127.5f); /* (4 - 2) * 255 / 4 */
	ck_assert(at(img, 0, 0, 4) == 255.0f);
	ck_assert(at(img, 0, 0, 5) == 0.0f);
	imf_image_free(img);

	/* Only NaN: nothing to stretch, NaN stays. */
	static const double nan1[] = { NAN, 3 };
	img = tu_image_from(nan1, 2, 1);
	imf_normalize(img);
	ck_assert(isnan(at(img, 0, 0, 0)));
	ck_assert(at(img, 0, 0, 1) == 0.0f); /* a single finite value is constant */
	imf_image_free(img);
}
END_TEST

START_TEST(normalize_leaves_alpha)
{
	/* Gray + alpha: gray 1..3 -> 0..255, alpha 1000 and -5 unchanged and not in the range. */
	static const double v[] = { 1, 2, 3, 1000, -5, 77 };
	imf_image *img = image_planes(v, 3, 1, 2, 1);
	imf_normalize(img);
	ck_assert(at(img, 0, 0, 0) == 0.0f);
	ck_assert(at(img, 0, 0, 1) == 127.5f);
	ck_assert(at(img, 0, 0, 2) == 255.0f);
	ck_assert(at(img, 1, 0, 0) == 1000.0f);
	ck_assert(at(img, 1, 0, 1) == -5.0f);
	ck_assert(at(img, 1, 0, 2) == 77.0f);
	imf_image_free(img);
}
END_TEST

static Suite *stages_suite(void)
{
	Suite *s = suite_create("stages");
	TCase *tc = tcase_create("stages");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, activations_table);
	tcase_add_test(tc, activations_exact_values);
	tcase_add_test(tc, sigmoid_no_overflow);
	tcase_add_test(tc, activations_nan);
	tcase_add_test(tc, activations_leave_alpha);
	tcase_add_test(tc, activations_many_maps);
	tcase_add_test(tc, pool_random_against_naive);
	tcase_add_test(tc, pool_random_fractions);
	tcase_add_test(tc, pool_many_maps);
	tcase_add_test(tc, pool_worked_examples);
	tcase_add_test(tc, pool_output_sizes);
	tcase_add_test(tc, pool_keeps_alpha_and_source);
	tcase_add_test(tc, pool_nan_propagates);
	tcase_add_test(tc, pool_errors);
	tcase_add_test(tc, pool_huge_output_refused);
	tcase_add_test(tc, normalize_joint_range);
	tcase_add_test(tc, normalize_special);
	tcase_add_test(tc, normalize_leaves_alpha);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(stages_suite)
