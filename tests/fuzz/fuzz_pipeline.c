/*
 * fuzz_pipeline.c - libFuzzer harness for the whole data path:
 * imf_read -> (luma) -> imf_conv_run with a small kernel -> imf_write to
 * memory as PNG, PNM, PFM, text and JPEG.
 *
 * The kernel, border, stride, padding, flip, dilation and value mapping are
 * picked from the input's length, so every input is also a plain image file
 * (the seeds are ordinary images) and mutations that change the length walk
 * the parameters.  What is written must read back: PNG, PNM and PFM with
 * the same size, PFM and text (when every value is finite) bit for bit.
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
	sel >>= 2;
	p.limits.max_pixels = PIPE_MAX_PIXELS * 4;
	p.limits.max_side = FUZZ_MAX_SIDE;
	st = imf_conv_run(gray ? gray : img, k, &p, &res, &err);
	fuzz_check_error(st, &err, 1, "imf_conv_run");
	if (st == IMF_OK) {
		imf_write_opts_default(&wo);
		wo.map = (imf_map_mode)(sel % 4);
		wo.depth = (sel >> 2) & 1 ? 16 : 0;
		wo.quality = 1 + (int)(size % 100);

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
