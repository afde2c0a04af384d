/*
 * check_core.c - images, size checks, format detection, value mapping and
 * statistics (image.c, error.c, io/format.c, map.c).
 *
 * Expected values are worked out here from the definitions: Rec.601 luma
 * 0.299 R + 0.587 G + 0.114 B, sample = clamp(round(t * maxval / 255)),
 * the magic bytes of each format.
 */
#define _GNU_SOURCE /* fopencookie: a stream whose reads fail on cue */

#include "testutil.h"

#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef imf_status (*image_ctor)(size_t, size_t, int, int, const imf_limits *, imf_image **,
                                 imf_error *);

/* The layout either way an image is made; imf_image_new's is zero-filled. */
static void check_layout(image_ctor make, int zeroed)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(make(3, 2, 4, 1, NULL, &img, &err), IMF_OK);
	ck_assert_uint_eq(imf_image_width(img), 3);
	ck_assert_uint_eq(imf_image_height(img), 2);
	ck_assert_int_eq(imf_image_channels(img), 4);
	ck_assert_int_eq(imf_image_has_alpha(img), 1);
	/* Every row of every plane is its own storage. */
	for (int c = 0; c < 4; c++)
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 3; x++) {
				if (zeroed)
					ck_assert(imf_image_row(img, c, y)[x] == 0.0f);
				imf_image_row(img, c, y)[x] = (float)(c * 100 + (int)y * 10 + (int)x);
			}
	for (int c = 0; c < 4; c++)
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 3; x++)
				ck_assert(imf_image_row_const(img, c, y)[x] ==
				          (float)(c * 100 + (int)y * 10 + (int)x));
	imf_image_set_source(img, IMF_FORMAT_PNM, 16);
	ck_assert_int_eq(imf_image_source_format(img), IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_image_source_depth(img), 16);
	imf_image_free(img);
	imf_image_free(NULL);
}

START_TEST(image_layout)
{
	check_layout(imf_image_new, 1);
	check_layout(imf_image_new_uninit, 0);
}
END_TEST

/* imf_alloc_aligned: aligned, usable to the last byte, overflow refused. */
START_TEST(alloc_aligned)
{
	imf_error err = { 0 };
	for (size_t n = 1; n < 300; n += 37) {
		unsigned char *p = imf_alloc_aligned(n, 3, &err);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % IMF_ALIGN, 0);
		memset(p, 0xA5, n * 3);
		free(p);
	}
	ck_assert_ptr_null(imf_alloc_aligned(SIZE_MAX / 2, 3, &err));
	ck_assert_int_eq(err.code, IMF_ENOMEM);
	ck_assert_ptr_null(imf_alloc_aligned(1, SIZE_MAX - 8, &err));
}
END_TEST

/* Both ways of making an image refuse the same shapes. */
START_TEST(image_bad_shapes)
{
	static const image_ctor makes[] = { imf_image_new, imf_image_new_uninit };
	for (size_t i = 0; i < COUNT(makes); i++) {
		imf_image *img = NULL;
		imf_error err = { 0 };
		ck_assert_int_eq(makes[i](0, 5, 1, 0, NULL, &img, &err), IMF_ECORRUPT);
		ck_assert_ptr_null(img);
		ck_assert_int_eq(makes[i](5, 5, IMF_MAX_PLANES + 1, 0, NULL, &img, &err),
		                 IMF_EUNSUPPORTED);
		ck_assert_int_eq(makes[i](2, 2, 40, 0, NULL, &img, &err), IMF_OK); /* feature maps */
		imf_image_free(img);
		img = NULL;
		ck_assert_int_eq(makes[i](5, 5, 3, 1, NULL, &img, &err), IMF_EINVAL);
		/* width * height * channels * 4 overflows size_t. */
		ck_assert_int_eq(makes[i](SIZE_MAX / 2, 3, 1, 0, NULL, &img, &err), IMF_ELIMIT);
		ck_assert_ptr_null(img);
	}
}
END_TEST

START_TEST(check_dims_messages)
{
	imf_limits lim;
	imf_error err = { 0 };
	imf_limits_default(&lim);
	ck_assert_uint_eq(lim.max_pixels, 268435456u);
	ck_assert_uint_eq(lim.max_side, 1000000u);
	ck_assert_uint_eq(lim.max_kernel, 255u);
	ck_assert_int_eq(imf_check_dims(16384, 16384, 1, &lim, "PNG", &err), IMF_OK);
	ck_assert_int_eq(imf_check_dims(16385, 16384, 1, &lim, "PNG", &err), IMF_ELIMIT);
	ck_assert_str_eq(err.msg,
	                 "PNG: 16385x16384 is 268451840 pixels, over the --max-pixels limit of "
	                 "268435456 (raise it with --max-pixels)");
	ck_assert_int_eq(imf_check_dims(1000001, 1, 1, &lim, "PNM", &err), IMF_ELIMIT);
	ck_assert_str_eq(err.msg,
	                 "PNM: 1000001x1 is over the --max-side limit of 1000000 per side (raise "
	                 "it with --max-side)");
	ck_assert_int_eq(imf_check_dims(0, 7, 1, &lim, "text", &err), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, "text: image is 0x7");
	ck_assert_int_eq(imf_check_dims(SIZE_MAX, SIZE_MAX, 4, NULL, "PFM", &err), IMF_ELIMIT);
	ck_assert_str_eq(strstr(err.msg, "too large") ? "ok" : err.msg, "ok");
}
END_TEST

/*
 * Messages quote bytes from hostile files: controls (C0, DEL, the C1 range
 * U+0080..U+009F) and bytes that are not well-formed UTF-8 become '?', one
 * per byte; well-formed UTF-8 text stays as it is.
 */
START_TEST(message_bytes)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain text", "plain text" },
		{ "esc \x1b[2J tab\t nl\n del\x7f", "esc ?[2J tab? nl? del?" },
		{ "csi \x9b" "31m", "csi ?31m" },
		{ "c1 \xc2\x9b" "31m", "c1 ??31m" },
		{ "nbsp \xc2\xa0 e-acute \xc3\xa9", "nbsp \xc2\xa0 e-acute \xc3\xa9" },
		{ "euro \xe2\x82\xac snowman \xe2\x98\x83 g-clef \xf0\x9d\x84\x9e",
		  "euro \xe2\x82\xac snowman \xe2\x98\x83 g-clef \xf0\x9d\x84\x9e" },
		{ "ff \xff\xfe", "ff ??" },
		{ "overlong \xc0\xaf \xe0\x80\xaf", "overlong ?? ???" },
		{ "surrogate \xed\xa0\x80", "surrogate ???" },
		{ "too high \xf4\x90\x80\x80", "too high ????" },
		{ "cut \xe2\x82", "cut ??" },
		{ "lone \x80\xbf", "lone ??" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		imf_error err = { 0 };
		ck_assert_int_eq(imf_error_set(&err, IMF_ECORRUPT, "%s", cases[i].in), IMF_ECORRUPT);
		ck_assert_int_eq(err.code, IMF_ECORRUPT);
		ck_assert_msg(strcmp(err.msg, cases[i].out) == 0, "case %zu: '%s', want '%s'", i,
		              err.msg, cases[i].out);
	}
}
END_TEST

START_TEST(size_arithmetic)
{
	size_t r = 0;
	ck_assert_int_eq(imf_size_mul(SIZE_MAX / 3, 3, &r), 1);
	ck_assert_uint_eq(r, SIZE_MAX / 3 * 3);
	ck_assert_int_eq(imf_size_mul(SIZE_MAX / 3 + 1, 3, &r), 0);
	ck_assert_int_eq(imf_size_mul(0, SIZE_MAX, &r), 1);
	ck_assert_uint_eq(r, 0);
	ck_assert_int_eq(imf_size_add(SIZE_MAX - 1, 1, &r), 1);
	ck_assert_int_eq(imf_size_add(SIZE_MAX, 1, &r), 0);
	imf_error err = { 0 };
	ck_assert_ptr_null(imf_alloc_array(SIZE_MAX / 2, 4, &err));
	ck_assert_int_eq(err.code, IMF_ENOMEM);
}
END_TEST

START_TEST(luma_rec601)
{
	static const double rgb[][3] = {
		{ 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 255 }, { 12, 200, 77.5 },
	};
	imf_image *img = NULL, *g = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_new(COUNT(rgb), 1, 4, 1, NULL, &img, &err), IMF_OK);
	imf_image_set_source(img, IMF_FORMAT_PNG, 16);
	for (size_t i = 0; i < COUNT(rgb); i++) {
		for (int c = 0; c < 3; c++)
			imf_image_row(img, c, 0)[i] = (float)rgb[i][c];
		imf_image_row(img, 3, 0)[i] = 17; /* alpha: must not leak into luma */
	}
	ck_assert_int_eq(imf_image_to_luma(img, &g, &err), IMF_OK);
	ck_assert_int_eq(imf_image_channels(g), 1);
	ck_assert_int_eq(imf_image_has_alpha(g), 0);
	ck_assert_int_eq(imf_image_source_format(g), IMF_FORMAT_PNG);
	ck_assert_int_eq(imf_image_source_depth(g), 16);
	for (size_t i = 0; i < COUNT(rgb); i++) {
		double want = 0.299 * rgb[i][0] + 0.587 * rgb[i][1] + 0.114 * rgb[i][2];
		ck_assert_double_eq_tol(imf_image_row(g, 0, 0)[i], want, 1e-4);
	}
	imf_image_free(g);
	imf_image_free(img);

	/* Gray + alpha: the gray plane, alpha dropped. */
	ck_assert_int_eq(imf_image_new(2, 1, 2, 1, NULL, &img, &err), IMF_OK);
	imf_image_row(img, 0, 0)[0] = 5;
	imf_image_row(img, 0, 0)[1] = 250;
	imf_image_row(img, 1, 0)[0] = 99;
	ck_assert_int_eq(imf_image_to_luma(img, &g, &err), IMF_OK);
	ck_assert(imf_image_row(g, 0, 0)[0] == 5.0f && imf_image_row(g, 0, 0)[1] == 250.0f);
	imf_image_free(g);
	imf_image_free(img);
}
END_TEST

START_TEST(detect_formats)
{
	static const struct {
		const char *bytes;
		size_t len;
		imf_format want;
	} cases[] = {
		{ "\x89PNG\r\n\x1a\n", 8, IMF_FORMAT_PNG },
		{ "\xff\xd8\xff\xe0", 4, IMF_FORMAT_JPEG },
		{ "P1\n", 3, IMF_FORMAT_PNM },
		{ "P5 ", 3, IMF_FORMAT_PNM },
		{ "P7\nWIDTH", 8, IMF_FORMAT_PNM },
		{ "PF\n", 3, IMF_FORMAT_PFM },
		{ "Pf\n", 3, IMF_FORMAT_PFM },
		{ "P8\n", 3, IMF_FORMAT_UNKNOWN },
		{ "12 3\n", 5, IMF_FORMAT_TEXT },
		{ "  -4.5", 6, IMF_FORMAT_TEXT },
		{ "# comment\n", 10, IMF_FORMAT_TEXT },
		{ ".5", 2, IMF_FORMAT_TEXT },
		{ "GIF89a", 6, IMF_FORMAT_UNKNOWN },
		{ "hello", 5, IMF_FORMAT_UNKNOWN },
		{ "", 0, IMF_FORMAT_UNKNOWN },
	};
	for (size_t i = 0; i < COUNT(cases); i++)
		ck_assert_msg(imf_format_detect((const unsigned char *)cases[i].bytes, cases[i].len) ==
		                      cases[i].want,
		              "case %zu", i);
}
END_TEST

START_TEST(format_names)
{
	static const struct {
		const char *path;
		imf_format want;
	} cases[] = {
		{ "a.png", IMF_FORMAT_PNG },   { "a.PNG", IMF_FORMAT_PNG },
		{ "x/y.jpg", IMF_FORMAT_JPEG }, { "y.jpeg", IMF_FORMAT_JPEG },
		{ "a.pgm", IMF_FORMAT_PNM },   { "a.ppm", IMF_FORMAT_PNM },
		{ "a.pnm", IMF_FORMAT_PNM },   { "a.pfm", IMF_FORMAT_PFM },
		{ "a.txt", IMF_FORMAT_TEXT },  { "noext", IMF_FORMAT_UNKNOWN },
		{ "dir.png/file", IMF_FORMAT_UNKNOWN }, { "a.", IMF_FORMAT_UNKNOWN },
		{ "a.gif", IMF_FORMAT_UNKNOWN },
	};
	for (size_t i = 0; i < COUNT(cases); i++)
		ck_assert_msg(imf_format_from_path(cases[i].path) == cases[i].want, "%s",
		              cases[i].path);
	ck_assert_str_eq(imf_format_name(IMF_FORMAT_JPEG), "JPEG");
	ck_assert_int_eq(imf_format_from_name("TXT"), IMF_FORMAT_TEXT);
}
END_TEST

START_TEST(read_empty_and_unknown)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(tu_read_mem("", 0, NULL, &img, &err), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, "input is empty");
	ck_assert_int_eq(tu_read_mem("GIF89a....", 10, NULL, &img, &err), IMF_EFORMAT);
	ck_assert_str_eq(err.msg, "unknown format (not PNG, JPEG, netpbm, PFM or a text matrix)");
	ck_assert_ptr_null(img);
}
END_TEST

#define BYTES(lit) lit, sizeof lit - 1

/* A stream that yields its bytes, then fails every read without setting errno. */
typedef struct failing {
	const char *data;
	size_t len, pos;
} failing;

static ssize_t failing_read(void *cookie, char *buf, size_t n)
{
	failing *f = cookie;
	if (f->pos == f->len)
		return -1;
	if (n > f->len - f->pos)
		n = f->len - f->pos;
	memcpy(buf, f->data + f->pos, n);
	f->pos += n;
	return (ssize_t)n;
}

/*
 * A read error is reported with the errno of the read that failed, never a
 * stale one: errno is set to ERANGE beforehand (as strtof leaves it after an
 * underflow) and the failing read leaves none, so the message must say EIO.
 */
static const struct {
	const char *name;
	const char *data;
	size_t len;
	const char *want;
} read_failures[] = {
	{ "nothing", BYTES(""), "read error: Input/output error" },
	{ "unknown", BYTES("GIF89a"), "read error: Input/output error" },
	{ "PNG", BYTES("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"), "PNG: read failed: Input/output error" },
	{ "JPEG", BYTES("\xFF\xD8\xFF\xE0\0\x10JFIF"), "JPEG: read failed: Input/output error" },
	{ "PNM header", BYTES("P5\n4 4"), "PNM: read error: Input/output error" },
	{ "PNM raw", BYTES("P5\n4 4\n255\nab"), "PNM: read error: Input/output error" },
	{ "PNM plain", BYTES("P2\n2 2\n255\n1 2 "), "PNM: read error: Input/output error" },
	{ "PFM header", BYTES("Pf\n2"), "PFM: read error: Input/output error" },
	{ "PFM raster", BYTES("Pf\n2 2\n-1.0\nabcd"), "PFM: read error: Input/output error" },
	{ "text", BYTES("1e-50 2\n3 4"), "text: read error: Input/output error" },
};

START_TEST(read_error_errno)
{
	failing f = { read_failures[_i].data, read_failures[_i].len, 0 };
	cookie_io_functions_t io = { failing_read, NULL, NULL, NULL };
	FILE *fp = fopencookie(&f, "r", io);
	ck_assert_ptr_nonnull(fp);
	imf_image *img = NULL;
	imf_error err = { 0 };
	errno = ERANGE;
	imf_status st = imf_read(fp, NULL, &img, &err);
	ck_assert_msg(st == IMF_EIO, "%s: status %d (%s)", read_failures[_i].name, st, err.msg);
	ck_assert_ptr_null(img);
	ck_assert_str_eq(err.msg, read_failures[_i].want);
	fclose(fp);
}
END_TEST

/*
 * imf_write flushes and checks the stream once for every writer: a small
 * image sits in stdio's buffer until then, so /dev/full fails only there,
 * and the message still names the format.
 */
START_TEST(write_final_flush)
{
	static const struct {
		imf_format fmt;
		const char *want;
	} cases[] = {
		{ IMF_FORMAT_PNG, "PNG: write failed: " },   { IMF_FORMAT_JPEG, "JPEG: write failed: " },
		{ IMF_FORMAT_PNM, "PNM: write failed: " },   { IMF_FORMAT_PFM, "PFM: write failed: " },
		{ IMF_FORMAT_TEXT, "text: write failed: " },
	};
	static const double v[] = { 1, 2, 3, 4 };
	imf_image *img = tu_image_from(v, 2, 2);
	for (size_t i = 0; i < COUNT(cases); i++) {
		FILE *fp = fopen("/dev/full", "wb");
		if (!fp)
			break; /* no /dev/full here */
		imf_error err = { 0 };
		ck_assert_int_eq(imf_write(fp, img, cases[i].fmt, NULL, &err), IMF_EIO);
		ck_assert_msg(strncmp(err.msg, cases[i].want, strlen(cases[i].want)) == 0 &&
		              strstr(err.msg, strerror(ENOSPC)),
		              "message '%s'", err.msg);
		fclose(fp);
	}
	imf_image_free(img);
}
END_TEST

/* The mapping, from its definition: sample = clamp(round(t * maxval / 255), 0, maxval). */
static unsigned expect_sample(double t, unsigned maxval)
{
	double s = floor(t * maxval / 255.0 + 0.5);
	return s < 0 ? 0 : s > maxval ? maxval : (unsigned)s;
}

START_TEST(map_modes)
{
	static const double v[] = { -300, -128.5, -0.5, -0.49, 0, 0.5, 1.49, 127.5, 254.5, 255, 300 };
	imf_image *img = tu_image_from(v, COUNT(v), 1);
	double lo = -300, hi = 300;
	for (int mode = IMF_MAP_CLAMP; mode <= IMF_MAP_NORMALIZE; mode++) {
		for (unsigned maxval = 255; maxval <= 65535; maxval += 65280) {
			imf_mapper m;
			imf_mapper_init(&m, img, (imf_map_mode)mode, maxval);
			for (size_t i = 0; i < COUNT(v); i++) {
				double t = v[i];
				if (mode == IMF_MAP_ABS)
					t = fabs(t);
				else if (mode == IMF_MAP_OFFSET)
					t = t + 128;
				else if (mode == IMF_MAP_NORMALIZE)
					t = (t - lo) * 255.0 / (hi - lo);
				ck_assert_msg(imf_mapper_value(&m, (float)v[i]) == expect_sample(t, maxval),
				              "mode %d maxval %u value %g", mode, maxval, v[i]);
			}
		}
	}
	imf_image_free(img);
}
END_TEST

START_TEST(map_special_values)
{
	static const double v[] = { 7, 7, 7 };
	imf_image *img = tu_image_from(v, 3, 1);
	imf_mapper m;
	/* A constant image has no range to normalize: it maps to 0. */
	imf_mapper_init(&m, img, IMF_MAP_NORMALIZE, 255);
	ck_assert_uint_eq(imf_mapper_value(&m, 7), 0);
	imf_mapper_init(&m, img, IMF_MAP_CLAMP, 255);
	ck_assert_uint_eq(imf_mapper_value(&m, NAN), 0);
	ck_assert_uint_eq(imf_mapper_value(&m, INFINITY), 255);
	ck_assert_uint_eq(imf_mapper_value(&m, -INFINITY), 0);
	/* Alpha is never transformed, only scaled and clamped. */
	imf_mapper_init(&m, img, IMF_MAP_OFFSET, 65535);
	ck_assert_uint_eq(imf_mapper_alpha(&m, 255), 65535);
	ck_assert_uint_eq(imf_mapper_alpha(&m, 0), 0);
	ck_assert_uint_eq(imf_mapper_value(&m, 0), expect_sample(128, 65535));
	imf_image_free(img);
}
END_TEST

/*
 * The row loops (vectorized, with an SSE2 path for 8-bit clamp and abs) give
 * exactly imf_mapper_value / imf_mapper_alpha, value by value, for every
 * mode and depth: special values, rounding ties and their neighbours, on
 * widths that end inside and outside a vector.
 */
START_TEST(map_rows_equal_scalar)
{
	static const float special[] = { NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 0.5f, -0.5f,
		                         0.49999997f, 0.50000006f, 1.5f, 2.5f, 254.5f, 254.49998f,
		                         254.50002f, 255.0f, 255.5f, 256.0f, -1.0f, -255.5f, 1e10f,
		                         -1e10f, 3e38f, 1e-30f, 127.5f, -127.5f, 8388607.5f };
	const size_t nspecial = sizeof special / sizeof special[0];
	const imf_map_mode modes[] = { IMF_MAP_CLAMP, IMF_MAP_ABS, IMF_MAP_OFFSET,
		                       IMF_MAP_NORMALIZE };
	const size_t widths[] = { 1, 15, 16, 17, 67 };
	uint64_t seed = 12345;

	for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
		const size_t w = widths[wi];
		imf_image *img = NULL;
		imf_error err = { 0 };
		ck_assert_int_eq(imf_image_new(w, 1, 2, 1, NULL, &img, &err), IMF_OK);
		for (int c = 0; c < 2; c++)
			for (size_t x = 0; x < w; x++) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				float r = (float)((double)(seed >> 11) / 9007199254740992.0 * 600.0 - 300.0);
				/* Specials at shifting places, random values between. */
				size_t k = (x + (size_t)c * 5 + wi) % (2 * nspecial);
				imf_image_row(img, c, 0)[x] = k < nspecial ? special[k] : r;
			}
		for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
			for (unsigned maxval = 255; maxval <= 65535; maxval = maxval * 257) {
				imf_mapper m;
				unsigned char out8[2 * 67];
				uint16_t out16[2 * 67];
				imf_mapper_init(&m, img, modes[mi], maxval);
				if (maxval == 255)
					imf_mapper_row8(&m, img, 0, 2, out8);
				else
					imf_mapper_row16(&m, img, 0, 2, out16);
				for (size_t x = 0; x < w; x++)
					for (int c = 0; c < 2; c++) {
						float v = imf_image_row(img, c, 0)[x];
						unsigned want = c == 1 ? imf_mapper_alpha(&m, v)
						                       : imf_mapper_value(&m, v);
						unsigned got = maxval == 255 ? out8[2 * x + (size_t)c]
						                             : out16[2 * x + (size_t)c];
						ck_assert_msg(got == want,
						              "mode %d maxval %u width %zu x %zu plane %d: %.9g -> %u, "
						              "want %u",
						              (int)modes[mi], maxval, w, x, c, (double)v, got, want);
					}
			}
		}
		/* One plane alone: the step-1 loops (and the SSE2 path). */
		imf_image *one = NULL;
		ck_assert_int_eq(imf_image_new(w, 1, 1, 0, NULL, &one, &err), IMF_OK);
		memcpy(imf_image_row(one, 0, 0), imf_image_row(img, 0, 0), w * sizeof(float));
		for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
			imf_mapper m;
			unsigned char out8[67];
			imf_mapper_init(&m, one, modes[mi], 255);
			imf_mapper_row8(&m, one, 0, 1, out8);
			for (size_t x = 0; x < w; x++) {
				float v = imf_image_row(one, 0, 0)[x];
				ck_assert_msg(out8[x] == imf_mapper_value(&m, v),
				              "one plane, mode %d width %zu x %zu: %.9g -> %u, want %u",
				              (int)modes[mi], w, x, (double)v, out8[x],
				              imf_mapper_value(&m, v));
			}
		}
		imf_image_free(one);
		imf_image_free(img);
	}
}
END_TEST

START_TEST(map_rows_interleave)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	unsigned char out8[8];
	uint16_t out16[8];
	imf_mapper m;
	ck_assert_int_eq(imf_image_new(2, 1, 4, 1, NULL, &img, &err), IMF_OK);
	for (int c = 0; c < 4; c++) {
		imf_image_row(img, c, 0)[0] = (float)(c * 10 - 5); /* -5, 5, 15, 25 */
		imf_image_row(img, c, 0)[1] = (float)(c * 80 + 10); /* 10, 90, 170, 250 */
	}
	imf_mapper_init(&m, img, IMF_MAP_ABS, 255);
	imf_mapper_row8(&m, img, 0, 4, out8);
	/* abs on colour, plain clamp on alpha. */
	const unsigned char want8[8] = { 5, 5, 15, 25, 10, 90, 170, 250 };
	ck_assert_mem_eq(out8, want8, 8);
	imf_mapper_init(&m, img, IMF_MAP_CLAMP, 65535);
	imf_mapper_row16(&m, img, 0, 4, out16);
	const uint16_t want16[8] = { 0, 5 * 257, 15 * 257, 25 * 257, 10 * 257, 90 * 257,
		                     170 * 257, 250 * 257 };
	ck_assert_mem_eq(out16, want16, sizeof want16);
	ck_assert_int_eq(imf_color_planes(img), 3);
	imf_image_free(img);
}
END_TEST

START_TEST(output_depth_choice)
{
	static const double v[] = { 1 };
	imf_image *img = tu_image_from(v, 1, 1);
	imf_write_opts o;
	imf_write_opts_default(&o);
	ck_assert_int_eq(o.quality, 90);
	ck_assert_int_eq(o.map, IMF_MAP_CLAMP);
	imf_image_set_source(img, IMF_FORMAT_PNG, 16);
	ck_assert_int_eq(imf_output_depth(img, &o), 16);
	o.depth = 8;
	ck_assert_int_eq(imf_output_depth(img, &o), 8);
	imf_image_set_source(img, IMF_FORMAT_PNG, 8);
	o.depth = 0;
	ck_assert_int_eq(imf_output_depth(img, &o), 8);
	o.depth = 16;
	ck_assert_int_eq(imf_output_depth(img, &o), 16);
	imf_image_set_source(img, IMF_FORMAT_PFM, 32);
	o.depth = 0;
	ck_assert_int_eq(imf_output_depth(img, &o), 8);
	imf_image_free(img);
}
END_TEST

START_TEST(stats_counts)
{
	static const double v[] = { -20, -0.6, -0.4, 0, 100, 255.4, 255.6, 400 };
	imf_image *img = tu_image_from(v, COUNT(v), 1);
	imf_stats st;
	double sum = 0;
	for (size_t i = 0; i < COUNT(v); i++)
		sum += v[i];
	ck_assert_int_eq(imf_stats_compute(img, IMF_MAP_CLAMP, &st, NULL), IMF_OK);
	ck_assert_double_eq_tol(st.min, -20, 1e-6);
	ck_assert_double_eq_tol(st.max, 400, 1e-6);
	ck_assert_double_eq_tol(st.mean, sum / COUNT(v), 1e-4);
	ck_assert_uint_eq(st.count, COUNT(v));
	/* Rounded below 0: -20, -0.6; above 255: 255.6, 400. */
	ck_assert_uint_eq(st.clipped_low, 2);
	ck_assert_uint_eq(st.clipped_high, 2);
	ck_assert_int_eq(imf_stats_compute(img, IMF_MAP_ABS, &st, NULL), IMF_OK);
	ck_assert_uint_eq(st.clipped_low, 0);
	ck_assert_uint_eq(st.clipped_high, 2);
	ck_assert_int_eq(imf_stats_compute(img, IMF_MAP_OFFSET, &st, NULL), IMF_OK);
	/* v + 128 below -0.5: none; above 255.5: 255.4, 255.6 and 400 (100 + 128 = 228 is not). */
	ck_assert_uint_eq(st.clipped_low, 0);
	ck_assert_uint_eq(st.clipped_high, 3);
	ck_assert_int_eq(imf_stats_compute(img, IMF_MAP_NORMALIZE, &st, NULL), IMF_OK);
	ck_assert_uint_eq(st.clipped_low + st.clipped_high, 0);
	imf_image_row(img, 0, 0)[3] = NAN;
	ck_assert_int_eq(imf_stats_compute(img, IMF_MAP_CLAMP, &st, NULL), IMF_OK);
	ck_assert_uint_eq(st.nonfinite, 1);
	ck_assert_double_eq_tol(st.mean, (sum - 0) / (COUNT(v) - 1), 1e-4);
	imf_image_free(img);
}
END_TEST

START_TEST(map_parse_names)
{
	imf_map_mode m;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_map_parse("abs", &m, &err), IMF_OK);
	ck_assert_int_eq(m, IMF_MAP_ABS);
	ck_assert_int_eq(imf_map_parse("Normalise", &m, &err), IMF_OK);
	ck_assert_int_eq(m, IMF_MAP_NORMALIZE);
	ck_assert_int_eq(imf_map_parse("offset", &m, &err), IMF_OK);
	ck_assert_int_eq(m, IMF_MAP_OFFSET);
	ck_assert_int_eq(imf_map_parse("nope", &m, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "unknown map 'nope' (clamp, abs, offset, normalize)");
	ck_assert_str_eq(imf_map_name(IMF_MAP_CLAMP), "clamp");
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, image_layout);
	tcase_add_test(tc, alloc_aligned);
	tcase_add_test(tc, image_bad_shapes);
	tcase_add_test(tc, check_dims_messages);
	tcase_add_test(tc, message_bytes);
	tcase_add_test(tc, size_arithmetic);
	tcase_add_test(tc, luma_rec601);
	tcase_add_test(tc, detect_formats);
	tcase_add_test(tc, format_names);
	tcase_add_test(tc, read_empty_and_unknown);
	tcase_add_loop_test(tc, read_error_errno, 0, (int)COUNT(read_failures));
	tcase_add_test(tc, write_final_flush);
	tcase_add_test(tc, map_modes);
	tcase_add_test(tc, map_special_values);
	tcase_add_test(tc, map_rows_interleave);
	tcase_add_test(tc, map_rows_equal_scalar);
	tcase_add_test(tc, output_depth_choice);
	tcase_add_test(tc, stats_counts);
	tcase_add_test(tc, map_parse_names);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(core_suite)
