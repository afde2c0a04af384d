/*
 * check_stream.c - the streaming reader and writer (src/io/stream.c and the
 * formats' row code).
 *
 * The reference is the whole-image path: for every format and layout,
 * reading in bands of any size (1 row, 7 rows, all rows, random sizes at
 * random places in the band) must give exactly imf_read's planes, bit for
 * bit, and writing in bands exactly imf_write's bytes.  A file cut in the
 * middle of its rows must fail in a band with imf_read's own error, and the
 * error must stay.  Also here: the palette index check, the memory budget
 * (--max-memory) and the arguments the stream calls refuse.
 */
#include "testutil.h"

#include "internal.h"
#include "io/io.h" /* imf_reader_start: a reader for the header only */

#include <fcntl.h>
#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- memory files and images ------------------------------------------------ */


/* Everything written to fp, from its start. */
static unsigned char *file_bytes(FILE *fp, size_t *len)
{
	long size = ftell(fp);
	ck_assert_int_ge(size, 0);
	rewind(fp);
	unsigned char *buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	buf[size] = 0;
	*len = (size_t)size;
	return buf;
}

static imf_image *new_image(size_t w, size_t h, int ch, int alpha)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_image_new(w, h, ch, alpha, NULL, &img, &err) == IMF_OK, "%s", err.msg);
	return img;
}

/*
 * Random planes: whole numbers 0..255 (integer), or any real values in
 * -100..400 with a few exact 0.5 steps (which rounding must handle alike).
 */
static imf_image *random_image(size_t w, size_t h, int ch, int alpha, unsigned long long seed,
                               int integer)
{
	imf_image *img = new_image(w, h, ch, alpha);
	for (int c = 0; c < ch; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++) {
				double r = tu_rand(&seed);
				float v = integer ? (float)(int)(r * 256.0)
				                  : (x % 5 == 0 ? (float)(int)(r * 600.0 - 100.0) + 0.5f
				                                : (float)(r * 500.0 - 100.0));
				imf_image_row(img, c, y)[x] = v;
			}
	return img;
}

/* A smooth image (what JPEG is for): gradients plus a little noise. */
static imf_image *smooth_image(size_t w, size_t h, int ch, unsigned long long seed)
{
	imf_image *img = new_image(w, h, ch, 0);
	for (int c = 0; c < ch; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] =
					(float)(int)(20.0 + 200.0 * (double)(x + (size_t)c * y) /
					                            (double)(w + (size_t)c * h) +
					             10.0 * tu_rand(&seed));
	return img;
}

static void assert_same_image(const char *name, const imf_image *a, const imf_image *b)
{
	ck_assert_msg(imf_image_width(a) == imf_image_width(b) &&
	                      imf_image_height(a) == imf_image_height(b) &&
	                      imf_image_channels(a) == imf_image_channels(b) &&
	                      imf_image_has_alpha(a) == imf_image_has_alpha(b),
	              "%s: geometry differs", name);
	for (int c = 0; c < imf_image_channels(a); c++)
		for (size_t y = 0; y < imf_image_height(a); y++)
			ck_assert_msg(memcmp(imf_image_row_const(a, c, y), imf_image_row_const(b, c, y),
			                     imf_image_width(a) * sizeof(float)) == 0,
			              "%s: plane %d row %zu differs", name, c, y);
}

/* ---- files made with libpng and libjpeg directly --------------------------------- */

static void mem_png_write(png_structp png, png_bytep d, size_t n)
{
	FILE *fp = png_get_io_ptr(png);
	if (fwrite(d, 1, n, fp) != n)
		png_error(png, "write failed");
}

static void mem_png_flush(png_structp png)
{
	(void)png;
}

typedef struct raw_png {
	int color_type, bit_depth, interlace;
	size_t w, h;
	const unsigned char *rows; /* h rows of packed file samples */
	size_t rowbytes;
	const png_color *palette;
	int npal;
	const png_byte *trans;
	int ntrans;
} raw_png;

static int raw_png_guarded(png_structp png, png_infop info, const raw_png *s, FILE *fp)
{
	if (setjmp(png_jmpbuf(png)))
		return 0;
	png_set_write_fn(png, fp, mem_png_write, mem_png_flush);
	png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->bit_depth, s->color_type,
	             s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (s->palette)
		png_set_PLTE(png, info, s->palette, s->npal);
	if (s->trans)
		png_set_tRNS(png, info, s->trans, s->ntrans, NULL);
	png_write_info(png, info);
	int passes = png_set_interlace_handling(png);
	for (int p = 0; p < passes; p++)
		for (size_t y = 0; y < s->h; y++)
			png_write_row(png, s->rows + y * s->rowbytes);
	png_write_end(png, info);
	return 1;
}

static unsigned char *make_raw_png(const raw_png *s, size_t *len)
{
	FILE *fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(png);
	/* libpng checks indices against the palette when writing: let a bad one through. */
	png_set_check_for_invalid_index(png, 0);
	png_infop info = png_create_info_struct(png);
	ck_assert_ptr_nonnull(info);
	int ok = raw_png_guarded(png, info, s, fp);
	png_destroy_write_struct(&png, &info);
	ck_assert_msg(ok, "libpng could not write the test file");
	unsigned char *data = file_bytes(fp, len);
	fclose(fp);
	return data;
}

/* 8-bit RGB, Adam7. */
static unsigned char *png_adam7(size_t *len)
{
	enum { W = 29, H = 23 };
	static unsigned char rows[W * H * 3];
	unsigned long long seed = 11;
	for (size_t i = 0; i < sizeof rows; i++)
		rows[i] = (unsigned char)(tu_rand(&seed) * 256.0);
	raw_png s = { PNG_COLOR_TYPE_RGB, 8, 1, W, H, rows, W * 3, NULL, 0, NULL, 0 };
	return make_raw_png(&s, len);
}

static const png_color test_palette[16] = {
	{ 0, 0, 0 },     { 255, 0, 0 },   { 0, 255, 0 },   { 0, 0, 255 },
	{ 10, 20, 30 },  { 40, 50, 60 },  { 70, 80, 90 },  { 100, 110, 120 },
	{ 130, 140, 150 }, { 160, 170, 180 }, { 190, 200, 210 }, { 220, 230, 240 },
	{ 1, 2, 3 },     { 4, 5, 6 },     { 7, 8, 9 },     { 250, 251, 252 },
};
static const png_byte test_trans[3] = { 0, 128, 200 };

/*
 * A 4-bit palette image of npal entries (tRNS for the first 3 when trns):
 * indices (x + y) % npal, except bad_index at (bad_x, bad_y) when bad_y >= 0.
 */
static unsigned char *png_palette4(int npal, int trns, int interlace, int bad_y, int bad_x,
                                   int bad_index, size_t *len)
{
	enum { W = 21, H = 13, RB = (W + 1) / 2 };
	static unsigned char rows[RB * H];
	memset(rows, 0, sizeof rows);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int v = y == bad_y && x == bad_x ? bad_index : (x + y) % npal;
			rows[y * RB + x / 2] |= (unsigned char)(v << (x % 2 ? 0 : 4));
		}
	raw_png s = { PNG_COLOR_TYPE_PALETTE, 4, interlace, W, H, rows, RB, test_palette, npal,
		      trns ? test_trans : NULL, trns ? 3 : 0 };
	return make_raw_png(&s, len);
}

/* A progressive (or several-scan) JPEG of a smooth image, through libjpeg. */
static unsigned char *jpeg_progressive(int gray, size_t *len)
{
	enum { W = 45, H = 37 };
	int nch = gray ? 1 : 3;
	imf_image *img = smooth_image(W, H, nch, 5);
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *mem = NULL;
	unsigned long size = 0;
	unsigned char row[W * 3];

	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &size);
	ci.image_width = W;
	ci.image_height = H;
	ci.input_components = nch;
	ci.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	for (size_t y = 0; y < H; y++) {
		for (size_t x = 0; x < W; x++)
			for (int c = 0; c < nch; c++)
				row[x * (size_t)nch + (size_t)c] =
					(unsigned char)imf_image_row(img, c, y)[x];
		JSAMPROW rp = row;
		jpeg_write_scanlines(&ci, &rp, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	imf_image_free(img);
	unsigned char *out = malloc(size);
	ck_assert_ptr_nonnull(out);
	memcpy(out, mem, size);
	free(mem);
	*len = size;
	return out;
}

/* ---- the inputs every reader test runs on -------------------------------------------- */

/* imf_write of a random image with these write options. */
static unsigned char *written(size_t w, size_t h, int ch, int alpha, int integer, imf_format fmt,
                              int depth, int quality, size_t *len)
{
	imf_image *img = fmt == IMF_FORMAT_JPEG ? smooth_image(w, h, ch, 3)
	                                        : random_image(w, h, ch, alpha, 7 + w, integer);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	wo.depth = depth;
	wo.quality = quality;
	unsigned char *data = tu_write_mem(img, fmt, &wo, len);
	imf_image_free(img);
	return data;
}

static unsigned char *copy_text(const char *text, size_t *len)
{
	*len = strlen(text);
	unsigned char *d = malloc(*len + 1);
	ck_assert_ptr_nonnull(d);
	memcpy(d, text, *len + 1);
	return d;
}

/* A raw netpbm file: header, then h rows of rowbytes random bytes (samples masked). */
static unsigned char *raw_pnm(const char *header, size_t h, size_t rowbytes, unsigned mask,
                              int wide, size_t *len)
{
	size_t hl = strlen(header), n = hl + h * rowbytes;
	unsigned char *d = malloc(n);
	unsigned long long seed = 99;
	ck_assert_ptr_nonnull(d);
	memcpy(d, header, hl);
	for (size_t i = hl; i < n; i++)
		d[i] = (unsigned char)(tu_rand(&seed) * 256.0);
	if (wide)
		for (size_t i = hl; i + 1 < n; i += 2) {
			unsigned v = ((unsigned)d[i] << 8 | d[i + 1]) % (mask + 1);
			d[i] = (unsigned char)(v >> 8);
			d[i + 1] = (unsigned char)v;
		}
	else if (mask != 0xFF)
		for (size_t i = hl; i < n; i++)
			d[i] = (unsigned char)(d[i] % (mask + 1));
	*len = n;
	return d;
}

enum { INPUT_COUNT = 33 };

typedef struct input {
	const char *name;
	unsigned char *data;
	size_t len;
	int want_gray;
	int streams; /* what imf_reader_streams must say */
} input;

static input make_input(int i)
{
	input in = { NULL, NULL, 0, 0, 1 };
	size_t *n = &in.len;
	switch (i) {
	case 0: in.name = "png gray8"; in.data = written(37, 41, 1, 0, 1, IMF_FORMAT_PNG, 0, 90, n); break;
	case 1: in.name = "png gray+alpha8"; in.data = written(33, 19, 2, 1, 1, IMF_FORMAT_PNG, 0, 90, n); break;
	case 2: in.name = "png rgb8"; in.data = written(31, 45, 3, 0, 1, IMF_FORMAT_PNG, 0, 90, n); break;
	case 3: in.name = "png rgba8"; in.data = written(17, 29, 4, 1, 1, IMF_FORMAT_PNG, 0, 90, n); break;
	case 4: in.name = "png gray16"; in.data = written(23, 31, 1, 0, 0, IMF_FORMAT_PNG, 16, 90, n); break;
	case 5: in.name = "png rgba16"; in.data = written(19, 27, 4, 1, 0, IMF_FORMAT_PNG, 16, 90, n); break;
	case 6: in.name = "png adam7 rgb8"; in.data = png_adam7(n); in.streams = 0; break;
	case 7: in.name = "png palette4"; in.data = png_palette4(16, 0, 0, -1, 0, 0, n); break;
	case 8: in.name = "png palette4 + tRNS"; in.data = png_palette4(11, 1, 0, -1, 0, 0, n); break;
	case 9:
		in.name = "png adam7 palette4 + tRNS";
		in.data = png_palette4(7, 1, 1, -1, 0, 0, n);
		in.streams = 0;
		break;
	case 10: in.name = "jpeg gray"; in.data = written(41, 35, 1, 0, 1, IMF_FORMAT_JPEG, 0, 90, n); break;
	case 11: in.name = "jpeg rgb 4:4:4"; in.data = written(41, 35, 3, 0, 1, IMF_FORMAT_JPEG, 0, 90, n); break;
	case 12: in.name = "jpeg rgb 4:2:0"; in.data = written(43, 39, 3, 0, 1, IMF_FORMAT_JPEG, 0, 75, n); break;
	case 13:
		in.name = "jpeg rgb 4:2:0, want_gray";
		in.data = written(43, 39, 3, 0, 1, IMF_FORMAT_JPEG, 0, 75, n);
		in.want_gray = 1;
		break;
	case 14: in.name = "jpeg progressive rgb"; in.data = jpeg_progressive(0, n); in.streams = 0; break;
	case 15:
		in.name = "jpeg progressive rgb, want_gray";
		in.data = jpeg_progressive(0, n);
		in.want_gray = 1;
		in.streams = 0;
		break;
	case 16: in.name = "jpeg progressive gray"; in.data = jpeg_progressive(1, n); in.streams = 0; break;
	case 17: in.name = "pnm P5"; in.data = written(37, 23, 1, 0, 1, IMF_FORMAT_PNM, 0, 90, n); break;
	case 18: in.name = "pnm P6"; in.data = written(29, 31, 3, 0, 1, IMF_FORMAT_PNM, 0, 90, n); break;
	case 19: in.name = "pnm P5 16-bit"; in.data = written(25, 33, 1, 0, 0, IMF_FORMAT_PNM, 16, 90, n); break;
	case 20:
		/* 1800-byte rows: a 64 KiB chunk holds 36, so bands cross chunks. */
		in.name = "pnm P6 16-bit 300x150";
		in.data = written(300, 150, 3, 0, 0, IMF_FORMAT_PNM, 16, 90, n);
		break;
	case 21: in.name = "pnm P5 maxval 100"; in.data = raw_pnm("P5 13 17 100\n", 17, 13, 100, 0, n); break;
	case 22: in.name = "pnm P6 maxval 1000"; in.data = raw_pnm("P6 11 9 1000\n", 9, 66, 1000, 1, n); break;
	case 23: in.name = "pnm P4"; in.data = raw_pnm("P4\n19 15\n", 15, 3, 0xFF, 0, n); break;
	case 24:
		in.name = "pnm P7 RGBA";
		in.data = raw_pnm("P7\nWIDTH 9\nHEIGHT 14\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\n"
		                  "ENDHDR\n", 14, 36, 0xFF, 0, n);
		break;
	case 25:
		in.name = "pnm P1";
		in.data = copy_text("P1 5 4\n1 0 1 0 1\n0 1 1 0 0\n1 1 1 1 1\n0 0 0 0 1\n", n);
		break;
	case 26:
		in.name = "pnm P2";
		in.data = copy_text("P2 4 3 1000\n# a comment\n0 500 1000 7\n1 2 3 4\n999 998 997 0\n", n);
		break;
	case 27: in.name = "pnm P3"; in.data = copy_text("P3 2 3 255\n1 2 3 4 5 6\n7 8 9 10 11 12\n"
	                                                  "13 14 15 16 17 18\n", n); break;
	case 28: in.name = "pfm gray"; in.data = written(23, 19, 1, 0, 0, IMF_FORMAT_PFM, 0, 90, n); in.streams = 0; break;
	case 29: in.name = "pfm rgb"; in.data = written(17, 21, 3, 0, 0, IMF_FORMAT_PFM, 0, 90, n); in.streams = 0; break;
	case 30: in.name = "text 1 plane"; in.data = written(13, 11, 1, 0, 0, IMF_FORMAT_TEXT, 0, 90, n); in.streams = 0; break;
	case 31: in.name = "text 4 planes"; in.data = written(7, 9, 4, 1, 0, IMF_FORMAT_TEXT, 0, 90, n); in.streams = 0; break;
	case 32: in.name = "png palette1"; in.data = png_palette4(2, 0, 0, -1, 0, 0, n); break;
	}
	ck_assert_ptr_nonnull(in.data);
	return in;
}

/* ---- band by band ------------------------------------------------------------------ */

/* How a band run picks its sizes: fixed (all rows when 0), or random 1..13. */
typedef struct schedule {
	const char *name;
	size_t rows;  /* 0: all at once */
	int random;   /* random sizes at random places in a 20-row band */
} schedule;

static const schedule schedules[] = {
	{ "all rows", 0, 0 }, { "1 row", 1, 0 }, { "7 rows", 7, 0 }, { "random", 0, 1 },
};
#define NSCHED (sizeof schedules / sizeof schedules[0])

/* Next band: its size n (<= left) and where in the band it goes (first). */
static void next_band(const schedule *s, size_t left, size_t cap, unsigned long long *seed,
                      size_t *n, size_t *first)
{
	*n = s->random ? 1 + (size_t)(tu_rand(seed) * 13.0) : s->rows ? s->rows : left;
	if (*n > left)
		*n = left;
	*first = s->random ? (size_t)(tu_rand(seed) * (double)(cap - *n + 1)) : 0;
}

/*
 * Read data band by band; the image assembled from the bands, or NULL with
 * *st / *err from the first failing call (which is then called once more
 * and must fail the same way).
 */
static imf_image *read_in_bands(const input *in, const imf_read_opts *opts, const schedule *s,
                                imf_status *st, imf_error *err)
{
	FILE *fp = tu_mem_file(in->data, in->len);
	imf_reader *r = NULL;
	imf_image *img = NULL, *band = NULL;
	unsigned long long seed = 1234;
	imf_info info;

	*st = imf_reader_open(fp, opts, &r, err);
	if (*st != IMF_OK) {
		ck_assert_ptr_null(r);
		fclose(fp);
		return NULL;
	}
	imf_reader_info(r, &info);
	ck_assert_msg(imf_reader_streams(r) == in->streams, "%s: streams %d", in->name,
	              imf_reader_streams(r));
	size_t cap = s->random ? 20 : s->rows ? s->rows : info.height;
	img = new_image(info.width, info.height, info.channels, info.has_alpha);
	imf_image_set_source(img, info.format, info.depth);
	band = new_image(info.width, cap, info.channels, info.has_alpha);
	for (size_t y = 0; y < info.height;) {
		size_t n, first;
		next_band(s, info.height - y, cap, &seed, &n, &first);
		*st = imf_reader_read(r, band, first, n, err);
		if (*st != IMF_OK) {
			imf_error again = { 0 };
			ck_assert_int_eq(imf_reader_read(r, band, first, n, &again), *st);
			ck_assert_str_eq(again.msg, err->msg);
			imf_image_free(img);
			img = NULL;
			break;
		}
		for (int c = 0; c < info.channels; c++)
			for (size_t i = 0; i < n; i++)
				memcpy(imf_image_row(img, c, y + i), imf_image_row(band, c, first + i),
				       info.width * sizeof(float));
		y += n;
	}
	if (img) {
		/* Every row is out: one more is past the end. */
		imf_error e2 = { 0 };
		ck_assert_int_eq(imf_reader_read(r, band, 0, 1, &e2), IMF_EINVAL);
		ck_assert_msg(strstr(e2.msg, "past the last row"), "%s", e2.msg);
	}
	imf_image_free(band);
	imf_reader_free(r);
	fclose(fp);
	return img;
}

static imf_read_opts read_opts(int want_gray)
{
	imf_read_opts o;
	imf_read_opts_default(&o);
	o.want_gray = want_gray;
	return o;
}

/* Bands of every schedule give imf_read's planes, source and info. */
START_TEST(test_read_bands_equal_read)
{
	input in = make_input(_i);
	imf_read_opts opts = read_opts(in.want_gray);
	imf_image *ref = NULL;
	imf_error err = { 0 };
	imf_info info;

	ck_assert_msg(tu_read_mem(in.data, in.len, &opts, &ref, &err) == IMF_OK, "%s: %s", in.name,
	              err.msg);
	FILE *fp = tu_mem_file(in.data, in.len);
	ck_assert_int_eq(imf_read_info(fp, &opts, &info, &err), IMF_OK);
	fclose(fp);
	ck_assert_uint_eq(info.width, imf_image_width(ref));
	ck_assert_uint_eq(info.height, imf_image_height(ref));
	ck_assert_int_eq(info.channels, imf_image_channels(ref));
	ck_assert_int_eq(info.format, imf_image_source_format(ref));
	ck_assert_int_eq(info.depth, imf_image_source_depth(ref));

	for (size_t s = 0; s < NSCHED; s++) {
		char what[128];
		imf_status st;
		imf_image *got = read_in_bands(&in, &opts, &schedules[s], &st, &err);
		snprintf(what, sizeof what, "%s, %s", in.name, schedules[s].name);
		ck_assert_msg(got != NULL, "%s: %s", what, err.msg);
		assert_same_image(what, ref, got);
		ck_assert_int_eq(imf_image_source_format(got), imf_image_source_format(ref));
		ck_assert_int_eq(imf_image_source_depth(got), imf_image_source_depth(ref));
		imf_image_free(got);
	}
	imf_image_free(ref);
	free(in.data);
}
END_TEST

/* A few decoded values, by the definitions, so the equality above is not of two wrongs. */
START_TEST(test_read_known_values)
{
	input in = make_input(26); /* P2, maxval 1000 */
	imf_read_opts opts = read_opts(0);
	imf_status st;
	imf_error err = { 0 };
	imf_image *img = read_in_bands(&in, &opts, &schedules[1], &st, &err);
	ck_assert_ptr_nonnull(img);
	ck_assert_float_eq(imf_image_row(img, 0, 0)[1], (float)(500.0 * 255.0 / 1000.0));
	ck_assert_float_eq(imf_image_row(img, 0, 2)[0], (float)(999.0 * 255.0 / 1000.0));
	imf_image_free(img);
	free(in.data);

	/* maxval 65535: v * 255 / 65535 in double is v / 257 in float, exactly. */
	in = make_input(19);
	img = read_in_bands(&in, &opts, &schedules[3], &st, &err);
	ck_assert_ptr_nonnull(img);
	const unsigned char *raster = in.data + in.len - 25 * 33 * 2;
	for (size_t i = 0; i < 25 * 33; i++) {
		unsigned v = (unsigned)raster[2 * i] << 8 | raster[2 * i + 1];
		float got = imf_image_row(img, 0, i / 25)[i % 25];
		ck_assert_float_eq(got, (float)v / 257.0f);
		ck_assert_float_eq(got, (float)((double)v * 255.0 / 65535.0));
	}
	imf_image_free(img);
	free(in.data);

	in = make_input(8); /* palette of 11, tRNS 0, 128, 200 */
	img = read_in_bands(&in, &opts, &schedules[2], &st, &err);
	ck_assert_ptr_nonnull(img);
	for (size_t y = 0; y < 13; y += 6)
		for (size_t x = 0; x < 21; x += 5) {
			int idx = (int)((x + y) % 11);
			ck_assert_float_eq(imf_image_row(img, 0, y)[x], test_palette[idx].red);
			ck_assert_float_eq(imf_image_row(img, 1, y)[x], test_palette[idx].green);
			ck_assert_float_eq(imf_image_row(img, 2, y)[x], test_palette[idx].blue);
			ck_assert_float_eq(imf_image_row(img, 3, y)[x], idx < 3 ? test_trans[idx] : 255);
		}
	imf_image_free(img);
	free(in.data);
}
END_TEST

/* ---- cut files: the same error as imf_read, in the band that meets it ------------------ */

typedef struct cut_case {
	int input;     /* make_input index */
	double at;     /* keep this fraction of the file */
	const char *key;
} cut_case;

static const cut_case cut_cases[] = {
	{ 2, 0.6, "PNG: " },            /* inside IDAT */
	{ 5, 0.5, "PNG: " },
	{ 6, 0.7, "PNG: " },            /* Adam7: decoded whole at the first band */
	{ 7, 0.6, "PNG: " },
	{ 11, 0.6, "JPEG: truncated" },
	{ 14, 0.8, "JPEG: truncated" }, /* progressive: every scan is read at open */
	{ 18, 0.5, "PNM: truncated pixel data" },
	{ 20, 0.55, "PNM: truncated pixel data" },
	{ 26, 0.7, "PNM: truncated pixel data" },
	{ 24, 0.9, "PNM: truncated pixel data" },
	{ 29, 0.5, "PFM: truncated pixel data" },
	{ 31, 0.6, "text: " },
};

START_TEST(test_cut_file_same_error)
{
	const cut_case *cc = &cut_cases[_i];
	input in = make_input(cc->input);
	imf_read_opts opts = read_opts(in.want_gray);
	imf_image *ref = NULL;
	imf_error rerr = { 0 };

	in.len = (size_t)((double)in.len * cc->at);
	imf_status rst = tu_read_mem(in.data, in.len, &opts, &ref, &rerr);
	ck_assert_msg(rst != IMF_OK, "%s cut at %zu: imf_read accepted it", in.name, in.len);
	ck_assert_ptr_null(ref);
	ck_assert_msg(strstr(rerr.msg, cc->key), "%s: '%s' lacks '%s'", in.name, rerr.msg, cc->key);
	for (size_t s = 0; s < NSCHED; s++) {
		imf_error err = { 0 };
		imf_status st;
		imf_image *got = read_in_bands(&in, &opts, &schedules[s], &st, &err);
		ck_assert_msg(got == NULL, "%s, %s: read a cut file", in.name, schedules[s].name);
		ck_assert_int_eq(st, rst);
		ck_assert_str_eq(err.msg, rerr.msg);
	}
	free(in.data);
}
END_TEST

/* ---- palette indices ------------------------------------------------------------------- */

START_TEST(test_palette_index_out_of_range)
{
	static const char want[] = "PNG: palette index 9 out of range (palette has 5 entries)";
	for (int interlace = 0; interlace <= 1; interlace++) {
		size_t len;
		unsigned char *f = png_palette4(5, 0, interlace, 6, 3, 9, &len);
		input in = { "palette 5, index 9 at row 6", f, len, 0, !interlace };
		imf_read_opts opts = read_opts(0);
		imf_image *img = NULL;
		imf_error err = { 0 };
		ck_assert_int_eq(tu_read_mem(f, len, &opts, &img, &err), IMF_ECORRUPT);
		ck_assert_ptr_null(img);
		ck_assert_str_eq(err.msg, want);

		/* One row at a time: rows 0..5 come out, row 6 fails. */
		FILE *fp = tu_mem_file(f, len);
		imf_reader *r = NULL;
		ck_assert_int_eq(imf_reader_open(fp, &opts, &r, &err), IMF_OK);
		imf_image *band = new_image(21, 1, 3, 0);
		size_t y = 0;
		imf_status st;
		while ((st = imf_reader_read(r, band, 0, 1, &err)) == IMF_OK)
			y++;
		ck_assert_int_eq(st, IMF_ECORRUPT);
		ck_assert_str_eq(err.msg, want);
		ck_assert_uint_eq(y, interlace ? 0 : 6);
		imf_image_free(band);
		imf_reader_free(r);
		fclose(fp);
		for (size_t s = 0; s < NSCHED; s++) {
			img = read_in_bands(&in, &opts, &schedules[s], &st, &err);
			ck_assert_ptr_null(img);
			ck_assert_str_eq(err.msg, want);
		}
		free(f);
	}
	/* The last entry is fine; one past it is not (1-entry palette, 4-bit). */
	size_t len;
	unsigned char *f = png_palette4(1, 0, 0, 12, 20, 1, &len);
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(tu_read_mem(f, len, NULL, &img, &err), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, "PNG: palette index 1 out of range (palette has 1 entry)");
	free(f);
	f = png_palette4(2, 0, 0, 12, 20, 1, &len);
	ck_assert_int_eq(tu_read_mem(f, len, NULL, &img, &err), IMF_OK);
	ck_assert_float_eq(imf_image_row(img, 0, 12)[20], 255.0f);
	imf_image_free(img);
	free(f);
}
END_TEST

/* ---- the memory budget ------------------------------------------------------------------- */

START_TEST(test_memory_budget_read)
{
	/* 64x64 RGB as floats: 49152 bytes = 48 KiB. */
	size_t len;
	unsigned char *ppm = written(64, 64, 3, 0, 1, IMF_FORMAT_PNM, 0, 90, &len);
	imf_read_opts opts = read_opts(0);
	imf_image *img = NULL, *ref = NULL;
	imf_error err = { 0 };
	imf_status st;

	ck_assert_int_eq(tu_read_mem(ppm, len, NULL, &ref, &err), IMF_OK);
	opts.limits.max_memory = 40000;
	ck_assert_int_eq(tu_read_mem(ppm, len, &opts, &img, &err), IMF_ELIMIT);
	ck_assert_ptr_null(img);
	ck_assert_str_eq(err.msg, "PNM: image needs 48 KiB as float planes (64x64, 3 channels), "
	                          "over the --max-memory limit of 39.1 KiB (raise it with "
	                          "--max-memory)");
	/* A streamed read holds a band, not the image: the budget does not apply. */
	input in = { "ppm", ppm, len, 0, 1 };
	img = read_in_bands(&in, &opts, &schedules[2], &st, &err);
	ck_assert_msg(img != NULL, "%s", err.msg);
	assert_same_image("streamed under the budget", ref, img);
	imf_image_free(img);
	/* Exactly the limit is allowed; 0 is no limit. */
	opts.limits.max_memory = 49152;
	ck_assert_int_eq(tu_read_mem(ppm, len, &opts, &img, &err), IMF_OK);
	imf_image_free(img);
	opts.limits.max_memory = 0;
	ck_assert_int_eq(tu_read_mem(ppm, len, &opts, &img, &err), IMF_OK);
	imf_image_free(img);
	free(ppm);

	/* PFM is decoded whole even when streamed: the budget applies at the first band. */
	unsigned char *pfm = written(64, 64, 3, 0, 0, IMF_FORMAT_PFM, 0, 90, &len);
	opts.limits.max_memory = 40000;
	ck_assert_int_eq(tu_read_mem(pfm, len, &opts, &img, &err), IMF_ELIMIT);
	ck_assert_str_eq(err.msg, "PFM: image needs 48 KiB as float planes (64x64, 3 channels), "
	                          "over the --max-memory limit of 39.1 KiB (raise it with "
	                          "--max-memory)");
	input pin = { "pfm", pfm, len, 0, 0 };
	img = read_in_bands(&pin, &opts, &schedules[2], &st, &err);
	ck_assert_ptr_null(img);
	ck_assert_int_eq(st, IMF_ELIMIT);
	ck_assert_msg(strstr(err.msg, "PFM: image needs 48 KiB"), "%s", err.msg);
	free(pfm);

	/* A text matrix stops growing at the limit (250 floats here). */
	unsigned char *txt = written(10, 10, 3, 0, 1, IMF_FORMAT_TEXT, 0, 90, &len);
	opts.limits.max_memory = 1000;
	ck_assert_int_eq(tu_read_mem(txt, len, &opts, &img, &err), IMF_ELIMIT);
	ck_assert_str_eq(err.msg, "text: more than 250 values, over the --max-memory limit of "
	                          "1000 bytes as floats (raise it with --max-memory)");
	opts.limits.max_memory = 1200;
	ck_assert_int_eq(tu_read_mem(txt, len, &opts, &img, &err), IMF_OK);
	imf_image_free(img);
	free(txt);
	imf_image_free(ref);
}
END_TEST

START_TEST(test_memory_check_messages)
{
	imf_error err = { 0 };
	ck_assert_int_eq(imf_check_memory(16384, 16384, 4, (size_t)1 << 30, "PNG", &err),
	                 IMF_ELIMIT);
	ck_assert_str_eq(err.msg, "PNG: image needs 4 GiB as float planes (16384x16384, 4 channels), "
	                          "over the --max-memory limit of 1 GiB (raise it with "
	                          "--max-memory)");
	ck_assert_int_eq(imf_check_memory(1000, 1000, 1, (size_t)3 << 20, "input", &err),
	                 IMF_ELIMIT);
	ck_assert_str_eq(err.msg, "input: image needs 3.8 MiB as float planes (1000x1000, 1 "
	                          "channel), over the --max-memory limit of 3 MiB (raise it with "
	                          "--max-memory)");
	ck_assert_int_eq(imf_check_memory(SIZE_MAX / 2, 3, 1, 0, "PNM", &err), IMF_ELIMIT);
	ck_assert_msg(strstr(err.msg, "too large to address"), "%s", err.msg);
	ck_assert_int_eq(imf_check_memory(16384, 16384, 4, 0, "PNG", &err), IMF_OK);
	ck_assert_int_eq(imf_check_memory(512, 512, 1, (size_t)1 << 20, "PNG", &err), IMF_OK);
	imf_limits lim;
	imf_limits_default(&lim);
	ck_assert_uint_eq(lim.max_memory, (size_t)1 << 30);
}
END_TEST

/* ---- writing ----------------------------------------------------------------------------- */

typedef struct write_case {
	const char *name;
	imf_format fmt;
	size_t w, h;
	int ch, alpha;
	int integer;
	imf_map_mode map;
	int depth, quality;
	int streams; /* what imf_writer_streams must say */
} write_case;

static const write_case write_cases[] = {
	{ "png gray", IMF_FORMAT_PNG, 37, 41, 1, 0, 0, IMF_MAP_CLAMP, 0, 90, 1 },
	{ "png gray+alpha", IMF_FORMAT_PNG, 21, 17, 2, 1, 0, IMF_MAP_ABS, 0, 90, 1 },
	{ "png rgb", IMF_FORMAT_PNG, 33, 29, 3, 0, 0, IMF_MAP_OFFSET, 0, 90, 1 },
	{ "png rgba 16-bit", IMF_FORMAT_PNG, 19, 23, 4, 1, 0, IMF_MAP_CLAMP, 16, 90, 1 },
	{ "png rgb normalize", IMF_FORMAT_PNG, 27, 31, 3, 0, 0, IMF_MAP_NORMALIZE, 0, 90, 0 },
	{ "png 5 maps normalize", IMF_FORMAT_PNG, 15, 13, 5, 0, 0, IMF_MAP_NORMALIZE, 16, 90, 0 },
	{ "png 5 maps clamp", IMF_FORMAT_PNG, 15, 13, 5, 0, 0, IMF_MAP_CLAMP, 0, 90, 1 },
	/* Several deflate blocks (about 128 KiB of rows each). */
	{ "png rgb 16-bit, 5 blocks", IMF_FORMAT_PNG, 600, 150, 3, 0, 0, IMF_MAP_CLAMP, 16, 90, 1 },
	{ "png gray, 4 blocks", IMF_FORMAT_PNG, 2000, 200, 1, 0, 1, IMF_MAP_ABS, 0, 90, 1 },
	{ "jpeg gray", IMF_FORMAT_JPEG, 41, 37, 1, 0, 1, IMF_MAP_CLAMP, 0, 90, 1 },
	{ "jpeg rgb 4:2:0", IMF_FORMAT_JPEG, 43, 35, 3, 0, 1, IMF_MAP_CLAMP, 0, 75, 1 },
	{ "jpeg rgba normalize", IMF_FORMAT_JPEG, 30, 30, 4, 1, 0, IMF_MAP_NORMALIZE, 0, 95, 0 },
	{ "pnm gray", IMF_FORMAT_PNM, 31, 25, 1, 0, 0, IMF_MAP_CLAMP, 0, 90, 1 },
	{ "pnm rgb 16-bit", IMF_FORMAT_PNM, 300, 150, 3, 0, 0, IMF_MAP_ABS, 16, 90, 1 },
	{ "pnm gray normalize", IMF_FORMAT_PNM, 19, 23, 1, 0, 0, IMF_MAP_NORMALIZE, 0, 90, 0 },
	{ "pfm gray", IMF_FORMAT_PFM, 23, 19, 1, 0, 0, IMF_MAP_CLAMP, 0, 90, 0 },
	{ "pfm rgba", IMF_FORMAT_PFM, 17, 21, 4, 1, 0, IMF_MAP_CLAMP, 0, 90, 0 },
	{ "text gray", IMF_FORMAT_TEXT, 13, 11, 1, 0, 0, IMF_MAP_CLAMP, 0, 90, 1 },
	{ "text rgb", IMF_FORMAT_TEXT, 7, 9, 3, 0, 0, IMF_MAP_NORMALIZE, 0, 90, 0 },
};

static imf_write_opts write_opts(const write_case *wc)
{
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	wo.map = wc->map;
	wo.depth = wc->depth;
	wo.quality = wc->quality;
	return wo;
}

/* img written band by band; the file's bytes. */
static unsigned char *write_in_bands(const imf_image *img, const write_case *wc,
                                     const imf_write_opts *wo, const schedule *s, size_t *len)
{
	FILE *fp = tmpfile();
	imf_writer *w = NULL;
	imf_error err = { 0 };
	unsigned long long seed = 77;
	size_t h = imf_image_height(img), width = imf_image_width(img);
	int ch = imf_image_channels(img);

	ck_assert_ptr_nonnull(fp);
	ck_assert_msg(imf_writer_open(fp, wc->fmt, width, h, ch, imf_image_has_alpha(img),
	                              imf_image_source_format(img), imf_image_source_depth(img), wo,
	                              &w, &err) == IMF_OK,
	              "%s: %s", wc->name, err.msg);
	ck_assert_msg(imf_writer_streams(w) == wc->streams, "%s: streams %d", wc->name,
	              imf_writer_streams(w));
	size_t cap = s->random ? 20 : s->rows ? s->rows : h;
	imf_image *band = new_image(width, cap, ch, imf_image_has_alpha(img));
	for (size_t y = 0; y < h;) {
		size_t n, first;
		next_band(s, h - y, cap, &seed, &n, &first);
		/* Garbage in the band's other rows must not matter. */
		for (int c = 0; c < ch; c++)
			for (size_t i = 0; i < cap; i++)
				memset(imf_image_row(band, c, i), 0x7f, width * sizeof(float));
		for (int c = 0; c < ch; c++)
			for (size_t i = 0; i < n; i++)
				memcpy(imf_image_row(band, c, first + i), imf_image_row_const(img, c, y + i),
				       width * sizeof(float));
		ck_assert_msg(imf_writer_write(w, band, first, n, &err) == IMF_OK, "%s: %s", wc->name,
		              err.msg);
		y += n;
	}
	ck_assert_msg(imf_writer_finish(w, &err) == IMF_OK, "%s: %s", wc->name, err.msg);
	imf_writer_free(w);
	imf_image_free(band);
	unsigned char *data = file_bytes(fp, len);
	fclose(fp);
	return data;
}

/* Bands of every schedule give imf_write's bytes. */
START_TEST(test_write_bands_equal_write)
{
	const write_case *wc = &write_cases[_i];
	imf_image *img = wc->fmt == IMF_FORMAT_JPEG && wc->integer
	                 ? smooth_image(wc->w, wc->h, wc->ch, 9)
	                 : random_image(wc->w, wc->h, wc->ch, wc->alpha, 31 + (unsigned)_i,
	                                wc->integer);
	imf_write_opts wo = write_opts(wc);
	size_t rlen;
	unsigned char *ref = tu_write_mem(img, wc->fmt, &wo, &rlen);
	for (size_t s = 0; s < NSCHED; s++) {
		size_t len;
		unsigned char *got = write_in_bands(img, wc, &wo, &schedules[s], &len);
		ck_assert_msg(len == rlen && memcmp(got, ref, len) == 0,
		              "%s, %s: %zu bytes differ from imf_write's %zu", wc->name,
		              schedules[s].name, len, rlen);
		free(got);
	}
	free(ref);
	imf_image_free(img);
}
END_TEST

/* The bytes of img written through a writer that is told the source's depth. */
static unsigned char *write_with_source(const imf_image *img, imf_format fmt, int src_depth,
                                        size_t *len)
{
	FILE *fp = tmpfile();
	imf_writer *w = NULL;
	imf_error err = { 0 };
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(imf_writer_open(fp, fmt, imf_image_width(img), imf_image_height(img), 1, 0,
	                                 fmt, src_depth, NULL, &w, &err),
	                 IMF_OK);
	ck_assert_int_eq(imf_writer_write(w, img, 0, imf_image_height(img), &err), IMF_OK);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
	imf_writer_free(w);
	unsigned char *d = file_bytes(fp, len);
	fclose(fp);
	return d;
}

/* Depth 0 follows the source, as imf_write does: 16-bit in, 16-bit out. */
START_TEST(test_writer_follows_source_depth)
{
	imf_image *img = random_image(9, 7, 1, 0, 3, 0);
	for (int src = 8; src <= 16; src += 8) {
		size_t len;
		unsigned char *d = write_with_source(img, IMF_FORMAT_PNG, src, &len);
		ck_assert_int_eq(d[24], src); /* IHDR's bit depth */
		free(d);
		d = write_with_source(img, IMF_FORMAT_PNM, src, &len);
		const char *maxval = src == 16 ? "P5\n9 7\n65535\n" : "P5\n9 7\n255\n";
		ck_assert_int_eq(memcmp(d, maxval, strlen(maxval)), 0);
		free(d);
	}
	imf_image_free(img);
}
END_TEST

/* A writer that must hold the image checks the budget at open; imf_write holds nothing. */
START_TEST(test_memory_budget_write)
{
	imf_image *img = random_image(64, 64, 3, 0, 5, 0);
	imf_write_opts wo;
	imf_write_opts_default(&wo);
	ck_assert_uint_eq(wo.max_memory, (size_t)1 << 30);
	wo.max_memory = 40000;
	static const struct {
		imf_format fmt;
		imf_map_mode map;
		int held;
	} cases[] = {
		{ IMF_FORMAT_PFM, IMF_MAP_CLAMP, 1 },
		{ IMF_FORMAT_PNG, IMF_MAP_NORMALIZE, 1 },
		{ IMF_FORMAT_TEXT, IMF_MAP_CLAMP, 1 },
		{ IMF_FORMAT_PNG, IMF_MAP_CLAMP, 0 },
		{ IMF_FORMAT_JPEG, IMF_MAP_OFFSET, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		FILE *fp = tmpfile();
		imf_writer *w = NULL;
		imf_error err = { 0 };
		char want[200];
		wo.map = cases[i].map;
		imf_status st = imf_writer_open(fp, cases[i].fmt, 64, 64, 3, 0, IMF_FORMAT_PNM, 8, &wo,
		                                &w, &err);
		if (cases[i].held) {
			ck_assert_int_eq(st, IMF_ELIMIT);
			ck_assert_ptr_null(w);
			snprintf(want, sizeof want,
			         "%s: image needs 48 KiB as float planes (64x64, 3 channels), over the "
			         "--max-memory limit of 39.1 KiB (raise it with --max-memory)",
			         imf_format_name(cases[i].fmt));
			ck_assert_str_eq(err.msg, want);
			ck_assert_int_eq(ftell(fp), 0); /* nothing written */
		} else {
			ck_assert_int_eq(st, IMF_OK);
			imf_writer_free(w);
		}
		/* imf_write keeps the caller's image: no copy, no budget. */
		ck_assert_int_eq(imf_write(fp, img, cases[i].fmt, &wo, &err), IMF_OK);
		fclose(fp);
	}
	imf_image_free(img);
}
END_TEST

/* ---- arguments the stream calls refuse ---------------------------------------------------- */

START_TEST(test_reader_arguments)
{
	size_t len;
	unsigned char *f = written(10, 8, 3, 0, 1, IMF_FORMAT_PNM, 0, 90, &len);
	FILE *fp = tu_mem_file(f, len);
	imf_reader *r = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_OK);
	imf_image *band = new_image(10, 4, 3, 0);
	imf_image *narrow = new_image(9, 4, 3, 0);
	imf_image *gray = new_image(10, 4, 1, 0);

	ck_assert_int_eq(imf_reader_read(r, band, 2, 3, &err), IMF_EINVAL); /* rows 2..4 of 4 */
	ck_assert_str_eq(err.msg, "reader: rows 2..4 are past the band's 4 rows");
	ck_assert_int_eq(imf_reader_read(r, narrow, 0, 1, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "reader: band is 9 wide with 3 channels, the image 10 wide with 3");
	ck_assert_int_eq(imf_reader_read(r, gray, 0, 1, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_reader_read(r, NULL, 0, 1, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_reader_read(r, band, 0, 0, &err), IMF_OK); /* nothing asked */
	/* Refused calls read nothing: the rows still come in order. */
	ck_assert_int_eq(imf_reader_read(r, band, 0, 4, &err), IMF_OK);
	ck_assert_int_eq(imf_reader_read(r, band, 0, 4, &err), IMF_OK);
	ck_assert_int_eq(imf_reader_read(r, band, 0, 1, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "reader: 1 row asked after row 8 of 8: past the last row");
	imf_reader_free(r);
	imf_reader_free(NULL);

	/* Too many rows at once is refused before reading any. */
	rewind(fp);
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_OK);
	imf_image *tall = new_image(10, 9, 3, 0);
	ck_assert_int_eq(imf_reader_read(r, tall, 0, 9, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_reader_read(r, tall, 0, 8, &err), IMF_OK);
	imf_reader_free(r);

	/* Opening fails as imf_read does. */
	imf_error rerr = { 0 };
	imf_image *img = NULL;
	fclose(fp);
	fp = tu_mem_file("P6 0 5 255\n", 11);
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_ECORRUPT);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(tu_read_mem("P6 0 5 255\n", 11, NULL, &img, &rerr), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, rerr.msg);
	fclose(fp);
	fp = tu_mem_file("", 0);
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_ECORRUPT);
	ck_assert_str_eq(err.msg, "input is empty");
	fclose(fp);

	imf_image_free(tall);
	imf_image_free(band);
	imf_image_free(narrow);
	imf_image_free(gray);
	free(f);
}
END_TEST

START_TEST(test_writer_arguments)
{
	imf_image *img = random_image(10, 8, 3, 0, 1, 1);
	FILE *fp = tmpfile();
	imf_writer *w = NULL;
	imf_error err = { 0 };
	imf_write_opts wo;
	imf_write_opts_default(&wo);

	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_UNKNOWN, 10, 8, 3, 0, IMF_FORMAT_PNM, 8, &wo,
	                                 &w, &err),
	                 IMF_EINVAL);
	ck_assert_str_eq(err.msg, "no output format");
	wo.quality = 0;
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNG, 10, 8, 3, 0, IMF_FORMAT_PNM, 8, &wo, &w,
	                                 &err),
	                 IMF_EINVAL);
	ck_assert_str_eq(err.msg, "JPEG quality 0 is out of range 1..100");
	imf_write_opts_default(&wo);
	wo.png_level = 10;
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNG, 10, 8, 3, 0, IMF_FORMAT_PNM, 8, &wo, &w,
	                                 &err),
	                 IMF_EINVAL);
	ck_assert_str_eq(err.msg, "PNG compression level 10 is out of range 0..9");
	imf_write_opts_default(&wo);
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_JPEG, 70000, 8, 3, 0, IMF_FORMAT_PNM, 8, &wo,
	                                 &w, &err),
	                 IMF_EINVAL);
	ck_assert_str_eq(err.msg, "JPEG: 70000x8 is too large for JPEG (at most 65500 pixels a side)");
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNM, 10, 8, 3, 1, IMF_FORMAT_PNM, 8, &wo, &w,
	                                 &err),
	                 IMF_EINVAL);
	ck_assert_ptr_null(w);

	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNM, 10, 8, 3, 0, IMF_FORMAT_PNM, 8, &wo, &w,
	                                 &err),
	                 IMF_OK);
	ck_assert_int_eq(imf_writer_write(w, img, 0, 3, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: finished after 3 of 8 rows");
	ck_assert_int_eq(imf_writer_write(w, img, 0, 6, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: 6 rows given after row 3 of 8: past the last row");
	ck_assert_int_eq(imf_writer_write(w, img, 5, 4, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: rows 5..8 are past the band's 8 rows");
	ck_assert_int_eq(imf_writer_write(w, img, 3, 5, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_write(w, img, 0, 1, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: the image is already finished");
	imf_writer_free(w);
	imf_writer_free(NULL);

	/* The bytes are imf_write's, although the rows came in two bands. */
	size_t len, rlen;
	unsigned char *got = file_bytes(fp, &len);
	unsigned char *ref = tu_write_mem(img, IMF_FORMAT_PNM, &wo, &rlen);
	ck_assert_uint_eq(len, rlen);
	ck_assert_int_eq(memcmp(got, ref, len), 0);
	free(got);
	free(ref);
	fclose(fp);
	imf_image_free(img);
}
END_TEST

/* A failed write stays failed: later calls return the same error, nothing more is written. */
START_TEST(test_write_failure_kept)
{
	FILE *fp = fopen("/dev/full", "wb");
	if (!fp)
		return; /* no /dev/full here */
	imf_image *img = random_image(300, 300, 3, 0, 4, 0);
	imf_writer *w = NULL;
	imf_error err = { 0 }, again = { 0 };
	imf_status st = IMF_OK;
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNG, 300, 300, 3, 0, IMF_FORMAT_PNG, 8, NULL,
	                                 &w, &err),
	                 IMF_OK);
	size_t y = 0;
	while (y < 300 && (st = imf_writer_write(w, img, y, 10, &err)) == IMF_OK)
		y += 10;
	if (st == IMF_OK)
		st = imf_writer_finish(w, &err);
	ck_assert_int_eq(st, IMF_EIO);
	ck_assert_msg(strstr(err.msg, "PNG: write failed"), "%s", err.msg);
	ck_assert_int_eq(imf_writer_finish(w, &again), IMF_EIO);
	ck_assert_str_eq(again.msg, err.msg);
	imf_writer_free(w);
	fclose(fp);
	imf_image_free(img);
}
END_TEST

/* ---- JPEG straight to luma ---------------------------------------------------------------------- */

/*
 * want_gray decodes a YCbCr JPEG to its Y plane.  Y is the Rec.601 luma of
 * the RGB the file encodes, so luma computed from the RGB decode equals it
 * within the RGB decode's rounding (0.5) wherever no channel was clipped.
 */
START_TEST(test_jpeg_gray_is_luma)
{
	for (int q = 0; q < 2; q++) {
		size_t len;
		unsigned char *f = written(64, 48, 3, 0, 1, IMF_FORMAT_JPEG, 0, q ? 95 : 75, &len);
		imf_read_opts go = read_opts(1);
		imf_image *rgb = NULL, *y = NULL, *luma = NULL;
		imf_error err = { 0 };
		ck_assert_int_eq(tu_read_mem(f, len, NULL, &rgb, &err), IMF_OK);
		ck_assert_int_eq(tu_read_mem(f, len, &go, &y, &err), IMF_OK);
		ck_assert_int_eq(imf_image_channels(y), 1);
		ck_assert_int_eq(imf_image_to_luma(rgb, &luma, &err), IMF_OK);
		double worst = 0, sum = 0;
		size_t n = 0;
		for (size_t r = 0; r < 48; r++)
			for (size_t x = 0; x < 64; x++) {
				int clipped = 0;
				for (int c = 0; c < 3; c++) {
					float v = imf_image_row(rgb, c, r)[x];
					clipped |= v == 0.0f || v == 255.0f;
				}
				if (clipped)
					continue;
				double d = fabs(imf_image_row(y, 0, r)[x] - imf_image_row(luma, 0, r)[x]);
				worst = d > worst ? d : worst;
				sum += d;
				n++;
			}
		ck_assert_uint_gt(n, 64 * 48 / 2);
		/* Each of R, G, B is rounded once (+-0.5); Rec.601's weights sum to 1. */
		ck_assert_msg(worst <= 0.5, "quality %d: |Y - luma(RGB)| up to %g", q ? 95 : 75, worst);
		ck_assert_msg(sum / (double)n < 0.25, "mean difference %g", sum / (double)n);
		imf_image_free(rgb);
		imf_image_free(y);
		imf_image_free(luma);
		free(f);
	}
}
END_TEST

/* ---- PNG options ---------------------------------------------------------------------------------- */

/* Every level and filter writes a file that reads back to the same samples. */
/*
 * PNG bands encoded apart, in any order (as worker threads would), then put
 * in order, give imf_write's bytes; misuse is refused.
 */
START_TEST(test_png_encode_apart)
{
	enum { W = 700, H = 200 };
	imf_image *img = smooth_image(W, H, 3, 5);
	imf_write_opts wo;
	imf_error err = { 0 };
	imf_writer *w = NULL;
	imf_encoded *enc[64] = { 0 }, *e = NULL;
	size_t rlen, len, block, nb = 0, starts[64];
	FILE *fp = tmpfile();

	imf_write_opts_default(&wo);
	unsigned char *ref = tu_write_mem(img, IMF_FORMAT_PNG, &wo, &rlen);
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNG, W, H, 3, 0, IMF_FORMAT_UNKNOWN, 8, &wo,
	                                 &w, &err),
	                 IMF_OK);
	block = imf_writer_block_rows(w);
	/* 128 KiB of filtered rows of 2101 bytes: 62 rows, so 4 blocks. */
	ck_assert_uint_eq(block, 131072 / (W * 3 + 1));
	/* Bands of 1, 2, 1 blocks and the rest, encoded last band first. */
	for (size_t y = 0, k = 0; y < H; k++) {
		size_t n = block * (k % 2 + 1);
		starts[nb++] = y;
		y += n < H - y ? n : H - y;
	}
	for (size_t i = nb; i-- > 0;) {
		size_t n = (i + 1 < nb ? starts[i + 1] : H) - starts[i];
		ck_assert_msg(imf_writer_encode(w, img, starts[i], n, starts[i], &enc[i], &err) == IMF_OK,
		              "%s", err.msg);
	}
	/* Out of order, and not on a block boundary: refused. */
	ck_assert_int_eq(imf_writer_put(w, enc[1], &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: encoded rows out of order");
	enc[1] = NULL;
	ck_assert_int_eq(imf_writer_encode(w, img, 3, block, 3, &e, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "PNG: a band to encode must hold whole blocks");
	ck_assert_ptr_null(e);
	/* Band 1 again (the refused put freed it), then everything in order. */
	{
		size_t n = starts[2] - starts[1];
		ck_assert_int_eq(imf_writer_encode(w, img, starts[1], n, starts[1], &enc[1], &err),
		                 IMF_OK);
	}
	for (size_t i = 0; i < nb; i++)
		ck_assert_msg(imf_writer_put(w, enc[i], &err) == IMF_OK, "%s", err.msg);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
	imf_writer_free(w);
	unsigned char *got = file_bytes(fp, &len);
	fclose(fp);
	ck_assert_msg(len == rlen && memcmp(got, ref, len) == 0, "%zu bytes, imf_write %zu", len, rlen);
	free(got);
	free(ref);

	/* PNM: blocks of one row; bands of 7 rows encoded backwards, put in order. */
	{
		imf_encoded *pe[H / 7 + 1] = { 0 };
		size_t nbands = 0;
		ref = tu_write_mem(img, IMF_FORMAT_PNM, &wo, &rlen);
		fp = tmpfile();
		ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNM, W, H, 3, 0, IMF_FORMAT_UNKNOWN, 8,
		                                 &wo, &w, &err),
		                 IMF_OK);
		ck_assert_uint_eq(imf_writer_block_rows(w), 1);
		for (size_t y = 0; y < H; y += 7)
			nbands++;
		for (size_t i = nbands; i-- > 0;) {
			size_t y = i * 7, n = H - y < 7 ? H - y : 7;
			ck_assert_int_eq(imf_writer_encode(w, img, y, n, y, &pe[i], &err), IMF_OK);
		}
		for (size_t i = 0; i < nbands; i++)
			ck_assert_msg(imf_writer_put(w, pe[i], &err) == IMF_OK, "%s", err.msg);
		ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
		imf_writer_free(w);
		got = file_bytes(fp, &len);
		fclose(fp);
		ck_assert_msg(len == rlen && memcmp(got, ref, len) == 0, "PNM: %zu bytes, imf_write %zu",
		              len, rlen);
		free(got);
		free(ref);
	}

	/* Formats that encode row after row say so, and refuse. */
	static const imf_format seq[] = { IMF_FORMAT_JPEG, IMF_FORMAT_TEXT };
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
		fp = tmpfile();
		ck_assert_ptr_nonnull(fp);
		ck_assert_int_eq(imf_writer_open(fp, seq[i], W, H, 3, 0, IMF_FORMAT_UNKNOWN, 8, &wo, &w,
		                                 &err),
		                 IMF_OK);
		ck_assert_uint_eq(imf_writer_block_rows(w), 0);
		ck_assert_int_eq(imf_writer_encode(w, img, 0, 1, 0, &e, &err), IMF_EINVAL);
		imf_writer_free(w);
		fclose(fp);
	}
	/* PNG with normalize holds the image: no encoding apart either. */
	wo.map = IMF_MAP_NORMALIZE;
	fp = tmpfile();
	ck_assert_int_eq(imf_writer_open(fp, IMF_FORMAT_PNG, W, H, 3, 0, IMF_FORMAT_UNKNOWN, 8, &wo,
	                                 &w, &err),
	                 IMF_OK);
	ck_assert_uint_eq(imf_writer_block_rows(w), 0);
	imf_writer_free(w);
	fclose(fp);
	imf_image_free(img);
}
END_TEST

START_TEST(test_png_levels_and_filters)
{
	imf_image *img = smooth_image(40, 30, 3, 8);
	size_t sizes[10];
	for (int level = 0; level <= 9; level++) {
		for (int f = IMF_PNG_FILTER_NONE; f <= IMF_PNG_FILTER_ALL; f++) {
			imf_write_opts wo;
			imf_write_opts_default(&wo);
			wo.png_level = level;
			wo.png_filter = (imf_png_filter)f;
			size_t len;
			unsigned char *d = tu_write_mem(img, IMF_FORMAT_PNG, &wo, &len);
			imf_image *back = NULL;
			imf_error err = { 0 };
			ck_assert_int_eq(tu_read_mem(d, len, NULL, &back, &err), IMF_OK);
			assert_same_image("png option round trip", img, back);
			imf_image_free(back);
			if (f == IMF_PNG_FILTER_NONE)
				sizes[level] = len;
			free(d);
		}
	}
	/* Every filter across several deflate blocks (a block's first row uses sub). */
	{
		imf_image *big = smooth_image(300, 400, 3, 4);
		for (int f = IMF_PNG_FILTER_NONE; f <= IMF_PNG_FILTER_ALL; f++) {
			imf_write_opts wo;
			imf_write_opts_default(&wo);
			wo.png_filter = (imf_png_filter)f;
			size_t len;
			unsigned char *d = tu_write_mem(big, IMF_FORMAT_PNG, &wo, &len);
			imf_image *back = NULL;
			imf_error err = { 0 };
			ck_assert_int_eq(tu_read_mem(d, len, NULL, &back, &err), IMF_OK);
			assert_same_image("png filter over blocks", big, back);
			imf_image_free(back);
			free(d);
		}
		imf_image_free(big);
	}
	/* Level 0 stores: the raw rows and more; level 9 compresses. */
	ck_assert_uint_gt(sizes[0], 40 * 30 * 3);
	ck_assert_uint_lt(sizes[9], sizes[0]);

	imf_png_filter pf;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_png_filter_parse("Paeth", &pf, &err), IMF_OK);
	ck_assert_int_eq(pf, IMF_PNG_FILTER_PAETH);
	ck_assert_str_eq(imf_png_filter_name(IMF_PNG_FILTER_UP), "up");
	ck_assert_int_eq(imf_png_filter_parse("best", &pf, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "unknown PNG filter 'best' (none, sub, up, avg, paeth, all)");
	imf_image_free(img);
}
END_TEST

/* ---- rows at their place --------------------------------------------------------------- */

/*
 * A raw netpbm raster in a regular file can be read at any row, in any
 * order, from any thread (imf_reader_read_at), and a PNM written to a
 * regular file can take its encoded bands in any order (imf_writer_put_at).
 * The reference is again the in-order path: imf_read's planes (checked
 * against the raw bytes by the definitions) and imf_write's bytes.
 */

/* A FILE reading a pipe that holds data and is closed (data must fit the pipe's buffer). */
static FILE *pipe_holding(const void *data, size_t len)
{
	int fd[2];
	ck_assert_uint_le(len, 4096); /* a page: no pipe holds less */
	ck_assert_int_eq(pipe(fd), 0);
	ck_assert_int_eq(write(fd[1], data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd[1]), 0);
	FILE *fp = fdopen(fd[0], "rb");
	ck_assert_ptr_nonnull(fp);
	return fp;
}

/* bytes copied into a new buffer of len + extra bytes (extra bytes 'x'). */
static unsigned char *with_tail(const unsigned char *data, size_t len, size_t extra)
{
	unsigned char *d = malloc(len + extra + 1);
	ck_assert_ptr_nonnull(d);
	memcpy(d, data, len);
	memset(d + len, 'x', extra);
	return d;
}

typedef struct access_case {
	int input;     /* make_input index */
	long change;   /* bytes cut from the end (< 0) or added after the raster (> 0) */
	int want;      /* imf_reader_random_access */
} access_case;

static const access_case access_cases[] = {
	{ 17, 0, 1 },  /* P5, maxval 255 */
	{ 19, 0, 1 },  /* P5, maxval 65535 */
	{ 18, 0, 1 },  /* P6, maxval 255 */
	{ 20, 0, 1 },  /* P6, maxval 65535 */
	{ 23, 0, 1 },  /* P4 */
	{ 24, 0, 1 },  /* P7 RGB_ALPHA, maxval 255 */
	{ 17, 9, 1 },  /* something after the raster (a second image) */
	{ 17, -1, 0 }, /* the raster cut short by one byte */
	{ 23, -1, 0 },
	{ 19, -25 * 2, 0 }, /* one row short */
	{ 21, 0, 0 },  /* P5, maxval 100: every sample is checked, in order */
	{ 22, 0, 0 },  /* P6, maxval 1000 */
	{ 25, 0, 0 },  /* P1 */
	{ 26, 0, 0 },  /* P2 */
	{ 27, 0, 0 },  /* P3 */
	{ 0, 0, 0 },   /* PNG */
	{ 10, 0, 0 },  /* JPEG */
	{ 28, 0, 0 },  /* PFM */
	{ 30, 0, 0 },  /* text */
};

START_TEST(test_reader_random_access_when)
{
	const access_case *ac = &access_cases[_i];
	input in = make_input(ac->input);
	size_t len = ac->change < 0 ? in.len - (size_t)-ac->change : in.len + (size_t)ac->change;
	unsigned char *data = with_tail(in.data, in.len, ac->change > 0 ? (size_t)ac->change : 0);
	FILE *fp = tu_mem_file(data, len);
	imf_reader *r = NULL;
	imf_error err = { 0 };
	imf_info info;

	ck_assert_msg(imf_reader_open(fp, NULL, &r, &err) == IMF_OK, "%s: %s", in.name, err.msg);
	imf_reader_info(r, &info);
	ck_assert_msg(imf_reader_random_access(r) == ac->want, "%s%+ld bytes: random access %d",
	              in.name, ac->change, imf_reader_random_access(r));
	imf_image *band = new_image(info.width, 2, info.channels, info.has_alpha);
	if (!ac->want) {
		ck_assert_int_eq(imf_reader_read_at(r, band, 0, 0, 1, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, "reader: rows cannot be read at their place");
	} else {
		ck_assert_msg(imf_reader_read_at(r, band, 0, 0, 2, &err) == IMF_OK, "%s", err.msg);
	}
	/* In order, a cut raster still fails where it ends, with imf_read's message. */
	imf_image *img = NULL;
	imf_status st = imf_reader_read_image(r, &img, &err);
	if (ac->change < 0) {
		ck_assert_int_eq(st, IMF_ECORRUPT);
		ck_assert_str_eq(err.msg, "PNM: truncated pixel data");
	} else {
		ck_assert_msg(st == IMF_OK, "%s: %s", in.name, err.msg);
	}
	imf_image_free(img);
	imf_image_free(band);
	imf_reader_free(r);
	fclose(fp);
	free(data);
	free(in.data);
}
END_TEST

/* Not a regular file, or not reading rows at all: no random access. */
START_TEST(test_reader_random_access_not_file)
{
	input in = make_input(17); /* P5 37x23, 866 bytes */
	imf_reader *r = NULL;
	imf_image *img = NULL, *ref = NULL;
	imf_error err = { 0 };

	ck_assert_int_eq(tu_read_mem(in.data, in.len, NULL, &ref, &err), IMF_OK);
	FILE *fp = pipe_holding(in.data, in.len);
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_OK);
	ck_assert_int_eq(imf_reader_random_access(r), 0);
	imf_image *band = new_image(37, 1, 1, 0);
	ck_assert_int_eq(imf_reader_read_at(r, band, 0, 0, 1, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "reader: rows cannot be read at their place");
	/* ... and it reads in order as ever. */
	ck_assert_int_eq(imf_reader_read_image(r, &img, &err), IMF_OK);
	assert_same_image("P5 from a pipe", ref, img);
	imf_image_free(img);
	imf_reader_free(r);
	fclose(fp);

	/* A reader for the header only (imf_read_info's) reads no rows, here neither. */
	fp = tu_mem_file(in.data, in.len);
	ck_assert_int_eq(imf_reader_start(fp, NULL, 1, &r, &err), IMF_OK);
	ck_assert_int_eq(imf_reader_random_access(r), 0);
	ck_assert_int_eq(imf_reader_read_at(r, band, 0, 0, 1, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "reader: rows cannot be read at their place");
	imf_reader_free(r);
	fclose(fp);

	imf_image_free(band);
	imf_image_free(ref);
	free(in.data);
}
END_TEST

/* Raw files whose rows are read at their place. */
typedef struct place_input {
	const char *name;
	int input;       /* make_input index, or -1 for the wide P5 below */
	size_t rowbytes; /* of the raster, which ends the file */
	int kind;        /* 8: one byte a sample, 16: two, 1: P4 bits */
} place_input;

static const place_input place_inputs[] = {
	{ "P5 8-bit", 17, 37, 8 },
	{ "P5 16-bit", 19, 25 * 2, 16 },
	{ "P6 8-bit", 18, 29 * 3, 8 },
	{ "P6 16-bit 300x150", 20, 300 * 3 * 2, 16 },
	{ "P4", 23, 3, 1 },
	{ "P7 RGB_ALPHA", 24, 36, 8 },
	/* 3000-byte rows: a read_at of more than 87 rows takes several preads. */
	{ "P5 3000x200", -1, 3000, 8 },
};

static unsigned char *place_data(const place_input *pi, size_t *len)
{
	if (pi->input >= 0) {
		input in = make_input(pi->input);
		*len = in.len;
		return in.data;
	}
	return raw_pnm("P5\n3000 200\n255\n", 200, 3000, 0xFF, 0, len);
}

/* Every sample of ref, by the definitions, from the raster at the end of data. */
static void check_raw_values(const place_input *pi, const unsigned char *data, size_t len,
                             const imf_image *ref)
{
	size_t w = imf_image_width(ref), h = imf_image_height(ref);
	int ch = imf_image_channels(ref);
	const unsigned char *raster = data + len - h * pi->rowbytes;
	for (size_t y = 0; y < h; y++)
		for (int c = 0; c < ch; c++)
			for (size_t x = 0; x < w; x++) {
				const unsigned char *row = raster + y * pi->rowbytes;
				size_t i = x * (size_t)ch + (size_t)c;
				float want = pi->kind == 1  ? ((row[x / 8] >> (7 - x % 8)) & 1 ? 0.0f : 255.0f)
				           : pi->kind == 8 ? (float)row[i]
				                           : (float)((unsigned)row[2 * i] << 8 | row[2 * i + 1]) /
				                                 257.0f;
				ck_assert_msg(imf_image_row_const(ref, c, y)[x] == want,
				              "%s: plane %d (%zu, %zu) is %g, the file says %g", pi->name, c, x,
				              y, (double)imf_image_row_const(ref, c, y)[x], (double)want);
			}
}

/* Rows first .. first+n-1 of band are rows y .. y+n-1 of ref, bit for bit. */
static void assert_rows(const char *name, const imf_image *band, size_t first,
                        const imf_image *ref, size_t y, size_t n)
{
	for (int c = 0; c < imf_image_channels(ref); c++)
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(memcmp(imf_image_row_const(band, c, first + i),
			                     imf_image_row_const(ref, c, y + i),
			                     imf_image_width(ref) * sizeof(float)) == 0,
			              "%s: plane %d, image row %zu differs", name, c, y + i);
}

/* Every sample of img set to a value no reader gives (0x7f7f7f7f, about 3.4e38). */
static void spoil(imf_image *img)
{
	for (int c = 0; c < imf_image_channels(img); c++)
		for (size_t y = 0; y < imf_image_height(img); y++)
			memset(imf_image_row(img, c, y), 0x7f, imf_image_width(img) * sizeof(float));
}

typedef struct read_at_job {
	const imf_reader *r;
	imf_image *img;   /* every row, read at its place */
	int backwards;    /* last row first */
	imf_status st;
	imf_error err;
} read_at_job;

/* Read img's rows 3 at a time (forwards or backwards) with read_at. */
static void *read_at_thread(void *arg)
{
	read_at_job *j = arg;
	size_t h = imf_image_height(j->img);
	j->st = IMF_OK;
	for (size_t k = 0; k < h && j->st == IMF_OK; k += 3) {
		size_t n = h - k < 3 ? h - k : 3;
		size_t y = j->backwards ? h - k - n : k;
		j->st = imf_reader_read_at(j->r, j->img, y, y, n, &j->err);
	}
	return NULL;
}

/*
 * read_at gives imf_read's rows for bands of random sizes (0 included) at
 * random places, in random order, on two threads at once, and leaves the
 * in-order reading where it was.
 */
START_TEST(test_read_at_equals_read)
{
	const place_input *pi = &place_inputs[_i];
	size_t len;
	unsigned char *data = place_data(pi, &len);
	imf_image *ref = NULL, *img = NULL;
	imf_reader *r = NULL;
	imf_error err = { 0 };
	imf_info info;
	unsigned long long seed = 42 + (unsigned long long)_i;

	ck_assert_msg(tu_read_mem(data, len, NULL, &ref, &err) == IMF_OK, "%s: %s", pi->name,
	              err.msg);
	check_raw_values(pi, data, len, ref);
	FILE *fp = tu_mem_file(data, len);
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_OK);
	ck_assert_int_eq(imf_reader_random_access(r), 1);
	imf_reader_info(r, &info);
	const size_t h = info.height, cap = 20;
	imf_image *band = new_image(info.width, cap, info.channels, info.has_alpha);
	img = new_image(info.width, h, info.channels, info.has_alpha);

	/* A few rows in order first: read_at must not move that order. */
	ck_assert_int_eq(imf_reader_read(r, img, 0, 3, &err), IMF_OK);
	for (int k = 0; k < 60; k++) {
		size_t n = (size_t)(tu_rand(&seed) * 14.0); /* 0 .. 13 */
		n = n > h ? h : n;
		size_t y = (size_t)(tu_rand(&seed) * (double)(h - n + 1));
		size_t first = (size_t)(tu_rand(&seed) * (double)(cap - n + 1));
		ck_assert_msg(imf_reader_read_at(r, band, first, y, n, &err) == IMF_OK, "%s: %s",
		              pi->name, err.msg);
		assert_rows(pi->name, band, first, ref, y, n);
	}
	/* The last row alone, then nothing at the end and at the start. */
	ck_assert_int_eq(imf_reader_read_at(r, band, cap - 1, h - 1, 1, &err), IMF_OK);
	assert_rows(pi->name, band, cap - 1, ref, h - 1, 1);
	ck_assert_int_eq(imf_reader_read_at(r, band, 0, h, 0, &err), IMF_OK);
	ck_assert_int_eq(imf_reader_read_at(r, band, cap, 0, 0, &err), IMF_OK);
	/* The rest in order, from row 3. */
	ck_assert_int_eq(imf_reader_read(r, img, 3, h - 3, &err), IMF_OK);
	assert_same_image(pi->name, ref, img);

	/* Every row at once, and on two threads in opposite orders. */
	imf_image *all = new_image(info.width, h, info.channels, info.has_alpha);
	ck_assert_int_eq(imf_reader_read_at(r, all, 0, 0, h, &err), IMF_OK);
	assert_same_image(pi->name, ref, all);
	read_at_job jobs[2] = { { r, all, 1, IMF_OK, { 0 } }, { r, img, 0, IMF_OK, { 0 } } };
	spoil(all);
	spoil(img);
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, read_at_thread, &jobs[0]), 0);
	read_at_thread(&jobs[1]);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);
	ck_assert_msg(jobs[0].st == IMF_OK && jobs[1].st == IMF_OK, "%s / %s", jobs[0].err.msg,
	              jobs[1].err.msg);
	assert_same_image(pi->name, ref, all);
	assert_same_image(pi->name, ref, img);

	imf_image_free(all);
	imf_image_free(img);
	imf_image_free(band);
	imf_image_free(ref);
	imf_reader_free(r);
	fclose(fp);
	free(data);
}
END_TEST

/*
 * The raster's place when the image does not start the file: bytes before
 * it skipped with fseek, or read through stdio (which reads ahead), before
 * the reader opens.  Then the file cut short after open, and rows asked
 * outside the image.
 */
START_TEST(test_read_at_place_in_file)
{
	static const size_t junk_sizes[] = { 7, 5000 };
	input in = make_input(17); /* P5 37x23 */
	const size_t W = 37, H = 23;
	imf_image *ref = NULL, *img = new_image(W, H, 1, 0), *band = new_image(W, 4, 1, 0);
	imf_reader *r = NULL;
	imf_error err = { 0 };
	const char *path = tu_path("junk.pgm");

	ck_assert_int_eq(tu_read_mem(in.data, in.len, NULL, &ref, &err), IMF_OK);
	for (size_t j = 0; j < 2; j++)
		for (int by_read = 0; by_read <= 1; by_read++) {
			size_t junk = junk_sizes[j];
			unsigned char *d = malloc(junk + in.len + 3);
			ck_assert_ptr_nonnull(d);
			memset(d, 'P', junk); /* looks like the start of a netpbm file */
			memcpy(d + junk, in.data, in.len);
			memcpy(d + junk + in.len, "xyz", 3);
			tu_write_file(path, d, junk + in.len + 3);
			free(d);
			FILE *fp = fopen(path, "r+b"); /* writable, to be cut below */
			ck_assert_ptr_nonnull(fp);
			if (by_read) {
				unsigned char *skip = malloc(junk);
				ck_assert_ptr_nonnull(skip);
				ck_assert_uint_eq(fread(skip, 1, junk, fp), junk);
				free(skip);
			} else {
				ck_assert_int_eq(fseek(fp, (long)junk, SEEK_SET), 0);
			}
			ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_OK);
			ck_assert_int_eq(imf_reader_random_access(r), 1);
			ck_assert_int_eq(imf_reader_read_at(r, img, 0, 0, H, &err), IMF_OK);
			assert_same_image(by_read ? "after junk read" : "after junk skipped", ref, img);
			ck_assert_int_eq(imf_reader_read_at(r, band, 1, H - 3, 3, &err), IMF_OK);
			assert_rows("last rows after junk", band, 1, ref, H - 3, 3);

			/* Cut in the middle of the last row: only reads that reach it fail. */
			ck_assert_int_eq(ftruncate(fileno(fp), (off_t)(junk + in.len - W / 2)), 0);
			ck_assert_int_eq(imf_reader_read_at(r, band, 0, H - 2, 2, &err), IMF_ECORRUPT);
			ck_assert_str_eq(err.msg, "PNM: truncated pixel data");
			ck_assert_int_eq(imf_reader_read_at(r, band, 0, 0, 4, &err), IMF_OK); /* not kept */
			assert_rows("rows before the cut", band, 0, ref, 0, 4);
			ck_assert_int_eq(imf_reader_read_at(r, band, 3, H - 1, 1, &err), IMF_ECORRUPT);
			ck_assert_str_eq(err.msg, "PNM: truncated pixel data");
			/* Cut before the raster: every row fails. */
			ck_assert_int_eq(ftruncate(fileno(fp), (off_t)junk), 0);
			ck_assert_int_eq(imf_reader_read_at(r, band, 0, 0, 1, &err), IMF_ECORRUPT);
			ck_assert_str_eq(err.msg, "PNM: truncated pixel data");
			imf_reader_free(r);
			fclose(fp);
		}

	/* Rows outside the image, and bands that cannot hold them. */
	FILE *fp = tu_mem_file(in.data, in.len);
	ck_assert_int_eq(imf_reader_open(fp, NULL, &r, &err), IMF_OK);
	static const struct { size_t y, n; } outside[] = { { 23, 1 }, { 22, 2 }, { 24, 0 },
		                                           { 0, 24 }, { SIZE_MAX, 2 } };
	for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		imf_image *big = new_image(W, 30, 1, 0);
		ck_assert_int_eq(imf_reader_read_at(r, big, 0, outside[i].y, outside[i].n, &err),
		                 IMF_EINVAL);
		tu_expect_message("rows outside", IMF_EINVAL, IMF_EINVAL, &err, "reader: rows ",
		                  "are not in the image");
		if (outside[i].y == 22)
			ck_assert_str_eq(err.msg,
			                 "reader: rows from 22, 2 of them, are not in the image (23 rows)");
		if (outside[i].y == SIZE_MAX) { /* no wrapped-around row number */
			char want[96];
			snprintf(want, sizeof want, "reader: rows from %zu, 2 of them,", (size_t)SIZE_MAX);
			ck_assert_ptr_nonnull(strstr(err.msg, want));
		}
		imf_image_free(big);
	}
	ck_assert_int_eq(imf_reader_read_at(r, band, 2, 0, 3, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "reader: rows 2..4 are past the band's 4 rows");
	imf_image *narrow = new_image(W - 1, 4, 1, 0), *rgb = new_image(W, 4, 3, 0);
	ck_assert_int_eq(imf_reader_read_at(r, narrow, 0, 0, 1, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_reader_read_at(r, rgb, 0, 0, 1, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_reader_read_at(r, NULL, 0, 0, 1, &err), IMF_EINVAL);
	/* None of that touched the order. */
	ck_assert_int_eq(imf_reader_read(r, img, 0, H, &err), IMF_OK);
	assert_same_image("in order after refused reads", ref, img);
	imf_reader_free(r);
	fclose(fp);

	imf_image_free(narrow);
	imf_image_free(rgb);
	imf_image_free(band);
	imf_image_free(img);
	imf_image_free(ref);
	free(in.data);
}
END_TEST

/* ---- writing at the place ---------------------------------------------------------------- */

/* A writer of fmt for img (its geometry and source) on fp; asserts it opened. */
static imf_writer *open_writer(FILE *fp, const imf_image *img, const imf_write_opts *wo,
                              imf_format fmt)
{
	imf_writer *w = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_writer_open(fp, fmt, imf_image_width(img), imf_image_height(img),
	                              imf_image_channels(img), imf_image_has_alpha(img),
	                              imf_image_source_format(img), imf_image_source_depth(img), wo,
	                              &w, &err) == IMF_OK,
	              "%s", err.msg);
	return w;
}

START_TEST(test_writer_random_access_when)
{
	imf_image *img = random_image(10, 8, 1, 0, 3, 0);
	imf_write_opts wo;
	imf_error err = { 0 };
	imf_encoded *e = NULL;
	imf_writer *w;
	size_t rlen;
	imf_write_opts_default(&wo);
	unsigned char *ref = tu_write_mem(img, IMF_FORMAT_PNM, &wo, &rlen);

	/* PNM to a regular file, new (tmpfile) or named. */
	FILE *fp = tmpfile();
	w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_random_access(w), 1);
	imf_writer_free(w);
	fclose(fp);
	fp = fopen(tu_path("named.pgm"), "wb");
	ck_assert_ptr_nonnull(fp);
	w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_random_access(w), 1);
	/* ... until a row goes out in order; then bands cannot go to their place. */
	ck_assert_int_eq(imf_writer_write(w, img, 0, 1, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_random_access(w), 0);
	ck_assert_int_eq(imf_writer_encode(w, img, 1, 2, 1, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EINVAL); /* frees e */
	ck_assert_str_eq(err.msg, "writer: rows cannot be written at their place");
	ck_assert_int_eq(imf_writer_write(w, img, 1, 7, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
	imf_writer_free(w);
	fclose(fp);
	size_t len;
	unsigned char *got = tu_read_file(tu_path("named.pgm"), &len);
	ck_assert_msg(len == rlen && memcmp(got, ref, len) == 0, "in order after a refused put_at");
	free(got);

	/* Appending: every pwrite would land at the end.  Rows go in order, after what was there. */
	static const char *const append_modes[] = { "ab", "a+b" };
	for (size_t m = 0; m < 2; m++) {
		tu_write_file(tu_path("append.pgm"), "old", 3);
		fp = fopen(tu_path("append.pgm"), append_modes[m]);
		ck_assert_ptr_nonnull(fp);
		w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
		ck_assert_msg(imf_writer_random_access(w) == 0, "mode %s", append_modes[m]);
		ck_assert_int_eq(imf_writer_encode(w, img, 0, 8, 0, &e, &err), IMF_OK);
		ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EINVAL);
		ck_assert_int_eq(imf_writer_write(w, img, 0, 8, &err), IMF_OK);
		ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
		imf_writer_free(w);
		fclose(fp);
		got = tu_read_file(tu_path("append.pgm"), &len);
		ck_assert_msg(len == rlen + 3 && memcmp(got, "old", 3) == 0 &&
		                  memcmp(got + 3, ref, rlen) == 0,
		              "appended (%s): %zu bytes", append_modes[m], len);
		free(got);
	}

	/* A pipe: rows in order, read back whole. */
	int fd[2];
	ck_assert_int_eq(pipe(fd), 0);
	fp = fdopen(fd[1], "wb");
	ck_assert_ptr_nonnull(fp);
	w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_random_access(w), 0);
	ck_assert_int_eq(imf_writer_write(w, img, 0, 8, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK); /* ~100 bytes: the pipe holds them */
	imf_writer_free(w);
	fclose(fp);
	got = malloc(rlen + 1);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(read(fd[0], got, rlen + 1), (ssize_t)rlen);
	ck_assert_int_eq(memcmp(got, ref, rlen), 0);
	close(fd[0]);
	free(got);

	/* A device is not a regular file either. */
	fp = fopen("/dev/null", "wb");
	if (fp) {
		w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
		ck_assert_int_eq(imf_writer_random_access(w), 0);
		imf_writer_free(w);
		fclose(fp);
	}

	/* Normalize holds the image; other formats have a trailer or rows of any size. */
	static const struct { imf_format fmt; imf_map_mode map; } never[] = {
		{ IMF_FORMAT_PNM, IMF_MAP_NORMALIZE }, { IMF_FORMAT_PNG, IMF_MAP_CLAMP },
		{ IMF_FORMAT_JPEG, IMF_MAP_CLAMP },    { IMF_FORMAT_PFM, IMF_MAP_CLAMP },
		{ IMF_FORMAT_TEXT, IMF_MAP_CLAMP },
	};
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
		wo.map = never[i].map;
		fp = tmpfile();
		ck_assert_ptr_nonnull(fp);
		w = open_writer(fp, img, &wo, never[i].fmt);
		ck_assert_msg(imf_writer_random_access(w) == 0, "%s, %s", imf_format_name(never[i].fmt),
		              imf_map_name(never[i].map));
		if (imf_writer_block_rows(w) > 0) { /* PNG encodes apart, but in order */
			ck_assert_int_eq(imf_writer_encode(w, img, 0, 8, 0, &e, &err), IMF_OK);
			ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EINVAL);
			ck_assert_str_eq(err.msg, "writer: rows cannot be written at their place");
		}
		imf_writer_free(w);
		fclose(fp);
	}
	free(ref);
	imf_image_free(img);
}
END_TEST

typedef struct put_case {
	const char *name;
	size_t w, h;
	int ch, alpha;
	int depth;
	imf_map_mode map;
	size_t band;    /* rows a band; 0: random sizes 1..13 */
	size_t prefix;  /* bytes in the FILE before the writer opens */
	int threads;    /* 1: encode all, then put in another order; 2: two threads */
} put_case;

static const put_case put_cases[] = {
	{ "gray, 1-row bands", 31, 25, 1, 0, 0, IMF_MAP_CLAMP, 1, 0, 1 },
	{ "gray, 7-row bands, after 10 bytes", 31, 25, 1, 0, 0, IMF_MAP_ABS, 7, 10, 1 },
	{ "rgb 16-bit, random bands", 300, 150, 3, 0, 16, IMF_MAP_ABS, 0, 0, 1 },
	{ "rgba as P6, one band, after 3 bytes", 17, 21, 4, 1, 0, IMF_MAP_OFFSET, 21, 3, 1 },
	{ "gray 16-bit, 2 threads, after 5000 bytes", 200, 90, 1, 0, 16, IMF_MAP_CLAMP, 0, 5000, 2 },
	{ "rgb, 5-row bands, 2 threads", 64, 101, 3, 0, 0, IMF_MAP_CLAMP, 5, 0, 2 },
};

typedef struct put_job {
	imf_writer *w;
	const imf_image *img;
	imf_image *band;      /* scratch, as tall as the tallest band */
	const size_t *y0, *n; /* the bands, in the order to take them */
	size_t nbands;
	atomic_size_t *next;  /* the next band to take, shared */
	imf_status st;
	imf_error err;
} put_job;

/*
 * Take bands until none is left: encode each from the scratch band (at its
 * bottom, so rows are not where they are in the image), put it.  No
 * assertions here: the thread only reports.
 */
static void *put_thread(void *arg)
{
	put_job *j = arg;
	imf_image *band = j->band;
	size_t w = imf_image_width(j->img);
	int ch = imf_image_channels(j->img);
	size_t b;
	j->st = IMF_OK;
	while (j->st == IMF_OK && (b = atomic_fetch_add(j->next, 1)) < j->nbands) {
		size_t first = imf_image_height(band) - j->n[b];
		imf_encoded *e = NULL;
		for (int c = 0; c < ch; c++)
			for (size_t i = 0; i < j->n[b]; i++)
				memcpy(imf_image_row(band, c, first + i),
				       imf_image_row_const(j->img, c, j->y0[b] + i), w * sizeof(float));
		j->st = imf_writer_encode(j->w, band, first, j->n[b], j->y0[b], &e, &j->err);
		if (j->st == IMF_OK)
			j->st = imf_writer_put_at(j->w, e, &j->err);
	}
	return NULL;
}

/* Shuffle idx[0..n-1] (Fisher-Yates). */
static void shuffle(size_t *idx, size_t n, unsigned long long *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t k = (size_t)(tu_rand(seed) * (double)i), t = idx[i - 1];
		idx[i - 1] = idx[k];
		idx[k] = t;
	}
}

/*
 * Bands put at their place in a shuffled order (or by two threads) make
 * imf_write's file, byte for byte, after whatever the FILE held; after
 * finish the FILE stands at the image's end.
 */
START_TEST(test_put_at_equals_write)
{
	const put_case *pc = &put_cases[_i];
	imf_image *img = random_image(pc->w, pc->h, pc->ch, pc->alpha, 31 + (unsigned)_i, 0);
	imf_write_opts wo;
	imf_error err = { 0 };
	unsigned long long seed = 5 + (unsigned long long)_i;
	size_t rlen, len, nb = 0, tallest = 0;
	size_t *y0 = calloc(pc->h, sizeof *y0), *n = calloc(pc->h, sizeof *n);
	size_t *order = calloc(pc->h, sizeof *order);
	imf_encoded **enc = calloc(pc->h, sizeof *enc);

	ck_assert(y0 && n && order && enc);
	imf_write_opts_default(&wo);
	wo.depth = pc->depth;
	wo.map = pc->map;
	unsigned char *ref = tu_write_mem(img, IMF_FORMAT_PNM, &wo, &rlen);
	for (size_t y = 0; y < pc->h; nb++) {
		size_t k = pc->band ? pc->band : 1 + (size_t)(tu_rand(&seed) * 13.0);
		y0[nb] = y;
		n[nb] = k < pc->h - y ? k : pc->h - y;
		order[nb] = nb;
		tallest = n[nb] > tallest ? n[nb] : tallest;
		y += n[nb];
	}
	shuffle(order, nb, &seed);
	size_t *oy0 = calloc(nb, sizeof *oy0), *on = calloc(nb, sizeof *on);
	ck_assert(oy0 && on);
	for (size_t i = 0; i < nb; i++) {
		oy0[i] = y0[order[i]];
		on[i] = n[order[i]];
	}

	unsigned char *prefix = malloc(pc->prefix + 1);
	ck_assert_ptr_nonnull(prefix);
	for (size_t i = 0; i < pc->prefix; i++)
		prefix[i] = (unsigned char)('a' + i % 26);
	const char *path = tu_path("placed.pnm");
	FILE *fp = fopen(path, "w+b");
	ck_assert_ptr_nonnull(fp);
	/* Still in stdio's buffer (if it fits) when the writer opens. */
	ck_assert_uint_eq(fwrite(prefix, 1, pc->prefix, fp), pc->prefix);
	imf_writer *w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_random_access(w), 1);

	if (pc->threads == 2) {
		atomic_size_t next = 0;
		put_job jobs[2];
		for (int t = 0; t < 2; t++)
			jobs[t] = (put_job){ w, img, new_image(pc->w, tallest, pc->ch, pc->alpha), oy0, on,
			                     nb, &next, IMF_OK, { 0 } };
		pthread_t tid;
		ck_assert_int_eq(pthread_create(&tid, NULL, put_thread, &jobs[0]), 0);
		put_thread(&jobs[1]);
		ck_assert_int_eq(pthread_join(tid, NULL), 0);
		ck_assert_msg(jobs[0].st == IMF_OK && jobs[1].st == IMF_OK, "%s / %s", jobs[0].err.msg,
		              jobs[1].err.msg);
		imf_image_free(jobs[0].band);
		imf_image_free(jobs[1].band);
	} else {
		/* Encoded in one shuffled order, put in another. */
		for (size_t i = 0; i < nb; i++)
			ck_assert_int_eq(imf_writer_encode(w, img, oy0[i], on[i], oy0[i], &enc[order[i]],
			                                   &err),
			                 IMF_OK);
		shuffle(order, nb, &seed);
		for (size_t i = 0; i < nb; i++) {
			ck_assert_msg(imf_writer_put_at(w, enc[order[i]], &err) == IMF_OK, "%s", err.msg);
			ck_assert_int_eq(imf_writer_random_access(w), 1);
		}
	}
	ck_assert_msg(imf_writer_finish(w, &err) == IMF_OK, "%s: %s", pc->name, err.msg);
	ck_assert_int_eq(imf_writer_random_access(w), 0);
	imf_writer_free(w);
	/* The FILE stands at the end of the image: what follows lands there. */
	ck_assert_int_eq(ftello(fp), (off_t)(pc->prefix + rlen));
	ck_assert_int_eq(fputc('Z', fp), 'Z');
	ck_assert_int_eq(fclose(fp), 0);

	unsigned char *got = tu_read_file(path, &len);
	ck_assert_msg(len == pc->prefix + rlen + 1, "%s: %zu bytes, want %zu", pc->name, len,
	              pc->prefix + rlen + 1);
	ck_assert_msg(memcmp(got, prefix, pc->prefix) == 0, "%s: the bytes before changed", pc->name);
	ck_assert_msg(memcmp(got + pc->prefix, ref, rlen) == 0, "%s: differs from imf_write",
	              pc->name);
	ck_assert_int_eq(got[len - 1], 'Z');

	free(got);
	free(prefix);
	free(ref);
	free(oy0);
	free(on);
	free(y0);
	free(n);
	free(order);
	free(enc);
	imf_image_free(img);
}
END_TEST

/* finish counts the rows; put_at does not mix with the in-order calls. */
/*
 * A failed write at the place is kept: later puts and finish repeat it.
 * The file's descriptor is swapped for a read-only one after the writer
 * chose to write at the place, so pwrite fails (EBADF).
 */
START_TEST(test_put_at_failure_kept)
{
	imf_image *img = random_image(64, 20, 1, 0, 9, 1);
	char path[] = "/tmp/imf-check-place-XXXXXX";
	imf_write_opts wo;
	imf_error err = { 0 };
	imf_encoded *e = NULL;
	imf_write_opts_default(&wo);

	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *fp = fdopen(fd, "w+b");
	ck_assert_ptr_nonnull(fp);
	imf_writer *w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_random_access(w), 1);
	ck_assert_int_eq(imf_writer_encode(w, img, 0, 5, 0, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_OK);
	int ro = open(path, O_RDONLY);
	ck_assert_int_ge(ro, 0);
	ck_assert_int_eq(dup2(ro, fd), fd);
	close(ro);
	unlink(path);
	ck_assert_int_eq(imf_writer_encode(w, img, 15, 5, 15, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EIO);
	ck_assert_str_eq(err.msg, "PNM: write failed: Bad file descriptor");
	/* Later puts are refused with the same error, and finish says it again. */
	ck_assert_int_eq(imf_writer_encode(w, img, 5, 5, 5, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EIO);
	ck_assert_str_eq(err.msg, "PNM: write failed: Bad file descriptor");
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EIO);
	ck_assert_str_eq(err.msg, "PNM: write failed: Bad file descriptor");
	imf_writer_free(w);
	fclose(fp);
	imf_image_free(img);
}
END_TEST

START_TEST(test_put_at_misuse)
{
	imf_image *img = random_image(12, 20, 3, 0, 9, 1), *gray = random_image(12, 20, 1, 0, 9, 1);
	imf_write_opts wo;
	imf_error err = { 0 };
	imf_encoded *e = NULL;
	imf_write_opts_default(&wo);

	/* Bands of 5 rows; the one at row 10 never put. */
	FILE *fp = tmpfile();
	imf_writer *w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_put_at(w, NULL, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: nothing to put");
	static const size_t put[] = { 15, 0, 5 };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(imf_writer_encode(w, img, put[i], 5, put[i], &e, &err), IMF_OK);
		ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_OK);
	}
	/* In-order calls after put_at are refused, and write nothing. */
	ck_assert_int_eq(imf_writer_write(w, img, 10, 5, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: rows were written at their place");
	ck_assert_int_eq(imf_writer_encode(w, img, 10, 5, 10, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put(w, e, &err), IMF_EINVAL); /* frees e */
	ck_assert_str_eq(err.msg, "writer: encoded rows out of order");
	/* A band encoded for another geometry (a gray writer's rows) is refused. */
	FILE *gfp = tmpfile();
	imf_writer *gw = open_writer(gfp, gray, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_encode(gw, gray, 10, 5, 10, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: rows cannot be written at their place");
	imf_writer_free(gw);
	fclose(gfp);

	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: finished after 15 of 20 rows");
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: finished after 15 of 20 rows");
	imf_writer_free(w);
	fclose(fp);

	/* A row put twice is refused before it is written (helper review: bands 0-1
	 * twice and 2-3 never used to finish with a short file). */
	fp = tmpfile();
	w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_encode(w, img, 0, 10, 0, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_encode(w, img, 8, 4, 8, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: row 8 was already written");
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: finished after 10 of 20 rows");
	imf_writer_free(w);
	fclose(fp);

	/* No row put at all. */
	fp = tmpfile();
	w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: finished after 0 of 20 rows");
	imf_writer_free(w);
	fclose(fp);

	/* After a finish that counted every row, nothing more goes in. */
	fp = tmpfile();
	w = open_writer(fp, img, &wo, IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_writer_encode(w, img, 0, 20, 0, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_encode(w, img, 0, 1, 0, &e, &err), IMF_OK);
	ck_assert_int_eq(imf_writer_put_at(w, e, &err), IMF_EINVAL);
	ck_assert_int_eq(imf_writer_finish(w, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "writer: the image is already finished");
	imf_writer_free(w);
	fclose(fp);

	imf_image_free(img);
	imf_image_free(gray);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("read");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_read_bands_equal_read, 0, INPUT_COUNT);
	tcase_add_test(tc, test_read_known_values);
	tcase_add_loop_test(tc, test_cut_file_same_error, 0,
	                    (int)(sizeof cut_cases / sizeof cut_cases[0]));
	tcase_add_test(tc, test_palette_index_out_of_range);
	tcase_add_test(tc, test_reader_arguments);
	tcase_add_test(tc, test_jpeg_gray_is_luma);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_write_bands_equal_write, 0,
	                    (int)(sizeof write_cases / sizeof write_cases[0]));
	tcase_add_test(tc, test_writer_follows_source_depth);
	tcase_add_test(tc, test_writer_arguments);
	tcase_add_test(tc, test_write_failure_kept);
	tcase_add_test(tc, test_png_levels_and_filters);
	tcase_add_test(tc, test_png_encode_apart);
	suite_add_tcase(s, tc);

	tc = tcase_create("place");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_reader_random_access_when, 0,
	                    (int)(sizeof access_cases / sizeof access_cases[0]));
	tcase_add_test(tc, test_reader_random_access_not_file);
	tcase_add_loop_test(tc, test_read_at_equals_read, 0,
	                    (int)(sizeof place_inputs / sizeof place_inputs[0]));
	tcase_add_test(tc, test_read_at_place_in_file);
	tcase_add_test(tc, test_writer_random_access_when);
	tcase_add_loop_test(tc, test_put_at_equals_write, 0,
	                    (int)(sizeof put_cases / sizeof put_cases[0]));
	tcase_add_test(tc, test_put_at_misuse);
	tcase_add_test(tc, test_put_at_failure_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_test(tc, test_memory_budget_read);
	tcase_add_test(tc, test_memory_budget_write);
	tcase_add_test(tc, test_memory_check_messages);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(stream_suite)
