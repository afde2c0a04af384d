/*
 * common.c - what the codecs share (see io.h): errno-keeping reads and
 * writes, the netpbm-style header scanner, chunked raw rasters, mapped
 * integer rows and library message case.
 */
#include "io.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES 65536 /* raw rasters are read about this much at a time */

/* ---- errno -------------------------------------------------------------- */

size_t imf_io_read(imf_src *s, void *out, size_t n, int *e)
{
	errno = 0;
	size_t got = imf_src_read(s, out, n);
	*e = got < n ? imf_io_errno(s) : 0;
	return got;
}

int imf_io_getc(imf_src *s, int *e)
{
	errno = 0;
	int c = imf_src_getc(s);
	*e = c == EOF ? imf_io_errno(s) : 0;
	return c;
}

imf_status imf_io_read_error(imf_error *err, const char *fmt, int e)
{
	if (!fmt)
		return imf_error_set(err, IMF_EIO, "read error: %s", strerror(e));
	return imf_error_set(err, IMF_EIO, "%s: read error: %s", fmt, strerror(e));
}

int imf_io_write(FILE *fp, const void *buf, size_t n)
{
	errno = 0;
	if (n == 0 || fwrite(buf, 1, n, fp) == n)
		return 0;
	return errno ? errno : EIO;
}

imf_status imf_io_write_error(imf_error *err, const char *fmt, int e)
{
	return imf_error_set(err, IMF_EIO, "%s: write failed: %s", fmt, strerror(e));
}

/* ---- netpbm-style headers ------------------------------------------------ */

imf_status imf_scan_getc(imf_scanner *s, int *c)
{
	int e;
	*c = imf_io_getc(s->src, &e);
	if (*c == EOF)
		return e ? imf_io_read_error(s->err, s->fmt, e) : IMF_OK;
	if (++s->used > s->cap) {
		if (s->over_code == IMF_ELIMIT)
			return imf_error_set(s->err, IMF_ELIMIT, "%s: header is longer than %zu bytes",
			                     s->fmt, s->cap);
		return imf_error_set(s->err, s->over_code, "%s: bad header: longer than %zu bytes",
		                     s->fmt, s->cap);
	}
	return IMF_OK;
}

imf_status imf_scan_comment(imf_scanner *s)
{
	imf_status st;
	int c;
	do {
		st = imf_scan_getc(s, &c);
	} while (st == IMF_OK && c != '\n' && c != '\r' && c != EOF);
	return st;
}

imf_status imf_scan_skip(imf_scanner *s, int *c)
{
	imf_status st;
	for (;;) {
		st = imf_scan_getc(s, c);
		if (st != IMF_OK || *c == EOF)
			return st;
		if (s->comments && *c == '#') {
			if ((st = imf_scan_comment(s)) != IMF_OK)
				return st;
		} else if (!imf_is_space(*c)) {
			return IMF_OK;
		}
	}
}

imf_status imf_scan_token(imf_scanner *s, char tok[IMF_SCAN_TOKEN_MAX + 1])
{
	imf_status st;
	size_t n = 0;
	int c;

	if ((st = imf_scan_skip(s, &c)) != IMF_OK)
		return st;
	if (c == EOF)
		return imf_error_set(s->err, IMF_ECORRUPT, "%s: truncated header", s->fmt);
	while (c != EOF && !(s->comments && c == '#') && !imf_is_space(c)) {
		if (c < 0x21 || c > 0x7E) /* keeps messages printable */
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "%s: bad header: unexpected byte 0x%02x", s->fmt,
			                     (unsigned)c);
		if (n == IMF_SCAN_TOKEN_MAX)
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "%s: bad header: token longer than %d characters", s->fmt,
			                     IMF_SCAN_TOKEN_MAX);
		tok[n++] = (char)c;
		if ((st = imf_scan_getc(s, &c)) != IMF_OK)
			return st;
	}
	tok[n] = '\0';
	s->end = c;
	return c == '#' ? imf_scan_comment(s) : IMF_OK;
}

imf_status imf_scan_number(imf_scanner *s, const char *what, unsigned long *out)
{
	char tok[IMF_SCAN_TOKEN_MAX + 1];
	unsigned long long v = 0;
	imf_status st = imf_scan_token(s, tok);

	if (st != IMF_OK)
		return st;
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9')
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "%s: bad header: %s '%s' is not a number", s->fmt, what, tok);
		if (v <= IMF_SCAN_NUMBER_MAX) /* past it, v only says "too large" */
			v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > IMF_SCAN_NUMBER_MAX)
		return imf_error_set(s->err, IMF_ECORRUPT, "%s: bad header: %s %s is too large",
		                     s->fmt, what, tok);
	*out = (unsigned long)v;
	return IMF_OK;
}

/* ---- raw rasters --------------------------------------------------------- */

imf_status imf_io_read_rows(imf_src *s, size_t rowbytes, size_t height, imf_row_fn fn,
                            void *ctx, const char *fmt, imf_error *err)
{
	size_t per_chunk = rowbytes >= CHUNK_BYTES ? 1 : CHUNK_BYTES / rowbytes;
	imf_status st = IMF_OK;
	unsigned char *buf;

	if (per_chunk > height)
		per_chunk = height;
	/* per_chunk * rowbytes <= max(rowbytes, CHUNK_BYTES) */
	buf = imf_alloc_array(per_chunk, rowbytes, err);
	if (!buf)
		return IMF_ENOMEM;
	for (size_t r0 = 0; r0 < height && st == IMF_OK; r0 += per_chunk) {
		size_t nrows = height - r0 < per_chunk ? height - r0 : per_chunk;
		int e;
		if (imf_io_read(s, buf, nrows * rowbytes, &e) != nrows * rowbytes) {
			st = e ? imf_io_read_error(err, fmt, e)
			       : imf_error_set(err, IMF_ECORRUPT, "%s: truncated pixel data", fmt);
			break;
		}
		for (size_t r = 0; r < nrows && st == IMF_OK; r++)
			st = fn(ctx, buf + r * rowbytes, r0 + r);
	}
	free(buf);
	return st;
}

/* ---- integer rows out ----------------------------------------------------- */

void imf_io_map_row(const imf_mapper *m, const imf_image *img, size_t y, int nch, int depth,
                    unsigned char *row)
{
	if (depth != 16) {
		imf_mapper_row8(m, img, y, nch, row);
		return;
	}
	/* Map to native uint16, then store big-endian in place: byte pair i
	 * overlays value i, which is read before it is overwritten. */
	uint16_t *v = (uint16_t *)(void *)row;
	size_t n = img->width * (size_t)nch;
	imf_mapper_row16(m, img, y, nch, v);
	for (size_t i = 0; i < n; i++) {
		uint16_t s = v[i];
		row[2 * i] = (unsigned char)(s >> 8);
		row[2 * i + 1] = (unsigned char)(s & 0xFF);
	}
}

/* ---- library messages ------------------------------------------------------ */

char *imf_io_lib_message(char *buf, size_t size, const char *msg)
{
	snprintf(buf, size, "%s", msg ? msg : "unknown error");
	if (buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'a' && buf[1] <= 'z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}
