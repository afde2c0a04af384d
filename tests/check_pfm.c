/*
 * check_pfm.c - the PFM reader and writer.
 *
 * Files are built here byte by byte in either byte order (independent of the
 * host's), with rows bottom-to-top as the format stores them, and images
 * are checked against the values that went in.
 */
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Append v as 4 bytes in the given order. */
static unsigned char *put_f32(unsigned char *p, float v, int little)
{
	uint32_t b;
	memcpy(&b, &v, sizeof b);
	for (int i = 0; i < 4; i++)
		p[little ? i : 3 - i] = (unsigned char)(b >> (8 * i));
	return p + 4;
}

static float get_f32_le(const unsigned char *p)
{
	uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	             (uint32_t)p[3] << 24;
	float v;
	memcpy(&v, &b, sizeof v);
	return v;
}

/* A value unlike any other at (x, y, c), so flips and swaps show. */
static float value_at(size_t x, size_t y, int c)
{
	return (float)(100.0 * c + 10.0 * y + x + 0.25) * (y % 2 ? -1.0f : 1.0f);
}

/*
 * A PFM file of w x h with nch channels holding value_at, header as given,
 * file rows from the bottom image row up.  Returns the length.
 */
static size_t build_pfm(unsigned char *buf, const char *header, size_t w, size_t h, int nch,
                        int little)
{
	size_t n = strlen(header);
	unsigned char *p = buf + n;
	memcpy(buf, header, n);
	for (size_t r = 0; r < h; r++)
		for (size_t x = 0; x < w; x++)
			for (int c = 0; c < nch; c++)
				p = put_f32(p, value_at(x, h - 1 - r, c), little);
	return (size_t)(p - buf);
}

static void check_values(imf_image *img, size_t w, size_t h, int nch)
{
	ck_assert_uint_eq(imf_image_width(img), w);
	ck_assert_uint_eq(imf_image_height(img), h);
	ck_assert_int_eq(imf_image_channels(img), nch);
	ck_assert_int_eq(imf_image_has_alpha(img), 0);
	ck_assert_int_eq(imf_image_source_format(img), IMF_FORMAT_PFM);
	ck_assert_int_eq(imf_image_source_depth(img), 32);
	for (int c = 0; c < nch; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				ck_assert_msg(imf_image_row(img, c, y)[x] == value_at(x, y, c),
				              "(%zu,%zu) plane %d: %g, want %g", x, y, c,
				              (double)imf_image_row(img, c, y)[x], (double)value_at(x, y, c));
}

static const struct {
	const char *name;
	const char *header;
	size_t w, h;
	int nch, little;
} read_cases[] = {
	{ "Pf little-endian", "Pf\n3 2\n-1.0\n", 3, 2, 1, 1 },
	{ "Pf big-endian", "Pf\n3 2\n1.0\n", 3, 2, 1, 0 },
	{ "PF little-endian", "PF\n4 3\n-1\n", 4, 3, 3, 1 },
	{ "PF big-endian", "PF\n2 5\n1.000000\n", 2, 5, 3, 0 },
	{ "scale magnitude ignored", "Pf\n2 3\n-255.5\n", 2, 3, 1, 1 },
	{ "one line header", "PF 3 1 0.0039\n", 3, 1, 3, 0 },
	{ "extra white space", "Pf \r\n 2\t\t2 \n -1e0\t", 2, 2, 1, 1 },
};

START_TEST(test_read)
{
	unsigned char buf[1024];
	size_t len = build_pfm(buf, read_cases[_i].header, read_cases[_i].w, read_cases[_i].h,
	                       read_cases[_i].nch, read_cases[_i].little);
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_msg(tu_read_mem(buf, len, NULL, &img, &err) == IMF_OK, "%s: %s",
	              read_cases[_i].name, err.msg);
	check_values(img, read_cases[_i].w, read_cases[_i].h, read_cases[_i].nch);
	imf_image_free(img);
}
END_TEST

/* Exactly one white-space byte follows the scale: data may start with one. */
START_TEST(test_data_starting_with_space)
{
	static const unsigned char data[] = "Pf\n1 1\n-1.0\n" "\x20\x00\x80\x3F";
	uint32_t bits = 0x3F800020u;
	float want;
	imf_image *img = NULL;
	imf_error err = { 0 };

	memcpy(&want, &bits, sizeof want);
	ck_assert_msg(tu_read_mem(data, sizeof data - 1, NULL, &img, &err) == IMF_OK, "%s", err.msg);
	ck_assert(imf_image_row(img, 0, 0)[0] == want);
	imf_image_free(img);
}
END_TEST

/* Big enough for several read chunks. */
START_TEST(test_read_large)
{
	const size_t w = 123, h = 411;
	unsigned char *buf = malloc(w * h * 12 + 64);
	size_t len;
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_ptr_nonnull(buf);
	len = build_pfm(buf, "PF\n123 411\n1\n", w, h, 3, 0);
	ck_assert_msg(tu_read_mem(buf, len, NULL, &img, &err) == IMF_OK, "%s", err.msg);
	check_values(img, w, h, 3);
	imf_image_free(img);
	free(buf);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

static void check_error(const char *name, imf_status got, imf_status want, const imf_error *err,
                        const char *key)
{
	tu_expect_message(name, got, want, err, "PFM: ", key);
}

START_TEST(test_nonfinite_refused)
{
	static const float bad[] = { NAN, INFINITY, -INFINITY };
	for (int little = 0; little <= 1; little++) {
		for (size_t k = 0; k < 3; k++) {
			unsigned char buf[256];
			size_t len = build_pfm(buf, little ? "Pf\n3 2\n-1\n" : "Pf\n3 2\n1\n", 3, 2, 1,
			                       little);
			imf_image *img = NULL;
			imf_error err = { 0 };
			/* Image (2, 0): the top row, which is the file's last row. */
			put_f32(buf + len - 4, bad[k], little);
			check_error("non-finite", tu_read_mem(buf, len, NULL, &img, &err), IMF_ECORRUPT,
			            &err, "non-finite value at 2,0");
			ck_assert_ptr_null(img);
		}
	}
}
END_TEST

static const struct {
	const char *name;
	const char *header;
	size_t drop; /* bytes cut from the end of the data */
	imf_status status;
	const char *key;
} error_cases[] = {
	{ "no data", "Pf\n2 2\n-1\n", 16, IMF_ECORRUPT, "truncated" },
	{ "half a row", "Pf\n2 2\n-1\n", 8, IMF_ECORRUPT, "truncated" },
	{ "one byte short", "PF\n2 2\n-1\n", 1, IMF_ECORRUPT, "truncated" },
	{ "zero scale", "Pf\n2 2\n0.0\n", 0, IMF_ECORRUPT, "scale" },
	{ "negative zero scale", "Pf\n2 2\n-0\n", 0, IMF_ECORRUPT, "scale" },
	{ "nan scale", "Pf\n2 2\nnan\n", 0, IMF_ECORRUPT, "scale" },
	{ "infinite scale", "Pf\n2 2\n1e999\n", 0, IMF_ECORRUPT, "scale" },
	{ "scale not a number", "Pf\n2 2\n1.0x\n", 0, IMF_ECORRUPT, "scale" },
	{ "zero width", "Pf\n0 2\n-1\n", 0, IMF_ECORRUPT, "width is 0" },
	{ "zero height", "Pf\n2 0\n-1\n", 0, IMF_ECORRUPT, "height is 0" },
	{ "width not a number", "Pf\n2x 2\n-1\n", 0, IMF_ECORRUPT, "bad header" },
	{ "width too large", "Pf\n99999999999 2\n-1\n", 0, IMF_ECORRUPT, "too large" },
	{ "not Pf or PF", "Pfx\n2 2\n-1\n", 0, IMF_ECORRUPT, "bad header" },
	{ "binary byte in header", "Pf\n2 2\n-1\x7f\n", 0, IMF_ECORRUPT, "unexpected byte 0x7f" },
	{ "token too long", "Pf\n2 2\n-1.000000000000000000000000000000000\n", 0, IMF_ECORRUPT,
	  "longer than" },
	{ "100000x100000", "PF\n100000 100000\n-1\n", 0, IMF_ELIMIT, "--max-pixels" },
};

START_TEST(test_errors)
{
	unsigned char buf[256];
	size_t len = build_pfm(buf, error_cases[_i].header, 2, 2, 1, 1);
	imf_image *img = NULL;
	imf_error err = { 0 };

	if (error_cases[_i].status == IMF_ELIMIT)
		len = strlen(error_cases[_i].header); /* the header alone must be refused */
	len -= error_cases[_i].drop;
	check_error(error_cases[_i].name, tu_read_mem(buf, len, NULL, &img, &err),
	            error_cases[_i].status, &err, error_cases[_i].key);
	ck_assert_ptr_null(img);
}
END_TEST

START_TEST(test_truncated_header)
{
	static const char *const heads[] = { "Pf", "Pf\n", "Pf\n2", "Pf\n2 2", "Pf\n2 2\n-1" };
	for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
		imf_image *img = NULL;
		imf_error err = { 0 };
		check_error(heads[k], tu_read_mem(heads[k], strlen(heads[k]), NULL, &img, &err),
		            IMF_ECORRUPT, &err, "truncated");
	}
}
END_TEST

/* ---- writing ----------------------------------------------------------------- */

/* Random finite floats of every magnitude and sign, plus edge cases. */
static float random_float(unsigned long long *seed)
{
	for (;;) {
		uint32_t b = (uint32_t)(tu_rand(seed) * 4294967296.0);
		float v;
		memcpy(&v, &b, sizeof v);
		if (isfinite(v))
			return v;
	}
}

START_TEST(test_roundtrip)
{
	static const float special[] = { 0.0f, -0.0f, 1e-7f, -1e-7f, 1.17549435e-38f, 1e-45f,
	                                 3.40282347e38f, -255.5f, 0.1f, 16777217.0f };
	static const struct {
		int ch, alpha, out_ch;
		const char *magic;
	} cases[] = { { 1, 0, 1, "Pf" }, { 2, 1, 1, "Pf" }, { 3, 0, 3, "PF" }, { 4, 1, 3, "PF" } };

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const size_t w = 17, h = 9;
		unsigned long long seed = 99 + k;
		imf_image *img = NULL, *back = NULL;
		imf_error err = { 0 };
		char want[64];
		size_t len, head, i = 0;
		unsigned char *out;

		ck_assert_int_eq(imf_image_new(w, h, cases[k].ch, cases[k].alpha, NULL, &img, &err),
		                 IMF_OK);
		for (int c = 0; c < cases[k].ch; c++)
			for (size_t y = 0; y < h; y++)
				for (size_t x = 0; x < w; x++, i++)
					imf_image_row(img, c, y)[x] =
						i < sizeof special / sizeof special[0] ? special[i]
						                                       : random_float(&seed);
		out = tu_write_mem(img, IMF_FORMAT_PFM, NULL, &len);

		/* The layout: header with scale -1, little-endian floats, bottom row first. */
		snprintf(want, sizeof want, "%s\n%zu %zu\n-1.0\n", cases[k].magic, w, h);
		head = strlen(want);
		ck_assert_uint_eq(len, head + w * h * (size_t)cases[k].out_ch * 4);
		ck_assert_mem_eq(out, want, head);
		for (size_t r = 0; r < h; r++)
			for (size_t x = 0; x < w; x++)
				for (int c = 0; c < cases[k].out_ch; c++) {
					const unsigned char *p =
						out + head + ((r * w + x) * (size_t)cases[k].out_ch + (size_t)c) * 4;
					float got = get_f32_le(p), v = imf_image_row(img, c, h - 1 - r)[x];
					ck_assert_mem_eq(&got, &v, sizeof v);
				}

		/* And back, bit for bit. */
		ck_assert_msg(tu_read_mem(out, len, NULL, &back, &err) == IMF_OK, "%s", err.msg);
		ck_assert_int_eq(imf_image_channels(back), cases[k].out_ch);
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

START_TEST(test_write_failure)
{
	FILE *fp = fopen("/dev/full", "wb");
	static const double v[] = { 1, 2, 3, 4 };
	imf_image *img = tu_image_from(v, 2, 2);
	imf_error err = { 0 };

	if (fp) {
		check_error("write to /dev/full", imf_write(fp, img, IMF_FORMAT_PFM, NULL, &err),
		            IMF_EIO, &err, "write failed");
		fclose(fp);
	}
	imf_image_free(img);
}
END_TEST

static Suite *pfm_suite(void)
{
	Suite *s = suite_create("pfm");
	TCase *tc = tcase_create("read");
	tcase_add_loop_test(tc, test_read, 0, (int)(sizeof read_cases / sizeof read_cases[0]));
	tcase_add_test(tc, test_data_starting_with_space);
	tcase_add_test(tc, test_read_large);
	tcase_add_test(tc, test_nonfinite_refused);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof error_cases / sizeof error_cases[0]));
	tcase_add_test(tc, test_truncated_header);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_write_failure);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(pfm_suite)
