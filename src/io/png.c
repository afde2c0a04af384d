/*
 * png.c - PNG reader and writer on top of libpng.
 *
 * The reader returns the file's own channels (gray, gray+alpha, RGB, RGBA) on
 * the 0..255 scale: palettes expand to RGB, tRNS becomes an alpha plane,
 * 1/2/4-bit gray scales to 0..255 (v * 255 / (2^bits - 1)) and a 16-bit
 * sample v becomes v / 257.  Interlaced files are read one row at a time: for
 * each Adam7 pass only that pass's pixels are converted, so no whole-image
 * byte buffer is needed.  Gamma and colour-profile chunks are not applied.
 *
 * imf_png_read_info runs the same code up to the layout (png_read_info, the
 * transforms, imf_check_dims) and stops before the image data.  It also
 * accepts a file that ends at a chunk boundary once IHDR (and a palette's
 * PLTE) has been read: the read callback then supplies an empty IDAT chunk
 * header, so png_read_info returns and the layout still comes from libpng's
 * own rules (a tRNS chunk that was cut off cannot count, of course).
 *
 * libpng reports errors with longjmp.  Each operation keeps everything
 * libpng can touch in one struct (png_ctx) and owns the setjmp in one small
 * function (png_read_guarded, png_write_guarded); png_read_run and
 * imf_png_write release the struct through a single cleanup path.  libpng never prints:
 * its error text becomes "PNG: <message>" (first letter lowercased) in the
 * caller's imf_error and warnings are kept only to explain a rejected IHDR.
 */
#include "io.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* Ancillary chunks are discarded, but bound what libpng may still cache. */
#define PNG_CHUNK_CACHE_MAX 1000
#define PNG_CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)

typedef struct png_ctx {
	png_structp png;
	png_infop info;
	imf_error *err;
	imf_status status;  /* IMF_OK until something fails */
	imf_status io_code; /* set by the I/O callbacks just before png_error */
	int io_errno;       /* errno of a failed read or write, or 0 */
	char warning[128];  /* first libpng warning (explains "Invalid IHDR data") */

	/* reading */
	imf_src *src;
	const imf_read_opts *ropts;
	int header_only;    /* imf_png_read_info: stop once the layout is known */
	int idat_supplied;  /* the stream ended where IDAT would start (header_only) */
	imf_info shape;     /* the layout the reader produces, from the header */
	int passes;         /* rows are read passes * height times (Adam7: 7) */
	imf_image *img;

	/* writing */
	FILE *fp;
	const imf_image *wimg;
	const imf_write_opts *wopts;

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
		if (c->ropts && contains_nocase(text, "exceeds user limit")) {
			/* Our max_side, installed with png_set_user_limits. */
			c->status = imf_error_set(c->err, IMF_ELIMIT,
			                          "PNG: image %s is over the limit of %zu (--max-side)",
			                          contains_nocase(text, "height") ? "height" : "width",
			                          c->ropts->limits.max_side);
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

/* ---- reading ------------------------------------------------------------ */

/*
 * For header_only: does the input end where an IDAT chunk may begin?  That is
 * at a chunk boundary, after IHDR (its width is set only once it passed
 * png_check_IHDR) and, for a palette image, after PLTE.
 */
static int png_cut_before_idat(png_ctx *c)
{
	png_structp png = c->png;
	return c->header_only && !c->idat_supplied &&
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
	size_t got = imf_io_read(c->src, data, len, &e);
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

/* Sample x of a row after the transforms (8 or 16 bits) on the 0..255 scale. */
static float png_sample(const unsigned char *row, size_t i, int depth)
{
	if (depth == 16)
		return (float)(((unsigned)row[2 * i] << 8) | row[2 * i + 1]) / 257.0f;
	return (float)row[i];
}

/* Convert columns x0, x0 + dx, ... of one decoded row into image row y. */
static void png_store_row(png_ctx *c, size_t y, size_t x0, size_t dx, int depth)
{
	imf_image *img = c->img;
	int nch = img->channels;
	for (int ch = 0; ch < nch; ch++) {
		float *out = imf_image_row(img, ch, y);
		for (size_t x = x0; x < img->width; x += dx)
			out[x] = png_sample(c->row, x * (size_t)nch + (size_t)ch, depth);
	}
}

/*
 * Read the header up to the first IDAT, set up the transforms and check the
 * layout they give against the limits: into c->shape, or 0 with c->status
 * set.  Shared by the reader and imf_png_read_info, so both agree.
 */
static int png_read_layout(png_ctx *c)
{
	png_structp png = c->png;
	png_infop info = c->info;
	const imf_limits *lim = &c->ropts->limits;

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
	if (color_type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(png);
	c->passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);

	size_t width = png_get_image_width(png, info);
	size_t height = png_get_image_height(png, info);
	int nch = png_get_channels(png, info);
	int depth = png_get_bit_depth(png, info);
	if (nch < 1 || nch > 4 || (depth != 8 && depth != 16)) {
		/* Cannot happen with the transforms above; refuse rather than guess. */
		c->status = imf_error_set(c->err, IMF_ECORRUPT,
		                          "PNG: unexpected layout after expansion (%d channels, %d bits)",
		                          nch, depth);
		return 0;
	}
	c->status = imf_check_dims(width, height, nch, lim, "PNG", c->err);
	if (c->status != IMF_OK)
		return 0;
	c->shape.width = width;
	c->shape.height = height;
	c->shape.channels = nch;
	c->shape.has_alpha = nch == 2 || nch == 4;
	c->shape.format = IMF_FORMAT_PNG;
	c->shape.depth = depth == 16 ? 16 : 8;
	return 1;
}

/* Everything that may longjmp.  Returns normally only on success or on an
 * error it reports itself (c->status). */
static void png_read_body(png_ctx *c)
{
	png_structp png = c->png;
	png_infop info = c->info;
	const imf_limits *lim = &c->ropts->limits;

	if (!png_read_layout(c) || c->header_only)
		return;

	size_t width = c->shape.width, height = c->shape.height;
	int nch = c->shape.channels, depth = c->shape.depth;
	size_t rowbytes = png_get_rowbytes(png, info);
	size_t need;
	if (!imf_size_mul(width, (size_t)nch * (size_t)(depth / 8), &need) || rowbytes < need) {
		c->status = imf_error_set(c->err, IMF_ECORRUPT, "PNG: inconsistent row size");
		return;
	}
	c->row = imf_alloc_array(rowbytes, 1, c->err);
	if (!c->row) {
		c->status = IMF_ENOMEM;
		return;
	}
	c->status = imf_image_new(width, height, nch, c->shape.has_alpha, lim, &c->img, c->err);
	if (c->status != IMF_OK)
		return;
	imf_image_set_source(c->img, IMF_FORMAT_PNG, depth);

	int interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
	for (int pass = 0; pass < c->passes; pass++) {
		for (size_t y = 0; y < height; y++) {
			/* With interlace handling on, libpng wants height calls per
			 * pass and puts this pass's pixels at their final columns. */
			png_read_row(png, c->row, NULL);
			if (!interlaced)
				png_store_row(c, y, 0, 1, depth);
			else if (PNG_ROW_IN_INTERLACE_PASS(y, pass))
				png_store_row(c, y, PNG_PASS_START_COL(pass),
				              (size_t)1 << PNG_PASS_COL_SHIFT(pass), depth);
		}
	}
	/* Reads up to IEND, so a file cut after the image data is caught too. */
	png_read_end(png, NULL);
}

static imf_status png_read_guarded(png_ctx *c)
{
	if (setjmp(png_jmpbuf(c->png)))
		return c->status;
	png_read_body(c);
	return c->status;
}

/*
 * One read: the whole image into *out, or with header_only just its layout
 * into *info.  libpng's structures and the buffers are released here.
 */
static imf_status png_read_run(imf_src *src, const imf_read_opts *opts, int header_only,
                               imf_image **out, imf_info *info, imf_error *err)
{
	png_ctx c;
	memset(&c, 0, sizeof c);
	c.err = err;
	c.src = src;
	c.ropts = opts;
	c.header_only = header_only;

	c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error, png_on_warning);
	if (!c.png)
		return imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
	/*
	 * Benign errors (a palette index past the palette, ...) mean corrupt
	 * pixels: refuse them rather than decode garbage.  Ancillary-chunk CRC
	 * errors are governed separately and stay tolerated.
	 */
	png_set_benign_errors(c.png, 0);
	png_set_check_for_invalid_index(c.png, 1);
	c.info = png_create_info_struct(c.png);
	if (!c.info) {
		c.status = imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
		goto cleanup;
	}
	c.status = png_read_guarded(&c);
	if (c.status == IMF_OK && header_only) {
		*info = c.shape;
	} else if (c.status == IMF_OK) {
		*out = c.img;
		c.img = NULL;
	}
cleanup:
	png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
	imf_image_free(c.img);
	free(c.row);
	return c.status;
}

imf_status imf_png_read(imf_src *src, const imf_read_opts *opts, imf_image **out, imf_error *err)
{
	*out = NULL;
	return png_read_run(src, opts, 0, out, NULL, err);
}

imf_status imf_png_read_info(imf_src *src, const imf_read_opts *opts, imf_info *info,
                             imf_error *err)
{
	return png_read_run(src, opts, 1, NULL, info, err);
}

/* ---- writing ------------------------------------------------------------ */

static void png_write_cb(png_structp png, png_bytep data, size_t len)
{
	png_ctx *c = png_get_io_ptr(png);
	int e = imf_io_write(c->fp, data, len);
	if (!e)
		return;
	c->io_code = IMF_EIO;
	c->io_errno = e;
	png_error(png, "write failed");
}

/* Flushing happens once, in imf_write after the whole file, where it is checked. */
static void png_flush_cb(png_structp png)
{
	(void)png;
}

static void png_write_body(png_ctx *c, int color_type, int nch, int depth)
{
	png_structp png = c->png;
	const imf_image *img = c->wimg;
	size_t width = img->width;

	png_set_write_fn(png, c, png_write_cb, png_flush_cb);
	/* libpng's default 1,000,000-pixel side limit applies to writing too. */
	png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
	png_set_compression_level(png, 6);
	png_set_IHDR(png, c->info, (png_uint_32)width, (png_uint_32)img->height, depth, color_type,
	             PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, c->info);

	imf_mapper m;
	imf_mapper_init(&m, img, c->wopts->map, depth == 16 ? 65535u : 255u);
	for (size_t y = 0; y < img->height; y++) {
		imf_io_map_row(&m, img, y, nch, depth, c->row);
		png_write_row(png, c->row);
	}
	png_write_end(png, NULL);
}

static imf_status png_write_guarded(png_ctx *c, int color_type, int nch, int depth)
{
	if (setjmp(png_jmpbuf(c->png)))
		return c->status;
	png_write_body(c, color_type, nch, depth);
	return c->status;
}

imf_status imf_png_write(FILE *fp, const imf_image *img, const imf_write_opts *opts,
                         imf_error *err)
{
	png_ctx c;
	memset(&c, 0, sizeof c);
	c.err = err;
	c.fp = fp;
	c.wimg = img;
	c.wopts = opts;

	int nch, color_type;
	int alpha = imf_image_has_alpha(img);
	int channels = imf_image_channels(img);
	if (channels == 2 && alpha) {
		nch = 2;
		color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
	} else if (channels == 4 && alpha) {
		nch = 4;
		color_type = PNG_COLOR_TYPE_RGB_ALPHA;
	} else {
		/* Plain gray or RGB, and any odd layout reduced to its colour planes. */
		nch = imf_color_planes(img);
		color_type = nch == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB;
	}
	int depth = imf_output_depth(img, opts) == 16 ? 16 : 8;

	if (img->width > PNG_UINT_31_MAX || img->height > PNG_UINT_31_MAX)
		return imf_error_set(err, IMF_EINVAL,
		                     "PNG: %zux%zu is too large for PNG (at most %lu pixels a side)",
		                     img->width, img->height, (unsigned long)PNG_UINT_31_MAX);
	/* The row buffer holds width * nch 16-bit values at either depth. */
	size_t values;
	if (!imf_size_mul(img->width, (size_t)nch, &values))
		return imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
	c.row = imf_alloc_array(values, sizeof(uint16_t), err);
	if (!c.row)
		return IMF_ENOMEM;

	c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error, png_on_warning);
	if (!c.png) {
		c.status = imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
		goto cleanup;
	}
	c.info = png_create_info_struct(c.png);
	if (!c.info) {
		c.status = imf_error_set(err, IMF_ENOMEM, "PNG: out of memory");
		goto cleanup;
	}
	c.status = png_write_guarded(&c, color_type, nch, depth);
cleanup:
	if (c.png)
		png_destroy_write_struct(&c.png, c.info ? &c.info : NULL);
	free(c.row);
	return c.status;
}
