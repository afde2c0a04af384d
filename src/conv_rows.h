/*
 * conv_rows.h - the row engine's own types: its plan and its workers, shared
 * by conv_plan.c (which makes them) and conv_rows.c and conv_sep.c (which
 * run them).
 * Everything else sees them through conv_internal.h, opaque.  Not installed.
 */
#ifndef IMF_CONV_ROWS_H
#define IMF_CONV_ROWS_H

#include "conv_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * A value is moderate when it is 0 or of magnitude 2^-64 .. 2^64: not NaN,
 * infinite, beyond 2^64 or (0 apart) below 2^-64.  Float sums of moderate
 * values under weights of 2^-40 .. 2^40 (sum below 2^40) neither overflow
 * nor turn subnormal.
 *
 * Rows are tested by the bits of |v| (conv_mag_bits), which order as the
 * magnitudes do, with NaN above infinity: a row is moderate when the
 * largest is at most 2^64's and the smallest less one at least 2^-64's less
 * one, 0 less one wrapping to the top (conv_row_moderate).  A loop keeps
 * the two as an unsigned max and min, two vector instructions a vector of
 * values where the float comparisons took eight; the same bits give
 * |v| <= lim for the exact test.
 */
#define CONV_MAG_2P64 0x5f800000u  /* conv_mag_bits(0x1p64f) */
#define CONV_MAG_2M64 0x1f800000u  /* conv_mag_bits(0x1p-64f) */

static inline uint32_t conv_mag_bits(float v)
{
	uint32_t b;
	memcpy(&b, &v, sizeof b);
	return b & 0x7fffffffu;
}

/* hi: the largest conv_mag_bits of a row; lo: the smallest of them less 1 */
static inline int conv_row_moderate(uint32_t hi, uint32_t lo)
{
	return hi <= CONV_MAG_2P64 && lo >= CONV_MAG_2M64 - 1u;
}

/* One value's bits b into a row's running hi and lo (start at 0 and UINT32_MAX). */
static inline void conv_mag_note(uint32_t b, uint32_t *hi, uint32_t *lo)
{
	*hi = b > *hi ? b : *hi;
	*lo = b - 1u < *lo ? b - 1u : *lo;
}

/*
 * Output columns per pass over the taps, so that the accumulators stay in
 * L1: CONV_SPAN on the separable path, CONV_DIRECT_SPAN on the direct one,
 * where fewer, longer calls made the 3x3 float path 7% faster (1024
 * against 512 columns; 2048 was slower again, and the separable path 4%
 * slower at 1024).  The span buffers (acc, total, facc, stage) hold
 * either.
 */
#define CONV_SPAN 512
#define CONV_DIRECT_SPAN 1024

/*
 * A worker's run that writes at least this many bytes of output writes it
 * with streaming stores: each span is made in w->stage (L1), then stored
 * past the caches (conv_span_store).  An ordinary store first reads the
 * line it writes from memory; an output this large would not stay in the
 * caches anyway, so that read is a third more traffic for nothing (memcpy
 * does the same above a size).  Bands of a streamed file (a few rows) stay
 * below it: their rows are mapped and encoded next, from the cache.
 */
#define CONV_STREAM_BYTES ((size_t)16 << 20)

/* Up to this dilation the ring holds E rows; past it, the fewest that work. */
#define CONV_RING_FULL_DILATION 4

/* Integers up to 2^22 can be tested with the 1.5 * 2^23 rounding trick. */
#define EXACT_MAX 4194304.0f
#define ROUND_MAGIC 12582912.0f

typedef struct conv_tap {
	size_t i;   /* kernel row, after the flip */
	size_t col; /* padded-row offset: kernel column (after the flip) * D */
	double w;
} conv_tap;

struct conv_plan {
	conv_geom g;
	const imf_kernel *k;
	size_t pw;          /* padded columns the output reads */
	size_t ring;        /* slots in a worker's ring */
	size_t fstride;     /* floats from one padded ring row (cache) to the next */
	size_t dstride;     /* doubles from one widened ring row (dcache) to the next */
	size_t hstride;     /* doubles from one row-pass result (hcache) to the next */
	conv_tap *taps;     /* every matrix's non-zero taps, in summation order */
	size_t *part_start; /* matrix q's taps: part_start[q] .. part_start[q+1]-1 */
	ptrdiff_t *colsrc;  /* input column of each padded column, -1 for zero */
	size_t *alpha_col;  /* input column of each output column's alpha */
	float exact_limit;  /* 0, or integer samples up to this are exact in float */
	int float_sums;     /* IMF_PRECISION_FLOAT, direct, stride 1, weights fit: sums in float */
	int wide_only;      /* stride 1, no exact rows, no float sums: rows padded straight to double */
	double bias;        /* g.bias, but +0 for -0 (see FIN_LOOP) */
	int exact_direct;   /* exact float sums go straight to the output (see conv_span) */
	int sep;            /* separable: sep_c (Fr) and sep_r (Fc), flip applied */
	double *sep_c, *sep_r;
	int sep_int;        /* every weight an integer: exact on integer rows, in double */
	int sep_float;      /* stride 1, weights of moderate size: float passes allowed */
	size_t group;       /* separable: most output rows a column pass makes at once: 1;
	                       2 (sep_float, dilation 1, no zero in sep_cf); 4 (also
	                       nfold_c <= CONV_QUAD_TAPS); the ring holds Fr + group - 1 rows */
	float *sep_cf, *sep_rf; /* sep_c, sep_r rounded to float */
	size_t nfold_c, nfold_r; /* sep_float, sep_cf (sep_rf) symmetric, no zero: its folded
	                            taps ((F + 1) / 2), else 0 */
	float *sep_cfold, *sep_rfold; /* their weights, an odd F's middle one halved */
};

typedef struct conv_active {
	const float **src; /* padded row + tap column */
	const double **dsrc; /* the same in the widened rows (double loops, stride 1) */
	double *w;
	float *wf;
	size_t n;
} conv_active;

struct conv_worker {
	const conv_plan *p;
	unsigned char *block; /* cache, stage and hfcache (worker_block in conv_plan.c) */
	float *cache;         /* nfilt * ring padded rows (direct, not wide_only); 1 (separable) */
	double *dcache;       /* direct, stride 1: the same rows widened, when needed */
	unsigned char *widened; /* ring slot: dcache holds its rows */
	double *dzero;        /* pw zeros */
	const double **drows; /* nfilt * Fr, as rows */
	const double **act_dsrc;
	double *hcache;       /* separable: nfilt * ring row-pass results, ow wide, hstride apart */
	double *dpad;         /* separable: the padded row, widened once */
	float *hfcache;       /* separable, sep_float: the row-pass results in float, as hcache */
	unsigned char *has_d, *has_f; /* ring slot: hcache / hfcache hold its row's results */
	unsigned char *row_int, *row_mod; /* ring slot: conv_classify_row of its rows */
	const float **hfrows; /* separable: nfilt * (Fr + group - 1) (a group's rows), then Fc */
	const float **ftapsrc; /* separable: a float pass's taps (max(Fr, Fc) + 7: a folded
	                          group's 2 ((F + 1) / 2 + 3) rows) */
	float *ftapw;
	const double **tapsrc; /* separable, max(Fr, Fc): a pass's non-zero taps: rows, */
	double *tapw;          /* and weights */
	size_t *tag;          /* ring slot -> padded row it holds, SIZE_MAX for none */
	unsigned char *exact; /* ring slot: its row qualifies for exact float */
	unsigned char *moderate; /* float_sums, ring slot: values 0 or 2^-64 .. 2^64 */
	float *zero;          /* pw zeros: the rows the zero border supplies */
	const float **rows;   /* nfilt * Fr: plane c's padded row for kernel row i */
	const float **next;   /* nfilt: the input rows the next output row adds (prefetch) */
	const double **hrows; /* separable: nfilt * Fr */
	conv_active *act;
	const float **act_src;
	double *act_w;
	float *act_wf;
	double *acc, *total;
	float *facc;          /* 2 * CONV_SPAN: float sums (a pair's two, or a direct span) */
	float *stage;         /* 4 * CONV_SPAN: output spans on their way out (stream) */
	int stream;           /* this run writes its output with streaming stores */
	size_t last_row;      /* the last padded row the run's output rows read */
	size_t streamed;      /* output rows stored by streaming (conv_worker_streamed_rows) */
	size_t in_pairs, in_fours; /* output rows made two, and four, at a time
	                              (conv_worker_group_rows) */
};

/*
 * A row the inner loops prefetch as they go, a cache line of p every 16
 * output columns, for the columns below n (NULL for none).  The direct path
 * passes the input row the next output row adds (see LOOP_AHEAD).  Passed
 * by address: a struct passed by value past the sixth argument is copied
 * from the stack with one 16-byte load of two 8-byte stores, which cannot
 * be forwarded and waits for every older store to drain, here the output
 * row's, bound for memory (18% of a sobel-x profile, and slower than no
 * prefetch at all).
 */
typedef struct conv_ahead {
	const float *p;
	size_t n;
} conv_ahead;

/* *ah = row from column x0 on, of its len: ah, or NULL without a row or past its end. */
static inline const conv_ahead *conv_ahead_from(conv_ahead *ah, const float *row, size_t len,
                                                size_t x0)
{
	if (!row || x0 >= len)
		return NULL;
	ah->p = row + x0;
	ah->n = len - x0;
	return ah;
}

/* conv_rows.c's inner loops and padding, shared with conv_sep.c (see there). */
void conv_sum_taps_d(double *acc, const double *const *src, size_t off, const double *w,
                     size_t nt, size_t n, const conv_ahead *ah);
void conv_sum_taps_f(float *acc, const float *const *src, size_t off, const float *w,
                     size_t nt, size_t n, const conv_ahead *ah);
void conv_sum_taps_finish_d(float *dst, double *acc, const double *const *src, size_t off,
                            const double *w, size_t nt, size_t n, double scale, double bias,
                            const conv_ahead *ah);
void conv_sum_taps_finish_f(float *dst, float *acc, const float *const *src, size_t off,
                            const float *w, size_t nt, size_t n, double scale, double bias,
                            const conv_ahead *ah);
/*
 * The same with a scale of 1, for two rows at once: d0 from src[0..nt), d1
 * from src[1..nt]; nt >= 1.
 */
void conv_sum_taps_finish_pair_f(float *d0, float *d1, float *a0, float *a1,
                                 const float *const *src, size_t off, const float *w,
                                 size_t nt, size_t n, double bias);
/*
 * Folded lists (a symmetric kernel's mirrored taps summed before the
 * product): nt folded taps, tap t's two rows src[2t] and src[2t + 1].
 */
void conv_sum_taps_ff(float *acc, const float *const *src, size_t off, const float *w,
                      size_t nt, size_t n, const conv_ahead *ah);
void conv_sum_taps_finish_ff(float *dst, float *acc, const float *const *src, size_t off,
                             const float *w, size_t nt, size_t n, double scale, double bias,
                             const conv_ahead *ah);
/*
 * h[0..n) = the folded sum of an F-tap symmetric row pass at dilation 1
 * over one row p (tap j on p + j; avail floats readable from p, at least
 * n + F - 1), as conv_sum_taps_ff sums it; 0 when F is past the loops
 * this has (then nothing is done).
 */
int conv_fold_row_f(float *h, const float *p, const float *w, size_t f, size_t n, size_t avail,
                    const conv_ahead *ah);
/*
 * 1 when the AVX-512 loops run (row_fold_z, quad_z, grid_z): the CPU has
 * AVX-512F and conv_z_use has not turned them off.  They give the other
 * loops' values to the bit; conv_z_use(0) is for the tests that show it
 * (not thread-safe: call it between runs).
 */
int conv_z_loops(void);
void conv_z_use(int on);
/*
 * Four rows at once, folded, one pass (1 <= nt <= CONV_QUAD_TAPS), scale 1:
 * d[k][0..n) from columns off.. of two lists of nt + 3 rows interleaved, lo[i] on
 * src[2i] and hi[i] on src[2i + 1]; d[k]'s folded tap i is lo[i + k] +
 * hi[i + 3 - k].
 */
#define CONV_QUAD_TAPS 9
void conv_fold_quad_f(float *const *d, const float *const *src, size_t off, const float *w,
                      size_t nt, size_t n, double bias);
/*
 * Folded pairs: two lists of nt + 1 rows interleaved, lo[i] on src[2i] and
 * hi[i] on src[2i + 1]; d0's folded tap i is lo[i] + hi[i + 1], d1's
 * lo[i + 1] + hi[i].
 */
void conv_sum_taps_finish_pair_ff(float *d0, float *d1, float *a0, float *a1,
                                  const float *const *src, size_t off, const float *w,
                                  size_t nt, size_t n, double bias);
/*
 * The separable path's test of an input row (conv_sep.c): *integer unless
 * some value below 2^22 has a fraction, *moderate when every value is.
 */
void conv_classify_row(const float *restrict v, size_t n, int *integer, int *moderate);
int conv_pad_row(float *restrict dst, const float *restrict src, size_t width, size_t left,
                 size_t pw, const ptrdiff_t *restrict colsrc, float lim, int *mod);
void conv_pad_row_d(double *restrict dst, const float *restrict src, size_t width,
                    size_t left, size_t pw, const ptrdiff_t *restrict colsrc);

/*
 * Where the span of output row k (0..3) of the rows being made goes: dst
 * itself, or, when the run streams (w->stream, see CONV_STREAM_BYTES),
 * w->stage, from where conv_span_store then stores its n values to dst.
 */
float *conv_span_out(const conv_worker *w, float *dst, int k);
void conv_span_store(const conv_worker *w, float *dst, int k, size_t n);

/*
 * conv_sep.c: output row oy of a separable plan, and the next 1 or 3 too
 * when n allows and the group qualifies (p->group), into rows orow... of o;
 * returns the rows made.
 */
size_t conv_separable_rows(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                           size_t orow, size_t oy, size_t n);

#endif
