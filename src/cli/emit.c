/*
 * emit.c - write a result: one image, tiled feature maps, or one file per map.
 *
 * A chain can end with several feature maps.  A text matrix keeps them as
 * blocks separated by a blank line; an image format gets them tiled into one
 * picture with a thin separator (--tile COLSxROWS, else up to 4 maps in a row
 * and more in a near-square grid),
 * so a person can see what each kernel found; --split writes NAME-0.EXT,
 * NAME-1.EXT, ... instead.  Colour results (1 or 3 planes, not maps) are
 * written as they are.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Separator width between tiled maps, in pixels. */
#define TILE_SEP 2

static int write_one(const cli_opts *o, const imf_image *img, const char *path, imf_format fmt)
{
	cli_output *out = NULL;
	imf_error err = { 0 };
	int to_stdout = strcmp(path, "-") == 0;

	/* A batch asked to stop leaves this file unwritten. */
	if (cli_stop_signal())
		return EXIT_BAD_INPUT;
	if (cli_output_open(path, &out) != 0)
		return EXIT_BAD_INPUT;
	if (imf_write(cli_output_file(out), img, fmt, &o->write, &err) != IMF_OK) {
		/* A reader that went away (EPIPE, when SIGPIPE is ignored) is a quiet failure. */
		if (!(errno == EPIPE && ferror(cli_output_file(out))))
			cli_error(to_stdout ? "<stdout>" : path, "%s", err.msg);
		cli_output_abort(out);
		return EXIT_BAD_INPUT;
	}
	if (cli_stop_signal()) {
		cli_output_abort(out);
		return EXIT_BAD_INPUT;
	}
	if (cli_output_commit(out) != 0)
		return EXIT_BAD_INPUT;
	if (o->verbose) {
		char line[2 * 4096 + 8];
		snprintf(line, sizeof line, "%s -> %s",
		         strcmp(o->input, "-") == 0 ? "<stdin>" : o->input,
		         to_stdout ? "<stdout>" : path);
		cli_message(line);
	}
	return EXIT_OK;
}

/* Maps go into a grid; colour images (1 or 3 planes) are written as they are. */
static int needs_tiling(const imf_image *img)
{
	int n = imf_image_data_planes(img);
	return imf_image_is_maps(img) ? n > 1 : (n != 1 && n != 3);
}

/* The largest finite value of the maps, so separators show as the brightest line. */
static float separator_value(const imf_image *img)
{
	float best = -INFINITY;
	for (int c = 0; c < imf_image_data_planes(img); c++)
		for (size_t y = 0; y < imf_image_height(img); y++) {
			const float *row = imf_image_row_const(img, c, y);
			for (size_t x = 0; x < imf_image_width(img); x++)
				if (isfinite(row[x]) && row[x] > best)
					best = row[x];
		}
	return isfinite(best) ? best : 0.0f;
}

/* NAME.EXT -> NAME-i.EXT (the extension is the last dot after the last slash). */
static char *split_name(const char *path, size_t i)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash + 1 : path, '.');
	size_t stem = dot && dot != (slash ? slash + 1 : path) ? (size_t)(dot - path) : strlen(path);
	size_t need = strlen(path) + 24;
	char *name = malloc(need);
	if (name)
		snprintf(name, need, "%.*s-%zu%s", (int)stem, path, i, path + stem);
	return name;
}

static int write_split(const cli_opts *o, const imf_image *res, imf_format fmt)
{
	imf_error err = { 0 };
	int n = imf_image_data_planes(res);

	for (int c = 0; c < n; c++) {
		imf_image *plane = NULL;
		char *name = split_name(o->output, (size_t)c);
		int rc;
		if (!name) {
			cli_error(o->output, "out of memory");
			return EXIT_BAD_INPUT;
		}
		if (imf_image_plane(res, c, &plane, &err) != IMF_OK) {
			cli_error(name, "%s", err.msg);
			free(name);
			return EXIT_BAD_INPUT;
		}
		rc = write_one(o, plane, name, fmt);
		imf_image_free(plane);
		free(name);
		if (rc != EXIT_OK)
			return rc;
	}
	return EXIT_OK;
}

int cli_emit(const cli_opts *o, const imf_image *res, imf_format fmt)
{
	imf_image *tiled = NULL;
	imf_error err = { 0 };
	size_t cols;
	int rc;

	if (o->split)
		return write_split(o, res, fmt);
	if (fmt == IMF_FORMAT_TEXT || !needs_tiling(res))
		return write_one(o, res, o->output, fmt);
	/* Up to 4 maps side by side; more in a near-square grid. */
	cols = o->tile_cols;
	if (!cols && !o->tile_rows && imf_image_data_planes(res) <= 4)
		cols = (size_t)imf_image_data_planes(res);
	if (imf_image_tile(res, cols, o->tile_rows, TILE_SEP, separator_value(res), &tiled, &err) !=
	    IMF_OK) {
		cli_error(NULL, "--tile: %s", err.msg);
		return err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
	}
	rc = write_one(o, tiled, o->output, fmt);
	imf_image_free(tiled);
	return rc;
}
