/*
 * image.c - float planes.
 *
 * An image is `channels` planes of width x height floats, stored one plane
 * after another with a row stride (floats per row, >= width).  Values are on
 * the 0..255 scale for images read from integer formats, raw for text and
 * PFM.  When has_alpha is set the last plane is alpha: it is carried through
 * filtering, never filtered, and never part of intensity.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static imf_status image_new(size_t width, size_t height, int channels, int has_alpha,
                            const imf_limits *lim, int zero, imf_image **out, imf_error *err)
{
	imf_image *img;
	size_t plane, total;
	imf_status st;

	*out = NULL;
	st = imf_check_dims(width, height, channels, lim, "image", err);
	if (st != IMF_OK)
		return st;
	if (has_alpha && channels != 2 && channels != 4)
		return imf_error_set(err, IMF_EINVAL, "image: alpha needs 2 or 4 channels, not %d",
		                     channels);
	/* imf_check_dims proved width * height * channels * sizeof(float) fits. */
	plane = width * height;
	total = plane * (size_t)channels;

	img = calloc(1, sizeof *img);
	if (!img)
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	img->data = zero ? calloc(total, sizeof(float)) : malloc(total * sizeof(float));
	if (!img->data) {
		free(img);
		return imf_error_set(err, IMF_ENOMEM, "out of memory (%zux%zu image, %d channel%s)",
		                     width, height, channels, channels == 1 ? "" : "s");
	}
	img->width = width;
	img->height = height;
	img->channels = channels;
	img->has_alpha = has_alpha ? 1 : 0;
	img->stride = width;
	img->src_format = IMF_FORMAT_UNKNOWN;
	img->src_depth = 8;
	*out = img;
	return IMF_OK;
}

imf_status imf_image_new(size_t width, size_t height, int channels, int has_alpha,
                         const imf_limits *lim, imf_image **out, imf_error *err)
{
	return image_new(width, height, channels, has_alpha, lim, 1, out, err);
}

imf_status imf_image_new_uninit(size_t width, size_t height, int channels, int has_alpha,
                                const imf_limits *lim, imf_image **out, imf_error *err)
{
	return image_new(width, height, channels, has_alpha, lim, 0, out, err);
}

void imf_image_free(imf_image *img)
{
	if (!img)
		return;
	free(img->data);
	free(img);
}

size_t imf_image_width(const imf_image *img) { return img->width; }
size_t imf_image_height(const imf_image *img) { return img->height; }
int imf_image_channels(const imf_image *img) { return img->channels; }
int imf_image_has_alpha(const imf_image *img) { return img->has_alpha; }
int imf_image_data_planes(const imf_image *img) { return img->channels - (img->has_alpha ? 1 : 0); }
imf_format imf_image_source_format(const imf_image *img) { return img->src_format; }
int imf_image_source_depth(const imf_image *img) { return img->src_depth; }

int imf_image_is_maps(const imf_image *img) { return img->maps; }
void imf_image_set_maps(imf_image *img, int maps) { img->maps = maps != 0; }

void imf_image_set_source(imf_image *img, imf_format fmt, int depth)
{
	img->src_format = fmt;
	img->src_depth = depth;
}

float *imf_image_row(imf_image *img, int c, size_t y)
{
	return img->data + ((size_t)c * img->height + y) * img->stride;
}

const float *imf_image_row_const(const imf_image *img, int c, size_t y)
{
	return img->data + ((size_t)c * img->height + y) * img->stride;
}

/* Rec.601 luma, computed in double so 8-bit inputs round once. */
IMF_SIMD static void luma_row(float *restrict d, const float *restrict r,
                              const float *restrict g, const float *restrict b, size_t n)
{
	for (size_t x = 0; x < n; x++)
		d[x] = (float)(0.299 * (double)r[x] + 0.587 * (double)g[x] + 0.114 * (double)b[x]);
}

void imf_image_luma_rows(const imf_image *src, size_t sy, imf_image *dst, size_t dy, size_t n)
{
	int colour = imf_image_data_planes(src);

	for (size_t y = 0; y < n; y++) {
		float *d = imf_image_row(dst, 0, dy + y);
		if (colour >= 3)
			luma_row(d, imf_image_row_const(src, 0, sy + y), imf_image_row_const(src, 1, sy + y),
			         imf_image_row_const(src, 2, sy + y), src->width);
		else
			memcpy(d, imf_image_row_const(src, 0, sy + y), src->width * sizeof(float));
	}
}

imf_status imf_image_to_luma(const imf_image *img, imf_image **out, imf_error *err)
{
	imf_image *g;
	imf_status st;

	st = imf_image_new(img->width, img->height, 1, 0, NULL, &g, err);
	if (st != IMF_OK)
		return st;
	imf_image_set_source(g, img->src_format, img->src_depth);
	imf_image_luma_rows(img, 0, g, 0, img->height);
	*out = g;
	return IMF_OK;
}
