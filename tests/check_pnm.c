/*
 * check_pnm.c - the netpbm reader (P1-P7) and writer (P5/P6).
 *
 * Every variant is spelled out as bytes here, with the samples it holds; the
 * expected floats come from the format's definition (v * 255 / maxval, and
 * for bitmaps 1 = black), not from the code under test.  Files go through
 * imf_read, so detection by magic bytes is part of every case.
 */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BYTES(s) s, sizeof(s) - 1
#define SAMPLES(...)                      \
	(const unsigned[]){ __VA_ARGS__ }, \
	sizeof((const unsigned[]){ __VA_ARGS__ }) / sizeof(unsigned)

typedef struct read_case {
	const char *name;
	const char *data;
	size_t len;
	size_t w, h;
	int channels, alpha, depth;
	unsigned maxval;
	int bitmap;              /* P1/P4: sample 1 is black */
	const unsigned *samples; /* interleaved, in file order (top row first) */
	size_t nsamples;
} read_case;

static const read_case read_cases[] = {
	{ "P1 plain", BYTES("P1\n3 2\n1 0 1\n0 1 0\n"), 3, 2, 1, 0, 8, 1, 1,
	  SAMPLES(1, 0, 1, 0, 1, 0) },
	{ "P1 digits not separated, comment in raster", BYTES("P1\n3 2\n101#x\n010"), 3, 2, 1, 0, 8,
	  1, 1, SAMPLES(1, 0, 1, 0, 1, 0) },
	{ "P1 comments in every header gap", BYTES("P1#a\n#b\n3#c\n #d\n2#e\n110 001"), 3, 2, 1, 0,
	  8, 1, 1, SAMPLES(1, 1, 0, 0, 0, 1) },
	{ "P2 maxval 15", BYTES("P2\n2 2\n15\n0 15\n7 10\n"), 2, 2, 1, 0, 8, 15, 0,
	  SAMPLES(0, 15, 7, 10) },
	{ "P2 maxval 255 comments everywhere",
	  BYTES("P2 #a\n# b\n2#c\n#d\n1 #e\n255#f\n#g\n12 #h\n#i\n250"), 2, 1, 1, 0, 8, 255, 0,
	  SAMPLES(12, 250) },
	{ "P2 maxval 1000", BYTES("P2\n3 1\n1000\n0 999 1000\n"), 3, 1, 1, 0, 16, 1000, 0,
	  SAMPLES(0, 999, 1000) },
	{ "P2 maxval 65535", BYTES("P2\n4 1\n65535\n0 257 65534 65535"), 4, 1, 1, 0, 16, 65535, 0,
	  SAMPLES(0, 257, 65534, 65535) },
	{ "P2 tabs, CRLF, leading zeros", BYTES("P2\r\n2\t1\r\n255\r\n007\t\t0255\r\n"), 2, 1, 1, 0,
	  8, 255, 0, SAMPLES(7, 255) },
	{ "P3 maxval 255", BYTES("P3\n2 1\n255\n255 0 0  0 128 255\n"), 2, 1, 3, 0, 8, 255, 0,
	  SAMPLES(255, 0, 0, 0, 128, 255) },
	{ "P3 maxval 1", BYTES("P3 1 2 1 1 0 1 0 1 0"), 1, 2, 3, 0, 8, 1, 0,
	  SAMPLES(1, 0, 1, 0, 1, 0) },
	{ "P3 maxval 65535", BYTES("P3\n1 1\n65535\n1 30000 65535\n"), 1, 1, 3, 0, 16, 65535, 0,
	  SAMPLES(1, 30000, 65535) },
	/* Width 10: two bytes a row, the last 6 bits padding (set, to show they are ignored). */
	{ "P4 width 10", BYTES("P4\n10 2\n" "\xAA\xBF" "\x66\x7F"), 10, 2, 1, 0, 8, 1, 1,
	  SAMPLES(1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1) },
	{ "P4 comments in header, comment ends it", BYTES("P4#a\n3 #b\n#c\n1#d\n" "\xA0"), 3, 1, 1,
	  0, 8, 1, 1, SAMPLES(1, 0, 1) },
	{ "P5 maxval 255", BYTES("P5\n3 1\n255\n" "\x00\x80\xFF"), 3, 1, 1, 0, 8, 255, 0,
	  SAMPLES(0, 128, 255) },
	{ "P5 maxval 15", BYTES("P5\n4 1\n15\n" "\x00\x01\x0E\x0F"), 4, 1, 1, 0, 8, 15, 0,
	  SAMPLES(0, 1, 14, 15) },
	{ "P5 maxval 1", BYTES("P5 2 1 1\n" "\x01\x00"), 2, 1, 1, 0, 8, 1, 0, SAMPLES(1, 0) },
	{ "P5 maxval 1000", BYTES("P5\n3 1\n1000\n" "\x03\xE8" "\x00\x01" "\x01\xF4"), 3, 1, 1, 0,
	  16, 1000, 0, SAMPLES(1000, 1, 500) },
	{ "P5 maxval 65535", BYTES("P5\n2 2\n65535\n" "\x00\x00" "\x01\x01" "\xFF\xFF" "\x12\x34"),
	  2, 2, 1, 0, 16, 65535, 0, SAMPLES(0, 257, 65535, 0x1234) },
	{ "P5 comments everywhere, comment ends maxval",
	  BYTES("P5#a\n#b\n2 #c\n1#d\n255#e\n" "\x10\x20"), 2, 1, 1, 0, 8, 255, 0,
	  SAMPLES(0x10, 0x20) },
	/* After maxval exactly one white-space byte: the second '\n' is a sample. */
	{ "P5 one white-space byte after maxval", BYTES("P5\n2 1\n255\n\n" "\x07"), 2, 1, 1, 0, 8,
	  255, 0, SAMPLES(10, 7) },
	{ "P5 first image of several", BYTES("P5 1 1 255\n" "\x05" "P5 1 1 255\n" "\x06"), 1, 1, 1,
	  0, 8, 255, 0, SAMPLES(5) },
	{ "P6 maxval 255", BYTES("P6\n2 1\n255\n" "\x01\x02\x03" "\xFD\xFE\xFF"), 2, 1, 3, 0, 8,
	  255, 0, SAMPLES(1, 2, 3, 253, 254, 255) },
	{ "P6 maxval 65535",
	  BYTES("P6\n1 1\n65535\n" "\x00\x01" "\x80\x00" "\xFF\xFE"), 1, 1, 3, 0, 16, 65535, 0,
	  SAMPLES(1, 0x8000, 0xFFFE) },
	{ "P7 GRAYSCALE",
	  BYTES("P7\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n"
	        "\x09\xF0"),
	  2, 1, 1, 0, 8, 255, 0, SAMPLES(9, 240) },
	{ "P7 GRAYSCALE_ALPHA",
	  BYTES("P7\nWIDTH 1\nHEIGHT 2\nDEPTH 2\nMAXVAL 15\nTUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n"
	        "\x03\x0F" "\x0C\x00"),
	  1, 2, 2, 1, 8, 15, 0, SAMPLES(3, 15, 12, 0) },
	{ "P7 RGB with comments",
	  BYTES("P7\n# made by hand\nWIDTH 1 # one\n#\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\n"
	        "TUPLTYPE RGB\n# last\nENDHDR\n" "\x0A\x14\x1E"),
	  1, 1, 3, 0, 8, 255, 0, SAMPLES(10, 20, 30) },
	{ "P7 RGB_ALPHA maxval 65535",
	  BYTES("P7\nWIDTH 1\nHEIGHT 1\nDEPTH 4\nMAXVAL 65535\nTUPLTYPE RGB_ALPHA\nENDHDR\n"
	        "\x00\x01" "\x01\x00" "\xAB\xCD" "\xFF\xFF"),
	  1, 1, 4, 1, 16, 65535, 0, SAMPLES(1, 256, 0xABCD, 65535) },
	/* PAM's BLACKANDWHITE is 0 = black, 1 = white: not inverted like PBM. */
	{ "P7 BLACKANDWHITE",
	  BYTES("P7\nWIDTH 3\nHEIGHT 1\nDEPTH 1\nMAXVAL 1\nTUPLTYPE BLACKANDWHITE\nENDHDR\n"
	        "\x00\x01\x00"),
	  3, 1, 1, 0, 8, 1, 0, SAMPLES(0, 1, 0) },
	{ "P7 BLACKANDWHITE_ALPHA",
	  BYTES("P7\nWIDTH 2\nHEIGHT 1\nDEPTH 2\nMAXVAL 1\nTUPLTYPE BLACKANDWHITE_ALPHA\nENDHDR\n"
	        "\x01\x00" "\x00\x01"),
	  2, 1, 2, 1, 8, 1, 0, SAMPLES(1, 0, 0, 1) },
	{ "P7 no TUPLTYPE, depth 3, keywords in any order",
	  BYTES("P7\nMAXVAL 1000\nDEPTH 3\nHEIGHT 1\nWIDTH 1\nENDHDR\n" "\x03\xE8" "\x00\x00"
	        "\x01\x2C"),
	  1, 1, 3, 0, 16, 1000, 0, SAMPLES(1000, 0, 300) },
};

static double expected_value(const read_case *tc, unsigned s)
{
	if (tc->bitmap)
		return s ? 0.0 : 255.0;
	return (double)s * 255.0 / tc->maxval;
}

START_TEST(test_read_variants)
{
	const read_case *tc = &read_cases[_i];
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_uint_eq(tc->nsamples, tc->w * tc->h * (size_t)tc->channels);
	ck_assert_msg(tu_read_mem(tc->data, tc->len, NULL, &img, &err) == IMF_OK, "%s: %s", tc->name,
	              err.msg);
	ck_assert_uint_eq(imf_image_width(img), tc->w);
	ck_assert_uint_eq(imf_image_height(img), tc->h);
	ck_assert_int_eq(imf_image_channels(img), tc->channels);
	ck_assert_int_eq(imf_image_has_alpha(img), tc->alpha);
	ck_assert_int_eq(imf_image_source_format(img), IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_image_source_depth(img), tc->depth);
	for (size_t y = 0; y < tc->h; y++) {
		for (size_t x = 0; x < tc->w; x++) {
			for (int c = 0; c < tc->channels; c++) {
				unsigned s = tc->samples[(y * tc->w + x) * (size_t)tc->channels + (size_t)c];
				float want = (float)expected_value(tc, s);
				float got = imf_image_row(img, c, y)[x];
				ck_assert_msg(got == want, "%s: (%zu,%zu) plane %d: got %.9g, want %.9g",
				              tc->name, x, y, c, (double)got, (double)want);
				/* 16-bit samples are v / 257: nothing lost. */
				if (tc->maxval == 65535)
					ck_assert(got == (float)(s / 257.0));
			}
		}
	}
	imf_image_free(img);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */

typedef struct error_case {
	const char *name;
	const char *data;
	size_t len;
	imf_status status;
	const char *key; /* a phrase the message must hold */
} error_case;

#define PAM_HEAD(rest) "P7\nWIDTH 1\nHEIGHT 1\n" rest

static const error_case error_cases[] = {
	{ "magic only", BYTES("P5"), IMF_ECORRUPT, "truncated header" },
	{ "truncated after width", BYTES("P5\n3"), IMF_ECORRUPT, "truncated header" },
	{ "truncated before maxval", BYTES("P5\n3 2\n"), IMF_ECORRUPT, "truncated header" },
	{ "truncated in comment", BYTES("P2\n3 2 # no end"), IMF_ECORRUPT, "truncated header" },
	{ "PAM truncated header", BYTES(PAM_HEAD("DEPTH 1\n")), IMF_ECORRUPT, "truncated header" },
	{ "P5 no pixel data", BYTES("P5\n3 2\n255\n"), IMF_ECORRUPT, "truncated pixel data" },
	{ "P5 missing last byte", BYTES("P5\n3 2\n255\n" "\x01\x02\x03\x04\x05"), IMF_ECORRUPT,
	  "truncated pixel data" },
	{ "P5 missing second row", BYTES("P5\n3 2\n255\n" "\x01\x02\x03"), IMF_ECORRUPT,
	  "truncated pixel data" },
	{ "P5 16-bit half a sample", BYTES("P5\n2 1\n65535\n" "\x01\x02\x03"), IMF_ECORRUPT,
	  "truncated pixel data" },
	{ "P6 missing a channel", BYTES("P6\n1 1\n255\n" "\x01\x02"), IMF_ECORRUPT,
	  "truncated pixel data" },
	{ "P4 missing a row", BYTES("P4\n10 2\n" "\xAA\xBF"), IMF_ECORRUPT, "truncated pixel data" },
	{ "P1 short", BYTES("P1\n3 2\n1 0 1\n0 1"), IMF_ECORRUPT, "truncated pixel data" },
	{ "P2 short", BYTES("P2\n2 2\n255\n1 2 3\n"), IMF_ECORRUPT, "truncated pixel data" },
	{ "P3 short", BYTES("P3\n1 1\n255\n1 2"), IMF_ECORRUPT, "truncated pixel data" },
	{ "P7 short", BYTES(PAM_HEAD("DEPTH 3\nMAXVAL 255\nENDHDR\n" "\x01\x02")), IMF_ECORRUPT,
	  "truncated pixel data" },
	{ "maxval 0", BYTES("P2\n1 1\n0\n0\n"), IMF_ECORRUPT, "maxval 0 is out of range 1..65535" },
	{ "maxval 70000", BYTES("P5\n1 1\n70000\n" "\x00\x00"), IMF_ECORRUPT,
	  "maxval 70000 is out of range 1..65535" },
	{ "PAM maxval 0", BYTES(PAM_HEAD("DEPTH 1\nMAXVAL 0\nENDHDR\n" "\x00")), IMF_ECORRUPT,
	  "maxval 0 is out of range" },
	{ "P2 sample over maxval", BYTES("P2\n2 1\n255\n300 1\n"), IMF_ECORRUPT,
	  "sample 300 exceeds maxval 255" },
	{ "P3 sample over maxval 15", BYTES("P3\n1 1\n15\n1 16 2\n"), IMF_ECORRUPT,
	  "sample 16 exceeds maxval 15" },
	{ "P2 huge sample", BYTES("P2\n1 1\n255\n99999999999999999999\n"), IMF_ECORRUPT,
	  "exceeds maxval 255" },
	{ "P5 sample over maxval 15", BYTES("P5\n2 1\n15\n" "\x0F\x10"), IMF_ECORRUPT,
	  "sample 16 exceeds maxval 15" },
	{ "P5 16-bit sample over maxval 1000", BYTES("P5\n1 1\n1000\n" "\x03\xE9"), IMF_ECORRUPT,
	  "sample 1001 exceeds maxval 1000" },
	{ "P1 bad digit", BYTES("P1\n2 1\n12\n"), IMF_ECORRUPT, "'2'" },
	{ "P2 letter in data", BYTES("P2\n2 1\n255\n1 x\n"), IMF_ECORRUPT, "'x'" },
	{ "zero width", BYTES("P5\n0 3\n255\n"), IMF_ECORRUPT, "width is 0" },
	{ "zero height", BYTES("P1\n3 0\n"), IMF_ECORRUPT, "height is 0" },
	{ "PAM zero width", BYTES("P7\nWIDTH 0\nHEIGHT 1\nDEPTH 1\nMAXVAL 1\nENDHDR\n"),
	  IMF_ECORRUPT, "width is 0" },
	{ "100000x100000", BYTES("P5\n100000 100000\n255\n"), IMF_ELIMIT, "--max-pixels" },
	{ "side over the limit", BYTES("P4\n2000000 1\n"), IMF_ELIMIT, "--max-side" },
	{ "number too large", BYTES("P5\n4294967297 1\n255\n"), IMF_ECORRUPT, "too large" },
	{ "width not a number", BYTES("P5\nabc 1\n255\n"), IMF_ECORRUPT, "bad header" },
	{ "negative width", BYTES("P2\n-1 1\n255\n0\n"), IMF_ECORRUPT, "bad header" },
	{ "token too long", BYTES("P5\n000000000000000000000000000000000001 1\n255\n" "\x00"),
	  IMF_ECORRUPT, "longer than 32" },
	{ "binary byte in header", BYTES("P5\n3 1\n25\x1b[31m5\n" "\x00\x00\x00"), IMF_ECORRUPT,
	  "unexpected byte 0x1b" },
	{ "magic glued to width", BYTES("P53 1\n255\n" "\x00"), IMF_ECORRUPT, "bad header" },
	{ "PAM depth mismatch",
	  BYTES(PAM_HEAD("DEPTH 3\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n" "\x01\x02\x03")),
	  IMF_ECORRUPT, "depth 3 does not match tuple type GRAYSCALE" },
	{ "PAM alpha depth mismatch",
	  BYTES(PAM_HEAD("DEPTH 3\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" "\x01\x02\x03")),
	  IMF_ECORRUPT, "does not match" },
	{ "PAM unknown tuple type",
	  BYTES(PAM_HEAD("DEPTH 4\nMAXVAL 255\nTUPLTYPE CMYK\nENDHDR\n" "\x01\x02\x03\x04")),
	  IMF_EUNSUPPORTED, "CMYK" },
	{ "PAM depth 5 without a tuple type",
	  BYTES(PAM_HEAD("DEPTH 5\nMAXVAL 255\nENDHDR\n" "\x01\x02\x03\x04\x05")),
	  IMF_EUNSUPPORTED, "depth 5" },
	{ "PAM BLACKANDWHITE maxval 255",
	  BYTES(PAM_HEAD("DEPTH 1\nMAXVAL 255\nTUPLTYPE BLACKANDWHITE\nENDHDR\n" "\x01")),
	  IMF_ECORRUPT, "maxval 1" },
	{ "PAM without MAXVAL", BYTES(PAM_HEAD("DEPTH 1\nENDHDR\n" "\x01")), IMF_ECORRUPT,
	  "MAXVAL" },
	{ "PAM unknown keyword", BYTES(PAM_HEAD("DEPTH 1\nCOLOUR 2\nMAXVAL 255\nENDHDR\n" "\x01")),
	  IMF_ECORRUPT, "COLOUR" },
};

static void check_error(const char *name, imf_status got, imf_status want, const imf_error *err,
                        const char *key)
{
	tu_expect_message(name, got, want, err, "PNM: ", key);
}

START_TEST(test_read_errors)
{
	const error_case *tc = &error_cases[_i];
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(tc->data, tc->len, NULL, &img, &err);

	check_error(tc->name, st, tc->status, &err, tc->key);
	ck_assert_ptr_null(img);
}
END_TEST

/* Comments past the header cap: a limit, not an endless read. */
START_TEST(test_comment_flood)
{
	const char *line = "# a comment that is repeated far past any sane header size\n";
	size_t n = strlen(line), reps = 70000 / n + 1, len = 0;
	char *buf = malloc(reps * n + 64);
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_ptr_nonnull(buf);
	len += (size_t)sprintf(buf, "P5\n");
	for (size_t i = 0; i < reps; i++, len += n)
		memcpy(buf + len, line, n);
	len += (size_t)sprintf(buf + len, "1 1\n255\n\x07");
	check_error("comment flood", tu_read_mem(buf, len, NULL, &img, &err), IMF_ELIMIT, &err,
	            "header");
	ck_assert_ptr_null(img);

	/* The same comments a few at a time are fine. */
	len = (size_t)sprintf(buf, "P5\n%s%s1 %s1\n255\n\x07", line, line, line);
	ck_assert_int_eq(tu_read_mem(buf, len, NULL, &img, &err), IMF_OK);
	ck_assert(imf_image_row(img, 0, 0)[0] == 7.0f);
	imf_image_free(img);
	free(buf);
}
END_TEST

/* The caller's limits apply, checked from the header alone. */
START_TEST(test_user_limits)
{
	static const char data[] = "P5\n3 2\n255\n" "\x01\x02\x03\x04\x05\x06";
	imf_read_opts opts;
	imf_image *img = NULL;
	imf_error err = { 0 };

	imf_read_opts_default(&opts);
	opts.limits.max_side = 2;
	check_error("max_side", tu_read_mem(data, sizeof data - 1, &opts, &img, &err), IMF_ELIMIT,
	            &err, "--max-side");
	imf_read_opts_default(&opts);
	opts.limits.max_pixels = 5;
	check_error("max_pixels", tu_read_mem(data, sizeof data - 1, &opts, &img, &err), IMF_ELIMIT,
	            &err, "--max-pixels");
	opts.limits.max_pixels = 6;
	ck_assert_int_eq(tu_read_mem(data, sizeof data - 1, &opts, &img, &err), IMF_OK);
	imf_image_free(img);
}
END_TEST

/* A pipe cannot seek: the reader must take the detector's peeked bytes from imf_src. */
START_TEST(test_read_from_pipe)
{
	static const char data[] = "P5\n2 2\n255\n" "\x01\x02\x03\x04";
	int fds[2];
	FILE *fp;
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], data, sizeof data - 1), (ssize_t)(sizeof data - 1));
	close(fds[1]);
	fp = fdopen(fds[0], "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_msg(imf_read(fp, NULL, &img, &err) == IMF_OK, "%s", err.msg);
	fclose(fp);
	for (int i = 0; i < 4; i++)
		ck_assert(imf_image_row(img, 0, (size_t)i / 2)[i % 2] == (float)(i + 1));
	imf_image_free(img);
}
END_TEST

/* Big enough that the raw body spans several read chunks, with odd row sizes. */
START_TEST(test_read_large_raw)
{
	const size_t w = 301, h = 517;
	size_t head, len;
	unsigned char *buf = malloc(w * h * 3 * 2 + 64);
	unsigned long long seed = 42;
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_ptr_nonnull(buf);
	head = (size_t)sprintf((char *)buf, "P6\n%zu %zu\n65535\n", w, h);
	len = head + w * h * 6;
	for (size_t i = head; i < len; i++)
		buf[i] = (unsigned char)(tu_rand(&seed) * 256);
	ck_assert_msg(tu_read_mem(buf, len, NULL, &img, &err) == IMF_OK, "%s", err.msg);
	for (size_t y = 0; y < h; y++) {
		for (size_t x = 0; x < w; x++) {
			for (int c = 0; c < 3; c++) {
				const unsigned char *p = buf + head + ((y * w + x) * 3 + (size_t)c) * 2;
				unsigned v = (unsigned)p[0] << 8 | p[1];
				ck_assert(imf_image_row(img, c, y)[x] == (float)(v / 257.0));
			}
		}
	}
	imf_image_free(img);
	free(buf);
}
END_TEST

/* Plain data is not header: far more of it than the header cap is fine. */
START_TEST(test_read_large_plain)
{
	const size_t w = 300, h = 70;
	char *buf = malloc(w * h * 3 * 7 + 64), *p = buf;
	unsigned long long seed = 5;
	unsigned *samples = malloc(w * h * 3 * sizeof *samples);
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(samples);
	p += sprintf(p, "P3\n%zu %zu\n60000\n", w, h);
	for (size_t i = 0; i < w * h * 3; i++) {
		samples[i] = (unsigned)(tu_rand(&seed) * 60001);
		p += sprintf(p, "%u%s", samples[i], i % 17 == 16 ? "\n" : " ");
	}
	ck_assert_uint_gt((size_t)(p - buf), 65536 * 2);
	ck_assert_msg(tu_read_mem(buf, (size_t)(p - buf), NULL, &img, &err) == IMF_OK, "%s",
	              err.msg);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			for (int c = 0; c < 3; c++)
				ck_assert(imf_image_row(img, c, y)[x] ==
				          (float)(samples[(y * w + x) * 3 + (size_t)c] * 255.0 / 60000));
	imf_image_free(img);
	free(samples);
	free(buf);
}
END_TEST

/* ---- writing and round trips ------------------------------------------------ */

static imf_image *new_image(size_t w, size_t h, int ch, int alpha)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_new(w, h, ch, alpha, NULL, &img, &err), IMF_OK);
	return img;
}

/* Random integer samples 0..255 in every plane. */
static void fill_bytes(imf_image *img, unsigned long long seed)
{
	for (int c = 0; c < imf_image_channels(img); c++)
		for (size_t y = 0; y < imf_image_height(img); y++)
			for (size_t x = 0; x < imf_image_width(img); x++)
				imf_image_row(img, c, y)[x] = (float)(int)(tu_rand(&seed) * 256);
}

static size_t expect_header(const unsigned char *out, size_t len, const char *want)
{
	size_t n = strlen(want);
	ck_assert_uint_ge(len, n);
	ck_assert_msg(memcmp(out, want, n) == 0, "header '%.*s', want '%s'", (int)n, out, want);
	return n;
}

START_TEST(test_roundtrip_8bit)
{
	static const struct {
		int ch, alpha, out_ch;
		const char *magic;
	} cases[] = {
		{ 1, 0, 1, "P5" }, { 2, 1, 1, "P5" }, { 3, 0, 3, "P6" }, { 4, 1, 3, "P6" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const size_t w = 13, h = 7;
		imf_image *img = new_image(w, h, cases[k].ch, cases[k].alpha), *back = NULL;
		imf_error err = { 0 };
		char want[64];
		size_t len, head;
		unsigned char *out;

		fill_bytes(img, k + 1);
		out = tu_write_mem(img, IMF_FORMAT_PNM, NULL, &len);
		snprintf(want, sizeof want, "%s\n%zu %zu\n255\n", cases[k].magic, w, h);
		head = expect_header(out, len, want);
		ck_assert_uint_eq(len, head + w * h * (size_t)cases[k].out_ch);
		/* The bytes are the samples, interleaved; alpha is dropped. */
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				for (int c = 0; c < cases[k].out_ch; c++)
					ck_assert_uint_eq(out[head + (y * w + x) * (size_t)cases[k].out_ch +
					                      (size_t)c],
					                  (unsigned)imf_image_row(img, c, y)[x]);

		ck_assert_int_eq(tu_read_mem(out, len, NULL, &back, &err), IMF_OK);
		ck_assert_int_eq(imf_image_channels(back), cases[k].out_ch);
		ck_assert_int_eq(imf_image_source_depth(back), 8);
		for (int c = 0; c < cases[k].out_ch; c++)
			for (size_t y = 0; y < h; y++)
				ck_assert_mem_eq(imf_image_row(back, c, y), imf_image_row(img, c, y),
				                 w * sizeof(float));
		free(out);
		imf_image_free(back);
		imf_image_free(img);
	}
}
END_TEST

/* A 16-bit file read and written again is the same file, byte for byte. */
START_TEST(test_roundtrip_16bit)
{
	for (int ch = 1; ch <= 3; ch += 2) {
		const size_t w = 11, h = 5;
		unsigned char in[11 * 5 * 3 * 2 + 64];
		unsigned long long seed = 7 + (unsigned)ch;
		size_t head, len, outlen;
		imf_image *img = NULL;
		imf_error err = { 0 };
		unsigned char *out;

		head = (size_t)sprintf((char *)in, "P%c\n%zu %zu\n65535\n", ch == 1 ? '5' : '6', w, h);
		len = head + w * h * (size_t)ch * 2;
		for (size_t i = head; i < len; i++)
			in[i] = (unsigned char)(tu_rand(&seed) * 256);
		in[head] = 0xFF; /* the extremes too */
		in[head + 1] = 0xFF;
		in[head + 2] = 0;
		in[head + 3] = 0;

		ck_assert_msg(tu_read_mem(in, len, NULL, &img, &err) == IMF_OK, "%s", err.msg);
		ck_assert_int_eq(imf_image_source_depth(img), 16);
		out = tu_write_mem(img, IMF_FORMAT_PNM, NULL, &outlen);
		ck_assert_uint_eq(outlen, len);
		ck_assert_mem_eq(out, in, len);
		free(out);
		imf_image_free(img);
	}
}
END_TEST

/* Forced 16-bit output of 0..255 values: v * 65535 / 255 = v * 257, big-endian. */
START_TEST(test_write_depth16)
{
	static const double v[] = { 0, 1, 128, 254.5, 255, 300, -4 };
	static const unsigned want[] = { 0, 257, 128 * 257, 65407, 65535, 65535, 0 };
	static const unsigned want8[] = { 0, 1, 128, 255, 255, 255, 0 };
	imf_image *img = tu_image_from(v, 7, 1);
	imf_write_opts opts;
	size_t len, head;
	unsigned char *out;

	imf_write_opts_default(&opts);
	opts.depth = 16;
	out = tu_write_mem(img, IMF_FORMAT_PNM, &opts, &len);
	head = expect_header(out, len, "P5\n7 1\n65535\n");
	ck_assert_uint_eq(len, head + 14);
	for (size_t i = 0; i < 7; i++)
		ck_assert_uint_eq((unsigned)out[head + 2 * i] << 8 | out[head + 2 * i + 1], want[i]);
	free(out);

	/* And 8-bit output of the same values: rounded and clamped. */
	opts.depth = 8;
	out = tu_write_mem(img, IMF_FORMAT_PNM, &opts, &len);
	head = expect_header(out, len, "P5\n7 1\n255\n");
	ck_assert_uint_eq(len, head + 7);
	for (size_t i = 0; i < 7; i++)
		ck_assert_uint_eq(out[head + i], want8[i]);
	free(out);
	imf_image_free(img);
}
END_TEST

/* A write to a full device is reported, not lost. */
START_TEST(test_write_failure)
{
	FILE *fp = fopen("/dev/full", "wb");
	static const double v[] = { 1, 2, 3, 4 };
	imf_image *img = tu_image_from(v, 2, 2);
	imf_error err = { 0 };

	if (!fp) {
		imf_image_free(img);
		return; /* no /dev/full here */
	}
	check_error("write to /dev/full", imf_write(fp, img, IMF_FORMAT_PNM, NULL, &err), IMF_EIO,
	            &err, "write failed");
	fclose(fp);
	imf_image_free(img);
}
END_TEST

static Suite *pnm_suite(void)
{
	Suite *s = suite_create("pnm");
	TCase *tc = tcase_create("read");
	tcase_add_loop_test(tc, test_read_variants, 0,
	                    (int)(sizeof read_cases / sizeof read_cases[0]));
	tcase_add_loop_test(tc, test_read_errors, 0,
	                    (int)(sizeof error_cases / sizeof error_cases[0]));
	tcase_add_test(tc, test_comment_flood);
	tcase_add_test(tc, test_user_limits);
	tcase_add_test(tc, test_read_from_pipe);
	tcase_add_test(tc, test_read_large_raw);
	tcase_add_test(tc, test_read_large_plain);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_test(tc, test_roundtrip_8bit);
	tcase_add_test(tc, test_roundtrip_16bit);
	tcase_add_test(tc, test_write_depth16);
	tcase_add_test(tc, test_write_failure);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(pnm_suite)
