/*
 * chain_report.c - the --dry-run report: each stage's output shape,
 * learnable parameters, receptive field and jump, worked out from the
 * input's shape alone (no pixels are read or computed).
 *
 * Per axis, with the stage's geometry:
 *   conv  E = D(F-1)+1, padding from imf_conv_padding(E),
 *         out = floor((M + before + after - E) / S) + 1
 *   pool  out = floor((M + 2P - K) / S) + 1          (needs P < K <= M + 2P)
 *   receptive field r and jump j, starting from r = j = 1:
 *         r' = r + (E - 1) j,  j' = j S          (a pool has E = K)
 *   learnable parameters: size-only (kh kw Cin + 1) Cout, or kh kw Cin Cout
 *   with nobias; a real kernel kh kw depth per matrix (a magnitude kernel
 *   counts its parts), + 1 when bias= was given.
 * Every sum and product goes through imf_size_add / imf_size_mul: a
 * --shape or a size-only kernel can name any size, and an overflow is
 * reported on the stage's row rather than wrapped.  Activations and
 * normalize keep the shape and have no parameters.
 */
#include "chain_internal.h"

#include <stdlib.h>
#include <string.h>

/* 10860 -> "10,860" */
static void thousands(size_t v, char *buf, size_t len)
{
	char digits[32], *p = buf;
	size_t n = (size_t)snprintf(digits, sizeof digits, "%zu", v);

	if (len < n + n / 3 + 1) {
		snprintf(buf, len, "%s", digits);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			*p++ = ',';
		*p++ = digits[i];
	}
	*p = '\0';
}

/* "3" for a square extent, else "WxH". */
static void axes(size_t w, size_t h, char *buf, size_t len)
{
	if (w == h)
		snprintf(buf, len, "%zu", w);
	else
		snprintf(buf, len, "%zux%zu", w, h);
}

/* What the report knows after a stage. */
typedef struct shape {
	size_t w, h, c;
	size_t rfw, rfh, jump;
} shape;

/* r' = r + (E - 1) j per axis, j' = j S; 0 on overflow. */
static int grow_field(shape *sh, size_t ew, size_t eh, size_t stride)
{
	size_t t;
	return imf_size_mul(ew - 1, sh->jump, &t) && imf_size_add(sh->rfw, t, &sh->rfw) &&
	       imf_size_mul(eh - 1, sh->jump, &t) && imf_size_add(sh->rfh, t, &sh->rfh) &&
	       imf_size_mul(sh->jump, stride, &sh->jump);
}

/*
 * A conv stage's output shape, receptive field and parameters from the
 * input shape in sh; the reason in msg when it does not fit.  Each kernel
 * has its own geometry; their maps must come out the same size (same
 * padding always does: floor((M - 1) / S) + 1 whatever E), and the
 * receptive field grows by the largest extent.
 */
static int report_conv(const imf_stage *s, shape *sh, size_t *params, char *msg, size_t len)
{
	size_t count = s->size_only ? 1 : s->nkernels;
	size_t ow = 0, oh = 0, ewmax = 1, ehmax = 1, cout = 0, n = 0;
	char who[48] = "";

	for (size_t i = 0; i < count; i++) {
		size_t rows, cols, er, ec, top, bottom, left, right, ph, pw, kw, kh, t;

		if (count > 1)
			snprintf(who, sizeof who, "kernel %zu: ", i + 1);
		if (s->size_only) {
			rows = s->rows;
			cols = s->cols;
		} else {
			imf_kernel_dims(s->kernels[i], &rows, &cols);
		}
		/* E = D(F-1)+1 */
		if (!imf_size_mul(rows - 1, s->p.dilation, &er) || !imf_size_add(er, 1, &er) ||
		    !imf_size_mul(cols - 1, s->p.dilation, &ec) || !imf_size_add(ec, 1, &ec)) {
			snprintf(msg, len, "%sdilation %zu is too large for a %zux%zu kernel", who,
			         s->p.dilation, cols, rows);
			return 0;
		}
		imf_conv_padding(&s->p, er, &top, &bottom);
		imf_conv_padding(&s->p, ec, &left, &right);
		if (!imf_size_add(sh->h, top, &t) || !imf_size_add(t, bottom, &ph) ||
		    !imf_size_add(sh->w, left, &t) || !imf_size_add(t, right, &pw)) {
			snprintf(msg, len, "%spadding is too large", who);
			return 0;
		}
		if (ph < er || pw < ec) {
			if (s->p.dilation == 1)
				snprintf(msg, len, "%skernel %zux%zu is larger than the padded input %zux%zu",
				         who, cols, rows, pw, ph);
			else
				snprintf(msg, len, "%skernel %zux%zu with dilation %zu (extent %zux%zu) is "
				         "larger than the padded input %zux%zu",
				         who, cols, rows, s->p.dilation, ec, er, pw, ph);
			return 0;
		}
		/* out = floor((M + before + after - E) / S) + 1 */
		kh = (ph - er) / s->p.stride + 1;
		kw = (pw - ec) / s->p.stride + 1;
		if (i > 0 && (kh != oh || kw != ow)) {
			snprintf(msg, len, "kernel %zu gives %zux%zu maps but kernel 1 gives %zux%zu "
			         "(pad=same keeps them equal)", i + 1, kw, kh, ow, oh);
			return 0;
		}
		oh = kh;
		ow = kw;
		ehmax = er > ehmax ? er : ehmax;
		ewmax = ec > ewmax ? ec : ewmax;

		if (s->size_only) {
			/* (kh kw Cin + 1) Cout, or kh kw Cin Cout without a bias */
			cout = s->out;
			if (!imf_size_mul(rows, cols, &t) || !imf_size_mul(t, sh->c, &t) ||
			    !imf_size_add(t, s->nobias ? 0 : 1, &t) || !imf_size_mul(t, cout, &n)) {
				snprintf(msg, len, "the parameter count overflows");
				return 0;
			}
		} else {
			const imf_kernel *k = s->kernels[i];
			size_t depth = imf_kernel_depth(k), w;
			if (depth > 1 && depth != sh->c) {
				snprintf(msg, len, "%skernel has %zu slices but the input has %zu channel%s",
				         who, depth, sh->c, sh->c == 1 ? "" : "s");
				return 0;
			}
			/* depthwise: one map per input plane; 3-D: one map */
			if (!imf_size_add(cout, depth > 1 ? 1 : sh->c, &cout)) {
				snprintf(msg, len, "the number of maps overflows");
				return 0;
			}
			/* kh kw per matrix: the slices of a 3-D kernel, the parts of a magnitude one */
			w = rows * cols * k->count + (s->has_bias ? 1 : 0);
			if (!imf_size_add(n, w, &n)) {
				snprintf(msg, len, "the parameter count overflows");
				return 0;
			}
		}
	}
	if (!s->size_only && cout > IMF_MAX_PLANES) {
		snprintf(msg, len, "%zu maps, more than the limit of %d", cout, IMF_MAX_PLANES);
		return 0;
	}
	sh->h = oh;
	sh->w = ow;
	sh->c = cout;
	*params = n;
	if (!grow_field(sh, ewmax, ehmax, s->p.stride)) {
		snprintf(msg, len, "the receptive field overflows");
		return 0;
	}
	return 1;
}

static int report_pool(const imf_stage *s, shape *sh, char *msg, size_t len)
{
	size_t ph, pw, t;

	if (s->pad >= s->k) {
		snprintf(msg, len, "pool padding %zu must be smaller than the window %zu", s->pad, s->k);
		return 0;
	}
	if (!imf_size_add(s->pad, s->pad, &t) || !imf_size_add(sh->h, t, &ph) ||
	    !imf_size_add(sh->w, t, &pw)) {
		snprintf(msg, len, "padding is too large");
		return 0;
	}
	if (s->k > ph || s->k > pw) {
		snprintf(msg, len, "pool window %zux%zu is larger than the padded input %zux%zu", s->k,
		         s->k, pw, ph);
		return 0;
	}
	sh->h = (ph - s->k) / s->stride + 1; /* floor((M + 2P - K) / S) + 1 */
	sh->w = (pw - s->k) / s->stride + 1;
	if (!grow_field(sh, s->k, s->k, s->stride)) {
		snprintf(msg, len, "the receptive field overflows");
		return 0;
	}
	return 1;
}

/* One row of the table; note (an error or "(not computed)") spans the columns after stage. */
typedef struct report_row {
	char num[24], text[IMF_QUOTE_MAX + 8], shape[72], params[32], rf[48], jump[24];
	char note[256];
} report_row;

static size_t maxlen(size_t a, const char *s)
{
	size_t n = strlen(s);
	return n > a ? n : a;
}

imf_status imf_chain_report(const imf_chain *c, size_t w, size_t h, size_t ch, FILE *fp,
                            imf_error *err)
{
	report_row *rows = NULL;
	shape sh = {w, h, ch, 1, 1, 1};
	size_t nrows, total = 0, bad = 0; /* bad: 1-based failing stage, 0 if none */
	size_t wn = 1, wt = 5, ws = 6, wp = 6, wr = 15, wj = 4;
	int nonsquare = 0;
	imf_status st = IMF_OK;

	if (!c || !fp)
		return imf_error_set(err, IMF_EINVAL, "chain: missing chain or stream");
	if (w == 0 || h == 0 || ch == 0)
		return imf_error_set(err, IMF_EINVAL, "input shape %zux%zux%zu is empty", w, h, ch);
	nrows = c->n + 2; /* input, stages, total */
	if (!(rows = calloc(nrows, sizeof *rows)))
		return imf_error_set(err, IMF_ENOMEM, "out of memory");

	snprintf(rows[0].num, sizeof rows[0].num, "0");
	snprintf(rows[0].text, sizeof rows[0].text, "input");
	snprintf(rows[0].shape, sizeof rows[0].shape, "%zux%zux%zu", w, h, ch);
	snprintf(rows[0].params, sizeof rows[0].params, "-");
	snprintf(rows[0].rf, sizeof rows[0].rf, "1");
	snprintf(rows[0].jump, sizeof rows[0].jump, "1");

	for (size_t i = 0; i < c->n; i++) {
		const imf_stage *s = &c->stages[i];
		report_row *r = &rows[i + 1];
		size_t params = 0;
		char msg[sizeof r->note - 8];
		int ok = 1;

		snprintf(r->num, sizeof r->num, "%zu", i + 1);
		imf_chain_quote(s->text, r->text, sizeof r->text);
		if (bad) {
			snprintf(r->note, sizeof r->note, "(not computed)");
			continue;
		}
		if (s->kind == IMF_STAGE_CONV)
			ok = report_conv(s, &sh, &params, msg, sizeof msg);
		else if (s->kind == IMF_STAGE_POOL)
			ok = report_pool(s, &sh, msg, sizeof msg);
		if (ok && !imf_size_add(total, params, &total)) {
			snprintf(msg, sizeof msg, "the parameter count overflows");
			ok = 0;
		}
		if (!ok) {
			bad = i + 1;
			snprintf(r->note, sizeof r->note, "error: %s", msg);
			st = imf_chain_stage_error(err, i + 1, s->text, IMF_EINVAL, "%s", msg);
			continue;
		}
		snprintf(r->shape, sizeof r->shape, "%zux%zux%zu", sh.w, sh.h, sh.c);
		thousands(params, r->params, sizeof r->params);
		axes(sh.rfw, sh.rfh, r->rf, sizeof r->rf);
		snprintf(r->jump, sizeof r->jump, "%zu", sh.jump);
		nonsquare |= sh.rfw != sh.rfh;
	}
	if (!bad) {
		snprintf(rows[nrows - 1].text, sizeof rows[nrows - 1].text, "total");
		thousands(total, rows[nrows - 1].params, sizeof rows[nrows - 1].params);
	}

	for (size_t i = 0; i < nrows; i++) {
		wn = maxlen(wn, rows[i].num);
		wt = maxlen(wt, rows[i].text);
		ws = maxlen(ws, rows[i].shape);
		wp = maxlen(wp, rows[i].params);
		wr = maxlen(wr, rows[i].rf);
		wj = maxlen(wj, rows[i].jump);
	}
	fprintf(fp, "%*s  %-*s  %-*s  %*s  %*s  %*s\n", (int)wn, "#", (int)wt, "stage", (int)ws,
	        "output", (int)wp, "params", (int)wr, "receptive field", (int)wj, "jump");
	for (size_t i = 0; i < nrows; i++) {
		const report_row *r = &rows[i];
		if (i == nrows - 1 && bad)
			break;
		if (r->note[0]) {
			fprintf(fp, "%*s  %-*s  %s\n", (int)wn, r->num, (int)wt, r->text, r->note);
			continue;
		}
		/* Trailing blanks trimmed: the total row ends at its count. */
		if (i == nrows - 1)
			fprintf(fp, "%*s  %-*s  %-*s  %*s\n", (int)wn, "", (int)wt, r->text, (int)ws, "",
			        (int)wp, r->params);
		else
			fprintf(fp, "%*s  %-*s  %-*s  %*s  %*s  %*s\n", (int)wn, r->num, (int)wt, r->text,
			        (int)ws, r->shape, (int)wp, r->params, (int)wr, r->rf, (int)wj, r->jump);
	}
	if (nonsquare)
		fprintf(fp, "note: shapes and receptive fields are width x height; a size-only kernel "
		            "HxW is rows x columns, as PyTorch's kernel_size=(kh, kw)\n");
	if (ferror(fp) && st == IMF_OK)
		st = imf_error_set(err, IMF_EIO, "cannot write the report");
	free(rows);
	return st;
}

