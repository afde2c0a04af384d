/*
 * conv_sep.c - the row engine's separable path: a rank-1 kernel w = c r^T
 * (found by conv_plan.c, flip applied) as a row pass (r) over each input
 * row, kept in a ring of results, then a column pass (c) for each output
 * row: Fr + Fc taps an output instead of Fr * Fc.
 *
 * Each output row picks its arithmetic from the rows under the kernel
 * (conv_classify_row): exact in double for integer kernels on integer data;
 * otherwise, where values are moderate, both passes in float (the scale in
 * the column weights), within about (Fr + Fc + 3) 2^-24 of |scale| sum|w|
 * max|x| + |bias|; otherwise double.  Two consecutive output rows that
 * both run in float share one column pass (separable_group), four when the
 * column pass folds in one pass, each row summed as it would be alone.  A
 * float pass whose weights are symmetric (w_j = w_(F-1-j), none 0:
 * Gaussians, boxes) folds them, adding the mirrored samples before one
 * product (conv_sum_taps_ff); its column pass folds only where every row
 * under the kernel is real, which every group's is, so a row is folded
 * whether grouped or not.  The inner loops and the padding are
 * conv_rows.c's.
 */
#include "conv_rows.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SIMD IMF_SIMD

/*
 * Taps j < f of weight v[j] != 0 on rows[j] != NULL (NULL: a row of zeros)
 * into the worker's tap lists (tapsrc/tapw in double, ftapsrc/ftapw in
 * float); zero weights are skipped (0 * inf would be NaN).  Returns how many.
 */
#define LIST_TAPS(T, NAME, SRC, W)                                                          \
	static size_t NAME(conv_worker *w, const T *v, size_t f, const T *const *rows)         \
	{                                                                                      \
		size_t n = 0;                                                                  \
		for (size_t j = 0; j < f; j++)                                                 \
			if (v[j] != 0 && rows[j]) {                                            \
				w->SRC[n] = rows[j];                                           \
				w->W[n++] = v[j];                                              \
			}                                                                      \
		return n;                                                                      \
	}

LIST_TAPS(double, list_taps, tapsrc, tapw)
LIST_TAPS(float, list_taps_f, ftapsrc, ftapw)

/*
 * The row pass of one input row into h (ow doubles): h[x] = sum_j r_j *
 * padded[x*S + j*D], span by span (the sums of a kernel wider than
 * TAPS_MAX taps stay in L1 between passes).
 */
static void separable_hpass(conv_worker *w, const float *src, double *h)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	const double *pad = w->dpad;
	const double **rows = w->hrows + (size_t)g->nfilt * g->fr; /* Fc spare slots */
	size_t nt;

	/* Padded and widened in one pass: the taps then read doubles. */
	conv_pad_row_d(w->dpad, src, g->iw, g->left, p->pw, p->colsrc);
	for (size_t j = 0; j < g->fc; j++)
		rows[j] = pad + j * g->dil;
	nt = list_taps(w, p->sep_r, g->fc, rows);
	for (size_t x0 = 0; x0 < g->ow; x0 += CONV_SPAN) {
		size_t n = g->ow - x0 < CONV_SPAN ? g->ow - x0 : CONV_SPAN;
		double *acc = h + x0;
		if (g->stride != 1) {
			memset(acc, 0, n * sizeof *acc);
			for (size_t t = 0; t < nt; t++)
				for (size_t x = 0; x < n; x++)
					acc[x] = acc[x] + w->tapw[t] *
					                          w->tapsrc[t][(x0 + x) * g->stride];
			continue;
		}
		conv_sum_taps_d(acc, w->tapsrc, x0, w->tapw, nt, n, NULL);
	}
}

/* Values conv_classify_row tests at a time before it looks at what it found. */
#define CLASSIFY_BLOCK 64

/*
 * Input row v for the separable path's choice (conv_separable_row):
 * *integer unless some value below 2^22 has a fraction, *moderate when
 * every value is (see conv_row_moderate).  A row that is not moderate
 * decides nothing more (its output rows sum in double whatever *integer says, so
 * it is left as found so far), and once a fraction is found only
 * moderation is left to test: rows of fractional data (the float passes'
 * rows) are mostly tested for that alone.
 */
SIMD void conv_classify_row(const float *restrict v, size_t n, int *integer,
                            int *moderate)
{
	int32_t frac = 0;
	uint32_t hi = 0, lo = UINT32_MAX;
	size_t x = 0;

	for (; x < n && !frac && conv_row_moderate(hi, lo); x += CLASSIFY_BLOCK) {
		size_t m = n - x < CLASSIFY_BLOCK ? n - x : CLASSIFY_BLOCK;
		for (size_t i = 0; i < m; i++) {
			float u = v[x + i];
			uint32_t b = conv_mag_bits(u);
			/*
			 * A fraction is sure below 2^22 (the rounding trick of
			 * copy_check_exact); a row with one only above (2^22 ..
			 * 2^23) counts as integer, which only costs it the
			 * faster loops.
			 */
			frac |= ((u + ROUND_MAGIC) - ROUND_MAGIC != u) & (fabsf(u) < EXACT_MAX);
			conv_mag_note(b, &hi, &lo);
		}
	}
	/* the rest in one loop: a row is seldom wild, and the test at a block costs */
	for (; x < n; x++) {
		uint32_t b = conv_mag_bits(v[x]);
		conv_mag_note(b, &hi, &lo);
	}
	*integer = frac == 0;
	*moderate = conv_row_moderate(hi, lo);
}

/*
 * The F + k - 1 rows of a symmetric pass over k consecutive outputs (k 1,
 * 2 or 4) as a folded list into w->ftapsrc: lo[i] = rows[i] and hi[i] =
 * rows[F + k - 2 - i], for the (F + 1) / 2 folded taps of the first output
 * and k - 1 more (see conv_sum_taps_ff, _finish_pair_ff, conv_fold_quad_f).
 */
static void list_folded(conv_worker *w, const float *const *rows, size_t f, size_t k)
{
	for (size_t i = 0; i < (f + 1) / 2 + k - 1; i++) {
		w->ftapsrc[2 * i] = rows[i];
		w->ftapsrc[2 * i + 1] = rows[f + k - 2 - i];
	}
}

/*
 * The row pass in float (stride 1): h[x] = sum_j r_j padded[x + j*D],
 * mirrored taps folded when r is symmetric; its loops prefetch the row
 * `next` (a row a later output row brings in, or NULL) as they go.
 */
static void separable_hpass_f(conv_worker *w, const float *src, float *h, const float *next)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	/* Fc spare slots, after the column passes' nfilt * (Fr + group - 1) */
	const float **rows = w->hfrows + (size_t)g->nfilt * (g->fr + p->group - 1);
	size_t nt = 0;
	conv_ahead ah;

	conv_pad_row(w->cache, src, g->iw, g->left, p->pw, p->colsrc, 0, NULL);
	for (size_t j = 0; j < g->fc; j++)
		rows[j] = w->cache + j * g->dil;
	if (p->nfold_r && g->dil == 1 &&
	    conv_fold_row_f(h, w->cache, p->sep_rfold, g->fc, g->ow, p->pw,
	                    conv_ahead_from(&ah, next, g->iw, 0)))
		return;
	if (p->nfold_r)
		list_folded(w, rows, g->fc, 1);
	else
		nt = list_taps_f(w, p->sep_rf, g->fc, rows);
	for (size_t x0 = 0; x0 < g->ow; x0 += CONV_SPAN) {
		size_t n = g->ow - x0 < CONV_SPAN ? g->ow - x0 : CONV_SPAN;
		const conv_ahead *ahp = conv_ahead_from(&ah, next, g->iw, x0);
		if (p->nfold_r)
			conv_sum_taps_ff(h + x0, w->ftapsrc, x0, p->sep_rfold, p->nfold_r, n, ahp);
		else
			conv_sum_taps_f(h + x0, w->ftapsrc, x0, w->ftapw, nt, n, ahp);
	}
}

/*
 * Plane c's float row-pass result in ring slot `slot` (padded row r, input
 * row sy), made unless there.  Made, it prefetches plane c's input row for
 * padded row r + k, which the output rows k on (k = those made at a time)
 * bring in, when the run reads it and it is not the zero border: when
 * they classify it, it is near (at stride and dilation 1; else nothing).
 */
static const float *ring_row_f(conv_worker *w, conv_fetch fetch, const void *ctx, int c,
                               size_t slot, size_t sy, size_t r, size_t k)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	float *h = w->hfcache + ((size_t)c * p->ring + slot) * p->hstride;

	if (!w->has_f[slot]) {
		const float *next = NULL;
		if (g->stride == 1 && g->dil == 1 && r + k <= w->last_row) {
			ptrdiff_t ny = conv_border_index(g->border, (ptrdiff_t)(r + k) - (ptrdiff_t)g->top,
			                                 g->ih);
			if (ny >= 0)
				next = fetch(ctx, c, (size_t)ny);
		}
		separable_hpass_f(w, fetch(ctx, c, sy), h, next);
	}
	return h;
}

/*
 * Slot of padded row r, filled for output row oy's kernel row: tags it,
 * classifying its input rows (every plane) on arrival.
 */
static void separable_tag(conv_worker *w, conv_fetch fetch, const void *ctx, size_t r,
                          size_t sy)
{
	const conv_plan *p = w->p;
	const size_t slot = r % p->ring;
	int all_int = 1, all_mod = 1;

	if (w->tag[slot] == r)
		return;
	for (int c = 0; c < p->g.nfilt; c++) {
		int integer, moderate;
		conv_classify_row(fetch(ctx, c, sy), p->g.iw, &integer, &moderate);
		all_int &= integer;
		all_mod &= moderate;
	}
	w->tag[slot] = r;
	w->has_d[slot] = w->has_f[slot] = 0;
	w->row_int[slot] = (unsigned char)all_int;
	w->row_mod[slot] = (unsigned char)all_mod;
}

/*
 * The column pass: output row oy from the row-pass results of its Fr
 * input rows (each made once, kept in the ring), the last pass fused with
 * the finish.  Two arithmetics, chosen per output row:
 *  - float, both passes (8 values a vector instruction, twice double's):
 *    when the result need not be exact (a non-integer weight, or a
 *    non-integer sample under the kernel) and every row under the kernel is
 *    moderate (conv_classify_row), so nothing overflows or turns subnormal.
 *    Weights rounded to float, each product and sum rounded: |out -
 *    reference| <= about (Fr + Fc + 3) 2^-24 (|scale| sum|w| max|x| +
 *    |bias|), 2.2e-6 of it for 15x15 (check_engine.c holds 1e-5); a
 *    symmetric column folded where every row under the kernel is real, as
 *    separable_group folds it;
 *  - double, as before: exact for integer kernels on integer data.
 */
static void separable_row(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                          size_t orow, size_t oy)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	const size_t ow = g->ow;
	const double scale = p->k->m[0].scale;
	int all_mod = 1, any_frac = 0, use_f, fold;

	for (size_t i = 0; i < g->fr; i++) {
		size_t r = oy * g->stride + i * g->dil, slot = r % p->ring;
		ptrdiff_t sy = conv_border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top, g->ih);
		if (sy < 0 || p->sep_c[i] == 0)
			continue;
		separable_tag(w, fetch, ctx, r, (size_t)sy);
		all_mod &= w->row_mod[slot];
		any_frac |= !w->row_int[slot];
	}
	use_f = p->sep_float && all_mod && (!p->sep_int || any_frac);
	fold = use_f && p->nfold_c > 0;

	for (size_t i = 0; i < g->fr; i++) {
		size_t r = oy * g->stride + i * g->dil, slot = r % p->ring;
		ptrdiff_t sy = conv_border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top, g->ih);
		for (int c = 0; c < g->nfilt; c++) {
			w->hrows[(size_t)c * g->fr + i] = NULL;
			w->hfrows[(size_t)c * g->fr + i] = NULL;
		}
		if (sy < 0 || p->sep_c[i] == 0) {
			fold = 0; /* only folded when every row is real */
			continue; /* a zero row, or a zero weight: adds nothing */
		}
		for (int c = 0; c < g->nfilt; c++) {
			const size_t at = ((size_t)c * p->ring + slot) * p->hstride;
			if (use_f) {
				w->hfrows[(size_t)c * g->fr + i] =
				        ring_row_f(w, fetch, ctx, c, slot, (size_t)sy, r, 1);
			} else {
				if (!w->has_d[slot])
					separable_hpass(w, fetch(ctx, c, (size_t)sy), w->hcache + at);
				w->hrows[(size_t)c * g->fr + i] = w->hcache + at;
			}
		}
		if (use_f)
			w->has_f[slot] = 1;
		else
			w->has_d[slot] = 1;
	}
	for (int c = 0; c < g->nout; c++) {
		float *dst = imf_image_row(o, c, orow);
		size_t nt = 0;
		if (fold)
			list_folded(w, w->hfrows + (size_t)c * g->fr, g->fr, 1);
		else
			nt = use_f ? list_taps_f(w, p->sep_cf, g->fr, w->hfrows + (size_t)c * g->fr)
			           : list_taps(w, p->sep_c, g->fr, w->hrows + (size_t)c * g->fr);
		for (size_t x0 = 0; x0 < ow; x0 += CONV_SPAN) {
			size_t n = ow - x0 < CONV_SPAN ? ow - x0 : CONV_SPAN;
			float *out = conv_span_out(w, dst + x0, 0);
			if (fold) {
				conv_sum_taps_finish_ff(out, w->facc, w->ftapsrc, x0, p->sep_cfold,
				                        p->nfold_c, n, 1.0, p->bias, NULL);
			} else if (use_f) {
				/* sep_cf holds the scale already */
				conv_sum_taps_finish_f(out, w->facc, w->ftapsrc, x0, w->ftapw, nt, n,
				                       1.0, p->bias, NULL);
			} else {
				conv_sum_taps_finish_d(out, w->acc, w->tapsrc, x0, w->tapw, nt, n,
				                       scale, p->bias, NULL);
			}
			conv_span_store(w, dst + x0, 0, n);
		}
	}
}

/*
 * Output rows oy .. oy + k - 1 at once, k 2 (p->group 2 or 4: stride and
 * dilation 1, every column weight non-zero) or 4 (also a folded column pass
 * of one pass: p->group 4), when all k take the float passes and every one
 * of their Fr + k - 1 rows is a real row (not the zero border): the column
 * pass then loads each row-pass result once for all k output rows
 * (conv_sum_taps_finish_pair_f and _ff, conv_fold_quad_f), the same sums as
 * separable_row's to the bit.  Returns 0, having made nothing, when the
 * rows do not qualify.
 */
static int separable_group(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                           size_t orow, size_t oy, size_t k)
{
	const conv_plan *p = w->p;
	const conv_geom *g = &p->g;
	const size_t fr = g->fr, ow = g->ow, span = fr + p->group - 1;
	int mod = 1;
	unsigned frac = 0; /* bit j: output row oy + j has a fraction under it */

	/* Padded rows oy .. oy + Fr + k - 2: classified, and the choice of each output row. */
	for (size_t i = 0; i < fr + k - 1; i++) {
		size_t r = oy + i, slot = r % p->ring;
		ptrdiff_t sy = conv_border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top, g->ih);
		if (sy < 0)
			return 0;
		separable_tag(w, fetch, ctx, r, (size_t)sy);
		mod &= w->row_mod[slot];
		for (size_t j = 0; j < k && !w->row_int[slot]; j++)
			if (i >= j && i < j + fr)
				frac |= 1u << j;
	}
	if (!mod || (p->sep_int && frac != (1u << k) - 1))
		return 0;

	for (size_t i = 0; i < fr + k - 1; i++) {
		size_t r = oy + i, slot = r % p->ring;
		size_t sy = (size_t)conv_border_index(g->border, (ptrdiff_t)r - (ptrdiff_t)g->top,
		                                      g->ih);
		for (int c = 0; c < g->nfilt; c++)
			w->hfrows[(size_t)c * span + i] = ring_row_f(w, fetch, ctx, c, slot, sy, r, k);
		w->has_f[slot] = 1;
	}
	for (int c = 0; c < g->nout; c++) {
		float *d[4] = {imf_image_row(o, c, orow), imf_image_row(o, c, orow + 1), NULL, NULL};
		const float *const *rows = w->hfrows + (size_t)c * span;
		if (p->nfold_c)
			list_folded(w, rows, fr, k);
		if (k == 4) {
			d[2] = imf_image_row(o, c, orow + 2);
			d[3] = imf_image_row(o, c, orow + 3);
		}
		for (size_t x0 = 0; x0 < ow; x0 += CONV_SPAN) {
			size_t n = ow - x0 < CONV_SPAN ? ow - x0 : CONV_SPAN;
			float *out[4] = {NULL, NULL, NULL, NULL};
			for (size_t j = 0; j < k; j++)
				out[j] = conv_span_out(w, d[j] + x0, (int)j);
			/* sep_cf and sep_cfold hold the scale already */
			if (k == 4)
				conv_fold_quad_f(out, w->ftapsrc, x0, p->sep_cfold, p->nfold_c, n,
				                 p->bias);
			else if (p->nfold_c)
				conv_sum_taps_finish_pair_ff(out[0], out[1], w->facc,
				                             w->facc + CONV_SPAN, w->ftapsrc, x0,
				                             p->sep_cfold, p->nfold_c, n, p->bias);
			else
				conv_sum_taps_finish_pair_f(out[0], out[1], w->facc,
				                            w->facc + CONV_SPAN, rows, x0, p->sep_cf,
				                            fr, n, p->bias);
			for (size_t j = 0; j < k; j++)
				conv_span_store(w, d[j] + x0, (int)j, n);
		}
	}
	return 1;
}

size_t conv_separable_rows(conv_worker *w, conv_fetch fetch, const void *ctx, imf_image *o,
                           size_t orow, size_t oy, size_t n)
{
	for (size_t k = w->p->group; k >= 2; k /= 2) {
		if (n >= k && separable_group(w, fetch, ctx, o, orow, oy, k)) {
			*(k == 4 ? &w->in_fours : &w->in_pairs) += k;
			return k;
		}
	}
	separable_row(w, fetch, ctx, o, orow, oy);
	return 1;
}
