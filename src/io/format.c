/*
 * format.c - format detection and the read/write entry points.
 *
 * Input formats are recognised from their first bytes only, never from a
 * file name; output formats come from a name (-f) or a path's extension.
 * imf_read, imf_read_info and imf_write are the streaming reader and writer
 * (stream.c) run over the whole image at once, so there is one decoder and
 * one encoder per format.
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
	imf_limits lim;

	imf_limits_default(&lim);
	opts->map = IMF_MAP_CLAMP;
	opts->quality = 90;
	opts->depth = 0;
	opts->png_level = IMF_PNG_DEFAULT_LEVEL;
	opts->png_filter = IMF_PNG_DEFAULT_FILTER;
	opts->max_memory = lim.max_memory;
}

static const char *const png_filter_names[] = {
	[IMF_PNG_FILTER_NONE] = "none",   [IMF_PNG_FILTER_SUB] = "sub",
	[IMF_PNG_FILTER_UP] = "up",       [IMF_PNG_FILTER_AVG] = "avg",
	[IMF_PNG_FILTER_PAETH] = "paeth", [IMF_PNG_FILTER_ALL] = "all",
};

imf_status imf_png_filter_parse(const char *name, imf_png_filter *out, imf_error *err)
{
	for (size_t i = 0; i < sizeof png_filter_names / sizeof png_filter_names[0]; i++) {
		if (strcasecmp(name, png_filter_names[i]) == 0) {
			*out = (imf_png_filter)i;
			return IMF_OK;
		}
	}
	return imf_error_set(err, IMF_EINVAL,
	                     "unknown PNG filter '%s' (none, sub, up, avg, paeth, all)", name);
}

const char *imf_png_filter_name(imf_png_filter f)
{
	return (size_t)f < sizeof png_filter_names / sizeof png_filter_names[0]
	       ? png_filter_names[f] : "?";
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

/*
 * The format of fp's content; the detector's bytes stay buffered in src for
 * the reader.
 */
imf_status imf_io_detect(FILE *fp, imf_src *src, imf_format *fmt, imf_error *err)
{
	unsigned char magic[16];
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
	*fmt = imf_format_detect(magic, n);
	if (*fmt != IMF_FORMAT_UNKNOWN)
		return IMF_OK;
	if (e)
		return imf_io_read_error(err, NULL, e);
	return imf_error_set(err, IMF_EFORMAT,
	                     "unknown format (not PNG, JPEG, netpbm, PFM or a text matrix)");
}

/* The reader over every row at once, into an image of the reader's layout. */
imf_status imf_read(FILE *fp, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	imf_reader *r = NULL;
	imf_status st;

	*out = NULL;
	if ((st = imf_reader_start(fp, opts, 0, &r, err)) != IMF_OK)
		return st;
	st = imf_reader_read_image(r, out, err);
	imf_reader_free(r);
	return st;
}

imf_status imf_reader_read_image(imf_reader *r, imf_image **out, imf_error *err)
{
	imf_image *img = NULL;
	imf_status st;
	imf_info in;

	*out = NULL;
	imf_reader_info(r, &in);
	st = imf_check_memory(in.width, in.height, in.channels, r->opts.limits.max_memory,
	                      imf_format_name(in.format), err);
	if (st == IMF_OK)
		st = imf_io_name_failure(in.format,
		                         imf_image_new(in.width, in.height, in.channels, in.has_alpha,
		                                       &r->opts.limits, &img, err),
		                         err);
	if (st == IMF_OK) {
		imf_image_set_source(img, in.format, in.depth);
		st = imf_reader_read(r, img, 0, in.height, err);
	}
	if (st != IMF_OK) {
		imf_image_free(img);
		return st;
	}
	*out = img;
	return IMF_OK;
}

/* The reader opened for the header only (a text matrix is parsed whole). */
imf_status imf_read_info(FILE *fp, const imf_read_opts *opts, imf_info *info, imf_error *err)
{
	imf_reader *r;
	imf_status st;

	memset(info, 0, sizeof *info);
	if ((st = imf_reader_start(fp, opts, 1, &r, err)) != IMF_OK)
		return st;
	imf_reader_info(r, info);
	imf_reader_free(r);
	return IMF_OK;
}

/* The writer given the whole image in one call (kept by reference where it must be held). */
imf_status imf_write(FILE *fp, const imf_image *img, imf_format fmt, const imf_write_opts *opts,
                     imf_error *err)
{
	imf_writer *w;
	imf_status st;

	st = imf_writer_start(fp, fmt, img->width, img->height, img->channels, img->has_alpha,
	                      img->src_format, img->src_depth, opts, 1, &w, err);
	if (st != IMF_OK)
		return st;
	st = imf_writer_write(w, img, 0, img->height, err);
	if (st == IMF_OK)
		st = imf_writer_finish(w, err);
	imf_writer_free(w);
	return st;
}
