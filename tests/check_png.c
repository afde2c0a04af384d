/*
 * check_png.c - the PNG reader and writer (src/io/png.c).
 *
 * Test files are made here with libpng itself, for every colour type and bit
 * depth, from known samples; the expected floats are computed from those
 * samples by the definitions (v * 255 / (2^bits - 1), v / 257, palette
 * lookup, tRNS), never taken from the code under test.  Hostile files are
 * valid files with one thing broken (cut short, a flipped byte, a forged
 * IHDR with a recomputed CRC).
 */
#include "testutil.h"

#include "internal.h"

#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- making PNG files with libpng ---------------------------------------- */

typedef struct membuf {
	unsigned char *data;
	size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep d, size_t n)
{
	membuf *m = png_get_io_ptr(png);
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 1024;
		while (cap < m->len + n)
			cap *= 2;
		m->data = realloc(m->data, cap);
		ck_assert_ptr_nonnull(m->data);
		m->cap = cap;
	}
	memcpy(m->data + m->len, d, n);
	m->len += n;
}

static void mem_flush(png_structp png)
{
	(void)png;
}

/* What to write: samples holds w * h * file_channels raw values (palette
 * indices for a palette image), row-major, channels interleaved. */
typedef struct pngw {
	int color_type, bit_depth, interlace;
	size_t w, h;
	const unsigned *samples;
	const png_color *palette;
	int npal;
	const png_byte *trans_alpha; /* palette tRNS */
	int ntrans;
	const png_color_16 *trans_color; /* gray or RGB tRNS */
} pngw;

static int file_channels(int color_type)
{
	switch (color_type) {
	case PNG_COLOR_TYPE_GRAY: return 1;
	case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
	case PNG_COLOR_TYPE_RGB: return 3;
	case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
	default: return 1; /* palette */
	}
}

/* Pack one row of raw samples: sub-byte depths MSB first, 16 bits big-endian. */
static void pack_row(const pngw *s, size_t y, unsigned char *row)
{
	size_t n = s->w * (size_t)file_channels(s->color_type);
	const unsigned *in = s->samples + y * n;
	int b = s->bit_depth;
	memset(row, 0, (n * (size_t)b + 7) / 8);
	for (size_t i = 0; i < n; i++) {
		if (b == 16) {
			row[2 * i] = (unsigned char)(in[i] >> 8);
			row[2 * i + 1] = (unsigned char)(in[i] & 0xff);
		} else if (b == 8) {
			row[i] = (unsigned char)in[i];
		} else {
			size_t bit = i * (size_t)b;
			row[bit / 8] |= (unsigned char)(in[i] << (8 - b - (int)(bit % 8)));
		}
	}
}

typedef struct pngw_run {
	png_structp png;
	png_infop info;
	unsigned char *row;
	membuf out;
} pngw_run;

static int pngw_guarded(pngw_run *r, const pngw *s)
{
	if (setjmp(png_jmpbuf(r->png)))
		return 0;
	png_set_write_fn(r->png, &r->out, mem_write, mem_flush);
	png_set_IHDR(r->png, r->info, (png_uint_32)s->w, (png_uint_32)s->h, s->bit_depth,
	             s->color_type, s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (s->palette)
		png_set_PLTE(r->png, r->info, s->palette, s->npal);
	if (s->trans_alpha || s->trans_color)
		png_set_tRNS(r->png, r->info, s->trans_alpha, s->ntrans, s->trans_color);
	png_write_info(r->png, r->info);
	int passes = png_set_interlace_handling(r->png);
	for (int p = 0; p < passes; p++) {
		for (size_t y = 0; y < s->h; y++) {
			pack_row(s, y, r->row);
			png_write_row(r->png, r->row);
		}
	}
	png_write_end(r->png, r->info);
	return 1;
}

static unsigned char *make_png(const pngw *s, size_t *len)
{
	pngw_run r;
	memset(&r, 0, sizeof r);
	r.row = malloc(s->w * 8 + 16);
	ck_assert_ptr_nonnull(r.row);
	r.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(r.png);
	r.info = png_create_info_struct(r.png);
	ck_assert_ptr_nonnull(r.info);
	int ok = pngw_guarded(&r, s);
	png_destroy_write_struct(&r.png, &r.info);
	free(r.row);
	ck_assert_msg(ok, "libpng could not write the test file");
	*len = r.out.len;
	return r.out.data;
}

/* ---- chunk surgery -------------------------------------------------------- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
	}
	return c ^ 0xFFFFFFFFu;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Offset of the first chunk of type t (its length field). */
static size_t find_chunk(const unsigned char *png, size_t len, const char *t)
{
	size_t off = 8;
	while (off + 12 <= len) {
		if (memcmp(png + off + 4, t, 4) == 0)
			return off;
		off += 12 + get32(png + off);
	}
	ck_abort_msg("no %s chunk", t);
	return 0;
}

/* Recompute the CRC of the chunk at off after editing its data. */
static void fix_crc(unsigned char *png, size_t off)
{
	uint32_t n = get32(png + off);
	put32(png + off + 8 + n, crc32_of(png + off + 4, 4 + (size_t)n));
}

/* ---- sample generation and expected values ------------------------------- */

static unsigned hash_sample(size_t x, size_t y, int c, unsigned seed)
{
	uint32_t h = (uint32_t)x * 73856093u ^ (uint32_t)y * 19349663u ^
	             (uint32_t)(c + 1) * 83492791u ^ seed * 2654435761u;
	h ^= h >> 13;
	h *= 0x5bd1e995u;
	h ^= h >> 15;
	return h;
}

/* A file sample of `bits` bits on the 0..255 scale, by the definition. */
static float expect_gray(unsigned v, int bits)
{
	if (bits == 16)
		return (float)v / 257.0f;
	return (float)(v * 255u / ((1u << bits) - 1u));
}

static imf_image *read_ok(const unsigned char *data, size_t len, const imf_read_opts *opts)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(data, len, opts, &img, &err);
	ck_assert_msg(st == IMF_OK, "read failed: %s", err.msg);
	ck_assert_ptr_nonnull(img);
	ck_assert_int_eq(imf_image_source_format(img), IMF_FORMAT_PNG);
	return img;
}

/* ---- decoding every colour type and depth -------------------------------- */

typedef struct decode_case {
	const char *name;
	int color_type, bit_depth;
	int trns, interlace;
	size_t w, h;
} decode_case;

static const decode_case decode_cases[] = {
	{ "gray1", PNG_COLOR_TYPE_GRAY, 1, 0, 0, 13, 5 },
	{ "gray2", PNG_COLOR_TYPE_GRAY, 2, 0, 0, 11, 4 },
	{ "gray4", PNG_COLOR_TYPE_GRAY, 4, 0, 0, 9, 3 },
	{ "gray8", PNG_COLOR_TYPE_GRAY, 8, 0, 0, 17, 6 },
	{ "gray16", PNG_COLOR_TYPE_GRAY, 16, 0, 0, 10, 7 },
	{ "gray-alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0, 8, 8 },
	{ "gray-alpha16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0, 5, 9 },
	{ "rgb8", PNG_COLOR_TYPE_RGB, 8, 0, 0, 12, 5 },
	{ "rgb16", PNG_COLOR_TYPE_RGB, 16, 0, 0, 6, 6 },
	{ "rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0, 7, 3 },
	{ "rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 0, 4, 11 },
	{ "palette1", PNG_COLOR_TYPE_PALETTE, 1, 0, 0, 15, 3 },
	{ "palette2", PNG_COLOR_TYPE_PALETTE, 2, 0, 0, 14, 4 },
	{ "palette4", PNG_COLOR_TYPE_PALETTE, 4, 0, 0, 13, 5 },
	{ "palette8", PNG_COLOR_TYPE_PALETTE, 8, 0, 0, 32, 9 },
	{ "palette1-trns", PNG_COLOR_TYPE_PALETTE, 1, 1, 0, 15, 3 },
	{ "palette2-trns", PNG_COLOR_TYPE_PALETTE, 2, 1, 0, 14, 4 },
	{ "palette4-trns", PNG_COLOR_TYPE_PALETTE, 4, 1, 0, 13, 5 },
	{ "palette8-trns", PNG_COLOR_TYPE_PALETTE, 8, 1, 0, 32, 9 },
	{ "gray2-trns", PNG_COLOR_TYPE_GRAY, 2, 1, 0, 11, 4 },
	{ "gray8-trns", PNG_COLOR_TYPE_GRAY, 8, 1, 0, 16, 16 },
	{ "gray16-trns", PNG_COLOR_TYPE_GRAY, 16, 1, 0, 6, 5 },
	{ "rgb8-trns", PNG_COLOR_TYPE_RGB, 8, 1, 0, 6, 5 },
	{ "rgb16-trns", PNG_COLOR_TYPE_RGB, 16, 1, 0, 5, 4 },
	/* Adam7: odd sizes, sizes smaller than a pass's first column or row. */
	{ "adam7-gray8-7x5", PNG_COLOR_TYPE_GRAY, 8, 0, 1, 7, 5 },
	{ "adam7-rgba16-9x17", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 1, 9, 17 },
	{ "adam7-gray1-10x3", PNG_COLOR_TYPE_GRAY, 1, 0, 1, 10, 3 },
	{ "adam7-palette4-trns-13x11", PNG_COLOR_TYPE_PALETTE, 4, 1, 1, 13, 11 },
	{ "adam7-rgb8-1x1", PNG_COLOR_TYPE_RGB, 8, 0, 1, 1, 1 },
	{ "adam7-gray-alpha8-3x2", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 1, 3, 2 },
	{ "adam7-gray16-trns-33x1", PNG_COLOR_TYPE_GRAY, 16, 1, 1, 33, 1 },
};

START_TEST(test_decode_every_type)
{
	const decode_case *dc = &decode_cases[_i];
	int fch = file_channels(dc->color_type);
	int is_pal = dc->color_type == PNG_COLOR_TYPE_PALETTE;
	unsigned maxv = (1u << dc->bit_depth) - 1u;
	size_t n = dc->w * dc->h * (size_t)fch;
	unsigned *samples = malloc(n * sizeof *samples);
	ck_assert_ptr_nonnull(samples);
	for (size_t y = 0; y < dc->h; y++)
		for (size_t x = 0; x < dc->w; x++)
			for (int c = 0; c < fch; c++)
				samples[(y * dc->w + x) * (size_t)fch + (size_t)c] =
					hash_sample(x, y, c, (unsigned)_i) & maxv;

	png_color palette[256];
	png_byte trans_alpha[256];
	png_color_16 trans_color;
	memset(&trans_color, 0, sizeof trans_color);
	int npal = is_pal ? (int)maxv + 1 : 0;
	int ntrans = npal / 2 + 1; /* entries past ntrans stay opaque */
	for (int i = 0; i < npal; i++) {
		palette[i].red = (png_byte)(i * 37 + 11);
		palette[i].green = (png_byte)(i * 101 + 7);
		palette[i].blue = (png_byte)(255 - i * 13);
		trans_alpha[i] = (png_byte)(i * 53 + 3);
	}
	/* Gray/RGB tRNS: the colour of pixel (0, 0), so at least one pixel matches. */
	if (dc->trns && !is_pal) {
		trans_color.gray = (png_uint_16)samples[0];
		if (fch == 3) {
			trans_color.red = (png_uint_16)samples[0];
			trans_color.green = (png_uint_16)samples[1];
			trans_color.blue = (png_uint_16)samples[2];
		}
	}

	pngw spec = { dc->color_type, dc->bit_depth, dc->interlace, dc->w, dc->h, samples,
		      is_pal ? palette : NULL, npal,
		      is_pal && dc->trns ? trans_alpha : NULL, is_pal && dc->trns ? ntrans : 0,
		      dc->trns && !is_pal ? &trans_color : NULL };
	size_t len;
	unsigned char *file = make_png(&spec, &len);
	imf_image *img = read_ok(file, len, NULL);

	/* Expected layout. */
	int color = is_pal ? 3 : (fch >= 3 ? 3 : 1);
	int alpha = fch == 2 || fch == 4 || dc->trns;
	ck_assert_msg(imf_image_channels(img) == color + alpha, "%s: %d channels", dc->name,
	              imf_image_channels(img));
	ck_assert_int_eq(imf_image_has_alpha(img), alpha);
	ck_assert_uint_eq(imf_image_width(img), dc->w);
	ck_assert_uint_eq(imf_image_height(img), dc->h);
	ck_assert_int_eq(imf_image_source_depth(img), dc->bit_depth == 16 ? 16 : 8);

	for (size_t y = 0; y < dc->h; y++) {
		for (size_t x = 0; x < dc->w; x++) {
			const unsigned *s = samples + (y * dc->w + x) * (size_t)fch;
			float want[4];
			if (is_pal) {
				want[0] = palette[s[0]].red;
				want[1] = palette[s[0]].green;
				want[2] = palette[s[0]].blue;
				want[3] = (int)s[0] < ntrans ? trans_alpha[s[0]] : 255.0f;
			} else {
				for (int c = 0; c < fch; c++)
					want[c] = expect_gray(s[c], dc->bit_depth);
				if (dc->trns) {
					int match = fch == 1 ? s[0] == trans_color.gray
					                     : s[0] == trans_color.red &&
					                               s[1] == trans_color.green &&
					                               s[2] == trans_color.blue;
					want[fch] = match ? 0.0f : 255.0f;
				}
			}
			for (int c = 0; c < color + alpha; c++) {
				float got = imf_image_row(img, c, y)[x];
				ck_assert_msg(got == want[c], "%s: (%zu,%zu) plane %d: got %.6f want %.6f",
				              dc->name, x, y, c, got, want[c]);
			}
		}
	}
	imf_image_free(img);
	free(file);
	free(samples);
}
END_TEST

/* The issue's own examples, spelled out. */
START_TEST(test_decode_known_values)
{
	static const unsigned gray2[] = { 0, 1, 2, 3 };
	pngw s2 = { PNG_COLOR_TYPE_GRAY, 2, 0, 4, 1, gray2, NULL, 0, NULL, 0, NULL };
	size_t len;
	unsigned char *f = make_png(&s2, &len);
	imf_image *img = read_ok(f, len, NULL);
	const float want2[] = { 0, 85, 170, 255 };
	for (int x = 0; x < 4; x++)
		ck_assert_float_eq(imf_image_row(img, 0, 0)[x], want2[x]);
	imf_image_free(img);
	free(f);

	static const unsigned rgb16[] = { 0x1234, 0, 0xFFFF };
	pngw s16 = { PNG_COLOR_TYPE_RGB, 16, 0, 1, 1, rgb16, NULL, 0, NULL, 0, NULL };
	f = make_png(&s16, &len);
	img = read_ok(f, len, NULL);
	ck_assert_float_eq(imf_image_row(img, 0, 0)[0], 4660 / 257.0f);
	ck_assert_float_eq(imf_image_row(img, 1, 0)[0], 0.0f);
	ck_assert_float_eq(imf_image_row(img, 2, 0)[0], 255.0f);
	ck_assert_int_eq(imf_image_source_depth(img), 16);
	imf_image_free(img);
	free(f);
}
END_TEST

/* ---- round trips ----------------------------------------------------------- */

static const struct {
	int channels, alpha, color_type;
} layouts[] = {
	{ 1, 0, PNG_COLOR_TYPE_GRAY },
	{ 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA },
	{ 3, 0, PNG_COLOR_TYPE_RGB },
	{ 4, 1, PNG_COLOR_TYPE_RGB_ALPHA },
};

static imf_image *random_image(size_t w, size_t h, int ch, int alpha, unsigned long long seed)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_new(w, h, ch, alpha, NULL, &img, &err), IMF_OK);
	for (int c = 0; c < ch; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] = (float)(int)(tu_rand(&seed) * 256.0);
	return img;
}

static void assert_same(const imf_image *a, const imf_image *b)
{
	ck_assert_uint_eq(imf_image_width(a), imf_image_width(b));
	ck_assert_uint_eq(imf_image_height(a), imf_image_height(b));
	ck_assert_int_eq(imf_image_channels(a), imf_image_channels(b));
	ck_assert_int_eq(imf_image_has_alpha(a), imf_image_has_alpha(b));
	for (int c = 0; c < imf_image_channels(a); c++)
		for (size_t y = 0; y < imf_image_height(a); y++)
			for (size_t x = 0; x < imf_image_width(a); x++) {
				float u = imf_image_row_const(a, c, y)[x];
				float v = imf_image_row_const(b, c, y)[x];
				ck_assert_msg(u == v, "(%zu,%zu) plane %d: %.6f != %.6f", x, y, c, u, v);
			}
}

START_TEST(test_roundtrip8)
{
	imf_image *img = random_image(11, 7, layouts[_i].channels, layouts[_i].alpha, 42u + (unsigned)_i);
	size_t len;
	unsigned char *f = tu_write_mem(img, IMF_FORMAT_PNG, NULL, &len);
	ck_assert_uint_gt(len, 33);
	ck_assert_int_eq(memcmp(f + 12, "IHDR", 4), 0);
	ck_assert_int_eq(f[24], 8);                      /* bit depth */
	ck_assert_int_eq(f[25], layouts[_i].color_type); /* colour type */
	imf_image *back = read_ok(f, len, NULL);
	ck_assert_int_eq(imf_image_source_depth(back), 8);
	assert_same(img, back);
	imf_image_free(back);
	imf_image_free(img);
	free(f);
}
END_TEST

/* 16-bit in, 16-bit out: a file's values survive read -> write -> read. */
START_TEST(test_roundtrip16)
{
	int ct = layouts[_i].color_type, fch = layouts[_i].channels;
	size_t w = 9, h = 4, n = w * h * (size_t)fch;
	unsigned *samples = malloc(n * sizeof *samples);
	ck_assert_ptr_nonnull(samples);
	for (size_t i = 0; i < n; i++)
		samples[i] = hash_sample(i, 3, 1, 99) & 0xFFFFu;
	samples[0] = 0x1234;
	pngw s = { ct, 16, 0, w, h, samples, NULL, 0, NULL, 0, NULL };
	size_t len;
	unsigned char *f = make_png(&s, &len);
	imf_image *img = read_ok(f, len, NULL);
	ck_assert_int_eq(imf_image_source_depth(img), 16);

	size_t len2;
	unsigned char *f2 = tu_write_mem(img, IMF_FORMAT_PNG, NULL, &len2);
	ck_assert_int_eq(f2[24], 16);
	ck_assert_int_eq(f2[25], ct);
	imf_image *back = read_ok(f2, len2, NULL);
	ck_assert_int_eq(imf_image_source_depth(back), 16);
	assert_same(img, back);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			for (int c = 0; c < fch; c++)
				ck_assert_float_eq(imf_image_row(back, c, y)[x],
				                   (float)samples[(y * w + x) * (size_t)fch + (size_t)c] /
				                           257.0f);
	imf_image_free(back);
	imf_image_free(img);
	free(f2);
	free(f);
	free(samples);
}
END_TEST

/* An 8-bit image written with depth 16 stores v * 257 and reads back as v. */
START_TEST(test_write_depth16)
{
	imf_image *img = random_image(5, 3, 3, 0, 7);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	wo.depth = 16;
	size_t len;
	unsigned char *f = tu_write_mem(img, IMF_FORMAT_PNG, &wo, &len);
	ck_assert_int_eq(f[24], 16);
	imf_image *back = read_ok(f, len, NULL);
	ck_assert_int_eq(imf_image_source_depth(back), 16);
	assert_same(img, back);
	imf_image_free(back);
	imf_image_free(img);
	free(f);
}
END_TEST

/* Out-of-range values go through the mapper (clamp), not a raw cast. */
START_TEST(test_write_clamps)
{
	const double v[] = { -3.7, 0.4, 127.4, 127.6, 254.6, 300.0, 1e9, -1e9 };
	const float want[] = { 0, 0, 127, 128, 255, 255, 255, 0 };
	imf_image *img = tu_image_from(v, 8, 1);
	size_t len;
	unsigned char *f = tu_write_mem(img, IMF_FORMAT_PNG, NULL, &len);
	imf_image *back = read_ok(f, len, NULL);
	for (int x = 0; x < 8; x++)
		ck_assert_float_eq(imf_image_row(back, 0, 0)[x], want[x]);
	imf_image_free(back);
	imf_image_free(img);
	free(f);
}
END_TEST

/* ---- hostile input ----------------------------------------------------------- */

/* A valid 32x32 8-bit gray file of noise (so IDAT is large). */
static unsigned char *base_png(size_t *len)
{
	static unsigned samples[32 * 32];
	for (size_t i = 0; i < 32 * 32; i++)
		samples[i] = hash_sample(i, 0, 0, 5) & 0xFFu;
	pngw s = { PNG_COLOR_TYPE_GRAY, 8, 0, 32, 32, samples, NULL, 0, NULL, 0, NULL };
	return make_png(&s, len);
}

static void expect_fail(const unsigned char *data, size_t len, const imf_read_opts *opts,
                        imf_status code, const char *w1, const char *w2, const char *what)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(data, len, opts, &img, &err);
	ck_assert_msg(st == code, "%s: status %d (%s), want %d", what, st, err.msg, code);
	ck_assert_ptr_null(img);
	ck_assert_msg(strncmp(err.msg, "PNG: ", 5) == 0, "%s: message %s", what, err.msg);
	ck_assert_msg(strstr(err.msg, w1), "%s: message '%s' lacks '%s'", what, err.msg, w1);
	if (w2)
		ck_assert_msg(strstr(err.msg, w2), "%s: message '%s' lacks '%s'", what, err.msg, w2);
	size_t n = strlen(err.msg);
	ck_assert_msg(n > 0 && err.msg[n - 1] != '.' && err.msg[n - 1] != '\n',
	              "%s: message '%s' ends badly", what, err.msg);
}

static void expect_exact(const unsigned char *data, size_t len, imf_status code,
                         const char *msg)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(data, len, NULL, &img, &err);
	ck_assert_msg(st == code, "status %d (%s), want %d", st, err.msg, code);
	ck_assert_ptr_null(img);
	ck_assert_str_eq(err.msg, msg);
}

START_TEST(test_truncated)
{
	size_t len;
	unsigned char *f = base_png(&len);
	size_t idat = find_chunk(f, len, "IDAT");
	size_t cuts[] = {
		8,                          /* signature only */
		8 + 8 + 5,                  /* inside IHDR data */
		8 + 25 - 2,                 /* inside IHDR CRC */
		idat + 6,                   /* inside IDAT header */
		idat + 8 + get32(f + idat) / 2, /* inside IDAT data */
		len - 12,                   /* everything but IEND */
		len - 1,                    /* inside IEND's CRC */
	};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "cut at %zu of %zu", cuts[i], len);
		expect_fail(f, cuts[i], NULL, IMF_ECORRUPT, "truncated", NULL, what);
	}
	free(f);
}
END_TEST

START_TEST(test_crc_errors)
{
	size_t len;
	unsigned char *f = base_png(&len);
	f[8 + 8 + 3] ^= 0x01; /* width's low byte: 32 -> 33, CRC now wrong */
	expect_fail(f, len, NULL, IMF_ECORRUPT, "IHDR", "CRC", "IHDR byte flipped");
	free(f);

	f = base_png(&len);
	size_t idat = find_chunk(f, len, "IDAT");
	f[idat + 8 + get32(f + idat)] ^= 0x40; /* the CRC itself: data intact */
	expect_fail(f, len, NULL, IMF_ECORRUPT, "IDAT", "CRC", "IDAT CRC flipped");
	free(f);

	/* Damaged compressed data is found by zlib before the CRC is read. */
	f = base_png(&len);
	f[idat + 8 + 10] ^= 0x40;
	expect_fail(f, len, NULL, IMF_ECORRUPT, "IDAT", NULL, "IDAT byte flipped");
	free(f);
}
END_TEST

START_TEST(test_bad_ihdr)
{
	size_t len;
	unsigned char *f = base_png(&len);
	put32(f + 16, 0); /* width 0 */
	fix_crc(f, 8);
	expect_fail(f, len, NULL, IMF_ECORRUPT, "width", "zero", "zero width");
	free(f);

	f = base_png(&len);
	f[8 + 8 + 8] = 3; /* gray with 3-bit samples does not exist */
	fix_crc(f, 8);
	expect_fail(f, len, NULL, IMF_ECORRUPT, "PNG: ", NULL, "bit depth 3");
	free(f);
}
END_TEST

/*
 * libpng's texts start lowercase after "PNG: ", acronyms kept: a file whose
 * IHDR claims one row more than its IDAT holds, IHDR fields libpng rejects
 * with a warning that explains them, and a CRC error.
 */
START_TEST(test_library_messages)
{
	size_t len;
	unsigned char *f = base_png(&len);
	put32(f + 20, 33); /* height 33, data for 32 rows */
	fix_crc(f, 8);
	expect_exact(f, len, IMF_ECORRUPT, "PNG: not enough image data");
	free(f);

	f = base_png(&len);
	put32(f + 16, 0);
	fix_crc(f, 8);
	expect_exact(f, len, IMF_ECORRUPT, "PNG: image width is zero in IHDR");
	free(f);

	f = base_png(&len);
	f[8 + 8 + 8] = 3;
	fix_crc(f, 8);
	expect_exact(f, len, IMF_ECORRUPT, "PNG: invalid bit depth in IHDR");
	free(f);

	f = base_png(&len);
	f[8 + 8 + 3] ^= 0x01;
	expect_exact(f, len, IMF_ECORRUPT, "PNG: IHDR: CRC error");
	free(f);
}
END_TEST

/* A forged 100000x100000 header must be refused from the header alone. */
START_TEST(test_huge_dims)
{
	size_t len;
	unsigned char *f = base_png(&len);
	put32(f + 16, 100000);
	put32(f + 20, 100000);
	fix_crc(f, 8);
	expect_fail(f, len, NULL, IMF_ELIMIT, "limit", NULL, "100000x100000");
	free(f);
}
END_TEST

/* max_side is enforced by libpng's user limits already while reading IHDR. */
START_TEST(test_max_side)
{
	size_t len;
	unsigned char *f = base_png(&len);
	imf_read_opts opts;
	imf_read_opts_default(&opts);
	opts.limits.max_side = 16;
	expect_fail(f, len, &opts, IMF_ELIMIT, "limit", "16", "max_side 16 on 32x32");
	opts.limits.max_side = 32;
	imf_image *img = read_ok(f, len, &opts);
	imf_image_free(img);
	opts.limits.max_side = 1000;
	opts.limits.max_pixels = 32 * 32 - 1;
	expect_fail(f, len, &opts, IMF_ELIMIT, "limit", NULL, "max_pixels 1023 on 32x32");
	free(f);
}
END_TEST

/* f with a tEXt chunk whose CRC is wrong inserted after IHDR. */
static unsigned char *with_bad_text(const unsigned char *f, size_t len, size_t *outlen)
{
	static const char text[] = "Comment\0hello";
	size_t tlen = sizeof text - 1, at = 8 + 25, n = len + 12 + tlen;
	unsigned char *g = malloc(n);
	ck_assert_ptr_nonnull(g);
	memcpy(g, f, at);
	put32(g + at, (uint32_t)tlen);
	memcpy(g + at + 4, "tEXt", 4);
	memcpy(g + at + 8, text, tlen);
	put32(g + at + 8 + tlen, crc32_of(g + at + 4, 4 + tlen) ^ 1u);
	memcpy(g + at + 12 + tlen, f + at, len - at);
	*outlen = n;
	return g;
}

/* An ancillary chunk's CRC error is only a warning: the image still reads. */
START_TEST(test_ancillary_crc_ignored)
{
	size_t len, glen;
	unsigned char *f = base_png(&len);
	unsigned char *g = with_bad_text(f, len, &glen);
	imf_image *a = read_ok(f, len, NULL);
	imf_image *b = read_ok(g, glen, NULL);
	assert_same(a, b);
	imf_image_free(a);
	imf_image_free(b);
	free(g);
	free(f);
}
END_TEST

/* libpng must never print: run errors and warnings with stderr captured. */
START_TEST(test_silent)
{
	const char *path = tu_path("png-stderr.txt");
	fflush(stderr);
	int saved = dup(2);
	ck_assert_int_ge(saved, 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);

	size_t len, glen;
	unsigned char *f = base_png(&len);
	unsigned char *g = with_bad_text(f, len, &glen);
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st1 = tu_read_mem(g, glen, NULL, &img, &err); /* warning */
	imf_image_free(img);
	img = NULL;
	imf_status st2 = tu_read_mem(f, len / 2, NULL, &img, &err); /* error */
	f[20] ^= 0x10;
	imf_status st3 = tu_read_mem(f, len, NULL, &img, &err); /* CRC error */
	put32(f + 16, 0);
	fix_crc(f, 8);
	imf_status st4 = tu_read_mem(f, len, NULL, &img, &err); /* IHDR warnings */

	fflush(stderr);
	ck_assert_int_ge(dup2(saved, 2), 0);
	close(saved);
	ck_assert_int_eq(st1, IMF_OK);
	ck_assert_int_ne(st2, IMF_OK);
	ck_assert_int_ne(st3, IMF_OK);
	ck_assert_int_ne(st4, IMF_OK);
	size_t n;
	unsigned char *printed = tu_read_file(path, &n);
	ck_assert_msg(n == 0, "printed to stderr: %s", printed);
	free(printed);
	free(g);
	free(f);
}
END_TEST

/* ---- write errors --------------------------------------------------------- */

START_TEST(test_write_full_disk)
{
	FILE *fp = fopen("/dev/full", "wb");
	if (!fp)
		return; /* no /dev/full here */
	/* Small: everything sits in stdio's buffer until the final fflush. */
	imf_image *small = random_image(4, 4, 1, 0, 3);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	imf_error err = { 0 };
	imf_status st = imf_write(fp, small, IMF_FORMAT_PNG, &wo, &err);
	ck_assert_int_eq(st, IMF_EIO);
	ck_assert_msg(strstr(err.msg, "PNG: write failed"), "message: %s", err.msg);
	fclose(fp);

	/* Large noise: fwrite fails inside libpng's write callback. */
	fp = fopen("/dev/full", "wb");
	ck_assert_ptr_nonnull(fp);
	imf_image *big = random_image(300, 300, 3, 0, 4);
	memset(&err, 0, sizeof err);
	st = imf_write(fp, big, IMF_FORMAT_PNG, &wo, &err);
	ck_assert_int_eq(st, IMF_EIO);
	ck_assert_msg(strstr(err.msg, "PNG: write failed"), "message: %s", err.msg);
	fclose(fp);
	imf_image_free(small);
	imf_image_free(big);
}
END_TEST

static Suite *png_suite(void)
{
	Suite *s = suite_create("png");
	TCase *tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_decode_every_type, 0,
	                    (int)(sizeof decode_cases / sizeof decode_cases[0]));
	tcase_add_test(tc, test_decode_known_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_add_loop_test(tc, test_roundtrip8, 0, 4);
	tcase_add_loop_test(tc, test_roundtrip16, 0, 4);
	tcase_add_test(tc, test_write_depth16);
	tcase_add_test(tc, test_write_clamps);
	tcase_add_test(tc, test_write_full_disk);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_crc_errors);
	tcase_add_test(tc, test_bad_ihdr);
	tcase_add_test(tc, test_library_messages);
	tcase_add_test(tc, test_huge_dims);
	tcase_add_test(tc, test_max_side);
	tcase_add_test(tc, test_ancillary_crc_ignored);
	tcase_add_test(tc, test_silent);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(png_suite)
