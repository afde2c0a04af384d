/*
 * png_write.c - the PNG writer: rows filtered and deflated in blocks that
 * can be encoded on several threads at once.
 *
 * A PNG's image data is one zlib stream over the filtered rows (a filter
 * byte, then the row's bytes).  zlib's deflate is sequential, and at the
 * levels worth using it is most of the time a PNG takes to write.  As pigz
 * does for gzip, the rows are cut into blocks of a fixed number of rows
 * (about BLOCK_BYTES of filtered data, decided by the row size alone), and
 * each block is deflated on its own as raw deflate data ending on a byte
 * boundary (Z_SYNC_FLUSH, or Z_FINISH for the last block): one after the
 * other they form a valid deflate stream, whose Adler-32 is combined from
 * the blocks' (adler32_combine).  A block is an IDAT chunk; the zlib header
 * goes before the first block, the Adler-32 in a last 4-byte IDAT.
 *
 * Filtering cannot reach into the block before, so a block's first row
 * uses the sub filter where the chosen filter (up, average, Paeth) needs
 * the row above; 'all' chooses per row, as libpng does, the filter whose
 * bytes have the smallest sum of absolute values (as signed bytes).
 *
 * Because blocks depend on nothing but their rows, the file is the same
 * byte for byte however the rows arrive: in one call (imf_write), in bands
 * through imf_writer_write (which collects rows into a block before
 * deflating it), or encoded band by band on many threads with
 * imf_writer_encode and put in order with imf_writer_put.  Compared with
 * one stream, a block loses at most the 32 KiB of history at its start:
 * about 1% on photographs.
 */
#include "io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Filtered bytes per block, roughly (at least one row). */
#define BLOCK_BYTES (128u * 1024u)

typedef struct pngw {
	int nch, depth, color_type;
	size_t rowbytes;   /* width * nch * depth / 8 */
	size_t bpp;        /* bytes per pixel, at least 1: the sub filter's distance */
	size_t block_rows; /* rows a block */
	imf_mapper map;    /* fixed at open (normalize holds the image: mapped at finish) */
	int map_ready;
	uint32_t adler;    /* of every filtered byte put so far */
	size_t put_rows;   /* rows put so far */
	int header_done;
	/* imf_writer_write: the block being collected */
	imf_image *pending; /* block_rows rows of the image's planes */
	size_t npending;
} pngw;

/* ---- chunks ------------------------------------------------------------------ */

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* One chunk into dst (len + 12 bytes): length, type, data, CRC over type and data. */
static void frame_chunk(unsigned char *dst, const char *type, const unsigned char *data,
                        size_t len)
{
	be32(dst, (uint32_t)len);
	memcpy(dst + 4, type, 4);
	if (len)
		memcpy(dst + 8, data, len);
	be32(dst + 8 + len, (uint32_t)crc32(0L, dst + 4, (uInt)(len + 4)));
}

/* A small chunk (IHDR, the Adler-32's IDAT, IEND) written at once. */
static imf_status put_chunk(imf_writer *w, const char *type, const unsigned char *data,
                            size_t len, imf_error *err)
{
	unsigned char buf[13 + 12];
	int e;

	frame_chunk(buf, type, data, len); /* len <= 13 here */
	if ((e = imf_io_write(w->fp, buf, len + 12)) != 0)
		return imf_io_write_error(err, "PNG", e);
	return IMF_OK;
}

static imf_status put_header(imf_writer *w, imf_error *err)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	pngw *p = w->state;
	unsigned char ihdr[13];
	int e;

	if ((e = imf_io_write(w->fp, sig, sizeof sig)) != 0)
		return imf_io_write_error(err, "PNG", e);
	be32(ihdr, (uint32_t)w->width);
	be32(ihdr + 4, (uint32_t)w->height);
	ihdr[8] = (unsigned char)p->depth;
	ihdr[9] = (unsigned char)p->color_type;
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering */
	ihdr[12] = 0; /* no interlace */
	p->header_done = 1;
	return put_chunk(w, "IHDR", ihdr, sizeof ihdr, err);
}

/* ---- filters ------------------------------------------------------------------- */

static unsigned char paeth(unsigned char a, unsigned char b, unsigned char c)
{
	int p = (int)a + (int)b - (int)c;
	int pa = abs(p - (int)a), pb = abs(p - (int)b), pc = abs(p - (int)c);
	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

/* out[0] = type, out[1..] = row filtered against prev (NULL: a block's first row). */
static void filter_row(unsigned char *restrict out, int type, const unsigned char *restrict row,
                       const unsigned char *restrict prev, size_t n, size_t bpp)
{
	unsigned char *d = out + 1;
	out[0] = (unsigned char)type;
	switch (type) {
	case 1: /* sub */
		for (size_t i = 0; i < n; i++)
			d[i] = (unsigned char)(row[i] - (i >= bpp ? row[i - bpp] : 0));
		break;
	case 2: /* up */
		for (size_t i = 0; i < n; i++)
			d[i] = (unsigned char)(row[i] - prev[i]);
		break;
	case 3: /* average */
		for (size_t i = 0; i < n; i++)
			d[i] = (unsigned char)(row[i] -
			                       (((i >= bpp ? row[i - bpp] : 0) + (unsigned)prev[i]) >> 1));
		break;
	case 4: /* Paeth */
		for (size_t i = 0; i < n; i++)
			d[i] = (unsigned char)(row[i] - paeth(i >= bpp ? row[i - bpp] : 0, prev[i],
			                                      i >= bpp ? prev[i - bpp] : 0));
		break;
	default: /* none */
		memcpy(d, row, n);
	}
}

static size_t filtered_cost(const unsigned char *f, size_t n)
{
	size_t s = 0;
	for (size_t i = 1; i <= n; i++)
		s += f[i] < 128 ? f[i] : 256u - f[i];
	return s;
}

/* The filter for one row; try holds 5 scratch rows of n + 1 bytes for 'all'. */
static void filter_choose(const pngw *p, imf_png_filter choice, unsigned char *out,
                          const unsigned char *row, const unsigned char *prev,
                          unsigned char *try)
{
	static const int types[] = {
		[IMF_PNG_FILTER_NONE] = 0, [IMF_PNG_FILTER_SUB] = 1, [IMF_PNG_FILTER_UP] = 2,
		[IMF_PNG_FILTER_AVG] = 3,  [IMF_PNG_FILTER_PAETH] = 4,
	};
	const size_t n = p->rowbytes;

	if (choice != IMF_PNG_FILTER_ALL) {
		int t = types[choice];
		if (!prev && t >= 2)
			t = 1; /* no row above in this block */
		filter_row(out, t, row, prev, n, p->bpp);
		return;
	}
	size_t best = SIZE_MAX;
	int best_t = 0;
	for (int t = 0; t <= (prev ? 4 : 1); t++) {
		unsigned char *f = try + (size_t)t * (n + 1);
		filter_row(f, t, row, prev, n, p->bpp);
		size_t cost = filtered_cost(f, n);
		if (cost < best) {
			best = cost;
			best_t = t;
		}
	}
	memcpy(out, try + (size_t)best_t * (n + 1), n + 1);
}

/* ---- blocks ---------------------------------------------------------------------- */

static void encoded_clear(imf_encoded *e)
{
	free(e->bytes);
	memset(e, 0, sizeof *e);
}

/*
 * Block of rows first .. first+n-1 of band, image rows y0 ..: mapped,
 * filtered and deflated into e (the IDAT data; the zlib header first when
 * y0 == 0).  Reads only p's fixed settings: safe on several threads.
 */
static imf_status encode_block(const imf_writer *w, const imf_image *band, size_t first,
                               size_t n, size_t y0, imf_encoded *e, imf_error *err)
{
	const pngw *p = w->state;
	const size_t fb = p->rowbytes + 1;
	const int last = y0 + n == w->height;
	unsigned char *rows = NULL, *filt = NULL, *try = NULL, *out = NULL;
	size_t raw, cap, at = 0;
	imf_status st = IMF_ENOMEM;
	z_stream z;
	int zinit = 0;

	memset(e, 0, sizeof *e);
	if (!imf_size_mul(fb, n, &raw) || raw > 0x7fffffffu / 2)
		return imf_error_set(err, IMF_ENOMEM, "PNG: block is too large");
	/* mapped rows: two (this and the one above), 16-bit room; filtered data */
	rows = imf_alloc_array(2 * p->rowbytes + 2, sizeof(uint16_t), err);
	filt = imf_alloc_array(raw, 1, err);
	if (w->opts.png_filter == IMF_PNG_FILTER_ALL)
		try = imf_alloc_array(5, fb, err);
	if (!rows || !filt || (w->opts.png_filter == IMF_PNG_FILTER_ALL && !try))
		goto done;
	for (size_t i = 0; i < n; i++) {
		unsigned char *cur = rows + (i % 2) * 2 * p->rowbytes;
		const unsigned char *prev = i ? rows + ((i + 1) % 2) * 2 * p->rowbytes : NULL;
		imf_io_map_row(&p->map, band, first + i, p->nch, p->depth, cur);
		filter_choose(p, w->opts.png_filter, filt + i * fb, cur, prev, try);
	}
	e->adler = (uint32_t)adler32(adler32(0L, Z_NULL, 0), filt, (uInt)raw);
	e->raw_len = raw;
	e->rows = n;

	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, w->opts.png_level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		st = imf_error_set(err, IMF_ENOMEM, "PNG: out of memory (deflate)");
		goto done;
	}
	zinit = 1;
	cap = deflateBound(&z, (uLong)raw) + 16;
	out = imf_alloc_array(cap, 1, err);
	if (!out)
		goto done;
	if (y0 == 0) {
		/* zlib header: deflate, 32 KiB window, the level's hint, check bits */
		static const unsigned char flg[4] = { 0x01, 0x5e, 0x9c, 0xda };
		int lv = w->opts.png_level;
		out[0] = 0x78;
		out[1] = flg[lv <= 1 ? 0 : lv <= 5 ? 1 : lv == 6 ? 2 : 3];
		at = 2;
	}
	z.next_in = filt;
	z.avail_in = (uInt)raw;
	z.next_out = out + at;
	z.avail_out = (uInt)(cap - at);
	if (deflate(&z, last ? Z_FINISH : Z_SYNC_FLUSH) != (last ? Z_STREAM_END : Z_OK) ||
	    z.avail_in != 0) {
		st = imf_error_set(err, IMF_EIO, "PNG: deflate failed");
		goto done;
	}
	e->bytes = out;
	e->len = cap - z.avail_out;
	out = NULL;
	st = IMF_OK;
done:
	if (zinit)
		deflateEnd(&z);
	free(rows);
	free(filt);
	free(try);
	free(out);
	return st;
}

/* ---- the writer ops ------------------------------------------------------------- */

static size_t png_block_rows(const imf_writer *w)
{
	const pngw *p = w->state;
	return p->block_rows;
}

/* A band of whole blocks (the last may end with the image), encoded block by block. */
static imf_status png_encode(const imf_writer *w, const imf_image *band, size_t first,
                             size_t n, size_t y0, imf_encoded *out, imf_error *err)
{
	const pngw *p = w->state;
	imf_encoded acc = { 0 };
	imf_status st = IMF_OK;

	memset(out, 0, sizeof *out);
	if (y0 % p->block_rows != 0 || (n % p->block_rows != 0 && y0 + n != w->height))
		return imf_error_set(err, IMF_EINVAL, "PNG: a band to encode must hold whole blocks");
	for (size_t i = 0; i < n && st == IMF_OK; i += p->block_rows) {
		size_t m = n - i < p->block_rows ? n - i : p->block_rows;
		imf_encoded b;
		unsigned char *grown;
		st = encode_block(w, band, first + i, m, y0 + i, &b, err);
		if (st != IMF_OK)
			break;
		/* Several blocks: their IDATs one after the other, as put will write them. */
		grown = realloc(acc.bytes, acc.len + b.len + 12);
		if (!grown) {
			encoded_clear(&b);
			st = imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
			break;
		}
		acc.bytes = grown;
		frame_chunk(acc.bytes + acc.len, "IDAT", b.bytes, b.len);
		acc.len += b.len + 12;
		acc.adler = acc.rows ? (uint32_t)adler32_combine(acc.adler, b.adler, (z_off_t)b.raw_len)
		                     : b.adler;
		acc.raw_len += b.raw_len;
		acc.rows += b.rows;
		encoded_clear(&b);
	}
	if (st != IMF_OK) {
		encoded_clear(&acc);
		return st;
	}
	acc.y0 = y0;
	*out = acc;
	return IMF_OK;
}

/* Append what png_encode made (whole chunks already). */
static imf_status png_put(imf_writer *w, const imf_encoded *e, imf_error *err)
{
	pngw *p = w->state;
	imf_status st;
	int x;

	if (!p->header_done && (st = put_header(w, err)) != IMF_OK)
		return st;
	if ((x = imf_io_write(w->fp, e->bytes, e->len)) != 0)
		return imf_io_write_error(err, "PNG", x);
	p->adler = (uint32_t)adler32_combine(p->adler, e->adler, (z_off_t)e->raw_len);
	p->put_rows += e->rows;
	return IMF_OK;
}

/* imf_writer_write's path: the same encode and put, on the caller's thread. */
static imf_status emit(imf_writer *w, const imf_image *band, size_t first, size_t n, size_t y0,
                       imf_error *err)
{
	imf_encoded e;
	imf_status st = png_encode(w, band, first, n, y0, &e, err);
	if (st == IMF_OK)
		st = png_put(w, &e, err);
	free(e.bytes);
	return st;
}

static void png_writer_close(imf_writer *w)
{
	pngw *p = w->state;
	if (!p)
		return;
	imf_image_free(p->pending);
	free(p);
	w->state = NULL;
}

static imf_status png_writer_open(imf_writer *w, imf_error *err)
{
	pngw *p;
	size_t values;

	if (w->width > 0x7fffffffu || w->height > 0x7fffffffu)
		return imf_error_set(err, IMF_EINVAL,
		                     "PNG: %zux%zu is too large for PNG (at most %lu pixels a side)",
		                     w->width, w->height, 0x7fffffffUL);
	p = calloc(1, sizeof *p);
	if (!p)
		return imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
	w->state = p;
	if (w->channels == 2 && w->has_alpha) {
		p->nch = 2;
		p->color_type = 4; /* gray + alpha */
	} else if (w->channels == 4 && w->has_alpha) {
		p->nch = 4;
		p->color_type = 6; /* RGBA */
	} else {
		/* Plain gray or RGB, and any odd layout reduced to its colour planes. */
		p->nch = imf_writer_color_planes(w);
		p->color_type = p->nch == 1 ? 0 : 2;
	}
	p->depth = imf_writer_depth(w);
	if (!imf_size_mul(w->width, (size_t)p->nch, &values) ||
	    !imf_size_mul(values, (size_t)p->depth / 8, &p->rowbytes) || p->rowbytes > 0x3fffffffu)
		return imf_error_set(err, IMF_ENOMEM, "PNG: rows are too long");
	p->bpp = (size_t)p->nch * (size_t)p->depth / 8;
	p->block_rows = BLOCK_BYTES / (p->rowbytes + 1);
	if (p->block_rows < 1)
		p->block_rows = 1;
	p->adler = 1;
	/* Normalize needs the whole image's range before the first row. */
	if (w->opts.map == IMF_MAP_NORMALIZE)
		return imf_writer_hold(w, err);
	imf_mapper_init(&p->map, NULL, w->opts.map, p->depth == 16 ? 65535u : 255u);
	p->map_ready = 1;
	return IMF_OK; /* the partial-block buffer comes when a band needs it */
}

/*
 * imf_writer_write: rows are gathered into whole blocks (so that the file
 * does not depend on how the caller cut its bands), each block deflated and
 * written as soon as it is complete.
 */
static imf_status png_writer_rows(imf_writer *w, const imf_image *band, size_t first, size_t n,
                                  imf_error *err)
{
	pngw *p = w->state;
	imf_status st;

	if (!p->map_ready) { /* normalize: band is the whole image, given at finish */
		imf_mapper_init(&p->map, band, w->opts.map, p->depth == 16 ? 65535u : 255u);
		p->map_ready = 1;
	}
	while (n > 0) {
		size_t y0 = p->put_rows + p->npending;
		/* Whole blocks straight from the caller's band, when there is no partial one. */
		if (p->npending == 0 && (n >= p->block_rows || y0 + n == w->height)) {
			size_t m = n < p->block_rows ? n : n - n % p->block_rows;
			if ((st = emit(w, band, first, m, y0, err)) != IMF_OK)
				return st;
			first += m;
			n -= m;
			continue;
		}
		if (!p->pending &&
		    (st = imf_image_new(w->width, p->block_rows, w->channels, w->has_alpha, NULL,
		                        &p->pending, err)) != IMF_OK)
			return st;
		size_t room = p->block_rows - p->npending, m = n < room ? n : room;
		for (int c = 0; c < w->channels; c++)
			for (size_t i = 0; i < m; i++)
				memcpy(imf_image_row(p->pending, c, p->npending + i),
				       imf_image_row_const(band, c, first + i), w->width * sizeof(float));
		p->npending += m;
		first += m;
		n -= m;
		if (p->npending == p->block_rows || p->put_rows + p->npending == w->height) {
			if ((st = emit(w, p->pending, 0, p->npending, p->put_rows, err)) != IMF_OK)
				return st;
			p->npending = 0;
		}
	}
	return IMF_OK;
}
static imf_status png_writer_finish(imf_writer *w, imf_error *err)
{
	pngw *p = w->state;
	unsigned char tail[4];
	imf_status st;

	if (!p->header_done && (st = put_header(w, err)) != IMF_OK)
		return st;
	be32(tail, p->adler);
	if ((st = put_chunk(w, "IDAT", tail, 4, err)) != IMF_OK)
		return st;
	return put_chunk(w, "IEND", NULL, 0, err);
}

const imf_writer_ops imf_png_writer = { .open = png_writer_open, .rows = png_writer_rows,
	                                .finish = png_writer_finish, .close = png_writer_close,
	                                .block_rows = png_block_rows, .encode = png_encode,
	                                .put = png_put };
