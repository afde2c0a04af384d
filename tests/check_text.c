/*
 * check_text.c - the text-matrix reader and writer.
 *
 * Expected values are float literals (the compiler's own correctly rounded
 * conversion), expected text is what the format's rules say it must be.
 */
#include "testutil.h"

#include "internal.h"
#include "io/io.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VALUES(...) (const float[]){ __VA_ARGS__ }

static const struct {
	const char *name;
	const char *text;
	size_t w, h;
	int channels;
	const float *v; /* plane after plane, row-major */
} read_cases[] = {
	{ "spaces", "1 2 3\n4 5 6\n", 3, 2, 1, VALUES(1, 2, 3, 4, 5, 6) },
	{ "commas", "1,2,3\n4,5,6\n", 3, 2, 1, VALUES(1, 2, 3, 4, 5, 6) },
	{ "commas, spaces, trailing comma", "1, 2 ,3,\n4 ,5, 6 ,\n", 3, 2, 1,
	  VALUES(1, 2, 3, 4, 5, 6) },
	{ "CRLF", "1 2\r\n3 4\r\n", 2, 2, 1, VALUES(1, 2, 3, 4) },
	{ "CRLF with commas and blocks", "1,2,\r\n3,4\r\n\r\n5,6\r\n7,8\r\n", 2, 2, 2,
	  VALUES(1, 2, 3, 4, 5, 6, 7, 8) },
	{ "comments", "# header\n1 2 # row one\n# between rows\n3 4#glued\n# end", 2, 2, 1,
	  VALUES(1, 2, 3, 4) },
	{ "tabs, no final newline", "\t1\t\t2  \n  3 4", 2, 2, 1, VALUES(1, 2, 3, 4) },
	{ "blank lines around", "\n\n1 2\n3 4\n\n \t\n", 2, 2, 1, VALUES(1, 2, 3, 4) },
	{ "negative and fractional", "-1.5 0.25\n.5 -.125\n", 2, 2, 1,
	  VALUES(-1.5f, 0.25f, 0.5f, -0.125f) },
	{ "scientific", "1e3 -2.5E-2\n+3e+0 1e-7\n", 2, 2, 1, VALUES(1000, -0.025f, 3, 1e-7f) },
	{ "precise values", "0.1 3.14159265 -1e-40 3.4e38\n", 4, 1, 1,
	  VALUES(0.1f, 3.14159265f, -1e-40f, 3.4e38f) },
	/*
	 * Just above the midpoint 1 + 2^-24 of two floats: correctly rounded it is
	 * 1 + 2^-23, but through a double it lands on the midpoint and ties to 1.
	 */
	{ "rounded once, to float", "1.0000000596046448", 1, 1, 1, VALUES(0x1.000002p0f) },
	{ "one value", "42", 1, 1, 1, VALUES(42) },
	{ "one column", "1\n2\n3\n", 1, 3, 1, VALUES(1, 2, 3) },
	{ "two blocks: gray+alpha", "1 2\n3 4\n\n5 6\n7 8\n", 2, 2, 2,
	  VALUES(1, 2, 3, 4, 5, 6, 7, 8) },
	{ "three blocks: RGB, several blank lines", "1\n2\n\n\n\n3\n4\n \n  \n5\n6\n", 1, 2, 3,
	  VALUES(1, 2, 3, 4, 5, 6) },
	{ "four blocks: RGBA", "1 2\n\n3 4\n\n5 6\n\n7 8", 2, 1, 4, VALUES(1, 2, 3, 4, 5, 6, 7, 8) },
	{ "a comment line does not split blocks", "1 2\n# plane 1 continues\n3 4\n", 2, 2, 1,
	  VALUES(1, 2, 3, 4) },
	{ "comments between blocks", "# red\n1\n\n# green\n2\n\n# blue\n3\n", 1, 1, 3,
	  VALUES(1, 2, 3) },
};

START_TEST(test_read)
{
	const char *text = read_cases[_i].text;
	const size_t w = read_cases[_i].w, h = read_cases[_i].h;
	const int nch = read_cases[_i].channels;
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_msg(tu_read_mem(text, strlen(text), NULL, &img, &err) == IMF_OK, "%s: %s",
	              read_cases[_i].name, err.msg);
	ck_assert_uint_eq(imf_image_width(img), w);
	ck_assert_uint_eq(imf_image_height(img), h);
	ck_assert_int_eq(imf_image_channels(img), nch);
	ck_assert_int_eq(imf_image_has_alpha(img), nch == 2 || nch == 4);
	ck_assert_int_eq(imf_image_source_format(img), IMF_FORMAT_TEXT);
	ck_assert_int_eq(imf_image_source_depth(img), 32);
	for (int c = 0; c < nch; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++) {
				float want = read_cases[_i].v[((size_t)c * h + y) * w + x];
				float got = imf_image_row(img, c, y)[x];
				ck_assert_msg(got == want, "%s: (%zu,%zu) plane %d: %.9g, want %.9g",
				              read_cases[_i].name, x, y, c, (double)got, (double)want);
			}
	imf_image_free(img);
}
END_TEST

/* ---- errors ------------------------------------------------------------------- */

static void check_error(const char *name, imf_status got, imf_status want, const imf_error *err,
                        const char *key)
{
	size_t n = strlen(err->msg);
	ck_assert_msg(got == want, "%s: status %d (%s), want %d", name, got, err->msg, want);
	ck_assert_msg(strncmp(err->msg, "text: ", 6) == 0, "%s: '%s' lacks the prefix", name,
	              err->msg);
	ck_assert_msg(strstr(err->msg, key) != NULL, "%s: '%s' lacks '%s'", name, err->msg, key);
	ck_assert_msg(n > 0 && err->msg[n - 1] != '.', "%s: '%s' ends in a period", name, err->msg);
}

static const struct {
	const char *name;
	const char *text;
	imf_status status;
	const char *key;
} error_cases[] = {
	{ "short row", "1 2 3\n4 5 6\n7 8\n", IMF_ECORRUPT, "line 3 has 2 values, expected 3" },
	{ "long row", "1 2\n# c\n3 4 5\n", IMF_ECORRUPT, "line 3 has 3 values, expected 2" },
	{ "long last row without newline", "1 2\n3 4 5 6 7", IMF_ECORRUPT,
	  "line 2 has 5 values, expected 2" },
	{ "ragged in block 2", "1 2\n3 4\n\n5 6\n7\n", IMF_ECORRUPT, "line 5 has 1 value, expected 2" },
	{ "nan", "1 2\n3 nan\n", IMF_ECORRUPT, "line 2: not a finite number 'nan'" },
	{ "inf", "1 -inf\n", IMF_ECORRUPT, "line 1: not a finite number '-inf'" },
	{ "infinity", "1,2\n\n\n0,infinity\n", IMF_ECORRUPT, "line 4: not a finite number 'infinity'" },
	{ "overflow", "1 2\n3 1e39\n", IMF_ECORRUPT, "line 2: not a finite number '1e39'" },
	{ "not a number", "1 2\n3 abc\n", IMF_ECORRUPT, "line 2: not a number 'abc'" },
	{ "number with junk", "1 2\n3 4x\n", IMF_ECORRUPT, "line 2: not a number '4x'" },
	{ "binary byte", "1 2\n3 4\x1b[0m\n", IMF_ECORRUPT, "line 2: unexpected byte 0x1b" },
	{ "empty field", "1,,2\n", IMF_ECORRUPT, "line 1: empty field" },
	{ "empty field with spaces", "1 2\n3 , ,4\n", IMF_ECORRUPT, "line 2: empty field" },
	{ "leading comma", ",1\n", IMF_ECORRUPT, "line 1: empty field" },
	{ "only white space", "  \n\t\n\n", IMF_ECORRUPT, "no numbers" },
	{ "only comments", "# nothing\n# here\n", IMF_ECORRUPT, "no numbers" },
	{ "block 2 wider", "1 2\n3 4\n\n1 2 3\n4 5 6\n", IMF_ECORRUPT, "block 2 is 3x2, expected 2x2" },
	{ "block 3 shorter", "1 2\n3 4\n\n5 6\n7 8\n\n9 10\n", IMF_ECORRUPT,
	  "block 3 is 2x1, expected 2x2" },
	{ "five blocks", "1\n\n2\n\n3\n\n4\n\n5\n", IMF_ECORRUPT, "at most 4" },
	{ "number too long",
	  "1 0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000001\n",
	  IMF_ECORRUPT, "longer than" },
};

START_TEST(test_errors)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(error_cases[_i].text, strlen(error_cases[_i].text), NULL, &img,
	                            &err);
	check_error(error_cases[_i].name, st, error_cases[_i].status, &err, error_cases[_i].key);
	ck_assert_ptr_null(img);
}
END_TEST

/* imf_read stops an empty input before any reader; the reader itself says so too. */
START_TEST(test_empty_input)
{
	FILE *fp = tmpfile();
	imf_reader r;
	imf_error err = { 0 };

	ck_assert_ptr_nonnull(fp);
	memset(&r, 0, sizeof r);
	imf_read_opts_default(&r.opts);
	imf_src_init(&r.src, fp);
	check_error("empty", imf_text_reader.open(&r, &err), IMF_ECORRUPT, &err, "no numbers");
	imf_text_reader.close(&r);
	ck_assert_ptr_null(r.state);
	fclose(fp);
}
END_TEST

START_TEST(test_limits)
{
	static const struct {
		const char *text;
		size_t max_side, max_pixels;
		const char *key;
	} cases[] = {
		{ "1 2 3 4\n", 3, 100, "line 1 has more values than the --max-side limit of 3 (raise it with --max-side)" },
		{ "1\n2\n3\n4\n", 3, 100, "--max-side" },         /* too many rows */
		{ "1 2 3\n4 5 6\n", 3, 5, "--max-pixels" },       /* too many values */
		{ "1 2\n3 4\n\n1 2 3 4\n", 3, 100, "--max-side" } /* block 2's row */
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		imf_read_opts opts;
		imf_image *img = NULL;
		imf_error err = { 0 };
		imf_read_opts_default(&opts);
		opts.limits.max_side = cases[k].max_side;
		opts.limits.max_pixels = cases[k].max_pixels;
		check_error(cases[k].text,
		            tu_read_mem(cases[k].text, strlen(cases[k].text), &opts, &img, &err),
		            IMF_ELIMIT, &err, cases[k].key);
	}
}
END_TEST

/* One line far longer than any read buffer. */
START_TEST(test_long_line)
{
	const size_t n = 10000;
	char *text = malloc(n * 16 + 2), *p = text;
	imf_image *img = NULL;
	imf_error err = { 0 };

	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%.4f", i ? (i % 3 ? " " : ", ") : "", (double)i * 0.5 - 2000.25);
	*p++ = '\n';
	ck_assert_msg(tu_read_mem(text, (size_t)(p - text), NULL, &img, &err) == IMF_OK, "%s",
	              err.msg);
	ck_assert_uint_eq(imf_image_width(img), n);
	ck_assert_uint_eq(imf_image_height(img), 1);
	for (size_t i = 0; i < n; i++)
		ck_assert(imf_image_row(img, 0, 0)[i] == (float)((double)i * 0.5 - 2000.25));
	imf_image_free(img);
	free(text);
}
END_TEST

/* ---- writing ------------------------------------------------------------------ */

static char *write_text(const imf_image *img)
{
	size_t len;
	return (char *)tu_write_mem(img, IMF_FORMAT_TEXT, NULL, &len);
}

START_TEST(test_write_format)
{
	static const double v[] = { 114, -3, 0, -0.0, 1000000, 0.5, 0.1f, 1.0f / 3.0f, -2.5e-7f,
	                            1e20f };
	imf_image *img = tu_image_from(v, 5, 2);
	char *out = write_text(img);
	ck_assert_str_eq(out, "114 -3 0 0 1000000\n0.5 0.1 0.33333334 -2.5e-07 1e+20\n");
	free(out);
	imf_image_free(img);
}
END_TEST

START_TEST(test_write_planes)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	char *out;

	ck_assert_int_eq(imf_image_new(2, 2, 2, 1, NULL, &img, &err), IMF_OK);
	for (int c = 0; c < 2; c++)
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 2; x++)
				imf_image_row(img, c, y)[x] = (float)(c * 4 + (int)y * 2 + (int)x + 1);
	out = write_text(img);
	ck_assert_str_eq(out, "1 2\n3 4\n\n5 6\n7 8\n");
	free(out);
	imf_image_free(img);
}
END_TEST

static float random_float(unsigned long long *seed)
{
	for (;;) {
		uint32_t b = (uint32_t)(tu_rand(seed) * 4294967296.0);
		float v;
		memcpy(&v, &b, sizeof v);
		if (isfinite(v) && !(v == 0 && signbit(v)))
			return v;
	}
}

/* Whatever the values, write then read gives the same bits. */
START_TEST(test_roundtrip)
{
	static const float special[] = { 1e-7f, -1e-7f, 1.17549435e-38f, 1e-45f, -1e-45f,
	                                 3.40282347e38f, -3.40282347e38f, 0.1f, 16777216.0f,
	                                 16777218.0f, 8388607.5f, 123456.789f, 0.0f };
	for (int ch = 1; ch <= 4; ch++) {
		const size_t w = 23, h = 11;
		unsigned long long seed = 1000 + (unsigned)ch;
		imf_image *img = NULL, *back = NULL;
		imf_error err = { 0 };
		size_t i = 0, len;
		unsigned char *out;

		ck_assert_int_eq(imf_image_new(w, h, ch, ch == 2 || ch == 4, NULL, &img, &err), IMF_OK);
		for (int c = 0; c < ch; c++)
			for (size_t y = 0; y < h; y++)
				for (size_t x = 0; x < w; x++, i++) {
					float v;
					if (i < sizeof special / sizeof special[0])
						v = special[i];
					else if (i % 3 == 0) /* ordinary magnitudes too */
						v = (float)((tu_rand(&seed) - 0.5) * 1000.0);
					else
						v = random_float(&seed);
					imf_image_row(img, c, y)[x] = v;
				}
		out = tu_write_mem(img, IMF_FORMAT_TEXT, NULL, &len);
		ck_assert_msg(tu_read_mem(out, len, NULL, &back, &err) == IMF_OK, "%s", err.msg);
		ck_assert_int_eq(imf_image_channels(back), ch);
		ck_assert_uint_eq(imf_image_width(back), w);
		ck_assert_uint_eq(imf_image_height(back), h);
		for (int c = 0; c < ch; c++)
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
		check_error("write to /dev/full", imf_write(fp, img, IMF_FORMAT_TEXT, NULL, &err),
		            IMF_EIO, &err, "write failed");
		fclose(fp);
	}
	imf_image_free(img);
}
END_TEST

static Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("read");
	tcase_add_loop_test(tc, test_read, 0, (int)(sizeof read_cases / sizeof read_cases[0]));
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof error_cases / sizeof error_cases[0]));
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_long_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_test(tc, test_write_format);
	tcase_add_test(tc, test_write_planes);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_write_failure);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(text_suite)
