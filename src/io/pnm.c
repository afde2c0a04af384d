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
 * imf_check_dims before any allocation they influence.  Every variant
 * streams: each imf_reader_read converts just its rows.  Raw pixel data is
 * read in chunks of whole rows (io.h's imf_rowbuf); plain (ASCII) data goes
 * through the same scanner, uncapped, which sits on stdio's buffer.  The
 * stream is never seeked.
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
static imf_status read_plain_bits(imf_scanner *s, imf_image *img, size_t first, size_t n)
{
	char b[16];
	imf_status st;
	int c;

	for (size_t y = first; y < first + n; y++) {
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
static imf_status read_plain(imf_scanner *s, imf_image *img, size_t first, size_t n,
                             unsigned long maxval, const float *scale)
{
	char b[16];
	imf_status st;
	int c;

	for (size_t y = first; y < first + n; y++) {
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
static size_t raw_rowbytes(const pnm_info *info)
{
	if (info->kind == KIND_RAW_BITS)
		return info->width / 8 + (info->width % 8 != 0);
	/* imf_check_dims proved width * channels * sizeof(float) fits. */
	return info->width * (size_t)info->channels << (info->maxval > 255);
}

/* The first sample over maxval, in the order the planes are filled. */
static imf_status find_too_big(const unsigned char *p, size_t w, int nch, int wide,
                               unsigned long maxval, imf_error *err)
{
	for (int c = 0; c < nch; c++)
		for (size_t x = 0; x < w; x++) {
			size_t i = x * (size_t)nch + (size_t)c;
			unsigned long v = wide ? (unsigned long)p[2 * i] << 8 | p[2 * i + 1] : p[i];
			if (v > maxval)
				return sample_too_big(v, maxval, err);
		}
	return IMF_OK;
}

/*
 * One raw row into row y of img.  With maxval 255 or 65535 every sample is
 * valid and converts directly; otherwise samples are checked against maxval
 * first (a max over the row, which the compiler vectorizes), then looked up
 * in the scale table.
 */
static imf_status raw_row(const unsigned char *restrict p, imf_image *img, size_t y,
                          const pnm_info *info, const float *restrict scale, imf_error *err)
{
	const size_t w = img->width;
	const int nch = img->channels;
	const unsigned long maxval = info->maxval;

	if (info->kind == KIND_RAW_BITS) {
		float *restrict row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < w; x++)
			row[x] = (p[x >> 3] >> (7 - (x & 7))) & 1 ? 0.0f : 255.0f;
		return IMF_OK;
	}
	size_t n = w * (size_t)nch;
	if ((maxval == 255 || maxval == 65535) && nch <= 4) {
		/* scale[v] is v, or v / 257 (the same float, checked in the tests):
		 * the shared loops convert without the table. */
		float *out[4];
		for (int c = 0; c < nch; c++)
			out[c] = imf_image_row(img, c, y);
		if (maxval == 255)
			imf_io_unpack8(p, w, nch, out);
		else
			imf_io_unpack16(p, w, nch, out);
		return IMF_OK;
	}
	if (maxval > 255) {
		if (maxval < 65535) {
			unsigned top = 0;
			for (size_t i = 0; i < n; i++) {
				unsigned v = (unsigned)p[2 * i] << 8 | p[2 * i + 1];
				top = v > top ? v : top;
			}
			if (top > maxval)
				return find_too_big(p, w, nch, 1, maxval, err);
		}
		for (int c = 0; c < nch; c++) {
			float *restrict row = imf_image_row(img, c, y);
			for (size_t x = 0; x < w; x++) {
				size_t i = x * (size_t)nch + (size_t)c;
				row[x] = scale[(unsigned)p[2 * i] << 8 | p[2 * i + 1]];
			}
		}
	} else {
		if (maxval < 255) {
			unsigned top = 0;
			for (size_t i = 0; i < n; i++)
				top = p[i] > top ? p[i] : top;
			if (top > maxval)
				return find_too_big(p, w, nch, 0, maxval, err);
		}
		for (int c = 0; c < nch; c++) {
			float *restrict row = imf_image_row(img, c, y);
			for (size_t x = 0; x < w; x++)
				row[x] = scale[p[x * (size_t)nch + (size_t)c]];
		}
	}
	return IMF_OK;
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
 * range, imf_check_dims), for the reader's open (imf_read_info too).  On
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

/* ---- the streaming reader -------------------------------------------------- */

typedef struct pnm_reader {
	imf_scanner s;   /* the header's, then (uncapped) the plain raster's */
	pnm_info info;
	float *scale;    /* sample v -> v * 255 / maxval */
	imf_rowbuf raw;  /* raw rasters */
} pnm_reader;

static imf_status pnm_reader_open(imf_reader *r, imf_error *err)
{
	pnm_reader *p = calloc(1, sizeof *p);
	imf_status st;

	if (!p)
		return imf_error_set(err, IMF_ENOMEM, "PNM: out of memory");
	r->state = p;
	p->s = header_scanner(&r->src, err);
	if ((st = read_header(&p->s, &r->opts, &p->info)) != IMF_OK)
		return st;
	r->info.width = p->info.width;
	r->info.height = p->info.height;
	r->info.channels = p->info.channels;
	r->info.has_alpha = p->info.has_alpha;
	r->info.format = IMF_FORMAT_PNM;
	r->info.depth = sample_depth(&p->info);
	r->streams = 1;
	if (r->header_only)
		return IMF_OK;

	/* sample v -> v * 255 / maxval, in double, so maxval 65535 gives v / 257. */
	p->scale = imf_alloc_array(p->info.maxval + 1, sizeof *p->scale, err);
	if (!p->scale)
		return IMF_ENOMEM;
	for (unsigned long v = 0; v <= p->info.maxval; v++)
		p->scale[v] = (float)((double)v * 255.0 / (double)p->info.maxval);
	/* The raster is not header: no cap on plain data and its comments. */
	p->s.cap = (size_t)-1;
	if (p->info.kind != KIND_RAW && p->info.kind != KIND_RAW_BITS)
		return IMF_OK;
	/*
	 * Where every sample is valid (bits, maxval 255 or 65535), rows read at
	 * their place meet the same errors as rows read in order: none past a
	 * raster that is all there.  Other maxvals check every row, so they
	 * are read in order, every row.
	 */
	if (p->info.kind == KIND_RAW_BITS || p->info.maxval == 255 || p->info.maxval == 65535)
		imf_reader_place(r, raw_rowbytes(&p->info));
	return imf_rowbuf_init(&p->raw, raw_rowbytes(&p->info), p->info.height, err);
}

static imf_status pnm_reader_rows(imf_reader *r, imf_image *band, size_t first, size_t n,
                                  imf_error *err)
{
	pnm_reader *p = r->state;
	imf_status st = IMF_OK;

	p->s.err = err;
	switch (p->info.kind) {
	case KIND_PLAIN_BITS: return read_plain_bits(&p->s, band, first, n);
	case KIND_PLAIN: return read_plain(&p->s, band, first, n, p->info.maxval, p->scale);
	case KIND_RAW_BITS:
	case KIND_RAW:
		for (size_t i = 0; i < n && st == IMF_OK; i++) {
			const unsigned char *row;
			st = imf_rowbuf_next(&p->raw, &r->src, "PNM", &row, err);
			if (st == IMF_OK)
				st = raw_row(row, band, first + i, &p->info, p->scale, err);
		}
		break;
	}
	return st;
}

static imf_status pnm_reader_convert(const imf_reader *r, const unsigned char *raw,
                                     imf_image *band, size_t first, size_t n, imf_error *err)
{
	const pnm_reader *p = r->state;
	imf_status st = IMF_OK;

	for (size_t i = 0; i < n && st == IMF_OK; i++)
		st = raw_row(raw + i * r->place_row, band, first + i, &p->info, p->scale, err);
	return st;
}

static void pnm_reader_close(imf_reader *r)
{
	pnm_reader *p = r->state;
	if (!p)
		return;
	imf_rowbuf_free(&p->raw);
	free(p->scale);
	free(p);
	r->state = NULL;
}

const imf_reader_ops imf_pnm_reader = { .open = pnm_reader_open, .rows = pnm_reader_rows,
	                                .close = pnm_reader_close,
	                                .convert = pnm_reader_convert };

/* ---- writing ------------------------------------------------------------- */

/*
 * P5 for one colour plane, P6 for three (alpha is dropped); maxval 255, or
 * 65535 with big-endian samples when the output depth is 16.  Values go
 * through the mapper; normalize needs the whole image, so then rows are held
 * until finish.
 */
typedef struct pnm_writer {
	int nch, depth;
	size_t rowbytes;
	unsigned char *row;
	imf_mapper map;
	int map_ready;
} pnm_writer;

static imf_status pnm_writer_open(imf_writer *w, imf_error *err)
{
	pnm_writer *p = calloc(1, sizeof *p);
	char header[64];
	size_t nvals;
	imf_status st;
	int e;

	if (!p)
		return imf_error_set(err, IMF_ENOMEM, "PNM: out of memory");
	w->state = p;
	p->nch = imf_writer_color_planes(w);
	p->depth = imf_writer_depth(w);
	/* Normalize needs the whole image's range before the first row. */
	if (w->opts.map == IMF_MAP_NORMALIZE && (st = imf_writer_hold(w, err)) != IMF_OK)
		return st;
	if (w->opts.map != IMF_MAP_NORMALIZE) {
		/* Fixed from here on, so bands can be encoded on any thread. */
		imf_mapper_init(&p->map, NULL, w->opts.map, p->depth == 16 ? 65535u : 255u);
		p->map_ready = 1;
	}
	if (!imf_size_mul(w->width, (size_t)p->nch, &nvals))
		return imf_error_set(err, IMF_ELIMIT, "PNM: row too large");
	/* Room for 16-bit values at either depth (imf_io_map_row). */
	p->row = imf_alloc_array(nvals, sizeof(uint16_t), err);
	if (!p->row)
		return IMF_ENOMEM;
	p->rowbytes = nvals * (size_t)(p->depth / 8);

	int n = snprintf(header, sizeof header, "P%c\n%zu %zu\n%u\n", p->nch == 1 ? '5' : '6',
	                 w->width, w->height, p->depth == 16 ? 65535u : 255u);
	if ((e = imf_io_write(w->fp, header, (size_t)n)) != 0)
		return imf_io_write_error(err, "PNM", e);
	/* Every row is rowbytes bytes, nothing after the last: bands can go to their place. */
	if (p->map_ready)
		imf_writer_place(w, p->rowbytes);
	return IMF_OK;
}

static imf_status pnm_writer_rows(imf_writer *w, const imf_image *band, size_t first, size_t n,
                                  imf_error *err)
{
	pnm_writer *p = w->state;
	int e;

	/* With normalize, band is the whole image (the writer holds it until finish). */
	if (!p->map_ready) {
		imf_mapper_init(&p->map, band, w->opts.map, p->depth == 16 ? 65535u : 255u);
		p->map_ready = 1;
	}
	for (size_t i = 0; i < n; i++) {
		imf_io_map_row(&p->map, band, first + i, p->nch, p->depth, p->row);
		if ((e = imf_io_write(w->fp, p->row, p->rowbytes)) != 0)
			return imf_io_write_error(err, "PNM", e);
	}
	return IMF_OK;
}

/* Any band can be encoded apart: its rows' bytes, nothing carried over. */
static size_t pnm_block_rows(const imf_writer *w)
{
	(void)w;
	return 1;
}

static imf_status pnm_encode(const imf_writer *w, const imf_image *band, size_t first, size_t n,
                             size_t y0, imf_encoded *out, imf_error *err)
{
	const pnm_writer *p = w->state;
	size_t len;

	memset(out, 0, sizeof *out);
	out->y0 = y0;
	if (!imf_size_mul(n, p->rowbytes, &len))
		return imf_error_set(err, IMF_ENOMEM, "PNM: band too large");
	/* rowbytes is even at 16 bits, so every row stays aligned for imf_io_map_row. */
	out->bytes = imf_alloc_array(len ? len : 1, 1, err);
	if (!out->bytes)
		return IMF_ENOMEM;
	for (size_t i = 0; i < n; i++)
		imf_io_map_row(&p->map, band, first + i, p->nch, p->depth,
		               out->bytes + i * p->rowbytes);
	out->len = len;
	out->rows = n;
	return IMF_OK;
}

static imf_status pnm_put(imf_writer *w, const imf_encoded *e, imf_error *err)
{
	int x = imf_io_write(w->fp, e->bytes, e->len);
	return x ? imf_io_write_error(err, "PNM", x) : IMF_OK;
}

static void pnm_writer_close(imf_writer *w)
{
	pnm_writer *p = w->state;
	if (!p)
		return;
	free(p->row);
	free(p);
	w->state = NULL;
}

const imf_writer_ops imf_pnm_writer = { .open = pnm_writer_open, .rows = pnm_writer_rows,
	                                .close = pnm_writer_close, .block_rows = pnm_block_rows,
	                                .encode = pnm_encode, .put = pnm_put };
