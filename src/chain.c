/*
 * chain.c - the stage language: parse a chain of CNN-style stages, free it,
 * answer questions about it, and run it.
 *
 * A chain is one string, stages separated by '|' (always a separator: an
 * inline matrix separates its rows with ';'):
 *
 *   conv KERNEL[,KERNEL...] [pad=P|same|valid|full] [stride=S] [dilation=D]
 *        [border=B] [bias=B] [flip]
 *   conv HxW out=N [nobias] [pad=..] [stride=..] [dilation=..]   (--dry-run only)
 *   relu | leaky-relu[=SLOPE] | sigmoid | tanh | abs
 *   maxpool K | minpool K | avgpool K   [stride=S] [pad=P]   (stride defaults to K)
 *   normalize
 *
 * Words are separated by white space, except inside [...], so an inline
 * matrix may be written "[0 -1 0; -1 5 -1; 0 -1 0]" or "1/16 * [1 2 1; ...]".
 * KERNEL is whatever imf_kernel_parse takes (a built-in, a file, an inline
 * matrix); commas outside brackets separate kernels, commas inside belong to
 * the matrix.  "same", "valid" and "full" may be written bare or as pad=.
 * A size-only kernel HxW is H rows by W columns, the order of PyTorch's
 * kernel_size=(kh, kw); everything imfilter prints (shapes, receptive fields,
 * kernel sizes in messages) is width x height, like image sizes.
 *
 * What a stage computes is defined by the module that runs it (conv.c,
 * stages.c, maps.c); this module only strings them together:
 *   conv   one imf_conv_run per kernel, the maps gathered in kernel order
 *          with imf_image_concat; a 2-D kernel on C planes gives C maps
 *          (depthwise), a 3-D kernel of depth C gives one.  A stage with one
 *          2-D kernel keeps the input's alpha (a colour image stays one);
 *          several kernels give feature maps without alpha.
 *   relu.. imf_activate on a copy; maxpool.. imf_pool; normalize imf_normalize.
 *
 * Messages quote the stage by number and text, white space collapsed and
 * long stages shortened: "stage 2 'maxpool 0': pool size must be at least 1".
 * The invariants of a parsed chain are listed in chain_internal.h; the
 * --dry-run report is chain_report.c, --explain is explain.c.
 */
#include "chain_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Values quoted from a bad word ("bad stride '...'"). */
#define WORD_MAX 40

/* ---- text helpers ---------------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char *dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* [s, e) trimmed, every run of white space made one space. */
static char *collapse_space(const char *s, const char *e)
{
	char *d = malloc((size_t)(e - s) + 1), *p = d;
	int gap = 0;

	if (!d)
		return NULL;
	for (; s < e; s++) {
		if (is_space(*s)) {
			gap = p != d;
			continue;
		}
		if (gap)
			*p++ = ' ';
		gap = 0;
		*p++ = *s;
	}
	*p = '\0';
	return d;
}

void imf_chain_quote(const char *text, char *buf, size_t len)
{
	size_t n = strlen(text);
	if (n <= IMF_QUOTE_MAX) {
		snprintf(buf, len, "%s", text);
		return;
	}
	n = IMF_QUOTE_MAX - 3;
	while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	snprintf(buf, len, "%.*s...", (int)n, text);
}

imf_status imf_chain_stage_error(imf_error *err, size_t n, const char *text, imf_status code,
                                 const char *fmt, ...)
{
	char msg[sizeof err->msg], q[IMF_QUOTE_MAX + 8];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	imf_chain_quote(text, q, sizeof q);
	return imf_error_set(err, code, "stage %zu '%s': %s", n, q, msg);
}

/* Append to the string in buf (of size len), cut to fit. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* ---- numbers ------------------------------------------------------------------ */

typedef enum whole_result { WHOLE_OK, WHOLE_BAD, WHOLE_BIG } whole_result;

/* A whole number: decimal digits only (no sign, no space, no suffix), at most SIZE_MAX. */
static whole_result parse_whole(const char *s, size_t *out)
{
	size_t v = 0;

	if (!*s)
		return WHOLE_BAD;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return WHOLE_BAD;
	for (; *s; s++) {
		size_t d = (size_t)(*s - '0');
		if (v > (SIZE_MAX - d) / 10)
			return WHOLE_BIG;
		v = v * 10 + d;
	}
	*out = v;
	return WHOLE_OK;
}

/* A finite decimal number ("0.2", "-1.5e-3"); no hex, inf or nan. */
static int parse_real(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
		return 0;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return 0;
	*out = v;
	return 1;
}

/* The shortest decimal that reads back as v (see chain_internal.h). */
imf_numstr imf_chain_num(double v, int is_float)
{
	imf_numstr n;
	imf_number_str(n.s, sizeof n.s, v, is_float);
	return n;
}

/* ---- words -------------------------------------------------------------------- */

/* The words of one stage: split at white space outside brackets. */
typedef struct words {
	char **w;
	size_t n;
} words;

static void words_free(words *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		free(ws->w[i]);
	free(ws->w);
	ws->w = NULL;
	ws->n = 0;
}

/*
 * Split [s, e) into words.  Brackets must balance and not nest (a matrix is
 * one level of [ ]); the message is left in msg for the caller to prefix.
 */
static imf_status split_words(const char *s, const char *e, words *ws, char *msg, size_t len)
{
	size_t cap = 0;
	int depth = 0;

	ws->w = NULL;
	ws->n = 0;
	for (const char *p = s; p < e; p++) {
		if (*p == '[' && depth++ > 0) {
			snprintf(msg, len, "nested '[' (a matrix is one [ ] with ';' between rows)");
			return IMF_EINVAL;
		}
		if (*p == ']' && --depth < 0) {
			snprintf(msg, len, "unbalanced ']'");
			return IMF_EINVAL;
		}
	}
	if (depth > 0) {
		snprintf(msg, len, "unbalanced '['");
		return IMF_EINVAL;
	}
	while (s < e) {
		const char *t;
		while (s < e && is_space(*s))
			s++;
		if (s == e)
			break;
		t = s;
		for (depth = 0; s < e && (depth > 0 || !is_space(*s)); s++)
			depth += *s == '[' ? 1 : *s == ']' ? -1 : 0;
		if (ws->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **nw = realloc(ws->w, nc * sizeof *nw);
			if (!nw)
				goto nomem;
			ws->w = nw;
			cap = nc;
		}
		if (!(ws->w[ws->n] = dup_range(t, (size_t)(s - t))))
			goto nomem;
		ws->n++;
	}
	return IMF_OK;

nomem:
	words_free(ws);
	snprintf(msg, len, "out of memory");
	return IMF_ENOMEM;
}

/* ---- parsing a stage -------------------------------------------------------------- */

static const char *const stage_names =
	"conv, relu, leaky-relu, sigmoid, tanh, abs, maxpool, minpool, avgpool, normalize";

/* Options a conv stage takes, so that "conv stride=2" is a missing kernel, not a file. */
static int is_conv_option(const char *w)
{
	static const char *const keys[] = {"pad=", "stride=", "dilation=", "border=", "bias=",
	                                   "out="};
	static const char *const flags[] = {"flip", "nobias", "same", "valid", "full"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strncmp(w, keys[i], strlen(keys[i])) == 0)
			return 1;
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strcmp(w, flags[i]) == 0)
			return 1;
	return 0;
}

/* Parse context: the stage being filled and where its message goes. */
typedef struct pctx {
	imf_stage *s;
	size_t num; /* 1-based stage number */
	imf_error *err;
	unsigned seen; /* options given so far (OPT_*) */
	const imf_limits *lim; /* kernel sizes and stage outputs */
} pctx;

enum {
	OPT_PAD = 1u << 0,
	OPT_STRIDE = 1u << 1,
	OPT_DILATION = 1u << 2,
	OPT_BORDER = 1u << 3,
	OPT_BIAS = 1u << 4,
	OPT_FLIP = 1u << 5,
	OPT_OUT = 1u << 6,
	OPT_NOBIAS = 1u << 7
};

/* The stage's message with a status code; FAIL for the usual IMF_EINVAL. */
#define STAGE_ERR(ctx, code, ...) \
	imf_chain_stage_error((ctx)->err, (ctx)->num, (ctx)->s->text, (code), __VA_ARGS__)
#define FAIL(ctx, ...) STAGE_ERR(ctx, IMF_EINVAL, __VA_ARGS__)

static imf_status once(pctx *ctx, unsigned opt, const char *name)
{
	if (ctx->seen & opt)
		return FAIL(ctx, "option '%s' given twice", name);
	ctx->seen |= opt;
	return IMF_OK;
}

/* A whole number >= 1 for the option called name. */
static imf_status positive(pctx *ctx, const char *name, const char *v, size_t *out)
{
	switch (parse_whole(v, out)) {
	case WHOLE_OK:
		break;
	case WHOLE_BAD:
		return FAIL(ctx, "bad %s '%.*s' (a whole number)", name, WORD_MAX, v);
	case WHOLE_BIG:
		return FAIL(ctx, "%s '%.*s' is too large", name, WORD_MAX, v);
	}
	if (*out == 0)
		return FAIL(ctx, "%s must be at least 1", name);
	return IMF_OK;
}

/* pad=VALUE of a pool (whole numbers only) or a conv (also same, valid, full). */
static imf_status parse_pad(pctx *ctx, const char *v, int conv, imf_pad_mode *mode, size_t *pad)
{
	static const struct {
		const char *name;
		imf_pad_mode mode;
	} modes[] = {{"same", IMF_PAD_SAME}, {"valid", IMF_PAD_VALID}, {"full", IMF_PAD_FULL}};
	imf_status st = once(ctx, OPT_PAD, "pad");

	if (st != IMF_OK)
		return st;
	for (size_t i = 0; conv && i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(v, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return IMF_OK;
		}
	}
	switch (parse_whole(v, pad)) {
	case WHOLE_OK:
		if (mode)
			*mode = IMF_PAD_EXPLICIT;
		return IMF_OK;
	case WHOLE_BIG:
		return FAIL(ctx, "padding '%.*s' is too large", WORD_MAX, v);
	case WHOLE_BAD:
		break;
	}
	return FAIL(ctx, "bad padding '%.*s' (%s)", WORD_MAX, v,
	            conv ? "same, valid, full or a whole number" : "a whole number");
}

/*
 * w as a size-only kernel "HxW" (H rows, W columns, as PyTorch's
 * kernel_size=(kh, kw)): *is_size says whether w has that shape at all.
 */
static imf_status parse_size_only(pctx *ctx, const char *w, int *is_size)
{
	const char *x = strchr(w, 'x');
	char *a;
	size_t r = 0, c = 0;
	whole_result ra, rc;

	*is_size = 0;
	if (!x || x == w || !x[1])
		return IMF_OK;
	if (!(a = dup_range(w, (size_t)(x - w))))
		return STAGE_ERR(ctx, IMF_ENOMEM, "out of memory");
	ra = parse_whole(a, &r);
	free(a);
	rc = parse_whole(x + 1, &c);
	if (ra == WHOLE_BAD || rc == WHOLE_BAD)
		return IMF_OK; /* not a size: a kernel name such as "box3x3" */
	*is_size = 1;
	if (ra == WHOLE_BIG || rc == WHOLE_BIG)
		return FAIL(ctx, "kernel size '%.*s' is too large", WORD_MAX, w);
	if (r == 0 || c == 0)
		return FAIL(ctx, "kernel size %s must be at least 1x1", w);
	/* The limit a real kernel of this size would meet (sizes printed width x height). */
	size_t max = ctx->lim->max_kernel;
	if (max == 0 || max > IMF_KERNEL_SIDE_CEILING)
		max = IMF_KERNEL_SIDE_CEILING;
	if ((r > max || c > max) && max == IMF_KERNEL_SIDE_CEILING)
		return FAIL(ctx, "kernel %zux%zu is over the limit of %d per side", c, r,
		            IMF_KERNEL_SIDE_CEILING);
	if (r > max || c > max)
		return FAIL(ctx, "kernel %zux%zu is over the --max-kernel limit of %zu per side (raise "
		                 "it with --max-kernel)",
		            c, r, max);
	ctx->s->size_only = 1;
	ctx->s->rows = r;
	ctx->s->cols = c;
	return IMF_OK;
}

/*
 * The kernel list starting at word *i: words are joined while a ',' or '*'
 * ends one or starts the next ("sobel-x, sobel-y", "1/16 * [1 2 1; ...]").
 */
static char *kernel_list(const words *ws, size_t *i)
{
	size_t len = 0, j;
	char *list;

	for (j = *i; j < ws->n; j++) {
		len += strlen(ws->w[j]) + 1;
		if (j + 1 >= ws->n)
			break;
		const char *cur = ws->w[j], *next = ws->w[j + 1];
		char last = cur[strlen(cur) - 1];
		if ((last != ',' && last != '*' && next[0] != ',' && next[0] != '*') ||
		    is_conv_option(next))
			break;
	}
	if (!(list = malloc(len + 1)))
		return NULL;
	list[0] = '\0';
	for (size_t t = *i; t <= j; t++) {
		if (t > *i)
			strcat(list, " ");
		strcat(list, ws->w[t]);
	}
	*i = j + 1;
	return list;
}

/* Load each comma-separated kernel of list (commas inside [ ] belong to a matrix). */
static imf_status load_kernels(pctx *ctx, const char *list)
{
	imf_stage *s = ctx->s;
	size_t count = 1;
	int depth = 0;
	imf_status st = IMF_OK;
	char *piece = NULL;

	for (const char *p = list; *p; p++) {
		depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
		count += *p == ',' && depth == 0;
	}
	if (!(s->kernels = calloc(count, sizeof *s->kernels)))
		return STAGE_ERR(ctx, IMF_ENOMEM, "out of memory");

	const char *start = list;
	depth = 0;
	for (const char *p = list;; p++) {
		if (*p && !(*p == ',' && depth == 0)) {
			depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
			continue;
		}
		const char *a = start, *b = p;
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		if (a == b) {
			st = FAIL(ctx, "empty kernel in the list '%.*s'", WORD_MAX, list);
			goto cleanup;
		}
		if (!(piece = dup_range(a, (size_t)(b - a)))) {
			st = STAGE_ERR(ctx, IMF_ENOMEM, "out of memory");
			goto cleanup;
		}
		int so;
		if ((st = parse_size_only(ctx, piece, &so)) != IMF_OK)
			goto cleanup;
		if (so && count > 1) {
			st = FAIL(ctx, "a size-only kernel (%s) cannot be mixed with other kernels",
			          piece);
			goto cleanup;
		}
		if (!so) {
			imf_error kerr = {0};
			st = imf_kernel_parse_limited(piece, ctx->lim, &s->kernels[s->nkernels], &kerr);
			if (st != IMF_OK) {
				STAGE_ERR(ctx, st, "%s", kerr.msg);
				goto cleanup;
			}
			s->nkernels++;
		}
		free(piece);
		piece = NULL;
		if (!*p)
			break;
		start = p + 1;
	}

cleanup:
	free(piece);
	return st;
}

static imf_status parse_conv(pctx *ctx, const words *ws)
{
	imf_stage *s = ctx->s;
	size_t i = 1;
	char *list = NULL;
	imf_status st = IMF_OK;

	s->kind = IMF_STAGE_CONV;
	imf_conv_params_default(&s->p);
	if (ws->n < 2 || is_conv_option(ws->w[1]))
		return FAIL(ctx, "missing kernel");
	if (!(list = kernel_list(ws, &i)))
		return STAGE_ERR(ctx, IMF_ENOMEM, "out of memory");

	for (; i < ws->n; i++) {
		const char *w = ws->w[i], *eq = strchr(w, '='), *v = eq ? eq + 1 : NULL;
		size_t klen = eq ? (size_t)(eq - w) : strlen(w);

		if (strcmp(w, "flip") == 0) {
			st = once(ctx, OPT_FLIP, "flip");
			s->p.flip = 1;
		} else if (strcmp(w, "nobias") == 0) {
			st = once(ctx, OPT_NOBIAS, "nobias");
			s->nobias = 1;
		} else if (strcmp(w, "same") == 0 || strcmp(w, "valid") == 0 ||
		           strcmp(w, "full") == 0) {
			st = parse_pad(ctx, w, 1, &s->p.pad_mode, &s->p.pad);
		} else if (eq && klen == 3 && strncmp(w, "pad", 3) == 0) {
			st = parse_pad(ctx, v, 1, &s->p.pad_mode, &s->p.pad);
		} else if (eq && klen == 6 && strncmp(w, "stride", 6) == 0) {
			if ((st = once(ctx, OPT_STRIDE, "stride")) == IMF_OK)
				st = positive(ctx, "stride", v, &s->p.stride);
		} else if (eq && klen == 8 && strncmp(w, "dilation", 8) == 0) {
			if ((st = once(ctx, OPT_DILATION, "dilation")) == IMF_OK)
				st = positive(ctx, "dilation", v, &s->p.dilation);
		} else if (eq && klen == 3 && strncmp(w, "out", 3) == 0) {
			if ((st = once(ctx, OPT_OUT, "out")) == IMF_OK)
				st = positive(ctx, "out", v, &s->out);
		} else if (eq && klen == 6 && strncmp(w, "border", 6) == 0) {
			imf_error berr = {0};
			if ((st = once(ctx, OPT_BORDER, "border")) == IMF_OK &&
			    imf_border_parse(v, &s->p.border, &berr) != IMF_OK)
				st = FAIL(ctx, "%s", berr.msg);
		} else if (eq && klen == 4 && strncmp(w, "bias", 4) == 0) {
			if ((st = once(ctx, OPT_BIAS, "bias")) == IMF_OK && !parse_real(v, &s->p.bias))
				st = FAIL(ctx, "bad bias '%.*s' (a number)", WORD_MAX, v);
			s->has_bias = 1;
		} else {
			st = FAIL(ctx, "unknown option '%.*s'", WORD_MAX, w);
		}
		if (st != IMF_OK)
			goto cleanup;
	}

	/* The kernels last: option errors are cheaper to find than a file. */
	if ((st = load_kernels(ctx, list)) != IMF_OK)
		goto cleanup;
	if (s->size_only && !(ctx->seen & OPT_OUT))
		st = FAIL(ctx, "a size-only kernel needs out=N, the number of maps (conv %zux%zu out=16)",
		          s->rows, s->cols);
	else if (!s->size_only && (ctx->seen & OPT_OUT))
		st = FAIL(ctx, "out=N goes with a size-only kernel such as 3x3 (real kernels give one "
		               "map each)");
	else if (!s->size_only && s->nobias)
		st = FAIL(ctx, "nobias goes with a size-only kernel such as 3x3 (a real kernel has a "
		               "bias only when bias= is given)");
	else if (s->size_only && s->has_bias)
		st = FAIL(ctx, "bias= needs a real kernel (a size-only kernel's bias is learned; nobias "
		               "drops it)");

cleanup:
	free(list);
	return st;
}

static imf_status parse_pool(pctx *ctx, const words *ws, imf_pool_kind kind)
{
	imf_stage *s = ctx->s;
	imf_status st;
	int stride_given = 0;

	s->kind = IMF_STAGE_POOL;
	s->pool = kind;
	if (ws->n < 2 || strchr(ws->w[1], '='))
		return FAIL(ctx, "missing pool size (%s K)", ws->w[0]);
	if ((st = positive(ctx, "pool size", ws->w[1], &s->k)) != IMF_OK)
		return st;
	for (size_t i = 2; i < ws->n; i++) {
		const char *w = ws->w[i];
		if (strncmp(w, "stride=", 7) == 0) {
			if ((st = once(ctx, OPT_STRIDE, "stride")) != IMF_OK ||
			    (st = positive(ctx, "stride", w + 7, &s->stride)) != IMF_OK)
				return st;
			stride_given = 1;
		} else if (strncmp(w, "pad=", 4) == 0) {
			if ((st = parse_pad(ctx, w + 4, 0, NULL, &s->pad)) != IMF_OK)
				return st;
		} else {
			return FAIL(ctx, "unknown option '%.*s'", WORD_MAX, w);
		}
	}
	if (!stride_given)
		s->stride = s->k;
	return IMF_OK;
}

/* The stage in [b, e) (its text already in ctx->s->text). */
static imf_status parse_stage(pctx *ctx, const char *b, const char *e)
{
	static const struct {
		const char *name;
		imf_activation act;
	} acts[] = {{"relu", IMF_ACT_RELU},       {"leaky-relu", IMF_ACT_LEAKY_RELU},
	            {"sigmoid", IMF_ACT_SIGMOID}, {"tanh", IMF_ACT_TANH},
	            {"abs", IMF_ACT_ABS}};
	static const struct {
		const char *name;
		imf_pool_kind kind;
	} pools[] = {{"maxpool", IMF_POOL_MAX}, {"minpool", IMF_POOL_MIN}, {"avgpool", IMF_POOL_AVG}};
	imf_stage *s = ctx->s;
	words ws;
	char msg[128];
	imf_status st;
	const char *name;

	if ((st = split_words(b, e, &ws, msg, sizeof msg)) != IMF_OK)
		return STAGE_ERR(ctx, st, "%s", msg);
	name = ws.w[0];

	if (strcmp(name, "conv") == 0) {
		st = parse_conv(ctx, &ws);
		goto done;
	}
	for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
		if (strcmp(name, pools[i].name) == 0) {
			st = parse_pool(ctx, &ws, pools[i].kind);
			goto done;
		}
	}
	if (strcmp(name, "normalize") == 0) {
		s->kind = IMF_STAGE_NORMALIZE;
	} else {
		const char *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		size_t i;
		for (i = 0; i < sizeof acts / sizeof acts[0]; i++)
			if (strlen(acts[i].name) == n && strncmp(name, acts[i].name, n) == 0)
				break;
		if (i == sizeof acts / sizeof acts[0]) {
			st = FAIL(ctx, "unknown stage (%s)", stage_names);
			goto done;
		}
		s->kind = IMF_STAGE_ACT;
		s->act = acts[i].act;
		s->slope = 0.01;
		if (eq && s->act != IMF_ACT_LEAKY_RELU) {
			st = FAIL(ctx, "%s takes no value", acts[i].name);
			goto done;
		}
		if (eq && !parse_real(eq + 1, &s->slope)) {
			st = FAIL(ctx, "bad slope '%.*s' (a number, as in leaky-relu=0.2)", WORD_MAX,
			          eq + 1);
			goto done;
		}
	}
	/* Activations and normalize take no options. */
	if (ws.n > 1)
		st = FAIL(ctx, "unknown option '%.*s'", WORD_MAX, ws.w[1]);

done:
	words_free(&ws);
	return st;
}

/* ---- the chain object ------------------------------------------------------------- */

static void stage_clear(imf_stage *s)
{
	for (size_t i = 0; i < s->nkernels; i++)
		imf_kernel_free(s->kernels[i]);
	free(s->kernels);
	free(s->text);
}

void imf_chain_free(imf_chain *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		stage_clear(&c->stages[i]);
	free(c->stages);
	free(c);
}

size_t imf_chain_length(const imf_chain *c)
{
	return c ? c->n : 0;
}

/* The index of the first stage with a size-only kernel, or c->n if there is none. */
static size_t first_size_only(const imf_chain *c)
{
	size_t i = 0;
	while (i < c->n && !(c->stages[i].kind == IMF_STAGE_CONV && c->stages[i].size_only))
		i++;
	return i;
}

int imf_chain_shape_only(const imf_chain *c)
{
	return c && first_size_only(c) < c->n;
}

void imf_chain_set_limits(imf_chain *c, const imf_limits *lim)
{
	/* Only a convolution can grow an image (padding); pools and activations cannot. */
	for (size_t i = 0; c && lim && i < c->n; i++)
		if (c->stages[i].kind == IMF_STAGE_CONV)
			c->stages[i].p.limits = *lim;
}

/* Why stage n (1-based) of count, found empty, is empty. */
static const char *empty_hint(size_t n, size_t count)
{
	if (n == count)
		return "text after the last '|'?";
	if (n == 1)
		return "a '|' before the first stage?";
	return "two '|' in a row?";
}

imf_status imf_chain_parse(const char *text, imf_chain **out, imf_error *err)
{
	return imf_chain_parse_limited(text, NULL, out, err);
}

imf_status imf_chain_parse_limited(const char *text, const imf_limits *lim, imf_chain **out,
                                   imf_error *err)
{
	imf_chain *c = NULL;
	size_t count = 1, n = 0;
	const char *p, *start;
	imf_status st = IMF_OK;
	imf_limits def;

	if (!out)
		return imf_error_set(err, IMF_EINVAL, "chain: no output given");
	*out = NULL;
	if (!lim) {
		imf_limits_default(&def);
		lim = &def;
	}
	if (!text)
		text = "";
	for (p = text; *p; p++)
		count += *p == '|';
	for (p = text; *p && is_space(*p); p++)
		;
	if (!*p && count == 1)
		return imf_error_set(err, IMF_EINVAL, "empty chain (give stages such as 'conv sobel-x "
		                                      "| relu')");

	if (!(c = calloc(1, sizeof *c)) || !(c->stages = calloc(count, sizeof *c->stages))) {
		st = imf_error_set(err, IMF_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (start = text;; start = p + 1) {
		imf_stage *s = &c->stages[n];
		pctx ctx = {s, n + 1, err, 0, lim};

		for (p = start; *p && *p != '|'; p++)
			;
		if (!(s->text = collapse_space(start, p))) {
			st = imf_error_set(err, IMF_ENOMEM, "out of memory");
			goto cleanup;
		}
		c->n = ++n;
		if (!s->text[0]) {
			st = FAIL(&ctx, "empty stage (%s)", empty_hint(n, count));
			goto cleanup;
		}
		if ((st = parse_stage(&ctx, start, p)) != IMF_OK)
			goto cleanup;
		if (!*p)
			break;
	}
	imf_chain_set_limits(c, lim);
	*out = c;
	c = NULL;

cleanup:
	imf_chain_free(c);
	return st;
}

imf_status imf_chain_from_conv(imf_kernel *k, const imf_conv_params *p, imf_chain **out,
                               imf_error *err)
{
	imf_chain *c = NULL;
	imf_stage *s;
	char text[256];

	if (!out) {
		imf_kernel_free(k);
		return imf_error_set(err, IMF_EINVAL, "chain: no output given");
	}
	*out = NULL;
	if (!k || !p) {
		imf_kernel_free(k);
		return imf_error_set(err, IMF_EINVAL, "chain: missing kernel or parameters");
	}
	if (!(c = calloc(1, sizeof *c)) || !(c->stages = calloc(1, sizeof *c->stages)) ||
	    !(c->stages[0].kernels = calloc(1, sizeof *c->stages[0].kernels))) {
		imf_kernel_free(k);
		imf_chain_free(c);
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	}
	c->n = 1;
	s = &c->stages[0];
	s->kind = IMF_STAGE_CONV;
	s->kernels[0] = k;
	s->nkernels = 1;
	s->p = *p;
	s->has_bias = p->bias != 0;

	/* The stage as the language would write it, for messages and reports. */
	snprintf(text, sizeof text, "conv %s", imf_kernel_name(k)[0] ? imf_kernel_name(k) : "kernel");
	if (p->pad_mode == IMF_PAD_VALID)
		append(text, sizeof text, " pad=valid");
	else if (p->pad_mode == IMF_PAD_FULL)
		append(text, sizeof text, " pad=full");
	else if (p->pad_mode != IMF_PAD_SAME)
		append(text, sizeof text, " pad=%zu", p->pad);
	if (p->stride != 1)
		append(text, sizeof text, " stride=%zu", p->stride);
	if (p->dilation != 1)
		append(text, sizeof text, " dilation=%zu", p->dilation);
	if (p->border != IMF_BORDER_ZERO)
		append(text, sizeof text, " border=%s", imf_border_name(p->border));
	if (p->bias != 0)
		append(text, sizeof text, " bias=%s", imf_chain_num(p->bias, 0).s);
	if (p->flip)
		append(text, sizeof text, " flip");
	if (!(s->text = collapse_space(text, text + strlen(text)))) {
		imf_chain_free(c);
		return imf_error_set(err, IMF_ENOMEM, "out of memory");
	}
	c->single = 1;
	*out = c;
	return IMF_OK;
}

/* ---- running ----------------------------------------------------------------------- */

/* A deep copy (source and maps flag included). */
static imf_status image_copy(const imf_image *in, imf_image **out, imf_error *err)
{
	imf_status st = imf_image_new(in->width, in->height, in->channels, in->has_alpha, NULL, out,
	                              err);
	if (st != IMF_OK)
		return st;
	imf_image_set_source(*out, in->src_format, in->src_depth);
	imf_image_set_maps(*out, imf_image_is_maps(in));
	for (int c = 0; c < in->channels; c++)
		for (size_t y = 0; y < in->height; y++)
			memcpy(imf_image_row(*out, c, y), imf_image_row_const(in, c, y),
			       in->width * sizeof(float));
	return IMF_OK;
}

/* One conv stage: each kernel's maps, gathered in kernel order. */
static imf_status run_conv(const imf_stage *s, const imf_image *in, imf_image **out, imf_error *err)
{
	imf_image *acc = NULL, *one = NULL, *joined = NULL;
	imf_status st = IMF_OK;

	for (size_t i = 0; i < s->nkernels; i++) {
		if ((st = imf_conv_run(in, s->kernels[i], &s->p, &one, err)) != IMF_OK)
			goto cleanup;
		if (!acc) {
			acc = one;
			one = NULL;
			continue;
		}
		if ((st = imf_image_concat(acc, one, &joined, err)) != IMF_OK)
			goto cleanup;
		imf_image_free(acc);
		imf_image_free(one);
		acc = joined;
		one = joined = NULL;
	}
	/* Several planes stay what they were (colour or maps), unless several kernels made them. */
	imf_image_set_maps(acc,
	                   imf_chain_planes(acc) > 1 && (s->nkernels > 1 || imf_image_is_maps(in)));
	*out = acc;
	acc = NULL;

cleanup:
	imf_image_free(acc);
	imf_image_free(one);
	return st;
}

imf_status imf_chain_run_stage(const imf_stage *s, const imf_image *in, imf_image **out,
                               imf_error *err)
{
	imf_status st;

	*out = NULL;
	switch (s->kind) {
	case IMF_STAGE_CONV:
		return run_conv(s, in, out, err);
	case IMF_STAGE_ACT:
		if ((st = image_copy(in, out, err)) == IMF_OK)
			imf_activate(*out, s->act, s->slope);
		return st;
	case IMF_STAGE_POOL:
		if ((st = imf_pool(in, s->pool, s->k, s->stride, s->pad, out, err)) == IMF_OK)
			imf_image_set_maps(*out, imf_image_is_maps(in));
		return st;
	case IMF_STAGE_NORMALIZE:
		if ((st = image_copy(in, out, err)) == IMF_OK)
			imf_normalize(*out);
		return st;
	}
	return imf_error_set(err, IMF_EINVAL, "unknown stage kind %d", (int)s->kind);
}

imf_status imf_chain_check_runnable(const imf_chain *c, imf_error *err)
{
	size_t i = first_size_only(c);

	if (i == c->n)
		return IMF_OK;
	return imf_chain_stage_error(err, i + 1, c->stages[i].text, IMF_EINVAL,
	                             "a size-only kernel needs --dry-run");
}

/*
 * Run stage i on *cur, replacing it by the stage's output (freeing it when
 * owned); the message prefixed with the stage.
 */
static imf_status step(const imf_chain *c, size_t i, const imf_image **cur, imf_image **owned,
                       imf_error *err)
{
	imf_error sub = {0};
	imf_image *next = NULL;
	imf_status st = imf_chain_run_stage(&c->stages[i], *cur, &next, &sub);

	if (st != IMF_OK && c->single)
		return imf_error_set(err, st, "%s", sub.msg); /* -k: no stage to name */
	if (st != IMF_OK)
		return imf_chain_stage_error(err, i + 1, c->stages[i].text, st, "%s", sub.msg);
	imf_image_free(*owned);
	*owned = next;
	*cur = next;
	return IMF_OK;
}

imf_status imf_chain_run(const imf_chain *c, const imf_image *in, imf_image **out,
                         imf_error *err)
{
	const imf_image *cur = in;
	imf_image *owned = NULL;
	imf_status st;

	if (!out)
		return imf_error_set(err, IMF_EINVAL, "chain: no output given");
	*out = NULL;
	if (!c || !in)
		return imf_error_set(err, IMF_EINVAL, "chain: missing chain or image");
	if ((st = imf_chain_check_runnable(c, err)) != IMF_OK)
		return st;
	for (size_t i = 0; i < c->n; i++) {
		if ((st = step(c, i, &cur, &owned, err)) != IMF_OK) {
			imf_image_free(owned);
			return st;
		}
	}
	*out = owned;
	return IMF_OK;
}

void imf_chain_set_threads(imf_chain *c, size_t n)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->stages[i].kind == IMF_STAGE_CONV)
			c->stages[i].p.threads = n;
}

void imf_chain_set_precision(imf_chain *c, imf_precision p)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->stages[i].kind == IMF_STAGE_CONV)
			c->stages[i].p.precision = p;
}

int imf_chain_single_conv(const imf_chain *c, const imf_kernel **k, const imf_conv_params **p)
{
	if (!c || !c->single || c->n != 1 || c->stages[0].kind != IMF_STAGE_CONV ||
	    c->stages[0].nkernels != 1 || c->stages[0].size_only)
		return 0;
	*k = c->stages[0].kernels[0];
	*p = &c->stages[0].p;
	return 1;
}
