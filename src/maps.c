/*
 * maps.c - gathering, tiling and picking feature maps.
 *
 * A CNN stage can end with several maps (one per kernel); imfilter keeps
 * them as the non-alpha planes of one image.  imf_image_concat gathers the
 * maps of two images, imf_image_tile lays them out in one plane so a person
 * can look at them side by side, and imf_image_plane takes one out (for
 * --split).  None of them keeps alpha: a map grid has no single alpha.
 *
 * Tile layout, for n maps of w x h in a cols x rows grid with a separator
 * of sep pixels:
 *   width  = cols*w + (cols - 1)*sep,  height = rows*h + (rows - 1)*sep
 *   map i at column i % cols, row i / cols, its top-left corner at
 *   ((i % cols) * (w + sep), (i / cols) * (h + sep))
 * Separators and unused cells hold sep_value.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Copy plane sc of src into plane dc of dst at (x0, y0); dst must be large enough. */
static void copy_plane(const imf_image *src, int sc, imf_image *dst, int dc, size_t x0, size_t y0)
{
	for (size_t y = 0; y < src->height; y++)
		memcpy(imf_image_row(dst, dc, y0 + y) + x0, imf_image_row_const(src, sc, y),
		       src->width * sizeof(float));
}

imf_status imf_image_concat(const imf_image *a, const imf_image *b, imf_image **out,
                            imf_error *err)
{
	imf_image *res = NULL;
	int na, nb;
	imf_status st;

	*out = NULL;
	if (!a || !b)
		return imf_error_set(err, IMF_EINVAL, "concat: missing image");
	if (a->width != b->width || a->height != b->height)
		return imf_error_set(err, IMF_EINVAL, "cannot join maps of %zux%zu and %zux%zu",
		                     a->width, a->height, b->width, b->height);
	na = imf_image_data_planes(a);
	nb = imf_image_data_planes(b);
	/* Both are at most IMF_MAX_PLANES, so the sum fits in an int. */
	if (na + nb > IMF_MAX_PLANES)
		return imf_error_set(err, IMF_ELIMIT, "joining %d and %d maps makes more than %d",
		                     na, nb, IMF_MAX_PLANES);
	st = imf_image_new(a->width, a->height, na + nb, 0, NULL, &res, err);
	if (st != IMF_OK)
		return st;
	imf_image_set_source(res, a->src_format, a->src_depth);
	res->maps = 1; /* gathered from several kernels: feature maps, not colour */
	for (int c = 0; c < na; c++)
		copy_plane(a, c, res, c, 0, 0);
	for (int c = 0; c < nb; c++)
		copy_plane(b, c, res, na + c, 0, 0);
	*out = res;
	return IMF_OK;
}

/* count*size + (count - 1)*sep for count >= 1; 0 on overflow. */
static int grid_extent(size_t count, size_t size, size_t sep, size_t *out)
{
	size_t cells, gaps;
	return imf_size_mul(count, size, &cells) && imf_size_mul(count - 1, sep, &gaps) &&
	       imf_size_add(cells, gaps, out);
}

imf_status imf_image_tile(const imf_image *maps, size_t cols, size_t rows, size_t sep,
                          float sep_value, imf_image **out, imf_error *err)
{
	imf_image *res = NULL;
	size_t n, cells, tw, th;
	imf_status st;

	*out = NULL;
	if (!maps)
		return imf_error_set(err, IMF_EINVAL, "tile: missing image");
	n = (size_t)imf_image_data_planes(maps);
	if (cols == 0) {
		/* ceil(sqrt(n)): the smallest c with c*c >= n (n <= IMF_MAX_PLANES) */
		cols = 1;
		while (cols * cols < n)
			cols++;
	}
	if (rows == 0)
		rows = n / cols + (n % cols != 0); /* ceil(n / cols) */
	/* A product that overflows is certainly large enough. */
	if (imf_size_mul(cols, rows, &cells) && cells < n)
		return imf_error_set(err, IMF_EINVAL,
		                     "a %zux%zu tile grid holds %zu map%s, not %zu", cols, rows,
		                     cells, cells == 1 ? "" : "s", n);
	if (!grid_extent(cols, maps->width, sep, &tw) || !grid_extent(rows, maps->height, sep, &th))
		return imf_error_set(err, IMF_ELIMIT,
		                     "a %zux%zu tile grid of %zux%zu maps is too large to address",
		                     cols, rows, maps->width, maps->height);
	st = imf_image_new(tw, th, 1, 0, NULL, &res, err);
	if (st != IMF_OK)
		return st;
	imf_image_set_source(res, maps->src_format, maps->src_depth);

	/* Fill everything, then place the maps over it. */
	for (size_t y = 0; y < th; y++) {
		float *restrict row = imf_image_row(res, 0, y);
		for (size_t x = 0; x < tw; x++)
			row[x] = sep_value;
	}
	for (size_t i = 0; i < n; i++)
		copy_plane(maps, (int)i, res, 0, (i % cols) * (maps->width + sep),
		           (i / cols) * (maps->height + sep));
	*out = res;
	return IMF_OK;
}

imf_status imf_image_plane(const imf_image *img, int c, imf_image **out, imf_error *err)
{
	imf_image *res = NULL;
	imf_status st;

	*out = NULL;
	if (!img)
		return imf_error_set(err, IMF_EINVAL, "plane: missing image");
	if (c < 0 || c >= img->channels)
		return imf_error_set(err, IMF_EINVAL, "no plane %d in an image of %d plane%s", c,
		                     img->channels, img->channels == 1 ? "" : "s");
	st = imf_image_new(img->width, img->height, 1, 0, NULL, &res, err);
	if (st != IMF_OK)
		return st;
	imf_image_set_source(res, img->src_format, img->src_depth);
	copy_plane(img, c, res, 0, 0, 0);
	*out = res;
	return IMF_OK;
}
