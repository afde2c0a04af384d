/*
 * learn.c - learning a kernel from an example: the weights w and bias b
 * for which filtering an input X gives a target T, in the least-squares
 * sense (the contract and the formulas are in imfilter.h).
 *
 * Both solvers work on one prepared problem (learn_ctx): X extended by its
 * border once, by the convolution engine itself (a 1x1 identity kernel with
 * explicit padding, so every border mode is the engine's), then widened to
 * double and divided by s = max |X|; T divided by the same s, with a 0/1
 * weight per value (0 for a saturated value of an integer target).  Each
 * weight k of the kernel (slice q, row a, column b, as written) is applied
 * at one tap of every window: its offset in the padded plane (flip and
 * dilation folded in) and its plane are precomputed, so the loss, its
 * gradient and the normal equations are plain loops over rows of the
 * padded planes, with no border logic and no branches.
 *
 * learn_eval() is the forward and backward pass that gd repeats, and that
 * imf_learn_gradient() exposes for the tests, which hold it to finite
 * differences: y = sum_k w_k x_k + b over every output value, then
 * dL/dy = 2/N (y - t) (0 where the value is left out), and each shared
 * weight's gradient is the sum over the positions of dL/dy times the input
 * value under it.  Dividing X and T by s leaves the weights unchanged, and
 * scales the bias by 1/s and the loss by 1/s^2; every result is given back
 * in the image's units.
 *
 * explain (inputs up to EXPLAIN_MAX_SIDE per side) computes one step again,
 * in the image's units and with every term written out; the tests check it
 * against learn_eval.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --explain: inputs of at most this many pixels per side. */
#define EXPLAIN_MAX_SIDE 8
/* gd stops when every gradient component (on data divided by s) is below this. */
#define GD_GRAD_TOL 1e-11
/* gd has diverged when the loss grows past this times (start + 1), on divided data. */
#define GD_DIVERGE 1e12
/* Adam's constants besides beta1 (params.momentum). */
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8
/* Output columns gathered at once by the exact solver. */
#define EXACT_SPAN 256

void imf_learn_params_default(imf_learn_params *p)
{
	memset(p, 0, sizeof *p);
	p->rows = 3;
	p->cols = 3;
	imf_conv_params_default(&p->conv);
	p->solver = IMF_LEARN_GD;
	p->optimizer = IMF_LEARN_MOMENTUM;
	p->lr = 0;
	p->momentum = -1;
	p->epochs = 3000;
	p->ridge = 1e-9;
	p->mask_saturated = IMF_LEARN_MASK_INTEGER;
	p->init = NULL;
	p->init_bias = 0;
	p->digits = 0;
}

double imf_learn_default_lr(imf_learn_optimizer opt, size_t weights)
{
	/*
	 * On data in -1..1 the loss's curvature is at most 2(n + 1) for n weights
	 * and the bias (its Hessian's trace), so 1/(n + 1) is a stable step for
	 * plain and momentum gd on any image.  Adam's steps are about lr each.
	 */
	if (opt == IMF_LEARN_ADAM)
		return 0.05;
	return 1.0 / ((double)weights + 1.0);
}

double imf_learn_default_momentum(imf_learn_optimizer opt)
{
	/*
	 * Heavy ball with beta 0.99 damps every direction at the rate
	 * sqrt(beta) = 0.995 per epoch as long as lr * curvature >=
	 * (1 - sqrt(beta))^2 = 2.5e-5: with lr = 1/(n + 1), for loss surfaces up
	 * to about 4 * 10^4 times more curved one way than another.  That
	 * covers the samples and photographs with 3x3 kernels (10^3 to 3 * 10^4
	 * measured) and most 5x5 ones; the default 3000 epochs then bring the
	 * weights within about 1e-6 of the minimum.  Smooth large photographs
	 * with 5x5 kernels reach 10^5 and more: more epochs, or the exact solver.
	 */
	if (opt == IMF_LEARN_ADAM)
		return 0.9;
	return opt == IMF_LEARN_MOMENTUM ? 0.99 : 0;
}

const char *imf_learn_solver_name(imf_learn_solver s)
{
	switch (s) {
	case IMF_LEARN_GD: return "gd";
	case IMF_LEARN_EXACT: return "exact";
	}
	return "?";
}

const char *imf_learn_optimizer_name(imf_learn_optimizer o)
{
	switch (o) {
	case IMF_LEARN_SGD: return "sgd";
	case IMF_LEARN_MOMENTUM: return "momentum";
	case IMF_LEARN_ADAM: return "adam";
	}
	return "?";
}

/* ---- the prepared problem ---------------------------------------------------- */

typedef struct learn_ctx {
	size_t fr, fc, depth; /* kernel rows, columns and slices */
	size_t nw;            /* weights: depth * fr * fc (the bias is unknown nw) */
	size_t er, ec;        /* extents D(F-1)+1 */
	size_t top, bottom, left, right;
	size_t stride, dil;
	int flip;
	size_t pad;           /* the padded copy's border on every side */
	size_t ph, pw;        /* its height and width */
	size_t width, height; /* the input's */
	int nin;              /* input planes (alpha excluded) */
	int nout;             /* output planes: target planes compared */
	size_t oh, ow;
	double s;             /* data scale: max |X| (1 when X is all 0) */
	double tmax;          /* max |T| over the values used */
	double *x;            /* nin padded planes / s, ph x pw each */
	double *t;            /* nout target planes / s, oh x ow each */
	double *m;            /* 1 where a target value is used, else 0 */
	size_t used, masked;
	size_t *off;          /* nw: offset of weight k's tap from a window's origin */
	size_t *plane;        /* nw: the input plane weight k reads for output plane 0 */
	int per_out;          /* depthwise: output plane o reads input plane o (plane[] unused) */
	imf_image *xpad;      /* the padded input, unscaled (for explain) */
	imf_image *tgt;       /* the target compared (its luma for a colour target) */
	int tgt_owned;
	int integer_target;   /* the target came from an 8- or 16-bit file */
} learn_ctx;

static void ctx_free(learn_ctx *c)
{
	free(c->x);
	free(c->t);
	free(c->m);
	free(c->off);
	free(c->plane);
	imf_image_free(c->xpad);
	if (c->tgt_owned)
		imf_image_free(c->tgt);
	memset(c, 0, sizeof *c);
}

static const char *pad_name(const imf_conv_params *p, char *buf, size_t len)
{
	switch (p->pad_mode) {
	case IMF_PAD_SAME: return "same";
	case IMF_PAD_VALID: return "valid";
	case IMF_PAD_FULL: return "full";
	case IMF_PAD_EXPLICIT: snprintf(buf, len, "%zu", p->pad); return buf;
	}
	return "?";
}

/* Non-zero when every value of the data planes of img is finite. */
static int all_finite(const imf_image *img)
{
	int planes = imf_image_data_planes(img);
	for (int c = 0; c < planes; c++)
		for (size_t y = 0; y < img->height; y++) {
			const float *row = imf_image_row_const(img, c, y);
			for (size_t x = 0; x < img->width; x++)
				if (!isfinite(row[x]))
					return 0;
		}
	return 1;
}

static imf_status check_params(const imf_learn_params *p, imf_error *err)
{
	const imf_conv_params *cp = &p->conv;

	if (p->rows == 0 || p->cols == 0)
		return imf_error_set(err, IMF_EINVAL, "kernel size %zux%zu: it needs at least 1 row "
		                     "and 1 column", p->rows, p->cols);
	if (cp->stride == 0)
		return imf_error_set(err, IMF_EINVAL, "stride must be at least 1");
	if (cp->dilation == 0)
		return imf_error_set(err, IMF_EINVAL, "dilation must be at least 1");
	if (cp->pad_mode != IMF_PAD_SAME && cp->pad_mode != IMF_PAD_VALID &&
	    cp->pad_mode != IMF_PAD_FULL && cp->pad_mode != IMF_PAD_EXPLICIT)
		return imf_error_set(err, IMF_EINVAL, "unknown padding mode %d", (int)cp->pad_mode);
	if (p->solver != IMF_LEARN_GD && p->solver != IMF_LEARN_EXACT)
		return imf_error_set(err, IMF_EINVAL, "unknown solver %d", (int)p->solver);
	if (p->optimizer != IMF_LEARN_SGD && p->optimizer != IMF_LEARN_MOMENTUM &&
	    p->optimizer != IMF_LEARN_ADAM)
		return imf_error_set(err, IMF_EINVAL, "unknown optimizer %d", (int)p->optimizer);
	if (!isfinite(p->lr) || p->lr < 0)
		return imf_error_set(err, IMF_EINVAL, "learning rate must be a positive number");
	if (!(p->momentum < 1) || isnan(p->momentum))
		return imf_error_set(err, IMF_EINVAL, "momentum must be below 1 (0 to 0.999...)");
	if (p->epochs == 0)
		return imf_error_set(err, IMF_EINVAL, "epochs must be at least 1");
	if (!isfinite(p->ridge) || p->ridge < 0)
		return imf_error_set(err, IMF_EINVAL, "ridge must be a number >= 0");
	if (!isfinite(p->init_bias))
		return imf_error_set(err, IMF_EINVAL, "the starting bias must be a finite number");
	if (p->mask_saturated != IMF_LEARN_MASK_NONE && p->mask_saturated != IMF_LEARN_MASK_INTEGER &&
	    p->mask_saturated != IMF_LEARN_MASK_ALL)
		return imf_error_set(err, IMF_EINVAL, "unknown masking %d", p->mask_saturated);
	if (p->digits < 0 || p->digits > 17)
		return imf_error_set(err, IMF_EINVAL, "digits must be 0..17");
	return IMF_OK;
}

/* *e = D(F-1)+1; 0 on overflow. */
static int extent(size_t f, size_t d, size_t *e)
{
	return imf_size_mul(f - 1, d, e) && imf_size_add(*e, 1, e);
}

/* The kernel's geometry on the input: padding, output size, and the checks. */
static imf_status setup_geometry(const imf_image *in, const imf_learn_params *p, learn_ctx *c,
                                 imf_error *err)
{
	const imf_conv_params *cp = &p->conv;
	size_t maxk = cp->limits.max_kernel, ph, pw;
	imf_status st;
	char pbuf[32];

	if (maxk == 0 || maxk > IMF_KERNEL_SIDE_CEILING)
		maxk = IMF_KERNEL_SIDE_CEILING;
	if (p->rows > maxk || p->cols > maxk)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel size %zux%zu is over the --max-kernel limit of %zu per "
		                     "side (raise it with --max-kernel)",
		                     p->rows, p->cols, maxk);
	c->fr = p->rows;
	c->fc = p->cols;
	c->stride = cp->stride;
	c->dil = cp->dilation;
	c->flip = cp->flip != 0;
	c->width = in->width;
	c->height = in->height;
	if (!extent(c->fr, c->dil, &c->er) || !extent(c->fc, c->dil, &c->ec))
		return imf_error_set(err, IMF_EINVAL, "dilation %zu is too large", c->dil);
	/* A kernel wider than the image itself sees mostly padding: refused whatever the padding. */
	if (c->er > in->height || c->ec > in->width)
		return imf_error_set(err, IMF_EINVAL,
		                     "kernel size %zux%zu (rows x columns%s) is larger than the "
		                     "%zux%zu input",
		                     c->dil > 1 ? c->er : c->fr, c->dil > 1 ? c->ec : c->fc,
		                     c->dil > 1 ? ", dilated" : "", in->width, in->height);
	imf_conv_padding(cp, c->er, &c->top, &c->bottom);
	imf_conv_padding(cp, c->ec, &c->left, &c->right);
	st = imf_conv_output_size(in->height, c->er, c->top, c->bottom, c->stride, &c->oh, err);
	if (st == IMF_OK)
		st = imf_conv_output_size(in->width, c->ec, c->left, c->right, c->stride, &c->ow, err);
	if (st != IMF_OK)
		return st;
	c->pad = c->top;
	if (c->bottom > c->pad)
		c->pad = c->bottom;
	if (c->left > c->pad)
		c->pad = c->left;
	if (c->right > c->pad)
		c->pad = c->right;
	if (!imf_size_add(in->height, 2 * c->pad, &ph) || !imf_size_add(in->width, 2 * c->pad, &pw) ||
	    c->pad > SIZE_MAX / 4)
		return imf_error_set(err, IMF_EINVAL, "padding %s is too large",
		                     pad_name(cp, pbuf, sizeof pbuf));
	c->ph = ph;
	c->pw = pw;
	return IMF_OK;
}

/* The input extended by c->pad on every side, by the engine (see explain.c). */
static imf_status pad_input(const imf_image *in, const imf_learn_params *p, learn_ctx *c,
                            imf_error *err)
{
	imf_kernel *one = NULL;
	imf_conv_params pp;
	imf_status st;

	imf_conv_params_default(&pp);
	pp.pad_mode = IMF_PAD_EXPLICIT;
	pp.pad = c->pad;
	pp.border = p->conv.border;
	pp.limits = p->conv.limits;
	if ((st = imf_kernel_from_text("1", "identity", &one, err)) != IMF_OK)
		return st;
	st = imf_conv_run(in, one, &pp, &c->xpad, err);
	imf_kernel_free(one);
	if (st != IMF_OK)
		return st;
	if (c->xpad->width != c->pw || c->xpad->height != c->ph)
		return imf_error_set(err, IMF_EINVAL, "padded copy has an unexpected size");
	return IMF_OK;
}

/*
 * Which target planes are compared, and how they meet the kernel: see
 * imfilter.h.  Sets nout, depth, and c->tgt (a luma image for a colour
 * target of a one-plane input).
 */
static imf_status setup_planes(const imf_image *target, learn_ctx *c, int *luma, imf_error *err)
{
	int tp = imf_image_data_planes(target);

	*luma = 0;
	c->depth = 1;
	c->per_out = 1;
	if (tp == c->nin) {
		c->nout = tp;
	} else if (tp == 1 && c->nin > 1) {
		c->nout = 1;
		c->depth = (size_t)c->nin;
		c->per_out = 0;
	} else if (c->nin == 1 && tp == 3) {
		c->nout = 1;
		*luma = 1;
	} else {
		return imf_error_set(err, IMF_EINVAL,
		                     "the target has %d channel%s and the input %d: a target needs "
		                     "as many channels as the input, or 1",
		                     tp, tp == 1 ? "" : "s", c->nin);
	}
	if (*luma) {
		imf_status st = imf_image_to_luma(target, &c->tgt, err);
		if (st != IMF_OK)
			return st;
		c->tgt_owned = 1;
	} else {
		c->tgt = (imf_image *)target; /* only read */
	}
	return IMF_OK;
}

/* A pixel of the original target is saturated: 0 or 255 in any colour plane. */
static int saturated(const imf_image *target, int planes, size_t y, size_t x)
{
	for (int c = 0; c < planes; c++) {
		float v = imf_image_row_const(target, c, y)[x];
		if (v <= 0.0f || v >= 255.0f)
			return 1;
	}
	return 0;
}

/* Everything both solvers need; c is zeroed first and freed by the caller. */
static imf_status learn_setup(const imf_image *in, const imf_image *target,
                              const imf_learn_params *p, learn_ctx *c, imf_error *err)
{
	imf_status st;
	size_t plane_len, xlen, tlen;
	int luma;
	char pbuf[32];

	memset(c, 0, sizeof *c);
	if (!in || !target || !p)
		return imf_error_set(err, IMF_EINVAL, "learn: missing argument");
	if ((st = check_params(p, err)) != IMF_OK)
		return st;
	c->nin = imf_image_data_planes(in);
	if (c->nin < 1 || imf_image_data_planes(target) < 1)
		return imf_error_set(err, IMF_EINVAL, "learn: an image has no data planes");
	if ((st = setup_geometry(in, p, c, err)) != IMF_OK)
		return st;
	if (target->width != c->ow || target->height != c->oh)
		return imf_error_set(err, IMF_EINVAL,
		                     "the target is %zux%zu, but a %zux%zu kernel (rows x columns) "
		                     "with padding %s and stride %zu gives %zux%zu from the %zux%zu "
		                     "input",
		                     target->width, target->height, c->fr, c->fc,
		                     pad_name(&p->conv, pbuf, sizeof pbuf), c->stride, c->ow, c->oh,
		                     in->width, in->height);
	if ((st = setup_planes(target, c, &luma, err)) != IMF_OK)
		return st;
	if (!all_finite(in))
		return imf_error_set(err, IMF_EINVAL, "the input has NaN or infinite values");
	if (!all_finite(target))
		return imf_error_set(err, IMF_EINVAL, "the target has NaN or infinite values");
	if (p->init) {
		size_t r, k;
		imf_kernel_dims(p->init, &r, &k);
		if (p->init->combine != IMF_COMBINE_NONE || r != c->fr || k != c->fc ||
		    imf_kernel_depth(p->init) != c->depth)
			return imf_error_set(err, IMF_EINVAL,
			                     "the starting kernel must be a plain %zux%zu kernel "
			                     "(rows x columns)%s",
			                     c->fr, c->fc, c->depth > 1 ? " with one slice per channel" : "");
	}
	if (c->fr > SIZE_MAX / c->fc || !imf_size_mul(c->depth, c->fr * c->fc, &c->nw))
		return imf_error_set(err, IMF_EINVAL, "kernel is too large");
	if (p->solver == IMF_LEARN_EXACT && c->nw > IMF_LEARN_EXACT_MAX_WEIGHTS)
		return imf_error_set(err, IMF_EINVAL,
		                     "the exact solver takes at most %d weights, this kernel has %zu "
		                     "(use gd)",
		                     IMF_LEARN_EXACT_MAX_WEIGHTS, c->nw);
	/*
	 * The working copies are doubles: the padded input (2 floats' worth per
	 * value), the target and its mask (4), each held to --max-memory.
	 */
	{
		const char *what = "working copies (doubles)";
		size_t mem = p->conv.limits.max_memory;
		if ((st = imf_check_memory(c->pw, c->ph, 2 * c->nin, mem, what, err)) != IMF_OK ||
		    (st = imf_check_memory(c->ow, c->oh, 4 * c->nout, mem, what, err)) != IMF_OK)
			return st;
	}
	if ((st = pad_input(in, p, c, err)) != IMF_OK)
		return st;

	/* Sizes: every product below is checked. */
	if (!imf_size_mul(c->ph, c->pw, &plane_len) ||
	    !imf_size_mul(plane_len, (size_t)c->nin, &xlen) ||
	    !imf_size_mul(c->oh, c->ow, &tlen) || !imf_size_mul(tlen, (size_t)c->nout, &tlen))
		return imf_error_set(err, IMF_ENOMEM, "learn: images are too large");
	c->x = imf_alloc_array(xlen, sizeof *c->x, err);
	c->t = imf_alloc_array(tlen, sizeof *c->t, err);
	c->m = imf_alloc_array(tlen, sizeof *c->m, err);
	c->off = imf_alloc_array(c->nw, sizeof *c->off, err);
	c->plane = imf_alloc_array(c->nw, sizeof *c->plane, err);
	if (!c->x || !c->t || !c->m || !c->off || !c->plane)
		return IMF_ENOMEM;

	/* s = max |X|: the divided data lie in -1..1. */
	c->s = 0;
	for (int q = 0; q < c->nin; q++)
		for (size_t y = 0; y < in->height; y++) {
			const float *row = imf_image_row_const(in, q, y);
			for (size_t x = 0; x < in->width; x++)
				if (fabs(row[x]) > c->s)
					c->s = fabs(row[x]);
		}
	if (c->s == 0)
		c->s = 1;
	for (int q = 0; q < c->nin; q++)
		for (size_t y = 0; y < c->ph; y++) {
			const float *row = imf_image_row_const(c->xpad, q, y);
			double *dst = c->x + (size_t)q * plane_len + y * c->pw;
			for (size_t x = 0; x < c->pw; x++)
				dst[x] = (double)row[x] / c->s;
		}

	/* Target values, and which are used. */
	c->integer_target = imf_image_source_depth(target) == 8 || imf_image_source_depth(target) == 16;
	{
		int mask = p->mask_saturated == IMF_LEARN_MASK_ALL ||
		           (p->mask_saturated == IMF_LEARN_MASK_INTEGER && c->integer_target);
		int tplanes = imf_image_data_planes(target);
		c->tmax = 0;
		for (int o = 0; o < c->nout; o++)
			for (size_t y = 0; y < c->oh; y++) {
				const float *row = imf_image_row_const(c->tgt, o, y);
				double *t = c->t + ((size_t)o * c->oh + y) * c->ow;
				double *m = c->m + ((size_t)o * c->oh + y) * c->ow;
				for (size_t x = 0; x < c->ow; x++) {
					/* A colour target's pixel is out when any channel is saturated. */
					int out = mask && (luma ? saturated(target, tplanes, y, x)
					                        : (row[x] <= 0.0f || row[x] >= 255.0f));
					t[x] = (double)row[x] / c->s;
					m[x] = out ? 0.0 : 1.0;
					if (out) {
						c->masked++;
					} else {
						c->used++;
						if (fabs(row[x]) > c->tmax)
							c->tmax = fabs(row[x]);
					}
				}
			}
	}
	if (c->used == 0)
		return imf_error_set(err, IMF_EUNSUPPORTED,
		                     "every one of the %zu target values is 0 or 255 (saturated by "
		                     "clamping): nothing to learn from (--no-mask-saturated uses them)",
		                     c->masked);

	/*
	 * Weight k = (q, a, b) as written; with flip it is applied at tap
	 * (Fr-1-a, Fc-1-b).  Window (oy, ox) starts at padded (oy*S + pad - top,
	 * ox*S + pad - left); the tap is i*D rows and j*D columns further.
	 */
	for (size_t k = 0; k < c->nw; k++) {
		size_t q = k / (c->fr * c->fc), a = k / c->fc % c->fr, b = k % c->fc;
		size_t i = c->flip ? c->fr - 1 - a : a, j = c->flip ? c->fc - 1 - b : b;
		c->off[k] = (i * c->dil + c->pad - c->top) * c->pw + j * c->dil + c->pad - c->left;
		c->plane[k] = q;
	}
	return IMF_OK;
}

/* The first value of weight k's inputs for output row oy of output plane o. */
static const double *tap_row(const learn_ctx *c, size_t k, int o, size_t oy)
{
	size_t plane = c->per_out ? (size_t)o : c->plane[k];
	return c->x + plane * c->ph * c->pw + oy * c->stride * c->pw + c->off[k];
}

/* y[x] += w . (a, b, c, d)[x*S]: four taps in one pass over y. */
static void fwd4(double *restrict y, const double *restrict a, const double *restrict b,
                 const double *restrict c, const double *restrict d, const double *w, size_t n,
                 size_t S)
{
	const double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
	if (S == 1)
		for (size_t x = 0; x < n; x++)
			y[x] += w0 * a[x] + w1 * b[x] + w2 * c[x] + w3 * d[x];
	else
		for (size_t x = 0; x < n; x++)
			y[x] += w0 * a[x * S] + w1 * b[x * S] + w2 * c[x * S] + w3 * d[x * S];
}

static void fwd1(double *restrict y, const double *restrict a, double w, size_t n, size_t S)
{
	if (S == 1)
		for (size_t x = 0; x < n; x++)
			y[x] += w * a[x];
	else
		for (size_t x = 0; x < n; x++)
			y[x] += w * a[x * S];
}

/* g[0..3] += sum_x r[x] * (a, b, c, d)[x*S]: four dot products in one pass over r. */
static void bwd4(double *g, const double *restrict r, const double *restrict a,
                 const double *restrict b, const double *restrict c, const double *restrict d,
                 size_t n, size_t S)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t x = 0; x < n; x++) {
		const double rx = r[x];
		s0 += rx * a[x * S];
		s1 += rx * b[x * S];
		s2 += rx * c[x * S];
		s3 += rx * d[x * S];
	}
	g[0] += s0;
	g[1] += s1;
	g[2] += s2;
	g[3] += s3;
}

static double dot1(const double *restrict r, const double *restrict a, size_t n, size_t S)
{
	double s = 0;
	for (size_t x = 0; x < n; x++)
		s += r[x] * a[x * S];
	return s;
}

/* Scratch space of learn_eval: two output rows and a pointer per weight. */
typedef struct eval_buf {
	double *row;
	const double **src;
} eval_buf;

static imf_status eval_buf_new(const learn_ctx *c, eval_buf *b, imf_error *err)
{
	b->row = imf_alloc_array(c->ow, 2 * sizeof *b->row, err);
	b->src = imf_alloc_array(c->nw, sizeof *b->src, err);
	return b->row && b->src ? IMF_OK : IMF_ENOMEM;
}

static void eval_buf_free(eval_buf *b)
{
	free(b->row);
	free((void *)b->src);
	b->row = NULL;
	b->src = NULL;
}

/*
 * The forward and backward pass on the divided data: returns
 * L' = 1/N sum m (y - t)^2 for the weights w[0..nw-1] and bias w[nw], and,
 * when g is not NULL, g[k] = dL'/dw_k and g[nw] = dL'/db.
 */
static double learn_eval(const learn_ctx *c, const double *w, double *g, eval_buf *eb)
{
	const size_t ow = c->ow, S = c->stride, nw = c->nw;
	const double inv = 1.0 / (double)c->used;
	double *restrict y = eb->row, *restrict r = eb->row + ow;
	const double **src = eb->src;
	double loss = 0;

	if (g)
		for (size_t k = 0; k <= nw; k++)
			g[k] = 0;
	for (int o = 0; o < c->nout; o++) {
		for (size_t oy = 0; oy < c->oh; oy++) {
			const double *restrict t = c->t + ((size_t)o * c->oh + oy) * ow;
			const double *restrict m = c->m + ((size_t)o * c->oh + oy) * ow;
			double rsum = 0;
			size_t k;

			for (k = 0; k < nw; k++)
				src[k] = tap_row(c, k, o, oy);
			/* forward: y = sum_k w_k x_k + b */
			for (size_t x = 0; x < ow; x++)
				y[x] = w[nw];
			for (k = 0; k + 4 <= nw; k += 4)
				fwd4(y, src[k], src[k + 1], src[k + 2], src[k + 3], w + k, ow, S);
			for (; k < nw; k++)
				fwd1(y, src[k], w[k], ow, S);
			/* dL/dy = 2/N (y - t), 0 where the value is left out */
			for (size_t x = 0; x < ow; x++) {
				double d = m[x] * (y[x] - t[x]);
				loss += d * d;
				r[x] = 2.0 * inv * d;
				rsum += r[x];
			}
			if (!g)
				continue;
			/* backward: each shared weight sums dL/dy times its input over the positions */
			for (k = 0; k + 4 <= nw; k += 4)
				bwd4(g + k, r, src[k], src[k + 1], src[k + 2], src[k + 3], ow, S);
			for (; k < nw; k++)
				g[k] += dot1(r, src[k], ow, S);
			g[nw] += rsum;
		}
	}
	return loss * inv;
}

/* ---- exact solver -------------------------------------------------------------- */

/*
 * Solve a x = b for a symmetric positive definite n x n matrix (row-major,
 * full) by Cholesky, a = L L^T, L written into l.  Returns -1 when a pivot
 * is not positive (the matrix is singular to working precision).
 */
static int cholesky(const double *a, double *l, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		for (size_t i = j; i < n; i++) {
			double sum = a[i * n + j];
			for (size_t k = 0; k < j; k++)
				sum -= l[i * n + k] * l[j * n + k];
			if (i == j) {
				if (!(sum > 0))
					return -1;
				l[j * n + j] = sqrt(sum);
			} else {
				l[i * n + j] = sum / l[j * n + j];
			}
		}
		for (size_t i = 0; i < j; i++)
			l[i * n + j] = 0;
	}
	return 0;
}

/* x = (L L^T)^-1 b */
static void cholesky_solve(const double *l, const double *b, double *x, size_t n)
{
	for (size_t i = 0; i < n; i++) { /* L z = b */
		double sum = b[i];
		for (size_t k = 0; k < i; k++)
			sum -= l[i * n + k] * x[k];
		x[i] = sum / l[i * n + i];
	}
	for (size_t i = n; i-- > 0;) { /* L^T x = z */
		double sum = x[i];
		for (size_t k = i + 1; k < n; k++)
			sum -= l[k * n + i] * x[k];
		x[i] = sum / l[i * n + i];
	}
}

/*
 * The normal equations A v = r, A = 1/N sum phi phi^T and r = 1/N sum phi t
 * over the values used (phi: the nw inputs under the kernel, then 1), in
 * one pass, into a ((nw+1)^2, full) and r (nw+1); then the ridge times the
 * mean of the diagonal added to the diagonal.
 */
static imf_status normal_equations(const learn_ctx *c, double ridge, double *a, double *r,
                                   imf_error *err)
{
	const size_t n = c->nw + 1, nw = c->nw, S = c->stride;
	const size_t span = c->ow < EXACT_SPAN ? c->ow : EXACT_SPAN;
	size_t glen;
	double *gx = NULL, *mg = NULL;

	if (!imf_size_mul(nw, span, &glen))
		return imf_error_set(err, IMF_ENOMEM, "learn: the normal equations are too large");
	gx = imf_alloc_array(glen ? glen : 1, sizeof *gx, err);
	mg = imf_alloc_array(glen ? glen : 1, sizeof *mg, err);
	if (!gx || !mg) {
		free(gx);
		free(mg);
		return IMF_ENOMEM;
	}
	memset(a, 0, n * n * sizeof *a);
	memset(r, 0, n * sizeof *r);
	for (int o = 0; o < c->nout; o++) {
		for (size_t oy = 0; oy < c->oh; oy++) {
			const double *t = c->t + ((size_t)o * c->oh + oy) * c->ow;
			const double *m = c->m + ((size_t)o * c->oh + oy) * c->ow;
			for (size_t x0 = 0; x0 < c->ow; x0 += span) {
				size_t len = c->ow - x0 < span ? c->ow - x0 : span;
				const double *tt = t + x0, *mm = m + x0;
				double msum = 0, mt = 0;
				/* gather: gx[k][x] = input of weight k at column x0 + x; mg = m * gx */
				for (size_t k = 0; k < nw; k++) {
					const double *src = tap_row(c, k, o, oy) + x0 * S;
					double *g = gx + k * span, *h = mg + k * span;
					for (size_t x = 0; x < len; x++) {
						g[x] = src[x * S];
						h[x] = mm[x] * g[x];
					}
				}
				for (size_t k = 0; k < nw; k++) {
					const double *h = mg + k * span;
					double sb = 0, st = 0;
					for (size_t j = k; j < nw; j++) {
						const double *g = gx + j * span;
						double sum = 0;
						for (size_t x = 0; x < len; x++)
							sum += h[x] * g[x];
						a[k * n + j] += sum;
					}
					for (size_t x = 0; x < len; x++) {
						sb += h[x];
						st += h[x] * tt[x];
					}
					a[k * n + nw] += sb;
					r[k] += st;
				}
				for (size_t x = 0; x < len; x++) {
					msum += mm[x];
					mt += mm[x] * tt[x];
				}
				a[nw * n + nw] += msum;
				r[nw] += mt;
			}
		}
	}
	/* 1/N, the lower triangle, the ridge relative to the mean of the diagonal. */
	{
		const double inv = 1.0 / (double)c->used;
		double diag = 0;
		for (size_t i = 0; i < n; i++) {
			for (size_t j = i; j < n; j++) {
				a[i * n + j] *= inv;
				a[j * n + i] = a[i * n + j];
			}
			r[i] *= inv;
			diag += a[i * n + i];
		}
		diag /= (double)n;
		for (size_t i = 0; i < n; i++)
			a[i * n + i] += ridge * diag;
	}
	free(gx);
	free(mg);
	return IMF_OK;
}

/*
 * How much more the loss curves one way than another: the condition number
 * lambda_max / lambda_min of A = L L^T, by 100 power iterations on A and
 * on A^-1 (through L).  x and y are n doubles of scratch.
 */
static double condition(const double *a, const double *l, size_t n, double *x, double *y)
{
	double hi = 0, lo = 0, norm;

	for (int pass = 0; pass < 2; pass++) {
		double lambda = 0;
		for (size_t i = 0; i < n; i++)
			x[i] = 1.0 + (double)i / (double)n; /* not orthogonal to any eigenvector, in practice */
		for (int it = 0; it < 100; it++) {
			if (pass == 0) {
				for (size_t i = 0; i < n; i++) {
					double sum = 0;
					for (size_t j = 0; j < n; j++)
						sum += a[i * n + j] * x[j];
					y[i] = sum;
				}
			} else {
				cholesky_solve(l, x, y, n);
			}
			norm = 0;
			for (size_t i = 0; i < n; i++)
				norm += y[i] * y[i];
			norm = sqrt(norm);
			if (!(norm > 0) || !isfinite(norm))
				return HUGE_VAL;
			lambda = norm; /* x has unit length after the first pass */
			for (size_t i = 0; i < n; i++)
				x[i] = y[i] / norm;
		}
		if (pass == 0)
			hi = lambda;
		else
			lo = 1.0 / lambda;
	}
	return hi / lo;
}

/*
 * Solve the normal equations by Cholesky, with one step of iterative
 * refinement (v += A^-1 (r - A v)); *cond gets A's condition number.
 */
static imf_status solve_exact(const learn_ctx *c, double ridge, double *v, double *cond,
                              imf_error *err)
{
	const size_t n = c->nw + 1;
	size_t nn;
	double *a = NULL, *l = NULL, *r = NULL, *res = NULL, *dv = NULL;
	imf_status st;

	if (!imf_size_mul(n, n, &nn))
		return imf_error_set(err, IMF_ENOMEM, "learn: the normal equations are too large");
	a = imf_alloc_array(nn, sizeof *a, err);
	l = calloc(nn, sizeof *l);
	r = calloc(n, sizeof *r);
	res = calloc(n, sizeof *res);
	dv = calloc(n, sizeof *dv);
	if (!a || !l || !r || !res || !dv) {
		st = imf_error_set(err, IMF_ENOMEM, "learn: out of memory");
		goto cleanup;
	}
	if ((st = normal_equations(c, ridge, a, r, err)) != IMF_OK)
		goto cleanup;
	if (cholesky(a, l, n) != 0) {
		st = imf_error_set(err, IMF_EINVAL,
		                   "the normal equations are singular: the input does not determine "
		                   "the weights (a flat image?); give a --ridge above 0");
		goto cleanup;
	}
	cholesky_solve(l, r, v, n);
	for (size_t i = 0; i < n; i++) {
		double sum = r[i];
		for (size_t j = 0; j < n; j++)
			sum -= a[i * n + j] * v[j];
		res[i] = sum;
	}
	cholesky_solve(l, res, dv, n);
	for (size_t i = 0; i < n; i++)
		v[i] += dv[i];
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i])) {
			st = imf_error_set(err, IMF_EINVAL,
			                   "the normal equations gave no finite solution; give a larger "
			                   "--ridge");
			goto cleanup;
		}
	*cond = condition(a, l, n, res, dv);
	st = IMF_OK;
cleanup:
	free(a);
	free(l);
	free(r);
	free(res);
	free(dv);
	return st;
}

/*
 * The condition number of the problem for gd, which never forms A: one
 * more pass to build it (cheap beside the epochs), with the same ridge
 * (1e-12 when none is set, so that Cholesky works); NAN when there are more
 * weights than the exact solver takes.
 */
static double gd_condition(const learn_ctx *c, double ridge)
{
	double cond = NAN, *v;
	imf_error err;

	if (c->nw > IMF_LEARN_EXACT_MAX_WEIGHTS || !(v = calloc(c->nw + 1, sizeof *v)))
		return NAN;
	if (solve_exact(c, ridge > 0 ? ridge : 1e-12, v, &cond, &err) != IMF_OK)
		cond = HUGE_VAL;
	free(v);
	return cond;
}

/* ---- gradient descent ---------------------------------------------------------- */

static imf_status diverged(size_t epoch, double loss, double lr, imf_error *err)
{
	return imf_error_set(err, IMF_EINVAL,
	                     "gd diverged at epoch %zu: the loss became %g; the learning rate %g "
	                     "is too large, try a smaller --lr (such as %g)",
	                     epoch, loss, lr, lr / 10);
}

/*
 * Full-batch gradient descent on the divided data from v (nw weights, then
 * the bias / s), in place.
 */
static imf_status solve_gd(const learn_ctx *c, const imf_learn_params *p, double *v,
                           imf_learn_result *res, imf_error *err)
{
	const size_t n = c->nw + 1;
	const double lr = p->lr > 0 ? p->lr : imf_learn_default_lr(p->optimizer, c->nw);
	const double beta = p->momentum >= 0 ? p->momentum : imf_learn_default_momentum(p->optimizer);
	const double s2 = c->s * c->s;
	double *g = NULL, *m1 = NULL, *m2 = NULL;
	double start = 0, b1t = 1, b2t = 1;
	eval_buf eb = { 0 };
	imf_status st;

	g = calloc(n, sizeof *g);
	m1 = calloc(n, sizeof *m1);
	m2 = calloc(n, sizeof *m2);
	if (!g || !m1 || !m2) {
		st = imf_error_set(err, IMF_ENOMEM, "learn: out of memory");
		goto cleanup;
	}
	if ((st = eval_buf_new(c, &eb, err)) != IMF_OK)
		goto cleanup;
	res->epochs = 0;
	res->converged = 0;
	for (size_t e = 0; e < p->epochs; e++) {
		double loss = learn_eval(c, v, g, &eb), gmax = 0;

		if (e == 0) {
			start = loss;
			res->start_loss = loss * s2;
		}
		for (size_t k = 0; k < n; k++)
			if (fabs(g[k]) > gmax)
				gmax = fabs(g[k]);
		if (!isfinite(loss) || !isfinite(gmax) || loss > GD_DIVERGE * (start + 1.0)) {
			st = diverged(e + 1, loss * s2, lr, err);
			goto cleanup;
		}
		if (p->progress && p->progress(p->progress_user, e + 1, p->epochs, loss * s2) != 0)
			break;
		if (gmax <= GD_GRAD_TOL) {
			res->converged = 1;
			break;
		}
		switch (p->optimizer) {
		case IMF_LEARN_SGD:
			for (size_t k = 0; k < n; k++)
				v[k] -= lr * g[k];
			break;
		case IMF_LEARN_MOMENTUM: /* heavy ball: m1 = beta m1 + g */
			for (size_t k = 0; k < n; k++) {
				m1[k] = beta * m1[k] + g[k];
				v[k] -= lr * m1[k];
			}
			break;
		case IMF_LEARN_ADAM:
			b1t *= beta;
			b2t *= ADAM_BETA2;
			for (size_t k = 0; k < n; k++) {
				m1[k] = beta * m1[k] + (1 - beta) * g[k];
				m2[k] = ADAM_BETA2 * m2[k] + (1 - ADAM_BETA2) * g[k] * g[k];
				v[k] -= lr * (m1[k] / (1 - b1t)) / (sqrt(m2[k] / (1 - b2t)) + ADAM_EPS);
			}
			break;
		}
		res->epochs = e + 1;
	}
	st = IMF_OK;
cleanup:
	free(g);
	free(m1);
	free(m2);
	eval_buf_free(&eb);
	return st;
}

/* ---- results ------------------------------------------------------------------- */

/* v rounded to dec decimals (dec < 0: to a multiple of 10^-dec); never -0. */
static double round_decimals(double v, int dec)
{
	double r;
	if (dec >= 0 && dec <= 40) {
		char buf[400];
		snprintf(buf, sizeof buf, "%.*f", dec, v);
		r = strtod(buf, NULL);
	} else if (dec < 0) {
		double q = pow(10, -dec);
		r = round(v / q) * q;
	} else {
		r = v;
	}
	return r == 0 ? 0.0 : r;
}

/* Decimals that keep digits significant digits of a number of magnitude big. */
static int decimals_for(double big, int digits)
{
	if (!(big > 0) || !isfinite(big))
		return digits - 1;
	return digits - 1 - (int)floor(log10(big));
}

static imf_kernel *new_kernel(const learn_ctx *c, const double *w, imf_error *err)
{
	imf_kernel *k = calloc(1, sizeof *k);
	size_t per = c->fr * c->fc;

	if (!k)
		goto fail;
	k->combine = IMF_COMBINE_NONE;
	k->count = c->depth;
	k->name = strdup("learned");
	k->description = strdup("");
	k->m = calloc(c->depth, sizeof *k->m);
	if (!k->name || !k->description || !k->m)
		goto fail;
	for (size_t q = 0; q < c->depth; q++) {
		k->m[q].rows = c->fr;
		k->m[q].cols = c->fc;
		k->m[q].scale = 1.0;
		if (!(k->m[q].w = malloc(per * sizeof *k->m[q].w)))
			goto fail;
		memcpy(k->m[q].w, w + q * per, per * sizeof *k->m[q].w);
	}
	return k;
fail:
	imf_kernel_free(k);
	imf_error_set(err, IMF_ENOMEM, "learn: out of memory");
	return NULL;
}

/* The starting point on the divided data: init's weights (scale folded in) and bias / s. */
static void start_point(const learn_ctx *c, const imf_learn_params *p, double *v)
{
	size_t per = c->fr * c->fc;
	for (size_t k = 0; k < c->nw; k++)
		v[k] = p->init ? p->init->m[k / per].scale * p->init->m[k / per].w[k % per] : 0.0;
	v[c->nw] = p->init_bias / c->s;
}

imf_status imf_learn_run(const imf_image *in, const imf_image *target, const imf_learn_params *p,
                         imf_learn_result *res, imf_error *err)
{
	learn_ctx c;
	double *v = NULL;
	eval_buf eb = { 0 };
	imf_status st;

	if (!res)
		return imf_error_set(err, IMF_EINVAL, "learn: missing argument");
	memset(res, 0, sizeof *res);
	st = learn_setup(in, target, p, &c, err);
	if (st != IMF_OK)
		goto cleanup;
	if (!(v = calloc(c.nw + 1, sizeof *v))) {
		st = imf_error_set(err, IMF_ENOMEM, "learn: out of memory");
		goto cleanup;
	}
	if ((st = eval_buf_new(&c, &eb, err)) != IMF_OK)
		goto cleanup;
	res->used = c.used;
	res->masked = c.masked;
	if (p->solver == IMF_LEARN_EXACT) {
		st = solve_exact(&c, p->ridge, v, &res->condition, err);
	} else {
		start_point(&c, p, v);
		st = solve_gd(&c, p, v, res, err);
		if (st == IMF_OK)
			res->condition = gd_condition(&c, p->ridge);
	}
	if (st != IMF_OK)
		goto cleanup;
	if (p->digits > 0) {
		double big = 0;
		for (size_t k = 0; k < c.nw; k++)
			big = fabs(v[k]) > big ? fabs(v[k]) : big;
		int dw = decimals_for(big, p->digits), db = decimals_for(c.tmax, p->digits);
		for (size_t k = 0; k < c.nw; k++)
			v[k] = round_decimals(v[k], dw);
		v[c.nw] = round_decimals(v[c.nw] * c.s, db) / c.s;
	}
	res->loss = learn_eval(&c, v, NULL, &eb) * c.s * c.s;
	if (p->solver == IMF_LEARN_EXACT)
		res->start_loss = res->loss;
	res->bias = v[c.nw] * c.s;
	if (p->digits > 0) /* exactly the rounded decimal, not its round trip through 1/s */
		res->bias = round_decimals(res->bias, decimals_for(c.tmax, p->digits));
	if (!(res->kernel = new_kernel(&c, v, err)))
		st = IMF_ENOMEM;
cleanup:
	free(v);
	eval_buf_free(&eb);
	ctx_free(&c);
	return st;
}

imf_status imf_learn_gradient(const imf_image *in, const imf_image *target,
                              const imf_learn_params *p, const imf_kernel *k, double bias,
                              double *loss, double *grad, double *grad_bias, imf_error *err)
{
	learn_ctx c;
	imf_learn_params q;
	double *v = NULL, *g = NULL, l;
	eval_buf eb = { 0 };
	imf_status st;

	if (!p || !k)
		return imf_error_set(err, IMF_EINVAL, "learn: missing argument");
	q = *p;
	q.init = k;
	q.init_bias = bias;
	q.solver = IMF_LEARN_GD;
	st = learn_setup(in, target, &q, &c, err);
	if (st != IMF_OK)
		goto cleanup;
	v = calloc(c.nw + 1, sizeof *v);
	g = calloc(c.nw + 1, sizeof *g);
	if (!v || !g) {
		st = imf_error_set(err, IMF_ENOMEM, "learn: out of memory");
		goto cleanup;
	}
	if ((st = eval_buf_new(&c, &eb, err)) != IMF_OK)
		goto cleanup;
	start_point(&c, &q, v);
	l = learn_eval(&c, v, g, &eb);
	/* Back to the image's units: L = s^2 L', dL/dw = s^2 dL'/dw, dL/db = s dL'/db'. */
	if (loss)
		*loss = l * c.s * c.s;
	if (grad)
		for (size_t i = 0; i < c.nw; i++)
			grad[i] = g[i] * c.s * c.s;
	if (grad_bias)
		*grad_bias = g[c.nw] * c.s;
cleanup:
	free(v);
	free(g);
	eval_buf_free(&eb);
	ctx_free(&c);
	return st;
}

/* ---- explain ------------------------------------------------------------------- */


/* A float value (an input or target value) as the shortest decimal that reads back. */
static const char *fnum(char *buf, size_t len, double v)
{
	return imf_number_str(buf, len, v == 0 ? 0.0 : v, 1); /* no "-0" */
}

/* A computed value: 6 significant digits. */
static const char *gnum(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.6g", v == 0 ? 0.0 : v);
	return buf;
}

/* A weight or bias as given: the shortest decimal that reads back exactly. */
static const char *dnum(char *buf, size_t len, double v)
{
	return imf_number_str(buf, len, v == 0 ? 0.0 : v, 0); /* no "-0" */
}

/* How values are named: x_ij, x2_ij for plane 2, x_-1,3 when an index leaves 0..9. */
typedef struct xnames {
	int xplanes, yplanes, slices;
	int compact;
} xnames;

static void put_name(FILE *fp, const char *var, int planes, size_t plane, long r, long c,
                     int compact)
{
	if (planes > 1)
		fprintf(fp, "%s%zu_", var, plane + 1);
	else
		fprintf(fp, "%s_", var);
	fprintf(fp, compact ? "%ld%ld" : "%ld,%ld", r, c);
}

/* Everything explain shows, in the image's units, for one output value. */
typedef struct xval {
	double y, t, dy; /* output, target, dL/dy */
	int used;
} xval;

/* The input value under weight k at output (o, oy, ox), and its 1-based indices. */
static double x_at(const learn_ctx *c, size_t k, int o, size_t oy, size_t ox, size_t *plane,
                   long *row, long *col)
{
	size_t per = c->fr * c->fc, q = k / per, a = k / c->fc % c->fr, b = k % c->fc;
	size_t i = c->flip ? c->fr - 1 - a : a, j = c->flip ? c->fc - 1 - b : b;
	/* padded coordinates, counted from the top and left padding */
	size_t py = oy * c->stride + i * c->dil, px = ox * c->stride + j * c->dil;
	*plane = c->per_out ? (size_t)o : q;
	*row = (long)py - (long)c->top + 1;
	*col = (long)px - (long)c->left + 1;
	return imf_image_row_const(c->xpad, (int)*plane, py + c->pad - c->top)[px + c->pad - c->left];
}

static void put_weight(FILE *fp, const learn_ctx *c, const xnames *nm, size_t k)
{
	size_t per = c->fr * c->fc;
	put_name(fp, "w", nm->slices, k / per, (long)(k / c->fc % c->fr) + 1, (long)(k % c->fc) + 1,
	         c->fr <= 9 && c->fc <= 9);
}

/* The raw forward pass: y and dL/dy for every output value; returns the loss. */
static double explain_forward(const learn_ctx *c, const double *w, double b, xval *vals)
{
	double loss = 0;
	size_t idx = 0, pl;
	long r, cc;
	for (int o = 0; o < c->nout; o++)
		for (size_t oy = 0; oy < c->oh; oy++)
			for (size_t ox = 0; ox < c->ow; ox++, idx++) {
				double y = b;
				for (size_t k = 0; k < c->nw; k++)
					y += w[k] * x_at(c, k, o, oy, ox, &pl, &r, &cc);
				vals[idx].y = y;
				vals[idx].t = imf_image_row_const(c->tgt, o, oy)[ox];
				vals[idx].used = c->m[idx] != 0;
				vals[idx].dy = vals[idx].used ? 2.0 / (double)c->used * (y - vals[idx].t) : 0;
				if (vals[idx].used)
					loss += (y - vals[idx].t) * (y - vals[idx].t);
			}
	return loss / (double)c->used;
}

static void explain_header(FILE *fp, const learn_ctx *c, const imf_learn_params *p,
                           const xnames *nm)
{
	char b1[64], b2[64];
	fprintf(fp, "learn: one step of gradient descent for a %zux%zu kernel (rows x columns", c->fr,
	        c->fc);
	if (c->depth > 1)
		fprintf(fp, ", %zu slices, one per input channel", c->depth);
	fprintf(fp, ") and a bias b, from the %zux%zu input x to the %zux%zu target t\n", c->width,
	        c->height, c->ow, c->oh);
	fprintf(fp, "  y_ij = sum of w*x under the kernel + b; stride %zu", c->stride);
	if (c->dil > 1)
		fprintf(fp, ", dilation %zu", c->dil);
	if (c->flip)
		fputs(", flipped (w_11 multiplies the bottom right of each window)", fp);
	fputc('\n', fp);
	if (c->top || c->bottom || c->left || c->right)
		fprintf(fp, "  x_ij with i outside 1..%zu or j outside 1..%zu is padding, from the %s "
		            "border\n",
		        c->height, c->width, imf_border_name(p->conv.border));
	if (nm->xplanes > 1)
		fputs("  x2_ij is channel 2 of the input, and so on\n", fp);
	if (p->init) {
		fputs("  start: the given kernel,", fp);
		for (size_t k = 0; k < c->nw; k++) {
			size_t per = c->fr * c->fc;
			fputs(k ? ", " : " ", fp);
			put_weight(fp, c, nm, k);
			fprintf(fp, " = %s",
			        dnum(b1, sizeof b1, p->init->m[k / per].scale * p->init->m[k / per].w[k % per]));
		}
		fprintf(fp, "; b = %s\n", dnum(b2, sizeof b2, p->init_bias));
	} else {
		fprintf(fp, "  start: every weight 0, b = %s\n", dnum(b2, sizeof b2, p->init_bias));
	}
}

imf_status imf_learn_explain(const imf_image *in, const imf_image *target,
                             const imf_learn_params *p, FILE *fp, imf_error *err)
{
	learn_ctx c;
	xnames nm;
	xval *vals = NULL;
	double *w = NULL, *g = NULL, *w2 = NULL, loss, loss2, b, gb = 0, b2v = 0;
	size_t nvals = 0, per;
	imf_status st;
	char n1[64], n2[64], n3[64], n4[64];

	if (!fp)
		return imf_error_set(err, IMF_EINVAL, "learn: missing argument");
	if (in && (in->width > EXPLAIN_MAX_SIDE || in->height > EXPLAIN_MAX_SIDE))
		return imf_error_set(err, IMF_EINVAL,
		                     "the input is %zux%zu: --explain shows inputs of at most %dx%d",
		                     in->width, in->height, EXPLAIN_MAX_SIDE, EXPLAIN_MAX_SIDE);
	st = learn_setup(in, target, p, &c, err);
	if (st != IMF_OK)
		goto cleanup;
	per = c.fr * c.fc;
	nvals = (size_t)c.nout * c.oh * c.ow; /* at most 8x8 per plane: no overflow */
	vals = calloc(nvals, sizeof *vals);
	w = calloc(c.nw, sizeof *w);
	g = calloc(c.nw, sizeof *g);
	w2 = calloc(c.nw, sizeof *w2);
	if (!vals || !w || !g || !w2) {
		st = imf_error_set(err, IMF_ENOMEM, "learn: out of memory");
		goto cleanup;
	}
	for (size_t k = 0; k < c.nw; k++)
		w[k] = p->init ? p->init->m[k / per].scale * p->init->m[k / per].w[k % per] : 0.0;
	b = p->init_bias;

	nm.xplanes = c.nin;
	nm.yplanes = c.nout;
	nm.slices = (int)c.depth;
	{
		/* One digit per index unless a padded index leaves 0..9. */
		long lo = 1 - (long)(c.top > c.left ? c.top : c.left);
		long hi = (long)((c.oh - 1) * c.stride + c.er) - (long)c.top;
		long hi2 = (long)((c.ow - 1) * c.stride + c.ec) - (long)c.left;
		nm.compact = lo >= 0 && hi <= 9 && hi2 <= 9 && c.oh <= 9 && c.ow <= 9;
	}
	explain_header(fp, &c, p, &nm);

	/* forward */
	loss = explain_forward(&c, w, b, vals);
	fputs("\nforward pass:\n", fp);
	{
		size_t idx = 0;
		for (int o = 0; o < c.nout; o++)
			for (size_t oy = 0; oy < c.oh; oy++)
				for (size_t ox = 0; ox < c.ow; ox++, idx++) {
					size_t pl;
					long r, cc;
					fputs("  ", fp);
					put_name(fp, "y", nm.yplanes, (size_t)o, (long)oy + 1, (long)ox + 1,
					         nm.compact);
					fputs(" =", fp);
					for (size_t k = 0; k < c.nw; k++) {
						x_at(&c, k, o, oy, ox, &pl, &r, &cc);
						fputs(k ? " + " : " ", fp);
						put_weight(fp, &c, &nm, k);
						fputc('*', fp);
						put_name(fp, "x", nm.xplanes, pl, r, cc, nm.compact);
					}
					fputs(" + b =", fp);
					for (size_t k = 0; k < c.nw; k++) {
						double xv = x_at(&c, k, o, oy, ox, &pl, &r, &cc);
						fprintf(fp, "%s%s*%s", k ? " + " : " ", dnum(n1, sizeof n1, w[k]),
						        fnum(n2, sizeof n2, xv));
					}
					fprintf(fp, " + %s = %s\n", dnum(n1, sizeof n1, b),
					        gnum(n2, sizeof n2, vals[idx].y));
				}
	}

	/* loss and dL/dy */
	fprintf(fp, "\nloss: L = 1/N * sum (y_ij - t_ij)^2 over the N = %zu target values used = %s\n",
	        c.used, gnum(n1, sizeof n1, loss));
	if (c.masked)
		fprintf(fp, "  %zu saturated target value%s (0 or 255 in an 8-bit image: clipped) "
		            "left out, their dL/dy is 0\n",
		        c.masked, c.masked == 1 ? "" : "s");
	fprintf(fp, "\noutput gradients, dL/dy_ij = 2/N * (y_ij - t_ij) = 2/%zu * (y_ij - t_ij):\n",
	        c.used);
	{
		size_t idx = 0;
		for (int o = 0; o < c.nout; o++)
			for (size_t oy = 0; oy < c.oh; oy++)
				for (size_t ox = 0; ox < c.ow; ox++, idx++) {
					fputs("  dL/d", fp);
					put_name(fp, "y", nm.yplanes, (size_t)o, (long)oy + 1, (long)ox + 1,
					         nm.compact);
					if (!vals[idx].used) {
						fputs(" = 0 (", fp);
						put_name(fp, "t", nm.yplanes, (size_t)o, (long)oy + 1, (long)ox + 1,
						         nm.compact);
						fprintf(fp, " = %s is saturated: left out)\n",
						        fnum(n1, sizeof n1, vals[idx].t));
						continue;
					}
					fprintf(fp, " = 2/%zu * (%s - %s) = %s\n", c.used,
					        gnum(n1, sizeof n1, vals[idx].y), fnum(n2, sizeof n2, vals[idx].t),
					        gnum(n3, sizeof n3, vals[idx].dy));
				}
	}

	/* weight gradients: sums over the positions */
	fputs("\nweight gradients: each weight is shared by every position, so its gradient is the "
	      "sum over the positions of dL/dy times the input value it multiplied there:\n",
	      fp);
	for (size_t k = 0; k < c.nw; k++) {
		double sum = 0;
		for (int numeric = 0; numeric < 2; numeric++) {
			size_t idx = 0;
			int first = 1;
			if (numeric)
				fputs("\n          =", fp);
			else {
				fputs("  dL/d", fp);
				put_weight(fp, &c, &nm, k);
				fputs(" =", fp);
			}
			for (int o = 0; o < c.nout; o++)
				for (size_t oy = 0; oy < c.oh; oy++)
					for (size_t ox = 0; ox < c.ow; ox++, idx++) {
						size_t pl;
						long r, cc;
						double xv = x_at(&c, k, o, oy, ox, &pl, &r, &cc);
						if (!vals[idx].used)
							continue;
						fputs(first ? " " : " + ", fp);
						first = 0;
						if (numeric) {
							fprintf(fp, "%s*%s", gnum(n1, sizeof n1, vals[idx].dy),
							        fnum(n2, sizeof n2, xv));
							sum += vals[idx].dy * xv;
						} else {
							fputs("dL/d", fp);
							put_name(fp, "y", nm.yplanes, (size_t)o, (long)oy + 1,
							         (long)ox + 1, nm.compact);
							fputc('*', fp);
							put_name(fp, "x", nm.xplanes, pl, r, cc, nm.compact);
						}
					}
		}
		g[k] = sum;
		fprintf(fp, "\n          = %s\n", gnum(n1, sizeof n1, sum));
	}
	{
		size_t idx = 0;
		int first = 1;
		fputs("  dL/db =", fp);
		for (int o = 0; o < c.nout; o++)
			for (size_t oy = 0; oy < c.oh; oy++)
				for (size_t ox = 0; ox < c.ow; ox++, idx++) {
					if (!vals[idx].used)
						continue;
					fputs(first ? " dL/d" : " + dL/d", fp);
					first = 0;
					put_name(fp, "y", nm.yplanes, (size_t)o, (long)oy + 1, (long)ox + 1,
					         nm.compact);
					gb += vals[idx].dy;
				}
		fputs(" =", fp);
		first = 1;
		for (idx = 0; idx < nvals; idx++) {
			if (!vals[idx].used)
				continue;
			fprintf(fp, "%s%s", first ? " " : " + ", gnum(n1, sizeof n1, vals[idx].dy));
			first = 0;
		}
		fprintf(fp, " = %s\n", gnum(n1, sizeof n1, gb));
	}

	/* the step, as gd's first epoch takes it */
	{
		const double lr = p->lr > 0 ? p->lr : imf_learn_default_lr(p->optimizer, c.nw);
		const double s = c.s, ws = lr / (s * s);
		fprintf(fp, "\nstep (%s, lr %s): gd works on x and t divided by s = %s, the largest "
		            "|x|; the weights are the same on both scales and the bias is b/s, so\n",
		        imf_learn_optimizer_name(p->optimizer), dnum(n1, sizeof n1, lr),
		        fnum(n2, sizeof n2, s));
		if (p->optimizer == IMF_LEARN_ADAM) {
			fputs("  adam's first step moves each weight by about lr against the sign of its "
			      "gradient g on the divided scale (g = dL/dw / s^2, dL/db / s):\n"
			      "  w <- w - lr * g/(|g| + 1e-8),  b <- b - s * lr * g/(|g| + 1e-8)\n",
			      fp);
			for (size_t k = 0; k < c.nw; k++) {
				double gs = g[k] / (s * s), f = gs / (fabs(gs) + ADAM_EPS);
				w2[k] = w[k] - lr * f;
				fputs("  ", fp);
				put_weight(fp, &c, &nm, k);
				fprintf(fp, " = %s - %s * %s = %s\n", dnum(n1, sizeof n1, w[k]),
				        dnum(n2, sizeof n2, lr), gnum(n3, sizeof n3, f),
				        gnum(n4, sizeof n4, w2[k]));
			}
			{
				double gs = gb / s, f = gs / (fabs(gs) + ADAM_EPS);
				b2v = b - s * lr * f;
				fprintf(fp, "  b = %s - %s * %s * %s = ", dnum(n1, sizeof n1, b),
				        fnum(n2, sizeof n2, s), dnum(n3, sizeof n3, lr), gnum(n4, sizeof n4, f));
				fprintf(fp, "%s\n", gnum(n1, sizeof n1, b2v));
			}
		} else {
			fprintf(fp, "  w <- w - lr/s^2 * dL/dw = w - %s * dL/dw,  b <- b - lr * dL/db\n",
			        gnum(n1, sizeof n1, ws));
			if (p->optimizer == IMF_LEARN_MOMENTUM)
				fputs("  (momentum's first step is this plain one: its velocity starts at 0)\n",
				      fp);
			for (size_t k = 0; k < c.nw; k++) {
				w2[k] = w[k] - ws * g[k];
				fputs("  ", fp);
				put_weight(fp, &c, &nm, k);
				fprintf(fp, " = %s - %s * %s = %s\n", dnum(n1, sizeof n1, w[k]),
				        gnum(n2, sizeof n2, ws), gnum(n3, sizeof n3, g[k]),
				        gnum(n4, sizeof n4, w2[k]));
			}
			b2v = b - lr * gb;
			fprintf(fp, "  b = %s - %s * %s = %s\n", dnum(n1, sizeof n1, b),
			        dnum(n2, sizeof n2, lr), gnum(n3, sizeof n3, gb),
			        gnum(n4, sizeof n4, b2v));
		}
	}
	loss2 = explain_forward(&c, w2, b2v, vals);
	fprintf(fp, "\nloss after the step: L = %s (before: %s)\n", gnum(n1, sizeof n1, loss2),
	        gnum(n2, sizeof n2, loss));
	if (ferror(fp))
		st = imf_error_set(err, IMF_EIO, "write failed");
cleanup:
	free(vals);
	free(w);
	free(g);
	free(w2);
	ctx_free(&c);
	return st;
}
