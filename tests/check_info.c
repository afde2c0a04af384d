/*
 * check_info.c - imf_read_info, the header-only reader behind --dry-run
 * (src/io/format.c and each reader's *_read_info).
 *
 * The contract is "what imf_read would give, from the header alone": so
 * every case reads the same bytes both ways and the two must agree (size,
 * channels, alpha, format, depth; or the same error code and message), and
 * the expected shape is also written in the case's table.  That the pixels
 * are not read is shown by files cut right after their header (PNG after
 * IHDR or before IDAT, JPEG after SOF, netpbm and PFM after the header):
 * imf_read refuses them, imf_read_info still answers.  Test files are made
 * here: PNG and JPEG with libpng and libjpeg, the others as raw bytes.
 */
#include "testutil.h"

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* ---- both readers on the same bytes -------------------------------------- */

static imf_status info_mem(const void *data, size_t len, const imf_read_opts *opts,
                           imf_info *info, imf_error *err)
{
	FILE *fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	if (len)
		ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	rewind(fp);
	imf_status st = imf_read_info(fp, opts, info, err);
	fclose(fp);
	return st;
}

static imf_read_opts opts_with(int want_gray)
{
	imf_read_opts o;
	imf_read_opts_default(&o);
	o.want_gray = want_gray;
	return o;
}

typedef struct shape {
	size_t w, h;
	int channels, has_alpha;
	imf_format format;
	int depth;
} shape;

static void assert_info_is(const imf_info *info, const shape *want, const char *what)
{
	ck_assert_msg(info->width == want->w && info->height == want->h &&
	                  info->channels == want->channels && info->has_alpha == want->has_alpha &&
	                  info->format == want->format && info->depth == want->depth,
	              "%s: info %zux%zu ch %d alpha %d format %d depth %d, expected "
	              "%zux%zu ch %d alpha %d format %d depth %d",
	              what, info->width, info->height, info->channels, info->has_alpha,
	              (int)info->format, info->depth, want->w, want->h, want->channels,
	              want->has_alpha, (int)want->format, want->depth);
}

/* imf_read_info on data gives want, and so does imf_read. */
static void expect_shape(const unsigned char *data, size_t len, const imf_read_opts *opts,
                         const shape *want, const char *what)
{
	imf_info info;
	imf_error err = { 0 };
	imf_status st = info_mem(data, len, opts, &info, &err);
	ck_assert_msg(st == IMF_OK, "%s: imf_read_info failed: %s", what, err.msg);
	assert_info_is(&info, want, what);

	imf_image *img = NULL;
	st = tu_read_mem(data, len, opts, &img, &err);
	ck_assert_msg(st == IMF_OK, "%s: imf_read failed: %s", what, err.msg);
	imf_info got = { imf_image_width(img),      imf_image_height(img),
		         imf_image_channels(img),   imf_image_has_alpha(img),
		         imf_image_source_format(img), imf_image_source_depth(img) };
	char what2[160];
	snprintf(what2, sizeof what2, "%s (imf_read)", what);
	assert_info_is(&got, want, what2);
	imf_image_free(img);
}

/* A file cut after its header: imf_read_info gives want, imf_read fails. */
static void expect_shape_cut(const unsigned char *data, size_t len, const imf_read_opts *opts,
                             const shape *want, const char *what)
{
	imf_info info;
	imf_error err = { 0 };
	imf_status st = info_mem(data, len, opts, &info, &err);
	ck_assert_msg(st == IMF_OK, "%s: imf_read_info failed: %s", what, err.msg);
	assert_info_is(&info, want, what);

	imf_image *img = NULL;
	st = tu_read_mem(data, len, opts, &img, &err);
	ck_assert_msg(st != IMF_OK, "%s: imf_read read a cut file", what);
	ck_assert_ptr_null(img);
}

/* imf_read_info fails on data with code and message msg. */
static void expect_info_error(const unsigned char *data, size_t len, const imf_read_opts *opts,
                              imf_status code, const char *msg, const char *what)
{
	imf_info info;
	imf_error err = { 0 };
	imf_status st = info_mem(data, len, opts, &info, &err);
	ck_assert_msg(st == code, "%s: imf_read_info gave %d (%s), expected %d (%s)", what,
	              (int)st, err.msg, (int)code, msg);
	ck_assert_msg(strcmp(err.msg, msg) == 0, "%s: '%s', expected imf_read's '%s'", what,
	              err.msg, msg);
}

/*
 * imf_read fails on full with code; imf_read_info says the same of the first
 * len bytes of it (all of it, or a cut after its header).
 */
static void expect_error_as(const unsigned char *full, size_t full_len, size_t len,
                            const imf_read_opts *opts, imf_status code, const char *what)
{
	imf_error err = { 0 };
	imf_image *img = NULL;
	imf_status st = tu_read_mem(full, full_len, opts, &img, &err);
	ck_assert_ptr_null(img);
	ck_assert_msg(st == code, "%s: imf_read gave %d (%s), expected %d", what, (int)st,
	              err.msg, (int)code);
	expect_info_error(full, len, opts, code, err.msg, what);
}

/* Both fail on data, with the same code and message; the code is code. */
static void expect_same_error(const unsigned char *data, size_t len, const imf_read_opts *opts,
                              imf_status code, const char *what)
{
	expect_error_as(data, len, len, opts, code, what);
}

/* ---- PNG ------------------------------------------------------------------ */

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

static const struct png_case {
	const char *name;
	int color_type, bit_depth, interlace;
	int trns;          /* add a tRNS chunk */
	int channels, has_alpha, depth; /* what imf_read gives */
} png_cases[] = {
	{ "gray 1-bit", PNG_COLOR_TYPE_GRAY, 1, 0, 0, 1, 0, 8 },
	{ "gray 4-bit", PNG_COLOR_TYPE_GRAY, 4, 0, 0, 1, 0, 8 },
	{ "gray 8-bit", PNG_COLOR_TYPE_GRAY, 8, 0, 0, 1, 0, 8 },
	{ "gray 16-bit", PNG_COLOR_TYPE_GRAY, 16, 0, 0, 1, 0, 16 },
	{ "gray + tRNS", PNG_COLOR_TYPE_GRAY, 8, 0, 1, 2, 1, 8 },
	{ "gray 2-bit + tRNS", PNG_COLOR_TYPE_GRAY, 2, 0, 1, 2, 1, 8 },
	{ "gray 16-bit + tRNS", PNG_COLOR_TYPE_GRAY, 16, 0, 1, 2, 1, 16 },
	{ "gray+alpha", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0, 2, 1, 8 },
	{ "gray+alpha 16-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0, 2, 1, 16 },
	{ "RGB", PNG_COLOR_TYPE_RGB, 8, 0, 0, 3, 0, 8 },
	{ "RGB 16-bit", PNG_COLOR_TYPE_RGB, 16, 0, 0, 3, 0, 16 },
	{ "RGB + tRNS", PNG_COLOR_TYPE_RGB, 8, 0, 1, 4, 1, 8 },
	{ "RGB interlaced", PNG_COLOR_TYPE_RGB, 8, 1, 0, 3, 0, 8 },
	{ "RGBA", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0, 4, 1, 8 },
	{ "RGBA 16-bit", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 0, 4, 1, 16 },
	{ "RGBA interlaced", PNG_COLOR_TYPE_RGB_ALPHA, 8, 1, 0, 4, 1, 8 },
	{ "palette", PNG_COLOR_TYPE_PALETTE, 8, 0, 0, 3, 0, 8 },
	{ "palette 2-bit", PNG_COLOR_TYPE_PALETTE, 2, 0, 0, 3, 0, 8 },
	{ "palette + tRNS", PNG_COLOR_TYPE_PALETTE, 8, 0, 1, 4, 1, 8 },
	{ "palette 4-bit + tRNS", PNG_COLOR_TYPE_PALETTE, 4, 1, 1, 4, 1, 8 },
};

#define PNGF_W 7 /* test files' size */
#define PNGF_H 5

/* A PNGF_W x PNGF_H file of zero samples (palette index 0) for case c.  libpng's
 * default error handling aborts: fine for test input. */
static unsigned char *make_png(const struct png_case *c, size_t *len)
{
	static const png_color palette[2] = { { 10, 20, 30 }, { 200, 100, 0 } };
	static const png_byte trans_alpha[1] = { 0 };
	png_color_16 trans_color = { 0 };
	unsigned char row[PNGF_W * 8] = { 0 };
	membuf out = { 0 };

	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(png);
	png_infop info = png_create_info_struct(png);
	ck_assert_ptr_nonnull(info);
	png_set_write_fn(png, &out, mem_write, mem_flush);
	png_set_IHDR(png, info, PNGF_W, PNGF_H, c->bit_depth, c->color_type,
	             c->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (c->color_type == PNG_COLOR_TYPE_PALETTE)
		png_set_PLTE(png, info, palette, 2);
	if (c->trns && c->color_type == PNG_COLOR_TYPE_PALETTE)
		png_set_tRNS(png, info, trans_alpha, 1, NULL);
	else if (c->trns)
		png_set_tRNS(png, info, NULL, 0, &trans_color);
	png_write_info(png, info);
	int passes = png_set_interlace_handling(png);
	for (int p = 0; p < passes; p++)
		for (int y = 0; y < PNGF_H; y++)
			png_write_row(png, row);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	*len = out.len;
	return out.data;
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

#define PNG_IHDR_END (8 + 8 + 13 + 4) /* signature, IHDR's length, type, data, CRC */

/* Give the IHDR at its fixed place a new size and a matching CRC. */
static void forge_ihdr(unsigned char *png, uint32_t w, uint32_t h)
{
	put32(png + 16, w);
	put32(png + 20, h);
	put32(png + 29, crc32_of(png + 12, 4 + 13));
}

static shape png_shape(const struct png_case *c)
{
	shape s = { PNGF_W, PNGF_H, c->channels, c->has_alpha, IMF_FORMAT_PNG, c->depth };
	return s;
}

START_TEST(test_png)
{
	const struct png_case *c = &png_cases[_i];
	shape want = png_shape(c);
	size_t len;
	unsigned char *f = make_png(c, &len);
	for (int g = 0; g < 2; g++) {
		imf_read_opts o = opts_with(g); /* want_gray changes nothing for PNG */
		char what[80];
		snprintf(what, sizeof what, "PNG %s, want_gray %d", c->name, g);
		expect_shape(f, len, &o, &want, what);
	}
	free(f);
}
END_TEST

/* Cut where the image data would begin: the header (PLTE, tRNS) is whole. */
START_TEST(test_png_cut_before_idat)
{
	const struct png_case *c = &png_cases[_i];
	shape want = png_shape(c);
	size_t len;
	unsigned char *f = make_png(c, &len);
	imf_read_opts o = opts_with(0);
	char what[80];
	snprintf(what, sizeof what, "PNG %s cut before IDAT", c->name);
	expect_shape_cut(f, find_chunk(f, len, "IDAT"), &o, &want, what);
	free(f);
}
END_TEST

/* Cut right after IHDR: enough for every colour type but a palette's. */
START_TEST(test_png_cut_after_ihdr)
{
	const struct png_case *c = &png_cases[_i];
	size_t len;
	unsigned char *f = make_png(c, &len);
	imf_read_opts o = opts_with(0);
	char what[80];
	snprintf(what, sizeof what, "PNG %s cut after IHDR", c->name);
	ck_assert_mem_eq(f + 12, "IHDR", 4);
	if (c->color_type == PNG_COLOR_TYPE_PALETTE) {
		expect_same_error(f, PNG_IHDR_END, &o, IMF_ECORRUPT, what);
	} else if (!c->trns) {
		shape want = png_shape(c);
		expect_shape_cut(f, PNG_IHDR_END, &o, &want, what);
	}
	free(f);
}
END_TEST

/* ---- JPEG ----------------------------------------------------------------- */

static const struct jpeg_case {
	const char *name;
	int components;           /* 1, 3 or 4 */
	J_COLOR_SPACE in_space;
	J_COLOR_SPACE file_space; /* JCS_UNKNOWN: libjpeg's default for in_space */
	int progressive;
	int channels, gray_channels; /* imf_read's, without and with want_gray; 0: refused */
} jpeg_cases[] = {
	{ "gray", 1, JCS_GRAYSCALE, JCS_UNKNOWN, 0, 1, 1 },
	{ "gray progressive", 1, JCS_GRAYSCALE, JCS_UNKNOWN, 1, 1, 1 },
	{ "YCbCr", 3, JCS_RGB, JCS_UNKNOWN, 0, 3, 1 },
	{ "YCbCr progressive", 3, JCS_RGB, JCS_UNKNOWN, 1, 3, 1 },
	{ "RGB-coded", 3, JCS_RGB, JCS_RGB, 0, 3, 3 },
	{ "CMYK", 4, JCS_CMYK, JCS_UNKNOWN, 0, 0, 0 },
	{ "YCCK", 4, JCS_CMYK, JCS_YCCK, 0, 0, 0 },
};

#define JPEGF_W 19
#define JPEGF_H 13

/* libjpeg's default error handler prints and exits: fine for test input. */
static unsigned char *make_jpeg(const struct jpeg_case *c, size_t *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long size = 0;
	unsigned char row[JPEGF_W * 4];

	memset(row, 90, sizeof row);
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &out, &size);
	ci.image_width = JPEGF_W;
	ci.image_height = JPEGF_H;
	ci.input_components = c->components;
	ci.in_color_space = c->in_space;
	jpeg_set_defaults(&ci);
	if (c->file_space != JCS_UNKNOWN)
		jpeg_set_colorspace(&ci, c->file_space);
	if (c->progressive)
		jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW r = row;
		ck_assert_uint_eq(jpeg_write_scanlines(&ci, &r, 1), 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	ck_assert_ptr_nonnull(out);
	*len = size;
	return out;
}

/* Offset of the frame header's marker (SOF0 or SOF2). */
static size_t find_sof(const unsigned char *f, size_t len)
{
	for (size_t i = 2; i + 4 <= len; i++)
		if (f[i] == 0xFF && (f[i + 1] == 0xC0 || f[i + 1] == 0xC2))
			return i;
	ck_abort_msg("no SOF marker");
	return 0;
}

/* Offset just past the frame header segment: marker, length, the rest. */
static size_t sof_end(const unsigned char *f, size_t len)
{
	size_t sof = find_sof(f, len);
	return sof + 2 + ((size_t)f[sof + 2] << 8 | f[sof + 3]);
}

START_TEST(test_jpeg)
{
	const struct jpeg_case *c = &jpeg_cases[_i];
	size_t len;
	unsigned char *f = make_jpeg(c, &len);
	for (int g = 0; g < 2; g++) {
		imf_read_opts o = opts_with(g);
		char what[80];
		snprintf(what, sizeof what, "JPEG %s, want_gray %d", c->name, g);
		int ch = g ? c->gray_channels : c->channels;
		if (ch == 0) {
			expect_same_error(f, len, &o, IMF_EUNSUPPORTED, what);
			continue;
		}
		shape want = { JPEGF_W, JPEGF_H, ch, 0, IMF_FORMAT_JPEG, 8 };
		expect_shape(f, len, &o, &want, what);
	}
	free(f);
}
END_TEST

/*
 * Cut right after SOF: the colour space still follows libjpeg's rules (JFIF,
 * Adobe marker, component ids), CMYK is still refused.  Cut inside the next
 * marker, or before SOF ends, the file is truncated for both.
 */
START_TEST(test_jpeg_cut)
{
	const struct jpeg_case *c = &jpeg_cases[_i];
	size_t len;
	unsigned char *f = make_jpeg(c, &len);
	size_t end = sof_end(f, len);
	for (int g = 0; g < 2; g++) {
		imf_read_opts o = opts_with(g);
		char what[80];
		int ch = g ? c->gray_channels : c->channels;
		snprintf(what, sizeof what, "JPEG %s cut after SOF, want_gray %d", c->name, g);
		if (ch == 0) {
			expect_error_as(f, len, end, &o, IMF_EUNSUPPORTED, what);
		} else {
			shape want = { JPEGF_W, JPEGF_H, ch, 0, IMF_FORMAT_JPEG, 8 };
			expect_shape_cut(f, end, &o, &want, what);
		}
		snprintf(what, sizeof what, "JPEG %s cut inside SOF, want_gray %d", c->name, g);
		expect_same_error(f, end - 2, &o, IMF_ECORRUPT, what);
		snprintf(what, sizeof what, "JPEG %s cut after SOF + 3, want_gray %d", c->name, g);
		expect_same_error(f, end + 3, &o, IMF_ECORRUPT, what);
	}
	free(f);
}
END_TEST

/* ---- netpbm ---------------------------------------------------------------- */

static const struct pnm_case {
	const char *header;
	size_t w, h;
	int channels, has_alpha, depth;
	int plain;        /* ASCII samples, else raw */
	size_t raw_bytes; /* of the raster, when raw */
} pnm_cases[] = {
	{ "P1\n3 2\n", 3, 2, 1, 0, 8, 1, 0 },
	{ "P2\n3 2\n255\n", 3, 2, 1, 0, 8, 1, 0 },
	{ "P2 # a comment\n3 2\n1000\n", 3, 2, 1, 0, 16, 1, 0 },
	{ "P3\n3 2\n15\n", 3, 2, 3, 0, 8, 1, 0 },
	{ "P4\n10 2\n", 10, 2, 1, 0, 8, 0, 2 * 2 },
	{ "P5\n3 2\n255\n", 3, 2, 1, 0, 8, 0, 3 * 2 },
	{ "P5\n3 2\n65535\n", 3, 2, 1, 0, 16, 0, 3 * 2 * 2 },
	{ "P6\n3 2\n255\n", 3, 2, 3, 0, 8, 0, 3 * 2 * 3 },
	{ "P6\n3 2\n4095\n", 3, 2, 3, 0, 16, 0, 3 * 2 * 6 },
	{ "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n", 3, 2, 1,
	  0, 8, 0, 3 * 2 },
	{ "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n", 3, 2,
	  2, 1, 8, 0, 3 * 2 * 2 },
	{ "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 3\nMAXVAL 65535\nTUPLTYPE RGB\nENDHDR\n", 3, 2, 3, 0, 16,
	  0, 3 * 2 * 6 },
	{ "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n", 3, 2, 4, 1,
	  8, 0, 3 * 2 * 4 },
	{ "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 1\nMAXVAL 1\nTUPLTYPE BLACKANDWHITE\nENDHDR\n", 3, 2, 1,
	  0, 8, 0, 3 * 2 },
	{ "P7\nWIDTH 3\nHEIGHT 2\nDEPTH 4\nMAXVAL 255\nENDHDR\n", 3, 2, 4, 1, 8, 0, 3 * 2 * 4 },
};

/* The header, then zero samples: raw bytes, or "0 " per sample when plain. */
static unsigned char *make_pnm(const struct pnm_case *c, size_t *len, size_t *header_len)
{
	size_t hl = strlen(c->header);
	size_t samples = c->w * c->h * (size_t)c->channels;
	size_t body = c->plain ? 2 * samples : c->raw_bytes;
	unsigned char *f = malloc(hl + body);
	ck_assert_ptr_nonnull(f);
	memcpy(f, c->header, hl);
	if (c->plain) {
		for (size_t i = 0; i < samples; i++) {
			f[hl + 2 * i] = '0';
			f[hl + 2 * i + 1] = ' ';
		}
	} else {
		memset(f + hl, 0, body);
	}
	*len = hl + body;
	*header_len = hl;
	return f;
}

START_TEST(test_pnm)
{
	const struct pnm_case *c = &pnm_cases[_i];
	shape want = { c->w, c->h, c->channels, c->has_alpha, IMF_FORMAT_PNM, c->depth };
	size_t len, hl;
	unsigned char *f = make_pnm(c, &len, &hl);
	imf_read_opts o = opts_with(_i % 2);
	char what[120];
	snprintf(what, sizeof what, "PNM '%.2s' case %d", c->header, _i);
	expect_shape(f, len, &o, &want, what);
	snprintf(what, sizeof what, "PNM '%.2s' case %d, header only", c->header, _i);
	expect_shape_cut(f, hl, &o, &want, what);
	free(f);
}
END_TEST

/* ---- PFM ------------------------------------------------------------------- */

static const struct pfm_case {
	const char *header;
	size_t w, h;
	int channels;
} pfm_cases[] = {
	{ "Pf\n4 3\n-1.0\n", 4, 3, 1 },
	{ "Pf\n4 3\n1.0\n", 4, 3, 1 },
	{ "PF\n4 3\n-1.0\n", 4, 3, 3 },
	{ "PF 2 5 2.5\n", 2, 5, 3 },
};

START_TEST(test_pfm)
{
	const struct pfm_case *c = &pfm_cases[_i];
	shape want = { c->w, c->h, c->channels, 0, IMF_FORMAT_PFM, 32 };
	size_t hl = strlen(c->header);
	size_t len = hl + c->w * c->h * (size_t)c->channels * 4;
	unsigned char *f = calloc(len, 1); /* 0x00000000 is 0.0f in either byte order */
	ck_assert_ptr_nonnull(f);
	memcpy(f, c->header, hl);
	imf_read_opts o = opts_with(0);
	char what[80];
	snprintf(what, sizeof what, "PFM case %d", _i);
	expect_shape(f, len, &o, &want, what);
	snprintf(what, sizeof what, "PFM case %d, header only", _i);
	expect_shape_cut(f, hl, &o, &want, what);
	free(f);
}
END_TEST

/* ---- text ------------------------------------------------------------------ */

static const struct text_case {
	const char *text;
	size_t w, h;
	int channels, has_alpha;
} text_cases[] = {
	{ "1 2 3\n4 5 6\n", 3, 2, 1, 0 },
	{ "# a comment\n1, 2.5, -3\n", 3, 1, 1, 0 },
	{ "1 2\n3 4\n\n255 255\n0 0\n", 2, 2, 2, 1 },
	{ "1 2\n3 4\n\n5 6\n7 8\n\n9 10\n11 12\n", 2, 2, 3, 0 },
	{ "1\n\n2\n\n3\n\n4\n", 1, 1, 4, 1 },
};

START_TEST(test_text)
{
	const struct text_case *c = &text_cases[_i];
	shape want = { c->w, c->h, c->channels, c->has_alpha, IMF_FORMAT_TEXT, 32 };
	imf_read_opts o = opts_with(1);
	char what[80];
	snprintf(what, sizeof what, "text case %d", _i);
	expect_shape((const unsigned char *)c->text, strlen(c->text), &o, &want, what);
}
END_TEST

/* ---- limits ----------------------------------------------------------------- */

/*
 * Sizes a header claims are checked before anything else is read: each file
 * here is only its header (plus what detection needs), so IMF_ELIMIT, not a
 * truncation, is the answer, and it is imf_read's own message.
 */
START_TEST(test_limits)
{
	imf_read_opts o = opts_with(0);
	static const char *const pnm[] = {
		"P6\n100000 100000\n255\n",
		"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 3\nMAXVAL 255\nENDHDR\n",
		"P5\n2000000 1\n255\n", /* over max_side */
		"PF\n100000 100000\n-1.0\n",
		"Pf\n1 2000000\n-1.0\n",
	};
	for (size_t i = 0; i < sizeof pnm / sizeof pnm[0]; i++)
		expect_same_error((const unsigned char *)pnm[i], strlen(pnm[i]), &o, IMF_ELIMIT,
		                  pnm[i]);

	/* PNG: over max_pixels (imf_check_dims), and over max_side (libpng's user
	 * limit, installed by the shared setup). */
	static const uint32_t png_sizes[][2] = { { 20000, 20000 }, { 2000000, 1 } };
	size_t len;
	unsigned char *f = make_png(&png_cases[9], &len); /* RGB */
	for (size_t i = 0; i < 2; i++) {
		forge_ihdr(f, png_sizes[i][0], png_sizes[i][1]);
		expect_same_error(f, len, &o, IMF_ELIMIT, "PNG over the limits");
		expect_error_as(f, len, PNG_IHDR_END, &o, IMF_ELIMIT, "PNG over the limits, cut");
	}
	free(f);

	/* JPEG: 60000x60000 in SOF. */
	f = make_jpeg(&jpeg_cases[2], &len);
	size_t sof = find_sof(f, len);
	f[sof + 5] = 60000 >> 8; /* height */
	f[sof + 6] = 60000 & 0xFF;
	f[sof + 7] = 60000 >> 8; /* width */
	f[sof + 8] = 60000 & 0xFF;
	expect_same_error(f, len, &o, IMF_ELIMIT, "JPEG over the limits");
	expect_error_as(f, len, sof_end(f, len), &o, IMF_ELIMIT, "JPEG over the limits, cut");
	free(f);

	/* Lowered limits apply as well; text is parsed whole. */
	o.limits.max_side = 4;
	static const char text[] = "1 2 3 4 5\n";
	expect_same_error((const unsigned char *)text, strlen(text), &o, IMF_ELIMIT, "text");
	f = make_png(&png_cases[0], &len); /* 7x5 */
	expect_error_as(f, len, PNG_IHDR_END, &o, IMF_ELIMIT, "PNG over a lowered max_side");
	free(f);
	o.limits.max_side = 1000000;
	o.limits.max_pixels = 20;
	f = make_jpeg(&jpeg_cases[0], &len); /* 19x13 */
	expect_error_as(f, len, sof_end(f, len), &o, IMF_ELIMIT, "JPEG over a lowered max_pixels");
	free(f);
}
END_TEST

/* ---- broken headers and unknown content -------------------------------------- */

START_TEST(test_unknown_format)
{
	static const char *const garbage[] = { "hello world\n", "\x01\x02\x03\x04", "P9\n1 1\n",
		                               "GIF89a\x01\x00\x01\x00" };
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		imf_info info;
		imf_error err = { 0 };
		FILE *fp = tmpfile();
		ck_assert_ptr_nonnull(fp);
		fputs(garbage[i], fp);
		rewind(fp);
		ck_assert_int_eq(imf_read_info(fp, NULL, &info, &err), IMF_EFORMAT);
		fclose(fp);
		ck_assert_str_eq(err.msg,
		                 "unknown format (not PNG, JPEG, netpbm, PFM or a text matrix)");
		expect_same_error((const unsigned char *)garbage[i], strlen(garbage[i]), NULL,
		                  IMF_EFORMAT, garbage[i]);
	}
	expect_same_error((const unsigned char *)"", 0, NULL, IMF_ECORRUPT, "empty input");
}
END_TEST

/* Broken headers: the same code and message as imf_read, format by format. */
static const struct broken_case {
	const char *name;
	const char *bytes;
	size_t len; /* 0: strlen */
	imf_status code;
} broken_cases[] = {
	{ "PNM width 0", "P5\n0 2\n255\n", 0, IMF_ECORRUPT },
	{ "PNM maxval too big", "P5\n2 2\n70000\n", 0, IMF_ECORRUPT },
	{ "PNM truncated header", "P6\n2 2", 0, IMF_ECORRUPT },
	{ "PNM magic then a digit", "P61 2 2 255\n", 0, IMF_ECORRUPT },
	{ "PAM without HEIGHT", "P7\nWIDTH 2\nDEPTH 1\nMAXVAL 255\nENDHDR\n", 0, IMF_ECORRUPT },
	{ "PAM unknown tuple type", "P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nTUPLTYPE CMYK\n"
	  "ENDHDR\n", 0, IMF_EUNSUPPORTED },
	{ "PAM depth 5", "P7\nWIDTH 2\nHEIGHT 2\nDEPTH 5\nMAXVAL 255\nENDHDR\n", 0,
	  IMF_EUNSUPPORTED },
	{ "PFM scale 0", "PF\n2 2\n0\n", 0, IMF_ECORRUPT },
	{ "PFM truncated header", "Pf\n2 2", 0, IMF_ECORRUPT },
	{ "PFM height 0", "Pf\n2 0\n-1\n", 0, IMF_ECORRUPT },
	{ "text ragged", "1 2\n3\n", 0, IMF_ECORRUPT },
	{ "text word", "1 2 x\n", 0, IMF_ECORRUPT },
	{ "PNG signature only", "\x89PNG\r\n\x1a\n", 8, IMF_ECORRUPT },
	{ "PNG bad signature", "\x89PNG\r\n\x1b\n\0\0\0\x0dIHDR", 16, IMF_ECORRUPT },
	{ "JPEG SOI only", "\xff\xd8\xff", 3, IMF_ECORRUPT },
	{ "JPEG garbage after SOI", "\xff\xd8\xff\x01\x02\x03\x04\x05\x06\x07", 10, IMF_ECORRUPT },
};

START_TEST(test_broken_header)
{
	const struct broken_case *c = &broken_cases[_i];
	size_t len = c->len ? c->len : strlen(c->bytes);
	expect_same_error((const unsigned char *)c->bytes, len, NULL, c->code, c->name);
}
END_TEST

/* PNG: the IHDR's CRC, a forged IHDR and a cut inside it. */
START_TEST(test_png_broken_ihdr)
{
	size_t len;
	unsigned char *f = make_png(&png_cases[9], &len);
	expect_same_error(f, 20, NULL, IMF_ECORRUPT, "PNG cut inside IHDR");
	forge_ihdr(f, 0, 5);
	expect_same_error(f, len, NULL, IMF_ECORRUPT, "PNG width 0");
	forge_ihdr(f, 7, 5);
	f[18] ^= 1; /* a bit of the width, CRC left stale */
	expect_same_error(f, len, NULL, IMF_ECORRUPT, "PNG IHDR CRC");
	free(f);
}
END_TEST

/* NULL options mean the defaults, as for imf_read. */
START_TEST(test_default_opts)
{
	size_t len;
	unsigned char *f = make_jpeg(&jpeg_cases[2], &len);
	shape want = { JPEGF_W, JPEGF_H, 3, 0, IMF_FORMAT_JPEG, 8 };
	expect_shape(f, len, NULL, &want, "JPEG YCbCr, NULL options");
	free(f);
}
END_TEST

static Suite *info_suite(void)
{
	Suite *s = suite_create("info");
	TCase *tc = tcase_create("shapes");
	int npng = (int)(sizeof png_cases / sizeof png_cases[0]);
	int njpeg = (int)(sizeof jpeg_cases / sizeof jpeg_cases[0]);
	tcase_add_loop_test(tc, test_png, 0, npng);
	tcase_add_loop_test(tc, test_jpeg, 0, njpeg);
	tcase_add_loop_test(tc, test_pnm, 0, (int)(sizeof pnm_cases / sizeof pnm_cases[0]));
	tcase_add_loop_test(tc, test_pfm, 0, (int)(sizeof pfm_cases / sizeof pfm_cases[0]));
	tcase_add_loop_test(tc, test_text, 0, (int)(sizeof text_cases / sizeof text_cases[0]));
	tcase_add_test(tc, test_default_opts);
	suite_add_tcase(s, tc);

	tc = tcase_create("header only");
	tcase_add_loop_test(tc, test_png_cut_before_idat, 0, npng);
	tcase_add_loop_test(tc, test_png_cut_after_ihdr, 0, npng);
	tcase_add_loop_test(tc, test_jpeg_cut, 0, njpeg);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_unknown_format);
	tcase_add_loop_test(tc, test_broken_header, 0,
	                    (int)(sizeof broken_cases / sizeof broken_cases[0]));
	tcase_add_test(tc, test_png_broken_ihdr);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(info_suite)
