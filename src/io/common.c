/*
 * common.c - what the codecs share (see io.h): errno-keeping reads and
 * writes, the netpbm-style header scanner, chunked raw rasters, samples to
 * planes and back, and library message case.
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

imf_status imf_rowbuf_init(imf_rowbuf *rb, size_t rowbytes, size_t height, imf_error *err)
{
	memset(rb, 0, sizeof *rb);
	rb->rowbytes = rowbytes;
	rb->per_chunk = rowbytes >= CHUNK_BYTES ? 1 : CHUNK_BYTES / rowbytes;
	if (rb->per_chunk > height)
		rb->per_chunk = height;
	rb->left = height;
	/* per_chunk * rowbytes <= max(rowbytes, CHUNK_BYTES) */
	rb->buf = imf_alloc_array(rb->per_chunk, rowbytes, err);
	return rb->buf ? IMF_OK : IMF_ENOMEM;
}

imf_status imf_rowbuf_next(imf_rowbuf *rb, imf_src *s, const char *fmt,
                           const unsigned char **row, imf_error *err)
{
	if (rb->used == rb->have) {
		size_t nrows = rb->left < rb->per_chunk ? rb->left : rb->per_chunk;
		int e;
		if (nrows == 0)
			return imf_error_set(err, IMF_EINVAL, "%s: no rows left", fmt);
		/* nrows * rowbytes <= the buffer's size */
		if (imf_io_read(s, rb->buf, nrows * rb->rowbytes, &e) != nrows * rb->rowbytes)
			return e ? imf_io_read_error(err, fmt, e)
			         : imf_error_set(err, IMF_ECORRUPT, "%s: truncated pixel data", fmt);
		rb->left -= nrows;
		rb->have = nrows;
		rb->used = 0;
	}
	*row = rb->buf + rb->used++ * rb->rowbytes;
	return IMF_OK;
}

void imf_rowbuf_free(imf_rowbuf *rb)
{
	free(rb->buf);
	rb->buf = NULL;
}

/* ---- samples in ------------------------------------------------------------- */

/*
 * One loop per channel count, so that the stride is a constant the
 * vectorizer can see; IMF_SIMD builds an AVX2 copy beside the baseline.
 */
#define UNPACK(name, nch, expr)                                                      \
	IMF_SIMD static void name(const unsigned char *restrict in, size_t n,            \
	                          float *const *out)                                     \
	{                                                                                \
		for (int c = 0; c < nch; c++) {                                          \
			float *restrict o = out[c];                                      \
			for (size_t x = 0; x < n; x++)                                   \
				o[x] = expr;                                             \
		}                                                                        \
	}

#define S8(nch) (float)in[x * (nch) + (size_t)c]
#define S16(nch) (float)(unsigned)(in[2 * (x * (nch) + (size_t)c)] << 8 |             \
                                   in[2 * (x * (nch) + (size_t)c) + 1]) / 257.0f

UNPACK(unpack8_1, 1, S8(1))
UNPACK(unpack8_2, 2, S8(2))
UNPACK(unpack8_3, 3, S8(3))
UNPACK(unpack8_4, 4, S8(4))
UNPACK(unpack16_1, 1, S16(1))
UNPACK(unpack16_2, 2, S16(2))
UNPACK(unpack16_3, 3, S16(3))
UNPACK(unpack16_4, 4, S16(4))

void imf_io_unpack8(const unsigned char *in, size_t n, int nch, float *const *out)
{
	switch (nch) {
	case 1: unpack8_1(in, n, out); break;
	case 2: unpack8_2(in, n, out); break;
	case 3: unpack8_3(in, n, out); break;
	default: unpack8_4(in, n, out); break;
	}
}

void imf_io_unpack16(const unsigned char *in, size_t n, int nch, float *const *out)
{
	switch (nch) {
	case 1: unpack16_1(in, n, out); break;
	case 2: unpack16_2(in, n, out); break;
	case 3: unpack16_3(in, n, out); break;
	default: unpack16_4(in, n, out); break;
	}
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
