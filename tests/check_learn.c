/*
 * check_learn.c - learning a kernel from an example (src/learn.c).
 *
 * Expected values come from the test, never from learn.c: a naive forward
 * pass written here (every sample fetched through its own np.pad-style
 * border rule, in double), the loss and its gradient summed the plain way
 * over every position, and central finite differences of that loss (exact
 * for a quadratic up to rounding), for every border, padding, stride,
 * dilation, flip and plane layout.  The solvers must then recover kernels
 * the test made its targets with: to 1e-3 from raw (float) targets and 2e-2
 * from 8-bit ones for the exact solver, 1e-2 for gd in its default epochs,
 * with saturated values counted by the test.
 */
#include "testutil.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a naive reference ------------------------------------------------------------ */

/* The input index that supplies padded index i of an axis of n samples (np.pad), or -1 for 0. */
static long ref_index(imf_border b, long i, long n)
{
	long p;
	if (i >= 0 && i < n)
		return i;
	switch (b) {
	case IMF_BORDER_ZERO: return -1;
	case IMF_BORDER_REPLICATE: return i < 0 ? 0 : n - 1;
	case IMF_BORDER_REFLECT: /* d c b | a b c d | c b a */
		if (n == 1)
			return 0;
		while (i < 0 || i >= n)
			i = i < 0 ? -i : 2 * (n - 1) - i;
		return i;
	case IMF_BORDER_SYMMETRIC: /* c b a | a b c d | d c b */
		while (i < 0 || i >= n)
			i = i < 0 ? -i - 1 : 2 * n - 1 - i;
		return i;
	case IMF_BORDER_WRAP:
		p = i % n;
		return p < 0 ? p + n : p;
	}
	return -1;
}

typedef struct geom {
	size_t fr, fc, depth; /* kernel rows, columns, slices */
	imf_conv_params cp;
	size_t top, left, oh, ow, er, ec;
} geom;

/* Padding and output size as the README states them, worked out here. */
static void geom_init(geom *g, const imf_image *in)
{
	size_t bottom = 0, right = 0;
	g->er = g->cp.dilation * (g->fr - 1) + 1;
	g->ec = g->cp.dilation * (g->fc - 1) + 1;
	switch (g->cp.pad_mode) {
	case IMF_PAD_SAME:
		g->top = (g->er - 1) / 2;
		bottom = g->er - 1 - g->top;
		g->left = (g->ec - 1) / 2;
		right = g->ec - 1 - g->left;
		break;
	case IMF_PAD_VALID: g->top = g->left = 0; break;
	case IMF_PAD_FULL:
		g->top = bottom = g->er - 1;
		g->left = right = g->ec - 1;
		break;
	case IMF_PAD_EXPLICIT: g->top = bottom = g->left = right = g->cp.pad; break;
	}
	g->oh = (in->height + g->top + bottom - g->er) / g->cp.stride + 1;
	g->ow = (in->width + g->left + right - g->ec) / g->cp.stride + 1;
}

/* The input value under weight (q, a, b) at output (o, oy, ox). */
static double ref_x(const imf_image *in, const geom *g, int o, size_t q, size_t a, size_t b,
                    size_t oy, size_t ox)
{
	size_t i = g->cp.flip ? g->fr - 1 - a : a, j = g->cp.flip ? g->fc - 1 - b : b;
	long y = (long)(oy * g->cp.stride + i * g->cp.dilation) - (long)g->top;
	long x = (long)(ox * g->cp.stride + j * g->cp.dilation) - (long)g->left;
	int plane = g->depth > 1 ? (int)q : o;
	y = ref_index(g->cp.border, y, (long)in->height);
	x = ref_index(g->cp.border, x, (long)in->width);
	if (y < 0 || x < 0)
		return 0;
	return imf_image_row_const(in, plane, (size_t)y)[x];
}

/* y at output (o, oy, ox) for weights w (depth x fr x fc, as written) and bias b. */
static double ref_y(const imf_image *in, const geom *g, const double *w, double b, int o,
                    size_t oy, size_t ox)
{
	double y = b;
	for (size_t q = 0; q < g->depth; q++)
		for (size_t a = 0; a < g->fr; a++)
			for (size_t c = 0; c < g->fc; c++)
				y += w[(q * g->fr + a) * g->fc + c] * ref_x(in, g, o, q, a, c, oy, ox);
	return y;
}

/* Is target value (o, y, x) used: not masked as saturated. */
static int ref_used(const imf_image *t, int mask, int o, size_t y, size_t x)
{
	float v = imf_image_row_const(t, o, y)[x];
	int integer = imf_image_source_depth(t) == 8 || imf_image_source_depth(t) == 16;
	return !(mask && integer && (v <= 0 || v >= 255));
}

/* L = 1/N sum (y - t)^2 over the used values; the gradient by the sum over positions. */
static double ref_loss(const imf_image *in, const imf_image *t, const geom *g, int mask,
                       const double *w, double b, double *grad, double *gb, size_t *used)
{
	int nout = imf_image_data_planes(t);
	size_t n = 0, nw = g->depth * g->fr * g->fc;
	double sum = 0;

	for (int o = 0; o < nout; o++)
		for (size_t oy = 0; oy < g->oh; oy++)
			for (size_t ox = 0; ox < g->ow; ox++)
				n += (size_t)ref_used(t, mask, o, oy, ox);
	if (grad)
		memset(grad, 0, nw * sizeof *grad);
	if (gb)
		*gb = 0;
	for (int o = 0; o < nout; o++)
		for (size_t oy = 0; oy < g->oh; oy++)
			for (size_t ox = 0; ox < g->ow; ox++) {
				double d;
				if (!ref_used(t, mask, o, oy, ox))
					continue;
				d = ref_y(in, g, w, b, o, oy, ox) - imf_image_row_const(t, o, oy)[ox];
				sum += d * d;
				for (size_t k = 0; grad && k < nw; k++) {
					size_t q = k / (g->fr * g->fc), a = k / g->fc % g->fr, c = k % g->fc;
					grad[k] += 2.0 / (double)n * d * ref_x(in, g, o, q, a, c, oy, ox);
				}
				if (gb)
					*gb += 2.0 / (double)n * d;
			}
	if (used)
		*used = n;
	return sum / (double)n;
}

/* ---- helpers ------------------------------------------------------------------------ */

static imf_image *new_image(size_t w, size_t h, int planes, imf_format fmt, int depth)
{
	imf_image *img = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_image_new(w, h, planes, 0, NULL, &img, &err) == IMF_OK, "%s", err.msg);
	imf_image_set_source(img, fmt, depth);
	return img;
}

/* Uniform noise 0..255, box-smoothed `smooth` times (more correlated neighbours). */
static imf_image *random_image(size_t w, size_t h, int planes, int smooth,
                               unsigned long long *seed)
{
	imf_image *img = new_image(w, h, planes, IMF_FORMAT_PNG, 8);
	for (int c = 0; c < planes; c++)
		for (size_t y = 0; y < h; y++)
			for (size_t x = 0; x < w; x++)
				imf_image_row(img, c, y)[x] = (float)floor(256 * tu_rand(seed));
	for (int s = 0; s < smooth; s++)
		for (int c = 0; c < planes; c++)
			for (size_t y = 0; y < h; y++)
				for (size_t x = 0; x + 1 < w; x++) {
					float *r = imf_image_row(img, c, y);
					r[x] = (r[x] + r[x + 1]) / 2;
				}
	return img;
}

/* The target of w, b on in, as a raw (PFM) image of nout planes: the test's own forward pass. */
static imf_image *make_target(const imf_image *in, const geom *g, const double *w, double b,
                              int nout)
{
	imf_image *t = new_image(g->ow, g->oh, nout, IMF_FORMAT_PFM, 32);
	for (int o = 0; o < nout; o++)
		for (size_t y = 0; y < g->oh; y++)
			for (size_t x = 0; x < g->ow; x++)
				imf_image_row(t, o, y)[x] = (float)ref_y(in, g, w, b, o, y, x);
	return t;
}

/* Round and clamp to 0..255 as an 8-bit file would; returns how many values were 0 or 255. */
static size_t to_8bit(imf_image *t)
{
	size_t sat = 0;
	for (int o = 0; o < imf_image_data_planes(t); o++)
		for (size_t y = 0; y < t->height; y++)
			for (size_t x = 0; x < t->width; x++) {
				float *v = &imf_image_row(t, o, y)[x];
				*v = *v < 0 ? 0 : *v > 255 ? 255 : roundf(*v);
				sat += *v == 0 || *v == 255;
			}
	imf_image_set_source(t, IMF_FORMAT_PNG, 8);
	return sat;
}

/* A plain kernel of depth slices holding w (as written). */
static imf_kernel *kernel_of(const double *w, size_t rows, size_t cols, size_t depth)
{
	char text[8192];
	size_t n = 0;
	imf_kernel *k = NULL;
	imf_error err = { 0 };
	for (size_t q = 0; q < depth; q++) {
		if (q)
			n += (size_t)snprintf(text + n, sizeof text - n, "\n");
		for (size_t a = 0; a < rows; a++) {
			for (size_t c = 0; c < cols; c++)
				n += (size_t)snprintf(text + n, sizeof text - n, "%.17g ",
				                      w[(q * rows + a) * cols + c]);
			n += (size_t)snprintf(text + n, sizeof text - n, "\n");
		}
	}
	ck_assert(n < sizeof text);
	ck_assert_msg(imf_kernel_from_text(text, "test", &k, &err) == IMF_OK, "%s", err.msg);
	return k;
}

/* Largest |learned - want| over the weights of a result kernel. */
static double max_weight_error(const imf_kernel *k, const double *want, size_t n)
{
	size_t per = k->m[0].rows * k->m[0].cols;
	double e = 0;
	ck_assert_uint_eq(k->count * per, n);
	for (size_t i = 0; i < n; i++) {
		double d = fabs(k->m[i / per].scale * k->m[i / per].w[i % per] - want[i]);
		e = d > e ? d : e;
	}
	return e;
}

static void params_for(imf_learn_params *p, const geom *g)
{
	imf_learn_params_default(p);
	p->rows = g->fr;
	p->cols = g->fc;
	p->conv = g->cp;
}

/* ---- the gradient ---------------------------------------------------------------- */

/*
 * For every border, padding, stride, dilation, flip and plane layout, on
 * random images: learn.c's loss equals the naive one, and its gradient
 * equals both the naive sum over positions and central finite differences
 * of the naive loss.
 */
START_TEST(gradient_matches_finite_differences)
{
	static const struct {
		size_t fr, fc;
		imf_pad_mode pad;
		size_t padn, stride, dil;
		int flip;
		int in_planes, out_planes; /* 2, 2: depthwise; 3, 1: a 3-slice kernel */
	} cases[] = {
		{ 3, 3, IMF_PAD_SAME, 0, 1, 1, 0, 1, 1 },
		{ 3, 3, IMF_PAD_VALID, 0, 1, 1, 0, 1, 1 },
		{ 3, 3, IMF_PAD_FULL, 0, 2, 1, 0, 1, 1 },
		{ 2, 4, IMF_PAD_SAME, 0, 1, 1, 1, 1, 1 },
		{ 1, 1, IMF_PAD_EXPLICIT, 2, 1, 1, 0, 1, 1 },
		{ 3, 2, IMF_PAD_EXPLICIT, 3, 2, 2, 1, 1, 1 },
		{ 5, 5, IMF_PAD_SAME, 0, 3, 1, 0, 1, 1 },
		{ 3, 3, IMF_PAD_SAME, 0, 1, 2, 0, 2, 2 },
		{ 2, 3, IMF_PAD_SAME, 0, 2, 1, 1, 3, 1 },
	};
	static const imf_border borders[] = { IMF_BORDER_ZERO, IMF_BORDER_REPLICATE,
		                                  IMF_BORDER_REFLECT, IMF_BORDER_SYMMETRIC,
		                                  IMF_BORDER_WRAP };
	unsigned long long seed = 42;

	for (size_t ci = 0; ci < COUNT(cases); ci++) {
		for (size_t bi = 0; bi < COUNT(borders); bi++) {
			for (int masked = 0; masked < 2; masked++) {
				geom g = { 0 };
				imf_learn_params p;
				imf_image *in = random_image(9, 7, cases[ci].in_planes, 0, &seed), *t;
				double w[75], wt[75], grad[75], ref_grad[75], gb, ref_gb, loss, rl, b;
				size_t nw, used;
				imf_kernel *k;
				imf_error err = { 0 };

				imf_conv_params_default(&g.cp);
				g.fr = cases[ci].fr;
				g.fc = cases[ci].fc;
				g.depth = (size_t)(cases[ci].in_planes / cases[ci].out_planes);
				g.cp.pad_mode = cases[ci].pad;
				g.cp.pad = cases[ci].padn;
				g.cp.stride = cases[ci].stride;
				g.cp.dilation = cases[ci].dil;
				g.cp.flip = cases[ci].flip;
				g.cp.border = borders[bi];
				geom_init(&g, in);
				nw = g.depth * g.fr * g.fc;
				/* the target: some kernel (mostly within 0..255), plus noise so the loss is not 0 */
				for (size_t i = 0; i < nw; i++)
					wt[i] = 0.6 * tu_rand(&seed) - 0.3;
				t = make_target(in, &g, wt, 100, cases[ci].out_planes);
				for (size_t y = 0; y < t->height; y++)
					imf_image_row(t, 0, y)[0] += 17; /* not what any kernel gives */
				if (masked)
					to_8bit(t);
				/* the point: another kernel and bias */
				for (size_t i = 0; i < nw; i++)
					w[i] = 2 * tu_rand(&seed) - 1;
				b = 5 * tu_rand(&seed);
				k = kernel_of(w, g.fr, g.fc, g.depth);
				params_for(&p, &g);
				ck_assert_msg(imf_learn_gradient(in, t, &p, k, b, &loss, grad, &gb, &err) ==
				                      IMF_OK,
				              "case %zu border %zu masked %d: %s", ci, bi, masked, err.msg);
				rl = ref_loss(in, t, &g, 1, w, b, ref_grad, &ref_gb, &used);
				ck_assert_msg(used > 0, "case %zu: every value masked", ci);
				ck_assert_msg(fabs(loss - rl) <= 1e-11 * rl, "case %zu border %zu: loss %.17g, "
				              "naive %.17g", ci, bi, loss, rl);
				for (size_t i = 0; i <= nw; i++) {
					double got = i < nw ? grad[i] : gb, naive = i < nw ? ref_grad[i] : ref_gb;
					/* central difference of the naive loss, step h */
					double h = 1e-3, wp[75], lp, lm;
					memcpy(wp, w, sizeof wp);
					if (i < nw) {
						wp[i] = w[i] + h;
						lp = ref_loss(in, t, &g, 1, wp, b, NULL, NULL, NULL);
						wp[i] = w[i] - h;
						lm = ref_loss(in, t, &g, 1, wp, b, NULL, NULL, NULL);
					} else {
						lp = ref_loss(in, t, &g, 1, w, b + h, NULL, NULL, NULL);
						lm = ref_loss(in, t, &g, 1, w, b - h, NULL, NULL, NULL);
					}
					double fd = (lp - lm) / (2 * h);
					ck_assert_msg(fabs(got - naive) <= 1e-9 * (fabs(naive) + 1),
					              "case %zu border %zu weight %zu: gradient %.17g, naive %.17g",
					              ci, bi, i, got, naive);
					/* rounding of lp - lm: about 1e-16 * L / h */
					ck_assert_msg(fabs(got - fd) <= 1e-6 * (fabs(fd) + rl),
					              "case %zu border %zu weight %zu: gradient %.17g, finite "
					              "difference %.17g",
					              ci, bi, i, got, fd);
				}
				imf_kernel_free(k);
				imf_image_free(t);
				imf_image_free(in);
			}
		}
	}
}
END_TEST

/* A worked example: 3 values, 1x1 kernel, every number by hand. */
START_TEST(gradient_worked_example)
{
	/* x = 1 2 3, t = 3 5 7, w = 1, b = 0: y = 1 2 3, y - t = -2 -3 -4, L = (4+9+16)/3 = 29/3;
	 * dL/dw = 2/3 (-2*1 - 3*2 - 4*3) = -40/3, dL/db = 2/3 (-2 - 3 - 4) = -6. */
	imf_image *in = new_image(3, 1, 1, IMF_FORMAT_TEXT, 32);
	imf_image *t = new_image(3, 1, 1, IMF_FORMAT_TEXT, 32);
	imf_learn_params p;
	imf_kernel *k = kernel_of((const double[]){ 1 }, 1, 1, 1);
	double loss, g, gb;
	imf_error err = { 0 };

	for (int i = 0; i < 3; i++) {
		imf_image_row(in, 0, 0)[i] = (float)(i + 1);
		imf_image_row(t, 0, 0)[i] = (float)(2 * i + 3);
	}
	imf_learn_params_default(&p);
	p.rows = p.cols = 1;
	ck_assert_int_eq(imf_learn_gradient(in, t, &p, k, 0, &loss, &g, &gb, &err), IMF_OK);
	ck_assert_double_eq_tol(loss, 29.0 / 3, 1e-12);
	ck_assert_double_eq_tol(g, -40.0 / 3, 1e-12);
	ck_assert_double_eq_tol(gb, -6, 1e-12);
	imf_kernel_free(k);
	imf_image_free(in);
	imf_image_free(t);
}
END_TEST

/* ---- the solvers --------------------------------------------------------------- */

/* Kernels the targets are made with: built-ins and odd shapes with a bias. */
static const struct known {
	const char *name; /* a built-in, or NULL for w below */
	size_t fr, fc;
	double w[25];
	double bias;
} knowns[] = {
	{ "sobel-x", 0, 0, { 0 }, 0 },
	{ "laplacian", 0, 0, { 0 }, 0 },
	{ "sharpen", 0, 0, { 0 }, 0 },
	{ "gaussian-5", 0, 0, { 0 }, 0 },
	{ NULL, 2, 3, { 0.5, -0.25, 1, 0.125, 0, -1.5 }, 12.5 },
	{ NULL, 1, 4, { 0.25, 0.25, 0.25, 0.25 }, -7 },
};

/* The weights of known kernel i (scale folded in) into w; returns rows * cols. */
static size_t known_weights(size_t i, double *w, size_t *fr, size_t *fc)
{
	if (!knowns[i].name) {
		*fr = knowns[i].fr;
		*fc = knowns[i].fc;
		memcpy(w, knowns[i].w, *fr * *fc * sizeof *w);
		return *fr * *fc;
	}
	imf_kernel *k = NULL;
	imf_error err = { 0 };
	ck_assert_msg(imf_kernel_builtin(knowns[i].name, &k, &err) == IMF_OK, "%s", err.msg);
	*fr = k->m[0].rows;
	*fc = k->m[0].cols;
	for (size_t j = 0; j < *fr * *fc; j++)
		w[j] = k->m[0].scale * k->m[0].w[j];
	imf_kernel_free(k);
	return *fr * *fc;
}

/*
 * The exact solver on random images (noise, and smoothed noise) with every
 * border: raw targets give every weight within 1e-3, 8-bit targets within
 * 2e-2, and the saturated values the test counted are the ones left out.
 * The loss of a raw fit is at most that of the true kernel, whose only error
 * is the float rounding of the target.
 */
START_TEST(exact_recovers_known_kernels)
{
	static const imf_border borders[] = { IMF_BORDER_ZERO, IMF_BORDER_REPLICATE,
		                                  IMF_BORDER_REFLECT, IMF_BORDER_SYMMETRIC,
		                                  IMF_BORDER_WRAP };
	unsigned long long seed = 7;

	for (size_t ki = 0; ki < COUNT(knowns); ki++) {
		for (size_t bi = 0; bi < COUNT(borders); bi++) {
			for (int smooth = 0; smooth < 3; smooth += 2) {
				for (int eight = 0; eight < 2; eight++) {
					geom g = { 0 };
					imf_learn_params p;
					imf_learn_result res;
					imf_error err = { 0 };
					double w[25], true_loss;
					size_t n = known_weights(ki, w, &g.fr, &g.fc), sat = 0;
					imf_image *in = random_image(48, 40, 1, smooth, &seed), *t;

					imf_conv_params_default(&g.cp);
					g.depth = 1;
					g.cp.border = borders[bi];
					g.cp.stride = ki % 2 + 1; /* some cases at stride 2 */
					geom_init(&g, in);
					t = make_target(in, &g, w, knowns[ki].bias, 1);
					if (eight)
						sat = to_8bit(t);
					true_loss = ref_loss(in, t, &g, 1, w, knowns[ki].bias, NULL, NULL, NULL);
					params_for(&p, &g);
					p.solver = IMF_LEARN_EXACT;
					ck_assert_msg(imf_learn_run(in, t, &p, &res, &err) == IMF_OK, "%s",
					              err.msg);
					double e = max_weight_error(res.kernel, w, n);
					ck_assert_msg(e <= (eight ? 2e-2 : 1e-3),
					              "kernel %zu border %zu smooth %d 8-bit %d: error %g", ki, bi,
					              smooth, eight, e);
					ck_assert_msg(fabs(res.bias - knowns[ki].bias) <= (eight ? 1.0 : 1e-2),
					              "kernel %zu: bias %g, want %g", ki, res.bias,
					              knowns[ki].bias);
					ck_assert_uint_eq(res.masked, sat);
					ck_assert_uint_eq(res.used + res.masked, g.oh * g.ow);
					/* noise determines every weight well */
					ck_assert_msg(res.condition > 1 && res.condition < 1e5, "condition %g",
					              res.condition);
					/* least squares: no worse than the true kernel (up to rounding) */
					ck_assert_msg(res.loss <= true_loss * (1 + 1e-6) + 1e-9,
					              "kernel %zu: loss %g above the true kernel's %g", ki,
					              res.loss, true_loss);
					imf_kernel_free(res.kernel);
					imf_image_free(t);
					imf_image_free(in);
				}
			}
		}
	}
}
END_TEST

/* gd with its defaults (lr, momentum, 3000 epochs) gets within 1e-2 on raw targets. */
START_TEST(gd_recovers_known_kernels)
{
	unsigned long long seed = 99;

	for (size_t ki = 0; ki < COUNT(knowns); ki++) {
		for (int smooth = 0; smooth < 3; smooth += 2) {
			geom g = { 0 };
			imf_learn_params p;
			imf_learn_result res;
			imf_error err = { 0 };
			double w[25];
			size_t n = known_weights(ki, w, &g.fr, &g.fc);
			imf_image *in = random_image(64, 48, 1, smooth, &seed), *t;

			imf_conv_params_default(&g.cp);
			g.depth = 1;
			g.cp.border = ki % 2 ? IMF_BORDER_REPLICATE : IMF_BORDER_ZERO;
			geom_init(&g, in);
			t = make_target(in, &g, w, knowns[ki].bias, 1);
			params_for(&p, &g);
			ck_assert(p.solver == IMF_LEARN_GD && p.epochs == 3000);
			ck_assert_msg(imf_learn_run(in, t, &p, &res, &err) == IMF_OK, "%s", err.msg);
			double e = max_weight_error(res.kernel, w, n);
			ck_assert_msg(e <= 1e-2, "kernel %zu smooth %d: error %g after %zu epochs", ki,
			              smooth, e, res.epochs);
			ck_assert_msg(res.loss < res.start_loss * 1e-6, "kernel %zu: loss %g from %g", ki,
			              res.loss, res.start_loss);
			ck_assert_msg(res.condition > 1 && res.condition < 1e5, "condition %g",
			              res.condition);
			imf_kernel_free(res.kernel);
			imf_image_free(t);
			imf_image_free(in);
		}
	}
}
END_TEST

/* One kernel shared by two planes, and a 3-slice kernel summing three planes into one. */
START_TEST(planes_depthwise_and_slices)
{
	unsigned long long seed = 5;
	for (int layout = 0; layout < 2; layout++) {
		geom g = { 0 };
		imf_learn_params p;
		imf_learn_result res;
		imf_error err = { 0 };
		int nin = layout ? 3 : 2, nout = layout ? 1 : 2;
		double w[27];
		imf_image *in = random_image(20, 16, nin, 1, &seed), *t;

		imf_conv_params_default(&g.cp);
		g.fr = g.fc = 3;
		g.depth = (size_t)(nin / nout);
		geom_init(&g, in);
		for (size_t i = 0; i < g.depth * 9; i++)
			w[i] = floor(8 * tu_rand(&seed)) - 4;
		t = make_target(in, &g, w, 2, nout);
		for (int solver = 0; solver < 2; solver++) {
			params_for(&p, &g);
			p.solver = solver ? IMF_LEARN_EXACT : IMF_LEARN_GD;
			ck_assert_msg(imf_learn_run(in, t, &p, &res, &err) == IMF_OK, "%s", err.msg);
			ck_assert_uint_eq(imf_kernel_depth(res.kernel), g.depth);
			ck_assert_uint_eq(res.used, (size_t)nout * g.oh * g.ow);
			double e = max_weight_error(res.kernel, w, g.depth * 9);
			ck_assert_msg(e <= (solver ? 1e-3 : 1e-2), "layout %d solver %d: error %g", layout,
			              solver, e);
			imf_kernel_free(res.kernel);
		}
		imf_image_free(t);
		imf_image_free(in);
	}
}
END_TEST

/* flip: the kernel learned is the one that --flip filtering reproduces (as written). */
START_TEST(flip_and_dilation)
{
	unsigned long long seed = 11;
	const double w[6] = { 1, 2, 3, -4, -5, 6 };
	for (int flip = 0; flip < 2; flip++) {
		geom g = { 0 };
		imf_learn_params p;
		imf_learn_result res;
		imf_error err = { 0 };
		imf_image *in = random_image(30, 20, 1, 0, &seed), *t;
		imf_conv_params_default(&g.cp);
		g.fr = 2;
		g.fc = 3;
		g.depth = 1;
		g.cp.flip = flip;
		g.cp.dilation = 2;
		g.cp.border = IMF_BORDER_REFLECT;
		geom_init(&g, in);
		t = make_target(in, &g, w, 0, 1);
		params_for(&p, &g);
		p.solver = IMF_LEARN_EXACT;
		ck_assert_msg(imf_learn_run(in, t, &p, &res, &err) == IMF_OK, "%s", err.msg);
		ck_assert_msg(max_weight_error(res.kernel, w, 6) <= 1e-3, "flip %d", flip);
		/* and imfilter's own engine gives the target back with it */
		imf_image *back = NULL;
		ck_assert_int_eq(imf_conv_run(in, res.kernel, &g.cp, &back, &err), IMF_OK);
		for (size_t y = 0; y < g.oh; y++)
			for (size_t x = 0; x < g.ow; x++)
				ck_assert_msg(fabs(imf_image_row(back, 0, y)[x] - imf_image_row(t, 0, y)[x]) <
				                      0.01,
				              "flip %d at %zu,%zu", flip, x, y);
		imf_image_free(back);
		imf_kernel_free(res.kernel);
		imf_image_free(t);
		imf_image_free(in);
	}
}
END_TEST

/* ---- saturation ------------------------------------------------------------------ */

/*
 * A sharpened random image clips at 0 and 255 a lot.  Masked, the exact
 * solver still finds sharpen; using the clipped values it does not.
 */
START_TEST(saturated_values_left_out)
{
	unsigned long long seed = 3;
	geom g = { 0 };
	double w[25];
	size_t n = known_weights(2, w, &g.fr, &g.fc), sat;
	imf_image *in = random_image(40, 40, 1, 0, &seed), *t;
	imf_learn_params p;
	imf_learn_result res;
	imf_error err = { 0 };

	imf_conv_params_default(&g.cp);
	g.depth = 1;
	geom_init(&g, in);
	t = make_target(in, &g, w, 0, 1);
	sat = to_8bit(t);
	ck_assert_msg(sat > 400 && sat < 1400, "a useful test clips a fair share: %zu", sat);
	params_for(&p, &g);
	p.solver = IMF_LEARN_EXACT;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_uint_eq(res.masked, sat);
	ck_assert_uint_eq(res.used, 1600 - sat);
	ck_assert_msg(max_weight_error(res.kernel, w, n) <= 2e-2, "masked");
	imf_kernel_free(res.kernel);

	p.mask_saturated = IMF_LEARN_MASK_NONE;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_uint_eq(res.masked, 0);
	ck_assert_uint_eq(res.used, 1600);
	ck_assert_msg(max_weight_error(res.kernel, w, n) > 0.1, "unmasked clipping biases the fit");
	imf_kernel_free(res.kernel);

	/* A raw target's 0 and 255 are values like any other, unless masking is asked for all. */
	imf_image_set_source(t, IMF_FORMAT_PFM, 32);
	p.mask_saturated = IMF_LEARN_MASK_INTEGER;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_uint_eq(res.masked, 0);
	imf_kernel_free(res.kernel);
	p.mask_saturated = IMF_LEARN_MASK_ALL;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_uint_eq(res.masked, sat);
	ck_assert_msg(max_weight_error(res.kernel, w, n) <= 2e-2, "masked raw");
	imf_kernel_free(res.kernel);
	imf_image_free(t);
	imf_image_free(in);
}
END_TEST

/*
 * A colour target of a gray input is compared through its luma; a pixel is
 * left out when any of its channels is saturated.
 */
START_TEST(colour_target_through_luma)
{
	imf_image *in = new_image(4, 1, 1, IMF_FORMAT_PNG, 8), *t = new_image(4, 1, 3, IMF_FORMAT_PNG, 8);
	imf_learn_params p;
	imf_learn_result res;
	imf_error err = { 0 };
	/* identity 1x1 kernel: luma(t) = 2 * x + 1 except pixel 3, whose red clipped */
	static const float x[4] = { 10, 20, 30, 40 };
	for (int i = 0; i < 4; i++) {
		float v = 2 * x[i] + 1;
		imf_image_row(in, 0, 0)[i] = x[i];
		imf_image_row(t, 0, 0)[i] = i == 3 ? 255 : v; /* R: exactly 255 is saturated */
		imf_image_row(t, 1, 0)[i] = v;                /* G */
		imf_image_row(t, 2, 0)[i] = v;                /* B */
	}
	imf_learn_params_default(&p);
	p.rows = p.cols = 1;
	p.solver = IMF_LEARN_EXACT;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_uint_eq(res.masked, 1);
	ck_assert_uint_eq(res.used, 3);
	ck_assert_double_eq_tol(res.kernel->m[0].w[0], 2, 1e-6);
	ck_assert_double_eq_tol(res.bias, 1, 1e-4);
	imf_kernel_free(res.kernel);
	imf_image_free(t);
	imf_image_free(in);
}
END_TEST

/* ---- gd's machinery --------------------------------------------------------------- */

static int count_epochs(void *user, size_t epoch, size_t epochs, double loss)
{
	size_t *n = user;
	(void)epochs;
	ck_assert(isfinite(loss));
	ck_assert_uint_eq(epoch, *n + 1);
	(*n)++;
	return *n == 7; /* stop after the 7th */
}

START_TEST(gd_progress_optimizers_digits)
{
	unsigned long long seed = 21;
	geom g = { 0 };
	double w[25];
	size_t n = known_weights(0, w, &g.fr, &g.fc), calls = 0;
	imf_image *in = random_image(32, 32, 1, 0, &seed), *t;
	imf_learn_params p;
	imf_learn_result res;
	imf_error err = { 0 };

	imf_conv_params_default(&g.cp);
	g.depth = 1;
	geom_init(&g, in);
	t = make_target(in, &g, w, 0, 1);
	params_for(&p, &g);
	p.progress = count_epochs;
	p.progress_user = &calls;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_uint_eq(calls, 7);
	ck_assert_uint_eq(res.epochs, 6); /* stopped before the 7th step */
	imf_kernel_free(res.kernel);

	/* Every optimizer lowers the loss; adam and sgd given enough epochs get there too. */
	for (int opt = 0; opt < 3; opt++) {
		params_for(&p, &g);
		p.optimizer = opt == 0 ? IMF_LEARN_SGD : opt == 1 ? IMF_LEARN_ADAM : IMF_LEARN_MOMENTUM;
		p.epochs = 50;
		ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
		ck_assert_msg(res.loss < res.start_loss / 2, "optimizer %d: %g from %g", opt, res.loss,
		              res.start_loss);
		imf_kernel_free(res.kernel);
	}
	params_for(&p, &g);
	p.optimizer = IMF_LEARN_ADAM;
	p.epochs = 4000;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert_msg(max_weight_error(res.kernel, w, n) < 1e-2, "adam in 4000 epochs");
	imf_kernel_free(res.kernel);

	/* digits: the weights are rounded (sobel-x comes out exactly), the loss is the rounded kernel's */
	params_for(&p, &g);
	p.solver = IMF_LEARN_EXACT;
	p.digits = 6;
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(res.kernel->m[0].w[i] == w[i], "weight %zu: %.17g", i,
		              res.kernel->m[0].w[i]);
	ck_assert(res.bias == 0);
	ck_assert_msg(res.loss < 1e-20, "loss %g", res.loss);
	imf_kernel_free(res.kernel);

	/* converged: a start at the answer stops at once */
	params_for(&p, &g);
	p.init = kernel_of(w, 3, 3, 1);
	ck_assert_int_eq(imf_learn_run(in, t, &p, &res, &err), IMF_OK);
	ck_assert(res.converged);
	ck_assert_uint_eq(res.epochs, 0);
	imf_kernel_free(res.kernel);
	imf_kernel_free((imf_kernel *)p.init);
	imf_image_free(t);
	imf_image_free(in);
}
END_TEST

/* ---- explain ------------------------------------------------------------------------ */

/*
 * The classic 5x5 worked example (samples/worked.txt) and its sharpen
 * target: the numbers a textbook gets by hand, and a step that lowers the
 * loss to what imf_learn_gradient says the stepped kernel has.
 */
START_TEST(explain_worked_example)
{
	static const float x[25] = { 60, 113, 56, 139, 85, 73, 121, 54, 84, 128, 131, 99, 70,
		                         129, 127, 80, 57, 115, 69, 134, 104, 126, 123, 95, 130 };
	static const double sharpen[9] = { 0, -1, 0, -1, 5, -1, 0, -1, 0 };
	geom g = { 0 };
	imf_image *in = new_image(5, 5, 1, IMF_FORMAT_TEXT, 32), *t;
	imf_learn_params p;
	imf_error err = { 0 };
	char *text = NULL, want[128], line[256];
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	double gref[9], gb, l0;

	for (int i = 0; i < 25; i++)
		imf_image_row(in, 0, (size_t)i / 5)[i % 5] = x[i];
	imf_conv_params_default(&g.cp);
	g.fr = g.fc = 3;
	g.depth = 1;
	geom_init(&g, in);
	t = make_target(in, &g, sharpen, 0, 1);
	imf_image_set_source(t, IMF_FORMAT_TEXT, 32);
	imf_learn_params_default(&p);
	ck_assert(fp != NULL);
	ck_assert_msg(imf_learn_explain(in, t, &p, fp, &err) == IMF_OK, "%s", err.msg);
	ck_assert_int_eq(fclose(fp), 0);

	/* y_11 of the target is 5*60 - 113 - 73 = 114: dL/dy_11 = 2/25 * (0 - 114) = -9.12 */
	ck_assert_msg(strstr(text, "  dL/dy_11 = 2/25 * (0 - 114) = -9.12\n"), "%s", text);
	ck_assert(strstr(text, "x_ij with i outside 1..5 or j outside 1..5 is padding, "
	                       "from the zero border"));
	ck_assert(strstr(text, "  dL/dw_11 = dL/dy_11*x_00 + dL/dy_12*x_01 + "));
	/* every weight's gradient, as the naive sum over positions gives it */
	l0 = ref_loss(in, t, &g, 1, (const double[9]){ 0 }, 0, gref, &gb, NULL);
	snprintf(want, sizeof want, "over the N = 25 target values used = %.6g\n", l0);
	ck_assert_msg(strstr(text, want), "%s", want);
	for (int k = 0; k < 9; k++) {
		const char *at;
		snprintf(line, sizeof line, "  dL/dw_%d%d = ", k / 3 + 1, k % 3 + 1);
		ck_assert_msg((at = strstr(text, line)) != NULL, "%s", line);
		snprintf(want, sizeof want, "\n          = %.6g\n", gref[k]);
		ck_assert_msg(strstr(at, want) != NULL, "weight %d: want %s", k, want);
	}
	snprintf(want, sizeof want, " = %.6g\n", gb);
	ck_assert(strstr(strstr(text, "  dL/db = "), want));

	/* the step: s = 139 (largest |x|), w = -lr/s^2 * g with lr = 1/10 (3x3 + bias) */
	{
		double ws = 0.1 / (139.0 * 139.0), w1[9], l1;
		imf_kernel *k;
		for (int i = 0; i < 9; i++)
			w1[i] = -ws * gref[i];
		snprintf(want, sizeof want, "  w_22 = 0 - %.6g * %.6g = %.6g\n", ws, gref[4], w1[4]);
		ck_assert_msg(strstr(text, want), "%s", want);
		k = kernel_of(w1, 3, 3, 1);
		ck_assert_int_eq(imf_learn_gradient(in, t, &p, k, -0.1 * gb, &l1, NULL, NULL, &err),
		                 IMF_OK);
		const char *at = strstr(text, "loss after the step: L = ");
		ck_assert(at != NULL);
		double shown = strtod(at + strlen("loss after the step: L = "), NULL);
		ck_assert_msg(fabs(shown - l1) <= 1e-5 * l1, "loss after the step %g, want %g", shown,
		              l1);
		ck_assert(l1 < l0);
		imf_kernel_free(k);
	}
	free(text);
	imf_image_free(t);
	imf_image_free(in);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------- */

START_TEST(errors)
{
	unsigned long long seed = 1;
	imf_image *in = random_image(8, 6, 1, 0, &seed), *t = random_image(8, 6, 1, 0, &seed);
	imf_image *small = random_image(6, 4, 1, 0, &seed), *big = random_image(9, 9, 1, 0, &seed);
	imf_image *rgb = random_image(8, 6, 2, 0, &seed);
	imf_learn_params p;
	imf_learn_result res;
	imf_error err = { 0 };
	imf_status st;
	FILE *devnull = fopen("/dev/null", "w");

	imf_learn_params_default(&p);
	p.rows = 0;
	st = imf_learn_run(in, t, &p, &res, &err);
	tu_expect_message("size 0", st, IMF_EINVAL, &err, "kernel size 0x3", "at least 1 row");
	ck_assert(res.kernel == NULL);

	imf_learn_params_default(&p);
	p.rows = 7;
	st = imf_learn_run(in, t, &p, &res, &err);
	tu_expect_message("larger", st, IMF_EINVAL, &err, "kernel size 7x3 (rows x columns) is "
	                  "larger than the 8x6 input", "");

	imf_learn_params_default(&p);
	p.conv.pad_mode = IMF_PAD_VALID;
	st = imf_learn_run(in, t, &p, &res, &err);
	tu_expect_message("geometry", st, IMF_EINVAL, &err,
	                  "the target is 8x6, but a 3x3 kernel (rows x columns) with padding valid "
	                  "and stride 1 gives 6x4 from the 8x6 input", "");
	ck_assert_int_eq(imf_learn_run(in, small, &p, &res, &err), IMF_OK); /* 6x4 fits */
	imf_kernel_free(res.kernel);

	imf_learn_params_default(&p);
	p.conv.stride = 2;
	st = imf_learn_run(in, t, &p, &res, &err);
	tu_expect_message("stride", st, IMF_EINVAL, &err, "the target is 8x6, but", "stride 2 gives 4x3");

	imf_learn_params_default(&p);
	st = imf_learn_run(in, rgb, &p, &res, &err);
	tu_expect_message("planes", st, IMF_EINVAL, &err, "the target has 2 channels and the input 1",
	                  "or 1");

	/* all saturated */
	{
		imf_image *sat = new_image(8, 6, 1, IMF_FORMAT_PNG, 8);
		for (size_t y = 0; y < 6; y++)
			for (size_t x = 0; x < 8; x++)
				imf_image_row(sat, 0, y)[x] = (x + y) % 2 ? 255 : 0;
		st = imf_learn_run(in, sat, &p, &res, &err);
		tu_expect_message("saturated", st, IMF_EUNSUPPORTED, &err,
		                  "every one of the 48 target values is 0 or 255", "--no-mask-saturated");
		p.mask_saturated = IMF_LEARN_MASK_NONE;
		ck_assert_int_eq(imf_learn_run(in, sat, &p, &res, &err), IMF_OK);
		imf_kernel_free(res.kernel);
		imf_image_free(sat);
	}

	/* diverging */
	imf_learn_params_default(&p);
	p.optimizer = IMF_LEARN_SGD;
	p.lr = 10;
	st = imf_learn_run(in, t, &p, &res, &err);
	tu_expect_message("diverging", st, IMF_EINVAL, &err, "gd diverged at epoch ",
	                  "the learning rate 10 is too large, try a smaller --lr (such as 1)");
	ck_assert(res.kernel == NULL);

	/* NaN */
	{
		imf_image *nan_in = random_image(8, 6, 1, 0, &seed);
		imf_image_row(nan_in, 0, 2)[3] = NAN;
		imf_learn_params_default(&p);
		st = imf_learn_run(nan_in, t, &p, &res, &err);
		tu_expect_message("nan", st, IMF_EINVAL, &err, "the input has NaN or infinite values", "");
		imf_image_free(nan_in);
	}

	/* parameters */
	imf_learn_params_default(&p);
	p.epochs = 0;
	tu_expect_message("epochs", imf_learn_run(in, t, &p, &res, &err), IMF_EINVAL, &err,
	                  "epochs must be at least 1", "");
	imf_learn_params_default(&p);
	p.momentum = 1;
	tu_expect_message("momentum", imf_learn_run(in, t, &p, &res, &err), IMF_EINVAL, &err,
	                  "momentum must be below 1", "");
	imf_learn_params_default(&p);
	p.lr = NAN;
	tu_expect_message("lr", imf_learn_run(in, t, &p, &res, &err), IMF_EINVAL, &err,
	                  "learning rate must be a positive number", "");
	imf_learn_params_default(&p);
	p.ridge = -1;
	tu_expect_message("ridge", imf_learn_run(in, t, &p, &res, &err), IMF_EINVAL, &err,
	                  "ridge must be a number >= 0", "");
	imf_learn_params_default(&p);
	p.solver = IMF_LEARN_EXACT;
	p.rows = p.cols = 33;
	p.conv.limits.max_kernel = 100;
	{
		imf_image *huge = random_image(40, 40, 1, 0, &seed);
		tu_expect_message("exact size", imf_learn_run(huge, huge, &p, &res, &err), IMF_EINVAL,
		                  &err, "the exact solver takes at most 1024 weights, this kernel has 1089",
		                  "use gd");
		imf_image_free(huge);
	}
	imf_learn_params_default(&p);
	p.rows = 300;
	tu_expect_message("max-kernel", imf_learn_run(in, t, &p, &res, &err), IMF_EINVAL, &err,
	                  "kernel size 300x3 is over the --max-kernel limit of 255", "");
	imf_learn_params_default(&p);
	p.init = kernel_of((const double[4]){ 1, 2, 3, 4 }, 2, 2, 1);
	tu_expect_message("init", imf_learn_run(in, t, &p, &res, &err), IMF_EINVAL, &err,
	                  "the starting kernel must be a plain 3x3 kernel", "");
	imf_kernel_free((imf_kernel *)p.init);

	/* singular: a constant input cannot tell the weights apart without a ridge */
	{
		imf_image *flat = new_image(8, 6, 1, IMF_FORMAT_PFM, 32);
		for (size_t y = 0; y < 6; y++)
			for (size_t x = 0; x < 8; x++)
				imf_image_row(flat, 0, y)[x] = 1;
		imf_learn_params_default(&p);
		p.solver = IMF_LEARN_EXACT;
		p.conv.border = IMF_BORDER_REPLICATE;
		p.ridge = 0;
		tu_expect_message("singular", imf_learn_run(flat, t, &p, &res, &err), IMF_EINVAL, &err,
		                  "the normal equations are singular", "--ridge");
		p.ridge = 1e-9;
		ck_assert_int_eq(imf_learn_run(flat, t, &p, &res, &err), IMF_OK);
		/* a flat image determines the sum of the weights only: the ridge alone holds the rest */
		ck_assert_msg(res.condition > 1e8, "condition %g", res.condition);
		imf_kernel_free(res.kernel);
		imf_image_free(flat);
	}

	/* explain: at most 8x8 */
	imf_learn_params_default(&p);
	tu_expect_message("explain", imf_learn_explain(big, big, &p, devnull, &err), IMF_EINVAL,
	                  &err, "the input is 9x9: --explain shows inputs of at most 8x8", "");

	fclose(devnull);
	imf_image_free(in);
	imf_image_free(t);
	imf_image_free(small);
	imf_image_free(big);
	imf_image_free(rgb);
}
END_TEST

static Suite *learn_suite(void)
{
	Suite *s = suite_create("learn");
	TCase *tc = tcase_create("learn");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, gradient_matches_finite_differences);
	tcase_add_test(tc, gradient_worked_example);
	tcase_add_test(tc, exact_recovers_known_kernels);
	tcase_add_test(tc, gd_recovers_known_kernels);
	tcase_add_test(tc, planes_depthwise_and_slices);
	tcase_add_test(tc, flip_and_dilation);
	tcase_add_test(tc, saturated_values_left_out);
	tcase_add_test(tc, colour_target_through_luma);
	tcase_add_test(tc, gd_progress_optimizers_digits);
	tcase_add_test(tc, explain_worked_example);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(learn_suite)
