/*
 * pnm.c - netpbm: P1-P6 and P7 (PAM) in, P5/P6 out.
 *
 * Every variant is read as one image of the file's own channels on the
 * 0..255 scale: a sample v of maxval M becomes v * 255 / M (so M = 65535
 * gives v / 257 exactly and nothing is lost), and the bitmaps P1/P4, where
 * 1 is black, become 0 and 255.  Only the first image of a multi-image file
 * is read.
 *
 * The header is hostile input: it is tokenised byte by byte with a cap on its
 * total size (comments included) and on each token, and numbers are bounded
 * before anything is multiplied, so dimensions reach imf_check_dims before
 * any allocation they influence.  Raw pixel data is read in chunks of whole
 * rows; plain (ASCII) data goes through imf_src_getc, which sits on stdio's
 * buffer.  The stream is never seeked.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_MAX 65536         /* bytes of header, comments included */
#define TOKEN_MAX 32             /* characters in one header token */
#define NUMBER_MAX 2147483647UL  /* largest number a header may hold */
#define MAXVAL_MAX 65535UL
#define CHUNK_BYTES 65536        /* raw data is read about this much at a time */

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

/* A byte reader over the header (capped) or the plain raster (uncapped). */
typedef struct scanner {
	imf_src *src;
	size_t used, cap;
	imf_error *err;
} scanner;

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* "'x'" for a printable byte, "byte 0x07" otherwise, for messages. */
static const char *describe_byte(int c, char buf[16])
{
	if (c > 32 && c < 127)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", (unsigned)c & 0xFFu);
	return buf;
}

static imf_status read_error(imf_error *err)
{
	return imf_error_set(err, IMF_EIO, "PNM: read error: %s", strerror(errno));
}

/* Next byte into *c, or EOF at the end of the input. */
static imf_status scan_getc(scanner *s, int *c)
{
	*c = imf_src_getc(s->src);
	if (*c == EOF)
		return imf_src_error(s->src) ? read_error(s->err) : IMF_OK;
	if (++s->used > s->cap)
		return imf_error_set(s->err, IMF_ELIMIT, "PNM: header is longer than %d bytes",
		                     HEADER_MAX);
	return IMF_OK;
}

/* Skip the rest of a comment, through its end of line. */
static imf_status scan_comment(scanner *s)
{
	imf_status st;
	int c;
	do {
		st = scan_getc(s, &c);
	} while (st == IMF_OK && c != '\n' && c != '\r' && c != EOF);
	return st;
}

/* Skip white space and comments; *c is the first other byte, or EOF. */
static imf_status scan_skip(scanner *s, int *c)
{
	imf_status st;
	for (;;) {
		st = scan_getc(s, c);
		if (st != IMF_OK || *c == EOF || (*c != '#' && !is_space(*c)))
			return st;
		if (*c == '#' && (st = scan_comment(s)) != IMF_OK)
			return st;
	}
}

/*
 * One header token: a run of bytes up to white space, '#' or the end.  The
 * byte that ends it is consumed, so after the last header token exactly one
 * white-space byte (or a comment with its end of line) has been read, as the
 * format requires before raw data.  The end of input is "truncated header".
 */
static imf_status scan_token(scanner *s, char tok[TOKEN_MAX + 1])
{
	imf_status st;
	size_t n = 0;
	int c;

	if ((st = scan_skip(s, &c)) != IMF_OK)
		return st;
	if (c == EOF)
		return imf_error_set(s->err, IMF_ECORRUPT, "PNM: truncated header");
	while (c != EOF && c != '#' && !is_space(c)) {
		if (c < 0x21 || c > 0x7E) /* keeps messages printable */
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "PNM: bad header: unexpected byte 0x%02x", (unsigned)c);
		if (n == TOKEN_MAX)
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "PNM: bad header: token longer than %d characters",
			                     TOKEN_MAX);
		tok[n++] = (char)c;
		if ((st = scan_getc(s, &c)) != IMF_OK)
			return st;
	}
	tok[n] = '\0';
	return c == '#' ? scan_comment(s) : IMF_OK;
}

/* A decimal header number, at most NUMBER_MAX; what names it in messages. */
static imf_status scan_number(scanner *s, const char *what, unsigned long *out)
{
	char tok[TOKEN_MAX + 1];
	unsigned long long v = 0;
	imf_status st = scan_token(s, tok);

	if (st != IMF_OK)
		return st;
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9')
			return imf_error_set(s->err, IMF_ECORRUPT,
			                     "PNM: bad header: %s '%s' is not a number", what, tok);
		if (v <= NUMBER_MAX)
			v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > NUMBER_MAX)
		return imf_error_set(s->err, IMF_ECORRUPT, "PNM: bad header: %s %s is too large",
		                     what, tok);
	*out = (unsigned long)v;
	return IMF_OK;
}

/* P1-P6 after the magic: width, height and (except for bitmaps) maxval. */
static imf_status read_pnm_header(scanner *s, int type, pnm_info *info)
{
	imf_status st;

	info->channels = (type == 3 || type == 6) ? 3 : 1;
	info->kind = type == 1 ? KIND_PLAIN_BITS
	           : type == 4 ? KIND_RAW_BITS
	           : type <= 3 ? KIND_PLAIN : KIND_RAW;
	info->maxval = 1;
	if ((st = scan_number(s, "width", &info->width)) != IMF_OK ||
	    (st = scan_number(s, "height", &info->height)) != IMF_OK)
		return st;
	if (type != 1 && type != 4)
		st = scan_number(s, "maxval", &info->maxval);
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
static imf_status read_pam_header(scanner *s, pnm_info *info)
{
	char tok[TOKEN_MAX + 1], tupltype[TOKEN_MAX + 1] = "";
	unsigned long depth = 0;
	int have_w = 0, have_h = 0, have_d = 0, have_m = 0;
	imf_status st;

	info->kind = KIND_RAW;
	for (;;) {
		if ((st = scan_token(s, tok)) != IMF_OK)
			return st;
		if (strcmp(tok, "ENDHDR") == 0)
			break;
		if (strcmp(tok, "WIDTH") == 0) {
			st = scan_number(s, "width", &info->width);
			have_w = 1;
		} else if (strcmp(tok, "HEIGHT") == 0) {
			st = scan_number(s, "height", &info->height);
			have_h = 1;
		} else if (strcmp(tok, "DEPTH") == 0) {
			st = scan_number(s, "depth", &depth);
			have_d = 1;
		} else if (strcmp(tok, "MAXVAL") == 0) {
			st = scan_number(s, "maxval", &info->maxval);
			have_m = 1;
		} else if (strcmp(tok, "TUPLTYPE") == 0) {
			st = scan_token(s, tupltype);
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

static imf_status truncated(imf_src *src, imf_error *err)
{
	if (imf_src_error(src))
		return read_error(err);
	return imf_error_set(err, IMF_ECORRUPT, "PNM: truncated pixel data");
}

static imf_status sample_too_big(unsigned long v, unsigned long maxval, imf_error *err)
{
	return imf_error_set(err, IMF_ECORRUPT, "PNM: sample %lu exceeds maxval %lu", v, maxval);
}

/* P1: one '0' or '1' per pixel, white space and comments optional. */
static imf_status read_plain_bits(scanner *s, imf_image *img)
{
	char b[16];
	imf_status st;
	int c;

	for (size_t y = 0; y < img->height; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < img->width; x++) {
			if ((st = scan_skip(s, &c)) != IMF_OK)
				return st;
			if (c == EOF)
				return truncated(s->src, s->err);
			if (c != '0' && c != '1')
				return imf_error_set(s->err, IMF_ECORRUPT,
				                     "PNM: bad %s in P1 pixel data", describe_byte(c, b));
			row[x] = c == '1' ? 0.0f : 255.0f;
		}
	}
	return IMF_OK;
}

/* P2/P3: decimal samples separated by white space or comments. */
static imf_status read_plain(scanner *s, imf_image *img, unsigned long maxval,
                             const float *scale)
{
	char b[16];
	imf_status st;
	int c;

	for (size_t y = 0; y < img->height; y++) {
		for (size_t x = 0; x < img->width; x++) {
			for (int ch = 0; ch < img->channels; ch++) {
				unsigned long long v = 0;
				if ((st = scan_skip(s, &c)) != IMF_OK)
					return st;
				if (c == EOF)
					return truncated(s->src, s->err);
				if (c < '0' || c > '9')
					return imf_error_set(s->err, IMF_ECORRUPT,
					                     "PNM: bad %s in plain pixel data",
					                     describe_byte(c, b));
				while (c >= '0' && c <= '9') {
					if (v <= NUMBER_MAX) /* past it, v only says "too big" */
						v = v * 10 + (unsigned)(c - '0');
					if ((st = scan_getc(s, &c)) != IMF_OK)
						return st;
				}
				if (c == '#')
					st = scan_comment(s);
				else if (c != EOF && !is_space(c))
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
 * Raw data (P4, P5, P6, P7): rows of rowbytes bytes, read a chunk of whole
 * rows at a time.  P4 packs 8 pixels a byte, most significant bit first, rows
 * padded to a byte; the others interleave channels, 1 byte per sample, or 2
 * big-endian bytes when maxval > 255.
 */
static imf_status read_raw(imf_src *src, imf_image *img, const pnm_info *info,
                           const float *scale, imf_error *err)
{
	const size_t w = img->width, h = img->height;
	const int nch = img->channels;
	const int wide = info->maxval > 255;
	const unsigned long maxval = info->maxval;
	size_t rowbytes, rows_per_chunk, chunkbytes;
	unsigned char *buf = NULL;
	imf_status st = IMF_OK;

	if (info->kind == KIND_RAW_BITS) {
		rowbytes = w / 8 + (w % 8 != 0);
	} else if (!imf_size_mul(w, (size_t)nch << wide, &rowbytes)) {
		return imf_error_set(err, IMF_ELIMIT, "PNM: row too large");
	}
	rows_per_chunk = rowbytes >= CHUNK_BYTES ? 1 : CHUNK_BYTES / rowbytes;
	if (rows_per_chunk > h)
		rows_per_chunk = h;
	chunkbytes = rows_per_chunk * rowbytes; /* <= max(rowbytes, CHUNK_BYTES) */
	buf = imf_alloc_array(chunkbytes, 1, err);
	if (!buf)
		return IMF_ENOMEM;

	for (size_t y0 = 0; y0 < h; y0 += rows_per_chunk) {
		size_t nrows = h - y0 < rows_per_chunk ? h - y0 : rows_per_chunk;
		if (imf_src_read(src, buf, nrows * rowbytes) != nrows * rowbytes) {
			st = truncated(src, err);
			goto cleanup;
		}
		for (size_t r = 0; r < nrows; r++) {
			const unsigned char *p = buf + r * rowbytes;
			size_t y = y0 + r;
			if (info->kind == KIND_RAW_BITS) {
				float *row = imf_image_row(img, 0, y);
				for (size_t x = 0; x < w; x++)
					row[x] = (p[x >> 3] >> (7 - (x & 7))) & 1 ? 0.0f : 255.0f;
				continue;
			}
			for (int c = 0; c < nch; c++) {
				float *restrict row = imf_image_row(img, c, y);
				for (size_t x = 0; x < w; x++) {
					size_t i = x * (size_t)nch + (size_t)c;
					unsigned long v = wide ? (unsigned long)p[2 * i] << 8 | p[2 * i + 1]
					                       : p[i];
					if (v > maxval) {
						st = sample_too_big(v, maxval, err);
						goto cleanup;
					}
					row[x] = scale[v];
				}
			}
		}
	}
cleanup:
	free(buf);
	return st;
}

imf_status imf_pnm_read(imf_src *src, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	scanner s = { src, 0, HEADER_MAX, err };
	pnm_info info = { 0 };
	imf_read_opts def;
	imf_image *img = NULL;
	float *scale = NULL;
	imf_status st;
	char b[16];
	int c, type;

	*out = NULL;
	if (!opts) {
		imf_read_opts_default(&def);
		opts = &def;
	}
	if ((st = scan_getc(&s, &c)) != IMF_OK)
		return st;
	if (c != 'P')
		return imf_error_set(err, IMF_ECORRUPT, "PNM: bad header: not a netpbm file");
	if ((st = scan_getc(&s, &type)) != IMF_OK)
		return st;
	if (type < '1' || type > '7')
		return imf_error_set(err, IMF_ECORRUPT, "PNM: bad header: not a netpbm file");
	type -= '0';
	/* The magic number ends at white space or a comment, not at a digit. */
	if ((st = scan_getc(&s, &c)) != IMF_OK)
		return st;
	if (c == EOF)
		return imf_error_set(err, IMF_ECORRUPT, "PNM: truncated header");
	if (c == '#')
		st = scan_comment(&s);
	else if (!is_space(c))
		st = imf_error_set(err, IMF_ECORRUPT, "PNM: bad header: P%d followed by %s", type,
		                   describe_byte(c, b));
	if (st != IMF_OK)
		return st;

	st = type == 7 ? read_pam_header(&s, &info) : read_pnm_header(&s, type, &info);
	if (st != IMF_OK)
		return st;
	if (info.width == 0 || info.height == 0)
		return imf_error_set(err, IMF_ECORRUPT, "PNM: %s is 0",
		                     info.width == 0 ? "width" : "height");
	if (info.maxval < 1 || info.maxval > MAXVAL_MAX)
		return imf_error_set(err, IMF_ECORRUPT, "PNM: maxval %lu is out of range 1..%lu",
		                     info.maxval, MAXVAL_MAX);
	st = imf_check_dims(info.width, info.height, info.channels, &opts->limits, "PNM", err);
	if (st != IMF_OK)
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
	imf_image_set_source(img, IMF_FORMAT_PNM, info.maxval > 255 ? 16 : 8);
	*out = img;
	img = NULL;
cleanup:
	free(scale);
	imf_image_free(img);
	return st;
}

/* ---- writing ------------------------------------------------------------- */

static imf_status write_failed(imf_error *err)
{
	return imf_error_set(err, IMF_EIO, "PNM: write failed: %s", strerror(errno));
}

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
	const size_t w = img->width;
	imf_map_mode mode = opts ? opts->map : IMF_MAP_CLAMP;
	size_t nvals, rowbytes;
	unsigned char *row = NULL;
	uint16_t *row16 = NULL;
	imf_mapper m;
	imf_status st = IMF_OK;

	if (!imf_size_mul(w, (size_t)nch, &nvals) ||
	    !imf_size_mul(nvals, depth == 16 ? 2 : 1, &rowbytes))
		return imf_error_set(err, IMF_ELIMIT, "PNM: row too large");
	row = imf_alloc_array(rowbytes, 1, err);
	if (!row)
		return IMF_ENOMEM;
	if (depth == 16 && !(row16 = imf_alloc_array(nvals, sizeof *row16, err))) {
		st = IMF_ENOMEM;
		goto cleanup;
	}
	imf_mapper_init(&m, img, mode, maxval);

	if (fprintf(fp, "P%c\n%zu %zu\n%u\n", nch == 1 ? '5' : '6', w, img->height, maxval) < 0) {
		st = write_failed(err);
		goto cleanup;
	}
	for (size_t y = 0; y < img->height; y++) {
		if (depth == 16) {
			imf_mapper_row16(&m, img, y, nch, row16);
			for (size_t i = 0; i < nvals; i++) {
				row[2 * i] = (unsigned char)(row16[i] >> 8);
				row[2 * i + 1] = (unsigned char)(row16[i] & 0xFF);
			}
		} else {
			imf_mapper_row8(&m, img, y, nch, row);
		}
		if (fwrite(row, 1, rowbytes, fp) != rowbytes) {
			st = write_failed(err);
			goto cleanup;
		}
	}
	if (fflush(fp) != 0 || ferror(fp))
		st = write_failed(err);
cleanup:
	free(row16);
	free(row);
	return st;
}
