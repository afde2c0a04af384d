/*
 * pnm.c - netpbm: P1-P6 and P7 (PAM) in, P5/P6 out.
 *
 * Every variant is read as one image of the file's own channels on the
 * 0..255 scale: a sample v of maxval M becomes v * 255 / M (so M = 65535
 * gives v / 257 exactly and nothing is lost), and the bitmaps P1/P4, where
 * 1 is black, become 0 and 255.  Only the first image of a multi-image file
 * is read.
 *
 * The header is hostile input: it is tokenised byte by byte (io.h's scanner)
 * with a cap on its total size (comments included) and on each token, and
 * numbers are bounded before anything is multiplied, so dimensions reach
 * imf_check_dims before any allocation they influence.  Raw pixel data is
 * read in chunks of whole rows; plain (ASCII) data goes through the same
 * scanner, uncapped, which sits on stdio's buffer.  The stream is never
 * seeked.
 */
#include "io.h"

#include <stdlib.h>
#include <string.h>

#define HEADER_MAX 65536 /* bytes of header, comments included */
#define NUMBER_MAX IMF_SCAN_NUMBER_MAX
#define MAXVAL_MAX 65535UL

typedef enum pnm_kind {
	KIND_PLAIN_BITS,  /* P1 */
	KIND_PLAIN,       /* P2, P3 */
	KIND_RAW_BITS,    /* P4 */
	KIND_RAW          /* P5, P6, P7 */
} pnm_kind;

typedef struct pnm_info {
	pnm_kind kind;
	unsigned long width, height, maxval;
	int channels;
	int has_alpha;
} pnm_info;

/* "'x'" for a printable byte, "byte 0x07" otherwise, for messages. */
static const char *describe_byte(int c, char buf[16])
{
	if (c > 32 && c < 127)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", (unsigned)c & 0xFFu);
	return buf;
}

/* P1-P6 after the magic: width, height and (except for bitmaps) maxval. */
static imf_status read_pnm_header(imf_scanner *s, int type, pnm_info *info)
{
	imf_status st;

	info->channels = (type == 3 || type == 6) ? 3 : 1;
	info->kind = type == 1 ? KIND_PLAIN_BITS
	           : type == 4 ? KIND_RAW_BITS
	           : type <= 3 ? KIND_PLAIN : KIND_RAW;
	info->maxval = 1;
	if ((st = imf_scan_number(s, "width", &info->width)) != IMF_OK ||
	    (st = imf_scan_number(s, "height", &info->height)) != IMF_OK)
		return st;
	if (type != 1 && type != 4)
		st = imf_scan_number(s, "maxval", &info->maxval);
	return st;
}

static const struct {
	const char *name;
	int depth;
	int bilevel; /* maxval must be 1 */
} tuple_types[] = {
	{ "GRAYSCALE", 1, 0 },     { "GRAYSCALE_ALPHA", 2, 0 },
	{ "RGB", 3, 0 },           { "RGB_ALPHA", 4, 0 },
	{ "BLACKANDWHITE", 1, 1 }, { "BLACKANDWHITE_ALPHA", 2, 1 },
};

/*
 * P7 after the magic: "KEYWORD value" lines up to ENDHDR.  DEPTH must match
 * TUPLTYPE; without TUPLTYPE, DEPTH 1-4 means gray, gray+alpha, RGB, RGBA.
 * PAM's BLACKANDWHITE has 0 = black, unlike PBM, so it needs no inversion.
 */
static imf_status read_pam_header(imf_scanner *s, pnm_info *info)
{
	char tok[IMF_SCAN_TOKEN_MAX + 1], tupltype[IMF_SCAN_TOKEN_MAX + 1] = "";
	unsigned long depth = 0;
	int have_w = 0, have_h = 0, have_d = 0, have_m = 0;
	imf_status st;

	info->kind = KIND_RAW;
	for (;;) {
		if ((st = imf_scan_token(s, tok)) != IMF_OK)
			return st;
		if (strcmp(tok, "ENDHDR") == 0)
			break;
		if (strcmp(tok, "WIDTH") == 0) {
			st = imf_scan_number(s, "width", &info->width);
			have_w = 1;
		} else if (strcmp(tok, "HEIGHT") == 0) {
			st = imf_scan_number(s, "height", &info->height);
			have_h = 1;
		} else if (strcmp(tok, "DEPTH") == 0) {
			st = imf_scan_number(s, "depth", &depth);
			have_d = 1;
		} else if (strcmp(tok, "MAXVAL") == 0) {
			st = imf_scan_number(s, "maxval", &info->maxval);
			have_m = 1;
		} else if (strcmp(tok, "TUPLTYPE") == 0) {
			st = imf_scan_token(s, tupltype);
		} else if (s->end == EOF) {
			/* A keyword cut off by the end of the file ("MA" of MAXVAL). */
			return imf_error_set(s->err, IMF_ECORRUPT, "PNM: truncated header");
		} else {
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "PNM: bad header: unknown PAM keyword '%s'", tok);
		}
		if (st != IMF_OK)
			return st;
	}
	if (!have_w || !have_h || !have_d || !have_m)
		return imf_error_set(s->err, IMF_ECORRUPT, "PNM: bad header: PAM header has no %s",
		                     !have_w ? "WIDTH" : !have_h ? "HEIGHT"
		                     : !have_d ? "DEPTH" : "MAXVAL");

	if (tupltype[0] == '\0') {
		if (depth < 1 || depth > 4)
			return imf_error_set(s->err, IMF_EUNSUPPORTED,
			                     "PNM: PAM depth %lu without a tuple type is not supported",
			                     depth);
	} else {
		size_t i, n = sizeof tuple_types / sizeof tuple_types[0];
		for (i = 0; i < n && strcmp(tupltype, tuple_types[i].name) != 0; i++)
			;
		if (i == n)
			return imf_error_set(s->err, IMF_EUNSUPPORTED,
			                     "PNM: PAM tuple type %s is not supported", tupltype);
		if (depth != (unsigned long)tuple_types[i].depth)
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "PNM: PAM depth %lu does not match tuple type %s (depth %d)",
			                     depth, tupltype, tuple_types[i].depth);
		if (tuple_types[i].bilevel && info->maxval != 1)
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "PNM: PAM tuple type %s needs maxval 1, not %lu", tupltype,
			                     info->maxval);
	}
	info->channels = (int)depth;
	info->has_alpha = depth == 2 || depth == 4;
	return IMF_OK;
}

/* The raster ended early (a failed read is reported where it fails). */
static imf_status truncated(imf_error *err)
{
	return imf_error_set(err, IMF_ECORRUPT, "PNM: truncated pixel data");
}

static imf_status sample_too_big(unsigned long v, unsigned long maxval, imf_error *err)
{
	return imf_error_set(err, IMF_ECORRUPT, "PNM: sample %lu exceeds maxval %lu", v, maxval);
}

/* P1: one '0' or '1' per pixel, white space and comments optional. */
static imf_status read_plain_bits(imf_scanner *s, imf_image *img)
{
	char b[16];
	imf_status st;
	int c;

	for (size_t y = 0; y < img->height; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < img->width; x++) {
			if ((st = imf_scan_skip(s, &c)) != IMF_OK)
				return st;
			if (c == EOF)
				return truncated(s->err);
			if (c != '0' && c != '1')
				return imf_error_set(s->err, IMF_ECORRUPT,
				                     "PNM: bad %s in P1 pixel data", describe_byte(c, b));
			row[x] = c == '1' ? 0.0f : 255.0f;
		}
	}
	return IMF_OK;
}

/* P2/P3: decimal samples separated by white space or comments. */
static imf_status read_plain(imf_scanner *s, imf_image *img, unsigned long maxval,
                             const float *scale)
{
	char b[16];
	imf_status st;
	int c;

	for (size_t y = 0; y < img->height; y++) {
		for (size_t x = 0; x < img->width; x++) {
			for (int ch = 0; ch < img->channels; ch++) {
				unsigned long long v = 0;
				if ((st = imf_scan_skip(s, &c)) != IMF_OK)
					return st;
				if (c == EOF)
					return truncated(s->err);
				if (c < '0' || c > '9')
					return imf_error_set(s->err, IMF_ECORRUPT,
					                     "PNM: bad %s in plain pixel data",
					                     describe_byte(c, b));
				while (c >= '0' && c <= '9') {
					if (v <= NUMBER_MAX) /* past it, v only says "too big" */
						v = v * 10 + (unsigned)(c - '0');
					if ((st = imf_scan_getc(s, &c)) != IMF_OK)
						return st;
				}
				if (c == '#')
					st = imf_scan_comment(s);
				else if (c != EOF && !imf_is_space(c))
					st = imf_error_set(s->err, IMF_ECORRUPT,
					                   "PNM: bad %s in plain pixel data",
					                   describe_byte(c, b));
				if (st != IMF_OK)
					return st;
				if (v > maxval)
					return v > NUMBER_MAX
					       ? imf_error_set(s->err, IMF_ECORRUPT,
					                       "PNM: sample over %lu exceeds maxval %lu",
					                       NUMBER_MAX, maxval)
					       : sample_too_big((unsigned long)v, maxval, s->err);
				imf_image_row(img, ch, y)[x] = scale[v];
			}
		}
	}
	return IMF_OK;
}

/*
 * Raw data (P4, P5, P6, P7): rows of rowbytes bytes.  P4 packs 8 pixels a
 * byte, most significant bit first, rows padded to a byte; the others
 * interleave channels, 1 byte per sample, or 2 big-endian bytes when
 * maxval > 255.
 */
typedef struct raw_rows {
	imf_image *img;
	const pnm_info *info;
	const float *scale;
	imf_error *err;
} raw_rows;

/* One raw row into image row y (an imf_row_fn). */
static imf_status raw_row(void *ctx, const unsigned char *p, size_t y)
{
	const raw_rows *rr = ctx;
	imf_image *img = rr->img;
	const size_t w = img->width;
	const int nch = img->channels;
	const int wide = rr->info->maxval > 255;
	const unsigned long maxval = rr->info->maxval;

	if (rr->info->kind == KIND_RAW_BITS) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < w; x++)
			row[x] = (p[x >> 3] >> (7 - (x & 7))) & 1 ? 0.0f : 255.0f;
		return IMF_OK;
	}
	for (int c = 0; c < nch; c++) {
		float *restrict row = imf_image_row(img, c, y);
		for (size_t x = 0; x < w; x++) {
			size_t i = x * (size_t)nch + (size_t)c;
			unsigned long v = wide ? (unsigned long)p[2 * i] << 8 | p[2 * i + 1] : p[i];
			if (v > maxval)
				return sample_too_big(v, maxval, rr->err);
			row[x] = rr->scale[v];
		}
	}
	return IMF_OK;
}

static imf_status read_raw(imf_src *src, imf_image *img, const pnm_info *info,
                           const float *scale, imf_error *err)
{
	raw_rows rr = { img, info, scale, err };
	size_t rowbytes;

	if (info->kind == KIND_RAW_BITS)
		rowbytes = img->width / 8 + (img->width % 8 != 0);
	else if (!imf_size_mul(img->width, (size_t)img->channels << (info->maxval > 255), &rowbytes))
		return imf_error_set(err, IMF_ELIMIT, "PNM: row too large");
	return imf_io_read_rows(src, rowbytes, img->height, raw_row, &rr, "PNM", err);
}

/* The source depth: 16 when samples take two bytes. */
static int sample_depth(const pnm_info *info)
{
	return info->maxval > 255 ? 16 : 8;
}

/* A scanner over the header: capped, with comments. */
static imf_scanner header_scanner(imf_src *src, imf_error *err)
{
	imf_scanner s = { .src = src, .err = err, .fmt = "PNM", .cap = HEADER_MAX,
	                  .over_code = IMF_ELIMIT, .comments = 1 };
	return s;
}

/*
 * The magic number and the header after it, checked (sizes not 0, maxval in
 * range, imf_check_dims): shared by the reader and imf_pnm_read_info.  On
 * success the input stands at the first byte of the raster.
 */
static imf_status read_header(imf_scanner *s, const imf_read_opts *opts, pnm_info *info)
{
	imf_error *err = s->err;
	imf_status st;
	char b[16];
	int c, type;

	if ((st = imf_scan_getc(s, &c)) != IMF_OK)
		return st;
	if (c != 'P')
		return imf_error_set(err, IMF_ECORRUPT, "PNM: bad header: not a netpbm file");
	if ((st = imf_scan_getc(s, &type)) != IMF_OK)
		return st;
	if (type < '1' || type > '7')
		return imf_error_set(err, IMF_ECORRUPT, "PNM: bad header: not a netpbm file");
	type -= '0';
	/* The magic number ends at white space or a comment, not at a digit. */
	if ((st = imf_scan_getc(s, &c)) != IMF_OK)
		return st;
	if (c == EOF)
		return imf_error_set(err, IMF_ECORRUPT, "PNM: truncated header");
	if (c == '#')
		st = imf_scan_comment(s);
	else if (!imf_is_space(c))
		st = imf_error_set(err, IMF_ECORRUPT, "PNM: bad header: P%d followed by %s", type,
		                   describe_byte(c, b));
	if (st != IMF_OK)
		return st;

	st = type == 7 ? read_pam_header(s, info) : read_pnm_header(s, type, info);
	if (st != IMF_OK)
		return st;
	if (info->width == 0 || info->height == 0)
		return imf_error_set(err, IMF_ECORRUPT, "PNM: %s is 0",
		                     info->width == 0 ? "width" : "height");
	if (info->maxval < 1 || info->maxval > MAXVAL_MAX)
		return imf_error_set(err, IMF_ECORRUPT, "PNM: maxval %lu is out of range 1..%lu",
		                     info->maxval, MAXVAL_MAX);
	return imf_check_dims(info->width, info->height, info->channels, &opts->limits, "PNM",
	                      err);
}

/* opts is never NULL: imf_read supplies the defaults. */
imf_status imf_pnm_read(imf_src *src, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	imf_scanner s = header_scanner(src, err);
	pnm_info info = { 0 };
	imf_image *img = NULL;
	float *scale = NULL;
	imf_status st;

	*out = NULL;
	if ((st = read_header(&s, opts, &info)) != IMF_OK)
		return st;

	st = imf_image_new(info.width, info.height, info.channels, info.has_alpha, &opts->limits,
	                   &img, err);
	if (st != IMF_OK)
		goto cleanup;
	/* sample v -> v * 255 / maxval, in double, so maxval 65535 gives v / 257. */
	scale = imf_alloc_array(info.maxval + 1, sizeof *scale, err);
	if (!scale) {
		st = IMF_ENOMEM;
		goto cleanup;
	}
	for (unsigned long v = 0; v <= info.maxval; v++)
		scale[v] = (float)((double)v * 255.0 / (double)info.maxval);

	/* The raster is not header: no cap on plain data and its comments. */
	s.cap = (size_t)-1;
	switch (info.kind) {
	case KIND_PLAIN_BITS: st = read_plain_bits(&s, img); break;
	case KIND_PLAIN: st = read_plain(&s, img, info.maxval, scale); break;
	case KIND_RAW_BITS:
	case KIND_RAW: st = read_raw(src, img, &info, scale, err); break;
	}
	if (st != IMF_OK)
		goto cleanup;
	imf_image_set_source(img, IMF_FORMAT_PNM, sample_depth(&info));
	*out = img;
	img = NULL;
cleanup:
	free(scale);
	imf_image_free(img);
	return st;
}

imf_status imf_pnm_read_info(imf_src *src, const imf_read_opts *opts, imf_info *out,
                             imf_error *err)
{
	imf_scanner s = header_scanner(src, err);
	pnm_info info = { 0 };
	imf_status st = read_header(&s, opts, &info);

	if (st != IMF_OK)
		return st;
	out->width = info.width;
	out->height = info.height;
	out->channels = info.channels;
	out->has_alpha = info.has_alpha;
	out->format = IMF_FORMAT_PNM;
	out->depth = sample_depth(&info);
	return IMF_OK;
}

/* ---- writing ------------------------------------------------------------- */

/*
 * P5 for one colour plane, P6 for three (alpha is dropped); maxval 255, or
 * 65535 with big-endian samples when the output depth is 16.  Values go
 * through the mapper.
 */
imf_status imf_pnm_write(FILE *fp, const imf_image *img, const imf_write_opts *opts,
                         imf_error *err)
{
	const int nch = imf_color_planes(img);
	const int depth = imf_output_depth(img, opts);
	const unsigned maxval = depth == 16 ? 65535u : 255u;
	char header[64];
	size_t nvals, rowbytes;
	unsigned char *row;
	imf_mapper m;
	imf_status st = IMF_OK;
	int e;

	if (!imf_size_mul(img->width, (size_t)nch, &nvals))
		return imf_error_set(err, IMF_ELIMIT, "PNM: row too large");
	/* Room for 16-bit values at either depth (imf_io_map_row). */
	row = imf_alloc_array(nvals, sizeof(uint16_t), err);
	if (!row)
		return IMF_ENOMEM;
	rowbytes = nvals * (size_t)(depth / 8);
	imf_mapper_init(&m, img, opts->map, maxval);

	int n = snprintf(header, sizeof header, "P%c\n%zu %zu\n%u\n", nch == 1 ? '5' : '6',
	                 img->width, img->height, maxval);
	if ((e = imf_io_write(fp, header, (size_t)n)) != 0) {
		st = imf_io_write_error(err, "PNM", e);
		goto cleanup;
	}
	for (size_t y = 0; y < img->height; y++) {
		imf_io_map_row(&m, img, y, nch, depth, row);
		if ((e = imf_io_write(fp, row, rowbytes)) != 0) {
			st = imf_io_write_error(err, "PNM", e);
			goto cleanup;
		}
	}
cleanup:
	free(row);
	return st;
}
