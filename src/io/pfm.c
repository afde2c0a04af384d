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
 *
 * Rows stored bottom-up cannot stream top-down: the reader decodes the whole
 * raster at its first read and the writer encodes at finish (imf_reader_read
 * and imf_writer_write hold the image, within the memory limit).
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

/* One file row, p, into row y of img: 4-byte samples, channels interleaved. */
static imf_status raster_row(const unsigned char *p, int le, imf_image *img, size_t first,
                             size_t y, imf_error *err)
{
	const int nch = img->channels;
	float *out[3];

	for (int c = 0; c < nch; c++)
		out[c] = imf_image_row(img, c, first + y);
	for (size_t x = 0; x < img->width; x++) {
		for (int c = 0; c < nch; c++, p += 4) {
			uint32_t bits = le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
			                   : (uint32_t)p[3] | (uint32_t)p[2] << 8 |
			                     (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
			float v;
			memcpy(&v, &bits, sizeof v);
			if (!isfinite(v))
				return imf_error_set(err, IMF_ECORRUPT,
				                     "PFM: non-finite value at %zu,%zu", x, y);
			out[c][x] = v;
		}
	}
	return IMF_OK;
}

typedef struct pfm_reader {
	int le; /* little-endian samples */
} pfm_reader;

static imf_status pfm_reader_open(imf_reader *r, imf_error *err)
{
	imf_scanner h = { .src = &r->src, .err = err, .fmt = "PFM", .cap = HEADER_MAX,
	                  .over_code = IMF_ECORRUPT };
	pfm_reader *p = calloc(1, sizeof *p);
	size_t w = 0, hgt = 0;
	int nch = 0;
	imf_status st;

	if (!p)
		return imf_error_set(err, IMF_ENOMEM, "PFM: out of memory");
	r->state = p;
	if ((st = read_header(&h, &w, &hgt, &nch, &p->le)) != IMF_OK ||
	    (st = imf_check_dims(w, hgt, nch, &r->opts.limits, "PFM", err)) != IMF_OK)
		return st;
	r->info.width = w;
	r->info.height = hgt;
	r->info.channels = nch;
	r->info.has_alpha = 0;
	r->info.format = IMF_FORMAT_PFM;
	r->info.depth = 32;
	r->streams = 0;
	r->whole_only = 1;
	return IMF_OK;
}

/* Every row (whole_only): file row r is image row height - 1 - r. */
static imf_status pfm_reader_rows(imf_reader *r, imf_image *band, size_t first, size_t n,
                                  imf_error *err)
{
	const pfm_reader *p = r->state;
	const size_t hgt = r->info.height;
	imf_rowbuf rb;
	imf_status st;

	(void)n;
	/* imf_check_dims proved width * channels * sizeof(float) fits. */
	st = imf_rowbuf_init(&rb, r->info.width * (size_t)r->info.channels * 4, hgt, err);
	for (size_t fr = 0; fr < hgt && st == IMF_OK; fr++) {
		const unsigned char *row;
		st = imf_rowbuf_next(&rb, &r->src, "PFM", &row, err);
		if (st == IMF_OK)
			st = raster_row(row, p->le, band, first, hgt - 1 - fr, err);
	}
	imf_rowbuf_free(&rb);
	return st;
}

static void pfm_reader_close(imf_reader *r)
{
	free(r->state);
	r->state = NULL;
}

const imf_reader_ops imf_pfm_reader = { .open = pfm_reader_open, .rows = pfm_reader_rows,
	                                 .close = pfm_reader_close };

/*
 * Pf for one colour plane, PF for three (alpha dropped); little-endian,
 * scale -1.  Everything goes out at finish.
 */
static imf_status pfm_writer_open(imf_writer *w, imf_error *err)
{
	size_t rowbytes;

	if (!imf_size_mul(w->width, (size_t)imf_writer_color_planes(w) * 4, &rowbytes))
		return imf_error_set(err, IMF_ELIMIT, "PFM: row too large");
	return imf_writer_hold(w, err); /* rows go out bottom-up */
}

/* The whole image (whole_only): the header, then the rows bottom-up. */
static imf_status pfm_writer_rows(imf_writer *w, const imf_image *img, size_t first, size_t n,
                                  imf_error *err)
{
	const int nch = imf_writer_color_planes(w);
	const size_t width = w->width;
	const size_t rowbytes = width * (size_t)nch * 4; /* checked at open */
	unsigned char *row = imf_alloc_array(rowbytes, 1, err);
	imf_status st = IMF_OK;
	char header[64];
	int e;

	if (!row)
		return IMF_ENOMEM;
	int len = snprintf(header, sizeof header, "P%c\n%zu %zu\n-1.0\n", nch == 1 ? 'f' : 'F',
	                   width, w->height);
	if ((e = imf_io_write(w->fp, header, (size_t)len)) != 0) {
		free(row);
		return imf_io_write_error(err, "PFM", e);
	}
	for (size_t r = 0; r < n; r++) {
		size_t y = first + n - 1 - r;
		unsigned char *p = row;
		for (size_t x = 0; x < width; x++) {
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
		if ((e = imf_io_write(w->fp, row, rowbytes)) != 0) {
			st = imf_io_write_error(err, "PFM", e);
			break;
		}
	}
	free(row);
	return st;
}

static void pfm_writer_close(imf_writer *w)
{
	(void)w;
}

const imf_writer_ops imf_pfm_writer = { .open = pfm_writer_open, .rows = pfm_writer_rows,
	                                .close = pfm_writer_close };
