/*
 * explain.c - --explain: for each stage of a chain and each output value,
 * the computation written out the way a textbook does:
 *
 *   y_11 = 0*x_00 + -1*x_01 + ... = 0*0 + -1*0 + ... = 114
 *
 * first with names (x for the stage's input, y for its output; 1-based,
 * and a padded cell has an index outside 1..M), then with the numbers,
 * then the result.  The stage is run by the same code as imf_chain_run and
 * the values shown are the ones it read and wrote: padding comes from the
 * engine itself (padded_copy), so every border mode reads as it ran, and
 * every number is printed as the shortest decimal that reads back exactly.
 * Inputs are limited to EXPLAIN_MAX_SIDE per side: beyond that the text
 * would be too long for a person to follow.
 */
#include "chain_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --explain: inputs of at most this many pixels per side. */
#define EXPLAIN_MAX_SIDE 16

static imf_numstr fnum(double v) /* a float value */
{
	return imf_chain_num(v, 1);
}

static imf_numstr dnum(double v) /* a double: weight, bias, slope */
{
	return imf_chain_num(v, 0);
}

/* "1/16" when the scale is exactly 1/n, else the shortest decimal. */
static imf_numstr scale_str(double s)
{
	imf_numstr n;
	if (s != 0 && isfinite(s)) {
		double q = round(1.0 / s);
		if (fabs(q) >= 2 && fabs(q) <= 1e15 && 1.0 / q == s) {
			snprintf(n.s, sizeof n.s, "%s1/%.0f", q < 0 ? "-" : "", fabs(q));
			return n;
		}
	}
	return dnum(s);
}

/* How --explain names values: y_11, y2_11, x_00, x2_-1,3. */
typedef struct names {
	int xplanes, yplanes; /* non-alpha planes of the stage's input and output */
	int compact;          /* every index is one digit 0..9: "x_12", else "x_1,12" */
} names;

static void put_var(FILE *fp, const char *var, int planes, int plane, long r, long c, int compact)
{
	if (planes > 1)
		fprintf(fp, "%s%d_", var, plane + 1);
	else
		fprintf(fp, "%s_", var);
	fprintf(fp, compact ? "%ld%ld" : "%ld,%ld", r, c);
}

/* Geometry of one kernel on the stage's input, in padded coordinates. */
typedef struct kgeom {
	size_t fr, fc, top, left, dil, stride;
	size_t pad; /* padding of the padded copy on every side: >= top, bottom, left, right */
	int flip;
} kgeom;

static void kernel_geom(const imf_stage *s, const imf_kernel *k, kgeom *g)
{
	size_t er, ec, bottom, right;
	imf_kernel_dims(k, &g->fr, &g->fc);
	g->dil = s->p.dilation;
	g->stride = s->p.stride;
	g->flip = s->p.flip != 0;
	er = g->dil * (g->fr - 1) + 1; /* the run succeeded, so nothing overflows */
	ec = g->dil * (g->fc - 1) + 1;
	imf_conv_padding(&s->p, er, &g->top, &bottom);
	imf_conv_padding(&s->p, ec, &g->left, &right);
	g->pad = g->top;
	if (bottom > g->pad)
		g->pad = bottom;
	if (g->left > g->pad)
		g->pad = g->left;
	if (right > g->pad)
		g->pad = right;
}

/*
 * The input extended by pad cells on every side with the stage's border,
 * made by the engine itself (a 1x1 identity kernel with explicit padding),
 * so the values shown are exactly the ones the convolution read.
 */
static imf_status padded_copy(const imf_stage *s, const imf_image *in, size_t pad,
                              imf_image **out, imf_error *err)
{
	imf_kernel *one = NULL;
	imf_conv_params pp;
	imf_status st;

	imf_conv_params_default(&pp);
	pp.pad_mode = IMF_PAD_EXPLICIT;
	pp.pad = pad;
	pp.border = s->p.border;
	pp.limits = s->p.limits;
	if ((st = imf_kernel_from_text("1", "identity", &one, err)) != IMF_OK)
		return st;
	st = imf_conv_run(in, one, &pp, out, err);
	imf_kernel_free(one);
	return st;
}

/*
 * The taps of matrix m on plane (input plane) at output (oy, ox):
 * "w*x_ij + ..." (numeric: "w*v + ...").  Returns scale-less sum in double,
 * zero weights skipped as the engine skips them.
 */
static double put_taps(FILE *fp, const imf_matrix *m, const kgeom *g, const imf_image *pad,
                       int plane, size_t oy, size_t ox, const names *nm, int numeric, int first)
{
	double sum = 0;
	for (size_t i = 0; i < g->fr; i++) {
		for (size_t j = 0; j < g->fc; j++) {
			size_t wi = g->flip ? g->fr - 1 - i : i, wj = g->flip ? g->fc - 1 - j : j;
			double w = m->w[wi * g->fc + wj];
			size_t py = oy * g->stride + i * g->dil, px = ox * g->stride + j * g->dil;
			float v = imf_image_row_const(pad, plane, py + g->pad - g->top)[px + g->pad - g->left];

			if (!first)
				fputs(" + ", fp);
			first = 0;
			fprintf(fp, "%s*", dnum(w).s);
			if (numeric)
				fputs(fnum(v).s, fp);
			else
				put_var(fp, "x", nm->xplanes, plane, (long)py - (long)g->top + 1,
				        (long)px - (long)g->left + 1, nm->compact);
			if (w != 0)
				sum += w * v;
		}
	}
	return sum;
}

/*
 * The sum of a plain or multi-channel kernel, symbolic or numeric:
 * "s * (taps of slice 1 + taps of slice 2 ...)" when the slices share one
 * scale (omitted when 1), else "s1 * (slice 1) + s2 * (slice 2)".
 */
static void put_sum(FILE *fp, const imf_kernel *k, const kgeom *g, const imf_image *pad,
                    int plane, size_t oy, size_t ox, const names *nm, int numeric)
{
	int shared = 1;
	for (size_t q = 1; q < k->count; q++)
		shared &= k->m[q].scale == k->m[0].scale;
	if (shared) {
		int scaled = k->m[0].scale != 1.0;
		if (scaled)
			fprintf(fp, "%s * (", scale_str(k->m[0].scale).s);
		for (size_t q = 0; q < k->count; q++)
			put_taps(fp, &k->m[q], g, pad, k->count > 1 ? (int)q : plane, oy, ox, nm, numeric,
			         q == 0);
		if (scaled)
			fputc(')', fp);
		return;
	}
	for (size_t q = 0; q < k->count; q++) {
		fprintf(fp, "%s%s * (", q ? " + " : "", scale_str(k->m[q].scale).s);
		put_taps(fp, &k->m[q], g, pad, (int)q, oy, ox, nm, numeric, 1);
		fputc(')', fp);
	}
}

/* Name of part q of a magnitude kernel ("sobel-x"), as --explain writes it. */
static const char *part_name(const imf_kernel *k, size_t q)
{
	return k->part_names ? k->part_names[q] : "part";
}

/*
 * One output value of a conv stage: "y_ij = symbolic = numeric = value"; a
 * magnitude kernel first gives each part's line the same way, then
 * "y_ij = sqrt(a_ij^2 + b_ij^2) = sqrt(...) = value".
 */
static imf_status explain_conv_value(FILE *fp, const imf_stage *s, const imf_kernel *k,
                                     const kgeom *g, const imf_image *pad, int plane, int map,
                                     size_t oy, size_t ox, float y, const names *nm,
                                     imf_error *err)
{
	int bias = s->has_bias || s->p.bias != 0;
	long r = (long)oy + 1, c = (long)ox + 1;
	double *part = NULL;

	if (k->combine == IMF_COMBINE_MAGNITUDE) {
		if (!(part = calloc(k->count, sizeof *part)))
			return imf_error_set(err, IMF_ENOMEM, "out of memory");
		for (size_t q = 0; q < k->count; q++) {
			const imf_matrix *m = &k->m[q];
			int scaled = m->scale != 1.0;
			fputs("  ", fp);
			put_var(fp, part_name(k, q), 1, 0, r, c, nm->compact);
			for (int numeric = 0; numeric < 2; numeric++) {
				fputs(" = ", fp);
				if (scaled)
					fprintf(fp, "%s * (", scale_str(m->scale).s);
				part[q] = m->scale * put_taps(fp, m, g, pad, plane, oy, ox, nm, numeric, 1);
				if (scaled)
					fputc(')', fp);
			}
			fprintf(fp, " = %s\n", fnum(part[q]).s);
		}
	}
	fputs("  ", fp);
	put_var(fp, "y", nm->yplanes, map, r, c, nm->compact);
	for (int numeric = 0; numeric < 2; numeric++) {
		if (!part) {
			fputs(" = ", fp);
			put_sum(fp, k, g, pad, plane, oy, ox, nm, numeric);
		} else {
			fputs(" = sqrt(", fp);
			for (size_t q = 0; q < k->count; q++) {
				fputs(q ? " + " : "", fp);
				if (numeric) {
					fprintf(fp, part[q] < 0 ? "(%s)^2" : "%s^2", fnum(part[q]).s);
				} else {
					put_var(fp, part_name(k, q), 1, 0, r, c, nm->compact);
					fputs("^2", fp);
				}
			}
			fputc(')', fp);
		}
		if (bias)
			fprintf(fp, " + %s", dnum(s->p.bias).s);
	}
	fprintf(fp, " = %s\n", fnum(y).s);
	free(part);
	return IMF_OK;
}

static imf_status explain_conv(FILE *fp, const imf_stage *s, const imf_image *in,
                               const imf_image *out, imf_error *err)
{
	names nm = {imf_chain_planes(in), imf_chain_planes(out), 1};
	int map = 0;
	size_t maxpad = 0;
	imf_status st = IMF_OK;

	/* One digit per index unless some index (padding included) leaves 0..9. */
	for (size_t i = 0; i < s->nkernels; i++) {
		kgeom g;
		kernel_geom(s, s->kernels[i], &g);
		maxpad = g.pad > maxpad ? g.pad : maxpad;
	}
	nm.compact = maxpad <= 1 && in->height + maxpad <= 9 && in->width + maxpad <= 9 &&
	             out->height <= 9 && out->width <= 9;

	if (maxpad > 0)
		fprintf(fp, "  x_ij with i outside 1..%zu or j outside 1..%zu is padding, from the %s "
		            "border; ", in->height, in->width, imf_border_name(s->p.border));
	else
		fputs("  ", fp);
	fprintf(fp, "stride %zu", s->p.stride);
	if (s->p.dilation != 1)
		fprintf(fp, ", dilation %zu (taps %zu apart)", s->p.dilation, s->p.dilation);
	if (s->p.flip)
		fputs(", kernel flipped (true convolution)", fp);
	fputc('\n', fp);

	for (size_t i = 0; i < s->nkernels && st == IMF_OK; i++) {
		const imf_kernel *k = s->kernels[i];
		imf_image *pad = NULL;
		const imf_image *src = in;
		int multi = imf_kernel_depth(k) > 1;
		kgeom g;

		kernel_geom(s, k, &g);
		if (g.pad > 0) {
			if ((st = padded_copy(s, in, g.pad, &pad, err)) != IMF_OK)
				break;
			src = pad;
		}
		for (int c = 0; c < (multi ? 1 : nm.xplanes); c++, map++) {
			if (nm.yplanes > 1) {
				fprintf(fp, "  map %d: kernel %zu (%s)", map + 1, i + 1, imf_kernel_name(k));
				if (multi)
					fprintf(fp, ", its %zu slices over the %d input planes\n",
					        imf_kernel_depth(k), nm.xplanes);
				else if (nm.xplanes > 1)
					fprintf(fp, " on input plane %d\n", c + 1);
				else
					fputc('\n', fp);
			}
			for (size_t oy = 0; oy < out->height && st == IMF_OK; oy++)
				for (size_t ox = 0; ox < out->width && st == IMF_OK; ox++)
					st = explain_conv_value(fp, s, k, &g, src, c, map, oy, ox,
					                        imf_image_row_const(out, map, oy)[ox], &nm, err);
		}
		imf_image_free(pad);
	}
	if (st == IMF_OK && out->has_alpha)
		fputs("  alpha: carried, each output takes the alpha under the kernel's anchor\n", fp);
	return st;
}

static const char *const pool_fn[] = {"max", "min", "avg"}; /* by imf_pool_kind */

/*
 * One output value of a pool over the real cells of its window:
 * "y_ij = max(x_.., ...) = max(1, 2, ...) = v", an average's numbers as
 * "(1 + 2 + ...) / n" (padded cells are neither shown nor counted).
 */
static void explain_pool_value(FILE *fp, const imf_stage *s, const imf_image *in, int c,
                               size_t oy, size_t ox, float v, const names *nm)
{
	/* the real cells of the window: rows ylo..yhi-1, columns xlo..xhi-1 */
	size_t y0 = oy * s->stride, x0 = ox * s->stride;
	size_t ylo = y0 < s->pad ? 0 : y0 - s->pad, xlo = x0 < s->pad ? 0 : x0 - s->pad;
	size_t yhi = y0 + s->k - s->pad, xhi = x0 + s->k - s->pad;

	if (yhi > in->height)
		yhi = in->height;
	if (xhi > in->width)
		xhi = in->width;
	fputs("  ", fp);
	put_var(fp, "y", nm->yplanes, c, (long)oy + 1, (long)ox + 1, nm->compact);
	for (int numeric = 0; numeric < 2; numeric++) {
		int sum = numeric && s->pool == IMF_POOL_AVG;
		fprintf(fp, " = %s(", sum ? "" : pool_fn[s->pool]);
		for (size_t y = ylo; y < yhi; y++)
			for (size_t x = xlo; x < xhi; x++) {
				if (y != ylo || x != xlo)
					fputs(sum ? " + " : ", ", fp);
				if (numeric)
					fputs(fnum(imf_image_row_const(in, c, y)[x]).s, fp);
				else
					put_var(fp, "x", nm->xplanes, c, (long)y + 1, (long)x + 1, nm->compact);
			}
		if (sum)
			fprintf(fp, ") / %zu", (yhi - ylo) * (xhi - xlo));
		else
			fputc(')', fp);
	}
	fprintf(fp, " = %s\n", fnum(v).s);
}

static void explain_pool(FILE *fp, const imf_stage *s, const imf_image *in, const imf_image *out)
{
	names nm = {imf_chain_planes(in), imf_chain_planes(out), 1};

	nm.compact = in->height <= 9 && in->width <= 9 && out->height <= 9 && out->width <= 9;
	fprintf(fp, "  window %zux%zu, stride %zu, padding %zu%s\n", s->k, s->k, s->stride, s->pad,
	        s->pad ? " (padded cells are left out)" : "");
	for (int c = 0; c < nm.yplanes; c++)
		for (size_t oy = 0; oy < out->height; oy++)
			for (size_t ox = 0; ox < out->width; ox++)
				explain_pool_value(fp, s, in, c, oy, ox, imf_image_row_const(out, c, oy)[ox],
				                   &nm);
	if (out->has_alpha)
		fprintf(fp, "  alpha: pooled with %s like the other planes\n", pool_fn[s->pool]);
}

static void explain_act(FILE *fp, const imf_stage *s, const imf_image *in, const imf_image *out)
{
	static const char *const name[] = {"relu", "leaky-relu", "sigmoid", "tanh", "abs"};
	names nm = {imf_chain_planes(in), imf_chain_planes(out), 1};

	nm.compact = out->height <= 9 && out->width <= 9;
	switch (s->act) {
	case IMF_ACT_RELU:
		fputs("  relu(v) = max(0, v)\n", fp);
		break;
	case IMF_ACT_LEAKY_RELU:
		fprintf(fp, "  leaky-relu(v) = v if v >= 0, else %s*v\n", dnum(s->slope).s);
		break;
	case IMF_ACT_SIGMOID:
		fputs("  sigmoid(v) = 1 / (1 + exp(-v))\n", fp);
		break;
	case IMF_ACT_TANH:
		fputs("  tanh(v) = (exp(v) - exp(-v)) / (exp(v) + exp(-v))\n", fp);
		break;
	case IMF_ACT_ABS:
		fputs("  abs(v) = |v|\n", fp);
		break;
	}
	for (int c = 0; c < nm.yplanes; c++) {
		for (size_t y = 0; y < out->height; y++) {
			for (size_t x = 0; x < out->width; x++) {
				float v = imf_image_row_const(in, c, y)[x];
				fputs("  ", fp);
				put_var(fp, "y", nm.yplanes, c, (long)y + 1, (long)x + 1, nm.compact);
				fprintf(fp, " = %s(%s)", name[s->act], fnum(v).s);
				if (s->act == IMF_ACT_LEAKY_RELU && v < 0)
					fprintf(fp, " = %s*%s", dnum(s->slope).s, fnum(v).s);
				fprintf(fp, " = %s\n", fnum(imf_image_row_const(out, c, y)[x]).s);
			}
		}
	}
	if (out->has_alpha)
		fputs("  alpha: unchanged\n", fp);
}

/*
 * normalize's stretch, from the finite min and max of all non-alpha planes:
 * imf_stats_compute scans exactly the values imf_normalize does.
 */
static imf_status explain_normalize(FILE *fp, const imf_image *in, imf_error *err)
{
	imf_stats st;
	imf_status rc = imf_stats_compute(in, IMF_MAP_CLAMP, &st, err);

	if (rc != IMF_OK)
		return rc;
	if (st.count == st.nonfinite)
		fputs("  no finite values (no range to stretch)\n", fp);
	else if (st.max > st.min)
		fprintf(fp, "  y = (x - min) * 255 / (max - min) = (x - %s) * 255 / %s for every value, "
		            "with min = %s and max = %s over all maps\n",
		        fnum(st.min).s, dnum(st.max - st.min).s, fnum(st.min).s, fnum(st.max).s);
	else
		fprintf(fp, "  every finite value is %s (no range to stretch): y = 0\n", fnum(st.min).s);
	return IMF_OK;
}

/* "5x5", or "5x5x3" for several planes (alpha not counted). */
static void dims(const imf_image *img, char *buf, size_t len)
{
	if (imf_chain_planes(img) == 1)
		snprintf(buf, len, "%zux%zu", img->width, img->height);
	else
		snprintf(buf, len, "%zux%zux%d", img->width, img->height, imf_chain_planes(img));
}

imf_status imf_chain_explain(const imf_chain *c, const imf_image *in, FILE *fp,
                             imf_error *err)
{
	const imf_image *cur = in;
	imf_image *owned = NULL;
	imf_status st = IMF_OK;

	if (!c || !in || !fp)
		return imf_error_set(err, IMF_EINVAL, "chain: missing chain, image or stream");
	if ((st = imf_chain_check_runnable(c, err)) != IMF_OK)
		return st;
	if (in->width > EXPLAIN_MAX_SIDE || in->height > EXPLAIN_MAX_SIDE)
		return imf_error_set(err, IMF_EINVAL, "--explain needs an input of at most %dx%d, not "
		                     "%zux%zu", EXPLAIN_MAX_SIDE, EXPLAIN_MAX_SIDE, in->width,
		                     in->height);

	for (size_t i = 0; i < c->n; i++) {
		const imf_stage *s = &c->stages[i];
		imf_error sub = {0};
		imf_image *next = NULL;
		char from[48], to[48];

		if ((st = imf_chain_run_stage(s, cur, &next, &sub)) != IMF_OK) {
			/* A -k chain has no stage to name, as in imf_chain_run. */
			st = c->single ? imf_error_set(err, st, "%s", sub.msg)
			               : imf_chain_stage_error(err, i + 1, s->text, st, "%s", sub.msg);
			break;
		}
		dims(cur, from, sizeof from);
		dims(next, to, sizeof to);
		fprintf(fp, "%sstage %zu: %s (%s -> %s)\n", i ? "\n" : "", i + 1, s->text, from, to);
		switch (s->kind) {
		case IMF_STAGE_CONV:
			st = explain_conv(fp, s, cur, next, &sub);
			break;
		case IMF_STAGE_ACT:
			explain_act(fp, s, cur, next);
			break;
		case IMF_STAGE_POOL:
			explain_pool(fp, s, cur, next);
			break;
		case IMF_STAGE_NORMALIZE:
			st = explain_normalize(fp, cur, &sub);
			break;
		}
		if (st != IMF_OK)
			st = imf_chain_stage_error(err, i + 1, s->text, st, "%s", sub.msg);
		imf_image_free(owned);
		owned = next;
		cur = next;
		if (st != IMF_OK)
			break;
	}
	imf_image_free(owned);
	if (st == IMF_OK && ferror(fp))
		st = imf_error_set(err, IMF_EIO, "cannot write the explanation");
	return st;
}

