/*
 * error.c - the one error convention: every fallible call returns an
 * imf_status and fills a caller-owned imf_error with a one-line message.
 * Messages are lowercase, without a trailing period and without the file
 * name, which the caller puts first ("photo.png: PNG: truncated file").
 */
#include "internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing over U+10FFFF), or 0 if there is none.
 */
static size_t utf8_length(const unsigned char *p)
{
	unsigned lo = 0x80, hi = 0xBF;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

imf_status imf_error_set(imf_error *err, imf_status code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		if (vsnprintf(err->msg, sizeof err->msg, fmt, ap) < 0)
			err->msg[0] = '\0';
		va_end(ap);
		/*
		 * Messages may quote bytes from hostile files: never let control
		 * characters (escape sequences, newlines) reach a terminal or split
		 * the one-line message.  That includes the C1 controls (U+0080 to
		 * U+009F; 0x9B alone is CSI to an 8-bit terminal) and any byte
		 * that is not part of well-formed UTF-8; other UTF-8 text stays.
		 */
		unsigned char *p = (unsigned char *)err->msg;
		while (*p) {
			size_t n = utf8_length(p);
			if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f)) ||
			    (n == 2 && p[0] == 0xC2 && p[1] < 0xA0)) {
				*p++ = '?';
				continue;
			}
			p += n;
		}
	}
	return code;
}

const char *imf_status_str(imf_status code)
{
	switch (code) {
	case IMF_OK: return "success";
	case IMF_ENOMEM: return "out of memory";
	case IMF_EIO: return "input/output error";
	case IMF_EFORMAT: return "unknown format";
	case IMF_ECORRUPT: return "corrupt data";
	case IMF_EUNSUPPORTED: return "unsupported variant";
	case IMF_ELIMIT: return "limit exceeded";
	case IMF_EINVAL: return "invalid argument";
	}
	return "unknown error";
}

void imf_limits_default(imf_limits *lim)
{
	lim->max_pixels = (size_t)1 << 28;
	lim->max_side = 1000000;
	lim->max_kernel = 255;
	lim->max_memory = (size_t)1 << 30;
}

int imf_size_mul(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return 0;
	*out = a * b;
	return 1;
}

int imf_size_add(size_t a, size_t b, size_t *out)
{
	if (b > SIZE_MAX - a)
		return 0;
	*out = a + b;
	return 1;
}

imf_status imf_check_dims(size_t width, size_t height, int channels, const imf_limits *lim,
                          const char *fmt, imf_error *err)
{
	size_t pixels, values, bytes;

	if (width == 0 || height == 0)
		return imf_error_set(err, IMF_ECORRUPT, "%s: image is %zux%zu", fmt, width, height);
	if (channels < 1 || channels > IMF_MAX_PLANES)
		return imf_error_set(err, IMF_EUNSUPPORTED, "%s: %d channels", fmt, channels);
	if (lim && (width > lim->max_side || height > lim->max_side))
		return imf_error_set(err, IMF_ELIMIT,
		                     "%s: %zux%zu is over the --max-side limit of %zu per side "
		                     "(raise it with --max-side)",
		                     fmt, width, height, lim->max_side);
	if (!imf_size_mul(width, height, &pixels) ||
	    !imf_size_mul(pixels, (size_t)channels, &values) ||
	    !imf_size_mul(values, sizeof(float), &bytes))
		return imf_error_set(err, IMF_ELIMIT, "%s: %zux%zu is too large to address", fmt,
		                     width, height);
	if (lim && pixels > lim->max_pixels)
		return imf_error_set(err, IMF_ELIMIT,
		                     "%s: %zux%zu is %zu pixels, over the --max-pixels limit of %zu "
		                     "(raise it with --max-pixels)",
		                     fmt, width, height, pixels, lim->max_pixels);
	return IMF_OK;
}

/* *bytes = n * size, plus `extra`; 0 (IMF_ENOMEM set) on overflow. */
static int alloc_bytes(size_t n, size_t size, size_t extra, size_t *bytes, imf_error *err)
{
	if (!imf_size_mul(n, size, bytes) || *bytes > SIZE_MAX - extra) {
		imf_error_set(err, IMF_ENOMEM, "out of memory (%zu x %zu bytes)", n, size);
		return 0;
	}
	*bytes += extra;
	return 1;
}

void *imf_alloc_array(size_t n, size_t size, imf_error *err)
{
	size_t bytes;
	void *p;

	if (!alloc_bytes(n, size, 0, &bytes, err))
		return NULL;
	p = malloc(bytes ? bytes : 1);
	if (!p)
		imf_error_set(err, IMF_ENOMEM, "out of memory (%zu bytes)", bytes);
	return p;
}

void *imf_alloc_aligned(size_t n, size_t size, imf_error *err)
{
	size_t bytes;
	void *p;

	/* aligned_alloc wants a non-zero multiple of the alignment */
	if (!alloc_bytes(n, size, IMF_ALIGN, &bytes, err))
		return NULL;
	bytes = bytes / IMF_ALIGN * IMF_ALIGN;
	p = aligned_alloc(IMF_ALIGN, bytes);
	if (!p)
		imf_error_set(err, IMF_ENOMEM, "out of memory (%zu bytes)", bytes);
	return p;
}
