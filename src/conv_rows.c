/*
 * conv_rows.c - the fast convolution engine: output rows from input rows.
 *
 * A plan (made once per kernel and geometry by conv_plan.c, then only read)
 * lists the kernel's non-zero taps, the border's column map and the inner
 * loops to use; a worker (one per thread) holds a ring of horizontally padded input
 * rows and the accumulators.  Output row oy reads padded rows oy*S + i*D
 * (i < Fr); each is padded once, when first needed, and kept in slot r % R
 * until no later output row needs it, so memory does not depend on the
 * image's height and the same code serves a whole image and a streamed band
 * (rows arrive through a fetch function).  This file has the inner loops,
 * the padding and the direct path; conv_sep.c the separable path.
 *
 * Arithmetic (see conv.c for the contract):
 *  - direct, double: each output is sum w*x in double, taps in the
 *    reference's order (kernel row by kernel row, left to right), then the
 *    scale, then the bias, rounded to float once.  Equal to
 *    imf_conv_reference to the last bit.  Rows are widened to double once,
 *    as they are padded; a one-matrix kernel's last pass over its taps
 *    writes the output itself (FIN_LOOP), with no trip through acc.
 *  - direct, exact float: when every weight is an integer and every sample
 *    of the rows under the kernel is an integer no larger than
 *    2^24 / sum|w| (8-bit images, most built-in kernels), every product and
 *    partial sum is an integer below 2^24, so float arithmetic is exact and
 *    gives the same sum as double, twice the values per vector instruction.
 *    Rows are checked as they are padded; a row that does not qualify
 *    (fractions, NaN, large values) sends its output rows down the double
 *    loops, with the same result.
 *  - direct, float sums (IMF_PRECISION_FLOAT, stride 1): rows that are
 *    not exact sum in float when their values are moderate (0 or 2^-64 ..
 *    2^64: nothing overflows or turns subnormal), within (taps + 3) 2^-24
 *    of |scale| sum |w x| + |bias|; others go to the double loops.
 *  - separable: a single matrix that is rank 1 (w = c r^T, found exactly for
 *    integer matrices, to within 1e-6 of the kernel's absolute sum
 *    otherwise) and large enough to gain runs as a row pass (r) into a ring
 *    of rows, then a column pass (c): Fr + Fc taps per output instead of
 *    Fr * Fc.  Exact for integer kernels on integer data (both passes are
 *    exact in double); otherwise within rounding of the direct path.  Where
 *    the result need not be exact (a non-integer weight or sample under the
 *    kernel) and the values are moderate, both passes run in float, twice
 *    as many values a vector instruction (conv_sep.c), the scale folded
 *    into the column weights: off by about (Fr + Fc + 3) 2^-24 of |scale|
 *    sum|w| max|x| + |bias|; check_engine.c holds 1e-5 of it.  A
 *    symmetric pass (Gaussians, boxes) folds its mirrored taps, w (a + b)
 *    for w a + w b: nearly half the products, the same bound.
 *
 * On every direct path, while a row is computed, the input row the next one
 * adds is prefetched: a cache line every 16 columns inside the loops at
 * stride 1 (LOOP_AHEAD), else part by part before each span (prefetch_part).
 *
 * The inner loops are plain C written for the vectorizer; on x86-64 each is
 * compiled twice (AVX2 and baseline) and chosen at run time by the CPU.
 */
#include "conv_rows.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#endif

#define SIMD IMF_SIMD

/* ---- inner loops ------------------------------------------------------------- */

/*
 * The inner loops: acc[x] = START + w0 s0[x] + w1 s1[x] + ... for up to
 * TAPS_MAX taps a pass.  START is acc[x], or 0 for the first pass (no
 * separate pass to clear acc; 0 + v is what the reference computes first,
 * -0 included).  Double loops form each sum left to right as the reference
 * adds its taps, from rows widened exactly from float, so they round as the
 * reference does.  Float loops run where every sum is an exact integer
 * below 2^24, so that their order is free, or where the result only has to
 * stay within a bound (float sums, the separable float passes); they sum as
 * a tree (TREE).  Many taps a pass keep acc's loads and stores few: a 3x3
 * kernel is one pass.
 */
#define TAPS_MAX 9

/*
 * for (x = 0; x < n; x++) BODY, asking the cache for one line of the row
 * ah.p every AHEAD_STEP columns (ah.p[x] for x < ah.n), so that the next
 * row's reading from memory overlaps this row's arithmetic a line at a
 * time.  Issued a span's worth at once (prefetch_part), the requests
 * queued up behind each other and stalled the loop: on a 2-core AMD EPYC
 * (Zen 5), a 3x3 kernel with float sums went from about 1980 to 2260
 * Mpixel/s on a 4096x4096 plane, sobel-x from 2370 to 2460 (imfilter-bench,
 * three interleaved runs).  The inner loop of AHEAD_STEP columns has a
 * constant count, so that it vectorizes whole.  A hint only: no value
 * depends on it.
 */
#define AHEAD_STEP 16
#if defined(__GNUC__)
#define AHEAD_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define AHEAD_PREFETCH(p) ((void)(p))
#endif
#define LOOP_AHEAD(ah, n, BODY)                                                                \
	do {                                                                                   \
		size_t x0_ = 0;                                                                \
		if (ah)                                                                        \
			for (; x0_ + AHEAD_STEP <= (n); x0_ += AHEAD_STEP) {                   \
				if (x0_ < (ah)->n)                                             \
					AHEAD_PREFETCH((ah)->p + x0_);                         \
				for (size_t j_ = 0; j_ < AHEAD_STEP; j_++) {                   \
					const size_t x = x0_ + j_;                             \
					BODY;                                                  \
				}                                                              \
			}                                                                      \
		for (size_t x = x0_; x < (n); x++) {                                           \
			BODY;                                                                  \
		}                                                                              \
	} while (0)

/* the terms of the first N taps, in order; S(i) is tap i's sample */
#define TERMS1(S) + w0 * S(0)
#define TERMS2(S) TERMS1(S) + w1 * S(1)
#define TERMS3(S) TERMS2(S) + w2 * S(2)
#define TERMS4(S) TERMS3(S) + w3 * S(3)
#define TERMS5(S) TERMS4(S) + w4 * S(4)
#define TERMS6(S) TERMS5(S) + w5 * S(5)
#define TERMS7(S) TERMS6(S) + w6 * S(6)
#define TERMS8(S) TERMS7(S) + w7 * S(7)
#define TERMS9(S) TERMS8(S) + w8 * S(8)

/*
 * The same terms summed as a tree, for the float loops: four levels of
 * adds for nine taps instead of eight, so that a vector's sum waits less on
 * the one before.  The float loops run where the order does not matter (an
 * exact float sum is the same in any order, its sign of zero included: -0
 * only when every term is -0) or where the result need only stay within a
 * bound (a pairwise sum's is smaller); every row still sums the same way,
 * whatever the threads and bands.
 */
#define P01(S) (w0 * S(0) + w1 * S(1))
#define P23(S) (w2 * S(2) + w3 * S(3))
#define P45(S) (w4 * S(4) + w5 * S(5))
#define P67(S) (w6 * S(6) + w7 * S(7))
#define TREE1(S) + (w0 * S(0))
#define TREE2(S) + P01(S)
#define TREE3(S) + (P01(S) + w2 * S(2))
#define TREE4(S) + (P01(S) + P23(S))
#define TREE5(S) + ((P01(S) + P23(S)) + w4 * S(4))
#define TREE6(S) + ((P01(S) + P23(S)) + P45(S))
#define TREE7(S) + ((P01(S) + P23(S)) + (P45(S) + w6 * S(6)))
#define TREE8(S) + ((P01(S) + P23(S)) + (P45(S) + P67(S)))
#define TREE9(S) + (((P01(S) + P23(S)) + (P45(S) + P67(S))) + w8 * S(8))

/* tap i's sample in the one-row loops: its row at x */
#define AT_X(i) s##i[x]

/*
 * A folded tap (a symmetric kernel's mirrored taps, w_i = w_(F-1-i)): its
 * two rows' samples summed, then one product, w_i (a + b) for w_i a + w_i
 * b.  A folded list interleaves the rows, tap i's on src[2i] and src[2i +
 * 1]; an odd kernel's middle tap is folded with itself at half its weight
 * ((w/2)(x + x) is w x to the bit: both exact doublings).
 */
#define FOLD_X(i) (s##i[x] + u##i[x])

/* tap i's row and weight; taps past N repeat tap 0 and go unused */
#define TAP(T, N, i)                                                                        \
	const T *restrict s##i = src[(i) < (N) ? (i) : 0] + off;                            \
	const T w##i = w[(i) < (N) ? (i) : 0];                                              \
	(void)s##i;                                                                         \
	(void)w##i

/* folded tap i's two rows and weight, as TAP */
#define FOLD_TAP(T, N, i)                                                                   \
	const T *restrict s##i = src[2 * ((i) < (N) ? (i) : 0)] + off;                      \
	const T *restrict u##i = src[2 * ((i) < (N) ? (i) : 0) + 1] + off;                  \
	const T w##i = w[(i) < (N) ? (i) : 0];                                              \
	(void)s##i;                                                                         \
	(void)u##i;                                                                         \
	(void)w##i

/* the nine tap declarations of a loop (DECL: TAP or FOLD_TAP) */
#define DECL_TAPS(DECL, T, N)                                                               \
	DECL(T, N, 0); DECL(T, N, 1); DECL(T, N, 2);                                        \
	DECL(T, N, 3); DECL(T, N, 4); DECL(T, N, 5);                                        \
	DECL(T, N, 6); DECL(T, N, 7); DECL(T, N, 8)

#define TAP_LOOP(T, SFX, N, START, P, TERMS, DECL, S)                                       \
	SIMD static void P##N##_##SFX(T *restrict acc, const T *const *src, size_t off,        \
	                              const T *w, size_t n, const conv_ahead *ah)              \
	{                                                                                      \
		DECL_TAPS(DECL, T, N);                                                         \
		LOOP_AHEAD(ah, n, acc[x] = START TERMS##N(S));                                 \
	}

#define TAP_LOOPS(T, SFX, START, P, TERMS, DECL, S)                                         \
	TAP_LOOP(T, SFX, 1, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 2, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 3, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 4, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 5, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 6, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 7, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 8, START, P, TERMS, DECL, S)                                          \
	TAP_LOOP(T, SFX, 9, START, P, TERMS, DECL, S)                                          \
	typedef void (*P##_fn_##SFX)(T *restrict, const T *const *, size_t, const T *,        \
	                             size_t, const conv_ahead *);                              \
	static const P##_fn_##SFX P##_##SFX[TAPS_MAX + 1] = {                                  \
	        NULL, P##1_##SFX, P##2_##SFX, P##3_##SFX, P##4_##SFX,                          \
	        P##5_##SFX, P##6_##SFX, P##7_##SFX, P##8_##SFX, P##9_##SFX};

TAP_LOOPS(float, f, acc[x], axpy, TREE, TAP, AT_X)
TAP_LOOPS(float, f, 0.0f, set, TREE, TAP, AT_X)
TAP_LOOPS(float, ff, acc[x], axpy, TREE, FOLD_TAP, FOLD_X) /* folded lists */
TAP_LOOPS(float, ff, 0.0f, set, TREE, FOLD_TAP, FOLD_X)
TAP_LOOPS(double, d, acc[x], axpy, TERMS, TAP, AT_X)
TAP_LOOPS(double, d, 0.0, set, TERMS, TAP, AT_X)

/* Taps in the next pass: left taps over passes_left passes, as even as can be. */
static inline size_t pass_taps(size_t left, size_t passes_left)
{
	return left / passes_left + (left % passes_left != 0);
}

/*
 * acc[0..n) = sum over taps t of w[t] * src[t][off + x], in tap order: the
 * first pass sets acc, the others add, the taps split into as few passes of
 * at most TAPS_MAX as they can and as even as they can be.  A folded list
 * (SFX ff) has STEP 2 rows a tap.
 */
#define SUM_TAPS(T, SFX, STEP)                                                              \
	void conv_sum_taps_##SFX(T *acc, const T *const *src, size_t off, const T *w,          \
	                         size_t nt, size_t n, const conv_ahead *ah)                    \
	{                                                                                      \
		if (nt == 0) {                                                                 \
			memset(acc, 0, n * sizeof *acc);                                       \
			return;                                                                \
		}                                                                              \
		size_t passes = (nt + TAPS_MAX - 1) / TAPS_MAX;                                \
		for (size_t t = 0, p = 0; p < passes; p++) {                                   \
			size_t m = pass_taps(nt - t, passes - p);                              \
			(t == 0 ? set_##SFX : axpy_##SFX)[m](acc, src + STEP * t, off, w + t,  \
			                                     n, t == 0 ? ah : NULL);           \
			t += m;                                                                \
		}                                                                              \
	}

SUM_TAPS(float, f, 1)
SUM_TAPS(float, ff, 2)
SUM_TAPS(double, d, 1)

/*
 * The folded row pass of a symmetric kernel row of F <= 2 TAPS_MAX taps at
 * dilation 1, in one pass: h[x] = 0 + the N = (F + 1) / 2 folded taps over
 * one padded row p, as set_ff sums them.  Every sample is at a fixed
 * distance from p, so the loop needs one address register for its 2N
 * rows, where set_ff needs 2N.
 */
#define ROW_FOLD_TAP(N, F, i)                                                               \
	const float *restrict s##i = p + ((i) < (N) ? (i) : 0);                             \
	const float *restrict u##i = p + ((i) < (N) ? (F) - 1 - (i) : 0);                   \
	const float w##i = w[(i) < (N) ? (i) : 0];                                          \
	(void)s##i;                                                                         \
	(void)u##i;                                                                         \
	(void)w##i

#define ROW_FOLD_LOOP(N, F)                                                                 \
	SIMD static void row_fold##F(float *restrict h, const float *restrict p,               \
	                             const float *w, size_t n, const conv_ahead *ah)           \
	{                                                                                      \
		ROW_FOLD_TAP(N, F, 0); ROW_FOLD_TAP(N, F, 1); ROW_FOLD_TAP(N, F, 2);           \
		ROW_FOLD_TAP(N, F, 3); ROW_FOLD_TAP(N, F, 4); ROW_FOLD_TAP(N, F, 5);           \
		ROW_FOLD_TAP(N, F, 6); ROW_FOLD_TAP(N, F, 7); ROW_FOLD_TAP(N, F, 8);           \
		LOOP_AHEAD(ah, n, h[x] = 0.0f TREE##N(FOLD_X));                                \
	}

ROW_FOLD_LOOP(1, 2) ROW_FOLD_LOOP(2, 3) ROW_FOLD_LOOP(2, 4) ROW_FOLD_LOOP(3, 5)
ROW_FOLD_LOOP(3, 6) ROW_FOLD_LOOP(4, 7) ROW_FOLD_LOOP(4, 8) ROW_FOLD_LOOP(5, 9)
ROW_FOLD_LOOP(5, 10) ROW_FOLD_LOOP(6, 11) ROW_FOLD_LOOP(6, 12) ROW_FOLD_LOOP(7, 13)
ROW_FOLD_LOOP(7, 14) ROW_FOLD_LOOP(8, 15) ROW_FOLD_LOOP(8, 16) ROW_FOLD_LOOP(9, 17)
ROW_FOLD_LOOP(9, 18)

static void (*const row_fold[2 * TAPS_MAX + 1])(float *restrict, const float *restrict,
                                                const float *, size_t,
                                                const conv_ahead *) = {
        NULL,         NULL,         row_fold2,    row_fold3,    row_fold4,
        row_fold5,    row_fold6,    row_fold7,    row_fold8,    row_fold9,
        row_fold10,   row_fold11,   row_fold12,   row_fold13,   row_fold14,
        row_fold15,   row_fold16,   row_fold17,   row_fold18};

/*
 * The row pass again with AVX-512, where the CPU has it: sixteen outputs
 * from two loads of the row (p + x and p + x + 16), each tap's samples
 * shifted out of the pair in registers (valignd) instead of loaded at
 * every offset.  The compiler's own 512-bit loops load at every offset
 * and so split a cache line at nearly every load; they ran slower than
 * AVX2.  Vector arithmetic in the same tree as the plain loops, without
 * contraction (ISO C's default), so each value is theirs to the bit.  Up
 * to F = 17 (the pair holds shifts 0 .. 16); returns the columns it made,
 * a multiple of 16 with reads within avail floats of p; the plain loops
 * make the rest.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(IMF_NO_CLONES)
#define CONV_Z_LOOPS 1
#define Z_TARGET __attribute__((target("avx512f")))
/* samples x + k .. x + k + 15 from a (x ..) and b (x + 16 ..), k <= 16 */
#define Z_SHIFT(a, b, k)                                                                    \
	((k) == 0    ? (a)                                                                     \
	 : (k) == 16 ? (b)                                                                     \
	             : _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b),         \
	                                                       _mm512_castps_si512(a),         \
	                                                       (k) & 15)))
/* tap i's weight w[i] in every lane (taps past N repeat tap 0 and go unused) */
#define Z_WEIGHT(N, i)                                                                      \
	const __m512 w##i = _mm512_set1_ps(w[(i) < (N) ? (i) : 0]);                         \
	(void)w##i
#define Z_WEIGHTS(N)                                                                        \
	Z_WEIGHT(N, 0); Z_WEIGHT(N, 1); Z_WEIGHT(N, 2); Z_WEIGHT(N, 3); Z_WEIGHT(N, 4);       \
	Z_WEIGHT(N, 5); Z_WEIGHT(N, 6); Z_WEIGHT(N, 7); Z_WEIGHT(N, 8)
#define FOLD_Z(i) (Z_SHIFT(a, b, (i)) + Z_SHIFT(a, b, fold_last - (i)))

#define ROW_FOLD_Z_LOOP(N, F)                                                               \
	Z_TARGET static size_t row_fold_z##F(float *restrict h, const float *restrict p,       \
	                                     const float *w, size_t n, size_t avail,           \
	                                     const conv_ahead *ah)                             \
	{                                                                                      \
		Z_WEIGHTS(N);                                                                  \
		enum { fold_last = (F) - 1 }; /* a constant: valignd's shift is immediate */   \
		const __m512 zero = _mm512_setzero_ps();                                       \
		size_t x = 0;                                                                  \
		for (; x + 16 <= n && x + 32 <= avail; x += 16) {                              \
			if (ah && x < ah->n)                                                   \
				AHEAD_PREFETCH(ah->p + x);                                     \
			const __m512 a = _mm512_loadu_ps(p + x), b = _mm512_loadu_ps(p + x + 16); \
			_mm512_storeu_ps(h + x, zero TREE##N(FOLD_Z));                         \
		}                                                                              \
		return x;                                                                      \
	}

ROW_FOLD_Z_LOOP(2, 3) ROW_FOLD_Z_LOOP(3, 5) ROW_FOLD_Z_LOOP(4, 7) ROW_FOLD_Z_LOOP(5, 9)
ROW_FOLD_Z_LOOP(6, 11) ROW_FOLD_Z_LOOP(7, 13) ROW_FOLD_Z_LOOP(8, 15) ROW_FOLD_Z_LOOP(9, 17)
#endif

int conv_fold_row_f(float *h, const float *p, const float *w, size_t f, size_t n,
                    size_t avail, const conv_ahead *ah)
{
	size_t done = 0;

	if (f < 2 || f > 2 * TAPS_MAX)
		return 0;
#if defined(CONV_Z_LOOPS)
	if (f % 2 == 1 && f <= 17 && conv_z_loops()) {
		static size_t (*const z[18])(float *restrict, const float *restrict, const float *,
		                             size_t, size_t, const conv_ahead *) = {
		        [3] = row_fold_z3,   [5] = row_fold_z5,   [7] = row_fold_z7,
		        [9] = row_fold_z9,   [11] = row_fold_z11, [13] = row_fold_z13,
		        [15] = row_fold_z15, [17] = row_fold_z17};
		done = z[f](h, p, w, n, avail, ah);
	}
#else
	(void)avail;
#endif
	if (done < n)
		row_fold[f](h + done, p + done, w, n - done, NULL);
	return 1;
}

static int z_unused; /* conv_z_use(0): the tests' switch */

int conv_z_loops(void)
{
#if defined(CONV_Z_LOOPS)
	return !z_unused && __builtin_cpu_supports("avx512f");
#else
	return 0;
#endif
}

void conv_z_use(int on)
{
	z_unused = !on;
}

/* acc[x] += w * a[x * s], for strides above 1 */
static void axpy_strided(double *restrict acc, const float *restrict a, double w, size_t n,
                         size_t s)
{
	for (size_t x = 0; x < n; x++)
		acc[x] = acc[x] + w * (double)a[x * s];
}

/* dst[x] = (float)(scale * acc[x] + bias): the reference's last two steps */
SIMD static void finish_row(float *restrict dst, const double *restrict acc, double scale,
                            double bias, size_t n)
{
	for (size_t x = 0; x < n; x++)
		dst[x] = (float)(scale * acc[x] + bias);
}

SIMD static void scale_row(float *restrict v, float s, size_t n)
{
	if (s != 1.0f)
		for (size_t x = 0; x < n; x++)
			v[x] *= s;
}

SIMD static void widen(double *restrict dst, const float *restrict src, size_t n)
{
	for (size_t x = 0; x < n; x++)
		dst[x] = (double)src[x];
}

/*
 * The last pass of a one-matrix kernel, fused with the reference's last
 * steps: dst[x] = (float)(scale * (START + w0 s0[x] + ...) + bias), in
 * double, the multiply and the add apart, as the reference does them.  The
 * sum never goes through acc and the output is written once.  START is
 * acc[x] (earlier passes), or nothing for a kernel of one pass: the
 * reference's 0 + v only turns a -0 sum into +0, and a zero sum's sign
 * cannot reach the output, since the plan's bias is never -0 (-0 + +0 and
 * +0 + +0 are both +0; a non-zero bias absorbs it).  A scale of 1 (most
 * kernels) skips its multiply, 1 * v being v: the multiplier is what these
 * loops wait on (10 products a pixel for a 3x3 kernel).  T is double for
 * the direct path; float for the separable path's float column pass (its
 * sum widened, then the same finish).
 */
#define FIN_LOOP(T, N, START, P, TERMS, DECL, S)                                            \
	SIMD static void P##N(float *restrict dst, const T *restrict acc, const T *const *src, \
	                      size_t off, const T *w, size_t n, double scale, double bias,     \
	                      const conv_ahead *ah)                                            \
	{                                                                                      \
		DECL_TAPS(DECL, T, N);                                                         \
		(void)acc;                                                                     \
		if (sizeof(T) == sizeof(float) && scale == 1 && bias == 0)                     \
			LOOP_AHEAD(ah, n, dst[x] = (float)(START TERMS##N(S)) + 0.0f);         \
		else if (scale == 1)                                                           \
			LOOP_AHEAD(ah, n,                                                      \
			           dst[x] = (float)((double)(START TERMS##N(S)) + bias));      \
		else                                                                           \
			LOOP_AHEAD(ah, n,                                                      \
			           dst[x] = (float)(scale * (double)(START TERMS##N(S)) +      \
			                            bias));                                    \
	}

#define FIN_LOOPS(T, START, P, TERMS, DECL, S)                                              \
	FIN_LOOP(T, 1, START, P, TERMS, DECL, S) FIN_LOOP(T, 2, START, P, TERMS, DECL, S)      \
	FIN_LOOP(T, 3, START, P, TERMS, DECL, S) FIN_LOOP(T, 4, START, P, TERMS, DECL, S)      \
	FIN_LOOP(T, 5, START, P, TERMS, DECL, S) FIN_LOOP(T, 6, START, P, TERMS, DECL, S)      \
	FIN_LOOP(T, 7, START, P, TERMS, DECL, S) FIN_LOOP(T, 8, START, P, TERMS, DECL, S)      \
	FIN_LOOP(T, 9, START, P, TERMS, DECL, S)                                               \
	static void (*const P[TAPS_MAX + 1])(float *restrict, const T *restrict,               \
	                                     const T *const *, size_t, const T *, size_t,     \
	                                     double, double, const conv_ahead *) = {           \
	        NULL, P##1, P##2, P##3, P##4, P##5, P##6, P##7, P##8, P##9};

FIN_LOOPS(double, , fin_set_d, TERMS, TAP, AT_X)
FIN_LOOPS(double, acc[x], fin_add_d, TERMS, TAP, AT_X)
FIN_LOOPS(float, , fin_set_f, TREE, TAP, AT_X) /* float column passes and float sums */
FIN_LOOPS(float, acc[x], fin_add_f, TREE, TAP, AT_X)
FIN_LOOPS(float, , fin_set_ff, TREE, FOLD_TAP, FOLD_X) /* folded column passes */
FIN_LOOPS(float, acc[x], fin_add_ff, TREE, FOLD_TAP, FOLD_X)

/* dst[x] = (float)(scale * sum[x] + bias), float sums widened first */
SIMD static void finish_row_f(float *restrict dst, const float *restrict sum, double scale,
                              double bias, size_t n)
{
	for (size_t x = 0; x < n; x++)
		dst[x] = (float)(scale * (double)sum[x] + bias);
}

/*
 * dst[0..n) = (float)(scale * sum + bias), sum over taps t of w[t] *
 * src[t][off + x] in tap order: the passes of conv_sum_taps, the last one fused
 * with the finish (acc holds the earlier passes' sums); STEP as SUM_TAPS.
 */
#define SUM_TAPS_FINISH(T, SFX, FINISH, STEP)                                               \
	void conv_sum_taps_finish_##SFX(float *dst, T *acc, const T *const *src, size_t off,   \
	                                const T *w, size_t nt, size_t n, double scale,        \
	                                double bias, const conv_ahead *ah)                     \
	{                                                                                      \
		size_t passes = (nt + TAPS_MAX - 1) / TAPS_MAX, last;                          \
		if (nt == 0) {                                                                 \
			memset(acc, 0, n * sizeof *acc);                                       \
			FINISH(dst, acc, scale, bias, n);                                      \
			return;                                                                \
		}                                                                              \
		last = nt / passes; /* the smallest pass: the split is as even */              \
		if (passes > 1)                                                                \
			conv_sum_taps_##SFX(acc, src, off, w, nt - last, n, ah);               \
		(passes > 1 ? fin_add_##SFX : fin_set_##SFX)[last](                            \
		        dst, acc, src + STEP * (nt - last), off, w + nt - last, n, scale,      \
		        bias, passes > 1 ? NULL : ah);                                         \
	}

SUM_TAPS_FINISH(double, d, finish_row, 1)
SUM_TAPS_FINISH(float, f, finish_row_f, 1)
SUM_TAPS_FINISH(float, ff, finish_row_f, 2)

/*
 * Two output rows at once, for the separable path's float column pass
 * (conv_separable_rows): taps on consecutive rows, the first output row's
 * tap i on src[i], the second's on src[i + 1], the same weights.  Each
 * loaded sample serves both rows, so a pass of N taps loads N + 1 rows
 * instead of 2N, and a 15-tap column pass, whose rows come from L2, about
 * halves its loads.  Each row's sum is the one-row loops' to the bit: the
 * same passes, the same tree, the same finish; only the loads are shared,
 * so a row's value does not depend on whether it was paired (threads and
 * bands split the rows differently).
 */

/*
 * A folded pair (SFX ff) interleaves two lists of N + 1 rows, lo on
 * src[2i] and hi on src[2i + 1]: the first output row's folded tap i is
 * lo[i] + hi[i + 1], the second's lo[i + 1] + hi[i] (a symmetric column
 * pass of F taps over rows r .. r + F: lo[i] is row r + i, hi[i] row r + F
 * - i).  Each row's sum is then the one-row folded loops' to the bit.
 */

/* the pair's tap i sample: its first row's, and its second's */
#define PLAIN_FIRST(i) v##i
#define PLAIN_SECOND(i) NEXT_V_##i
#define FOLD_FIRST(i) (v##i + NEXT_Z_##i)
#define FOLD_SECOND(i) (NEXT_V_##i + z##i)
#define NEXT_V_0 v1
#define NEXT_V_1 v2
#define NEXT_V_2 v3
#define NEXT_V_3 v4
#define NEXT_V_4 v5
#define NEXT_V_5 v6
#define NEXT_V_6 v7
#define NEXT_V_7 v8
#define NEXT_V_8 v9
#define NEXT_Z_0 z1
#define NEXT_Z_1 z2
#define NEXT_Z_2 z3
#define NEXT_Z_3 z4
#define NEXT_Z_4 z5
#define NEXT_Z_5 z6
#define NEXT_Z_6 z7
#define NEXT_Z_7 z8
#define NEXT_Z_8 z9

/* the pass's first sum (0 + terms, as set_f), or the sum so far */
#define FROM_ZERO(a) 0.0f
#define FROM_ACC(a) a[x]
#define FROM_NONE(a)

/*
 * Row i of a pair's N + 1 (later ones repeat row 0, loaded but unused),
 * weight i; a folded pair's lo and hi rows i.
 */
#define PLAIN_TAP(N, i)                                                                     \
	const float *restrict s##i = src[(i) <= (N) ? (i) : 0] + off;                       \
	const float w##i = w[(i) < (N) ? (i) : 0];                                          \
	(void)w##i
#define FOLD_PAIR_TAP(N, i)                                                                 \
	const float *restrict s##i = src[2 * ((i) <= (N) ? (i) : 0)] + off;                 \
	const float *restrict u##i = src[2 * ((i) <= (N) ? (i) : 0) + 1] + off;             \
	const float w##i = w[(i) < (N) ? (i) : 0];                                          \
	(void)w##i

#define PLAIN_TAPS(N)                                                                       \
	PLAIN_TAP(N, 0); PLAIN_TAP(N, 1); PLAIN_TAP(N, 2); PLAIN_TAP(N, 3);                \
	PLAIN_TAP(N, 4); PLAIN_TAP(N, 5); PLAIN_TAP(N, 6); PLAIN_TAP(N, 7);                \
	PLAIN_TAP(N, 8);                                                                    \
	const float *restrict s9 = src[9 <= (N) ? 9 : 0] + off
#define FOLD_TAPS(N)                                                                        \
	FOLD_PAIR_TAP(N, 0); FOLD_PAIR_TAP(N, 1); FOLD_PAIR_TAP(N, 2);                     \
	FOLD_PAIR_TAP(N, 3); FOLD_PAIR_TAP(N, 4); FOLD_PAIR_TAP(N, 5);                     \
	FOLD_PAIR_TAP(N, 6); FOLD_PAIR_TAP(N, 7); FOLD_PAIR_TAP(N, 8);                     \
	const float *restrict s9 = src[2 * (9 <= (N) ? 9 : 0)] + off;                       \
	const float *restrict u9 = src[2 * (9 <= (N) ? 9 : 0) + 1] + off

#define PLAIN_SAMPLES                                                                       \
	const float v0 = s0[x], v1 = s1[x], v2 = s2[x], v3 = s3[x], v4 = s4[x];            \
	const float v5 = s5[x], v6 = s6[x], v7 = s7[x], v8 = s8[x], v9 = s9[x];            \
	(void)v0, (void)v1, (void)v2, (void)v3, (void)v4;                                  \
	(void)v5, (void)v6, (void)v7, (void)v8, (void)v9
#define FOLD_SAMPLES                                                                        \
	PLAIN_SAMPLES;                                                                      \
	const float z0 = u0[x], z1 = u1[x], z2 = u2[x], z3 = u3[x], z4 = u4[x];            \
	const float z5 = u5[x], z6 = u6[x], z7 = u7[x], z8 = u8[x], z9 = u9[x];            \
	(void)z0, (void)z1, (void)z2, (void)z3, (void)z4;                                  \
	(void)z5, (void)z6, (void)z7, (void)z8, (void)z9

/*
 * a0[x] = START(a0) + first row's terms, a1[x] likewise (set_f, axpy_f);
 * K is PLAIN or FOLD.
 */
#define PAIR_LOOP(N, START, P, K)                                                           \
	SIMD static void P##N(float *restrict a0, float *restrict a1, const float *const *src, \
	                      size_t off, const float *w, size_t n)                            \
	{                                                                                      \
		K##_TAPS(N);                                                                   \
		for (size_t x = 0; x < n; x++) {                                               \
			K##_SAMPLES;                                                           \
			a0[x] = START(a0) TREE##N(K##_FIRST);                                  \
			a1[x] = START(a1) TREE##N(K##_SECOND);                                 \
		}                                                                              \
	}

/*
 * The last pass with the finish, as FIN_LOOP's float branches for a scale
 * of 1 (the separable float passes carry the scale in their weights).
 */
#define PAIR_FIN_LOOP(N, START, P, K)                                                       \
	SIMD static void P##N(float *restrict d0, float *restrict d1,                          \
	                      const float *restrict a0, const float *restrict a1,              \
	                      const float *const *src, size_t off, const float *w, size_t n,   \
	                      double bias)                                                     \
	{                                                                                      \
		K##_TAPS(N);                                                                   \
		(void)a0, (void)a1;                                                            \
		if (bias == 0)                                                                 \
			for (size_t x = 0; x < n; x++) {                                       \
				K##_SAMPLES;                                                   \
				d0[x] = (float)(START(a0) TREE##N(K##_FIRST)) + 0.0f;          \
				d1[x] = (float)(START(a1) TREE##N(K##_SECOND)) + 0.0f;         \
			}                                                                      \
		else                                                                           \
			for (size_t x = 0; x < n; x++) {                                       \
				K##_SAMPLES;                                                   \
				d0[x] = (float)((double)(START(a0) TREE##N(K##_FIRST)) + bias); \
				d1[x] = (float)((double)(START(a1) TREE##N(K##_SECOND)) + bias); \
			}                                                                      \
	}

typedef void (*pair_fn)(float *restrict, float *restrict, const float *const *, size_t,
                        const float *, size_t);
typedef void (*pair_fin_fn)(float *restrict, float *restrict, const float *restrict,
                            const float *restrict, const float *const *, size_t,
                            const float *, size_t, double);

/* the nine loops of a family, and their table by tap count */
#define PAIR_LOOPS(LOOP, T, START, P, K)                                                    \
	LOOP(1, START, P, K) LOOP(2, START, P, K) LOOP(3, START, P, K)                         \
	LOOP(4, START, P, K) LOOP(5, START, P, K) LOOP(6, START, P, K)                         \
	LOOP(7, START, P, K) LOOP(8, START, P, K) LOOP(9, START, P, K)                         \
	static const T P[TAPS_MAX + 1] = {NULL,  P##1, P##2, P##3, P##4,                      \
	                                  P##5, P##6, P##7, P##8, P##9};

PAIR_LOOPS(PAIR_LOOP, pair_fn, FROM_ZERO, pair_set_f, PLAIN)
PAIR_LOOPS(PAIR_LOOP, pair_fn, FROM_ACC, pair_axpy_f, PLAIN)
PAIR_LOOPS(PAIR_FIN_LOOP, pair_fin_fn, FROM_NONE, pair_fin_set_f, PLAIN)
PAIR_LOOPS(PAIR_FIN_LOOP, pair_fin_fn, FROM_ACC, pair_fin_add_f, PLAIN)
PAIR_LOOPS(PAIR_LOOP, pair_fn, FROM_ZERO, pair_set_ff, FOLD)
PAIR_LOOPS(PAIR_LOOP, pair_fn, FROM_ACC, pair_axpy_ff, FOLD)
PAIR_LOOPS(PAIR_FIN_LOOP, pair_fin_fn, FROM_NONE, pair_fin_set_ff, FOLD)
PAIR_LOOPS(PAIR_FIN_LOOP, pair_fin_fn, FROM_ACC, pair_fin_add_ff, FOLD)

/*
 * conv_sum_taps_finish_SFX for two rows (scale 1), the earlier passes
 * (sum_taps_pair_SFX) split as conv_sum_taps_SFX splits them; a pass of m
 * taps from tap t reads src + STEP * t.
 */
#define SUM_TAPS_PAIR(SFX, STEP)                                                            \
	static void sum_taps_pair_##SFX(float *a0, float *a1, const float *const *src,         \
	                                size_t off, const float *w, size_t nt, size_t n)       \
	{                                                                                      \
		size_t passes = (nt + TAPS_MAX - 1) / TAPS_MAX;                                \
		for (size_t t = 0, p = 0; p < passes; p++) {                                   \
			size_t m = pass_taps(nt - t, passes - p);                              \
			(t == 0 ? pair_set_##SFX : pair_axpy_##SFX)[m](                        \
			        a0, a1, src + STEP * t, off, w + t, n);                        \
			t += m;                                                                \
		}                                                                              \
	}                                                                                      \
	void conv_sum_taps_finish_pair_##SFX(float *d0, float *d1, float *a0, float *a1,       \
	                                     const float *const *src, size_t off,              \
	                                     const float *w, size_t nt, size_t n, double bias) \
	{                                                                                      \
		size_t passes = (nt + TAPS_MAX - 1) / TAPS_MAX, last = nt / passes;            \
		if (passes > 1)                                                                \
			sum_taps_pair_##SFX(a0, a1, src, off, w, nt - last, n);                \
		(passes > 1 ? pair_fin_add_##SFX : pair_fin_set_##SFX)[last](                  \
		        d0, d1, a0, a1, src + STEP * (nt - last), off, w + nt - last, n,       \
		        bias);                                                                 \
	}

SUM_TAPS_PAIR(f, 1)
SUM_TAPS_PAIR(ff, 2)

/*
 * Four output rows at once, for a folded column pass of one pass (N <=
 * TAPS_MAX folded taps): two lists of N + 3 rows interleaved, lo on src[2i]
 * and hi on src[2i + 1] (an F-tap pass over rows r .. r + F + 2: lo[i] is
 * row r + i, hi[i] row r + F + 2 - i); output row k's folded tap i is
 * lo[i + k] + hi[i + 3 - k].  Each of the N + 3 rows' samples, loaded once,
 * serves up to four rows; each row's sum is fin_set_ff's to the bit.
 */
#define QUAD_ROW0(i) (v[(i)] + z[(i) + 3])
#define QUAD_ROW1(i) (v[(i) + 1] + z[(i) + 2])
#define QUAD_ROW2(i) (v[(i) + 2] + z[(i) + 1])
#define QUAD_ROW3(i) (v[(i) + 3] + z[(i)])

/* lo and hi row j of N + 3 (later ones repeat row 0, loaded but unused) */
#define QUAD_TAP(N, j)                                                                      \
	const float *restrict s##j = src[2 * ((j) < (N) + 3 ? (j) : 0)] + off;              \
	const float *restrict u##j = src[2 * ((j) < (N) + 3 ? (j) : 0) + 1] + off

#define QUAD_SAMPLES                                                                        \
	const float v[12] = {s0[x], s1[x], s2[x], s3[x], s4[x],  s5[x],                     \
	                     s6[x], s7[x], s8[x], s9[x], s10[x], s11[x]};                   \
	const float z[12] = {u0[x], u1[x], u2[x], u3[x], u4[x],  u5[x],                     \
	                     u6[x], u7[x], u8[x], u9[x], u10[x], u11[x]}

#define QUAD_LOOP(N)                                                                        \
	SIMD static void quad_fin##N(float *restrict d0, float *restrict d1,                   \
	                             float *restrict d2, float *restrict d3,                   \
	                             const float *const *src, size_t off, const float *w,      \
	                             size_t n, double bias)                                    \
	{                                                                                      \
		QUAD_TAP(N, 0); QUAD_TAP(N, 1); QUAD_TAP(N, 2); QUAD_TAP(N, 3);                \
		QUAD_TAP(N, 4); QUAD_TAP(N, 5); QUAD_TAP(N, 6); QUAD_TAP(N, 7);                \
		QUAD_TAP(N, 8); QUAD_TAP(N, 9); QUAD_TAP(N, 10); QUAD_TAP(N, 11);              \
		const float w0 = w[0], w1 = w[1 % (N)], w2 = w[2 % (N)];                       \
		const float w3 = w[3 % (N)], w4 = w[4 % (N)], w5 = w[5 % (N)];                 \
		const float w6 = w[6 % (N)], w7 = w[7 % (N)], w8 = w[8 % (N)];                 \
		(void)w1, (void)w2, (void)w3, (void)w4, (void)w5, (void)w6, (void)w7, (void)w8; \
		if (bias == 0)                                                                 \
			for (size_t x = 0; x < n; x++) {                                       \
				QUAD_SAMPLES;                                                  \
				d0[x] = (float)(TREE##N(QUAD_ROW0)) + 0.0f;                    \
				d1[x] = (float)(TREE##N(QUAD_ROW1)) + 0.0f;                    \
				d2[x] = (float)(TREE##N(QUAD_ROW2)) + 0.0f;                    \
				d3[x] = (float)(TREE##N(QUAD_ROW3)) + 0.0f;                    \
			}                                                                      \
		else                                                                           \
			for (size_t x = 0; x < n; x++) {                                       \
				QUAD_SAMPLES;                                                  \
				d0[x] = (float)((double)(TREE##N(QUAD_ROW0)) + bias);          \
				d1[x] = (float)((double)(TREE##N(QUAD_ROW1)) + bias);          \
				d2[x] = (float)((double)(TREE##N(QUAD_ROW2)) + bias);          \
				d3[x] = (float)((double)(TREE##N(QUAD_ROW3)) + bias);          \
			}                                                                      \
	}

QUAD_LOOP(1) QUAD_LOOP(2) QUAD_LOOP(3) QUAD_LOOP(4) QUAD_LOOP(5) QUAD_LOOP(6)
QUAD_LOOP(7) QUAD_LOOP(8) QUAD_LOOP(9)

static void (*const quad_fin[TAPS_MAX + 1])(float *restrict, float *restrict, float *restrict,
                                            float *restrict, const float *const *, size_t,
                                            const float *, size_t, double) = {
        NULL,       quad_fin1, quad_fin2, quad_fin3, quad_fin4,
        quad_fin5,  quad_fin6, quad_fin7, quad_fin8, quad_fin9};

_Static_assert(CONV_QUAD_TAPS == TAPS_MAX, "quad_fin has a loop for every count");

/*
 * The four-row column pass with AVX-512 (see row_fold_z): its rows are
 * read at the same column, so the 512-bit loads split no more lines than
 * the rows' starts do (none, on the ring's whole lines).  Bias 0 only (the
 * others take the plain loops); returns the columns made, a multiple of 16.
 */
#if defined(CONV_Z_LOOPS)
/* rows p0 .. p11 (s or u, see QUAD_TAP) at column x */
#define QUAD_Z_LOADS(p)                                                                     \
	{_mm512_loadu_ps(p##0 + x), _mm512_loadu_ps(p##1 + x), _mm512_loadu_ps(p##2 + x),      \
	 _mm512_loadu_ps(p##3 + x), _mm512_loadu_ps(p##4 + x), _mm512_loadu_ps(p##5 + x),      \
	 _mm512_loadu_ps(p##6 + x), _mm512_loadu_ps(p##7 + x), _mm512_loadu_ps(p##8 + x),      \
	 _mm512_loadu_ps(p##9 + x), _mm512_loadu_ps(p##10 + x), _mm512_loadu_ps(p##11 + x)}
#define QUAD_Z_LOOP(N)                                                                      \
	Z_TARGET static size_t quad_z##N(float *restrict d0, float *restrict d1,               \
	                                 float *restrict d2, float *restrict d3,               \
	                                 const float *const *src, size_t off, const float *w,  \
	                                 size_t n)                                             \
	{                                                                                      \
		QUAD_TAP(N, 0); QUAD_TAP(N, 1); QUAD_TAP(N, 2); QUAD_TAP(N, 3);                \
		QUAD_TAP(N, 4); QUAD_TAP(N, 5); QUAD_TAP(N, 6); QUAD_TAP(N, 7);                \
		QUAD_TAP(N, 8); QUAD_TAP(N, 9); QUAD_TAP(N, 10); QUAD_TAP(N, 11);              \
		Z_WEIGHTS(N);                                                                  \
		const __m512 zero = _mm512_setzero_ps();                                       \
		size_t x = 0;                                                                  \
		for (; x + 16 <= n; x += 16) {                                                 \
			const __m512 v[12] = QUAD_Z_LOADS(s), z[12] = QUAD_Z_LOADS(u);        \
			_mm512_storeu_ps(d0 + x, (TREE##N(QUAD_ROW0)) + zero);                 \
			_mm512_storeu_ps(d1 + x, (TREE##N(QUAD_ROW1)) + zero);                 \
			_mm512_storeu_ps(d2 + x, (TREE##N(QUAD_ROW2)) + zero);                 \
			_mm512_storeu_ps(d3 + x, (TREE##N(QUAD_ROW3)) + zero);                 \
		}                                                                              \
		return x;                                                                      \
	}

QUAD_Z_LOOP(1) QUAD_Z_LOOP(2) QUAD_Z_LOOP(3) QUAD_Z_LOOP(4) QUAD_Z_LOOP(5) QUAD_Z_LOOP(6)
QUAD_Z_LOOP(7) QUAD_Z_LOOP(8) QUAD_Z_LOOP(9)

static size_t (*const quad_z[TAPS_MAX + 1])(float *restrict, float *restrict, float *restrict,
                                            float *restrict, const float *const *, size_t,
                                            const float *, size_t) = {
        NULL,    quad_z1, quad_z2, quad_z3, quad_z4,
        quad_z5, quad_z6, quad_z7, quad_z8, quad_z9};
#endif

/*
 * A 3x3 kernel's nine taps with float sums (fin_set_f9) with AVX-512:
 * each kernel row's three samples shifted out of two loads of its row, as
 * row_fold_z does, the sum in fin_set_f9's tree and its finish to the bit.
 */
#if defined(CONV_Z_LOOPS)
#define GRID_Z(i) Z_SHIFT(a[(i) / 3], b[(i) / 3], (i) % 3)

/* (float)(scale * (double)v + bias), or without the product when scale is 1 */
Z_TARGET static inline __m512 finish_z(__m512 v, double scale, double bias)
{
	__m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
	__m512d hi = _mm512_cvtps_pd(
	        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
	const __m512d s = _mm512_set1_pd(scale), c = _mm512_set1_pd(bias);
	if (scale != 1) {
		lo = lo * s;
		hi = hi * s;
	}
	lo = lo + c;
	hi = hi + c;
	return _mm512_castpd_ps(_mm512_insertf64x4(
	        _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo))),
	        _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
}

Z_TARGET static size_t grid_z(float *restrict dst, const float *r0, const float *r1,
                              const float *r2, const float *w, size_t n, size_t avail,
                              double scale, double bias, const conv_ahead *ah)
{
	Z_WEIGHTS(9);
	const __m512 zero = _mm512_setzero_ps();
	const int plain = scale == 1 && bias == 0;
	size_t x = 0;

	for (; x + 16 <= n && x + 32 <= avail; x += 16) {
		if (ah && x < ah->n)
			AHEAD_PREFETCH(ah->p + x);
		const __m512 a[3] = {_mm512_loadu_ps(r0 + x), _mm512_loadu_ps(r1 + x),
		                     _mm512_loadu_ps(r2 + x)};
		const __m512 b[3] = {_mm512_loadu_ps(r0 + x + 16), _mm512_loadu_ps(r1 + x + 16),
		                     _mm512_loadu_ps(r2 + x + 16)};
		const __m512 v = TREE9(GRID_Z);
		_mm512_storeu_ps(dst + x, plain ? (__m512)(v + zero) : finish_z(v, scale, bias));
	}
	return x;
}
#endif

/*
 * The first columns of conv_sum_taps_finish_f(dst, ., src, off, w, nt, n,
 * p's scale, p's bias, ah) for a 3x3 kernel's nine taps, where the CPU has
 * AVX-512: returns how many it made (a multiple of 16; 0 for any other
 * kernel or CPU), the rest being the caller's.
 */
static size_t conv_grid_z(float *dst, const conv_plan *p, const float *const *src, size_t off,
                          const float *w, size_t nt, size_t n, const conv_ahead *ah)
{
#if defined(CONV_Z_LOOPS)
	/* the nine taps of a 3x3 kernel at dilation 1: three rows, columns 0, 1, 2 */
	if (p->g.fr != 3 || p->g.fc != 3 || p->g.dil != 1 || nt != 9 || !conv_z_loops() ||
	    off > p->pw)
		return 0;
	for (size_t i = 0; i < 9; i++)
		if (src[i] != src[i / 3 * 3] + i % 3)
			return 0;
	return grid_z(dst, src[0] + off, src[3] + off, src[6] + off, w, n, p->pw - off,
	              p->k->m[0].scale, p->bias, ah);
#else
	(void)dst, (void)p, (void)src, (void)off, (void)w, (void)nt, (void)n, (void)ah;
	return 0;
#endif
}

void conv_fold_quad_f(float *const *d, const float *const *src, size_t off, const float *w,
                      size_t nt, size_t n, double bias)
{
	size_t done = 0;
#if defined(CONV_Z_LOOPS)
	if (bias == 0 && conv_z_loops())
		done = quad_z[nt](d[0], d[1], d[2], d[3], src, off, w, n);
#endif
	if (done < n)
		quad_fin[nt](d[0] + done, d[1] + done, d[2] + done, d[3] + done, src, off + done, w,
		             n - done, bias);
}

/* 1 when every value is an integer of magnitude <= lim (as copy_check_exact). */
SIMD static int row_is_exact(const float *restrict v, size_t n, float lim)
{
	uint32_t hi = 0;
	unsigned frac = 0;
	for (size_t x = 0; x < n; x++) {
		uint32_t b = conv_mag_bits(v[x]);
		hi = b > hi ? b : hi;
		frac |= (unsigned)((v[x] + ROUND_MAGIC) - ROUND_MAGIC != v[x]);
	}
	return frac == 0 && hi <= conv_mag_bits(lim);
}

/*
 * dst[0..n) = src[0..n), returning 1 when every value is an integer of
 * magnitude <= lim (lim <= 2^22); NaN and infinities fail (their bits are
 * above lim's).  One pass does both: (x + 1.5*2^23) - 1.5*2^23 is x
 * rounded to an integer.
 */
SIMD static int copy_check_exact(float *restrict dst, const float *restrict src, size_t n,
                                 float lim)
{
	uint32_t hi = 0;
	unsigned frac = 0;
	for (size_t x = 0; x < n; x++) {
		float v = src[x];
		uint32_t b = conv_mag_bits(v);
		dst[x] = v;
		hi = b > hi ? b : hi;
		frac |= (unsigned)((v + ROUND_MAGIC) - ROUND_MAGIC != v);
	}
	return frac == 0 && hi <= conv_mag_bits(lim);
}

/* 1 when every value is moderate (see conv_row_moderate). */
SIMD static int row_is_moderate(const float *restrict v, size_t n)
{
	uint32_t hi = 0, lo = UINT32_MAX;
	for (size_t x = 0; x < n; x++) {
		uint32_t b = conv_mag_bits(v[x]);
		conv_mag_note(b, &hi, &lo);
	}
	return conv_row_moderate(hi, lo);
}

/* dst[0..n) = src[0..n), returning row_is_moderate of it (one pass). */
SIMD static int copy_check_moderate(float *restrict dst, const float *restrict src, size_t n)
{
	uint32_t hi = 0, lo = UINT32_MAX;
	for (size_t x = 0; x < n; x++) {
		uint32_t b = conv_mag_bits(src[x]);
		dst[x] = src[x];
		conv_mag_note(b, &hi, &lo);
	}
	return conv_row_moderate(hi, lo);
}

/*
 * copy_check_moderate with AVX-512: stores on whole cache lines from the
 * first one in dst (the padded row's input part starts a float or a few
 * past one), one 64-byte load from src a line stored.  The AVX2 clone,
 * with both sides off a line (the plane's rows 16 bytes past one), split
 * a line at half its loads and half its stores: 1.5 ms for a 4096x4096
 * plane's rows against 1.0, the 3x3 float path 10% slower.
 */
#if defined(CONV_Z_LOOPS)
/* values before dst's first cache line, at most n */
static size_t to_line(const float *dst, size_t n)
{
	size_t k = (64 - (size_t)((uintptr_t)dst & 63)) % 64 / sizeof *dst;
	return k < n ? k : n;
}

/*
 * The whole lines with AVX-512; the values before the first and after
 * the last with copy_check_moderate (a row is moderate when its parts
 * are).
 */
Z_TARGET static int copy_check_moderate_z(float *restrict dst, const float *restrict src, size_t n)
{
	const size_t head = to_line(dst, n), end = head + (n - head) / 16 * 16;
	const __m512i mask = _mm512_set1_epi32(0x7fffffff), one = _mm512_set1_epi32(1);
	__m512i vh = _mm512_setzero_si512(), vl = _mm512_set1_epi32(-1);

	for (size_t x = head; x < end; x += 16) {
		const __m512 v = _mm512_loadu_ps(src + x);
		_mm512_store_ps(dst + x, v);
		const __m512i b = _mm512_and_si512(_mm512_castps_si512(v), mask);
		vh = _mm512_max_epu32(vh, b);
		vl = _mm512_min_epu32(vl, _mm512_sub_epi32(b, one));
	}
	return conv_row_moderate((uint32_t)_mm512_reduce_max_epu32(vh),
	                         (uint32_t)_mm512_reduce_min_epu32(vl)) &
	       copy_check_moderate(dst, src, head) &
	       copy_check_moderate(dst + end, src + end, n - end);
}

/* copy_check_exact in the same way */
Z_TARGET static int copy_check_exact_z(float *restrict dst, const float *restrict src, size_t n,
                                       float lim)
{
	const size_t head = to_line(dst, n), end = head + (n - head) / 16 * 16;
	const __m512i mask = _mm512_set1_epi32(0x7fffffff);
	const __m512 magic = _mm512_set1_ps(ROUND_MAGIC);
	__m512i vh = _mm512_setzero_si512();
	__mmask16 frac = 0;

	for (size_t x = head; x < end; x += 16) {
		const __m512 v = _mm512_loadu_ps(src + x);
		_mm512_store_ps(dst + x, v);
		vh = _mm512_max_epu32(vh, _mm512_and_si512(_mm512_castps_si512(v), mask));
		frac |= _mm512_cmp_ps_mask((v + magic) - magic, v, _CMP_NEQ_UQ);
	}
	return (frac == 0 && (uint32_t)_mm512_reduce_max_epu32(vh) <= conv_mag_bits(lim)) &
	       copy_check_exact(dst, src, head, lim) &
	       copy_check_exact(dst + end, src + end, n - end, lim);
}
#else
#define copy_check_moderate_z copy_check_moderate
#define copy_check_exact_z copy_check_exact
#endif

/*
 * dst[0..pw) = input row src extended by the border: dst[x] is input column
 * x - left.  colsrc maps the columns outside the image.  With lim > 0,
 * returns whether the row qualifies for exact float sums (see
 * copy_check_exact); with lim == 0, returns 0.  With mod, sets *mod to
 * row_is_moderate of the row (checked as it is copied; an exact row, of
 * small integers, is moderate already).
 */
int conv_pad_row(float *restrict dst, const float *restrict src, size_t width, size_t left,
                 size_t pw, const ptrdiff_t *restrict colsrc, float lim, int *mod)
{
	size_t a = left < pw ? left : pw;                 /* end of the left border */
	size_t b = left + width < pw ? left + width : pw; /* end of the inside */
	int exact = 0;

	/*
	 * The border repeats values of the row (or zeros), so the row decides.
	 * When the output reads only part of it, the rest is checked apart.
	 */
	if (lim > 0) {
		exact = conv_z_loops() ? copy_check_exact_z(dst + a, src + (a - left), b - a, lim)
		                       : copy_check_exact(dst + a, src + (a - left), b - a, lim);
		if (exact && b - a < width)
			exact = row_is_exact(src, width, lim);
		if (mod)
			*mod = exact || row_is_moderate(src, width);
	} else if (mod) {
		*mod = conv_z_loops()
		               ? copy_check_moderate_z(dst + a, src + (a - left), b - a)
		               : copy_check_moderate(dst + a, src + (a - left), b - a);
		if (*mod && b - a < width)
			*mod = row_is_moderate(src, width);
	} else if (b > a) {
		memcpy(dst + a, src + (a - left), (b - a) * sizeof *dst);
	}
	for (size_t x = 0; x < a; x++)
		dst[x] = colsrc[x] < 0 ? 0.0f : src[colsrc[x]];
	for (size_t x = b; x < pw; x++)
		dst[x] = colsrc[x] < 0 ? 0.0f : src[colsrc[x]];
	return exact;
}

/* pad_row without the exact check, widened to double on the way (one pass). */
void conv_pad_row_d(double *restrict dst, const float *restrict src, size_t width,
                    size_t left, size_t pw, const ptrdiff_t *restrict colsrc)
{
	size_t a = left < pw ? left : pw;
	size_t b = left + width < pw ? left + width : pw;

	if (b > a)
		widen(dst + a, src + (a - left), b - a);
	for (size_t x = 0; x < a; x++)
		dst[x] = colsrc[x] < 0 ? 0.0 : (double)src[colsrc[x]];
	for (size_t x = b; x < pw; x++)
		dst[x] = colsrc[x] < 0 ? 0.0 : (double)src[colsrc[x]];
}


/*
 * dst[0..n) = src[0..n) with stores that go around the caches: on x86-64,
 * movntps, 32 bytes at a time where the CPU has AVX (16-byte ones measured
 * 10-15% slower on the 3x3 float path), else 16 (SSE2, which every x86-64
 * has); elsewhere plain stores.  They are weakly ordered: conv_worker_run
 * fences them before it returns.
 */
#if defined(__x86_64__) && defined(__SSE2__)
/* Plain stores up to the first dst + x on a multiple of align (at most n); returns x. */
static size_t store_to_alignment(float *restrict dst, const float *restrict src, size_t n,
                                 uintptr_t align)
{
	size_t x = 0;
	for (; x < n && ((uintptr_t)(dst + x) & (align - 1)) != 0; x++)
		dst[x] = src[x];
	return x;
}
#endif

#if defined(__x86_64__) && defined(__SSE2__) && defined(__GNUC__)
__attribute__((target("avx"))) static void stream_store_avx(float *restrict dst,
                                                           const float *restrict src, size_t n)
{
	size_t x = store_to_alignment(dst, src, n, 32);
	for (; x + 8 <= n; x += 8)
		_mm256_stream_ps(dst + x, _mm256_loadu_ps(src + x));
	memcpy(dst + x, src + x, (n - x) * sizeof *dst);
}
#endif

static void stream_store(float *restrict dst, const float *restrict src, size_t n)
{
#if defined(__x86_64__) && defined(__SSE2__)
#if defined(__GNUC__)
	if (__builtin_cpu_supports("avx")) {
		stream_store_avx(dst, src, n);
		return;
	}
#endif
	size_t x = store_to_alignment(dst, src, n, 16);
	for (; x + 4 <= n; x += 4)
		_mm_stream_ps(dst + x, _mm_loadu_ps(src + x));
	memcpy(dst + x, src + x, (n - x) * sizeof *dst);
#else
	memcpy(dst, src, n * sizeof *dst);
#endif
}

static void stream_fence(void)
{
#if defined(__x86_64__) && defined(__SSE2__)
	_mm_sfence();
#endif
}

float *conv_span_out(const conv_worker *w, float *dst, int k)
{
	return w->stream ? w->stage + (size_t)k * CONV_SPAN : dst;
}

void conv_span_store(const conv_worker *w, float *dst, int k, size_t n)
{
	if (w->stream)
		stream_store(dst, w->stage + (size_t)k * CONV_SPAN, n);
}

/*
 * n output values of one output plane's row into dst, for output columns
 * whose windows start at padded column off + x*s: every matrix, every
 * active tap; responses summed (or their squares, for a magnitude), then
 * the bias, in the reference's order.  exact: every row qualifies for the
 * exact float loops; fsum: for float sums (see gather_rows); ah: prefetched
 * along the first pass over the taps.
 */
static void conv_span(float *restrict dst, const conv_plan *p, const conv_active *act,
                      size_t off, size_t n, int exact, int fsum, conv_worker *w,
                      const conv_ahead *ah)
{
	const imf_kernel *k = p->k;
	const size_t s = p->g.stride;
	const int magnitude = k->combine == IMF_COMBINE_MAGNITUDE;
	double *restrict acc = w->acc, *restrict total = w->total;
	float *restrict facc = w->facc;

	/* the first matrix's first pass prefetches; the others need not */
	for (size_t q = 0; q < k->count; q++, ah = NULL) {
		const float *const *src = act[q].src;
		size_t t = 0, nt = act[q].n;

		if (exact && s == 1) {
			const float *wf = act[q].wf;
			if (p->exact_direct)
				facc = dst; /* (float)(scale * sum + 0) is scale * sum, exactly */
			conv_sum_taps_f(facc, src, off, wf, nt, n, ah);
			if (p->exact_direct) {
				scale_row(dst, (float)k->m[0].scale, n);
				return;
			}
			widen(acc, facc, n);
		} else if (fsum && k->count == 1 && !magnitude) {
			size_t done = conv_grid_z(dst, p, src, off, act[q].wf, nt, n, ah);
			if (done < n)
				conv_sum_taps_finish_f(dst + done, facc, src, off + done, act[q].wf, nt,
				                       n - done, k->m[0].scale, p->bias, done ? NULL : ah);
			return;
		} else if (fsum) {
			conv_sum_taps_f(facc, src, off, act[q].wf, nt, n, ah);
			widen(acc, facc, n);
		} else if (s == 1 && k->count == 1 && !magnitude) {
			conv_sum_taps_finish_d(dst, acc, act[q].dsrc, off, act[q].w, nt, n,
			                       k->m[0].scale, p->bias, ah);
			return;
		} else if (s == 1) {
			conv_sum_taps_d(acc, act[q].dsrc, off, act[q].w, nt, n, ah);
		} else {
			memset(acc, 0, n * sizeof *acc);
			for (; t < nt; t++)
				axpy_strided(acc, src[t] + off, act[q].w[t], n, s);
		}
		if (k->count == 1 && !magnitude) {
			finish_row(dst, acc, k->m[0].scale, p->bias, n);
			return;
		}
		const double scale = k->m[q].scale;
		if (q == 0)
			memset(total, 0, n * sizeof *total);
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
			dst[x] = (float)(sqrt(total[x]) + p->g.bias);
	else
		for (size_t x = 0; x < n; x++)
			dst[x] = (float)(total[x] + p->g.bias);
}

/*
 * Make rows[c*Fr + i] point at plane c's padded row for kernel row i of
 * output row oy (the shared zero row where the zero border supplies it),
 * padding rows not already in the ring.  Returns 1 when every real row
 * qualifies for exact float arithmetic; *fsum is 1 when float sums apply
 * (IMF_PRECISION_FLOAT, and every real row moderate).
 */
static int gather_rows(conv_worker *w, conv_fetch fetch, const void *ctx, size_t oy, int *fsum)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	int exact = p->exact_limit > 0;

	*fsum = p->float_sums;

	for (size_t i = 0; i < g->fr; i++) {
		size_t r = oy * g->stride + i * g->dil, slot = r % p->ring;
		ptrdiff_t sy = conv_border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top, g->ih);
		if (sy < 0) {
			for (int c = 0; c < g->nfilt; c++)
				w->rows[(size_t)c * g->fr + i] = w->zero;
			continue;
		}
		if (w->tag[slot] != r && p->wide_only) {
			for (int c = 0; c < g->nfilt; c++)
				conv_pad_row_d(w->dcache + ((size_t)c * p->ring + slot) * p->dstride,
				               fetch(ctx, c, (size_t)sy), g->iw, g->left, p->pw,
				               p->colsrc);
			w->tag[slot] = r;
			w->exact[slot] = 0;
			w->widened[slot] = 1;
		} else if (w->tag[slot] != r) {
			int ok = p->exact_limit > 0, mod = 1;
			for (int c = 0; c < g->nfilt; c++) {
				float *dst = w->cache + ((size_t)c * p->ring + slot) * p->fstride;
				const float *src = fetch(ctx, c, (size_t)sy);
				int m = 1;
				ok &= conv_pad_row(dst, src, g->iw, g->left, p->pw, p->colsrc,
				                   ok ? p->exact_limit : 0, p->float_sums ? &m : NULL);
				mod &= m;
			}
			w->tag[slot] = r;
			w->exact[slot] = (unsigned char)ok;
			if (w->widened)
				w->widened[slot] = 0;
			if (p->float_sums)
				w->moderate[slot] = (unsigned char)mod;
		}
		exact &= w->exact[slot];
		if (p->float_sums)
			*fsum &= w->moderate[slot];
		/* wide_only: no float row; NULL still tells a real row from w->zero. */
		for (int c = 0; c < g->nfilt; c++)
			w->rows[(size_t)c * g->fr + i] =
			        p->wide_only ? NULL : w->cache + ((size_t)c * p->ring + slot) * p->fstride;
	}
	return exact;
}

/*
 * The input rows the next output row adds (the last kernel row's, each
 * plane) into w->next, for prefetch_part; 0 when there are none (a row of
 * the zero border).
 */
static int next_rows(conv_worker *w, conv_fetch fetch, const void *ctx, size_t oy)
{
	const conv_geom *g = &w->p->g;
	size_t r = (oy + 1) * g->stride + (g->fr - 1) * g->dil;
	ptrdiff_t sy = conv_border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top, g->ih);

	if (sy < 0)
		return 0;
	for (int c = 0; c < g->nfilt; c++)
		w->next[c] = fetch(ctx, c, (size_t)sy);
	return 1;
}

/*
 * Ask the cache for part `part` of `parts` of the rows next_rows found, a
 * part a span: when the next output row pads them they are near, their
 * reading from memory having overlapped this row's arithmetic.  A hint
 * only; no value depends on it.
 */
static void prefetch_part(const conv_worker *w, size_t part, size_t parts)
{
#if defined(__GNUC__)
	const conv_geom *g = &w->p->g;
	size_t chunk = (g->iw + parts - 1) / parts, x0 = part * chunk, x1 = x0 + chunk;

	if (x1 > g->iw)
		x1 = g->iw;
	for (int c = 0; c < g->nfilt; c++)
		for (size_t x = x0; x < x1; x += 64 / sizeof(float))
			__builtin_prefetch(w->next[c] + x, 0, 2);
#else
	(void)w, (void)part, (void)parts;
#endif
}

/*
 * Output row oy into row orow of o.  ahead: output row oy + 1 belongs to
 * this run, so fetch may be asked for its rows (a window holds only the
 * rows of its run's output rows).
 */
static void direct_row(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                       size_t orow, size_t oy, int ahead)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	const imf_kernel *k = p->k;
	const size_t ow = g->ow, s = g->stride;
	int fsum;
	int exact = gather_rows(w, fetch, ctx, oy, &fsum);
	const size_t parts = (ow + CONV_DIRECT_SPAN - 1) / CONV_DIRECT_SPAN;
	const int pre = ahead && next_rows(w, fetch, ctx, oy);
	int wide = !exact && s == 1 && !fsum;
	/* The double loops read the rows widened once (as exact as the floats). */
	if (wide)
		for (size_t i = 0; i < g->fr; i++) {
			size_t r = oy * s + i * g->dil, slot = r % p->ring;
			for (int c = 0; c < g->nfilt; c++) {
				const float *row = w->rows[(size_t)c * g->fr + i];
				double *d = w->dcache + ((size_t)c * p->ring + slot) * p->dstride;
				if (row == w->zero) {
					w->drows[(size_t)c * g->fr + i] = w->dzero;
					continue;
				}
				if (!w->widened[slot])
					widen(d, row, p->pw);
				w->drows[(size_t)c * g->fr + i] = d;
			}
			if (w->rows[i] != w->zero)
				w->widened[slot] = 1;
		}

	for (int c = 0; c < g->nout; c++) {
		float *dst = imf_image_row(o, c, orow);
		/*
		 * Matrix q reads plane q of a multi-channel kernel's input, else
		 * plane c.  Taps on rows of zeros (zero border) add nothing: dropped.
		 */
		for (size_t q = 0; q < k->count; q++) {
			const size_t plane = g->depth > 1 ? q : (size_t)c;
			const float *const *prow = w->rows + plane * g->fr;
			conv_active *a = &w->act[q];
			a->n = 0;
			for (size_t t = p->part_start[q]; t < p->part_start[q + 1]; t++) {
				const float *row = prow[p->taps[t].i];
				if (row == w->zero)
					continue;
				if (!wide)
					a->src[a->n] = row + p->taps[t].col;
				else
					a->dsrc[a->n] =
					        w->drows[plane * g->fr + p->taps[t].i] + p->taps[t].col;
				a->w[a->n] = p->taps[t].w;
				a->wf[a->n] = (float)p->taps[t].w;
				a->n++;
			}
		}
		/*
		 * At stride 1, each plane's loops prefetch the row its next output
		 * row adds, a line as they go (LOOP_AHEAD); otherwise a part of
		 * every such row before each span.
		 */
		const int along = pre && s == 1 && g->depth == 1 && c < g->nfilt;
		for (size_t x0 = 0; x0 < ow; x0 += CONV_DIRECT_SPAN) {
			size_t n = ow - x0 < CONV_DIRECT_SPAN ? ow - x0 : CONV_DIRECT_SPAN;
			conv_ahead ah;
			const conv_ahead *ahp =
			        conv_ahead_from(&ah, along ? w->next[c] : NULL, g->iw, x0);
			if (pre && !along && c == 0)
				prefetch_part(w, x0 / CONV_DIRECT_SPAN, parts);
			conv_span(conv_span_out(w, dst + x0, 0), p, w->act, x0 * s, n, exact, fsum, w,
			          ahp);
			conv_span_store(w, dst + x0, 0, n);
		}
	}
}

void conv_worker_run(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                     size_t first, size_t oy0, size_t oy1)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	/* (oy1 - oy0) rows of row_bytes, at least CONV_STREAM_BYTES (no product) */
	const size_t row_bytes = g->ow * (size_t)g->nout * sizeof(float);

	w->stream = row_bytes > 0 &&
	            oy1 - oy0 >= (CONV_STREAM_BYTES + row_bytes - 1) / row_bytes;
	w->last_row = oy1 > oy0 ? (oy1 - 1) * g->stride + (g->fr - 1) * g->dil : 0;
	for (size_t oy = oy0; oy < oy1;) {
		size_t made = 1;
		if (p->sep)
			made = conv_separable_rows(w, fetch, ctx, o, oy - first, oy, oy1 - oy);
		else
			direct_row(w, fetch, ctx, o, oy - first, oy, oy + 1 < oy1);
		for (; made > 0; made--, oy++) {
			if (!g->alpha)
				continue;
			int a = g->ich - 1;
			const float *restrict src =
			        fetch(ctx, a, conv_anchor_index(oy, g->stride, g->top, g->er, g->ih));
			float *restrict dst = imf_image_row(o, a, oy - first);
			for (size_t x = 0; x < g->ow; x++)
				dst[x] = src[p->alpha_col[x]];
		}
	}
	if (w->stream) {
		stream_fence();
		w->streamed += oy1 - oy0;
	}
}
