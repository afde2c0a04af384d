/*
 * format.c - format detection and the read/write entry points.
 *
 * Input formats are recognised from their first bytes only, never from a
 * file name; output formats come from a name (-f) or a path's extension.
 * imf_read and imf_read_info detect the format the same way (open_input) and
 * give every reader options (the defaults for NULL); imf_write flushes and
 * checks the stream after every writer, once.
 */
#include "io.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	imf_format fmt;
} format_names[] = {
	{ "png", IMF_FORMAT_PNG },  { "jpeg", IMF_FORMAT_JPEG }, { "jpg", IMF_FORMAT_JPEG },
	{ "jpe", IMF_FORMAT_JPEG }, { "pnm", IMF_FORMAT_PNM },   { "pgm", IMF_FORMAT_PNM },
	{ "ppm", IMF_FORMAT_PNM },  { "pbm", IMF_FORMAT_PNM },   { "pam", IMF_FORMAT_PNM },
	{ "pfm", IMF_FORMAT_PFM },  { "txt", IMF_FORMAT_TEXT },  { "text", IMF_FORMAT_TEXT },
};

void imf_read_opts_default(imf_read_opts *opts)
{
	imf_limits_default(&opts->limits);
	opts->want_gray = 0;
}

void imf_write_opts_default(imf_write_opts *opts)
{
	opts->map = IMF_MAP_CLAMP;
	opts->quality = 90;
	opts->depth = 0;
}

imf_format imf_format_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
		if (strcasecmp(name, format_names[i].name) == 0)
			return format_names[i].fmt;
	return IMF_FORMAT_UNKNOWN;
}

imf_format imf_format_from_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash + 1 : path, '.');
	if (!dot || dot[1] == '\0')
		return IMF_FORMAT_UNKNOWN;
	return imf_format_from_name(dot + 1);
}

const char *imf_format_name(imf_format fmt)
{
	switch (fmt) {
	case IMF_FORMAT_PNG: return "PNG";
	case IMF_FORMAT_JPEG: return "JPEG";
	case IMF_FORMAT_PNM: return "PNM";
	case IMF_FORMAT_PFM: return "PFM";
	case IMF_FORMAT_TEXT: return "text";
	case IMF_FORMAT_UNKNOWN: break;
	}
	return "unknown";
}

imf_format imf_format_detect(const unsigned char *m, size_t len)
{
	static const unsigned char png_sig[4] = { 0x89, 'P', 'N', 'G' };

	if (len >= 4 && memcmp(m, png_sig, 4) == 0)
		return IMF_FORMAT_PNG;
	if (len >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF)
		return IMF_FORMAT_JPEG;
	if (len >= 2 && m[0] == 'P') {
		if (m[1] >= '1' && m[1] <= '7')
			return IMF_FORMAT_PNM;
		if (m[1] == 'F' || m[1] == 'f')
			return IMF_FORMAT_PFM;
		return IMF_FORMAT_UNKNOWN;
	}
	/* A text matrix starts with a number, a comment or white space. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = m[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',')
			continue;
		if (isdigit(c) || c == '-' || c == '+' || c == '.' || c == '#')
			return IMF_FORMAT_TEXT;
		return IMF_FORMAT_UNKNOWN;
	}
	return len > 0 ? IMF_FORMAT_TEXT : IMF_FORMAT_UNKNOWN;
}

/* Each input format's reader and header-only reader (see io.h). */
typedef struct reader {
	imf_status (*read)(imf_src *src, const imf_read_opts *opts, imf_image **out,
	                   imf_error *err);
	imf_status (*read_info)(imf_src *src, const imf_read_opts *opts, imf_info *info,
	                        imf_error *err);
} reader;

static const reader readers[] = {
	[IMF_FORMAT_PNG] = { imf_png_read, imf_png_read_info },
	[IMF_FORMAT_JPEG] = { imf_jpeg_read, imf_jpeg_read_info },
	[IMF_FORMAT_PNM] = { imf_pnm_read, imf_pnm_read_info },
	[IMF_FORMAT_PFM] = { imf_pfm_read, imf_pfm_read_info },
	[IMF_FORMAT_TEXT] = { imf_text_read, imf_text_read_info },
};

/*
 * Start reading fp: wrap it in src (the detector's bytes stay buffered for
 * the reader) and pick the reader from the content.  An empty input, a read
 * error before any byte, or content of no known format is an error.
 */
static imf_status open_input(FILE *fp, imf_src *src, const reader **r, imf_error *err)
{
	unsigned char magic[16];
	imf_format fmt;
	size_t n;
	int e;

	imf_src_init(src, fp);
	errno = 0;
	n = imf_src_peek(src, magic, sizeof magic);
	e = imf_io_errno(src);
	if (n == 0) {
		if (e)
			return imf_io_read_error(err, NULL, e);
		return imf_error_set(err, IMF_ECORRUPT, "input is empty");
	}
	fmt = imf_format_detect(magic, n);
	if (fmt != IMF_FORMAT_UNKNOWN) {
		*r = &readers[fmt];
		return IMF_OK;
	}
	if (e)
		return imf_io_read_error(err, NULL, e);
	return imf_error_set(err, IMF_EFORMAT,
	                     "unknown format (not PNG, JPEG, netpbm, PFM or a text matrix)");
}

imf_status imf_read(FILE *fp, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	imf_src src;
	const reader *r;
	imf_read_opts def;
	imf_status st;

	*out = NULL;
	if (!opts) {
		imf_read_opts_default(&def);
		opts = &def;
	}
	if ((st = open_input(fp, &src, &r, err)) != IMF_OK)
		return st;
	st = r->read(&src, opts, out, err);
	/* Allocation failures come from shared code: name the format like every other error. */
	if (st == IMF_ENOMEM && err && strncmp(err->msg, "out of memory", 13) == 0) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s", err->msg);
		imf_error_set(err, st, "%s: %s", imf_format_name((imf_format)(r - readers)), msg);
	}
	return st;
}

imf_status imf_read_info(FILE *fp, const imf_read_opts *opts, imf_info *info, imf_error *err)
{
	imf_src src;
	const reader *r;
	imf_read_opts def;
	imf_status st;

	memset(info, 0, sizeof *info);
	if (!opts) {
		imf_read_opts_default(&def);
		opts = &def;
	}
	if ((st = open_input(fp, &src, &r, err)) != IMF_OK)
		return st;
	return r->read_info(&src, opts, info, err);
}

imf_status imf_write(FILE *fp, const imf_image *img, imf_format fmt, const imf_write_opts *opts,
                     imf_error *err)
{
	imf_write_opts def;
	imf_status st;
	int e;

	if (!opts) {
		imf_write_opts_default(&def);
		opts = &def;
	}
	if (opts->quality < 1 || opts->quality > 100)
		return imf_error_set(err, IMF_EINVAL, "JPEG quality %d is out of range 1..100",
		                     opts->quality);
	if (opts->depth != 0 && opts->depth != 8 && opts->depth != 16)
		return imf_error_set(err, IMF_EINVAL, "depth %d is not 8 or 16", opts->depth);
	switch (fmt) {
	case IMF_FORMAT_PNG: st = imf_png_write(fp, img, opts, err); break;
	case IMF_FORMAT_JPEG: st = imf_jpeg_write(fp, img, opts, err); break;
	case IMF_FORMAT_PNM: st = imf_pnm_write(fp, img, opts, err); break;
	case IMF_FORMAT_PFM: st = imf_pfm_write(fp, img, opts, err); break;
	case IMF_FORMAT_TEXT: st = imf_text_write(fp, img, opts, err); break;
	case IMF_FORMAT_UNKNOWN:
	default: return imf_error_set(err, IMF_EINVAL, "no output format");
	}
	if (st != IMF_OK)
		return st;
	/* Small files sit in stdio's buffer until now: the writers checked only
	 * their own writes. */
	errno = 0;
	if (fflush(fp) != 0 || ferror(fp)) {
		e = errno ? errno : EIO;
		return imf_io_write_error(err, imf_format_name(fmt), e);
	}
	return IMF_OK;
}
