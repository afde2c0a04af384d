/*
 * fuzz_common.h - what the libFuzzer harnesses in tests/fuzz/ share.
 *
 * Each harness feeds the fuzzer's bytes to one entry point of the library
 * through a real FILE (fmemopen), with limits lowered so the fuzzer spends
 * its time exploring parsers rather than allocating gigabytes, and checks
 * the library's contracts on every result, not only the absence of a crash:
 *
 *  - a failure is one of the documented codes, err.code agrees with the
 *    returned status, and the message is one non-empty printable line (the
 *    CLI prints it as the single stderr line);
 *  - a decoded image's values are finite, and on the 0..255 scale for the
 *    integer formats;
 *  - imf_read_info agrees with imf_read on every input imf_read accepts.
 *
 * A broken contract aborts with a message, which libFuzzer reports as a
 * crash and saves as a reproducer like any memory error.
 */
#ifndef IMF_FUZZ_COMMON_H
#define IMF_FUZZ_COMMON_H

#include "imfilter.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_PIXELS ((size_t)4 << 20) /* 4 Mi pixels: 64 MiB for 4 float planes */
#define FUZZ_MAX_SIDE ((size_t)1000000)

static inline void fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz contract broken: %s: %s\n", what, detail ? detail : "");
	abort();
}

/*
 * A read-only stream over a copy of data (fmemopen wants a writable buffer
 * it may keep).  An empty input comes from /dev/null, since fmemopen refuses
 * a size of 0 on older C libraries.  Free *copy after fclose.
 */
static inline FILE *fuzz_fopen(const uint8_t *data, size_t size, void **copy)
{
	FILE *fp;
	*copy = NULL;
	if (size == 0)
		return fopen("/dev/null", "rb");
	*copy = malloc(size);
	if (!*copy)
		return NULL;
	memcpy(*copy, data, size);
	fp = fmemopen(*copy, size, "rb");
	if (!fp) {
		free(*copy);
		*copy = NULL;
	}
	return fp;
}

static inline void fuzz_fclose(FILE *fp, void *copy)
{
	if (fp)
		fclose(fp);
	free(copy);
}

/* A NUL-terminated copy of data (for the text entry points). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return NULL;
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The error contract.  printable: every byte of the message is printable
 * ASCII (image readers quote hostile bytes only in escaped form); else no
 * control character at all (kernel and chain messages quote the user's own
 * spec, which may be UTF-8, but a line break or an escape sequence must
 * never reach the terminal).
 */
static inline void fuzz_check_error(imf_status st, const imf_error *err, int printable, const char *where)
{
	char detail[400];
	if (st == IMF_OK)
		return;
	if (st < IMF_ENOMEM || st > IMF_EINVAL) {
		snprintf(detail, sizeof detail, "status %d is not a documented code", (int)st);
		fuzz_fail(where, detail);
	}
	if (err->code != st) {
		snprintf(detail, sizeof detail, "returned %d but err.code is %d ('%s')", (int)st,
		         (int)err->code, err->msg);
		fuzz_fail(where, detail);
	}
	if (!err->msg[0] || memchr(err->msg, '\0', sizeof err->msg) == NULL)
		fuzz_fail(where, "empty or unterminated message");
	for (const unsigned char *p = (const unsigned char *)err->msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7F || (printable && *p > 0x7E)) {
			snprintf(detail, sizeof detail, "message has byte 0x%02x: '%s'", *p, err->msg);
			fuzz_fail(where, detail);
		}
	}
}

/* Every value finite; with integer != 0 also within 0..255. */
static inline void fuzz_check_values(const imf_image *img, int integer, const char *where)
{
	size_t w = imf_image_width(img), h = imf_image_height(img);
	int nch = imf_image_channels(img);
	for (int c = 0; c < nch; c++)
		for (size_t y = 0; y < h; y++) {
			const float *row = imf_image_row_const(img, c, y);
			for (size_t x = 0; x < w; x++) {
				float v = row[x];
				if (!isfinite(v) || (integer && (v < 0.0f || v > 255.0f))) {
					char detail[128];
					snprintf(detail, sizeof detail, "value %g at plane %d, %zu,%zu", (double)v,
					         c, x, y);
					fuzz_fail(where, detail);
				}
			}
		}
}

static inline void fuzz_read_opts(imf_read_opts *o, size_t max_pixels, int want_gray)
{
	imf_read_opts_default(o);
	o->limits.max_pixels = max_pixels;
	o->limits.max_side = FUZZ_MAX_SIDE;
	o->want_gray = want_gray;
}

/*
 * imf_read the bytes, check the result, and hold imf_read_info to agree
 * with it.  Returns the image (the caller frees it) or NULL.
 */
static inline imf_image *fuzz_read_checked(const uint8_t *data, size_t size, const imf_read_opts *opts)
{
	imf_error err = { 0 }, ierr = { 0 };
	imf_image *img = NULL;
	imf_info info;
	imf_status st, ist;
	void *copy;
	FILE *fp;

	if (!(fp = fuzz_fopen(data, size, &copy)))
		return NULL;
	st = imf_read(fp, opts, &img, &err);
	fuzz_fclose(fp, copy);
	fuzz_check_error(st, &err, 1, "imf_read");
	if (st != IMF_OK && img)
		fuzz_fail("imf_read", "failed but returned an image");

	if (!(fp = fuzz_fopen(data, size, &copy))) {
		imf_image_free(img);
		return NULL;
	}
	ist = imf_read_info(fp, opts, &info, &ierr);
	fuzz_fclose(fp, copy);
	fuzz_check_error(ist, &ierr, 1, "imf_read_info");

	if (st != IMF_OK)
		return NULL;
	imf_format fmt = imf_image_source_format(img);
	fuzz_check_values(img, fmt != IMF_FORMAT_PFM && fmt != IMF_FORMAT_TEXT, "imf_read");
	if (ist != IMF_OK) {
		char detail[400];
		snprintf(detail, sizeof detail, "imf_read accepted what imf_read_info refused: '%s'",
		         ierr.msg);
		fuzz_fail("imf_read_info", detail);
	}
	if (info.width != imf_image_width(img) || info.height != imf_image_height(img) ||
	    info.channels != imf_image_channels(img) || info.has_alpha != imf_image_has_alpha(img) ||
	    info.format != fmt || info.depth != imf_image_source_depth(img)) {
		char detail[256];
		snprintf(detail, sizeof detail,
		         "info %zux%zu ch %d alpha %d fmt %d depth %d, image %zux%zu ch %d alpha %d "
		         "fmt %d depth %d",
		         info.width, info.height, info.channels, info.has_alpha, (int)info.format,
		         info.depth, imf_image_width(img), imf_image_height(img),
		         imf_image_channels(img), imf_image_has_alpha(img), (int)fmt,
		         imf_image_source_depth(img));
		fuzz_fail("imf_read_info disagrees with imf_read", detail);
	}
	return img;
}

/*
 * The reader harnesses: inputs whose first bytes are not this harness's
 * format are skipped (the other harnesses cover them), so each fuzzer stays
 * in its parser.  want_gray follows the input's length, so both settings are
 * explored without spending input bytes on it.
 */
static inline int fuzz_reader(const uint8_t *data, size_t size, imf_format want)
{
	imf_read_opts opts;
	imf_image *img;

	if (want != IMF_FORMAT_UNKNOWN && imf_format_detect(data, size < 16 ? size : 16) != want)
		return -1; /* rejected: not added to the corpus */
	fuzz_read_opts(&opts, FUZZ_MAX_PIXELS, (int)(size & 1));
	img = fuzz_read_checked(data, size, &opts);
	imf_image_free(img);
	return 0;
}

#endif
