/*
 * map.c - from raw float results to integer samples, and what that costs.
 *
 * Integer formats need values in 0..maxval.  The mapping modes:
 *   clamp      t = v                      (default)
 *   abs        t = |v|                    (edge strength of either sign)
 *   offset     t = v + 128                (negative responses stay visible)
 *   normalize  t = (v - min) * 255 / (max - min) over all colour planes
 * then sample = clamp(round(t * maxval / 255), 0, maxval), so 16-bit output
 * keeps the 0..255 scale (255 -> 65535).  NaN maps to 0.  Alpha planes are
 * never transformed, only scaled and clamped.  imf_stats_compute reports
 * the raw range and how many values the chosen mode clips, because silent
 * clipping of negative responses is the classic surprise of image tools.
 */
#include "internal.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static const char *const map_names[] = {
	[IMF_MAP_CLAMP] = "clamp",
	[IMF_MAP_ABS] = "abs",
	[IMF_MAP_OFFSET] = "offset",
	[IMF_MAP_NORMALIZE] = "normalize",
};

imf_status imf_map_parse(const char *name, imf_map_mode *out, imf_error *err)
{
	for (size_t i = 0; i < sizeof map_names / sizeof map_names[0]; i++) {
		if (strcasecmp(name, map_names[i]) == 0) {
			*out = (imf_map_mode)i;
			return IMF_OK;
		}
	}
	if (strcasecmp(name, "normalise") == 0 || strcasecmp(name, "stretch") == 0) {
		*out = IMF_MAP_NORMALIZE;
		return IMF_OK;
	}
	return imf_error_set(err, IMF_EINVAL,
	                     "unknown map '%s' (clamp, abs, offset, normalize)", name);
}

const char *imf_map_name(imf_map_mode m)
{
	return (size_t)m < sizeof map_names / sizeof map_names[0] ? map_names[m] : "?";
}

int imf_color_planes(const imf_image *img)
{
	return imf_image_data_planes(img) >= 3 ? 3 : 1;
}

int imf_output_depth(const imf_image *img, const imf_write_opts *opts)
{
	if (opts && opts->depth == 16)
		return 16;
	if (opts && opts->depth == 8)
		return 8;
	return img->src_depth == 16 ? 16 : 8;
}

void imf_finite_range(const imf_image *img, double *lo, double *hi)
{
	double mn = INFINITY, mx = -INFINITY;
	for (int c = 0; c < imf_image_data_planes(img); c++) {
		for (size_t y = 0; y < img->height; y++) {
			const float *row = imf_image_row_const(img, c, y);
			for (size_t x = 0; x < img->width; x++) {
				double v = row[x];
				if (!isfinite(v))
					continue;
				if (v < mn)
					mn = v;
				if (v > mx)
					mx = v;
			}
		}
	}
	if (mn > mx)
		mn = mx = 0;
	*lo = mn;
	*hi = mx;
}

void imf_mapper_init(imf_mapper *m, const imf_image *img, imf_map_mode mode, unsigned maxval)
{
	m->mode = mode;
	m->maxval = maxval;
	m->lo = 0;
	m->gain = 1;
	if (mode == IMF_MAP_NORMALIZE) {
		double lo, hi;
		imf_finite_range(img, &lo, &hi);
		m->lo = lo;
		/* A constant image has no range to stretch: it maps to 0. */
		m->gain = hi > lo ? 255.0 / (hi - lo) : 0.0;
	}
}

/* The mode's transform, on the 0..255 scale. */
static double transform(const imf_mapper *m, double v)
{
	switch (m->mode) {
	case IMF_MAP_ABS: return fabs(v);
	case IMF_MAP_OFFSET: return v + 128.0;
	case IMF_MAP_NORMALIZE: return (v - m->lo) * m->gain;
	case IMF_MAP_CLAMP: break;
	}
	return v;
}

static unsigned quantize(double t, unsigned maxval)
{
	double s;
	if (isnan(t))
		return 0;
	s = floor(t * (maxval / 255.0) + 0.5);
	if (s <= 0)
		return 0;
	if (s >= maxval)
		return maxval;
	return (unsigned)s;
}

unsigned imf_mapper_value(const imf_mapper *m, float v)
{
	return quantize(transform(m, v), m->maxval);
}

unsigned imf_mapper_alpha(const imf_mapper *m, float v)
{
	return quantize(v, m->maxval);
}

/*
 * The row loops below compute exactly what imf_mapper_value and
 * imf_mapper_alpha do, one mode per loop so that the compiler can vectorize
 * them: s = t * k + 0.5, NaN and negatives to 0, clamped to maxval, then
 * truncated (the floor, for s >= 0).  Each is made twice: for interleaved
 * output (a step of nch) and for one plane (a constant step of 1, the
 * common case, which vectorizes best).
 */
#define QUANT(T, STEP, t)                                                \
	do {                                                             \
		double s_ = (t) * k + 0.5;                               \
		s_ = s_ >= 0 ? s_ : 0; /* NaN fails: 0 */                \
		s_ = s_ < top ? s_ : top;                                \
		dst[x * (STEP)] = (T)s_;                                 \
	} while (0)

/*
 * 8-bit clamp and abs in float, with twice the values per instruction.
 * t + 0.5 is not always exact in float (0.49999997 + 0.5 rounds up to 1),
 * so this rounds without it: clamp to 0..255 first (NaN fails: 0; the
 * clamp does not change floor(t + 0.5) there), then the integer part i
 * (truncation is the floor of a value >= 0) plus one when the fraction
 * s - i, exact in float, is at least one half.  The double version's
 * result exactly.
 */
#define QUANT_F(T, STEP, t)                                              \
	do {                                                             \
		float s_ = (t);                                          \
		s_ = s_ >= 0 ? s_ : 0; /* NaN fails: 0 */                \
		s_ = s_ < 255.0f ? s_ : 255.0f;                          \
		int i_ = (int)s_;                                        \
		dst[x * (STEP)] = (T)(i_ + (s_ - (float)i_ >= 0.5f));    \
	} while (0)

#define MAP_ROW(name, T, STEP)                                                              \
	IMF_SIMD static void name(const imf_mapper *m, const float *restrict row, size_t n,     \
	                          int alpha, T *restrict dst, size_t step)                       \
	{                                                                                       \
		const double k = m->maxval / 255.0, top = m->maxval, lo = m->lo, gain = m->gain; \
		(void)step;                                                                     \
		if ((alpha || m->mode == IMF_MAP_CLAMP) && m->maxval == 255)                    \
			for (size_t x = 0; x < n; x++)                                          \
				QUANT_F(T, STEP, row[x]);                                       \
		else if (m->mode == IMF_MAP_ABS && m->maxval == 255)                            \
			for (size_t x = 0; x < n; x++)                                          \
				QUANT_F(T, STEP, fabsf(row[x]));                                \
		else if (alpha || m->mode == IMF_MAP_CLAMP)                                     \
			for (size_t x = 0; x < n; x++)                                          \
				QUANT(T, STEP, (double)row[x]);                                 \
		else if (m->mode == IMF_MAP_ABS)                                                \
			for (size_t x = 0; x < n; x++)                                          \
				QUANT(T, STEP, fabs((double)row[x]));                           \
		else if (m->mode == IMF_MAP_OFFSET)                                             \
			for (size_t x = 0; x < n; x++)                                          \
				QUANT(T, STEP, (double)row[x] + 128.0);                         \
		else                                                                            \
			for (size_t x = 0; x < n; x++)                                          \
				QUANT(T, STEP, ((double)row[x] - lo) * gain);                   \
	}

MAP_ROW(map_step8, unsigned char, step)
MAP_ROW(map_step16, uint16_t, step)
MAP_ROW(map_one8, unsigned char, 1)
MAP_ROW(map_one16, uint16_t, 1)

#if defined(__SSE2__)
/*
 * QUANT_F into 8-bit samples, 16 values a pass, for the plane's first
 * n - n % 16 values; returns how many it did.  GCC builds QUANT_F's
 * selects as masks, several instructions a value; here each is one: maxps
 * returns its second operand when the first is NaN, so max(s, 0) is "NaN
 * fails: 0", and the values are then in 0..255, where truncation is the
 * floor and the packs cannot saturate.  SSE2 is part of x86-64: no CPU
 * check is needed.
 */
static size_t quant8_sse2(const float *restrict row, size_t n, int magnitude,
                          unsigned char *restrict dst)
{
	const __m128 half = _mm_set1_ps(0.5f), zero = _mm_setzero_ps(), top = _mm_set1_ps(255.0f);
	const __m128 no_sign = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
	size_t x = 0;

	for (; x + 16 <= n; x += 16) {
		__m128i q[4];
		for (int i = 0; i < 4; i++) {
			__m128 v = _mm_loadu_ps(row + x + 4 * i);
			if (magnitude)
				v = _mm_and_ps(v, no_sign); /* fabsf */
			v = _mm_min_ps(_mm_max_ps(v, zero), top);
			__m128i whole = _mm_cvttps_epi32(v);
			__m128 frac = _mm_sub_ps(v, _mm_cvtepi32_ps(whole));
			/* The mask is -1 where frac >= 0.5: subtracting it adds one. */
			q[i] = _mm_sub_epi32(whole, _mm_castps_si128(_mm_cmpge_ps(frac, half)));
		}
		__m128i lo = _mm_packs_epi32(q[0], q[1]), hi = _mm_packs_epi32(q[2], q[3]);
		_mm_storeu_si128((__m128i *)(void *)(dst + x), _mm_packus_epi16(lo, hi));
	}
	return x;
}
#endif

static void map_row8(const imf_mapper *m, const float *row, size_t n, int alpha,
                     unsigned char *dst, size_t step)
{
#if defined(__SSE2__)
	/* The cases QUANT_F serves, on one plane (the common output). */
	if (step == 1 && m->maxval == 255 &&
	    (alpha || m->mode == IMF_MAP_CLAMP || m->mode == IMF_MAP_ABS)) {
		size_t done = quant8_sse2(row, n, !alpha && m->mode == IMF_MAP_ABS, dst);
		row += done;
		dst += done;
		n -= done;
	}
#endif
	(step == 1 ? map_one8 : map_step8)(m, row, n, alpha, dst, step);
}

static void map_row16(const imf_mapper *m, const float *row, size_t n, int alpha, uint16_t *dst,
                      size_t step)
{
	(step == 1 ? map_one16 : map_step16)(m, row, n, alpha, dst, step);
}

void imf_mapper_row8(const imf_mapper *m, const imf_image *img, size_t y, int nch,
                     unsigned char *out)
{
	for (int c = 0; c < nch; c++)
		map_row8(m, imf_image_row_const(img, c, y), img->width,
		         img->has_alpha && c == img->channels - 1, out + c, (size_t)nch);
}

void imf_mapper_row16(const imf_mapper *m, const imf_image *img, size_t y, int nch,
                      uint16_t *out)
{
	for (int c = 0; c < nch; c++)
		map_row16(m, imf_image_row_const(img, c, y), img->width,
		          img->has_alpha && c == img->channels - 1, out + c, (size_t)nch);
}

imf_status imf_stats_compute(const imf_image *img, imf_map_mode mode, imf_stats *st,
                             imf_error *err)
{
	imf_mapper m;
	double sum = 0;
	size_t finite = 0;

	(void)err;
	memset(st, 0, sizeof *st);
	imf_mapper_init(&m, img, mode, 255);
	st->min = INFINITY;
	st->max = -INFINITY;
	for (int c = 0; c < imf_image_data_planes(img); c++) {
		for (size_t y = 0; y < img->height; y++) {
			const float *row = imf_image_row_const(img, c, y);
			for (size_t x = 0; x < img->width; x++) {
				double v = row[x], t;
				st->count++;
				if (!isfinite(v)) {
					st->nonfinite++;
					continue;
				}
				finite++;
				sum += v;
				if (v < st->min)
					st->min = v;
				if (v > st->max)
					st->max = v;
				t = floor(transform(&m, v) + 0.5);
				if (t < 0)
					st->clipped_low++;
				else if (t > 255)
					st->clipped_high++;
			}
		}
	}
	if (finite == 0)
		st->min = st->max = 0;
	st->mean = finite ? sum / (double)finite : 0;
	return IMF_OK;
}
