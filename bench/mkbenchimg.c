/*
 * mkbenchimg.c - the benchmark's test images (run by bench/run.sh).
 *
 *   mkbenchimg pgm WIDTH HEIGHT OUT.pgm    8-bit gray, written row by row
 *   mkbenchimg jpeg WIDTH HEIGHT OUT.jpg   RGB JPEG, quality 90, through the
 *                                          library's own writer
 *
 * The content is meant to compress and filter like a photograph, not like
 * noise or a flat test card: a smooth background (broad gradients and soft
 * blobs), a few hard-edged shapes, texture (value noise on 32- and 6-pixel
 * lattices, smoothly interpolated) and a little per-pixel grain.
 * Everything is a function of (x / width, y / height) and a fixed seed, so
 * the images are the same on every run and look alike at every size.  The
 * PGM path keeps one row in memory, so a 1024x65536 image costs nothing.
 */
#include "imfilter.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 32-bit integer hash (a "lowbias" mixer): lattice values and grain. */
static uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t h = a * 0x9E3779B1u ^ b * 0x85EBCA77u ^ c * 0xC2B2AE3Du;
	h ^= h >> 16;
	h *= 0x7FEB352Du;
	h ^= h >> 15;
	h *= 0x846CA68Bu;
	h ^= h >> 16;
	return h;
}

/* Uniform in -1..1 from a hash. */
static double hsigned(uint32_t h)
{
	return (double)h / 2147483647.5 - 1.0;
}

/* Value noise on a lattice of cell pixels, smoothstep-interpolated: -1..1. */
static double value_noise(size_t x, size_t y, unsigned cell, uint32_t seed)
{
	uint32_t cx = (uint32_t)(x / cell), cy = (uint32_t)(y / cell);
	double fx = (double)(x % cell) / cell, fy = (double)(y % cell) / cell;
	double sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
	double v00 = hsigned(hash3(cx, cy, seed)), v10 = hsigned(hash3(cx + 1, cy, seed));
	double v01 = hsigned(hash3(cx, cy + 1, seed)), v11 = hsigned(hash3(cx + 1, cy + 1, seed));
	double top = v00 + (v10 - v00) * sx, bottom = v01 + (v11 - v01) * sx;
	return top + (bottom - top) * sy;
}

/* Soft blobs: centre (u, v), radius r (fractions of the image), colour. */
static const double blobs[5][6] = {
	{ 0.28, 0.30, 0.20, 200, 120, 90 },
	{ 0.72, 0.25, 0.15, 90, 150, 210 },
	{ 0.50, 0.70, 0.25, 120, 170, 80 },
	{ 0.85, 0.80, 0.10, 230, 210, 120 },
	{ 0.15, 0.85, 0.12, 60, 60, 90 },
};

/*
 * A blob's weight exp(-(du^2 + dv^2) / r^2) is exp(-du^2 / r^2) exp(-dv^2 / r^2),
 * so each image column and each row has its factor computed once.
 */
typedef struct scene {
	size_t w, h;
	double *colw; /* [b * w + x] */
	double roww[5];
	double v;     /* the current row, as a fraction */
} scene;

static int scene_init(scene *s, size_t w, size_t h)
{
	s->w = w;
	s->h = h;
	if (w > SIZE_MAX / 5 / sizeof *s->colw || !(s->colw = malloc(5 * w * sizeof *s->colw))) {
		fprintf(stderr, "mkbenchimg: out of memory\n");
		return 0;
	}
	for (int b = 0; b < 5; b++)
		for (size_t x = 0; x < w; x++) {
			double du = (x + 0.5) / (double)w - blobs[b][0];
			s->colw[(size_t)b * w + x] = exp(-du * du / (blobs[b][2] * blobs[b][2]));
		}
	return 1;
}

static void scene_row(scene *s, size_t y)
{
	s->v = (y + 0.5) / (double)s->h;
	for (int b = 0; b < 5; b++) {
		double dv = s->v - blobs[b][1];
		s->roww[b] = exp(-dv * dv / (blobs[b][2] * blobs[b][2]));
	}
}

/* Sample (x, y) of channel c (0..2), y set by scene_row; integer-valued 0..255. */
static double scene_at(const scene *s, size_t x, size_t y, int c)
{
	double u = (x + 0.5) / (double)s->w, v = s->v;
	double val = 70 + 60 * u + 30 * v + 8 * c;
	double t;

	for (int b = 0; b < 5; b++) {
		double wgt = s->colw[(size_t)b * s->w + x] * s->roww[b];
		val += (blobs[b][3 + c] - val) * wgt * 0.8;
	}
	/* Hard edges: a bright rectangle and a dark disc. */
	if (u > 0.55 && u < 0.8 && v > 0.45 && v < 0.6)
		val = 0.3 * val + 0.7 * (215 - 20 * c);
	t = (u - 0.35) * (u - 0.35) + (v - 0.55) * (v - 0.55);
	if (t < 0.08 * 0.08)
		val = 0.4 * val + 0.6 * (30 + 15 * c);
	/* Texture at two scales, then grain. */
	val += 10 * value_noise(x, y, 32, 11u + (uint32_t)c / 2);
	val += 9 * value_noise(x, y, 6, 1u + (uint32_t)c / 2);
	val += 3 * hsigned(hash3((uint32_t)x, (uint32_t)y, 7u + (uint32_t)c));
	val = floor(val + 0.5);
	return val < 0 ? 0 : val > 255 ? 255 : val;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long v;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > 1000000)
		return 0;
	*out = (size_t)v;
	return 1;
}

static int write_pgm(size_t w, size_t h, const char *path)
{
	unsigned char *row = malloc(w);
	FILE *fp = NULL;
	scene sc = { 0 };
	int ok = 0;

	if (!row || !scene_init(&sc, w, h)) {
		if (!row)
			fprintf(stderr, "mkbenchimg: out of memory\n");
		free(row);
		free(sc.colw);
		return 0;
	}
	fp = fopen(path, "wb");
	if (!fp) {
		fprintf(stderr, "mkbenchimg: %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	if (fprintf(fp, "P5\n%zu %zu\n255\n", w, h) < 0)
		goto cleanup;
	for (size_t y = 0; y < h; y++) {
		scene_row(&sc, y);
		for (size_t x = 0; x < w; x++) {
			/* Rec.601 luma of the colour scene, as a camera's gray output. */
			double l = 0.299 * scene_at(&sc, x, y, 0) + 0.587 * scene_at(&sc, x, y, 1) +
			           0.114 * scene_at(&sc, x, y, 2);
			row[x] = (unsigned char)floor(l + 0.5);
		}
		if (fwrite(row, 1, w, fp) != w)
			goto cleanup;
	}
	ok = 1;
cleanup:
	if (fp && fclose(fp) != 0)
		ok = 0;
	if (!ok && fp)
		fprintf(stderr, "mkbenchimg: %s: write failed\n", path);
	free(row);
	free(sc.colw);
	return ok;
}

static int write_jpeg(size_t w, size_t h, const char *path)
{
	imf_error err = { 0 };
	imf_image *img = NULL;
	imf_write_opts wo;
	FILE *fp = NULL;
	scene sc = { 0 };
	int ok = 0;

	if (!scene_init(&sc, w, h))
		return 0;
	if (imf_image_new(w, h, 3, 0, NULL, &img, &err) != IMF_OK)
		goto cleanup;
	for (size_t y = 0; y < h; y++) {
		scene_row(&sc, y);
		for (int c = 0; c < 3; c++) {
			float *row = imf_image_row(img, c, y);
			for (size_t x = 0; x < w; x++)
				row[x] = (float)scene_at(&sc, x, y, c);
		}
	}
	fp = fopen(path, "wb");
	if (!fp) {
		snprintf(err.msg, sizeof err.msg, "%s", strerror(errno));
		goto cleanup;
	}
	imf_write_opts_default(&wo);
	wo.quality = 90;
	if (imf_write(fp, img, IMF_FORMAT_JPEG, &wo, &err) != IMF_OK)
		goto cleanup;
	ok = 1;
cleanup:
	if (fp && fclose(fp) != 0 && ok) {
		ok = 0;
		snprintf(err.msg, sizeof err.msg, "write failed");
	}
	if (!ok)
		fprintf(stderr, "mkbenchimg: %s: %s\n", path, err.msg[0] ? err.msg : "failed");
	imf_image_free(img);
	free(sc.colw);
	return ok;
}

int main(int argc, char **argv)
{
	size_t w, h;

	if (argc != 5 || !parse_size(argv[2], &w) || !parse_size(argv[3], &h) ||
	    (strcmp(argv[1], "pgm") != 0 && strcmp(argv[1], "jpeg") != 0)) {
		fprintf(stderr, "usage: mkbenchimg pgm|jpeg WIDTH HEIGHT OUT\n");
		return 2;
	}
	if (strcmp(argv[1], "pgm") == 0)
		return write_pgm(w, h, argv[4]) ? 0 : 1;
	return write_jpeg(w, h, argv[4]) ? 0 : 1;
}
