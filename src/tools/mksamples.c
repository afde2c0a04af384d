/*
 * mksamples.c - generate the images in samples/ (run by `make samples`).
 *
 * Small, deterministic images that show what the filters do:
 *   shapes.png    gray disc, square and triangle: edges in every orientation
 *   strokes.png   block letters and thin lines: text-like strokes
 *   gradient.png  16-bit smooth ramps: precision, and where derivatives are flat
 *   texture.png   RGB noisy texture with coloured blobs (for --channels rgb)
 *   blobs.jpg     the same kind of colour scene as a JPEG
 *   worked.txt    the 5x5 matrix of the classic sharpen example
 *   binary.txt    the 5x5 binary matrix of the classic [1 0 1; 0 1 0; 1 0 1] example
 * Uses only the library's writers, so it also exercises them.
 */
#include "imfilter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng = 0x2545F4914F6CDD1DULL;

static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static imf_image *new_image(size_t w, size_t h, int ch)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	if (imf_image_new(w, h, ch, 0, NULL, &img, &err) != IMF_OK) {
		fprintf(stderr, "mksamples: %s\n", err.msg);
		exit(1);
	}
	return img;
}

static void save(const char *dir, const char *name, imf_image *img, imf_format fmt, int depth)
{
	char path[1024];
	imf_write_opts wo;
	imf_error err = { 0 };
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp) {
		perror(path);
		exit(1);
	}
	imf_write_opts_default(&wo);
	wo.depth = depth;
	wo.quality = 92;
	if (imf_write(fp, img, fmt, &wo, &err) != IMF_OK || fclose(fp) != 0) {
		fprintf(stderr, "mksamples: %s: %s\n", path, err.msg);
		exit(1);
	}
	imf_image_free(img);
}

/* Anti-aliased coverage of a shape, by 4x4 supersampling. */
typedef int (*inside_fn)(double x, double y);

static int in_disc(double x, double y) { return (x - 44) * (x - 44) + (y - 44) * (y - 44) < 30 * 30; }
static int in_square(double x, double y) { return x > 80 && x < 118 && y > 14 && y < 52; }
static int in_triangle(double x, double y)
{
	/* apex (64, 72), base from (20, 120) to (108, 120) */
	return y < 120 && y > 72 && fabs(x - 64) < (y - 72) * 44.0 / 48.0;
}
static int in_diamond(double x, double y) { return fabs(x - 108) + fabs(y - 100) < 16; }

static double coverage(inside_fn f, size_t px, size_t py)
{
	int n = 0;
	for (int j = 0; j < 4; j++)
		for (int i = 0; i < 4; i++)
			n += f(px + (i + 0.5) / 4, py + (j + 0.5) / 4);
	return n / 16.0;
}

static void shapes(const char *dir)
{
	imf_image *img = new_image(128, 128, 1);
	for (size_t y = 0; y < 128; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < 128; x++) {
			double v = 40;
			v += (220 - v) * coverage(in_disc, x, y);
			v += (160 - v) * coverage(in_square, x, y);
			v += (250 - v) * coverage(in_triangle, x, y);
			v += (10 - v) * coverage(in_diamond, x, y);
			row[x] = (float)floor(v + 0.5);
		}
	}
	save(dir, "shapes.png", img, IMF_FORMAT_PNG, 8);
}

/* A 5x7 block font for the letters the sample needs. */
static const char *glyph(char c)
{
	switch (c) {
	case 'E': return "#####" "#...." "#...." "####." "#...." "#...." "#####";
	case 'D': return "####." "#...#" "#...#" "#...#" "#...#" "#...#" "####.";
	case 'G': return ".####" "#...." "#...." "#.###" "#...#" "#...#" ".####";
	case 'S': return ".####" "#...." "#...." ".###." "....#" "....#" "####.";
	case 'K': return "#...#" "#..#." "#.#.." "##..." "#.#.." "#..#." "#...#";
	case 'N': return "#...#" "##..#" "#.#.#" "#..##" "#...#" "#...#" "#...#";
	case 'R': return "####." "#...#" "#...#" "####." "#.#.." "#..#." "#...#";
	case 'L': return "#...." "#...." "#...." "#...." "#...." "#...." "#####";
	}
	return "....." "....." "....." "....." "....." "....." ".....";
}

static void strokes(const char *dir)
{
	const char *words[2] = { "EDGES", "KERNEL" };
	imf_image *img = new_image(160, 96, 1);
	for (size_t y = 0; y < 96; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < 160; x++)
			row[x] = 245;
	}
	for (int w = 0; w < 2; w++) {
		for (size_t i = 0; words[w][i]; i++) {
			const char *g = glyph(words[w][i]);
			for (int gy = 0; gy < 7; gy++)
				for (int gx = 0; gx < 5; gx++) {
					if (g[gy * 5 + gx] != '#')
						continue;
					for (int sy = 0; sy < 4; sy++)
						for (int sx = 0; sx < 4; sx++) {
							size_t x = 6 + i * 25 + (size_t)gx * 4 + (size_t)sx;
							size_t y = 6 + (size_t)w * 36 + (size_t)gy * 4 + (size_t)sy;
							imf_image_row(img, 0, y)[x] = 20;
						}
				}
		}
	}
	/* Thin strokes: a horizontal, a vertical and two diagonal 1-pixel lines. */
	for (size_t x = 4; x < 156; x++)
		imf_image_row(img, 0, 84)[x] = 30;
	for (size_t y = 76; y < 94; y++)
		imf_image_row(img, 0, y)[150] = 30;
	for (size_t t = 0; t < 14; t++) {
		imf_image_row(img, 0, 78 + t / 2)[100 + t] = 30;
		imf_image_row(img, 0, 91 - t)[120 + t] = 30;
	}
	save(dir, "strokes.png", img, IMF_FORMAT_PNG, 8);
}

static void gradient(const char *dir)
{
	imf_image *img = new_image(128, 64, 1);
	for (size_t y = 0; y < 64; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < 128; x++) {
			/* A 16-bit ramp: left half linear, right half quadratic; exact v/257 steps. */
			double t = x / 127.0;
			double v = x < 64 ? t * 2 * 0.5 : 0.5 + 0.5 * pow((t - 0.5) * 2, 2);
			v = v * (0.75 + 0.25 * y / 63.0);
			row[x] = (float)(floor(v * 65535 + 0.5) / 257.0);
		}
	}
	save(dir, "gradient.png", img, IMF_FORMAT_PNG, 16);
}

static void colour_scene(imf_image *img)
{
	size_t w = imf_image_width(img), h = imf_image_height(img);
	static const double blobs[4][5] = {
		/* cx, cy (fractions), radius (fraction of w), hue index */
		{ 0.3, 0.35, 0.22, 0, 0 }, { 0.7, 0.3, 0.18, 1, 0 },
		{ 0.5, 0.72, 0.2, 2, 0 },  { 0.82, 0.78, 0.1, 3, 0 },
	};
	static const double colours[4][3] = {
		{ 220, 40, 40 }, { 40, 180, 60 }, { 50, 80, 220 }, { 240, 210, 40 },
	};
	for (size_t y = 0; y < h; y++)
		for (size_t x = 0; x < w; x++) {
			double px[3] = { 60, 64, 76 };
			double n = (rnd() - 0.5) * 16;
			for (int b = 0; b < 4; b++) {
				double dx = x - blobs[b][0] * w, dy = y - blobs[b][1] * h;
				double r = blobs[b][2] * w;
				if (dx * dx + dy * dy < r * r)
					for (int c = 0; c < 3; c++)
						px[c] = colours[(int)blobs[b][3]][c];
			}
			for (int c = 0; c < 3; c++) {
				double v = px[c] + n + 10 * sin(x * 0.4 + c) * cos(y * 0.3);
				imf_image_row(img, c, y)[x] = (float)floor(fmin(255, fmax(0, v)) + 0.5);
			}
		}
}

static void texture(const char *dir)
{
	imf_image *img = new_image(128, 128, 3);
	colour_scene(img);
	save(dir, "texture.png", img, IMF_FORMAT_PNG, 8);
	img = new_image(192, 128, 3);
	colour_scene(img);
	save(dir, "blobs.jpg", img, IMF_FORMAT_JPEG, 8);
}

static void matrices(const char *dir)
{
	static const double worked[25] = { 60, 113, 56, 139, 85, 73, 121, 54, 84, 128, 131, 99, 70,
		                           129, 127, 80, 57, 115, 69, 134, 104, 126, 123, 95, 130 };
	static const double binary[25] = { 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1,
		                           1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0 };
	imf_image *a = new_image(5, 5, 1), *b = new_image(5, 5, 1);
	for (size_t y = 0; y < 5; y++)
		for (size_t x = 0; x < 5; x++) {
			imf_image_row(a, 0, y)[x] = (float)worked[y * 5 + x];
			imf_image_row(b, 0, y)[x] = (float)binary[y * 5 + x];
		}
	save(dir, "worked.txt", a, IMF_FORMAT_TEXT, 0);
	save(dir, "binary.txt", b, IMF_FORMAT_TEXT, 0);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "samples";
	shapes(dir);
	strokes(dir);
	gradient(dir);
	texture(dir);
	matrices(dir);
	return 0;
}
