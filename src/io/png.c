/*
 * png.c - PNG reader and writer on top of libpng, a band of rows at a time.
 *
 * The reader returns the file's own channels (gray, gray+alpha, RGB, RGBA) on
 * the 0..255 scale: palette indices are looked up in PLTE (and tRNS for
 * alpha) here, 1/2/4-bit gray scales to 0..255 (v * 255 / (2^bits - 1)), a
 * gray or RGB tRNS colour becomes an alpha plane and a 16-bit sample v
 * becomes v / 257.  Gamma and colour-profile chunks are not applied.
 *
 * Palettes are not expanded by libpng (png_set_palette_to_rgb): libpng
 * would look an index past the palette's end up in a zero-filled table and
 * only complain after the image (if at all), so a palette image with
 * indices >= num_palette would decode.  The reader gets 8-bit indices
 * (png_set_packing for 1/2/4 bits) and refuses the first index out of range:
 * "PNG: palette index 200 out of range (palette has 16 entries)".
 *
 * A non-interlaced file streams: each imf_reader_read decodes just its rows
 * with png_read_row.  An interlaced file is decoded whole (Adam7 passes
 * revisit every row), at the first read: for each pass only that pass's
 * pixels are converted.  After the last row png_read_end reads up to IEND,
 * so a file cut after the image data is caught too.
 *
 * With header_only (imf_read_info) the reader stops once the layout is known
 * (png_read_info, the transforms, imf_check_dims).  It then also accepts a
 * file that ends at a chunk boundary once IHDR (and a palette's PLTE) has
 * been read: the read callback supplies an empty IDAT chunk header, so
 * png_read_info returns and the layout still comes from libpng's own rules
 * (a tRNS chunk that was cut off cannot count, of course).
 *
 * The writer emits gray, gray+alpha, RGB or RGBA, 8 or 16 bits, one
 * png_write_row per image row, with the zlib level and the row filter of
 * the options (defaults measured in README, Formats); normalize mapping
 * needs the whole image's range, so then the rows are held until finish.
 *
 * libpng reports errors with longjmp.  All that libpng can touch lives in one
 * struct (png_ctx, the reader's or writer's state), and each entry point
 * owns its setjmp in one small function (png_guard); the struct is released
 * by close, whatever state it is in.  libpng never prints: its error text
 * becomes "PNG: <message>" (first letter lowercased) in the caller's
 * imf_error and warnings are kept only to explain a rejected IHDR.
 */
#include "io.h"

#include <png.h>
#include <setjmp.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>

/* Ancillary chunks are discarded, but bound what libpng may still cache. */
#define PNG_CHUNK_CACHE_MAX 1000
#define PNG_CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)

typedef struct png_ctx {
	png_structp png;
	png_infop info;
	imf_error *err;     /* the current call's */
	imf_status status;  /* IMF_OK until something fails */
	imf_status io_code; /* set by the I/O callbacks just before png_error */
	int io_errno;       /* errno of a failed read or write, or 0 */
	char warning[128];  /* first libpng warning (explains "Invalid IHDR data") */

	/* reading */
	imf_reader *r;
	int idat_supplied;  /* the stream ended where IDAT would start (header_only) */
	int passes;         /* rows are read passes * height times (Adam7: 7) */
	int depth;          /* 8 or 16: a decoded row's sample size */
	int palette;        /* decoded rows hold palette indices */
	int npal;           /* PLTE entries */
	float lut[4][256];  /* index -> R, G, B, A */

	unsigned char *row; /* one row of file samples */
} png_ctx;

static int contains_nocase(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (; *s; s++) {
		size_t i = 0;
		while (i < n && s[i] &&
		       (s[i] | 0x20) == (word[i] | 0x20))
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

/* libpng's error callback: record the message and leave through the jmpbuf. */
static void png_on_error(png_structp png, png_const_charp msg)
{
	png_ctx *c = png_get_error_ptr(png);
	imf_status code = IMF_ECORRUPT;
	const char *text = msg ? msg : "unknown error";
	char lower[256];

	if (c->io_code != IMF_OK) {
		code = c->io_code;
	} else if (contains_nocase(text, "out of memory") ||
	           contains_nocase(text, "insufficient memory")) {
		code = IMF_ENOMEM;
	} else if (strcmp(text, "Invalid IHDR data") == 0 && c->warning[0]) {
		/* png_check_IHDR warns with the reason, then errors generically. */
		text = c->warning;
		if (c->r && contains_nocase(text, "exceeds user limit")) {
			/* Our max_side, installed with png_set_user_limits. */
			c->status = imf_error_set(c->err, IMF_ELIMIT,
			                          "PNG: image %s is over the --max-side limit of %zu "
			                          "(raise it with --max-side)",
			                          contains_nocase(text, "height") ? "height" : "width",
			                          c->r->opts.limits.max_side);
			png_longjmp(png, 1);
		}
	}
	imf_io_lib_message(lower, sizeof lower, text);
	if (c->io_errno)
		imf_error_set(c->err, code, "PNG: %s: %s", lower, strerror(c->io_errno));
	else
		imf_error_set(c->err, code, "PNG: %s", lower);
	c->status = code;
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	png_ctx *c = png_get_error_ptr(png);
	if (!c->warning[0] && msg)
		snprintf(c->warning, sizeof c->warning, "%s", msg);
}

/* The work of one entry point: everything that may longjmp. */
typedef void (*png_body)(png_ctx *c, void *arg);

/* Run body under setjmp; its result, or the error that stopped it. */
static imf_status png_guard(png_ctx *c, png_body body, void *arg, imf_error *err)
{
	c->err = err;
	if (setjmp(png_jmpbuf(c->png)))
		return c->status;
	body(c, arg);
	return c->status;
}

/* ---- reading ------------------------------------------------------------ */

/*
 * For header_only: does the input end where an IDAT chunk may begin?  That is
 * at a chunk boundary, after IHDR (its width is set only once it passed
 * png_check_IHDR) and, for a palette image, after PLTE.
 */
static int png_cut_before_idat(png_ctx *c)
{
	png_structp png = c->png;
	return c->r->header_only && !c->idat_supplied &&
	       (png_get_io_state(png) & PNG_IO_MASK_LOC) == PNG_IO_CHUNK_HDR &&
	       png_get_image_width(png, c->info) > 0 &&
	       (png_get_color_type(png, c->info) != PNG_COLOR_TYPE_PALETTE ||
	        png_get_valid(png, c->info, PNG_INFO_PLTE));
}

static void png_read_cb(png_structp png, png_bytep data, size_t len)
{
	/* A zero-length IDAT chunk's length and type. */
	static const unsigned char empty_idat[8] = { 0, 0, 0, 0, 'I', 'D', 'A', 'T' };
	png_ctx *c = png_get_io_ptr(png);
	int e;
	size_t got = imf_io_read(&c->r->src, data, len, &e);
	if (got == len)
		return;
	if (e) {
		c->io_code = IMF_EIO;
		c->io_errno = e;
		png_error(png, "read failed");
	}
	if (got == 0 && len == sizeof empty_idat && png_cut_before_idat(c)) {
		memcpy(data, empty_idat, sizeof empty_idat);
		c->idat_supplied = 1;
		return;
	}
	c->io_code = IMF_ECORRUPT;
	png_error(png, "truncated file");
}

/* The palette (and its tRNS alpha) as one float table per output plane. */
static void png_load_palette(png_ctx *c)
{
	png_colorp pal = NULL;
	png_bytep trans = NULL;
	int npal = 0, ntrans = 0;

	if (!png_get_PLTE(c->png, c->info, &pal, &npal) || npal < 1)
		png_error(c->png, "palette image without a PLTE chunk");
	if (png_get_valid(c->png, c->info, PNG_INFO_tRNS))
		png_get_tRNS(c->png, c->info, &trans, &ntrans, NULL);
	if (npal > 256)
		npal = 256;
	c->npal = npal;
	for (int i = 0; i < 256; i++) {
		int in = i < npal;
		c->lut[0][i] = in ? pal[i].red : 0.0f;
		c->lut[1][i] = in ? pal[i].green : 0.0f;
		c->lut[2][i] = in ? pal[i].blue : 0.0f;
		c->lut[3][i] = trans && i < ntrans ? trans[i] : 255.0f;
	}
}

/*
 * Read the header up to the first IDAT, set up the transforms and check the
 * layout they give against the limits, into c->r->info.
 */
static void png_open_body(png_ctx *c, void *arg)
{
	png_structp png = c->png;
	png_infop info = c->info;
	imf_reader *r = c->r;
	const imf_limits *lim = &r->opts.limits;
	(void)arg;

	png_set_read_fn(png, c, png_read_cb);
	/* 0 means "no limit" for us; libpng's own ceiling is 2^31 - 1. */
	png_uint_32 side = PNG_UINT_31_MAX;
	if (lim->max_side > 0 && lim->max_side < side)
		side = (png_uint_32)lim->max_side;
	png_set_user_limits(png, side, side);
	png_set_chunk_cache_max(png, PNG_CHUNK_CACHE_MAX);
	png_set_chunk_malloc_max(png, PNG_CHUNK_MALLOC_MAX);
	/* Skip every chunk but IHDR, PLTE, tRNS, IDAT, IEND: text, gamma and
	 * colour profiles are never used, so never decompressed either. */
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);

	png_read_info(png, info);

	int color_type = png_get_color_type(png, info);
	int bit_depth = png_get_bit_depth(png, info);
	c->palette = color_type == PNG_COLOR_TYPE_PALETTE;
	if (c->palette) {
		png_load_palette(c);
		if (bit_depth < 8)
			png_set_packing(png); /* one index a byte */
	} else {
		if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
			png_set_expand_gray_1_2_4_to_8(png);
		if (png_get_valid(png, info, PNG_INFO_tRNS))
			png_set_tRNS_to_alpha(png);
	}
	c->passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);

	size_t width = png_get_image_width(png, info);
	size_t height = png_get_image_height(png, info);
	int nch = png_get_channels(png, info);
	int depth = png_get_bit_depth(png, info);
	if (nch < 1 || nch > 4 || (depth != 8 && depth != 16) || (c->palette && nch != 1)) {
		/* Cannot happen with the transforms above; refuse rather than guess. */
		c->status = imf_error_set(c->err, IMF_ECORRUPT,
		                          "PNG: unexpected layout after expansion (%d channel%s, %d bits)",
		                          nch, nch == 1 ? "" : "s", depth);
		return;
	}
	if (c->palette)
		nch = png_get_valid(png, info, PNG_INFO_tRNS) ? 4 : 3;
	c->status = imf_check_dims(width, height, nch, lim, "PNG", c->err);
	if (c->status != IMF_OK)
		return;
	c->depth = depth;
	r->info.width = width;
	r->info.height = height;
	r->info.channels = nch;
	r->info.has_alpha = nch == 2 || nch == 4;
	r->info.format = IMF_FORMAT_PNG;
	r->info.depth = depth == 16 ? 16 : 8;
	r->whole_only = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
	r->streams = !r->whole_only;
	if (r->header_only)
		return;

	size_t rowbytes = png_get_rowbytes(png, info);
	size_t need;
	if (!imf_size_mul(width, (size_t)png_get_channels(png, info) * (size_t)(depth / 8), &need) ||
	    rowbytes < need) {
		c->status = imf_error_set(c->err, IMF_ECORRUPT, "PNG: inconsistent row size");
		return;
	}
	c->row = imf_alloc_array(rowbytes, 1, c->err);
	if (!c->row)
		c->status = IMF_ENOMEM;
}

/*
 * Columns x0, x0 + dx, ... of the decoded row into row y of band.  Returns
 * 0 with c->status set when a palette index is out of range.
 */
static int png_convert(png_ctx *c, imf_image *band, size_t y, size_t x0, size_t dx)
{
	const unsigned char *row = c->row;
	const size_t w = band->width;
	const int nch = band->channels;
	float *out[4];

	for (int ch = 0; ch < nch; ch++)
		out[ch] = imf_image_row(band, ch, y);
	if (c->palette) {
		unsigned top = 0;
		for (size_t x = x0; x < w; x += dx)
			top = row[x] > top ? row[x] : top;
		if (top >= (unsigned)c->npal) {
			size_t x = x0;
			while (row[x] < c->npal)
				x += dx;
			c->status = imf_error_set(c->err, IMF_ECORRUPT,
			                          "PNG: palette index %u out of range (palette has %d "
			                          "entr%s)",
			                          (unsigned)row[x], c->npal, c->npal == 1 ? "y" : "ies");
			return 0;
		}
		for (int ch = 0; ch < nch; ch++) {
			const float *lut = c->lut[ch];
			float *restrict o = out[ch];
			for (size_t x = x0; x < w; x += dx)
				o[x] = lut[row[x]];
		}
	} else if (dx == 1 && x0 == 0) {
		if (c->depth == 16)
			imf_io_unpack16(row, w, nch, out);
		else
			imf_io_unpack8(row, w, nch, out);
	} else {
		/* An Adam7 pass: its pixels sit at their final columns. */
		for (int ch = 0; ch < nch; ch++) {
			for (size_t x = x0; x < w; x += dx) {
				size_t i = x * (size_t)nch + (size_t)ch;
				out[ch][x] = c->depth == 16
				             ? (float)(((unsigned)row[2 * i] << 8) | row[2 * i + 1]) / 257.0f
				             : (float)row[i];
			}
		}
	}
	return 1;
}

typedef struct png_rows_arg {
	imf_image *band;
	size_t first, n;
} png_rows_arg;

static void png_rows_body(png_ctx *c, void *arg)
{
	const png_rows_arg *a = arg;
	imf_reader *r = c->r;
	size_t height = r->info.height;

	if (!r->whole_only) {
		for (size_t i = 0; i < a->n; i++) {
			png_read_row(c->png, c->row, NULL);
			if (!png_convert(c, a->band, a->first + i, 0, 1))
				return;
		}
	} else {
		/* With interlace handling on, libpng wants height calls per pass and
		 * puts this pass's pixels at their final columns. */
		for (int pass = 0; pass < c->passes; pass++) {
			for (size_t y = 0; y < height; y++) {
				png_read_row(c->png, c->row, NULL);
				if (PNG_ROW_IN_INTERLACE_PASS(y, pass) &&
				    !png_convert(c, a->band, a->first + y, PNG_PASS_START_COL(pass),
				                 (size_t)1 << PNG_PASS_COL_SHIFT(pass)))
					return;
			}
		}
	}
	if (r->next + a->n == height)
		png_read_end(c->png, NULL);
}

static void png_reader_close(imf_reader *r)
{
	png_ctx *c = r->state;
	if (!c)
		return;
	if (c->png)
		png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
	free(c->row);
	free(c);
	r->state = NULL;
}

static imf_status png_reader_open(imf_reader *r, imf_error *err)
{
	png_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
	r->state = c;
	c->r = r;
	c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
	if (!c->png)
		return imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
	/*
	 * Benign errors mean corrupt pixels: refuse them rather than decode
	 * garbage.  Ancillary-chunk CRC errors are governed separately and stay
	 * tolerated.
	 */
	png_set_benign_errors(c->png, 0);
	png_set_check_for_invalid_index(c->png, 1);
	c->info = png_create_info_struct(c->png);
	if (!c->info)
		return imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
	return png_guard(c, png_open_body, NULL, err);
}

static imf_status png_reader_rows(imf_reader *r, imf_image *band, size_t first, size_t n,
                                  imf_error *err)
{
	png_rows_arg a = { band, first, n };
	return png_guard(r->state, png_rows_body, &a, err);
}

const imf_reader_ops imf_png_reader = { .open = png_reader_open, .rows = png_reader_rows,
	                                 .close = png_reader_close };
