/*
 * check_maps.c - gathering, tiling and picking feature maps (src/maps.c).
 *
 * Every map gets values that say where they came from, map(c)(y, x) =
 * 1000 c + 10 y + x + 1 (never 0, never a separator value), so a test can
 * tell from one output value which map, row and column landed there.  The
 * expected tile layout is worked out here pixel by pixel from the grid
 * geometry: output column X lies in cell X / (w + sep) at offset
 * X % (w + sep), which is a separator when the offset is >= w.
 *
 * Tests with more than 4 planes need images of up to IMF_MAX_PLANES planes
 * (imf_image_new); they fail with IMF_EUNSUPPORTED where that is not there.
 */
#include "testutil.h"

#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static float tag(int c, size_t y, size_t x)
{
	return (float)(1000 * c + 10 * (int)y + (int)x + 1);
}

/* planes planes of w x h, each value tagged; the last plane is alpha when alpha is set. */
static imf_image *tagged(size_t w, size_t h, int planes, int alpha)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_image_new(w, h, planes, alpha, NULL, &img, &err) == IMF_OK, "%s",
	              err.msg);
	for (int c = 0; c < planes; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] = tag(c, y, x);
	return img;
}

static float at(const imf_image *img, int c, size_t y, size_t x)
{
	return imf_image_row_const(img, c, y)[x];
}

static char dummy;
#define NOT_NULL ((imf_image *)(void *)&dummy)

/* ---- concat ------------------------------------------------------------------ */

START_TEST(concat_order)
{
	/* a: gray + alpha (1 map), b: RGB (3 maps) -> 4 planes, no alpha, a's source. */
	imf_image *a = tagged(3, 2, 2, 1), *b = tagged(3, 2, 3, 0), *out = NULL;
	imf_error err = { 0 };
	imf_image_set_source(a, IMF_FORMAT_PNM, 16);
	imf_image_set_source(b, IMF_FORMAT_JPEG, 8);
	ck_assert_int_eq(imf_image_concat(a, b, &out, &err), IMF_OK);
	ck_assert_int_eq(imf_image_is_maps(a), 0);
	ck_assert_int_eq(imf_image_is_maps(out), 1); /* writers tile gathered maps */
	ck_assert_int_eq(imf_image_channels(out), 4);
	ck_assert_int_eq(imf_image_has_alpha(out), 0);
	ck_assert_uint_eq(imf_image_width(out), 3);
	ck_assert_uint_eq(imf_image_height(out), 2);
	ck_assert_int_eq(imf_image_source_format(out), IMF_FORMAT_PNM);
	ck_assert_int_eq(imf_image_source_depth(out), 16);
	/* plane 0 <- a's map 0; planes 1..3 <- b's maps 0..2; a's alpha dropped */
	static const struct {
		int src_is_b, src_plane;
	} want[] = { { 0, 0 }, { 1, 0 }, { 1, 1 }, { 1, 2 } };
	for (int c = 0; c < 4; c++)
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 3; x++)
				ck_assert(at(out, c, y, x) == tag(want[c].src_plane, y, x) &&
				          at(want[c].src_is_b ? b : a, want[c].src_plane, y, x) ==
				                  at(out, c, y, x));
	imf_image_free(out);
	imf_image_free(a);
	imf_image_free(b);
}
END_TEST

START_TEST(concat_many_maps)
{
	/* 3 + 4 = 7 maps (needs IMF_MAX_PLANES images). */
	imf_image *a = tagged(2, 2, 3, 0), *b = tagged(2, 2, 4, 0), *out = NULL, *again = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_image_concat(a, b, &out, &err) == IMF_OK, "%s", err.msg);
	ck_assert_int_eq(imf_image_channels(out), 7);
	for (int c = 0; c < 7; c++)
		ck_assert(at(out, c, 1, 1) == tag(c < 3 ? c : c - 3, 1, 1));
	/* Gathering step by step, as a chain does: (a, b) then (ab, a) -> 10 maps. */
	ck_assert_msg(imf_image_concat(out, a, &again, &err) == IMF_OK, "%s", err.msg);
	ck_assert_int_eq(imf_image_channels(again), 10);
	ck_assert(at(again, 9, 0, 1) == tag(2, 0, 1));
	imf_image_free(again);
	imf_image_free(out);
	imf_image_free(a);
	imf_image_free(b);
}
END_TEST

START_TEST(concat_size_mismatch)
{
	static const struct {
		size_t aw, ah, bw, bh;
		const char *msg;
	} cases[] = {
		{ 4, 4, 3, 3, "cannot join maps of 4x4 and 3x3" },
		{ 4, 3, 3, 4, "cannot join maps of 4x3 and 3x4" },
		{ 5, 2, 5, 1, "cannot join maps of 5x2 and 5x1" },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_image *a = tagged(cases[i].aw, cases[i].ah, 1, 0);
		imf_image *b = tagged(cases[i].bw, cases[i].bh, 1, 0);
		imf_image *out = NOT_NULL;
		imf_error err = { 0 };
		ck_assert_int_eq(imf_image_concat(a, b, &out, &err), IMF_EINVAL);
		ck_assert_str_eq(err.msg, cases[i].msg);
		ck_assert_ptr_null(out);
		imf_image_free(a);
		imf_image_free(b);
	}
}
END_TEST

/* ---- tile ------------------------------------------------------------------- */

/* Check a tiled image pixel by pixel against the grid geometry. */
static void check_tile(const imf_image *maps, const imf_image *t, size_t cols, size_t rows,
                       size_t sep, float sep_value)
{
	size_t w = imf_image_width(maps), h = imf_image_height(maps);
	size_t n = (size_t)(imf_image_channels(maps) - imf_image_has_alpha(maps));
	ck_assert_int_eq(imf_image_channels(t), 1);
	ck_assert_int_eq(imf_image_has_alpha(t), 0);
	ck_assert_uint_eq(imf_image_width(t), cols * w + (cols - 1) * sep);
	ck_assert_uint_eq(imf_image_height(t), rows * h + (rows - 1) * sep);
	for (size_t Y = 0; Y < imf_image_height(t); Y++)
		for (size_t X = 0; X < imf_image_width(t); X++) {
			size_t col = X / (w + sep), x = X % (w + sep);
			size_t row = Y / (h + sep), y = Y % (h + sep);
			size_t cell = row * cols + col;
			int filler = x >= w || y >= h || cell >= n;
			float want = filler ? sep_value : tag((int)cell, y, x);
			ck_assert_msg(at(t, 0, Y, X) == want,
			              "%zux%zu grid sep %zu: (%zu,%zu) = %g, want %g", cols, rows,
			              sep, X, Y, (double)at(t, 0, Y, X), (double)want);
		}
}

START_TEST(tile_default_grid)
{
	/* n maps -> cols = ceil(sqrt(n)), rows = ceil(n / cols), worked out by hand. */
	static const struct {
		int n;
		size_t cols, rows;
	} cases[] = {
		{ 1, 1, 1 }, { 2, 2, 1 }, { 3, 2, 2 }, { 4, 2, 2 }, { 5, 3, 2 }, { 10, 4, 3 },
		{ 9, 3, 3 }, { 16, 4, 4 }, { 17, 5, 4 },
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		/* n > 4 needs IMF_MAX_PLANES images. */
		imf_image *maps = tagged(3, 2, cases[i].n, 0), *t = NULL;
		imf_error err = { 0 };
		imf_image_set_source(maps, IMF_FORMAT_PFM, 32);
		ck_assert_msg(imf_image_tile(maps, 0, 0, 1, -1.0f, &t, &err) == IMF_OK, "%s",
		              err.msg);
		ck_assert_int_eq(imf_image_source_format(t), IMF_FORMAT_PFM);
		ck_assert_int_eq(imf_image_source_depth(t), 32);
		check_tile(maps, t, cases[i].cols, cases[i].rows, 1, -1.0f);
		imf_image_free(t);
		imf_image_free(maps);
	}
}
END_TEST

START_TEST(tile_alpha_not_a_map)
{
	/* RGBA: 3 maps (alpha is not one) -> 2x2 grid, the fourth cell filler. */
	imf_image *maps = tagged(2, 2, 4, 1), *t = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_tile(maps, 0, 0, 2, 255.0f, &t, &err), IMF_OK);
	check_tile(maps, t, 2, 2, 2, 255.0f);
	/* The bottom-right cell starts at (2 + 2, 2 + 2) and holds filler, not alpha. */
	ck_assert(at(t, 0, 4, 4) == 255.0f);
	ck_assert(at(t, 0, 0, 0) == tag(0, 0, 0) && at(t, 0, 4, 0) == tag(2, 0, 0));
	imf_image_free(t);
	imf_image_free(maps);
}
END_TEST

START_TEST(tile_explicit_grid)
{
	static const struct {
		int n;
		size_t cols, rows, sep; /* as passed */
		size_t want_cols, want_rows;
	} cases[] = {
		{ 3, 1, 3, 0, 1, 3 },  /* a column */
		{ 3, 3, 1, 2, 3, 1 },  /* a row */
		{ 3, 4, 1, 1, 4, 1 },  /* one unused cell */
		{ 3, 2, 3, 1, 2, 3 },  /* three unused cells, a whole empty row */
		{ 3, 2, 0, 1, 2, 2 },  /* rows = ceil(3 / 2) */
		{ 4, 1, 0, 3, 1, 4 },  /* rows = ceil(4 / 1) */
		{ 3, 0, 2, 1, 2, 2 },  /* cols = ceil(sqrt(3)) */
		{ 1, 3, 2, 1, 3, 2 },  /* one map, five filler cells */
		{ 2, 1, 2, 0, 1, 2 },  /* no separator */
	};
	for (size_t i = 0; i < COUNT(cases); i++) {
		imf_image *maps = tagged(3, 2, cases[i].n, 0), *t = NULL;
		imf_error err = { 0 };
		ck_assert_msg(imf_image_tile(maps, cases[i].cols, cases[i].rows, cases[i].sep, 0.5f,
		                             &t, &err) == IMF_OK,
		              "case %zu: %s", i, err.msg);
		check_tile(maps, t, cases[i].want_cols, cases[i].want_rows, cases[i].sep, 0.5f);
		imf_image_free(t);
		imf_image_free(maps);
	}
}
END_TEST

START_TEST(tile_worked_example)
{
	/*
	 * Three 2x1 maps [1 2], [1001 1002], [2001 2002] in the default 2x2
	 * grid, separator 1 of value 0:
	 *      1    2    0 1001 1002
	 *      0    0    0    0    0
	 *   2001 2002    0    0    0
	 */
	static const float want[3][5] = {
		{ 1, 2, 0, 1001, 1002 },
		{ 0, 0, 0, 0, 0 },
		{ 2001, 2002, 0, 0, 0 },
	};
	imf_image *maps = tagged(2, 1, 3, 0), *t = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_tile(maps, 0, 0, 1, 0.0f, &t, &err), IMF_OK);
	ck_assert_uint_eq(imf_image_width(t), 5);
	ck_assert_uint_eq(imf_image_height(t), 3);
	for (size_t y = 0; y < 3; y++)
		for (size_t x = 0; x < 5; x++)
			ck_assert(at(t, 0, y, x) == want[y][x]);
	imf_image_free(t);
	imf_image_free(maps);
}
END_TEST

START_TEST(tile_errors)
{
	imf_image *maps = tagged(2, 2, 3, 0), *t = NOT_NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_tile(maps, 2, 1, 1, 0, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "a 2x1 tile grid holds 2 maps, not 3");
	ck_assert_ptr_null(t);
	t = NOT_NULL;
	ck_assert_int_eq(imf_image_tile(maps, 0, 1, 1, 0, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "a 2x1 tile grid holds 2 maps, not 3");
	ck_assert_ptr_null(t);
	t = NOT_NULL;
	ck_assert_int_eq(imf_image_tile(maps, 1, 1, 0, 0, &t, &err), IMF_EINVAL);
	ck_assert_str_eq(err.msg, "a 1x1 tile grid holds 1 map, not 3");
	ck_assert_ptr_null(t);
	/* Sizes that overflow size_t are refused before any allocation. */
	t = NOT_NULL;
	ck_assert_int_eq(imf_image_tile(maps, SIZE_MAX / 2, 1, 0, 0, &t, &err), IMF_ELIMIT);
	ck_assert_ptr_null(t);
	t = NOT_NULL;
	ck_assert_int_eq(imf_image_tile(maps, 3, 1, SIZE_MAX / 2, 0, &t, &err), IMF_ELIMIT);
	ck_assert_ptr_null(t);
	t = NOT_NULL;
	ck_assert_int_eq(imf_image_tile(maps, SIZE_MAX, SIZE_MAX, 0, 0, &t, &err), IMF_ELIMIT);
	ck_assert_ptr_null(t);
	imf_image_free(maps);
}
END_TEST

/* ---- plane -------------------------------------------------------------------- */

START_TEST(plane_pick)
{
	imf_image *img = tagged(3, 2, 4, 1), *p = NULL;
	imf_error err = { 0 };
	imf_image_set_source(img, IMF_FORMAT_PNG, 16);
	for (int c = 0; c < 4; c++) { /* alpha (plane 3) too, as a plain map */
		ck_assert_int_eq(imf_image_plane(img, c, &p, &err), IMF_OK);
		ck_assert_int_eq(imf_image_channels(p), 1);
		ck_assert_int_eq(imf_image_has_alpha(p), 0);
		ck_assert_uint_eq(imf_image_width(p), 3);
		ck_assert_uint_eq(imf_image_height(p), 2);
		ck_assert_int_eq(imf_image_source_format(p), IMF_FORMAT_PNG);
		ck_assert_int_eq(imf_image_source_depth(p), 16);
		for (size_t y = 0; y < 2; y++)
			for (size_t x = 0; x < 3; x++)
				ck_assert(at(p, 0, y, x) == tag(c, y, x));
		imf_image_free(p);
	}
	static const int bad[] = { -1, 4, 5, 1000 };
	for (size_t i = 0; i < COUNT(bad); i++) {
		char want[64];
		p = NOT_NULL;
		ck_assert_int_eq(imf_image_plane(img, bad[i], &p, &err), IMF_EINVAL);
		snprintf(want, sizeof want, "no plane %d in an image of 4 planes", bad[i]);
		ck_assert_str_eq(err.msg, want);
		ck_assert_ptr_null(p);
	}
	imf_image_free(img);
}
END_TEST

START_TEST(plane_of_many)
{
	/* The last of 12 maps (needs IMF_MAX_PLANES images). */
	imf_image *img = tagged(2, 3, 12, 0), *p = NULL;
	imf_error err = { 0 };
	ck_assert_int_eq(imf_image_plane(img, 11, &p, &err), IMF_OK);
	for (size_t y = 0; y < 3; y++)
		for (size_t x = 0; x < 2; x++)
			ck_assert(at(p, 0, y, x) == tag(11, y, x));
	imf_image_free(p);
	imf_image_free(img);
}
END_TEST

static Suite *maps_suite(void)
{
	Suite *s = suite_create("maps");
	TCase *tc = tcase_create("maps");
	tcase_add_test(tc, concat_order);
	tcase_add_test(tc, concat_many_maps);
	tcase_add_test(tc, concat_size_mismatch);
	tcase_add_test(tc, tile_default_grid);
	tcase_add_test(tc, tile_alpha_not_a_map);
	tcase_add_test(tc, tile_explicit_grid);
	tcase_add_test(tc, tile_worked_example);
	tcase_add_test(tc, tile_errors);
	tcase_add_test(tc, plane_pick);
	tcase_add_test(tc, plane_of_many);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(maps_suite)
