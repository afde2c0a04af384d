/*
 * check_jpeg.c - the JPEG reader and writer (src/io/jpeg.c).
 *
 * Test files are encoded here with libjpeg from known pixels: constant
 * colours must come back exactly (within 1 for rounding in the colour
 * transform), smooth gradients within a small tolerance, and want_gray must
 * agree with the Rec.601 luma of the RGB decode.  Hostile files are valid
 * files cut short, padded with garbage, or given absurd scan counts.
 */
#include "testutil.h"

#include "internal.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jpeglib.h>

/* ---- making JPEG files with libjpeg --------------------------------------- */

typedef struct jpgw {
	size_t w, h;
	int components;         /* 1, 3 or 4 */
	J_COLOR_SPACE in_space; /* JCS_GRAYSCALE, JCS_RGB, JCS_CMYK */
	int quality;
	int progressive;
	int full_chroma;        /* 1x1 sampling instead of libjpeg's 2x2 */
	J_COLOR_SPACE file_space; /* JCS_UNKNOWN: libjpeg's default for in_space */
	const unsigned char *pixels; /* w * h * components, interleaved */
} jpgw;

/* libjpeg's default error handler prints and exits: fine for test input. */
static unsigned char *make_jpeg(const jpgw *s, size_t *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long size = 0;

	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &out, &size);
	ci.image_width = (JDIMENSION)s->w;
	ci.image_height = (JDIMENSION)s->h;
	ci.input_components = s->components;
	ci.in_color_space = s->in_space;
	jpeg_set_defaults(&ci);
	if (s->file_space != JCS_UNKNOWN)
		jpeg_set_colorspace(&ci, s->file_space);
	jpeg_set_quality(&ci, s->quality, TRUE);
	if (s->full_chroma)
		for (int c = 0; c < ci.num_components; c++)
			ci.comp_info[c].h_samp_factor = ci.comp_info[c].v_samp_factor = 1;
	if (s->progressive)
		jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)(s->pixels + (size_t)ci.next_scanline * s->w *
		                                              (size_t)s->components);
		ck_assert_uint_eq(jpeg_write_scanlines(&ci, &row, 1), 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	ck_assert_ptr_nonnull(out);
	*len = size;
	return out;
}

static unsigned char *filled(size_t w, size_t h, int nc, const unsigned char *colour)
{
	unsigned char *p = malloc(w * h * (size_t)nc);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < w * h; i++)
		memcpy(p + i * (size_t)nc, colour, (size_t)nc);
	return p;
}

/* A smooth, mid-range gradient (no clipping in YCbCr <-> RGB). */
static unsigned char *gradient(size_t w, size_t h, int nc)
{
	unsigned char *p = malloc(w * h * (size_t)nc);
	ck_assert_ptr_nonnull(p);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++)
			for (int c = 0; c < nc; c++) {
				double v = 40 + 150.0 * (c == 0   ? (double)x / (double)(w - 1)
				                         : c == 1 ? (double)y / (double)(h - 1)
				                                  : (double)(x + y) / (double)(w + h - 2));
				p[(y * w + x) * (size_t)nc + (size_t)c] = (unsigned char)lround(v);
			}
	return p;
}

static imf_image *read_ok(const unsigned char *data, size_t len, int want_gray)
{
	imf_read_opts opts;
	imf_read_opts_default(&opts);
	opts.want_gray = want_gray;
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(data, len, &opts, &img, &err);
	ck_assert_msg(st == IMF_OK, "read failed: %s", err.msg);
	ck_assert_int_eq(imf_image_source_format(img), IMF_FORMAT_JPEG);
	ck_assert_int_eq(imf_image_source_depth(img), 8);
	ck_assert_int_eq(imf_image_has_alpha(img), 0);
	return img;
}

/*
 * Largest |decoded - original| over the first nout planes (px has nc values
 * per pixel); *mean gets the mean, if asked.
 */
static double diff_of(const imf_image *img, const unsigned char *px, int nc, int nout,
                      double *mean)
{
	size_t w = imf_image_width(img), h = imf_image_height(img);
	double worst = 0, sum = 0;
	ck_assert_int_eq(imf_image_channels(img), nout);
	for (int c = 0; c < nout; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++) {
				double d = fabs(imf_image_row_const(img, c, y)[x] -
				                px[(y * w + x) * (size_t)nc + (size_t)c]);
				sum += d;
				if (d > worst)
					worst = d;
			}
	if (mean)
		*mean = sum / (double)(w * h * (size_t)nout);
	return worst;
}

static double max_diff(const imf_image *img, const unsigned char *px, int nc)
{
	return diff_of(img, px, nc, nc, NULL);
}

/* ---- decoding ------------------------------------------------------------ */

static const struct {
	int nc;
	unsigned char colour[3];
	int progressive;
} constants[] = {
	{ 1, { 128 }, 0 },           { 1, { 0 }, 0 },             { 1, { 255 }, 1 },
	{ 1, { 77 }, 1 },            { 3, { 200, 30, 90 }, 0 },   { 3, { 200, 30, 90 }, 1 },
	{ 3, { 0, 0, 0 }, 0 },       { 3, { 255, 255, 255 }, 1 }, { 3, { 12, 180, 250 }, 0 },
};

START_TEST(test_constant_colour)
{
	size_t w = 19, h = 13; /* partial MCUs on both axes */
	unsigned char *px = filled(w, h, constants[_i].nc, constants[_i].colour);
	jpgw s = { w, h, constants[_i].nc, constants[_i].nc == 1 ? JCS_GRAYSCALE : JCS_RGB, 100,
		   constants[_i].progressive, 0, JCS_UNKNOWN, px };
	size_t len;
	unsigned char *f = make_jpeg(&s, &len);
	imf_image *img = read_ok(f, len, 0);
	ck_assert_uint_eq(imf_image_width(img), w);
	ck_assert_uint_eq(imf_image_height(img), h);
	double d = max_diff(img, px, constants[_i].nc);
	ck_assert_msg(d <= 1.0, "case %d: off by %g", _i, d);
	imf_image_free(img);
	free(f);
	free(px);
}
END_TEST

/*
 * Colour tolerances allow for libjpeg's own rounding: Y, Cb, Cr are each
 * rounded to integers and B = Y + 1.772 (Cb - 128) amplifies the error, and
 * the files here have 2x2-subsampled chroma (libjpeg's default), so a few
 * samples of a clean gradient come back 3 (q100) or 4 (q90) off.
 */
static const struct {
	int nc, progressive, quality;
	double max, mean;
} gradients[] = {
	{ 1, 0, 100, 1, 0.5 }, { 1, 1, 100, 1, 0.5 }, { 3, 0, 100, 3, 0.75 },
	{ 3, 1, 100, 3, 0.75 }, { 3, 0, 90, 5, 1.5 },
};

START_TEST(test_gradient)
{
	size_t w = 64, h = 48;
	int nc = gradients[_i].nc;
	unsigned char *px = gradient(w, h, nc);
	jpgw s = { w, h, nc, nc == 1 ? JCS_GRAYSCALE : JCS_RGB, gradients[_i].quality,
		   gradients[_i].progressive, 0, JCS_UNKNOWN, px };
	size_t len;
	unsigned char *f = make_jpeg(&s, &len);
	imf_image *img = read_ok(f, len, 0);
	double mean, d = diff_of(img, px, nc, nc, &mean);
	ck_assert_msg(d <= gradients[_i].max, "case %d: off by %g", _i, d);
	ck_assert_msg(mean <= gradients[_i].mean, "case %d: off by %g on average", _i, mean);
	imf_image_free(img);
	free(f);
	free(px);
}
END_TEST

/* want_gray on a YCbCr file gives its Y plane: Rec.601 luma of the colours. */
START_TEST(test_want_gray)
{
	size_t w = 40, h = 24;
	unsigned char *px = gradient(w, h, 3);
	jpgw s = { w, h, 3, JCS_RGB, 95, _i, 0, JCS_UNKNOWN, px };
	size_t len;
	unsigned char *f = make_jpeg(&s, &len);
	imf_image *rgb = read_ok(f, len, 0);
	imf_image *gray = read_ok(f, len, 1);
	ck_assert_int_eq(imf_image_channels(rgb), 3);
	ck_assert_int_eq(imf_image_channels(gray), 1);
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++) {
			double luma = 0.299 * imf_image_row(rgb, 0, y)[x] +
			              0.587 * imf_image_row(rgb, 1, y)[x] +
			              0.114 * imf_image_row(rgb, 2, y)[x];
			double g = imf_image_row(gray, 0, y)[x];
			ck_assert_msg(fabs(g - luma) <= 1.0, "(%zu,%zu): gray %g, luma %g", x, y, g,
			              luma);
		}
	imf_image_free(rgb);
	imf_image_free(gray);
	free(f);
	free(px);
}
END_TEST

START_TEST(test_gray_file)
{
	size_t w = 17, h = 9;
	unsigned char *px = gradient(w, h, 1);
	jpgw s = { w, h, 1, JCS_GRAYSCALE, 100, 0, 0, JCS_UNKNOWN, px };
	size_t len;
	unsigned char *f = make_jpeg(&s, &len);
	for (int want_gray = 0; want_gray <= 1; want_gray++) {
		imf_image *img = read_ok(f, len, want_gray);
		ck_assert_int_eq(imf_image_channels(img), 1);
		ck_assert_double_le(max_diff(img, px, 1), 1.0);
		imf_image_free(img);
	}
	free(f);
	free(px);
}
END_TEST

/* A file stored as RGB (no YCbCr transform) still decodes to RGB. */
START_TEST(test_rgb_coded_file)
{
	size_t w = 16, h = 16;
	unsigned char *px = gradient(w, h, 3);
	jpgw s = { w, h, 3, JCS_RGB, 100, 0, 1, JCS_RGB, px };
	size_t len;
	unsigned char *f = make_jpeg(&s, &len);
	imf_image *img = read_ok(f, len, 0);
	ck_assert_double_le(max_diff(img, px, 3), 1.0);
	imf_image_free(img);
	free(f);
	free(px);
}
END_TEST

/* ---- refused and hostile input --------------------------------------------- */

static void expect_fail(const unsigned char *data, size_t len, const imf_read_opts *opts,
                        imf_status code, const char *word, const char *what)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(data, len, opts, &img, &err);
	ck_assert_msg(st == code, "%s: status %d (%s), want %d", what, st, err.msg, code);
	ck_assert_ptr_null(img);
	ck_assert_msg(strncmp(err.msg, "JPEG: ", 6) == 0, "%s: message %s", what, err.msg);
	if (word)
		ck_assert_msg(strstr(err.msg, word), "%s: message '%s' lacks '%s'", what, err.msg,
		              word);
	size_t n = strlen(err.msg);
	ck_assert_msg(err.msg[n - 1] != '.' && err.msg[n - 1] != '\n', "%s: message '%s'", what,
	              err.msg);
}

START_TEST(test_cmyk_refused)
{
	static const unsigned char cmyk[4] = { 10, 20, 30, 40 };
	unsigned char *px = filled(8, 8, 4, cmyk);
	/* _i == 0: stored as CMYK; 1: stored as YCCK. */
	jpgw s = { 8, 8, 4, JCS_CMYK, 90, 0, 0, _i ? JCS_YCCK : JCS_UNKNOWN, px };
	size_t len;
	unsigned char *f = make_jpeg(&s, &len);
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(tu_read_mem(f, len, NULL, &img, &err), IMF_EUNSUPPORTED);
	ck_assert_ptr_null(img);
	ck_assert_str_eq(err.msg, "JPEG: CMYK colour is not supported; convert the file to RGB first");
	free(f);
	free(px);
}
END_TEST

START_TEST(test_truncated)
{
	size_t w = 48, h = 40, len;
	unsigned char *px = gradient(w, h, 3);
	jpgw s = { w, h, 3, JCS_RGB, 90, _i, 0, JCS_UNKNOWN, px };
	unsigned char *f = make_jpeg(&s, &len);
	size_t cuts[] = { 3, 4, 20, len / 3, len / 2, len - 3, len - 2, len - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char what[80];
		snprintf(what, sizeof what, "%s cut at %zu of %zu", _i ? "progressive" : "baseline",
		         cuts[i], len);
		expect_fail(f, cuts[i], NULL, IMF_ECORRUPT, "truncated", what);
	}
	imf_image *img = read_ok(f, len, 0); /* and the whole file is fine */
	imf_image_free(img);
	free(f);
	free(px);
}
END_TEST

START_TEST(test_garbage_after_soi)
{
	unsigned long long seed = 12345 + (unsigned long long)_i;
	unsigned char buf[600];
	buf[0] = 0xFF;
	buf[1] = 0xD8;
	buf[2] = 0xFF;
	for (size_t i = 3; i < sizeof buf; i++)
		buf[i] = (unsigned char)(tu_rand(&seed) * 256);
	expect_fail(buf, sizeof buf, NULL, IMF_ECORRUPT, NULL, "garbage after SOI");
}
END_TEST

/* A file cut after 2 KB whose header claims 8000x8000 (64 Mpixel, 256 MB of
 * floats): the reader must stop where the data ends instead of decoding the
 * rest of the frame from nothing.  Peak memory says which happened: a full
 * decode writes every page of the image, stopping early writes almost none. */
START_TEST(test_truncated_huge_frame)
{
	size_t w = 64, h = 64, len;
	unsigned long long seed = 77;
	unsigned char *px = malloc(w * h);
	ck_assert_ptr_nonnull(px);
	for (size_t i = 0; i < w * h; i++)
		px[i] = (unsigned char)(tu_rand(&seed) * 256);
	jpgw s = { w, h, 1, JCS_GRAYSCALE, 95, 0, 0, JCS_UNKNOWN, px };
	unsigned char *f = make_jpeg(&s, &len);
	ck_assert_uint_gt(len, 2048);
	size_t sof = 0;
	for (size_t i = 2; i + 9 < len && !sof; i++)
		if (f[i] == 0xFF && f[i + 1] == 0xC0)
			sof = i;
	ck_assert_uint_gt(sof, 0);
	f[sof + 5] = 8000 >> 8; /* height */
	f[sof + 6] = 8000 & 0xFF;
	f[sof + 7] = 8000 >> 8; /* width */
	f[sof + 8] = 8000 & 0xFF;

	struct rusage before, after;
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(tu_read_mem(f, 2048, NULL, &img, &err), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, "JPEG: truncated file");
	ck_assert_ptr_null(img);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
	long grew_kib = after.ru_maxrss - before.ru_maxrss;
	ck_assert_msg(grew_kib < 64 * 1024, "peak memory grew by %ld KiB", grew_kib);
	free(f);
	free(px);
}
END_TEST

/*
 * Damaged entropy-coded data, which libjpeg decodes with a warning, is an
 * error: the message is libjpeg's first warning ("Corrupt JPEG data: ..."
 * without its preamble).  flip: XOR 0x10 into every 501st byte from the
 * first 700 on (the reviewer's recipe on samples/blobs.jpg), sparing bytes
 * that would make or unmake a marker (those are errors anyway); pad: that many
 * zero bytes before EOI (more than the 8 or so the entropy decoder may read
 * ahead and drop unseen); restart: 40 fill bytes and a stray RST0 mid-scan.
 */
static const struct {
	const char *name;
	int flip, pad, restart;
	const char *word; /* in the message, after "JPEG: corrupt data: " */
} corrupt_cases[] = {
	{ "flipped bits", 1, 0, 0, "" },
	{ "bytes before EOI", 0, 100, 0, " extraneous bytes before marker 0xd9" },
	{ "stray restart marker", 0, 0, 1, "" },
};

START_TEST(test_corrupt_data)
{
	size_t w = 160, h = 120, len;
	unsigned char *px = gradient(w, h, 3);
	for (size_t i = 0; i < w * h * 3; i += 7) /* texture, so the scan is long */
		px[i] = (unsigned char)(px[i] ^ 0x3C);
	jpgw s = { w, h, 3, JCS_RGB, 90, 0, 0, JCS_UNKNOWN, px };
	unsigned char *f = make_jpeg(&s, &len);
	size_t pad = (size_t)corrupt_cases[_i].pad;
	unsigned char *g = calloc(len + pad, 1);
	ck_assert_ptr_nonnull(g);
	memcpy(g, f, len - 2);
	memcpy(g + len - 2 + pad, f + len - 2, 2); /* EOI after the padding */
	if (corrupt_cases[_i].flip)
		for (size_t i = 700; i + 2 < len; i += 501)
			if (g[i - 1] != 0xFF && g[i] != 0xFF && g[i] != 0xEF) /* no new markers */
				g[i] ^= 0x10;
	if (corrupt_cases[_i].restart) {
		memset(g + len / 2, 0xFF, 40);
		g[len / 2 + 40] = 0xD0;
	}
	imf_image *img = read_ok(f, len, 0); /* the intact file is fine */
	imf_image_free(img);
	img = NULL;
	imf_error err = { 0 };
	imf_status st = tu_read_mem(g, len + pad, NULL, &img, &err);
	ck_assert_msg(st == IMF_ECORRUPT, "%s: status %d (%s)", corrupt_cases[_i].name, st,
	              err.msg);
	ck_assert_ptr_null(img);
	ck_assert_msg(strncmp(err.msg, "JPEG: corrupt data: ", 20) == 0 &&
	              strstr(err.msg + 20, corrupt_cases[_i].word),
	              "%s: message '%s' lacks '%s'", corrupt_cases[_i].name, err.msg,
	              corrupt_cases[_i].word);
	size_t n = strlen(err.msg);
	ck_assert_msg(n > strlen("JPEG: corrupt data: ") && err.msg[n - 1] != '.',
	              "%s: message '%s'", corrupt_cases[_i].name, err.msg);
	free(g);
	free(f);
	free(px);
}
END_TEST

/* libjpeg's own error texts start lowercase after our prefix. */
START_TEST(test_library_message_case)
{
	unsigned char buf[64] = { 0xFF, 0xD8, 0xFF, 0x77, 0x00, 0x04, 0x00, 0x00 };
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(tu_read_mem(buf, sizeof buf, NULL, &img, &err), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, "JPEG: unsupported marker type 0x77");
	ck_assert_ptr_null(img);
}
END_TEST

/*
 * Repeat the first scan of a progressive file (DC, which decodes cleanly
 * again and again: libjpeg only warns that the progression is odd) until
 * there are > 1000 scans.  Repeating a refinement scan would not do: that
 * desynchronises the decoder, a corrupt-data error long before the limit.
 */
START_TEST(test_scan_limit)
{
	size_t w = 8, h = 8, len;
	unsigned char *px = gradient(w, h, 1);
	jpgw s = { w, h, 1, JCS_GRAYSCALE, 90, 1, 0, JCS_UNKNOWN, px };
	unsigned char *f = make_jpeg(&s, &len);
	size_t sos = 0, end = 0;
	for (size_t i = 2; i + 1 < len && !sos; i++)
		if (f[i] == 0xFF && f[i + 1] == 0xDA)
			sos = i;
	ck_assert_uint_gt(sos, 0);
	/* The scan ends at the next marker: 0xFF not followed by 0 (a stuffed
	 * byte) or by a restart marker. */
	for (size_t i = sos + 2 + ((size_t)f[sos + 2] << 8 | f[sos + 3]); i + 1 < len && !end; i++)
		if (f[i] == 0xFF && f[i + 1] != 0 && (f[i + 1] < 0xD0 || f[i + 1] > 0xD7))
			end = i;
	ck_assert_uint_gt(end, sos);
	size_t scan = end - sos, reps = 1100;
	size_t n = sos + scan * reps + 2;
	unsigned char *g = malloc(n);
	ck_assert_ptr_nonnull(g);
	memcpy(g, f, sos);
	for (size_t r = 0; r < reps; r++)
		memcpy(g + sos + r * scan, f + sos, scan);
	g[n - 2] = 0xFF;
	g[n - 1] = 0xD9;
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(tu_read_mem(g, n, NULL, &img, &err), IMF_ELIMIT);
	ck_assert_str_eq(err.msg, "JPEG: more than 1000 progressive scans");
	ck_assert_ptr_null(img);
	free(g);
	free(f);
	free(px);
}
END_TEST

START_TEST(test_limits)
{
	size_t w = 19, h = 13, len;
	unsigned char *px = gradient(w, h, 3);
	jpgw s = { w, h, 3, JCS_RGB, 90, 0, 0, JCS_UNKNOWN, px };
	unsigned char *f = make_jpeg(&s, &len);
	imf_read_opts opts;
	imf_read_opts_default(&opts);
	opts.limits.max_side = 18;
	expect_fail(f, len, &opts, IMF_ELIMIT, "limit", "max_side 18 on 19x13");
	opts.limits.max_side = 19;
	opts.limits.max_pixels = 19 * 13 - 1;
	expect_fail(f, len, &opts, IMF_ELIMIT, "limit", "max_pixels 246 on 19x13");
	free(f);
	free(px);
}
END_TEST

/* libjpeg must never print: warnings and errors with stderr captured. */
START_TEST(test_silent)
{
	size_t w = 48, h = 40, len;
	unsigned char *px = gradient(w, h, 3);
	jpgw s = { w, h, 3, JCS_RGB, 90, 0, 0, JCS_UNKNOWN, px };
	unsigned char *f = make_jpeg(&s, &len);

	const char *path = tu_path("jpeg-stderr.txt");
	fflush(stderr);
	int saved = dup(2);
	ck_assert_int_ge(saved, 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	close(fd);

	imf_image *img = NULL;
	imf_error err = { 0 };
	imf_status st_cut = tu_read_mem(f, len / 2, NULL, &img, &err);
	/* Corrupt entropy-coded data: libjpeg warns and carries on. */
	unsigned char *g = malloc(len);
	ck_assert_ptr_nonnull(g);
	memcpy(g, f, len);
	for (size_t i = len / 2; i < len / 2 + 40; i++)
		g[i] = 0xFF;
	g[len / 2 + 40] = 0xD0; /* a stray restart marker */
	imf_status st_bad = tu_read_mem(g, len, NULL, &img, &err);
	imf_image_free(img);
	img = NULL;
	unsigned char junk[64] = { 0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x03 };
	imf_status st_junk = tu_read_mem(junk, sizeof junk, NULL, &img, &err);

	fflush(stderr);
	ck_assert_int_ge(dup2(saved, 2), 0);
	close(saved);
	ck_assert_int_eq(st_cut, IMF_ECORRUPT);
	ck_assert_int_eq(st_bad, IMF_ECORRUPT); /* libjpeg only warns; we refuse */
	ck_assert_int_ne(st_junk, IMF_OK);
	size_t n;
	unsigned char *printed = tu_read_file(path, &n);
	ck_assert_msg(n == 0, "printed to stderr: %s", printed);
	free(printed);
	free(g);
	free(f);
	free(px);
}
END_TEST

/* ---- writing -------------------------------------------------------------- */

static imf_image *image_from_pixels(const unsigned char *px, size_t w, size_t h, int nc,
                                    int alpha)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_new(w, h, nc, alpha, NULL, &img, &err), IMF_OK);
	for (int c = 0; c < nc; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] = px[(y * w + x) * (size_t)nc + (size_t)c];
	return img;
}

/*
 * channels in -> channels in the JPEG: alpha is dropped.  At quality 100
 * (4:4:4, all-ones quantizers) gray comes back within 1; colour within 2
 * except for the odd sample that the YCbCr rounding puts 3 off (see
 * gradients above), so colour is held to max 3 and a mean under 0.6.
 */
static const struct {
	int nc, alpha, out;
	double max, mean;
} write_cases[] = {
	{ 1, 0, 1, 1, 0.5 }, { 2, 1, 1, 1, 0.5 }, { 3, 0, 3, 3, 0.6 }, { 4, 1, 3, 3, 0.6 },
};

START_TEST(test_write_roundtrip)
{
	size_t w = 40, h = 30;
	int nc = write_cases[_i].nc, out = write_cases[_i].out;
	unsigned char *px = gradient(w, h, nc);
	imf_image *img = image_from_pixels(px, w, h, nc, write_cases[_i].alpha);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	wo.quality = 100;
	size_t len;
	unsigned char *f = tu_write_mem(img, IMF_FORMAT_JPEG, &wo, &len);
	ck_assert(len > 4 && f[0] == 0xFF && f[1] == 0xD8 && f[len - 2] == 0xFF &&
	          f[len - 1] == 0xD9);
	imf_image *back = read_ok(f, len, 0);
	double mean, d = diff_of(back, px, nc, out, &mean);
	ck_assert_msg(d <= write_cases[_i].max, "case %d: off by %g", _i, d);
	ck_assert_msg(mean <= write_cases[_i].mean, "case %d: off by %g on average", _i, mean);
	imf_image_free(back);
	imf_image_free(img);
	free(f);
	free(px);
}
END_TEST

/* The first component's horizontal sampling factor, read with libjpeg. */
static int luma_sampling(const unsigned char *f, size_t len)
{
	struct jpeg_decompress_struct di;
	struct jpeg_error_mgr jerr;
	di.err = jpeg_std_error(&jerr);
	jpeg_create_decompress(&di);
	jpeg_mem_src(&di, f, (unsigned long)len);
	ck_assert_int_eq(jpeg_read_header(&di, TRUE), JPEG_HEADER_OK);
	ck_assert_int_eq(di.num_components, 3);
	int h = di.comp_info[0].h_samp_factor;
	jpeg_destroy_decompress(&di);
	return h;
}

/* Lower quality makes smaller files (the quality setting reaches libjpeg). */
START_TEST(test_write_quality)
{
	size_t w = 64, h = 64;
	unsigned long long seed = 9;
	unsigned char *px = malloc(w * h * 3);
	ck_assert_ptr_nonnull(px);
	for (size_t i = 0; i < w * h * 3; i++)
		px[i] = (unsigned char)(tu_rand(&seed) * 256);
	imf_image *img = image_from_pixels(px, w, h, 3, 0);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	size_t len_lo, len_hi;
	wo.quality = 20;
	unsigned char *lo = tu_write_mem(img, IMF_FORMAT_JPEG, &wo, &len_lo);
	wo.quality = 95;
	unsigned char *hi = tu_write_mem(img, IMF_FORMAT_JPEG, &wo, &len_hi);
	ck_assert_uint_lt(len_lo, len_hi);
	/* From quality 90 up, chroma is kept at full resolution (4:4:4). */
	ck_assert_int_eq(luma_sampling(lo, len_lo), 2);
	ck_assert_int_eq(luma_sampling(hi, len_hi), 1);
	imf_image_free(img);
	free(lo);
	free(hi);
	free(px);
}
END_TEST

START_TEST(test_write_full_disk)
{
	FILE *fp = fopen("/dev/full", "wb");
	if (!fp)
		return; /* no /dev/full here */
	size_t w = 300, h = 300;
	unsigned long long seed = 5;
	unsigned char *px = malloc(w * h * 3);
	ck_assert_ptr_nonnull(px);
	for (size_t i = 0; i < w * h * 3; i++)
		px[i] = (unsigned char)(tu_rand(&seed) * 256);
	imf_image *big = image_from_pixels(px, w, h, 3, 0);
	imf_image *small = image_from_pixels(px, 4, 4, 1, 0);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	/* Noise at 300x300 overflows our 64 KiB buffer: fwrite fails in libjpeg's
	 * callback; the small one fails only at the final fflush. */
	imf_image *imgs[2] = { big, small };
	for (int i = 0; i < 2; i++) {
		imf_error err = { 0 };
		if (i)
			fp = fopen("/dev/full", "wb");
		ck_assert_ptr_nonnull(fp);
		ck_assert_int_eq(imf_write(fp, imgs[i], IMF_FORMAT_JPEG, &wo, &err), IMF_EIO);
		ck_assert_msg(strstr(err.msg, "JPEG: write failed"), "message: %s", err.msg);
		fclose(fp);
	}
	imf_image_free(big);
	imf_image_free(small);
	free(px);
}
END_TEST

static Suite *jpeg_suite(void)
{
	Suite *s = suite_create("jpeg");
	TCase *tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_constant_colour, 0,
	                    (int)(sizeof constants / sizeof constants[0]));
	tcase_add_loop_test(tc, test_gradient, 0, (int)(sizeof gradients / sizeof gradients[0]));
	tcase_add_loop_test(tc, test_want_gray, 0, 2);
	tcase_add_test(tc, test_gray_file);
	tcase_add_test(tc, test_rgb_coded_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_loop_test(tc, test_cmyk_refused, 0, 2);
	tcase_add_loop_test(tc, test_truncated, 0, 2);
	tcase_add_loop_test(tc, test_garbage_after_soi, 0, 8);
	tcase_add_test(tc, test_scan_limit);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_silent);
	tcase_add_test(tc, test_truncated_huge_frame);
	tcase_add_loop_test(tc, test_corrupt_data, 0,
	                    (int)(sizeof corrupt_cases / sizeof corrupt_cases[0]));
	tcase_add_test(tc, test_library_message_case);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_loop_test(tc, test_write_roundtrip, 0,
	                    (int)(sizeof write_cases / sizeof write_cases[0]));
	tcase_add_test(tc, test_write_quality);
	tcase_add_test(tc, test_write_full_disk);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(jpeg_suite)
