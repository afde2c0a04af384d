/*
 * pfm.c - Portable Float Map: raw float32 images, in and out.
 *
 * Layout: "Pf" (1 channel) or "PF" (3 channels), white space, width, height,
 * a scale whose sign gives the byte order (negative = little-endian,
 * positive = big-endian), exactly one white-space byte, then float32 rows
 * stored BOTTOM-TO-TOP.  The values are imfilter's raw values, untouched:
 * |scale| is ignored (but must be finite and non-zero), nothing is mapped,
 * which is what makes PFM the lossless output for results of any range.
 * Byte order is decoded and encoded byte by byte, so the host's own order
 * never matters.  Non-finite samples are refused on input.
 */
#include "io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_MAX 1024 /* bytes before the raster */

/*
 * Every header token ends with one white-space byte; after the scale that
 * byte is the single separator before the raster.  A token that runs to the
 * end of the input (whatever else is wrong with it) is a truncated header.
 */
static imf_status check_end(imf_scanner *h, imf_status st)
{
	if (h->end == EOF)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: truncated header");
	return st;
}

static imf_status hdr_token(imf_scanner *h, char tok[IMF_SCAN_TOKEN_MAX + 1])
{
	h->end = 0;
	return check_end(h, imf_scan_token(h, tok));
}

/* A width or height: a number (see imf_scan_number), not 0. */
static imf_status hdr_size(imf_scanner *h, const char *what, size_t *out)
{
	unsigned long v = 0;
	imf_status st;

	h->end = 0;
	if ((st = check_end(h, imf_scan_number(h, what, &v))) != IMF_OK)
		return st;
	if (v == 0)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: %s is 0", what);
	*out = (size_t)v;
	return IMF_OK;
}

static imf_status read_header(imf_scanner *h, size_t *w, size_t *hgt, int *nch, int *le)
{
	char tok[IMF_SCAN_TOKEN_MAX + 1], *end;
	imf_status st;
	double scale;

	if ((st = hdr_token(h, tok)) != IMF_OK)
		return st;
	if (strcmp(tok, "Pf") != 0 && strcmp(tok, "PF") != 0)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: bad header: not a PFM file");
	*nch = tok[1] == 'F' ? 3 : 1;
	if ((st = hdr_size(h, "width", w)) != IMF_OK || (st = hdr_size(h, "height", hgt)) != IMF_OK)
		return st;
	if ((st = hdr_token(h, tok)) != IMF_OK)
		return st;
	scale = strtod(tok, &end);
	if (end == tok || *end != '\0' || !isfinite(scale) || scale == 0.0)
		return imf_error_set(h->err, IMF_ECORRUPT,
		                     "PFM: bad header: scale '%s' is not a non-zero finite number", tok);
	*le = scale < 0;
	return IMF_OK;
}

typedef struct raster {
	imf_image *img;
	int le; /* little-endian samples */
	imf_error *err;
} raster;

/* File row r, which is image row height - 1 - r (an imf_row_fn). */
static imf_status raster_row(void *ctx, const unsigned char *p, size_t r)
{
	const raster *ra = ctx;
	imf_image *img = ra->img;
	const int nch = img->channels;
	const size_t y = img->height - 1 - r;

	for (size_t x = 0; x < img->width; x++) {
		for (int c = 0; c < nch; c++, p += 4) {
			uint32_t bits = ra->le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			                         (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
			                       : (uint32_t)p[3] | (uint32_t)p[2] << 8 |
			                         (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
			float v;
			memcpy(&v, &bits, sizeof v);
			if (!isfinite(v))
				return imf_error_set(ra->err, IMF_ECORRUPT,
				                     "PFM: non-finite value at %zu,%zu", x, y);
			imf_image_row(img, c, y)[x] = v;
		}
	}
	return IMF_OK;
}

/* The header, then imf_check_dims: shared by the reader and imf_pfm_read_info. */
static imf_status read_checked_header(imf_src *src, const imf_read_opts *opts, size_t *w,
                                      size_t *hgt, int *nch, int *le, imf_error *err)
{
	imf_scanner h = { .src = src, .err = err, .fmt = "PFM", .cap = HEADER_MAX,
	                  .over_code = IMF_ECORRUPT };
	imf_status st = read_header(&h, w, hgt, nch, le);

	if (st != IMF_OK)
		return st;
	return imf_check_dims(*w, *hgt, *nch, &opts->limits, "PFM", err);
}

/* opts is never NULL: imf_read supplies the defaults. */
imf_status imf_pfm_read(imf_src *src, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	imf_image *img = NULL;
	size_t w = 0, hgt = 0;
	int nch = 0, le = 0;
	imf_status st;

	*out = NULL;
	if ((st = read_checked_header(src, opts, &w, &hgt, &nch, &le, err)) != IMF_OK)
		return st;
	if ((st = imf_image_new(w, hgt, nch, 0, &opts->limits, &img, err)) != IMF_OK)
		return st;
	/* imf_check_dims proved w * nch * sizeof(float) fits. */
	raster ra = { img, le, err };
	st = imf_io_read_rows(src, w * (size_t)nch * 4, hgt, raster_row, &ra, "PFM", err);
	if (st != IMF_OK) {
		imf_image_free(img);
		return st;
	}
	imf_image_set_source(img, IMF_FORMAT_PFM, 32);
	*out = img;
	return IMF_OK;
}

imf_status imf_pfm_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                             imf_error *err)
{
	size_t w = 0, hgt = 0;
	int nch = 0, le = 0;
	imf_status st = read_checked_header(src, opts, &w, &hgt, &nch, &le, err);

	if (st != IMF_OK)
		return st;
	info->width = w;
	info->height = hgt;
	info->channels = nch;
	info->has_alpha = 0;
	info->format = IMF_FORMAT_PFM;
	info->depth = 32;
	return IMF_OK;
}

/* Pf for one colour plane, PF for three (alpha dropped); little-endian, scale -1. */
imf_status imf_pfm_write(FILE *fp, const imf_image *img, const imf_write_opts *opts,
                         imf_error *err)
{
	const int nch = imf_color_planes(img);
	const size_t w = img->width;
	char header[64];
	size_t rowbytes;
	unsigned char *row;
	imf_status st = IMF_OK;
	int e;

	(void)opts;
	if (!imf_size_mul(w, (size_t)nch * 4, &rowbytes))
		return imf_error_set(err, IMF_ELIMIT, "PFM: row too large");
	row = imf_alloc_array(rowbytes, 1, err);
	if (!row)
		return IMF_ENOMEM;
	int n = snprintf(header, sizeof header, "P%c\n%zu %zu\n-1.0\n", nch == 1 ? 'f' : 'F', w,
	                 img->height);
	if ((e = imf_io_write(fp, header, (size_t)n)) != 0) {
		st = imf_io_write_error(err, "PFM", e);
		goto cleanup;
	}
	for (size_t r = 0; r < img->height; r++) {
		size_t y = img->height - 1 - r;
		unsigned char *p = row;
		for (size_t x = 0; x < w; x++) {
			for (int c = 0; c < nch; c++, p += 4) {
				float v = imf_image_row_const(img, c, y)[x];
				uint32_t bits;
				memcpy(&bits, &v, sizeof bits);
				p[0] = (unsigned char)(bits & 0xFF);
				p[1] = (unsigned char)(bits >> 8 & 0xFF);
				p[2] = (unsigned char)(bits >> 16 & 0xFF);
				p[3] = (unsigned char)(bits >> 24);
			}
		}
		if ((e = imf_io_write(fp, row, rowbytes)) != 0) {
			st = imf_io_write_error(err, "PFM", e);
			goto cleanup;
		}
	}
cleanup:
	free(row);
	return st;
}
