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
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_MAX 1024         /* bytes before the raster */
#define TOKEN_MAX 32            /* characters in one header token */
#define NUMBER_MAX 2147483647UL /* largest width or height a header may hold */
#define CHUNK_BYTES 65536       /* the raster is read about this much at a time */

typedef struct header_reader {
	imf_src *src;
	size_t used;
	imf_error *err;
} header_reader;

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static imf_status read_error(imf_error *err)
{
	return imf_error_set(err, IMF_EIO, "PFM: read error: %s", strerror(errno));
}

static imf_status hdr_getc(header_reader *h, int *c)
{
	*c = imf_src_getc(h->src);
	if (*c == EOF)
		return imf_src_error(h->src) ? read_error(h->err) : IMF_OK;
	if (++h->used > HEADER_MAX)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: bad header: longer than %d bytes",
		                     HEADER_MAX);
	return IMF_OK;
}

/*
 * A token after optional white space, ended by one white-space byte that is
 * consumed: after the scale that is the single separator before the raster.
 */
static imf_status hdr_token(header_reader *h, char tok[TOKEN_MAX + 1])
{
	imf_status st;
	size_t n = 0;
	int c;

	do {
		if ((st = hdr_getc(h, &c)) != IMF_OK)
			return st;
	} while (is_space(c));
	while (c != EOF && !is_space(c)) {
		if (c < 0x21 || c > 0x7E) /* keeps messages printable */
			return imf_error_set(h->err, IMF_ECORRUPT,
			                     "PFM: bad header: unexpected byte 0x%02x", (unsigned)c);
		if (n == TOKEN_MAX)
			return imf_error_set(h->err, IMF_ECORRUPT,
			                     "PFM: bad header: token longer than %d characters",
			                     TOKEN_MAX);
		tok[n++] = (char)c;
		if ((st = hdr_getc(h, &c)) != IMF_OK)
			return st;
	}
	tok[n] = '\0';
	if (c == EOF)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: truncated header");
	return IMF_OK;
}

static imf_status hdr_size(header_reader *h, const char *what, size_t *out)
{
	char tok[TOKEN_MAX + 1];
	unsigned long long v = 0;
	imf_status st = hdr_token(h, tok);

	if (st != IMF_OK)
		return st;
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9')
			return imf_error_set(h->err, IMF_ECORRUPT,
			                     "PFM: bad header: %s '%s' is not a number", what, tok);
		if (v <= NUMBER_MAX)
			v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > NUMBER_MAX)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: bad header: %s %s is too large",
		                     what, tok);
	if (v == 0)
		return imf_error_set(h->err, IMF_ECORRUPT, "PFM: %s is 0", what);
	*out = (size_t)v;
	return IMF_OK;
}

static imf_status read_header(header_reader *h, size_t *w, size_t *hgt, int *nch, int *le)
{
	char tok[TOKEN_MAX + 1], *end;
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

imf_status imf_pfm_read(imf_src *src, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	header_reader h = { src, 0, err };
	imf_read_opts def;
	imf_image *img = NULL;
	unsigned char *buf = NULL;
	size_t w = 0, hgt = 0, rowbytes, rows_per_chunk;
	int nch = 0, le = 0;
	imf_status st;

	*out = NULL;
	if (!opts) {
		imf_read_opts_default(&def);
		opts = &def;
	}
	if ((st = read_header(&h, &w, &hgt, &nch, &le)) != IMF_OK)
		return st;
	if ((st = imf_check_dims(w, hgt, nch, &opts->limits, "PFM", err)) != IMF_OK)
		return st;
	if ((st = imf_image_new(w, hgt, nch, 0, &opts->limits, &img, err)) != IMF_OK)
		return st;
	/* imf_check_dims proved w * nch * sizeof(float) fits. */
	rowbytes = w * (size_t)nch * 4;
	rows_per_chunk = rowbytes >= CHUNK_BYTES ? 1 : CHUNK_BYTES / rowbytes;
	if (rows_per_chunk > hgt)
		rows_per_chunk = hgt;
	buf = imf_alloc_array(rows_per_chunk, rowbytes, err);
	if (!buf) {
		st = IMF_ENOMEM;
		goto cleanup;
	}

	/* File row r is image row hgt - 1 - r. */
	for (size_t r0 = 0; r0 < hgt; r0 += rows_per_chunk) {
		size_t nrows = hgt - r0 < rows_per_chunk ? hgt - r0 : rows_per_chunk;
		if (imf_src_read(src, buf, nrows * rowbytes) != nrows * rowbytes) {
			st = imf_src_error(src) ? read_error(err)
			                        : imf_error_set(err, IMF_ECORRUPT,
			                                        "PFM: truncated pixel data");
			goto cleanup;
		}
		for (size_t r = 0; r < nrows; r++) {
			const unsigned char *p = buf + r * rowbytes;
			size_t y = hgt - 1 - (r0 + r);
			for (size_t x = 0; x < w; x++) {
				for (int c = 0; c < nch; c++, p += 4) {
					uint32_t bits = le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
					                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
					                   : (uint32_t)p[3] | (uint32_t)p[2] << 8 |
					                     (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
					float v;
					memcpy(&v, &bits, sizeof v);
					if (!isfinite(v)) {
						st = imf_error_set(err, IMF_ECORRUPT,
						                   "PFM: non-finite value at %zu,%zu", x, y);
						goto cleanup;
					}
					imf_image_row(img, c, y)[x] = v;
				}
			}
		}
	}
	imf_image_set_source(img, IMF_FORMAT_PFM, 32);
	*out = img;
	img = NULL;
cleanup:
	free(buf);
	imf_image_free(img);
	return st;
}

static imf_status write_failed(imf_error *err)
{
	return imf_error_set(err, IMF_EIO, "PFM: write failed: %s", strerror(errno));
}

/* Pf for one colour plane, PF for three (alpha dropped); little-endian, scale -1. */
imf_status imf_pfm_write(FILE *fp, const imf_image *img, const imf_write_opts *opts,
                         imf_error *err)
{
	const int nch = imf_color_planes(img);
	const size_t w = img->width;
	size_t rowbytes;
	unsigned char *row;
	imf_status st = IMF_OK;

	(void)opts;
	if (!imf_size_mul(w, (size_t)nch * 4, &rowbytes))
		return imf_error_set(err, IMF_ELIMIT, "PFM: row too large");
	row = imf_alloc_array(rowbytes, 1, err);
	if (!row)
		return IMF_ENOMEM;
	if (fprintf(fp, "P%c\n%zu %zu\n-1.0\n", nch == 1 ? 'f' : 'F', w, img->height) < 0) {
		st = write_failed(err);
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
		if (fwrite(row, 1, rowbytes, fp) != rowbytes) {
			st = write_failed(err);
			goto cleanup;
		}
	}
	if (fflush(fp) != 0 || ferror(fp))
		st = write_failed(err);
cleanup:
	free(row);
	return st;
}
