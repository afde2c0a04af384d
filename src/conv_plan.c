/*
 * conv_plan.c - what the row engine runs, decided once per kernel and
 * geometry: the plan (the kernel's non-zero taps in summation order, the
 * border's column map, the ring's size, which arithmetic is exact: integer
 * kernels on small integer rows in float, rank-1 matrices as two passes)
 * and each thread's worker buffers.  conv_rows.c runs them; the contract of
 * each path is at its top.
 */
#include "conv_rows.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* worker_block poisons the gaps between its buffers under AddressSanitizer */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONV_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(CONV_ASAN)
#include <sanitizer/asan_interface.h>
#define BLOCK_GAP(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#else
#define BLOCK_GAP(p, n) ((void)(p), (void)(n))
#endif

/* ---- the plan ------------------------------------------------------------------ */

static size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * Rows in the ring: output row oy reads padded rows oy*S + i*D (i < Fr),
 * kept in slot r % R.  Those Fr rows fall in distinct slots whenever
 * R >= Fr and R has no factor in common with D.  R = E does, and keeps every
 * row until the last output row that reads it; for a large dilation the
 * smallest such R >= Fr is used (rows may then be padded again).
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

static int is_integer(double v)
{
	return isfinite(v) && v == floor(v) && fabs(v) <= 16777216.0;
}

/* Integer kernel: the largest integer sample for which float sums stay exact. */
static float exact_limit(const imf_kernel *k)
{
	double worst = 0;
	for (size_t q = 0; q < k->count; q++) {
		const imf_matrix *m = &k->m[q];
		double s = 0;
		for (size_t t = 0; t < m->rows * m->cols; t++) {
			if (!is_integer(m->w[t]))
				return 0;
			s += fabs(m->w[t]);
		}
		if (s > worst)
			worst = s;
	}
	if (worst < 1)
		return 0;
	/* partial sums <= sum|w| * max|x| <= 2^24 */
	return floor(16777216.0 / worst) < EXACT_MAX ? (float)floor(16777216.0 / worst) : EXACT_MAX;
}

static double gcd_abs(double a, double b)
{
	a = fabs(a);
	b = fabs(b);
	while (b > 0) {
		double t = fmod(a, b);
		a = b;
		b = t;
	}
	return a;
}

/*
 * w = c r^T?  Integer matrices are factored in integers (column q divided
 * by its gcd, so the row factors are integers too) and must match exactly;
 * others must match within 1e-6 of sum|w| in all.  Fills c (rows) and r
 * (cols) in the matrix's own orientation.
 */
static int factor_rank1(const imf_matrix *m, double *c, double *r)
{
	const size_t fr = m->rows, fc = m->cols;
	size_t p = 0, q = 0;
	double big = 0, abs_sum = 0, miss = 0, div;
	int integer = 1;

	for (size_t i = 0; i < fr; i++)
		for (size_t j = 0; j < fc; j++) {
			double v = m->w[i * fc + j];
			if (!isfinite(v))
				return 0;
			abs_sum += fabs(v);
			integer &= is_integer(v);
			if (fabs(v) > big) {
				big = fabs(v);
				p = i;
				q = j;
			}
		}
	if (big == 0)
		return 0;
	div = m->w[p * fc + q];
	if (integer) {
		double g = 0;
		for (size_t i = 0; i < fr; i++)
			g = gcd_abs(g, m->w[i * fc + q]);
		if (m->w[p * fc + q] < 0)
			g = -g;
		for (size_t i = 0; i < fr; i++)
			c[i] = m->w[i * fc + q] / g;
		div = c[p];
	} else {
		for (size_t i = 0; i < fr; i++)
			c[i] = m->w[i * fc + q];
	}
	for (size_t j = 0; j < fc; j++) {
		r[j] = m->w[p * fc + j] / div;
		if (integer && !is_integer(r[j]))
			return 0;
	}
	for (size_t i = 0; i < fr; i++)
		for (size_t j = 0; j < fc; j++) {
			double d = fabs(m->w[i * fc + j] - c[i] * r[j]);
			if (integer && d != 0)
				return 0;
			miss += d;
		}
	return miss <= 1e-6 * abs_sum;
}

/*
 * Doubles between the starts of rows n wide in a ring: n rounded up to a
 * cache line, plus one line.  A loop reads up to 2 (TAPS_MAX + 3) rows at
 * once (a folded group of four); rows a power of two apart (4096 wide: 32
 * KiB) would all fall in the same L1 sets, more of them than the cache has
 * ways.  The float rings (cache, hfcache) take the same count of floats:
 * 32-byte steps, plus 64 bytes; for the direct ring that measured 2-4%
 * faster than rows exactly pw apart (4098 floats for a 4096-wide 3x3).
 */
static size_t row_stride(size_t n)
{
	const size_t line = 64 / sizeof(double);
	return (n / line + 2) * line;
}

/*
 * f = scale * v in float; 1 when every non-zero weight is within 2^-40 ..
 * 2^40 and the sum of magnitudes below 2^40, so that float passes on
 * moderate rows (conv_classify_row) cannot overflow.  A product can still be
 * subnormal (a row pass result near 2^-104 times a weight near 2^-40), but
 * its error, about 2^-150, is far below the bound (at least about 2^-128
 * there).  The column weights take the kernel's scale (one rounding
 * instead of a multiply at the end, which would need double to stay as
 * close), the row weights 1.
 */
#define FLOAT_WEIGHT_MIN 0x1p-40
#define FLOAT_WEIGHT_MAX 0x1p40 /* a weight's magnitude, and their sum's */

/* A non-zero weight's magnitude a fits float sums (NaN does not). */
static int float_weight_fits(double a)
{
	return a >= FLOAT_WEIGHT_MIN && a <= FLOAT_WEIGHT_MAX;
}

static int to_float_weights(const double *v, double scale, float *f, size_t n)
{
	double sum = 0;
	for (size_t j = 0; j < n; j++) {
		double a = fabs(v[j] * scale);
		if (a != 0 && !float_weight_fits(a))
			return 0;
		sum += a;
		f[j] = (float)(v[j] * scale);
	}
	return sum <= FLOAT_WEIGHT_MAX;
}

/*
 * IMF_PRECISION_FLOAT on the direct path: every tap's weight (none is 0),
 * and each matrix's sum of them, within the range to_float_weights allows.
 */
static int taps_fit_float(const conv_plan *p)
{
	for (size_t q = 0; q < p->k->count; q++) {
		double sum = 0;
		for (size_t t = p->part_start[q]; t < p->part_start[q + 1]; t++) {
			if (!float_weight_fits(fabs(p->taps[t].w)))
				return 0;
			sum += fabs(p->taps[t].w);
		}
		if (!(sum <= FLOAT_WEIGHT_MAX))
			return 0;
	}
	return 1;
}

/*
 * A symmetric pass (w[j] == w[n-1-j], none 0) folds its mirrored taps:
 * w_j (a + b) for w_j a + w_j b, nearly half the products.  Into fold the
 * (n + 1) / 2 weights of the folded taps, an odd n's middle one halved (it
 * is folded with itself; exact, the weights being at least 2^-40); returns
 * how many, or 0 when w is not symmetric.
 */
static size_t fold_weights(const float *w, size_t n, float *fold)
{
	for (size_t j = 0; j < n; j++)
		if (w[j] == 0 || w[j] != w[n - 1 - j])
			return 0;
	for (size_t j = 0; j < n / 2; j++)
		fold[j] = w[j];
	if (n % 2)
		fold[n / 2] = w[n / 2] / 2;
	return (n + 1) / 2;
}

/* Worth it: Fr + Fc taps instead of Fr * Fc, when that saves at least half. */
static int use_separable(const imf_kernel *k, const conv_geom *g)
{
	return k->count == 1 && g->depth == 1 && g->fr >= 2 && g->fc >= 2 &&
	       g->fr * g->fc >= 2 * (g->fr + g->fc);
}

void conv_plan_free(conv_plan *p)
{
	if (!p)
		return;
	free(p->taps);
	free(p->part_start);
	free(p->colsrc);
	free(p->alpha_col);
	free(p->sep_c);
	free(p->sep_r);
	free(p->sep_cf);
	free(p->sep_rf);
	free(p->sep_cfold);
	free(p->sep_rfold);
	free(p);
}

imf_status conv_plan_new(const imf_kernel *k, const conv_geom *g, conv_plan **out,
                         imf_error *err)
{
	conv_plan *p;
	size_t ntaps;

	*out = NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	p->g = *g;
	p->k = k;
	/* Padded columns the output reads: 0 .. (ow-1)*S + Ec - 1 (<= left + W + right). */
	p->pw = (g->ow - 1) * g->stride + g->ec;
	p->ring = ring_rows(g);
	p->dstride = row_stride(p->pw);
	p->fstride = row_stride(p->pw);
	p->hstride = row_stride(g->ow);
	if (!imf_size_mul(g->fr, g->fc, &ntaps) || !imf_size_mul(ntaps, k->count, &ntaps)) {
		conv_plan_free(p);
		return imf_error_set(err, IMF_ENOMEM, "convolution buffers are too large");
	}
	p->taps = imf_alloc_array(ntaps, sizeof *p->taps, err);
	p->part_start = imf_alloc_array(k->count + 1, sizeof *p->part_start, err);
	p->colsrc = imf_alloc_array(p->pw, sizeof *p->colsrc, err);
	p->alpha_col = imf_alloc_array(g->ow, sizeof *p->alpha_col, err);
	p->sep_c = imf_alloc_array(g->fr, sizeof *p->sep_c, err);
	p->sep_r = imf_alloc_array(g->fc, sizeof *p->sep_r, err);
	p->sep_cf = imf_alloc_array(g->fr, sizeof *p->sep_cf, err);
	p->sep_rf = imf_alloc_array(g->fc, sizeof *p->sep_rf, err);
	p->sep_cfold = imf_alloc_array(g->fr / 2 + 1, sizeof *p->sep_cfold, err);
	p->sep_rfold = imf_alloc_array(g->fc / 2 + 1, sizeof *p->sep_rfold, err);
	if (!p->taps || !p->part_start || !p->colsrc || !p->alpha_col || !p->sep_c || !p->sep_r ||
	    !p->sep_cf || !p->sep_rf || !p->sep_cfold || !p->sep_rfold) {
		conv_plan_free(p);
		return IMF_ENOMEM;
	}

	/* Non-zero taps of each matrix in summation order (row by row), flip applied. */
	size_t n = 0;
	for (size_t q = 0; q < k->count; q++) {
		const double *w = k->m[q].w;
		p->part_start[q] = n;
		for (size_t i = 0; i < g->fr; i++) {
			for (size_t j = 0; j < g->fc; j++) {
				size_t wi = g->flip ? g->fr - 1 - i : i;
				size_t wj = g->flip ? g->fc - 1 - j : j;
				double v = w[wi * g->fc + wj];
				if (v != 0) {
					p->taps[n].i = i;
					p->taps[n].col = j * g->dil;
					p->taps[n].w = v;
					n++;
				}
			}
		}
	}
	p->part_start[k->count] = n;
	for (size_t x = 0; x < p->pw; x++)
		p->colsrc[x] =
		        conv_border_index(g->border, (ptrdiff_t)x - (ptrdiff_t)g->left, g->iw);
	for (size_t ox = 0; ox < g->ow; ox++)
		p->alpha_col[ox] = conv_anchor_index(ox, g->stride, g->left, g->ec, g->iw);
	p->exact_limit = exact_limit(k);
	p->bias = g->bias == 0 ? 0.0 : g->bias;
	/*
	 * One matrix, no bias, a positive power-of-two scale: scale * sum is
	 * exact in float too, so the float sums need no trip through double.
	 */
	if (p->exact_limit > 0 && k->count == 1 && k->combine == IMF_COMBINE_NONE &&
	    g->bias == 0 && k->m[0].scale > 0) {
		int e;
		p->exact_direct = frexp(k->m[0].scale, &e) == 0.5 && e > -100 && e < 100;
	}

	if (use_separable(k, g) && factor_rank1(&k->m[0], p->sep_c, p->sep_r)) {
		p->sep = 1;
		if (g->flip) {
			for (size_t i = 0; i < g->fr / 2; i++) {
				double t = p->sep_c[i];
				p->sep_c[i] = p->sep_c[g->fr - 1 - i];
				p->sep_c[g->fr - 1 - i] = t;
			}
			for (size_t j = 0; j < g->fc / 2; j++) {
				double t = p->sep_r[j];
				p->sep_r[j] = p->sep_r[g->fc - 1 - j];
				p->sep_r[g->fc - 1 - j] = t;
			}
		}
	}
	p->float_sums = g->float_sums && !p->sep && g->stride == 1 && taps_fit_float(p);
	p->wide_only = !p->sep && g->stride == 1 && p->exact_limit == 0 && !p->float_sums;
	if (p->sep) {
		p->sep_int = p->exact_limit > 0;
		p->sep_float = g->stride == 1 &&
		               to_float_weights(p->sep_c, k->m[0].scale, p->sep_cf, g->fr) &&
		               to_float_weights(p->sep_r, 1, p->sep_rf, g->fc);
		/*
		 * The column pass may make consecutive output rows together where
		 * each of its rows is a tap: dilation 1, no zero column weight.
		 */
		int groups = p->sep_float && g->dil == 1;
		for (size_t i = 0; i < g->fr; i++)
			groups &= p->sep_c[i] != 0 && p->sep_cf[i] != 0;
		if (p->sep_float) {
			p->nfold_c = fold_weights(p->sep_cf, g->fr, p->sep_cfold);
			p->nfold_r = fold_weights(p->sep_rf, g->fc, p->sep_rfold);
		}
		/*
		 * Groups of 2 output rows (of 4: a folded column pass of one
		 * pass) read Fr + 1 (Fr + 3) consecutive rows, every one a tap:
		 * the ring holds them.
		 */
		p->group = !groups ? 1 : p->nfold_c && p->nfold_c <= CONV_QUAD_TAPS ? 4 : 2;
		if (p->group > 1)
			p->ring = g->fr + p->group - 1;
	}
	*out = p;
	return IMF_OK;
}

conv_method conv_plan_method(const conv_plan *p)
{
	return p->sep ? CONV_METHOD_SEPARABLE : CONV_METHOD_DIRECT;
}

int conv_plan_float_sums(const conv_plan *p)
{
	return p->float_sums;
}

float conv_plan_exact_limit(const conv_plan *p)
{
	return p->exact_limit;
}

int conv_plan_float_passes(const conv_plan *p)
{
	return p->sep && p->sep_float;
}

size_t conv_plan_group(const conv_plan *p)
{
	return p->sep ? p->group : 1;
}

int conv_plan_folded(const conv_plan *p)
{
	return p->sep ? (p->nfold_r > 0) | (p->nfold_c > 0) << 1 : 0;
}

/* ---- workers -------------------------------------------------------------------- */

size_t conv_worker_group_rows(const conv_worker *w, size_t k)
{
	return k == 2 ? w->in_pairs : k == 4 ? w->in_fours : 0;
}

size_t conv_worker_streamed_rows(const conv_worker *w)
{
	return w->streamed;
}

void conv_worker_free(conv_worker *w)
{
	if (!w)
		return;
	free(w->block); /* cache, stage, hfcache */
	free(w->dcache);
	free(w->widened);
	free(w->dzero);
	free(w->drows);
	free(w->act_dsrc);
	free(w->hcache);
	free(w->dpad);
	free(w->tapsrc);
	free(w->has_d);
	free(w->has_f);
	free(w->row_int);
	free(w->row_mod);
	free(w->hfrows);
	free(w->ftapsrc);
	free(w->ftapw);
	free(w->tapw);
	free(w->tag);
	free(w->exact);
	free(w->moderate);
	free(w->zero);
	free(w->rows);
	free(w->next);
	free(w->hrows);
	free(w->act);
	free(w->act_src);
	free(w->act_w);
	free(w->act_wf);
	free(w->acc);
	free(w->total);
	free(w->facc);
	free(w);
}

/*
 * The float ring (cache), the staging spans (stage) and the separable
 * path's float row-pass results (hfcache) in one block of whole pages, at
 * fixed places: stage and hfcache half a page past where cache starts.  As
 * separate allocations they landed wherever the heap had room, which
 * depends on what the process allocated and freed before (glibc also
 * moves its mmap threshold up as large blocks are freed): in imfilter-bench,
 * which times its kernels one after the other, the 15x15 Gaussian ran at
 * 1130 Mpixel/s after one change to the direct path's buffer sizes and
 * 1280 before it.  The row pass reads cache and writes hfcache, the direct
 * loops read cache and write stage; a load whose address matches an
 * earlier store's in its last 12 bits waits for it (4K aliasing).  With the
 * block, each kernel runs as in a fresh process; the offsets tried within
 * the page (0 to 3/4 of it) were within 2% of each other.  hf_len is 0
 * where there is no hfcache.
 */
#define CONV_PAGE 4096

static imf_status worker_block(conv_worker *w, size_t cache_len, size_t hf_len, imf_error *err)
{
	size_t cache_bytes, at_stage, at_hf, hf_bytes, total;

	if (!imf_size_mul(cache_len, sizeof(float), &cache_bytes) ||
	    !imf_size_add(cache_bytes, CONV_PAGE - 1, &at_stage) ||
	    !imf_size_add(at_stage / CONV_PAGE * CONV_PAGE, CONV_PAGE / 2, &at_stage) ||
	    !imf_size_add(at_stage, 4 * CONV_SPAN * sizeof(float), &at_hf) ||
	    !imf_size_mul(hf_len, sizeof(float), &hf_bytes) ||
	    !imf_size_add(at_hf, hf_bytes, &total) || !imf_size_add(total, CONV_PAGE - 1, &total))
		return imf_error_set(err, IMF_ENOMEM, "convolution buffers are too large");
	_Static_assert(4 * CONV_SPAN * sizeof(float) % CONV_PAGE == 0,
	               "stage is whole pages, so that hfcache keeps its place in the page");
	total = total / CONV_PAGE * CONV_PAGE;
	w->block = aligned_alloc(CONV_PAGE, total);
	if (!w->block)
		return imf_error_set(err, IMF_ENOMEM, "out of memory (%zu bytes)", total);
	w->cache = (float *)(void *)w->block;
	w->stage = (float *)(void *)(w->block + at_stage);
	w->hfcache = hf_len ? (float *)(void *)(w->block + at_hf) : NULL;
	/* Under AddressSanitizer the gaps between the three stay out of bounds. */
	BLOCK_GAP(w->block + cache_bytes, at_stage - cache_bytes);
	BLOCK_GAP(w->block + at_hf + hf_bytes, total - at_hf - hf_bytes);
	return IMF_OK;
}

imf_status conv_worker_new(const conv_plan *p, conv_worker **out, imf_error *err)
{
	const conv_geom *g = &p->g;
	const size_t most = p->sep ? CONV_SPAN : CONV_DIRECT_SPAN;
	const size_t span = g->ow < most ? g->ow : most;
	size_t ntaps = p->part_start[p->k->count];
	size_t nrows, slots, cache_len, dcache_len, hcache_len = 0;
	conv_worker *w;

	*out = NULL;
	w = calloc(1, sizeof *w);
	if (!w)
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	w->p = p;
	if (!imf_size_mul((size_t)g->nfilt, g->fr, &nrows) ||
	    !imf_size_mul((size_t)g->nfilt, p->ring, &slots) ||
	    !imf_size_mul(p->sep ? 1 : slots, p->fstride, &cache_len) ||
	    !imf_size_mul(p->sep ? 1 : slots, p->dstride, &dcache_len) ||
	    (p->sep && (!imf_size_mul(slots, p->hstride, &hcache_len) ||
	                nrows > SIZE_MAX - g->fc - (p->group - 1) * (size_t)g->nfilt))) {
		conv_worker_free(w);
		return imf_error_set(err, IMF_ENOMEM, "convolution buffers are too large");
	}
	/* wide_only: the padded rows are doubles (dcache) alone. */
	if (worker_block(w, p->wide_only ? 1 : cache_len,
	                 p->sep && p->sep_float ? hcache_len : 0, err) != IMF_OK) {
		conv_worker_free(w);
		return IMF_ENOMEM;
	}
	if (!p->sep && g->stride == 1) {
		w->dcache = imf_alloc_aligned(dcache_len, sizeof *w->dcache, err);
		w->dzero = imf_alloc_aligned(p->pw, sizeof *w->dzero, err);
		w->widened = imf_alloc_array(p->ring, sizeof *w->widened, err);
		w->drows = imf_alloc_array(nrows, sizeof *w->drows, err);
		w->act_dsrc = imf_alloc_array(ntaps ? ntaps : 1, sizeof *w->act_dsrc, err);
		if (!w->dcache || !w->dzero || !w->widened || !w->drows || !w->act_dsrc) {
			conv_worker_free(w);
			return IMF_ENOMEM;
		}
		for (size_t x = 0; x < p->pw; x++)
			w->dzero[x] = 0.0;
	}
	w->tag = imf_alloc_array(p->ring, sizeof *w->tag, err);
	w->exact = imf_alloc_array(p->ring, sizeof *w->exact, err);
	if (p->float_sums)
		w->moderate = imf_alloc_array(p->ring, sizeof *w->moderate, err);
	w->zero = imf_alloc_aligned(p->pw > g->ow ? p->pw : g->ow, sizeof *w->zero, err);
	w->rows = imf_alloc_array(nrows, sizeof *w->rows, err);
	w->next = imf_alloc_array((size_t)g->nfilt, sizeof *w->next, err);
	w->act = imf_alloc_array(p->k->count, sizeof *w->act, err);
	w->act_src = imf_alloc_array(ntaps ? ntaps : 1, sizeof *w->act_src, err);
	w->act_w = imf_alloc_array(ntaps ? ntaps : 1, sizeof *w->act_w, err);
	w->act_wf = imf_alloc_array(ntaps ? ntaps : 1, sizeof *w->act_wf, err);
	w->acc = imf_alloc_aligned(span, sizeof *w->acc, err);
	w->total = imf_alloc_aligned(span, sizeof *w->total, err);
	_Static_assert(2 * CONV_SPAN >= CONV_DIRECT_SPAN, "facc and stage hold a direct span");
	w->facc = imf_alloc_aligned(2 * CONV_SPAN, sizeof *w->facc, err); /* a pair's two */
	if (p->sep) {
		w->hcache = imf_alloc_aligned(hcache_len, sizeof *w->hcache, err);
		w->dpad = imf_alloc_aligned(p->pw, sizeof *w->dpad, err);
		const size_t nmax = g->fr > g->fc ? g->fr : g->fc;
		w->tapsrc = imf_alloc_array(nmax, sizeof *w->tapsrc, err);
		w->tapw = imf_alloc_array(nmax, sizeof *w->tapw, err);
		w->has_d = imf_alloc_array(p->ring, sizeof *w->has_d, err);
		w->has_f = imf_alloc_array(p->ring, sizeof *w->has_f, err);
		w->row_int = imf_alloc_array(p->ring, sizeof *w->row_int, err);
		w->row_mod = imf_alloc_array(p->ring, sizeof *w->row_mod, err);
		/* nfilt * (Fr + group - 1) for the column passes (a group's rows), then Fc */
		w->hfrows = imf_alloc_array(nrows + (p->group - 1) * (size_t)g->nfilt + g->fc,
		                            sizeof *w->hfrows, err);
		w->ftapsrc = imf_alloc_array(nmax + 7, sizeof *w->ftapsrc, err);
		w->ftapw = imf_alloc_array(nmax, sizeof *w->ftapw, err);
		/* nfilt * Fr for the column pass, then Fc for the row pass's taps */
		w->hrows = imf_alloc_array(nrows + g->fc, sizeof *w->hrows, err);
	}
	if (!w->cache || !w->tag || !w->exact || (p->float_sums && !w->moderate) || !w->zero ||
	    !w->rows || !w->next || !w->act ||
	    !w->act_src || !w->act_w || !w->act_wf || !w->acc || !w->total || !w->facc ||
	    (p->sep && (!w->hcache || !w->hrows || !w->dpad || !w->tapsrc ||
	                !w->tapw || !w->has_d || !w->has_f || !w->row_int ||
	                !w->row_mod || !w->hfrows || !w->ftapsrc || !w->ftapw))) {
		conv_worker_free(w);
		return IMF_ENOMEM;
	}
	for (size_t x = 0; x < (p->pw > g->ow ? p->pw : g->ow); x++)
		w->zero[x] = 0.0f;
	for (size_t r = 0; r < p->ring; r++)
		w->tag[r] = SIZE_MAX;
	for (size_t q = 0, n = 0; q < p->k->count; q++) {
		w->act[q].src = w->act_src + n;
		w->act[q].dsrc = w->act_dsrc ? w->act_dsrc + n : NULL;
		w->act[q].w = w->act_w + n;
		w->act[q].wf = w->act_wf + n;
		n = p->part_start[q + 1];
	}
	*out = w;
	return IMF_OK;
}
