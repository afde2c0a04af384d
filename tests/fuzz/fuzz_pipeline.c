/*
 * fuzz_pipeline.c - libFuzzer harness for the whole data path:
 * imf_read -> (luma) -> imf_conv_run with a small kernel -> imf_write to
 * memory as PNG, PNM, PFM, text and JPEG.
 *
 * The kernel, border, stride, padding, flip, dilation, precision and value
 * mapping are picked from the input's length, so every input is also a
 * plain image file (the seeds are ordinary images) and mutations that
 * change the length walk the parameters.  What is written must read back:
 * PNG, PNM and PFM with the same size, PFM and text (when every value is
 * finite) bit for bit.
 *
 * The same input also goes through the band API the CLI streams with:
 * imf_reader_read in bands of a size picked from the input, the engine's
 * imf_conv_stream_run band by band, imf_writer_write band by band.  It must
 * give the very planes imf_read gave, the same verdict (and message) as the
 * whole-image calls, and the same bytes as imf_write of the whole result.
 */
#include "fuzz_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIPE_MAX_PIXELS ((size_t)1 << 18)

static const char *const kernels[] = {
	"sobel",                 /* compound: sqrt(gx^2 + gy^2) */
	"1 2; 3 4",              /* even: asymmetric same padding */
	"1/16 * 1 2 1; 2 4 2; 1 2 1",
	"-1 0 1",                /* one row */
	"7",                     /* 1x1 */
};

/* Write img as fmt to memory, read it back; returns the copy or NULL. */
static imf_image *round_trip(const imf_image *img, imf_format fmt, const imf_write_opts *wo)
{
	imf_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	imf_image *back = NULL;
	if (!mem)
		abort();
	imf_status st = imf_write(mem, img, fmt, wo, &err);
	fclose(mem);
	fuzz_check_error(st, &err, 1, "imf_write");
	if (st == IMF_OK) {
		imf_read_opts ro;
		imf_error rerr = { 0 };
		void *copy;
		FILE *fp;
		/* Padding can make the output larger than the input's limit. */
		fuzz_read_opts(&ro, (size_t)1 << 24, 0);
		if (!(fp = fuzz_fopen((const uint8_t *)buf, len, &copy)))
			abort();
		st = imf_read(fp, &ro, &back, &rerr);
		fuzz_fclose(fp, copy);
		if (st != IMF_OK) {
			char detail[400];
			snprintf(detail, sizeof detail, "%s output does not read back: %s",
			         imf_format_name(fmt), rerr.msg);
			fuzz_fail("imf_write", detail);
		}
		if (imf_image_width(back) != imf_image_width(img) ||
		    imf_image_height(back) != imf_image_height(img))
			fuzz_fail("imf_write", "output reads back with another size");
	}
	free(buf);
	return back;
}

static int all_finite(const imf_image *img)
{
	for (int c = 0; c < imf_image_channels(img); c++)
		for (size_t y = 0; y < imf_image_height(img); y++) {
			const float *r = imf_image_row_const(img, c, y);
			for (size_t x = 0; x < imf_image_width(img); x++)
				if (!isfinite(r[x]))
					return 0;
		}
	return 1;
}

/*
 * The first planes of b equal a's (b may have dropped alpha).  Compared with
 * ==, not bit for bit: the text writer prints -0 as 0 on purpose.
 */
static void same_values(const imf_image *a, const imf_image *b, const char *what)
{
	int n = imf_image_channels(b);
	if (n > imf_image_channels(a))
		fuzz_fail(what, "more planes read back than were written");
	for (int c = 0; c < n; c++)
		for (size_t y = 0; y < imf_image_height(a); y++) {
			const float *ra = imf_image_row_const(a, c, y), *rb = imf_image_row_const(b, c, y);
			for (size_t x = 0; x < imf_image_width(a); x++)
				if (ra[x] != rb[x]) {
					char detail[160];
					snprintf(detail, sizeof detail, "plane %d at %zu,%zu: wrote %.9g, read %.9g",
					         c, x, y, (double)ra[x], (double)rb[x]);
					fuzz_fail(what, detail);
				}
		}
}

/* imf_write of img as fmt into memory: the bytes (malloc'd) or NULL on failure. */
static char *write_mem(const imf_image *img, imf_format fmt, const imf_write_opts *wo, size_t *len)
{
	imf_error err = { 0 };
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, len);
	if (!mem)
		abort();
	imf_status st = imf_write(mem, img, fmt, wo, &err);
	fclose(mem);
	if (st != IMF_OK) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void same_planes(const imf_image *a, const imf_image *b, const char *what)
{
	if (imf_image_width(a) != imf_image_width(b) || imf_image_height(a) != imf_image_height(b) ||
	    imf_image_channels(a) != imf_image_channels(b))
		fuzz_fail(what, "another geometry");
	for (int c = 0; c < imf_image_channels(a); c++)
		for (size_t y = 0; y < imf_image_height(a); y++)
			if (memcmp(imf_image_row_const(a, c, y), imf_image_row_const(b, c, y),
			           imf_image_width(a) * sizeof(float)) != 0)
				fuzz_fail(what, "different values");
}

/*
 * The band path against the whole-image one: img/res are imf_read's image
 * and imf_conv_run's result (NULL when they failed, with their messages).
 */
static void band_check(const uint8_t *data, size_t size, const imf_read_opts *ro,
                       const imf_image *img, const imf_kernel *k, const imf_conv_params *p,
                       const imf_write_opts *wo, const imf_image *res, const char *conv_msg,
                       size_t band)
{
	imf_reader *r = NULL;
	imf_conv_stream *s = NULL;
	imf_writer *w = NULL;
	imf_image *in = NULL, *out = NULL;
	imf_error err = { 0 };
	imf_info info;
	void *copy;
	FILE *fp = fuzz_fopen(data, size, &copy), *mem = NULL;
	char *bytes = NULL, *want = NULL;
	size_t len = 0, want_len = 0, ow, oh;
	int och, oa;
	imf_status st;

	if (!fp)
		abort();
	st = imf_reader_open(fp, ro, &r, &err);
	fuzz_check_error(st, &err, 1, "imf_reader_open");
	if (st != IMF_OK) {
		if (img)
			fuzz_fail("imf_reader_open", "refused what imf_read accepted");
		goto done;
	}
	imf_reader_info(r, &info);
	if (imf_image_new(info.width, info.height, info.channels, info.has_alpha, NULL, &in, &err) !=
	    IMF_OK)
		goto done; /* (only within imf_read's own limits) */
	for (size_t y = 0; y < info.height;) {
		size_t n = info.height - y < band ? info.height - y : band;
		st = imf_reader_read(r, in, y, n, &err);
		fuzz_check_error(st, &err, 1, "imf_reader_read");
		if (st != IMF_OK) {
			if (img)
				fuzz_fail("imf_reader_read", "failed where imf_read succeeded");
			goto done;
		}
		y += n;
	}
	if (!img)
		fuzz_fail("imf_reader_read", "read every band of what imf_read refused");
	same_planes(in, img, "imf_reader_read");

	st = imf_conv_stream_new(k, p, info.width, info.height, info.channels, info.has_alpha, &s,
	                         &err);
	fuzz_check_error(st, &err, 1, "imf_conv_stream_new");
	if ((st == IMF_OK) != (res != NULL) || (st != IMF_OK && strcmp(err.msg, conv_msg) != 0))
		fuzz_fail("imf_conv_stream_new", "a verdict other than imf_conv_run's");
	if (st != IMF_OK)
		goto done;
	imf_conv_stream_output(s, &ow, &oh, &och, &oa);
	if (imf_image_new(ow, oh, och, oa, NULL, &out, &err) != IMF_OK)
		goto done;
	for (size_t y = 0; y < oh;) {
		size_t n = oh - y < band ? oh - y : band;
		imf_image *b = NULL;
		if (imf_image_new(ow, n, och, oa, NULL, &b, &err) != IMF_OK)
			goto done;
		if (imf_conv_stream_run(s, in, 0, b, y, n, &err) != IMF_OK)
			fuzz_fail("imf_conv_stream_run", err.msg);
		for (int c = 0; c < och; c++)
			for (size_t i = 0; i < n; i++)
				memcpy(imf_image_row(out, c, y + i), imf_image_row_const(b, c, i),
				       ow * sizeof(float));
		imf_image_free(b);
		y += n;
	}
	same_planes(out, res, "imf_conv_stream_run");

	/* The writer in bands: PNM bytes equal imf_write's. */
	if (!(want = write_mem(res, IMF_FORMAT_PNM, wo, &want_len)))
		goto done;
	if (!(mem = open_memstream(&bytes, &len)))
		abort();
	st = imf_writer_open(mem, IMF_FORMAT_PNM, ow, oh, och, oa, info.format, info.depth, wo, &w,
	                     &err);
	for (size_t y = 0; st == IMF_OK && y < oh; y += band)
		st = imf_writer_write(w, out, y, oh - y < band ? oh - y : band, &err);
	if (st == IMF_OK)
		st = imf_writer_finish(w, &err);
	fclose(mem);
	mem = NULL;
	if (st != IMF_OK)
		fuzz_fail("imf_writer", err.msg);
	if (len != want_len || memcmp(bytes, want, len) != 0)
		fuzz_fail("imf_writer", "band-by-band bytes differ from imf_write's");
done:
	if (mem)
		fclose(mem);
	free(bytes);
	free(want);
	imf_writer_free(w);
	imf_conv_stream_free(s);
	imf_image_free(in);
	imf_image_free(out);
	imf_reader_free(r);
	fuzz_fclose(fp, copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	imf_read_opts ro;
	imf_image *img, *gray = NULL, *res = NULL, *back;
	imf_kernel *k = NULL;
	imf_conv_params p;
	imf_write_opts wo;
	imf_error err = { 0 };
	imf_status st;
	size_t sel = size;

	fuzz_read_opts(&ro, PIPE_MAX_PIXELS, (int)(sel & 1));
	sel >>= 1;
	if (!(img = fuzz_read_checked(data, size, &ro)))
		return 0;
	if (sel & 1) {
		st = imf_image_to_luma(img, &gray, &err);
		fuzz_check_error(st, &err, 1, "imf_image_to_luma");
	}
	sel >>= 1;

	st = imf_kernel_parse(kernels[sel % 5], &k, &err);
	if (st != IMF_OK)
		fuzz_fail("imf_kernel_parse", err.msg);
	sel /= 5;
	imf_conv_params_default(&p);
	p.border = (imf_border)(sel % 5);
	sel /= 5;
	p.pad_mode = (imf_pad_mode)(sel % 4);
	p.pad = 3;
	sel /= 4;
	p.stride = 1 + sel % 3;
	sel /= 3;
	p.flip = (int)(sel & 1);
	p.dilation = 1 + ((sel >> 1) & 1);
	p.precision = (sel >> 2) & 1 ? IMF_PRECISION_FLOAT : IMF_PRECISION_EXACT;
	sel >>= 3;
	p.limits.max_pixels = PIPE_MAX_PIXELS * 4;
	p.limits.max_side = FUZZ_MAX_SIDE;
	st = imf_conv_run(gray ? gray : img, k, &p, &res, &err);
	fuzz_check_error(st, &err, 1, "imf_conv_run");
	imf_write_opts_default(&wo);
	wo.map = (imf_map_mode)(sel % 4);
	wo.depth = (sel >> 2) & 1 ? 16 : 0;
	wo.quality = 1 + (int)(size % 100);
	/* The band path, unless the whole path converted to luma first. */
	if (!gray || imf_image_channels(img) == 1)
		band_check(data, size, &ro, img, k, &p, &wo, res, err.msg, 1 + (size * 7) % 13);
	if (st == IMF_OK) {
		back = round_trip(res, IMF_FORMAT_PNG, &wo);
		imf_image_free(back);
		back = round_trip(res, IMF_FORMAT_PNM, &wo);
		imf_image_free(back);
		imf_image_free(round_trip(res, IMF_FORMAT_JPEG, &wo));
		if (all_finite(res)) {
			back = round_trip(res, IMF_FORMAT_PFM, &wo);
			if (back)
				same_values(res, back, "PFM");
			imf_image_free(back);
			back = round_trip(res, IMF_FORMAT_TEXT, &wo);
			if (back)
				same_values(res, back, "text");
			imf_image_free(back);
		} else {
			/* Non-finite values are written; reading them back is refused. */
			char *buf = NULL;
			size_t len = 0;
			FILE *mem = open_memstream(&buf, &len);
			if (!mem)
				abort();
			st = imf_write(mem, res, IMF_FORMAT_TEXT, &wo, &err);
			fuzz_check_error(st, &err, 1, "imf_write");
			fclose(mem);
			free(buf);
		}
	}
	imf_image_free(res);
	imf_kernel_free(k);
	imf_image_free(gray);
	imf_image_free(img);
	return 0;
}
