/*
 * src.c - an input stream with a small push-back buffer.
 *
 * The format is detected from the first bytes of the content, and the input
 * may be a pipe that cannot seek; so the detector peeks into a buffer here
 * and every reader then reads through imf_src, which serves those bytes
 * first.
 */
#include "internal.h"

#include <string.h>

void imf_src_init(imf_src *s, FILE *fp)
{
	memset(s, 0, sizeof *s);
	s->fp = fp;
}

size_t imf_src_peek(imf_src *s, unsigned char *out, size_t n)
{
	if (n > sizeof s->buf)
		n = sizeof s->buf;
	/* Compact, then top up from the stream. */
	if (s->pos > 0) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->len -= s->pos;
		s->pos = 0;
	}
	while (s->len < n) {
		size_t got = fread(s->buf + s->len, 1, n - s->len, s->fp);
		if (got == 0)
			break;
		s->len += got;
	}
	if (n > s->len)
		n = s->len;
	memcpy(out, s->buf, n);
	return n;
}

size_t imf_src_read(imf_src *s, void *out, size_t n)
{
	unsigned char *o = out;
	size_t done = 0;

	if (s->pos < s->len) {
		size_t k = s->len - s->pos;
		if (k > n)
			k = n;
		memcpy(o, s->buf + s->pos, k);
		s->pos += k;
		done = k;
	}
	while (done < n) {
		size_t got = fread(o + done, 1, n - done, s->fp);
		if (got == 0)
			break;
		done += got;
	}
	return done;
}

int imf_src_getc(imf_src *s)
{
	if (s->pos < s->len)
		return s->buf[s->pos++];
	return getc(s->fp);
}

int imf_src_error(const imf_src *s)
{
	return ferror(s->fp) != 0;
}
